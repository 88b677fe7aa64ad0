//! The test harness: a real server on 127.0.0.1:0 over a fresh SQLite file,
//! called through the generated clients.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use partnercenter::api::pb;
use partnercenter::api::pb::customer_service_client::CustomerServiceClient;
use partnercenter::api::pb::partner_service_client::PartnerServiceClient;
use partnercenter::api::pb::relationship_service_client::RelationshipServiceClient;
use partnercenter::api::pb::webhook_service_client::WebhookServiceClient;
use partnercenter::api::server::{self, RunningServer};
use partnercenter::config::Config;
use partnercenter::domain::clock::{Clock, ManualClock, SystemClock};
use partnercenter::domain::principal::Principal;
use tempfile::TempDir;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Request, Status};
use tonic_types::StatusExt;

pub const SECRET: &str = "test-secret-of-at-least-16-bytes";

/// The PostgreSQL server the suite runs against instead of SQLite, when
/// `PARTNERCENTER_TEST_POSTGRES_URL` names one (its maintenance database,
/// e.g. `postgres://postgres@127.0.0.1:5432/postgres`).
pub fn postgres_admin_url() -> Option<String> {
    std::env::var("PARTNERCENTER_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// A database of the test server, dropped with this guard: a run leaves
/// no `pc_test_*` databases behind.
pub struct TestDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Not here: the test's runtime (one thread) stops only after this
        // returns, and until then a connection its server was opening may sit
        // half-authenticated, which stalls DROP DATABASE cluster-wide for
        // PostgreSQL's authentication_timeout (60 s). The dropper does it
        // once the runtime is gone.
        dropper::drop_later(self.admin_url.clone(), self.name.clone());
    }
}

/// One thread that drops the test databases it is handed, in order, and
/// that the process waits for at exit: every database of a run that ends
/// (passing or failing) is dropped; a killed run's are dropped by the next.
mod dropper {
    use std::io::Write;
    use std::sync::mpsc::{Sender, channel};
    use std::sync::{Mutex, OnceLock};
    use std::thread::JoinHandle;

    struct Dropper {
        queue: Mutex<Option<Sender<(String, String)>>>,
        thread: Mutex<Option<JoinHandle<()>>>,
    }

    static DROPPER: OnceLock<Dropper> = OnceLock::new();

    /// Dropped when the process exits, after every other database: the
    /// template they were copied from.
    static AT_EXIT: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

    pub fn drop_at_exit(admin_url: String, name: String) {
        DROPPER.get_or_init(start);
        AT_EXIT
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((admin_url, name));
    }

    pub fn drop_later(admin_url: String, name: String) {
        let dropper = DROPPER.get_or_init(start);
        let queue = dropper.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if queue
            .as_ref()
            .is_none_or(|queue| queue.send((admin_url, name.clone())).is_err())
        {
            eprintln!("the test database {name} was not dropped");
        }
    }

    fn start() -> Dropper {
        let (queue, jobs) = channel::<(String, String)>();
        let thread = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                eprintln!("the test databases cannot be dropped: no runtime");
                return;
            };
            // Blocking on the queue is fine: this thread runs nothing else.
            while let Ok((admin_url, name)) = jobs.recv() {
                // A backend a killed server left in authentication has no
                // role yet, so FORCE may not end it ("must be a member of
                // the role"): retry until authentication_timeout (60 s) ends it.
                let started = std::time::Instant::now();
                while let Err(error) = runtime.block_on(drop_database(&admin_url, &name)) {
                    // A server that no longer answers took its databases
                    // with it (a test's own cluster, stopped and deleted).
                    if matches!(error, sea_orm::DbErr::Conn(_)) {
                        break;
                    }
                    if started.elapsed() > std::time::Duration::from_secs(70) {
                        // Straight to stderr: the test harness captures
                        // eprintln! of threads a test spawned, and drops it.
                        let _ = writeln!(std::io::stderr(), "the test database {name} was not dropped: {error}");
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_secs(2));
                }
            }
        });
        // SAFETY: `flush` is a plain function that stays valid until exit.
        unsafe { libc::atexit(flush) };
        Dropper {
            queue: Mutex::new(Some(queue)),
            thread: Mutex::new(Some(thread)),
        }
    }

    /// At exit: close the queue and wait until it is drained.
    extern "C" fn flush() {
        let Some(dropper) = DROPPER.get() else { return };
        let last = std::mem::take(&mut *AT_EXIT.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        for (admin_url, name) in last {
            drop_later(admin_url, name);
        }
        drop(
            dropper
                .queue
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take(),
        );
        let thread = dropper
            .thread
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }

    async fn drop_database(admin_url: &str, name: &str) -> Result<(), sea_orm::DbErr> {
        use sea_orm::ConnectionTrait;
        let mut options = sea_orm::ConnectOptions::new(admin_url);
        options
            .connect_timeout(std::time::Duration::from_secs(3))
            .acquire_timeout(std::time::Duration::from_secs(3))
            .sqlx_logging(false);
        let admin = sea_orm::Database::connect(options).await?;
        // FORCE ends the connections of servers not yet stopped.
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        admin.close().await
    }
}

