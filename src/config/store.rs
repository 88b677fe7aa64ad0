//! `[store]`: which database, and the pool over it.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};

pub const DEFAULT_DATABASE_URL: &str = "sqlite://partnercenter.db?mode=rwc";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    pub database_url: String,
    pub max_connections: u32,
    /// How long a call waits for a pooled connection; also how long the
    /// store is retried at start-up.
    #[serde(with = "super::values::duration")]
    pub acquire_timeout: Duration,
    /// PostgreSQL cancels a statement running longer than this.
    #[serde(with = "super::values::duration")]
    pub statement_timeout: Duration,
    /// This process alone writes the SQLite store (its lock file taken
    /// exclusively): the access index then knows every write without a read.
    pub sole_writer: bool,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(30),
            sole_writer: false,
        }
    }
}

impl StoreSettings {
    pub(super) fn check(&mut self) -> Result<(), String> {
        check_database_url(&self.database_url)?;
        super::values::at_least_one(&[("max_connections", u64::from(self.max_connections))])?;
        // 0 would turn PostgreSQL's statement timeout off.
        self.statement_timeout = self.statement_timeout.max(Duration::from_secs(1));
        if self.sole_writer && !self.database_url.starts_with("sqlite:") {
            return Err(
                "sole_writer = true needs a SQLite file store; with PostgreSQL every replica may write".to_owned(),
            );
        }
        Ok(())
    }

    /// The SQLite file behind the database URL, if it is one.
    pub fn sqlite_file(&self) -> Option<PathBuf> {
        let rest = self
            .database_url
            .strip_prefix("sqlite://")
            .or_else(|| self.database_url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
    }
}

/// A URL the store cannot open is named before anything else is asked
/// about it (e.g. the token secret).
fn check_database_url(url: &str) -> Result<(), String> {
    let known = ["sqlite:", "postgres://", "postgresql://"];
    if known.iter().any(|prefix| url.starts_with(prefix)) {
        return Ok(());
    }
    Err(format!(
        "the database URL '{}' is neither SQLite nor PostgreSQL: give sqlite://FILE?mode=rwc or postgres://USER:PASSWORD@HOST:PORT/DB (--database-url or PARTNERCENTER_DATABASE_URL)",
        redact_url(url)
    ))
}

/// `postgres://user:secret@host/db` → `postgres://user:<redacted>@host/db`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:<redacted>@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The flag of every subcommand that finds the store (`token` too: the
/// zero-setup secret is kept beside the SQLite file).
#[derive(Args, Clone, Debug, Default, Serialize)]
#[command(next_help_heading = "Store")]
pub struct DatabaseArgs {
    /// Database URL: sqlite://FILE?mode=rwc or postgres://USER:PASS@HOST/DB;
    /// DATABASE_URL is read too.
    #[arg(long)]
    pub database_url: Option<String>,
}

/// The flags of `[store]`.
#[derive(Args, Clone, Debug, Default, Serialize)]
#[command(next_help_heading = "Store")]
pub struct StoreArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub database: DatabaseArgs,
    /// Connections in the store's pool.
    #[arg(long)]
    pub max_connections: Option<u32>,
    /// How long a call waits for a pooled connection, and the store is
    /// retried at start-up, e.g. 10s.
    #[arg(long, value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Option<Duration>,
    /// PostgreSQL cancels a statement running longer than this, e.g. 30s.
    #[arg(long, value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub statement_timeout: Option<Duration>,
    /// SQLite only, one process: take the store's lock file exclusively, so
    /// that access checks need no read of the store.
    #[arg(long)]
    pub sole_writer: Option<bool>,
}
