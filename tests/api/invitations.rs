//! RelationshipService invitations (CSP relationship requests): I1-I7.

use std::collections::{BTreeMap, BTreeSet};

use partnercenter::api::pb;
use partnercenter::api::pb::check_access_request::Action;
use partnercenter::api::pb::delegated_admin_grant::{Scope, State as GrantState};
use partnercenter::api::pb::partner::{Kind, Status as PartnerStatus};
use partnercenter::api::pb::relationship::{Kind as RelationshipKind, Source, State as RelationshipState};
use partnercenter::api::pb::relationship_request::State as InvitationState;
use partnercenter::domain::model::{EventResource, MICROS_PER_DAY};
use partnercenter::domain::principal::Principal;
use tonic::Code;

use crate::support::*;

const SERVICES: [&str; 3] = ["office365", "azure", "dynamics365"];

// ---------------------------------------------------------------- helpers

/// An invitation asking for delegated admin with the defaults.
fn dap_invitation() -> pb::RelationshipRequest {
    pb::RelationshipRequest {
        include_delegated_admin: true,
        ..Default::default()
    }
}

/// An invitation of a provider naming its indirect reseller.
fn for_reseller(reseller_id: &str, dap: bool) -> pb::RelationshipRequest {
    pb::RelationshipRequest {
        indirect_reseller_id: reseller_id.into(),
        include_delegated_admin: dap,
        ..Default::default()
    }
}

async fn create(
    server: &TestServer,
    who: &Principal,
    invitation: pb::RelationshipRequest,
    expire_after_days: i32,
) -> Result<pb::RelationshipRequest, tonic::Status> {
    server
        .relationships(who)
        .create_relationship_request(pb::CreateRelationshipRequestRequest {
            relationship_request: Some(invitation),
            expire_after_days,
            request_id: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

/// Every invitation the principal lists with this filter, following pages.
async fn list(
    server: &TestServer,
    who: &Principal,
    filter: pb::ListRelationshipRequestsRequest,
) -> Result<Vec<pb::RelationshipRequest>, tonic::Status> {
    let mut client = server.relationships(who);
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_relationship_requests(pb::ListRelationshipRequestsRequest {
                page_token: token.clone(),
                ..filter.clone()
            })
            .await?
            .into_inner();
        all.extend(page.relationship_requests);
        if page.next_page_token.is_empty() {
            return Ok(all);
        }
        token = page.next_page_token;
    }
}

async fn listed_ids(server: &TestServer, who: &Principal) -> Vec<String> {
    list(server, who, pb::ListRelationshipRequestsRequest::default())
        .await
        .expect("lists relationship requests")
        .into_iter()
        .map(|r| r.id)
        .collect()
}

/// A customer the operator created, with no partner at all (C2).
async fn new_tenant(server: &TestServer) -> pb::Customer {
    server
        .create_customer(&operator(), None)
        .await
        .expect("operator creates a customer")
}

/// The customer's relationships and grants, as the operator lists them.
async fn rows_of(server: &TestServer, customer_id: &str) -> (Vec<pb::Relationship>, Vec<pb::DelegatedAdminGrant>) {
    let reply = relationships_listing(server, &operator(), customer_id).await;
    (reply.relationships, reply.delegated_admin_grants)
}

fn micros(timestamp: &Option<prost_types::Timestamp>) -> i64 {
    let t = timestamp.as_ref().expect("timestamp set");
    t.seconds * 1_000_000 + i64::from(t.nanos) / 1000
}

fn scope_set(scopes: &[i32]) -> BTreeSet<i32> {
    scopes.iter().copied().collect()
}

fn both_scopes() -> BTreeSet<i32> {
    BTreeSet::from([Scope::Provisioning as i32, Scope::Support as i32])
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|item| id(item).to_owned()).collect()
}

/// The query of an invitation url, parameter by parameter.
fn query_of(url: &str) -> BTreeMap<String, String> {
    let (_, query) = url.split_once('?').unwrap_or_else(|| panic!("no query in {url}"));
    query
        .split('&')
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

fn count_events(events: &[partnercenter::domain::model::Event], event_type: &str, subject_id: &str) -> usize {
    events
        .iter()
        .filter(|e| e.event_type == event_type && e.resource.subject_id() == subject_id)
        .count()
}

/// Every event the operator lists over the API, following pages.
async fn api_events(server: &TestServer, who: &Principal) -> Vec<pb::Event> {
    let mut client = server.relationships(who);
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_events(pb::ListEventsRequest {
                page_size: 1000,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("lists events")
            .into_inner();
        all.extend(page.events);
        if page.next_page_token.is_empty() {
            return all;
        }
        token = page.next_page_token;
    }
}

/// The JSON payloads of the events table, as stored.
async fn raw_event_payloads(server: &TestServer) -> Vec<String> {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    server
        .server
        .store()
        .connection()
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT payload FROM events ORDER BY seq",
        ))
        .await
        .expect("events read")
        .into_iter()
        .map(|row| row.try_get::<String>("", "payload").expect("payload"))
        .collect()
}

// ---------------------------------------------------------------- I1

#[tokio::test]
async fn i1_direct_reseller_and_indirect_provider_create_invitations() {
    let server = TestServer::start().await;
    for kind in [Kind::DirectReseller, Kind::IndirectProvider] {
        let inviter = server.create_partner(kind).await;
        let before = server.events().await.len();
        let created = create(&server, &partner(&inviter.id), dap_invitation(), 0)
            .await
            .unwrap_or_else(|e| panic!("{kind:?} creates an invitation: {e:?}"));
        assert!(uuid::Uuid::parse_str(&created.id).is_ok(), "{created:?}");
        assert_eq!(created.inviting_partner_id, inviter.id);
        assert!(created.indirect_reseller_id.is_empty());
        assert_eq!(created.state, InvitationState::Active as i32);
        assert!(!created.code.is_empty() && !created.url.is_empty());
        assert!(created.create_time.is_some() && created.expire_time.is_some());

        let events = server.events().await;
        assert_eq!(events.len(), before + 1, "one event for one invitation");
        assert_eq!(count_events(&events, "relationship_request.created", &created.id), 1);
        assert_eq!(
            get_invitation(&server, &partner(&inviter.id), &created.id)
                .await
                .unwrap(),
            created
        );
    }
}

#[tokio::test]
async fn i1_retry_with_the_same_request_id_creates_one_invitation() {
    let server = TestServer::start().await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    let request = pb::CreateRelationshipRequestRequest {
        relationship_request: Some(dap_invitation()),
        expire_after_days: 30,
        request_id: partnercenter::store::new_id(),
    };
    let mut client = server.relationships(&partner(&direct.id));
    let first = client
        .create_relationship_request(request.clone())
        .await
        .expect("created")
        .into_inner();
    let retried = without_change(&server, client.create_relationship_request(request))
        .await
        .expect("retried")
        .into_inner();
    assert_eq!(retried, first, "the first result, code included");
    assert_eq!(listed_ids(&server, &operator()).await, vec![first.id]);
}

#[tokio::test]
async fn i1_indirect_reseller_is_told_to_use_its_providers_invitation() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;
    let status = refused_without_change(
        &server,
        create(&server, &partner(&reseller.id), dap_invitation(), 0),
        Code::PermissionDenied,
        "INDIRECT_RESELLER_CANNOT_INVITE",
    )
    .await;
    let message = status.message().to_lowercase();
    assert!(
        message.contains("provider") && message.contains("invitation"),
        "the message points to the provider's invitation: {}",
        status.message()
    );
    assert!(listed_ids(&server, &operator()).await.is_empty());
}

