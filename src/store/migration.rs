//! Schema migrations. Portable SQL only: the same migrations run on SQLite
//! and PostgreSQL. Applied migrations are never edited; add a new one.

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, big_integer_null, boolean, integer, integer_null, text, text_null};

pub struct Migrator;

/// The PostgreSQL advisory lock key that serializes migrations ("pcmigrat").
const MIGRATION_LOCK: i64 = 0x7063_6d69_6772_6174;

/// Applies pending migrations, one process at a time: every replica
/// migrates at start, and concurrent runs on an empty database would
/// create the same tables at once. The migrations run inside one
/// transaction that first takes the database's write lock (BEGIN IMMEDIATE
/// on SQLite) or a transaction-scoped advisory lock (PostgreSQL); the next
/// process waits for it, then finds nothing pending.
pub async fn up(db: &DatabaseConnection) -> Result<(), DbErr> {
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
            .await?;
    }
    Migrator::up(&txn, None).await?;
    txn.commit().await
}

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(InitialSchema),
            Box::new(Outbox),
            Box::new(GrantLifecycle),
            Box::new(GrantNotices),
            Box::new(Transfers),
            Box::new(TwoSidedLinks),
            Box::new(GrantRoles),
            Box::new(SecurityGroups),
            Box::new(AccessAssignments),
            Box::new(Webhooks),
            Box::new(InvitationCodes),
        ]
    }
}

struct InitialSchema;

impl MigrationName for InitialSchema {
    fn name(&self) -> &str {
        "m0001_initial_schema"
    }
}

fn table(name: &'static str) -> TableCreateStatement {
    Table::create().table(name).if_not_exists().take()
}

fn id() -> ColumnDef {
    text("id").primary_key().take()
}

