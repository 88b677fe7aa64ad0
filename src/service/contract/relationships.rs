//! The RelationshipService's contract (I1-I7, M1-M3, D1-D5, G1-G4, A1-A3,
//! E1-E3): the `Relationships` trait and its commands and results.

use std::pin::Pin;

use async_trait::async_trait;
use serde::Serialize;
use tokio_stream::Stream;

use crate::domain::Result;
use crate::domain::access::{AccessQuery, Decision};
use crate::domain::model::{
    AccessAssignment, AssignmentPrincipal, AssignmentState, DelegatedAdminGrant, Event, GrantState, InvitationState,
    Relationship, RelationshipRequest, Role, Scope, SecurityGroup, Service,
};
use crate::domain::paging::Page;
use crate::domain::principal::Principal;

/// The RelationshipService in domain types: one function per RPC.
#[async_trait]
pub trait Relationships: Send + Sync + 'static {
    /// I1, I2, I3: a partner invites a customer; the reply carries the code
    /// and the url, once.
    async fn create_relationship_request(
        &self,
        principal: &Principal,
        command: CreateRelationshipRequest,
    ) -> Result<RelationshipRequest>;

    /// I4: the inviting partner and the named indirect reseller read it.
    async fn get_relationship_request(&self, principal: &Principal, id: &str) -> Result<RelationshipRequest>;

    /// I4: a partner lists what it sent and what names it.
    async fn list_relationship_requests(
        &self,
        principal: &Principal,
        command: ListRelationshipRequests,
    ) -> Result<Page<RelationshipRequest>>;

    /// I5: the inviting partner (or the operator) revokes.
    async fn revoke_relationship_request(&self, principal: &Principal, id: &str) -> Result<RelationshipRequest>;

    /// I6, I7, and D2 for the grants it makes.
    async fn accept_relationship_request(&self, principal: &Principal, code: &str) -> Result<Accepted>;

    /// M2.
    async fn list_customer_relationships(
        &self,
        principal: &Principal,
        command: ListCustomerRelationships,
    ) -> Result<CustomerRelationships>;

    /// M3.
    async fn end_reseller_relationship(
        &self,
        principal: &Principal,
        command: EndResellerRelationship,
    ) -> Result<Relationship>;

    /// D1, D2.
    async fn grant_delegated_admin(&self, principal: &Principal, command: GrantDelegatedAdmin) -> Result<Granted>;

    /// G1.
    async fn list_delegated_admin_grants(
        &self,
        principal: &Principal,
        command: ListDelegatedAdminGrants,
    ) -> Result<Page<DelegatedAdminGrant>>;

    /// G3.
    async fn update_delegated_admin(
        &self,
        principal: &Principal,
        command: UpdateDelegatedAdmin,
    ) -> Result<DelegatedAdminGrant>;

    /// D3, G4.
    async fn revoke_delegated_admin(
        &self,
        principal: &Principal,
        command: RevokeDelegatedAdmin,
    ) -> Result<DelegatedAdminGrant>;

    /// A1: one decision, about `query.partner_id` on `query.customer_id`. A
    /// partner asks only about itself (a suspended one is still answered:
    /// PARTNER_NOT_ACTIVE); a customer's admin does not ask.
    async fn check_access(&self, principal: &Principal, query: AccessQuery) -> Result<Decision>;

    /// A2: many decisions, in the order of `queries`, with one read of the
    /// store; one query the caller may not ask refuses them all.
    async fn batch_check_access(&self, principal: &Principal, queries: Vec<AccessQuery>) -> Result<Vec<Decision>>;

    /// E2.
    async fn list_events(&self, principal: &Principal, command: ListEvents) -> Result<Page<Event>>;

    /// E3: the backlog after `after_seq`, then live events. The stream ends
    /// with RESOURCE_EXHAUSTED SLOW_CONSUMER when the consumer falls behind
    /// and UNAVAILABLE SHUTTING_DOWN when the server stops.
    async fn watch_events(&self, principal: &Principal, command: WatchEvents) -> Result<EventStream>;

    /// R4: a partner (for itself) or the operator (naming the partner)
    /// makes a group; at most 500 per partner (W1).
    async fn create_security_group(&self, principal: &Principal, command: CreateSecurityGroup)
    -> Result<SecurityGroup>;

    /// R4: its partner, the operator and services read a group.
    async fn get_security_group(&self, principal: &Principal, id: &str) -> Result<SecurityGroup>;

    /// R4: a partner lists its own; the operator and services any partner's.
    async fn list_security_groups(
        &self,
        principal: &Principal,
        command: ListSecurityGroups,
    ) -> Result<Page<SecurityGroup>>;

    /// R4: its partner or the operator changes a group.
    async fn update_security_group(&self, principal: &Principal, command: UpdateSecurityGroup)
    -> Result<SecurityGroup>;

    /// R4: its partner or the operator deletes a group; the reply is the
    /// group as it was.
    async fn delete_security_group(&self, principal: &Principal, command: DeleteSecurityGroup)
    -> Result<SecurityGroup>;

    /// R5: a grant's partner (or the operator) gives some of the grant's
    /// roles to one of the partner's users or groups; at most 100 ACTIVE
    /// per grant, one per principal (W1).
    async fn create_access_assignment(
        &self,
        principal: &Principal,
        command: CreateAccessAssignment,
    ) -> Result<AccessAssignment>;

    /// R5: the grant's partner, its customer's admin, the operator and
    /// services read an assignment.
    async fn get_access_assignment(&self, principal: &Principal, id: &str) -> Result<AccessAssignment>;

    /// R5: as in Get; in id order.
    async fn list_access_assignments(
        &self,
        principal: &Principal,
        command: ListAccessAssignments,
    ) -> Result<Page<AccessAssignment>>;

    /// R5: the partner or the operator changes an ACTIVE assignment's roles.
    async fn update_access_assignment(
        &self,
        principal: &Principal,
        command: UpdateAccessAssignment,
    ) -> Result<AccessAssignment>;

    /// R5: the partner, the operator or the customer's admin ends an
    /// ACTIVE assignment (REMOVED); the reply is the ended assignment.
    async fn delete_access_assignment(
        &self,
        principal: &Principal,
        command: DeleteAccessAssignment,
    ) -> Result<AccessAssignment>;
}

