//! H8, H10: an endpoint's deliveries as its owner sees them, replaying
//! them, and the test send.

use std::time::Duration;

use super::{LocalWebhooks, endpoint_not_found, require_writer, send};
use crate::domain::model::WebhookDelivery;
use crate::domain::paging::{Page, PageRequest};
use crate::domain::principal::Principal;
use crate::domain::{Result, rules};
use crate::service::contract::webhooks::{ListWebhookDeliveries, ReplayWebhookEvents, Replayed, TestSent};

impl LocalWebhooks {
    /// H8: the deliveries above after_seq (or only the FAILED ones) are
    /// PENDING again; after_seq above the cursor is AFTER_SEQ_AHEAD.
    /// Bookkeeping: no event, the etag stays.
    pub(super) async fn replay_webhook_events(
        &self,
        principal: &Principal,
        command: ReplayWebhookEvents,
    ) -> Result<Replayed> {
        let (mut tx, endpoint) = self.writable(principal, &command.id).await?;
        rules::check_replay(&endpoint, command.after_seq)?;
        let count = tx
            .replay_webhook_deliveries(&endpoint.id, command.after_seq, command.only_failed)
            .await?;
        tx.commit().await?;
        tracing::info!(
            webhook_endpoint_id = %endpoint.id,
            after_seq = command.after_seq,
            only_failed = command.only_failed,
            replayed = count,
            "webhook deliveries replayed"
        );
        Ok(Replayed { endpoint, count })
    }

    /// H10: an endpoint's deliveries in seq order.
    pub(super) async fn list_webhook_deliveries(
        &self,
        principal: &Principal,
        command: ListWebhookDeliveries,
    ) -> Result<Page<WebhookDelivery>> {
        let endpoint = self.readable(principal, &command.endpoint_id).await?;
        let page = PageRequest::parse(
            command.page_size,
            &command.page_token,
            &format!("webhook_deliveries|{}|{:?}", endpoint.id, command.state),
        )?;
        let rows = self
            .store
            .list_webhook_deliveries(&endpoint.id, command.state, &page)
            .await?;
        Ok(page.page(rows, |d: &WebhookDelivery| d.seq.to_string()))
    }

    /// H10: a signed `webhook.test` now, under H2 like every attempt;
    /// nothing is stored and no event is appended.
    pub(super) async fn send_test_webhook(&self, principal: &Principal, id: &str) -> Result<TestSent> {
        require_writer(principal)?;
        let endpoint = self.readable(principal, id).await?;
        let sealed = self
            .store
            .webhook_secrets(&endpoint.id)
            .await?
            .ok_or_else(|| endpoint_not_found(id))?;
        let now = self.store.now();
        let secrets = send::signing_secrets(&self.sealer, &endpoint.id, &sealed, now)?;
        let webhook_id = format!("test_{}", crate::store::new_id());
        let data = serde_json::json!({
            "webhook_endpoint_id": endpoint.id,
            "message": "a test sent by SendTestWebhook; no event was recorded",
        });
        let body = send::body(rules::TEST_EVENT_TYPE, now, data)?;
        let attempt = send::post(&self.client, &endpoint.url, &webhook_id, now, &secrets, body).await?;
        tracing::info!(
            webhook_endpoint_id = %endpoint.id,
            %webhook_id,
            status_code = attempt.status_code,
            error = attempt.error.map(|e| e.as_str()),
            latency_ms = attempt.latency.as_millis() as u64,
            "test webhook sent"
        );
        Ok(TestSent {
            webhook_id,
            status_code: attempt.status_code,
            error: attempt.error,
            latency: attempt.latency.min(Duration::from_secs(3600)),
        })
    }
}
