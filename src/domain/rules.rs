//! Who may do what: the P, C and S rules of DOMAIN.md as plain functions over
//! the principal and the resources involved. Handlers load the facts, these
//! functions decide.

use super::access::{AccessReason, Decision};
use super::error::{Error, Reason, Result};
use super::model::{
    Channel, DelegatedAdminGrant, EndCause, GrantState, InvitationState, MICROS_PER_DAY, Micros, Partner, PartnerKind,
    Relationship, RelationshipKind, RelationshipRequest, RelationshipSource, RelationshipState, Scope, Service,
    Subscription, SubscriptionStatus, Transfer, TransferItem, TransferState,
};
use super::principal::Principal;

/// "an ADVISOR", "a DIRECT_RESELLER": a kind as a message names it.
fn with_article(kind: PartnerKind) -> String {
    let article = if kind.as_str().starts_with(['A', 'E', 'I', 'O', 'U']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {kind}")
}

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
            format!("{} may not create customers", with_article(creator.kind)),
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

/// T1: only DIRECT_RESELLER and INDIRECT_PROVIDER partners propose
/// transfers; a reseller may be named only by a provider.
pub fn check_transfer_proposer(proposer: &Partner, names_reseller: bool) -> Result<()> {
    match proposer.kind {
        PartnerKind::DirectReseller if names_reseller => Err(Error::invalid(
            "partner_of_record_id",
            "only an INDIRECT_PROVIDER may name a reseller as the new partner of record",
        )),
        PartnerKind::DirectReseller | PartnerKind::IndirectProvider => Ok(()),
        PartnerKind::IndirectReseller | PartnerKind::Advisor => Err(Error::permission_denied(
            Reason::PartnerKindNotAllowed,
            format!("{} may not propose transfers", with_article(proposer.kind)),
        )),
    }
}

/// T1: the subscriptions a transfer names, in the order asked: each of
/// this customer (else INVALID_ARGUMENT), not CANCELLED
/// (SUBSCRIPTION_CANCELLED), not a CSP one already the transfer's
/// (ALREADY_PARTNER_OF_RECORD), and none in another PENDING transfer of the
/// same proposer (TRANSFER_PENDING). Returns their snapshots.
pub fn transfer_items(
    customer_id: &str,
    asked: &[String],
    found: &[Subscription],
    partner_of_record_id: &str,
    indirect_provider_id: Option<&str>,
    pending: &[Transfer],
) -> Result<Vec<TransferItem>> {
    let of_customer = |id: &String| found.iter().find(|s| &s.id == id && s.customer_id == customer_id);
    let unknown: Vec<&str> = asked
        .iter()
        .filter(|id| of_customer(id).is_none())
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(Error::invalid(
            "subscription_ids",
            format!(
                "not subscriptions of this customer: {}",
                crate::domain::error::listed(&unknown)
            ),
        ));
    }
    let named: Vec<&Subscription> = asked.iter().filter_map(of_customer).collect();
    let failing = |reason: Reason, test: &dyn Fn(&Subscription) -> bool, why: &str| -> Result<()> {
        let ids: Vec<&str> = named.iter().filter(|s| test(s)).map(|s| s.id.as_str()).collect();
        if ids.is_empty() {
            return Ok(());
        }
        Err(
            Error::failed_precondition(reason, format!("{why}: {}", crate::domain::error::listed(&ids)))
                .with_ids("subscription_ids", &ids),
        )
    };
    failing(
        Reason::SubscriptionCancelled,
        &|s| s.status == SubscriptionStatus::Cancelled,
        "cancelled subscriptions cannot move",
    )?;
    failing(
        Reason::AlreadyPartnerOfRecord,
        &|s| {
            s.channel == Channel::Csp
                && s.partner_of_record_id.as_deref() == Some(partner_of_record_id)
                && s.indirect_provider_id.as_deref() == indirect_provider_id
        },
        "these already have this partner of record and provider",
    )?;
    failing(
        Reason::TransferPending,
        &|s| {
            pending
                .iter()
                .any(|t| t.subscriptions.iter().any(|item| item.subscription_id == s.id))
        },
        "already in a PENDING transfer of the same proposer",
    )?;
    Ok(named.into_iter().map(TransferItem::of).collect())
}

