//! Roles of delegated admin grants: R1 (roles and the actions they allow,
//! scopes read as roles, C1's and invitations' roles, the stored grants
//! migrated), R2 (GLOBAL_ADMIN only with an end), R3 (removing roles) and
//! R7 without a user (READ_DIRECTORY, MANAGE_USERS, READ_BILLING), through
//! the real server.

use std::collections::BTreeSet;

use partnercenter::api::pb;
use partnercenter::api::pb::check_access_request::Action;
use partnercenter::api::pb::check_access_response::Reason;
use partnercenter::api::pb::delegated_admin_grant::{Role, Scope, State as GrantState};
use partnercenter::api::pb::partner::{Kind, Status as PartnerStatus};
use partnercenter::domain::model::{
    DelegatedAdminGrant, EventResource, GrantState as DomainGrantState, Scope as DomainScope, Service,
};
use tonic::Code;
use tonic_types::StatusExt;

use crate::delegated_admin::{micros, ts};
use crate::support::*;

const DAY: i64 = 86_400_000_000;
const SERVICES: [&str; 3] = ["office365", "azure", "dynamics365"];
/// The actions a grant's roles decide (R1).
const GRANT_ACTIONS: [Action; 5] = [
    Action::ReadDirectory,
    Action::ManageUsers,
    Action::Provision,
    Action::Support,
    Action::ReadBilling,
];
/// R7's actions, which only a grant's roles allow.
const ROLE_ACTIONS: [Action; 3] = [Action::ReadDirectory, Action::ManageUsers, Action::ReadBilling];
/// What scopes read as when neither scopes nor roles are given (I3) and
/// what both scopes read as (R1).
const BOTH_SCOPES_ROLES: [Role; 3] = [Role::HelpdeskAdmin, Role::UserAdmin, Role::LicenseAdmin];

// ---------------------------------------------------------------- helpers

/// R1's table as the rule states it.
fn allowed_by(role: Role) -> &'static [Action] {
    match role {
        Role::DirectoryReader => &[Action::ReadDirectory],
        Role::HelpdeskAdmin => &[Action::ReadDirectory, Action::Support],
        Role::UserAdmin => &[Action::ReadDirectory, Action::ManageUsers],
        Role::LicenseAdmin => &[Action::ReadDirectory, Action::Provision],
        Role::BillingReader => &[Action::ReadBilling],
        Role::GlobalAdmin => &GRANT_ACTIONS,
        Role::Unspecified => &[],
    }
}

fn roles_of(grant: &pb::DelegatedAdminGrant) -> Vec<Role> {
    grant
        .roles
        .iter()
        .map(|r| Role::try_from(*r).expect("a known role"))
        .collect()
}

fn scopes_of(grant: &pb::DelegatedAdminGrant) -> BTreeSet<i32> {
    grant.scopes.iter().copied().collect()
}

fn scope_set(scopes: &[Scope]) -> BTreeSet<i32> {
    scopes.iter().map(|s| *s as i32).collect()
}

fn ints<T: Copy + Into<i32>>(values: &[T]) -> Vec<i32> {
    values.iter().map(|v| (*v).into()).collect()
}

/// A D1 grant naming roles only.
fn with_roles(partner_id: &str, service: &str, roles: &[Role]) -> pb::GrantDelegatedAdminRequest {
    pb::GrantDelegatedAdminRequest {
        partner_id: partner_id.into(),
        service: service.into(),
        roles: ints(roles),
        ..Default::default()
    }
}

/// The customer's admin grants; the grant made.
async fn granted(
    server: &TestServer,
    customer_id: &str,
    request: pb::GrantDelegatedAdminRequest,
) -> pb::DelegatedAdminGrant {
    grant_as(server, &customer(customer_id), request)
        .await
        .expect("granted")
        .grant
        .expect("the grant")
}

/// A customer created by the operator (C2: no partner, no grant) and a
/// DIRECT_RESELLER with no business with it.
async fn customer_and_partner(server: &TestServer) -> (pb::Customer, pb::Partner) {
    let created = server.create_customer(&operator(), None).await.expect("customer");
    let holder = server.create_partner(Kind::DirectReseller).await;
    (created, holder)
}

#[track_caller]
fn assert_decision(decision: &pb::CheckAccessResponse, allowed: bool, reason: Reason, what: &str) {
    assert_eq!(
        (decision.allowed, decision.reason),
        (allowed, reason as i32),
        "{what}: {decision:?}"
    );
}

/// G3, R3: UpdateDelegatedAdmin of the masked fields as the customer's admin.
async fn update(
    server: &TestServer,
    customer_id: &str,
    grant: pb::DelegatedAdminGrant,
    paths: &[&str],
) -> Result<pb::DelegatedAdminGrant, tonic::Status> {
    server
        .relationships(&customer(customer_id))
        .update_delegated_admin(pb::UpdateDelegatedAdminRequest {
            grant: Some(grant),
            update_mask: mask(paths),
        })
        .await
        .map(|reply| reply.into_inner())
}

/// The violated fields of a refusal, as a set.
fn violated(status: &tonic::Status) -> BTreeSet<String> {
    violated_fields(status).into_iter().collect()
}

fn fields(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|f| f.to_string()).collect()
}

// ---------------------------------------------------------------- R1

