//! The permission matrix end to end over HTTP, table-driven: every role ×
//! every command or read the matrix governs × the actor's own account, its
//! customer and another tenant, against the real router.
//!
//! For each case the expected answer comes from the matrix itself
//! (`permissions::authorize` with the relation the server should compute,
//! worked out here from the world's shape, not by the server's code), and a
//! hand-written table of representative cases must agree with the matrix —
//! so the test fails when the server disagrees with the matrix *or* the
//! matrix disagrees with the product's roles. Allowed: 2xx (or a named
//! domain refusal that is clearly not about permissions); forbidden: 403
//! `forbidden`; another tenant: 404 `not_found`. A denied request (and any
//! read) must leave the log head where it was; an allowed command must move
//! it.
//!
//! World: the platform (admin, support, read-only), partner P with one user
//! per partner role (partner staff twice: with no assignment, and assigned
//! to P's other customer C2 only), P's customer C with one user per
//! organization role, and another partner Q with its organization D.
//! Notification-only users (platform, P, C) cannot sign in at all.
//!
//! The partner kit is the platform's: its requests run once per actor, and
//! their target is the platform (partner staff stand before it as
//! `Relation::Provider`; an organization's users are unrelated to it).
//!
//! Targets are made through the ledger as the system (no HTTP, no password
//! hashing). A case expected to be allowed gets fresh targets (it consumes
//! them: a deleted user, a cancelled license); a case expected to be denied
//! uses targets shared by all denied cases (a wrongly allowed one fails its
//! own case first).

use crate::support;

use portal_ledger::app::accounts::CreateAccount;
use portal_ledger::app::users::{AssignCustomers, CreateUser, DeleteUser};
use std::collections::{HashMap, HashSet};
use std::fmt;

use axum_test::TestRequest;
use chrono::Utc;
use portal_ledger::app::licenses;
use portal_ledger::app::partner_kit;
use portal_ledger::app::partner_kit::NewKitItem;
use portal_ledger::app::quotes;
use portal_ledger::app::servers;
use portal_ledger::app::tickets;
use portal_ledger::app::{CommandContext, Ledger};
use portal_ledger::auth::password::Password;
use portal_ledger::domain::email::Email;
use portal_ledger::domain::ids::{
    AccountId, InvitationId, KitItemId, LicenseId, QuoteId, ServerId, TicketId, UserId,
};
use portal_ledger::domain::invitation::InvitationTarget;
use portal_ledger::domain::partner_kit::{Category, Description, Material, Title};
use portal_ledger::domain::permissions::{authorize, Action, Denied, Relation};
use portal_ledger::domain::quote::{Currency, Product, Seats, Terms, UnitPrice};
use portal_ledger::domain::role::{AccountKind, Role};
use portal_ledger::domain::user::{NewUser, Origin};
use serde_json::{json, Value};
use support::http::{error_code, AsCaller, TestApi};
use uuid::Uuid;

const PASSWORD: &str = "actor password 1";

/// The `?as_of=` of the as-of reads: a position past the head.
const AS_OF: u64 = 1 << 40;

// ---------------------------------------------------------------- the world

/// The tenants of the world.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Tenant {
    Platform,
    /// The partner whose staff act.
    P,
    /// P's customer organization.
    C,
    /// P's other customer (the one partner staff are assigned to instead).
    C2,
    /// Another partner.
    Q,
    /// Q's organization: the other tenant.
    D,
}

impl Tenant {
    fn kind(self) -> AccountKind {
        match self {
            Tenant::Platform => AccountKind::Platform,
            Tenant::P | Tenant::Q => AccountKind::Partner,
            Tenant::C | Tenant::C2 | Tenant::D => AccountKind::Organization,
        }
    }

    /// The partner owning an organization; the platform, which invited
    /// the partners.
    fn parent(self) -> Option<Tenant> {
        match self {
            Tenant::C | Tenant::C2 => Some(Tenant::P),
            Tenant::D => Some(Tenant::Q),
            Tenant::P | Tenant::Q => Some(Tenant::Platform),
            Tenant::Platform => None,
        }
    }
}

/// Where a case's target lives, seen from the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Scope {
    /// The actor's own account.
    Own,
    /// C, the customer of partner staff; for the platform's staff P, a
    /// partner it invited.
    Customer,
    /// D, another partner's organization (for the platform's staff, one
    /// more tenant it operates).
    Other,
}

/// A signed-in user of the world.
struct Actor {
    label: &'static str,
    tenant: Tenant,
    role: Role,
    /// Partner staff assigned to this customer only (none: all customers).
    assigned_to: Option<Tenant>,
    user_id: UserId,
    token: String,
}

impl Actor {
    fn scopes(&self) -> Vec<(Scope, Tenant)> {
        let customer = match self.tenant {
            Tenant::Platform => Some(Tenant::P),
            Tenant::P => Some(Tenant::C),
            _ => None,
        };
        std::iter::once((Scope::Own, self.tenant))
            .chain(customer.map(|c| (Scope::Customer, c)))
            .chain([(Scope::Other, Tenant::D)])
            .collect()
    }

    /// How the actor's account relates to `target`, by the product's
    /// tenancy rules (PRODUCT.md), independently of the server's code.
    fn relation(&self, target: Tenant) -> Relation {
        if self.tenant == target {
            Relation::Own
        } else if self.tenant == Tenant::Platform {
            // The operator, everywhere: also in the partners it invited.
            Relation::Platform
        } else if target.parent() == Some(self.tenant) {
            Relation::Customer {
                assigned: self.assigned_to.is_none_or(|a| a == target),
            }
        } else if self.tenant.kind() == AccountKind::Partner && self.tenant.parent() == Some(target)
        {
            // A partner's staff before the platform that invited it.
            Relation::Provider
        } else {
            Relation::Unrelated
        }
    }
}

// ------------------------------------------------------- the HTTP requests

/// One HTTP request per command or read the permission matrix governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    ViewAccount,
    RenameAccount,
    TransferOwnership,
    DeleteAccount,
    CreateOrganization,
    CreatePartner,
    ListUsers,
    CreateUser,
    ImportDryRun,
    Activity,
    Access,
    ListInvitations,
    InviteUser,
    InviteOrganization,
    InvitePartner,
    ResendInvitation,
    RevokeInvitation,
    Outbox,
    ListLicenses,
    CreateLicense,
    ChangeSeats,
    AssignLicense,
    ReleaseLicense,
    CancelLicense,
    ListServers,
    RegisterServer,
    UpdateServer,
    PartnerAccess,
    ServerAction,
    DecommissionServer,
    ServerConfiguration,
    BackupServer,
    RestoreBackup,
    ListTickets,
    OpenTicket,
    ListServiceAccounts,
    CreateServiceAccount,
    UpdateTicket,
    CloseTicket,
    GetUser,
    EditUser,
    UserPreferences,
    ChangeRole,
    DeleteUser,
    RestoreUser,
    ForceLogout,
    ResetPassword,
    AssignCustomers,
    EditOwnProfile,
    OwnPreferences,
    ServerLicense,
    ListQuotes,
    GetQuote,
    CreateQuote,
    UpdateQuote,
    SendQuote,
    WithdrawQuote,
    AcceptQuote,
    DeclineQuote,
    ListPartnerKit,
    PublishKitItem,
    UpdateKitItem,
    WithdrawKitItem,
    // Every other surface that shows an entity asks what reading it asks.
    AccountHistory,
    UserHistory,
    LicenseHistory,
    ServerHistory,
    UngrantedServerHistory,
    RevokedServerHistory,
    TicketHistory,
    QuoteHistory,
    AccountAsOf,
    UserAsOf,
    UsersAsOf,
    LicensesAsOf,
    ServersAsOf,
}

