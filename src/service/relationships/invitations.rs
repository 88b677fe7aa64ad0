//! I1-I5: relationship requests (invitations): create, read, list, revoke.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::LocalRelationships;
use crate::domain::model::{InvitationState, MICROS_PER_DAY, Micros, RelationshipRequest};
use crate::domain::paging::{Page, PageRequest};
use crate::domain::principal::Principal;
use crate::domain::{Error, Reason, Result, roles, rules};
use crate::service::contract::relationships::{CreateRelationshipRequest, ListRelationshipRequests};
use crate::service::request_key;
use crate::store::{InvitationFilter, new_id};

/// I3: an unguessable code: 256 bits from the operating system's CSPRNG.
fn new_code() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|error| Error::internal(format!("no randomness for a code: {error}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn invitation_not_visible() -> Error {
    Error::permission_denied(
        Reason::NotInvitationParty,
        "only the inviting partner and the named indirect reseller read this relationship request",
    )
}

/// I5: an invitation as its readers see it at `now`: EXPIRED once past its
/// expiry, whether or not the sweep has recorded it yet.
pub(super) fn as_seen(mut invitation: RelationshipRequest, now: Micros) -> RelationshipRequest {
    invitation.state = invitation.effective_state(now);
    invitation
}

impl LocalRelationships {
    /// I1, I2, I3.
    pub(super) async fn create_relationship_request(
        &self,
        principal: &Principal,
        command: CreateRelationshipRequest,
    ) -> Result<RelationshipRequest> {
        let Principal::Partner { partner_id } = principal else {
            return Err(Error::role_not_allowed("create relationship requests (partners do)"));
        };
        let key = request_key(
            principal,
            "CreateRelationshipRequest",
            command.request_id.as_deref(),
            &command,
        )?;
        if command.inviting_partner_id.as_ref().is_some_and(|id| id != partner_id) {
            return Err(Error::invalid(
                "relationship_request.inviting_partner_id",
                "is always the calling partner; leave it empty",
            ));
        }
        let days = rules::invitation_days(command.expire_after_days, self.settings.invitation_default_days)?;
        let (services, roles) = rules::requested_dap(
            command.include_delegated_admin,
            command.delegated_admin_services,
            command.delegated_admin_scopes,
            command.delegated_admin_roles,
        )?;
        let reseller_id = command.indirect_reseller_id;
        // Fails sooner on the caller alone; decided again inside (W1).
        let inviter = self.active_caller(partner_id).await?;
        rules::check_inviter(&inviter, reseller_id.is_some())?;

        let mut tx = self.store.begin_write(principal.actor()).await?;
        let inviter = tx.active_caller(partner_id).await?;
        rules::check_inviter(&inviter, reseller_id.is_some())?;
        if let Some(id) = tx.replayed(key.as_ref()).await? {
            let invitation = tx
                .invitation(&id)
                .await?
                .ok_or_else(|| Error::internal("the invitation of a replayed request is missing"))?;
            return Ok(as_seen(invitation, tx.now()));
        }
        // I2 on the links as this write sees them.
        if let Some(reseller_id) = &reseller_id {
            let reseller = tx.partner(reseller_id).await?;
            let linked = tx.active_link(partner_id, reseller_id).await?.is_some();
            rules::check_reseller_linked(reseller.as_ref(), linked)?;
        }
        let now = tx.now();
        let invitation = RelationshipRequest {
            id: new_id(),
            inviting_partner_id: partner_id.clone(),
            indirect_reseller_id: reseller_id,
            include_delegated_admin: command.include_delegated_admin,
            delegated_admin_services: services,
            delegated_admin_scopes: roles::scopes_of(&roles),
            delegated_admin_roles: roles,
            customer_domain: command.customer_domain,
            code: new_code()?,
            state: InvitationState::Active,
            expire_time: now + i64::from(days) * MICROS_PER_DAY,
            create_time: now,
        };
        tx.insert_invitation(&invitation).await?;
        tx.remember(key.as_ref(), &invitation.id).await?;
        tx.commit().await?;
        // Never the code: it is the acceptance secret.
        tracing::info!(relationship_request_id = %invitation.id, inviting_partner_id = %invitation.inviting_partner_id, "relationship request created");
        Ok(invitation)
    }

    /// I4.
    pub(super) async fn get_relationship_request(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<RelationshipRequest> {
        self.gate(principal).await?;
        match self.store.invitation(id).await? {
            Some(invitation) if rules::can_read_invitation(principal, &invitation) => {
                Ok(as_seen(invitation, self.store.now()))
            }
            None if principal.reads_everything() => Err(Error::not_found(
                Reason::InvitationNotFound,
                "no relationship request has this id",
            )),
            _ => Err(invitation_not_visible()),
        }
    }

    /// I4: a partner lists what it sent and what names it.
    pub(super) async fn list_relationship_requests(
        &self,
        principal: &Principal,
        command: ListRelationshipRequests,
    ) -> Result<Page<RelationshipRequest>> {
        self.gate(principal).await?;
        let party = match principal {
            Principal::Operator { .. } | Principal::Service { .. } => None,
            Principal::Partner { partner_id } => Some(partner_id.clone()),
            Principal::Customer { .. } => return Err(Error::role_not_allowed("list relationship requests")),
        };
        let ListRelationshipRequests {
            inviting_partner_id,
            indirect_reseller_id,
            state,
            page_size,
            page_token,
        } = command;
        let page = PageRequest::parse(
            page_size,
            &page_token,
            &format!("invitations|{inviting_partner_id:?}|{indirect_reseller_id:?}|{state:?}"),
        )?;
        let filter = InvitationFilter {
            inviting_partner_id,
            indirect_reseller_id,
            state,
            party,
        };
        let now = self.store.now();
        let rows = self.store.list_invitations(&filter, &page).await?;
        let rows = rows.into_iter().map(|row| as_seen(row, now)).collect();
        // W3: cut by bytes too.
        Ok(page.page(rows, |r: &RelationshipRequest| r.id.clone()))
    }

    /// I5: the inviting partner (or the operator) revokes.
    pub(super) async fn revoke_relationship_request(
        &self,
        principal: &Principal,
        id: &str,
    ) -> Result<RelationshipRequest> {
        match principal {
            Principal::Operator { .. } => {}
            Principal::Partner { partner_id } => {
                self.active_caller(partner_id).await?;
            }
            _ => return Err(Error::role_not_allowed("revoke relationship requests")),
        }
        let mut tx = self.store.begin_write(principal.actor()).await?;
        if let Principal::Partner { partner_id } = principal {
            tx.active_caller(partner_id).await?;
        }
        let invitation = match (tx.invitation(id).await?, principal) {
            // W2: a partner that may not read it is refused as for an
            // unknown id; the named reseller, which reads it (I4), is told
            // that only the inviting partner revokes.
            (Some(invitation), Principal::Partner { partner_id }) if &invitation.inviting_partner_id != partner_id => {
                if !rules::can_read_invitation(principal, &invitation) {
                    return Err(invitation_not_visible());
                }
                return Err(Error::permission_denied(
                    Reason::NotInvitationParty,
                    "only the inviting partner revokes a relationship request",
                ));
            }
            (Some(invitation), _) => invitation,
            (None, Principal::Operator { .. }) => {
                return Err(Error::not_found(
                    Reason::InvitationNotFound,
                    "no relationship request has this id",
                ));
            }
            (None, _) => return Err(invitation_not_visible()),
        };
        let now = tx.now();
        if invitation.effective_state(now) != InvitationState::Active {
            return Ok(as_seen(invitation, now));
        }
        let revoked = tx.set_invitation_state(invitation, InvitationState::Revoked).await?;
        tx.commit().await?;
        tracing::info!(relationship_request_id = %revoked.id, "relationship request revoked");
        Ok(as_seen(revoked, now))
    }
}
