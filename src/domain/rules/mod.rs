//! Who may do what: the rules of `docs/rules.md` as plain functions over the
//! principal and the resources involved. Handlers load the facts, these
//! functions decide.
//!
//! One file per area of the rules, as `service/` is split; every area's
//! items are re-exported here, so `rules::foo` names any of them. What
//! several areas share is below.

mod assignments;
mod customers;
mod delegated_admin;
#[cfg(test)]
mod fixtures;
mod groups;
mod invitations;
mod links;
mod partners;
mod relationships;
mod subscriptions;
mod transfers;
mod webhooks;

pub use assignments::*;
pub use customers::*;
pub use delegated_admin::*;
pub use groups::*;
pub use invitations::*;
pub use links::*;
pub use partners::*;
pub use relationships::*;
pub use subscriptions::*;
pub use transfers::*;
pub use webhooks::*;

use super::access::{AccessReason, Decision};
use super::error::{Error, Reason, Result};
use super::model::PartnerKind;

/// "an ADVISOR", "a DIRECT_RESELLER": a kind as a message names it.
fn with_article(kind: PartnerKind) -> String {
    let article = if kind.as_str().starts_with(['A', 'E', 'I', 'O', 'U']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {kind}")
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

/// AIP-154: an update naming an etag must name the current one.
pub fn check_etag(sent: &str, current: &str, resource: &str) -> Result<()> {
    if sent.is_empty() || sent == current {
        Ok(())
    } else {
        Err(Error::stale_etag(resource))
    }
}

/// Sorted and without repeats, so equal sets compare equal.
pub fn dedup<T: Ord>(mut items: Vec<T>) -> Vec<T> {
    items.sort();
    items.dedup();
    items
}
