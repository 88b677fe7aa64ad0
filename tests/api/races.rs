//! W1: conflicting writes fired at once, many times over, then the whole
//! event log replayed to check that every write held its rules at the point
//! it committed (its seq): S2, M3, D2, I7, P4.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use partnercenter::api::pb;
use partnercenter::api::pb::delegated_admin_grant::Scope;
use partnercenter::domain::model::{
    Channel, DelegatedAdminGrant, Event, EventResource, GrantState, LinkState, Partner, PartnerLink, PartnerStatus,
    Relationship, RelationshipKind, RelationshipState, Service, Subscription, SubscriptionStatus,
};
use tonic::Status;

use crate::support::*;

/// Conflicting pairs fired together in one round.
const PAIRS: usize = 24;
/// Rounds per test: enough that the old code failed every run.
const ROUNDS: usize = 3;

/// The state the event log describes, rebuilt event by event.
#[derive(Default)]
struct World {
    partners: HashMap<String, Partner>,
    links: HashMap<String, PartnerLink>,
    relationships: HashMap<String, Relationship>,
    subscriptions: HashMap<String, Subscription>,
    grants: HashMap<String, DelegatedAdminGrant>,
}

impl World {
    fn active(&self, partner_id: &str) -> bool {
        self.partners
            .get(partner_id)
            .is_some_and(|p| p.status == PartnerStatus::Active)
    }

    fn linked(&self, provider_id: &str, reseller_id: &str) -> bool {
        self.links
            .values()
            .any(|l| l.provider_id == provider_id && l.reseller_id == reseller_id && l.state == LinkState::Active)
    }

    fn active_relationships<'a>(
        &'a self,
        partner_id: &'a str,
        customer_id: &'a str,
    ) -> impl Iterator<Item = &'a Relationship> {
        self.relationships.values().filter(move |r| {
            r.partner_id == partner_id && r.customer_id == customer_id && r.state == RelationshipState::Active
        })
    }

    /// The transacting-partner definition of the rules.
    fn transacting(&self, partner_id: &str, customer_id: &str) -> bool {
        self.active_relationships(partner_id, customer_id)
            .any(|r| match r.kind {
                RelationshipKind::Reseller => true,
                RelationshipKind::IndirectReseller => r
                    .indirect_provider_id
                    .as_deref()
                    .is_some_and(|provider| self.active(provider) && self.linked(provider, partner_id)),
                RelationshipKind::Advisor => false,
            })
    }

    fn apply(&mut self, resource: &EventResource) {
        match resource {
            EventResource::Partner(p) => drop(self.partners.insert(p.id.clone(), p.clone())),
            EventResource::PartnerLink(l) => drop(self.links.insert(l.id.clone(), l.clone())),
            EventResource::Relationship(r) => drop(self.relationships.insert(r.id.clone(), r.clone())),
            EventResource::Subscription(s) => drop(self.subscriptions.insert(s.id.clone(), s.clone())),
            EventResource::DelegatedAdminGrant(g) => drop(self.grants.insert(g.id.clone(), g.clone())),
            EventResource::Customer(_)
            | EventResource::RelationshipRequest(_)
            | EventResource::Transfer(_)
            | EventResource::SecurityGroup(_)
            | EventResource::WebhookEndpoint(_)
            | EventResource::AccessAssignment(_) => {}
        }
    }
}

