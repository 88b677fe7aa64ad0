//! Access assignments (R3, R5, R6): some of a grant's roles given to one of
//! its partner's users or groups; what they may hold, how many a grant
//! has, and what becomes of them when their grant narrows or ends. Who may
//! make, change or end one is the RelationshipService's
//! (`service::relationships::assignments`); what they allow in a check is
//! `domain::access` (R7).

use crate::domain::error::{Error, ErrorCode, Reason, Result};
use crate::domain::model::{AccessAssignment, AssignmentEndCause, AssignmentState, DelegatedAdminGrant, Micros, Role};
use crate::domain::roles;

/// R5: the most ACTIVE assignments one grant has.
pub const MAX_ASSIGNMENTS_PER_GRANT: u64 = 100;

/// R5: assignments are made, and their roles changed, only on a grant in
/// force (ACTIVE and not past its end: D4 before the sweep).
pub fn require_grant_active(grant: &DelegatedAdminGrant, now: Micros) -> Result<()> {
    if grant.in_force(now) {
        return Ok(());
    }
    Err(Error::failed_precondition(
        Reason::GrantNotActive,
        format!(
            "grant {} is not in force ({}): assign roles on a grant in force",
            grant.id,
            if grant.state == crate::domain::model::GrantState::Active {
                "past its end_time"
            } else {
                grant.state.as_str()
            }
        ),
    ))
}

/// R5: an assignment's roles are a subset of its grant's; the ones the
/// grant lacks are named (FAILED_PRECONDITION, ROLE_NOT_IN_GRANT). The
/// roles come back in the enum's order.
pub fn assignable_roles(grant: &DelegatedAdminGrant, asked: &[Role]) -> Result<Vec<Role>> {
    let asked = roles::canonical(asked.to_vec());
    let missing: Vec<&str> = asked
        .iter()
        .filter(|role| !grant.roles.contains(role))
        .map(|role| role.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(Error::failed_precondition(
            Reason::RoleNotInGrant,
            format!(
                "grant {} does not hold {}: assign only roles the grant holds",
                grant.id,
                missing.join(", ")
            ),
        )
        .with_metadata("roles", missing.join(",")));
    }
    Ok(asked)
}

/// R5, W1: one ACTIVE assignment per grant and principal, decided inside
/// the write that would add another.
pub fn check_no_active_twin(twin: Option<&AccessAssignment>) -> Result<()> {
    match twin {
        None => Ok(()),
        Some(twin) => Err(Error::new(
            ErrorCode::AlreadyExists,
            Reason::AssignmentExists,
            format!(
                "assignment {} already gives this principal roles on the grant: update it instead",
                twin.id
            ),
        )
        .with_metadata("access_assignment_id", twin.id.clone())),
    }
}

/// R5, W1: a grant with `active` ACTIVE assignments takes one more while
/// it has fewer than 100; decided inside the write.
pub fn check_assignment_limit(active: u64) -> Result<()> {
    if active >= MAX_ASSIGNMENTS_PER_GRANT {
        return Err(Error::new(
            ErrorCode::ResourceExhausted,
            Reason::AssignmentLimitReached,
            format!("the grant has {active} active assignments, the most it may; delete one first"),
        ));
    }
    Ok(())
}

/// R5: only an ACTIVE assignment is changed or ended.
pub fn require_assignment_active(assignment: &AccessAssignment) -> Result<()> {
    if assignment.state == AssignmentState::Active {
        return Ok(());
    }
    Err(Error::failed_precondition(
        Reason::AssignmentNotActive,
        format!(
            "assignment {} has ended ({}); make a new one",
            assignment.id,
            assignment.end_cause.map(|c| c.as_str()).unwrap_or("ENDED")
        ),
    ))
}

/// R3-R6: an assignment ends for good, recording why.
pub fn end_assignment(assignment: &mut AccessAssignment, cause: AssignmentEndCause, now: Micros) {
    assignment.state = AssignmentState::Ended;
    assignment.end_cause = Some(cause);
    assignment.end_time = Some(now);
}