/// Drops the `pc_test_*` databases that earlier runs left (killed before
/// their guards ran), once per run: those whose run (the pid in the name)
/// is no longer a process here. One in use has connections and is not
/// dropped either way (no FORCE).
async fn drop_leftover_databases(admin: &sea_orm::DatabaseConnection) {
    use sea_orm::{ConnectionTrait, Statement};
    let rows = admin
        .query_all_raw(Statement::from_string(
            admin.get_database_backend(),
            "SELECT datname FROM pg_database WHERE datname LIKE 'pc\\_test\\_%'",
        ))
        .await
        .expect("databases listed");
    for row in rows {
        let name: String = row.try_get("", "datname").expect("a name");
        if run_is_alive(&name) {
            continue;
        }
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
            .await;
    }
}

/// Whether the run that made the test database `name`
/// (`pc_test_<pid>_<uuid>`) is still a process on this machine.
fn run_is_alive(name: &str) -> bool {
    let Some(pid) = name
        .strip_prefix("pc_test_")
        .and_then(|rest| rest.split_once('_'))
        .and_then(|(pid, _)| pid.parse::<libc::pid_t>().ok())
    else {
        // An older name without a pid: a run of an earlier version.
        return false;
    };
    if pid == std::process::id() as libc::pid_t {
        return true;
    }
    // SAFETY: signal 0 only asks whether the process exists.
    let found = unsafe { libc::kill(pid, 0) } == 0;
    found || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// A new database on the test server with every migration applied, so
/// tests never share state. It is a copy of a template migrated once per
/// run (`CREATE DATABASE … TEMPLATE`): the migrations' DDL, most of a
/// PostgreSQL test's set-up, runs once, not once per test. A run that was
/// asked for PostgreSQL and cannot reach it fails here.
pub async fn fresh_postgres_database(admin_url: &str) -> TestDatabase {
    static TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    let template = TEMPLATE
        .get_or_init(|| async {
            let template = empty_postgres_database(admin_url).await;
            let db = sea_orm::Database::connect(&template.url)
                .await
                .expect("the template database opens");
            partnercenter::store::migration::up(&db)
                .await
                .expect("the template database migrated");
            db.close().await.expect("template connection closed");
            // Kept until the run ends: its guard would drop it with the
            // first test's runtime.
            let name = template.name.clone();
            std::mem::forget(template);
            dropper::drop_at_exit(admin_url.to_owned(), name.clone());
            name
        })
        .await;
    create_database(admin_url, Some(template)).await
}

/// A new database with nothing in it, for the tests of migrations
/// themselves.
pub async fn empty_postgres_database(admin_url: &str) -> TestDatabase {
    create_database(admin_url, None).await
}

async fn create_database(admin_url: &str, template: Option<&str>) -> TestDatabase {
    use sea_orm::ConnectionTrait;
    static LEFTOVERS_DROPPED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    // The run's pid in the name: a run drops only the leftovers of runs
    // that are gone, not the databases of one going on beside it (two
    // suites at once, or a runner with a process per test).
    let name = format!("pc_test_{}_{}", std::process::id(), uuid::Uuid::now_v7().simple());
    let admin = sea_orm::Database::connect(admin_url).await.unwrap_or_else(|error| {
        panic!(
            "PARTNERCENTER_TEST_POSTGRES_URL is set but unreachable: {error}; see README.md, \"Testing on PostgreSQL\""
        )
    });
    LEFTOVERS_DROPPED.get_or_init(|| drop_leftover_databases(&admin)).await;
    let from = template
        .map(|template| format!(" TEMPLATE {template}"))
        .unwrap_or_default();
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}{from}"))
        .await
        .expect("test database created (the test role needs CREATEDB)");
    admin.close().await.expect("admin connection closed");
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin_url, String::new()),
    };
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    TestDatabase {
        url: format!("{server}/{name}{query}"),
        admin_url: admin_url.to_owned(),
        name,
    }
}

