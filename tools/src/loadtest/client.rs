//! Connections to the server under test and the bearer tokens of the
//! principals a run acts as.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use tonic::metadata::AsciiMetadataValue;
use tonic::transport::{Channel, Endpoint};

use partnercenter::BoxError;
use partnercenter::auth::TokenAuthority;
use partnercenter::domain::principal::Principal;

/// Tokens live for a day: longer than any bounded run.
const TOKEN_TTL_SECONDS: u64 = 24 * 3600;

/// Opens `connections` HTTP/2 connections; workers share them round-robin,
/// each multiplexing many calls, as a real backend client would.
pub async fn connect(target: SocketAddr, connections: usize, call_timeout: Duration) -> Result<Vec<Channel>, BoxError> {
    let endpoint = Endpoint::from_shared(format!("http://{target}"))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(call_timeout)
        .tcp_nodelay(true);
    let mut channels = Vec::with_capacity(connections.max(1));
    for _ in 0..connections.max(1) {
        let channel = endpoint
            .connect()
            .await
            .map_err(|error| format!("cannot connect to {target}: {error}"))?;
        channels.push(channel);
    }
    Ok(channels)
}

/// Where each service's calls go: one server for all three (embedded), or
/// one process per service (the split deployment).
#[derive(Clone, Copy, Debug)]
pub struct Targets {
    pub partner: SocketAddr,
    pub customer: SocketAddr,
    pub relationship: SocketAddr,
}

impl Targets {
    /// One server serving all three services.
    pub fn one(addr: SocketAddr) -> Self {
        Targets {
            partner: addr,
            customer: addr,
            relationship: addr,
        }
    }
}

/// Connections to each service's server; services on the same server
/// share them.
pub struct Channels {
    pub partner: Vec<Channel>,
    pub customer: Vec<Channel>,
    pub relationship: Vec<Channel>,
}

impl Channels {
    pub async fn connect(targets: Targets, connections: usize, call_timeout: Duration) -> Result<Self, BoxError> {
        let relationship = connect(targets.relationship, connections, call_timeout).await?;
        let to = async |addr: SocketAddr| {
            if addr == targets.relationship {
                Ok(relationship.clone())
            } else {
                connect(addr, connections, call_timeout).await
            }
        };
        let partner = to(targets.partner).await?;
        let customer = to(targets.customer).await?;
        Ok(Channels {
            partner,
            customer,
            relationship,
        })
    }
}

/// A request carrying `authorization: Bearer <token>`.
pub fn authed<T>(message: T, bearer: &AsciiMetadataValue) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", bearer.clone());
    request
}

pub fn bearer(token: &str) -> Result<AsciiMetadataValue, BoxError> {
    Ok(format!("Bearer {token}").parse()?)
}

/// Who a run may act as: a fixed token (reads only), or a signing secret
/// that mints operator, service, partner and customer tokens.
pub struct Auth {
    authority: Option<TokenAuthority>,
    fixed: Option<AsciiMetadataValue>,
}

impl Auth {
    pub fn with_token(token: &str) -> Result<Self, BoxError> {
        Ok(Auth {
            authority: None,
            fixed: Some(bearer(token)?),
        })
    }

    pub fn with_secret(secret: &[u8], issuer: &str, audience: Option<&str>) -> Self {
        Auth {
            authority: Some(TokenAuthority::new(secret, issuer, audience)),
            fixed: None,
        }
    }

    /// Reads a secret file as `serve` writes it beside its SQLite file
    /// (base64). Never creates one: a missing file is an error here.
    pub fn secret_from_file(path: &Path) -> Result<Vec<u8>, BoxError> {
        let text = std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?;
        Ok(base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|error| format!("{}: {error}", path.display()))?)
    }

    pub fn can_mint(&self) -> bool {
        self.authority.is_some()
    }

    /// The service principal (all reads, every access check); the fixed
    /// token when there is one.
    pub fn service(&self) -> Result<AsciiMetadataValue, BoxError> {
        self.mint_or_fixed(&Principal::Service {
            subject: "loadtest".into(),
        })
    }

    pub fn operator(&self) -> Result<AsciiMetadataValue, BoxError> {
        self.mint(&Principal::Operator {
            subject: "loadtest".into(),
        })
    }

    pub fn partner(&self, partner_id: &str) -> Result<AsciiMetadataValue, BoxError> {
        self.mint(&Principal::Partner {
            partner_id: partner_id.to_owned(),
        })
    }

    pub fn customer(&self, customer_id: &str) -> Result<AsciiMetadataValue, BoxError> {
        self.mint(&Principal::Customer {
            customer_id: customer_id.to_owned(),
        })
    }

    fn mint_or_fixed(&self, principal: &Principal) -> Result<AsciiMetadataValue, BoxError> {
        match &self.fixed {
            Some(fixed) => Ok(fixed.clone()),
            None => self.mint(principal),
        }
    }

    fn mint(&self, principal: &Principal) -> Result<AsciiMetadataValue, BoxError> {
        let authority = self
            .authority
            .as_ref()
            .ok_or("this needs tokens of several principals: give --secret (or --secret-file), not --token")?;
        bearer(&authority.mint(principal, TOKEN_TTL_SECONDS)?)
    }
}
