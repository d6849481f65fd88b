//! The permission matrix: one place that says which role may do what, where.
//!
//! Every command and every read names an [`Action`]; the caller works out how
//! the actor's account relates to the target ([`Relation`]); [`authorize`]
//! answers with a [`Grant`] — recorded in the event's metadata as the
//! authorization that allowed it — or a [`Denied`]. Handlers never compare
//! role names themselves.
//!
//! The matrix is written over *capabilities* (what kind of thing an action
//! is) rather than over each action, because that is how the portals
//! describe their roles: "Support: troubleshooting, nothing with financial
//! impact", "Read-Only: view everything, change nothing".

use serde::Serialize;
use thiserror::Error;

use crate::domain::role::{AccountKind, Role};
use crate::domain::DomainError;

/// What kind of thing an action is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Edit one's own name, e-mail, password and notification preferences.
    OwnProfile,
    /// See users, organizations, servers, tickets, the activity log.
    View,
    /// See licenses, subscriptions and other billing data.
    ViewBilling,
    /// Add, remove or change product services (servers, configuration).
    ManageServices,
    /// Troubleshooting: server actions, backups, tickets.
    Troubleshoot,
    /// Anything with financial impact: licenses and subscriptions.
    Financial,
    /// Invite, create, edit, delete and restore users; roles; sessions.
    ManageUsers,
    /// Grant or revoke a partner's access to the account's servers: only
    /// the customer itself decides.
    GrantPartnerAccess,
    /// Invite customer organizations (partners) or partners (platform).
    InviteTenants,
    /// Prepare, change, send and withdraw quotes: what a partner does for
    /// its customers (sales staff and admins), never in its own account.
    Quotes,
    /// Accept or decline a quote: only the customer itself decides.
    DecideQuotes,
    /// Read the partner kit materials.
    PartnerKit,
    /// Publish, change and withdraw partner kit materials: the platform's.
    PublishPartnerKit,
}

/// Every action of the product (PRODUCT.md, "Actions"), commands and reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    UpdateOwnProfile,
    ViewAccount,
    UpdateAccount,
    InvitePartner,
    InviteOrganization,
    CreateOrganization,
    DeleteOrganization,
    ViewUsers,
    InviteUser,
    CreateUser,
    UpdateUserProfile,
    ChangeUserRole,
    AssignCustomers,
    ResetPassword,
    ForceLogout,
    DeleteUser,
    RestoreUser,
    ImportUsers,
    ViewLicenses,
    ManageLicenses,
    AssignLicenses,
    ViewServers,
    RegisterServer,
    UpdateServer,
    DecommissionServer,
    ServerAction,
    BackupServer,
    GrantPartnerAccess,
    ViewTickets,
    ManageTickets,
    ViewActivityLog,
    ManageQuotes,
    ViewPartnerKit,
    ViewQuotes,
    DecideQuote,
    ManagePartnerKit,
    /// See an account's service accounts and their keys (never a secret).
    ViewServiceAccounts,
    /// Create, change and deactivate service accounts; issue and revoke
    /// their keys.
    ManageServiceAccounts,
}

impl Action {
    pub const ALL: [Action; 38] = [
        Action::UpdateOwnProfile,
        Action::ViewAccount,
        Action::UpdateAccount,
        Action::InvitePartner,
        Action::InviteOrganization,
        Action::CreateOrganization,
        Action::DeleteOrganization,
        Action::ViewUsers,
        Action::InviteUser,
        Action::CreateUser,
        Action::UpdateUserProfile,
        Action::ChangeUserRole,
        Action::AssignCustomers,
        Action::ResetPassword,
        Action::ForceLogout,
        Action::DeleteUser,
        Action::RestoreUser,
        Action::ImportUsers,
        Action::ViewLicenses,
        Action::ManageLicenses,
        Action::AssignLicenses,
        Action::ViewServers,
        Action::RegisterServer,
        Action::UpdateServer,
        Action::DecommissionServer,
        Action::ServerAction,
        Action::BackupServer,
        Action::GrantPartnerAccess,
        Action::ViewTickets,
        Action::ManageTickets,
        Action::ViewActivityLog,
        Action::ManageQuotes,
        Action::ViewPartnerKit,
        Action::ViewQuotes,
        Action::DecideQuote,
        Action::ManagePartnerKit,
        Action::ViewServiceAccounts,
        Action::ManageServiceAccounts,
    ];

