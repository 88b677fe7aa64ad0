//! The contracts of the services: each service's trait in domain types
//! (one function per RPC), its commands and results, and what every
//! caller of a service shares (P4's gate). Both implementations of a
//! service (the local one in `service`, over the store, and the remote one
//! in `api`, over the generated client) and every caller depend on these,
//! never on one another.

pub mod consequences;
pub mod customers;
pub mod partners;
pub mod relationships;
pub mod webhooks;
