//! Delegated admin privileges: D1-D5 through GrantDelegatedAdmin,
//! RevokeDelegatedAdmin, AcceptRelationshipRequest, CheckAccess and the sweep.

use std::collections::BTreeSet;

use partnercenter::api::pb;
use partnercenter::api::pb::check_access_request::Action;
use partnercenter::api::pb::check_access_response::Reason;
use partnercenter::api::pb::delegated_admin_grant::{Scope, State as GrantState};
use partnercenter::api::pb::partner::{Kind, Status as PartnerStatus};
use partnercenter::domain::clock::ManualClock;
use partnercenter::domain::model::{DelegatedAdminGrant, Event, EventResource, GrantState as ModelGrantState};
use tonic::Code;

use crate::support::*;

const BOTH: [Scope; 2] = [Scope::Provisioning, Scope::Support];
const SERVICES: [&str; 3] = ["office365", "azure", "dynamics365"];
const DAY: i64 = 86_400_000_000;
/// The ManualClock of `TestServer::start_with_clock` starts here.
const CLOCK_START: i64 = 1_800_000_000_000_000;

// ---------------------------------------------------------------- helpers

pub(crate) fn micros(time: &Option<prost_types::Timestamp>) -> Option<i64> {
    time.as_ref()
        .map(|t| t.seconds * 1_000_000 + i64::from(t.nanos) / 1_000)
}

fn request(partner_id: &str, service: &str, scopes: &[Scope]) -> pb::GrantDelegatedAdminRequest {
    pb::GrantDelegatedAdminRequest {
        partner_id: partner_id.into(),
        service: service.into(),
        scopes: scopes.iter().map(|s| *s as i32).collect(),
        ..Default::default()
    }
}

/// The customer's grants held by `partner_id` for `service`, any state.
fn grants_of(
    list: &pb::ListCustomerRelationshipsResponse,
    partner_id: &str,
    service: &str,
) -> Vec<pb::DelegatedAdminGrant> {
    list.delegated_admin_grants
        .iter()
        .filter(|g| g.partner_id == partner_id && g.service == service)
        .cloned()
        .collect()
}

/// The one grant with this id in the listing.
fn grant_by_id(list: &pb::ListCustomerRelationshipsResponse, id: &str) -> pb::DelegatedAdminGrant {
    list.delegated_admin_grants
        .iter()
        .find(|g| g.id == id)
        .cloned()
        .unwrap_or_else(|| panic!("grant {id} is not listed: {list:?}"))
}

fn state(grant: &pb::DelegatedAdminGrant) -> GrantState {
    GrantState::try_from(grant.state).expect("a known grant state")
}

fn scopes(grant: &pb::DelegatedAdminGrant) -> BTreeSet<i32> {
    grant.scopes.iter().copied().collect()
}

fn scope_set(scopes: &[Scope]) -> BTreeSet<i32> {
    scopes.iter().map(|s| *s as i32).collect()
}

/// A new DIRECT_RESELLER whose invitation (with or without DAP) the customer
/// accepted: it is transacting with the customer.
async fn transacting_reseller(
    server: &TestServer,
    customer_id: &str,
    with_dap: bool,
) -> (pb::Partner, pb::AcceptRelationshipRequestResponse) {
    let reseller = server.create_partner(Kind::DirectReseller).await;
    let invitation = server
        .invite(
            &reseller.id,
            pb::RelationshipRequest {
                include_delegated_admin: with_dap,
                ..Default::default()
            },
        )
        .await
        .expect("invitation created");
    let accepted = server
        .accept(customer_id, &invitation.code)
        .await
        .expect("the customer accepts");
    (reseller, accepted)
}

/// The grants recorded by events of this type.
fn grant_events(events: &[Event], event_type: &str) -> Vec<DelegatedAdminGrant> {
    events
        .iter()
        .filter(|e| e.event_type == event_type)
        .filter_map(|e| match &e.resource {
            EventResource::DelegatedAdminGrant(g) => Some(g.clone()),
            _ => None,
        })
        .collect()
}

/// The partners holding an ACTIVE grant for `service` on the customer that
/// are transacting with it (CheckAccess SELL allows them).
async fn active_transacting_holders(server: &TestServer, customer_id: &str, service: &str) -> Vec<String> {
    let list = relationships_listing(server, &customer(customer_id), customer_id).await;
    let mut holders = Vec::new();
    for grant in list
        .delegated_admin_grants
        .iter()
        .filter(|g| g.service == service && state(g) == GrantState::Active)
    {
        if server
            .check(&grant.partner_id, customer_id, Action::Sell, "", "")
            .await
            .allowed
        {
            holders.push(grant.partner_id.clone());
        }
    }
    holders
}

async fn provision_allowed(server: &TestServer, partner_id: &str, customer_id: &str, service: &str) -> bool {
    server
        .check(partner_id, customer_id, Action::Provision, service, "")
        .await
        .allowed
}

/// A server on a ManualClock whose background sweeper has done its first
/// (immediate) tick: its next one is a minute away, so only the test's own
/// sweeps record expiries. Without the pause that first sweep, starved by
/// the test's writes, can run after the clock has moved.
async fn start_with_clock_and_idle_sweeper() -> (TestServer, std::sync::Arc<ManualClock>) {
    let (server, clock) = TestServer::start_with_clock().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    (server, clock)
}

// ---------------------------------------------------------------- D1

#[tokio::test]
async fn d1_customer_admin_grants_dap_to_an_active_partner_and_the_reply_holds_the_grant() {
    let (server, _clock) = TestServer::start_with_clock().await;
    let (_, created) = reseller_with_customer(&server).await;
    // A partner with no business with the customer yet.
    let helper = server.create_partner(Kind::DirectReseller).await;
    assert!(
        !server
            .check(&helper.id, &created.id, Action::View, "", "")
            .await
            .allowed
    );

    let reply = server
        .grant(&created.id, &helper.id, "azure", &[Scope::Provisioning])
        .await
        .expect("the customer admin grants DAP");
    let grant = reply.grant.clone().expect("the reply holds the grant");
    assert!(uuid::Uuid::parse_str(&grant.id).is_ok(), "{grant:?}");
    assert_eq!(grant.customer_id, created.id);
    assert_eq!(grant.partner_id, helper.id);
    assert_eq!(grant.service, "azure");
    assert_eq!(scopes(&grant), scope_set(&[Scope::Provisioning]));
    assert_eq!(state(&grant), GrantState::Active);
    assert_eq!(micros(&grant.start_time), Some(CLOCK_START));
    assert_eq!(grant.end_time, None, "no duration: no expiry");
    assert!(!grant.auto_extend);
    assert!(reply.superseded_grants.is_empty(), "{reply:?}");

    // Listed for the customer, with its event.
    assert_eq!(
        grant_by_id(
            &relationships_listing(&server, &customer(&created.id), &created.id).await,
            &grant.id
        ),
        grant
    );
    let events = server.events().await;
    let created_events: Vec<_> = grant_events(&events, "grant.created")
        .into_iter()
        .filter(|g| g.id == grant.id)
        .collect();
    assert_eq!(created_events.len(), 1, "{created_events:?}");
    assert_eq!(events.last().expect("events").resource.subject_id(), grant.id);

    // It authorizes what it says and nothing more.
    let view = server.check(&helper.id, &created.id, Action::View, "", "").await;
    assert!(view.allowed, "{view:?}");
    assert_eq!(view.reason, Reason::DelegatedAdmin as i32);
    assert_eq!(view.grant_ids, vec![grant.id.clone()]);
    let provision = server
        .check(&helper.id, &created.id, Action::Provision, "azure", "")
        .await;
    assert!(provision.allowed, "{provision:?}");
    assert_eq!(provision.reason, Reason::DelegatedAdmin as i32);
    assert_eq!(provision.grant_ids, vec![grant.id.clone()]);
    let support = server
        .check(&helper.id, &created.id, Action::Support, "azure", "")
        .await;
    assert!(!support.allowed, "PROVISIONING only: {support:?}");
    assert_eq!(support.reason, Reason::NoDelegatedAdmin as i32);
    let other_service = server
        .check(&helper.id, &created.id, Action::Provision, "office365", "")
        .await;
    assert!(!other_service.allowed, "{other_service:?}");
}

#[tokio::test]
async fn d1_any_active_partner_that_is_not_an_advisor_may_receive_dap() {
    let server = TestServer::start().await;
    let (_, created) = reseller_with_customer(&server).await;
    for kind in [Kind::DirectReseller, Kind::IndirectProvider, Kind::IndirectReseller] {
        let grantee = server.create_partner(kind).await;
        let reply = server
            .grant(&created.id, &grantee.id, "dynamics365", &BOTH)
            .await
            .unwrap_or_else(|e| panic!("a {kind:?} receives DAP: {e:?}"));
        let grant = reply.grant.expect("grant");
        assert_eq!(grant.partner_id, grantee.id);
        assert_eq!(scopes(&grant), scope_set(&BOTH));
        assert!(reply.superseded_grants.is_empty(), "{kind:?} is not transacting");
        for action in [Action::Provision, Action::Support] {
            let decision = server.check(&grantee.id, &created.id, action, "dynamics365", "").await;
            assert!(decision.allowed, "{kind:?} {action:?}: {decision:?}");
            assert_eq!(decision.grant_ids, vec![grant.id.clone()]);
        }
    }
}

#[tokio::test]
async fn d1_a_duration_of_1_to_730_days_sets_the_end_time_and_0_means_no_expiry() {
    let (server, _clock) = TestServer::start_with_clock().await;
    let (_, created) = reseller_with_customer(&server).await;
    for (days, auto_extend) in [(1, false), (730, false), (30, true), (0, false)] {
        let grantee = server.create_partner(Kind::DirectReseller).await;
        let reply = grant_as(
            &server,
            &customer(&created.id),
            pb::GrantDelegatedAdminRequest {
                duration_days: days,
                auto_extend,
                ..request(&grantee.id, "office365", &BOTH)
            },
        )
        .await
        .unwrap_or_else(|e| panic!("{days} days: {e:?}"));
        let grant = reply.grant.expect("grant");
        assert_eq!(micros(&grant.start_time), Some(CLOCK_START));
        let expected_end = (days > 0).then(|| CLOCK_START + i64::from(days) * DAY);
        assert_eq!(micros(&grant.end_time), expected_end, "{days} days");
        assert_eq!(grant.auto_extend, auto_extend);
        let listed = grant_by_id(
            &relationships_listing(&server, &customer(&created.id), &created.id).await,
            &grant.id,
        );
        assert_eq!(micros(&listed.end_time), expected_end);
    }
}

#[tokio::test]
async fn d1_a_duration_out_of_range_or_auto_extend_without_duration_is_invalid_argument() {
    let server = TestServer::start().await;
    let (_, created) = reseller_with_customer(&server).await;
    let grantee = server.create_partner(Kind::DirectReseller).await;
    for (days, auto_extend, field) in [
        (731, false, "duration_days"),
        (-1, false, "duration_days"),
        (i32::MAX, true, "duration_days"),
        (0, true, "auto_extend"),
    ] {
        let status = refused_without_change(
            &server,
            grant_as(
                &server,
                &customer(&created.id),
                pb::GrantDelegatedAdminRequest {
                    duration_days: days,
                    auto_extend,
                    ..request(&grantee.id, "office365", &BOTH)
                },
            ),
            Code::InvalidArgument,
            "INVALID_FIELD",
        )
        .await;
        assert_eq!(
            violated_fields(&status),
            vec![field.to_string()],
            "{days} {auto_extend}"
        );
    }
    assert!(!provision_allowed(&server, &grantee.id, &created.id, "office365").await);
}

