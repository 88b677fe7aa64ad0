//! T1-T4: transfers' rows. The rules are the CustomerService's
//! (`service::customers::transfers`); this reads and writes.

use sea_orm::ActiveValue::Set;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::convert::all;
use super::entity::{subscription, transfer};
use super::{Store, WriteTx};
use crate::domain::model::*;
use crate::domain::paging::PageRequest;
use crate::domain::{Error, Result};

/// T4: which transfers a list holds (None: not filtered).
#[derive(Clone, Debug, Default)]
pub struct TransferFilter {
    pub customer_id: Option<String>,
    pub state: Option<TransferState>,
    pub proposing_partner_id: Option<String>,
    /// T4: only transfers this partner proposed or is named in, on
    /// customers it may VIEW (A1).
    pub party: Option<String>,
}

impl TryFrom<transfer::Model> for Transfer {
    type Error = Error;
    fn try_from(row: transfer::Model) -> Result<Self> {
        let subscriptions: Vec<TransferItem> = serde_json::from_str(&row.subscriptions)
            .map_err(|error| Error::internal(format!("transfer {}: unreadable subscriptions: {error}", row.id)))?;
        let state = TransferState::parse(&row.state)
            .ok_or_else(|| Error::internal(format!("transfer {}: unknown state {}", row.id, row.state)))?;
        Ok(Transfer {
            id: row.id,
            customer_id: row.customer_id,
            proposing_partner_id: row.proposing_partner_id,
            partner_of_record_id: row.partner_of_record_id,
            indirect_provider_id: row.indirect_provider_id,
            subscriptions,
            state,
            expire_time: row.expire_time,
            version: row.version,
            create_time: row.create_time,
            update_time: row.update_time,
        })
    }
}

fn transfer_row(t: &Transfer) -> Result<transfer::ActiveModel> {
    let subscriptions = serde_json::to_string(&t.subscriptions)
        .map_err(|error| Error::internal(format!("transfer encoding failed: {error}")))?;
    Ok(transfer::ActiveModel {
        id: Set(t.id.clone()),
        customer_id: Set(t.customer_id.clone()),
        proposing_partner_id: Set(t.proposing_partner_id.clone()),
        partner_of_record_id: Set(t.partner_of_record_id.clone()),
        indirect_provider_id: Set(t.indirect_provider_id.clone()),
        subscriptions: Set(subscriptions),
        state: Set(t.state.as_str().to_owned()),
        expire_time: Set(t.expire_time),
        version: Set(t.version),
        create_time: Set(t.create_time),
        update_time: Set(t.update_time),
    })
}

async fn find_transfer<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<Transfer>> {
    transfer::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .map(Transfer::try_from)
        .transpose()
}

impl Store {
    pub async fn transfer(&self, id: &str) -> Result<Option<Transfer>> {
        find_transfer(&self.db, id).await
    }

    /// T4: a page of transfers in id order.
    pub async fn list_transfers(&self, filter: &TransferFilter, page: &PageRequest) -> Result<Vec<Transfer>> {
        use transfer::Column;
        let mut query = transfer::Entity::find();
        if let Some(id) = &filter.customer_id {
            query = query.filter(Column::CustomerId.eq(id.as_str()));
        }
        if let Some(state) = filter.state {
            // T2, T4: by the state GetTransfer shows, EXPIRED from the clock
            // (`Transfer::effective_state`) before the sweep records it.
            let now = self.now();
            let pending = TransferState::Pending.as_str();
            query = query.filter(match state {
                TransferState::Pending => Condition::all()
                    .add(Column::State.eq(pending))
                    .add(Column::ExpireTime.gt(now)),
                TransferState::Expired => Condition::any().add(Column::State.eq(state.as_str())).add(
                    Condition::all()
                        .add(Column::State.eq(pending))
                        .add(Column::ExpireTime.lte(now)),
                ),
                _ => Condition::all().add(Column::State.eq(state.as_str())),
            });
        }
        if let Some(id) = &filter.proposing_partner_id {
            query = query.filter(Column::ProposingPartnerId.eq(id.as_str()));
        }
        if let Some(party) = &filter.party {
            query = query
                .filter(
                    Condition::any()
                        .add(Column::ProposingPartnerId.eq(party.as_str()))
                        .add(Column::PartnerOfRecordId.eq(party.as_str())),
                )
                .filter(super::customers::customer_viewable_by(
                    Column::CustomerId,
                    party,
                    self.now(),
                ));
        }
        if let Some(after) = &page.after {
            query = query.filter(Column::Id.gt(after.as_str()));
        }
        let rows = query
            .order_by_asc(Column::Id)
            .limit(page.fetch_limit())
            .all(&self.db)
            .await?;
        all(rows)
    }
}

impl WriteTx {
    pub async fn transfer(&self, id: &str) -> Result<Option<Transfer>> {
        find_transfer(self.conn(), id).await
    }

    /// T1: the PENDING transfers of this proposer on the customer.
    pub async fn pending_transfers_of(&self, customer_id: &str, proposer_id: &str) -> Result<Vec<Transfer>> {
        use transfer::Column;
        all(transfer::Entity::find()
            .filter(Column::CustomerId.eq(customer_id))
            .filter(Column::ProposingPartnerId.eq(proposer_id))
            .filter(Column::State.eq(TransferState::Pending.as_str()))
            .all(self.conn())
            .await?)
    }

    /// The subscriptions with these ids (those that exist), in id order.
    pub async fn subscriptions_by_ids(&self, ids: &[String]) -> Result<Vec<Subscription>> {
        all(subscription::Entity::find()
            .filter(subscription::Column::Id.is_in(ids.iter().map(String::as_str)))
            .order_by_asc(subscription::Column::Id)
            .all(self.conn())
            .await?)
    }

    pub async fn insert_transfer(&mut self, transfer: &Transfer) -> Result<()> {
        transfer::Entity::insert(transfer_row(transfer)?)
            .exec(self.conn())
            .await?;
        self.record("transfer.created", EventResource::Transfer(transfer.clone()));
        Ok(())
    }

    /// T2: a transfer leaves PENDING; its version and update time move.
    pub async fn set_transfer_state(&mut self, mut transfer: Transfer, state: TransferState) -> Result<Transfer> {
        transfer.state = state;
        transfer.version += 1;
        transfer.update_time = self.now();
        transfer::Entity::update(transfer_row(&transfer)?)
            .exec(self.conn())
            .await?;
        let event_type = match state {
            TransferState::Completed => "transfer.completed",
            TransferState::Rejected => "transfer.rejected",
            TransferState::Cancelled => "transfer.cancelled",
            TransferState::Expired => "transfer.expired",
            TransferState::Pending => "transfer.updated",
        };
        self.record(event_type, EventResource::Transfer(transfer.clone()));
        Ok(transfer)
    }

    /// T2: PENDING transfers past their expire_time, for the sweep.
    pub async fn due_transfers(&self, now: Micros, limit: u64) -> Result<Vec<Transfer>> {
        use transfer::Column;
        all(transfer::Entity::find()
            .filter(Column::State.eq(TransferState::Pending.as_str()))
            .filter(Column::ExpireTime.lte(now))
            .order_by_asc(Column::Id)
            .limit(limit)
            .all(self.conn())
            .await?)
    }
}
