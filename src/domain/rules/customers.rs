//! Customers (C): who creates one and the rows it starts with, and who
//! reads one.

use super::{refuse_unless_allowed, with_article};
use crate::domain::access::Decision;
use crate::domain::error::{Error, Reason, Result};
use crate::domain::model::{
    DelegatedAdminGrant, GrantState, Micros, Partner, PartnerKind, Relationship, RelationshipKind, RelationshipSource,
    RelationshipState, Role, Service,
};
use crate::domain::roles;

/// C1: who may create a customer, and who gets the relationship and DAP.
pub fn check_customer_creator(creator: &Partner, names_reseller: bool) -> Result<()> {
    match creator.kind {
        PartnerKind::DirectReseller if names_reseller => Err(Error::invalid(
            "indirect_reseller_id",
            "only an INDIRECT_PROVIDER may name an indirect reseller",
        )),
        PartnerKind::DirectReseller | PartnerKind::IndirectProvider => Ok(()),
        PartnerKind::IndirectReseller | PartnerKind::Advisor => Err(Error::permission_denied(
            Reason::PartnerKindNotAllowed,
            format!("{} may not create customers", with_article(creator.kind)),
        )),
    }
}

/// C1, I2, I7: a named indirect reseller must be ACTIVE and ACTIVE-linked to
/// the provider.
pub fn check_reseller_linked(reseller: Option<&Partner>, linked: bool) -> Result<()> {
    match reseller {
        Some(reseller) if linked && reseller.is_active() => Ok(()),
        _ => Err(Error::failed_precondition(
            Reason::ResellerNotLinked,
            "the indirect reseller is not ACTIVE-linked to this provider",
        )),
    }
}

const NO_VIEW: &str = "the partner has no relationship with this customer";

/// C4, W2: the PERMISSION_DENIED a partner gets for any customer it may not
/// read, existing or not, and for anything of such a customer.
pub fn cannot_view() -> Error {
    Error::permission_denied(Reason::NoRelationship, NO_VIEW)
}

/// C4: the PERMISSION_DENIED a partner gets for any customer it may not
/// read, existing or not.
pub fn require_view(decision: &Decision) -> Result<()> {
    refuse_unless_allowed(decision, Reason::NoRelationship, NO_VIEW)
}

/// C1: every role but GLOBAL_ADMIN (R1), which needs an end (R2).
pub const CREATOR_ROLES: [Role; 5] = [
    Role::DirectoryReader,
    Role::HelpdeskAdmin,
    Role::UserAdmin,
    Role::LicenseAdmin,
    Role::BillingReader,
];

/// C1: the rows a partner's new tenant starts with: the creator's RESELLER
/// relationship, the named reseller's INDIRECT_RESELLER relationship, and
/// DAP for every service with every role but GLOBAL_ADMIN (so both scopes)
/// and no end to the one that does the work (the named reseller, else the
/// creator).
pub fn creator_rights(
    customer_id: &str,
    creator_id: &str,
    reseller_id: Option<&str>,
    now: Micros,
    mut new_id: impl FnMut() -> String,
) -> (Vec<Relationship>, Vec<DelegatedAdminGrant>) {
    let mut relationship = |partner_id: &str, kind, indirect_provider_id: Option<&str>| Relationship {
        id: new_id(),
        customer_id: customer_id.to_owned(),
        partner_id: partner_id.to_owned(),
        kind,
        indirect_provider_id: indirect_provider_id.map(str::to_owned),
        state: RelationshipState::Active,
        source: RelationshipSource::CustomerCreation,
        relationship_request_id: None,
        start_time: now,
        end_time: None,
        end_cause: None,
    };
    let mut relationships = vec![relationship(creator_id, RelationshipKind::Reseller, None)];
    if let Some(reseller_id) = reseller_id {
        relationships.push(relationship(
            reseller_id,
            RelationshipKind::IndirectReseller,
            Some(creator_id),
        ));
    }
    let holder = reseller_id.unwrap_or(creator_id);
    let grants = Service::ALL
        .iter()
        .map(|service| DelegatedAdminGrant {
            id: new_id(),
            customer_id: customer_id.to_owned(),
            partner_id: holder.to_owned(),
            service: *service,
            scopes: roles::scopes_of(&CREATOR_ROLES),
            roles: CREATOR_ROLES.to_vec(),
            state: GrantState::Active,
            start_time: now,
            end_time: None,
            auto_extend: false,
            end_cause: None,
            end_note: None,
            notice_days: None,
            version: 1,
            update_time: now,
        })
        .collect();
    (relationships, grants)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::AccessReason;
    use crate::domain::error::ErrorCode;
    use crate::domain::rules::fixtures::*;

    #[test]
    fn c1_check_customer_creator_by_kind() {
        assert!(check_customer_creator(&active("p", PartnerKind::DirectReseller), false).is_ok());
        assert!(check_customer_creator(&active("p", PartnerKind::IndirectProvider), false).is_ok());
        assert!(check_customer_creator(&active("p", PartnerKind::IndirectProvider), true).is_ok());
        invalid_field(
            check_customer_creator(&active("p", PartnerKind::DirectReseller), true),
            "indirect_reseller_id",
        );
        for kind in [PartnerKind::IndirectReseller, PartnerKind::Advisor] {
            for names_reseller in [false, true] {
                refused(
                    check_customer_creator(&active("p", kind), names_reseller),
                    ErrorCode::PermissionDenied,
                    Reason::PartnerKindNotAllowed,
                );
            }
        }
    }

    #[test]
    fn c1_check_reseller_linked_needs_an_active_linked_reseller() {
        let reseller = active("r", PartnerKind::IndirectReseller);
        assert!(check_reseller_linked(Some(&reseller), true).is_ok());
        for (partner, linked) in [
            (Some(&reseller), false),
            (Some(&suspended("r", PartnerKind::IndirectReseller)), true),
            (None, true),
            (None, false),
        ] {
            refused(
                check_reseller_linked(partner, linked),
                ErrorCode::FailedPrecondition,
                Reason::ResellerNotLinked,
            );
        }
    }

    #[test]
    fn c4_require_view_tells_a_suspended_partner_so_and_hides_the_rest() {
        assert!(require_view(&decision(true, AccessReason::ActiveRelationship)).is_ok());
        refused(
            require_view(&decision(false, AccessReason::PartnerNotActive)),
            ErrorCode::PermissionDenied,
            Reason::PartnerNotActive,
        );
        for reason in [AccessReason::NoRelationship, AccessReason::PartnerNotFound] {
            let error = refused(
                require_view(&decision(false, reason)),
                ErrorCode::PermissionDenied,
                Reason::NoRelationship,
            );
            assert_eq!(error, cannot_view(), "an unknown customer looks like any other (W2)");
        }
    }
}
