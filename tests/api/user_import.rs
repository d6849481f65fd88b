//! Bulk user import from CSV on both backends: a clean file creates users
//! with their roles, claims and seats in one append; bad rows are all
//! reported with their lines and nothing is appended; a dry run appends
//! nothing; seats and addresses are never over-used, also when two imports
//! race; who may not import appends nothing; and the HTTP route end to end.

use crate::support;

use portal_ledger::app::accounts::CreateAccount;
use portal_ledger::app::licenses;
use portal_ledger::app::user_import::{ImportError, ImportMode, ImportReport};
use portal_ledger::app::users::{CreateUser, DeleteUser};
use portal_ledger::app::{CommandContext, Ledger, LedgerError};
use portal_ledger::domain::email::Email;
use portal_ledger::domain::ids::{AccountId, LicenseId, UserId};
use portal_ledger::domain::permissions::Denied;
use portal_ledger::domain::role::{AccountKind, Role};
use portal_ledger::domain::user::{NewUser, Origin, Status};
use serde_json::{json, Value};
use support::http::{AsCaller, TestApi};
use uuid::Uuid;

struct Org {
    ledger: Ledger,
    admin: CommandContext,
    admin_id: UserId,
    org: AccountId,
    /// A regular user of the organization.
    regular: UserId,
    /// A domain unique to this organization, for its addresses.
    domain: String,
}

async fn org(t: &support::TestStore) -> Org {
    let ledger = Ledger::new(t.store.clone(), t.personal.clone());
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
    let domain = format!("acme-{}.example", org.0.simple());
    let mut ids = Vec::new();
    for (name, role) in [("admin", Role::Admin), ("regular", Role::Regular)] {
        let new = NewUser {
            user_id: UserId(Uuid::now_v7()),
            email: Email::parse(&format!("{name}@{domain}")).unwrap(),
            name: name.to_owned(),
            role,
            origin: Origin::Direct,
            invitation: None,
        };
        ledger
            .run(
                &system,
                CreateUser {
                    account_id: org,
                    user: new.clone(),
                    username: None,
                },
            )
            .await
            .unwrap();
        ids.push(new.user_id);
    }
    Org {
        ledger,
        admin: CommandContext::as_user(ids[0]),
        admin_id: ids[0],
        org,
        regular: ids[1],
        domain,
    }
}

impl Org {
    async fn license(&self, product: &str, seats: u32) -> LicenseId {
        let id = LicenseId(Uuid::now_v7());
        self.ledger
            .run(
                &self.admin,
                licenses::CreateLicense {
                    account_id: self.org,
                    license_id: id,
                    product: String::from(product),
                    seats,
                },
            )
            .await
            .unwrap();
        id
    }

    async fn import(&self, csv: &str, mode: ImportMode) -> ImportReport {
        self.ledger
            .import_users(&self.admin, self.org, csv.as_bytes(), mode)
            .await
            .unwrap()
    }
}

/// `(line, column, code)` of every problem, in report order.
fn problems(report: &ImportReport) -> Vec<(u64, Option<&'static str>, &'static str)> {
    report
        .rows
        .iter()
        .flat_map(|r| {
            r.problems
                .iter()
                .map(move |p| (r.line, p.column.map(|c| c.as_str()), p.code.as_str()))
        })
        .collect()
}

async fn metadata_of(
    t: &support::TestStore,
    stream: &portal_ledger::event::StreamId,
) -> Vec<Value> {
    t.store
        .read_stream(stream, 1, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.metadata.to_value())
        .collect()
}

