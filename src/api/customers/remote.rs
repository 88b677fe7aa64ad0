//! `Customers` in another process: the generated client behind the trait.

use async_trait::async_trait;

use crate::api::pb;
use crate::api::pb::customer_service_client::CustomerServiceClient;
use crate::api::remote::{Remote, unary};
use crate::domain::Result;
use crate::domain::model::{Customer, Subscription, Transfer};
use crate::domain::paging::Page;
use crate::domain::principal::Principal;
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
        let message = pb::CreateCustomerRequest::from(command);
        unary!(self.client(), create_customer, self.remote.request(principal, message))
    }

    async fn get_customer(&self, principal: &Principal, command: GetCustomer) -> Result<Customer> {
        let message = pb::GetCustomerRequest::from(command);
        unary!(self.client(), get_customer, self.remote.request(principal, message))
    }

    async fn list_customers(&self, principal: &Principal, command: ListCustomers) -> Result<Page<Customer>> {
        let message = pb::ListCustomersRequest::from(command);
        unary!(self.client(), list_customers, self.remote.request(principal, message))
    }

    async fn update_customer(&self, principal: &Principal, command: UpdateCustomer) -> Result<Customer> {
        let message = pb::UpdateCustomerRequest::from(command);
        unary!(self.client(), update_customer, self.remote.request(principal, message))
    }

    async fn create_subscription(&self, principal: &Principal, command: CreateSubscription) -> Result<Subscription> {
        let message = pb::CreateSubscriptionRequest::from(command);
        unary!(
            self.client(),
            create_subscription,
            self.remote.request(principal, message)
        )
    }

    async fn get_subscription(&self, principal: &Principal, command: GetSubscription) -> Result<Subscription> {
        let message = pb::GetSubscriptionRequest::from(command);
        unary!(self.client(), get_subscription, self.remote.request(principal, message))
    }

    async fn list_subscriptions(
        &self,
        principal: &Principal,
        command: ListSubscriptions,
    ) -> Result<Page<Subscription>> {
        let message = pb::ListSubscriptionsRequest::from(command);
        unary!(
            self.client(),
            list_subscriptions,
            self.remote.request(principal, message)
        )
    }

    async fn update_subscription(&self, principal: &Principal, command: UpdateSubscription) -> Result<Subscription> {
        let message = pb::UpdateSubscriptionRequest::from(command);
        unary!(
            self.client(),
            update_subscription,
            self.remote.request(principal, message)
        )
    }

    async fn check_domain_availability(&self, principal: &Principal, command: CheckDomainAvailability) -> Result<bool> {
        let message = pb::CheckDomainAvailabilityRequest::from(command);
        unary!(
            self.client(),
            check_domain_availability,
            self.remote.request(principal, message)
        )
    }

    async fn create_transfer(&self, principal: &Principal, command: CreateTransfer) -> Result<Transfer> {
        let message = pb::CreateTransferRequest::from(command);
        unary!(self.client(), create_transfer, self.remote.request(principal, message))
    }

    async fn get_transfer(&self, principal: &Principal, id: &str) -> Result<Transfer> {
        let message = pb::GetTransferRequest { id: id.to_owned() };
        unary!(self.client(), get_transfer, self.remote.request(principal, message))
    }

    async fn list_transfers(&self, principal: &Principal, command: ListTransfers) -> Result<Page<Transfer>> {
        let message = pb::ListTransfersRequest::from(command);
        unary!(self.client(), list_transfers, self.remote.request(principal, message))
    }

    async fn accept_transfer(&self, principal: &Principal, command: DecideTransfer) -> Result<AcceptedTransfer> {
        let DecideTransfer { id, etag } = command;
        let message = pb::AcceptTransferRequest { id, etag };
        unary!(self.client(), accept_transfer, self.remote.request(principal, message))
    }

    async fn reject_transfer(&self, principal: &Principal, command: DecideTransfer) -> Result<Transfer> {
        let DecideTransfer { id, etag } = command;
        let message = pb::RejectTransferRequest { id, etag };
        unary!(self.client(), reject_transfer, self.remote.request(principal, message))
    }

    async fn cancel_transfer(&self, principal: &Principal, command: DecideTransfer) -> Result<Transfer> {
        let DecideTransfer { id, etag } = command;
        let message = pb::CancelTransferRequest { id, etag };
        unary!(self.client(), cancel_transfer, self.remote.request(principal, message))
    }
}
