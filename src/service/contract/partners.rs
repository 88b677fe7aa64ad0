//! The PartnerService's contract (P1-P5): the `Partners` trait, its
//! commands, and P4's caller gate, which every service runs through it.

use async_trait::async_trait;
use serde::Serialize;

use crate::domain::model::{LinkState, Partner, PartnerKind, PartnerLink, PartnerStatus};
use crate::domain::paging::Page;
use crate::domain::principal::Principal;
use crate::domain::{Reason, Result, rules};

/// The PartnerService in domain types: what callers, and the other two
/// services, ask of partners and links.
#[async_trait]
pub trait Partners: Send + Sync + 'static {
    /// P1: only the operator creates partners; a duplicate mpn_id is
    /// ALREADY_EXISTS.
    async fn create_partner(&self, principal: &Principal, command: CreatePartner) -> Result<Partner>;

    /// P5: a partner reads itself and the partners it is linked with; a
    /// customer admin any ACTIVE partner; operator and service all. The
    /// other services read a partner as the service principal (e.g. P4's
    /// gate, see `require_active_caller`).
    async fn get_partner(&self, principal: &Principal, id: &str) -> Result<Partner>;

    /// P5: the partners the caller may read, in id order.
    async fn list_partners(&self, principal: &Principal, command: ListPartners) -> Result<Page<Partner>>;

    /// P3: the operator changes kind and status; an ACTIVE partner may
    /// rename itself.
    async fn update_partner(&self, principal: &Principal, command: UpdatePartner) -> Result<Partner>;

    /// P2, L1: links an INDIRECT_PROVIDER with an INDIRECT_RESELLER: the
    /// operator's link is ACTIVE at once, the provider's PENDING until its
    /// reseller accepts.
    async fn link_indirect_reseller(&self, principal: &Principal, command: LinkIndirectReseller)
    -> Result<PartnerLink>;

    /// L2, L3: the provider withdraws the pair's PENDING link; either side or
    /// the operator ends its ACTIVE or SUSPENDED one (REVOKED).
    async fn unlink_indirect_reseller(
        &self,
        principal: &Principal,
        command: UnlinkIndirectReseller,
    ) -> Result<PartnerLink>;

    /// L2: the reseller accepts the pair's PENDING link (ACTIVE, then D2).
    async fn accept_partner_link(&self, principal: &Principal, command: NamedLink) -> Result<PartnerLink>;

    /// L2: the reseller declines the pair's PENDING link (DECLINED).
    async fn decline_partner_link(&self, principal: &Principal, command: NamedLink) -> Result<PartnerLink>;

    /// L3: the provider or the operator suspends the pair's ACTIVE link.
    async fn suspend_partner_link(&self, principal: &Principal, command: NamedLink) -> Result<PartnerLink>;

    /// L3: the provider or the operator resumes the pair's SUSPENDED link
    /// (ACTIVE, then D2).
    async fn resume_partner_link(&self, principal: &Principal, command: NamedLink) -> Result<PartnerLink>;

    /// P5: links of one partner (as provider or reseller) or, for operator
    /// and service, of all, in id order.
    async fn list_partner_links(&self, principal: &Principal, command: ListPartnerLinks) -> Result<Page<PartnerLink>>;
}

/// P1: a valid partner (the adapter checks the request alone before the
/// caller's role, as "Which error wins" orders).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CreatePartner {
    pub mpn_id: String,
    /// Stored trimmed.
    pub display_name: String,
    pub kind: PartnerKind,
    /// ACTIVE when absent.
    pub status: Option<PartnerStatus>,
    pub request_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ListPartners {
    pub kind: Option<PartnerKind>,
    pub status: Option<PartnerStatus>,
    pub page_size: i32,
    pub page_token: String,
}

/// A field an update may change (an update mask's path).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum PartnerField {
    DisplayName,
    Kind,
    Status,
}

impl PartnerField {
    pub const ALL: [PartnerField; 3] = [PartnerField::DisplayName, PartnerField::Kind, PartnerField::Status];

    pub fn as_str(self) -> &'static str {
        match self {
            PartnerField::DisplayName => "display_name",
            PartnerField::Kind => "kind",
            PartnerField::Status => "status",
        }
    }
}

