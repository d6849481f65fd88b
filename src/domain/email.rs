//! E-mail addresses that are known to be valid, and the normalized form
//! under which uniqueness is decided.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::event::StreamId;

/// Longest address accepted (RFC 5321's path limit).
const MAX_LEN: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid e-mail address {input:?}: {reason}")]
pub struct InvalidEmail {
    pub input: String,
    pub reason: String,
}

/// A syntactically valid e-mail address, trimmed, as the user typed it.
/// Two addresses are the same user when their [`normalized`](Email::normalized)
/// forms are equal (case-insensitive).
#[derive(Debug, Clone)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Self, InvalidEmail> {
        let trimmed = input.trim();
        let invalid = |reason: &str| InvalidEmail {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        if trimmed.len() > MAX_LEN {
            return Err(invalid("longer than 254 characters"));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(invalid("holds a control character"));
        }
        let parsed = email_address::EmailAddress::parse_with_options(
            trimmed,
            email_address::Options::default()
                .without_display_text()
                .without_domain_literal(),
        )
        .map_err(|e| invalid(&e.to_string()))?;
        if !parsed.domain().contains('.') {
            return Err(invalid("the domain has no dot"));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Lowercase: the form compared for uniqueness.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }

    /// The stream that records which user holds this address. Named by a
    /// SHA-256 of the normalized address so the log's stream ids carry no
    /// personal data in the clear.
    pub fn claim_stream(&self) -> StreamId {
        let digest = Sha256::digest(self.normalized().as_bytes());
        StreamId::parse(format!("email-{}", hex::encode(digest)))
            .unwrap_or_else(|_| unreachable!("hex digests make valid stream ids"))
    }
}

impl PartialEq for Email {
    fn eq(&self, other: &Self) -> bool {
        self.normalized() == other.normalized()
    }
}

impl Eq for Email {}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// In events and the catalog: the address as text.
impl schemars::JsonSchema for Email {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Email".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "format": "email" })
    }
}

impl Serialize for Email {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Email::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_addresses_parse_and_compare_case_insensitively() {
        let a = Email::parse("  Alice@Example.COM ").unwrap();
        assert_eq!(a.as_str(), "Alice@Example.COM");
        assert_eq!(a, Email::parse("alice@example.com").unwrap());
        assert_eq!(
            a.claim_stream(),
            Email::parse("ALICE@example.com").unwrap().claim_stream()
        );
        assert!(a.claim_stream().as_str().starts_with("email-"));
    }

    #[test]
    fn invalid_addresses_are_refused() {
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "a b@example.com",
            "alice@localhost",
            "Alice <alice@example.com>",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }
}
