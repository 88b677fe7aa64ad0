//! Operations: the Prometheus endpoint and graceful shutdown.

use std::time::Duration;

use partnercenter::api::pb;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic_types::StatusExt;

use crate::support::*;

async fn scrape(server: &TestServer) -> String {
    let addr = server.server.metrics_addr().expect("metrics are served");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: metrics\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

fn value(metrics: &str, line_start: &str) -> f64 {
    metrics
        .lines()
        .find(|line| line.starts_with(line_start))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_rpcs_by_code_latency_events_and_streams() {
    let server = TestServer::start().await;
    let before = scrape(&server).await;
    let method = "/partnercenter.v1.PartnerService/CreatePartner";
    let ok_line = format!("partnercenter_grpc_requests_total{{method=\"{method}\",code=\"Ok\"}}");
    let refused_line = format!("partnercenter_grpc_requests_total{{method=\"{method}\",code=\"PermissionDenied\"}}");

    server.create_partner(pb::partner::Kind::Advisor).await;
    server.create_partner(pb::partner::Kind::Advisor).await;
    let refused = server
        .partners(&service())
        .create_partner(create_partner_request(pb::partner::Kind::Advisor))
        .await;
    assert!(refused.is_err());
    server
        .relationships(&service())
        .check_access(pb::CheckAccessRequest {
            partner_id: partnercenter::store::new_id(),
            customer_id: partnercenter::store::new_id(),
            action: pb::check_access_request::Action::View as i32,
            ..Default::default()
        })
        .await
        .expect("a check of unknown ids is answered");
    let stream = server
        .relationships(&service())
        .watch_events(pb::WatchEventsRequest::default())
        .await
        .unwrap()
        .into_inner();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let after = scrape(&server).await;
    // Servers of other tests share the process's registry: compare deltas.
    assert!(value(&after, &ok_line) - value(&before, &ok_line) >= 2.0, "{after}");
    assert!(
        value(&after, &refused_line) - value(&before, &refused_line) >= 1.0,
        "{after}"
    );
    assert!(
        value(&after, "partnercenter_events_appended_total") - value(&before, "partnercenter_events_appended_total")
            >= 2.0
    );
    let count_line = format!("partnercenter_grpc_request_duration_seconds_count{{method=\"{method}\"}}");
    assert!(
        value(&after, &count_line) - value(&before, &count_line) >= 3.0,
        "{after}"
    );
    assert!(value(&after, "partnercenter_watch_streams ") >= 1.0, "{after}");
    let batches = "partnercenter_access_check_batch_size_count";
    assert!(value(&after, batches) - value(&before, batches) >= 1.0, "{after}");
    assert!(after.contains("partnercenter_db_pool_connections{state=\"idle\"}"));
    drop(stream);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_drains_and_stops_serving() {
    let server = TestServer::start().await;
    server.create_partner(pb::partner::Kind::Advisor).await;
    let addr = server.server.addr().to_string();
    let health = |addr: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_partnercenter"))
            .args(["health", "--addr", addr])
            .output()
            .unwrap()
    };
    let serving = health(&addr);
    assert!(serving.status.success());
    assert_eq!(String::from_utf8_lossy(&serving.stdout).trim(), "SERVING");
    let channel = server.channel.clone();
    let TestServer { server: running, .. } = server;
    tokio::time::timeout(Duration::from_secs(30), running.shutdown())
        .await
        .expect("shutdown finishes within the drain timeout");
    let mut health_client = tonic_health::pb::health_client::HealthClient::new(channel);
    let after = health_client
        .check(tonic_health::pb::HealthCheckRequest { service: String::new() })
        .await;
    assert!(after.is_err(), "a stopped server answers nothing");
    assert!(!health(&addr).status.success(), "the health check fails once stopped");
}

/// Every distinct value of the `method` label in an exposition.
fn method_labels(metrics: &str) -> std::collections::BTreeSet<String> {
    metrics
        .lines()
        .filter_map(|line| line.split("method=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// Calls `path` (any string) with an empty message and no token.
async fn call_path(channel: &tonic::transport::Channel, path: &str) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.expect("ready");
    let path = http::uri::PathAndQuery::try_from(path).expect("path");
    let codec = tonic_prost::ProstCodec::<pb::ListPartnersRequest, pb::ListPartnersResponse>::default();
    grpc.unary(tonic::Request::new(pb::ListPartnersRequest::default()), path, codec)
        .await
        .expect_err("no such method")
}

/// Made-up method paths from unauthenticated callers add no label values:
/// they all count as `unknown`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_label_only_known_methods() {
    let server = TestServer::start().await;
    let before = scrape(&server).await;
    let unknown = |metrics: &str| -> f64 {
        metrics
            .lines()
            .filter(|line| line.starts_with("partnercenter_grpc_requests_total{method=\"unknown\""))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    for i in 0..300 {
        let path = match i % 3 {
            0 => format!("/made.up.Service{i}/Method{i}"),
            1 => format!("/partnercenter.v1.PartnerService/NoSuchMethod{i}"),
            _ => format!("/grpc.health.v1.Health/Probe{i}"),
        };
        // UNAUTHENTICATED when the service exists, UNIMPLEMENTED otherwise.
        let status = call_path(&server.channel, &path).await;
        assert!(
            matches!(status.code(), tonic::Code::Unimplemented | tonic::Code::Unauthenticated),
            "{path}: {status:?}"
        );
        // Every refusal carries an ErrorInfo, tonic's own UNIMPLEMENTED too,
        // and names the fix.
        let info = status
            .get_details_error_info()
            .unwrap_or_else(|| panic!("{path}: no ErrorInfo in {status:?}"));
        if status.code() == tonic::Code::Unimplemented {
            assert_eq!(info.metadata.get("cause").map(String::as_str), Some("METHOD_NOT_FOUND"));
            assert!(status.message().contains("grpcurl"), "{}", status.message());
        }
    }
    let after = scrape(&server).await;
    let new_labels: Vec<String> = method_labels(&after)
        .difference(&method_labels(&before))
        .cloned()
        .collect();
    for label in &new_labels {
        assert!(
            label == "unknown" || label.starts_with("/partnercenter.v1.") || label.starts_with("/grpc."),
            "new label value {label}"
        );
        assert!(
            !label.contains("NoSuchMethod") && !label.contains("made.up") && !label.contains("Probe"),
            "{label}"
        );
    }
    assert!(unknown(&after) - unknown(&before) >= 300.0, "{after}");
}

/// Calls cut by the client's deadline or cancelled by the client are
/// counted with DEADLINE_EXCEEDED and CANCELLED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_calls_cut_by_deadline_or_cancelled() {
    let server = TestServer::start().await;
    let method = "/partnercenter.v1.PartnerService/CreatePartner";
    let deadline_line = format!("partnercenter_grpc_requests_total{{method=\"{method}\",code=\"DeadlineExceeded\"}}");
    let cancelled_line = format!("partnercenter_grpc_requests_total{{method=\"{method}\",code=\"Cancelled\"}}");
    let before = scrape(&server).await;
    // A write waits while another holds the write order.
    let held = server
        .server
        .store()
        .begin_write("test".into())
        .await
        .expect("write order");
    let mut request = tonic::Request::new(pb::CreatePartnerRequest {
        partner: Some(pb::Partner {
            mpn_id: next_mpn_id(),
            display_name: "Late".into(),
            kind: pb::partner::Kind::Advisor as i32,
            ..Default::default()
        }),
        request_id: String::new(),
    });
    request.set_timeout(Duration::from_millis(300));
    let late = server.partners(&operator()).create_partner(request).await;
    // tonic's server ends a call past its grpc-timeout with CANCELLED.
    let code = late.unwrap_err().code();
    assert!(
        matches!(code, tonic::Code::DeadlineExceeded | tonic::Code::Cancelled),
        "{code:?}"
    );

    let mut client = server.partners(&operator());
    let abandoned = tokio::spawn(async move {
        client
            .create_partner(pb::CreatePartnerRequest {
                partner: Some(pb::Partner {
                    mpn_id: next_mpn_id(),
                    display_name: "Abandoned".into(),
                    kind: pb::partner::Kind::Advisor as i32,
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    abandoned.abort();
    let _ = abandoned.await;
    // The server learns of the reset and drops the call, which waits for
    // the write order until then: released earlier, the call could finish
    // before the reset arrives.
    let mut after = String::new();
    for _ in 0..200 {
        after = scrape(&server).await;
        if value(&after, &cancelled_line) - value(&before, &cancelled_line) >= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(held);
    assert!(
        value(&after, &deadline_line) - value(&before, &deadline_line) >= 1.0,
        "{after}"
    );
    assert!(
        value(&after, &cancelled_line) - value(&before, &cancelled_line) >= 1.0,
        "{after}"
    );
}

/// A `serve` child process with JSON logs, and its log lines so far.
struct ServeProcess {
    child: tokio::process::Child,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    seen: Vec<serde_json::Value>,
    _dir: tempfile::TempDir,
}

impl ServeProcess {
    async fn start(listen: &str) -> (Self, String) {
        use tokio::io::AsyncBufReadExt;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("pc.db").display());
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_partnercenter"))
            .args(["serve", "--log-format", "json", "--listen", listen])
            .args(["--metrics-listen", "127.0.0.1:0", "--database-url", &url])
            .env("PARTNERCENTER_JWT_SECRET", SECRET)
            .env_remove("RUST_LOG")
            .env_remove("PARTNERCENTER_CONFIG")
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut process = ServeProcess {
            child,
            lines: tokio::io::BufReader::new(stdout).lines(),
            seen: Vec::new(),
            _dir: dir,
        };
        let serving = process.wait_for("serving gRPC").await;
        let addr = serving["addr"].as_str().expect("addr field").to_owned();
        (process, addr)
    }

    /// Reads lines until one has this message; every line must be JSON.
    async fn wait_for(&mut self, message: &str) -> serde_json::Value {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(30), self.lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("no '{message}' in {:#?}", self.seen))
                .unwrap()
                .unwrap_or_else(|| panic!("the process ended before '{message}': {:#?}", self.seen));
            assert!(!line.contains("Some("), "Rust debug syntax in {line}");
            let json: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
            self.seen.push(json.clone());
            if json["message"] == message {
                return json;
            }
        }
    }

    /// SIGTERM, then every remaining line.
    async fn terminate(mut self) -> Vec<serde_json::Value> {
        let pid = self.child.id().expect("running").to_string();
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(killed.success());
        self.wait_for("server drained and stopped").await;
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("exits")
            .unwrap();
        assert!(status.success(), "{status:?}");
        self.seen
    }
}

/// The closing lines of RPCs of one method.
fn rpc_lines<'a>(lines: &'a [serde_json::Value], method: &str) -> Vec<&'a serde_json::Value> {
    lines
        .iter()
        .filter(|line| line["span"]["method"] == method && line["code"].is_string())
        .collect()
}

/// Logs: JSON lines without Rust debug syntax, the configuration one line
/// per section, client errors at INFO, health and reflection below INFO, the
/// made-up methods as `unknown`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_structured_and_levelled_by_fault() {
    let (process, addr) = ServeProcess::start("127.0.0.1:0").await;
    // One line per section, each short enough to read.
    let sections: Vec<&serde_json::Value> = process
        .seen
        .iter()
        .filter(|line| line["message"] == "configuration")
        .collect();
    let names: Vec<&str> = sections.iter().filter_map(|line| line["section"].as_str()).collect();
    assert_eq!(
        names,
        [
            "server",
            "store",
            "auth",
            "relationships",
            "topology",
            "telemetry",
            "webhooks"
        ],
        "{sections:?}"
    );
    let setting = |section: &str, key: &str| -> String {
        let line = sections
            .iter()
            .find(|line| line["section"] == section)
            .expect("the section is logged");
        let settings = line["settings"].as_str().expect("settings as text");
        assert!(settings.len() < 400, "{settings}");
        settings
            .split(' ')
            .find_map(|pair| pair.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key} missing from [{section}]: {settings}"))
            .to_owned()
    };
    assert_eq!(setting("server", "max_in_flight_rpcs"), "256");
    assert_eq!(setting("server", "listen"), "127.0.0.1:0");
    assert_eq!(setting("auth", "jwt_max_lifetime"), "1day");
    assert_eq!(setting("auth", "jwt_secret"), "<redacted>");
    assert!(setting("store", "database_url").starts_with("sqlite://"));

    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let authority = partnercenter::auth::TokenAuthority::new(SECRET.as_bytes(), "partnercenter", None);
    let token = |principal| Bearer::new(&authority.mint(&principal, 600).unwrap());
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    for _ in 0..3 {
        health
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .unwrap();
    }
    let mut as_operator =
        pb::partner_service_client::PartnerServiceClient::with_interceptor(channel.clone(), token(operator()));
    let created = as_operator
        .create_partner(pb::CreatePartnerRequest {
            partner: Some(pb::Partner {
                mpn_id: next_mpn_id(),
                display_name: "Logged".into(),
                kind: pb::partner::Kind::DirectReseller as i32,
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut as_partner = pb::customer_service_client::CustomerServiceClient::with_interceptor(
        channel.clone(),
        token(partner(&created.id)),
    );
    as_partner
        .create_customer(customer_request(&unique_domain("logged"), None))
        .await
        .unwrap();
    let refused = as_partner.create_customer(customer_request("not a domain", None)).await;
    assert_eq!(refused.unwrap_err().code(), tonic::Code::InvalidArgument);
    let mut as_customer = pb::partner_service_client::PartnerServiceClient::with_interceptor(
        channel.clone(),
        token(customer(&partnercenter::store::new_id())),
    );
    let denied = as_customer
        .create_partner(create_partner_request(pb::partner::Kind::Advisor))
        .await;
    assert_eq!(denied.unwrap_err().code(), tonic::Code::PermissionDenied);
    // W4: a refusal decided inside a write transaction (the duplicate
    // mpn_id is found after BEGIN) drops the transaction unfinished; its
    // connection goes back to the pool healthy, without a warning.
    let mut duplicates = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let mut client = as_operator.clone();
        let mpn_id = created.mpn_id.clone();
        duplicates.spawn(async move {
            client
                .create_partner(pb::CreatePartnerRequest {
                    partner: Some(pb::Partner {
                        mpn_id,
                        display_name: "Duplicate".into(),
                        kind: pb::partner::Kind::DirectReseller as i32,
                        ..Default::default()
                    }),
                    request_id: String::new(),
                })
                .await
        });
    }
    while let Some(duplicate) = duplicates.join_next().await {
        assert_eq!(
            duplicate.expect("joined").unwrap_err().code(),
            tonic::Code::AlreadyExists
        );
    }
    call_path(&channel, "/made.up.Service/Method").await;
    drop((health, as_operator, as_partner, as_customer, channel));

    let lines = process.terminate().await;
    let customer_created = lines
        .iter()
        .find(|line| line["message"] == "customer created")
        .expect("customer created is logged");
    assert_eq!(customer_created["creator"], created.id.as_str(), "{customer_created}");
    assert!(
        rpc_lines(&lines, "/grpc.health.v1.Health/Check").is_empty(),
        "health at DEBUG"
    );
    let denied = rpc_lines(&lines, "/partnercenter.v1.PartnerService/CreatePartner");
    assert!(
        denied
            .iter()
            .any(|line| line["code"] == "PERMISSION_DENIED" && line["level"] == "INFO"),
        "{denied:#?}"
    );
    let invalid = rpc_lines(&lines, "/partnercenter.v1.CustomerService/CreateCustomer");
    assert!(
        invalid
            .iter()
            .any(|line| line["code"] == "INVALID_ARGUMENT" && line["level"] == "INFO"),
        "{invalid:#?}"
    );
    assert!(
        lines
            .iter()
            .all(|line| line["level"] != "WARN" && line["level"] != "ERROR"),
        "no warning or error in a run without faults: {lines:#?}"
    );
    let unknown = rpc_lines(&lines, "unknown");
    assert_eq!(unknown.len(), 1, "{lines:#?}");
    assert!(
        !format!("{lines:?}").contains("made.up"),
        "the made-up path is not logged"
    );
}

/// On shutdown the server as a whole (`""`, what probes ask) turns
/// NOT_SERVING, not only the named services; a health Watch stream carries
/// it, then ends with UNAVAILABLE instead of holding the drain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_turns_the_whole_server_not_serving() {
    use tonic_health::pb::health_check_response::ServingStatus;
    let server = TestServer::start().await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(server.channel.clone());
    let mut watch = health
        .watch(tonic_health::pb::HealthCheckRequest { service: String::new() })
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().expect("a status");
    assert_eq!(first.status, ServingStatus::Serving as i32);
    let TestServer { server: running, .. } = server;
    let stopping = tokio::spawn(running.shutdown());
    let next = tokio::time::timeout(Duration::from_secs(5), watch.message())
        .await
        .expect("a status change")
        .expect("still streaming")
        .expect("a status");
    assert_eq!(next.status, ServingStatus::NotServing as i32);
    let ended = tokio::time::timeout(Duration::from_secs(5), watch.message())
        .await
        .expect("the watch ends at once");
    assert_eq!(ended.expect_err("ends with an error").code(), tonic::Code::Unavailable);
    tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("shutdown is not held for the drain timeout (20 s)")
        .unwrap();
}

fn cli() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_partnercenter"));
    for (name, _) in std::env::vars() {
        if name.starts_with("PARTNERCENTER_") || name == "DATABASE_URL" {
            command.env_remove(name);
        }
    }
    command
}

/// A busy port is named, with the flag that moves it: for gRPC and for
/// /metrics (a second server on one machine).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_a_busy_port_names_the_address_and_the_flag() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("pc.db").display());
    for (listen, metrics, flag) in [
        (busy_addr.as_str(), "off", "--listen"),
        ("127.0.0.1:0", busy_addr.as_str(), "--metrics-listen"),
    ] {
        let output = cli()
            .args([
                "serve",
                "--database-url",
                &url,
                "--listen",
                listen,
                "--metrics-listen",
                metrics,
            ])
            .env("PARTNERCENTER_JWT_SECRET", SECRET)
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&busy_addr), "{stderr}");
        assert!(stderr.contains(flag), "{stderr}");
    }
}

/// `health --addr` and `serve --listen` take host names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_listen_accept_host_names() {
    let server = TestServer::start().await;
    let port = server.server.addr().port();
    let output = cli()
        .args(["health", "--addr", &format!("localhost:{port}")])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "SERVING");
    let (process, addr) = ServeProcess::start("localhost:0").await;
    assert!(addr.starts_with("127.0.0.1:") || addr.starts_with("[::1]:"), "{addr}");
    process.terminate().await;
}

