//! Delegated admin privileges (D, G, R1-R3): a grant's grantee, roles, end
//! and term, its notices, why it ended, and who revokes or supersedes it.

use crate::domain::error::{Error, ErrorCode, Reason, Result, Violations};
use crate::domain::model::{
    DelegatedAdminGrant, EndCause, GrantState, MICROS_PER_DAY, Micros, Partner, PartnerKind, Role, Scope, Service,
};
use crate::domain::principal::Principal;
use crate::domain::roles;
use crate::domain::validate::{MAX_ROLES, max_items};

/// R1 (W3): at most six roles, each named once.
pub fn distinct_roles(field: &str, asked: &[Role]) -> Result<()> {
    max_items(field, asked.len(), MAX_ROLES)?;
    let mut violations = Violations::default();
    for (i, role) in asked.iter().enumerate() {
        if asked[..i].contains(role) {
            violations.add(format!("{field}[{i}]"), format!("repeats {role}: name each role once"));
        }
    }
    violations.into_result()
}

/// R1: the roles a request asks for: `asked` as given (distinct), or, given
/// only scopes, the roles they read as (PROVISIONING: USER_ADMIN and
/// LICENSE_ADMIN; SUPPORT: HELPDESK_ADMIN). Both at once is INVALID_FIELD
/// on `roles_field`. None when neither is given: the caller's default.
pub fn requested_roles(roles_field: &str, scopes: &[Scope], asked: &[Role]) -> Result<Option<Vec<Role>>> {
    if !asked.is_empty() && !scopes.is_empty() {
        return Err(Error::invalid(
            roles_field,
            "give roles or scopes, not both: a grant's scopes follow from its roles",
        ));
    }
    if asked.is_empty() {
        return Ok((!scopes.is_empty()).then(|| roles::roles_for_scopes(scopes)));
    }
    distinct_roles(roles_field, asked)?;
    Ok(Some(roles::canonical(asked.to_vec())))
}

/// D1, R1: the roles a customer admin's grant is made with: as asked, or
/// as its scopes read; one of the two is required.
pub fn grant_roles(scopes: &[Scope], asked: &[Role]) -> Result<Vec<Role>> {
    requested_roles("roles", scopes, asked)?.ok_or_else(|| {
        Error::invalid(
            "scopes",
            "name roles, or scopes PROVISIONING, SUPPORT or both (they read as roles)",
        )
    })
}

/// R2, its one home: GLOBAL_ADMIN only in a grant with an end_time and no
/// auto_extend.
pub fn global_admin_term_allowed(roles: &[Role], has_end: bool, auto_extend: bool) -> bool {
    !roles.contains(&Role::GlobalAdmin) || (has_end && !auto_extend)
}

/// R2 on D1: a grant with GLOBAL_ADMIN needs a duration and no
/// auto_extend, else INVALID_ARGUMENT, GLOBAL_ADMIN_NOT_EXTENDABLE (naming
/// the field at fault).
pub fn check_global_admin_grant(roles: &[Role], duration_days: i32, auto_extend: bool) -> Result<()> {
    if global_admin_term_allowed(roles, duration_days != 0, auto_extend) {
        return Ok(());
    }
    let (field, description) = if duration_days == 0 {
        ("duration_days", "GLOBAL_ADMIN needs a duration of 1 to 730 days")
    } else {
        ("auto_extend", "GLOBAL_ADMIN is never extended: leave auto_extend off")
    };
    Err(Error::new(
        ErrorCode::InvalidArgument,
        Reason::GlobalAdminNotExtendable,
        format!("a grant with GLOBAL_ADMIN needs an end and no auto_extend (R2): {field}: {description}"),
    )
    .with_violation(field, description))
}

