//! The store: sea-orm entities, migrations and queries over embedded SQLite
//! (the zero-setup default) or PostgreSQL (production).

mod access;
pub mod bulk;
mod coalesce;
mod convert;
mod customers;
pub mod entity;
mod events;
pub mod migration;
mod partners;
mod relationships;
mod write;

use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};
use sea_orm_migration::MigratorTrait;
use tokio::sync::watch;

pub use coalesce::CoalescingChecker;
pub use customers::{CustomerFilter, SubscriptionFilter};
pub use events::{EventAudience, EventFilter, SweepReport};
pub use partners::{LinkFilter, PartnerFilter};
pub use relationships::{ChainView, GrantTerms, InvitationFilter, RelationshipView};
pub use write::{RequestKey, WriteGate, WriteTx};

use crate::domain::clock::Clock;
use crate::domain::{Error, ErrorCode, Reason};

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

#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    clock: Arc<dyn Clock>,
    /// The last event seq committed through this process; wakes watchers.
    committed: Arc<watch::Sender<i64>>,
    write_gate: WriteGate,
}

impl Store {
    /// Connects and applies pending migrations.
    pub async fn open(options: &StoreOptions, clock: Arc<dyn Clock>) -> Result<Self, DbErr> {
        let db = connect(options).await?;
        migration::Migrator::up(&db, None).await?;
        let (committed, _) = watch::channel(0);
        Ok(Store {
            db,
            clock,
            committed: Arc::new(committed),
            write_gate: WriteGate::default(),
        })
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Notified with the last seq after each commit of this process.
    pub fn subscribe_commits(&self) -> watch::Receiver<i64> {
        self.committed.subscribe()
    }
}

/// Opens the pool. SQLite gets WAL with synchronous=FULL so that no
/// acknowledged write is lost even on power loss, foreign keys, and a busy
/// timeout so that writers queue instead of failing.
pub async fn connect(options: &StoreOptions) -> Result<DatabaseConnection, DbErr> {
    let mut connect = ConnectOptions::new(options.url.clone());
    connect
        .max_connections(options.max_connections)
        .min_connections(1)
        .acquire_timeout(options.acquire_timeout)
        .sqlx_logging(false)
        .map_sqlx_postgres_opts({
            let statement_timeout = format!("{}ms", options.statement_timeout.as_millis());
            move |postgres| postgres.options([("statement_timeout", statement_timeout.as_str())])
        })
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
            }
        });
    Database::connect(connect).await
}

/// Applies pending migrations (the `migrate` subcommand).
pub async fn migrate(options: &StoreOptions) -> Result<(), DbErr> {
    let db = connect(options).await?;
    migration::Migrator::up(&db, None).await
}

impl From<DbErr> for Error {
    fn from(error: DbErr) -> Self {
        let retryable = matches!(error, DbErr::ConnectionAcquire(_) | DbErr::Conn(_))
            || error.to_string().contains("database is locked");
        tracing::error!(error = %error, "store error");
        if retryable {
            Error::new(
                ErrorCode::Unavailable,
                Reason::StoreUnavailable,
                "the store is unavailable; retry with backoff",
            )
        } else {
            Error::internal("the store failed; see the server log")
        }
    }
}

/// A new server-assigned id: UUIDv7, so ids sort by creation time.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}
