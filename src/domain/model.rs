//! The resources the rules speak of (`docs/rules.md`). Times are microseconds since the Unix epoch.

use serde::{Deserialize, Serialize};

/// Microseconds since the Unix epoch.
pub type Micros = i64;

pub const MICROS_PER_DAY: Micros = 86_400 * 1_000_000;

/// An enum stored and exchanged by its UPPER_SNAKE name.
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $($variant),* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)* _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

named_enum!(PartnerKind {
    DirectReseller => "DIRECT_RESELLER",
    IndirectProvider => "INDIRECT_PROVIDER",
    IndirectReseller => "INDIRECT_RESELLER",
    Advisor => "ADVISOR",
});

named_enum!(PartnerStatus { Active => "ACTIVE", Suspended => "SUSPENDED" });

named_enum!(
    /// P2, L1-L3: a provider's link is PENDING until its reseller accepts;
    /// the operator's is ACTIVE at once. DECLINED, EXPIRED and REVOKED are
    /// final; SUSPENDED counts as REVOKED for transacting.
    LinkState {
        Active => "ACTIVE",
        Revoked => "REVOKED",
        Pending => "PENDING",
        Declined => "DECLINED",
        Expired => "EXPIRED",
        Suspended => "SUSPENDED",
    }
);

named_enum!(
    /// L3: who ended a link.
    LinkSide {
        Provider => "PROVIDER",
        Reseller => "RESELLER",
        Operator => "OPERATOR",
    }
);

named_enum!(
    /// The cloud services a subscription or a delegated admin grant is for.
    Service {
        Office365 => "office365",
        Azure => "azure",
        Dynamics365 => "dynamics365",
    }
);

named_enum!(Billing { License => "LICENSE", Usage => "USAGE" });

named_enum!(SubscriptionStatus {
    Active => "ACTIVE",
    Suspended => "SUSPENDED",
    Cancelled => "CANCELLED",
});

named_enum!(Channel { Direct => "DIRECT", Advisor => "ADVISOR", Csp => "CSP" });

named_enum!(InvitationState {
    Active => "ACTIVE",
    Revoked => "REVOKED",
    Expired => "EXPIRED",
});

named_enum!(RelationshipKind {
    Reseller => "RESELLER",
    IndirectReseller => "INDIRECT_RESELLER",
    Advisor => "ADVISOR",
});

named_enum!(RelationshipState { Active => "ACTIVE", Ended => "ENDED" });

named_enum!(
    /// L5, M3: why a relationship ended.
    RelationshipEndCause {
        PartnerEnded => "PARTNER_ENDED",
        ProviderEnded => "PROVIDER_ENDED",
        LinkEnded => "LINK_ENDED",
    }
);

named_enum!(RelationshipSource {
    CustomerCreation => "CUSTOMER_CREATION",
    Invitation => "INVITATION",
    AdvisorSubscription => "ADVISOR_SUBSCRIPTION",
});

named_enum!(Scope { Provisioning => "PROVISIONING", Support => "SUPPORT" });

named_enum!(
    /// R1: a delegated admin grant's roles, in the proto's order (what
    /// each allows is `roles::role_allows`).
    Role {
        DirectoryReader => "DIRECTORY_READER",
        HelpdeskAdmin => "HELPDESK_ADMIN",
        UserAdmin => "USER_ADMIN",
        LicenseAdmin => "LICENSE_ADMIN",
        BillingReader => "BILLING_READER",
        GlobalAdmin => "GLOBAL_ADMIN",
    }
);

named_enum!(GrantState {
    Active => "ACTIVE",
    Revoked => "REVOKED",
    Expired => "EXPIRED",
    Superseded => "SUPERSEDED",
});

named_enum!(
    /// G4: why a grant left ACTIVE.
    EndCause {
        CustomerRevoked => "CUSTOMER_REVOKED",
        PartnerRelinquished => "PARTNER_RELINQUISHED",
        RelationshipEnded => "RELATIONSHIP_ENDED",
        Superseded => "SUPERSEDED",
        Expired => "EXPIRED",
    }
);

