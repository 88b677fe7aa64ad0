//! sea-orm entities: one module per table. Ids are UUIDv7 text, times are
//! microseconds since the Unix epoch, enums are stored by name.

macro_rules! no_relations {
    () => {
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    };
}

pub mod partner {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "partners")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        #[sea_orm(unique)]
        pub mpn_id: String,
        pub display_name: String,
        pub kind: String,
        pub status: String,
        pub version: i64,
        pub create_time: i64,
        pub update_time: i64,
    }

    no_relations!();
}

pub mod partner_link {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "partner_links")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub provider_id: String,
        pub reseller_id: String,
        pub state: String,
        pub create_time: i64,
        pub update_time: i64,
        pub expire_time: Option<i64>,
        pub ended_by: Option<String>,
        pub end_note: Option<String>,
        pub version: i64,
    }

    no_relations!();
}

pub mod customer {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "customers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Lower case, so the unique index is case-insensitive (C3).
        #[sea_orm(unique)]
        pub domain: String,
        pub company_name: String,
        /// Lower-case copy for the case-insensitive prefix filter (C6).
        pub company_name_folded: String,
        pub email: String,
        pub first_name: String,
        pub last_name: String,
        pub culture: String,
        pub language: String,
        pub version: i64,
        pub create_time: i64,
        pub update_time: i64,
    }

    no_relations!();
}

pub mod subscription {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "subscriptions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub customer_id: String,
        pub service: String,
        pub offer_name: String,
        pub quantity: i32,
        pub billing: String,
        pub status: String,
        pub channel: String,
        pub partner_of_record_id: Option<String>,
        pub indirect_provider_id: Option<String>,
        pub version: i64,
        pub create_time: i64,
        pub update_time: i64,
    }

    no_relations!();
}

pub mod relationship_request {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "relationship_requests")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub inviting_partner_id: String,
        pub indirect_reseller_id: Option<String>,
        pub include_delegated_admin: bool,
        /// Comma-separated service names.
        pub delegated_admin_services: String,
        /// Comma-separated scope names (R1: derived from the roles).
        pub delegated_admin_scopes: String,
        pub customer_domain: Option<String>,
        /// I3: the code sealed under the server's key, or, in a row
        /// written before m0011 and not yet sealed, the code itself.
        #[sea_orm(unique)]
        pub code: String,
        pub state: String,
        pub expire_time: i64,
        pub create_time: i64,
        /// R1: comma-separated role names (m0007; empty in a row written
        /// before it: read from the scopes).
        pub delegated_admin_roles: String,
        /// I3: the code's SHA-256 (m0011), which a code is looked up by;
        /// NULL in a row whose code is not sealed yet.
        #[sea_orm(unique)]
        pub code_hash: Option<String>,
    }

    no_relations!();
}

pub mod invitation_acceptance {
    use sea_orm::entity::prelude::*;

    /// I6: each customer accepts an invitation once.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "invitation_acceptances")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub relationship_request_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub customer_id: String,
        pub accept_time: i64,
        /// Comma-separated ids of the relationships the acceptance produced.
        pub relationship_ids: String,
        /// Comma-separated ids of the grants the acceptance produced.
        pub grant_ids: String,
    }

    no_relations!();
}

pub mod relationship {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "relationships")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub customer_id: String,
        pub partner_id: String,
        pub kind: String,
        pub indirect_provider_id: Option<String>,
        pub state: String,
        pub source: String,
        pub relationship_request_id: Option<String>,
        pub start_time: i64,
        pub end_time: Option<i64>,
        pub end_cause: Option<String>,
    }

    no_relations!();
}

pub mod grant {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "delegated_admin_grants")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub customer_id: String,
        pub partner_id: String,
        pub service: String,
        /// Comma-separated scope names.
        pub scopes: String,
        pub state: String,
        pub start_time: i64,
        pub end_time: Option<i64>,
        pub auto_extend: bool,
        pub relationship_request_id: Option<String>,
        pub end_cause: Option<String>,
        pub end_note: Option<String>,
        pub notice_days: Option<i32>,
        pub version: i64,
        pub update_time: i64,
        /// R1: comma-separated role names (m0007; empty in a row written
        /// before it: read from the scopes).
        pub roles: String,
    }

    no_relations!();
}

