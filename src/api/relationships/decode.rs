//! RelationshipService messages into domain values: a request into its
//! command (the server), checking the request alone (INVALID_ARGUMENT
//! before anything else: "Which error wins"); a reply into its domain value
//! (the remote client), where a reply that does not decode is the peer's
//! fault, INTERNAL.

use crate::api::convert::{
    ProtoEnum, malformed_reply, micros, optional, optional_reply_enum, page_replies, present, reply_enum,
    reply_service, required, version,
};
use crate::api::{mask_paths, pb, validated};
use crate::domain::access::{AccessQuery, AccessReason, Action, Decision};
use crate::domain::error::Violations;
use crate::domain::model::*;
use crate::domain::principal::Principal;
use crate::domain::{Error, ErrorCode, Result, rules, validate};
use crate::service::contract::relationships::{
    Accepted, CreateAccessAssignment, CreateRelationshipRequest, CreateSecurityGroup, CustomerRelationships,
    DeleteAccessAssignment, DeleteSecurityGroup, EndResellerRelationship, GrantDelegatedAdmin, Granted,
    ListAccessAssignments, ListCustomerRelationships, ListDelegatedAdminGrants, ListEvents, ListRelationshipRequests,
    ListSecurityGroups, RevokeDelegatedAdmin, UpdateAccessAssignment, UpdateDelegatedAdmin, UpdateSecurityGroup,
    WatchEvents,
};

/// A2: the most checks one BatchCheckAccess takes.
pub const MAX_BATCH_CHECKS: usize = 1000;

/// I1, I3: the form of an invitation; `default_days` is the serving
/// process's I3 default (checked here, applied by the service).
pub fn create_relationship_request(
    body: pb::CreateRelationshipRequestRequest,
    default_days: i32,
) -> Result<CreateRelationshipRequest> {
    let request_id = validate::request_id("request_id", &body.request_id)?;
    let input = body.relationship_request.unwrap_or_default();
    validated! {
        reseller_id = validate::optional_id("relationship_request.indirect_reseller_id", &input.indirect_reseller_id);
        inviting_id = validate::optional_id("relationship_request.inviting_partner_id", &input.inviting_partner_id);
        services = input
            .delegated_admin_services
            .iter()
            .enumerate()
            .map(|(i, s)| validate::service(&format!("relationship_request.delegated_admin_services[{i}]"), s))
            .collect::<Result<Vec<_>>>();
        scopes = input
            .delegated_admin_scopes
            .iter()
            .enumerate()
            .map(|(i, s)| required::<Scope>(&format!("relationship_request.delegated_admin_scopes[{i}]"), *s))
            .collect::<Result<Vec<_>>>();
        roles = roles("relationship_request.delegated_admin_roles", &input.delegated_admin_roles);
        customer_domain = if input.customer_domain.is_empty() {
            Ok(None)
        } else {
            validate::domain("relationship_request.customer_domain", &input.customer_domain).map(Some)
        };
        _days = rules::invitation_days(body.expire_after_days, default_days);
    }
    // I3's form: services, scopes and roles only with
    // include_delegated_admin; R1, R2: scopes or roles, never GLOBAL_ADMIN.
    rules::requested_dap(
        input.include_delegated_admin,
        services.clone(),
        scopes.clone(),
        roles.clone(),
    )?;
    Ok(CreateRelationshipRequest {
        inviting_partner_id: inviting_id,
        indirect_reseller_id: reseller_id,
        include_delegated_admin: input.include_delegated_admin,
        delegated_admin_services: services,
        delegated_admin_scopes: scopes,
        delegated_admin_roles: roles,
        customer_domain,
        expire_after_days: body.expire_after_days,
        request_id,
    })
}

impl TryFrom<pb::ListRelationshipRequestsRequest> for ListRelationshipRequests {
    type Error = Error;

    fn try_from(body: pb::ListRelationshipRequestsRequest) -> Result<Self> {
        validated! {
            inviting_partner_id = validate::optional_id("inviting_partner_id", &body.inviting_partner_id);
            indirect_reseller_id = validate::optional_id("indirect_reseller_id", &body.indirect_reseller_id);
            state = optional::<InvitationState>("state", body.state);
        }
        Ok(ListRelationshipRequests {
            inviting_partner_id,
            indirect_reseller_id,
            state,
            page_size: body.page_size,
            page_token: body.page_token,
        })
    }
}

