//! The consequences of a write, split: the RelationshipService runs in
//! another process, which owns their rows (DOMAIN.md, Deployment; the
//! consequences themselves are `relationships::consequences`). The write
//! commits with outbox records, and its reply waits, up to the call's
//! deadline, until the relationship process has carried them out: so A3
//! holds for every acknowledged write.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::context::CallContext;
use crate::domain::consequence::Consequence;
use crate::domain::{Error, ErrorCode, Reason, Result};
use crate::service::contract::consequences::{Consequences, InternalRelationships};
use crate::store::{Store, WriteTx};

/// The longest a reply waits for its consequences when the call has no
/// deadline of its own (the server's deadline is normally set).
const DEFAULT_WAIT: Duration = Duration::from_secs(10);

/// What is kept of a call's deadline for answering after the wait.
const ANSWER_MARGIN: Duration = Duration::from_millis(50);

/// The consequences of this process's writes, recorded in the outbox and
/// carried out by the RelationshipService of another process.
pub struct OutboxConsequences {
    store: Store,
    owner: Arc<dyn InternalRelationships>,
}

impl OutboxConsequences {
    pub fn new(store: Store, owner: Arc<dyn InternalRelationships>) -> Self {
        OutboxConsequences { store, owner }
    }
}

#[async_trait]
impl Consequences for OutboxConsequences {
    async fn commit(&self, mut tx: WriteTx, origin_id: &str, consequences: Vec<Consequence>) -> Result<()> {
        let trace_id = CallContext::current_trace_id();
        let mut ids = Vec::with_capacity(consequences.len());
        for consequence in &consequences {
            ids.push(tx.queue_consequence(origin_id, &trace_id, consequence).await?);
        }
        tx.commit().await?;
        wait_for(self.owner.as_ref(), ids).await
    }

    async fn settle(&self, origin_id: &str) -> Result<()> {
        let ids = self.store.pending_consequences_of(origin_id).await?;
        wait_for(self.owner.as_ref(), ids).await
    }
}

/// Asks the owner to carry out `ids`, within the call's deadline. Past it,
/// or with the owner unreachable, the write stands and the relay carries
/// them out later: UNAVAILABLE, retry with the same request_id.
async fn wait_for(owner: &dyn InternalRelationships, ids: Vec<String>) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let budget = CallContext::remaining().map_or(DEFAULT_WAIT, |left| left.saturating_sub(ANSWER_MARGIN));
    let pending = || {
        Error::new(
            ErrorCode::Unavailable,
            Reason::ConsequencesPending,
            "the write is committed but its consequences are not carried out yet; they will be: retry the call (with the same request_id for a create) to get the full result",
        )
    };
    match tokio::time::timeout(budget, owner.apply_consequences(ids)).await {
        Ok(Ok(())) => Ok(()),
        // A fault of the service stays one (W4): only a bug is INTERNAL.
        Ok(Err(error)) if error.code == ErrorCode::Internal => Err(error),
        Ok(Err(error)) => {
            tracing::warn!(%error, "consequences not carried out yet; the relay will");
            Err(pending())
        }
        Err(_) => Err(pending()),
    }
}
