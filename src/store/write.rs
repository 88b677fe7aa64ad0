//! Write transactions. Every change goes through a `WriteTx`, which takes the
//! event counter row first and appends the change's events in the same
//! transaction (E1): no change without an event, no event without a change,
//! and `seq` without gaps, visible in order on every replica.

use std::collections::HashMap;

use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Statement,
};
use tokio::sync::OwnedMutexGuard;

use super::Store;
use super::entity::{event, event_audience, partner, partner_link, request_record};
use super::gate::WriteConn;
use crate::domain::model::{
    EventResource, GrantState, Micros, PartnerStatus, RelationshipKind, RelationshipState, grant_in_force,
};
use crate::domain::{Error, Reason, Result};

/// AIP-155: who asked, for which method, with which request id, and a
/// fingerprint of the request so a reused id with another payload is caught.
#[derive(Clone, Debug)]
pub struct RequestKey {
    pub key: String,
    pub fingerprint: String,
}

pub struct WriteTx {
    txn: WriteConn,
    /// Dropped after the transaction: the next writer's turn.
    _turn: OwnedMutexGuard<()>,
    now: Micros,
    actor: String,
    pending: Vec<(&'static str, EventResource)>,
    /// E2 in the split deployment: partners that the outboxed consequences
    /// of this write will let VIEW a customer, as (customer, partner).
    pub(super) expected_viewers: Vec<(String, String)>,
    /// A change with no event of its own (an outbox record carried out
    /// with nothing left to change): commit it all the same.
    pub(super) commit_without_events: bool,
    /// The event counter as this transaction locked it: no other writer
    /// moves it before this one commits.
    last_seq: i64,
    pub(super) store: Store,
}

impl Store {
    /// Starts a write: the counter row is locked before anything is read,
    /// so concurrent writers (on any replica) queue here and every read of
    /// this transaction sees all writes committed before it.
    pub async fn begin_write(&self, actor: String) -> Result<WriteTx> {
        let (txn, turn) = self
            .write_gate
            .begin_write(&self.db, self.inline_writer.as_ref())
            .await?;
        // One statement takes the lock and reads the counter (a prepared
        // one, kept: every write runs it).
        let locked = txn
            .query_one_raw(Statement::from_string(
                txn.get_database_backend(),
                "UPDATE event_counter SET value = value WHERE id = 1 RETURNING value",
            ))
            .await?
            .ok_or_else(|| Error::internal("the event counter row is missing"))?;
        let last_seq: i64 = locked.try_get("", "value")?;
        Ok(WriteTx {
            txn,
            _turn: turn,
            now: self.clock.now(),
            actor,
            pending: Vec::new(),
            expected_viewers: Vec::new(),
            commit_without_events: false,
            last_seq,
            store: self.clone(),
        })
    }
}

impl WriteTx {
    pub fn conn(&self) -> &WriteConn {
        &self.txn
    }

    pub fn now(&self) -> Micros {
        self.now
    }

    /// The last seq appended before this write (E1): the counter it holds.
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    /// Who makes this write, as its events name them.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// Records the new state of something this transaction changed.
    pub fn record(&mut self, event_type: &'static str, resource: EventResource) {
        // H1: an endpoint filters on the known types; a new one is listed.
        debug_assert!(
            crate::domain::rules::EVENT_TYPES.contains(&event_type),
            "{event_type} is not in rules::EVENT_TYPES"
        );
        self.pending.push((event_type, resource));
    }

    /// The resource a retried request created the first time, if any.
    pub async fn replayed(&self, key: Option<&RequestKey>) -> Result<Option<String>> {
        let Some(key) = key else { return Ok(None) };
        let Some(found) = request_record::Entity::find_by_id(key.key.clone())
            .one(&self.txn)
            .await?
        else {
            return Ok(None);
        };
        if found.fingerprint != key.fingerprint {
            return Err(Error::new(
                crate::domain::ErrorCode::InvalidArgument,
                Reason::RequestIdReused,
                "request_id was already used for a different request",
            ));
        }
        Ok(Some(found.resource_id))
    }

