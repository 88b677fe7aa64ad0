//! The one error type of the service. Every failure carries a canonical code
//! and an UPPER_SNAKE reason from the rules (`docs/rules.md`); the gRPC adapter maps it onto a
//! `tonic::Status` with a `google.rpc.ErrorInfo`.

use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Canonical error codes used by the service (a subset of gRPC's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidArgument,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    AlreadyExists,
    FailedPrecondition,
    Aborted,
    ResourceExhausted,
    Unavailable,
    DeadlineExceeded,
    Unimplemented,
    Internal,
}

impl ErrorCode {
    /// Every code, for the way back from the wire and for tests.
    pub const ALL: [ErrorCode; 12] = [
        ErrorCode::InvalidArgument,
        ErrorCode::Unauthenticated,
        ErrorCode::PermissionDenied,
        ErrorCode::NotFound,
        ErrorCode::AlreadyExists,
        ErrorCode::FailedPrecondition,
        ErrorCode::Aborted,
        ErrorCode::ResourceExhausted,
        ErrorCode::Unavailable,
        ErrorCode::DeadlineExceeded,
        ErrorCode::Unimplemented,
        ErrorCode::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::PermissionDenied => "PERMISSION_DENIED",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::AlreadyExists => "ALREADY_EXISTS",
            ErrorCode::FailedPrecondition => "FAILED_PRECONDITION",
            ErrorCode::Aborted => "ABORTED",
            ErrorCode::ResourceExhausted => "RESOURCE_EXHAUSTED",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::DeadlineExceeded => "DEADLINE_EXCEEDED",
            ErrorCode::Unimplemented => "UNIMPLEMENTED",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

macro_rules! reasons {
    ($($variant:ident => $name:literal, $in_spec:literal;)*) => {
        /// Why a call failed. Reasons the rules name are sent as the
        /// ErrorInfo `reason`; the others refine a canonical code and are sent
        /// as the ErrorInfo metadata `cause`, with the code's name as reason.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Reason { $($variant),* }

        impl Reason {
            pub fn as_str(self) -> &'static str {
                match self { $(Reason::$variant => $name),* }
            }

            /// Whether the rules name this reason.
            pub fn in_spec(self) -> bool {
                match self { $(Reason::$variant => $in_spec),* }
            }

            /// The reason of this name (the way back from the wire).
            pub fn parse(name: &str) -> Option<Reason> {
                match name { $($name => Some(Reason::$variant),)* _ => None }
            }
        }
    };
}

reasons! {
    InvalidField => "INVALID_FIELD", true;
    RequestIdReused => "REQUEST_ID_REUSED", false;
    TokenMissing => "TOKEN_MISSING", false;
    TokenInvalid => "TOKEN_INVALID", false;
    TokenExpired => "TOKEN_EXPIRED", false;
    RoleNotAllowed => "ROLE_NOT_ALLOWED", false;
    TenantMismatch => "TENANT_MISMATCH", false;
    PartnerNotVisible => "PARTNER_NOT_VISIBLE", false;
    NoRelationship => "NO_RELATIONSHIP", false;
    PartnerKindNotAllowed => "PARTNER_KIND_NOT_ALLOWED", true;
    PartnerNotActive => "PARTNER_NOT_ACTIVE", true;
    ResellerNotLinked => "RESELLER_NOT_LINKED", true;
    NotTransacting => "NOT_TRANSACTING", true;
    NotPartnerOfRecord => "NOT_PARTNER_OF_RECORD", true;
    IndirectResellerCannotInvite => "INDIRECT_RESELLER_CANNOT_INVITE", true;
    InvitationNotFound => "INVITATION_NOT_FOUND", true;
    InvitationRevoked => "INVITATION_REVOKED", true;
    InvitationExpired => "INVITATION_EXPIRED", true;
    DomainMismatch => "DOMAIN_MISMATCH", true;
    ActiveSubscriptions => "ACTIVE_SUBSCRIPTIONS", true;
    MpnIdTaken => "MPN_ID_TAKEN", false;
    DomainTaken => "DOMAIN_TAKEN", true;
    LinkExists => "LINK_EXISTS", false;
    PartnerNotFound => "PARTNER_NOT_FOUND", false;
    CustomerNotFound => "CUSTOMER_NOT_FOUND", false;
    SubscriptionNotFound => "SUBSCRIPTION_NOT_FOUND", false;
    LinkNotFound => "LINK_NOT_FOUND", false;
    LinkSideNotAllowed => "LINK_SIDE_NOT_ALLOWED", true;
    LinkExpired => "LINK_EXPIRED", true;
    LinkNotPending => "LINK_NOT_PENDING", true;
    LinkNotActive => "LINK_NOT_ACTIVE", true;
    LinkNotSuspended => "LINK_NOT_SUSPENDED", true;
    PendingLinkLimitReached => "PENDING_LINK_LIMIT_REACHED", true;
    GrantNotFound => "GRANT_NOT_FOUND", false;
    RelationshipNotFound => "RELATIONSHIP_NOT_FOUND", false;
    NotInvitationParty => "NOT_INVITATION_PARTY", false;
    NotGrantParty => "NOT_GRANT_PARTY", false;
    GrantNotInForce => "GRANT_NOT_IN_FORCE", false;
    GlobalAdminNotExtendable => "GLOBAL_ADMIN_NOT_EXTENDABLE", true;
    RoleNotInGrant => "ROLE_NOT_IN_GRANT", true;
    SubscriptionCancelled => "SUBSCRIPTION_CANCELLED", true;
    AlreadyPartnerOfRecord => "ALREADY_PARTNER_OF_RECORD", true;
    TransferPending => "TRANSFER_PENDING", true;
    TransferStale => "TRANSFER_STALE", true;
    TransferNotPending => "TRANSFER_NOT_PENDING", true;
    NotTransferParty => "NOT_TRANSFER_PARTY", false;
    TransferNotFound => "TRANSFER_NOT_FOUND", false;
    GroupLimitReached => "GROUP_LIMIT_REACHED", true;
    GroupNotVisible => "GROUP_NOT_VISIBLE", false;
    GroupNotFound => "GROUP_NOT_FOUND", false;
    GrantNotActive => "GRANT_NOT_ACTIVE", true;
    AssignmentLimitReached => "ASSIGNMENT_LIMIT_REACHED", true;
    AssignmentNotActive => "ASSIGNMENT_NOT_ACTIVE", true;
    AssignmentExists => "ASSIGNMENT_EXISTS", false;
    AssignmentNotVisible => "ASSIGNMENT_NOT_VISIBLE", false;
    AssignmentNotFound => "ASSIGNMENT_NOT_FOUND", false;
    EndpointUrlForbidden => "ENDPOINT_URL_FORBIDDEN", true;
    EndpointLimitReached => "ENDPOINT_LIMIT_REACHED", true;
    RotationInProgress => "ROTATION_IN_PROGRESS", true;
    AfterSeqAhead => "AFTER_SEQ_AHEAD", true;
    EndpointNotVisible => "ENDPOINT_NOT_VISIBLE", false;
    EndpointNotFound => "ENDPOINT_NOT_FOUND", false;
    SlowConsumer => "SLOW_CONSUMER", false;
    EtagMismatch => "ETAG_MISMATCH", false;
    StoreUnavailable => "STORE_UNAVAILABLE", false;
    Timeout => "TIMEOUT", false;
    TooManyChecks => "TOO_MANY_CHECKS", false;
    MalformedMessage => "MALFORMED_MESSAGE", false;
    Overloaded => "OVERLOADED", false;
    ShuttingDown => "SHUTTING_DOWN", false;
    StoreFull => "STORE_FULL", false;
    StoreConflict => "STORE_CONFLICT", false;
    PeerUnavailable => "PEER_UNAVAILABLE", false;
    ConsequencesPending => "CONSEQUENCES_PENDING", false;
    MethodNotFound => "METHOD_NOT_FOUND", false;
    EncodingNotSupported => "ENCODING_NOT_SUPPORTED", false;
    Internal => "INTERNAL", false;
}

/// W3: the most ids or field violations an error lists; it counts the rest.
pub const MAX_LISTED: usize = 20;

/// W3: at most `MAX_LISTED` ids, comma-separated, then how many more, for a
/// message.
pub fn listed(ids: &[&str]) -> String {
    let mut text = ids.iter().take(MAX_LISTED).copied().collect::<Vec<_>>().join(", ");
    if ids.len() > MAX_LISTED {
        text.push_str(&format!(" and {} more", ids.len() - MAX_LISTED));
    }
    text
}

/// A fresh id for one failure (W4).
pub fn new_error_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// One invalid field of a request (a `google.rpc.BadRequest` violation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub code: ErrorCode,
    pub reason: Reason,
    pub message: String,
    pub violations: Vec<FieldViolation>,
    /// Extra ErrorInfo metadata, e.g. the subscriptions blocking M3.
    pub metadata: Vec<(String, String)>,
}

