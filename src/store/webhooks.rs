//! H1-H10: webhook endpoints and their deliveries. The rules are the
//! WebhookService's (`service::webhooks`); this reads and writes the rows,
//! records the endpoints' events (H10), and keeps the delivery bookkeeping
//! (H4), which is no change under E1: no event, no etag.
//!
//! Secrets reach this module sealed and leave it sealed: the store never
//! sees a signing secret in the clear.

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::convert::parse;
use super::entity::{webhook_delivery, webhook_endpoint};
use super::{Store, WriteTx};
use crate::domain::model::{
    DeliveryError, DeliveryMode, DeliveryState, DisabledReason, EndpointState, EventResource, Micros, WebhookDelivery,
    WebhookEndpoint,
};
use crate::domain::paging::PageRequest;
use crate::domain::{Error, Result};

/// An endpoint's signing secrets, sealed: the current one, and the
/// previous one while it still signs (H9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedSecrets {
    pub current: String,
    pub previous: Option<(String, Micros)>,
}

/// Whose endpoints a list shows (H1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndpointOwner {
    All,
    Operator,
    Partner(String),
}

fn owner_column(partner_id: Option<&str>) -> String {
    partner_id.unwrap_or_default().to_owned()
}

impl TryFrom<webhook_endpoint::Model> for WebhookEndpoint {
    type Error = Error;
    fn try_from(row: webhook_endpoint::Model) -> Result<Self> {
        let event_types: Vec<String> = serde_json::from_str(&row.event_types).map_err(|error| {
            Error::internal(format!("webhook endpoint {}: unreadable event types: {error}", row.id))
        })?;
        Ok(WebhookEndpoint {
            partner_id: (!row.owner.is_empty()).then_some(row.owner),
            delivery_mode: parse("delivery mode", &row.delivery_mode, DeliveryMode::parse)?,
            state: parse("endpoint state", &row.state, EndpointState::parse)?,
            disabled_reason: row
                .disabled_reason
                .as_deref()
                .map(|reason| parse("disabled reason", reason, DisabledReason::parse))
                .transpose()?,
            id: row.id,
            url: row.url,
            description: row.description,
            event_types,
            customer_id: row.customer_id,
            max_in_flight: row.max_in_flight,
            cursor_seq: row.cursor_seq,
            previous_secret_expire_time: row.previous_secret_expire_time,
            version: row.version,
            create_time: row.create_time,
            update_time: row.update_time,
            delete_time: None,
        })
    }
}

impl TryFrom<webhook_delivery::Model> for WebhookDelivery {
    type Error = Error;
    fn try_from(row: webhook_delivery::Model) -> Result<Self> {
        Ok(WebhookDelivery {
            state: parse("delivery state", &row.state, DeliveryState::parse)?,
            last_error: row
                .last_error
                .as_deref()
                .map(|error| parse("delivery error", error, DeliveryError::parse))
                .transpose()?,
            endpoint_id: row.endpoint_id,
            seq: row.seq,
            event_type: row.event_type,
            attempt_count: row.attempt_count,
            next_attempt_time: row.next_attempt_time,
            last_attempt_time: row.last_attempt_time,
            last_status_code: row.last_status_code,
        })
    }
}

/// The columns an endpoint's owner changes (H1), and its version.
fn endpoint_changes(e: &WebhookEndpoint) -> Result<webhook_endpoint::ActiveModel> {
    let event_types = serde_json::to_string(&e.event_types)
        .map_err(|error| Error::internal(format!("webhook endpoint encoding failed: {error}")))?;
    Ok(webhook_endpoint::ActiveModel {
        id: Set(e.id.clone()),
        url: Set(e.url.clone()),
        description: Set(e.description.clone()),
        event_types: Set(event_types),
        customer_id: Set(e.customer_id.clone()),
        delivery_mode: Set(e.delivery_mode.as_str().to_owned()),
        max_in_flight: Set(e.max_in_flight),
        state: Set(e.state.as_str().to_owned()),
        disabled_reason: Set(e.disabled_reason.map(|reason| reason.as_str().to_owned())),
        version: Set(e.version),
        update_time: Set(e.update_time),
        ..Default::default()
    })
}

async fn find_endpoint<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<WebhookEndpoint>> {
    webhook_endpoint::Entity::find_by_id(id.to_owned())
        .one(db)
        .await?
        .map(WebhookEndpoint::try_from)
        .transpose()
}

async fn find_secrets<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<SealedSecrets>> {
    let row = webhook_endpoint::Entity::find_by_id(id.to_owned()).one(db).await?;
    Ok(row.map(|row| SealedSecrets {
        current: row.secret,
        previous: row.previous_secret.zip(row.previous_secret_expire_time),
    }))
}

