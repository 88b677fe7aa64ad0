//! Webhook endpoints: H1, H2, H4, H8, H9 and H10 through the
//! WebhookService's generated client, on the real store.

use partnercenter::api::pb;
use partnercenter::api::pb::webhook_endpoint::{DeliveryMode, State};
use std::sync::Arc;

use partnercenter::domain::clock::{Clock, ManualClock, SystemClock};
use partnercenter::domain::principal::Principal;
use tonic::{Code, Status};

use crate::support::*;

/// A server that dispatches nothing, so an endpoint's cursor stays where
/// its writes put it while a test compares replies.
pub async fn quiet_server(clock: Arc<dyn Clock>) -> TestServer {
    TestServer::start_configured(clock, Some(SECRET), |config| {
        config.webhooks.webhook_dispatch = false;
    })
    .await
}

fn system() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

pub fn endpoint(url: &str) -> pb::WebhookEndpoint {
    pb::WebhookEndpoint {
        url: url.into(),
        description: "orders".into(),
        delivery_mode: DeliveryMode::Ordered as i32,
        ..Default::default()
    }
}

pub async fn create(
    server: &TestServer,
    who: &Principal,
    webhook_endpoint: pb::WebhookEndpoint,
    request_id: &str,
) -> Result<pb::CreateWebhookEndpointResponse, Status> {
    server
        .webhooks(who)
        .create_webhook_endpoint(pb::CreateWebhookEndpointRequest {
            webhook_endpoint: Some(webhook_endpoint),
            request_id: request_id.into(),
            start_after_seq: None,
        })
        .await
        .map(|r| r.into_inner())
}

async fn get(server: &TestServer, who: &Principal, id: &str) -> Result<pb::WebhookEndpoint, Status> {
    server
        .webhooks(who)
        .get_webhook_endpoint(pb::GetWebhookEndpointRequest { id: id.into() })
        .await
        .map(|r| r.into_inner())
}

async fn list(server: &TestServer, who: &Principal, partner_id: &str) -> Result<Vec<pb::WebhookEndpoint>, Status> {
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let reply = server
            .webhooks(who)
            .list_webhook_endpoints(pb::ListWebhookEndpointsRequest {
                page_size: 3,
                page_token,
                partner_id: partner_id.into(),
            })
            .await?
            .into_inner();
        all.extend(reply.webhook_endpoints);
        if reply.next_page_token.is_empty() {
            return Ok(all);
        }
        page_token = reply.next_page_token;
    }
}

async fn update(
    server: &TestServer,
    who: &Principal,
    webhook_endpoint: pb::WebhookEndpoint,
    paths: &[&str],
) -> Result<pb::WebhookEndpoint, Status> {
    server
        .webhooks(who)
        .update_webhook_endpoint(pb::UpdateWebhookEndpointRequest {
            webhook_endpoint: Some(webhook_endpoint),
            update_mask: mask(paths),
        })
        .await
        .map(|r| r.into_inner())
}

async fn rotate(
    server: &TestServer,
    who: &Principal,
    id: &str,
    etag: &str,
    overlap: Option<std::time::Duration>,
) -> Result<pb::RotateWebhookSecretResponse, Status> {
    server
        .webhooks(who)
        .rotate_webhook_secret(pb::RotateWebhookSecretRequest {
            id: id.into(),
            etag: etag.into(),
            overlap: overlap.map(|d| prost_types::Duration {
                seconds: d.as_secs() as i64,
                nanos: 0,
            }),
        })
        .await
        .map(|r| r.into_inner())
}

async fn replay(server: &TestServer, who: &Principal, id: &str, after_seq: i64) -> Result<i64, Status> {
    server
        .webhooks(who)
        .replay_webhook_events(pb::ReplayWebhookEventsRequest {
            id: id.into(),
            after_seq,
            only_failed: false,
        })
        .await
        .map(|r| r.into_inner().replayed_count)
}

/// H5: a secret is `whsec_` and 32 random bytes in base64.
fn assert_secret(secret: &str) {
    use base64::Engine;
    let key = secret.strip_prefix("whsec_").expect("whsec_ prefix");
    let bytes = base64::engine::general_purpose::STANDARD.decode(key).expect("base64");
    assert_eq!(bytes.len(), 32, "{secret}");
}

