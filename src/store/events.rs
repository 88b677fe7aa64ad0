//! Reading the event log (E1, E2).

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::Store;
use super::entity::event;
use crate::domain::model::{Event, EventResource};
use crate::domain::{Error, Result};

impl TryFrom<event::Model> for Event {
    type Error = Error;
    fn try_from(row: event::Model) -> Result<Self> {
        let resource: EventResource = serde_json::from_str(&row.payload)
            .map_err(|error| Error::internal(format!("event {} does not decode: {error}", row.seq)))?;
        Ok(Event {
            seq: row.seq,
            time: row.time,
            event_type: row.event_type,
            actor: row.actor,
            resource,
        })
    }
}

impl Store {
    /// Events with seq greater than `after_seq`, in seq order.
    pub async fn events_after(&self, after_seq: i64, limit: u64) -> Result<Vec<Event>> {
        let rows = event::Entity::find()
            .filter(event::Column::Seq.gt(after_seq))
            .order_by_asc(event::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?;
        rows.into_iter().map(Event::try_from).collect()
    }
}
