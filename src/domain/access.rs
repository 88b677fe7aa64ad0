//! A1: the access decision. Plain Rust over the facts the store loads for one
//! (partner, customer) pair, so the rule is the same wherever it is asked
//! from: CheckAccess, C4 reads, S2 and S3 writes.

use super::model::{
    Channel, DelegatedAdminGrant, Micros, PartnerStatus, Relationship, RelationshipKind, RelationshipState, Scope,
    Service,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    View,
    Sell,
    Provision,
    Support,
    ManageSubscription,
}

/// The closed set of reasons a decision gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessReason {
    ActiveRelationship,
    DelegatedAdmin,
    Transacting,
    PartnerOfRecord,
    IndirectProviderOfRecord,
    PartnerNotFound,
    PartnerNotActive,
    NoRelationship,
    NotTransacting,
    NoDelegatedAdmin,
    NotPartnerOfRecord,
    SubscriptionNotFound,
    NotCspSubscription,
}

impl AccessReason {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessReason::ActiveRelationship => "ACTIVE_RELATIONSHIP",
            AccessReason::DelegatedAdmin => "DELEGATED_ADMIN",
            AccessReason::Transacting => "TRANSACTING",
            AccessReason::PartnerOfRecord => "PARTNER_OF_RECORD",
            AccessReason::IndirectProviderOfRecord => "INDIRECT_PROVIDER_OF_RECORD",
            AccessReason::PartnerNotFound => "PARTNER_NOT_FOUND",
            AccessReason::PartnerNotActive => "PARTNER_NOT_ACTIVE",
            AccessReason::NoRelationship => "NO_RELATIONSHIP",
            AccessReason::NotTransacting => "NOT_TRANSACTING",
            AccessReason::NoDelegatedAdmin => "NO_DELEGATED_ADMIN",
            AccessReason::NotPartnerOfRecord => "NOT_PARTNER_OF_RECORD",
            AccessReason::SubscriptionNotFound => "SUBSCRIPTION_NOT_FOUND",
            AccessReason::NotCspSubscription => "NOT_CSP_SUBSCRIPTION",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessQuery {
    pub partner_id: String,
    pub customer_id: String,
    pub action: Action,
    pub service: Option<Service>,
    pub subscription_id: Option<String>,
}

/// A relationship together with the state of its indirect chain.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainedRelationship {
    pub relationship: Relationship,
    /// For INDIRECT_RESELLER: the provider is ACTIVE.
    pub provider_active: bool,
    /// For INDIRECT_RESELLER: the provider-reseller link is ACTIVE.
    pub link_active: bool,
}

impl ChainedRelationship {
    /// The transacting-partner definition of DOMAIN.md: an ACTIVE RESELLER
    /// relationship, or an ACTIVE INDIRECT_RESELLER one whose provider and
    /// link are ACTIVE. ADVISOR relationships never transact.
    pub fn is_transacting(&self) -> bool {
        self.relationship.state == RelationshipState::Active
            && match self.relationship.kind {
                RelationshipKind::Reseller => true,
                RelationshipKind::IndirectReseller => self.provider_active && self.link_active,
                RelationshipKind::Advisor => false,
            }
    }
}

/// Everything A1 needs about one partner and one customer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AccessFacts {
    /// None: no such partner.
    pub partner_status: Option<PartnerStatus>,
    /// The partner's relationships with the customer.
    pub relationships: Vec<ChainedRelationship>,
    /// The partner's grants on the customer.
    pub grants: Vec<DelegatedAdminGrant>,
    /// The subscription named by the query, if it exists.
    pub subscription: Option<SubscriptionFacts>,
}

/// What A1 needs of a subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionFacts {
    pub id: String,
    pub customer_id: String,
    pub service: Service,
    pub channel: Channel,
    pub partner_of_record_id: Option<String>,
    pub indirect_provider_id: Option<String>,
}

impl AccessFacts {
    /// The transacting-partner definition, which (unlike SELL) does not ask
    /// whether the partner itself is ACTIVE: D2 counts a suspended partner's
    /// RESELLER relationship as transacting.
    pub fn is_transacting(&self) -> bool {
        self.relationships.iter().any(ChainedRelationship::is_transacting)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: AccessReason,
    pub relationship_ids: Vec<String>,
    pub grant_ids: Vec<String>,
}

impl Decision {
    pub fn deny(reason: AccessReason) -> Self {
        Decision {
            allowed: false,
            reason,
            relationship_ids: Vec::new(),
            grant_ids: Vec::new(),
        }
    }

