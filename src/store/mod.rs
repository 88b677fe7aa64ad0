//! The store: sea-orm entities, migrations and queries over embedded SQLite
//! (the zero-setup default) or PostgreSQL (production).

mod access;
mod assignments;
#[cfg(feature = "tools")]
pub mod bulk;
mod coalesce;
mod codes;
mod convert;
mod customers;
mod deliveries;
pub mod entity;
mod events;
mod fault;
mod freshness;
mod gate;
mod groups;
mod indexed;
mod inline;
pub mod migration;
mod outbox;
mod partners;
#[cfg(feature = "tools")]
pub mod probe;
mod relationships;
mod transfers;
mod webhooks;
mod write;

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::pool::PoolConnectionMetadata;
use sea_orm::sqlx::postgres::{PgConnectOptions, PgConnection};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqliteSynchronous};
use sea_orm::sqlx::{self, Connection as _};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, RuntimeErr};
use tokio::sync::watch;

pub use assignments::AssignmentFilter;
pub use coalesce::CoalescingChecker;
pub use customers::{CustomerFilter, SubscriptionFilter};
pub use deliveries::{DispatchTarget, Outcome, RecordedAttempt};
pub use events::{EventAudience, EventFilter, SweepReport};
pub use gate::WriteGate;
pub use indexed::IndexedChecker;
pub use outbox::OutboxEntry;
pub use partners::{LinkFilter, PartnerFilter};
pub use relationships::{ChainView, GrantFilter, GrantTerms, InvitationFilter, RelationshipView};
pub use transfers::TransferFilter;
pub use webhooks::{EndpointOwner, SealedSecrets};
pub use write::{RequestKey, WriteTx};

use crate::domain::clock::Clock;
use crate::metrics::PoolStats;

/// Why the store could not be opened, said once: what failed, where
/// (never a password) and what to check. It keeps no source: the driver's
/// error is in the sentence already, and printed again it would only
/// repeat it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OpenError(String);

impl From<DbErr> for OpenError {
    fn from(error: DbErr) -> Self {
        match error {
            // Explained where it happened (`connect`, the lock file).
            DbErr::Conn(RuntimeErr::Internal(explained)) | DbErr::Custom(explained) => OpenError(explained),
            other => OpenError(format!("cannot open the store: {other}")),
        }
    }
}

/// Connection settings of the store.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    pub url: String,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// PostgreSQL cancels statements running longer than this.
    pub statement_timeout: Duration,
    /// SQLite's page cache per connection.
    pub sqlite_page_cache_mib: u32,
}

/// 8 MiB of pages per connection (SQLite's default is 2 MiB): the indexes
/// CheckAccess walks stay in memory instead of being read again through the
/// kernel, and eight connections stay far below the memory budget.
pub const DEFAULT_PAGE_CACHE_MIB: u32 = 8;

/// Prepared statements kept per SQLite connection.
const SQLITE_STATEMENT_CACHE: usize = 48;

#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// A3's freshness reads on SQLite: a connection of their own, outside
    /// the pool whose check of each connection given back costs another
    /// round trip to the connection's thread. None on PostgreSQL, whose
    /// pool check is cheap.
    freshness: Option<DatabaseConnection>,
    /// The same read stepped on the caller's thread, on a SQLite file.
    inline_counter: Option<Arc<freshness::InlineCounter>>,
    /// Write transactions on a SQLite file, stepped on the writer's thread
    /// (`inline`). None on PostgreSQL and in memory: the pool writes.
    inline_writer: Option<Arc<inline::InlineWriter>>,
    clock: Arc<dyn Clock>,
    /// The last event seq committed through this process; wakes watchers.
    committed: Arc<watch::Sender<i64>>,
    write_gate: WriteGate,
    /// A SQLite store's lock file, held shared by every process that has
    /// the store open, or exclusively by its sole writer.
    file_lock: Option<Arc<std::fs::File>>,
    /// I3: seals and opens invitation codes, once given the server's key.
    codes: codes::InvitationCodes,
}

