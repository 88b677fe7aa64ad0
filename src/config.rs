//! Configuration, layered: built-in defaults, then a TOML file (`--config`),
//! then `PARTNERCENTER_*` environment variables, then command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use crate::api::RelationshipSettings;
use serde::Deserialize;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://partnercenter.db?mode=rwc";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";

/// Flags shared by every subcommand that touches the store or tokens; each
/// also reads its environment variable.
#[derive(Args, Clone, Debug, Default)]
pub struct ConfigArgs {
    /// TOML configuration file.
    #[arg(long, env = "PARTNERCENTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://FILE?mode=rwc or postgres://USER:PASS@HOST/DB.
    /// DATABASE_URL is read too.
    #[arg(long, env = "PARTNERCENTER_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Connections in the store's pool.
    #[arg(long, env = "PARTNERCENTER_MAX_CONNECTIONS")]
    pub max_connections: Option<u32>,
    /// Log format: text or json.
    #[arg(long, env = "PARTNERCENTER_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The TOML file: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    database_url: Option<String>,
    max_connections: Option<u32>,
    acquire_timeout_seconds: Option<u64>,
    statement_timeout_seconds: Option<u64>,
    jwt_secret: Option<String>,
    jwt_issuer: Option<String>,
    jwt_audience: Option<String>,
    log_format: Option<LogFormat>,
    drain_timeout_seconds: Option<u64>,
    max_message_bytes: Option<usize>,
    invitation_base_url: Option<String>,
    invitation_default_days: Option<i32>,
    sweep_interval_seconds: Option<u64>,
    watch_buffer: Option<usize>,
    watch_poll_millis: Option<u64>,
    watch_grace_millis: Option<u64>,
    /// An address, or "off".
    metrics_listen: Option<String>,
}

#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// PostgreSQL cancels a statement running longer than this.
    pub statement_timeout: Duration,
    /// None: use the secret kept beside the SQLite file.
    pub jwt_secret: Option<String>,
    pub jwt_issuer: String,
    pub jwt_audience: Option<String>,
    pub log_format: LogFormat,
    pub drain_timeout: Duration,
    pub max_message_bytes: usize,
    pub relationships: RelationshipSettings,
    /// How often expired grants and invitations are recorded (D4, I5).
    pub sweep_interval: Duration,
    /// Where `/metrics` is served; None: not served.
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: DEFAULT_LISTEN
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 50051))),
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(30),
            jwt_secret: None,
            jwt_issuer: "partnercenter".to_owned(),
            jwt_audience: None,
            log_format: LogFormat::Text,
            drain_timeout: Duration::from_secs(20),
            max_message_bytes: 4 << 20,
            relationships: RelationshipSettings::default(),
            sweep_interval: Duration::from_secs(60),
            metrics_listen: Some(SocketAddr::from(([127, 0, 0, 1], 9464))),
        }
    }
}

impl std::fmt::Debug for Config {
    /// Printed at start-up: the secret is redacted, and so is a password in
    /// the database URL.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database_url", &redact_url(&self.database_url))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "<redacted>"))
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("log_format", &self.log_format)
            .field("drain_timeout", &self.drain_timeout)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("relationships", &self.relationships)
            .field("sweep_interval", &self.sweep_interval)
            .field("metrics_listen", &self.metrics_listen)
            .finish()
    }
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

