//! S1-S3 and C4 for subscriptions: recording, selling, reading, listing and
//! updating subscriptions.

use super::{LocalCustomers, customer_not_found, query, require_sell, subscription_not_found, tenant_mismatch};
use crate::domain::access::{AccessQuery, AccessReason, Action, Decision};
use crate::domain::consequence::Consequence;
use crate::domain::model::{Channel, PartnerKind, Subscription, SubscriptionStatus, etag};
use crate::domain::paging::{Page, PageRequest};
use crate::domain::principal::Principal;
use crate::domain::{Error, Reason, Result, rules};
use crate::service::contract::customers::{CreateSubscription, GetSubscription, ListSubscriptions, UpdateSubscription};
use crate::service::request_key;
use crate::store::{SubscriptionFilter, WriteTx, new_id};

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

impl LocalCustomers {
    /// S1 (the operator records any channel) and S2 (a transacting partner
    /// sells CSP).
    pub(super) async fn create_subscription(
        &self,
        principal: &Principal,
        command: CreateSubscription,
    ) -> Result<Subscription> {
        let key = request_key(principal, "CreateSubscription", command.request_id.as_deref(), &command)?;
        let channel = command.channel;
        let named_partner = command.partner_of_record_id;
        let named_provider = command.indirect_provider_id;
        // Fails sooner on the request and the caller alone; every rule that
        // reads other state is decided inside the write (W1).
        match principal {
            Principal::Operator { .. } => {
                rules::check_channel_partner(channel, named_partner.is_some())?;
                if named_provider.is_some() && channel != Channel::Csp {
                    return Err(Error::invalid(
                        "subscription.indirect_provider_id",
                        "only CSP subscriptions have an indirect provider",
                    ));
                }
            }
            Principal::Partner { partner_id } => {
                let caller = self.active_caller(partner_id).await?;
                rules::check_subscription_seller(&caller, channel)?;
                if named_provider.is_some() {
                    return Err(Error::invalid(
                        "subscription.indirect_provider_id",
                        "is set by the service when a provider names its reseller",
                    ));
                }
            }
            _ => return Err(Error::role_not_allowed("create subscriptions")),
        }

        let mut tx = self.store.begin_write(principal.actor()).await?;
        if let Principal::Partner { partner_id } = principal {
            let caller = tx.active_caller(partner_id).await?;
            rules::check_subscription_seller(&caller, channel)?;
        }
        if let Some(id) = tx.replayed(key.as_ref()).await? {
            let subscription = tx.subscription(&id).await?.ok_or_else(|| subscription_not_found(&id))?;
            drop(tx);
            self.consequences.settle(&id).await?;
            return Ok(subscription);
        }
        let customer_id = command.customer_id;
        // A partner that may not read the customer is refused before
        // NOT_FOUND (W2); the operator learns NOT_FOUND before the
        // preconditions.
        let (partner_of_record_id, indirect_provider_id) = match principal {
            Principal::Partner { partner_id } => sell_terms(&tx, partner_id, &customer_id, named_partner).await?,
            _ => {
                if tx.customer(&customer_id).await?.is_none() {
                    return Err(customer_not_found(&customer_id));
                }
                operator_terms(&tx, &customer_id, channel, named_partner, named_provider).await?
            }
        };
        if tx.customer(&customer_id).await?.is_none() {
            return Err(customer_not_found(&customer_id));
        }
        let now = tx.now();
        let subscription = Subscription {
            id: new_id(),
            customer_id,
            service: command.service,
            offer_name: command.offer_name.trim().to_owned(),
            quantity: command.quantity,
            billing: command.billing,
            status: command.status.unwrap_or(SubscriptionStatus::Active),
            channel,
            partner_of_record_id,
            indirect_provider_id,
            version: 1,
            create_time: now,
            update_time: now,
        };
        tx.insert_subscription(&subscription).await?;
        tx.remember(key.as_ref(), &subscription.id).await?;
        // S1: the ADVISOR relationship is the RelationshipService's row.
        let advisor = (subscription.channel == Channel::Advisor).then(|| Consequence::AdvisorRelationship {
            subscription: subscription.clone(),
        });
        self.consequences
            .commit(tx, &subscription.id, advisor.into_iter().collect())
            .await?;
        tracing::info!(subscription_id = %subscription.id, channel = %subscription.channel, "subscription created");
        Ok(subscription)
    }

