//! Domain resources to protobuf messages, and protobuf enums to domain ones.
//! Both sides name enum values alike, so the conversion goes by name.

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

/// A reply's service name.
pub fn reply_service(field: &str, value: &str) -> Result<Service> {
    Service::parse(value).ok_or_else(|| malformed_reply(field, format!("'{value}'")))
}

/// An empty string is an absent value (the inverse of `id_or_empty`).
pub fn present(value: String) -> Option<String> {
    Some(value).filter(|value| !value.is_empty())
}

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
    Billing => pb::subscription::Billing,
    SubscriptionStatus => pb::subscription::Status,
    Channel => pb::subscription::Channel,
    InvitationState => pb::relationship_request::State,
    RelationshipKind => pb::relationship::Kind,
    RelationshipState => pb::relationship::State,
    RelationshipSource => pb::relationship::Source,
    Scope => pb::delegated_admin_grant::Scope,
    GrantState => pb::delegated_admin_grant::State,
    EndCause => pb::EndCause,
    TransferState => pb::transfer::State,
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

fn id_or_empty(id: &Option<String>) -> String {
    id.clone().unwrap_or_default()
}

impl From<&Partner> for pb::Partner {
    fn from(p: &Partner) -> Self {
        pb::Partner {
            id: p.id.clone(),
            mpn_id: p.mpn_id.clone(),
            display_name: p.display_name.clone(),
            kind: p.kind.to_proto(),
            status: p.status.to_proto(),
            etag: etag(p.version),
            create_time: timestamp(p.create_time),
            update_time: timestamp(p.update_time),
        }
    }
}

impl From<&PartnerLink> for pb::PartnerLink {
    fn from(l: &PartnerLink) -> Self {
        pb::PartnerLink {
            id: l.id.clone(),
            provider_id: l.provider_id.clone(),
            reseller_id: l.reseller_id.clone(),
            state: l.state.to_proto(),
            create_time: timestamp(l.create_time),
            update_time: timestamp(l.update_time),
        }
    }
}

impl From<&Customer> for pb::Customer {
    fn from(c: &Customer) -> Self {
        let contact = &c.billing_contact;
        pb::Customer {
            id: c.id.clone(),
            domain: c.domain.clone(),
            company_name: c.company_name.clone(),
            billing_contact: Some(pb::BillingContact {
                email: contact.email.clone(),
                first_name: contact.first_name.clone(),
                last_name: contact.last_name.clone(),
                culture: contact.culture.clone(),
                language: contact.language.clone(),
            }),
            etag: etag(c.version),
            create_time: timestamp(c.create_time),
            update_time: timestamp(c.update_time),
        }
    }
}

impl From<&Subscription> for pb::Subscription {
    fn from(s: &Subscription) -> Self {
        pb::Subscription {
            id: s.id.clone(),
            customer_id: s.customer_id.clone(),
            service: s.service.as_str().to_owned(),
            offer_name: s.offer_name.clone(),
            quantity: s.quantity,
            billing: s.billing.to_proto(),
            status: s.status.to_proto(),
            channel: s.channel.to_proto(),
            partner_of_record_id: id_or_empty(&s.partner_of_record_id),
            indirect_provider_id: id_or_empty(&s.indirect_provider_id),
            etag: etag(s.version),
            create_time: timestamp(s.create_time),
            update_time: timestamp(s.update_time),
        }
    }
}

impl From<&Relationship> for pb::Relationship {
    fn from(r: &Relationship) -> Self {
        pb::Relationship {
            id: r.id.clone(),
            customer_id: r.customer_id.clone(),
            partner_id: r.partner_id.clone(),
            kind: r.kind.to_proto(),
            indirect_provider_id: id_or_empty(&r.indirect_provider_id),
            state: r.state.to_proto(),
            source: r.source.to_proto(),
            relationship_request_id: id_or_empty(&r.relationship_request_id),
            start_time: timestamp(r.start_time),
            end_time: r.end_time.and_then(timestamp),
        }
    }
}

impl From<&DelegatedAdminGrant> for pb::DelegatedAdminGrant {
    fn from(g: &DelegatedAdminGrant) -> Self {
        pb::DelegatedAdminGrant {
            id: g.id.clone(),
            customer_id: g.customer_id.clone(),
            partner_id: g.partner_id.clone(),
            service: g.service.as_str().to_owned(),
            scopes: g.scopes.iter().map(|s| s.to_proto()).collect(),
            state: g.state.to_proto(),
            start_time: timestamp(g.start_time),
            end_time: g.end_time.and_then(timestamp),
            auto_extend: g.auto_extend,
            end_cause: g.end_cause.map_or(0, EndCause::to_proto),
            end_note: g.end_note.clone().unwrap_or_default(),
            notice_days: g.notice_days.unwrap_or(0),
            etag: etag(g.version),
            update_time: timestamp(g.update_time),
        }
    }
}

