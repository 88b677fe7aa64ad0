//! T1-T4: transfers. What was bought elsewhere moves to a CSP partner of
//! record once the customer's admin accepts. The subscriptions are this
//! service's rows; relationships and partners are read inside the write
//! (W1), never written.

use super::{LocalCustomers, query, require_sell, tenant_mismatch};
use crate::domain::access::Action;
use crate::domain::model::{Channel, Micros, TRANSFER_LIFETIME, Transfer, TransferState, etag};
use crate::domain::paging::{Page, PageRequest};
use crate::domain::principal::Principal;
use crate::domain::{Error, Reason, Result, rules};
use crate::service::contract::customers::{AcceptedTransfer, CreateTransfer, DecideTransfer, ListTransfers};
use crate::service::request_key;
use crate::store::{TransferFilter, WriteTx, new_id};

/// W2: the one refusal for a transfer the caller may not read, known or not.
fn not_a_party() -> Error {
    Error::permission_denied(
        Reason::NotTransferParty,
        "only the customer's admin and the partners a transfer names may read or decide it",
    )
}

fn transfer_not_found(id: &str) -> Error {
    Error::not_found(Reason::TransferNotFound, format!("transfer {id} does not exist"))
}

/// T2: as every decision sees it (EXPIRED once past its expire_time).
fn as_seen(mut transfer: Transfer, now: Micros) -> Transfer {
    transfer.state = transfer.effective_state(now);
    transfer
}

/// AIP-154: an etag, if given, must be the transfer's.
fn check_etag(transfer: &Transfer, given: &str) -> Result<()> {
    if given.is_empty() || etag(transfer.version) == given {
        Ok(())
    } else {
        Err(Error::stale_etag("transfer"))
    }
}

impl LocalCustomers {
    /// T4: the customer's admin, operator and service read a transfer; its
    /// proposer and the partner of record it names while they may VIEW the
    /// customer; everyone else is refused as for an unknown id (W2).
    async fn see_transfer(&self, principal: &Principal, id: &str, transfer: Option<Transfer>) -> Result<Transfer> {
        let Some(transfer) = transfer else {
            return match principal {
                Principal::Operator { .. } | Principal::Service { .. } => Err(transfer_not_found(id)),
                _ => Err(not_a_party()),
            };
        };
        match principal {
            Principal::Operator { .. } | Principal::Service { .. } => Ok(transfer),
            Principal::Customer { customer_id } if *customer_id == transfer.customer_id => Ok(transfer),
            Principal::Customer { .. } => Err(not_a_party()),
            Principal::Partner { partner_id } => {
                let named =
                    *partner_id == transfer.proposing_partner_id || *partner_id == transfer.partner_of_record_id;
                if named
                    && self
                        .decide(partner_id, &transfer.customer_id, Action::View)
                        .await?
                        .allowed
                {
                    Ok(transfer)
                } else {
                    Err(not_a_party())
                }
            }
        }
    }

    /// T1: a transacting DIRECT_RESELLER or INDIRECT_PROVIDER proposes to
    /// take over 1-100 subscriptions of one customer; a provider may name a
    /// reseller of its chain on that customer as the new partner of record.
    pub(super) async fn create_transfer(&self, principal: &Principal, command: CreateTransfer) -> Result<Transfer> {
        let key = request_key(principal, "CreateTransfer", command.request_id.as_deref(), &command)?;
        let Principal::Partner { partner_id } = principal else {
            return Err(Error::role_not_allowed("propose transfers"));
        };
        let reseller = command.partner_of_record_id.clone().filter(|id| id != partner_id);
        // Fails sooner on the caller alone; decided again inside (W1).
        let caller = self.active_caller(partner_id).await?;
        rules::check_transfer_proposer(&caller, reseller.is_some())?;

        let mut tx = self.store.begin_write(principal.actor()).await?;
        let caller = tx.active_caller(partner_id).await?;
        rules::check_transfer_proposer(&caller, reseller.is_some())?;
        if let Some(id) = tx.replayed(key.as_ref()).await? {
            return tx.transfer(&id).await?.ok_or_else(|| transfer_not_found(&id));
        }
        let customer_id = command.customer_id;
        // W2: a customer the proposer may not read is refused before all
        // else; then T1's "transacting".
        require_sell(
            &tx.decide(&query(partner_id, &customer_id, Action::Sell)).await?,
            "the proposing partner",
        )?;
        let (partner_of_record_id, indirect_provider_id) = match reseller {
            Some(reseller) => {
                check_chain(&tx, &customer_id, partner_id, &reseller).await?;
                (reseller, Some(partner_id.clone()))
            }
            None => (partner_id.clone(), None),
        };
        let now = tx.now();
        let found = tx.subscriptions_by_ids(&command.subscription_ids).await?;
        // Past its expire_time a PENDING transfer is EXPIRED for every
        // decision, this one too.
        let pending: Vec<Transfer> = tx
            .pending_transfers_of(&customer_id, partner_id)
            .await?
            .into_iter()
            .filter(|t| t.effective_state(now) == TransferState::Pending)
            .collect();
        let subscriptions = rules::transfer_items(
            &customer_id,
            &command.subscription_ids,
            &found,
            &partner_of_record_id,
            indirect_provider_id.as_deref(),
            &pending,
        )?;
        let transfer = Transfer {
            id: new_id(),
            customer_id,
            proposing_partner_id: partner_id.clone(),
            partner_of_record_id,
            indirect_provider_id,
            subscriptions,
            state: TransferState::Pending,
            expire_time: now + TRANSFER_LIFETIME,
            version: 1,
            create_time: now,
            update_time: now,
        };
        tx.insert_transfer(&transfer).await?;
        tx.remember(key.as_ref(), &transfer.id).await?;
        tx.commit().await?;
        tracing::info!(transfer_id = %transfer.id, customer_id = %transfer.customer_id, partner_id = %partner_id, subscriptions = transfer.subscriptions.len(), "transfer proposed");
        Ok(transfer)
    }

