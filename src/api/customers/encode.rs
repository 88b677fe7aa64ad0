//! Domain values into CustomerService messages: a reply into its message
//! (the server; events carry customers, subscriptions and transfers too)
//! and a command into its request (the remote client).

use crate::api::convert::{ProtoEnum, id_or_empty, timestamp};
use crate::api::pb;
use crate::domain::model::*;
use crate::domain::paging::Page;
use crate::service::contract::customers::{
    AcceptedTransfer, CheckDomainAvailability, CreateCustomer, CreateSubscription, CreateTransfer, CustomerField,
    GetCustomer, GetSubscription, ListCustomers, ListSubscriptions, ListTransfers, UpdateCustomer, UpdateSubscription,
};

impl From<&Customer> for pb::Customer {
    fn from(c: &Customer) -> Self {
        pb::Customer {
            id: c.id.clone(),
            domain: c.domain.clone(),
            company_name: c.company_name.clone(),
            billing_contact: Some(pb_contact(&c.billing_contact)),
            etag: etag(c.version),
            create_time: timestamp(c.create_time),
            update_time: timestamp(c.update_time),
        }
    }
}

/// A billing contact as protobuf carries it (the inverse of
/// `decode::billing_contact`).
pub(super) fn pb_contact(contact: &BillingContact) -> pb::BillingContact {
    pb::BillingContact {
        email: contact.email.clone(),
        first_name: contact.first_name.clone(),
        last_name: contact.last_name.clone(),
        culture: contact.culture.clone(),
        language: contact.language.clone(),
    }
}

impl From<&Subscription> for pb::Subscription {
    fn from(s: &Subscription) -> Self {
        pb::Subscription {
            id: s.id.clone(),
            customer_id: s.customer_id.clone(),
            service: s.service.as_str().to_owned(),
            offer_name: s.offer_name.clone(),
            quantity: s.quantity,
            billing: s.billing.to_proto(),
            status: s.status.to_proto(),
            channel: s.channel.to_proto(),
            partner_of_record_id: id_or_empty(&s.partner_of_record_id),
            indirect_provider_id: id_or_empty(&s.indirect_provider_id),
            etag: etag(s.version),
            create_time: timestamp(s.create_time),
            update_time: timestamp(s.update_time),
        }
    }
}

impl From<&Transfer> for pb::Transfer {
    fn from(t: &Transfer) -> Self {
        pb::Transfer {
            id: t.id.clone(),
            customer_id: t.customer_id.clone(),
            proposing_partner_id: t.proposing_partner_id.clone(),
            partner_of_record_id: t.partner_of_record_id.clone(),
            indirect_provider_id: id_or_empty(&t.indirect_provider_id),
            subscriptions: t
                .subscriptions
                .iter()
                .map(|item| pb::TransferredSubscription {
                    subscription_id: item.subscription_id.clone(),
                    partner_of_record_id: id_or_empty(&item.partner_of_record_id),
                    indirect_provider_id: id_or_empty(&item.indirect_provider_id),
                    channel: item.channel.to_proto(),
                    status: item.status.to_proto(),
                })
                .collect(),
            state: t.state.to_proto(),
            expire_time: timestamp(t.expire_time),
            etag: etag(t.version),
            create_time: timestamp(t.create_time),
            update_time: timestamp(t.update_time),
        }
    }
}

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

impl From<&Page<Transfer>> for pb::ListTransfersResponse {
    fn from(page: &Page<Transfer>) -> Self {
        pb::ListTransfersResponse {
            transfers: page.items.iter().map(Into::into).collect(),
            next_page_token: page.next_page_token.clone(),
        }
    }
}

impl From<&AcceptedTransfer> for pb::AcceptTransferResponse {
    fn from(accepted: &AcceptedTransfer) -> Self {
        pb::AcceptTransferResponse {
            transfer: Some((&accepted.transfer).into()),
            subscriptions: accepted.subscriptions.iter().map(Into::into).collect(),
        }
    }
}

// Commands into requests (the remote client).

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

impl From<CheckDomainAvailability> for pb::CheckDomainAvailabilityRequest {
    fn from(command: CheckDomainAvailability) -> Self {
        pb::CheckDomainAvailabilityRequest { domain: command.domain }
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
