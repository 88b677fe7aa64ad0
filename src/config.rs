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
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9464";

/// Flags shared by every subcommand that touches the store or tokens; each
/// also reads its environment variable.
#[derive(Args, Clone, Debug, Default)]
pub struct ConfigArgs {
    /// TOML configuration file [default: none].
    #[arg(long, env = "PARTNERCENTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://FILE?mode=rwc or postgres://USER:PASS@HOST/DB;
    /// DATABASE_URL is read too [default: sqlite://partnercenter.db?mode=rwc].
    #[arg(long, env = "PARTNERCENTER_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Connections in the store's pool [default: 8].
    #[arg(long, env = "PARTNERCENTER_MAX_CONNECTIONS")]
    pub max_connections: Option<u32>,
    /// Log format [default: text].
    #[arg(long, env = "PARTNERCENTER_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
}

/// Flags of `serve` only; each also reads its environment variable.
#[derive(Args, Clone, Debug, Default)]
pub struct ServeArgs {
    /// gRPC address, HOST:PORT (a host name is resolved)
    /// [default: 127.0.0.1:50051].
    #[arg(long, env = "PARTNERCENTER_LISTEN")]
    pub listen: Option<String>,
    /// Prometheus /metrics address HOST:PORT, or "off"
    /// [default: 127.0.0.1:9464].
    #[arg(long, env = "PARTNERCENTER_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
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
    listen: Option<String>,
    database_url: Option<String>,
    max_connections: Option<u32>,
    acquire_timeout_seconds: Option<u64>,
    statement_timeout_seconds: Option<u64>,
    jwt_secret: Option<String>,
    jwt_issuer: Option<String>,
    jwt_audience: Option<String>,
    jwt_max_lifetime_seconds: Option<u64>,
    log_format: Option<LogFormat>,
    drain_timeout_seconds: Option<u64>,
    max_message_bytes: Option<usize>,
    max_concurrent_streams: Option<u32>,
    max_client_connections: Option<usize>,
    max_in_flight_rpcs: Option<usize>,
    rpc_timeout_seconds: Option<u64>,
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
    /// Tokens living longer than this (`exp - iat`) are refused, and
    /// `token --ttl` may not exceed it.
    pub jwt_max_lifetime: Duration,
    pub log_format: LogFormat,
    pub drain_timeout: Duration,
    pub max_message_bytes: usize,
    /// HTTP/2 streams (calls) one connection may have open at once.
    pub max_concurrent_streams: u32,
    /// Client connections served at once; more wait in the listen backlog.
    pub max_client_connections: usize,
    /// Calls of the three services running at once; more are refused with
    /// RESOURCE_EXHAUSTED at once. Health and reflection are not counted.
    pub max_in_flight_rpcs: usize,
    /// A unary call still running after this is answered DEADLINE_EXCEEDED
    /// (a shorter client deadline wins).
    pub rpc_timeout: Duration,
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
            jwt_max_lifetime: crate::auth::DEFAULT_MAX_TOKEN_LIFETIME,
            log_format: LogFormat::Text,
            drain_timeout: Duration::from_secs(20),
            max_message_bytes: 4 << 20,
            max_concurrent_streams: 256,
            max_client_connections: 1024,
            max_in_flight_rpcs: 256,
            rpc_timeout: Duration::from_secs(30),
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
            .field("jwt_max_lifetime", &self.jwt_max_lifetime)
            .field("log_format", &self.log_format)
            .field("drain_timeout", &self.drain_timeout)
            .field("max_message_bytes", &self.max_message_bytes)
            .field("max_concurrent_streams", &self.max_concurrent_streams)
            .field("max_client_connections", &self.max_client_connections)
            .field("max_in_flight_rpcs", &self.max_in_flight_rpcs)
            .field("rpc_timeout", &self.rpc_timeout)
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
    /// already merged those two, flags winning). `serve` gives its own flags.
    pub fn load(args: &ConfigArgs, serve: Option<&ServeArgs>) -> Result<Self, String> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let mut config = Config::default();
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let number = |name: &str| -> Result<Option<u64>, String> {
            env(name)
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|e| format!("{name}='{v}': {e}; give a whole number"))
                })
                .transpose()
        };
        let listen_flag = serve.and_then(|flags| flags.listen.clone());
        if let Some(listen) = listen_flag.or(env("PARTNERCENTER_LISTEN")).or(file.listen) {
            config.listen = resolve_addr(&listen, "the gRPC listen address (--listen)")?;
        }
        config.database_url = args
            .database_url
            .clone()
            .or(env("DATABASE_URL"))
            .or(file.database_url)
            .unwrap_or(config.database_url);
        check_database_url(&config.database_url)?;
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
        if let Some(seconds) = number("PARTNERCENTER_JWT_MAX_LIFETIME_SECONDS")?.or(file.jwt_max_lifetime_seconds) {
            if seconds == 0 {
                return Err("jwt_max_lifetime_seconds must be at least 1".to_owned());
            }
            config.jwt_max_lifetime = Duration::from_secs(seconds);
        }
        config.log_format = args.log_format.or(file.log_format).unwrap_or_default();
        if let Some(seconds) = number("PARTNERCENTER_DRAIN_TIMEOUT_SECONDS")?.or(file.drain_timeout_seconds) {
            config.drain_timeout = Duration::from_secs(seconds);
        }
        if let Some(bytes) = file.max_message_bytes {
            // W3: a list page is cut at MAX_PAGE_BYTES of items, and one
            // resource stays under 1 MiB; a smaller message limit would fail
            // the pages the service builds.
            let floor = crate::domain::paging::MAX_PAGE_BYTES * 2;
            if bytes < floor {
                return Err(format!(
                    "max_message_bytes must be at least {floor} (list pages carry up to {} bytes of items); \
                     it is {bytes}",
                    crate::domain::paging::MAX_PAGE_BYTES
                ));
            }
            config.max_message_bytes = bytes;
        }
        if let Some(streams) = number("PARTNERCENTER_MAX_CONCURRENT_STREAMS")?
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
            .or(file.max_concurrent_streams)
        {
            config.max_concurrent_streams = streams;
        }
        if let Some(connections) = number("PARTNERCENTER_MAX_CLIENT_CONNECTIONS")?
            .map(|n| n as usize)
            .or(file.max_client_connections)
        {
            config.max_client_connections = connections;
        }
        if let Some(calls) = number("PARTNERCENTER_MAX_IN_FLIGHT_RPCS")?
            .map(|n| n as usize)
            .or(file.max_in_flight_rpcs)
        {
            config.max_in_flight_rpcs = calls;
        }
        if let Some(seconds) = number("PARTNERCENTER_RPC_TIMEOUT_SECONDS")?.or(file.rpc_timeout_seconds) {
            config.rpc_timeout = Duration::from_secs(seconds);
        }
        for (name, value) in [
            ("max_concurrent_streams", config.max_concurrent_streams as u64),
            ("max_client_connections", config.max_client_connections as u64),
            ("max_in_flight_rpcs", config.max_in_flight_rpcs as u64),
            ("rpc_timeout_seconds", config.rpc_timeout.as_secs()),
        ] {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
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
        let metrics_flag = serve.and_then(|flags| flags.metrics_listen.clone());
        if let Some(metrics) = metrics_flag
            .or(env("PARTNERCENTER_METRICS_LISTEN"))
            .or(file.metrics_listen)
        {
            config.metrics_listen = match metrics.as_str() {
                "off" | "none" => None,
                address => Some(resolve_addr(
                    address,
                    "the metrics address (--metrics-listen, or \"off\")",
                )?),
            };
        }
        if config.max_connections == 0 {
            return Err("max_connections must be at least 1".to_owned());
        }
        Ok(config)
    }

    /// Logs the effective configuration at start-up, one field per key
    /// (plain values, no Rust debug syntax), secrets redacted.
    pub fn log_effective(&self) {
        let settings = &self.relationships;
        tracing::info!(
            listen = %self.listen,
            database_url = %redact_url(&self.database_url),
            max_connections = self.max_connections,
            acquire_timeout_seconds = self.acquire_timeout.as_secs(),
            statement_timeout_seconds = self.statement_timeout.as_secs(),
            jwt_secret = if self.jwt_secret.is_some() { "<redacted>" } else { "beside the SQLite file" },
            jwt_issuer = %self.jwt_issuer,
            jwt_audience = self.jwt_audience.as_deref().unwrap_or("none"),
            jwt_max_lifetime_seconds = self.jwt_max_lifetime.as_secs(),
            log_format = if self.log_format == LogFormat::Json { "json" } else { "text" },
            drain_timeout_seconds = self.drain_timeout.as_secs(),
            max_message_bytes = self.max_message_bytes,
            max_concurrent_streams = self.max_concurrent_streams,
            max_client_connections = self.max_client_connections,
            max_in_flight_rpcs = self.max_in_flight_rpcs,
            rpc_timeout_seconds = self.rpc_timeout.as_secs(),
            invitation_base_url = %settings.invitation_base_url,
            invitation_default_days = settings.invitation_default_days,
            sweep_interval_seconds = self.sweep_interval.as_secs(),
            watch_buffer = settings.watch_buffer,
            watch_poll_millis = settings.watch_poll.as_millis() as u64,
            watch_grace_millis = settings.watch_grace.as_millis() as u64,
            metrics_listen = %self.metrics_listen.map_or_else(|| "off".to_owned(), |a| a.to_string()),
            "effective configuration"
        );
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

    /// The token secret: configured, or generated beside the SQLite file
    /// (created on first use: `serve` and `migrate`).
    pub fn jwt_secret(&self) -> Result<Vec<u8>, String> {
        self.secret(true)
    }

    /// The secret a running server uses, never a new one: `token` must sign
    /// with what `serve` checks, or its tokens are refused.
    pub fn existing_jwt_secret(&self) -> Result<Vec<u8>, String> {
        self.secret(false)
    }

    fn secret(&self, create: bool) -> Result<Vec<u8>, String> {
        if let Some(secret) = &self.jwt_secret {
            if secret.len() < 16 {
                return Err(
                    "the JWT secret (PARTNERCENTER_JWT_SECRET or jwt_secret) is shorter than 16 bytes; use e.g. `openssl rand -base64 32`"
                        .to_owned(),
                );
            }
            return Ok(secret.as_bytes().to_vec());
        }
        let file = self.sqlite_file().ok_or_else(|| {
            format!(
                "no token secret for {}: a secret is generated only beside a SQLite file; set PARTNERCENTER_JWT_SECRET (or jwt_secret in the config file) to at least 16 random bytes, the same for every process of this service",
                redact_url(&self.database_url)
            )
        })?;
        let path = crate::auth::secret_path(&file);
        if !create && !path.exists() {
            return Err(format!(
                "no token secret at {}: `serve` creates it beside its SQLite file {} on first start; run this where the server runs, give the server's --database-url, or set PARTNERCENTER_JWT_SECRET to the server's secret",
                path.display(),
                file.display()
            ));
        }
        crate::auth::secret_beside(&file).map_err(|error| {
            format!(
                "cannot read or create the token secret {}: {error}; check the directory exists and is writable, or set PARTNERCENTER_JWT_SECRET",
                path.display()
            )
        })
    }
}

