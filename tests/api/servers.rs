//! Servers on both backends: partners act on a customer's servers only
//! while the customer's grant stands; who may do what; backups; the
//! license a server runs under (in the ledger and over HTTP, with its
//! history and as-of views).

use crate::support;

use portal_ledger::app::accounts::CreateAccount;
use portal_ledger::app::history::{AsOf, Entity};
use portal_ledger::app::licenses;
use portal_ledger::app::servers;
use portal_ledger::app::{CommandContext, Ledger, LedgerError};
use portal_ledger::domain::ids::{AccountId, LicenseId, ServerId};
use portal_ledger::domain::permissions::Denied;
use portal_ledger::domain::role::{AccountKind, Role};
use portal_ledger::domain::DomainError;
use serde_json::{json, Value};
use support::http::{error_code, AsCaller, TestApi};
use uuid::Uuid;

async fn user_in(ledger: &Ledger, account: AccountId, email: &str, role: Role) -> CommandContext {
    CommandContext::as_user(support::user_in(ledger, account, email, role).await)
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
            .run(
                &system,
                CreateAccount {
                    account_id: partner,
                    kind: AccountKind::Partner,
                    name: String::from("Reseller"),
                    parent: None,
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &system,
                CreateAccount {
                    account_id: org,
                    kind: AccountKind::Organization,
                    name: String::from("Customer"),
                    parent: Some(partner),
                },
            )
            .await
            .unwrap();
        let partner_admin = user_in(&ledger, partner, "boss@reseller.example", Role::Admin).await;
        let customer_admin = user_in(&ledger, org, "it@customer.example", Role::Admin).await;
        let customer_support = user_in(&ledger, org, "help@customer.example", Role::Support).await;

        // Set up by the partner: access granted; the partner acts.
        let wall = ServerId(Uuid::now_v7());
        ledger
            .run(
                &partner_admin,
                servers::RegisterServer {
                    account_id: org,
                    server_id: wall,
                    name: String::from("wall-1"),
                    location: Some(String::from("Lobby")),
                    partner_access: false,
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &partner_admin,
                servers::RecordServerAction {
                    server_id: wall,
                    action: String::from("control center opened"),
                },
            )
            .await
            .unwrap();

        // The customer revokes: the partner is refused; the customer is not.
        ledger
            .run(
                &customer_admin,
                servers::SetPartnerAccess {
                    server_id: wall,
                    granted: false,
                    until: None,
                    now: chrono::Utc::now(),
                },
            )
            .await
            .unwrap();
        let head = t.store.head().await.unwrap();
        let err = ledger
            .run(
                &partner_admin,
                servers::RecordServerAction {
                    server_id: wall,
                    action: String::from("files uploaded"),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(domain(err), DomainError::PartnerAccessNotGranted);
        let err = ledger
            .run(
                &partner_admin,
                servers::UpdateServerConfiguration {
                    server_id: wall,
                    summary: String::from("resolution 4K"),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(domain(err), DomainError::PartnerAccessNotGranted);
        assert_eq!(
            t.store.head().await.unwrap(),
            head,
            "a refused command appended"
        );
        ledger
            .run(
                &customer_support,
                servers::RecordServerAction {
                    server_id: wall,
                    action: String::from("files uploaded"),
                },
            )
            .await
            .unwrap();

        // Only the customer grants; then the partner acts again.
        let err = ledger
            .run(
                &partner_admin,
                servers::SetPartnerAccess {
                    server_id: wall,
                    granted: true,
                    until: None,
                    now: chrono::Utc::now(),
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, LedgerError::Denied(Denied::Forbidden { .. })),
            "{err}"
        );
        ledger
            .run(
                &customer_admin,
                servers::SetPartnerAccess {
                    server_id: wall,
                    granted: true,
                    until: None,
                    now: chrono::Utc::now(),
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &partner_admin,
                servers::UpdateServer {
                    server_id: wall,
                    name: Some(String::from("wall-1")),
                    location: Some(String::from("Main hall")),
                    notifications: Some(false),
                },
            )
            .await
            .unwrap();

        // A server the customer sets up without the grant is closed to the partner.
        let private = ServerId(Uuid::now_v7());
        ledger
            .run(
                &customer_admin,
                servers::RegisterServer {
                    account_id: org,
                    server_id: private,
                    name: String::from("vault"),
                    location: None,
                    partner_access: false,
                },
            )
            .await
            .unwrap();
        let err = ledger
            .run(
                &partner_admin,
                servers::BackUpServer {
                    server_id: private,
                    backup_id: Uuid::now_v7().to_string(),
                },
            )
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
            .run(
                &CommandContext::system(),
                CreateAccount {
                    account_id: org,
                    kind: AccountKind::Organization,
                    name: String::from("Acme"),
                    parent: None,
                },
            )
            .await
            .unwrap();
        let admin = user_in(&ledger, org, "admin@acme.example", Role::Admin).await;
        let support = user_in(&ledger, org, "support@acme.example", Role::Support).await;
        let reader = user_in(&ledger, org, "reader@acme.example", Role::ReadOnly).await;

        let err = ledger
            .run(
                &support,
                servers::RegisterServer {
                    account_id: org,
                    server_id: ServerId(Uuid::now_v7()),
                    name: String::from("x"),
                    location: None,
                    partner_access: false,
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, LedgerError::Denied(Denied::Forbidden { .. })),
            "{err}"
        );
        let server = ServerId(Uuid::now_v7());
        ledger
            .run(
                &admin,
                servers::RegisterServer {
                    account_id: org,
                    server_id: server,
                    name: String::from("wall-2"),
                    location: None,
                    partner_access: false,
                },
            )
            .await
            .unwrap();
        let backup = Uuid::now_v7().to_string();
        let command = servers::BackUpServer {
            server_id: server,
            backup_id: backup.clone(),
        };
        ledger.run(&support, command).await.unwrap();
        ledger
            .run(
                &support,
                servers::RestoreServerBackup {
                    server_id: server,
                    backup_id: String::from(&backup),
                },
            )
            .await
            .unwrap();
        let err = ledger
            .run(
                &support,
                servers::RestoreServerBackup {
                    server_id: server,
                    backup_id: String::from("no-such-backup"),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(domain(err), DomainError::NotFound);
        let err = ledger
            .run(
                &reader,
                servers::RecordServerAction {
                    server_id: server,
                    action: String::from("restart"),
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, LedgerError::Denied(Denied::Forbidden { .. })),
            "{err}"
        );
        let err = ledger
            .run(
                &admin,
                servers::UpdateServer {
                    server_id: server,
                    name: Some(String::from("wall-2")),
                    location: None,
                    notifications: None,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(domain(err), DomainError::NoChange);
    }
);

on_both_backends!(
    a_server_runs_under_a_live_license_of_its_organization,
    |t: support::TestStore| async move {
        let ledger = Ledger::new(t.store.clone(), t.personal.clone());
        let system = CommandContext::system();
        let (partner, org, other) = (
            AccountId(Uuid::now_v7()),
            AccountId(Uuid::now_v7()),
            AccountId(Uuid::now_v7()),
        );
        ledger
            .run(
                &system,
                CreateAccount {
                    account_id: partner,
                    kind: AccountKind::Partner,
                    name: String::from("Reseller"),
                    parent: None,
                },
            )
            .await
            .unwrap();
        for (id, name) in [(org, "Customer"), (other, "Elsewhere")] {
            ledger
                .run(
                    &system,
                    CreateAccount {
                        account_id: id,
                        kind: AccountKind::Organization,
                        name: String::from(name),
                        parent: Some(partner),
                    },
                )
                .await
                .unwrap();
        }
        let partner_admin = user_in(&ledger, partner, "boss@reseller.example", Role::Admin).await;
        let customer_admin = user_in(&ledger, org, "it@customer.example", Role::Admin).await;
        let support = user_in(&ledger, org, "help@customer.example", Role::Support).await;
        let (pro, cancelled, foreign) = (
            LicenseId(Uuid::now_v7()),
            LicenseId(Uuid::now_v7()),
            LicenseId(Uuid::now_v7()),
        );
        for (id, account) in [(pro, org), (cancelled, org), (foreign, other)] {
            ledger
                .run(
                    &system,
                    licenses::CreateLicense {
                        account_id: account,
                        license_id: id,
                        product: String::from("Pro"),
                        seats: 5,
                    },
                )
                .await
                .unwrap();
        }
        ledger
            .run(
                &system,
                licenses::CancelLicense {
                    license_id: cancelled,
                },
            )
            .await
            .unwrap();
        let wall = ServerId(Uuid::now_v7());
        ledger
            .run(
                &customer_admin,
                servers::RegisterServer {
                    account_id: org,
                    server_id: wall,
                    name: String::from("wall-1"),
                    location: None,
                    partner_access: true,
                },
            )
            .await
            .unwrap();

        let head = t.store.head().await.unwrap();
        for (license, code) in [
            (foreign, "license_not_in_organization"),
            (LicenseId(Uuid::now_v7()), "license_not_in_organization"),
            (cancelled, "license_cancelled"),
        ] {
            let err = ledger
                .run(
                    &customer_admin,
                    servers::ChangeServerLicense {
                        server_id: wall,
                        license_id: Some(license),
                    },
                )
                .await
                .unwrap_err();
            assert_eq!(domain(err).code(), code);
        }
        let err = ledger
            .run(
                &customer_admin,
                servers::ChangeServerLicense {
                    server_id: wall,
                    license_id: None,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(domain(err), DomainError::NoChange);
        // Financial: Support may not.
        let err = ledger
            .run(
                &support,
                servers::ChangeServerLicense {
                    server_id: wall,
                    license_id: Some(pro),
                },
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, LedgerError::Denied(Denied::Forbidden { .. })),
            "{err}"
        );
        assert_eq!(
            t.store.head().await.unwrap(),
            head,
            "a refused command appended"
        );

        // The partner acts while the grant stands, and not after.
        ledger
            .run(
                &partner_admin,
                servers::ChangeServerLicense {
                    server_id: wall,
                    license_id: Some(pro),
                },
            )
            .await
            .unwrap();
        let under_pro = t.store.head().await.unwrap().position;
        ledger
            .run(
                &customer_admin,
                servers::SetPartnerAccess {
                    server_id: wall,
                    granted: false,
                    until: None,
                    now: chrono::Utc::now(),
                },
            )
            .await
            .unwrap();
        let err = ledger
            .run(
                &partner_admin,
                servers::ChangeServerLicense {
                    server_id: wall,
                    license_id: None,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(domain(err), DomainError::PartnerAccessNotGranted);
        ledger
            .run(
                &customer_admin,
                servers::ChangeServerLicense {
                    server_id: wall,
                    license_id: None,
                },
            )
            .await
            .unwrap();

        // The log remembers: history and as-of views show the license.
        let history = ledger.history(Entity::Server(wall)).await.unwrap();
        let changes: Vec<&Value> = history
            .iter()
            .filter(|e| e.event_type == "server.license_changed")
            .map(|e| &e.after["license_id"])
            .collect();
        assert_eq!(changes, [&json!(pro.to_string()), &Value::Null]);
        let entry = history
            .iter()
            .find(|e| e.event_type == "server.license_changed")
            .unwrap();
        assert_eq!(entry.action_type.as_deref(), Some("Update License"));
        assert_eq!(entry.before, json!({ "license_id": null }));
        let then = ledger
            .view_as_of(Entity::Server(wall), AsOf::Position(under_pro))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(then["license_id"], json!(pro.to_string()));
        // ... and so does the license: what ran under it, and when.
        let license_history = ledger.history(Entity::License(pro)).await.unwrap();
        let moves: Vec<(&str, &Value)> = license_history
            .iter()
            .filter(|e| e.event_type.starts_with("license.server_"))
            .map(|e| (e.event_type.as_str(), &e.after["servers"]))
            .collect();
        assert_eq!(
            moves,
            [
                ("license.server_attached", &json!([wall.to_string()])),
                ("license.server_detached", &json!([])),
            ]
        );

        // Putting a server under a license races its cancellation: both
        // append to the license's stream, so never does a server end up
        // attached after the cancellation in the log.
        for round in 0..20 {
            let license = LicenseId(Uuid::now_v7());
            ledger
                .run(
                    &system,
                    licenses::CreateLicense {
                        account_id: org,
                        license_id: license,
                        product: String::from("Race"),
                        seats: 5,
                    },
                )
                .await
                .unwrap();
            let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
            let attach = {
                let (ledger, barrier, admin) =
                    (ledger.clone(), barrier.clone(), customer_admin.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    ledger
                        .run(
                            &admin,
                            servers::ChangeServerLicense {
                                server_id: wall,
                                license_id: Some(license),
                            },
                        )
                        .await
                })
            };
            let cancel = {
                let (ledger, barrier, system) = (ledger.clone(), barrier, system.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    ledger
                        .run(
                            &system,
                            licenses::CancelLicense {
                                license_id: license,
                            },
                        )
                        .await
                })
            };
            let (attached, cancelled) = (attach.await.unwrap(), cancel.await.unwrap());
            cancelled.unwrap();
            let events = t
                .store
                .read_stream(&license.stream(), 1, 100)
                .await
                .unwrap();
            let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
            match attached {
                Ok(_) => assert_eq!(
                    types,
                    [
                        "license.created",
                        "license.server_attached",
                        "license.cancelled"
                    ],
                    "round {round}"
                ),
                Err(err) => {
                    assert_eq!(domain(err), DomainError::LicenseCancelled, "round {round}");
                    assert_eq!(
                        types,
                        ["license.created", "license.cancelled"],
                        "round {round}"
                    );
                }
            }
            // Back to no license for the next round (detaching from a
            // cancelled license is allowed).
            let now = ledger
                .view_as_of(Entity::Server(wall), AsOf::Position(u64::MAX))
                .await
                .unwrap()
                .unwrap();
            if !now["license_id"].is_null() {
                ledger
                    .run(
                        &customer_admin,
                        servers::ChangeServerLicense {
                            server_id: wall,
                            license_id: None,
                        },
                    )
                    .await
                    .unwrap();
            }
        }
    }
);

on_both_backends!(
    a_server_license_over_http,
    |t: support::TestStore| async move {
        let api = TestApi::spawn(&t).await;
        let server = &api.server;
        let ledger = api.ledger();
        let system = CommandContext::system();
        let org = AccountId(Uuid::now_v7());
        ledger
            .run(
                &system,
                CreateAccount {
                    account_id: org,
                    kind: AccountKind::Organization,
                    name: String::from("Acme"),
                    parent: None,
                },
            )
            .await
            .unwrap();
        let admin = user_in(ledger, org, "admin@acme.example", Role::Admin).await;
        let token = api
            .password_and_sign_in(admin.actor.unwrap(), "admin password 1")
            .await;
        let license = LicenseId(Uuid::now_v7());
        ledger
            .run(
                &system,
                licenses::CreateLicense {
                    account_id: org,
                    license_id: license,
                    product: String::from("Pro"),
                    seats: 5,
                },
            )
            .await
            .unwrap();
        let wall = ServerId(Uuid::now_v7());
        ledger
            .run(
                &system,
                servers::RegisterServer {
                    account_id: org,
                    server_id: wall,
                    name: String::from("wall-1"),
                    location: None,
                    partner_access: false,
                },
            )
            .await
            .unwrap();
        let path = format!("/v1/servers/{wall}/license");

        let head = t.store.head().await.unwrap();
        for (body, status, code) in [
            (json!({}), 400, "invalid_body"),
            (json!({ "license_id": "not-a-uuid" }), 400, "invalid_body"),
            (
                json!({ "license_id": null, "extra": 1 }),
                400,
                "invalid_body",
            ),
            (
                json!({ "license_id": Uuid::now_v7() }),
                422,
                "license_not_in_organization",
            ),
            (json!({ "license_id": null }), 409, "no_change"),
        ] {
            let response = server.put_as(&token, &path).json(&body).await;
            assert_eq!(
                response.status_code().as_u16(),
                status,
                "{body}: {}",
                response.text()
            );
            assert_eq!(response.json::<Value>()["error"]["code"], code, "{body}");
        }
        assert_eq!(
            t.store.head().await.unwrap(),
            head,
            "a refused request appended"
        );

        let response = server
            .put_as(&token, &path)
            .json(&json!({ "license_id": license }))
            .await;
        assert_eq!(response.status_code(), 200, "{}", response.text());
        let position = response.json::<Value>()["position"].as_u64().unwrap();
        let servers = server
            .get_as(
                &token,
                &format!("/v1/accounts/{org}/servers?position={position}"),
            )
            .await
            .json::<Value>();
        assert_eq!(
            servers["servers"][0]["license_id"],
            json!(license.to_string())
        );
        let response = server
            .put_as(&token, &path)
            .json(&json!({ "license_id": null }))
            .await;
        assert_eq!(response.status_code(), 200, "{}", response.text());
        let position_after = response.json::<Value>()["position"].as_u64().unwrap();
        let servers = server
            .get_as(
                &token,
                &format!("/v1/accounts/{org}/servers?position={position_after}"),
            )
            .await
            .json::<Value>();
        assert_eq!(servers["servers"][0]["license_id"], Value::Null);
        let then = server
            .get_as(
                &token,
                &format!("/v1/accounts/{org}/servers?as_of={position}"),
            )
            .await
            .json::<Value>();
        assert_eq!(then["servers"][0]["license_id"], json!(license.to_string()));
        let history = server
            .get_as(&token, &format!("/v1/history/server/{wall}"))
            .await
            .json::<Value>();
        let types: Vec<&str> = history["entries"]
            .as_array()
            .or_else(|| history.as_array())
            .unwrap()
            .iter()
            .filter_map(|e| e["event_type"].as_str())
            .filter(|t| *t == "server.license_changed")
            .collect();
        assert_eq!(types.len(), 2, "{history}");
        // The activity log names the action.
        let activity = server.get_as(&token, &format!("/v1/accounts/{org}/activity?position={position_after}&action_types=Update%20License"))
            .await
            .json::<Value>();
        assert!(
            activity
                .to_string()
                .contains("Put server wall-1 under license Pro"),
            "{activity}"
        );
    }
);

on_both_backends!(
    commands_fold_what_other_processes_appended,
    |t: support::TestStore| async move {
        // Each ledger keeps the decoded events of the streams it folds
        // (`app::stream_cache`); two ledgers on one store stand for two
        // processes: each must still decide on the other's latest events.
        let here = Ledger::new(t.store.clone(), t.personal.clone());
        let there = Ledger::new(t.store.clone(), t.personal.clone());
        let system = CommandContext::system();
        let account = AccountId(Uuid::now_v7());
        here.run(
            &system,
            CreateAccount {
                account_id: account,
                kind: AccountKind::Organization,
                name: String::from("Customer"),
                parent: None,
            },
        )
        .await
        .unwrap();
        let server = ServerId(Uuid::now_v7());
        here.run(
            &system,
            servers::RegisterServer {
                account_id: account,
                server_id: server,
                name: String::from("one"),
                location: None,
                partner_access: false,
            },
        )
        .await
        .unwrap();
        here.run(
            &system,
            servers::UpdateServer {
                server_id: server,
                name: Some(String::from("two")),
                location: None,
                notifications: None,
            },
        )
        .await
        .unwrap();
        there
            .run(
                &system,
                servers::UpdateServer {
                    server_id: server,
                    name: Some(String::from("three")),
                    location: None,
                    notifications: None,
                },
            )
            .await
            .unwrap();
        here.run(
            &system,
            servers::UpdateServer {
                server_id: server,
                name: Some(String::from("four")),
                location: None,
                notifications: None,
            },
        )
        .await
        .unwrap();
        let stream = t.store.read_stream(&server.stream(), 1, 100).await.unwrap();
        assert_eq!(stream.len(), 4);
        let last = stream.last().unwrap();
        assert_eq!(
            last.metadata.to_value()["description"],
            "Updated server three"
        );
        assert_eq!(last.payload.to_value()["name"], "four");
    }
);

on_both_backends!(servers_over_http, |t: support::TestStore| async move {
    let api = TestApi::builder().with_connect_info().spawn(&t).await;
    let (root, _) = api
        .session("root@platform.example", &api.root_password)
        .await;
    let (_partner_id, _, _) = api
        .invite_partner(
            &root,
            "Reseller",
            "boss@reseller.example",
            "reseller password",
        )
        .await;
    let (boss, _) = api
        .session("boss@reseller.example", "reseller password")
        .await;
    let org: Value = api
        .server
        .post_as(&boss, "/v1/accounts")
        .json(&json!({ "kind": "organization", "name": "Customer" }))
        .await
        .json();
    let org_id = org["account_id"].as_str().unwrap().to_owned();
    api.server.post_as(&boss, &format!("/v1/accounts/{org_id}/users"))
        .json(&json!({ "email": "it@customer.example", "name": "IT", "role": "admin", "password": "customer password" }))
        .await
        .assert_status(axum::http::StatusCode::CREATED);
    let (it, _) = api
        .session("it@customer.example", "customer password")
        .await;

    let server: Value = api
        .server
        .post_as(&boss, &format!("/v1/accounts/{org_id}/servers"))
        .json(&json!({ "name": "wall-1", "location": "Lobby" }))
        .await
        .json();
    let server_id = server["server_id"].as_str().unwrap().to_owned();
    api.server
        .post_as(&boss, &format!("/v1/servers/{server_id}/actions"))
        .json(&json!({ "action": "control center opened" }))
        .await
        .assert_status_ok();
    let revoked: Value = api
        .server
        .put_as(&it, &format!("/v1/servers/{server_id}/partner-access"))
        .json(&json!({ "granted": false }))
        .await
        .json();
    let refused = api
        .server
        .post_as(&boss, &format!("/v1/servers/{server_id}/backups"))
        .expect_failure()
        .await;
    assert_eq!(refused.status_code(), 403);
    assert_eq!(error_code(&refused), "partner_access_not_granted");
    let servers = format!(
        "/v1/accounts/{org_id}/servers?position={}",
        revoked["position"]
    );
    // The partner no longer reads the server, in its list either; the
    // customer sees the grant withdrawn.
    let listed: Value = api.server.get_as(&boss, &servers).await.json();
    assert_eq!(listed["servers"], json!([]));
    let listed: Value = api.server.get_as(&it, &servers).await.json();
    assert_eq!(listed["servers"][0]["partner_access"], 0);
    assert_eq!(listed["servers"][0]["location"], "Lobby");

    let backup: Value = api
        .server
        .post_as(&it, &format!("/v1/servers/{server_id}/backups"))
        .await
        .json();
    api.server
        .post_as(
            &it,
            &format!(
                "/v1/servers/{server_id}/backups/{}/restore",
                backup["backup_id"].as_str().unwrap()
            ),
        )
        .await
        .assert_status_ok();
    let activity: Value = api
        .server
        .get_as(
            &it,
            &format!(
                "/v1/accounts/{org_id}/activity?position={}",
                backup["position"]
            ),
        )
        .await
        .json();
    let types: Vec<&str> = activity["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action_type"].as_str())
        .collect();
    assert!(types.contains(&"Server Action"));
    assert!(types.contains(&"Backup Machine Data"));
    assert!(types.contains(&"Update Server"));
});

/// Servers the world's customer owner registers, each with its partner
/// access as given; their ids.
async fn register(
    api: &TestApi,
    w: &support::world::World,
    servers: &[(&str, bool)],
) -> Vec<String> {
    let path = format!("/v1/accounts/{}/servers", w.customer);
    let mut ids = Vec::new();
    for (name, granted) in servers {
        let body: Value = api
            .server
            .post_as(&w.customer_owner.token, &path)
            .json(&json!({ "name": name, "partner_access": granted }))
            .await
            .json();
        ids.push(body["server_id"].as_str().unwrap().to_owned());
    }
    ids
}

on_both_backends!(
    a_partner_lists_only_the_servers_its_customer_grants_it,
    |t: support::TestStore| async move {
        let api = TestApi::spawn(&t).await;
        let w = support::world::World::build(&api).await;
        let owner = &w.customer_owner.token;
        let servers = format!("/v1/accounts/{}/servers", w.customer);
        let ids = register(
            &api,
            &w,
            &[("Granted", true), ("Never", false), ("Revoked", true)],
        )
        .await;
        let revoked: Value = api
            .server
            .put_as(owner, &format!("/v1/servers/{}/partner-access", ids[2]))
            .json(&json!({ "granted": false }))
            .await
            .json();
        let at = revoked["position"].as_u64().unwrap();
        let names = |page: &Value| -> Vec<String> {
            let mut names: Vec<String> = page["servers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["name"].as_str().unwrap().to_owned())
                .collect();
            names.sort();
            names
        };
        // The list and the list as of a moment ask what reading each
        // server asks: the partner's staff see the granted one only, the
        // customer all three.
        for query in [format!("position={at}"), format!("as_of={at}")] {
            let path = format!("{servers}?{query}");
            let partner: Value = api
                .server
                .get_as(&w.partner_admin.token, &path)
                .await
                .json();
            assert_eq!(names(&partner), ["Granted"], "{query}");
            let customer: Value = api.server.get_as(owner, &path).await.json();
            assert_eq!(names(&customer), ["Granted", "Never", "Revoked"], "{query}");
        }
        // And one server's history: refused where its grant does not stand.
        for (id, status) in [(&ids[0], 200), (&ids[1], 403), (&ids[2], 403)] {
            let response = api
                .server
                .get_as(&w.partner_admin.token, &format!("/v1/history/server/{id}"))
                .await;
            assert_eq!(response.status_code(), status, "{}", response.text());
        }
    }
);

on_both_backends!(
    a_partner_does_not_find_an_ungranted_server_in_the_activity_log,
    |t: support::TestStore| async move {
        let api = TestApi::spawn(&t).await;
        let w = support::world::World::build(&api).await;
        let owner = &w.customer_owner.token;
        let ids = register(&api, &w, &[("Granted", true), ("Never", false)]).await;
        let last: Value = api
            .server
            .post_as(owner, &format!("/v1/servers/{}/actions", ids[1]))
            .json(&json!({ "action": "restarted" }))
            .await
            .json();
        let at = last["position"].as_u64().unwrap();
        let entries = |page: &Value| page["entries"].as_array().unwrap().len();
        for (id, partner_sees) in [(&ids[0], 1), (&ids[1], 0)] {
            let query = format!("position={at}&target_type=server&target_id={id}");
            for path in [
                format!("/v1/activity?{query}"),
                format!("/v1/accounts/{}/activity?{query}", w.customer),
            ] {
                let partner: Value = api
                    .server
                    .get_as(&w.partner_admin.token, &path)
                    .await
                    .json();
                assert_eq!(entries(&partner), partner_sees, "{path}: {partner}");
                let customer: Value = api.server.get_as(owner, &path).await.json();
                assert!(entries(&customer) >= 1, "{path}: {customer}");
            }
            let export = api
                .server
                .get_as(
                    &w.partner_admin.token,
                    &format!("/v1/activity/export?format=ndjson&{query}"),
                )
                .await
                .text();
            assert_eq!(export.lines().count(), partner_sees, "{export}");
        }
    }
);
