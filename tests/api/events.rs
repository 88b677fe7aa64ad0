//! E1 (the part that lands with the foundation): every change appends its
//! events in the same transaction, with a gap-free seq; refused calls and
//! replays append nothing.

use partnercenter::domain::model::EventResource;
use partnercenter::pb;
use tonic::Code;

use crate::support::*;

#[tokio::test]
async fn e1_each_change_appends_its_events_with_gap_free_seq() {
    let server = TestServer::start().await;
    let provider = server.create_partner(pb::partner::Kind::IndirectProvider).await;
    let reseller = server.create_partner(pb::partner::Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;
    let customer = server
        .create_customer(&partner(&provider.id), Some(&reseller.id))
        .await
        .unwrap();

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
    let duplicate = server
        .customers(&partner(&provider.id))
        .create_customer(customer_request(&customer.domain, None))
        .await;
    assert_error(duplicate, Code::AlreadyExists, "DOMAIN_TAKEN");
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
