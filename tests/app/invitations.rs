//! Invitations on both backends: user, partner and organization
//! invitations, single use, expiry, resend, revoke, several invitations to
//! one address, and who may invite whom.

use crate::support;

use portal_ledger::app::invitations::RevokeInvitation;
use std::sync::Arc;

use chrono::{Duration, Utc};
use portal_ledger::app::sessions::{Auth, AuthError};
use portal_ledger::app::{CommandContext, Ledger, LedgerError};
use portal_ledger::auth::password::Password;
use portal_ledger::domain::email::Email;
use portal_ledger::domain::ids::AccountId;
use portal_ledger::domain::invitation::InvitationTarget;
use portal_ledger::domain::permissions::Denied;
use portal_ledger::domain::role::{AccountKind, Role};
use portal_ledger::domain::DomainError;
use portal_ledger::notify::MemoryNotifier;

struct Setup {
    auth: Auth,
    mail: MemoryNotifier,
    root: CommandContext,
    platform: AccountId,
}

async fn setup(t: &support::TestStore) -> Setup {
    let mail = MemoryNotifier::default();
    let auth = Auth::new(
        Ledger::new(t.store.clone(), t.personal.clone()),
        t.backend.credentials(),
    )
    .with_notifier(Arc::new(mail.clone()));
    let (platform, root, _) = auth
        .bootstrap(&Email::parse("root@platform.example").unwrap(), Utc::now())
        .await
        .unwrap();
    Setup {
        auth,
        mail,
        root: CommandContext::as_user(root),
        platform,
    }
}

/// The code in the last e-mail sent to `to`.
fn code_sent_to(mail: &MemoryNotifier, to: &str) -> String {
    let email = mail
        .sent()
        .into_iter()
        .rev()
        .find(|e| e.to == to)
        .expect("an e-mail");
    email
        .body
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap()
        .trim()
        .to_owned()
}

fn pw(text: &str) -> Password {
    Password::parse(text).unwrap()
}

fn domain_error(e: AuthError) -> DomainError {
    match e {
        AuthError::Ledger(LedgerError::Domain(d)) => d,
        other => panic!("expected a domain error, got {other}"),
    }
}

on_both_backends!(
    a_user_invitation_is_single_use_and_expires,
    |t: support::TestStore| async move {
        let s = setup(&t).await;
        let now = Utc::now();
        let email = Email::parse("new@platform.example").unwrap();
        let target = InvitationTarget::User {
            account_id: s.platform,
            role: Role::Support,
        };
        s.auth
            .invite(&s.root, &email, target.clone(), now)
            .await
            .unwrap();
        let code = code_sent_to(&s.mail, "new@platform.example");

        // Expired codes are refused; a valid one signs the user up once.
        let late = now + Duration::days(8);
        let err = s
            .auth
            .accept_invitation(
                &CommandContext::system(),
                &code,
                "New Person",
                &pw("new person password"),
                late,
            )
            .await
            .unwrap_err();
        assert_eq!(domain_error(err), DomainError::InvitationExpired);
        let accepted = s
            .auth
            .accept_invitation(
                &CommandContext::system(),
                &code,
                "New Person",
                &pw("new person password"),
                now,
            )
            .await
            .unwrap();
        assert_eq!(accepted.account_id, s.platform);
        let user = s.auth.ledger().user(accepted.user_id).await.unwrap();
        assert_eq!(user.role, Some(Role::Support));
        s.auth
            .sign_in(
                &CommandContext::system(),
                "new@platform.example",
                "new person password",
                Utc::now(),
            )
            .await
            .unwrap();
        let again = s
            .auth
            .accept_invitation(
                &CommandContext::system(),
                &code,
                "Other",
                &pw("other password!"),
                now,
            )
            .await
            .unwrap_err();
        assert_eq!(domain_error(again), DomainError::InvalidInvitation);
        let garbage = s
            .auth
            .accept_invitation(
                &CommandContext::system(),
                "nonsense",
                "X",
                &pw("whatever password"),
                now,
            )
            .await
            .unwrap_err();
        assert_eq!(domain_error(garbage), DomainError::InvalidInvitation);

        // No code reaches the log.
        let log = t
            .store
            .read_all(1, 10_000, &Default::default())
            .await
            .unwrap();
        let secret = code.split('.').nth(1).unwrap();
        assert!(
            log.iter()
                .all(|e| !e.payload.as_str().contains(secret)
                    && !e.metadata.as_str().contains(secret))
        );
    }
);

