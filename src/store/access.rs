//! Loads the facts of A1 and implements the in-process `AccessChecker`
//! over the store.
//!
//! CheckAccess is the hot path: the facts of a whole batch of checks are read
//! in one round trip (one UNION ALL statement over indexed lookups), and the
//! decision is made in memory by `domain::access::decide`.

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbBackend, Statement};

use super::Store;
use super::write::{in_list, param, placeholders};
use crate::domain::access::{AccessFacts, AccessQuery, ChainedRelationship, Decision, SubscriptionFacts, decide};
use crate::domain::model::*;
use crate::domain::ports::AccessChecker;
use crate::domain::{Error, Result};

/// D4 in SQL: the grants in force at `now`, the one SQL form of
/// `DelegatedAdminGrant::in_force` (ACTIVE, and no end, an end after `now`,
/// or auto-extending), for statements that must filter on it (C6's
/// customer lists). The test below checks that the three agree.
pub fn grant_in_force(now: Micros) -> Condition {
    use super::entity::grant::Column;
    Condition::all().add(Column::State.eq(GrantState::Active.as_str())).add(
        Condition::any()
            .add(Column::EndTime.is_null())
            .add(Column::EndTime.gt(now))
            .add(Column::AutoExtend.eq(true)),
    )
}

/// D4 in hand-written SQL over `delegated_admin_grants`: the same predicate
/// as `grant_in_force`, given the placeholders that bind ACTIVE's name,
/// `now` and `true`, in that order.
pub fn grant_in_force_sql(active: &str, now: &str, yes: &str) -> String {
    format!("state = {active} AND (end_time IS NULL OR end_time > {now} OR auto_extend = {yes})")
}

/// L5 in SQL: the relationship row `r` (a table name or alias) is an
/// INDIRECT_RESELLER chain past the handover of its pair's revoked link at
/// `now`: no ACTIVE or SUSPENDED link of the pair, and its last REVOKED one
/// revoked at least 30 days ago. States and times are the service's own
/// values, written into the text.
pub fn handed_over_sql(r: &str, now: Micros) -> String {
    let cutoff = now - crate::domain::rules::LINK_HANDOVER;
    let pair = format!("l.provider_id = {r}.indirect_provider_id AND l.reseller_id = {r}.partner_id");
    format!(
        "({r}.kind = '{indirect}' \
         AND NOT EXISTS (SELECT 1 FROM partner_links l WHERE {pair} AND l.state IN ('{active}', '{suspended}')) \
         AND EXISTS (SELECT 1 FROM partner_links l WHERE {pair} AND l.state = '{revoked}' AND l.update_time <= {cutoff}) \
         AND NOT EXISTS (SELECT 1 FROM partner_links l WHERE {pair} AND l.state = '{revoked}' AND l.update_time > {cutoff}))",
        indirect = RelationshipKind::IndirectReseller.as_str(),
        active = LinkState::Active.as_str(),
        suspended = LinkState::Suspended.as_str(),
        revoked = LinkState::Revoked.as_str(),
    )
}

/// L5 in SQL: the DAP of `partner` on `customer` (columns) ended with its
/// chains: an ACTIVE relationship of the pair is handed over and none of
/// its own still stands (as `decide` reads it).
pub fn dap_handed_over_sql(partner: &str, customer: &str, now: Micros) -> String {
    let mine = format!(
        "r.partner_id = {partner} AND r.customer_id = {customer} AND r.state = '{}'",
        RelationshipState::Active.as_str()
    );
    let handed = handed_over_sql("r", now);
    format!(
        "(EXISTS (SELECT 1 FROM relationships r WHERE {mine} AND {handed}) \
         AND NOT EXISTS (SELECT 1 FROM relationships r WHERE {mine} AND NOT {handed}))"
    )
}

/// The columns of a fact row, in the order of `FactRow`.
const FACT_COLUMNS: &str = "k, id, partner_id, customer_id, t1, t2, t3, t4, t5, n1, n2, f1, f2, n3";

/// One row of the facts statement: kind, id, partner, customer, five texts,
/// two numbers (times), two flags and a third time; what each means depends
/// on the kind.
type FactRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    i64,
    i64,
    Option<i64>,
);