impl From<&Transfer> for pb::Transfer {
    fn from(t: &Transfer) -> Self {
        pb::Transfer {
            id: t.id.clone(),
            customer_id: t.customer_id.clone(),
            proposing_partner_id: t.proposing_partner_id.clone(),
            partner_of_record_id: t.partner_of_record_id.clone(),
            indirect_provider_id: id_or_empty(&t.indirect_provider_id),
            subscriptions: t
                .subscriptions
                .iter()
                .map(|item| pb::TransferredSubscription {
                    subscription_id: item.subscription_id.clone(),
                    partner_of_record_id: id_or_empty(&item.partner_of_record_id),
                    indirect_provider_id: id_or_empty(&item.indirect_provider_id),
                    channel: item.channel.to_proto(),
                    status: item.status.to_proto(),
                })
                .collect(),
            state: t.state.to_proto(),
            expire_time: timestamp(t.expire_time),
            etag: etag(t.version),
            create_time: timestamp(t.create_time),
            update_time: timestamp(t.update_time),
        }
    }
}

impl TryFrom<pb::Transfer> for Transfer {
    type Error = Error;

    fn try_from(message: pb::Transfer) -> Result<Self> {
        let some = |id: String| Some(id).filter(|id| !id.is_empty());
        Ok(Transfer {
            subscriptions: message
                .subscriptions
                .into_iter()
                .map(|item| {
                    Ok(TransferItem {
                        channel: reply_enum("subscriptions.channel", item.channel)?,
                        status: reply_enum("subscriptions.status", item.status)?,
                        subscription_id: item.subscription_id,
                        partner_of_record_id: some(item.partner_of_record_id),
                        indirect_provider_id: some(item.indirect_provider_id),
                    })
                })
                .collect::<Result<_>>()?,
            state: reply_enum("state", message.state)?,
            expire_time: micros("expire_time", message.expire_time)?,
            version: version("etag", &message.etag)?,
            create_time: micros("create_time", message.create_time)?,
            update_time: micros("update_time", message.update_time)?,
            id: message.id,
            customer_id: message.customer_id,
            proposing_partner_id: message.proposing_partner_id,
            partner_of_record_id: message.partner_of_record_id,
            indirect_provider_id: some(message.indirect_provider_id),
        })
    }
}

/// I3: the link a customer's admin opens. It carries the partner, the
/// reseller, the DAP flag and the code; an invitation without its code
/// (as in events) has no link.
pub fn invitation_url(base_url: &str, invitation: &RelationshipRequest) -> String {
    if invitation.code.is_empty() {
        return String::new();
    }
    let separator = if base_url.contains('?') { '&' } else { '?' };
    format!(
        "{base_url}{separator}partnerId={}&resellerId={}&dap={}&code={}",
        invitation.inviting_partner_id,
        invitation.indirect_reseller_id.as_deref().unwrap_or_default(),
        invitation.include_delegated_admin,
        invitation.code,
    )
}

/// An invitation as its readers see it at `now`: the stored state, or
/// EXPIRED once past its expiry (I5).
pub fn invitation(invitation: &RelationshipRequest, base_url: &str, now: Micros) -> pb::RelationshipRequest {
    pb::RelationshipRequest {
        id: invitation.id.clone(),
        inviting_partner_id: invitation.inviting_partner_id.clone(),
        indirect_reseller_id: id_or_empty(&invitation.indirect_reseller_id),
        include_delegated_admin: invitation.include_delegated_admin,
        delegated_admin_services: invitation
            .delegated_admin_services
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
        delegated_admin_scopes: invitation.delegated_admin_scopes.iter().map(|s| s.to_proto()).collect(),
        customer_domain: id_or_empty(&invitation.customer_domain),
        code: invitation.code.clone(),
        url: invitation_url(base_url, invitation),
        state: invitation.effective_state(now).to_proto(),
        expire_time: timestamp(invitation.expire_time),
        create_time: timestamp(invitation.create_time),
    }
}

/// An event as sent to readers. Invitations in events never carry a code.
pub fn event(event: &Event) -> pb::Event {
    use pb::event::Resource;
    let resource = match &event.resource {
        EventResource::Partner(r) => Resource::Partner(r.into()),
        EventResource::PartnerLink(r) => Resource::PartnerLink(r.into()),
        EventResource::Customer(r) => Resource::Customer(r.into()),
        EventResource::Subscription(r) => Resource::Subscription(r.into()),
        EventResource::RelationshipRequest(r) => {
            let mut message = invitation(r, "", event.time);
            message.state = r.state.to_proto();
            message.code.clear();
            message.url.clear();
            Resource::RelationshipRequest(message)
        }
        EventResource::Relationship(r) => Resource::Relationship(r.into()),
        EventResource::DelegatedAdminGrant(r) => Resource::DelegatedAdminGrant(r.into()),
        EventResource::Transfer(r) => Resource::Transfer(r.into()),
    };
    pb::Event {
        seq: event.seq,
        time: timestamp(event.time),
        r#type: event.event_type.clone(),
        actor: event.actor.clone(),
        customer_id: event.resource.customer_id().unwrap_or_default().to_owned(),
        partner_id: event.resource.partner_id().unwrap_or_default().to_owned(),
        subject_id: event.resource.subject_id().to_owned(),
        resource: Some(resource),
    }
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
