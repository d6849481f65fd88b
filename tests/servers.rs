//! Servers on both backends: partners act on a customer's servers only
//! while the customer's grant stands; who may do what; backups.

mod support;

use portal_ledger::app::{CommandContext, Ledger, LedgerError};
use portal_ledger::domain::email::Email;
use portal_ledger::domain::ids::{AccountId, ServerId, UserId};
use portal_ledger::domain::permissions::Denied;
use portal_ledger::domain::role::{AccountKind, Role};
use portal_ledger::domain::user::{NewUser, Origin};
use portal_ledger::domain::DomainError;
use uuid::Uuid;

async fn user_in(ledger: &Ledger, account: AccountId, email: &str, role: Role) -> CommandContext {
    let new = NewUser {
        user_id: UserId(Uuid::now_v7()),
        email: Email::parse(email).unwrap(),
        name: email.into(),
        role,
        origin: Origin::Direct,
        invitation: None,
    };
    ledger
        .create_user(&CommandContext::system(), account, &new)
        .await
        .unwrap();
    CommandContext::as_user(new.user_id)
}

fn domain(e: LedgerError) -> DomainError {
    match e {
        LedgerError::Domain(d) => d,
        other => panic!("expected a domain error, got {other}"),
    }
}

on_both_backends!(
    partners_act_only_while_the_grant_stands,
    |t: support::TestStore| async move {
        let ledger = Ledger::new(t.store.clone(), t.personal.clone());
        let system = CommandContext::system();
        let (partner, org) = (AccountId(Uuid::now_v7()), AccountId(Uuid::now_v7()));
        ledger
            .create_account(&system, partner, AccountKind::Partner, "Reseller", None)
            .await
            .unwrap();
        ledger
            .create_account(
                &system,
                org,
                AccountKind::Organization,
                "Customer",
                Some(partner),
            )
            .await
            .unwrap();
        let partner_admin = user_in(&ledger, partner, "boss@reseller.example", Role::Admin).await;
        let customer_admin = user_in(&ledger, org, "it@customer.example", Role::Admin).await;
        let customer_support = user_in(&ledger, org, "help@customer.example", Role::Support).await;

        // Set up by the partner: access granted; the partner acts.
        let wall = ServerId(Uuid::now_v7());
        ledger
            .register_server(&partner_admin, org, wall, "wall-1", Some("Lobby"), false)
            .await
            .unwrap();
        ledger
            .server_action(&partner_admin, wall, "control center opened")
            .await
            .unwrap();

        // The customer revokes: the partner is refused; the customer is not.
        ledger
            .set_partner_access(&customer_admin, wall, false)
            .await
            .unwrap();
        let head = t.store.head().await.unwrap();
        let err = ledger
            .server_action(&partner_admin, wall, "files uploaded")
            .await
            .unwrap_err();
        assert_eq!(domain(err), DomainError::PartnerAccessNotGranted);
        let err = ledger
            .update_server_configuration(&partner_admin, wall, "resolution 4K")
            .await
            .unwrap_err();
        assert_eq!(domain(err), DomainError::PartnerAccessNotGranted);
        assert_eq!(
            t.store.head().await.unwrap(),
            head,
            "a refused command appended"
        );
        ledger
            .server_action(&customer_support, wall, "files uploaded")
            .await
            .unwrap();

        // Only the customer grants; then the partner acts again.
        let err = ledger
            .set_partner_access(&partner_admin, wall, true)
            .await
            .unwrap_err();
        assert!(
            matches!(err, LedgerError::Denied(Denied::Forbidden { .. })),
            "{err}"
        );
        ledger
            .set_partner_access(&customer_admin, wall, true)
            .await
            .unwrap();
        ledger
            .update_server(
                &partner_admin,
                wall,
                Some("wall-1"),
                Some("Main hall"),
                Some(false),
            )
            .await
            .unwrap();

        // A server the customer sets up without the grant is closed to the partner.
        let private = ServerId(Uuid::now_v7());
        ledger
            .register_server(&customer_admin, org, private, "vault", None, false)
            .await
            .unwrap();
        let err = ledger
            .backup_server(&partner_admin, private)
            .await
            .unwrap_err();
        assert_eq!(domain(err), DomainError::PartnerAccessNotGranted);
    }
);

on_both_backends!(
    roles_and_backups_on_servers,
    |t: support::TestStore| async move {
        let ledger = Ledger::new(t.store.clone(), t.personal.clone());
        let org = AccountId(Uuid::now_v7());
        ledger
            .create_account(
                &CommandContext::system(),
                org,
                AccountKind::Organization,
                "Acme",
                None,
            )
            .await
            .unwrap();
        let admin = user_in(&ledger, org, "admin@acme.example", Role::Admin).await;
        let support = user_in(&ledger, org, "support@acme.example", Role::Support).await;
        let reader = user_in(&ledger, org, "reader@acme.example", Role::ReadOnly).await;

        let err = ledger
            .register_server(&support, org, ServerId(Uuid::now_v7()), "x", None, false)
            .await
            .unwrap_err();
        assert!(
            matches!(err, LedgerError::Denied(Denied::Forbidden { .. })),
            "{err}"
        );
        let server = ServerId(Uuid::now_v7());
        ledger
            .register_server(&admin, org, server, "wall-2", None, false)
            .await
            .unwrap();
        let (backup, _) = ledger.backup_server(&support, server).await.unwrap();
        ledger
            .restore_server_backup(&support, server, &backup)
            .await
            .unwrap();
        let err = ledger
            .restore_server_backup(&support, server, "no-such-backup")
            .await
            .unwrap_err();
        assert_eq!(domain(err), DomainError::NotFound);
        let err = ledger
            .server_action(&reader, server, "restart")
            .await
            .unwrap_err();
        assert!(
            matches!(err, LedgerError::Denied(Denied::Forbidden { .. })),
            "{err}"
        );
        let err = ledger
            .update_server(&admin, server, Some("wall-2"), None, None)
            .await
            .unwrap_err();
        assert_eq!(domain(err), DomainError::NoChange);
    }
);
