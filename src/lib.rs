//! partnercenter: cloud partners, their customers, and the relationships
//! between them, served over gRPC.
//!
//! Layers: `api` (protobuf adapters, the only place tonic types live),
//! `domain` (the rules of `docs/rules.md` in plain Rust), `store` (sea-orm
//! entities, migrations and queries), `auth`, `config`, `server`.

pub mod api;
pub mod auth;
pub mod config;
pub mod domain;
pub mod loadtest;
pub mod metrics;
pub mod seed;
pub mod server;
pub mod service;
pub mod store;
pub mod telemetry;

pub use api::pb;
