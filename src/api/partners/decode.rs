//! PartnerService messages into domain values: a request into its command
//! (the server), with the checks of the request alone that come before any
//! other answer (INVALID_ARGUMENT, before the caller's role: "Which error
//! wins"); a reply into its domain value (the remote client), where a reply
//! that does not decode is the peer's fault, INTERNAL.

use crate::api::convert::{
    micros, optional, optional_reply_enum, page_replies, present, reply_enum, required, version,
};
use crate::api::{mask_paths, pb, validated};
use crate::domain::model::{LinkState, Partner, PartnerKind, PartnerLink, PartnerStatus};
use crate::domain::{Error, rules, validate};
use crate::service::contract::partners::{
    CreatePartner, LinkIndirectReseller, ListPartnerLinks, ListPartners, NamedLink, PartnerField,
    UnlinkIndirectReseller, UpdatePartner,
};

impl TryFrom<pb::CreatePartnerRequest> for CreatePartner {
    type Error = Error;

    fn try_from(body: pb::CreatePartnerRequest) -> Result<Self, Error> {
        let input = body.partner.unwrap_or_default();
        validated! {
            request_id = validate::request_id("request_id", &body.request_id);
            _mpn_id = validate::mpn_id("partner.mpn_id", &input.mpn_id);
            _display_name = validate::name("partner.display_name", &input.display_name);
            kind = required::<PartnerKind>("partner.kind", input.kind);
            status = optional::<PartnerStatus>("partner.status", input.status);
        }
        Ok(CreatePartner {
            mpn_id: input.mpn_id,
            display_name: input.display_name,
            kind,
            status,
            request_id,
        })
    }
}

impl TryFrom<pb::ListPartnersRequest> for ListPartners {
    type Error = Error;

    fn try_from(body: pb::ListPartnersRequest) -> Result<Self, Error> {
        validated! {
            kind = optional::<PartnerKind>("kind", body.kind);
            status = optional::<PartnerStatus>("status", body.status);
        }
        Ok(ListPartners {
            kind,
            status,
            page_size: body.page_size,
            page_token: body.page_token,
        })
    }
}

impl TryFrom<pb::UpdatePartnerRequest> for UpdatePartner {
    type Error = Error;

    fn try_from(body: pb::UpdatePartnerRequest) -> Result<Self, Error> {
        let input = body.partner.unwrap_or_default();
        let id = validate::id("partner.id", &input.id)?;
        let updatable = PartnerField::ALL.map(PartnerField::as_str);
        let fields: Vec<PartnerField> = mask_paths(body.update_mask, &updatable)?
            .iter()
            .filter_map(|path| PartnerField::ALL.into_iter().find(|field| field.as_str() == path))
            .collect();
        // Only the fields in the mask are read.
        let masked = |field| fields.contains(&field);
        validated! {
            _display_name = match masked(PartnerField::DisplayName) {
                true => validate::name("partner.display_name", &input.display_name),
                false => Ok(()),
            };
            kind = match masked(PartnerField::Kind) {
                true => required::<PartnerKind>("partner.kind", input.kind).map(Some),
                false => Ok(None),
            };
            status = match masked(PartnerField::Status) {
                true => required::<PartnerStatus>("partner.status", input.status).map(Some),
                false => Ok(None),
            };
        }
        Ok(UpdatePartner {
            id,
            etag: input.etag,
            display_name: input.display_name,
            fields,
            kind,
            status,
        })
    }
}

impl TryFrom<pb::LinkIndirectResellerRequest> for LinkIndirectReseller {
    type Error = Error;

    fn try_from(body: pb::LinkIndirectResellerRequest) -> Result<Self, Error> {
        validated! {
            provider_id = validate::id("provider_id", &body.provider_id);
            reseller_id = validate::id("reseller_id", &body.reseller_id);
            request_id = validate::request_id("request_id", &body.request_id);
            _expire_after_days = match body.expire_after_days {
                0..=rules::MAX_LINK_EXPIRY_DAYS => Ok(()),
                _ => Err(Error::invalid(
                    "expire_after_days",
                    format!("must be 0 (30 days) to {}", rules::MAX_LINK_EXPIRY_DAYS),
                )),
            };
        }
        Ok(LinkIndirectReseller {
            provider_id,
            reseller_id,
            request_id,
            expire_after_days: body.expire_after_days,
        })
    }
}

impl TryFrom<pb::UnlinkIndirectResellerRequest> for UnlinkIndirectReseller {
    type Error = Error;

    fn try_from(body: pb::UnlinkIndirectResellerRequest) -> Result<Self, Error> {
        validated! {
            provider_id = validate::id("provider_id", &body.provider_id);
            reseller_id = validate::id("reseller_id", &body.reseller_id);
            note = validate::note("note", &body.note);
        }
        Ok(UnlinkIndirectReseller {
            provider_id,
            reseller_id,
            note,
        })
    }
}

/// L2: the four requests that name a pair's newest link.
macro_rules! named_link_requests {
    ($($request:ty),* $(,)?) => {$(
        impl TryFrom<$request> for NamedLink {
            type Error = Error;

            fn try_from(body: $request) -> Result<Self, Error> {
                validated! {
                    provider_id = validate::id("provider_id", &body.provider_id);
                    reseller_id = validate::id("reseller_id", &body.reseller_id);
                    _etag = validate::max_chars("etag", &body.etag, validate::MAX_ID_CHARS);
                }
                Ok(NamedLink {
                    provider_id,
                    reseller_id,
                    etag: body.etag,
                })
            }
        }
    )*};
}

