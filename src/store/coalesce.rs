//! Access checks that arrive together are decided together: one statement
//! for all the checks waiting, instead of one per check. A check joins only
//! a batch whose statement starts after the check arrived, so it sees every
//! write committed before it reached the store, on any replica (A3):
//! nothing is cached.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::Store;
use crate::domain::access::{AccessQuery, Decision};
use crate::domain::ports::AccessChecker;
use crate::domain::{Error, ErrorCode, Reason, Result};

/// Checks decided by one statement at most (a few bind parameters each).
const MAX_BATCH: usize = 256;
/// Checks waiting for a batch at most; callers beyond wait to enqueue.
const QUEUE_DEPTH: usize = 4096;

struct Waiting {
    query: AccessQuery,
    reply: oneshot::Sender<Result<Decision>>,
}

/// An `AccessChecker` over the store that batches concurrent checks.
pub struct CoalescingChecker {
    store: Store,
    queue: mpsc::Sender<Waiting>,
}

impl CoalescingChecker {
    /// `batches_in_flight` statements run at once (each on a connection of
    /// the pool); checks arriving meanwhile wait for the next free one.
    /// Must be called within a Tokio runtime; the batching task ends when
    /// the checker is dropped.
    pub fn new(store: Store, batches_in_flight: usize) -> Self {
        let (queue, waiting) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(run_batches(store.clone(), waiting, batches_in_flight.max(1)));
        CoalescingChecker { store, queue }
    }
}

async fn run_batches(store: Store, mut waiting: mpsc::Receiver<Waiting>, batches_in_flight: usize) {
    let slots = Arc::new(Semaphore::new(batches_in_flight));
    loop {
        // A free slot first: while every slot is busy, arrivals gather.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut batch = Vec::new();
        if waiting.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        crate::metrics::METRICS
            .access_check_batch_size
            .observe(batch.len() as f64);
        let store = store.clone();
        tokio::spawn(async move {
            let (queries, replies): (Vec<AccessQuery>, Vec<_>) =
                batch.into_iter().map(|waiting| (waiting.query, waiting.reply)).unzip();
            let decided = store.check_batch(&queries).await;
            drop(slot);
            match decided {
                Ok(decisions) => {
                    for (reply, decision) in replies.into_iter().zip(decisions) {
                        // The caller may have gone (deadline, cancellation).
                        let _ = reply.send(Ok(decision));
                    }
                }
                Err(error) => {
                    for reply in replies {
                        let _ = reply.send(Err(error.clone()));
                    }
                }
            }
        });
    }
}

#[async_trait]
impl AccessChecker for CoalescingChecker {
    async fn check(&self, query: &AccessQuery) -> Result<Decision> {
        let (reply, decision) = oneshot::channel();
        let waiting = Waiting {
            query: query.clone(),
            reply,
        };
        self.queue.send(waiting).await.map_err(|_| {
            let error_id = crate::domain::error::new_error_id();
            tracing::warn!(%error_id, "an access check arrived after the checker stopped");
            Error::new(
                ErrorCode::Unavailable,
                Reason::StoreUnavailable,
                "access checks are shutting down",
            )
            .with_error_id(&error_id)
        })?;
        decision
            .await
            .map_err(|_| Error::internal("the access check batch ended without a decision"))?
    }

    /// A caller's own batch is already one statement.
    async fn check_batch(&self, queries: &[AccessQuery]) -> Result<Vec<Decision>> {
        self.store.check_batch(queries).await
    }
}