#[tokio::test]
async fn d1_a_grant_names_a_partner_a_known_service_and_known_scopes() {
    let server = TestServer::start().await;
    let (_, created) = reseller_with_customer(&server).await;
    let grantee = server.create_partner(Kind::DirectReseller).await;
    let cases: Vec<(pb::GrantDelegatedAdminRequest, Vec<&str>)> = vec![
        (request("", "office365", &BOTH), vec!["partner_id"]),
        (request("not-an-id", "office365", &BOTH), vec!["partner_id"]),
        (request(&grantee.id, "", &BOTH), vec!["service"]),
        (request(&grantee.id, "exchange", &BOTH), vec!["service"]),
        (request(&grantee.id, "office365", &[]), vec!["scopes"]),
        (
            pb::GrantDelegatedAdminRequest {
                scopes: vec![Scope::Unspecified as i32],
                ..request(&grantee.id, "office365", &[])
            },
            vec!["scopes[0]"],
        ),
        (
            pb::GrantDelegatedAdminRequest {
                scopes: vec![Scope::Support as i32, 99],
                ..request(&grantee.id, "office365", &[])
            },
            vec!["scopes[1]"],
        ),
        (request("", "", &[]), vec!["partner_id", "service", "scopes"]),
    ];
    for (bad, fields) in cases {
        let status = refused_without_change(
            &server,
            grant_as(&server, &customer(&created.id), bad.clone()),
            Code::InvalidArgument,
            "INVALID_FIELD",
        )
        .await;
        let violated: BTreeSet<String> = violated_fields(&status).into_iter().collect();
        let expected: BTreeSet<String> = fields.iter().map(|f| f.to_string()).collect();
        assert_eq!(violated, expected, "{bad:?}");
    }
}

#[tokio::test]
async fn d1_an_advisor_is_permission_denied_partner_kind_not_allowed() {
    let server = TestServer::start().await;
    let (_, created) = reseller_with_customer(&server).await;
    let advisor = server.create_partner(Kind::Advisor).await;
    refused_without_change(
        &server,
        server.grant(&created.id, &advisor.id, "office365", &BOTH),
        Code::PermissionDenied,
        "PARTNER_KIND_NOT_ALLOWED",
    )
    .await;
    assert!(
        grants_of(
            &relationships_listing(&server, &customer(&created.id), &created.id).await,
            &advisor.id,
            "office365"
        )
        .is_empty(),
        "no grant recorded"
    );
}

#[tokio::test]
async fn d1_w2_a_suspended_partner_is_refused_as_an_unknown_one() {
    let server = TestServer::start().await;
    let (_, created) = reseller_with_customer(&server).await;
    let grantee = server.create_partner(Kind::DirectReseller).await;
    server.set_partner_status(&grantee.id, PartnerStatus::Suspended).await;
    // A customer admin reads only ACTIVE partners (P5): the refusal tells
    // it nothing more than an unknown id would.
    let suspended = refused_without_change(
        &server,
        server.grant(&created.id, &grantee.id, "office365", &BOTH),
        Code::PermissionDenied,
        "PARTNER_NOT_VISIBLE",
    )
    .await;
    let unknown = without_change(
        &server,
        server.grant(&created.id, &uuid::Uuid::now_v7().to_string(), "office365", &BOTH),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (suspended.code(), suspended.message(), suspended.details()),
        (unknown.code(), unknown.message(), unknown.details())
    );

    // Reinstated, it may receive DAP again.
    server.set_partner_status(&grantee.id, PartnerStatus::Active).await;
    server
        .grant(&created.id, &grantee.id, "office365", &BOTH)
        .await
        .expect("an ACTIVE partner receives DAP");
}

#[tokio::test]
async fn d1_partners_the_operator_and_services_may_not_grant_dap() {
    let server = TestServer::start().await;
    let (reseller, created) = reseller_with_customer(&server).await;
    let other = server.create_partner(Kind::DirectReseller).await;
    let attempts = [
        // A partner can never grant DAP, to itself or to another.
        (partner(&reseller.id), reseller.id.clone()),
        (partner(&reseller.id), other.id.clone()),
        (partner(&other.id), other.id.clone()),
        (operator(), other.id.clone()),
        (service(), other.id.clone()),
    ];
    for (who, grantee) in attempts {
        refused_without_change(
            &server,
            grant_as(
                &server,
                &who,
                pb::GrantDelegatedAdminRequest {
                    customer_id: created.id.clone(),
                    ..request(&grantee, "office365", &BOTH)
                },
            ),
            Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
        )
        .await;
    }
    assert!(!provision_allowed(&server, &other.id, &created.id, "office365").await);
}

#[tokio::test]
async fn d1_a_customer_admin_grants_only_on_its_own_tenant() {
    let server = TestServer::start().await;
    let (_, mine) = reseller_with_customer(&server).await;
    let (_, theirs) = reseller_with_customer(&server).await;
    let grantee = server.create_partner(Kind::DirectReseller).await;
    refused_without_change(
        &server,
        grant_as(
            &server,
            &customer(&mine.id),
            pb::GrantDelegatedAdminRequest {
                customer_id: theirs.id.clone(),
                ..request(&grantee.id, "office365", &BOTH)
            },
        ),
        Code::PermissionDenied,
        "TENANT_MISMATCH",
    )
    .await;
    assert!(
        !server
            .check(&grantee.id, &theirs.id, Action::View, "", "")
            .await
            .allowed
    );

    // Naming its own tenant is the same as leaving it out.
    let reply = grant_as(
        &server,
        &customer(&mine.id),
        pb::GrantDelegatedAdminRequest {
            customer_id: mine.id.clone(),
            ..request(&grantee.id, "office365", &BOTH)
        },
    )
    .await
    .expect("its own tenant");
    assert_eq!(reply.grant.expect("grant").customer_id, mine.id);
}

#[tokio::test]
async fn d1_a_new_grant_for_a_service_the_partner_holds_replaces_its_own_in_place() {
    let (server, clock) = TestServer::start_with_clock().await;
    let (_, created) = reseller_with_customer(&server).await;
    let helper = server.create_partner(Kind::DirectReseller).await;
    let first = server
        .grant(&created.id, &helper.id, "office365", &[Scope::Provisioning])
        .await
        .expect("first grant")
        .grant
        .expect("grant");
    clock.advance(DAY);
    let events_before = server.events().await.len();

    let reply = grant_as(
        &server,
        &customer(&created.id),
        pb::GrantDelegatedAdminRequest {
            duration_days: 10,
            ..request(&helper.id, "office365", &[Scope::Support])
        },
    )
    .await
    .expect("second grant");
    let second = reply.grant.expect("grant");
    assert_eq!(second.id, first.id, "replaced in place");
    assert_eq!(scopes(&second), scope_set(&[Scope::Support]), "the new scopes");
    assert_eq!(state(&second), GrantState::Active);
    assert_eq!(micros(&second.end_time), Some(CLOCK_START + DAY + 10 * DAY));
    assert!(reply.superseded_grants.is_empty(), "its own grant is not superseded");

    let list = relationships_listing(&server, &customer(&created.id), &created.id).await;
    let held = grants_of(&list, &helper.id, "office365");
    assert_eq!(held.len(), 1, "one grant, not two: {held:?}");
    assert_eq!(held[0], second);
    let new_events = &server.events().await[events_before..];
    assert_eq!(new_events.len(), 1, "{new_events:?}");
    assert_eq!(new_events[0].resource.subject_id(), first.id);

    let provision = server
        .check(&helper.id, &created.id, Action::Provision, "office365", "")
        .await;
    assert!(!provision.allowed, "PROVISIONING was replaced: {provision:?}");
    let support = server
        .check(&helper.id, &created.id, Action::Support, "office365", "")
        .await;
    assert!(support.allowed, "{support:?}");
    assert_eq!(support.grant_ids, vec![first.id.clone()]);
}

#[tokio::test]
async fn d1_a_grant_retried_with_the_same_request_id_returns_the_first_grant() {
    let server = TestServer::start().await;
    let (_, created) = reseller_with_customer(&server).await;
    let helper = server.create_partner(Kind::DirectReseller).await;
    let retried = pb::GrantDelegatedAdminRequest {
        request_id: partnercenter::store::new_id(),
        ..request(&helper.id, "azure", &BOTH)
    };
    let first = grant_as(&server, &customer(&created.id), retried.clone())
        .await
        .expect("first")
        .grant
        .expect("grant");
    let events_after_first = server.events().await.len();
    let again = grant_as(&server, &customer(&created.id), retried)
        .await
        .expect("retry")
        .grant
        .expect("grant");
    assert_eq!(again, first);
    assert_eq!(
        server.events().await.len(),
        events_after_first,
        "the retry changes nothing"
    );
}

// ---------------------------------------------------------------- D2

#[tokio::test]
async fn d2_a_grant_to_a_second_transacting_partner_supersedes_the_first_for_that_service_only() {
    let server = TestServer::start().await;
    let (first, created) = reseller_with_customer(&server).await;
    // An accepted invitation without DAP: R2 transacts but holds nothing.
    let (second, accepted) = transacting_reseller(&server, &created.id, false).await;
    assert!(
        accepted.grants.is_empty() && accepted.superseded_grants.is_empty(),
        "{accepted:?}"
    );
    assert!(
        server
            .check(&second.id, &created.id, Action::Sell, "", "")
            .await
            .allowed
    );
    let before = relationships_listing(&server, &customer(&created.id), &created.id).await;
    let first_office = grants_of(&before, &first.id, "office365");
    assert_eq!(first_office.len(), 1, "C1 gave R1 office365: {before:?}");
    let first_office = first_office[0].clone();

    let reply = server
        .grant(&created.id, &second.id, "office365", &BOTH)
        .await
        .expect("grant to R2");
    let granted = reply.grant.expect("grant");
    assert_eq!(reply.superseded_grants.len(), 1, "{:?}", reply.superseded_grants);
    let superseded = &reply.superseded_grants[0];
    assert_eq!(superseded.id, first_office.id);
    assert_eq!(superseded.partner_id, first.id);
    assert_eq!(superseded.service, "office365");
    assert_eq!(state(superseded), GrantState::Superseded);

    let after = relationships_listing(&server, &customer(&created.id), &created.id).await;
    assert_eq!(state(&grant_by_id(&after, &first_office.id)), GrantState::Superseded);
    assert_eq!(state(&grant_by_id(&after, &granted.id)), GrantState::Active);
    for service in ["azure", "dynamics365"] {
        let kept = grants_of(&after, &first.id, service);
        assert_eq!(kept.len(), 1);
        assert_eq!(state(&kept[0]), GrantState::Active, "{service} is untouched");
        assert!(provision_allowed(&server, &first.id, &created.id, service).await);
    }

    let events = server.events().await;
    let superseded_events: Vec<_> = grant_events(&events, "grant.superseded");
    assert_eq!(superseded_events.len(), 1, "{superseded_events:?}");
    assert_eq!(superseded_events[0].id, first_office.id);
    assert_eq!(superseded_events[0].state, ModelGrantState::Superseded);

    let denied = server
        .check(&first.id, &created.id, Action::Provision, "office365", "")
        .await;
    assert!(!denied.allowed, "{denied:?}");
    assert_eq!(denied.reason, Reason::NoDelegatedAdmin as i32);
    let allowed = server
        .check(&second.id, &created.id, Action::Provision, "office365", "")
        .await;
    assert!(allowed.allowed, "{allowed:?}");
    assert_eq!(allowed.grant_ids, vec![granted.id.clone()]);
    // R1 keeps its relationship and still transacts.
    assert!(server.check(&first.id, &created.id, Action::Sell, "", "").await.allowed);
    assert_eq!(
        active_transacting_holders(&server, &created.id, "office365").await,
        vec![second.id.clone()]
    );
}

