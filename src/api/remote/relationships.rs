//! `Relationships` in another process: the generated client behind the trait.

use super::Remote;

/// The RelationshipService of another process.
#[derive(Clone)]
pub struct RemoteRelationships {
    #[allow(dead_code)]
    remote: Remote,
}

impl RemoteRelationships {
    pub fn new(remote: Remote) -> Self {
        RemoteRelationships { remote }
    }
}
