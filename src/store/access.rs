//! Loads the facts of A1 for one (partner, customer) pair and implements the
//! in-process seams (`AccessChecker`, `PartnerDirectory`) over the store.

use async_trait::async_trait;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::Store;
use super::convert::all;
use super::customers::find_subscription;
use super::entity::{grant, partner, relationship};
use super::partners::find_partner;
use crate::domain::Result;
use crate::domain::access::{AccessFacts, AccessQuery, ChainedRelationship, Decision, decide};
use crate::domain::model::{
    DelegatedAdminGrant, GrantState, LinkState, Partner, PartnerLink, PartnerStatus, Relationship, RelationshipKind,
    RelationshipState,
};
use crate::domain::ports::{AccessChecker, PartnerDirectory};

pub(super) async fn load_facts<C: ConnectionTrait>(db: &C, query: &AccessQuery) -> Result<AccessFacts> {
    let Some(status) = partner::Entity::find_by_id(query.partner_id.clone())
        .one(db)
        .await?
        .map(|row| PartnerStatus::parse(&row.status))
    else {
        return Ok(AccessFacts::default());
    };
    let relationship_rows = relationship::Entity::find()
        .filter(relationship::Column::PartnerId.eq(query.partner_id.as_str()))
        .filter(relationship::Column::CustomerId.eq(query.customer_id.as_str()))
        .filter(relationship::Column::State.eq(RelationshipState::Active.as_str()))
        .all(db)
        .await?;
    let mut relationships = Vec::with_capacity(relationship_rows.len());
    for relationship in all::<_, Relationship>(relationship_rows)? {
        let (provider_active, link_active) = match (&relationship.kind, &relationship.indirect_provider_id) {
            (RelationshipKind::IndirectReseller, Some(provider_id)) => {
                chain_state(db, provider_id, &relationship.partner_id).await?
            }
            _ => (true, true),
        };
        relationships.push(ChainedRelationship {
            relationship,
            provider_active,
            link_active,
        });
    }
    let grant_rows = grant::Entity::find()
        .filter(grant::Column::PartnerId.eq(query.partner_id.as_str()))
        .filter(grant::Column::CustomerId.eq(query.customer_id.as_str()))
        .filter(grant::Column::State.eq(GrantState::Active.as_str()))
        .all(db)
        .await?;
    let grants: Vec<DelegatedAdminGrant> = all(grant_rows)?;
    let subscription = match &query.subscription_id {
        Some(id) => find_subscription(db, id).await?,
        None => None,
    };
    Ok(AccessFacts {
        // A status that does not parse denies, as a suspended partner would.
        partner_status: Some(status.unwrap_or(PartnerStatus::Suspended)),
        relationships,
        grants,
        subscription,
    })
}

/// Whether the provider of an indirect chain is ACTIVE and still linked.
async fn chain_state<C: ConnectionTrait>(db: &C, provider_id: &str, reseller_id: &str) -> Result<(bool, bool)> {
    let provider_active = find_partner(db, provider_id)
        .await?
        .is_some_and(|provider| provider.is_active());
    let link_active = super::entity::partner_link::Entity::find()
        .filter(super::entity::partner_link::Column::ProviderId.eq(provider_id))
        .filter(super::entity::partner_link::Column::ResellerId.eq(reseller_id))
        .filter(super::entity::partner_link::Column::State.eq(LinkState::Active.as_str()))
        .one(db)
        .await?
        .is_some();
    Ok((provider_active, link_active))
}

#[async_trait]
impl AccessChecker for Store {
    async fn check(&self, query: &AccessQuery) -> Result<Decision> {
        let facts = load_facts(&self.db, query).await?;
        Ok(decide(query, &facts, self.now()))
    }
}

#[async_trait]
impl PartnerDirectory for Store {
    async fn partner(&self, id: &str) -> Result<Option<Partner>> {
        Store::partner(self, id).await
    }

    async fn active_link(&self, provider_id: &str, reseller_id: &str) -> Result<Option<PartnerLink>> {
        Store::active_link(self, provider_id, reseller_id).await
    }
}
