//! E1 (the part that lands with the foundation): every change appends its
//! events in the same transaction, with a gap-free seq; refused calls and
//! replays append nothing.

use std::collections::BTreeSet;

use partnercenter::api::pb;
use partnercenter::domain::model::EventResource;
use tonic::Code;

use crate::support::*;

#[tokio::test]
async fn e1_each_change_appends_its_events_with_gap_free_seq() {
    let server = TestServer::start().await;
    let (provider, reseller, customer) = indirect_chain(&server).await;

    let events = server.events().await;
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "partner.created",
            "partner.created",
            "partner_link.created",
            "customer.created",
            "relationship.created",
            "relationship.created",
            "grant.created",
            "grant.created",
            "grant.created",
        ]
    );
    // The customer's events carry its new state and name who acted.
    let created = &events[3];
    assert_eq!(created.actor, format!("partner:{}", provider.id));
    match &created.resource {
        EventResource::Customer(c) => assert_eq!(c.id, customer.id),
        other => panic!("unexpected {other:?}"),
    }
    for event in &events[6..] {
        match &event.resource {
            EventResource::DelegatedAdminGrant(g) => assert_eq!(g.partner_id, reseller.id),
            other => panic!("unexpected {other:?}"),
        }
    }

    // A refused change appends nothing.
    refused_without_change(
        &server,
        server
            .customers(&partner(&provider.id))
            .create_customer(customer_request(&customer.domain, None)),
        Code::AlreadyExists,
        "DOMAIN_TAKEN",
    )
    .await;
    assert_eq!(server.events().await.len(), events.len());
}

