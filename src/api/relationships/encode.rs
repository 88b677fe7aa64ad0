//! Domain values into RelationshipService messages: a reply into its
//! message (the server; events carry relationships, grants and invitations
//! too) and a command into its request (the remote client).

use crate::api::convert::{ProtoEnum, id_or_empty, timestamp};
use crate::api::pb;
use crate::domain::access::{AccessQuery, Action, Decision};
use crate::domain::model::*;
use crate::domain::paging::Page;
use crate::service::contract::relationships::{
    Accepted, CreateAccessAssignment, CreateRelationshipRequest, CreateSecurityGroup, CustomerRelationships,
    DeleteAccessAssignment, DeleteSecurityGroup, EndResellerRelationship, GrantDelegatedAdmin, Granted,
    ListAccessAssignments, ListCustomerRelationships, ListDelegatedAdminGrants, ListEvents, ListRelationshipRequests,
    ListSecurityGroups, RevokeDelegatedAdmin, UpdateAccessAssignment, UpdateDelegatedAdmin, UpdateSecurityGroup,
    WatchEvents,
};

impl From<&Relationship> for pb::Relationship {
    fn from(r: &Relationship) -> Self {
        pb::Relationship {
            id: r.id.clone(),
            customer_id: r.customer_id.clone(),
            partner_id: r.partner_id.clone(),
            kind: r.kind.to_proto(),
            indirect_provider_id: id_or_empty(&r.indirect_provider_id),
            state: r.state.to_proto(),
            source: r.source.to_proto(),
            relationship_request_id: id_or_empty(&r.relationship_request_id),
            start_time: timestamp(r.start_time),
            end_time: r.end_time.and_then(timestamp),
            end_cause: r.end_cause.map_or(0, RelationshipEndCause::to_proto),
        }
    }
}

impl From<&DelegatedAdminGrant> for pb::DelegatedAdminGrant {
    fn from(g: &DelegatedAdminGrant) -> Self {
        pb::DelegatedAdminGrant {
            id: g.id.clone(),
            customer_id: g.customer_id.clone(),
            partner_id: g.partner_id.clone(),
            service: g.service.as_str().to_owned(),
            scopes: g.scopes.iter().map(|s| s.to_proto()).collect(),
            roles: g.roles.iter().map(|r| r.to_proto()).collect(),
            state: g.state.to_proto(),
            start_time: timestamp(g.start_time),
            end_time: g.end_time.and_then(timestamp),
            auto_extend: g.auto_extend,
            end_cause: g.end_cause.map_or(0, EndCause::to_proto),
            end_note: g.end_note.clone().unwrap_or_default(),
            notice_days: g.notice_days.unwrap_or(0),
            etag: etag(g.version),
            update_time: timestamp(g.update_time),
        }
    }
}

/// I3: the link a customer's admin opens. It carries the partner, the
/// reseller, the DAP flag and the code; an invitation without its code
/// (as in events) has no link.
fn invitation_url(base_url: &str, invitation: &RelationshipRequest) -> String {
    if invitation.code.is_empty() {
        return String::new();
    }
    let separator = if base_url.contains('?') { '&' } else { '?' };
    format!(
        "{base_url}{separator}partnerId={}&resellerId={}&dap={}&code={}",
        invitation.inviting_partner_id,
        invitation.indirect_reseller_id.as_deref().unwrap_or_default(),
        invitation.include_delegated_admin,
        invitation.code,
    )
}

/// An invitation as its readers see it at `now`: the stored state, or
/// EXPIRED once past its expiry (I5).
fn invitation_at(invitation: &RelationshipRequest, base_url: &str, now: Micros) -> pb::RelationshipRequest {
    pb::RelationshipRequest {
        id: invitation.id.clone(),
        inviting_partner_id: invitation.inviting_partner_id.clone(),
        indirect_reseller_id: id_or_empty(&invitation.indirect_reseller_id),
        include_delegated_admin: invitation.include_delegated_admin,
        delegated_admin_services: invitation
            .delegated_admin_services
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
        delegated_admin_scopes: invitation.delegated_admin_scopes.iter().map(|s| s.to_proto()).collect(),
        delegated_admin_roles: invitation.delegated_admin_roles.iter().map(|r| r.to_proto()).collect(),
        customer_domain: id_or_empty(&invitation.customer_domain),
        code: invitation.code.clone(),
        url: invitation_url(base_url, invitation),
        state: invitation.effective_state(now).to_proto(),
        expire_time: timestamp(invitation.expire_time),
        create_time: timestamp(invitation.create_time),
    }
}

