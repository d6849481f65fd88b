//! Opaque bearer tokens for sessions: `<session id>.<secret>`.
//!
//! The session id says which `session-…` stream to read; the secret is 256
//! random bits whose SHA-256 the `session.opened` event stores. A token is
//! checked against that hash in constant time.

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;
use uuid::Uuid;

use crate::domain::ids::SessionId;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TokenError {
    #[error("malformed session token")]
    Malformed,
    #[error("no randomness available: {0}")]
    Random(String),
}

/// A session token as the client holds it. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken {
    pub session_id: SessionId,
    secret: [u8; 32],
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SessionToken({}.…)", self.session_id)
    }
}

impl SessionToken {
    /// A new token for a new session.
    pub fn generate() -> Result<Self, TokenError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| TokenError::Random(e.to_string()))?;
        Ok(Self {
            session_id: SessionId(Uuid::now_v7()),
            secret,
        })
    }

    pub fn parse(text: &str) -> Result<Self, TokenError> {
        let (id, secret) = text.split_once('.').ok_or(TokenError::Malformed)?;
        let session_id = SessionId(Uuid::parse_str(id).map_err(|_| TokenError::Malformed)?);
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(secret)
            .map_err(|_| TokenError::Malformed)?;
        let secret = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| TokenError::Malformed)?;
        Ok(Self { session_id, secret })
    }

    /// The text the client sends as `Authorization: Bearer …`.
    pub fn reveal(&self) -> String {
        format!(
            "{}.{}",
            self.session_id.0.simple(),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.secret)
        )
    }

    /// What the log stores: SHA-256 of the secret, lowercase hex.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.secret))
    }

    /// Whether this token's secret matches a stored hash (constant time).
    pub fn matches(&self, stored_hash: &str) -> bool {
        self.hash().as_bytes().ct_eq(stored_hash.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_match_only_their_hash() {
        let token = SessionToken::generate().unwrap();
        let parsed = SessionToken::parse(&token.reveal()).unwrap();
        assert_eq!(parsed, token);
        assert!(parsed.matches(&token.hash()));
        let other = SessionToken::generate().unwrap();
        assert!(!other.matches(&token.hash()));
        assert!(!format!("{token:?}").contains(&token.reveal()[33..]));
        for bad in [
            "",
            "abc",
            "not-a-uuid.AAAA",
            &format!("{}.short", token.session_id.0.simple()),
        ] {
            assert_eq!(SessionToken::parse(bad), Err(TokenError::Malformed));
        }
    }
}