impl Error {
    pub fn new(code: ErrorCode, reason: Reason, message: impl Into<String>) -> Self {
        Error {
            code,
            reason,
            message: message.into(),
            violations: Vec::new(),
            metadata: Vec::new(),
        }
    }

    pub fn with_metadata(mut self, key: &str, value: impl Into<String>) -> Self {
        self.metadata.push((key.to_owned(), value.into()));
        self
    }

    /// Adds a field violation (an INVALID_ARGUMENT whose reason a rule
    /// names, not INVALID_FIELD, still names the field).
    pub fn with_violation(mut self, field: impl Into<String>, description: impl Into<String>) -> Self {
        self.violations.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
        self
    }

    /// W3: names at most `MAX_LISTED` ids under `key` (comma-separated) and,
    /// when there are more, their count under `<key>_omitted`.
    pub fn with_ids(mut self, key: &str, ids: &[&str]) -> Self {
        self.metadata.push((
            key.to_owned(),
            ids.iter().take(MAX_LISTED).copied().collect::<Vec<_>>().join(","),
        ));
        if ids.len() > MAX_LISTED {
            self.metadata
                .push((format!("{key}_omitted"), (ids.len() - MAX_LISTED).to_string()));
        }
        self
    }

    /// INVALID_ARGUMENT with one field violation.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::invalid_fields(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }

