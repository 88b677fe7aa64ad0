//! The split deployment (docs/rules.md, Deployment): one process per service
//! over one store. The `internal` role is refused by every public RPC and is
//! the only one the internal API answers; a write whose consequences belong
//! to the RelationshipService (C1, S1, D2 on reinstatement) is acknowledged
//! only once they are carried out, answers UNAVAILABLE past its deadline
//! while they are pending, and its retry returns the full result; and a
//! `kill -9` of one service process loses no consequence and doubles none.
//!
//! The rest of the suite runs against the split topology too
//! (`PARTNERCENTER_TEST_TOPOLOGY=split`); the tests here build their own.

use std::collections::HashMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use partnercenter::api::pb;
use partnercenter::api::pb_internal;
use partnercenter::api::pb_internal::consequence_service_client::ConsequenceServiceClient;
use partnercenter::api::server::{self, RunningServer};
use partnercenter::config::Config;
use partnercenter::domain::clock::SystemClock;
use tonic::Code;
use tonic::transport::Channel;

use crate::replicas::{Replica, SplitPorts, bearer, customers, partners, relationships, start_process};
use crate::support::*;

fn internal_token(server: &TestServer) -> String {
    server
        .server
        .authority()
        .mint_internal("test-process", 60)
        .expect("an internal token")
}

/// docs/rules.md, Deployment: every public RPC refuses an `internal` token,
/// after INVALID_ARGUMENT on the request alone ("which error wins").
#[tokio::test]
async fn deployment_every_public_service_refuses_an_internal_token() {
    let server = TestServer::start().await;
    let internal = Bearer::new(&internal_token(&server));
    let mut partners = pb::partner_service_client::PartnerServiceClient::with_interceptor(
        server.partner_channel.clone(),
        internal.clone(),
    );
    let mut customers = pb::customer_service_client::CustomerServiceClient::with_interceptor(
        server.customer_channel.clone(),
        internal.clone(),
    );
    let mut relationships =
        pb::relationship_service_client::RelationshipServiceClient::with_interceptor(server.channel.clone(), internal);
    let refusals = [
        partners
            .create_partner(create_partner_request(pb::partner::Kind::DirectReseller))
            .await
            .map(drop),
        partners
            .list_partners(pb::ListPartnersRequest::default())
            .await
            .map(drop),
        customers
            .create_customer(customer_request(&unique_domain("internal"), None))
            .await
            .map(drop),
        customers
            .list_customers(pb::ListCustomersRequest::default())
            .await
            .map(drop),
        relationships
            .list_events(pb::ListEventsRequest::default())
            .await
            .map(drop),
    ];
    for refusal in refusals {
        assert_error(refusal, Code::PermissionDenied, "ROLE_NOT_ALLOWED");
    }
    // A malformed request is INVALID_ARGUMENT first, whoever sends it.
    let malformed = partners
        .get_partner(pb::GetPartnerRequest { id: "not-an-id".into() })
        .await;
    assert_error(malformed, Code::InvalidArgument, "INVALID_FIELD");
    assert_eq!(last_seq(&server).await, 0, "nothing was written");
}