/// The valid values of the fields in `fields` (the update mask, never
/// empty); the adapter checks them before who may change which field (P3).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UpdatePartner {
    pub id: String,
    /// AIP-154: empty means "whatever the current version is".
    pub etag: String,
    pub fields: Vec<PartnerField>,
    /// Stored trimmed.
    pub display_name: String,
    /// Set when in `fields`.
    pub kind: Option<PartnerKind>,
    /// Set when in `fields`.
    pub status: Option<PartnerStatus>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LinkIndirectReseller {
    pub provider_id: String,
    pub reseller_id: String,
    pub request_id: Option<String>,
    /// L1: 0-90 (0: 30 days); the operator gives only 0.
    pub expire_after_days: i32,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnlinkIndirectReseller {
    pub provider_id: String,
    pub reseller_id: String,
    /// L3: at most 500 characters.
    pub note: Option<String>,
}

/// L2: the pair's newest link, by its provider and reseller, with the etag
/// the caller read (empty: any).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NamedLink {
    pub provider_id: String,
    pub reseller_id: String,
    pub etag: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ListPartnerLinks {
    /// Links where this partner is the provider or the reseller.
    pub partner_id: Option<String>,
    pub state: Option<LinkState>,
    pub page_size: i32,
    pub page_token: String,
}

/// P4, the one home of the caller gate: a partner that is not ACTIVE is
/// refused every call (but GetPartner on itself and CheckAccess about
/// itself, which their RPCs decide), decided from the caller alone before
/// any lookup (W2). `reader` is the principal the gate reads the caller as
/// (the service principal of the asking service); a token naming a partner
/// that does not exist is PERMISSION_DENIED too. A read before the write:
/// a write then decides P4 again inside its transaction (W1).
pub async fn require_active_caller(partners: &dyn Partners, reader: &Principal, caller: &Principal) -> Result<()> {
    match caller {
        Principal::Partner { partner_id } => active_partner(partners, reader, partner_id).await.map(|_| ()),
        _ => Ok(()),
    }
}

/// P4: the calling partner `partner_id`, read as `reader`, refused unless
/// it exists and is ACTIVE (one that does not exist is PERMISSION_DENIED
/// too, as the gate answers). A read before the write: a write decides P4
/// again inside its transaction (W1).
pub async fn active_partner(partners: &dyn Partners, reader: &Principal, partner_id: &str) -> Result<Partner> {
    let partner = match partners.get_partner(reader, partner_id).await {
        Ok(partner) => Some(partner),
        Err(error) if error.reason == Reason::PartnerNotFound => None,
        Err(error) => return Err(error),
    };
    rules::require_active_caller(partner.as_ref()).cloned()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::domain::{Error, ErrorCode};

    /// A partner service that knows one partner, answers UNAVAILABLE for
    /// "down", and counts the reads of the gate.
    struct Directory {
        known: Partner,
        reads: Mutex<usize>,
    }

    fn unused<T>() -> Result<T> {
        Err(Error::internal("not used by the gate"))
    }

    #[async_trait]
    impl Partners for Directory {
        async fn create_partner(&self, _: &Principal, _: CreatePartner) -> Result<Partner> {
            unused()
        }
        async fn get_partner(&self, principal: &Principal, id: &str) -> Result<Partner> {
            assert!(principal.reads_everything(), "the gate reads as the service");
            *self.reads.lock().map_err(|_| Error::internal("poisoned"))? += 1;
            match id {
                "down" => Err(Error::new(
                    ErrorCode::Unavailable,
                    Reason::PeerUnavailable,
                    "the partner service is down",
                )),
                _ if id == self.known.id => Ok(self.known.clone()),
                _ => Err(Error::not_found(
                    Reason::PartnerNotFound,
                    format!("partner {id} does not exist"),
                )),
            }
        }
        async fn list_partners(&self, _: &Principal, _: ListPartners) -> Result<Page<Partner>> {
            unused()
        }
        async fn update_partner(&self, _: &Principal, _: UpdatePartner) -> Result<Partner> {
            unused()
        }
        async fn link_indirect_reseller(&self, _: &Principal, _: LinkIndirectReseller) -> Result<PartnerLink> {
            unused()
        }
        async fn unlink_indirect_reseller(&self, _: &Principal, _: UnlinkIndirectReseller) -> Result<PartnerLink> {
            unused()
        }
        async fn list_partner_links(&self, _: &Principal, _: ListPartnerLinks) -> Result<Page<PartnerLink>> {
            unused()
        }
        async fn accept_partner_link(&self, _: &Principal, _: NamedLink) -> Result<PartnerLink> {
            unused()
        }
        async fn decline_partner_link(&self, _: &Principal, _: NamedLink) -> Result<PartnerLink> {
            unused()
        }
        async fn suspend_partner_link(&self, _: &Principal, _: NamedLink) -> Result<PartnerLink> {
            unused()
        }
        async fn resume_partner_link(&self, _: &Principal, _: NamedLink) -> Result<PartnerLink> {
            unused()
        }
    }

    fn directory(status: PartnerStatus) -> Directory {
        Directory {
            known: Partner {
                id: "known".into(),
                mpn_id: "1234567".into(),
                display_name: "Contoso".into(),
                kind: PartnerKind::DirectReseller,
                status,
                version: 1,
                create_time: 0,
                update_time: 0,
            },
            reads: Mutex::new(0),
        }
    }

    async fn gate(directory: &Directory, caller: Principal) -> Result<()> {
        let reader = Principal::Service { subject: "test".into() };
        require_active_caller(directory, &reader, &caller).await
    }

    fn partner(id: &str) -> Principal {
        Principal::Partner { partner_id: id.into() }
    }

    /// P4's gate, its truth table: only a partner caller is read; ACTIVE
    /// passes; SUSPENDED is PARTNER_NOT_ACTIVE; a partner that does not
    /// exist is PERMISSION_DENIED (never NOT_FOUND); any other failure of
    /// the read is passed on, never taken for an answer.
    #[tokio::test]
    async fn p4_gate_truth_table() {
        let active = directory(PartnerStatus::Active);
        for caller in [
            Principal::Operator { subject: "ops".into() },
            Principal::Service {
                subject: "billing".into(),
            },
            Principal::Customer {
                customer_id: "known".into(),
            },
        ] {
            assert_eq!(gate(&active, caller).await, Ok(()));
        }
        assert_eq!(*active.reads.lock().unwrap(), 0, "only partner callers are read");
        assert_eq!(gate(&active, partner("known")).await, Ok(()));

        let suspended = directory(PartnerStatus::Suspended);
        let refused = gate(&suspended, partner("known")).await.unwrap_err();
        assert_eq!(
            (refused.code, refused.reason),
            (ErrorCode::PermissionDenied, Reason::PartnerNotActive)
        );
        let refused = gate(&suspended, partner("unknown")).await.unwrap_err();
        assert_eq!(
            (refused.code, refused.reason),
            (ErrorCode::PermissionDenied, Reason::PartnerNotFound)
        );
        let failed = gate(&suspended, partner("down")).await.unwrap_err();
        assert_eq!(
            (failed.code, failed.reason),
            (ErrorCode::Unavailable, Reason::PeerUnavailable)
        );
    }
}