async fn webhook_events(server: &TestServer, who: &Principal) -> Vec<pb::Event> {
    server
        .relationships(who)
        .list_events(pb::ListEventsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("events listed")
        .into_inner()
        .events
        .into_iter()
        .filter(|e| e.r#type.starts_with("webhook_endpoint."))
        .collect()
}

/// H1, H5, H10: a partner registers (a retry with its request_id returns
/// the same endpoint and secret), reads, lists, updates with and without
/// an etag (a stale one is ABORTED) and deletes its endpoint; the secret
/// is in the create reply only, sealed in the store, in no event.
#[tokio::test]
async fn h1_a_partner_registers_reads_updates_and_deletes_its_endpoint() {
    let server = quiet_server(system()).await;
    let owner = server.create_partner(pb::partner::Kind::DirectReseller).await;
    let me = partner(&owner.id);
    let before = last_seq(&server).await;

    let made = create(&server, &me, endpoint("https://hooks.example.com/pc"), "r-1")
        .await
        .expect("created");
    assert_secret(&made.secret);
    let first = made.webhook_endpoint.clone().expect("the endpoint");
    assert_eq!(first.partner_id, owner.id);
    assert_eq!(first.state, State::Active as i32);
    assert_eq!(first.max_in_flight, Some(10), "unset on create: the default");
    // H4: a new endpoint starts after the latest seq.
    assert_eq!(first.cursor_seq, before);
    let again = create(&server, &me, endpoint("https://hooks.example.com/pc"), "r-1")
        .await
        .expect("the retry answers");
    assert_eq!(again, made, "the retry returns the same endpoint and secret");

    let read = get(&server, &me, &first.id).await.expect("read");
    assert_eq!(read, first);
    let second = create(&server, &me, endpoint("https://hooks.example.com/two"), "")
        .await
        .expect("a second")
        .webhook_endpoint
        .expect("endpoint");
    let listed = list(&server, &me, "").await.expect("listed");
    assert_eq!(
        listed.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        [first.id.as_str(), second.id.as_str()]
    );

    let changed = update(
        &server,
        &me,
        pb::WebhookEndpoint {
            id: first.id.clone(),
            etag: first.etag.clone(),
            description: "refunds".into(),
            event_types: vec!["grant.*".into(), "customer.created".into()],
            state: State::Paused as i32,
            ..Default::default()
        },
        &["description", "event_types", "state"],
    )
    .await
    .expect("updated");
    assert_eq!(changed.description, "refunds");
    assert_eq!(changed.event_types, ["grant.*", "customer.created"]);
    assert_eq!(changed.state, State::Paused as i32);
    assert_ne!(changed.etag, first.etag);
    assert_eq!(changed.url, first.url, "fields outside the mask are kept");
    let stale = update(
        &server,
        &me,
        pb::WebhookEndpoint {
            id: first.id.clone(),
            etag: first.etag.clone(),
            description: "late".into(),
            ..Default::default()
        },
        &["description"],
    );
    refused_without_change(&server, stale, Code::Aborted, "ETAG_MISMATCH").await;

    let deleted = server
        .webhooks(&me)
        .delete_webhook_endpoint(pb::DeleteWebhookEndpointRequest {
            id: first.id.clone(),
            etag: changed.etag.clone(),
        })
        .await
        .expect("deleted")
        .into_inner();
    assert!(deleted.delete_time.is_some());
    // Gone: the owner's refusal is W2's, the operator's NOT_FOUND.
    assert_error(
        get(&server, &me, &first.id).await,
        Code::PermissionDenied,
        "ENDPOINT_NOT_VISIBLE",
    );
    assert_error(
        get(&server, &operator(), &first.id).await,
        Code::NotFound,
        "ENDPOINT_NOT_FOUND",
    );

    // H10: created, updated, deleted, to the owner; never a secret.
    let types: Vec<String> = webhook_events(&server, &me)
        .await
        .into_iter()
        .map(|e| e.r#type)
        .collect();
    assert_eq!(
        types,
        [
            "webhook_endpoint.created",
            "webhook_endpoint.created",
            "webhook_endpoint.updated",
            "webhook_endpoint.deleted"
        ]
    );
    for event in server.events().await {
        assert!(
            !format!("{event:?}").contains(&made.secret),
            "an event holds the secret"
        );
    }
    // H5: sealed at rest: the plain secret is in no row.
    use sea_orm::{ConnectionTrait, Statement};
    let db = server.server.store().connection();
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT secret FROM webhook_endpoints",
        ))
        .await
        .expect("read the rows");
    assert_eq!(rows.len(), 1);
    for row in rows {
        let stored: String = row.try_get("", "secret").expect("secret column");
        assert!(
            !stored.contains(made.secret.trim_start_matches("whsec_")),
            "stored in the clear"
        );
    }
}

/// H10: endpoint events reach the owner, the operator and services, carry
/// no customer_id, and no other partner or customer admin sees them.
#[tokio::test]
async fn h10_endpoint_events_reach_owner_operator_and_service_only() {
    let server = quiet_server(system()).await;
    let (owner, customer_row) = reseller_with_customer(&server).await;
    let other = server.create_partner(pb::partner::Kind::DirectReseller).await;
    let made = create(
        &server,
        &partner(&owner.id),
        pb::WebhookEndpoint {
            customer_id: customer_row.id.clone(),
            ..endpoint("https://hooks.example.com/pc")
        },
        "",
    )
    .await
    .expect("created with a customer filter of its own customer");
    let id = made.webhook_endpoint.expect("endpoint").id;
    for who in [partner(&owner.id), operator(), service()] {
        let events = webhook_events(&server, &who).await;
        assert_eq!(events.len(), 1, "{who:?}");
        assert_eq!(events[0].subject_id, id);
        assert!(events[0].customer_id.is_empty(), "E2: no customer admin sees it");
    }
    assert!(webhook_events(&server, &partner(&other.id)).await.is_empty());
    assert!(webhook_events(&server, &customer(&customer_row.id)).await.is_empty());
}

/// H1: the operator registers for itself; nobody registers for another
/// partner; customers' admins and services neither register nor (admins)
/// read; services read; a suspended partner is refused (P4).
#[tokio::test]
async fn h1_who_may_register_read_and_change_endpoints() {
    let server = quiet_server(system()).await;
    let (owner, customer_row) = reseller_with_customer(&server).await;
    let other = server.create_partner(pb::partner::Kind::DirectReseller).await;
    let ops = create(&server, &operator(), endpoint("https://ops.example.com/hook"), "")
        .await
        .expect("the operator registers for itself")
        .webhook_endpoint
        .expect("endpoint");
    assert!(ops.partner_id.is_empty(), "the operator's names no partner");
    let theirs = create(&server, &partner(&owner.id), endpoint("https://a.example.com/"), "")
        .await
        .expect("created")
        .webhook_endpoint
        .expect("endpoint");
    // For another partner: refused, whoever asks.
    for who in [partner(&other.id), operator()] {
        let named = pb::WebhookEndpoint {
            partner_id: owner.id.clone(),
            ..endpoint("https://x.example.com/")
        };
        refused_without_change(
            &server,
            create(&server, &who, named, ""),
            Code::PermissionDenied,
            "PARTNER_NOT_VISIBLE",
        )
        .await;
    }
    for who in [customer(&customer_row.id), service()] {
        refused_without_change(
            &server,
            create(&server, &who, endpoint("https://x.example.com/"), ""),
            Code::PermissionDenied,
            "ROLE_NOT_ALLOWED",
        )
        .await;
    }
    assert_error(
        get(&server, &customer(&customer_row.id), &theirs.id).await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    );
    // Services and the operator read every endpoint, partners their own.
    for who in [service(), operator()] {
        assert_eq!(get(&server, &who, &theirs.id).await.expect("read"), theirs);
        let all = list(&server, &who, "").await.expect("listed");
        assert_eq!(all.len(), 2);
        assert_eq!(
            list(&server, &who, &owner.id).await.expect("listed"),
            std::slice::from_ref(&theirs)
        );
    }
    assert_error(
        list(&server, &partner(&other.id), &owner.id).await,
        Code::PermissionDenied,
        "ENDPOINT_NOT_VISIBLE",
    );
    assert!(list(&server, &partner(&other.id), "").await.expect("own").is_empty());
    // The operator changes a partner's endpoint; a service may not.
    update(
        &server,
        &operator(),
        pb::WebhookEndpoint {
            id: theirs.id.clone(),
            description: "set by ops".into(),
            ..Default::default()
        },
        &["description"],
    )
    .await
    .expect("the operator changes it");
    let services = service();
    let by_service = update(
        &server,
        &services,
        pb::WebhookEndpoint {
            id: theirs.id.clone(),
            description: "nope".into(),
            ..Default::default()
        },
        &["description"],
    );
    refused_without_change(&server, by_service, Code::PermissionDenied, "ROLE_NOT_ALLOWED").await;
    // P4.
    server
        .set_partner_status(&owner.id, pb::partner::Status::Suspended)
        .await;
    assert_error(
        get(&server, &partner(&owner.id), &theirs.id).await,
        Code::PermissionDenied,
        "PARTNER_NOT_ACTIVE",
    );
    refused_without_change(
        &server,
        create(&server, &partner(&owner.id), endpoint("https://b.example.com/"), ""),
        Code::PermissionDenied,
        "PARTNER_NOT_ACTIVE",
    )
    .await;
}

/// H1, W1: at most 10 endpoints per owner (the operator has its own 10).
#[tokio::test]
async fn h1_an_owner_keeps_at_most_10_endpoints() {
    let server = quiet_server(system()).await;
    let owner = server.create_partner(pb::partner::Kind::DirectReseller).await;
    for i in 0..10 {
        create(
            &server,
            &partner(&owner.id),
            endpoint(&format!("https://h{i}.example.com/")),
            "",
        )
        .await
        .expect("within the limit");
    }
    refused_without_change(
        &server,
        create(&server, &partner(&owner.id), endpoint("https://h10.example.com/"), ""),
        Code::ResourceExhausted,
        "ENDPOINT_LIMIT_REACHED",
    )
    .await;
    create(&server, &operator(), endpoint("https://ops.example.com/"), "")
        .await
        .expect("the operator's count is its own");
}

/// H1 (as C4): a customer filter names a customer the owner may read; the
/// operator's names one that exists.
#[tokio::test]
async fn h1_a_customer_filter_must_be_readable_by_the_owner() {
    let server = quiet_server(system()).await;
    let (owner, own_customer) = reseller_with_customer(&server).await;
    let (_, foreign) = reseller_with_customer(&server).await;
    let filtered = |customer_id: &str| pb::WebhookEndpoint {
        customer_id: customer_id.into(),
        ..endpoint("https://hooks.example.com/")
    };
    let me = partner(&owner.id);
    for id in [foreign.id.clone(), random_id()] {
        refused_without_change(
            &server,
            create(&server, &me, filtered(&id), ""),
            Code::PermissionDenied,
            "NO_RELATIONSHIP",
        )
        .await;
    }
    let made = create(&server, &me, filtered(&own_customer.id), "")
        .await
        .expect("its own customer")
        .webhook_endpoint
        .expect("endpoint");
    assert_eq!(made.customer_id, own_customer.id);
    let moved = update(
        &server,
        &me,
        pb::WebhookEndpoint {
            id: made.id.clone(),
            customer_id: foreign.id.clone(),
            ..Default::default()
        },
        &["customer_id"],
    );
    refused_without_change(&server, moved, Code::PermissionDenied, "NO_RELATIONSHIP").await;
    let cleared = update(
        &server,
        &me,
        pb::WebhookEndpoint {
            id: made.id.clone(),
            ..Default::default()
        },
        &["customer_id"],
    )
    .await
    .expect("the filter removed");
    assert!(cleared.customer_id.is_empty());
    refused_without_change(
        &server,
        create(&server, &operator(), filtered(&random_id()), ""),
        Code::NotFound,
        "CUSTOMER_NOT_FOUND",
    )
    .await;
    create(&server, &operator(), filtered(&foreign.id), "")
        .await
        .expect("the operator reads every customer");
}

/// H1, H2, W3: bad input is INVALID_ARGUMENT naming its field (or H2's
/// reason), and nothing is stored.
#[tokio::test]
async fn h2_bad_endpoints_are_invalid_and_store_nothing() {
    let server = quiet_server(system()).await;
    let owner = server.create_partner(pb::partner::Kind::DirectReseller).await;
    let me = partner(&owner.id);
    let long_url = format!("https://hooks.example.com/{}", "a".repeat(3000));
    let too_many: Vec<String> = (0..51).map(|_| "grant.created".to_owned()).collect();
    let cases: Vec<(&str, pb::WebhookEndpoint, &str)> = vec![
        ("http", endpoint("http://hooks.example.com/"), "INVALID_FIELD"),
        (
            "private IP",
            endpoint("https://10.1.2.3/hook"),
            "ENDPOINT_URL_FORBIDDEN",
        ),
        ("loopback", endpoint("https://127.0.0.2/hook"), "ENDPOINT_URL_FORBIDDEN"),
        ("v6 loopback", endpoint("https://[::1]/hook"), "ENDPOINT_URL_FORBIDDEN"),
        (
            "decimal private",
            endpoint("https://167772161/"),
            "ENDPOINT_URL_FORBIDDEN",
        ),
        (
            "mapped",
            endpoint("https://[::ffff:192.168.0.1]/"),
            "ENDPOINT_URL_FORBIDDEN",
        ),
        (
            "userinfo",
            endpoint("https://user:pw@hooks.example.com/"),
            "INVALID_FIELD",
        ),
        ("fragment", endpoint("https://hooks.example.com/#x"), "INVALID_FIELD"),
        ("3 KB", endpoint(&long_url), "INVALID_FIELD"),
        (
            "51 types",
            pb::WebhookEndpoint {
                event_types: too_many,
                ..endpoint("https://hooks.example.com/")
            },
            "INVALID_FIELD",
        ),
        (
            "unknown type",
            pb::WebhookEndpoint {
                event_types: vec!["grant.exploded".into()],
                ..endpoint("https://hooks.example.com/")
            },
            "INVALID_FIELD",
        ),
        (
            "max_in_flight 0",
            pb::WebhookEndpoint {
                max_in_flight: Some(0),
                ..endpoint("https://hooks.example.com/")
            },
            "INVALID_FIELD",
        ),
        (
            "max_in_flight 51",
            pb::WebhookEndpoint {
                max_in_flight: Some(51),
                ..endpoint("https://hooks.example.com/")
            },
            "INVALID_FIELD",
        ),
        (
            "no mode",
            pb::WebhookEndpoint {
                delivery_mode: 0,
                ..endpoint("https://hooks.example.com/")
            },
            "INVALID_FIELD",
        ),
        (
            "description",
            pb::WebhookEndpoint {
                description: "d".repeat(501),
                ..endpoint("https://hooks.example.com/")
            },
            "INVALID_FIELD",
        ),
    ];
    for (case, body, expected) in cases {
        let before = last_seq(&server).await;
        let status = assert_error(create(&server, &me, body, "").await, Code::InvalidArgument, expected);
        assert_eq!(last_seq(&server).await, before, "{case}: nothing is stored");
        assert!(
            violated_fields(&status)
                .iter()
                .any(|f| f.starts_with("webhook_endpoint.")),
            "{case}: {status:?}"
        );
    }
    let negative = server
        .webhooks(&me)
        .create_webhook_endpoint(pb::CreateWebhookEndpointRequest {
            webhook_endpoint: Some(endpoint("https://hooks.example.com/")),
            request_id: String::new(),
            start_after_seq: Some(-1),
        })
        .await;
    refused_without_change(&server, async { negative }, Code::InvalidArgument, "INVALID_FIELD").await;
    assert!(
        list(&server, &me, "").await.expect("listed").is_empty(),
        "nothing stored"
    );
    // On update: max_in_flight 0 and DISABLED are refused too.
    let made = create(&server, &me, endpoint("https://hooks.example.com/"), "")
        .await
        .expect("created")
        .webhook_endpoint
        .expect("endpoint");
    for (body, paths) in [
        (
            pb::WebhookEndpoint {
                id: made.id.clone(),
                max_in_flight: Some(0),
                ..Default::default()
            },
            &["max_in_flight"][..],
        ),
        (
            pb::WebhookEndpoint {
                id: made.id.clone(),
                state: State::Disabled as i32,
                ..Default::default()
            },
            &["state"][..],
        ),
        (
            pb::WebhookEndpoint {
                id: made.id.clone(),
                url: "https://169.254.169.254/latest".into(),
                ..Default::default()
            },
            &["url"][..],
        ),
    ] {
        refused_without_change(
            &server,
            update(&server, &me, body, paths),
            Code::InvalidArgument,
            if paths == ["url"] {
                "ENDPOINT_URL_FORBIDDEN"
            } else {
                "INVALID_FIELD"
            },
        )
        .await;
    }
}

/// H9: a rotation returns a new secret; the previous one signs for the
/// overlap (24 h unless set); rotating inside it is ROTATION_IN_PROGRESS
/// unless overlap is 0, which stops the old ones at once.
#[tokio::test]
async fn h9_rotation_overlaps_and_refuses_a_second_rotation_inside_it() {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000_000));
    let server = quiet_server(clock.clone()).await;
    let owner = server.create_partner(pb::partner::Kind::DirectReseller).await;
    let me = partner(&owner.id);
    let made = create(&server, &me, endpoint("https://hooks.example.com/"), "")
        .await
        .expect("created");
    let first = made.webhook_endpoint.expect("endpoint");
    let rotated = rotate(&server, &me, &first.id, &first.etag, None)
        .await
        .expect("rotated");
    assert_secret(&rotated.secret);
    assert_ne!(rotated.secret, made.secret);
    let after = rotated.webhook_endpoint.expect("endpoint");
    let expire = after.previous_secret_expire_time.expect("an overlap");
    let now_seconds = 1_800_000_000;
    assert_eq!(expire.seconds, now_seconds + 86_400, "24 h unless set");
    assert_ne!(after.etag, first.etag);
    refused_without_change(
        &server,
        rotate(&server, &me, &first.id, "", Some(std::time::Duration::from_secs(3600))),
        Code::FailedPrecondition,
        "ROTATION_IN_PROGRESS",
    )
    .await;
    refused_without_change(
        &server,
        rotate(&server, &me, &first.id, &first.etag, Some(std::time::Duration::ZERO)),
        Code::Aborted,
        "ETAG_MISMATCH",
    )
    .await;
    let compromised = rotate(&server, &me, &first.id, "", Some(std::time::Duration::ZERO))
        .await
        .expect("overlap 0 rotates inside an overlap");
    assert!(
        compromised
            .webhook_endpoint
            .expect("endpoint")
            .previous_secret_expire_time
            .is_none()
    );
    // After an overlap has passed a rotation is allowed again.
    rotate(&server, &me, &first.id, "", Some(std::time::Duration::from_secs(60)))
        .await
        .expect("rotated");
    clock.advance(61 * 1_000_000);
    rotate(&server, &me, &first.id, "", Some(std::time::Duration::from_secs(60)))
        .await
        .expect("the overlap is over");
    refused_without_change(
        &server,
        rotate(
            &server,
            &me,
            &first.id,
            "",
            Some(std::time::Duration::from_secs(8 * 86_400)),
        ),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;
    let types: Vec<String> = webhook_events(&server, &me)
        .await
        .into_iter()
        .map(|e| e.r#type)
        .collect();
    assert_eq!(
        types.iter().filter(|t| *t == "webhook_endpoint.secret_rotated").count(),
        4
    );
}

/// H4, H8: an endpoint starts after start_after_seq when given (beyond the
/// latest seq is refused); a replay from above its cursor is
/// AFTER_SEQ_AHEAD; replaying changes nothing E1 records.
#[tokio::test]
async fn h8_replay_from_above_the_cursor_is_after_seq_ahead() {
    let server = quiet_server(system()).await;
    let owner = server.create_partner(pb::partner::Kind::DirectReseller).await;
    let me = partner(&owner.id);
    let latest = last_seq(&server).await;
    let starting = |after: i64| {
        let mut client = server.webhooks(&me);
        async move {
            client
                .create_webhook_endpoint(pb::CreateWebhookEndpointRequest {
                    webhook_endpoint: Some(endpoint("https://hooks.example.com/")),
                    request_id: String::new(),
                    start_after_seq: Some(after),
                })
                .await
        }
    };
    refused_without_change(
        &server,
        async { starting(latest + 5).await.map(|r| r.into_inner()) },
        Code::FailedPrecondition,
        "AFTER_SEQ_AHEAD",
    )
    .await;
    let made = starting(0)
        .await
        .expect("from the start")
        .into_inner()
        .webhook_endpoint
        .expect("endpoint");
    assert_eq!(made.cursor_seq, 0);
    let status = refused_without_change(
        &server,
        replay(&server, &me, &made.id, 1),
        Code::FailedPrecondition,
        "AFTER_SEQ_AHEAD",
    )
    .await;
    assert!(status.message().contains("cursor_seq 0"), "{status:?}");
    refused_without_change(
        &server,
        replay(&server, &me, &made.id, -1),
        Code::InvalidArgument,
        "INVALID_FIELD",
    )
    .await;
    let replayed = without_change(&server, replay(&server, &me, &made.id, 0)).await;
    assert_eq!(replayed.expect("a replay of nothing yet"), 0);
    let read = get(&server, &me, &made.id).await.expect("read");
    assert_eq!(read.etag, made.etag, "a replay moves no etag");
}
