//! Subscriptions and channels (S): which channel needs a partner of record,
//! who sells, who changes a subscription, and the relationship an ADVISOR
//! subscription gives.

use super::{refuse_unless_allowed, with_article};
use crate::domain::access::Decision;
use crate::domain::error::{Error, Reason, Result};
use crate::domain::model::{
    Channel, Micros, Partner, PartnerKind, Relationship, RelationshipKind, RelationshipSource, RelationshipState,
    Subscription,
};

/// S1: which channels need a partner of record.
pub fn check_channel_partner(channel: Channel, has_partner_of_record: bool) -> Result<()> {
    match (channel, has_partner_of_record) {
        (Channel::Direct, true) => Err(Error::invalid(
            "subscription.partner_of_record_id",
            "a DIRECT subscription has no partner of record",
        )),
        (Channel::Advisor | Channel::Csp, false) => Err(Error::invalid(
            "subscription.partner_of_record_id",
            "is required for ADVISOR and CSP subscriptions",
        )),
        _ => Ok(()),
    }
}

/// S2: a partner creating a subscription must be a transacting DIRECT_RESELLER
/// or INDIRECT_PROVIDER of that customer, and only sells through CSP.
pub fn check_subscription_seller(seller: &Partner, channel: Channel) -> Result<()> {
    if !matches!(seller.kind, PartnerKind::DirectReseller | PartnerKind::IndirectProvider) {
        return Err(Error::permission_denied(
            Reason::PartnerKindNotAllowed,
            format!("{} may not create subscriptions", with_article(seller.kind)),
        ));
    }
    if channel != Channel::Csp {
        return Err(Error::permission_denied(
            Reason::RoleNotAllowed,
            "partners create CSP subscriptions; only the operator records other channels",
        ));
    }
    Ok(())
}

/// S1, S2: a CSP partner of record must be transacting with the customer.
pub fn require_transacting(decision: &Decision, who: &str) -> Result<()> {
    if decision.allowed {
        Ok(())
    } else {
        Err(Error::failed_precondition(
            Reason::NotTransacting,
            format!("{who} is not a transacting partner of this customer"),
        ))
    }
}

/// S3: a partner changes a subscription only with MANAGE_SUBSCRIPTION.
pub fn require_manage(decision: &Decision) -> Result<()> {
    refuse_unless_allowed(
        decision,
        Reason::NotPartnerOfRecord,
        "only the transacting partner of record or its indirect provider may change this subscription",
    )
}

/// S1: the ADVISOR relationship (VIEW, A1) an ADVISOR subscription gives
/// its partner of record; none for any other subscription. The service adds
/// it unless the partner has an ACTIVE ADVISOR relationship already.
pub fn advisor_relationship(
    subscription: &Subscription,
    now: Micros,
    new_id: impl FnOnce() -> String,
) -> Option<Relationship> {
    let (Channel::Advisor, Some(advisor_id)) = (subscription.channel, &subscription.partner_of_record_id) else {
        return None;
    };
    Some(Relationship {
        id: new_id(),
        customer_id: subscription.customer_id.clone(),
        partner_id: advisor_id.clone(),
        kind: RelationshipKind::Advisor,
        indirect_provider_id: None,
        state: RelationshipState::Active,
        source: RelationshipSource::AdvisorSubscription,
        relationship_request_id: None,
        start_time: now,
        end_time: None,
        end_cause: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::AccessReason;
    use crate::domain::error::ErrorCode;
    use crate::domain::rules::fixtures::*;

    #[test]
    fn s1_check_channel_partner_by_channel() {
        assert!(check_channel_partner(Channel::Direct, false).is_ok());
        assert!(check_channel_partner(Channel::Advisor, true).is_ok());
        assert!(check_channel_partner(Channel::Csp, true).is_ok());
        for (channel, has) in [
            (Channel::Direct, true),
            (Channel::Advisor, false),
            (Channel::Csp, false),
        ] {
            invalid_field(check_channel_partner(channel, has), "subscription.partner_of_record_id");
        }
    }

    #[test]
    fn s1_s2_require_transacting_is_not_transacting() {
        assert!(require_transacting(&decision(true, AccessReason::Transacting), "the partner").is_ok());
        for reason in [
            AccessReason::NotTransacting,
            AccessReason::PartnerNotActive,
            AccessReason::NoRelationship,
        ] {
            refused(
                require_transacting(&decision(false, reason), "the partner"),
                ErrorCode::FailedPrecondition,
                Reason::NotTransacting,
            );
        }
    }

    #[test]
    fn s2_check_subscription_seller_by_kind_and_channel() {
        for kind in [PartnerKind::DirectReseller, PartnerKind::IndirectProvider] {
            assert!(check_subscription_seller(&active("p", kind), Channel::Csp).is_ok());
            for channel in [Channel::Direct, Channel::Advisor] {
                refused(
                    check_subscription_seller(&active("p", kind), channel),
                    ErrorCode::PermissionDenied,
                    Reason::RoleNotAllowed,
                );
            }
        }
        for kind in [PartnerKind::IndirectReseller, PartnerKind::Advisor] {
            for channel in Channel::ALL {
                refused(
                    check_subscription_seller(&active("p", kind), *channel),
                    ErrorCode::PermissionDenied,
                    Reason::PartnerKindNotAllowed,
                );
            }
        }
    }

    #[test]
    fn s3_require_manage_is_not_partner_of_record_unless_suspended() {
        assert!(require_manage(&decision(true, AccessReason::PartnerOfRecord)).is_ok());
        refused(
            require_manage(&decision(false, AccessReason::PartnerNotActive)),
            ErrorCode::PermissionDenied,
            Reason::PartnerNotActive,
        );
        for reason in [
            AccessReason::NotPartnerOfRecord,
            AccessReason::NotTransacting,
            AccessReason::NotCspSubscription,
            AccessReason::NoRelationship,
        ] {
            refused(
                require_manage(&decision(false, reason)),
                ErrorCode::PermissionDenied,
                Reason::NotPartnerOfRecord,
            );
        }
    }
}
