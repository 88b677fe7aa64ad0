//! The internal interface of the RelationshipService in another process:
//! the generated client of `partnercenter.internal.v1` behind the trait,
//! called with a token of role `internal`.

use async_trait::async_trait;

use crate::api::pb_internal;
use crate::api::pb_internal::consequence_service_client::ConsequenceServiceClient;
use crate::api::remote::{Remote, unary};
use crate::domain::{Error, Result};
use crate::service::contract::consequences::InternalRelationships;

#[derive(Clone)]
pub struct RemoteInternalRelationships {
    remote: Remote,
    /// Which process asks, as its tokens name it.
    subject: String,
}

impl RemoteInternalRelationships {
    pub fn new(remote: Remote, subject: &str) -> Self {
        RemoteInternalRelationships {
            remote,
            subject: subject.to_owned(),
        }
    }
}

#[async_trait]
impl InternalRelationships for RemoteInternalRelationships {
    async fn apply_consequences(&self, ids: Vec<String>) -> Result<()> {
        let message = pb_internal::ApplyConsequencesRequest { ids };
        let request = self.remote.internal_request(&self.subject, message);
        unary!(
            ConsequenceServiceClient::new(self.remote.channel()),
            apply_consequences,
            request
        )
    }
}

/// The reply carries nothing: the records are carried out.
impl TryFrom<pb_internal::ApplyConsequencesResponse> for () {
    type Error = Error;

    fn try_from(_: pb_internal::ApplyConsequencesResponse) -> Result<Self> {
        Ok(())
    }
}
