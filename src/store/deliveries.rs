//! H4, H6, H7: the dispatcher's bookkeeping. The events table is the
//! outbox; each endpoint's cursor and delivery rows move only by
//! conditional updates, so replicas share the work: a cursor moves from
//! the value its mover read, and an attempt is made only under a lease
//! (60 s) one replica took. None of this is a change under E1 (no event,
//! no etag), so it does not take the event counter: only this process's
//! write queue (SQLite's one writer), in short transactions.

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::Store;
use super::entity::{webhook_delivery, webhook_endpoint};
use crate::domain::Result;
use crate::domain::model::{
    DeliveryError, DeliveryMode, DeliveryState, EndpointState, Micros, WebhookDelivery, WebhookEndpoint,
};

/// An ACTIVE endpoint as the dispatcher works it.
#[derive(Clone, Debug)]
pub struct DispatchTarget {
    pub endpoint: WebhookEndpoint,
    /// H7: when its current run of failed attempts began.
    pub failing_since: Option<Micros>,
    /// H3: since when its owner's suspension holds it.
    pub held_since: Option<Micros>,
    /// H4: the last event read for it (at or past its cursor).
    pub scanned_seq: i64,
}

/// How an attempt ended, as its delivery row records it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome {
    /// A 2xx (H4: only this makes a delivery DELIVERED).
    Delivered { status: u16 },
    /// H6: failed; the next attempt is due at `next_at`.
    Retry {
        status: Option<u16>,
        error: DeliveryError,
        next_at: Micros,
    },
    /// H6: the last try failed: a dead letter, kept.
    Failed { status: Option<u16>, error: DeliveryError },
}

