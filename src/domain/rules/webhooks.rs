//! H2: where a webhook may be sent. An endpoint's URL is checked when it
//! is registered (`endpoint_url`), and every address its host resolves to
//! is checked again at each attempt (`forbidden_address`), so a name that
//! later resolves inside the network is refused at connect time too. Only
//! the hosts of the server's allow-list (configuration, never the API)
//! escape both; they may also use http (tests reach their receiver so).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::domain::error::Violations;
use crate::domain::model::{Micros, WebhookEndpoint};
use crate::domain::{Error, ErrorCode, Reason, Result};

/// H2: the longest endpoint URL, in characters.
pub const MAX_ENDPOINT_URL: usize = 2048;

/// H2: why an address may not be reached, or None when it may.
pub fn forbidden_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private (RFC 1918)")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared address space (CGNAT)")
    } else if ip.is_multicast() || ip.is_broadcast() {
        Some("multicast or broadcast")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    // IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible
    // (::a.b.c.d) forms reach the IPv4 address they carry.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let first = ip.segments()[0];
    if ip.is_unspecified() {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if first & 0xfe00 == 0xfc00 {
        Some("private (fc00::/7)")
    } else if first & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if ip.segments()[..6] == [0; 6] {
        Some("IPv4-compatible")
    } else {
        None
    }
}

/// A URL H2 admits: its host (lower case; an IP literal as the address it
/// denotes) and port, and whether the allow-list let it through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointUrl {
    pub url: String,
    pub host: String,
    pub port: u16,
    pub allow_listed: bool,
}

fn url_refused(field: &str, description: impl Into<String>) -> Error {
    Error::invalid(field, description)
}

/// H2: `https://host…`, no userinfo or fragment, at most 2048 characters;
/// an IP literal in a forbidden range is ENDPOINT_URL_FORBIDDEN. Hosts in
/// `allow_hosts` (exact, case-insensitive) may be anything and use http.
/// IPv4 literals are read as the WHATWG URL standard reads them, so the
/// decimal (`2130706433`), octal (`0177.0.0.1`) and hex forms are the
/// addresses they denote.
pub fn endpoint_url(field: &str, raw: &str, allow_hosts: &[String]) -> Result<EndpointUrl> {
    let length = raw.chars().count();
    if length == 0 {
        return Err(url_refused(field, "required: an https:// URL"));
    }
    if length > MAX_ENDPOINT_URL {
        return Err(url_refused(
            field,
            format!("at most {MAX_ENDPOINT_URL} characters (H2)"),
        ));
    }
    let parsed =
        url::Url::parse(raw).map_err(|e| url_refused(field, format!("not a URL ({e}): give https://host/path")))?;
    let host = match parsed.host() {
        Some(url::Host::Domain(name)) => name.to_ascii_lowercase(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(url_refused(field, "the URL has no host: give https://host/path")),
    };
    let allow_listed = allow_hosts.iter().any(|allowed| allowed.eq_ignore_ascii_case(&host));
    match parsed.scheme() {
        "https" => {}
        "http" if allow_listed => {}
        scheme => {
            return Err(url_refused(
                field,
                format!("the scheme is {scheme}: webhooks are sent over https:// only (H2)"),
            ));
        }
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(url_refused(
            field,
            "no user or password in the URL (H2): authenticate the webhook by its signature",
        ));
    }
    if parsed.fragment().is_some() {
        return Err(url_refused(field, "no #fragment in the URL (H2)"));
    }
    if !allow_listed {
        let literal = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(why) = literal.and_then(forbidden_address) {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                Reason::EndpointUrlForbidden,
                format!("the URL's host {host} is a {why} address, which webhooks never reach (H2)"),
            )
            .with_violation(field, format!("a {why} address")));
        }
    }
    let port = parsed.port_or_known_default().unwrap_or(443);
    Ok(EndpointUrl {
        url: parsed.to_string(),
        host,
        port,
        allow_listed,
    })
}

