//! The values of the configuration that are more than their type:
//! addresses, durations with their unit, peers' URLs, counts of at least one.

use std::net::SocketAddr;

use serde::{Deserialize, Deserializer};

/// HOST:PORT to one socket address; a host name is resolved (the first
/// address it has).
pub fn resolve_addr(text: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let mut addrs = text.to_socket_addrs().map_err(|error| {
        format!("'{text}' is not HOST:PORT with a known host: {error}; e.g. 127.0.0.1:50051 or localhost:50051")
    })?;
    addrs
        .next()
        .ok_or_else(|| format!("'{text}' resolves to no address; give an IP address and port"))
}

/// An address, HOST:PORT.
pub(super) fn address<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SocketAddr, D::Error> {
    let text = String::deserialize(deserializer)?;
    resolve_addr(&text).map_err(serde::de::Error::custom)
}

/// An address, or "off" (or "none") for none.
pub(super) mod optional_address {
    use std::net::SocketAddr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(addr: &Option<SocketAddr>, serializer: S) -> Result<S::Ok, S::Error> {
        match addr {
            Some(addr) => serializer.collect_str(addr),
            None => serializer.serialize_str("off"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<SocketAddr>, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.as_str() {
            "off" | "none" => Ok(None),
            address => super::resolve_addr(address)
                .map(Some)
                .map_err(|why| serde::de::Error::custom(format!("{why}, or \"off\""))),
        }
    }
}

/// A duration with its unit ("30s", "500ms", "1h 30m"), written as
/// humantime does; a bare number is refused, its unit being a guess.
pub(super) mod duration {
    use std::fmt;
    use std::time::Duration;

    pub use humantime_serde::serialize;
    use serde::Deserializer;
    use serde::de::{Error, Visitor};

    const EXAMPLES: &str = "e.g. \"30s\", \"500ms\" or \"1h\"";

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        struct WithUnit;
        impl Visitor<'_> for WithUnit {
            type Value = Duration;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                write!(formatter, "a duration with its unit, {EXAMPLES}")
            }

            fn visit_str<E: Error>(self, text: &str) -> Result<Duration, E> {
                humantime::parse_duration(text)
                    .map_err(|why| E::custom(format!("'{text}' is not a duration ({why}); write {EXAMPLES}")))
            }

            fn visit_u64<E: Error>(self, number: u64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "{number} has no unit; write a duration with its unit, e.g. \"{number}s\" or \"{number}ms\""
                )))
            }

            fn visit_i64<E: Error>(self, number: i64) -> Result<Duration, E> {
                Err(E::custom(format!("{number} is not a duration; write {EXAMPLES}")))
            }
        }
        deserializer.deserialize_any(WithUnit)
    }
}

/// Checks a peer's URL: http(s)://HOST:PORT; empty is none.
pub(super) fn peer_url(key: &str, url: Option<String>) -> Result<Option<String>, String> {
    let Some(url) = url.filter(|url| !url.is_empty()) else {
        return Ok(None);
    };
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    let valid = rest.is_some_and(|rest| {
        let authority = rest.trim_end_matches('/');
        !authority.is_empty()
            && !authority.contains('/')
            && authority
                .rsplit_once(':')
                .is_some_and(|(_, port)| port.parse::<u16>().is_ok())
    });
    if !valid {
        return Err(format!(
            "{key}: '{}' is not http://HOST:PORT (e.g. http://127.0.0.1:50052)",
            crate::domain::validate::echo_short(&url)
        ));
    }
    Ok(Some(url))
}

pub(super) fn at_least_one(values: &[(&str, u64)]) -> Result<(), String> {
    match values.iter().find(|(_, value)| *value == 0) {
        Some((name, _)) => Err(format!("{name} must be at least 1")),
        None => Ok(()),
    }
}