fn index(table: &'static str, name: &'static str, columns: &[&'static str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table).if_not_exists();
    for column in columns {
        index.col(*column);
    }
    index.take()
}

#[async_trait::async_trait]
impl MigrationTrait for InitialSchema {
    /// SQLite runs migrations outside a transaction by default; make it atomic.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tables = [
            table("partners")
                .col(id())
                .col(text("mpn_id").unique_key())
                .col(text("display_name"))
                .col(text("kind"))
                .col(text("status"))
                .col(big_integer("version"))
                .col(big_integer("create_time"))
                .col(big_integer("update_time"))
                .take(),
            table("partner_links")
                .col(id())
                .col(text("provider_id"))
                .col(text("reseller_id"))
                .col(text("state"))
                .col(big_integer("create_time"))
                .col(big_integer("update_time"))
                .foreign_key(
                    ForeignKey::create()
                        .from("partner_links", "provider_id")
                        .to("partners", "id"),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("partner_links", "reseller_id")
                        .to("partners", "id"),
                )
                .take(),
            table("customers")
                .col(id())
                .col(text("domain").unique_key())
                .col(text("company_name"))
                .col(text("company_name_folded"))
                .col(text("email"))
                .col(text("first_name"))
                .col(text("last_name"))
                .col(text("culture"))
                .col(text("language"))
                .col(big_integer("version"))
                .col(big_integer("create_time"))
                .col(big_integer("update_time"))
                .take(),
            table("subscriptions")
                .col(id())
                .col(text("customer_id"))
                .col(text("service"))
                .col(text("offer_name"))
                .col(integer("quantity"))
                .col(text("billing"))
                .col(text("status"))
                .col(text("channel"))
                .col(text_null("partner_of_record_id"))
                .col(text_null("indirect_provider_id"))
                .col(big_integer("version"))
                .col(big_integer("create_time"))
                .col(big_integer("update_time"))
                .foreign_key(
                    ForeignKey::create()
                        .from("subscriptions", "customer_id")
                        .to("customers", "id"),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("subscriptions", "partner_of_record_id")
                        .to("partners", "id"),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("subscriptions", "indirect_provider_id")
                        .to("partners", "id"),
                )
                .take(),
            table("relationship_requests")
                .col(id())
                .col(text("inviting_partner_id"))
                .col(text_null("indirect_reseller_id"))
                .col(boolean("include_delegated_admin"))
                .col(text("delegated_admin_services"))
                .col(text("delegated_admin_scopes"))
                .col(text_null("customer_domain"))
                .col(text("code").unique_key())
                .col(text("state"))
                .col(big_integer("expire_time"))
                .col(big_integer("create_time"))
                .foreign_key(
                    ForeignKey::create()
                        .from("relationship_requests", "inviting_partner_id")
                        .to("partners", "id"),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("relationship_requests", "indirect_reseller_id")
                        .to("partners", "id"),
                )
                .take(),
            table("invitation_acceptances")
                .col(text("relationship_request_id"))
                .col(text("customer_id"))
                .col(big_integer("accept_time"))
                .col(text("relationship_ids"))
                .col(text("grant_ids"))
                .primary_key(Index::create().col("relationship_request_id").col("customer_id"))
                .foreign_key(
                    ForeignKey::create()
                        .from("invitation_acceptances", "relationship_request_id")
                        .to("relationship_requests", "id"),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("invitation_acceptances", "customer_id")
                        .to("customers", "id"),
                )
                .take(),
            table("relationships")
                .col(id())
                .col(text("customer_id"))
                .col(text("partner_id"))
                .col(text("kind"))
                .col(text_null("indirect_provider_id"))
                .col(text("state"))
                .col(text("source"))
                .col(text_null("relationship_request_id"))
                .col(big_integer("start_time"))
                .col(big_integer_null("end_time"))
                .foreign_key(
                    ForeignKey::create()
                        .from("relationships", "customer_id")
                        .to("customers", "id"),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("relationships", "partner_id")
                        .to("partners", "id"),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("relationships", "indirect_provider_id")
                        .to("partners", "id"),
                )
                .take(),
            table("delegated_admin_grants")
                .col(id())
                .col(text("customer_id"))
                .col(text("partner_id"))
                .col(text("service"))
                .col(text("scopes"))
                .col(text("state"))
                .col(big_integer("start_time"))
                .col(big_integer_null("end_time"))
                .col(boolean("auto_extend"))
                .col(text_null("relationship_request_id"))
                .foreign_key(
                    ForeignKey::create()
                        .from("delegated_admin_grants", "customer_id")
                        .to("customers", "id"),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from("delegated_admin_grants", "partner_id")
                        .to("partners", "id"),
                )
                .take(),
            table("events")
                .col(big_integer("seq").primary_key())
                .col(big_integer("time"))
                .col(text("event_type"))
                .col(text("actor"))
                .col(text_null("customer_id"))
                .col(text_null("partner_id"))
                .col(text("subject_id"))
                .col(text("payload"))
                .take(),
            table("event_audience")
                .col(text("partner_id"))
                .col(big_integer("seq"))
                .primary_key(Index::create().col("partner_id").col("seq"))
                .take(),
            // E1: one row, taken by every write transaction, hands out seq.
            table("event_counter")
                .col(integer("id").primary_key())
                .col(big_integer("value"))
                .take(),
            table("request_records")
                .col(text("key").primary_key())
                .col(text("fingerprint"))
                .col(text("resource_id"))
                .col(big_integer("create_time"))
                .take(),
        ];
        for statement in tables {
            manager.create_table(statement).await?;
        }

        let indexes = [
            index(
                "partner_links",
                "partner_links_provider",
                &["provider_id", "reseller_id", "state"],
            ),
            index(
                "partner_links",
                "partner_links_reseller",
                &["reseller_id", "provider_id", "state"],
            ),
            index("customers", "customers_company_name", &["company_name_folded"]),
            index("subscriptions", "subscriptions_customer", &["customer_id", "id"]),
            index(
                "subscriptions",
                "subscriptions_partner_of_record",
                &["partner_of_record_id", "customer_id"],
            ),
            index(
                "subscriptions",
                "subscriptions_indirect_provider",
                &["indirect_provider_id", "customer_id"],
            ),
            index(
                "relationship_requests",
                "relationship_requests_inviting",
                &["inviting_partner_id", "id"],
            ),
            index(
                "relationship_requests",
                "relationship_requests_reseller",
                &["indirect_reseller_id", "id"],
            ),
            index(
                "relationships",
                "relationships_partner_customer",
                &["partner_id", "customer_id", "state"],
            ),
            index("relationships", "relationships_customer", &["customer_id", "id"]),
            index(
                "relationships",
                "relationships_provider",
                &["indirect_provider_id", "customer_id"],
            ),
            index(
                "delegated_admin_grants",
                "grants_partner_customer",
                &["partner_id", "customer_id", "state"],
            ),
            index(
                "delegated_admin_grants",
                "grants_customer_service",
                &["customer_id", "service", "state"],
            ),
            index("events", "events_customer", &["customer_id", "seq"]),
            index("events", "events_partner", &["partner_id", "seq"]),
            index(
                "relationship_requests",
                "relationship_requests_expiry",
                &["state", "expire_time"],
            ),
            index("delegated_admin_grants", "grants_expiry", &["state", "end_time"]),
            // Without planner statistics SQLite would otherwise pick
            // grants_expiry for a customer's grants and scan them all.
            index(
                "delegated_admin_grants",
                "grants_customer_state",
                &["customer_id", "state"],
            ),
        ];
        for statement in indexes {
            manager.create_index(statement).await?;
        }

        let seed_counter = Query::insert()
            .into_table("event_counter")
            .columns(["id", "value"])
            .values_panic([1.into(), 0i64.into()])
            .to_owned();
        manager.exec_stmt(seed_counter).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "request_records",
            "event_counter",
            "event_audience",
            "events",
            "delegated_admin_grants",
            "relationships",
            "invitation_acceptances",
            "relationship_requests",
            "subscriptions",
            "customers",
            "partner_links",
            "partners",
        ] {
            manager.drop_table(Table::drop().table(name).if_exists().take()).await?;
        }
        Ok(())
    }
}

