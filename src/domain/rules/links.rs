//! Two-sided links (L1-L5): a provider's link is a request its reseller
//! accepts; who may change a link, into what, and what a revoked link
//! leaves behind.

use crate::domain::error::{Error, Reason, Result};
use crate::domain::model::{LinkSide, LinkState, MICROS_PER_DAY, Micros, PartnerLink};
use crate::domain::principal::Principal;

/// L1: how long a provider's link waits for its reseller when the request
/// does not say, and at most.
pub const LINK_EXPIRY_DAYS: i32 = 30;
pub const MAX_LINK_EXPIRY_DAYS: i32 = 90;

/// L1 (W1): at most this many PENDING links per provider.
pub const MAX_PENDING_LINKS: u64 = 100;

/// L5: relationships through a revoked link count as ended this long after
/// it was revoked.
pub const LINK_HANDOVER: Micros = 30 * MICROS_PER_DAY;

/// A change of a link's state, by its RPC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkChange {
    Accept,
    Decline,
    Suspend,
    Resume,
    Unlink,
}

impl LinkChange {
    fn rpc(self) -> &'static str {
        match self {
            LinkChange::Accept => "AcceptPartnerLink",
            LinkChange::Decline => "DeclinePartnerLink",
            LinkChange::Suspend => "SuspendPartnerLink",
            LinkChange::Resume => "ResumePartnerLink",
            LinkChange::Unlink => "UnlinkIndirectReseller",
        }
    }

    /// L6: the event a change of this kind appends.
    pub fn event_type(self) -> &'static str {
        match self {
            LinkChange::Accept => "partner_link.accepted",
            LinkChange::Decline => "partner_link.declined",
            LinkChange::Suspend => "partner_link.suspended",
            LinkChange::Resume => "partner_link.resumed",
            LinkChange::Unlink => "partner_link.revoked",
        }
    }
}

/// L1: the state and expiry of a new link. The operator's link is ACTIVE
/// at once (and may give no expiry); a provider's is PENDING for
/// `expire_after_days` (0: 30; the adapter refused anything outside 0-90).
pub fn new_link_terms(
    principal: &Principal,
    expire_after_days: i32,
    now: Micros,
) -> Result<(LinkState, Option<Micros>)> {
    if principal.is_operator() {
        if expire_after_days != 0 {
            return Err(Error::invalid(
                "expire_after_days",
                "the operator's link is ACTIVE at once and does not expire; leave expire_after_days 0",
            ));
        }
        return Ok((LinkState::Active, None));
    }
    let days = if expire_after_days == 0 {
        LINK_EXPIRY_DAYS
    } else {
        expire_after_days
    };
    Ok((LinkState::Pending, Some(now + Micros::from(days) * MICROS_PER_DAY)))
}

/// L1, P2: a PENDING (not yet expired), ACTIVE or SUSPENDED link holds the
/// pair: no second one may be made while it stands.
pub fn link_holds_pair(link: &PartnerLink, now: Micros) -> bool {
    matches!(
        link.state_at(now),
        LinkState::Pending | LinkState::Active | LinkState::Suspended
    )
}

/// L2, L3: the side the caller acts for on the pair it names. A partner
/// that is neither is PERMISSION_DENIED, decided from the request alone
/// (before any lookup: W2); customer admins and services never change links.
pub fn link_side(principal: &Principal, provider_id: &str, reseller_id: &str) -> Result<LinkSide> {
    match principal {
        Principal::Operator { .. } => Ok(LinkSide::Operator),
        Principal::Partner { partner_id } if partner_id == provider_id => Ok(LinkSide::Provider),
        Principal::Partner { partner_id } if partner_id == reseller_id => Ok(LinkSide::Reseller),
        Principal::Partner { .. } => Err(Error::permission_denied(
            Reason::PartnerNotVisible,
            "only the link's provider, its reseller or the operator may change a link",
        )),
        _ => Err(Error::role_not_allowed("change partner links")),
    }
}

/// L2, L3: which side may make which change: only the reseller accepts or
/// declines; the provider or the operator suspends and resumes; either side
/// or the operator unlinks.
pub fn require_link_side(change: LinkChange, side: LinkSide) -> Result<()> {
    let allowed = match change {
        LinkChange::Accept | LinkChange::Decline => side == LinkSide::Reseller,
        LinkChange::Suspend | LinkChange::Resume => side != LinkSide::Reseller,
        LinkChange::Unlink => true,
    };
    if allowed {
        return Ok(());
    }
    let who = match change {
        LinkChange::Accept | LinkChange::Decline => "only the reseller",
        _ => "only the provider or the operator",
    };
    Err(Error::permission_denied(
        Reason::LinkSideNotAllowed,
        format!("{who} may call {} on a link", change.rpc()),
    ))
}

