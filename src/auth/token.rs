//! Opaque secret tokens: `<id>.<secret>`, for sessions and invitations.
//!
//! The id says which stream to read (`session-…`, `invitation-…`); the
//! secret is 256 random bits whose SHA-256 the stream's event stores
//! (`session.opened`, `invitation.created`). A token is checked against that
//! hash in constant time; the token itself is never stored.

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TokenError {
    #[error("malformed session token")]
    Malformed,
    #[error("no randomness available: {0}")]
    Random(String),
}

/// A token as its holder has it. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken {
    /// The id of what the token opens (a session, an invitation).
    pub id: Uuid,
    secret: [u8; 32],
}

impl std::fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretToken({}.…)", self.id)
    }
}

impl SecretToken {
    /// A new token with a new id.
    pub fn generate() -> Result<Self, TokenError> {
        Self::generate_for(Uuid::now_v7())
    }

    /// A new secret for an existing id (a resent invitation).
    pub fn generate_for(id: Uuid) -> Result<Self, TokenError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| TokenError::Random(e.to_string()))?;
        Ok(Self { id, secret })
    }

    pub fn parse(text: &str) -> Result<Self, TokenError> {
        let (id, secret) = text.split_once('.').ok_or(TokenError::Malformed)?;
        let id = Uuid::parse_str(id).map_err(|_| TokenError::Malformed)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(secret)
            .map_err(|_| TokenError::Malformed)?;
        let secret = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| TokenError::Malformed)?;
        Ok(Self { id, secret })
    }

    /// The text the client sends as `Authorization: Bearer …`.
    pub fn reveal(&self) -> String {
        format!(
            "{}.{}",
            self.id.simple(),
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
        let token = SecretToken::generate().unwrap();
        let parsed = SecretToken::parse(&token.reveal()).unwrap();
        assert_eq!(parsed, token);
        assert!(parsed.matches(&token.hash()));
        let other = SecretToken::generate().unwrap();
        assert!(!other.matches(&token.hash()));
        assert!(!format!("{token:?}").contains(&token.reveal()[33..]));
        for bad in [
            "",
            "abc",
            "not-a-uuid.AAAA",
            &format!("{}.short", token.id.simple()),
        ] {
            assert_eq!(SecretToken::parse(bad), Err(TokenError::Malformed));
        }
    }
}
