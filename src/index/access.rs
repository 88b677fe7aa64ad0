//! A1's facts in memory: what `access::decide` needs of partners, links,
//! relationships, grants and subscriptions, kept current by applying the
//! events of the log in `seq` order (each event carries the new state of
//! what changed, E1). Plain data: the store loads it and feeds it
//! (`store::IndexedChecker`), which also makes it wait for every write
//! acknowledged before a check (A3) and decides which customers it holds.
//!
//! Partners, ACTIVE and SUSPENDED links, and each pair's last revocation
//! (L5) are held whole (they are few). Customers are
//! held one by one, as checks need them: a held customer has every ACTIVE
//! relationship and grant on it and every subscription; events about
//! customers not held are passed over, as their rows are read afresh when
//! they are next needed. So memory is bounded by the customers held, not by
//! the store, and each held row is compact (ids as 16 bytes, partners as
//! numbers, enums as bytes). `facts` answers what `store::load_facts_batch`
//! would on the same state (the model test compares their decisions).

use std::collections::{HashMap, HashSet};

use crate::domain::access::{AccessFacts, AccessQuery, ChainedRelationship, SubscriptionFacts};
use crate::domain::model::{
    AccessAssignment, AssignmentPrincipal, AssignmentState, Channel, DelegatedAdminGrant, EventResource, GrantState,
    LinkState, Micros, PartnerStatus, Relationship, RelationshipKind, RelationshipSource, RelationshipState,
    SecurityGroup, Service, Subscription,
};
use crate::domain::roles::{RoleSet, scopes_of};
use crate::domain::rules;

/// A server-made id (a UUID in its one lower-case hyphenated text) in 16
/// bytes, ordered as its text is. Any other text names nothing held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Id([u8; 16]);

impl Id {
    fn of(text: &str) -> Option<Id> {
        let uuid = uuid::Uuid::try_parse(text).ok()?;
        let mut buffer = uuid::Uuid::encode_buffer();
        (uuid.hyphenated().encode_lower(&mut buffer) == text).then_some(Id(*uuid.as_bytes()))
    }

    fn text(self) -> String {
        uuid::Uuid::from_bytes(self.0).hyphenated().to_string()
    }
}

/// A partner, by its place in `AccessIndex::partner_ids`.
type PartnerNo = u32;

/// An ACTIVE relationship of a held customer.
#[derive(Clone, Debug, PartialEq)]
struct HeldRelationship {
    id: Id,
    partner: PartnerNo,
    kind: RelationshipKind,
    provider: Option<PartnerNo>,
    source: RelationshipSource,
    request: Option<Id>,
    start_time: Micros,
}

/// An ACTIVE grant of a held customer.
#[derive(Clone, Debug, PartialEq)]
struct HeldGrant {
    id: Id,
    partner: PartnerNo,
    service: Service,
    /// R1: its roles in one byte (its scopes follow from them).
    roles: RoleSet,
    start_time: Micros,
    end_time: Option<Micros>,
    auto_extend: bool,
}

/// A subscription of a held customer.
#[derive(Clone, Debug, PartialEq)]
struct HeldSubscription {
    id: Id,
    service: Service,
    channel: Channel,
    partner_of_record: Option<PartnerNo>,
    provider: Option<PartnerNo>,
}

/// R5: whom an ACTIVE assignment reaches.
#[derive(Clone, Debug, PartialEq)]
enum HeldPrincipal {
    User(Box<str>),
    Group(Id),
}

/// R5: an ACTIVE assignment of a held customer.
#[derive(Clone, Debug, PartialEq)]
struct HeldAssignment {
    id: Id,
    grant: Id,
    partner: PartnerNo,
    principal: HeldPrincipal,
    roles: RoleSet,
}

/// R4: a security group's members (groups are held whole, like partners).
#[derive(Clone, Debug, PartialEq)]
struct HeldGroup {
    partner: PartnerNo,
    members: HashSet<Box<str>>,
}

/// Everything held of one customer, each list in id order.
#[derive(Clone, Debug, Default, PartialEq)]
struct Held {
    relationships: Vec<HeldRelationship>,
    grants: Vec<HeldGrant>,
    subscriptions: Vec<HeldSubscription>,
    assignments: Vec<HeldAssignment>,
}

