//! Assembles and runs the gRPC server: the three services behind the auth
//! interceptor and the server's limits (calls in flight, a deadline), plus
//! health and reflection (open, for grpcurl and probes, and outside the
//! limits so probes answer during a flood). Connections and streams per
//! connection are capped for all.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot, watch};
use tokio::task::JoinHandle;
use tonic::server::NamedService;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Server;
use tonic::transport::server::Connected;
use tonic_health::server::HealthReporter;
use tower::ServiceBuilder;
use tower::limit::{ConcurrencyLimit, GlobalConcurrencyLimitLayer};
use tower::load_shed::LoadShed;
use tower::timeout::Timeout;

use super::ConsequenceApi;
use super::auth::interceptor;
use super::pb::customer_service_server::CustomerServiceServer;
use super::pb::partner_service_server::PartnerServiceServer;
use super::pb::relationship_service_server::RelationshipServiceServer;
use super::pb::webhook_service_server::WebhookServiceServer;
use super::pb_internal::consequence_service_server::ConsequenceServiceServer;
use super::remote::Remote;
use super::trace::GrpcTraceLayer;
use super::{
    CustomerApi, Framing, PartnerApi, RelationshipApi, RemoteCustomers, RemoteInternalRelationships, RemotePartners,
    RemoteRelationships, WebhookApi, pb,
};
pub use crate::BoxError;
use crate::auth::TokenAuthority;
use crate::config::{Config, RelationshipSettings};
use crate::domain::clock::Clock;
use crate::domain::ports::AccessChecker;
use crate::outbound::SecretSealer;
use crate::service::consequences::OutboxConsequences;
use crate::service::contract::consequences::{Consequences, InternalRelationships};
use crate::service::contract::customers::Customers;
use crate::service::contract::partners::Partners;
use crate::service::contract::relationships::Relationships;
use crate::service::customers::LocalCustomers;
use crate::service::partners::LocalPartners;
use crate::service::relationships::LocalRelationships;
use crate::service::relationships::consequences::InProcessConsequences;
use crate::service::webhooks::LocalWebhooks;
use crate::store::{CoalescingChecker, IndexedChecker, Store, StoreOptions};

const SERVICE_NAMES: [&str; 4] = [
    "partnercenter.v1.PartnerService",
    "partnercenter.v1.CustomerService",
    "partnercenter.v1.RelationshipService",
    // Served by the RelationshipService's process (H10).
    "partnercenter.v1.WebhookService",
];

/// A server accepting requests on its own task.
pub struct RunningServer {
    addr: SocketAddr,
    authority: Arc<TokenAuthority>,
    store: Store,
    health: HealthReporter,
    shutdown: Option<oneshot::Sender<()>>,
    stopping: watch::Sender<bool>,
    task: JoinHandle<Result<(), tonic::transport::Error>>,
    sweeper: Option<JoinHandle<()>>,
    relay: Option<JoinHandle<()>>,
    /// H4: the webhook dispatcher, where this process dispatches.
    dispatcher: Option<JoinHandle<()>>,
    store_health: JoinHandle<()>,
    /// The health names this process reports: `""` and its services.
    health_names: Vec<&'static str>,
    /// The access index, where this process decides access from one.
    index: Option<Arc<IndexedChecker>>,
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

    /// The access index this server decides A1 from, if it uses one.
    pub fn access_index(&self) -> Option<&Arc<IndexedChecker>> {
        self.index.as_ref()
    }

