//! A1 and R7: the access decision, for a partner or one of its users. Plain Rust over the
//! facts the store loads for one (partner, customer) pair, so the rule is
//! the same wherever it is asked from: CheckAccess, C4 reads, S2 and S3
//! writes. What a grant allows is its roles' (R1, `roles`).

use super::model::{
    AccessAssignment, AssignmentPrincipal, AssignmentState, Channel, DelegatedAdminGrant, Micros, PartnerStatus,
    Relationship, RelationshipKind, RelationshipState, Role, Service,
};
pub use super::roles::Action;
use super::roles::{role_allows, roles_allow};

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
    /// R7: a grant for the service is in force, but none of its roles
    /// allows the action.
    RoleNotGranted,
    /// R7 with a user: an ACTIVE assignment reaching the user allows it.
    RoleAssigned,
    /// R7 with a user: no ACTIVE assignment reaches the user on a grant in
    /// force for the customer and service.
    UserNotAssigned,
    /// R7 with a user: assignments reach it, none with an allowing role.
    RoleNotAssigned,
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
            AccessReason::RoleNotGranted => "ROLE_NOT_GRANTED",
            AccessReason::RoleAssigned => "ROLE_ASSIGNED",
            AccessReason::UserNotAssigned => "USER_NOT_ASSIGNED",
            AccessReason::RoleNotAssigned => "ROLE_NOT_ASSIGNED",
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
    /// R7: one of the partner's users (None: the partner as a whole).
    pub user_id: Option<String>,
}

/// A relationship together with the state of its indirect chain.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainedRelationship {
    pub relationship: Relationship,
    /// For INDIRECT_RESELLER: the provider is ACTIVE.
    pub provider_active: bool,
    /// For INDIRECT_RESELLER: the provider-reseller link is ACTIVE.
    pub link_active: bool,
    /// L5, for INDIRECT_RESELLER: when the pair has no ACTIVE or SUSPENDED
    /// link and its last one was revoked, the time from which this
    /// relationship counts as ended (revoked + 30 days).
    pub handover_end: Option<Micros>,
}

impl ChainedRelationship {
    /// L5: ACTIVE, and not past the handover of a revoked link (by the
    /// clock, before the sweep records it ENDED).
    pub fn in_force(&self, now: Micros) -> bool {
        self.relationship.state == RelationshipState::Active && self.handover_end.is_none_or(|end| now < end)
    }

    /// The transacting-partner definition of docs/rules.md: an ACTIVE RESELLER
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
    /// R7, read only for a query naming a user: the ACTIVE assignments on
    /// the partner's grants on the customer (any principal)...
    pub assignments: Vec<AccessAssignment>,
    /// ...and which of their groups have the user as a member now (A3).
    pub member_of: Vec<String>,
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
    /// R7, ROLE_ASSIGNED: the allowing assignments, lowest id first...
    pub assignment_ids: Vec<String>,
    /// ...the first one's lowest-numbered role allowing the action...
    pub role: Option<Role>,
    /// ...and the group it reaches the user through (None: directly).
    pub security_group_id: Option<String>,
}

impl Decision {
    pub fn deny(reason: AccessReason) -> Self {
        Decision::allow(reason, Vec::new(), Vec::new()).denied()
    }

    fn allow(reason: AccessReason, relationship_ids: Vec<String>, grant_ids: Vec<String>) -> Self {
        Decision {
            allowed: true,
            reason,
            relationship_ids,
            grant_ids,
            assignment_ids: Vec::new(),
            role: None,
            security_group_id: None,
        }
    }

    fn denied(mut self) -> Self {
        self.allowed = false;
        self
    }
}