/// H10 and every other rule's events: the types an endpoint may filter on.
/// `WriteTx::record` checks every event it appends is one of them.
pub const EVENT_TYPES: &[&str] = &[
    "partner.created",
    "partner.updated",
    "partner_link.created",
    "partner_link.accepted",
    "partner_link.declined",
    "partner_link.expired",
    "partner_link.revoked",
    "partner_link.suspended",
    "partner_link.resumed",
    "customer.created",
    "customer.updated",
    "subscription.created",
    "subscription.updated",
    "relationship_request.created",
    "relationship_request.updated",
    "relationship_request.accepted",
    "relationship_request.revoked",
    "relationship_request.expired",
    "relationship.created",
    "relationship.ended",
    "grant.created",
    "grant.updated",
    "grant.extended",
    "grant.expiring",
    "grant.expired",
    "grant.revoked",
    "grant.replaced",
    "grant.superseded",
    "transfer.created",
    "transfer.updated",
    "transfer.completed",
    "transfer.rejected",
    "transfer.cancelled",
    "transfer.expired",
    "security_group.created",
    "security_group.updated",
    "security_group.deleted",
    "access_assignment.created",
    "access_assignment.updated",
    "access_assignment.ended",
    "webhook_endpoint.created",
    "webhook_endpoint.updated",
    "webhook_endpoint.secret_rotated",
    "webhook_endpoint.disabled",
    "webhook_endpoint.deleted",
];

/// H10: the type of a test send, never an event of the log.
pub const TEST_EVENT_TYPE: &str = "webhook.test";

/// H1: the most endpoints one owner (a partner, or the operator) keeps.
pub const MAX_ENDPOINTS_PER_OWNER: u64 = 10;
/// H1: the most event types one endpoint filters on.
pub const MAX_EVENT_TYPES: usize = 50;
/// H1 (W3): an event type filter's most characters.
pub const MAX_EVENT_TYPE_CHARS: usize = 128;
/// H1 (W3): a description's most characters.
pub const MAX_ENDPOINT_DESCRIPTION: usize = 500;
/// H6: UNORDERED deliveries in flight at once: 1-50, 10 unless set.
pub const MAX_IN_FLIGHT: i32 = 50;
pub const DEFAULT_MAX_IN_FLIGHT: i32 = 10;
/// H9: the longest overlap of a rotated secret, and the one unless set.
pub const MAX_OVERLAP: std::time::Duration = std::time::Duration::from_secs(7 * 86_400);
pub const DEFAULT_OVERLAP: std::time::Duration = std::time::Duration::from_secs(86_400);
/// H4: how long an attempt is leased to the replica that makes it.
pub const LEASE: std::time::Duration = std::time::Duration::from_secs(60);
/// H6: the retries after the first attempt (±20 % jitter).
pub const RETRY_SCHEDULE: [std::time::Duration; 9] = {
    use std::time::Duration;
    const MIN: u64 = 60;
    const HOUR: u64 = 3600;
    [
        Duration::from_secs(5),
        Duration::from_secs(5 * MIN),
        Duration::from_secs(30 * MIN),
        Duration::from_secs(2 * HOUR),
        Duration::from_secs(5 * HOUR),
        Duration::from_secs(10 * HOUR),
        Duration::from_secs(14 * HOUR),
        Duration::from_secs(20 * HOUR),
        Duration::from_secs(24 * HOUR),
    ]
};
/// H6: the jitter of each retry, as a fraction of its step.
pub const RETRY_JITTER: f64 = 0.2;
/// H6: the longest Retry-After honoured.
pub const MAX_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(86_400);
/// H7: attempts all failing this long disable the endpoint.
pub const DISABLE_AFTER: std::time::Duration = std::time::Duration::from_secs(5 * 86_400);

/// H1: whether `filter` is a known event type or `prefix.*` over one.
fn event_type_form(filter: &str) -> std::result::Result<(), String> {
    let chars = filter.chars().count();
    if chars == 0 || chars > MAX_EVENT_TYPE_CHARS {
        return Err(format!("must be 1 to {MAX_EVENT_TYPE_CHARS} characters"));
    }
    if let Some(prefix) = filter.strip_suffix(".*") {
        let dotted = format!("{prefix}.");
        if !prefix.is_empty() && EVENT_TYPES.iter().any(|known| known.starts_with(&dotted)) {
            return Ok(());
        }
        return Err(format!(
            "'{}' matches no event type: a prefix is the part before a dot, e.g. grant.*",
            crate::domain::validate::echo_short(filter)
        ));
    }
    if EVENT_TYPES.contains(&filter) {
        Ok(())
    } else {
        Err(format!(
            "'{}' is not an event type: give one such as grant.created, or a prefix such as grant.*",
            crate::domain::validate::echo_short(filter)
        ))
    }
}

/// H1: an endpoint's event type filters: at most 50, each a known type or
/// `prefix.*`, no two alike; every one at fault named (`{field}[i]`).
pub fn event_type_filters(field: &str, filters: &[String]) -> Result<Vec<String>> {
    if filters.len() > MAX_EVENT_TYPES {
        return Err(Error::invalid(
            field,
            format!("at most {MAX_EVENT_TYPES} event types, not {}", filters.len()),
        ));
    }
    let mut violations = Violations::default();
    for (i, filter) in filters.iter().enumerate() {
        let at = format!("{field}[{i}]");
        if let Err(why) = event_type_form(filter) {
            violations.add(at, why);
        } else if filters[..i].contains(filter) {
            violations.add(at, "is already listed");
        }
    }
    violations.into_result()?;
    Ok(filters.to_vec())
}

