//! Partners and provider-reseller links.

use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::convert::{all, link_row, partner_row};
use super::entity::{partner, partner_link};
use super::{Store, WriteTx};
use crate::domain::model::{EventResource, LinkState, Micros, Partner, PartnerKind, PartnerLink, PartnerStatus};
use crate::domain::paging::PageRequest;
use crate::domain::{Result, rules};

#[derive(Clone, Debug, Default)]
pub struct PartnerFilter {
    pub kind: Option<PartnerKind>,
    pub status: Option<PartnerStatus>,
    /// P5: only this partner and the partners linked with it.
    pub linked_to: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct LinkFilter {
    /// Links where this partner is the provider or the reseller.
    pub partner_id: Option<String>,
    pub state: Option<LinkState>,
}

pub(super) async fn find_partner<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<Partner>> {
    partner::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .map(Partner::try_from)
        .transpose()
}

async fn find_active_link<C: ConnectionTrait>(
    db: &C,
    provider_id: &str,
    reseller_id: &str,
) -> Result<Option<PartnerLink>> {
    partner_link::Entity::find()
        .filter(partner_link::Column::ProviderId.eq(provider_id))
        .filter(partner_link::Column::ResellerId.eq(reseller_id))
        .filter(partner_link::Column::State.eq(LinkState::Active.as_str()))
        .one(db)
        .await?
        .map(PartnerLink::try_from)
        .transpose()
}

/// P5, L1: the links that let their two partners read each other at `now`:
/// PENDING (not yet expired), ACTIVE or SUSPENDED.
pub(super) fn visible_link(now: Micros) -> Condition {
    Condition::any()
        .add(partner_link::Column::State.is_in([LinkState::Active.as_str(), LinkState::Suspended.as_str()]))
        .add(
            Condition::all()
                .add(partner_link::Column::State.eq(LinkState::Pending.as_str()))
                .add(partner_link::Column::ExpireTime.gt(now)),
        )
}

/// P5: the partner itself and every partner linked with it (`visible_link`).
fn linked_with(partner_id: &str, now: Micros) -> Condition {
    let resellers = Query::select()
        .column(partner_link::Column::ResellerId)
        .from(partner_link::Entity)
        .and_where(partner_link::Column::ProviderId.eq(partner_id))
        .cond_where(visible_link(now))
        .to_owned();
    let providers = Query::select()
        .column(partner_link::Column::ProviderId)
        .from(partner_link::Entity)
        .and_where(partner_link::Column::ResellerId.eq(partner_id))
        .cond_where(visible_link(now))
        .to_owned();
    Condition::any()
        .add(partner::Column::Id.eq(partner_id))
        .add(partner::Column::Id.in_subquery(resellers))
        .add(partner::Column::Id.in_subquery(providers))
}

impl Store {
    pub async fn partner(&self, id: &str) -> Result<Option<Partner>> {
        find_partner(&self.db, id).await
    }

    pub async fn active_link(&self, provider_id: &str, reseller_id: &str) -> Result<Option<PartnerLink>> {
        find_active_link(&self.db, provider_id, reseller_id).await
    }

    /// P5: whether `other` is `partner_id` itself or linked with it.
    pub async fn partner_visible_to(&self, partner_id: &str, other: &str) -> Result<bool> {
        let found = partner::Entity::find()
            .filter(partner::Column::Id.eq(other))
            .filter(linked_with(partner_id, self.clock.now()))
            .one(&self.db)
            .await?;
        Ok(found.is_some())
    }

    /// One page (plus one row) of partners in id order.
    pub async fn list_partners(&self, filter: &PartnerFilter, page: &PageRequest) -> Result<Vec<Partner>> {
        let mut query = partner::Entity::find();
        if let Some(kind) = filter.kind {
            query = query.filter(partner::Column::Kind.eq(kind.as_str()));
        }
        if let Some(status) = filter.status {
            query = query.filter(partner::Column::Status.eq(status.as_str()));
        }
        if let Some(partner_id) = &filter.linked_to {
            query = query.filter(linked_with(partner_id, self.clock.now()));
        }
        if let Some(after) = &page.after {
            query = query.filter(partner::Column::Id.gt(after.as_str()));
        }
        let rows = query
            .order_by_asc(partner::Column::Id)
            .limit(page.fetch_limit())
            .all(&self.db)
            .await?;
        all(rows)
    }

    pub async fn list_links(&self, filter: &LinkFilter, page: &PageRequest) -> Result<Vec<PartnerLink>> {
        let mut query = partner_link::Entity::find();
        if let Some(partner_id) = &filter.partner_id {
            query = query.filter(
                Condition::any()
                    .add(partner_link::Column::ProviderId.eq(partner_id.as_str()))
                    .add(partner_link::Column::ResellerId.eq(partner_id.as_str())),
            );
        }
        // L1: a PENDING link past its expiry is EXPIRED, recorded or not.
        let now = self.clock.now();
        let pending = || partner_link::Column::State.eq(LinkState::Pending.as_str());
        match filter.state {
            Some(LinkState::Pending) => {
                query = query.filter(pending()).filter(partner_link::Column::ExpireTime.gt(now));
            }
            Some(LinkState::Expired) => {
                query = query.filter(
                    Condition::any()
                        .add(partner_link::Column::State.eq(LinkState::Expired.as_str()))
                        .add(
                            Condition::all()
                                .add(pending())
                                .add(partner_link::Column::ExpireTime.lte(now)),
                        ),
                );
            }
            Some(state) => query = query.filter(partner_link::Column::State.eq(state.as_str())),
            None => {}
        }
        if let Some(after) = &page.after {
            query = query.filter(partner_link::Column::Id.gt(after.as_str()));
        }
        let rows = query
            .order_by_asc(partner_link::Column::Id)
            .limit(page.fetch_limit())
            .all(&self.db)
            .await?;
        let mut links: Vec<PartnerLink> = all(rows)?;
        for link in &mut links {
            link.state = link.state_at(now);
        }
        Ok(links)
    }
}

impl WriteTx {
    pub async fn partner(&self, id: &str) -> Result<Option<Partner>> {
        find_partner(self.conn(), id).await
    }

