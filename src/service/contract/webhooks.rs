//! The WebhookService's contract (H1-H10): the `Webhooks` trait and its
//! commands and results. It is served by the RelationshipService's process
//! (DOMAIN.md, Deployment), so it has no remote implementation: no other
//! service calls it.

use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use crate::domain::Result;
use crate::domain::model::{
    DeliveryError, DeliveryMode, DeliveryState, EndpointState, WebhookDelivery, WebhookEndpoint,
};
use crate::domain::paging::Page;
use crate::domain::principal::Principal;

/// The WebhookService in domain types: one function per RPC.
#[async_trait]
pub trait Webhooks: Send + Sync + 'static {
    /// H1, H4, H5: a new endpoint and its secret.
    async fn create_webhook_endpoint(
        &self,
        principal: &Principal,
        command: CreateWebhookEndpoint,
    ) -> Result<WithSecret>;

    /// H1.
    async fn get_webhook_endpoint(&self, principal: &Principal, id: &str) -> Result<WebhookEndpoint>;

    /// H1.
    async fn list_webhook_endpoints(
        &self,
        principal: &Principal,
        command: ListWebhookEndpoints,
    ) -> Result<Page<WebhookEndpoint>>;

    /// H1, H7.
    async fn update_webhook_endpoint(
        &self,
        principal: &Principal,
        command: UpdateWebhookEndpoint,
    ) -> Result<WebhookEndpoint>;

    /// H1, H10.
    async fn delete_webhook_endpoint(&self, principal: &Principal, command: EndpointRef) -> Result<WebhookEndpoint>;

    /// H9.
    async fn rotate_webhook_secret(&self, principal: &Principal, command: RotateWebhookSecret) -> Result<WithSecret>;

    /// H8.
    async fn replay_webhook_events(&self, principal: &Principal, command: ReplayWebhookEvents) -> Result<Replayed>;

    /// H10.
    async fn list_webhook_deliveries(
        &self,
        principal: &Principal,
        command: ListWebhookDeliveries,
    ) -> Result<Page<WebhookDelivery>>;

    /// H10.
    async fn send_test_webhook(&self, principal: &Principal, id: &str) -> Result<TestSent>;
}

/// H1: a new endpoint, its form checked. The owner is the caller: a
/// partner's own, or the operator's.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CreateWebhookEndpoint {
    /// Empty or the calling partner itself: an endpoint is its caller's.
    pub partner_id: Option<String>,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub customer_id: Option<String>,
    pub delivery_mode: DeliveryMode,
    pub max_in_flight: i32,
    /// H4: None: after the latest seq.
    pub start_after_seq: Option<i64>,
    pub request_id: Option<String>,
}

/// An endpoint and its signing secret (H5): the replies of Create and
/// Rotate, the only ones that show it.
#[derive(Clone, Debug, PartialEq)]
pub struct WithSecret {
    pub endpoint: WebhookEndpoint,
    pub secret: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ListWebhookEndpoints {
    pub partner_id: Option<String>,
    pub page_size: i32,
    pub page_token: String,
}

/// H1: the fields update_mask names (None: kept).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct UpdateWebhookEndpoint {
    pub id: String,
    /// Empty: not checked.
    pub etag: String,
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// Some(None): the filter removed.
    pub customer_id: Option<Option<String>>,
    pub delivery_mode: Option<DeliveryMode>,
    pub max_in_flight: Option<i32>,
    /// ACTIVE or PAUSED only.
    pub state: Option<EndpointState>,
}

/// An endpoint named with its etag (empty: not checked).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EndpointRef {
    pub id: String,
    pub etag: String,
}

/// H9: `overlap` within 0-7 days (unset: 24 h, decided by the adapter).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RotateWebhookSecret {
    pub id: String,
    pub etag: String,
    pub overlap: Duration,
}

/// H8.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ReplayWebhookEvents {
    pub id: String,
    pub after_seq: i64,
    pub only_failed: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Replayed {
    pub endpoint: WebhookEndpoint,
    pub count: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ListWebhookDeliveries {
    pub endpoint_id: String,
    pub state: Option<DeliveryState>,
    pub page_size: i32,
    pub page_token: String,
}

/// H10: what a test send got back.
#[derive(Clone, Debug, PartialEq)]
pub struct TestSent {
    pub webhook_id: String,
    pub status_code: Option<u16>,
    pub error: Option<DeliveryError>,
    pub latency: Duration,
}
