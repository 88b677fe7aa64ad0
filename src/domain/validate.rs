//! Field validation shared by every request. Each check returns an
//! INVALID_ARGUMENT naming the field, so callers can collect them.

use super::error::{Error, Result};
use super::model::Service;

/// W3: the maximum of every field of every request, in Unicode characters
/// for strings and in items for repeated fields (`docs/limits.md` and
/// the proto comments say the same). They keep one resource, and every
/// reply that is not a list, far under 1 MiB: the largest resource, a
/// customer, is at most a few KiB.
pub const MAX_ID_CHARS: usize = 64;
pub const MAX_ETAG_CHARS: usize = 64;
pub const MAX_REQUEST_ID_CHARS: usize = 128;
pub const MAX_PAGE_TOKEN_CHARS: usize = 512;
pub const MAX_MPN_ID_CHARS: usize = 10;
/// Display, company, offer and person names; company-name prefixes.
pub const MAX_NAME_CHARS: usize = 200;
/// Domains and domain prefixes (a DNS name's own limit).
pub const MAX_DOMAIN_CHARS: usize = 253;
pub const MAX_EMAIL_CHARS: usize = 254;
/// A BCP 47 tag as a whole (RFC 5646 asks implementations for 35).
pub const MAX_CULTURE_CHARS: usize = 35;
pub const MAX_LANGUAGE_CHARS: usize = 3;
pub const MAX_SERVICE_CHARS: usize = 32;
pub const MAX_INVITATION_CODE_CHARS: usize = 64;
pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_MASK_PATHS: usize = 10;
/// G4: RevokeDelegatedAdmin's note.
pub const MAX_NOTE_CHARS: usize = 500;
pub const MAX_MASK_PATH_CHARS: usize = 64;
/// Delegated admin services named in one request (there are three).
pub const MAX_SERVICES: usize = 3;
/// Delegated admin scopes named in one request (there are two).
pub const MAX_SCOPES: usize = 2;
/// R1: delegated admin roles named in one request or grant (there are six).
pub const MAX_ROLES: usize = 6;

/// W3: a string of at most `max` Unicode characters.
pub fn max_chars(field: &str, value: &str, max: usize) -> Result<()> {
    // Bytes bound characters from above: most values need no counting.
    if value.len() <= max || value.chars().count() <= max {
        Ok(())
    } else {
        Err(Error::invalid(field, format!("must be at most {max} characters")))
    }
}

/// W3: a repeated field of at most `max` items.
pub fn max_items(field: &str, len: usize, max: usize) -> Result<()> {
    if len <= max {
        Ok(())
    } else {
        Err(Error::invalid(field, format!("must hold at most {max} items")))
    }
}

/// A server-assigned id: a UUID, returned in canonical lower-case form.
pub fn id(field: &str, value: &str) -> Result<String> {
    if value.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    uuid::Uuid::parse_str(value)
        .map(|uuid| uuid.hyphenated().to_string())
        .map_err(|_| Error::invalid(field, "must be a UUID"))
}

/// G4: an optional free-text note (empty or blank: none), at most
/// `MAX_NOTE_CHARS`, without control characters other than line breaks
/// and tabs; stored trimmed.
pub fn note(field: &str, value: &str) -> Result<Option<String>> {
    max_chars(field, value, MAX_NOTE_CHARS)?;
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Error::invalid(field, "must not hold control characters"));
    }
    let trimmed = value.trim();
    Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
}

/// An optional id: empty means absent.
pub fn optional_id(field: &str, value: &str) -> Result<Option<String>> {
    if value.is_empty() {
        Ok(None)
    } else {
        id(field, value).map(Some)
    }
}

/// P1: an MPN id is 6 to 10 digits.
pub fn mpn_id(field: &str, value: &str) -> Result<()> {
    if (6..=10).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(Error::invalid(field, "must be 6 to 10 digits"))
    }
}

