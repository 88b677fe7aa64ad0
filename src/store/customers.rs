//! Customers, subscriptions, and the relationship and grant rows written
//! with them.

use sea_orm::sea_query::{Expr, LikeExpr, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::access::{dap_handed_over_sql, grant_in_force, grant_in_force_sql, handed_over_sql};
use super::convert::{all, customer_row, grant_row, relationship_row, subscription_row};
use super::entity::{customer, grant, relationship, subscription};
use super::{Store, WriteTx};
use crate::domain::Result;
use crate::domain::model::{
    Customer, DelegatedAdminGrant, EventResource, GrantState, Micros, Relationship, RelationshipKind,
    RelationshipState, Service, Subscription, SubscriptionStatus,
};
use crate::domain::paging::PageRequest;

#[derive(Clone, Debug, Default)]
pub struct CustomerFilter {
    /// Lower case.
    pub company_name_prefix: Option<String>,
    /// Lower case.
    pub domain_prefix: Option<String>,
    pub indirect_reseller_id: Option<String>,
    /// C6: only the customers this partner may VIEW (A1).
    pub visible_to_partner: Option<String>,
    /// C5: a customer admin's own tenant.
    pub only_id: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct SubscriptionFilter {
    pub customer_id: String,
    pub service: Option<Service>,
    pub status: Option<SubscriptionStatus>,
}

/// `LIKE 'prefix%'` with the prefix's own wildcards escaped.
fn starts_with(prefix: &str) -> LikeExpr {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    LikeExpr::new(pattern).escape('\\')
}

/// The customers of the partner's ACTIVE relationships, but the chains past
/// their L5 handover.
fn active_relationship_customers(partner_id: &str, now: Micros) -> SelectStatement {
    Query::select()
        .column(relationship::Column::CustomerId)
        .from(relationship::Entity)
        .and_where(relationship::Column::PartnerId.eq(partner_id))
        .and_where(relationship::Column::State.eq(RelationshipState::Active.as_str()))
        .and_where(Expr::cust(format!("NOT {}", handed_over_sql("relationships", now))))
        .to_owned()
}

/// C6 = A1 VIEW in SQL: an ACTIVE relationship or a grant in force.
fn viewable_by(partner_id: &str, now: Micros) -> Condition {
    customer_viewable_by(customer::Column::Id, partner_id, now)
}

/// A1 VIEW in SQL on any column that holds a customer id: the customers
/// where the partner has an ACTIVE relationship or a grant in force.
pub(super) fn customer_viewable_by(column: impl ColumnTrait, partner_id: &str, now: Micros) -> Condition {
    let granted = Query::select()
        .column(grant::Column::CustomerId)
        .from(grant::Entity)
        .and_where(grant::Column::PartnerId.eq(partner_id))
        .cond_where(grant_in_force(now))
        .and_where(Expr::cust(format!(
            "NOT {}",
            dap_handed_over_sql(
                "delegated_admin_grants.partner_id",
                "delegated_admin_grants.customer_id",
                now
            )
        )))
        .to_owned();
    Condition::any()
        .add(column.in_subquery(active_relationship_customers(partner_id, now)))
        .add(column.in_subquery(granted))
}

pub(super) async fn find_customer<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<Customer>> {
    customer::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .map(Customer::try_from)
        .transpose()
}

pub(super) async fn find_subscription<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<Subscription>> {
    subscription::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .map(Subscription::try_from)
        .transpose()
}

impl Store {
    pub async fn customer(&self, id: &str) -> Result<Option<Customer>> {
        find_customer(&self.db, id).await
    }

    pub async fn subscription(&self, id: &str) -> Result<Option<Subscription>> {
        find_subscription(&self.db, id).await
    }

    /// C3, C7: a customer has this (canonical, lower-case) domain.
    pub async fn domain_taken(&self, domain: &str) -> Result<bool> {
        let taken = customer::Entity::find()
            .filter(customer::Column::Domain.eq(domain))
            .count(&self.db)
            .await?;
        Ok(taken > 0)
    }

    pub async fn list_customers(&self, filter: &CustomerFilter, page: &PageRequest) -> Result<Vec<Customer>> {
        // The common case, a partner paging through its own customers, walks
        // the partner's index entries from the page's key: each page costs
        // the same whatever the partner's size.
        if let Some(partner_id) = &filter.visible_to_partner
            && filter.company_name_prefix.is_none()
            && filter.domain_prefix.is_none()
            && filter.indirect_reseller_id.is_none()
            && filter.only_id.is_none()
        {
            let ids = self.visible_customer_ids(partner_id, page).await?;
            let rows = customer::Entity::find()
                .filter(customer::Column::Id.is_in(ids))
                .order_by_asc(customer::Column::Id)
                .all(&self.db)
                .await?;
            return all(rows);
        }
        let mut query = customer::Entity::find();
        if let Some(prefix) = &filter.company_name_prefix {
            query = query.filter(customer::Column::CompanyNameFolded.like(starts_with(prefix)));
        }
        if let Some(prefix) = &filter.domain_prefix {
            query = query.filter(customer::Column::Domain.like(starts_with(prefix)));
        }
        if let Some(reseller_id) = &filter.indirect_reseller_id {
            let served = active_relationship_customers(reseller_id, self.now())
                .and_where(relationship::Column::Kind.eq(RelationshipKind::IndirectReseller.as_str()))
                .to_owned();
            query = query.filter(customer::Column::Id.in_subquery(served));
        }
        if let Some(partner_id) = &filter.visible_to_partner {
            query = query.filter(viewable_by(partner_id, self.now()));
        }
        if let Some(id) = &filter.only_id {
            query = query.filter(customer::Column::Id.eq(id.as_str()));
        }
        if let Some(after) = &page.after {
            query = query.filter(customer::Column::Id.gt(after.as_str()));
        }
        let rows = query
            .order_by_asc(customer::Column::Id)
            .limit(page.fetch_limit())
            .all(&self.db)
            .await?;
        all(rows)
    }

    pub async fn list_subscriptions(
        &self,
        filter: &SubscriptionFilter,
        page: &PageRequest,
    ) -> Result<Vec<Subscription>> {
        let mut query =
            subscription::Entity::find().filter(subscription::Column::CustomerId.eq(filter.customer_id.as_str()));
        if let Some(service) = filter.service {
            query = query.filter(subscription::Column::Service.eq(service.as_str()));
        }
        if let Some(status) = filter.status {
            query = query.filter(subscription::Column::Status.eq(status.as_str()));
        }
        if let Some(after) = &page.after {
            query = query.filter(subscription::Column::Id.gt(after.as_str()));
        }
        let rows = query
            .order_by_asc(subscription::Column::Id)
            .limit(page.fetch_limit())
            .all(&self.db)
            .await?;
        all(rows)
    }
}

/// C6 keyset page of the customers a partner may VIEW: the next ids of its
/// ACTIVE relationships and of its grants in force, each branch bounded by
/// the page size and read in index order.
fn visible_customer_ids_sql(now: Micros) -> String {
    format!(
        "SELECT customer_id FROM ( \
    SELECT customer_id FROM (SELECT DISTINCT customer_id FROM relationships rel \
        WHERE partner_id = $1 AND state = $2 AND customer_id > $3 AND NOT {handed_over} \
        ORDER BY customer_id LIMIT $4) r \
    UNION \
    SELECT customer_id FROM (SELECT DISTINCT customer_id FROM delegated_admin_grants dag \
        WHERE partner_id = $5 AND customer_id > $6 AND {in_force} AND NOT {dap_handed_over} \
        ORDER BY customer_id LIMIT $10) g \
    ) visible ORDER BY customer_id LIMIT $11",
        in_force = grant_in_force_sql("$7", "$8", "$9"),
        handed_over = handed_over_sql("rel", now),
        dap_handed_over = dap_handed_over_sql("dag.partner_id", "dag.customer_id", now),
    )
}

impl Store {
    async fn visible_customer_ids(&self, partner_id: &str, page: &PageRequest) -> Result<Vec<String>> {
        let backend = self.db.get_database_backend();
        let after = page.after.clone().unwrap_or_default();
        let limit = page.fetch_limit() as i64;
        let values: Vec<sea_orm::Value> = vec![
            partner_id.into(),
            RelationshipState::Active.as_str().into(),
            after.clone().into(),
            limit.into(),
            partner_id.into(),
            after.into(),
            GrantState::Active.as_str().into(),
            self.now().into(),
            true.into(),
            limit.into(),
            limit.into(),
        ];
        let rows = self
            .db
            .query_all_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                super::write::placeholders(backend, &visible_customer_ids_sql(self.now())),
                values,
            ))
            .await?;
        rows.iter().map(|row| Ok(row.try_get_by_index::<String>(0)?)).collect()
    }
}

