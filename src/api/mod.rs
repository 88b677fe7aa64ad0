//! The gRPC adapters: protobuf in, domain calls, protobuf out. Tonic and
//! prost types stay in this module (and in the generated `pb`).

pub mod codec;
mod convert;
mod customers;
mod framing;
mod limits;
mod partners;
mod relationships;

use std::collections::HashMap;

use prost::Message;
use tonic::{Code, Request, Status};
use tonic_types::{ErrorDetails, StatusExt};

pub use customers::CustomerApi;
pub use framing::Framing;
pub use partners::PartnerApi;
pub use relationships::{MAX_BATCH_CHECKS, RelationshipApi, RelationshipSettings};

use crate::domain::error::MAX_LISTED;
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

/// W3: the most an error may take on the wire (grpc-message plus
/// grpc-status-details-bin), under the 8 KiB every standard client accepts
/// (grpc C-core's metadata limit is 16 KiB, shared with other headers).
pub const MAX_ERROR_BYTES: usize = 7680;
/// The longest message sent, in bytes; percent-encoding may triple it.
const MAX_MESSAGE_BYTES: usize = 1024;
const MAX_FIELD_BYTES: usize = 80;
const MAX_DESCRIPTION_BYTES: usize = 120;
const MAX_METADATA_KEY_BYTES: usize = 64;
/// Room for the longest list of ids a rule names (20 UUIDs).
const MAX_METADATA_VALUE_BYTES: usize = 1024;

impl From<Error> for Status {
    /// W3: the one place every error passes, so it bounds what any source
    /// may have put in: the message and each value cut short, at most
    /// `MAX_LISTED` violations plus the count of the rest, and the whole
    /// under `MAX_ERROR_BYTES`. Metadata of any key passes through.
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
        let mut metadata: HashMap<String, String> = error
            .metadata
            .into_iter()
            .map(|(key, value)| (cut(&key, MAX_METADATA_KEY_BYTES), cut(&value, MAX_METADATA_VALUE_BYTES)))
            .collect();
        let reason = if error.reason.in_spec() {
            error.reason.as_str()
        } else {
            metadata.insert("cause".to_owned(), error.reason.as_str().to_owned());
            error.code.as_str()
        };
        let mut violations: Vec<(String, String)> = error
            .violations
            .iter()
            .take(MAX_LISTED)
            .map(|v| {
                (
                    cut(&v.field, MAX_FIELD_BYTES),
                    cut(&v.description, MAX_DESCRIPTION_BYTES),
                )
            })
            .collect();
        let mut omitted = error.violations.len() - violations.len();
        let message = cut(&error.message, MAX_MESSAGE_BYTES);
        let mut trimmed = false;
        loop {
            if omitted > 0 {
                metadata.insert(VIOLATIONS_OMITTED.to_owned(), omitted.to_string());
            }
            let mut details = ErrorDetails::new();
            details.set_error_info(reason, ERROR_DOMAIN, metadata.clone());
            for (field, description) in &violations {
                details.add_bad_request_violation(field.clone(), description.clone());
            }
            let status = Status::with_error_details(code, message.clone(), details);
            // The fixed caps above keep an error inside the budget; this
            // only guards against sources that together outgrow them.
            if wire_size(&status) <= MAX_ERROR_BYTES || (violations.is_empty() && trimmed) {
                return status;
            }
            if violations.pop().is_some() {
                omitted += 1;
            } else {
                // Metadata last: keep what identifies the failure, cut short.
                metadata.retain(|key, _| ["cause", "error_id", VIOLATIONS_OMITTED].contains(&key.as_str()));
                for value in metadata.values_mut() {
                    *value = cut(value, MAX_METADATA_KEY_BYTES);
                }
                trimmed = true;
            }
        }
    }
}

/// The ErrorInfo metadata key that counts the field violations not listed.
pub const VIOLATIONS_OMITTED: &str = "violations_omitted";

/// At most `max` bytes of `value`, cut on a character boundary and marked
/// with an ellipsis when cut.
fn cut(value: &str, max: usize) -> String {
    if value.len() <= max {
        return value.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &value[..end])
}

/// What a status takes in its two headers: the percent-encoded message and
/// the base64 details.
fn wire_size(status: &Status) -> usize {
    let message: usize = status
        .message()
        .bytes()
        .map(|b| match b {
            // tonic's grpc-message encoding set: controls, non-ASCII and these.
            b' ' | b'"' | b'#' | b'%' | b'<' | b'>' | b'`' | b'?' | b'{' | b'}' => 3,
            0x21..=0x7e => 1,
            _ => 3,
        })
        .sum();
    message + status.details().len().div_ceil(3) * 4
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
                // W3: an echoed value is cut short.
                format!("'{}' cannot be updated; updatable: {}", echo(path), allowed.join(", ")),
            ));
        }
    }
    Ok(paths)
}

/// W3: a client's value quoted in an error, cut to a readable length.
fn echo(value: &str) -> String {
    const MAX_ECHO_CHARS: usize = 64;
    if value.chars().count() <= MAX_ECHO_CHARS {
        value.to_owned()
    } else {
        format!("{}…", value.chars().take(MAX_ECHO_CHARS).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::FieldViolation;

    /// W3: whatever a source puts in an error, the reply stays under the
    /// bound and keeps its code, reason and cause.
    #[test]
    fn w3_the_worst_error_stays_under_8_kib() {
        let huge = "é".repeat(1 << 19);
        let long = "é".repeat(2000);
        let mut error = Error::invalid_fields(
            (0..5000)
                .map(|i| FieldViolation {
                    field: format!("{long}{i}"),
                    description: long.clone(),
                })
                .collect(),
        );
        error.message = huge.clone();
        for i in 0..100 {
            error.metadata.push((format!("{long}{i}"), huge.clone()));
        }
        error.reason = Reason::RequestIdReused;
        let status = Status::from(error);
        assert!(wire_size(&status) <= MAX_ERROR_BYTES, "{}", wire_size(&status));
        assert_eq!(status.code(), Code::InvalidArgument);
        let info = status.get_details_error_info().expect("ErrorInfo");
        assert_eq!(info.reason, "INVALID_ARGUMENT");
        assert_eq!(
            info.metadata.get("cause").map(String::as_str),
            Some("REQUEST_ID_REUSED")
        );
        let listed = status
            .get_details_bad_request()
            .expect("BadRequest")
            .field_violations
            .len();
        let omitted: usize = info.metadata[VIOLATIONS_OMITTED].parse().expect("count");
        assert_eq!(listed + omitted, 5000);
    }

    #[test]
    fn w3_metadata_beyond_the_budget_keeps_what_identifies_the_failure() {
        let mut error = Error::internal("the store failed");
        for i in 0..100 {
            error.metadata.push((format!("k{i}"), "v".repeat(1 << 16)));
        }
        error = error.with_metadata("error_id", "e-1");
        let status = Status::from(error);
        assert!(wire_size(&status) <= MAX_ERROR_BYTES, "{}", wire_size(&status));
        assert_eq!(status.code(), Code::Internal);
        let info = status.get_details_error_info().expect("ErrorInfo");
        assert_eq!(info.metadata.get("error_id").map(String::as_str), Some("e-1"));
        assert_eq!(info.metadata.get("cause").map(String::as_str), Some("INTERNAL"));
    }

    #[test]
    fn cut_keeps_characters_whole() {
        assert_eq!(cut("abc", 3), "abc");
        let cut_value = cut(&"é".repeat(10), 8);
        assert!(cut_value.len() <= 8 && cut_value.ends_with('…'), "{cut_value}");
    }
}
