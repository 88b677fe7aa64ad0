//! Who may do what: the P, C and S rules of DOMAIN.md as plain functions over
//! the principal and the resources involved. Handlers load the facts, these
//! functions decide.

use super::access::{AccessReason, Decision};
use super::error::{Error, Reason, Result};
use super::model::{
    Channel, DelegatedAdminGrant, GrantState, InvitationState, MICROS_PER_DAY, Micros, Partner, PartnerKind,
    Relationship, RelationshipKind, RelationshipRequest, RelationshipSource, RelationshipState, Scope, Service,
    Subscription, SubscriptionStatus,
};
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

/// A denied decision as the PERMISSION_DENIED its caller gets: a suspended
/// partner is told so (P4); any other denial gets the rule's own reason.
fn refuse_unless_allowed(decision: &Decision, reason: Reason, message: &str) -> Result<()> {
    match decision.reason {
        _ if decision.allowed => Ok(()),
        AccessReason::PartnerNotActive => Err(Error::permission_denied(
            Reason::PartnerNotActive,
            "the calling partner is suspended",
        )),
        _ => Err(Error::permission_denied(reason, message)),
    }
}

const NO_VIEW: &str = "the partner has no relationship with this customer";

/// C4, W2: the PERMISSION_DENIED a partner gets for any customer it may not
/// read, existing or not, and for anything of such a customer.
pub fn cannot_view() -> Error {
    Error::permission_denied(Reason::NoRelationship, NO_VIEW)
}

/// C4: the PERMISSION_DENIED a partner gets for any customer it may not
/// read, existing or not.
pub fn require_view(decision: &Decision) -> Result<()> {
    refuse_unless_allowed(decision, Reason::NoRelationship, NO_VIEW)
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

/// AIP-154: an update naming an etag must name the current one.
pub fn check_etag(sent: &str, current: &str, resource: &str) -> Result<()> {
    if sent.is_empty() || sent == current {
        Ok(())
    } else {
        Err(Error::stale_etag(resource))
    }
}

/// I1: only ACTIVE DIRECT_RESELLER and INDIRECT_PROVIDER partners invite.
pub fn check_inviter(inviter: &Partner, names_reseller: bool) -> Result<()> {
    match inviter.kind {
        PartnerKind::IndirectReseller => Err(Error::permission_denied(
            Reason::IndirectResellerCannotInvite,
            "an indirect reseller cannot create relationship requests; use an invitation from your indirect provider",
        )),
        PartnerKind::Advisor => Err(Error::permission_denied(
            Reason::PartnerKindNotAllowed,
            "an ADVISOR may not create relationship requests",
        )),
        // I2: only a provider names an indirect reseller.
        PartnerKind::DirectReseller if names_reseller => Err(Error::invalid(
            "relationship_request.indirect_reseller_id",
            "only an INDIRECT_PROVIDER may name an indirect reseller",
        )),
        PartnerKind::DirectReseller | PartnerKind::IndirectProvider => Ok(()),
    }
}

pub const DEFAULT_INVITATION_DAYS: i32 = 90;
pub const MAX_INVITATION_DAYS: i32 = 365;

/// I3: days until an invitation expires: 0 means the default, at most 365.
pub fn invitation_days(requested: i32, default_days: i32) -> Result<i32> {
    match requested {
        0 => Ok(default_days),
        1..=MAX_INVITATION_DAYS => Ok(requested),
        _ => Err(Error::invalid(
            "expire_after_days",
            format!("must be between 1 and {MAX_INVITATION_DAYS}, or 0 for the default"),
        )),
    }
}

/// I3: the delegated admin an invitation asks for: all three services and
/// both scopes unless narrowed.
pub fn requested_dap(include: bool, services: Vec<Service>, scopes: Vec<Scope>) -> Result<(Vec<Service>, Vec<Scope>)> {
    if !include {
        if !services.is_empty() || !scopes.is_empty() {
            return Err(Error::invalid(
                "relationship_request.include_delegated_admin",
                "services and scopes are asked only with include_delegated_admin",
            ));
        }
        return Ok((Vec::new(), Vec::new()));
    }
    let services = if services.is_empty() {
        Service::ALL.to_vec()
    } else {
        dedup(services)
    };
    let scopes = if scopes.is_empty() {
        Scope::ALL.to_vec()
    } else {
        dedup(scopes)
    };
    Ok((services, scopes))
}

/// Sorted and without repeats, so equal sets compare equal.
pub fn dedup<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items.dedup();
    items
}

/// I4: the inviting partner and the named reseller read an invitation;
/// operator and service read all.
pub fn can_read_invitation(principal: &Principal, invitation: &RelationshipRequest) -> bool {
    match principal {
        Principal::Operator { .. } | Principal::Service { .. } => true,
        Principal::Partner { partner_id } => {
            &invitation.inviting_partner_id == partner_id
                || invitation.indirect_reseller_id.as_deref() == Some(partner_id.as_str())
        }
        Principal::Customer { .. } => false,
    }
}

/// I5, I6: whether this customer may accept this invitation now. Checked
/// after the "accepted before" case, which always succeeds.
pub fn check_acceptable(invitation: &RelationshipRequest, customer_domain: &str, now: Micros) -> Result<()> {
    if let Some(bound) = &invitation.customer_domain
        && bound != customer_domain
    {
        return Err(Error::permission_denied(
            Reason::DomainMismatch,
            "this relationship request is for another customer's domain",
        ));
    }
    match invitation.effective_state(now) {
        InvitationState::Active => Ok(()),
        InvitationState::Revoked => Err(Error::failed_precondition(
            Reason::InvitationRevoked,
            "the partner revoked this relationship request",
        )),
        InvitationState::Expired => Err(Error::failed_precondition(
            Reason::InvitationExpired,
            "this relationship request has expired; ask the partner for a new one",
        )),
    }
}

