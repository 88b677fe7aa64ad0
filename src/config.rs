//! Configuration, layered with figment: built-in defaults, then a TOML file
//! (`--config`), then `DATABASE_URL`, then `PARTNERCENTER_<KEY>` environment
//! variables, then command-line flags. Every key is a field of [`Settings`];
//! [`Config`] is what the server runs with, checked and typed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::service::relationships::RelationshipSettings;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://partnercenter.db?mode=rwc";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:9464";
/// `PARTNERCENTER_<KEY>` sets the key `<key>`.
pub const ENV_PREFIX: &str = "PARTNERCENTER_";

/// Flags shared by every subcommand that touches the store or tokens; each
/// also reads its environment variable. A flag given is the last layer.
#[derive(Args, Clone, Debug, Default, Serialize)]
pub struct ConfigArgs {
    /// TOML configuration file [default: none].
    #[arg(long, env = "PARTNERCENTER_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://FILE?mode=rwc or postgres://USER:PASS@HOST/DB;
    /// DATABASE_URL is read too [default: sqlite://partnercenter.db?mode=rwc].
    #[arg(long, env = "PARTNERCENTER_DATABASE_URL", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Connections in the store's pool [default: 8].
    #[arg(long, env = "PARTNERCENTER_MAX_CONNECTIONS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    /// Log format [default: text].
    #[arg(long, env = "PARTNERCENTER_LOG_FORMAT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

/// Flags of `serve` only; each also reads its environment variable.
#[derive(Args, Clone, Debug, Default, Serialize)]
pub struct ServeArgs {
    /// gRPC address, HOST:PORT (a host name is resolved)
    /// [default: 127.0.0.1:50051].
    #[arg(long, env = "PARTNERCENTER_LISTEN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// Prometheus /metrics address HOST:PORT, or "off"
    /// [default: 127.0.0.1:9464].
    #[arg(long, env = "PARTNERCENTER_METRICS_LISTEN")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<String>,
    /// The services this process serves, comma-separated: partner,
    /// customer, relationship; fewer than all three is the split deployment
    /// [default: partner,customer,relationship].
    #[arg(long, env = "PARTNERCENTER_SERVICES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub services: Option<String>,
    /// Where the PartnerService is, when this process does not serve it
    /// (e.g. http://127.0.0.1:50052) [default: none].
    #[arg(long, env = "PARTNERCENTER_PARTNER_SERVICE_URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner_service_url: Option<String>,
    /// Where the CustomerService is, when this process does not serve it
    /// [default: none].
    #[arg(long, env = "PARTNERCENTER_CUSTOMER_SERVICE_URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_service_url: Option<String>,
    /// Where the RelationshipService is, when this process does not serve
    /// it [default: none].
    #[arg(long, env = "PARTNERCENTER_RELATIONSHIP_SERVICE_URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relationship_service_url: Option<String>,
    /// Export the RPC spans over OTLP/gRPC to this collector (e.g.
    /// http://127.0.0.1:4317) [default: none, not exported].
    #[arg(long, env = "PARTNERCENTER_OTLP_ENDPOINT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,
}

/// Which of the three services one process serves: all three (embedded,
/// the default) or fewer (the split deployment, DOMAIN.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Services {
    pub partner: bool,
    pub customer: bool,
    pub relationship: bool,
}

impl Services {
    pub const ALL: Services = Services {
        partner: true,
        customer: true,
        relationship: true,
    };

