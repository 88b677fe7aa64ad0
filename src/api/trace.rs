//! The per-RPC trace layer: a tower layer that gives every RPC a span and
//! one closing line with method, gRPC code and latency, and counts it in
//! the metrics. Request bodies and metadata are never logged, so neither
//! tokens nor invitation codes reach the log.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::context::CallContext;

/// The `method` label of paths that name no method this server serves.
pub const UNKNOWN_METHOD: &str = "unknown";

/// Every method path this server serves: the three services, health and
/// reflection. Label values come only from here, so a caller cannot grow
/// the exposition by calling made-up paths.
static KNOWN_METHODS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    use prost::Message as _;
    let mut methods: HashSet<String> = [
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    for encoded in [
        super::pb::FILE_DESCRIPTOR_SET,
        super::pb_internal::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
    ] {
        let Ok(set) = prost_types::FileDescriptorSet::decode(encoded) else {
            continue;
        };
        for file in set.file {
            let package = file.package();
            for service in &file.service {
                for method in &service.method {
                    methods.insert(format!("/{package}.{}/{}", service.name(), method.name()));
                }
            }
        }
    }
    methods
});

/// The label of a request path: the path of a known method, else `unknown`.
pub fn method_label(path: &str) -> &'static str {
    KNOWN_METHODS.get(path).map_or(UNKNOWN_METHOD, |known| known.as_str())
}

/// The layer; `server_deadline` is the server's own deadline of a call
/// (the sooner of it and the client's bounds the call's waits downstream).
#[derive(Clone, Copy, Default)]
pub struct GrpcTraceLayer {
    server_deadline: Option<Duration>,
}

impl GrpcTraceLayer {
    pub fn new(server_deadline: Duration) -> Self {
        GrpcTraceLayer {
            server_deadline: Some(server_deadline),
        }
    }
}

impl<S> tower::Layer<S> for GrpcTraceLayer {
    type Service = GrpcTrace<S>;

    fn layer(&self, inner: S) -> GrpcTrace<S> {
        GrpcTrace {
            inner,
            server_deadline: self.server_deadline,
        }
    }
}

#[derive(Clone)]
pub struct GrpcTrace<S> {
    inner: S,
    server_deadline: Option<Duration>,
}

/// The `traceparent` of a call this one makes: this call's trace, with the
/// exported span as the parent where spans are exported.
pub fn outgoing_traceparent(trace_id: &str) -> String {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let context = tracing::Span::current().context();
    let span = context.span();
    let exported = span.span_context();
    if exported.is_valid() {
        format!("00-{}-{}-01", exported.trace_id(), exported.span_id())
    } else {
        crate::context::traceparent(trace_id)
    }
}

/// The longest `x-request-id` taken from a caller; beyond it, or with other
/// characters than these, the call's trace id stands in.
const MAX_REQUEST_ID_HEADER: usize = 128;

fn request_id_header(value: &http::HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let fits = !text.is_empty()
        && text.len() <= MAX_REQUEST_ID_HEADER
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    fits.then(|| text.to_owned())
}

/// The call's context from its headers: the caller's trace (W3C
/// `traceparent`) or a new one, its `x-request-id`, and its deadline. With
/// span export on, `span` joins the caller's trace, and its trace id (the
/// caller's, or the exporter's new one) is the call's.
fn call_context(
    headers: &http::HeaderMap,
    span: &tracing::Span,
    client_deadline: Option<Duration>,
    server: Option<Duration>,
) -> CallContext {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let parent = headers
        .get("traceparent")
        .and_then(|value| value.to_str().ok())
        .and_then(crate::context::parse_traceparent);
    if let Some((trace_id, span_id)) = parent
        && let (Ok(trace_id), Ok(span_id)) = (
            opentelemetry::trace::TraceId::from_hex(trace_id),
            opentelemetry::trace::SpanId::from_hex(span_id),
        )
    {
        let remote = opentelemetry::trace::SpanContext::new(
            trace_id,
            span_id,
            opentelemetry::trace::TraceFlags::SAMPLED,
            true,
            opentelemetry::trace::TraceState::default(),
        );
        // Without span export there is nothing to join: not an error.
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
    }
    let exported = span.context().span().span_context().clone();
    let trace_id = if exported.is_valid() {
        exported.trace_id().to_string()
    } else {
        parent.map_or_else(crate::context::new_trace_id, |(trace_id, _)| trace_id.to_owned())
    };
    let request_id = headers
        .get("x-request-id")
        .and_then(request_id_header)
        .unwrap_or_else(|| trace_id.clone());
    let budget = match (client_deadline, server) {
        (Some(client), Some(server)) => Some(client.min(server)),
        (one, other) => one.or(other),
    };
    CallContext {
        trace_id,
        request_id,
        deadline: budget.map(|budget| tokio::time::Instant::now() + budget),
    }
}

