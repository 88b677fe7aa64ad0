//! H5: Standard Webhooks 1.0 signatures. A receiver verifies
//! `webhook-signature` with any of the endpoint's secrets, so during a
//! rotation (H9) every live secret signs and the header carries one
//! `v1,<base64>` per secret.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The prefix Standard Webhooks gives a signing secret.
const SECRET_PREFIX: &str = "whsec_";

/// H5: the bytes of a new secret.
const SECRET_BYTES: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    /// Sending unsigned would let anyone forge the endpoint's events.
    #[error("no signing secret: an attempt is never sent unsigned (H5)")]
    NoSecret,
    /// The secret itself is never in the message: it may be close to valid.
    #[error("signing secret #{index} is not `whsec_` followed by standard base64 (H5)")]
    MalformedSecret { index: usize },
}

/// H5: a new signing secret, `whsec_` and the standard base64 of 32 random
/// bytes from the operating system; an error only if its random source
/// fails (no secret is better than a guessable one).
pub fn new_secret() -> Result<String, String> {
    let mut key = [0u8; SECRET_BYTES];
    getrandom::fill(&mut key)
        .map_err(|e| format!("the operating system's random source failed ({e}): no signing secret made"))?;
    Ok(format!("{SECRET_PREFIX}{}", STANDARD.encode(key)))
}

/// H5: the `webhook-signature` value: for each secret, `v1,` and the
/// standard base64 of HMAC-SHA256 over `{msg_id}.{timestamp}.{body}`, keyed
/// by the base64-decoded part after `whsec_`; joined by single spaces.
pub fn signature(secrets: &[&str], msg_id: &str, timestamp: i64, body: &[u8]) -> Result<String, SigningError> {
    if secrets.is_empty() {
        return Err(SigningError::NoSecret);
    }
    let signed_prefix = format!("{msg_id}.{timestamp}.");
    let mut signatures = Vec::with_capacity(secrets.len());
    for (index, secret) in secrets.iter().enumerate() {
        let key = decode_secret(secret).ok_or(SigningError::MalformedSecret { index })?;
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&key).map_err(|_| SigningError::MalformedSecret { index })?;
        mac.update(signed_prefix.as_bytes());
        mac.update(body);
        signatures.push(format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes())));
    }
    Ok(signatures.join(" "))
}

/// The HMAC key of a secret; None when it is not `whsec_<base64>` of at
/// least one byte (an empty key would sign with nothing secret).
fn decode_secret(secret: &str) -> Option<Vec<u8>> {
    let encoded = secret.strip_prefix(SECRET_PREFIX)?;
    STANDARD.decode(encoded).ok().filter(|key| !key.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h5_the_standard_webhooks_reference_vector_is_reproduced() {
        // The Standard Webhooks reference vector, recomputed with Python:
        // base64.b64encode(hmac.new(base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        //   b'msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}',
        //   hashlib.sha256).digest())
        let got = signature(
            &["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .expect("a valid secret");
        assert_eq!(got, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn h5_a_secret_of_32_bytes_signs_as_python_computes() {
        // key = bytes(range(32)); computed with Python:
        // base64.b64encode(hmac.new(key, b'evt_42.1700000000.{"type":"customer.created"}',
        //   hashlib.sha256).digest())
        let got = signature(
            &["whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="],
            "evt_42",
            1700000000,
            br#"{"type":"customer.created"}"#,
        )
        .expect("a valid secret");
        assert_eq!(got, "v1,MASjU8uxqERynLDLgXWLVs2T1We50oj6kVb+KeOEVA0=");
    }

    #[test]
    fn h5_two_secrets_give_two_signatures_separated_by_one_space() {
        let current = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let previous = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"type":"customer.created"}"#;
        let both = signature(&[current, previous], "evt_42", 1700000000, body).expect("valid secrets");
        let one = signature(&[current], "evt_42", 1700000000, body).expect("a valid secret");
        let other = signature(&[previous], "evt_42", 1700000000, body).expect("a valid secret");
        assert_eq!(both, format!("{one} {other}"));
        assert_eq!(both.split(' ').count(), 2);
        assert!(both.split(' ').all(|part| part.starts_with("v1,")));
    }

    #[test]
    fn h5_a_malformed_secret_is_an_error_that_does_not_show_it() {
        let good = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        for bad in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_not base64!",
            "whsec_",
            "whsk_AAAA",
        ] {
            let err = signature(&[good, bad], "evt_1", 1, b"{}").expect_err("a malformed secret");
            assert_eq!(err, SigningError::MalformedSecret { index: 1 });
            // A fixed text: nothing of the secret is in it.
            assert_eq!(
                err.to_string(),
                "signing secret #1 is not `whsec_` followed by standard base64 (H5)"
            );
        }
    }

    #[test]
    fn h5_no_secret_is_an_error() {
        assert_eq!(signature(&[], "evt_1", 1, b"{}"), Err(SigningError::NoSecret));
    }

    #[test]
    fn h5_a_new_secret_is_whsec_and_32_random_bytes() {
        let secret = new_secret().expect("a secret");
        let key = decode_secret(&secret).expect("whsec_ and base64");
        assert_eq!(key.len(), SECRET_BYTES);
        assert_ne!(new_secret().expect("a secret"), secret);
        assert!(signature(&[&secret], "evt_1", 1, b"{}").is_ok());
    }
}
