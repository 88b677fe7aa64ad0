//! Keyset pagination (AIP-158): an opaque token holds the last key served and
//! a fingerprint of the filters it was issued for, so a page costs the same
//! on page 1 and page 10,000 and a token cannot be replayed with other filters.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::{Error, Result};

pub const DEFAULT_PAGE_SIZE: u64 = 50;
pub const MAX_PAGE_SIZE: u64 = 1000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub size: u64,
    /// Serve keys strictly after this one.
    pub after: Option<String>,
    fingerprint: u64,
}

impl PageRequest {
    /// `filters` must describe every filter of the list call (and the list
    /// itself), e.g. `"customers|acme|"`.
    pub fn parse(page_size: i32, page_token: &str, filters: &str) -> Result<Self> {
        let size = match page_size {
            n if n < 0 => return Err(Error::invalid("page_size", "must not be negative")),
            0 => DEFAULT_PAGE_SIZE,
            n => (n as u64).min(MAX_PAGE_SIZE),
        };
        let fingerprint = fnv1a(filters.as_bytes());
        let after = if page_token.is_empty() {
            None
        } else {
            Some(decode_token(page_token, fingerprint)?)
        };
        Ok(PageRequest {
            size,
            after,
            fingerprint,
        })
    }

    /// How many rows to fetch: one more than the page, to know if more follow.
    pub fn fetch_limit(&self) -> u64 {
        self.size + 1
    }

    /// Trims the fetched rows to the page and returns the next token
    /// (empty at the end).
    pub fn finish<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> String) -> (Vec<T>, String) {
        if rows.len() as u64 > self.size {
            rows.truncate(self.size as usize);
            let token = rows
                .last()
                .map(|last| encode_token(&key(last), self.fingerprint))
                .unwrap_or_default();
            (rows, token)
        } else {
            (rows, String::new())
        }
    }
}

fn encode_token(last_key: &str, fingerprint: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1.{fingerprint:016x}.{last_key}"))
}

fn decode_token(token: &str, fingerprint: u64) -> Result<String> {
    let invalid = || Error::invalid("page_token", "is not a token this list issued");
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let mut parts = text.splitn(3, '.');
    let (Some("v1"), Some(print), Some(last_key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    if print != format!("{fingerprint:016x}") {
        return Err(Error::invalid(
            "page_token",
            "was issued for other filters; repeat the filters of the first page",
        ));
    }
    Ok(last_key.to_owned())
}

/// FNV-1a: stable across builds and platforms, unlike std's hasher.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_defaults_and_caps() {
        assert_eq!(PageRequest::parse(0, "", "f").unwrap().size, 50);
        assert_eq!(PageRequest::parse(5000, "", "f").unwrap().size, 1000);
        assert!(PageRequest::parse(-1, "", "f").is_err());
    }

    #[test]
    fn token_round_trips_and_is_bound_to_filters() {
        let page = PageRequest::parse(2, "", "f").unwrap();
        let (rows, token) = page.finish(vec!["a", "b", "c"], |s| s.to_string());
        assert_eq!(rows, vec!["a", "b"]);
        let next = PageRequest::parse(2, &token, "f").unwrap();
        assert_eq!(next.after.as_deref(), Some("b"));
        assert!(PageRequest::parse(2, &token, "g").is_err());
        assert!(PageRequest::parse(2, "garbage!", "f").is_err());
    }
}