/// I6: a code is what a relationship request's code can be.
pub fn acceptance_code(body: pb::AcceptRelationshipRequestRequest) -> Result<String> {
    let code = body.code;
    if code.is_empty() || code.len() > 128 {
        return Err(Error::invalid("code", "is the code of a relationship request"));
    }
    Ok(code)
}

impl TryFrom<pb::ListCustomerRelationshipsRequest> for ListCustomerRelationships {
    type Error = Error;

    fn try_from(body: pb::ListCustomerRelationshipsRequest) -> Result<Self> {
        Ok(ListCustomerRelationships {
            customer_id: validate::id("customer_id", &body.customer_id)?,
            page_size: body.page_size,
            page_token: body.page_token,
        })
    }
}

impl TryFrom<pb::EndResellerRelationshipRequest> for EndResellerRelationship {
    type Error = Error;

    fn try_from(body: pb::EndResellerRelationshipRequest) -> Result<Self> {
        validated! {
            customer_id = validate::id("customer_id", &body.customer_id);
            partner_id = validate::optional_id("partner_id", &body.partner_id);
        }
        Ok(EndResellerRelationship {
            customer_id,
            partner_id,
        })
    }
}

impl TryFrom<pb::GrantDelegatedAdminRequest> for GrantDelegatedAdmin {
    type Error = Error;

    fn try_from(body: pb::GrantDelegatedAdminRequest) -> Result<Self> {
        let request_id = validate::request_id("request_id", &body.request_id)?;
        let scopes = body
            .scopes
            .iter()
            .enumerate()
            .map(|(i, s)| required::<Scope>(&format!("scopes[{i}]"), *s))
            .collect::<Result<Vec<_>>>();
        let asked = roles("roles", &body.roles);
        // R1: roles, or scopes read as roles; one of the two.
        let granted = match (&scopes, &asked) {
            (Ok(scopes), Ok(asked)) => rules::grant_roles(scopes, asked),
            _ => {
                let mut violations = Violations::default();
                violations.check(scopes.as_ref().map(|_| ()).map_err(Clone::clone));
                violations.check(asked.as_ref().map(|_| ()).map_err(Clone::clone));
                violations.into_result().map(|()| Vec::new())
            }
        };
        validated! {
            customer_id = validate::optional_id("customer_id", &body.customer_id);
            partner_id = validate::id("partner_id", &body.partner_id);
            service = validate::service("service", &body.service);
            granted = granted;
            // D1's form; the service sets the end on its own clock.
            _end = rules::grant_end(0, body.duration_days, body.auto_extend);
        }
        // R2: GLOBAL_ADMIN needs an end and no auto_extend.
        rules::check_global_admin_grant(&granted, body.duration_days, body.auto_extend)?;
        let (Ok(scopes), Ok(roles)) = (scopes, asked) else {
            return Err(Error::internal("validation lost a value"));
        };
        Ok(GrantDelegatedAdmin {
            customer_id,
            partner_id,
            service,
            scopes,
            roles,
            duration_days: body.duration_days,
            auto_extend: body.auto_extend,
            request_id,
        })
    }
}

/// G1: expiring_within_days is 1-365 (0: not filtered), and only with
/// state ACTIVE or unset.
const MAX_EXPIRING_WITHIN_DAYS: i32 = 365;

impl TryFrom<pb::ListDelegatedAdminGrantsRequest> for ListDelegatedAdminGrants {
    type Error = Error;

    fn try_from(body: pb::ListDelegatedAdminGrantsRequest) -> Result<Self> {
        let days = body.expiring_within_days;
        let expiring = match days {
            0 => Ok(None),
            1..=MAX_EXPIRING_WITHIN_DAYS => Ok(Some(days)),
            _ => Err(Error::invalid(
                "expiring_within_days",
                format!("must be 1 to {MAX_EXPIRING_WITHIN_DAYS} days (0: no expiry filter), not {days}"),
            )),
        };
        validated! {
            customer_id = validate::optional_id("customer_id", &body.customer_id);
            partner_id = validate::optional_id("partner_id", &body.partner_id);
            service = if body.service.is_empty() { Ok(None) } else { validate::service("service", &body.service).map(Some) };
            state = optional::<GrantState>("state", body.state);
            expiring_within_days = expiring;
        }
        if expiring_within_days.is_some() && state.is_some_and(|state| state != GrantState::Active) {
            return Err(Error::invalid(
                "state",
                "expiring_within_days lists grants in force, which are ACTIVE: leave state unset or ACTIVE",
            ));
        }
        Ok(ListDelegatedAdminGrants {
            customer_id,
            partner_id,
            service,
            state,
            expiring_within_days,
            page_size: body.page_size,
            page_token: body.page_token,
        })
    }
}

