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
//!
//! The index holds at most `capacity` customers. A check about a customer
//! not held reads that customer's rows, in one snapshot with the committed
//! `seq`, brings the index up to that `seq`, and only then holds them: so
//! the rows and the events applied after them are one history.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use sea_orm::{
    AccessMode, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, IsolationLevel, QueryFilter,
    QueryTrait, Statement, TransactionTrait,
};

use super::Store;
use super::entity::{grant, partner, partner_link, relationship, subscription};
use crate::domain::access::{AccessQuery, Decision, decide};
use crate::domain::model::*;
use crate::domain::ports::AccessChecker;
use crate::domain::{Error, Result};
use crate::index::AccessIndex;

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
    /// The most customers held at once.
    capacity: usize,
    /// Customers checks are waiting for: whoever next reads customers reads
    /// all of these, so checks that miss together share one read.
    wanted: std::sync::Mutex<BTreeSet<String>>,
}

impl IndexedChecker {
    /// Loads the partners and links from one consistent snapshot of the
    /// store; customers are read as checks need them.
    /// `sole_writer`: the store's lock is claimed already (see the field).
    pub async fn load(store: Store, sole_writer: bool, capacity: usize) -> Result<Arc<Self>> {
        let started = std::time::Instant::now();
        let (rows, seq) = load_snapshot(&store, Customers::None).await?;
        let mut index = AccessIndex::default();
        rows.move_into(&mut index);
        let size = index.size();
        tracing::info!(
            seq,
            partners = size.partners,
            links = size.links,
            capacity,
            load_ms = started.elapsed().as_millis() as u64,
            "access index loaded"
        );
        Ok(Self::resume(store, index, seq, sole_writer, capacity))
    }

    /// An index that reflected the store at `seq`, brought up to date by
    /// replaying the events after it as checks arrive.
    pub fn resume(store: Store, index: AccessIndex, seq: i64, sole_writer: bool, capacity: usize) -> Arc<Self> {
        Arc::new(IndexedChecker {
            store,
            index: RwLock::new(index),
            applied: AtomicI64::new(seq),
            turn: tokio::sync::Mutex::new(()),
            reads_started: AtomicU64::new(0),
            reads_finished: AtomicU64::new(0),
            joined: AtomicU64::new(0),
            sole_writer,
            capacity: capacity.max(1),
            wanted: std::sync::Mutex::new(BTreeSet::new()),
        })
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
        let committed = match self.store.committed_seq_inline() {
            Some(seq) => seq,
            None => committed_seq(self.store.freshness_connection()).await?,
        };
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
            let mut index = self.write()?;
            for event in &events {
                index.apply(&event.resource);
            }
            self.applied.store(last, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Decides every query from the index, first reading (and holding)
    /// the customers it does not hold.
    async fn decide_all(&self, queries: &[AccessQuery]) -> Result<Vec<Decision>> {
        let now = self.store.now();
        {
            let index = self.read()?;
            if queries.iter().all(|query| index.covers(&query.customer_id)) {
                return Ok(decide_from(&index, queries, now));
            }
        }
        {
            let index = self.read()?;
            let mut wanted = self.wanted()?;
            for query in queries {
                if !index.covers(&query.customer_id) {
                    wanted.insert(query.customer_id.clone());
                }
            }
        }
        let _turn = self.turn.lock().await;
        // Everyone's wanted customers that are still not held (an earlier
        // turn may have read some).
        // This check's own too: another turn may have taken them from the
        // wanted set and then let them go again.
        let missing: BTreeSet<String> = {
            let index = self.read()?;
            let mut wanted = self.wanted()?;
            let own = queries.iter().map(|query| query.customer_id.clone());
            std::mem::take(&mut *wanted)
                .into_iter()
                .chain(own)
                .filter(|customer| !index.covers(customer))
                .collect()
        };
        if !missing.is_empty() {
            let (rows, seq) = load_snapshot(&self.store, Customers::These(&missing)).await?;
            // Events up to the rows' snapshot first, so that every later
            // event applies on top of them: no event of theirs is lost or
            // applied out of order (those before it pass over them, as they
            // are not held yet). The turn is held: no other catch-up runs,
            // and what was applied is at most what the snapshot saw.
            self.catch_up(seq).await?;
            let mut index = self.write()?;
            for customer in &missing {
                index.hold(customer);
            }
            rows.move_into(&mut index);
        }
        let mut index = self.write()?;
        let decisions = decide_from(&index, queries, now);
        index.evict_to(self.capacity);
        Ok(decisions)
    }

    fn wanted(&self) -> Result<std::sync::MutexGuard<'_, BTreeSet<String>>> {
        self.wanted
            .lock()
            .map_err(|_| Error::internal("the access index's wanted set is poisoned"))
    }

    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, AccessIndex>> {
        self.index
            .read()
            .map_err(|_| Error::internal("the access index lock is poisoned"))
    }

    fn write(&self) -> Result<std::sync::RwLockWriteGuard<'_, AccessIndex>> {
        self.index
            .write()
            .map_err(|_| Error::internal("the access index lock is poisoned"))
    }
}

