//! Relationships: the use cases of the RelationshipService (I1-I7, M1-M3,
//! D1-D5, A1-A3, E1-E3), one file per use case: invitations (I1-I5),
//! acceptance (I6, I7), customer relationships (M2, M3), delegated admin (D1-D3 and
//! D2's one home), access (A1, A2), events (E2, E3), and the consequences
//! of the other services' writes that its rows carry. The trait, its
//! commands and results are `contract::relationships`.

mod acceptance;
mod access;
mod assignments;
pub mod consequences;
mod customer_relationships;
mod delegated_admin;
mod events;
mod groups;
mod invitations;

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::RelationshipSettings;
use crate::domain::access::{AccessQuery, Action, Decision};
use crate::domain::model::{
    AccessAssignment, DelegatedAdminGrant, Event, Partner, Relationship, RelationshipRequest, SecurityGroup,
};
use crate::domain::paging::Page;
use crate::domain::ports::AccessChecker;
use crate::domain::principal::Principal;
use crate::domain::{Error, Reason, Result};
use crate::service::contract::partners::{Partners, active_partner, require_active_caller};
use crate::service::contract::relationships::{
    Accepted, CreateAccessAssignment, CreateRelationshipRequest, CreateSecurityGroup, CustomerRelationships,
    DeleteAccessAssignment, DeleteSecurityGroup, EndResellerRelationship, EventStream, GrantDelegatedAdmin, Granted,
    ListAccessAssignments, ListCustomerRelationships, ListDelegatedAdminGrants, ListEvents, ListRelationshipRequests,
    ListSecurityGroups, Relationships, RevokeDelegatedAdmin, UpdateAccessAssignment, UpdateDelegatedAdmin,
    UpdateSecurityGroup, WatchEvents,
};
use crate::store::Store;

/// The RelationshipService over the store of this process.
pub struct LocalRelationships {
    store: Store,
    /// Partners are read through their service outside transactions.
    partners: Arc<dyn Partners>,
    /// How this service reads partners (P4's gate, I1's inviter).
    reader: Principal,
    access: Arc<dyn AccessChecker>,
    settings: RelationshipSettings,
}

impl LocalRelationships {
    /// `access` decides A1 (the store's batching checker in a server).
    pub fn new(
        store: Store,
        partners: Arc<dyn Partners>,
        access: Arc<dyn AccessChecker>,
        settings: RelationshipSettings,
    ) -> Self {
        LocalRelationships {
            store,
            partners,
            reader: Principal::Service {
                subject: "relationship-service".into(),
            },
            access,
            settings,
        }
    }

    /// The calling partner, refused unless ACTIVE (P4, see
    /// `contract::partners::active_partner`).
    async fn active_caller(&self, partner_id: &str) -> Result<Partner> {
        active_partner(self.partners.as_ref(), &self.reader, partner_id).await
    }

    /// P4: a partner that is not ACTIVE is refused every call (but
    /// CheckAccess about itself), decided from the caller alone before any
    /// lookup (W2).
    async fn gate(&self, principal: &Principal) -> Result<()> {
        require_active_caller(self.partners.as_ref(), &self.reader, principal).await
    }
}

/// C4: the question a partner's read of a customer's relationships asks.
fn view_query(partner_id: &str, customer_id: &str) -> AccessQuery {
    AccessQuery {
        partner_id: partner_id.to_owned(),
        customer_id: customer_id.to_owned(),
        action: Action::View,
        service: None,
        subscription_id: None,
        user_id: None,
    }
}

fn tenant_mismatch() -> Error {
    Error::permission_denied(Reason::TenantMismatch, "a customer admin acts only on its own tenant")
}

#[async_trait]
impl Relationships for LocalRelationships {
    async fn create_relationship_request(
        &self,
        principal: &Principal,
        command: CreateRelationshipRequest,
    ) -> Result<RelationshipRequest> {
        self.create_relationship_request(principal, command).await
    }

    async fn get_relationship_request(&self, principal: &Principal, id: &str) -> Result<RelationshipRequest> {
        self.get_relationship_request(principal, id).await
    }

    async fn list_relationship_requests(
        &self,
        principal: &Principal,
        command: ListRelationshipRequests,
    ) -> Result<Page<RelationshipRequest>> {
        self.list_relationship_requests(principal, command).await
    }