on_both_backends!(
    a_clean_import_creates_users_with_roles_and_licenses,
    |t: support::TestStore| async move {
        let o = org(&t).await;
        let pro = o.license("Pro", 3).await;
        let basic = o.license("Basic", 1).await;
        let d = &o.domain;
        let csv = format!(
            "Email,NAME,role,Licenses\n\
             ann@{d},Ann Admin,admin,{pro}\n\
             bob@{d},Bob Regular,Regular,\"{pro}; {basic}\"\n\
             \n\
             cy@{d},Cy Reader,read-only,\n"
        );
        let report = o.import(&csv, ImportMode::Apply).await;
        assert_eq!(problems(&report), vec![]);
        assert_eq!(
            report.rows.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![2, 3, 5]
        );
        assert_eq!(report.created.len(), 3);
        assert_eq!(
            report.position,
            Some(t.store.head().await.unwrap().position),
            "the import is the last append"
        );

        let expected = [
            ("Ann Admin", Role::Admin, vec![pro]),
            ("Bob Regular", Role::Regular, vec![pro, basic]),
            ("Cy Reader", Role::ReadOnly, vec![]),
        ];
        for (id, (name, role, licenses)) in report.created.iter().zip(expected) {
            let user = o.ledger.user(*id).await.unwrap();
            assert_eq!(user.status, Status::Active);
            assert_eq!(user.account_id, Some(o.org));
            assert_eq!(user.name, name);
            assert_eq!(user.role, Some(role));
            assert_eq!(user.licenses, licenses.into_iter().collect());
        }
        let account = o.ledger.account(o.org).await.unwrap();
        assert!(account.admins.contains(&report.created[0]));
        assert_eq!(account.primary_admin, Some(o.admin_id), "ownership stays");

        // The seats are taken on the licenses' side too: Basic is full now.
        let again = o
            .import(
                &format!("email,name,role,licenses\ndee@{d},Dee,regular,{basic}\n"),
                ImportMode::DryRun,
            )
            .await;
        assert_eq!(
            problems(&again),
            vec![(2, Some("licenses"), "not_enough_seats")]
        );

        // Each imported user is an activity entry of its own, all sharing
        // the import's correlation id; the seats are one entry per license.
        let first = metadata_of(&t, &report.created[0].stream()).await;
        let second = metadata_of(&t, &report.created[1].stream()).await;
        assert_eq!(first.len(), 2, "created, license assigned");
        let meta = &first[0];
        assert_eq!(meta["action_type"], "Import User");
        assert_eq!(meta["actor"]["user_id"], o.admin_id.to_string());
        assert_eq!(meta["actor"]["email"], format!("admin@{d}"));
        assert_eq!(meta["account"], o.org.to_string());
        assert_eq!(meta["authorization"]["action"], "import_users");
        assert_eq!(
            meta["targets"],
            json!([{"type": "user", "id": report.created[0].to_string()},
                   {"type": "license", "id": pro.to_string()}])
        );
        assert!(meta["description"].as_str().unwrap().contains(&format!(
            "ann@{d} with role admin (CSV line 2) and licenses Pro"
        )));
        assert_ne!(meta["command_id"], second[0]["command_id"]);
        assert_eq!(meta["correlation_id"], second[0]["correlation_id"]);
        let seats = metadata_of(&t, &pro.stream()).await;
        let assigned = seats.last().unwrap();
        assert_eq!(assigned["action_type"], "Update License");
        assert_eq!(assigned["authorization"]["action"], "assign_licenses");
        assert_eq!(assigned["correlation_id"], meta["correlation_id"]);
        assert_eq!(assigned["description"], "Assigned Pro to 2 imported users");
        let claim = metadata_of(
            &t,
            &Email::parse(&format!("ANN@{d}")).unwrap().claim_stream(),
        )
        .await;
        assert_eq!(claim[0]["command_id"], meta["command_id"]);
    }
);

