//! Keyset pagination (AIP-158): an opaque token holds the last key served and
//! a fingerprint of the filters it was issued for, so a page costs the same
//! on page 1 and page 10,000 and a token cannot be replayed with other filters.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::{Error, Result};

pub const DEFAULT_PAGE_SIZE: u64 = 50;
pub const MAX_PAGE_SIZE: u64 = 1000;
/// W3: the most a page's items may take, well inside the 4 MiB default
/// maximum message size: a page ends before the item that would pass it.
/// One item is at most a few KiB under the field limits (older rows stored
/// before them may be larger, and still fit one to a page).
pub const MAX_PAGE_BYTES: usize = 2 << 20;
/// A repeated message field's tag and length prefix, at most.
const ITEM_FRAMING_BYTES: usize = 6;

/// One page of a list (AIP-158): the items and the token of the next page,
/// empty at the end.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: String,
}

/// An upper bound of a value's protobuf size, for cutting pages by bytes
/// in the use-case layer, which knows no protobuf: its JSON encoding,
/// which spends at least as many bytes on every field (names, quotes,
/// enum names, times as text) as the binary encoding does.
pub fn json_len<T: serde::Serialize>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    match serde_json::to_writer(&mut count, value) {
        Ok(()) => count.0,
        // Cannot happen for the model's types; a page of one then.
        Err(_) => MAX_PAGE_BYTES,
    }
}

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
    pub fn finish<T>(&self, rows: Vec<T>, key: impl Fn(&T) -> String) -> (Vec<T>, String) {
        self.finish_within(rows, key, |_| 0)
    }

    /// W3: trims the fetched rows to the page by count and by bytes: the
    /// page ends before the row that would take it past `MAX_PAGE_BYTES`
    /// (`size` is a row's encoded size), yet holds at least one row. The
    /// next token continues right after the last row kept.
    pub fn finish_within<T>(
        &self,
        mut rows: Vec<T>,
        key: impl Fn(&T) -> String,
        size: impl Fn(&T) -> usize,
    ) -> (Vec<T>, String) {
        let mut keep = rows.len().min(self.size as usize);
        let mut bytes = 0;
        for (i, row) in rows.iter().take(keep).enumerate() {
            bytes += size(row) + ITEM_FRAMING_BYTES;
            if i > 0 && bytes > MAX_PAGE_BYTES {
                keep = i;
                break;
            }
        }
        if rows.len() > keep {
            rows.truncate(keep);
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

impl PageRequest {
    /// `finish_within` sized by `json_len`, as a `Page`.
    pub fn page<T: serde::Serialize>(&self, rows: Vec<T>, key: impl Fn(&T) -> String) -> Page<T> {
        let (items, next_page_token) = self.finish_within(rows, key, json_len);
        Page { items, next_page_token }
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
    fn w3_a_page_is_cut_by_bytes_and_holds_at_least_one_row() {
        let page = PageRequest::parse(1000, "", "f").unwrap();
        let rows: Vec<(String, usize)> = (0..10).map(|i| (format!("k{i}"), MAX_PAGE_BYTES / 3)).collect();
        let (kept, token) = page.finish_within(rows.clone(), |r| r.0.clone(), |r| r.1);
        assert_eq!(kept.len(), 2, "a third more would pass the budget");
        let next = PageRequest::parse(1000, &token, "f").unwrap();
        assert_eq!(next.after.as_deref(), Some("k1"), "continues after the last row kept");

        let huge = vec![("a".to_owned(), MAX_PAGE_BYTES * 2), ("b".to_owned(), 1)];
        let (kept, token) = page.finish_within(huge, |r| r.0.clone(), |r| r.1);
        assert_eq!(kept.len(), 1, "one row even beyond the budget");
        assert!(!token.is_empty());

        let small = vec![("a".to_owned(), 10)];
        let (kept, token) = page.finish_within(small, |r| r.0.clone(), |r| r.1);
        assert_eq!((kept.len(), token.as_str()), (1, ""));
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
