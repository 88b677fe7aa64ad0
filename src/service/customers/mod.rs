//! CustomerService: customers (C1-C6) and subscriptions (S1-S3) as use
//! cases in domain types. Partners and access decisions read outside a
//! write come through the `Partners` and `Relationships` services; inside
//! its own write a use case reads (never writes) their tables through the
//! store (W1).

mod subscriptions;
mod tenants;
mod transfers;

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

use crate::domain::access::{AccessQuery, AccessReason, Action, Decision};
use crate::domain::model::{
    Billing, BillingContact, Channel, Customer, Partner, Service, Subscription, SubscriptionStatus, Transfer,
    TransferState,
};
use crate::domain::paging::Page;
use crate::domain::principal::Principal;
use crate::domain::{Error, Reason, Result, rules};
use crate::service::consequences::Consequences;
use crate::service::partners::{self, Partners};
use crate::service::relationships::Relationships;
use crate::store::Store;

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

/// The CustomerService over the store of this process.
pub struct LocalCustomers {
    store: Store,
    partners: Arc<dyn Partners>,
    /// A1 decisions (C4, C5) outside a write.
    relationships: Arc<dyn Relationships>,
    /// How this service reads partners and asks for decisions.
    reader: Principal,
    /// C1's and S1's rows, written by the RelationshipService.
    consequences: Consequences,
}

impl LocalCustomers {
    pub fn new(
        store: Store,
        partners: Arc<dyn Partners>,
        relationships: Arc<dyn Relationships>,
        consequences: Consequences,
    ) -> Self {
        LocalCustomers {
            store,
            partners,
            relationships,
            consequences,
            reader: Principal::Service {
                subject: "customer-service".into(),
            },
        }
    }

    async fn decide(&self, partner_id: &str, customer_id: &str, action: Action) -> Result<Decision> {
        let query = query(partner_id, customer_id, action);
        self.relationships.check_access(&self.reader, query).await
    }

    /// C4, C5: who may read a customer and its subscriptions.
    async fn authorize_read(&self, principal: &Principal, customer_id: &str) -> Result<()> {
        match principal {
            Principal::Operator { .. } | Principal::Service { .. } => Ok(()),
            Principal::Customer { customer_id: own } if own == customer_id => Ok(()),
            Principal::Customer { .. } => Err(tenant_mismatch()),
            Principal::Partner { partner_id } => {
                rules::require_view(&self.decide(partner_id, customer_id, Action::View).await?)
            }
        }
    }

    /// The calling partner, refused unless ACTIVE (P4, see
    /// `partners::active_partner`).
    async fn active_caller(&self, partner_id: &str) -> Result<Partner> {
        partners::active_partner(self.partners.as_ref(), &self.reader, partner_id).await
    }

    /// P4, the caller gate of this service: a partner that is not ACTIVE is
    /// refused every call, decided from the caller alone before any lookup
    /// (W2).
    async fn gate(&self, principal: &Principal) -> Result<()> {
        partners::require_active_caller(self.partners.as_ref(), &self.reader, principal).await
    }
}

#[async_trait]
impl Customers for LocalCustomers {
    async fn create_customer(&self, principal: &Principal, command: CreateCustomer) -> Result<Customer> {
        self.create_customer(principal, command).await
    }

    async fn get_customer(&self, principal: &Principal, command: GetCustomer) -> Result<Customer> {
        self.get_customer(principal, command).await
    }

    async fn list_customers(&self, principal: &Principal, command: ListCustomers) -> Result<Page<Customer>> {
        self.list_customers(principal, command).await
    }

    async fn update_customer(&self, principal: &Principal, command: UpdateCustomer) -> Result<Customer> {
        self.update_customer(principal, command).await
    }

    async fn create_subscription(&self, principal: &Principal, command: CreateSubscription) -> Result<Subscription> {
        self.create_subscription(principal, command).await
    }

    async fn get_subscription(&self, principal: &Principal, command: GetSubscription) -> Result<Subscription> {
        self.get_subscription(principal, command).await
    }

    async fn list_subscriptions(
        &self,
        principal: &Principal,
        command: ListSubscriptions,
    ) -> Result<Page<Subscription>> {
        self.list_subscriptions(principal, command).await
    }

    async fn update_subscription(&self, principal: &Principal, command: UpdateSubscription) -> Result<Subscription> {
        self.update_subscription(principal, command).await
    }

    async fn check_domain_availability(&self, principal: &Principal, command: CheckDomainAvailability) -> Result<bool> {
        self.check_domain_availability(principal, command).await
    }

    async fn create_transfer(&self, principal: &Principal, command: CreateTransfer) -> Result<Transfer> {
        self.create_transfer(principal, command).await
    }

    async fn get_transfer(&self, principal: &Principal, id: &str) -> Result<Transfer> {
        self.get_transfer(principal, id).await
    }

    async fn list_transfers(&self, principal: &Principal, command: ListTransfers) -> Result<Page<Transfer>> {
        self.list_transfers(principal, command).await
    }

    async fn accept_transfer(&self, principal: &Principal, command: DecideTransfer) -> Result<AcceptedTransfer> {
        self.accept_transfer(principal, command).await
    }

    async fn reject_transfer(&self, principal: &Principal, command: DecideTransfer) -> Result<Transfer> {
        self.reject_transfer(principal, command).await
    }

    async fn cancel_transfer(&self, principal: &Principal, command: DecideTransfer) -> Result<Transfer> {
        self.cancel_transfer(principal, command).await
    }
}

fn query(partner_id: &str, customer_id: &str, action: Action) -> AccessQuery {
    AccessQuery {
        partner_id: partner_id.to_owned(),
        customer_id: customer_id.to_owned(),
        action,
        service: None,
        subscription_id: None,
    }
}

fn tenant_mismatch() -> Error {
    Error::permission_denied(Reason::TenantMismatch, "a customer admin reads only its own tenant")
}

fn customer_not_found(id: &str) -> Error {
    Error::not_found(Reason::CustomerNotFound, format!("customer {id} does not exist"))
}

fn subscription_not_found(id: &str) -> Error {
    Error::not_found(
        Reason::SubscriptionNotFound,
        format!("subscription {id} does not exist"),
    )
}

/// A SELL decision as the error a partner gets: PERMISSION_DENIED when it
/// may not even read the customer (C4), NOT_TRANSACTING when it may.
fn require_sell(decision: &Decision, who: &str) -> Result<()> {
    match decision.reason {
        _ if decision.allowed => Ok(()),
        AccessReason::NotTransacting => rules::require_transacting(decision, who),
        _ => rules::require_view(decision),
    }
}
