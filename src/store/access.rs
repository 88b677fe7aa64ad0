//! Loads the facts of A1 and implements the in-process seams
//! (`AccessChecker`, `PartnerDirectory`) over the store.
//!
//! CheckAccess is the hot path: the facts of a whole batch of checks are read
//! in one round trip (one UNION ALL statement over indexed lookups), and the
//! decision is made in memory by `domain::access::decide`.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, Statement, Value};

use super::Store;
use super::write::placeholders;
use crate::domain::access::{AccessFacts, AccessQuery, ChainedRelationship, Decision, SubscriptionFacts, decide};
use crate::domain::model::*;
use crate::domain::ports::{AccessChecker, PartnerDirectory};
use crate::domain::{Error, Result};

/// Builds `$n, $n+1, …` for an IN list and pushes the values.
fn in_list(values: &mut Vec<Value>, items: &BTreeSet<&str>) -> String {
    let start = values.len();
    values.extend(items.iter().map(|item| Value::from(item.to_string())));
    (start + 1..=values.len())
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn param(values: &mut Vec<Value>, value: impl Into<Value>) -> String {
    values.push(value.into());
    format!("${}", values.len())
}

/// The facts of many checks in one statement. Rows are tagged by kind:
/// p = partner, r = relationship (with its chain), g = grant, s = subscription.
pub(super) async fn load_facts_batch<C: ConnectionTrait>(db: &C, queries: &[AccessQuery]) -> Result<Vec<AccessFacts>> {
    if queries.is_empty() {
        return Ok(Vec::new());
    }
    let partners: BTreeSet<&str> = queries.iter().map(|q| q.partner_id.as_str()).collect();
    let customers: BTreeSet<&str> = queries.iter().map(|q| q.customer_id.as_str()).collect();
    let subscriptions: BTreeSet<&str> = queries.iter().filter_map(|q| q.subscription_id.as_deref()).collect();

    let mut values = Vec::new();
    let active = RelationshipState::Active.as_str();
    let mut sql = format!(
        "SELECT 'p' AS k, id, CAST(NULL AS TEXT) AS partner_id, CAST(NULL AS TEXT) AS customer_id, \
         status AS t1, CAST(NULL AS TEXT) AS t2, CAST(NULL AS TEXT) AS t3, CAST(NULL AS TEXT) AS t4, \
         CAST(NULL AS TEXT) AS t5, CAST(NULL AS BIGINT) AS n1, CAST(NULL AS BIGINT) AS n2, \
         CAST(0 AS BIGINT) AS f1, CAST(0 AS BIGINT) AS f2 \
         FROM partners WHERE id IN ({})",
        in_list(&mut values, &partners)
    );
    let (rel_partners, rel_customers) = (in_list(&mut values, &partners), in_list(&mut values, &customers));
    let (rel_state, provider_state, link_state) = (
        param(&mut values, active),
        param(&mut values, PartnerStatus::Active.as_str()),
        param(&mut values, LinkState::Active.as_str()),
    );
    sql.push_str(&format!(
        " UNION ALL SELECT 'r', r.id, r.partner_id, r.customer_id, r.kind, r.indirect_provider_id, r.state, \
         r.source, r.relationship_request_id, r.start_time, r.end_time, \
         CASE WHEN EXISTS (SELECT 1 FROM partners pp WHERE pp.id = r.indirect_provider_id AND pp.status = {provider_state}) \
              THEN 1 ELSE 0 END, \
         CASE WHEN EXISTS (SELECT 1 FROM partner_links l WHERE l.provider_id = r.indirect_provider_id \
              AND l.reseller_id = r.partner_id AND l.state = {link_state}) THEN 1 ELSE 0 END \
         FROM relationships r WHERE r.partner_id IN ({rel_partners}) AND r.customer_id IN ({rel_customers}) \
         AND r.state = {rel_state}"
    ));
    let (grant_partners, grant_customers) = (in_list(&mut values, &partners), in_list(&mut values, &customers));
    let grant_state = param(&mut values, GrantState::Active.as_str());
    sql.push_str(&format!(
        " UNION ALL SELECT 'g', g.id, g.partner_id, g.customer_id, g.service, g.scopes, g.state, NULL, NULL, \
         g.start_time, g.end_time, CASE WHEN g.auto_extend THEN 1 ELSE 0 END, 0 \
         FROM delegated_admin_grants g WHERE g.partner_id IN ({grant_partners}) \
         AND g.customer_id IN ({grant_customers}) AND g.state = {grant_state}"
    ));
    if !subscriptions.is_empty() {
        sql.push_str(&format!(
            " UNION ALL SELECT 's', s.id, NULL, s.customer_id, s.service, s.channel, s.partner_of_record_id, \
             s.indirect_provider_id, NULL, NULL, NULL, 0, 0 FROM subscriptions s WHERE s.id IN ({})",
            in_list(&mut values, &subscriptions)
        ));
    }
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            placeholders(backend, &sql),
            values,
        ))
        .await?;

    let mut statuses: HashMap<String, PartnerStatus> = HashMap::new();
    let mut relationships: HashMap<(String, String), Vec<ChainedRelationship>> = HashMap::new();
    let mut grants: HashMap<(String, String), Vec<DelegatedAdminGrant>> = HashMap::new();
    let mut subscription_facts: HashMap<String, SubscriptionFacts> = HashMap::new();
    let parse = |column: &str, text: Option<String>| -> Result<String> {
        text.ok_or_else(|| Error::internal(format!("access facts: {column} is missing")))
    };
    for row in rows {
        let kind: String = row.try_get("", "k")?;
        let id: String = row.try_get("", "id")?;
        let partner_id: Option<String> = row.try_get("", "partner_id")?;
        let customer_id: Option<String> = row.try_get("", "customer_id")?;
        let t = |n: &str| row.try_get::<Option<String>>("", n);
        let n = |n: &str| row.try_get::<Option<i64>>("", n);
        match kind.as_str() {
            "p" => {
                // A status that does not parse denies, as a suspended one would.
                let status = t("t1")?.as_deref().and_then(PartnerStatus::parse);
                statuses.insert(id, status.unwrap_or(PartnerStatus::Suspended));
            }
            "r" => {
                let relationship = Relationship::try_from(super::entity::relationship::Model {
                    id,
                    customer_id: parse("customer_id", customer_id)?,
                    partner_id: parse("partner_id", partner_id)?,
                    kind: parse("kind", t("t1")?)?,
                    indirect_provider_id: t("t2")?,
                    state: parse("state", t("t3")?)?,
                    source: parse("source", t("t4")?)?,
                    relationship_request_id: t("t5")?,
                    start_time: n("n1")?.unwrap_or_default(),
                    end_time: n("n2")?,
                })?;
                let key = (relationship.partner_id.clone(), relationship.customer_id.clone());
                relationships.entry(key).or_default().push(ChainedRelationship {
                    relationship,
                    provider_active: n("f1")? == Some(1),
                    link_active: n("f2")? == Some(1),
                });
            }
            "g" => {
                let grant = DelegatedAdminGrant::try_from(super::entity::grant::Model {
                    id,
                    customer_id: parse("customer_id", customer_id)?,
                    partner_id: parse("partner_id", partner_id)?,
                    service: parse("service", t("t1")?)?,
                    scopes: parse("scopes", t("t2")?)?,
                    state: parse("state", t("t3")?)?,
                    start_time: n("n1")?.unwrap_or_default(),
                    end_time: n("n2")?,
                    auto_extend: n("f1")? == Some(1),
                    relationship_request_id: None,
                })?;
                let key = (grant.partner_id.clone(), grant.customer_id.clone());
                grants.entry(key).or_default().push(grant);
            }
            _ => {
                let service = t("t1")?.as_deref().and_then(Service::parse);
                let channel = t("t2")?.as_deref().and_then(Channel::parse);
                let (Some(service), Some(channel)) = (service, channel) else {
                    return Err(Error::internal(format!(
                        "subscription {id} has an invalid service or channel"
                    )));
                };
                subscription_facts.insert(
                    id.clone(),
                    SubscriptionFacts {
                        id,
                        customer_id: parse("customer_id", customer_id)?,
                        service,
                        channel,
                        partner_of_record_id: t("t3")?,
                        indirect_provider_id: t("t4")?,
                    },
                );
            }
        }
    }
    Ok(queries
        .iter()
        .map(|query| {
            let key = (query.partner_id.clone(), query.customer_id.clone());
            AccessFacts {
                partner_status: statuses.get(&query.partner_id).copied(),
                relationships: relationships.get(&key).cloned().unwrap_or_default(),
                grants: grants.get(&key).cloned().unwrap_or_default(),
                subscription: query
                    .subscription_id
                    .as_ref()
                    .and_then(|id| subscription_facts.get(id).cloned()),
            }
        })
        .collect())
}

/// Decides many checks with one read of the store.
pub(super) async fn decide_batch<C: ConnectionTrait>(
    db: &C,
    queries: &[AccessQuery],
    now: Micros,
) -> Result<Vec<Decision>> {
    let facts = load_facts_batch(db, queries).await?;
    Ok(queries
        .iter()
        .zip(&facts)
        .map(|(query, facts)| decide(query, facts, now))
        .collect())
}

#[async_trait]
impl AccessChecker for Store {
    async fn check(&self, query: &AccessQuery) -> Result<Decision> {
        let mut decisions = self.check_batch(std::slice::from_ref(query)).await?;
        decisions
            .pop()
            .ok_or_else(|| Error::internal("no decision for the check"))
    }

    /// One statement per batch.
    async fn check_batch(&self, queries: &[AccessQuery]) -> Result<Vec<Decision>> {
        decide_batch(&self.db, queries, self.now()).await
    }
}

#[async_trait]
impl PartnerDirectory for Store {
    async fn partner(&self, id: &str) -> Result<Option<Partner>> {
        Store::partner(self, id).await
    }

    async fn active_link(&self, provider_id: &str, reseller_id: &str) -> Result<Option<PartnerLink>> {
        Store::active_link(self, provider_id, reseller_id).await
    }
}
