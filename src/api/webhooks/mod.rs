//! WebhookService over gRPC (H1-H10): each handler decodes its request
//! into a command (`decode`), asks the `Webhooks` service, and encodes its
//! reply (`encode`). It is served by the RelationshipService's process
//! only, so it has no remote implementation.

mod decode;
mod encode;
mod payload;

pub use payload::ProtoJsonEvents;

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::pb::webhook_service_server::WebhookService;
use super::{decoded, pb};
use crate::domain::validate;
use crate::service::contract::webhooks::{
    EndpointRef, ListWebhookDeliveries, ListWebhookEndpoints, ReplayWebhookEvents, RotateWebhookSecret, Webhooks,
};

pub struct WebhookApi {
    service: Arc<dyn Webhooks>,
    /// H2: the hosts the server lets through (configuration, never the API).
    allow_hosts: Vec<String>,
}

impl WebhookApi {
    pub fn new(service: Arc<dyn Webhooks>, allow_hosts: Vec<String>) -> Self {
        WebhookApi { service, allow_hosts }
    }
}

#[tonic::async_trait]
impl WebhookService for WebhookApi {
    async fn create_webhook_endpoint(
        &self,
        request: Request<pb::CreateWebhookEndpointRequest>,
    ) -> Result<Response<pb::CreateWebhookEndpointResponse>, Status> {
        let (principal, command) = decoded(request, |body| decode::create(body, &self.allow_hosts))?;
        let created = self.service.create_webhook_endpoint(&principal, command).await?;
        Ok(Response::new((&created).into()))
    }

    async fn get_webhook_endpoint(
        &self,
        request: Request<pb::GetWebhookEndpointRequest>,
    ) -> Result<Response<pb::WebhookEndpoint>, Status> {
        let (principal, id) = decoded(request, |body| validate::id("id", &body.id))?;
        let endpoint = self.service.get_webhook_endpoint(&principal, &id).await?;
        Ok(Response::new((&endpoint).into()))
    }

    async fn list_webhook_endpoints(
        &self,
        request: Request<pb::ListWebhookEndpointsRequest>,
    ) -> Result<Response<pb::ListWebhookEndpointsResponse>, Status> {
        let (principal, command) = decoded(request, ListWebhookEndpoints::try_from)?;
        let page = self.service.list_webhook_endpoints(&principal, command).await?;
        Ok(Response::new((&page).into()))
    }

    async fn update_webhook_endpoint(
        &self,
        request: Request<pb::UpdateWebhookEndpointRequest>,
    ) -> Result<Response<pb::WebhookEndpoint>, Status> {
        let (principal, command) = decoded(request, |body| decode::update(body, &self.allow_hosts))?;
        let endpoint = self.service.update_webhook_endpoint(&principal, command).await?;
        Ok(Response::new((&endpoint).into()))
    }

    async fn delete_webhook_endpoint(
        &self,
        request: Request<pb::DeleteWebhookEndpointRequest>,
    ) -> Result<Response<pb::WebhookEndpoint>, Status> {
        let (principal, command) = decoded(request, EndpointRef::try_from)?;
        let endpoint = self.service.delete_webhook_endpoint(&principal, command).await?;
        Ok(Response::new((&endpoint).into()))
    }

    async fn rotate_webhook_secret(
        &self,
        request: Request<pb::RotateWebhookSecretRequest>,
    ) -> Result<Response<pb::RotateWebhookSecretResponse>, Status> {
        let (principal, command) = decoded(request, RotateWebhookSecret::try_from)?;
        let rotated = self.service.rotate_webhook_secret(&principal, command).await?;
        Ok(Response::new((&rotated).into()))
    }

    async fn replay_webhook_events(
        &self,
        request: Request<pb::ReplayWebhookEventsRequest>,
    ) -> Result<Response<pb::ReplayWebhookEventsResponse>, Status> {
        let (principal, command) = decoded(request, ReplayWebhookEvents::try_from)?;
        let replayed = self.service.replay_webhook_events(&principal, command).await?;
        Ok(Response::new((&replayed).into()))
    }

    async fn list_webhook_deliveries(
        &self,
        request: Request<pb::ListWebhookDeliveriesRequest>,
    ) -> Result<Response<pb::ListWebhookDeliveriesResponse>, Status> {
        let (principal, command) = decoded(request, ListWebhookDeliveries::try_from)?;
        let page = self.service.list_webhook_deliveries(&principal, command).await?;
        Ok(Response::new((&page).into()))
    }

    async fn send_test_webhook(
        &self,
        request: Request<pb::SendTestWebhookRequest>,
    ) -> Result<Response<pb::SendTestWebhookResponse>, Status> {
        let (principal, id) = decoded(request, |body| validate::id("id", &body.id))?;
        let sent = self.service.send_test_webhook(&principal, &id).await?;
        Ok(Response::new((&sent).into()))
    }
}
