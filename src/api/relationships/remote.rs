//! `Relationships` in another process: the generated client behind the trait.

use async_trait::async_trait;
use tokio_stream::StreamExt;

use crate::api::pb;
use crate::api::pb::relationship_service_client::RelationshipServiceClient as Client;
use crate::api::remote::{Remote, unary};
use crate::domain::access::{AccessQuery, Decision};
use crate::domain::model::{
    AccessAssignment, DelegatedAdminGrant, Event, Relationship, RelationshipRequest, SecurityGroup,
};
use crate::domain::paging::Page;
use crate::domain::principal::Principal;
use crate::domain::{Error, Result};
use crate::service::contract::relationships::{
    Accepted, CreateAccessAssignment, CreateRelationshipRequest, CreateSecurityGroup, CustomerRelationships,
    DeleteAccessAssignment, DeleteSecurityGroup, EndResellerRelationship, EventStream, GrantDelegatedAdmin, Granted,
    ListAccessAssignments, ListCustomerRelationships, ListDelegatedAdminGrants, ListEvents, ListRelationshipRequests,
    ListSecurityGroups, Relationships, RevokeDelegatedAdmin, UpdateAccessAssignment, UpdateDelegatedAdmin,
    UpdateSecurityGroup, WatchEvents,
};

/// The RelationshipService of another process.
#[derive(Clone)]
pub struct RemoteRelationships {
    remote: Remote,
}

impl RemoteRelationships {
    pub fn new(remote: Remote) -> Self {
        RemoteRelationships { remote }
    }

    fn client(&self) -> Client<tonic::transport::Channel> {
        Client::new(self.remote.channel())
    }
}

#[async_trait]
impl Relationships for RemoteRelationships {
    async fn create_relationship_request(
        &self,
        principal: &Principal,
        command: CreateRelationshipRequest,
    ) -> Result<RelationshipRequest> {
        let message = pb::CreateRelationshipRequestRequest::from(command);
        unary!(
            self.client(),
            create_relationship_request,
            self.remote.request(principal, message)
        )
    }

    async fn get_relationship_request(&self, principal: &Principal, id: &str) -> Result<RelationshipRequest> {
        let message = pb::GetRelationshipRequestRequest { id: id.to_owned() };
        unary!(
            self.client(),
            get_relationship_request,
            self.remote.request(principal, message)
        )
    }

    async fn list_relationship_requests(
        &self,
        principal: &Principal,
        command: ListRelationshipRequests,
    ) -> Result<Page<RelationshipRequest>> {
        let message = pb::ListRelationshipRequestsRequest::from(command);
        unary!(
            self.client(),
            list_relationship_requests,
            self.remote.request(principal, message)
        )
    }

    async fn revoke_relationship_request(&self, principal: &Principal, id: &str) -> Result<RelationshipRequest> {
        let message = pb::RevokeRelationshipRequestRequest { id: id.to_owned() };
        unary!(
            self.client(),
            revoke_relationship_request,
            self.remote.request(principal, message)
        )
    }

    async fn accept_relationship_request(&self, principal: &Principal, code: &str) -> Result<Accepted> {
        let message = pb::AcceptRelationshipRequestRequest { code: code.to_owned() };
        unary!(
            self.client(),
            accept_relationship_request,
            self.remote.request(principal, message)
        )
    }

    async fn list_customer_relationships(
        &self,
        principal: &Principal,
        command: ListCustomerRelationships,
    ) -> Result<CustomerRelationships> {
        let message = pb::ListCustomerRelationshipsRequest::from(command);
        unary!(
            self.client(),
            list_customer_relationships,
            self.remote.request(principal, message)
        )
    }

    async fn end_reseller_relationship(
        &self,
        principal: &Principal,
        command: EndResellerRelationship,
    ) -> Result<Relationship> {
        let message = pb::EndResellerRelationshipRequest::from(command);
        unary!(
            self.client(),
            end_reseller_relationship,
            self.remote.request(principal, message)
        )
    }

    async fn grant_delegated_admin(&self, principal: &Principal, command: GrantDelegatedAdmin) -> Result<Granted> {
        let message = pb::GrantDelegatedAdminRequest::from(command);
        unary!(
            self.client(),
            grant_delegated_admin,
            self.remote.request(principal, message)
        )
    }

    async fn list_delegated_admin_grants(
        &self,
        principal: &Principal,
        command: ListDelegatedAdminGrants,
    ) -> Result<Page<DelegatedAdminGrant>> {
        let message = pb::ListDelegatedAdminGrantsRequest::from(command);
        unary!(
            self.client(),
            list_delegated_admin_grants,
            self.remote.request(principal, message)
        )
    }

    async fn update_delegated_admin(
        &self,
        principal: &Principal,
        command: UpdateDelegatedAdmin,
    ) -> Result<DelegatedAdminGrant> {
        let message = pb::UpdateDelegatedAdminRequest::from(command);
        unary!(
            self.client(),
            update_delegated_admin,
            self.remote.request(principal, message)
        )
    }

