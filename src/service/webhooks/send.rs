//! H5: one signed POST, as every attempt and the test send make it.

use std::time::Duration;

use crate::domain::model::Micros;
use crate::domain::{Error, Result};
use crate::outbound::{Attempt, SecretSealer, WebhookClient, signing};
use crate::store::SealedSecrets;

/// H5, H9: the secrets that sign now, opened: the current one, and the
/// previous one while its overlap lasts.
pub(super) fn signing_secrets(
    sealer: &SecretSealer,
    endpoint_id: &str,
    sealed: &SealedSecrets,
    now: Micros,
) -> Result<Vec<String>> {
    let open = |value: &str| {
        sealer.open(value, endpoint_id).map_err(|why| {
            Error::internal(format!(
                "the signing secret of webhook endpoint {endpoint_id} does not open ({why}): the server's webhook secret key is not the one that sealed it"
            ))
        })
    };
    let mut secrets = vec![open(&sealed.current)?];
    if let Some((previous, until)) = &sealed.previous
        && *until > now
    {
        secrets.push(open(previous)?);
    }
    Ok(secrets)
}

/// H5: `{"type","timestamp","data"}` with `data` already encoded.
pub(super) fn body(event_type: &str, time: Micros, data: serde_json::Value) -> Result<Vec<u8>> {
    let at = std::time::UNIX_EPOCH + Duration::from_micros(u64::try_from(time).unwrap_or_default());
    let payload = serde_json::json!({
        "type": event_type,
        "timestamp": humantime::format_rfc3339_micros(at).to_string(),
        "data": data,
    });
    serde_json::to_vec(&payload).map_err(|error| Error::internal(format!("a webhook body does not encode: {error}")))
}

/// H2, H5: posts `body` signed with every secret under `webhook_id`, the
/// attempt's time as `webhook-timestamp`.
pub(super) async fn post(
    client: &WebhookClient,
    url: &str,
    webhook_id: &str,
    now: Micros,
    secrets: &[String],
    body: Vec<u8>,
) -> Result<Attempt> {
    let timestamp = now.div_euclid(1_000_000);
    let keys: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let signature = signing::signature(&keys, webhook_id, timestamp, &body)
        .map_err(|error| Error::internal(format!("a webhook signature failed: {error}")))?;
    let headers = [
        ("webhook-id", webhook_id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
        ("content-type", "application/json".to_owned()),
    ];
    Ok(client.post(url, &headers, body).await)
}