    /// `partner,customer,relationship`, in any order and case; `all`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut services = Services {
            partner: false,
            customer: false,
            relationship: false,
        };
        for name in text.split(',').map(str::trim).filter(|name| !name.is_empty()) {
            match name.to_ascii_lowercase().as_str() {
                "partner" => services.partner = true,
                "customer" => services.customer = true,
                "relationship" => services.relationship = true,
                "all" => services = Services::ALL,
                other => {
                    return Err(format!(
                        "services: '{}' is not a service; name partner, customer and/or relationship, comma-separated (--services, PARTNERCENTER_SERVICES)",
                        crate::domain::validate::echo_short(other)
                    ));
                }
            }
        }
        if services
            == (Services {
                partner: false,
                customer: false,
                relationship: false,
            })
        {
            return Err(
                "services: name at least one of partner, customer, relationship (--services, PARTNERCENTER_SERVICES)"
                    .to_owned(),
            );
        }
        Ok(services)
    }

    pub fn all(&self) -> bool {
        *self == Services::ALL
    }

    /// The names served, comma-separated, in the contract's order.
    pub fn names(&self) -> String {
        [
            (self.partner, "partner"),
            (self.customer, "customer"),
            (self.relationship, "relationship"),
        ]
        .into_iter()
        .filter_map(|(served, name)| served.then_some(name))
        .collect::<Vec<_>>()
        .join(",")
    }
}

/// Checks a peer's URL: http(s)://HOST:PORT.
fn peer_url(key: &str, url: Option<String>) -> Result<Option<String>, String> {
    let Some(url) = url.filter(|url| !url.is_empty()) else {
        return Ok(None);
    };
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    let valid = rest.is_some_and(|rest| {
        let authority = rest.trim_end_matches('/');
        !authority.is_empty()
            && !authority.contains('/')
            && authority
                .rsplit_once(':')
                .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
    });
    if !valid {
        return Err(format!(
            "{key}: '{}' is not http://HOST:PORT (e.g. http://127.0.0.1:50052)",
            crate::domain::validate::echo_short(&url)
        ));
    }
    Ok(Some(url))
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Every configuration key, as the TOML file, `PARTNERCENTER_<KEY>` and the
/// flags spell it; `Default` gives the built-in values.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// gRPC address HOST:PORT; a host name is resolved.
    pub listen: String,
    pub database_url: String,
    pub max_connections: u32,
    pub acquire_timeout_seconds: u64,
    /// PostgreSQL cancels a statement running longer than this.
    pub statement_timeout_seconds: u64,
    /// None: the secret kept beside the SQLite file.
    pub jwt_secret: Option<String>,
    pub jwt_issuer: String,
    pub jwt_audience: Option<String>,
    pub jwt_max_lifetime_seconds: u64,
    pub log_format: LogFormat,
    pub drain_timeout_seconds: u64,
    pub max_message_bytes: usize,
    pub max_concurrent_streams: u32,
    pub max_client_connections: usize,
    pub max_in_flight_rpcs: usize,
    pub rpc_timeout_seconds: u64,
    /// An address HOST:PORT, or "off".
    pub metrics_listen: String,
    pub invitation_base_url: String,
    pub invitation_default_days: i32,
    pub sweep_interval_seconds: u64,
    pub watch_buffer: usize,
    pub watch_poll_millis: u64,
    pub watch_grace_millis: u64,
    /// The services this process serves, comma-separated.
    pub services: String,
    /// Where each service is when this process does not serve it.
    pub partner_service_url: Option<String>,
    pub customer_service_url: Option<String>,
    pub relationship_service_url: Option<String>,
    /// OTLP/gRPC collector for the spans; None: not exported.
    pub otlp_endpoint: Option<String>,
    /// A1 from the in-memory access index (true) or from the store.
    pub access_index: bool,
    /// The most customers the access index holds at once.
    pub access_index_customers: usize,
    /// This process is the SQLite store's only writer (locked so).
    pub sole_writer: bool,
}

