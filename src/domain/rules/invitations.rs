//! Invitations (I): who invites, for how long and for what, who reads an
//! invitation, and when it may be accepted.

use super::{dedup, requested_roles};
use crate::domain::error::{Error, Reason, Result};
use crate::domain::model::{InvitationState, Micros, Partner, PartnerKind, RelationshipRequest, Role, Scope, Service};
use crate::domain::principal::Principal;
use crate::domain::roles;

/// I1: only ACTIVE DIRECT_RESELLER and INDIRECT_PROVIDER partners invite.
pub fn check_inviter(inviter: &Partner, names_reseller: bool) -> Result<()> {
    match inviter.kind {
        PartnerKind::IndirectReseller => Err(Error::permission_denied(
            Reason::IndirectResellerCannotInvite,
            "an indirect reseller cannot create relationship requests; use an invitation from your indirect provider",
        )),
        PartnerKind::Advisor => Err(Error::permission_denied(
            Reason::PartnerKindNotAllowed,
            "an ADVISOR may not create relationship requests",
        )),
        // I2: only a provider names an indirect reseller.
        PartnerKind::DirectReseller if names_reseller => Err(Error::invalid(
            "relationship_request.indirect_reseller_id",
            "only an INDIRECT_PROVIDER may name an indirect reseller",
        )),
        PartnerKind::DirectReseller | PartnerKind::IndirectProvider => Ok(()),
    }
}

pub const DEFAULT_INVITATION_DAYS: i32 = 90;
pub const MAX_INVITATION_DAYS: i32 = 365;

/// I3: days until an invitation expires: 0 means the default, at most 365.
pub fn invitation_days(requested: i32, default_days: i32) -> Result<i32> {
    match requested {
        0 => Ok(default_days),
        1..=MAX_INVITATION_DAYS => Ok(requested),
        _ => Err(Error::invalid(
            "expire_after_days",
            format!("must be between 1 and {MAX_INVITATION_DAYS}, or 0 for the default"),
        )),
    }
}

/// The field of an invitation's roles.
const ROLES_FIELD: &str = "relationship_request.delegated_admin_roles";

/// I3, R1, R2: the delegated admin an invitation asks for: all three
/// services unless narrowed, and the roles asked, or those its scopes read
/// as (R1), both scopes' when neither is given (USER_ADMIN, LICENSE_ADMIN,
/// HELPDESK_ADMIN). Its grants have no end, so GLOBAL_ADMIN is
/// INVALID_FIELD (R2). Returns the services and the roles (in the enum's
/// order); the invitation's scopes follow from the roles.
pub fn requested_dap(
    include: bool,
    services: Vec<Service>,
    scopes: Vec<Scope>,
    asked_roles: Vec<Role>,
) -> Result<(Vec<Service>, Vec<Role>)> {
    if !include {
        if !services.is_empty() || !scopes.is_empty() || !asked_roles.is_empty() {
            return Err(Error::invalid(
                "relationship_request.include_delegated_admin",
                "services, scopes and roles are asked only with include_delegated_admin",
            ));
        }
        return Ok((Vec::new(), Vec::new()));
    }
    let services = if services.is_empty() {
        Service::ALL.to_vec()
    } else {
        dedup(services)
    };
    let roles =
        requested_roles(ROLES_FIELD, &scopes, &asked_roles)?.unwrap_or_else(|| roles::roles_for_scopes(Scope::ALL));
    if let Some(at) = asked_roles.iter().position(|role| *role == Role::GlobalAdmin) {
        return Err(Error::invalid(
            format!("{ROLES_FIELD}[{at}]"),
            "an invitation's grants have no end, and GLOBAL_ADMIN needs one (R2): grant it with a duration instead",
        ));
    }
    Ok((services, roles))
}

/// I4: the inviting partner and the named reseller read an invitation;
/// operator and service read all.
pub fn can_read_invitation(principal: &Principal, invitation: &RelationshipRequest) -> bool {
    match principal {
        Principal::Operator { .. } | Principal::Service { .. } => true,
        Principal::Partner { partner_id } => {
            &invitation.inviting_partner_id == partner_id
                || invitation.indirect_reseller_id.as_deref() == Some(partner_id.as_str())
        }
        Principal::Customer { .. } => false,
    }
}

