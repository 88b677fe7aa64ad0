//! WebhookService requests into commands, every field at fault named at
//! once (H1, H2, H6, H8, H9, W3), and an endpoint message back into the
//! domain (an event read through another process's client).

use std::time::Duration;

use crate::api::convert::{micros, optional, present, reply_enum, required, version};
use crate::api::{mask_paths, pb, validated};
use crate::domain::error::Violations;
use crate::domain::model::{DisabledReason, EndpointState, WebhookEndpoint};
use crate::domain::{Error, Result, rules, validate};
use crate::service::contract::webhooks::{
    CreateWebhookEndpoint, EndpointRef, ListWebhookDeliveries, ListWebhookEndpoints, ReplayWebhookEvents,
    RotateWebhookSecret, UpdateWebhookEndpoint,
};

/// H2: a URL checked against the server's allow-list, as stored.
fn url(field: &str, value: &str, allow_hosts: &[String]) -> Result<String> {
    Ok(rules::endpoint_url(field, value, allow_hosts)?.url)
}

/// H1, H7: an owner sets ACTIVE or PAUSED; DISABLED is the service's.
fn settable_state(field: &str, value: i32) -> Result<EndpointState> {
    match required(field, value)? {
        EndpointState::Disabled => Err(Error::invalid(
            field,
            "DISABLED is set by the service; set ACTIVE to resume or PAUSED to stop sending",
        )),
        state => Ok(state),
    }
}

/// H1, H2, H4, H6: a new endpoint's form.
pub fn create(body: pb::CreateWebhookEndpointRequest, allow_hosts: &[String]) -> Result<CreateWebhookEndpoint> {
    let input = body.webhook_endpoint.unwrap_or_default();
    let field = |name: &str| format!("webhook_endpoint.{name}");
    validated! {
        request_id = validate::request_id("request_id", &body.request_id);
        partner_id = validate::optional_id(&field("partner_id"), &input.partner_id);
        url = url(&field("url"), &input.url, allow_hosts);
        description = rules::endpoint_description(&field("description"), &input.description);
        event_types = rules::event_type_filters(&field("event_types"), &input.event_types);
        customer_id = validate::optional_id(&field("customer_id"), &input.customer_id);
        delivery_mode = required(&field("delivery_mode"), input.delivery_mode);
        max_in_flight = rules::max_in_flight(&field("max_in_flight"), input.max_in_flight);
        start_after_seq = match body.start_after_seq {
            Some(seq) if seq < 0 => Err(Error::invalid("start_after_seq", "must be 0 or more")),
            given => Ok(given),
        };
    }
    Ok(CreateWebhookEndpoint {
        partner_id,
        url,
        description,
        event_types,
        customer_id,
        delivery_mode,
        max_in_flight,
        start_after_seq,
        request_id,
    })
}

impl TryFrom<pb::ListWebhookEndpointsRequest> for ListWebhookEndpoints {
    type Error = Error;

    fn try_from(body: pb::ListWebhookEndpointsRequest) -> Result<Self> {
        Ok(ListWebhookEndpoints {
            partner_id: validate::optional_id("partner_id", &body.partner_id)?,
            page_size: body.page_size,
            page_token: body.page_token,
        })
    }
}

/// H1: the id, the etag if given, and the fields update_mask names.
pub fn update(body: pb::UpdateWebhookEndpointRequest, allow_hosts: &[String]) -> Result<UpdateWebhookEndpoint> {
    let input = body.webhook_endpoint.unwrap_or_default();
    let id = validate::id("webhook_endpoint.id", &input.id)?;
    let paths = mask_paths(
        body.update_mask,
        &[
            "url",
            "description",
            "event_types",
            "customer_id",
            "delivery_mode",
            "max_in_flight",
            "state",
        ],
    )?;
    let mut violations = Violations::default();
    let mut command = UpdateWebhookEndpoint {
        id,
        etag: input.etag,
        ..Default::default()
    };
    for path in &paths {
        let field = format!("webhook_endpoint.{path}");
        match path.as_str() {
            "url" => command.url = violations.take(url(&field, &input.url, allow_hosts)),
            "description" => {
                command.description = violations.take(rules::endpoint_description(&field, &input.description));
            }
            "event_types" => {
                command.event_types = violations.take(rules::event_type_filters(&field, &input.event_types));
            }
            "customer_id" => command.customer_id = violations.take(validate::optional_id(&field, &input.customer_id)),
            "delivery_mode" => command.delivery_mode = violations.take(required(&field, input.delivery_mode)),
            "max_in_flight" => {
                // Named by the mask: a value is required (unset reads as 0).
                let given = input.max_in_flight.or(Some(0));
                command.max_in_flight = violations.take(rules::max_in_flight(&field, given));
            }
            _ => command.state = violations.take(settable_state(&field, input.state)),
        }
    }
    violations.into_result()?;
    Ok(command)
}