impl WriteTx {
    pub async fn customer(&self, id: &str) -> Result<Option<Customer>> {
        find_customer(self.conn(), id).await
    }

    pub async fn customer_by_domain(&self, domain: &str) -> Result<Option<Customer>> {
        customer::Entity::find()
            .filter(customer::Column::Domain.eq(domain))
            .one(self.conn())
            .await?
            .map(Customer::try_from)
            .transpose()
    }

    pub async fn insert_customer(&mut self, customer: &Customer) -> Result<()> {
        customer::Entity::insert(customer_row(customer))
            .exec(self.conn())
            .await?;
        self.record("customer.created", EventResource::Customer(customer.clone()));
        Ok(())
    }

    pub async fn update_customer(&mut self, mut customer: Customer) -> Result<Customer> {
        customer.version += 1;
        customer.update_time = self.now();
        customer::Entity::update(customer_row(&customer))
            .exec(self.conn())
            .await?;
        self.record("customer.updated", EventResource::Customer(customer.clone()));
        Ok(customer)
    }

    pub async fn subscription(&self, id: &str) -> Result<Option<Subscription>> {
        find_subscription(self.conn(), id).await
    }

    pub async fn insert_subscription(&mut self, subscription: &Subscription) -> Result<()> {
        subscription::Entity::insert(subscription_row(subscription))
            .exec(self.conn())
            .await?;
        self.record(
            "subscription.created",
            EventResource::Subscription(subscription.clone()),
        );
        Ok(())
    }

