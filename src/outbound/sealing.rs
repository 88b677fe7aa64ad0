//! H5: signing secrets at rest. The store keeps each endpoint's secrets
//! sealed under the server's key (XChaCha20-Poly1305), bound to the
//! endpoint's id as associated data, so a copy of the database alone does
//! not sign events and a sealed secret copied to another row does not open.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;

/// The version tag of the sealed format, so a later key or cipher can be
/// told apart from this one.
const SEALED_PREFIX: &str = "v1.";
const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;
const TAG_BYTES: usize = 16;
/// Key material shorter than this is too weak to derive a key from.
const MIN_KEY_MATERIAL: usize = 16;
const HKDF_INFO: &[u8] = b"partnercenter webhook signing secrets v1";

/// H5: seals and opens signing secrets under one server key.
#[derive(Clone)]
pub struct SecretSealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretSealer {
    // The key must never reach a log through a `{:?}` of a config or state.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretSealer").field("key", &"<redacted>").finish()
    }
}

impl SecretSealer {
    /// The key is always derived from `key` (16 bytes of material or more)
    /// with HKDF-SHA256 under this use's own label, so material shared
    /// with another use (the token secret, when no webhook key is set)
    /// never serves as a cipher key as it is.
    pub fn from_key(key: &[u8]) -> Result<Self, String> {
        if key.len() < MIN_KEY_MATERIAL {
            return Err(format!(
                "the sealing key has {} bytes: give at least {MIN_KEY_MATERIAL} (e.g. `openssl rand -base64 32`)",
                key.len()
            ));
        }
        let mut derived = [0u8; KEY_BYTES];
        Hkdf::<Sha256>::new(None, key)
            .expand(HKDF_INFO, &mut derived)
            .map_err(|e| format!("the sealing key could not be derived: {e}"))?;
        let cipher =
            XChaCha20Poly1305::new_from_slice(&derived).map_err(|_| "the sealing key is not 32 bytes".to_string())?;
        Ok(Self { cipher })
    }

    /// `v1.` and base64url (no padding) of a random 24-byte nonce and the
    /// ciphertext of `plaintext`, bound to `context` (the endpoint's id).
    /// Fails only if the operating system's random source does (a repeated
    /// nonce would reveal the secrets: nothing is sealed without a fresh one).
    pub fn seal(&self, plaintext: &str, context: &str) -> Result<String, String> {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce)
            .map_err(|e| format!("the operating system's random source failed ({e}): nothing sealed"))?;
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: context.as_bytes(),
        };
        let ciphertext = self
            .cipher
            .encrypt(&XNonce::from(nonce), payload)
            .map_err(|_| format!("XChaCha20-Poly1305 refused a secret of {} bytes", plaintext.len()))?;
        let mut sealed = Vec::with_capacity(NONCE_BYTES + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(sealed)))
    }

    /// The plaintext `seal` was given with this key and `context`; an error
    /// for any other key, context, or a changed byte. The errors say what
    /// is wrong, never what the value holds.
    pub fn open(&self, sealed: &str, context: &str) -> Result<String, String> {
        let encoded = sealed
            .strip_prefix(SEALED_PREFIX)
            .ok_or_else(|| "the sealed secret is not of format v1".to_string())?;
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| "the sealed secret is not base64url".to_string())?;
        if bytes.len() < NONCE_BYTES + TAG_BYTES {
            return Err("the sealed secret is too short".to_string());
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let nonce = XNonce::try_from(nonce).map_err(|_| "the sealed secret's nonce is not 24 bytes".to_string())?;
        let payload = Payload {
            msg: ciphertext,
            aad: context.as_bytes(),
        };
        let plaintext = self.cipher.decrypt(&nonce, payload).map_err(|_| {
            "the sealed secret does not open: another key, another endpoint, or changed bytes".to_string()
        })?;
        String::from_utf8(plaintext).map_err(|_| "the opened secret is not UTF-8".to_string())
    }
}

