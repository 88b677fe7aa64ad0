//! The internal API's adapter (split deployment only): decodes
//! ApplyConsequences, refuses every caller but this service's own
//! processes, and asks the RelationshipService to carry the records out.
//! `remote` is that interface in another process, over the generated
//! client.

mod remote;

use std::sync::Arc;

use tonic::{Request, Response, Status};

pub use remote::RemoteInternalRelationships;

use super::pb_internal;
use super::pb_internal::consequence_service_server::ConsequenceService;
use crate::domain::principal::Caller;
use crate::domain::{Error, Reason};
use crate::service::contract::consequences::InternalRelationships;

pub struct ConsequenceApi {
    service: Arc<dyn InternalRelationships>,
}

impl ConsequenceApi {
    pub fn new(service: Arc<dyn InternalRelationships>) -> Self {
        ConsequenceApi { service }
    }
}

#[tonic::async_trait]
impl ConsequenceService for ConsequenceApi {
    async fn apply_consequences(
        &self,
        request: Request<pb_internal::ApplyConsequencesRequest>,
    ) -> Result<Response<pb_internal::ApplyConsequencesResponse>, Status> {
        match request.extensions().get::<Caller>() {
            Some(Caller::Internal { .. }) => {}
            Some(Caller::Principal(_)) => {
                return Err(Error::permission_denied(
                    Reason::RoleNotAllowed,
                    "partnercenter.internal.v1 answers only this service's own processes (role internal)",
                )
                .into());
            }
            None => {
                return Err(
                    Error::unauthenticated(Reason::TokenMissing, "the request carries no verified principal").into(),
                );
            }
        }
        let ids = request.into_inner().ids;
        self.service.apply_consequences(ids).await?;
        Ok(Response::new(pb_internal::ApplyConsequencesResponse {}))
    }
}