    /// Stops accepting, reports NOT_SERVING (the server as a whole, `""`,
    /// which probes ask about, and each service), ends open WatchEvents
    /// streams with UNAVAILABLE and their resume point, lets in-flight
    /// calls finish within the drain timeout, then stops.
    pub async fn shutdown(mut self) {
        for task in self.sweeper.iter().chain(&self.relay).chain(&self.dispatcher) {
            task.abort();
        }
        self.store_health.abort();
        if let Some((_, task)) = &self.metrics {
            task.abort();
        }
        for name in &self.health_names {
            self.health
                .set_service_status(*name, tonic_health::ServingStatus::NotServing)
                .await;
        }
        self.stopping.send_replace(true);
        if let Some(signal) = self.shutdown.take() {
            let _ = signal.send(());
        }
        match tokio::time::timeout(self.drain_timeout, &mut self.task).await {
            Ok(Ok(Ok(()))) => tracing::info!("server drained and stopped"),
            Ok(Ok(Err(error))) => tracing::error!(%error, "server stopped with an error"),
            Ok(Err(error)) => tracing::error!(%error, "server task failed"),
            Err(_) => {
                tracing::warn!(
                    drain_timeout_seconds = self.drain_timeout.as_secs_f64(),
                    "drain timeout passed; closing remaining calls"
                );
                self.task.abort();
            }
        }
    }
}

/// Opens the store (applying migrations), binds the listener and starts
/// serving. `config.server.listen` may use port 0.
pub async fn spawn(config: &Config, clock: Arc<dyn Clock>) -> Result<RunningServer, BoxError> {
    let store = open_store(config, clock).await?;
    let listener = TcpListener::bind(config.server.listen).await.map_err(|error| {
        format!(
            "cannot listen for gRPC on {}: {error}; if another process (another `partnercenter serve`?) holds that port, stop it or choose another address with --listen or PARTNERCENTER_LISTEN",
            config.server.listen
        )
    })?;
    assemble(config, store, listener).await
}

