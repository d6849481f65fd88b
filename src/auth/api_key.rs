//! API keys as their holders have them:
//! `plk_<service account id><key id>.<secret>` — the two ids as 32 hex
//! digits each, the secret 256 random bits in URL-safe base64.
//!
//! Why the ids are in the key: authenticating reads one stream, the
//! service account's (where the key's hash, expiry and revocation are),
//! not an index that a rebuild or a lagging replica could get wrong. The
//! `plk_` start tells a key from a session token, and lets secret scanners
//! recognise a leaked one; everything before the `.` is the key's
//! [`prefix`](ApiKeyToken::prefix), shown in lists so a key found in the
//! wild can be named and revoked. As with sessions, the log stores only
//! the secret's SHA-256, compared in constant time.

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::auth::token::TokenError;
use crate::domain::ids::{ApiKeyId, ServiceAccountId};

/// How every API key starts.
pub const KEY_START: &str = "plk_";

/// An API key. `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyToken {
    pub service_account: ServiceAccountId,
    pub key: ApiKeyId,
    secret: [u8; 32],
}

impl std::fmt::Debug for ApiKeyToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeyToken({}.…)", self.prefix())
    }
}

impl ApiKeyToken {
    /// A new secret for `key` of `service_account`.
    pub fn generate(service_account: ServiceAccountId, key: ApiKeyId) -> Result<Self, TokenError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| TokenError::Random(e.to_string()))?;
        Ok(Self {
            service_account,
            key,
            secret,
        })
    }

    /// Whether `text` is meant as an API key (rather than a session token).
    pub fn looks_like(text: &str) -> bool {
        text.starts_with(KEY_START)
    }

    pub fn parse(text: &str) -> Result<Self, TokenError> {
        let rest = text.strip_prefix(KEY_START).ok_or(TokenError::Malformed)?;
        let (ids, secret) = rest.split_once('.').ok_or(TokenError::Malformed)?;
        if ids.len() != 64 || !ids.is_ascii() {
            return Err(TokenError::Malformed);
        }
        let (account, key) = ids.split_at(32);
        let id = |hex: &str| Uuid::try_parse(hex).map_err(|_| TokenError::Malformed);
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(secret)
            .map_err(|_| TokenError::Malformed)?;
        let secret = <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| TokenError::Malformed)?;
        Ok(Self {
            service_account: ServiceAccountId(id(account)?),
            key: ApiKeyId(id(key)?),
            secret,
        })
    }

    /// The part of the key that names it: everything but the secret.
    pub fn prefix(&self) -> String {
        prefix_of(self.service_account, self.key)
    }

    /// The text the client sends as `Authorization: Bearer …`.
    pub fn reveal(&self) -> String {
        format!(
            "{}.{}",
            self.prefix(),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.secret)
        )
    }

    /// What the log stores: SHA-256 of the secret, lowercase hex.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.secret))
    }

    /// Whether this key's secret matches a stored hash (constant time).
    pub fn matches(&self, stored_hash: &str) -> bool {
        self.hash().as_bytes().ct_eq(stored_hash.as_bytes()).into()
    }
}

/// The prefix of key `key` of `service_account` (see the module doc).
pub fn prefix_of(service_account: ServiceAccountId, key: ApiKeyId) -> String {
    format!(
        "{KEY_START}{}{}",
        service_account.0.simple(),
        key.0.simple()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_round_trips_and_only_its_own_secret_matches() {
        let key = ApiKeyToken::generate(ServiceAccountId(Uuid::now_v7()), ApiKeyId(Uuid::now_v7()))
            .unwrap();
        let text = key.reveal();
        assert!(ApiKeyToken::looks_like(&text));
        assert!(text.starts_with(&key.prefix()));
        let parsed = ApiKeyToken::parse(&text).unwrap();
        assert_eq!(parsed, key);
        assert!(parsed.matches(&key.hash()));
        let other = ApiKeyToken::generate(key.service_account, key.key).unwrap();
        assert!(!other.matches(&key.hash()));
        assert!(!format!("{key:?}").contains(&text[text.len() - 10..]));
    }

    #[test]
    fn malformed_keys_are_refused() {
        let good =
            ApiKeyToken::generate(ServiceAccountId(Uuid::now_v7()), ApiKeyId(Uuid::now_v7()))
                .unwrap()
                .reveal();
        for bad in [
            "",
            "plk_",
            "plk_abc.def",
            &good.replacen("plk_", "plx_", 1),
            &good[..good.len() - 2],
            &format!("{good}A"),
            &good.replacen('.', "", 1),
            &format!("{}é{}", &good[..10], &good[11..]),
        ] {
            assert_eq!(ApiKeyToken::parse(bad), Err(TokenError::Malformed), "{bad}");
        }
    }
}