/// `--help` shows every option's default and environment variable.
#[test]
fn help_shows_defaults_and_environment_variables() {
    let output = cli().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "[default: 127.0.0.1:50051]",
        "[env: PARTNERCENTER_LISTEN",
        "[default: 127.0.0.1:9464]",
        "[env: PARTNERCENTER_METRICS_LISTEN",
        "[default: sqlite://partnercenter.db?mode=rwc]",
        "[env: PARTNERCENTER_DATABASE_URL]",
        "[default: 8]",
        "[env: PARTNERCENTER_MAX_CONNECTIONS",
        "[default: text]",
        "[env: PARTNERCENTER_LOG_FORMAT",
        "[env: PARTNERCENTER_CONFIG",
        "[default: 30s] [env: PARTNERCENTER_RPC_TIMEOUT]",
        "[default: 0s] [env: PARTNERCENTER_JWT_LEEWAY]",
    ] {
        assert!(help.contains(expected), "{expected} missing from\n{help}");
    }
}

/// `serve --port` is no flag, but the guess is answered with the one that
/// sets the port.
#[test]
fn serve_port_points_to_listen() {
    let output = cli().args(["serve", "--port", "8080"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "a usage error");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--listen 127.0.0.1:8080"), "{stderr}");
    let bare = cli().args(["serve", "--port"]).output().unwrap();
    assert!(String::from_utf8_lossy(&bare.stderr).contains("--listen 127.0.0.1:PORT"));
}

/// A PostgreSQL that does not answer is retried with a log line per try,
/// then named in one line: where, the URL without its password, and what
/// to check.
#[test]
fn an_unreachable_store_is_retried_aloud_then_named_once() {
    let port = crate::replicas::free_port();
    let url = format!("postgres://pc:hunter2@127.0.0.1:{port}/pc");
    let output = cli()
        .args(["migrate", "--database-url", &url, "--acquire-timeout", "2s"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let logs = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(stderr.matches("cannot connect to PostgreSQL").count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("postgres://pc:<redacted>@127.0.0.1:{port}/pc")),
        "{stderr}"
    );
    assert!(stderr.contains("refused") && stderr.contains("check"), "{stderr}");
    assert!(logs.contains("retrying"), "{logs}");
    assert!(!stderr.contains("hunter2") && !logs.contains("hunter2"));
}

/// A SQLite file in a missing directory: the path and the fix, once.
#[test]
fn a_sqlite_store_that_cannot_open_is_named_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("absent/pc.db").display());
    let output = cli().args(["migrate", "--database-url", &url]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("does not exist").count(), 1, "{stderr}");
    assert!(stderr.contains("mkdir -p"), "{stderr}");
}