/// As [`spawn`], on a listener already bound (so that the processes of a
/// split deployment can learn each other's addresses first).
pub async fn spawn_on(
    listener: TcpListener,
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<RunningServer, BoxError> {
    let store = open_store(config, clock).await?;
    assemble(config, store, listener).await
}

async fn open_store(config: &Config, clock: Arc<dyn Clock>) -> Result<Store, BoxError> {
    Ok(Store::open(
        &StoreOptions {
            url: config.store.database_url.clone(),
            max_connections: config.store.max_connections,
            acquire_timeout: config.store.acquire_timeout,
            statement_timeout: config.store.statement_timeout,
            sqlite_page_cache_mib: crate::store::DEFAULT_PAGE_CACHE_MIB,
        },
        clock,
    )
    .await?)
}

/// The services of this process, local or remote: each is reached only
/// through its trait, in-process where this process serves it, else
/// through the generated client of the process that does (DOMAIN.md,
/// Deployment).
struct Wiring {
    partners: Arc<dyn Partners>,
    relationships: Arc<dyn Relationships>,
    /// Where this process knows it (local, or a URL was given).
    customers: Option<Arc<dyn Customers>>,
    /// Served here: the local RelationshipService itself (its internal
    /// API, the sweep and the relay).
    local_relationships: Option<Arc<LocalRelationships>>,
}

fn wire(
    config: &Config,
    store: &Store,
    authority: &Arc<TokenAuthority>,
    settings: &RelationshipSettings,
    index: Option<&Arc<IndexedChecker>>,
) -> Result<Wiring, BoxError> {
    let served = config.topology.services;
    let subject = format!("{}-service", served.names().replace(',', "+"));
    let peer = |url: &Option<String>, flag: &str| -> Result<Remote, BoxError> {
        let url = url
            .as_deref()
            .ok_or_else(|| format!("no URL for a service this process does not serve: set {flag}"))?;
        Ok(Remote::connect_lazy(url, authority.clone())?)
    };
    // C1, S1 and D2 on reinstatement are the relationship service's rows.
    let consequences: Arc<dyn Consequences> = if served.relationship {
        Arc::new(InProcessConsequences)
    } else {
        let owner = RemoteInternalRelationships::new(
            peer(&config.topology.relationship_service_url, "--relationship-service-url")?,
            &subject,
        );
        Arc::new(OutboxConsequences::new(store.clone(), Arc::new(owner)))
    };
    let local_partners: Option<Arc<dyn Partners>> = served
        .partner
        .then(|| Arc::new(LocalPartners::new(store.clone(), consequences.clone())) as Arc<dyn Partners>);
    let partners: Arc<dyn Partners> = match &local_partners {
        Some(local) => local.clone(),
        None => Arc::new(RemotePartners::new(peer(
            &config.topology.partner_service_url,
            "--partner-service-url",
        )?)),
    };
    let local_relationships = if served.relationship {
        let access: Arc<dyn AccessChecker> = match index {
            Some(index) => index.clone(),
            None => {
                // A statement per few checks, not per check; a quarter of
                // the pool serves them, the rest stays free for the others.
                let batches_in_flight = (config.store.max_connections as usize).div_ceil(4);
                Arc::new(CoalescingChecker::new(store.clone(), batches_in_flight))
            }
        };
        Some(Arc::new(LocalRelationships::new(
            store.clone(),
            partners.clone(),
            access,
            settings.clone(),
        )))
    } else {
        None
    };
    let relationships: Arc<dyn Relationships> = match &local_relationships {
        Some(local) => local.clone(),
        None => Arc::new(RemoteRelationships::new(peer(
            &config.topology.relationship_service_url,
            "--relationship-service-url",
        )?)),
    };
    let local_customers: Option<Arc<dyn Customers>> = served.customer.then(|| {
        Arc::new(LocalCustomers::new(
            store.clone(),
            partners.clone(),
            relationships.clone(),
            consequences,
        )) as Arc<dyn Customers>
    });
    let customers = match (&local_customers, &config.topology.customer_service_url) {
        (Some(local), _) => Some(local.clone()),
        (None, Some(_)) => Some(Arc::new(RemoteCustomers::new(peer(
            &config.topology.customer_service_url,
            "--customer-service-url",
        )?)) as Arc<dyn Customers>),
        (None, None) => None,
    };
    Ok(Wiring {
        partners,
        relationships,
        customers,
        local_relationships,
    })
}

/// H2, H5, H6: the WebhookService over this store (its sealer, with the
/// key derived from configuration, and its HTTP client behind the SSRF
/// guard) and, where this process dispatches, its dispatcher's task.
fn webhooks(
    config: &Config,
    store: &Store,
    partners: Arc<dyn Partners>,
    sealer: Arc<SecretSealer>,
) -> Result<(Arc<LocalWebhooks>, Option<JoinHandle<()>>), BoxError> {
    use crate::outbound::{ClientOptions, WebhookClient};
    use crate::service::webhooks::{DispatchSettings, Dispatcher};
    let allow_hosts = config.webhooks.allow_hosts();
    let client = Arc::new(
        WebhookClient::new(ClientOptions {
            allow_hosts: allow_hosts.clone(),
            timeout: config.webhooks.webhook_timeout,
        })
        .map_err(|why| format!("cannot build the webhook HTTP client: {why}"))?,
    );
    let dispatcher = if config.webhooks.webhook_dispatch {
        let dispatcher = Dispatcher::new(
            store.clone(),
            partners.clone(),
            sealer.clone(),
            client.clone(),
            Arc::new(super::ProtoJsonEvents::new()?),
            DispatchSettings {
                retry_schedule: config.webhooks.retry_schedule(),
                jitter: config.webhooks.webhook_jitter,
                disable_after: config.webhooks.webhook_disable_after,
                poll: config.webhooks.webhook_poll,
                lease: config.webhooks.webhook_lease,
            },
        );
        Some(tokio::spawn(Arc::new(dispatcher).run()))
    } else {
        None
    };
    let local = LocalWebhooks::new(store.clone(), partners, sealer, client);
    Ok((Arc::new(local), dispatcher))
}

/// H5, I3: the sealer of webhook secrets and invitation codes, its key
/// derived from configuration.
fn sealer(config: &Config) -> Result<Arc<SecretSealer>, BoxError> {
    Ok(Arc::new(
        SecretSealer::from_key(&config.webhook_key_material()?).map_err(|why| {
            format!("cannot seal webhook secrets and invitation codes: {why}; check webhook_secret_key")
        })?,
    ))
}

async fn assemble(config: &Config, store: Store, listener: TcpListener) -> Result<RunningServer, BoxError> {
    let authority = Arc::new(config.token_authority()?);
    let sealer = sealer(config)?;
    let store = store.with_secret_box(sealer.clone());
    let addr = listener.local_addr()?;
    let served = config.topology.services;
    if served.relationship {
        let sealed = store.seal_legacy_codes().await?;
        if sealed > 0 {
            tracing::info!(
                sealed,
                "sealed the codes of invitations stored before codes were kept sealed"
            );
        }
    }
    let limit = config.server.max_message_bytes;
    let auth = interceptor(authority.clone());
    // One budget of calls in flight for the services together; health
    // and reflection stay outside it, so probes answer during a flood.
    let in_flight = Arc::new(Semaphore::new(config.server.max_in_flight_rpcs));
    // Tells open streams the server is shutting down.
    let (stopping, _) = watch::channel(false);
    let relationship_settings = RelationshipSettings {
        shutdown: stopping.subscribe(),
        ..config.relationships.clone()
    };
    // A1 from memory where this process decides access (A3 holds: see
    // `store::IndexedChecker`).
    if config.store.sole_writer {
        store.claim_sole_writer()?;
    }
    let index = if served.relationship && config.relationships.access_index {
        Some(
            IndexedChecker::load(
                store.clone(),
                config.store.sole_writer,
                config.relationships.access_index_customers,
            )
            .await?,
        )
    } else {
        None
    };
    let wiring = wire(config, &store, &authority, &relationship_settings, index.as_ref())?;
    // Tonic and the limits around one generated server; W3: the framing
    // check wraps the rest, so it sees every answer.
    macro_rules! guarded {
        ($server:expr) => {
            Framing::new(InterceptedService::new(
                Guarded::new(
                    $server
                        .max_decoding_message_size(limit)
                        .max_encoding_message_size(limit),
                    in_flight.clone(),
                    config.server.rpc_timeout,
                ),
                auth.clone(),
            ))
        };
    }
    // Every public service this process knows is answered here: its own,
    // and in the split deployment the others' too, passed through their
    // generated clients, so a client (or the README's walkthrough) may use
    // any one process as its single endpoint.
    let partner_service = guarded!(PartnerServiceServer::new(PartnerApi::new(wiring.partners.clone())));
    let customer_service = wiring
        .customers
        .clone()
        .map(|customers| guarded!(CustomerServiceServer::new(CustomerApi::new(customers))));
    let relationship_service = guarded!(RelationshipServiceServer::new(RelationshipApi::new(
        wiring.relationships.clone(),
        &relationship_settings
    )));
    // H10: webhooks are the RelationshipService process's.
    let (local_webhooks, dispatcher) = if served.relationship {
        let (local, dispatcher) = webhooks(config, &store, wiring.partners.clone(), sealer.clone())?;
        (Some(local), dispatcher)
    } else {
        (None, None)
    };
    let webhook_service = local_webhooks.map(|local| {
        guarded!(WebhookServiceServer::new(WebhookApi::new(
            local as Arc<dyn crate::service::contract::webhooks::Webhooks>,
            config.webhooks.allow_hosts()
        )))
    });
    // The internal API: only where the other services are elsewhere.
    let internal_service = wiring
        .local_relationships
        .clone()
        .filter(|_| !served.all())
        .map(|local| {
            guarded!(ConsequenceServiceServer::new(ConsequenceApi::new(
                local as Arc<dyn InternalRelationships>
            )))
        });

    let health_names: Vec<&'static str> = std::iter::once("")
        .chain(
            [
                (served.partner, SERVICE_NAMES[0]),
                (served.customer, SERVICE_NAMES[1]),
                (served.relationship, SERVICE_NAMES[2]),
                (served.relationship, SERVICE_NAMES[3]),
            ]
            .into_iter()
            .filter_map(|(serves, name)| serves.then_some(name)),
        )
        .collect();
    let (health, health_service) = tonic_health::server::health_reporter();
    for name in &health_names {
        health
            .set_service_status(*name, tonic_health::ServingStatus::Serving)
            .await;
    }
    let reflection = |internal: bool| {
        let builder = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            // So that grpcurl can print ErrorInfo and BadRequest details.
            .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET);
        if internal {
            builder.register_encoded_file_descriptor_set(super::pb_internal::FILE_DESCRIPTOR_SET)
        } else {
            builder
        }
    };
    let reflection_v1 = reflection(internal_service.is_some()).build_v1()?;
    // grpcurl before 1.9 speaks only v1alpha.
    let reflection_v1alpha = reflection(internal_service.is_some()).build_v1alpha()?;

    // D4, I5 and the relay of the outbox: the relationship service's rows.
    let sweeper = served
        .relationship
        .then(|| tokio::spawn(sweep_periodically(store.clone(), config.relationships.sweep_interval)));
    let relay = wiring
        .local_relationships
        .clone()
        .map(|local| tokio::spawn(relay_periodically(local)));
    let store_health = tokio::spawn(report_store_health(
        store.health(STORE_PROBE_INTERVAL),
        health.clone(),
        health_names.clone(),
    ));
    let metrics = match config.telemetry.metrics_listen {
        Some(address) => Some(
            crate::metrics::serve(address, {
                let store = store.clone();
                move || store.pool_stats()
            })
            .await
                .map_err(|error| {
                    format!(
                        "cannot serve /metrics on {address}: {error}; another process (another `partnercenter serve`?) may hold that port: give each server its own --metrics-listen ADDR (or PARTNERCENTER_METRICS_LISTEN), or \"off\""
                    )
                })?,
        ),
        None => None,
    };
    let (shutdown, signal) = oneshot::channel::<()>();
    let router = Server::builder()
        .max_concurrent_streams(config.server.max_concurrent_streams)
        .layer(GrpcTraceLayer::new(config.server.rpc_timeout))
        .layer(super::DetailedUnimplementedLayer)
        .add_service(EndOnShutdown {
            inner: health_service,
            stopping: stopping.subscribe(),
        })
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(partner_service)
        .add_optional_service(customer_service)
        .add_service(relationship_service)
        .add_optional_service(webhook_service)
        .add_optional_service(internal_service);
    let task = tokio::spawn(router.serve_with_incoming_shutdown(
        limited_incoming(listener, config.server.max_client_connections),
        async {
            let _ = signal.await;
        },
    ));
    tracing::debug!(services = %served.names(), %addr, "services assembled");
    Ok(RunningServer {
        addr,
        authority,
        store,
        health,
        shutdown: Some(shutdown),
        stopping,
        task,
        sweeper,
        relay,
        dispatcher,
        store_health,
        health_names,
        metrics,
        index,
        drain_timeout: config.server.drain_timeout,
    })
}

