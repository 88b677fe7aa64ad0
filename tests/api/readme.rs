//! The README's grpcurl examples and walkthrough, run as written: their
//! ```sh blocks, read from README.md at test time, against the real binary
//! serving on its default SQLite file in a fresh directory. Each section
//! runs twice against the same server: the README promises that its
//! examples can be run again.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

const BINARY: &str = env!("CARGO_BIN_EXE_partnercenter");
/// The address the README's commands use; replaced by the test server's.
const README_ADDR: &str = "127.0.0.1:50051";

/// The ```sh blocks of the README section whose heading starts with
/// `heading`, up to the next `## ` heading, as one script: a reader runs
/// them one after the other in one shell.
fn section_script(readme: &str, heading: &str) -> String {
    let start = readme
        .find(&format!("\n## {heading}"))
        .unwrap_or_else(|| panic!("README has no section \"## {heading}\""));
    let section = &readme[start + 1..];
    let section = section[3..].find("\n## ").map_or(section, |end| &section[..end + 3]);
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in section.lines() {
        match (&mut current, line.trim_end()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "unclosed ```sh block in \"{heading}\"");
    assert!(!blocks.is_empty(), "no ```sh block in \"{heading}\"");
    blocks.concat()
}

/// `partnercenter serve` as a child process; killed when dropped. Its log
/// is kept to be shown when a script fails.
struct Server {
    child: Child,
    addr: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    fn start(dir: &Path) -> Server {
        Server::start_with(dir, "127.0.0.1:0", &[])
    }

    /// `serve` listening on `listen`, with more flags.
    fn start_with(dir: &Path, listen: &str, flags: &[String]) -> Server {
        let mut command = Command::new(BINARY);
        command
            .args([
                "serve",
                "--listen",
                listen,
                "--metrics-listen",
                "off",
                "--log-format",
                "json",
            ])
            .args(flags)
            .current_dir(dir)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        clean_env(&mut command);
        let mut child = command.spawn().expect("partnercenter serve starts");
        let log = Arc::new(Mutex::new(String::new()));
        let (addr_sender, addr_receiver) = mpsc::channel();
        // Drain both pipes for the server's whole life (a full pipe would
        // block its logging), and pass on the address it says it serves on.
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        for (pipe, addr_sender) in [
            (Box::new(stdout) as Box<dyn std::io::Read + Send>, Some(addr_sender)),
            (Box::new(stderr), None),
        ] {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Some(sender) = &addr_sender
                        && let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line)
                        && entry["message"] == "serving gRPC"
                        && let Some(addr) = entry["addr"].as_str()
                    {
                        let _ = sender.send(addr.to_owned());
                    }
                    let mut log = log.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        let addr = match addr_receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "serve did not log \"serving gRPC\":\n{}",
                    log.lock().unwrap_or_else(|p| p.into_inner())
                );
            }
        };
        Server { child, addr, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The README's commands run with the built-in defaults, as a newcomer's
/// would: no configuration from the environment running the tests.
fn clean_env(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("PARTNERCENTER_") || name == "DATABASE_URL" {
            command.env_remove(&name);
        }
    }
}

/// Runs one section's script with `bash -euo pipefail` in `dir`, with two
/// substitutions only: `cargo run -q --release -- ARGS` runs the built
/// binary with ARGS, and the README's address is the server's. Returns its
/// stdout.
fn run_script(round: u32, script: &str, dir: &Path, server: &Server, path: &str) -> String {
    const CARGO_SHIM: &str = r#"cargo() {
  if [ "$#" -ge 4 ] && [ "$1 $2 $3 $4" = "run -q --release --" ]; then
    shift 4
    "$README_BINARY" "$@"
  else
    echo "the README may only use: cargo run -q --release -- ARGS (got: cargo $*)" >&2
    return 2
  fi
}
"#;
    let full = format!("{CARGO_SHIM}{}", script.replace(README_ADDR, &server.addr));
    let mut command = Command::new("bash");
    command
        .args(["-euo", "pipefail", "-c", &full])
        .current_dir(dir)
        .stdin(Stdio::null());
    clean_env(&mut command);
    command.env("PATH", path).env("README_BINARY", BINARY);
    let output = command.output().expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "round {round}: the README's commands failed ({}):\n{script}\n--- stdout\n{stdout}\n--- stderr\n{}\n--- server log\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
    stdout
}

