//! The use-case layer: one service per gRPC service, one function per RPC.
//!
//! Each service is a Rust trait in domain types (`Partners`, `Customers`,
//! `Relationships`, in `contract`): a function takes the calling
//! `Principal` and a command (a plain struct, already checked for form by
//! the adapter) and returns domain values or the one domain `Error`. Two
//! implementations stand behind each trait: the local one here, over the
//! store, and a remote one in `api` over the generated tonic client (split
//! deployment). Both depend on the contract only, never on each other.
//!
//! A local service owns its transactions and decides every rule inside the
//! write it guards (W1). It reaches another service only through that
//! service's trait in `contract`, except that inside its own write transaction it may read
//! (never write) another service's tables, as DOMAIN.md's deployment rules
//! allow. No tonic or prost type appears here; the store is reached through
//! its public API.

pub mod consequences;
pub mod contract;
pub mod customers;
pub mod partners;
pub mod relationships;
pub mod webhooks;

use serde::Serialize;

use crate::domain::Result;
use crate::domain::paging::fnv1a;
use crate::domain::principal::Principal;
use crate::store::RequestKey;

/// AIP-155: a create's request id, scoped to its caller and method, with a
/// fingerprint of the command (its JSON: stable across builds), so a retry
/// returns the first result and the same id with another command is
/// refused (REQUEST_ID_REUSED).
pub(crate) fn request_key<C: Serialize>(
    principal: &Principal,
    method: &str,
    request_id: Option<&str>,
    command: &C,
) -> Result<Option<RequestKey>> {
    let Some(request_id) = request_id else {
        return Ok(None);
    };
    let encoded = serde_json::to_vec(command)
        .map_err(|error| crate::domain::Error::internal(format!("a command does not encode: {error}")))?;
    Ok(Some(RequestKey {
        key: format!("{}|{method}|{request_id}", principal.actor()),
        fingerprint: format!("{:016x}", fnv1a(&encoded)),
    }))
}
