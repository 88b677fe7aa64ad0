//! A1, A2: access decisions for callers. The decision itself is
//! `domain::access::decide`; the `AccessChecker` (the store's coalescing
//! checker in a server) reads the facts for it.

use super::LocalRelationships;
use crate::domain::access::{AccessQuery, Decision};
use crate::domain::principal::Principal;
use crate::domain::{Error, Reason, Result};

impl LocalRelationships {
    /// A1.
    pub(super) async fn check_access(&self, principal: &Principal, query: AccessQuery) -> Result<Decision> {
        if let Err(error) = may_ask(principal, &query) {
            // P4: a suspended caller is told it is suspended.
            self.gate(principal).await?;
            return Err(error);
        }
        self.access.check(&query).await
    }

    /// A2: the checks of one call are already one statement.
    pub(super) async fn batch_check_access(
        &self,
        principal: &Principal,
        queries: Vec<AccessQuery>,
    ) -> Result<Vec<Decision>> {
        if let Some(error) = queries.iter().find_map(|query| may_ask(principal, query).err()) {
            // P4 as in CheckAccess.
            self.gate(principal).await?;
            return Err(error);
        }
        self.access.check_batch(&queries).await
    }
}

/// A1: who may ask. A partner asks only about itself; a customer's admin
/// does not ask; the operator and services ask about anyone.
fn may_ask(principal: &Principal, query: &AccessQuery) -> Result<()> {
    match principal {
        Principal::Partner { partner_id } if partner_id != &query.partner_id => Err(Error::permission_denied(
            Reason::RoleNotAllowed,
            "a partner may check access only for itself",
        )),
        Principal::Customer { .. } => Err(Error::role_not_allowed("check access")),
        _ => Ok(()),
    }
}
