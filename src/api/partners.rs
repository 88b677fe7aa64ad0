//! PartnerService over gRPC: decode a request into a command, call the
//! `Partners` service, encode its reply. The pb ↔ domain conversions of
//! partners and links live here, both ways (the server's and the remote
//! client's).

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::convert::{ProtoEnum, micros, optional, reply_enum, required, version};
use super::pb::partner_service_server::PartnerService;
use super::{mask_paths, pb, principal, validated};
use crate::domain::model::{LinkState, Partner, PartnerKind, PartnerLink, PartnerStatus};
use crate::domain::paging::Page;
use crate::domain::{Error, validate};
use crate::service::contract::partners::{
    CreatePartner, LinkIndirectReseller, ListPartnerLinks, ListPartners, PartnerField, Partners,
    UnlinkIndirectReseller, UpdatePartner,
};

pub struct PartnerApi {
    service: Arc<dyn Partners>,
}

impl PartnerApi {
    pub fn new(service: Arc<dyn Partners>) -> Self {
        PartnerApi { service }
    }
}

#[tonic::async_trait]
impl PartnerService for PartnerApi {
    async fn create_partner(
        &self,
        request: Request<pb::CreatePartnerRequest>,
    ) -> Result<Response<pb::Partner>, Status> {
        let caller = principal(&request);
        let command = CreatePartner::try_from(request.into_inner())?;
        let principal = caller?;
        let partner = self.service.create_partner(&principal, command).await?;
        Ok(Response::new((&partner).into()))
    }

    async fn get_partner(&self, request: Request<pb::GetPartnerRequest>) -> Result<Response<pb::Partner>, Status> {
        let caller = principal(&request);
        let id = validate::id("id", &request.get_ref().id)?;
        let principal = caller?;
        let partner = self.service.get_partner(&principal, &id).await?;
        Ok(Response::new((&partner).into()))
    }

    async fn list_partners(
        &self,
        request: Request<pb::ListPartnersRequest>,
    ) -> Result<Response<pb::ListPartnersResponse>, Status> {
        let caller = principal(&request);
        let command = ListPartners::try_from(request.into_inner())?;
        let principal = caller?;
        let page = self.service.list_partners(&principal, command).await?;
        Ok(Response::new((&page).into()))
    }

    async fn update_partner(
        &self,
        request: Request<pb::UpdatePartnerRequest>,
    ) -> Result<Response<pb::Partner>, Status> {
        let caller = principal(&request);
        let command = UpdatePartner::try_from(request.into_inner())?;
        let principal = caller?;
        let partner = self.service.update_partner(&principal, command).await?;
        Ok(Response::new((&partner).into()))
    }

    async fn link_indirect_reseller(
        &self,
        request: Request<pb::LinkIndirectResellerRequest>,
    ) -> Result<Response<pb::PartnerLink>, Status> {
        let caller = principal(&request);
        let command = LinkIndirectReseller::try_from(request.into_inner())?;
        let principal = caller?;
        let link = self.service.link_indirect_reseller(&principal, command).await?;
        Ok(Response::new((&link).into()))
    }

    async fn unlink_indirect_reseller(
        &self,
        request: Request<pb::UnlinkIndirectResellerRequest>,
    ) -> Result<Response<pb::PartnerLink>, Status> {
        let caller = principal(&request);
        let command = UnlinkIndirectReseller::try_from(request.into_inner())?;
        let principal = caller?;
        let link = self.service.unlink_indirect_reseller(&principal, command).await?;
        Ok(Response::new((&link).into()))
    }

    async fn list_partner_links(
        &self,
        request: Request<pb::ListPartnerLinksRequest>,
    ) -> Result<Response<pb::ListPartnerLinksResponse>, Status> {
        let caller = principal(&request);
        let command = ListPartnerLinks::try_from(request.into_inner())?;
        let principal = caller?;
        let page = self.service.list_partner_links(&principal, command).await?;
        Ok(Response::new((&page).into()))
    }
}

// Requests to commands (the server), with the checks of the request alone
// that come before any other answer (INVALID_ARGUMENT, before the caller's
// role: "Which error wins").

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
        }
        Ok(LinkIndirectReseller {
            provider_id,
            reseller_id,
            request_id,
        })
    }
}

impl TryFrom<pb::UnlinkIndirectResellerRequest> for UnlinkIndirectReseller {
    type Error = Error;

    fn try_from(body: pb::UnlinkIndirectResellerRequest) -> Result<Self, Error> {
        validated! {
            provider_id = validate::id("provider_id", &body.provider_id);
            reseller_id = validate::id("reseller_id", &body.reseller_id);
        }
        Ok(UnlinkIndirectReseller {
            provider_id,
            reseller_id,
        })
    }
}

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

// Commands to requests (the remote client).

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
        }
    }
}

impl From<UnlinkIndirectReseller> for pb::UnlinkIndirectResellerRequest {
    fn from(command: UnlinkIndirectReseller) -> Self {
        pb::UnlinkIndirectResellerRequest {
            provider_id: command.provider_id,
            reseller_id: command.reseller_id,
        }
    }
}

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

// Domain replies to protobuf (the server); `From<&Partner>` and
// `From<&PartnerLink>` are in `convert`, shared with events.

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

// Protobuf replies to domain values (the remote client): a reply that does
// not decode is the peer's fault, INTERNAL.

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
            create_time: micros("create_time", l.create_time)?,
            update_time: micros("update_time", l.update_time)?,
            id: l.id,
            provider_id: l.provider_id,
            reseller_id: l.reseller_id,
        })
    }
}

impl TryFrom<pb::ListPartnersResponse> for Page<Partner> {
    type Error = Error;

    fn try_from(reply: pb::ListPartnersResponse) -> Result<Self, Error> {
        Ok(Page {
            items: reply
                .partners
                .into_iter()
                .map(Partner::try_from)
                .collect::<Result<_, _>>()?,
            next_page_token: reply.next_page_token,
        })
    }
}

impl TryFrom<pb::ListPartnerLinksResponse> for Page<PartnerLink> {
    type Error = Error;

    fn try_from(reply: pb::ListPartnerLinksResponse) -> Result<Self, Error> {
        Ok(Page {
            items: reply
                .partner_links
                .into_iter()
                .map(PartnerLink::try_from)
                .collect::<Result<_, _>>()?,
            next_page_token: reply.next_page_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            create_time: 1,
            update_time: 2,
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