/// docs/rules.md, Deployment: the internal API is served only in split mode,
/// by the relationship process, and answers only `internal` tokens.
#[tokio::test]
async fn deployment_the_internal_api_answers_only_internal_tokens() {
    let server = TestServer::start().await;
    let call = |channel: Channel, header: Option<String>, ids: Vec<String>| async move {
        let mut request = tonic::Request::new(pb_internal::ApplyConsequencesRequest { ids });
        if let Some(header) = header {
            request
                .metadata_mut()
                .insert("authorization", header.parse().expect("ascii"));
        }
        ConsequenceServiceClient::new(channel).apply_consequences(request).await
    };
    let internal = Some(format!("Bearer {}", internal_token(&server)));
    if !split_topology() {
        // Embedded: one process, no internal API.
        let status = call(server.channel.clone(), internal, vec![]).await.unwrap_err();
        assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
        return;
    }
    for principal in [operator(), service(), partner(&random_id()), customer(&random_id())] {
        let header = Some(format!("Bearer {}", server.token(&principal)));
        let refused = call(server.channel.clone(), header, vec![random_id()]).await;
        assert_error(refused, Code::PermissionDenied, "ROLE_NOT_ALLOWED");
    }
    let unauthenticated = call(server.channel.clone(), None, vec![]).await;
    assert_error(unauthenticated, Code::Unauthenticated, "TOKEN_MISSING");
    // The other processes do not serve it.
    for channel in [&server.partner_channel, &server.customer_channel] {
        let status = call(channel.clone(), internal.clone(), vec![]).await.unwrap_err();
        assert_eq!(status.code(), Code::Unimplemented, "{status:?}");
    }
    // W3: its input is bounded like every other.
    let too_many = (0..101).map(|_| random_id()).collect();
    assert_error(
        call(server.channel.clone(), internal.clone(), too_many).await,
        Code::InvalidArgument,
        "INVALID_FIELD",
    );
    let unknown = call(server.channel.clone(), internal.clone(), vec![random_id()]).await;
    assert_error(unknown, Code::InvalidArgument, "INVALID_FIELD");
    call(server.channel.clone(), internal, vec![])
        .await
        .expect("an empty list is carried out at once");
}

fn split_config(database_url: &str) -> Config {
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse().expect("address");
    config.store.database_url = database_url.to_owned();
    config.store.max_connections = 4;
    config.auth.jwt_secret = Some(SECRET.to_owned());
    config.telemetry.metrics_listen = None;
    config
}

async fn channel_to(server: &RunningServer) -> Channel {
    Channel::from_shared(format!("http://{}", server.addr()))
        .expect("uri")
        .connect()
        .await
        .expect("connects")
}

