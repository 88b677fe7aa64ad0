//! Logs: one `tracing` subscriber (text or JSON) and a tower layer that
//! gives every RPC a span and one closing line with method, gRPC code and
//! latency. Request bodies and metadata are never logged, so neither tokens
//! nor invitation codes reach the log.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber; `RUST_LOG` overrides the default `info`.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    // A second init (e.g. in tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

#[derive(Clone, Copy, Default)]
pub struct GrpcTraceLayer;

impl<S> tower::Layer<S> for GrpcTraceLayer {
    type Service = GrpcTrace<S>;

    fn layer(&self, inner: S) -> GrpcTrace<S> {
        GrpcTrace { inner }
    }
}

#[derive(Clone)]
pub struct GrpcTrace<S> {
    inner: S,
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
        let method = request.uri().path().to_owned();
        let span = tracing::info_span!("rpc", method = %method);
        // The clone/replace idiom: call the service that was polled ready.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let start = Instant::now();
        Box::pin(async move {
            let response = inner.call(request).await?;
            // Errors come "trailers-only", in the headers; successes in the
            // trailers at the end of the body.
            let done = match response.headers().get("grpc-status") {
                Some(code) => {
                    record(&span, &method, code.as_bytes(), start);
                    true
                }
                None => false,
            };
            Ok(response.map(|inner| StatusSpy {
                inner,
                span,
                method,
                start,
                done,
            }))
        })
    }
}

fn record(span: &tracing::Span, method: &str, code: &[u8], start: Instant) {
    let code = tonic::Code::from_bytes(code);
    let elapsed = start.elapsed();
    crate::metrics::METRICS.record_rpc(method, code, elapsed.as_secs_f64());
    let latency_ms = elapsed.as_micros() as f64 / 1000.0;
    let _entered = span.enter();
    match code {
        tonic::Code::Ok => tracing::info!(code = ?code, latency_ms, "rpc finished"),
        tonic::Code::Internal | tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::DataLoss => {
            tracing::error!(code = ?code, latency_ms, "rpc failed")
        }
        _ => tracing::warn!(code = ?code, latency_ms, "rpc refused"),
    }
}

pin_project_lite::pin_project! {
    /// A response body that reports the gRPC status found in its trailers.
    pub struct StatusSpy<B> {
        #[pin]
        inner: B,
        span: tracing::Span,
        method: String,
        start: Instant,
        done: bool,
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
            && !*this.done
            && let Some(code) = frame.trailers_ref().and_then(|t| t.get("grpc-status"))
        {
            *this.done = true;
            record(this.span, this.method, code.as_bytes(), *this.start);
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
