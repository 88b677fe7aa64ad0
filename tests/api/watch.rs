//! E2 (who reads which events, paging) and E3 (WatchEvents: backlog, then
//! live, no gap and no duplicate across reconnects, slow consumers closed).

use std::sync::Arc;
use std::time::Duration;

use partnercenter::api::pb;
use partnercenter::domain::clock::SystemClock;
use tonic::Code;
use tonic_types::StatusExt;

use crate::support::*;

async fn list_all(
    server: &TestServer,
    caller: &partnercenter::domain::principal::Principal,
    filter: pb::ListEventsRequest,
) -> Vec<pb::Event> {
    let mut client = server.relationships(caller);
    let mut events = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_events(pb::ListEventsRequest {
                page_token: token.clone(),
                ..filter.clone()
            })
            .await
            .unwrap()
            .into_inner();
        events.extend(page.events);
        if page.next_page_token.is_empty() {
            return events;
        }
        token = page.next_page_token;
    }
}

fn seqs(events: &[pb::Event]) -> Vec<i64> {
    events.iter().map(|e| e.seq).collect()
}

#[tokio::test]
async fn e2_each_caller_sees_only_events_it_could_read_when_appended() {
    let server = TestServer::start().await;
    let a = server.create_partner(pb::partner::Kind::DirectReseller).await;
    let b = server.create_partner(pb::partner::Kind::DirectReseller).await;
    let customer_a = server.create_customer(&partner(&a.id), None).await.unwrap();
    let customer_b = server.create_customer(&partner(&b.id), None).await.unwrap();

    let everything = list_all(&server, &operator(), pb::ListEventsRequest::default()).await;
    assert_eq!(seqs(&everything), (1..=everything.len() as i64).collect::<Vec<_>>());
    assert_eq!(
        list_all(&server, &service(), pb::ListEventsRequest::default()).await,
        everything
    );

    let seen_by_a = list_all(&server, &partner(&a.id), pb::ListEventsRequest::default()).await;
    assert!(!seen_by_a.is_empty());
    for event in &seen_by_a {
        assert!(
            event.customer_id == customer_a.id || event.subject_id == a.id,
            "A must not see {event:?}"
        );
    }
    assert!(
        seen_by_a
            .iter()
            .any(|e| e.r#type == "customer.created" && e.customer_id == customer_a.id)
    );
    assert!(
        !seen_by_a
            .iter()
            .any(|e| e.customer_id == customer_b.id || e.subject_id == b.id)
    );

    let seen_by_admin = list_all(&server, &customer(&customer_b.id), pb::ListEventsRequest::default()).await;
    assert!(!seen_by_admin.is_empty());
    assert!(seen_by_admin.iter().all(|e| e.customer_id == customer_b.id));

    // What A could read then stays readable after it loses access now.
    let a_before = seen_by_a.len();
    server
        .relationships(&operator())
        .end_reseller_relationship(pb::EndResellerRelationshipRequest {
            customer_id: customer_a.id.clone(),
            partner_id: a.id.clone(),
        })
        .await
        .unwrap();
    let seen_later = list_all(&server, &partner(&a.id), pb::ListEventsRequest::default()).await;
    assert_eq!(&seen_later[..a_before], &seen_by_a[..]);
    // Its own relationship ending and its grants' revocation reach it too.
    assert!(seen_later[a_before..].iter().any(|e| e.r#type == "relationship.ended"));
    assert!(seen_later[a_before..].iter().any(|e| e.r#type == "grant.revoked"));
}

#[tokio::test]
async fn e2_list_events_pages_after_a_seq_with_filters() {
    let server = TestServer::start().await;
    let a = server.create_partner(pb::partner::Kind::DirectReseller).await;
    let customer_a = server.create_customer(&partner(&a.id), None).await.unwrap();
    server.create_customer(&partner(&a.id), None).await.unwrap();
    let all = list_all(&server, &operator(), pb::ListEventsRequest::default()).await;

    let mut client = server.relationships(&operator());
    let first = client
        .list_events(pb::ListEventsRequest {
            page_size: 3,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seqs(&first.events), [1, 2, 3]);
    let paged = list_all(
        &server,
        &operator(),
        pb::ListEventsRequest {
            page_size: 3,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(paged, all);

    let after = list_all(
        &server,
        &operator(),
        pb::ListEventsRequest {
            after_seq: 4,
            page_size: 2,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(seqs(&after), (5..=all.len() as i64).collect::<Vec<_>>());

    let for_customer = list_all(
        &server,
        &operator(),
        pb::ListEventsRequest {
            customer_id: customer_a.id.clone(),
            ..Default::default()
        },
    )
    .await;
    assert!(!for_customer.is_empty());
    assert!(for_customer.iter().all(|e| e.customer_id == customer_a.id));

    let reused = client
        .list_events(pb::ListEventsRequest {
            page_token: first.next_page_token,
            customer_id: customer_a.id.clone(),
            ..Default::default()
        })
        .await;
    assert_error(reused, Code::InvalidArgument, "INVALID_FIELD");
    let negative = client
        .list_events(pb::ListEventsRequest {
            after_seq: -1,
            ..Default::default()
        })
        .await;
    assert_error(negative, Code::InvalidArgument, "INVALID_FIELD");
}

async fn create_partners(server: &TestServer, count: usize) {
    for _ in 0..count {
        server.create_partner(pb::partner::Kind::Advisor).await;
    }
}

async fn next_event(stream: &mut tonic::Streaming<pb::Event>) -> Result<pb::Event, tonic::Status> {
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("an event within 10 s")
        .map(|event| event.expect("the stream stays open"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e3_watch_sends_the_backlog_then_live_events_in_order() {
    let server = TestServer::start().await;
    create_partners(&server, 5).await;
    let mut stream = server
        .relationships(&service())
        .watch_events(pb::WatchEventsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let writer = {
        let mut client = server.partners(&operator());
        tokio::spawn(async move {
            for _ in 0..20 {
                client
                    .create_partner(pb::CreatePartnerRequest {
                        partner: Some(pb::Partner {
                            mpn_id: next_mpn_id(),
                            display_name: "Live".into(),
                            kind: pb::partner::Kind::Advisor as i32,
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    })
                    .await
                    .unwrap();
            }
        })
    };
    let mut received = Vec::new();
    while received.len() < 25 {
        received.push(next_event(&mut stream).await.unwrap().seq);
    }
    writer.await.unwrap();
    assert_eq!(received, (1..=25).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e3_a_consumer_that_reconnects_sees_every_event_exactly_once() {
    let server = TestServer::start().await;
    create_partners(&server, 3).await;
    let total = 40;
    let writer = {
        let mut client = server.partners(&operator());
        tokio::spawn(async move {
            for _ in 3..total {
                client
                    .create_partner(pb::CreatePartnerRequest {
                        partner: Some(pb::Partner {
                            mpn_id: next_mpn_id(),
                            display_name: "During reconnects".into(),
                            kind: pb::partner::Kind::Advisor as i32,
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    })
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let mut received: Vec<i64> = Vec::new();
    let mut last = 0;
    // Reconnect after every 7 events, resuming from the last seq seen.
    while received.len() < total {
        let mut stream = server
            .relationships(&service())
            .watch_events(pb::WatchEventsRequest {
                after_seq: last,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        for _ in 0..7 {
            if received.len() == total {
                break;
            }
            let event = next_event(&mut stream).await.unwrap();
            received.push(event.seq);
            last = event.seq;
        }
    }
    writer.await.unwrap();
    assert_eq!(received, (1..=total as i64).collect::<Vec<_>>());
}

/// Appends `count` partner.created events in one transaction: more than
/// the transport buffers between server and client, so that a consumer that
/// stops reading really falls behind.
async fn append_many_events(server: &TestServer, count: usize) {
    use partnercenter::domain::model::{Partner, PartnerKind, PartnerStatus};
    let store = server.server.store();
    let mut tx = store.begin_write("test".into()).await.unwrap();
    for _ in 0..count {
        let partner = Partner {
            id: partnercenter::store::new_id(),
            mpn_id: next_mpn_id(),
            display_name: "A partner with a name long enough to weigh something on the wire".into(),
            kind: PartnerKind::Advisor,
            status: PartnerStatus::Active,
            version: 1,
            create_time: tx.now(),
            update_time: tx.now(),
        };
        tx.insert_partner(&partner).await.unwrap();
    }
    tx.commit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e3_a_consumer_too_slow_is_closed_with_resource_exhausted_and_resumes() {
    let server = TestServer::start_configured(Arc::new(SystemClock), Some(SECRET), |config| {
        config.relationships.watch_buffer = 4;
        config.relationships.watch_grace = Duration::from_millis(100);
    })
    .await;
    let total = 5000;
    append_many_events(&server, total).await;
    // A client with small HTTP/2 windows, so that not reading pushes back.
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.server.addr()))
        .unwrap()
        .initial_stream_window_size(Some(8 * 1024))
        .initial_connection_window_size(Some(8 * 1024))
        .connect()
        .await
        .unwrap();
    let mut stream = partnercenter::api::pb::relationship_service_client::RelationshipServiceClient::with_interceptor(
        channel,
        server.bearer(&service()),
    )
    .watch_events(pb::WatchEventsRequest::default())
    .await
    .unwrap()
    .into_inner();
    // Read nothing until the server has filled every buffer and given up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut received = Vec::new();
    let status = loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.message()).await {
            Ok(Ok(Some(event))) => received.push(event.seq),
            Ok(Ok(None)) => panic!("the stream ended after {} events", received.len()),
            Ok(Err(status)) => break status,
            Err(_) => panic!("stalled after {} events", received.len()),
        }
    };
    assert_eq!(status.code(), Code::ResourceExhausted);
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "RESOURCE_EXHAUSTED");
    let resume: i64 = info.metadata["resume_after_seq"].parse().unwrap();
    assert!(received.len() < total, "the server gave up before sending everything");
    assert_eq!(received, (1..=resume).collect::<Vec<_>>());

    // Resuming from the last seq delivers the rest, exactly once.
    let mut stream = server
        .relationships(&service())
        .watch_events(pb::WatchEventsRequest {
            after_seq: resume,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    while received.len() < total {
        received.push(next_event(&mut stream).await.unwrap().seq);
    }
    assert_eq!(received, (1..=total as i64).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e3_watch_applies_the_same_visibility_as_list_events() {
    let server = TestServer::start().await;
    let a = server.create_partner(pb::partner::Kind::DirectReseller).await;
    let b = server.create_partner(pb::partner::Kind::DirectReseller).await;
    server.create_customer(&partner(&b.id), None).await.unwrap();
    let mine = server.create_customer(&partner(&a.id), None).await.unwrap();
    let expected = list_all(&server, &partner(&a.id), pb::ListEventsRequest::default()).await;
    let mut stream = server
        .relationships(&partner(&a.id))
        .watch_events(pb::WatchEventsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut received = Vec::new();
    while received.len() < expected.len() {
        received.push(next_event(&mut stream).await.unwrap());
    }
    assert_eq!(received, expected);
    assert!(received.iter().any(|e| e.customer_id == mine.id));
}

/// E3 on shutdown: an open stream ends at once with UNAVAILABLE and the
/// seq to resume from, and does not hold the drain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e3_shutdown_ends_watch_streams_at_once_with_the_seq_to_resume_from() {
    let server = TestServer::start().await;
    create_partners(&server, 2).await;
    let mut stream = server
        .relationships(&service())
        .watch_events(pb::WatchEventsRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut last = 0;
    for _ in 0..2 {
        last = next_event(&mut stream).await.unwrap().seq;
    }
    let TestServer { server: running, .. } = server;
    let started = std::time::Instant::now();
    let stopping = tokio::spawn(running.shutdown());
    let ended = tokio::time::timeout(Duration::from_secs(5), stream.message())
        .await
        .expect("the stream ends at once");
    let status = ended.expect_err("ended with an error");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.reason, "UNAVAILABLE");
    assert_eq!(info.metadata.get("cause").map(String::as_str), Some("SHUTTING_DOWN"));
    assert_eq!(info.metadata.get("resume_after_seq"), Some(&last.to_string()));
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("shutdown is not held for the drain timeout (20 s)")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
}
