//! Integration tests: every rule of DOMAIN.md through the generated clients
//! against a real server and a real store. One binary, so the crate is
//! linked once.

mod auth;
mod customers;
mod events;
mod grpcurl;
mod partners;
mod subscriptions;
mod support;
