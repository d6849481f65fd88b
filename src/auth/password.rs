//! Passwords: a newtype that only holds acceptable ones, argon2id hashing,
//! and generated one-time passwords.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use base64::Engine;
use thiserror::Error;

/// Shortest password accepted, in characters.
pub const MIN_LEN: usize = 10;
/// Longest password accepted, in bytes (argon2 is slow on purpose; a huge
/// input should not make it slower).
pub const MAX_BYTES: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PasswordError {
    #[error("passwords must have at least {MIN_LEN} characters")]
    TooShort,
    #[error("passwords may have at most {MAX_BYTES} bytes")]
    TooLong,
    #[error("hashing failed: {0}")]
    Hashing(String),
}

/// A password that meets the policy. Its `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

impl Password {
    pub fn parse(text: &str) -> Result<Self, PasswordError> {
        if text.len() > MAX_BYTES {
            return Err(PasswordError::TooLong);
        }
        if text.chars().count() < MIN_LEN {
            return Err(PasswordError::TooShort);
        }
        Ok(Self(text.to_owned()))
    }

    /// A random one-time password (24 URL-safe characters, 144 bits).
    pub fn generate() -> Result<Self, PasswordError> {
        let mut bytes = [0u8; 18];
        getrandom::fill(&mut bytes).map_err(|e| PasswordError::Hashing(e.to_string()))?;
        Ok(Self(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        ))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The argon2id PHC string to store.
    pub fn hash(&self) -> Result<String, PasswordError> {
        Argon2::default()
            .hash_password(self.0.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| PasswordError::Hashing(e.to_string()))
    }
}

/// Whether `candidate` matches a stored PHC string. Any malformed hash is a
/// mismatch.
pub fn verify(candidate: &str, stored: &str) -> bool {
    if candidate.len() > MAX_BYTES {
        return false;
    }
    PasswordHash::new(stored).ok().is_some_and(|hash| {
        Argon2::default()
            .verify_password(candidate.as_bytes(), &hash)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_is_enforced() {
        assert_eq!(Password::parse("short"), Err(PasswordError::TooShort));
        assert_eq!(
            Password::parse(&"x".repeat(MAX_BYTES + 1)),
            Err(PasswordError::TooLong)
        );
        assert!(Password::parse("correct horse battery").is_ok());
        assert_eq!(
            format!("{:?}", Password::parse("correct horse battery").unwrap()),
            "Password(…)"
        );
    }

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let password = Password::parse("correct horse battery").unwrap();
        let a = password.hash().unwrap();
        let b = password.hash().unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b);
        assert!(verify("correct horse battery", &a));
        assert!(!verify("correct horse batterY", &a));
        assert!(!verify("anything", "not a hash"));
        let generated = Password::generate().unwrap();
        assert_eq!(generated.expose().len(), 24);
        assert_ne!(generated, Password::generate().unwrap());
    }
}