impl Store {
    /// Connects and applies pending migrations.
    pub async fn open(options: &StoreOptions, clock: Arc<dyn Clock>) -> Result<Self, OpenError> {
        let file_lock = share_sqlite_file(&options.url)?.map(Arc::new);
        let db = connect(options).await?;
        migration::up(&db).await?;
        let freshness = if options.url.starts_with("sqlite:") {
            Some(open_pool(options, Pool::FreshnessReads).await?)
        } else {
            None
        };
        let inline_counter = sqlite_file_of(&options.url)
            .and_then(|path| freshness::InlineCounter::open(&path))
            .map(Arc::new);
        let inline_writer = match sqlite_file_of(&options.url) {
            Some(path) => Some(Arc::new(
                inline::InlineWriter::open(&path, options.sqlite_page_cache_mib).map_err(OpenError::from)?,
            )),
            None => None,
        };
        let (committed, _) = watch::channel(0);
        Ok(Store {
            db,
            freshness,
            inline_counter,
            inline_writer,
            clock,
            committed: Arc::new(committed),
            write_gate: WriteGate::default(),
            file_lock,
            codes: codes::InvitationCodes::default(),
        })
    }

    /// I3: the server's sealer, which keeps invitation codes sealed at
    /// rest. A store without one reads and sweeps invitations, but shows
    /// them without their codes and cannot create one.
    pub fn with_secret_box(mut self, sealer: Arc<dyn crate::domain::ports::SecretBox>) -> Self {
        self.codes = codes::InvitationCodes::new(sealer);
        self
    }

    /// Makes this process the SQLite store's only writer (the
    /// `sole_writer` setting): its lock file is taken exclusively, so no
    /// other process (a replica, `seed`, `migrate`) opens the store while
    /// this one runs; the access index then needs no read of the store to
    /// know it holds every acknowledged write (A3).
    pub fn claim_sole_writer(&self) -> Result<(), String> {
        let Some(file) = &self.file_lock else {
            return Err("sole_writer needs a SQLite file store (PostgreSQL and in-memory stores have other writers or none to exclude)".to_owned());
        };
        let held = || {
            "another process has this SQLite store open; sole_writer needs it to itself: stop the other processes (replicas, split services, seed) or set sole_writer = false".to_owned()
        };
        file.unlock()
            .map_err(|error| format!("cannot release the store's lock file: {error}"))?;
        match file.try_lock() {
            Ok(()) => Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => Err(held()),
            Err(std::fs::TryLockError::Error(error)) => Err(format!("cannot lock the store's lock file: {error}")),
        }
    }

