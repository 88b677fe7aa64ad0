//! Access assignments and per-user checks: R5 (Create/Get/List/Update/
//! DeleteAccessAssignment), R6 and R3 (what a grant's end or narrowing
//! does to them), R4 (a deleted group's), R7 with a user (CheckAccess and
//! BatchCheckAccess), R8 (who reads their events) and W1 races, through the
//! real server and the generated clients.

use partnercenter::api::pb;
use partnercenter::api::pb::access_assignment::{EndCause, Principal as Assignee, State};
use partnercenter::api::pb::check_access_request::Action;
use partnercenter::api::pb::check_access_response::Reason;
use partnercenter::api::pb::delegated_admin_grant::Role;
use partnercenter::api::pb::partner::Kind;
use partnercenter::domain::principal::Principal;
use tonic::{Code, Status};

use crate::support::*;

// ---------------------------------------------------------------- helpers

fn ints(roles: &[Role]) -> Vec<i32> {
    roles.iter().map(|r| *r as i32).collect()
}

/// A customer made by the operator, a DIRECT_RESELLER with no relationship
/// to it, and the customer admin's grant to that partner with these roles
/// (a grant alone gives the partner VIEW).
async fn granted_partner(server: &TestServer, roles: &[Role]) -> (pb::Customer, pb::Partner, pb::DelegatedAdminGrant) {
    let created = server.create_customer(&operator(), None).await.expect("customer");
    let holder = server.create_partner(Kind::DirectReseller).await;
    let grant = grant_roles(server, &created.id, &holder.id, "office365", roles)
        .await
        .expect("granted");
    (created, holder, grant)
}

async fn grant_roles(
    server: &TestServer,
    customer_id: &str,
    partner_id: &str,
    service: &str,
    roles: &[Role],
) -> Result<pb::DelegatedAdminGrant, Status> {
    let reply = grant_as(
        server,
        &customer(customer_id),
        pb::GrantDelegatedAdminRequest {
            partner_id: partner_id.into(),
            service: service.into(),
            roles: ints(roles),
            ..Default::default()
        },
    )
    .await?;
    Ok(reply.grant.expect("the grant"))
}

fn to_user(grant_id: &str, user: &str, roles: &[Role]) -> pb::AccessAssignment {
    pb::AccessAssignment {
        grant_id: grant_id.into(),
        principal: Some(Assignee::UserId(user.into())),
        roles: ints(roles),
        ..Default::default()
    }
}

fn to_group(grant_id: &str, group_id: &str, roles: &[Role]) -> pb::AccessAssignment {
    pb::AccessAssignment {
        grant_id: grant_id.into(),
        principal: Some(Assignee::SecurityGroupId(group_id.into())),
        roles: ints(roles),
        ..Default::default()
    }
}

async fn assign(
    server: &TestServer,
    who: &Principal,
    assignment: pb::AccessAssignment,
    request_id: &str,
) -> Result<pb::AccessAssignment, Status> {
    server
        .relationships(who)
        .create_access_assignment(pb::CreateAccessAssignmentRequest {
            access_assignment: Some(assignment),
            request_id: request_id.into(),
        })
        .await
        .map(|r| r.into_inner())
}

async fn get(server: &TestServer, who: &Principal, id: &str) -> Result<pb::AccessAssignment, Status> {
    server
        .relationships(who)
        .get_access_assignment(pb::GetAccessAssignmentRequest { id: id.into() })
        .await
        .map(|r| r.into_inner())
}

/// Every page of a list, two at a time.
async fn list(
    server: &TestServer,
    who: &Principal,
    filter: pb::ListAccessAssignmentsRequest,
) -> Result<Vec<pb::AccessAssignment>, Status> {
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let reply = server
            .relationships(who)
            .list_access_assignments(pb::ListAccessAssignmentsRequest {
                page_size: 2,
                page_token,
                ..filter.clone()
            })
            .await?
            .into_inner();
        all.extend(reply.access_assignments);
        if reply.next_page_token.is_empty() {
            return Ok(all);
        }
        page_token = reply.next_page_token;
    }
}

async fn update_roles(
    server: &TestServer,
    who: &Principal,
    id: &str,
    etag: &str,
    roles: &[Role],
) -> Result<pb::AccessAssignment, Status> {
    server
        .relationships(who)
        .update_access_assignment(pb::UpdateAccessAssignmentRequest {
            access_assignment: Some(pb::AccessAssignment {
                id: id.into(),
                etag: etag.into(),
                roles: ints(roles),
                ..Default::default()
            }),
            update_mask: mask(&["roles"]),
        })
        .await
        .map(|r| r.into_inner())
}

async fn remove(server: &TestServer, who: &Principal, id: &str, etag: &str) -> Result<pb::AccessAssignment, Status> {
    server
        .relationships(who)
        .delete_access_assignment(pb::DeleteAccessAssignmentRequest {
            id: id.into(),
            etag: etag.into(),
        })
        .await
        .map(|r| r.into_inner())
}

