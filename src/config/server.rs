//! `[server]`: where the gRPC server listens and the limits it serves
//! under.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// The gRPC address; a host name is resolved.
    #[serde(deserialize_with = "super::values::address")]
    pub listen: SocketAddr,
    /// How long in-flight calls may finish after a shutdown is asked.
    #[serde(with = "super::values::duration")]
    pub drain_timeout: Duration,
    pub max_message_bytes: usize,
    /// HTTP/2 streams (calls) one connection may have open at once.
    pub max_concurrent_streams: u32,
    /// Client connections served at once; more wait in the listen backlog.
    pub max_client_connections: usize,
    /// Calls of the three services running at once; more are refused with
    /// RESOURCE_EXHAUSTED at once. Health and reflection are not counted.
    pub max_in_flight_rpcs: usize,
    /// A unary call still running after this is answered DEADLINE_EXCEEDED
    /// (a shorter client deadline wins).
    #[serde(with = "super::values::duration")]
    pub rpc_timeout: Duration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            drain_timeout: Duration::from_secs(20),
            max_message_bytes: 4 << 20,
            max_concurrent_streams: 256,
            max_client_connections: 1024,
            max_in_flight_rpcs: 256,
            rpc_timeout: Duration::from_secs(30),
        }
    }
}

impl ServerSettings {
    pub(super) fn check(&self) -> Result<(), String> {
        super::values::at_least_one(&[
            ("max_concurrent_streams", u64::from(self.max_concurrent_streams)),
            ("max_client_connections", self.max_client_connections as u64),
            ("max_in_flight_rpcs", self.max_in_flight_rpcs as u64),
        ])?;
        if self.rpc_timeout.is_zero() {
            return Err("rpc_timeout must be longer than 0s".to_owned());
        }
        self.check_message_limit()
    }

    /// W3: a list page is cut at MAX_PAGE_BYTES of items, and one resource
    /// stays under 1 MiB; a smaller message limit would fail the pages the
    /// service builds.
    fn check_message_limit(&self) -> Result<(), String> {
        let floor = crate::domain::paging::MAX_PAGE_BYTES * 2;
        if self.max_message_bytes < floor {
            return Err(format!(
                "max_message_bytes must be at least {floor} (list pages carry up to {} bytes of items); it is {}",
                crate::domain::paging::MAX_PAGE_BYTES,
                self.max_message_bytes
            ));
        }
        Ok(())
    }
}

/// The flags of `[server]`.
#[derive(Args, Clone, Debug, Default, Serialize)]
#[command(next_help_heading = "Server")]
pub struct ServerArgs {
    /// gRPC address, HOST:PORT (a host name is resolved).
    #[arg(long)]
    pub listen: Option<String>,
    /// How long in-flight calls may finish after SIGTERM, e.g. 20s.
    #[arg(long, value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub drain_timeout: Option<Duration>,
    /// The largest message received or sent, in bytes (at least 4194304).
    #[arg(long)]
    pub max_message_bytes: Option<usize>,
    /// HTTP/2 streams (calls) one connection may have open at once.
    #[arg(long)]
    pub max_concurrent_streams: Option<u32>,
    /// Client connections served at once; more wait in the listen backlog.
    #[arg(long)]
    pub max_client_connections: Option<usize>,
    /// Calls of the three services running at once; beyond it a call is
    /// refused at once with RESOURCE_EXHAUSTED.
    #[arg(long)]
    pub max_in_flight_rpcs: Option<usize>,
    /// A unary call running longer is answered DEADLINE_EXCEEDED, e.g. 30s.
    #[arg(long, value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub rpc_timeout: Option<Duration>,
}
