//! Numbers the log keeps exactly, or refuses.
//!
//! The log stores and hashes payloads in their RFC 8785 canonical form,
//! which writes every number as the shortest text of its nearest IEEE 754
//! double. A number whose text that form would not keep as the same value
//! — one no double holds (`9007199254740993`, a 64-bit id like
//! `12345678901234567890`, `0.1000000000000000055511151231257827`), or one a
//! double holds but whose shortest digits name another number
//! (`18100000000000728` is written `18100000000000730`) — would come back
//! as another number, hashed and exported as if it had always been that. An audit log must not change what it was given and
//! say nothing, so every entry point (HTTP bodies, import lines, any value
//! made into a [`crate::event::JsonObject`]) asks [`first_inexact`] and
//! refuses such a number, naming where it is and how to carry it: as a
//! string.
//!
//! "Exactly" is about the value, not the spelling: `1.50`, `15e-1` and
//! `1.5` are one number, which the canonical form writes `1.5`.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::value::RawValue;
use serde_json::Value;

/// The largest integer every integer up to which a double holds exactly.
const EXACT_INTEGERS: u64 = 1 << 53;

/// A number the canonical form would change, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InexactNumber {
    /// Where it is, as a path from the top: `payload.amount`, `ids[2]`.
    pub path: String,
    /// The number as it was written.
    pub literal: String,
    /// What the canonical form would store instead (none: no double at all).
    pub canonical: Option<String>,
}

impl fmt::Display for InexactNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.path.is_empty() {
            String::new()
        } else {
            format!("{}: ", self.path)
        };
        match &self.canonical {
            Some(stored) => write!(
                f,
                "{at}the number {} cannot be stored exactly (the canonical JSON form keeps numbers \
                 as IEEE 754 doubles and would store {stored}); send it as a string",
                self.literal
            ),
            None => write!(
                f,
                "{at}the number {} is beyond what a JSON number can hold here; send it as a string",
                self.literal
            ),
        }
    }
}

/// Whether every number of `value` is an integer within ±2^53 — exact
/// whatever its text (the common case, checked without re-reading text).
pub fn only_exact_integers(value: &Value) -> bool {
    match value {
        Value::Number(n) => {
            n.as_u64().is_some_and(|u| u <= EXACT_INTEGERS)
                || n.as_i64()
                    .is_some_and(|i| i.unsigned_abs() <= EXACT_INTEGERS)
        }
        Value::Array(items) => items.iter().all(only_exact_integers),
        Value::Object(members) => members.values().all(only_exact_integers),
        Value::Null | Value::Bool(_) | Value::String(_) => true,
    }
}

/// The first number in an already parsed value that the canonical form
/// would change: an integer beyond ±2^53 (a parsed value has no text left
/// for other numbers, whose double is then what was meant).
pub fn first_inexact_in_value(value: &Value, path: &mut String) -> Option<InexactNumber> {
    match value {
        Value::Number(n) if n.is_f64() => None,
        Value::Number(n) => {
            let literal = n.to_string();
            check_literal(&literal, path)
        }
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = first_inexact_in_value(item, path);
            path.truncate(len);
            found
        }),
        Value::Object(members) => members.iter().find_map(|(name, item)| {
            let len = path.len();
            push_member(path, name);
            let found = first_inexact_in_value(item, path);
            path.truncate(len);
            found
        }),
        Value::Null | Value::Bool(_) | Value::String(_) => None,
    }
}

/// The first number in the JSON `text` (parsed already as `parsed`) whose
/// value the canonical form would change; paths start at `root`.
pub fn first_inexact(text: &str, parsed: &Value, root: &str) -> Option<InexactNumber> {
    if only_exact_integers(parsed) {
        return None;
    }
    first_inexact_in_text(text, root)
}

/// [`first_inexact`] reading the text alone (no parsed value at hand).
pub fn first_inexact_in_text(text: &str, root: &str) -> Option<InexactNumber> {
    let raw: &RawValue = serde_json::from_str(text).ok()?;
    walk(raw, &mut root.to_owned())
}

fn push_member(path: &mut String, name: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(&name.escape_debug().to_string());
}

fn walk(raw: &RawValue, path: &mut String) -> Option<InexactNumber> {
    let text = raw.get().trim();
    match text.as_bytes().first()? {
        b'{' => {
            let members: BTreeMap<String, &RawValue> = serde_json::from_str(text).ok()?;
            members.iter().find_map(|(name, item)| {
                let len = path.len();
                push_member(path, name);
                let found = walk(item, path);
                path.truncate(len);
                found
            })
        }
        b'[' => {
            let items: Vec<&RawValue> = serde_json::from_str(text).ok()?;
            items.iter().enumerate().find_map(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(item, path);
                path.truncate(len);
                found
            })
        }
        b'-' | b'0'..=b'9' => check_literal(text, path),
        _ => None,
    }
}

/// `literal` (JSON number text) if the canonical form would change it.
fn check_literal(literal: &str, path: &str) -> Option<InexactNumber> {
    let canonical = canonical_text(literal);
    let exact = canonical
        .as_deref()
        .is_some_and(|stored| decimal(stored).is_some() && decimal(stored) == decimal(literal));
    (!exact).then(|| InexactNumber {
        path: path.to_owned(),
        literal: literal.to_owned(),
        canonical,
    })
}

/// How the canonical form writes the number `literal` (its nearest
/// double, in ECMAScript's shortest form); none when no finite double is
/// near it.
pub fn canonical_text(literal: &str) -> Option<String> {
    let double: f64 = literal.parse().ok()?;
    if !double.is_finite() {
        return None;
    }
    serde_json_canonicalizer::to_string(&Value::from(double)).ok()
}