on_both_backends!(
    bad_rows_are_all_reported_and_nothing_is_appended,
    |t: support::TestStore| async move {
        let o = org(&t).await;
        let pro = o.license("Pro", 10).await;
        let cancelled = o.license("Old", 10).await;
        o.ledger
            .run(
                &o.admin,
                licenses::CancelLicense {
                    license_id: cancelled,
                },
            )
            .await
            .unwrap();
        let other = org(&t).await;
        let foreign = other.license("Theirs", 10).await;
        let unknown = LicenseId(Uuid::now_v7());
        let d = &o.domain;
        let head = t.store.head().await.unwrap();
        let csv = format!(
            "email,name,role,licenses\n\
             fine@{d},Fine,regular,{pro}\n\
             not an address,,owner,\n\
             sales@{d},Sal,sales,nope;{pro}\n\
             fine@{d},Twice,regular,\n\
             regular@{d},Taken,regular,\n\
             lic@{d},Lic,regular,{unknown} {foreign};{cancelled}\n\
             extra@{d},Extra,regular,,surplus\n"
        );
        let report = o.import(&csv, ImportMode::Apply).await;
        assert_eq!(
            problems(&report),
            vec![
                (3, Some("email"), "invalid_email"),
                (3, Some("name"), "invalid_name"),
                (3, Some("role"), "unknown_role"),
                (4, Some("role"), "role_not_in_account_kind"),
                (4, Some("licenses"), "invalid_license_id"),
                (5, Some("email"), "duplicate_email"),
                (6, Some("email"), "email_taken"),
                (7, Some("licenses"), "unknown_license"),
                (7, Some("licenses"), "unknown_license"),
                (7, Some("licenses"), "license_cancelled"),
                (8, None, "too_many_fields"),
            ]
        );
        assert_eq!(
            report.rows.len(),
            7,
            "every row is reported, the fine one too"
        );
        assert!(report.rows[0].problems.is_empty());
        assert!(report.rows[3].problems[0].message.contains("line 2"));
        assert!(report.created.is_empty());
        assert_eq!(report.position, None);
        assert_eq!(t.store.head().await.unwrap(), head, "nothing appended");
        // The fine row was not half-imported.
        let listed = o
            .import(
                &format!("email,name,role\nfine@{d},Fine,regular\n"),
                ImportMode::DryRun,
            )
            .await;
        assert_eq!(problems(&listed), vec![]);
    }
);

on_both_backends!(
    a_dry_run_appends_nothing,
    |t: support::TestStore| async move {
        let o = org(&t).await;
        let pro = o.license("Pro", 1).await;
        let d = &o.domain;
        let csv = format!("email,name,role,licenses\nnew@{d},New,support,{pro}\n");
        let head = t.store.head().await.unwrap();
        let report = o.import(&csv, ImportMode::DryRun).await;
        assert_eq!(problems(&report), vec![]);
        assert_eq!(report.mode, ImportMode::DryRun);
        assert!(report.created.is_empty());
        assert_eq!(report.position, None);
        assert_eq!(t.store.head().await.unwrap(), head);
        // A dry run with problems appends nothing either.
        let bad = o
            .import(
                &format!("{csv}new@{d},Again,support,{pro}\n"),
                ImportMode::DryRun,
            )
            .await;
        assert_eq!(
            problems(&bad),
            vec![
                (3, Some("email"), "duplicate_email"),
                (3, Some("licenses"), "not_enough_seats"),
            ]
        );
        assert_eq!(t.store.head().await.unwrap(), head);
        // And the checked file applies as reported.
        let applied = o.import(&csv, ImportMode::Apply).await;
        assert_eq!(applied.created.len(), 1);
    }
);

on_both_backends!(
    seats_are_never_exceeded,
    |t: support::TestStore| async move {
        let o = org(&t).await;
        let pro = o.license("Pro", 3).await;
        o.ledger
            .run(
                &o.admin,
                licenses::AssignLicense {
                    license_id: pro,
                    users: vec![o.regular],
                },
            )
            .await
            .unwrap();
        let d = &o.domain;
        let head = t.store.head().await.unwrap();
        let csv = format!(
            "email,name,role,licenses\n\
             a@{d},A,regular,{pro}\n\
             b@{d},B,regular,\n\
             c@{d},C,regular,{pro}\n\
             e@{d},E,regular,{pro}\n\
             f@{d},F,regular,{pro}\n"
        );
        let report = o.import(&csv, ImportMode::Apply).await;
        // Two seats are free: the third and fourth rows asking are reported.
        assert_eq!(
            problems(&report),
            vec![
                (5, Some("licenses"), "not_enough_seats"),
                (6, Some("licenses"), "not_enough_seats"),
            ]
        );
        assert!(report.rows[3].problems[0]
            .message
            .contains("2 free, 4 rows ask for one"));
        assert_eq!(t.store.head().await.unwrap(), head);
        // Without the last two rows it fits exactly.
        let fits: String = csv.lines().take(4).map(|l| format!("{l}\n")).collect();
        let report = o.import(&fits, ImportMode::Apply).await;
        assert_eq!(report.created.len(), 3);
        let holders = [report.created[0], report.created[2], o.regular];
        for user in holders {
            assert!(o.ledger.user(user).await.unwrap().licenses.contains(&pro));
        }
    }
);