/// I7: at acceptance the partners must still be ACTIVE.
pub fn require_active_party(partner: Option<&Partner>, role: &str) -> Result<()> {
    match partner {
        Some(partner) if partner.is_active() => Ok(()),
        _ => Err(Error::failed_precondition(
            Reason::PartnerNotActive,
            format!("the {role} is not ACTIVE"),
        )),
    }
}

pub const MAX_GRANT_DAYS: i32 = 730;

/// D1: a grant's end: none, or 1 to 730 days; auto_extend needs an end.
pub fn grant_end(now: Micros, duration_days: i32, auto_extend: bool) -> Result<Option<Micros>> {
    match duration_days {
        0 if auto_extend => Err(Error::invalid("auto_extend", "needs a duration_days")),
        0 => Ok(None),
        1..=MAX_GRANT_DAYS => Ok(Some(now + i64::from(duration_days) * MICROS_PER_DAY)),
        _ => Err(Error::invalid(
            "duration_days",
            format!("must be between 1 and {MAX_GRANT_DAYS}, or 0 for no expiry"),
        )),
    }
}

/// D1: the grantee must be an ACTIVE partner that is not an ADVISOR. A
/// customer admin reads only ACTIVE partners (P5), so a suspended one is
/// refused exactly as an unknown id is (W2).
pub fn check_grantee(partner: Option<&Partner>) -> Result<&Partner> {
    let Some(partner) = partner.filter(|p| p.is_active()) else {
        return Err(Error::permission_denied(
            Reason::PartnerNotVisible,
            "no ACTIVE partner has this id",
        ));
    };
    if partner.kind == PartnerKind::Advisor {
        return Err(Error::permission_denied(
            Reason::PartnerKindNotAllowed,
            "an ADVISOR cannot hold delegated admin privileges",
        ));
    }
    Ok(partner)
}

/// D3: the customer admin revokes any grant on its tenant; a partner gives
/// up its own grant only.
pub fn check_grant_revoker(principal: &Principal, grant: &DelegatedAdminGrant) -> Result<()> {
    let allowed = match principal {
        Principal::Customer { customer_id } => customer_id == &grant.customer_id,
        Principal::Partner { partner_id } => partner_id == &grant.partner_id,
        _ => return Err(Error::role_not_allowed("revoke delegated admin privileges")),
    };
    if allowed {
        Ok(())
    } else {
        Err(Error::permission_denied(
            Reason::NotGrantParty,
            "only the customer's admin or the holder itself may revoke this grant",
        ))
    }
}

/// D2, the decision (applied by `service::relationships::supersede_for_transacting`):
/// when `winner` is transacting and holds a grant in force for `service`,
/// every other transacting holder's grant in force for it gives way; else
/// none does. `holders` pairs each ACTIVE grant of the customer for that
/// service with whether its holder is transacting.
pub fn grants_to_supersede<'a>(
    winner: &str,
    service: Service,
    holders: &'a [(DelegatedAdminGrant, bool)],
    now: Micros,
) -> Vec<&'a DelegatedAdminGrant> {
    let winner_holds = holders.iter().any(|(grant, transacting)| {
        *transacting && grant.partner_id == winner && grant.service == service && grant.in_force(now)
    });
    if !winner_holds {
        return Vec::new();
    }
    holders
        .iter()
        .filter(|(grant, transacting)| {
            *transacting && grant.partner_id != winner && grant.service == service && grant.in_force(now)
        })
        .map(|(grant, _)| grant)
        .collect()
}

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

/// C1: the rows a partner's new tenant starts with: the creator's RESELLER
/// relationship, the named reseller's INDIRECT_RESELLER relationship, and
/// DAP for every service with both scopes and no end to the one that does
/// the work (the named reseller, else the creator).
pub fn creator_rights(
    customer_id: &str,
    creator_id: &str,
    reseller_id: Option<&str>,
    now: Micros,
    mut new_id: impl FnMut() -> String,
) -> (Vec<Relationship>, Vec<DelegatedAdminGrant>) {
    let mut relationship = |partner_id: &str, kind, indirect_provider_id: Option<&str>| Relationship {
        id: new_id(),
        customer_id: customer_id.to_owned(),
        partner_id: partner_id.to_owned(),
        kind,
        indirect_provider_id: indirect_provider_id.map(str::to_owned),
        state: RelationshipState::Active,
        source: RelationshipSource::CustomerCreation,
        relationship_request_id: None,
        start_time: now,
        end_time: None,
    };
    let mut relationships = vec![relationship(creator_id, RelationshipKind::Reseller, None)];
    if let Some(reseller_id) = reseller_id {
        relationships.push(relationship(
            reseller_id,
            RelationshipKind::IndirectReseller,
            Some(creator_id),
        ));
    }
    let holder = reseller_id.unwrap_or(creator_id);
    let grants = Service::ALL
        .iter()
        .map(|service| DelegatedAdminGrant {
            id: new_id(),
            customer_id: customer_id.to_owned(),
            partner_id: holder.to_owned(),
            service: *service,
            scopes: vec![Scope::Provisioning, Scope::Support],
            state: GrantState::Active,
            start_time: now,
            end_time: None,
            auto_extend: false,
        })
        .collect();
    (relationships, grants)
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
    })
}
