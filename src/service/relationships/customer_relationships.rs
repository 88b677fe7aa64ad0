//! M2, M3: a customer's relationships: reading them, and ending a reseller
//! relationship.

use super::{LocalRelationships, tenant_mismatch, view_query};
use crate::domain::model::{EndCause, Relationship, RelationshipEndCause, RelationshipKind};
use crate::domain::paging::PageRequest;
use crate::domain::principal::Principal;
use crate::domain::{Error, Reason, Result, rules};
use crate::service::contract::relationships::{
    CustomerRelationships, EndResellerRelationship, ListCustomerRelationships,
};
use crate::store::RelationshipView;

impl LocalRelationships {
    /// C4 for relationship reads: the customer's admin, operator and
    /// service read everything; a partner needs VIEW.
    async fn relationship_view(&self, principal: &Principal, customer_id: &str) -> Result<RelationshipView> {
        match principal {
            Principal::Operator { .. } | Principal::Service { .. } => Ok(RelationshipView::All),
            Principal::Customer { customer_id: own } if own == customer_id => Ok(RelationshipView::All),
            Principal::Customer { .. } => Err(tenant_mismatch()),
            Principal::Partner { partner_id } => {
                let decision = self.access.check(&view_query(partner_id, customer_id)).await?;
                rules::require_view(&decision)?;
                Ok(RelationshipView::Partner(
                    self.store.chain_view(customer_id, partner_id).await?,
                ))
            }
        }
    }

    /// M2.
    pub(super) async fn list_customer_relationships(
        &self,
        principal: &Principal,
        command: ListCustomerRelationships,
    ) -> Result<CustomerRelationships> {
        self.gate(principal).await?;
        let customer_id = command.customer_id;
        let view = self.relationship_view(principal, &customer_id).await?;
        let page = PageRequest::parse(
            command.page_size,
            &command.page_token,
            &format!("customer_relationships|{customer_id}|{view:?}"),
        )?;
        let (relationships, grants, next_page_token) =
            self.store.customer_relationships(&customer_id, &view, &page).await?;
        Ok(CustomerRelationships {
            relationships,
            grants,
            next_page_token,
        })
    }

    /// M3.
    pub(super) async fn end_reseller_relationship(
        &self,
        principal: &Principal,
        command: EndResellerRelationship,
    ) -> Result<Relationship> {
        self.gate(principal).await?;
        let customer_id = command.customer_id;
        let partner_id = match (principal, command.partner_id) {
            (Principal::Operator { .. }, Some(named)) => named,
            (Principal::Operator { .. }, None) => {
                return Err(Error::invalid("partner_id", "the operator names the partner"));
            }
            (Principal::Partner { partner_id }, named) => {
                if named.as_ref().is_some_and(|named| named != partner_id) {
                    return Err(Error::permission_denied(
                        Reason::RoleNotAllowed,
                        "a partner ends only its own relationship",
                    ));
                }
                // Fails sooner on the caller alone; decided again inside.
                self.active_caller(partner_id).await?;
                partner_id.clone()
            }
            _ => return Err(Error::role_not_allowed("end reseller relationships")),
        };

        let mut tx = self.store.begin_write(principal.actor()).await?;
        // W1: P4 and C4 on the state this write commits against.
        if principal.partner_id().is_some() {
            tx.active_caller(&partner_id).await?;
            rules::require_view(&tx.decide(&view_query(&partner_id, &customer_id)).await?)?;
        }
        let relationships = tx
            .active_relationships(&customer_id, &partner_id, RelationshipKind::Reseller)
            .await?;
        if relationships.is_empty() {
            return Err(Error::not_found(
                Reason::RelationshipNotFound,
                "the partner has no ACTIVE RESELLER relationship with this customer",
            ));
        }
        let subscriptions = tx.subscriptions_naming(&customer_id, &partner_id).await?;
        let blocking = rules::blocking_subscriptions(&subscriptions, &partner_id);
        if !blocking.is_empty() {
            let ids: Vec<&str> = blocking.iter().map(|s| s.id.as_str()).collect();
            return Err(Error::failed_precondition(
                Reason::ActiveSubscriptions,
                format!(
                    "ACTIVE subscriptions still name this partner: {}; cancel or suspend them first",
                    crate::domain::error::listed(&ids)
                ),
            )
            .with_ids("subscription_ids", &ids));
        }
        let mut ended = Vec::new();
        for relationship in relationships {
            ended.push(
                tx.end_relationship(relationship, RelationshipEndCause::PartnerEnded)
                    .await?,
            );
        }
        for grant in tx.active_grants(&customer_id, Some(&partner_id), None).await? {
            tx.end_grant(grant, EndCause::RelationshipEnded, None).await?;
        }
        for indirect in tx.indirect_relationships_via(&customer_id, &partner_id).await? {
            let reseller_id = indirect.partner_id.clone();
            tx.end_relationship(indirect, RelationshipEndCause::ProviderEnded)
                .await?;
            // Its DAP ends with the chain, unless another relationship of its
            // own (another provider's chain) still stands on this customer.
            if !tx.has_active_relationship(&customer_id, &reseller_id).await? {
                for grant in tx.active_grants(&customer_id, Some(&reseller_id), None).await? {
                    tx.end_grant(grant, EndCause::RelationshipEnded, None).await?;
                }
            }
        }
        tx.commit().await?;
        tracing::info!(customer_id = %customer_id, partner_id = %partner_id, "reseller relationship ended");
        ended
            .into_iter()
            .next()
            .ok_or_else(|| Error::internal("no relationship ended"))
    }
}
