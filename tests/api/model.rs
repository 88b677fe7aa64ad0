//! The model-based test: random sequences of operations by random principals,
//! run against the real server and against a small in-memory model of
//! the rules (docs/rules.md). After every step, every access decision (A1, through
//! BatchCheckAccess) and every customer's relationship list (M2) must agree
//! with the model. This is the test that shows the rules compose.
//!
//! The server's clock moves only when a step moves it, so the model also
//! learns time: grants' terms and their expiry (D4, decided on the clock),
//! notices (G2) and extensions (G3) recorded by sweeps the steps run, and
//! transfers expiring after 30 days (T2).
//!
//! R4-R7 with users: the partners keep security groups of a few users and
//! assign their grants' roles to users and groups; after every step every
//! per-user decision (reason, deciding role, group and assignments) and
//! every assignment's state and end cause agree with the model's own
//! reading of R7 and of the cascades of R3, R4 and R6.
//!
//! The seed is fixed, so a failure reproduces; `PARTNERCENTER_MODEL_SEED` and
//! `PARTNERCENTER_MODEL_STEPS` explore further.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use partnercenter::domain::clock::ManualClock;

use rand::RngExt;

use partnercenter::api::pb;
use pb::check_access_request::Action;
use pb::check_access_response::Reason;
use pb::delegated_admin_grant::{Role, Scope};
use pb::partner::Kind;

use crate::support::*;

const SERVICES: [&str; 2] = ["office365", "azure"];

/// xoshiro256++, whose output for a seed is fixed by its published
/// algorithm (unlike `SmallRng`'s), so a seed replays the same steps
/// everywhere.
struct Rng(rand::rngs::Xoshiro256PlusPlus);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0.random_range(0..n)
    }

    fn chance(&mut self, percent: u32) -> bool {
        self.0.random_ratio(percent, 100)
    }
}