/// Every rule of W1's list broken anywhere in the log, as messages.
/// The log with each write's consequences right after the write. In the
/// split deployment C1's creator relationship and grants are appended by
/// the RelationshipService after the CustomerService's commit, at later
/// seqs (docs/rules.md, Deployment); they were decided by that commit, so they
/// are judged where it is. Only C1's rows are made with a partner as actor
/// (acceptances are the customer's, S1's the operator's).
fn causal_order(events: &[Event]) -> Vec<&Event> {
    let is_consequence = |event: &Event| {
        matches!(event.event_type.as_str(), "relationship.created" | "grant.created")
            && event.actor.starts_with("partner:")
    };
    let mut ordered: Vec<&Event> = Vec::with_capacity(events.len());
    for event in events.iter().filter(|event| !is_consequence(event)) {
        ordered.push(event);
        if let ("customer.created", EventResource::Customer(customer)) = (event.event_type.as_str(), &event.resource) {
            ordered.extend(events.iter().filter(|consequence| {
                is_consequence(consequence) && consequence.resource.customer_id() == Some(customer.id.as_str())
            }));
        }
    }
    ordered
}

fn violations(events: &[Event]) -> Vec<String> {
    let mut world = World::default();
    let mut found = Vec::new();
    for event in causal_order(events) {
        let seq = event.seq;
        // P4: no write of a partner commits once its suspension has.
        if let Some(actor) = event.actor.strip_prefix("partner:")
            && !world.active(actor)
        {
            found.push(format!(
                "P4: seq {seq} {} by suspended partner {actor}",
                event.event_type
            ));
        }
        match (event.event_type.as_str(), &event.resource) {
            // S1, S2: a CSP sale needs its partner of record (and the
            // provider selling for it) transacting, through an ACTIVE link.
            ("subscription.created", EventResource::Subscription(s)) if s.channel == Channel::Csp => {
                let customer_id = &s.customer_id;
                for who in s.partner_of_record_id.iter().chain(&s.indirect_provider_id) {
                    if !world.transacting(who, customer_id) {
                        found.push(format!("S2: seq {seq} sold by or for {who}, not transacting"));
                    }
                }
                if let (Some(reseller), Some(provider)) = (&s.partner_of_record_id, &s.indirect_provider_id)
                    && !world.linked(provider, reseller)
                {
                    found.push(format!("S2: seq {seq} sold for {reseller} without a link"));
                }
            }
            // S3: a partner changes a subscription only as its transacting
            // partner of record or provider.
            ("subscription.updated", EventResource::Subscription(s)) => {
                if let Some(actor) = event.actor.strip_prefix("partner:") {
                    let of_record = s.partner_of_record_id.as_deref() == Some(actor)
                        || s.indirect_provider_id.as_deref() == Some(actor);
                    if !(of_record && world.transacting(actor, &s.customer_id)) {
                        found.push(format!("S3: seq {seq} {actor} changed {} without MANAGE", s.id));
                    }
                }
            }
            // C1, I7: an indirect chain starts only through an ACTIVE link
            // between ACTIVE partners.
            ("relationship.created", EventResource::Relationship(r)) => {
                if !world.active(&r.partner_id) {
                    found.push(format!("I7: seq {seq} relationship for inactive {}", r.partner_id));
                }
                if let Some(provider) = &r.indirect_provider_id
                    && !(world.active(provider) && world.linked(provider, &r.partner_id))
                {
                    found.push(format!("I7: seq {seq} chain {provider} -> {} not linked", r.partner_id));
                }
            }
            ("relationship_request.created", EventResource::RelationshipRequest(i)) => {
                if let Some(reseller) = &i.indirect_reseller_id
                    && !world.linked(&i.inviting_partner_id, reseller)
                {
                    found.push(format!("I2: seq {seq} invitation names unlinked {reseller}"));
                }
            }
            // M3: a RESELLER relationship ends only with no ACTIVE
            // subscription naming its partner.
            ("relationship.ended", EventResource::Relationship(r)) if r.kind == RelationshipKind::Reseller => {
                let blocking = world.subscriptions.values().any(|s| {
                    s.customer_id == r.customer_id
                        && s.status == SubscriptionStatus::Active
                        && (s.partner_of_record_id.as_deref() == Some(&r.partner_id)
                            || s.indirect_provider_id.as_deref() == Some(&r.partner_id))
                });
                if blocking {
                    found.push(format!(
                        "M3: seq {seq} ended {} over an ACTIVE subscription",
                        r.partner_id
                    ));
                }
            }
            _ => {}
        }
        world.apply(&event.resource);
    }
    // M3 on the final state: every ACTIVE CSP subscription's partner of
    // record and provider still have their relationship.
    for s in world.subscriptions.values() {
        if s.status != SubscriptionStatus::Active || s.channel != Channel::Csp {
            continue;
        }
        for who in s.partner_of_record_id.iter().chain(&s.indirect_provider_id) {
            if world.active_relationships(who, &s.customer_id).next().is_none() {
                found.push(format!(
                    "M3: ACTIVE subscription {} names {who}, which has no relationship",
                    s.id
                ));
            }
        }
    }
    // D2 on the final state: one transacting holder per customer and service.
    let mut holders: HashMap<(String, Service), Vec<String>> = HashMap::new();
    for g in world.grants.values() {
        if g.state == GrantState::Active && world.transacting(&g.partner_id, &g.customer_id) {
            holders
                .entry((g.customer_id.clone(), g.service))
                .or_default()
                .push(g.partner_id.clone());
        }
    }
    for ((customer_id, service), partners) in holders {
        if partners.len() > 1 {
            found.push(format!("D2: {customer_id} {service} held by {partners:?}"));
        }
    }
    found
}