    /// Remembers what a request with a request id created.
    pub async fn remember(&self, key: Option<&RequestKey>, resource_id: &str) -> Result<()> {
        let Some(key) = key else { return Ok(()) };
        request_record::Entity::insert(request_record::ActiveModel {
            key: Set(key.key.clone()),
            fingerprint: Set(key.fingerprint.clone()),
            resource_id: Set(resource_id.to_owned()),
            create_time: Set(self.now),
        })
        .exec(&self.txn)
        .await?;
        Ok(())
    }

    /// Appends the recorded events and commits. Returns the last seq.
    pub async fn commit(self) -> Result<i64> {
        let WriteTx {
            txn,
            _turn,
            now,
            actor,
            pending,
            expected_viewers,
            commit_without_events,
            last_seq: last,
            store,
        } = self;
        if pending.is_empty() {
            if commit_without_events {
                txn.commit().await?;
                return Ok(0);
            }
            // Nothing changed (e.g. a replayed request): release the lock.
            txn.rollback().await?;
            return Ok(0);
        }
        let backend = txn.get_database_backend();
        // Viewers of every customer the events touch, read in a few
        // statements (a bulk seed appends events for thousands of customers).
        let customers: Vec<&str> = {
            let mut ids: Vec<&str> = pending.iter().filter_map(|(_, r)| r.customer_id()).collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        let mut parties_of: HashMap<String, Parties> = HashMap::new();
        for chunk in customers.chunks(VIEWER_CHUNK) {
            parties(&txn, chunk, now, &mut parties_of).await?;
        }
        for (customer_id, partner_id) in expected_viewers {
            let parties = parties_of.entry(customer_id).or_default();
            if !parties.viewers.contains(&partner_id) {
                parties.viewers.push(partner_id);
            }
        }
        let mut seq = last;
        let mut rows = Vec::with_capacity(pending.len());
        let mut audience_rows = Vec::new();
        for (event_type, resource) in pending {
            seq += 1;
            for partner_id in audience(&txn, &resource, &parties_of, now).await? {
                audience_rows.push(event_audience::ActiveModel {
                    partner_id: Set(partner_id),
                    seq: Set(seq),
                });
            }
            let payload = serde_json::to_string(&resource)
                .map_err(|error| Error::internal(format!("event encoding failed: {error}")))?;
            rows.push(event::ActiveModel {
                seq: Set(seq),
                time: Set(now),
                event_type: Set(event_type.to_owned()),
                actor: Set(actor.clone()),
                customer_id: Set(resource.customer_id().map(str::to_owned)),
                partner_id: Set(resource.partner_id().map(str::to_owned)),
                subject_id: Set(resource.subject_id().to_owned()),
                payload: Set(payload),
            });
        }
        // Chunks stay under the bind-parameter limits of SQLite and PostgreSQL.
        for chunk in chunks(rows, 1000) {
            event::Entity::insert_many(chunk).exec_without_returning(&txn).await?;
        }
        for chunk in chunks(audience_rows, 5000) {
            event_audience::Entity::insert_many(chunk)
                .exec_without_returning(&txn)
                .await?;
        }
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            placeholders(backend, "UPDATE event_counter SET value = $1 WHERE id = 1"),
            [seq.into()],
        ))
        .await?;
        txn.commit().await?;
        crate::metrics::METRICS.events_appended.inc_by((seq - last) as u64);
        store.committed.send_replace(seq);
        Ok(seq)
    }
}

/// Customers whose viewers one statement reads (two IN lists of this size
/// stay well under the bind-parameter limits).
const VIEWER_CHUNK: usize = 500;

