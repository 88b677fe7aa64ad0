//! W4 on a real store that fails: a SQLite file on a file system that fills
//! up during writes and then gets space back (every acknowledged write
//! survives a restart, nothing that was refused appears, the refusals are
//! RESOURCE_EXHAUSTED, and the service recovers without a restart); a
//! PostgreSQL server restarted under write load (the refusals are
//! UNAVAILABLE, never INTERNAL, and the service recovers by itself). And
//! replicas that start at once on an empty database all migrate it.
//!
//! Mounting a file system needs root (CI runs as root); without it the
//! tests fail and say so. The PostgreSQL tests start their own throwaway
//! cluster from the installed server binaries.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use partnercenter::api::pb;
use partnercenter::api::pb::partner_service_client::PartnerServiceClient;
use partnercenter::api::server::{self, RunningServer};
use partnercenter::config::Config;
use partnercenter::domain::clock::SystemClock;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::support::*;

/// A tmpfs of a fixed size, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("mount runs");
        assert!(
            output.status.success(),
            "the fault tests mount a small tmpfs and so must run as root \
             (CI does); mount said: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

/// Fills the file system: writes zeros into `path` until it is full.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).expect("ballast file");
    let block = vec![0u8; 4096];
    loop {
        match file.write_all(&block) {
            Ok(()) => {}
            Err(error) if error.raw_os_error() == Some(28) => break,
            Err(error) => panic!("filling the file system: {error}"),
        }
    }
    // What the last partial block left is filled too.
    let _ = file.write_all(&[0u8; 1]);
    let _ = file.sync_all();
}

async fn spawn(database_url: &str) -> (RunningServer, Channel) {
    spawn_configured(database_url, Duration::from_secs(10)).await
}

/// A server whose calls wait at most `acquire_timeout` for a connection.
async fn spawn_configured(database_url: &str, acquire_timeout: Duration) -> (RunningServer, Channel) {
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse().expect("address");
    config.store.database_url = database_url.to_owned();
    config.store.max_connections = 4;
    config.store.acquire_timeout = acquire_timeout;
    config.auth.jwt_secret = Some(SECRET.to_owned());
    config.telemetry.metrics_listen = None;
    let server = server::spawn(&config, Arc::new(SystemClock))
        .await
        .expect("server starts");
    let channel = Channel::from_shared(format!("http://{}", server.addr()))
        .expect("uri")
        // A write that hangs fails the test instead of stalling it.
        .timeout(Duration::from_secs(10))
        .connect()
        .await
        .expect("connects");
    (server, channel)
}

fn operator_client(server: &RunningServer, channel: &Channel) -> Partners {
    let token = server.authority().mint(&operator(), 3600).expect("token");
    PartnerServiceClient::with_interceptor(channel.clone(), Bearer::new(&token))
}

