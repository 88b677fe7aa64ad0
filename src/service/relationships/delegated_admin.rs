//! D1-D3: delegated admin grants, and D2's one home: a customer has at most
//! one transacting partner holding delegated admin per service.

use super::{LocalRelationships, tenant_mismatch, view_query};
use crate::domain::model::{DelegatedAdminGrant, EndCause, GrantState, MICROS_PER_DAY, Role, Service, etag};
use crate::domain::paging::{Page, PageRequest};
use crate::domain::principal::Principal;
use crate::domain::roles;
use crate::domain::{Error, Reason, Result, rules};
use crate::service::contract::relationships::{
    GrantDelegatedAdmin, Granted, ListDelegatedAdminGrants, RevokeDelegatedAdmin, UpdateDelegatedAdmin,
};
use crate::service::request_key;
use crate::store::{GrantFilter, GrantTerms, WriteTx};

/// D2, its one home: when `winner` is transacting with the customer and
/// holds a grant in force for a service, every other transacting holder's
/// grant for that service is SUPERSEDED (the decision is
/// `rules::grants_to_supersede`). `services` are the services to decide;
/// `None`: every service `winner` holds an ACTIVE grant for. Runs inside the
/// write that changed who holds or who transacts: GrantDelegatedAdmin, an
/// acceptance (I6), and a new link or a reinstated provider (P2, P3; that
/// call writes this service's rows from the partner service's transaction,
/// as the embedded deployment allows, and moves here with the split
/// deployment). Returns the superseded grants.
pub(super) async fn supersede_for_transacting(
    tx: &mut WriteTx,
    customer_id: &str,
    winner: &str,
    services: Option<&[Service]>,
) -> Result<Vec<DelegatedAdminGrant>> {
    let now = tx.now();
    // All the customer's ACTIVE grants, read once for every service.
    let all_grants = tx.active_grants(customer_id, None, None).await?;
    let services: Vec<Service> = match services {
        Some(services) => services.to_vec(),
        None => all_grants
            .iter()
            .filter(|g| g.partner_id == winner)
            .map(|g| g.service)
            .collect(),
    };
    // Nobody else holds a grant for these services: nothing gives way, and
    // who transacts need not be read.
    let contested = |service: &Service| {
        all_grants
            .iter()
            .any(|g| g.service == *service && g.partner_id != winner)
    };
    if !services.iter().any(contested) {
        return Ok(Vec::new());
    }
    let mut holders: Vec<String> = all_grants.iter().map(|g| g.partner_id.clone()).collect();
    holders.push(winner.to_owned());
    holders.sort();
    holders.dedup();
    let transacting = tx.transacting(customer_id, &holders).await?;
    let mut superseded = Vec::new();
    for service in services.iter().filter(|service| contested(service)) {
        let holders: Vec<(DelegatedAdminGrant, bool)> = all_grants
            .iter()
            .filter(|g| g.service == *service)
            .map(|g| (g.clone(), transacting.get(&g.partner_id).copied().unwrap_or(false)))
            .collect();
        let losers: Vec<DelegatedAdminGrant> = rules::grants_to_supersede(winner, *service, &holders, now)
            .into_iter()
            .cloned()
            .collect();
        for loser in losers {
            superseded.push(tx.end_grant(loser, EndCause::Superseded, None).await?);
        }
    }
    Ok(superseded)
}

/// D2 for a partner that may just have become transacting on some
/// customers (a new link, a provider reinstated): its grants there win.
pub(super) async fn supersede_for_new_transactor(
    tx: &mut WriteTx,
    partner_id: &str,
    customer_ids: &[String],
) -> Result<()> {
    for customer_id in customer_ids {
        supersede_for_transacting(tx, customer_id, partner_id, None).await?;
    }
    Ok(())
}

