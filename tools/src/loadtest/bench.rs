//! `partnercenter-load bench`: calibrates the service on this machine in one go.
//!
//! - the ceiling: a trivial unary call (grpc.health.v1 Check, answered from
//!   memory) served by the very `serve` process the scenarios run against,
//!   so with the same server, settings and layers, driven by the same engine;
//! - the raw commit rate: one-row write transactions through a pool with the
//!   service's SQLite settings (WAL, synchronous=FULL, BEGIN IMMEDIATE, one
//!   writer at a time as the service's writes are);
//! - each scenario against that `serve`, a child process of this one (as in
//!   production, the load generator does not share its runtime), over a
//!   temporary SQLite file it seeds through the API, or over an existing
//!   store (--store, e.g. one made by `partnercenter-load seed`); and, with
//!   --target, against a running server; with --topology split, over a
//!   store `migrate` prepared, one `serve` per service, each call sent to
//!   its service's process (the ceiling to the relationship process's);
//! - the server's peak RSS.
//!
//! Machines running this are noisy, so each scenario is measured right
//! after its reference (ceiling, scenario, ceiling, scenario, …) for
//! several rounds, and medians are reported.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpListener;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use super::client::{self, Auth, Channels, Targets};
use super::engine::{self, Outcome, Plan, RunStats, Workload};
use super::report::{Latency, median};
use super::scenarios::{Ctx, Scenario, ScenarioLoad, outcome};
use super::webhooks;
use super::{BenchArgs, Topology, dataset, random_seed};
use partnercenter::BoxError;
use partnercenter::config::Config;
use partnercenter::store::StoreOptions;
use partnercenter::store::probe::CommitProbe;

/// The ceiling: grpc.health.v1 Check on the server, answered from memory.
struct Echo {
    channels: Vec<Channel>,
}

impl Workload for Echo {
    type State = HealthClient<Channel>;

    fn state(&self, worker: usize) -> Self::State {
        HealthClient::new(self.channels[worker % self.channels.len()].clone())
    }

    async fn call(&self, client: &mut Self::State) -> Outcome {
        let reply = client.check(HealthCheckRequest { service: String::new() }).await;
        outcome("HealthCheck", reply)
    }
}

/// One-row write transactions on a scratch table: what SQLite can commit
/// with the service's durability, before any of the service's own work.
struct RawCommit {
    probe: CommitProbe,
}

impl RawCommit {
    async fn open(url: String, config: &Config) -> Result<Self, BoxError> {
        let probe = CommitProbe::open(&StoreOptions {
            url,
            max_connections: config.store.max_connections,
            acquire_timeout: config.store.acquire_timeout,
            statement_timeout: config.store.statement_timeout,
            sqlite_page_cache_mib: partnercenter::store::DEFAULT_PAGE_CACHE_MIB,
        })
        .await?;
        Ok(RawCommit { probe })
    }
}

impl Workload for RawCommit {
    type State = ();

    fn state(&self, _worker: usize) {}

    async fn call(&self, _state: &mut ()) -> Outcome {
        let result = self.probe.commit_one().await.map_err(|error| {
            tracing::warn!(%error, "raw commit failed");
            tonic::Code::Internal
        });
        ("RawCommit", result)
    }
}

/// How the bench starts its `partnercenter` children: over one store, with
/// one secret, without a config file or a metrics listener.
struct Launcher {
    /// The `partnercenter` binary.
    server_bin: std::path::PathBuf,
    database_url: String,
    /// The JWT secret to give them; without, they keep theirs beside the
    /// SQLite file.
    secret: Option<String>,
    max_connections: Option<u32>,
}

impl Launcher {
    fn command(&self, subcommand: &str) -> Result<tokio::process::Command, BoxError> {
        let mut command = tokio::process::Command::new(&self.server_bin);
        command
            .arg(subcommand)
            .arg("--database-url")
            .arg(&self.database_url)
            .env("PARTNERCENTER_METRICS_LISTEN", "off")
            // The webhook measurement's receiver listens on 127.0.0.1.
            .env("PARTNERCENTER_WEBHOOK_ALLOW_HOSTS", "127.0.0.1")
            // Per-call info lines would be measured too (RUST_LOG=info
            // measures them).
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .env_remove("PARTNERCENTER_CONFIG")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        match &self.secret {
            Some(secret) => command.env("PARTNERCENTER_JWT_SECRET", secret),
            None => command.env_remove("PARTNERCENTER_JWT_SECRET"),
        };
        if let Some(connections) = self.max_connections {
            command.env("PARTNERCENTER_MAX_CONNECTIONS", connections.to_string());
        }
        Ok(command)
    }

