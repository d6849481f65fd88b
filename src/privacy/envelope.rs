//! Sealing and opening the personal fields of one event, given its
//! subjects' keys (pure: the keys are looked up by the caller).
//!
//! A sealed field holds `{"sealed": "<base64url>", "by": ["user-…", …]}`
//! in place of its text. Opening puts the text back — or, when any of the
//! `by` keys is destroyed, the field kind's placeholder — so domain code and
//! projectors only ever see text.

use std::collections::{BTreeSet, HashMap};

use serde_json::{json, Value};
use uuid::Uuid;

use crate::event::JsonObject;
use crate::privacy::cipher::{self, CipherError, SubjectKey};
use crate::privacy::fields::{self, Field, Section};
use crate::privacy::keys::KeyState;
use crate::privacy::subject::Subject;

/// A field's sealed form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub by: Vec<Subject>,
    pub data: String,
}

impl Sealed {
    pub fn from_value(value: &Value) -> Option<Self> {
        let object = value.as_object()?;
        if object.len() != 2 {
            return None;
        }
        let data = object.get("sealed")?.as_str()?.to_owned();
        let by = object
            .get("by")?
            .as_array()?
            .iter()
            .map(|s| s.as_str().and_then(Subject::parse))
            .collect::<Option<Vec<_>>>()?;
        (!by.is_empty()).then_some(Self { by, data })
    }

    pub fn to_value(&self) -> Value {
        let by: Vec<&str> = self.by.iter().map(Subject::as_str).collect();
        json!({ "sealed": self.data, "by": by })
    }
}

/// The payload and metadata of one event as JSON, to change in place.
pub struct Parts {
    pub payload: Value,
    pub metadata: Value,
}

impl Parts {
    pub fn new(payload: &JsonObject, metadata: &JsonObject) -> Self {
        Self {
            payload: payload.to_value(),
            metadata: metadata.to_value(),
        }
    }

    fn section(&self, section: Section) -> &Value {
        match section {
            Section::Payload => &self.payload,
            Section::Metadata => &self.metadata,
        }
    }

    fn section_mut(&mut self, section: Section) -> &mut Value {
        match section {
            Section::Payload => &mut self.payload,
            Section::Metadata => &mut self.metadata,
        }
    }

    /// Back into envelope objects (canonical again).
    pub fn into_objects(self) -> Result<(JsonObject, JsonObject), String> {
        let payload =
            JsonObject::from_value("payload", &self.payload).map_err(|e| e.to_string())?;
        let metadata =
            JsonObject::from_value("metadata", &self.metadata).map_err(|e| e.to_string())?;
        Ok((payload, metadata))
    }
}

/// The subjects whose keys sealing this event needs.
pub fn subjects_to_seal(event_type: &str, stream: &str, parts: &Parts) -> BTreeSet<Subject> {
    fields::fields(event_type)
        .filter(|f| fields::get(parts.section(f.section), f.path).is_some_and(Value::is_string))
        .flat_map(|f| fields::owners(f, stream, &parts.payload, &parts.metadata))
        .collect()
}

/// Seals every personal text field whose owners are known; a field owned by
/// a subject whose key is destroyed is written as its placeholder (a purged
/// person's data is never written in clear again). True if anything changed.
pub fn seal(
    event_id: Uuid,
    event_type: &str,
    stream: &str,
    parts: &mut Parts,
    keys: &HashMap<Subject, KeyState>,
) -> Result<bool, CipherError> {
    let mut changed = false;
    for field in fields::fields(event_type) {
        let owners = fields::owners(field, stream, &parts.payload, &parts.metadata);
        if owners.is_empty() {
            continue;
        }
        let Some(value) = fields::get_mut(parts.section_mut(field.section), field.path) else {
            continue;
        };
        let Some(text) = value.as_str() else { continue };
        let live: Option<Vec<&SubjectKey>> = owners
            .iter()
            .map(|s| match keys.get(s) {
                Some(KeyState::Live(key)) => Some(key),
                _ => None,
            })
            .collect();
        *value = match live {
            Some(live) => Sealed {
                data: cipher::seal(&live, event_id, &field.label(), text)?,
                by: owners,
            }
            .to_value(),
            None => Value::String(field.kind.erased(&owners)),
        };
        changed = true;
    }
    Ok(changed)
}

/// The subjects named by this event's sealed fields.
pub fn subjects_to_open(event_type: &str, parts: &Parts) -> BTreeSet<Subject> {
    fields::fields(event_type)
        .filter_map(|f| fields::get(parts.section(f.section), f.path))
        .filter_map(Sealed::from_value)
        .flat_map(|s| s.by)
        .collect()
}

