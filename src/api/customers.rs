//! CustomerService: customers and subscriptions (C1-C6, S1-S3). Partner data
//! and access decisions come through the `PartnerDirectory` and
//! `AccessChecker` seams.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::convert::{optional, required};
use super::pb::customer_service_server::CustomerService;
use super::{mask_paths, pb, principal, request_key, validated};
use crate::domain::access::{AccessQuery, AccessReason, Action, Decision};
use crate::domain::error::Violations;
use crate::domain::model::*;
use crate::domain::paging::PageRequest;
use crate::domain::ports::{AccessChecker, PartnerDirectory};
use crate::domain::principal::Principal;
use crate::domain::{Error, Reason, Result, rules, validate};
use crate::store::{CustomerFilter, Store, SubscriptionFilter, WriteTx, new_id};

pub struct CustomerApi {
    store: Store,
    partners: Arc<dyn PartnerDirectory>,
    access: Arc<dyn AccessChecker>,
}

impl CustomerApi {
    pub fn new(store: Store, partners: Arc<dyn PartnerDirectory>, access: Arc<dyn AccessChecker>) -> Self {
        CustomerApi {
            store,
            partners,
            access,
        }
    }

    async fn decide(&self, partner_id: &str, customer_id: &str, action: Action) -> Result<Decision> {
        self.access.check(&query(partner_id, customer_id, action)).await
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

    /// The calling partner, which must exist and be ACTIVE to write (P4).
    async fn active_caller(&self, partner_id: &str) -> Result<Partner> {
        let caller = self.partners.partner(partner_id).await?;
        rules::require_active_caller(caller.as_ref()).cloned()
    }

    /// P4: a partner that is not ACTIVE is refused every call, decided from
    /// the caller alone before any lookup (W2).
    async fn gate(&self, principal: &Principal) -> Result<()> {
        if let Principal::Partner { partner_id } = principal {
            self.active_caller(partner_id).await?;
        }
        Ok(())
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

fn new_relationship(
    customer_id: &str,
    partner_id: &str,
    kind: RelationshipKind,
    indirect_provider_id: Option<String>,
    source: RelationshipSource,
    now: Micros,
) -> Relationship {
    Relationship {
        id: new_id(),
        customer_id: customer_id.to_owned(),
        partner_id: partner_id.to_owned(),
        kind,
        indirect_provider_id,
        state: RelationshipState::Active,
        source,
        relationship_request_id: None,
        start_time: now,
        end_time: None,
    }
}

/// C1: the relationships and DAP a partner gets for the tenant it created.
async fn grant_creator_rights(
    tx: &mut WriteTx,
    customer_id: &str,
    creator: &Partner,
    reseller_id: Option<&str>,
) -> Result<()> {
    let (relationships, grants) = rules::creator_rights(customer_id, &creator.id, reseller_id, tx.now(), new_id);
    for relationship in &relationships {
        tx.insert_relationship(relationship).await?;
    }
    for grant in &grants {
        tx.insert_grant(grant, None).await?;
    }
    Ok(())
}

/// S1 inside the write (W1): an operator's CSP partner of record must be
/// transacting (and its provider linked); an ADVISOR one must exist.
async fn operator_terms(
    tx: &WriteTx,
    customer_id: &str,
    channel: Channel,
    named_partner: Option<String>,
    named_provider: Option<String>,
) -> Result<(Option<String>, Option<String>)> {
    if let (Channel::Csp, Some(partner_id)) = (channel, &named_partner) {
        let decision = tx.decide(&query(partner_id, customer_id, Action::Sell)).await?;
        rules::require_transacting(&decision, "the partner of record")?;
        if let Some(provider_id) = &named_provider {
            let reseller = tx.partner(partner_id).await?;
            let linked = tx.active_link(provider_id, partner_id).await?.is_some();
            rules::check_reseller_linked(reseller.as_ref(), linked)?;
        }
    }
    if let (Channel::Advisor, Some(partner_id)) = (channel, &named_partner)
        && tx.partner(partner_id).await?.is_none()
    {
        return Err(Error::failed_precondition(
            Reason::PartnerNotFound,
            format!("partner {partner_id} does not exist"),
        ));
    }
    Ok((named_partner, named_provider))
}

/// S2 inside the write (W1): the caller is transacting with the customer;
/// a provider naming a partner of record names a linked reseller that is
/// transacting too. Returns the partner of record and the provider.
async fn sell_terms(
    tx: &WriteTx,
    partner_id: &str,
    customer_id: &str,
    named_partner: Option<String>,
) -> Result<(Option<String>, Option<String>)> {
    require_sell(
        &tx.decide(&query(partner_id, customer_id, Action::Sell)).await?,
        "the calling partner",
    )?;
    match named_partner {
        Some(reseller_id) if reseller_id != partner_id => {
            let caller = tx.active_caller(partner_id).await?;
            if caller.kind != PartnerKind::IndirectProvider {
                return Err(Error::invalid(
                    "subscription.partner_of_record_id",
                    "a direct reseller is always the partner of record of what it sells",
                ));
            }
            let reseller = tx.partner(&reseller_id).await?;
            let linked = tx.active_link(partner_id, &reseller_id).await?.is_some();
            rules::check_reseller_linked(reseller.as_ref(), linked)?;
            let decision = tx.decide(&query(&reseller_id, customer_id, Action::Sell)).await?;
            rules::require_transacting(&decision, "the indirect reseller")?;
            Ok((Some(reseller_id), Some(partner_id.to_owned())))
        }
        _ => Ok((Some(partner_id.to_owned()), None)),
    }
}

#[tonic::async_trait]
impl CustomerService for CustomerApi {
    /// C1, C2, C3.
    async fn create_customer(
        &self,
        request: Request<pb::CreateCustomerRequest>,
    ) -> Result<Response<pb::Customer>, Status> {
        let principal = principal(&request)?;
        let body = request.into_inner();
        let key = request_key(&principal, "CreateCustomer", &body.request_id, &body)?;
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
            reseller_id = validate::optional_id("indirect_reseller_id", &body.indirect_reseller_id);
        }
        let creator = match &principal {
            // C2: bought directly from the cloud operator.
            Principal::Operator { .. } => {
                if reseller_id.is_some() {
                    return Err(Error::invalid(
                        "indirect_reseller_id",
                        "the operator creates customers without a partner",
                    )
                    .into());
                }
                None
            }
            Principal::Partner { partner_id } => {
                // Fails sooner on the caller alone; decided again inside.
                let caller = self.active_caller(partner_id).await?;
                rules::check_customer_creator(&caller, reseller_id.is_some())?;
                Some(caller.id)
            }
            _ => return Err(Error::role_not_allowed("create customers").into()),
        };

        let mut tx = self.store.begin_write(principal.actor()).await?;
        // W1: P4, C1's kinds and the reseller's link, on the state this
        // write commits against.
        let creator = match &creator {
            Some(creator_id) => {
                let caller = tx.active_caller(creator_id).await?;
                rules::check_customer_creator(&caller, reseller_id.is_some())?;
                Some(caller)
            }
            None => None,
        };
        if let Some(id) = tx.replayed(key.as_ref()).await? {
            let customer = tx.customer(&id).await?.ok_or_else(|| customer_not_found(&id))?;
            return Ok(Response::new((&customer).into()));
        }
        if let (Some(caller), Some(reseller_id)) = (&creator, &reseller_id) {
            let reseller = tx.partner(reseller_id).await?;
            let linked = tx.active_link(&caller.id, reseller_id).await?.is_some();
            rules::check_reseller_linked(reseller.as_ref(), linked)?;
        }
        if tx.customer_by_domain(&domain).await?.is_some() {
            return Err(Error::already_exists(
                Reason::DomainTaken,
                format!("the domain {domain} belongs to an existing customer"),
            )
            .into());
        }
        let now = tx.now();
        let customer = Customer {
            id: new_id(),
            domain,
            company_name: input.company_name.trim().to_owned(),
            billing_contact: BillingContact {
                email: contact.email,
                first_name: contact.first_name.trim().to_owned(),
                last_name: contact.last_name.trim().to_owned(),
                culture: contact.culture,
                language: contact.language,
            },
            version: 1,
            create_time: now,
            update_time: now,
        };
        tx.insert_customer(&customer).await?;
        if let Some(creator) = &creator {
            grant_creator_rights(&mut tx, &customer.id, creator, reseller_id.as_deref()).await?;
        }
        tx.remember(key.as_ref(), &customer.id).await?;
        tx.commit().await?;
        tracing::info!(customer_id = %customer.id, creator = creator.as_ref().map_or("operator", |p| p.id.as_str()), "customer created");
        Ok(Response::new((&customer).into()))
    }

    /// C4, C5.
    async fn get_customer(&self, request: Request<pb::GetCustomerRequest>) -> Result<Response<pb::Customer>, Status> {
        let principal = principal(&request)?;
        let id = validate::id("id", &request.get_ref().id)?;
        self.gate(&principal).await?;
        self.authorize_read(&principal, &id).await?;
        let customer = self.store.customer(&id).await?.ok_or_else(|| customer_not_found(&id))?;
        Ok(Response::new((&customer).into()))
    }

    /// C6: a partner's list holds exactly the customers it may read.
    async fn list_customers(
        &self,
        request: Request<pb::ListCustomersRequest>,
    ) -> Result<Response<pb::ListCustomersResponse>, Status> {
        let principal = principal(&request)?;
        let body = request.into_inner();
        validated! {
            company_name_prefix = validate::prefix("company_name_prefix", &body.company_name_prefix, validate::MAX_NAME_CHARS);
            domain_prefix = validate::prefix("domain_prefix", &body.domain_prefix, validate::MAX_DOMAIN_CHARS);
            indirect_reseller_id = validate::optional_id("indirect_reseller_id", &body.indirect_reseller_id);
        }
        let page = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &format!("customers|{company_name_prefix}|{domain_prefix}|{indirect_reseller_id:?}"),
        )?;
        let mut filter = CustomerFilter {
            company_name_prefix: Some(company_name_prefix).filter(|p| !p.is_empty()),
            domain_prefix: Some(domain_prefix).filter(|p| !p.is_empty()),
            indirect_reseller_id,
            ..CustomerFilter::default()
        };
        match &principal {
            Principal::Operator { .. } | Principal::Service { .. } => {}
            Principal::Customer { customer_id } => filter.only_id = Some(customer_id.clone()),
            Principal::Partner { partner_id } => {
                // P4: a partner that is not ACTIVE reads no customer.
                self.active_caller(partner_id).await?;
                filter.visible_to_partner = Some(partner_id.clone());
            }
        }
        let rows = self.store.list_customers(&filter, &page).await?;
        // W3: cut by bytes too, measured on the reply's own items.
        let rows: Vec<pb::Customer> = rows.iter().map(Into::into).collect();
        let (customers, next_page_token) = page.finish_within(rows, |c| c.id.clone(), prost::Message::encoded_len);
        Ok(Response::new(pb::ListCustomersResponse {
            customers,
            next_page_token,
        }))
    }

    /// The operator, the customer's own admin, or a transacting partner
    /// update the company name and billing contact; the domain never changes.
    async fn update_customer(
        &self,
        request: Request<pb::UpdateCustomerRequest>,
    ) -> Result<Response<pb::Customer>, Status> {
        const PATHS: &[&str] = &[
            "company_name",
            "billing_contact",
            "billing_contact.email",
            "billing_contact.first_name",
            "billing_contact.last_name",
            "billing_contact.culture",
            "billing_contact.language",
        ];
        let principal = principal(&request)?;
        let body = request.into_inner();
        let input = body.customer.unwrap_or_default();
        let contact = input.billing_contact.clone().unwrap_or_default();
        let id = validate::id("customer.id", &input.id)?;
        let paths = mask_paths(body.update_mask, PATHS)?;
        let touches = |field: &str| {
            paths
                .iter()
                .any(|p| p == field || (p == "billing_contact" && field.starts_with("billing_contact.")))
        };
        let mut violations = Violations::default();
        if touches("company_name") {
            violations.check(validate::name("customer.company_name", &input.company_name));
        }
        if touches("billing_contact.email") {
            violations.check(validate::email("customer.billing_contact.email", &contact.email));
        }
        if touches("billing_contact.first_name") {
            violations.check(validate::name(
                "customer.billing_contact.first_name",
                &contact.first_name,
            ));
        }
        if touches("billing_contact.last_name") {
            violations.check(validate::name("customer.billing_contact.last_name", &contact.last_name));
        }
        if touches("billing_contact.culture") {
            violations.check(validate::culture("customer.billing_contact.culture", &contact.culture));
        }
        if touches("billing_contact.language") {
            violations.check(validate::language(
                "customer.billing_contact.language",
                &contact.language,
            ));
        }
        violations.into_result()?;
        match &principal {
            Principal::Operator { .. } => {}
            Principal::Customer { customer_id } if customer_id == &id => {}
            Principal::Customer { .. } => return Err(tenant_mismatch().into()),
            Principal::Partner { partner_id } => {
                // Fails sooner on the caller alone; SELL is decided inside.
                self.active_caller(partner_id).await?;
            }
            Principal::Service { .. } => return Err(Error::role_not_allowed("update customers").into()),
        }

        let mut tx = self.store.begin_write(principal.actor()).await?;
        if let Principal::Partner { partner_id } = &principal {
            tx.active_caller(partner_id).await?;
            require_sell(
                &tx.decide(&query(partner_id, &id, Action::Sell)).await?,
                "the calling partner",
            )?;
        }
        let current = tx.customer(&id).await?.ok_or_else(|| customer_not_found(&id))?;
        rules::check_etag(&input.etag, &etag(current.version), "customer")?;
        let mut next = current.clone();
        if touches("company_name") {
            next.company_name = input.company_name.trim().to_owned();
        }
        let next_contact = &mut next.billing_contact;
        if touches("billing_contact.email") {
            next_contact.email = contact.email;
        }
        if touches("billing_contact.first_name") {
            next_contact.first_name = contact.first_name.trim().to_owned();
        }
        if touches("billing_contact.last_name") {
            next_contact.last_name = contact.last_name.trim().to_owned();
        }
        if touches("billing_contact.culture") {
            next_contact.culture = contact.culture;
        }
        if touches("billing_contact.language") {
            next_contact.language = contact.language;
        }
        if next == current {
            return Ok(Response::new((&current).into()));
        }
        let updated = tx.update_customer(next).await?;
        tx.commit().await?;
        Ok(Response::new((&updated).into()))
    }

    /// S1 (the operator records any channel) and S2 (a transacting partner
    /// sells CSP).
    async fn create_subscription(
        &self,
        request: Request<pb::CreateSubscriptionRequest>,
    ) -> Result<Response<pb::Subscription>, Status> {
        let principal = principal(&request)?;
        let body = request.into_inner();
        let key = request_key(&principal, "CreateSubscription", &body.request_id, &body)?;
        let input = body.subscription.unwrap_or_default();
        validated! {
            customer_id = validate::id("subscription.customer_id", &input.customer_id);
            service = validate::service("subscription.service", &input.service);
            _offer = validate::name("subscription.offer_name", &input.offer_name);
            _quantity = validate::quantity("subscription.quantity", input.quantity);
            billing = required::<Billing>("subscription.billing", input.billing);
            status = optional::<SubscriptionStatus>("subscription.status", input.status);
            channel = required::<Channel>("subscription.channel", input.channel);
            named_partner = validate::optional_id("subscription.partner_of_record_id", &input.partner_of_record_id);
            named_provider = validate::optional_id("subscription.indirect_provider_id", &input.indirect_provider_id);
        }
        // Fails sooner on the request and the caller alone; every rule that
        // reads other state is decided inside the write (W1).
        match &principal {
            Principal::Operator { .. } => {
                rules::check_channel_partner(channel, named_partner.is_some())?;
                if named_provider.is_some() && channel != Channel::Csp {
                    return Err(Error::invalid(
                        "subscription.indirect_provider_id",
                        "only CSP subscriptions have an indirect provider",
                    )
                    .into());
                }
            }
            Principal::Partner { partner_id } => {
                let caller = self.active_caller(partner_id).await?;
                rules::check_subscription_seller(&caller, channel)?;
                if named_provider.is_some() {
                    return Err(Error::invalid(
                        "subscription.indirect_provider_id",
                        "is set by the service when a provider names its reseller",
                    )
                    .into());
                }
            }
            _ => return Err(Error::role_not_allowed("create subscriptions").into()),
        }

        let mut tx = self.store.begin_write(principal.actor()).await?;
        if let Principal::Partner { partner_id } = &principal {
            let caller = tx.active_caller(partner_id).await?;
            rules::check_subscription_seller(&caller, channel)?;
        }
        if let Some(id) = tx.replayed(key.as_ref()).await? {
            let subscription = tx.subscription(&id).await?.ok_or_else(|| subscription_not_found(&id))?;
            return Ok(Response::new((&subscription).into()));
        }
        // A partner that may not read the customer is refused before
        // NOT_FOUND (W2); the operator learns NOT_FOUND before the
        // preconditions.
        let (partner_of_record_id, indirect_provider_id) = match &principal {
            Principal::Partner { partner_id } => sell_terms(&tx, partner_id, &customer_id, named_partner).await?,
            _ => {
                if tx.customer(&customer_id).await?.is_none() {
                    return Err(customer_not_found(&customer_id).into());
                }
                operator_terms(&tx, &customer_id, channel, named_partner, named_provider).await?
            }
        };
        if tx.customer(&customer_id).await?.is_none() {
            return Err(customer_not_found(&customer_id).into());
        }
        let now = tx.now();
        let subscription = Subscription {
            id: new_id(),
            customer_id,
            service,
            offer_name: input.offer_name.trim().to_owned(),
            quantity: input.quantity,
            billing,
            status: status.unwrap_or(SubscriptionStatus::Active),
            channel,
            partner_of_record_id,
            indirect_provider_id,
            version: 1,
            create_time: now,
            update_time: now,
        };
        tx.insert_subscription(&subscription).await?;
        // S1: an ADVISOR subscription gives its partner VIEW through an
        // ADVISOR relationship, unless it has one already.
        if let (Channel::Advisor, Some(advisor_id)) = (channel, &subscription.partner_of_record_id) {
            let existing = tx
                .active_relationships(&subscription.customer_id, advisor_id, RelationshipKind::Advisor)
                .await?;
            if existing.is_empty() {
                let advisor = new_relationship(
                    &subscription.customer_id,
                    advisor_id,
                    RelationshipKind::Advisor,
                    None,
                    RelationshipSource::AdvisorSubscription,
                    now,
                );
                tx.insert_relationship(&advisor).await?;
            }
        }
        tx.remember(key.as_ref(), &subscription.id).await?;
        tx.commit().await?;
        tracing::info!(subscription_id = %subscription.id, channel = %subscription.channel, "subscription created");
        Ok(Response::new((&subscription).into()))
    }

    /// C4: a subscription is read exactly when its customer is.
    async fn get_subscription(
        &self,
        request: Request<pb::GetSubscriptionRequest>,
    ) -> Result<Response<pb::Subscription>, Status> {
        let principal = principal(&request)?;
        let id = validate::id("id", &request.get_ref().id)?;
        self.gate(&principal).await?;
        let subscription = self.store.subscription(&id).await?;
        match (&principal, subscription) {
            (_, Some(subscription)) => {
                self.authorize_read(&principal, &subscription.customer_id).await?;
                Ok(Response::new((&subscription).into()))
            }
            (Principal::Operator { .. } | Principal::Service { .. }, None) => Err(subscription_not_found(&id).into()),
            (Principal::Customer { .. }, None) => Err(tenant_mismatch().into()),
            // The very refusal of C4 for a customer it may not read (W2).
            (Principal::Partner { .. }, None) => Err(rules::cannot_view().into()),
        }
    }

    async fn list_subscriptions(
        &self,
        request: Request<pb::ListSubscriptionsRequest>,
    ) -> Result<Response<pb::ListSubscriptionsResponse>, Status> {
        let principal = principal(&request)?;
        let body = request.into_inner();
        validated! {
            customer_id = validate::id("customer_id", &body.customer_id);
            service = if body.service.is_empty() { Ok(None) } else { validate::service("service", &body.service).map(Some) };
            status = optional::<SubscriptionStatus>("status", body.status);
        }
        self.gate(&principal).await?;
        self.authorize_read(&principal, &customer_id).await?;
        let page = PageRequest::parse(
            body.page_size,
            &body.page_token,
            &format!("subscriptions|{customer_id}|{service:?}|{status:?}"),
        )?;
        let filter = SubscriptionFilter {
            customer_id,
            service,
            status,
        };
        let rows = self.store.list_subscriptions(&filter, &page).await?;
        // W3: cut by bytes too, measured on the reply's own items.
        let rows: Vec<pb::Subscription> = rows.iter().map(Into::into).collect();
        let (subscriptions, next_page_token) = page.finish_within(rows, |s| s.id.clone(), prost::Message::encoded_len);
        Ok(Response::new(pb::ListSubscriptionsResponse {
            subscriptions,
            next_page_token,
        }))
    }

    /// S3: quantity and status, by the operator or a partner allowed
    /// MANAGE_SUBSCRIPTION. Partner of record, channel and customer never
    /// change.
    async fn update_subscription(
        &self,
        request: Request<pb::UpdateSubscriptionRequest>,
    ) -> Result<Response<pb::Subscription>, Status> {
        let principal = principal(&request)?;
        let body = request.into_inner();
        let input = body.subscription.unwrap_or_default();
        let id = validate::id("subscription.id", &input.id)?;
        let paths = mask_paths(body.update_mask, &["quantity", "status"])?;
        let mut violations = Violations::default();
        let mut status = None;
        for path in &paths {
            match path.as_str() {
                "quantity" => violations.check(validate::quantity("subscription.quantity", input.quantity)),
                _ => status = violations.take(required::<SubscriptionStatus>("subscription.status", input.status)),
            }
        }
        violations.into_result()?;
        match &principal {
            Principal::Operator { .. } => {}
            Principal::Partner { partner_id } => {
                // Fails sooner on the caller alone; S3 is decided inside.
                self.active_caller(partner_id).await?;
            }
            _ => return Err(Error::role_not_allowed("update subscriptions").into()),
        }

        let mut tx = self.store.begin_write(principal.actor()).await?;
        let found = tx.subscription(&id).await?;
        if let Principal::Partner { partner_id } = &principal {
            tx.active_caller(partner_id).await?;
            let decision = match &found {
                Some(subscription) => {
                    tx.decide(&AccessQuery {
                        subscription_id: Some(id.clone()),
                        ..query(partner_id, &subscription.customer_id, Action::ManageSubscription)
                    })
                    .await?
                }
                // Unknown ids are denied like any other: nothing leaks.
                None => Decision::deny(AccessReason::SubscriptionNotFound),
            };
            rules::require_manage(&decision)?;
        }
        let current = found.ok_or_else(|| subscription_not_found(&id))?;
        rules::check_etag(&input.etag, &etag(current.version), "subscription")?;
        let mut next = current.clone();
        for path in &paths {
            match path.as_str() {
                "quantity" => next.quantity = input.quantity,
                _ => next.status = status.unwrap_or(current.status),
            }
        }
        if next == current {
            return Ok(Response::new((&current).into()));
        }
        let updated = tx.update_subscription(next).await?;
        tx.commit().await?;
        tracing::info!(subscription_id = %updated.id, quantity = updated.quantity, status = %updated.status, "subscription updated");
        Ok(Response::new((&updated).into()))
    }
}
