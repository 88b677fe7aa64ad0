//! PartnerService over gRPC: each handler decodes its request into a
//! command (`decode`), asks the `Partners` service, and encodes its reply
//! (`encode`). `remote` is the same service in another process, behind the
//! trait, over the generated client. The rules (P1-P5) are the service's.

mod decode;
mod encode;
mod remote;

use std::sync::Arc;

use tonic::{Request, Response, Status};

pub use remote::RemotePartners;

use super::pb::partner_service_server::PartnerService;
use super::{decoded, pb};
use crate::domain::validate;
use crate::service::contract::partners::{
    CreatePartner, LinkIndirectReseller, ListPartnerLinks, ListPartners, NamedLink, Partners, UnlinkIndirectReseller,
    UpdatePartner,
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
        let (principal, command) = decoded(request, CreatePartner::try_from)?;
        let partner = self.service.create_partner(&principal, command).await?;
        Ok(Response::new((&partner).into()))
    }

    async fn get_partner(&self, request: Request<pb::GetPartnerRequest>) -> Result<Response<pb::Partner>, Status> {
        let (principal, id) = decoded(request, |body| validate::id("id", &body.id))?;
        let partner = self.service.get_partner(&principal, &id).await?;
        Ok(Response::new((&partner).into()))
    }

    async fn list_partners(
        &self,
        request: Request<pb::ListPartnersRequest>,
    ) -> Result<Response<pb::ListPartnersResponse>, Status> {
        let (principal, command) = decoded(request, ListPartners::try_from)?;
        let page = self.service.list_partners(&principal, command).await?;
        Ok(Response::new((&page).into()))
    }

    async fn update_partner(
        &self,
        request: Request<pb::UpdatePartnerRequest>,
    ) -> Result<Response<pb::Partner>, Status> {
        let (principal, command) = decoded(request, UpdatePartner::try_from)?;
        let partner = self.service.update_partner(&principal, command).await?;
        Ok(Response::new((&partner).into()))
    }

    async fn link_indirect_reseller(
        &self,
        request: Request<pb::LinkIndirectResellerRequest>,
    ) -> Result<Response<pb::PartnerLink>, Status> {
        let (principal, command) = decoded(request, LinkIndirectReseller::try_from)?;
        let link = self.service.link_indirect_reseller(&principal, command).await?;
        Ok(Response::new((&link).into()))
    }

    async fn unlink_indirect_reseller(
        &self,
        request: Request<pb::UnlinkIndirectResellerRequest>,
    ) -> Result<Response<pb::PartnerLink>, Status> {
        let (principal, command) = decoded(request, UnlinkIndirectReseller::try_from)?;
        let link = self.service.unlink_indirect_reseller(&principal, command).await?;
        Ok(Response::new((&link).into()))
    }

    async fn list_partner_links(
        &self,
        request: Request<pb::ListPartnerLinksRequest>,
    ) -> Result<Response<pb::ListPartnerLinksResponse>, Status> {
        let (principal, command) = decoded(request, ListPartnerLinks::try_from)?;
        let page = self.service.list_partner_links(&principal, command).await?;
        Ok(Response::new((&page).into()))
    }

    async fn accept_partner_link(
        &self,
        request: Request<pb::AcceptPartnerLinkRequest>,
    ) -> Result<Response<pb::PartnerLink>, Status> {
        let (principal, command) = decoded(request, NamedLink::try_from)?;
        let link = self.service.accept_partner_link(&principal, command).await?;
        Ok(Response::new((&link).into()))
    }

    async fn decline_partner_link(
        &self,
        request: Request<pb::DeclinePartnerLinkRequest>,
    ) -> Result<Response<pb::PartnerLink>, Status> {
        let (principal, command) = decoded(request, NamedLink::try_from)?;
        let link = self.service.decline_partner_link(&principal, command).await?;
        Ok(Response::new((&link).into()))
    }

    async fn suspend_partner_link(
        &self,
        request: Request<pb::SuspendPartnerLinkRequest>,
    ) -> Result<Response<pb::PartnerLink>, Status> {
        let (principal, command) = decoded(request, NamedLink::try_from)?;
        let link = self.service.suspend_partner_link(&principal, command).await?;
        Ok(Response::new((&link).into()))
    }

    async fn resume_partner_link(
        &self,
        request: Request<pb::ResumePartnerLinkRequest>,
    ) -> Result<Response<pb::PartnerLink>, Status> {
        let (principal, command) = decoded(request, NamedLink::try_from)?;
        let link = self.service.resume_partner_link(&principal, command).await?;
        Ok(Response::new((&link).into()))
    }
}