#[tokio::test]
async fn i1_advisor_is_partner_kind_not_allowed() {
    let server = TestServer::start().await;
    let advisor = server.create_partner(Kind::Advisor).await;
    refused_without_change(
        &server,
        create(&server, &partner(&advisor.id), dap_invitation(), 0),
        Code::PermissionDenied,
        "PARTNER_KIND_NOT_ALLOWED",
    )
    .await;
    refused_without_change(
        &server,
        create(&server, &partner(&advisor.id), pb::RelationshipRequest::default(), 0),
        Code::PermissionDenied,
        "PARTNER_KIND_NOT_ALLOWED",
    )
    .await;
    assert!(listed_ids(&server, &operator()).await.is_empty());
}

#[tokio::test]
async fn i1_suspended_partner_is_partner_not_active() {
    let server = TestServer::start().await;
    for kind in [Kind::DirectReseller, Kind::IndirectProvider] {
        let inviter = server.create_partner(kind).await;
        server.set_partner_status(&inviter.id, PartnerStatus::Suspended).await;
        refused_without_change(
            &server,
            create(&server, &partner(&inviter.id), dap_invitation(), 0),
            Code::PermissionDenied,
            "PARTNER_NOT_ACTIVE",
        )
        .await;

        server.set_partner_status(&inviter.id, PartnerStatus::Active).await;
        create(&server, &partner(&inviter.id), dap_invitation(), 0)
            .await
            .expect("invites again once ACTIVE");
    }
}

#[tokio::test]
async fn i1_operator_customer_and_service_do_not_create_invitations() {
    let server = TestServer::start().await;
    let tenant = new_tenant(&server).await;
    for who in [operator(), customer(&tenant.id), service()] {
        let status = without_change(&server, create(&server, &who, dap_invitation(), 0))
            .await
            .expect_err("only partners invite");
        assert_eq!(status.code(), Code::PermissionDenied, "{who:?}: {status:?}");
    }
    assert!(listed_ids(&server, &operator()).await.is_empty());
}

// ---------------------------------------------------------------- I2

#[tokio::test]
async fn i2_provider_names_an_active_linked_reseller() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;

    let created = create(&server, &partner(&provider.id), for_reseller(&reseller.id, true), 0)
        .await
        .expect("the provider names its linked reseller");
    assert_eq!(created.inviting_partner_id, provider.id);
    assert_eq!(created.indirect_reseller_id, reseller.id);
    assert_eq!(
        get_invitation(&server, &operator(), &created.id).await.unwrap(),
        created
    );
}

#[tokio::test]
async fn i2_provider_naming_an_unlinked_reseller_is_reseller_not_linked() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let other_provider = server.create_partner(Kind::IndirectProvider).await;
    let never_linked = server.create_partner(Kind::IndirectReseller).await;
    let linked_elsewhere = server.create_partner(Kind::IndirectReseller).await;
    server.link(&other_provider.id, &linked_elsewhere.id).await;
    let unlinked = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &unlinked.id).await;
    server.unlink(&provider.id, &unlinked.id).await;
    let suspended = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &suspended.id).await;
    server.set_partner_status(&suspended.id, PartnerStatus::Suspended).await;
    for reseller_id in [
        never_linked.id.clone(),
        linked_elsewhere.id.clone(),
        unlinked.id.clone(),
        suspended.id.clone(),
        partnercenter::store::new_id(),
    ] {
        refused_without_change(
            &server,
            create(&server, &partner(&provider.id), for_reseller(&reseller_id, true), 0),
            Code::FailedPrecondition,
            "RESELLER_NOT_LINKED",
        )
        .await;
    }
    assert!(listed_ids(&server, &operator()).await.is_empty());
}

#[tokio::test]
async fn i2_direct_reseller_naming_a_reseller_is_invalid_argument() {
    let server = TestServer::start().await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    let status = refused_without_change(
        &server,
        create(&server, &partner(&direct.id), for_reseller(&reseller.id, false), 0),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;
    assert_eq!(
        violated_fields(&status),
        vec!["relationship_request.indirect_reseller_id".to_string()]
    );
    assert!(listed_ids(&server, &operator()).await.is_empty());
}

// ---------------------------------------------------------------- I3

#[tokio::test]
async fn i3_delegated_admin_defaults_to_all_services_and_both_scopes() {
    let server = TestServer::start().await;
    let direct = server.create_partner(Kind::DirectReseller).await;

    let defaults = create(&server, &partner(&direct.id), dap_invitation(), 0)
        .await
        .unwrap();
    assert!(defaults.include_delegated_admin);
    assert_eq!(
        defaults
            .delegated_admin_services
            .iter()
            .map(String::as_str)
            .collect::<BTreeSet<_>>(),
        BTreeSet::from(SERVICES)
    );
    assert_eq!(defaults.delegated_admin_services.len(), 3);
    assert_eq!(scope_set(&defaults.delegated_admin_scopes), both_scopes());
    assert_eq!(defaults.delegated_admin_scopes.len(), 2);

    let narrowed = create(
        &server,
        &partner(&direct.id),
        pb::RelationshipRequest {
            include_delegated_admin: true,
            delegated_admin_services: vec!["azure".into()],
            delegated_admin_scopes: vec![Scope::Support as i32],
            ..Default::default()
        },
        0,
    )
    .await
    .unwrap();
    assert_eq!(narrowed.delegated_admin_services, vec!["azure".to_string()]);
    assert_eq!(narrowed.delegated_admin_scopes, vec![Scope::Support as i32]);

    let without = create(&server, &partner(&direct.id), pb::RelationshipRequest::default(), 0)
        .await
        .unwrap();
    assert!(!without.include_delegated_admin);
    assert!(without.delegated_admin_services.is_empty());
    assert!(without.delegated_admin_scopes.is_empty());
}

#[tokio::test]
async fn i3_invitation_expires_after_90_days_by_default_and_365_at_most() {
    let (server, _clock) = TestServer::start_with_clock().await;
    let direct = server.create_partner(Kind::DirectReseller).await;

    let default = create(&server, &partner(&direct.id), dap_invitation(), 0)
        .await
        .unwrap();
    assert_eq!(
        micros(&default.expire_time) - micros(&default.create_time),
        90 * MICROS_PER_DAY
    );
    let longest = create(&server, &partner(&direct.id), dap_invitation(), 365)
        .await
        .unwrap();
    assert_eq!(
        micros(&longest.expire_time) - micros(&longest.create_time),
        365 * MICROS_PER_DAY
    );
    let shortest = create(&server, &partner(&direct.id), dap_invitation(), 1)
        .await
        .unwrap();
    assert_eq!(
        micros(&shortest.expire_time) - micros(&shortest.create_time),
        MICROS_PER_DAY
    );

    for days in [366, -1] {
        let status = refused_without_change(
            &server,
            create(&server, &partner(&direct.id), dap_invitation(), days),
            Code::InvalidArgument,
            "INVALID_FIELD",
        )
        .await;
        assert_eq!(violated_fields(&status), vec!["expire_after_days".to_string()]);
    }
}

#[tokio::test]
async fn i3_code_is_unguessable_and_differs_between_invitations() {
    let server = TestServer::start().await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    let mut codes = BTreeSet::new();
    for _ in 0..5 {
        let created = create(&server, &partner(&direct.id), dap_invitation(), 0)
            .await
            .unwrap();
        // 128 bits are at least 22 base64url characters.
        assert!(created.code.len() >= 22, "code too short: {}", created.code);
        assert!(
            created
                .code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "code is not base64url: {}",
            created.code
        );
        assert!(codes.insert(created.code.clone()), "a code repeated");
    }
    assert_eq!(codes.len(), 5);
}

#[tokio::test]
async fn i3_url_holds_partner_reseller_dap_flag_and_code() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;

    let with_reseller = create(&server, &partner(&provider.id), for_reseller(&reseller.id, true), 0)
        .await
        .unwrap();
    let query = query_of(&with_reseller.url);
    assert_eq!(query.get("partnerId"), Some(&provider.id), "{}", with_reseller.url);
    assert_eq!(query.get("resellerId"), Some(&reseller.id), "{}", with_reseller.url);
    assert_eq!(
        query.get("dap").map(String::as_str),
        Some("true"),
        "{}",
        with_reseller.url
    );
    assert_eq!(query.get("code"), Some(&with_reseller.code), "{}", with_reseller.url);

    let without_dap = create(&server, &partner(&provider.id), pb::RelationshipRequest::default(), 0)
        .await
        .unwrap();
    let query = query_of(&without_dap.url);
    assert_eq!(query.get("partnerId"), Some(&provider.id));
    assert_eq!(query.get("dap").map(String::as_str), Some("false"));
    assert_eq!(query.get("code"), Some(&without_dap.code));
    assert!(
        query.get("resellerId").is_none_or(|r| r.is_empty()),
        "{}",
        without_dap.url
    );
}