fn decide_from(index: &AccessIndex, queries: &[AccessQuery], now: Micros) -> Vec<Decision> {
    queries
        .iter()
        .map(|query| decide(query, &index.facts(query), now))
        .collect()
}

#[async_trait]
impl AccessChecker for IndexedChecker {
    async fn check(&self, query: &AccessQuery) -> Result<Decision> {
        self.barrier().await?;
        self.decide_all(std::slice::from_ref(query))
            .await?
            .pop()
            .ok_or_else(|| Error::internal("no decision for the check"))
    }

    async fn check_batch(&self, queries: &[AccessQuery]) -> Result<Vec<Decision>> {
        self.barrier().await?;
        self.decide_all(queries).await
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

/// Which customers a load reads.
#[derive(Clone, Copy)]
enum Customers<'a> {
    None,
    These(&'a BTreeSet<String>),
    All,
}

/// Ids per `IN (…)` list: well inside SQLite's and PostgreSQL's limits on
/// bound parameters.
const IDS_PER_STATEMENT: usize = 500;

/// Rows read for the index, applied once the index has caught up.
#[derive(Default)]
struct LoadedRows(Vec<EventResource>);

impl LoadedRows {
    fn move_into(self, index: &mut AccessIndex) {
        for row in &self.0 {
            index.apply(row);
        }
    }
}

/// The partners, the ACTIVE links, the rows of `customers`, and the seq
/// they reflect, read in one transaction that sees one snapshot
/// (REPEATABLE READ on PostgreSQL; a read transaction in WAL mode on
/// SQLite).
async fn load_snapshot(store: &Store, customers: Customers<'_>) -> Result<(LoadedRows, i64)> {
    let db = store.connection();
    let txn = match db.get_database_backend() {
        DbBackend::Postgres => {
            db.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly))
                .await?
        }
        _ => db.begin().await?,
    };
    let loaded = load_rows(&txn, customers).await;
    txn.rollback().await?;
    loaded
}

async fn load_rows(txn: &DatabaseTransaction, customers: Customers<'_>) -> Result<(LoadedRows, i64)> {
    // The counter first: it starts the snapshot every later read shares.
    let seq = committed_seq(txn).await?;
    let mut rows = LoadedRows::default();
    match customers {
        Customers::None | Customers::All => {
            for row in partner::Entity::find().all(txn).await? {
                rows.0.push(EventResource::Partner(Partner::try_from(row)?));
            }
            // L5 reads the REVOKED ones too.
            let links = partner_link::Entity::find()
                .filter(partner_link::Column::State.is_in([
                    LinkState::Active.as_str(),
                    LinkState::Suspended.as_str(),
                    LinkState::Revoked.as_str(),
                ]))
                .all(txn)
                .await?;
            for row in links {
                rows.0.push(EventResource::PartnerLink(PartnerLink::try_from(row)?));
            }
            // R4: groups are held whole.
            for row in super::entity::security_group::Entity::find().all(txn).await? {
                rows.0.push(EventResource::SecurityGroup(
                    crate::domain::model::SecurityGroup::try_from(row)?,
                ));
            }
            if matches!(customers, Customers::All) {
                customer_rows(txn, None, &mut rows).await?;
            }
        }
        Customers::These(ids) => {
            let ids: Vec<&String> = ids.iter().collect();
            for chunk in ids.chunks(IDS_PER_STATEMENT) {
                customer_rows(txn, Some(&padded(chunk)), &mut rows).await?;
            }
        }
    }
    Ok((rows, seq))
}