    /// `partnercenter migrate`, to its end.
    async fn migrate(&self) -> Result<(), BoxError> {
        let status = self.command("migrate")?.status().await?;
        if !status.success() {
            return Err(format!("migrate failed: {status}").into());
        }
        Ok(())
    }

    /// `partnercenter serve` on `addr` with `flags`, once it reports
    /// SERVING.
    async fn serve(&self, addr: SocketAddr, flags: &[String]) -> Result<ServeProcess, BoxError> {
        let child = self
            .command("serve")?
            .arg("--listen")
            .arg(addr.to_string())
            .args(flags)
            .spawn()?;
        serving(child, addr).await
    }
}

/// `given`, or the `partnercenter` binary beside this one (both land in
/// the same target directory).
fn server_bin(given: Option<&std::path::Path>) -> Result<std::path::PathBuf, BoxError> {
    let path = match given {
        Some(path) => path.to_owned(),
        None => std::env::current_exe()?.with_file_name(format!("partnercenter{}", std::env::consts::EXE_SUFFIX)),
    };
    if !path.is_file() {
        return Err(format!(
            "no partnercenter binary at {}: build it first (`cargo build --release` builds both), or give --server-bin",
            path.display()
        )
        .into());
    }
    Ok(path)
}

/// The bare tonic echo: `partnercenter-load echo-server`, a minimal tonic 0.14
/// server answering grpc.health.v1 Check with the server's transport
/// settings and nothing else (no auth, limits, tracing, metrics or store),
/// as a second reference beside the service's own health Check.
async fn bare_echo(addr: SocketAddr) -> Result<ServeProcess, BoxError> {
    let child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("echo-server")
        .arg("--listen")
        .arg(addr.to_string())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    serving(child, addr).await
}