#[tokio::test]
async fn d2_a_grant_to_a_non_transacting_partner_supersedes_nothing_and_both_hold_it() {
    let server = TestServer::start().await;
    let (first, created) = reseller_with_customer(&server).await;
    // A reseller hired only to support: no relationship with the customer.
    let hired = server.create_partner(Kind::DirectReseller).await;
    let events_before = server.events().await.len();

    let reply = server
        .grant(&created.id, &hired.id, "office365", &BOTH)
        .await
        .expect("grant to a non-transacting partner");
    assert!(reply.superseded_grants.is_empty(), "{reply:?}");
    let hired_grant = reply.grant.expect("grant");

    let list = relationships_listing(&server, &customer(&created.id), &created.id).await;
    let first_office = grants_of(&list, &first.id, "office365");
    assert_eq!(first_office.len(), 1);
    assert_eq!(state(&first_office[0]), GrantState::Active);
    assert_eq!(state(&grant_by_id(&list, &hired_grant.id)), GrantState::Active);
    assert!(provision_allowed(&server, &first.id, &created.id, "office365").await);
    assert!(provision_allowed(&server, &hired.id, &created.id, "office365").await);
    let sell = server.check(&hired.id, &created.id, Action::Sell, "", "").await;
    assert!(!sell.allowed, "DAP alone does not transact: {sell:?}");
    assert!(
        grant_events(&server.events().await[events_before..], "grant.superseded").is_empty(),
        "nothing superseded"
    );

    // Several non-transacting holders are not limited either.
    let another = server.create_partner(Kind::IndirectReseller).await;
    let reply = server
        .grant(&created.id, &another.id, "office365", &[Scope::Support])
        .await
        .expect("a second non-transacting holder");
    assert!(reply.superseded_grants.is_empty());
    for holder in [&first.id, &hired.id, &another.id] {
        let support = server
            .check(holder, &created.id, Action::Support, "office365", "")
            .await;
        assert!(support.allowed, "{holder}: {support:?}");
    }
}

#[tokio::test]
async fn d2_an_accepted_invitation_with_dap_from_a_direct_reseller_supersedes_the_earlier_holder() {
    let server = TestServer::start().await;
    let (first, created) = reseller_with_customer(&server).await;
    let earlier: Vec<pb::DelegatedAdminGrant> = relationships_listing(&server, &customer(&created.id), &created.id)
        .await
        .delegated_admin_grants
        .into_iter()
        .filter(|g| g.partner_id == first.id)
        .collect();
    assert_eq!(earlier.len(), 3, "C1: one grant per service");

    let (second, accepted) = transacting_reseller(&server, &created.id, true).await;
    assert_eq!(accepted.grants.len(), 3, "{accepted:?}");
    assert!(accepted.grants.iter().all(|g| g.partner_id == second.id));
    let superseded_ids: BTreeSet<&str> = accepted.superseded_grants.iter().map(|g| g.id.as_str()).collect();
    let earlier_ids: BTreeSet<&str> = earlier.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(superseded_ids, earlier_ids, "the reply names every superseded grant");
    assert!(
        accepted
            .superseded_grants
            .iter()
            .all(|g| state(g) == GrantState::Superseded && g.partner_id == first.id)
    );

    let list = relationships_listing(&server, &customer(&created.id), &created.id).await;
    let events = server.events().await;
    let superseded_events: BTreeSet<String> = grant_events(&events, "grant.superseded")
        .into_iter()
        .map(|g| g.id)
        .collect();
    for grant in &earlier {
        assert_eq!(state(&grant_by_id(&list, &grant.id)), GrantState::Superseded);
        assert!(superseded_events.contains(&grant.id), "event for {}", grant.id);
    }
    for service in SERVICES {
        assert!(!provision_allowed(&server, &first.id, &created.id, service).await);
        assert!(provision_allowed(&server, &second.id, &created.id, service).await);
        assert_eq!(
            active_transacting_holders(&server, &created.id, service).await,
            vec![second.id.clone()]
        );
    }
}

#[tokio::test]
async fn d2_a_holder_that_becomes_transacting_leaves_one_transacting_holder() {
    let server = TestServer::start().await;
    let (first, created) = reseller_with_customer(&server).await;
    // R2 first holds office365 without transacting: both hold it.
    let second = server.create_partner(Kind::DirectReseller).await;
    let reply = server
        .grant(&created.id, &second.id, "office365", &BOTH)
        .await
        .expect("grant");
    assert!(reply.superseded_grants.is_empty());
    assert_eq!(
        active_transacting_holders(&server, &created.id, "office365").await,
        vec![first.id.clone()]
    );
    let events_before = server.events().await.len();

    // Then its invitation (without DAP) is accepted: it transacts.
    let invitation = server
        .invite(&second.id, pb::RelationshipRequest::default())
        .await
        .expect("invitation");
    let accepted = server.accept(&created.id, &invitation.code).await.expect("accepted");
    assert!(
        server
            .check(&second.id, &created.id, Action::Sell, "", "")
            .await
            .allowed
    );

    let holders = active_transacting_holders(&server, &created.id, "office365").await;
    assert_eq!(holders.len(), 1, "one transacting holder per service: {holders:?}");
    let superseded = grant_events(&server.events().await[events_before..], "grant.superseded");
    assert_eq!(superseded.len(), 1, "{superseded:?}");
    assert_eq!(superseded[0].service.as_str(), "office365");
    assert_eq!(
        accepted.superseded_grants.iter().map(|g| &g.id).collect::<Vec<_>>(),
        vec![&superseded[0].id]
    );
    // Azure and Dynamics 365 had one holder and keep it.
    for service in ["azure", "dynamics365"] {
        assert_eq!(
            active_transacting_holders(&server, &created.id, service).await,
            vec![first.id.clone()]
        );
    }
}

/// A provider's customer whose named reseller holds the DAP (C1), the
/// reseller made non-transacting by `interrupt`, and a transacting direct
/// reseller granted office365 meanwhile: both hold it until `restore` makes
/// the indirect reseller transact again, which must leave one.
async fn chain_restored_leaves_one_holder(interrupt: Interrupt) {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;
    let created = server
        .create_customer(&partner(&provider.id), Some(&reseller.id))
        .await
        .expect("customer for the reseller");
    assert_eq!(
        active_transacting_holders(&server, &created.id, "office365").await,
        vec![reseller.id.clone()]
    );

    match interrupt {
        Interrupt::Unlink => {
            server.unlink(&provider.id, &reseller.id).await;
        }
        Interrupt::SuspendProvider => {
            server.set_partner_status(&provider.id, PartnerStatus::Suspended).await;
        }
    }
    assert!(
        !server
            .check(&reseller.id, &created.id, Action::Sell, "", "")
            .await
            .allowed
    );

    let (direct, _) = transacting_reseller(&server, &created.id, false).await;
    let reply = server
        .grant(&created.id, &direct.id, "office365", &BOTH)
        .await
        .expect("grant to the direct reseller");
    assert!(
        reply.superseded_grants.is_empty(),
        "the indirect reseller is not transacting now: {reply:?}"
    );
    let events_before = server.events().await.len();

    match interrupt {
        Interrupt::Unlink => {
            server.link(&provider.id, &reseller.id).await;
        }
        Interrupt::SuspendProvider => {
            server.set_partner_status(&provider.id, PartnerStatus::Active).await;
        }
    }
    assert!(
        server
            .check(&reseller.id, &created.id, Action::Sell, "", "")
            .await
            .allowed
    );
    let holders = active_transacting_holders(&server, &created.id, "office365").await;
    assert_eq!(holders.len(), 1, "one transacting holder per service: {holders:?}");
    let superseded = grant_events(&server.events().await[events_before..], "grant.superseded");
    assert_eq!(superseded.len(), 1, "{superseded:?}");
    for service in ["azure", "dynamics365"] {
        assert_eq!(
            active_transacting_holders(&server, &created.id, service).await,
            vec![reseller.id.clone()]
        );
    }
}

#[derive(Clone, Copy)]
enum Interrupt {
    Unlink,
    SuspendProvider,
}

#[tokio::test]
async fn d2_an_indirect_reseller_relinked_transacts_again_and_leaves_one_transacting_holder() {
    chain_restored_leaves_one_holder(Interrupt::Unlink).await;
}

#[tokio::test]
async fn d2_a_reinstated_provider_makes_its_reseller_transact_and_leaves_one_transacting_holder() {
    chain_restored_leaves_one_holder(Interrupt::SuspendProvider).await;
}

#[tokio::test]
async fn d2_a_suspended_transacting_holder_reinstated_leaves_one_transacting_holder() {
    let server = TestServer::start().await;
    let (first, created) = reseller_with_customer(&server).await;
    let (second, _) = transacting_reseller(&server, &created.id, false).await;
    // R1 keeps its ACTIVE RESELLER relationship while suspended (P3).
    server.set_partner_status(&first.id, PartnerStatus::Suspended).await;
    server
        .grant(&created.id, &second.id, "office365", &BOTH)
        .await
        .expect("grant to R2");
    server.set_partner_status(&first.id, PartnerStatus::Active).await;

    assert!(server.check(&first.id, &created.id, Action::Sell, "", "").await.allowed);
    assert!(
        server
            .check(&second.id, &created.id, Action::Sell, "", "")
            .await
            .allowed
    );
    let holders = active_transacting_holders(&server, &created.id, "office365").await;
    assert_eq!(
        holders.len(),
        1,
        "at most one transacting partner holds ACTIVE DAP per customer and service: {holders:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn d2_concurrent_grants_to_transacting_partners_leave_exactly_one_active_holder() {
    const PARTNERS: usize = 12;
    let server = TestServer::start().await;
    let (first, created) = reseller_with_customer(&server).await;
    let mut contenders = Vec::new();
    for _ in 0..PARTNERS {
        contenders.push(transacting_reseller(&server, &created.id, false).await.0);
    }

    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(PARTNERS));
    let mut tasks = Vec::new();
    for contender in &contenders {
        let mut client = server.relationships(&customer(&created.id));
        let body = request(&contender.id, "office365", &BOTH);
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            client.grant_delegated_admin(body).await.map(|r| r.into_inner())
        }));
    }
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.expect("task").expect("every grant succeeds"));
    }

    let list = relationships_listing(&server, &customer(&created.id), &created.id).await;
    let office: Vec<&pb::DelegatedAdminGrant> = list
        .delegated_admin_grants
        .iter()
        .filter(|g| g.service == "office365")
        .collect();
    assert_eq!(
        office.len(),
        PARTNERS + 1,
        "R1's grant and one per contender: {office:?}"
    );
    let active: Vec<&&pb::DelegatedAdminGrant> = office.iter().filter(|g| state(g) == GrantState::Active).collect();
    assert_eq!(active.len(), 1, "exactly one ACTIVE holder: {office:?}");
    let winner = active[0].partner_id.clone();
    assert!(contenders.iter().any(|c| c.id == winner));
    assert!(
        office
            .iter()
            .filter(|g| g.partner_id != winner)
            .all(|g| state(g) == GrantState::Superseded),
        "the others are SUPERSEDED: {office:?}"
    );
    assert_eq!(
        active_transacting_holders(&server, &created.id, "office365").await,
        vec![winner.clone()]
    );

    let mut allowed = Vec::new();
    for id in std::iter::once(&first.id).chain(contenders.iter().map(|c| &c.id)) {
        if provision_allowed(&server, id, &created.id, "office365").await {
            allowed.push(id.clone());
        }
    }
    assert_eq!(allowed, vec![winner.clone()], "PROVISION for exactly one");

    // Each grant was superseded once, by a reply that names it, with its event.
    let mut named: Vec<String> = replies
        .iter()
        .flat_map(|r| r.superseded_grants.iter().map(|g| g.id.clone()))
        .collect();
    named.sort();
    let mut expected: Vec<String> = office
        .iter()
        .filter(|g| g.partner_id != winner)
        .map(|g| g.id.clone())
        .collect();
    expected.sort();
    assert_eq!(named, expected);
    let mut events: Vec<String> = grant_events(&server.events().await, "grant.superseded")
        .into_iter()
        .map(|g| g.id)
        .collect();
    events.sort();
    assert_eq!(events, expected);
    // Other services were not touched.
    assert_eq!(
        active_transacting_holders(&server, &created.id, "azure").await,
        vec![first.id.clone()]
    );
}