impl Config {
    /// Defaults, then the file, then environment and flags (clap has
    /// already merged those two, flags winning).
    pub fn load(args: &ConfigArgs, listen_flag: Option<SocketAddr>) -> Result<Self, String> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let mut config = Config::default();
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        config.listen = listen_flag
            .or(env("PARTNERCENTER_LISTEN")
                .map(|v| v.parse())
                .transpose()
                .map_err(|e| format!("PARTNERCENTER_LISTEN: {e}"))?)
            .or(file.listen)
            .unwrap_or(config.listen);
        config.database_url = args
            .database_url
            .clone()
            .or(env("DATABASE_URL"))
            .or(file.database_url)
            .unwrap_or(config.database_url);
        config.max_connections = args
            .max_connections
            .or(file.max_connections)
            .unwrap_or(config.max_connections);
        if let Some(seconds) = file.acquire_timeout_seconds {
            config.acquire_timeout = Duration::from_secs(seconds);
        }
        if let Some(seconds) = file.statement_timeout_seconds {
            config.statement_timeout = Duration::from_secs(seconds.max(1));
        }
        config.jwt_secret = env("PARTNERCENTER_JWT_SECRET").or(file.jwt_secret);
        config.jwt_issuer = env("PARTNERCENTER_JWT_ISSUER")
            .or(file.jwt_issuer)
            .unwrap_or(config.jwt_issuer);
        config.jwt_audience = env("PARTNERCENTER_JWT_AUDIENCE").or(file.jwt_audience);
        config.log_format = args.log_format.or(file.log_format).unwrap_or_default();
        if let Some(seconds) = env("PARTNERCENTER_DRAIN_TIMEOUT_SECONDS")
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|e| format!("PARTNERCENTER_DRAIN_TIMEOUT_SECONDS: {e}"))
            })
            .transpose()?
            .or(file.drain_timeout_seconds)
        {
            config.drain_timeout = Duration::from_secs(seconds);
        }
        if let Some(bytes) = file.max_message_bytes {
            config.max_message_bytes = bytes;
        }
        let settings = &mut config.relationships;
        if let Some(url) = env("PARTNERCENTER_INVITATION_BASE_URL").or(file.invitation_base_url) {
            settings.invitation_base_url = url;
        }
        if let Some(days) = file.invitation_default_days {
            if !(1..=crate::domain::rules::MAX_INVITATION_DAYS).contains(&days) {
                return Err("invitation_default_days must be between 1 and 365".to_owned());
            }
            settings.invitation_default_days = days;
        }
        if let Some(buffer) = file.watch_buffer {
            settings.watch_buffer = buffer.max(2);
        }
        if let Some(millis) = file.watch_poll_millis {
            settings.watch_poll = Duration::from_millis(millis.max(10));
        }
        if let Some(millis) = file.watch_grace_millis {
            settings.watch_grace = Duration::from_millis(millis);
        }
        if let Some(seconds) = file.sweep_interval_seconds {
            config.sweep_interval = Duration::from_secs(seconds.max(1));
        }
        if let Some(metrics) = env("PARTNERCENTER_METRICS_LISTEN").or(file.metrics_listen) {
            config.metrics_listen = match metrics.as_str() {
                "off" | "none" => None,
                address => Some(
                    address
                        .parse()
                        .map_err(|e| format!("metrics_listen '{address}': {e}"))?,
                ),
            };
        }
        if config.max_connections == 0 {
            return Err("max_connections must be at least 1".to_owned());
        }
        Ok(config)
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

    /// The token secret: configured, or generated beside the SQLite file.
    pub fn jwt_secret(&self) -> Result<Vec<u8>, String> {
        if let Some(secret) = &self.jwt_secret {
            if secret.len() < 16 {
                return Err("the JWT secret must be at least 16 bytes".to_owned());
            }
            return Ok(secret.as_bytes().to_vec());
        }
        let file = self.sqlite_file().ok_or_else(|| {
            "set PARTNERCENTER_JWT_SECRET (or jwt_secret in the config file): there is no SQLite file to keep a generated one beside".to_owned()
        })?;
        crate::auth::secret_beside(&file).map_err(|error| {
            format!(
                "cannot read or create {}: {error}",
                crate::auth::secret_path(&file).display()
            )
        })
    }
}

fn read_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://pc:hunter2@db:5432/pc"),
            "postgres://pc:<redacted>@db:5432/pc"
        );
        assert_eq!(redact_url(DEFAULT_DATABASE_URL), DEFAULT_DATABASE_URL);
    }

    #[test]
    fn the_example_file_is_every_default() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/partnercenter.example.toml");
        let args = ConfigArgs {
            config: Some(path),
            ..ConfigArgs::default()
        };
        let loaded = Config::load(&args, None).expect("the example loads");
        assert_eq!(format!("{loaded:?}"), format!("{:?}", Config::default()));
    }

    #[test]
    fn finds_the_sqlite_file() {
        let config = Config::default();
        assert_eq!(config.sqlite_file(), Some(PathBuf::from("partnercenter.db")));
        let memory = Config {
            database_url: "sqlite::memory:".into(),
            ..Config::default()
        };
        assert_eq!(memory.sqlite_file(), None);
    }
}
