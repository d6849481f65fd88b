//! Sealing one personal value: ChaCha20-Poly1305 under a key derived from
//! the keys of the value's subjects.
//!
//! - **Key**: SHA-256 of `"portal-ledger/seal-key/v1\0"` followed by each
//!   subject key (32 bytes) in the order the sealed value lists its
//!   subjects. Destroying *any* of them makes the value unreadable, which is
//!   what a value naming several people needs.
//! - **Nonce**: the first 12 bytes of SHA-256 of
//!   `"portal-ledger/seal-nonce/v1\0"`, the event id (16 bytes) and the
//!   field's path (e.g. `payload.email`). An event id names one immutable
//!   event, so a (key, nonce) pair never seals two different plaintexts, and
//!   sealing the same event again (an idempotent retry) gives the same bytes.
//! - **Text form**: base64url without padding of ciphertext ‖ tag.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::ChaCha20Poly1305;
use sha2::{Digest, Sha256};
use thiserror::Error;
use uuid::Uuid;

/// Bytes in a subject key.
pub const KEY_LEN: usize = 32;

/// One subject's secret key. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SubjectKey([u8; KEY_LEN]);

impl std::fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubjectKey(..)")
    }
}

impl SubjectKey {
    /// A fresh random key from the operating system.
    pub fn generate() -> Result<Self, CipherError> {
        let mut bytes = [0u8; KEY_LEN];
        getrandom::fill(&mut bytes).map_err(|e| CipherError::Random(e.to_string()))?;
        Ok(Self(bytes))
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum CipherError {
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    #[error("sealed value is not base64url")]
    NotBase64,
    #[error("sealed value does not open with its subjects' keys (altered or wrong key)")]
    Unauthentic,
    #[error("sealed value is not UTF-8 text")]
    NotText,
    #[error("a sealed value needs at least one subject")]
    NoSubject,
}

fn cipher(keys: &[&SubjectKey]) -> Result<ChaCha20Poly1305, CipherError> {
    if keys.is_empty() {
        return Err(CipherError::NoSubject);
    }
    let mut hasher = Sha256::new();
    hasher.update(b"portal-ledger/seal-key/v1\0");
    for key in keys {
        hasher.update(key.as_bytes());
    }
    let derived: [u8; 32] = hasher.finalize().into();
    Ok(ChaCha20Poly1305::new(&derived.into()))
}

fn nonce(event_id: Uuid, path: &str) -> [u8; 12] {
    let mut hasher = Sha256::new();
    hasher.update(b"portal-ledger/seal-nonce/v1\0");
    hasher.update(event_id.as_bytes());
    hasher.update(path.as_bytes());
    let digest: [u8; 32] = hasher.finalize().into();
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&digest[..12]);
    nonce
}

/// Seals `plaintext`, the value at `path` of event `event_id`.
pub fn seal(
    keys: &[&SubjectKey],
    event_id: Uuid,
    path: &str,
    plaintext: &str,
) -> Result<String, CipherError> {
    let sealed = cipher(keys)?
        .encrypt(&nonce(event_id, path).into(), plaintext.as_bytes())
        .map_err(|_| CipherError::Unauthentic)?;
    Ok(URL_SAFE_NO_PAD.encode(sealed))
}

/// Opens what [`seal`] made with the same keys, event id and path.
pub fn open(
    keys: &[&SubjectKey],
    event_id: Uuid,
    path: &str,
    sealed: &str,
) -> Result<String, CipherError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(sealed)
        .map_err(|_| CipherError::NotBase64)?;
    let plain = cipher(keys)?
        .decrypt(&nonce(event_id, path).into(), bytes.as_slice())
        .map_err(|_| CipherError::Unauthentic)?;
    String::from_utf8(plain).map_err(|_| CipherError::NotText)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SubjectKey {
        SubjectKey([byte; KEY_LEN])
    }

    #[test]
    fn opens_with_the_same_keys_event_and_path_only() {
        let (a, b) = (key(1), key(2));
        let id = Uuid::from_u128(7);
        let sealed = seal(&[&a, &b], id, "payload.email", "ann@example.com").unwrap();
        assert_eq!(
            open(&[&a, &b], id, "payload.email", &sealed).unwrap(),
            "ann@example.com"
        );
        // `@` and `.` are outside base64url: only a leak could put them there.
        assert!(!sealed.contains("ann@example.com") && !sealed.contains('@'));
        let wrong = [
            open(&[&a], id, "payload.email", &sealed),
            open(&[&b, &a], id, "payload.email", &sealed),
            open(&[&a, &b], Uuid::from_u128(8), "payload.email", &sealed),
            open(&[&a, &b], id, "payload.name", &sealed),
        ];
        for attempt in wrong {
            assert_eq!(attempt, Err(CipherError::Unauthentic));
        }
    }

    #[test]
    fn sealing_is_deterministic_per_event_and_path() {
        let a = key(3);
        let id = Uuid::from_u128(9);
        let once = seal(&[&a], id, "metadata.ip", "203.0.113.9").unwrap();
        assert_eq!(once, seal(&[&a], id, "metadata.ip", "203.0.113.9").unwrap());
        assert_ne!(
            once,
            seal(&[&a], id, "metadata.user_agent", "203.0.113.9").unwrap()
        );
    }

    #[test]
    fn a_changed_byte_is_detected() {
        let a = key(4);
        let id = Uuid::from_u128(10);
        let sealed = seal(&[&a], id, "payload.name", "Ann").unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        bytes[0] ^= 1;
        let altered = URL_SAFE_NO_PAD.encode(bytes);
        assert_eq!(
            open(&[&a], id, "payload.name", &altered),
            Err(CipherError::Unauthentic)
        );
        assert_eq!(
            open(&[], id, "payload.name", &sealed),
            Err(CipherError::NoSubject)
        );
    }
}