/// A1, and R7 with or without a user. Without one: A1's decision for the
/// partner (`decide_for_partner`). With one, A1 decides for the partner
/// first and its denial stands; what the partner has through a
/// relationship, as partner of record or as provider, each of its users
/// has; what only grants allow also needs an ACTIVE assignment reaching
/// the user (`assigned`), and for a CSP subscription's SUPPORT the
/// partner's standing on it is the fallback.
pub fn decide(query: &AccessQuery, facts: &AccessFacts, now: Micros) -> Decision {
    let partner = decide_for_partner(query, facts, &facts.grants, now);
    let Some(user) = query.user_id.as_deref() else {
        return partner;
    };
    if !partner.allowed || partner.reason != AccessReason::DelegatedAdmin {
        return partner;
    }
    let service = match query.action {
        Action::View => None,
        Action::Support => match (&facts.subscription, &query.subscription_id) {
            (Some(s), Some(id)) if &s.id == id && s.customer_id == query.customer_id => Some(s.service),
            _ => query.service,
        },
        _ => query.service,
    };
    let grants: Vec<&DelegatedAdminGrant> = facts
        .grants
        .iter()
        .filter(|g| g.in_force(now) && g.customer_id == query.customer_id && g.partner_id == query.partner_id)
        .filter(|g| service.is_none_or(|s| g.service == s))
        .collect();
    let by_assignment = assigned(query.action, &grants, facts, user);
    if by_assignment.allowed || query.action != Action::Support {
        return by_assignment;
    }
    // A CSP subscription's SUPPORT as its partner of record or provider,
    // which is each user's (decided as if the partner held no grant).
    let standing = decide_for_partner(query, facts, &[], now);
    if standing.allowed { standing } else { by_assignment }
}

/// R7: what only grants allow, for one user: the ACTIVE assignments
/// reaching it (directly, or through a group it is in now) on these grants
/// (in force, for the customer and the service asked), and those whose
/// roles allow the action (VIEW: any role).
fn assigned(action: Action, grants: &[&DelegatedAdminGrant], facts: &AccessFacts, user: &str) -> Decision {
    let reaches = |a: &AccessAssignment| match &a.principal {
        AssignmentPrincipal::User(id) => id == user,
        AssignmentPrincipal::SecurityGroup(group) => facts.member_of.contains(group),
    };
    let mut reaching = false;
    let mut allowing: Vec<(&AccessAssignment, Role)> = Vec::new();
    for assignment in facts.assignments.iter().filter(|a| a.state == AssignmentState::Active) {
        let Some(grant) = grants.iter().find(|g| g.id == assignment.grant_id) else {
            continue;
        };
        if !reaches(assignment) {
            continue;
        }
        reaching = true;
        let role = (assignment.roles.iter().copied())
            .filter(|role| grant.roles.contains(role))
            .filter(|role| action == Action::View || role_allows(*role, action))
            .min();
        if let Some(role) = role {
            allowing.push((assignment, role));
        }
    }
    allowing.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    let Some((first, role)) = allowing.first() else {
        return Decision::deny(if reaching {
            AccessReason::RoleNotAssigned
        } else {
            AccessReason::UserNotAssigned
        });
    };
    let mut grant_ids: Vec<String> = allowing.iter().map(|(a, _)| a.grant_id.clone()).collect();
    grant_ids.sort();
    grant_ids.dedup();
    Decision {
        allowed: true,
        reason: AccessReason::RoleAssigned,
        relationship_ids: Vec::new(),
        grant_ids,
        assignment_ids: allowing.iter().map(|(a, _)| a.id.clone()).collect(),
        role: Some(*role),
        security_group_id: match &first.principal {
            AssignmentPrincipal::SecurityGroup(group) => Some(group.clone()),
            AssignmentPrincipal::User(_) => None,
        },
    }
}