/// T2: the subscriptions of a transfer that are no longer as its snapshot
/// says (changed or gone), by id.
pub fn stale_transfer_items(transfer: &Transfer, now: &[Subscription]) -> Vec<String> {
    transfer
        .subscriptions
        .iter()
        .filter(|item| {
            now.iter()
                .find(|s| s.id == item.subscription_id)
                .is_none_or(|s| TransferItem::of(s) != **item)
        })
        .map(|item| item.subscription_id.clone())
        .collect()
}

/// T2: a call on a transfer that is not PENDING (at `now`): the repeat of
/// the call that made its state returns it; any other is
/// TRANSFER_NOT_PENDING.
pub fn check_transfer_pending(transfer: &Transfer, repeats: TransferState, now: Micros) -> Result<bool> {
    match transfer.effective_state(now) {
        TransferState::Pending => Ok(true),
        state if state == repeats && transfer.state == state => Ok(false),
        state => Err(Error::failed_precondition(
            Reason::TransferNotPending,
            format!("transfer {} is {state}, not PENDING", transfer.id),
        )),
    }
}

/// G2: the notice marks, in days before a grant's end, largest first.
pub const NOTICE_MARKS: [i32; 3] = [30, 7, 1];

/// G2: the last notice mark a grant ending at `end_time` has passed at
/// `now` (the smallest mark it is inside), None if none, or if it has no
/// end or auto-extends. A grant given its end (D1, G3) stores this: the
/// marks it is already inside count as passed.
pub fn notice_mark(end_time: Option<Micros>, auto_extend: bool, now: Micros) -> Option<i32> {
    let end = end_time.filter(|_| !auto_extend)?;
    NOTICE_MARKS
        .iter()
        .rev()
        .copied()
        .find(|mark| end - now <= i64::from(*mark) * MICROS_PER_DAY)
}

/// G2: the notice a sweep records for this grant at `now`: the smallest
/// mark it is inside, if that is further than the one it stored; None when
/// nothing is due (an ended grant, or one past its end, which D4 expires).
pub fn notice_due(grant: &DelegatedAdminGrant, now: Micros) -> Option<i32> {
    if grant.state != GrantState::Active || grant.end_time.is_none_or(|end| end <= now) {
        return None;
    }
    let mark = notice_mark(grant.end_time, grant.auto_extend, now)?;
    grant.notice_days.is_none_or(|stored| mark < stored).then_some(mark)
}

/// G4, D4: why a grant that leaves ACTIVE at `now` ended: the cause asked
/// for, unless the grant was already past its end, which D4 had ended it
/// at: then EXPIRED (and the note is dropped). So the recorded history is
/// the same whether or not the sweep ran first.
pub fn end_cause(grant: &DelegatedAdminGrant, asked: EndCause, now: Micros) -> EndCause {
    if grant.state == GrantState::Active && !grant.in_force(now) {
        EndCause::Expired
    } else {
        asked
    }
}