impl TryFrom<pb::UpdateDelegatedAdminRequest> for UpdateDelegatedAdmin {
    type Error = Error;

    fn try_from(body: pb::UpdateDelegatedAdminRequest) -> Result<Self> {
        let input = body.grant.unwrap_or_default();
        let grant_id = validate::id("grant.id", &input.id)?;
        if input.etag.is_empty() {
            return Err(Error::invalid(
                "grant.etag",
                "is required: send the etag of the grant as last read",
            ));
        }
        let paths = mask_paths(body.update_mask, &["end_time", "auto_extend", "roles"])?;
        let mut end_time = None;
        let mut auto_extend = None;
        let mut kept_roles = None;
        for path in &paths {
            match path.as_str() {
                "roles" => {
                    // R3: the roles the grant keeps, at least one.
                    let kept = roles("grant.roles", &input.roles)?;
                    if kept.is_empty() {
                        return Err(Error::invalid(
                            "grant.roles",
                            "name the roles the grant keeps: at least one (revoke the grant to end it)",
                        ));
                    }
                    kept_roles = Some(kept);
                }
                "end_time" => {
                    let end = input
                        .end_time
                        .ok_or_else(|| Error::invalid("grant.end_time", "is required when update_mask names it"))?;
                    end_time = Some(
                        micros("grant.end_time", Some(end))
                            .map_err(|_| Error::invalid("grant.end_time", "is not a valid time"))?,
                    );
                }
                _ => auto_extend = Some(input.auto_extend),
            }
        }
        Ok(UpdateDelegatedAdmin {
            grant_id,
            etag: input.etag,
            end_time,
            auto_extend,
            roles: kept_roles,
        })
    }
}

impl TryFrom<pb::RevokeDelegatedAdminRequest> for RevokeDelegatedAdmin {
    type Error = Error;

    fn try_from(body: pb::RevokeDelegatedAdminRequest) -> Result<Self> {
        validated! {
            grant_id = validate::id("grant_id", &body.grant_id);
            note = validate::note("note", &body.note);
        }
        Ok(RevokeDelegatedAdmin { grant_id, note })
    }
}

/// Decodes one check of CheckAccess or BatchCheckAccess: its form alone
/// (who may ask is the service's to decide). A partner's empty
/// `partner_id` is the partner itself.
pub fn access_query(field: &str, check: &pb::CheckAccessRequest, principal: &Principal) -> Result<AccessQuery> {
    let partner_id = match principal {
        Principal::Partner { partner_id } if check.partner_id.is_empty() => Ok(partner_id.clone()),
        _ => validate::id(&format!("{field}partner_id"), &check.partner_id),
    };
    validated! {
        partner_id = partner_id;
        customer_id = validate::id(&format!("{field}customer_id"), &check.customer_id);
        action = required_action(&format!("{field}action"), check.action);
        service = if check.service.is_empty() {
            Ok(None)
        } else {
            validate::service(&format!("{field}service"), &check.service).map(Some)
        };
        subscription_id = validate::optional_id(&format!("{field}subscription_id"), &check.subscription_id);
        user_id = if check.user_id.is_empty() {
            Ok(None)
        } else {
            rules::user_id(&format!("{field}user_id"), &check.user_id).map(Some)
        };
    }
    match (action, &service, &subscription_id) {
        (Action::Provision, None, _) => {
            return Err(Error::invalid(
                format!("{field}service"),
                "PROVISION is asked for a service",
            ));
        }
        (Action::Support, None, None) => {
            return Err(Error::invalid(
                format!("{field}service"),
                "SUPPORT is asked for a service or a subscription",
            ));
        }
        (Action::ManageSubscription, _, None) => {
            return Err(Error::invalid(
                format!("{field}subscription_id"),
                "MANAGE_SUBSCRIPTION is asked for a subscription",
            ));
        }
        // R7: what only a grant's roles allow is asked for a service.
        (action, None, _) if action.is_role_action() => {
            return Err(Error::invalid(
                format!("{field}service"),
                "READ_DIRECTORY, MANAGE_USERS and READ_BILLING are asked for a service",
            ));
        }
        _ => {}
    }
    Ok(AccessQuery {
        partner_id,
        customer_id,
        action,
        service,
        subscription_id,
        user_id,
    })
}

