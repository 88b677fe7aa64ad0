//! R5: access assignments. A grant's partner gives some of the grant's roles
//! to one of its users or security groups; it or the operator changes or
//! ends them, the customer's admin may end them, services read them.
//! Another tenant's assignment, known or not, is refused alike (W2). What
//! they allow is R7's (`domain::access`); the cascades of grants and groups
//! onto them are the store's (`store::assignments`), run in the
//! transaction that changes the grant or group.

use super::LocalRelationships;
use crate::domain::model::{AccessAssignment, AssignmentPrincipal, AssignmentState, DelegatedAdminGrant, etag};
use crate::domain::paging::{Page, PageRequest};
use crate::domain::principal::Principal;
use crate::domain::{Error, Reason, Result, rules};
use crate::service::contract::relationships::{
    CreateAccessAssignment, DeleteAccessAssignment, ListAccessAssignments, UpdateAccessAssignment,
};
use crate::service::request_key;
use crate::store::{AssignmentFilter, WriteTx, new_id};

/// R5, W2: the one refusal for an assignment the caller may not read,
/// known or not.
fn not_visible() -> Error {
    Error::permission_denied(
        Reason::AssignmentNotVisible,
        "a partner reads only its own access assignments, a customer's admin only its customer's",
    )
}

fn assignment_not_found(id: &str) -> Error {
    Error::not_found(
        Reason::AssignmentNotFound,
        format!("access assignment {id} does not exist"),
    )
}

/// AIP-154: an etag, if given, must be the assignment's.
fn check_etag(assignment: &AccessAssignment, given: &str) -> Result<()> {
    if given.is_empty() || etag(assignment.version) == given {
        Ok(())
    } else {
        Err(Error::stale_etag("access assignment"))
    }
}

/// R5: who changes assignments: a partner (its own) and the operator.
fn require_writer(principal: &Principal) -> Result<()> {
    match principal {
        Principal::Partner { .. } | Principal::Operator { .. } => Ok(()),
        Principal::Customer { .. } | Principal::Service { .. } => {
            Err(Error::role_not_allowed("make or change access assignments"))
        }
    }
}

/// R5, W2: the assignment as the caller may see it: its partner's, its
/// customer's admin's, and every one to the operator and services (to
/// whom alone an unknown id is NOT_FOUND).
fn see(principal: &Principal, id: &str, found: Option<AccessAssignment>) -> Result<AccessAssignment> {
    match (principal, found) {
        (Principal::Partner { partner_id }, Some(a)) if a.partner_id == *partner_id => Ok(a),
        (Principal::Customer { customer_id }, Some(a)) if a.customer_id == *customer_id => Ok(a),
        (Principal::Partner { .. } | Principal::Customer { .. }, _) => Err(not_visible()),
        (_, Some(a)) => Ok(a),
        (_, None) => Err(assignment_not_found(id)),
    }
}

/// R5, W2: the grant an assignment is made on: the calling partner's own
/// (another's, or an unknown id, is refused alike); any to the operator.
async fn assignable_grant(tx: &WriteTx, principal: &Principal, grant_id: &str) -> Result<DelegatedAdminGrant> {
    match (principal, tx.grant(grant_id).await?) {
        (Principal::Partner { partner_id }, Some(grant)) if grant.partner_id == *partner_id => Ok(grant),
        (Principal::Partner { .. }, _) => Err(Error::permission_denied(
            Reason::NotGrantParty,
            "a partner assigns roles only on its own grants",
        )),
        (_, Some(grant)) => Ok(grant),
        (_, None) => Err(Error::not_found(
            Reason::GrantNotFound,
            format!("grant {grant_id} does not exist"),
        )),
    }
}

/// R4, R5: a group principal is one of the grant's partner's groups;
/// another partner's group, known or not, is refused like in R4.
async fn check_group_principal(
    tx: &WriteTx,
    principal: &Principal,
    grant: &DelegatedAdminGrant,
    group_id: &str,
) -> Result<()> {
    match (principal, tx.security_group(group_id).await?) {
        (_, Some(group)) if group.partner_id == grant.partner_id => Ok(()),
        (Principal::Operator { .. }, None) => Err(Error::not_found(
            Reason::GroupNotFound,
            format!("security group {group_id} does not exist"),
        )),
        _ => Err(Error::permission_denied(
            Reason::GroupNotVisible,
            "roles are assigned only to the grant's partner's own security groups",
        )),
    }
}