impl EndCause {
    /// The state a grant ending for this cause takes.
    pub fn state(self) -> GrantState {
        match self {
            EndCause::CustomerRevoked | EndCause::PartnerRelinquished | EndCause::RelationshipEnded => {
                GrantState::Revoked
            }
            EndCause::Superseded => GrantState::Superseded,
            EndCause::Expired => GrantState::Expired,
        }
    }
}

named_enum!(
    /// R5: an assignment is ACTIVE until it ends, for good.
    AssignmentState { Active => "ACTIVE", Ended => "ENDED" }
);

named_enum!(
    /// R3-R6: why an assignment ended.
    AssignmentEndCause {
        GrantEnded => "GRANT_ENDED",
        RolesRemoved => "ROLES_REMOVED",
        GroupDeleted => "GROUP_DELETED",
        Removed => "REMOVED",
    }
);

/// R5: whom an assignment gives its roles to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum AssignmentPrincipal {
    /// One of the partner's users, by its opaque id.
    User(String),
    /// One of the partner's security groups (R4), by its id.
    SecurityGroup(String),
}

/// R5: some of a grant's roles given to one of its partner's users or
/// groups.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccessAssignment {
    pub id: String,
    pub grant_id: String,
    /// The grant's.
    pub customer_id: String,
    /// The grant's.
    pub partner_id: String,
    pub principal: AssignmentPrincipal,
    /// A non-empty subset of the grant's roles, in the enum's order.
    pub roles: Vec<Role>,
    pub state: AssignmentState,
    pub end_cause: Option<AssignmentEndCause>,
    pub version: i64,
    pub create_time: Micros,
    pub update_time: Micros,
    pub end_time: Option<Micros>,
}

named_enum!(TransferState {
    Pending => "PENDING",
    Completed => "COMPLETED",
    Rejected => "REJECTED",
    Cancelled => "CANCELLED",
    Expired => "EXPIRED",
});

/// T2: a transfer expires this long after it is proposed.
pub const TRANSFER_LIFETIME: Micros = 30 * MICROS_PER_DAY;

/// T1: a subscription a transfer names, as it was when proposed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransferItem {
    pub subscription_id: String,
    pub partner_of_record_id: Option<String>,
    pub indirect_provider_id: Option<String>,
    pub channel: Channel,
    pub status: SubscriptionStatus,
}

impl TransferItem {
    /// The snapshot of a subscription now.
    pub fn of(subscription: &Subscription) -> Self {
        TransferItem {
            subscription_id: subscription.id.clone(),
            partner_of_record_id: subscription.partner_of_record_id.clone(),
            indirect_provider_id: subscription.indirect_provider_id.clone(),
            channel: subscription.channel,
            status: subscription.status,
        }
    }
}

/// R4: a partner's group of its users, by their opaque ids.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub id: String,
    pub partner_id: String,
    pub display_name: String,
    pub member_user_ids: Vec<String>,
    pub version: i64,
    pub create_time: Micros,
    pub update_time: Micros,
    /// Set only on the group as deleted (its reply and event), so whoever
    /// applies the event knows it is gone.
    #[serde(default)]
    pub delete_time: Option<Micros>,
}

named_enum!(
    /// H6: ORDERED sends one at a time in seq order; UNORDERED up to
    /// `max_in_flight` at once, each retried alone.
    DeliveryMode { Ordered => "ORDERED", Unordered => "UNORDERED" }
);

named_enum!(
    /// H1, H7: PAUSED sends nothing and keeps its cursor; DISABLED was set
    /// by the dispatcher (or a 410) and waits for its owner.
    EndpointState { Active => "ACTIVE", Paused => "PAUSED", Disabled => "DISABLED" }
);

named_enum!(
    /// H6, H7: why the dispatcher disabled an endpoint.
    DisabledReason {
        Gone => "GONE",
        ConsecutiveFailures => "CONSECUTIVE_FAILURES",
        HeadFailed => "HEAD_FAILED",
    }
);

named_enum!(
    /// H4: a delivery row's state; only a 2xx makes it DELIVERED.
    DeliveryState { Pending => "PENDING", Delivered => "DELIVERED", Failed => "FAILED" }
);