/// A2: every check's form, every violation reported at once.
pub fn batch_queries(request: &pb::BatchCheckAccessRequest, principal: &Principal) -> Result<Vec<AccessQuery>> {
    let checks = &request.checks;
    if checks.len() > MAX_BATCH_CHECKS {
        return Err(Error::invalid(
            "checks",
            format!("at most {MAX_BATCH_CHECKS} items (A2)"),
        ));
    }
    let mut violations = Vec::new();
    let mut queries = Vec::with_capacity(checks.len());
    for (i, check) in checks.iter().enumerate() {
        match access_query(&format!("checks[{i}]."), check, principal) {
            Ok(query) => queries.push(query),
            Err(error) if error.code == ErrorCode::InvalidArgument => violations.extend(error.violations),
            Err(error) => return Err(error),
        }
    }
    if !violations.is_empty() {
        return Err(Error::invalid_fields(violations));
    }
    Ok(queries)
}

/// R1: a repeated role field: each a known role, at most six, each once.
fn roles(field: &str, values: &[i32]) -> Result<Vec<Role>> {
    let mut violations = Violations::default();
    let parsed: Vec<Role> = values
        .iter()
        .enumerate()
        .filter_map(|(i, value)| violations.take(required::<Role>(&format!("{field}[{i}]"), *value)))
        .collect();
    violations.into_result()?;
    rules::distinct_roles(field, &parsed)?;
    Ok(parsed)
}

fn required_action(field: &str, value: i32) -> Result<Action> {
    use pb::check_access_request::Action as Proto;
    match Proto::try_from(value) {
        Ok(Proto::View) => Ok(Action::View),
        Ok(Proto::Sell) => Ok(Action::Sell),
        Ok(Proto::Provision) => Ok(Action::Provision),
        Ok(Proto::Support) => Ok(Action::Support),
        Ok(Proto::ManageSubscription) => Ok(Action::ManageSubscription),
        Ok(Proto::ReadDirectory) => Ok(Action::ReadDirectory),
        Ok(Proto::ManageUsers) => Ok(Action::ManageUsers),
        Ok(Proto::ReadBilling) => Ok(Action::ReadBilling),
        Ok(Proto::Unspecified) => Err(Error::invalid(field, "is required")),
        Err(_) => Err(Error::invalid(field, format!("{value} is not a known action"))),
    }
}

/// E2, E3: the filters of an event read.
fn event_filters(after_seq: i64, customer_id: &str, partner_id: &str) -> Result<(Option<String>, Option<String>)> {
    if after_seq < 0 {
        return Err(Error::invalid("after_seq", "must not be negative"));
    }
    validated! {
        customer_id = validate::optional_id("customer_id", customer_id);
        partner_id = validate::optional_id("partner_id", partner_id);
    }
    Ok((customer_id, partner_id))
}

impl TryFrom<pb::ListEventsRequest> for ListEvents {
    type Error = Error;

    fn try_from(body: pb::ListEventsRequest) -> Result<Self> {
        let (customer_id, partner_id) = event_filters(body.after_seq, &body.customer_id, &body.partner_id)?;
        Ok(ListEvents {
            customer_id,
            partner_id,
            after_seq: body.after_seq,
            page_size: body.page_size,
            page_token: body.page_token,
        })
    }
}

impl TryFrom<pb::WatchEventsRequest> for WatchEvents {
    type Error = Error;

    fn try_from(body: pb::WatchEventsRequest) -> Result<Self> {
        let (customer_id, partner_id) = event_filters(body.after_seq, &body.customer_id, &body.partner_id)?;
        Ok(WatchEvents {
            customer_id,
            partner_id,
            after_seq: body.after_seq,
        })
    }
}

// Replies into domain values (the remote client).

impl TryFrom<pb::RelationshipRequest> for RelationshipRequest {
    type Error = Error;

