//! `Relationships` in another process: the generated client behind the trait.

use async_trait::async_trait;
use tokio_stream::StreamExt;

use super::Remote;
use crate::api::pb;
use crate::api::pb::relationship_service_client::RelationshipServiceClient as Client;
use crate::domain::access::{AccessQuery, Decision};
use crate::domain::model::{DelegatedAdminGrant, Event, Relationship, RelationshipRequest};
use crate::domain::paging::Page;
use crate::domain::principal::Principal;
use crate::domain::{Error, Result};
use crate::service::contract::relationships::{
    Accepted, CreateRelationshipRequest, CustomerRelationships, EndResellerRelationship, EventStream,
    GrantDelegatedAdmin, Granted, ListCustomerRelationships, ListDelegatedAdminGrants, ListEvents,
    ListRelationshipRequests, Relationships, RevokeDelegatedAdmin, UpdateDelegatedAdmin, WatchEvents,
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
        let request = self
            .remote
            .request(principal, pb::CreateRelationshipRequestRequest::from(command))?;
        let reply = self
            .client()
            .create_relationship_request(request)
            .await
            .map_err(Error::from)?;
        RelationshipRequest::try_from(reply.into_inner())
    }

    async fn get_relationship_request(&self, principal: &Principal, id: &str) -> Result<RelationshipRequest> {
        let request = self
            .remote
            .request(principal, pb::GetRelationshipRequestRequest { id: id.to_owned() })?;
        let reply = self
            .client()
            .get_relationship_request(request)
            .await
            .map_err(Error::from)?;
        RelationshipRequest::try_from(reply.into_inner())
    }

    async fn list_relationship_requests(
        &self,
        principal: &Principal,
        command: ListRelationshipRequests,
    ) -> Result<Page<RelationshipRequest>> {
        let request = self
            .remote
            .request(principal, pb::ListRelationshipRequestsRequest::from(command))?;
        let reply = self
            .client()
            .list_relationship_requests(request)
            .await
            .map_err(Error::from)?;
        let reply = reply.into_inner();
        Ok(Page {
            items: reply
                .relationship_requests
                .into_iter()
                .map(RelationshipRequest::try_from)
                .collect::<Result<_>>()?,
            next_page_token: reply.next_page_token,
        })
    }

    async fn revoke_relationship_request(&self, principal: &Principal, id: &str) -> Result<RelationshipRequest> {
        let request = self
            .remote
            .request(principal, pb::RevokeRelationshipRequestRequest { id: id.to_owned() })?;
        let reply = self
            .client()
            .revoke_relationship_request(request)
            .await
            .map_err(Error::from)?;
        RelationshipRequest::try_from(reply.into_inner())
    }

    async fn accept_relationship_request(&self, principal: &Principal, code: &str) -> Result<Accepted> {
        let request = self.remote.request(
            principal,
            pb::AcceptRelationshipRequestRequest { code: code.to_owned() },
        )?;
        let reply = self
            .client()
            .accept_relationship_request(request)
            .await
            .map_err(Error::from)?;
        Accepted::try_from(reply.into_inner())
    }

    async fn list_customer_relationships(
        &self,
        principal: &Principal,
        command: ListCustomerRelationships,
    ) -> Result<CustomerRelationships> {
        let request = self
            .remote
            .request(principal, pb::ListCustomerRelationshipsRequest::from(command))?;
        let reply = self
            .client()
            .list_customer_relationships(request)
            .await
            .map_err(Error::from)?;
        CustomerRelationships::try_from(reply.into_inner())
    }

    async fn end_reseller_relationship(
        &self,
        principal: &Principal,
        command: EndResellerRelationship,
    ) -> Result<Relationship> {
        let request = self
            .remote
            .request(principal, pb::EndResellerRelationshipRequest::from(command))?;
        let reply = self
            .client()
            .end_reseller_relationship(request)
            .await
            .map_err(Error::from)?;
        Relationship::try_from(reply.into_inner())
    }

    async fn grant_delegated_admin(&self, principal: &Principal, command: GrantDelegatedAdmin) -> Result<Granted> {
        let request = self
            .remote
            .request(principal, pb::GrantDelegatedAdminRequest::from(command))?;
        let reply = self
            .client()
            .grant_delegated_admin(request)
            .await
            .map_err(Error::from)?;
        Granted::try_from(reply.into_inner())
    }

    async fn list_delegated_admin_grants(
        &self,
        principal: &Principal,
        command: ListDelegatedAdminGrants,
    ) -> Result<Page<DelegatedAdminGrant>> {
        let request = self
            .remote
            .request(principal, pb::ListDelegatedAdminGrantsRequest::from(command))?;
        let reply = self
            .client()
            .list_delegated_admin_grants(request)
            .await
            .map_err(Error::from)?
            .into_inner();
        Ok(Page {
            items: reply
                .delegated_admin_grants
                .into_iter()
                .map(DelegatedAdminGrant::try_from)
                .collect::<Result<_>>()?,
            next_page_token: reply.next_page_token,
        })
    }

    async fn update_delegated_admin(
        &self,
        principal: &Principal,
        command: UpdateDelegatedAdmin,
    ) -> Result<DelegatedAdminGrant> {
        let request = self
            .remote
            .request(principal, pb::UpdateDelegatedAdminRequest::from(command))?;
        let reply = self
            .client()
            .update_delegated_admin(request)
            .await
            .map_err(Error::from)?;
        DelegatedAdminGrant::try_from(reply.into_inner())
    }

    async fn revoke_delegated_admin(
        &self,
        principal: &Principal,
        command: RevokeDelegatedAdmin,
    ) -> Result<DelegatedAdminGrant> {
        let request = self
            .remote
            .request(principal, pb::RevokeDelegatedAdminRequest::from(command))?;
        let reply = self
            .client()
            .revoke_delegated_admin(request)
            .await
            .map_err(Error::from)?;
        DelegatedAdminGrant::try_from(reply.into_inner())
    }

    async fn check_access(&self, principal: &Principal, query: AccessQuery) -> Result<Decision> {
        let request = self.remote.request(principal, pb::CheckAccessRequest::from(query))?;
        let reply = self.client().check_access(request).await.map_err(Error::from)?;
        Decision::try_from(reply.into_inner())
    }

    async fn batch_check_access(&self, principal: &Principal, queries: Vec<AccessQuery>) -> Result<Vec<Decision>> {
        let checks = queries.into_iter().map(pb::CheckAccessRequest::from).collect();
        let request = self.remote.request(principal, pb::BatchCheckAccessRequest { checks })?;
        let reply = self.client().batch_check_access(request).await.map_err(Error::from)?;
        reply.into_inner().results.into_iter().map(Decision::try_from).collect()
    }

    async fn list_events(&self, principal: &Principal, command: ListEvents) -> Result<Page<Event>> {
        let request = self.remote.request(principal, pb::ListEventsRequest::from(command))?;
        let reply = self.client().list_events(request).await.map_err(Error::from)?;
        let reply = reply.into_inner();
        Ok(Page {
            items: reply.events.into_iter().map(Event::try_from).collect::<Result<_>>()?,
            next_page_token: reply.next_page_token,
        })
    }

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
}