pub mod transfer {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "transfers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub customer_id: String,
        pub proposing_partner_id: String,
        pub partner_of_record_id: String,
        pub indirect_provider_id: Option<String>,
        /// The subscriptions with what each had when proposed, as JSON.
        pub subscriptions: String,
        pub state: String,
        pub expire_time: i64,
        pub version: i64,
        pub create_time: i64,
        pub update_time: i64,
    }

    no_relations!();
}

pub mod security_group {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "security_groups")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub partner_id: String,
        pub display_name: String,
        /// R4: the member user ids, as a JSON array (ids may hold commas).
        pub member_user_ids: String,
        pub version: i64,
        pub create_time: i64,
        pub update_time: i64,
    }

    no_relations!();
}

pub mod access_assignment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "access_assignments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub grant_id: String,
        pub customer_id: String,
        pub partner_id: String,
        /// R5: exactly one of the two is set.
        pub user_id: Option<String>,
        pub security_group_id: Option<String>,
        /// Comma-separated role names.
        pub roles: String,
        pub state: String,
        pub end_cause: Option<String>,
        pub version: i64,
        pub create_time: i64,
        pub update_time: i64,
        pub end_time: Option<i64>,
    }

    no_relations!();
}

pub mod webhook_endpoint {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_endpoints")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// The owning partner, or "" for the operator's (H1).
        pub owner: String,
        pub url: String,
        pub description: String,
        /// H1: the filters, as a JSON array.
        pub event_types: String,
        pub customer_id: Option<String>,
        pub delivery_mode: String,
        pub max_in_flight: i32,
        pub state: String,
        pub disabled_reason: Option<String>,
        pub cursor_seq: i64,
        /// H4: the last event the dispatcher read for it; `cursor_seq` is
        /// the last it gave a delivery row.
        pub scanned_seq: i64,
        /// H5: the signing secret, sealed (never the plain text).
        pub secret: String,
        /// H9: the previous one, sealed, while it still signs.
        pub previous_secret: Option<String>,
        pub previous_secret_expire_time: Option<i64>,
        /// H7: when the current run of failed attempts began.
        pub failing_since: Option<i64>,
        /// H3, H7: since when its owner's suspension holds its deliveries
        /// (their retry and H7 clocks stop; moved on when it ends).
        pub held_since: Option<i64>,
        pub version: i64,
        pub create_time: i64,
        pub update_time: i64,
    }

    no_relations!();
}

pub mod webhook_delivery {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "webhook_deliveries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub endpoint_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        pub event_type: String,
        pub state: String,
        pub attempt_count: i32,
        pub next_attempt_time: Option<i64>,
        pub last_attempt_time: Option<i64>,
        pub last_status_code: Option<i32>,
        pub last_error: Option<String>,
        /// H4: until when a replica holds the attempt in flight.
        pub lease_until: Option<i64>,
        pub lease_token: Option<String>,
    }

    no_relations!();
}

pub mod event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "events")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
        pub time: i64,
        pub event_type: String,
        pub actor: String,
        pub customer_id: Option<String>,
        pub partner_id: Option<String>,
        pub subject_id: String,
        /// The new state of what changed, as JSON.
        pub payload: String,
    }

    no_relations!();
}

pub mod event_audience {
    use sea_orm::entity::prelude::*;

    /// E2: the partners that could read an event when it was appended.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "event_audience")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub partner_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub seq: i64,
    }

    no_relations!();
}

pub mod request_record {
    use sea_orm::entity::prelude::*;

    /// AIP-155: what a create with a request id produced.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "request_records")]
    pub struct Model {
        /// Caller, method and request id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub fingerprint: String,
        pub resource_id: String,
        pub create_time: i64,
    }

    no_relations!();
}

pub mod outbox {
    use sea_orm::entity::prelude::*;

    /// A consequence of a write, to be carried out once by the service that
    /// owns its rows (the split deployment).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub origin_id: String,
        pub actor: String,
        pub trace_id: String,
        /// `domain::consequence::Consequence` as JSON.
        pub consequence: String,
        pub create_time: i64,
        pub applied_time: Option<i64>,
    }

    no_relations!();
}