    /// T4.
    pub(super) async fn get_transfer(&self, principal: &Principal, id: &str) -> Result<Transfer> {
        self.gate(principal).await?;
        let transfer = self.store.transfer(id).await?;
        let transfer = self.see_transfer(principal, id, transfer).await?;
        Ok(as_seen(transfer, self.store.now()))
    }

    /// T4: exactly what GetTransfer would show the caller, filtered by
    /// customer, the state it shows, and proposer.
    pub(super) async fn list_transfers(&self, principal: &Principal, command: ListTransfers) -> Result<Page<Transfer>> {
        self.gate(principal).await?;
        let ListTransfers {
            customer_id,
            state,
            proposing_partner_id,
            page_size,
            page_token,
        } = command;
        let page = PageRequest::parse(
            page_size,
            &page_token,
            &format!("transfers|{customer_id:?}|{state:?}|{proposing_partner_id:?}"),
        )?;
        let mut filter = TransferFilter {
            customer_id: customer_id.clone(),
            state,
            proposing_partner_id,
            party: None,
        };
        match principal {
            Principal::Operator { .. } | Principal::Service { .. } => {}
            Principal::Customer { customer_id: own } => match &customer_id {
                Some(asked) if asked != own => return Err(tenant_mismatch()),
                _ => filter.customer_id = Some(own.clone()),
            },
            Principal::Partner { partner_id } => filter.party = Some(partner_id.clone()),
        }
        let now = self.store.now();
        let rows = self.store.list_transfers(&filter, &page).await?;
        let rows = rows.into_iter().map(|t| as_seen(t, now)).collect();
        Ok(page.page(rows, |t: &Transfer| t.id.clone()))
    }

    /// The caller's own transfer to decide: the customer's admin's, or the
    /// proposer's; any other, or an unknown id, is refused alike (W2).
    async fn transfer_to_decide(&self, tx: &WriteTx, principal: &Principal, id: &str) -> Result<Transfer> {
        let transfer = tx.transfer(id).await?.ok_or_else(not_a_party)?;
        let own = match principal {
            Principal::Customer { customer_id } => *customer_id == transfer.customer_id,
            Principal::Partner { partner_id } => *partner_id == transfer.proposing_partner_id,
            _ => false,
        };
        if own { Ok(transfer) } else { Err(not_a_party()) }
    }