#[derive(Clone, Debug, Default)]
pub struct AccessIndex {
    /// Every partner id seen, numbered in the order seen.
    partner_ids: Vec<Id>,
    partner_numbers: HashMap<Id, PartnerNo>,
    /// By partner number; None until the partner's own row is applied.
    partner_status: Vec<Option<PartnerStatus>>,
    /// Link id → (provider, reseller) and whether it is ACTIVE, for the
    /// ACTIVE and SUSPENDED links.
    links: HashMap<Id, ((PartnerNo, PartnerNo), bool)>,
    /// (provider, reseller) → how many ACTIVE links join them.
    linked: HashMap<(PartnerNo, PartnerNo), u32>,
    /// (provider, reseller) → how many ACTIVE or SUSPENDED links join them.
    standing: HashMap<(PartnerNo, PartnerNo), u32>,
    /// L5: the REVOKED links, and by pair when its last one was revoked.
    revoked_links: HashMap<Id, ((PartnerNo, PartnerNo), Micros)>,
    revoked: HashMap<(PartnerNo, PartnerNo), Micros>,
    /// R4: every security group, by id.
    groups: HashMap<Id, HeldGroup>,
    customers: HashMap<Id, Held>,
}

impl AccessIndex {
    /// Holds `customer_id` from now on (with no rows until they are
    /// applied). False for a text that is no server-made id.
    pub fn hold(&mut self, customer_id: &str) -> bool {
        match Id::of(customer_id) {
            Some(id) => {
                self.customers.entry(id).or_default();
                true
            }
            None => false,
        }
    }

    /// Whether a check about `customer_id` can be decided from what is held:
    /// the customer is held, or the text names no customer at all.
    pub fn covers(&self, customer_id: &str) -> bool {
        Id::of(customer_id).is_none_or(|id| self.customers.contains_key(&id))
    }

    /// How many customers are held.
    pub fn customers_held(&self) -> usize {
        self.customers.len()
    }

    /// Lets go of customers until at most `capacity` are held. Which ones
    /// is left to the hash order: near enough random, and so a fair
    /// eviction for a cache whose misses cost one read each.
    pub fn evict_to(&mut self, capacity: usize) {
        let excess = self.customers.len().saturating_sub(capacity);
        if excess == 0 {
            return;
        }
        let gone: Vec<Id> = self.customers.keys().take(excess).copied().collect();
        for id in gone {
            self.customers.remove(&id);
        }
    }

    fn partner(&mut self, id: &str) -> Option<PartnerNo> {
        let id = Id::of(id)?;
        if let Some(number) = self.partner_numbers.get(&id) {
            return Some(*number);
        }
        let number = PartnerNo::try_from(self.partner_ids.len()).ok()?;
        self.partner_ids.push(id);
        self.partner_status.push(None);
        self.partner_numbers.insert(id, number);
        Some(number)
    }

    fn known_partner(&self, id: &str) -> Option<PartnerNo> {
        Id::of(id).and_then(|id| self.partner_numbers.get(&id).copied())
    }

    fn partner_id(&self, number: PartnerNo) -> Option<Id> {
        self.partner_ids.get(number as usize).copied()
    }

    fn partner_text(&self, number: PartnerNo) -> String {
        self.partner_ids
            .get(number as usize)
            .map(|id| id.text())
            .unwrap_or_default()
    }

    fn status_of(&self, number: PartnerNo) -> Option<PartnerStatus> {
        self.partner_status.get(number as usize).copied().flatten()
    }

    /// Applies the new state of one resource (an event's, or a row of a
    /// load). Rows of customers not held are passed over.
    pub fn apply(&mut self, resource: &EventResource) {
        match resource {
            EventResource::Partner(partner) => {
                if let Some(number) = self.partner(&partner.id)
                    && let Some(status) = self.partner_status.get_mut(number as usize)
                {
                    *status = Some(partner.status);
                }
            }
            EventResource::PartnerLink(link) => {
                let Some(id) = Id::of(&link.id) else { return };
                if let Some((pair, active)) = self.links.remove(&id) {
                    if active {
                        decrement(&mut self.linked, pair);
                    }
                    decrement(&mut self.standing, pair);
                }
                if let Some((pair, _)) = self.revoked_links.remove(&id) {
                    // Rare (REVOKED is final): the pair's last revocation again.
                    let last = (self.revoked_links.values())
                        .filter(|(other, _)| *other == pair)
                        .map(|(_, at)| *at)
                        .max();
                    match last {
                        Some(at) => drop(self.revoked.insert(pair, at)),
                        None => drop(self.revoked.remove(&pair)),
                    }
                }
                let (Some(provider), Some(reseller)) =
                    (self.partner(&link.provider_id), self.partner(&link.reseller_id))
                else {
                    return;
                };
                let pair = (provider, reseller);
                match link.state {
                    LinkState::Active | LinkState::Suspended => {
                        let active = link.state == LinkState::Active;
                        if active {
                            *self.linked.entry(pair).or_default() += 1;
                        }
                        *self.standing.entry(pair).or_default() += 1;
                        self.links.insert(id, (pair, active));
                    }
                    LinkState::Revoked => {
                        self.revoked_links.insert(id, (pair, link.update_time));
                        let at = self.revoked.entry(pair).or_insert(link.update_time);
                        *at = (*at).max(link.update_time);
                    }
                    LinkState::Pending | LinkState::Declined | LinkState::Expired => {}
                }
            }
            EventResource::Relationship(relationship) => self.put_relationship(relationship),
            EventResource::DelegatedAdminGrant(grant) => self.put_grant(grant),
            EventResource::Subscription(subscription) => self.put_subscription(subscription),
            EventResource::SecurityGroup(group) => self.put_group(group),
            EventResource::AccessAssignment(assignment) => self.put_assignment(assignment),
            // A1 reads nothing of customers (an unknown one has no rows) or
            // of invitations.
            // A transfer's effect on A1 comes as its subscriptions' events (T3).
            EventResource::Customer(_)
            | EventResource::RelationshipRequest(_)
            | EventResource::Transfer(_)
            | EventResource::WebhookEndpoint(_) => {}
        }
    }