/// I3: the store seals invitation codes with the same key, each bound to
/// its invitation (a context no endpoint id takes).
impl crate::domain::ports::SecretBox for SecretSealer {
    fn seal(&self, plaintext: &str, context: &str) -> Result<String, String> {
        SecretSealer::seal(self, plaintext, context)
    }

    fn open(&self, sealed: &str, context: &str) -> Result<String, String> {
        SecretSealer::open(self, sealed, context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn sealer(byte: u8) -> SecretSealer {
        SecretSealer::from_key(&[byte; KEY_BYTES]).expect("32 bytes of material")
    }

    #[test]
    fn h5_a_sealed_secret_opens_with_its_key_and_context() {
        let sealer = sealer(7);
        let sealed = sealer.seal(SECRET, "we_1").expect("sealed");
        assert!(sealed.starts_with("v1."));
        assert_eq!(sealer.open(&sealed, "we_1").as_deref(), Ok(SECRET));
        // A fresh nonce each time: two seals of one secret differ.
        assert_ne!(sealer.seal(SECRET, "we_1").expect("sealed"), sealed);
    }

    #[test]
    fn h5_a_sealed_secret_moved_to_another_endpoint_does_not_open() {
        let sealer = sealer(7);
        let sealed = sealer.seal(SECRET, "we_1").expect("sealed");
        assert!(sealer.open(&sealed, "we_2").is_err());
    }

    #[test]
    fn h5_a_tampered_sealed_secret_does_not_open() {
        let sealer = sealer(7);
        let sealed = sealer.seal(SECRET, "we_1").expect("sealed");
        let mut bytes = URL_SAFE_NO_PAD
            .decode(&sealed[SEALED_PREFIX.len()..])
            .expect("base64url");
        for index in [0, NONCE_BYTES, bytes.len() - 1] {
            bytes[index] ^= 1;
            let tampered = format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(&bytes));
            assert!(sealer.open(&tampered, "we_1").is_err(), "byte {index} changed");
            bytes[index] ^= 1;
        }
        assert!(sealer.open(&sealed[..sealed.len() - 4], "we_1").is_err());
        assert!(sealer.open(&sealed.replacen("v1.", "v2.", 1), "we_1").is_err());
        assert!(sealer.open("v1.", "we_1").is_err());
        assert!(sealer.open("v1.!!!", "we_1").is_err());
    }

    #[test]
    fn h5_a_sealed_secret_does_not_open_under_another_key() {
        let sealed = sealer(7).seal(SECRET, "we_1").expect("sealed");
        assert!(sealer(8).open(&sealed, "we_1").is_err());
        let derived = SecretSealer::from_key(b"a passphrase of some length").expect("16 bytes or more");
        assert!(derived.open(&sealed, "we_1").is_err());
    }

    #[test]
    fn h5_the_sealed_form_and_the_errors_never_contain_the_secret() {
        let sealer = sealer(7);
        let sealed = sealer.seal(SECRET, "we_1").expect("sealed");
        assert!(!sealed.contains(SECRET));
        assert!(!sealed.contains(&SECRET["whsec_".len()..]));
        let err = sealer.open(&sealed, "we_2").expect_err("another context");
        assert!(!err.contains(SECRET));
        assert!(!format!("{sealer:?}").contains("7, 7"));
    }

    #[test]
    fn h5_the_key_is_derived_from_16_or_more_bytes_of_material() {
        assert!(SecretSealer::from_key(&[1; 15]).is_err());
        assert!(SecretSealer::from_key(&[]).is_err());
        let short = SecretSealer::from_key(&[1; 16]).expect("derived");
        let long = SecretSealer::from_key(&[1; 64]).expect("derived");
        let sealed = short.seal(SECRET, "we_1").expect("sealed");
        assert_eq!(short.open(&sealed, "we_1").as_deref(), Ok(SECRET));
        assert!(long.open(&sealed, "we_1").is_err());
        // Derived keys are deterministic: the same material opens again.
        let again = SecretSealer::from_key(&[1; 16]).expect("derived");
        assert_eq!(again.open(&sealed, "we_1").as_deref(), Ok(SECRET));
    }
}
