//! A1's facts in memory: what `access::decide` needs of partners, links,
//! relationships, grants and subscriptions, kept current by applying the
//! events of the log in `seq` order (each event carries the new state of
//! what changed, E1). Plain data: the store loads it and feeds it
//! (`store::IndexedChecker`), which also makes it wait for every write
//! acknowledged before a check (A3).
//!
//! It holds exactly what the store's facts statement reads: partners'
//! status, ACTIVE links, ACTIVE relationships and ACTIVE grants by
//! (partner, customer), and every subscription; so `facts` answers what
//! `store::load_facts_batch` would on the same state (a test compares
//! them).

use std::collections::HashMap;

use super::access::{AccessFacts, AccessQuery, ChainedRelationship, SubscriptionFacts};
use super::model::{
    DelegatedAdminGrant, EventResource, GrantState, LinkState, PartnerStatus, Relationship, RelationshipState,
    Subscription,
};

/// (partner id, customer id).
type Pair = (String, String);

#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccessIndex {
    partners: HashMap<String, PartnerStatus>,
    /// Link id → (provider, reseller), for the ACTIVE links.
    links: HashMap<String, (String, String)>,
    /// (provider, reseller) → how many ACTIVE links join them.
    linked: HashMap<(String, String), usize>,
    relationships: HashMap<Pair, Vec<Relationship>>,
    grants: HashMap<Pair, Vec<DelegatedAdminGrant>>,
    subscriptions: HashMap<String, SubscriptionFacts>,
    /// Ids of the rows held, to find a row's old place when it changes.
    relationship_pairs: HashMap<String, Pair>,
    grant_pairs: HashMap<String, Pair>,
}

impl AccessIndex {
    /// Applies the new state of one resource (an event's, or a row of the
    /// initial load).
    pub fn apply(&mut self, resource: &EventResource) {
        match resource {
            EventResource::Partner(partner) => {
                self.partners.insert(partner.id.clone(), partner.status);
            }
            EventResource::PartnerLink(link) => {
                if let Some(pair) = self.links.remove(&link.id) {
                    self.unlink(&pair);
                }
                if link.state == LinkState::Active {
                    let pair = (link.provider_id.clone(), link.reseller_id.clone());
                    *self.linked.entry(pair.clone()).or_default() += 1;
                    self.links.insert(link.id.clone(), pair);
                }
            }
            EventResource::Relationship(relationship) => self.put_relationship(relationship),
            EventResource::DelegatedAdminGrant(grant) => self.put_grant(grant),
            EventResource::Subscription(subscription) => self.put_subscription(subscription),
            // A1 reads nothing of customers (an unknown one has no rows) or
            // of invitations.
            EventResource::Customer(_) | EventResource::RelationshipRequest(_) => {}
        }
    }

    fn unlink(&mut self, pair: &(String, String)) {
        match self.linked.get_mut(pair) {
            Some(count) if *count > 1 => *count -= 1,
            Some(_) => drop(self.linked.remove(pair)),
            None => {}
        }
    }

    fn put_relationship(&mut self, relationship: &Relationship) {
        let active = relationship.state == RelationshipState::Active;
        let pair = (relationship.partner_id.clone(), relationship.customer_id.clone());
        place(
            &mut self.relationships,
            &mut self.relationship_pairs,
            relationship,
            active.then_some(pair),
            |row| &row.id,
        );
    }

    fn put_grant(&mut self, grant: &DelegatedAdminGrant) {
        let active = grant.state == GrantState::Active;
        let pair = (grant.partner_id.clone(), grant.customer_id.clone());
        place(
            &mut self.grants,
            &mut self.grant_pairs,
            grant,
            active.then_some(pair),
            |row| &row.id,
        );
    }

    fn put_subscription(&mut self, subscription: &Subscription) {
        self.subscriptions.insert(
            subscription.id.clone(),
            SubscriptionFacts {
                id: subscription.id.clone(),
                customer_id: subscription.customer_id.clone(),
                service: subscription.service,
                channel: subscription.channel,
                partner_of_record_id: subscription.partner_of_record_id.clone(),
                indirect_provider_id: subscription.indirect_provider_id.clone(),
            },
        );
    }

    /// The facts of one check, as the store would read them now.
    pub fn facts(&self, query: &AccessQuery) -> AccessFacts {
        let pair = (query.partner_id.clone(), query.customer_id.clone());
        let relationships = self
            .relationships
            .get(&pair)
            .map(|rows| {
                rows.iter()
                    .map(|relationship| {
                        let provider = relationship.indirect_provider_id.as_deref();
                        ChainedRelationship {
                            relationship: relationship.clone(),
                            provider_active: provider
                                .is_some_and(|id| self.partners.get(id) == Some(&PartnerStatus::Active)),
                            link_active: provider.is_some_and(|id| {
                                self.linked
                                    .contains_key(&(id.to_owned(), relationship.partner_id.clone()))
                            }),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        AccessFacts {
            partner_status: self.partners.get(&query.partner_id).copied(),
            relationships,
            grants: self.grants.get(&pair).cloned().unwrap_or_default(),
            subscription: query
                .subscription_id
                .as_ref()
                .and_then(|id| self.subscriptions.get(id).cloned()),
        }
    }

    /// How much it holds (logged when it is loaded).
    pub fn size(&self) -> IndexSize {
        IndexSize {
            partners: self.partners.len(),
            links: self.links.len(),
            relationships: self.relationship_pairs.len(),
            grants: self.grant_pairs.len(),
            subscriptions: self.subscriptions.len(),
        }
    }
}

/// Puts the new state of `row` at `pair` (None: the row left ACTIVE, so it
/// goes), removing it from where it was; each pair's rows stay in id order.
fn place<T: Clone>(
    rows: &mut HashMap<Pair, Vec<T>>,
    places: &mut HashMap<String, Pair>,
    row: &T,
    pair: Option<Pair>,
    id_of: fn(&T) -> &String,
) {
    let id = id_of(row);
    if let Some(old) = places.remove(id)
        && let Some(held) = rows.get_mut(&old)
    {
        held.retain(|other| id_of(other) != id);
        if held.is_empty() {
            rows.remove(&old);
        }
    }
    if let Some(pair) = pair {
        let held = rows.entry(pair.clone()).or_default();
        let at = held.partition_point(|other| id_of(other) < id);
        held.insert(at, row.clone());
        places.insert(id.clone(), pair);
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexSize {
    pub partners: usize,
    pub links: usize,
    pub relationships: usize,
    pub grants: usize,
    pub subscriptions: usize,
}
