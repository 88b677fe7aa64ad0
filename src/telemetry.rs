//! Logs, and optionally traces: one `tracing` subscriber (text or JSON
//! lines), and, when an OTLP endpoint is configured, the same spans
//! exported over OTLP/gRPC to an OpenTelemetry collector. Every RPC's span
//! and closing line come from the gRPC adapters' trace layer
//! (`api::trace`), which also links each span to the caller's trace.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::LogFormat;

/// What `init` installed; `shutdown` sends the spans still buffered.
#[must_use = "shut it down at exit, or the last spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Flushes and stops the span export, if there is one.
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(error) = provider.shutdown()
        {
            tracing::warn!(%error, "the last spans could not be exported");
        }
    }
}

/// Installs the global subscriber; `RUST_LOG` overrides the default `info`.
/// With `otlp_endpoint` (e.g. `http://127.0.0.1:4317`) the spans are also
/// exported there, in batches; `service` names this process in them.
/// Must run inside the Tokio runtime when exporting.
pub fn init(format: LogFormat, otlp_endpoint: Option<&str>, service: &str) -> Result<Telemetry, String> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let provider = match otlp_endpoint {
        Some(endpoint) => Some(exporter(endpoint, service)?),
        None => None,
    };
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let text = (format == LogFormat::Text).then(|| tracing_subscriber::fmt::layer().with_target(false).with_ansi(ansi));
    let json = (format == LogFormat::Json).then(|| {
        tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_ansi(ansi)
            .json()
            .flatten_event(true)
    });
    let spans = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("partnercenter")));
    // A second init (e.g. in tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(text)
        .with(json)
        .with(spans)
        .try_init();
    Ok(Telemetry { provider })
}

fn exporter(endpoint: &str, service: &str) -> Result<SdkTracerProvider, String> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()
        .map_err(|error| format!("cannot export spans to the OTLP endpoint {endpoint}: {error}"))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service.to_owned())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}