/// E2: the partners that may read an event, decided when it is appended:
/// exactly those that could read its subject row just before or just after
/// the change. A customer and its subscriptions: the partners that may VIEW
/// the customer (C4). A relationship or a grant: the partners M2 shows it
/// to (its own partner, and its counterparts in the same indirect chain,
/// while they may VIEW the customer). An invitation: its inviting partner
/// and named reseller (I4). A partner: itself and the partners linked with
/// it; a link: its two partners (P5). A suspended partner reads nothing but
/// itself (P4).
async fn audience(
    txn: &WriteConn,
    resource: &EventResource,
    parties_of: &HashMap<String, Parties>,
    now: Micros,
) -> Result<Vec<String>> {
    let none = Parties::default();
    let of = |customer_id: &str| parties_of.get(customer_id).unwrap_or(&none);
    let mut partners: Vec<String> = Vec::new();
    match resource {
        EventResource::Customer(customer) => partners.extend(of(&customer.id).viewers.iter().cloned()),
        EventResource::Subscription(subscription) => {
            partners.extend(of(&subscription.customer_id).viewers.iter().cloned());
        }
        EventResource::Relationship(relationship) => {
            let parties = of(&relationship.customer_id);
            // Its own partner: the row gave it VIEW on the side it was ACTIVE.
            if parties.is_party(&relationship.partner_id) {
                partners.push(relationship.partner_id.clone());
            }
            match relationship.kind {
                // The provider of the chain sees its reseller's row.
                RelationshipKind::IndirectReseller => {
                    partners.extend(
                        relationship
                            .indirect_provider_id
                            .iter()
                            .filter(|provider| parties.views(provider))
                            .cloned(),
                    );
                }
                // The resellers working through a provider see its row.
                RelationshipKind::Reseller => {
                    partners.extend(parties.resellers_of(&relationship.partner_id).cloned());
                }
                RelationshipKind::Advisor => {}
            }
        }
        EventResource::DelegatedAdminGrant(grant) => {
            let parties = of(&grant.customer_id);
            if parties.is_party(&grant.partner_id) {
                partners.push(grant.partner_id.clone());
            }
            partners.extend(parties.resellers_of(&grant.partner_id).cloned());
            partners.extend(parties.providers_of(&grant.partner_id).cloned());
        }
        // T4: its proposer and the partner of record it names, while they
        // may VIEW the customer.
        EventResource::Transfer(transfer) => {
            let parties = of(&transfer.customer_id);
            partners.extend(
                [&transfer.proposing_partner_id, &transfer.partner_of_record_id]
                    .into_iter()
                    .filter(|p| parties.views(p))
                    .cloned(),
            );
        }
        // R8: its partner alone (the operator and services see every event).
        EventResource::SecurityGroup(group) => partners.push(group.partner_id.clone()),
        // R8: its grant's partner; the customer's admin reads it by the
        // event's customer.
        EventResource::AccessAssignment(assignment) => partners.push(assignment.partner_id.clone()),
        // H10: its owner alone (the operator's: only the operator and
        // services, who see every event).
        EventResource::WebhookEndpoint(endpoint) => partners.extend(endpoint.partner_id.iter().cloned()),
        EventResource::RelationshipRequest(invitation) => {
            let named = std::iter::once(invitation.inviting_partner_id.as_str())
                .chain(invitation.indirect_reseller_id.as_deref());
            partners.extend(active_partners(txn, named).await?);
        }
        EventResource::Partner(partner) => {
            // GetPartner on itself is allowed even while suspended (P4).
            partners.push(partner.id.clone());
            partners.extend(linked_partners(txn, &partner.id, now).await?);
        }
        EventResource::PartnerLink(link) => {
            let named = [link.provider_id.as_str(), link.reseller_id.as_str()];
            partners.extend(active_partners(txn, named.into_iter()).await?);
        }
    }
    partners.sort();
    partners.dedup();
    Ok(partners)
}

/// What E2 needs to know of one customer's ACTIVE partners, read by
/// `parties` for every customer a commit's events touch.
#[derive(Default)]
struct Parties {
    /// The partners that may VIEW it just before or just after the change.
    viewers: Vec<String>,
    /// Partners with any relationship or grant row on it.
    parties: Vec<String>,
    /// Indirect chains ACTIVE just before or just after: (reseller, provider).
    chains: Vec<(String, String)>,
}

impl Parties {
    fn views(&self, partner_id: &str) -> bool {
        self.viewers.iter().any(|p| p == partner_id)
    }

    fn is_party(&self, partner_id: &str) -> bool {
        self.parties.iter().any(|p| p == partner_id)
    }

    /// The resellers in a chain through this provider that may VIEW.
    fn resellers_of<'b>(&'b self, provider_id: &'b str) -> impl Iterator<Item = &'b String> + 'b {
        self.chains
            .iter()
            .filter(move |(reseller, provider)| provider == provider_id && self.views(reseller))
            .map(|(reseller, _)| reseller)
    }

    /// The providers of this reseller's chains that may VIEW.
    fn providers_of<'b>(&'b self, reseller_id: &'b str) -> impl Iterator<Item = &'b String> + 'b {
        self.chains
            .iter()
            .filter(move |(reseller, provider)| reseller == reseller_id && self.views(provider))
            .map(|(_, provider)| provider)
    }
}

