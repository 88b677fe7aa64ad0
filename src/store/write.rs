//! Write transactions. Every change goes through a `WriteTx`, which takes the
//! event counter row first and appends the change's events in the same
//! transaction (E1): no change without an event, no event without a change,
//! and `seq` without gaps, visible in order on every replica.

use std::collections::HashMap;
use std::sync::Arc;

use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, EntityTrait, QueryFilter, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};

use tokio::sync::OwnedMutexGuard;

use super::Store;
use super::entity::{event, event_audience, partner_link, request_record};
use crate::domain::model::{EventResource, GrantState, LinkState, Micros, RelationshipState};
use crate::domain::{Error, Reason, Result};

/// AIP-155: who asked, for which method, with which request id, and a
/// fingerprint of the request so a reused id with another payload is caught.
#[derive(Clone, Debug)]
pub struct RequestKey {
    pub key: String,
    pub fingerprint: String,
}

/// Writers of this process queue here, in arrival order, before they take
/// the database's write lock. SQLite's busy handler would otherwise make
/// them poll with sleeps of up to 100 ms; and a waiting writer holds no pool
/// connection. Writers of other processes still queue in the database
/// (busy timeout on SQLite, the counter row lock on PostgreSQL).
#[derive(Clone, Default)]
pub struct WriteGate(Arc<tokio::sync::Mutex<()>>);

impl WriteGate {
    /// Begins a write transaction (IMMEDIATE on SQLite: the write lock is
    /// taken at BEGIN, so writers never fail at COMMIT) once it is this
    /// writer's turn. The turn ends when the returned guard is dropped.
    ///
    /// W4: the pool hands out only connections outside any transaction
    /// (see `store::connect`), so this is always a real BEGIN, never a
    /// SAVEPOINT inside a transaction a failed COMMIT left behind.
    pub async fn begin(
        &self,
        db: &DatabaseConnection,
    ) -> std::result::Result<(DatabaseTransaction, OwnedMutexGuard<()>), DbErr> {
        let turn = self.0.clone().lock_owned().await;
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        let txn = db.begin_with_options(options).await?;
        Ok((txn, turn))
    }
}

pub struct WriteTx {
    txn: DatabaseTransaction,
    /// Dropped after the transaction: the next writer's turn.
    _turn: OwnedMutexGuard<()>,
    now: Micros,
    actor: String,
    pending: Vec<(&'static str, EventResource)>,
    store: Store,
}

impl Store {
    /// Starts a write: the counter row is locked before anything is read,
    /// so concurrent writers (on any replica) queue here and every read of
    /// this transaction sees all writes committed before it.
    pub async fn begin_write(&self, actor: String) -> Result<WriteTx> {
        let (txn, turn) = self.write_gate.begin(&self.db).await?;
        txn.execute_unprepared("UPDATE event_counter SET value = value WHERE id = 1")
            .await?;
        Ok(WriteTx {
            txn,
            _turn: turn,
            now: self.clock.now(),
            actor,
            pending: Vec::new(),
            store: self.clone(),
        })
    }
}

impl WriteTx {
    pub fn conn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    pub fn now(&self) -> Micros {
        self.now
    }

    /// Records the new state of something this transaction changed.
    pub fn record(&mut self, event_type: &'static str, resource: EventResource) {
        self.pending.push((event_type, resource));
    }

    /// The resource a retried request created the first time, if any.
    pub async fn replayed(&self, key: Option<&RequestKey>) -> Result<Option<String>> {
        let Some(key) = key else { return Ok(None) };
        let Some(found) = request_record::Entity::find_by_id(key.key.clone())
            .one(&self.txn)
            .await?
        else {
            return Ok(None);
        };
        if found.fingerprint != key.fingerprint {
            return Err(Error::new(
                crate::domain::ErrorCode::InvalidArgument,
                Reason::RequestIdReused,
                "request_id was already used for a different request",
            ));
        }
        Ok(Some(found.resource_id))
    }

