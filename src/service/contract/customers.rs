//! The CustomerService's contract (C1-C7, S1-S3, T1-T4): the `Customers`
//! trait and its commands and results.

use async_trait::async_trait;
use serde::Serialize;

use crate::domain::Result;
use crate::domain::model::{
    Billing, BillingContact, Channel, Customer, Service, Subscription, SubscriptionStatus, Transfer, TransferState,
};
use crate::domain::paging::Page;
use crate::domain::principal::Principal;

/// The CustomerService, in-process or in another process.
#[async_trait]
pub trait Customers: Send + Sync + 'static {
    /// C1, C2, C3.
    async fn create_customer(&self, principal: &Principal, command: CreateCustomer) -> Result<Customer>;
    /// C4, C5.
    async fn get_customer(&self, principal: &Principal, command: GetCustomer) -> Result<Customer>;
    /// C6.
    async fn list_customers(&self, principal: &Principal, command: ListCustomers) -> Result<Page<Customer>>;
    /// The operator, the customer's own admin (C5) or a transacting partner
    /// change the company name and billing contact.
    async fn update_customer(&self, principal: &Principal, command: UpdateCustomer) -> Result<Customer>;
    /// S1, S2.
    async fn create_subscription(&self, principal: &Principal, command: CreateSubscription) -> Result<Subscription>;
    /// C4, C5 for a subscription.
    async fn get_subscription(&self, principal: &Principal, command: GetSubscription) -> Result<Subscription>;
    /// C4, C5: a customer's subscriptions, to whoever reads the customer.
    async fn list_subscriptions(&self, principal: &Principal, command: ListSubscriptions)
    -> Result<Page<Subscription>>;
    /// S3.
    async fn update_subscription(&self, principal: &Principal, command: UpdateSubscription) -> Result<Subscription>;
    /// C7: true when no customer has the domain.
    async fn check_domain_availability(&self, principal: &Principal, command: CheckDomainAvailability) -> Result<bool>;
    /// T1.
    async fn create_transfer(&self, principal: &Principal, command: CreateTransfer) -> Result<Transfer>;
    /// T4.
    async fn get_transfer(&self, principal: &Principal, id: &str) -> Result<Transfer>;
    /// T4.
    async fn list_transfers(&self, principal: &Principal, command: ListTransfers) -> Result<Page<Transfer>>;
    /// T2, T3: the transfer and its subscriptions as they now are.
    async fn accept_transfer(&self, principal: &Principal, command: DecideTransfer) -> Result<AcceptedTransfer>;
    /// T2.
    async fn reject_transfer(&self, principal: &Principal, command: DecideTransfer) -> Result<Transfer>;
    /// T2.
    async fn cancel_transfer(&self, principal: &Principal, command: DecideTransfer) -> Result<Transfer>;
}

/// T1: subscriptions of one customer, to a new partner of record (None:
/// the proposer).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CreateTransfer {
    pub customer_id: String,
    pub subscription_ids: Vec<String>,
    pub partner_of_record_id: Option<String>,
    pub request_id: Option<String>,
}

/// T4's filters (None: not filtered).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ListTransfers {
    pub customer_id: Option<String>,
    pub state: Option<TransferState>,
    pub proposing_partner_id: Option<String>,
    pub page_size: i32,
    pub page_token: String,
}

/// T2: accept, reject or cancel this transfer (etag empty: no
/// precondition).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DecideTransfer {
    pub id: String,
    pub etag: String,
}

/// T2: an accepted transfer and its subscriptions as they now are.
#[derive(Clone, Debug, PartialEq)]
pub struct AcceptedTransfer {
    pub transfer: Transfer,
    pub subscriptions: Vec<Subscription>,
}

/// A new customer. Names as sent (trimmed when stored); the domain already
/// in its canonical form.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CreateCustomer {
    pub domain: String,
    pub company_name: String,
    pub billing_contact: BillingContact,
    pub indirect_reseller_id: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GetCustomer {
    pub id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ListCustomers {
    pub page_size: i32,
    pub page_token: String,
    /// Empty: no filter.
    pub company_name_prefix: String,
    /// Empty: no filter.
    pub domain_prefix: String,
    pub indirect_reseller_id: Option<String>,
}

/// A field of a customer an update may change (the domain never changes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum CustomerField {
    CompanyName,
    Email,
    FirstName,
    LastName,
    Culture,
    Language,
}

impl CustomerField {
    pub const ALL: [CustomerField; 6] = [
        CustomerField::CompanyName,
        CustomerField::Email,
        CustomerField::FirstName,
        CustomerField::LastName,
        CustomerField::Culture,
        CustomerField::Language,
    ];
}

/// The fields named in `fields` take their values from `company_name` and
/// `billing_contact`; the others keep theirs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UpdateCustomer {
    pub id: String,
    /// Empty: no precondition (AIP-154).
    pub etag: String,
    pub fields: Vec<CustomerField>,
    pub company_name: String,
    pub billing_contact: BillingContact,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CreateSubscription {
    pub customer_id: String,
    pub service: Service,
    pub offer_name: String,
    pub quantity: i32,
    pub billing: Billing,
    pub status: Option<SubscriptionStatus>,
    pub channel: Channel,
    pub partner_of_record_id: Option<String>,
    pub indirect_provider_id: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GetSubscription {
    pub id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ListSubscriptions {
    pub page_size: i32,
    pub page_token: String,
    pub customer_id: String,
    pub service: Option<Service>,
    pub status: Option<SubscriptionStatus>,
}

/// C7. The domain already in its canonical form.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckDomainAvailability {
    pub domain: String,
}

/// S3: the fields set are the ones the update changes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UpdateSubscription {
    pub id: String,
    /// Empty: no precondition (AIP-154).
    pub etag: String,
    pub quantity: Option<i32>,
    pub status: Option<SubscriptionStatus>,
}