named_link_requests!(
    pb::AcceptPartnerLinkRequest,
    pb::DeclinePartnerLinkRequest,
    pb::SuspendPartnerLinkRequest,
    pb::ResumePartnerLinkRequest,
);

impl TryFrom<pb::ListPartnerLinksRequest> for ListPartnerLinks {
    type Error = Error;

    fn try_from(body: pb::ListPartnerLinksRequest) -> Result<Self, Error> {
        validated! {
            partner_id = validate::optional_id("partner_id", &body.partner_id);
            state = optional::<LinkState>("state", body.state);
        }
        Ok(ListPartnerLinks {
            partner_id,
            state,
            page_size: body.page_size,
            page_token: body.page_token,
        })
    }
}

// Replies into domain values (the remote client).

impl TryFrom<pb::Partner> for Partner {
    type Error = Error;

    fn try_from(p: pb::Partner) -> Result<Self, Error> {
        Ok(Partner {
            kind: reply_enum("kind", p.kind)?,
            status: reply_enum("status", p.status)?,
            version: version("etag", &p.etag)?,
            create_time: micros("create_time", p.create_time)?,
            update_time: micros("update_time", p.update_time)?,
            id: p.id,
            mpn_id: p.mpn_id,
            display_name: p.display_name,
        })
    }
}

impl TryFrom<pb::PartnerLink> for PartnerLink {
    type Error = Error;

    fn try_from(l: pb::PartnerLink) -> Result<Self, Error> {
        Ok(PartnerLink {
            state: reply_enum("state", l.state)?,
            expire_time: l
                .expire_time
                .map(|time| micros("expire_time", Some(time)))
                .transpose()?,
            ended_by: optional_reply_enum("ended_by", l.ended_by)?,
            end_note: present(l.end_note),
            version: version("etag", &l.etag)?,
            create_time: micros("create_time", l.create_time)?,
            update_time: micros("update_time", l.update_time)?,
            id: l.id,
            provider_id: l.provider_id,
            reseller_id: l.reseller_id,
        })
    }
}

page_replies! {
    pb::ListPartnersResponse => Partner, partners;
    pb::ListPartnerLinksResponse => PartnerLink, partner_links;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::LinkSide;

    /// A partner survives the trip to protobuf and back, as the remote
    /// client sees it (times to the microsecond, the version in the etag).
    #[test]
    fn partner_and_link_round_trip_through_protobuf() {
        let partner = Partner {
            id: "p".into(),
            mpn_id: "1234567".into(),
            display_name: "Contoso".into(),
            kind: PartnerKind::IndirectProvider,
            status: PartnerStatus::Suspended,
            version: 42,
            create_time: -1_234_567,
            update_time: 1_700_000_000_123_456,
        };
        assert_eq!(Partner::try_from(pb::Partner::from(&partner)).ok(), Some(partner));
        let link = PartnerLink {
            id: "l".into(),
            provider_id: "p".into(),
            reseller_id: "r".into(),
            state: LinkState::Revoked,
            expire_time: Some(3),
            ended_by: Some(LinkSide::Reseller),
            end_note: Some("moving on".into()),
            version: 4,
            create_time: 1,
            update_time: 2,
        };
        assert_eq!(
            PartnerLink::try_from(pb::PartnerLink::from(&link)).ok(),
            Some(link.clone())
        );
        let link = PartnerLink {
            state: LinkState::Active,
            expire_time: None,
            ended_by: None,
            end_note: None,
            ..link
        };
        assert_eq!(PartnerLink::try_from(pb::PartnerLink::from(&link)).ok(), Some(link));
    }

    /// The remote client sends what the server decodes back into the same
    /// command.
    #[test]
    fn commands_round_trip_through_requests() {
        let create = CreatePartner {
            mpn_id: "1234567".into(),
            display_name: " Contoso ".into(),
            kind: PartnerKind::Advisor,
            status: Some(PartnerStatus::Suspended),
            request_id: Some("r-1".into()),
        };
        assert_eq!(
            CreatePartner::try_from(pb::CreatePartnerRequest::from(create.clone())).ok(),
            Some(create)
        );
        let update = UpdatePartner {
            id: "0190a5b4-7c2e-7d3a-9f10-2b3c4d5e6f70".into(),
            etag: "W/\"3\"".into(),
            fields: vec![PartnerField::Status, PartnerField::Kind],
            display_name: String::new(),
            kind: Some(PartnerKind::IndirectReseller),
            status: Some(PartnerStatus::Active),
        };
        assert_eq!(
            UpdatePartner::try_from(pb::UpdatePartnerRequest::from(update.clone())).ok(),
            Some(update)
        );
        let links = ListPartnerLinks {
            partner_id: Some("0190a5b4-7c2e-7d3a-9f10-2b3c4d5e6f71".into()),
            state: Some(LinkState::Active),
            page_size: 7,
            page_token: "t".into(),
        };
        assert_eq!(
            ListPartnerLinks::try_from(pb::ListPartnerLinksRequest::from(links.clone())).ok(),
            Some(links)
        );
    }
}