impl Op {
    const ALL: [Op; 76] = [
        Op::ViewAccount,
        Op::RenameAccount,
        Op::TransferOwnership,
        Op::DeleteAccount,
        Op::CreateOrganization,
        Op::CreatePartner,
        Op::ListUsers,
        Op::CreateUser,
        Op::ImportDryRun,
        Op::Activity,
        Op::Access,
        Op::ListInvitations,
        Op::InviteUser,
        Op::InviteOrganization,
        Op::InvitePartner,
        Op::ResendInvitation,
        Op::RevokeInvitation,
        Op::Outbox,
        Op::ListLicenses,
        Op::CreateLicense,
        Op::ChangeSeats,
        Op::AssignLicense,
        Op::ReleaseLicense,
        Op::CancelLicense,
        Op::ListServers,
        Op::RegisterServer,
        Op::UpdateServer,
        Op::PartnerAccess,
        Op::ServerAction,
        Op::DecommissionServer,
        Op::ServerConfiguration,
        Op::BackupServer,
        Op::RestoreBackup,
        Op::ListTickets,
        Op::OpenTicket,
        Op::ListServiceAccounts,
        Op::CreateServiceAccount,
        Op::UpdateTicket,
        Op::CloseTicket,
        Op::GetUser,
        Op::EditUser,
        Op::UserPreferences,
        Op::ChangeRole,
        Op::DeleteUser,
        Op::RestoreUser,
        Op::ForceLogout,
        Op::ResetPassword,
        Op::AssignCustomers,
        Op::EditOwnProfile,
        Op::OwnPreferences,
        Op::ServerLicense,
        Op::ListQuotes,
        Op::GetQuote,
        Op::CreateQuote,
        Op::UpdateQuote,
        Op::SendQuote,
        Op::WithdrawQuote,
        Op::AcceptQuote,
        Op::DeclineQuote,
        Op::ListPartnerKit,
        Op::PublishKitItem,
        Op::UpdateKitItem,
        Op::WithdrawKitItem,
        Op::AccountHistory,
        Op::UserHistory,
        Op::LicenseHistory,
        Op::ServerHistory,
        Op::UngrantedServerHistory,
        Op::RevokedServerHistory,
        Op::TicketHistory,
        Op::QuoteHistory,
        Op::AccountAsOf,
        Op::UserAsOf,
        Op::UsersAsOf,
        Op::LicensesAsOf,
        Op::ServersAsOf,
    ];

    /// The matrix's action the server checks for this request.
    fn action(self) -> Action {
        use Op::*;
        match self {
            ViewAccount => Action::ViewAccount,
            RenameAccount | TransferOwnership => Action::UpdateAccount,
            DeleteAccount => Action::DeleteOrganization,
            CreateOrganization => Action::CreateOrganization,
            CreatePartner => Action::InvitePartner,
            ListUsers | ListInvitations | Outbox | GetUser => Action::ViewUsers,
            CreateUser => Action::CreateUser,
            ImportDryRun => Action::ImportUsers,
            Activity | Access => Action::ViewActivityLog,
            InviteUser | ResendInvitation | RevokeInvitation => Action::InviteUser,
            InviteOrganization => Action::InviteOrganization,
            InvitePartner => Action::InvitePartner,
            ListLicenses => Action::ViewLicenses,
            CreateLicense | ChangeSeats | CancelLicense | ServerLicense => Action::ManageLicenses,
            AssignLicense | ReleaseLicense => Action::AssignLicenses,
            ListServers => Action::ViewServers,
            RegisterServer => Action::RegisterServer,
            UpdateServer | ServerConfiguration => Action::UpdateServer,
            PartnerAccess => Action::GrantPartnerAccess,
            ServerAction => Action::ServerAction,
            DecommissionServer => Action::DecommissionServer,
            BackupServer | RestoreBackup => Action::BackupServer,
            ListTickets => Action::ViewTickets,
            ListServiceAccounts => Action::ViewServiceAccounts,
            CreateServiceAccount => Action::ManageServiceAccounts,
            OpenTicket | UpdateTicket | CloseTicket => Action::ManageTickets,
            EditUser | UserPreferences => Action::UpdateUserProfile,
            ChangeRole => Action::ChangeUserRole,
            DeleteUser => Action::DeleteUser,
            RestoreUser => Action::RestoreUser,
            ForceLogout => Action::ForceLogout,
            ResetPassword => Action::ResetPassword,
            AssignCustomers => Action::AssignCustomers,
            EditOwnProfile | OwnPreferences => Action::UpdateOwnProfile,
            ListQuotes | GetQuote => Action::ViewQuotes,
            CreateQuote | UpdateQuote | SendQuote | WithdrawQuote => Action::ManageQuotes,
            AcceptQuote | DeclineQuote => Action::DecideQuote,
            ListPartnerKit => Action::ViewPartnerKit,
            PublishKitItem | UpdateKitItem | WithdrawKitItem => Action::ManagePartnerKit,
            AccountHistory | AccountAsOf => Action::ViewAccount,
            UserHistory | UserAsOf | UsersAsOf => Action::ViewUsers,
            // Seats and holders are billing data, whichever surface shows them.
            LicenseHistory | LicensesAsOf => Action::ViewLicenses,
            ServerHistory | UngrantedServerHistory | RevokedServerHistory | ServersAsOf => {
                Action::ViewServers
            }
            TicketHistory => Action::ViewTickets,
            QuoteHistory => Action::ViewQuotes,
        }
    }

    /// Reading a server its customer does not (or no longer) grant its
    /// partner access to.
    fn ungranted_server(self) -> bool {
        matches!(self, Op::UngrantedServerHistory | Op::RevokedServerHistory)
    }

    /// The partner kit's requests: their target is the platform.
    fn kit(self) -> bool {
        matches!(
            self,
            Op::ListPartnerKit | Op::PublishKitItem | Op::UpdateKitItem | Op::WithdrawKitItem
        )
    }

    /// The tenant a request in `tenant`'s scope is about: the platform for
    /// the partner kit, which is the platform's.
    fn target_tenant(self, tenant: Tenant) -> Tenant {
        if self.kit() {
            Tenant::Platform
        } else {
            tenant
        }
    }

    /// Quotes a partner prepares (the only state Sales may change).
    fn prepares_quotes(self) -> bool {
        matches!(
            self,
            Op::CreateQuote | Op::UpdateQuote | Op::SendQuote | Op::WithdrawQuote
        )
    }