// ---------------------------------------------------------------- D3

#[tokio::test]
async fn d3_the_customer_admin_revokes_any_grant_on_its_tenant() {
    let server = TestServer::start().await;
    let (first, created) = reseller_with_customer(&server).await;
    let helper = server.create_partner(Kind::DirectReseller).await;
    let helper_grant = server
        .grant(&created.id, &helper.id, "azure", &BOTH)
        .await
        .expect("grant")
        .grant
        .expect("grant");
    // A grant C1 made, and one the admin made itself.
    let creator_grant = grants_of(
        &relationships_listing(&server, &customer(&created.id), &created.id).await,
        &first.id,
        "office365",
    )[0]
    .clone();
    for (grant, service) in [(&creator_grant, "office365"), (&helper_grant, "azure")] {
        assert!(provision_allowed(&server, &grant.partner_id, &created.id, service).await);
        let events_before = server.events().await.len();
        let revoked = revoke_grant_as(&server, &customer(&created.id), &grant.id)
            .await
            .expect("the customer admin revokes");
        assert_eq!(revoked.id, grant.id);
        assert_eq!(state(&revoked), GrantState::Revoked);
        assert_eq!(
            state(&grant_by_id(
                &relationships_listing(&server, &customer(&created.id), &created.id).await,
                &grant.id
            )),
            GrantState::Revoked
        );
        let new_events = &server.events().await[events_before..];
        assert_eq!(new_events.len(), 1, "{new_events:?}");
        assert_eq!(new_events[0].event_type, "grant.revoked");
        assert_eq!(new_events[0].resource.subject_id(), grant.id);

        let denied = server
            .check(&grant.partner_id, &created.id, Action::Provision, service, "")
            .await;
        assert!(!denied.allowed, "{denied:?}");
        // R1 still has its relationship; the helper has nothing left here.
        let expected = if grant.partner_id == first.id {
            Reason::NoDelegatedAdmin
        } else {
            Reason::NoRelationship
        };
        assert_eq!(denied.reason, expected as i32);
        let support = server
            .check(&grant.partner_id, &created.id, Action::Support, service, "")
            .await;
        assert!(!support.allowed, "{support:?}");
    }
    // The helper had nothing else: it no longer sees the customer.
    let view = server.check(&helper.id, &created.id, Action::View, "", "").await;
    assert!(!view.allowed);
    assert_eq!(view.reason, Reason::NoRelationship as i32);

    // Revoking again changes nothing and appends no event.
    let again = without_change(
        &server,
        revoke_grant_as(&server, &customer(&created.id), &helper_grant.id),
    )
    .await
    .expect("revoking again");
    assert_eq!(state(&again), GrantState::Revoked);
}

#[tokio::test]
async fn d3_the_holder_gives_up_its_own_grant() {
    let server = TestServer::start().await;
    let (first, created) = reseller_with_customer(&server).await;
    let helper = server.create_partner(Kind::IndirectReseller).await;
    let helper_grant = server
        .grant(&created.id, &helper.id, "dynamics365", &BOTH)
        .await
        .expect("grant")
        .grant
        .expect("grant");
    let creator_grant = grants_of(
        &relationships_listing(&server, &customer(&created.id), &created.id).await,
        &first.id,
        "azure",
    )[0]
    .clone();
    for (holder, grant) in [(&helper.id, &helper_grant), (&first.id, &creator_grant)] {
        let revoked = revoke_grant_as(&server, &partner(holder), &grant.id)
            .await
            .expect("the holder gives up its grant");
        assert_eq!(state(&revoked), GrantState::Revoked);
        assert!(!provision_allowed(&server, holder, &created.id, &grant.service).await);
    }
    // R1 still holds its other grants and its relationship.
    assert!(provision_allowed(&server, &first.id, &created.id, "office365").await);
    assert!(server.check(&first.id, &created.id, Action::Sell, "", "").await.allowed);
}

#[tokio::test]
async fn d3_another_partner_may_not_revoke_a_grant() {
    let server = TestServer::start().await;
    let (first, created) = reseller_with_customer(&server).await;
    let (second, _) = transacting_reseller(&server, &created.id, false).await;
    let stranger = server.create_partner(Kind::DirectReseller).await;
    let grant = grants_of(
        &relationships_listing(&server, &customer(&created.id), &created.id).await,
        &first.id,
        "office365",
    )[0]
    .clone();
    for other in [&second.id, &stranger.id] {
        let status = without_change(&server, revoke_grant_as(&server, &partner(other), &grant.id))
            .await
            .expect_err("another partner's grant");
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
        reason(&status);
    }
    assert_eq!(
        state(&grant_by_id(
            &relationships_listing(&server, &customer(&created.id), &created.id).await,
            &grant.id
        )),
        GrantState::Active
    );
    assert!(provision_allowed(&server, &first.id, &created.id, "office365").await);
}

#[tokio::test]
async fn d3_another_customers_admin_may_not_revoke_a_grant() {
    let server = TestServer::start().await;
    let (first, created) = reseller_with_customer(&server).await;
    let (_, other) = reseller_with_customer(&server).await;
    let grant = grants_of(
        &relationships_listing(&server, &customer(&created.id), &created.id).await,
        &first.id,
        "office365",
    )[0]
    .clone();
    let status = without_change(&server, revoke_grant_as(&server, &customer(&other.id), &grant.id))
        .await
        .expect_err("another tenant's grant");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    reason(&status);
    // An unknown grant id is refused the same way: nothing leaks.
    let unknown = without_change(
        &server,
        revoke_grant_as(&server, &customer(&other.id), &partnercenter::store::new_id()),
    )
    .await
    .expect_err("unknown grant");
    assert_eq!(unknown.code(), Code::PermissionDenied, "{unknown:?}");
    assert_eq!(
        state(&grant_by_id(
            &relationships_listing(&server, &customer(&created.id), &created.id).await,
            &grant.id
        )),
        GrantState::Active
    );
    assert!(provision_allowed(&server, &first.id, &created.id, "office365").await);
}

// ---------------------------------------------------------------- D4

#[tokio::test]
async fn d4_a_one_day_grant_authorizes_until_its_end_and_the_sweep_then_records_it_expired() {
    let (server, clock) = start_with_clock_and_idle_sweeper().await;
    let (_, created) = reseller_with_customer(&server).await;
    let helper = server.create_partner(Kind::DirectReseller).await;
    let grant = grant_as(
        &server,
        &customer(&created.id),
        pb::GrantDelegatedAdminRequest {
            duration_days: 1,
            ..request(&helper.id, "office365", &BOTH)
        },
    )
    .await
    .expect("grant")
    .grant
    .expect("grant");
    assert_eq!(micros(&grant.end_time), Some(CLOCK_START + DAY));

    clock.advance(DAY - 1);
    let provision = server
        .check(&helper.id, &created.id, Action::Provision, "office365", "")
        .await;
    assert!(provision.allowed, "before its end: {provision:?}");
    assert!(
        server
            .check(&helper.id, &created.id, Action::View, "", "")
            .await
            .allowed
    );

    clock.advance(1);
    // Decided on the clock, before any sweep has recorded anything.
    assert_eq!(
        state(&grant_by_id(
            &relationships_listing(&server, &customer(&created.id), &created.id).await,
            &grant.id
        )),
        GrantState::Active
    );
    for (action, service) in [
        (Action::Provision, "office365"),
        (Action::Support, "office365"),
        (Action::View, ""),
    ] {
        let decision = server.check(&helper.id, &created.id, action, service, "").await;
        assert!(!decision.allowed, "{action:?} after its end: {decision:?}");
        assert!(decision.grant_ids.is_empty());
    }

    let events_before = server.events().await.len();
    let report = server.server.store().sweep().await.expect("sweep");
    assert_eq!(report.grants_expired, 1, "{report:?}");
    assert_eq!(
        state(&grant_by_id(
            &relationships_listing(&server, &customer(&created.id), &created.id).await,
            &grant.id
        )),
        GrantState::Expired
    );
    let new_events = &server.events().await[events_before..];
    let expired = grant_events(new_events, "grant.expired");
    assert_eq!(expired.len(), 1, "{new_events:?}");
    assert_eq!(expired[0].id, grant.id);
    assert_eq!(expired[0].state, ModelGrantState::Expired);
    assert!(!provision_allowed(&server, &helper.id, &created.id, "office365").await);

    // A second sweep finds nothing more to record.
    let again = without_change(&server, server.server.store().sweep())
        .await
        .expect("sweep");
    assert_eq!(again.grants_expired, 0);
}

