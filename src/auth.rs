//! Bearer-token authentication: HS256 JWTs carrying the caller's role and,
//! for partners and customer admins, the tenant they act for.
//!
//! A token is refused (UNAUTHENTICATED) unless it is HS256 with our secret,
//! names our issuer (and our audience, when one is configured), carries
//! `exp`, is inside `nbf`..`exp`, lives no longer than the configured
//! maximum, and has exactly the claims of its role.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::principal::{Caller, Principal};
use crate::domain::{Error, Reason, Result, validate};

/// The longest a token may live unless configured otherwise.
pub const DEFAULT_MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The claims this service reads; any other claim makes the token invalid,
/// so a token minted for something else is not taken for one of ours.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    pub sub: String,
    /// operator, partner, customer or service.
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    pub iss: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// RFC 7519 §4.1.3: one audience or a list (the library checks it is ours).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

/// Signs and verifies tokens with one shared secret.
pub struct TokenAuthority {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: Option<String>,
    max_lifetime_seconds: u64,
    /// Seconds of clock skew tolerated on `exp`, `nbf` and the lifetime.
    leeway_seconds: u64,
    /// Where the secret comes from, for the error of a token signed with
    /// another.
    secret_source: String,
    /// Tokens verified already, with whom they speak for and their `exp`:
    /// every call of a client carries the same token, and verifying it (an
    /// HMAC and a JSON parse) is a sixth of a cheap call's cost. Bounded;
    /// emptied when full.
    verified: std::sync::RwLock<std::collections::HashMap<String, (Caller, u64)>>,
}

/// Verified tokens remembered at most.
const VERIFIED_TOKENS: usize = 4096;

impl TokenAuthority {
    /// An authority whose tokens live at most [`DEFAULT_MAX_TOKEN_LIFETIME`],
    /// without leeway: a token is refused from the second after its `exp`.
    pub fn new(secret: &[u8], issuer: &str, audience: Option<&str>) -> Self {
        // Only HS256 (the default list): `none`, other HMACs and RS256 with
        // our secret taken for a public key are refused by the library.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.validate_nbf = true;
        // The library's default is 60 s: an expired token would still
        // serve for a minute.
        validation.leeway = 0;
        match audience {
            // With an audience configured a token must name it: one without
            // `aud` may have been minted for any service sharing the secret.
            Some(audience) => {
                validation.set_audience(&[audience]);
                validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
            }
            None => {
                validation.validate_aud = false;
                validation.set_required_spec_claims(&["exp", "iss", "sub"]);
            }
        }
        TokenAuthority {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.map(str::to_owned),
            max_lifetime_seconds: DEFAULT_MAX_TOKEN_LIFETIME.as_secs(),
            leeway_seconds: 0,
            secret_source: "this server's configuration".to_owned(),
            verified: Default::default(),
        }
    }

    /// Refuses tokens that live longer than `max` (from `iat`, or from now
    /// when `iat` is absent or in the future).
    pub fn with_max_lifetime(mut self, max: Duration) -> Self {
        self.max_lifetime_seconds = max.as_secs();
        if let Ok(verified) = self.verified.get_mut() {
            verified.clear();
        }
        self
    }

    /// Tolerates `leeway` of clock skew on `exp`, `nbf` and the lifetime
    /// (processes whose clocks differ).
    pub fn with_leeway(mut self, leeway: Duration) -> Self {
        self.leeway_seconds = leeway.as_secs();
        self.validation.leeway = leeway.as_secs();
        if let Ok(verified) = self.verified.get_mut() {
            verified.clear();
        }
        self
    }

    /// Names where the secret comes from (its setting, or its file), so
    /// that a token signed with another secret says where to look.
    pub fn with_secret_source(mut self, source: impl Into<String>) -> Self {
        self.secret_source = source.into();
        self
    }

    pub fn max_lifetime(&self) -> Duration {
        Duration::from_secs(self.max_lifetime_seconds)
    }

    /// Mints a token for a principal, valid for `ttl_seconds` (at most the
    /// maximum lifetime).
    pub fn mint(&self, principal: &Principal, ttl_seconds: u64) -> Result<String> {
        if ttl_seconds > self.max_lifetime_seconds {
            return Err(Error::invalid(
                "ttl",
                format!(
                    "{ttl_seconds} s is longer than the maximum token lifetime of {} s",
                    self.max_lifetime_seconds
                ),
            ));
        }
        let now = unix_now();
        let (role, sub, partner_id, customer_id) = match principal {
            Principal::Operator { subject } => ("operator", subject.clone(), None, None),
            Principal::Service { subject } => ("service", subject.clone(), None, None),
            Principal::Partner { partner_id } => ("partner", partner_id.clone(), Some(partner_id.clone()), None),
            Principal::Customer { customer_id } => ("customer", customer_id.clone(), None, Some(customer_id.clone())),
        };
        self.sign(&Claims {
            sub,
            role: role.to_owned(),
            partner_id,
            customer_id,
            iss: self.issuer.clone(),
            aud: self.audience.clone().map(Audience::One),
            iat: Some(now),
            nbf: None,
            exp: now.saturating_add(ttl_seconds),
            jti: None,
        })
    }

