//! `[webhooks]`: push delivery (H2, H5, H6, H7): the hosts that escape the
//! SSRF guard, the key that seals signing secrets, the retry schedule.
//! Lists are written comma-separated, in the file as on the command line.

use std::time::Duration;

use clap::Args;
use serde::{Deserialize, Serialize};

use crate::domain::rules;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// H2: hosts (names or IP literals, no port) reached without the
    /// address check and over http too: for tests and a trusted local
    /// receiver. Comma-separated; empty: none.
    pub webhook_allow_hosts: String,
    /// H5, I3: the key sealing signing secrets and invitation codes in the
    /// store (16 or more bytes). None: derived from the token secret, so
    /// rotating that secret orphans the stored ones; set this to keep them
    /// apart.
    pub webhook_secret_key: Option<String>,
    /// H6: the waits before each retry, comma-separated.
    pub webhook_retry_schedule: String,
    /// H6: each wait is moved by up to this fraction either way (0-1).
    pub webhook_jitter: f64,
    /// H7: attempts all failing this long disable an endpoint.
    #[serde(with = "super::values::duration")]
    pub webhook_disable_after: Duration,
    /// H6: an attempt not answered within this fails as TIMEOUT.
    #[serde(with = "super::values::duration")]
    pub webhook_timeout: Duration,
    /// How often the dispatcher looks for events and due retries when no
    /// write of this process woke it (other replicas' writes).
    #[serde(with = "super::values::duration")]
    pub webhook_poll: Duration,
    /// H4: how long an attempt is leased to the replica making it (a crashed
    /// replica's attempts go again after it); 60s. Tests shorten it.
    #[serde(with = "super::values::duration")]
    pub webhook_lease: Duration,
    /// Whether this process dispatches (one that serves the
    /// RelationshipService); replicas share the work either way (H4).
    pub webhook_dispatch: bool,
}

/// H6's schedule as configuration writes it (`rules::RETRY_SCHEDULE`).
pub const DEFAULT_RETRY_SCHEDULE: &str = "5s,5m,30m,2h,5h,10h,14h,20h,24h";

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            webhook_allow_hosts: String::new(),
            webhook_secret_key: None,
            webhook_retry_schedule: DEFAULT_RETRY_SCHEDULE.to_owned(),
            webhook_jitter: rules::RETRY_JITTER,
            webhook_disable_after: rules::DISABLE_AFTER,
            webhook_timeout: Duration::from_secs(15),
            webhook_poll: Duration::from_millis(250),
            webhook_lease: rules::LEASE,
            webhook_dispatch: true,
        }
    }
}

impl WebhookSettings {
    /// H2: the allow-listed hosts, lower case.
    pub fn allow_hosts(&self) -> Vec<String> {
        self.webhook_allow_hosts
            .split(',')
            .map(|host| host.trim().to_ascii_lowercase())
            .filter(|host| !host.is_empty())
            .collect()
    }

    /// H6: the retry schedule (checked at load).
    pub fn retry_schedule(&self) -> Vec<Duration> {
        parse_schedule(&self.webhook_retry_schedule).unwrap_or_else(|_| rules::RETRY_SCHEDULE.to_vec())
    }

    pub(super) fn check(&mut self) -> Result<(), String> {
        parse_schedule(&self.webhook_retry_schedule)?;
        if !(0.0..=1.0).contains(&self.webhook_jitter) {
            return Err(format!(
                "webhook_jitter must be between 0 and 1 (a fraction of each wait), not {}",
                self.webhook_jitter
            ));
        }
        if let Some(key) = &self.webhook_secret_key
            && key.len() < 16
        {
            return Err("webhook_secret_key is shorter than 16 bytes; use e.g. `openssl rand -base64 32`".to_owned());
        }
        for host in self.allow_hosts() {
            if host.contains(['/', ' ', '@']) || host.contains("://") {
                return Err(format!(
                    "webhook_allow_hosts: '{}' is not a host name or IP address (no scheme, port or path): e.g. 127.0.0.1,localhost",
                    crate::domain::validate::echo_short(&host)
                ));
            }
        }
        // Below these the dispatcher would spin.
        self.webhook_poll = self.webhook_poll.max(Duration::from_millis(10));
        self.webhook_timeout = self.webhook_timeout.max(Duration::from_millis(10));
        if self.webhook_lease <= self.webhook_timeout {
            return Err(format!(
                "webhook_lease ({}) must be longer than webhook_timeout ({}): an attempt still running when its lease ends could be made twice at once",
                humantime::format_duration(self.webhook_lease),
                humantime::format_duration(self.webhook_timeout)
            ));
        }
        Ok(())
    }
}