/// The facts of many checks in one statement. Rows are tagged by kind:
/// p = partner, r = relationship (with its chain), g = grant, s = subscription.
pub(super) async fn load_facts_batch<C: ConnectionTrait>(db: &C, queries: &[AccessQuery]) -> Result<Vec<AccessFacts>> {
    if queries.is_empty() {
        return Ok(Vec::new());
    }
    let partners: BTreeSet<&str> = queries.iter().map(|q| q.partner_id.as_str()).collect();
    let pairs: BTreeSet<(&str, &str)> = queries
        .iter()
        .map(|q| (q.partner_id.as_str(), q.customer_id.as_str()))
        .collect();
    let subscriptions: BTreeSet<&str> = queries.iter().filter_map(|q| q.subscription_id.as_deref()).collect();

    let mut values = Vec::new();
    // The (partner, customer) pairs asked about, joined to the
    // (partner_id, customer_id, state) indexes: one lookup per pair, where
    // two IN lists would read their cross product. CROSS JOIN keeps SQLite
    // from putting the table in the outer loop (it cannot size the VALUES).
    let asked = pairs
        .iter()
        .map(|(partner_id, customer_id)| {
            let partner = param(&mut values, *partner_id);
            let customer = param(&mut values, *customer_id);
            format!("({partner}, {customer})")
        })
        .collect::<Vec<_>>()
        .join(", ");
    let active = RelationshipState::Active.as_str();
    let mut sql = format!(
        "WITH asked (partner_id, customer_id) AS (VALUES {asked}) \
         SELECT 'p' AS k, id, CAST(NULL AS TEXT) AS partner_id, CAST(NULL AS TEXT) AS customer_id, \
         status AS t1, CAST(NULL AS TEXT) AS t2, CAST(NULL AS TEXT) AS t3, CAST(NULL AS TEXT) AS t4, \
         CAST(NULL AS TEXT) AS t5, CAST(NULL AS BIGINT) AS n1, CAST(NULL AS BIGINT) AS n2, \
         CAST(0 AS BIGINT) AS f1, CAST(0 AS BIGINT) AS f2, CAST(NULL AS BIGINT) AS n3 \
         FROM partners WHERE id IN ({})",
        in_list(&mut values, partners.iter().copied())
    );
    let (rel_state, provider_state, link_state, suspended, revoked) = (
        param(&mut values, active),
        param(&mut values, PartnerStatus::Active.as_str()),
        param(&mut values, LinkState::Active.as_str()),
        param(&mut values, LinkState::Suspended.as_str()),
        param(&mut values, LinkState::Revoked.as_str()),
    );
    sql.push_str(&format!(
        " UNION ALL SELECT 'r', r.id, r.partner_id, r.customer_id, r.kind, r.indirect_provider_id, r.state, \
         r.source, r.relationship_request_id, r.start_time, r.end_time, \
         CASE WHEN EXISTS (SELECT 1 FROM partners pp WHERE pp.id = r.indirect_provider_id AND pp.status = {provider_state}) \
              THEN 1 ELSE 0 END, \
         CASE WHEN EXISTS (SELECT 1 FROM partner_links l WHERE l.provider_id = r.indirect_provider_id \
              AND l.reseller_id = r.partner_id AND l.state = {link_state}) THEN 1 ELSE 0 END, \
         CASE WHEN r.indirect_provider_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM partner_links l \
              WHERE l.provider_id = r.indirect_provider_id AND l.reseller_id = r.partner_id \
              AND l.state IN ({link_state}, {suspended})) \
              THEN (SELECT MAX(l.update_time) FROM partner_links l WHERE l.provider_id = r.indirect_provider_id \
              AND l.reseller_id = r.partner_id AND l.state = {revoked}) END \
         FROM asked a CROSS JOIN relationships r WHERE r.partner_id = a.partner_id AND r.customer_id = a.customer_id \
         AND r.state = {rel_state}"
    ));
    let grant_state = param(&mut values, GrantState::Active.as_str());
    sql.push_str(&format!(
        " UNION ALL SELECT 'g', g.id, g.partner_id, g.customer_id, g.service, g.scopes, g.state, g.roles, NULL, \
         g.start_time, g.end_time, CASE WHEN g.auto_extend THEN 1 ELSE 0 END, 0, NULL \
         FROM asked a CROSS JOIN delegated_admin_grants g WHERE g.partner_id = a.partner_id \
         AND g.customer_id = a.customer_id AND g.state = {grant_state}"
    ));
    // R7: assignments, and their groups' members, only for checks naming
    // a user.
    if queries.iter().any(|q| q.user_id.is_some()) {
        let assignment_state = param(&mut values, AssignmentState::Active.as_str());
        sql.push_str(&format!(
            " UNION ALL SELECT 'a', x.id, x.partner_id, x.customer_id, x.grant_id, x.user_id, x.security_group_id, \
             x.roles, sg.member_user_ids, NULL, NULL, 0, 0, NULL \
             FROM asked a CROSS JOIN access_assignments x \
             LEFT JOIN security_groups sg ON sg.id = x.security_group_id AND sg.partner_id = x.partner_id \
             WHERE x.customer_id = a.customer_id AND x.partner_id = a.partner_id AND x.state = {assignment_state}"
        ));
    }
    if !subscriptions.is_empty() {
        sql.push_str(&format!(
            " UNION ALL SELECT 's', s.id, NULL, s.customer_id, s.service, s.channel, s.partner_of_record_id, \
             s.indirect_provider_id, NULL, NULL, NULL, 0, 0, NULL FROM subscriptions s WHERE s.id IN ({})",
            in_list(&mut values, subscriptions.iter().copied())
        ));
    }
    // The rows come back as one JSON array in one row: the driver hands
    // rows over one at a time, and per-row hand-offs cost more than the
    // lookups themselves.
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            format!("SELECT COALESCE(json_agg(json_build_array({FACT_COLUMNS})), '[]')::text FROM ({sql}) AS facts")
        }
        _ => format!("SELECT json_group_array(json_array({FACT_COLUMNS})) FROM ({sql})"),
    };
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            placeholders(backend, &sql),
            values,
        ))
        .await?
        .ok_or_else(|| Error::internal("access facts: no result row"))?;
    let json: String = row.try_get_by_index(0)?;
    let rows: Vec<FactRow> =
        serde_json::from_str(&json).map_err(|error| Error::internal(format!("access facts do not parse: {error}")))?;

    let mut statuses: HashMap<String, PartnerStatus> = HashMap::new();
    let mut relationships: HashMap<(String, String), Vec<ChainedRelationship>> = HashMap::new();
    let mut grants: HashMap<(String, String), Vec<DelegatedAdminGrant>> = HashMap::new();
    let mut subscription_facts: HashMap<String, SubscriptionFacts> = HashMap::new();
    let mut assignments: HashMap<(String, String), Vec<AccessAssignment>> = HashMap::new();
    let mut members: HashMap<String, Vec<String>> = HashMap::new();
    let parse = |column: &str, text: Option<String>| -> Result<String> {
        text.ok_or_else(|| Error::internal(format!("access facts: {column} is missing")))
    };
    for (kind, id, partner_id, customer_id, t1, t2, t3, t4, t5, n1, n2, f1, f2, n3) in rows {
        match kind.as_str() {
            "p" => {
                // A status that does not parse denies, as a suspended one would.
                let status = t1.as_deref().and_then(PartnerStatus::parse);
                statuses.insert(id, status.unwrap_or(PartnerStatus::Suspended));
            }
            "r" => {
                let relationship = Relationship::try_from(super::entity::relationship::Model {
                    id,
                    customer_id: parse("customer_id", customer_id)?,
                    partner_id: parse("partner_id", partner_id)?,
                    kind: parse("kind", t1)?,
                    indirect_provider_id: t2,
                    state: parse("state", t3)?,
                    source: parse("source", t4)?,
                    relationship_request_id: t5,
                    start_time: n1.unwrap_or_default(),
                    end_time: n2,
                    end_cause: None,
                })?;
                let key = (relationship.partner_id.clone(), relationship.customer_id.clone());
                relationships.entry(key).or_default().push(ChainedRelationship {
                    relationship,
                    provider_active: f1 == 1,
                    link_active: f2 == 1,
                    handover_end: crate::domain::rules::handover_end(n3),
                });
            }
            "g" => {
                let grant = DelegatedAdminGrant::try_from(super::entity::grant::Model {
                    id,
                    customer_id: parse("customer_id", customer_id)?,
                    partner_id: parse("partner_id", partner_id)?,
                    service: parse("service", t1)?,
                    scopes: parse("scopes", t2)?,
                    state: parse("state", t3)?,
                    roles: t4.unwrap_or_default(),
                    start_time: n1.unwrap_or_default(),
                    end_time: n2,
                    auto_extend: f1 == 1,
                    relationship_request_id: None,
                    // A1 reads none of these: a grant it reads is ACTIVE.
                    end_cause: None,
                    end_note: None,
                    notice_days: None,
                    version: 0,
                    update_time: 0,
                })?;
                let key = (grant.partner_id.clone(), grant.customer_id.clone());
                grants.entry(key).or_default().push(grant);
            }
            "a" => {
                let assignment = AccessAssignment::try_from(super::entity::access_assignment::Model {
                    id,
                    grant_id: parse("grant_id", t1)?,
                    customer_id: parse("customer_id", customer_id)?,
                    partner_id: parse("partner_id", partner_id)?,
                    user_id: t2,
                    security_group_id: t3.clone(),
                    roles: t4.unwrap_or_default(),
                    state: AssignmentState::Active.as_str().to_owned(),
                    // R7 reads none of these: an assignment it reads is ACTIVE.
                    end_cause: None,
                    version: 0,
                    create_time: 0,
                    update_time: 0,
                    end_time: None,
                })?;
                if let (Some(group), Some(list)) = (t3, t5) {
                    let list: Vec<String> = serde_json::from_str(&list)
                        .map_err(|error| Error::internal(format!("group {group}: unreadable members: {error}")))?;
                    members.insert(group, list);
                }
                let key = (assignment.partner_id.clone(), assignment.customer_id.clone());
                assignments.entry(key).or_default().push(assignment);
            }
            _ => {
                let service = t1.as_deref().and_then(Service::parse);
                let channel = t2.as_deref().and_then(Channel::parse);
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
                        partner_of_record_id: t3,
                        indirect_provider_id: t4,
                    },
                );
            }
        }
    }
    // In id order, as the access index holds them: a decision names the
    // rows it rests on in that order.
    for rows in relationships.values_mut() {
        rows.sort_by(|a, b| a.relationship.id.cmp(&b.relationship.id));
    }
    for rows in grants.values_mut() {
        rows.sort_by(|a, b| a.id.cmp(&b.id));
    }
    for rows in assignments.values_mut() {
        rows.sort_by(|a, b| a.id.cmp(&b.id));
    }
    Ok(queries
        .iter()
        .map(|query| {
            let key = (query.partner_id.clone(), query.customer_id.clone());
            let (assignments, member_of) = match &query.user_id {
                None => (Vec::new(), Vec::new()),
                Some(user) => {
                    let rows = assignments.get(&key).cloned().unwrap_or_default();
                    let member_of = (rows.iter())
                        .filter_map(|a| match &a.principal {
                            AssignmentPrincipal::SecurityGroup(group) => Some(group),
                            AssignmentPrincipal::User(_) => None,
                        })
                        .filter(|group| members.get(*group).is_some_and(|list| list.contains(user)))
                        .cloned()
                        .collect();
                    (rows, member_of)
                }
            };
            AccessFacts {
                assignments,
                member_of,
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

impl super::WriteTx {
    /// A1 as this write transaction sees it (W1): the decision a write rests
    /// on is made on the state it commits against.
    pub async fn decide(&self, query: &AccessQuery) -> Result<Decision> {
        let mut decisions = decide_batch(self.conn(), std::slice::from_ref(query), self.now()).await?;
        decisions
            .pop()
            .ok_or_else(|| Error::internal("no decision for the check"))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter, Statement};

    use super::{grant_in_force, grant_in_force_sql, placeholders};
    use crate::domain::clock::ManualClock;
    use crate::domain::model::*;
    use crate::store::entity::grant;
    use crate::store::{DEFAULT_PAGE_CACHE_MIB, GrantTerms, Store, StoreOptions, new_id};

    const NOW: Micros = 1_800_000_000_000_000;

    /// D4: every combination of state, end (none, past, now, future) and
    /// auto_extend is in force in SQL (both forms) exactly when it is in
    /// Rust.
    #[tokio::test]
    async fn d4_grant_in_force_in_sql_agrees_with_the_rust_rule() {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = StoreOptions {
            url: format!("sqlite://{}?mode=rwc", dir.path().join("d4.db").display()),
            max_connections: 1,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            sqlite_page_cache_mib: DEFAULT_PAGE_CACHE_MIB,
        };
        let store = Store::open(&options, Arc::new(ManualClock::new(NOW)))
            .await
            .expect("store");
        let mut tx = store.begin_write("operator:test".into()).await.expect("write");
        let partner = Partner {
            id: new_id(),
            mpn_id: "4000001".into(),
            display_name: "Holder".into(),
            kind: PartnerKind::DirectReseller,
            status: PartnerStatus::Active,
            version: 1,
            create_time: NOW,
            update_time: NOW,
        };
        tx.insert_partner(&partner).await.expect("partner");
        let ends = [None, Some(NOW - MICROS_PER_DAY), Some(NOW), Some(NOW + MICROS_PER_DAY)];
        let states = [
            GrantState::Active,
            GrantState::Revoked,
            GrantState::Superseded,
            GrantState::Expired,
        ];
        let mut cases = 0;
        for (i, state) in states.into_iter().enumerate() {
            for (j, end_time) in ends.into_iter().enumerate() {
                for auto_extend in [false, true] {
                    // One customer per grant: a partner holds one ACTIVE
                    // grant per service on a customer.
                    let customer = Customer {
                        id: new_id(),
                        domain: format!("d4-{i}-{j}-{auto_extend}.example"),
                        company_name: "D4".into(),
                        billing_contact: BillingContact::default(),
                        version: 1,
                        create_time: NOW,
                        update_time: NOW,
                    };
                    tx.insert_customer(&customer).await.expect("customer");
                    let terms = GrantTerms {
                        service: Service::Azure,
                        roles: vec![Role::HelpdeskAdmin],
                        end_time,
                        auto_extend,
                    };
                    let granted = tx
                        .put_grant(&customer.id, &partner.id, terms, None)
                        .await
                        .expect("grant");
                    if state != GrantState::Active {
                        let cause = match state {
                            GrantState::Superseded => EndCause::Superseded,
                            GrantState::Expired => EndCause::Expired,
                            _ => EndCause::CustomerRevoked,
                        };
                        tx.end_grant(granted, cause, None).await.expect("state");
                    }
                    cases += 1;
                }
            }
        }
        tx.commit().await.expect("commit");

        let rows = grant::Entity::find().all(store.connection()).await.expect("grants");
        assert_eq!(rows.len(), cases);
        let mut in_rust: Vec<String> = rows
            .into_iter()
            .map(|row| DelegatedAdminGrant::try_from(row).expect("grant"))
            .filter(|grant| grant.in_force(NOW))
            .map(|grant| grant.id)
            .collect();
        let mut in_sql: Vec<String> = grant::Entity::find()
            .filter(grant_in_force(NOW))
            .all(store.connection())
            .await
            .expect("grants in force")
            .into_iter()
            .map(|row| row.id)
            .collect();
        let backend = store.connection().get_database_backend();
        let statement = format!(
            "SELECT id FROM delegated_admin_grants WHERE {}",
            grant_in_force_sql("$1", "$2", "$3")
        );
        let mut in_raw_sql: Vec<String> = store
            .connection()
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                placeholders(backend, &statement),
                [GrantState::Active.as_str().into(), NOW.into(), true.into()],
            ))
            .await
            .expect("grants in force, by hand")
            .iter()
            .map(|row| row.try_get_by_index::<String>(0).expect("id"))
            .collect();
        in_rust.sort();
        in_sql.sort();
        in_raw_sql.sort();
        assert_eq!(in_raw_sql, in_rust);
        // ACTIVE with no end or a future end (2 + 2), or past its end or at
        // it while auto-extending (1 + 1).
        assert_eq!(in_rust.len(), 6);
        assert_eq!(in_sql, in_rust);
    }
}
