//! Relationships: the use cases of the RelationshipService (I1-I7, M1-M3,
//! D1-D5, A1-A3, E1-E3), one file per use case.

mod access;

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::Result;
use crate::domain::access::{AccessQuery, Decision};
use crate::domain::model::Partner;
use crate::domain::ports::{AccessChecker, PartnerDirectory};
use crate::domain::principal::Principal;
use crate::domain::rules;
use crate::store::Store;

/// The RelationshipService in domain types: one function per RPC.
#[async_trait]
pub trait Relationships: Send + Sync + 'static {
    /// A1: one decision, about `query.partner_id` on `query.customer_id`. A
    /// partner asks only about itself (a suspended one is still answered:
    /// PARTNER_NOT_ACTIVE); a customer's admin does not ask.
    async fn check_access(&self, principal: &Principal, query: AccessQuery) -> Result<Decision>;

    /// A2: many decisions, in the order of `queries`, with one read of the
    /// store; one query the caller may not ask refuses them all.
    async fn batch_check_access(&self, principal: &Principal, queries: Vec<AccessQuery>) -> Result<Vec<Decision>>;
}

/// The RelationshipService over the store of this process.
pub struct LocalRelationships {
    store: Store,
    partners: Arc<dyn PartnerDirectory>,
    access: Arc<dyn AccessChecker>,
}

impl LocalRelationships {
    /// `access` decides A1 (the store's batching checker in a server).
    pub fn new(store: Store, partners: Arc<dyn PartnerDirectory>, access: Arc<dyn AccessChecker>) -> Self {
        LocalRelationships {
            store,
            partners,
            access,
        }
    }

    /// The calling partner, refused unless ACTIVE (P4).
    async fn active_caller(&self, partner_id: &str) -> Result<Partner> {
        let caller = self.partners.partner(partner_id).await?;
        rules::require_active_caller(caller.as_ref()).cloned()
    }

    /// P4: a partner that is not ACTIVE is refused every call (but
    /// CheckAccess about itself), decided from the caller alone before any
    /// lookup (W2).
    async fn gate(&self, principal: &Principal) -> Result<()> {
        if let Principal::Partner { partner_id } = principal {
            self.active_caller(partner_id).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Relationships for LocalRelationships {
    async fn check_access(&self, principal: &Principal, query: AccessQuery) -> Result<Decision> {
        self.check_access(principal, query).await
    }

    async fn batch_check_access(&self, principal: &Principal, queries: Vec<AccessQuery>) -> Result<Vec<Decision>> {
        self.batch_check_access(principal, queries).await
    }
}