/// `child`, once it reports SERVING on `addr`.
async fn serving(mut child: tokio::process::Child, addr: SocketAddr) -> Result<ServeProcess, BoxError> {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            return Err(format!("the server on {addr} exited before serving: {status}").into());
        }
        if started.elapsed() > Duration::from_secs(120) {
            return Err(format!("the server on {addr} did not report SERVING within 120s").into());
        }
        if let Ok(channel) = Channel::from_shared(format!("http://{addr}"))?.connect().await {
            let reply = HealthClient::new(channel)
                .check(HealthCheckRequest { service: String::new() })
                .await;
            if reply.is_ok_and(|reply| reply.get_ref().status == 1) {
                return Ok(ServeProcess { child, addr });
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Loopback addresses of ports the kernel just handed out and took back:
/// free, and distinct since held at once.
async fn free_ports<const N: usize>() -> Result<[SocketAddr; N], BoxError> {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut listeners = Vec::with_capacity(N);
    for _ in 0..N {
        listeners.push(TcpListener::bind(loopback).await?);
    }
    let mut addrs = [loopback; N];
    for (addr, listener) in addrs.iter_mut().zip(&listeners) {
        *addr = listener.local_addr()?;
    }
    Ok(addrs)
}

/// `partnercenter serve`, a child process of this one.
struct ServeProcess {
    child: tokio::process::Child,
    addr: SocketAddr,
}

impl ServeProcess {
    /// Peak resident memory so far (Linux), in MiB.
    fn peak_rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()?)).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    }

    /// SIGTERM, so it drains and stops as in production; killed if it
    /// takes longer than its drain.
    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
        if tokio::time::timeout(Duration::from_secs(35), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// The server under test: one `serve` with the three services (embedded),
/// or, over a migrated store, one per service (split), each under the
/// services it serves.
struct Deployment {
    topology: Topology,
    processes: Vec<(&'static str, ServeProcess)>,
    targets: Targets,
}

impl Deployment {
    /// Should a start fail, the processes already started are dropped,
    /// which kills them (kill_on_drop).
    async fn start(topology: Topology, launcher: &Launcher) -> Result<Self, BoxError> {
        let mut processes = Vec::new();
        let targets = match topology {
            Topology::Embedded => {
                let [addr] = free_ports().await?;
                processes.push(("all", launcher.serve(addr, &[]).await?));
                Targets::one(addr)
            }
            Topology::Split => {
                launcher.migrate().await?;
                let [partner, customer, relationship] = free_ports().await?;
                let peers = [
                    ("--partner-service-url", partner),
                    ("--customer-service-url", customer),
                    ("--relationship-service-url", relationship),
                ];
                // One at a time: over a store without a secret, the first
                // makes the secret file the others read.
                for (services, addr) in [
                    ("partner", partner),
                    ("customer", customer),
                    ("relationship", relationship),
                ] {
                    let mut flags = vec!["--services".to_owned(), services.to_owned()];
                    for (flag, peer) in peers {
                        flags.extend([flag.to_owned(), format!("http://{peer}")]);
                    }
                    processes.push((services, launcher.serve(addr, &flags).await?));
                }
                Targets {
                    partner,
                    customer,
                    relationship,
                }
            }
        };
        for (services, process) in &processes {
            let which = match topology {
                Topology::Embedded => String::new(),
                Topology::Split => format!(" --services {services}"),
            };
            eprintln!(
                "bench: serve{which} (pid {}) on {} over {}",
                process.child.id().unwrap_or_default(),
                process.addr,
                launcher.database_url,
            );
        }
        Ok(Deployment {
            topology,
            processes,
            targets,
        })
    }

    /// What the report says of it.
    fn describe(&self) -> String {
        match self.topology {
            Topology::Embedded => format!("embedded (one serve on {})", self.targets.relationship),
            Topology::Split => {
                let processes: Vec<String> = self
                    .processes
                    .iter()
                    .map(|(services, process)| format!("{services} on {}", process.addr))
                    .collect();
                format!(
                    "split ({}; the ceiling and the checks on the relationship process)",
                    processes.join(", ")
                )
            }
        }
    }

    fn peak_rss_mib(&self) -> Vec<(&'static str, Option<f64>)> {
        self.processes
            .iter()
            .map(|(services, process)| (*services, process.peak_rss_mib()))
            .collect()
    }

    async fn stop(self) {
        for (_, process) in self.processes {
            process.stop().await;
        }
    }
}

/// One measured run, reduced to what the table shows.
#[derive(Clone, Debug, Serialize)]
struct RunFigures {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    calls: u64,
    failed: u64,
}

impl RunFigures {
    /// Deliveries as a run: those of `owed` that did not arrive failed.
    fn delivered(got: &webhooks::Delivered, owed: u64) -> Self {
        RunFigures {
            per_second: got.per_second,
            p50_ms: got.p50_ms,
            p99_ms: got.p99_ms,
            calls: got.count as u64,
            failed: owed.saturating_sub(got.count as u64),
        }
    }

    fn of(stats: &RunStats) -> Result<Self, BoxError> {
        let latency = Latency::of(&stats.total()?.latency);
        Ok(RunFigures {
            per_second: stats.throughput(),
            p50_ms: latency.p50,
            p99_ms: latency.p99,
            calls: stats.calls(),
            failed: stats.failed(),
        })
    }
}

/// A line of the table: one measurement over the rounds.
#[derive(Debug, Serialize)]
struct Row {
    name: String,
    /// What the ratio compares with: "ceiling" or "raw commit".
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
    runs: Vec<RunFigures>,
    /// Throughput of the reference run made just before each run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reference_runs: Vec<f64>,
    median_per_second: f64,
    median_p50_ms: f64,
    median_p99_ms: f64,
    /// Median throughput over the reference's median throughput.
    #[serde(skip_serializing_if = "Option::is_none")]
    ratio: Option<f64>,
    /// For batch-check: checks decided per second.
    #[serde(skip_serializing_if = "Option::is_none")]
    median_checks_per_second: Option<f64>,
}

impl Row {
    fn push(&mut self, run: RunFigures, reference: f64) {
        self.runs.push(run);
        self.reference_runs.push(reference);
    }
}

#[derive(Default)]
struct Table {
    rows: Vec<Row>,
}

impl Table {
    fn row(&mut self, name: &str, reference: Option<&str>) -> &mut Row {
        let index = match self.rows.iter().position(|row| row.name == name) {
            Some(index) => index,
            None => {
                self.rows.push(Row {
                    name: name.to_owned(),
                    reference: reference.map(str::to_owned),
                    runs: Vec::new(),
                    reference_runs: Vec::new(),
                    median_per_second: 0.0,
                    median_p50_ms: 0.0,
                    median_p99_ms: 0.0,
                    ratio: None,
                    median_checks_per_second: None,
                });
                self.rows.len() - 1
            }
        };
        &mut self.rows[index]
    }

    fn finish(&mut self, batch_size: usize) {
        for row in &mut self.rows {
            let of = |pick: fn(&RunFigures) -> f64| median(&row.runs.iter().map(pick).collect::<Vec<_>>());
            row.median_per_second = of(|run| run.per_second);
            row.median_p50_ms = of(|run| run.p50_ms);
            row.median_p99_ms = of(|run| run.p99_ms);
            let reference = median(&row.reference_runs);
            row.ratio = (!row.reference_runs.is_empty() && reference > 0.0).then(|| row.median_per_second / reference);
            if row.name.starts_with("batch-check") {
                row.median_checks_per_second = Some(row.median_per_second * batch_size as f64);
            }
        }
    }

    fn failed(&self) -> u64 {
        self.rows.iter().flat_map(|row| &row.runs).map(|run| run.failed).sum()
    }
}

#[derive(Serialize)]
struct BenchReport<'a> {
    topology: Topology,
    rounds: usize,
    duration_seconds: f64,
    warmup_seconds: f64,
    concurrency: usize,
    connections: usize,
    store_pool: u32,
    dataset: String,
    /// The largest process's peak.
    server_peak_rss_mib: Option<f64>,
    /// Split: each process's, by the services it serves.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    processes_peak_rss_mib: BTreeMap<&'static str, Option<f64>>,
    rows: &'a [Row],
}

/// Logs on stderr at `warn` unless RUST_LOG says otherwise: the bench
/// measures the service without per-call info lines (RUST_LOG=info
/// measures it with them).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .try_init();
}

