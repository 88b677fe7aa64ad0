//! R4: security groups. A partner keeps its groups of its users; only it or
//! the operator changes them, services read them, customers' admins do
//! neither. Another partner's group, known or not, is refused alike (W2).
//! R8's audience of their events is the store's (`store::write::audience`).

use super::LocalRelationships;
use crate::domain::model::{SecurityGroup, etag};
use crate::domain::paging::{Page, PageRequest};
use crate::domain::principal::Principal;
use crate::domain::{Error, Reason, Result, rules};
use crate::service::contract::relationships::{
    CreateSecurityGroup, DeleteSecurityGroup, ListSecurityGroups, UpdateSecurityGroup,
};
use crate::service::request_key;
use crate::store::new_id;

/// R4, W2: the one refusal for a group of another partner, known or not.
fn not_visible() -> Error {
    Error::permission_denied(
        Reason::GroupNotVisible,
        "a partner reads and changes only its own security groups",
    )
}

fn group_not_found(id: &str) -> Error {
    Error::not_found(Reason::GroupNotFound, format!("security group {id} does not exist"))
}

/// AIP-154: an etag, if given, must be the group's.
fn check_etag(group: &SecurityGroup, given: &str) -> Result<()> {
    if given.is_empty() || etag(group.version) == given {
        Ok(())
    } else {
        Err(Error::stale_etag("security group"))
    }
}

/// R4: who may read groups at all: partners (their own), the operator and
/// services; a customer's admin is refused before any lookup.
fn require_reader(principal: &Principal) -> Result<()> {
    match principal {
        Principal::Customer { .. } => Err(Error::role_not_allowed("read security groups")),
        _ => Ok(()),
    }
}

/// R4: who may change groups: a partner (its own) and the operator.
fn require_writer(principal: &Principal) -> Result<()> {
    match principal {
        Principal::Partner { .. } | Principal::Operator { .. } => Ok(()),
        Principal::Customer { .. } | Principal::Service { .. } => {
            Err(Error::role_not_allowed("change security groups"))
        }
    }
}

/// R4, W2: the group as the caller may see it; an unknown id is NOT_FOUND
/// only to those that read every partner's.
fn see_group(principal: &Principal, id: &str, group: Option<SecurityGroup>) -> Result<SecurityGroup> {
    match (principal, group) {
        (Principal::Partner { partner_id }, Some(group)) if group.partner_id == *partner_id => Ok(group),
        (Principal::Partner { .. }, _) => Err(not_visible()),
        (Principal::Customer { .. }, _) => Err(Error::role_not_allowed("read security groups")),
        (_, Some(group)) => Ok(group),
        (_, None) => Err(group_not_found(id)),
    }
}

impl LocalRelationships {
    /// R4: a partner makes a group for itself (naming another partner is
    /// PERMISSION_DENIED); the operator names the partner; at most 500 per
    /// partner, counted inside the write (W1).
    pub(super) async fn create_security_group(
        &self,
        principal: &Principal,
        command: CreateSecurityGroup,
    ) -> Result<SecurityGroup> {
        let key = request_key(
            principal,
            "CreateSecurityGroup",
            command.request_id.as_deref(),
            &command,
        )?;
        require_writer(principal)?;
        self.gate(principal).await?;
        let partner_id = match principal {
            Principal::Partner { partner_id } => match &command.partner_id {
                Some(named) if named != partner_id => {
                    return Err(Error::permission_denied(
                        Reason::PartnerNotVisible,
                        "a partner makes security groups only for itself",
                    ));
                }
                _ => partner_id.clone(),
            },
            _ => {
                let Some(named) = command.partner_id.clone() else {
                    return Err(Error::invalid(
                        "security_group.partner_id",
                        "is required: the operator names the partner keeping the group",
                    ));
                };
                // The partner must exist (PARTNER_NOT_FOUND otherwise).
                self.partners.get_partner(&self.reader, &named).await?;
                named
            }
        };
        let mut tx = self.store.begin_write(principal.actor()).await?;
        if let Some(id) = tx.replayed(key.as_ref()).await? {
            return tx.security_group(&id).await?.ok_or_else(|| group_not_found(&id));
        }
        rules::check_group_limit(tx.security_groups_of(&partner_id).await?)?;
        let now = tx.now();
        let group = SecurityGroup {
            id: new_id(),
            partner_id,
            display_name: command.display_name,
            member_user_ids: command.member_user_ids,
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
        };
        tx.insert_security_group(&group).await?;
        tx.remember(key.as_ref(), &group.id).await?;
        tx.commit().await?;
        tracing::info!(security_group_id = %group.id, partner_id = %group.partner_id, members = group.member_user_ids.len(), "security group created");
        Ok(group)
    }

    /// R4.
    pub(super) async fn get_security_group(&self, principal: &Principal, id: &str) -> Result<SecurityGroup> {
        require_reader(principal)?;
        self.gate(principal).await?;
        let group = self.store.security_group(id).await?;
        see_group(principal, id, group)
    }

    /// R4: a partner's own (naming another partner is refused); the
    /// operator's and services' of one partner or all; in id order.
    pub(super) async fn list_security_groups(
        &self,
        principal: &Principal,
        command: ListSecurityGroups,
    ) -> Result<Page<SecurityGroup>> {
        require_reader(principal)?;
        self.gate(principal).await?;
        let ListSecurityGroups {
            partner_id,
            page_size,
            page_token,
        } = command;
        let partner_id = match principal {
            Principal::Partner { partner_id: own } => match &partner_id {
                Some(asked) if asked != own => return Err(not_visible()),
                _ => Some(own.clone()),
            },
            _ => partner_id,
        };
        let page = PageRequest::parse(page_size, &page_token, &format!("security_groups|{partner_id:?}"))?;
        let rows = self.store.list_security_groups(partner_id.as_deref(), &page).await?;
        Ok(page.page(rows, |g: &SecurityGroup| g.id.clone()))
    }

    /// R4: the fields named change; a stale etag is ABORTED.
    pub(super) async fn update_security_group(
        &self,
        principal: &Principal,
        command: UpdateSecurityGroup,
    ) -> Result<SecurityGroup> {
        require_writer(principal)?;
        self.gate(principal).await?;
        let mut tx = self.store.begin_write(principal.actor()).await?;
        let found = tx.security_group(&command.id).await?;
        let mut group = see_group(principal, &command.id, found)?;
        check_etag(&group, &command.etag)?;
        if let Some(name) = command.display_name {
            group.display_name = name;
        }
        if let Some(members) = command.member_user_ids {
            group.member_user_ids = members;
        }
        let group = tx.update_security_group(group).await?;
        tx.commit().await?;
        tracing::info!(security_group_id = %group.id, partner_id = %group.partner_id, "security group updated");
        Ok(group)
    }

    /// R4: the group is deleted; the reply is the group as it was.
    pub(super) async fn delete_security_group(
        &self,
        principal: &Principal,
        command: DeleteSecurityGroup,
    ) -> Result<SecurityGroup> {
        require_writer(principal)?;
        self.gate(principal).await?;
        let mut tx = self.store.begin_write(principal.actor()).await?;
        let found = tx.security_group(&command.id).await?;
        let group = see_group(principal, &command.id, found)?;
        check_etag(&group, &command.etag)?;
        // R4: its assignments end with it (GROUP_DELETED).
        let ended = tx.end_assignments_of_group(&group.id).await?;
        let group = tx.delete_security_group(group).await?;
        tx.commit().await?;
        tracing::info!(security_group_id = %group.id, partner_id = %group.partner_id, assignments_ended = ended.len(), "security group deleted");
        Ok(group)
    }
}
