//! H1, H2, H4, H7, H9, H10: registering, reading, changing, deleting an
//! endpoint and rotating its secret. Every rule a write rests on (P4, the
//! limit of 10, C4 for a customer filter) is decided inside its
//! transaction (W1).

use std::time::Duration;

use super::{LocalWebhooks, endpoint_not_found, require_reader, require_writer};
use crate::domain::access::{AccessQuery, Action};
use crate::domain::model::{EndpointState, Micros, WebhookEndpoint, etag};
use crate::domain::paging::{Page, PageRequest};
use crate::domain::principal::Principal;
use crate::domain::{Error, Reason, Result, rules};
use crate::outbound::signing;
use crate::service::contract::webhooks::{
    CreateWebhookEndpoint, EndpointRef, ListWebhookEndpoints, RotateWebhookSecret, UpdateWebhookEndpoint, WithSecret,
};
use crate::service::request_key;
use crate::store::{EndpointOwner, WriteTx, new_id};

/// AIP-154: an etag, if given, must be the endpoint's.
fn check_etag(endpoint: &WebhookEndpoint, given: &str) -> Result<()> {
    rules::check_etag(given, &etag(endpoint.version), "webhook endpoint")
}

fn micros(duration: Duration) -> Micros {
    i64::try_from(duration.as_micros()).unwrap_or(Micros::MAX)
}

/// H1: a customer filter names a customer its owner may read (C4, as
/// this write sees it); the operator's names one that exists.
async fn check_customer_filter(tx: &WriteTx, owner: Option<&str>, customer_id: &str) -> Result<()> {
    match owner {
        Some(partner_id) => {
            let query = AccessQuery {
                partner_id: partner_id.to_owned(),
                customer_id: customer_id.to_owned(),
                action: Action::View,
                service: None,
                subscription_id: None,
                user_id: None,
            };
            rules::require_view(&tx.decide(&query).await?)
        }
        None => match tx.customer(customer_id).await? {
            Some(_) => Ok(()),
            None => Err(Error::not_found(
                Reason::CustomerNotFound,
                format!("customer {customer_id} does not exist"),
            )),
        },
    }
}

impl LocalWebhooks {
    fn open_secret(&self, endpoint_id: &str, sealed: &str) -> Result<String> {
        self.sealer.open(sealed, endpoint_id).map_err(|why| {
            Error::internal(format!(
                "the signing secret of webhook endpoint {endpoint_id} does not open ({why}): the server's webhook secret key is not the one that sealed it"
            ))
        })
    }

    /// H1, H4, H5: an ACTIVE partner's endpoint for itself, or the
    /// operator's; at most 10 per owner, counted inside the write (W1).
    pub(super) async fn create_webhook_endpoint(
        &self,
        principal: &Principal,
        command: CreateWebhookEndpoint,
    ) -> Result<WithSecret> {
        let key = request_key(
            principal,
            "CreateWebhookEndpoint",
            command.request_id.as_deref(),
            &command,
        )?;
        require_writer(principal)?;
        // H1: for itself only; the operator's endpoints name no partner.
        if command.partner_id.is_some() && command.partner_id.as_deref() != principal.partner_id() {
            return Err(Error::permission_denied(
                Reason::PartnerNotVisible,
                "an endpoint is registered for its caller: leave partner_id empty (or the calling partner's own id)",
            ));
        }
        self.gate(principal).await?;
        let owner = principal.partner_id().map(str::to_owned);
        let mut tx = self.store.begin_write(principal.actor()).await?;
        if let Some(id) = tx.replayed(key.as_ref()).await? {
            let endpoint = tx.webhook_endpoint(&id).await?.ok_or_else(|| endpoint_not_found(&id))?;
            let sealed = tx.webhook_secrets(&id).await?.ok_or_else(|| endpoint_not_found(&id))?;
            let secret = self.open_secret(&id, &sealed.current)?;
            return Ok(WithSecret { endpoint, secret });
        }
        if let Some(partner_id) = &owner {
            tx.active_caller(partner_id).await?;
        }
        rules::check_endpoint_limit(tx.webhook_endpoints_of(owner.as_deref()).await?)?;
        if let Some(customer_id) = &command.customer_id {
            check_customer_filter(&tx, owner.as_deref(), customer_id).await?;
        }
        let latest = tx.last_seq();
        let cursor_seq = match command.start_after_seq {
            None => latest,
            Some(after) if after <= latest => after,
            Some(after) => {
                return Err(Error::failed_precondition(
                    Reason::AfterSeqAhead,
                    format!("start_after_seq {after} is beyond the latest event, seq {latest}"),
                ));
            }
        };
        let now = tx.now();
        let endpoint = WebhookEndpoint {
            id: new_id(),
            partner_id: owner,
            url: command.url,
            description: command.description,
            event_types: command.event_types,
            customer_id: command.customer_id,
            delivery_mode: command.delivery_mode,
            max_in_flight: command.max_in_flight,
            state: EndpointState::Active,
            disabled_reason: None,
            cursor_seq,
            previous_secret_expire_time: None,
            version: 1,
            create_time: now,
            update_time: now,
            delete_time: None,
        };
        let secret = signing::new_secret().map_err(Error::internal)?;
        let sealed = self.sealer.seal(&secret, &endpoint.id).map_err(Error::internal)?;
        tx.insert_webhook_endpoint(&endpoint, &sealed).await?;
        tx.remember(key.as_ref(), &endpoint.id).await?;
        tx.commit().await?;
        tracing::info!(
            webhook_endpoint_id = %endpoint.id,
            owner = endpoint.partner_id.as_deref().unwrap_or("operator"),
            cursor_seq = endpoint.cursor_seq,
            "webhook endpoint created"
        );
        Ok(WithSecret { endpoint, secret })
    }