/// Accepted connections with Nagle's algorithm off (a unary answer is
/// written as headers, data and trailers, and Nagle would hold the last of
/// them back for the peer's delayed ACK, ~40 ms per call), at most `max`
/// at once: past it the listener stops accepting and new clients wait in
/// the kernel's backlog until a connection closes.
pub fn limited_incoming(
    listener: TcpListener,
    max: usize,
) -> impl tokio_stream::Stream<Item = std::io::Result<Permitted<TcpStream>>> {
    let permits = Arc::new(Semaphore::new(max.max(1)));
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        loop {
            // The server drops the receiver on shutdown: stop accepting
            // then, and close the listening socket.
            let permit = tokio::select! {
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return,
                },
                () = sender.closed() => return,
            };
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = sender.closed() => return,
            };
            let item = accepted.map(|(stream, _)| {
                if let Err(error) = stream.set_nodelay(true) {
                    tracing::debug!(%error, "TCP_NODELAY not set");
                }
                Permitted {
                    io: stream,
                    _permit: permit,
                }
            });
            if sender.send(item).await.is_err() {
                return;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(receiver)
}

pin_project_lite::pin_project! {
    /// A connection holding one of the server's connection permits.
    pub struct Permitted<IO> {
        #[pin]
        io: IO,
        _permit: OwnedSemaphorePermit,
    }
}

