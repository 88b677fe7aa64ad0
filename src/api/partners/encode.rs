//! Domain values into PartnerService messages: a reply into its message
//! (the server; events carry partners and links too) and a command into
//! its request (the remote client).

use crate::api::convert::{ProtoEnum, timestamp};
use crate::api::pb;
use crate::domain::model::{LinkSide, Partner, PartnerLink, etag};
use crate::domain::paging::Page;
use crate::service::contract::partners::{
    CreatePartner, LinkIndirectReseller, ListPartnerLinks, ListPartners, NamedLink, UnlinkIndirectReseller,
    UpdatePartner,
};

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
            expire_time: l.expire_time.and_then(timestamp),
            ended_by: l.ended_by.map_or(0, LinkSide::to_proto),
            end_note: l.end_note.clone().unwrap_or_default(),
            etag: etag(l.version),
        }
    }
}

impl From<&Page<Partner>> for pb::ListPartnersResponse {
    fn from(page: &Page<Partner>) -> Self {
        pb::ListPartnersResponse {
            partners: page.items.iter().map(Into::into).collect(),
            next_page_token: page.next_page_token.clone(),
        }
    }
}

impl From<&Page<PartnerLink>> for pb::ListPartnerLinksResponse {
    fn from(page: &Page<PartnerLink>) -> Self {
        pb::ListPartnerLinksResponse {
            partner_links: page.items.iter().map(Into::into).collect(),
            next_page_token: page.next_page_token.clone(),
        }
    }
}

// Commands into requests (the remote client).

impl From<CreatePartner> for pb::CreatePartnerRequest {
    fn from(command: CreatePartner) -> Self {
        pb::CreatePartnerRequest {
            partner: Some(pb::Partner {
                mpn_id: command.mpn_id,
                display_name: command.display_name,
                kind: command.kind.to_proto(),
                status: command.status.map_or(0, ProtoEnum::to_proto),
                ..Default::default()
            }),
            request_id: command.request_id.unwrap_or_default(),
        }
    }
}

impl From<ListPartners> for pb::ListPartnersRequest {
    fn from(command: ListPartners) -> Self {
        pb::ListPartnersRequest {
            kind: command.kind.map_or(0, ProtoEnum::to_proto),
            status: command.status.map_or(0, ProtoEnum::to_proto),
            page_size: command.page_size,
            page_token: command.page_token,
        }
    }
}

impl From<UpdatePartner> for pb::UpdatePartnerRequest {
    fn from(command: UpdatePartner) -> Self {
        let paths = command.fields.iter().map(|field| field.as_str().to_owned()).collect();
        pb::UpdatePartnerRequest {
            partner: Some(pb::Partner {
                id: command.id,
                etag: command.etag,
                display_name: command.display_name,
                kind: command.kind.map_or(0, ProtoEnum::to_proto),
                status: command.status.map_or(0, ProtoEnum::to_proto),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths }),
        }
    }
}

impl From<LinkIndirectReseller> for pb::LinkIndirectResellerRequest {
    fn from(command: LinkIndirectReseller) -> Self {
        pb::LinkIndirectResellerRequest {
            provider_id: command.provider_id,
            reseller_id: command.reseller_id,
            request_id: command.request_id.unwrap_or_default(),
            expire_after_days: command.expire_after_days,
        }
    }
}

impl From<UnlinkIndirectReseller> for pb::UnlinkIndirectResellerRequest {
    fn from(command: UnlinkIndirectReseller) -> Self {
        pb::UnlinkIndirectResellerRequest {
            provider_id: command.provider_id,
            reseller_id: command.reseller_id,
            note: command.note.unwrap_or_default(),
        }
    }
}

/// L2: a named link into each of its four requests.
macro_rules! named_link_requests {
    ($($request:path),* $(,)?) => {$(
        impl From<NamedLink> for $request {
            fn from(command: NamedLink) -> Self {
                Self {
                    provider_id: command.provider_id,
                    reseller_id: command.reseller_id,
                    etag: command.etag,
                }
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

impl From<ListPartnerLinks> for pb::ListPartnerLinksRequest {
    fn from(command: ListPartnerLinks) -> Self {
        pb::ListPartnerLinksRequest {
            partner_id: command.partner_id.unwrap_or_default(),
            state: command.state.map_or(0, ProtoEnum::to_proto),
            page_size: command.page_size,
            page_token: command.page_token,
        }
    }
}
