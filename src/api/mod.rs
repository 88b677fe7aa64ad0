//! The gRPC adapters: protobuf in, domain calls, protobuf out. Tonic and
//! prost types stay in this module (and in the generated `pb`). One folder
//! per service (`partners`, `customers`, `relationships`, and `internal`,
//! the split deployment's consequences API): its server, its decoders and
//! encoders, and its remote implementation; what they share is here.

pub mod auth;
pub mod codec;
mod convert;
mod customers;
mod framing;
mod internal;
mod limits;
mod partners;
mod relationships;
pub mod remote;
pub mod server;
mod status;
pub mod trace;
mod unknown;
mod webhooks;

use tonic::{Request, Status};

pub use customers::{CustomerApi, RemoteCustomers};
pub use framing::Framing;
pub use internal::{ConsequenceApi, RemoteInternalRelationships};
pub use partners::{PartnerApi, RemotePartners};
pub use relationships::{MAX_BATCH_CHECKS, RelationshipApi, RemoteRelationships};
pub use status::{MAX_ERROR_BYTES, VIOLATIONS_OMITTED};
pub use unknown::DetailedUnimplementedLayer;
pub use webhooks::{ProtoJsonEvents, WebhookApi};

use crate::domain::principal::{Caller, Principal};
use crate::domain::{Error, Reason};

/// The generated protobuf types, servers and clients.
pub mod pb {
    #![allow(clippy::large_enum_variant, clippy::doc_lazy_continuation)]
    tonic::include_proto!("partnercenter.v1");

    /// The encoded descriptors of the contract, served by reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("partnercenter_descriptor");
}

/// The generated code of the split deployment's internal API
/// (`partnercenter.internal.v1`).
pub mod pb_internal {
    #![allow(clippy::doc_lazy_continuation)]
    tonic::include_proto!("partnercenter.internal.v1");

    /// Its encoded descriptors, served by reflection where it is served.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("partnercenter_internal_descriptor");
}

/// The `domain` of every ErrorInfo this service sends.
pub const ERROR_DOMAIN: &str = "partnercenter";

/// The principal the auth interceptor attached to a request of the public
/// services. An `internal` token is refused there: it is only for this
/// service's own processes (DOMAIN.md, Deployment). The adapters decode
/// the request before they look at this result (`decoded`): INVALID_ARGUMENT
/// on the request alone comes before a refusal of the caller's role.
fn principal<T>(request: &Request<T>) -> Result<Principal, Status> {
    match request.extensions().get::<Caller>() {
        Some(Caller::Principal(principal)) => Ok(principal.clone()),
        Some(Caller::Internal { .. }) => Err(Error::permission_denied(
            Reason::RoleNotAllowed,
            "an internal token is only for calls between this service's own processes; use a token of role operator, partner, customer or service",
        )
        .into()),
        None => Err(Error::unauthenticated(Reason::TokenMissing, "the request carries no verified principal").into()),
    }
}

/// The prologue of a handler, written once: the caller and the request's
/// body decoded by `decode`. A body that does not decode is refused before
/// the caller is (see `principal`); the caller is read first only because
/// decoding consumes the request.
fn decoded<T, C>(request: Request<T>, decode: impl FnOnce(T) -> Result<C, Error>) -> Result<(Principal, C), Status> {
    let caller = principal(&request);
    let command = decode(request.into_inner())?;
    Ok((caller?, command))
}

/// Validates every check, reports every violation at once, and binds the
/// values of the checks when all pass.
macro_rules! validated {
    ($($name:ident = $check:expr;)+) => {
        let mut violations = $crate::domain::error::Violations::default();
        $( let $name = violations.take($check); )+
        violations.into_result()?;
        $( let Some($name) = $name else {
            return Err($crate::domain::Error::internal("validation lost a value").into());
        }; )+
    };
}
pub(crate) use validated;

/// A field mask's paths, or INVALID_ARGUMENT when missing or unknown.
fn mask_paths(mask: Option<prost_types::FieldMask>, allowed: &[&str]) -> Result<Vec<String>, Error> {
    let paths = mask.map(|mask| mask.paths).unwrap_or_default();
    if paths.is_empty() {
        return Err(Error::invalid("update_mask", "name the fields to update"));
    }
    for path in &paths {
        if !allowed.contains(&path.as_str()) {
            return Err(Error::invalid(
                "update_mask",
                // W3: an echoed value is cut short.
                format!("'{}' cannot be updated; updatable: {}", echo(path), allowed.join(", ")),
            ));
        }
    }
    Ok(paths)
}

/// W3: a client's value quoted in an error, cut to a readable length.
pub(crate) fn echo(value: &str) -> String {
    crate::domain::validate::echo_short(value)
}