/// G3: the term a customer admin gives a grant in force: a new end_time
/// (1 to 730 days from now) and/or auto_extend on or off. auto_extend needs
/// an end_time; turning it off keeps the current term's end (D4's extended
/// end, if the grant is past its recorded one). Returns the new end_time
/// and auto_extend.
pub fn updated_grant_term(
    grant: &DelegatedAdminGrant,
    end_time: Option<Micros>,
    auto_extend: Option<bool>,
    now: Micros,
) -> Result<(Option<Micros>, bool)> {
    if !grant.in_force(now) {
        return Err(Error::failed_precondition(
            Reason::GrantNotInForce,
            format!(
                "grant {} is not in force (it is {}, or past its end); grant delegated admin anew instead",
                grant.id, grant.state
            ),
        ));
    }
    if let Some(end) = end_time {
        let (earliest, latest) = (now + MICROS_PER_DAY, now + i64::from(MAX_GRANT_DAYS) * MICROS_PER_DAY);
        if end < earliest || end > latest {
            return Err(Error::invalid(
                "grant.end_time",
                format!("must be 1 to {MAX_GRANT_DAYS} days from now"),
            ));
        }
    }
    let auto = auto_extend.unwrap_or(grant.auto_extend);
    let end = match (end_time, auto_extend) {
        (Some(end), _) => Some(end),
        // Turned off: the term now running ends when it would have.
        (None, Some(false)) if grant.auto_extend => grant.extended_end(now).or(grant.end_time),
        (None, _) => grant.end_time,
    };
    if auto && end.is_none() {
        return Err(Error::invalid(
            "grant.auto_extend",
            "auto_extend needs an end_time: set grant.end_time too",
        ));
    }
    Ok((end, auto))
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
            end_cause: None,
            end_note: None,
            notice_days: None,
            version: 1,
            update_time: now,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::ErrorCode;
    use crate::domain::model::{Billing, PartnerStatus};

    const NOW: Micros = 1_000 * MICROS_PER_DAY;

    fn partner(id: &str, kind: PartnerKind, status: PartnerStatus) -> Partner {
        Partner {
            id: id.into(),
            mpn_id: "1234567".into(),
            display_name: id.into(),
            kind,
            status,
            version: 1,
            create_time: 0,
            update_time: 0,
        }
    }

    fn active(id: &str, kind: PartnerKind) -> Partner {
        partner(id, kind, PartnerStatus::Active)
    }

    fn suspended(id: &str, kind: PartnerKind) -> Partner {
        partner(id, kind, PartnerStatus::Suspended)
    }

    fn operator() -> Principal {
        Principal::Operator { subject: "ops".into() }
    }

    fn service() -> Principal {
        Principal::Service {
            subject: "billing".into(),
        }
    }

    fn as_partner(id: &str) -> Principal {
        Principal::Partner { partner_id: id.into() }
    }

    fn as_customer(id: &str) -> Principal {
        Principal::Customer { customer_id: id.into() }
    }

    /// Asserts a refusal with this code and reason, and returns it.
    #[track_caller]
    fn refused<T: std::fmt::Debug>(result: Result<T>, code: ErrorCode, reason: Reason) -> Error {
        let error = result.expect_err("a refusal");
        assert_eq!((error.code, error.reason), (code, reason), "{error}");
        error
    }

    #[track_caller]
    fn invalid_field<T: std::fmt::Debug>(result: Result<T>, field: &str) {
        let error = refused(result, ErrorCode::InvalidArgument, Reason::InvalidField);
        let fields: Vec<&str> = error.violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, [field]);
    }

    fn decision(allowed: bool, reason: AccessReason) -> Decision {
        Decision {
            allowed,
            ..Decision::deny(reason)
        }
    }

    fn grant(partner_id: &str, service: Service, state: GrantState, end_time: Option<Micros>) -> DelegatedAdminGrant {
        DelegatedAdminGrant {
            id: format!("{partner_id}-{service}"),
            customer_id: "c".into(),
            partner_id: partner_id.into(),
            service,
            scopes: Scope::ALL.to_vec(),
            state,
            start_time: 0,
            end_time,
            auto_extend: false,
            end_cause: None,
            end_note: None,
            notice_days: None,
            version: 1,
            update_time: 0,
        }
    }

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

    fn invitation(customer_domain: Option<&str>, state: InvitationState, expire_time: Micros) -> RelationshipRequest {
        RelationshipRequest {
            id: "i".into(),
            inviting_partner_id: "provider".into(),
            indirect_reseller_id: Some("reseller".into()),
            include_delegated_admin: false,
            delegated_admin_services: Vec::new(),
            delegated_admin_scopes: Vec::new(),
            customer_domain: customer_domain.map(str::to_owned),
            code: "code".into(),
            state,
            expire_time,
            create_time: 0,
        }
    }

    #[test]
    fn p1_require_operator_refuses_every_other_role() {
        assert!(require_operator(&operator(), "create partners").is_ok());
        for principal in [service(), as_partner("p"), as_customer("c")] {
            refused(
                require_operator(&principal, "create partners"),
                ErrorCode::PermissionDenied,
                Reason::RoleNotAllowed,
            );
        }
    }

    #[test]
    fn p2_require_link_manager_is_the_operator_or_the_provider_itself() {
        assert!(require_link_manager(&operator(), "provider").is_ok());
        assert!(require_link_manager(&as_partner("provider"), "provider").is_ok());
        for principal in [as_partner("other"), service(), as_customer("c")] {
            refused(
                require_link_manager(&principal, "provider"),
                ErrorCode::PermissionDenied,
                Reason::RoleNotAllowed,
            );
        }
    }

    #[test]
    fn p2_check_link_parties_needs_an_active_provider_and_reseller() {
        let provider = active("pr", PartnerKind::IndirectProvider);
        let reseller = active("re", PartnerKind::IndirectReseller);
        assert!(check_link_parties(&provider, &reseller).is_ok());
        for kind in [
            PartnerKind::DirectReseller,
            PartnerKind::IndirectReseller,
            PartnerKind::Advisor,
        ] {
            refused(
                check_link_parties(&active("x", kind), &reseller),
                ErrorCode::PermissionDenied,
                Reason::PartnerKindNotAllowed,
            );
        }
        for kind in [
            PartnerKind::DirectReseller,
            PartnerKind::IndirectProvider,
            PartnerKind::Advisor,
        ] {
            refused(
                check_link_parties(&provider, &active("x", kind)),
                ErrorCode::PermissionDenied,
                Reason::PartnerKindNotAllowed,
            );
        }
        refused(
            check_link_parties(&suspended("pr", PartnerKind::IndirectProvider), &reseller),
            ErrorCode::FailedPrecondition,
            Reason::PartnerNotActive,
        );
        refused(
            check_link_parties(&provider, &suspended("re", PartnerKind::IndirectReseller)),
            ErrorCode::FailedPrecondition,
            Reason::PartnerNotActive,
        );
    }

    #[test]
    fn p4_require_active_caller_refuses_a_suspended_or_unknown_partner() {
        let caller = active("p", PartnerKind::DirectReseller);
        assert_eq!(
            require_active_caller(Some(&caller)).map(|p| p.id.clone()).ok(),
            Some("p".into())
        );
        refused(
            require_active_caller(Some(&suspended("p", PartnerKind::DirectReseller))),
            ErrorCode::PermissionDenied,
            Reason::PartnerNotActive,
        );
        refused(
            require_active_caller(None),
            ErrorCode::PermissionDenied,
            Reason::PartnerNotFound,
        );
    }

    #[test]
    fn p5_can_read_partner_by_role_link_and_status() {
        let target = active("t", PartnerKind::IndirectReseller);
        let hidden = suspended("t", PartnerKind::IndirectReseller);
        for partner in [&target, &hidden] {
            assert!(can_read_partner(&operator(), partner, false));
            assert!(can_read_partner(&service(), partner, false));
            assert!(can_read_partner(&as_partner("t"), partner, false), "itself");
            assert!(can_read_partner(&as_partner("x"), partner, true), "a linked partner");
            assert!(
                !can_read_partner(&as_partner("x"), partner, false),
                "an unlinked partner"
            );
        }
        assert!(can_read_partner(&as_customer("c"), &target, false));
        assert!(
            !can_read_partner(&as_customer("c"), &hidden, false),
            "a customer reads ACTIVE partners only"
        );
    }

    #[test]
    fn c1_check_customer_creator_by_kind() {
        assert!(check_customer_creator(&active("p", PartnerKind::DirectReseller), false).is_ok());
        assert!(check_customer_creator(&active("p", PartnerKind::IndirectProvider), false).is_ok());
        assert!(check_customer_creator(&active("p", PartnerKind::IndirectProvider), true).is_ok());
        invalid_field(
            check_customer_creator(&active("p", PartnerKind::DirectReseller), true),
            "indirect_reseller_id",
        );
        for kind in [PartnerKind::IndirectReseller, PartnerKind::Advisor] {
            for names_reseller in [false, true] {
                refused(
                    check_customer_creator(&active("p", kind), names_reseller),
                    ErrorCode::PermissionDenied,
                    Reason::PartnerKindNotAllowed,
                );
            }
        }
    }

    #[test]
    fn c1_check_reseller_linked_needs_an_active_linked_reseller() {
        let reseller = active("r", PartnerKind::IndirectReseller);
        assert!(check_reseller_linked(Some(&reseller), true).is_ok());
        for (partner, linked) in [
            (Some(&reseller), false),
            (Some(&suspended("r", PartnerKind::IndirectReseller)), true),
            (None, true),
            (None, false),
        ] {
            refused(
                check_reseller_linked(partner, linked),
                ErrorCode::FailedPrecondition,
                Reason::ResellerNotLinked,
            );
        }
    }

    #[test]
    fn c4_require_view_tells_a_suspended_partner_so_and_hides_the_rest() {
        assert!(require_view(&decision(true, AccessReason::ActiveRelationship)).is_ok());
        refused(
            require_view(&decision(false, AccessReason::PartnerNotActive)),
            ErrorCode::PermissionDenied,
            Reason::PartnerNotActive,
        );
        for reason in [AccessReason::NoRelationship, AccessReason::PartnerNotFound] {
            let error = refused(
                require_view(&decision(false, reason)),
                ErrorCode::PermissionDenied,
                Reason::NoRelationship,
            );
            assert_eq!(error, cannot_view(), "an unknown customer looks like any other (W2)");
        }
    }

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

    #[test]
    fn i1_check_inviter_by_kind() {
        assert!(check_inviter(&active("p", PartnerKind::DirectReseller), false).is_ok());
        assert!(check_inviter(&active("p", PartnerKind::IndirectProvider), false).is_ok());
        assert!(check_inviter(&active("p", PartnerKind::IndirectProvider), true).is_ok());
        let error = refused(
            check_inviter(&active("p", PartnerKind::IndirectReseller), false),
            ErrorCode::PermissionDenied,
            Reason::IndirectResellerCannotInvite,
        );
        assert!(error.message.contains("indirect provider"), "{error}");
        refused(
            check_inviter(&active("p", PartnerKind::Advisor), false),
            ErrorCode::PermissionDenied,
            Reason::PartnerKindNotAllowed,
        );
    }

    #[test]
    fn i2_a_direct_resellers_invitation_may_not_name_a_reseller() {
        invalid_field(
            check_inviter(&active("p", PartnerKind::DirectReseller), true),
            "relationship_request.indirect_reseller_id",
        );
    }

    #[test]
    fn i3_invitation_days_default_and_bounds() {
        assert_eq!(invitation_days(0, DEFAULT_INVITATION_DAYS).ok(), Some(90));
        assert_eq!(invitation_days(1, DEFAULT_INVITATION_DAYS).ok(), Some(1));
        assert_eq!(invitation_days(365, DEFAULT_INVITATION_DAYS).ok(), Some(365));
        for days in [-1, 366, i32::MIN, i32::MAX] {
            invalid_field(invitation_days(days, DEFAULT_INVITATION_DAYS), "expire_after_days");
        }
    }

    #[test]
    fn i3_requested_dap_defaults_to_every_service_and_scope() {
        assert_eq!(
            requested_dap(true, Vec::new(), Vec::new()).ok(),
            Some((Service::ALL.to_vec(), Scope::ALL.to_vec()))
        );
        assert_eq!(
            requested_dap(true, vec![Service::Azure, Service::Azure], vec![Scope::Support]).ok(),
            Some((vec![Service::Azure], vec![Scope::Support]))
        );
        assert_eq!(
            requested_dap(false, Vec::new(), Vec::new()).ok(),
            Some((Vec::new(), Vec::new()))
        );
        invalid_field(
            requested_dap(false, vec![Service::Azure], Vec::new()),
            "relationship_request.include_delegated_admin",
        );
        invalid_field(
            requested_dap(false, Vec::new(), vec![Scope::Support]),
            "relationship_request.include_delegated_admin",
        );
    }

    #[test]
    fn i4_can_read_invitation_by_role() {
        let named = invitation(None, InvitationState::Active, NOW);
        let unnamed = RelationshipRequest {
            indirect_reseller_id: None,
            ..named.clone()
        };
        for invitation in [&named, &unnamed] {
            assert!(can_read_invitation(&operator(), invitation));
            assert!(can_read_invitation(&service(), invitation));
            assert!(can_read_invitation(&as_partner("provider"), invitation));
            assert!(!can_read_invitation(&as_partner("other"), invitation));
            assert!(!can_read_invitation(&as_customer("c"), invitation));
        }
        assert!(can_read_invitation(&as_partner("reseller"), &named));
        assert!(!can_read_invitation(&as_partner("reseller"), &unnamed));
    }

    #[test]
    fn i5_i6_check_acceptable_by_domain_state_and_expiry() {
        let later = NOW + 1;
        assert!(check_acceptable(&invitation(None, InvitationState::Active, later), "a.cn", NOW).is_ok());
        assert!(check_acceptable(&invitation(Some("a.cn"), InvitationState::Active, later), "a.cn", NOW).is_ok());
        refused(
            check_acceptable(&invitation(Some("b.cn"), InvitationState::Active, later), "a.cn", NOW),
            ErrorCode::PermissionDenied,
            Reason::DomainMismatch,
        );
        refused(
            check_acceptable(&invitation(None, InvitationState::Revoked, later), "a.cn", NOW),
            ErrorCode::FailedPrecondition,
            Reason::InvitationRevoked,
        );
        // Expired by the clock, before any sweep marks it.
        refused(
            check_acceptable(&invitation(None, InvitationState::Active, NOW), "a.cn", NOW),
            ErrorCode::FailedPrecondition,
            Reason::InvitationExpired,
        );
        refused(
            check_acceptable(&invitation(None, InvitationState::Expired, later), "a.cn", NOW),
            ErrorCode::FailedPrecondition,
            Reason::InvitationExpired,
        );
    }

    #[test]
    fn i7_require_active_party_at_acceptance() {
        assert!(require_active_party(Some(&active("p", PartnerKind::IndirectProvider)), "provider").is_ok());
        for partner in [Some(suspended("p", PartnerKind::IndirectProvider)), None] {
            refused(
                require_active_party(partner.as_ref(), "provider"),
                ErrorCode::FailedPrecondition,
                Reason::PartnerNotActive,
            );
        }
    }

    #[test]
    fn g2_the_mark_passed_is_the_smallest_the_grant_is_inside() {
        let day = MICROS_PER_DAY;
        let mark = |days_left: i64| notice_mark(Some(NOW + days_left), false, NOW);
        assert_eq!(mark(31 * day), None);
        assert_eq!(mark(30 * day), Some(30));
        assert_eq!(
            mark(10 * day),
            Some(30),
            "a 10-day grant is inside the 30-day mark at once"
        );
        assert_eq!(mark(7 * day), Some(7));
        assert_eq!(mark(day + 1), Some(7));
        assert_eq!(mark(day), Some(1));
        assert_eq!(notice_mark(None, false, NOW), None, "no end");
        assert_eq!(notice_mark(Some(NOW + day), true, NOW), None, "auto_extend");
        let mut ten = grant("p", Service::Azure, GrantState::Active, Some(NOW + 10 * day));
        ten.notice_days = notice_mark(ten.end_time, false, NOW);
        assert_eq!(notice_due(&ten, NOW), None, "the 30-day mark counts as passed");
        assert_eq!(notice_due(&ten, NOW + 3 * day), Some(7));
        ten.notice_days = Some(7);
        assert_eq!(notice_due(&ten, NOW + 5 * day), None);
        // Past two marks at once: only the smallest is due.
        ten.notice_days = Some(30);
        assert_eq!(notice_due(&ten, NOW + 9 * day + 1), Some(1));
        assert_eq!(notice_due(&ten, NOW + 10 * day), None, "at its end D4 expires it");
        ten.state = GrantState::Revoked;
        assert_eq!(notice_due(&ten, NOW + 9 * day), None);
    }

    #[test]
    fn d1_grant_end_is_none_or_1_to_730_days() {
        assert_eq!(grant_end(NOW, 0, false).ok(), Some(None));
        assert_eq!(grant_end(NOW, 1, false).ok(), Some(Some(NOW + MICROS_PER_DAY)));
        assert_eq!(grant_end(NOW, 730, true).ok(), Some(Some(NOW + 730 * MICROS_PER_DAY)));
        invalid_field(grant_end(NOW, 0, true), "auto_extend");
        for days in [-1, 731, i32::MIN, i32::MAX] {
            invalid_field(grant_end(NOW, days, false), "duration_days");
        }
    }

    #[test]
    fn d1_check_grantee_is_an_active_partner_not_an_advisor() {
        for kind in [
            PartnerKind::DirectReseller,
            PartnerKind::IndirectProvider,
            PartnerKind::IndirectReseller,
        ] {
            assert!(check_grantee(Some(&active("p", kind))).is_ok());
        }
        refused(
            check_grantee(Some(&active("p", PartnerKind::Advisor))),
            ErrorCode::PermissionDenied,
            Reason::PartnerKindNotAllowed,
        );
        let unknown = refused(
            check_grantee(None),
            ErrorCode::PermissionDenied,
            Reason::PartnerNotVisible,
        );
        let hidden = refused(
            check_grantee(Some(&suspended("p", PartnerKind::DirectReseller))),
            ErrorCode::PermissionDenied,
            Reason::PartnerNotVisible,
        );
        assert_eq!(hidden, unknown, "a suspended grantee looks like an unknown one (W2)");
    }

    #[test]
    fn d3_check_grant_revoker_is_the_customer_admin_or_the_holder() {
        let held = grant("holder", Service::Azure, GrantState::Active, None);
        assert!(check_grant_revoker(&as_customer("c"), &held).is_ok());
        assert!(check_grant_revoker(&as_partner("holder"), &held).is_ok());
        for principal in [as_customer("other"), as_partner("other")] {
            refused(
                check_grant_revoker(&principal, &held),
                ErrorCode::PermissionDenied,
                Reason::NotGrantParty,
            );
        }
        for principal in [operator(), service()] {
            refused(
                check_grant_revoker(&principal, &held),
                ErrorCode::PermissionDenied,
                Reason::RoleNotAllowed,
            );
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