    /// P4 inside a write (W1): the calling partner as this transaction sees
    /// it, which must exist and be ACTIVE, so no write of a partner commits
    /// after its suspension did.
    pub async fn active_caller(&self, partner_id: &str) -> Result<Partner> {
        rules::require_active_caller(self.partner(partner_id).await?.as_ref()).cloned()
    }

    pub async fn partner_by_mpn_id(&self, mpn_id: &str) -> Result<Option<Partner>> {
        partner::Entity::find()
            .filter(partner::Column::MpnId.eq(mpn_id))
            .one(self.conn())
            .await?
            .map(Partner::try_from)
            .transpose()
    }

    pub async fn insert_partner(&mut self, partner: &Partner) -> Result<()> {
        partner::Entity::insert(partner_row(partner)).exec(self.conn()).await?;
        self.record("partner.created", EventResource::Partner(partner.clone()));
        Ok(())
    }

    /// Writes the partner's new state with the next version.
    pub async fn update_partner(&mut self, mut partner: Partner) -> Result<Partner> {
        partner.version += 1;
        partner.update_time = self.now();
        partner::Entity::update(partner_row(&partner)).exec(self.conn()).await?;
        self.record("partner.updated", EventResource::Partner(partner.clone()));
        Ok(partner)
    }

    pub async fn active_link(&self, provider_id: &str, reseller_id: &str) -> Result<Option<PartnerLink>> {
        find_active_link(self.conn(), provider_id, reseller_id).await
    }

    pub async fn insert_link(&mut self, link: &PartnerLink) -> Result<()> {
        partner_link::Entity::insert(link_row(link)).exec(self.conn()).await?;
        self.record("partner_link.created", EventResource::PartnerLink(link.clone()));
        Ok(())
    }

    /// Writes a link's new state with the next version, and its event.
    pub async fn update_link(&mut self, mut link: PartnerLink, event_type: &'static str) -> Result<PartnerLink> {
        link.version += 1;
        link.update_time = self.now();
        partner_link::Entity::update(link_row(&link)).exec(self.conn()).await?;
        self.record(event_type, EventResource::PartnerLink(link.clone()));
        Ok(link)
    }

    /// L2: the pair's newest link, whatever its state.
    pub async fn newest_link(&self, provider_id: &str, reseller_id: &str) -> Result<Option<PartnerLink>> {
        partner_link::Entity::find()
            .filter(partner_link::Column::ProviderId.eq(provider_id))
            .filter(partner_link::Column::ResellerId.eq(reseller_id))
            .order_by_desc(partner_link::Column::Id)
            .one(self.conn())
            .await?
            .map(PartnerLink::try_from)
            .transpose()
    }

    /// L1: how many PENDING links of this provider have not expired.
    pub async fn pending_links_of(&self, provider_id: &str) -> Result<u64> {
        let count = partner_link::Entity::find()
            .filter(partner_link::Column::ProviderId.eq(provider_id))
            .filter(partner_link::Column::State.eq(LinkState::Pending.as_str()))
            .filter(partner_link::Column::ExpireTime.gt(self.now()))
            .count(self.conn())
            .await?;
        Ok(count)
    }

    /// L1: the PENDING links past their expiry, which the sweep records
    /// EXPIRED.
    pub async fn due_links(&self, limit: u64) -> Result<Vec<PartnerLink>> {
        let rows = partner_link::Entity::find()
            .filter(partner_link::Column::State.eq(LinkState::Pending.as_str()))
            .filter(partner_link::Column::ExpireTime.lte(self.now()))
            .order_by_asc(partner_link::Column::Id)
            .limit(limit)
            .all(self.conn())
            .await?;
        all(rows)
    }

    /// The resellers ACTIVE-linked to a provider.
    pub async fn linked_resellers(&self, provider_id: &str) -> Result<Vec<String>> {
        let rows = partner_link::Entity::find()
            .filter(partner_link::Column::ProviderId.eq(provider_id))
            .filter(partner_link::Column::State.eq(LinkState::Active.as_str()))
            .all(self.conn())
            .await?;
        Ok(rows.into_iter().map(|link| link.reseller_id).collect())
    }

    pub async fn link(&self, id: &str) -> Result<Option<PartnerLink>> {
        partner_link::Entity::find_by_id(id.to_owned())
            .one(self.conn())
            .await?
            .map(PartnerLink::try_from)
            .transpose()
    }
}