/// R1: each role alone allows exactly its actions on its grant's service
/// (DELEGATED_ADMIN, naming the grant), and nothing on another service; a
/// grant allows VIEW whatever its roles, and never SELL. The grant's scopes
/// follow from its roles. BatchCheckAccess answers as CheckAccess.
#[tokio::test]
async fn r1_each_role_allows_exactly_its_actions_on_its_service() {
    let server = TestServer::start().await;
    for role in [
        Role::DirectoryReader,
        Role::HelpdeskAdmin,
        Role::UserAdmin,
        Role::LicenseAdmin,
        Role::BillingReader,
        Role::GlobalAdmin,
    ] {
        let (tenant, holder) = customer_and_partner(&server).await;
        let grant = granted(
            &server,
            &tenant.id,
            pb::GrantDelegatedAdminRequest {
                // R2: GLOBAL_ADMIN needs an end.
                duration_days: 30,
                ..with_roles(&holder.id, "azure", &[role])
            },
        )
        .await;
        assert_eq!(roles_of(&grant), [role]);
        let mut scopes = Vec::new();
        if allowed_by(role).contains(&Action::Provision) {
            scopes.push(Scope::Provisioning);
        }
        if allowed_by(role).contains(&Action::Support) {
            scopes.push(Scope::Support);
        }
        assert_eq!(
            scopes_of(&grant),
            scope_set(&scopes),
            "{role:?}: scopes follow from roles"
        );

        let mut checks = Vec::new();
        for action in GRANT_ACTIONS {
            for service in ["azure", "office365"] {
                let decision = server.check(&holder.id, &tenant.id, action, service, "").await;
                let allowed = service == "azure" && allowed_by(role).contains(&action);
                let what = format!("{role:?} {action:?} {service}");
                if allowed {
                    assert_decision(&decision, true, Reason::DelegatedAdmin, &what);
                    assert_eq!(decision.grant_ids, std::slice::from_ref(&grant.id), "{what}");
                } else if ROLE_ACTIONS.contains(&action) && service == "azure" {
                    assert_decision(&decision, false, Reason::RoleNotGranted, &what);
                } else {
                    assert_decision(&decision, false, Reason::NoDelegatedAdmin, &what);
                }
                checks.push((
                    pb::CheckAccessRequest {
                        partner_id: holder.id.clone(),
                        customer_id: tenant.id.clone(),
                        action: action as i32,
                        service: service.into(),
                        subscription_id: String::new(),
                        user_id: String::new(),
                    },
                    decision,
                ));
            }
        }
        let view = server.check(&holder.id, &tenant.id, Action::View, "", "").await;
        assert_decision(&view, true, Reason::DelegatedAdmin, &format!("{role:?} VIEW"));
        let sell = server.check(&holder.id, &tenant.id, Action::Sell, "", "").await;
        assert_decision(&sell, false, Reason::NotTransacting, &format!("{role:?} SELL"));

        // A2: the same checks in one batch, answered alike and in order.
        let (requests, singles): (Vec<_>, Vec<_>) = checks.into_iter().unzip();
        let batch = server
            .relationships(&service())
            .batch_check_access(pb::BatchCheckAccessRequest { checks: requests })
            .await
            .expect("batch answered")
            .into_inner();
        assert_eq!(batch.results, singles, "{role:?}");
    }
}

