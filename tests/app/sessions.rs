//! Sign-in, sessions and passwords on both backends, with a clock the test
//! controls: bootstrap, wrong credentials, sign-out, expiry, force logout,
//! password and e-mail changes revoking sessions at once, and no secret in
//! the log.

use crate::support;

use chrono::{Duration, Utc};
use portal_ledger::app::sessions::{Auth, AuthError};
use portal_ledger::app::users::{
    CreateUser, DeleteUser, ForceLogout, SetLocationTrust, UpdateProfile,
};
use portal_ledger::app::{CommandContext, Ledger};
use portal_ledger::auth::password::Password;
use portal_ledger::domain::email::Email;
use portal_ledger::domain::ids::UserId;
use portal_ledger::domain::role::Role;
use portal_ledger::domain::user::{NewUser, Origin};
use portal_ledger::store::ReadFilter;
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery";

fn auth(t: &support::TestStore) -> Auth {
    Auth::new(
        Ledger::new(t.store.clone(), t.personal.clone()),
        t.backend.credentials(),
    )
    .with_session_ttl(Duration::hours(1))
}

/// Bootstraps and adds a user with a known password to the platform.
async fn with_user(auth: &Auth, role: Role, email: &str) -> (CommandContext, UserId) {
    let root = Email::parse("root@platform.example").unwrap();
    let now = Utc::now();
    let (platform, root_id, _) = auth.bootstrap(&root, now).await.unwrap();
    let admin = CommandContext::as_user(root_id);
    let new = NewUser {
        user_id: UserId(Uuid::now_v7()),
        email: Email::parse(email).unwrap(),
        name: "Test User".into(),
        role,
        origin: Origin::Direct,
        invitation: None,
    };
    auth.ledger()
        .run(
            &admin,
            CreateUser {
                account_id: platform,
                user: new.clone(),
                username: None,
            },
        )
        .await
        .unwrap();
    auth.set_initial_password(
        &admin,
        new.user_id,
        &Password::parse(PASSWORD).unwrap(),
        now,
    )
    .await
    .unwrap();
    (admin, new.user_id)
}

on_both_backends!(bootstrap_then_sign_in, |t: support::TestStore| async move {
    let auth = auth(&t);
    let email = Email::parse("root@platform.example").unwrap();
    let now = Utc::now();
    let (_, root, password) = auth.bootstrap(&email, now).await.unwrap();
    assert!(matches!(
        auth.bootstrap(&email, now).await,
        Err(AuthError::NotEmpty)
    ));

    let ctx = CommandContext::system();
    let signed_in = auth
        .sign_in(&ctx, "ROOT@platform.example", password.expose(), now)
        .await
        .unwrap();
    assert_eq!(signed_in.user_id, root);
    let principal = auth.authenticate(&signed_in.token, now).await.unwrap();
    assert_eq!(principal.user_id, root);

    for (email, candidate) in [
        ("root@platform.example", "wrong password!"),
        ("nobody@platform.example", password.expose()),
        ("not an email", password.expose()),
    ] {
        let err = auth.sign_in(&ctx, email, candidate, now).await.unwrap_err();
        assert!(
            matches!(err, AuthError::InvalidCredentials),
            "{email}: {err}"
        );
    }
    // A tampered token is refused.
    let mut tampered = signed_in.token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    assert!(matches!(
        auth.authenticate(&tampered, now).await,
        Err(AuthError::Unauthenticated)
    ));
    assert!(matches!(
        auth.authenticate("garbage", now).await,
        Err(AuthError::Unauthenticated)
    ));

    // No password hash and no token ever reaches the log.
    let log = t
        .store
        .read_all(1, 10_000, &ReadFilter::all())
        .await
        .unwrap();
    for event in &log {
        assert!(
            !event.payload.as_str().contains("$argon2"),
            "{}",
            event.event_type
        );
        assert!(!event.payload.as_str().contains(&signed_in.token[33..]));
    }
    assert!(log
        .iter()
        .any(|e| e.event_type.as_str() == "session.opened"));
});

