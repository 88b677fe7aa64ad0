//! `Customers` in another process: the generated client behind the trait.

use async_trait::async_trait;

use super::Remote;
use crate::api::pb;
use crate::api::pb::customer_service_client::CustomerServiceClient;
use crate::domain::model::{Customer, Subscription, Transfer};
use crate::domain::paging::Page;
use crate::domain::principal::Principal;
use crate::domain::{Error, Result};
use crate::service::contract::customers::{
    AcceptedTransfer, CheckDomainAvailability, CreateCustomer, CreateSubscription, CreateTransfer, Customers,
    DecideTransfer, GetCustomer, GetSubscription, ListCustomers, ListSubscriptions, ListTransfers, UpdateCustomer,
    UpdateSubscription,
};

/// The CustomerService of another process.
#[derive(Clone)]
pub struct RemoteCustomers {
    remote: Remote,
}

impl RemoteCustomers {
    pub fn new(remote: Remote) -> Self {
        RemoteCustomers { remote }
    }

    fn client(&self) -> CustomerServiceClient<tonic::transport::Channel> {
        CustomerServiceClient::new(self.remote.channel())
    }
}

#[async_trait]
impl Customers for RemoteCustomers {
    async fn create_customer(&self, principal: &Principal, command: CreateCustomer) -> Result<Customer> {
        let request = self
            .remote
            .request(principal, pb::CreateCustomerRequest::from(command))?;
        let reply = self.client().create_customer(request).await.map_err(Error::from)?;
        Customer::try_from(reply.into_inner())
    }

    async fn get_customer(&self, principal: &Principal, command: GetCustomer) -> Result<Customer> {
        let request = self.remote.request(principal, pb::GetCustomerRequest::from(command))?;
        let reply = self.client().get_customer(request).await.map_err(Error::from)?;
        Customer::try_from(reply.into_inner())
    }

    async fn list_customers(&self, principal: &Principal, command: ListCustomers) -> Result<Page<Customer>> {
        let request = self
            .remote
            .request(principal, pb::ListCustomersRequest::from(command))?;
        let reply = self.client().list_customers(request).await.map_err(Error::from)?;
        Page::try_from(reply.into_inner())
    }

    async fn update_customer(&self, principal: &Principal, command: UpdateCustomer) -> Result<Customer> {
        let request = self
            .remote
            .request(principal, pb::UpdateCustomerRequest::from(command))?;
        let reply = self.client().update_customer(request).await.map_err(Error::from)?;
        Customer::try_from(reply.into_inner())
    }

    async fn create_subscription(&self, principal: &Principal, command: CreateSubscription) -> Result<Subscription> {
        let request = self
            .remote
            .request(principal, pb::CreateSubscriptionRequest::from(command))?;
        let reply = self.client().create_subscription(request).await.map_err(Error::from)?;
        Subscription::try_from(reply.into_inner())
    }

    async fn get_subscription(&self, principal: &Principal, command: GetSubscription) -> Result<Subscription> {
        let request = self
            .remote
            .request(principal, pb::GetSubscriptionRequest::from(command))?;
        let reply = self.client().get_subscription(request).await.map_err(Error::from)?;
        Subscription::try_from(reply.into_inner())
    }

    async fn list_subscriptions(
        &self,
        principal: &Principal,
        command: ListSubscriptions,
    ) -> Result<Page<Subscription>> {
        let request = self
            .remote
            .request(principal, pb::ListSubscriptionsRequest::from(command))?;
        let reply = self.client().list_subscriptions(request).await.map_err(Error::from)?;
        Page::try_from(reply.into_inner())
    }

    async fn update_subscription(&self, principal: &Principal, command: UpdateSubscription) -> Result<Subscription> {
        let request = self
            .remote
            .request(principal, pb::UpdateSubscriptionRequest::from(command))?;
        let reply = self.client().update_subscription(request).await.map_err(Error::from)?;
        Subscription::try_from(reply.into_inner())
    }

    async fn check_domain_availability(&self, principal: &Principal, command: CheckDomainAvailability) -> Result<bool> {
        let request = self
            .remote
            .request(principal, pb::CheckDomainAvailabilityRequest::from(command))?;
        let reply = self
            .client()
            .check_domain_availability(request)
            .await
            .map_err(Error::from)?;
        Ok(reply.into_inner().available)
    }

    async fn create_transfer(&self, principal: &Principal, command: CreateTransfer) -> Result<Transfer> {
        let request = self
            .remote
            .request(principal, pb::CreateTransferRequest::from(command))?;
        let reply = self.client().create_transfer(request).await.map_err(Error::from)?;
        Transfer::try_from(reply.into_inner())
    }

    async fn get_transfer(&self, principal: &Principal, id: &str) -> Result<Transfer> {
        let request = self
            .remote
            .request(principal, pb::GetTransferRequest { id: id.to_owned() })?;
        let reply = self.client().get_transfer(request).await.map_err(Error::from)?;
        Transfer::try_from(reply.into_inner())
    }

    async fn list_transfers(&self, principal: &Principal, command: ListTransfers) -> Result<Page<Transfer>> {
        let request = self
            .remote
            .request(principal, pb::ListTransfersRequest::from(command))?;
        let reply = self
            .client()
            .list_transfers(request)
            .await
            .map_err(Error::from)?
            .into_inner();
        Ok(Page {
            items: reply
                .transfers
                .into_iter()
                .map(Transfer::try_from)
                .collect::<Result<_>>()?,
            next_page_token: reply.next_page_token,
        })
    }

    async fn accept_transfer(&self, principal: &Principal, command: DecideTransfer) -> Result<AcceptedTransfer> {
        let request = self.remote.request(
            principal,
            pb::AcceptTransferRequest {
                id: command.id,
                etag: command.etag,
            },
        )?;
        let reply = self
            .client()
            .accept_transfer(request)
            .await
            .map_err(Error::from)?
            .into_inner();
        Ok(AcceptedTransfer {
            transfer: Transfer::try_from(
                reply
                    .transfer
                    .ok_or_else(|| crate::api::convert::malformed_reply("transfer", "absent"))?,
            )?,
            subscriptions: reply
                .subscriptions
                .into_iter()
                .map(Subscription::try_from)
                .collect::<Result<_>>()?,
        })
    }

    async fn reject_transfer(&self, principal: &Principal, command: DecideTransfer) -> Result<Transfer> {
        let request = self.remote.request(
            principal,
            pb::RejectTransferRequest {
                id: command.id,
                etag: command.etag,
            },
        )?;
        let reply = self.client().reject_transfer(request).await.map_err(Error::from)?;
        Transfer::try_from(reply.into_inner())
    }

    async fn cancel_transfer(&self, principal: &Principal, command: DecideTransfer) -> Result<Transfer> {
        let request = self.remote.request(
            principal,
            pb::CancelTransferRequest {
                id: command.id,
                etag: command.etag,
            },
        )?;
        let reply = self.client().cancel_transfer(request).await.map_err(Error::from)?;
        Transfer::try_from(reply.into_inner())
    }
}