    /// C4: a subscription is read exactly when its customer is.
    pub(super) async fn get_subscription(
        &self,
        principal: &Principal,
        command: GetSubscription,
    ) -> Result<Subscription> {
        let id = command.id;
        self.gate(principal).await?;
        match (principal, self.store.subscription(&id).await?) {
            (_, Some(subscription)) => {
                self.authorize_read(principal, &subscription.customer_id).await?;
                Ok(subscription)
            }
            (Principal::Operator { .. } | Principal::Service { .. }, None) => Err(subscription_not_found(&id)),
            (Principal::Customer { .. }, None) => Err(tenant_mismatch()),
            // The very refusal of C4 for a customer it may not read (W2).
            (Principal::Partner { .. }, None) => Err(rules::cannot_view()),
        }
    }

    pub(super) async fn list_subscriptions(
        &self,
        principal: &Principal,
        command: ListSubscriptions,
    ) -> Result<Page<Subscription>> {
        let ListSubscriptions {
            page_size,
            page_token,
            customer_id,
            service,
            status,
        } = command;
        self.gate(principal).await?;
        self.authorize_read(principal, &customer_id).await?;
        let page = PageRequest::parse(
            page_size,
            &page_token,
            &format!("subscriptions|{customer_id}|{service:?}|{status:?}"),
        )?;
        let filter = SubscriptionFilter {
            customer_id,
            service,
            status,
        };
        let rows = self.store.list_subscriptions(&filter, &page).await?;
        // W3: cut by bytes too.
        Ok(page.page(rows, |s| s.id.clone()))
    }

    /// S3: quantity and status, by the operator or a partner allowed
    /// MANAGE_SUBSCRIPTION. Partner of record, channel and customer never
    /// change.
    pub(super) async fn update_subscription(
        &self,
        principal: &Principal,
        command: UpdateSubscription,
    ) -> Result<Subscription> {
        let id = &command.id;
        match principal {
            Principal::Operator { .. } => {}
            Principal::Partner { partner_id } => {
                // Fails sooner on the caller alone; S3 is decided inside.
                self.active_caller(partner_id).await?;
            }
            _ => return Err(Error::role_not_allowed("update subscriptions")),
        }

        let mut tx = self.store.begin_write(principal.actor()).await?;
        let found = tx.subscription(id).await?;
        if let Principal::Partner { partner_id } = principal {
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
        let current = found.ok_or_else(|| subscription_not_found(id))?;
        rules::check_etag(&command.etag, &etag(current.version), "subscription")?;
        let mut next = current.clone();
        if let Some(quantity) = command.quantity {
            next.quantity = quantity;
        }
        if let Some(status) = command.status {
            next.status = status;
        }
        if next == current {
            return Ok(current);
        }
        let updated = tx.update_subscription(next).await?;
        tx.commit().await?;
        tracing::info!(subscription_id = %updated.id, quantity = updated.quantity, status = %updated.status, "subscription updated");
        Ok(updated)
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::model::*;
    use crate::domain::rules;

    fn subscription(channel: Channel, partner_of_record_id: Option<&str>) -> Subscription {
        Subscription {
            id: "s".into(),
            customer_id: "c".into(),
            service: Service::Azure,
            offer_name: "offer".into(),
            quantity: 1,
            billing: Billing::License,
            status: SubscriptionStatus::Active,
            channel,
            partner_of_record_id: partner_of_record_id.map(str::to_owned),
            indirect_provider_id: None,
            version: 1,
            create_time: 5,
            update_time: 5,
        }
    }

    #[test]
    fn s1_advisor_subscription_gives_its_partner_an_advisor_relationship() {
        let advisor = rules::advisor_relationship(&subscription(Channel::Advisor, Some("a")), 7, || "r".into());
        assert_eq!(
            advisor,
            Some(Relationship {
                id: "r".into(),
                customer_id: "c".into(),
                partner_id: "a".into(),
                kind: RelationshipKind::Advisor,
                indirect_provider_id: None,
                state: RelationshipState::Active,
                source: RelationshipSource::AdvisorSubscription,
                relationship_request_id: None,
                start_time: 7,
                end_time: None,
                end_cause: None,
            })
        );
    }

    #[test]
    fn s1_other_subscriptions_give_no_relationship() {
        for (channel, partner) in [
            (Channel::Csp, Some("p")),
            (Channel::Direct, None),
            (Channel::Advisor, None),
        ] {
            let given = rules::advisor_relationship(&subscription(channel, partner), 7, || "r".into());
            assert_eq!(given, None, "{channel:?} {partner:?}");
        }
    }
}
