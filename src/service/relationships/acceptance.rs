//! I6, I7: a customer's admin accepts a relationship request: the
//! relationships it makes, the delegated admin it grants, and D2 for them,
//! in one write.

use super::LocalRelationships;
use super::delegated_admin::supersede_for_transacting;
use super::invitations::as_seen;
use crate::domain::model::{
    DelegatedAdminGrant, EventResource, Relationship, RelationshipKind, RelationshipRequest, RelationshipSource,
    RelationshipState,
};
use crate::domain::principal::Principal;
use crate::domain::{Error, Reason, Result, rules};
use crate::service::contract::relationships::Accepted;
use crate::store::{GrantTerms, WriteTx, new_id};

fn not_found() -> Error {
    Error::not_found(Reason::InvitationNotFound, "no relationship request has this code")
}

impl LocalRelationships {
    /// I6, I7, and D2 for the grants it makes.
    pub(super) async fn accept_relationship_request(&self, principal: &Principal, code: &str) -> Result<Accepted> {
        self.gate(principal).await?;
        let Principal::Customer { customer_id } = principal else {
            return Err(Error::role_not_allowed(
                "accept relationship requests (a customer's admin does)",
            ));
        };
        // An unknown code is refused before taking the write order, so junk
        // codes never queue behind or ahead of real writes. Codes are never
        // deleted: this read may only refuse (W1); the transaction decides.
        if !self.store.invitation_code_exists(code).await? {
            return Err(not_found());
        }
        let mut tx = self.store.begin_write(principal.actor()).await?;
        let invitation = tx.invitation_by_code(code).await?.ok_or_else(not_found)?;
        let customer = tx
            .customer(customer_id)
            .await?
            .ok_or_else(|| Error::not_found(Reason::CustomerNotFound, "the token's customer does not exist"))?;
        let mut seen = as_seen(invitation.clone(), tx.now());
        // The code is the caller's already; the reply never repeats it.
        seen.code.clear();

        // Accepting again changes nothing and returns the rows as they are.
        if let Some((relationship_ids, grant_ids)) = tx.acceptance(&invitation.id, customer_id).await? {
            return Ok(Accepted {
                relationship_request: seen,
                relationships: tx.relationships_by_ids(&relationship_ids).await?,
                grants: tx.grants_by_ids(&grant_ids).await?,
                superseded_grants: Vec::new(),
            });
        }
        rules::check_acceptable(&invitation, &customer.domain, tx.now())?;
        check_parties(&mut tx, &invitation).await?;
        let relationships = make_relationships(&mut tx, customer_id, &invitation).await?;
        let grants = grant_requested_dap(&mut tx, customer_id, &invitation).await?;
        // D2: the partners that now transact hold the single transacting
        // grant per service; the grantee last, so its new grants win.
        let grantee = grantee(&invitation);
        let mut parties: Vec<&str> = relationships.iter().map(|r| r.partner_id.as_str()).collect();
        parties.retain(|p| *p != grantee);
        parties.push(grantee);
        let mut superseded = Vec::new();
        for party in parties {
            superseded.extend(supersede_for_transacting(&mut tx, customer_id, party, None).await?);
        }
        let relationship_ids: Vec<String> = relationships.iter().map(|r| r.id.clone()).collect();
        let grant_ids: Vec<String> = grants.iter().map(|g| g.id.clone()).collect();
        tx.insert_acceptance(&invitation.id, customer_id, &relationship_ids, &grant_ids)
            .await?;
        // The acceptance itself is a change with its event too.
        tx.record(
            "relationship_request.accepted",
            EventResource::RelationshipRequest(invitation.clone()),
        );
        tx.commit().await?;
        tracing::info!(
            relationship_request_id = %invitation.id,
            customer_id = %customer_id,
            grants = grants.len(),
            superseded = superseded.len(),
            "relationship request accepted"
        );
        Ok(Accepted {
            relationship_request: seen,
            relationships,
            grants,
            superseded_grants: superseded,
        })
    }
}