/// C1, A3 across processes: with the relationship process down, a
/// partner's CreateCustomer commits and answers UNAVAILABLE
/// (CONSEQUENCES_PENDING) at its deadline; once the relationship process is
/// back, the relay carries the creator's rights out, and a retry with the
/// same request_id returns the same customer with its rights in force.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c1_split_a_write_whose_consequences_wait_is_unavailable_and_its_retry_returns_the_full_result() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (database_url, _database) = crate::replicas::shared_database(&dir).await;
    let config = split_config(&database_url);
    let (partner_process, customer_process, relationship_process) = spawn_split(&config, Arc::new(SystemClock)).await;
    let authority = partner_process.authority();
    let token = |principal| Bearer::new(&authority.mint(&principal, 600).expect("token"));
    let partner_channel = channel_to(&partner_process).await;
    let customer_channel = channel_to(&customer_process).await;
    let reseller =
        pb::partner_service_client::PartnerServiceClient::with_interceptor(partner_channel.clone(), token(operator()))
            .create_partner(create_partner_request(pb::partner::Kind::DirectReseller))
            .await
            .expect("partner")
            .into_inner();
    let mut creator = pb::customer_service_client::CustomerServiceClient::with_interceptor(
        customer_channel.clone(),
        token(partner(&reseller.id)),
    );

    // The relationship process stops; its address stays for its return.
    let relationship_addr = relationship_process.addr();
    let mut relationship_config = config.clone();
    relationship_config.topology.services = partnercenter::config::Services {
        partner: false,
        customer: false,
        relationship: true,
    };
    relationship_config.topology.partner_service_url = Some(format!("http://{}", partner_process.addr()));
    relationship_process.shutdown().await;

    let mut request = customer_request(&unique_domain("pending"), None);
    request.request_id = format!("pending-{}", random_id());
    let mut first = tonic::Request::new(request.clone());
    first.set_timeout(Duration::from_secs(2));
    let status = creator.create_customer(first).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(reason(&status), "CONSEQUENCES_PENDING");

    // The write stands: the operator reads the customer.
    let mut operator_customers = pb::customer_service_client::CustomerServiceClient::with_interceptor(
        customer_channel.clone(),
        token(operator()),
    );
    let listed = operator_customers
        .list_customers(pb::ListCustomersRequest {
            domain_prefix: request.customer.as_ref().map(|c| c.domain.clone()).unwrap_or_default(),
            ..Default::default()
        })
        .await
        .expect("listed")
        .into_inner()
        .customers;
    assert_eq!(listed.len(), 1, "the customer was committed");

    // Back on the same address; the retry returns the full result.
    let listener = tokio::net::TcpListener::bind(relationship_addr).await.expect("rebinds");
    let relationship_process = server::spawn_on(listener, &relationship_config, Arc::new(SystemClock))
        .await
        .expect("the relationship process is back");
    let retried = creator
        .create_customer(request.clone())
        .await
        .expect("the retry succeeds")
        .into_inner();
    assert_eq!(retried.id, listed[0].id, "the retry returns the first customer");
    let relationship_channel = channel_to(&relationship_process).await;
    let decision = pb::relationship_service_client::RelationshipServiceClient::with_interceptor(
        relationship_channel.clone(),
        token(service()),
    )
    .check_access(pb::CheckAccessRequest {
        partner_id: reseller.id.clone(),
        customer_id: retried.id.clone(),
        action: pb::check_access_request::Action::Provision as i32,
        service: "azure".into(),
        ..Default::default()
    })
    .await
    .expect("checked")
    .into_inner();
    assert!(decision.allowed, "the creator's DAP is in force: {decision:?}");
    // Exactly once: one relationship and three grants, however often asked.
    creator.create_customer(request).await.expect("a second retry");
    let rows = relationships_of(&relationship_channel, &retried.id).await;
    assert_eq!(rows.relationships.len(), 1, "{rows:?}");
    assert_eq!(rows.delegated_admin_grants.len(), 3, "{rows:?}");
    relationship_process.shutdown().await;
    customer_process.shutdown().await;
    partner_process.shutdown().await;
}

/// A customer's relationships and grants, as the operator sees them (M2).
async fn relationships_of(channel: &Channel, customer_id: &str) -> pb::ListCustomerRelationshipsResponse {
    pb::relationship_service_client::RelationshipServiceClient::with_interceptor(channel.clone(), bearer(&operator()))
        .list_customer_relationships(pb::ListCustomerRelationshipsRequest {
            customer_id: customer_id.to_owned(),
            page_size: 1000,
            page_token: String::new(),
        })
        .await
        .expect("relationships listed")
        .into_inner()
}

/// One write with a consequence: C1 (a partner creates a customer) or S1
/// (the operator records an ADVISOR subscription).
#[derive(Clone)]
enum Write {
    Customer(pb::CreateCustomerRequest),
    Advisory(pb::CreateSubscriptionRequest),
}

