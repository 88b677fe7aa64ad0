//! What the adapters of every service share to convert between protobuf
//! and domain values: times, etags, enums (both sides name their values
//! alike, so they convert by name), and the way a reply that does not
//! decode is refused. Each service's own messages are converted in its
//! folder (`decode.rs`, `encode.rs`).

use super::pb;
use crate::domain::model::*;
use crate::domain::{Error, Result};

pub fn timestamp(micros: Micros) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32,
    })
}

// Protobuf replies back to domain values, for the remote clients. A reply
// that does not decode is the peer's fault, never the caller's: INTERNAL.

/// A reply's `field` holds `value`, which this service never sends.
pub fn malformed_reply(field: &str, value: impl std::fmt::Display) -> Error {
    Error::internal(format!(
        "the peer replied with {field} {value}, not a value this service sends"
    ))
}

/// The inverse of `timestamp`; an absent or out-of-range time (nanos
/// outside 0-999,999,999, as google.protobuf.Timestamp defines them, or
/// seconds beyond what microseconds hold) is malformed.
pub fn micros(field: &str, time: Option<prost_types::Timestamp>) -> Result<Micros> {
    let time = time.ok_or_else(|| malformed_reply(field, "absent"))?;
    (0..1_000_000_000)
        .contains(&time.nanos)
        .then(|| time.seconds.checked_mul(1_000_000))
        .flatten()
        .and_then(|micros| micros.checked_add(i64::from(time.nanos / 1_000)))
        .ok_or_else(|| malformed_reply(field, format!("{}s {}ns", time.seconds, time.nanos)))
}

/// The inverse of `model::etag`: the row version.
pub fn version(field: &str, etag: &str) -> Result<i64> {
    etag.strip_prefix("W/\"")
        .and_then(|rest| rest.strip_suffix('"'))
        .and_then(|number| number.parse().ok())
        .ok_or_else(|| malformed_reply(field, format!("'{etag}'")))
}

/// A reply's enum field: UNSPECIFIED or an unknown number is malformed.
pub fn reply_enum<E: ProtoEnum>(field: &str, value: i32) -> Result<E> {
    E::from_proto(value).ok_or_else(|| malformed_reply(field, value))
}

/// A reply's optional enum field: UNSPECIFIED is absent.
pub fn optional_reply_enum<E: ProtoEnum>(field: &str, value: i32) -> Result<Option<E>> {
    match value {
        0 => Ok(None),
        _ => reply_enum(field, value).map(Some),
    }
}

/// A reply's service name.
pub fn reply_service(field: &str, value: &str) -> Result<Service> {
    Service::parse(value).ok_or_else(|| malformed_reply(field, format!("'{value}'")))
}

/// An empty string is an absent value (the inverse of `id_or_empty`).
pub fn present(value: String) -> Option<String> {
    Some(value).filter(|value| !value.is_empty())
}

/// A list reply into the page it carries (`reply_type => Item, items_field;`),
/// each item decoded by its resource's reply decoder.
macro_rules! page_replies {
    ($($reply:ty => $item:ty, $items:ident;)+) => {$(
        impl TryFrom<$reply> for $crate::domain::paging::Page<$item> {
            type Error = $crate::domain::Error;

            fn try_from(reply: $reply) -> ::std::result::Result<Self, Self::Error> {
                Ok($crate::domain::paging::Page {
                    items: reply
                        .$items
                        .into_iter()
                        .map(<$item>::try_from)
                        .collect::<::std::result::Result<_, _>>()?,
                    next_page_token: reply.next_page_token,
                })
            }
        }
    )+};
}
pub(crate) use page_replies;

/// A protobuf enum and the domain enum of the same value names.
pub trait ProtoEnum: Sized + Copy {
    fn from_proto(value: i32) -> Option<Self>;
    fn to_proto(self) -> i32;
}

macro_rules! proto_enum {
    ($($domain:ty => $proto:ty),* $(,)?) => {$(
        impl ProtoEnum for $domain {
            fn from_proto(value: i32) -> Option<Self> {
                <$proto>::try_from(value).ok().and_then(|p| <$domain>::parse(p.as_str_name()))
            }
            fn to_proto(self) -> i32 {
                <$proto>::from_str_name(self.as_str()).map_or(0, |p| p as i32)
            }
        }
    )*};
}

proto_enum! {
    PartnerKind => pb::partner::Kind,
    PartnerStatus => pb::partner::Status,
    LinkState => pb::partner_link::State,
    LinkSide => pb::partner_link::Side,
    Billing => pb::subscription::Billing,
    SubscriptionStatus => pb::subscription::Status,
    Channel => pb::subscription::Channel,
    InvitationState => pb::relationship_request::State,
    RelationshipKind => pb::relationship::Kind,
    RelationshipState => pb::relationship::State,
    RelationshipSource => pb::relationship::Source,
    RelationshipEndCause => pb::relationship::EndCause,
    Scope => pb::delegated_admin_grant::Scope,
    Role => pb::delegated_admin_grant::Role,
    GrantState => pb::delegated_admin_grant::State,
    EndCause => pb::EndCause,
    TransferState => pb::transfer::State,
    AssignmentState => pb::access_assignment::State,
    AssignmentEndCause => pb::access_assignment::EndCause,
    DeliveryMode => pb::webhook_endpoint::DeliveryMode,
    EndpointState => pb::webhook_endpoint::State,
    DisabledReason => pb::webhook_endpoint::DisabledReason,
    DeliveryState => pb::webhook_delivery::State,
    DeliveryError => pb::webhook_delivery::Error,
}

/// A required enum field: UNSPECIFIED or an unknown number is INVALID_ARGUMENT.
pub fn required<E: ProtoEnum>(field: &str, value: i32) -> Result<E> {
    match value {
        0 => Err(Error::invalid(field, "is required")),
        _ => E::from_proto(value).ok_or_else(|| Error::invalid(field, format!("{value} is not a known value"))),
    }
}

/// An optional enum field: UNSPECIFIED means absent.
pub fn optional<E: ProtoEnum>(field: &str, value: i32) -> Result<Option<E>> {
    match value {
        0 => Ok(None),
        _ => required(field, value).map(Some),
    }
}

/// An absent id as protobuf sends it (the inverse of `present`).
pub fn id_or_empty(id: &Option<String>) -> String {
    id.clone().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply out of range is the peer's fault (INTERNAL), named by its
    /// field, and never an overflow.
    #[test]
    fn a_malformed_reply_is_internal_and_names_its_field() {
        let far = prost_types::Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        };
        for error in [
            micros("create_time", Some(far)).err(),
            micros("create_time", None).err(),
            version("etag", "v1").err(),
            reply_enum::<PartnerKind>("kind", 0).err(),
            reply_service("service", "nope").err(),
        ] {
            let error = error.expect("a malformed reply is refused");
            assert_eq!(error.code.as_str(), "INTERNAL");
            assert!(error.message.starts_with("the peer replied with "), "{}", error.message);
        }
        assert_eq!(micros("t", timestamp(-1)).ok(), Some(-1));
        assert_eq!(version("etag", &etag(7)).ok(), Some(7));
        assert_eq!(present(String::new()), None);
    }
}
