//! RelationshipService over gRPC: each handler decodes its request into a
//! command (`decode`), asks the `Relationships` service, and encodes its
//! reply (`encode`). `remote` is the same service in another process,
//! behind the trait, over the generated client. The rules (I1-I7, M1-M3,
//! D1-D5, A1-A3, E1-E3) are the service's.

mod decode;
mod encode;
mod remote;

use std::pin::Pin;
use std::sync::Arc;

use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

pub use decode::MAX_BATCH_CHECKS;
/// An event as ListEvents and WatchEvents send it (webhooks carry it too).
pub use encode::event as event_message;
pub use remote::RemoteRelationships;

use super::pb::relationship_service_server::RelationshipService;
use super::{decoded, pb, principal};
use crate::config::RelationshipSettings;
use crate::domain::model::RelationshipRequest;
use crate::domain::{Result, validate};
use crate::service::contract::relationships::{
    CreateAccessAssignment, CreateSecurityGroup, DeleteAccessAssignment, DeleteSecurityGroup, EndResellerRelationship,
    GrantDelegatedAdmin, ListAccessAssignments, ListCustomerRelationships, ListDelegatedAdminGrants, ListEvents,
    ListRelationshipRequests, ListSecurityGroups, Relationships, RevokeDelegatedAdmin, UpdateAccessAssignment,
    UpdateDelegatedAdmin, UpdateSecurityGroup, WatchEvents,
};

pub struct RelationshipApi {
    service: Arc<dyn Relationships>,
    /// I3: the page that accepts invitations, for the url of a reply.
    invitation_base_url: String,
    /// I3: the default expiry, to check a request's `expire_after_days`.
    invitation_default_days: i32,
}

impl RelationshipApi {
    pub fn new(service: Arc<dyn Relationships>, settings: &RelationshipSettings) -> Self {
        RelationshipApi {
            service,
            invitation_base_url: settings.invitation_base_url.clone(),
            invitation_default_days: settings.invitation_default_days,
        }
    }