/// Reads, for each of these customers, what `audience` needs to know of the
/// ACTIVE partners with rows on it, as `Parties` describes: who may VIEW it
/// (an ACTIVE relationship or a grant in force after the change, or a
/// relationship this very transaction ended: it gave VIEW just before), who
/// has any row on it, and its indirect chains that stand, or that this
/// transaction ended.
async fn parties(
    txn: &WriteConn,
    customer_ids: &[&str],
    now: Micros,
    parties_of: &mut HashMap<String, Parties>,
) -> Result<()> {
    let backend = txn.get_database_backend();
    let mut values: Vec<sea_orm::Value> = vec![PartnerStatus::Active.as_str().into()];
    let relationship_customers = in_list(&mut values, customer_ids.iter().copied());
    let grant_customers = in_list(&mut values, customer_ids.iter().copied());
    let sql = format!(
        "SELECT r.customer_id, r.partner_id, CAST(0 AS BIGINT) AS is_grant, r.kind, r.indirect_provider_id, \
         r.state, r.end_time, CAST(0 AS BIGINT) AS auto_extend \
         FROM relationships r JOIN partners p ON p.id = r.partner_id \
         WHERE r.customer_id IN ({relationship_customers}) AND p.status = $1 \
         UNION ALL SELECT g.customer_id, g.partner_id, CAST(1 AS BIGINT), CAST(NULL AS TEXT), CAST(NULL AS TEXT), \
         g.state, g.end_time, CASE WHEN g.auto_extend THEN 1 ELSE 0 END \
         FROM delegated_admin_grants g JOIN partners p ON p.id = g.partner_id \
         WHERE g.customer_id IN ({grant_customers}) AND p.status = $1"
    );
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            placeholders(backend, &sql),
            values,
        ))
        .await?;
    for row in rows {
        let customer_id: String = row.try_get("", "customer_id")?;
        let partner_id: String = row.try_get("", "partner_id")?;
        let is_grant: i64 = row.try_get("", "is_grant")?;
        let kind: Option<String> = row.try_get("", "kind")?;
        let provider_id: Option<String> = row.try_get("", "indirect_provider_id")?;
        let state: String = row.try_get("", "state")?;
        let end_time: Option<i64> = row.try_get("", "end_time")?;
        let auto_extend: i64 = row.try_get("", "auto_extend")?;
        let gives_view = if is_grant == 1 {
            GrantState::parse(&state).is_some_and(|state| grant_in_force(state, end_time, auto_extend == 1, now))
        } else {
            state == RelationshipState::Active.as_str() || end_time == Some(now)
        };
        let in_chain =
            is_grant == 0 && gives_view && kind.as_deref() == Some(RelationshipKind::IndirectReseller.as_str());
        let parties = parties_of.entry(customer_id).or_default();
        if in_chain && let Some(provider_id) = provider_id {
            parties.chains.push((partner_id.clone(), provider_id));
        }
        push_once(&mut parties.parties, &partner_id);
        if gives_view {
            push_once(&mut parties.viewers, &partner_id);
        }
    }
    Ok(())
}

fn push_once(partners: &mut Vec<String>, partner_id: &str) {
    if !partners.iter().any(|p| p == partner_id) {
        partners.push(partner_id.to_owned());
    }
}

/// Those of these partners that are ACTIVE (P4: a suspended partner reads
/// nothing but itself).
async fn active_partners<'a>(txn: &WriteConn, ids: impl Iterator<Item = &'a str>) -> Result<Vec<String>> {
    let rows = partner::Entity::find()
        .filter(partner::Column::Id.is_in(ids))
        .filter(partner::Column::Status.eq(PartnerStatus::Active.as_str()))
        .all(txn)
        .await?;
    Ok(rows.into_iter().map(|p| p.id).collect())
}

/// ACTIVE partners linked with this one (P5), on either side.
async fn linked_partners(txn: &WriteConn, partner_id: &str, now: Micros) -> Result<Vec<String>> {
    let links = partner_link::Entity::find()
        .filter(
            Condition::any()
                .add(partner_link::Column::ProviderId.eq(partner_id))
                .add(partner_link::Column::ResellerId.eq(partner_id)),
        )
        .filter(super::partners::visible_link(now))
        .all(txn)
        .await?;
    let others: Vec<String> = links
        .into_iter()
        .map(|link| {
            if link.provider_id == partner_id {
                link.reseller_id
            } else {
                link.provider_id
            }
        })
        .collect();
    active_partners(txn, others.iter().map(String::as_str)).await
}