/// PATH with grpcurl's directory first (it may just have been installed),
/// and jq required.
fn tools_path() -> String {
    let grpcurl = crate::grpcurl::grpcurl();
    let mut dirs: Vec<PathBuf> = grpcurl.parent().map(Path::to_path_buf).into_iter().collect();
    dirs.extend(
        std::env::var_os("PATH")
            .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
            .unwrap_or_default(),
    );
    let jq = Command::new("jq").arg("--version").output();
    assert!(
        jq.is_ok_and(|output| output.status.success()),
        "jq is needed to run the README's examples: `apt-get install jq` or `brew install jq`"
    );
    std::env::join_paths(dirs).expect("PATH").to_string_lossy().into_owned()
}

#[test]
fn readme_grpcurl_examples_and_walkthrough_run_as_written_twice() {
    // The README's commands serve its default SQLite file whatever store
    // the suite runs on: a PostgreSQL pass would run the same thing again.
    if crate::support::postgres_admin_url().is_some() {
        eprintln!("the README's scripts run in the SQLite passes, on the README's own store");
        return;
    }
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README.md");
    let grpcurl_examples = section_script(&readme, "Calling it with grpcurl");
    let walkthrough = section_script(&readme, "Walkthrough");
    let webhooks = section_script(&readme, "Webhooks");
    let path = tools_path();
    let dir = tempfile::tempdir().expect("temp dir");
    // Split: the three processes over the README's default store, and the
    // scripts, unchanged, against one of them, which passes the other
    // services' calls on.
    let (server, _peers) = if crate::support::split_topology() {
        let split = crate::replicas::SplitPorts::new();
        let start = |index: usize, services: &str| {
            let listen = format!("127.0.0.1:{}", split.0[index]);
            Server::start_with(dir.path(), &listen, &split.flags(services))
        };
        let partner = start(0, "partner");
        let customer = start(1, "customer");
        (start(2, "relationship"), vec![partner, customer])
    } else {
        (Server::start(dir.path()), Vec::new())
    };

    // The second round runs against the state the first left behind.
    for round in 1..=2 {
        let output = run_script(round, &grpcurl_examples, dir.path(), &server, &path);
        check_grpcurl_examples(round, &output);
        let output = run_script(round, &walkthrough, dir.path(), &server, &path);
        check_walkthrough(round, &output);
        let output = run_script(round, &webhooks, dir.path(), &server, &path);
        check_webhooks(round, &output);
    }
}

/// What "Calling it with grpcurl" shows: the services, a customer created
/// and the same one again for the retry, and the partner's list holding it
/// alone.
fn check_grpcurl_examples(round: u32, output: &str) {
    assert!(
        output.contains("partnercenter.v1.CustomerService") && output.contains("rpc CreateCustomer"),
        "round {round}: list and describe:\n{output}"
    );
    let values = json_values(output);
    let customer = values
        .iter()
        .find(|value| {
            value["domain"]
                .as_str()
                .is_some_and(|domain| domain.starts_with("fabrikam"))
        })
        .unwrap_or_else(|| panic!("round {round}: no CreateCustomer reply:\n{output}"));
    let customer_id = customer["id"].as_str().expect("customer id");
    assert!(
        output.lines().any(|line| line == customer_id),
        "round {round}: the retry returns the same customer {customer_id}:\n{output}"
    );
    let list = values
        .iter()
        .find(|value| value["customers"].is_array())
        .unwrap_or_else(|| panic!("round {round}: no ListCustomers reply:\n{output}"));
    assert_eq!(
        list["customers"].as_array().map(Vec::len),
        Some(1),
        "round {round}: {list}"
    );
    assert_eq!(list["customers"][0]["id"], customer_id);
}

