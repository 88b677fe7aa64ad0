//! The consequences of other services' writes that this service's rows
//! carry (DOMAIN.md, Deployment): C1's creator relationship and DAP, S1's
//! ADVISOR relationship, and D2 when a provider or a link is restored. This
//! file is their one home: `carry_out` writes them, inside the causing
//! write's transaction in the embedded deployment, or, in the split one,
//! in a transaction of this service that also marks the outbox record
//! carried out (`apply_consequences`, the internal RPC and the relay).

use async_trait::async_trait;

use super::LocalRelationships;
use super::delegated_admin::supersede_for_new_transactor;
use crate::context::CallContext;
use crate::domain::consequence::Consequence;
use crate::domain::model::RelationshipKind;
use crate::domain::{Error, Reason, Result, rules};
use crate::service::contract::consequences::{Consequences, InternalRelationships};
use crate::store::{OutboxEntry, WriteTx, new_id};

/// The consequences of a write, embedded: the RelationshipService runs in
/// the writing process, so they are carried out in the write's own
/// transaction.
pub struct InProcessConsequences;

#[async_trait]
impl Consequences for InProcessConsequences {
    async fn commit(&self, mut tx: WriteTx, _origin_id: &str, consequences: Vec<Consequence>) -> Result<()> {
        for consequence in &consequences {
            carry_out(&mut tx, consequence).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Nothing is ever pending: the write carried them out.
    async fn settle(&self, _origin_id: &str) -> Result<()> {
        Ok(())
    }
}

/// Carries out one consequence inside `tx`.
async fn carry_out(tx: &mut WriteTx, consequence: &Consequence) -> Result<()> {
    match consequence {
        // C1: the rows themselves are decided by `rules::creator_rights`.
        Consequence::CreatorRights {
            customer_id,
            creator_id,
            reseller_id,
        } => {
            let (relationships, grants) =
                rules::creator_rights(customer_id, creator_id, reseller_id.as_deref(), tx.now(), new_id);
            for relationship in &relationships {
                tx.insert_relationship(relationship).await?;
            }
            for grant in &grants {
                tx.insert_grant(grant, None).await?;
            }
        }
        // S1: unless the partner has an ACTIVE ADVISOR relationship already.
        Consequence::AdvisorRelationship { subscription } => {
            let Some(advisor) = rules::advisor_relationship(subscription, tx.now(), new_id) else {
                return Ok(());
            };
            let existing = tx
                .active_relationships(&advisor.customer_id, &advisor.partner_id, RelationshipKind::Advisor)
                .await?;
            if existing.is_empty() {
                tx.insert_relationship(&advisor).await?;
            }
        }
        // D2: the resellers' ACTIVE relationships through the provider
        // transact again; where they hold grants, those win.
        Consequence::Reinstated {
            provider_id,
            reseller_ids,
        } => {
            for reseller_id in reseller_ids {
                let customers = tx.customers_served_via(reseller_id, provider_id).await?;
                supersede_for_new_transactor(tx, reseller_id, &customers).await?;
            }
        }
    }
    Ok(())
}

/// Outbox records carried out per relay round.
const RELAY_BATCH: u64 = 100;

impl LocalRelationships {
    /// Carries out one outbox record in a transaction of its own, after
    /// taking the write order, so no other process carries it out at the
    /// same time; its events name the causing write's actor.
    async fn apply_one(&self, id: &str) -> Result<()> {
        let Some(entry) = self.store.outbox_entry(id).await? else {
            return Err(Error::new(
                crate::domain::ErrorCode::InvalidArgument,
                Reason::InvalidField,
                format!("no outbox record {id}"),
            ));
        };
        if entry.applied {
            return Ok(());
        }
        let mut tx = self.store.begin_write(entry.actor.clone()).await?;
        let Some(OutboxEntry {
            applied: false,
            consequence,
            ..
        }) = tx.outbox_entry(id).await?
        else {
            // Carried out meanwhile (by the relay or a retry).
            return Ok(());
        };
        carry_out(&mut tx, &consequence).await?;
        tx.mark_applied(id).await?;
        tx.commit().await?;
        tracing::info!(outbox_id = id, origin_id = %entry.origin_id, "consequence carried out");
        Ok(())
    }

    /// The relay: carries out every record still pending (writes whose
    /// process stopped before asking, or whose request did not arrive).
    /// Returns how many it carried out.
    pub async fn relay_pending(&self) -> Result<usize> {
        let pending = self.store.pending_consequences(RELAY_BATCH).await?;
        let mut done = 0;
        for entry in pending {
            let context = CallContext::detached(Some(&entry.trace_id));
            let span = tracing::info_span!("relay", trace_id = %context.trace_id);
            let applied = tracing::Instrument::instrument(context.scope(self.apply_one(&entry.id)), span).await;
            match applied {
                Ok(()) => done += 1,
                Err(error) => {
                    tracing::warn!(outbox_id = %entry.id, %error, "consequence not carried out; retrying later");
                    break;
                }
            }
        }
        Ok(done)
    }
}

#[async_trait]
impl InternalRelationships for LocalRelationships {
    async fn apply_consequences(&self, ids: Vec<String>) -> Result<()> {
        for id in &ids {
            self.apply_one(id).await?;
        }
        Ok(())
    }
}