named_enum!(
    /// H2, H6, H10: why an attempt failed.
    DeliveryError {
        Timeout => "TIMEOUT",
        Connect => "CONNECT",
        Tls => "TLS",
        BlockedAddress => "BLOCKED_ADDRESS",
        Redirect => "REDIRECT",
        HttpStatus => "HTTP_STATUS",
    }
);

/// H1: an HTTPS endpoint events are pushed to. Its signing secrets are not
/// here: they stay sealed in the store and only Create and Rotate show the
/// new one (H5), so no event or read can carry them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: String,
    /// None: the operator's.
    pub partner_id: Option<String>,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub customer_id: Option<String>,
    pub delivery_mode: DeliveryMode,
    pub max_in_flight: i32,
    pub state: EndpointState,
    pub disabled_reason: Option<DisabledReason>,
    /// H4: the highest seq given a delivery row.
    pub cursor_seq: i64,
    /// H9: until when the previous secret signs beside the current one.
    pub previous_secret_expire_time: Option<Micros>,
    pub version: i64,
    pub create_time: Micros,
    pub update_time: Micros,
    /// Set only on the endpoint as deleted (its reply and event).
    #[serde(default)]
    pub delete_time: Option<Micros>,
}

/// H4, H10: one event's delivery to one endpoint.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WebhookDelivery {
    pub endpoint_id: String,
    pub seq: i64,
    pub event_type: String,
    pub state: DeliveryState,
    pub attempt_count: i32,
    /// When the next attempt is due (PENDING only).
    pub next_attempt_time: Option<Micros>,
    pub last_attempt_time: Option<Micros>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<DeliveryError>,
}

/// T1-T4: a proposal to move subscriptions of one customer to a CSP
/// partner of record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transfer {
    pub id: String,
    pub customer_id: String,
    pub proposing_partner_id: String,
    pub partner_of_record_id: String,
    pub indirect_provider_id: Option<String>,
    pub subscriptions: Vec<TransferItem>,
    pub state: TransferState,
    pub expire_time: Micros,
    pub version: i64,
    pub create_time: Micros,
    pub update_time: Micros,
}

impl Transfer {
    /// T2: a PENDING transfer past its expire_time is EXPIRED for every
    /// decision, whether or not the sweep has recorded it.
    pub fn effective_state(&self, now: Micros) -> TransferState {
        match self.state {
            TransferState::Pending if self.expire_time <= now => TransferState::Expired,
            state => state,
        }
    }
}

/// A resource's optimistic-concurrency token (AIP-154), derived from its
/// row version.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Partner {
    pub id: String,
    pub mpn_id: String,
    pub display_name: String,
    pub kind: PartnerKind,
    pub status: PartnerStatus,
    pub version: i64,
    pub create_time: Micros,
    pub update_time: Micros,
}