/// E3: events as they are appended.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<Event>> + Send + 'static>>;

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CreateRelationshipRequest {
    /// Always the caller when given (I1).
    pub inviting_partner_id: Option<String>,
    pub indirect_reseller_id: Option<String>,
    pub include_delegated_admin: bool,
    /// I3: as asked; all three when empty with include_delegated_admin.
    pub delegated_admin_services: Vec<Service>,
    /// R1: scopes or roles as asked (not both); both scopes' roles when
    /// neither is given.
    pub delegated_admin_scopes: Vec<Scope>,
    /// Left out of the request fingerprint when empty, so a retry of a
    /// request made before roles existed matches its first (AIP-155).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub delegated_admin_roles: Vec<Role>,
    pub customer_domain: Option<String>,
    /// I3: 0 for the service's default.
    pub expire_after_days: i32,
    pub request_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ListRelationshipRequests {
    pub inviting_partner_id: Option<String>,
    pub indirect_reseller_id: Option<String>,
    pub state: Option<InvitationState>,
    pub page_size: i32,
    pub page_token: String,
}

/// I6: what an acceptance made (or, accepted again, what it had made).
#[derive(Clone, Debug, PartialEq)]
pub struct Accepted {
    /// Without its code.
    pub relationship_request: RelationshipRequest,
    pub relationships: Vec<Relationship>,
    pub grants: Vec<DelegatedAdminGrant>,
    pub superseded_grants: Vec<DelegatedAdminGrant>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ListCustomerRelationships {
    pub customer_id: String,
    pub page_size: i32,
    pub page_token: String,
}

/// M2: one page of a customer's relationships and grants, in id order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CustomerRelationships {
    pub relationships: Vec<Relationship>,
    pub grants: Vec<DelegatedAdminGrant>,
    pub next_page_token: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EndResellerRelationship {
    pub customer_id: String,
    /// The partner whose relationship ends: the caller for a partner; the
    /// operator names it.
    pub partner_id: Option<String>,
}

/// G1: the filters of a grant list (None: not filtered).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ListDelegatedAdminGrants {
    pub customer_id: Option<String>,
    pub partner_id: Option<String>,
    pub service: Option<Service>,
    pub state: Option<GrantState>,
    /// 1-365.
    pub expiring_within_days: Option<i32>,
    pub page_size: i32,
    pub page_token: String,
}

/// G3: the fields set are the ones the update changes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UpdateDelegatedAdmin {
    pub grant_id: String,
    pub etag: String,
    pub end_time: Option<crate::domain::model::Micros>,
    pub auto_extend: Option<bool>,
    /// R3: the roles the grant keeps (only ever fewer).
    pub roles: Option<Vec<Role>>,
}

