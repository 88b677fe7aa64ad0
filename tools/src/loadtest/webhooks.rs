//! `bench`'s webhook measurement (H4-H6), in the same run as its
//! baselines: the rate of ListEvents pages (pulling the log), the write
//! capacity (CreatePartner, closed loop), and then, at half that write
//! rate, the deliveries a receiver in this process gets from an UNORDERED
//! operator endpoint: their rate against the writes they follow, and the
//! lag from each event's commit to its arrival.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use partnercenter::BoxError;
use partnercenter::api::pb;
use partnercenter::api::pb::partner_service_client::PartnerServiceClient;
use partnercenter::api::pb::relationship_service_client::RelationshipServiceClient;
use partnercenter::api::pb::webhook_service_client::WebhookServiceClient;
use tokio::sync::Mutex;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::Channel;

use super::client::authed;
use super::engine::{Outcome, Workload};
use super::scenarios::outcome;

/// CreatePartner as the operator: one write transaction and one event.
pub struct Writes {
    pub channels: Vec<Channel>,
    pub operator: AsciiMetadataValue,
    next_mpn: AtomicU64,
    /// Writes acknowledged so far, warm-ups included: each owes a delivery.
    pub acknowledged: AtomicU64,
}

impl Writes {
    pub fn new(channels: Vec<Channel>, operator: AsciiMetadataValue, seed: u64) -> Self {
        // MPN ids of 10 digits that no seeded partner has.
        Writes {
            channels,
            operator,
            next_mpn: AtomicU64::new(9_000_000_000 + (seed % 100_000) * 1_000),
            acknowledged: AtomicU64::new(0),
        }
    }
}

impl Workload for Writes {
    type State = PartnerServiceClient<Channel>;

    fn state(&self, worker: usize) -> Self::State {
        PartnerServiceClient::new(self.channels[worker % self.channels.len()].clone())
    }

    async fn call(&self, client: &mut Self::State) -> Outcome {
        let mpn = self.next_mpn.fetch_add(1, Ordering::Relaxed);
        let request = pb::CreatePartnerRequest {
            partner: Some(pb::Partner {
                mpn_id: mpn.to_string(),
                display_name: "Webhook bench".into(),
                kind: pb::partner::Kind::DirectReseller as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        };
        let reply = client.create_partner(authed(request, &self.operator)).await;
        if reply.is_ok() {
            self.acknowledged.fetch_add(1, Ordering::Relaxed);
        }
        outcome("CreatePartner", reply)
    }
}

/// ListEvents pages of 100 as the operator, from random points of the log.
pub struct EventPages {
    pub channels: Vec<Channel>,
    pub operator: AsciiMetadataValue,
    pub last_seq: i64,
}

impl Workload for EventPages {
    type State = (RelationshipServiceClient<Channel>, u64);

    fn state(&self, worker: usize) -> Self::State {
        let channel = self.channels[worker % self.channels.len()].clone();
        (RelationshipServiceClient::new(channel), worker as u64 * 7_919 + 1)
    }

    async fn call(&self, (client, state): &mut Self::State) -> Outcome {
        // A cheap generator: the page's start matters, not its quality.
        *state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let span = (self.last_seq - PAGE).max(1) as u64;
        let after_seq = ((*state >> 33) % span) as i64;
        let request = pb::ListEventsRequest {
            after_seq,
            page_size: PAGE as i32,
            ..Default::default()
        };
        outcome("ListEvents", client.list_events(authed(request, &self.operator)).await)
    }
}

pub const PAGE: i64 = 100;

/// What the receiver saw: for each delivery its event's time (the
/// server's clock: the same machine's) and when it arrived.
#[derive(Default)]
pub struct Seen {
    pub arrivals: Vec<(SystemTime, SystemTime)>,
}

/// An HTTP receiver on 127.0.0.1 answering 204 to every POST.
pub struct Receiver {
    pub url: String,
    pub seen: Arc<Mutex<Seen>>,
}

async fn hook(
    axum::extract::State(seen): axum::extract::State<Arc<Mutex<Seen>>>,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    let now = SystemTime::now();
    let timestamp = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|body| body["timestamp"].as_str().map(str::to_owned))
        .and_then(|text| humantime::parse_rfc3339(&text).ok());
    if let Some(at) = timestamp {
        seen.lock().await.arrivals.push((at, now));
    }
    axum::http::StatusCode::NO_CONTENT
}

impl Receiver {
    pub async fn start() -> Result<Receiver, BoxError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(seen.clone());
        tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                tracing::warn!(%error, "the bench's webhook receiver stopped");
            }
        });
        Ok(Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            seen,
        })
    }
}