/// H6: "5s,5m,30m": at least one wait, each a duration with its unit.
fn parse_schedule(text: &str) -> Result<Vec<Duration>, String> {
    let steps: Vec<Duration> = text
        .split(',')
        .map(str::trim)
        .filter(|step| !step.is_empty())
        .map(|step| {
            humantime::parse_duration(step).map_err(|why| {
                format!("webhook_retry_schedule: '{step}' is not a duration ({why}); write e.g. \"5s,5m,30m,2h\"")
            })
        })
        .collect::<Result<_, _>>()?;
    if steps.is_empty() {
        return Err("webhook_retry_schedule needs at least one wait, e.g. \"5s,5m,30m\"".to_owned());
    }
    Ok(steps)
}

/// The flags of `[webhooks]`. The key has none: a flag would show it to
/// anyone who lists the processes.
#[derive(Args, Clone, Debug, Default, Serialize)]
#[command(next_help_heading = "Webhooks")]
pub struct WebhookArgs {
    /// Hosts reached without the SSRF guard, http allowed (comma-separated,
    /// e.g. 127.0.0.1,localhost): for tests and trusted local receivers.
    #[arg(long)]
    pub webhook_allow_hosts: Option<String>,
    /// The waits before each retry, e.g. "5s,5m,30m,2h,5h,10h,14h,20h,24h".
    #[arg(long)]
    pub webhook_retry_schedule: Option<String>,
    /// Each wait moves by up to this fraction either way (0 to 1; 0.2).
    #[arg(long)]
    pub webhook_jitter: Option<f64>,
    /// Attempts all failing this long disable an endpoint, e.g. 5days.
    #[arg(long, value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub webhook_disable_after: Option<Duration>,
    /// An attempt not answered within this fails as TIMEOUT, e.g. 15s.
    #[arg(long, value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub webhook_timeout: Option<Duration>,
    /// How often the dispatcher looks for other replicas' events, e.g. 250ms.
    #[arg(long, value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub webhook_poll: Option<Duration>,
    /// How long an attempt is leased to the replica making it, e.g. 60s.
    #[arg(long, value_parser = humantime::parse_duration)]
    #[serde(with = "humantime_serde")]
    pub webhook_lease: Option<Duration>,
    /// Whether this process sends webhooks (true or false).
    #[arg(long)]
    pub webhook_dispatch: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h6_the_default_schedule_is_the_rules() {
        let settings = WebhookSettings::default();
        assert_eq!(settings.retry_schedule(), rules::RETRY_SCHEDULE.to_vec());
        assert!(parse_schedule("5s,,2h").is_ok());
        assert!(parse_schedule("").is_err());
        assert!(parse_schedule("5").is_err(), "a wait without its unit");
        let mut jittery = WebhookSettings {
            webhook_jitter: 1.5,
            ..WebhookSettings::default()
        };
        assert!(jittery.check().is_err());
        let mut bad_host = WebhookSettings {
            webhook_allow_hosts: "http://127.0.0.1".to_owned(),
            ..WebhookSettings::default()
        };
        assert!(bad_host.check().is_err());
        let hosts = WebhookSettings {
            webhook_allow_hosts: " 127.0.0.1, LocalHost ,".to_owned(),
            ..WebhookSettings::default()
        };
        assert_eq!(hosts.allow_hosts(), ["127.0.0.1", "localhost"]);
    }
}
