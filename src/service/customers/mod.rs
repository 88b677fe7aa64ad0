//! CustomerService: customers (C1-C6) and subscriptions (S1-S3) as use
//! cases in domain types. Partners and access decisions read outside a
//! write come through the `Partners` and `Relationships` services; inside
//! its own write a use case reads (never writes) their tables through the
//! store (W1). The trait, its commands and results are
//! `contract::customers`.

mod subscriptions;
mod tenants;
mod transfers;

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::access::{AccessQuery, AccessReason, Action, Decision};
use crate::domain::model::{Customer, Partner, Subscription, Transfer};
use crate::domain::paging::Page;
use crate::domain::principal::Principal;
use crate::domain::{Error, Reason, Result, rules};
use crate::service::contract::consequences::Consequences;
use crate::service::contract::customers::{
    AcceptedTransfer, CheckDomainAvailability, CreateCustomer, CreateSubscription, CreateTransfer, Customers,
    DecideTransfer, GetCustomer, GetSubscription, ListCustomers, ListSubscriptions, ListTransfers, UpdateCustomer,
    UpdateSubscription,
};
use crate::service::contract::partners::{Partners, active_partner, require_active_caller};
use crate::service::contract::relationships::Relationships;
use crate::store::Store;

/// The CustomerService over the store of this process.
pub struct LocalCustomers {
    store: Store,
    partners: Arc<dyn Partners>,
    /// A1 decisions (C4, C5) outside a write.
    relationships: Arc<dyn Relationships>,
    /// How this service reads partners and asks for decisions.
    reader: Principal,
    /// C1's and S1's rows, written by the RelationshipService.
    consequences: Arc<dyn Consequences>,
}

impl LocalCustomers {
    pub fn new(
        store: Store,
        partners: Arc<dyn Partners>,
        relationships: Arc<dyn Relationships>,
        consequences: Arc<dyn Consequences>,
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
    /// `contract::partners::active_partner`).
    async fn active_caller(&self, partner_id: &str) -> Result<Partner> {
        active_partner(self.partners.as_ref(), &self.reader, partner_id).await
    }

    /// P4, the caller gate of this service: a partner that is not ACTIVE is
    /// refused every call, decided from the caller alone before any lookup
    /// (W2).
    async fn gate(&self, principal: &Principal) -> Result<()> {
        require_active_caller(self.partners.as_ref(), &self.reader, principal).await
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
        user_id: None,
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
