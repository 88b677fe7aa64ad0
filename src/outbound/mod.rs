//! The outbound side of webhooks (H2, H5, H6): the HTTP client that posts
//! to an endpoint, the Standard Webhooks signature, and the sealing of
//! signing secrets at rest. Plain infrastructure: it knows nothing of gRPC
//! or the store, so the dispatcher and SendTestWebhook share it.
//!
//! - `client`: one attempt, SSRF-guarded at connect time (H2), classified
//!   for the retry schedule (H6).
//! - `signing`: `webhook-signature` over `id.timestamp.body` (H5).
//! - `sealing`: secrets encrypted under the server's key, bound to their
//!   endpoint, so a copy of the database alone does not forge signatures.

pub mod client;
pub mod sealing;
pub mod signing;

pub use client::{Attempt, ClientOptions, WebhookClient};
pub use sealing::SecretSealer;
pub use signing::{SigningError, new_secret, signature};