on_both_backends!(
    duplicate_and_taken_addresses_are_refused,
    |t: support::TestStore| async move {
        let o = org(&t).await;
        let d = &o.domain;
        // Deleted users give their address back; live ones keep it.
        let gone = NewUser {
            user_id: UserId(Uuid::now_v7()),
            email: Email::parse(&format!("gone@{d}")).unwrap(),
            name: "Gone".into(),
            role: Role::Regular,
            origin: Origin::Direct,
            invitation: None,
        };
        o.ledger
            .run(
                &o.admin,
                CreateUser {
                    account_id: o.org,
                    user: gone.clone(),
                    username: None,
                },
            )
            .await
            .unwrap();
        o.ledger
            .run(
                &o.admin,
                DeleteUser {
                    user_id: gone.user_id,
                },
            )
            .await
            .unwrap();
        let head = t.store.head().await.unwrap();
        let csv = format!(
            "email,name,role\n\
             one@{d},One,regular\n\
             Regular@{d},Taken,regular\n\
             ONE@{d},One Again,regular\n\
             one@{d},One Thrice,regular\n\
             gone@{d},Back,regular\n"
        );
        let report = o.import(&csv, ImportMode::Apply).await;
        assert_eq!(
            problems(&report),
            vec![
                (3, Some("email"), "email_taken"),
                (4, Some("email"), "duplicate_email"),
                (5, Some("email"), "duplicate_email"),
            ]
        );
        assert_eq!(report.rows[2].email, format!("ONE@{d}"));
        assert!(report.rows[3].problems[0].message.contains("line 2"));
        assert_eq!(t.store.head().await.unwrap(), head);

        let ok = format!("email,name,role\none@{d},One,regular\ngone@{d},Back,regular\n");
        let report = o.import(&ok, ImportMode::Apply).await;
        assert_eq!(report.created.len(), 2);
        // Imported addresses are claimed like any other.
        let again = o.import(&ok, ImportMode::DryRun).await;
        assert_eq!(
            problems(&again),
            vec![
                (2, Some("email"), "email_taken"),
                (3, Some("email"), "email_taken"),
            ]
        );
    }
);

on_both_backends!(
    racing_imports_apply_completely_or_not_at_all,
    |t: support::TestStore| async move {
        let o = org(&t).await;
        let pro = o.license("Pro", 30).await;
        let d = o.domain.clone();
        let before = t.store.head().await.unwrap().position;
        // Two files sharing one address and one license: one wins whole, the
        // other is decided again and reports the address as taken.
        let mut tasks = Vec::new();
        for side in ["left", "right"] {
            let mut csv = String::from("email,name,role,licenses\n");
            for i in 0..20 {
                csv.push_str(&format!("{side}{i}@{d},N{i},regular,{pro}\n"));
            }
            csv.push_str(&format!("shared@{d},Shared,regular,{pro}\n"));
            let (ledger, admin, org) = (o.ledger.clone(), o.admin.clone(), o.org);
            tasks.push(tokio::spawn(async move {
                ledger
                    .import_users(&admin, org, csv.as_bytes(), ImportMode::Apply)
                    .await
                    .unwrap()
            }));
        }
        let mut applied = 0;
        for task in tasks {
            let report = task.await.unwrap();
            if report.position.is_some() {
                applied += 1;
                assert_eq!(report.created.len(), 21);
            } else {
                // Decided on the winner's streams: the shared address is
                // taken, and 30 - 21 seats run out at line 11. (A loser that
                // read the claim just before the winner appended and the
                // license just after sees only the seats; either refusal
                // appends nothing.)
                let found = problems(&report);
                assert!(
                    found.contains(&(22, Some("email"), "email_taken"))
                        || found.contains(&(11, Some("licenses"), "not_enough_seats")),
                    "{found:?}"
                );
                assert!(report.created.is_empty());
            }
        }
        assert_eq!(applied, 1, "exactly one import applies");
        // Only the winner's events: per user created, license assigned and
        // the claim, and one assignment on the license.
        assert_eq!(t.store.head().await.unwrap().position, before + 21 * 3 + 1);
    }
);