    /// Signs any claims, valid or not (tests use it to forge bad tokens).
    pub fn sign(&self, claims: &Claims) -> Result<String> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|error| Error::internal(format!("token signing failed: {error}")))
    }

    /// Mints a token of role `internal` for one of this service's own
    /// processes (split deployment); never for a person, so no command
    /// mints one.
    pub fn mint_internal(&self, subject: &str, ttl_seconds: u64) -> Result<String> {
        let now = unix_now();
        self.sign(&Claims {
            sub: subject.to_owned(),
            role: "internal".to_owned(),
            partner_id: None,
            customer_id: None,
            iss: self.issuer.clone(),
            aud: self.audience.clone().map(Audience::One),
            iat: Some(now),
            nbf: None,
            exp: now.saturating_add(ttl_seconds.min(self.max_lifetime_seconds)),
            jti: None,
        })
    }

    /// Verifies the value of an `authorization` header.
    pub fn authenticate(&self, header: Option<&str>) -> Result<Caller> {
        let Some(header) = header else {
            return Err(Error::unauthenticated(
                Reason::TokenMissing,
                "send 'authorization: Bearer <token>' (mint one with `partnercenter token`)",
            ));
        };
        // RFC 6750 §2.1 (after RFC 7235): the scheme is case-insensitive.
        let token = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                Error::unauthenticated(Reason::TokenInvalid, "the authorization header is not 'Bearer <token>'")
            })?;
        // A token verified before stands until its `exp` (its signature,
        // claims and lifetime do not change); past it, the full check
        // below answers TOKEN_EXPIRED.
        if let Ok(verified) = self.verified.read()
            && let Some((caller, exp)) = verified.get(token)
            && unix_now() <= exp.saturating_add(self.leeway_seconds)
        {
            return Ok(caller.clone());
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|error| self.refusal(error.kind()))?
            .claims;
        self.check_lifetime(&claims)?;
        let exp = claims.exp;
        let caller = caller_of(claims)?;
        if let Ok(mut verified) = self.verified.write() {
            if verified.len() >= VERIFIED_TOKENS {
                verified.clear();
            }
            verified.insert(token.to_owned(), (caller.clone(), exp));
        }
        Ok(caller)
    }

    /// Why a token was refused, and what to do about it.
    fn refusal(&self, kind: &ErrorKind) -> Error {
        let invalid = |why: String| Error::unauthenticated(Reason::TokenInvalid, why);
        match kind {
            ErrorKind::ExpiredSignature => Error::unauthenticated(
                Reason::TokenExpired,
                "the token has expired: mint a new one with `partnercenter token` (its --ttl sets how long it lives)",
            ),
            ErrorKind::ImmatureSignature => invalid("the token is not valid yet (nbf)".to_owned()),
            ErrorKind::InvalidSignature => invalid(format!(
                "the token was signed with another secret than this server's; the server's secret is {}: mint the token with `partnercenter token` and that secret",
                self.secret_source
            )),
            ErrorKind::InvalidIssuer => invalid(format!(
                "the token's issuer (iss) is not this server's, {}: mint the token with `partnercenter token` and the server's jwt_issuer",
                self.issuer
            )),
            ErrorKind::InvalidAudience => invalid(format!(
                "the token's audience (aud) is not this server's, {}: mint the token with `partnercenter token` and the server's jwt_audience",
                self.audience.as_deref().unwrap_or_default()
            )),
            ErrorKind::MissingRequiredClaim(claim) => invalid(format!("the token has no {claim} claim")),
            ErrorKind::InvalidAlgorithm => invalid("the token is not signed with HS256".to_owned()),
            _ => invalid("the token is not a JWT of this service (mint one with `partnercenter token`)".to_owned()),
        }
    }

    /// A stolen token is useful until it expires: no token may live longer
    /// than the configured maximum, however it was signed.
    fn check_lifetime(&self, claims: &Claims) -> Result<()> {
        let now = unix_now();
        let start = claims.iat.map_or(now, |iat| iat.min(now));
        let lifetime = claims.exp.saturating_sub(start);
        if lifetime > self.max_lifetime_seconds.saturating_add(self.leeway_seconds) {
            return Err(Error::unauthenticated(
                Reason::TokenInvalid,
                format!(
                    "the token lives longer than the maximum of {} s; mint a shorter one",
                    self.max_lifetime_seconds
                ),
            ));
        }
        Ok(())
    }
}