    pub fn invalid_fields(violations: Vec<FieldViolation>) -> Self {
        // W3: the message names the first few (at most MAX_LISTED, in a
        // short message), then counts the rest.
        const MESSAGE_BUDGET: usize = 600;
        let mut message = String::new();
        let mut named = 0;
        for v in &violations {
            let part = format!("{}: {}", v.field, v.description);
            if named == MAX_LISTED || (named > 0 && message.len() + part.len() > MESSAGE_BUDGET) {
                break;
            }
            if named > 0 {
                message.push_str("; ");
            }
            message.push_str(&part);
            named += 1;
        }
        if violations.len() > named {
            message.push_str(&format!("; and {} more", violations.len() - named));
        }
        Error {
            code: ErrorCode::InvalidArgument,
            reason: Reason::InvalidField,
            message,
            violations,
            metadata: Vec::new(),
        }
    }

    pub fn permission_denied(reason: Reason, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::PermissionDenied, reason, message)
    }

    pub fn not_found(reason: Reason, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, reason, message)
    }

    pub fn already_exists(reason: Reason, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::AlreadyExists, reason, message)
    }

    pub fn failed_precondition(reason: Reason, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::FailedPrecondition, reason, message)
    }

    pub fn unauthenticated(reason: Reason, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, reason, message)
    }

    pub fn stale_etag(resource: &str) -> Self {
        Self::new(
            ErrorCode::Aborted,
            Reason::EtagMismatch,
            format!("the {resource} changed since its etag was read; read it again and retry"),
        )
    }

    /// W4: a fault of the service, logged with the error id its reply
    /// carries.
    pub fn internal(message: impl Into<String>) -> Self {
        let message = message.into();
        let error_id = new_error_id();
        tracing::error!(%error_id, %message, "internal error");
        Self::new(ErrorCode::Internal, Reason::Internal, message).with_error_id(&error_id)
    }

    /// W4: names the log line of this failure, in the ErrorInfo metadata
    /// `error_id` and in the message, so an operator can match them.
    pub fn with_error_id(mut self, error_id: &str) -> Self {
        self.message = format!("{} (error id {error_id})", self.message);
        self.with_metadata("error_id", error_id)
    }

    pub fn role_not_allowed(what: &str) -> Self {
        Self::permission_denied(Reason::RoleNotAllowed, format!("the caller's role may not {what}"))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {}: {}", self.code, self.reason.as_str(), self.message)
    }
}

impl std::error::Error for Error {}

/// Collects field violations so one reply names every invalid field. A
/// check that refused its field with a reason of its own (H2's
/// ENDPOINT_URL_FORBIDDEN) lends it to the reply.
#[derive(Default)]
pub struct Violations {
    list: Vec<FieldViolation>,
    reason: Option<Reason>,
}

impl Violations {
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.list.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    fn absorb(&mut self, error: Error) {
        if error.code == ErrorCode::InvalidArgument && error.reason != Reason::InvalidField {
            self.reason.get_or_insert(error.reason);
        }
        if error.violations.is_empty() {
            self.add("", error.message);
        } else {
            self.list.extend(error.violations);
        }
    }

    /// Records the violation of a check that returned one.
    pub fn check(&mut self, result: Result<()>) {
        if let Err(error) = result {
            self.absorb(error);
        }
    }

    /// Keeps the value of a check that passed, records the violation of one
    /// that failed.
    pub fn take<T>(&mut self, result: Result<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.absorb(error);
                None
            }
        }
    }

    pub fn into_result(self) -> Result<()> {
        if self.list.is_empty() {
            return Ok(());
        }
        let mut error = Error::invalid_fields(self.list);
        if let Some(reason) = self.reason {
            error.reason = reason;
        }
        Err(error)
    }
}
