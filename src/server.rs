//! Assembles and runs the gRPC server: the three services behind the auth
//! interceptor, plus health and reflection (open, for grpcurl and probes).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Server;
use tonic_health::server::HealthReporter;

use crate::api::pb::customer_service_server::CustomerServiceServer;
use crate::api::pb::partner_service_server::PartnerServiceServer;
use crate::api::pb::relationship_service_server::RelationshipServiceServer;
use crate::api::{CustomerApi, PartnerApi, RelationshipApi, pb};
use crate::auth::{TokenAuthority, interceptor};
use crate::config::Config;
use crate::domain::clock::Clock;
use crate::domain::ports::{AccessChecker, PartnerDirectory};
use crate::store::{CoalescingChecker, Store, StoreOptions};
use crate::telemetry::GrpcTraceLayer;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

const SERVICE_NAMES: [&str; 3] = [
    "partnercenter.v1.PartnerService",
    "partnercenter.v1.CustomerService",
    "partnercenter.v1.RelationshipService",
];

/// A server accepting requests on its own task.
pub struct RunningServer {
    addr: SocketAddr,
    authority: Arc<TokenAuthority>,
    store: Store,
    health: HealthReporter,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
    sweeper: JoinHandle<()>,
    store_health: JoinHandle<()>,
    metrics: Option<(SocketAddr, JoinHandle<()>)>,
    drain_timeout: std::time::Duration,
}

impl RunningServer {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Signs tokens this server accepts.
    pub fn authority(&self) -> &TokenAuthority {
        &self.authority
    }

    /// Where `/metrics` is served, if it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(addr, _)| *addr)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Stops accepting, reports NOT_SERVING, lets in-flight calls finish
    /// within the drain timeout, then stops.
    pub async fn shutdown(mut self) {
        self.sweeper.abort();
        self.store_health.abort();
        if let Some((_, task)) = &self.metrics {
            task.abort();
        }
        for name in SERVICE_NAMES {
            self.health
                .set_service_status(name, tonic_health::ServingStatus::NotServing)
                .await;
        }
        if let Some(signal) = self.shutdown.take() {
            let _ = signal.send(());
        }
        match tokio::time::timeout(self.drain_timeout, &mut self.task).await {
            Ok(Ok(Ok(()))) => tracing::info!("server drained and stopped"),
            Ok(Ok(Err(error))) => tracing::error!(%error, "server stopped with an error"),
            Ok(Err(error)) => tracing::error!(%error, "server task failed"),
            Err(_) => {
                tracing::warn!(timeout = ?self.drain_timeout, "drain timeout passed; closing remaining calls");
                self.task.abort();
            }
        }
    }
}

/// Opens the store (applying migrations), binds the listener and starts
/// serving. `config.listen` may use port 0.
pub async fn spawn(config: &Config, clock: Arc<dyn Clock>) -> Result<RunningServer, BoxError> {
    let secret = config.jwt_secret()?;
    let authority = Arc::new(TokenAuthority::new(
        &secret,
        &config.jwt_issuer,
        config.jwt_audience.as_deref(),
    ));
    let store = Store::open(
        &StoreOptions {
            url: config.database_url.clone(),
            max_connections: config.max_connections,
            acquire_timeout: config.acquire_timeout,
            statement_timeout: config.statement_timeout,
            sqlite_page_cache_mib: crate::store::DEFAULT_PAGE_CACHE_MIB,
        },
        clock,
    )
    .await?;
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;

    let partners: Arc<dyn PartnerDirectory> = Arc::new(store.clone());
    // A statement per few checks, not per check; a quarter of the pool
    // serves them, the rest stays free for everything else.
    let batches_in_flight = (config.max_connections as usize).div_ceil(4);
    let access: Arc<dyn AccessChecker> = Arc::new(CoalescingChecker::new(store.clone(), batches_in_flight));
    let limit = config.max_message_bytes;
    let auth = interceptor(authority.clone());
    let partner_service = InterceptedService::new(
        PartnerServiceServer::new(PartnerApi::new(store.clone()))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
        auth.clone(),
    );
    let customer_service = InterceptedService::new(
        CustomerServiceServer::new(CustomerApi::new(store.clone(), partners.clone(), access.clone()))
            .max_decoding_message_size(limit)
            .max_encoding_message_size(limit),
        auth.clone(),
    );
    let relationship_service = InterceptedService::new(
        RelationshipServiceServer::new(RelationshipApi::new(
            store.clone(),
            partners,
            access,
            config.relationships.clone(),
        ))
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit),
        auth,
    );

    let (health, health_service) = tonic_health::server::health_reporter();
    for name in SERVICE_NAMES {
        health
            .set_service_status(name, tonic_health::ServingStatus::Serving)
            .await;
    }
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    // grpcurl before 1.9 speaks only v1alpha.
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        // So that grpcurl can print ErrorInfo and BadRequest details.
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    let sweeper = tokio::spawn(sweep_periodically(store.clone(), config.sweep_interval));
    let store_health = tokio::spawn(report_store_health(store.health(STORE_PROBE_INTERVAL), health.clone()));
    let metrics = match config.metrics_listen {
        Some(address) => Some(crate::metrics::serve(address, store.connection().clone()).await?),
        None => None,
    };
    let (shutdown, signal) = oneshot::channel::<()>();
    let router = Server::builder()
        .layer(GrpcTraceLayer)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(partner_service)
        .add_service(customer_service)
        .add_service(relationship_service);
    let task = tokio::spawn(router.serve_with_incoming_shutdown(incoming(listener), async {
        let _ = signal.await;
    }));
    Ok(RunningServer {
        addr,
        authority,
        store,
        health,
        shutdown: Some(shutdown),
        task,
        sweeper,
        store_health,
        metrics,
        drain_timeout: config.drain_timeout,
    })
}

/// Accepted connections with Nagle's algorithm off: a unary answer is
/// written as headers, data and trailers, and Nagle would hold the last of
/// them back for the peer's delayed ACK (~40 ms per call).
pub fn incoming(listener: TcpListener) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// D4, I5: records expiries and extensions in the background. Decisions
/// never wait for it: they read the clock.
async fn sweep_periodically(store: Store, every: std::time::Duration) {
    // The first sweep waits a period: decisions never need it.
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match store.sweep().await {
            Ok(report) if report == crate::store::SweepReport::default() => {}
            Ok(report) => tracing::info!(?report, "sweep recorded expiries"),
            Err(error) => tracing::warn!(%error, "sweep failed; retrying at the next tick"),
        }
    }
}

const STORE_PROBE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// W4: NOT_SERVING (overall and per service) while the store does not
/// answer, SERVING again once it does.
async fn report_store_health(mut healthy: tokio::sync::watch::Receiver<bool>, health: HealthReporter) {
    while healthy.changed().await.is_ok() {
        let status = match *healthy.borrow_and_update() {
            true => tonic_health::ServingStatus::Serving,
            false => tonic_health::ServingStatus::NotServing,
        };
        for name in std::iter::once("").chain(SERVICE_NAMES) {
            health.set_service_status(name, status).await;
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn termination() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
