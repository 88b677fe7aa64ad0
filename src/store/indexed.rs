//! A1 from memory, never stale (A3): the `AccessIndex` loaded from one
//! snapshot of the store, then kept current from the events table in `seq`
//! order, so the writes of every process, replica or service appear.
//!
//! Before a decision, a check waits for a read of the store's committed
//! `seq` that started after the check arrived (in the manner of etcd's
//! ReadIndex), and for the index to have applied every event up to it: so
//! every write acknowledged before the check, on any replica, is in it.
//! Checks that arrive while such a read runs share the next one: one small
//! read per group of checks, however many.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use sea_orm::{
    AccessMode, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, IsolationLevel, QueryFilter,
    Statement, TransactionTrait,
};

use super::Store;
use super::entity::{grant, partner, partner_link, relationship, subscription};
use crate::domain::access::{AccessQuery, Decision, decide};
use crate::domain::access_index::AccessIndex;
use crate::domain::model::*;
use crate::domain::ports::AccessChecker;
use crate::domain::{Error, Result};

/// Events applied per read while catching up.
const CATCH_UP_BATCH: u64 = 2000;

pub struct IndexedChecker {
    store: Store,
    index: RwLock<AccessIndex>,
    /// The last seq the index has applied.
    applied: AtomicI64,
    /// One barrier read at a time; those who wait share the next.
    turn: tokio::sync::Mutex<()>,
    /// Barrier reads started, and the number of the last one finished.
    reads_started: AtomicU64,
    reads_finished: AtomicU64,
    /// Checks that asked since the last read finished (the metric of how
    /// many share one store read).
    joined: AtomicU64,
    /// This process is the store's only writer (`Store::claim_sole_writer`):
    /// its own commits are all there is, and no read is needed.
    sole_writer: bool,
}

impl IndexedChecker {
    /// Loads the index from one consistent snapshot of the store.
    /// `sole_writer`: the store's lock is claimed already (see the field).
    pub async fn load(store: Store, sole_writer: bool) -> Result<Arc<Self>> {
        let started = std::time::Instant::now();
        let (index, seq) = load_snapshot(&store).await?;
        let size = index.size();
        tracing::info!(
            seq,
            partners = size.partners,
            links = size.links,
            relationships = size.relationships,
            grants = size.grants,
            subscriptions = size.subscriptions,
            load_ms = started.elapsed().as_millis() as u64,
            "access index loaded"
        );
        Ok(Arc::new(IndexedChecker {
            store,
            index: RwLock::new(index),
            applied: AtomicI64::new(seq),
            turn: tokio::sync::Mutex::new(()),
            reads_started: AtomicU64::new(0),
            reads_finished: AtomicU64::new(0),
            joined: AtomicU64::new(0),
            sole_writer,
        }))
    }

    /// The last seq applied.
    pub fn applied_seq(&self) -> i64 {
        self.applied.load(Ordering::SeqCst)
    }

    /// A copy of the index as it stands (tests compare it with one loaded
    /// afresh).
    pub fn snapshot(&self) -> AccessIndex {
        self.index.read().map(|index| index.clone()).unwrap_or_default()
    }

    /// A3: returns once the index holds every write committed before this
    /// call began.
    pub async fn barrier(&self) -> Result<()> {
        if self.sole_writer {
            // Every write was made here and is acknowledged only after its
            // commit set this.
            let committed = self.store.last_committed_here();
            if self.applied_seq() < committed {
                let _turn = self.turn.lock().await;
                self.catch_up(committed).await?;
            }
            return Ok(());
        }
        let arrived = self.reads_started.load(Ordering::SeqCst);
        self.joined.fetch_add(1, Ordering::Relaxed);
        let _turn = self.turn.lock().await;
        // A read that started after this check arrived has finished.
        if self.reads_finished.load(Ordering::SeqCst) > arrived {
            return Ok(());
        }
        let read = self.reads_started.fetch_add(1, Ordering::SeqCst) + 1;
        let committed = committed_seq(self.store.connection()).await?;
        self.catch_up(committed).await?;
        self.reads_finished.store(read, Ordering::SeqCst);
        let shared = self.joined.swap(0, Ordering::Relaxed);
        crate::metrics::METRICS.access_check_batch_size.observe(shared as f64);
        Ok(())
    }

