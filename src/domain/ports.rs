//! The seams between services. A handler reaches data its service does not
//! own only through these traits, implemented in-process today, so a service
//! can later be deployed apart with a gRPC-client implementation slotted in.

use async_trait::async_trait;

use super::access::{AccessQuery, Decision};
use super::error::Result;
use super::model::{Partner, PartnerLink};

/// What the customer and relationship services need to know of partners.
#[async_trait]
pub trait PartnerDirectory: Send + Sync + 'static {
    async fn partner(&self, id: &str) -> Result<Option<Partner>>;

    /// The ACTIVE link between a provider and a reseller, if any.
    async fn active_link(&self, provider_id: &str, reseller_id: &str) -> Result<Option<PartnerLink>>;
}

/// A1 access decisions: CheckAccess, and the customer service for C4, S2, S3.
#[async_trait]
pub trait AccessChecker: Send + Sync + 'static {
    async fn check(&self, query: &AccessQuery) -> Result<Decision>;

    /// Many checks with a bounded number of store reads (A2).
    async fn check_batch(&self, queries: &[AccessQuery]) -> Result<Vec<Decision>>;
}