    fn invitation(&self, invitation: &RelationshipRequest) -> pb::RelationshipRequest {
        encode::invitation(invitation, &self.invitation_base_url)
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl RelationshipService for RelationshipApi {
    type WatchEventsStream = EventStream;

    async fn create_relationship_request(
        &self,
        request: Request<pb::CreateRelationshipRequestRequest>,
    ) -> Result<Response<pb::RelationshipRequest>, Status> {
        let default_days = self.invitation_default_days;
        let (principal, command) = decoded(request, |body| decode::create_relationship_request(body, default_days))?;
        let invitation = self.service.create_relationship_request(&principal, command).await?;
        Ok(Response::new(self.invitation(&invitation)))
    }

    async fn get_relationship_request(
        &self,
        request: Request<pb::GetRelationshipRequestRequest>,
    ) -> Result<Response<pb::RelationshipRequest>, Status> {
        let (principal, id) = decoded(request, |body| validate::id("id", &body.id))?;
        let invitation = self.service.get_relationship_request(&principal, &id).await?;
        Ok(Response::new(self.invitation(&invitation)))
    }

    async fn list_relationship_requests(
        &self,
        request: Request<pb::ListRelationshipRequestsRequest>,
    ) -> Result<Response<pb::ListRelationshipRequestsResponse>, Status> {
        let (principal, command) = decoded(request, ListRelationshipRequests::try_from)?;
        let page = self.service.list_relationship_requests(&principal, command).await?;
        Ok(Response::new(pb::ListRelationshipRequestsResponse {
            relationship_requests: page.items.iter().map(|r| self.invitation(r)).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn revoke_relationship_request(
        &self,
        request: Request<pb::RevokeRelationshipRequestRequest>,
    ) -> Result<Response<pb::RelationshipRequest>, Status> {
        let (principal, id) = decoded(request, |body| validate::id("id", &body.id))?;
        let invitation = self.service.revoke_relationship_request(&principal, &id).await?;
        Ok(Response::new(self.invitation(&invitation)))
    }

    async fn accept_relationship_request(
        &self,
        request: Request<pb::AcceptRelationshipRequestRequest>,
    ) -> Result<Response<pb::AcceptRelationshipRequestResponse>, Status> {
        let (principal, code) = decoded(request, decode::acceptance_code)?;
        let accepted = self.service.accept_relationship_request(&principal, &code).await?;
        Ok(Response::new((&accepted).into()))
    }

    async fn list_customer_relationships(
        &self,
        request: Request<pb::ListCustomerRelationshipsRequest>,
    ) -> Result<Response<pb::ListCustomerRelationshipsResponse>, Status> {
        let (principal, command) = decoded(request, ListCustomerRelationships::try_from)?;
        let page = self.service.list_customer_relationships(&principal, command).await?;
        Ok(Response::new((&page).into()))
    }

    async fn end_reseller_relationship(
        &self,
        request: Request<pb::EndResellerRelationshipRequest>,
    ) -> Result<Response<pb::Relationship>, Status> {
        let (principal, command) = decoded(request, EndResellerRelationship::try_from)?;
        let ended = self.service.end_reseller_relationship(&principal, command).await?;
        Ok(Response::new((&ended).into()))
    }

    async fn grant_delegated_admin(
        &self,
        request: Request<pb::GrantDelegatedAdminRequest>,
    ) -> Result<Response<pb::GrantDelegatedAdminResponse>, Status> {
        let (principal, command) = decoded(request, GrantDelegatedAdmin::try_from)?;
        let granted = self.service.grant_delegated_admin(&principal, command).await?;
        Ok(Response::new((&granted).into()))
    }

    async fn list_delegated_admin_grants(
        &self,
        request: Request<pb::ListDelegatedAdminGrantsRequest>,
    ) -> Result<Response<pb::ListDelegatedAdminGrantsResponse>, Status> {
        let (principal, command) = decoded(request, ListDelegatedAdminGrants::try_from)?;
        let page = self.service.list_delegated_admin_grants(&principal, command).await?;
        Ok(Response::new((&page).into()))
    }

    async fn update_delegated_admin(
        &self,
        request: Request<pb::UpdateDelegatedAdminRequest>,
    ) -> Result<Response<pb::DelegatedAdminGrant>, Status> {
        let (principal, command) = decoded(request, UpdateDelegatedAdmin::try_from)?;
        let updated = self.service.update_delegated_admin(&principal, command).await?;
        Ok(Response::new((&updated).into()))
    }

    async fn revoke_delegated_admin(
        &self,
        request: Request<pb::RevokeDelegatedAdminRequest>,
    ) -> Result<Response<pb::DelegatedAdminGrant>, Status> {
        let (principal, command) = decoded(request, RevokeDelegatedAdmin::try_from)?;
        let revoked = self.service.revoke_delegated_admin(&principal, command).await?;
        Ok(Response::new((&revoked).into()))
    }

    /// The caller before the check: a partner's empty `partner_id` is the
    /// partner itself, so the check decodes against the principal.
    async fn check_access(
        &self,
        request: Request<pb::CheckAccessRequest>,
    ) -> Result<Response<pb::CheckAccessResponse>, Status> {
        let principal = principal(&request)?;
        let query = decode::access_query("", request.get_ref(), &principal)?;
        let decision = self.service.check_access(&principal, query).await?;
        Ok(Response::new(decision.into()))
    }

    /// The caller before the checks, as for `check_access`.
    async fn batch_check_access(
        &self,
        request: Request<pb::BatchCheckAccessRequest>,
    ) -> Result<Response<pb::BatchCheckAccessResponse>, Status> {
        let principal = principal(&request)?;
        let queries = decode::batch_queries(request.get_ref(), &principal)?;
        let decisions = self.service.batch_check_access(&principal, queries).await?;
        Ok(Response::new(decisions.into()))
    }

    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let (principal, command) = decoded(request, ListEvents::try_from)?;
        let page = self.service.list_events(&principal, command).await?;
        Ok(Response::new((&page).into()))
    }

    async fn watch_events(
        &self,
        request: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        let (principal, command) = decoded(request, WatchEvents::try_from)?;
        let events = self.service.watch_events(&principal, command).await?;
        Ok(Response::new(Box::pin(events.map(|item| {
            item.map(|event| encode::event(&event)).map_err(Status::from)
        }))))
    }
    async fn create_security_group(
        &self,
        request: Request<pb::CreateSecurityGroupRequest>,
    ) -> Result<Response<pb::SecurityGroup>, Status> {
        let (principal, command) = decoded(request, CreateSecurityGroup::try_from)?;
        let group = self.service.create_security_group(&principal, command).await?;
        Ok(Response::new((&group).into()))
    }

    async fn get_security_group(
        &self,
        request: Request<pb::GetSecurityGroupRequest>,
    ) -> Result<Response<pb::SecurityGroup>, Status> {
        let (principal, id) = decoded(request, |body| validate::id("id", &body.id))?;
        let group = self.service.get_security_group(&principal, &id).await?;
        Ok(Response::new((&group).into()))
    }

    async fn list_security_groups(
        &self,
        request: Request<pb::ListSecurityGroupsRequest>,
    ) -> Result<Response<pb::ListSecurityGroupsResponse>, Status> {
        let (principal, command) = decoded(request, ListSecurityGroups::try_from)?;
        let page = self.service.list_security_groups(&principal, command).await?;
        Ok(Response::new((&page).into()))
    }

    async fn update_security_group(
        &self,
        request: Request<pb::UpdateSecurityGroupRequest>,
    ) -> Result<Response<pb::SecurityGroup>, Status> {
        let (principal, command) = decoded(request, UpdateSecurityGroup::try_from)?;
        let group = self.service.update_security_group(&principal, command).await?;
        Ok(Response::new((&group).into()))
    }

    async fn delete_security_group(
        &self,
        request: Request<pb::DeleteSecurityGroupRequest>,
    ) -> Result<Response<pb::SecurityGroup>, Status> {
        let (principal, command) = decoded(request, DeleteSecurityGroup::try_from)?;
        let group = self.service.delete_security_group(&principal, command).await?;
        Ok(Response::new((&group).into()))
    }

    async fn create_access_assignment(
        &self,
        request: Request<pb::CreateAccessAssignmentRequest>,
    ) -> Result<Response<pb::AccessAssignment>, Status> {
        let (principal, command) = decoded(request, CreateAccessAssignment::try_from)?;
        let assignment = self.service.create_access_assignment(&principal, command).await?;
        Ok(Response::new((&assignment).into()))
    }

    async fn get_access_assignment(
        &self,
        request: Request<pb::GetAccessAssignmentRequest>,
    ) -> Result<Response<pb::AccessAssignment>, Status> {
        let (principal, id) = decoded(request, |body| validate::id("id", &body.id))?;
        let assignment = self.service.get_access_assignment(&principal, &id).await?;
        Ok(Response::new((&assignment).into()))
    }

    async fn list_access_assignments(
        &self,
        request: Request<pb::ListAccessAssignmentsRequest>,
    ) -> Result<Response<pb::ListAccessAssignmentsResponse>, Status> {
        let (principal, command) = decoded(request, ListAccessAssignments::try_from)?;
        let page = self.service.list_access_assignments(&principal, command).await?;
        Ok(Response::new((&page).into()))
    }

    async fn update_access_assignment(
        &self,
        request: Request<pb::UpdateAccessAssignmentRequest>,
    ) -> Result<Response<pb::AccessAssignment>, Status> {
        let (principal, command) = decoded(request, UpdateAccessAssignment::try_from)?;
        let assignment = self.service.update_access_assignment(&principal, command).await?;
        Ok(Response::new((&assignment).into()))
    }

    async fn delete_access_assignment(
        &self,
        request: Request<pb::DeleteAccessAssignmentRequest>,
    ) -> Result<Response<pb::AccessAssignment>, Status> {
        let (principal, command) = decoded(request, DeleteAccessAssignment::try_from)?;
        let assignment = self.service.delete_access_assignment(&principal, command).await?;
        Ok(Response::new((&assignment).into()))
    }
}