on_both_backends!(
    sessions_end_when_they_should,
    |t: support::TestStore| async move {
        let auth = auth(&t);
        let (admin, user) = with_user(&auth, Role::Support, "sam@platform.example").await;
        let ctx = CommandContext::system();
        let now = Utc::now();

        // Expiry.
        let session = auth
            .sign_in(&ctx, "sam@platform.example", PASSWORD, now)
            .await
            .unwrap();
        assert!(auth
            .authenticate(&session.token, now + Duration::minutes(59))
            .await
            .is_ok());
        assert!(matches!(
            auth.authenticate(&session.token, now + Duration::minutes(61))
                .await,
            Err(AuthError::Unauthenticated)
        ));

        // Sign-out ends that session only.
        let a = auth
            .sign_in(&ctx, "sam@platform.example", PASSWORD, Utc::now())
            .await
            .unwrap();
        let b = auth
            .sign_in(&ctx, "sam@platform.example", PASSWORD, Utc::now())
            .await
            .unwrap();
        let principal = auth.authenticate(&a.token, Utc::now()).await.unwrap();
        auth.sign_out(&CommandContext::as_user(user), &principal)
            .await
            .unwrap();
        assert!(auth.authenticate(&a.token, Utc::now()).await.is_err());
        assert!(auth.authenticate(&b.token, Utc::now()).await.is_ok());

        // Force logout by an admin ends every session at once; new ones work.
        auth.ledger()
            .run(&admin, ForceLogout { user_id: user })
            .await
            .unwrap();
        assert!(matches!(
            auth.authenticate(&b.token, Utc::now()).await,
            Err(AuthError::Unauthenticated)
        ));
        let c = auth
            .sign_in(&ctx, "sam@platform.example", PASSWORD, Utc::now())
            .await
            .unwrap();
        assert!(auth.authenticate(&c.token, Utc::now()).await.is_ok());

        // Changing one's own password: the current one must match; old sessions end.
        let me = CommandContext::as_user(user);
        let new_password = Password::parse("a much better passphrase").unwrap();
        let err = auth
            .change_own_password(&me, "not my password", &new_password, Utc::now())
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::InvalidCredentials));
        auth.change_own_password(&me, PASSWORD, &new_password, Utc::now())
            .await
            .unwrap();
        assert!(auth.authenticate(&c.token, Utc::now()).await.is_err());
        assert!(auth
            .sign_in(&ctx, "sam@platform.example", PASSWORD, Utc::now())
            .await
            .is_err());
        let d = auth
            .sign_in(
                &ctx,
                "sam@platform.example",
                new_password.expose(),
                Utc::now(),
            )
            .await
            .unwrap();

        // Changing one's own e-mail: old sessions end, the new address signs in.
        let new_email = Email::parse("samantha@platform.example").unwrap();
        auth.ledger()
            .run(
                &me,
                UpdateProfile {
                    user_id: user,
                    name: None,
                    email: Some(new_email.clone()),
                    username: None,
                },
            )
            .await
            .unwrap();
        assert!(auth.authenticate(&d.token, Utc::now()).await.is_err());
        assert!(auth
            .sign_in(
                &ctx,
                "sam@platform.example",
                new_password.expose(),
                Utc::now()
            )
            .await
            .is_err());
        let e = auth
            .sign_in(
                &ctx,
                "samantha@platform.example",
                new_password.expose(),
                Utc::now(),
            )
            .await
            .unwrap();

        // An admin's reset gives a temporary password and ends sessions.
        let (temporary, _) = auth.reset_password(&admin, user, Utc::now()).await.unwrap();
        assert!(auth.authenticate(&e.token, Utc::now()).await.is_err());
        auth.sign_in(
            &ctx,
            "samantha@platform.example",
            temporary.expose(),
            Utc::now(),
        )
        .await
        .unwrap();

        // Deletion ends sessions and sign-in.
        let f = auth
            .sign_in(
                &ctx,
                "samantha@platform.example",
                temporary.expose(),
                Utc::now(),
            )
            .await
            .unwrap();
        auth.ledger()
            .run(&admin, DeleteUser { user_id: user })
            .await
            .unwrap();
        assert!(auth.authenticate(&f.token, Utc::now()).await.is_err());
        assert!(matches!(
            auth.sign_in(
                &ctx,
                "samantha@platform.example",
                temporary.expose(),
                Utc::now()
            )
            .await,
            Err(AuthError::InvalidCredentials)
        ));
    }
);

on_both_backends!(
    notification_only_users_never_sign_in,
    |t: support::TestStore| async move {
        let auth = auth(&t);
        with_user(&auth, Role::Notifications, "alerts@platform.example").await;
        let err = auth
            .sign_in(
                &CommandContext::system(),
                "alerts@platform.example",
                PASSWORD,
                Utc::now(),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::InvalidCredentials), "{err}");
    }
);