    fn allow(reason: AccessReason, relationship_ids: Vec<String>, grant_ids: Vec<String>) -> Self {
        Decision {
            allowed: true,
            reason,
            relationship_ids,
            grant_ids,
        }
    }
}

/// A1. An unknown customer simply has no relationships or grants, so it is
/// denied like any customer the partner has no business with: existence
/// never leaks (C4).
pub fn decide(query: &AccessQuery, facts: &AccessFacts, now: Micros) -> Decision {
    match facts.partner_status {
        None => return Decision::deny(AccessReason::PartnerNotFound),
        // P4: every action is denied to a partner that is not ACTIVE.
        Some(PartnerStatus::Suspended) => return Decision::deny(AccessReason::PartnerNotActive),
        Some(PartnerStatus::Active) => {}
    }
    let active: Vec<&ChainedRelationship> = facts
        .relationships
        .iter()
        .filter(|r| {
            r.relationship.state == RelationshipState::Active
                && r.relationship.customer_id == query.customer_id
                && r.relationship.partner_id == query.partner_id
        })
        .collect();
    let transacting_ids: Vec<String> = active
        .iter()
        .filter(|r| r.is_transacting())
        .map(|r| r.relationship.id.clone())
        .collect();
    let in_force: Vec<&DelegatedAdminGrant> = facts
        .grants
        .iter()
        .filter(|g| g.in_force(now) && g.customer_id == query.customer_id && g.partner_id == query.partner_id)
        .collect();
    // Every allowed action rests on something that also allows VIEW, so a
    // partner with no business here learns nothing more than that.
    if active.is_empty() && in_force.is_empty() {
        return Decision::deny(AccessReason::NoRelationship);
    }
    let grant_ids_for = |service: Option<Service>, scope: Scope| -> Vec<String> {
        in_force
            .iter()
            .filter(|g| Some(g.service) == service && g.has_scope(scope))
            .map(|g| g.id.clone())
            .collect()
    };
    let subscription = || {
        facts
            .subscription
            .as_ref()
            .filter(|s| Some(&s.id) == query.subscription_id.as_ref() && s.customer_id == query.customer_id)
    };

    match query.action {
        Action::View => {
            if active.is_empty() {
                let ids = in_force.iter().map(|g| g.id.clone()).collect();
                Decision::allow(AccessReason::DelegatedAdmin, Vec::new(), ids)
            } else {
                let ids = active.iter().map(|r| r.relationship.id.clone()).collect();
                Decision::allow(AccessReason::ActiveRelationship, ids, Vec::new())
            }
        }
        Action::Sell => {
            if transacting_ids.is_empty() {
                Decision::deny(AccessReason::NotTransacting)
            } else {
                Decision::allow(AccessReason::Transacting, transacting_ids, Vec::new())
            }
        }
        Action::Provision => {
            let ids = grant_ids_for(query.service, Scope::Provisioning);
            if ids.is_empty() {
                Decision::deny(AccessReason::NoDelegatedAdmin)
            } else {
                Decision::allow(AccessReason::DelegatedAdmin, Vec::new(), ids)
            }
        }
        Action::Support => {
            let service = match (&query.subscription_id, subscription()) {
                (Some(_), None) => return Decision::deny(AccessReason::SubscriptionNotFound),
                (_, Some(subscription)) => Some(subscription.service),
                (None, None) => query.service,
            };
            let ids = grant_ids_for(service, Scope::Support);
            if !ids.is_empty() {
                return Decision::allow(AccessReason::DelegatedAdmin, Vec::new(), ids);
            }
            match subscription().map(|s| of_record(s, &query.partner_id)) {
                Some(Some(reason)) if !transacting_ids.is_empty() => {
                    Decision::allow(reason, transacting_ids, Vec::new())
                }
                _ => Decision::deny(AccessReason::NoDelegatedAdmin),
            }
        }
        Action::ManageSubscription => {
            // D5: delegated admin never allows subscription management.
            let Some(subscription) = subscription() else {
                return Decision::deny(AccessReason::SubscriptionNotFound);
            };
            if subscription.channel != Channel::Csp {
                return Decision::deny(AccessReason::NotCspSubscription);
            }
            match of_record(subscription, &query.partner_id) {
                None => Decision::deny(AccessReason::NotPartnerOfRecord),
                Some(_) if transacting_ids.is_empty() => Decision::deny(AccessReason::NotTransacting),
                Some(reason) => Decision::allow(reason, transacting_ids, Vec::new()),
            }
        }
    }
}

/// How a partner stands on a CSP subscription: its partner of record or its
/// indirect provider.
fn of_record(subscription: &SubscriptionFacts, partner_id: &str) -> Option<AccessReason> {
    if subscription.channel != Channel::Csp {
        None
    } else if subscription.partner_of_record_id.as_deref() == Some(partner_id) {
        Some(AccessReason::PartnerOfRecord)
    } else if subscription.indirect_provider_id.as_deref() == Some(partner_id) {
        Some(AccessReason::IndirectProviderOfRecord)
    } else {
        None
    }
}