/// A decimal number's value: sign, significant digits (no leading or
/// trailing zeros) and the power of ten of the last one; zero is
/// `(false, "", 0)` whatever its sign. None for text that is no number.
pub fn decimal(text: &str) -> Option<(bool, String, i64)> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], unsigned[at + 1..].parse::<i64>().ok()?),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let digits = format!("{whole}{fraction}");
    let mut power = exponent.checked_sub(i64::try_from(fraction.len()).ok()?)?;
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return Some((false, String::new(), 0));
    }
    let trimmed = significant.trim_end_matches('0');
    power = power.checked_add(i64::try_from(significant.len() - trimmed.len()).ok()?)?;
    Some((negative, trimmed.to_owned(), power))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn inexact(text: &str) -> Option<InexactNumber> {
        let parsed: Value = serde_json::from_str(text).unwrap();
        first_inexact(text, &parsed, "")
    }

    #[test]
    fn numbers_a_double_holds_pass_and_others_are_named() {
        for fine in [
            r#"{"a":1,"b":-9007199254740992,"c":0.1,"d":1.50,"e":15e-1,"f":-0,"g":1e21}"#,
            r#"{"a":[1,2.5,{"b":123456789012345}]}"#,
        ] {
            assert_eq!(inexact(fine), None, "{fine}");
        }
        let found = inexact(r#"{"x":{"ids":[1,9007199254740993]}}"#).unwrap();
        assert_eq!(found.path, "x.ids[1]");
        assert_eq!(found.literal, "9007199254740993");
        assert_eq!(found.canonical.as_deref(), Some("9007199254740992"));
        // A double holds it exactly, but the canonical form writes the
        // double's shortest digits: another number.
        let found = inexact(r#"{"id":18100000000000728}"#).unwrap();
        assert_eq!(found.canonical.as_deref(), Some("18100000000000730"));
        let found = inexact(r#"{"amount":12345678901234567890}"#).unwrap();
        assert_eq!(found.canonical.as_deref(), Some("12345678901234567000"));
        assert!(found.to_string().contains("send it as a string"), "{found}");
        let found = inexact(r#"{"p":0.1000000000000000055511151231257827}"#).unwrap();
        assert_eq!(found.canonical.as_deref(), Some("0.1"));
        // Beyond any double: JSON parsing itself refuses it (a 400 or an
        // unreadable line), and the text check names it too.
        assert!(serde_json::from_str::<Value>(r#"{"big":1e400}"#).is_err());
        let found = first_inexact_in_text(r#"{"big":1e400}"#, "").unwrap();
        assert_eq!(found.canonical, None);
        // A parsed value still knows its big integers.
        let value: Value = serde_json::from_str(r#"{"n":[18446744073709551615]}"#).unwrap();
        let found = first_inexact_in_value(&value, &mut "payload".to_owned()).unwrap();
        assert_eq!(found.path, "payload.n[0]");
    }

    #[test]
    fn decimals_compare_by_value() {
        assert_eq!(decimal("1.50"), decimal("15e-1"));
        assert_eq!(decimal("-0.0"), decimal("0"));
        assert_eq!(decimal("100"), Some((false, "1".into(), 2)));
        assert_ne!(decimal("1.5"), decimal("-1.5"));
        assert_eq!(decimal("1e99999999999999999999"), None);
        assert_eq!(decimal("."), None);
    }

    proptest! {
        /// For any number: accepted means the canonical form stores the
        /// same value, refused means the text it would store (its double in
        /// the canonicalizer's shortest form) names another value — both
        /// compared as big integers, not by the code under test.
        #[test]
        fn accepted_numbers_come_back_with_the_same_value(
            literal in r"-?(0|[1-9][0-9]{0,24})(\.[0-9]{1,24})?([eE][+-]?[0-9]{1,3})?"
        ) {
            let text = format!(r#"{{"n":{literal}}}"#);
            // Beyond every double: refused by the JSON parser already.
            let Ok(parsed) = serde_json::from_str::<Value>(&text) else {
                prop_assert!(literal.parse::<f64>().is_ok_and(|d| d.is_infinite()),
                    "{literal} refused by the parser within a double's range");
                return Ok(());
            };
            let accepted = first_inexact(&text, &parsed, "").is_none();
            let stored = crate::event::JsonObject::from_value("payload", &parsed)
                .map(|o| o.as_str().to_owned());
            if accepted {
                let stored = stored.unwrap();
                let number = stored.trim_start_matches(r#"{"n":"#).trim_end_matches('}');
                prop_assert!(same_value_exactly(&literal, number), "{literal} stored as {number}");
            } else {
                let double: f64 = literal.parse().unwrap();
                if double.is_finite() {
                    let would_store =
                        serde_json_canonicalizer::to_string(&Value::from(double)).unwrap();
                    prop_assert!(!same_value_exactly(&literal, &would_store),
                        "{literal} refused although it would be stored as {would_store}");
                }
            }
        }
    }

    /// Whether two decimal texts name the same value (by big integers).
    fn same_value_exactly(a: &str, b: &str) -> bool {
        use num_bigint::BigInt;
        let (Some(x), Some(y)) = (decimal(a), decimal(b)) else {
            return false;
        };
        let value = |(negative, digits, power): (bool, String, i64), scale: i64| -> BigInt {
            if digits.is_empty() {
                return BigInt::from(0);
            }
            let magnitude: BigInt =
                digits.parse::<BigInt>().unwrap() * BigInt::from(10).pow((power - scale) as u32);
            if negative {
                -magnitude
            } else {
                magnitude
            }
        };
        let scale = x.2.min(y.2);
        value(x, scale) == value(y, scale)
    }
}