/// The outbox of the split deployment (docs/rules.md, Deployment): a write
/// whose consequences belong to another service commits them here, and the
/// owning service carries each out once, recording `applied_time` in the
/// same transaction. Shared by the three services, like the events, their
/// counter and the request records.
struct Outbox;

impl MigrationName for Outbox {
    fn name(&self) -> &str {
        "m0002_outbox"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Outbox {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                table("outbox")
                    .col(id())
                    // The resource the causing write made or changed: a
                    // replay of that write waits for its consequences.
                    .col(text("origin_id"))
                    // Who made the causing write: its consequences' events
                    // name the same actor.
                    .col(text("actor"))
                    .col(text("trace_id"))
                    .col(text("consequence"))
                    .col(big_integer("create_time"))
                    .col(big_integer_null("applied_time"))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("outbox", "outbox_origin", &["origin_id"]))
            .await?;
        manager
            .create_index(index("outbox", "outbox_pending", &["applied_time", "id"]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("outbox").if_exists().take())
            .await
    }
}

/// G3, G4: why a grant ended, its note, and the version and update time
/// behind its etag. Rows made before this get version 1 and their start
/// time as update time.
pub struct GrantLifecycle;

impl MigrationName for GrantLifecycle {
    fn name(&self) -> &str {
        "m0003_grant_lifecycle"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for GrantLifecycle {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        let columns = [
            text_null("end_cause"),
            text_null("end_note"),
            big_integer("version").default(1).take(),
            big_integer("update_time").default(0).take(),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table("delegated_admin_grants")
                        .add_column(&mut column)
                        .take(),
                )
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared("UPDATE delegated_admin_grants SET update_time = start_time")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["end_cause", "end_note", "version", "update_time"] {
            manager
                .alter_table(
                    Table::alter()
                        .table("delegated_admin_grants")
                        .drop_column(column)
                        .take(),
                )
                .await?;
        }
        Ok(())
    }
}

/// G2: the last expiry notice mark a grant passed.
pub struct GrantNotices;

impl MigrationName for GrantNotices {
    fn name(&self) -> &str {
        "m0004_grant_notices"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for GrantNotices {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("delegated_admin_grants")
                    .add_column(integer_null("notice_days"))
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("delegated_admin_grants")
                    .drop_column("notice_days")
                    .take(),
            )
            .await
    }
}

/// T1-T4: transfers, by customer and by proposer.
pub struct Transfers;

impl MigrationName for Transfers {
    fn name(&self) -> &str {
        "m0005_transfers"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Transfers {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                table("transfers")
                    .col(id())
                    .col(text("customer_id"))
                    .col(text("proposing_partner_id"))
                    .col(text("partner_of_record_id"))
                    .col(text_null("indirect_provider_id"))
                    .col(text("subscriptions"))
                    .col(text("state"))
                    .col(big_integer("expire_time"))
                    .col(big_integer("version"))
                    .col(big_integer("create_time"))
                    .col(big_integer("update_time"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("transfers", "customer_id")
                            .to("customers", "id"),
                    )
                    .take(),
            )
            .await?;
        for statement in [
            index("transfers", "transfers_customer", &["customer_id", "id"]),
            index("transfers", "transfers_proposer", &["proposing_partner_id", "id"]),
            index("transfers", "transfers_pending", &["state", "expire_time"]),
        ] {
            manager.create_index(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("transfers").if_exists().take())
            .await
    }
}

/// L1-L5: a link's expiry, who ended it and why, its version (etag), and
/// why a relationship ended. Links made before this are the operator's or
/// a provider's ACTIVE ones of the one-sided model: version 1, no expiry.
pub struct TwoSidedLinks;

impl MigrationName for TwoSidedLinks {
    fn name(&self) -> &str {
        "m0006_two_sided_links"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for TwoSidedLinks {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per ALTER TABLE.
        let columns = [
            ("partner_links", big_integer_null("expire_time")),
            ("partner_links", text_null("ended_by")),
            ("partner_links", text_null("end_note")),
            ("partner_links", big_integer("version").default(1).take()),
            ("relationships", text_null("end_cause")),
        ];
        for (name, mut column) in columns {
            manager
                .alter_table(Table::alter().table(name).add_column(&mut column).take())
                .await?;
        }
        // The sweep's L1 expiry and L5 handover read links by state.
        manager
            .create_index(index("partner_links", "partner_links_state", &["state", "expire_time"]))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("partner_links_state")
                    .table("partner_links")
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("partner_links", "expire_time"),
            ("partner_links", "ended_by"),
            ("partner_links", "end_note"),
            ("partner_links", "version"),
            ("relationships", "end_cause"),
        ] {
            manager
                .alter_table(Table::alter().table(name).drop_column(column).take())
                .await?;
        }
        Ok(())
    }
}

/// R1: a grant's roles and an invitation's, beside their scopes (which
/// follow from the roles from now on). The rows stored before get the roles
/// their scopes read as, with no event: PROVISIONING as USER_ADMIN and
/// LICENSE_ADMIN, SUPPORT as HELPDESK_ADMIN (`roles::roles_for_scopes`),
/// so each allows exactly what it allowed. A row a replica of the previous
/// version writes meanwhile gets no roles, and reads so too.
pub struct GrantRoles;

impl MigrationName for GrantRoles {
    fn name(&self) -> &str {
        "m0007_grant_roles"
    }
}

/// R1 in SQL, for the rows of this migration: the roles, as stored
/// (comma-separated names), that the scopes in `column` read as.
fn roles_of_scopes_sql(column: &str) -> String {
    use crate::domain::model::{Role, Scope};
    use crate::domain::roles::roles_for_scopes;
    let names = |scopes: &[Scope]| {
        roles_for_scopes(scopes)
            .into_iter()
            .map(Role::as_str)
            .collect::<Vec<_>>()
            .join(",")
    };
    let has = |scope: Scope| format!("{column} LIKE '%{}%'", scope.as_str());
    let (provisioning, support) = (has(Scope::Provisioning), has(Scope::Support));
    format!(
        "CASE WHEN {provisioning} AND {support} THEN '{}' WHEN {provisioning} THEN '{}' WHEN {support} THEN '{}' \
         ELSE '' END",
        names(&[Scope::Provisioning, Scope::Support]),
        names(&[Scope::Provisioning]),
        names(&[Scope::Support]),
    )
}

#[async_trait::async_trait]
impl MigrationTrait for GrantRoles {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column, scopes) in [
            ("delegated_admin_grants", "roles", "scopes"),
            (
                "relationship_requests",
                "delegated_admin_roles",
                "delegated_admin_scopes",
            ),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(table)
                        .add_column(text(column).default("").take())
                        .take(),
                )
                .await?;
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "UPDATE {table} SET {column} = {}",
                    roles_of_scopes_sql(scopes)
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in [
            ("delegated_admin_grants", "roles"),
            ("relationship_requests", "delegated_admin_roles"),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).take())
                .await?;
        }
        Ok(())
    }
}