/// Registers the operator's UNORDERED endpoint for partner.created events;
/// returns its id.
pub async fn register(channel: Channel, operator: &AsciiMetadataValue, url: &str) -> Result<String, BoxError> {
    let mut client = WebhookServiceClient::new(channel);
    let request = pb::CreateWebhookEndpointRequest {
        webhook_endpoint: Some(pb::WebhookEndpoint {
            url: url.to_owned(),
            description: "bench".into(),
            event_types: vec!["partner.created".into()],
            delivery_mode: pb::webhook_endpoint::DeliveryMode::Unordered as i32,
            max_in_flight: Some(50),
            ..Default::default()
        }),
        request_id: String::new(),
        start_after_seq: None,
    };
    let reply = client
        .create_webhook_endpoint(authed(request, operator))
        .await?
        .into_inner();
    Ok(reply.webhook_endpoint.map(|endpoint| endpoint.id).unwrap_or_default())
}

/// H8: sets the endpoint's deliveries after `after_seq` PENDING again;
/// returns how many.
pub async fn replay(
    channel: Channel,
    operator: &AsciiMetadataValue,
    id: &str,
    after_seq: i64,
) -> Result<u64, BoxError> {
    let mut client = WebhookServiceClient::new(channel);
    let request = pb::ReplayWebhookEventsRequest {
        id: id.to_owned(),
        after_seq,
        only_failed: false,
    };
    let reply = client
        .replay_webhook_events(authed(request, operator))
        .await?
        .into_inner();
    Ok(u64::try_from(reply.replayed_count).unwrap_or_default())
}

/// The deliveries of one run: their rate from the run's start to the
/// last arrival, and the lag's p50 and p99 in milliseconds.
pub struct Delivered {
    pub count: usize,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Waits (up to `drain`) until `expected` deliveries in all have arrived.
pub async fn drained(seen: &Mutex<Seen>, expected: u64, drain: Duration) -> usize {
    let deadline = tokio::time::Instant::now() + drain;
    loop {
        let count = seen.lock().await.arrivals.len();
        if count as u64 >= expected || tokio::time::Instant::now() >= deadline {
            return count;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What a delivery's lag is counted from.
#[derive(Clone, Copy)]
pub enum LagFrom {
    /// Its event's commit.
    Event,
    /// A moment of the bench's, e.g. a replay's call.
    Moment(SystemTime),
}

/// Reduces the deliveries `pick` takes (by event time and arrival), their
/// rate counted from `since`.
pub async fn delivered(
    seen: &Mutex<Seen>,
    since: SystemTime,
    lag_from: LagFrom,
    pick: impl Fn(SystemTime, SystemTime) -> bool,
) -> Result<Delivered, BoxError> {
    let seen = seen.lock().await;
    let run: Vec<&(SystemTime, SystemTime)> = seen
        .arrivals
        .iter()
        .filter(|(at, arrived)| pick(*at, *arrived))
        .collect();
    let mut lags = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    for (at, arrived) in &run {
        let from = match lag_from {
            LagFrom::Event => *at,
            LagFrom::Moment(moment) => moment,
        };
        let lag = arrived.duration_since(from).unwrap_or_default();
        lags.saturating_record((lag.as_micros() as u64).max(1));
    }
    let last = run.iter().map(|(_, arrived)| *arrived).max().unwrap_or(since);
    let span = last.duration_since(since).unwrap_or_default().as_secs_f64();
    Ok(Delivered {
        count: run.len(),
        per_second: if span > 0.0 { run.len() as f64 / span } else { 0.0 },
        p50_ms: lags.value_at_quantile(0.5) as f64 / 1_000.0,
        p99_ms: lags.value_at_quantile(0.99) as f64 / 1_000.0,
    })
}

/// The seq of the log's last event, found by paging from `from` in
/// pages of 1000.
pub async fn last_seq(channel: Channel, operator: &AsciiMetadataValue, from: i64) -> Result<i64, BoxError> {
    let mut client = RelationshipServiceClient::new(channel);
    let mut last = from;
    loop {
        let page = client
            .list_events(authed(
                pb::ListEventsRequest {
                    after_seq: last,
                    page_size: 1000,
                    ..Default::default()
                },
                operator,
            ))
            .await?
            .into_inner();
        match page.events.last() {
            Some(event) => last = event.seq,
            None => return Ok(last),
        }
        if page.next_page_token.is_empty() {
            return Ok(last);
        }
    }
}