async fn group_of(server: &TestServer, partner_id: &str, members: &[&str]) -> pb::SecurityGroup {
    server
        .relationships(&partner(partner_id))
        .create_security_group(pb::CreateSecurityGroupRequest {
            security_group: Some(pb::SecurityGroup {
                display_name: "Technicians".into(),
                member_user_ids: members.iter().map(|m| m.to_string()).collect(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("group created")
        .into_inner()
}

async fn set_members(server: &TestServer, group: &pb::SecurityGroup, members: &[&str]) -> pb::SecurityGroup {
    server
        .relationships(&partner(&group.partner_id))
        .update_security_group(pb::UpdateSecurityGroupRequest {
            security_group: Some(pb::SecurityGroup {
                id: group.id.clone(),
                member_user_ids: members.iter().map(|m| m.to_string()).collect(),
                ..Default::default()
            }),
            update_mask: mask(&["member_user_ids"]),
        })
        .await
        .expect("members set")
        .into_inner()
}

async fn delete_group(server: &TestServer, group: &pb::SecurityGroup) -> Result<pb::SecurityGroup, Status> {
    server
        .relationships(&partner(&group.partner_id))
        .delete_security_group(pb::DeleteSecurityGroupRequest {
            id: group.id.clone(),
            etag: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

fn user_check(
    partner_id: &str,
    customer_id: &str,
    action: Action,
    service: &str,
    user: &str,
) -> pb::CheckAccessRequest {
    pb::CheckAccessRequest {
        partner_id: partner_id.into(),
        customer_id: customer_id.into(),
        action: action as i32,
        service: service.into(),
        subscription_id: String::new(),
        user_id: user.into(),
    }
}

/// CheckAccess for a user, as the service principal, asked both alone and
/// in a batch (A2: the same decision).
async fn decided(
    server: &TestServer,
    partner_id: &str,
    customer_id: &str,
    action: Action,
    service: &str,
    user: &str,
) -> pb::CheckAccessResponse {
    let check = user_check(partner_id, customer_id, action, service, user);
    let alone = check_as(server, &service_principal(), check.clone())
        .await
        .expect("check answered");
    let batch = server
        .relationships(&service_principal())
        .batch_check_access(pb::BatchCheckAccessRequest { checks: vec![check] })
        .await
        .expect("batch answered")
        .into_inner();
    assert_eq!(batch.results, vec![alone.clone()], "A2 decides as CheckAccess does");
    alone
}

/// W2: two refusals a caller cannot tell apart (code, reason, message).
#[track_caller]
fn assert_alike<T: std::fmt::Debug>(known: &Result<T, Status>, unknown: &Result<T, Status>, code: Code) {
    let (Err(known), Err(unknown)) = (known, unknown) else {
        panic!("both are refused: {known:?} / {unknown:?}");
    };
    assert_eq!(known.code(), code, "{known:?}");
    assert_eq!(
        (known.code(), reason(known), known.message()),
        (unknown.code(), reason(unknown), unknown.message())
    );
}

fn service_principal() -> Principal {
    crate::support::service()
}

#[track_caller]
fn assert_decision(decision: &pb::CheckAccessResponse, allowed: bool, reason: Reason, what: &str) {
    assert_eq!(
        (decision.allowed, decision.reason),
        (allowed, reason as i32),
        "{what}: {decision:?}"
    );
}

fn roles_of(assignment: &pb::AccessAssignment) -> Vec<Role> {
    (assignment.roles.iter())
        .map(|r| Role::try_from(*r).expect("a known role"))
        .collect()
}

// ---------------------------------------------------------------- R5

#[tokio::test]
async fn r5_a_partner_assigns_its_grants_roles_to_a_user_and_a_group_seen_by_its_parties() {
    let server = TestServer::start().await;
    let (created, holder, grant) =
        granted_partner(&server, &[Role::DirectoryReader, Role::UserAdmin, Role::LicenseAdmin]).await;
    let group = group_of(&server, &holder.id, &["tech-1", "tech-2"]).await;
    let me = partner(&holder.id);

    let direct = assign(
        &server,
        &me,
        to_user(&grant.id, "alice@example", &[Role::UserAdmin, Role::DirectoryReader]),
        "r-1",
    )
    .await
    .expect("assigned to a user");
    assert_eq!(
        (
            direct.state,
            direct.grant_id.as_str(),
            direct.customer_id.as_str(),
            direct.partner_id.as_str()
        ),
        (
            State::Active as i32,
            grant.id.as_str(),
            created.id.as_str(),
            holder.id.as_str()
        )
    );
    // In the enum's order, whatever order they were asked in.
    assert_eq!(roles_of(&direct), [Role::DirectoryReader, Role::UserAdmin]);
    assert!(!direct.etag.is_empty() && direct.create_time.is_some());
    // AIP-155: the retry returns the first assignment and makes nothing.
    let retried = without_change(
        &server,
        assign(
            &server,
            &me,
            to_user(&grant.id, "alice@example", &[Role::UserAdmin, Role::DirectoryReader]),
            "r-1",
        ),
    )
    .await
    .expect("retried");
    assert_eq!(retried, direct);

    let via_group = assign(
        &server,
        &operator(),
        to_group(&grant.id, &group.id, &[Role::LicenseAdmin]),
        "",
    )
    .await
    .expect("the operator assigns to the partner's group");
    assert_eq!(via_group.principal, Some(Assignee::SecurityGroupId(group.id.clone())));

    // Its partner, the customer's admin, the operator and services read them.
    for who in [me.clone(), customer(&created.id), operator(), service_principal()] {
        assert_eq!(get(&server, &who, &direct.id).await.expect("read"), direct, "{who:?}");
        let all = list(
            &server,
            &who,
            pb::ListAccessAssignmentsRequest {
                grant_id: grant.id.clone(),
                ..Default::default()
            },
        )
        .await
        .expect("listed");
        let mut expected = vec![direct.id.clone(), via_group.id.clone()];
        expected.sort();
        assert_eq!(
            all.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
            expected,
            "{who:?}"
        );
    }
    let by_user = list(
        &server,
        &me,
        pb::ListAccessAssignmentsRequest {
            user_id: "alice@example".into(),
            ..Default::default()
        },
    )
    .await
    .expect("by user");
    assert_eq!(by_user, vec![direct.clone()]);
    let by_group = list(
        &server,
        &operator(),
        pb::ListAccessAssignmentsRequest {
            security_group_id: group.id.clone(),
            state: State::Active as i32,
            ..Default::default()
        },
    )
    .await
    .expect("by group");
    assert_eq!(by_group, vec![via_group.clone()]);

    // W2: another partner and another customer's admin are refused alike
    // for this id and for one that does not exist.
    let other = server.create_partner(Kind::DirectReseller).await;
    let stranger = server.create_customer(&operator(), None).await.expect("customer");
    for who in [partner(&other.id), customer(&stranger.id)] {
        let known = get(&server, &who, &direct.id).await;
        let unknown = get(&server, &who, &random_id()).await;
        assert_alike(&known, &unknown, Code::PermissionDenied);
        let listed = list(
            &server,
            &who,
            pb::ListAccessAssignmentsRequest {
                grant_id: grant.id.clone(),
                ..Default::default()
            },
        )
        .await
        .expect("a list of its own");
        assert!(listed.is_empty(), "{who:?} sees none of them: {listed:?}");
    }
    assert_error(
        list(
            &server,
            &partner(&other.id),
            pb::ListAccessAssignmentsRequest {
                partner_id: holder.id.clone(),
                ..Default::default()
            },
        )
        .await,
        Code::PermissionDenied,
        "ASSIGNMENT_NOT_VISIBLE",
    );
    assert_error(
        get(&server, &operator(), &random_id()).await,
        Code::NotFound,
        "ASSIGNMENT_NOT_FOUND",
    );
}

#[tokio::test]
async fn r5_bad_assignments_are_refused_and_change_nothing() {
    let server = TestServer::start().await;
    let (created, holder, grant) = granted_partner(&server, &[Role::DirectoryReader, Role::HelpdeskAdmin]).await;
    let me = partner(&holder.id);

    // The request alone: INVALID_ARGUMENT naming the field.
    let cases: Vec<(pb::AccessAssignment, &str)> = vec![
        (to_user(&grant.id, "u", &[]), "access_assignment.roles"),
        (
            to_user(&grant.id, "u", &[Role::Unspecified]),
            "access_assignment.roles[0]",
        ),
        (
            to_user(&grant.id, "u", &[Role::DirectoryReader, Role::DirectoryReader]),
            "access_assignment.roles[1]",
        ),
        (
            to_user(&grant.id, "", &[Role::DirectoryReader]),
            "access_assignment.user_id",
        ),
        (
            to_user(&grant.id, "tab\there", &[Role::DirectoryReader]),
            "access_assignment.user_id",
        ),
        (
            to_user(&grant.id, &"u".repeat(129), &[Role::DirectoryReader]),
            "access_assignment.user_id",
        ),
        (to_user("", "u", &[Role::DirectoryReader]), "access_assignment.grant_id"),
        (
            pb::AccessAssignment {
                principal: None,
                ..to_user(&grant.id, "u", &[Role::DirectoryReader])
            },
            "access_assignment.user_id",
        ),
    ];
    for (assignment, field) in cases {
        let refused = refused_without_change(
            &server,
            assign(&server, &me, assignment.clone(), ""),
            Code::InvalidArgument,
            "INVALID_FIELD",
        )
        .await;
        assert!(
            violated_fields(&refused).contains(&field.to_string()),
            "{field}: {refused:?}"
        );
    }

    // The caller alone: a customer's admin and services do not assign.
    for who in [customer(&created.id), service_principal()] {
        refused_without_change(
            &server,
            assign(&server, &who, to_user(&grant.id, "u", &[Role::DirectoryReader]), ""),
            Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
        )
        .await;
    }

    // W2: another partner's grant or group is refused like an unknown id.
    let other = server.create_partner(Kind::DirectReseller).await;
    let foreign_grant = assign(
        &server,
        &partner(&other.id),
        to_user(&grant.id, "u", &[Role::DirectoryReader]),
        "",
    )
    .await;
    let unknown_grant = assign(
        &server,
        &partner(&other.id),
        to_user(&random_id(), "u", &[Role::DirectoryReader]),
        "",
    )
    .await;
    assert_alike(&foreign_grant, &unknown_grant, Code::PermissionDenied);
    let foreign = group_of(&server, &other.id, &["x"]).await;
    let foreign_group = assign(
        &server,
        &me,
        to_group(&grant.id, &foreign.id, &[Role::DirectoryReader]),
        "",
    )
    .await;
    let unknown_group = assign(
        &server,
        &me,
        to_group(&grant.id, &random_id(), &[Role::DirectoryReader]),
        "",
    )
    .await;
    assert_alike(&foreign_group, &unknown_group, Code::PermissionDenied);
    assert_error(
        assign(
            &server,
            &operator(),
            to_user(&random_id(), "u", &[Role::DirectoryReader]),
            "",
        )
        .await,
        Code::NotFound,
        "GRANT_NOT_FOUND",
    );

    // A role the grant lacks is named.
    let refused = refused_without_change(
        &server,
        assign(
            &server,
            &me,
            to_user(
                &grant.id,
                "u",
                &[Role::UserAdmin, Role::DirectoryReader, Role::GlobalAdmin],
            ),
            "",
        ),
        Code::FailedPrecondition,
        "ROLE_NOT_IN_GRANT",
    )
    .await;
    assert!(refused.message().contains("USER_ADMIN, GLOBAL_ADMIN"), "{refused:?}");

    // One ACTIVE assignment per grant and principal.
    let first = assign(&server, &me, to_user(&grant.id, "u", &[Role::DirectoryReader]), "")
        .await
        .expect("assigned");
    refused_without_change(
        &server,
        assign(&server, &me, to_user(&grant.id, "u", &[Role::HelpdeskAdmin]), ""),
        Code::AlreadyExists,
        "ASSIGNMENT_EXISTS",
    )
    .await;
    // Once it has ended, the principal may be assigned again.
    remove(&server, &me, &first.id, &first.etag).await.expect("removed");
    assign(&server, &me, to_user(&grant.id, "u", &[Role::HelpdeskAdmin]), "")
        .await
        .expect("assigned again after the first ended");

    // At most 100 ACTIVE per grant.
    for i in 1..100 {
        assign(
            &server,
            &me,
            to_user(&grant.id, &format!("user-{i}"), &[Role::DirectoryReader]),
            "",
        )
        .await
        .expect("within the limit");
    }
    refused_without_change(
        &server,
        assign(
            &server,
            &me,
            to_user(&grant.id, "user-100", &[Role::DirectoryReader]),
            "",
        ),
        Code::ResourceExhausted,
        "ASSIGNMENT_LIMIT_REACHED",
    )
    .await;

    // A grant no longer in force takes none.
    revoke_grant_as(&server, &customer(&created.id), &grant.id)
        .await
        .expect("revoked");
    refused_without_change(
        &server,
        assign(&server, &me, to_user(&grant.id, "late", &[Role::DirectoryReader]), ""),
        Code::FailedPrecondition,
        "GRANT_NOT_ACTIVE",
    )
    .await;
}

#[tokio::test]
async fn r5_the_partner_changes_roles_with_the_etag_and_the_customer_admin_may_end_an_assignment() {
    let server = TestServer::start().await;
    let (created, holder, grant) =
        granted_partner(&server, &[Role::DirectoryReader, Role::HelpdeskAdmin, Role::UserAdmin]).await;
    let me = partner(&holder.id);
    let made = assign(&server, &me, to_user(&grant.id, "bob", &[Role::DirectoryReader]), "")
        .await
        .expect("assigned");

    let changed = update_roles(
        &server,
        &me,
        &made.id,
        &made.etag,
        &[Role::HelpdeskAdmin, Role::UserAdmin],
    )
    .await
    .expect("changed");
    assert_eq!(roles_of(&changed), [Role::HelpdeskAdmin, Role::UserAdmin]);
    assert_ne!(changed.etag, made.etag);
    refused_without_change(
        &server,
        update_roles(&server, &me, &made.id, &made.etag, &[Role::DirectoryReader]),
        Code::Aborted,
        "ETAG_MISMATCH",
    )
    .await;
    refused_without_change(
        &server,
        update_roles(&server, &me, &made.id, "", &[Role::LicenseAdmin]),
        Code::FailedPrecondition,
        "ROLE_NOT_IN_GRANT",
    )
    .await;
    // The same roles again change nothing.
    let same = without_change(
        &server,
        update_roles(
            &server,
            &operator(),
            &made.id,
            "",
            &[Role::UserAdmin, Role::HelpdeskAdmin],
        ),
    )
    .await
    .expect("unchanged");
    assert_eq!(same, changed);
    // A customer's admin does not change roles, but may end it.
    refused_without_change(
        &server,
        update_roles(&server, &customer(&created.id), &made.id, "", &[Role::DirectoryReader]),
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    )
    .await;
    let ended = remove(&server, &customer(&created.id), &made.id, &changed.etag)
        .await
        .expect("ended by the customer's admin");
    assert_eq!(
        (ended.state, ended.end_cause),
        (State::Ended as i32, EndCause::Removed as i32)
    );
    assert!(ended.end_time.is_some());
    // Ended is final, and kept.
    refused_without_change(
        &server,
        remove(&server, &me, &made.id, ""),
        Code::FailedPrecondition,
        "ASSIGNMENT_NOT_ACTIVE",
    )
    .await;
    refused_without_change(
        &server,
        update_roles(&server, &me, &made.id, "", &[Role::DirectoryReader]),
        Code::FailedPrecondition,
        "ASSIGNMENT_NOT_ACTIVE",
    )
    .await;
    assert_eq!(get(&server, &me, &made.id).await.expect("kept"), ended);
}

// ---------------------------------------------------------------- R6, R3, R4

#[tokio::test]
async fn r6_a_grant_leaving_active_ends_its_assignments_and_an_extension_or_replacement_keeps_them() {
    let server = TestServer::start().await;
    let (created, holder, grant) = granted_partner(&server, &[Role::DirectoryReader, Role::UserAdmin]).await;
    let me = partner(&holder.id);
    let group = group_of(&server, &holder.id, &["g1"]).await;
    let a = assign(&server, &me, to_user(&grant.id, "a", &[Role::DirectoryReader]), "")
        .await
        .expect("a");
    let b = assign(
        &server,
        &me,
        to_group(&grant.id, &group.id, &[Role::UserAdmin, Role::DirectoryReader]),
        "",
    )
    .await
    .expect("b");

    // G3: a new end_time is not a new grant; the assignments stay.
    let mut extended = grant.clone();
    extended.end_time = Some(prost_types::Timestamp {
        seconds: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64
            + 30 * 86_400,
        nanos: 0,
    });
    server
        .relationships(&customer(&created.id))
        .update_delegated_admin(pb::UpdateDelegatedAdminRequest {
            grant: Some(extended),
            update_mask: mask(&["end_time"]),
        })
        .await
        .expect("extended");
    // D1 again for the same service and roles: replaced in place, kept.
    let replaced = grant_roles(
        &server,
        &created.id,
        &holder.id,
        "office365",
        &[Role::DirectoryReader, Role::UserAdmin],
    )
    .await
    .expect("replaced");
    assert_eq!(replaced.id, grant.id, "replaced in place");
    for kept in [&a, &b] {
        assert_eq!(
            get(&server, &me, &kept.id).await.expect("read").state,
            State::Active as i32
        );
    }

    // G4: revoked, and every assignment ends in the same transaction.
    let before = last_seq(&server).await;
    revoke_grant_as(&server, &customer(&created.id), &grant.id)
        .await
        .expect("revoked");
    for ended in [&a, &b] {
        let ended = get(&server, &me, &ended.id).await.expect("read");
        assert_eq!(
            (ended.state, ended.end_cause),
            (State::Ended as i32, EndCause::GrantEnded as i32)
        );
    }
    let events = server.events().await;
    let committed: Vec<&str> = (events.iter())
        .filter(|e| e.seq > before)
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(
        committed,
        ["grant.revoked", "access_assignment.ended", "access_assignment.ended"],
        "one transaction, each change with its event"
    );
    let seqs: std::collections::BTreeSet<i64> = events.iter().filter(|e| e.seq > before).map(|e| e.time).collect();
    assert_eq!(seqs.len(), 1, "committed at one time: {seqs:?}");
}

#[tokio::test]
async fn r3_removing_a_grants_roles_strips_them_from_its_assignments_and_ends_those_left_empty() {
    let server = TestServer::start().await;
    let (created, holder, grant) =
        granted_partner(&server, &[Role::DirectoryReader, Role::UserAdmin, Role::LicenseAdmin]).await;
    let me = partner(&holder.id);
    let keeps = assign(
        &server,
        &me,
        to_user(&grant.id, "k", &[Role::DirectoryReader, Role::LicenseAdmin]),
        "",
    )
    .await
    .expect("k");
    let loses = assign(&server, &me, to_user(&grant.id, "l", &[Role::LicenseAdmin]), "")
        .await
        .expect("l");
    let untouched = assign(&server, &me, to_user(&grant.id, "u", &[Role::UserAdmin]), "")
        .await
        .expect("u");

    let mut narrowed = grant.clone();
    narrowed.roles = ints(&[Role::DirectoryReader, Role::UserAdmin]);
    server
        .relationships(&customer(&created.id))
        .update_delegated_admin(pb::UpdateDelegatedAdminRequest {
            grant: Some(narrowed),
            update_mask: mask(&["roles"]),
        })
        .await
        .expect("roles removed");

    let keeps = get(&server, &me, &keeps.id).await.expect("k");
    assert_eq!(
        (keeps.state, roles_of(&keeps)),
        (State::Active as i32, vec![Role::DirectoryReader])
    );
    let loses = get(&server, &me, &loses.id).await.expect("l");
    assert_eq!(
        (loses.state, loses.end_cause),
        (State::Ended as i32, EndCause::RolesRemoved as i32)
    );
    assert_eq!(
        get(&server, &me, &untouched.id).await.expect("u"),
        untouched,
        "no change, no new etag"
    );

    // A wider grant later (D1 replacing in place) restores nothing.
    grant_roles(
        &server,
        &created.id,
        &holder.id,
        "office365",
        &[Role::DirectoryReader, Role::UserAdmin, Role::LicenseAdmin],
    )
    .await
    .expect("wider again");
    assert_eq!(
        roles_of(&get(&server, &me, &keeps.id).await.expect("k")),
        [Role::DirectoryReader]
    );
    // A replacement dropping roles strips them too.
    grant_roles(&server, &created.id, &holder.id, "office365", &[Role::LicenseAdmin])
        .await
        .expect("narrower replacement");
    let keeps = get(&server, &me, &keeps.id).await.expect("k");
    assert_eq!(
        (keeps.state, keeps.end_cause),
        (State::Ended as i32, EndCause::RolesRemoved as i32)
    );
}

#[tokio::test]
async fn r4_deleting_a_group_ends_its_assignments() {
    let server = TestServer::start().await;
    let (_, holder, grant) = granted_partner(&server, &[Role::DirectoryReader]).await;
    let me = partner(&holder.id);
    let group = group_of(&server, &holder.id, &["m"]).await;
    let via = assign(
        &server,
        &me,
        to_group(&grant.id, &group.id, &[Role::DirectoryReader]),
        "",
    )
    .await
    .expect("via");
    let direct = assign(&server, &me, to_user(&grant.id, "m", &[Role::DirectoryReader]), "")
        .await
        .expect("direct");
    let deleted = delete_group(&server, &group).await.expect("deleted");
    assert!(deleted.delete_time.is_some());
    let via = get(&server, &me, &via.id).await.expect("via");
    assert_eq!(
        (via.state, via.end_cause),
        (State::Ended as i32, EndCause::GroupDeleted as i32)
    );
    assert_eq!(get(&server, &me, &direct.id).await.expect("direct"), direct);
}

// ---------------------------------------------------------------- R7

#[tokio::test]
async fn r7_what_only_grants_allow_a_user_has_through_an_assignment_naming_the_deciding_role() {
    let server = TestServer::start().await;
    let (created, holder, grant) =
        granted_partner(&server, &[Role::DirectoryReader, Role::HelpdeskAdmin, Role::UserAdmin]).await;
    let me = partner(&holder.id);
    let (p, c) = (holder.id.as_str(), created.id.as_str());

    // No assignment: the partner may, its user may not.
    let partner_wide = server.check(p, c, Action::ReadDirectory, "office365", "").await;
    assert_decision(&partner_wide, true, Reason::DelegatedAdmin, "the partner");
    for action in [
        Action::View,
        Action::ReadDirectory,
        Action::Support,
        Action::ManageUsers,
    ] {
        let d = decided(&server, p, c, action, "office365", "carol").await;
        assert_decision(&d, false, Reason::UserNotAssigned, &format!("{action:?} unassigned"));
    }
    // A1's denial comes first: no grant role allows READ_BILLING or PROVISION.
    assert_decision(
        &decided(&server, p, c, Action::ReadBilling, "office365", "carol").await,
        false,
        Reason::RoleNotGranted,
        "R7 without the role in the grant",
    );
    assert_decision(
        &decided(&server, p, c, Action::Provision, "office365", "carol").await,
        false,
        Reason::NoDelegatedAdmin,
        "PROVISION",
    );

    let direct = assign(&server, &me, to_user(&grant.id, "carol", &[Role::HelpdeskAdmin]), "")
        .await
        .expect("assigned");
    let read = decided(&server, p, c, Action::ReadDirectory, "office365", "carol").await;
    assert_decision(&read, true, Reason::RoleAssigned, "READ_DIRECTORY via HELPDESK_ADMIN");
    assert_eq!(
        (
            read.role,
            read.assignment_ids.clone(),
            read.grant_ids.clone(),
            read.security_group_id.as_str()
        ),
        (
            Role::HelpdeskAdmin as i32,
            vec![direct.id.clone()],
            vec![grant.id.clone()],
            ""
        )
    );
    assert_decision(
        &decided(&server, p, c, Action::Support, "office365", "carol").await,
        true,
        Reason::RoleAssigned,
        "SUPPORT",
    );
    assert_decision(
        &decided(&server, p, c, Action::View, "", "carol").await,
        true,
        Reason::RoleAssigned,
        "VIEW rests on any assigned role",
    );
    assert_decision(
        &decided(&server, p, c, Action::ManageUsers, "office365", "carol").await,
        false,
        Reason::RoleNotAssigned,
        "MANAGE_USERS: the grant has USER_ADMIN, carol does not",
    );
    assert_decision(
        &decided(&server, p, c, Action::ReadDirectory, "azure", "carol").await,
        false,
        Reason::NoDelegatedAdmin,
        "another service",
    );

    // Through a group, membership counting from the next check (A3).
    let group = group_of(&server, &holder.id, &["dave"]).await;
    let via = assign(
        &server,
        &me,
        to_group(&grant.id, &group.id, &[Role::DirectoryReader, Role::UserAdmin]),
        "",
    )
    .await
    .expect("group assigned");
    let manage = decided(&server, p, c, Action::ManageUsers, "office365", "dave").await;
    assert_decision(&manage, true, Reason::RoleAssigned, "dave via the group");
    assert_eq!(
        (
            manage.role,
            manage.security_group_id.as_str(),
            manage.assignment_ids.clone()
        ),
        (Role::UserAdmin as i32, group.id.as_str(), vec![via.id.clone()])
    );
    let read = decided(&server, p, c, Action::ReadDirectory, "office365", "dave").await;
    assert_eq!(
        read.role,
        Role::DirectoryReader as i32,
        "the lowest-numbered allowing role"
    );
    let group = set_members(&server, &group, &["erin"]).await;
    assert_decision(
        &decided(&server, p, c, Action::ManageUsers, "office365", "dave").await,
        false,
        Reason::UserNotAssigned,
        "dave left the group",
    );
    assert_decision(
        &decided(&server, p, c, Action::ManageUsers, "office365", "erin").await,
        true,
        Reason::RoleAssigned,
        "erin joined it",
    );
    // carol directly and through the group: both allowing assignments are
    // named, lowest id first, and the first decides role and group.
    set_members(&server, &group, &["erin", "carol"]).await;
    let both = decided(&server, p, c, Action::ReadDirectory, "office365", "carol").await;
    let mut ids = vec![direct.id.clone(), via.id.clone()];
    ids.sort();
    assert_eq!(both.assignment_ids, ids);
    let first_is_group = ids[0] == via.id;
    assert_eq!(both.security_group_id.is_empty(), !first_is_group, "{both:?}");

    // Ended assignments allow nothing.
    remove(&server, &me, &direct.id, "").await.expect("removed");
    delete_group(&server, &group).await.expect("deleted");
    assert_decision(
        &decided(&server, p, c, Action::ReadDirectory, "office365", "carol").await,
        false,
        Reason::UserNotAssigned,
        "after removal",
    );

    // user_id's form.
    for bad in ["x".repeat(129), "new\nline".to_string()] {
        let refused = check_as(&server, &service_principal(), user_check(p, c, Action::View, "", &bad)).await;
        let status = assert_error(refused, Code::InvalidArgument, "INVALID_FIELD");
        assert_eq!(violated_fields(&status), ["user_id"]);
    }
}

#[tokio::test]
async fn r7_what_a_relationship_or_standing_allows_each_user_has() {
    let server = TestServer::start().await;
    // C1: a RESELLER relationship and a grant with every role but
    // GLOBAL_ADMIN for every service.
    let (reseller, created) = reseller_with_customer(&server).await;
    let (p, c) = (reseller.id.as_str(), created.id.as_str());
    assert_decision(
        &decided(&server, p, c, Action::View, "", "anyone").await,
        true,
        Reason::ActiveRelationship,
        "VIEW through the relationship",
    );
    assert_decision(
        &decided(&server, p, c, Action::Sell, "", "anyone").await,
        true,
        Reason::Transacting,
        "SELL",
    );
    let subscription = server
        .create_subscription(&partner(p), csp_subscription(c, p))
        .await
        .expect("a CSP subscription");
    let support = check_as(
        &server,
        &service_principal(),
        pb::CheckAccessRequest {
            subscription_id: subscription.id.clone(),
            ..user_check(p, c, Action::Support, "", "anyone")
        },
    )
    .await
    .expect("answered");
    assert_decision(
        &support,
        true,
        Reason::PartnerOfRecord,
        "a CSP subscription's SUPPORT as partner of record",
    );
    let manage = check_as(
        &server,
        &service_principal(),
        pb::CheckAccessRequest {
            subscription_id: subscription.id.clone(),
            ..user_check(p, c, Action::ManageSubscription, "", "anyone")
        },
    )
    .await
    .expect("answered");
    assert_decision(&manage, true, Reason::PartnerOfRecord, "MANAGE_SUBSCRIPTION");
    // PROVISION rests on the grant alone.
    assert_decision(
        &decided(&server, p, c, Action::Provision, "office365", "anyone").await,
        false,
        Reason::UserNotAssigned,
        "PROVISION",
    );
    // A partner asks about its own users only.
    let other = server.create_partner(Kind::DirectReseller).await;
    assert_error(
        check_as(
            &server,
            &partner(&other.id),
            user_check(p, c, Action::View, "", "anyone"),
        )
        .await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    );
}

#[tokio::test]
async fn r7_a_grant_past_its_end_denies_its_users_before_the_sweep() {
    let (server, clock) = TestServer::start_with_clock().await;
    let created = server.create_customer(&operator(), None).await.expect("customer");
    let holder = server.create_partner(Kind::DirectReseller).await;
    let grant = grant_as(
        &server,
        &customer(&created.id),
        pb::GrantDelegatedAdminRequest {
            partner_id: holder.id.clone(),
            service: "office365".into(),
            roles: ints(&[Role::DirectoryReader]),
            duration_days: 1,
            ..Default::default()
        },
    )
    .await
    .expect("granted")
    .grant
    .expect("grant");
    assign(
        &server,
        &partner(&holder.id),
        to_user(&grant.id, "u", &[Role::DirectoryReader]),
        "",
    )
    .await
    .expect("assigned");
    let (p, c) = (holder.id.as_str(), created.id.as_str());
    assert_decision(
        &decided(&server, p, c, Action::ReadDirectory, "office365", "u").await,
        true,
        Reason::RoleAssigned,
        "in force",
    );
    clock.advance(2 * 86_400_000_000);
    assert_decision(
        &decided(&server, p, c, Action::ReadDirectory, "office365", "u").await,
        false,
        Reason::NoRelationship,
        "past its end (D4), before the sweep",
    );
    refused_without_change(
        &server,
        assign(
            &server,
            &partner(p),
            to_user(&grant.id, "v", &[Role::DirectoryReader]),
            "",
        ),
        Code::FailedPrecondition,
        "GRANT_NOT_ACTIVE",
    )
    .await;
}

// ---------------------------------------------------------------- R8

#[tokio::test]
async fn r8_assignment_events_reach_the_customer_admin_and_group_events_do_not() {
    let server = TestServer::start().await;
    let (created, holder, grant) = granted_partner(&server, &[Role::DirectoryReader]).await;
    let group = group_of(&server, &holder.id, &["m"]).await;
    let made = assign(
        &server,
        &partner(&holder.id),
        to_group(&grant.id, &group.id, &[Role::DirectoryReader]),
        "",
    )
    .await
    .expect("assigned");
    delete_group(&server, &group).await.expect("deleted");
    let types = |who: Principal| {
        let server = &server;
        async move {
            let events = server
                .relationships(&who)
                .list_events(pb::ListEventsRequest {
                    page_size: 1000,
                    ..Default::default()
                })
                .await
                .expect("events")
                .into_inner()
                .events;
            (events.into_iter())
                .filter(|e| e.r#type.starts_with("security_group.") || e.r#type.starts_with("access_assignment."))
                .map(|e| (e.r#type, e.subject_id))
                .collect::<Vec<_>>()
        }
    };
    let assignment_events = vec![
        ("access_assignment.created".to_string(), made.id.clone()),
        ("access_assignment.ended".to_string(), made.id.clone()),
    ];
    let all = vec![
        ("security_group.created".to_string(), group.id.clone()),
        assignment_events[0].clone(),
        assignment_events[1].clone(),
        ("security_group.deleted".to_string(), group.id.clone()),
    ];
    assert_eq!(types(partner(&holder.id)).await, all, "its partner");
    assert_eq!(types(operator()).await, all, "the operator");
    assert_eq!(
        types(customer(&created.id)).await,
        assignment_events,
        "the customer's admin"
    );
    let other = server.create_partner(Kind::DirectReseller).await;
    assert_eq!(types(partner(&other.id)).await, vec![], "another partner");
}

// ---------------------------------------------------------------- W1

/// W1: an assignment made while its grant is revoked: whichever commits
/// first, no ACTIVE assignment is left on the ended grant.
#[tokio::test]
async fn w1_an_assignment_racing_its_grants_revocation_never_stays_active() {
    let server = TestServer::start().await;
    for round in 0..8 {
        let (created, holder, grant) = granted_partner(&server, &[Role::DirectoryReader]).await;
        let me = partner(&holder.id);
        let admin = customer(&created.id);
        let (made, revoked) = tokio::join!(
            assign(&server, &me, to_user(&grant.id, "racer", &[Role::DirectoryReader]), ""),
            revoke_grant_as(&server, &admin, &grant.id),
        );
        revoked.expect("revoked");
        if let Err(status) = &made {
            assert_eq!(reason(status), "GRANT_NOT_ACTIVE", "round {round}: {status:?}");
        }
        let left = list(
            &server,
            &operator(),
            pb::ListAccessAssignmentsRequest {
                grant_id: grant.id.clone(),
                state: State::Active as i32,
                ..Default::default()
            },
        )
        .await
        .expect("listed");
        assert!(left.is_empty(), "round {round}: {left:?}");
    }
}

/// W1: an assignment made or changed while its grant's roles shrink never
/// keeps a role the grant lost.
#[tokio::test]
async fn w1_an_assignment_racing_a_role_removal_never_holds_a_removed_role() {
    let server = TestServer::start().await;
    for round in 0..8 {
        let (created, holder, grant) = granted_partner(&server, &[Role::DirectoryReader, Role::UserAdmin]).await;
        let me = partner(&holder.id);
        let existing = assign(&server, &me, to_user(&grant.id, "old", &[Role::DirectoryReader]), "")
            .await
            .expect("old");
        let mut narrowed = grant.clone();
        narrowed.roles = ints(&[Role::DirectoryReader]);
        let mut admin = server.relationships(&customer(&created.id));
        let narrow = admin.update_delegated_admin(pb::UpdateDelegatedAdminRequest {
            grant: Some(narrowed),
            update_mask: mask(&["roles"]),
        });
        let (made, changed, narrowed) = tokio::join!(
            assign(&server, &me, to_user(&grant.id, "new", &[Role::UserAdmin]), ""),
            update_roles(
                &server,
                &me,
                &existing.id,
                "",
                &[Role::UserAdmin, Role::DirectoryReader]
            ),
            narrow,
        );
        narrowed.expect("narrowed");
        for result in [made, changed] {
            if let Err(status) = result {
                assert_eq!(reason(&status), "ROLE_NOT_IN_GRANT", "round {round}: {status:?}");
            }
        }
        let active = list(
            &server,
            &operator(),
            pb::ListAccessAssignmentsRequest {
                grant_id: grant.id.clone(),
                state: State::Active as i32,
                ..Default::default()
            },
        )
        .await
        .expect("listed");
        for a in &active {
            assert_eq!(roles_of(a), [Role::DirectoryReader], "round {round}: {a:?}");
        }
        assert!(
            active.iter().any(|a| a.id == existing.id),
            "round {round}: old keeps DIRECTORY_READER"
        );
    }
}

/// W1: a group deleted while checks run: every check is answered, and none
/// after the deletion is acknowledged allows through the group.
#[tokio::test]
async fn w1_a_group_deleted_while_checks_run() {
    let server = TestServer::start().await;
    let (created, holder, grant) = granted_partner(&server, &[Role::DirectoryReader]).await;
    let group = group_of(&server, &holder.id, &["m"]).await;
    assign(
        &server,
        &partner(&holder.id),
        to_group(&grant.id, &group.id, &[Role::DirectoryReader]),
        "",
    )
    .await
    .expect("assigned");
    let (p, c) = (holder.id.clone(), created.id.clone());
    let deleted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let checks = {
        let (server, deleted) = (&server, deleted.clone());
        async move {
            let mut answered = 0;
            for _ in 0..200 {
                let after_delete = deleted.load(std::sync::atomic::Ordering::SeqCst);
                let d = check_as(
                    server,
                    &service_principal(),
                    user_check(&p, &c, Action::ReadDirectory, "office365", "m"),
                )
                .await
                .expect("answered");
                if after_delete {
                    assert!(!d.allowed, "a check after the deletion was acknowledged: {d:?}");
                }
                answered += 1;
                tokio::task::yield_now().await;
            }
            answered
        }
    };
    let delete = async {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        delete_group(&server, &group).await.expect("deleted");
        deleted.store(true, std::sync::atomic::Ordering::SeqCst);
    };
    let (answered, ()) = tokio::join!(checks, delete);
    assert_eq!(answered, 200);
}