/// R2 on G3: a grant holding GLOBAL_ADMIN keeps an end_time and never
/// auto-extends: FAILED_PRECONDITION, GLOBAL_ADMIN_NOT_EXTENDABLE.
pub fn check_global_admin_term(
    grant_id: &str,
    roles: &[Role],
    end_time: Option<Micros>,
    auto_extend: bool,
) -> Result<()> {
    if global_admin_term_allowed(roles, end_time.is_some(), auto_extend) {
        return Ok(());
    }
    Err(Error::failed_precondition(
        Reason::GlobalAdminNotExtendable,
        format!(
            "grant {grant_id} holds GLOBAL_ADMIN, which is never extended: remove the role first (update_mask roles)"
        ),
    ))
}

/// R3: the roles a customer admin leaves a grant: a non-empty subset of its
/// own. Naming a role the grant does not hold is FAILED_PRECONDITION,
/// ROLE_NOT_IN_GRANT, naming them (more roles are a new D1 grant, which
/// replaces it in place).
pub fn narrowed_roles(grant: &DelegatedAdminGrant, kept: &[Role]) -> Result<Vec<Role>> {
    if kept.is_empty() {
        return Err(Error::invalid(
            "grant.roles",
            "name the roles the grant keeps: at least one",
        ));
    }
    let added: Vec<&str> = roles::canonical(kept.to_vec())
        .into_iter()
        .filter(|role| !grant.roles.contains(role))
        .map(Role::as_str)
        .collect();
    if !added.is_empty() {
        return Err(Error::failed_precondition(
            Reason::RoleNotInGrant,
            format!(
                "grant {} does not hold {}: roles are only removed; grant delegated admin anew for more",
                grant.id,
                added.join(", ")
            ),
        )
        .with_metadata("roles", added.join(",")));
    }
    Ok(roles::canonical(kept.to_vec()))
}

pub const MAX_GRANT_DAYS: i32 = 730;

/// D1: a grant's end: none, or 1 to 730 days; auto_extend needs an end.
pub fn grant_end(now: Micros, duration_days: i32, auto_extend: bool) -> Result<Option<Micros>> {
    match duration_days {
        0 if auto_extend => Err(Error::invalid("auto_extend", "needs a duration_days")),
        0 => Ok(None),
        1..=MAX_GRANT_DAYS => Ok(Some(now + i64::from(duration_days) * MICROS_PER_DAY)),
        _ => Err(Error::invalid(
            "duration_days",
            format!("must be between 1 and {MAX_GRANT_DAYS}, or 0 for no expiry"),
        )),
    }
}

/// D1: the grantee must be an ACTIVE partner that is not an ADVISOR. A
/// customer admin reads only ACTIVE partners (P5), so a suspended one is
/// refused exactly as an unknown id is (W2).
pub fn check_grantee(partner: Option<&Partner>) -> Result<&Partner> {
    let Some(partner) = partner.filter(|p| p.is_active()) else {
        return Err(Error::permission_denied(
            Reason::PartnerNotVisible,
            "no ACTIVE partner has this id",
        ));
    };
    if partner.kind == PartnerKind::Advisor {
        return Err(Error::permission_denied(
            Reason::PartnerKindNotAllowed,
            "an ADVISOR cannot hold delegated admin privileges",
        ));
    }
    Ok(partner)
}

/// D3: the customer admin revokes any grant on its tenant; a partner gives
/// up its own grant only.
pub fn check_grant_revoker(principal: &Principal, grant: &DelegatedAdminGrant) -> Result<()> {
    let allowed = match principal {
        Principal::Customer { customer_id } => customer_id == &grant.customer_id,
        Principal::Partner { partner_id } => partner_id == &grant.partner_id,
        _ => return Err(Error::role_not_allowed("revoke delegated admin privileges")),
    };
    if allowed {
        Ok(())
    } else {
        Err(Error::permission_denied(
            Reason::NotGrantParty,
            "only the customer's admin or the holder itself may revoke this grant",
        ))
    }
}

/// G2: the notice marks, in days before a grant's end, largest first.
pub const NOTICE_MARKS: [i32; 3] = [30, 7, 1];

