//! `[telemetry]`: what the process tells about itself, its logs, its spans
//! and its `/metrics`.

use std::net::SocketAddr;

use clap::Args;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    pub log_format: LogFormat,
    /// Where `/metrics` is served; None ("off"): not served.
    #[serde(with = "super::values::optional_address")]
    pub metrics_listen: Option<SocketAddr>,
    /// The OTLP/gRPC collector the spans are exported to; None: not
    /// exported.
    pub otlp_endpoint: Option<String>,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        TelemetrySettings {
            log_format: LogFormat::Text,
            metrics_listen: Some(SocketAddr::from(([127, 0, 0, 1], 9464))),
            otlp_endpoint: None,
        }
    }
}

impl TelemetrySettings {
    pub(super) fn check(&mut self) -> Result<(), String> {
        self.otlp_endpoint = super::values::peer_url("otlp_endpoint", self.otlp_endpoint.take())?;
        Ok(())
    }
}

/// The flag of every subcommand that logs.
#[derive(Args, Clone, Debug, Default, Serialize)]
#[command(next_help_heading = "Telemetry")]
pub struct LogArgs {
    /// Log format.
    #[arg(long)]
    pub log_format: Option<LogFormat>,
}

/// The flags of `[telemetry]`.
#[derive(Args, Clone, Debug, Default, Serialize)]
#[command(next_help_heading = "Telemetry")]
pub struct TelemetryArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub log: LogArgs,
    /// Prometheus /metrics address HOST:PORT, or "off".
    #[arg(long)]
    pub metrics_listen: Option<String>,
    /// Export the RPC spans over OTLP/gRPC to this collector, e.g.
    /// http://127.0.0.1:4317.
    #[arg(long)]
    pub otlp_endpoint: Option<String>,
}