impl LocalRelationships {
    /// R5: on a grant in force its partner (or the operator) assigns a
    /// non-empty subset of the grant's roles to one user or group of the
    /// partner's; one ACTIVE assignment per grant and principal, at most
    /// 100 per grant, both decided inside the write (W1).
    pub(super) async fn create_access_assignment(
        &self,
        principal: &Principal,
        command: CreateAccessAssignment,
    ) -> Result<AccessAssignment> {
        let key = request_key(
            principal,
            "CreateAccessAssignment",
            command.request_id.as_deref(),
            &command,
        )?;
        require_writer(principal)?;
        self.gate(principal).await?;
        let mut tx = self.store.begin_write(principal.actor()).await?;
        if let Some(id) = tx.replayed(key.as_ref()).await? {
            return tx
                .access_assignment(&id)
                .await?
                .ok_or_else(|| assignment_not_found(&id));
        }
        let grant = assignable_grant(&tx, principal, &command.grant_id).await?;
        if let AssignmentPrincipal::SecurityGroup(group_id) = &command.principal {
            check_group_principal(&tx, principal, &grant, group_id).await?;
        }
        let now = tx.now();
        rules::require_grant_active(&grant, now)?;
        let roles = rules::assignable_roles(&grant, &command.roles)?;
        rules::check_no_active_twin(tx.active_assignment_to(&grant.id, &command.principal).await?.as_ref())?;
        rules::check_assignment_limit(tx.count_active_assignments(&grant.id).await?)?;
        let assignment = AccessAssignment {
            id: new_id(),
            grant_id: grant.id.clone(),
            customer_id: grant.customer_id.clone(),
            partner_id: grant.partner_id.clone(),
            principal: command.principal,
            roles,
            state: AssignmentState::Active,
            end_cause: None,
            version: 1,
            create_time: now,
            update_time: now,
            end_time: None,
        };
        tx.insert_access_assignment(&assignment).await?;
        tx.remember(key.as_ref(), &assignment.id).await?;
        tx.commit().await?;
        tracing::info!(access_assignment_id = %assignment.id, grant_id = %assignment.grant_id, principal = ?assignment.principal, roles = ?assignment.roles, "access assignment created");
        Ok(assignment)
    }

    /// R5.
    pub(super) async fn get_access_assignment(&self, principal: &Principal, id: &str) -> Result<AccessAssignment> {
        self.gate(principal).await?;
        let found = self.store.access_assignment(id).await?;
        see(principal, id, found)
    }

    /// R5: a partner's own (naming another partner is refused), a
    /// customer's admin's customer's, anyone's to the operator and
    /// services; in id order.
    pub(super) async fn list_access_assignments(
        &self,
        principal: &Principal,
        command: ListAccessAssignments,
    ) -> Result<Page<AccessAssignment>> {
        self.gate(principal).await?;
        let mut filter = AssignmentFilter {
            partner_id: command.partner_id.clone(),
            customer_id: command.customer_id.clone(),
            grant_id: command.grant_id.clone(),
            principal: command.principal.clone(),
            state: command.state,
        };
        match principal {
            Principal::Partner { partner_id } => match &filter.partner_id {
                Some(asked) if asked != partner_id => return Err(not_visible()),
                _ => filter.partner_id = Some(partner_id.clone()),
            },
            Principal::Customer { customer_id } => match &filter.customer_id {
                Some(asked) if asked != customer_id => return Err(not_visible()),
                _ => filter.customer_id = Some(customer_id.clone()),
            },
            Principal::Operator { .. } | Principal::Service { .. } => {}
        }
        let ListAccessAssignments {
            page_size, page_token, ..
        } = &command;
        let fingerprint = format!(
            "access_assignments|{:?}|{:?}|{:?}|{:?}|{:?}",
            filter.partner_id, filter.customer_id, filter.grant_id, filter.principal, filter.state
        );
        let page = PageRequest::parse(*page_size, page_token, &fingerprint)?;
        let rows = self.store.list_access_assignments(&filter, &page).await?;
        Ok(page.page(rows, |a: &AccessAssignment| a.id.clone()))
    }

    /// R5: an ACTIVE assignment's new roles, a non-empty subset of its
    /// grant's (in force); a stale etag is ABORTED. The same roles again
    /// change nothing (no event).
    pub(super) async fn update_access_assignment(
        &self,
        principal: &Principal,
        command: UpdateAccessAssignment,
    ) -> Result<AccessAssignment> {
        require_writer(principal)?;
        self.gate(principal).await?;
        let mut tx = self.store.begin_write(principal.actor()).await?;
        let found = tx.access_assignment(&command.id).await?;
        let mut assignment = see(principal, &command.id, found)?;
        check_etag(&assignment, &command.etag)?;
        rules::require_assignment_active(&assignment)?;
        let grant = tx
            .grant(&assignment.grant_id)
            .await?
            .ok_or_else(|| Error::internal(format!("assignment {} has no grant", assignment.id)))?;
        rules::require_grant_active(&grant, tx.now())?;
        let roles = rules::assignable_roles(&grant, &command.roles)?;
        if roles == assignment.roles {
            return Ok(assignment);
        }
        assignment.roles = roles;
        tx.update_access_assignment(&mut assignment).await?;
        tx.commit().await?;
        tracing::info!(access_assignment_id = %assignment.id, roles = ?assignment.roles, "access assignment updated");
        Ok(assignment)
    }

    /// R5: the partner, the operator or the customer's admin ends an
    /// ACTIVE assignment (REMOVED); it is kept, ENDED.
    pub(super) async fn delete_access_assignment(
        &self,
        principal: &Principal,
        command: DeleteAccessAssignment,
    ) -> Result<AccessAssignment> {
        if let Principal::Service { .. } = principal {
            return Err(Error::role_not_allowed("end access assignments"));
        }
        self.gate(principal).await?;
        let mut tx = self.store.begin_write(principal.actor()).await?;
        let found = tx.access_assignment(&command.id).await?;
        let mut assignment = see(principal, &command.id, found)?;
        check_etag(&assignment, &command.etag)?;
        rules::require_assignment_active(&assignment)?;
        rules::end_assignment(
            &mut assignment,
            crate::domain::model::AssignmentEndCause::Removed,
            tx.now(),
        );
        tx.update_access_assignment(&mut assignment).await?;
        tx.commit().await?;
        tracing::info!(access_assignment_id = %assignment.id, "access assignment removed");
        Ok(assignment)
    }
}
