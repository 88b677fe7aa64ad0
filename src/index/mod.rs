//! Indexes in memory over the domain's types: infrastructure, not rules.
//! Plain Rust on `crate::domain` alone, no tonic, prost or sea-orm; the
//! store loads and feeds them.

mod access;

pub use access::{AccessIndex, IndexSize};