impl<IO: Connected> Connected for Permitted<IO> {
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

impl<IO: AsyncRead> AsyncRead for Permitted<IO> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        self.project().io.poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite> AsyncWrite for Permitted<IO> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.project().io.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().io.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.project().io.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// One of the three services behind the server's limits: calls beyond the
/// shared in-flight budget are shed at once (RESOURCE_EXHAUSTED, so the
/// client backs off and retries rather than queueing), and a call running
/// past the server's deadline is answered DEADLINE_EXCEEDED. Both carry an
/// ErrorInfo.
#[derive(Clone)]
pub struct Guarded<S> {
    inner: LoadShed<ConcurrencyLimit<Timeout<S>>>,
}

impl<S> Guarded<S> {
    pub fn new(service: S, in_flight: Arc<Semaphore>, deadline: Duration) -> Self {
        Guarded {
            inner: ServiceBuilder::new()
                .load_shed()
                .layer(GlobalConcurrencyLimitLayer::with_semaphore(in_flight))
                .timeout(deadline)
                .service(service),
        }
    }
}

impl<S: NamedService> NamedService for Guarded<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, RequestBody> tower::Service<http::Request<RequestBody>> for Guarded<S>
where
    S: tower::Service<http::Request<RequestBody>, Response = http::Response<tonic::body::Body>> + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // The generated servers are always ready; LoadShed turns a full
        // budget into an error of `call`, so this is never Pending.
        match self.inner.poll_ready(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(_) => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        let call = self.inner.call(request);
        Box::pin(async move {
            Ok(match call.await {
                Ok(response) => response,
                Err(error) => limit_status(error).into_http(),
            })
        })
    }
}

