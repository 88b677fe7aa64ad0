//! Partners: the use cases of the PartnerService (P1-P5): partners and
//! provider-reseller links. The trait, its commands and P4's gate are
//! `contract::partners`.

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::consequence::Consequence;
use crate::domain::model::{LinkState, Partner, PartnerKind, PartnerLink, PartnerStatus, etag};
use crate::domain::paging::{Page, PageRequest};
use crate::domain::principal::Principal;
use crate::domain::rules::LinkChange;
use crate::domain::{Error, ErrorCode, Reason, Result, rules};
use crate::service::contract::consequences::Consequences;
use crate::service::contract::partners::{
    CreatePartner, LinkIndirectReseller, ListPartnerLinks, ListPartners, NamedLink, PartnerField, Partners,
    UnlinkIndirectReseller, UpdatePartner, require_active_caller,
};
use crate::store::{LinkFilter, PartnerFilter, Store, new_id};

/// The PartnerService of this process, over the store.
pub struct LocalPartners {
    store: Store,
    /// How this service reads partners for P4's gate.
    reader: Principal,
    /// D2 on reinstatement, carried out by the RelationshipService.
    consequences: Arc<dyn Consequences>,
}

impl LocalPartners {
    pub fn new(store: Store, consequences: Arc<dyn Consequences>) -> Self {
        LocalPartners {
            store,
            consequences,
            reader: Principal::Service {
                subject: "partner-service".into(),
            },
        }
    }

    /// P4 for this service's own calls.
    async fn gate(&self, principal: &Principal) -> Result<()> {
        require_active_caller(self, &self.reader, principal).await
    }

    /// L2, L3: one change of the pair's newest link, decided inside the
    /// write (W1) in the order the rules give: P4, the side (from the
    /// request alone), the link, acceptance's provider, a repeat, the etag,
    /// the transition. Acceptance and resumption carry out D2.
    async fn change_link(
        &self,
        principal: &Principal,
        change: LinkChange,
        named: NamedLink,
        note: Option<String>,
    ) -> Result<PartnerLink> {
        // P4 from the caller alone, then the pair it names (W2).
        self.gate(principal).await?;
        let side = rules::link_side(principal, &named.provider_id, &named.reseller_id)?;
        rules::require_link_side(change, side)?;

        let mut tx = self.store.begin_write(principal.actor()).await?;
        if let Some(caller) = principal.partner_id() {
            // P4 inside the write (W1).
            tx.active_caller(caller).await?;
        }
        let link = tx
            .newest_link(&named.provider_id, &named.reseller_id)
            .await?
            .ok_or_else(|| Error::not_found(Reason::LinkNotFound, "this provider and reseller have no link"))?;
        let now = tx.now();
        if change == LinkChange::Accept && link.state_at(now) != LinkState::Active {
            // L2: acceptance's first check, the provider ACTIVE.
            let provider = tx.partner(&link.provider_id).await?;
            if !provider.as_ref().is_some_and(Partner::is_active) {
                return Err(Error::failed_precondition(
                    Reason::PartnerNotActive,
                    format!("provider {} is not ACTIVE", link.provider_id),
                ));
            }
        }
        // A repeat is answered before the etag, which the first call moved.
        let Some(to) = rules::link_transition(change, side, &link, now)? else {
            drop(tx);
            // A repeated acceptance or resumption answers once its D2 is
            // carried out.
            self.consequences.settle(&link.id).await?;
            return Ok(link);
        };
        rules::check_etag(&named.etag, &etag(link.version), "link")?;
        let mut next = link;
        next.state = to;
        if to == LinkState::Revoked {
            next.ended_by = Some(side);
            next.end_note = note;
        }
        let changed = tx.update_link(next, change.event_type()).await?;
        let consequences = match to {
            LinkState::Active => vec![reinstated(&changed)],
            _ => Vec::new(),
        };
        self.consequences.commit(tx, &changed.id, consequences).await?;
        tracing::info!(link_id = %changed.id, state = %changed.state, by = %side, "partner link changed");
        Ok(changed)
    }
}

/// D2 after a link becomes ACTIVE: the reseller's relationships through the
/// provider transact again.
fn reinstated(link: &PartnerLink) -> Consequence {
    Consequence::Reinstated {
        provider_id: link.provider_id.clone(),
        reseller_ids: vec![link.reseller_id.clone()],
    }
}

fn not_visible() -> Error {
    Error::permission_denied(Reason::PartnerNotVisible, "the caller may not read this partner")
}

fn partner_not_found(id: &str) -> Error {
    Error::not_found(Reason::PartnerNotFound, format!("partner {id} does not exist"))
}