    /// The last seq this process committed (0 before its first write).
    pub fn last_committed_here(&self) -> i64 {
        *self.committed.borrow()
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Where A3's barrier reads the committed `seq`: a single statement in
    /// autocommit, so no transaction can be left open on it.
    pub(crate) fn freshness_connection(&self) -> &DatabaseConnection {
        self.freshness.as_ref().unwrap_or(&self.db)
    }

    /// The committed `seq` read on this thread, without the driver's
    /// hand-off, when the store is a SQLite file and SQLite answers at once.
    pub(crate) fn committed_seq_inline(&self) -> Option<i64> {
        self.inline_counter.as_ref()?.read()
    }

    /// Keeps a long-running SQLite store's planner statistics in step with
    /// its size: `PRAGMA optimize` over every table (0x10000), analyzing
    /// only those that changed much since they were last analyzed, with a
    /// sampling limit (0x10, 0x02). Statistics of a store a fraction of its
    /// size make the planner scan whole indexes where it should seek (as
    /// `seed` once did). PostgreSQL's autovacuum keeps its own.
    pub async fn optimize(&self) -> std::result::Result<(), DbErr> {
        if self.db.get_database_backend() == DbBackend::Sqlite {
            self.db.execute_unprepared("PRAGMA optimize = 0x10012").await?;
        }
        Ok(())
    }

    /// The pool's connections at this moment, for the metrics gauges.
    pub fn pool_stats(&self) -> PoolStats {
        let (size, idle) = match self.db.get_database_backend() {
            DbBackend::Sqlite => {
                let pool = self.db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
            DbBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
            _ => (0, 0),
        };
        PoolStats {
            idle: idle as u32,
            in_use: size.saturating_sub(idle as u32),
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Notified with the last seq after each commit of this process.
    pub fn subscribe_commits(&self) -> watch::Receiver<i64> {
        self.committed.subscribe()
    }

    /// W4: whether the store answers: one statement on a pooled connection
    /// within `timeout`.
    pub async fn probe(&self, timeout: Duration) -> bool {
        let statement = self.db.execute_unprepared("SELECT 1");
        matches!(tokio::time::timeout(timeout, statement).await, Ok(Ok(_)))
    }

    /// W4: the store's health as a signal, probed every `every`: false once
    /// two probes in a row failed (one slow probe under load is not an
    /// outage), true again from the first that succeeds. The probing stops
    /// when every receiver is dropped.
    pub fn health(&self, every: Duration) -> watch::Receiver<bool> {
        let (healthy, receiver) = watch::channel(true);
        let store = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failures = 0u32;
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    () = healthy.closed() => return,
                }
                if store.probe(every.max(Duration::from_secs(1)) * 2).await {
                    failures = 0;
                } else {
                    failures += 1;
                    tracing::warn!(failures, "the store did not answer a health probe");
                }
                let now_healthy = failures < 2;
                healthy.send_if_modified(|was| std::mem::replace(was, now_healthy) != now_healthy);
            }
        });
        receiver
    }
}

/// Opens the pool. SQLite gets WAL with synchronous=FULL so that no
/// acknowledged write is lost even on power loss, foreign keys, and a busy
/// timeout so that writers queue instead of failing.
///
/// W4: a connection goes back to the pool only outside any transaction.
/// When a COMMIT or ROLLBACK fails (a full disk), SQLite may have ended
/// the transaction by itself while the driver still counts it open; the
/// next write on that connection would then open a SAVEPOINT in place of
/// BEGIN and its "commit" would release it inside a transaction that
/// never ends. Such a connection is closed, never reused.
pub async fn connect(options: &StoreOptions) -> Result<DatabaseConnection, DbErr> {
    open_pool(options, Pool::Store).await
}

/// What a pool is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pool {
    /// Every read and write: `max_connections`, each connection checked
    /// outside a transaction when given back.
    Store,
    /// One connection for single autocommit reads, unchecked.
    FreshnessReads,
}

async fn open_pool(options: &StoreOptions, pool: Pool) -> Result<DatabaseConnection, DbErr> {
    if options.url.starts_with("sqlite:") {
        sqlite_without_memory_statistics();
        create_sqlite_file_privately(&options.url);
    }
    let mut connect = ConnectOptions::new(options.url.clone());
    connect
        .max_connections(match pool {
            Pool::Store => options.max_connections,
            Pool::FreshnessReads => 1,
        })
        .min_connections(1)
        .acquire_timeout(options.acquire_timeout)
        .sqlx_logging(false)
        .map_sqlx_postgres_opts({
            let statement_timeout = format!("{}ms", options.statement_timeout.as_millis());
            move |postgres| postgres.options([("statement_timeout", statement_timeout.as_str())])
        })
        .map_sqlx_postgres_pool_opts(|pool| pool.after_release(postgres_outside_transaction))
        .map_sqlx_sqlite_opts({
            let cache_size = format!("-{}", u64::from(options.sqlite_page_cache_mib.max(1)) * 1024);
            move |sqlite| {
                sqlite
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(Duration::from_secs(30))
                    // Negative: in KiB rather than pages.
                    .pragma("cache_size", cache_size.clone())
                    // Statements of many lengths (the access facts of a batch,
                    // the ids a load reads) are large when prepared: a small
                    // cache keeps the common ones without holding every
                    // length ever seen on every connection.
                    .statement_cache_capacity(SQLITE_STATEMENT_CACHE)
            }
        })
        .map_sqlx_sqlite_pool_opts(move |sqlite_pool| {
            // A ping reaches the connection's worker thread, which is all
            // it proves on SQLite.
            let sqlite_pool = sqlite_pool.test_before_acquire(false);
            match pool {
                // Checked when given back only: an idle connection cannot
                // enter a transaction, and each check is a round trip to
                // the connection's thread (under the write turn, for a write).
                Pool::Store => sqlite_pool.after_release(sqlite_outside_transaction),
                Pool::FreshnessReads => sqlite_pool,
            }
        });
    if options.url.starts_with("postgres") {
        wait_for_postgres(&options.url, options.acquire_timeout).await?;
    }
    let deadline = tokio::time::Instant::now() + options.acquire_timeout;
    loop {
        match Database::connect(connect.clone()).await {
            Ok(db) => return Ok(db),
            // Replicas creating one new SQLite file at once: switching it to
            // WAL needs the file to itself, and SQLite refuses one of two
            // connections that try at once without waiting.
            Err(error) if fault::is_sqlite_busy(&error) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(error) => {
                return Err(DbErr::Conn(RuntimeErr::Internal(
                    explain_open_failure(&options.url, error).await,
                )));
            }
        }
    }
}

