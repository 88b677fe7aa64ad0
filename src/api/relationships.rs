//! RelationshipService: invitations, relationships, delegated admin, access
//! checks and events (I1-I7, M1-M3, D1-D5, A1-A3, E1-E3).
//!
//! Not implemented yet: every RPC answers UNIMPLEMENTED. The rows these RPCs
//! work on already exist (C1 writes relationships and grants).

use std::pin::Pin;
use std::sync::Arc;

use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::pb;
use super::pb::relationship_service_server::RelationshipService;
use crate::domain::ports::{AccessChecker, PartnerDirectory};
use crate::store::Store;

pub struct RelationshipApi {
    #[allow(dead_code)]
    store: Store,
    #[allow(dead_code)]
    partners: Arc<dyn PartnerDirectory>,
    #[allow(dead_code)]
    access: Arc<dyn AccessChecker>,
}

impl RelationshipApi {
    pub fn new(store: Store, partners: Arc<dyn PartnerDirectory>, access: Arc<dyn AccessChecker>) -> Self {
        RelationshipApi {
            store,
            partners,
            access,
        }
    }
}

fn not_yet() -> Status {
    Status::unimplemented("RelationshipService is not implemented in this release")
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::Event, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl RelationshipService for RelationshipApi {
    type WatchEventsStream = EventStream;

    async fn create_relationship_request(
        &self,
        _request: Request<pb::CreateRelationshipRequestRequest>,
    ) -> Result<Response<pb::RelationshipRequest>, Status> {
        Err(not_yet())
    }

    async fn get_relationship_request(
        &self,
        _request: Request<pb::GetRelationshipRequestRequest>,
    ) -> Result<Response<pb::RelationshipRequest>, Status> {
        Err(not_yet())
    }

    async fn list_relationship_requests(
        &self,
        _request: Request<pb::ListRelationshipRequestsRequest>,
    ) -> Result<Response<pb::ListRelationshipRequestsResponse>, Status> {
        Err(not_yet())
    }

    async fn revoke_relationship_request(
        &self,
        _request: Request<pb::RevokeRelationshipRequestRequest>,
    ) -> Result<Response<pb::RelationshipRequest>, Status> {
        Err(not_yet())
    }

    async fn accept_relationship_request(
        &self,
        _request: Request<pb::AcceptRelationshipRequestRequest>,
    ) -> Result<Response<pb::AcceptRelationshipRequestResponse>, Status> {
        Err(not_yet())
    }

    async fn list_customer_relationships(
        &self,
        _request: Request<pb::ListCustomerRelationshipsRequest>,
    ) -> Result<Response<pb::ListCustomerRelationshipsResponse>, Status> {
        Err(not_yet())
    }

    async fn end_reseller_relationship(
        &self,
        _request: Request<pb::EndResellerRelationshipRequest>,
    ) -> Result<Response<pb::Relationship>, Status> {
        Err(not_yet())
    }

    async fn grant_delegated_admin(
        &self,
        _request: Request<pb::GrantDelegatedAdminRequest>,
    ) -> Result<Response<pb::GrantDelegatedAdminResponse>, Status> {
        Err(not_yet())
    }

    async fn revoke_delegated_admin(
        &self,
        _request: Request<pb::RevokeDelegatedAdminRequest>,
    ) -> Result<Response<pb::DelegatedAdminGrant>, Status> {
        Err(not_yet())
    }

    async fn check_access(
        &self,
        _request: Request<pb::CheckAccessRequest>,
    ) -> Result<Response<pb::CheckAccessResponse>, Status> {
        Err(not_yet())
    }

    async fn batch_check_access(
        &self,
        _request: Request<pb::BatchCheckAccessRequest>,
    ) -> Result<Response<pb::BatchCheckAccessResponse>, Status> {
        Err(not_yet())
    }

    async fn list_events(
        &self,
        _request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        Err(not_yet())
    }

    async fn watch_events(
        &self,
        _request: Request<pb::WatchEventsRequest>,
    ) -> Result<Response<Self::WatchEventsStream>, Status> {
        Err(not_yet())
    }
}