/// A human-readable name: 1 to 200 characters, no control characters, not
/// only white space.
pub fn name(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    if value.chars().count() > MAX_NAME_CHARS {
        return Err(Error::invalid(
            field,
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// C3: a DNS name of at least two labels; returned in lower case, since
/// domains are unique regardless of case.
pub fn domain(field: &str, value: &str) -> Result<String> {
    let lower = value.to_ascii_lowercase();
    let invalid = |why: &str| Err(Error::invalid(field, why.to_owned()));
    if lower.is_empty() {
        return invalid("is required");
    }
    max_chars(field, value, MAX_DOMAIN_CHARS)?;
    let labels: Vec<&str> = lower.split('.').collect();
    if labels.len() < 2 {
        return invalid("must be a DNS name with at least two labels, e.g. contoso.cn");
    }
    for label in &labels {
        let bytes = label.as_bytes();
        if bytes.is_empty() || bytes.len() > 63 {
            return invalid("each label must be 1 to 63 characters");
        }
        if !bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        {
            return invalid("may hold only letters, digits, hyphens and dots");
        }
        if bytes[0] == b'-' || bytes[bytes.len() - 1] == b'-' {
            return invalid("a label must not start or end with a hyphen");
        }
    }
    if labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
        return invalid("the top-level label must not be numeric");
    }
    Ok(lower)
}

/// A plain mailbox address `local@domain`.
pub fn email(field: &str, value: &str) -> Result<()> {
    max_chars(field, value, MAX_EMAIL_CHARS)?;
    let Some((local, host)) = value.rsplit_once('@') else {
        return Err(Error::invalid(field, "must be an email address"));
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(
                    b,
                    b'@' | b'"' | b'(' | b')' | b',' | b':' | b';' | b'<' | b'>' | b'[' | b']' | b'\\'
                )
        });
    if value.len() > 254 || !local_ok || domain(field, host).is_err() {
        return Err(Error::invalid(field, "must be an email address"));
    }
    Ok(())
}

/// A BCP 47 culture such as `zh-CN`, at most `MAX_CULTURE_CHARS` as a
/// whole (W3); empty is allowed.
pub fn culture(field: &str, value: &str) -> Result<()> {
    max_chars(field, value, MAX_CULTURE_CHARS)?;
    let mut parts = value.split('-');
    let language_ok = parts
        .next()
        .is_some_and(|l| (2..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_alphabetic()));
    let rest_ok = parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    if value.is_empty() || (language_ok && rest_ok) {
        Ok(())
    } else {
        Err(Error::invalid(field, "must be a culture such as zh-CN"))
    }
}

/// An ISO 639 language code such as `zh`; empty is allowed.
pub fn language(field: &str, value: &str) -> Result<()> {
    max_chars(field, value, MAX_LANGUAGE_CHARS)?;
    if value.is_empty() || ((2..=3).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphabetic())) {
        Ok(())
    } else {
        Err(Error::invalid(field, "must be a language code such as zh"))
    }
}

pub fn service(field: &str, value: &str) -> Result<Service> {
    Service::parse(value).ok_or_else(|| Error::invalid(field, "must be one of office365, azure, dynamics365"))
}

pub fn quantity(field: &str, value: i32) -> Result<()> {
    if (1..=1_000_000).contains(&value) {
        Ok(())
    } else {
        Err(Error::invalid(field, "must be between 1 and 1000000"))
    }
}

/// AIP-155: an optional client-chosen id that makes a create retryable.
pub fn request_id(field: &str, value: &str) -> Result<Option<String>> {
    if value.is_empty() {
        return Ok(None);
    }
    max_chars(field, value, MAX_REQUEST_ID_CHARS)?;
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::invalid(field, "must be printable ASCII"));
    }
    Ok(Some(value.to_owned()))
}

/// A case-insensitive prefix filter, folded to lower case.
pub fn prefix(field: &str, value: &str, max: usize) -> Result<String> {
    max_chars(field, value, max)?;
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(value.to_lowercase())
}

/// W3: a client's value quoted in an error, cut to a readable length.
pub fn echo_short(value: &str) -> String {
    const MAX_ECHO_CHARS: usize = 64;
    if value.chars().count() <= MAX_ECHO_CHARS {
        value.to_owned()
    } else {
        format!("{}…", value.chars().take(MAX_ECHO_CHARS).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains() {
        assert_eq!(domain("d", "Contoso.CN").unwrap(), "contoso.cn");
        assert!(domain("d", "a-b.example.com").is_ok());
        for bad in ["", "nodot", "-a.cn", "a-.cn", "a..cn", "a b.cn", "a.123", "é.cn"] {
            assert!(domain("d", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_and_codes() {
        assert!(email("e", "li.wei@contoso.cn").is_ok());
        for bad in ["", "a", "@a.cn", "a@", "a b@c.cn", "a@nodot"] {
            assert!(email("e", bad).is_err(), "{bad}");
        }
        assert!(mpn_id("m", "123456").is_ok());
        assert!(mpn_id("m", "12345").is_err());
        assert!(mpn_id("m", "12345678901").is_err());
        assert!(mpn_id("m", "12345a").is_err());
        assert!(culture("c", "zh-CN").is_ok());
        assert!(culture("c", "zh_CN").is_err());
        // W3: the whole value is bounded, not only each subtag.
        assert!(culture("c", &format!("zh{}", "-abcdefgh".repeat(4))).is_err());
        assert!(culture("c", &format!("zh{}", "-abcdefgh".repeat(3))).is_ok());
        assert!(language("l", "zh").is_ok());
        assert!(language("l", "chinese").is_err());
        assert!(id("i", "not-a-uuid").is_err());
    }
}