#[async_trait]
impl Partners for LocalPartners {
    async fn create_partner(&self, principal: &Principal, command: CreatePartner) -> Result<Partner> {
        self.gate(principal).await?;
        rules::require_operator(principal, "create partners")?;
        let key = super::request_key(principal, "CreatePartner", command.request_id.as_deref(), &command)?;

        let mut tx = self.store.begin_write(principal.actor()).await?;
        if let Some(id) = tx.replayed(key.as_ref()).await? {
            return tx.partner(&id).await?.ok_or_else(|| partner_not_found(&id));
        }
        if tx.partner_by_mpn_id(&command.mpn_id).await?.is_some() {
            return Err(Error::already_exists(
                Reason::MpnIdTaken,
                format!("a partner with mpn_id {} already exists", command.mpn_id),
            ));
        }
        let now = tx.now();
        let partner = Partner {
            id: new_id(),
            mpn_id: command.mpn_id,
            display_name: command.display_name.trim().to_owned(),
            kind: command.kind,
            status: command.status.unwrap_or(PartnerStatus::Active),
            version: 1,
            create_time: now,
            update_time: now,
        };
        tx.insert_partner(&partner).await?;
        tx.remember(key.as_ref(), &partner.id).await?;
        tx.commit().await?;
        tracing::info!(partner_id = %partner.id, kind = %partner.kind, "partner created");
        Ok(partner)
    }

    async fn get_partner(&self, principal: &Principal, id: &str) -> Result<Partner> {
        if principal.partner_id() != Some(id) {
            self.gate(principal).await?;
        }
        let linked = match principal {
            Principal::Partner { partner_id } if partner_id != id => {
                self.store.partner_visible_to(partner_id, id).await?
            }
            _ => false,
        };
        match self.store.partner(id).await? {
            Some(partner) if rules::can_read_partner(principal, &partner, linked) => Ok(partner),
            None if principal.reads_everything() => Err(partner_not_found(id)),
            // PERMISSION_DENIED is decided before NOT_FOUND.
            _ => Err(not_visible()),
        }
    }

    async fn list_partners(&self, principal: &Principal, command: ListPartners) -> Result<Page<Partner>> {
        let ListPartners {
            kind,
            status,
            page_size,
            page_token,
        } = command;
        let page = PageRequest::parse(page_size, &page_token, &format!("partners|{kind:?}|{status:?}"))?;
        self.gate(principal).await?;
        let mut filter = PartnerFilter {
            kind,
            status,
            linked_to: None,
        };
        match principal {
            Principal::Partner { partner_id } => filter.linked_to = Some(partner_id.clone()),
            Principal::Customer { .. } => {
                if status == Some(PartnerStatus::Suspended) {
                    return Ok(Page {
                        items: Vec::new(),
                        next_page_token: String::new(),
                    });
                }
                filter.status = Some(PartnerStatus::Active);
            }
            Principal::Operator { .. } | Principal::Service { .. } => {}
        }
        let rows = self.store.list_partners(&filter, &page).await?;
        // W3: cut by bytes too.
        Ok(page.page(rows, |p| p.id.clone()))
    }

    async fn update_partner(&self, principal: &Principal, command: UpdatePartner) -> Result<Partner> {
        let id = command.id.as_str();
        self.gate(principal).await?;
        let renames_only = command.fields.iter().all(|field| *field == PartnerField::DisplayName);
        match principal {
            Principal::Operator { .. } => {}
            Principal::Partner { partner_id } if partner_id == id && renames_only => {}
            Principal::Partner { .. } => {
                return Err(Error::permission_denied(
                    Reason::RoleNotAllowed,
                    "a partner may change only its own display_name; kind and status are the operator's",
                ));
            }
            _ => return Err(Error::role_not_allowed("update partners")),
        }

        let mut tx = self.store.begin_write(principal.actor()).await?;
        let current = tx.partner(id).await?.ok_or_else(|| partner_not_found(id))?;
        if principal.partner_id().is_some() {
            // P4 inside the write (W1).
            rules::require_active_caller(Some(&current))?;
        }
        rules::check_etag(&command.etag, &etag(current.version), "partner")?;
        let mut next = current.clone();
        for field in &command.fields {
            match field {
                PartnerField::DisplayName => next.display_name = command.display_name.trim().to_owned(),
                PartnerField::Kind => next.kind = command.kind.unwrap_or(current.kind),
                PartnerField::Status => next.status = command.status.unwrap_or(current.status),
            }
        }
        if next == current {
            drop(tx);
            // A repeated reinstatement answers once its D2 is carried out.
            self.consequences.settle(id).await?;
            return Ok(current);
        }
        let reinstated_provider = current.status != PartnerStatus::Active
            && next.status == PartnerStatus::Active
            && next.kind == PartnerKind::IndirectProvider;
        let updated = tx.update_partner(next).await?;
        let mut consequences = Vec::new();
        if reinstated_provider {
            let reseller_ids = tx.linked_resellers(&updated.id).await?;
            if !reseller_ids.is_empty() {
                consequences.push(Consequence::Reinstated {
                    provider_id: updated.id.clone(),
                    reseller_ids,
                });
            }
        }
        self.consequences.commit(tx, &updated.id, consequences).await?;
        tracing::info!(partner_id = %updated.id, kind = %updated.kind, status = %updated.status, "partner updated");
        Ok(updated)
    }