    pub async fn update_subscription(&mut self, mut subscription: Subscription) -> Result<Subscription> {
        subscription.version += 1;
        subscription.update_time = self.now();
        subscription::Entity::update(subscription_row(&subscription))
            .exec(self.conn())
            .await?;
        self.record(
            "subscription.updated",
            EventResource::Subscription(subscription.clone()),
        );
        Ok(subscription)
    }

    /// The partner's ACTIVE relationships of one kind with the customer.
    pub async fn active_relationships(
        &self,
        customer_id: &str,
        partner_id: &str,
        kind: RelationshipKind,
    ) -> Result<Vec<Relationship>> {
        let rows = relationship::Entity::find()
            .filter(relationship::Column::CustomerId.eq(customer_id))
            .filter(relationship::Column::PartnerId.eq(partner_id))
            .filter(relationship::Column::Kind.eq(kind.as_str()))
            .filter(relationship::Column::State.eq(RelationshipState::Active.as_str()))
            .all(self.conn())
            .await?;
        all(rows)
    }

    pub async fn insert_relationship(&mut self, relationship: &Relationship) -> Result<()> {
        relationship::Entity::insert(relationship_row(relationship))
            .exec(self.conn())
            .await?;
        self.record(
            "relationship.created",
            EventResource::Relationship(relationship.clone()),
        );
        Ok(())
    }

    pub async fn insert_grant(
        &mut self,
        grant: &DelegatedAdminGrant,
        relationship_request_id: Option<String>,
    ) -> Result<()> {
        grant::Entity::insert(grant_row(grant, relationship_request_id))
            .exec(self.conn())
            .await?;
        self.record("grant.created", EventResource::DelegatedAdminGrant(grant.clone()));
        Ok(())
    }
}