    /// R4: a group's members count from the next check (A3); a deleted
    /// group (its event carries delete_time) is gone.
    fn put_group(&mut self, group: &SecurityGroup) {
        let Some(id) = Id::of(&group.id) else { return };
        if group.delete_time.is_some() {
            self.groups.remove(&id);
            return;
        }
        let Some(partner) = self.partner(&group.partner_id) else {
            return;
        };
        let members = group.member_user_ids.iter().map(|m| Box::from(m.as_str())).collect();
        self.groups.insert(id, HeldGroup { partner, members });
    }

    /// R5: the ACTIVE assignments of a held customer; an ended one goes.
    fn put_assignment(&mut self, assignment: &AccessAssignment) {
        let (Some(customer), Some(id), Some(grant)) = (
            self.held_customer(&assignment.customer_id),
            Id::of(&assignment.id),
            Id::of(&assignment.grant_id),
        ) else {
            return;
        };
        let row = match assignment.state {
            AssignmentState::Active => {
                let Some(partner) = self.partner(&assignment.partner_id) else {
                    return;
                };
                let principal = match &assignment.principal {
                    AssignmentPrincipal::User(user) => HeldPrincipal::User(Box::from(user.as_str())),
                    AssignmentPrincipal::SecurityGroup(group) => match Id::of(group) {
                        Some(group) => HeldPrincipal::Group(group),
                        None => return,
                    },
                };
                Some(HeldAssignment {
                    id,
                    grant,
                    partner,
                    principal,
                    roles: RoleSet::of(&assignment.roles),
                })
            }
            AssignmentState::Ended => None,
        };
        if let Some(held) = self.customers.get_mut(&customer) {
            place(&mut held.assignments, id, row, |row| row.id);
        }
    }

    /// L5: when the relationships through this pair count as ended, if its
    /// last link was revoked and none stands now.
    fn handover_end(&self, pair: (PartnerNo, PartnerNo)) -> Option<Micros> {
        if self.standing.contains_key(&pair) {
            return None;
        }
        rules::handover_end(self.revoked.get(&pair).copied())
    }

    /// The held customer a row belongs to, if it is held.
    fn held_customer(&self, customer_id: &str) -> Option<Id> {
        Id::of(customer_id).filter(|id| self.customers.contains_key(id))
    }

    fn put_relationship(&mut self, relationship: &Relationship) {
        let (Some(customer), Some(id)) = (self.held_customer(&relationship.customer_id), Id::of(&relationship.id))
        else {
            return;
        };
        let row = match relationship.state {
            RelationshipState::Active => {
                let Some(partner) = self.partner(&relationship.partner_id) else {
                    return;
                };
                let provider = relationship
                    .indirect_provider_id
                    .as_deref()
                    .and_then(|p| self.partner(p));
                Some(HeldRelationship {
                    id,
                    partner,
                    kind: relationship.kind,
                    provider,
                    source: relationship.source,
                    request: relationship.relationship_request_id.as_deref().and_then(Id::of),
                    start_time: relationship.start_time,
                })
            }
            RelationshipState::Ended => None,
        };
        if let Some(held) = self.customers.get_mut(&customer) {
            place(&mut held.relationships, id, row, |row| row.id);
        }
    }

    fn put_grant(&mut self, grant: &DelegatedAdminGrant) {
        let (Some(customer), Some(id)) = (self.held_customer(&grant.customer_id), Id::of(&grant.id)) else {
            return;
        };
        let row = if grant.state == GrantState::Active {
            let Some(partner) = self.partner(&grant.partner_id) else {
                return;
            };
            Some(HeldGrant {
                id,
                partner,
                service: grant.service,
                roles: RoleSet::of(&grant.roles),
                start_time: grant.start_time,
                end_time: grant.end_time,
                auto_extend: grant.auto_extend,
            })
        } else {
            None
        };
        if let Some(held) = self.customers.get_mut(&customer) {
            place(&mut held.grants, id, row, |row| row.id);
        }
    }

