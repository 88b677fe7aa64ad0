//! E2, E3: reading the event log, as a list and as a stream.

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::{LocalRelationships, RelationshipSettings};
use crate::domain::model::Event;
use crate::domain::paging::{Page, PageRequest, json_len};
use crate::domain::principal::Principal;
use crate::domain::{Error, ErrorCode, Reason, Result};
use crate::service::contract::relationships::{EventStream, ListEvents, WatchEvents};
use crate::store::{EventAudience, EventFilter, Store};

/// How many events a stream reads from the store at once.
const WATCH_PAGE: u64 = 500;

/// E2, E3: whose events the caller reads, with its filters.
fn event_filter(principal: &Principal, customer_id: Option<String>, partner_id: Option<String>) -> EventFilter {
    let audience = match principal {
        Principal::Operator { .. } | Principal::Service { .. } => EventAudience::All,
        Principal::Customer { customer_id } => EventAudience::Customer(customer_id.clone()),
        Principal::Partner { partner_id } => EventAudience::Partner(partner_id.clone()),
    };
    EventFilter {
        audience,
        customer_id,
        partner_id,
    }
}

/// W3: an upper bound of an event's encoded size: its resource as JSON,
/// and its other fields, whose names JSON would spell out too.
fn event_len(event: &Event) -> usize {
    const FIELDS: usize = 64;
    json_len(&event.resource)
        + event.event_type.len()
        + event.actor.len()
        + event.resource.customer_id().map_or(0, str::len)
        + event.resource.partner_id().map_or(0, str::len)
        + event.resource.subject_id().len()
        + FIELDS
}

impl LocalRelationships {
    /// E2.
    pub(super) async fn list_events(&self, principal: &Principal, command: ListEvents) -> Result<Page<Event>> {
        let ListEvents {
            customer_id,
            partner_id,
            after_seq,
            page_size,
            page_token,
        } = command;
        let filter = event_filter(principal, customer_id, partner_id);
        self.gate(principal).await?;
        let page = PageRequest::parse(
            page_size,
            &page_token,
            &format!("events|{after_seq}|{:?}|{:?}", filter.customer_id, filter.partner_id),
        )?;
        let after = match &page.after {
            Some(seq) => seq
                .parse::<i64>()
                .map_err(|_| Error::invalid("page_token", "is not a token this list issued"))?,
            None => after_seq,
        };
        let rows = self.store.list_events(&filter, after, page.fetch_limit()).await?;
        // W3: cut by bytes too (a few large events once made a page pass
        // the maximum message size).
        let (items, next_page_token) = page.finish_within(rows, |e| e.seq.to_string(), event_len);
        Ok(Page { items, next_page_token })
    }

    /// E3: the backlog after `after_seq`, then live events, read from the
    /// events table so every replica's writes appear, in seq order.
    pub(super) async fn watch_events(&self, principal: &Principal, command: WatchEvents) -> Result<EventStream> {
        let filter = event_filter(principal, command.customer_id, command.partner_id);
        self.gate(principal).await?;
        let (sender, receiver) = mpsc::channel(self.settings.watch_buffer.max(2));
        tokio::spawn(stream_events(
            self.store.clone(),
            filter,
            command.after_seq,
            self.settings.clone(),
            sender,
        ));
        Ok(Box::pin(ReceiverStream::new(receiver)))
    }
}

/// Feeds one WatchEvents stream until the client goes away or falls behind.
async fn stream_events(
    store: Store,
    filter: EventFilter,
    mut last_seq: i64,
    settings: RelationshipSettings,
    sender: mpsc::Sender<Result<Event>>,
) {
    let _open = crate::metrics::WatchStreamGuard::open();
    let mut commits = store.subscribe_commits();
    let mut shutdown = settings.shutdown.clone();
    loop {
        loop {
            if *shutdown.borrow() {
                close_for_shutdown(&sender, last_seq);
                return;
            }
            let events = match store.list_events(&filter, last_seq, WATCH_PAGE).await {
                Ok(events) => events,
                Err(error) => {
                    let _ = sender.send(Err(error)).await;
                    return;
                }
            };
            if events.is_empty() {
                break;
            }
            for event in events {
                // Two free slots: one for this event, and one always kept for
                // the error that closes a consumer too slow to keep up.
                let permits = match tokio::time::timeout(settings.watch_grace, sender.reserve_many(2)).await {
                    Ok(Ok(permits)) => permits,
                    Ok(Err(_)) => return,
                    Err(_) => {
                        let error = Error::new(
                            ErrorCode::ResourceExhausted,
                            Reason::SlowConsumer,
                            format!("the consumer fell behind; resume with after_seq = {last_seq}"),
                        )
                        .with_metadata("resume_after_seq", last_seq.to_string());
                        let _ = sender.try_send(Err(error));
                        tracing::warn!(last_seq, "closed a WatchEvents stream whose consumer fell behind");
                        return;
                    }
                };
                let seq = event.seq;
                if let Some(permit) = permits.into_iter().next() {
                    permit.send(Ok(event));
                }
                last_seq = seq;
            }
        }
        tokio::select! {
            changed = commits.changed() => {
                if changed.is_err() {
                    return;
                }
            }
            () = tokio::time::sleep(settings.watch_poll) => {}
            () = sender.closed() => return,
            Ok(_) = shutdown.wait_for(|stopping| *stopping) => {
                close_for_shutdown(&sender, last_seq);
                return;
            }
        }
    }
}

/// Ends a stream on shutdown with UNAVAILABLE and where to resume, rather
/// than holding the drain; a slot is always free for it (see above).
fn close_for_shutdown(sender: &mpsc::Sender<Result<Event>>, last_seq: i64) {
    let error = Error::new(
        ErrorCode::Unavailable,
        Reason::ShuttingDown,
        format!("the server is shutting down; resume with after_seq = {last_seq}"),
    )
    .with_metadata("resume_after_seq", last_seq.to_string());
    let _ = sender.try_send(Err(error));
}