    /// Applies the events after the last applied one, up to `seq`.
    async fn catch_up(&self, seq: i64) -> Result<()> {
        while self.applied_seq() < seq {
            let events = self.store.events_after(self.applied_seq(), CATCH_UP_BATCH).await?;
            let Some(last) = events.last().map(|event| event.seq) else {
                return Err(Error::internal(format!(
                    "the event log ends at {} but its counter says {seq}",
                    self.applied_seq()
                )));
            };
            let mut index = self
                .index
                .write()
                .map_err(|_| Error::internal("the access index lock is poisoned"))?;
            for event in &events {
                index.apply(&event.resource);
            }
            self.applied.store(last, Ordering::SeqCst);
        }
        Ok(())
    }

    fn decide_all(&self, queries: &[AccessQuery]) -> Result<Vec<Decision>> {
        let now = self.store.now();
        let index = self
            .index
            .read()
            .map_err(|_| Error::internal("the access index lock is poisoned"))?;
        Ok(queries
            .iter()
            .map(|query| decide(query, &index.facts(query), now))
            .collect())
    }
}

#[async_trait]
impl AccessChecker for IndexedChecker {
    async fn check(&self, query: &AccessQuery) -> Result<Decision> {
        self.barrier().await?;
        self.decide_all(std::slice::from_ref(query))?
            .pop()
            .ok_or_else(|| Error::internal("no decision for the check"))
    }

    async fn check_batch(&self, queries: &[AccessQuery]) -> Result<Vec<Decision>> {
        self.barrier().await?;
        self.decide_all(queries)
    }
}

/// The committed `seq`: the event counter, which every write takes first
/// and sets to its last event's seq as it commits (E1).
async fn committed_seq<C: ConnectionTrait>(db: &C) -> Result<i64> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT value FROM event_counter WHERE id = 1",
        ))
        .await?
        .ok_or_else(|| Error::internal("the event counter row is missing"))?;
    Ok(row.try_get("", "value")?)
}

/// The index and the seq it reflects, read in one transaction that sees
/// one snapshot (REPEATABLE READ on PostgreSQL; a read transaction in WAL
/// mode on SQLite).
async fn load_snapshot(store: &Store) -> Result<(AccessIndex, i64)> {
    let db = store.connection();
    let txn = match db.get_database_backend() {
        DbBackend::Postgres => {
            db.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly))
                .await?
        }
        _ => db.begin().await?,
    };
    let loaded = load_rows(&txn).await;
    txn.rollback().await?;
    loaded
}

async fn load_rows(txn: &DatabaseTransaction) -> Result<(AccessIndex, i64)> {
    // The counter first: it starts the snapshot every later read shares.
    let seq = committed_seq(txn).await?;
    let mut index = AccessIndex::default();
    for row in partner::Entity::find().all(txn).await? {
        index.apply(&EventResource::Partner(Partner::try_from(row)?));
    }
    let links = partner_link::Entity::find()
        .filter(partner_link::Column::State.eq(LinkState::Active.as_str()))
        .all(txn)
        .await?;
    for row in links {
        index.apply(&EventResource::PartnerLink(PartnerLink::try_from(row)?));
    }
    let relationships = relationship::Entity::find()
        .filter(relationship::Column::State.eq(RelationshipState::Active.as_str()))
        .all(txn)
        .await?;
    for row in relationships {
        index.apply(&EventResource::Relationship(Relationship::try_from(row)?));
    }
    let grants = grant::Entity::find()
        .filter(grant::Column::State.eq(GrantState::Active.as_str()))
        .all(txn)
        .await?;
    for row in grants {
        index.apply(&EventResource::DelegatedAdminGrant(DelegatedAdminGrant::try_from(row)?));
    }
    for row in subscription::Entity::find().all(txn).await? {
        index.apply(&EventResource::Subscription(Subscription::try_from(row)?));
    }
    Ok((index, seq))
}

impl Store {
    /// A fresh index of the store as it is now, with the seq it reflects.
    pub async fn load_access_index(&self) -> Result<(AccessIndex, i64)> {
        load_snapshot(self).await
    }
}
