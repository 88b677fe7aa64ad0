//! `Partners` in another process: the generated client behind the trait.

use async_trait::async_trait;

use crate::api::pb;
use crate::api::pb::partner_service_client::PartnerServiceClient;
use crate::api::remote::{Remote, unary};
use crate::domain::Result;
use crate::domain::model::{Partner, PartnerLink};
use crate::domain::paging::Page;
use crate::domain::principal::Principal;
use crate::service::contract::partners::{
    CreatePartner, LinkIndirectReseller, ListPartnerLinks, ListPartners, NamedLink, Partners, UnlinkIndirectReseller,
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
        let message = pb::CreatePartnerRequest::from(command);
        unary!(self.client(), create_partner, self.remote.request(principal, message))
    }

    async fn get_partner(&self, principal: &Principal, id: &str) -> Result<Partner> {
        let message = pb::GetPartnerRequest { id: id.to_owned() };
        unary!(self.client(), get_partner, self.remote.request(principal, message))
    }

    async fn list_partners(&self, principal: &Principal, command: ListPartners) -> Result<Page<Partner>> {
        let message = pb::ListPartnersRequest::from(command);
        unary!(self.client(), list_partners, self.remote.request(principal, message))
    }

    async fn update_partner(&self, principal: &Principal, command: UpdatePartner) -> Result<Partner> {
        let message = pb::UpdatePartnerRequest::from(command);
        unary!(self.client(), update_partner, self.remote.request(principal, message))
    }

    async fn link_indirect_reseller(
        &self,
        principal: &Principal,
        command: LinkIndirectReseller,
    ) -> Result<PartnerLink> {
        let message = pb::LinkIndirectResellerRequest::from(command);
        unary!(
            self.client(),
            link_indirect_reseller,
            self.remote.request(principal, message)
        )
    }

    async fn unlink_indirect_reseller(
        &self,
        principal: &Principal,
        command: UnlinkIndirectReseller,
    ) -> Result<PartnerLink> {
        let message = pb::UnlinkIndirectResellerRequest::from(command);
        unary!(
            self.client(),
            unlink_indirect_reseller,
            self.remote.request(principal, message)
        )
    }

    async fn list_partner_links(&self, principal: &Principal, command: ListPartnerLinks) -> Result<Page<PartnerLink>> {
        let message = pb::ListPartnerLinksRequest::from(command);
        unary!(
            self.client(),
            list_partner_links,
            self.remote.request(principal, message)
        )
    }

    async fn accept_partner_link(&self, principal: &Principal, command: NamedLink) -> Result<PartnerLink> {
        let message = pb::AcceptPartnerLinkRequest::from(command);
        unary!(
            self.client(),
            accept_partner_link,
            self.remote.request(principal, message)
        )
    }

    async fn decline_partner_link(&self, principal: &Principal, command: NamedLink) -> Result<PartnerLink> {
        let message = pb::DeclinePartnerLinkRequest::from(command);
        unary!(
            self.client(),
            decline_partner_link,
            self.remote.request(principal, message)
        )
    }

    async fn suspend_partner_link(&self, principal: &Principal, command: NamedLink) -> Result<PartnerLink> {
        let message = pb::SuspendPartnerLinkRequest::from(command);
        unary!(
            self.client(),
            suspend_partner_link,
            self.remote.request(principal, message)
        )
    }

    async fn resume_partner_link(&self, principal: &Principal, command: NamedLink) -> Result<PartnerLink> {
        let message = pb::ResumePartnerLinkRequest::from(command);
        unary!(
            self.client(),
            resume_partner_link,
            self.remote.request(principal, message)
        )
    }
}