    /// Remembers what a request with a request id created.
    pub async fn remember(&self, key: Option<&RequestKey>, resource_id: &str) -> Result<()> {
        let Some(key) = key else { return Ok(()) };
        request_record::Entity::insert(request_record::ActiveModel {
            key: Set(key.key.clone()),
            fingerprint: Set(key.fingerprint.clone()),
            resource_id: Set(resource_id.to_owned()),
            create_time: Set(self.now),
        })
        .exec(&self.txn)
        .await?;
        Ok(())
    }

    /// Appends the recorded events and commits. Returns the last seq.
    pub async fn commit(self) -> Result<i64> {
        let WriteTx {
            txn,
            _turn,
            now,
            actor,
            pending,
            store,
        } = self;
        if pending.is_empty() {
            // Nothing changed (e.g. a replayed request): release the lock.
            txn.rollback().await?;
            return Ok(0);
        }
        let backend = txn.get_database_backend();
        let row = txn
            .query_one_raw(Statement::from_string(
                backend,
                "SELECT value FROM event_counter WHERE id = 1",
            ))
            .await?
            .ok_or_else(|| Error::internal("the event counter row is missing"))?;
        let last: i64 = row.try_get("", "value")?;
        // Viewers of every customer the events touch, read in a few
        // statements (a bulk seed appends events for thousands of customers).
        let customers: Vec<&str> = {
            let mut ids: Vec<&str> = pending.iter().filter_map(|(_, r)| r.customer_id()).collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        let mut viewers_of: HashMap<String, Vec<String>> = HashMap::new();
        for chunk in customers.chunks(VIEWER_CHUNK) {
            viewers(&txn, chunk, now, &mut viewers_of).await?;
        }
        let mut seq = last;
        let mut rows = Vec::with_capacity(pending.len());
        let mut audience_rows = Vec::new();
        for (event_type, resource) in pending {
            seq += 1;
            for partner_id in audience(&txn, &resource, &viewers_of).await? {
                audience_rows.push(event_audience::ActiveModel {
                    partner_id: Set(partner_id),
                    seq: Set(seq),
                });
            }
            let payload = serde_json::to_string(&resource)
                .map_err(|error| Error::internal(format!("event encoding failed: {error}")))?;
            rows.push(event::ActiveModel {
                seq: Set(seq),
                time: Set(now),
                event_type: Set(event_type.to_owned()),
                actor: Set(actor.clone()),
                customer_id: Set(resource.customer_id().map(str::to_owned)),
                partner_id: Set(resource.partner_id().map(str::to_owned)),
                subject_id: Set(resource.subject_id().to_owned()),
                payload: Set(payload),
            });
        }
        // Chunks stay under the bind-parameter limits of SQLite and PostgreSQL.
        for chunk in chunks(rows, 1000) {
            event::Entity::insert_many(chunk).exec_without_returning(&txn).await?;
        }
        for chunk in chunks(audience_rows, 5000) {
            event_audience::Entity::insert_many(chunk)
                .exec_without_returning(&txn)
                .await?;
        }
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            placeholders(backend, "UPDATE event_counter SET value = $1 WHERE id = 1"),
            [seq.into()],
        ))
        .await?;
        txn.commit().await?;
        crate::metrics::METRICS.events_appended.inc_by((seq - last) as u64);
        store.committed.send_replace(seq);
        Ok(seq)
    }
}

/// Customers whose viewers one statement reads (two IN lists of this size
/// stay well under the bind-parameter limits).
const VIEWER_CHUNK: usize = 500;