/// I5, I6: whether this customer may accept this invitation now. Checked
/// after the "accepted before" case, which always succeeds.
pub fn check_acceptable(invitation: &RelationshipRequest, customer_domain: &str, now: Micros) -> Result<()> {
    if let Some(bound) = &invitation.customer_domain
        && bound != customer_domain
    {
        return Err(Error::permission_denied(
            Reason::DomainMismatch,
            "this relationship request is for another customer's domain",
        ));
    }
    match invitation.effective_state(now) {
        InvitationState::Active => Ok(()),
        InvitationState::Revoked => Err(Error::failed_precondition(
            Reason::InvitationRevoked,
            "the partner revoked this relationship request",
        )),
        InvitationState::Expired => Err(Error::failed_precondition(
            Reason::InvitationExpired,
            "this relationship request has expired; ask the partner for a new one",
        )),
    }
}

/// I7: at acceptance the partners must still be ACTIVE.
pub fn require_active_party(partner: Option<&Partner>, role: &str) -> Result<()> {
    match partner {
        Some(partner) if partner.is_active() => Ok(()),
        _ => Err(Error::failed_precondition(
            Reason::PartnerNotActive,
            format!("the {role} is not ACTIVE"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::ErrorCode;
    use crate::domain::rules::fixtures::*;

    fn invitation(customer_domain: Option<&str>, state: InvitationState, expire_time: Micros) -> RelationshipRequest {
        RelationshipRequest {
            id: "i".into(),
            inviting_partner_id: "provider".into(),
            indirect_reseller_id: Some("reseller".into()),
            include_delegated_admin: false,
            delegated_admin_services: Vec::new(),
            delegated_admin_scopes: Vec::new(),
            delegated_admin_roles: Vec::new(),
            customer_domain: customer_domain.map(str::to_owned),
            code: "code".into(),
            state,
            expire_time,
            create_time: 0,
        }
    }

    #[test]
    fn i1_check_inviter_by_kind() {
        assert!(check_inviter(&active("p", PartnerKind::DirectReseller), false).is_ok());
        assert!(check_inviter(&active("p", PartnerKind::IndirectProvider), false).is_ok());
        assert!(check_inviter(&active("p", PartnerKind::IndirectProvider), true).is_ok());
        let error = refused(
            check_inviter(&active("p", PartnerKind::IndirectReseller), false),
            ErrorCode::PermissionDenied,
            Reason::IndirectResellerCannotInvite,
        );
        assert!(error.message.contains("indirect provider"), "{error}");
        refused(
            check_inviter(&active("p", PartnerKind::Advisor), false),
            ErrorCode::PermissionDenied,
            Reason::PartnerKindNotAllowed,
        );
    }

    #[test]
    fn i2_a_direct_resellers_invitation_may_not_name_a_reseller() {
        invalid_field(
            check_inviter(&active("p", PartnerKind::DirectReseller), true),
            "relationship_request.indirect_reseller_id",
        );
    }

    #[test]
    fn i3_invitation_days_default_and_bounds() {
        assert_eq!(invitation_days(0, DEFAULT_INVITATION_DAYS).ok(), Some(90));
        assert_eq!(invitation_days(1, DEFAULT_INVITATION_DAYS).ok(), Some(1));
        assert_eq!(invitation_days(365, DEFAULT_INVITATION_DAYS).ok(), Some(365));
        for days in [-1, 366, i32::MIN, i32::MAX] {
            invalid_field(invitation_days(days, DEFAULT_INVITATION_DAYS), "expire_after_days");
        }
    }

    #[test]
    fn i3_requested_dap_defaults_to_every_service_and_scope() {
        let both = vec![Role::HelpdeskAdmin, Role::UserAdmin, Role::LicenseAdmin];
        assert_eq!(
            requested_dap(true, Vec::new(), Vec::new(), Vec::new()).ok(),
            Some((Service::ALL.to_vec(), both))
        );
        assert_eq!(
            requested_dap(
                true,
                vec![Service::Azure, Service::Azure],
                vec![Scope::Support],
                Vec::new()
            )
            .ok(),
            Some((vec![Service::Azure], vec![Role::HelpdeskAdmin]))
        );
        assert_eq!(
            requested_dap(false, Vec::new(), Vec::new(), Vec::new()).ok(),
            Some((Vec::new(), Vec::new()))
        );
        invalid_field(
            requested_dap(false, vec![Service::Azure], Vec::new(), Vec::new()),
            "relationship_request.include_delegated_admin",
        );
        invalid_field(
            requested_dap(false, Vec::new(), vec![Scope::Support], Vec::new()),
            "relationship_request.include_delegated_admin",
        );
        invalid_field(
            requested_dap(false, Vec::new(), Vec::new(), vec![Role::DirectoryReader]),
            "relationship_request.include_delegated_admin",
        );
    }

    #[test]
    fn r1_r2_an_invitations_roles_are_distinct_alone_and_never_global_admin() {
        assert_eq!(
            requested_dap(
                true,
                Vec::new(),
                Vec::new(),
                vec![Role::BillingReader, Role::DirectoryReader]
            )
            .ok(),
            Some((Service::ALL.to_vec(), vec![Role::DirectoryReader, Role::BillingReader]))
        );
        invalid_field(
            requested_dap(true, Vec::new(), vec![Scope::Support], vec![Role::HelpdeskAdmin]),
            ROLES_FIELD,
        );
        invalid_field(
            requested_dap(true, Vec::new(), Vec::new(), vec![Role::UserAdmin, Role::UserAdmin]),
            "relationship_request.delegated_admin_roles[1]",
        );
        invalid_field(
            requested_dap(true, Vec::new(), Vec::new(), vec![Role::UserAdmin, Role::GlobalAdmin]),
            "relationship_request.delegated_admin_roles[1]",
        );
    }

    #[test]
    fn i4_can_read_invitation_by_role() {
        let named = invitation(None, InvitationState::Active, NOW);
        let unnamed = RelationshipRequest {
            indirect_reseller_id: None,
            ..named.clone()
        };
        for invitation in [&named, &unnamed] {
            assert!(can_read_invitation(&operator(), invitation));
            assert!(can_read_invitation(&service(), invitation));
            assert!(can_read_invitation(&as_partner("provider"), invitation));
            assert!(!can_read_invitation(&as_partner("other"), invitation));
            assert!(!can_read_invitation(&as_customer("c"), invitation));
        }
        assert!(can_read_invitation(&as_partner("reseller"), &named));
        assert!(!can_read_invitation(&as_partner("reseller"), &unnamed));
    }

    #[test]
    fn i5_i6_check_acceptable_by_domain_state_and_expiry() {
        let later = NOW + 1;
        assert!(check_acceptable(&invitation(None, InvitationState::Active, later), "a.cn", NOW).is_ok());
        assert!(check_acceptable(&invitation(Some("a.cn"), InvitationState::Active, later), "a.cn", NOW).is_ok());
        refused(
            check_acceptable(&invitation(Some("b.cn"), InvitationState::Active, later), "a.cn", NOW),
            ErrorCode::PermissionDenied,
            Reason::DomainMismatch,
        );
        refused(
            check_acceptable(&invitation(None, InvitationState::Revoked, later), "a.cn", NOW),
            ErrorCode::FailedPrecondition,
            Reason::InvitationRevoked,
        );
        // Expired by the clock, before any sweep marks it.
        refused(
            check_acceptable(&invitation(None, InvitationState::Active, NOW), "a.cn", NOW),
            ErrorCode::FailedPrecondition,
            Reason::InvitationExpired,
        );
        refused(
            check_acceptable(&invitation(None, InvitationState::Expired, later), "a.cn", NOW),
            ErrorCode::FailedPrecondition,
            Reason::InvitationExpired,
        );
    }

    #[test]
    fn i7_require_active_party_at_acceptance() {
        assert!(require_active_party(Some(&active("p", PartnerKind::IndirectProvider)), "provider").is_ok());
        for partner in [Some(suspended("p", PartnerKind::IndirectProvider)), None] {
            refused(
                require_active_party(partner.as_ref(), "provider"),
                ErrorCode::FailedPrecondition,
                Reason::PartnerNotActive,
            );
        }
    }
}
