//! Evolving event payloads: each event type's current schema version, and
//! the steps that upgrade a payload stored at an older version, one
//! version at a time, before any decider or projector decodes it.
//!
//! Why on read: the log is immutable and hash-chained, so an event keeps
//! the bytes (and the `schema_version`) it was appended with forever; what
//! changes is how today's code reads it. `codec::decode` runs every stored
//! payload through [`upcast`] first, so the domain types only ever describe
//! the current shape, and an export made before a change imports and
//! decodes after it. New events are appended at [`current_version`].
//!
//! Adding an evolution: change the domain type, then add a [`Step`] from
//! the old version here (a pure function of the old payload), a schema of
//! the old shape in `catalog.rs`, and a test that decodes an old payload.

use serde_json::{json, Map, Value};

/// A payload object: what a step reads and returns.
pub type Payload = Map<String, Value>;

/// One upgrade of one event type's payload, from `from` to `from + 1`.
pub struct Step {
    pub event_type: &'static str,
    pub from: u32,
    /// What changed, for the catalog and the next engineer.
    pub change: &'static str,
    pub upgrade: fn(Payload) -> Result<Payload, String>,
}

/// Every step ever shipped, oldest first per type.
pub const STEPS: &[Step] = &[
    Step {
        event_type: "server.registered",
        from: 1,
        change: "`partner_access` became the grant itself, `{granted, until}`: a \
                 customer's grant to its partner may carry an end date",
        upgrade: registered_v1_to_v2,
    },
    Step {
        event_type: "server.partner_access_granted",
        from: 1,
        change: "the grant may carry an end date: `until` (RFC 3339, null: until \
                 revoked)",
        upgrade: access_granted_v1_to_v2,
    },
];

/// Why a stored payload cannot be brought to the current version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpcastError {
    /// Written by a newer version of the service than this one (or made
    /// up): this code does not know the shape.
    #[error("{event_type} has schema versions 1 to {current}; {version} is unknown")]
    UnknownVersion {
        event_type: String,
        version: u32,
        current: u32,
    },
    #[error("{event_type} version {from} does not upgrade: {reason}")]
    Step {
        event_type: String,
        from: u32,
        reason: String,
    },
}

/// The version new events of `event_type` are appended at (1 for a type
/// that never changed, and for types this service does not know).
pub fn current_version(event_type: &str) -> u32 {
    1 + STEPS.iter().filter(|s| s.event_type == event_type).count() as u32
}

/// `payload`, stored at `version`, as the current version reads it.
pub fn upcast(event_type: &str, version: u32, payload: Value) -> Result<Value, UpcastError> {
    let current = current_version(event_type);
    if version == 0 || version > current {
        return Err(UpcastError::UnknownVersion {
            event_type: event_type.to_owned(),
            version,
            current,
        });
    }
    let Value::Object(mut map) = payload else {
        // Not an object: nothing to upgrade; decoding will say why.
        return Ok(payload);
    };
    for from in version..current {
        let step = STEPS
            .iter()
            .find(|s| s.event_type == event_type && s.from == from)
            .ok_or_else(|| UpcastError::Step {
                event_type: event_type.to_owned(),
                from,
                reason: "no step from this version".into(),
            })?;
        map = (step.upgrade)(map).map_err(|reason| UpcastError::Step {
            event_type: event_type.to_owned(),
            from,
            reason,
        })?;
    }
    Ok(Value::Object(map))
}

/// v1 `partner_access: bool` → v2 `partner_access: {granted, until: null}`.
fn registered_v1_to_v2(mut payload: Payload) -> Result<Payload, String> {
    let granted = match payload.remove("partner_access") {
        Some(Value::Bool(granted)) => granted,
        None => false,
        Some(other) => return Err(format!("partner_access is {other}, not a boolean")),
    };
    payload.insert(
        "partner_access".into(),
        json!({ "granted": granted, "until": null }),
    );
    Ok(payload)
}

/// v1 `{}` → v2 `{until: null}` (a v1 grant stood until revoked).
fn access_granted_v1_to_v2(mut payload: Payload) -> Result<Payload, String> {
    payload.entry("until").or_insert(Value::Null);
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_follows_the_one_before_it() {
        for step in STEPS {
            let earlier = STEPS
                .iter()
                .filter(|s| s.event_type == step.event_type && s.from < step.from)
                .count() as u32;
            assert_eq!(
                step.from,
                earlier + 1,
                "{} from {}",
                step.event_type,
                step.from
            );
        }
    }

    #[test]
    fn an_old_registration_reads_as_a_grant_without_end() {
        let v1 = json!({ "server_id": "s", "account_id": "a", "name": "Wall",
                         "location": null, "partner_access": true });
        let v2 = upcast("server.registered", 1, v1).expect("upgrades");
        assert_eq!(
            v2["partner_access"],
            json!({ "granted": true, "until": null })
        );
        assert_eq!(v2["name"], "Wall");
        // The current version passes through untouched.
        assert_eq!(upcast("server.registered", 2, v2.clone()), Ok(v2));
    }

    #[test]
    fn unknown_and_broken_versions_are_refused() {
        assert_eq!(current_version("server.registered"), 2);
        assert_eq!(current_version("user.created"), 1);
        for version in [0, 3] {
            assert!(matches!(
                upcast("server.registered", version, json!({})),
                Err(UpcastError::UnknownVersion { .. })
            ));
        }
        assert!(matches!(
            upcast("server.registered", 1, json!({ "partner_access": "yes" })),
            Err(UpcastError::Step { from: 1, .. })
        ));
    }
}