#[tokio::test]
async fn i3_code_never_appears_in_any_event() {
    let (server, clock) = TestServer::start_with_clock().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;
    let tenant = new_tenant(&server).await;

    // Created, accepted, revoked (after acceptance), and expired by the sweep.
    let accepted = create(&server, &partner(&provider.id), for_reseller(&reseller.id, true), 0)
        .await
        .unwrap();
    server.accept(&tenant.id, &accepted.code).await.expect("accepted");
    revoke_invitation(&server, &partner(&provider.id), &accepted.id)
        .await
        .expect("revoked");
    let expired = create(&server, &partner(&provider.id), dap_invitation(), 1)
        .await
        .unwrap();
    clock.advance(2 * MICROS_PER_DAY);
    server.server.store().sweep().await.expect("sweep");
    let codes = [accepted.code.clone(), expired.code.clone()];

    let events = server.events().await;
    for (id, event_type) in [
        (&accepted.id, "relationship_request.created"),
        (&accepted.id, "relationship_request.accepted"),
        (&accepted.id, "relationship_request.revoked"),
        (&expired.id, "relationship_request.created"),
        (&expired.id, "relationship_request.expired"),
    ] {
        assert_eq!(count_events(&events, event_type, id), 1, "{event_type} of {id}");
    }
    for event in &events {
        if let EventResource::RelationshipRequest(r) = &event.resource {
            assert!(r.code.is_empty(), "{event:?}");
        }
        let text = format!("{event:?}");
        for code in &codes {
            assert!(!text.contains(code.as_str()), "the code is in {text}");
        }
    }
    // As stored.
    let payloads = raw_event_payloads(&server).await;
    assert_eq!(payloads.len(), events.len());
    for payload in &payloads {
        for code in &codes {
            assert!(
                !payload.contains(code.as_str()),
                "the code is stored in an event: {payload}"
            );
        }
    }
    // As read through ListEvents, by the operator and by the inviting partner.
    for who in [operator(), service(), partner(&provider.id), partner(&reseller.id)] {
        let listed = api_events(&server, &who).await;
        let invitation_events: Vec<&pb::RelationshipRequest> = listed
            .iter()
            .filter_map(|e| match &e.resource {
                Some(pb::event::Resource::RelationshipRequest(r)) => Some(r),
                _ => None,
            })
            .collect();
        if who == operator() {
            assert_eq!(invitation_events.len(), 5);
        }
        for r in invitation_events {
            assert!(r.code.is_empty(), "{r:?}");
        }
        let text = format!("{listed:?}");
        for code in &codes {
            assert!(!text.contains(code.as_str()), "ListEvents for {who:?} shows a code");
        }
    }
}

/// I3: a code's columns as stored: (code, code_hash).
async fn stored_code(server: &TestServer, id: &str) -> (String, Option<String>) {
    use partnercenter::store::entity::relationship_request;
    use sea_orm::EntityTrait;
    let row = relationship_request::Entity::find_by_id(id.to_owned())
        .one(server.server.store().connection())
        .await
        .expect("read the row")
        .expect("the invitation's row");
    (row.code, row.code_hash)
}