    fn route(self) -> &'static str {
        use Op::*;
        match self {
            ViewAccount => "GET /v1/accounts/{id}",
            RenameAccount => "PATCH /v1/accounts/{id}",
            TransferOwnership => "PUT /v1/accounts/{id}/owner",
            DeleteAccount => "DELETE /v1/accounts/{id}",
            CreateOrganization => "POST /v1/accounts (organization)",
            CreatePartner => "POST /v1/accounts (partner)",
            ListUsers => "GET /v1/accounts/{id}/users",
            CreateUser => "POST /v1/accounts/{id}/users",
            ImportDryRun => "POST /v1/accounts/{id}/users/import?dry_run=true",
            Activity => "GET /v1/accounts/{id}/activity",
            Access => "GET /v1/accounts/{id}/access",
            ListInvitations => "GET /v1/accounts/{id}/invitations",
            InviteUser => "POST /v1/accounts/{id}/invitations (user)",
            InviteOrganization => "POST /v1/accounts/{id}/invitations (organization)",
            InvitePartner => "POST /v1/accounts/{id}/invitations (partner)",
            ResendInvitation => "POST /v1/invitations/{id}/resend",
            RevokeInvitation => "POST /v1/invitations/{id}/revoke",
            Outbox => "GET /v1/accounts/{id}/outbox",
            ListLicenses => "GET /v1/accounts/{id}/licenses",
            CreateLicense => "POST /v1/accounts/{id}/licenses",
            ChangeSeats => "PUT /v1/licenses/{id}/seats",
            AssignLicense => "POST /v1/licenses/{id}/assignments",
            ReleaseLicense => "POST /v1/licenses/{id}/releases",
            CancelLicense => "POST /v1/licenses/{id}/cancel",
            ListServers => "GET /v1/accounts/{id}/servers",
            RegisterServer => "POST /v1/accounts/{id}/servers",
            UpdateServer => "PATCH /v1/servers/{id}",
            PartnerAccess => "PUT /v1/servers/{id}/partner-access",
            ServerAction => "POST /v1/servers/{id}/actions",
            DecommissionServer => "DELETE /v1/servers/{id}",
            ServerConfiguration => "PUT /v1/servers/{id}/configuration",
            BackupServer => "POST /v1/servers/{id}/backups",
            RestoreBackup => "POST /v1/servers/{id}/backups/{backup}/restore",
            ListTickets => "GET /v1/accounts/{id}/tickets",
            OpenTicket => "POST /v1/accounts/{id}/tickets",
            ListServiceAccounts => "GET /v1/accounts/{id}/service-accounts",
            CreateServiceAccount => "POST /v1/accounts/{id}/service-accounts",
            UpdateTicket => "PATCH /v1/tickets/{id}",
            CloseTicket => "POST /v1/tickets/{id}/close",
            GetUser => "GET /v1/users/{id}",
            EditUser => "PATCH /v1/users/{id}",
            UserPreferences => "PUT /v1/users/{id}/notification-preferences",
            ChangeRole => "PUT /v1/users/{id}/role",
            DeleteUser => "DELETE /v1/users/{id}",
            RestoreUser => "POST /v1/users/{id}/restore",
            ForceLogout => "POST /v1/users/{id}/logout",
            ResetPassword => "POST /v1/users/{id}/password-reset",
            AssignCustomers => "PUT /v1/users/{id}/customers",
            EditOwnProfile => "PATCH /v1/users/{own id}",
            OwnPreferences => "PUT /v1/users/{own id}/notification-preferences",
            ServerLicense => "PUT /v1/servers/{id}/license",
            ListQuotes => "GET /v1/accounts/{id}/quotes",
            GetQuote => "GET /v1/quotes/{id}",
            CreateQuote => "POST /v1/accounts/{id}/quotes",
            UpdateQuote => "PATCH /v1/quotes/{id}",
            SendQuote => "POST /v1/quotes/{id}/send",
            WithdrawQuote => "POST /v1/quotes/{id}/withdraw",
            AcceptQuote => "POST /v1/quotes/{id}/accept",
            DeclineQuote => "POST /v1/quotes/{id}/decline",
            ListPartnerKit => "GET /v1/partner-kit",
            PublishKitItem => "POST /v1/partner-kit",
            UpdateKitItem => "PATCH /v1/partner-kit/{id}",
            WithdrawKitItem => "DELETE /v1/partner-kit/{id}",
            AccountHistory => "GET /v1/history/account/{id}",
            UserHistory => "GET /v1/history/user/{id}",
            LicenseHistory => "GET /v1/history/license/{id}",
            ServerHistory => "GET /v1/history/server/{id} (partner access granted)",
            UngrantedServerHistory => "GET /v1/history/server/{id} (never granted)",
            RevokedServerHistory => "GET /v1/history/server/{id} (grant revoked)",
            TicketHistory => "GET /v1/history/ticket/{id}",
            QuoteHistory => "GET /v1/history/quote/{id}",
            AccountAsOf => "GET /v1/accounts/{id}?as_of=",
            UserAsOf => "GET /v1/users/{id}?as_of=",
            UsersAsOf => "GET /v1/accounts/{id}/users?as_of=",
            LicensesAsOf => "GET /v1/accounts/{id}/licenses?as_of=",
            ServersAsOf => "GET /v1/accounts/{id}/servers?as_of=",
        }
    }

    /// Reads append nothing even when allowed.
    fn appends(self) -> bool {
        use Op::*;
        !matches!(
            self,
            ViewAccount
                | ListUsers
                | ImportDryRun
                | Activity
                | Access
                | ListInvitations
                | Outbox
                | ListLicenses
                | ListServers
                | ListTickets
                | ListServiceAccounts
                | GetUser
                | ListQuotes
                | GetQuote
                | ListPartnerKit
                | AccountHistory
                | UserHistory
                | LicenseHistory
                | ServerHistory
                | UngrantedServerHistory
                | RevokedServerHistory
                | TicketHistory
                | QuoteHistory
                | AccountAsOf
                | UserAsOf
                | UsersAsOf
                | LicensesAsOf
                | ServersAsOf
        )
    }

    /// The status of success.
    fn success(self) -> u16 {
        use Op::*;
        match self {
            CreateOrganization | CreatePartner | CreateUser | InviteUser | InviteOrganization
            | InvitePartner | CreateLicense | RegisterServer | BackupServer | OpenTicket
            | CreateServiceAccount | CreateQuote | PublishKitItem => 201,
            _ => 200,
        }
    }

    /// What the target of the request must be.
    fn needs(self) -> Need {
        use Op::*;
        match self {
            GetUser | EditUser | UserPreferences | ChangeRole | DeleteUser | ForceLogout
            | ResetPassword | TransferOwnership | UserHistory | UserAsOf => Need::User,
            LicenseHistory => Need::License,
            ServerHistory => Need::Server,
            UngrantedServerHistory => Need::UngrantedServer,
            RevokedServerHistory => Need::RevokedServer,
            TicketHistory => Need::Ticket,
            QuoteHistory => Need::DraftQuote,
            RestoreUser => Need::DeletedUser,
            AssignCustomers => Need::StaffUser,
            ResendInvitation | RevokeInvitation => Need::Invitation,
            ChangeSeats | CancelLicense => Need::License,
            AssignLicense => Need::LicenseAndMember,
            ReleaseLicense => Need::LicenseHeld,
            UpdateServer | PartnerAccess | ServerAction | ServerConfiguration | BackupServer
            | DecommissionServer => Need::Server,
            RestoreBackup => Need::ServerWithBackup,
            UpdateTicket | CloseTicket => Need::Ticket,
            DeleteAccount => Need::Disposable,
            ServerLicense => Need::ServerAndLicense,
            GetQuote | UpdateQuote | SendQuote | WithdrawQuote => Need::DraftQuote,
            AcceptQuote | DeclineQuote => Need::SentQuote,
            UpdateKitItem | WithdrawKitItem => Need::KitItem,
            _ => Need::Account,
        }
    }

    /// Whether the request makes sense in an account of `kind` (licenses
    /// and quotes exist in organizations only).
    fn applies_to(self, kind: AccountKind) -> bool {
        !matches!(
            self.needs(),
            Need::License
                | Need::LicenseAndMember
                | Need::LicenseHeld
                | Need::ServerAndLicense
                | Need::DraftQuote
                | Need::SentQuote
        ) || kind == AccountKind::Organization
    }

    /// What an allowed request answers when the domain, not the matrix,
    /// refuses it in an account of `kind` (none: it succeeds).
    fn domain_refusal(self, kind: AccountKind) -> Option<(u16, &'static str)> {
        use AccountKind::*;
        match (self, kind) {
            (Op::CreateLicense, Platform | Partner) => Some((422, "not_licensable")),
            // Only the platform has partners; organizations have no customers.
            (Op::InviteOrganization | Op::CreateOrganization, Organization)
            | (Op::CreatePartner | Op::InvitePartner, Partner | Organization) => {
                Some((422, "invalid_tenant_invitation"))
            }
            // Partners come only from the platform's invitation.
            (Op::CreatePartner, Platform) => Some((422, "partner_needs_invitation")),
            (Op::DeleteAccount, Platform) => Some((409, "platform_is_permanent")),
            // Only the owner transfers ownership, and no actor but root owns
            // an account (see `expected`).
            (Op::TransferOwnership, _) => Some((409, "only_owner_transfers")),
            // Only partner staff have customers to be assigned.
            (Op::AssignCustomers, Platform | Organization) => Some((409, "no_change")),
            // Quotes are for customer organizations.
            (Op::CreateQuote, Platform | Partner) => Some((422, "quote_needs_organization")),
            _ => None,
        }
    }
}

// ---------------------------------------------------------- expectations

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Allowed, and the request succeeds with this status.
    Done(u16),
    /// Allowed, and the domain refuses it (not a permission answer).
    Refused(u16, &'static str),
    /// 403 `forbidden`.
    Forbidden,
    /// 404 `not_found`: another tenant's resource does not exist for you.
    Hidden,
}

impl Expect {
    fn status(self) -> u16 {
        match self {
            Expect::Done(s) | Expect::Refused(s, _) => s,
            Expect::Forbidden => 403,
            Expect::Hidden => 404,
        }
    }

    fn allowed(self) -> bool {
        matches!(self, Expect::Done(_) | Expect::Refused(..))
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Done(s) => write!(f, "{s} (allowed)"),
            Expect::Refused(s, code) => write!(f, "{s} {code} (allowed; refused by the domain)"),
            Expect::Forbidden => f.write_str("403 forbidden"),
            Expect::Hidden => f.write_str("404 not_found (other tenant)"),
        }
    }
}

/// The expected answer, from the matrix.
fn expected(actor: &Actor, op: Op, target: Tenant) -> Expect {
    match authorize(actor.role, op.action(), actor.relation(target)) {
        Err(Denied::Hidden) => Expect::Hidden,
        Err(Denied::Forbidden { .. }) => Expect::Forbidden,
        // Root (bootstrap's admin) owns the platform: its transfer gets past
        // the owner check and fails on the target, a support user.
        Ok(_)
            if op == Op::TransferOwnership
                && actor.label == "platform admin"
                && target == Tenant::Platform =>
        {
            Expect::Refused(409, "transfer_target_not_admin")
        }
        // A partner's staff read a customer's server only while its grant
        // stands, as they act on it.
        Ok(_)
            if op.ungranted_server()
                && matches!(actor.relation(target), Relation::Customer { .. }) =>
        {
            Expect::Refused(403, "partner_access_not_granted")
        }
        Ok(_) => match op.domain_refusal(target.kind()) {
            Some((status, code)) => Expect::Refused(status, code),
            None => Expect::Done(op.success()),
        },
    }
}