/// E2: the partners that may read an event, decided when it is appended:
/// for a customer's resources, the partners that may VIEW the customer (A1)
/// after the change, and the partner the resource names; for partners,
/// links and invitations, the partners they concern.
async fn audience(
    txn: &DatabaseTransaction,
    resource: &EventResource,
    viewers_of: &HashMap<String, Vec<String>>,
) -> Result<Vec<String>> {
    let mut partners: Vec<String> = Vec::new();
    if let Some(customer_id) = resource.customer_id() {
        partners.extend(viewers_of.get(customer_id).into_iter().flatten().cloned());
    }
    match resource {
        EventResource::Partner(partner) => {
            partners.push(partner.id.clone());
            partners.extend(linked_partners(txn, &partner.id).await?);
        }
        EventResource::PartnerLink(link) => {
            partners.push(link.provider_id.clone());
            partners.push(link.reseller_id.clone());
        }
        EventResource::RelationshipRequest(invitation) => {
            partners.push(invitation.inviting_partner_id.clone());
            partners.extend(invitation.indirect_reseller_id.clone());
        }
        EventResource::Subscription(subscription) => {
            partners.extend(subscription.partner_of_record_id.clone());
            partners.extend(subscription.indirect_provider_id.clone());
        }
        EventResource::Relationship(relationship) => {
            partners.push(relationship.partner_id.clone());
            partners.extend(relationship.indirect_provider_id.clone());
        }
        EventResource::DelegatedAdminGrant(grant) => partners.push(grant.partner_id.clone()),
        EventResource::Customer(_) => {}
    }
    partners.sort();
    partners.dedup();
    Ok(partners)
}

/// Adds, for each of these customers, the partners with an ACTIVE
/// relationship or a grant in force on it.
async fn viewers(
    txn: &DatabaseTransaction,
    customer_ids: &[&str],
    now: Micros,
    viewers_of: &mut HashMap<String, Vec<String>>,
) -> Result<()> {
    let backend = txn.get_database_backend();
    let mut values: Vec<sea_orm::Value> = vec![
        RelationshipState::Active.as_str().into(),
        GrantState::Active.as_str().into(),
        now.into(),
        true.into(),
    ];
    let relationship_customers = in_list(&mut values, customer_ids.iter().copied());
    let grant_customers = in_list(&mut values, customer_ids.iter().copied());
    let sql = format!(
        "SELECT customer_id, partner_id FROM relationships \
         WHERE customer_id IN ({relationship_customers}) AND state = $1 \
         UNION SELECT customer_id, partner_id FROM delegated_admin_grants \
         WHERE customer_id IN ({grant_customers}) AND state = $2 \
         AND (end_time IS NULL OR end_time > $3 OR auto_extend = $4)"
    );
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            placeholders(backend, &sql),
            values,
        ))
        .await?;
    for row in rows {
        let customer_id: String = row.try_get_by_index(0)?;
        let partner_id: String = row.try_get_by_index(1)?;
        viewers_of.entry(customer_id).or_default().push(partner_id);
    }
    Ok(())
}

/// Partners ACTIVE-linked with this one, on either side.
async fn linked_partners(txn: &DatabaseTransaction, partner_id: &str) -> Result<Vec<String>> {
    let links = partner_link::Entity::find()
        .filter(
            Condition::any()
                .add(partner_link::Column::ProviderId.eq(partner_id))
                .add(partner_link::Column::ResellerId.eq(partner_id)),
        )
        .filter(partner_link::Column::State.eq(LinkState::Active.as_str()))
        .all(txn)
        .await?;
    Ok(links
        .into_iter()
        .map(|link| {
            if link.provider_id == partner_id {
                link.reseller_id
            } else {
                link.provider_id
            }
        })
        .collect())
}

fn chunks<T>(mut items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut out = Vec::with_capacity(items.len().div_ceil(size));
    while items.len() > size {
        let rest = items.split_off(size);
        out.push(std::mem::replace(&mut items, rest));
    }
    if !items.is_empty() {
        out.push(items);
    }
    out
}

/// Builds `$n, $n+1, …` for an IN list and pushes the values.
pub(super) fn in_list<'a>(values: &mut Vec<sea_orm::Value>, items: impl Iterator<Item = &'a str>) -> String {
    items.map(|item| param(values, item)).collect::<Vec<_>>().join(", ")
}

/// Pushes a value and returns its `$n`.
pub(super) fn param(values: &mut Vec<sea_orm::Value>, value: impl Into<sea_orm::Value>) -> String {
    values.push(value.into());
    format!("${}", values.len())
}

/// Raw SQL is written with PostgreSQL's `$n` placeholders; SQLite takes the
/// same numbered parameters as `?n`.
pub(super) fn placeholders(backend: DbBackend, sql: &str) -> String {
    match backend {
        DbBackend::Postgres => sql.to_owned(),
        _ => sql.replace('$', "?"),
    }
}
