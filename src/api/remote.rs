//! A service in another process, reached through its generated tonic
//! client behind the same Rust interface as the in-process service (the
//! split deployment; each service's is the `remote` of its folder). What
//! every remote interface shares lives here: the channel, a token for the
//! principal a call is made for, minted from the secret the processes
//! share, so the serving process decides exactly as it would for that
//! caller, and the body of a unary call (`unary!`). Errors come back
//! through `From<Status> for Error`.

use std::sync::Arc;

use tonic::Request;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};

use crate::auth::TokenAuthority;
use crate::context::CallContext;
use crate::domain::principal::Principal;
use crate::domain::{Error, Result};

/// How long a token minted for one call lives: long enough for the call,
/// short enough to be of no use to anyone who sees it.
const CALL_TOKEN_SECONDS: u64 = 60;

#[derive(Clone)]
pub struct Remote {
    channel: Channel,
    authority: Arc<TokenAuthority>,
}

impl Remote {
    /// A lazily connected channel to `url` (e.g. `http://127.0.0.1:50052`):
    /// a process starts whether or not its peers are up yet, and a call to a
    /// peer that cannot be reached is UNAVAILABLE.
    pub fn connect_lazy(url: &str, authority: Arc<TokenAuthority>) -> Result<Self> {
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|error| Error::invalid("service_url", format!("'{url}' is not a URL: {error}")))?
            .tcp_nodelay(true);
        Ok(Remote {
            channel: endpoint.connect_lazy(),
            authority,
        })
    }

    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// `message` as a request made by `principal`.
    pub fn request<T>(&self, principal: &Principal, message: T) -> Result<Request<T>> {
        let token = self.authority.mint(principal, CALL_TOKEN_SECONDS)?;
        bearer(Request::new(message), &token)
    }

    /// `message` as a request of this service's own process `subject`
    /// (role `internal`).
    pub fn internal_request<T>(&self, subject: &str, message: T) -> Result<Request<T>> {
        let token = self.authority.mint_internal(subject, CALL_TOKEN_SECONDS)?;
        bearer(Request::new(message), &token)
    }
}

/// The token, and what the call being served passes on to the next hop:
/// its trace (`traceparent`), its request id (`x-request-id`) and what is
/// left of its deadline (`grpc-timeout`).
fn bearer<T>(mut request: Request<T>, token: &str) -> Result<Request<T>> {
    let header = |text: String| {
        MetadataValue::try_from(text).map_err(|error| Error::internal(format!("not a header value: {error}")))
    };
    request
        .metadata_mut()
        .insert("authorization", header(format!("Bearer {token}"))?);
    if let Some(call) = CallContext::current() {
        request.metadata_mut().insert(
            "traceparent",
            header(crate::api::trace::outgoing_traceparent(&call.trace_id))?,
        );
        request.metadata_mut().insert("x-request-id", header(call.request_id)?);
    }
    if let Some(left) = CallContext::remaining() {
        request.set_timeout(left);
    }
    Ok(request)
}

/// One unary call of a service in another process: `request` (the result
/// of `Remote::request` or `Remote::internal_request`) through the
/// generated `client`'s method `rpc`; a failure comes back as the domain
/// error the serving process answered (`From<Status> for Error`), and the
/// reply is decoded into the trait's result by its `TryFrom` (a reply that
/// does not decode is INTERNAL).
macro_rules! unary {
    ($client:expr, $rpc:ident, $request:expr) => {{
        let reply = $client.$rpc($request?).await.map_err($crate::domain::Error::from)?;
        ::std::convert::TryFrom::try_from(reply.into_inner())
    }};
}
pub(crate) use unary;