impl TryFrom<pb::DeleteWebhookEndpointRequest> for EndpointRef {
    type Error = Error;

    fn try_from(body: pb::DeleteWebhookEndpointRequest) -> Result<Self> {
        Ok(EndpointRef {
            id: validate::id("id", &body.id)?,
            etag: body.etag,
        })
    }
}

/// H9: an overlap of 0 to 7 days; unset: 24 h.
fn overlap(field: &str, given: Option<prost_types::Duration>) -> Result<Duration> {
    let Some(given) = given else {
        return Ok(rules::DEFAULT_OVERLAP);
    };
    if given.seconds < 0 || given.nanos < 0 || given.nanos >= 1_000_000_000 {
        return Err(Error::invalid(field, "must be a duration of 0 to 7 days"));
    }
    let overlap = Duration::new(given.seconds as u64, given.nanos as u32);
    rules::rotation_overlap(field, overlap)
}

impl TryFrom<pb::RotateWebhookSecretRequest> for RotateWebhookSecret {
    type Error = Error;

    fn try_from(body: pb::RotateWebhookSecretRequest) -> Result<Self> {
        validated! {
            id = validate::id("id", &body.id);
            overlap = overlap("overlap", body.overlap);
        }
        Ok(RotateWebhookSecret {
            id,
            etag: body.etag,
            overlap,
        })
    }
}

impl TryFrom<pb::ReplayWebhookEventsRequest> for ReplayWebhookEvents {
    type Error = Error;

    fn try_from(body: pb::ReplayWebhookEventsRequest) -> Result<Self> {
        validated! {
            id = validate::id("id", &body.id);
            after_seq = if body.after_seq < 0 {
                Err(Error::invalid("after_seq", "must be 0 or more"))
            } else {
                Ok(body.after_seq)
            };
        }
        Ok(ReplayWebhookEvents {
            id,
            after_seq,
            only_failed: body.only_failed,
        })
    }
}

impl TryFrom<pb::ListWebhookDeliveriesRequest> for ListWebhookDeliveries {
    type Error = Error;

    fn try_from(body: pb::ListWebhookDeliveriesRequest) -> Result<Self> {
        validated! {
            endpoint_id = validate::id("endpoint_id", &body.endpoint_id);
            state = optional("state", body.state);
        }
        Ok(ListWebhookDeliveries {
            endpoint_id,
            state,
            page_size: body.page_size,
            page_token: body.page_token,
        })
    }
}

/// An endpoint in an event read through another process's client.
impl TryFrom<pb::WebhookEndpoint> for WebhookEndpoint {
    type Error = Error;

    fn try_from(message: pb::WebhookEndpoint) -> Result<Self> {
        let disabled_reason = match message.disabled_reason {
            0 => None,
            value => Some(reply_enum::<DisabledReason>("disabled_reason", value)?),
        };
        Ok(WebhookEndpoint {
            version: version("etag", &message.etag)?,
            create_time: micros("create_time", message.create_time)?,
            update_time: micros("update_time", message.update_time)?,
            delivery_mode: reply_enum("delivery_mode", message.delivery_mode)?,
            state: reply_enum("state", message.state)?,
            disabled_reason,
            previous_secret_expire_time: message
                .previous_secret_expire_time
                .map(|time| micros("previous_secret_expire_time", Some(time)))
                .transpose()?,
            delete_time: message
                .delete_time
                .map(|time| micros("delete_time", Some(time)))
                .transpose()?,
            id: message.id,
            partner_id: present(message.partner_id),
            url: message.url,
            description: message.description,
            event_types: message.event_types,
            customer_id: present(message.customer_id),
            max_in_flight: message.max_in_flight.unwrap_or(rules::DEFAULT_MAX_IN_FLIGHT),
            cursor_seq: message.cursor_seq,
        })
    }
}
