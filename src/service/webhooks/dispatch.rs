//! H3-H7: the dispatcher. It runs in the RelationshipService's process
//! (on every replica; they share the work through the store's conditional
//! updates and leases) and, each cycle, for each ACTIVE endpoint whose
//! owner is ACTIVE: gives delivery rows to the events after its cursor
//! that its owner reads and its filters admit (H3, H4), leases what is
//! due (H6) and sends it, signed (H5). The schedule runs on the store's
//! clock, so tests move days in milliseconds. A store fault ends the
//! cycle and marks nothing (W4): a lease not recorded expires, and its
//! delivery is sent again under the same webhook-id.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};

use super::send;
use crate::domain::model::{
    DeliveryError, DeliveryMode, DisabledReason, EndpointState, Micros, PartnerStatus, WebhookDelivery, WebhookEndpoint,
};
use crate::domain::ports::EventJson;
use crate::domain::principal::Principal;
use crate::domain::{Reason, Result, rules};
use crate::metrics::{AttemptLabels, METRICS, ReasonLabels};
use crate::outbound::{Attempt, SecretSealer, WebhookClient};
use crate::service::contract::partners::Partners;
use crate::store::{DispatchTarget, EventAudience, EventFilter, Outcome, RecordedAttempt, Store};

/// H6, H7: the schedule and the dispatcher's pace (configuration).
#[derive(Clone, Debug)]
pub struct DispatchSettings {
    pub retry_schedule: Vec<Duration>,
    pub jitter: f64,
    pub disable_after: Duration,
    /// How often it looks for other replicas' events and due retries.
    pub poll: Duration,
    /// H4: an attempt's lease.
    pub lease: Duration,
}

/// The most attempts this process has in flight at once, over every
/// endpoint (each endpoint's own limit is H6's).
const MAX_SENDS: usize = 256;
/// Events given delivery rows per endpoint and cycle.
const FILL_BATCH: u64 = 500;

pub struct Dispatcher {
    store: Store,
    partners: Arc<dyn Partners>,
    reader: Principal,
    sealer: Arc<SecretSealer>,
    client: Arc<WebhookClient>,
    encoder: Arc<dyn EventJson>,
    settings: DispatchSettings,
    sends: Arc<Semaphore>,
    /// This process's lease token: a lease names who holds it.
    token: String,
    /// An attempt of this process ended: its endpoint has room again.
    ended: Notify,
}

fn micros(duration: Duration) -> Micros {
    i64::try_from(duration.as_micros()).unwrap_or(Micros::MAX)
}

impl Dispatcher {
    pub fn new(
        store: Store,
        partners: Arc<dyn Partners>,
        sealer: Arc<SecretSealer>,
        client: Arc<WebhookClient>,
        encoder: Arc<dyn EventJson>,
        settings: DispatchSettings,
    ) -> Self {
        Dispatcher {
            store,
            partners,
            reader: Principal::Service {
                subject: "webhook-dispatcher".into(),
            },
            sealer,
            client,
            encoder,
            settings,
            sends: Arc::new(Semaphore::new(MAX_SENDS)),
            token: crate::store::new_id(),
            ended: Notify::new(),
        }
    }

    /// Runs until the task is aborted: a cycle after every commit of this
    /// process, and at least every `poll` (other replicas' events, retries
    /// coming due).
    pub async fn run(self: Arc<Self>) {
        let mut commits = self.store.subscribe_commits();
        loop {
            let more = match self.cycle().await {
                Ok(more) => more,
                Err(error) => {
                    tracing::warn!(%error, "webhook dispatch stopped for this cycle; nothing was marked, retrying");
                    false
                }
            };
            if more {
                tokio::task::yield_now().await;
                continue;
            }
            tokio::select! {
                changed = commits.changed() => {
                    if changed.is_err() {
                        tokio::time::sleep(self.settings.poll).await;
                    }
                }
                // Without this, a backlog would go at max_in_flight per poll.
                () = self.ended.notified() => {}
                () = tokio::time::sleep(self.settings.poll) => {}
            }
        }
    }