/// R3: when its grant keeps only `kept`, an ACTIVE assignment loses the
/// other roles; one left with none ends (ROLES_REMOVED). None: it keeps
/// every role it had (nothing to write). A wider grant later restores
/// nothing: what was stripped stays stripped.
pub fn strip_roles(assignment: &AccessAssignment, kept: &[Role], now: Micros) -> Option<AccessAssignment> {
    if assignment.roles.iter().all(|role| kept.contains(role)) {
        return None;
    }
    let mut stripped = assignment.clone();
    stripped.roles.retain(|role| kept.contains(role));
    if stripped.roles.is_empty() {
        end_assignment(&mut stripped, AssignmentEndCause::RolesRemoved, now);
    }
    Some(stripped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::{AssignmentPrincipal, GrantState, MICROS_PER_DAY, Service};

    const NOW: Micros = 100 * MICROS_PER_DAY;

    fn grant(roles: &[Role]) -> DelegatedAdminGrant {
        DelegatedAdminGrant {
            id: "g".into(),
            customer_id: "c".into(),
            partner_id: "p".into(),
            service: Service::Office365,
            scopes: roles::scopes_of(roles),
            roles: roles.to_vec(),
            state: GrantState::Active,
            start_time: 0,
            end_time: None,
            auto_extend: false,
            end_cause: None,
            end_note: None,
            notice_days: None,
            version: 1,
            update_time: 0,
        }
    }

    fn assignment(roles: &[Role]) -> AccessAssignment {
        AccessAssignment {
            id: "a".into(),
            grant_id: "g".into(),
            customer_id: "c".into(),
            partner_id: "p".into(),
            principal: AssignmentPrincipal::User("u".into()),
            roles: roles.to_vec(),
            state: AssignmentState::Active,
            end_cause: None,
            version: 1,
            create_time: 0,
            update_time: 0,
            end_time: None,
        }
    }

    #[test]
    fn r5_only_the_grants_roles_are_assigned_and_the_others_are_named() {
        let g = grant(&[Role::DirectoryReader, Role::HelpdeskAdmin]);
        assert_eq!(
            assignable_roles(&g, &[Role::HelpdeskAdmin, Role::DirectoryReader]).ok(),
            Some(vec![Role::DirectoryReader, Role::HelpdeskAdmin])
        );
        let refused =
            assignable_roles(&g, &[Role::UserAdmin, Role::HelpdeskAdmin, Role::GlobalAdmin]).expect_err("refused");
        assert_eq!(refused.reason, Reason::RoleNotInGrant);
        assert!(
            refused.message.contains("USER_ADMIN, GLOBAL_ADMIN"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn r5_a_grant_past_its_end_takes_no_assignment_before_the_sweep() {
        let mut g = grant(&[Role::DirectoryReader]);
        assert!(require_grant_active(&g, NOW).is_ok());
        g.end_time = Some(NOW);
        assert_eq!(
            require_grant_active(&g, NOW).err().map(|e| e.reason),
            Some(Reason::GrantNotActive)
        );
        g.end_time = None;
        g.state = GrantState::Revoked;
        assert_eq!(
            require_grant_active(&g, NOW).err().map(|e| e.reason),
            Some(Reason::GrantNotActive)
        );
    }

    #[test]
    fn r5_a_grant_has_at_most_100_active_assignments() {
        assert!(check_assignment_limit(99).is_ok());
        assert_eq!(
            check_assignment_limit(100).err().map(|e| e.reason),
            Some(Reason::AssignmentLimitReached)
        );
    }

    #[test]
    fn r3_stripping_roles_keeps_the_rest_and_ends_an_assignment_left_empty() {
        let a = assignment(&[Role::DirectoryReader, Role::UserAdmin]);
        assert_eq!(strip_roles(&a, &[Role::DirectoryReader, Role::UserAdmin], NOW), None);
        let narrowed = strip_roles(&a, &[Role::UserAdmin], NOW).expect("changed");
        assert_eq!(
            (narrowed.roles.as_slice(), narrowed.state),
            (&[Role::UserAdmin][..], AssignmentState::Active)
        );
        let ended = strip_roles(&a, &[Role::LicenseAdmin], NOW).expect("changed");
        assert_eq!(ended.state, AssignmentState::Ended);
        assert_eq!(ended.end_cause, Some(AssignmentEndCause::RolesRemoved));
        assert_eq!(ended.end_time, Some(NOW));
        assert_eq!(
            require_assignment_active(&ended).err().map(|e| e.reason),
            Some(Reason::AssignmentNotActive)
        );
    }
}