async fn create_partner(client: &mut Partners, mpn_id: &str) -> Result<pb::Partner, Status> {
    client
        .create_partner(pb::CreatePartnerRequest {
            partner: Some(pb::Partner {
                mpn_id: mpn_id.into(),
                // A long name: each write needs a few new pages.
                display_name: format!("Partner {mpn_id} {}", "x".repeat(180)),
                kind: pb::partner::Kind::DirectReseller as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

/// Every partner's MPN id, as the operator lists them.
async fn listed_mpn_ids(client: &mut Partners) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_partners(pb::ListPartnersRequest {
                page_size: 1000,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .expect("operator lists partners")
            .into_inner();
        ids.extend(page.partners.into_iter().map(|p| p.mpn_id));
        if page.next_page_token.is_empty() {
            return ids;
        }
        page_token = page.next_page_token;
    }
}

/// The outcome of the writes of one phase.
#[derive(Default)]
struct Outcomes {
    acknowledged: Vec<String>,
    refused: Vec<(String, Status)>,
}

/// `count` CreatePartner calls from `tasks` concurrent callers.
/// Their MPN ids start with the phase's digit.
async fn write_many(client: &Partners, phase: u32, tasks: usize, count: usize) -> Outcomes {
    let mut handles = Vec::new();
    for task in 0..tasks {
        let mut client = client.clone();
        handles.push(tokio::spawn(async move {
            let mut outcomes = Outcomes::default();
            for n in (task..count).step_by(tasks) {
                let mpn_id = format!("{phase}{n:06}");
                match create_partner(&mut client, &mpn_id).await {
                    Ok(_) => outcomes.acknowledged.push(mpn_id),
                    Err(status) => outcomes.refused.push((mpn_id, status)),
                }
            }
            outcomes
        }));
    }
    let mut all = Outcomes::default();
    for handle in handles {
        let outcomes = handle.await.expect("writer task");
        all.acknowledged.extend(outcomes.acknowledged);
        all.refused.extend(outcomes.refused);
    }
    all
}

/// The code and message of each refusal.
fn summary(refused: &[(String, Status)]) -> Vec<String> {
    refused
        .iter()
        .map(|(id, status)| format!("{id}: {:?} {}", status.code(), status.message()))
        .collect()
}

#[track_caller]
fn assert_resource_exhausted(status: &Status) {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let info = status
        .get_details_error_info()
        .unwrap_or_else(|| panic!("no ErrorInfo in {status:?}"));
    assert_eq!(info.domain, "partnercenter");
    assert_eq!(info.reason, "RESOURCE_EXHAUSTED", "{status:?}");
}

/// W4: a full disk refuses writes with RESOURCE_EXHAUSTED and loses none
/// that it acknowledged; once space is back, writes succeed again without
/// a restart, and a restarted server finds exactly the acknowledged ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn w4_full_disk_loses_no_acknowledged_write() {
    let fs = Tmpfs::mount("8m");
    let database: PathBuf = fs.path().join("pc.db");
    let url = format!("sqlite://{}?mode=rwc", database.display());
    let (server, channel) = spawn(&url).await;
    let client = operator_client(&server, &channel);

    let before = write_many(&client, 1, 4, 20).await;
    assert!(before.refused.is_empty(), "{:?}", summary(&before.refused));

    let ballast = fs.path().join("ballast");
    fill(&ballast);
    let full = write_many(&client, 2, 4, 60).await;
    assert!(!full.refused.is_empty(), "no write was refused on a full file system");
    for (_, status) in &full.refused {
        assert_resource_exhausted(status);
    }

    // Space comes back: the same server takes writes again, and what it
    // acknowledges is visible to its other connections.
    std::fs::remove_file(&ballast).expect("ballast removed");
    let after = write_many(&client, 3, 4, 40).await;
    assert!(
        after.refused.is_empty(),
        "refused after space came back: {:?}",
        summary(&after.refused)
    );

    let acknowledged: HashSet<String> = [&before, &full, &after]
        .iter()
        .flat_map(|o| o.acknowledged.iter().cloned())
        .collect();
    let refused: HashSet<String> = full.refused.iter().map(|(id, _)| id.clone()).collect();
    let seen = listed_mpn_ids(&mut client.clone()).await;
    let missing: Vec<_> = acknowledged.difference(&seen).collect();
    assert!(missing.is_empty(), "acknowledged but not visible: {missing:?}");

    // A restart on the same file keeps exactly the acknowledged writes.
    server.shutdown().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (server, channel) = spawn(&url).await;
    let seen = listed_mpn_ids(&mut operator_client(&server, &channel)).await;
    let missing: Vec<_> = acknowledged.difference(&seen).collect();
    assert!(missing.is_empty(), "acknowledged, lost after a restart: {missing:?}");
    let appeared: Vec<_> = refused.intersection(&seen).collect();
    assert!(appeared.is_empty(), "refused, yet stored: {appeared:?}");
    server.shutdown().await;
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// The newest PostgreSQL server binaries on this machine. On a machine
/// without them the suite installs Debian's `postgresql` package once (as
/// it installs grpcurl), so `cargo test` alone runs every test.
fn postgres_bin() -> PathBuf {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let find = || {
        std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("initdb").exists())
            .max_by_key(|bin| {
                let version = bin
                    .parent()
                    .and_then(|v| v.file_name())
                    .map(|v| v.to_string_lossy().into_owned());
                version.and_then(|v| v.parse::<u32>().ok()).unwrap_or_default()
            })
    };
    let _installing = INSTALL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(bin) = find() {
        return bin;
    }
    if is_root() {
        eprintln!("PostgreSQL server binaries not found; installing Debian's postgresql package");
        let _ = Command::new("apt-get").args(["update", "-qq"]).status();
        let _ = Command::new("apt-get")
            .args(["install", "-y", "-qq", "postgresql"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status();
    }
    find().expect(
        "the fault tests start their own PostgreSQL and need its server binaries \
         (/usr/lib/postgresql/VERSION/bin): install Debian/Ubuntu's package `postgresql`",
    )
}

/// A throwaway PostgreSQL cluster on a free loopback port, stopped when
/// dropped. As root, its commands run as the user `postgres`.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl PgCluster {
    pub fn start() -> Self {
        let bin = postgres_bin();
        let dir = tempfile::tempdir().expect("temp dir");
        if is_root() {
            let chown = Command::new("chown").arg("postgres").arg(dir.path()).status();
            assert!(
                chown.is_ok_and(|s| s.success()),
                "chown of the cluster directory to postgres"
            );
        }
        let port = crate::replicas::free_port();
        let cluster = PgCluster { dir, bin, port };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &["-D", &data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
        );
        cluster.run(
            "pg_ctl",
            &[
                "-D",
                &data,
                "-l",
                &cluster.log(),
                "-w",
                "start",
                "-o",
                &cluster.server_options(),
            ],
        );
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn log(&self) -> String {
        self.dir.path().join("server.log").display().to_string()
    }

    fn server_options(&self) -> String {
        format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=100",
            self.port,
            self.dir.path().display()
        )
    }

    /// Runs a server binary (as `postgres` when root); panics with its
    /// output if it fails.
    fn run(&self, tool: &str, args: &[&str]) {
        let program = self.bin.join(tool);
        let output = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        }
        .unwrap_or_else(|error| panic!("{tool} does not run: {error}"));
        assert!(
            output.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    pub fn start_again(&self) {
        let (data, log, options) = (self.data(), self.log(), self.server_options());
        self.run("pg_ctl", &["-D", &data, "-l", &log, "-w", "start", "-o", &options]);
    }

    /// Kills the server (no shutdown checkpoint, like a crash).
    pub fn kill(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let data = self.data();
        let program = self.bin.join("pg_ctl");
        let args = ["-D", data.as_str(), "-m", "immediate", "stop"];
        let _ = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .output()
        } else {
            Command::new(&program).args(args).output()
        };
    }
}

#[track_caller]
fn assert_unavailable_with_id(status: &Status) {
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    let info = status
        .get_details_error_info()
        .unwrap_or_else(|| panic!("no ErrorInfo in {status:?}"));
    assert_eq!(info.domain, "partnercenter");
    let id = info
        .metadata
        .get("error_id")
        .unwrap_or_else(|| panic!("no error_id in {status:?}"));
    assert!(status.message().contains(id.as_str()), "{status:?}");
}

/// W4: PostgreSQL killed and restarted under write load. Calls that meet
/// the outage are UNAVAILABLE with an error id (never INTERNAL); afterwards
/// the service takes writes again by itself, and every acknowledged write
/// is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn w4_postgres_restart_mid_traffic_is_unavailable_then_recovers() {
    let cluster = Arc::new(tokio::task::spawn_blocking(PgCluster::start).await.expect("cluster"));
    let (server, channel) = spawn_configured(&cluster.url("postgres"), Duration::from_secs(1)).await;
    let client = operator_client(&server, &channel);

    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for task in 0..4u32 {
        let mut client = client.clone();
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let mut outcomes = Outcomes::default();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let mpn_id = format!("{}{task}{n:05}", 4);
                n += 1;
                match create_partner(&mut client, &mpn_id).await {
                    Ok(_) => outcomes.acknowledged.push(mpn_id),
                    Err(status) => {
                        outcomes.refused.push((mpn_id, status));
                        // A client backing off, as UNAVAILABLE asks.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
            outcomes
        }));
    }
    // A statement certainly in flight when the server dies: its error
    // ("connection reset", "expected to read 5 bytes") is UNAVAILABLE too.
    let store = server.store().clone();
    let in_flight = tokio::spawn(async move {
        use sea_orm::ConnectionTrait;
        store.connection().execute_unprepared("SELECT pg_sleep(30)").await
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    // Killed mid-traffic, down for longer than a call waits for a
    // connection, then started again.
    let restarting = cluster.clone();
    tokio::task::spawn_blocking(move || {
        restarting.kill();
        std::thread::sleep(Duration::from_millis(2500));
        restarting.start_again();
    })
    .await
    .expect("restart");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, Ordering::Relaxed);
    let mut load = Outcomes::default();
    for writer in writers {
        let outcomes = writer.await.expect("writer task");
        load.acknowledged.extend(outcomes.acknowledged);
        load.refused.extend(outcomes.refused);
    }
    let cut = in_flight
        .await
        .expect("statement task")
        .expect_err("the statement outlived its server");
    let cut = partnercenter::domain::Error::from(cut);
    assert_eq!(cut.code, partnercenter::domain::ErrorCode::Unavailable, "{cut}");
    assert!(cut.metadata.iter().any(|(key, _)| key == "error_id"), "{cut}");
    assert!(!load.acknowledged.is_empty(), "no write succeeded under load");
    assert!(
        !load.refused.is_empty(),
        "no call met the restart: the test did not test it"
    );
    let not_unavailable: Vec<_> = load
        .refused
        .iter()
        .filter(|(_, status)| status.code() != Code::Unavailable)
        .map(|(id, status)| format!("{id}: {:?} {}", status.code(), status.message()))
        .collect();
    assert!(
        not_unavailable.is_empty(),
        "refused otherwise than UNAVAILABLE: {not_unavailable:?}"
    );
    for (_, status) in &load.refused {
        assert_unavailable_with_id(status);
    }

    // Recovered by itself: within a few seconds every write succeeds again.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut client = client.clone();
    let mut after = Vec::new();
    let mut n = 0;
    while after.len() < 20 {
        let mpn_id = format!("5{n:06}");
        n += 1;
        match create_partner(&mut client, &mpn_id).await {
            Ok(_) => after.push(mpn_id),
            Err(status) => {
                assert_unavailable_with_id(&status);
                assert!(
                    after.is_empty() && Instant::now() < deadline,
                    "the service did not recover: {status:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    let seen = listed_mpn_ids(&mut client).await;
    let missing: Vec<_> = load
        .acknowledged
        .iter()
        .chain(&after)
        .filter(|id| !seen.contains(*id))
        .collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    server.shutdown().await;
}

/// The suite's PostgreSQL when it runs on one, else a cluster of this test.
async fn postgres_for_test() -> (Option<PgCluster>, String) {
    match postgres_admin_url() {
        Some(admin_url) => (None, admin_url),
        None => {
            let cluster = tokio::task::spawn_blocking(PgCluster::start).await.expect("cluster");
            let url = cluster.url("postgres");
            (Some(cluster), url)
        }
    }
}

/// Operations: four replicas starting at once on an empty PostgreSQL
/// database all migrate it and open the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_on_postgres_all_succeed() {
    let (_cluster, admin_url) = postgres_for_test().await;
    for _ in 0..3 {
        let database = empty_postgres_database(&admin_url).await;
        open_four_at_once(&database.url).await;
    }
}

/// Four processes' worth of `Store::open` (which migrates) on one store at
/// once: every one must succeed.
async fn open_four_at_once(url: &str) {
    let opens: Vec<_> = (0..4)
        .map(|_| {
            let options = partnercenter::store::StoreOptions {
                url: url.to_owned(),
                max_connections: 1,
                acquire_timeout: Duration::from_secs(10),
                statement_timeout: Duration::from_secs(30),
                sqlite_page_cache_mib: partnercenter::store::DEFAULT_PAGE_CACHE_MIB,
            };
            tokio::spawn(async move {
                partnercenter::store::Store::open(&options, Arc::new(SystemClock))
                    .await
                    .map(|_| ())
            })
        })
        .collect();
    for open in opens {
        open.await
            .expect("open task")
            .expect("every concurrent start migrates and opens");
    }
}

/// The same on one new SQLite file.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_on_sqlite_all_succeed() {
    for _ in 0..50 {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("pc.db").display());
        open_four_at_once(&url).await;
    }
}

fn store_options(url: &str) -> partnercenter::store::StoreOptions {
    partnercenter::store::StoreOptions {
        url: url.to_owned(),
        max_connections: 1,
        acquire_timeout: Duration::from_secs(2),
        statement_timeout: Duration::from_secs(30),
        sqlite_page_cache_mib: partnercenter::store::DEFAULT_PAGE_CACHE_MIB,
    }
}

/// Why a store does not open, as the operator reads it.
async fn open_error(url: &str) -> String {
    match partnercenter::store::Store::open(&store_options(url), Arc::new(SystemClock)).await {
        Ok(_) => panic!("the store at {url} opened"),
        Err(error) => error.to_string(),
    }
}

/// Operations: an unreachable PostgreSQL is named by host and port, never
/// with its password.
#[tokio::test]
async fn unreachable_postgres_names_host_and_port() {
    let port = crate::replicas::free_port();
    let error = open_error(&format!("postgres://pc:s3cret-pw@127.0.0.1:{port}/pc")).await;
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(error.contains("refused"), "the cause: {error}");
    assert!(!error.contains("s3cret-pw"), "{error}");
}

/// Operations: SQLite in a missing directory names the path and the fix.
#[tokio::test]
async fn sqlite_in_a_missing_directory_names_path_and_fix() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no-such-dir");
    let file = missing.join("pc.db");
    let error = open_error(&format!("sqlite://{}?mode=rwc", file.display())).await;
    assert!(error.contains(&file.display().to_string()), "{error}");
    assert!(error.contains("does not exist"), "{error}");
    assert!(error.contains(&format!("mkdir -p {}", missing.display())), "{error}");
}

/// Operations: SQLite in a read-only directory (a read-only mount: root
/// writes through file modes) names the path and the fix.
#[tokio::test]
async fn sqlite_in_a_read_only_directory_names_path_and_fix() {
    let fs = Tmpfs::mount("1m,ro");
    let file = fs.path().join("pc.db");
    let error = open_error(&format!("sqlite://{}?mode=rwc", file.display())).await;
    assert!(error.contains(&file.display().to_string()), "{error}");
    assert!(error.contains("not writable"), "{error}");
}

/// The overall health status ("" as probes ask), polled until it is
/// `wanted` or `within` passes.
async fn wait_for_health(channel: &Channel, wanted: i32, within: Duration) -> bool {
    let mut client = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let status = client
            .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
            .await
            .map(|r| r.into_inner().status);
        if status.as_ref().is_ok_and(|s| *s == wanted) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// W4: while the store does not answer, health stops answering SERVING;
/// once it answers again, SERVING comes back and writes succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn w4_store_outage_turns_health_not_serving_until_it_recovers() {
    const SERVING: i32 = 1;
    const NOT_SERVING: i32 = 2;
    let cluster = Arc::new(tokio::task::spawn_blocking(PgCluster::start).await.expect("cluster"));
    let (server, channel) = spawn(&cluster.url("postgres")).await;
    assert!(wait_for_health(&channel, SERVING, Duration::from_secs(5)).await);

    let stopping = cluster.clone();
    tokio::task::spawn_blocking(move || stopping.stop())
        .await
        .expect("stop");
    assert!(
        wait_for_health(&channel, NOT_SERVING, Duration::from_secs(15)).await,
        "health still SERVING with the store down"
    );

    let starting = cluster.clone();
    tokio::task::spawn_blocking(move || starting.start_again())
        .await
        .expect("start");
    assert!(
        wait_for_health(&channel, SERVING, Duration::from_secs(15)).await,
        "health did not come back after the store did"
    );
    let mut client = operator_client(&server, &channel);
    create_partner(&mut client, "6000001")
        .await
        .expect("a write after recovery");
    server.shutdown().await;
}

/// One create of the kill test: its body, with its request_id, and the id
/// it was acknowledged with, if it was.
#[derive(Clone)]
enum KillWrite {
    Partner(pb::CreatePartnerRequest),
    Customer(pb::CreateCustomerRequest),
}

impl KillWrite {
    /// The id of the resource the create returned.
    async fn send(&self, replica: &crate::replicas::Replica) -> Result<String, Status> {
        use crate::replicas::{customers, partners};
        // A call that hangs on a dying process fails instead of stalling.
        let within = Duration::from_secs(5);
        let reply = match self {
            KillWrite::Partner(request) => {
                let mut client = partners(replica, &operator());
                tokio::time::timeout(within, client.create_partner(request.clone()))
                    .await
                    .map(|r| r.map(|r| r.into_inner().id))
            }
            KillWrite::Customer(request) => {
                let mut client = customers(replica, &operator());
                tokio::time::timeout(within, client.create_customer(request.clone()))
                    .await
                    .map(|r| r.map(|r| r.into_inner().id))
            }
        };
        reply.unwrap_or_else(|_| Err(Status::deadline_exceeded("no answer within 5 s")))
    }
}

/// W4, E1, AIP-155: `kill -9` of a serving process under write load loses
/// no acknowledged write; a retry of each unacknowledged create with its
/// request_id makes exactly one resource; the event log has no gap and one
/// `*.created` event per resource.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn w4_kill_9_under_write_load_loses_no_acknowledged_write() {
    use crate::replicas::{customers, partners, relationships, shared_database, start_replica};

    let dir = tempfile::tempdir().expect("temp dir");
    let (database_url, _database) = shared_database(&dir).await;
    let first = Arc::new(start_replica(&database_url).await);

    // Eight writers, each alternating partner and customer creates, until
    // the process is killed.
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for task in 0..8 {
        let (first, stop) = (first.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let request_id = format!("kill-{}", uuid::Uuid::now_v7().simple());
                let write = if (task + n) % 2 == 0 {
                    let mut request = create_partner_request(pb::partner::Kind::DirectReseller);
                    request.request_id = request_id;
                    KillWrite::Partner(request)
                } else {
                    let mut request = customer_request(&unique_domain("kill"), None);
                    request.request_id = request_id;
                    KillWrite::Customer(request)
                };
                let outcome = write.send(&first).await.ok();
                sent.push((write, outcome));
                n += 1;
            }
            sent
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    // SIGKILL: no graceful shutdown, no flush, no drain of the calls in flight.
    let first = {
        let pid = first.child.id();
        let status = Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -9 {pid}");
        stop.store(true, Ordering::SeqCst);
        first
    };
    let mut sent = Vec::new();
    for writer in writers {
        sent.extend(writer.await.expect("writer task"));
    }
    drop(first);

    let second = start_replica(&database_url).await;
    let acknowledged = sent.iter().filter(|(_, id)| id.is_some()).count();
    let unacknowledged = sent.len() - acknowledged;
    assert!(acknowledged > 0, "no write was acknowledged in 1 s of load");
    // The writers were cut mid-call, so some creates went unanswered.
    assert!(unacknowledged > 0, "every write was answered before the kill");
    let stored_before_retries = all_partners(&second).await.len();

    // Every acknowledged create is readable by its id, and every create,
    // retried with its request_id and body, succeeds.
    let mut partner_ids = HashSet::new();
    let mut customer_ids = HashSet::new();
    for (write, outcome) in &sent {
        let id = match outcome {
            Some(id) => {
                match write {
                    KillWrite::Partner(_) => {
                        partners(&second, &operator())
                            .get_partner(pb::GetPartnerRequest { id: id.clone() })
                            .await
                            .unwrap_or_else(|status| panic!("acknowledged partner {id} lost: {status:?}"));
                    }
                    KillWrite::Customer(_) => {
                        customers(&second, &operator())
                            .get_customer(pb::GetCustomerRequest { id: id.clone() })
                            .await
                            .unwrap_or_else(|status| panic!("acknowledged customer {id} lost: {status:?}"));
                    }
                }
                // AIP-155 across the crash: the request-id record survived
                // with the resource, so a retry answers it and adds nothing.
                let again = write
                    .send(&second)
                    .await
                    .unwrap_or_else(|status| panic!("a retry of acknowledged {id} failed: {status:?}"));
                assert_eq!(&again, id, "a retry of an acknowledged create made another resource");
                id.clone()
            }
            None => write
                .send(&second)
                .await
                .unwrap_or_else(|status| panic!("a retry after the restart failed: {status:?}")),
        };
        let ids = match write {
            KillWrite::Partner(_) => &mut partner_ids,
            KillWrite::Customer(_) => &mut customer_ids,
        };
        assert!(
            ids.insert(id.clone()),
            "two request ids answered with one resource {id}"
        );
    }

    // One resource per request id: nothing else was stored, no MPN id twice.
    let listed = all_partners(&second).await;
    let listed_ids: HashSet<String> = listed.iter().map(|p| p.id.clone()).collect();
    assert_eq!(listed.len(), partner_ids.len(), "one partner per request id");
    assert_eq!(listed_ids, partner_ids);
    let mpn_ids: HashSet<&str> = listed.iter().map(|p| p.mpn_id.as_str()).collect();
    assert_eq!(mpn_ids.len(), listed.len(), "an MPN id stored twice");

    // E1: seqs 1..=N without a gap, one created event per resource.
    let mut events = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = relationships(&second, &operator())
            .list_events(pb::ListEventsRequest {
                after_seq: 0,
                page_size: 1000,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .expect("operator lists events")
            .into_inner();
        events.extend(page.events);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=events.len() as i64).collect::<Vec<_>>(),
        "a gap in the event log"
    );
    let created = |kind: &str| {
        let mut subjects: Vec<String> = events
            .iter()
            .filter(|e| e.r#type == kind)
            .map(|e| e.subject_id.clone())
            .collect();
        subjects.sort();
        subjects
    };
    let mut expected: Vec<String> = partner_ids.iter().cloned().collect();
    expected.sort();
    assert_eq!(created("partner.created"), expected, "partner.created once per partner");
    let mut expected: Vec<String> = customer_ids.iter().cloned().collect();
    expected.sort();
    assert_eq!(
        created("customer.created"),
        expected,
        "customer.created once per customer"
    );
    let acknowledged_partners = sent
        .iter()
        .filter(|(write, id)| id.is_some() && matches!(write, KillWrite::Partner(_)))
        .count();
    eprintln!(
        "kill -9: {} creates, {acknowledged} acknowledged, {unacknowledged} retried, \
         {} partners committed unanswered",
        sent.len(),
        stored_before_retries - acknowledged_partners
    );
}

/// Every partner, as the operator lists them, page by page.
async fn all_partners(replica: &crate::replicas::Replica) -> Vec<pb::Partner> {
    let mut listed = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = crate::replicas::partners(replica, &operator())
            .list_partners(pb::ListPartnersRequest {
                page_size: 1000,
                page_token: page_token.clone(),
                ..Default::default()
            })
            .await
            .expect("operator lists partners")
            .into_inner();
        listed.extend(page.partners);
        if page.next_page_token.is_empty() {
            return listed;
        }
        page_token = page.next_page_token;
    }
}