    async fn revoke_delegated_admin(
        &self,
        principal: &Principal,
        command: RevokeDelegatedAdmin,
    ) -> Result<DelegatedAdminGrant> {
        let message = pb::RevokeDelegatedAdminRequest::from(command);
        unary!(
            self.client(),
            revoke_delegated_admin,
            self.remote.request(principal, message)
        )
    }

    async fn check_access(&self, principal: &Principal, query: AccessQuery) -> Result<Decision> {
        let message = pb::CheckAccessRequest::from(query);
        unary!(self.client(), check_access, self.remote.request(principal, message))
    }

    async fn batch_check_access(&self, principal: &Principal, queries: Vec<AccessQuery>) -> Result<Vec<Decision>> {
        let message = pb::BatchCheckAccessRequest::from(queries);
        unary!(
            self.client(),
            batch_check_access,
            self.remote.request(principal, message)
        )
    }

    async fn list_events(&self, principal: &Principal, command: ListEvents) -> Result<Page<Event>> {
        let message = pb::ListEventsRequest::from(command);
        unary!(self.client(), list_events, self.remote.request(principal, message))
    }

    /// The one streaming call: each event decoded as it arrives.
    async fn watch_events(&self, principal: &Principal, command: WatchEvents) -> Result<EventStream> {
        let request = self.remote.request(principal, pb::WatchEventsRequest::from(command))?;
        let reply = self.client().watch_events(request).await.map_err(Error::from)?;
        let events: EventStream = Box::pin(
            reply
                .into_inner()
                .map(|item| item.map_err(Error::from).and_then(Event::try_from)),
        );
        Ok(events)
    }

    async fn create_security_group(
        &self,
        principal: &Principal,
        command: CreateSecurityGroup,
    ) -> Result<SecurityGroup> {
        let message = pb::CreateSecurityGroupRequest::from(command);
        unary!(
            self.client(),
            create_security_group,
            self.remote.request(principal, message)
        )
    }

    async fn get_security_group(&self, principal: &Principal, id: &str) -> Result<SecurityGroup> {
        let message = pb::GetSecurityGroupRequest { id: id.to_owned() };
        unary!(
            self.client(),
            get_security_group,
            self.remote.request(principal, message)
        )
    }

    async fn list_security_groups(
        &self,
        principal: &Principal,
        command: ListSecurityGroups,
    ) -> Result<Page<SecurityGroup>> {
        let message = pb::ListSecurityGroupsRequest::from(command);
        unary!(
            self.client(),
            list_security_groups,
            self.remote.request(principal, message)
        )
    }

    async fn update_security_group(
        &self,
        principal: &Principal,
        command: UpdateSecurityGroup,
    ) -> Result<SecurityGroup> {
        let message = pb::UpdateSecurityGroupRequest::from(command);
        unary!(
            self.client(),
            update_security_group,
            self.remote.request(principal, message)
        )
    }

    async fn delete_security_group(
        &self,
        principal: &Principal,
        command: DeleteSecurityGroup,
    ) -> Result<SecurityGroup> {
        let message = pb::DeleteSecurityGroupRequest::from(command);
        unary!(
            self.client(),
            delete_security_group,
            self.remote.request(principal, message)
        )
    }

    async fn create_access_assignment(
        &self,
        principal: &Principal,
        command: CreateAccessAssignment,
    ) -> Result<AccessAssignment> {
        let message = pb::CreateAccessAssignmentRequest::from(command);
        unary!(
            self.client(),
            create_access_assignment,
            self.remote.request(principal, message)
        )
    }

    async fn get_access_assignment(&self, principal: &Principal, id: &str) -> Result<AccessAssignment> {
        let message = pb::GetAccessAssignmentRequest { id: id.to_owned() };
        unary!(
            self.client(),
            get_access_assignment,
            self.remote.request(principal, message)
        )
    }

    async fn list_access_assignments(
        &self,
        principal: &Principal,
        command: ListAccessAssignments,
    ) -> Result<Page<AccessAssignment>> {
        let message = pb::ListAccessAssignmentsRequest::from(command);
        unary!(
            self.client(),
            list_access_assignments,
            self.remote.request(principal, message)
        )
    }

    async fn update_access_assignment(
        &self,
        principal: &Principal,
        command: UpdateAccessAssignment,
    ) -> Result<AccessAssignment> {
        let message = pb::UpdateAccessAssignmentRequest::from(command);
        unary!(
            self.client(),
            update_access_assignment,
            self.remote.request(principal, message)
        )
    }

    async fn delete_access_assignment(
        &self,
        principal: &Principal,
        command: DeleteAccessAssignment,
    ) -> Result<AccessAssignment> {
        let message = pb::DeleteAccessAssignmentRequest::from(command);
        unary!(
            self.client(),
            delete_access_assignment,
            self.remote.request(principal, message)
        )
    }
}
