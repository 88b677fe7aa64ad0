//! CustomerService messages into domain values: a request into its command
//! (the server), every check on the request alone with all its violations
//! at once (INVALID_ARGUMENT before anything else: "Which error wins"); a
//! reply into its domain value (the remote client), where a reply that does
//! not decode is the peer's fault, INTERNAL.

use crate::api::convert::{
    malformed_reply, micros, optional, page_replies, present, reply_enum, reply_service, required, version,
};
use crate::api::{mask_paths, pb, validated};
use crate::domain::error::Violations;
use crate::domain::model::*;
use crate::domain::{Error, Result, validate};
use crate::service::contract::customers::{
    AcceptedTransfer, CheckDomainAvailability, CreateCustomer, CreateSubscription, CreateTransfer, CustomerField,
    DecideTransfer, GetCustomer, GetSubscription, ListCustomers, ListSubscriptions, ListTransfers, UpdateCustomer,
    UpdateSubscription,
};

/// T1: how many subscriptions one transfer names.
pub const MAX_TRANSFER_SUBSCRIPTIONS: usize = 100;

/// T2: the transfer an accept, reject or cancel names.
pub(super) fn decide_transfer(id: &str, etag: String) -> Result<DecideTransfer> {
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

// Replies into domain values (the remote client).

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

impl TryFrom<pb::Transfer> for Transfer {
    type Error = Error;

    fn try_from(message: pb::Transfer) -> Result<Self> {
        let some = |id: String| Some(id).filter(|id| !id.is_empty());
        Ok(Transfer {
            subscriptions: message
                .subscriptions
                .into_iter()
                .map(|item| {
                    Ok(TransferItem {
                        channel: reply_enum("subscriptions.channel", item.channel)?,
                        status: reply_enum("subscriptions.status", item.status)?,
                        subscription_id: item.subscription_id,
                        partner_of_record_id: some(item.partner_of_record_id),
                        indirect_provider_id: some(item.indirect_provider_id),
                    })
                })
                .collect::<Result<_>>()?,
            state: reply_enum("state", message.state)?,
            expire_time: micros("expire_time", message.expire_time)?,
            version: version("etag", &message.etag)?,
            create_time: micros("create_time", message.create_time)?,
            update_time: micros("update_time", message.update_time)?,
            id: message.id,
            customer_id: message.customer_id,
            proposing_partner_id: message.proposing_partner_id,
            partner_of_record_id: message.partner_of_record_id,
            indirect_provider_id: some(message.indirect_provider_id),
        })
    }
}

page_replies! {
    pb::ListCustomersResponse => Customer, customers;
    pb::ListSubscriptionsResponse => Subscription, subscriptions;
    pb::ListTransfersResponse => Transfer, transfers;
}

impl TryFrom<pb::AcceptTransferResponse> for AcceptedTransfer {
    type Error = Error;

    fn try_from(reply: pb::AcceptTransferResponse) -> Result<Self> {
        Ok(AcceptedTransfer {
            transfer: Transfer::try_from(reply.transfer.ok_or_else(|| malformed_reply("transfer", "absent"))?)?,
            subscriptions: reply
                .subscriptions
                .into_iter()
                .map(Subscription::try_from)
                .collect::<Result<_>>()?,
        })
    }
}

/// C7: whether the domain is free.
impl TryFrom<pb::CheckDomainAvailabilityResponse> for bool {
    type Error = Error;

    fn try_from(reply: pb::CheckDomainAvailabilityResponse) -> Result<Self> {
        Ok(reply.available)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::customers::encode::pb_contact;

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