/// A1, and R7 without a user. An unknown customer simply has no
/// relationships or grants, so it is denied like any customer the partner
/// has no business with: existence never leaks (C4). A grant allows
/// PROVISION, SUPPORT and R7's READ_DIRECTORY, MANAGE_USERS and
/// READ_BILLING for its service when one of its roles does (R1); VIEW
/// rests on any grant in force, whatever its roles.
fn decide_for_partner(
    query: &AccessQuery,
    facts: &AccessFacts,
    grants: &[DelegatedAdminGrant],
    now: Micros,
) -> Decision {
    match facts.partner_status {
        None => return Decision::deny(AccessReason::PartnerNotFound),
        // P4: every action is denied to a partner that is not ACTIVE.
        Some(PartnerStatus::Suspended) => return Decision::deny(AccessReason::PartnerNotActive),
        Some(PartnerStatus::Active) => {}
    }
    let asked = |r: &&ChainedRelationship| {
        r.relationship.customer_id == query.customer_id && r.relationship.partner_id == query.partner_id
    };
    let active: Vec<&ChainedRelationship> = facts
        .relationships
        .iter()
        .filter(asked)
        .filter(|r| r.in_force(now))
        .collect();
    // L5: a chain past its handover ends the reseller's DAP with it, unless
    // another relationship of its own still stands (as M3 ends it).
    let handed_over = active.is_empty()
        && facts
            .relationships
            .iter()
            .filter(asked)
            .any(|r| r.relationship.state == RelationshipState::Active);
    let transacting_ids: Vec<String> = active
        .iter()
        .filter(|r| r.is_transacting())
        .map(|r| r.relationship.id.clone())
        .collect();
    let in_force: Vec<&DelegatedAdminGrant> = grants
        .iter()
        .filter(|g| g.in_force(now) && g.customer_id == query.customer_id && g.partner_id == query.partner_id)
        .filter(|_| !handed_over)
        .collect();
    // Every allowed action rests on something that also allows VIEW, so a
    // partner with no business here learns nothing more than that.
    if active.is_empty() && in_force.is_empty() {
        return Decision::deny(AccessReason::NoRelationship);
    }
    let grant_ids_for = |service: Option<Service>, action: Action| -> Vec<String> {
        in_force
            .iter()
            .filter(|g| Some(g.service) == service && roles_allow(&g.roles, action))
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
            let ids = grant_ids_for(query.service, Action::Provision);
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
            let ids = grant_ids_for(service, Action::Support);
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
        // R7 without a user: a grant in force whose roles allow the action;
        // else ROLE_NOT_GRANTED when a grant for the service is in force;
        // else NO_DELEGATED_ADMIN. D5: READ_BILLING only reads.
        Action::ReadDirectory | Action::ManageUsers | Action::ReadBilling => {
            let ids = grant_ids_for(query.service, query.action);
            if !ids.is_empty() {
                Decision::allow(AccessReason::DelegatedAdmin, Vec::new(), ids)
            } else if in_force.iter().any(|g| Some(g.service) == query.service) {
                Decision::deny(AccessReason::RoleNotGranted)
            } else {
                Decision::deny(AccessReason::NoDelegatedAdmin)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::{GrantState, MICROS_PER_DAY, RelationshipSource, Role};

    const PARTNER: &str = "p";
    const CUSTOMER: &str = "c";
    const SUBSCRIPTION: &str = "s";
    const NOW: Micros = 1_000 * MICROS_PER_DAY;

    /// A grant's end as seen at NOW.
    #[derive(Clone, Copy, Debug)]
    enum End {
        Never,
        Later,
        Passed,
        PassedAutoExtending,
    }

    #[derive(Clone, Copy, Debug)]
    struct GrantCase {
        service: Service,
        state: GrantState,
        roles: &'static [Role],
        end: End,
    }

    /// How the queried subscription stands to the partner.
    #[derive(Clone, Copy, Debug)]
    enum Standing {
        PartnerOfRecord,
        IndirectProvider,
        Neither,
    }

    #[derive(Clone, Copy, Debug)]
    enum SubscriptionCase {
        Missing,
        OfAnotherCustomer,
        Own(Channel, Standing),
    }

    #[derive(Clone, Copy, Debug)]
    struct RelationshipCase {
        kind: RelationshipKind,
        state: RelationshipState,
        provider_active: bool,
        link_active: bool,
    }

    fn relationship_cases() -> Vec<Option<RelationshipCase>> {
        let mut cases = vec![None];
        for kind in RelationshipKind::ALL {
            for state in RelationshipState::ALL {
                // The chain only matters to an indirect reseller; the others
                // are tried with a broken chain too, which must not matter.
                for (provider_active, link_active) in [(true, true), (true, false), (false, true), (false, false)] {
                    cases.push(Some(RelationshipCase {
                        kind: *kind,
                        state: *state,
                        provider_active,
                        link_active,
                    }));
                }
            }
        }
        cases
    }

    fn grant_cases() -> Vec<Option<GrantCase>> {
        // Each role alone, and the roles scopes read as (R1).
        const ROLES: [&[Role]; 7] = [
            &[Role::DirectoryReader],
            &[Role::HelpdeskAdmin],
            &[Role::UserAdmin],
            &[Role::LicenseAdmin],
            &[Role::BillingReader],
            &[Role::GlobalAdmin],
            &[Role::HelpdeskAdmin, Role::UserAdmin, Role::LicenseAdmin],
        ];
        let mut cases = vec![None];
        for service in [Service::Office365, Service::Azure] {
            for state in GrantState::ALL {
                for roles in ROLES {
                    for end in [End::Never, End::Later, End::Passed, End::PassedAutoExtending] {
                        cases.push(Some(GrantCase {
                            service,
                            state: *state,
                            roles,
                            end,
                        }));
                    }
                }
            }
        }
        cases
    }

    fn subscription_cases() -> Vec<SubscriptionCase> {
        let mut cases = vec![SubscriptionCase::Missing, SubscriptionCase::OfAnotherCustomer];
        for channel in Channel::ALL {
            for standing in [Standing::PartnerOfRecord, Standing::IndirectProvider, Standing::Neither] {
                cases.push(SubscriptionCase::Own(*channel, standing));
            }
        }
        cases
    }

    /// The queries of the table: each action, with a service or a
    /// subscription where the action takes one. The service asked about is
    /// always office365, and so is the subscription's.
    fn queries() -> Vec<AccessQuery> {
        let query = |action, service, subscription_id: Option<&str>| AccessQuery {
            partner_id: PARTNER.into(),
            customer_id: CUSTOMER.into(),
            action,
            service,
            subscription_id: subscription_id.map(str::to_owned),
            user_id: None,
        };
        vec![
            query(Action::View, None, None),
            query(Action::Sell, None, None),
            query(Action::Provision, Some(Service::Office365), None),
            query(Action::Support, Some(Service::Office365), None),
            query(Action::ReadDirectory, Some(Service::Office365), None),
            query(Action::ManageUsers, Some(Service::Office365), None),
            query(Action::ReadBilling, Some(Service::Office365), None),
            query(Action::Support, None, Some(SUBSCRIPTION)),
            query(Action::ManageSubscription, None, Some(SUBSCRIPTION)),
        ]
    }

    fn facts(
        partner_status: Option<PartnerStatus>,
        relationship: Option<RelationshipCase>,
        grant: Option<GrantCase>,
        subscription: Option<SubscriptionCase>,
    ) -> AccessFacts {
        let relationships = relationship
            .map(|r| ChainedRelationship {
                relationship: Relationship {
                    id: "r".into(),
                    customer_id: CUSTOMER.into(),
                    partner_id: PARTNER.into(),
                    kind: r.kind,
                    indirect_provider_id: (r.kind == RelationshipKind::IndirectReseller).then(|| "provider".into()),
                    state: r.state,
                    source: RelationshipSource::Invitation,
                    relationship_request_id: None,
                    start_time: 0,
                    end_time: None,
                    end_cause: None,
                },
                provider_active: r.provider_active,
                link_active: r.link_active,
                handover_end: None,
            })
            .into_iter()
            .collect();
        let grants = grant
            .map(|g| DelegatedAdminGrant {
                id: "g".into(),
                customer_id: CUSTOMER.into(),
                partner_id: PARTNER.into(),
                service: g.service,
                scopes: crate::domain::roles::scopes_of(g.roles),
                roles: g.roles.to_vec(),
                state: g.state,
                start_time: 0,
                end_time: match g.end {
                    End::Never => None,
                    End::Later => Some(NOW + 1),
                    End::Passed | End::PassedAutoExtending => Some(NOW),
                },
                auto_extend: matches!(g.end, End::PassedAutoExtending),
                end_cause: None,
                end_note: None,
                notice_days: None,
                version: 1,
                update_time: 0,
            })
            .into_iter()
            .collect();
        let subscription = subscription.and_then(|s| {
            let (customer_id, channel, standing) = match s {
                SubscriptionCase::Missing => return None,
                SubscriptionCase::OfAnotherCustomer => ("another", Channel::Csp, Standing::PartnerOfRecord),
                SubscriptionCase::Own(channel, standing) => (CUSTOMER, channel, standing),
            };
            let (partner_of_record, provider) = match standing {
                Standing::PartnerOfRecord => (PARTNER, "someone"),
                Standing::IndirectProvider => ("someone", PARTNER),
                Standing::Neither => ("someone", "someone else"),
            };
            Some(SubscriptionFacts {
                id: SUBSCRIPTION.into(),
                customer_id: customer_id.into(),
                service: Service::Office365,
                channel,
                partner_of_record_id: Some(partner_of_record.into()),
                indirect_provider_id: Some(provider.into()),
            })
        });
        AccessFacts {
            partner_status,
            relationships,
            grants,
            subscription,
            ..AccessFacts::default()
        }
    }

    /// R1's table as the rule states it: (role, the actions it allows).
    const R1: [(Role, &[Action]); 6] = [
        (Role::DirectoryReader, &[Action::ReadDirectory]),
        (Role::HelpdeskAdmin, &[Action::ReadDirectory, Action::Support]),
        (Role::UserAdmin, &[Action::ReadDirectory, Action::ManageUsers]),
        (Role::LicenseAdmin, &[Action::ReadDirectory, Action::Provision]),
        (Role::BillingReader, &[Action::ReadBilling]),
        (
            Role::GlobalAdmin,
            &[
                Action::ReadDirectory,
                Action::ManageUsers,
                Action::Provision,
                Action::Support,
                Action::ReadBilling,
            ],
        ),
    ];

    /// A1 and R7 (without a user) as docs/rules.md states them, written
    /// apart from `decide`: the answer (allowed, reason) for one row of the
    /// table.
    fn expected(
        query: &AccessQuery,
        partner_status: Option<PartnerStatus>,
        relationship: Option<RelationshipCase>,
        grant: Option<GrantCase>,
        subscription: Option<SubscriptionCase>,
    ) -> (bool, AccessReason) {
        use AccessReason::*;
        match partner_status {
            None => return (false, PartnerNotFound),
            Some(PartnerStatus::Suspended) => return (false, PartnerNotActive),
            Some(PartnerStatus::Active) => {}
        }
        let related = relationship.is_some_and(|r| r.state == RelationshipState::Active);
        let transacting = relationship.is_some_and(|r| {
            r.state == RelationshipState::Active
                && (r.kind == RelationshipKind::Reseller
                    || (r.kind == RelationshipKind::IndirectReseller && r.provider_active && r.link_active))
        });
        // D4: ACTIVE, and before its end unless it auto-extends.
        let in_force = grant.is_some_and(|g| g.state == GrantState::Active && !matches!(g.end, End::Passed));
        let for_service = in_force && grant.is_some_and(|g| g.service == Service::Office365);
        let grant_allows = |action: Action| {
            for_service
                && grant.is_some_and(|g| {
                    R1.iter()
                        .any(|(role, actions)| g.roles.contains(role) && actions.contains(&action))
                })
        };
        if !related && !in_force {
            return (false, NoRelationship);
        }
        let own = match subscription {
            Some(SubscriptionCase::Own(channel, standing)) => Some((channel, standing)),
            _ => None,
        };
        let of_record = match own {
            Some((Channel::Csp, Standing::PartnerOfRecord)) => Some(PartnerOfRecord),
            Some((Channel::Csp, Standing::IndirectProvider)) => Some(IndirectProviderOfRecord),
            _ => None,
        };
        match query.action {
            Action::View if related => (true, ActiveRelationship),
            Action::View => (true, DelegatedAdmin),
            Action::Sell if transacting => (true, Transacting),
            Action::Sell => (false, NotTransacting),
            Action::Provision if grant_allows(Action::Provision) => (true, DelegatedAdmin),
            Action::Provision => (false, NoDelegatedAdmin),
            Action::Support if query.subscription_id.is_some() && own.is_none() => (false, SubscriptionNotFound),
            Action::Support if grant_allows(Action::Support) => (true, DelegatedAdmin),
            Action::Support => match of_record {
                Some(reason) if transacting => (true, reason),
                _ => (false, NoDelegatedAdmin),
            },
            Action::ManageSubscription => match own {
                None => (false, SubscriptionNotFound),
                Some((channel, _)) if channel != Channel::Csp => (false, NotCspSubscription),
                Some(_) => match of_record {
                    None => (false, NotPartnerOfRecord),
                    Some(_) if !transacting => (false, NotTransacting),
                    Some(reason) => (true, reason),
                },
            },
            Action::ReadDirectory | Action::ManageUsers | Action::ReadBilling if grant_allows(query.action) => {
                (true, DelegatedAdmin)
            }
            Action::ReadDirectory | Action::ManageUsers | Action::ReadBilling if for_service => (false, RoleNotGranted),
            Action::ReadDirectory | Action::ManageUsers | Action::ReadBilling => (false, NoDelegatedAdmin),
        }
    }

    /// A1, R1, R7: every action × partner status × relationship kind, state
    /// and chain × grant service, state, roles and end × subscription
    /// channel and standing, against the rule as stated above.
    #[test]
    fn a1_truth_table_matches_the_rule() {
        let statuses = [None, Some(PartnerStatus::Active), Some(PartnerStatus::Suspended)];
        let mut rows = 0;
        let mut allowed_rows = 0;
        let mut failures = Vec::new();
        for query in queries() {
            // The store loads a subscription only when the query names one.
            let subscriptions: Vec<Option<SubscriptionCase>> = if query.subscription_id.is_some() {
                subscription_cases().into_iter().map(Some).collect()
            } else {
                vec![None]
            };
            for status in statuses {
                for relationship in relationship_cases() {
                    for grant in grant_cases() {
                        for subscription in &subscriptions {
                            rows += 1;
                            let facts = facts(status, relationship, grant, *subscription);
                            let decision = decide(&query, &facts, NOW);
                            let want = expected(&query, status, relationship, grant, *subscription);
                            if (decision.allowed, decision.reason) != want {
                                failures.push(format!(
                                    "{:?} {status:?} {relationship:?} {grant:?} {subscription:?}: got {:?} {:?}, want {want:?}",
                                    query.action, decision.allowed, decision.reason
                                ));
                            }
                            // An allowed decision names what it rests on; a denied one nothing.
                            let rests_on = decision.relationship_ids.len() + decision.grant_ids.len();
                            if decision.allowed != (rests_on > 0) {
                                failures.push(format!("{query:?} {facts:?}: rests on {decision:?}"));
                            }
                            allowed_rows += usize::from(decision.allowed);
                        }
                    }
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {rows} rows differ:\n{}",
            failures.len(),
            failures[..failures.len().min(20)].join("\n")
        );
        assert_eq!(
            rows,
            7 * 3 * 25 * 225 + 2 * 3 * 25 * 225 * 11,
            "the table covers every combination"
        );
        assert!(allowed_rows > 0 && allowed_rows < rows, "the table has both answers");
    }

    /// A1: a relationship or grant of another partner or customer in the
    /// facts never counts.
    #[test]
    fn a1_rows_of_another_pair_do_not_count() {
        let query = AccessQuery {
            partner_id: PARTNER.into(),
            customer_id: CUSTOMER.into(),
            action: Action::View,
            service: None,
            subscription_id: None,
            user_id: None,
        };
        let reseller = Some(RelationshipCase {
            kind: RelationshipKind::Reseller,
            state: RelationshipState::Active,
            provider_active: true,
            link_active: true,
        });
        let grant = Some(GrantCase {
            service: Service::Office365,
            state: GrantState::Active,
            roles: &[Role::HelpdeskAdmin, Role::UserAdmin, Role::LicenseAdmin],
            end: End::Never,
        });
        let mut facts = facts(Some(PartnerStatus::Active), reseller, grant, None);
        assert!(decide(&query, &facts, NOW).allowed);
        facts.relationships[0].relationship.partner_id = "other".into();
        facts.grants[0].customer_id = "other".into();
        assert_eq!(
            decide(&query, &facts, NOW),
            Decision::deny(AccessReason::NoRelationship)
        );
    }

    /// L5: a chain past the handover of its revoked link counts as ended by
    /// the clock, and the reseller's DAP with it, unless another
    /// relationship of its own still stands.
    #[test]
    fn l5_a_chain_past_its_handover_counts_as_ended_with_its_dap() {
        let query = |action| AccessQuery {
            partner_id: PARTNER.into(),
            customer_id: CUSTOMER.into(),
            action,
            service: Some(Service::Office365),
            subscription_id: None,
            user_id: None,
        };
        let chain = Some(RelationshipCase {
            kind: RelationshipKind::IndirectReseller,
            state: RelationshipState::Active,
            provider_active: true,
            link_active: false,
        });
        let grant = Some(GrantCase {
            service: Service::Office365,
            state: GrantState::Active,
            roles: &[Role::HelpdeskAdmin, Role::UserAdmin, Role::LicenseAdmin],
            end: End::Never,
        });
        let mut facts = facts(Some(PartnerStatus::Active), chain, grant, None);
        facts.relationships[0].handover_end = Some(NOW + 1);
        for action in [Action::View, Action::Provision, Action::Support] {
            assert!(
                decide(&query(action), &facts, NOW).allowed,
                "{action:?} before the handover"
            );
        }
        facts.relationships[0].handover_end = Some(NOW);
        for action in [Action::View, Action::Provision, Action::Support] {
            assert_eq!(
                decide(&query(action), &facts, NOW),
                Decision::deny(AccessReason::NoRelationship),
                "{action:?} from the handover on"
            );
        }
        // Another relationship of its own keeps its DAP.
        let mut own = facts.relationships[0].clone();
        own.relationship.id = "r2".into();
        own.relationship.kind = RelationshipKind::Advisor;
        own.handover_end = None;
        facts.relationships.push(own);
        assert!(decide(&query(Action::Provision), &facts, NOW).allowed);
    }
}