#[tokio::test]
async fn d4_an_auto_extend_grant_keeps_authorizing_and_the_sweep_moves_its_end_by_180_day_periods() {
    let (server, clock) = start_with_clock_and_idle_sweeper().await;
    let (_, created) = reseller_with_customer(&server).await;
    let helper = server.create_partner(Kind::DirectReseller).await;
    let grant = grant_as(
        &server,
        &customer(&created.id),
        pb::GrantDelegatedAdminRequest {
            duration_days: 1,
            auto_extend: true,
            ..request(&helper.id, "azure", &[Scope::Provisioning])
        },
    )
    .await
    .expect("grant")
    .grant
    .expect("grant");
    let first_end = CLOCK_START + DAY;
    assert_eq!(micros(&grant.end_time), Some(first_end));
    assert!(grant.auto_extend);

    // Without any sweep: after 1 day, 200 days, 1000 days.
    for (days, elapsed) in [(1, DAY), (199, 200 * DAY), (800, 1000 * DAY)] {
        clock.advance(i64::from(days) * DAY);
        let decision = server
            .check(&helper.id, &created.id, Action::Provision, "azure", "")
            .await;
        assert!(decision.allowed, "after {} days: {decision:?}", elapsed / DAY);
        assert_eq!(decision.grant_ids, vec![grant.id.clone()]);
    }
    let now = CLOCK_START + 1000 * DAY;

    let events_before = server.events().await.len();
    let report = server.server.store().sweep().await.expect("sweep");
    assert_eq!(report.grants_extended, 1, "{report:?}");
    assert_eq!(report.grants_expired, 0, "{report:?}");
    let listed = grant_by_id(
        &relationships_listing(&server, &customer(&created.id), &created.id).await,
        &grant.id,
    );
    assert_eq!(state(&listed), GrantState::Active);
    let end = micros(&listed.end_time).expect("an end_time");
    const PERIOD: i64 = 180 * DAY;
    assert!(end > now, "moved into the future");
    assert_eq!((end - first_end) % PERIOD, 0, "by whole 180-day periods");
    assert!(end - PERIOD <= now, "by the fewest periods");
    assert_eq!(end, first_end + 6 * PERIOD);
    let all_events = server.events().await;
    let extended = grant_events(&all_events[events_before..], "grant.extended");
    assert_eq!(
        extended.len(),
        1,
        "{:?}",
        &all_events[events_before.saturating_sub(3)..]
    );
    assert_eq!(extended[0].id, grant.id);
    assert_eq!(extended[0].end_time, Some(end));
    assert!(provision_allowed(&server, &helper.id, &created.id, "azure").await);

    // Exactly at the new end it is still in force and the sweep extends it once more.
    clock.advance(end - now);
    assert!(provision_allowed(&server, &helper.id, &created.id, "azure").await);
    let report = server.server.store().sweep().await.expect("sweep");
    assert_eq!(report.grants_extended, 1);
    let listed = grant_by_id(
        &relationships_listing(&server, &customer(&created.id), &created.id).await,
        &grant.id,
    );
    assert_eq!(micros(&listed.end_time), Some(end + PERIOD));
}

// ---------------------------------------------------------------- D5

#[tokio::test]
async fn d5_a_dap_holder_that_is_not_partner_of_record_may_not_manage_the_subscription() {
    let server = TestServer::start().await;
    let (seller, created) = reseller_with_customer(&server).await;
    let subscription = server
        .create_subscription(&partner(&seller.id), csp_subscription(&created.id, &seller.id))
        .await
        .expect("CSP subscription");
    assert_eq!(subscription.partner_of_record_id, seller.id);
    // A transacting holder (its invitation with DAP supersedes R1's) and a
    // holder hired only to support, both with both scopes.
    let (transacting, accepted) = transacting_reseller(&server, &created.id, true).await;
    assert!(!accepted.superseded_grants.is_empty());
    let hired = server.create_partner(Kind::DirectReseller).await;
    server
        .grant(&created.id, &hired.id, "office365", &BOTH)
        .await
        .expect("grant");

    for holder in [&transacting.id, &hired.id] {
        for action in [Action::Provision, Action::Support] {
            assert!(
                server.check(holder, &created.id, action, "office365", "").await.allowed,
                "DAP allows {action:?}"
            );
        }
        let manage = server
            .check(holder, &created.id, Action::ManageSubscription, "", &subscription.id)
            .await;
        assert!(!manage.allowed, "{manage:?}");
        assert_eq!(manage.reason, Reason::NotPartnerOfRecord as i32);

        for (change, paths) in [
            (
                pb::Subscription {
                    quantity: 99,
                    etag: String::new(),
                    ..subscription.clone()
                },
                vec!["quantity"],
            ),
            (
                pb::Subscription {
                    status: pb::subscription::Status::Suspended as i32,
                    etag: String::new(),
                    ..subscription.clone()
                },
                vec!["status"],
            ),
        ] {
            refused_without_change(
                &server,
                server
                    .customers(&partner(holder))
                    .update_subscription(pb::UpdateSubscriptionRequest {
                        subscription: Some(change),
                        update_mask: mask(&paths),
                    }),
                Code::PermissionDenied,
                "NOT_PARTNER_OF_RECORD",
            )
            .await;
        }
    }
    let unchanged = server
        .customers(&operator())
        .get_subscription(pb::GetSubscriptionRequest {
            id: subscription.id.clone(),
        })
        .await
        .expect("read")
        .into_inner();
    assert_eq!(unchanged, subscription);

    // The partner of record manages it though its DAP was superseded.
    assert!(!provision_allowed(&server, &seller.id, &created.id, "office365").await);
    let manage = server
        .check(
            &seller.id,
            &created.id,
            Action::ManageSubscription,
            "",
            &subscription.id,
        )
        .await;
    assert!(manage.allowed, "{manage:?}");
    assert_eq!(manage.reason, Reason::PartnerOfRecord as i32);
}

// ------------------------------------------------ the trait, local and remote

/// D1, D2, D3 and M2 through `Relationships`: the generated client behind
/// the trait grants, supersedes, lists and revokes as the local service
/// does, and refuses as it does and as the gRPC client sees it.
#[tokio::test]
async fn d2_remote_relationships_grant_list_and_revoke_as_the_local_service() {
    use partnercenter::domain::model::{GrantState as DomainGrantState, Scope as DomainScope, Service};
    use partnercenter::service::contract::relationships::{
        GrantDelegatedAdmin, ListCustomerRelationships, Relationships,
    };

    let server = TestServer::start().await;
    let local = local_relationships(&server);
    let remote = remote_relationships(&server);
    let first = server.create_partner(Kind::DirectReseller).await;
    let second = server.create_partner(Kind::DirectReseller).await;
    let created = server
        .create_customer(&partner(&first.id), None)
        .await
        .expect("customer");
    let admin = customer(&created.id);
    // Both transact with the customer: D2 lets one hold Azure.
    server
        .create_customer(&partner(&second.id), None)
        .await
        .expect("another customer");
    let invitation = server
        .invite(&second.id, pb::RelationshipRequest::default())
        .await
        .expect("invited");
    server.accept(&created.id, &invitation.code).await.expect("accepted");
    let grant = |partner_id: &str| GrantDelegatedAdmin {
        customer_id: None,
        partner_id: partner_id.to_owned(),
        service: Service::Azure,
        scopes: vec![DomainScope::Support],
        roles: Vec::new(),
        duration_days: 0,
        auto_extend: false,
        request_id: None,
    };

    let granted = remote
        .grant_delegated_admin(&admin, grant(&first.id))
        .await
        .expect("granted");
    assert!(granted.superseded_grants.is_empty());
    let taken = remote
        .grant_delegated_admin(&admin, grant(&second.id))
        .await
        .expect("granted");
    assert_eq!(taken.superseded_grants.len(), 1);
    assert_eq!(taken.superseded_grants[0].id, granted.grant.id);
    assert_eq!(taken.superseded_grants[0].state, DomainGrantState::Superseded);

    let list = ListCustomerRelationships {
        customer_id: created.id.clone(),
        ..Default::default()
    };
    let listed = remote
        .list_customer_relationships(&admin, list.clone())
        .await
        .expect("remote list");
    let relationship_partners: BTreeSet<&str> = listed.relationships.iter().map(|r| r.partner_id.as_str()).collect();
    assert_eq!(
        relationship_partners,
        BTreeSet::from([first.id.as_str(), second.id.as_str()])
    );
    assert!(listed.grants.contains(&taken.grant));
    assert!(listed.grants.contains(&taken.superseded_grants[0]));
    assert_eq!(
        listed,
        local
            .list_customer_relationships(&admin, list)
            .await
            .expect("local list")
    );

    let revoked = remote
        .revoke_delegated_admin(&admin, revoke_command(&taken.grant.id))
        .await
        .expect("revoked");
    assert_eq!(revoked.state, DomainGrantState::Revoked);
    // Revoking again returns it as it is.
    assert_eq!(
        local
            .revoke_delegated_admin(&admin, revoke_command(&taken.grant.id))
            .await
            .expect("revoked again"),
        revoked
    );

    // Refusals: a partner grants; a stranger revokes.
    let refused = assert_same_refusal(
        local
            .grant_delegated_admin(&partner(&first.id), grant(&first.id))
            .await
            .expect_err("local refuses"),
        remote
            .grant_delegated_admin(&partner(&first.id), grant(&first.id))
            .await
            .expect_err("remote refuses"),
        server
            .relationships(&partner(&first.id))
            .grant_delegated_admin(pb::GrantDelegatedAdminRequest {
                partner_id: first.id.clone(),
                service: "azure".into(),
                scopes: vec![Scope::Support as i32],
                ..Default::default()
            })
            .await
            .expect_err("gRPC refuses"),
    );
    assert_eq!(refused.reason.as_str(), "ROLE_NOT_ALLOWED");
    let outsider = customer(&partnercenter::store::new_id());
    let refused = assert_same_refusal(
        local
            .revoke_delegated_admin(&outsider, revoke_command(&granted.grant.id))
            .await
            .expect_err("local refuses"),
        remote
            .revoke_delegated_admin(&outsider, revoke_command(&granted.grant.id))
            .await
            .expect_err("remote refuses"),
        server
            .relationships(&outsider)
            .revoke_delegated_admin(pb::RevokeDelegatedAdminRequest {
                grant_id: granted.grant.id.clone(),
                note: String::new(),
            })
            .await
            .expect_err("gRPC refuses"),
    );
    assert_eq!(refused.reason.as_str(), "NOT_GRANT_PARTY");
}

fn revoke_command(grant_id: &str) -> partnercenter::service::contract::relationships::RevokeDelegatedAdmin {
    partnercenter::service::contract::relationships::RevokeDelegatedAdmin {
        grant_id: grant_id.to_owned(),
        note: None,
    }
}

// ---------------------------------------------------------------- G4

fn end_cause(grant: &pb::DelegatedAdminGrant) -> pb::EndCause {
    pb::EndCause::try_from(grant.end_cause).expect("a known end cause")
}