/// Replays the log and fails with every violation found; returns how many
/// of the pairs had both writes acknowledged.
async fn assert_invariants(server: &TestServer) {
    let events = server.events().await;
    let found = violations(&events);
    assert!(found.is_empty(), "{} violations:\n{}", found.len(), found.join("\n"));
}

/// Runs the races together, each on its own task, and gathers their results.
async fn race<T: Send + 'static>(races: impl IntoIterator<Item = impl Future<Output = T> + Send + 'static>) -> Vec<T> {
    let mut set = tokio::task::JoinSet::new();
    for one in races {
        set.spawn(one);
    }
    let mut results = Vec::new();
    while let Some(result) = set.join_next().await {
        results.push(result.expect("a race task panicked"));
    }
    results
}

fn acknowledged<T>(result: &Result<T, Status>) -> bool {
    match result {
        Ok(_) => true,
        Err(status) => {
            // A refusal is fine; a fault is not.
            assert!(
                !matches!(status.code(), tonic::Code::Internal | tonic::Code::Unknown),
                "{status:?}"
            );
            false
        }
    }
}

async fn unlink_as(server: &TestServer, provider_id: &str, reseller_id: &str) -> Result<pb::PartnerLink, Status> {
    server
        .partners(&partner(provider_id))
        .unlink_indirect_reseller(pb::UnlinkIndirectResellerRequest {
            provider_id: provider_id.into(),
            reseller_id: reseller_id.into(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

async fn suspend(server: &TestServer, partner_id: &str) -> Result<pb::Partner, Status> {
    server
        .partners(&operator())
        .update_partner(pb::UpdatePartnerRequest {
            partner: Some(pb::Partner {
                id: partner_id.into(),
                status: pb::partner::Status::Suspended as i32,
                ..Default::default()
            }),
            update_mask: mask(&["status"]),
        })
        .await
        .map(|r| r.into_inner())
}

/// S2 against M3: a partner's sale and the end of its relationship on one
/// customer, at once. Never both: an ACTIVE subscription would name a
/// partner without a relationship.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn w1_sale_and_end_of_relationship_never_both_pass() {
    let server = Arc::new(TestServer::start().await);
    let reseller = server.create_partner(pb::partner::Kind::DirectReseller).await;
    let mut both = 0;
    for _ in 0..ROUNDS {
        let mut customers = Vec::new();
        for _ in 0..PAIRS {
            customers.push(server.create_customer(&partner(&reseller.id), None).await.unwrap().id);
        }
        let pairs = customers.into_iter().map(|customer_id| {
            let server = server.clone();
            let reseller_id = reseller.id.clone();
            async move {
                let by = partner(&reseller_id);
                tokio::join!(
                    server.create_subscription(&by, csp_subscription(&customer_id, "")),
                    end_relationship(&server, &reseller_id, &customer_id),
                )
            }
        });
        for (sold, ended) in race(pairs).await {
            if acknowledged(&sold) && acknowledged(&ended) {
                both += 1;
            }
        }
    }
    assert_invariants(&server).await;
    assert_eq!(both, 0, "pairs where both the sale and the end were acknowledged");
}

async fn set_status(
    server: &TestServer,
    partner_id: &str,
    subscription_id: &str,
    status: pb::subscription::Status,
) -> Result<pb::Subscription, Status> {
    server
        .customers(&partner(partner_id))
        .update_subscription(pb::UpdateSubscriptionRequest {
            subscription: Some(pb::Subscription {
                id: subscription_id.into(),
                status: status as i32,
                ..Default::default()
            }),
            update_mask: mask(&["status"]),
        })
        .await
        .map(|r| r.into_inner())
}

/// S3 against M3: a partner reactivates its suspended subscription while it
/// ends its relationship (which the suspended subscription does not block).
/// Never both: the subscription would be ACTIVE with no relationship behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn w1_reactivation_and_end_of_relationship_never_both_pass() {
    let server = Arc::new(TestServer::start().await);
    let reseller = server.create_partner(pb::partner::Kind::DirectReseller).await;
    let mut both = 0;
    for _ in 0..ROUNDS {
        let mut setups = Vec::new();
        for _ in 0..PAIRS {
            let customer_id = server.create_customer(&partner(&reseller.id), None).await.unwrap().id;
            let sold = server
                .create_subscription(&partner(&reseller.id), csp_subscription(&customer_id, ""))
                .await
                .unwrap();
            set_status(&server, &reseller.id, &sold.id, pb::subscription::Status::Suspended)
                .await
                .unwrap();
            setups.push((customer_id, sold.id));
        }
        let pairs = setups.into_iter().map(|(customer_id, subscription_id)| {
            let server = server.clone();
            let reseller_id = reseller.id.clone();
            async move {
                tokio::join!(
                    set_status(
                        &server,
                        &reseller_id,
                        &subscription_id,
                        pb::subscription::Status::Active
                    ),
                    end_relationship(&server, &reseller_id, &customer_id),
                )
            }
        });
        for (reactivated, ended) in race(pairs).await {
            if acknowledged(&reactivated) && acknowledged(&ended) {
                both += 1;
            }
        }
    }
    assert_invariants(&server).await;
    assert_eq!(
        both, 0,
        "pairs where both the reactivation and the end were acknowledged"
    );
}

/// S2 and C1/I2 against P2: a provider's sale for its reseller, a new
/// customer naming the reseller and an invitation naming it, each raced
/// against the provider revoking the link.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn w1_unlink_and_writes_through_the_link_never_both_pass() {
    let server = Arc::new(TestServer::start().await);
    for _ in 0..ROUNDS {
        let mut setups = Vec::new();
        for _ in 0..PAIRS {
            let provider = server.create_partner(pb::partner::Kind::IndirectProvider).await;
            let reseller = server.create_partner(pb::partner::Kind::IndirectReseller).await;
            server.link(&provider.id, &reseller.id).await;
            let customer = server
                .create_customer(&partner(&provider.id), Some(&reseller.id))
                .await
                .unwrap();
            setups.push((provider.id, reseller.id, customer.id));
        }
        let pairs = setups.into_iter().map(|(provider_id, reseller_id, customer_id)| {
            let server = server.clone();
            async move {
                let by = partner(&provider_id);
                let (_, sold, created, invited) = tokio::join!(
                    unlink_as(&server, &provider_id, &reseller_id),
                    server.create_subscription(&by, csp_subscription(&customer_id, &reseller_id)),
                    server.create_customer(&by, Some(&reseller_id)),
                    server.invite(
                        &provider_id,
                        pb::RelationshipRequest {
                            indirect_reseller_id: reseller_id.clone(),
                            ..Default::default()
                        }
                    ),
                );
                acknowledged(&sold);
                acknowledged(&created);
                acknowledged(&invited);
            }
        });
        race(pairs).await;
    }
    assert_invariants(&server).await;
}

/// P4: a partner's writes raced against its suspension. None commits after
/// the suspension did.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn p4_no_partner_write_commits_after_its_suspension() {
    let server = Arc::new(TestServer::start().await);
    for _ in 0..ROUNDS {
        let mut setups = Vec::new();
        for _ in 0..PAIRS {
            let seller = server.create_partner(pb::partner::Kind::DirectReseller).await;
            let customer = server.create_customer(&partner(&seller.id), None).await.unwrap();
            let subscription = server
                .create_subscription(&partner(&seller.id), csp_subscription(&customer.id, ""))
                .await
                .unwrap();
            setups.push((seller.id, customer.id, subscription.id));
        }
        let races = setups.into_iter().map(|(seller_id, customer_id, subscription_id)| {
            let server = server.clone();
            let by = partner(&seller_id);
            async move {
                let (mut customers, mut subscriptions) = (server.customers(&by), server.customers(&by));
                let results = tokio::join!(
                    suspend(&server, &seller_id),
                    server.create_subscription(&by, csp_subscription(&customer_id, "")),
                    customers.update_customer(pb::UpdateCustomerRequest {
                        customer: Some(pb::Customer {
                            id: customer_id.clone(),
                            company_name: "Renamed".into(),
                            ..Default::default()
                        }),
                        update_mask: mask(&["company_name"]),
                    }),
                    subscriptions.update_subscription(pb::UpdateSubscriptionRequest {
                        subscription: Some(pb::Subscription {
                            id: subscription_id.clone(),
                            quantity: 42,
                            ..Default::default()
                        }),
                        update_mask: mask(&["quantity"]),
                    }),
                    server.invite(&seller_id, pb::RelationshipRequest::default()),
                    server.create_customer(&by, None),
                );
                results.0.expect("the suspension is acknowledged");
                acknowledged(&results.1);
                acknowledged(&results.2);
                acknowledged(&results.3);
                acknowledged(&results.4);
                acknowledged(&results.5);
            }
        });
        race(races).await;
    }
    assert_invariants(&server).await;
}