impl Partner {
    pub fn is_active(&self) -> bool {
        self.status == PartnerStatus::Active
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartnerLink {
    pub id: String,
    pub provider_id: String,
    pub reseller_id: String,
    /// As recorded: a PENDING link past `expire_time` is EXPIRED for every
    /// decision (`state_at`) before the sweep records it.
    pub state: LinkState,
    /// L1: when a PENDING link expires (none for the operator's links).
    #[serde(default)]
    pub expire_time: Option<Micros>,
    /// L3: who ended it.
    #[serde(default)]
    pub ended_by: Option<LinkSide>,
    /// L3: the note UnlinkIndirectReseller was given, if any.
    #[serde(default)]
    pub end_note: Option<String>,
    /// Behind the etag. Events recorded before L1 have none.
    #[serde(default)]
    pub version: i64,
    pub create_time: Micros,
    /// For a REVOKED link, when it was revoked (L5 counts from it).
    pub update_time: Micros,
}

impl PartnerLink {
    /// L1: the state every decision reads at `now`.
    pub fn state_at(&self, now: Micros) -> LinkState {
        match (self.state, self.expire_time) {
            (LinkState::Pending, Some(expire)) if expire <= now => LinkState::Expired,
            (state, _) => state,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BillingContact {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub culture: String,
    pub language: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub id: String,
    /// Lower case: domains are unique regardless of case (C3).
    pub domain: String,
    pub company_name: String,
    pub billing_contact: BillingContact,
    pub version: i64,
    pub create_time: Micros,
    pub update_time: Micros,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub customer_id: String,
    pub service: Service,
    pub offer_name: String,
    pub quantity: i32,
    pub billing: Billing,
    pub status: SubscriptionStatus,
    pub channel: Channel,
    pub partner_of_record_id: Option<String>,
    pub indirect_provider_id: Option<String>,
    pub version: i64,
    pub create_time: Micros,
    pub update_time: Micros,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RelationshipRequest {
    pub id: String,
    pub inviting_partner_id: String,
    pub indirect_reseller_id: Option<String>,
    pub include_delegated_admin: bool,
    pub delegated_admin_services: Vec<Service>,
    /// R1: derived from `delegated_admin_roles`.
    pub delegated_admin_scopes: Vec<Scope>,
    /// R1: the roles each grant of the acceptance gets (I6). Events
    /// recorded before R1 have none: `roles::read_legacy` reads them from
    /// the scopes.
    #[serde(default)]
    pub delegated_admin_roles: Vec<Role>,
    pub customer_domain: Option<String>,
    /// The acceptance secret: never logged, never in an event (I3).
    #[serde(skip)]
    pub code: String,
    pub state: InvitationState,
    pub expire_time: Micros,
    pub create_time: Micros,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Relationship {
    pub id: String,
    pub customer_id: String,
    pub partner_id: String,
    pub kind: RelationshipKind,
    pub indirect_provider_id: Option<String>,
    pub state: RelationshipState,
    pub source: RelationshipSource,
    pub relationship_request_id: Option<String>,
    pub start_time: Micros,
    pub end_time: Option<Micros>,
    /// L5, M3: why it ended (None while ACTIVE, and for relationships
    /// ended before end causes were recorded).
    #[serde(default)]
    pub end_cause: Option<RelationshipEndCause>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DelegatedAdminGrant {
    pub id: String,
    pub customer_id: String,
    pub partner_id: String,
    pub service: Service,
    /// R1: derived from `roles` (`roles::assign` keeps them so); may be
    /// empty.
    pub scopes: Vec<Scope>,
    /// R1: distinct, in the enum's order, never empty. Events recorded
    /// before R1 have none: `roles::read_legacy` reads them from the
    /// scopes.
    #[serde(default)]
    pub roles: Vec<Role>,
    pub state: GrantState,
    pub start_time: Micros,
    pub end_time: Option<Micros>,
    pub auto_extend: bool,
    /// G4: why it left ACTIVE (None while ACTIVE). Events recorded before
    /// G4 have none.
    #[serde(default)]
    pub end_cause: Option<EndCause>,
    /// G4: the note RevokeDelegatedAdmin was given, if any.
    #[serde(default)]
    pub end_note: Option<String>,
    /// G2: the last notice mark (30, 7 or 1 days before end_time) passed;
    /// None before the first, and for a grant without an end or with
    /// auto_extend.
    #[serde(default)]
    pub notice_days: Option<i32>,
    /// The row version behind the etag; every change moves it.
    #[serde(default = "first_version")]
    pub version: i64,
    #[serde(default)]
    pub update_time: Micros,
}

fn first_version() -> i64 {
    1
}

/// D4, the one home of "in force", on a grant's fields (for readers that
/// hold only those): see `DelegatedAdminGrant::in_force`.
pub fn grant_in_force(state: GrantState, end_time: Option<Micros>, auto_extend: bool, now: Micros) -> bool {
    state == GrantState::Active && (auto_extend || end_time.is_none_or(|end| now < end))
}

/// D4: how long an auto-extending grant is extended at each expiry.
pub const AUTO_EXTEND_PERIOD: Micros = 180 * MICROS_PER_DAY;

impl DelegatedAdminGrant {
    /// D4: a grant authorizes while ACTIVE and before its end_time; an
    /// auto-extending grant is extended by 180 days as often as needed, so
    /// it authorizes until revoked. Decided on the clock, not on the sweep.
    /// Its SQL form is `store::access::grant_in_force`, tested against this.
    pub fn in_force(&self, now: Micros) -> bool {
        grant_in_force(self.state, self.end_time, self.auto_extend, now)
    }

    /// D4: the end_time an auto-extending grant has at `now`: its end plus
    /// the fewest 180-day periods that put it in the future. None for a
    /// grant that does not auto-extend or has not reached its end.
    pub fn extended_end(&self, now: Micros) -> Option<Micros> {
        let end = self.end_time?;
        if !self.auto_extend || end > now {
            return None;
        }
        let periods = (now - end) / AUTO_EXTEND_PERIOD + 1;
        Some(end + periods * AUTO_EXTEND_PERIOD)
    }
}

impl RelationshipRequest {
    /// I5: an ACTIVE invitation past its expiry is EXPIRED, whether or not
    /// the sweep has recorded it yet.
    pub fn effective_state(&self, now: Micros) -> InvitationState {
        match self.state {
            InvitationState::Active if self.expire_time <= now => InvitationState::Expired,
            state => state,
        }
    }
}

/// The new state of what an event records (E1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "resource", rename_all = "snake_case")]
pub enum EventResource {
    Partner(Partner),
    PartnerLink(PartnerLink),
    Customer(Customer),
    Subscription(Subscription),
    RelationshipRequest(RelationshipRequest),
    Relationship(Relationship),
    DelegatedAdminGrant(DelegatedAdminGrant),
    Transfer(Transfer),
    SecurityGroup(SecurityGroup),
    AccessAssignment(AccessAssignment),
    WebhookEndpoint(WebhookEndpoint),
}

impl EventResource {
    pub fn subject_id(&self) -> &str {
        match self {
            EventResource::Partner(r) => &r.id,
            EventResource::PartnerLink(r) => &r.id,
            EventResource::Customer(r) => &r.id,
            EventResource::Subscription(r) => &r.id,
            EventResource::RelationshipRequest(r) => &r.id,
            EventResource::Relationship(r) => &r.id,
            EventResource::DelegatedAdminGrant(r) => &r.id,
            EventResource::Transfer(r) => &r.id,
            EventResource::SecurityGroup(r) => &r.id,
            EventResource::AccessAssignment(r) => &r.id,
            EventResource::WebhookEndpoint(r) => &r.id,
        }
    }

    /// The customer the change is about, if any (E2 filters on it).
    pub fn customer_id(&self) -> Option<&str> {
        match self {
            EventResource::Customer(r) => Some(&r.id),
            EventResource::Subscription(r) => Some(&r.customer_id),
            EventResource::Relationship(r) => Some(&r.customer_id),
            EventResource::DelegatedAdminGrant(r) => Some(&r.customer_id),
            EventResource::Transfer(r) => Some(&r.customer_id),
            EventResource::AccessAssignment(r) => Some(&r.customer_id),
            EventResource::Partner(_)
            | EventResource::PartnerLink(_)
            | EventResource::RelationshipRequest(_)
            | EventResource::SecurityGroup(_)
            | EventResource::WebhookEndpoint(_) => None,
        }
    }

    /// The partner the change is about, if any.
    pub fn partner_id(&self) -> Option<&str> {
        match self {
            EventResource::Partner(r) => Some(&r.id),
            EventResource::PartnerLink(r) => Some(&r.provider_id),
            EventResource::Subscription(r) => r.partner_of_record_id.as_deref(),
            EventResource::RelationshipRequest(r) => Some(&r.inviting_partner_id),
            EventResource::Relationship(r) => Some(&r.partner_id),
            EventResource::DelegatedAdminGrant(r) => Some(&r.partner_id),
            EventResource::Transfer(r) => Some(&r.proposing_partner_id),
            EventResource::SecurityGroup(r) => Some(&r.partner_id),
            EventResource::AccessAssignment(r) => Some(&r.partner_id),
            EventResource::WebhookEndpoint(r) => r.partner_id.as_deref(),
            EventResource::Customer(_) => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub seq: i64,
    pub time: Micros,
    pub event_type: String,
    pub actor: String,
    pub resource: EventResource,
}