on_both_backends!(
    who_may_not_import_appends_nothing,
    |t: support::TestStore| async move {
        let o = org(&t).await;
        let d = &o.domain;
        let csv = format!("email,name,role\nnew@{d},New,regular\n");
        let other = org(&t).await;
        let head = t.store.head().await.unwrap();
        // A regular user may not manage users.
        let refused = o
            .ledger
            .import_users(
                &CommandContext::as_user(o.regular),
                o.org,
                csv.as_bytes(),
                ImportMode::DryRun,
            )
            .await
            .unwrap_err();
        assert!(matches!(
            refused,
            ImportError::Ledger(LedgerError::Denied(Denied::Forbidden { .. }))
        ));
        // Another tenant's admin does not even learn the account exists, nor
        // gets the file checked.
        let refused = other
            .ledger
            .import_users(&other.admin, o.org, b"not,a,header\n", ImportMode::Apply)
            .await
            .unwrap_err();
        assert!(matches!(
            refused,
            ImportError::Ledger(LedgerError::Denied(Denied::Hidden))
        ));
        assert_eq!(t.store.head().await.unwrap(), head);
        // A file that is unusable as a whole is refused with a precise error.
        let refused = o
            .ledger
            .import_users(&o.admin, o.org, b"email,name,rank\n", ImportMode::Apply)
            .await
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "unknown column \"rank\" in the header (column 3); expected email, name, role and optionally licenses"
        );
        assert_eq!(t.store.head().await.unwrap(), head);
    }
);

impl TestApi {
    async fn import(&self, token: &str, path: &str, csv: String) -> axum_test::TestResponse {
        self.server
            .post_as(token, path)
            .bytes(csv.into())
            .content_type("text/csv")
            .await
    }
}