/// I7: an acceptance raced against the link's revocation and the
/// provider's suspension: the chain starts only through an ACTIVE link.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn i7_acceptance_and_link_revocation_never_both_pass() {
    let server = Arc::new(TestServer::start().await);
    for round in 0..ROUNDS {
        let mut setups = Vec::new();
        for _ in 0..PAIRS {
            let provider = server.create_partner(pb::partner::Kind::IndirectProvider).await;
            let reseller = server.create_partner(pb::partner::Kind::IndirectReseller).await;
            server.link(&provider.id, &reseller.id).await;
            let invitation = server
                .invite(
                    &provider.id,
                    pb::RelationshipRequest {
                        indirect_reseller_id: reseller.id.clone(),
                        include_delegated_admin: true,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            let customer = server.create_customer(&operator(), None).await.unwrap();
            setups.push((provider.id, reseller.id, invitation.code, customer.id));
        }
        let pairs = setups.into_iter().map(|(provider_id, reseller_id, code, customer_id)| {
            let server = server.clone();
            async move {
                let (accepted, _) = tokio::join!(server.accept(&customer_id, &code), async {
                    if round % 2 == 0 {
                        acknowledged(&unlink_as(&server, &provider_id, &reseller_id).await);
                    } else {
                        acknowledged(&suspend(&server, &provider_id).await);
                    }
                });
                acknowledged(&accepted);
            }
        });
        race(pairs).await;
    }
    assert_invariants(&server).await;
}

/// D2: grants to two transacting partners, and an acceptance with DAP,
/// all at once on one customer and service: one transacting holder stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn d2_concurrent_grants_leave_one_transacting_holder() {
    let server = Arc::new(TestServer::start().await);
    for _ in 0..ROUNDS {
        let mut setups = Vec::new();
        for _ in 0..PAIRS {
            let customer = server.create_customer(&operator(), None).await.unwrap();
            let mut sellers = Vec::new();
            for _ in 0..2 {
                let seller = server.create_partner(pb::partner::Kind::DirectReseller).await;
                let invitation = server
                    .invite(&seller.id, pb::RelationshipRequest::default())
                    .await
                    .unwrap();
                server.accept(&customer.id, &invitation.code).await.unwrap();
                sellers.push(seller.id);
            }
            let third = server.create_partner(pb::partner::Kind::DirectReseller).await;
            let invitation = server
                .invite(
                    &third.id,
                    pb::RelationshipRequest {
                        include_delegated_admin: true,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            setups.push((customer.id, sellers, invitation.code));
        }
        let races = setups.into_iter().map(|(customer_id, sellers, code)| {
            let server = server.clone();
            async move {
                let scopes = [Scope::Provisioning, Scope::Support];
                let results = tokio::join!(
                    server.grant(&customer_id, &sellers[0], "office365", &scopes),
                    server.grant(&customer_id, &sellers[1], "office365", &scopes),
                    server.accept(&customer_id, &code),
                );
                acknowledged(&results.0);
                acknowledged(&results.1);
                acknowledged(&results.2);
            }
        });
        race(races).await;
    }
    assert_invariants(&server).await;
}

#[test]
fn w1_the_scan_finds_a_sale_after_the_end() {
    // The checker itself must be able to fail: a log where a sale commits
    // after its partner's relationship ended.
    let partner = Partner {
        id: "p".into(),
        mpn_id: "1234567".into(),
        display_name: "P".into(),
        kind: partnercenter::domain::model::PartnerKind::DirectReseller,
        status: PartnerStatus::Active,
        version: 1,
        create_time: 0,
        update_time: 0,
    };
    let relationship = Relationship {
        id: "r".into(),
        customer_id: "c".into(),
        partner_id: "p".into(),
        kind: RelationshipKind::Reseller,
        indirect_provider_id: None,
        state: RelationshipState::Active,
        source: partnercenter::domain::model::RelationshipSource::CustomerCreation,
        relationship_request_id: None,
        start_time: 0,
        end_time: None,
        end_cause: None,
    };
    let ended = Relationship {
        state: RelationshipState::Ended,
        ..relationship.clone()
    };
    let sale = Subscription {
        id: "s".into(),
        customer_id: "c".into(),
        service: Service::Office365,
        offer_name: "E3".into(),
        quantity: 1,
        billing: partnercenter::domain::model::Billing::License,
        status: SubscriptionStatus::Active,
        channel: Channel::Csp,
        partner_of_record_id: Some("p".into()),
        indirect_provider_id: None,
        version: 1,
        create_time: 0,
        update_time: 0,
    };
    let event = |seq, event_type: &str, actor: &str, resource| Event {
        seq,
        time: 0,
        event_type: event_type.into(),
        actor: actor.into(),
        resource,
    };
    let log = vec![
        event(1, "partner.created", "operator:ops", EventResource::Partner(partner)),
        event(
            2,
            "relationship.created",
            "partner:p",
            EventResource::Relationship(relationship),
        ),
        event(3, "relationship.ended", "partner:p", EventResource::Relationship(ended)),
        event(
            4,
            "subscription.created",
            "partner:p",
            EventResource::Subscription(sale),
        ),
    ];
    let found = violations(&log);
    assert!(found.iter().any(|v| v.starts_with("S2")), "{found:?}");
    assert!(found.iter().any(|v| v.starts_with("M3")), "{found:?}");
}
