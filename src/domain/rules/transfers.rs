//! Transfers (T): who proposes one, what it may name, and what a later call
//! on it finds.

use super::with_article;
use crate::domain::error::{Error, Reason, Result};
use crate::domain::model::{
    Channel, Micros, Partner, PartnerKind, Subscription, SubscriptionStatus, Transfer, TransferItem, TransferState,
};

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
