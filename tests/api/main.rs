//! Integration tests: every rule of docs/rules.md through the generated clients
//! against a real server and a real store. One binary, so the crate is
//! linked once.

mod access;
mod assignments;
mod auth;
mod customers;
mod delegated_admin;
mod deliveries;
mod docs;
mod events;
mod faults;
mod groups;
mod grpcurl;
mod imports;
mod input;
mod invitations;
mod layers;
mod limits;
mod links;
mod model;
mod operations;
mod partners;
mod races;
mod readme;
mod refusals;
mod relationships;
mod replicas;
mod roles;
mod split;
mod subscriptions;
mod support;
mod traces;
mod transfers;
mod watch;
mod webhooks;
