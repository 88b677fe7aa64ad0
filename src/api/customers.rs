//! CustomerService adapter: decodes requests into the commands of
//! `service::contract::customers`, calls the service, encodes its replies; and the
//! reverse conversions the remote client needs. The rules live in the
//! service.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::convert::{ProtoEnum, micros, optional, present, reply_enum, reply_service, required, version};
use super::pb::customer_service_server::CustomerService;
use super::{mask_paths, pb, principal, validated};
use crate::domain::error::Violations;
use crate::domain::model::*;
use crate::domain::paging::Page;
use crate::domain::{Error, Result, validate};
use crate::service::contract::customers::{
    CheckDomainAvailability, CreateCustomer, CreateSubscription, CreateTransfer, CustomerField, Customers,
    DecideTransfer, GetCustomer, GetSubscription, ListCustomers, ListSubscriptions, ListTransfers, UpdateCustomer,
    UpdateSubscription,
};

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
        let caller = principal(&request);
        let command = CreateCustomer::try_from(request.into_inner())?;
        let principal = caller?;
        let customer = self.service.create_customer(&principal, command).await?;
        Ok(Response::new((&customer).into()))
    }

    async fn get_customer(&self, request: Request<pb::GetCustomerRequest>) -> Result<Response<pb::Customer>, Status> {
        let caller = principal(&request);
        let command = GetCustomer::try_from(request.into_inner())?;
        let principal = caller?;
        let customer = self.service.get_customer(&principal, command).await?;
        Ok(Response::new((&customer).into()))
    }

    async fn list_customers(
        &self,
        request: Request<pb::ListCustomersRequest>,
    ) -> Result<Response<pb::ListCustomersResponse>, Status> {
        let caller = principal(&request);
        let command = ListCustomers::try_from(request.into_inner())?;
        let principal = caller?;
        let page = self.service.list_customers(&principal, command).await?;
        Ok(Response::new((&page).into()))
    }

    async fn update_customer(
        &self,
        request: Request<pb::UpdateCustomerRequest>,
    ) -> Result<Response<pb::Customer>, Status> {
        let caller = principal(&request);
        let command = UpdateCustomer::try_from(request.into_inner())?;
        let principal = caller?;
        let customer = self.service.update_customer(&principal, command).await?;
        Ok(Response::new((&customer).into()))
    }

    async fn create_subscription(
        &self,
        request: Request<pb::CreateSubscriptionRequest>,
    ) -> Result<Response<pb::Subscription>, Status> {
        let caller = principal(&request);
        let command = CreateSubscription::try_from(request.into_inner())?;
        let principal = caller?;
        let subscription = self.service.create_subscription(&principal, command).await?;
        Ok(Response::new((&subscription).into()))
    }

    async fn get_subscription(
        &self,
        request: Request<pb::GetSubscriptionRequest>,
    ) -> Result<Response<pb::Subscription>, Status> {
        let caller = principal(&request);
        let command = GetSubscription::try_from(request.into_inner())?;
        let principal = caller?;
        let subscription = self.service.get_subscription(&principal, command).await?;
        Ok(Response::new((&subscription).into()))
    }

    async fn list_subscriptions(
        &self,
        request: Request<pb::ListSubscriptionsRequest>,
    ) -> Result<Response<pb::ListSubscriptionsResponse>, Status> {
        let caller = principal(&request);
        let command = ListSubscriptions::try_from(request.into_inner())?;
        let principal = caller?;
        let page = self.service.list_subscriptions(&principal, command).await?;
        Ok(Response::new((&page).into()))
    }

    async fn update_subscription(
        &self,
        request: Request<pb::UpdateSubscriptionRequest>,
    ) -> Result<Response<pb::Subscription>, Status> {
        let caller = principal(&request);
        let command = UpdateSubscription::try_from(request.into_inner())?;
        let principal = caller?;
        let subscription = self.service.update_subscription(&principal, command).await?;
        Ok(Response::new((&subscription).into()))
    }

    async fn check_domain_availability(
        &self,
        request: Request<pb::CheckDomainAvailabilityRequest>,
    ) -> Result<Response<pb::CheckDomainAvailabilityResponse>, Status> {
        let caller = principal(&request);
        let command = CheckDomainAvailability::try_from(request.into_inner())?;
        let principal = caller?;
        let available = self.service.check_domain_availability(&principal, command).await?;
        Ok(Response::new(pb::CheckDomainAvailabilityResponse { available }))
    }

    async fn create_transfer(
        &self,
        request: Request<pb::CreateTransferRequest>,
    ) -> Result<Response<pb::Transfer>, Status> {
        let caller = principal(&request);
        let command = CreateTransfer::try_from(request.into_inner())?;
        let principal = caller?;
        let transfer = self.service.create_transfer(&principal, command).await?;
        Ok(Response::new((&transfer).into()))
    }

    async fn get_transfer(&self, request: Request<pb::GetTransferRequest>) -> Result<Response<pb::Transfer>, Status> {
        let caller = principal(&request);
        let id = validate::id("id", &request.get_ref().id)?;
        let principal = caller?;
        let transfer = self.service.get_transfer(&principal, &id).await?;
        Ok(Response::new((&transfer).into()))
    }

    async fn list_transfers(
        &self,
        request: Request<pb::ListTransfersRequest>,
    ) -> Result<Response<pb::ListTransfersResponse>, Status> {
        let caller = principal(&request);
        let command = ListTransfers::try_from(request.into_inner())?;
        let principal = caller?;
        let page = self.service.list_transfers(&principal, command).await?;
        Ok(Response::new(pb::ListTransfersResponse {
            transfers: page.items.iter().map(Into::into).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn accept_transfer(
        &self,
        request: Request<pb::AcceptTransferRequest>,
    ) -> Result<Response<pb::AcceptTransferResponse>, Status> {
        let caller = principal(&request);
        let body = request.into_inner();
        let command = decide_transfer(&body.id, body.etag)?;
        let principal = caller?;
        let accepted = self.service.accept_transfer(&principal, command).await?;
        Ok(Response::new(pb::AcceptTransferResponse {
            transfer: Some((&accepted.transfer).into()),
            subscriptions: accepted.subscriptions.iter().map(Into::into).collect(),
        }))
    }

    async fn reject_transfer(
        &self,
        request: Request<pb::RejectTransferRequest>,
    ) -> Result<Response<pb::Transfer>, Status> {
        let caller = principal(&request);
        let body = request.into_inner();
        let command = decide_transfer(&body.id, body.etag)?;
        let principal = caller?;
        let transfer = self.service.reject_transfer(&principal, command).await?;
        Ok(Response::new((&transfer).into()))
    }

    async fn cancel_transfer(
        &self,
        request: Request<pb::CancelTransferRequest>,
    ) -> Result<Response<pb::Transfer>, Status> {
        let caller = principal(&request);
        let body = request.into_inner();
        let command = decide_transfer(&body.id, body.etag)?;
        let principal = caller?;
        let transfer = self.service.cancel_transfer(&principal, command).await?;
        Ok(Response::new((&transfer).into()))
    }
}

/// T1: how many subscriptions one transfer names.
pub const MAX_TRANSFER_SUBSCRIPTIONS: usize = 100;

fn decide_transfer(id: &str, etag: String) -> Result<DecideTransfer> {
    Ok(DecideTransfer {
        id: validate::id("id", id)?,
        etag,
    })
}

impl TryFrom<pb::CreateTransferRequest> for CreateTransfer {
    type Error = Error;

    fn try_from(body: pb::CreateTransferRequest) -> Result<Self> {
        let request_id = validate::request_id("request_id", &body.request_id)?;
        let count = body.subscription_ids.len();
        let counted = if (1..=MAX_TRANSFER_SUBSCRIPTIONS).contains(&count) {
            Ok(())
        } else {
            Err(Error::invalid(
                "subscription_ids",
                format!("must name 1 to {MAX_TRANSFER_SUBSCRIPTIONS} subscriptions, not {count}"),
            ))
        };
        let mut ids = Vec::with_capacity(count);
        let mut violations = Violations::default();
        violations.check(counted);
        for (i, id) in body
            .subscription_ids
            .iter()
            .enumerate()
            .take(MAX_TRANSFER_SUBSCRIPTIONS)
        {
            if let Some(id) = violations.take(validate::id(&format!("subscription_ids[{i}]"), id)) {
                if ids.contains(&id) {
                    violations.check(Err(Error::invalid(
                        format!("subscription_ids[{i}]"),
                        "names a subscription already named: each once",
                    )));
                } else {
                    ids.push(id);
                }
            }
        }
        let customer_id = violations.take(validate::id("customer_id", &body.customer_id));
        let partner_of_record_id = violations.take(validate::optional_id(
            "partner_of_record_id",
            &body.partner_of_record_id,
        ));
        violations.into_result()?;
        Ok(CreateTransfer {
            customer_id: customer_id.unwrap_or_default(),
            subscription_ids: ids,
            partner_of_record_id: partner_of_record_id.flatten(),
            request_id,
        })
    }
}

impl From<CreateTransfer> for pb::CreateTransferRequest {
    fn from(command: CreateTransfer) -> Self {
        pb::CreateTransferRequest {
            customer_id: command.customer_id,
            subscription_ids: command.subscription_ids,
            partner_of_record_id: command.partner_of_record_id.unwrap_or_default(),
            request_id: command.request_id.unwrap_or_default(),
        }
    }
}

impl TryFrom<pb::ListTransfersRequest> for ListTransfers {
    type Error = Error;

    fn try_from(body: pb::ListTransfersRequest) -> Result<Self> {
        validated! {
            customer_id = validate::optional_id("customer_id", &body.customer_id);
            state = optional::<TransferState>("state", body.state);
            proposing_partner_id = validate::optional_id("proposing_partner_id", &body.proposing_partner_id);
        }
        Ok(ListTransfers {
            customer_id,
            state,
            proposing_partner_id,
            page_size: body.page_size,
            page_token: body.page_token,
        })
    }
}

impl From<ListTransfers> for pb::ListTransfersRequest {
    fn from(command: ListTransfers) -> Self {
        pb::ListTransfersRequest {
            page_size: command.page_size,
            page_token: command.page_token,
            customer_id: command.customer_id.unwrap_or_default(),
            state: command.state.map_or(0, ProtoEnum::to_proto),
            proposing_partner_id: command.proposing_partner_id.unwrap_or_default(),
        }
    }
}

// Requests into commands: every check on the request alone, all its
// violations at once (INVALID_ARGUMENT before anything else).

impl TryFrom<pb::CreateCustomerRequest> for CreateCustomer {
    type Error = Error;

    fn try_from(body: pb::CreateCustomerRequest) -> Result<Self> {
        let request_id = validate::request_id("request_id", &body.request_id)?;
        let input = body.customer.unwrap_or_default();
        let contact = input.billing_contact.unwrap_or_default();
        validated! {
            domain = validate::domain("customer.domain", &input.domain);
            _company = validate::name("customer.company_name", &input.company_name);
            _email = validate::email("customer.billing_contact.email", &contact.email);
            _first = validate::name("customer.billing_contact.first_name", &contact.first_name);
            _last = validate::name("customer.billing_contact.last_name", &contact.last_name);
            _culture = validate::culture("customer.billing_contact.culture", &contact.culture);
            _language = validate::language("customer.billing_contact.language", &contact.language);
            indirect_reseller_id = validate::optional_id("indirect_reseller_id", &body.indirect_reseller_id);
        }
        Ok(CreateCustomer {
            domain,
            company_name: input.company_name,
            billing_contact: billing_contact(contact),
            indirect_reseller_id,
            request_id,
        })
    }
}

impl TryFrom<pb::CheckDomainAvailabilityRequest> for CheckDomainAvailability {
    type Error = Error;

    fn try_from(body: pb::CheckDomainAvailabilityRequest) -> Result<Self> {
        Ok(CheckDomainAvailability {
            domain: validate::domain("domain", &body.domain)?,
        })
    }
}

impl From<CheckDomainAvailability> for pb::CheckDomainAvailabilityRequest {
    fn from(command: CheckDomainAvailability) -> Self {
        pb::CheckDomainAvailabilityRequest { domain: command.domain }
    }
}

impl TryFrom<pb::GetCustomerRequest> for GetCustomer {
    type Error = Error;

    fn try_from(body: pb::GetCustomerRequest) -> Result<Self> {
        Ok(GetCustomer {
            id: validate::id("id", &body.id)?,
        })
    }
}

impl TryFrom<pb::ListCustomersRequest> for ListCustomers {
    type Error = Error;

    fn try_from(body: pb::ListCustomersRequest) -> Result<Self> {
        validated! {
            company_name_prefix = validate::prefix("company_name_prefix", &body.company_name_prefix, validate::MAX_NAME_CHARS);
            domain_prefix = validate::prefix("domain_prefix", &body.domain_prefix, validate::MAX_DOMAIN_CHARS);
            indirect_reseller_id = validate::optional_id("indirect_reseller_id", &body.indirect_reseller_id);
        }
        Ok(ListCustomers {
            page_size: body.page_size,
            page_token: body.page_token,
            company_name_prefix,
            domain_prefix,
            indirect_reseller_id,
        })
    }
}

/// The update mask's paths of a customer, and the fields each names.
const CUSTOMER_PATHS: &[(&str, &[CustomerField])] = &[
    ("company_name", &[CustomerField::CompanyName]),
    (
        "billing_contact",
        &[
            CustomerField::Email,
            CustomerField::FirstName,
            CustomerField::LastName,
            CustomerField::Culture,
            CustomerField::Language,
        ],
    ),
    ("billing_contact.email", &[CustomerField::Email]),
    ("billing_contact.first_name", &[CustomerField::FirstName]),
    ("billing_contact.last_name", &[CustomerField::LastName]),
    ("billing_contact.culture", &[CustomerField::Culture]),
    ("billing_contact.language", &[CustomerField::Language]),
];

fn customer_path(field: CustomerField) -> &'static str {
    match field {
        CustomerField::CompanyName => "company_name",
        CustomerField::Email => "billing_contact.email",
        CustomerField::FirstName => "billing_contact.first_name",
        CustomerField::LastName => "billing_contact.last_name",
        CustomerField::Culture => "billing_contact.culture",
        CustomerField::Language => "billing_contact.language",
    }
}

impl TryFrom<pb::UpdateCustomerRequest> for UpdateCustomer {
    type Error = Error;

    fn try_from(body: pb::UpdateCustomerRequest) -> Result<Self> {
        let input = body.customer.unwrap_or_default();
        let contact = input.billing_contact.clone().unwrap_or_default();
        let id = validate::id("customer.id", &input.id)?;
        let allowed: Vec<&str> = CUSTOMER_PATHS.iter().map(|(path, _)| *path).collect();
        let paths = mask_paths(body.update_mask, &allowed)?;
        // In the order of the resource's fields, each once.
        let fields: Vec<CustomerField> = CustomerField::ALL
            .into_iter()
            .filter(|field| {
                CUSTOMER_PATHS
                    .iter()
                    .any(|(path, named)| named.contains(field) && paths.iter().any(|p| p == path))
            })
            .collect();
        let mut violations = Violations::default();
        for field in &fields {
            match field {
                CustomerField::CompanyName => {
                    violations.check(validate::name("customer.company_name", &input.company_name))
                }
                CustomerField::Email => {
                    violations.check(validate::email("customer.billing_contact.email", &contact.email))
                }
                CustomerField::FirstName => violations.check(validate::name(
                    "customer.billing_contact.first_name",
                    &contact.first_name,
                )),
                CustomerField::LastName => {
                    violations.check(validate::name("customer.billing_contact.last_name", &contact.last_name))
                }
                CustomerField::Culture => {
                    violations.check(validate::culture("customer.billing_contact.culture", &contact.culture))
                }
                CustomerField::Language => violations.check(validate::language(
                    "customer.billing_contact.language",
                    &contact.language,
                )),
            }
        }
        violations.into_result()?;
        Ok(UpdateCustomer {
            id,
            etag: input.etag,
            fields,
            company_name: input.company_name,
            billing_contact: billing_contact(contact),
        })
    }
}

impl TryFrom<pb::CreateSubscriptionRequest> for CreateSubscription {
    type Error = Error;

    fn try_from(body: pb::CreateSubscriptionRequest) -> Result<Self> {
        let request_id = validate::request_id("request_id", &body.request_id)?;
        let input = body.subscription.unwrap_or_default();
        validated! {
            customer_id = validate::id("subscription.customer_id", &input.customer_id);
            service = validate::service("subscription.service", &input.service);
            _offer = validate::name("subscription.offer_name", &input.offer_name);
            _quantity = validate::quantity("subscription.quantity", input.quantity);
            billing = required::<Billing>("subscription.billing", input.billing);
            status = optional::<SubscriptionStatus>("subscription.status", input.status);
            channel = required::<Channel>("subscription.channel", input.channel);
            partner_of_record_id = validate::optional_id("subscription.partner_of_record_id", &input.partner_of_record_id);
            indirect_provider_id = validate::optional_id("subscription.indirect_provider_id", &input.indirect_provider_id);
        }
        Ok(CreateSubscription {
            customer_id,
            service,
            offer_name: input.offer_name,
            quantity: input.quantity,
            billing,
            status,
            channel,
            partner_of_record_id,
            indirect_provider_id,
            request_id,
        })
    }
}

impl TryFrom<pb::GetSubscriptionRequest> for GetSubscription {
    type Error = Error;

    fn try_from(body: pb::GetSubscriptionRequest) -> Result<Self> {
        Ok(GetSubscription {
            id: validate::id("id", &body.id)?,
        })
    }
}

impl TryFrom<pb::ListSubscriptionsRequest> for ListSubscriptions {
    type Error = Error;

    fn try_from(body: pb::ListSubscriptionsRequest) -> Result<Self> {
        validated! {
            customer_id = validate::id("customer_id", &body.customer_id);
            service = if body.service.is_empty() { Ok(None) } else { validate::service("service", &body.service).map(Some) };
            status = optional::<SubscriptionStatus>("status", body.status);
        }
        Ok(ListSubscriptions {
            page_size: body.page_size,
            page_token: body.page_token,
            customer_id,
            service,
            status,
        })
    }
}

impl TryFrom<pb::UpdateSubscriptionRequest> for UpdateSubscription {
    type Error = Error;

    fn try_from(body: pb::UpdateSubscriptionRequest) -> Result<Self> {
        let input = body.subscription.unwrap_or_default();
        let id = validate::id("subscription.id", &input.id)?;
        let paths = mask_paths(body.update_mask, &["quantity", "status"])?;
        let mut violations = Violations::default();
        let (mut quantity, mut status) = (None, None);
        for path in &paths {
            match path.as_str() {
                "quantity" => {
                    violations.check(validate::quantity("subscription.quantity", input.quantity));
                    quantity = Some(input.quantity);
                }
                _ => status = violations.take(required::<SubscriptionStatus>("subscription.status", input.status)),
            }
        }
        violations.into_result()?;
        Ok(UpdateSubscription {
            id,
            etag: input.etag,
            quantity,
            status,
        })
    }
}

fn billing_contact(contact: pb::BillingContact) -> BillingContact {
    BillingContact {
        email: contact.email,
        first_name: contact.first_name,
        last_name: contact.last_name,
        culture: contact.culture,
        language: contact.language,
    }
}

// Replies: pages into responses (resources in `convert`).

impl From<&Page<Customer>> for pb::ListCustomersResponse {
    fn from(page: &Page<Customer>) -> Self {
        pb::ListCustomersResponse {
            customers: page.items.iter().map(Into::into).collect(),
            next_page_token: page.next_page_token.clone(),
        }
    }
}

impl From<&Page<Subscription>> for pb::ListSubscriptionsResponse {
    fn from(page: &Page<Subscription>) -> Self {
        pb::ListSubscriptionsResponse {
            subscriptions: page.items.iter().map(Into::into).collect(),
            next_page_token: page.next_page_token.clone(),
        }
    }
}

// The other way, for the remote client: commands into requests, replies
// into domain values.

fn pb_contact(contact: &BillingContact) -> pb::BillingContact {
    pb::BillingContact {
        email: contact.email.clone(),
        first_name: contact.first_name.clone(),
        last_name: contact.last_name.clone(),
        culture: contact.culture.clone(),
        language: contact.language.clone(),
    }
}

impl From<CreateCustomer> for pb::CreateCustomerRequest {
    fn from(command: CreateCustomer) -> Self {
        pb::CreateCustomerRequest {
            customer: Some(pb::Customer {
                domain: command.domain,
                company_name: command.company_name,
                billing_contact: Some(pb_contact(&command.billing_contact)),
                ..Default::default()
            }),
            indirect_reseller_id: command.indirect_reseller_id.unwrap_or_default(),
            request_id: command.request_id.unwrap_or_default(),
        }
    }
}

impl From<GetCustomer> for pb::GetCustomerRequest {
    fn from(command: GetCustomer) -> Self {
        pb::GetCustomerRequest { id: command.id }
    }
}

impl From<ListCustomers> for pb::ListCustomersRequest {
    fn from(command: ListCustomers) -> Self {
        pb::ListCustomersRequest {
            page_size: command.page_size,
            page_token: command.page_token,
            company_name_prefix: command.company_name_prefix,
            domain_prefix: command.domain_prefix,
            indirect_reseller_id: command.indirect_reseller_id.unwrap_or_default(),
        }
    }
}

impl From<UpdateCustomer> for pb::UpdateCustomerRequest {
    fn from(command: UpdateCustomer) -> Self {
        pb::UpdateCustomerRequest {
            customer: Some(pb::Customer {
                id: command.id,
                company_name: command.company_name,
                billing_contact: Some(pb_contact(&command.billing_contact)),
                etag: command.etag,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: command.fields.iter().map(|f| customer_path(*f).to_owned()).collect(),
            }),
        }
    }
}

impl From<CreateSubscription> for pb::CreateSubscriptionRequest {
    fn from(command: CreateSubscription) -> Self {
        pb::CreateSubscriptionRequest {
            subscription: Some(pb::Subscription {
                customer_id: command.customer_id,
                service: command.service.as_str().to_owned(),
                offer_name: command.offer_name,
                quantity: command.quantity,
                billing: command.billing.to_proto(),
                status: command.status.map_or(0, ProtoEnum::to_proto),
                channel: command.channel.to_proto(),
                partner_of_record_id: command.partner_of_record_id.unwrap_or_default(),
                indirect_provider_id: command.indirect_provider_id.unwrap_or_default(),
                ..Default::default()
            }),
            request_id: command.request_id.unwrap_or_default(),
        }
    }
}

impl From<GetSubscription> for pb::GetSubscriptionRequest {
    fn from(command: GetSubscription) -> Self {
        pb::GetSubscriptionRequest { id: command.id }
    }
}

impl From<ListSubscriptions> for pb::ListSubscriptionsRequest {
    fn from(command: ListSubscriptions) -> Self {
        pb::ListSubscriptionsRequest {
            page_size: command.page_size,
            page_token: command.page_token,
            customer_id: command.customer_id,
            service: command.service.map(|s| s.as_str().to_owned()).unwrap_or_default(),
            status: command.status.map_or(0, ProtoEnum::to_proto),
        }
    }
}

impl From<UpdateSubscription> for pb::UpdateSubscriptionRequest {
    fn from(command: UpdateSubscription) -> Self {
        let mut paths = Vec::new();
        if command.quantity.is_some() {
            paths.push("quantity".to_owned());
        }
        if command.status.is_some() {
            paths.push("status".to_owned());
        }
        pb::UpdateSubscriptionRequest {
            subscription: Some(pb::Subscription {
                id: command.id,
                quantity: command.quantity.unwrap_or_default(),
                status: command.status.map_or(0, ProtoEnum::to_proto),
                etag: command.etag,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask { paths }),
        }
    }
}

impl TryFrom<pb::Customer> for Customer {
    type Error = Error;

    fn try_from(c: pb::Customer) -> Result<Self> {
        Ok(Customer {
            version: version("etag", &c.etag)?,
            create_time: micros("create_time", c.create_time)?,
            update_time: micros("update_time", c.update_time)?,
            id: c.id,
            domain: c.domain,
            company_name: c.company_name,
            billing_contact: billing_contact(c.billing_contact.unwrap_or_default()),
        })
    }
}

impl TryFrom<pb::Subscription> for Subscription {
    type Error = Error;

    fn try_from(s: pb::Subscription) -> Result<Self> {
        Ok(Subscription {
            service: reply_service("service", &s.service)?,
            billing: reply_enum("billing", s.billing)?,
            status: reply_enum("status", s.status)?,
            channel: reply_enum("channel", s.channel)?,
            version: version("etag", &s.etag)?,
            create_time: micros("create_time", s.create_time)?,
            update_time: micros("update_time", s.update_time)?,
            id: s.id,
            customer_id: s.customer_id,
            offer_name: s.offer_name,
            quantity: s.quantity,
            partner_of_record_id: present(s.partner_of_record_id),
            indirect_provider_id: present(s.indirect_provider_id),
        })
    }
}

impl TryFrom<pb::ListCustomersResponse> for Page<Customer> {
    type Error = Error;

    fn try_from(reply: pb::ListCustomersResponse) -> Result<Self> {
        Ok(Page {
            items: reply
                .customers
                .into_iter()
                .map(Customer::try_from)
                .collect::<Result<_>>()?,
            next_page_token: reply.next_page_token,
        })
    }
}

impl TryFrom<pb::ListSubscriptionsResponse> for Page<Subscription> {
    type Error = Error;

    fn try_from(reply: pb::ListSubscriptionsResponse) -> Result<Self> {
        Ok(Page {
            items: reply
                .subscriptions
                .into_iter()
                .map(Subscription::try_from)
                .collect::<Result<_>>()?,
            next_page_token: reply.next_page_token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids are UUIDs.
    fn id(n: u8) -> String {
        format!("00000000-0000-4000-8000-{n:012}")
    }

    fn contact() -> BillingContact {
        BillingContact {
            email: "a@b.cn".into(),
            first_name: "Li".into(),
            last_name: "Wei".into(),
            culture: "zh-CN".into(),
            language: "zh".into(),
        }
    }

    /// The remote client sends a command as a request the server decodes
    /// back into the very same command.
    fn round_trip<C, R>(command: C)
    where
        C: Clone + std::fmt::Debug + PartialEq + TryFrom<R, Error = Error>,
        R: From<C>,
    {
        let decoded = C::try_from(R::from(command.clone()));
        assert_eq!(decoded.ok(), Some(command));
    }

    #[test]
    fn commands_survive_the_wire() {
        round_trip::<_, pb::CreateCustomerRequest>(CreateCustomer {
            domain: "a.cn".into(),
            company_name: "Acme".into(),
            billing_contact: contact(),
            indirect_reseller_id: Some(id(2)),
            request_id: Some("req-1".into()),
        });
        round_trip::<_, pb::GetCustomerRequest>(GetCustomer { id: id(1) });
        round_trip::<_, pb::ListCustomersRequest>(ListCustomers {
            page_size: 7,
            page_token: String::new(),
            company_name_prefix: "ac".into(),
            domain_prefix: "a".into(),
            indirect_reseller_id: None,
        });
        round_trip::<_, pb::UpdateCustomerRequest>(UpdateCustomer {
            id: id(1),
            etag: etag(3),
            fields: vec![
                CustomerField::CompanyName,
                CustomerField::Email,
                CustomerField::Language,
            ],
            company_name: "Acme".into(),
            billing_contact: contact(),
        });
        round_trip::<_, pb::CreateSubscriptionRequest>(CreateSubscription {
            customer_id: id(1),
            service: Service::Azure,
            offer_name: "Plan".into(),
            quantity: 3,
            billing: Billing::Usage,
            status: Some(SubscriptionStatus::Suspended),
            channel: Channel::Csp,
            partner_of_record_id: Some(id(3)),
            indirect_provider_id: Some(id(4)),
            request_id: None,
        });
        round_trip::<_, pb::GetSubscriptionRequest>(GetSubscription { id: id(5) });
        round_trip::<_, pb::ListSubscriptionsRequest>(ListSubscriptions {
            page_size: 0,
            page_token: String::new(),
            customer_id: id(1),
            service: Some(Service::Office365),
            status: Some(SubscriptionStatus::Active),
        });
        round_trip::<_, pb::UpdateSubscriptionRequest>(UpdateSubscription {
            id: id(5),
            etag: String::new(),
            quantity: Some(4),
            status: Some(SubscriptionStatus::Cancelled),
        });
    }

    #[test]
    fn a_billing_contact_mask_names_its_five_fields() {
        let command = UpdateCustomer::try_from(pb::UpdateCustomerRequest {
            customer: Some(pb::Customer {
                id: id(1),
                billing_contact: Some(pb_contact(&contact())),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["billing_contact".into(), "billing_contact.email".into()],
            }),
        });
        assert_eq!(command.map(|c| c.fields).ok(), Some(CustomerField::ALL[1..].to_vec()));
    }

    #[test]
    fn replies_survive_the_wire() {
        let customer = Customer {
            id: id(1),
            domain: "a.cn".into(),
            company_name: "Acme".into(),
            billing_contact: contact(),
            version: 4,
            create_time: 1_800_000_000_123_456,
            update_time: 1_800_000_001_000_001,
        };
        assert_eq!(Customer::try_from(pb::Customer::from(&customer)).ok(), Some(customer));
        let subscription = Subscription {
            id: id(5),
            customer_id: id(1),
            service: Service::Dynamics365,
            offer_name: "Plan".into(),
            quantity: 2,
            billing: Billing::License,
            status: SubscriptionStatus::Active,
            channel: Channel::Advisor,
            partner_of_record_id: Some(id(3)),
            indirect_provider_id: None,
            version: 1,
            create_time: 0,
            update_time: -1,
        };
        assert_eq!(
            Subscription::try_from(pb::Subscription::from(&subscription)).ok(),
            Some(subscription)
        );
    }

    #[test]
    fn a_malformed_reply_is_internal() {
        let customer = pb::Customer {
            etag: "W/\"1\"".into(),
            create_time: Some(prost_types::Timestamp {
                seconds: i64::MAX,
                nanos: 0,
            }),
            update_time: Some(prost_types::Timestamp::default()),
            ..Default::default()
        };
        let error = Customer::try_from(customer.clone()).err();
        assert_eq!(error.map(|e| e.code.as_str()), Some("INTERNAL"));
        let no_etag = pb::Customer {
            etag: "v1".into(),
            create_time: Some(prost_types::Timestamp::default()),
            ..customer
        };
        assert!(Customer::try_from(no_etag).is_err());
    }
}
