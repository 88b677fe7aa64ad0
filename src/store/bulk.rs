//! Bulk writes for seeding: many rows per INSERT statement, inside an
//! ordinary `WriteTx`, so that every row still gets its event appended by
//! `WriteTx::commit` (E1) exactly as a single write would.

use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, Iterable, Statement};

use super::convert::{customer_row, grant_row, relationship_row, subscription_row};
use super::entity::invitation_acceptance;
use super::{Store, WriteTx};
use crate::domain::Result;
use crate::domain::model::{Customer, DelegatedAdminGrant, EventResource, Relationship, Subscription};

/// Bind parameters per statement: under SQLite's 32766 and PostgreSQL's
/// 65535.
const MAX_PARAMETERS: usize = 30_000;

/// One customer and everything written with it, in the order its events are
/// appended: the customer, its relationships, its grants, its subscriptions.
#[derive(Clone, Debug)]
pub struct CustomerBundle {
    pub customer: Customer,
    pub relationships: Vec<Relationship>,
    pub grants: Vec<DelegatedAdminGrant>,
    pub subscriptions: Vec<Subscription>,
    /// I6: invitations this customer accepted (no event of their own: the
    /// acceptance's relationships and grants carry the events).
    pub acceptances: Vec<BulkAcceptance>,
}

/// An `invitation_acceptances` row: what accepting one invitation produced.
#[derive(Clone, Debug)]
pub struct BulkAcceptance {
    pub relationship_request_id: String,
    pub relationship_ids: Vec<String>,
    pub grant_ids: Vec<String>,
}

/// Rows written by `insert_customer_bundles`, by table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BulkCounts {
    pub customers: u64,
    pub relationships: u64,
    pub grants: u64,
    pub subscriptions: u64,
    pub acceptances: u64,
    /// Events recorded (appended at commit).
    pub events: u64,
}

impl BulkCounts {
    pub fn add(&mut self, other: BulkCounts) {
        self.customers += other.customers;
        self.relationships += other.relationships;
        self.grants += other.grants;
        self.subscriptions += other.subscriptions;
        self.acceptances += other.acceptances;
        self.events += other.events;
    }

    /// Rows of resource tables (events and their audience not included).
    pub fn rows(&self) -> u64 {
        self.customers + self.relationships + self.grants + self.subscriptions + self.acceptances
    }
}

/// Inserts rows with as few statements as the bind-parameter limit allows.
async fn insert_rows<A>(tx: &WriteTx, rows: Vec<A>) -> Result<u64>
where
    A: ActiveModelTrait,
{
    let columns = <<A::Entity as EntityTrait>::Column as Iterable>::iter().count().max(1);
    let per_statement = (MAX_PARAMETERS / columns).max(1);
    let total = rows.len() as u64;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(per_statement).collect();
        A::Entity::insert_many(chunk).exec_without_returning(tx.conn()).await?;
    }
    Ok(total)
}

/// The last event seq handed out (the event counter row).
pub async fn event_counter(store: &Store) -> std::result::Result<i64, DbErr> {
    let db = store.connection();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT value FROM event_counter WHERE id = 1",
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the event counter row is missing".into()))?;
    row.try_get_by_index::<i64>(0)
}

/// Planner statistics after a bulk load. On SQLite, sampled
/// (analysis_limit): a full ANALYZE of a million customers reads every
/// index (about a minute), and the samples give the planner the same
/// choices.
pub async fn analyze(store: &Store) -> std::result::Result<(), DbErr> {
    let db = store.connection();
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA analysis_limit = 1000").await?;
    }
    db.execute_unprepared("ANALYZE").await?;
    Ok(())
}

/// Event audience rows of the events after `after_seq`.
pub async fn audience_rows_after(store: &Store, after_seq: i64) -> std::result::Result<u64, DbErr> {
    let db = store.connection();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT COUNT(*) FROM event_audience WHERE seq > {after_seq}"),
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("COUNT returned no row".into()))?;
    Ok(row.try_get_by_index::<i64>(0)?.max(0) as u64)
}

impl WriteTx {
    /// Writes many customers with their relationships, grants, subscriptions
    /// and invitation acceptances: one multi-row INSERT per table and chunk,
    /// then one recorded event per row, customer by customer in the order of
    /// a normal write (C1: customer, relationships, grants; then
    /// subscriptions). The caller is responsible for the rules (C1, D2, S1,
    /// S2, I6); this only writes.
    pub async fn insert_customer_bundles(&mut self, bundles: Vec<CustomerBundle>) -> Result<BulkCounts> {
        let now = self.now();
        let customers = insert_rows(self, bundles.iter().map(|b| customer_row(&b.customer)).collect()).await?;
        let relationships = insert_rows(
            self,
            bundles
                .iter()
                .flat_map(|b| b.relationships.iter().map(relationship_row))
                .collect(),
        )
        .await?;
        let grants = insert_rows(
            self,
            bundles
                .iter()
                .flat_map(|b| b.grants.iter().map(|g| grant_row(g, None)))
                .collect(),
        )
        .await?;
        let subscriptions = insert_rows(
            self,
            bundles
                .iter()
                .flat_map(|b| b.subscriptions.iter().map(subscription_row))
                .collect(),
        )
        .await?;
        let acceptances = insert_rows(
            self,
            bundles
                .iter()
                .flat_map(|b| {
                    b.acceptances.iter().map(|a| invitation_acceptance::ActiveModel {
                        relationship_request_id: Set(a.relationship_request_id.clone()),
                        customer_id: Set(b.customer.id.clone()),
                        accept_time: Set(now),
                        relationship_ids: Set(a.relationship_ids.join(",")),
                        grant_ids: Set(a.grant_ids.join(",")),
                    })
                })
                .collect(),
        )
        .await?;
        for bundle in bundles {
            let CustomerBundle {
                customer,
                relationships,
                grants,
                subscriptions,
                acceptances: _,
            } = bundle;
            self.record("customer.created", EventResource::Customer(customer));
            for relationship in relationships {
                self.record("relationship.created", EventResource::Relationship(relationship));
            }
            for grant in grants {
                self.record("grant.created", EventResource::DelegatedAdminGrant(grant));
            }
            for subscription in subscriptions {
                self.record("subscription.created", EventResource::Subscription(subscription));
            }
        }
        Ok(BulkCounts {
            customers,
            relationships,
            grants,
            subscriptions,
            acceptances,
            events: customers + relationships + grants + subscriptions,
        })
    }
}