on_both_backends!(importing_over_http, |t: support::TestStore| async move {
    let api = TestApi::builder().without_notifier().spawn(&t).await;
    let root = api
        .sign_in("root@platform.example", &api.root_password)
        .await;
    let org_id = api
        .create_account(&root, "organization", "Customer GmbH")
        .await;
    api.add_user(&root, &org_id, &json!({ "email": "boss@customer.example", "name": "Boss", "role": "admin", "password": "customer password" }))
        .await;
    let boss = api
        .sign_in("boss@customer.example", "customer password")
        .await;
    let license: Value = api
        .server
        .post_as(&boss, &format!("/v1/accounts/{org_id}/licenses"))
        .json(&json!({ "product": "Pro", "seats": 2 }))
        .await
        .json();
    let pro = license["license_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/accounts/{org_id}/users/import");
    let head = |t: support::TestStore| async move { t.store.head().await.unwrap() };

    // Not CSV: 415 in the API's error shape.
    let response = api
        .server
        .post_as(&boss, &path)
        .json(&json!({ "email": "x@customer.example" }))
        .expect_failure()
        .await;
    assert_eq!(response.status_code(), 415);
    assert_eq!(response.json::<Value>()["error"]["code"], "not_csv");

    // A header that is not ours: 422 naming the column.
    let response = api
        .import(&boss, &path, "email,name,role,team\n".into())
        .await;
    assert_eq!(response.status_code(), 422);
    let body: Value = response.json();
    assert_eq!(body["error"]["code"], "csv_unknown_column");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("\"team\""));

    let bad = format!(
        "email,name,role,licenses\n\
         ann@customer.example,Ann,regular,{pro}\n\
         bob@customer.example,,sales,{pro}\n\
         boss@customer.example,Boss Again,admin,{pro}\n"
    );
    // Dry run: 200 with every row and its problems.
    let before = head(t.clone()).await;
    let response = api
        .import(&boss, &format!("{path}?dry_run=true"), bad.clone())
        .await;
    assert_eq!(response.status_code(), 200, "{}", response.text());
    let report: Value = response.json();
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["created"], json!([]));
    assert_eq!(report["position"], Value::Null);
    assert_eq!(report["rows"][0]["line"], 2);
    assert_eq!(report["rows"][0]["problems"], json!([]));
    assert_eq!(
        report["rows"][1]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["column"].as_str().unwrap(), p["code"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        vec![
            ("name", "invalid_name"),
            ("role", "role_not_in_account_kind")
        ]
    );
    assert_eq!(report["rows"][2]["email"], "boss@customer.example");
    assert_eq!(
        report["rows"][2]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["code"].as_str().unwrap())
            .collect::<Vec<_>>(),
        vec!["email_taken", "not_enough_seats"]
    );
    // Apply with problems: 422 with the error and the same report.
    let response = api.import(&boss, &path, bad).await;
    assert_eq!(response.status_code(), 422);
    let rejected: Value = response.json();
    assert_eq!(rejected["error"]["code"], "import_rejected");
    assert_eq!(
        rejected["error"]["message"],
        "2 of 3 rows have problems; nothing was imported"
    );
    assert_eq!(rejected["dry_run"], false);
    assert_eq!(rejected["rows"], report["rows"]);
    assert_eq!(head(t.clone()).await, before, "nothing appended");

    // A clean file larger than the API's usual 64 KiB: the route takes it.
    let mut big = String::from("email,name,role,licenses\n");
    big.push_str(&format!("ann@customer.example,Ann,regular,{pro}\n"));
    let long_name = "N".repeat(190);
    for i in 0..400 {
        big.push_str(&format!(
            "user{i}@customer.example,{long_name},read-only,\n"
        ));
    }
    assert!(big.len() > 64 * 1024);
    let response = api
        .server
        .post_as(&boss, &path)
        .bytes(big.clone().into())
        .content_type("text/csv; charset=utf-8")
        .add_header("idempotency-key", "import-1")
        .await;
    assert_eq!(response.status_code(), 201, "{}", response.text());
    let applied: Value = response.json();
    assert_eq!(applied["dry_run"], false);
    assert_eq!(applied["created"].as_array().unwrap().len(), 401);
    assert_eq!(applied["rows"][0]["user_id"], applied["created"][0]);
    let position = applied["position"].as_u64().unwrap();
    // A retry with the same key gets the same answer and appends nothing.
    let after = head(t.clone()).await;
    let replay = api
        .server
        .post_as(&boss, &path)
        .bytes(big.into())
        .content_type("text/csv; charset=utf-8")
        .add_header("idempotency-key", "import-1")
        .await;
    assert_eq!(replay.status_code(), 201);
    assert_eq!(replay.header("idempotent-replayed"), "true");
    assert_eq!(replay.json::<Value>(), applied);
    assert_eq!(head(t.clone()).await, after);

    // Projecting 401 imported users can take an unoptimized build on a busy
    // machine longer than the 5 s a read waits for `?position=`: wait for
    // them here, with a generous bound, before reading.
    assert!(
        api.projections
            .wait_for(position, support::PROJECTION_WAIT)
            .await,
        "the read models did not reach position {position}"
    );
    // The read models show the imported users, their origin and seats.
    let listed: Value = api
        .server
        .get_as(
            &boss,
            &format!("/v1/accounts/{org_id}/users?position={position}&license={pro}"),
        )
        .await
        .json();
    let users = listed["users"].as_array().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["email"], "ann@customer.example");
    assert_eq!(users[0]["origin"], "import");
    let activity: Value = api
        .server.get_as(&boss, &format!(
            "/v1/accounts/{org_id}/activity?position={position}&action_types=Import%20User&limit=500"
        ))
        .await
        .json();
    let imported = activity["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action_type"] == "Import User")
        .count();
    assert_eq!(imported, 401);

    // Imported users have no password; an admin's reset lets them sign in.
    let ann = applied["created"][0].as_str().unwrap();
    let reset: Value = api
        .server
        .post_as(&boss, &format!("/v1/users/{ann}/password-reset"))
        .await
        .json();
    let temporary = reset["temporary_password"].as_str().unwrap();
    api.sign_in("ann@customer.example", temporary).await;

    // Over the import's own limit: 413.
    let huge = format!("email,name,role\n{}", "x".repeat(1024 * 1024));
    let response = api.import(&boss, &path, huge).await;
    assert_eq!(response.status_code(), 413);
    assert_eq!(response.json::<Value>()["error"]["code"], "body_too_large");
    // Other routes keep the 64 KiB limit.
    let response = api
        .server
        .post_as(&boss, &format!("/v1/accounts/{org_id}/licenses"))
        .json(&json!({ "product": "P".repeat(70 * 1024), "seats": 1 }))
        .expect_failure()
        .await;
    assert_eq!(response.status_code(), 413);
});