    /// T2, T3: in one transaction, first the partners (the new partner of
    /// record, and its provider, ACTIVE and transacting), then the
    /// subscriptions (each as in the snapshot, else TRANSFER_STALE naming
    /// them); then each becomes CSP with the transfer's partner of record
    /// and provider, and the transfer is COMPLETED. Relationships and
    /// grants are untouched (M1); A1 follows the subscriptions' rows at once.
    pub(super) async fn accept_transfer(
        &self,
        principal: &Principal,
        command: DecideTransfer,
    ) -> Result<AcceptedTransfer> {
        // P4 before the role: a suspended partner gets the one refusal.
        self.gate(principal).await?;
        if !matches!(principal, Principal::Customer { .. }) {
            return Err(Error::role_not_allowed("accept transfers"));
        }
        let mut tx = self.store.begin_write(principal.actor()).await?;
        let transfer = self.transfer_to_decide(&tx, principal, &command.id).await?;
        let ids: Vec<String> = transfer
            .subscriptions
            .iter()
            .map(|s| s.subscription_id.clone())
            .collect();
        if !rules::check_transfer_pending(&transfer, TransferState::Completed, tx.now())? {
            // The repeat of the acceptance: as things now are, nothing appended.
            let subscriptions = tx.subscriptions_by_ids(&ids).await?;
            return Ok(AcceptedTransfer {
                transfer,
                subscriptions,
            });
        }
        check_etag(&transfer, &command.etag)?;
        let parties = std::iter::once(&transfer.partner_of_record_id).chain(transfer.indirect_provider_id.as_ref());
        for partner_id in parties {
            let decision = tx
                .decide(&query(partner_id, &transfer.customer_id, Action::Sell))
                .await?;
            if !decision.allowed {
                return Err(Error::failed_precondition(
                    Reason::NotTransacting,
                    format!(
                        "partner {partner_id} is not ACTIVE and transacting with this customer ({}), so the transfer cannot complete",
                        decision.reason.as_str()
                    ),
                ));
            }
        }
        let current = tx.subscriptions_by_ids(&ids).await?;
        let stale = rules::stale_transfer_items(&transfer, &current);
        if !stale.is_empty() {
            let stale: Vec<&str> = stale.iter().map(String::as_str).collect();
            return Err(Error::failed_precondition(
                Reason::TransferStale,
                format!(
                    "these subscriptions changed since the transfer was proposed: {}",
                    crate::domain::error::listed(&stale)
                ),
            )
            .with_ids("subscription_ids", &stale));
        }
        let mut moved = Vec::with_capacity(current.len());
        for mut subscription in current {
            subscription.channel = Channel::Csp;
            subscription.partner_of_record_id = Some(transfer.partner_of_record_id.clone());
            subscription.indirect_provider_id = transfer.indirect_provider_id.clone();
            moved.push(tx.update_subscription(subscription).await?);
        }
        let transfer = tx.set_transfer_state(transfer, TransferState::Completed).await?;
        tx.commit().await?;
        tracing::info!(transfer_id = %transfer.id, customer_id = %transfer.customer_id, partner_of_record_id = %transfer.partner_of_record_id, subscriptions = moved.len(), "transfer accepted");
        Ok(AcceptedTransfer {
            transfer,
            subscriptions: moved,
        })
    }

    /// T2: the customer's admin rejects a PENDING transfer.
    pub(super) async fn reject_transfer(&self, principal: &Principal, command: DecideTransfer) -> Result<Transfer> {
        self.gate(principal).await?;
        if !matches!(principal, Principal::Customer { .. }) {
            return Err(Error::role_not_allowed("reject transfers"));
        }
        self.close_transfer(principal, command, TransferState::Rejected).await
    }

    /// T2: its proposer cancels a PENDING transfer.
    pub(super) async fn cancel_transfer(&self, principal: &Principal, command: DecideTransfer) -> Result<Transfer> {
        let Principal::Partner { partner_id } = principal else {
            return Err(Error::role_not_allowed("cancel transfers"));
        };
        self.active_caller(partner_id).await?;
        self.close_transfer(principal, command, TransferState::Cancelled).await
    }

    async fn close_transfer(
        &self,
        principal: &Principal,
        command: DecideTransfer,
        state: TransferState,
    ) -> Result<Transfer> {
        let mut tx = self.store.begin_write(principal.actor()).await?;
        if let Principal::Partner { partner_id } = principal {
            tx.active_caller(partner_id).await?;
        }
        let transfer = self.transfer_to_decide(&tx, principal, &command.id).await?;
        if !rules::check_transfer_pending(&transfer, state, tx.now())? {
            return Ok(transfer);
        }
        check_etag(&transfer, &command.etag)?;
        let transfer = tx.set_transfer_state(transfer, state).await?;
        tx.commit().await?;
        tracing::info!(transfer_id = %transfer.id, state = %state, "transfer closed");
        Ok(transfer)
    }
}

/// T1: a reseller named as the new partner of record has an ACTIVE
/// INDIRECT_RESELLER relationship to the customer through the proposer.
async fn check_chain(tx: &WriteTx, customer_id: &str, provider_id: &str, reseller_id: &str) -> Result<()> {
    let chained = tx
        .indirect_relationships_via(customer_id, provider_id)
        .await?
        .iter()
        .any(|relationship| relationship.partner_id == reseller_id);
    if chained {
        Ok(())
    } else {
        Err(Error::failed_precondition(
            Reason::ResellerNotLinked,
            format!(
                "partner {reseller_id} has no ACTIVE INDIRECT_RESELLER relationship with this customer through you"
            ),
        ))
    }
}
