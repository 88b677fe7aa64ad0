//! Domain values into WebhookService replies (H1, H5, H8, H10). No reply
//! but Create's and Rotate's carries a secret; the endpoint holds none.

use crate::api::convert::{ProtoEnum, id_or_empty, timestamp};
use crate::api::pb;
use crate::domain::model::{WebhookDelivery, WebhookEndpoint, etag};
use crate::domain::paging::Page;
use crate::domain::rules;
use crate::service::contract::webhooks::{Replayed, TestSent, WithSecret};

impl From<&WebhookEndpoint> for pb::WebhookEndpoint {
    fn from(e: &WebhookEndpoint) -> Self {
        pb::WebhookEndpoint {
            id: e.id.clone(),
            partner_id: id_or_empty(&e.partner_id),
            url: e.url.clone(),
            description: e.description.clone(),
            event_types: e.event_types.clone(),
            customer_id: id_or_empty(&e.customer_id),
            delivery_mode: e.delivery_mode.to_proto(),
            max_in_flight: Some(e.max_in_flight),
            state: e.state.to_proto(),
            disabled_reason: e.disabled_reason.map_or(0, ProtoEnum::to_proto),
            cursor_seq: e.cursor_seq,
            previous_secret_expire_time: e.previous_secret_expire_time.and_then(timestamp),
            etag: etag(e.version),
            create_time: timestamp(e.create_time),
            update_time: timestamp(e.update_time),
            delete_time: e.delete_time.and_then(timestamp),
        }
    }
}

impl From<&WithSecret> for pb::CreateWebhookEndpointResponse {
    fn from(reply: &WithSecret) -> Self {
        pb::CreateWebhookEndpointResponse {
            webhook_endpoint: Some((&reply.endpoint).into()),
            secret: reply.secret.clone(),
        }
    }
}

impl From<&WithSecret> for pb::RotateWebhookSecretResponse {
    fn from(reply: &WithSecret) -> Self {
        pb::RotateWebhookSecretResponse {
            webhook_endpoint: Some((&reply.endpoint).into()),
            secret: reply.secret.clone(),
        }
    }
}

impl From<&Page<WebhookEndpoint>> for pb::ListWebhookEndpointsResponse {
    fn from(page: &Page<WebhookEndpoint>) -> Self {
        pb::ListWebhookEndpointsResponse {
            webhook_endpoints: page.items.iter().map(Into::into).collect(),
            next_page_token: page.next_page_token.clone(),
        }
    }
}

impl From<&Replayed> for pb::ReplayWebhookEventsResponse {
    fn from(reply: &Replayed) -> Self {
        pb::ReplayWebhookEventsResponse {
            webhook_endpoint: Some((&reply.endpoint).into()),
            replayed_count: i64::try_from(reply.count).unwrap_or(i64::MAX),
        }
    }
}

impl From<&WebhookDelivery> for pb::WebhookDelivery {
    fn from(d: &WebhookDelivery) -> Self {
        pb::WebhookDelivery {
            endpoint_id: d.endpoint_id.clone(),
            seq: d.seq,
            event_type: d.event_type.clone(),
            state: d.state.to_proto(),
            attempt_count: d.attempt_count,
            next_attempt_time: d.next_attempt_time.and_then(timestamp),
            last_status_code: d.last_status_code.unwrap_or_default(),
            last_error: d.last_error.map_or(0, ProtoEnum::to_proto),
            last_attempt_time: d.last_attempt_time.and_then(timestamp),
            webhook_id: rules::webhook_id(d.seq),
        }
    }
}

impl From<&Page<WebhookDelivery>> for pb::ListWebhookDeliveriesResponse {
    fn from(page: &Page<WebhookDelivery>) -> Self {
        pb::ListWebhookDeliveriesResponse {
            webhook_deliveries: page.items.iter().map(Into::into).collect(),
            next_page_token: page.next_page_token.clone(),
        }
    }
}

impl From<&TestSent> for pb::SendTestWebhookResponse {
    fn from(sent: &TestSent) -> Self {
        pb::SendTestWebhookResponse {
            webhook_id: sent.webhook_id.clone(),
            status_code: sent.status_code.map_or(0, i32::from),
            error: sent.error.map_or(0, ProtoEnum::to_proto),
            latency: Some(prost_types::Duration {
                seconds: sent.latency.as_secs() as i64,
                nanos: sent.latency.subsec_nanos() as i32,
            }),
        }
    }
}