/// I3: the hash a code is looked up by, computed here on its own.
fn sha256_of(code: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(code.as_bytes());
    format!(
        "sha256:{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

/// I3: at rest a code is its hash and a sealed copy, never itself; its
/// inviter still reads it back, a customer accepts with it, and neither
/// stored column accepts an invitation.
#[tokio::test]
async fn i3_a_code_is_stored_as_its_hash_and_sealed_never_in_the_clear() {
    let server = TestServer::start().await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    let created = create(&server, &partner(&direct.id), dap_invitation(), 0)
        .await
        .unwrap();
    let (stored, hash) = stored_code(&server, &created.id).await;
    assert!(!stored.contains(&created.code), "the code is stored in the clear");
    assert!(stored.starts_with("v1."), "not sealed: {stored}");
    assert_eq!(hash, Some(sha256_of(&created.code)));

    let read = get_invitation(&server, &partner(&direct.id), &created.id)
        .await
        .expect("the inviter reads it");
    assert_eq!(read.code, created.code);
    assert_eq!(query_of(&read.url).get("code"), Some(&created.code));
    let listed = list(
        &server,
        &partner(&direct.id),
        pb::ListRelationshipRequestsRequest::default(),
    )
    .await
    .expect("the inviter lists it");
    assert_eq!(ids(&listed, |r| &r.code), vec![created.code.clone()]);

    let tenant = new_tenant(&server).await;
    // The sealed copy is longer than any code; the hash is a code of none.
    refused_without_change(
        &server,
        server.accept(&tenant.id, &stored),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;
    refused_without_change(
        &server,
        server.accept(&tenant.id, hash.as_deref().unwrap_or_default()),
        Code::NotFound,
        "INVITATION_NOT_FOUND",
    )
    .await;
    server
        .accept(&tenant.id, &created.code)
        .await
        .expect("accepted by its code");
    assert_eq!(rows_of(&server, &tenant.id).await.0.len(), 1);
}

/// I3 for a store written before codes were sealed: such a row's code in
/// the clear still accepts, and the next server to start seals it, after
/// which it reads and accepts the same. A store with another key, or with
/// none, shows the invitation without its code.
#[tokio::test]
async fn i3_codes_stored_in_the_clear_before_are_sealed_when_a_server_starts() {
    use partnercenter::store::entity::relationship_request::{Column, Entity};
    use sea_orm::sea_query::Expr;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

    let server = TestServer::start().await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    let created = create(&server, &partner(&direct.id), pb::RelationshipRequest::default(), 0)
        .await
        .unwrap();
    let store = server.server.store().clone();
    // The row as m0001-m0010 wrote it.
    Entity::update_many()
        .col_expr(Column::Code, Expr::value(created.code.clone()))
        .col_expr(Column::CodeHash, Expr::value(Option::<String>::None))
        .filter(Column::Id.eq(created.id.as_str()))
        .exec(store.connection())
        .await
        .expect("the row made legacy");
    let read = get_invitation(&server, &partner(&direct.id), &created.id)
        .await
        .unwrap();
    assert_eq!(read.code, created.code);
    let first = new_tenant(&server).await;
    server
        .accept(&first.id, &created.code)
        .await
        .expect("accepted in the clear");

    let mut config = partnercenter::config::Config::default();
    config.server.listen = "127.0.0.1:0".parse().expect("address");
    config.store.database_url = server.database_url.clone();
    config.store.max_connections = 2;
    config.auth.jwt_secret = Some(SECRET.to_owned());
    config.webhooks.webhook_dispatch = false;
    let restarted =
        partnercenter::api::server::spawn(&config, std::sync::Arc::new(partnercenter::domain::clock::SystemClock))
            .await
            .expect("a server starts on the store");
    let (stored, hash) = stored_code(&server, &created.id).await;
    assert_eq!(hash, Some(sha256_of(&created.code)), "sealed at start-up");
    assert!(stored.starts_with("v1.") && !stored.contains(&created.code), "{stored}");
    restarted.shutdown().await;

    let read = get_invitation(&server, &partner(&direct.id), &created.id)
        .await
        .unwrap();
    assert_eq!(read.code, created.code);
    let second = new_tenant(&server).await;
    server
        .accept(&second.id, &created.code)
        .await
        .expect("accepted by its hash");
    assert_eq!(rows_of(&server, &second.id).await.0.len(), 1);

    let options = partnercenter::store::StoreOptions {
        url: server.database_url.clone(),
        max_connections: 1,
        acquire_timeout: std::time::Duration::from_secs(10),
        statement_timeout: std::time::Duration::from_secs(10),
        sqlite_page_cache_mib: 2,
    };
    let keyless =
        partnercenter::store::Store::open(&options, std::sync::Arc::new(partnercenter::domain::clock::SystemClock))
            .await
            .expect("the store opens");
    let other_key = keyless.clone().with_secret_box(std::sync::Arc::new(
        partnercenter::outbound::SecretSealer::from_key(b"another key of the same length").expect("a key"),
    ));
    assert_eq!(
        store.invitation(&created.id).await.unwrap().map(|i| i.code),
        Some(created.code.clone())
    );
    for (what, store) in [("another key", other_key), ("no key", keyless)] {
        let shown = store
            .invitation(&created.id)
            .await
            .expect("read")
            .expect("the invitation");
        assert!(shown.code.is_empty(), "{what} shows a code");
    }
}

// ---------------------------------------------------------------- I4

#[tokio::test]
async fn i4_named_reseller_reads_and_lists_the_invitations_naming_it() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;
    let naming = create(&server, &partner(&provider.id), for_reseller(&reseller.id, true), 0)
        .await
        .unwrap();
    let own = create(&server, &partner(&provider.id), dap_invitation(), 0)
        .await
        .unwrap();

    // The reseller forwards it: it reads the whole invitation, code and url.
    let read = get_invitation(&server, &partner(&reseller.id), &naming.id)
        .await
        .expect("the named reseller reads it");
    assert_eq!(read, naming);
    assert_eq!(read.code, naming.code);
    assert_eq!(read.url, naming.url);
    assert_eq!(
        listed_ids(&server, &partner(&reseller.id)).await,
        vec![naming.id.clone()]
    );
    let filtered = list(
        &server,
        &partner(&reseller.id),
        pb::ListRelationshipRequestsRequest {
            indirect_reseller_id: reseller.id.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(filtered, vec![naming.clone()]);

    // Not the provider's other invitations.
    assert_eq!(
        get_invitation(&server, &partner(&reseller.id), &own.id)
            .await
            .expect_err("not named in it")
            .code(),
        Code::PermissionDenied
    );
}

#[tokio::test]
async fn i4_other_partners_never_see_an_invitation() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    let other_reseller = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;
    server.link(&provider.id, &other_reseller.id).await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    let naming = create(&server, &partner(&provider.id), for_reseller(&reseller.id, true), 0)
        .await
        .unwrap();
    let directs = create(&server, &partner(&direct.id), dap_invitation(), 0)
        .await
        .unwrap();

    for (who, invitation) in [
        (&direct.id, &naming),
        (&other_reseller.id, &naming),
        (&provider.id, &directs),
        (&reseller.id, &directs),
    ] {
        assert_eq!(
            get_invitation(&server, &partner(who), &invitation.id)
                .await
                .expect_err("another partner's invitation")
                .code(),
            Code::PermissionDenied
        );
        // Filtering by the other partner shows nothing either.
        match list(
            &server,
            &partner(who),
            pb::ListRelationshipRequestsRequest {
                inviting_partner_id: invitation.inviting_partner_id.clone(),
                ..Default::default()
            },
        )
        .await
        {
            Ok(listed) => assert!(
                listed
                    .iter()
                    .all(|r| r.inviting_partner_id == *who || r.indirect_reseller_id == *who),
                "{listed:?}"
            ),
            Err(status) => assert_eq!(status.code(), Code::PermissionDenied),
        }
    }
    assert!(listed_ids(&server, &partner(&other_reseller.id)).await.is_empty());
    // An id that does not exist is answered like one the partner may not read.
    assert_eq!(
        get_invitation(&server, &partner(&direct.id), &partnercenter::store::new_id())
            .await
            .expect_err("unknown id")
            .code(),
        Code::PermissionDenied
    );
}

#[tokio::test]
async fn i4_inviting_partner_lists_its_own_and_operator_and_service_see_all() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;
    let direct = server.create_partner(Kind::DirectReseller).await;

    let mut providers = Vec::new();
    providers.push(
        create(&server, &partner(&provider.id), for_reseller(&reseller.id, true), 0)
            .await
            .unwrap(),
    );
    let directs = vec![
        create(&server, &partner(&direct.id), dap_invitation(), 0)
            .await
            .unwrap(),
    ];
    providers.push(
        create(&server, &partner(&provider.id), dap_invitation(), 0)
            .await
            .unwrap(),
    );

    assert_eq!(
        listed_ids(&server, &partner(&provider.id)).await,
        ids(&providers, |r| &r.id)
    );
    assert_eq!(
        listed_ids(&server, &partner(&direct.id)).await,
        ids(&directs, |r| &r.id)
    );

    let mut every: Vec<String> = providers.iter().chain(&directs).map(|r| r.id.clone()).collect();
    every.sort();
    for who in [operator(), service()] {
        assert_eq!(listed_ids(&server, &who).await, every, "{who:?}");
        for invitation in providers.iter().chain(&directs) {
            assert_eq!(
                &get_invitation(&server, &who, &invitation.id).await.unwrap(),
                invitation
            );
        }
        let by_provider = list(
            &server,
            &who,
            pb::ListRelationshipRequestsRequest {
                inviting_partner_id: provider.id.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(ids(&by_provider, |r| &r.id), ids(&providers, |r| &r.id));
    }
    assert_error(
        get_invitation(&server, &operator(), &partnercenter::store::new_id()).await,
        Code::NotFound,
        "INVITATION_NOT_FOUND",
    );
}

// ---------------------------------------------------------------- I5

#[tokio::test]
async fn i5_inviting_partner_revokes_and_a_revoked_invitation_cannot_be_accepted() {
    let server = TestServer::start().await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    let tenant = new_tenant(&server).await;
    let invitation = create(&server, &partner(&direct.id), dap_invitation(), 0)
        .await
        .unwrap();

    let revoked = revoke_invitation(&server, &partner(&direct.id), &invitation.id)
        .await
        .expect("the inviting partner revokes");
    assert_eq!(revoked.id, invitation.id);
    assert_eq!(revoked.state, InvitationState::Revoked as i32);
    assert_eq!(
        get_invitation(&server, &operator(), &invitation.id)
            .await
            .unwrap()
            .state,
        InvitationState::Revoked as i32
    );
    let events = server.events().await;
    assert_eq!(count_events(&events, "relationship_request.revoked", &invitation.id), 1);

    let before = events.len();
    refused_without_change(
        &server,
        server.accept(&tenant.id, &invitation.code),
        Code::FailedPrecondition,
        "INVITATION_REVOKED",
    )
    .await;
    assert_eq!(
        server.events().await.len(),
        before,
        "a refused acceptance changes nothing"
    );
    let (relationships, grants) = rows_of(&server, &tenant.id).await;
    assert!(relationships.is_empty() && grants.is_empty());
}

#[tokio::test]
async fn i5_expired_invitation_cannot_be_accepted_before_or_after_the_sweep() {
    let (server, clock) = TestServer::start_with_clock().await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    let tenant = new_tenant(&server).await;
    let invitation = create(&server, &partner(&direct.id), dap_invitation(), 0)
        .await
        .unwrap();
    let lifetime = micros(&invitation.expire_time) - micros(&invitation.create_time);

    clock.advance(lifetime - 1);
    assert_eq!(
        get_invitation(&server, &operator(), &invitation.id)
            .await
            .unwrap()
            .state,
        InvitationState::Active as i32,
        "still ACTIVE just before its expire_time"
    );
    clock.advance(2);

    // Before the sweep: decided on the clock.
    let before = server.events().await.len();
    refused_without_change(
        &server,
        server.accept(&tenant.id, &invitation.code),
        Code::FailedPrecondition,
        "INVITATION_EXPIRED",
    )
    .await;
    assert_eq!(
        get_invitation(&server, &partner(&direct.id), &invitation.id)
            .await
            .unwrap()
            .state,
        InvitationState::Expired as i32
    );
    let events = server.events().await;
    assert_eq!(events.len(), before);
    assert_eq!(count_events(&events, "relationship_request.expired", &invitation.id), 0);

    // The sweep records it, with its event.
    let report = server.server.store().sweep().await.expect("sweep");
    assert_eq!(report.invitations_expired, 1);
    let events = server.events().await;
    assert_eq!(events.len(), before + 1);
    let expired_event = events.last().unwrap();
    assert_eq!(expired_event.event_type, "relationship_request.expired");
    match &expired_event.resource {
        EventResource::RelationshipRequest(r) => {
            assert_eq!(r.id, invitation.id);
            assert_eq!(r.state, partnercenter::domain::model::InvitationState::Expired);
        }
        other => panic!("{other:?}"),
    }
    let listed = list(
        &server,
        &operator(),
        pb::ListRelationshipRequestsRequest {
            state: InvitationState::Expired as i32,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(ids(&listed, |r| &r.id), vec![invitation.id.clone()]);

    // After the sweep: the same answer, and a second sweep records nothing.
    refused_without_change(
        &server,
        server.accept(&tenant.id, &invitation.code),
        Code::FailedPrecondition,
        "INVITATION_EXPIRED",
    )
    .await;
    assert_eq!(server.server.store().sweep().await.unwrap().invitations_expired, 0);
    assert_eq!(server.events().await.len(), before + 1);
    let (relationships, grants) = rows_of(&server, &tenant.id).await;
    assert!(relationships.is_empty() && grants.is_empty());
}

#[tokio::test]
async fn i5_unknown_code_is_invitation_not_found() {
    let server = TestServer::start().await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    let tenant = new_tenant(&server).await;
    let invitation = create(&server, &partner(&direct.id), dap_invitation(), 0)
        .await
        .unwrap();
    let mut near_miss = invitation.code.clone();
    let last = near_miss.pop().unwrap();
    near_miss.push(if last == 'A' { 'B' } else { 'A' });
    for code in [
        near_miss.as_str(),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "unknown",
    ] {
        refused_without_change(
            &server,
            server.accept(&tenant.id, code),
            Code::NotFound,
            "INVITATION_NOT_FOUND",
        )
        .await;
    }
}

#[tokio::test]
async fn i5_only_the_inviting_partner_revokes() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    let tenant = new_tenant(&server).await;
    let invitation = create(&server, &partner(&provider.id), for_reseller(&reseller.id, true), 0)
        .await
        .unwrap();
    for who in [
        partner(&direct.id),
        partner(&reseller.id),
        customer(&tenant.id),
        service(),
    ] {
        let status = without_change(&server, revoke_invitation(&server, &who, &invitation.id))
            .await
            .expect_err("only the inviting partner revokes");
        assert_eq!(status.code(), Code::PermissionDenied, "{who:?}: {status:?}");
    }
    assert_eq!(
        get_invitation(&server, &operator(), &invitation.id)
            .await
            .unwrap()
            .state,
        InvitationState::Active as i32
    );
    server
        .accept(&tenant.id, &invitation.code)
        .await
        .expect("still acceptable");
}

// ---------------------------------------------------------------- I6

#[tokio::test]
async fn i6_customer_accepts_a_direct_resellers_invitation() {
    let server = TestServer::start().await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    let tenant = new_tenant(&server).await;
    let invitation = create(&server, &partner(&direct.id), dap_invitation(), 0)
        .await
        .unwrap();
    let before = server.events().await.len();

    let reply = server.accept(&tenant.id, &invitation.code).await.expect("accepted");
    let shown = reply.relationship_request.clone().expect("the invitation");
    assert_eq!(shown.id, invitation.id);
    assert!(shown.code.is_empty(), "the reply carries no code");

    assert_eq!(reply.relationships.len(), 1, "{reply:?}");
    let relationship = &reply.relationships[0];
    assert_eq!(relationship.customer_id, tenant.id);
    assert_eq!(relationship.partner_id, direct.id);
    assert_eq!(relationship.kind, RelationshipKind::Reseller as i32);
    assert!(relationship.indirect_provider_id.is_empty());
    assert_eq!(relationship.state, RelationshipState::Active as i32);
    assert_eq!(relationship.source, Source::Invitation as i32);
    assert_eq!(relationship.relationship_request_id, invitation.id);
    assert!(relationship.end_time.is_none());

    assert_eq!(reply.grants.len(), 3, "{reply:?}");
    let services: BTreeSet<&str> = reply.grants.iter().map(|g| g.service.as_str()).collect();
    assert_eq!(services, BTreeSet::from(SERVICES));
    for grant in &reply.grants {
        assert_eq!(grant.customer_id, tenant.id);
        assert_eq!(grant.partner_id, direct.id);
        assert_eq!(scope_set(&grant.scopes), both_scopes());
        assert_eq!(grant.state, GrantState::Active as i32);
        assert!(grant.end_time.is_none(), "{grant:?}");
        assert!(!grant.auto_extend);
    }
    assert!(reply.superseded_grants.is_empty());

    // The reply is what is stored.
    let (relationships, mut grants) = rows_of(&server, &tenant.id).await;
    assert_eq!(relationships, reply.relationships);
    let mut replied = reply.grants.clone();
    replied.sort_by(|a, b| a.id.cmp(&b.id));
    grants.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(grants, replied);

    let events = server.events().await;
    assert_eq!(count_events(&events, "relationship.created", &relationship.id), 1);
    for grant in &reply.grants {
        assert_eq!(count_events(&events, "grant.created", &grant.id), 1);
    }
    assert_eq!(
        count_events(&events, "relationship_request.accepted", &invitation.id),
        1
    );
    assert_eq!(events.len(), before + 5);

    let sell = server.check(&direct.id, &tenant.id, Action::Sell, "", "").await;
    assert!(sell.allowed, "{sell:?}");
}

#[tokio::test]
async fn i6_named_reseller_gets_an_indirect_reseller_relationship_and_the_dap() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;
    let tenant = new_tenant(&server).await;
    let invitation = create(
        &server,
        &partner(&provider.id),
        pb::RelationshipRequest {
            indirect_reseller_id: reseller.id.clone(),
            include_delegated_admin: true,
            delegated_admin_services: vec!["azure".into(), "office365".into()],
            delegated_admin_scopes: vec![Scope::Support as i32],
            ..Default::default()
        },
        0,
    )
    .await
    .unwrap();

    let reply = server.accept(&tenant.id, &invitation.code).await.expect("accepted");
    assert_eq!(reply.relationships.len(), 2, "{reply:?}");
    let owned = reply
        .relationships
        .iter()
        .find(|r| r.partner_id == provider.id)
        .expect("the provider's relationship");
    assert_eq!(owned.kind, RelationshipKind::Reseller as i32);
    assert!(owned.indirect_provider_id.is_empty());
    assert_eq!(owned.state, RelationshipState::Active as i32);
    let indirect = reply
        .relationships
        .iter()
        .find(|r| r.partner_id == reseller.id)
        .expect("the reseller's relationship");
    assert_eq!(indirect.kind, RelationshipKind::IndirectReseller as i32);
    assert_eq!(indirect.indirect_provider_id, provider.id);
    assert_eq!(indirect.state, RelationshipState::Active as i32);
    assert_eq!(indirect.source, Source::Invitation as i32);

    // The DAP goes to the reseller, with the asked services and scopes.
    let services: BTreeSet<&str> = reply.grants.iter().map(|g| g.service.as_str()).collect();
    assert_eq!(services, BTreeSet::from(["azure", "office365"]));
    assert_eq!(reply.grants.len(), 2);
    for grant in &reply.grants {
        assert_eq!(grant.partner_id, reseller.id);
        assert_eq!(grant.scopes, vec![Scope::Support as i32]);
        assert_eq!(grant.state, GrantState::Active as i32);
        assert!(grant.end_time.is_none());
    }
    let (relationships, grants) = rows_of(&server, &tenant.id).await;
    assert_eq!(relationships.len(), 2);
    assert!(grants.iter().all(|g| g.partner_id == reseller.id), "{grants:?}");
    assert_eq!(grants.len(), 2);

    let sell = server.check(&reseller.id, &tenant.id, Action::Sell, "", "").await;
    assert!(sell.allowed, "{sell:?}");
    let support = server
        .check(&reseller.id, &tenant.id, Action::Support, "azure", "")
        .await;
    assert!(support.allowed, "{support:?}");
    let provision = server
        .check(&reseller.id, &tenant.id, Action::Provision, "azure", "")
        .await;
    assert!(!provision.allowed, "only SUPPORT was asked: {provision:?}");
    let provider_support = server
        .check(&provider.id, &tenant.id, Action::Support, "azure", "")
        .await;
    assert!(!provider_support.allowed, "{provider_support:?}");
}

#[tokio::test]
async fn i6_without_delegated_admin_no_grant_is_made() {
    let server = TestServer::start().await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    let tenant = new_tenant(&server).await;
    let invitation = create(&server, &partner(&direct.id), pb::RelationshipRequest::default(), 0)
        .await
        .unwrap();
    let reply = server.accept(&tenant.id, &invitation.code).await.expect("accepted");
    assert_eq!(reply.relationships.len(), 1);
    assert!(reply.grants.is_empty() && reply.superseded_grants.is_empty());
    let (_, grants) = rows_of(&server, &tenant.id).await;
    assert!(grants.is_empty());
}

#[tokio::test]
async fn i6_reply_holds_the_grants_the_acceptance_superseded() {
    let server = TestServer::start().await;
    let first = server.create_partner(Kind::DirectReseller).await;
    let tenant = server
        .create_customer(&partner(&first.id), None)
        .await
        .expect("created with full DAP");
    let (_, first_grants) = rows_of(&server, &tenant.id).await;
    let first_office = first_grants
        .iter()
        .find(|g| g.service == "office365")
        .expect("office365 grant")
        .clone();
    let second = server.create_partner(Kind::DirectReseller).await;
    let invitation = create(
        &server,
        &partner(&second.id),
        pb::RelationshipRequest {
            include_delegated_admin: true,
            delegated_admin_services: vec!["office365".into()],
            ..Default::default()
        },
        0,
    )
    .await
    .unwrap();

    let reply = server.accept(&tenant.id, &invitation.code).await.expect("accepted");
    assert_eq!(reply.grants.len(), 1);
    assert_eq!(reply.grants[0].partner_id, second.id);
    assert_eq!(reply.superseded_grants.len(), 1, "{reply:?}");
    let superseded = &reply.superseded_grants[0];
    assert_eq!(superseded.id, first_office.id);
    assert_eq!(superseded.partner_id, first.id);
    assert_eq!(superseded.state, GrantState::Superseded as i32);

    let (_, grants) = rows_of(&server, &tenant.id).await;
    for grant in grants.iter().filter(|g| g.partner_id == first.id) {
        let expected = if grant.service == "office365" {
            GrantState::Superseded
        } else {
            GrantState::Active
        };
        assert_eq!(grant.state, expected as i32, "{grant:?}");
    }
}

#[tokio::test]
async fn i6_domain_bound_invitation_accepted_by_another_customer_is_domain_mismatch() {
    let server = TestServer::start().await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    let bound_to = new_tenant(&server).await;
    let other = new_tenant(&server).await;
    let invitation = create(
        &server,
        &partner(&direct.id),
        pb::RelationshipRequest {
            include_delegated_admin: true,
            // Domains compare case-insensitively.
            customer_domain: bound_to.domain.to_uppercase(),
            ..Default::default()
        },
        0,
    )
    .await
    .unwrap();
    assert_eq!(invitation.customer_domain.to_lowercase(), bound_to.domain);
    refused_without_change(
        &server,
        server.accept(&other.id, &invitation.code),
        Code::PermissionDenied,
        "DOMAIN_MISMATCH",
    )
    .await;
    let (relationships, grants) = rows_of(&server, &other.id).await;
    assert!(relationships.is_empty() && grants.is_empty());

    let reply = server
        .accept(&bound_to.id, &invitation.code)
        .await
        .expect("the bound customer accepts");
    assert_eq!(reply.relationships.len(), 1);
    assert_eq!(reply.relationships[0].customer_id, bound_to.id);
    refused_without_change(
        &server,
        server.accept(&other.id, &invitation.code),
        Code::PermissionDenied,
        "DOMAIN_MISMATCH",
    )
    .await;
}

#[tokio::test]
async fn i6_unbound_invitation_is_reusable_and_stays_active() {
    let server = TestServer::start().await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    let invitation = create(&server, &partner(&direct.id), dap_invitation(), 0)
        .await
        .unwrap();

    let mut relationship_ids = BTreeSet::new();
    let mut grant_ids = BTreeSet::new();
    for _ in 0..3 {
        let tenant = new_tenant(&server).await;
        let reply = server.accept(&tenant.id, &invitation.code).await.expect("accepted");
        assert_eq!(
            reply.relationship_request.as_ref().unwrap().state,
            InvitationState::Active as i32
        );
        assert_eq!(reply.relationships.len(), 1);
        assert_eq!(reply.relationships[0].customer_id, tenant.id);
        assert_eq!(reply.grants.len(), 3);
        assert!(reply.grants.iter().all(|g| g.customer_id == tenant.id));
        relationship_ids.insert(reply.relationships[0].id.clone());
        grant_ids.extend(reply.grants.iter().map(|g| g.id.clone()));
        let (relationships, grants) = rows_of(&server, &tenant.id).await;
        assert_eq!(relationships.len(), 1);
        assert_eq!(grants.len(), 3);
    }
    assert_eq!(relationship_ids.len(), 3);
    assert_eq!(grant_ids.len(), 9);
    assert_eq!(
        get_invitation(&server, &partner(&direct.id), &invitation.id)
            .await
            .unwrap()
            .state,
        InvitationState::Active as i32
    );
}

#[tokio::test]
async fn i6_accepting_again_changes_nothing_and_returns_the_same_rows() {
    let server = TestServer::start().await;
    let first = server.create_partner(Kind::DirectReseller).await;
    let tenant = server.create_customer(&partner(&first.id), None).await.unwrap();
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;
    let invitation = create(&server, &partner(&provider.id), for_reseller(&reseller.id, true), 0)
        .await
        .unwrap();

    let first_reply = server.accept(&tenant.id, &invitation.code).await.expect("accepted");
    assert_eq!(first_reply.superseded_grants.len(), 3, "the creator's DAP gave way");
    let rows = rows_of(&server, &tenant.id).await;

    for _ in 0..2 {
        let again = without_change(&server, server.accept(&tenant.id, &invitation.code))
            .await
            .expect("accepted again");
        assert_eq!(
            ids(&again.relationships, |r| &r.id)
                .into_iter()
                .collect::<BTreeSet<_>>(),
            ids(&first_reply.relationships, |r| &r.id).into_iter().collect()
        );
        assert_eq!(
            ids(&again.grants, |g| &g.id).into_iter().collect::<BTreeSet<_>>(),
            ids(&first_reply.grants, |g| &g.id).into_iter().collect()
        );
        for relationship in &again.relationships {
            assert!(first_reply.relationships.contains(relationship), "{relationship:?}");
        }
        for grant in &again.grants {
            assert!(first_reply.grants.contains(grant), "{grant:?}");
        }
        assert!(again.superseded_grants.is_empty(), "{again:?}");
        assert_eq!(rows_of(&server, &tenant.id).await, rows, "no change");
    }
}

#[tokio::test]
async fn i6_accepting_again_after_revocation_or_expiry_returns_the_same_rows() {
    let (server, clock) = TestServer::start_with_clock().await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    let tenant = new_tenant(&server).await;
    let revoked = create(&server, &partner(&direct.id), dap_invitation(), 0)
        .await
        .unwrap();
    let expiring = create(&server, &partner(&direct.id), pb::RelationshipRequest::default(), 1)
        .await
        .unwrap();

    let first = server.accept(&tenant.id, &revoked.code).await.expect("accepted");
    let first_expiring = server.accept(&tenant.id, &expiring.code).await.expect("accepted");
    // The same partner: the second acceptance reuses the RESELLER relationship.
    assert_eq!(first_expiring.relationships, first.relationships);
    revoke_invitation(&server, &partner(&direct.id), &revoked.id)
        .await
        .expect("revoked");
    let events = server.events().await.len();
    let rows = rows_of(&server, &tenant.id).await;

    let again = server
        .accept(&tenant.id, &revoked.code)
        .await
        .expect("accepted again after revocation");
    assert_eq!(again.relationships, first.relationships);
    assert_eq!(
        ids(&again.grants, |g| &g.id).into_iter().collect::<BTreeSet<_>>(),
        ids(&first.grants, |g| &g.id).into_iter().collect()
    );
    assert!(again.superseded_grants.is_empty());

    clock.advance(2 * MICROS_PER_DAY);
    let again = server
        .accept(&tenant.id, &expiring.code)
        .await
        .expect("accepted again after expiry");
    assert_eq!(again.relationships, first_expiring.relationships);
    assert!(again.grants.is_empty() && again.superseded_grants.is_empty());
    assert_eq!(server.events().await.len(), events);

    server.server.store().sweep().await.expect("sweep");
    let again = without_change(&server, server.accept(&tenant.id, &expiring.code))
        .await
        .expect("accepted again after the sweep");
    assert_eq!(again.relationships, first_expiring.relationships);
    assert_eq!(rows_of(&server, &tenant.id).await, rows);
}

#[tokio::test]
async fn i6_accepting_again_returns_the_rows_as_they_are_now() {
    let server = TestServer::start().await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    let tenant = new_tenant(&server).await;
    let invitation = create(&server, &partner(&direct.id), dap_invitation(), 0)
        .await
        .unwrap();
    let first = server.accept(&tenant.id, &invitation.code).await.expect("accepted");
    let revoked_grant = first.grants[0].clone();
    server
        .relationships(&customer(&tenant.id))
        .revoke_delegated_admin(pb::RevokeDelegatedAdminRequest {
            grant_id: revoked_grant.id.clone(),
            note: String::new(),
        })
        .await
        .expect("the customer revokes a grant");
    let again = without_change(&server, server.accept(&tenant.id, &invitation.code))
        .await
        .expect("accepted again");
    assert_eq!(again.grants.len(), 3);
    let shown = again
        .grants
        .iter()
        .find(|g| g.id == revoked_grant.id)
        .expect("the revoked grant");
    assert_eq!(shown.state, GrantState::Revoked as i32, "as it is now");
    assert!(
        again
            .grants
            .iter()
            .filter(|g| g.id != revoked_grant.id)
            .all(|g| g.state == GrantState::Active as i32)
    );
    let (_, grants) = rows_of(&server, &tenant.id).await;
    assert_eq!(grants.len(), 3);
}

#[tokio::test]
async fn i6_only_a_customer_admin_accepts() {
    let server = TestServer::start().await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    let invitation = create(&server, &partner(&direct.id), dap_invitation(), 0)
        .await
        .unwrap();
    for who in [operator(), service(), partner(&direct.id)] {
        let status = without_change(
            &server,
            server
                .relationships(&who)
                .accept_relationship_request(pb::AcceptRelationshipRequestRequest {
                    code: invitation.code.clone(),
                }),
        )
        .await
        .expect_err("not a customer admin");
        assert_eq!(status.code(), Code::PermissionDenied, "{who:?}: {status:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn i6_concurrent_acceptances_by_one_customer_create_one_set_of_rows() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;
    let tenant = new_tenant(&server).await;
    let invitation = create(&server, &partner(&provider.id), for_reseller(&reseller.id, true), 0)
        .await
        .unwrap();
    let before = server.events().await.len();

    let mut tasks = Vec::new();
    for _ in 0..10 {
        let mut client = server.relationships(&customer(&tenant.id));
        let code = invitation.code.clone();
        tasks.push(tokio::spawn(async move {
            client
                .accept_relationship_request(pb::AcceptRelationshipRequestRequest { code })
                .await
                .map(|r| r.into_inner())
        }));
    }
    let mut replies = Vec::new();
    for task in tasks {
        replies.push(task.await.expect("task").expect("every acceptance succeeds"));
    }

    let relationship_ids = |reply: &pb::AcceptRelationshipRequestResponse| -> BTreeSet<String> {
        reply.relationships.iter().map(|r| r.id.clone()).collect()
    };
    let grant_ids = |reply: &pb::AcceptRelationshipRequestResponse| -> BTreeSet<String> {
        reply.grants.iter().map(|g| g.id.clone()).collect()
    };
    let expected_relationships = relationship_ids(&replies[0]);
    let expected_grants = grant_ids(&replies[0]);
    assert_eq!(expected_relationships.len(), 2);
    assert_eq!(expected_grants.len(), 3);
    for reply in &replies {
        assert_eq!(relationship_ids(reply), expected_relationships);
        assert_eq!(grant_ids(reply), expected_grants);
    }

    let (relationships, grants) = rows_of(&server, &tenant.id).await;
    assert_eq!(
        ids(&relationships, |r| &r.id).into_iter().collect::<BTreeSet<_>>(),
        expected_relationships
    );
    assert_eq!(
        ids(&grants, |g| &g.id).into_iter().collect::<BTreeSet<_>>(),
        expected_grants
    );
    let events = server.events().await;
    assert_eq!(
        count_events(&events, "relationship_request.accepted", &invitation.id),
        1
    );
    assert_eq!(
        events.len(),
        before + 2 + 3 + 1,
        "one set of events: {:?}",
        &events[before..]
    );
}

// ---------------------------------------------------------------- I7

#[tokio::test]
async fn i7_inviting_partner_suspended_before_acceptance_is_partner_not_active() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;
    let direct = server.create_partner(Kind::DirectReseller).await;
    let tenant = new_tenant(&server).await;
    let through_provider = create(&server, &partner(&provider.id), for_reseller(&reseller.id, true), 0)
        .await
        .unwrap();
    let from_direct = create(&server, &partner(&direct.id), dap_invitation(), 0)
        .await
        .unwrap();
    server.set_partner_status(&provider.id, PartnerStatus::Suspended).await;
    server.set_partner_status(&direct.id, PartnerStatus::Suspended).await;
    for invitation in [&through_provider, &from_direct] {
        refused_without_change(
            &server,
            server.accept(&tenant.id, &invitation.code),
            Code::FailedPrecondition,
            "PARTNER_NOT_ACTIVE",
        )
        .await;
    }
    let (relationships, grants) = rows_of(&server, &tenant.id).await;
    assert!(relationships.is_empty() && grants.is_empty());

    // Decided at acceptance: once ACTIVE again, the same code works.
    server.set_partner_status(&direct.id, PartnerStatus::Active).await;
    let reply = server.accept(&tenant.id, &from_direct.code).await.expect("accepted");
    assert_eq!(reply.relationships.len(), 1);
}

#[tokio::test]
async fn i7_named_reseller_suspended_before_acceptance_is_partner_not_active() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;
    let tenant = new_tenant(&server).await;
    let invitation = create(&server, &partner(&provider.id), for_reseller(&reseller.id, true), 0)
        .await
        .unwrap();
    server.set_partner_status(&reseller.id, PartnerStatus::Suspended).await;
    refused_without_change(
        &server,
        server.accept(&tenant.id, &invitation.code),
        Code::FailedPrecondition,
        "PARTNER_NOT_ACTIVE",
    )
    .await;
    let (relationships, grants) = rows_of(&server, &tenant.id).await;
    assert!(relationships.is_empty() && grants.is_empty());
}

#[tokio::test]
async fn i7_link_revoked_before_acceptance_is_reseller_not_linked() {
    let server = TestServer::start().await;
    let provider = server.create_partner(Kind::IndirectProvider).await;
    let reseller = server.create_partner(Kind::IndirectReseller).await;
    server.link(&provider.id, &reseller.id).await;
    let tenant = new_tenant(&server).await;
    let invitation = create(&server, &partner(&provider.id), for_reseller(&reseller.id, true), 0)
        .await
        .unwrap();
    server.unlink(&provider.id, &reseller.id).await;
    refused_without_change(
        &server,
        server.accept(&tenant.id, &invitation.code),
        Code::FailedPrecondition,
        "RESELLER_NOT_LINKED",
    )
    .await;
    let (relationships, grants) = rows_of(&server, &tenant.id).await;
    assert!(relationships.is_empty() && grants.is_empty());

    // Linked again: the same code works.
    server.link(&provider.id, &reseller.id).await;
    let reply = server.accept(&tenant.id, &invitation.code).await.expect("accepted");
    assert_eq!(reply.relationships.len(), 2);
}

// ------------------------------------------------ the trait, local and remote

/// I1, I4, I5, I6 through `Relationships`: the generated client behind the
/// trait returns what the local service returns, and refuses as it does
/// and as the gRPC client sees it.
#[tokio::test]
async fn i6_remote_relationships_invite_read_accept_and_refuse_as_the_local_service() {
    use partnercenter::domain::model::Service;
    use partnercenter::service::contract::relationships::{
        CreateRelationshipRequest, ListRelationshipRequests, Relationships,
    };

    let server = TestServer::start().await;
    let local = local_relationships(&server);
    let remote = remote_relationships(&server);
    let reseller = server.create_partner(Kind::DirectReseller).await;
    let stranger = server.create_partner(Kind::DirectReseller).await;
    let created = server.create_customer(&operator(), None).await.expect("customer");
    let inviter = partner(&reseller.id);

    let command = CreateRelationshipRequest {
        include_delegated_admin: true,
        delegated_admin_services: vec![Service::Azure],
        request_id: Some("remote-invite-1".into()),
        ..Default::default()
    };
    let invitation = remote
        .create_relationship_request(&inviter, command.clone())
        .await
        .expect("invited");
    assert!(!invitation.code.is_empty());
    // AIP-155: the same request id and command return the first result.
    let replayed = local
        .create_relationship_request(&inviter, command)
        .await
        .expect("replayed");
    assert_eq!(replayed, invitation);
    assert_eq!(
        remote
            .get_relationship_request(&inviter, &invitation.id)
            .await
            .expect("remote read"),
        local
            .get_relationship_request(&inviter, &invitation.id)
            .await
            .expect("local read"),
    );
    let list = ListRelationshipRequests::default();
    let listed = remote
        .list_relationship_requests(&inviter, list.clone())
        .await
        .expect("remote list");
    assert_eq!(listed.items, vec![invitation.clone()]);
    assert_eq!(
        listed,
        local
            .list_relationship_requests(&inviter, list)
            .await
            .expect("local list")
    );

    let admin = customer(&created.id);
    let accepted = remote
        .accept_relationship_request(&admin, &invitation.code)
        .await
        .expect("accepted");
    assert_eq!(accepted.relationships.len(), 1);
    assert_eq!(accepted.grants.len(), 1);
    assert!(accepted.relationship_request.code.is_empty());
    // Accepting again returns the rows as they are, wherever it is asked.
    let again = local
        .accept_relationship_request(&admin, &invitation.code)
        .await
        .expect("accepted again");
    assert_eq!(
        remote
            .accept_relationship_request(&admin, &invitation.code)
            .await
            .expect("accepted again remotely"),
        again
    );
    assert_eq!(again.relationships, accepted.relationships);
    assert_eq!(again.grants, accepted.grants);

    // Refusals: a stranger reads it; an unknown code; a customer invites.
    let outsider = partner(&stranger.id);
    let refused = assert_same_refusal(
        local
            .get_relationship_request(&outsider, &invitation.id)
            .await
            .expect_err("local refuses"),
        remote
            .get_relationship_request(&outsider, &invitation.id)
            .await
            .expect_err("remote refuses"),
        server
            .relationships(&outsider)
            .get_relationship_request(pb::GetRelationshipRequestRequest {
                id: invitation.id.clone(),
            })
            .await
            .expect_err("gRPC refuses"),
    );
    assert_eq!(refused.reason.as_str(), "NOT_INVITATION_PARTY");
    let refused = assert_same_refusal(
        local
            .accept_relationship_request(&admin, "no-such-code")
            .await
            .expect_err("local refuses"),
        remote
            .accept_relationship_request(&admin, "no-such-code")
            .await
            .expect_err("remote refuses"),
        server
            .accept(&created.id, "no-such-code")
            .await
            .expect_err("gRPC refuses"),
    );
    assert_eq!(refused.reason.as_str(), "INVITATION_NOT_FOUND");
    let refused = assert_same_refusal(
        local
            .create_relationship_request(&admin, CreateRelationshipRequest::default())
            .await
            .expect_err("local refuses"),
        remote
            .create_relationship_request(&admin, CreateRelationshipRequest::default())
            .await
            .expect_err("remote refuses"),
        server
            .relationships(&admin)
            .create_relationship_request(pb::CreateRelationshipRequestRequest::default())
            .await
            .expect_err("gRPC refuses"),
    );
    assert_eq!(refused.reason.as_str(), "ROLE_NOT_ALLOWED");
}