impl LocalRelationships {
    /// D1, D2.
    pub(super) async fn grant_delegated_admin(
        &self,
        principal: &Principal,
        command: GrantDelegatedAdmin,
    ) -> Result<Granted> {
        self.gate(principal).await?;
        let Principal::Customer { customer_id: own } = principal else {
            return Err(Error::role_not_allowed(
                "grant delegated admin privileges (a customer's admin does)",
            ));
        };
        let key = request_key(
            principal,
            "GrantDelegatedAdmin",
            command.request_id.as_deref(),
            &command,
        )?;
        if command.customer_id.as_ref().is_some_and(|id| id != own) {
            return Err(tenant_mismatch());
        }
        let mut tx = self.store.begin_write(principal.actor()).await?;
        if let Some(id) = tx.replayed(key.as_ref()).await? {
            let grant = tx
                .grant(&id)
                .await?
                .ok_or_else(|| Error::internal("the grant of a replayed request is missing"))?;
            return Ok(Granted {
                grant,
                superseded_grants: Vec::new(),
            });
        }
        if tx.customer(own).await?.is_none() {
            return Err(Error::not_found(
                Reason::CustomerNotFound,
                "the token's customer does not exist",
            ));
        }
        rules::check_grantee(tx.partner(&command.partner_id).await?.as_ref())?;
        let end_time = rules::grant_end(tx.now(), command.duration_days, command.auto_extend)?;
        let roles = rules::grant_roles(&command.scopes, &command.roles)?;
        rules::check_global_admin_grant(&roles, command.duration_days, command.auto_extend)?;
        let service = command.service;
        let grant = tx
            .put_grant(
                own,
                &command.partner_id,
                GrantTerms {
                    service,
                    roles,
                    end_time,
                    auto_extend: command.auto_extend,
                },
                None,
            )
            .await?;
        let superseded = supersede_for_transacting(&mut tx, own, &command.partner_id, Some(&[service])).await?;
        tx.remember(key.as_ref(), &grant.id).await?;
        tx.commit().await?;
        tracing::info!(grant_id = %grant.id, customer_id = %own, partner_id = %command.partner_id, service = %service, superseded = superseded.len(), "delegated admin granted");
        Ok(Granted {
            grant,
            superseded_grants: superseded,
        })
    }

    /// G1: grants by customer, partner, service, recorded state and expiry,
    /// each caller seeing what M2 shows it: the customer's admin, operator
    /// and service every grant (ended ones too); a partner, on a customer it
    /// may VIEW, its own ACTIVE grants and those of its counterparts in the
    /// same indirect chain. A partner without `customer_id` lists its own
    /// (another partner's only on one customer, as M2 shows them).
    pub(super) async fn list_delegated_admin_grants(
        &self,
        principal: &Principal,
        command: ListDelegatedAdminGrants,
    ) -> Result<Page<DelegatedAdminGrant>> {
        self.gate(principal).await?;
        let ListDelegatedAdminGrants {
            customer_id,
            partner_id,
            service,
            state,
            expiring_within_days,
            page_size,
            page_token,
        } = command;
        let mut filter = GrantFilter {
            customer_id: customer_id.clone(),
            partner_ids: partner_id.clone().map(|id| vec![id]),
            service,
            state,
            expiring_by: None,
            viewable_by: None,
        };
        match principal {
            Principal::Operator { .. } | Principal::Service { .. } => {}
            Principal::Customer { customer_id: own } => match &customer_id {
                Some(asked) if asked != own => return Err(tenant_mismatch()),
                _ => filter.customer_id = Some(own.clone()),
            },
            Principal::Partner { partner_id: caller } => {
                let visible: Vec<String> = match &customer_id {
                    Some(customer_id) => {
                        let decision = self.access.check(&view_query(caller, customer_id)).await?;
                        rules::require_view(&decision)?;
                        let chain = self.store.chain_view(customer_id, caller).await?;
                        std::iter::once(caller.clone())
                            .chain(chain.providers)
                            .chain(chain.resellers)
                            .collect()
                    }
                    None => {
                        if partner_id.as_ref().is_some_and(|asked| asked != caller) {
                            return Err(Error::invalid(
                                "partner_id",
                                "a partner lists another partner's grants only on one customer: set customer_id",
                            ));
                        }
                        filter.viewable_by = Some(caller.clone());
                        vec![caller.clone()]
                    }
                };
                let asked = visible
                    .into_iter()
                    .filter(|id| partner_id.as_ref().is_none_or(|asked| asked == id));
                // M2 shows a partner ACTIVE grants only.
                filter.partner_ids = Some(match state {
                    Some(state) if state != GrantState::Active => Vec::new(),
                    _ => asked.collect(),
                });
                filter.state = Some(GrantState::Active);
            }
        }
        let now = self.store.now();
        if let Some(days) = expiring_within_days {
            filter.expiring_by = Some((now, now + i64::from(days) * MICROS_PER_DAY));
        }
        let page = PageRequest::parse(
            page_size,
            &page_token,
            &format!("grants|{customer_id:?}|{partner_id:?}|{service:?}|{state:?}|{expiring_within_days:?}"),
        )?;
        let rows = self.store.list_grants(&filter, &page).await?;
        // W3: cut by bytes too.
        Ok(page.page(rows, |grant: &DelegatedAdminGrant| grant.id.clone()))
    }