    /// Only a person may do this, whatever a service account's role says:
    /// managing service accounts and their keys (a key that could mint
    /// keys, or widen its own role or customers, would outlive every
    /// revocation) and editing one's own profile (a service account has
    /// none).
    pub fn needs_a_person(self) -> bool {
        matches!(
            self,
            Action::ManageServiceAccounts | Action::UpdateOwnProfile
        )
    }

    pub fn capability(self) -> Capability {
        use Action::*;
        match self {
            UpdateOwnProfile => Capability::OwnProfile,
            ViewAccount | ViewUsers | ViewServers | ViewTickets | ViewActivityLog
            | ViewServiceAccounts => Capability::View,
            // A quote is billing data: who sees licenses sees quotes.
            ViewLicenses | ViewQuotes => Capability::ViewBilling,
            UpdateAccount
            | InviteUser
            | CreateUser
            | UpdateUserProfile
            | ChangeUserRole
            | AssignCustomers
            | ResetPassword
            | ForceLogout
            | DeleteUser
            | RestoreUser
            | ImportUsers
            | DeleteOrganization
            | ManageServiceAccounts => Capability::ManageUsers,
            InvitePartner | InviteOrganization | CreateOrganization => Capability::InviteTenants,
            ManageLicenses | AssignLicenses => Capability::Financial,
            // "Add, remove or change product services" (Admin, Regular).
            RegisterServer | UpdateServer | DecommissionServer => Capability::ManageServices,
            ServerAction | BackupServer | ManageTickets => Capability::Troubleshoot,
            GrantPartnerAccess => Capability::GrantPartnerAccess,
            ManageQuotes => Capability::Quotes,
            DecideQuote => Capability::DecideQuotes,
            ViewPartnerKit => Capability::PartnerKit,
            ManagePartnerKit => Capability::PublishPartnerKit,
        }
    }
}

/// How the actor's account relates to the account the action is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Relation {
    /// The actor's own account.
    Own,
    /// A partner's staff acting in one of the partner's customer
    /// organizations. `assigned` is whether the customer is among the
    /// actor's assigned customers (true when the actor has none assigned).
    Customer { assigned: bool },
    /// The platform's staff acting in a partner or organization.
    Platform,
    /// A partner's staff reading what the platform that invited the
    /// partner provides to its partners (the partner kit).
    Provider,
    /// Anything else: another tenant.
    Unrelated,
}

/// The authorization that allowed an action; goes into the event metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Grant {
    pub role: Role,
    pub action: Action,
    pub relation: Relation,
}

/// Why an action was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Denied {
    /// The target belongs to another tenant: answer as if it did not exist.
    #[error("not found")]
    Hidden,
    /// The actor may see the target but not do this.
    #[error("the {role} role may not {action:?} here")]
    Forbidden { role: Role, action: Action },
}

/// What a role may do in its own account.
fn own(role: Role, capability: Capability) -> bool {
    use Capability::*;
    match role {
        _ if capability == OwnProfile => true,
        // Quotes are what a partner prepares for its customers: nobody
        // quotes its own account (the customer decides: `DecideQuotes`).
        _ if capability == Quotes => false,
        Role::Admin => true,
        Role::Regular => matches!(
            capability,
            View | ViewBilling | ManageServices | Troubleshoot | Financial
        ),
        Role::Support => matches!(capability, View | Troubleshoot),
        Role::ReadOnly => matches!(capability, View | ViewBilling),
        Role::Sales => matches!(capability, View | ViewBilling),
        Role::User => matches!(capability, View),
        Role::Marketing => matches!(capability, PartnerKit),
        Role::Notifications => false,
    }
}

