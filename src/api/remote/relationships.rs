//! `Relationships` in another process: the generated client behind the trait.

use async_trait::async_trait;

use super::Remote;
use crate::api::pb;
use crate::api::pb::relationship_service_client::RelationshipServiceClient as Client;
use crate::domain::access::{AccessQuery, Decision};
use crate::domain::principal::Principal;
use crate::domain::{Error, Result};
use crate::service::relationships::Relationships;

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
}