impl Store {
    pub async fn webhook_endpoint(&self, id: &str) -> Result<Option<WebhookEndpoint>> {
        find_endpoint(&self.db, id).await
    }

    /// H5: an endpoint's sealed secrets, for signing.
    pub async fn webhook_secrets(&self, id: &str) -> Result<Option<SealedSecrets>> {
        find_secrets(&self.db, id).await
    }

    /// H1: a page of endpoints in id order.
    pub async fn list_webhook_endpoints(
        &self,
        owner: &EndpointOwner,
        page: &PageRequest,
    ) -> Result<Vec<WebhookEndpoint>> {
        use webhook_endpoint::Column;
        let mut query = webhook_endpoint::Entity::find();
        match owner {
            EndpointOwner::All => {}
            EndpointOwner::Operator => query = query.filter(Column::Owner.eq("")),
            EndpointOwner::Partner(id) => query = query.filter(Column::Owner.eq(id.as_str())),
        }
        if let Some(after) = &page.after {
            query = query.filter(Column::Id.gt(after.as_str()));
        }
        let rows = query
            .order_by_asc(Column::Id)
            .limit(page.fetch_limit())
            .all(&self.db)
            .await?;
        rows.into_iter().map(WebhookEndpoint::try_from).collect()
    }

    /// H10: a page of an endpoint's deliveries in seq order (the page
    /// token's key is the seq).
    pub async fn list_webhook_deliveries(
        &self,
        endpoint_id: &str,
        state: Option<DeliveryState>,
        page: &PageRequest,
    ) -> Result<Vec<WebhookDelivery>> {
        use webhook_delivery::Column;
        let mut query = webhook_delivery::Entity::find().filter(Column::EndpointId.eq(endpoint_id));
        if let Some(state) = state {
            query = query.filter(Column::State.eq(state.as_str()));
        }
        if let Some(after) = &page.after {
            let after: i64 = after
                .parse()
                .map_err(|_| Error::internal("a delivery page token holds no seq"))?;
            query = query.filter(Column::Seq.gt(after));
        }
        let rows = query
            .order_by_asc(Column::Seq)
            .limit(page.fetch_limit())
            .all(&self.db)
            .await?;
        rows.into_iter().map(WebhookDelivery::try_from).collect()
    }
}

impl WriteTx {
    pub async fn webhook_endpoint(&self, id: &str) -> Result<Option<WebhookEndpoint>> {
        find_endpoint(self.conn(), id).await
    }

    pub async fn webhook_secrets(&self, id: &str) -> Result<Option<SealedSecrets>> {
        find_secrets(self.conn(), id).await
    }