struct Bench {
    args_plan: Plan,
    table: Table,
}

impl Bench {
    fn plan(&self, name: &str, rate: f64) -> Plan {
        Plan {
            name: name.to_owned(),
            rate,
            ..self.args_plan.clone()
        }
    }

    /// Runs one measurement and files it under `name`, with the throughput
    /// of the reference run it is paired with.
    async fn measure<W: Workload>(
        &mut self,
        name: &str,
        reference: Option<(&str, f64)>,
        workload: &Arc<W>,
        rate: f64,
    ) -> Result<f64, BoxError> {
        let stats = engine::run(workload.clone(), &self.plan(name, rate)).await?;
        let figures = RunFigures::of(&stats)?;
        eprintln!(
            "bench: {name}: {:.1}/s, p50 {:.3} ms, p99 {:.3} ms{}",
            figures.per_second,
            figures.p50_ms,
            figures.p99_ms,
            if figures.failed > 0 {
                format!(", {} FAILED of {}", figures.failed, figures.calls)
            } else {
                String::new()
            }
        );
        let per_second = figures.per_second;
        let row = self.table.row(name, reference.map(|(label, _)| label));
        row.runs.push(figures);
        if let Some((_, reference)) = reference {
            row.reference_runs.push(reference);
        }
        Ok(per_second)
    }
}

/// H4-H6 in the bench: see `webhooks`.
struct WebhookBench {
    pages: Arc<webhooks::EventPages>,
    writes: Arc<webhooks::Writes>,
    receiver: webhooks::Receiver,
    /// The operator's endpoint the receiver is registered as.
    endpoint_id: String,
    /// Deliveries replayed so far: the receiver counts them too.
    replayed: std::sync::atomic::AtomicU64,
}

const EVENT_PAGES: &str = "ListEvents page of 100 (pull)";
const WRITE_CAPACITY: &str = "CreatePartner (write capacity)";
const HALF_WRITES: &str = "CreatePartner at half the write capacity";
const DELIVERIES: &str = "webhook deliveries of those writes (lag)";
const REPLAY: &str = "webhook replay of a round (p50/p99: since the call)";