/// Representative cases written down from PRODUCT.md's roles table, by
/// hand: (actor, request, scope, status). Each must agree with the matrix.
const HAND_WRITTEN: &[(&str, Op, Scope, u16)] = {
    use Op::*;
    use Scope::*;
    &[
        // Admin: everything in its account, and in its customers.
        ("P admin", CreateUser, Own, 201),
        ("P admin", ChangeRole, Own, 200),
        ("P admin", AssignCustomers, Own, 200),
        ("P admin", InviteOrganization, Own, 201),
        ("P admin", CreateUser, Customer, 201),
        ("P admin", DeleteUser, Customer, 200),
        ("P admin", CreateLicense, Customer, 201),
        ("C admin", ResetPassword, Own, 200),
        ("C admin", RestoreUser, Own, 200),
        ("C admin", CancelLicense, Own, 200),
        // Ownership moves only by the owner (none of the actors): the
        // matrix allows admins to ask, the domain refuses.
        ("C admin", TransferOwnership, Own, 409),
        ("P admin", TransferOwnership, Customer, 409),
        ("platform admin", TransferOwnership, Other, 409),
        ("C regular", TransferOwnership, Own, 403),
        // Only the customer grants or revokes its partner's access.
        ("C admin", PartnerAccess, Own, 200),
        ("P admin", PartnerAccess, Customer, 403),
        ("platform admin", PartnerAccess, Customer, 403),
        ("platform admin", PartnerAccess, Other, 403),
        // Regular: product services, no user management.
        ("C regular", RegisterServer, Own, 201),
        ("C regular", AssignLicense, Own, 200),
        ("C regular", CreateUser, Own, 403),
        ("C regular", ChangeRole, Own, 403),
        ("P regular", UpdateServer, Customer, 200),
        ("P regular", InviteUser, Customer, 403),
        // Support: troubleshooting; nothing financial, no billing data.
        ("C support", ServerAction, Own, 200),
        ("C support", RestoreBackup, Own, 200),
        ("C support", OpenTicket, Own, 201),
        ("C support", CreateLicense, Own, 403),
        ("C support", ListLicenses, Own, 403),
        ("C support", RegisterServer, Own, 403),
        ("P support", BackupServer, Customer, 201),
        ("P support", ChangeSeats, Customer, 403),
        // Read-only: view everything, change nothing.
        ("C read-only", ListLicenses, Own, 200),
        ("C read-only", Activity, Own, 200),
        ("C read-only", OpenTicket, Own, 403),
        ("P read-only", ListServers, Customer, 200),
        ("P read-only", RenameAccount, Customer, 403),
        // Sales: read-only (billing included).
        ("P sales", ListLicenses, Customer, 200),
        ("P sales", UpdateServer, Customer, 403),
        ("P sales", CreateUser, Own, 403),
        // Partner staff: only assigned customers (none assigned: all).
        ("P user (no assignment)", ListServers, Customer, 200),
        ("P user (no assignment)", ServerAction, Customer, 200),
        ("P user (no assignment)", CreateUser, Customer, 403),
        ("P user (assigned to C2 only)", ListServers, Customer, 404),
        ("P user (assigned to C2 only)", ServerAction, Customer, 404),
        // Marketing: no customer data at all.
        ("P marketing", ListUsers, Customer, 404),
        ("P marketing", ListUsers, Own, 403),
        ("P marketing", EditOwnProfile, Own, 200),
        // Everyone edits their own profile.
        ("C read-only", OwnPreferences, Own, 200),
        // Another tenant's resources do not exist.
        ("P admin", ListUsers, Other, 404),
        ("P admin", DeleteUser, Other, 404),
        ("C admin", ServerAction, Other, 404),
        ("C admin", ViewAccount, Other, 404),
        // The platform operates every tenant.
        ("platform admin", CreateUser, Customer, 201),
        ("platform admin", InviteOrganization, Customer, 201),
        ("platform admin", CreateOrganization, Customer, 201),
        ("platform admin", ListUsers, Other, 200),
        ("platform admin", CreatePartner, Own, 422),
        ("platform admin", InvitePartner, Own, 201),
        // "Add, remove or change product services": Admin and Regular.
        ("C admin", DecommissionServer, Own, 200),
        ("C regular", DecommissionServer, Own, 200),
        ("C support", DecommissionServer, Own, 403),
        ("C read-only", DecommissionServer, Own, 403),
        ("platform support", ServerAction, Other, 200),
        ("platform support", CreateUser, Customer, 403),
        ("platform read-only", ListLicenses, Other, 200),
        ("platform read-only", RenameAccount, Customer, 403),
        // Only the platform creates partners; organizations have no customers.
        ("P admin", CreatePartner, Own, 422),
        ("C admin", CreateOrganization, Own, 422),
        // Quotes: the partner's sales staff and admins prepare them for a
        // customer; the customer's admins decide; billing viewers read them.
        ("P sales", CreateQuote, Customer, 201),
        ("P sales", UpdateQuote, Customer, 200),
        ("P sales", SendQuote, Customer, 200),
        ("P sales", WithdrawQuote, Customer, 200),
        ("P sales", GetQuote, Customer, 200),
        ("P sales", AcceptQuote, Customer, 403),
        ("P sales", CreateQuote, Own, 403),
        ("P sales", ServerLicense, Customer, 403),
        ("P admin", CreateQuote, Customer, 201),
        ("P admin", DeclineQuote, Customer, 403),
        ("P regular", CreateQuote, Customer, 403),
        ("P read-only", ListQuotes, Customer, 200),
        ("P user (no assignment)", ListQuotes, Customer, 200),
        ("P user (no assignment)", CreateQuote, Customer, 403),
        ("P user (assigned to C2 only)", GetQuote, Customer, 404),
        ("P user (assigned to C2 only)", CreateQuote, Customer, 404),
        ("P marketing", ListQuotes, Customer, 404),
        ("C admin", AcceptQuote, Own, 200),
        ("C admin", DeclineQuote, Own, 200),
        ("C admin", CreateQuote, Own, 403),
        ("C read-only", ListQuotes, Own, 200),
        ("C read-only", DeclineQuote, Own, 403),
        ("C support", ListQuotes, Own, 403),
        ("C regular", AcceptQuote, Own, 403),
        ("platform admin", CreateQuote, Other, 201),
        ("platform admin", CreateQuote, Customer, 422),
        ("platform admin", AcceptQuote, Other, 403),
        ("P admin", AcceptQuote, Other, 404),
        // A server's license is financial.
        ("C admin", ServerLicense, Own, 200),
        ("C regular", ServerLicense, Own, 200),
        ("C support", ServerLicense, Own, 403),
        ("P admin", ServerLicense, Customer, 200),
        // The partner kit: the platform's admins publish; partner admins and
        // marketing read; organizations have none.
        ("platform admin", PublishKitItem, Own, 201),
        ("platform admin", WithdrawKitItem, Own, 200),
        ("platform admin", ListPartnerKit, Own, 200),
        ("platform support", PublishKitItem, Own, 403),
        ("P admin", ListPartnerKit, Own, 200),
        ("P marketing", ListPartnerKit, Own, 200),
        ("P sales", ListPartnerKit, Own, 403),
        ("P admin", PublishKitItem, Own, 403),
        ("P marketing", UpdateKitItem, Own, 403),
        ("C admin", ListPartnerKit, Own, 404),
        ("C admin", PublishKitItem, Own, 404),
    ]
};

// ---------------------------------------------------------------- targets

/// What a request acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Need {
    /// The account itself.
    Account,
    /// A live user (role support) of the account.
    User,
    /// A user deleted within the retention period.
    DeletedUser,
    /// A partner's staff member (role user); elsewhere a live user.
    StaffUser,
    /// A pending user invitation.
    Invitation,
    /// A license with free seats.
    License,
    /// A license and a member without a seat.
    LicenseAndMember,
    /// A license and a member holding a seat.
    LicenseHeld,
    /// A server whose partner access is granted.
    Server,
    /// Such a server with a backup.
    ServerWithBackup,
    /// A server whose customer never granted its partner access.
    UngrantedServer,
    /// A server whose customer granted, then revoked, its partner access.
    RevokedServer,
    /// An open ticket.
    Ticket,
    /// A server (partner access granted) and a live license beside it.
    ServerAndLicense,
    /// A draft quote.
    DraftQuote,
    /// A quote sent to the customer.
    SentQuote,
    /// A published partner kit item (in the platform).
    KitItem,
    /// An account of its own beside the account (of the same kind, under
    /// the same parent, so related to the actor the same way): to be
    /// deleted.
    Disposable,
}