    /// One pass over the ACTIVE endpoints; true when an endpoint has more
    /// events waiting for rows than one pass gives.
    async fn cycle(self: &Arc<Self>) -> Result<bool> {
        let targets = self.store.active_webhook_endpoints().await?;
        let mut owners: HashMap<String, bool> = HashMap::new();
        let mut more = false;
        for target in targets {
            if !self.owner_active(&target.endpoint, &mut owners).await? {
                // H3, P4: nothing is sent; the clocks stop (H7).
                if target.held_since.is_none() {
                    self.store.hold_endpoint(&target.endpoint.id, self.store.now()).await?;
                }
                continue;
            }
            if let Some(since) = target.held_since {
                self.store
                    .release_endpoint(&target.endpoint.id, since, self.store.now())
                    .await?;
            }
            more |= self.fill(&target).await?;
            let lease_until = self.store.now().saturating_add(micros(self.settings.lease));
            let claimed = self
                .store
                .claim_deliveries(&target.endpoint, &self.token, lease_until)
                .await?;
            for delivery in claimed {
                let Ok(permit) = self.sends.clone().acquire_owned().await else {
                    return Ok(false);
                };
                let dispatcher = self.clone();
                let endpoint = target.endpoint.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    let seq = delivery.seq;
                    if let Err(error) = dispatcher.attempt(&endpoint, delivery).await {
                        tracing::warn!(%error, webhook_endpoint_id = %endpoint.id, seq, "a webhook attempt was not recorded; its lease will expire and it goes again");
                    }
                    dispatcher.ended.notify_one();
                });
            }
        }
        Ok(more)
    }

    /// H3: the operator's endpoints always; a partner's while it is ACTIVE
    /// (read once per cycle).
    async fn owner_active(&self, endpoint: &WebhookEndpoint, owners: &mut HashMap<String, bool>) -> Result<bool> {
        let Some(owner) = &endpoint.partner_id else {
            return Ok(true);
        };
        if let Some(active) = owners.get(owner) {
            return Ok(*active);
        }
        let active = match self.partners.get_partner(&self.reader, owner).await {
            Ok(partner) => partner.status == PartnerStatus::Active,
            Err(error) if error.reason == Reason::PartnerNotFound => false,
            Err(error) => return Err(error),
        };
        owners.insert(owner.clone(), active);
        Ok(active)
    }

    /// H3, H4: delivery rows for the owner's events after the last one
    /// read that the filters admit; the cursor moves to the last row given.
    /// True when a full batch was read (more may wait).
    async fn fill(&self, target: &DispatchTarget) -> Result<bool> {
        let endpoint = &target.endpoint;
        let audience = match &endpoint.partner_id {
            Some(owner) => EventAudience::Partner(owner.clone()),
            None => EventAudience::All,
        };
        let filter = EventFilter {
            audience,
            customer_id: endpoint.customer_id.clone(),
            partner_id: None,
        };
        let events = self.store.list_events(&filter, target.scanned_seq, FILL_BATCH).await?;
        let Some(last) = events.last().map(|event| event.seq) else {
            return Ok(false);
        };
        let rows: Vec<(i64, String)> = events
            .iter()
            .filter(|event| rules::filters_admit(endpoint, &event.event_type, event.resource.customer_id()))
            .map(|event| (event.seq, event.event_type.clone()))
            .collect();
        let moved = self
            .store
            .fill_deliveries(&endpoint.id, target.scanned_seq, last, &rows)
            .await?;
        Ok(moved && events.len() as u64 == FILL_BATCH)
    }

    /// H5-H7: one attempt of a leased delivery, and its outcome recorded.
    async fn attempt(&self, endpoint: &WebhookEndpoint, delivery: WebhookDelivery) -> Result<()> {
        let now = self.store.now();
        let Some(event) = self.store.event(delivery.seq).await? else {
            return Err(crate::domain::Error::internal(format!(
                "delivery {} of endpoint {} names no event",
                delivery.seq, endpoint.id
            )));
        };
        let Some(sealed) = self.store.webhook_secrets(&endpoint.id).await? else {
            // Deleted meanwhile: its deliveries went with it.
            return Ok(());
        };
        let secrets = send::signing_secrets(&self.sealer, &endpoint.id, &sealed, now)?;
        let body = send::body(&event.event_type, event.time, self.encoder.event_json(&event)?)?;
        let webhook_id = rules::webhook_id(delivery.seq);
        let attempt = send::post(&self.client, &endpoint.url, &webhook_id, now, &secrets, body).await?;
        let at = self.store.now();
        let (outcome, disable) = self.judge(endpoint, &delivery, &attempt, at);
        log_attempt(endpoint, &delivery, &attempt, &outcome);
        count_attempt(&attempt, &outcome, event.time, at);
        let recorded = self
            .store
            .record_attempt(&endpoint.id, delivery.seq, &self.token, at, outcome)
            .await?;
        let disable = match recorded {
            RecordedAttempt::LeaseLost => return Ok(()),
            RecordedAttempt::Recorded {
                failing_since: Some(since),
            } if disable.is_none() && at.saturating_sub(since) >= micros(self.settings.disable_after) => {
                Some(DisabledReason::ConsecutiveFailures)
            }
            RecordedAttempt::Recorded { .. } => disable,
        };
        if let Some(reason) = disable {
            self.disable(&endpoint.id, reason).await?;
        }
        Ok(())
    }

    /// H6: what an attempt's answer makes of its delivery, and whether it
    /// disables the endpoint (410: GONE; an ORDERED head out of tries:
    /// HEAD_FAILED).
    fn judge(
        &self,
        endpoint: &WebhookEndpoint,
        delivery: &WebhookDelivery,
        attempt: &Attempt,
        at: Micros,
    ) -> (Outcome, Option<DisabledReason>) {
        let status = attempt.status_code;
        let Some(error) = attempt.error else {
            return (
                Outcome::Delivered {
                    status: status.unwrap_or(200),
                },
                None,
            );
        };
        if status == Some(410) {
            // Kept PENDING: it goes first when the owner sets ACTIVE again.
            return (
                Outcome::Retry {
                    status,
                    error,
                    next_at: at,
                },
                Some(DisabledReason::Gone),
            );
        }
        let attempts_made = usize::try_from(delivery.attempt_count).unwrap_or(0) + 1;
        let retry_after = attempt
            .retry_after
            .filter(|_| status.is_some_and(rules::honours_retry_after));
        match rules::next_attempt_delay(
            &self.settings.retry_schedule,
            self.settings.jitter,
            attempts_made,
            rand::random::<f64>(),
            retry_after,
        ) {
            Some(delay) => (
                Outcome::Retry {
                    status,
                    error,
                    next_at: at.saturating_add(micros(delay)),
                },
                None,
            ),
            None => (
                Outcome::Failed { status, error },
                (endpoint.delivery_mode == DeliveryMode::Ordered).then_some(DisabledReason::HeadFailed),
            ),
        }
    }

    /// H6, H7: the endpoint is DISABLED with its reason and the event that
    /// tells its owner (its other endpoints receive it), if still ACTIVE.
    async fn disable(&self, endpoint_id: &str, reason: DisabledReason) -> Result<()> {
        let mut tx = self.store.begin_write("system:webhooks".to_owned()).await?;
        let Some(mut endpoint) = tx.webhook_endpoint(endpoint_id).await? else {
            return Ok(());
        };
        if endpoint.state != EndpointState::Active {
            return Ok(());
        }
        endpoint.state = EndpointState::Disabled;
        endpoint.disabled_reason = Some(reason);
        tx.update_webhook_endpoint(endpoint, "webhook_endpoint.disabled")
            .await?;
        tx.commit().await?;
        METRICS
            .webhook_endpoints_disabled
            .get_or_create(&ReasonLabels {
                reason: reason.as_str(),
            })
            .inc();
        tracing::warn!(webhook_endpoint_id = %endpoint_id, reason = %reason, "webhook endpoint disabled; its owner sets it ACTIVE to resume from its cursor");
        Ok(())
    }
}