    fn try_from(message: pb::RelationshipRequest) -> Result<Self> {
        Ok(RelationshipRequest {
            delegated_admin_services: message
                .delegated_admin_services
                .iter()
                .map(|s| reply_service("delegated_admin_services", s))
                .collect::<Result<_>>()?,
            delegated_admin_scopes: message
                .delegated_admin_scopes
                .iter()
                .map(|s| reply_enum("scope", *s))
                .collect::<Result<_>>()?,
            delegated_admin_roles: message
                .delegated_admin_roles
                .iter()
                .map(|r| reply_enum("role", *r))
                .collect::<Result<_>>()?,
            state: reply_enum("state", message.state)?,
            expire_time: micros("expire_time", message.expire_time)?,
            create_time: micros("create_time", message.create_time)?,
            id: message.id,
            inviting_partner_id: message.inviting_partner_id,
            indirect_reseller_id: present(message.indirect_reseller_id),
            include_delegated_admin: message.include_delegated_admin,
            customer_domain: present(message.customer_domain),
            code: message.code,
        })
    }
}

impl TryFrom<pb::Relationship> for Relationship {
    type Error = Error;

    fn try_from(message: pb::Relationship) -> Result<Self> {
        Ok(Relationship {
            kind: reply_enum("kind", message.kind)?,
            state: reply_enum("state", message.state)?,
            source: reply_enum("source", message.source)?,
            start_time: micros("start_time", message.start_time)?,
            end_time: message.end_time.map(|t| micros("end_time", Some(t))).transpose()?,
            end_cause: optional_reply_enum("end_cause", message.end_cause)?,
            id: message.id,
            customer_id: message.customer_id,
            partner_id: message.partner_id,
            indirect_provider_id: present(message.indirect_provider_id),
            relationship_request_id: present(message.relationship_request_id),
        })
    }
}

impl TryFrom<pb::DelegatedAdminGrant> for DelegatedAdminGrant {
    type Error = Error;

    fn try_from(message: pb::DelegatedAdminGrant) -> Result<Self> {
        Ok(DelegatedAdminGrant {
            service: reply_service("service", &message.service)?,
            scopes: message
                .scopes
                .iter()
                .map(|s| reply_enum("scope", *s))
                .collect::<Result<_>>()?,
            roles: message
                .roles
                .iter()
                .map(|r| reply_enum("role", *r))
                .collect::<Result<_>>()?,
            state: reply_enum("state", message.state)?,
            start_time: micros("start_time", message.start_time)?,
            end_time: message.end_time.map(|t| micros("end_time", Some(t))).transpose()?,
            end_cause: match message.end_cause {
                0 => None,
                cause => Some(reply_enum("end_cause", cause)?),
            },
            end_note: Some(message.end_note).filter(|note| !note.is_empty()),
            notice_days: Some(message.notice_days).filter(|days| *days > 0),
            version: version("etag", &message.etag)?,
            update_time: micros("update_time", message.update_time)?,
            id: message.id,
            customer_id: message.customer_id,
            partner_id: message.partner_id,
            auto_extend: message.auto_extend,
        })
    }
}

fn all<M, T: TryFrom<M, Error = Error>>(messages: Vec<M>) -> Result<Vec<T>> {
    messages.into_iter().map(T::try_from).collect()
}

impl TryFrom<pb::AcceptRelationshipRequestResponse> for Accepted {
    type Error = Error;

    fn try_from(reply: pb::AcceptRelationshipRequestResponse) -> Result<Self> {
        Ok(Accepted {
            relationship_request: reply
                .relationship_request
                .ok_or_else(|| malformed_reply("relationship_request", "absent"))?
                .try_into()?,
            relationships: all(reply.relationships)?,
            grants: all(reply.grants)?,
            superseded_grants: all(reply.superseded_grants)?,
        })
    }
}

impl TryFrom<pb::ListCustomerRelationshipsResponse> for CustomerRelationships {
    type Error = Error;

    fn try_from(reply: pb::ListCustomerRelationshipsResponse) -> Result<Self> {
        Ok(CustomerRelationships {
            relationships: all(reply.relationships)?,
            grants: all(reply.delegated_admin_grants)?,
            next_page_token: reply.next_page_token,
        })
    }
}

impl TryFrom<pb::GrantDelegatedAdminResponse> for Granted {
    type Error = Error;