on_both_backends!(
    resend_replaces_the_link_and_revoke_ends_it,
    |t: support::TestStore| async move {
        let s = setup(&t).await;
        let now = Utc::now();
        let email = Email::parse("late@platform.example").unwrap();
        let invited = s
            .auth
            .invite(
                &s.root,
                &email,
                InvitationTarget::User {
                    account_id: s.platform,
                    role: Role::ReadOnly,
                },
                now,
            )
            .await
            .unwrap();
        let first = code_sent_to(&s.mail, "late@platform.example");
        s.auth
            .resend_invitation(&s.root, invited.invitation_id, now)
            .await
            .unwrap();
        let second = code_sent_to(&s.mail, "late@platform.example");
        assert_ne!(first, second);
        let err = s
            .auth
            .accept_invitation(
                &CommandContext::system(),
                &first,
                "L",
                &pw("late person password"),
                now,
            )
            .await
            .unwrap_err();
        assert_eq!(domain_error(err), DomainError::InvalidInvitation);

        s.auth
            .ledger()
            .run(
                &s.root,
                RevokeInvitation {
                    invitation_id: invited.invitation_id,
                },
            )
            .await
            .unwrap();
        let err = s
            .auth
            .accept_invitation(
                &CommandContext::system(),
                &second,
                "L",
                &pw("late person password"),
                now,
            )
            .await
            .unwrap_err();
        assert_eq!(domain_error(err), DomainError::InvalidInvitation);
        let err = s
            .auth
            .ledger()
            .run(
                &s.root,
                RevokeInvitation {
                    invitation_id: invited.invitation_id,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(
            domain_error(AuthError::Ledger(err)),
            DomainError::InvitationNotPending
        );
    }
);

on_both_backends!(
    several_invitations_to_one_address_make_one_user,
    |t: support::TestStore| async move {
        let s = setup(&t).await;
        let now = Utc::now();
        let email = Email::parse("twice@platform.example").unwrap();
        for role in [Role::Support, Role::ReadOnly] {
            s.auth
                .invite(
                    &s.root,
                    &email,
                    InvitationTarget::User {
                        account_id: s.platform,
                        role,
                    },
                    now,
                )
                .await
                .unwrap();
        }
        let codes: Vec<String> = s
            .mail
            .sent()
            .iter()
            .filter(|e| e.to == "twice@platform.example")
            .map(|e| {
                e.body
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap()
                    .trim()
                    .to_owned()
            })
            .collect();
        assert_eq!(codes.len(), 2);
        s.auth
            .accept_invitation(
                &CommandContext::system(),
                &codes[1],
                "T",
                &pw("twice person password"),
                now,
            )
            .await
            .unwrap();
        let err = s
            .auth
            .accept_invitation(
                &CommandContext::system(),
                &codes[0],
                "T",
                &pw("twice person password"),
                now,
            )
            .await
            .unwrap_err();
        assert_eq!(domain_error(err), DomainError::EmailTaken);
    }
);

on_both_backends!(
    tenants_are_invited_down_the_tenancy,
    |t: support::TestStore| async move {
        let s = setup(&t).await;
        let now = Utc::now();
        let system = CommandContext::system();

        // The platform invites a partner; accepting creates it and its admin.
        let boss = Email::parse("boss@reseller.example").unwrap();
        let partner_invite = InvitationTarget::Tenant {
            parent_id: s.platform,
            tenant_kind: AccountKind::Partner,
            name: "Reseller Ltd".into(),
        };
        s.auth
            .invite(&s.root, &boss, partner_invite, now)
            .await
            .unwrap();
        let accepted = s
            .auth
            .accept_invitation(
                &system,
                &code_sent_to(&s.mail, "boss@reseller.example"),
                "Bo",
                &pw("reseller password"),
                now,
            )
            .await
            .unwrap();
        let partner = s.auth.ledger().account(accepted.account_id).await.unwrap();
        assert_eq!(partner.kind, Some(AccountKind::Partner));
        assert_eq!(partner.parent, Some(s.platform));
        assert_eq!(partner.primary_admin, Some(accepted.user_id));
        let as_boss = CommandContext::as_user(accepted.user_id);

        // The partner invites a customer organization.
        let customer = Email::parse("it@customer.example").unwrap();
        let org_invite = InvitationTarget::Tenant {
            parent_id: partner.account_id.unwrap(),
            tenant_kind: AccountKind::Organization,
            name: "Customer GmbH".into(),
        };
        s.auth
            .invite(&as_boss, &customer, org_invite, now)
            .await
            .unwrap();
        let org = s
            .auth
            .accept_invitation(
                &system,
                &code_sent_to(&s.mail, "it@customer.example"),
                "Ida",
                &pw("customer password"),
                now,
            )
            .await
            .unwrap();
        let org_state = s.auth.ledger().account(org.account_id).await.unwrap();
        assert_eq!(org_state.kind, Some(AccountKind::Organization));
        assert!(org_state.is_customer_of(partner.account_id.unwrap()));

        // A partner cannot invite partners; a customer cannot invite tenants.
        let err = s
            .auth
            .invite(
                &as_boss,
                &Email::parse("x@other.example").unwrap(),
                InvitationTarget::Tenant {
                    parent_id: partner.account_id.unwrap(),
                    tenant_kind: AccountKind::Partner,
                    name: "Other".into(),
                },
                now,
            )
            .await
            .unwrap_err();
        assert_eq!(domain_error(err), DomainError::InvalidTenantInvitation);
        let as_customer = CommandContext::as_user(org.user_id);
        let err = s
            .auth
            .invite(
                &as_customer,
                &Email::parse("y@other.example").unwrap(),
                InvitationTarget::Tenant {
                    parent_id: org.account_id,
                    tenant_kind: AccountKind::Organization,
                    name: "Sub".into(),
                },
                now,
            )
            .await
            .unwrap_err();
        assert_eq!(domain_error(err), DomainError::InvalidTenantInvitation);
        // A customer cannot reach the partner's account at all.
        let err = s
            .auth
            .invite(
                &as_customer,
                &Email::parse("z@other.example").unwrap(),
                InvitationTarget::User {
                    account_id: partner.account_id.unwrap(),
                    role: Role::Admin,
                },
                now,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, AuthError::Ledger(LedgerError::Denied(Denied::Hidden))),
            "{err}"
        );
        // A read-only user may not invite.
        let reader = Email::parse("reader@customer.example").unwrap();
        s.auth
            .invite(
                &as_customer,
                &reader,
                InvitationTarget::User {
                    account_id: org.account_id,
                    role: Role::ReadOnly,
                },
                now,
            )
            .await
            .unwrap();
        let reader_user = s
            .auth
            .accept_invitation(
                &system,
                &code_sent_to(&s.mail, "reader@customer.example"),
                "R",
                &pw("reader password"),
                now,
            )
            .await
            .unwrap();
        let err = s
            .auth
            .invite(
                &CommandContext::as_user(reader_user.user_id),
                &Email::parse("q@customer.example").unwrap(),
                InvitationTarget::User {
                    account_id: org.account_id,
                    role: Role::Regular,
                },
                now,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                AuthError::Ledger(LedgerError::Denied(Denied::Forbidden { .. }))
            ),
            "{err}"
        );
    }
);
