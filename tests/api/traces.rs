//! Traces across hops (docs/rules.md, Deployment): in the split deployment one
//! call's trace id is in every log line of every process it passes
//! through, its request id travels with it, and with `--otlp-endpoint` each
//! process exports its spans over OTLP/gRPC to a real collector (here the
//! generated OTLP trace service, served by the test) as one trace, each
//! hop's span a child of the caller's.

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use partnercenter::api::pb;

use crate::replicas::{Replica, SplitPorts, customers, partners, start_process_with};
use crate::support::*;

/// An OTLP collector that keeps every span it is sent, with the
/// `service.name` of the process that sent it.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<(String, opentelemetry_proto::tonic::trace::v1::Span)>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|attribute| attribute.key == "service.name")
                .and_then(|attribute| attribute.value.as_ref())
                .map(|value| format!("{:?}", value.value))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                spans.extend(scope.spans.into_iter().map(|span| (service.clone(), span)));
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Ends a process gracefully (SIGTERM), so it sends its last spans.
fn terminate(replica: &mut Replica) {
    let pid = replica.child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    for _ in 0..100 {
        if replica.child.try_wait().ok().flatten().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_one_trace_crosses_every_hop_in_logs_and_exported_spans() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let collector_addr = listener.local_addr().expect("address");
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let (database_url, _database) = crate::replicas::shared_database(&dir).await;
    let split = SplitPorts::new();
    let otlp = format!("http://{collector_addr}");
    let mut processes = Vec::new();
    let mut logs = Vec::new();
    for (index, services) in ["partner", "customer", "relationship"].into_iter().enumerate() {
        let log = dir.path().join(format!("{services}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let mut flags = split.flags(services);
        flags.extend([
            "--otlp-endpoint".to_owned(),
            otlp.clone(),
            "--log-format".to_owned(),
            "json".to_owned(),
        ]);
        processes.push(
            start_process_with(
                &database_url,
                split.0[index],
                &flags,
                Stdio::from(file),
                "info,partnercenter=debug",
            )
            .await,
        );
        logs.push(log);
    }

    let reseller = partners(&processes[0], &operator())
        .create_partner(create_partner_request(pb::partner::Kind::DirectReseller))
        .await
        .expect("partner")
        .into_inner();
    // A partner's CreateCustomer: the customer process asks the partner
    // process for the caller (P4) and the relationship process for the
    // creator's rights (C1).
    let trace_id = partnercenter::context::new_trace_id();
    let parent_span = "00f067aa0ba902b7";
    let mut request = tonic::Request::new(customer_request(&unique_domain("traced"), None));
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-{parent_span}-01").parse().expect("ascii"),
    );
    request
        .metadata_mut()
        .insert("x-request-id", "req-traced-1".parse().expect("ascii"));
    customers(&processes[1], &partner(&reseller.id))
        .create_customer(request)
        .await
        .expect("customer created");

    for process in &mut processes {
        terminate(process);
    }

    // Logs: every process logged lines of this call with its trace id and
    // its request id.
    for (log, services) in logs.iter().zip(["partner", "customer", "relationship"]) {
        let text = std::fs::read_to_string(log).expect("log readable");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .filter(|line: &serde_json::Value| line["span"]["trace_id"] == trace_id.as_str())
            .collect();
        assert!(
            !lines.is_empty(),
            "the {services} process logged nothing of the trace:\n{text}"
        );
        assert!(
            lines.iter().all(|line| line["span"]["request_id"] == "req-traced-1"),
            "{services}: {lines:?}"
        );
    }

    // Spans: one trace; the customer process's span is the caller's child,
    // and each other hop's span a child of a span of the trace.
    let spans = collector
        .0
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    let traced: Vec<_> = spans
        .iter()
        .filter(|(_, span)| hex(&span.trace_id) == trace_id)
        .collect();
    let services: HashSet<&str> = traced.iter().map(|(service, _)| service.as_str()).collect();
    for expected in [
        "partnercenter-partner",
        "partnercenter-customer",
        "partnercenter-relationship",
    ] {
        assert!(
            services.iter().any(|service| service.contains(expected)),
            "no span of {expected} in the trace; spans: {spans:?}"
        );
    }
    eprintln!(
        "traced spans: {} of {}, services {services:?}",
        traced.len(),
        spans.len()
    );
    let ids: HashSet<String> = traced.iter().map(|(_, span)| hex(&span.span_id)).collect();
    let root = traced
        .iter()
        .find(|(service, _)| service.contains("partnercenter-customer"))
        .map(|(_, span)| hex(&span.parent_span_id));
    assert_eq!(
        root.as_deref(),
        Some(parent_span),
        "the first hop's parent is the caller's span"
    );
    for (service, span) in &traced {
        let parent = hex(&span.parent_span_id);
        assert!(
            parent == parent_span || ids.contains(&parent),
            "a span of {service} has a parent outside the trace: {span:?}"
        );
    }
}