    fn try_from(reply: pb::GrantDelegatedAdminResponse) -> Result<Self> {
        Ok(Granted {
            grant: reply
                .grant
                .ok_or_else(|| malformed_reply("grant", "absent"))?
                .try_into()?,
            superseded_grants: all(reply.superseded_grants)?,
        })
    }
}

/// Every reason A1 and R7 give, to read a reply's reason back.
const ACCESS_REASONS: [AccessReason; 17] = [
    AccessReason::ActiveRelationship,
    AccessReason::DelegatedAdmin,
    AccessReason::Transacting,
    AccessReason::PartnerOfRecord,
    AccessReason::IndirectProviderOfRecord,
    AccessReason::PartnerNotFound,
    AccessReason::PartnerNotActive,
    AccessReason::NoRelationship,
    AccessReason::NotTransacting,
    AccessReason::NoDelegatedAdmin,
    AccessReason::NotPartnerOfRecord,
    AccessReason::SubscriptionNotFound,
    AccessReason::NotCspSubscription,
    AccessReason::RoleNotGranted,
    AccessReason::RoleAssigned,
    AccessReason::UserNotAssigned,
    AccessReason::RoleNotAssigned,
];

impl TryFrom<pb::CheckAccessResponse> for Decision {
    type Error = Error;

    fn try_from(reply: pb::CheckAccessResponse) -> Result<Self> {
        let name = pb::check_access_response::Reason::try_from(reply.reason)
            .map(|reason| reason.as_str_name())
            .unwrap_or_default();
        let reason = ACCESS_REASONS
            .into_iter()
            .find(|reason| reason.as_str() == name)
            .ok_or_else(|| malformed_reply("reason", reply.reason))?;
        Ok(Decision {
            allowed: reply.allowed,
            reason,
            relationship_ids: reply.relationship_ids,
            grant_ids: reply.grant_ids,
            assignment_ids: reply.assignment_ids,
            role: optional::<Role>("role", reply.role)?,
            security_group_id: present(reply.security_group_id),
        })
    }
}

/// A2: the decisions, in the order of the checks.
impl TryFrom<pb::BatchCheckAccessResponse> for Vec<Decision> {
    type Error = Error;

    fn try_from(reply: pb::BatchCheckAccessResponse) -> Result<Self> {
        all(reply.results)
    }
}

impl TryFrom<pb::Event> for Event {
    type Error = Error;

    fn try_from(message: pb::Event) -> Result<Self> {
        use pb::event::Resource;
        let resource = match message.resource {
            Some(Resource::Partner(r)) => EventResource::Partner(r.try_into()?),
            Some(Resource::PartnerLink(r)) => EventResource::PartnerLink(r.try_into()?),
            Some(Resource::Customer(r)) => EventResource::Customer(r.try_into()?),
            Some(Resource::Subscription(r)) => EventResource::Subscription(r.try_into()?),
            Some(Resource::RelationshipRequest(r)) => EventResource::RelationshipRequest(r.try_into()?),
            Some(Resource::Relationship(r)) => EventResource::Relationship(r.try_into()?),
            Some(Resource::DelegatedAdminGrant(r)) => EventResource::DelegatedAdminGrant(r.try_into()?),
            Some(Resource::Transfer(r)) => EventResource::Transfer(r.try_into()?),
            Some(Resource::SecurityGroup(r)) => EventResource::SecurityGroup(r.try_into()?),
            Some(Resource::AccessAssignment(r)) => EventResource::AccessAssignment(r.try_into()?),
            Some(Resource::WebhookEndpoint(r)) => EventResource::WebhookEndpoint(r.try_into()?),
            None => {
                return Err(malformed_reply("resource", "absent"));
            }
        };
        Ok(Event {
            seq: message.seq,
            time: micros("time", message.time)?,
            event_type: message.r#type,
            actor: message.actor,
            resource,
        })
    }
}

page_replies! {
    pb::ListRelationshipRequestsResponse => RelationshipRequest, relationship_requests;
    pb::ListDelegatedAdminGrantsResponse => DelegatedAdminGrant, delegated_admin_grants;
    pb::ListEventsResponse => Event, events;
    pb::ListSecurityGroupsResponse => SecurityGroup, security_groups;
    pb::ListAccessAssignmentsResponse => AccessAssignment, access_assignments;
}

/// R4: a new group's form, every field at fault named at once.
impl TryFrom<pb::CreateSecurityGroupRequest> for CreateSecurityGroup {
    type Error = Error;