/// C1, S1, docs/rules.md, Deployment: `kill -9` of the customer process and
/// then of the relationship process, in the middle of writes whose
/// consequences cross from one to the other: after both are back, every
/// write (retried with its request_id) has its consequence exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn c1_s1_kill_9_of_one_service_process_loses_no_consequence_and_doubles_none() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (database_url, _database) = crate::replicas::shared_database(&dir).await;
    let split = SplitPorts::new();
    let start = |index: usize, services: &'static str| {
        let (database_url, port, flags) = (database_url.clone(), split.0[index], split.flags(services));
        async move { start_process(&database_url, port, &flags).await }
    };
    let partner_process = start(0, "partner").await;
    let customer_process = Arc::new(tokio::sync::RwLock::new(start(1, "customer").await));
    let relationship_process = Arc::new(tokio::sync::RwLock::new(start(2, "relationship").await));

    let reseller = new_partner(&partner_process, pb::partner::Kind::DirectReseller).await;
    let advisor = new_partner(&partner_process, pb::partner::Kind::Advisor).await;
    // Customers bought directly, for the ADVISOR subscriptions.
    let mut direct = Vec::new();
    for _ in 0..40 {
        let created = customers(&*customer_process.read().await, &operator())
            .create_customer(customer_request(&unique_domain("direct"), None))
            .await
            .expect("customer")
            .into_inner();
        direct.push(created.id);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for task in 0..4usize {
        let (stop, customer_process) = (stop.clone(), customer_process.clone());
        let (reseller, advisor, direct) = (reseller.clone(), advisor.clone(), direct.clone());
        writers.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            let mut n = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let request_id = format!("split-kill-{}", random_id());
                let write = if (task + n).is_multiple_of(2) {
                    let mut request = customer_request(&unique_domain("splitkill"), None);
                    request.request_id = request_id;
                    Write::Customer(request)
                } else {
                    let customer_id = direct[(task * 7 + n) % direct.len()].clone();
                    Write::Advisory(pb::CreateSubscriptionRequest {
                        subscription: Some(pb::Subscription {
                            customer_id,
                            service: "office365".into(),
                            offer_name: "Advised".into(),
                            quantity: 1,
                            billing: pb::subscription::Billing::License as i32,
                            channel: pb::subscription::Channel::Advisor as i32,
                            partner_of_record_id: advisor.clone(),
                            ..Default::default()
                        }),
                        request_id,
                    })
                };
                // A process being killed may hold the call: bounded.
                let process = customer_process.read().await;
                let answered = tokio::time::timeout(Duration::from_secs(3), send(&process, &reseller, &write)).await;
                drop(process);
                sent.push((write, matches!(answered, Ok(Ok(_)))));
                n += 1;
            }
            sent
        }));
    }
    let kill = |replica: &Replica| {
        let pid = replica.child.id().to_string();
        let status = Command::new("kill").args(["-9", &pid]).status().expect("kill runs");
        assert!(status.success(), "kill -9 {pid}");
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    {
        let mut process = customer_process.write().await;
        kill(&process);
        *process = start(1, "customer").await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    {
        let mut process = relationship_process.write().await;
        kill(&process);
        tokio::time::sleep(Duration::from_millis(300)).await;
        *process = start(2, "relationship").await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    let mut sent = Vec::new();
    for writer in writers {
        sent.extend(writer.await.expect("writer task"));
    }
    assert!(sent.len() > 10, "too few writes under load: {}", sent.len());
    // The kills cut writes: some went unanswered, or answered UNAVAILABLE
    // with their consequences pending.
    let unanswered = sent.iter().filter(|(_, answered)| !answered).count();
    assert!(unanswered > 0, "no write of {} was cut by the kills", sent.len());
    eprintln!(
        "split kill: {} writes, {unanswered} not acknowledged before the retries",
        sent.len()
    );

    // Every write, retried with its request_id, succeeds: its reply waits
    // for its consequence, so from here on each must be in force.
    let customer_process = customer_process.read().await;
    let mut created: HashMap<String, &Write> = HashMap::new();
    for (write, _) in &sent {
        let mut outcome = Err(tonic::Status::unavailable("not sent"));
        for _ in 0..20 {
            outcome = send(&customer_process, &reseller, write).await;
            if outcome.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let id = outcome.unwrap_or_else(|status| panic!("a retry failed: {status:?}"));
        created.insert(id, write);
    }

    // Exactly once: each C1 customer has one creator relationship and three
    // grants; each advised customer one ADVISOR relationship, however many
    // ADVISOR subscriptions it got.
    let relationship_process = relationship_process.read().await;
    let mut advised: HashMap<String, usize> = HashMap::new();
    for (id, write) in &created {
        match write {
            Write::Customer(_) => {
                let rows = relationships_of(&relationship_process.channel, id).await;
                assert_eq!(rows.relationships.len(), 1, "creator relationship of {id}: {rows:?}");
                assert_eq!(rows.relationships[0].partner_id, reseller);
                assert_eq!(rows.delegated_admin_grants.len(), 3, "creator grants of {id}: {rows:?}");
            }
            Write::Advisory(request) => {
                let customer_id = request
                    .subscription
                    .as_ref()
                    .map(|s| s.customer_id.clone())
                    .unwrap_or_default();
                *advised.entry(customer_id).or_default() += 1;
            }
        }
    }
    for customer_id in advised.keys() {
        let rows = relationships_of(&relationship_process.channel, customer_id).await;
        let advisory: Vec<_> = rows
            .relationships
            .iter()
            .filter(|r| r.kind == pb::relationship::Kind::Advisor as i32 && r.partner_id == advisor)
            .collect();
        assert_eq!(advisory.len(), 1, "ADVISOR relationships of {customer_id}: {rows:?}");
    }
    // E1: the seqs are 1..=N, the consequences' events among them once.
    let events = relationships(&relationship_process, &operator())
        .list_events(pb::ListEventsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("events")
        .into_inner();
    let mut seqs: Vec<i64> = events.events.iter().map(|e| e.seq).collect();
    let mut after = events.next_page_token;
    while !after.is_empty() {
        let page = relationships(&relationship_process, &operator())
            .list_events(pb::ListEventsRequest {
                page_size: 1000,
                page_token: after,
                ..Default::default()
            })
            .await
            .expect("events")
            .into_inner();
        seqs.extend(page.events.iter().map(|e| e.seq));
        after = page.next_page_token;
    }
    let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
    assert_eq!(seqs, expected, "the event log has a gap or a duplicate");
    drop(partner_process);
}

async fn send(process: &Replica, reseller: &str, write: &Write) -> Result<String, tonic::Status> {
    match write {
        Write::Customer(request) => customers(process, &partner(reseller))
            .create_customer(request.clone())
            .await
            .map(|reply| reply.into_inner().id),
        Write::Advisory(request) => customers(process, &operator())
            .create_subscription(request.clone())
            .await
            .map(|reply| {
                let subscription = reply.into_inner();
                format!("{}/{}", subscription.customer_id, subscription.id)
            }),
    }
}

async fn new_partner(process: &Replica, kind: pb::partner::Kind) -> String {
    partners(process, &operator())
        .create_partner(create_partner_request(kind))
        .await
        .expect("partner")
        .into_inner()
        .id
}

/// D2 on reinstatement, docs/rules.md, Deployment: the relationship process is
/// `kill -9`ed; the operator reinstates a provider meanwhile, which
/// commits and answers UNAVAILABLE with its consequence pending; once the
/// process is back, the relay carries it out: the provider's reseller
/// transacts again and holds its grant, the direct reseller's grant for
/// that service is SUPERSEDED, with exactly one event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d2_split_a_reinstatement_while_the_relationship_process_is_killed_is_carried_out_once() {
    use pb::delegated_admin_grant::State;
    let dir = tempfile::tempdir().expect("temp dir");
    let (database_url, _database) = crate::replicas::shared_database(&dir).await;
    let split = SplitPorts::new();
    let start = |index: usize, services: &'static str| {
        let (database_url, port, flags) = (database_url.clone(), split.0[index], split.flags(services));
        async move { start_process(&database_url, port, &flags).await }
    };
    let partner_process = start(0, "partner").await;
    let customer_process = start(1, "customer").await;
    let mut relationship_process = start(2, "relationship").await;

    let provider = new_partner(&partner_process, pb::partner::Kind::IndirectProvider).await;
    let reseller = new_partner(&partner_process, pb::partner::Kind::IndirectReseller).await;
    let direct = new_partner(&partner_process, pb::partner::Kind::DirectReseller).await;
    partners(&partner_process, &operator())
        .link_indirect_reseller(pb::LinkIndirectResellerRequest {
            provider_id: provider.clone(),
            reseller_id: reseller.clone(),
            request_id: String::new(),
            ..Default::default()
        })
        .await
        .expect("linked");
    // C1: the reseller gets DAP for every service, and transacts.
    let customer_id = customers(&customer_process, &partner(&provider))
        .create_customer(customer_request(&unique_domain("reinstated"), Some(&reseller)))
        .await
        .expect("customer")
        .into_inner()
        .id;
    let set_status = |status: pb::partner::Status| pb::UpdatePartnerRequest {
        partner: Some(pb::Partner {
            id: provider.clone(),
            status: status as i32,
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["status".into()],
        }),
    };
    partners(&partner_process, &operator())
        .update_partner(set_status(pb::partner::Status::Suspended))
        .await
        .expect("suspended");
    // The direct reseller is hired with office365 DAP while the reseller
    // does not transact: both hold it (D2 limits transacting holders).
    let code = relationships(&relationship_process, &partner(&direct))
        .create_relationship_request(pb::CreateRelationshipRequestRequest {
            relationship_request: Some(pb::RelationshipRequest {
                include_delegated_admin: true,
                delegated_admin_services: vec!["office365".into()],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("invitation")
        .into_inner()
        .code;
    let accepted = relationships(&relationship_process, &customer(&customer_id))
        .accept_relationship_request(pb::AcceptRelationshipRequestRequest { code })
        .await
        .expect("accepted")
        .into_inner();
    assert!(accepted.superseded_grants.is_empty(), "{accepted:?}");
    let direct_grant = accepted
        .grants
        .iter()
        .find(|grant| grant.partner_id == direct)
        .map(|grant| grant.id.clone())
        .expect("the direct reseller's grant");

    // kill -9, then the reinstatement: committed, its consequence pending.
    let pid = relationship_process.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-9", &pid])
            .status()
            .expect("kill runs")
            .success()
    );
    let _ = relationship_process.child.wait();
    let mut reinstate = tonic::Request::new(set_status(pb::partner::Status::Active));
    reinstate.set_timeout(Duration::from_secs(2));
    let status = partners(&partner_process, &operator())
        .update_partner(reinstate)
        .await
        .expect_err("the consequence cannot be carried out now");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(reason(&status), "CONSEQUENCES_PENDING");

    relationship_process = start(2, "relationship").await;
    let mut state = State::Active as i32;
    for _ in 0..100 {
        let rows = relationships_of(&relationship_process.channel, &customer_id).await;
        state = rows
            .delegated_admin_grants
            .iter()
            .find(|grant| grant.id == direct_grant)
            .map_or(0, |grant| grant.state);
        if state == State::Superseded as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, State::Superseded as i32, "the relay carried out D2");
    // Repeating the reinstatement changes nothing and answers at once.
    partners(&partner_process, &operator())
        .update_partner(set_status(pb::partner::Status::Active))
        .await
        .expect("repeated");
    let events = relationships(&relationship_process, &operator())
        .list_events(pb::ListEventsRequest {
            customer_id: customer_id.clone(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("events")
        .into_inner()
        .events;
    let superseded: Vec<_> = events
        .iter()
        .filter(|event| event.r#type == "grant.superseded")
        .collect();
    assert_eq!(superseded.len(), 1, "exactly one supersession: {superseded:?}");
    let rows = relationships_of(&relationship_process.channel, &customer_id).await;
    let reseller_office = rows
        .delegated_admin_grants
        .iter()
        .filter(|grant| grant.partner_id == reseller && grant.service == "office365")
        .map(|grant| grant.state)
        .collect::<Vec<_>>();
    assert_eq!(
        reseller_office,
        vec![State::Active as i32],
        "the reinstated chain keeps its grant"
    );
}