/// What a partner's staff may do in a customer organization.
fn in_customer(role: Role, capability: Capability, assigned: bool) -> Result<bool, Denied> {
    use Capability::*;
    Ok(match role {
        // A customer not assigned to a staff member does not exist for
        // them; "no customer data at all" for marketing.
        Role::User if !assigned => return Err(Denied::Hidden),
        Role::Marketing | Role::Notifications => return Err(Denied::Hidden),
        // Quotes are prepared by the partner's sales staff and admins.
        _ if capability == Quotes => matches!(role, Role::Admin | Role::Sales),
        // The customer alone grants access to its servers and decides on
        // quotes; invitations of tenants and partner materials are not
        // customer matters.
        _ if matches!(
            capability,
            GrantPartnerAccess
                | DecideQuotes
                | InviteTenants
                | PartnerKit
                | PublishPartnerKit
                | OwnProfile
        ) =>
        {
            false
        }
        Role::Admin | Role::Regular | Role::Support | Role::ReadOnly | Role::Sales => {
            own(role, capability)
        }
        Role::User => matches!(
            capability,
            View | ViewBilling | ManageServices | Troubleshoot
        ),
    })
}

/// What the platform's staff may do in partners and organizations.
fn from_platform(role: Role, capability: Capability) -> Result<bool, Denied> {
    use Capability::*;
    Ok(match role {
        Role::Admin => !matches!(
            capability,
            GrantPartnerAccess | DecideQuotes | PartnerKit | PublishPartnerKit | OwnProfile
        ),
        Role::Support => matches!(capability, View | Troubleshoot),
        Role::ReadOnly => matches!(capability, View | ViewBilling),
        _ => return Err(Denied::Hidden),
    })
}

/// What a partner's staff may do with what their platform provides: read
/// the partner kit if their role reads it at home; see nothing else.
fn from_provider(role: Role, capability: Capability) -> Result<bool, Denied> {
    match capability {
        Capability::PartnerKit => Ok(own(role, capability)),
        Capability::PublishPartnerKit => Ok(false),
        _ => Err(Denied::Hidden),
    }
}

/// Why `action` cannot happen in an account of `kind` at all, whoever
/// asks (`None`: it can) — the tenancy's shape, which the matrix does not
/// know. Only the platform brings in partners and keeps the partner kit
/// (partners read it as the platform's); organizations have no customers
/// to create, invite or be assigned to; licenses and quotes belong to
/// organizations; the platform account is permanent.
///
/// One code path for both sides: the command runner refuses with this
/// right after the matrix allowed the action (`app::command`), and the
/// access view ("who could") lists only what [`exists_in`] allows.
pub fn refused_in(action: Action, kind: AccountKind) -> Option<DomainError> {
    use AccountKind::{Organization, Partner, Platform};
    let (exists, refusal) = match action {
        Action::InvitePartner => (kind == Platform, DomainError::InvalidTenantInvitation),
        Action::InviteOrganization | Action::CreateOrganization => {
            (kind != Organization, DomainError::InvalidTenantInvitation)
        }
        Action::ManagePartnerKit | Action::ViewPartnerKit => {
            (kind == Platform, DomainError::NotFound)
        }
        Action::AssignCustomers => (kind == Partner, DomainError::NoChange),
        Action::ManageLicenses | Action::AssignLicenses => {
            (kind == Organization, DomainError::NotLicensable)
        }
        Action::ManageQuotes | Action::DecideQuote => {
            (kind == Organization, DomainError::QuoteNeedsOrganization)
        }
        Action::DeleteOrganization => (kind != Platform, DomainError::PlatformIsPermanent),
        _ => return None,
    };
    (!exists).then_some(refusal)
}

/// Whether `action` can happen in an account of `kind` at all (see
/// [`refused_in`]).
pub fn exists_in(action: Action, kind: AccountKind) -> bool {
    refused_in(action, kind).is_none()
}

