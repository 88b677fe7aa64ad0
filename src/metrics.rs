//! Prometheus metrics, served as text on their own HTTP port (`/metrics`):
//! RPCs by method and code, RPC latency, the store's pool, events appended,
//! open WatchEvents streams, and webhook attempts, lag and disabled
//! endpoints. A leaf: it imports nothing of the crate,
//! and the store's pool figures are handed to [`serve`] by whoever
//! assembles the server.

use std::net::SocketAddr;
use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A snapshot of the store's pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub idle: u32,
    pub in_use: u32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    pub method: &'static str,
    pub code: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    pub method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabels {
    /// delivered, retry or failed.
    pub outcome: &'static str,
    /// The error class (H10), empty on a 2xx.
    pub error: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub rpcs: Family<RpcLabels, Counter>,
    pub rpc_seconds: Family<MethodLabels, Histogram, fn() -> Histogram>,
    pub events_appended: Counter,
    pub watch_streams: Gauge,
    pub pool_connections: Family<PoolLabels, Gauge>,
    pub access_check_batch_size: Histogram,
    pub webhook_attempts: Family<AttemptLabels, Counter>,
    pub webhook_lag_seconds: Histogram,
    pub webhook_endpoints_disabled: Family<ReasonLabels, Counter>,
}

fn latency_histogram() -> Histogram {
    // 0.1 ms to about 6.5 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

/// The process's metrics: one registry, like Prometheus' default one.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("partnercenter");
    let rpcs = Family::<RpcLabels, Counter>::default();
    registry.register("grpc_requests", "RPCs finished, by method and gRPC code", rpcs.clone());
    let rpc_seconds = Family::<MethodLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
    registry.register(
        "grpc_request_duration_seconds",
        "RPC latency, by method",
        rpc_seconds.clone(),
    );
    let events_appended = Counter::default();
    registry.register(
        "events_appended",
        "Events appended to the event log by this process",
        events_appended.clone(),
    );
    let watch_streams = Gauge::default();
    registry.register("watch_streams", "Open WatchEvents streams", watch_streams.clone());
    let pool_connections = Family::<PoolLabels, Gauge>::default();
    registry.register(
        "db_pool_connections",
        "Store pool connections, idle or in use",
        pool_connections.clone(),
    );
    // 1 to 256: CheckAccess calls decided after one store read (the
    // facts statement, or the access index's read of the committed seq).
    let access_check_batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 9));
    registry.register(
        "access_check_batch_size",
        "CheckAccess calls decided together by one store read",
        access_check_batch_size.clone(),
    );
    let webhook_attempts = Family::<AttemptLabels, Counter>::default();
    registry.register(
        "webhook_attempts",
        "Webhook attempts made by this process, by outcome and error class",
        webhook_attempts.clone(),
    );
    // 1 ms to about 9 h: from an event's commit to its 2xx.
    let webhook_lag_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 25));
    registry.register(
        "webhook_delivery_lag_seconds",
        "From an event's commit to the 2xx that delivered it",
        webhook_lag_seconds.clone(),
    );
    let webhook_endpoints_disabled = Family::<ReasonLabels, Counter>::default();
    registry.register(
        "webhook_endpoints_disabled",
        "Webhook endpoints this process disabled, by reason",
        webhook_endpoints_disabled.clone(),
    );
    Metrics {
        webhook_attempts,
        webhook_lag_seconds,
        webhook_endpoints_disabled,
        registry,
        access_check_batch_size,
        rpcs,
        rpc_seconds,
        events_appended,
        watch_streams,
        pool_connections,
    }
});

impl Metrics {
    /// `method` and `code` are labels from the gRPC adapters' fixed sets
    /// (known method paths, the code's name as tonic spells it).
    pub fn record_rpc(&self, method: &'static str, code: &'static str, seconds: f64) {
        self.rpcs.get_or_create(&RpcLabels { method, code }).inc();
        self.rpc_seconds
            .get_or_create(&MethodLabels { method })
            .observe(seconds);
    }

    /// The exposition, with the pool as read at scrape time.
    pub fn render(&self, pool: PoolStats) -> String {
        self.pool_connections
            .get_or_create(&PoolLabels { state: "idle" })
            .set(i64::from(pool.idle));
        self.pool_connections
            .get_or_create(&PoolLabels { state: "in_use" })
            .set(i64::from(pool.in_use));
        let mut text = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(%error, "metrics encoding failed");
        }
        text
    }
}

/// Counts an open WatchEvents stream until dropped.
pub struct WatchStreamGuard;

impl WatchStreamGuard {
    pub fn open() -> Self {
        METRICS.watch_streams.inc();
        WatchStreamGuard
    }
}

impl Drop for WatchStreamGuard {
    fn drop(&mut self) {
        METRICS.watch_streams.dec();
    }
}

/// Serves `GET /metrics` on its own port; `pool` reads the store's pool at
/// each scrape.
pub async fn serve(
    addr: SocketAddr,
    pool: impl Fn() -> PoolStats + Clone + Send + Sync + 'static,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let pool = pool();
            async move {
                (
                    [(
                        "content-type",
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    METRICS.render(pool),
                )
            }
        }),
    );
    let task = tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            tracing::error!(%error, "metrics endpoint stopped");
        }
    });
    Ok((bound, task))
}