    fn try_from(body: pb::CreateSecurityGroupRequest) -> Result<Self> {
        let input = body.security_group.unwrap_or_default();
        validated! {
            request_id = validate::request_id("request_id", &body.request_id);
            partner_id = validate::optional_id("security_group.partner_id", &input.partner_id);
            display_name = rules::group_display_name("security_group.display_name", &input.display_name);
            member_user_ids = rules::group_members("security_group.member_user_ids", &input.member_user_ids);
        }
        Ok(CreateSecurityGroup {
            partner_id,
            display_name,
            member_user_ids,
            request_id,
        })
    }
}

impl TryFrom<pb::ListSecurityGroupsRequest> for ListSecurityGroups {
    type Error = Error;

    fn try_from(body: pb::ListSecurityGroupsRequest) -> Result<Self> {
        Ok(ListSecurityGroups {
            partner_id: validate::optional_id("partner_id", &body.partner_id)?,
            page_size: body.page_size,
            page_token: body.page_token,
        })
    }
}

/// R4: the id, the etag if given, and the fields update_mask names.
impl TryFrom<pb::UpdateSecurityGroupRequest> for UpdateSecurityGroup {
    type Error = Error;

    fn try_from(body: pb::UpdateSecurityGroupRequest) -> Result<Self> {
        let input = body.security_group.unwrap_or_default();
        let id = validate::id("security_group.id", &input.id)?;
        let paths = mask_paths(body.update_mask, &["display_name", "member_user_ids"])?;
        let mut violations = Violations::default();
        let mut display_name = None;
        let mut member_user_ids = None;
        for path in &paths {
            if path == "display_name" {
                display_name = violations.take(rules::group_display_name(
                    "security_group.display_name",
                    &input.display_name,
                ));
            } else {
                member_user_ids = violations.take(rules::group_members(
                    "security_group.member_user_ids",
                    &input.member_user_ids,
                ));
            }
        }
        violations.into_result()?;
        Ok(UpdateSecurityGroup {
            id,
            etag: input.etag,
            display_name,
            member_user_ids,
        })
    }
}

impl TryFrom<pb::DeleteSecurityGroupRequest> for DeleteSecurityGroup {
    type Error = Error;

    fn try_from(body: pb::DeleteSecurityGroupRequest) -> Result<Self> {
        Ok(DeleteSecurityGroup {
            id: validate::id("id", &body.id)?,
            etag: body.etag,
        })
    }
}

impl TryFrom<pb::SecurityGroup> for SecurityGroup {
    type Error = Error;

    fn try_from(message: pb::SecurityGroup) -> Result<Self> {
        Ok(SecurityGroup {
            version: version("etag", &message.etag)?,
            create_time: micros("create_time", message.create_time)?,
            update_time: micros("update_time", message.update_time)?,
            id: message.id,
            partner_id: message.partner_id,
            display_name: message.display_name,
            member_user_ids: message.member_user_ids,
            delete_time: message
                .delete_time
                .map(|time| micros("delete_time", Some(time)))
                .transpose()?,
        })
    }
}

/// R5: an assignment's principal: exactly one of a user id and a group id.
fn assignment_principal(
    field: &str,
    principal: Option<pb::access_assignment::Principal>,
) -> Result<AssignmentPrincipal> {
    use pb::access_assignment::Principal as Proto;
    match principal {
        Some(Proto::UserId(user)) => Ok(AssignmentPrincipal::User(rules::user_id(
            &format!("{field}.user_id"),
            &user,
        )?)),
        Some(Proto::SecurityGroupId(group)) => Ok(AssignmentPrincipal::SecurityGroup(validate::id(
            &format!("{field}.security_group_id"),
            &group,
        )?)),
        None => Err(Error::invalid(
            format!("{field}.user_id"),
            "name the user (user_id) or the security group (security_group_id) the roles go to",
        )),
    }
}

/// R5: an assignment's roles: known, distinct, at least one.
fn assignment_roles(field: &str, values: &[i32]) -> Result<Vec<Role>> {
    let roles = roles(field, values)?;
    if roles.is_empty() {
        return Err(Error::invalid(field, "name at least one of the grant's roles"));
    }
    Ok(roles)
}

/// R5: a new assignment's form, every field at fault named at once.
impl TryFrom<pb::CreateAccessAssignmentRequest> for CreateAccessAssignment {
    type Error = Error;