/// G4: every way a grant leaves ACTIVE records why, in the grant and in its
/// event: the customer's revocation (with its note), the holder giving it
/// up, M3's end of the relationship, D2's supersession and D4's expiry.
/// The etag moves with the change.
#[tokio::test]
async fn g4_a_grant_that_leaves_active_records_its_end_cause_and_the_revokers_note() {
    use partnercenter::domain::model::EndCause;
    let (server, clock) = start_with_clock_and_idle_sweeper().await;
    let (creator, tenant) = reseller_with_customer(&server).await;
    let admin = customer(&tenant.id);

    // The customer revokes, with a note.
    let helper = server.create_partner(Kind::DirectReseller).await;
    let granted = server
        .grant(&tenant.id, &helper.id, "azure", &BOTH)
        .await
        .expect("granted")
        .grant
        .expect("grant");
    assert_eq!(granted.end_cause, 0, "an ACTIVE grant has no end cause");
    let revoked = revoke_with_note(&server, &admin, &granted.id, "  contract ended in March  ")
        .await
        .expect("revoked");
    assert_eq!(state(&revoked), GrantState::Revoked);
    assert_eq!(end_cause(&revoked), pb::EndCause::CustomerRevoked);
    assert_eq!(revoked.end_note, "contract ended in March", "stored trimmed");
    assert_ne!(revoked.etag, granted.etag, "the etag moves");
    let events = server.events().await;
    let recorded = grant_events(&events, "grant.revoked");
    let last = recorded.last().expect("an event");
    assert_eq!(last.end_cause, Some(EndCause::CustomerRevoked));
    assert_eq!(last.end_note.as_deref(), Some("contract ended in March"));

    // The holder gives its own grant up.
    let own = server
        .grant(&tenant.id, &helper.id, "dynamics365", &BOTH)
        .await
        .expect("granted")
        .grant
        .expect("grant");
    let given_up = revoke_grant_as(&server, &partner(&helper.id), &own.id)
        .await
        .expect("given up");
    assert_eq!(end_cause(&given_up), pb::EndCause::PartnerRelinquished);
    assert_eq!(given_up.end_note, "", "no note given");

    // D2: a second transacting partner's office365 grant supersedes the
    // creator's.
    let rival = server.create_partner(Kind::DirectReseller).await;
    let invitation = server
        .invite(
            &rival.id,
            pb::RelationshipRequest {
                include_delegated_admin: true,
                delegated_admin_services: vec!["office365".into()],
                ..Default::default()
            },
        )
        .await
        .expect("invitation created");
    let accepted = server.accept(&tenant.id, &invitation.code).await.expect("accepted");
    let superseded = accepted
        .superseded_grants
        .iter()
        .find(|g| g.service == "office365")
        .expect("the creator's office365 grant is superseded");
    assert_eq!(state(superseded), GrantState::Superseded);
    assert_eq!(end_cause(superseded), pb::EndCause::Superseded);

    // M3: the creator ends its relationship; its remaining grants end with it.
    end_relationship(&server, &creator.id, &tenant.id).await.expect("ended");
    let listing = relationships_listing(&server, &admin, &tenant.id).await;
    let creators: Vec<&pb::DelegatedAdminGrant> = listing
        .delegated_admin_grants
        .iter()
        .filter(|g| g.partner_id == creator.id && g.service != "office365")
        .collect();
    assert_eq!(creators.len(), 2);
    for grant in creators {
        assert_eq!(end_cause(grant), pb::EndCause::RelationshipEnded, "{grant:?}");
    }

    // D4: a one-day grant, once the sweep records its expiry.
    let short = grant_as(
        &server,
        &admin,
        pb::GrantDelegatedAdminRequest {
            duration_days: 1,
            ..request(&helper.id, "azure", &[Scope::Support])
        },
    )
    .await
    .expect("granted")
    .grant
    .expect("grant");
    clock.advance(DAY);
    server.server.store().sweep().await.expect("sweep");
    let listing = relationships_listing(&server, &admin, &tenant.id).await;
    let expired = grant_by_id(&listing, &short.id);
    assert_eq!(state(&expired), GrantState::Expired);
    assert_eq!(end_cause(&expired), pb::EndCause::Expired);
    let events = server.events().await;
    assert_eq!(
        grant_events(&events, "grant.expired").last().and_then(|g| g.end_cause),
        Some(EndCause::Expired)
    );
}

/// G4, D4: a grant already past its end when something else would end it
/// (a revoke, M3, the holder's new grant for the service) is recorded
/// EXPIRED, as the sweep would have recorded it first: the history does not
/// depend on when the sweep ran. A new grant for the service is a grant of
/// its own.
#[tokio::test]
async fn g4_a_grant_ended_after_its_end_time_but_before_the_sweep_is_recorded_expired() {
    let (server, clock) = start_with_clock_and_idle_sweeper().await;
    let (creator, tenant) = reseller_with_customer(&server).await;
    let admin = customer(&tenant.id);
    let helper = server.create_partner(Kind::DirectReseller).await;
    let one_day = |partner_id: &str, service: &str| {
        grant_as(
            &server,
            &admin,
            pb::GrantDelegatedAdminRequest {
                duration_days: 1,
                ..request(partner_id, service, &BOTH)
            },
        )
    };
    let revoked_late = one_day(&helper.id, "azure")
        .await
        .expect("granted")
        .grant
        .expect("grant");
    let replaced_late = one_day(&helper.id, "office365")
        .await
        .expect("granted")
        .grant
        .expect("grant");
    let creators_late = one_day(&creator.id, "dynamics365")
        .await
        .expect("granted")
        .grant
        .expect("grant");
    clock.advance(DAY);

    // The customer revokes, with a note: the grant had already expired.
    let revoked = revoke_with_note(&server, &admin, &revoked_late.id, "too late")
        .await
        .expect("an ended grant is returned as it is");
    assert_eq!(state(&revoked), GrantState::Expired);
    assert_eq!(end_cause(&revoked), pb::EndCause::Expired);
    assert_eq!(
        revoked.end_note, "",
        "the note of a revoke that ended nothing is not kept"
    );

    // The holder's new grant for the service: the old one EXPIRED, a new id.
    let events_before = server.events().await.len();
    let renewed = server
        .grant(&tenant.id, &helper.id, "office365", &BOTH)
        .await
        .expect("granted anew")
        .grant
        .expect("grant");
    assert_ne!(renewed.id, replaced_late.id, "not replaced in place");
    assert_eq!(state(&renewed), GrantState::Active);
    let listing = relationships_listing(&server, &admin, &tenant.id).await;
    let old = grant_by_id(&listing, &replaced_late.id);
    assert_eq!(
        (state(&old), end_cause(&old)),
        (GrantState::Expired, pb::EndCause::Expired)
    );
    let new_events = &server.events().await[events_before..];
    let types: Vec<&str> = new_events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["grant.expired", "grant.created"], "{new_events:?}");

    // M3: the creator's relationship ends; its expired grant says EXPIRED,
    // its grants in force RELATIONSHIP_ENDED.
    end_relationship(&server, &creator.id, &tenant.id).await.expect("ended");
    let listing = relationships_listing(&server, &admin, &tenant.id).await;
    for grant in listing
        .delegated_admin_grants
        .iter()
        .filter(|g| g.partner_id == creator.id)
    {
        let expected = if grant.id == creators_late.id {
            pb::EndCause::Expired
        } else {
            pb::EndCause::RelationshipEnded
        };
        assert_eq!(end_cause(grant), expected, "{grant:?}");
    }

    // The sweep finds nothing left to record.
    let report = server.server.store().sweep().await.expect("sweep");
    assert_eq!(report.grants_expired, 0, "{report:?}");
}

/// G4, W3: a note over 500 characters, or with control characters, is
/// INVALID_ARGUMENT on `note`, and the grant stays as it was.
#[tokio::test]
async fn g4_a_note_too_long_or_with_control_characters_is_invalid_argument_and_changes_nothing() {
    let server = TestServer::start().await;
    let (_, tenant) = reseller_with_customer(&server).await;
    let helper = server.create_partner(Kind::DirectReseller).await;
    let granted = server
        .grant(&tenant.id, &helper.id, "azure", &BOTH)
        .await
        .expect("granted")
        .grant
        .expect("grant");
    let before = last_seq(&server).await;
    // 500 characters of three bytes each pass; one more does not.
    for note in ["界".repeat(501), "a\u{7}b".to_owned()] {
        let refused = server
            .relationships(&customer(&tenant.id))
            .revoke_delegated_admin(pb::RevokeDelegatedAdminRequest {
                grant_id: granted.id.clone(),
                note,
            })
            .await;
        let status = assert_error(refused, Code::InvalidArgument, "INVALID_FIELD");
        assert_eq!(violated_fields(&status), vec!["note".to_owned()]);
    }
    assert_eq!(last_seq(&server).await, before, "nothing changed");
    let revoked = server
        .relationships(&customer(&tenant.id))
        .revoke_delegated_admin(pb::RevokeDelegatedAdminRequest {
            grant_id: granted.id.clone(),
            note: "界".repeat(500),
        })
        .await
        .expect("a note of 500 characters is accepted")
        .into_inner();
    assert_eq!(revoked.end_note.chars().count(), 500);
}

// ---------------------------------------------------------------- G1

async fn list_grants(
    server: &TestServer,
    who: &partnercenter::domain::principal::Principal,
    request: pb::ListDelegatedAdminGrantsRequest,
) -> Result<pb::ListDelegatedAdminGrantsResponse, tonic::Status> {
    server
        .relationships(who)
        .list_delegated_admin_grants(request)
        .await
        .map(|reply| reply.into_inner())
}