impl Default for Settings {
    fn default() -> Self {
        let relationships = RelationshipSettings::default();
        Settings {
            listen: DEFAULT_LISTEN.to_owned(),
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            max_connections: 8,
            acquire_timeout_seconds: 10,
            statement_timeout_seconds: 30,
            jwt_secret: None,
            jwt_issuer: "partnercenter".to_owned(),
            jwt_audience: None,
            jwt_max_lifetime_seconds: crate::auth::DEFAULT_MAX_TOKEN_LIFETIME.as_secs(),
            log_format: LogFormat::Text,
            drain_timeout_seconds: 20,
            max_message_bytes: 4 << 20,
            max_concurrent_streams: 256,
            max_client_connections: 1024,
            max_in_flight_rpcs: 256,
            rpc_timeout_seconds: 30,
            metrics_listen: DEFAULT_METRICS_LISTEN.to_owned(),
            invitation_base_url: relationships.invitation_base_url,
            invitation_default_days: relationships.invitation_default_days,
            sweep_interval_seconds: 60,
            watch_buffer: relationships.watch_buffer,
            watch_poll_millis: relationships.watch_poll.as_millis() as u64,
            watch_grace_millis: relationships.watch_grace.as_millis() as u64,
            services: "partner,customer,relationship".to_owned(),
            partner_service_url: None,
            customer_service_url: None,
            relationship_service_url: None,
            otlp_endpoint: None,
            access_index: true,
            access_index_customers: 200_000,
            sole_writer: false,
        }
    }
}

/// An environment variable set to an empty value counts as unset, as clap
/// treats it for the flags.
fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

/// Each problem as `KEY: what`, the key as its layer spells it (figment's
/// own text prefixes the profile, "default.").
fn describe(error: figment::Error) -> String {
    let problems: Vec<String> = error
        .into_iter()
        .map(|problem| {
            let key = problem.path.join(".");
            let source = problem
                .metadata
                .as_ref()
                .map(|m| m.name.to_string())
                .unwrap_or_default();
            let key = if source.starts_with(&format!("`{ENV_PREFIX}")) {
                format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
            } else if source.contains("environment") {
                key.to_ascii_uppercase()
            } else {
                key
            };
            format!("{key}: {}", problem.kind)
        })
        .collect();
    problems.join("; ")
}