    /// G3: the customer admin gives a grant in force a new end_time and/or
    /// turns auto_extend on or off, and (R3) removes roles from it, with the
    /// grant's etag. Not a new grant: D2 is not applied again. R2: a grant
    /// left holding GLOBAL_ADMIN keeps its end and never auto-extends.
    pub(super) async fn update_delegated_admin(
        &self,
        principal: &Principal,
        command: UpdateDelegatedAdmin,
    ) -> Result<DelegatedAdminGrant> {
        // P4 before the role: a suspended partner gets the one refusal.
        self.gate(principal).await?;
        let Principal::Customer { customer_id: own } = principal else {
            return Err(Error::role_not_allowed("update delegated admin privileges"));
        };
        let mut tx = self.store.begin_write(principal.actor()).await?;
        // Unknown ids are refused like another tenant's: nothing leaks.
        let mut grant = match tx.grant(&command.grant_id).await? {
            Some(grant) if &grant.customer_id == own => grant,
            _ => {
                return Err(Error::permission_denied(
                    Reason::NotGrantParty,
                    "only the customer's admin may update this grant",
                ));
            }
        };
        let (end_time, auto_extend) =
            rules::updated_grant_term(&grant, command.end_time, command.auto_extend, tx.now())?;
        let roles = match &command.roles {
            Some(kept) => rules::narrowed_roles(&grant, kept)?,
            None => grant.roles.clone(),
        };
        rules::check_global_admin_term(&grant.id, &roles, end_time, auto_extend)?;
        if etag(grant.version) != command.etag {
            return Err(Error::stale_etag("grant"));
        }
        if (end_time, auto_extend, &roles) == (grant.end_time, grant.auto_extend, &grant.roles) {
            // E1: no change, no event.
            return Ok(grant);
        }
        if (end_time, auto_extend) != (grant.end_time, grant.auto_extend) {
            grant.end_time = end_time;
            grant.auto_extend = auto_extend;
            // G2: the marks the new term is already inside count as passed.
            grant.notice_days = rules::notice_mark(end_time, auto_extend, tx.now());
        }
        let removed: Vec<Role> = grant.roles.iter().copied().filter(|r| !roles.contains(r)).collect();
        roles::assign(&mut grant, roles);
        tx.update_grant(&mut grant, "grant.updated").await?;
        if !removed.is_empty() {
            // R3: the same transaction strips them from its assignments.
            tx.strip_assignment_roles(&grant.id, &grant.roles).await?;
        }
        tx.commit().await?;
        tracing::info!(grant_id = %grant.id, end_time = ?grant.end_time, auto_extend = grant.auto_extend, roles = ?grant.roles, removed = ?removed, "delegated admin updated");
        Ok(grant)
    }

