//! The gRPC adapters: protobuf in, domain calls, protobuf out. Tonic and
//! prost types stay in this module (and in the generated `pb`).

pub mod codec;
mod convert;
mod customers;
mod partners;
mod relationships;

use std::collections::HashMap;

use prost::Message;
use tonic::{Code, Request, Status};
use tonic_types::{ErrorDetails, StatusExt};

pub use customers::CustomerApi;
pub use partners::PartnerApi;
pub use relationships::{MAX_BATCH_CHECKS, RelationshipApi, RelationshipSettings};

use crate::domain::paging::fnv1a;
use crate::domain::principal::Principal;
use crate::domain::{Error, ErrorCode, Reason, validate};
use crate::store::RequestKey;

/// The generated protobuf types, servers and clients.
pub mod pb {
    #![allow(clippy::large_enum_variant, clippy::doc_lazy_continuation)]
    tonic::include_proto!("partnercenter.v1");

    /// The encoded descriptors of the contract, served by reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("partnercenter_descriptor");
}

/// The `domain` of every ErrorInfo this service sends.
pub const ERROR_DOMAIN: &str = "partnercenter";

impl From<Error> for Status {
    fn from(error: Error) -> Self {
        let code = match error.code {
            ErrorCode::InvalidArgument => Code::InvalidArgument,
            ErrorCode::Unauthenticated => Code::Unauthenticated,
            ErrorCode::PermissionDenied => Code::PermissionDenied,
            ErrorCode::NotFound => Code::NotFound,
            ErrorCode::AlreadyExists => Code::AlreadyExists,
            ErrorCode::FailedPrecondition => Code::FailedPrecondition,
            ErrorCode::Aborted => Code::Aborted,
            ErrorCode::ResourceExhausted => Code::ResourceExhausted,
            ErrorCode::Unavailable => Code::Unavailable,
            ErrorCode::DeadlineExceeded => Code::DeadlineExceeded,
            ErrorCode::Internal => Code::Internal,
        };
        let mut details = ErrorDetails::new();
        let mut metadata: HashMap<String, String> = error.metadata.into_iter().collect();
        let reason = if error.reason.in_spec() {
            error.reason.as_str()
        } else {
            metadata.insert("cause".to_owned(), error.reason.as_str().to_owned());
            error.code.as_str()
        };
        details.set_error_info(reason, ERROR_DOMAIN, metadata);
        for violation in error.violations {
            details.add_bad_request_violation(violation.field, violation.description);
        }
        Status::with_error_details(code, error.message, details)
    }
}

/// The principal the auth interceptor attached to the request.
fn principal<T>(request: &Request<T>) -> Result<Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| Error::unauthenticated(Reason::TokenMissing, "the request carries no verified principal").into())
}

/// AIP-155: scopes a request id to its caller and method, and fingerprints
/// the request so a reused id with another payload is rejected.
fn request_key<M: Message>(
    principal: &Principal,
    method: &str,
    request_id: &str,
    request: &M,
) -> Result<Option<RequestKey>, Error> {
    let Some(request_id) = validate::request_id("request_id", request_id)? else {
        return Ok(None);
    };
    Ok(Some(RequestKey {
        key: format!("{}|{method}|{request_id}", principal.actor()),
        fingerprint: format!("{:016x}", fnv1a(&request.encode_to_vec())),
    }))
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
                format!("'{path}' cannot be updated; updatable: {}", allowed.join(", ")),
            ));
        }
    }
    Ok(paths)
}
