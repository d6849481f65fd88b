//! The built-in roles and the kinds of account that may hold them.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// What kind of tenant an account is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// The operator of the service; invites partners.
    Platform,
    /// A reseller / managed-service provider; owns customer organizations.
    Partner,
    /// A customer of a partner (or of the platform directly).
    Organization,
}

/// A built-in role (PRODUCT.md, "Roles").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Admin,
    Regular,
    Support,
    ReadOnly,
    Sales,
    User,
    Marketing,
    Notifications,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RoleError {
    #[error("unknown role {0:?}; expected one of admin, regular, support, read-only, sales, user, marketing, notifications")]
    Unknown(String),
    #[error("the {role} role does not exist in {kind:?} accounts")]
    NotInAccountKind { role: Role, kind: AccountKind },
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Admin,
        Role::Regular,
        Role::Support,
        Role::ReadOnly,
        Role::Sales,
        Role::User,
        Role::Marketing,
        Role::Notifications,
    ];

    /// Parses the API's name of a role (case-insensitive; `read-only`,
    /// `read_only` and `readonly` are the same).
    pub fn parse(name: &str) -> Result<Self, RoleError> {
        let key: String = name
            .trim()
            .chars()
            .filter(|c| !matches!(c, '-' | '_' | ' '))
            .collect::<String>()
            .to_lowercase();
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().replace('-', "") == key)
            .ok_or_else(|| RoleError::Unknown(name.to_owned()))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Regular => "regular",
            Role::Support => "support",
            Role::ReadOnly => "read-only",
            Role::Sales => "sales",
            Role::User => "user",
            Role::Marketing => "marketing",
            Role::Notifications => "notifications",
        }
    }

    /// Whether an account of `kind` can have users with this role: Sales,
    /// User (partner staff) and Marketing exist in partner accounts only.
    pub fn exists_in(self, kind: AccountKind) -> bool {
        match self {
            Role::Sales | Role::User | Role::Marketing => kind == AccountKind::Partner,
            Role::Regular => kind != AccountKind::Platform,
            Role::Admin | Role::Support | Role::ReadOnly | Role::Notifications => true,
        }
    }

    /// Parses a role for an account of `kind`.
    pub fn parse_for(name: &str, kind: AccountKind) -> Result<Self, RoleError> {
        let role = Role::parse(name)?;
        if role.exists_in(kind) {
            Ok(role)
        } else {
            Err(RoleError::NotInAccountKind { role, kind })
        }
    }

    /// Notification-only users receive e-mail but never sign in.
    pub fn can_sign_in(self) -> bool {
        self != Role::Notifications
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// In events and the catalog: the role's name.
impl schemars::JsonSchema for Role {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Role".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "enum": ["admin", "regular", "support", "read-only", "sales", "user", "marketing", "notifications"]
        })
    }
}

impl Serialize for Role {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Role::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_from_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        assert_eq!(Role::parse("Read-Only"), Ok(Role::ReadOnly));
        assert_eq!(Role::parse("read_only"), Ok(Role::ReadOnly));
        assert_eq!(Role::parse("ADMIN"), Ok(Role::Admin));
        assert!(matches!(Role::parse("owner"), Err(RoleError::Unknown(_))));
    }

    #[test]
    fn partner_only_roles_are_refused_elsewhere() {
        assert!(Role::parse_for("sales", AccountKind::Partner).is_ok());
        assert_eq!(
            Role::parse_for("sales", AccountKind::Organization),
            Err(RoleError::NotInAccountKind {
                role: Role::Sales,
                kind: AccountKind::Organization
            })
        );
        assert!(Role::parse_for("marketing", AccountKind::Platform).is_err());
        assert!(Role::parse_for("admin", AccountKind::Platform).is_ok());
    }
}