/// Pause between two attempts to reach PostgreSQL at start-up.
const POSTGRES_RETRY: Duration = Duration::from_secs(1);

/// A PostgreSQL that does not answer (not started yet, restarting) is
/// tried again for up to `patience`, each failure logged, rather than
/// waited for in silence; a refusal no retry can change (a wrong password,
/// no such database) fails at once. Either way the failure is named once,
/// with the URL without its password.
async fn wait_for_postgres(url: &str, patience: Duration) -> Result<(), DbErr> {
    // A URL the driver cannot read is explained by the pool's attempt.
    let Ok(postgres) = url.parse::<PgConnectOptions>() else {
        return Ok(());
    };
    let address = format!("{}:{}", postgres.get_host(), postgres.get_port());
    let started = tokio::time::Instant::now();
    let deadline = started + patience;
    let failed = |cause: String| {
        DbErr::Conn(RuntimeErr::Internal(format!(
            "cannot connect to PostgreSQL at {address} ({}): {cause}; \
             check that the server runs and is reachable there, and the URL's host, port, user, password and database \
             (--database-url or PARTNERCENTER_DATABASE_URL)",
            crate::config::redact_url(url)
        )))
    };
    for attempt in 1u32.. {
        let left = deadline
            .saturating_duration_since(tokio::time::Instant::now())
            .max(POSTGRES_RETRY);
        let cause = match tokio::time::timeout(left, PgConnection::connect_with(&postgres)).await {
            Ok(Ok(connection)) => {
                // Only a probe: the pool opens its own.
                let _ = connection.close().await;
                return Ok(());
            }
            Ok(Err(error)) if !worth_retrying(&error) => return Err(failed(error.to_string())),
            Ok(Err(error)) => error.to_string(),
            Err(_) => format!("no answer within {}", humantime::format_duration(left)),
        };
        if tokio::time::Instant::now() + POSTGRES_RETRY >= deadline {
            let tried = humantime::format_duration(Duration::from_secs(started.elapsed().as_secs()));
            return Err(failed(format!("{cause} (tried {attempt} times over {tried})")));
        }
        tracing::warn!(
            %address,
            attempt,
            %cause,
            "PostgreSQL does not answer yet; retrying until the acquire timeout ({}) has passed",
            humantime::format_duration(patience)
        );
        tokio::time::sleep(POSTGRES_RETRY).await;
    }
    Ok(())
}

/// A server that cannot be reached, or is starting up, may answer later;
/// a refusal of the credentials or the database will not change.
fn worth_retrying(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut => true,
        // cannot_connect_now: starting up or shutting down.
        sqlx::Error::Database(error) => error.code().as_deref() == Some("57P03"),
        _ => false,
    }
}

