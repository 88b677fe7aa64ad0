//! `[auth]`: the tokens the server accepts and `token` mints.

use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};

use super::store::{StoreSettings, redact_url};
use crate::auth::TokenAuthority;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// None: the secret kept beside the SQLite file.
    pub jwt_secret: Option<String>,
    pub jwt_issuer: String,
    pub jwt_audience: Option<String>,
    /// Tokens living longer than this (`exp - iat`) are refused, and
    /// `token --ttl` may not exceed it.
    #[serde(with = "super::values::duration")]
    pub jwt_max_lifetime: Duration,
    /// Clock skew tolerated on `exp` and `nbf`: none unless the processes'
    /// clocks are known to differ.
    #[serde(with = "super::values::duration")]
    pub jwt_leeway: Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            jwt_secret: None,
            jwt_issuer: "partnercenter".to_owned(),
            jwt_audience: None,
            jwt_max_lifetime: crate::auth::DEFAULT_MAX_TOKEN_LIFETIME,
            jwt_leeway: Duration::ZERO,
        }
    }
}

impl AuthSettings {
    pub(super) fn check(&self) -> Result<(), String> {
        if self.jwt_max_lifetime < Duration::from_secs(1) {
            return Err("jwt_max_lifetime must be at least 1s".to_owned());
        }
        Ok(())
    }
}

/// The flags of `[auth]`. The secret has none: a flag would show it to
/// anyone who lists the processes.
#[derive(Args, Clone, Debug, Default, Serialize)]
#[command(next_help_heading = "Auth")]
pub struct AuthArgs {
    /// The issuer (iss) tokens must name.
    #[arg(long)]
    pub jwt_issuer: Option<String>,
    /// The audience (aud) tokens must name; none: not checked.
    #[arg(long)]
    pub jwt_audience: Option<String>,
    /// Tokens living longer (exp - iat) are refused; `token --ttl` stays
    /// within it, e.g. 24h.
    #[arg(long, value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub jwt_max_lifetime: Option<Duration>,
    /// Clock skew tolerated on a token's exp and nbf, e.g. 5s.
    #[arg(long, value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub jwt_leeway: Option<Duration>,
}

/// Where the server's secret is kept, as a refused token's error says.
const CONFIGURED: &str = "PARTNERCENTER_JWT_SECRET (or jwt_secret under [auth] in the configuration file)";

impl AuthSettings {
    /// The authority over the tokens of the server whose store is `store`:
    /// its secret configured, or the one beside its SQLite file, generated
    /// there when `create` (`serve`) and only read otherwise (`token`).
    pub fn authority(&self, store: &StoreSettings, create: bool) -> Result<TokenAuthority, String> {
        let (secret, source) = self.secret(store, create)?;
        Ok(
            TokenAuthority::new(&secret, &self.jwt_issuer, self.jwt_audience.as_deref())
                .with_max_lifetime(self.jwt_max_lifetime)
                .with_leeway(self.jwt_leeway)
                .with_secret_source(source),
        )
    }

    /// The secret and where it comes from.
    pub(super) fn secret(&self, store: &StoreSettings, create: bool) -> Result<(Vec<u8>, String), String> {
        if let Some(secret) = &self.jwt_secret {
            if secret.len() < 16 {
                return Err(format!(
                    "the JWT secret ({CONFIGURED}) is shorter than 16 bytes; use e.g. `openssl rand -base64 32`"
                ));
            }
            return Ok((secret.as_bytes().to_vec(), CONFIGURED.to_owned()));
        }
        let file = store.sqlite_file().ok_or_else(|| {
            format!(
                "no token secret for {}: a secret is generated only beside a SQLite file; set {CONFIGURED} to at least 16 random bytes, the same for every process of this service",
                redact_url(&store.database_url)
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
        let secret = crate::auth::secret_beside(&file).map_err(|error| {
            format!(
                "cannot read or create the token secret {}: {error}; check the directory exists and is writable, or set PARTNERCENTER_JWT_SECRET",
                path.display()
            )
        })?;
        let source = format!(
            "the file {} beside its SQLite store (made at its first start; PARTNERCENTER_JWT_SECRET would take its place)",
            path.display()
        );
        Ok((secret, source))
    }
}