impl WebhookBench {
    async fn start(
        auth: &Auth,
        targets: Targets,
        connections: usize,
        timeout: Duration,
        seed: u64,
    ) -> Result<Self, BoxError> {
        let operator = auth.operator()?;
        let relationship = client::connect(targets.relationship, connections, timeout).await?;
        let partner = client::connect(targets.partner, connections, timeout).await?;
        let receiver = webhooks::Receiver::start().await?;
        let endpoint_id = webhooks::register(relationship[0].clone(), &operator, &receiver.url).await?;
        let writes = Arc::new(webhooks::Writes::new(partner, operator.clone(), seed));
        let pages = Arc::new(webhooks::EventPages {
            last_seq: webhooks::last_seq(relationship[0].clone(), &operator, 0).await?,
            channels: relationship,
            operator,
        });
        Ok(WebhookBench {
            pages,
            writes,
            receiver,
            endpoint_id,
            replayed: Default::default(),
        })
    }

    /// One round: pages, the write capacity, writes at half of it and
    /// their deliveries, then the replay of the round's deliveries.
    async fn measure(&self, bench: &mut Bench) -> Result<(), BoxError> {
        let channel = self.pages.channels[0].clone();
        let operator = &self.pages.operator;
        let pulled = bench.measure(EVENT_PAGES, None, &self.pages, 0.0).await?;
        let round_after = webhooks::last_seq(channel.clone(), operator, self.pages.last_seq).await?;
        let capacity = bench.measure(WRITE_CAPACITY, None, &self.writes, 0.0).await?;
        let rate = (capacity / 2.0).floor().max(1.0);
        // The capacity run's backlog first, so that the lag is the steady
        // load's alone.
        let seen = &self.receiver.seen;
        let owed = self.writes.acknowledged.load(Ordering::Relaxed) + self.replayed.load(Ordering::Relaxed);
        let arrived = webhooks::drained(seen, owed, DRAIN).await;
        if (arrived as u64) < owed {
            eprintln!(
                "bench: {DELIVERIES}: {} of {owed} earlier deliveries still owed",
                owed - arrived as u64
            );
        }
        let since = std::time::SystemTime::now();
        let before = self.writes.acknowledged.load(Ordering::Relaxed);
        let offered = bench
            .measure(HALF_WRITES, Some(("writes", capacity)), &self.writes, rate)
            .await?;
        let written = self.writes.acknowledged.load(Ordering::Relaxed) - before;
        let arrived = webhooks::drained(seen, owed + written, DRAIN).await;
        let got = webhooks::delivered(seen, since, webhooks::LagFrom::Event, |at, _| at >= since).await?;
        eprintln!(
            "bench: {DELIVERIES}: {} of {written} delivered, {:.1}/s, lag p50 {:.3} ms, p99 {:.3} ms",
            got.count, got.per_second, got.p50_ms, got.p99_ms
        );
        bench
            .table
            .row(DELIVERIES, Some("writes"))
            .push(RunFigures::delivered(&got, written), offered);

        // H8: every delivery of this round again, as fast as the
        // dispatcher sends them, against the events ListEvents pages pull.
        let since = std::time::SystemTime::now();
        let replayed = webhooks::replay(channel, operator, &self.endpoint_id, round_after).await?;
        self.replayed.fetch_add(replayed, Ordering::Relaxed);
        webhooks::drained(seen, arrived as u64 + replayed, DRAIN).await;
        let got = webhooks::delivered(seen, since, webhooks::LagFrom::Moment(since), |_, arrived| {
            arrived >= since
        })
        .await?;
        eprintln!(
            "bench: {REPLAY}: {} of {replayed} delivered, {:.1}/s",
            got.count, got.per_second
        );
        bench
            .table
            .row(REPLAY, Some("events pulled"))
            .push(RunFigures::delivered(&got, replayed), pulled * webhooks::PAGE as f64);
        Ok(())
    }
}

/// How long the deliveries of a run may take to arrive after it.
const DRAIN: Duration = Duration::from_secs(30);