/// The planner's statistics of partners (rows first), if ANALYZE ran.
async fn partner_statistics(server: &TestServer) -> Option<String> {
    use sea_orm::{ConnectionTrait, Statement};
    let db = server.server.store().connection();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT stat FROM sqlite_stat1 WHERE tbl = 'partners' AND idx = 'sqlite_autoindex_partners_1'",
        ))
        .await
        .ok()??;
    row.try_get::<String>("", "stat").ok()
}

/// Operations: statistics taken when the store was small are refreshed
/// once it has grown (the sweeper runs this hourly), so the planner keeps
/// seeking by customer rather than scanning whole indexes.
#[tokio::test]
async fn operations_stale_planner_statistics_are_refreshed_as_the_store_grows() {
    use sea_orm::ConnectionTrait;
    let server = TestServer::start().await;
    if server.database_url.starts_with("postgres") {
        // PostgreSQL's autovacuum keeps its own statistics.
        return;
    }
    server.create_partner(pb::partner::Kind::DirectReseller).await;
    let store = server.server.store();
    store
        .connection()
        .execute_unprepared("ANALYZE")
        .await
        .expect("analyzed");
    let small = partner_statistics(&server).await.expect("statistics");
    assert!(small.starts_with("1 "), "{small}");
    for _ in 0..120 {
        server.create_partner(pb::partner::Kind::DirectReseller).await;
    }
    store.optimize().await.expect("optimized");
    let grown = partner_statistics(&server).await.expect("statistics");
    assert!(grown.starts_with("121 "), "stale statistics kept: {grown}");
}