#[derive(Debug, Clone)]
struct Target {
    account: AccountId,
    user: Option<UserId>,
    invitation: Option<InvitationId>,
    license: Option<LicenseId>,
    server: Option<ServerId>,
    backup: Option<String>,
    ticket: Option<TicketId>,
    quote: Option<QuoteId>,
    kit_item: Option<KitItemId>,
    /// The body of a customers assignment: one of the partner's customers.
    customers: Vec<AccountId>,
}

/// The service on a real loopback port, and the ledger behind it for
/// making targets.
struct Env {
    api: TestApi,
    store: portal_ledger::store::SharedStore,
    accounts: HashMap<Tenant, AccountId>,
    counter: std::sync::atomic::AtomicUsize,
}

fn system() -> CommandContext {
    CommandContext::system()
}

impl Env {
    async fn new(t: &support::TestStore) -> (Self, String) {
        let api = TestApi::spawn(t).await;
        let password = api.root_password.clone();
        let env = Env {
            accounts: HashMap::from([(Tenant::Platform, api.platform)]),
            api,
            store: t.store.clone(),
            counter: Default::default(),
        };
        (env, password)
    }

    fn ledger(&self) -> &Ledger {
        self.api.ledger()
    }

    fn next(&self) -> usize {
        self.counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    fn account(&self, tenant: Tenant) -> AccountId {
        self.accounts[&tenant]
    }

    async fn head(&self) -> u64 {
        self.store.head().await.unwrap().position
    }

    async fn create_account(
        &self,
        kind: AccountKind,
        name: &str,
        parent: Option<AccountId>,
    ) -> AccountId {
        let id = AccountId(Uuid::now_v7());
        self.ledger()
            .run(
                &system(),
                CreateAccount {
                    account_id: id,
                    kind,
                    name: String::from(name),
                    parent,
                },
            )
            .await
            .unwrap();
        id
    }

    async fn create_user(&self, account: AccountId, role: Role) -> UserId {
        let n = self.next();
        let new = NewUser {
            user_id: UserId(Uuid::now_v7()),
            email: Email::parse(&format!("target{n}@world.example")).unwrap(),
            name: format!("Target {n}"),
            role,
            origin: Origin::Direct,
            invitation: None,
        };
        self.ledger()
            .run(
                &system(),
                CreateUser {
                    account_id: account,
                    user: new.clone(),
                    username: None,
                },
            )
            .await
            .unwrap();
        new.user_id
    }

    async fn sign_in(&self, email: &str, password: &str) -> axum_test::TestResponse {
        self.api
            .server
            .post("/v1/sessions")
            .json(&json!({ "email": email, "password": password }))
            .await
    }

    /// A user who signs in with a password.
    async fn user_with_password(&self, tenant: Tenant, role: Role, email: &str) -> UserId {
        let user = support::user_in(self.ledger(), self.account(tenant), email, role).await;
        self.api
            .auth
            .set_initial_password(
                &system(),
                user,
                &Password::parse(PASSWORD).unwrap(),
                Utc::now(),
            )
            .await
            .unwrap();
        user
    }

    async fn actor(
        &self,
        label: &'static str,
        tenant: Tenant,
        role: Role,
        assigned_to: Option<Tenant>,
    ) -> Actor {
        let email = format!("actor{}@world.example", self.next());
        let user_id = self.user_with_password(tenant, role, &email).await;
        if let Some(customer) = assigned_to {
            self.ledger()
                .run(
                    &system(),
                    AssignCustomers {
                        user_id,
                        customers: vec![self.account(customer)],
                    },
                )
                .await
                .unwrap();
        }
        let response = self.sign_in(&email, PASSWORD).await;
        assert_eq!(response.status_code(), 201, "{label}: {}", response.text());
        let token = response.json::<Value>()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        Actor {
            label,
            tenant,
            role,
            assigned_to,
            user_id,
            token,
        }
    }

    /// Makes what `need` names in `tenant`'s account.
    async fn target(&self, need: Need, tenant: Tenant) -> Target {
        let account = self.account(tenant);
        let kind = tenant.kind();
        let ledger = self.ledger();
        let mut target = Target {
            account,
            user: None,
            invitation: None,
            license: None,
            server: None,
            backup: None,
            ticket: None,
            quote: None,
            kit_item: None,
            customers: if kind == AccountKind::Partner {
                vec![self.account(Tenant::C)]
            } else {
                vec![]
            },
        };
        match need {
            Need::Account => {}
            Need::User => target.user = Some(self.create_user(account, Role::Support).await),
            Need::StaffUser => {
                let role = if kind == AccountKind::Partner {
                    Role::User
                } else {
                    Role::Support
                };
                target.user = Some(self.create_user(account, role).await);
            }
            Need::DeletedUser => {
                let user = self.create_user(account, Role::Support).await;
                ledger
                    .run(&system(), DeleteUser { user_id: user })
                    .await
                    .unwrap();
                target.user = Some(user);
            }
            Need::Invitation => {
                let n = self.next();
                let invited = self
                    .api
                    .auth
                    .invite(
                        &system(),
                        &Email::parse(&format!("pending{n}@world.example")).unwrap(),
                        InvitationTarget::User {
                            account_id: account,
                            role: Role::Support,
                        },
                        Utc::now(),
                    )
                    .await
                    .unwrap();
                target.invitation = Some(invited.invitation_id);
            }
            Need::License | Need::LicenseAndMember | Need::LicenseHeld => {
                let license = LicenseId(Uuid::now_v7());
                ledger
                    .run(
                        &system(),
                        licenses::CreateLicense {
                            account_id: account,
                            license_id: license,
                            product: String::from("Pro"),
                            seats: 5,
                        },
                    )
                    .await
                    .unwrap();
                target.license = Some(license);
                if need != Need::License {
                    let user = self.create_user(account, Role::Regular).await;
                    if need == Need::LicenseHeld {
                        ledger
                            .run(
                                &system(),
                                licenses::AssignLicense {
                                    license_id: license,
                                    users: vec![user],
                                },
                            )
                            .await
                            .unwrap();
                    }
                    target.user = Some(user);
                }
            }
            Need::Server | Need::ServerWithBackup | Need::UngrantedServer | Need::RevokedServer => {
                let server = ServerId(Uuid::now_v7());
                ledger
                    .run(
                        &system(),
                        servers::RegisterServer {
                            account_id: account,
                            server_id: server,
                            name: String::from("wall"),
                            location: None,
                            partner_access: need != Need::UngrantedServer,
                        },
                    )
                    .await
                    .unwrap();
                if need == Need::RevokedServer {
                    let revoke = servers::SetPartnerAccess {
                        server_id: server,
                        granted: false,
                        until: None,
                        now: chrono::Utc::now(),
                    };
                    ledger.run(&system(), revoke).await.unwrap();
                }
                if need == Need::ServerWithBackup {
                    let backup = uuid::Uuid::now_v7().to_string();
                    let command = servers::BackUpServer {
                        server_id: server,
                        backup_id: backup.clone(),
                    };
                    ledger.run(&system(), command).await.unwrap();
                    target.backup = Some(backup);
                }
                target.server = Some(server);
            }
            Need::Ticket => {
                let ticket = TicketId(Uuid::now_v7());
                ledger
                    .run(
                        &system(),
                        tickets::OpenTicket {
                            account_id: account,
                            ticket_id: ticket,
                            subject: String::from("Dark wall"),
                            description: String::from("since 9am"),
                        },
                    )
                    .await
                    .unwrap();
                target.ticket = Some(ticket);
            }
            Need::ServerAndLicense => {
                let server = ServerId(Uuid::now_v7());
                ledger
                    .run(
                        &system(),
                        servers::RegisterServer {
                            account_id: account,
                            server_id: server,
                            name: String::from("wall"),
                            location: None,
                            partner_access: true,
                        },
                    )
                    .await
                    .unwrap();
                let license = LicenseId(Uuid::now_v7());
                ledger
                    .run(
                        &system(),
                        licenses::CreateLicense {
                            account_id: account,
                            license_id: license,
                            product: String::from("Pro"),
                            seats: 5,
                        },
                    )
                    .await
                    .unwrap();
                target.server = Some(server);
                target.license = Some(license);
            }
            Need::DraftQuote | Need::SentQuote => {
                let quote = QuoteId(Uuid::now_v7());
                let terms = Terms {
                    product: Product::parse("Pro").unwrap(),
                    seats: Seats::parse(3).unwrap(),
                    unit_price: UnitPrice::parse(1_000).unwrap(),
                    currency: Currency::parse("EUR").unwrap(),
                    valid_until: None,
                    note: None,
                };
                let today = Utc::now().date_naive();
                ledger
                    .run(
                        &system(),
                        quotes::CreateQuote {
                            account_id: account,
                            quote_id: quote,
                            terms,
                            today,
                        },
                    )
                    .await
                    .unwrap();
                if need == Need::SentQuote {
                    ledger
                        .run(
                            &system(),
                            quotes::SendQuote {
                                quote_id: quote,
                                today,
                            },
                        )
                        .await
                        .unwrap();
                }
                target.quote = Some(quote);
            }
            Need::KitItem => {
                let item = KitItemId(Uuid::now_v7());
                ledger
                    .run(
                        &system(),
                        partner_kit::PublishKitItem {
                            platform: Some(self.account(Tenant::Platform)),
                            item_id: item,
                            item: NewKitItem {
                                title: Title::parse("Brochure").unwrap(),
                                description: Description::parse("The brochure").unwrap(),
                                material: Material::parse(Some("https://cdn.example/b.pdf"), None)
                                    .unwrap(),
                                category: Category::parse("brochures").unwrap(),
                            },
                        },
                    )
                    .await
                    .unwrap();
                target.kit_item = Some(item);
            }
            Need::Disposable => {
                target.account = self
                    .create_account(kind, "Disposable", tenant.parent().map(|p| self.account(p)))
                    .await;
            }
        }
        target
    }

    /// The request for `op` on `target` by `actor`.
    fn request(&self, op: Op, target: &Target, actor: &Actor) -> TestRequest {
        use Op::*;
        let n = self.next();
        let s = &self.api.server;
        let account = format!("/v1/accounts/{}", target.account);
        let user = || format!("/v1/users/{}", target.user.unwrap());
        let me = format!("/v1/users/{}", actor.user_id);
        let license = || format!("/v1/licenses/{}", target.license.unwrap());
        let server = || format!("/v1/servers/{}", target.server.unwrap());
        let ticket = || format!("/v1/tickets/{}", target.ticket.unwrap());
        let invitation = || format!("/v1/invitations/{}", target.invitation.unwrap());
        let quote = || format!("/v1/quotes/{}", target.quote.unwrap());
        let kit_item = || format!("/v1/partner-kit/{}", target.kit_item.unwrap());
        let request = match op {
            ViewAccount => s.get(&account),
            RenameAccount => s
                .patch(&account)
                .json(&json!({ "name": format!("Renamed {n}") })),
            TransferOwnership => s
                .put(&format!("{account}/owner"))
                .json(&json!({ "user_id": target.user.unwrap() })),
            DeleteAccount => s.delete(&account),
            CreateOrganization => s.post("/v1/accounts").json(&json!({
                "kind": "organization", "name": format!("Org {n}"), "parent_id": target.account
            })),
            CreatePartner => s.post("/v1/accounts").json(&json!({
                "kind": "partner", "name": format!("Partner {n}"), "parent_id": target.account
            })),
            ListUsers => s.get(&format!("{account}/users")),
            CreateUser => s.post(&format!("{account}/users")).json(&json!({
                "email": format!("created{n}@world.example"), "name": "Created",
                "role": "support", "password": "long enough pw"
            })),
            ImportDryRun => s
                .post(&format!("{account}/users/import?dry_run=true"))
                .content_type("text/csv")
                .bytes(format!("email,name,role\nimported{n}@world.example,Imp,support\n").into()),
            Activity => s.get(&format!("{account}/activity")),
            Access => s.get(&format!("{account}/access")),
            ListInvitations => s.get(&format!("{account}/invitations")),
            InviteUser => s.post(&format!("{account}/invitations")).json(&json!({
                "email": format!("invitee{n}@world.example"), "role": "support"
            })),
            InviteOrganization => s.post(&format!("{account}/invitations")).json(&json!({
                "email": format!("tenant{n}@world.example"),
                "tenant": { "kind": "organization", "name": format!("Invited {n}") }
            })),
            InvitePartner => s.post(&format!("{account}/invitations")).json(&json!({
                "email": format!("partner{n}@world.example"),
                "tenant": { "kind": "partner", "name": format!("Invited partner {n}") }
            })),
            ResendInvitation => s.post(&format!("{}/resend", invitation())),
            RevokeInvitation => s.post(&format!("{}/revoke", invitation())),
            Outbox => s.get(&format!("{account}/outbox")),
            ListLicenses => s.get(&format!("{account}/licenses")),
            CreateLicense => s
                .post(&format!("{account}/licenses"))
                .json(&json!({ "product": "Pro", "seats": 3 })),
            ChangeSeats => s
                .put(&format!("{}/seats", license()))
                .json(&json!({ "seats": 9 })),
            AssignLicense => s
                .post(&format!("{}/assignments", license()))
                .json(&json!({ "user_ids": [target.user.unwrap()] })),
            ReleaseLicense => s
                .post(&format!("{}/releases", license()))
                .json(&json!({ "user_ids": [target.user.unwrap()] })),
            CancelLicense => s.post(&format!("{}/cancel", license())),
            ListServers => s.get(&format!("{account}/servers")),
            AccountHistory => s.get(&format!("/v1/history/account/{}", target.account)),
            UserHistory => s.get(&format!("/v1/history/user/{}", target.user.unwrap())),
            LicenseHistory => s.get(&format!("/v1/history/license/{}", target.license.unwrap())),
            ServerHistory | UngrantedServerHistory | RevokedServerHistory => {
                s.get(&format!("/v1/history/server/{}", target.server.unwrap()))
            }
            TicketHistory => s.get(&format!("/v1/history/ticket/{}", target.ticket.unwrap())),
            QuoteHistory => s.get(&format!("/v1/history/quote/{}", target.quote.unwrap())),
            // A position past the head: everything as it stands.
            AccountAsOf => s.get(&format!("{account}?as_of={AS_OF}")),
            UserAsOf => s.get(&format!("{}?as_of={AS_OF}", user())),
            UsersAsOf => s.get(&format!("{account}/users?as_of={AS_OF}")),
            LicensesAsOf => s.get(&format!("{account}/licenses?as_of={AS_OF}")),
            ServersAsOf => s.get(&format!("{account}/servers?as_of={AS_OF}")),
            RegisterServer => s
                .post(&format!("{account}/servers"))
                .json(&json!({ "name": format!("server {n}") })),
            UpdateServer => s
                .patch(&server())
                .json(&json!({ "location": format!("Room {n}") })),
            PartnerAccess => s
                .put(&format!("{}/partner-access", server()))
                .json(&json!({ "granted": false })),
            DecommissionServer => s.delete(&server()),
            ServerAction => s
                .post(&format!("{}/actions", server()))
                .json(&json!({ "action": "control center opened" })),
            ServerConfiguration => s
                .put(&format!("{}/configuration", server()))
                .json(&json!({ "summary": format!("layout {n}") })),
            BackupServer => s.post(&format!("{}/backups", server())),
            RestoreBackup => s.post(&format!(
                "{}/backups/{}/restore",
                server(),
                target.backup.as_deref().unwrap()
            )),
            ListTickets => s.get(&format!("{account}/tickets")),
            ListServiceAccounts => s.get(&format!("{account}/service-accounts")),
            CreateServiceAccount => s
                .post(&format!("{account}/service-accounts"))
                .json(&json!({ "name": format!("Sync {n}"), "role": "read-only" })),
            OpenTicket => s.post(&format!("{account}/tickets")).json(&json!({
                "subject": format!("Ticket {n}"), "description": "it broke"
            })),
            UpdateTicket => s
                .patch(&ticket())
                .json(&json!({ "comment": format!("comment {n}") })),
            CloseTicket => s
                .post(&format!("{}/close", ticket()))
                .json(&json!({ "resolution": "fixed" })),
            GetUser => s.get(&user()),
            EditUser => s
                .patch(&user())
                .json(&json!({ "name": format!("Edited {n}") })),
            UserPreferences => s
                .put(&format!("{}/notification-preferences", user()))
                .json(&json!({ "frequency": "weekly", "categories": ["users"] })),
            ChangeRole => s
                .put(&format!("{}/role", user()))
                .json(&json!({ "role": "read-only" })),
            DeleteUser => s.delete(&user()),
            RestoreUser => s.post(&format!("{}/restore", user())),
            ForceLogout => s.post(&format!("{}/logout", user())),
            ResetPassword => s.post(&format!("{}/password-reset", user())),
            AssignCustomers => s
                .put(&format!("{}/customers", user()))
                .json(&json!({ "account_ids": target.customers })),
            EditOwnProfile => s.patch(&me).json(&json!({ "name": format!("Me {n}") })),
            OwnPreferences => s
                .put(&format!("{me}/notification-preferences"))
                .json(&json!({ "frequency": "daily", "categories": ["security", "servers"] })),
            ServerLicense => s
                .put(&format!("{}/license", server()))
                .json(&json!({ "license_id": target.license.unwrap() })),
            ListQuotes => s.get(&format!("{account}/quotes")),
            GetQuote => s.get(&quote()),
            CreateQuote => s.post(&format!("{account}/quotes")).json(&json!({
                "product": format!("Product {n}"), "seats": 5, "unit_price_cents": 990,
                "currency": "EUR"
            })),
            UpdateQuote => s
                .patch(&quote())
                .json(&json!({ "note": format!("note {n}") })),
            SendQuote => s.post(&format!("{}/send", quote())),
            WithdrawQuote => s.post(&format!("{}/withdraw", quote())),
            AcceptQuote => s.post(&format!("{}/accept", quote())),
            DeclineQuote => s
                .post(&format!("{}/decline", quote()))
                .json(&json!({ "reason": "not now" })),
            ListPartnerKit => s.get("/v1/partner-kit"),
            PublishKitItem => s.post("/v1/partner-kit").json(&json!({
                "title": format!("Item {n}"), "description": "marketing",
                "content": "text", "category": "templates"
            })),
            UpdateKitItem => s
                .patch(&kit_item())
                .json(&json!({ "title": format!("Item {n}") })),
            WithdrawKitItem => s.delete(&kit_item()),
        };
        request.authorization_bearer(&actor.token)
    }
}

// ---------------------------------------------------------------- the run

/// One (actor, request, scope).
struct Case<'a> {
    actor: &'a Actor,
    op: Op,
    scope: Scope,
    tenant: Tenant,
    expect: Expect,
}