    fn put_subscription(&mut self, subscription: &Subscription) {
        let (Some(customer), Some(id)) = (self.held_customer(&subscription.customer_id), Id::of(&subscription.id))
        else {
            return;
        };
        let row = HeldSubscription {
            id,
            service: subscription.service,
            channel: subscription.channel,
            partner_of_record: subscription
                .partner_of_record_id
                .as_deref()
                .and_then(|p| self.partner(p)),
            provider: subscription
                .indirect_provider_id
                .as_deref()
                .and_then(|p| self.partner(p)),
        };
        if let Some(held) = self.customers.get_mut(&customer) {
            place(&mut held.subscriptions, id, Some(row), |row| row.id);
        }
    }

    /// The facts of one check, as the store would read them now. The
    /// customer must be covered (`covers`): one not held reads as having
    /// no rows.
    pub fn facts(&self, query: &AccessQuery) -> AccessFacts {
        let partner = self.known_partner(&query.partner_id);
        let held = Id::of(&query.customer_id).and_then(|id| self.customers.get(&id));
        let (Some(partner), Some(held)) = (partner, held) else {
            return AccessFacts {
                partner_status: partner.and_then(|number| self.status_of(number)),
                ..AccessFacts::default()
            };
        };
        let relationships = held
            .relationships
            .iter()
            .filter(|row| row.partner == partner)
            .map(|row| ChainedRelationship {
                relationship: self.relationship(row, &query.customer_id),
                provider_active: row
                    .provider
                    .is_some_and(|p| self.status_of(p) == Some(PartnerStatus::Active)),
                link_active: row
                    .provider
                    .is_some_and(|p| self.linked.contains_key(&(p, row.partner))),
                handover_end: row.provider.and_then(|p| self.handover_end((p, row.partner))),
            })
            .collect();
        let grants = held
            .grants
            .iter()
            .filter(|row| row.partner == partner)
            .map(|row| self.grant(row, &query.customer_id))
            .collect();
        let subscription = query
            .subscription_id
            .as_deref()
            .and_then(Id::of)
            .and_then(|id| {
                let at = held.subscriptions.binary_search_by_key(&id, |row| row.id).ok()?;
                held.subscriptions.get(at)
            })
            .map(|row| self.subscription(row, &query.customer_id));
        // R7: assignments only matter to a check naming a user.
        let (assignments, member_of) = match query.user_id.as_deref() {
            None => (Vec::new(), Vec::new()),
            Some(user) => {
                let rows: Vec<&HeldAssignment> =
                    (held.assignments.iter()).filter(|row| row.partner == partner).collect();
                let member_of = (rows.iter())
                    .filter_map(|row| match row.principal {
                        HeldPrincipal::Group(group) => Some(group),
                        HeldPrincipal::User(_) => None,
                    })
                    .filter(|group| {
                        self.groups
                            .get(group)
                            .is_some_and(|held| held.partner == partner && held.members.contains(user))
                    })
                    .map(Id::text)
                    .collect();
                let assignments = (rows.iter())
                    .map(|row| self.assignment(row, &query.customer_id))
                    .collect();
                (assignments, member_of)
            }
        };
        AccessFacts {
            partner_status: self.status_of(partner),
            relationships,
            grants,
            subscription,
            assignments,
            member_of,
        }
    }

    fn assignment(&self, row: &HeldAssignment, customer_id: &str) -> AccessAssignment {
        AccessAssignment {
            id: row.id.text(),
            grant_id: row.grant.text(),
            customer_id: customer_id.to_owned(),
            partner_id: self.partner_text(row.partner),
            principal: match &row.principal {
                HeldPrincipal::User(user) => AssignmentPrincipal::User(user.to_string()),
                HeldPrincipal::Group(group) => AssignmentPrincipal::SecurityGroup(group.text()),
            },
            roles: row.roles.roles(),
            state: AssignmentState::Active,
            // R7 reads none of these: an assignment it reads is ACTIVE.
            end_cause: None,
            version: 0,
            create_time: 0,
            update_time: 0,
            end_time: None,
        }
    }

    fn relationship(&self, row: &HeldRelationship, customer_id: &str) -> Relationship {
        Relationship {
            id: row.id.text(),
            customer_id: customer_id.to_owned(),
            partner_id: self.partner_text(row.partner),
            kind: row.kind,
            indirect_provider_id: row.provider.map(|p| self.partner_text(p)),
            state: RelationshipState::Active,
            source: row.source,
            relationship_request_id: row.request.map(Id::text),
            start_time: row.start_time,
            end_time: None,
            end_cause: None,
        }
    }

