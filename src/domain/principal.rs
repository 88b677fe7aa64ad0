//! Who calls: the four principals of the rules (`docs/rules.md`).

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// Staff of the cloud operator: sees and may do everything.
    Operator { subject: String },
    /// A user acting for one partner.
    Partner { partner_id: String },
    /// A global admin of one customer tenant.
    Customer { customer_id: String },
    /// Another backend service: every read, access checks, events; no writes.
    Service { subject: String },
}

impl Principal {
    /// How events name who made a change.
    pub fn actor(&self) -> String {
        match self {
            Principal::Operator { subject } => format!("operator:{subject}"),
            Principal::Partner { partner_id } => format!("partner:{partner_id}"),
            Principal::Customer { customer_id } => format!("customer:{customer_id}"),
            Principal::Service { subject } => format!("service:{subject}"),
        }
    }

    /// Operator and service read every tenant (P5, C4, I4, M2).
    pub fn reads_everything(&self) -> bool {
        matches!(self, Principal::Operator { .. } | Principal::Service { .. })
    }

    pub fn is_operator(&self) -> bool {
        matches!(self, Principal::Operator { .. })
    }

    pub fn partner_id(&self) -> Option<&str> {
        match self {
            Principal::Partner { partner_id } => Some(partner_id),
            _ => None,
        }
    }

    pub fn customer_id(&self) -> Option<&str> {
        match self {
            Principal::Customer { customer_id } => Some(customer_id),
            _ => None,
        }
    }
}

/// Who a verified token speaks for: one of the four principals of the
/// public services, or one of this service's own processes (the `internal`
/// role of the split deployment, minted by the processes from the secret
/// they share, never for a person). The public services refuse an internal
/// caller, and the internal service refuses everyone else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    Principal(Principal),
    Internal { subject: String },
}
