//! Authentication: every RPC but health and reflection needs a valid token.

use partnercenter::api::pb;
use partnercenter::auth::{Claims, TokenAuthority, unix_now};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::*;

fn claims(role: &str) -> Claims {
    Claims {
        sub: "tester".into(),
        role: role.into(),
        partner_id: None,
        customer_id: None,
        iss: "partnercenter".into(),
        aud: None,
        iat: Some(unix_now()),
        nbf: None,
        exp: unix_now() + 600,
        jti: None,
    }
}

#[tokio::test]
async fn every_rpc_needs_a_valid_token() {
    let server = TestServer::start().await;
    let ours = TokenAuthority::new(SECRET.as_bytes(), "partnercenter", None);
    let forged = TokenAuthority::new(b"another-secret-of-16-bytes", "partnercenter", None)
        .sign(&claims("operator"))
        .unwrap();
    let expired = ours
        .sign(&Claims {
            iat: Some(unix_now() - 7200),
            exp: unix_now() - 3600,
            ..claims("operator")
        })
        .unwrap();
    let wrong_role = ours.sign(&claims("admin")).unwrap();
    let partner_without_id = ours.sign(&claims("partner")).unwrap();
    let wrong_issuer = ours
        .sign(&Claims {
            iss: "someone-else".into(),
            ..claims("operator")
        })
        .unwrap();

    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "TOKEN_MISSING"),
        (Some("Basic dXNlcjpwYXNz".into()), "TOKEN_INVALID"),
        (Some("Bearer not.a.jwt".into()), "TOKEN_INVALID"),
        (Some(format!("Bearer {forged}")), "TOKEN_INVALID"),
        (Some(format!("Bearer {expired}")), "TOKEN_EXPIRED"),
        (Some(format!("Bearer {wrong_role}")), "TOKEN_INVALID"),
        (Some(format!("Bearer {partner_without_id}")), "TOKEN_INVALID"),
        (Some(format!("Bearer {wrong_issuer}")), "TOKEN_INVALID"),
    ];
    for (header, expected) in cases {
        let mut client = server.partners_with_header(header.as_deref());
        let result = client.list_partners(pb::ListPartnersRequest::default()).await;
        assert_error(result, Code::Unauthenticated, expected);
        refused_without_change(
            &server,
            client.create_partner(pb::CreatePartnerRequest {
                partner: Some(pb::Partner {
                    mpn_id: next_mpn_id(),
                    display_name: "Nobody".into(),
                    kind: pb::partner::Kind::DirectReseller as i32,
                    ..Default::default()
                }),
                request_id: String::new(),
            }),
            Code::Unauthenticated,
            expected,
        )
        .await;
    }
    for header in [None, Some("Bearer nope")] {
        let value: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>> = header.map(|h| h.parse().unwrap());
        let mut customers = partnercenter::api::pb::customer_service_client::CustomerServiceClient::with_interceptor(
            server.customer_channel.clone(),
            move |mut request: tonic::Request<()>| {
                if let Some(v) = &value {
                    request.metadata_mut().insert("authorization", v.clone());
                }
                Ok(request)
            },
        );
        let result = customers.list_customers(pb::ListCustomersRequest::default()).await;
        assert_eq!(result.unwrap_err().code(), Code::Unauthenticated);
    }
    assert!(server.events().await.is_empty(), "nothing was written");
}

#[tokio::test]
async fn health_answers_without_a_token() {
    let server = TestServer::start().await;
    for service in [
        "",
        "partnercenter.v1.PartnerService",
        "partnercenter.v1.CustomerService",
        "partnercenter.v1.RelationshipService",
    ] {
        let mut health = HealthClient::new(server.channel_for(service));
        let reply = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply.status, ServingStatus::Serving as i32, "{service}");
    }
}