on_both_backends!(
    sign_in_from_a_new_location_needs_an_emailed_code,
    |t: support::TestStore| async move {
        let mail = portal_ledger::notify::MemoryNotifier::default();
        let auth = auth(&t).with_notifier(std::sync::Arc::new(mail.clone()));
        let (admin, user) = with_user(&auth, Role::Support, "travel@platform.example").await;
        let now = Utc::now();
        let from = |ip: &str| CommandContext {
            ip: Some(ip.into()),
            ..CommandContext::system()
        };
        let email = "travel@platform.example";
        // No trusted location yet: no second factor anywhere.
        auth.sign_in(&from("203.0.113.9"), email, PASSWORD, now)
            .await
            .unwrap();
        // The user trusts their office; an admin may add one too.
        auth.ledger()
            .run(
                &CommandContext::as_user(user),
                SetLocationTrust {
                    user_id: user,
                    ip: String::from("198.51.100.1"),
                    trusted: true,
                },
            )
            .await
            .unwrap();
        auth.ledger()
            .run(
                &admin,
                SetLocationTrust {
                    user_id: user,
                    ip: String::from("2001:db8::7"),
                    trusted: true,
                },
            )
            .await
            .unwrap();
        let err = auth
            .ledger()
            .run(
                &admin,
                SetLocationTrust {
                    user_id: user,
                    ip: String::from("not-an-ip"),
                    trusted: true,
                },
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains("IP"), "{err}");
        auth.sign_in(&from("198.51.100.1"), email, PASSWORD, now)
            .await
            .unwrap();

        // Elsewhere: a code goes out, no session opens.
        let head = t.store.head().await.unwrap().position;
        let err = auth
            .sign_in(&from("203.0.113.9"), email, PASSWORD, now)
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::SecondFactorRequired), "{err}");
        assert!(t.store.head().await.unwrap().position > head);
        let sent = mail.sent().last().unwrap().clone();
        assert_eq!(sent.to, email);
        assert!(sent.body.contains("203.0.113.9"));
        let code = sent
            .body
            .lines()
            .map(str::trim)
            .find(|l| l.len() == 10 && l.chars().all(|c| c.is_ascii_hexdigit()))
            .unwrap()
            .to_owned();
        // A wrong password still says nothing about locations.
        let err = auth
            .sign_in(&from("203.0.113.9"), email, "wrong password!!", now)
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::InvalidCredentials));
        // A wrong code, or the right code from another address, fails.
        for (ip, candidate) in [
            ("203.0.113.9", "0000000000"),
            ("203.0.113.10", code.as_str()),
        ] {
            let err = auth
                .sign_in_with_code(&from(ip), email, PASSWORD, Some(candidate), now)
                .await
                .unwrap_err();
            assert!(!matches!(err, AuthError::InvalidCredentials), "{err}");
        }
        // The code from that address trusts it and opens a session.
        let signed_in = auth
            .sign_in_with_code(&from("203.0.113.9"), email, PASSWORD, Some(&code), now)
            .await
            .unwrap();
        assert_eq!(signed_in.user_id, user);
        auth.sign_in(&from("203.0.113.9"), email, PASSWORD, now)
            .await
            .unwrap();
        let state = auth.ledger().user(user).await.unwrap();
        assert_eq!(state.trusted_locations.len(), 3);
        // The code is used up; an expired one does not work either.
        auth.ledger()
            .run(
                &admin,
                SetLocationTrust {
                    user_id: user,
                    ip: String::from("203.0.113.9"),
                    trusted: false,
                },
            )
            .await
            .unwrap();
        assert!(auth
            .sign_in_with_code(&from("203.0.113.9"), email, PASSWORD, Some(&code), now)
            .await
            .is_err());
        // The log holds neither the code nor the addresses in clear.
        let raw: String = t
            .store
            .read_all(1, 10_000, &ReadFilter::all())
            .await
            .unwrap()
            .iter()
            .map(|e| format!("{}{}", e.payload.as_str(), e.metadata.as_str()))
            .collect();
        assert!(!raw.contains(&code) && !raw.contains("203.0.113.9"));
        assert!(raw.contains("Update Trusted Connection"));
    }
);

on_both_backends!(
    password_guessing_is_slowed_down,
    |t: support::TestStore| async move {
        let auth = auth(&t);
        with_user(&auth, Role::Support, "target@platform.example").await;
        let ctx = CommandContext::system();
        let now = Utc::now();
        let head = t.store.head().await.unwrap().position;
        for _ in 0..portal_ledger::auth::throttle::MAX_FAILURES {
            let err = auth
                .sign_in(&ctx, "target@platform.example", "a wrong guess!!", now)
                .await
                .unwrap_err();
            assert!(matches!(err, AuthError::InvalidCredentials), "{err}");
        }
        // Now even the right password is refused for a while, and nothing
        // of it is in the log.
        let err = auth
            .sign_in(&ctx, "TARGET@platform.example", PASSWORD, now)
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::TooManyAttempts { .. }), "{err}");
        assert_eq!(t.store.head().await.unwrap().position, head);
        // Other addresses are unaffected; after the window it works again.
        auth.sign_in(&ctx, "root@platform.example", "wrong", now)
            .await
            .unwrap_err();
        auth.sign_in(
            &ctx,
            "target@platform.example",
            PASSWORD,
            now + Duration::minutes(16),
        )
        .await
        .unwrap();
    }
);