/// Health's Watch streams never end by themselves: on shutdown, once they
/// have carried NOT_SERVING, they end with UNAVAILABLE instead of holding
/// the drain (clients' health checking keeps one open per connection).
#[derive(Clone)]
struct EndOnShutdown<S> {
    inner: S,
    stopping: watch::Receiver<bool>,
}

impl<S: NamedService> NamedService for EndOnShutdown<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, RequestBody> tower::Service<http::Request<RequestBody>> for EndOnShutdown<S>
where
    S: tower::Service<
            http::Request<RequestBody>,
            Response = http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        >,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        let mut stopping = self.stopping.clone();
        let call = self.inner.call(request);
        Box::pin(async move {
            let response = call.await?;
            let stopped: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
                // A server that is dropped without shutting down: never.
                let dropped = stopping.wait_for(|stopping| *stopping).await.is_err();
                if dropped {
                    std::future::pending::<()>().await;
                }
            });
            Ok(response.map(|body| {
                tonic::body::Body::new(EndingBody {
                    inner: body,
                    stopped,
                    ended: false,
                })
            }))
        })
    }
}

pin_project_lite::pin_project! {
    /// A response body that ends with UNAVAILABLE once the server stops,
    /// when it has nothing more to send.
    struct EndingBody<B> {
        #[pin]
        inner: B,
        stopped: Pin<Box<dyn Future<Output = ()> + Send>>,
        ended: bool,
    }
}

impl<B: http_body::Body> http_body::Body for EndingBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        let this = self.project();
        if *this.ended {
            return Poll::Ready(None);
        }
        // What the stream has (NOT_SERVING among it) goes out first.
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if this.stopped.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        *this.ended = true;
        let status: tonic::Status = crate::domain::Error::new(
            crate::domain::ErrorCode::Unavailable,
            crate::domain::Reason::ShuttingDown,
            "the server is shutting down",
        )
        .into();
        let mut trailers = http::HeaderMap::new();
        if status.add_header(&mut trailers).is_err() {
            trailers.insert("grpc-status", http::HeaderValue::from_static("14"));
        }
        Poll::Ready(Some(Ok(http_body::Frame::trailers(trailers))))
    }

    fn is_end_stream(&self) -> bool {
        self.ended || self.inner.is_end_stream()
    }
}