impl Case<'_> {
    fn name(&self) -> String {
        format!(
            "role {} ({}), action {:?} [{}], scope {:?} ({:?}, relation {:?})",
            self.actor.role,
            self.actor.label,
            self.op,
            self.op.route(),
            self.scope,
            self.tenant,
            self.actor.relation(self.tenant),
        )
    }
}

struct Outcome {
    cases: usize,
    failures: Vec<String>,
}

async fn build_world(env: &mut Env, root_password: &str) -> Vec<Actor> {
    // The root admin signs in over HTTP, as everyone else does.
    let root = env.sign_in("root@platform.example", root_password).await;
    assert_eq!(root.status_code(), 201, "{}", root.text());
    let platform = env.account(Tenant::Platform);
    let p = env
        .create_account(AccountKind::Partner, "Partner P", Some(platform))
        .await;
    let q = env
        .create_account(AccountKind::Partner, "Partner Q", Some(platform))
        .await;
    let c = env
        .create_account(AccountKind::Organization, "Customer C", Some(p))
        .await;
    let c2 = env
        .create_account(AccountKind::Organization, "Customer C2", Some(p))
        .await;
    let d = env
        .create_account(AccountKind::Organization, "Customer D", Some(q))
        .await;
    env.accounts.extend([
        (Tenant::P, p),
        (Tenant::Q, q),
        (Tenant::C, c),
        (Tenant::C2, c2),
        (Tenant::D, d),
    ]);
    // Each account's first admin owns it (and is no actor, so the actors'
    // role changes and deletions never meet the owner's protection).
    for tenant in [Tenant::P, Tenant::Q, Tenant::C, Tenant::C2, Tenant::D] {
        env.create_user(env.account(tenant), Role::Admin).await;
    }
    let root_token = root.json::<Value>()["token"].as_str().unwrap().to_owned();
    let root_id = env
        .api
        .server
        .get_as(&root_token, "/v1/me")
        .await
        .json::<Value>()["user_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut actors = vec![Actor {
        label: "platform admin",
        tenant: Tenant::Platform,
        role: Role::Admin,
        assigned_to: None,
        user_id: root_id,
        token: root_token,
    }];
    let specs: &[(&'static str, Tenant, Role, Option<Tenant>)] = &[
        ("platform support", Tenant::Platform, Role::Support, None),
        ("platform read-only", Tenant::Platform, Role::ReadOnly, None),
        ("P admin", Tenant::P, Role::Admin, None),
        ("P regular", Tenant::P, Role::Regular, None),
        ("P support", Tenant::P, Role::Support, None),
        ("P read-only", Tenant::P, Role::ReadOnly, None),
        ("P sales", Tenant::P, Role::Sales, None),
        ("P user (no assignment)", Tenant::P, Role::User, None),
        (
            "P user (assigned to C2 only)",
            Tenant::P,
            Role::User,
            Some(Tenant::C2),
        ),
        ("P marketing", Tenant::P, Role::Marketing, None),
        ("C admin", Tenant::C, Role::Admin, None),
        ("C regular", Tenant::C, Role::Regular, None),
        ("C support", Tenant::C, Role::Support, None),
        ("C read-only", Tenant::C, Role::ReadOnly, None),
    ];
    for (label, tenant, role, assigned) in specs {
        actors.push(env.actor(label, *tenant, *role, *assigned).await);
    }
    actors
}