fn caller_of(claims: Claims) -> Result<Caller> {
    let invalid = |why: &str| Error::unauthenticated(Reason::TokenInvalid, why.to_owned());
    let tenant = |value: Option<String>, claim: &str| {
        value
            .and_then(|id| validate::id(claim, &id).ok())
            .ok_or_else(|| invalid(&format!("a {claim} claim with a UUID is required for this role")))
    };
    // A tenant claim the role does not use is refused, not ignored: the
    // token was minted for someone else, or by mistake.
    let stray = match claims.role.as_str() {
        "operator" | "service" | "internal" => claims.partner_id.is_some() || claims.customer_id.is_some(),
        "partner" => claims.customer_id.is_some(),
        "customer" => claims.partner_id.is_some(),
        _ => false,
    };
    if stray {
        return Err(invalid("the token carries a tenant claim its role does not have"));
    }
    let principal = match claims.role.as_str() {
        "operator" => Principal::Operator { subject: claims.sub },
        "service" => Principal::Service { subject: claims.sub },
        "partner" => Principal::Partner {
            partner_id: tenant(claims.partner_id, "partner_id")?,
        },
        "customer" => Principal::Customer {
            customer_id: tenant(claims.customer_id, "customer_id")?,
        },
        "internal" => return Ok(Caller::Internal { subject: claims.sub }),
        _ => return Err(invalid("the role claim must be operator, partner, customer or service")),
    };
    Ok(Caller::Principal(principal))
}

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// The zero-setup secret: generated once and kept beside the SQLite file,
/// readable by its owner only, so `serve` and `token` agree without any
/// configuration.
pub fn secret_beside(database_file: &Path) -> std::io::Result<Vec<u8>> {
    let path = secret_path(database_file);
    if let Ok(text) = fs::read_to_string(&path) {
        return STANDARD
            .decode(text.trim())
            .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidData, error));
    }
    let mut secret = vec![0u8; 32];
    getrandom::fill(&mut secret).map_err(|error| std::io::Error::other(error.to_string()))?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(STANDARD.encode(&secret).as_bytes())?;
            file.sync_all()?;
            Ok(secret)
        }
        // Another process created it first: use theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => secret_beside(database_file),
        Err(error) => Err(error),
    }
}

pub fn secret_path(database_file: &Path) -> PathBuf {
    let mut name = database_file.as_os_str().to_owned();
    name.push(".jwt-secret");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_token_is_refused_once_past_its_exp() {
        let authority = TokenAuthority::new(b"secret", "partnercenter", None);
        let now = unix_now();
        let token = authority
            .sign(&Claims {
                sub: "ops".into(),
                role: "operator".into(),
                partner_id: None,
                customer_id: None,
                iss: "partnercenter".into(),
                aud: None,
                iat: Some(now - 200),
                nbf: None,
                exp: now - 100,
                jti: None,
            })
            .unwrap();
        let caller = Caller::Principal(Principal::Operator { subject: "ops".into() });
        authority
            .verified
            .write()
            .unwrap()
            .insert(token.clone(), (caller.clone(), now - 100));
        let refused = authority.authenticate(Some(&format!("Bearer {token}"))).unwrap_err();
        assert_eq!(refused.reason, Reason::TokenExpired);
        // Within its exp a remembered token answers without a new check.
        let fresh = authority
            .mint(&Principal::Operator { subject: "ops".into() }, 60)
            .unwrap();
        let header = format!("Bearer {fresh}");
        assert_eq!(authority.authenticate(Some(&header)).unwrap(), caller);
        assert!(authority.verified.read().unwrap().contains_key(&fresh));
        assert_eq!(authority.authenticate(Some(&header)).unwrap(), caller);
    }

    #[test]
    fn round_trip_and_rejections() {
        let authority = TokenAuthority::new(b"secret", "partnercenter", None);
        let partner = Principal::Partner {
            partner_id: "0190f5c2-7b3a-7000-8000-000000000001".into(),
        };
        let token = authority.mint(&partner, 60).unwrap();
        assert_eq!(
            authority.authenticate(Some(&format!("Bearer {token}"))).unwrap(),
            Caller::Principal(partner)
        );
        let internal = authority.mint_internal("customer-service", 60).unwrap();
        assert_eq!(
            authority.authenticate(Some(&format!("Bearer {internal}"))).unwrap(),
            Caller::Internal {
                subject: "customer-service".into()
            }
        );
        let other = TokenAuthority::new(b"other", "partnercenter", None);
        let error = other.authenticate(Some(&format!("Bearer {token}"))).unwrap_err();
        assert_eq!(error.reason, Reason::TokenInvalid);
        assert_eq!(authority.authenticate(None).unwrap_err().reason, Reason::TokenMissing);
    }
}
