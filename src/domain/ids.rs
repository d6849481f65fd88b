//! Typed ids. Each wraps a UUID and knows its stream, so an `AccountId` can
//! never be passed where a `UserId` is meant, and stream names are spelled
//! in one place.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::StreamId;

macro_rules! typed_id {
    ($name:ident, $category:literal) => {
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            Serialize,
            Deserialize,
            schemars::JsonSchema,
        )]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// The stream category of this kind of aggregate.
            pub const CATEGORY: &'static str = $category;

            pub fn new(id: Uuid) -> Self {
                Self(id)
            }

            /// The stream holding this aggregate's events.
            pub fn stream(&self) -> StreamId {
                // A category, a dash and a UUID is always a valid stream id.
                StreamId::parse(format!("{}-{}", $category, self.0))
                    .unwrap_or_else(|_| unreachable!("typed ids make valid stream ids"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::Uuid,
                    )))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl std::str::FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

typed_id!(AccountId, "account");
typed_id!(UserId, "user");
typed_id!(SessionId, "session");
typed_id!(InvitationId, "invitation");
typed_id!(LicenseId, "license");
typed_id!(ServerId, "server");
typed_id!(TicketId, "ticket");
typed_id!(NotificationId, "notification");
typed_id!(QuoteId, "quote");
typed_id!(KitItemId, "kit");
// A machine's identity in an account (`crate::domain::service_account`).
typed_id!(ServiceAccountId, "serviceaccount");
// One API key of a service account; its events live in the service
// account's stream, so its own "stream" is never read.
typed_id!(ApiKeyId, "apikey");
