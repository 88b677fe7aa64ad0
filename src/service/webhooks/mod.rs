//! Webhooks: the use cases of the WebhookService (H1-H10), served by the
//! RelationshipService's process over the same store. Endpoints and their
//! secrets (`endpoints`: H1, H2, H9, H10), deliveries as their owners see
//! them (`deliveries`: H8, H10), and the test send (H10). The trait, its
//! commands and results are `contract::webhooks`.

mod deliveries;
mod dispatch;
mod endpoints;
mod send;

pub use dispatch::{DispatchSettings, Dispatcher};

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::model::{WebhookDelivery, WebhookEndpoint};
use crate::domain::paging::Page;
use crate::domain::principal::Principal;
use crate::domain::{Error, Reason, Result};
use crate::outbound::{SecretSealer, WebhookClient};
use crate::service::contract::partners::{Partners, require_active_caller};
use crate::service::contract::webhooks::{
    CreateWebhookEndpoint, EndpointRef, ListWebhookDeliveries, ListWebhookEndpoints, ReplayWebhookEvents, Replayed,
    RotateWebhookSecret, TestSent, UpdateWebhookEndpoint, Webhooks, WithSecret,
};
use crate::store::{Store, WriteTx};

/// The WebhookService over the store of this process.
pub struct LocalWebhooks {
    store: Store,
    partners: Arc<dyn Partners>,
    /// How this service reads partners (P4's gate).
    reader: Principal,
    /// H5: seals secrets for the store and opens them to sign.
    sealer: Arc<SecretSealer>,
    /// H2, H10: the test send's client (the dispatcher has the same).
    client: Arc<WebhookClient>,
}

impl LocalWebhooks {
    pub fn new(
        store: Store,
        partners: Arc<dyn Partners>,
        sealer: Arc<SecretSealer>,
        client: Arc<WebhookClient>,
    ) -> Self {
        LocalWebhooks {
            store,
            partners,
            reader: Principal::Service {
                subject: "webhook-service".into(),
            },
            sealer,
            client,
        }
    }

    /// P4: a partner that is not ACTIVE is refused every call, decided
    /// from the caller alone before any lookup (W2).
    async fn gate(&self, principal: &Principal) -> Result<()> {
        require_active_caller(self.partners.as_ref(), &self.reader, principal).await
    }

    /// H1: the endpoint a call reads, as its caller may see it.
    async fn readable(&self, principal: &Principal, id: &str) -> Result<WebhookEndpoint> {
        require_reader(principal)?;
        self.gate(principal).await?;
        let found = self.store.webhook_endpoint(id).await?;
        see_endpoint(principal, id, found)
    }

    /// H1, W1: the prologue of every change of an endpoint: a writer's role,
    /// P4's gate, the write begun, the endpoint as the caller may see it,
    /// and P4 again on the state the write commits against.
    async fn writable(&self, principal: &Principal, id: &str) -> Result<(WriteTx, WebhookEndpoint)> {
        require_writer(principal)?;
        self.gate(principal).await?;
        let tx = self.store.begin_write(principal.actor()).await?;
        let found = tx.webhook_endpoint(id).await?;
        let endpoint = see_endpoint(principal, id, found)?;
        if let Some(partner_id) = principal.partner_id() {
            tx.active_caller(partner_id).await?;
        }
        Ok((tx, endpoint))
    }
}

/// H1, W2: the one refusal for another owner's endpoint, known or not.
fn not_visible() -> Error {
    Error::permission_denied(
        Reason::EndpointNotVisible,
        "a partner reads and changes only its own webhook endpoints",
    )
}

fn endpoint_not_found(id: &str) -> Error {
    Error::not_found(
        Reason::EndpointNotFound,
        format!("webhook endpoint {id} does not exist"),
    )
}

/// H1: who may read endpoints at all: partners (their own), the operator
/// and services; a customer's admin is refused before any lookup.
fn require_reader(principal: &Principal) -> Result<()> {
    match principal {
        Principal::Customer { .. } => Err(Error::role_not_allowed("read webhook endpoints")),
        _ => Ok(()),
    }
}

/// H1: who may change endpoints: a partner (its own) and the operator.
fn require_writer(principal: &Principal) -> Result<()> {
    match principal {
        Principal::Partner { .. } | Principal::Operator { .. } => Ok(()),
        Principal::Customer { .. } | Principal::Service { .. } => {
            Err(Error::role_not_allowed("change webhook endpoints"))
        }
    }
}

/// H1, W2: the endpoint as the caller may see it: a partner only its own;
/// the operator and services any, an unknown id NOT_FOUND only to them.
fn see_endpoint(principal: &Principal, id: &str, found: Option<WebhookEndpoint>) -> Result<WebhookEndpoint> {
    match (principal, found) {
        (Principal::Partner { partner_id }, Some(endpoint)) if endpoint.partner_id.as_ref() == Some(partner_id) => {
            Ok(endpoint)
        }
        (Principal::Partner { .. }, _) => Err(not_visible()),
        (Principal::Customer { .. }, _) => Err(Error::role_not_allowed("read webhook endpoints")),
        (_, Some(endpoint)) => Ok(endpoint),
        (_, None) => Err(endpoint_not_found(id)),
    }
}

#[async_trait]
impl Webhooks for LocalWebhooks {
    async fn create_webhook_endpoint(
        &self,
        principal: &Principal,
        command: CreateWebhookEndpoint,
    ) -> Result<WithSecret> {
        self.create_webhook_endpoint(principal, command).await
    }

    async fn get_webhook_endpoint(&self, principal: &Principal, id: &str) -> Result<WebhookEndpoint> {
        self.get_webhook_endpoint(principal, id).await
    }

    async fn list_webhook_endpoints(
        &self,
        principal: &Principal,
        command: ListWebhookEndpoints,
    ) -> Result<Page<WebhookEndpoint>> {
        self.list_webhook_endpoints(principal, command).await
    }

    async fn update_webhook_endpoint(
        &self,
        principal: &Principal,
        command: UpdateWebhookEndpoint,
    ) -> Result<WebhookEndpoint> {
        self.update_webhook_endpoint(principal, command).await
    }

    async fn delete_webhook_endpoint(&self, principal: &Principal, command: EndpointRef) -> Result<WebhookEndpoint> {
        self.delete_webhook_endpoint(principal, command).await
    }

    async fn rotate_webhook_secret(&self, principal: &Principal, command: RotateWebhookSecret) -> Result<WithSecret> {
        self.rotate_webhook_secret(principal, command).await
    }

    async fn replay_webhook_events(&self, principal: &Principal, command: ReplayWebhookEvents) -> Result<Replayed> {
        self.replay_webhook_events(principal, command).await
    }

    async fn list_webhook_deliveries(
        &self,
        principal: &Principal,
        command: ListWebhookDeliveries,
    ) -> Result<Page<WebhookDelivery>> {
        self.list_webhook_deliveries(principal, command).await
    }

    async fn send_test_webhook(&self, principal: &Principal, id: &str) -> Result<TestSent> {
        self.send_test_webhook(principal, id).await
    }
}