impl Store {
    /// H4: the ACTIVE endpoints, in id order.
    pub async fn active_webhook_endpoints(&self) -> Result<Vec<DispatchTarget>> {
        let rows = webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::State.eq(EndpointState::Active.as_str()))
            .order_by_asc(webhook_endpoint::Column::Id)
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|row| {
                let (failing_since, held_since, scanned_seq) = (row.failing_since, row.held_since, row.scanned_seq);
                Ok(DispatchTarget {
                    endpoint: WebhookEndpoint::try_from(row)?,
                    failing_since,
                    held_since,
                    scanned_seq,
                })
            })
            .collect()
    }

    /// H4: gives `rows` (seq, event type, in seq order) delivery rows,
    /// PENDING and due now, moves the endpoint's read position from `from`
    /// to `to` and its cursor to the last row given, in one transaction;
    /// false (nothing written) when another replica moved it first.
    pub async fn fill_deliveries(&self, endpoint_id: &str, from: i64, to: i64, rows: &[(i64, String)]) -> Result<bool> {
        let (txn, _turn) = self.write_gate.begin(&self.db).await?;
        let mut update = webhook_endpoint::Entity::update_many()
            .col_expr(webhook_endpoint::Column::ScannedSeq, Expr::value(to))
            .filter(webhook_endpoint::Column::Id.eq(endpoint_id))
            .filter(webhook_endpoint::Column::ScannedSeq.eq(from));
        if let Some((last, _)) = rows.last() {
            update = update.col_expr(webhook_endpoint::Column::CursorSeq, Expr::value(*last));
        }
        let moved = update.exec(&txn).await?;
        if moved.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(false);
        }
        let now = self.now();
        for chunk in rows.chunks(200) {
            let models = chunk.iter().map(|(seq, event_type)| webhook_delivery::ActiveModel {
                endpoint_id: Set(endpoint_id.to_owned()),
                seq: Set(*seq),
                event_type: Set(event_type.clone()),
                state: Set(DeliveryState::Pending.as_str().to_owned()),
                attempt_count: Set(0),
                next_attempt_time: Set(Some(now)),
                last_attempt_time: Set(None),
                last_status_code: Set(None),
                last_error: Set(None),
                lease_until: Set(None),
                lease_token: Set(None),
            });
            webhook_delivery::Entity::insert_many(models)
                .on_conflict_do_nothing_on([webhook_delivery::Column::EndpointId, webhook_delivery::Column::Seq])
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(true)
    }

    /// H4, H6: leases the deliveries of `endpoint` due now, under `token`
    /// until `lease_until`: ORDERED, its head alone, once nothing of it is
    /// in flight; UNORDERED, as many as keep its attempts in flight over
    /// all replicas within max_in_flight. The endpoint's row is locked for
    /// the count (PostgreSQL; SQLite has one writer), so two replicas never
    /// take one delivery, nor more than the endpoint allows.
    pub async fn claim_deliveries(
        &self,
        endpoint: &WebhookEndpoint,
        token: &str,
        lease_until: Micros,
    ) -> Result<Vec<WebhookDelivery>> {
        use webhook_delivery::Column;
        let now = self.now();
        // Most cycles find nothing due: a read, not a turn in the write
        // queue (writers wait for that). What it misses, the next finds.
        let due = webhook_delivery::Entity::find()
            .select_only()
            .column(Column::Seq)
            .filter(Column::EndpointId.eq(endpoint.id.as_str()))
            .filter(Column::State.eq(DeliveryState::Pending.as_str()))
            .filter(Column::NextAttemptTime.lte(now))
            .filter(Column::LeaseUntil.is_null().or(Column::LeaseUntil.lte(now)))
            .into_tuple::<i64>()
            .one(&self.db)
            .await?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        let (txn, _turn) = self.write_gate.begin(&self.db).await?;
        // Locks the endpoint's row: claims of one endpoint queue here.
        let still_active = webhook_endpoint::Entity::update_many()
            .col_expr(webhook_endpoint::Column::Id, Expr::col(webhook_endpoint::Column::Id))
            .filter(webhook_endpoint::Column::Id.eq(endpoint.id.as_str()))
            .filter(webhook_endpoint::Column::State.eq(EndpointState::Active.as_str()))
            .exec(&txn)
            .await?;
        if still_active.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(Vec::new());
        }
        let in_flight = webhook_delivery::Entity::find()
            .filter(Column::EndpointId.eq(endpoint.id.as_str()))
            .filter(Column::State.eq(DeliveryState::Pending.as_str()))
            .filter(Column::LeaseUntil.gt(now))
            .count(&txn)
            .await?;
        let candidates: Vec<webhook_delivery::Model> = match endpoint.delivery_mode {
            DeliveryMode::Ordered => {
                let head = webhook_delivery::Entity::find()
                    .filter(Column::EndpointId.eq(endpoint.id.as_str()))
                    .filter(Column::State.ne(DeliveryState::Delivered.as_str()))
                    .order_by_asc(Column::Seq)
                    .one(&txn)
                    .await?;
                head.filter(|row| {
                    in_flight == 0
                        && row.state == DeliveryState::Pending.as_str()
                        && row.next_attempt_time.is_some_and(|due| due <= now)
                })
                .into_iter()
                .collect()
            }
            DeliveryMode::Unordered => {
                let room = u64::try_from(endpoint.max_in_flight)
                    .unwrap_or(1)
                    .saturating_sub(in_flight);
                if room == 0 {
                    Vec::new()
                } else {
                    webhook_delivery::Entity::find()
                        .filter(Column::EndpointId.eq(endpoint.id.as_str()))
                        .filter(Column::State.eq(DeliveryState::Pending.as_str()))
                        .filter(Column::NextAttemptTime.lte(now))
                        .filter(Column::LeaseUntil.is_null().or(Column::LeaseUntil.lte(now)))
                        .order_by_asc(Column::Seq)
                        .limit(room)
                        .all(&txn)
                        .await?
                }
            }
        };
        if candidates.is_empty() {
            txn.rollback().await?;
            return Ok(Vec::new());
        }
        // One statement for the whole claim: the rows were read under the
        // endpoint's lock, so none changed since.
        webhook_delivery::Entity::update_many()
            .col_expr(Column::LeaseUntil, Expr::value(lease_until))
            .col_expr(Column::LeaseToken, Expr::value(token))
            .filter(Column::EndpointId.eq(endpoint.id.as_str()))
            .filter(Column::Seq.is_in(candidates.iter().map(|row| row.seq)))
            .exec(&txn)
            .await?;
        let claimed = candidates
            .into_iter()
            .map(WebhookDelivery::try_from)
            .collect::<Result<Vec<_>>>()?;
        txn.commit().await?;
        Ok(claimed)
    }

    /// H4, H6, H7: records an attempt's outcome, only while `token` still
    /// holds the lease (false otherwise: it expired and another replica
    /// may have the delivery). A success ends the endpoint's run of
    /// failures; a failure starts one, or returns when it began.
    pub async fn record_attempt(
        &self,
        endpoint_id: &str,
        seq: i64,
        token: &str,
        at: Micros,
        outcome: Outcome,
    ) -> Result<RecordedAttempt> {
        use webhook_delivery::Column;
        let (txn, _turn) = self.write_gate.begin(&self.db).await?;
        let (state, status, error, next_at) = match outcome {
            Outcome::Delivered { status } => (DeliveryState::Delivered, Some(status), None, None),
            Outcome::Retry { status, error, next_at } => (DeliveryState::Pending, status, Some(error), Some(next_at)),
            Outcome::Failed { status, error } => (DeliveryState::Failed, status, Some(error), None),
        };
        let updated = webhook_delivery::Entity::update_many()
            .col_expr(Column::State, Expr::value(state.as_str()))
            .col_expr(Column::AttemptCount, Expr::col(Column::AttemptCount).add(1))
            .col_expr(Column::LastAttemptTime, Expr::value(at))
            .col_expr(Column::LastStatusCode, Expr::value(status.map(i32::from)))
            .col_expr(Column::LastError, Expr::value(error.map(|e| e.as_str().to_owned())))
            .col_expr(Column::NextAttemptTime, Expr::value(next_at))
            .col_expr(Column::LeaseUntil, Expr::value(Option::<i64>::None))
            .col_expr(Column::LeaseToken, Expr::value(Option::<String>::None))
            .filter(Column::EndpointId.eq(endpoint_id))
            .filter(Column::Seq.eq(seq))
            .filter(Column::LeaseToken.eq(token))
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            txn.rollback().await?;
            return Ok(RecordedAttempt::LeaseLost);
        }
        let failing_since = match outcome {
            Outcome::Delivered { .. } => {
                // Most successes follow successes: no row to write then.
                webhook_endpoint::Entity::update_many()
                    .col_expr(webhook_endpoint::Column::FailingSince, Expr::value(Option::<i64>::None))
                    .filter(webhook_endpoint::Column::Id.eq(endpoint_id))
                    .filter(webhook_endpoint::Column::FailingSince.is_not_null())
                    .exec(&txn)
                    .await?;
                None
            }
            _ => {
                webhook_endpoint::Entity::update_many()
                    .col_expr(
                        webhook_endpoint::Column::FailingSince,
                        Func::coalesce([Expr::col(webhook_endpoint::Column::FailingSince), Expr::value(at)]).into(),
                    )
                    .filter(webhook_endpoint::Column::Id.eq(endpoint_id))
                    .exec(&txn)
                    .await?;
                webhook_endpoint::Entity::find_by_id(endpoint_id.to_owned())
                    .select_only()
                    .column(webhook_endpoint::Column::FailingSince)
                    .into_tuple::<Option<i64>>()
                    .one(&txn)
                    .await?
                    .flatten()
            }
        };
        txn.commit().await?;
        Ok(RecordedAttempt::Recorded { failing_since })
    }

    /// H3, H7: the owner's suspension holds the endpoint from `now` (once:
    /// a replica that finds it held already leaves it).
    pub async fn hold_endpoint(&self, endpoint_id: &str, now: Micros) -> Result<()> {
        let (txn, _turn) = self.write_gate.begin(&self.db).await?;
        webhook_endpoint::Entity::update_many()
            .col_expr(webhook_endpoint::Column::HeldSince, Expr::value(now))
            .filter(webhook_endpoint::Column::Id.eq(endpoint_id))
            .filter(webhook_endpoint::Column::HeldSince.is_null())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// H3, H7: the hold since `since` ends: the endpoint's retry and H7
    /// clocks move on by the time it lasted (its run of failures began
    /// later, its pending attempts are due later), once.
    pub async fn release_endpoint(&self, endpoint_id: &str, since: Micros, now: Micros) -> Result<()> {
        let held = Ord::max(now.saturating_sub(since), 0);
        let (txn, _turn) = self.write_gate.begin(&self.db).await?;
        let released = webhook_endpoint::Entity::update_many()
            .col_expr(webhook_endpoint::Column::HeldSince, Expr::value(Option::<i64>::None))
            .col_expr(
                webhook_endpoint::Column::FailingSince,
                Expr::col(webhook_endpoint::Column::FailingSince).add(held),
            )
            .filter(webhook_endpoint::Column::Id.eq(endpoint_id))
            .filter(webhook_endpoint::Column::HeldSince.eq(since))
            .exec(&txn)
            .await?;
        if released.rows_affected == 1 {
            webhook_delivery::Entity::update_many()
                .col_expr(
                    webhook_delivery::Column::NextAttemptTime,
                    Expr::col(webhook_delivery::Column::NextAttemptTime).add(held),
                )
                .filter(webhook_delivery::Column::EndpointId.eq(endpoint_id))
                .filter(webhook_delivery::Column::State.eq(DeliveryState::Pending.as_str()))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(())
    }
}

/// What `record_attempt` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordedAttempt {
    /// Recorded; after a failure, when the endpoint's run of failures began.
    Recorded { failing_since: Option<Micros> },
    /// The lease had passed to another replica: nothing recorded.
    LeaseLost,
}