/// G2: the last notice mark a grant ending at `end_time` has passed at
/// `now` (the smallest mark it is inside), None if none, or if it has no
/// end or auto-extends. A grant given its end (D1, G3) stores this: the
/// marks it is already inside count as passed.
pub fn notice_mark(end_time: Option<Micros>, auto_extend: bool, now: Micros) -> Option<i32> {
    let end = end_time.filter(|_| !auto_extend)?;
    NOTICE_MARKS
        .iter()
        .rev()
        .copied()
        .find(|mark| end - now <= i64::from(*mark) * MICROS_PER_DAY)
}

/// G2: the notice a sweep records for this grant at `now`: the smallest
/// mark it is inside, if that is further than the one it stored; None when
/// nothing is due (an ended grant, or one past its end, which D4 expires).
pub fn notice_due(grant: &DelegatedAdminGrant, now: Micros) -> Option<i32> {
    if grant.state != GrantState::Active || grant.end_time.is_none_or(|end| end <= now) {
        return None;
    }
    let mark = notice_mark(grant.end_time, grant.auto_extend, now)?;
    grant.notice_days.is_none_or(|stored| mark < stored).then_some(mark)
}

/// G4, D4: why a grant that leaves ACTIVE at `now` ended: the cause asked
/// for, unless the grant was already past its end, which D4 had ended it
/// at: then EXPIRED (and the note is dropped). So the recorded history is
/// the same whether or not the sweep ran first.
pub fn end_cause(grant: &DelegatedAdminGrant, asked: EndCause, now: Micros) -> EndCause {
    if grant.state == GrantState::Active && !grant.in_force(now) {
        EndCause::Expired
    } else {
        asked
    }
}

/// G3: the term a customer admin gives a grant in force: a new end_time
/// (1 to 730 days from now) and/or auto_extend on or off. auto_extend needs
/// an end_time; turning it off keeps the current term's end (D4's extended
/// end, if the grant is past its recorded one). Returns the new end_time
/// and auto_extend.
pub fn updated_grant_term(
    grant: &DelegatedAdminGrant,
    end_time: Option<Micros>,
    auto_extend: Option<bool>,
    now: Micros,
) -> Result<(Option<Micros>, bool)> {
    if !grant.in_force(now) {
        return Err(Error::failed_precondition(
            Reason::GrantNotInForce,
            format!(
                "grant {} is not in force (it is {}, or past its end); grant delegated admin anew instead",
                grant.id, grant.state
            ),
        ));
    }
    if let Some(end) = end_time {
        let (earliest, latest) = (now + MICROS_PER_DAY, now + i64::from(MAX_GRANT_DAYS) * MICROS_PER_DAY);
        if end < earliest || end > latest {
            return Err(Error::invalid(
                "grant.end_time",
                format!("must be 1 to {MAX_GRANT_DAYS} days from now"),
            ));
        }
    }
    let auto = auto_extend.unwrap_or(grant.auto_extend);
    let end = match (end_time, auto_extend) {
        (Some(end), _) => Some(end),
        // Turned off: the term now running ends when it would have.
        (None, Some(false)) if grant.auto_extend => grant.extended_end(now).or(grant.end_time),
        (None, _) => grant.end_time,
    };
    if auto && end.is_none() {
        return Err(Error::invalid(
            "grant.auto_extend",
            "auto_extend needs an end_time: set grant.end_time too",
        ));
    }
    Ok((end, auto))
}