/// Notification-only users receive e-mail and never sign in: refused like
/// a wrong password, and nothing is appended.
async fn notification_users_cannot_sign_in(env: &Env) {
    for tenant in [Tenant::Platform, Tenant::P, Tenant::C] {
        let email = format!("notify{}@world.example", env.next());
        env.user_with_password(tenant, Role::Notifications, &email)
            .await;
        let head = env.head().await;
        let refused = env.sign_in(&email, PASSWORD).await;
        assert_eq!(
            (refused.status_code().as_u16(), error_code(&refused)),
            (401, "invalid_credentials".to_owned()),
            "role notifications ({tenant:?}), action sign-in: {}",
            refused.text()
        );
        assert_eq!(
            env.head().await,
            head,
            "role notifications ({tenant:?}), action sign-in: a refused sign-in appended"
        );
    }
}

/// Every action that has a route is exercised; every hand-written case
/// names a real actor and agrees with the matrix.
fn check_tables(actors: &[Actor]) {
    let covered: HashSet<Action> = Op::ALL.iter().map(|op| op.action()).collect();
    for action in Action::ALL {
        assert!(
            covered.contains(&action),
            "action {action:?} is governed by the matrix but no request exercises it"
        );
    }
    let mut disagreements = Vec::new();
    for (label, op, scope, status) in HAND_WRITTEN {
        let actor = actors
            .iter()
            .find(|a| a.label == *label)
            .unwrap_or_else(|| panic!("hand-written case names unknown actor {label}"));
        let (_, tenant) = actor
            .scopes()
            .into_iter()
            .find(|(s, _)| s == scope)
            .unwrap_or_else(|| panic!("{label} has no scope {scope:?}"));
        let tenant = op.target_tenant(tenant);
        assert!(
            runs(*op, *scope, tenant),
            "hand-written case {label} {op:?} {scope:?} is not a case of the run"
        );
        let from_matrix = expected(actor, *op, tenant);
        if from_matrix.status() != *status {
            disagreements.push(format!(
                "role {} ({label}), action {op:?}, scope {scope:?}: the hand-written table says {status}, the matrix {from_matrix}",
                actor.role
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "the permission matrix disagrees with the hand-written table:\n{}",
        disagreements.join("\n")
    );
    // "Sales: read-only except quotes": of every request that changes
    // state, the matrix lets Sales prepare quotes and edit its own profile,
    // nothing else, anywhere (the run then checks the server agrees).
    for sales in actors.iter().filter(|a| a.role == Role::Sales) {
        for (scope, tenant) in sales.scopes() {
            for op in Op::ALL {
                let tenant = op.target_tenant(tenant);
                if !runs(op, scope, tenant) || !op.appends() {
                    continue;
                }
                let allowed = expected(sales, op, tenant).allowed();
                let may = op.prepares_quotes() && scope == Scope::Customer
                    || matches!(op, Op::EditOwnProfile | Op::OwnPreferences);
                assert_eq!(
                    allowed, may,
                    "role sales ({}), action {op:?}, scope {scope:?}: allowed {allowed}",
                    sales.label
                );
            }
        }
    }
}

async fn run_case(env: &Env, case: &Case<'_>, target: &Target, failures: &mut Vec<String>) {
    let before = env.head().await;
    let response = env.request(case.op, target, case.actor).await;
    let after = env.head().await;
    let status = response.status_code().as_u16();
    let code = error_code(&response);
    let mut wrong = Vec::new();
    let answer_ok = match case.expect {
        Expect::Done(s) => status == s,
        Expect::Refused(s, c) => status == s && code == c,
        Expect::Forbidden => status == 403 && code == "forbidden",
        Expect::Hidden => status == 404 && code == "not_found",
    };
    if !answer_ok {
        let body: String = response.text().chars().take(300).collect();
        wrong.push(format!("expected {}, got {status} {body}", case.expect));
    }
    let should_append = matches!(case.expect, Expect::Done(_)) && case.op.appends();
    if should_append && after <= before {
        wrong.push("an allowed command appended nothing".to_owned());
    }
    if !should_append && after != before {
        wrong.push(format!(
            "the log head moved from {before} to {after} ({})",
            if case.expect.allowed() {
                "a read or a refused command"
            } else {
                "a denied request appended"
            }
        ));
    }
    if !wrong.is_empty() {
        failures.push(format!("{}: {}", case.name(), wrong.join("; ")));
    }
}

/// The access view ("who could", `GET /v1/accounts/{id}/access`) lists
/// exactly what the service allows: for every actor and every account it
/// stands in (its own, a partner's customer, the platform's tenants), an
/// action the requests tried is listed if and only if a request for it was
/// allowed and done.
async fn access_view_agrees<'a>(
    env: &Env,
    actors: &[Actor],
    cases: impl Iterator<Item = &'a Case<'a>>,
    failures: &mut Vec<String>,
) {
    let mut tried: HashMap<(&str, Tenant), HashSet<Action>> = HashMap::new();
    let mut done: HashMap<(&str, Tenant), HashSet<Action>> = HashMap::new();
    for case in cases {
        let shown = matches!(
            case.actor.relation(case.tenant),
            Relation::Own | Relation::Customer { .. } | Relation::Platform
        );
        if !shown {
            continue;
        }
        let key = (case.actor.label, case.tenant);
        tried.entry(key).or_default().insert(case.op.action());
        if matches!(case.expect, Expect::Done(_)) {
            done.entry(key).or_default().insert(case.op.action());
        }
    }
    let root = &actors[0].token;
    let mut views: HashMap<Tenant, Value> = HashMap::new();
    for (_, tenant) in tried.keys() {
        if !views.contains_key(tenant) {
            let path = format!("/v1/accounts/{}/access", env.account(*tenant));
            let view: Value = env.api.server.get_as(root, &path).await.json();
            views.insert(*tenant, view);
        }
    }
    for ((label, tenant), actions) in &tried {
        let actor = actors.iter().find(|a| a.label == *label).unwrap();
        let listed: HashSet<Value> = views[tenant]["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["user_id"] == actor.user_id.to_string())
            .map(|u| u["actions"].as_array().unwrap().iter().cloned().collect())
            .unwrap_or_default();
        for action in actions {
            let allowed = done
                .get(&(*label, *tenant))
                .is_some_and(|d| d.contains(action));
            let shown = listed.contains(&serde_json::to_value(action).unwrap());
            if allowed != shown {
                failures.push(format!(
                    "access view of {tenant:?} for {label}: {action:?} {} but the requests {}",
                    if shown { "listed" } else { "not listed" },
                    if allowed { "were allowed" } else { "were not" },
                ));
            }
        }
    }
}

/// Whether (request, scope) is a case: one's own profile is only one's
/// own, and the partner kit is asked about once per actor; licenses and
/// quotes exist in organizations only.
fn runs(op: Op, scope: Scope, tenant: Tenant) -> bool {
    let own_only = matches!(op, Op::EditOwnProfile | Op::OwnPreferences) || op.kit();
    (!own_only || scope == Scope::Own) && op.applies_to(tenant.kind())
}

async fn run_matrix(t: &support::TestStore) -> Outcome {
    let (mut env, root_password) = Env::new(t).await;
    let actors = build_world(&mut env, &root_password).await;
    check_tables(&actors);
    notification_users_cannot_sign_in(&env).await;

    let mut cases = Vec::new();
    let mut own_deletions = Vec::new();
    for actor in &actors {
        for (scope, tenant) in actor.scopes() {
            for op in Op::ALL {
                let tenant = op.target_tenant(tenant);
                if !runs(op, scope, tenant) {
                    continue;
                }
                let case = Case {
                    actor,
                    op,
                    scope,
                    tenant,
                    expect: expected(actor, op, tenant),
                };
                if op == Op::DeleteAccount && scope == Scope::Own {
                    own_deletions.push(case);
                } else {
                    cases.push(case);
                }
            }
        }
    }

    // Reads see the shared targets through the read models: let them catch up.
    let mut shared: HashMap<(Need, Tenant), Target> = HashMap::new();
    for case in &cases {
        let need = case.op.needs();
        if !shared.contains_key(&(need, case.tenant)) && need != Need::Disposable {
            let target = env.target(need, case.tenant).await;
            shared.insert((need, case.tenant), target);
        }
    }
    let head = env.head().await;
    assert!(
        env.api
            .projections
            .wait_for(head, support::PROJECTION_WAIT)
            .await,
        "the read models did not catch up"
    );

    let mut failures = Vec::new();
    for case in &cases {
        let need = case.op.needs();
        // What an allowed command consumes is made for it alone.
        let target = if case.expect.allowed() && case.op.appends() || need == Need::Disposable {
            env.target(need, case.tenant).await
        } else {
            shared[&(need, case.tenant)].clone()
        };
        run_case(&env, case, &target, &mut failures).await;
    }

    // The access view, asked before any account is deleted.
    access_view_agrees(
        &env,
        &actors,
        cases.iter().chain(&own_deletions),
        &mut failures,
    )
    .await;

    // Deleting one's own account ends the actor's (and its colleagues')
    // sessions: last, the denied ones first, customers before partners.
    own_deletions.sort_by_key(|case| {
        (
            case.expect.allowed(),
            case.tenant == Tenant::P,
            case.tenant == Tenant::Platform,
        )
    });
    for case in &own_deletions {
        let target = env.target(Need::Account, case.tenant).await;
        run_case(&env, case, &target, &mut failures).await;
    }
    catalog_names_what_the_log_holds(&env, &mut failures).await;
    Outcome {
        cases: cases.len() + own_deletions.len(),
        failures,
    }
}

/// Every event these thousands of requests appended is one the event
/// catalog lists, at its current schema version, under the action type
/// its command recorded (`GET /v1/event-types` says what the log holds).
async fn catalog_names_what_the_log_holds(env: &Env, failures: &mut Vec<String>) {
    let catalog = portal_ledger::domain::catalog::catalog();
    let events = env
        .store
        .read_all(1, 1_000_000, &portal_ledger::store::ReadFilter::all())
        .await
        .unwrap();
    let mut seen = HashSet::new();
    for event in &events {
        let event_type = event.event_type.as_str();
        let action = event.metadata.to_value()["action_type"]
            .as_str()
            .map(str::to_owned);
        if !seen.insert((event_type.to_owned(), action.clone())) {
            continue;
        }
        if event_type == "checkpoint.signed" {
            continue;
        }
        let Some(entry) = catalog.iter().find(|e| e.event_type == event_type) else {
            failures.push(format!("catalog: {event_type} is not listed"));
            continue;
        };
        if event.schema_version != entry.schema_version {
            failures.push(format!(
                "catalog: {event_type} appended at version {} (current {})",
                event.schema_version, entry.schema_version
            ));
        }
        if let Some(action) = action {
            if !entry.action_types.contains(&action.as_str()) {
                failures.push(format!(
                    "catalog: {event_type} lacks action type {action:?}"
                ));
            }
        }
    }
}

fn report(kind: support::Kind, outcome: Outcome) {
    let Outcome { cases, failures } = outcome;
    assert!(cases > 0, "no case ran");
    assert!(
        failures.is_empty(),
        "{kind:?}: {} of {cases} authorization cases failed:\n{}",
        failures.len(),
        failures
            .iter()
            .take(60)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

on_both_backends!(
    every_role_every_action_every_scope,
    |t: support::TestStore| async move {
        let outcome = run_matrix(&t).await;
        report(t.kind, outcome);
    }
);