/// L2, L3: the state `change` takes the pair's newest link to, as read at
/// `now`: `Ok(None)` when the link is already in the state this change
/// makes (a repeated call returns it and appends nothing). Acceptance's
/// first check (the provider ACTIVE) is the caller's, before this one.
pub fn link_transition(
    change: LinkChange,
    side: LinkSide,
    link: &PartnerLink,
    now: Micros,
) -> Result<Option<LinkState>> {
    let state = link.state_at(now);
    let pending = |to: LinkState, repeat: LinkState| match state {
        _ if state == repeat => Ok(None),
        LinkState::Pending => Ok(Some(to)),
        LinkState::Expired => Err(Error::failed_precondition(
            Reason::LinkExpired,
            "the link expired before the reseller answered; the provider may link again",
        )),
        _ => Err(Error::failed_precondition(
            Reason::LinkNotPending,
            format!("the link is {state}, not PENDING"),
        )),
    };
    match change {
        LinkChange::Accept => pending(LinkState::Active, LinkState::Active),
        LinkChange::Decline => pending(LinkState::Declined, LinkState::Declined),
        LinkChange::Suspend => match state {
            LinkState::Suspended => Ok(None),
            LinkState::Active => Ok(Some(LinkState::Suspended)),
            _ => Err(not_active(state)),
        },
        LinkChange::Resume => match state {
            LinkState::Active => Ok(None),
            LinkState::Suspended => Ok(Some(LinkState::Active)),
            _ => Err(Error::failed_precondition(
                Reason::LinkNotSuspended,
                format!("the link is {state}, not SUSPENDED"),
            )),
        },
        LinkChange::Unlink => match state {
            LinkState::Revoked => Ok(None),
            LinkState::Active | LinkState::Suspended => Ok(Some(LinkState::Revoked)),
            // L2: the provider (or the operator) withdraws its request.
            LinkState::Pending if side != LinkSide::Reseller => Ok(Some(LinkState::Revoked)),
            LinkState::Pending => Err(Error::failed_precondition(
                Reason::LinkNotActive,
                "the link is PENDING: its reseller declines it (DeclinePartnerLink)",
            )),
            _ => Err(not_active(state)),
        },
    }
}

fn not_active(state: LinkState) -> Error {
    Error::failed_precondition(
        Reason::LinkNotActive,
        format!("the link is {state}, not ACTIVE or SUSPENDED"),
    )
}

