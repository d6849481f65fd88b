//! Order-independent digests of read models: proof that two copies of a
//! projection hold the same rows.
//!
//! Why: a read model is only as trustworthy as the claim that it equals a
//! fresh replay of the log. `projections checksum` prints a digest an
//! operator can compare across replicas, restores and backends, and
//! `rebuild --verify` refuses to swap in a rebuilt copy whose digest differs
//! from the live one at the same position.
//!
//! A row's hash is SHA-256 of its canonical JSON (RFC 8785) after
//! normalizing what differs only in representation between backends (times
//! become UTC RFC 3339 with microseconds, JSON held as text is parsed). A
//! table's digest is the row count and the sum of the row hashes modulo
//! 2^256 — a multiset hash, so row order does not matter and a duplicated
//! row does not cancel out — and a projection's digest is SHA-256 over its
//! tables' names, counts and sums.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// The running digest of one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableDigest {
    pub rows: u64,
    /// Sum of the row hashes, as four little-endian 64-bit limbs.
    sum: [u64; 4],
}

impl TableDigest {
    /// Adds one row, given as a JSON object of its columns.
    pub fn add(&mut self, row: &Value) {
        let hash = row_hash(row);
        let mut carry = 0u64;
        for (i, limb) in self.sum.iter_mut().enumerate() {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&hash[i * 8..i * 8 + 8]);
            let (s1, c1) = limb.overflowing_add(u64::from_le_bytes(bytes));
            let (s2, c2) = s1.overflowing_add(carry);
            *limb = s2;
            carry = u64::from(c1) + u64::from(c2);
        }
        self.rows += 1;
    }

    /// The sum as 64 hex digits.
    pub fn sum_hex(&self) -> String {
        self.sum
            .iter()
            .rev()
            .map(|limb| format!("{limb:016x}"))
            .collect()
    }
}

/// A projection's digest at a position.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProjectionDigest {
    pub projector: String,
    /// The position the rows reflect.
    pub position: u64,
    /// Per table: name, rows, sum of row hashes.
    pub tables: Vec<(String, u64, String)>,
    /// SHA-256 over the tables' names, row counts and sums (hex).
    pub digest: String,
}

impl ProjectionDigest {
    pub fn new(projector: &str, position: u64, tables: Vec<(String, TableDigest)>) -> Self {
        let mut hasher = Sha256::new();
        let mut out = Vec::with_capacity(tables.len());
        for (name, table) in tables {
            let sum = table.sum_hex();
            hasher.update(format!("{name}\n{}\n{sum}\n", table.rows).as_bytes());
            out.push((name, table.rows, sum));
        }
        Self {
            projector: projector.to_owned(),
            position,
            tables: out,
            digest: hex::encode(hasher.finalize()),
        }
    }
}

/// SHA-256 of a row's canonical form.
pub fn row_hash(row: &Value) -> [u8; 32] {
    let normalized = normalize(row);
    let text = serde_json_canonicalizer::to_string(&normalized).unwrap_or_default();
    Sha256::digest(text.as_bytes()).into()
}

/// The backend-neutral form of a row (see the module doc).
pub fn normalize(value: &Value) -> Value {
    match value {
        Value::Object(columns) => Value::Object(
            columns
                .iter()
                .map(|(name, v)| (name.clone(), normalize_column(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn normalize_column(value: &Value) -> Value {
    match value {
        Value::String(s) => {
            if let Ok(time) = DateTime::parse_from_rfc3339(s) {
                return Value::String(
                    time.with_timezone(&Utc)
                        .to_rfc3339_opts(SecondsFormat::Micros, true),
                );
            }
            // JSON held as text (SQLite) parses to the value PostgreSQL's
            // jsonb hands back.
            if (s.starts_with('[') && s.ends_with(']')) || (s.starts_with('{') && s.ends_with('}'))
            {
                if let Ok(parsed) = serde_json::from_str::<Value>(s) {
                    return parsed;
                }
            }
            value.clone()
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn order_does_not_matter_and_duplicates_count() {
        let (a, b) = (json!({"id": "a", "n": 1}), json!({"id": "b", "n": 2}));
        let mut one = TableDigest::default();
        one.add(&a);
        one.add(&b);
        let mut two = TableDigest::default();
        two.add(&b);
        two.add(&a);
        assert_eq!(one, two);
        let mut twice = two.clone();
        twice.add(&a);
        twice.add(&a);
        assert_ne!(
            twice.sum_hex(),
            two.sum_hex(),
            "a duplicated row does not cancel"
        );
        let mut other = TableDigest::default();
        other.add(&a);
        other.add(&json!({"id": "b", "n": 3}));
        assert_ne!(one, other);
    }

    #[test]
    fn representations_of_the_same_row_hash_alike() {
        // As SQLite and PostgreSQL hand back the same row.
        let sqlite = json!({"at": "2025-01-20T05:00:17.605220Z", "targets": "[{\"type\":\"user\",\"id\":\"1\"}]", "b": 1});
        let postgres = json!({"b": 1, "targets": [{"id": "1", "type": "user"}], "at": "2025-01-20T05:00:17.60522+00:00"});
        assert_eq!(row_hash(&sqlite), row_hash(&postgres));
        assert_ne!(row_hash(&sqlite), row_hash(&json!({"b": 2})));
    }

    #[test]
    fn a_projection_digest_covers_names_counts_and_sums() {
        let mut t = TableDigest::default();
        t.add(&json!({"id": 1}));
        let one = ProjectionDigest::new("p", 7, vec![("t".into(), t.clone())]);
        let renamed = ProjectionDigest::new("p", 7, vec![("u".into(), t.clone())]);
        assert_ne!(one.digest, renamed.digest);
        assert_eq!(one.tables[0].1, 1);
        assert_eq!(one.digest.len(), 64);
    }
}