/// Every grant id the list holds, following the pages.
async fn listed_ids(
    server: &TestServer,
    who: &partnercenter::domain::principal::Principal,
    request: pb::ListDelegatedAdminGrantsRequest,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut token = String::new();
    loop {
        let page = list_grants(
            server,
            who,
            pb::ListDelegatedAdminGrantsRequest {
                page_token: token,
                ..request.clone()
            },
        )
        .await
        .expect("listed");
        ids.extend(page.delegated_admin_grants.into_iter().map(|g| g.id));
        if page.next_page_token.is_empty() {
            return ids;
        }
        token = page.next_page_token;
    }
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// G1: the filters (customer, partner, service, recorded state) and keyset
/// pages in id order; a page token reused with other filters is refused.
#[tokio::test]
async fn g1_grants_are_listed_by_customer_partner_service_and_state_in_id_order() {
    let server = TestServer::start().await;
    let (creator, first) = reseller_with_customer(&server).await;
    let (_, second) = reseller_with_customer(&server).await;
    let helper = server.create_partner(Kind::DirectReseller).await;
    let on_first = server
        .grant(&first.id, &helper.id, "azure", &BOTH)
        .await
        .expect("granted")
        .grant
        .expect("grant");
    let revoked = server
        .grant(&second.id, &helper.id, "azure", &BOTH)
        .await
        .expect("granted")
        .grant
        .expect("grant");
    revoke_grant_as(&server, &customer(&second.id), &revoked.id)
        .await
        .expect("revoked");
    let all = relationships_listing(&server, &operator(), &first.id).await;
    let first_ids: Vec<String> = all.delegated_admin_grants.iter().map(|g| g.id.clone()).collect();
    assert_eq!(first_ids.len(), 4, "three of C1 and the helper's");

    let by =
        |customer_id: &str, partner_id: &str, service: &str, state: GrantState| pb::ListDelegatedAdminGrantsRequest {
            customer_id: customer_id.into(),
            partner_id: partner_id.into(),
            service: service.into(),
            state: state as i32,
            page_size: 2,
            ..Default::default()
        };
    let listed = listed_ids(&server, &operator(), by(&first.id, "", "", GrantState::Unspecified)).await;
    assert_eq!(
        listed,
        sorted(first_ids.clone()),
        "every grant of the customer, in id order, over pages of 2"
    );
    let helpers = listed_ids(&server, &operator(), by("", &helper.id, "", GrantState::Unspecified)).await;
    assert_eq!(helpers, sorted(vec![on_first.id.clone(), revoked.id.clone()]));
    let azure_active = listed_ids(&server, &operator(), by("", &helper.id, "azure", GrantState::Active)).await;
    assert_eq!(azure_active, vec![on_first.id.clone()]);
    let revoked_only = listed_ids(&server, &service(), by("", "", "", GrantState::Revoked)).await;
    assert_eq!(revoked_only, vec![revoked.id.clone()]);
    let creators = listed_ids(
        &server,
        &operator(),
        by(&first.id, &creator.id, "office365", GrantState::Active),
    )
    .await;
    assert_eq!(creators.len(), 1);

    let page = list_grants(&server, &operator(), by(&first.id, "", "", GrantState::Unspecified))
        .await
        .expect("first page");
    assert_eq!(page.delegated_admin_grants.len(), 2);
    let reused = list_grants(
        &server,
        &operator(),
        pb::ListDelegatedAdminGrantsRequest {
            page_token: page.next_page_token,
            ..by(&second.id, "", "", GrantState::Unspecified)
        },
    )
    .await;
    assert_error(reused, Code::InvalidArgument, "INVALID_FIELD");
    let negative = list_grants(
        &server,
        &operator(),
        pb::ListDelegatedAdminGrantsRequest {
            page_size: -1,
            ..Default::default()
        },
    )
    .await;
    assert_error(negative, Code::InvalidArgument, "INVALID_FIELD");
}

/// G1, D4: `expiring_within_days` N lists the grants in force whose
/// effective end is within N days: a grant's end_time, or for an
/// auto_extend grant past it, its next extended end. Grants without an
/// end, past their end (not yet swept) or ending later are not listed.
#[tokio::test]
async fn g1_expiring_within_days_lists_grants_in_force_whose_effective_end_is_that_close() {
    let (server, clock) = start_with_clock_and_idle_sweeper().await;
    let (_, tenant) = reseller_with_customer(&server).await;
    let admin = customer(&tenant.id);
    let grant_for = async |service: &str, days: i32, auto_extend: bool| {
        let partner = server.create_partner(Kind::DirectReseller).await;
        grant_as(
            &server,
            &admin,
            pb::GrantDelegatedAdminRequest {
                duration_days: days,
                auto_extend,
                ..request(&partner.id, service, &BOTH)
            },
        )
        .await
        .expect("granted")
        .grant
        .expect("grant")
        .id
    };
    let one_day_auto = grant_for("azure", 1, true).await;
    let ten_days = grant_for("azure", 10, false).await;
    let forty_days = grant_for("azure", 40, false).await;
    let two_days = grant_for("dynamics365", 2, false).await;
    // Three days on: the two-day grant is past its end (not in force, and
    // not swept); the one-day auto_extend grant now ends 181 days after it
    // started, 178 days from now.
    clock.advance(3 * DAY);
    let expiring = async |days: i32| {
        sorted(
            listed_ids(
                &server,
                &operator(),
                pb::ListDelegatedAdminGrantsRequest {
                    customer_id: tenant.id.clone(),
                    expiring_within_days: days,
                    ..Default::default()
                },
            )
            .await,
        )
    };
    assert_eq!(
        expiring(7).await,
        vec![ten_days.clone()],
        "7 days: the 10-day grant (7 left)"
    );
    assert_eq!(expiring(6).await, Vec::<String>::new(), "6 days: none");
    assert_eq!(expiring(37).await, sorted(vec![ten_days.clone(), forty_days.clone()]));
    assert_eq!(expiring(177).await, sorted(vec![ten_days.clone(), forty_days.clone()]));
    assert_eq!(
        expiring(178).await,
        sorted(vec![ten_days.clone(), forty_days.clone(), one_day_auto.clone()]),
        "the auto_extend grant's next end is 178 days away"
    );
    assert!(!expiring(365).await.contains(&two_days), "past its end: not in force");
    // With no filter every grant is listed, the lapsed one too.
    assert!(expiring(0).await.contains(&two_days));

    for (days, state) in [
        (366, GrantState::Unspecified),
        (-1, GrantState::Unspecified),
        (30, GrantState::Revoked),
    ] {
        let refused = list_grants(
            &server,
            &operator(),
            pb::ListDelegatedAdminGrantsRequest {
                expiring_within_days: days,
                state: state as i32,
                ..Default::default()
            },
        )
        .await;
        assert_error(refused, Code::InvalidArgument, "INVALID_FIELD");
    }
}

/// G1, M2: the customer's admin sees every grant of its tenant and no
/// other tenant's; a partner sees, on a customer it may VIEW, its own and
/// its chain counterparts' ACTIVE grants, and without customer_id its own;
/// it may not list a customer it cannot VIEW.
#[tokio::test]
async fn g1_each_caller_sees_the_grants_m2_shows_it() {
    let server = TestServer::start().await;
    let (provider, reseller, chained) = indirect_chain(&server).await;
    let (stranger, elsewhere) = reseller_with_customer(&server).await;
    let helper = server.create_partner(Kind::DirectReseller).await;
    let helped = server
        .grant(&chained.id, &helper.id, "azure", &[Scope::Support])
        .await
        .expect("granted")
        .grant
        .expect("grant");
    let ended = server
        .grant(&chained.id, &helper.id, "dynamics365", &[Scope::Support])
        .await
        .expect("granted")
        .grant
        .expect("grant");
    revoke_grant_as(&server, &customer(&chained.id), &ended.id)
        .await
        .expect("revoked");
    let of_customer = |customer_id: &str| pb::ListDelegatedAdminGrantsRequest {
        customer_id: customer_id.into(),
        ..Default::default()
    };
    let everything = relationships_listing(&server, &operator(), &chained.id).await;
    let every_id: Vec<String> = everything.delegated_admin_grants.iter().map(|g| g.id.clone()).collect();

    // The customer's admin: all of its tenant, ended ones too; by default
    // its own tenant; another tenant is refused.
    let admin = customer(&chained.id);
    assert_eq!(
        listed_ids(&server, &admin, of_customer(&chained.id)).await,
        sorted(every_id.clone())
    );
    assert_eq!(
        listed_ids(&server, &admin, of_customer("")).await,
        sorted(every_id.clone())
    );
    assert!(every_id.contains(&ended.id));
    let other_tenant = list_grants(&server, &admin, of_customer(&elsewhere.id)).await;
    assert_error(other_tenant, Code::PermissionDenied, "TENANT_MISMATCH");

    // The provider sees its reseller's grants on the chained customer (M2's
    // counterpart), and the ACTIVE grant of the helper not at all.
    let reseller_grants: Vec<String> = everything
        .delegated_admin_grants
        .iter()
        .filter(|g| g.partner_id == reseller.id)
        .map(|g| g.id.clone())
        .collect();
    assert_eq!(reseller_grants.len(), 3);
    let by_provider = listed_ids(&server, &partner(&provider.id), of_customer(&chained.id)).await;
    assert_eq!(by_provider, sorted(reseller_grants.clone()));
    let by_helper = listed_ids(&server, &partner(&helper.id), of_customer(&chained.id)).await;
    assert_eq!(
        by_helper,
        vec![helped.id.clone()],
        "its own ACTIVE grant, not the revoked one"
    );
    // Without customer_id: a partner's own grants, on customers it may VIEW.
    assert_eq!(
        listed_ids(&server, &partner(&helper.id), of_customer("")).await,
        vec![helped.id.clone()]
    );
    assert_eq!(
        listed_ids(&server, &partner(&provider.id), of_customer("")).await,
        Vec::<String>::new()
    );
    let another = list_grants(
        &server,
        &partner(&helper.id),
        pb::ListDelegatedAdminGrantsRequest {
            partner_id: reseller.id.clone(),
            ..Default::default()
        },
    )
    .await;
    assert_error(another, Code::InvalidArgument, "INVALID_FIELD");
    // Ended grants are never shown to a partner.
    let revoked_listed = listed_ids(
        &server,
        &partner(&helper.id),
        pb::ListDelegatedAdminGrantsRequest {
            customer_id: chained.id.clone(),
            state: GrantState::Revoked as i32,
            ..Default::default()
        },
    )
    .await;
    assert!(revoked_listed.is_empty());
    // A customer the partner may not VIEW: refused as an unknown one (W2).
    let unseen = list_grants(&server, &partner(&stranger.id), of_customer(&chained.id)).await;
    let unknown = list_grants(
        &server,
        &partner(&stranger.id),
        of_customer("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
    )
    .await;
    let (unseen, unknown) = (
        assert_error(unseen, Code::PermissionDenied, "NO_RELATIONSHIP"),
        assert_error(unknown, Code::PermissionDenied, "NO_RELATIONSHIP"),
    );
    assert_eq!(unseen.message(), unknown.message());
}

// ---------------------------------------------------------------- G3

pub(crate) fn ts(micros: i64) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: micros.div_euclid(1_000_000),
        nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32,
    })
}

async fn update_grant(
    server: &TestServer,
    who: &partnercenter::domain::principal::Principal,
    grant: pb::DelegatedAdminGrant,
    paths: &[&str],
) -> Result<pb::DelegatedAdminGrant, tonic::Status> {
    server
        .relationships(who)
        .update_delegated_admin(pb::UpdateDelegatedAdminRequest {
            grant: Some(grant),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.iter().map(|p| (*p).to_owned()).collect(),
            }),
        })
        .await
        .map(|reply| reply.into_inner())
}

/// G3: the customer admin extends a grant in force and turns auto_extend
/// on and off, each time with the etag it last read; turning auto_extend
/// off keeps the running term's end. Not a new grant: nothing is
/// superseded. Event `grant.updated`.
#[tokio::test]
async fn g3_the_customer_admin_extends_a_grant_and_turns_auto_extend_on_and_off_with_its_etag() {
    let (server, clock) = start_with_clock_and_idle_sweeper().await;
    let (_, tenant) = reseller_with_customer(&server).await;
    let admin = customer(&tenant.id);
    let helper = server.create_partner(Kind::DirectReseller).await;
    let granted = grant_as(
        &server,
        &admin,
        pb::GrantDelegatedAdminRequest {
            duration_days: 10,
            ..request(&helper.id, "azure", &BOTH)
        },
    )
    .await
    .expect("granted")
    .grant
    .expect("grant");
    let seq = last_seq(&server).await;

    let extended = update_grant(
        &server,
        &admin,
        pb::DelegatedAdminGrant {
            id: granted.id.clone(),
            etag: granted.etag.clone(),
            end_time: ts(CLOCK_START + 100 * DAY),
            ..Default::default()
        },
        &["end_time"],
    )
    .await
    .expect("extended");
    assert_eq!(micros(&extended.end_time), Some(CLOCK_START + 100 * DAY));
    assert_ne!(extended.etag, granted.etag);
    assert!(!extended.auto_extend);
    let events = server.events().await;
    let appended: Vec<&str> = events
        .iter()
        .filter(|e| e.seq > seq)
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(appended, vec!["grant.updated"], "one event, nothing superseded");

    // The etag read before the change is stale now.
    let stale = update_grant(
        &server,
        &admin,
        pb::DelegatedAdminGrant {
            id: granted.id.clone(),
            etag: granted.etag.clone(),
            auto_extend: true,
            ..Default::default()
        },
        &["auto_extend"],
    )
    .await;
    assert_error(stale, Code::Aborted, "ETAG_MISMATCH");
    let auto = update_grant(
        &server,
        &admin,
        pb::DelegatedAdminGrant {
            id: granted.id.clone(),
            etag: extended.etag.clone(),
            auto_extend: true,
            ..Default::default()
        },
        &["auto_extend"],
    )
    .await
    .expect("auto_extend on");
    assert!(auto.auto_extend);
    assert_eq!(micros(&auto.end_time), Some(CLOCK_START + 100 * DAY));

    // Past its recorded end it is still in force (D4); turned off, it keeps
    // the term now running: 180 days more.
    clock.advance(101 * DAY);
    assert!(provision_allowed(&server, &helper.id, &tenant.id, "azure").await);
    let off = update_grant(
        &server,
        &admin,
        pb::DelegatedAdminGrant {
            id: granted.id.clone(),
            etag: auto.etag.clone(),
            auto_extend: false,
            ..Default::default()
        },
        &["auto_extend"],
    )
    .await
    .expect("auto_extend off");
    assert!(!off.auto_extend);
    assert_eq!(micros(&off.end_time), Some(CLOCK_START + 280 * DAY));
    assert!(provision_allowed(&server, &helper.id, &tenant.id, "azure").await);

    // The same values again change nothing and append nothing.
    let seq = last_seq(&server).await;
    let same = update_grant(
        &server,
        &admin,
        pb::DelegatedAdminGrant {
            id: granted.id.clone(),
            etag: off.etag.clone(),
            auto_extend: false,
            ..Default::default()
        },
        &["auto_extend"],
    )
    .await
    .expect("no change");
    assert_eq!(same.etag, off.etag);
    assert_eq!(last_seq(&server).await, seq);

    // Ends out of 1-730 days, auto_extend without an end, bad masks and a
    // missing etag are INVALID_ARGUMENT.
    // So are times that are not times (nanos outside 0-999,999,999,
    // seconds beyond what microseconds hold).
    let now = CLOCK_START + 101 * DAY;
    let in_ten_days = ts(now + 10 * DAY).expect("a time");
    let not_times = [
        prost_types::Timestamp {
            nanos: 1_000_000_000,
            ..in_ten_days
        },
        prost_types::Timestamp {
            nanos: -1,
            ..in_ten_days
        },
        prost_types::Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        },
    ];
    let ends = [ts(now + DAY - 1), ts(now + 731 * DAY)]
        .into_iter()
        .chain(not_times.map(Some));
    for end_time in ends {
        let refused = update_grant(
            &server,
            &admin,
            pb::DelegatedAdminGrant {
                id: granted.id.clone(),
                etag: off.etag.clone(),
                end_time,
                ..Default::default()
            },
            &["end_time"],
        )
        .await;
        let status = assert_error(refused, Code::InvalidArgument, "INVALID_FIELD");
        assert_eq!(violated_fields(&status), vec!["grant.end_time".to_owned()]);
    }
    let unending = server
        .grant(&tenant.id, &helper.id, "dynamics365", &BOTH)
        .await
        .expect("granted")
        .grant
        .expect("grant");
    let refused = update_grant(
        &server,
        &admin,
        pb::DelegatedAdminGrant {
            id: unending.id.clone(),
            etag: unending.etag.clone(),
            auto_extend: true,
            ..Default::default()
        },
        &["auto_extend"],
    )
    .await;
    let status = assert_error(refused, Code::InvalidArgument, "INVALID_FIELD");
    assert_eq!(violated_fields(&status), vec!["grant.auto_extend".to_owned()]);
    for (etag, paths) in [
        (off.etag.as_str(), vec!["scopes"]),
        (off.etag.as_str(), vec![]),
        ("", vec!["auto_extend"]),
    ] {
        let refused = update_grant(
            &server,
            &admin,
            pb::DelegatedAdminGrant {
                id: granted.id.clone(),
                etag: etag.to_owned(),
                ..Default::default()
            },
            &paths,
        )
        .await;
        assert_error(refused, Code::InvalidArgument, "INVALID_FIELD");
    }
}