/// L5: from when the relationships through a pair whose last link was
/// revoked at `revoked_at` count as ended (none while the pair has an
/// ACTIVE or SUSPENDED link: the caller passes None then).
pub fn handover_end(revoked_at: Option<Micros>) -> Option<Micros> {
    revoked_at.map(|at| at + LINK_HANDOVER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::ErrorCode;
    use crate::domain::rules::fixtures::*;

    fn link(state: LinkState, expire_time: Option<Micros>) -> PartnerLink {
        PartnerLink {
            id: "l".into(),
            provider_id: "p".into(),
            reseller_id: "r".into(),
            state,
            expire_time,
            ended_by: None,
            end_note: None,
            version: 1,
            create_time: 0,
            update_time: 0,
        }
    }

    #[test]
    fn l1_the_operators_link_is_active_at_once_and_a_providers_pending_for_its_days() {
        assert_eq!(
            new_link_terms(&operator(), 0, NOW).ok(),
            Some((LinkState::Active, None))
        );
        refused(
            new_link_terms(&operator(), 5, NOW),
            ErrorCode::InvalidArgument,
            Reason::InvalidField,
        );
        let provider = as_partner("p");
        assert_eq!(
            new_link_terms(&provider, 0, NOW).ok(),
            Some((LinkState::Pending, Some(NOW + 30 * MICROS_PER_DAY)))
        );
        assert_eq!(
            new_link_terms(&provider, 90, NOW).ok(),
            Some((LinkState::Pending, Some(NOW + 90 * MICROS_PER_DAY)))
        );
    }

    #[test]
    fn l1_a_pending_link_past_its_expiry_is_expired_and_holds_nothing() {
        let pending = link(LinkState::Pending, Some(NOW));
        assert_eq!(pending.state_at(NOW - 1), LinkState::Pending);
        assert!(link_holds_pair(&pending, NOW - 1));
        assert_eq!(pending.state_at(NOW), LinkState::Expired);
        assert!(!link_holds_pair(&pending, NOW));
        for state in [LinkState::Active, LinkState::Suspended] {
            assert!(link_holds_pair(&link(state, None), NOW));
        }
        for state in [LinkState::Revoked, LinkState::Declined, LinkState::Expired] {
            assert!(!link_holds_pair(&link(state, None), NOW));
        }
    }

    #[test]
    fn l2_only_the_reseller_answers_and_only_the_provider_or_operator_suspends() {
        assert_eq!(link_side(&as_partner("p"), "p", "r").ok(), Some(LinkSide::Provider));
        assert_eq!(link_side(&as_partner("r"), "p", "r").ok(), Some(LinkSide::Reseller));
        assert_eq!(link_side(&operator(), "p", "r").ok(), Some(LinkSide::Operator));
        refused(
            link_side(&as_partner("x"), "p", "r"),
            ErrorCode::PermissionDenied,
            Reason::PartnerNotVisible,
        );
        for principal in [service(), as_customer("c")] {
            refused(
                link_side(&principal, "p", "r"),
                ErrorCode::PermissionDenied,
                Reason::RoleNotAllowed,
            );
        }
        let sides = [LinkSide::Provider, LinkSide::Reseller, LinkSide::Operator];
        for side in sides {
            let reseller = side == LinkSide::Reseller;
            for change in [LinkChange::Accept, LinkChange::Decline] {
                assert_eq!(require_link_side(change, side).is_ok(), reseller, "{change:?} {side:?}");
            }
            for change in [LinkChange::Suspend, LinkChange::Resume] {
                assert_eq!(
                    require_link_side(change, side).is_ok(),
                    !reseller,
                    "{change:?} {side:?}"
                );
            }
            assert!(require_link_side(LinkChange::Unlink, side).is_ok());
        }
        refused(
            require_link_side(LinkChange::Accept, LinkSide::Provider),
            ErrorCode::PermissionDenied,
            Reason::LinkSideNotAllowed,
        );
    }

    /// L2, L3: every change from every state, as the rules list them.
    #[test]
    fn l2_l3_transitions_from_every_state() {
        use LinkChange::*;
        use LinkState::*;
        let expired_pending = link(Pending, Some(NOW));
        let state_of = |state: LinkState| match state {
            Pending => link(Pending, Some(NOW + 1)),
            Expired => expired_pending.clone(),
            other => link(other, None),
        };
        type Case = (LinkChange, LinkState, std::result::Result<Option<LinkState>, Reason>);
        let cases: &[Case] = &[
            (Accept, Pending, Ok(Some(Active))),
            (Accept, Active, Ok(None)),
            (Accept, Expired, Err(Reason::LinkExpired)),
            (Accept, Declined, Err(Reason::LinkNotPending)),
            (Accept, Revoked, Err(Reason::LinkNotPending)),
            (Accept, Suspended, Err(Reason::LinkNotPending)),
            (Decline, Pending, Ok(Some(Declined))),
            (Decline, Declined, Ok(None)),
            (Decline, Expired, Err(Reason::LinkExpired)),
            (Decline, Active, Err(Reason::LinkNotPending)),
            (Suspend, Active, Ok(Some(Suspended))),
            (Suspend, Suspended, Ok(None)),
            (Suspend, Pending, Err(Reason::LinkNotActive)),
            (Suspend, Revoked, Err(Reason::LinkNotActive)),
            (Resume, Suspended, Ok(Some(Active))),
            (Resume, Active, Ok(None)),
            (Resume, Pending, Err(Reason::LinkNotSuspended)),
            (Resume, Revoked, Err(Reason::LinkNotSuspended)),
            (Unlink, Active, Ok(Some(Revoked))),
            (Unlink, Suspended, Ok(Some(Revoked))),
            (Unlink, Pending, Ok(Some(Revoked))),
            (Unlink, Revoked, Ok(None)),
            (Unlink, Declined, Err(Reason::LinkNotActive)),
            (Unlink, Expired, Err(Reason::LinkNotActive)),
        ];
        for (change, from, expected) in cases {
            let got = link_transition(*change, LinkSide::Operator, &state_of(*from), NOW).map_err(|error| {
                assert_eq!(error.code, ErrorCode::FailedPrecondition);
                error.reason
            });
            assert_eq!(&got, expected, "{change:?} from {from:?}");
        }
        // The reseller declines a request; it cannot withdraw it.
        refused(
            link_transition(Unlink, LinkSide::Reseller, &state_of(Pending), NOW),
            ErrorCode::FailedPrecondition,
            Reason::LinkNotActive,
        );
    }

    #[test]
    fn l5_relationships_through_a_revoked_link_end_thirty_days_later() {
        assert_eq!(handover_end(None), None);
        assert_eq!(handover_end(Some(NOW)), Some(NOW + 30 * MICROS_PER_DAY));
    }
}
