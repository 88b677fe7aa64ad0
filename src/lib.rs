//! partnercenter: cloud partners, their customers, and the relationships
//! between them, served over gRPC.
//!
//! Layers: `api` (the gRPC adapters and server assembly, the only place
//! tonic and prost types live), `service` (one use case per RPC, in domain
//! types), `domain` (the rules of `docs/rules.md` in plain Rust), `index`
//! (the access index in memory, on the domain alone), `store` (sea-orm
//! entities, migrations and queries, the only place sea-orm lives), and
//! plain `auth`, `config`, `metrics`, `telemetry`. The load tools are a
//! crate of their own (`tools/`), a client of the generated `api::pb` and,
//! with the `tools` feature, of the store's bulk loader.
//! `tests/api/layers.rs` checks these rules.

pub mod api;
pub mod auth;
pub mod config;
pub mod context;
pub mod domain;
pub mod index;
pub mod metrics;
pub mod outbound;
pub mod service;
pub mod store;
pub mod telemetry;

/// The error of the library's tools and of server start-up.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