    fn grant(&self, row: &HeldGrant, customer_id: &str) -> DelegatedAdminGrant {
        let roles = row.roles.roles();
        DelegatedAdminGrant {
            id: row.id.text(),
            customer_id: customer_id.to_owned(),
            partner_id: self.partner_text(row.partner),
            service: row.service,
            scopes: scopes_of(&roles),
            roles,
            state: GrantState::Active,
            start_time: row.start_time,
            end_time: row.end_time,
            auto_extend: row.auto_extend,
            // A1 reads none of these: a grant it reads is ACTIVE.
            end_cause: None,
            end_note: None,
            notice_days: None,
            version: 0,
            update_time: 0,
        }
    }

    fn subscription(&self, row: &HeldSubscription, customer_id: &str) -> SubscriptionFacts {
        SubscriptionFacts {
            id: row.id.text(),
            customer_id: customer_id.to_owned(),
            service: row.service,
            channel: row.channel,
            partner_of_record_id: row.partner_of_record.map(|p| self.partner_text(p)),
            indirect_provider_id: row.provider.map(|p| self.partner_text(p)),
        }
    }

    /// None when this index holds the same facts as `whole` (one loaded
    /// with every customer) for everything it holds; else what differs.
    /// Partner numbers may differ between the two, so rows are compared as
    /// the facts they stand for.
    pub fn differs_from(&self, whole: &AccessIndex) -> Option<String> {
        let statuses = |index: &AccessIndex| -> HashMap<Id, PartnerStatus> {
            (index.partner_ids.iter().zip(&index.partner_status))
                .filter_map(|(id, status)| status.map(|status| (*id, status)))
                .collect()
        };
        if statuses(self) != statuses(whole) {
            return Some("partner statuses differ".into());
        }
        let links = |index: &AccessIndex| -> HashMap<Id, (Option<Id>, Option<Id>, bool)> {
            (index.links.iter())
                .map(|(id, ((p, r), active))| (*id, (index.partner_id(*p), index.partner_id(*r), *active)))
                .collect()
        };
        if links(self) != links(whole) {
            return Some("ACTIVE and SUSPENDED links differ".into());
        }
        let revoked = |index: &AccessIndex| -> HashMap<(Option<Id>, Option<Id>), Micros> {
            (index.revoked.iter())
                .map(|((p, r), at)| ((index.partner_id(*p), index.partner_id(*r)), *at))
                .collect()
        };
        if revoked(self) != revoked(whole) {
            return Some("revoked links differ".into());
        }
        let groups = |index: &AccessIndex| -> HashMap<Id, (Option<Id>, HashSet<Box<str>>)> {
            (index.groups.iter())
                .map(|(id, group)| (*id, (index.partner_id(group.partner), group.members.clone())))
                .collect()
        };
        if groups(self) != groups(whole) {
            return Some("security groups differ".into());
        }
        let empty = Held::default();
        for (customer, held) in &self.customers {
            let other = whole.customers.get(customer).unwrap_or(&empty);
            let text = customer.text();
            let rows = |index: &AccessIndex, held: &Held| {
                (
                    (held.relationships.iter())
                        .map(|row| index.relationship(row, &text))
                        .collect::<Vec<_>>(),
                    (held.grants.iter())
                        .map(|row| index.grant(row, &text))
                        .collect::<Vec<_>>(),
                    (held.subscriptions.iter())
                        .map(|row| index.subscription(row, &text))
                        .collect::<Vec<_>>(),
                    (held.assignments.iter())
                        .map(|row| index.assignment(row, &text))
                        .collect::<Vec<_>>(),
                )
            };
            let (mine, theirs) = (rows(self, held), rows(whole, other));
            if mine != theirs {
                return Some(format!("customer {text}: held {mine:?}, in the store {theirs:?}"));
            }
        }
        None
    }

    /// How much it holds (logged when it is loaded).
    pub fn size(&self) -> IndexSize {
        let held = self.customers.values();
        IndexSize {
            partners: self.partner_status.iter().filter(|status| status.is_some()).count(),
            links: self.links.len(),
            customers: self.customers.len(),
            relationships: held.clone().map(|held| held.relationships.len()).sum(),
            grants: held.clone().map(|held| held.grants.len()).sum(),
            subscriptions: held.map(|held| held.subscriptions.len()).sum(),
        }
    }
}

/// One fewer link joins the pair.
fn decrement(counts: &mut HashMap<(PartnerNo, PartnerNo), u32>, pair: (PartnerNo, PartnerNo)) {
    match counts.get_mut(&pair) {
        Some(count) if *count > 1 => *count -= 1,
        Some(_) => drop(counts.remove(&pair)),
        None => {}
    }
}