/// H1 (W3): a description of at most 500 characters.
pub fn endpoint_description(field: &str, value: &str) -> Result<String> {
    crate::domain::validate::max_chars(field, value, MAX_ENDPOINT_DESCRIPTION)?;
    Ok(value.to_owned())
}

/// H6: `max_in_flight`, 1-50; unset, 10.
pub fn max_in_flight(field: &str, value: Option<i32>) -> Result<i32> {
    match value {
        None => Ok(DEFAULT_MAX_IN_FLIGHT),
        Some(n @ 1..=MAX_IN_FLIGHT) => Ok(n),
        Some(n) => Err(Error::invalid(field, format!("must be 1 to {MAX_IN_FLIGHT}, not {n}"))),
    }
}

/// H1, W1: an owner keeping `kept` endpoints may add one while it keeps
/// fewer than 10; decided inside the write that adds it.
pub fn check_endpoint_limit(kept: u64) -> Result<()> {
    if kept >= MAX_ENDPOINTS_PER_OWNER {
        return Err(Error::new(
            ErrorCode::ResourceExhausted,
            Reason::EndpointLimitReached,
            format!("the owner keeps {kept} webhook endpoints, the most it may; delete one first"),
        ));
    }
    Ok(())
}

/// H3: whether an endpoint's filters admit an event (its audience is
/// decided by the store: the owner's events as ListEvents gives them).
pub fn filters_admit(endpoint: &WebhookEndpoint, event_type: &str, customer_id: Option<&str>) -> bool {
    let type_admitted = endpoint.event_types.is_empty()
        || endpoint
            .event_types
            .iter()
            .any(|filter| match filter.strip_suffix('*') {
                Some(prefix) => event_type.starts_with(prefix),
                None => filter == event_type,
            });
    let customer_admitted = match &endpoint.customer_id {
        None => true,
        Some(wanted) => customer_id == Some(wanted.as_str()),
    };
    type_admitted && customer_admitted
}

/// H9: a rotation inside an open overlap is refused, unless it is one of
/// overlap 0 (a compromised secret: every old one stops at once).
pub fn check_rotation(endpoint: &WebhookEndpoint, now: Micros, overlap: std::time::Duration) -> Result<()> {
    let open = endpoint.previous_secret_expire_time.is_some_and(|end| end > now);
    if open && !overlap.is_zero() {
        return Err(Error::failed_precondition(
            Reason::RotationInProgress,
            "the previous secret still signs beside the current one; wait for previous_secret_expire_time, or rotate with overlap 0 to stop the old secrets at once",
        ));
    }
    Ok(())
}

/// H9: an overlap of 0 to 7 days.
pub fn rotation_overlap(field: &str, overlap: std::time::Duration) -> Result<std::time::Duration> {
    if overlap > MAX_OVERLAP {
        return Err(Error::invalid(field, "must be at most 7 days (604800s)"));
    }
    Ok(overlap)
}

/// H8: a replay starts at or below the cursor.
pub fn check_replay(endpoint: &WebhookEndpoint, after_seq: i64) -> Result<()> {
    if after_seq > endpoint.cursor_seq {
        return Err(Error::failed_precondition(
            Reason::AfterSeqAhead,
            format!(
                "after_seq {after_seq} is above the endpoint's cursor_seq {}: nothing there was delivered yet",
                endpoint.cursor_seq
            ),
        ));
    }
    Ok(())
}

/// H6: when the attempt after `attempts_made` failed ones is due, or None
/// when the schedule is spent (the delivery is FAILED). `unit` in [0, 1)
/// picks the jitter; `retry_after` (after 429, 502, 504) may push it later,
/// never past 24 h.
pub fn next_attempt_delay(
    schedule: &[std::time::Duration],
    jitter: f64,
    attempts_made: usize,
    unit: f64,
    retry_after: Option<std::time::Duration>,
) -> Option<std::time::Duration> {
    let step = *schedule.get(attempts_made.checked_sub(1)?)?;
    let factor = 1.0 + jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
    let jittered = step.mul_f64(factor.max(0.0));
    Some(match retry_after {
        Some(asked) => jittered.max(asked.min(MAX_RETRY_AFTER)),
        None => jittered,
    })
}

/// H6: the statuses after which Retry-After is honoured.
pub fn honours_retry_after(status: u16) -> bool {
    matches!(status, 429 | 502 | 504)
}