/// The answer of a call the limits stopped.
fn limit_status(error: BoxError) -> tonic::Status {
    use crate::domain::{Error, ErrorCode, Reason};
    let error = if error.is::<tower::load_shed::error::Overloaded>() {
        Error::new(
            ErrorCode::ResourceExhausted,
            Reason::Overloaded,
            "the server is at its limit of calls in flight; retry with backoff",
        )
    } else if error.is::<tower::timeout::error::Elapsed>() {
        Error::new(
            ErrorCode::DeadlineExceeded,
            Reason::Timeout,
            "the call ran past the server's deadline",
        )
    } else {
        Error::internal(format!("the service failed: {error}"))
    };
    error.into()
}

/// How often the sweeper refreshes the SQLite planner's statistics.
const OPTIMIZE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

/// D4, I5: records expiries and extensions in the background. Decisions
/// never wait for it: they read the clock.
async fn sweep_periodically(store: Store, every: std::time::Duration) {
    // The first sweep waits a period: decisions never need it.
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut optimized: Option<tokio::time::Instant> = None;
    loop {
        ticks.tick().await;
        // Planner statistics, at the first tick and then hourly: cheap, and
        // a store that grew under stale ones has its lists scanned whole.
        if optimized.is_none_or(|at| at.elapsed() >= OPTIMIZE_INTERVAL) {
            optimized = Some(tokio::time::Instant::now());
            if let Err(error) = store.optimize().await {
                tracing::warn!(%error, "updating the planner's statistics failed; retrying in an hour");
            }
        }
        match store.sweep().await {
            Ok(report) if report == crate::store::SweepReport::default() => {}
            Ok(report) => tracing::info!(
                grants_expired = report.grants_expired,
                grants_extended = report.grants_extended,
                grants_noticed = report.grants_noticed,
                transfers_expired = report.transfers_expired,
                invitations_expired = report.invitations_expired,
                links_expired = report.links_expired,
                relationships_handed_over = report.relationships_handed_over,
                "sweep recorded expiries"
            ),
            Err(error) => tracing::warn!(%error, "sweep failed; retrying at the next tick"),
        }
    }
}

const STORE_PROBE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// The outbox relay (split deployment): carries out every consequence no
/// call asked for, e.g. of a write whose process stopped right after its
/// commit. Runs where the relationship service is served.
async fn relay_periodically(relationships: Arc<LocalRelationships>) {
    let mut ticks = tokio::time::interval(RELAY_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match relationships.relay_pending().await {
            Ok(0) => {}
            Ok(done) => tracing::info!(carried_out = done, "relay carried out pending consequences"),
            Err(error) => tracing::warn!(%error, "relay failed; retrying at the next tick"),
        }
    }
}

const RELAY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// W4: NOT_SERVING (overall and per service) while the store does not
/// answer, SERVING again once it does.
async fn report_store_health(
    mut healthy: tokio::sync::watch::Receiver<bool>,
    health: HealthReporter,
    names: Vec<&'static str>,
) {
    while healthy.changed().await.is_ok() {
        let status = match *healthy.borrow_and_update() {
            true => tonic_health::ServingStatus::Serving,
            false => tonic_health::ServingStatus::NotServing,
        };
        for name in &names {
            health.set_service_status(*name, status).await;
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C. The handlers are installed when this is
/// called, not when the future is first polled: a signal that arrives right
/// after the server says it is serving must drain it, not kill it.
pub fn termination() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let interrupt = signal(SignalKind::interrupt());
        async move {
            match (term, interrupt) {
                (Ok(mut term), Ok(mut interrupt)) => {
                    tokio::select! {
                        _ = term.recv() => {},
                        _ = interrupt.recv() => {},
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