/// Puts the new state of the row `id` in `rows` (None: it left ACTIVE, so
/// it goes), keeping them in id order.
fn place<T>(rows: &mut Vec<T>, id: Id, row: Option<T>, id_of: fn(&T) -> Id) {
    match (rows.binary_search_by_key(&id, id_of), row) {
        (Ok(at), Some(row)) => rows[at] = row,
        (Ok(at), None) => drop(rows.remove(at)),
        (Err(at), Some(row)) => rows.insert(at, row),
        (Err(_), None) => {}
    }
    // A customer has a few rows, which change rarely: no room is kept for
    // more (a Vec grows by at least four at a time).
    rows.shrink_to_fit();
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexSize {
    pub partners: usize,
    pub links: usize,
    pub customers: usize,
    pub relationships: usize,
    pub grants: usize,
    pub subscriptions: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a1_index_ids_are_only_canonical_uuids_and_keep_the_texts_order() {
        let low = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
        let high = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c";
        assert_eq!(Id::of(low).map(Id::text).as_deref(), Some(low));
        assert!(Id::of(low) < Id::of(high));
        // Another spelling of the same UUID names nothing: the store
        // compares texts, so the index must too.
        assert_eq!(Id::of(&low.to_uppercase()), None);
        assert_eq!(Id::of(&low.replace('-', "")), None);
        assert_eq!(Id::of("partner-1"), None);
    }

    #[test]
    fn a1_index_passes_over_rows_of_customers_it_does_not_hold() {
        let mut index = AccessIndex::default();
        let customer = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
        let subscription = Subscription {
            id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a60".into(),
            customer_id: customer.into(),
            service: Service::Azure,
            offer_name: "o".into(),
            quantity: 1,
            billing: crate::domain::model::Billing::Usage,
            status: crate::domain::model::SubscriptionStatus::Active,
            channel: Channel::Direct,
            partner_of_record_id: None,
            indirect_provider_id: None,
            version: 1,
            create_time: 0,
            update_time: 0,
        };
        index.apply(&EventResource::Subscription(subscription.clone()));
        assert_eq!(index.size().subscriptions, 0);
        assert!(!index.covers(customer));
        assert!(index.hold(customer));
        index.apply(&EventResource::Subscription(subscription));
        assert_eq!(index.size().subscriptions, 1);
        assert!(index.covers(customer));
        index.evict_to(0);
        assert!(!index.covers(customer));
        // A text that is no id is covered: it names no customer.
        assert!(index.covers("not-an-id"));
    }

    use crate::domain::access::{Action, decide};
    use crate::domain::model::{Billing, Partner, PartnerKind, PartnerLink, Role, SubscriptionStatus};
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};
    use std::collections::BTreeMap;

    const PARTNERS: u32 = 5;
    const CUSTOMERS: u32 = 4;
    const NOW: Micros = 1_000_000;

    /// A server-made id of one kind (the high digits) and number.
    fn id(kind: u32, n: u32) -> String {
        format!("0190a1b2-c3d4-7e5f-8a9b-{:08x}{:04x}", kind, n)
    }

    /// One change, as its event carries it: the new state of one resource
    /// of a small world, drawn from `bits`. A resource keeps its customer
    /// and partner; everything A1 reads may change.
    fn change(kind: u8, slot: u32, bits: u32) -> EventResource {
        let bit = |n: u32| bits >> n & 1 == 1;
        let pick = |n: u32, of: u32| (bits >> n) % of;
        let customer_id = id(2, slot % CUSTOMERS);
        let partner_id = id(1, slot % PARTNERS);
        let other_partner = id(1, pick(8, PARTNERS));
        match kind {
            0 => EventResource::Partner(Partner {
                id: id(1, slot % PARTNERS),
                mpn_id: String::new(),
                display_name: String::new(),
                kind: PartnerKind::IndirectProvider,
                status: if bit(0) {
                    PartnerStatus::Suspended
                } else {
                    PartnerStatus::Active
                },
                version: 1,
                create_time: 0,
                update_time: 0,
            }),
            1 => EventResource::PartnerLink(PartnerLink {
                id: id(3, slot),
                provider_id: partner_id,
                reseller_id: id(1, (slot + 1) % PARTNERS),
                state: [
                    LinkState::Active,
                    LinkState::Revoked,
                    LinkState::Suspended,
                    LinkState::Pending,
                ][pick(1, 4) as usize],
                expire_time: None,
                ended_by: None,
                end_note: None,
                version: 1,
                create_time: 0,
                update_time: pick(2, 3) as Micros,
            }),
            2 => EventResource::Relationship(Relationship {
                id: id(4, slot),
                customer_id,
                partner_id,
                kind: [
                    RelationshipKind::Reseller,
                    RelationshipKind::IndirectReseller,
                    RelationshipKind::Advisor,
                ][pick(1, 3) as usize],
                indirect_provider_id: bit(3).then_some(other_partner),
                state: if bit(0) {
                    RelationshipState::Ended
                } else {
                    RelationshipState::Active
                },
                source: RelationshipSource::Invitation,
                relationship_request_id: None,
                start_time: 0,
                end_time: None,
                end_cause: None,
            }),
            3 => EventResource::DelegatedAdminGrant(DelegatedAdminGrant {
                id: id(5, slot),
                customer_id,
                partner_id,
                service: Service::ALL[pick(1, 3) as usize],
                // R1: any non-empty set of roles, its scopes derived.
                scopes: scopes_of(&random_roles(bits >> 12)),
                roles: random_roles(bits >> 12),
                state: [GrantState::Active, GrantState::Revoked, GrantState::Superseded][pick(5, 3) as usize],
                start_time: 0,
                // Ends before, at and after NOW.
                end_time: [None, Some(NOW - 1), Some(NOW), Some(NOW + 1)][pick(7, 4) as usize],
                auto_extend: bit(9),
                end_cause: None,
                end_note: None,
                notice_days: None,
                version: 1,
                update_time: 0,
            }),
            _ => EventResource::Subscription(Subscription {
                id: id(6, slot),
                customer_id,
                service: Service::ALL[pick(1, 3) as usize],
                offer_name: String::new(),
                quantity: 1,
                billing: Billing::License,
                status: if bit(0) {
                    SubscriptionStatus::Cancelled
                } else {
                    SubscriptionStatus::Active
                },
                channel: [Channel::Direct, Channel::Advisor, Channel::Csp][pick(3, 3) as usize],
                partner_of_record_id: bit(5).then_some(other_partner),
                indirect_provider_id: bit(6).then(|| id(1, pick(12, PARTNERS))),
                version: 1,
                create_time: 0,
                update_time: 0,
            }),
        }
    }

    /// R1: the roles of the low six bits (DIRECTORY_READER alone for none).
    fn random_roles(bits: u32) -> Vec<Role> {
        let roles: Vec<Role> = (0..Role::ALL.len())
            .filter(|n| bits >> n & 1 == 1)
            .map(|n| Role::ALL[n])
            .collect();
        if roles.is_empty() {
            vec![Role::DirectoryReader]
        } else {
            roles
        }
    }

    fn key(resource: &EventResource) -> (u8, String) {
        match resource {
            EventResource::Partner(r) => (0, r.id.clone()),
            EventResource::PartnerLink(r) => (1, r.id.clone()),
            EventResource::Relationship(r) => (2, r.id.clone()),
            EventResource::DelegatedAdminGrant(r) => (3, r.id.clone()),
            EventResource::Subscription(r) => (4, r.id.clone()),
            _ => (5, String::new()),
        }
    }

    fn customer_of(resource: &EventResource) -> Option<&str> {
        match resource {
            EventResource::Relationship(r) => Some(&r.customer_id),
            EventResource::DelegatedAdminGrant(r) => Some(&r.customer_id),
            EventResource::Subscription(r) => Some(&r.customer_id),
            _ => None,
        }
    }

    /// Every check of the small world, each subscription's too.
    fn queries() -> Vec<AccessQuery> {
        let mut queries = Vec::new();
        for p in 0..PARTNERS {
            for c in 0..CUSTOMERS {
                for action in [
                    Action::View,
                    Action::Sell,
                    Action::Provision,
                    Action::Support,
                    Action::ReadDirectory,
                    Action::ManageUsers,
                    Action::ReadBilling,
                ] {
                    for service in [None, Some(Service::Azure), Some(Service::Office365)] {
                        queries.push(AccessQuery {
                            partner_id: id(1, p),
                            customer_id: id(2, c),
                            action,
                            service,
                            subscription_id: None,
                            user_id: None,
                        });
                    }
                }
                for s in 0..8 {
                    queries.push(AccessQuery {
                        partner_id: id(1, p),
                        customer_id: id(2, c),
                        action: Action::ManageSubscription,
                        service: None,
                        subscription_id: Some(id(6, s)),
                        user_id: None,
                    });
                }
            }
        }
        queries
    }

    /// The facts of a check read straight from the rows, as the store reads
    /// them: the reference the index is held to.
    fn facts_from_rows(rows: &BTreeMap<(u8, String), EventResource>, query: &AccessQuery) -> AccessFacts {
        let status = |partner_id: &str| {
            rows.values().find_map(|row| match row {
                EventResource::Partner(p) if p.id == partner_id => Some(p.status),
                _ => None,
            })
        };
        let linked_in = |states: &[LinkState], provider: &str, reseller: &str| {
            rows.values().any(|row| {
                matches!(row, EventResource::PartnerLink(l)
                    if states.contains(&l.state) && l.provider_id == provider && l.reseller_id == reseller)
            })
        };
        let linked = |provider: &str, reseller: &str| linked_in(&[LinkState::Active], provider, reseller);
        // L5: the pair's last revocation, unless a link stands.
        let handover_end = |provider: &str, reseller: &str| {
            if linked_in(&[LinkState::Active, LinkState::Suspended], provider, reseller) {
                return None;
            }
            let revoked = rows
                .values()
                .filter_map(|row| match row {
                    EventResource::PartnerLink(l)
                        if l.state == LinkState::Revoked && l.provider_id == provider && l.reseller_id == reseller =>
                    {
                        Some(l.update_time)
                    }
                    _ => None,
                })
                .max();
            rules::handover_end(revoked)
        };
        let mut facts = AccessFacts {
            partner_status: status(&query.partner_id),
            ..AccessFacts::default()
        };
        // The rows are keyed by id, so each list comes in id order.
        for row in rows.values() {
            match row {
                EventResource::Relationship(r)
                    if r.state == RelationshipState::Active
                        && r.partner_id == query.partner_id
                        && r.customer_id == query.customer_id =>
                {
                    let provider = r.indirect_provider_id.as_deref();
                    facts.relationships.push(ChainedRelationship {
                        relationship: r.clone(),
                        provider_active: provider.is_some_and(|p| status(p) == Some(PartnerStatus::Active)),
                        link_active: provider.is_some_and(|p| linked(p, &r.partner_id)),
                        handover_end: provider.and_then(|p| handover_end(p, &r.partner_id)),
                    });
                }
                EventResource::DelegatedAdminGrant(g)
                    if g.state == GrantState::Active
                        && g.partner_id == query.partner_id
                        && g.customer_id == query.customer_id =>
                {
                    facts.grants.push(g.clone());
                }
                EventResource::Subscription(s)
                    if Some(&s.id) == query.subscription_id.as_ref() && s.customer_id == query.customer_id =>
                {
                    facts.subscription = Some(SubscriptionFacts {
                        id: s.id.clone(),
                        customer_id: s.customer_id.clone(),
                        service: s.service,
                        channel: s.channel,
                        partner_of_record_id: s.partner_of_record_id.clone(),
                        indirect_provider_id: s.indirect_provider_id.clone(),
                    });
                }
                _ => {}
            }
        }
        facts
    }

    /// `changes` applied in order to an index that at times lets customers
    /// go and reads them back from the rows as they then are (as the
    /// checker does: their rows, then the events after); against an index
    /// built from the final rows alone (as a restart loads it).
    fn kept_equals_rebuilt(changes: Vec<(u8, u32, u32, u8)>) -> Result<(), TestCaseError> {
        let mut rows: BTreeMap<(u8, String), EventResource> = BTreeMap::new();
        let mut kept = AccessIndex::default();
        // The partners exist before anything names them.
        for p in 0..PARTNERS {
            let partner = change(0, p, 0);
            kept.apply(&partner);
            rows.insert(key(&partner), partner);
        }
        for c in 0..CUSTOMERS {
            kept.hold(&id(2, c));
        }
        for (kind, slot, bits, evict) in changes {
            let resource = change(kind, slot % 8, bits);
            kept.apply(&resource);
            rows.insert(key(&resource), resource);
            if evict < 40 {
                kept.evict_to(usize::from(evict % 3));
                for c in 0..CUSTOMERS {
                    let customer = id(2, c);
                    if evict % 2 == 0 || kept.covers(&customer) {
                        continue;
                    }
                    kept.hold(&customer);
                    for row in rows.values().filter(|row| customer_of(row) == Some(customer.as_str())) {
                        kept.apply(row);
                    }
                }
            }
        }
        let mut rebuilt = AccessIndex::default();
        for c in 0..CUSTOMERS {
            rebuilt.hold(&id(2, c));
        }
        for row in rows.values() {
            rebuilt.apply(row);
        }
        prop_assert_eq!(kept.differs_from(&rebuilt), None);
        for query in queries() {
            let expected = decide(&query, &facts_from_rows(&rows, &query), NOW);
            prop_assert_eq!(
                &decide(&query, &rebuilt.facts(&query), NOW),
                &expected,
                "rebuilt: {:?}",
                query
            );
            if kept.covers(&query.customer_id) {
                prop_assert_eq!(
                    &decide(&query, &kept.facts(&query), NOW),
                    &expected,
                    "kept: {:?}",
                    query
                );
            }
        }
        Ok(())
    }

    /// A1, A3 (issue 11's property): the index kept current change by
    /// change, letting customers go and reading them back on the way,
    /// holds the facts one rebuilt from the final rows holds; and both
    /// decide every check as the facts read straight from the rows do.
    #[test]
    fn a3_an_index_kept_change_by_change_equals_one_rebuilt_from_the_final_rows() {
        let mut runner = TestRunner::new(Config {
            cases: 256,
            failure_persistence: None,
            ..Config::default()
        });
        let changes = proptest::collection::vec((0u8..5, 0u32..8, any::<u32>(), any::<u8>()), 0..120);
        if let Err(failure) = runner.run(&changes, kept_equals_rebuilt) {
            panic!("{failure}");
        }
    }
}