/// An invitation as the service returned it (its state as its reader sees
/// it now); the url is made from `base_url` when it carries its code.
pub fn invitation(invitation: &RelationshipRequest, base_url: &str) -> pb::RelationshipRequest {
    // The service already set the state its reader sees: no later expiry.
    invitation_at(invitation, base_url, Micros::MIN)
}

/// An event as sent to readers. Invitations in events never carry a code.
pub fn event(event: &Event) -> pb::Event {
    use pb::event::Resource;
    let resource = match &event.resource {
        EventResource::Partner(r) => Resource::Partner(r.into()),
        EventResource::PartnerLink(r) => Resource::PartnerLink(r.into()),
        EventResource::Customer(r) => Resource::Customer(r.into()),
        EventResource::Subscription(r) => Resource::Subscription(r.into()),
        EventResource::RelationshipRequest(r) => {
            let mut message = invitation_at(r, "", event.time);
            message.state = r.state.to_proto();
            message.code.clear();
            message.url.clear();
            Resource::RelationshipRequest(message)
        }
        EventResource::Relationship(r) => Resource::Relationship(r.into()),
        EventResource::DelegatedAdminGrant(r) => Resource::DelegatedAdminGrant(r.into()),
        EventResource::Transfer(r) => Resource::Transfer(r.into()),
        EventResource::SecurityGroup(r) => Resource::SecurityGroup(r.into()),
        EventResource::AccessAssignment(r) => Resource::AccessAssignment(r.into()),
        EventResource::WebhookEndpoint(r) => Resource::WebhookEndpoint(r.into()),
    };
    pb::Event {
        seq: event.seq,
        time: timestamp(event.time),
        r#type: event.event_type.clone(),
        actor: event.actor.clone(),
        customer_id: event.resource.customer_id().unwrap_or_default().to_owned(),
        partner_id: event.resource.partner_id().unwrap_or_default().to_owned(),
        subject_id: event.resource.subject_id().to_owned(),
        resource: Some(resource),
    }
}

impl From<&Accepted> for pb::AcceptRelationshipRequestResponse {
    fn from(accepted: &Accepted) -> Self {
        pb::AcceptRelationshipRequestResponse {
            relationship_request: Some(invitation(&accepted.relationship_request, "")),
            relationships: accepted.relationships.iter().map(Into::into).collect(),
            grants: accepted.grants.iter().map(Into::into).collect(),
            superseded_grants: accepted.superseded_grants.iter().map(Into::into).collect(),
        }
    }
}

impl From<&CustomerRelationships> for pb::ListCustomerRelationshipsResponse {
    fn from(page: &CustomerRelationships) -> Self {
        pb::ListCustomerRelationshipsResponse {
            relationships: page.relationships.iter().map(Into::into).collect(),
            delegated_admin_grants: page.grants.iter().map(Into::into).collect(),
            next_page_token: page.next_page_token.clone(),
        }
    }
}

impl From<&Granted> for pb::GrantDelegatedAdminResponse {
    fn from(granted: &Granted) -> Self {
        pb::GrantDelegatedAdminResponse {
            grant: Some((&granted.grant).into()),
            superseded_grants: granted.superseded_grants.iter().map(Into::into).collect(),
        }
    }
}

impl From<&Page<DelegatedAdminGrant>> for pb::ListDelegatedAdminGrantsResponse {
    fn from(page: &Page<DelegatedAdminGrant>) -> Self {
        pb::ListDelegatedAdminGrantsResponse {
            delegated_admin_grants: page.items.iter().map(Into::into).collect(),
            next_page_token: page.next_page_token.clone(),
        }
    }
}

impl From<Decision> for pb::CheckAccessResponse {
    fn from(decision: Decision) -> Self {
        let reason = pb::check_access_response::Reason::from_str_name(decision.reason.as_str()).map_or(0, |r| r as i32);
        pb::CheckAccessResponse {
            allowed: decision.allowed,
            reason,
            relationship_ids: decision.relationship_ids,
            grant_ids: decision.grant_ids,
            assignment_ids: decision.assignment_ids,
            role: decision.role.map_or(0, |role| role.to_proto()),
            security_group_id: id_or_empty(&decision.security_group_id),
        }
    }
}

