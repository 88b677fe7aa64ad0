//! PartnerService: partners and provider-reseller links (P1-P5).

use tonic::{Request, Response, Status};

use super::convert::{optional, required};
use super::pb::partner_service_server::PartnerService;
use super::{mask_paths, pb, principal, request_key, validated};
use crate::domain::model::{LinkState, Partner, PartnerKind, PartnerLink, PartnerStatus, etag};
use crate::domain::paging::PageRequest;
use crate::domain::principal::Principal;
use crate::domain::{Error, Reason, rules, validate};
use crate::store::{LinkFilter, PartnerFilter, Store, new_id};

pub struct PartnerApi {
    store: Store,
}

impl PartnerApi {
    pub fn new(store: Store) -> Self {
        PartnerApi { store }
    }

    /// P4: a partner that is not ACTIVE is refused every call (but GetPartner
    /// on itself), decided from the caller alone before any lookup (W2).
    async fn gate(&self, principal: &Principal) -> Result<(), Error> {
        if let Principal::Partner { partner_id } = principal {
            rules::require_active_caller(self.store.partner(partner_id).await?.as_ref())?;
        }
        Ok(())
    }
}

fn not_visible() -> Error {
    Error::permission_denied(Reason::PartnerNotVisible, "the caller may not read this partner")
}

fn partner_not_found(id: &str) -> Error {
    Error::not_found(Reason::PartnerNotFound, format!("partner {id} does not exist"))
}

#[tonic::async_trait]
impl PartnerService for PartnerApi {
    /// P1: only the operator creates partners; a duplicate mpn_id is
    /// ALREADY_EXISTS.
    async fn create_partner(
        &self,
        request: Request<pb::CreatePartnerRequest>,
    ) -> Result<Response<pb::Partner>, Status> {
        let principal = principal(&request)?;
        self.gate(&principal).await?;
        rules::require_operator(&principal, "create partners")?;
        let body = request.into_inner();
        let key = request_key(&principal, "CreatePartner", &body.request_id, &body)?;
        let input = body.partner.unwrap_or_default();
        validated! {
            _mpn_id = validate::mpn_id("partner.mpn_id", &input.mpn_id);
            _name = validate::name("partner.display_name", &input.display_name);
            kind = required::<PartnerKind>("partner.kind", input.kind);
            status = optional::<PartnerStatus>("partner.status", input.status);
        }

        let mut tx = self.store.begin_write(principal.actor()).await?;
        if let Some(id) = tx.replayed(key.as_ref()).await? {
            let partner = tx.partner(&id).await?.ok_or_else(|| partner_not_found(&id))?;
            return Ok(Response::new((&partner).into()));
        }
        if tx.partner_by_mpn_id(&input.mpn_id).await?.is_some() {
            return Err(Error::already_exists(
                Reason::MpnIdTaken,
                format!("a partner with mpn_id {} already exists", input.mpn_id),
            )
            .into());
        }
        let now = tx.now();
        let partner = Partner {
            id: new_id(),
            mpn_id: input.mpn_id,
            display_name: input.display_name.trim().to_owned(),
            kind,
            status: status.unwrap_or(PartnerStatus::Active),
            version: 1,
            create_time: now,
            update_time: now,
        };
        tx.insert_partner(&partner).await?;
        tx.remember(key.as_ref(), &partner.id).await?;
        tx.commit().await?;
        tracing::info!(partner_id = %partner.id, kind = %partner.kind, "partner created");
        Ok(Response::new((&partner).into()))
    }

    /// P5: a partner reads itself and the partners it is linked with; a
    /// customer admin any ACTIVE partner; operator and service all.
    async fn get_partner(&self, request: Request<pb::GetPartnerRequest>) -> Result<Response<pb::Partner>, Status> {
        let principal = principal(&request)?;
        let id = validate::id("id", &request.get_ref().id)?;
        if principal.partner_id() != Some(id.as_str()) {
            self.gate(&principal).await?;
        }
        let linked = match &principal {
            Principal::Partner { partner_id } if partner_id != &id => {
                self.store.partner_visible_to(partner_id, &id).await?
            }
            _ => false,
        };
        match self.store.partner(&id).await? {
            Some(partner) if rules::can_read_partner(&principal, &partner, linked) => {
                Ok(Response::new((&partner).into()))
            }
            None if principal.reads_everything() => Err(partner_not_found(&id).into()),
            // PERMISSION_DENIED is decided before NOT_FOUND.
            _ => Err(not_visible().into()),
        }
    }