#[tokio::test]
async fn the_service_role_reads_everything_and_writes_nothing() {
    let server = TestServer::start().await;
    let reseller = server.create_partner(pb::partner::Kind::DirectReseller).await;
    let customer = server.create_customer(&partner(&reseller.id), None).await.unwrap();
    let read = server
        .customers(&service())
        .get_customer(pb::GetCustomerRequest {
            id: customer.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, customer);
    refused_without_change(
        &server,
        server.create_customer(&service(), None),
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    )
    .await;
    refused_without_change(
        &server,
        server.create_subscription(&service(), csp_subscription(&customer.id, &reseller.id)),
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    )
    .await;
}

#[tokio::test]
async fn the_token_subcommand_mints_what_serve_accepts() {
    // No configured secret: the server generates one beside its SQLite file,
    // and `partnercenter token` with the same database URL finds it.
    let server = TestServer::start_with(std::sync::Arc::new(partnercenter::domain::clock::SystemClock), None).await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_partnercenter"))
        .args(["token", "--role", "operator", "--database-url", &server.database_url])
        .env_remove("PARTNERCENTER_JWT_SECRET")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let token = String::from_utf8(output.stdout).unwrap();
    let mut client = server.partners_with_header(Some(&format!("Bearer {}", token.trim())));
    client.list_partners(pb::ListPartnersRequest::default()).await.unwrap();

    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_partnercenter"))
        .args([
            "token",
            "--role",
            "partner",
            "--partner-id",
            "nope",
            "--database-url",
            &server.database_url,
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("must be a UUID"));
}

/// The audience the matrix server is configured with.
const AUDIENCE: &str = "partnercenter-api";

/// Valid claims for the matrix server, as JSON so a case can drop or add
/// any claim.
fn good_claims() -> serde_json::Value {
    let now = unix_now();
    serde_json::json!({
        "sub": "tester",
        "role": "operator",
        "iss": "partnercenter",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
    })
}

fn with(mut claims: serde_json::Value, key: &str, value: serde_json::Value) -> serde_json::Value {
    claims[key] = value;
    claims
}

fn without(mut claims: serde_json::Value, key: &str) -> serde_json::Value {
    claims.as_object_mut().expect("object").remove(key);
    claims
}

fn sign_json(claims: &serde_json::Value, algorithm: jsonwebtoken::Algorithm, secret: &[u8]) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(algorithm),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .expect("signed")
}

/// A token whose header says `alg` but whose signature is HMAC-SHA256 with
/// our secret (or empty for `none`): the algorithm-confusion forgeries.
fn forge_alg(alg: &str, claims: &serde_json::Value) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(serde_json::json!({ "alg": alg, "typ": "JWT" }).to_string());
    let payload = b64.encode(claims.to_string());
    let input = format!("{header}.{payload}");
    let signature = if alg == "none" {
        String::new()
    } else {
        jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
            jsonwebtoken::Algorithm::HS256,
        )
        .expect("hmac")
    };
    format!("{input}.{signature}")
}

async fn matrix_server() -> TestServer {
    TestServer::start_configured(
        std::sync::Arc::new(partnercenter::domain::clock::SystemClock),
        Some(SECRET),
        |config| config.auth.jwt_audience = Some(AUDIENCE.into()),
    )
    .await
}