impl From<Vec<Decision>> for pb::BatchCheckAccessResponse {
    fn from(decisions: Vec<Decision>) -> Self {
        pb::BatchCheckAccessResponse {
            results: decisions.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<&Page<Event>> for pb::ListEventsResponse {
    fn from(page: &Page<Event>) -> Self {
        pb::ListEventsResponse {
            events: page.items.iter().map(event).collect(),
            next_page_token: page.next_page_token.clone(),
        }
    }
}

// Commands into requests (the remote client).

impl From<CreateRelationshipRequest> for pb::CreateRelationshipRequestRequest {
    fn from(command: CreateRelationshipRequest) -> Self {
        pb::CreateRelationshipRequestRequest {
            relationship_request: Some(pb::RelationshipRequest {
                inviting_partner_id: command.inviting_partner_id.unwrap_or_default(),
                indirect_reseller_id: command.indirect_reseller_id.unwrap_or_default(),
                include_delegated_admin: command.include_delegated_admin,
                delegated_admin_services: command
                    .delegated_admin_services
                    .iter()
                    .map(|s| s.as_str().to_owned())
                    .collect(),
                delegated_admin_scopes: command.delegated_admin_scopes.iter().map(|s| s.to_proto()).collect(),
                delegated_admin_roles: command.delegated_admin_roles.iter().map(|r| r.to_proto()).collect(),
                customer_domain: command.customer_domain.unwrap_or_default(),
                ..Default::default()
            }),
            expire_after_days: command.expire_after_days,
            request_id: command.request_id.unwrap_or_default(),
        }
    }
}

impl From<ListRelationshipRequests> for pb::ListRelationshipRequestsRequest {
    fn from(command: ListRelationshipRequests) -> Self {
        pb::ListRelationshipRequestsRequest {
            page_size: command.page_size,
            page_token: command.page_token,
            inviting_partner_id: command.inviting_partner_id.unwrap_or_default(),
            indirect_reseller_id: command.indirect_reseller_id.unwrap_or_default(),
            state: command.state.map_or(0, ProtoEnum::to_proto),
        }
    }
}

impl From<ListCustomerRelationships> for pb::ListCustomerRelationshipsRequest {
    fn from(command: ListCustomerRelationships) -> Self {
        pb::ListCustomerRelationshipsRequest {
            customer_id: command.customer_id,
            page_size: command.page_size,
            page_token: command.page_token,
        }
    }
}

impl From<EndResellerRelationship> for pb::EndResellerRelationshipRequest {
    fn from(command: EndResellerRelationship) -> Self {
        pb::EndResellerRelationshipRequest {
            customer_id: command.customer_id,
            partner_id: command.partner_id.unwrap_or_default(),
        }
    }
}

impl From<GrantDelegatedAdmin> for pb::GrantDelegatedAdminRequest {
    fn from(command: GrantDelegatedAdmin) -> Self {
        pb::GrantDelegatedAdminRequest {
            customer_id: command.customer_id.unwrap_or_default(),
            partner_id: command.partner_id,
            service: command.service.as_str().to_owned(),
            scopes: command.scopes.iter().map(|s| s.to_proto()).collect(),
            roles: command.roles.iter().map(|r| r.to_proto()).collect(),
            duration_days: command.duration_days,
            auto_extend: command.auto_extend,
            request_id: command.request_id.unwrap_or_default(),
        }
    }
}

impl From<ListDelegatedAdminGrants> for pb::ListDelegatedAdminGrantsRequest {
    fn from(command: ListDelegatedAdminGrants) -> Self {
        pb::ListDelegatedAdminGrantsRequest {
            page_size: command.page_size,
            page_token: command.page_token,
            customer_id: command.customer_id.unwrap_or_default(),
            partner_id: command.partner_id.unwrap_or_default(),
            service: command.service.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            state: command.state.map_or(0, GrantState::to_proto),
            expiring_within_days: command.expiring_within_days.unwrap_or(0),
        }
    }
}

impl From<UpdateDelegatedAdmin> for pb::UpdateDelegatedAdminRequest {
    fn from(command: UpdateDelegatedAdmin) -> Self {
        let mut paths = Vec::new();
        if command.end_time.is_some() {
            paths.push("end_time".to_owned());
        }
        if command.auto_extend.is_some() {
            paths.push("auto_extend".to_owned());
        }
        if command.roles.is_some() {
            paths.push("roles".to_owned());
        }
        pb::UpdateDelegatedAdminRequest {
            grant: Some(pb::DelegatedAdminGrant {
                id: command.grant_id,
                etag: command.etag,
                end_time: command.end_time.and_then(timestamp),
                auto_extend: command.auto_extend.unwrap_or_default(),
                roles: command.roles.iter().flatten().map(|r| r.to_proto()).collect(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths }),
        }
    }
}

impl From<RevokeDelegatedAdmin> for pb::RevokeDelegatedAdminRequest {
    fn from(command: RevokeDelegatedAdmin) -> Self {
        pb::RevokeDelegatedAdminRequest {
            grant_id: command.grant_id,
            note: command.note.unwrap_or_default(),
        }
    }
}

fn action_message(action: Action) -> pb::check_access_request::Action {
    use pb::check_access_request::Action as Proto;
    match action {
        Action::View => Proto::View,
        Action::Sell => Proto::Sell,
        Action::Provision => Proto::Provision,
        Action::Support => Proto::Support,
        Action::ManageSubscription => Proto::ManageSubscription,
        Action::ReadDirectory => Proto::ReadDirectory,
        Action::ManageUsers => Proto::ManageUsers,
        Action::ReadBilling => Proto::ReadBilling,
    }
}

impl From<AccessQuery> for pb::CheckAccessRequest {
    fn from(query: AccessQuery) -> Self {
        pb::CheckAccessRequest {
            partner_id: query.partner_id,
            customer_id: query.customer_id,
            action: action_message(query.action) as i32,
            service: query.service.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            subscription_id: query.subscription_id.unwrap_or_default(),
            user_id: query.user_id.unwrap_or_default(),
        }
    }
}

/// A2: the checks, in the order of the queries.
impl From<Vec<AccessQuery>> for pb::BatchCheckAccessRequest {
    fn from(queries: Vec<AccessQuery>) -> Self {
        pb::BatchCheckAccessRequest {
            checks: queries.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<ListEvents> for pb::ListEventsRequest {
    fn from(command: ListEvents) -> Self {
        pb::ListEventsRequest {
            after_seq: command.after_seq,
            page_size: command.page_size,
            page_token: command.page_token,
            customer_id: command.customer_id.unwrap_or_default(),
            partner_id: command.partner_id.unwrap_or_default(),
        }
    }
}

impl From<WatchEvents> for pb::WatchEventsRequest {
    fn from(command: WatchEvents) -> Self {
        pb::WatchEventsRequest {
            after_seq: command.after_seq,
            customer_id: command.customer_id.unwrap_or_default(),
            partner_id: command.partner_id.unwrap_or_default(),
        }
    }
}

impl From<&SecurityGroup> for pb::SecurityGroup {
    fn from(g: &SecurityGroup) -> Self {
        pb::SecurityGroup {
            id: g.id.clone(),
            partner_id: g.partner_id.clone(),
            display_name: g.display_name.clone(),
            member_user_ids: g.member_user_ids.clone(),
            etag: etag(g.version),
            create_time: timestamp(g.create_time),
            update_time: timestamp(g.update_time),
            delete_time: g.delete_time.and_then(timestamp),
        }
    }
}

impl From<&Page<SecurityGroup>> for pb::ListSecurityGroupsResponse {
    fn from(page: &Page<SecurityGroup>) -> Self {
        pb::ListSecurityGroupsResponse {
            security_groups: page.items.iter().map(Into::into).collect(),
            next_page_token: page.next_page_token.clone(),
        }
    }
}

impl From<CreateSecurityGroup> for pb::CreateSecurityGroupRequest {
    fn from(command: CreateSecurityGroup) -> Self {
        pb::CreateSecurityGroupRequest {
            security_group: Some(pb::SecurityGroup {
                partner_id: command.partner_id.unwrap_or_default(),
                display_name: command.display_name,
                member_user_ids: command.member_user_ids,
                ..Default::default()
            }),
            request_id: command.request_id.unwrap_or_default(),
        }
    }
}

impl From<ListSecurityGroups> for pb::ListSecurityGroupsRequest {
    fn from(command: ListSecurityGroups) -> Self {
        pb::ListSecurityGroupsRequest {
            page_size: command.page_size,
            page_token: command.page_token,
            partner_id: command.partner_id.unwrap_or_default(),
        }
    }
}

impl From<UpdateSecurityGroup> for pb::UpdateSecurityGroupRequest {
    fn from(command: UpdateSecurityGroup) -> Self {
        let mut paths = Vec::new();
        if command.display_name.is_some() {
            paths.push("display_name".to_owned());
        }
        if command.member_user_ids.is_some() {
            paths.push("member_user_ids".to_owned());
        }
        pb::UpdateSecurityGroupRequest {
            security_group: Some(pb::SecurityGroup {
                id: command.id,
                etag: command.etag,
                display_name: command.display_name.unwrap_or_default(),
                member_user_ids: command.member_user_ids.unwrap_or_default(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths }),
        }
    }
}

impl From<DeleteSecurityGroup> for pb::DeleteSecurityGroupRequest {
    fn from(command: DeleteSecurityGroup) -> Self {
        pb::DeleteSecurityGroupRequest {
            id: command.id,
            etag: command.etag,
        }
    }
}

fn assignment_principal(principal: &AssignmentPrincipal) -> pb::access_assignment::Principal {
    use pb::access_assignment::Principal as Proto;
    match principal {
        AssignmentPrincipal::User(user) => Proto::UserId(user.clone()),
        AssignmentPrincipal::SecurityGroup(group) => Proto::SecurityGroupId(group.clone()),
    }
}

impl From<&AccessAssignment> for pb::AccessAssignment {
    fn from(a: &AccessAssignment) -> Self {
        pb::AccessAssignment {
            id: a.id.clone(),
            grant_id: a.grant_id.clone(),
            customer_id: a.customer_id.clone(),
            partner_id: a.partner_id.clone(),
            principal: Some(assignment_principal(&a.principal)),
            roles: a.roles.iter().map(|r| r.to_proto()).collect(),
            state: a.state.to_proto(),
            end_cause: a.end_cause.map_or(0, |cause| cause.to_proto()),
            etag: etag(a.version),
            create_time: timestamp(a.create_time),
            update_time: timestamp(a.update_time),
            end_time: a.end_time.and_then(timestamp),
        }
    }
}

impl From<&Page<AccessAssignment>> for pb::ListAccessAssignmentsResponse {
    fn from(page: &Page<AccessAssignment>) -> Self {
        pb::ListAccessAssignmentsResponse {
            access_assignments: page.items.iter().map(Into::into).collect(),
            next_page_token: page.next_page_token.clone(),
        }
    }
}

impl From<CreateAccessAssignment> for pb::CreateAccessAssignmentRequest {
    fn from(command: CreateAccessAssignment) -> Self {
        pb::CreateAccessAssignmentRequest {
            access_assignment: Some(pb::AccessAssignment {
                grant_id: command.grant_id,
                principal: Some(assignment_principal(&command.principal)),
                roles: command.roles.iter().map(|r| r.to_proto()).collect(),
                ..Default::default()
            }),
            request_id: command.request_id.unwrap_or_default(),
        }
    }
}

impl From<ListAccessAssignments> for pb::ListAccessAssignmentsRequest {
    fn from(command: ListAccessAssignments) -> Self {
        let (user_id, security_group_id) = match command.principal {
            Some(AssignmentPrincipal::User(user)) => (user, String::new()),
            Some(AssignmentPrincipal::SecurityGroup(group)) => (String::new(), group),
            None => (String::new(), String::new()),
        };
        pb::ListAccessAssignmentsRequest {
            page_size: command.page_size,
            page_token: command.page_token,
            partner_id: command.partner_id.unwrap_or_default(),
            customer_id: command.customer_id.unwrap_or_default(),
            grant_id: command.grant_id.unwrap_or_default(),
            user_id,
            security_group_id,
            state: command.state.map_or(0, |state| state.to_proto()),
        }
    }
}

impl From<UpdateAccessAssignment> for pb::UpdateAccessAssignmentRequest {
    fn from(command: UpdateAccessAssignment) -> Self {
        pb::UpdateAccessAssignmentRequest {
            access_assignment: Some(pb::AccessAssignment {
                id: command.id,
                etag: command.etag,
                roles: command.roles.iter().map(|r| r.to_proto()).collect(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["roles".to_owned()],
            }),
        }
    }
}

impl From<DeleteAccessAssignment> for pb::DeleteAccessAssignmentRequest {
    fn from(command: DeleteAccessAssignment) -> Self {
        pb::DeleteAccessAssignmentRequest {
            id: command.id,
            etag: command.etag,
        }
    }
}
