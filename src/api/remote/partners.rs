//! `Partners` in another process: the generated client behind the trait.

use async_trait::async_trait;

use super::Remote;
use crate::api::pb;
use crate::api::pb::partner_service_client::PartnerServiceClient;
use crate::domain::model::{Partner, PartnerLink};
use crate::domain::paging::Page;
use crate::domain::principal::Principal;
use crate::domain::{Error, Result};
use crate::service::contract::partners::{
    CreatePartner, LinkIndirectReseller, ListPartnerLinks, ListPartners, Partners, UnlinkIndirectReseller,
    UpdatePartner,
};

/// The PartnerService of another process.
#[derive(Clone)]
pub struct RemotePartners {
    remote: Remote,
}

impl RemotePartners {
    pub fn new(remote: Remote) -> Self {
        RemotePartners { remote }
    }

    fn client(&self) -> PartnerServiceClient<tonic::transport::Channel> {
        PartnerServiceClient::new(self.remote.channel())
    }
}

#[async_trait]
impl Partners for RemotePartners {
    async fn create_partner(&self, principal: &Principal, command: CreatePartner) -> Result<Partner> {
        let request = self
            .remote
            .request(principal, pb::CreatePartnerRequest::from(command))?;
        let reply = self.client().create_partner(request).await.map_err(Error::from)?;
        Partner::try_from(reply.into_inner())
    }

    async fn get_partner(&self, principal: &Principal, id: &str) -> Result<Partner> {
        let request = self
            .remote
            .request(principal, pb::GetPartnerRequest { id: id.to_owned() })?;
        let reply = self.client().get_partner(request).await.map_err(Error::from)?;
        Partner::try_from(reply.into_inner())
    }

    async fn list_partners(&self, principal: &Principal, command: ListPartners) -> Result<Page<Partner>> {
        let request = self.remote.request(principal, pb::ListPartnersRequest::from(command))?;
        let reply = self.client().list_partners(request).await.map_err(Error::from)?;
        Page::try_from(reply.into_inner())
    }

    async fn update_partner(&self, principal: &Principal, command: UpdatePartner) -> Result<Partner> {
        let request = self
            .remote
            .request(principal, pb::UpdatePartnerRequest::from(command))?;
        let reply = self.client().update_partner(request).await.map_err(Error::from)?;
        Partner::try_from(reply.into_inner())
    }

    async fn link_indirect_reseller(
        &self,
        principal: &Principal,
        command: LinkIndirectReseller,
    ) -> Result<PartnerLink> {
        let request = self
            .remote
            .request(principal, pb::LinkIndirectResellerRequest::from(command))?;
        let reply = self
            .client()
            .link_indirect_reseller(request)
            .await
            .map_err(Error::from)?;
        PartnerLink::try_from(reply.into_inner())
    }

    async fn unlink_indirect_reseller(
        &self,
        principal: &Principal,
        command: UnlinkIndirectReseller,
    ) -> Result<PartnerLink> {
        let request = self
            .remote
            .request(principal, pb::UnlinkIndirectResellerRequest::from(command))?;
        let reply = self
            .client()
            .unlink_indirect_reseller(request)
            .await
            .map_err(Error::from)?;
        PartnerLink::try_from(reply.into_inner())
    }

    async fn list_partner_links(&self, principal: &Principal, command: ListPartnerLinks) -> Result<Page<PartnerLink>> {
        let request = self
            .remote
            .request(principal, pb::ListPartnerLinksRequest::from(command))?;
        let reply = self.client().list_partner_links(request).await.map_err(Error::from)?;
        Page::try_from(reply.into_inner())
    }
}