/// I7: the partners and the link, as this write sees them.
async fn check_parties(tx: &mut WriteTx, invitation: &RelationshipRequest) -> Result<()> {
    let inviter = tx.partner(&invitation.inviting_partner_id).await?;
    rules::require_active_party(inviter.as_ref(), "inviting partner")?;
    if let Some(reseller_id) = &invitation.indirect_reseller_id {
        let reseller = tx.partner(reseller_id).await?;
        rules::require_active_party(reseller.as_ref(), "indirect reseller")?;
        let linked = tx
            .active_link(&invitation.inviting_partner_id, reseller_id)
            .await?
            .is_some();
        rules::check_reseller_linked(reseller.as_ref(), linked)?;
    }
    Ok(())
}

/// I6 (a) the RESELLER relationship, owned by the inviting partner, and
/// (b) the INDIRECT_RESELLER relationship through the provider.
async fn make_relationships(
    tx: &mut WriteTx,
    customer_id: &str,
    invitation: &RelationshipRequest,
) -> Result<Vec<Relationship>> {
    let mut relationships = vec![
        ensure_relationship(
            tx,
            customer_id,
            &invitation.inviting_partner_id,
            RelationshipKind::Reseller,
            None,
            &invitation.id,
        )
        .await?,
    ];
    if let Some(reseller_id) = &invitation.indirect_reseller_id {
        relationships.push(
            ensure_relationship(
                tx,
                customer_id,
                reseller_id,
                RelationshipKind::IndirectReseller,
                Some(&invitation.inviting_partner_id),
                &invitation.id,
            )
            .await?,
        );
    }
    Ok(relationships)
}

/// I6 (c): the partner that will do the work gets the delegated admin.
fn grantee(invitation: &RelationshipRequest) -> &str {
    invitation
        .indirect_reseller_id
        .as_deref()
        .unwrap_or(&invitation.inviting_partner_id)
}

/// I6 (c): DAP as the invitation asked, one grant per service, each with
/// the invitation's roles (R1).
async fn grant_requested_dap(
    tx: &mut WriteTx,
    customer_id: &str,
    invitation: &RelationshipRequest,
) -> Result<Vec<DelegatedAdminGrant>> {
    if !invitation.include_delegated_admin {
        return Ok(Vec::new());
    }
    let terms = invitation
        .delegated_admin_services
        .iter()
        .map(|service| GrantTerms {
            service: *service,
            roles: invitation.delegated_admin_roles.clone(),
            end_time: None,
            auto_extend: false,
        })
        .collect();
    tx.put_grants(customer_id, grantee(invitation), terms, Some(invitation.id.clone()))
        .await
}

/// An existing ACTIVE relationship of this kind (and chain), or a new one.
async fn ensure_relationship(
    tx: &mut WriteTx,
    customer_id: &str,
    partner_id: &str,
    kind: RelationshipKind,
    indirect_provider_id: Option<&str>,
    invitation_id: &str,
) -> Result<Relationship> {
    let existing = tx
        .active_relationships(customer_id, partner_id, kind)
        .await?
        .into_iter()
        .find(|r| r.indirect_provider_id.as_deref() == indirect_provider_id);
    if let Some(existing) = existing {
        return Ok(existing);
    }
    let relationship = Relationship {
        id: new_id(),
        customer_id: customer_id.to_owned(),
        partner_id: partner_id.to_owned(),
        kind,
        indirect_provider_id: indirect_provider_id.map(str::to_owned),
        state: RelationshipState::Active,
        source: RelationshipSource::Invitation,
        relationship_request_id: Some(invitation_id.to_owned()),
        start_time: tx.now(),
        end_time: None,
        end_cause: None,
    };
    tx.insert_relationship(&relationship).await?;
    Ok(relationship)
}