fn scenario_row(scenario: Scenario, batch_size: usize, place: &str) -> String {
    let what = match scenario {
        Scenario::Check => "CheckAccess".to_owned(),
        Scenario::UserCheck => "CheckAccess per user".to_owned(),
        Scenario::BatchCheck => format!("BatchCheckAccess x{batch_size}"),
        Scenario::Mixed => "99% checks, 1% writes".to_owned(),
        Scenario::List => "ListCustomers pages".to_owned(),
        Scenario::Accept => "AcceptRelationshipRequest".to_owned(),
        Scenario::Transfer => "record + CreateTransfer + AcceptTransfer".to_owned(),
    };
    format!("{} ({what}){place}", scenario.name())
}

const CEILING: &str = "ceiling (health Check)";
const BARE_ECHO: &str = "bare tonic echo (health Check, no layers)";
const RAW_COMMIT: &str = "raw commit (1-row tx)";
/// The partner checks measured just before each per-user run (R7).
const PAIRED_CHECK: &str = "CheckAccess (before per user)";

pub async fn run(args: BenchArgs) -> Result<(), BoxError> {
    init_logging();
    if args.rounds == 0 {
        return Err("--rounds must be at least 1".into());
    }
    let seed = random_seed(args.load.random_seed);
    let dir = tempfile::tempdir()?;
    let mut secret_bytes = [0u8; 24];
    getrandom::fill(&mut secret_bytes).map_err(|error| error.to_string())?;
    let secret: String = secret_bytes.iter().map(|b| format!("{b:02x}")).collect();
    let sqlite_url = |file: &str| format!("sqlite://{}?mode=rwc", dir.path().join(file).display());
    let mut config = Config::default();
    config.store.database_url = sqlite_url("bench.db");
    if let Some(connections) = args.max_connections {
        config.store.max_connections = connections.max(1);
    }
    // Over an existing store, the server keeps its own secret beside it
    // (made at its first start, hence read once it serves).
    let (database_url, serve_secret) = match &args.store {
        Some(file) => (format!("sqlite://{}?mode=rw", file.display()), None),
        None => (config.store.database_url.clone(), Some(secret.clone())),
    };
    let launcher = Launcher {
        server_bin: server_bin(args.server_bin.as_deref())?,
        database_url,
        secret: serve_secret,
        max_connections: args.max_connections,
    };
    // On an error, the children are dropped, which kills them.
    let deployment = Deployment::start(args.topology, &launcher).await?;
    let [echo_addr] = free_ports().await?;
    let echo_process = bare_echo(echo_addr).await?;
    let secret = match &args.store {
        Some(file) => Auth::secret_from_file(&std::path::PathBuf::from(format!("{}.jwt-secret", file.display())))?,
        None => secret.into_bytes(),
    };
    let result = measure_all(
        &args,
        &config,
        &secret,
        deployment.targets,
        echo_addr,
        seed,
        &sqlite_url("raw.db"),
    )
    .await;
    echo_process.stop().await;
    let peak_rss = deployment.peak_rss_mib();
    let topology = deployment.describe();
    deployment.stop().await;
    let (table, dataset_summary) = result?;
    // The largest process's: the one in embedded.
    let peak_rss_mib = peak_rss.iter().filter_map(|(_, mib)| *mib).reduce(f64::max);
    let mib = |mib: Option<f64>| mib.map_or_else(|| "unknown".to_owned(), |mib| format!("{mib:.1} MiB"));
    let rss = match args.topology {
        Topology::Embedded => mib(peak_rss_mib),
        Topology::Split => {
            let each: Vec<String> = peak_rss
                .iter()
                .map(|(services, rss)| format!("{services} {}", mib(*rss)))
                .collect();
            each.join(", ")
        }
    };

    if args.load.json {
        let report = BenchReport {
            topology: args.topology,
            rounds: args.rounds,
            duration_seconds: args.duration.as_secs_f64(),
            warmup_seconds: args.warmup.as_secs_f64(),
            concurrency: args.load.concurrency,
            connections: args.load.connections,
            store_pool: config.store.max_connections,
            dataset: dataset_summary,
            server_peak_rss_mib: peak_rss_mib,
            processes_peak_rss_mib: match args.topology {
                Topology::Embedded => BTreeMap::new(),
                Topology::Split => peak_rss.into_iter().collect(),
            },
            rows: &table.rows,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "bench: {} rounds x {:.1}s (warm-up {:.1}s), {} in flight on {} connection(s), store pool {}, SQLite WAL synchronous=FULL",
            args.rounds,
            args.duration.as_secs_f64(),
            args.warmup.as_secs_f64(),
            args.load.concurrency,
            args.load.connections,
            config.store.max_connections
        );
        println!("topology: {topology}");
        println!("dataset: {dataset_summary}");
        print!("{}", table_text(&table));
        let median_of = |name: &str| {
            table
                .rows
                .iter()
                .find(|row| row.name == name)
                .map(|row| row.median_per_second)
        };
        if let Some(bare) = median_of(BARE_ECHO).filter(|bare| *bare > 0.0) {
            let against: Vec<String> = [CEILING, &scenario_row(Scenario::Check, args.load.batch_size, "")]
                .iter()
                .filter_map(|name| median_of(name).map(|rate| format!("{name} {:.3}", rate / bare)))
                .collect();
            println!("of the bare tonic echo: {}", against.join(", "));
        }
        println!("server peak RSS: {rss}");
    }
    let failed = table.failed();
    if failed > 0 {
        return Err(format!("{failed} calls failed during the bench").into());
    }
    Ok(())
}

