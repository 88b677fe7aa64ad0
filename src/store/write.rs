//! Write transactions. Every change goes through a `WriteTx`, which takes the
//! event counter row first and appends the change's events in the same
//! transaction (E1): no change without an event, no event without a change,
//! and `seq` without gaps, visible in order on every replica.

use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, SqliteTransactionMode, Statement,
    TransactionOptions, TransactionTrait,
};

use super::Store;
use super::entity::{event, request_record};
use crate::domain::model::{EventResource, Micros};
use crate::domain::{Error, Reason, Result};

/// AIP-155: who asked, for which method, with which request id, and a
/// fingerprint of the request so a reused id with another payload is caught.
#[derive(Clone, Debug)]
pub struct RequestKey {
    pub key: String,
    pub fingerprint: String,
}

pub struct WriteTx {
    txn: DatabaseTransaction,
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
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        let txn = self.db.begin_with_options(options).await?;
        txn.execute_unprepared("UPDATE event_counter SET value = value WHERE id = 1")
            .await?;
        Ok(WriteTx {
            txn,
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
        let mut seq = last;
        let mut rows = Vec::with_capacity(pending.len());
        for (event_type, resource) in pending {
            seq += 1;
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
        event::Entity::insert_many(rows).exec(&txn).await?;
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            placeholders(backend, "UPDATE event_counter SET value = $1 WHERE id = 1"),
            [seq.into()],
        ))
        .await?;
        txn.commit().await?;
        store.committed.send_replace(seq);
        Ok(seq)
    }
}

/// Raw SQL is written with PostgreSQL's `$n` placeholders; SQLite takes the
/// same numbered parameters as `?n`.
pub(super) fn placeholders(backend: DbBackend, sql: &str) -> String {
    match backend {
        DbBackend::Postgres => sql.to_owned(),
        _ => sql.replace('$', "?"),
    }
}