    /// H1, W1: how many endpoints the owner keeps, read inside the write.
    pub async fn webhook_endpoints_of(&self, partner_id: Option<&str>) -> Result<u64> {
        Ok(webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::Owner.eq(owner_column(partner_id)))
            .count(self.conn())
            .await?)
    }

    /// H1, H10: a new endpoint with its sealed secret.
    pub async fn insert_webhook_endpoint(&mut self, endpoint: &WebhookEndpoint, sealed_secret: &str) -> Result<()> {
        let mut row = endpoint_changes(endpoint)?;
        row.owner = Set(owner_column(endpoint.partner_id.as_deref()));
        row.cursor_seq = Set(endpoint.cursor_seq);
        row.scanned_seq = Set(endpoint.cursor_seq);
        row.secret = Set(sealed_secret.to_owned());
        row.previous_secret = Set(None);
        row.previous_secret_expire_time = Set(None);
        row.failing_since = Set(None);
        row.held_since = Set(None);
        row.create_time = Set(endpoint.create_time);
        webhook_endpoint::Entity::insert(row).exec(self.conn()).await?;
        self.record(
            "webhook_endpoint.created",
            EventResource::WebhookEndpoint(endpoint.clone()),
        );
        Ok(())
    }

    /// H1, H7, H10: the endpoint as changed by its owner or the dispatcher;
    /// its version and update time move. An endpoint set ACTIVE again
    /// starts a new run of attempts (H7).
    pub async fn update_webhook_endpoint(
        &mut self,
        mut endpoint: WebhookEndpoint,
        event_type: &'static str,
    ) -> Result<WebhookEndpoint> {
        endpoint.version += 1;
        endpoint.update_time = self.now();
        let mut row = endpoint_changes(&endpoint)?;
        if endpoint.state != EndpointState::Disabled {
            row.failing_since = Set(None);
        }
        webhook_endpoint::Entity::update(row).exec(self.conn()).await?;
        self.record(event_type, EventResource::WebhookEndpoint(endpoint.clone()));
        Ok(endpoint)
    }

    /// H9: a new sealed secret; the previous one signs until `until` (None:
    /// it stops now, and so does any older one).
    pub async fn rotate_webhook_secret(
        &mut self,
        mut endpoint: WebhookEndpoint,
        sealed_secret: &str,
        previous: Option<(String, Micros)>,
    ) -> Result<WebhookEndpoint> {
        endpoint.version += 1;
        endpoint.update_time = self.now();
        endpoint.previous_secret_expire_time = previous.as_ref().map(|(_, until)| *until);
        let (previous_secret, until) = previous.unzip();
        webhook_endpoint::Entity::update(webhook_endpoint::ActiveModel {
            id: Set(endpoint.id.clone()),
            secret: Set(sealed_secret.to_owned()),
            previous_secret: Set(previous_secret),
            previous_secret_expire_time: Set(until),
            version: Set(endpoint.version),
            update_time: Set(endpoint.update_time),
            ..Default::default()
        })
        .exec(self.conn())
        .await?;
        self.record(
            "webhook_endpoint.secret_rotated",
            EventResource::WebhookEndpoint(endpoint.clone()),
        );
        Ok(endpoint)
    }

    /// H10: the endpoint and its deliveries are gone; the event carries it
    /// as it was, with its delete_time.
    pub async fn delete_webhook_endpoint(&mut self, mut endpoint: WebhookEndpoint) -> Result<WebhookEndpoint> {
        webhook_delivery::Entity::delete_many()
            .filter(webhook_delivery::Column::EndpointId.eq(endpoint.id.as_str()))
            .exec(self.conn())
            .await?;
        webhook_endpoint::Entity::delete_by_id(endpoint.id.clone())
            .exec(self.conn())
            .await?;
        endpoint.delete_time = Some(self.now());
        self.record(
            "webhook_endpoint.deleted",
            EventResource::WebhookEndpoint(endpoint.clone()),
        );
        Ok(endpoint)
    }

    /// H8: the deliveries above `after_seq` (only the FAILED ones, or all)
    /// are PENDING again, due now, with no attempts; bookkeeping, so no
    /// event and no etag. Returns how many.
    pub async fn replay_webhook_deliveries(
        &mut self,
        endpoint_id: &str,
        after_seq: i64,
        only_failed: bool,
    ) -> Result<u64> {
        use webhook_delivery::Column;
        let mut update = webhook_delivery::Entity::update_many()
            .col_expr(Column::State, Expr::value(DeliveryState::Pending.as_str()))
            .col_expr(Column::AttemptCount, Expr::value(0))
            .col_expr(Column::NextAttemptTime, Expr::value(self.now()))
            .col_expr(Column::LeaseUntil, Expr::value(Option::<i64>::None))
            .col_expr(Column::LeaseToken, Expr::value(Option::<String>::None))
            .filter(Column::EndpointId.eq(endpoint_id))
            .filter(Column::Seq.gt(after_seq));
        if only_failed {
            update = update.filter(Column::State.eq(DeliveryState::Failed.as_str()));
        }
        let result = update.exec(self.conn()).await?;
        // Nothing else changes: commit the rows all the same.
        self.commit_without_events = true;
        Ok(result.rows_affected)
    }
}

impl WriteTx {
    /// H7: an ORDERED endpoint disabled by its FAILED head gets that head
    /// PENDING again, due now, when its owner sets it ACTIVE.
    pub async fn requeue_failed_head(&mut self, endpoint_id: &str) -> Result<()> {
        use webhook_delivery::Column;
        let head = webhook_delivery::Entity::find()
            .filter(Column::EndpointId.eq(endpoint_id))
            .filter(Column::State.ne(DeliveryState::Delivered.as_str()))
            .order_by_asc(Column::Seq)
            .one(self.conn())
            .await?;
        if let Some(head) = head.filter(|row| row.state == DeliveryState::Failed.as_str()) {
            webhook_delivery::Entity::update_many()
                .col_expr(Column::State, Expr::value(DeliveryState::Pending.as_str()))
                .col_expr(Column::AttemptCount, Expr::value(0))
                .col_expr(Column::NextAttemptTime, Expr::value(self.now()))
                .filter(Column::EndpointId.eq(endpoint_id))
                .filter(Column::Seq.eq(head.seq))
                .exec(self.conn())
                .await?;
        }
        Ok(())
    }
}
