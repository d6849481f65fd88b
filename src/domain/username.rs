//! Usernames: an optional handle besides the e-mail address (the
//! PacketFabric seed edits "user information, including username"),
//! unique among live users like an address.
//!
//! Parsed, not validated: 3 to 32 characters of lowercase ASCII letters,
//! digits, `.`, `_` and `-`, starting with a letter or a digit. Parsing
//! trims and lowercases, so `Ada.L` and `ada.l` are one username, and the
//! claim stream is named by a SHA-256 of that form (no personal data in
//! stream ids). The placeholder of an erased username (`erased-<hex>`, see
//! `privacy::fields`) is itself a valid username, so erased events still
//! decode.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::event::StreamId;

const MIN_LEN: usize = 3;
const MAX_LEN: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "invalid username {input:?}: 3 to 32 characters of letters, digits, '.', '_' and '-', \
     starting with a letter or a digit"
)]
pub struct InvalidUsername {
    pub input: String,
}

/// A valid username, lowercased.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Username(String);

impl Username {
    pub fn parse(input: &str) -> Result<Self, InvalidUsername> {
        let name = input.trim().to_ascii_lowercase();
        let allowed =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-');
        let starts_well = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !(MIN_LEN..=MAX_LEN).contains(&name.len()) || !starts_well || !name.chars().all(allowed)
        {
            return Err(InvalidUsername {
                input: input.to_owned(),
            });
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The stream that records which user holds this username.
    pub fn claim_stream(&self) -> StreamId {
        let digest = Sha256::digest(self.0.as_bytes());
        StreamId::parse(format!("username-{}", hex::encode(digest)))
            .unwrap_or_else(|_| unreachable!("hex digests make valid stream ids"))
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// In events and the catalog: the lowercased username.
impl schemars::JsonSchema for Username {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Username".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{2,31}$" })
    }
}

impl Serialize for Username {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Username {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Username::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lowercased_and_share_a_claim_stream() {
        let a = Username::parse("  Ada.Lovelace_1 ").unwrap();
        assert_eq!(a.as_str(), "ada.lovelace_1");
        assert_eq!(a, Username::parse("ADA.LOVELACE_1").unwrap());
        assert_eq!(
            a.claim_stream(),
            Username::parse("ada.lovelace_1").unwrap().claim_stream()
        );
        assert!(a.claim_stream().as_str().starts_with("username-"));
        for good in ["abc", "9lives", "a-b", &"x".repeat(32)] {
            assert!(Username::parse(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn invalid_usernames_are_refused() {
        for bad in [
            "",
            "ab",
            &"x".repeat(33),
            ".ada",
            "_ada",
            "-ada",
            "ada lovelace",
            "ada@home",
            "adä",
            "[erased]",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn the_erased_placeholder_is_a_username() {
        let placeholder = crate::privacy::fields::Kind::Username.erased(&[
            crate::privacy::subject::Subject::user(crate::domain::ids::UserId(uuid::Uuid::nil())),
        ]);
        assert!(Username::parse(&placeholder).is_ok(), "{placeholder}");
    }
}