    /// D3, G4: the customer admin revokes (CUSTOMER_REVOKED), or the holder
    /// gives its own grant up (PARTNER_RELINQUISHED), with an optional note.
    pub(super) async fn revoke_delegated_admin(
        &self,
        principal: &Principal,
        command: RevokeDelegatedAdmin,
    ) -> Result<DelegatedAdminGrant> {
        let grant_id = command.grant_id.as_str();
        match principal {
            Principal::Customer { .. } => {}
            Principal::Partner { partner_id } => {
                self.active_caller(partner_id).await?;
            }
            _ => return Err(Error::role_not_allowed("revoke delegated admin privileges")),
        }
        let mut tx = self.store.begin_write(principal.actor()).await?;
        if let Principal::Partner { partner_id } = principal {
            tx.active_caller(partner_id).await?;
        }
        let Some(grant) = tx.grant(grant_id).await? else {
            // Unknown ids are refused like another tenant's: nothing leaks.
            return Err(Error::permission_denied(
                Reason::NotGrantParty,
                "only the customer's admin or the holder itself may revoke this grant",
            ));
        };
        rules::check_grant_revoker(principal, &grant)?;
        if grant.state != GrantState::Active {
            return Ok(grant);
        }
        let cause = match principal {
            Principal::Partner { .. } => EndCause::PartnerRelinquished,
            _ => EndCause::CustomerRevoked,
        };
        let revoked = tx.end_grant(grant, cause, command.note).await?;
        tx.commit().await?;
        tracing::info!(grant_id = %revoked.id, "delegated admin revoked");
        Ok(revoked)
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::model::{DelegatedAdminGrant, GrantState, MICROS_PER_DAY, Micros, Role, Scope, Service};
    use crate::domain::rules::grants_to_supersede;

    const NOW: Micros = 1_800_000_000_000_000;

    fn grant(
        id: &str,
        partner_id: &str,
        service: Service,
        state: GrantState,
        end_time: Option<Micros>,
    ) -> DelegatedAdminGrant {
        DelegatedAdminGrant {
            id: id.into(),
            customer_id: "customer".into(),
            partner_id: partner_id.into(),
            service,
            scopes: vec![Scope::Support],
            roles: vec![Role::HelpdeskAdmin],
            state,
            start_time: NOW - MICROS_PER_DAY,
            end_time,
            auto_extend: false,
            end_cause: None,
            end_note: None,
            notice_days: None,
            version: 1,
            update_time: 0,
        }
    }

    fn losers(winner: &str, holders: &[(DelegatedAdminGrant, bool)]) -> Vec<String> {
        grants_to_supersede(winner, Service::Azure, holders, NOW)
            .into_iter()
            .map(|g| g.id.clone())
            .collect()
    }

    /// D2: only a transacting winner holding a grant in force makes the
    /// other transacting holders' grants in force for that service give way.
    #[test]
    fn d2_the_transacting_holder_in_force_supersedes_the_other_transacting_holders() {
        let active = |id: &str, partner_id: &str| grant(id, partner_id, Service::Azure, GrantState::Active, None);
        let holders = vec![
            (active("w", "winner"), true),
            (active("t", "transacting"), true),
            (active("n", "not-transacting"), false),
            (grant("e", "ended", Service::Azure, GrantState::Active, Some(NOW)), true),
            (
                grant("o", "other-service", Service::Office365, GrantState::Active, None),
                true,
            ),
        ];
        assert_eq!(losers("winner", &holders), ["t"]);

        // A winner that does not transact supersedes nothing.
        let mut idle = holders.clone();
        idle[0].1 = false;
        assert!(losers("winner", &idle).is_empty());

        // Nor does one whose own grant is no longer in force.
        let mut lapsed = holders.clone();
        lapsed[0].0.end_time = Some(NOW - 1);
        assert!(losers("winner", &lapsed).is_empty());
        lapsed[0].0.end_time = None;
        lapsed[0].0.state = GrantState::Revoked;
        assert!(losers("winner", &lapsed).is_empty());

        // Nor one holding no grant for the service.
        assert!(losers("nobody", &holders).is_empty());
    }
}
