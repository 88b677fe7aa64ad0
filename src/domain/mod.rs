//! The rules (`docs/rules.md`) in plain Rust: no tonic, no sea-orm.
//!
//! Rule IDs (P1, C4, A1, …) appear in the comments of the functions that
//! enforce them, so any rule can be found with one search.

pub mod access;
pub mod clock;
pub mod consequence;
pub mod error;
pub mod model;
pub mod paging;
pub mod ports;
pub mod principal;
pub mod roles;
pub mod rules;
pub mod validate;

pub use error::{Error, ErrorCode, Reason, Result};
