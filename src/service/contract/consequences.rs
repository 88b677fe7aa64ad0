//! The consequences of a write of the CustomerService or the
//! PartnerService that the RelationshipService's rows carry (C1's creator
//! rights, S1's ADVISOR relationship, D2 when a provider or a link is
//! restored; DOMAIN.md, Deployment): how the writing service has them
//! carried out, and the internal interface the split deployment asks
//! through.

use async_trait::async_trait;

use crate::domain::Result;
use crate::domain::consequence::Consequence;
use crate::store::WriteTx;

/// How a write has its consequences carried out. Embedded
/// (`relationships::InProcessConsequences`), in the write's own
/// transaction. Split (`consequences::OutboxConsequences`), the write
/// commits with outbox records, and its reply waits, up to the call's
/// deadline, until the relationship process has carried them out: so A3
/// holds for every acknowledged write.
#[async_trait]
pub trait Consequences: Send + Sync + 'static {
    /// Commits `tx` with `consequences` of the write on `origin_id` carried
    /// out (or, split, recorded and then carried out before this returns).
    async fn commit(&self, tx: WriteTx, origin_id: &str, consequences: Vec<Consequence>) -> Result<()>;

    /// A replayed or repeated write on `origin_id`: the consequences it
    /// recorded the first time, if still pending, are carried out before
    /// the reply (a retry after UNAVAILABLE returns the full result).
    async fn settle(&self, origin_id: &str) -> Result<()>;
}

/// The internal interface of the RelationshipService (the split
/// deployment's `partnercenter.internal.v1.ConsequenceService`): other
/// processes of this service ask it to carry out what they recorded.
#[async_trait]
pub trait InternalRelationships: Send + Sync + 'static {
    /// Carries out the outbox records `ids`, each once: a record already
    /// carried out is skipped, so a retry is harmless.
    async fn apply_consequences(&self, ids: Vec<String>) -> Result<()>;
}