    async fn revoke_relationship_request(&self, principal: &Principal, id: &str) -> Result<RelationshipRequest> {
        self.revoke_relationship_request(principal, id).await
    }

    async fn accept_relationship_request(&self, principal: &Principal, code: &str) -> Result<Accepted> {
        self.accept_relationship_request(principal, code).await
    }

    async fn list_customer_relationships(
        &self,
        principal: &Principal,
        command: ListCustomerRelationships,
    ) -> Result<CustomerRelationships> {
        self.list_customer_relationships(principal, command).await
    }

    async fn end_reseller_relationship(
        &self,
        principal: &Principal,
        command: EndResellerRelationship,
    ) -> Result<Relationship> {
        self.end_reseller_relationship(principal, command).await
    }

    async fn grant_delegated_admin(&self, principal: &Principal, command: GrantDelegatedAdmin) -> Result<Granted> {
        self.grant_delegated_admin(principal, command).await
    }

    async fn list_delegated_admin_grants(
        &self,
        principal: &Principal,
        command: ListDelegatedAdminGrants,
    ) -> Result<Page<DelegatedAdminGrant>> {
        self.list_delegated_admin_grants(principal, command).await
    }

    async fn update_delegated_admin(
        &self,
        principal: &Principal,
        command: UpdateDelegatedAdmin,
    ) -> Result<DelegatedAdminGrant> {
        self.update_delegated_admin(principal, command).await
    }

    async fn revoke_delegated_admin(
        &self,
        principal: &Principal,
        command: RevokeDelegatedAdmin,
    ) -> Result<DelegatedAdminGrant> {
        self.revoke_delegated_admin(principal, command).await
    }

    async fn check_access(&self, principal: &Principal, query: AccessQuery) -> Result<Decision> {
        self.check_access(principal, query).await
    }

    async fn batch_check_access(&self, principal: &Principal, queries: Vec<AccessQuery>) -> Result<Vec<Decision>> {
        self.batch_check_access(principal, queries).await
    }

    async fn list_events(&self, principal: &Principal, command: ListEvents) -> Result<Page<Event>> {
        self.list_events(principal, command).await
    }

    async fn watch_events(&self, principal: &Principal, command: WatchEvents) -> Result<EventStream> {
        self.watch_events(principal, command).await
    }

    async fn create_security_group(
        &self,
        principal: &Principal,
        command: CreateSecurityGroup,
    ) -> Result<SecurityGroup> {
        self.create_security_group(principal, command).await
    }

    async fn get_security_group(&self, principal: &Principal, id: &str) -> Result<SecurityGroup> {
        self.get_security_group(principal, id).await
    }

    async fn list_security_groups(
        &self,
        principal: &Principal,
        command: ListSecurityGroups,
    ) -> Result<Page<SecurityGroup>> {
        self.list_security_groups(principal, command).await
    }

    async fn update_security_group(
        &self,
        principal: &Principal,
        command: UpdateSecurityGroup,
    ) -> Result<SecurityGroup> {
        self.update_security_group(principal, command).await
    }

    async fn delete_security_group(
        &self,
        principal: &Principal,
        command: DeleteSecurityGroup,
    ) -> Result<SecurityGroup> {
        self.delete_security_group(principal, command).await
    }

    async fn create_access_assignment(
        &self,
        principal: &Principal,
        command: CreateAccessAssignment,
    ) -> Result<AccessAssignment> {
        self.create_access_assignment(principal, command).await
    }

    async fn get_access_assignment(&self, principal: &Principal, id: &str) -> Result<AccessAssignment> {
        self.get_access_assignment(principal, id).await
    }

    async fn list_access_assignments(
        &self,
        principal: &Principal,
        command: ListAccessAssignments,
    ) -> Result<Page<AccessAssignment>> {
        self.list_access_assignments(principal, command).await
    }

    async fn update_access_assignment(
        &self,
        principal: &Principal,
        command: UpdateAccessAssignment,
    ) -> Result<AccessAssignment> {
        self.update_access_assignment(principal, command).await
    }

    async fn delete_access_assignment(
        &self,
        principal: &Principal,
        command: DeleteAccessAssignment,
    ) -> Result<AccessAssignment> {
        self.delete_access_assignment(principal, command).await
    }
}