fn chunks<T>(mut items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut out = Vec::with_capacity(items.len().div_ceil(size));
    while items.len() > size {
        let rest = items.split_off(size);
        out.push(std::mem::replace(&mut items, rest));
    }
    if !items.is_empty() {
        out.push(items);
    }
    out
}

/// Builds `$n, $n+1, …` for an IN list and pushes the values.
pub(super) fn in_list<'a>(values: &mut Vec<sea_orm::Value>, items: impl Iterator<Item = &'a str>) -> String {
    items.map(|item| param(values, item)).collect::<Vec<_>>().join(", ")
}

/// Pushes a value and returns its `$n`.
pub(super) fn param(values: &mut Vec<sea_orm::Value>, value: impl Into<sea_orm::Value>) -> String {
    values.push(value.into());
    format!("${}", values.len())
}

/// Raw SQL is written with PostgreSQL's `$n` placeholders; SQLite takes the
/// same numbered parameters as `?n`.
pub(super) fn placeholders(backend: DbBackend, sql: &str) -> String {
    match backend {
        DbBackend::Postgres => sql.to_owned(),
        _ => sql.replace('$', "?"),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use sea_orm::EntityTrait;

    use super::*;
    use crate::domain::clock::ManualClock;
    use crate::store::{DEFAULT_PAGE_CACHE_MIB, StoreOptions};

    async fn open_file(file: &std::path::Path) -> Store {
        let options = StoreOptions {
            url: format!("sqlite://{}?mode=rwc", file.display()),
            max_connections: 2,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            sqlite_page_cache_mib: DEFAULT_PAGE_CACHE_MIB,
        };
        Store::open(&options, Arc::new(ManualClock::new(0)))
            .await
            .expect("opened")
    }

    fn key(name: &str) -> RequestKey {
        RequestKey {
            key: name.to_owned(),
            fingerprint: "f".to_owned(),
        }
    }

    /// W4: a write dropped before its commit leaves nothing; a committed
    /// one is read back, by the writer and by the pool's connections.
    #[tokio::test]
    async fn w4_an_abandoned_inline_write_changes_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = open_file(&dir.path().join("w.db")).await;
        assert!(store.inline_writer.is_some(), "a SQLite file store writes inline");

        let tx = store.begin_write("test".into()).await.expect("begun");
        tx.remember(Some(&key("abandoned")), "r1").await.expect("written");
        assert_eq!(
            tx.replayed(Some(&key("abandoned"))).await.expect("read"),
            Some("r1".into())
        );
        drop(tx);

        let mut tx = store.begin_write("test".into()).await.expect("begun again");
        assert_eq!(tx.replayed(Some(&key("abandoned"))).await.expect("read"), None);
        tx.remember(Some(&key("kept")), "r2").await.expect("written");
        tx.commit_without_events = true;
        tx.commit().await.expect("committed");

        let rows = request_record::Entity::find()
            .all(store.connection())
            .await
            .expect("read through the pool");
        let keys: Vec<&str> = rows.iter().map(|row| row.key.as_str()).collect();
        assert_eq!(keys, ["kept"]);
    }

    /// W1: a writer of another connection (a replica) holding the write
    /// lock makes this one wait, without failing, until it commits; this
    /// one then reads what the other committed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn w1_an_inline_write_waits_for_another_connections_lock() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("w.db");
        let (first, second) = (open_file(&file).await, open_file(&file).await);

        let mut held = first.begin_write("first".into()).await.expect("begun");
        held.remember(Some(&key("first")), "r1").await.expect("written");
        held.commit_without_events = true;
        let waiting = tokio::spawn(async move {
            let tx = second
                .begin_write("second".into())
                .await
                .expect("begun after the other");
            tx.replayed(Some(&key("first"))).await.expect("read")
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !waiting.is_finished(),
            "began while another connection held the write lock"
        );
        held.commit().await.expect("committed");
        let seen = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("began once the lock was free")
            .expect("task");
        assert_eq!(seen, Some("r1".into()));
    }
}
