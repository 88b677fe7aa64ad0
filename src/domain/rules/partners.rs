//! Partners and the indirect channel (P): who writes, who reads a partner,
//! and who manages a link.

use crate::domain::error::{Error, Reason, Result};
use crate::domain::model::{Partner, PartnerKind};
use crate::domain::principal::Principal;

/// P1 and every operator-only write.
pub fn require_operator(principal: &Principal, what: &str) -> Result<()> {
    if principal.is_operator() {
        Ok(())
    } else {
        Err(Error::role_not_allowed(what))
    }
}

/// P4: a partner that is not ACTIVE may not write.
pub fn require_active_caller(caller: Option<&Partner>) -> Result<&Partner> {
    match caller {
        Some(partner) if partner.is_active() => Ok(partner),
        Some(_) => Err(Error::permission_denied(
            Reason::PartnerNotActive,
            "the calling partner is suspended",
        )),
        None => Err(Error::permission_denied(
            Reason::PartnerNotFound,
            "the token names a partner that does not exist",
        )),
    }
}

/// P5: may the principal read this partner?
pub fn can_read_partner(principal: &Principal, partner: &Partner, linked_with_caller: bool) -> bool {
    match principal {
        Principal::Operator { .. } | Principal::Service { .. } => true,
        Principal::Partner { partner_id } => partner_id == &partner.id || linked_with_caller,
        Principal::Customer { .. } => partner.is_active(),
    }
}

/// P2: the operator or the provider itself manages a link.
pub fn require_link_manager(principal: &Principal, provider_id: &str) -> Result<()> {
    match principal {
        Principal::Operator { .. } => Ok(()),
        Principal::Partner { partner_id } if partner_id == provider_id => Ok(()),
        Principal::Partner { .. } => Err(Error::permission_denied(
            Reason::RoleNotAllowed,
            "only the operator or the provider itself may manage a provider's links",
        )),
        _ => Err(Error::role_not_allowed("manage partner links")),
    }
}

/// P2: a link joins an INDIRECT_PROVIDER and an INDIRECT_RESELLER, both ACTIVE.
pub fn check_link_parties(provider: &Partner, reseller: &Partner) -> Result<()> {
    if provider.kind != PartnerKind::IndirectProvider {
        return Err(Error::permission_denied(
            Reason::PartnerKindNotAllowed,
            format!(
                "provider {} is a {}, not an INDIRECT_PROVIDER",
                provider.id, provider.kind
            ),
        ));
    }
    if reseller.kind != PartnerKind::IndirectReseller {
        return Err(Error::permission_denied(
            Reason::PartnerKindNotAllowed,
            format!(
                "reseller {} is a {}, not an INDIRECT_RESELLER",
                reseller.id, reseller.kind
            ),
        ));
    }
    for party in [provider, reseller] {
        if !party.is_active() {
            return Err(Error::failed_precondition(
                Reason::PartnerNotActive,
                format!("partner {} is not ACTIVE", party.id),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::ErrorCode;
    use crate::domain::rules::fixtures::*;

    #[test]
    fn p1_require_operator_refuses_every_other_role() {
        assert!(require_operator(&operator(), "create partners").is_ok());
        for principal in [service(), as_partner("p"), as_customer("c")] {
            refused(
                require_operator(&principal, "create partners"),
                ErrorCode::PermissionDenied,
                Reason::RoleNotAllowed,
            );
        }
    }

    #[test]
    fn p2_require_link_manager_is_the_operator_or_the_provider_itself() {
        assert!(require_link_manager(&operator(), "provider").is_ok());
        assert!(require_link_manager(&as_partner("provider"), "provider").is_ok());
        for principal in [as_partner("other"), service(), as_customer("c")] {
            refused(
                require_link_manager(&principal, "provider"),
                ErrorCode::PermissionDenied,
                Reason::RoleNotAllowed,
            );
        }
    }

    #[test]
    fn p2_check_link_parties_needs_an_active_provider_and_reseller() {
        let provider = active("pr", PartnerKind::IndirectProvider);
        let reseller = active("re", PartnerKind::IndirectReseller);
        assert!(check_link_parties(&provider, &reseller).is_ok());
        for kind in [
            PartnerKind::DirectReseller,
            PartnerKind::IndirectReseller,
            PartnerKind::Advisor,
        ] {
            refused(
                check_link_parties(&active("x", kind), &reseller),
                ErrorCode::PermissionDenied,
                Reason::PartnerKindNotAllowed,
            );
        }
        for kind in [
            PartnerKind::DirectReseller,
            PartnerKind::IndirectProvider,
            PartnerKind::Advisor,
        ] {
            refused(
                check_link_parties(&provider, &active("x", kind)),
                ErrorCode::PermissionDenied,
                Reason::PartnerKindNotAllowed,
            );
        }
        refused(
            check_link_parties(&suspended("pr", PartnerKind::IndirectProvider), &reseller),
            ErrorCode::FailedPrecondition,
            Reason::PartnerNotActive,
        );
        refused(
            check_link_parties(&provider, &suspended("re", PartnerKind::IndirectReseller)),
            ErrorCode::FailedPrecondition,
            Reason::PartnerNotActive,
        );
    }

    #[test]
    fn p4_require_active_caller_refuses_a_suspended_or_unknown_partner() {
        let caller = active("p", PartnerKind::DirectReseller);
        assert_eq!(
            require_active_caller(Some(&caller)).map(|p| p.id.clone()).ok(),
            Some("p".into())
        );
        refused(
            require_active_caller(Some(&suspended("p", PartnerKind::DirectReseller))),
            ErrorCode::PermissionDenied,
            Reason::PartnerNotActive,
        );
        refused(
            require_active_caller(None),
            ErrorCode::PermissionDenied,
            Reason::PartnerNotFound,
        );
    }

    #[test]
    fn p5_can_read_partner_by_role_link_and_status() {
        let target = active("t", PartnerKind::IndirectReseller);
        let hidden = suspended("t", PartnerKind::IndirectReseller);
        for partner in [&target, &hidden] {
            assert!(can_read_partner(&operator(), partner, false));
            assert!(can_read_partner(&service(), partner, false));
            assert!(can_read_partner(&as_partner("t"), partner, false), "itself");
            assert!(can_read_partner(&as_partner("x"), partner, true), "a linked partner");
            assert!(
                !can_read_partner(&as_partner("x"), partner, false),
                "an unlinked partner"
            );
        }
        assert!(can_read_partner(&as_customer("c"), &target, false));
        assert!(
            !can_read_partner(&as_customer("c"), &hidden, false),
            "a customer reads ACTIVE partners only"
        );
    }
}