/// R4: a partner's security groups, members as a JSON array.
pub struct SecurityGroups;

impl MigrationName for SecurityGroups {
    fn name(&self) -> &str {
        "m0008_security_groups"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for SecurityGroups {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                table("security_groups")
                    .col(id())
                    .col(text("partner_id"))
                    .col(text("display_name"))
                    .col(text("member_user_ids"))
                    .col(big_integer("version"))
                    .col(big_integer("create_time"))
                    .col(big_integer("update_time"))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "security_groups",
                "security_groups_partner",
                &["partner_id", "id"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("security_groups").if_exists().take())
            .await
    }
}

/// R5: access assignments. The ACTIVE ones of a grant, a customer and a
/// group are each found by an index; one ACTIVE assignment per grant and
/// principal is also a unique index, behind the rule's own check (W1).
pub struct AccessAssignments;

impl MigrationName for AccessAssignments {
    fn name(&self) -> &str {
        "m0009_access_assignments"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for AccessAssignments {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                table("access_assignments")
                    .col(id())
                    .col(text("grant_id"))
                    .col(text("customer_id"))
                    .col(text("partner_id"))
                    .col(text_null("user_id"))
                    .col(text_null("security_group_id"))
                    .col(text("roles"))
                    .col(text("state"))
                    .col(text_null("end_cause"))
                    .col(big_integer("version"))
                    .col(big_integer("create_time"))
                    .col(big_integer("update_time"))
                    .col(big_integer_null("end_time"))
                    .take(),
            )
            .await?;
        for (name, columns) in [
            ("access_assignments_grant", &["grant_id", "state", "id"][..]),
            (
                "access_assignments_customer",
                &["customer_id", "partner_id", "state", "id"][..],
            ),
            ("access_assignments_partner", &["partner_id", "id"][..]),
            ("access_assignments_group", &["security_group_id", "state"][..]),
        ] {
            manager.create_index(index("access_assignments", name, columns)).await?;
        }
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX IF NOT EXISTS access_assignments_one_active \
                 ON access_assignments (grant_id, COALESCE(user_id, ''), COALESCE(security_group_id, '')) \
                 WHERE state = 'ACTIVE'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("access_assignments").if_exists().take())
            .await
    }
}