/// HOST:PORT to one socket address; a host name is resolved (the first
/// address it has).
pub fn resolve_addr(text: &str, what: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let mut addrs = text.to_socket_addrs().map_err(|error| {
        format!("{what} '{text}' is not HOST:PORT with a known host: {error}; e.g. 127.0.0.1:50051 or localhost:50051")
    })?;
    addrs
        .next()
        .ok_or_else(|| format!("{what} '{text}' resolves to no address; give an IP address and port"))
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

fn read_file(path: &Path) -> Result<FileConfig, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the configuration file {}: {e}; check --config or PARTNERCENTER_CONFIG",
            path.display()
        )
    })?;
    toml::from_str(&text).map_err(|e| format!("the configuration file {} is not valid: {e}", path.display()))
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

    /// W3: list pages are cut at MAX_PAGE_BYTES; a message limit below
    /// twice that is refused at start, naming the key and the floor.
    #[test]
    fn w3_a_message_limit_below_the_page_budget_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("small.toml");
        std::fs::write(&path, "max_message_bytes = 1048576\n").expect("written");
        let args = ConfigArgs {
            config: Some(path),
            ..ConfigArgs::default()
        };
        let error = Config::load(&args, None).expect_err("refused");
        assert!(
            error.to_string().contains("max_message_bytes must be at least 4194304"),
            "{error}"
        );
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
