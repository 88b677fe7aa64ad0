//! `[relationships]`: the settings of the RelationshipService, its sweep
//! and its access index.

use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};

use crate::domain::rules;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelationshipSettings {
    /// The page that accepts invitations; the url adds the query (I3).
    pub invitation_base_url: String,
    /// I3: days until an invitation expires when the request does not say.
    pub invitation_default_days: i32,
    /// How often expired grants and invitations are recorded (D4, I5).
    #[serde(with = "super::values::duration")]
    pub sweep_interval: Duration,
    /// E3: events buffered per WatchEvents stream before the consumer is
    /// considered too slow.
    pub watch_buffer: usize,
    /// E3: how often a stream looks for events written by other replicas.
    #[serde(with = "super::values::duration")]
    pub watch_poll: Duration,
    /// E3: how long a full buffer may stay full before the consumer is
    /// closed as too slow.
    #[serde(with = "super::values::duration")]
    pub watch_grace: Duration,
    /// Access checks from the in-memory index fed by the event log (A1,
    /// A3), or from the store on each check.
    pub access_index: bool,
    /// The most customers the index holds at once; others are read from
    /// the store when a check needs them (and then held).
    pub access_index_customers: usize,
    /// Turns true when the server shuts down: open streams end at once.
    /// The server's own, never configured.
    #[serde(skip, default = "never")]
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

/// No server: a signal that never fires.
fn never() -> tokio::sync::watch::Receiver<bool> {
    tokio::sync::watch::channel(false).1
}

impl Default for RelationshipSettings {
    fn default() -> Self {
        RelationshipSettings {
            invitation_base_url: "https://partner.example/invitations/accept".to_owned(),
            invitation_default_days: rules::DEFAULT_INVITATION_DAYS,
            sweep_interval: Duration::from_secs(60),
            watch_buffer: 1024,
            watch_poll: Duration::from_millis(500),
            watch_grace: Duration::from_secs(5),
            access_index: true,
            access_index_customers: 200_000,
            shutdown: never(),
        }
    }
}

impl RelationshipSettings {
    pub(super) fn check(&mut self) -> Result<(), String> {
        if !(1..=rules::MAX_INVITATION_DAYS).contains(&self.invitation_default_days) {
            return Err(format!(
                "invitation_default_days must be between 1 and {}",
                rules::MAX_INVITATION_DAYS
            ));
        }
        if self.access_index_customers == 0 {
            return Err(
                "access_index_customers must be at least 1 (set access_index = false to decide checks from the store)"
                    .to_owned(),
            );
        }
        // Below these a stream or the sweep would spin.
        self.watch_buffer = self.watch_buffer.max(2);
        self.watch_poll = self.watch_poll.max(Duration::from_millis(10));
        self.sweep_interval = self.sweep_interval.max(Duration::from_secs(1));
        Ok(())
    }
}

/// The flags of `[relationships]`.
#[derive(Args, Clone, Debug, Default, Serialize)]
#[command(next_help_heading = "Relationships")]
pub struct RelationshipArgs {
    /// The page that accepts invitations; an invitation's url adds its code.
    #[arg(long)]
    pub invitation_base_url: Option<String>,
    /// Days until an invitation expires when the request does not say
    /// (1 to 365).
    #[arg(long)]
    pub invitation_default_days: Option<i32>,
    /// How often expired grants and invitations are recorded, e.g. 60s.
    #[arg(long, value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub sweep_interval: Option<Duration>,
    /// Events buffered per WatchEvents stream before its consumer counts as
    /// too slow.
    #[arg(long)]
    pub watch_buffer: Option<usize>,
    /// How often a WatchEvents stream looks for events of other replicas,
    /// e.g. 500ms.
    #[arg(long, value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub watch_poll: Option<Duration>,
    /// How long a full WatchEvents buffer may stay full before its consumer
    /// is closed as too slow, e.g. 5s.
    #[arg(long, value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub watch_grace: Option<Duration>,
    /// Access checks from an index in memory, kept current from the event
    /// log (false: every check reads the store).
    #[arg(long)]
    pub access_index: Option<bool>,
    /// The most customers the access index holds at once.
    #[arg(long)]
    pub access_index_customers: Option<usize>,
}