impl<S, RequestBody, ResponseBody> tower::Service<http::Request<RequestBody>> for GrpcTrace<S>
where
    S: tower::Service<http::Request<RequestBody>, Response = http::Response<ResponseBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    RequestBody: Send + 'static,
{
    type Response = http::Response<StatusSpy<ResponseBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        let path = request.uri().path();
        // Label and log only methods this server has: a made-up path is
        // `unknown`, whoever sends it.
        let method = method_label(path);
        let probe = path.starts_with("/grpc.health.") || path.starts_with("/grpc.reflection.");
        let deadline = request
            .headers()
            .get("grpc-timeout")
            .and_then(|value| parse_grpc_timeout(value.as_bytes()));
        let span = tracing::info_span!(
            "rpc",
            method,
            trace_id = tracing::field::Empty,
            request_id = tracing::field::Empty
        );
        let context = call_context(request.headers(), &span, deadline, self.server_deadline);
        span.record("trace_id", context.trace_id.as_str());
        span.record("request_id", context.request_id.as_str());
        let mut call = CallRecord {
            span,
            method,
            probe,
            start: Instant::now(),
            deadline,
            done: false,
        };
        // The clone/replace idiom: call the service that was polled ready.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let handler_span = call.span.clone();
        Box::pin(async move {
            // Dropped here (the client cancelled, or its deadline passed,
            // before an answer): `call` records that when it drops. Every
            // line the call logs is inside its span, with its trace id.
            let response = context
                .scope(tracing::Instrument::instrument(inner.call(request), handler_span))
                .await?;
            // Errors come "trailers-only", in the headers; successes in the
            // trailers at the end of the body.
            if let Some(code) = response.headers().get("grpc-status") {
                call.finish(tonic::Code::from_bytes(code.as_bytes()));
            }
            Ok(response.map(|inner| StatusSpy { inner, call }))
        })
    }
}

/// One call from its start to its status; records the status once (the
/// metric and the closing log line), or CANCELLED / DEADLINE_EXCEEDED when
/// dropped before any status was seen.
struct CallRecord {
    span: tracing::Span,
    method: &'static str,
    probe: bool,
    start: Instant,
    deadline: Option<Duration>,
    done: bool,
}

impl CallRecord {
    fn finish(&mut self, code: tonic::Code) {
        if self.done {
            return;
        }
        self.done = true;
        record(&self.span, self.method, self.probe, code, self.start);
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        if !self.done {
            let elapsed = self.start.elapsed();
            let code = match self.deadline {
                // The deadline's timer started a little before this call's
                // clock: a small margin.
                Some(deadline) if elapsed + deadline / 50 + Duration::from_millis(2) >= deadline => {
                    tonic::Code::DeadlineExceeded
                }
                _ => tonic::Code::Cancelled,
            };
            self.finish(code);
        }
    }
}

/// The `grpc-timeout` header: up to 8 digits and a unit (H M S m u n).
fn parse_grpc_timeout(value: &[u8]) -> Option<Duration> {
    let (unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 {
        return None;
    }
    let amount: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(amount * 3600),
        b'M' => Duration::from_secs(amount * 60),
        b'S' => Duration::from_secs(amount),
        b'm' => Duration::from_millis(amount),
        b'u' => Duration::from_micros(amount),
        b'n' => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// The canonical name of a code, as gRPC documents it.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Whether a method only reads: Get*, List*, CheckAccess, BatchCheckAccess,
/// WatchEvents (and CheckDomainAvailability).
fn is_read(method: &str) -> bool {
    let name = method.rsplit('/').next().unwrap_or_default();
    ["Get", "List", "Check", "BatchCheck", "Watch"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// Log levels: faults of the service at ERROR, overload and deadlines at
/// WARN (the operator may act on them), every other answer at INFO (a
/// refusal is the client's business, not a server warning), and health
/// and reflection at DEBUG unless the service failed them.
fn record(span: &tracing::Span, method: &'static str, probe: bool, code: tonic::Code, start: Instant) {
    use tonic::Code;
    let elapsed = start.elapsed();
    crate::metrics::METRICS.record_rpc(method, code_label(code), elapsed.as_secs_f64());
    let latency_ms = elapsed.as_micros() as f64 / 1000.0;
    let name = code_name(code);
    let _entered = span.enter();
    match code {
        Code::Internal | Code::Unknown | Code::DataLoss => {
            tracing::error!(code = name, latency_ms, "rpc failed")
        }
        Code::Unavailable | Code::ResourceExhausted | Code::DeadlineExceeded => {
            tracing::warn!(code = name, latency_ms, "rpc not served")
        }
        _ if probe => tracing::debug!(code = name, latency_ms, "rpc finished"),
        // A successful read changes nothing and is the bulk of the traffic
        // (every backend checks access before it acts): at INFO its line
        // cost a sixth of a check's throughput.
        Code::Ok if is_read(method) => tracing::debug!(code = name, latency_ms, "rpc finished"),
        Code::Ok => tracing::info!(code = name, latency_ms, "rpc finished"),
        Code::Cancelled => tracing::info!(code = name, latency_ms, "rpc cancelled by the client"),
        _ => tracing::info!(code = name, latency_ms, "rpc refused"),
    }
}

pin_project_lite::pin_project! {
    /// A response body that reports the gRPC status found in its trailers
    /// (or CANCELLED when dropped before them: the client went away).
    pub struct StatusSpy<B> {
        #[pin]
        inner: B,
        call: CallRecord,
    }
}

impl<B: http_body::Body> http_body::Body for StatusSpy<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && !this.call.done
            && let Some(code) = frame.trailers_ref().and_then(|t| t.get("grpc-status"))
        {
            this.call.finish(tonic::Code::from_bytes(code.as_bytes()));
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The `code` label: the code's name as tonic spells it (`Ok`,
/// `PermissionDenied`, ...).
fn code_label(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "Ok",
        Cancelled => "Cancelled",
        Unknown => "Unknown",
        InvalidArgument => "InvalidArgument",
        DeadlineExceeded => "DeadlineExceeded",
        NotFound => "NotFound",
        AlreadyExists => "AlreadyExists",
        PermissionDenied => "PermissionDenied",
        ResourceExhausted => "ResourceExhausted",
        FailedPrecondition => "FailedPrecondition",
        Aborted => "Aborted",
        OutOfRange => "OutOfRange",
        Unimplemented => "Unimplemented",
        Internal => "Internal",
        Unavailable => "Unavailable",
        DataLoss => "DataLoss",
        Unauthenticated => "Unauthenticated",
    }
}
