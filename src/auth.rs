//! Bearer-token authentication: HS256 JWTs carrying the caller's role and,
//! for partners and customer admins, the tenant they act for.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::principal::Principal;
use crate::domain::{Error, Reason, Result, validate};

#[derive(Clone, Debug, Serialize, Deserialize)]
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
    pub aud: Option<String>,
    pub iat: u64,
    pub exp: u64,
}

/// Signs and verifies tokens with one shared secret.
pub struct TokenAuthority {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: Option<String>,
}

impl TokenAuthority {
    pub fn new(secret: &[u8], issuer: &str, audience: Option<&str>) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 5;
        match audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        TokenAuthority {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: issuer.to_owned(),
            audience: audience.map(str::to_owned),
        }
    }

    /// Mints a token for a principal, valid for `ttl_seconds`.
    pub fn mint(&self, principal: &Principal, ttl_seconds: u64) -> Result<String> {
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
            aud: self.audience.clone(),
            iat: now,
            exp: now.saturating_add(ttl_seconds),
        })
    }

    /// Signs any claims, valid or not (tests use it to forge bad tokens).
    pub fn sign(&self, claims: &Claims) -> Result<String> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|error| Error::internal(format!("token signing failed: {error}")))
    }

    /// Verifies the value of an `authorization` header.
    pub fn authenticate(&self, header: Option<&str>) -> Result<Principal> {
        let Some(header) = header else {
            return Err(Error::unauthenticated(
                Reason::TokenMissing,
                "send 'authorization: Bearer <token>' (mint one with `partnercenter token`)",
            ));
        };
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| {
                Error::unauthenticated(Reason::TokenInvalid, "the authorization header is not 'Bearer <token>'")
            })?;
        let claims = jsonwebtoken::decode::<Claims>(token.trim(), &self.decoding, &self.validation)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => Error::unauthenticated(Reason::TokenExpired, "the token has expired"),
                _ => Error::unauthenticated(Reason::TokenInvalid, "the token is not valid for this service"),
            })?
            .claims;
        principal_of(claims)
    }
}

fn principal_of(claims: Claims) -> Result<Principal> {
    let invalid = |why: &str| Error::unauthenticated(Reason::TokenInvalid, why.to_owned());
    let tenant = |value: Option<String>, claim: &str| {
        value
            .and_then(|id| validate::id(claim, &id).ok())
            .ok_or_else(|| invalid(&format!("a {claim} claim with a UUID is required for this role")))
    };
    match claims.role.as_str() {
        "operator" => Ok(Principal::Operator { subject: claims.sub }),
        "service" => Ok(Principal::Service { subject: claims.sub }),
        "partner" => Ok(Principal::Partner {
            partner_id: tenant(claims.partner_id, "partner_id")?,
        }),
        "customer" => Ok(Principal::Customer {
            customer_id: tenant(claims.customer_id, "customer_id")?,
        }),
        _ => Err(invalid("the role claim must be operator, partner, customer or service")),
    }
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

/// The gRPC interceptor: verifies the token and hands the principal to the
/// handler through the request extensions.
pub fn interceptor(
    authority: Arc<TokenAuthority>,
) -> impl FnMut(tonic::Request<()>) -> std::result::Result<tonic::Request<()>, tonic::Status> + Clone {
    move |mut request: tonic::Request<()>| {
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|value| value.to_str().ok());
        let principal = authority.authenticate(header)?;
        request.extensions_mut().insert(principal);
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let authority = TokenAuthority::new(b"secret", "partnercenter", None);
        let partner = Principal::Partner {
            partner_id: "0190f5c2-7b3a-7000-8000-000000000001".into(),
        };
        let token = authority.mint(&partner, 60).unwrap();
        assert_eq!(
            authority.authenticate(Some(&format!("Bearer {token}"))).unwrap(),
            partner
        );
        let other = TokenAuthority::new(b"other", "partnercenter", None);
        let error = other.authenticate(Some(&format!("Bearer {token}"))).unwrap_err();
        assert_eq!(error.reason, Reason::TokenInvalid);
        assert_eq!(authority.authenticate(None).unwrap_err().reason, Reason::TokenMissing);
    }
}