    /// H1.
    pub(super) async fn get_webhook_endpoint(&self, principal: &Principal, id: &str) -> Result<WebhookEndpoint> {
        self.readable(principal, id).await
    }

    /// H1: a partner's own (naming another partner is refused); the
    /// operator's and services' of one partner or all; in id order.
    pub(super) async fn list_webhook_endpoints(
        &self,
        principal: &Principal,
        command: ListWebhookEndpoints,
    ) -> Result<Page<WebhookEndpoint>> {
        require_reader(principal)?;
        self.gate(principal).await?;
        let owner = match (principal, &command.partner_id) {
            (Principal::Partner { partner_id: own }, Some(asked)) if asked != own => return Err(super::not_visible()),
            (Principal::Partner { partner_id }, _) => EndpointOwner::Partner(partner_id.clone()),
            (_, Some(asked)) => EndpointOwner::Partner(asked.clone()),
            (_, None) => EndpointOwner::All,
        };
        let page = PageRequest::parse(
            command.page_size,
            &command.page_token,
            &format!("webhook_endpoints|{owner:?}"),
        )?;
        let rows = self.store.list_webhook_endpoints(&owner, &page).await?;
        Ok(page.page(rows, |e: &WebhookEndpoint| e.id.clone()))
    }

    /// H1, H7: the fields named change; a stale etag is ABORTED. Setting
    /// ACTIVE resumes from the cursor (a disabled endpoint's reason goes;
    /// after HEAD_FAILED its head is queued again).
    pub(super) async fn update_webhook_endpoint(
        &self,
        principal: &Principal,
        command: UpdateWebhookEndpoint,
    ) -> Result<WebhookEndpoint> {
        let (mut tx, mut endpoint) = self.writable(principal, &command.id).await?;
        check_etag(&endpoint, &command.etag)?;
        if let Some(Some(customer_id)) = &command.customer_id {
            check_customer_filter(&tx, endpoint.partner_id.as_deref(), customer_id).await?;
        }
        let UpdateWebhookEndpoint {
            url,
            description,
            event_types,
            customer_id,
            delivery_mode,
            max_in_flight,
            state,
            ..
        } = command;
        if let Some(url) = url {
            endpoint.url = url;
        }
        if let Some(description) = description {
            endpoint.description = description;
        }
        if let Some(event_types) = event_types {
            endpoint.event_types = event_types;
        }
        if let Some(customer_id) = customer_id {
            endpoint.customer_id = customer_id;
        }
        if let Some(mode) = delivery_mode {
            endpoint.delivery_mode = mode;
        }
        if let Some(max) = max_in_flight {
            endpoint.max_in_flight = max;
        }
        if let Some(state) = state {
            if endpoint.state == EndpointState::Disabled && state != EndpointState::Disabled {
                if endpoint.disabled_reason == Some(crate::domain::model::DisabledReason::HeadFailed) {
                    tx.requeue_failed_head(&endpoint.id).await?;
                }
                endpoint.disabled_reason = None;
            }
            endpoint.state = state;
        }
        let endpoint = tx.update_webhook_endpoint(endpoint, "webhook_endpoint.updated").await?;
        tx.commit().await?;
        tracing::info!(webhook_endpoint_id = %endpoint.id, state = %endpoint.state, "webhook endpoint updated");
        Ok(endpoint)
    }

    /// H10: the endpoint and its deliveries are deleted; the reply is the
    /// endpoint as it was.
    pub(super) async fn delete_webhook_endpoint(
        &self,
        principal: &Principal,
        command: EndpointRef,
    ) -> Result<WebhookEndpoint> {
        let (mut tx, endpoint) = self.writable(principal, &command.id).await?;
        check_etag(&endpoint, &command.etag)?;
        let endpoint = tx.delete_webhook_endpoint(endpoint).await?;
        tx.commit().await?;
        tracing::info!(webhook_endpoint_id = %endpoint.id, "webhook endpoint deleted");
        Ok(endpoint)
    }

    /// H9: a new secret; the current one signs beside it for `overlap`
    /// (0: every old one stops now). Inside an open overlap only overlap 0
    /// may rotate (ROTATION_IN_PROGRESS).
    pub(super) async fn rotate_webhook_secret(
        &self,
        principal: &Principal,
        command: RotateWebhookSecret,
    ) -> Result<WithSecret> {
        let (mut tx, endpoint) = self.writable(principal, &command.id).await?;
        check_etag(&endpoint, &command.etag)?;
        let now = tx.now();
        rules::check_rotation(&endpoint, now, command.overlap)?;
        let sealed = tx
            .webhook_secrets(&endpoint.id)
            .await?
            .ok_or_else(|| endpoint_not_found(&endpoint.id))?;
        let previous =
            (!command.overlap.is_zero()).then(|| (sealed.current, now.saturating_add(micros(command.overlap))));
        let secret = signing::new_secret().map_err(Error::internal)?;
        let sealed = self.sealer.seal(&secret, &command.id).map_err(Error::internal)?;
        let endpoint = tx.rotate_webhook_secret(endpoint, &sealed, previous).await?;
        tx.commit().await?;
        tracing::info!(
            webhook_endpoint_id = %endpoint.id,
            overlap_seconds = command.overlap.as_secs(),
            "webhook secret rotated"
        );
        Ok(WithSecret { endpoint, secret })
    }
}
