//! CustomerService over gRPC: each handler decodes its request into a
//! command (`decode`), asks the `Customers` service, and encodes its reply
//! (`encode`). `remote` is the same service in another process, behind the
//! trait, over the generated client. The rules (C1-C7, S1-S3, T1-T4) are
//! the service's.

mod decode;
mod encode;
mod remote;

use std::sync::Arc;

use tonic::{Request, Response, Status};

pub use decode::MAX_TRANSFER_SUBSCRIPTIONS;
pub use remote::RemoteCustomers;

use super::pb::customer_service_server::CustomerService;
use super::{decoded, pb};
use crate::domain::validate;
use crate::service::contract::customers::{
    CheckDomainAvailability, CreateCustomer, CreateSubscription, CreateTransfer, Customers, GetCustomer,
    GetSubscription, ListCustomers, ListSubscriptions, ListTransfers, UpdateCustomer, UpdateSubscription,
};
use decode::decide_transfer;

pub struct CustomerApi {
    service: Arc<dyn Customers>,
}

impl CustomerApi {
    pub fn new(service: Arc<dyn Customers>) -> Self {
        CustomerApi { service }
    }
}

#[tonic::async_trait]
impl CustomerService for CustomerApi {
    async fn create_customer(
        &self,
        request: Request<pb::CreateCustomerRequest>,
    ) -> Result<Response<pb::Customer>, Status> {
        let (principal, command) = decoded(request, CreateCustomer::try_from)?;
        let customer = self.service.create_customer(&principal, command).await?;
        Ok(Response::new((&customer).into()))
    }

    async fn get_customer(&self, request: Request<pb::GetCustomerRequest>) -> Result<Response<pb::Customer>, Status> {
        let (principal, command) = decoded(request, GetCustomer::try_from)?;
        let customer = self.service.get_customer(&principal, command).await?;
        Ok(Response::new((&customer).into()))
    }

    async fn list_customers(
        &self,
        request: Request<pb::ListCustomersRequest>,
    ) -> Result<Response<pb::ListCustomersResponse>, Status> {
        let (principal, command) = decoded(request, ListCustomers::try_from)?;
        let page = self.service.list_customers(&principal, command).await?;
        Ok(Response::new((&page).into()))
    }

    async fn update_customer(
        &self,
        request: Request<pb::UpdateCustomerRequest>,
    ) -> Result<Response<pb::Customer>, Status> {
        let (principal, command) = decoded(request, UpdateCustomer::try_from)?;
        let customer = self.service.update_customer(&principal, command).await?;
        Ok(Response::new((&customer).into()))
    }

    async fn create_subscription(
        &self,
        request: Request<pb::CreateSubscriptionRequest>,
    ) -> Result<Response<pb::Subscription>, Status> {
        let (principal, command) = decoded(request, CreateSubscription::try_from)?;
        let subscription = self.service.create_subscription(&principal, command).await?;
        Ok(Response::new((&subscription).into()))
    }

    async fn get_subscription(
        &self,
        request: Request<pb::GetSubscriptionRequest>,
    ) -> Result<Response<pb::Subscription>, Status> {
        let (principal, command) = decoded(request, GetSubscription::try_from)?;
        let subscription = self.service.get_subscription(&principal, command).await?;
        Ok(Response::new((&subscription).into()))
    }

    async fn list_subscriptions(
        &self,
        request: Request<pb::ListSubscriptionsRequest>,
    ) -> Result<Response<pb::ListSubscriptionsResponse>, Status> {
        let (principal, command) = decoded(request, ListSubscriptions::try_from)?;
        let page = self.service.list_subscriptions(&principal, command).await?;
        Ok(Response::new((&page).into()))
    }

    async fn update_subscription(
        &self,
        request: Request<pb::UpdateSubscriptionRequest>,
    ) -> Result<Response<pb::Subscription>, Status> {
        let (principal, command) = decoded(request, UpdateSubscription::try_from)?;
        let subscription = self.service.update_subscription(&principal, command).await?;
        Ok(Response::new((&subscription).into()))
    }

    async fn check_domain_availability(
        &self,
        request: Request<pb::CheckDomainAvailabilityRequest>,
    ) -> Result<Response<pb::CheckDomainAvailabilityResponse>, Status> {
        let (principal, command) = decoded(request, CheckDomainAvailability::try_from)?;
        let available = self.service.check_domain_availability(&principal, command).await?;
        Ok(Response::new(pb::CheckDomainAvailabilityResponse { available }))
    }

    async fn create_transfer(
        &self,
        request: Request<pb::CreateTransferRequest>,
    ) -> Result<Response<pb::Transfer>, Status> {
        let (principal, command) = decoded(request, CreateTransfer::try_from)?;
        let transfer = self.service.create_transfer(&principal, command).await?;
        Ok(Response::new((&transfer).into()))
    }

    async fn get_transfer(&self, request: Request<pb::GetTransferRequest>) -> Result<Response<pb::Transfer>, Status> {
        let (principal, id) = decoded(request, |body| validate::id("id", &body.id))?;
        let transfer = self.service.get_transfer(&principal, &id).await?;
        Ok(Response::new((&transfer).into()))
    }

    async fn list_transfers(
        &self,
        request: Request<pb::ListTransfersRequest>,
    ) -> Result<Response<pb::ListTransfersResponse>, Status> {
        let (principal, command) = decoded(request, ListTransfers::try_from)?;
        let page = self.service.list_transfers(&principal, command).await?;
        Ok(Response::new((&page).into()))
    }

    async fn accept_transfer(
        &self,
        request: Request<pb::AcceptTransferRequest>,
    ) -> Result<Response<pb::AcceptTransferResponse>, Status> {
        let (principal, command) = decoded(request, |body| decide_transfer(&body.id, body.etag))?;
        let accepted = self.service.accept_transfer(&principal, command).await?;
        Ok(Response::new((&accepted).into()))
    }

    async fn reject_transfer(
        &self,
        request: Request<pb::RejectTransferRequest>,
    ) -> Result<Response<pb::Transfer>, Status> {
        let (principal, command) = decoded(request, |body| decide_transfer(&body.id, body.etag))?;
        let transfer = self.service.reject_transfer(&principal, command).await?;
        Ok(Response::new((&transfer).into()))
    }

    async fn cancel_transfer(
        &self,
        request: Request<pb::CancelTransferRequest>,
    ) -> Result<Response<pb::Transfer>, Status> {
        let (principal, command) = decoded(request, |body| decide_transfer(&body.id, body.etag))?;
        let transfer = self.service.cancel_transfer(&principal, command).await?;
        Ok(Response::new((&transfer).into()))
    }
}