impl Settings {
    /// The keys, as the file spells them, each with whether it is text.
    pub fn keys() -> Vec<(String, bool)> {
        match serde_json::to_value(Settings::default()) {
            Ok(serde_json::Value::Object(map)) => map
                .into_iter()
                .map(|(key, default)| (key, default.is_string() || default.is_null()))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The layers, lowest first: defaults, the file, `DATABASE_URL`,
    /// `PARTNERCENTER_<KEY>`, the flags given (clap has already put a flag's
    /// own environment variable under it). `serve` gives its own flags.
    pub fn load(args: &ConfigArgs, serve: Option<&ServeArgs>) -> Result<Self, String> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = &args.config {
            std::fs::File::open(path).map_err(|e| {
                format!(
                    "cannot read the configuration file {}: {e}; check --config or PARTNERCENTER_CONFIG",
                    path.display()
                )
            })?;
            // The file alone over the defaults first, so that its errors
            // (an unknown key, a wrong type) name it.
            figment.clone().merge(Toml::file_exact(path)).extract::<Settings>().map_err(|e| {
                format!(
                    "the configuration file {} is not valid: {}; check the file, or --config or PARTNERCENTER_CONFIG",
                    path.display(),
                    describe(e)
                )
            })?;
            figment = figment.merge(Toml::file_exact(path));
        }
        // figment's environment layer parses values (`007` becomes 7,
        // `"x"` loses its quotes): text keys (secrets, URLs) are taken as
        // written, the others parsed and checked. Other PARTNERCENTER_*
        // variables (e.g. PARTNERCENTER_CONFIG) are not keys.
        let (text, other): (Vec<_>, Vec<_>) = Settings::keys().into_iter().partition(|(_, text)| *text);
        let texts: BTreeMap<String, String> = text
            .into_iter()
            .filter_map(|(key, _)| env_value(&env_name(&key)).map(|value| (key, value)))
            .collect();
        let numbers = Env::prefixed(ENV_PREFIX).filter(move |key| {
            other.iter().any(|(known, _)| key == known.as_str()) && env_value(&env_name(key.as_str())).is_some()
        });
        let fallback: BTreeMap<&str, String> = env_value("DATABASE_URL")
            .map(|url| ("database_url", url))
            .into_iter()
            .collect();
        figment = figment
            .merge(Serialized::globals(fallback))
            .merge(numbers)
            .merge(Serialized::globals(texts))
            .merge(Serialized::globals(args));
        if let Some(serve) = serve {
            figment = figment.merge(Serialized::globals(serve));
        }
        figment
            .extract()
            .map_err(|e| format!("the configuration is not valid: {}", describe(e)))
    }

    /// Checks every value and gives the configuration the server runs with.
    pub fn into_config(self) -> Result<Config, String> {
        let listen = resolve_addr(&self.listen, "the gRPC listen address (--listen)")?;
        check_database_url(&self.database_url)?;
        for (name, value) in [
            ("max_connections", u64::from(self.max_connections)),
            ("jwt_max_lifetime_seconds", self.jwt_max_lifetime_seconds),
            ("max_concurrent_streams", u64::from(self.max_concurrent_streams)),
            ("max_client_connections", self.max_client_connections as u64),
            ("max_in_flight_rpcs", self.max_in_flight_rpcs as u64),
            ("rpc_timeout_seconds", self.rpc_timeout_seconds),
        ] {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        // W3: a list page is cut at MAX_PAGE_BYTES of items, and one
        // resource stays under 1 MiB; a smaller message limit would fail
        // the pages the service builds.
        let floor = crate::domain::paging::MAX_PAGE_BYTES * 2;
        if self.max_message_bytes < floor {
            return Err(format!(
                "max_message_bytes must be at least {floor} (list pages carry up to {} bytes of items); it is {}",
                crate::domain::paging::MAX_PAGE_BYTES,
                self.max_message_bytes
            ));
        }
        if !(1..=crate::domain::rules::MAX_INVITATION_DAYS).contains(&self.invitation_default_days) {
            return Err("invitation_default_days must be between 1 and 365".to_owned());
        }
        let metrics_listen = match self.metrics_listen.as_str() {
            "off" | "none" => None,
            address => Some(resolve_addr(
                address,
                "the metrics address (--metrics-listen, or \"off\")",
            )?),
        };
        let services = Services::parse(&self.services)?;
        let partner_service_url = peer_url("partner_service_url", self.partner_service_url)?;
        let customer_service_url = peer_url("customer_service_url", self.customer_service_url)?;
        let relationship_service_url = peer_url("relationship_service_url", self.relationship_service_url)?;
        let otlp_endpoint = peer_url("otlp_endpoint", self.otlp_endpoint)?;
        // The peers each service reaches: the customer and relationship
        // services read partners; the partner and customer services have
        // their consequences carried out by the relationship service.
        if !services.partner && (services.customer || services.relationship) && partner_service_url.is_none() {
            return Err(format!(
                "this process serves {} but not the partner service: say where it is with --partner-service-url (PARTNERCENTER_PARTNER_SERVICE_URL), e.g. http://127.0.0.1:50051",
                services.names()
            ));
        }
        if !services.relationship && (services.partner || services.customer) && relationship_service_url.is_none() {
            return Err(format!(
                "this process serves {} but not the relationship service: say where it is with --relationship-service-url (PARTNERCENTER_RELATIONSHIP_SERVICE_URL), e.g. http://127.0.0.1:50053",
                services.names()
            ));
        }
        if self.sole_writer && !services.all() {
            return Err("sole_writer = true needs all three services in this process: in the split deployment every service process writes".to_owned());
        }
        if self.sole_writer && !self.database_url.starts_with("sqlite:") {
            return Err(
                "sole_writer = true needs a SQLite file store; with PostgreSQL every replica may write".to_owned(),
            );
        }
        if self.access_index_customers == 0 {
            return Err(
                "access_index_customers must be at least 1 (set access_index = false to decide checks from the store)"
                    .to_owned(),
            );
        }
        Ok(Config {
            sole_writer: self.sole_writer,
            access_index: self.access_index,
            access_index_customers: self.access_index_customers,
            otlp_endpoint,
            services,
            partner_service_url: partner_service_url.filter(|_| !services.partner),
            customer_service_url: customer_service_url.filter(|_| !services.customer),
            relationship_service_url: relationship_service_url.filter(|_| !services.relationship),
            listen,
            database_url: self.database_url,
            max_connections: self.max_connections,
            acquire_timeout: Duration::from_secs(self.acquire_timeout_seconds),
            statement_timeout: Duration::from_secs(self.statement_timeout_seconds.max(1)),
            jwt_secret: self.jwt_secret,
            jwt_issuer: self.jwt_issuer,
            jwt_audience: self.jwt_audience,
            jwt_max_lifetime: Duration::from_secs(self.jwt_max_lifetime_seconds),
            log_format: self.log_format,
            drain_timeout: Duration::from_secs(self.drain_timeout_seconds),
            max_message_bytes: self.max_message_bytes,
            max_concurrent_streams: self.max_concurrent_streams,
            max_client_connections: self.max_client_connections,
            max_in_flight_rpcs: self.max_in_flight_rpcs,
            rpc_timeout: Duration::from_secs(self.rpc_timeout_seconds),
            relationships: RelationshipSettings {
                invitation_base_url: self.invitation_base_url,
                invitation_default_days: self.invitation_default_days,
                watch_buffer: self.watch_buffer.max(2),
                watch_poll: Duration::from_millis(self.watch_poll_millis.max(10)),
                watch_grace: Duration::from_millis(self.watch_grace_millis),
                ..RelationshipSettings::default()
            },
            sweep_interval: Duration::from_secs(self.sweep_interval_seconds.max(1)),
            metrics_listen,
        })
    }
}

/// What the server runs with: [`Settings`] checked, durations and addresses
/// typed.
#[derive(Clone)]
pub struct Config {
    /// The services this process serves.
    pub services: Services,
    /// Where the services this process does not serve are (None for those
    /// it serves: a process ignores its own).
    pub partner_service_url: Option<String>,
    pub customer_service_url: Option<String>,
    pub relationship_service_url: Option<String>,
    /// Where the spans are exported over OTLP/gRPC; None: not exported.
    pub otlp_endpoint: Option<String>,
    /// Access checks from the in-memory index fed by the event log (A1,
    /// A3), or from the store on each check.
    pub access_index: bool,
    /// The most customers the index holds at once; others are read from
    /// the store when a check needs them (and then held).
    pub access_index_customers: usize,
    /// This process alone writes the SQLite store (its lock file taken
    /// exclusively): the access index then knows every write without a read.
    pub sole_writer: bool,
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
        // A unit test checks the built-in settings are valid.
        Settings::default()
            .into_config()
            .expect("the built-in settings are valid")
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
    /// The layered configuration (see [`Settings::load`]), checked.
    pub fn load(args: &ConfigArgs, serve: Option<&ServeArgs>) -> Result<Self, String> {
        Settings::load(args, serve)?.into_config()
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
            services = %self.services.names(),
            partner_service_url = self.partner_service_url.as_deref().unwrap_or("in this process"),
            customer_service_url = self.customer_service_url.as_deref().unwrap_or("in this process or unused"),
            relationship_service_url = self.relationship_service_url.as_deref().unwrap_or("in this process"),
            otlp_endpoint = self.otlp_endpoint.as_deref().unwrap_or("off"),
            access_index = self.access_index,
            access_index_customers = self.access_index_customers,
            sole_writer = self.sole_writer,
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

#[cfg(test)]
mod tests {
    use super::*;
    use figment::Jail;

    /// Loads in a jail: only the environment the test sets (plus what the
    /// process already has, none of which is a key).
    fn load_in(
        jail: &mut Jail,
        file: Option<&str>,
        args: ConfigArgs,
        serve: Option<ServeArgs>,
    ) -> Result<Config, String> {
        jail.clear_env();
        let args = match file {
            Some(text) => {
                jail.create_file("partnercenter.toml", text).expect("file written");
                ConfigArgs {
                    config: Some(jail.directory().join("partnercenter.toml")),
                    ..args
                }
            }
            None => args,
        };
        Config::load(&args, serve.as_ref())
    }

    /// figment's Jail: one such test at a time, with its own environment
    /// variables and directory.
    #[allow(clippy::result_large_err)] // the closure returns figment::Result
    fn jailed(test: impl FnOnce(&mut Jail)) {
        Jail::expect_with(|jail| {
            test(jail);
            Ok(())
        });
    }

    fn refused(file: &str) -> String {
        let mut error = String::new();
        jailed(|jail| {
            error = load_in(jail, Some(file), ConfigArgs::default(), None)
                .err()
                .expect("refused");
        });
        error
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://pc:hunter2@db:5432/pc"),
            "postgres://pc:<redacted>@db:5432/pc"
        );
        assert_eq!(redact_url(DEFAULT_DATABASE_URL), DEFAULT_DATABASE_URL);
    }

    #[test]
    fn the_built_in_settings_are_valid() {
        assert!(Settings::default().into_config().is_ok());
    }

    /// The example file sets every key, each to its default.
    #[test]
    fn the_example_file_is_every_default() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/partnercenter.example.toml");
        let text = std::fs::read_to_string(&path).expect("the example is readable");
        let mut example: toml::Table = text.parse().expect("the example is TOML");
        let defaults = serde_json::to_value(Settings::default()).expect("serialized");
        for (key, _) in Settings::keys() {
            let default = &defaults[&key];
            match example.remove(&key) {
                Some(value) => assert_eq!(
                    serde_json::to_value(&value).expect("serialized"),
                    *default,
                    "{key} in the example"
                ),
                // A secret or an optional key is shown commented out.
                None => assert!(default.is_null(), "{key} is missing from the example"),
            }
        }
        assert!(example.is_empty(), "keys that are not settings: {example:?}");
        jailed(|jail| {
            let loaded = load_in(jail, Some(&text), ConfigArgs::default(), None).expect("the example loads");
            assert_eq!(loaded.listen, Config::default().listen);
        });
    }

    /// File < environment < flag, key by key; `DATABASE_URL` sits under
    /// `PARTNERCENTER_DATABASE_URL`.
    #[test]
    fn layers_file_then_environment_then_flags() {
        jailed(|jail| {
            let file = "max_connections = 2\nlog_format = \"json\"\ndrain_timeout_seconds = 7\n\
                        listen = \"127.0.0.1:7000\"\ndatabase_url = \"sqlite://file.db\"\n";
            let from_file = load_in(jail, Some(file), ConfigArgs::default(), None).expect("loads");
            assert_eq!(from_file.max_connections, 2);
            assert_eq!(from_file.drain_timeout, Duration::from_secs(7));
            assert_eq!(from_file.database_url, "sqlite://file.db");

            jail.set_env("PARTNERCENTER_MAX_CONNECTIONS", 3);
            jail.set_env("PARTNERCENTER_DRAIN_TIMEOUT_SECONDS", 9);
            jail.set_env("PARTNERCENTER_LISTEN", "127.0.0.1:7001");
            jail.set_env("DATABASE_URL", "sqlite://fallback.db");
            // load_in clears the environment: set it again after.
            let args = ConfigArgs {
                config: Some(jail.directory().join("partnercenter.toml")),
                ..ConfigArgs::default()
            };
            let from_env = Config::load(&args, None).expect("loads");
            assert_eq!(from_env.max_connections, 3);
            assert_eq!(from_env.drain_timeout, Duration::from_secs(9));
            assert_eq!(from_env.log_format, LogFormat::Json, "the file still counts");
            assert_eq!(from_env.database_url, "sqlite://fallback.db");
            jail.set_env("PARTNERCENTER_DATABASE_URL", "sqlite://env.db");
            assert_eq!(
                Config::load(&args, None).expect("loads").database_url,
                "sqlite://env.db"
            );

            let flags = ConfigArgs {
                max_connections: Some(4),
                log_format: Some(LogFormat::Text),
                database_url: Some("sqlite://flag.db".into()),
                ..args
            };
            let serve = ServeArgs {
                listen: Some("127.0.0.1:7002".into()),
                metrics_listen: Some("off".into()),
                services: Some("customer".into()),
                partner_service_url: Some("http://127.0.0.1:7003".into()),
                customer_service_url: Some("http://127.0.0.1:7002".into()),
                relationship_service_url: Some("http://127.0.0.1:7004".into()),
                otlp_endpoint: None,
            };
            let from_flags = Config::load(&flags, Some(&serve)).expect("loads");
            assert_eq!(from_flags.max_connections, 4);
            assert_eq!(from_flags.log_format, LogFormat::Text);
            assert_eq!(from_flags.database_url, "sqlite://flag.db");
            assert_eq!(from_flags.listen, "127.0.0.1:7002".parse().expect("address"));
            assert_eq!(from_flags.metrics_listen, None);
            // The split deployment: a process ignores its own service's URL.
            assert_eq!(
                from_flags.services,
                Services {
                    partner: false,
                    customer: true,
                    relationship: false
                }
            );
            assert_eq!(from_flags.partner_service_url.as_deref(), Some("http://127.0.0.1:7003"));
            assert_eq!(from_flags.customer_service_url, None);
            assert_eq!(
                from_flags.relationship_service_url.as_deref(),
                Some("http://127.0.0.1:7004")
            );
            assert_eq!(
                from_flags.drain_timeout,
                Duration::from_secs(9),
                "no flag: the environment"
            );
        });
    }

    /// Keys that only the file could set are read from the environment,
    /// numbers and text alike; an empty variable counts as unset.
    #[test]
    fn former_file_only_keys_are_read_from_the_environment() {
        jailed(|jail| {
            jail.clear_env();
            jail.set_env("PARTNERCENTER_WATCH_POLL_MILLIS", 200);
            jail.set_env("PARTNERCENTER_INVITATION_DEFAULT_DAYS", 30);
            jail.set_env("PARTNERCENTER_MAX_MESSAGE_BYTES", 8 << 20);
            jail.set_env("PARTNERCENTER_STATEMENT_TIMEOUT_SECONDS", 5);
            jail.set_env("PARTNERCENTER_JWT_SECRET", "00123456789012345.50");
            jail.set_env("PARTNERCENTER_INVITATION_BASE_URL", "\"https://x.example/\"");
            jail.set_env("PARTNERCENTER_JWT_AUDIENCE", "");
            let config = Config::load(&ConfigArgs::default(), None).expect("loads");
            assert_eq!(config.relationships.watch_poll, Duration::from_millis(200));
            assert_eq!(config.relationships.invitation_default_days, 30);
            assert_eq!(config.max_message_bytes, 8 << 20);
            assert_eq!(config.statement_timeout, Duration::from_secs(5));
            assert_eq!(
                config.jwt_secret.as_deref(),
                Some("00123456789012345.50"),
                "taken as written"
            );
            assert_eq!(config.relationships.invitation_base_url, "\"https://x.example/\"");
            assert_eq!(config.jwt_audience, None);
        });
    }

    /// A wrong value in the environment names the variable.
    #[test]
    fn a_wrong_environment_value_names_the_variable() {
        jailed(|jail| {
            jail.clear_env();
            jail.set_env("PARTNERCENTER_WATCH_BUFFER", "many");
            let error = Config::load(&ConfigArgs::default(), None).err().expect("refused");
            assert!(error.contains("PARTNERCENTER_WATCH_BUFFER: invalid type"), "{error}");
        });
    }

    #[test]
    fn an_unknown_key_or_a_wrong_type_names_the_key_and_the_file() {
        for (file, key) in [
            ("max_conections = 3\n", "max_conections"),
            ("watch_buffer = \"big\"\n", "watch_buffer"),
        ] {
            let error = refused(file);
            assert!(error.contains(key), "{error}");
            assert!(error.contains("partnercenter.toml"), "{error}");
            assert!(error.contains("--config"), "{error}");
        }
    }

    #[test]
    fn a_missing_file_names_it_and_the_flag() {
        jailed(|jail| {
            let args = ConfigArgs {
                config: Some(jail.directory().join("absent.toml")),
                ..ConfigArgs::default()
            };
            let error = Config::load(&args, None).err().expect("refused");
            assert!(error.contains("absent.toml") && error.contains("--config"), "{error}");
        });
    }

    #[test]
    fn zero_values_and_days_out_of_range_are_refused() {
        for (file, expected) in [
            ("max_connections = 0\n", "max_connections must be at least 1"),
            ("rpc_timeout_seconds = 0\n", "rpc_timeout_seconds must be at least 1"),
            ("max_in_flight_rpcs = 0\n", "max_in_flight_rpcs must be at least 1"),
            (
                "jwt_max_lifetime_seconds = 0\n",
                "jwt_max_lifetime_seconds must be at least 1",
            ),
            ("invitation_default_days = 0\n", "between 1 and 365"),
            ("invitation_default_days = 366\n", "between 1 and 365"),
            (
                "database_url = \"mysql://db/pc\"\n",
                "'mysql://db/pc' is neither SQLite nor PostgreSQL",
            ),
        ] {
            let error = refused(file);
            assert!(error.contains(expected), "{file}: {error}");
        }
    }

    /// W3: list pages are cut at MAX_PAGE_BYTES; a message limit below
    /// twice that is refused at start, naming the key and the floor.
    #[test]
    fn w3_a_message_limit_below_the_page_budget_is_refused() {
        let error = refused("max_message_bytes = 1048576\n");
        assert!(error.contains("max_message_bytes must be at least 4194304"), "{error}");
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

    #[test]
    fn split_services_need_the_urls_of_the_services_they_reach() {
        let with = |services: &str, urls: [Option<&str>; 3]| {
            Settings {
                services: services.to_owned(),
                partner_service_url: urls[0].map(str::to_owned),
                customer_service_url: urls[1].map(str::to_owned),
                relationship_service_url: urls[2].map(str::to_owned),
                ..Settings::default()
            }
            .into_config()
        };
        assert!(with("partner,customer,relationship", [None, None, None]).is_ok_and(|c| c.services.all()));
        assert!(with("all", [None, None, None]).is_ok_and(|c| c.services.all()));
        let error = with("customer", [None, None, Some("http://127.0.0.1:1")])
            .err()
            .unwrap_or_default();
        assert!(error.contains("--partner-service-url"), "{error}");
        let error = with("partner", [None, None, None]).err().unwrap_or_default();
        assert!(error.contains("--relationship-service-url"), "{error}");
        // The relationship process reaches only the partner service.
        assert!(with("relationship", [Some("http://127.0.0.1:1"), None, None]).is_ok());
        let error = with("relationship", [Some("127.0.0.1:1"), None, None])
            .err()
            .unwrap_or_default();
        assert!(error.contains("http://HOST:PORT"), "{error}");
        let error = with("partner,billing", [None, None, None]).err().unwrap_or_default();
        assert!(error.contains("'billing' is not a service"), "{error}");
        assert!(with(",", [None, None, None]).is_err());
    }
}
