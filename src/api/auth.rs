//! The gRPC side of authentication: the interceptor in front of the three
//! services and the internal one (each refuses the other's callers). The tokens themselves are `crate::auth`'s.

use std::sync::Arc;

use crate::auth::TokenAuthority;

/// The gRPC interceptor: verifies the token and hands the principal to the
/// handler through the request extensions.
pub fn interceptor(
    authority: Arc<TokenAuthority>,
) -> impl FnMut(tonic::Request<()>) -> std::result::Result<tonic::Request<()>, tonic::Status> + Clone {
    move |mut request: tonic::Request<()>| {
        // A header that is not visible ASCII is a bad token, not a missing one.
        let header = request
            .metadata()
            .get("authorization")
            .map(|value| value.to_str().unwrap_or_default());
        let caller = authority.authenticate(header)?;
        request.extensions_mut().insert(caller);
        Ok(request)
    }
}