/// R1, D1: scopes given without roles read as roles (PROVISIONING as
/// USER_ADMIN and LICENSE_ADMIN, SUPPORT as HELPDESK_ADMIN) and allow what
/// they did; roles that allow neither PROVISION nor SUPPORT leave the
/// scopes empty.
#[tokio::test]
async fn r1_a_grant_of_scopes_alone_reads_as_roles() {
    let server = TestServer::start().await;
    let (tenant, holder) = customer_and_partner(&server).await;
    let cases: [(&str, &[Scope], &[Role]); 3] = [
        (
            "office365",
            &[Scope::Provisioning],
            &[Role::UserAdmin, Role::LicenseAdmin],
        ),
        ("azure", &[Scope::Support], &[Role::HelpdeskAdmin]),
        (
            "dynamics365",
            &[Scope::Support, Scope::Provisioning],
            &BOTH_SCOPES_ROLES,
        ),
    ];
    for (service, scopes, roles) in cases {
        let grant = granted(
            &server,
            &tenant.id,
            pb::GrantDelegatedAdminRequest {
                partner_id: holder.id.clone(),
                service: service.into(),
                scopes: ints(scopes),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(roles_of(&grant), roles, "{service}");
        assert_eq!(scopes_of(&grant), scope_set(scopes), "{service}");
        for (action, scope) in [
            (Action::Provision, Scope::Provisioning),
            (Action::Support, Scope::Support),
        ] {
            let decision = server.check(&holder.id, &tenant.id, action, service, "").await;
            assert_eq!(decision.allowed, scopes.contains(&scope), "{service} {action:?}");
        }
        // USER_ADMIN came with PROVISIONING.
        let users = server
            .check(&holder.id, &tenant.id, Action::ManageUsers, service, "")
            .await;
        assert_eq!(users.allowed, scopes.contains(&Scope::Provisioning), "{service}");
    }

    // A grant of roles that give no scope has none.
    let (tenant, holder) = customer_and_partner(&server).await;
    let grant = granted(
        &server,
        &tenant.id,
        with_roles(&holder.id, "azure", &[Role::BillingReader, Role::DirectoryReader]),
    )
    .await;
    assert_eq!(
        roles_of(&grant),
        [Role::DirectoryReader, Role::BillingReader],
        "in the enum's order"
    );
    assert!(grant.scopes.is_empty(), "{grant:?}");
    // It is listed so too.
    let listed = relationships_listing(&server, &customer(&tenant.id), &tenant.id).await;
    assert_eq!(listed.delegated_admin_grants, [grant]);
}

/// R1, W3: a grant names roles or scopes, one of the two; roles are known,
/// distinct and at most six. Each refusal is INVALID_ARGUMENT naming its
/// fields, and stores nothing.
#[tokio::test]
async fn r1_roles_with_scopes_repeated_unknown_or_too_many_are_invalid_and_change_nothing() {
    let server = TestServer::start().await;
    let (tenant, holder) = customer_and_partner(&server).await;
    let base = with_roles(&holder.id, "azure", &[]);
    let cases: Vec<(pb::GrantDelegatedAdminRequest, Vec<&str>)> = vec![
        (
            pb::GrantDelegatedAdminRequest {
                scopes: vec![Scope::Support as i32],
                roles: vec![Role::HelpdeskAdmin as i32],
                ..base.clone()
            },
            vec!["roles"],
        ),
        (base.clone(), vec!["scopes"]),
        (
            pb::GrantDelegatedAdminRequest {
                roles: vec![Role::Unspecified as i32],
                ..base.clone()
            },
            vec!["roles[0]"],
        ),
        (
            pb::GrantDelegatedAdminRequest {
                roles: vec![Role::UserAdmin as i32, 99],
                ..base.clone()
            },
            vec!["roles[1]"],
        ),
        (
            pb::GrantDelegatedAdminRequest {
                roles: ints(&[Role::UserAdmin, Role::BillingReader, Role::UserAdmin]),
                ..base.clone()
            },
            vec!["roles[2]"],
        ),
        (
            pb::GrantDelegatedAdminRequest {
                roles: vec![Role::DirectoryReader as i32; 7],
                ..base.clone()
            },
            vec!["roles"],
        ),
        (
            pb::GrantDelegatedAdminRequest {
                partner_id: String::new(),
                roles: vec![Role::UserAdmin as i32, 0],
                ..base.clone()
            },
            vec!["partner_id", "roles[1]"],
        ),
    ];
    for (bad, expected) in cases {
        let status = refused_without_change(
            &server,
            grant_as(&server, &customer(&tenant.id), bad.clone()),
            Code::InvalidArgument,
            "INVALID_FIELD",
        )
        .await;
        assert_eq!(violated(&status), fields(&expected), "{bad:?}");
    }
    // Six distinct roles are the most, and fine.
    let all = granted(
        &server,
        &tenant.id,
        pb::GrantDelegatedAdminRequest {
            duration_days: 10,
            ..with_roles(
                &holder.id,
                "azure",
                &[
                    Role::GlobalAdmin,
                    Role::BillingReader,
                    Role::LicenseAdmin,
                    Role::UserAdmin,
                    Role::HelpdeskAdmin,
                    Role::DirectoryReader,
                ],
            )
        },
    )
    .await;
    assert_eq!(all.roles, [1, 2, 3, 4, 5, 6]);
}

/// R1, C1: the creator's grants hold every role but GLOBAL_ADMIN (so both
/// scopes), for every service, with no end; so it may read the directory,
/// manage users and read billing.
#[tokio::test]
async fn r1_c1_the_creators_grants_hold_every_role_but_global_admin() {
    let server = TestServer::start().await;
    let (reseller, tenant) = reseller_with_customer(&server).await;
    let listed = relationships_listing(&server, &customer(&tenant.id), &tenant.id).await;
    assert_eq!(listed.delegated_admin_grants.len(), SERVICES.len());
    for grant in &listed.delegated_admin_grants {
        assert_eq!(
            roles_of(grant),
            [
                Role::DirectoryReader,
                Role::HelpdeskAdmin,
                Role::UserAdmin,
                Role::LicenseAdmin,
                Role::BillingReader
            ]
        );
        assert_eq!(scopes_of(grant), scope_set(&[Scope::Provisioning, Scope::Support]));
        assert!(grant.end_time.is_none());
    }
    for service in SERVICES {
        for action in GRANT_ACTIONS {
            let decision = server.check(&reseller.id, &tenant.id, action, service, "").await;
            assert_decision(
                &decision,
                true,
                Reason::DelegatedAdmin,
                &format!("{action:?} {service}"),
            );
        }
    }
    // The indirect chain's reseller gets them instead (C1, I6 c).
    let (_, indirect, tenant) = indirect_chain(&server).await;
    let listed = relationships_listing(&server, &customer(&tenant.id), &tenant.id).await;
    assert!(
        listed
            .delegated_admin_grants
            .iter()
            .all(|g| g.partner_id == indirect.id && g.roles.len() == 5)
    );
}

/// R1, I3, I6: an invitation asks for roles, or scopes read as roles, or
/// neither (both scopes' roles); its scopes follow from its roles, and
/// each grant its acceptance makes has those roles.
#[tokio::test]
async fn r1_i6_an_invitations_roles_go_to_the_grants_it_makes() {
    let server = TestServer::start().await;
    let cases: [(&[Scope], &[Role], &[Role]); 3] = [
        (
            &[],
            &[Role::BillingReader, Role::DirectoryReader],
            &[Role::DirectoryReader, Role::BillingReader],
        ),
        (&[Scope::Support], &[], &[Role::HelpdeskAdmin]),
        (&[], &[], &BOTH_SCOPES_ROLES),
    ];
    for (scopes, asked, roles) in cases {
        let inviter = server.create_partner(Kind::DirectReseller).await;
        let invitation = server
            .invite(
                &inviter.id,
                pb::RelationshipRequest {
                    include_delegated_admin: true,
                    delegated_admin_services: vec!["azure".into()],
                    delegated_admin_scopes: ints(scopes),
                    delegated_admin_roles: ints(asked),
                    ..Default::default()
                },
            )
            .await
            .expect("invited");
        assert_eq!(invitation.delegated_admin_roles, ints(roles), "{asked:?}");
        let derived: Vec<Scope> = [
            (Action::Provision, Scope::Provisioning),
            (Action::Support, Scope::Support),
        ]
        .into_iter()
        .filter(|(action, _)| roles.iter().any(|r| allowed_by(*r).contains(action)))
        .map(|(_, scope)| scope)
        .collect();
        assert_eq!(invitation.delegated_admin_scopes, ints(&derived), "{asked:?}");
        let read = get_invitation(&server, &partner(&inviter.id), &invitation.id)
            .await
            .expect("read back");
        assert_eq!(read.delegated_admin_roles, invitation.delegated_admin_roles);

        let tenant = server.create_customer(&operator(), None).await.expect("customer");
        let accepted = server.accept(&tenant.id, &invitation.code).await.expect("accepted");
        let [grant] = accepted.grants.as_slice() else {
            panic!("one grant: {accepted:?}");
        };
        assert_eq!(roles_of(grant), roles);
        assert_eq!(grant.scopes, ints(&derived));
        for action in ROLE_ACTIONS {
            let decision = server.check(&inviter.id, &tenant.id, action, "azure", "").await;
            let allowed = roles.iter().any(|r| allowed_by(*r).contains(&action));
            assert_eq!(decision.allowed, allowed, "{asked:?} {action:?}");
        }
    }
}

/// R1, R2, I3, W3: an invitation's roles are refused as a grant's are,
/// and GLOBAL_ADMIN (its grants have no end) too; nothing is stored.
#[tokio::test]
async fn r1_r2_an_invitation_asking_for_global_admin_or_roles_with_scopes_is_invalid_field() {
    let server = TestServer::start().await;
    let inviter = server.create_partner(Kind::DirectReseller).await;
    let field = "relationship_request.delegated_admin_roles";
    let with = |scopes: &[Scope], roles: &[Role], include: bool| pb::RelationshipRequest {
        include_delegated_admin: include,
        delegated_admin_scopes: ints(scopes),
        delegated_admin_roles: ints(roles),
        ..Default::default()
    };
    let cases = [
        (
            with(&[], &[Role::UserAdmin, Role::GlobalAdmin], true),
            format!("{field}[1]"),
        ),
        (with(&[Scope::Support], &[Role::HelpdeskAdmin], true), field.to_owned()),
        (
            with(&[], &[Role::UserAdmin, Role::UserAdmin], true),
            format!("{field}[1]"),
        ),
        (with(&[], &[Role::Unspecified], true), format!("{field}[0]")),
        (
            with(&[], &[Role::DirectoryReader], false),
            "relationship_request.include_delegated_admin".to_owned(),
        ),
    ];
    for (bad, expected) in cases {
        let status = refused_without_change(
            &server,
            server.invite(&inviter.id, bad.clone()),
            Code::InvalidArgument,
            "INVALID_FIELD",
        )
        .await;
        assert_eq!(violated_fields(&status), [expected], "{bad:?}");
    }
}

/// R1, D2: a grant counts for D2 whatever its roles: a transacting
/// partner's BILLING_READER grant supersedes the earlier transacting
/// holder's grant for that service, and only that one.
#[tokio::test]
async fn r1_d2_a_grant_counts_whatever_its_roles() {
    let server = TestServer::start().await;
    let (creator, tenant) = reseller_with_customer(&server).await;
    let second = server.create_partner(Kind::DirectReseller).await;
    let invitation = server
        .invite(&second.id, pb::RelationshipRequest::default())
        .await
        .expect("invited");
    server.accept(&tenant.id, &invitation.code).await.expect("accepted");
    let reply = grant_as(
        &server,
        &customer(&tenant.id),
        with_roles(&second.id, "azure", &[Role::BillingReader]),
    )
    .await
    .expect("granted");
    let [superseded] = reply.superseded_grants.as_slice() else {
        panic!("one superseded: {reply:?}");
    };
    assert_eq!(
        (superseded.partner_id.as_str(), superseded.service.as_str()),
        (creator.id.as_str(), "azure")
    );
    assert_eq!(superseded.state, GrantState::Superseded as i32);
    assert!(
        !server
            .check(&creator.id, &tenant.id, Action::ReadDirectory, "azure", "")
            .await
            .allowed
    );
    assert!(
        server
            .check(&creator.id, &tenant.id, Action::ReadDirectory, "office365", "")
            .await
            .allowed
    );
}

// ---------------------------------------------------------------- R1: stored before roles

/// The rows the previous version (migrations up to m0005) wrote: what its
/// code inserted, column for column.
struct LegacyStore {
    url: String,
    partner: String,
    stranger: String,
    customer: String,
    other_customer: String,
    invitation_code: String,
    /// office365 both scopes, azure SUPPORT, dynamics365 PROVISIONING.
    grants: [String; 3],
    revoked: String,
    stranger_grant: String,
}

async fn legacy_store(url: String) -> LegacyStore {
    use partnercenter::store::migration::Migrator;
    use sea_orm::ConnectionTrait;
    use sea_orm_migration::MigratorTrait;

    let db = sea_orm::Database::connect(&url).await.expect("connects");
    Migrator::up(&db, Some(5)).await.expect("the migrations up to m0005");
    let now = partnercenter::domain::clock::Clock::now(&partnercenter::domain::clock::SystemClock);
    let ids: Vec<String> = (0..10).map(|_| random_id()).collect();
    let store = LegacyStore {
        url,
        partner: ids[0].clone(),
        stranger: ids[1].clone(),
        customer: ids[2].clone(),
        other_customer: ids[3].clone(),
        invitation_code: format!("legacy-{}", ids[4]),
        grants: [ids[5].clone(), ids[6].clone(), ids[7].clone()],
        revoked: ids[8].clone(),
        stranger_grant: ids[9].clone(),
    };
    let invitation_id = random_id();
    let relationship_id = random_id();
    let mpn = next_mpn_id();
    let mpn2 = next_mpn_id();
    let (p, s, c, c2) = (&store.partner, &store.stranger, &store.customer, &store.other_customer);
    let domain = unique_domain("legacy");
    let domain2 = unique_domain("legacy");
    let grant = |id: &str, partner: &str, service: &str, scopes: &str, state: &str| {
        format!(
            "INSERT INTO delegated_admin_grants (id, customer_id, partner_id, service, scopes, state, start_time, \
             end_time, auto_extend, relationship_request_id, end_cause, end_note, version, update_time, notice_days) \
             VALUES ('{id}', '{c}', '{partner}', '{service}', '{scopes}', '{state}', {now}, NULL, FALSE, NULL, {}, \
             NULL, 1, {now}, NULL)",
            if state == "ACTIVE" {
                "NULL"
            } else {
                "'CUSTOMER_REVOKED'"
            }
        )
    };
    // The event's payload as the previous version wrote it: the grant
    // without roles.
    let mut payload = serde_json::to_value(EventResource::DelegatedAdminGrant(DelegatedAdminGrant {
        id: store.grants[1].clone(),
        customer_id: c.clone(),
        partner_id: p.clone(),
        service: Service::Azure,
        scopes: vec![DomainScope::Support],
        roles: Vec::new(),
        state: DomainGrantState::Active,
        start_time: now,
        end_time: None,
        auto_extend: false,
        end_cause: None,
        end_note: None,
        notice_days: None,
        version: 1,
        update_time: now,
    }))
    .expect("a payload");
    payload.as_object_mut().expect("an object").remove("roles");
    let payload = payload.to_string();
    let statements = [
        format!(
            "INSERT INTO partners (id, mpn_id, display_name, kind, status, version, create_time, update_time) \
             VALUES ('{p}', '{mpn}', 'Legacy Reseller', 'DIRECT_RESELLER', 'ACTIVE', 1, {now}, {now})"
        ),
        format!(
            "INSERT INTO partners (id, mpn_id, display_name, kind, status, version, create_time, update_time) \
             VALUES ('{s}', '{mpn2}', 'Legacy Helper', 'DIRECT_RESELLER', 'ACTIVE', 1, {now}, {now})"
        ),
        format!(
            "INSERT INTO customers (id, domain, company_name, company_name_folded, email, first_name, last_name, \
             culture, language, version, create_time, update_time) VALUES ('{c}', '{domain}', 'Legacy', 'legacy', \
             'admin@{domain}', 'Li', 'Wei', '', '', 1, {now}, {now})"
        ),
        format!(
            "INSERT INTO customers (id, domain, company_name, company_name_folded, email, first_name, last_name, \
             culture, language, version, create_time, update_time) VALUES ('{c2}', '{domain2}', 'Legacy Two', \
             'legacy two', 'admin@{domain2}', 'Li', 'Wei', '', '', 1, {now}, {now})"
        ),
        format!(
            "INSERT INTO relationships (id, customer_id, partner_id, kind, indirect_provider_id, state, source, \
             relationship_request_id, start_time, end_time) VALUES ('{relationship_id}', '{c}', '{p}', 'RESELLER', \
             NULL, 'ACTIVE', 'CUSTOMER_CREATION', NULL, {now}, NULL)"
        ),
        grant(&store.grants[0], p, "office365", "PROVISIONING,SUPPORT", "ACTIVE"),
        grant(&store.grants[1], p, "azure", "SUPPORT", "ACTIVE"),
        grant(&store.grants[2], p, "dynamics365", "PROVISIONING", "ACTIVE"),
        grant(&store.revoked, s, "office365", "PROVISIONING", "REVOKED"),
        grant(&store.stranger_grant, s, "azure", "SUPPORT", "ACTIVE"),
        format!(
            "INSERT INTO relationship_requests (id, inviting_partner_id, indirect_reseller_id, \
             include_delegated_admin, delegated_admin_services, delegated_admin_scopes, customer_domain, code, state, \
             expire_time, create_time) VALUES ('{invitation_id}', '{p}', NULL, TRUE, 'office365', 'SUPPORT', NULL, \
             '{}', 'ACTIVE', {}, {now})",
            store.invitation_code,
            now + 30 * DAY
        ),
        format!(
            "INSERT INTO events (seq, time, event_type, actor, customer_id, partner_id, subject_id, payload) \
             VALUES (1, {now}, 'grant.created', 'customer:{c}', '{c}', '{p}', '{}', '{payload}')",
            store.grants[1]
        ),
        "UPDATE event_counter SET value = 1".to_owned(),
    ];
    for statement in statements {
        db.execute_unprepared(&statement)
            .await
            .unwrap_or_else(|error| panic!("{statement}: {error}"));
    }
    db.close().await.expect("closed");
    store
}

/// R1: grants and invitations stored by the previous version (scopes, no
/// roles), migrated by m0007_grant_roles when the server starts over them:
/// each reads as the roles its scopes stand for and allows exactly what it
/// allowed (PROVISION, SUPPORT), with no event; an invitation's roles go to
/// the grants its acceptance makes; an event recorded before roles reads
/// with them too.
#[tokio::test]
async fn r1_grants_and_invitations_stored_before_roles_read_as_their_scopes_and_allow_what_they_did() {
    let dir = tempfile::tempdir().expect("temp dir");
    // On PostgreSQL when the suite runs there, else a SQLite file.
    let database = match postgres_admin_url() {
        Some(admin_url) => Some(empty_postgres_database(&admin_url).await),
        None => None,
    };
    let url = database.as_ref().map_or_else(
        || format!("sqlite://{}?mode=rwc", dir.path().join("legacy.db").display()),
        |database| database.url.clone(),
    );
    let legacy = legacy_store(url).await;
    let url = legacy.url.clone();
    let server = TestServer::start_configured(
        std::sync::Arc::new(partnercenter::domain::clock::SystemClock),
        Some(SECRET),
        |config| {
            config.store.database_url = url;
        },
    )
    .await;
    assert_eq!(last_seq(&server).await, 1, "the migration appends no event");

    let listed = relationships_listing(&server, &customer(&legacy.customer), &legacy.customer).await;
    let by_id = |id: &str| {
        listed
            .delegated_admin_grants
            .iter()
            .find(|g| g.id == id)
            .cloned()
            .unwrap_or_else(|| panic!("grant {id} listed: {listed:?}"))
    };
    let expected: [(&str, &[Scope], &[Role]); 3] = [
        ("office365", &[Scope::Provisioning, Scope::Support], &BOTH_SCOPES_ROLES),
        ("azure", &[Scope::Support], &[Role::HelpdeskAdmin]),
        (
            "dynamics365",
            &[Scope::Provisioning],
            &[Role::UserAdmin, Role::LicenseAdmin],
        ),
    ];
    for (id, (service, scopes, roles)) in legacy.grants.iter().zip(expected) {
        let grant = by_id(id);
        assert_eq!(grant.service, service);
        assert_eq!(roles_of(&grant), roles, "{service}");
        assert_eq!(scopes_of(&grant), scope_set(scopes), "{service}: scopes unchanged");
        assert_eq!(
            grant.etag, "W/\"1\"",
            "{service}: the migration is no change of the grant"
        );
        // Exactly what it allowed, through the index and the store alike.
        for (action, scope) in [
            (Action::Provision, Scope::Provisioning),
            (Action::Support, Scope::Support),
        ] {
            let decision = server
                .check(&legacy.partner, &legacy.customer, action, service, "")
                .await;
            assert_eq!(
                decision.allowed,
                scopes.contains(&scope),
                "{service} {action:?}: {decision:?}"
            );
        }
        let directory = server
            .check(&legacy.partner, &legacy.customer, Action::ReadDirectory, service, "")
            .await;
        assert_decision(&directory, true, Reason::DelegatedAdmin, service);
        let billing = server
            .check(&legacy.partner, &legacy.customer, Action::ReadBilling, service, "")
            .await;
        assert_decision(&billing, false, Reason::RoleNotGranted, service);
    }
    assert_eq!(roles_of(&by_id(&legacy.revoked)), [Role::UserAdmin, Role::LicenseAdmin]);
    assert_eq!(roles_of(&by_id(&legacy.stranger_grant)), [Role::HelpdeskAdmin]);
    let support = server
        .check(&legacy.stranger, &legacy.customer, Action::Support, "azure", "")
        .await;
    assert_decision(&support, true, Reason::DelegatedAdmin, "the helper's SUPPORT");
    let provision = server
        .check(&legacy.stranger, &legacy.customer, Action::Provision, "office365", "")
        .await;
    assert!(!provision.allowed, "a revoked grant allows nothing: {provision:?}");

    // The event recorded before roles shows the roles its scopes read as.
    let events = server
        .relationships(&operator())
        .list_events(pb::ListEventsRequest {
            page_size: 10,
            ..Default::default()
        })
        .await
        .expect("events")
        .into_inner()
        .events;
    let Some(pb::event::Resource::DelegatedAdminGrant(recorded)) = events.first().and_then(|e| e.resource.clone())
    else {
        panic!("the legacy grant event: {events:?}");
    };
    assert_eq!(roles_of(&recorded), [Role::HelpdeskAdmin]);
    let stored = server.events().await;
    assert!(
        matches!(&stored[0].resource, EventResource::DelegatedAdminGrant(g) if g.roles.len() == 1),
        "{:?}",
        stored[0]
    );

    // The invitation asked for SUPPORT: its acceptance's grant is a
    // HELPDESK_ADMIN one.
    let accepted = server
        .accept(&legacy.other_customer, &legacy.invitation_code)
        .await
        .expect("the legacy invitation is accepted");
    assert_eq!(
        accepted
            .relationship_request
            .as_ref()
            .map(|r| r.delegated_admin_roles.clone()),
        Some(vec![Role::HelpdeskAdmin as i32])
    );
    let [grant] = accepted.grants.as_slice() else {
        panic!("one grant: {accepted:?}");
    };
    assert_eq!(roles_of(grant), [Role::HelpdeskAdmin]);
    assert_eq!(scopes_of(grant), scope_set(&[Scope::Support]));
    drop(server);
    drop(database);
}

// ---------------------------------------------------------------- R2

/// R2 on D1: GLOBAL_ADMIN only in a grant with an end and no auto_extend:
/// without a duration, or with auto_extend, INVALID_ARGUMENT
/// GLOBAL_ADMIN_NOT_EXTENDABLE naming the field, and nothing stored. With
/// an end it allows the five grant actions, and still never SELL (D5).
#[tokio::test]
async fn r2_global_admin_only_in_a_grant_with_an_end_and_no_auto_extend() {
    let server = TestServer::start().await;
    let (tenant, holder) = customer_and_partner(&server).await;
    let global = with_roles(&holder.id, "office365", &[Role::UserAdmin, Role::GlobalAdmin]);
    for (days, auto_extend, field) in [(0, false, "duration_days"), (30, true, "auto_extend")] {
        let status = refused_without_change(
            &server,
            grant_as(
                &server,
                &customer(&tenant.id),
                pb::GrantDelegatedAdminRequest {
                    duration_days: days,
                    auto_extend,
                    ..global.clone()
                },
            ),
            Code::InvalidArgument,
            "GLOBAL_ADMIN_NOT_EXTENDABLE",
        )
        .await;
        assert_eq!(violated_fields(&status), [field]);
    }
    let grant = granted(
        &server,
        &tenant.id,
        pb::GrantDelegatedAdminRequest {
            duration_days: 30,
            ..global
        },
    )
    .await;
    assert!(grant.end_time.is_some() && !grant.auto_extend);
    for action in GRANT_ACTIONS {
        let decision = server.check(&holder.id, &tenant.id, action, "office365", "").await;
        assert_decision(&decision, true, Reason::DelegatedAdmin, &format!("{action:?}"));
    }
    let sell = server.check(&holder.id, &tenant.id, Action::Sell, "", "").await;
    assert!(!sell.allowed, "D5: {sell:?}");
}

/// R2 on G3: a grant holding GLOBAL_ADMIN is never made to auto-extend
/// (FAILED_PRECONDITION GLOBAL_ADMIN_NOT_EXTENDABLE, nothing changed); its
/// end may move; once the role is removed (R3, in the same call) it may.
#[tokio::test]
async fn r2_g3_a_grant_with_global_admin_is_never_made_to_auto_extend() {
    let server = TestServer::start().await;
    let (tenant, holder) = customer_and_partner(&server).await;
    let grant = granted(
        &server,
        &tenant.id,
        pb::GrantDelegatedAdminRequest {
            duration_days: 10,
            ..with_roles(&holder.id, "azure", &[Role::GlobalAdmin, Role::HelpdeskAdmin])
        },
    )
    .await;
    let turn_on = pb::DelegatedAdminGrant {
        id: grant.id.clone(),
        etag: grant.etag.clone(),
        auto_extend: true,
        ..Default::default()
    };
    let status = refused_without_change(
        &server,
        update(&server, &tenant.id, turn_on.clone(), &["auto_extend"]),
        Code::FailedPrecondition,
        "GLOBAL_ADMIN_NOT_EXTENDABLE",
    )
    .await;
    assert!(status.message().contains("GLOBAL_ADMIN"), "{status:?}");
    let end = micros(&grant.end_time).expect("an end") + 20 * DAY;
    let extended = update(
        &server,
        &tenant.id,
        pb::DelegatedAdminGrant {
            end_time: ts(end),
            ..turn_on.clone()
        },
        &["end_time"],
    )
    .await
    .expect("its end moves");
    assert_eq!(micros(&extended.end_time), Some(end));
    assert!(!extended.auto_extend);
    let extending = update(
        &server,
        &tenant.id,
        pb::DelegatedAdminGrant {
            etag: extended.etag.clone(),
            roles: vec![Role::HelpdeskAdmin as i32],
            ..turn_on
        },
        &["auto_extend", "roles"],
    )
    .await
    .expect("without GLOBAL_ADMIN it may auto-extend");
    assert!(extending.auto_extend);
    assert_eq!(roles_of(&extending), [Role::HelpdeskAdmin]);
}

// ---------------------------------------------------------------- R3

/// R3: the customer's admin removes roles with the grant's etag: the
/// grant keeps the roles named (its scopes follow), its etag moves, one
/// `grant.updated` event records it, and the removed roles allow nothing
/// from the next check. The same roles again change nothing and append
/// nothing.
#[tokio::test]
async fn r3_the_customer_admin_removes_roles_and_the_grant_keeps_the_rest() {
    let server = TestServer::start().await;
    let (tenant, holder) = customer_and_partner(&server).await;
    let grant = granted(
        &server,
        &tenant.id,
        with_roles(
            &holder.id,
            "azure",
            &[Role::UserAdmin, Role::LicenseAdmin, Role::HelpdeskAdmin],
        ),
    )
    .await;
    assert!(
        server
            .check(&holder.id, &tenant.id, Action::Provision, "azure", "")
            .await
            .allowed
    );
    let before = last_seq(&server).await;
    let kept = pb::DelegatedAdminGrant {
        id: grant.id.clone(),
        etag: grant.etag.clone(),
        roles: vec![Role::HelpdeskAdmin as i32],
        ..Default::default()
    };
    let narrowed = update(&server, &tenant.id, kept.clone(), &["roles"])
        .await
        .expect("narrowed");
    assert_eq!(roles_of(&narrowed), [Role::HelpdeskAdmin]);
    assert_eq!(scopes_of(&narrowed), scope_set(&[Scope::Support]));
    assert_ne!(narrowed.etag, grant.etag);
    assert_eq!(
        (narrowed.start_time, narrowed.end_time),
        (grant.start_time, grant.end_time)
    );
    let events = server.events().await;
    let appended: Vec<_> = events.iter().filter(|e| e.seq > before).collect();
    assert_eq!(appended.len(), 1, "{appended:?}");
    assert_eq!(appended[0].event_type, "grant.updated");
    assert!(
        matches!(&appended[0].resource, EventResource::DelegatedAdminGrant(g) if g.roles.len() == 1 && g.id == grant.id)
    );
    assert_decision(
        &server
            .check(&holder.id, &tenant.id, Action::Provision, "azure", "")
            .await,
        false,
        Reason::NoDelegatedAdmin,
        "PROVISION after LICENSE_ADMIN is removed",
    );
    assert_decision(
        &server
            .check(&holder.id, &tenant.id, Action::ManageUsers, "azure", "")
            .await,
        false,
        Reason::RoleNotGranted,
        "MANAGE_USERS after USER_ADMIN is removed",
    );
    assert!(
        server
            .check(&holder.id, &tenant.id, Action::Support, "azure", "")
            .await
            .allowed
    );

    // E1: the same roles again are no change.
    let again = without_change(
        &server,
        update(
            &server,
            &tenant.id,
            pb::DelegatedAdminGrant {
                etag: narrowed.etag.clone(),
                ..kept
            },
            &["roles"],
        ),
    )
    .await
    .expect("no change");
    assert_eq!(again, narrowed);
}

/// R3: roles are only removed: a role the grant does not hold is
/// FAILED_PRECONDITION ROLE_NOT_IN_GRANT naming the roles added; no roles,
/// a repeated or unknown role is INVALID_FIELD; a stale etag ABORTED;
/// another tenant's admin and the holder are refused. Nothing changes. More
/// roles are a new D1 grant, replacing the grant in place.
#[tokio::test]
async fn r3_adding_a_role_is_role_not_in_grant_and_more_roles_are_a_new_grant() {
    let server = TestServer::start().await;
    let (tenant, holder) = customer_and_partner(&server).await;
    let (other, _) = customer_and_partner(&server).await;
    let grant = granted(
        &server,
        &tenant.id,
        with_roles(&holder.id, "azure", &[Role::HelpdeskAdmin, Role::UserAdmin]),
    )
    .await;
    let asking = |roles: &[Role]| pb::DelegatedAdminGrant {
        id: grant.id.clone(),
        etag: grant.etag.clone(),
        roles: ints(roles),
        ..Default::default()
    };
    let status = refused_without_change(
        &server,
        update(
            &server,
            &tenant.id,
            asking(&[Role::UserAdmin, Role::GlobalAdmin, Role::BillingReader]),
            &["roles"],
        ),
        Code::FailedPrecondition,
        "ROLE_NOT_IN_GRANT",
    )
    .await;
    let info = status.get_details_error_info().expect("ErrorInfo");
    assert_eq!(
        info.metadata.get("roles").map(String::as_str),
        Some("BILLING_READER,GLOBAL_ADMIN")
    );
    for (roles, field) in [
        (vec![], "grant.roles"),
        (ints(&[Role::UserAdmin, Role::UserAdmin]), "grant.roles[1]"),
        (vec![42], "grant.roles[0]"),
    ] {
        let status = refused_without_change(
            &server,
            update(
                &server,
                &tenant.id,
                pb::DelegatedAdminGrant { roles, ..asking(&[]) },
                &["roles"],
            ),
            Code::InvalidArgument,
            "INVALID_FIELD",
        )
        .await;
        assert_eq!(violated_fields(&status), [field]);
    }
    refused_without_change(
        &server,
        update(
            &server,
            &tenant.id,
            pb::DelegatedAdminGrant {
                etag: "W/\"99\"".into(),
                ..asking(&[Role::UserAdmin])
            },
            &["roles"],
        ),
        Code::Aborted,
        "ETAG_MISMATCH",
    )
    .await;
    refused_without_change(
        &server,
        update(&server, &other.id, asking(&[Role::UserAdmin]), &["roles"]),
        Code::PermissionDenied,
        "NOT_GRANT_PARTY",
    )
    .await;
    refused_without_change(
        &server,
        server
            .relationships(&partner(&holder.id))
            .update_delegated_admin(pb::UpdateDelegatedAdminRequest {
                grant: Some(asking(&[Role::UserAdmin])),
                update_mask: mask(&["roles"]),
            }),
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    )
    .await;

    // More roles: a new D1 grant, which replaces the grant in place.
    let before = last_seq(&server).await;
    let wider = granted(
        &server,
        &tenant.id,
        with_roles(
            &holder.id,
            "azure",
            &[Role::HelpdeskAdmin, Role::UserAdmin, Role::BillingReader],
        ),
    )
    .await;
    assert_eq!(wider.id, grant.id, "replaced in place");
    assert_eq!(
        roles_of(&wider),
        [Role::HelpdeskAdmin, Role::UserAdmin, Role::BillingReader]
    );
    let events = server.events().await;
    let types: Vec<&str> = events
        .iter()
        .filter(|e| e.seq > before)
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(types, ["grant.replaced"]);
    assert!(
        server
            .check(&holder.id, &tenant.id, Action::ReadBilling, "azure", "")
            .await
            .allowed
    );
}

// ---------------------------------------------------------------- R7

/// R7 without a user: READ_DIRECTORY, MANAGE_USERS and READ_BILLING are
/// allowed by a grant in force whose roles allow them (DELEGATED_ADMIN,
/// naming it); else ROLE_NOT_GRANTED while a grant for the service is in
/// force; else NO_DELEGATED_ADMIN (a relationship, or a grant for another
/// service, is not enough). A partner with no business there is
/// NO_RELATIONSHIP and a suspended one PARTNER_NOT_ACTIVE, as for every
/// action (A1). A partner asks about itself.
#[tokio::test]
async fn r7_role_actions_without_a_user_rest_on_a_grant_whose_roles_allow_them() {
    let (server, clock) = TestServer::start_with_clock().await;
    let (tenant, holder) = customer_and_partner(&server).await;
    let grant = granted(
        &server,
        &tenant.id,
        pb::GrantDelegatedAdminRequest {
            duration_days: 5,
            ..with_roles(&holder.id, "azure", &[Role::DirectoryReader])
        },
    )
    .await;
    let directory = server
        .check(&holder.id, &tenant.id, Action::ReadDirectory, "azure", "")
        .await;
    assert_decision(&directory, true, Reason::DelegatedAdmin, "READ_DIRECTORY");
    assert_eq!(directory.grant_ids, std::slice::from_ref(&grant.id));
    assert!(directory.relationship_ids.is_empty());
    for action in [Action::ManageUsers, Action::ReadBilling] {
        let decision = server.check(&holder.id, &tenant.id, action, "azure", "").await;
        assert_decision(&decision, false, Reason::RoleNotGranted, &format!("{action:?} azure"));
        assert!(decision.grant_ids.is_empty() && decision.relationship_ids.is_empty());
        let other = server.check(&holder.id, &tenant.id, action, "office365", "").await;
        assert_decision(
            &other,
            false,
            Reason::NoDelegatedAdmin,
            &format!("{action:?} office365"),
        );
    }
    // The partner asks about itself, with or without its id.
    let own = check_as(
        &server,
        &partner(&holder.id),
        pb::CheckAccessRequest {
            customer_id: tenant.id.clone(),
            action: Action::ReadDirectory as i32,
            service: "azure".into(),
            ..Default::default()
        },
    )
    .await
    .expect("answered");
    assert_eq!(own, directory);

    // A relationship without a grant: NO_DELEGATED_ADMIN.
    let related = server.create_partner(Kind::DirectReseller).await;
    let invitation = server
        .invite(&related.id, pb::RelationshipRequest::default())
        .await
        .expect("invited");
    server.accept(&tenant.id, &invitation.code).await.expect("accepted");
    let stranger = server.create_partner(Kind::DirectReseller).await;
    for action in ROLE_ACTIONS {
        let decision = server.check(&related.id, &tenant.id, action, "azure", "").await;
        assert_decision(
            &decision,
            false,
            Reason::NoDelegatedAdmin,
            &format!("{action:?} related"),
        );
        let decision = server.check(&stranger.id, &tenant.id, action, "azure", "").await;
        assert_decision(
            &decision,
            false,
            Reason::NoRelationship,
            &format!("{action:?} stranger"),
        );
    }

    // Past its end (D4, before any sweep) the grant allows nothing.
    clock.advance(5 * DAY);
    let lapsed = server
        .check(&holder.id, &tenant.id, Action::ReadDirectory, "azure", "")
        .await;
    assert_decision(&lapsed, false, Reason::NoRelationship, "past its end");

    // P4: a suspended holder is told so.
    let (tenant, holder) = customer_and_partner(&server).await;
    granted(
        &server,
        &tenant.id,
        with_roles(&holder.id, "azure", &[Role::BillingReader]),
    )
    .await;
    server.set_partner_status(&holder.id, PartnerStatus::Suspended).await;
    let suspended = server
        .check(&holder.id, &tenant.id, Action::ReadBilling, "azure", "")
        .await;
    assert_decision(&suspended, false, Reason::PartnerNotActive, "suspended");
}

/// R7, A1, A2: READ_DIRECTORY, MANAGE_USERS and READ_BILLING need a
/// service (a subscription does not stand for one): INVALID_ARGUMENT
/// naming the field, in CheckAccess and, by its index, in BatchCheckAccess.
#[tokio::test]
async fn r7_role_actions_need_a_service() {
    let server = TestServer::start().await;
    let (tenant, holder) = customer_and_partner(&server).await;
    let mut batch = Vec::new();
    for action in ROLE_ACTIONS {
        for subscription_id in [String::new(), random_id()] {
            let check = pb::CheckAccessRequest {
                partner_id: holder.id.clone(),
                customer_id: tenant.id.clone(),
                action: action as i32,
                service: String::new(),
                subscription_id,
                user_id: String::new(),
            };
            let status = check_as(&server, &service(), check.clone())
                .await
                .expect_err("a service is needed");
            assert_error(Err::<(), _>(status.clone()), Code::InvalidArgument, "INVALID_FIELD");
            assert_eq!(violated_fields(&status), ["service"], "{action:?}");
            batch.push(check);
        }
    }
    batch.insert(
        0,
        pb::CheckAccessRequest {
            partner_id: holder.id.clone(),
            customer_id: tenant.id.clone(),
            action: Action::ReadBilling as i32,
            service: "azure".into(),
            subscription_id: String::new(),
            user_id: String::new(),
        },
    );
    let status = server
        .relationships(&service())
        .batch_check_access(pb::BatchCheckAccessRequest { checks: batch })
        .await
        .expect_err("the batch is refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    let expected: BTreeSet<String> = (1..=6).map(|i| format!("checks[{i}].service")).collect();
    assert_eq!(violated(&status), expected);
}

/// R7, D5: GLOBAL_ADMIN reads billing but never allows SELL or managing a
/// subscription it is not partner of record of.
#[tokio::test]
async fn r7_d5_read_billing_only_reads() {
    let server = TestServer::start().await;
    let (seller, tenant) = reseller_with_customer(&server).await;
    let subscription = server
        .create_subscription(&partner(&seller.id), csp_subscription(&tenant.id, ""))
        .await
        .expect("sold");
    let holder = server.create_partner(Kind::DirectReseller).await;
    granted(
        &server,
        &tenant.id,
        pb::GrantDelegatedAdminRequest {
            duration_days: 30,
            ..with_roles(&holder.id, &subscription.service, &[Role::GlobalAdmin])
        },
    )
    .await;
    assert!(
        server
            .check(&holder.id, &tenant.id, Action::ReadBilling, &subscription.service, "")
            .await
            .allowed
    );
    let manage = server
        .check(&holder.id, &tenant.id, Action::ManageSubscription, "", &subscription.id)
        .await;
    assert_decision(&manage, false, Reason::NotPartnerOfRecord, "MANAGE_SUBSCRIPTION");
    let sell = server.check(&holder.id, &tenant.id, Action::Sell, "", "").await;
    assert_decision(&sell, false, Reason::NotTransacting, "SELL");
}