/// D3, G4: a grant to revoke, and why (kept in the grant and its event).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RevokeDelegatedAdmin {
    pub grant_id: String,
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GrantDelegatedAdmin {
    /// The caller's tenant when given.
    pub customer_id: Option<String>,
    pub partner_id: String,
    pub service: Service,
    /// R1: scopes or roles as asked (one of the two, not both).
    pub scopes: Vec<Scope>,
    /// Left out of the request fingerprint when empty, as above.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Role>,
    /// D1: 0 for no end.
    pub duration_days: i32,
    pub auto_extend: bool,
    pub request_id: Option<String>,
}

/// D1, D2: the grant, and the grants it superseded.
#[derive(Clone, Debug, PartialEq)]
pub struct Granted {
    pub grant: DelegatedAdminGrant,
    pub superseded_grants: Vec<DelegatedAdminGrant>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ListEvents {
    pub customer_id: Option<String>,
    pub partner_id: Option<String>,
    pub after_seq: i64,
    pub page_size: i32,
    pub page_token: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct WatchEvents {
    pub customer_id: Option<String>,
    pub partner_id: Option<String>,
    pub after_seq: i64,
}

/// R4: a new group. `partner_id` is the operator's to name; a partner's
/// group is its own (None or itself).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CreateSecurityGroup {
    pub partner_id: Option<String>,
    /// Trimmed, 1-256 characters.
    pub display_name: String,
    pub member_user_ids: Vec<String>,
    pub request_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ListSecurityGroups {
    pub partner_id: Option<String>,
    pub page_size: i32,
    pub page_token: String,
}

/// R4: the fields update_mask names (None: kept).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct UpdateSecurityGroup {
    pub id: String,
    /// Empty: not checked.
    pub etag: String,
    pub display_name: Option<String>,
    pub member_user_ids: Option<Vec<String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DeleteSecurityGroup {
    pub id: String,
    /// Empty: not checked.
    pub etag: String,
}

/// R5: a new assignment: the grant, the principal, the roles (non-empty,
/// distinct).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CreateAccessAssignment {
    pub grant_id: String,
    pub principal: AssignmentPrincipal,
    pub roles: Vec<Role>,
    pub request_id: Option<String>,
}

/// R5: the filters of a list (each None: any).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ListAccessAssignments {
    pub partner_id: Option<String>,
    pub customer_id: Option<String>,
    pub grant_id: Option<String>,
    pub principal: Option<AssignmentPrincipal>,
    pub state: Option<AssignmentState>,
    pub page_size: i32,
    pub page_token: String,
}

/// R5: the new roles (non-empty, distinct).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct UpdateAccessAssignment {
    pub id: String,
    /// Empty: not checked.
    pub etag: String,
    pub roles: Vec<Role>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DeleteAccessAssignment {
    pub id: String,
    /// Empty: not checked.
    pub etag: String,
}