/// D2, the decision (applied by `supersede_for_transacting` in `service::relationships::delegated_admin`):
/// when `winner` is transacting and holds a grant in force for `service`,
/// every other transacting holder's grant in force for it gives way; else
/// none does. `holders` pairs each ACTIVE grant of the customer for that
/// service with whether its holder is transacting.
pub fn grants_to_supersede<'a>(
    winner: &str,
    service: Service,
    holders: &'a [(DelegatedAdminGrant, bool)],
    now: Micros,
) -> Vec<&'a DelegatedAdminGrant> {
    let winner_holds = holders.iter().any(|(grant, transacting)| {
        *transacting && grant.partner_id == winner && grant.service == service && grant.in_force(now)
    });
    if !winner_holds {
        return Vec::new();
    }
    holders
        .iter()
        .filter(|(grant, transacting)| {
            *transacting && grant.partner_id != winner && grant.service == service && grant.in_force(now)
        })
        .map(|(grant, _)| grant)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rules::fixtures::*;

    #[test]
    fn r1_a_grant_has_roles_or_scopes_read_as_roles_never_both() {
        assert_eq!(
            grant_roles(&[Scope::Provisioning], &[]).ok(),
            Some(vec![Role::UserAdmin, Role::LicenseAdmin])
        );
        assert_eq!(
            grant_roles(&[], &[Role::BillingReader, Role::DirectoryReader]).ok(),
            Some(vec![Role::DirectoryReader, Role::BillingReader])
        );
        invalid_field(grant_roles(&[], &[]), "scopes");
        invalid_field(grant_roles(&[Scope::Support], &[Role::HelpdeskAdmin]), "roles");
        invalid_field(grant_roles(&[], &[Role::UserAdmin, Role::UserAdmin]), "roles[1]");
        invalid_field(grant_roles(&[], &[Role::UserAdmin; 7]), "roles");
    }

    #[test]
    fn r2_global_admin_only_with_an_end_and_no_auto_extend() {
        let global = [Role::GlobalAdmin];
        assert!(check_global_admin_grant(&global, 30, false).is_ok());
        assert!(check_global_admin_grant(&[Role::UserAdmin], 0, false).is_ok());
        for (days, auto_extend, field) in [(0, false, "duration_days"), (30, true, "auto_extend")] {
            let error = refused(
                check_global_admin_grant(&global, days, auto_extend),
                ErrorCode::InvalidArgument,
                Reason::GlobalAdminNotExtendable,
            );
            assert_eq!(error.violations[0].field, field);
        }
        assert!(check_global_admin_term("g", &global, Some(NOW), false).is_ok());
        for (end, auto_extend) in [(None, false), (Some(NOW), true)] {
            refused(
                check_global_admin_term("g", &global, end, auto_extend),
                ErrorCode::FailedPrecondition,
                Reason::GlobalAdminNotExtendable,
            );
        }
    }

    #[test]
    fn r3_roles_are_only_removed_and_one_stays() {
        let held = grant("p", Service::Azure, GrantState::Active, None);
        assert_eq!(
            narrowed_roles(&held, &[Role::LicenseAdmin, Role::HelpdeskAdmin]).ok(),
            Some(vec![Role::HelpdeskAdmin, Role::LicenseAdmin])
        );
        let error = refused(
            narrowed_roles(&held, &[Role::HelpdeskAdmin, Role::GlobalAdmin, Role::BillingReader]),
            ErrorCode::FailedPrecondition,
            Reason::RoleNotInGrant,
        );
        assert_eq!(
            error.metadata,
            [("roles".to_owned(), "BILLING_READER,GLOBAL_ADMIN".to_owned())]
        );
        invalid_field(narrowed_roles(&held, &[]), "grant.roles");
    }

    fn grant(partner_id: &str, service: Service, state: GrantState, end_time: Option<Micros>) -> DelegatedAdminGrant {
        DelegatedAdminGrant {
            id: format!("{partner_id}-{service}"),
            customer_id: "c".into(),
            partner_id: partner_id.into(),
            service,
            scopes: Scope::ALL.to_vec(),
            roles: vec![Role::HelpdeskAdmin, Role::UserAdmin, Role::LicenseAdmin],
            state,
            start_time: 0,
            end_time,
            auto_extend: false,
            end_cause: None,
            end_note: None,
            notice_days: None,
            version: 1,
            update_time: 0,
        }
    }

    #[test]
    fn g2_the_mark_passed_is_the_smallest_the_grant_is_inside() {
        let day = MICROS_PER_DAY;
        let mark = |days_left: i64| notice_mark(Some(NOW + days_left), false, NOW);
        assert_eq!(mark(31 * day), None);
        assert_eq!(mark(30 * day), Some(30));
        assert_eq!(
            mark(10 * day),
            Some(30),
            "a 10-day grant is inside the 30-day mark at once"
        );
        assert_eq!(mark(7 * day), Some(7));
        assert_eq!(mark(day + 1), Some(7));
        assert_eq!(mark(day), Some(1));
        assert_eq!(notice_mark(None, false, NOW), None, "no end");
        assert_eq!(notice_mark(Some(NOW + day), true, NOW), None, "auto_extend");
        let mut ten = grant("p", Service::Azure, GrantState::Active, Some(NOW + 10 * day));
        ten.notice_days = notice_mark(ten.end_time, false, NOW);
        assert_eq!(notice_due(&ten, NOW), None, "the 30-day mark counts as passed");
        assert_eq!(notice_due(&ten, NOW + 3 * day), Some(7));
        ten.notice_days = Some(7);
        assert_eq!(notice_due(&ten, NOW + 5 * day), None);
        // Past two marks at once: only the smallest is due.
        ten.notice_days = Some(30);
        assert_eq!(notice_due(&ten, NOW + 9 * day + 1), Some(1));
        assert_eq!(notice_due(&ten, NOW + 10 * day), None, "at its end D4 expires it");
        ten.state = GrantState::Revoked;
        assert_eq!(notice_due(&ten, NOW + 9 * day), None);
    }

    #[test]
    fn d1_grant_end_is_none_or_1_to_730_days() {
        assert_eq!(grant_end(NOW, 0, false).ok(), Some(None));
        assert_eq!(grant_end(NOW, 1, false).ok(), Some(Some(NOW + MICROS_PER_DAY)));
        assert_eq!(grant_end(NOW, 730, true).ok(), Some(Some(NOW + 730 * MICROS_PER_DAY)));
        invalid_field(grant_end(NOW, 0, true), "auto_extend");
        for days in [-1, 731, i32::MIN, i32::MAX] {
            invalid_field(grant_end(NOW, days, false), "duration_days");
        }
    }

    #[test]
    fn d1_check_grantee_is_an_active_partner_not_an_advisor() {
        for kind in [
            PartnerKind::DirectReseller,
            PartnerKind::IndirectProvider,
            PartnerKind::IndirectReseller,
        ] {
            assert!(check_grantee(Some(&active("p", kind))).is_ok());
        }
        refused(
            check_grantee(Some(&active("p", PartnerKind::Advisor))),
            ErrorCode::PermissionDenied,
            Reason::PartnerKindNotAllowed,
        );
        let unknown = refused(
            check_grantee(None),
            ErrorCode::PermissionDenied,
            Reason::PartnerNotVisible,
        );
        let hidden = refused(
            check_grantee(Some(&suspended("p", PartnerKind::DirectReseller))),
            ErrorCode::PermissionDenied,
            Reason::PartnerNotVisible,
        );
        assert_eq!(hidden, unknown, "a suspended grantee looks like an unknown one (W2)");
    }

    #[test]
    fn d3_check_grant_revoker_is_the_customer_admin_or_the_holder() {
        let held = grant("holder", Service::Azure, GrantState::Active, None);
        assert!(check_grant_revoker(&as_customer("c"), &held).is_ok());
        assert!(check_grant_revoker(&as_partner("holder"), &held).is_ok());
        for principal in [as_customer("other"), as_partner("other")] {
            refused(
                check_grant_revoker(&principal, &held),
                ErrorCode::PermissionDenied,
                Reason::NotGrantParty,
            );
        }
        for principal in [operator(), service()] {
            refused(
                check_grant_revoker(&principal, &held),
                ErrorCode::PermissionDenied,
                Reason::RoleNotAllowed,
            );
        }
    }
}