/// Makes `path` a SQLite store with every migration applied: a copy of a
/// template migrated once per run, as `fresh_postgres_database` does, so
/// the migrations' DDL runs once and not in every test's set-up.
pub async fn migrated_sqlite_file(path: &std::path::Path) {
    static TEMPLATE: tokio::sync::OnceCell<std::path::PathBuf> = tokio::sync::OnceCell::const_new();
    static AT_EXIT: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    extern "C" fn remove_template() {
        if let Some(template) = AT_EXIT.get() {
            let _ = std::fs::remove_file(template);
        }
    }
    let template = TEMPLATE
        .get_or_init(|| async {
            let template = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("sqlite-template-{}.db", std::process::id()));
            let _ = std::fs::remove_file(&template);
            let options = partnercenter::store::StoreOptions {
                url: format!("sqlite://{}?mode=rwc", template.display()),
                max_connections: 1,
                acquire_timeout: std::time::Duration::from_secs(30),
                statement_timeout: std::time::Duration::from_secs(30),
                sqlite_page_cache_mib: partnercenter::store::DEFAULT_PAGE_CACHE_MIB,
            };
            let db = partnercenter::store::connect(&options)
                .await
                .expect("the template store opens");
            partnercenter::store::migration::up(&db)
                .await
                .expect("the template store migrated");
            // Closing the last connection checkpoints the WAL into the
            // file: the file alone is then the whole store.
            db.close().await.expect("template connection closed");
            let wal = template.with_extension("db-wal");
            assert!(
                std::fs::metadata(&wal).map_or(true, |wal| wal.len() == 0),
                "the template's WAL was not checkpointed"
            );
            if AT_EXIT.set(template.clone()).is_ok() {
                // SAFETY: a plain function that stays valid until exit.
                unsafe { libc::atexit(remove_template) };
            }
            template
        })
        .await;
    std::fs::copy(template, path).expect("the template store copied");
}

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    pub fn new(token: &str) -> Self {
        Bearer(Some(format!("Bearer {token}").parse().expect("ascii")))
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

pub type Authed = InterceptedService<Channel, Bearer>;
pub type Partners = PartnerServiceClient<Authed>;
pub type Customers = CustomerServiceClient<Authed>;
pub type Relationships = RelationshipServiceClient<Authed>;
pub type Webhooks = WebhookServiceClient<Authed>;

/// Whether the suite runs against the split topology
/// (`PARTNERCENTER_TEST_TOPOLOGY=split`): three servers, one per service,
/// over one store, reaching each other through the generated clients. The
/// same tests, so every rule, reply, error and event is proven the same in
/// both modes.
pub fn split_topology() -> bool {
    std::env::var("PARTNERCENTER_TEST_TOPOLOGY").is_ok_and(|topology| topology == "split")
}

pub struct TestServer {
    /// Embedded: the server. Split: the process of the RelationshipService
    /// (events, access checks, the internal API).
    pub server: RunningServer,
    /// Split: the processes of the PartnerService and the CustomerService.
    pub peers: Vec<RunningServer>,
    /// To `server`.
    pub channel: Channel,
    /// To the process serving each service (all `channel` when embedded).
    pub partner_channel: Channel,
    pub customer_channel: Channel,
    /// Holds the SQLite file until the server is dropped.
    _dir: TempDir,
    pub database_url: String,
    /// Last, so the database is dropped after the servers over it.
    _database: Option<TestDatabase>,
}

async fn connect(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connects")
}

/// The three processes of the split topology over one store, each on a
/// listener bound first so that each knows where the others are.
pub async fn spawn_split(config: &Config, clock: Arc<dyn Clock>) -> (RunningServer, RunningServer, RunningServer) {
    use partnercenter::config::Services;
    let mut listeners = Vec::new();
    for _ in 0..3 {
        listeners.push(tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds"));
    }
    let urls: Vec<String> = listeners
        .iter()
        .map(|listener| format!("http://{}", listener.local_addr().expect("address")))
        .collect();
    let one = |partner, customer, relationship| {
        let mut process = config.clone();
        process.topology.services = Services {
            partner,
            customer,
            relationship,
        };
        process.topology.partner_service_url = (!partner).then(|| urls[0].clone());
        process.topology.customer_service_url = (!customer).then(|| urls[1].clone());
        process.topology.relationship_service_url = (!relationship).then(|| urls[2].clone());
        process
    };
    let mut listeners = listeners.into_iter();
    let mut next = || listeners.next().expect("three listeners");
    let partner = server::spawn_on(next(), &one(true, false, false), clock.clone())
        .await
        .expect("the partner process starts");
    let customer = server::spawn_on(next(), &one(false, true, false), clock.clone())
        .await
        .expect("the customer process starts");
    let relationship = server::spawn_on(next(), &one(false, false, true), clock)
        .await
        .expect("the relationship process starts");
    (partner, customer, relationship)
}

static MPN: AtomicU64 = AtomicU64::new(1_000_000);
static DOMAIN: AtomicU64 = AtomicU64::new(1);

pub fn next_mpn_id() -> String {
    MPN.fetch_add(1, Ordering::Relaxed).to_string()
}

/// A domain no other test uses.
pub fn unique_domain(stem: &str) -> String {
    format!("{stem}{}.cn", DOMAIN.fetch_add(1, Ordering::Relaxed))
}

pub fn operator() -> Principal {
    Principal::Operator { subject: "ops".into() }
}

pub fn service() -> Principal {
    Principal::Service {
        subject: "billing".into(),
    }
}

pub fn partner(id: &str) -> Principal {
    Principal::Partner { partner_id: id.into() }
}

pub fn customer(id: &str) -> Principal {
    Principal::Customer { customer_id: id.into() }
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(Arc::new(SystemClock), Some(SECRET)).await
    }

    /// A server whose clock moves only when the test moves it (D4, I5).
    pub async fn start_with_clock() -> (Self, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(1_800_000_000_000_000));
        (Self::start_with(clock.clone(), Some(SECRET)).await, clock)
    }

    pub async fn start_with(clock: Arc<dyn Clock>, secret: Option<&str>) -> Self {
        Self::start_configured(clock, secret, |_| {}).await
    }

    /// A server whose configuration the test adjusts.
    pub async fn start_configured(
        clock: Arc<dyn Clock>,
        secret: Option<&str>,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        // A generated secret lives beside a SQLite file: without a secret the
        // test is about that zero-setup path, so it stays on SQLite.
        let database = match (postgres_admin_url(), secret) {
            (Some(admin_url), Some(_)) => Some(fresh_postgres_database(&admin_url).await),
            _ => None,
        };
        if database.is_none() && secret.is_some() {
            migrated_sqlite_file(&dir.path().join("pc.db")).await;
        }
        let database_url = database.as_ref().map_or_else(
            || format!("sqlite://{}?mode=rwc", dir.path().join("pc.db").display()),
            |database| database.url.clone(),
        );
        let mut config = Config::default();
        config.server.listen = "127.0.0.1:0".parse().expect("address");
        config.store.database_url = database_url.clone();
        config.store.max_connections = 4;
        config.auth.jwt_secret = secret.map(str::to_owned);
        config.telemetry.metrics_listen = Some("127.0.0.1:0".parse().expect("address"));
        // H2: the tests' receivers listen on 127.0.0.1; every other address
        // stays behind the guard.
        config.webhooks.webhook_allow_hosts = "127.0.0.1".to_owned();
        config.webhooks.webhook_poll = std::time::Duration::from_millis(20);
        adjust(&mut config);
        if split_topology() {
            let (partner, customer, relationship) = spawn_split(&config, clock).await;
            let partner_channel = connect(partner.addr()).await;
            let customer_channel = connect(customer.addr()).await;
            let channel = connect(relationship.addr()).await;
            return TestServer {
                server: relationship,
                peers: vec![partner, customer],
                channel,
                partner_channel,
                customer_channel,
                _dir: dir,
                database_url,
                _database: database,
            };
        }
        let server = server::spawn(&config, clock).await.expect("server starts");
        let channel = connect(server.addr()).await;
        TestServer {
            server,
            peers: Vec::new(),
            partner_channel: channel.clone(),
            customer_channel: channel.clone(),
            channel,
            _dir: dir,
            database_url,
            _database: database,
        }
    }

    /// The channel to the process that serves `name`: a method path
    /// (`/partnercenter.v1.PartnerService/GetPartner`) or a service name.
    pub fn channel_for(&self, name: &str) -> Channel {
        let name = name.trim_start_matches('/');
        if name.starts_with("partnercenter.v1.PartnerService") {
            self.partner_channel.clone()
        } else if name.starts_with("partnercenter.v1.CustomerService") {
            self.customer_channel.clone()
        } else {
            self.channel.clone()
        }
    }

    /// The address of the process that serves `name` (as `channel_for`).
    pub fn addr_of(&self, name: &str) -> std::net::SocketAddr {
        let name = name.trim_start_matches('/');
        let process = if name.starts_with("partnercenter.v1.PartnerService") {
            self.peers.first()
        } else if name.starts_with("partnercenter.v1.CustomerService") {
            self.peers.get(1)
        } else {
            None
        };
        process.unwrap_or(&self.server).addr()
    }

    pub fn token(&self, principal: &Principal) -> String {
        self.server.authority().mint(principal, 3600).expect("token")
    }

    pub fn bearer(&self, principal: &Principal) -> Bearer {
        let value = format!("Bearer {}", self.token(principal)).parse().expect("ascii");
        Bearer(Some(value))
    }

    pub fn partners(&self, principal: &Principal) -> Partners {
        PartnerServiceClient::with_interceptor(self.partner_channel.clone(), self.bearer(principal))
    }

    pub fn customers(&self, principal: &Principal) -> Customers {
        CustomerServiceClient::with_interceptor(self.customer_channel.clone(), self.bearer(principal))
    }

    pub fn relationships(&self, principal: &Principal) -> Relationships {
        RelationshipServiceClient::with_interceptor(self.channel.clone(), self.bearer(principal))
    }

    /// The WebhookService, served by the RelationshipService's process.
    pub fn webhooks(&self, principal: &Principal) -> Webhooks {
        WebhookServiceClient::with_interceptor(self.channel.clone(), self.bearer(principal))
    }

    /// Clients that send the given raw authorization header (or none).
    pub fn partners_with_header(&self, header: Option<&str>) -> Partners {
        let value = header.map(|h| h.parse().expect("ascii"));
        PartnerServiceClient::with_interceptor(self.partner_channel.clone(), Bearer(value))
    }

    /// Creates an ACTIVE partner of the given kind, as the operator.
    pub async fn create_partner(&self, kind: pb::partner::Kind) -> pb::Partner {
        self.partners(&operator())
            .create_partner(create_partner_request(kind))
            .await
            .expect("partner created")
            .into_inner()
    }

    pub async fn set_partner_status(&self, id: &str, status: pb::partner::Status) -> pb::Partner {
        self.partners(&operator())
            .update_partner(pb::UpdatePartnerRequest {
                partner: Some(pb::Partner {
                    id: id.into(),
                    status: status as i32,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["status".into()],
                }),
            })
            .await
            .expect("status set")
            .into_inner()
    }

    pub async fn link(&self, provider_id: &str, reseller_id: &str) -> pb::PartnerLink {
        self.partners(&operator())
            .link_indirect_reseller(pb::LinkIndirectResellerRequest {
                provider_id: provider_id.into(),
                reseller_id: reseller_id.into(),
                request_id: String::new(),
                ..Default::default()
            })
            .await
            .expect("linked")
            .into_inner()
    }

    pub async fn unlink(&self, provider_id: &str, reseller_id: &str) -> pb::PartnerLink {
        self.partners(&operator())
            .unlink_indirect_reseller(pb::UnlinkIndirectResellerRequest {
                provider_id: provider_id.into(),
                reseller_id: reseller_id.into(),
                ..Default::default()
            })
            .await
            .expect("unlinked")
            .into_inner()
    }

    /// Creates a customer as `creator` (operator or partner).
    pub async fn create_customer(
        &self,
        creator: &Principal,
        indirect_reseller_id: Option<&str>,
    ) -> Result<pb::Customer, Status> {
        self.customers(creator)
            .create_customer(customer_request(&unique_domain("tenant"), indirect_reseller_id))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn create_subscription(
        &self,
        caller: &Principal,
        subscription: pb::Subscription,
    ) -> Result<pb::Subscription, Status> {
        self.customers(caller)
            .create_subscription(pb::CreateSubscriptionRequest {
                subscription: Some(subscription),
                request_id: String::new(),
            })
            .await
            .map(|r| r.into_inner())
    }

    /// A partner's invitation, as that partner.
    pub async fn invite(
        &self,
        inviting_partner_id: &str,
        invitation: pb::RelationshipRequest,
    ) -> Result<pb::RelationshipRequest, Status> {
        self.relationships(&partner(inviting_partner_id))
            .create_relationship_request(pb::CreateRelationshipRequestRequest {
                relationship_request: Some(invitation),
                expire_after_days: 0,
                request_id: String::new(),
            })
            .await
            .map(|r| r.into_inner())
    }

    /// The customer's admin accepts by code.
    pub async fn accept(&self, customer_id: &str, code: &str) -> Result<pb::AcceptRelationshipRequestResponse, Status> {
        self.relationships(&customer(customer_id))
            .accept_relationship_request(pb::AcceptRelationshipRequestRequest { code: code.into() })
            .await
            .map(|r| r.into_inner())
    }

    /// The customer's admin grants delegated admin (D1).
    pub async fn grant(
        &self,
        customer_id: &str,
        partner_id: &str,
        service: &str,
        scopes: &[pb::delegated_admin_grant::Scope],
    ) -> Result<pb::GrantDelegatedAdminResponse, Status> {
        self.relationships(&customer(customer_id))
            .grant_delegated_admin(pb::GrantDelegatedAdminRequest {
                partner_id: partner_id.into(),
                service: service.into(),
                scopes: scopes.iter().map(|s| *s as i32).collect(),
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner())
    }

    /// CheckAccess as the service principal.
    pub async fn check(
        &self,
        partner_id: &str,
        customer_id: &str,
        action: pb::check_access_request::Action,
        for_service: &str,
        subscription_id: &str,
    ) -> pb::CheckAccessResponse {
        self.relationships(&service())
            .check_access(pb::CheckAccessRequest {
                partner_id: partner_id.into(),
                customer_id: customer_id.into(),
                action: action as i32,
                service: for_service.into(),
                subscription_id: subscription_id.into(),
                user_id: String::new(),
            })
            .await
            .expect("check answered")
            .into_inner()
    }

    /// Every event appended so far, in seq order.
    pub async fn events(&self) -> Vec<partnercenter::domain::model::Event> {
        self.server.store().events_after(0, 100_000).await.expect("events")
    }
}

/// Every subscription of a customer, as the operator reads them.
pub async fn subscriptions_of(server: &TestServer, customer_id: &str) -> Vec<pb::Subscription> {
    let reply = server
        .customers(&operator())
        .list_subscriptions(pb::ListSubscriptionsRequest {
            customer_id: customer_id.into(),
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("operator lists subscriptions")
        .into_inner();
    assert!(reply.next_page_token.is_empty());
    reply.subscriptions
}

pub fn customer_request(domain: &str, indirect_reseller_id: Option<&str>) -> pb::CreateCustomerRequest {
    pb::CreateCustomerRequest {
        customer: Some(pb::Customer {
            domain: domain.into(),
            company_name: format!("Company of {domain}"),
            billing_contact: Some(pb::BillingContact {
                email: format!("admin@{domain}"),
                first_name: "Li".into(),
                last_name: "Wei".into(),
                culture: "zh-CN".into(),
                language: "zh".into(),
            }),
            ..Default::default()
        }),
        indirect_reseller_id: indirect_reseller_id.unwrap_or_default().into(),
        request_id: String::new(),
    }
}

/// A CSP subscription for `customer_id` with defaults that pass validation.
pub fn csp_subscription(customer_id: &str, partner_of_record_id: &str) -> pb::Subscription {
    pb::Subscription {
        customer_id: customer_id.into(),
        service: "office365".into(),
        offer_name: "Office 365 E3".into(),
        quantity: 10,
        billing: pb::subscription::Billing::License as i32,
        channel: pb::subscription::Channel::Csp as i32,
        partner_of_record_id: partner_of_record_id.into(),
        ..Default::default()
    }
}

pub fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

/// The reasons the rules name, and the canonical codes it names, which are
/// the reason when a `cause` in the metadata says more.
const SPEC_REASONS: &[&str] = &[
    "ENDPOINT_URL_FORBIDDEN",
    "ENDPOINT_LIMIT_REACHED",
    "ROTATION_IN_PROGRESS",
    "AFTER_SEQ_AHEAD",
    "LINK_SIDE_NOT_ALLOWED",
    "LINK_EXPIRED",
    "LINK_NOT_PENDING",
    "LINK_NOT_ACTIVE",
    "LINK_NOT_SUSPENDED",
    "PENDING_LINK_LIMIT_REACHED",
    "INVALID_FIELD",
    "PARTNER_KIND_NOT_ALLOWED",
    "PARTNER_NOT_ACTIVE",
    "RESELLER_NOT_LINKED",
    "NOT_TRANSACTING",
    "NOT_PARTNER_OF_RECORD",
    "INDIRECT_RESELLER_CANNOT_INVITE",
    "INVITATION_NOT_FOUND",
    "INVITATION_REVOKED",
    "INVITATION_EXPIRED",
    "DOMAIN_MISMATCH",
    "ACTIVE_SUBSCRIPTIONS",
    "DOMAIN_TAKEN",
    "SUBSCRIPTION_CANCELLED",
    "ALREADY_PARTNER_OF_RECORD",
    "TRANSFER_PENDING",
    "TRANSFER_STALE",
    "TRANSFER_NOT_PENDING",
    "GLOBAL_ADMIN_NOT_EXTENDABLE",
    "ROLE_NOT_IN_GRANT",
    "GROUP_LIMIT_REACHED",
    "GRANT_NOT_ACTIVE",
    "ASSIGNMENT_LIMIT_REACHED",
    "ASSIGNMENT_NOT_ACTIVE",
    "INVALID_ARGUMENT",
    "UNAUTHENTICATED",
    "PERMISSION_DENIED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "FAILED_PRECONDITION",
    "ABORTED",
    "RESOURCE_EXHAUSTED",
    // Codes whose own name is the reason, with a cause in the metadata.
    "UNAVAILABLE",
    "DEADLINE_EXCEEDED",
    "UNIMPLEMENTED",
    "INTERNAL",
];

/// The most specific reason of a failed call: the ErrorInfo `cause` when
/// there is one, else its `reason`. Checks the domain, and that the reason
/// is one the rules name.
pub fn reason(status: &Status) -> String {
    let info = status
        .get_details_error_info()
        .unwrap_or_else(|| panic!("no ErrorInfo in {status:?}"));
    assert_eq!(info.domain, "partnercenter");
    assert!(
        SPEC_REASONS.contains(&info.reason.as_str()),
        "reason {} is not one the rules name",
        info.reason
    );
    match info.metadata.get("cause") {
        Some(cause) => {
            assert_eq!(
                info.reason,
                code_name(status.code()),
                "a cause refines the code's own name"
            );
            cause.clone()
        }
        None => info.reason,
    }
}

fn code_name(code: Code) -> &'static str {
    match code {
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::Unauthenticated => "UNAUTHENTICATED",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::Unavailable => "UNAVAILABLE",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        _ => "OTHER",
    }
}

/// Asserts a call failed with this code and ErrorInfo reason.
#[track_caller]
pub fn assert_error<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, expected_reason: &str) -> Status {
    let status = match result {
        Ok(value) => panic!("expected {code:?} {expected_reason}, got Ok({value:?})"),
        Err(status) => status,
    };
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(reason(&status), expected_reason, "{status:?}");
    status
}

/// The fields named by the BadRequest of a failed call.
pub fn violated_fields(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|bad| bad.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// The A1 decision the server's access checker makes now, over the real
/// store. (The CheckAccess RPC exposes the same function.)
pub async fn decide(
    server: &TestServer,
    partner_id: &str,
    customer_id: &str,
    action: partnercenter::domain::access::Action,
    service: Option<partnercenter::domain::model::Service>,
    subscription_id: Option<&str>,
) -> partnercenter::domain::access::Decision {
    use partnercenter::domain::ports::AccessChecker;
    server
        .server
        .store()
        .check(&partnercenter::domain::access::AccessQuery {
            partner_id: partner_id.into(),
            customer_id: customer_id.into(),
            action,
            service,
            subscription_id: subscription_id.map(str::to_owned),
            user_id: None,
        })
        .await
        .expect("decision")
}

/// The RelationshipService use cases of this process over the server's
/// store: the local implementation of the trait the server serves.
pub fn local_relationships(server: &TestServer) -> partnercenter::service::relationships::LocalRelationships {
    let store = server.server.store().clone();
    partnercenter::service::relationships::LocalRelationships::new(
        store.clone(),
        Arc::new(partnercenter::service::partners::LocalPartners::new(
            store.clone(),
            Arc::new(partnercenter::service::relationships::consequences::InProcessConsequences),
        )),
        Arc::new(store),
        Default::default(),
    )
}

/// The server's RelationshipService through the generated client, behind
/// the same trait, with tokens minted from the server's secret.
pub fn remote_relationships(server: &TestServer) -> partnercenter::api::RemoteRelationships {
    partnercenter::api::RemoteRelationships::new(remote(server))
}

/// A refusal of the local service, of the remote one, and of the gRPC
/// client are the same domain error (code, reason, message, metadata and
/// violations).
#[track_caller]
pub fn assert_same_refusal(
    local: partnercenter::domain::Error,
    remote: partnercenter::domain::Error,
    wire: Status,
) -> partnercenter::domain::Error {
    let wire = partnercenter::domain::Error::from(wire);
    assert_eq!(remote, local);
    assert_eq!(remote, wire);
    remote
}

/// A caller of this server's services through their generated clients,
/// as another process of the split deployment reaches them: tokens minted
/// from the server's secret and issuer.
pub fn remote(server: &TestServer) -> partnercenter::api::remote::Remote {
    remote_at(server.server.addr())
}

/// The process serving the PartnerService, or the CustomerService.
pub fn partner_remote(server: &TestServer) -> partnercenter::api::remote::Remote {
    remote_at(server.peers.first().unwrap_or(&server.server).addr())
}

pub fn customer_remote(server: &TestServer) -> partnercenter::api::remote::Remote {
    remote_at(server.peers.get(1).unwrap_or(&server.server).addr())
}

fn remote_at(addr: std::net::SocketAddr) -> partnercenter::api::remote::Remote {
    let defaults = Config::default();
    let authority = partnercenter::auth::TokenAuthority::new(
        SECRET.as_bytes(),
        &defaults.auth.jwt_issuer,
        defaults.auth.jwt_audience.as_deref(),
    );
    partnercenter::api::remote::Remote::connect_lazy(&format!("http://{addr}"), Arc::new(authority)).expect("a remote")
}

/// The CustomerService use cases of this process over the server's store,
/// reading partners and decisions through the local services.
pub fn local_customers(server: &TestServer) -> partnercenter::service::customers::LocalCustomers {
    let store = server.server.store().clone();
    partnercenter::service::customers::LocalCustomers::new(
        store.clone(),
        Arc::new(partnercenter::service::partners::LocalPartners::new(
            store.clone(),
            Arc::new(partnercenter::service::relationships::consequences::InProcessConsequences),
        )),
        Arc::new(local_relationships(server)),
        Arc::new(partnercenter::service::relationships::consequences::InProcessConsequences),
    )
}

/// The server's CustomerService through the generated client, behind the
/// same trait, with tokens minted from the server's secret.
pub fn remote_customers(server: &TestServer) -> partnercenter::api::RemoteCustomers {
    partnercenter::api::RemoteCustomers::new(customer_remote(server))
}

/// A well-formed CreatePartner request: a refusal of it is about the
/// caller, never the request (INVALID_ARGUMENT comes first).
pub fn create_partner_request(kind: pb::partner::Kind) -> pb::CreatePartnerRequest {
    pb::CreatePartnerRequest {
        partner: Some(pb::Partner {
            mpn_id: next_mpn_id(),
            display_name: format!("{} {}", kind.as_str_name(), next_mpn_id()),
            kind: kind as i32,
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

// ---------------------------------------------------------------- shared calls

/// A fresh id no row has.
pub fn random_id() -> String {
    partnercenter::store::new_id()
}

/// The seq of the last event appended (0 before the first).
pub async fn last_seq(server: &TestServer) -> i64 {
    server.server.store().last_seq().await.expect("the last seq")
}

/// Runs `call` and asserts it appended no event: no event means no change
/// (E1), so whatever it answered, it wrote nothing.
pub async fn without_change<F: Future>(server: &TestServer, call: F) -> F::Output {
    let before = last_seq(server).await;
    let output = call.await;
    assert_eq!(
        last_seq(server).await,
        before,
        "the call appended events, so it changed something"
    );
    output
}

/// A call refused with this code and ErrorInfo reason that changed nothing
/// (W1: a refused write writes nothing; E1: no change without its event).
pub async fn refused_without_change<T: std::fmt::Debug>(
    server: &TestServer,
    call: impl Future<Output = Result<T, Status>>,
    code: Code,
    expected_reason: &str,
) -> Status {
    let result = without_change(server, call).await;
    assert_error(result, code, expected_reason)
}

/// A DIRECT_RESELLER and the customer it created (C1: a RESELLER
/// relationship and DAP for every service with both scopes).
pub async fn reseller_with_customer(server: &TestServer) -> (pb::Partner, pb::Customer) {
    let reseller = server.create_partner(pb::partner::Kind::DirectReseller).await;
    let created = server
        .create_customer(&partner(&reseller.id), None)
        .await
        .expect("the reseller creates a customer");
    (reseller, created)
}

/// A provider, its linked indirect reseller, and a customer the provider
/// created for that reseller (C1: the provider's RESELLER relationship, the
/// reseller's INDIRECT_RESELLER relationship and the DAP).
pub async fn indirect_chain(server: &TestServer) -> (pb::Partner, pb::Partner, pb::Customer) {
    let provider = server.create_partner(pb::partner::Kind::IndirectProvider).await;
    let reseller = server.create_partner(pb::partner::Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;
    let created = server
        .create_customer(&partner(&provider.id), Some(&reseller.id))
        .await
        .expect("the provider creates a customer for its reseller");
    (provider, reseller, created)
}

/// Everything ListCustomerRelationships shows `who` for the customer, in
/// one page.
pub async fn relationships_listing(
    server: &TestServer,
    who: &Principal,
    customer_id: &str,
) -> pb::ListCustomerRelationshipsResponse {
    let reply = server
        .relationships(who)
        .list_customer_relationships(pb::ListCustomerRelationshipsRequest {
            customer_id: customer_id.into(),
            page_size: 1000,
            page_token: String::new(),
        })
        .await
        .expect("relationships listed")
        .into_inner();
    assert!(reply.next_page_token.is_empty(), "one page holds everything");
    reply
}

/// GrantDelegatedAdmin as `who`.
pub async fn grant_as(
    server: &TestServer,
    who: &Principal,
    request: pb::GrantDelegatedAdminRequest,
) -> Result<pb::GrantDelegatedAdminResponse, Status> {
    server
        .relationships(who)
        .grant_delegated_admin(request)
        .await
        .map(|r| r.into_inner())
}

/// RevokeDelegatedAdmin as `who`.
pub async fn revoke_grant_as(
    server: &TestServer,
    who: &Principal,
    grant_id: &str,
) -> Result<pb::DelegatedAdminGrant, Status> {
    revoke_with_note(server, who, grant_id, "").await
}

/// M3: a partner ends its own RESELLER relationship with the customer.
pub async fn end_relationship(
    server: &TestServer,
    partner_id: &str,
    customer_id: &str,
) -> Result<pb::Relationship, Status> {
    server
        .relationships(&partner(partner_id))
        .end_reseller_relationship(pb::EndResellerRelationshipRequest {
            customer_id: customer_id.into(),
            partner_id: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

/// D3, G4: a revoke with the revoker's note.
pub async fn revoke_with_note(
    server: &TestServer,
    who: &Principal,
    grant_id: &str,
    note: &str,
) -> Result<pb::DelegatedAdminGrant, Status> {
    server
        .relationships(who)
        .revoke_delegated_admin(pb::RevokeDelegatedAdminRequest {
            grant_id: grant_id.into(),
            note: note.into(),
        })
        .await
        .map(|r| r.into_inner())
}

/// CheckAccess as `who`.
pub async fn check_as(
    server: &TestServer,
    who: &Principal,
    request: pb::CheckAccessRequest,
) -> Result<pb::CheckAccessResponse, Status> {
    server
        .relationships(who)
        .check_access(request)
        .await
        .map(|r| r.into_inner())
}

/// GetCustomer as `who`.
pub async fn get_customer(server: &TestServer, who: &Principal, id: &str) -> Result<pb::Customer, Status> {
    server
        .customers(who)
        .get_customer(pb::GetCustomerRequest { id: id.into() })
        .await
        .map(|r| r.into_inner())
}

/// GetSubscription as `who`.
pub async fn get_subscription(server: &TestServer, who: &Principal, id: &str) -> Result<pb::Subscription, Status> {
    server
        .customers(who)
        .get_subscription(pb::GetSubscriptionRequest { id: id.into() })
        .await
        .map(|r| r.into_inner())
}

/// UpdateSubscription of the masked fields as `who`.
pub async fn update_subscription(
    server: &TestServer,
    who: &Principal,
    subscription: pb::Subscription,
    paths: &[&str],
) -> Result<pb::Subscription, Status> {
    server
        .customers(who)
        .update_subscription(pb::UpdateSubscriptionRequest {
            subscription: Some(subscription),
            update_mask: mask(paths),
        })
        .await
        .map(|r| r.into_inner())
}

/// GetRelationshipRequest as `who`.
pub async fn get_invitation(server: &TestServer, who: &Principal, id: &str) -> Result<pb::RelationshipRequest, Status> {
    server
        .relationships(who)
        .get_relationship_request(pb::GetRelationshipRequestRequest { id: id.into() })
        .await
        .map(|r| r.into_inner())
}

/// RevokeRelationshipRequest as `who`.
pub async fn revoke_invitation(
    server: &TestServer,
    who: &Principal,
    id: &str,
) -> Result<pb::RelationshipRequest, Status> {
    server
        .relationships(who)
        .revoke_relationship_request(pb::RevokeRelationshipRequestRequest { id: id.into() })
        .await
        .map(|r| r.into_inner())
}