/// What "Webhooks" shows: a test send answered (the example's host does not
/// resolve here, or is not ours: an error class either way, never a
/// refusal), the deliveries listed, nothing failed to replay yet, and the
/// endpoint deleted.
fn check_webhooks(round: u32, output: &str) {
    let values = json_values(output);
    let sent = values
        .iter()
        .find(|value| value["webhookId"].as_str().is_some_and(|id| id.starts_with("test_")))
        .unwrap_or_else(|| panic!("round {round}: no SendTestWebhook reply:\n{output}"));
    assert!(sent["latency"].is_string(), "round {round}: {sent}");
    assert!(
        values
            .iter()
            .any(|value| value == &serde_json::json!({"replayed": "0"})),
        "round {round}: no replay reply:\n{output}"
    );
    assert!(
        values
            .iter()
            .any(|value| value == &serde_json::json!({"deleteTime": true})),
        "round {round}: no DeleteWebhookEndpoint reply:\n{output}"
    );
}

/// The receiver of "Webhooks", run as written (python3 with the
/// `standardwebhooks` package), verifies a test send and a delivery of a
/// server that allows 127.0.0.1, and prints their types.
#[test]
fn readme_webhook_receiver_verifies_what_the_server_sends() {
    if !crate::deliveries::python_verifier() {
        return;
    }
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README.md");
    let start = readme.find("\n## Webhooks").expect("a Webhooks section");
    let section = &readme[start..];
    let code = section
        .split("```python\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("a ```python block in Webhooks");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        use crate::support::*;
        let server = TestServer::start().await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map(|addr| addr.port())
            .expect("a free port");
        let owner = server
            .create_partner(partnercenter::api::pb::partner::Kind::DirectReseller)
            .await;
        let me = partner(&owner.id);
        let made = crate::deliveries::register(
            &server,
            &me,
            &format!("http://127.0.0.1:{port}/"),
            partnercenter::api::pb::webhook_endpoint::DeliveryMode::Ordered,
            &["customer.created"],
        )
        .await;
        let mut receiver = Command::new("python3")
            .args(["-c", code])
            .env("WEBHOOK_SECRET", &made.secret)
            .env("PORT", port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let id = made.webhook_endpoint.expect("endpoint").id;
        let mut answered = None;
        for _ in 0..100 {
            let sent = server
                .webhooks(&me)
                .send_test_webhook(partnercenter::api::pb::SendTestWebhookRequest { id: id.clone() })
                .await
                .expect("a test send")
                .into_inner();
            if sent.status_code != 0 {
                answered = Some(sent.status_code);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(answered, Some(204), "the receiver verified the test send");
        let customer = server.create_customer(&me, None).await.expect("a customer");
        let stdout = receiver.stdout.take().expect("stdout");
        let (lines, printed) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send(line).is_err() {
                    return;
                }
            }
        });
        let next = || printed.recv_timeout(Duration::from_secs(20)).unwrap_or_default();
        let first = next();
        assert!(first.starts_with("webhook.test"), "{first}");
        let second = next();
        assert!(
            second.starts_with("customer.created "),
            "{second} (customer {})",
            customer.id
        );
        let _ = receiver.kill();
        let _ = receiver.wait();
    });
}

/// What the walkthrough says it shows: the three checks allowed true, true,
/// false; D1's grant by roles with its derived scopes, READ_DIRECTORY
/// allowed and MANAGE_USERS not (R1, R7); the group's technician allowed
/// SUPPORT by its assignment, naming the role, another user not (R4, R5,
/// R7); superseded_grants empty after
/// D1's grant, then the reseller's office365 grant after the direct
/// reseller's acceptance (D2); and that grant in the customer's events
/// (E2).
fn check_walkthrough(round: u32, output: &str) {
    let values = json_values(output);
    let allowed: Vec<&serde_json::Value> = values.iter().filter_map(|value| value.get("allowed")).collect();
    // A1, D5 (true, true, false); R7 (true, false); R7 per user (the
    // group's technician, another user); then T3 before and after the
    // transfer.
    assert_eq!(
        allowed,
        [true, true, false, true, false, true, false, false, true],
        "round {round}:\n{output}"
    );
    // R5, R7: the technician's check names the deciding role; the other
    // user is not assigned.
    let per_user: Vec<(Option<&str>, Option<&str>)> = values
        .iter()
        .filter(|v| v.get("allowed").is_some())
        .map(|v| (v["reason"].as_str(), v.get("role").and_then(|r| r.as_str())))
        .skip(5)
        .take(2)
        .collect();
    assert_eq!(
        per_user,
        [
            (Some("ROLE_ASSIGNED"), Some("HELPDESK_ADMIN")),
            (Some("USER_NOT_ASSIGNED"), None)
        ],
        "round {round}:\n{output}"
    );
    // R1: the grant by roles, its scopes derived.
    let by_roles = values
        .iter()
        .find(|value| value.get("roles").is_some() && value.get("scopes").is_some())
        .unwrap_or_else(|| panic!("round {round}: no grant by roles:\n{output}"));
    assert_eq!(
        by_roles["roles"],
        serde_json::json!(["DIRECTORY_READER", "HELPDESK_ADMIN"]),
        "round {round}"
    );
    assert_eq!(by_roles["scopes"], serde_json::json!(["SUPPORT"]), "round {round}");
    let moved = values
        .iter()
        .find(|value| value.get("state").is_some() && value.get("channel").is_some())
        .unwrap_or_else(|| panic!("round {round}: no accepted transfer:\n{output}"));
    assert_eq!(moved["state"], "COMPLETED", "round {round}");
    assert_eq!(moved["channel"], "CSP", "round {round}");
    let superseded: Vec<&Vec<serde_json::Value>> = values.iter().filter_map(serde_json::Value::as_array).collect();
    assert_eq!(
        superseded.len(),
        2,
        "round {round}: two supersededGrants lists:\n{output}"
    );
    assert!(
        superseded[0].is_empty(),
        "round {round}: D1's grant superseded {:?}",
        superseded[0]
    );
    let [grant] = superseded[1].as_slice() else {
        panic!("round {round}: the acceptance superseded {:?}", superseded[1]);
    };
    assert_eq!(grant["service"], "office365", "round {round}: {grant}");
    assert_eq!(grant["state"], "SUPERSEDED", "round {round}: {grant}");
    let in_events = values
        .iter()
        .filter(|value| value.is_object() && value["id"] == grant["id"])
        .count();
    assert_eq!(
        in_events, 1,
        "round {round}: no grant.superseded event for it:\n{output}"
    );
    // G1, G3: the 20-day grant is listed as expiring within 30 days, then
    // extended, and listed no more.
    let expiring: Vec<&serde_json::Value> = values.iter().filter_map(|value| value.get("expiring")).collect();
    let [before, after] = expiring.as_slice() else {
        panic!("round {round}: two expiring lists:\n{output}");
    };
    assert_eq!(before.as_array().map(Vec::len), Some(1), "round {round}: {before}");
    assert_eq!(after.as_array().map(Vec::len), Some(0), "round {round}: {after}");
    let extended = values
        .iter()
        .find(|value| value.get("endTime").is_some() && value.get("noticeDays").is_some())
        .unwrap_or_else(|| panic!("round {round}: no extended grant:\n{output}"));
    assert_eq!(
        extended["noticeDays"], 0,
        "round {round}: 300 days from its end: no mark passed"
    );
}

/// Every JSON value printed at the top level of `output` (grpcurl and jq
/// print pretty, multi-line JSON), in order; other text is skipped.
fn json_values(output: &str) -> Vec<serde_json::Value> {
    let mut values = Vec::new();
    let mut rest = output;
    while let Some(start) = rest.find(['{', '[']) {
        let mut stream = serde_json::Deserializer::from_str(&rest[start..]).into_iter::<serde_json::Value>();
        match stream.next() {
            Some(Ok(value)) => {
                values.push(value);
                rest = &rest[start + stream.byte_offset()..];
            }
            _ => rest = &rest[start + 1..],
        }
    }
    values
}