    async fn list_partners(
        &self,
        request: Request<pb::ListPartnersRequest>,
    ) -> Result<Response<pb::ListPartnersResponse>, Status> {
        let principal = principal(&request)?;
        let body = request.into_inner();
        validated! {
            kind = optional::<PartnerKind>("kind", body.kind);
            status = optional::<PartnerStatus>("status", body.status);
        }
        let page = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &format!("partners|{kind:?}|{status:?}"),
        )?;
        self.gate(&principal).await?;
        let mut filter = PartnerFilter {
            kind,
            status,
            linked_to: None,
        };
        match &principal {
            Principal::Partner { partner_id } => filter.linked_to = Some(partner_id.clone()),
            Principal::Customer { .. } => {
                if status == Some(PartnerStatus::Suspended) {
                    return Ok(Response::new(pb::ListPartnersResponse::default()));
                }
                filter.status = Some(PartnerStatus::Active);
            }
            Principal::Operator { .. } | Principal::Service { .. } => {}
        }
        let rows = self.store.list_partners(&filter, &page).await?;
        // W3: cut by bytes too, measured on the reply's own items.
        let rows: Vec<pb::Partner> = rows.iter().map(Into::into).collect();
        let (partners, next_page_token) = page.finish_within(rows, |p| p.id.clone(), prost::Message::encoded_len);
        Ok(Response::new(pb::ListPartnersResponse {
            partners,
            next_page_token,
        }))
    }

    /// P3: the operator changes kind and status (nothing else changes with
    /// them); an ACTIVE partner may rename itself.
    async fn update_partner(
        &self,
        request: Request<pb::UpdatePartnerRequest>,
    ) -> Result<Response<pb::Partner>, Status> {
        let principal = principal(&request)?;
        let body = request.into_inner();
        let input = body.partner.unwrap_or_default();
        let id = validate::id("partner.id", &input.id)?;
        let paths = mask_paths(body.update_mask, &["display_name", "kind", "status"])?;
        self.gate(&principal).await?;
        match &principal {
            Principal::Operator { .. } => {}
            Principal::Partner { partner_id } if partner_id == &id && paths.iter().all(|p| p == "display_name") => {}
            Principal::Partner { .. } => {
                return Err(Error::permission_denied(
                    Reason::RoleNotAllowed,
                    "a partner may change only its own display_name; kind and status are the operator's",
                )
                .into());
            }
            _ => return Err(Error::role_not_allowed("update partners").into()),
        }
        let mut violations = crate::domain::error::Violations::default();
        let mut kind = None;
        let mut status = None;
        for path in &paths {
            match path.as_str() {
                "display_name" => violations.check(validate::name("partner.display_name", &input.display_name)),
                "kind" => kind = violations.take(required::<PartnerKind>("partner.kind", input.kind)),
                _ => status = violations.take(required::<PartnerStatus>("partner.status", input.status)),
            }
        }
        violations.into_result()?;

        let mut tx = self.store.begin_write(principal.actor()).await?;
        let current = tx.partner(&id).await?.ok_or_else(|| partner_not_found(&id))?;
        if principal.partner_id().is_some() {
            rules::require_active_caller(Some(&current))?;
        }
        rules::check_etag(&input.etag, &etag(current.version), "partner")?;
        let mut next = current.clone();
        for path in &paths {
            match path.as_str() {
                "display_name" => next.display_name = input.display_name.trim().to_owned(),
                "kind" => next.kind = kind.unwrap_or(current.kind),
                _ => next.status = status.unwrap_or(current.status),
            }
        }
        if next == current {
            return Ok(Response::new((&current).into()));
        }
        let reinstated_provider = current.status != PartnerStatus::Active
            && next.status == PartnerStatus::Active
            && next.kind == PartnerKind::IndirectProvider;
        let updated = tx.update_partner(next).await?;
        if reinstated_provider {
            // D2: its resellers' relationships transact again.
            for reseller_id in tx.linked_resellers(&updated.id).await? {
                let customers = tx.customers_served_via(&reseller_id, &updated.id).await?;
                crate::service::relationships::supersede_for_new_transactor(&mut tx, &reseller_id, &customers).await?;
            }
        }
        tx.commit().await?;
        tracing::info!(partner_id = %updated.id, kind = %updated.kind, status = %updated.status, "partner updated");
        Ok(Response::new((&updated).into()))
    }

    /// P2: links an INDIRECT_PROVIDER with an INDIRECT_RESELLER.
    async fn link_indirect_reseller(
        &self,
        request: Request<pb::LinkIndirectResellerRequest>,
    ) -> Result<Response<pb::PartnerLink>, Status> {
        let principal = principal(&request)?;
        let body = request.into_inner();
        validated! {
            provider_id = validate::id("provider_id", &body.provider_id);
            reseller_id = validate::id("reseller_id", &body.reseller_id);
        }
        self.gate(&principal).await?;
        rules::require_link_manager(&principal, &provider_id)?;
        let key = request_key(&principal, "LinkIndirectReseller", &body.request_id, &body)?;

        let mut tx = self.store.begin_write(principal.actor()).await?;
        if let Some(id) = tx.replayed(key.as_ref()).await? {
            let link = tx
                .link(&id)
                .await?
                .ok_or_else(|| Error::internal("the link of a replayed request is missing"))?;
            return Ok(Response::new((&link).into()));
        }
        let provider = tx
            .partner(&provider_id)
            .await?
            .ok_or_else(|| partner_not_found(&provider_id))?;
        if principal.partner_id().is_some() {
            rules::require_active_caller(Some(&provider))?;
        }
        let reseller = tx
            .partner(&reseller_id)
            .await?
            .ok_or_else(|| partner_not_found(&reseller_id))?;
        rules::check_link_parties(&provider, &reseller)?;
        if tx.active_link(&provider_id, &reseller_id).await?.is_some() {
            return Err(Error::already_exists(
                Reason::LinkExists,
                "this provider and reseller already have an ACTIVE link",
            )
            .into());
        }
        let now = tx.now();
        let link = PartnerLink {
            id: new_id(),
            provider_id,
            reseller_id,
            state: LinkState::Active,
            create_time: now,
            update_time: now,
        };
        tx.insert_link(&link).await?;
        // D2: the reseller's relationships through this provider transact
        // again; where it holds grants, they win.
        let customers = tx.customers_served_via(&link.reseller_id, &link.provider_id).await?;
        crate::service::relationships::supersede_for_new_transactor(&mut tx, &link.reseller_id, &customers).await?;
        tx.remember(key.as_ref(), &link.id).await?;
        tx.commit().await?;
        tracing::info!(link_id = %link.id, provider_id = %link.provider_id, reseller_id = %link.reseller_id, "reseller linked");
        Ok(Response::new((&link).into()))
    }

    /// P2: revokes the ACTIVE link; relationships through it stop
    /// transacting until a new link is made.
    async fn unlink_indirect_reseller(
        &self,
        request: Request<pb::UnlinkIndirectResellerRequest>,
    ) -> Result<Response<pb::PartnerLink>, Status> {
        let principal = principal(&request)?;
        let body = request.into_inner();
        validated! {
            provider_id = validate::id("provider_id", &body.provider_id);
            reseller_id = validate::id("reseller_id", &body.reseller_id);
        }
        self.gate(&principal).await?;
        rules::require_link_manager(&principal, &provider_id)?;

        let mut tx = self.store.begin_write(principal.actor()).await?;
        if principal.partner_id().is_some() {
            rules::require_active_caller(tx.partner(&provider_id).await?.as_ref())?;
        }
        let link = tx
            .active_link(&provider_id, &reseller_id)
            .await?
            .ok_or_else(|| Error::not_found(Reason::LinkNotFound, "this provider and reseller have no ACTIVE link"))?;
        let revoked = tx.revoke_link(link).await?;
        tx.commit().await?;
        tracing::info!(link_id = %revoked.id, "reseller unlinked");
        Ok(Response::new((&revoked).into()))
    }

    async fn list_partner_links(
        &self,
        request: Request<pb::ListPartnerLinksRequest>,
    ) -> Result<Response<pb::ListPartnerLinksResponse>, Status> {
        let principal = principal(&request)?;
        let body = request.into_inner();
        validated! {
            partner_id = validate::optional_id("partner_id", &body.partner_id);
            state = optional::<LinkState>("state", body.state);
        }
        self.gate(&principal).await?;
        let partner_id = match &principal {
            Principal::Operator { .. } | Principal::Service { .. } => partner_id,
            Principal::Partner { partner_id: caller } => match partner_id {
                Some(asked) if &asked != caller => return Err(not_visible().into()),
                _ => Some(caller.clone()),
            },
            Principal::Customer { .. } => return Err(Error::role_not_allowed("list partner links").into()),
        };
        let page = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &format!("links|{partner_id:?}|{state:?}"),
        )?;
        let rows = self.store.list_links(&LinkFilter { partner_id, state }, &page).await?;
        // W3: cut by bytes too, measured on the reply's own items.
        let rows: Vec<pb::PartnerLink> = rows.iter().map(Into::into).collect();
        let (partner_links, next_page_token) = page.finish_within(rows, |l| l.id.clone(), prost::Message::encoded_len);
        Ok(Response::new(pb::ListPartnerLinksResponse {
            partner_links,
            next_page_token,
        }))
    }
}
