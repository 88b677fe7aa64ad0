//! Errors on the wire, both ways: the one `From<Error> for Status` every
//! reply of the service passes through (with its ErrorInfo), and the way
//! back for the generated clients, so a call through another process ends
//! in the same domain error (code, reason, cause, metadata, violations).

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use super::ERROR_DOMAIN;
use crate::domain::error::{FieldViolation, MAX_LISTED};
use crate::domain::{Error, ErrorCode, Reason};

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

/// The gRPC code of each domain code.
fn grpc_code(code: ErrorCode) -> Code {
    match code {
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
        ErrorCode::Unimplemented => Code::Unimplemented,
        ErrorCode::Internal => Code::Internal,
    }
}

impl From<Error> for Status {
    /// W3: the one place every error passes, so it bounds what any source
    /// may have put in: the message and each value cut short, at most
    /// `MAX_LISTED` violations plus the count of the rest, and the whole
    /// under `MAX_ERROR_BYTES`. Metadata of any key passes through.
    fn from(error: Error) -> Self {
        let code = grpc_code(error.code);
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

/// The way back: a status a generated client received, as the domain error
/// the serving process raised. A status without this service's ErrorInfo
/// did not come from its handlers (a connection refused or reset, a peer
/// that does not know the method): the transport's codes are kept, and a
/// peer that cannot be reached is UNAVAILABLE, retryable, as W4 wants.
impl From<Status> for Error {
    fn from(status: Status) -> Self {
        let code = ErrorCode::ALL
            .into_iter()
            .find(|code| grpc_code(*code) == status.code())
            .unwrap_or(match status.code() {
                Code::Cancelled => ErrorCode::Unavailable,
                Code::OutOfRange => ErrorCode::InvalidArgument,
                _ => ErrorCode::Internal,
            });
        let details = status.get_error_details();
        let info = details.error_info().filter(|info| info.domain == ERROR_DOMAIN);
        let (reason, metadata) = match info {
            Some(info) => {
                let mut metadata: Vec<(String, String)> = info.metadata.clone().into_iter().collect();
                let cause = metadata
                    .iter()
                    .position(|(key, _)| key == "cause")
                    .map(|at| metadata.remove(at).1);
                metadata.sort();
                let reason = cause
                    .as_deref()
                    .and_then(Reason::parse)
                    .or_else(|| Reason::parse(&info.reason))
                    .unwrap_or(Reason::Internal);
                (reason, metadata)
            }
            None => {
                let reason = match code {
                    ErrorCode::Unavailable => Reason::PeerUnavailable,
                    _ => Reason::Internal,
                };
                (reason, Vec::new())
            }
        };
        let violations = details
            .bad_request()
            .map(|bad| {
                bad.field_violations
                    .iter()
                    .map(|v| FieldViolation {
                        field: v.field.clone(),
                        description: v.description.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        Error {
            code,
            reason,
            message: status.message().to_owned(),
            violations,
            metadata,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Every code and every reason comes back as it was sent, with its
    /// message, metadata and violations.
    #[test]
    fn errors_survive_the_wire_both_ways() {
        let mut sent = Vec::new();
        for code in ErrorCode::ALL {
            for reason in [
                Reason::InvalidField,
                Reason::PartnerNotActive,
                Reason::EtagMismatch,
                Reason::Internal,
            ] {
                sent.push(Error::new(
                    code,
                    reason,
                    format!("{} {}", code.as_str(), reason.as_str()),
                ));
            }
        }
        sent.push(
            Error::failed_precondition(Reason::ActiveSubscriptions, "blocked")
                .with_metadata("subscription_ids", "a,b")
                .with_metadata("error_id", "0123"),
        );
        sent.push(Error::invalid_fields(vec![
            FieldViolation {
                field: "partner.mpn_id".into(),
                description: "6 to 10 digits".into(),
            },
            FieldViolation {
                field: "partner.kind".into(),
                description: "required".into(),
            },
        ]));
        for error in sent {
            let mut expected = error.clone();
            expected.metadata.sort();
            assert_eq!(Error::from(Status::from(error)), expected);
        }
    }

    /// A status without ErrorInfo is the transport's: a peer that cannot be
    /// reached is UNAVAILABLE, its code is kept where the domain has it, and
    /// anything else is INTERNAL.
    #[test]
    fn w4_a_peer_that_cannot_be_reached_is_unavailable() {
        let error = Error::from(Status::unavailable("connection refused"));
        assert_eq!(
            (error.code, error.reason),
            (ErrorCode::Unavailable, Reason::PeerUnavailable)
        );
        let error = Error::from(Status::cancelled("the peer went away"));
        assert_eq!(error.code, ErrorCode::Unavailable);
        let error = Error::from(Status::unknown("a peer of another build"));
        assert_eq!((error.code, error.reason), (ErrorCode::Internal, Reason::Internal));
    }
}