/// The lengths an `IN (…)` list of ids is padded to. Each length is one
/// statement text, prepared once per connection and kept in its statement
/// cache; a length per batch size would fill the caches with large
/// statements (hundreds of MiB on SQLite).
const ID_LIST_LENGTHS: [usize; 4] = [1, 8, 64, IDS_PER_STATEMENT];

/// `ids`, padded to the next of `ID_LIST_LENGTHS` by repeating the last
/// one (a repeated id in `IN (…)` changes nothing).
fn padded<'a>(ids: &[&'a String]) -> Vec<&'a String> {
    let length = ID_LIST_LENGTHS
        .iter()
        .copied()
        .find(|length| *length >= ids.len())
        .unwrap_or(ids.len());
    let mut padded = ids.to_vec();
    if let Some(last) = ids.last() {
        padded.resize(length, last);
    }
    padded
}

/// What A1 reads of some customers (None: of all): their ACTIVE
/// relationships and grants and every subscription.
async fn customer_rows(txn: &DatabaseTransaction, ids: Option<&[&String]>, rows: &mut LoadedRows) -> Result<()> {
    let relationships = relationship::Entity::find()
        .filter(relationship::Column::State.eq(RelationshipState::Active.as_str()))
        .apply_if(ids, |query, ids| {
            query.filter(relationship::Column::CustomerId.is_in(ids.iter().copied()))
        })
        .all(txn)
        .await?;
    for row in relationships {
        rows.0.push(EventResource::Relationship(Relationship::try_from(row)?));
    }
    let grants = grant::Entity::find()
        .filter(grant::Column::State.eq(GrantState::Active.as_str()))
        .apply_if(ids, |query, ids| {
            query.filter(grant::Column::CustomerId.is_in(ids.iter().copied()))
        })
        .all(txn)
        .await?;
    for row in grants {
        rows.0
            .push(EventResource::DelegatedAdminGrant(DelegatedAdminGrant::try_from(row)?));
    }
    let subscriptions = subscription::Entity::find()
        .apply_if(ids, |query, ids| {
            query.filter(subscription::Column::CustomerId.is_in(ids.iter().copied()))
        })
        .all(txn)
        .await?;
    for row in subscriptions {
        rows.0.push(EventResource::Subscription(Subscription::try_from(row)?));
    }
    use super::entity::access_assignment;
    let assignments = access_assignment::Entity::find()
        .filter(access_assignment::Column::State.eq(AssignmentState::Active.as_str()))
        .apply_if(ids, |query, ids| {
            query.filter(access_assignment::Column::CustomerId.is_in(ids.iter().copied()))
        })
        .all(txn)
        .await?;
    for row in assignments {
        rows.0
            .push(EventResource::AccessAssignment(AccessAssignment::try_from(row)?));
    }
    Ok(())
}

impl Store {
    /// A fresh index of the store as it is now, holding every customer that
    /// has rows, with the seq it reflects.
    pub async fn load_access_index(&self) -> Result<(AccessIndex, i64)> {
        let (rows, seq) = load_snapshot(self, Customers::All).await?;
        let mut index = AccessIndex::default();
        for row in &rows.0 {
            let customer = match row {
                EventResource::Relationship(row) => Some(&row.customer_id),
                EventResource::DelegatedAdminGrant(row) => Some(&row.customer_id),
                EventResource::Subscription(row) => Some(&row.customer_id),
                EventResource::AccessAssignment(row) => Some(&row.customer_id),
                _ => None,
            };
            if let Some(customer) = customer {
                index.hold(customer);
            }
            index.apply(row);
        }
        Ok((index, seq))
    }
}
