//! The event log: reading it (E2, E3) and the sweep that records expiries
//! and extensions (D4, I5).

use sea_orm::sea_query::Query;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::Store;
use super::convert::all;
use super::entity::{event, event_audience, grant, relationship_request};
use crate::domain::model::{
    DelegatedAdminGrant, EndCause, Event, EventResource, GrantState, InvitationState, LinkState, MICROS_PER_DAY,
    Micros, RelationshipEndCause, RelationshipRequest, TransferState,
};
use crate::domain::{Error, Result, roles, rules};

/// Whose events a caller may read (E2).
#[derive(Clone, Debug)]
pub enum EventAudience {
    /// Operator and service.
    All,
    /// A customer admin: its tenant's events.
    Customer(String),
    /// A partner: the events it could read when they were appended.
    Partner(String),
}

#[derive(Clone, Debug)]
pub struct EventFilter {
    pub audience: EventAudience,
    pub customer_id: Option<String>,
    pub partner_id: Option<String>,
}

impl TryFrom<event::Model> for Event {
    type Error = Error;
    fn try_from(row: event::Model) -> Result<Self> {
        let mut resource: EventResource = serde_json::from_str(&row.payload)
            .map_err(|error| Error::internal(format!("event {} does not decode: {error}", row.seq)))?;
        // R1: a grant or invitation recorded before roles reads as its scopes.
        roles::read_legacy(&mut resource);
        Ok(Event {
            seq: row.seq,
            time: row.time,
            event_type: row.event_type,
            actor: row.actor,
            resource,
        })
    }
}

/// What one sweep recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub grants_expired: usize,
    pub grants_extended: usize,
    /// G2: expiry notices recorded.
    pub grants_noticed: usize,
    /// T2: transfers past their expire_time recorded EXPIRED.
    pub transfers_expired: usize,
    pub invitations_expired: usize,
    /// L1: PENDING links past their expire_time recorded EXPIRED.
    pub links_expired: usize,
    /// L5: relationships through a link revoked 30 days ago recorded ended.
    pub relationships_handed_over: usize,
}

const SWEEP_BATCH: u64 = 500;

/// G2 in SQL: the grants `rules::notice_due` may find a notice due for: ACTIVE,
/// not auto-extending, ending after `now` and within the largest mark, and
/// inside a mark smaller than the one stored.
fn notice_due_sql(now: Micros) -> Condition {
    use grant::Column;
    let within = |days: i32| Column::EndTime.lte(now + i64::from(days) * MICROS_PER_DAY);
    let mut further = Condition::any().add(Column::NoticeDays.is_null());
    for pair in rules::NOTICE_MARKS.windows(2) {
        // Stored the larger mark of the pair, now inside the smaller.
        further = further.add(
            Condition::all()
                .add(Column::NoticeDays.gte(pair[0]))
                .add(within(pair[1])),
        );
    }
    Condition::all()
        .add(Column::State.eq(GrantState::Active.as_str()))
        .add(Column::AutoExtend.eq(false))
        .add(Column::EndTime.gt(now))
        .add(within(rules::NOTICE_MARKS[0]))
        .add(further)
}

impl Store {
    /// Events with seq greater than `after_seq`, in seq order.
    pub async fn events_after(&self, after_seq: i64, limit: u64) -> Result<Vec<Event>> {
        self.list_events(
            &EventFilter {
                audience: EventAudience::All,
                customer_id: None,
                partner_id: None,
            },
            after_seq,
            limit,
        )
        .await
    }

    /// E2: the events after `after_seq` this audience may read, in seq order.
    pub async fn list_events(&self, filter: &EventFilter, after_seq: i64, limit: u64) -> Result<Vec<Event>> {
        let mut query = event::Entity::find().filter(event::Column::Seq.gt(after_seq));
        match &filter.audience {
            EventAudience::All => {}
            EventAudience::Customer(customer_id) => {
                query = query.filter(event::Column::CustomerId.eq(customer_id.as_str()));
            }
            EventAudience::Partner(partner_id) => {
                let readable = Query::select()
                    .column(event_audience::Column::Seq)
                    .from(event_audience::Entity)
                    .and_where(event_audience::Column::PartnerId.eq(partner_id.as_str()))
                    .and_where(event_audience::Column::Seq.gt(after_seq))
                    .to_owned();
                query = query.filter(event::Column::Seq.in_subquery(readable));
            }
        }
        if let Some(customer_id) = &filter.customer_id {
            query = query.filter(event::Column::CustomerId.eq(customer_id.as_str()));
        }
        if let Some(partner_id) = &filter.partner_id {
            query = query.filter(event::Column::PartnerId.eq(partner_id.as_str()));
        }
        let rows = query
            .order_by_asc(event::Column::Seq)
            .limit(limit)
            .all(&self.db)
            .await?;
        rows.into_iter().map(Event::try_from).collect()
    }