/// Opens every sealed field: its text when all its keys are live, its
/// placeholder otherwise. An error means a sealed value was altered. True if
/// anything changed.
pub fn open(
    event_id: Uuid,
    event_type: &str,
    parts: &mut Parts,
    keys: &HashMap<Subject, SubjectKey>,
) -> Result<bool, (String, CipherError)> {
    let mut changed = false;
    let fields: Vec<&Field> = fields::fields(event_type).collect();
    for field in fields {
        let Some(value) = fields::get_mut(parts.section_mut(field.section), field.path) else {
            continue;
        };
        let Some(sealed) = Sealed::from_value(value) else {
            continue;
        };
        let live: Option<Vec<&SubjectKey>> = sealed.by.iter().map(|s| keys.get(s)).collect();
        let text = match live {
            Some(live) => cipher::open(&live, event_id, &field.label(), &sealed.data)
                .map_err(|e| (field.label(), e))?,
            None => field.kind.erased(&sealed.by),
        };
        *value = Value::String(text);
        changed = true;
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::UserId;

    fn user(n: u128) -> Subject {
        Subject::user(UserId(Uuid::from_u128(n)))
    }

    fn parts(actor: u128, target: u128) -> Parts {
        Parts {
            // Every plaintext holds a character outside the base64url alphabet
            // (`@`, `.`, a space, `/`), so no ciphertext can contain one by chance.
            payload: json!({"email": "ann@example.com", "name": "Ann O'Hara", "role": "admin"}),
            metadata: json!({
                "actor": {"kind": "user", "user_id": Uuid::from_u128(actor).to_string(), "email": "boss@example.com"},
                "description": "Created user ann@example.com",
                "ip": "203.0.113.1",
                "user_agent": "curl/8.5",
                "targets": [{"type": "user", "id": Uuid::from_u128(target).to_string()}],
                "action_type": "update_user_profile"
            }),
        }
    }

    #[test]
    fn seals_every_personal_field_and_opens_them_back() {
        let stream = format!("user-{}", Uuid::from_u128(2));
        let original = parts(1, 2);
        let mut p = parts(1, 2);
        let subjects = subjects_to_seal("user.created", &stream, &p);
        assert_eq!(subjects, [user(1), user(2)].into_iter().collect());
        let keys: HashMap<Subject, KeyState> = subjects
            .iter()
            .map(|s| (s.clone(), KeyState::Live(SubjectKey::generate().unwrap())))
            .collect();
        let id = Uuid::now_v7();
        assert!(seal(id, "user.created", &stream, &mut p, &keys).unwrap());
        // Field by field: each personal field is now a sealed value, and no
        // string anywhere in the event still holds a plaintext.
        for (section, path) in [
            ("payload", &["email"][..]),
            ("payload", &["name"]),
            ("metadata", &["description"]),
            ("metadata", &["ip"]),
            ("metadata", &["user_agent"]),
        ] {
            let root = if section == "payload" {
                &p.payload
            } else {
                &p.metadata
            };
            let value = fields::get(root, path).unwrap();
            assert!(
                Sealed::from_value(value).is_some(),
                "{section}.{path:?} not sealed: {value}"
            );
        }
        let text = format!("{} {}", p.payload, p.metadata);
        for secret in ["ann@", "Ann O'Hara", "boss@", "203.0.113.1", "curl/8.5"] {
            assert!(!text.contains(secret), "{secret} left in clear: {text}");
        }
        assert_eq!(p.payload["role"], "admin");
        assert_eq!(p.metadata["action_type"], "update_user_profile");

        let live: HashMap<Subject, SubjectKey> = keys
            .iter()
            .filter_map(|(s, k)| match k {
                KeyState::Live(k) => Some((s.clone(), k.clone())),
                KeyState::Destroyed => None,
            })
            .collect();
        let mut opened = Parts {
            payload: p.payload.clone(),
            metadata: p.metadata.clone(),
        };
        assert_eq!(subjects_to_open("user.created", &opened), subjects);
        assert!(open(id, "user.created", &mut opened, &live).unwrap());
        assert_eq!(opened.payload, original.payload);
        assert_eq!(opened.metadata, original.metadata);

        // The target's key destroyed: their fields read as placeholders, the
        // actor's stay readable.
        let mut erased = Parts {
            payload: p.payload.clone(),
            metadata: p.metadata.clone(),
        };
        let without_target: HashMap<Subject, SubjectKey> =
            live.into_iter().filter(|(s, _)| *s != user(2)).collect();
        open(id, "user.created", &mut erased, &without_target).unwrap();
        assert_eq!(
            erased.payload["email"],
            fields::Kind::Email.erased(&[user(2)])
        );
        assert_eq!(erased.payload["name"], fields::ERASED_TEXT);
        assert_eq!(erased.metadata["description"], fields::ERASED_TEXT);
        assert_eq!(erased.metadata["actor"]["email"], "boss@example.com");
        assert_eq!(erased.metadata["ip"], "203.0.113.1");
    }

    #[test]
    fn a_destroyed_subject_is_written_as_placeholder() {
        let stream = format!("user-{}", Uuid::from_u128(2));
        let mut p = parts(1, 2);
        let keys: HashMap<Subject, KeyState> = [
            (user(1), KeyState::Live(SubjectKey::generate().unwrap())),
            (user(2), KeyState::Destroyed),
        ]
        .into_iter()
        .collect();
        seal(Uuid::now_v7(), "user.created", &stream, &mut p, &keys).unwrap();
        assert_eq!(p.payload["email"], fields::Kind::Email.erased(&[user(2)]));
        assert!(Sealed::from_value(&p.metadata["ip"]).is_some());
    }

    #[test]
    fn an_altered_sealed_value_is_an_error() {
        let stream = format!("user-{}", Uuid::from_u128(2));
        let mut p = parts(1, 2);
        let key = SubjectKey::generate().unwrap();
        let keys: HashMap<Subject, KeyState> = [user(1), user(2)]
            .into_iter()
            .map(|s| (s, KeyState::Live(key.clone())))
            .collect();
        let id = Uuid::now_v7();
        seal(id, "user.created", &stream, &mut p, &keys).unwrap();
        let mut sealed = Sealed::from_value(&p.payload["name"]).unwrap();
        use base64::Engine;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut bytes = engine.decode(&sealed.data).unwrap();
        bytes[0] ^= 0x80;
        sealed.data = engine.encode(bytes);
        p.payload["name"] = sealed.to_value();
        let live: HashMap<Subject, SubjectKey> = [(user(1), key.clone()), (user(2), key)]
            .into_iter()
            .collect();
        let err = open(id, "user.created", &mut p, &live).unwrap_err();
        assert_eq!(err.0, "payload.name");
    }
}