/// Token matrix: every forged, malformed, mis-scoped or over-long token is
/// UNAUTHENTICATED with an ErrorInfo, on a read and on a write, and
/// nothing is written.
#[tokio::test]
async fn auth_token_matrix_refuses_every_bad_token() {
    use jsonwebtoken::Algorithm::{HS256, HS384, HS512};
    let server = matrix_server().await;
    let now = unix_now();
    let key = SECRET.as_bytes();
    let ours = |claims: serde_json::Value| format!("Bearer {}", sign_json(&claims, HS256, key));
    let partner_id = partnercenter::store::new_id();
    let ten_years = 10 * 365 * 24 * 3600;

    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("no header", None, "TOKEN_MISSING"),
        ("empty header", Some(String::new()), "TOKEN_INVALID"),
        ("scheme only", Some("Bearer".into()), "TOKEN_INVALID"),
        ("scheme and blanks", Some("Bearer    ".into()), "TOKEN_INVALID"),
        ("basic scheme", Some("Basic dXNlcjpwYXNz".into()), "TOKEN_INVALID"),
        (
            "no scheme",
            Some(sign_json(&good_claims(), HS256, key)),
            "TOKEN_INVALID",
        ),
        ("garbage", Some("Bearer not.a.jwt".into()), "TOKEN_INVALID"),
        ("garbage dots", Some("Bearer ....".into()), "TOKEN_INVALID"),
        (
            "garbage base64",
            Some("Bearer eyJhbGciOiJIUzI1NiJ9.e30".into()),
            "TOKEN_INVALID",
        ),
        (
            "alg none",
            Some(format!("Bearer {}", forge_alg("none", &good_claims()))),
            "TOKEN_INVALID",
        ),
        (
            "alg RS256 signed with the secret",
            Some(format!("Bearer {}", forge_alg("RS256", &good_claims()))),
            "TOKEN_INVALID",
        ),
        (
            "alg HS384",
            Some(format!("Bearer {}", sign_json(&good_claims(), HS384, key))),
            "TOKEN_INVALID",
        ),
        (
            "alg HS512",
            Some(format!("Bearer {}", sign_json(&good_claims(), HS512, key))),
            "TOKEN_INVALID",
        ),
        (
            "wrong key",
            Some(format!(
                "Bearer {}",
                sign_json(&good_claims(), HS256, b"another-secret-of-16-bytes")
            )),
            "TOKEN_INVALID",
        ),
        ("no sub", Some(ours(without(good_claims(), "sub"))), "TOKEN_INVALID"),
        ("no role", Some(ours(without(good_claims(), "role"))), "TOKEN_INVALID"),
        ("no iss", Some(ours(without(good_claims(), "iss"))), "TOKEN_INVALID"),
        (
            "wrong iss",
            Some(ours(with(good_claims(), "iss", "someone-else".into()))),
            "TOKEN_INVALID",
        ),
        ("no exp", Some(ours(without(good_claims(), "exp"))), "TOKEN_INVALID"),
        (
            "exp as text",
            Some(ours(with(good_claims(), "exp", (now + 600).to_string().into()))),
            "TOKEN_INVALID",
        ),
        (
            "expired",
            Some(ours(with(
                with(good_claims(), "iat", (now - 7200).into()),
                "exp",
                (now - 3600).into(),
            ))),
            "TOKEN_EXPIRED",
        ),
        (
            "nbf in the future",
            Some(ours(with(good_claims(), "nbf", (now + 300).into()))),
            "TOKEN_INVALID",
        ),
        (
            "ten-year token",
            Some(ours(with(good_claims(), "exp", (now + ten_years).into()))),
            "TOKEN_INVALID",
        ),
        (
            "two-day token without iat",
            Some(ours(with(
                without(good_claims(), "iat"),
                "exp",
                (now + 2 * 86400).into(),
            ))),
            "TOKEN_INVALID",
        ),
        (
            "iat in the future hides a long life",
            Some(ours(with(
                with(good_claims(), "iat", (now + ten_years).into()),
                "exp",
                (now + ten_years + 60).into(),
            ))),
            "TOKEN_INVALID",
        ),
        (
            "aud missing",
            Some(ours(without(good_claims(), "aud"))),
            "TOKEN_INVALID",
        ),
        (
            "aud wrong",
            Some(ours(with(good_claims(), "aud", "another-service".into()))),
            "TOKEN_INVALID",
        ),
        (
            "aud list without ours",
            Some(ours(with(good_claims(), "aud", serde_json::json!(["a", "b"])))),
            "TOKEN_INVALID",
        ),
        (
            "unknown role",
            Some(ours(with(good_claims(), "role", "admin".into()))),
            "TOKEN_INVALID",
        ),
        (
            "role in capitals",
            Some(ours(with(good_claims(), "role", "OPERATOR".into()))),
            "TOKEN_INVALID",
        ),
        (
            "partner without partner_id",
            Some(ours(with(good_claims(), "role", "partner".into()))),
            "TOKEN_INVALID",
        ),
        (
            "partner with a bad partner_id",
            Some(ours(with(
                with(good_claims(), "role", "partner".into()),
                "partner_id",
                "nope".into(),
            ))),
            "TOKEN_INVALID",
        ),
        (
            "operator with a partner_id",
            Some(ours(with(good_claims(), "partner_id", partner_id.clone().into()))),
            "TOKEN_INVALID",
        ),
        (
            "partner with a customer_id",
            Some(ours(with(
                with(
                    with(good_claims(), "role", "partner".into()),
                    "partner_id",
                    partner_id.clone().into(),
                ),
                "customer_id",
                partner_id.clone().into(),
            ))),
            "TOKEN_INVALID",
        ),
        (
            "unknown extra claim",
            Some(ours(with(good_claims(), "admin", true.into()))),
            "TOKEN_INVALID",
        ),
        (
            // An internal token is for this service's processes; one with a
            // tenant claim was minted for something else.
            "internal role with a tenant claim",
            Some(ours(with(
                with(good_claims(), "role", "internal".into()),
                "partner_id",
                partner_id.clone().into(),
            ))),
            "TOKEN_INVALID",
        ),
    ];
    for (case, header, expected) in cases {
        let mut client = server.partners_with_header(header.as_deref());
        let read = client.list_partners(pb::ListPartnersRequest::default()).await;
        let status = match read {
            Ok(_) => panic!("{case}: accepted"),
            Err(status) => status,
        };
        assert_eq!(status.code(), Code::Unauthenticated, "{case}: {status:?}");
        assert_eq!(reason(&status), expected, "{case}: {status:?}");
        let write = client
            .create_partner(pb::CreatePartnerRequest {
                partner: Some(pb::Partner {
                    mpn_id: next_mpn_id(),
                    display_name: "Nobody".into(),
                    kind: pb::partner::Kind::DirectReseller as i32,
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await;
        let status = write.expect_err(case);
        assert_eq!(status.code(), Code::Unauthenticated, "{case}: {status:?}");
        assert_eq!(reason(&status), expected, "{case}: {status:?}");
    }

    // A valid token of a role the RPC does not allow, with a well-formed
    // request: PERMISSION_DENIED.
    let customer_token = ours(with(
        with(good_claims(), "role", "customer".into()),
        "customer_id",
        partnercenter::store::new_id().into(),
    ));
    refused_without_change(
        &server,
        server
            .partners_with_header(Some(&customer_token))
            .create_partner(create_partner_request(pb::partner::Kind::DirectReseller)),
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    )
    .await;
    assert!(server.events().await.is_empty(), "nothing was written");
}

/// The controls of the matrix: what a correct token may look like.
#[tokio::test]
async fn auth_valid_tokens_and_scheme_case_variants_are_accepted() {
    let server = matrix_server().await;
    let now = unix_now();
    let key = SECRET.as_bytes();
    let sign = |claims: serde_json::Value| sign_json(&claims, jsonwebtoken::Algorithm::HS256, key);
    let minted = server.token(&operator());
    let accepted = [
        format!("Bearer {minted}"),
        format!("bearer {minted}"),
        format!("BEARER {minted}"),
        format!("BeArEr {minted}"),
        format!("Bearer   {minted}"),
        format!("Bearer {}", sign(good_claims())),
        format!("Bearer {}", sign(with(good_claims(), "nbf", (now - 60).into()))),
        format!("Bearer {}", sign(without(good_claims(), "iat"))),
        format!("Bearer {}", sign(with(good_claims(), "jti", "abc".into()))),
        format!(
            "Bearer {}",
            sign(with(good_claims(), "aud", serde_json::json!([AUDIENCE])))
        ),
        // Exactly the maximum lifetime (24 h by default).
        format!("Bearer {}", sign(with(good_claims(), "exp", (now + 86400).into()))),
    ];
    for header in accepted {
        server
            .partners_with_header(Some(&header))
            .list_partners(pb::ListPartnersRequest::default())
            .await
            .unwrap_or_else(|status| panic!("{header}: {status:?}"));
    }
}

/// The maximum lifetime is a knob: a server allowing 60 s refuses a token
/// of 10 minutes that the default would take.
#[tokio::test]
async fn auth_token_lifetime_limit_is_configurable() {
    let server = TestServer::start_configured(
        std::sync::Arc::new(partnercenter::domain::clock::SystemClock),
        Some(SECRET),
        |config| config.auth.jwt_max_lifetime = std::time::Duration::from_secs(60),
    )
    .await;
    let ten_minutes = TokenAuthority::new(SECRET.as_bytes(), "partnercenter", None)
        .mint(&operator(), 600)
        .unwrap();
    let refused = server
        .partners_with_header(Some(&format!("Bearer {ten_minutes}")))
        .list_partners(pb::ListPartnersRequest::default())
        .await;
    assert_error(refused, Code::Unauthenticated, "TOKEN_INVALID");
    assert!(server.server.authority().mint(&operator(), 600).is_err());
    let one_minute = server.server.authority().mint(&operator(), 60).unwrap();
    server
        .partners_with_header(Some(&format!("Bearer {one_minute}")))
        .list_partners(pb::ListPartnersRequest::default())
        .await
        .expect("a token within the limit");
}

/// `partnercenter` with no PARTNERCENTER_* or DATABASE_URL from the test's
/// environment.
fn cli(dir: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_partnercenter"));
    command.current_dir(dir);
    for (name, _) in std::env::vars() {
        if name.starts_with("PARTNERCENTER_") || name == "DATABASE_URL" {
            command.env_remove(name);
        }
    }
    command
}

/// `token` where no server ever ran does not invent a secret (its token
/// would be refused): it fails, naming the file and the fixes.
#[test]
fn auth_token_subcommand_never_invents_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let output = cli(dir.path()).args(["token", "--role", "operator"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("partnercenter.db.jwt-secret"), "{stderr}");
    assert!(stderr.contains("--database-url"), "{stderr}");
    assert!(stderr.contains("PARTNERCENTER_JWT_SECRET"), "{stderr}");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing was created"
    );
}

/// `token --ttl` stays within the maximum lifetime the server accepts.
#[test]
fn auth_token_subcommand_ttl_within_the_maximum_lifetime() {
    let dir = tempfile::tempdir().unwrap();
    let long = cli(dir.path())
        .args(["token", "--role", "operator", "--ttl", "315360000"])
        .env("PARTNERCENTER_JWT_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(!long.status.success());
    let stderr = String::from_utf8_lossy(&long.stderr);
    assert!(
        stderr.contains("86400") && stderr.contains("jwt_max_lifetime"),
        "{stderr}"
    );
    let day = cli(dir.path())
        .args(["token", "--role", "operator", "--ttl", "86400"])
        .env("PARTNERCENTER_JWT_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(day.status.success(), "{}", String::from_utf8_lossy(&day.stderr));
    let raised = cli(dir.path())
        .args(["token", "--role", "operator", "--ttl", "172800"])
        .env("PARTNERCENTER_JWT_SECRET", SECRET)
        .env("PARTNERCENTER_JWT_MAX_LIFETIME", "48h")
        .output()
        .unwrap();
    assert!(raised.status.success(), "{}", String::from_utf8_lossy(&raised.stderr));
    // The former spelling, in seconds, still counts, with a warning.
    let former = cli(dir.path())
        .args(["token", "--role", "operator", "--ttl", "36h"])
        .env("PARTNERCENTER_JWT_SECRET", SECRET)
        .env("PARTNERCENTER_JWT_MAX_LIFETIME_SECONDS", "172800")
        .output()
        .unwrap();
    assert!(former.status.success(), "{}", String::from_utf8_lossy(&former.stderr));
    assert!(
        String::from_utf8_lossy(&former.stderr).contains("set PARTNERCENTER_JWT_MAX_LIFETIME=172800s"),
        "{}",
        String::from_utf8_lossy(&former.stderr)
    );
}

/// A token is refused from the second after its `exp`, through the real
/// server and a token of the real `token` command, and the refusal says
/// how to get a new one.
#[tokio::test]
async fn auth_an_expired_token_is_refused_at_once_and_says_to_mint_another() {
    let server = TestServer::start_with(std::sync::Arc::new(partnercenter::domain::clock::SystemClock), None).await;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_partnercenter"))
        .args([
            "token",
            "--role",
            "operator",
            "--ttl",
            "1",
            "--database-url",
            &server.database_url,
        ])
        .env_remove("PARTNERCENTER_JWT_SECRET")
        .env_remove("PARTNERCENTER_CONFIG")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let header = format!("Bearer {}", String::from_utf8(output.stdout).unwrap().trim());
    let mut client = server.partners_with_header(Some(&header));
    client
        .list_partners(pb::ListPartnersRequest::default())
        .await
        .expect("accepted while it lives");
    // `exp` counts whole seconds: two and a bit are past it, whenever in
    // its second the token was minted.
    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    let refused = assert_error(
        client.list_partners(pb::ListPartnersRequest::default()).await,
        Code::Unauthenticated,
        "TOKEN_EXPIRED",
    );
    assert!(refused.message().contains("partnercenter token"), "{refused:?}");
}

/// A token signed with another secret says that the secrets differ and
/// where the server's comes from: its setting, or its file.
#[tokio::test]
async fn auth_a_token_of_another_secret_names_where_the_servers_secret_is() {
    let forged = TokenAuthority::new(b"another-secret-of-16-bytes", "partnercenter", None)
        .sign(&claims("operator"))
        .unwrap();
    let header = format!("Bearer {forged}");
    let configured = TestServer::start().await;
    let refused = assert_error(
        configured
            .partners_with_header(Some(&header))
            .list_partners(pb::ListPartnersRequest::default())
            .await,
        Code::Unauthenticated,
        "TOKEN_INVALID",
    );
    let message = refused.message();
    assert!(
        message.contains("signed with another secret than this server's"),
        "{message}"
    );
    assert!(
        message.contains("PARTNERCENTER_JWT_SECRET") && message.contains("jwt_secret"),
        "{message}"
    );
    let beside = TestServer::start_with(std::sync::Arc::new(partnercenter::domain::clock::SystemClock), None).await;
    let refused = assert_error(
        beside
            .partners_with_header(Some(&header))
            .list_partners(pb::ListPartnersRequest::default())
            .await,
        Code::Unauthenticated,
        "TOKEN_INVALID",
    );
    assert!(refused.message().contains("pc.db.jwt-secret"), "{refused:?}");
}

/// `token` takes exactly the flags of the role asked for, refusing the
/// others as usage errors, and shows only the flags it uses.
#[test]
fn auth_token_flags_fit_the_role() {
    let dir = tempfile::tempdir().unwrap();
    let partner_id = "0190f5c2-7b3a-7000-8000-000000000001";
    let usage = |args: &[&str]| {
        let output = cli(dir.path())
            .arg("token")
            .args(args)
            .env("PARTNERCENTER_JWT_SECRET", SECRET)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: a usage error");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let missing = usage(&["--role", "partner"]);
    assert!(
        missing.contains("--partner-id") && missing.contains("required"),
        "{missing}"
    );
    let missing = usage(&["--role", "customer"]);
    assert!(missing.contains("--customer-id"), "{missing}");
    let stray = usage(&["--role", "operator", "--partner-id", partner_id]);
    assert!(stray.contains("--partner-id is only for --role partner"), "{stray}");
    let stray = usage(&["--role", "partner", "--partner-id", partner_id, "--subject", "me"]);
    assert!(stray.contains("--subject is only for"), "{stray}");
    let malformed = usage(&["--role", "partner", "--partner-id", "nope"]);
    assert!(malformed.contains("must be a UUID"), "{malformed}");

    let minted = cli(dir.path())
        .args(["token", "--role", "partner", "--partner-id", partner_id, "--ttl", "30m"])
        .env("PARTNERCENTER_JWT_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(minted.status.success(), "{}", String::from_utf8_lossy(&minted.stderr));

    let help = cli(dir.path()).args(["token", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for used in [
        "--role",
        "--ttl",
        "--database-url",
        "--jwt-issuer",
        "--jwt-max-lifetime",
        "--config",
    ] {
        assert!(help.contains(used), "{used} missing from\n{help}");
    }
    for unused in [
        "--listen",
        "--max-connections",
        "--services",
        "--log-format",
        "--metrics-listen",
    ] {
        assert!(!help.contains(unused), "{unused} in\n{help}");
    }
}

/// A URL the store cannot open is named as the problem, before the secret;
/// a PostgreSQL URL without a secret names the secret, not the password.
#[test]
fn auth_cli_errors_name_the_url_or_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let typo = cli(dir.path())
        .args([
            "token",
            "--role",
            "operator",
            "--database-url",
            "mysql://pc:hunter2@db/pc",
        ])
        .output()
        .unwrap();
    assert!(!typo.status.success());
    let stderr = String::from_utf8_lossy(&typo.stderr);
    assert!(stderr.contains("neither SQLite nor PostgreSQL"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    let postgres = cli(dir.path())
        .args([
            "token",
            "--role",
            "operator",
            "--database-url",
            "postgres://pc:hunter2@db/pc",
        ])
        .output()
        .unwrap();
    assert!(!postgres.status.success());
    let stderr = String::from_utf8_lossy(&postgres.stderr);
    assert!(stderr.contains("PARTNERCENTER_JWT_SECRET"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
