//! The one error type of the service. Every failure carries a canonical code
//! and an UPPER_SNAKE reason from DOMAIN.md; the gRPC adapter maps it onto a
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
    Internal,
}

macro_rules! reasons {
    ($($variant:ident => $name:literal),* $(,)?) => {
        /// The `reason` of a `google.rpc.ErrorInfo`: the names of DOMAIN.md.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Reason { $($variant),* }

        impl Reason {
            pub fn as_str(self) -> &'static str {
                match self { $(Reason::$variant => $name),* }
            }
        }
    };
}

reasons! {
    InvalidField => "INVALID_FIELD",
    RequestIdReused => "REQUEST_ID_REUSED",
    TokenMissing => "TOKEN_MISSING",
    TokenInvalid => "TOKEN_INVALID",
    TokenExpired => "TOKEN_EXPIRED",
    RoleNotAllowed => "ROLE_NOT_ALLOWED",
    TenantMismatch => "TENANT_MISMATCH",
    PartnerNotVisible => "PARTNER_NOT_VISIBLE",
    NoRelationship => "NO_RELATIONSHIP",
    PartnerKindNotAllowed => "PARTNER_KIND_NOT_ALLOWED",
    PartnerNotActive => "PARTNER_NOT_ACTIVE",
    ResellerNotLinked => "RESELLER_NOT_LINKED",
    NotTransacting => "NOT_TRANSACTING",
    NotPartnerOfRecord => "NOT_PARTNER_OF_RECORD",
    IndirectResellerCannotInvite => "INDIRECT_RESELLER_CANNOT_INVITE",
    InvitationNotFound => "INVITATION_NOT_FOUND",
    InvitationRevoked => "INVITATION_REVOKED",
    InvitationExpired => "INVITATION_EXPIRED",
    DomainMismatch => "DOMAIN_MISMATCH",
    ActiveSubscriptions => "ACTIVE_SUBSCRIPTIONS",
    MpnIdTaken => "MPN_ID_TAKEN",
    DomainTaken => "DOMAIN_TAKEN",
    LinkExists => "LINK_EXISTS",
    PartnerNotFound => "PARTNER_NOT_FOUND",
    CustomerNotFound => "CUSTOMER_NOT_FOUND",
    SubscriptionNotFound => "SUBSCRIPTION_NOT_FOUND",
    LinkNotFound => "LINK_NOT_FOUND",
    GrantNotFound => "GRANT_NOT_FOUND",
    EtagMismatch => "ETAG_MISMATCH",
    StoreUnavailable => "STORE_UNAVAILABLE",
    Timeout => "TIMEOUT",
    Internal => "INTERNAL",
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

    /// INVALID_ARGUMENT with one field violation.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::invalid_fields(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }

    pub fn invalid_fields(violations: Vec<FieldViolation>) -> Self {
        let message = violations
            .iter()
            .map(|v| format!("{}: {}", v.field, v.description))
            .collect::<Vec<_>>()
            .join("; ");
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

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, Reason::Internal, message)
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

/// Collects field violations so one reply names every invalid field.
#[derive(Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Records the violation of a check that returned one.
    pub fn check(&mut self, result: Result<()>) {
        if let Err(error) = result {
            self.0.extend(error.violations);
        }
    }

    /// Keeps the value of a check that passed, records the violation of one
    /// that failed.
    pub fn take<T>(&mut self, result: Result<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                if error.violations.is_empty() {
                    self.add("", error.message);
                } else {
                    self.0.extend(error.violations);
                }
                None
            }
        }
    }

    pub fn into_result(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::invalid_fields(self.0))
        }
    }
}
