//! The outbox of the split deployment (docs/rules.md, Deployment): a write
//! records the consequences that belong to another service in the same
//! transaction as itself; the owning service carries each out once, and
//! records that in the transaction that carries it out, so a crash on
//! either side neither loses one nor applies one twice.

use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::entity::outbox;
use super::{Store, WriteTx, new_id};
use crate::domain::consequence::Consequence;
use crate::domain::{Error, Result};

/// One recorded consequence.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxEntry {
    pub id: String,
    /// The resource the causing write made or changed.
    pub origin_id: String,
    /// Who made the causing write.
    pub actor: String,
    /// The trace of the causing call, for the logs of carrying it out.
    pub trace_id: String,
    pub consequence: Consequence,
    pub applied: bool,
}

fn entry(row: outbox::Model) -> Result<OutboxEntry> {
    let consequence = serde_json::from_str(&row.consequence)
        .map_err(|error| Error::internal(format!("outbox record {} does not decode: {error}", row.id)))?;
    Ok(OutboxEntry {
        id: row.id,
        origin_id: row.origin_id,
        actor: row.actor,
        trace_id: row.trace_id,
        consequence,
        applied: row.applied_time.is_some(),
    })
}

impl WriteTx {
    /// Records `consequence` of this write, committed with it; returns the
    /// record's id. The events of this write get the audience they would
    /// have with the consequence already carried out (E2).
    pub async fn queue_consequence(
        &mut self,
        origin_id: &str,
        trace_id: &str,
        consequence: &Consequence,
    ) -> Result<String> {
        let encoded = serde_json::to_string(consequence)
            .map_err(|error| Error::internal(format!("a consequence does not encode: {error}")))?;
        let id = new_id();
        outbox::Entity::insert(outbox::ActiveModel {
            id: Set(id.clone()),
            origin_id: Set(origin_id.to_owned()),
            actor: Set(self.actor().to_owned()),
            trace_id: Set(trace_id.to_owned()),
            consequence: Set(encoded),
            create_time: Set(self.now()),
            applied_time: Set(None),
        })
        .exec_without_returning(self.conn())
        .await?;
        self.expected_viewers.extend(
            consequence
                .new_viewers()
                .into_iter()
                .map(|(customer, partner)| (customer.to_owned(), partner.to_owned())),
        );
        Ok(id)
    }

    /// The record as this transaction sees it (after the write order is
    /// taken, so no other transaction carries it out meanwhile).
    pub async fn outbox_entry(&self, id: &str) -> Result<Option<OutboxEntry>> {
        outbox::Entity::find_by_id(id.to_owned())
            .one(self.conn())
            .await?
            .map(entry)
            .transpose()
    }

    /// Records that the consequence was carried out, in the transaction
    /// that carried it out; commits even when that changed nothing else.
    pub async fn mark_applied(&mut self, id: &str) -> Result<()> {
        outbox::Entity::update_many()
            .col_expr(outbox::Column::AppliedTime, sea_orm::sea_query::Expr::value(self.now()))
            .filter(outbox::Column::Id.eq(id))
            .exec(self.conn())
            .await?;
        self.commit_without_events = true;
        Ok(())
    }
}

impl Store {
    /// One record, outside any write.
    pub async fn outbox_entry(&self, id: &str) -> Result<Option<OutboxEntry>> {
        outbox::Entity::find_by_id(id.to_owned())
            .one(self.connection())
            .await?
            .map(entry)
            .transpose()
    }

    /// Records not yet carried out, oldest first.
    pub async fn pending_consequences(&self, limit: u64) -> Result<Vec<OutboxEntry>> {
        outbox::Entity::find()
            .filter(outbox::Column::AppliedTime.is_null())
            .order_by_asc(outbox::Column::Id)
            .limit(limit)
            .all(self.connection())
            .await?
            .into_iter()
            .map(entry)
            .collect()
    }

    /// The ids of the records of writes on `origin_id` not yet carried out
    /// (a replayed write waits for them).
    pub async fn pending_consequences_of(&self, origin_id: &str) -> Result<Vec<String>> {
        let ids = outbox::Entity::find()
            .select_only()
            .column(outbox::Column::Id)
            .filter(outbox::Column::OriginId.eq(origin_id))
            .filter(outbox::Column::AppliedTime.is_null())
            .order_by_asc(outbox::Column::Id)
            .into_tuple::<String>()
            .all(self.connection())
            .await?;
        Ok(ids)
    }
}