/// G3, W2: only the customer's admin updates, and only a grant in force;
/// another tenant's grant and an unknown id are refused alike.
#[tokio::test]
async fn g3_only_the_customer_admin_updates_and_only_a_grant_in_force() {
    let (server, clock) = start_with_clock_and_idle_sweeper().await;
    let (_, tenant) = reseller_with_customer(&server).await;
    let (_, other) = reseller_with_customer(&server).await;
    let admin = customer(&tenant.id);
    let helper = server.create_partner(Kind::DirectReseller).await;
    let granted = grant_as(
        &server,
        &admin,
        pb::GrantDelegatedAdminRequest {
            duration_days: 5,
            ..request(&helper.id, "azure", &BOTH)
        },
    )
    .await
    .expect("granted")
    .grant
    .expect("grant");
    let change = |id: &str| pb::DelegatedAdminGrant {
        id: id.into(),
        etag: granted.etag.clone(),
        end_time: ts(CLOCK_START + 30 * DAY),
        ..Default::default()
    };
    for who in [partner(&helper.id), operator(), service()] {
        let refused = update_grant(&server, &who, change(&granted.id), &["end_time"]).await;
        assert_error(refused, Code::PermissionDenied, "ROLE_NOT_ALLOWED");
    }
    let foreign = update_grant(&server, &customer(&other.id), change(&granted.id), &["end_time"]).await;
    let unknown = update_grant(
        &server,
        &customer(&other.id),
        change("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
        &["end_time"],
    )
    .await;
    let foreign = assert_error(foreign, Code::PermissionDenied, "NOT_GRANT_PARTY");
    let unknown = assert_error(unknown, Code::PermissionDenied, "NOT_GRANT_PARTY");
    assert_eq!(foreign.message(), unknown.message());

    // Past its end (not auto_extend, not yet swept): not in force.
    clock.advance(5 * DAY);
    let lapsed = update_grant(&server, &admin, change(&granted.id), &["end_time"]).await;
    assert_error(lapsed, Code::FailedPrecondition, "GRANT_NOT_IN_FORCE");
    // Revoked: not in force either.
    let other_grant = server
        .grant(&tenant.id, &helper.id, "office365", &BOTH)
        .await
        .expect("granted")
        .grant
        .expect("grant");
    let revoked = revoke_grant_as(&server, &admin, &other_grant.id)
        .await
        .expect("revoked");
    let refused = update_grant(
        &server,
        &admin,
        pb::DelegatedAdminGrant {
            id: revoked.id.clone(),
            etag: revoked.etag.clone(),
            end_time: ts(CLOCK_START + 30 * DAY),
            ..Default::default()
        },
        &["end_time"],
    )
    .await;
    assert_error(refused, Code::FailedPrecondition, "GRANT_NOT_IN_FORCE");
}

// ---------------------------------------------------------------- G2

fn expiring_events(events: &[Event], grant_id: &str) -> Vec<Option<i32>> {
    grant_events(events, "grant.expiring")
        .into_iter()
        .filter(|g| g.id == grant_id)
        .map(|g| g.notice_days)
        .collect()
}

/// G2: a 10-day grant is inside the 30-day mark when made, so it gets the
/// 7- and 1-day notices only, each recorded once however many sweeps run
/// (two at once here); a grant past two marks between sweeps gets only the
/// smaller; a new end (G3) takes the marks it is inside as passed.
#[tokio::test]
async fn g2_expiry_notices_at_30_7_and_1_days_are_recorded_once_each() {
    let (server, clock) = start_with_clock_and_idle_sweeper().await;
    let (_, tenant) = reseller_with_customer(&server).await;
    let admin = customer(&tenant.id);
    let grant_days = async |days: i32| {
        let partner = server.create_partner(Kind::DirectReseller).await;
        grant_as(
            &server,
            &admin,
            pb::GrantDelegatedAdminRequest {
                duration_days: days,
                ..request(&partner.id, "azure", &BOTH)
            },
        )
        .await
        .expect("granted")
        .grant
        .expect("grant")
    };
    let ten = grant_days(10).await;
    let forty = grant_days(40).await;
    assert_eq!(ten.notice_days, 30, "made inside the 30-day mark: taken as passed");
    assert_eq!(forty.notice_days, 0);
    let store = server.server.store();
    let sweep_twice = async || {
        let (a, b) = tokio::join!(store.sweep(), store.sweep());
        a.expect("sweep").grants_noticed + b.expect("sweep").grants_noticed
    };

    assert_eq!(sweep_twice().await, 0, "nothing due yet");
    clock.advance(10 * DAY); // ten: at its end; forty: 30 days left
    // (ten expires now: D4; no notice for a grant at its end.)
    assert_eq!(sweep_twice().await, 1, "forty's 30-day notice, once");
    clock.advance(29 * DAY + DAY / 2); // forty: half a day left, inside 7 and 1
    assert_eq!(sweep_twice().await, 1, "only the smaller mark");
    assert_eq!(sweep_twice().await, 0);
    let events = server.events().await;
    assert_eq!(expiring_events(&events, &forty.id), vec![Some(30), Some(1)]);
    assert!(expiring_events(&events, &ten.id).is_empty());

    // A 10-day grant swept at 7 and at 1 day left: both notices.
    let fresh = grant_days(10).await;
    clock.advance(3 * DAY);
    assert_eq!(sweep_twice().await, 1);
    clock.advance(6 * DAY);
    assert_eq!(sweep_twice().await, 1);
    let events = server.events().await;
    assert_eq!(expiring_events(&events, &fresh.id), vec![Some(7), Some(1)]);
    let listing = relationships_listing(&server, &admin, &tenant.id).await;
    let noticed = grant_by_id(&listing, &fresh.id);
    assert_eq!(noticed.notice_days, 1);
    assert_ne!(noticed.etag, fresh.etag, "a notice is a change: the etag moves");

    // Extended to 100 days from now (G3): inside no mark, so notices start over.
    let extended = update_grant(
        &server,
        &admin,
        pb::DelegatedAdminGrant {
            id: fresh.id.clone(),
            etag: noticed.etag.clone(),
            end_time: ts(CLOCK_START + 48 * DAY + DAY / 2 + 100 * DAY),
            ..Default::default()
        },
        &["end_time"],
    )
    .await
    .expect("extended");
    assert_eq!(extended.notice_days, 0);
    clock.advance(70 * DAY);
    assert_eq!(sweep_twice().await, 1, "the 30-day notice of the new term");
}

/// G2 with several replicas and restarts: three stores opened on the
/// server's database (as replicas are), on one clock, sweep at once, again
/// and again; each notice is recorded once. A store opened afresh later (a
/// restart) records nothing again.
#[tokio::test]
async fn g2_replicas_sweeping_at_once_and_after_a_restart_record_each_notice_once() {
    use partnercenter::store::{Store, StoreOptions};
    let (server, clock) = start_with_clock_and_idle_sweeper().await;
    let (_, tenant) = reseller_with_customer(&server).await;
    let admin = customer(&tenant.id);
    let mut grants = Vec::new();
    for days in [3, 10, 20, 40] {
        let partner = server.create_partner(Kind::DirectReseller).await;
        let grant = grant_as(
            &server,
            &admin,
            pb::GrantDelegatedAdminRequest {
                duration_days: days,
                ..request(&partner.id, "azure", &BOTH)
            },
        )
        .await
        .expect("granted")
        .grant
        .expect("grant");
        grants.push(grant.id);
    }
    let options = StoreOptions {
        url: server.database_url.clone(),
        max_connections: 2,
        acquire_timeout: std::time::Duration::from_secs(10),
        statement_timeout: std::time::Duration::from_secs(10),
        sqlite_page_cache_mib: 2,
    };
    let open = async || Store::open(&options, clock.clone()).await.expect("a replica's store");
    let replicas = [open().await, open().await, open().await];
    let mut noticed = 0;
    // Day by day to the end of the longest grant, three sweeps at once.
    for _ in 0..40 {
        clock.advance(DAY);
        let (a, b, c) = tokio::join!(replicas[0].sweep(), replicas[1].sweep(), replicas[2].sweep());
        noticed += [a, b, c]
            .into_iter()
            .map(|report| report.expect("sweep").grants_noticed)
            .sum::<usize>();
    }
    let events = server.events().await;
    let notices: Vec<Vec<Option<i32>>> = grants.iter().map(|id| expiring_events(&events, id)).collect();
    assert_eq!(
        notices,
        vec![
            vec![Some(1)],                    // 3 days: inside 30 and 7 when made
            vec![Some(7), Some(1)],           // 10 days: inside 30 when made
            vec![Some(7), Some(1)],           // 20 days
            vec![Some(30), Some(7), Some(1)]  // 40 days
        ]
    );
    assert_eq!(noticed, 8, "each recorded by exactly one sweep");
    drop(replicas);
    let restarted = open().await;
    assert_eq!(restarted.sweep().await.expect("sweep").grants_noticed, 0);
}