    fn try_from(body: pb::CreateAccessAssignmentRequest) -> Result<Self> {
        let input = body.access_assignment.unwrap_or_default();
        validated! {
            request_id = validate::request_id("request_id", &body.request_id);
            grant_id = validate::id("access_assignment.grant_id", &input.grant_id);
            principal = assignment_principal("access_assignment", input.principal);
            roles = assignment_roles("access_assignment.roles", &input.roles);
        }
        Ok(CreateAccessAssignment {
            grant_id,
            principal,
            roles,
            request_id,
        })
    }
}

impl TryFrom<pb::ListAccessAssignmentsRequest> for ListAccessAssignments {
    type Error = Error;

    fn try_from(body: pb::ListAccessAssignmentsRequest) -> Result<Self> {
        validated! {
            partner_id = validate::optional_id("partner_id", &body.partner_id);
            customer_id = validate::optional_id("customer_id", &body.customer_id);
            grant_id = validate::optional_id("grant_id", &body.grant_id);
            user_id = if body.user_id.is_empty() {
                Ok(None)
            } else {
                rules::user_id("user_id", &body.user_id).map(Some)
            };
            security_group_id = validate::optional_id("security_group_id", &body.security_group_id);
            state = optional::<AssignmentState>("state", body.state);
        }
        let principal = match (user_id, security_group_id) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "security_group_id",
                    "filter by a user or by a security group, not both",
                ));
            }
            (Some(user), None) => Some(AssignmentPrincipal::User(user)),
            (None, Some(group)) => Some(AssignmentPrincipal::SecurityGroup(group)),
            (None, None) => None,
        };
        Ok(ListAccessAssignments {
            partner_id,
            customer_id,
            grant_id,
            principal,
            state,
            page_size: body.page_size,
            page_token: body.page_token,
        })
    }
}

/// R5: the id, the etag if given, and the new roles (update_mask "roles").
impl TryFrom<pb::UpdateAccessAssignmentRequest> for UpdateAccessAssignment {
    type Error = Error;

    fn try_from(body: pb::UpdateAccessAssignmentRequest) -> Result<Self> {
        let input = body.access_assignment.unwrap_or_default();
        validated! {
            id = validate::id("access_assignment.id", &input.id);
            // "roles" is the one path: the roles are always what changes.
            _paths = mask_paths(body.update_mask, &["roles"]);
            roles = assignment_roles("access_assignment.roles", &input.roles);
        }
        Ok(UpdateAccessAssignment {
            id,
            etag: input.etag,
            roles,
        })
    }
}

impl TryFrom<pb::DeleteAccessAssignmentRequest> for DeleteAccessAssignment {
    type Error = Error;

    fn try_from(body: pb::DeleteAccessAssignmentRequest) -> Result<Self> {
        Ok(DeleteAccessAssignment {
            id: validate::id("id", &body.id)?,
            etag: body.etag,
        })
    }
}

/// R5: an assignment in a reply (the generated clients' way back).
impl TryFrom<pb::AccessAssignment> for AccessAssignment {
    type Error = Error;

    fn try_from(message: pb::AccessAssignment) -> Result<Self> {
        use pb::access_assignment::Principal as Proto;
        let principal = match message.principal {
            Some(Proto::UserId(user)) => AssignmentPrincipal::User(user),
            Some(Proto::SecurityGroupId(group)) => AssignmentPrincipal::SecurityGroup(group),
            None => return Err(malformed_reply("principal", "absent")),
        };
        let roles = (message.roles.iter())
            .map(|role| Role::from_proto(*role).ok_or_else(|| malformed_reply("roles", role)))
            .collect::<Result<Vec<Role>>>()?;
        Ok(AccessAssignment {
            version: version("etag", &message.etag)?,
            create_time: micros("create_time", message.create_time)?,
            update_time: micros("update_time", message.update_time)?,
            end_time: message
                .end_time
                .map(|time| micros("end_time", Some(time)))
                .transpose()?,
            state: AssignmentState::from_proto(message.state).ok_or_else(|| malformed_reply("state", message.state))?,
            end_cause: AssignmentEndCause::from_proto(message.end_cause),
            id: message.id,
            grant_id: message.grant_id,
            customer_id: message.customer_id,
            partner_id: message.partner_id,
            principal,
            roles,
        })
    }
}