/// A store that cannot be opened is named, with the cause and the fix:
/// PostgreSQL by host and port (never the password), SQLite by its path.
async fn explain_open_failure(url: &str, error: DbErr) -> String {
    if url.starts_with("postgres")
        && let Ok(postgres) = url.parse::<PgConnectOptions>()
    {
        let address = format!("{}:{}", postgres.get_host(), postgres.get_port());
        let database = postgres.get_database().unwrap_or("postgres");
        // A pool that timed out does not say why; one direct attempt does.
        let cause = match tokio::time::timeout(Duration::from_secs(5), PgConnection::connect_with(&postgres)).await {
            Ok(Err(cause)) => cause.to_string(),
            _ => error.to_string(),
        };
        return format!(
            "cannot connect to PostgreSQL at {address} ({}, database {database}): {cause}; \
             check that the server runs and is reachable there, and the URL's host, port, user and database",
            crate::config::redact_url(url)
        );
    }
    if url.starts_with("sqlite:")
        && let Ok(sqlite) = url.parse::<SqliteConnectOptions>()
    {
        let path = sqlite.get_filename();
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            return format!(
                "cannot open the SQLite database {}: the directory {} does not exist; \
                 create it (mkdir -p {}) or set the database URL to a file in an existing directory",
                path.display(),
                dir.display(),
                dir.display()
            );
        }
        // SQLite creates the file and its -wal and -shm files beside it.
        if let Err(cause) = tempfile::tempfile_in(dir) {
            return format!(
                "cannot open the SQLite database {}: the directory {} is not writable ({cause}); \
                 SQLite creates the file and its -wal and -shm files there: make it writable \
                 for this user or set the database URL to a file in a writable directory",
                path.display(),
                dir.display()
            );
        }
        return format!("cannot open the SQLite database {}: {error}", path.display());
    }
    format!("cannot open the store: {error}")
}

/// The SQLite file a URL names, unless in memory.
fn sqlite_file_of(url: &str) -> Option<std::path::PathBuf> {
    // The parser takes any URL for a file name.
    if !url.starts_with("sqlite:") {
        return None;
    }
    let options = url.parse::<SqliteConnectOptions>().ok()?;
    let path = options.get_filename();
    (!path.as_os_str().is_empty() && !path.to_string_lossy().contains(":memory:")).then(|| path.to_path_buf())
}

/// Opens (creating if missing) a file beside the store readable and
/// writable by this user only.
fn private_file(path: &std::path::Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// A new SQLite store is created readable and writable by this user
/// only (the store holds invitation codes and secrets): the empty file is
/// made with mode 0600 before SQLite opens it, and SQLite gives its -wal
/// and -shm files the database file's permissions. An existing file keeps
/// its mode (the operator's choice); a directory that cannot hold the
/// file is explained by the open that follows.
fn create_sqlite_file_privately(url: &str) {
    if let Some(path) = sqlite_file_of(url).filter(|path| !path.exists()) {
        let _ = private_file(&path);
    }
}

/// The lock file beside a SQLite store (`FILE.lock`), held shared: refused
/// while a sole writer holds it exclusively. None for other stores.
fn share_sqlite_file(url: &str) -> Result<Option<std::fs::File>, DbErr> {
    if !url.starts_with("sqlite:") {
        return Ok(None);
    }
    let Some(path) = sqlite_file_of(url) else {
        return Ok(None);
    };
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    // A directory that cannot hold it is explained by the open that follows.
    let Ok(file) = private_file(std::path::Path::new(&lock_path)) else {
        return Ok(None);
    };
    match file.try_lock_shared() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(DbErr::Custom(format!(
            "the SQLite store {} is held by a process running with sole_writer = true; stop it, or run that one with sole_writer = false",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(_)) => Ok(None),
    }
}

/// SQLite keeps memory statistics behind one global mutex, taken on every
/// allocation of every connection (5-10 % of a read under load); nothing
/// here reads them. Only before SQLite initializes can this be set: the
/// first store this process opens does it, and a later call is a no-op.
fn sqlite_without_memory_statistics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: SQLITE_CONFIG_MEMSTATUS takes one int; called before the
        // library is initialized it only sets a flag (afterwards it returns
        // SQLITE_MISUSE and changes nothing).
        let code =
            unsafe { libsqlite3_sys::sqlite3_config(libsqlite3_sys::SQLITE_CONFIG_MEMSTATUS, 0 as std::ffi::c_int) };
        if code != libsqlite3_sys::SQLITE_OK {
            tracing::debug!(code, "SQLite was initialized already; its memory statistics stay on");
        }
    });
}

