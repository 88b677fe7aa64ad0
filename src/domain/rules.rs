//! Who may do what: the P, C and S rules of DOMAIN.md as plain functions over
//! the principal and the resources involved. Handlers load the facts, these
//! functions decide.

use super::access::{AccessReason, Decision};
use super::error::{Error, Reason, Result};
use super::model::{Channel, Partner, PartnerKind};
use super::principal::Principal;

/// P1 and every operator-only write.
pub fn require_operator(principal: &Principal, what: &str) -> Result<()> {
    if principal.is_operator() {
        Ok(())
    } else {
        Err(Error::role_not_allowed(what))
    }
}

/// P4: a partner that is not ACTIVE may not write.
pub fn require_active_caller(caller: Option<&Partner>) -> Result<&Partner> {
    match caller {
        Some(partner) if partner.is_active() => Ok(partner),
        Some(_) => Err(Error::permission_denied(
            Reason::PartnerNotActive,
            "the calling partner is suspended",
        )),
        None => Err(Error::permission_denied(
            Reason::PartnerNotFound,
            "the token names a partner that does not exist",
        )),
    }
}

/// P5: may the principal read this partner?
pub fn can_read_partner(principal: &Principal, partner: &Partner, linked_with_caller: bool) -> bool {
    match principal {
        Principal::Operator { .. } | Principal::Service { .. } => true,
        Principal::Partner { partner_id } => partner_id == &partner.id || linked_with_caller,
        Principal::Customer { .. } => partner.is_active(),
    }
}

/// P2: the operator or the provider itself manages a link.
pub fn require_link_manager(principal: &Principal, provider_id: &str) -> Result<()> {
    match principal {
        Principal::Operator { .. } => Ok(()),
        Principal::Partner { partner_id } if partner_id == provider_id => Ok(()),
        Principal::Partner { .. } => Err(Error::permission_denied(
            Reason::RoleNotAllowed,
            "only the operator or the provider itself may manage a provider's links",
        )),
        _ => Err(Error::role_not_allowed("manage partner links")),
    }
}

/// P2: a link joins an INDIRECT_PROVIDER and an INDIRECT_RESELLER, both ACTIVE.
pub fn check_link_parties(provider: &Partner, reseller: &Partner) -> Result<()> {
    if provider.kind != PartnerKind::IndirectProvider {
        return Err(Error::permission_denied(
            Reason::PartnerKindNotAllowed,
            format!(
                "provider {} is a {}, not an INDIRECT_PROVIDER",
                provider.id, provider.kind
            ),
        ));
    }
    if reseller.kind != PartnerKind::IndirectReseller {
        return Err(Error::permission_denied(
            Reason::PartnerKindNotAllowed,
            format!(
                "reseller {} is a {}, not an INDIRECT_RESELLER",
                reseller.id, reseller.kind
            ),
        ));
    }
    for party in [provider, reseller] {
        if !party.is_active() {
            return Err(Error::failed_precondition(
                Reason::PartnerNotActive,
                format!("partner {} is not ACTIVE", party.id),
            ));
        }
    }
    Ok(())
}

/// C1: who may create a customer, and who gets the relationship and DAP.
pub fn check_customer_creator(creator: &Partner, names_reseller: bool) -> Result<()> {
    match creator.kind {
        PartnerKind::DirectReseller if names_reseller => Err(Error::invalid(
            "indirect_reseller_id",
            "only an INDIRECT_PROVIDER may name an indirect reseller",
        )),
        PartnerKind::DirectReseller | PartnerKind::IndirectProvider => Ok(()),
        PartnerKind::IndirectReseller | PartnerKind::Advisor => Err(Error::permission_denied(
            Reason::PartnerKindNotAllowed,
            format!("a {} may not create customers", creator.kind),
        )),
    }
}

/// C1, I2, I7: a named indirect reseller must be ACTIVE and ACTIVE-linked to
/// the provider.
pub fn check_reseller_linked(reseller: Option<&Partner>, linked: bool) -> Result<()> {
    match reseller {
        Some(reseller) if linked && reseller.is_active() => Ok(()),
        _ => Err(Error::failed_precondition(
            Reason::ResellerNotLinked,
            "the indirect reseller is not ACTIVE-linked to this provider",
        )),
    }
}

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
            format!("a {} may not create subscriptions", seller.kind),
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

/// C4: turns a denied VIEW decision into the PERMISSION_DENIED a partner
/// gets for any customer it may not read, existing or not.
pub fn require_view(decision: &Decision) -> Result<()> {
    if decision.allowed {
        return Ok(());
    }
    Err(match decision.reason {
        AccessReason::PartnerNotActive => {
            Error::permission_denied(Reason::PartnerNotActive, "the calling partner is suspended")
        }
        _ => Error::permission_denied(
            Reason::NoRelationship,
            "the partner has no relationship with this customer",
        ),
    })
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
    if decision.allowed {
        return Ok(());
    }
    Err(match decision.reason {
        AccessReason::PartnerNotActive => {
            Error::permission_denied(Reason::PartnerNotActive, "the calling partner is suspended")
        }
        _ => Error::permission_denied(
            Reason::NotPartnerOfRecord,
            "only the transacting partner of record or its indirect provider may change this subscription",
        ),
    })
}

/// AIP-154: an update naming an etag must name the current one.
pub fn check_etag(sent: &str, current: &str, resource: &str) -> Result<()> {
    if sent.is_empty() || sent == current {
        Ok(())
    } else {
        Err(Error::stale_etag(resource))
    }
}
