//! The partner-portal domain, as pure functions.
//!
//! Nothing in here does I/O, reads a clock or draws random numbers: time,
//! ids and secrets are passed in. Each aggregate follows the Decider pattern:
//! `decide(&state, &command, …) -> Result<Vec<Event>, DomainError>` says what
//! happens, `evolve(state, &event) -> state` folds what happened. The
//! application layer (`crate::app`) loads states from their streams, calls
//! `decide`, and appends the events with the stream versions it read as
//! expectations, so an invariant that spans a stream holds under concurrency:
//! of two racing commands, the second finds the stream moved and decides
//! again on the new state.
//!
//! Where an invariant spans users, the aggregate that guards it is the one
//! whose stream every such command must touch:
//! * "an account keeps at least one active admin" — the account's stream
//!   holds its set of active admins, and every command that adds or removes
//!   an admin appends to it;
//! * "an e-mail belongs to at most one live user" — an `email-…` stream per
//!   normalized address records who holds it.

pub mod account;
pub mod catalog;
pub mod codec;
pub mod email;
pub mod ids;
pub mod invitation;
pub mod license;
pub mod notification;
pub mod partner_kit;
pub mod permissions;
pub mod quote;
pub mod role;
pub mod server;
pub mod service_account;
pub mod session;
pub mod text;
pub mod ticket;
pub mod upcast;
pub mod user;
pub mod user_import;
pub mod username;
pub mod visibility;

use thiserror::Error;

/// Why the domain refused a command. Each variant has a stable
/// machine-readable [`code`](DomainError::code) for the API.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    #[error("no such account")]
    AccountNotFound,
    #[error("no such user")]
    UserNotFound,
    #[error("not found")]
    NotFound,
    #[error("it exists already")]
    AlreadyExists,
    #[error("names must be 1 to 200 characters")]
    InvalidName,
    #[error(transparent)]
    Role(#[from] role::RoleError),
    #[error("this e-mail address belongs to another user")]
    EmailTaken,
    #[error("the account must keep at least one active admin")]
    LastAdmin,
    #[error("the account owner cannot be edited, demoted or deleted by another admin")]
    OwnerProtected,
    #[error("transfer the account's ownership before giving up the admin role")]
    OwnerMustTransferFirst,
    #[error("only the account owner can transfer ownership")]
    OnlyOwnerTransfers,
    #[error("ownership can only move to another active admin of the account")]
    TransferTargetNotAdmin,
    #[error("the user is deleted")]
    UserDeleted,
    #[error("the user is not deleted")]
    UserNotDeleted,
    #[error("the retention period is over; the user can no longer be restored")]
    RetentionExpired,
    #[error("the retention period is not over yet")]
    RetentionNotExpired,
    #[error("the user has been purged")]
    UserPurged,
    #[error("nothing to change")]
    NoChange,
    #[error("the invitation is no longer pending")]
    InvitationNotPending,
    #[error("the invitation has expired; ask for a new one")]
    InvitationExpired,
    #[error("this invitation link is not valid")]
    InvalidInvitation,
    #[error("not a valid IP address")]
    InvalidIp,
    #[error("this sign-in code is not valid for this location (or it has expired)")]
    InvalidSecondFactor,
    #[error("partners are invited by the platform, organizations by partners or the platform")]
    InvalidTenantInvitation,
    #[error("a partner account comes only from the platform's invitation (the platform invites its first admin with a partner tenant); organizations may also be created directly")]
    PartnerNeedsInvitation,
    #[error(
        "this server was decommissioned: it keeps its history, and nothing more can be done to it"
    )]
    ServerDecommissioned,
    #[error("this service account is deactivated: its keys no longer work and nothing more can be done to it")]
    ServiceAccountDeactivated,
    #[error(
        "a notifications-only role acts on nothing; give a service account a role that may act"
    )]
    RoleCannotAct,
    #[error("a key's end (`expires_at`, RFC 3339) lies in the future")]
    InvalidKeyExpiry,
    #[error("a service account holds at most {max} keys that are neither revoked nor expired; revoke one first")]
    TooManyKeys { max: usize },
    #[error("the key is revoked already")]
    KeyRevoked,
    #[error("only a person may do this (service accounts do not manage service accounts or keys, sign out or change passwords)")]
    PersonRequired,
    #[error("a license has 1 to 1,000,000 seats")]
    InvalidSeats,
    #[error("a grant's end (`until`, RFC 3339) lies in the future, and only a grant (granted: true) has one")]
    InvalidGrantEnd,
    #[error("not enough free seats: {free} free, {requested} requested")]
    NotEnoughSeats { free: usize, requested: usize },
    #[error("{in_use} seats are in use; release some first")]
    SeatsInUse { in_use: usize },
    #[error("the license is cancelled")]
    LicenseCancelled,
    #[error("licenses can only be assigned to active users of the license's organization")]
    NotLicensable,
    #[error("the platform account cannot be deleted")]
    PlatformIsPermanent,
    #[error("text fields must be 1 to 500 characters")]
    InvalidText,
    #[error("the customer has not granted its partner access to this server")]
    PartnerAccessNotGranted,
    #[error("the ticket is closed")]
    TicketClosed,
    #[error("only the partner's own customers can be assigned")]
    NotACustomer,
    #[error("a product is named with 1 to 200 characters")]
    InvalidProduct,
    #[error("a quote is for 1 to 1,000,000 seats")]
    InvalidQuoteSeats,
    #[error("unit prices are 0 to 100,000,000,000 cents")]
    InvalidUnitPrice,
    #[error("currencies are ISO 4217 codes: three letters")]
    InvalidCurrency,
    #[error("valid_until must be a date (YYYY-MM-DD), today or later")]
    InvalidValidUntil,
    #[error("quotes are prepared for customer organizations only")]
    QuoteNeedsOrganization,
    #[error("only a draft quote can be changed or sent")]
    QuoteNotDraft,
    #[error("only a sent quote can be accepted or declined")]
    QuoteNotSent,
    #[error("the quote is accepted, declined or withdrawn")]
    QuoteClosed,
    #[error("the quote is no longer valid")]
    QuoteExpired,
    #[error("titles must be 1 to 200 characters")]
    InvalidTitle,
    #[error("categories must be 1 to 60 characters")]
    InvalidCategory,
    #[error("give exactly one of url and content (1 to 20,000 characters)")]
    InvalidKitMaterial,
    #[error("not an absolute http or https link")]
    InvalidUrl,
    #[error("no such license in the server's organization")]
    LicenseNotInOrganization,
    #[error(transparent)]
    InvalidUsername(#[from] username::InvalidUsername),
    #[error("this username belongs to another user")]
    UsernameTaken,
    #[error("the text holds a control character (U+{code_point:04X}) at character {index}; only multi-line fields allow newlines and tabs")]
    ControlCharacter { code_point: u32, index: usize },
}