type HookFuture<'c> = Pin<Box<dyn Future<Output = Result<bool, sqlx::Error>> + Send + 'c>>;

/// Whether a pooled SQLite connection may be used (or kept): the driver
/// counts no open transaction and SQLite itself is in autocommit mode.
/// `false` closes it; the pool opens a fresh one when it needs one.
fn sqlite_outside_transaction(conn: &mut SqliteConnection, _: PoolConnectionMetadata) -> HookFuture<'_> {
    Box::pin(async move {
        // The handle first: the worker runs the commands queued before it,
        // such as the rollback of a transaction dropped unfinished (an early
        // refusal), and only then counts the transaction closed. Checked
        // before, such a healthy connection would be closed for nothing.
        let mut handle = conn.lock_handle().await?;
        // SAFETY: the locked handle is a live connection that the worker
        // thread does not use while it is locked.
        let autocommit = unsafe { libsqlite3_sys::sqlite3_get_autocommit(handle.as_raw_handle().as_ptr()) } != 0;
        drop(handle);
        if conn.is_in_transaction() {
            tracing::warn!("closing a SQLite connection left inside a transaction");
            return Ok(false);
        }
        if !autocommit {
            tracing::warn!("closing a SQLite connection whose transaction never ended");
        }
        Ok(autocommit)
    })
}

/// A PostgreSQL connection whose transaction the driver still counts open
/// (its COMMIT or ROLLBACK failed) is closed rather than pooled.
fn postgres_outside_transaction(conn: &mut PgConnection, _: PoolConnectionMetadata) -> HookFuture<'_> {
    Box::pin(async move {
        if conn.is_in_transaction() {
            tracing::warn!("closing a PostgreSQL connection left inside a transaction");
            return Ok(false);
        }
        Ok(true)
    })
}

/// Applies pending migrations (the `migrate` subcommand).
pub async fn migrate(options: &StoreOptions) -> Result<(), OpenError> {
    let _shared = share_sqlite_file(&options.url)?;
    let db = connect(options).await?;
    Ok(migration::up(&db).await?)
}

/// A new server-assigned id: UUIDv7, so ids sort by creation time.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use crate::domain::clock::ManualClock;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &std::path::Path) -> u32 {
        std::fs::metadata(path).expect("the file").permissions().mode() & 0o777
    }

    /// A new store's file, its WAL and its lock file are this user's only;
    /// an existing file keeps the mode it was given.
    #[tokio::test]
    async fn a_new_sqlite_store_is_readable_by_its_user_only() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("private.db");
        let options = StoreOptions {
            url: format!("sqlite://{}?mode=rwc", file.display()),
            max_connections: 1,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            sqlite_page_cache_mib: DEFAULT_PAGE_CACHE_MIB,
        };
        let store = Store::open(&options, Arc::new(ManualClock::new(0)))
            .await
            .expect("opened");
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&dir.path().join("private.db-wal")), 0o600);
        assert_eq!(mode(&dir.path().join("private.db.lock")), 0o600);
        drop(store);

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let store = Store::open(&options, Arc::new(ManualClock::new(0)))
            .await
            .expect("reopened");
        assert_eq!(mode(&file), 0o640, "an existing file keeps its mode");
        drop(store);
    }
}