    /// The event of this seq, if appended.
    pub async fn event(&self, seq: i64) -> Result<Option<Event>> {
        event::Entity::find_by_id(seq)
            .one(&self.db)
            .await?
            .map(Event::try_from)
            .transpose()
    }

    /// The last seq appended, by any replica.
    pub async fn last_seq(&self) -> Result<i64> {
        let last = event::Entity::find()
            .select_only()
            .column(event::Column::Seq)
            .order_by_desc(event::Column::Seq)
            .limit(1)
            .into_tuple::<i64>()
            .one(&self.db)
            .await?;
        Ok(last.unwrap_or(0))
    }

    /// D4, I5: records what the clock already decided: grants past their end
    /// become EXPIRED or, with auto_extend, move on by 180-day periods;
    /// invitations past their expiry become EXPIRED. Each with its event.
    pub async fn sweep(&self) -> Result<SweepReport> {
        let mut report = SweepReport::default();
        loop {
            let mut tx = self.begin_write("system:sweep".to_owned()).await?;
            let now = tx.now();
            let due_grants: Vec<DelegatedAdminGrant> = all(grant::Entity::find()
                .filter(grant::Column::State.eq(GrantState::Active.as_str()))
                .filter(grant::Column::EndTime.lte(now))
                .order_by_asc(grant::Column::Id)
                .limit(SWEEP_BATCH)
                .all(tx.conn())
                .await?)?;
            let due_invitations: Vec<RelationshipRequest> = all(relationship_request::Entity::find()
                .filter(relationship_request::Column::State.eq(InvitationState::Active.as_str()))
                .filter(relationship_request::Column::ExpireTime.lte(now))
                .order_by_asc(relationship_request::Column::Id)
                .limit(SWEEP_BATCH)
                .all(tx.conn())
                .await?)?;
            let due_notices: Vec<DelegatedAdminGrant> = all(grant::Entity::find()
                .filter(notice_due_sql(now))
                .order_by_asc(grant::Column::Id)
                .limit(SWEEP_BATCH)
                .all(tx.conn())
                .await?)?;
            let full = due_grants.len() as u64 == SWEEP_BATCH
                || due_invitations.len() as u64 == SWEEP_BATCH
                || due_notices.len() as u64 == SWEEP_BATCH;
            for grant in due_notices {
                if let Some(mark) = rules::notice_due(&grant, now)
                    && tx.record_notice(grant, mark).await?
                {
                    report.grants_noticed += 1;
                }
            }
            for mut grant in due_grants {
                match grant.extended_end(now) {
                    Some(end) => {
                        grant.end_time = Some(end);
                        tx.update_grant(&mut grant, "grant.extended").await?;
                        report.grants_extended += 1;
                    }
                    None => {
                        tx.end_grant(grant, EndCause::Expired, None).await?;
                        report.grants_expired += 1;
                    }
                }
            }
            let due_transfers = tx.due_transfers(now, SWEEP_BATCH).await?;
            let full = full || due_transfers.len() as u64 == SWEEP_BATCH;
            for transfer in due_transfers {
                tx.set_transfer_state(transfer, TransferState::Expired).await?;
                report.transfers_expired += 1;
            }
            for invitation in due_invitations {
                tx.set_invitation_state(invitation, InvitationState::Expired).await?;
                report.invitations_expired += 1;
            }
            let due_links = tx.due_links(SWEEP_BATCH).await?;
            let due_handovers = tx.due_handovers(SWEEP_BATCH).await?;
            let full = full || due_links.len() as u64 == SWEEP_BATCH || due_handovers.len() as u64 == SWEEP_BATCH;
            for mut link in due_links {
                link.state = LinkState::Expired;
                tx.update_link(link, "partner_link.expired").await?;
                report.links_expired += 1;
            }
            for relationship in due_handovers {
                let (customer_id, reseller_id) = (relationship.customer_id.clone(), relationship.partner_id.clone());
                tx.end_relationship(relationship, RelationshipEndCause::LinkEnded)
                    .await?;
                // L5: its DAP as M3 ends it, unless another relationship of
                // the reseller's own still stands on this customer.
                if !tx.has_active_relationship(&customer_id, &reseller_id).await? {
                    for grant in tx.active_grants(&customer_id, Some(&reseller_id), None).await? {
                        tx.end_grant(grant, EndCause::RelationshipEnded, None).await?;
                    }
                }
                report.relationships_handed_over += 1;
            }
            tx.commit().await?;
            if !full {
                return Ok(report);
            }
        }
    }
}