impl DomainError {
    /// The API's error code.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::AccountNotFound => "account_not_found",
            DomainError::UserNotFound => "user_not_found",
            DomainError::NotFound => "not_found",
            DomainError::AlreadyExists => "already_exists",
            DomainError::InvalidName => "invalid_name",
            DomainError::Role(role::RoleError::Unknown(_)) => "unknown_role",
            DomainError::Role(role::RoleError::NotInAccountKind { .. }) => {
                "role_not_in_account_kind"
            }
            DomainError::EmailTaken => "email_taken",
            DomainError::LastAdmin => "last_admin",
            DomainError::OwnerProtected => "owner_protected",
            DomainError::OwnerMustTransferFirst => "owner_must_transfer_first",
            DomainError::OnlyOwnerTransfers => "only_owner_transfers",
            DomainError::TransferTargetNotAdmin => "transfer_target_not_admin",
            DomainError::UserDeleted => "user_deleted",
            DomainError::UserNotDeleted => "user_not_deleted",
            DomainError::RetentionExpired => "retention_expired",
            DomainError::RetentionNotExpired => "retention_not_expired",
            DomainError::UserPurged => "user_purged",
            DomainError::NoChange => "no_change",
            DomainError::InvitationNotPending => "invitation_not_pending",
            DomainError::InvitationExpired => "invitation_expired",
            DomainError::InvalidInvitation => "invalid_invitation",
            DomainError::InvalidIp => "invalid_ip",
            DomainError::InvalidSecondFactor => "invalid_second_factor",
            DomainError::InvalidTenantInvitation => "invalid_tenant_invitation",
            DomainError::PartnerNeedsInvitation => "partner_needs_invitation",
            DomainError::ServerDecommissioned => "server_decommissioned",
            DomainError::ServiceAccountDeactivated => "service_account_deactivated",
            DomainError::RoleCannotAct => "role_cannot_act",
            DomainError::InvalidKeyExpiry => "invalid_key_expiry",
            DomainError::TooManyKeys { .. } => "too_many_keys",
            DomainError::KeyRevoked => "key_revoked",
            DomainError::PersonRequired => "person_required",
            DomainError::InvalidSeats => "invalid_seats",
            DomainError::InvalidGrantEnd => "invalid_grant_end",
            DomainError::NotEnoughSeats { .. } => "not_enough_seats",
            DomainError::SeatsInUse { .. } => "seats_in_use",
            DomainError::LicenseCancelled => "license_cancelled",
            DomainError::NotLicensable => "not_licensable",
            DomainError::PlatformIsPermanent => "platform_is_permanent",
            DomainError::InvalidText => "invalid_text",
            DomainError::PartnerAccessNotGranted => "partner_access_not_granted",
            DomainError::TicketClosed => "ticket_closed",
            DomainError::NotACustomer => "not_a_customer",
            DomainError::InvalidProduct => "invalid_product",
            DomainError::InvalidQuoteSeats => "invalid_seats",
            DomainError::InvalidUnitPrice => "invalid_unit_price",
            DomainError::InvalidCurrency => "invalid_currency",
            DomainError::InvalidValidUntil => "invalid_valid_until",
            DomainError::QuoteNeedsOrganization => "quote_needs_organization",
            DomainError::QuoteNotDraft => "quote_not_draft",
            DomainError::QuoteNotSent => "quote_not_sent",
            DomainError::QuoteClosed => "quote_closed",
            DomainError::QuoteExpired => "quote_expired",
            DomainError::InvalidTitle => "invalid_title",
            DomainError::InvalidCategory => "invalid_category",
            DomainError::InvalidKitMaterial => "invalid_kit_material",
            DomainError::InvalidUrl => "invalid_url",
            DomainError::LicenseNotInOrganization => "license_not_in_organization",
            DomainError::InvalidUsername(_) => "invalid_username",
            DomainError::UsernameTaken => "username_taken",
            DomainError::ControlCharacter { .. } => "control_character",
        }
    }
}