#[derive(Clone, Debug)]
struct MPartner {
    id: String,
    kind: Kind,
    active: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct MRelationship {
    customer: usize,
    partner: usize,
    /// RESELLER, INDIRECT_RESELLER or ADVISOR.
    kind: i32,
    provider: Option<usize>,
    active: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct MGrant {
    customer: usize,
    partner: usize,
    service: &'static str,
    /// R1: its roles, sorted, and the scopes that follow from them.
    roles: Vec<i32>,
    scopes: Vec<i32>,
    /// ACTIVE, REVOKED or SUPERSEDED.
    state: i32,
    /// G4: why it left ACTIVE (0 while ACTIVE).
    cause: i32,
    /// D1, G3: its end_time (micros), and whether it auto-extends.
    end: Option<i64>,
    auto_extend: bool,
    /// G2: the last notice mark passed (0: none).
    notice: i32,
}

#[derive(Clone, Debug)]
struct MSubscription {
    id: String,
    customer: usize,
    /// None: bought directly (DIRECT, recorded by the operator); else CSP.
    partner_of_record: Option<usize>,
    active: bool,
}

/// T1: a transfer of one subscription to its proposer.
#[derive(Clone, Debug)]
struct MTransfer {
    id: String,
    customer: usize,
    proposer: usize,
    subscription: usize,
    /// The subscription's partner of record and standing when proposed.
    snapshot: (Option<usize>, bool),
    /// The state recorded; a PENDING one past `expire` is EXPIRED for
    /// every decision.
    state: i32,
    expire: i64,
}

impl MTransfer {
    fn pending(&self) -> bool {
        self.state == T_PENDING
    }

    /// T2: the state every call sees at `now`.
    fn effective(&self, now: i64) -> i32 {
        if self.pending() && now >= self.expire {
            T_EXPIRED
        } else {
            self.state
        }
    }
}

const T_PENDING: i32 = pb::transfer::State::Pending as i32;
const T_COMPLETED: i32 = pb::transfer::State::Completed as i32;
const T_REJECTED: i32 = pb::transfer::State::Rejected as i32;
const T_EXPIRED: i32 = pb::transfer::State::Expired as i32;

/// R4, R5: the users of every partner, by their opaque ids (one partner's
/// "ana" is not another's).
const USERS: [&str; 3] = ["ana", "ben", "chen"];

/// R4: a partner's group of its users.
#[derive(Clone, Debug)]
struct MGroup {
    id: String,
    partner: usize,
    members: BTreeSet<String>,
    deleted: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum MPrincipal {
    User(String),
    Group(usize),
}

/// R5: some of a grant's roles given to a user or a group.
#[derive(Clone, Debug)]
struct MAssignment {
    id: String,
    /// Its grant, by index in `Model::grants`.
    grant: usize,
    principal: MPrincipal,
    /// Sorted.
    roles: Vec<i32>,
    /// The end cause recorded by the assignment's own ending (R3, R4, R5);
    /// 0 while only its grant may end it (R6: GRANT_ENDED, read from the
    /// grant's state).
    ended: i32,
}

const A_GRANT_ENDED: i32 = pb::access_assignment::EndCause::GrantEnded as i32;
const A_ROLES_REMOVED: i32 = pb::access_assignment::EndCause::RolesRemoved as i32;
const A_GROUP_DELETED: i32 = pb::access_assignment::EndCause::GroupDeleted as i32;
const A_REMOVED: i32 = pb::access_assignment::EndCause::Removed as i32;

/// R7 with a user: what the model expects of a per-user check.
#[derive(Clone, Debug, PartialEq, Eq)]
enum UserDecision {
    /// A1 denies the partner: its reason is A1's.
    PartnerDenied,
    /// Allowed to the partner through a relationship or as partner of
    /// record, and so to each of its users.
    ByPartner,
    /// ROLE_ASSIGNED: the deciding role and group of the chosen (lowest
    /// id) allowing assignment, and every allowing assignment's id, sorted.
    Assigned {
        role: i32,
        group: Option<String>,
        assignments: Vec<String>,
    },
    UserNotAssigned,
    RoleNotAssigned,
}

#[derive(Default)]
struct Model {
    partners: Vec<MPartner>,
    customers: Vec<String>,
    links: BTreeSet<(usize, usize)>,
    /// L5: when each (provider, reseller) pair was last unlinked.
    unlinked_at: BTreeMap<(usize, usize), i64>,
    relationships: Vec<MRelationship>,
    grants: Vec<MGrant>,
    subscriptions: Vec<MSubscription>,
    transfers: Vec<MTransfer>,
    groups: Vec<MGroup>,
    assignments: Vec<MAssignment>,
    /// The server's clock.
    now: i64,
}

const DAY: i64 = 86_400_000_000;
/// Where the server's clock starts.
const CLOCK_START: i64 = 1_800_000_000_000_000;

const RESELLER: i32 = pb::relationship::Kind::Reseller as i32;
const INDIRECT: i32 = pb::relationship::Kind::IndirectReseller as i32;
const ADVISOR: i32 = pb::relationship::Kind::Advisor as i32;
const G_ACTIVE: i32 = pb::delegated_admin_grant::State::Active as i32;
const G_REVOKED: i32 = pb::delegated_admin_grant::State::Revoked as i32;
const G_SUPERSEDED: i32 = pb::delegated_admin_grant::State::Superseded as i32;
const CUSTOMER_REVOKED: i32 = pb::EndCause::CustomerRevoked as i32;
const RELATIONSHIP_ENDED: i32 = pb::EndCause::RelationshipEnded as i32;
const SUPERSEDED: i32 = pb::EndCause::Superseded as i32;
const G_EXPIRED: i32 = pb::delegated_admin_grant::State::Expired as i32;
const EXPIRED: i32 = pb::EndCause::Expired as i32;

/// G2: the smallest of the marks 30, 7, 1 days that a grant ending at `end`
/// is inside at `now` (0: none, or no end, or auto_extend).
fn notice_mark(end: Option<i64>, auto_extend: bool, now: i64) -> i32 {
    match end {
        Some(end) if !auto_extend => [1, 7, 30]
            .into_iter()
            .find(|mark| end - now <= i64::from(*mark) * DAY)
            .unwrap_or(0),
        _ => 0,
    }
}

/// D4: an auto-extending grant's end moved by the fewest 180-day periods
/// that put it after `now`.
fn extended(end: i64, now: i64) -> i64 {
    const PERIOD: i64 = 180 * DAY;
    if end > now {
        end
    } else {
        end + ((now - end) / PERIOD + 1) * PERIOD
    }
}

/// R1 as the rule states it: the actions each role allows.
fn role_allows(role: i32, action: Action) -> bool {
    use Action::*;
    let allowed: &[Action] = match Role::try_from(role) {
        Ok(Role::DirectoryReader) => &[ReadDirectory],
        Ok(Role::HelpdeskAdmin) => &[ReadDirectory, Support],
        Ok(Role::UserAdmin) => &[ReadDirectory, ManageUsers],
        Ok(Role::LicenseAdmin) => &[ReadDirectory, Provision],
        Ok(Role::BillingReader) => &[ReadBilling],
        Ok(Role::GlobalAdmin) => &[ReadDirectory, ManageUsers, Provision, Support, ReadBilling],
        _ => &[],
    };
    allowed.contains(&action)
}

/// R1: a grant's scopes follow from its roles.
fn scopes_of(roles: &[i32]) -> Vec<i32> {
    let mut scopes = Vec::new();
    if roles.iter().any(|r| role_allows(*r, Action::Provision)) {
        scopes.push(Scope::Provisioning as i32);
    }
    if roles.iter().any(|r| role_allows(*r, Action::Support)) {
        scopes.push(Scope::Support as i32);
    }
    scopes
}

/// R1: scopes given alone read as roles.
fn roles_of_scopes(scopes: &[i32]) -> Vec<i32> {
    let mut roles = Vec::new();
    for scope in scopes {
        if *scope == Scope::Provisioning as i32 {
            roles.extend([Role::UserAdmin as i32, Role::LicenseAdmin as i32]);
        } else {
            roles.push(Role::HelpdeskAdmin as i32);
        }
    }
    roles.sort();
    roles.dedup();
    roles
}

const ROLE_ACTIONS: [Action; 3] = [Action::ReadDirectory, Action::ManageUsers, Action::ReadBilling];

impl MGrant {
    /// D4: ACTIVE and before its end, or auto-extending.
    fn in_force(&self, now: i64) -> bool {
        self.state == G_ACTIVE && (self.auto_extend || self.end.is_none_or(|end| now < end))
    }

    /// G4: it leaves ACTIVE for `cause`, or, already past its end, as
    /// EXPIRED (the sweep's record, whenever it runs).
    fn end_as(&mut self, state: i32, cause: i32, now: i64) {
        (self.state, self.cause) = if self.in_force(now) {
            (state, cause)
        } else {
            (G_EXPIRED, EXPIRED)
        };
    }
}

impl Model {
    fn transacting(&self, p: usize, c: usize) -> bool {
        self.relationships.iter().any(|r| {
            r.active
                && r.partner == p
                && r.customer == c
                && match r.kind {
                    RESELLER => true,
                    INDIRECT => r
                        .provider
                        .is_some_and(|provider| self.partners[provider].active && self.links.contains(&(provider, p))),
                    _ => false,
                }
        })
    }

    /// L5: an INDIRECT_RESELLER relationship whose pair has had no link
    /// for 30 days counts as ended, before the sweep records it.
    fn handed_over(&self, r: &MRelationship) -> bool {
        r.kind == INDIRECT
            && r.provider.is_some_and(|provider| {
                !self.links.contains(&(provider, r.partner))
                    && self
                        .unlinked_at
                        .get(&(provider, r.partner))
                        .is_some_and(|at| self.now >= at + 30 * DAY)
            })
    }

    /// A relationship every decision counts (L5).
    fn counts(&self, r: &MRelationship) -> bool {
        r.active && !self.handed_over(r)
    }

    /// L5: the partner's only relationships on the customer are handed
    /// over, and its DAP with them.
    fn dap_handed_over(&self, p: usize, c: usize) -> bool {
        let mine = || {
            self.relationships
                .iter()
                .filter(|r| r.active && r.partner == p && r.customer == c)
        };
        mine().any(|r| self.handed_over(r)) && !mine().any(|r| self.counts(r))
    }

    /// A grant in force for `p` on `c` (for the service, if given) whose
    /// roles allow the action, if given (R1), unless L5 handed it over.
    fn has_grant(&self, p: usize, c: usize, service: Option<&str>, action: Option<Action>) -> bool {
        !self.dap_handed_over(p, c)
            && self.grants.iter().any(|g| {
                g.in_force(self.now)
                    && g.partner == p
                    && g.customer == c
                    && service.is_none_or(|s| g.service == s)
                    && action.is_none_or(|a| g.roles.iter().any(|r| role_allows(*r, a)))
            })
    }

    /// R7 without a user: the reason of a READ_DIRECTORY, MANAGE_USERS or
    /// READ_BILLING check.
    fn role_reason(&self, p: usize, c: usize, action: Action, service: &str) -> Reason {
        if !self.partners[p].active {
            Reason::PartnerNotActive
        } else if !self.view(p, c) {
            Reason::NoRelationship
        } else if self.has_grant(p, c, Some(service), Some(action)) {
            Reason::DelegatedAdmin
        } else if self.has_grant(p, c, Some(service), None) {
            Reason::RoleNotGranted
        } else {
            Reason::NoDelegatedAdmin
        }
    }

    fn view(&self, p: usize, c: usize) -> bool {
        self.partners[p].active
            && (self
                .relationships
                .iter()
                .any(|r| self.counts(r) && r.partner == p && r.customer == c)
                || self.has_grant(p, c, None, None))
    }

    fn allowed(&self, p: usize, c: usize, action: Action, service: &str, subscription: Option<&MSubscription>) -> bool {
        if !self.view(p, c) {
            return false;
        }
        match action {
            Action::View => true,
            Action::Sell => self.transacting(p, c),
            Action::Provision | Action::Support => self.has_grant(p, c, Some(service), Some(action)),
            Action::ReadDirectory | Action::ManageUsers | Action::ReadBilling => {
                self.has_grant(p, c, Some(service), Some(action))
            }
            Action::ManageSubscription => subscription
                .is_some_and(|s| s.customer == c && s.partner_of_record == Some(p) && self.transacting(p, c)),
            Action::Unspecified => false,
        }
    }

    /// A grant for `p` on a service: its own one in force replaced in
    /// place, or a new one (one past its end recorded EXPIRED first).
    fn put_grant(
        &mut self,
        c: usize,
        p: usize,
        service: &'static str,
        roles: Vec<i32>,
        end: Option<i64>,
        auto_extend: bool,
    ) {
        let now = self.now;
        let notice = notice_mark(end, auto_extend, now);
        let scopes = scopes_of(&roles);
        let found = (self.grants.iter())
            .position(|g| g.state == G_ACTIVE && g.customer == c && g.partner == p && g.service == service);
        match found {
            Some(i) if self.grants[i].in_force(now) => {
                // R3: a replacement in place keeps the assignments, stripped
                // of the roles it no longer holds.
                self.strip(i, &roles);
                let existing = &mut self.grants[i];
                (
                    existing.roles,
                    existing.scopes,
                    existing.end,
                    existing.auto_extend,
                    existing.notice,
                ) = (roles, scopes, end, auto_extend, notice);
            }
            found => {
                if let Some(i) = found {
                    self.grants[i].end_as(G_EXPIRED, EXPIRED, now);
                }
                self.grants.push(MGrant {
                    customer: c,
                    partner: p,
                    service,
                    roles,
                    scopes,
                    state: G_ACTIVE,
                    cause: 0,
                    end,
                    auto_extend,
                    notice,
                });
            }
        }
    }

    /// D4, G2, T2: what a sweep records at `now`: the notices due, the
    /// expiries and extensions, the transfers past their 30 days.
    fn sweep(&mut self) {
        let now = self.now;
        for g in self.grants.iter_mut().filter(|g| g.state == G_ACTIVE) {
            match g.end {
                Some(end) if end <= now && g.auto_extend => g.end = Some(extended(end, now)),
                Some(end) if end <= now => g.end_as(G_EXPIRED, EXPIRED, now),
                _ => {
                    let mark = notice_mark(g.end, g.auto_extend, now);
                    if mark != 0 && (g.notice == 0 || mark < g.notice) {
                        g.notice = mark;
                    }
                }
            }
        }
        for t in self.transfers.iter_mut() {
            t.state = t.effective(now);
        }
        // L5: the chains handed over end, and their DAP unless another
        // relationship of the reseller's own stands.
        let handed: Vec<usize> = (0..self.relationships.len())
            .filter(|&i| self.relationships[i].active && self.handed_over(&self.relationships[i]))
            .collect();
        for i in handed {
            self.relationships[i].active = false;
            let (p, c) = (self.relationships[i].partner, self.relationships[i].customer);
            if !self
                .relationships
                .iter()
                .any(|r| r.active && r.partner == p && r.customer == c)
            {
                for g in self
                    .grants
                    .iter_mut()
                    .filter(|g| g.state == G_ACTIVE && g.partner == p && g.customer == c)
                {
                    g.end_as(G_REVOKED, RELATIONSHIP_ENDED, now);
                }
            }
        }
    }

    /// G1: the (partner, service) of the customer's grants in force whose
    /// effective end is within `days` days.
    fn expiring(&self, c: usize, days: i64) -> Vec<(usize, &'static str)> {
        let until = self.now + days * DAY;
        let mut found: Vec<(usize, &'static str)> = self
            .grants
            .iter()
            .filter(|g| g.customer == c && g.in_force(self.now))
            .filter(|g| {
                g.end.is_some_and(|end| {
                    let effective = if g.auto_extend { extended(end, self.now) } else { end };
                    effective <= until
                })
            })
            .map(|g| (g.partner, g.service))
            .collect();
        found.sort();
        found
    }

    /// D2 with `winner` as the newest transacting holder.
    fn enforce(&mut self, c: usize, winner: usize, services: &[&'static str]) {
        if !self.transacting(winner, c) {
            return;
        }
        for service in services {
            if !self.has_grant(winner, c, Some(service), None) {
                continue;
            }
            let losers: Vec<usize> = (0..self.grants.len())
                .filter(|&i| {
                    let g = &self.grants[i];
                    g.in_force(self.now)
                        && g.customer == c
                        && g.service == *service
                        && g.partner != winner
                        && self.transacting(g.partner, c)
                })
                .collect();
            for i in losers {
                self.grants[i].end_as(G_SUPERSEDED, SUPERSEDED, self.now);
            }
        }
    }

    fn services_held(&self, p: usize, c: usize) -> Vec<&'static str> {
        self.grants
            .iter()
            .filter(|g| g.state == G_ACTIVE && g.partner == p && g.customer == c)
            .map(|g| g.service)
            .collect()
    }

    /// R5, R6: an assignment's end cause (0: ACTIVE). One its own ending
    /// did not end is ended with its grant (GRANT_ENDED).
    fn cause_of(&self, a: &MAssignment) -> i32 {
        match a.ended {
            0 if self.grants[a.grant].state != G_ACTIVE => A_GRANT_ENDED,
            cause => cause,
        }
    }

    fn assignment_active(&self, a: &MAssignment) -> bool {
        self.cause_of(a) == 0
    }

    /// R3: the grant keeps only `kept`; its ACTIVE assignments lose the
    /// others, and those left with none end (ROLES_REMOVED).
    fn strip(&mut self, grant: usize, kept: &[i32]) {
        let active: Vec<usize> = (0..self.assignments.len())
            .filter(|&i| self.assignments[i].grant == grant && self.assignment_active(&self.assignments[i]))
            .collect();
        for i in active {
            let a = &mut self.assignments[i];
            a.roles.retain(|r| kept.contains(r));
            if a.roles.is_empty() {
                a.ended = A_ROLES_REMOVED;
            }
        }
    }

    /// R4: a deleted group's ACTIVE assignments end (GROUP_DELETED).
    fn delete_group(&mut self, group: usize) {
        self.groups[group].deleted = true;
        let active: Vec<usize> = (0..self.assignments.len())
            .filter(|&i| {
                self.assignments[i].principal == MPrincipal::Group(group)
                    && self.assignment_active(&self.assignments[i])
            })
            .collect();
        for i in active {
            self.assignments[i].ended = A_GROUP_DELETED;
        }
    }

    /// R7 with a user, as the rule reads: A1 decides for the partner; what
    /// a relationship allows it (VIEW, SELL) its users have; what only
    /// grants allow needs an ACTIVE assignment reaching the user (directly,
    /// or through a group it is in now) on a grant in force for the
    /// customer (and the service, but for VIEW) whose roles allow the
    /// action (VIEW: any role).
    fn user_decision(&self, p: usize, c: usize, user: &str, action: Action, service: &str) -> UserDecision {
        if !self.allowed(p, c, action, service, None) {
            return UserDecision::PartnerDenied;
        }
        let related = (self.relationships.iter()).any(|r| self.counts(r) && r.partner == p && r.customer == c);
        if action == Action::Sell || (action == Action::View && related) {
            return UserDecision::ByPartner;
        }
        let reaches = |a: &MAssignment| match &a.principal {
            MPrincipal::User(id) => id == user,
            MPrincipal::Group(g) => !self.groups[*g].deleted && self.groups[*g].members.contains(user),
        };
        let mut reaching = false;
        let mut allowing: Vec<(&MAssignment, i32)> = Vec::new();
        for a in self.assignments.iter().filter(|a| self.assignment_active(a)) {
            let g = &self.grants[a.grant];
            let on_such_a_grant = g.in_force(self.now)
                && g.partner == p
                && g.customer == c
                && (action == Action::View || g.service == service)
                && !self.dap_handed_over(p, c);
            if !on_such_a_grant || !reaches(a) {
                continue;
            }
            reaching = true;
            if let Some(role) = (a.roles.iter().copied())
                .filter(|r| action == Action::View || role_allows(*r, action))
                .min()
            {
                allowing.push((a, role));
            }
        }
        allowing.sort_by(|x, y| x.0.id.cmp(&y.0.id));
        match allowing.first() {
            Some((chosen, role)) => UserDecision::Assigned {
                role: *role,
                group: match chosen.principal {
                    MPrincipal::Group(g) => Some(self.groups[g].id.clone()),
                    MPrincipal::User(_) => None,
                },
                assignments: allowing.iter().map(|(a, _)| a.id.clone()).collect(),
            },
            None if reaching => UserDecision::RoleNotAssigned,
            None => UserDecision::UserNotAssigned,
        }
    }

    fn ensure_relationship(&mut self, c: usize, p: usize, kind: i32, provider: Option<usize>) {
        let exists = self
            .relationships
            .iter()
            .any(|r| r.active && r.customer == c && r.partner == p && r.kind == kind && r.provider == provider);
        if !exists {
            self.relationships.push(MRelationship {
                customer: c,
                partner: p,
                kind,
                provider,
                active: true,
            });
        }
    }
}

fn scope_set(rng: &mut Rng) -> Vec<i32> {
    match rng.below(3) {
        0 => vec![Scope::Provisioning as i32],
        1 => vec![Scope::Support as i32],
        _ => vec![Scope::Provisioning as i32, Scope::Support as i32],
    }
}

/// R1: a random non-empty set of distinct roles, in a random order;
/// GLOBAL_ADMIN among them only if `global` allows it.
fn role_set(rng: &mut Rng, global: bool) -> Vec<i32> {
    let mut roles: Vec<i32> = (1..=6)
        .filter(|r| (global || *r != Role::GlobalAdmin as i32) && rng.chance(35))
        .collect();
    if roles.is_empty() {
        roles.push(1 + rng.below(5) as i32);
    }
    if roles.len() > 1 && rng.chance(50) {
        roles.reverse();
    }
    roles
}

/// R1: what a request asks for: roles (sometimes GLOBAL_ADMIN, if
/// `global`) or scopes alone, as (scopes, roles) of the request and the
/// grant's roles, sorted.
fn asked_dap(rng: &mut Rng, global: bool) -> (Vec<i32>, Vec<i32>, Vec<i32>) {
    if rng.chance(50) {
        let scopes = scope_set(rng);
        let roles = roles_of_scopes(&scopes);
        (scopes, Vec::new(), roles)
    } else {
        let asked = role_set(rng, global);
        let mut roles = asked.clone();
        roles.sort();
        (Vec::new(), asked, roles)
    }
}

struct Run {
    server: TestServer,
    clock: Arc<ManualClock>,
    model: Model,
    rng: Rng,
    log: Vec<String>,
}

impl Run {
    fn pick_partner(&mut self, kinds: &[Kind]) -> usize {
        let candidates: Vec<usize> = (0..self.model.partners.len())
            .filter(|&i| kinds.contains(&self.model.partners[i].kind))
            .collect();
        candidates[self.rng.below(candidates.len())]
    }

    /// Runs a call and checks that it succeeded exactly when the model says.
    fn expect<T: std::fmt::Debug>(&self, what: &str, expected_ok: bool, result: &Result<T, tonic::Status>) {
        assert_eq!(
            result.is_ok(),
            expected_ok,
            "{what}: the model expected {}, the server said {result:?}\nsteps:\n{}",
            if expected_ok { "success" } else { "refusal" },
            self.log.join("\n")
        );
    }

    async fn step(&mut self) {
        let model = &self.model;
        let c = self.rng.below(model.customers.len());
        match self.rng.below(25) {
            0 => {
                // P2: link or unlink a provider and a reseller.
                let provider = self.pick_partner(&[Kind::IndirectProvider]);
                let reseller = self.pick_partner(&[Kind::IndirectReseller]);
                let (pid, rid) = (
                    self.model.partners[provider].id.clone(),
                    self.model.partners[reseller].id.clone(),
                );
                if self.model.links.contains(&(provider, reseller)) {
                    self.log.push(format!("unlink p{provider} r{reseller}"));
                    self.server.unlink(&pid, &rid).await;
                    self.model.links.remove(&(provider, reseller));
                    self.model.unlinked_at.insert((provider, reseller), self.model.now);
                } else {
                    self.log.push(format!("link p{provider} r{reseller}"));
                    let ok = self.model.partners[provider].active && self.model.partners[reseller].active;
                    let result = self
                        .server
                        .partners(&operator())
                        .link_indirect_reseller(pb::LinkIndirectResellerRequest {
                            provider_id: pid,
                            reseller_id: rid,
                            request_id: String::new(),
                            ..Default::default()
                        })
                        .await;
                    self.expect("link", ok, &result);
                    if ok {
                        self.model.links.insert((provider, reseller));
                        let customers: Vec<usize> = (0..self.model.customers.len())
                            .filter(|&c| {
                                self.model.relationships.iter().any(|r| {
                                    r.active && r.partner == reseller && r.provider == Some(provider) && r.customer == c
                                })
                            })
                            .collect();
                        for c in customers {
                            let services = self.model.services_held(reseller, c);
                            self.model.enforce(c, reseller, &services);
                        }
                    }
                }
            }
            1 => {
                // P3, P4: suspend or reinstate.
                let p = self.rng.below(self.model.partners.len());
                let activate = !self.model.partners[p].active;
                self.log
                    .push(format!("{} p{p}", if activate { "reinstate" } else { "suspend" }));
                let status = if activate {
                    pb::partner::Status::Active
                } else {
                    pb::partner::Status::Suspended
                };
                self.server
                    .set_partner_status(&self.model.partners[p].id.clone(), status)
                    .await;
                self.model.partners[p].active = activate;
                if activate && self.model.partners[p].kind == Kind::IndirectProvider {
                    let resellers: Vec<usize> = self
                        .model
                        .links
                        .iter()
                        .filter(|(provider, _)| *provider == p)
                        .map(|(_, r)| *r)
                        .collect();
                    for reseller in resellers {
                        for c in 0..self.model.customers.len() {
                            let served =
                                self.model.relationships.iter().any(|r| {
                                    r.active && r.partner == reseller && r.provider == Some(p) && r.customer == c
                                });
                            if served {
                                let services = self.model.services_held(reseller, c);
                                self.model.enforce(c, reseller, &services);
                            }
                        }
                    }
                }
            }
            2..=4 => self.invite_and_accept(c).await,
            5..=6 => {
                // D1: the customer's admin grants, unasked; now and then
                // anew to a holder whose grant is past its end but not yet
                // swept (G4: that one is recorded EXPIRED, not replaced).
                let now = self.model.now;
                let lapsed: Vec<(usize, &'static str)> = (self.model.grants.iter())
                    .filter(|g| g.customer == c && g.state == G_ACTIVE && !g.in_force(now))
                    .map(|g| (g.partner, g.service))
                    .collect();
                let (p, service) = if !lapsed.is_empty() && self.rng.chance(50) {
                    lapsed[self.rng.below(lapsed.len())]
                } else {
                    let p = self.pick_partner(&[
                        Kind::DirectReseller,
                        Kind::IndirectProvider,
                        Kind::IndirectReseller,
                        Kind::Advisor,
                    ]);
                    (p, SERVICES[self.rng.below(SERVICES.len())])
                };
                // R1: roles (GLOBAL_ADMIN among them now and then) or scopes.
                let (scopes, asked, roles) = asked_dap(&mut self.rng, true);
                // D1: no end, or 1 to 40 days, auto-extending one time in three.
                let days = if self.rng.chance(25) {
                    0
                } else {
                    1 + self.rng.below(40) as i32
                };
                let auto_extend = days > 0 && self.rng.chance(33);
                self.log.push(format!(
                    "grant c{c} p{p} {service} scopes={scopes:?} roles={asked:?} days={days} auto={auto_extend}"
                ));
                // R2: GLOBAL_ADMIN only with an end and no auto_extend.
                let global_ok = !roles.contains(&(Role::GlobalAdmin as i32)) || (days > 0 && !auto_extend);
                let ok = global_ok && self.model.partners[p].kind != Kind::Advisor && self.model.partners[p].active;
                let result = self
                    .server
                    .relationships(&customer(&self.model.customers[c]))
                    .grant_delegated_admin(pb::GrantDelegatedAdminRequest {
                        partner_id: self.model.partners[p].id.clone(),
                        service: service.into(),
                        scopes,
                        roles: asked,
                        duration_days: days,
                        auto_extend,
                        ..Default::default()
                    })
                    .await;
                self.expect("grant", ok, &result);
                if !global_ok {
                    assert_eq!(
                        reason(&result.expect_err("refused")),
                        "GLOBAL_ADMIN_NOT_EXTENDABLE",
                        "steps:\n{}",
                        self.log.join("\n")
                    );
                } else if ok {
                    let end = (days > 0).then(|| self.model.now + i64::from(days) * DAY);
                    self.model.put_grant(c, p, service, roles, end, auto_extend);
                    self.model.enforce(c, p, &[service]);
                }
            }
            7 => {
                // D3: the customer's admin revokes one of its ACTIVE grants.
                let listed = self.list(c).await;
                let active: Vec<pb::DelegatedAdminGrant> =
                    listed.1.into_iter().filter(|g| g.state == G_ACTIVE).collect();
                if active.is_empty() {
                    return;
                }
                // Now and then one past its end, not yet swept (G4).
                let now = self.model.now;
                let lapsed: Vec<&pb::DelegatedAdminGrant> = (active.iter())
                    .filter(|g| {
                        !g.auto_extend && crate::delegated_admin::micros(&g.end_time).is_some_and(|end| end <= now)
                    })
                    .collect();
                let grant = if !lapsed.is_empty() && self.rng.chance(50) {
                    lapsed[self.rng.below(lapsed.len())]
                } else {
                    &active[self.rng.below(active.len())]
                };
                let p = self.index_of(&grant.partner_id);
                self.log.push(format!("revoke c{c} p{p} {}", grant.service));
                self.server
                    .relationships(&customer(&self.model.customers[c]))
                    .revoke_delegated_admin(pb::RevokeDelegatedAdminRequest {
                        grant_id: grant.id.clone(),
                        note: String::new(),
                    })
                    .await
                    .unwrap();
                if let Some(g) =
                    self.model.grants.iter_mut().find(|g| {
                        g.state == G_ACTIVE && g.customer == c && g.partner == p && g.service == grant.service
                    })
                {
                    g.end_as(G_REVOKED, CUSTOMER_REVOKED, self.model.now);
                }
            }
            8 => {
                // M3: the operator ends a partner's RESELLER relationship.
                let p = self.pick_partner(&[Kind::DirectReseller, Kind::IndirectProvider]);
                self.log.push(format!("end c{c} p{p}"));
                let has = self
                    .model
                    .relationships
                    .iter()
                    .any(|r| r.active && r.customer == c && r.partner == p && r.kind == RESELLER);
                let blocked = self
                    .model
                    .subscriptions
                    .iter()
                    .any(|s| s.active && s.customer == c && s.partner_of_record == Some(p));
                let result = self
                    .server
                    .relationships(&operator())
                    .end_reseller_relationship(pb::EndResellerRelationshipRequest {
                        customer_id: self.model.customers[c].clone(),
                        partner_id: self.model.partners[p].id.clone(),
                    })
                    .await;
                self.expect("end relationship", has && !blocked, &result);
                if has && !blocked {
                    let mut ended_resellers = Vec::new();
                    for r in self.model.relationships.iter_mut() {
                        if r.active && r.customer == c && r.partner == p && r.kind == RESELLER {
                            r.active = false;
                        }
                        if r.active && r.customer == c && r.kind == INDIRECT && r.provider == Some(p) {
                            r.active = false;
                            ended_resellers.push(r.partner);
                        }
                    }
                    // A reseller keeps its DAP while another relationship of
                    // its own still stands on the customer.
                    ended_resellers.retain(|r| {
                        !self
                            .model
                            .relationships
                            .iter()
                            .any(|x| x.active && x.customer == c && x.partner == *r)
                    });
                    let now = self.model.now;
                    for g in self.model.grants.iter_mut() {
                        if g.state == G_ACTIVE
                            && g.customer == c
                            && (g.partner == p || ended_resellers.contains(&g.partner))
                        {
                            g.end_as(G_REVOKED, RELATIONSHIP_ENDED, now);
                        }
                    }
                }
            }
            9 => {
                // S2: a partner sells a CSP subscription as partner of record.
                let p = self.pick_partner(&[Kind::DirectReseller, Kind::IndirectProvider, Kind::IndirectReseller]);
                self.log.push(format!("sell c{c} p{p}"));
                let ok = self.model.partners[p].active
                    && self.model.partners[p].kind != Kind::IndirectReseller
                    && self.model.transacting(p, c);
                let result = self
                    .server
                    .create_subscription(
                        &partner(&self.model.partners[p].id),
                        csp_subscription(&self.model.customers[c], ""),
                    )
                    .await;
                self.expect("sell", ok, &result);
                if let Ok(subscription) = result {
                    self.model.subscriptions.push(MSubscription {
                        id: subscription.id,
                        customer: c,
                        partner_of_record: Some(p),
                        active: true,
                    });
                }
            }
            11 | 15 => self.propose_transfer().await,
            12 | 16 => self.decide_transfer().await,
            13 | 17 => self.time_passes().await,
            14 => self.update_grant(c).await,
            18 | 19 => self.change_group().await,
            20 | 21 | 23 => self.assign(c).await,
            22 | 24 => self.change_assignment().await,
            _ => {
                // The operator cancels a subscription (which unblocks M3).
                let active: Vec<usize> = (0..self.model.subscriptions.len())
                    .filter(|&i| self.model.subscriptions[i].active)
                    .collect();
                if active.is_empty() {
                    return;
                }
                let i = active[self.rng.below(active.len())];
                self.log.push(format!("cancel s{i}"));
                self.server
                    .customers(&operator())
                    .update_subscription(pb::UpdateSubscriptionRequest {
                        subscription: Some(pb::Subscription {
                            id: self.model.subscriptions[i].id.clone(),
                            status: pb::subscription::Status::Cancelled as i32,
                            ..Default::default()
                        }),
                        update_mask: mask(&["status"]),
                    })
                    .await
                    .unwrap();
                self.model.subscriptions[i].active = false;
            }
        }
    }

    /// T1: a partner proposes to take over one subscription of the customer.
    async fn propose_transfer(&mut self) {
        // What was bought directly is what transfers most often move: the
        // operator records a DIRECT subscription first, every other time.
        if self.model.subscriptions.is_empty() || self.rng.below(2) == 0 {
            let c = self.rng.below(self.model.customers.len());
            self.log.push(format!("record direct c{c}"));
            let recorded = self
                .server
                .create_subscription(
                    &operator(),
                    pb::Subscription {
                        channel: pb::subscription::Channel::Direct as i32,
                        ..csp_subscription(&self.model.customers[c], "")
                    },
                )
                .await
                .unwrap();
            self.model.subscriptions.push(MSubscription {
                id: recorded.id,
                customer: c,
                partner_of_record: None,
                active: true,
            });
        }
        let model = &self.model;
        let takers_of = |i: usize| -> Vec<usize> {
            (0..model.partners.len())
                .filter(|&p| {
                    matches!(model.partners[p].kind, Kind::DirectReseller | Kind::IndirectProvider)
                        && model.partners[p].active
                        && model.subscriptions[i].active
                        && model.transacting(p, model.subscriptions[i].customer)
                        && model.subscriptions[i].partner_of_record != Some(p)
                })
                .collect()
        };
        // Mostly a subscription someone could take over, by such a partner;
        // sometimes any subscription, by any partner.
        let movable: Vec<usize> = (0..model.subscriptions.len())
            .filter(|&i| !takers_of(i).is_empty())
            .collect();
        let i = if !movable.is_empty() && self.rng.below(3) > 0 {
            movable[self.rng.below(movable.len())]
        } else {
            self.rng.below(model.subscriptions.len())
        };
        let takers = takers_of(i);
        let c = self.model.subscriptions[i].customer;
        let p = if !takers.is_empty() && self.rng.below(3) > 0 {
            takers[self.rng.below(takers.len())]
        } else {
            self.pick_partner(&[
                Kind::DirectReseller,
                Kind::IndirectProvider,
                Kind::IndirectReseller,
                Kind::Advisor,
            ])
        };
        self.log.push(format!("propose c{c} s{i} to p{p}"));
        let model = &self.model;
        let subscription = &model.subscriptions[i];
        let ok = matches!(model.partners[p].kind, Kind::DirectReseller | Kind::IndirectProvider)
            && model.partners[p].active
            && model.transacting(p, c)
            && subscription.active
            && subscription.partner_of_record != Some(p)
            && !model
                .transfers
                .iter()
                .any(|t| t.effective(model.now) == T_PENDING && t.proposer == p && t.subscription == i);
        let result = self
            .server
            .customers(&partner(&model.partners[p].id))
            .create_transfer(pb::CreateTransferRequest {
                customer_id: model.customers[c].clone(),
                subscription_ids: vec![subscription.id.clone()],
                partner_of_record_id: String::new(),
                request_id: String::new(),
            })
            .await;
        self.expect("propose", ok, &result);
        if let Ok(reply) = result {
            let snapshot = (subscription.partner_of_record, subscription.active);
            self.model.transfers.push(MTransfer {
                id: reply.into_inner().id,
                customer: c,
                proposer: p,
                subscription: i,
                snapshot,
                state: T_PENDING,
                expire: self.model.now + 30 * DAY,
            });
        }
    }

    /// T2: the customer's admin accepts (two times in three) or rejects a
    /// pending transfer. An acceptance completes exactly when its proposer
    /// is ACTIVE and transacting and the subscription is as proposed.
    async fn decide_transfer(&mut self) {
        let pending: Vec<usize> = (0..self.model.transfers.len())
            .filter(|&t| self.model.transfers[t].pending())
            .collect();
        if pending.is_empty() {
            return;
        }
        let t = pending[self.rng.below(pending.len())];
        let transfer = self.model.transfers[t].clone();
        let admin = customer(&self.model.customers[transfer.customer]);
        // T2: past its 30 days it is EXPIRED for every decision, swept or not.
        let in_time = self.model.now < transfer.expire;
        if self.rng.below(3) == 0 {
            self.log.push(format!("reject transfer {t}"));
            let result = self
                .server
                .customers(&admin)
                .reject_transfer(pb::RejectTransferRequest {
                    id: transfer.id.clone(),
                    etag: String::new(),
                })
                .await;
            self.expect("reject transfer", in_time, &result);
            self.model.transfers[t].state = if in_time { T_REJECTED } else { T_EXPIRED };
            return;
        }
        self.log.push(format!("accept transfer {t}"));
        let model = &self.model;
        let subscription = &model.subscriptions[transfer.subscription];
        let ok = in_time
            && model.partners[transfer.proposer].active
            && model.transacting(transfer.proposer, transfer.customer)
            && (subscription.partner_of_record, subscription.active) == transfer.snapshot;
        let result = self
            .server
            .customers(&admin)
            .accept_transfer(pb::AcceptTransferRequest {
                id: transfer.id.clone(),
                etag: String::new(),
            })
            .await;
        self.expect("accept transfer", ok, &result);
        if ok {
            self.model.subscriptions[transfer.subscription].partner_of_record = Some(transfer.proposer);
            self.model.transfers[t].state = T_COMPLETED;
        }
        if !in_time {
            self.model.transfers[t].state = T_EXPIRED;
        }
    }

    /// D4, T2: the clock moves on, by hours to a month; a third of the time a
    /// sweep then records what the clock decided (G2's notices too).
    async fn time_passes(&mut self) {
        const STEPS: [i64; 6] = [DAY / 4, DAY, 3 * DAY, 8 * DAY, 23 * DAY, 31 * DAY];
        // Half the time to the next deadline (a grant's end or notice mark,
        // a transfer's expiry), a microsecond either side or exactly on it:
        // the edges are where a rule is off by one.
        let now = self.model.now;
        let next_deadline = self
            .model
            .grants
            .iter()
            .filter(|g| g.state == G_ACTIVE)
            .filter_map(|g| g.end)
            .flat_map(|end| [end, end - DAY, end - 7 * DAY, end - 30 * DAY])
            .chain(self.model.transfers.iter().filter(|t| t.pending()).map(|t| t.expire))
            .filter(|at| *at > now + 1)
            .min();
        let by = match next_deadline {
            Some(at) if self.rng.chance(50) => at - now + self.rng.below(3) as i64 - 1,
            _ => STEPS[self.rng.below(STEPS.len())],
        };
        let sweep = self.rng.chance(35);
        self.log.push(format!("time +{by}us sweep={sweep}"));
        self.clock.advance(by);
        self.model.now += by;
        if sweep {
            self.server.server.store().sweep().await.expect("sweep");
            self.model.sweep();
        }
    }

    /// G3: the customer's admin gives one of its grants a new end and/or
    /// turns auto_extend on or off, with the etag it just read. Refused for
    /// a grant not in force, and for auto_extend without an end.
    async fn update_grant(&mut self, c: usize) {
        let (_, listed) = self.list(c).await;
        if listed.is_empty() {
            return;
        }
        let grant = listed[self.rng.below(listed.len())].clone();
        let p = self.index_of(&grant.partner_id);
        let days = 1 + self.rng.below(40) as i64;
        let (end, auto) = match self.rng.below(5) {
            0 => (Some(self.model.now + days * DAY), None),
            1 => (None, Some(true)),
            2 => (None, Some(false)),
            3 => (None, None),
            _ => (Some(self.model.now + days * DAY), Some(true)),
        };
        // R3: now and then (always when the term stays) the roles it keeps:
        // some of its own, or one it does not hold.
        let kept: Option<Vec<i32>> = ((end.is_none() && auto.is_none()) || self.rng.chance(25)).then(|| {
            let mut kept: Vec<i32> = grant.roles.iter().copied().filter(|_| self.rng.chance(60)).collect();
            if kept.is_empty() {
                kept.push(grant.roles[self.rng.below(grant.roles.len())]);
            }
            if self.rng.chance(20) {
                kept.push(1 + self.rng.below(6) as i32);
                kept.sort();
                kept.dedup();
            }
            kept
        });
        self.log.push(format!(
            "update c{c} p{p} {} end+{days}d={} auto={auto:?} roles={kept:?}",
            grant.service,
            end.is_some()
        ));
        let mut paths = Vec::new();
        if end.is_some() {
            paths.push("end_time");
        }
        if auto.is_some() {
            paths.push("auto_extend");
        }
        if kept.is_some() {
            paths.push("roles");
        }
        let now = self.model.now;
        let found = self
            .model
            .grants
            .iter()
            .position(|g| g.in_force(now) && g.customer == c && g.partner == p && g.service == grant.service);
        let found = found.filter(|_| grant.state == G_ACTIVE);
        let term = found.map(|i| {
            let g = &self.model.grants[i];
            let auto_extend = auto.unwrap_or(g.auto_extend);
            let new_end = match (end, auto) {
                (Some(end), _) => Some(end),
                (None, Some(false)) if g.auto_extend => g.end.map(|e| extended(e, now)),
                (None, _) => g.end,
            };
            (new_end, auto_extend)
        });
        // R3: only roles the grant holds; R2: GLOBAL_ADMIN kept only with an
        // end and no auto_extend.
        let roles = found.map(|i| kept.clone().unwrap_or_else(|| self.model.grants[i].roles.clone()));
        let subset = found
            .zip(roles.as_ref())
            .is_some_and(|(i, roles)| roles.iter().all(|r| self.model.grants[i].roles.contains(r)));
        let ok = subset
            && term.is_some_and(|(end, auto_extend)| {
                (!auto_extend || end.is_some())
                    && (!roles.as_ref().is_some_and(|r| r.contains(&(Role::GlobalAdmin as i32)))
                        || (end.is_some() && !auto_extend))
            });
        let result = self
            .server
            .relationships(&customer(&self.model.customers[c]))
            .update_delegated_admin(pb::UpdateDelegatedAdminRequest {
                grant: Some(pb::DelegatedAdminGrant {
                    id: grant.id.clone(),
                    etag: grant.etag.clone(),
                    end_time: end.and_then(crate::delegated_admin::ts),
                    auto_extend: auto.unwrap_or(false),
                    roles: kept.clone().unwrap_or_default(),
                    ..Default::default()
                }),
                update_mask: mask(&paths),
            })
            .await;
        self.expect("update grant", ok, &result);
        if let (true, Some(i), Some((new_end, auto_extend)), Some(roles)) = (ok, found, term, roles) {
            let g = &mut self.model.grants[i];
            // E1: no change, nothing recorded (the notice mark too).
            if (new_end, auto_extend) != (g.end, g.auto_extend) {
                (g.end, g.auto_extend, g.notice) = (new_end, auto_extend, notice_mark(new_end, auto_extend, now));
            }
            (g.scopes, g.roles) = (scopes_of(&roles), roles.clone());
            self.model.strip(i, &roles);
        }
    }

    /// A random set of the users, maybe empty.
    fn some_users(&mut self) -> Vec<String> {
        USERS
            .iter()
            .filter(|_| self.rng.chance(50))
            .map(|u| u.to_string())
            .collect()
    }

    /// R4: a partner makes a group, sets a group's members, or deletes a
    /// group (ending its assignments); refused while it is suspended (P4).
    async fn change_group(&mut self) {
        let p = self.rng.below(self.model.partners.len());
        let who = partner(&self.model.partners[p].id);
        let ok = self.model.partners[p].active;
        let live: Vec<usize> = (0..self.model.groups.len())
            .filter(|&g| self.model.groups[g].partner == p && !self.model.groups[g].deleted)
            .collect();
        let members = self.some_users();
        let mut relationships = self.server.relationships(&who);
        match self.rng.below(4) {
            choice if live.is_empty() || choice == 0 => {
                self.log.push(format!("group create p{p} {members:?}"));
                let result = relationships
                    .create_security_group(pb::CreateSecurityGroupRequest {
                        security_group: Some(pb::SecurityGroup {
                            display_name: format!("Group of p{p}"),
                            member_user_ids: members.clone(),
                            ..Default::default()
                        }),
                        request_id: String::new(),
                    })
                    .await;
                self.expect("create group", ok, &result);
                if let Ok(created) = result {
                    self.model.groups.push(MGroup {
                        id: created.into_inner().id,
                        partner: p,
                        members: members.into_iter().collect(),
                        deleted: false,
                    });
                }
            }
            1 | 2 => {
                let g = live[self.rng.below(live.len())];
                self.log.push(format!("group members g{g} {members:?}"));
                let result = relationships
                    .update_security_group(pb::UpdateSecurityGroupRequest {
                        security_group: Some(pb::SecurityGroup {
                            id: self.model.groups[g].id.clone(),
                            member_user_ids: members.clone(),
                            ..Default::default()
                        }),
                        update_mask: mask(&["member_user_ids"]),
                    })
                    .await;
                self.expect("set members", ok, &result);
                if ok {
                    self.model.groups[g].members = members.into_iter().collect();
                }
            }
            _ => {
                let g = live[self.rng.below(live.len())];
                self.log.push(format!("group delete g{g}"));
                let result = relationships
                    .delete_security_group(pb::DeleteSecurityGroupRequest {
                        id: self.model.groups[g].id.clone(),
                        etag: String::new(),
                    })
                    .await;
                self.expect("delete group", ok, &result);
                if ok {
                    self.model.delete_group(g);
                }
            }
        }
    }

    /// R5: the grant's partner assigns some of a grant's roles (now and
    /// then one it lacks) to a user or a group (now and then another
    /// partner's, or a deleted one). Refused on a grant not in force, with
    /// a role the grant lacks, for a second ACTIVE assignment to one
    /// principal, and while the partner is suspended (P4).
    async fn assign(&mut self, c: usize) {
        let (_, listed) = self.list(c).await;
        if listed.is_empty() {
            return;
        }
        // Mostly a grant in force (by its state), now and then any.
        let active: Vec<&pb::DelegatedAdminGrant> = listed.iter().filter(|g| g.state == G_ACTIVE).collect();
        let grant = if !active.is_empty() && self.rng.chance(85) {
            active[self.rng.below(active.len())].clone()
        } else {
            listed[self.rng.below(listed.len())].clone()
        };
        let p = self.index_of(&grant.partner_id);
        let mut roles: Vec<i32> = grant.roles.iter().copied().filter(|_| self.rng.chance(50)).collect();
        if roles.is_empty() {
            roles.push(grant.roles[self.rng.below(grant.roles.len())]);
        }
        if self.rng.chance(15) {
            roles.push(1 + self.rng.below(6) as i32);
        }
        roles.sort();
        roles.dedup();
        let groups = self.model.groups.len();
        let own: Vec<usize> = (0..groups)
            .filter(|&g| self.model.groups[g].partner == p && !self.model.groups[g].deleted)
            .collect();
        let principal = match self.rng.below(10) {
            0..=5 => MPrincipal::User(USERS[self.rng.below(USERS.len())].to_owned()),
            6..=8 if !own.is_empty() => MPrincipal::Group(own[self.rng.below(own.len())]),
            _ if groups > 0 => MPrincipal::Group(self.rng.below(groups)),
            _ => MPrincipal::User(USERS[0].to_owned()),
        };
        let now = self.model.now;
        let model = &self.model;
        let index = (grant.state == G_ACTIVE)
            .then(|| {
                (model.grants.iter()).position(|g| {
                    g.state == G_ACTIVE && g.customer == c && g.partner == p && g.service == grant.service
                })
            })
            .flatten();
        let twin = |i: usize| {
            (model.assignments.iter()).any(|a| a.grant == i && a.principal == principal && model.assignment_active(a))
        };
        let ok = model.partners[p].active
            && roles.iter().all(|r| grant.roles.contains(r))
            && match &principal {
                MPrincipal::User(_) => true,
                MPrincipal::Group(g) => model.groups[*g].partner == p && !model.groups[*g].deleted,
            }
            && index.is_some_and(|i| model.grants[i].in_force(now) && !twin(i));
        self.log.push(format!(
            "assign c{c} p{p} {} {principal:?} roles={roles:?}",
            grant.service
        ));
        let result = self
            .server
            .relationships(&partner(&grant.partner_id))
            .create_access_assignment(pb::CreateAccessAssignmentRequest {
                access_assignment: Some(pb::AccessAssignment {
                    grant_id: grant.id.clone(),
                    principal: Some(match &principal {
                        MPrincipal::User(u) => pb::access_assignment::Principal::UserId(u.clone()),
                        MPrincipal::Group(g) => {
                            pb::access_assignment::Principal::SecurityGroupId(self.model.groups[*g].id.clone())
                        }
                    }),
                    roles: roles.clone(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await;
        self.expect("assign", ok, &result);
        if let (Ok(created), Some(i)) = (result, index) {
            self.model.assignments.push(MAssignment {
                id: created.into_inner().id,
                grant: i,
                principal,
                roles,
                ended: 0,
            });
        }
    }

    /// R5: the partner changes an assignment's roles (a subset of its
    /// grant's, the grant in force) or deletes it; now and then the
    /// customer's admin deletes it. An ENDED one is refused either way.
    async fn change_assignment(&mut self) {
        if self.model.assignments.is_empty() {
            return;
        }
        let i = self.rng.below(self.model.assignments.len());
        let a = self.model.assignments[i].clone();
        let g = self.model.grants[a.grant].clone();
        let active = self.model.assignment_active(&a);
        let partner_active = self.model.partners[g.partner].active;
        let by_partner = partner(&self.model.partners[g.partner].id);
        if self.rng.chance(50) {
            let mut roles: Vec<i32> = g.roles.iter().copied().filter(|_| self.rng.chance(50)).collect();
            if roles.is_empty() || self.rng.chance(15) {
                roles.push(1 + self.rng.below(6) as i32);
            }
            roles.sort();
            roles.dedup();
            self.log.push(format!("assignment update a{i} roles={roles:?}"));
            let ok =
                partner_active && active && g.in_force(self.model.now) && roles.iter().all(|r| g.roles.contains(r));
            let result = self
                .server
                .relationships(&by_partner)
                .update_access_assignment(pb::UpdateAccessAssignmentRequest {
                    access_assignment: Some(pb::AccessAssignment {
                        id: a.id.clone(),
                        roles: roles.clone(),
                        ..Default::default()
                    }),
                    update_mask: mask(&["roles"]),
                })
                .await;
            self.expect("update assignment", ok, &result);
            if ok {
                self.model.assignments[i].roles = roles;
            }
        } else {
            let by_admin = self.rng.chance(30);
            let who = if by_admin {
                customer(&self.model.customers[g.customer])
            } else {
                by_partner
            };
            self.log.push(format!("assignment delete a{i} by_admin={by_admin}"));
            let ok = (by_admin || partner_active) && active;
            let result = self
                .server
                .relationships(&who)
                .delete_access_assignment(pb::DeleteAccessAssignmentRequest {
                    id: a.id.clone(),
                    etag: String::new(),
                })
                .await;
            self.expect("delete assignment", ok, &result);
            match result {
                Ok(_) => self.model.assignments[i].ended = A_REMOVED,
                // R5: an ENDED one is refused as such.
                Err(status) if by_admin || partner_active => {
                    assert_eq!(reason(&status), "ASSIGNMENT_NOT_ACTIVE", "{status:?}")
                }
                Err(_) => {}
            }
        }
    }

    /// I1-I7: a partner invites (maybe naming a reseller, maybe with DAP for
    /// some services) and the customer's admin accepts at once.
    async fn invite_and_accept(&mut self, c: usize) {
        let inviter = self.pick_partner(&[Kind::DirectReseller, Kind::IndirectProvider, Kind::IndirectReseller]);
        let reseller = (self.model.partners[inviter].kind == Kind::IndirectProvider && self.rng.chance(60))
            .then(|| self.pick_partner(&[Kind::IndirectReseller]));
        let dap = self.rng.chance(70);
        let services: Vec<&'static str> = if dap {
            SERVICES.iter().copied().filter(|_| self.rng.chance(60)).collect()
        } else {
            Vec::new()
        };
        let services: Vec<&'static str> = if dap && services.is_empty() {
            SERVICES.to_vec()
        } else {
            services
        };
        // R1: roles or scopes, or neither (both scopes' roles); R2: never
        // GLOBAL_ADMIN, which is tried now and then.
        let (scopes, asked, mut roles) = match self.rng.below(3) {
            _ if !dap => (Vec::new(), Vec::new(), Vec::new()),
            0 => (
                Vec::new(),
                Vec::new(),
                roles_of_scopes(&[Scope::Provisioning as i32, Scope::Support as i32]),
            ),
            _ => {
                let global = self.rng.chance(10);
                asked_dap(&mut self.rng, global)
            }
        };
        roles.sort();
        self.log.push(format!(
            "invite p{inviter} reseller={reseller:?} dap={services:?} scopes={scopes:?} roles={asked:?} accept c{c}"
        ));
        let global = roles.contains(&(Role::GlobalAdmin as i32));
        let model = &self.model;
        let ok = !global
            && model.partners[inviter].active
            && model.partners[inviter].kind != Kind::IndirectReseller
            && reseller.is_none_or(|r| model.partners[r].active && model.links.contains(&(inviter, r)));
        let result = self
            .server
            .invite(
                &self.model.partners[inviter].id,
                pb::RelationshipRequest {
                    indirect_reseller_id: reseller.map(|r| self.model.partners[r].id.clone()).unwrap_or_default(),
                    include_delegated_admin: dap,
                    delegated_admin_services: services.iter().map(|s| s.to_string()).collect(),
                    delegated_admin_scopes: scopes.clone(),
                    delegated_admin_roles: asked.clone(),
                    ..Default::default()
                },
            )
            .await;
        self.expect("invite", ok, &result);
        if global {
            assert_eq!(reason(&result.expect_err("refused")), "INVALID_FIELD");
            return;
        }
        let Ok(invitation) = result else { return };
        let accepted = self.server.accept(&self.model.customers[c], &invitation.code).await;
        self.expect("accept", true, &accepted);

        let model = &mut self.model;
        model.ensure_relationship(c, inviter, RESELLER, None);
        if let Some(r) = reseller {
            model.ensure_relationship(c, r, INDIRECT, Some(inviter));
        }
        let grantee = reseller.unwrap_or(inviter);
        for service in &services {
            model.put_grant(c, grantee, service, roles.clone(), None, false);
        }
        let mut parties = vec![inviter];
        parties.extend(reseller);
        parties.retain(|p| *p != grantee);
        parties.push(grantee);
        for party in parties {
            let held = model.services_held(party, c);
            model.enforce(c, party, &held);
        }
    }

    fn index_of(&self, partner_id: &str) -> usize {
        self.model
            .partners
            .iter()
            .position(|p| p.id == partner_id)
            .expect("a known partner")
    }

    async fn list(&self, c: usize) -> (Vec<pb::Relationship>, Vec<pb::DelegatedAdminGrant>) {
        let mut client = self.server.relationships(&customer(&self.model.customers[c]));
        let page = client
            .list_customer_relationships(pb::ListCustomerRelationshipsRequest {
                customer_id: self.model.customers[c].clone(),
                page_size: 1000,
                page_token: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.next_page_token.is_empty());
        (page.relationships, page.delegated_admin_grants)
    }

    /// Every decision and every relationship list agrees with the model.
    async fn compare(&self) {
        let model = &self.model;
        let mut checks = Vec::new();
        let mut expected = Vec::new();
        for p in 0..model.partners.len() {
            for c in 0..model.customers.len() {
                let mut add = |action: Action, service: &str, subscription: Option<&MSubscription>| {
                    checks.push(pb::CheckAccessRequest {
                        partner_id: model.partners[p].id.clone(),
                        customer_id: model.customers[c].clone(),
                        action: action as i32,
                        service: service.into(),
                        subscription_id: subscription.map(|s| s.id.clone()).unwrap_or_default(),
                        user_id: String::new(),
                    });
                    expected.push((
                        p,
                        c,
                        action,
                        service.to_owned(),
                        model.allowed(p, c, action, service, subscription),
                    ));
                };
                add(Action::View, "", None);
                add(Action::Sell, "", None);
                for service in SERVICES {
                    add(Action::Provision, service, None);
                    add(Action::Support, service, None);
                    for action in ROLE_ACTIONS {
                        add(action, service, None);
                    }
                }
                for subscription in model.subscriptions.iter().filter(|s| s.customer == c) {
                    add(Action::ManageSubscription, "", Some(subscription));
                }
            }
        }
        assert_index_decides_as_the_store(&self.server, &checks, &self.log).await;
        let results = self
            .server
            .relationships(&service())
            .batch_check_access(pb::BatchCheckAccessRequest { checks })
            .await
            .unwrap()
            .into_inner()
            .results;
        for (result, (p, c, action, service, allowed)) in results.iter().zip(&expected) {
            assert_eq!(
                result.allowed,
                *allowed,
                "{action:?} {service} for p{p} on c{c}: server {result:?}, model {allowed}\nsteps:\n{}",
                self.log.join("\n")
            );
            // R7: the new actions' reasons too.
            if ROLE_ACTIONS.contains(action) {
                let want = model.role_reason(*p, *c, *action, service);
                assert_eq!(
                    result.reason,
                    want as i32,
                    "{action:?} {service} for p{p} on c{c}: server {result:?}, model {want:?}\nsteps:\n{}",
                    self.log.join("\n")
                );
            }
        }

        self.compare_users().await;

        for c in 0..model.customers.len() {
            let (relationships, grants) = self.list(c).await;
            let listed: Vec<MRelationship> = relationships
                .iter()
                .map(|r| MRelationship {
                    customer: c,
                    partner: self.index_of(&r.partner_id),
                    kind: r.kind,
                    provider: (!r.indirect_provider_id.is_empty()).then(|| self.index_of(&r.indirect_provider_id)),
                    active: r.state == pb::relationship::State::Active as i32,
                })
                .collect();
            let modelled: Vec<MRelationship> = model
                .relationships
                .iter()
                .filter(|r| r.customer == c)
                .cloned()
                .collect();
            self.same(listed, modelled, &format!("relationships of c{c}"));

            let listed: Vec<MGrant> = grants
                .iter()
                .map(|g| {
                    let mut scopes = g.scopes.clone();
                    scopes.sort();
                    let mut roles = g.roles.clone();
                    roles.sort();
                    MGrant {
                        customer: c,
                        partner: self.index_of(&g.partner_id),
                        service: SERVICES
                            .iter()
                            .copied()
                            .find(|s| *s == g.service)
                            .unwrap_or("dynamics365"),
                        roles,
                        scopes,
                        state: g.state,
                        cause: g.end_cause,
                        end: crate::delegated_admin::micros(&g.end_time),
                        auto_extend: g.auto_extend,
                        notice: g.notice_days,
                    }
                })
                .collect();
            let modelled: Vec<MGrant> = model
                .grants
                .iter()
                .filter(|g| g.customer == c)
                .map(|g| {
                    let mut g = g.clone();
                    g.scopes.sort();
                    g.roles.sort();
                    g
                })
                .collect();
            self.same(listed, modelled, &format!("grants of c{c}"));

            // G1: the customer's admin lists the grants M2 shows it.
            let by_m2: Vec<String> = grants.iter().map(|g| g.id.clone()).collect();
            let by_g1: Vec<String> = self
                .list_grants(&customer(&model.customers[c]))
                .await
                .expect("the admin lists its grants")
                .into_iter()
                .map(|g| g.id)
                .collect();
            self.same(by_g1, by_m2, &format!("G1 and M2 of c{c}"));

            // G1: grants expiring within 7 and 30 days, on the clock.
            for days in [7, 30] {
                let listed: Vec<(usize, &'static str)> = self
                    .list_grants_where(
                        &customer(&model.customers[c]),
                        pb::ListDelegatedAdminGrantsRequest {
                            expiring_within_days: days as i32,
                            ..Default::default()
                        },
                    )
                    .await
                    .expect("the admin lists expiring grants")
                    .iter()
                    .map(|g| {
                        let service = SERVICES
                            .iter()
                            .copied()
                            .find(|s| *s == g.service)
                            .unwrap_or("dynamics365");
                        (self.index_of(&g.partner_id), service)
                    })
                    .collect();
                self.same(
                    listed,
                    model.expiring(c, days),
                    &format!("G1 of c{c} expiring within {days} days"),
                );
            }

            // T2: the transfers PENDING for the customer's admin, expired
            // ones left out whether or not a sweep recorded them.
            let listed: Vec<String> = self
                .server
                .customers(&customer(&model.customers[c]))
                .list_transfers(pb::ListTransfersRequest {
                    page_size: 1000,
                    state: pb::transfer::State::Pending as i32,
                    ..Default::default()
                })
                .await
                .expect("the admin lists its transfers")
                .into_inner()
                .transfers
                .into_iter()
                .map(|t| t.id)
                .collect();
            let modelled: Vec<String> = model
                .transfers
                .iter()
                .filter(|t| t.customer == c && t.effective(model.now) == T_PENDING)
                .map(|t| t.id.clone())
                .collect();
            self.same(listed, modelled, &format!("pending transfers of c{c}"));
        }

        // T2: every transfer's state as GetTransfer shows it, on the clock.
        for (t, transfer) in model.transfers.iter().enumerate() {
            let shown = self
                .server
                .customers(&customer(&model.customers[transfer.customer]))
                .get_transfer(pb::GetTransferRequest {
                    id: transfer.id.clone(),
                })
                .await
                .expect("the admin reads its transfer")
                .into_inner();
            assert_eq!(
                shown.state,
                transfer.effective(model.now),
                "transfer {t}: {shown:?}\nsteps:\n{}",
                self.log.join("\n")
            );
        }

        // G1: a partner lists its own ACTIVE grants on customers it may
        // VIEW; a suspended one is refused (P4).
        for p in 0..model.partners.len() {
            let listed = self.list_grants(&partner(&model.partners[p].id)).await;
            if !model.partners[p].active {
                assert!(listed.is_err(), "p{p} is suspended\nsteps:\n{}", self.log.join("\n"));
                continue;
            }
            let listed: Vec<(usize, &'static str, i32)> = listed
                .expect("a partner lists its grants")
                .iter()
                .map(|g| {
                    let service = SERVICES.iter().copied().find(|s| *s == g.service).unwrap_or("?");
                    (self.customer_index(&g.customer_id), service, g.state)
                })
                .collect();
            let modelled: Vec<(usize, &'static str, i32)> = model
                .grants
                .iter()
                .filter(|g| g.partner == p && g.state == G_ACTIVE && model.view(p, g.customer))
                .map(|g| (g.customer, g.service, g.state))
                .collect();
            self.same(listed, modelled, &format!("G1 of p{p}"));
        }
    }

    /// What the server listed is what the model holds, in any order.
    /// R7 with a user: every user of every partner on every customer, for
    /// VIEW, SELL and each service's grant actions, as the model reads R7;
    /// and every assignment's roles, state and end cause (R3-R6).
    async fn compare_users(&self) {
        let model = &self.model;
        let mut checks = Vec::new();
        let mut expected = Vec::new();
        for p in 0..model.partners.len() {
            for c in 0..model.customers.len() {
                for user in USERS {
                    let mut add = |action: Action, service: &str| {
                        checks.push(pb::CheckAccessRequest {
                            partner_id: model.partners[p].id.clone(),
                            customer_id: model.customers[c].clone(),
                            action: action as i32,
                            service: service.into(),
                            subscription_id: String::new(),
                            user_id: user.into(),
                        });
                        expected.push((p, c, user, action, service.to_owned()));
                    };
                    add(Action::View, "");
                    add(Action::Sell, "");
                    for service in SERVICES {
                        for action in [Action::Provision, Action::Support].iter().chain(&ROLE_ACTIONS) {
                            add(*action, service);
                        }
                    }
                }
            }
        }
        assert!(checks.len() <= partnercenter::api::MAX_BATCH_CHECKS);
        assert_index_decides_as_the_store(&self.server, &checks, &self.log).await;
        let results = self
            .server
            .relationships(&service())
            .batch_check_access(pb::BatchCheckAccessRequest { checks })
            .await
            .unwrap()
            .into_inner()
            .results;
        for (result, (p, c, user, action, service)) in results.iter().zip(&expected) {
            let want = model.user_decision(*p, *c, user, *action, service);
            let what = format!(
                "{action:?} {service} for {user} of p{p} on c{c}: server {result:?}, model {want:?}\nsteps:\n{}",
                self.log.join("\n")
            );
            match &want {
                UserDecision::PartnerDenied => assert!(!result.allowed, "{what}"),
                UserDecision::ByPartner => assert!(result.allowed, "{what}"),
                UserDecision::Assigned {
                    role,
                    group,
                    assignments,
                } => {
                    assert!(result.allowed, "{what}");
                    assert_eq!(result.reason, Reason::RoleAssigned as i32, "{what}");
                    assert_eq!(result.role, *role, "{what}");
                    assert_eq!(result.security_group_id, group.clone().unwrap_or_default(), "{what}");
                    assert_eq!(&result.assignment_ids, assignments, "{what}");
                }
                UserDecision::UserNotAssigned => {
                    assert!(!result.allowed, "{what}");
                    assert_eq!(result.reason, Reason::UserNotAssigned as i32, "{what}");
                }
                UserDecision::RoleNotAssigned => {
                    assert!(!result.allowed, "{what}");
                    assert_eq!(result.reason, Reason::RoleNotAssigned as i32, "{what}");
                }
            }
        }

        let mut listed = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .server
                .relationships(&operator())
                .list_access_assignments(pb::ListAccessAssignmentsRequest {
                    page_size: 1000,
                    page_token,
                    ..Default::default()
                })
                .await
                .expect("the operator lists assignments")
                .into_inner();
            listed.extend(page.access_assignments.into_iter().map(|a| {
                let mut roles = a.roles;
                roles.sort();
                (a.id, roles, a.state, a.end_cause)
            }));
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        let modelled = (model.assignments.iter())
            .map(|a| {
                let cause = model.cause_of(a);
                let state = if cause == 0 {
                    pb::access_assignment::State::Active
                } else {
                    pb::access_assignment::State::Ended
                };
                (a.id.clone(), a.roles.clone(), state as i32, cause)
            })
            .collect();
        self.same(listed, modelled, "the access assignments");
    }

    fn same<T: Ord + std::fmt::Debug>(&self, mut listed: Vec<T>, mut modelled: Vec<T>, what: &str) {
        listed.sort();
        modelled.sort();
        assert_eq!(listed, modelled, "{what}\nsteps:\n{}", self.log.join("\n"));
    }

    /// G1: every grant `who` may list, in one page.
    async fn list_grants(
        &self,
        who: &partnercenter::domain::principal::Principal,
    ) -> Result<Vec<pb::DelegatedAdminGrant>, tonic::Status> {
        self.list_grants_where(who, pb::ListDelegatedAdminGrantsRequest::default())
            .await
    }

    /// G1: the grants `who` may list with these filters, in one page.
    async fn list_grants_where(
        &self,
        who: &partnercenter::domain::principal::Principal,
        filters: pb::ListDelegatedAdminGrantsRequest,
    ) -> Result<Vec<pb::DelegatedAdminGrant>, tonic::Status> {
        let page = self
            .server
            .relationships(who)
            .list_delegated_admin_grants(pb::ListDelegatedAdminGrantsRequest {
                page_size: 1000,
                ..filters
            })
            .await?
            .into_inner();
        assert!(page.next_page_token.is_empty());
        Ok(page.delegated_admin_grants)
    }

    fn customer_index(&self, id: &str) -> usize {
        self.model.customers.iter().position(|c| c == id).unwrap_or(usize::MAX)
    }
}

/// `capacity`: the most customers the access index holds (small: every
/// step reads some customers afresh and lets others go).
async fn setup(seed: u64, capacity: usize) -> Run {
    let clock = Arc::new(ManualClock::new(CLOCK_START));
    let server = TestServer::start_configured(clock.clone(), Some(SECRET), |config| {
        config.relationships.access_index_customers = capacity;
        // Only the steps sweep: the model knows when.
        config.relationships.sweep_interval = std::time::Duration::from_secs(24 * 3600);
    })
    .await;
    let mut model = Model {
        now: CLOCK_START,
        ..Model::default()
    };
    for kind in [
        Kind::DirectReseller,
        Kind::DirectReseller,
        Kind::IndirectProvider,
        Kind::IndirectProvider,
        Kind::IndirectReseller,
        Kind::IndirectReseller,
        Kind::Advisor,
    ] {
        let created = server.create_partner(kind).await;
        model.partners.push(MPartner {
            id: created.id,
            kind,
            active: true,
        });
    }
    // Customers bought directly from the operator (C2): no partner yet.
    for _ in 0..3 {
        model
            .customers
            .push(server.create_customer(&operator(), None).await.unwrap().id);
    }
    // One advisor relationship from an imported ADVISOR subscription (S1).
    let advisor = 6;
    server
        .create_subscription(
            &operator(),
            pb::Subscription {
                channel: pb::subscription::Channel::Advisor as i32,
                ..csp_subscription(&model.customers[0], &model.partners[advisor].id)
            },
        )
        .await
        .unwrap();
    model.relationships.push(MRelationship {
        customer: 0,
        partner: advisor,
        kind: ADVISOR,
        provider: None,
        active: true,
    });
    Run {
        server,
        clock,
        model,
        rng: Rng(rand::SeedableRng::seed_from_u64(seed)),
        log: Vec::new(),
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A1, A3: the server's access index, kept current from the event log,
/// equals one rebuilt from the store's tables, and decides every check
/// exactly as the store's facts statement does (reason and ids included).
async fn assert_index_decides_as_the_store(server: &TestServer, checks: &[pb::CheckAccessRequest], log: &[String]) {
    use partnercenter::domain::access::{AccessQuery, Action as Decided};
    use partnercenter::domain::model::Service;
    use partnercenter::domain::ports::AccessChecker;
    let Some(index) = server.server.access_index() else {
        return;
    };
    index.barrier().await.expect("the index catches up");
    let store = server.server.store();
    let (rebuilt, seq) = store.load_access_index().await.expect("an index rebuilt");
    assert_eq!(index.applied_seq(), seq, "the index applied every event");
    if let Some(difference) = index.snapshot().differs_from(&rebuilt) {
        panic!(
            "the index kept current differs from one rebuilt: {difference}\nsteps:\n{}",
            log.join("\n")
        );
    }
    let queries: Vec<AccessQuery> = checks
        .iter()
        .map(|check| AccessQuery {
            partner_id: check.partner_id.clone(),
            customer_id: check.customer_id.clone(),
            action: match check.action {
                1 => Decided::View,
                2 => Decided::Sell,
                3 => Decided::Provision,
                4 => Decided::Support,
                6 => Decided::ReadDirectory,
                7 => Decided::ManageUsers,
                8 => Decided::ReadBilling,
                _ => Decided::ManageSubscription,
            },
            service: Service::parse(&check.service),
            subscription_id: Some(check.subscription_id.clone()).filter(|id| !id.is_empty()),
            user_id: Some(check.user_id.clone()).filter(|id| !id.is_empty()),
        })
        .collect();
    let from_index = index.check_batch(&queries).await.expect("index decisions");
    let from_store = store.check_batch(&queries).await.expect("store decisions");
    for ((query, indexed), stored) in queries.iter().zip(&from_index).zip(&from_store) {
        assert_eq!(indexed, stored, "{query:?}\nsteps:\n{}", log.join("\n"));
    }
}

#[tokio::test]
async fn model_random_operations_agree_with_the_rules_of_domain_md() {
    let seed = env_or("PARTNERCENTER_MODEL_SEED", 0x5eed_2026);
    let steps = env_or("PARTNERCENTER_MODEL_STEPS", 150);
    // The second run's index holds two customers at a time.
    for (run_no, capacity) in [(0u64, 200_000), (1, 2)] {
        let mut run = setup(seed.wrapping_add(run_no), capacity).await;
        run.compare().await;
        for _ in 0..steps {
            run.step().await;
            run.compare().await;
        }
        // What the run covered, for whoever tunes the steps.
        let m = &run.model;
        let count = |state: i32| m.grants.iter().filter(|g| g.state == state).count();
        eprintln!(
            "model run {run_no}: {} grants ({} active, {} expired, {} with a notice), {} transfers ({} expired), {} days passed, {} updates",
            m.grants.len(),
            count(G_ACTIVE),
            count(G_EXPIRED),
            m.grants.iter().filter(|g| g.notice != 0).count(),
            m.transfers.len(),
            m.transfers.iter().filter(|t| m.now >= t.expire).count(),
            (m.now - CLOCK_START) / DAY,
            run.log.iter().filter(|line| line.starts_with("update")).count(),
        );
        eprintln!(
            "model run {run_no}: {} grants with GLOBAL_ADMIN, {} without a scope, {} role updates",
            m.grants
                .iter()
                .filter(|g| g.roles.contains(&(Role::GlobalAdmin as i32)))
                .count(),
            m.grants.iter().filter(|g| g.scopes.is_empty()).count(),
            run.log
                .iter()
                .filter(|line| line.starts_with("update") && line.contains("roles=Some"))
                .count(),
        );
        let ended = |cause: i32| m.assignments.iter().filter(|a| m.cause_of(a) == cause).count();
        eprintln!(
            "model run {run_no}: {} groups ({} deleted), {} assignments ({} active; ended: {} with the grant, {} roles removed, {} group deleted, {} removed)",
            m.groups.len(),
            m.groups.iter().filter(|g| g.deleted).count(),
            m.assignments.len(),
            ended(0),
            ended(A_GRANT_ENDED),
            ended(A_ROLES_REMOVED),
            ended(A_GROUP_DELETED),
            ended(A_REMOVED),
        );
    }
}