/// H5: the webhook-id of an event's deliveries, the same on every retry
/// and replay.
pub fn webhook_id(seq: i64) -> String {
    format!("evt_{seq}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(ip: &str) -> Option<&'static str> {
        forbidden_address(ip.parse().expect("an address"))
    }

    #[test]
    fn h2_every_internal_range_is_refused_and_public_addresses_pass() {
        for (ip, why) in [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("10.1.2.3", "private (RFC 1918)"),
            ("172.16.0.1", "private (RFC 1918)"),
            ("172.31.255.255", "private (RFC 1918)"),
            ("192.168.1.1", "private (RFC 1918)"),
            ("169.254.169.254", "link-local"),
            ("100.64.0.1", "shared address space (CGNAT)"),
            ("100.127.255.255", "shared address space (CGNAT)"),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "unspecified"),
            ("224.0.0.1", "multicast or broadcast"),
            ("255.255.255.255", "multicast or broadcast"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fc00::1", "private (fc00::/7)"),
            ("fd12:3456::1", "private (fc00::/7)"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private (RFC 1918)"),
            ("::ffff:169.254.169.254", "link-local"),
            ("::7f00:1", "IPv4-compatible"),
        ] {
            assert_eq!(refused(ip), Some(why), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "192.169.0.1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert_eq!(refused(ip), None, "{ip}");
        }
    }

    #[test]
    fn h2_an_endpoint_url_is_https_without_userinfo_or_fragment() {
        let ok = endpoint_url("url", "https://hooks.example.com/partner?x=1", &[]).expect("admitted");
        assert_eq!(
            (ok.host.as_str(), ok.port, ok.allow_listed),
            ("hooks.example.com", 443, false)
        );
        for (url, says) in [
            ("", "required"),
            ("http://hooks.example.com/", "https:// only"),
            ("ftp://hooks.example.com/", "https:// only"),
            ("https://user:pw@hooks.example.com/", "no user or password"),
            ("https://user@hooks.example.com/", "no user or password"),
            ("https://hooks.example.com/#part", "no #fragment"),
            ("not a url", "not a URL"),
        ] {
            let error = endpoint_url("url", url, &[]).expect_err(url);
            assert_eq!(error.code, ErrorCode::InvalidArgument, "{url}");
            assert_eq!(error.reason, Reason::InvalidField, "{url}");
            assert!(error.violations[0].description.contains(says), "{url}: {error:?}");
        }
        let long = format!("https://hooks.example.com/{}", "a".repeat(MAX_ENDPOINT_URL));
        let error = endpoint_url("url", &long, &[]).expect_err("too long");
        assert!(error.violations[0].description.contains("2048"), "{error:?}");
        let longest = format!("https://hooks.example.com/{}", "a".repeat(MAX_ENDPOINT_URL - 26));
        assert_eq!(longest.chars().count(), MAX_ENDPOINT_URL);
        endpoint_url("url", &longest, &[]).expect("2048 characters pass");
    }

    #[test]
    fn h2_ip_literals_in_every_spelling_are_checked() {
        for url in [
            "https://127.0.0.1/",
            "https://2130706433/",
            "https://0177.0.0.1/",
            "https://0x7f.0.0.1/",
            "https://127.1/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:7f00:1]/",
            "https://10.0.0.1:8443/",
            "https://169.254.169.254/latest/meta-data",
            "https://[fd00::1]/",
        ] {
            let error = endpoint_url("url", url, &[]).expect_err(url);
            assert_eq!(error.reason, Reason::EndpointUrlForbidden, "{url}");
            assert_eq!(error.violations[0].field, "url", "{url}");
        }
        endpoint_url("url", "https://1.1.1.1/", &[]).expect("a public literal");
    }

    #[test]
    fn h2_only_allow_listed_hosts_escape_the_guard_and_may_use_http() {
        let allow = vec!["127.0.0.1".to_owned(), "Receiver.Test".to_owned()];
        let ok = endpoint_url("url", "http://127.0.0.1:8080/hook", &allow).expect("allow-listed");
        assert_eq!((ok.host.as_str(), ok.port, ok.allow_listed), ("127.0.0.1", 8080, true));
        endpoint_url("url", "http://receiver.test/hook", &allow).expect("case-insensitive");
        // Another spelling of an allowed address is not on the list.
        assert_eq!(
            endpoint_url("url", "https://2130706433/", &["2130706433".to_owned()])
                .map(|u| u.host)
                .ok(),
            None
        );
        assert_eq!(
            endpoint_url("url", "http://127.0.0.2/", &allow)
                .expect_err("not listed")
                .reason,
            Reason::InvalidField
        );
        // Userinfo stays refused even for allowed hosts.
        assert!(endpoint_url("url", "http://u:p@127.0.0.1/", &allow).is_err());
    }

    #[test]
    fn h6_the_schedule_with_jitter_and_retry_after() {
        use std::time::Duration;
        let schedule = &RETRY_SCHEDULE;
        // After the first failed attempt: 5 s, moved by at most 20 %.
        assert_eq!(
            next_attempt_delay(schedule, 0.2, 1, 0.5, None),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            next_attempt_delay(schedule, 0.2, 1, 0.0, None),
            Some(Duration::from_secs(4))
        );
        assert_eq!(
            next_attempt_delay(schedule, 0.2, 1, 1.0, None),
            Some(Duration::from_secs(6))
        );
        assert_eq!(
            next_attempt_delay(schedule, 0.0, 9, 0.9, None),
            Some(Duration::from_secs(86_400))
        );
        // The tenth failure spends the schedule: the delivery is FAILED.
        assert_eq!(next_attempt_delay(schedule, 0.0, 10, 0.5, None), None);
        // Retry-After pushes later, never past 24 h, never earlier.
        let later = Some(Duration::from_secs(600));
        assert_eq!(
            next_attempt_delay(schedule, 0.0, 1, 0.5, later),
            Some(Duration::from_secs(600))
        );
        let far = Some(Duration::from_secs(5 * 86_400));
        assert_eq!(
            next_attempt_delay(schedule, 0.0, 1, 0.5, far),
            Some(Duration::from_secs(86_400))
        );
        let sooner = Some(Duration::from_secs(1));
        assert_eq!(
            next_attempt_delay(schedule, 0.0, 2, 0.5, sooner),
            Some(Duration::from_secs(300))
        );
        assert!(honours_retry_after(429) && honours_retry_after(502) && honours_retry_after(504));
        assert!(!honours_retry_after(503) && !honours_retry_after(500));
    }

    #[test]
    fn h1_event_type_filters_are_known_types_or_prefixes() {
        let ok: Vec<String> = ["grant.*", "customer.created", "webhook_endpoint.disabled"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(event_type_filters("f", &ok).ok(), Some(ok.clone()));
        let bad: Vec<String> = ["grant.exploded", "*", "gr.*", "grant.*", "grant.*"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let fields: Vec<String> = event_type_filters("f", &bad)
            .err()
            .map(|e| e.violations.into_iter().map(|v| v.field).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["f[0]", "f[1]", "f[2]", "f[4]"]);
        let many: Vec<String> = (0..51).map(|_| "grant.created".to_owned()).collect();
        assert!(event_type_filters("f", &many).is_err());
        assert_eq!(max_in_flight("m", None).ok(), Some(DEFAULT_MAX_IN_FLIGHT));
        assert!(max_in_flight("m", Some(0)).is_err());
        assert!(max_in_flight("m", Some(51)).is_err());
        assert_eq!(max_in_flight("m", Some(50)).ok(), Some(50));
        assert_eq!(
            check_endpoint_limit(10).err().map(|e| e.reason),
            Some(Reason::EndpointLimitReached)
        );
    }

    #[test]
    fn h3_filters_admit_by_type_prefix_and_customer() {
        use crate::domain::model::{DeliveryMode, EndpointState};
        let mut endpoint = WebhookEndpoint {
            id: "e".into(),
            partner_id: Some("p".into()),
            url: "https://h.example/".into(),
            description: String::new(),
            event_types: Vec::new(),
            customer_id: None,
            delivery_mode: DeliveryMode::Ordered,
            max_in_flight: 10,
            state: EndpointState::Active,
            disabled_reason: None,
            cursor_seq: 0,
            previous_secret_expire_time: None,
            version: 1,
            create_time: 0,
            update_time: 0,
            delete_time: None,
        };
        assert!(filters_admit(&endpoint, "grant.created", None));
        endpoint.event_types = vec!["grant.*".into(), "customer.created".into()];
        assert!(filters_admit(&endpoint, "grant.revoked", Some("c")));
        assert!(filters_admit(&endpoint, "customer.created", None));
        assert!(!filters_admit(&endpoint, "customer.updated", None));
        assert!(!filters_admit(&endpoint, "grantx.created", None));
        endpoint.customer_id = Some("c".into());
        assert!(filters_admit(&endpoint, "grant.revoked", Some("c")));
        assert!(!filters_admit(&endpoint, "grant.revoked", Some("d")));
        assert!(!filters_admit(&endpoint, "grant.revoked", None));
    }
}