    async fn link_indirect_reseller(
        &self,
        principal: &Principal,
        command: LinkIndirectReseller,
    ) -> Result<PartnerLink> {
        self.gate(principal).await?;
        rules::require_link_manager(principal, &command.provider_id)?;
        let key = super::request_key(
            principal,
            "LinkIndirectReseller",
            command.request_id.as_deref(),
            &command,
        )?;
        let LinkIndirectReseller {
            provider_id,
            reseller_id,
            expire_after_days,
            ..
        } = command;

        let mut tx = self.store.begin_write(principal.actor()).await?;
        if let Some(id) = tx.replayed(key.as_ref()).await? {
            let link = tx
                .link(&id)
                .await?
                .ok_or_else(|| Error::internal("the link of a replayed request is missing"))?;
            drop(tx);
            self.consequences.settle(&id).await?;
            return Ok(link);
        }
        let now = tx.now();
        let (state, expire_time) = rules::new_link_terms(principal, expire_after_days, now)?;
        let provider = tx
            .partner(&provider_id)
            .await?
            .ok_or_else(|| partner_not_found(&provider_id))?;
        if principal.partner_id().is_some() {
            // P4 inside the write (W1).
            rules::require_active_caller(Some(&provider))?;
        }
        let reseller = tx
            .partner(&reseller_id)
            .await?
            .ok_or_else(|| partner_not_found(&reseller_id))?;
        rules::check_link_parties(&provider, &reseller)?;
        if let Some(standing) = tx.newest_link(&provider_id, &reseller_id).await?
            && rules::link_holds_pair(&standing, now)
        {
            return Err(Error::already_exists(
                Reason::LinkExists,
                format!(
                    "this provider and reseller already have a {} link ({})",
                    standing.state_at(now),
                    standing.id
                ),
            ));
        }
        if state == LinkState::Pending && tx.pending_links_of(&provider_id).await? >= rules::MAX_PENDING_LINKS {
            return Err(Error::new(
                ErrorCode::ResourceExhausted,
                Reason::PendingLinkLimitReached,
                format!(
                    "the provider has {} PENDING links, the most it may have; withdraw some or wait for answers",
                    rules::MAX_PENDING_LINKS
                ),
            ));
        }
        let link = PartnerLink {
            id: new_id(),
            provider_id,
            reseller_id,
            state,
            expire_time,
            ended_by: None,
            end_note: None,
            version: 1,
            create_time: now,
            update_time: now,
        };
        tx.insert_link(&link).await?;
        tx.remember(key.as_ref(), &link.id).await?;
        let mut consequences = Vec::new();
        if state == LinkState::Active {
            // D2: the reseller's relationships through the provider transact again.
            consequences.push(reinstated(&link));
        }
        self.consequences.commit(tx, &link.id, consequences).await?;
        tracing::info!(link_id = %link.id, provider_id = %link.provider_id, reseller_id = %link.reseller_id, state = %link.state, "reseller linked");
        Ok(link)
    }

    /// L3: relationships through the revoked link stop transacting (nothing
    /// is written for them: "transacting" reads the link) and, 30 days on,
    /// count as ended (L5).
    async fn unlink_indirect_reseller(
        &self,
        principal: &Principal,
        command: UnlinkIndirectReseller,
    ) -> Result<PartnerLink> {
        let UnlinkIndirectReseller {
            provider_id,
            reseller_id,
            note,
        } = command;
        let named = NamedLink {
            provider_id,
            reseller_id,
            etag: String::new(),
        };
        self.change_link(principal, LinkChange::Unlink, named, note).await
    }

    async fn accept_partner_link(&self, principal: &Principal, command: NamedLink) -> Result<PartnerLink> {
        self.change_link(principal, LinkChange::Accept, command, None).await
    }

    async fn decline_partner_link(&self, principal: &Principal, command: NamedLink) -> Result<PartnerLink> {
        self.change_link(principal, LinkChange::Decline, command, None).await
    }

    async fn suspend_partner_link(&self, principal: &Principal, command: NamedLink) -> Result<PartnerLink> {
        self.change_link(principal, LinkChange::Suspend, command, None).await
    }

    async fn resume_partner_link(&self, principal: &Principal, command: NamedLink) -> Result<PartnerLink> {
        self.change_link(principal, LinkChange::Resume, command, None).await
    }

    async fn list_partner_links(&self, principal: &Principal, command: ListPartnerLinks) -> Result<Page<PartnerLink>> {
        self.gate(principal).await?;
        let ListPartnerLinks {
            partner_id,
            state,
            page_size,
            page_token,
        } = command;
        let partner_id = match principal {
            Principal::Operator { .. } | Principal::Service { .. } => partner_id,
            Principal::Partner { partner_id: caller } => match partner_id {
                Some(asked) if &asked != caller => return Err(not_visible()),
                _ => Some(caller.clone()),
            },
            Principal::Customer { .. } => return Err(Error::role_not_allowed("list partner links")),
        };
        let page = PageRequest::parse(page_size, &page_token, &format!("links|{partner_id:?}|{state:?}"))?;
        let rows = self.store.list_links(&LinkFilter { partner_id, state }, &page).await?;
        // W3: cut by bytes too.
        Ok(page.page(rows, |l| l.id.clone()))
    }
}
