//! Push delivery through a real receiver on 127.0.0.1 (allow-listed, H2):
//! H3-H8 and H10 as the receiver sees them, the retry schedule driven by
//! the server's clock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use partnercenter::api::pb;
use partnercenter::api::pb::webhook_endpoint::{DeliveryMode, DisabledReason, State as EndpointState};
use partnercenter::config::Config;
use partnercenter::domain::clock::{Clock, ManualClock, SystemClock};
use partnercenter::domain::principal::Principal;
use tonic::Code;

use crate::support::*;

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub webhook_id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn seq(&self) -> i64 {
        self.webhook_id
            .strip_prefix("evt_")
            .and_then(|seq| seq.parse().ok())
            .unwrap_or(-1)
    }
}

/// What the receiver answers the n-th request (0-based) it gets.
type Answer = Arc<dyn Fn(usize, &Received) -> (u16, Vec<(&'static str, String)>) + Send + Sync>;

#[derive(Clone)]
struct Shared {
    received: Arc<Mutex<Vec<Received>>>,
    /// Every request as it arrives, answered or not (a sender killed
    /// mid-request leaves one here only).
    arrived: Arc<Mutex<Vec<Received>>>,
    answer: Arc<Mutex<Answer>>,
    hold: Arc<Mutex<Duration>>,
    in_flight: Arc<AtomicUsize>,
    most_in_flight: Arc<AtomicUsize>,
    /// Two requests of one webhook-id in flight at once (H4 forbids it).
    overlapping: Arc<Mutex<Vec<String>>>,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

/// An HTTP receiver on 127.0.0.1 that records every request.
pub struct Receiver {
    pub url: String,
    shared: Shared,
}

async fn hook(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let received = Received {
        webhook_id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: body.to_vec(),
    };
    shared.arrived.lock().expect("lock").push(received.clone());
    {
        let mut open = shared.open.lock().expect("lock");
        let count = open.entry(received.webhook_id.clone()).or_default();
        *count += 1;
        if *count > 1 {
            shared
                .overlapping
                .lock()
                .expect("lock")
                .push(received.webhook_id.clone());
        }
    }
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.most_in_flight.fetch_max(now, Ordering::SeqCst);
    let hold = *shared.hold.lock().expect("lock");
    if !hold.is_zero() {
        tokio::time::sleep(hold).await;
    }
    let n = {
        let mut all = shared.received.lock().expect("lock");
        all.push(received.clone());
        all.len() - 1
    };
    let answer = shared.answer.lock().expect("lock").clone();
    let (status, extra) = answer(n, &received);
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    if let Some(count) = shared.open.lock().expect("lock").get_mut(&received.webhook_id) {
        *count -= 1;
    }
    let mut response = axum::http::Response::builder().status(status);
    for (name, value) in extra {
        response = response.header(name, value);
    }
    response.body(axum::body::Body::empty()).expect("a response")
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let addr = listener.local_addr().expect("address");
        let ok: Answer = Arc::new(|_, _| (204, Vec::new()));
        let shared = Shared {
            received: Arc::default(),
            arrived: Arc::default(),
            answer: Arc::new(Mutex::new(ok)),
            hold: Arc::default(),
            in_flight: Arc::default(),
            most_in_flight: Arc::default(),
            overlapping: Arc::default(),
            open: Arc::default(),
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://127.0.0.1:{}/hook", addr.port()),
            shared,
        }
    }

    pub fn answer(
        &self,
        answer: impl Fn(usize, &Received) -> (u16, Vec<(&'static str, String)>) + Send + Sync + 'static,
    ) {
        *self.shared.answer.lock().expect("lock") = Arc::new(answer);
    }

    pub fn hold(&self, hold: Duration) {
        *self.shared.hold.lock().expect("lock") = hold;
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().expect("lock").clone()
    }

    pub fn arrived(&self) -> Vec<Received> {
        self.shared.arrived.lock().expect("lock").clone()
    }

    pub fn most_in_flight(&self) -> usize {
        self.shared.most_in_flight.load(Ordering::SeqCst)
    }

    pub fn overlapping(&self) -> Vec<String> {
        self.shared.overlapping.lock().expect("lock").clone()
    }

    /// Waits (up to 20 s) until `done` holds of what was received.
    pub async fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        for _ in 0..2000 {
            let received = self.received();
            if done(&received) {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the receiver never got {what}: {:#?}", self.received());
    }
}

/// H5: verifies a request's signature as Standard Webhooks does, with the
/// hmac and sha2 crates (the server signs through its own code).
pub fn verify(secret: &str, received: &Received) -> bool {
    use base64::Engine;
    use hmac::{KeyInit, Mac};
    let engine = base64::engine::general_purpose::STANDARD;
    let Some(key) = secret.strip_prefix("whsec_").and_then(|k| engine.decode(k).ok()) else {
        return false;
    };
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).expect("any key length");
    mac.update(format!("{}.{}.", received.webhook_id, received.timestamp).as_bytes());
    mac.update(&received.body);
    let expected = format!("v1,{}", engine.encode(mac.finalize().into_bytes()));
    received.signature.split(' ').any(|signature| signature == expected)
}

pub async fn server_with(clock: Arc<dyn Clock>, adjust: impl FnOnce(&mut Config)) -> TestServer {
    TestServer::start_configured(clock, Some(SECRET), |config| {
        config.webhooks.webhook_jitter = 0.0;
        adjust(config);
    })
    .await
}

pub async fn register(
    server: &TestServer,
    who: &Principal,
    url: &str,
    mode: DeliveryMode,
    event_types: &[&str],
) -> pb::CreateWebhookEndpointResponse {
    server
        .webhooks(who)
        .create_webhook_endpoint(pb::CreateWebhookEndpointRequest {
            webhook_endpoint: Some(pb::WebhookEndpoint {
                url: url.into(),
                delivery_mode: mode as i32,
                event_types: event_types.iter().map(|t| t.to_string()).collect(),
                ..Default::default()
            }),
            request_id: String::new(),
            start_after_seq: None,
        })
        .await
        .expect("registered")
        .into_inner()
}

async fn deliveries(server: &TestServer, who: &Principal, endpoint_id: &str) -> Vec<pb::WebhookDelivery> {
    server
        .webhooks(who)
        .list_webhook_deliveries(pb::ListWebhookDeliveriesRequest {
            endpoint_id: endpoint_id.into(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("deliveries listed")
        .into_inner()
        .webhook_deliveries
}

/// Waits until the endpoint's deliveries have `attempts` attempts recorded
/// in all (an attempt the receiver saw is recorded just after it answers).
async fn wait_recorded(
    server: &TestServer,
    who: &Principal,
    endpoint_id: &str,
    attempts: i32,
) -> Vec<pb::WebhookDelivery> {
    for _ in 0..2000 {
        let rows = deliveries(server, who, endpoint_id).await;
        if rows.iter().map(|d| d.attempt_count).sum::<i32>() >= attempts {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "{attempts} attempts were never recorded: {:?}",
        deliveries(server, who, endpoint_id).await
    );
}

/// Waits (up to 20 s) until an endpoint is quiet at `now`: each try its
/// receiver got is recorded, and no PENDING delivery is due.
async fn wait_settled(server: &TestServer, who: &Principal, endpoint_id: &str, receiver: &Receiver, now: i64) {
    let mut rows = Vec::new();
    for _ in 0..2000 {
        rows = deliveries(server, who, endpoint_id).await;
        let recorded: i32 = rows.iter().map(|d| d.attempt_count).sum();
        let due = rows.iter().any(|d| {
            d.state == pb::webhook_delivery::State::Pending as i32
                && crate::delegated_admin::micros(&d.next_attempt_time).is_none_or(|t| t <= now)
        });
        if recorded as usize == receiver.received().len() && !due {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the endpoint never settled: {} tries received, deliveries {rows:?}",
        receiver.received().len()
    );
}

async fn endpoint_now(server: &TestServer, id: &str) -> pb::WebhookEndpoint {
    server
        .webhooks(&operator())
        .get_webhook_endpoint(pb::GetWebhookEndpointRequest { id: id.into() })
        .await
        .expect("read")
        .into_inner()
}

async fn wait_endpoint(server: &TestServer, id: &str, what: &str, done: impl Fn(&pb::WebhookEndpoint) -> bool) {
    for _ in 0..2000 {
        if done(&endpoint_now(server, id).await) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the endpoint never became {what}: {:?}", endpoint_now(server, id).await);
}

/// The seqs of the partner's events after `after`, as ListEvents gives them.
async fn readable_seqs(server: &TestServer, who: &Principal, after: i64, types: &[&str]) -> Vec<i64> {
    server
        .relationships(who)
        .list_events(pb::ListEventsRequest {
            after_seq: after,
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("events")
        .into_inner()
        .events
        .into_iter()
        .filter(|e| types.is_empty() || types.iter().any(|t| e.r#type == *t))
        .map(|e| e.seq)
        .collect()
}

/// H3, H5: an endpoint gets exactly its owner's events (as ListEvents
/// gives them) that its filters admit, each signed per Standard Webhooks
/// with `webhook-id: evt_<seq>`, the body `{"type","timestamp","data"}`
/// with data the event in proto3 JSON.
#[tokio::test]
async fn h5_deliveries_are_the_owners_events_signed_as_standard_webhooks() {
    let receiver = Receiver::start().await;
    let server = server_with(Arc::new(SystemClock), |_| {}).await;
    let (owner, _) = reseller_with_customer(&server).await;
    let me = partner(&owner.id);
    let start = last_seq(&server).await;
    let made = register(&server, &me, &receiver.url, DeliveryMode::Ordered, &["customer.*"]).await;
    let endpoint = made.webhook_endpoint.expect("endpoint");
    // Its own customers' events, and another partner's it must not get.
    for _ in 0..3 {
        server.create_customer(&me, None).await.expect("a customer");
    }
    let (stranger, _) = reseller_with_customer(&server).await;
    server
        .create_customer(&partner(&stranger.id), None)
        .await
        .expect("theirs");
    let expected = readable_seqs(&server, &me, start, &["customer.created"]).await;
    assert_eq!(expected.len(), 3);
    let got = receiver.wait_for("the three customer events", |r| r.len() >= 3).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let got_seqs: Vec<i64> = receiver.received().iter().map(Received::seq).collect();
    assert_eq!(got_seqs, expected, "exactly the owner's admitted events, in order");
    for request in &got {
        assert!(verify(&made.secret, request), "signature of {}", request.webhook_id);
        let body = request.json();
        assert_eq!(body["type"], "customer.created");
        let data = &body["data"];
        assert_eq!(
            data["seq"],
            serde_json::Value::String(request.seq().to_string()),
            "int64 as a string"
        );
        assert_eq!(data["type"], "customer.created");
        assert!(
            data["customer"]["company_name"].is_string(),
            "proto field names: {data}"
        );
        let timestamp = body["timestamp"].as_str().expect("a timestamp");
        assert!(humantime::parse_rfc3339(timestamp).is_ok(), "RFC 3339: {timestamp}");
        let sent_at: i64 = request.timestamp.parse().expect("unix seconds");
        assert!((sent_at - chrono_now()).abs() < 60, "the attempt's time");
    }
    // Delivered rows, and the cursor past them.
    let rows = deliveries(&server, &me, &endpoint.id).await;
    assert_eq!(rows.len(), 3);
    assert!(
        rows.iter()
            .all(|d| d.state == pb::webhook_delivery::State::Delivered as i32 && d.attempt_count == 1)
    );
    assert_eq!(rows[0].webhook_id, format!("evt_{}", expected[0]));
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// H6: a receiver that fails for a while, then recovers, gets every event
/// in seq order with no gap on an ORDERED endpoint; every retry carries
/// the same webhook-id; the schedule runs on the server's clock.
#[tokio::test]
async fn h6_an_ordered_endpoint_gets_everything_in_order_after_its_receiver_recovers() {
    let receiver = Receiver::start().await;
    receiver.answer(|n, _| if n < 4 { (503, Vec::new()) } else { (200, Vec::new()) });
    let clock = Arc::new(ManualClock::new(1_800_000_000_000_000));
    let server = server_with(clock.clone(), |_| {}).await;
    let (owner, _) = reseller_with_customer(&server).await;
    let me = partner(&owner.id);
    let start = last_seq(&server).await;
    let made = register(
        &server,
        &me,
        &receiver.url,
        DeliveryMode::Ordered,
        &["customer.created"],
    )
    .await;
    let endpoint_id = made.webhook_endpoint.clone().expect("endpoint").id;
    for _ in 0..5 {
        server.create_customer(&me, None).await.expect("a customer");
    }
    let expected = readable_seqs(&server, &me, start, &["customer.created"]).await;
    // The first attempt fails; each retry waits its step of the schedule.
    receiver.wait_for("the first attempt", |r| !r.is_empty()).await;
    for (tries, step) in [5, 300, 1800, 7200].into_iter().enumerate() {
        wait_recorded(&server, &me, &endpoint_id, tries as i32 + 1).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(receiver.received().len(), tries + 1, "no retry before its step");
        clock.advance(step * 1_000_000);
        receiver.wait_for("the next retry", |r| r.len() > tries + 1).await;
    }
    let all = receiver
        .wait_for("every event after the recovery", |r| r.len() >= 4 + expected.len())
        .await;
    let ids: Vec<i64> = all.iter().map(Received::seq).collect();
    // Four failed tries of the head, then each event once, in order.
    assert_eq!(&ids[..4], &[expected[0]; 4], "retries carry the head's webhook-id");
    assert_eq!(&ids[4..], &expected[..], "seq order, no gap");
    for request in &all {
        assert!(verify(&made.secret, request));
    }
    let rows = wait_recorded(&server, &me, &endpoint_id, 5 + 4).await;
    assert_eq!(rows[0].attempt_count, 5);
    assert!(
        rows.iter()
            .all(|d| d.state == pb::webhook_delivery::State::Delivered as i32)
    );
}

/// H6: UNORDERED sends up to max_in_flight at once, never more; H4: never
/// one delivery twice at once.
#[tokio::test]
async fn h6_an_unordered_endpoint_keeps_at_most_max_in_flight() {
    let receiver = Receiver::start().await;
    receiver.hold(Duration::from_millis(150));
    let server = server_with(Arc::new(SystemClock), |_| {}).await;
    let (owner, _) = reseller_with_customer(&server).await;
    let me = partner(&owner.id);
    server
        .webhooks(&me)
        .create_webhook_endpoint(pb::CreateWebhookEndpointRequest {
            webhook_endpoint: Some(pb::WebhookEndpoint {
                url: receiver.url.clone(),
                delivery_mode: DeliveryMode::Unordered as i32,
                max_in_flight: Some(3),
                event_types: vec!["customer.created".into()],
                ..Default::default()
            }),
            request_id: String::new(),
            start_after_seq: None,
        })
        .await
        .expect("registered");
    for _ in 0..12 {
        server.create_customer(&me, None).await.expect("a customer");
    }
    let got = receiver.wait_for("twelve events", |r| r.len() >= 12).await;
    assert_eq!(got.len(), 12);
    assert!(
        receiver.most_in_flight() <= 3,
        "{} in flight",
        receiver.most_in_flight()
    );
    assert!(receiver.most_in_flight() >= 2, "UNORDERED sends several at once");
    assert!(receiver.overlapping().is_empty());
}

/// H6: after a 429 the next attempt waits for the later of the schedule's
/// step and Retry-After; a 410 disables the endpoint (GONE) with an event
/// its owner's other endpoints receive; setting ACTIVE resumes.
#[tokio::test]
async fn h6_retry_after_is_honoured_and_410_disables_the_endpoint() {
    let receiver = Receiver::start().await;
    let witness = Receiver::start().await;
    receiver.answer(|n, _| match n {
        0 => (429, vec![("retry-after", "3600".to_owned())]),
        1 => (410, Vec::new()),
        _ => (200, Vec::new()),
    });
    let clock = Arc::new(ManualClock::new(1_800_000_000_000_000));
    let server = server_with(clock.clone(), |_| {}).await;
    let (owner, _) = reseller_with_customer(&server).await;
    let me = partner(&owner.id);
    let made = register(
        &server,
        &me,
        &receiver.url,
        DeliveryMode::Ordered,
        &["customer.created"],
    )
    .await;
    let endpoint = made.webhook_endpoint.expect("endpoint");
    register(
        &server,
        &me,
        &witness.url,
        DeliveryMode::Unordered,
        &["webhook_endpoint.*"],
    )
    .await;
    server.create_customer(&me, None).await.expect("a customer");
    receiver.wait_for("the first attempt", |r| r.len() == 1).await;
    let rows = wait_recorded(&server, &me, &endpoint.id, 1).await;
    let due = rows[0].next_attempt_time.expect("due later").seconds;
    assert_eq!(due, 1_800_000_000 + 3600, "Retry-After beats the 5 s step");
    clock.advance(60 * 1_000_000);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.received().len(), 1, "nothing before Retry-After");
    clock.advance(3600 * 1_000_000);
    receiver
        .wait_for("the attempt after Retry-After", |r| r.len() == 2)
        .await;
    wait_endpoint(&server, &endpoint.id, "DISABLED", |e| {
        e.state == EndpointState::Disabled as i32 && e.disabled_reason == DisabledReason::Gone as i32
    })
    .await;
    witness
        .wait_for("webhook_endpoint.disabled", |r| {
            r.iter().any(|r| r.json()["type"] == "webhook_endpoint.disabled")
        })
        .await;
    // Set ACTIVE: the delivery goes again (it stayed PENDING).
    let current = endpoint_now(&server, &endpoint.id).await;
    server
        .webhooks(&me)
        .update_webhook_endpoint(pb::UpdateWebhookEndpointRequest {
            webhook_endpoint: Some(pb::WebhookEndpoint {
                id: endpoint.id.clone(),
                etag: current.etag,
                state: EndpointState::Active as i32,
                ..Default::default()
            }),
            update_mask: mask(&["state"]),
        })
        .await
        .expect("resumed");
    let all = receiver.wait_for("the delivery after resuming", |r| r.len() == 3).await;
    assert_eq!(all[2].webhook_id, all[0].webhook_id);
    let after = endpoint_now(&server, &endpoint.id).await;
    assert_eq!(after.disabled_reason, 0);
}

/// H6, H7: an ORDERED endpoint whose head runs out of tries is DISABLED
/// (HEAD_FAILED), the head kept FAILED; set ACTIVE, the head goes again.
/// An UNORDERED endpoint failing for 5 days is DISABLED
/// (CONSECUTIVE_FAILURES), its dead letters kept.
#[tokio::test]
async fn h7_a_failed_head_and_five_days_of_failures_disable_an_endpoint() {
    let receiver = Receiver::start().await;
    receiver.answer(|_, _| (500, Vec::new()));
    let clock = Arc::new(ManualClock::new(1_800_000_000_000_000));
    let server = server_with(clock.clone(), |config| {
        config.webhooks.webhook_retry_schedule = "1m,1h".to_owned();
        config.webhooks.webhook_disable_after = Duration::from_secs(5 * 86_400);
    })
    .await;
    let (owner, _) = reseller_with_customer(&server).await;
    let me = partner(&owner.id);
    let ordered = register(
        &server,
        &me,
        &receiver.url,
        DeliveryMode::Ordered,
        &["customer.created"],
    )
    .await
    .webhook_endpoint
    .expect("endpoint");
    server.create_customer(&me, None).await.expect("a customer");
    receiver.wait_for("the first try", |r| !r.is_empty()).await;
    wait_recorded(&server, &me, &ordered.id, 1).await;
    clock.advance(60 * 1_000_000);
    receiver.wait_for("the second try", |r| r.len() >= 2).await;
    wait_recorded(&server, &me, &ordered.id, 2).await;
    clock.advance(3600 * 1_000_000);
    receiver.wait_for("the last try", |r| r.len() >= 3).await;
    wait_endpoint(&server, &ordered.id, "HEAD_FAILED", |e| {
        e.disabled_reason == DisabledReason::HeadFailed as i32
    })
    .await;
    let rows = deliveries(&server, &me, &ordered.id).await;
    assert_eq!(rows[0].state, pb::webhook_delivery::State::Failed as i32);
    assert_eq!(rows[0].last_status_code, 500);
    assert_eq!(rows[0].last_error, pb::webhook_delivery::Error::HttpStatus as i32);
    // Resumed: the head is queued again and tried from the schedule's start.
    receiver.answer(|_, _| (200, Vec::new()));
    let current = endpoint_now(&server, &ordered.id).await;
    server
        .webhooks(&me)
        .update_webhook_endpoint(pb::UpdateWebhookEndpointRequest {
            webhook_endpoint: Some(pb::WebhookEndpoint {
                id: ordered.id.clone(),
                etag: current.etag,
                state: EndpointState::Active as i32,
                ..Default::default()
            }),
            update_mask: mask(&["state"]),
        })
        .await
        .expect("resumed");
    receiver.wait_for("the head again", |r| r.len() >= 4).await;
    wait_endpoint(&server, &ordered.id, "ACTIVE", |e| {
        e.state == EndpointState::Active as i32
    })
    .await;

    // UNORDERED: each delivery fails alone and becomes a dead letter; five
    // days of nothing but failures disable the endpoint.
    let failing = Receiver::start().await;
    failing.answer(|_, _| (503, Vec::new()));
    let unordered = register(
        &server,
        &me,
        &failing.url,
        DeliveryMode::Unordered,
        &["customer.created"],
    )
    .await
    .webhook_endpoint
    .expect("endpoint");
    // Counted before the write: its delivery may come before the reply.
    let mut want = failing.received().len() + 1;
    for day in 0..6 {
        server.create_customer(&me, None).await.expect("a customer");
        failing.wait_for("a try", |r| r.len() >= want).await;
        if day < 5 {
            // Before the clock moves, every try of the day is made and
            // recorded: one still in flight would be recorded a day later,
            // five days after the first failure, and disable the endpoint
            // a day early.
            wait_settled(&server, &me, &unordered.id, &failing, clock.now()).await;
            assert_eq!(
                endpoint_now(&server, &unordered.id).await.state,
                EndpointState::Active as i32
            );
        }
        // Counted before the clock moves: the retries it makes due count
        // too. On day 5 one of them may disable the endpoint before the
        // new customer's delivery is tried, which then never is.
        want = failing.received().len() + 1;
        clock.advance(86_400 * 1_000_000);
    }
    wait_endpoint(&server, &unordered.id, "CONSECUTIVE_FAILURES", |e| {
        e.disabled_reason == DisabledReason::ConsecutiveFailures as i32
    })
    .await;
    let dead = deliveries(&server, &me, &unordered.id).await;
    assert!(
        dead.iter()
            .any(|d| d.state == pb::webhook_delivery::State::Failed as i32),
        "dead letters kept"
    );
}

/// H3, P4, H7: while the owner is SUSPENDED nothing is sent: its
/// deliveries wait, and their retry clock stops (the wait is added back),
/// so the retry due 5 s after a failure comes 5 s after the owner is
/// ACTIVE again, however long the suspension lasted.
#[tokio::test]
async fn h3_a_suspended_owners_deliveries_wait_and_their_clocks_stop() {
    let receiver = Receiver::start().await;
    receiver.answer(|n, _| if n == 0 { (503, Vec::new()) } else { (200, Vec::new()) });
    let clock = Arc::new(ManualClock::new(1_800_000_000_000_000));
    let server = server_with(clock.clone(), |_| {}).await;
    let (owner, _) = reseller_with_customer(&server).await;
    let me = partner(&owner.id);
    let made = register(
        &server,
        &me,
        &receiver.url,
        DeliveryMode::Ordered,
        &["customer.created"],
    )
    .await;
    let id = made.webhook_endpoint.expect("endpoint").id;
    server.create_customer(&me, None).await.expect("a customer");
    receiver.wait_for("the first attempt", |r| r.len() == 1).await;
    wait_recorded(&server, &me, &id, 1).await;
    server
        .set_partner_status(&owner.id, pb::partner::Status::Suspended)
        .await;
    // A dispatcher cycle sees the suspension before the clock moves.
    tokio::time::sleep(Duration::from_millis(300)).await;
    clock.advance(3600 * 1_000_000);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1, "nothing sent while suspended");
    server.set_partner_status(&owner.id, pb::partner::Status::Active).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.received().len(),
        1,
        "the retry's 5 s did not run while suspended"
    );
    clock.advance(5 * 1_000_000);
    let got = receiver.wait_for("the waiting delivery", |r| r.len() == 2).await;
    assert_eq!(got[1].webhook_id, got[0].webhook_id);
}

/// H8: a replay sends the deliveries above after_seq again, in order, with
/// their webhook-ids.
#[tokio::test]
async fn h8_a_replay_sends_again_with_the_same_webhook_ids() {
    let receiver = Receiver::start().await;
    let server = server_with(Arc::new(SystemClock), |_| {}).await;
    let (owner, _) = reseller_with_customer(&server).await;
    let me = partner(&owner.id);
    let start = last_seq(&server).await;
    let made = register(
        &server,
        &me,
        &receiver.url,
        DeliveryMode::Ordered,
        &["customer.created"],
    )
    .await;
    let id = made.webhook_endpoint.expect("endpoint").id;
    for _ in 0..3 {
        server.create_customer(&me, None).await.expect("a customer");
    }
    let first = receiver.wait_for("three events", |r| r.len() == 3).await;
    wait_endpoint(&server, &id, "past them", |e| e.cursor_seq >= first[2].seq()).await;
    // H4: cursor_seq is the last seq given a row: an event of the owner's
    // that the filter passes over leaves it.
    server
        .relationships(&me)
        .create_security_group(pb::CreateSecurityGroupRequest {
            security_group: Some(pb::SecurityGroup {
                display_name: "Ops".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("a group");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(endpoint_now(&server, &id).await.cursor_seq, first[2].seq());
    let replayed = server
        .webhooks(&me)
        .replay_webhook_events(pb::ReplayWebhookEventsRequest {
            id: id.clone(),
            after_seq: first[0].seq(),
            only_failed: false,
        })
        .await
        .expect("replayed")
        .into_inner();
    assert_eq!(replayed.replayed_count, 2);
    let all = receiver.wait_for("the replayed two", |r| r.len() == 5).await;
    let ids: Vec<&str> = all[3..].iter().map(|r| r.webhook_id.as_str()).collect();
    assert_eq!(ids, [first[1].webhook_id.as_str(), first[2].webhook_id.as_str()]);
    // Nothing FAILED: an only_failed replay finds nothing.
    let none = server
        .webhooks(&me)
        .replay_webhook_events(pb::ReplayWebhookEventsRequest {
            id,
            after_seq: start,
            only_failed: true,
        })
        .await
        .expect("replayed")
        .into_inner();
    assert_eq!(none.replayed_count, 0);
}

/// H2, H10: a name resolving to loopback (not allow-listed) fails the
/// attempt as BLOCKED_ADDRESS and nothing reaches it; SendTestWebhook
/// posts a signed webhook.test (`test_<uuid>`), answers status and
/// latency, and appends no event.
#[tokio::test]
async fn h10_a_test_send_is_signed_and_a_blocked_name_fails_the_attempt() {
    let receiver = Receiver::start().await;
    let server = server_with(Arc::new(SystemClock), |_| {}).await;
    let owner = server.create_partner(pb::partner::Kind::DirectReseller).await;
    let me = partner(&owner.id);
    let made = register(
        &server,
        &me,
        &receiver.url,
        DeliveryMode::Ordered,
        &["customer.created"],
    )
    .await;
    let id = made.webhook_endpoint.expect("endpoint").id;
    let sent = without_change(
        &server,
        server
            .webhooks(&me)
            .send_test_webhook(pb::SendTestWebhookRequest { id: id.clone() }),
    )
    .await
    .expect("sent")
    .into_inner();
    assert_eq!(sent.status_code, 204);
    assert_eq!(sent.error, 0);
    assert!(sent.latency.is_some());
    assert!(sent.webhook_id.starts_with("test_"));
    let got = receiver.wait_for("the test", |r| !r.is_empty()).await;
    assert_eq!(got[0].webhook_id, sent.webhook_id);
    assert_eq!(got[0].json()["type"], "webhook.test");
    assert!(verify(&made.secret, &got[0]));

    // "localhost" is not allow-listed: it resolves to loopback, refused.
    let port = receiver
        .url
        .split(':')
        .nth(2)
        .and_then(|p| p.split('/').next())
        .unwrap_or("1");
    let blocked = register(
        &server,
        &me,
        &format!("https://localhost:{port}/hook"),
        DeliveryMode::Unordered,
        &[],
    )
    .await
    .webhook_endpoint
    .expect("a name is admitted at registration");
    let tried = server
        .webhooks(&me)
        .send_test_webhook(pb::SendTestWebhookRequest { id: blocked.id.clone() })
        .await
        .expect("answered")
        .into_inner();
    assert_eq!(tried.error, pb::webhook_delivery::Error::BlockedAddress as i32);
    assert_eq!(tried.status_code, 0);
    assert_eq!(receiver.received().len(), 1, "nothing reached the receiver");
    // Other callers: W2 and roles.
    let other = server.create_partner(pb::partner::Kind::DirectReseller).await;
    refused_without_change(
        &server,
        async {
            server
                .webhooks(&partner(&other.id))
                .send_test_webhook(pb::SendTestWebhookRequest { id: id.clone() })
                .await
        },
        Code::PermissionDenied,
        "ENDPOINT_NOT_VISIBLE",
    )
    .await;
}

/// Whether Python's `standardwebhooks` package (an implementation of the
/// standard independent of this service's) can be run. CI installs it and
/// sets PARTNERCENTER_TEST_PYTHON=required, so there a missing package
/// fails the test instead of skipping it.
pub fn python_verifier() -> bool {
    let found = std::process::Command::new("python3")
        .args(["-c", "import standardwebhooks"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !found && std::env::var("PARTNERCENTER_TEST_PYTHON").is_ok_and(|v| v == "required") {
        panic!("python3 with the standardwebhooks package is required: pip install standardwebhooks");
    }
    if !found {
        eprintln!("skipped: python3 with standardwebhooks is not installed (pip install standardwebhooks)");
    }
    found
}

/// H5: Python's `standardwebhooks` verifies every delivery and the test
/// send, with the current secret and, during an overlap, the previous one.
#[tokio::test]
async fn h5_an_independent_implementation_verifies_every_signature() {
    if !python_verifier() {
        return;
    }
    let receiver = Receiver::start().await;
    let server = server_with(Arc::new(SystemClock), |_| {}).await;
    let (owner, _) = reseller_with_customer(&server).await;
    let me = partner(&owner.id);
    let made = register(
        &server,
        &me,
        &receiver.url,
        DeliveryMode::Unordered,
        &["customer.created"],
    )
    .await;
    let endpoint = made.webhook_endpoint.expect("endpoint");
    server.create_customer(&me, None).await.expect("a customer");
    receiver.wait_for("a delivery", |r| r.len() == 1).await;
    // Rotated with an overlap: both secrets sign, each verifies alone.
    let rotated = server
        .webhooks(&me)
        .rotate_webhook_secret(pb::RotateWebhookSecretRequest {
            id: endpoint.id.clone(),
            etag: String::new(),
            overlap: None,
        })
        .await
        .expect("rotated")
        .into_inner();
    server.create_customer(&me, None).await.expect("a customer");
    server
        .webhooks(&me)
        .send_test_webhook(pb::SendTestWebhookRequest {
            id: endpoint.id.clone(),
        })
        .await
        .expect("a test send");
    let all = receiver.wait_for("two deliveries and a test", |r| r.len() == 3).await;
    let cases: Vec<serde_json::Value> = all
        .iter()
        .enumerate()
        .flat_map(|(i, request)| {
            let secrets = if i == 0 {
                vec![made.secret.clone()]
            } else {
                vec![made.secret.clone(), rotated.secret.clone()]
            };
            secrets.into_iter().map(move |secret| {
                serde_json::json!({
                    "secret": secret,
                    "body": String::from_utf8_lossy(&request.body),
                    "headers": {
                        "webhook-id": request.webhook_id,
                        "webhook-timestamp": request.timestamp,
                        "webhook-signature": request.signature,
                    },
                })
            })
        })
        .collect();
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
cases = json.load(sys.stdin)
for case in cases:
    Webhook(case["secret"]).verify(case["body"], case["headers"])
tampered = dict(cases[0]["headers"])
try:
    Webhook(cases[0]["secret"]).verify(cases[0]["body"] + " ", tampered)
    sys.exit("a tampered body verified")
except Exception:
    pass
print(len(cases))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(&cases).expect("json").as_bytes())
        .expect("written");
    let output = child.wait_with_output().expect("python3 ends");
    assert!(
        output.status.success(),
        "standardwebhooks refused a signature: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "5");
}

/// The flags of a replica that dispatches to the tests' receivers.
fn dispatching() -> Vec<String> {
    [
        "--webhook-allow-hosts",
        "127.0.0.1",
        "--webhook-poll",
        "20ms",
        "--webhook-lease",
        "2s",
        "--webhook-timeout",
        "1s",
        "--webhook-jitter",
        "0",
        "--webhook-retry-schedule",
        "200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn webhooks_of(replica: &crate::replicas::Replica, who: &Principal) -> Webhooks {
    pb::webhook_service_client::WebhookServiceClient::with_interceptor(
        replica.channel.clone(),
        crate::replicas::bearer(who),
    )
}

async fn register_on(
    replica: &crate::replicas::Replica,
    who: &Principal,
    url: &str,
    mode: DeliveryMode,
    max_in_flight: i32,
) -> String {
    webhooks_of(replica, who)
        .create_webhook_endpoint(pb::CreateWebhookEndpointRequest {
            webhook_endpoint: Some(pb::WebhookEndpoint {
                url: url.into(),
                delivery_mode: mode as i32,
                max_in_flight: Some(max_in_flight),
                event_types: vec!["partner.created".into()],
                ..Default::default()
            }),
            request_id: String::new(),
            start_after_seq: None,
        })
        .await
        .expect("registered")
        .into_inner()
        .webhook_endpoint
        .expect("endpoint")
        .id
}

/// What each first delivery of a seq showed: every seq once at least, the
/// first deliveries in seq order (ORDERED) or any order, each request's
/// webhook-id naming its event.
fn check_received(what: &str, received: &[Received], expected: &[i64], ordered: bool) {
    let mut firsts = Vec::new();
    for request in received {
        let data_seq: i64 = request.json()["data"]["seq"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(-1);
        assert_eq!(
            request.seq(),
            data_seq,
            "{what}: webhook-id {} names another event",
            request.webhook_id
        );
        if !firsts.contains(&request.seq()) {
            firsts.push(request.seq());
        }
    }
    if ordered {
        assert_eq!(firsts, expected, "{what}: seq order with no gap");
    } else {
        let mut sorted = firsts.clone();
        sorted.sort();
        assert_eq!(sorted, expected, "{what}: every event at least once");
    }
}

/// H4, H6: a replica killed (SIGKILL) with deliveries in flight; another
/// started over the same store delivers every event at least once: every
/// redelivery carries its event's webhook-id, the ORDERED endpoint sees
/// seq order with no gap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h4_a_replica_killed_mid_delivery_loses_nothing() {
    let dir = tempfile::tempdir().expect("dir");
    let (database_url, _database) = crate::replicas::shared_database(&dir).await;
    let ordered = Receiver::start().await;
    let unordered = Receiver::start().await;
    for receiver in [&ordered, &unordered] {
        receiver.hold(Duration::from_millis(40));
    }
    let first = crate::replicas::start_process(&database_url, crate::replicas::free_port(), &dispatching()).await;
    let ordered_id = register_on(&first, &operator(), &ordered.url, DeliveryMode::Ordered, 1).await;
    let unordered_id = register_on(&first, &operator(), &unordered.url, DeliveryMode::Unordered, 4).await;
    let mut expected = Vec::new();
    for _ in 0..40 {
        crate::replicas::new_partner(&first, pb::partner::Kind::DirectReseller).await;
    }
    let events = crate::replicas::relationships(&first, &operator())
        .list_events(pb::ListEventsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("events")
        .into_inner()
        .events;
    expected.extend(events.iter().filter(|e| e.r#type == "partner.created").map(|e| e.seq));
    // Some delivered, more in flight: kill -9.
    ordered.wait_for("a few deliveries", |r| r.len() >= 5).await;
    drop(first);
    let before_restart = (ordered.received().len(), unordered.received().len());
    assert!(before_restart.0 < expected.len(), "the kill came before the end");
    let second = crate::replicas::start_process(&database_url, crate::replicas::free_port(), &dispatching()).await;
    let all_ordered = ordered
        .wait_for("every event after the restart", |r| {
            expected.iter().all(|seq| r.iter().any(|got| got.seq() == *seq))
        })
        .await;
    let all_unordered = unordered
        .wait_for("every event after the restart", |r| {
            expected.iter().all(|seq| r.iter().any(|got| got.seq() == *seq))
        })
        .await;
    check_received("ORDERED", &all_ordered, &expected, true);
    check_received("UNORDERED", &all_unordered, &expected, false);
    // Every request that arrived, answered or cut off by the kill, named
    // its own event: a redelivery carries the same webhook-id.
    let (arrived_ordered, arrived_unordered) = (ordered.arrived(), unordered.arrived());
    check_received("ORDERED arrivals", &arrived_ordered, &expected, true);
    check_received("UNORDERED arrivals", &arrived_unordered, &expected, false);
    let delivered = |id: String| {
        let replica = &second;
        async move {
            webhooks_of(replica, &operator())
                .list_webhook_deliveries(pb::ListWebhookDeliveriesRequest {
                    endpoint_id: id,
                    page_size: 1000,
                    ..Default::default()
                })
                .await
                .expect("deliveries")
                .into_inner()
                .webhook_deliveries
        }
    };
    for _ in 0..200 {
        let rows = delivered(ordered_id.clone()).await;
        if rows.len() == expected.len()
            && rows
                .iter()
                .all(|d| d.state == pb::webhook_delivery::State::Delivered as i32)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let rows = delivered(unordered_id).await;
    assert_eq!(rows.len(), expected.len());
    eprintln!(
        "h4 kill -9: {} events; answered before the kill {} ORDERED and {} UNORDERED; arrived in all {} and {} (sent again after the restart: {} and {})",
        expected.len(),
        before_restart.0,
        before_restart.1,
        arrived_ordered.len(),
        arrived_unordered.len(),
        arrived_ordered.len() - expected.len(),
        arrived_unordered.len() - expected.len()
    );
}

/// H4: two replicas dispatching over one store never make one delivery
/// twice at once, and, with no crash, make each exactly once; UNORDERED's
/// max_in_flight holds over both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h4_two_replicas_never_send_one_delivery_at_once() {
    let dir = tempfile::tempdir().expect("dir");
    let (database_url, _database) = crate::replicas::shared_database(&dir).await;
    let ordered = Receiver::start().await;
    let unordered = Receiver::start().await;
    for receiver in [&ordered, &unordered] {
        receiver.hold(Duration::from_millis(30));
    }
    let a = crate::replicas::start_process(&database_url, crate::replicas::free_port(), &dispatching()).await;
    let b = crate::replicas::start_process(&database_url, crate::replicas::free_port(), &dispatching()).await;
    register_on(&a, &operator(), &ordered.url, DeliveryMode::Ordered, 1).await;
    register_on(&b, &operator(), &unordered.url, DeliveryMode::Unordered, 3).await;
    for i in 0..30 {
        let replica = if i % 2 == 0 { &a } else { &b };
        crate::replicas::new_partner(replica, pb::partner::Kind::DirectReseller).await;
    }
    let events = crate::replicas::relationships(&a, &operator())
        .list_events(pb::ListEventsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("events")
        .into_inner()
        .events;
    let expected: Vec<i64> = events
        .iter()
        .filter(|e| e.r#type == "partner.created")
        .map(|e| e.seq)
        .collect();
    let got_ordered = ordered.wait_for("every event", |r| r.len() >= expected.len()).await;
    let got_unordered = unordered.wait_for("every event", |r| r.len() >= expected.len()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ordered.received().len(), expected.len(), "each exactly once");
    assert_eq!(unordered.received().len(), expected.len(), "each exactly once");
    check_received("ORDERED", &got_ordered, &expected, true);
    check_received("UNORDERED", &got_unordered, &expected, false);
    assert!(ordered.overlapping().is_empty() && unordered.overlapping().is_empty());
    assert_eq!(ordered.most_in_flight(), 1, "ORDERED: one at a time over both replicas");
    assert!(
        unordered.most_in_flight() <= 3,
        "{} in flight over both",
        unordered.most_in_flight()
    );
}
