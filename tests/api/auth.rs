//! Authentication: every RPC but health and reflection needs a valid token.

use partnercenter::auth::{Claims, TokenAuthority, unix_now};
use partnercenter::pb;
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
        iat: unix_now(),
        exp: unix_now() + 600,
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
            iat: unix_now() - 7200,
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
        let create = client
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
        assert_error(create, Code::Unauthenticated, expected);
    }
    for header in [None, Some("Bearer nope")] {
        let value: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>> = header.map(|h| h.parse().unwrap());
        let mut customers = partnercenter::pb::customer_service_client::CustomerServiceClient::with_interceptor(
            server.channel.clone(),
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
    let mut health = HealthClient::new(server.channel.clone());
    for service in [
        "",
        "partnercenter.v1.PartnerService",
        "partnercenter.v1.CustomerService",
    ] {
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
    assert_error(
        server.create_customer(&service(), None).await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    );
    assert_error(
        server
            .create_subscription(&service(), csp_subscription(&customer.id, &reseller.id))
            .await,
        Code::PermissionDenied,
        "ROLE_NOT_ALLOWED",
    );
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