fn table_text(table: &Table) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<52} {:>11} {:>9} {:>9}  {:<24} rounds (/s)",
        "measurement", "median /s", "p50 ms", "p99 ms", "ratio"
    );
    for row in &table.rows {
        let ratio = match (row.ratio, &row.reference) {
            (Some(ratio), Some(reference)) => format!("{ratio:.3} of {reference}"),
            _ => String::new(),
        };
        let rounds: Vec<String> = row.runs.iter().map(|run| format!("{:.0}", run.per_second)).collect();
        let checks = row
            .median_checks_per_second
            .map(|checks| format!(" = {checks:.0} checks/s"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<52} {:>11.1} {:>9.3} {:>9.3}  {:<24} {}{checks}",
            row.name,
            row.median_per_second,
            row.median_p50_ms,
            row.median_p99_ms,
            ratio,
            rounds.join(" ")
        );
    }
    out
}

/// Everything but starting and stopping the servers (so that they stop
/// whatever happens here).
async fn measure_all(
    args: &BenchArgs,
    config: &Config,
    secret: &[u8],
    targets: Targets,
    echo_addr: SocketAddr,
    seed: u64,
    raw_url: &str,
) -> Result<(Table, String), BoxError> {
    let load = &args.load;
    let auth = Auth::with_secret(secret, &config.auth.jwt_issuer, config.auth.jwt_audience.as_deref());
    let channels = Channels::connect(targets, load.connections, load.timeout).await?;
    let shape = load.seed_shape(args.partners, args.customers, seed);
    let mut data = match args.store {
        Some(_) => {
            let shape = dataset::DiscoverShape {
                sample: 10_000,
                detailed: 500,
                concurrency: load.seed_concurrency,
            };
            dataset::discover(&channels, &auth, &shape).await?
        }
        None => dataset::seed(&channels, &auth, &shape).await?,
    };
    let writes = args.scenarios.iter().any(|scenario| scenario.writes());
    if writes && data.invitations.is_empty() {
        dataset::create_invitations(&mut data, &channels.relationship[0], 20, load.seed_concurrency).await?;
    }
    let summary = data.summary();
    eprintln!("bench: dataset: {summary}");
    let local = Arc::new(Ctx::new(channels, data, load.knobs(seed), None));

    // With --target: the same scenarios against a running server, seeded
    // through its API.
    let external = match args.target {
        Some(target) => {
            let auth = args.credentials.auth()?;
            let channels = Channels::connect(Targets::one(target), load.connections, load.timeout).await?;
            let data = dataset::seed(&channels, &auth, &shape).await?;
            Some((target, Arc::new(Ctx::new(channels, data, load.knobs(seed), None))))
        }
        None => None,
    };

    let echo = Arc::new(Echo {
        channels: client::connect(targets.relationship, load.connections, load.timeout).await?,
    });
    let bare = Arc::new(Echo {
        channels: client::connect(echo_addr, load.connections, load.timeout).await?,
    });
    let raw = Arc::new(RawCommit::open(raw_url.to_owned(), config).await?);
    let webhooks = match args.webhooks {
        true => Some(WebhookBench::start(&auth, targets, load.connections, load.timeout, seed).await?),
        false => None,
    };
    let mut bench = Bench {
        args_plan: Plan {
            name: String::new(),
            concurrency: load.concurrency,
            rate: 0.0,
            warmup: args.warmup,
            duration: Some(args.duration),
            requests: None,
            max_duration: args.duration,
            call_timeout: load.timeout,
            progress: true,
        },
        table: Table::default(),
    };
    let mut scenarios = args.scenarios.clone();
    scenarios.dedup();
    for round in 1..=args.rounds {
        eprintln!("bench: round {round} of {}", args.rounds);
        for &scenario in &scenarios {
            let load = |ctx: &Arc<Ctx>| {
                Arc::new(ScenarioLoad {
                    scenario,
                    ctx: ctx.clone(),
                })
            };
            if matches!(scenario, Scenario::Accept | Scenario::Transfer) {
                // Writes are compared with what the store can commit.
                let reference = bench.measure(RAW_COMMIT, None, &raw, 0.0).await?;
                let name = scenario_row(scenario, args.load.batch_size, "");
                bench
                    .measure(&name, Some(("raw commit", reference)), &load(&local), 0.0)
                    .await?;
                if let Some((target, ctx)) = &external {
                    let name = scenario_row(scenario, args.load.batch_size, &format!(" @ {target}"));
                    bench
                        .measure(&name, Some(("raw commit", reference)), &load(ctx), 0.0)
                        .await?;
                }
                continue;
            }
            if scenario == Scenario::UserCheck {
                // R7: per-user checks against the partner checks they
                // extend, measured just before.
                let partner_checks = Arc::new(ScenarioLoad {
                    scenario: Scenario::Check,
                    ctx: local.clone(),
                });
                let reference = bench.measure(PAIRED_CHECK, None, &partner_checks, 0.0).await?;
                let name = scenario_row(scenario, args.load.batch_size, "");
                bench
                    .measure(&name, Some(("CheckAccess", reference)), &load(&local), 0.0)
                    .await?;
                continue;
            }
            let reference = bench.measure(CEILING, None, &echo, 0.0).await?;
            let name = scenario_row(scenario, args.load.batch_size, "");
            bench
                .measure(&name, Some(("ceiling", reference)), &load(&local), 0.0)
                .await?;
            if let Some((target, ctx)) = &external {
                let name = scenario_row(scenario, args.load.batch_size, &format!(" @ {target}"));
                bench
                    .measure(&name, Some(("ceiling", reference)), &load(ctx), 0.0)
                    .await?;
            }
        }
        if !scenarios
            .iter()
            .any(|s| matches!(s, Scenario::Accept | Scenario::Transfer))
        {
            bench.measure(RAW_COMMIT, None, &raw, 0.0).await?;
        }
        bench.measure(BARE_ECHO, None, &bare, 0.0).await?;
        if let Some(webhooks) = &webhooks {
            webhooks.measure(&mut bench).await?;
        }
    }

    // Latency at a sustainable load: open loop at a share of the check
    // throughput just measured.
    if scenarios.contains(&Scenario::Check) && args.latency_load > 0.0 {
        bench.table.finish(args.load.batch_size);
        let check = scenario_row(Scenario::Check, args.load.batch_size, "");
        let max = bench
            .table
            .rows
            .iter()
            .find(|row| row.name == check)
            .map_or(0.0, |row| row.median_per_second);
        let rate = (max * args.latency_load).floor();
        if rate >= 1.0 {
            let name = format!(
                "check at {:.0}% of max, open loop {rate:.0}/s",
                args.latency_load * 100.0
            );
            let load = Arc::new(ScenarioLoad {
                scenario: Scenario::Check,
                ctx: local.clone(),
            });
            for _ in 0..args.rounds {
                bench.measure(&name, None, &load, rate).await?;
            }
        }
    }
    bench.table.finish(args.load.batch_size);
    Ok((bench.table, summary))
}