#[tokio::test]
async fn e1_concurrent_writers_get_distinct_consecutive_seqs() {
    let server = TestServer::start().await;
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let mut client = server.partners(&operator());
        tasks.push(tokio::spawn(async move {
            client
                .create_partner(pb::CreatePartnerRequest {
                    partner: Some(pb::Partner {
                        mpn_id: next_mpn_id(),
                        display_name: "Concurrent".into(),
                        kind: pb::partner::Kind::Advisor as i32,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                })
                .await
                .map(|r| r.into_inner().id)
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap().expect("every write is acknowledged"));
    }
    let events = server.events().await;
    assert_eq!(events.len(), 24);
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=24).collect::<Vec<_>>());
    let mut subjects: Vec<String> = events
        .iter()
        .map(|e| match &e.resource {
            EventResource::Partner(p) => p.id.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    subjects.sort();
    ids.sort();
    assert_eq!(subjects, ids, "one event per acknowledged write");
}

/// Every event a principal may list, in seq order.
async fn listed(server: &TestServer, who: &partnercenter::domain::principal::Principal) -> Vec<pb::Event> {
    let reply = server
        .relationships(who)
        .list_events(pb::ListEventsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("events listed")
        .into_inner();
    assert!(reply.next_page_token.is_empty());
    reply.events
}

/// The partner whose relationship, grant or invitation an event is about,
/// with its type.
fn row_owner(event: &pb::Event) -> Option<(String, &str)> {
    use pb::event::Resource;
    match event.resource.as_ref()? {
        Resource::Relationship(r) => Some((r.partner_id.clone(), event.r#type.as_str())),
        Resource::DelegatedAdminGrant(g) => Some((g.partner_id.clone(), event.r#type.as_str())),
        Resource::RelationshipRequest(i) => Some((i.inviting_partner_id.clone(), event.r#type.as_str())),
        _ => None,
    }
}

/// The customer and the two partners of a shared-customer scenario: each
/// invited with DAP and accepted, so the second one's office365 grant
/// supersedes the first one's (D2).
async fn shared_customer(server: &TestServer) -> (String, String, String) {
    let customer = server.create_customer(&operator(), None).await.unwrap();
    let mut partners = Vec::new();
    for _ in 0..2 {
        let seller = server.create_partner(pb::partner::Kind::DirectReseller).await;
        let invitation = server
            .invite(
                &seller.id,
                pb::RelationshipRequest {
                    include_delegated_admin: true,
                    delegated_admin_services: vec!["office365".into()],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        server.accept(&customer.id, &invitation.code).await.unwrap();
        partners.push(seller.id);
    }
    let second = partners.pop().unwrap();
    let first = partners.pop().unwrap();
    (customer.id, first, second)
}

#[tokio::test]
async fn e2_partners_sharing_a_customer_never_see_each_others_rows() {
    let server = TestServer::start().await;
    let (customer_id, first, second) = shared_customer(&server).await;
    // Both may read the customer, so both see what happens to it.
    server
        .create_subscription(
            &operator(),
            pb::Subscription {
                channel: pb::subscription::Channel::Direct as i32,
                partner_of_record_id: String::new(),
                ..csp_subscription(&customer_id, "")
            },
        )
        .await
        .unwrap();

    for (me, other) in [(&first, &second), (&second, &first)] {
        let events = listed(&server, &partner(me)).await;
        let leaked: Vec<(String, &str)> = events
            .iter()
            .filter_map(row_owner)
            .filter(|(owner, _)| owner == other)
            .collect();
        assert!(leaked.is_empty(), "{me} sees the other partner's rows: {leaked:?}");
        let own: Vec<&str> = events
            .iter()
            .filter_map(row_owner)
            .filter(|(owner, _)| owner == me)
            .map(|(_, event_type)| event_type)
            .collect();
        assert!(own.contains(&"relationship.created"), "{own:?}");
        assert!(own.contains(&"grant.created"), "{own:?}");
        assert!(own.contains(&"relationship_request.created"), "{own:?}");
        assert!(
            events.iter().any(|e| e.r#type == "subscription.created"),
            "VIEW shows the customer's subscriptions"
        );
    }
    // The first partner's grant was superseded: its holder sees that, the
    // partner that superseded it does not.
    let superseded = |events: &[pb::Event]| events.iter().any(|e| e.r#type == "grant.superseded");
    assert!(superseded(&listed(&server, &partner(&first)).await));
    assert!(!superseded(&listed(&server, &partner(&second)).await));
}

#[tokio::test]
async fn e2_indirect_chain_counterparts_see_each_others_rows_and_no_one_else_does() {
    let server = TestServer::start().await;
    let (provider, reseller, customer) = indirect_chain(&server).await;
    let direct = server.create_partner(pb::partner::Kind::DirectReseller).await;
    let invitation = server
        .invite(&direct.id, pb::RelationshipRequest::default())
        .await
        .unwrap();
    server.accept(&customer.id, &invitation.code).await.unwrap();

    let owners = |events: Vec<pb::Event>| {
        let mut owners: Vec<String> = events.iter().filter_map(row_owner).map(|(owner, _)| owner).collect();
        owners.sort();
        owners.dedup();
        owners
    };
    let mut chain = vec![provider.id.clone(), reseller.id.clone()];
    chain.sort();
    // M2: provider and reseller see each other's relationship and grants.
    assert_eq!(owners(listed(&server, &partner(&provider.id)).await), chain);
    assert_eq!(owners(listed(&server, &partner(&reseller.id)).await), chain);
    // The direct reseller shares the customer, not the chain.
    assert_eq!(
        owners(listed(&server, &partner(&direct.id)).await),
        vec![direct.id.clone()]
    );
}

#[tokio::test]
async fn e2_the_partners_losing_view_see_the_end_of_their_rows() {
    let server = TestServer::start().await;
    let (provider, reseller, customer) = indirect_chain(&server).await;
    let before = server.events().await.last().map_or(0, |e| e.seq);
    server
        .relationships(&partner(&provider.id))
        .end_reseller_relationship(pb::EndResellerRelationshipRequest {
            customer_id: customer.id.clone(),
            partner_id: String::new(),
        })
        .await
        .unwrap();
    let ended: Vec<(String, String)> = server
        .events()
        .await
        .into_iter()
        .filter(|e| e.seq > before)
        .map(|e| (e.event_type, e.resource.subject_id().to_owned()))
        .collect();
    assert!(ended.len() >= 5, "{ended:?}");
    // Neither may VIEW the customer any more; both could read every one of
    // these rows just before: their own, and their chain counterpart's.
    for who in [&provider.id, &reseller.id] {
        let seen: Vec<(String, String)> = listed(&server, &partner(who))
            .await
            .into_iter()
            .filter(|e| e.seq > before)
            .map(|e| (e.r#type, e.subject_id))
            .collect();
        assert_eq!(seen, ended, "{who}");
    }
}

// ------------------------------------------------ the trait, local and remote

/// E2, E3 through `Relationships`: the generated client behind the trait
/// lists and streams the events the local service lists (every kind of
/// resource decoded back), and refuses as it does.
#[tokio::test]
async fn e2_remote_relationships_list_and_watch_events_as_the_local_service() {
    use partnercenter::service::contract::relationships::{ListEvents, Relationships, WatchEvents};
    use tokio_stream::StreamExt;

    let server = TestServer::start().await;
    let local = local_relationships(&server);
    let remote = remote_relationships(&server);
    let provider = server.create_partner(pb::partner::Kind::IndirectProvider).await;
    let reseller = server.create_partner(pb::partner::Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;
    let created = server
        .create_customer(&partner(&provider.id), Some(&reseller.id))
        .await
        .expect("customer");
    server
        .create_subscription(&partner(&provider.id), csp_subscription(&created.id, &provider.id))
        .await
        .expect("subscription");
    let invitation = server
        .invite(&provider.id, pb::RelationshipRequest::default())
        .await
        .expect("invited");
    let other = server.create_customer(&operator(), None).await.expect("customer");
    server.accept(&other.id, &invitation.code).await.expect("accepted");

    let list = ListEvents {
        page_size: 3,
        ..Default::default()
    };
    let first = remote
        .list_events(&operator(), list.clone())
        .await
        .expect("remote list");
    assert_eq!(
        first,
        local.list_events(&operator(), list.clone()).await.expect("local list")
    );
    assert_eq!(first.items.len(), 3);
    let everything = ListEvents {
        page_size: 1000,
        ..Default::default()
    };
    let all = remote
        .list_events(&operator(), everything.clone())
        .await
        .expect("remote list");
    assert_eq!(
        all,
        local.list_events(&operator(), everything).await.expect("local list")
    );
    assert_eq!(all.items, server.events().await);
    let kinds: BTreeSet<&str> = all
        .items
        .iter()
        .map(|e| e.event_type.split('.').next().unwrap_or(""))
        .collect();
    for kind in [
        "partner",
        "partner_link",
        "customer",
        "subscription",
        "relationship_request",
        "relationship",
        "grant",
    ] {
        assert!(kinds.contains(kind), "no {kind} event in {kinds:?}");
    }

    let mut stream = remote
        .watch_events(&operator(), WatchEvents::default())
        .await
        .expect("watching");
    let mut streamed = Vec::new();
    while streamed.len() < all.items.len() {
        streamed.push(stream.next().await.expect("an event").expect("not an error"));
    }
    assert_eq!(streamed, all.items);

    let negative = ListEvents {
        page_token: "not-a-token".into(),
        ..Default::default()
    };
    let refused = assert_same_refusal(
        local
            .list_events(&operator(), negative.clone())
            .await
            .expect_err("local refuses"),
        remote
            .list_events(&operator(), negative)
            .await
            .expect_err("remote refuses"),
        server
            .relationships(&operator())
            .list_events(pb::ListEventsRequest {
                page_token: "not-a-token".into(),
                ..Default::default()
            })
            .await
            .expect_err("gRPC refuses"),
    );
    assert_eq!(refused.violations.len(), 1);
}