/// The matrix: may `role`, related to the target by `relation`, do `action`?
pub fn authorize(role: Role, action: Action, relation: Relation) -> Result<Grant, Denied> {
    if !role.can_sign_in() {
        return Err(Denied::Forbidden { role, action });
    }
    let capability = action.capability();
    let allowed = match relation {
        Relation::Own => own(role, capability),
        Relation::Customer { assigned } => in_customer(role, capability, assigned)?,
        Relation::Platform => from_platform(role, capability)?,
        Relation::Provider => from_provider(role, capability)?,
        Relation::Unrelated => return Err(Denied::Hidden),
    };
    if allowed {
        Ok(Grant {
            role,
            action,
            relation,
        })
    } else {
        Err(Denied::Forbidden { role, action })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(role: Role, action: Action, relation: Relation) -> bool {
        authorize(role, action, relation).is_ok()
    }

    #[test]
    fn admins_may_do_everything_in_their_own_account_but_quote_it() {
        for action in Action::ALL {
            assert_eq!(
                allowed(Role::Admin, action, Relation::Own),
                action != Action::ManageQuotes,
                "{action:?}"
            );
        }
    }

    #[test]
    fn read_only_changes_nothing_anywhere() {
        for relation in [
            Relation::Own,
            Relation::Customer { assigned: true },
            Relation::Platform,
        ] {
            for action in Action::ALL {
                let is_view = matches!(
                    action.capability(),
                    Capability::View | Capability::ViewBilling
                ) || (action == Action::UpdateOwnProfile
                    && relation == Relation::Own);
                assert_eq!(
                    allowed(Role::ReadOnly, action, relation),
                    is_view,
                    "{action:?} {relation:?}"
                );
            }
        }
    }

    #[test]
    fn support_has_no_financial_or_user_powers_and_no_billing_data() {
        for action in [
            Action::ManageLicenses,
            Action::AssignLicenses,
            Action::ViewLicenses,
            Action::InviteUser,
            Action::RegisterServer,
        ] {
            assert!(!allowed(Role::Support, action, Relation::Own), "{action:?}");
        }
        assert!(allowed(Role::Support, Action::ServerAction, Relation::Own));
        assert!(allowed(Role::Support, Action::ManageTickets, Relation::Own));
    }

    #[test]
    fn regular_manages_services_but_not_users() {
        assert!(allowed(
            Role::Regular,
            Action::RegisterServer,
            Relation::Own
        ));
        assert!(allowed(
            Role::Regular,
            Action::ManageLicenses,
            Relation::Own
        ));
        assert!(!allowed(Role::Regular, Action::InviteUser, Relation::Own));
        assert!(!allowed(
            Role::Regular,
            Action::ChangeUserRole,
            Relation::Own
        ));
    }

    #[test]
    fn partner_staff_see_only_assigned_customers() {
        assert!(allowed(
            Role::User,
            Action::ViewServers,
            Relation::Customer { assigned: true }
        ));
        assert_eq!(
            authorize(
                Role::User,
                Action::ViewServers,
                Relation::Customer { assigned: false }
            ),
            Err(Denied::Hidden)
        );
        assert!(!allowed(
            Role::User,
            Action::InviteUser,
            Relation::Customer { assigned: true }
        ));
    }

    #[test]
    fn marketing_sees_no_customer_data_and_notification_users_do_nothing() {
        for action in Action::ALL {
            assert!(!allowed(
                Role::Marketing,
                action,
                Relation::Customer { assigned: true }
            ));
            for relation in [
                Relation::Own,
                Relation::Customer { assigned: true },
                Relation::Platform,
            ] {
                assert!(!allowed(Role::Notifications, action, relation));
            }
        }
        assert!(allowed(
            Role::Marketing,
            Action::ViewPartnerKit,
            Relation::Own
        ));
        assert!(!allowed(Role::Marketing, Action::ViewUsers, Relation::Own));
        assert!(allowed(
            Role::Marketing,
            Action::UpdateOwnProfile,
            Relation::Own
        ));
    }

    #[test]
    fn only_the_customer_grants_partner_access() {
        assert!(allowed(
            Role::Admin,
            Action::GrantPartnerAccess,
            Relation::Own
        ));
        assert!(!allowed(
            Role::Admin,
            Action::GrantPartnerAccess,
            Relation::Customer { assigned: true }
        ));
        assert!(!allowed(
            Role::Admin,
            Action::GrantPartnerAccess,
            Relation::Platform
        ));
    }

    #[test]
    fn other_tenants_are_hidden_not_forbidden() {
        for role in Role::ALL {
            for action in Action::ALL {
                assert_eq!(
                    authorize(role, action, Relation::Unrelated).map(|_| ()),
                    if role.can_sign_in() {
                        Err(Denied::Hidden)
                    } else {
                        Err(Denied::Forbidden { role, action })
                    }
                );
            }
        }
    }

    #[test]
    fn sales_quotes_in_customers_but_changes_nothing_else() {
        assert!(allowed(
            Role::Sales,
            Action::ManageQuotes,
            Relation::Customer { assigned: true }
        ));
        assert!(allowed(
            Role::Sales,
            Action::ViewLicenses,
            Relation::Customer { assigned: true }
        ));
        assert!(!allowed(
            Role::Sales,
            Action::UpdateServer,
            Relation::Customer { assigned: true }
        ));
    }

    #[test]
    fn quotes_are_prepared_by_partner_sales_and_admins_and_decided_by_the_customer() {
        let customer = Relation::Customer { assigned: true };
        for role in Role::ALL {
            assert_eq!(
                allowed(role, Action::ManageQuotes, customer),
                matches!(role, Role::Admin | Role::Sales),
                "{role}"
            );
            assert!(
                !allowed(role, Action::ManageQuotes, Relation::Own),
                "{role}"
            );
            assert!(!allowed(role, Action::DecideQuote, customer), "{role}");
            assert!(
                !allowed(role, Action::DecideQuote, Relation::Platform),
                "{role}"
            );
            assert_eq!(
                allowed(role, Action::DecideQuote, Relation::Own),
                role == Role::Admin,
                "{role}"
            );
        }
        assert!(allowed(
            Role::Admin,
            Action::ManageQuotes,
            Relation::Platform
        ));
        // Quotes are billing data: Support does not see them.
        assert!(allowed(Role::ReadOnly, Action::ViewQuotes, Relation::Own));
        assert!(!allowed(Role::Support, Action::ViewQuotes, Relation::Own));
        assert!(allowed(Role::Sales, Action::ViewQuotes, customer));
        assert_eq!(
            authorize(
                Role::User,
                Action::ManageQuotes,
                Relation::Customer { assigned: false }
            ),
            Err(Denied::Hidden)
        );
        assert!(allowed(Role::User, Action::ViewQuotes, customer));
        assert!(!allowed(Role::User, Action::ManageQuotes, customer));
    }

    #[test]
    fn sales_changes_nothing_but_quotes() {
        for relation in [Relation::Own, Relation::Customer { assigned: true }] {
            for action in Action::ALL {
                let reads = matches!(
                    action.capability(),
                    Capability::View | Capability::ViewBilling
                );
                let may = reads
                    || (action == Action::UpdateOwnProfile && relation == Relation::Own)
                    || (action == Action::ManageQuotes && relation != Relation::Own);
                assert_eq!(
                    allowed(Role::Sales, action, relation),
                    may,
                    "{action:?} {relation:?}"
                );
            }
        }
    }

    #[test]
    fn the_partner_kit_is_read_by_partner_admins_and_marketing_and_published_by_the_platform() {
        for role in Role::ALL {
            assert_eq!(
                allowed(role, Action::ViewPartnerKit, Relation::Provider),
                matches!(role, Role::Admin | Role::Marketing),
                "{role}"
            );
            assert!(
                !allowed(role, Action::ManagePartnerKit, Relation::Provider),
                "{role}"
            );
            // What the platform provides is nothing else for partners.
            if role.can_sign_in() {
                assert_eq!(
                    authorize(role, Action::ViewUsers, Relation::Provider),
                    Err(Denied::Hidden)
                );
            }
        }
        assert!(allowed(
            Role::Admin,
            Action::ManagePartnerKit,
            Relation::Own
        ));
        assert!(!allowed(
            Role::Support,
            Action::ManagePartnerKit,
            Relation::Own
        ));
        assert!(!allowed(
            Role::Admin,
            Action::ViewPartnerKit,
            Relation::Customer { assigned: true }
        ));
    }
}
