//! H2: where a webhook may be sent. An endpoint's URL is checked when it
//! is registered (`endpoint_url`), and every address its host resolves to
//! is checked again at each attempt (`forbidden_address`), so a name that
//! later resolves inside the network is refused at connect time too. Only
//! the hosts of the server's allow-list (configuration, never the API)
//! escape both; they may also use http (tests reach their receiver so).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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

fn url_refused(description: impl Into<String>) -> Error {
    Error::invalid("url", description)
}

/// H2: `https://host…`, no userinfo or fragment, at most 2048 characters;
/// an IP literal in a forbidden range is ENDPOINT_URL_FORBIDDEN. Hosts in
/// `allow_hosts` (exact, case-insensitive) may be anything and use http.
/// IPv4 literals are read as the WHATWG URL standard reads them, so the
/// decimal (`2130706433`), octal (`0177.0.0.1`) and hex forms are the
/// addresses they denote.
pub fn endpoint_url(raw: &str, allow_hosts: &[String]) -> Result<EndpointUrl> {
    let length = raw.chars().count();
    if length == 0 {
        return Err(url_refused("required: an https:// URL"));
    }
    if length > MAX_ENDPOINT_URL {
        return Err(url_refused(format!("at most {MAX_ENDPOINT_URL} characters (H2)")));
    }
    let parsed = url::Url::parse(raw).map_err(|e| url_refused(format!("not a URL ({e}): give https://host/path")))?;
    let host = match parsed.host() {
        Some(url::Host::Domain(name)) => name.to_ascii_lowercase(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(url_refused("the URL has no host: give https://host/path")),
    };
    let allow_listed = allow_hosts.iter().any(|allowed| allowed.eq_ignore_ascii_case(&host));
    match parsed.scheme() {
        "https" => {}
        "http" if allow_listed => {}
        scheme => {
            return Err(url_refused(format!(
                "the scheme is {scheme}: webhooks are sent over https:// only (H2)"
            )));
        }
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(url_refused(
            "no user or password in the URL (H2): authenticate the webhook by its signature",
        ));
    }
    if parsed.fragment().is_some() {
        return Err(url_refused("no #fragment in the URL (H2)"));
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
            .with_violation("url", format!("a {why} address")));
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
        let ok = endpoint_url("https://hooks.example.com/partner?x=1", &[]).expect("admitted");
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
            let error = endpoint_url(url, &[]).expect_err(url);
            assert_eq!(error.code, ErrorCode::InvalidArgument, "{url}");
            assert_eq!(error.reason, Reason::InvalidField, "{url}");
            assert!(error.violations[0].description.contains(says), "{url}: {error:?}");
        }
        let long = format!("https://hooks.example.com/{}", "a".repeat(MAX_ENDPOINT_URL));
        let error = endpoint_url(&long, &[]).expect_err("too long");
        assert!(error.violations[0].description.contains("2048"), "{error:?}");
        let longest = format!("https://hooks.example.com/{}", "a".repeat(MAX_ENDPOINT_URL - 26));
        assert_eq!(longest.chars().count(), MAX_ENDPOINT_URL);
        endpoint_url(&longest, &[]).expect("2048 characters pass");
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
            let error = endpoint_url(url, &[]).expect_err(url);
            assert_eq!(error.reason, Reason::EndpointUrlForbidden, "{url}");
            assert_eq!(error.violations[0].field, "url", "{url}");
        }
        endpoint_url("https://1.1.1.1/", &[]).expect("a public literal");
    }

    #[test]
    fn h2_only_allow_listed_hosts_escape_the_guard_and_may_use_http() {
        let allow = vec!["127.0.0.1".to_owned(), "Receiver.Test".to_owned()];
        let ok = endpoint_url("http://127.0.0.1:8080/hook", &allow).expect("allow-listed");
        assert_eq!((ok.host.as_str(), ok.port, ok.allow_listed), ("127.0.0.1", 8080, true));
        endpoint_url("http://receiver.test/hook", &allow).expect("case-insensitive");
        // Another spelling of an allowed address is not on the list.
        assert_eq!(
            endpoint_url("https://2130706433/", &["2130706433".to_owned()])
                .map(|u| u.host)
                .ok(),
            None
        );
        assert_eq!(
            endpoint_url("http://127.0.0.2/", &allow)
                .expect_err("not listed")
                .reason,
            Reason::InvalidField
        );
        // Userinfo stays refused even for allowed hosts.
        assert!(endpoint_url("http://u:p@127.0.0.1/", &allow).is_err());
    }
}
