//! The reader of A1's facts behind the RelationshipService. Other services
//! reach partners and decisions through the service traits
//! (`service::contract::partners::Partners`, `service::contract::relationships::Relationships`).

use async_trait::async_trait;

use super::access::{AccessQuery, Decision};
use super::error::Result;

/// A1 access decisions: CheckAccess and BatchCheckAccess, which the customer
/// service asks for C4 and C5.
#[async_trait]
pub trait AccessChecker: Send + Sync + 'static {
    async fn check(&self, query: &AccessQuery) -> Result<Decision>;

    /// Many checks with a bounded number of store reads (A2).
    async fn check_batch(&self, queries: &[AccessQuery]) -> Result<Vec<Decision>>;
}

/// H5: an event as ListEvents shows it, in proto3 JSON (proto field names,
/// int64 as strings): the body's `data`. The gRPC adapters own that
/// encoding; the dispatcher asks for it through this.
pub trait EventJson: Send + Sync + 'static {
    fn event_json(&self, event: &super::model::Event) -> Result<serde_json::Value>;
}

/// H5, I3: seals a secret for the store under the server's key, bound to
/// `context` (the row it belongs to), and opens it again. The store keeps
/// invitation codes this way; the errors say what is wrong, never the
/// secret.
pub trait SecretBox: Send + Sync + 'static {
    fn seal(&self, plaintext: &str, context: &str) -> std::result::Result<String, String>;
    fn open(&self, sealed: &str, context: &str) -> std::result::Result<String, String>;
}