/// H1-H10: webhook endpoints (their secrets sealed) and, per endpoint and
/// event, a delivery row (H4). The dispatcher finds due deliveries by
/// state and time; a list pages by endpoint and seq (the primary key).
pub struct Webhooks;

impl MigrationName for Webhooks {
    fn name(&self) -> &str {
        "m0010_webhooks"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Webhooks {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                table("webhook_endpoints")
                    .col(id())
                    // The owning partner's id, or "" for the operator's.
                    .col(text("owner"))
                    .col(text("url"))
                    .col(text("description"))
                    .col(text("event_types"))
                    .col(text_null("customer_id"))
                    .col(text("delivery_mode"))
                    .col(integer("max_in_flight"))
                    .col(text("state"))
                    .col(text_null("disabled_reason"))
                    .col(big_integer("cursor_seq"))
                    // H4: the last event the dispatcher read for it (rows
                    // go to those its filters admit: cursor_seq).
                    .col(big_integer("scanned_seq"))
                    .col(text("secret"))
                    .col(text_null("previous_secret"))
                    .col(big_integer_null("previous_secret_expire_time"))
                    .col(big_integer_null("failing_since"))
                    .col(big_integer_null("held_since"))
                    .col(big_integer("version"))
                    .col(big_integer("create_time"))
                    .col(big_integer("update_time"))
                    .take(),
            )
            .await?;
        manager
            .create_index(index("webhook_endpoints", "webhook_endpoints_owner", &["owner", "id"]))
            .await?;
        manager
            .create_table(
                table("webhook_deliveries")
                    .col(text("endpoint_id"))
                    .col(big_integer("seq"))
                    .col(text("event_type"))
                    .col(text("state"))
                    .col(integer("attempt_count"))
                    .col(big_integer_null("next_attempt_time"))
                    .col(big_integer_null("last_attempt_time"))
                    .col(integer_null("last_status_code"))
                    .col(text_null("last_error"))
                    .col(big_integer_null("lease_until"))
                    .col(text_null("lease_token"))
                    .primary_key(Index::create().col("endpoint_id").col("seq"))
                    .take(),
            )
            .await?;
        manager
            .create_index(index(
                "webhook_deliveries",
                "webhook_deliveries_due",
                &["state", "next_attempt_time"],
            ))
            .await?;
        manager
            .create_index(index(
                "webhook_deliveries",
                "webhook_deliveries_endpoint_state",
                &["endpoint_id", "state", "seq"],
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["webhook_deliveries", "webhook_endpoints"] {
            manager.drop_table(Table::drop().table(name).if_exists().take()).await?;
        }
        Ok(())
    }
}

/// I3: an invitation's code at rest. `code_hash` (SHA-256) is what a code
/// is looked up by, and `code` then holds the code sealed under the
/// server's key. Rows written before keep their code in the clear with no
/// hash until a serving process seals them (`Store::seal_legacy_codes`):
/// the migration has no key.
pub struct InvitationCodes;

impl MigrationName for InvitationCodes {
    fn name(&self) -> &str {
        "m0011_invitation_codes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for InvitationCodes {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("relationship_requests")
                    .add_column(text_null("code_hash"))
                    .take(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "relationship_requests",
                    "relationship_requests_code_hash",
                    &["code_hash"],
                )
                .unique()
                .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("relationship_requests_code_hash")
                    .table("relationship_requests")
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("relationship_requests")
                    .drop_column("code_hash")
                    .take(),
            )
            .await
    }
}
