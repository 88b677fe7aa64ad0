//! Multi-partner and ending a relationship (M): what keeps a partner's
//! RESELLER relationship.

use crate::domain::model::{Subscription, SubscriptionStatus};

/// M3: the ACTIVE subscriptions that keep a partner's RESELLER relationship.
pub fn blocking_subscriptions<'a>(subscriptions: &'a [Subscription], partner_id: &str) -> Vec<&'a Subscription> {
    subscriptions
        .iter()
        .filter(|s| {
            s.status == SubscriptionStatus::Active
                && (s.partner_of_record_id.as_deref() == Some(partner_id)
                    || s.indirect_provider_id.as_deref() == Some(partner_id))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::{Billing, Channel, Service};

    fn subscription(
        channel: Channel,
        status: SubscriptionStatus,
        por: Option<&str>,
        provider: Option<&str>,
    ) -> Subscription {
        Subscription {
            id: format!("{channel}-{status}-{por:?}-{provider:?}"),
            customer_id: "c".into(),
            service: Service::Office365,
            offer_name: "E3".into(),
            quantity: 1,
            billing: Billing::License,
            status,
            channel,
            partner_of_record_id: por.map(str::to_owned),
            indirect_provider_id: provider.map(str::to_owned),
            version: 1,
            create_time: 0,
            update_time: 0,
        }
    }

    #[test]
    fn m3_blocking_subscriptions_are_active_and_of_record_or_provided() {
        let subscriptions = [
            subscription(Channel::Csp, SubscriptionStatus::Active, Some("p"), None),
            subscription(Channel::Csp, SubscriptionStatus::Active, Some("r"), Some("p")),
            subscription(Channel::Csp, SubscriptionStatus::Suspended, Some("p"), None),
            subscription(Channel::Csp, SubscriptionStatus::Cancelled, Some("r"), Some("p")),
            subscription(Channel::Csp, SubscriptionStatus::Active, Some("other"), None),
        ];
        let blocking: Vec<&str> = blocking_subscriptions(&subscriptions, "p")
            .into_iter()
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(blocking, [subscriptions[0].id.as_str(), subscriptions[1].id.as_str()]);
        assert!(blocking_subscriptions(&subscriptions, "nobody").is_empty());
    }
}