/// The metrics of an attempt: by outcome and error class; a delivery's lag
/// from its event's commit.
fn count_attempt(attempt: &Attempt, outcome: &Outcome, event_time: Micros, at: Micros) {
    let name = match outcome {
        Outcome::Delivered { .. } => "delivered",
        Outcome::Retry { .. } => "retry",
        Outcome::Failed { .. } => "failed",
    };
    METRICS
        .webhook_attempts
        .get_or_create(&AttemptLabels {
            outcome: name,
            error: attempt.error.map_or("", DeliveryError::as_str),
        })
        .inc();
    if matches!(outcome, Outcome::Delivered { .. }) {
        METRICS
            .webhook_lag_seconds
            .observe(at.saturating_sub(event_time).max(0) as f64 / 1e6);
    }
}

fn log_attempt(endpoint: &WebhookEndpoint, delivery: &WebhookDelivery, attempt: &Attempt, outcome: &Outcome) {
    let error = attempt.error.map(DeliveryError::as_str);
    match outcome {
        Outcome::Delivered { .. } => tracing::debug!(
            webhook_endpoint_id = %endpoint.id,
            seq = delivery.seq,
            status = attempt.status_code,
            latency_ms = attempt.latency.as_millis() as u64,
            "webhook delivered"
        ),
        _ => tracing::info!(
            webhook_endpoint_id = %endpoint.id,
            seq = delivery.seq,
            attempt = delivery.attempt_count + 1,
            status = attempt.status_code,
            error,
            outcome = ?outcome,
            "webhook attempt failed"
        ),
    }
}
