//! Projections on both backends: built live while commands run, readable
//! with SQL, and identical after a rebuild from the log — every table of
//! every projector (enumerated from the registry, checked against the
//! migrations) on a workload that gives each of them rows.

use crate::support;

use portal_ledger::app::accounts::CreateAccount;
use portal_ledger::app::invitations::RevokeInvitation;
use portal_ledger::app::users::{
    AssignCustomers, ChangeRole, CreateUser, DeleteUser, SetLocationTrust,
    SetNotificationPreferences, UpdateProfile,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use portal_ledger::app::licenses;
use portal_ledger::app::partner_kit;
use portal_ledger::app::quotes;
use portal_ledger::app::servers;
use portal_ledger::app::tickets;
use portal_ledger::app::{CommandContext, Ledger};
use portal_ledger::domain::email::Email;
use portal_ledger::domain::ids::{AccountId, UserId};
use portal_ledger::domain::role::{AccountKind, Role};
use portal_ledger::domain::user::{NewUser, Origin};
use portal_ledger::projection::all_projectors;
use portal_ledger::projection::runner::Projections;
use serde_json::Value;
use uuid::Uuid;

/// Every table of every projector, from the registry: a projection added
/// later is compared without anyone remembering to list it here.
fn tables() -> Vec<&'static str> {
    all_projectors()
        .iter()
        .flat_map(|p| p.tables().iter().copied())
        .collect()
}

/// Every projection table's rows, sorted (a dump is ordered by the first
/// column only, which need not be unique).
async fn dump_all(projections: &Projections) -> BTreeMap<&'static str, Vec<String>> {
    let mut out = BTreeMap::new();
    for table in tables() {
        let mut rows = projections.target().dump(table).await.unwrap();
        rows.sort();
        out.insert(table, rows);
    }
    out
}

fn rows(dump: &[String]) -> Vec<Value> {
    dump.iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect()
}

on_both_backends!(
    live_projections_equal_rebuilt_ones,
    |t: support::TestStore| async move {
        let projections = t.live_projections().await;

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
        let mut users = Vec::new();
        for (i, role) in [Role::Admin, Role::Admin, Role::Regular, Role::ReadOnly]
            .into_iter()
            .enumerate()
        {
            let new = NewUser {
                user_id: UserId(Uuid::now_v7()),
                email: Email::parse(&format!("person{i}@acme.example")).unwrap(),
                name: format!("Person {i}"),
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
            users.push(new.user_id);
        }
        let admin = CommandContext::as_user(users[0]);
        ledger
            .run(
                &admin,
                ChangeRole {
                    user_id: users[2],
                    role: Role::Support,
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &admin,
                UpdateProfile {
                    user_id: users[3],
                    name: Some("Renamed Person".into()),
                    email: Some(Email::parse("renamed@acme.example").unwrap().clone()),
                    username: None,
                },
            )
            .await
            .unwrap();
        let license = portal_ledger::domain::ids::LicenseId(Uuid::now_v7());
        ledger
            .run(
                &admin,
                licenses::CreateLicense {
                    account_id: org,
                    license_id: license,
                    product: String::from("Pro"),
                    seats: 3,
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &admin,
                licenses::AssignLicense {
                    license_id: license,
                    users: vec![users[1], users[2], users[3]],
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &admin,
                licenses::ReleaseLicense {
                    license_id: license,
                    users: vec![users[3]],
                },
            )
            .await
            .unwrap();
        // Partner staff assigned to customers, then to one of them.
        let partner = AccountId(Uuid::now_v7());
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
        let customers = [AccountId(Uuid::now_v7()), AccountId(Uuid::now_v7())];
        for (i, customer) in customers.iter().enumerate() {
            ledger
                .run(
                    &system,
                    CreateAccount {
                        account_id: *customer,
                        kind: AccountKind::Organization,
                        name: String::from(&format!("Customer {i}")),
                        parent: Some(partner),
                    },
                )
                .await
                .unwrap();
        }
        let staff = NewUser {
            user_id: UserId(Uuid::now_v7()),
            email: Email::parse("staff@reseller.example").unwrap(),
            name: "Staff".into(),
            role: Role::User,
            origin: Origin::Direct,
            invitation: None,
        };
        let handle = portal_ledger::domain::username::Username::parse("Staff.One").unwrap();
        ledger
            .run(
                &system,
                CreateUser {
                    account_id: partner,
                    user: staff.clone(),
                    username: Some(handle.clone()),
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &system,
                AssignCustomers {
                    user_id: staff.user_id,
                    customers: vec![customers[1], customers[0]],
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &system,
                AssignCustomers {
                    user_id: staff.user_id,
                    customers: vec![customers[1]],
                },
            )
            .await
            .unwrap();
        // A second license for users[2]: the set grows one by one.
        let second = portal_ledger::domain::ids::LicenseId(Uuid::now_v7());
        ledger
            .run(
                &admin,
                licenses::CreateLicense {
                    account_id: org,
                    license_id: second,
                    product: String::from("Plus"),
                    seats: 2,
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &admin,
                licenses::AssignLicense {
                    license_id: second,
                    users: vec![users[2]],
                },
            )
            .await
            .unwrap();
        let last = ledger
            .run(&admin, DeleteUser { user_id: users[1] })
            .await
            .unwrap();

        // Read your own writes: wait for the position the last command returned.
        assert!(
            projections
                .wait_for(last.last_position(), support::PROJECTION_WAIT)
                .await
        );
        let live = dump_all(&projections).await;

        let accounts = rows(&live["proj_accounts"]);
        assert_eq!(accounts.len(), 4);
        let acme = accounts
            .iter()
            .find(|a| a["account_id"] == org.to_string())
            .unwrap();
        assert_eq!(acme["name"], "Acme");
        assert_eq!(acme["admin_count"], 1);
        assert_eq!(acme["primary_admin_id"], users[0].to_string());

        let user_rows = rows(&live["proj_users"]);
        assert_eq!(user_rows.len(), 5);
        let by_id = |id: UserId| {
            user_rows
                .iter()
                .find(|r| r["user_id"] == id.to_string())
                .unwrap()
                .clone()
        };
        assert_eq!(by_id(users[2])["role"], "support");
        assert_eq!(by_id(users[3])["email"], "renamed@acme.example");
        assert_eq!(by_id(users[3])["name"], "Renamed Person");
        assert_eq!(by_id(users[1])["status"], "deleted");
        assert!(!by_id(users[1])["deleted_at"].is_null());
        // Licenses held (sorted ids), none after a release or a deletion;
        // assigned customers (the last assignment, sorted).
        let mut held = vec![license.to_string(), second.to_string()];
        held.sort();
        assert_eq!(by_id(users[2])["licenses"], serde_json::json!(held));
        assert_eq!(by_id(users[3])["licenses"], serde_json::json!([]));
        assert_eq!(by_id(users[1])["licenses"], serde_json::json!([]));
        assert_eq!(by_id(users[0])["assigned_customers"], serde_json::json!([]));
        assert_eq!(by_id(staff.user_id)["username"], "staff.one");
        assert_eq!(by_id(users[0])["username"], Value::Null);
        assert_eq!(
            by_id(staff.user_id)["assigned_customers"],
            serde_json::json!([customers[1].to_string()])
        );

        // One activity row per command: 1 account + 4 users + 3 changes
        // + 3 license commands + 3 accounts, 1 user and 2 assignments of
        // partner staff + 2 commands on the second license.
        let activity = rows(&live["proj_activity"]);
        assert_eq!(activity.len(), 19);
        let licenses = rows(&live["proj_licenses"]);
        let pro = licenses
            .iter()
            .find(|l| l["license_id"] == license.to_string())
            .unwrap();
        assert_eq!(pro["seats"], 3);
        // users[1] was deleted (seat released), users[3] released: one holder left.
        assert_eq!(pro["assigned_count"], 1);
        let holders: Vec<Value> = rows(&live["proj_license_assignments"])
            .into_iter()
            .filter(|h| h["license_id"] == license.to_string())
            .collect();
        assert_eq!(holders.len(), 1);
        assert_eq!(holders[0]["user_id"], users[2].to_string());
        let deletion = activity
            .iter()
            .find(|r| r["action_type"] == "Delete User")
            .unwrap();
        assert_eq!(deletion["actor_email"], "person0@acme.example");
        assert!(deletion["description"]
            .as_str()
            .unwrap()
            .contains("person1@acme.example"));

        // Rebuild everything from the log: the same rows.
        projections.stop();
        projections.rebuild(&[], &mut |_, _| {}).await.unwrap();
        assert_eq!(dump_all(&projections).await, live);
        // A named rebuild too, and an unknown name is refused.
        projections
            .rebuild(&["users".to_owned()], &mut |_, _| {})
            .await
            .unwrap();
        assert_eq!(dump_all(&projections).await, live);
        assert!(projections
            .rebuild(&["nope".to_owned()], &mut |_, _| {})
            .await
            .is_err());

        // A fresh runner resumes from the checkpoints without re-applying.
        let again = Projections::new(
            t.store.clone(),
            t.personal.clone(),
            projections.target().clone(),
        );
        again.start();
        assert!(
            again
                .wait_for(last.last_position(), support::PROJECTION_WAIT)
                .await
        );
        assert_eq!(dump_all(&again).await, live);
    }
);

/// The `proj_*` tables the migrations of one backend create.
fn migrated_tables(backend: &str) -> BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("projections")
        .join(backend);
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let sql = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let mut words = sql.split_whitespace().peekable();
        while let Some(word) = words.next() {
            if word.eq_ignore_ascii_case("TABLE") {
                let mut name = words.next().unwrap_or_default();
                if name.eq_ignore_ascii_case("IF") {
                    words.next();
                    words.next();
                    name = words.next().unwrap_or_default();
                }
                let name = name.trim_matches(|c: char| !(c.is_alphanumeric() || c == '_'));
                if name.starts_with("proj_") {
                    found.insert(name.to_owned());
                }
            }
        }
    }
    found
}

#[test]
fn every_projection_table_belongs_to_a_projector() {
    let registered: BTreeSet<String> = tables().iter().map(|t| t.to_string()).collect();
    assert_eq!(
        registered.len(),
        tables().len(),
        "a table has two projectors"
    );
    for backend in ["postgres", "sqlite"] {
        assert_eq!(
            migrated_tables(backend),
            registered,
            "the {backend} migrations and the projectors' tables differ"
        );
    }
}

on_both_backends!(
    every_projection_rebuilds_to_the_rows_it_had_live,
    |t: support::TestStore| async move {
        use chrono::{Duration as Days, Utc};
        use portal_ledger::app::sessions::Auth;
        use portal_ledger::auth::password::Password;
        use portal_ledger::domain::ids::{LicenseId, ServerId, TicketId};
        use portal_ledger::domain::invitation::InvitationTarget;
        use portal_ledger::domain::notification::{Category, Frequency, Preferences};
        use portal_ledger::notify::MemoryNotifier;
        use portal_ledger::projection::read_models::ReadModels;

        // The workload falls on the day the digest at its end counts.
        support::clear_of_utc_midnight().await;
        let projections = t.live_projections().await;
        let mail = MemoryNotifier::default();
        let auth = Auth::new(
            Ledger::new(t.store.clone(), t.personal.clone()),
            t.backend.credentials(),
        )
        .with_notifier(Arc::new(mail.clone()));
        let ledger = auth.ledger().clone();
        let now = Utc::now();
        let (platform, root_id, root_password) = auth
            .bootstrap(&Email::parse("root@platform.example").unwrap(), now)
            .await
            .unwrap();
        let from = |ip: &str| CommandContext {
            ip: Some(ip.to_owned()),
            user_agent: Some("Workload/1".to_owned()),
            ..CommandContext::system()
        };
        let root = CommandContext {
            ip: Some("198.51.100.1".to_owned()),
            ..CommandContext::as_user(root_id)
        };
        let last_code = || {
            mail.sent()
                .last()
                .unwrap()
                .body
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap()
                .trim()
                .to_owned()
        };

        // Sessions: one signed out, one open.
        let signed_in = auth
            .sign_in(
                &from("198.51.100.1"),
                "root@platform.example",
                root_password.expose(),
                now,
            )
            .await
            .unwrap();
        let principal = auth.authenticate(&signed_in.token, now).await.unwrap();
        auth.sign_out(&root, &principal).await.unwrap();
        auth.sign_in(
            &from("198.51.100.1"),
            "root@platform.example",
            root_password.expose(),
            now,
        )
        .await
        .unwrap();

        // Invitations: a partner signs up; a user invitation stays pending,
        // another is revoked.
        auth.invite(
            &root,
            &Email::parse("boss@reseller.example").unwrap(),
            InvitationTarget::Tenant {
                parent_id: platform,
                tenant_kind: AccountKind::Partner,
                name: "Reseller".into(),
            },
            now,
        )
        .await
        .unwrap();
        let boss = auth
            .accept_invitation(
                &from("203.0.113.9"),
                &last_code(),
                "Bo Boss",
                &Password::parse("reseller long password").unwrap(),
                now,
            )
            .await
            .unwrap();
        let as_boss = CommandContext::as_user(boss.user_id);
        auth.invite(
            &root,
            &Email::parse("pending@platform.example").unwrap(),
            InvitationTarget::User {
                account_id: platform,
                role: Role::Support,
            },
            now,
        )
        .await
        .unwrap();
        let revoked = auth
            .invite(
                &root,
                &Email::parse("revoked@platform.example").unwrap(),
                InvitationTarget::User {
                    account_id: platform,
                    role: Role::ReadOnly,
                },
                now,
            )
            .await
            .unwrap();
        auth.ledger()
            .run(
                &root,
                RevokeInvitation {
                    invitation_id: revoked.invitation_id,
                },
            )
            .await
            .unwrap();

        // The partner's customer, its users, a license, a server, a ticket.
        let org = AccountId(Uuid::now_v7());
        ledger
            .run(
                &as_boss,
                CreateAccount {
                    account_id: org,
                    kind: AccountKind::Organization,
                    name: String::from("Acme"),
                    parent: Some(boss.account_id),
                },
            )
            .await
            .unwrap();
        let mut users = Vec::new();
        for (i, role) in [Role::Admin, Role::Regular, Role::Support]
            .into_iter()
            .enumerate()
        {
            let new = NewUser {
                user_id: UserId(Uuid::now_v7()),
                email: Email::parse(&format!("person{i}@acme.example")).unwrap(),
                name: format!("Person {i}"),
                role,
                origin: Origin::Direct,
                invitation: None,
            };
            ledger
                .run(
                    &as_boss,
                    CreateUser {
                        account_id: org,
                        user: new.clone(),
                        username: None,
                    },
                )
                .await
                .unwrap();
            users.push(new.user_id);
        }
        let admin = CommandContext::as_user(users[0]);
        let license = LicenseId(Uuid::now_v7());
        ledger
            .run(
                &admin,
                licenses::CreateLicense {
                    account_id: org,
                    license_id: license,
                    product: String::from("Pro"),
                    seats: 2,
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &admin,
                licenses::AssignLicense {
                    license_id: license,
                    users: vec![users[1]],
                },
            )
            .await
            .unwrap();
        let server = ServerId(Uuid::now_v7());
        ledger
            .run(
                &admin,
                servers::RegisterServer {
                    account_id: org,
                    server_id: server,
                    name: String::from("wall-1"),
                    location: Some(String::from("Lobby")),
                    partner_access: true,
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &as_boss,
                servers::RecordServerAction {
                    server_id: server,
                    action: String::from("control center opened"),
                },
            )
            .await
            .unwrap();
        let backup_id = Uuid::now_v7().to_string();
        let command = servers::BackUpServer {
            server_id: server,
            backup_id,
        };
        ledger.run(&admin, command).await.unwrap();
        ledger
            .run(
                &admin,
                servers::SetPartnerAccess {
                    server_id: server,
                    granted: false,
                    until: None,
                    now: chrono::Utc::now(),
                },
            )
            .await
            .unwrap();
        let ticket = TicketId(Uuid::now_v7());
        ledger
            .run(
                &admin,
                tickets::OpenTicket {
                    account_id: org,
                    ticket_id: ticket,
                    subject: String::from("Wall 1 is dark"),
                    description: String::from("Since 9am"),
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &admin,
                tickets::UpdateTicket {
                    ticket_id: ticket,
                    subject: None,
                    comment: Some(String::from("Rebooted")),
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &admin,
                tickets::CloseTicket {
                    ticket_id: ticket,
                    resolution: String::from("Fixed"),
                },
            )
            .await
            .unwrap();

        // A service account with a key, changed, and one key revoked.
        {
            use portal_ledger::app::service_accounts as machines;
            use portal_ledger::domain::ids::ServiceAccountId;
            let sa = ServiceAccountId(Uuid::now_v7());
            ledger
                .run(
                    &admin,
                    machines::CreateServiceAccount {
                        account_id: org,
                        service_account_id: sa,
                        name: String::from("Wall sync"),
                        role: Role::Support,
                        customers: vec![],
                    },
                )
                .await
                .unwrap();
            let key = machines::issue_key(&ledger, &admin, sa, "CI".into(), None, now)
                .await
                .unwrap();
            machines::issue_key(&ledger, &admin, sa, "spare".into(), None, now)
                .await
                .unwrap();
            ledger
                .run(
                    &admin,
                    machines::RevokeApiKey {
                        service_account_id: sa,
                        key_id: key.key_id,
                    },
                )
                .await
                .unwrap();
            ledger
                .run(
                    &admin,
                    machines::ChangeServiceAccount {
                        service_account_id: sa,
                        name: None,
                        role: Some(Role::ReadOnly),
                        customers: None,
                    },
                )
                .await
                .unwrap();
        }

        // A partner's quote for the customer, and a partner-kit item.
        {
            use portal_ledger::app::partner_kit::NewKitItem;
            use portal_ledger::domain::ids::{KitItemId, QuoteId};
            use portal_ledger::domain::partner_kit::{Description, Material, Title};
            use portal_ledger::domain::quote::{Currency, Product, Seats, Terms, UnitPrice};
            let terms = Terms {
                product: Product::parse("Pro").unwrap(),
                seats: Seats::parse(2).unwrap(),
                unit_price: UnitPrice::parse(1200).unwrap(),
                currency: Currency::parse("EUR").unwrap(),
                valid_until: None,
                note: None,
            };
            let system = CommandContext::system();
            ledger
                .run(
                    &system,
                    quotes::CreateQuote {
                        account_id: org,
                        quote_id: QuoteId(Uuid::now_v7()),
                        terms,
                        today: now.date_naive(),
                    },
                )
                .await
                .unwrap();
            ledger
                .run(
                    &system,
                    partner_kit::PublishKitItem {
                        platform: Some(platform),
                        item_id: KitItemId(Uuid::now_v7()),
                        item: NewKitItem {
                            title: Title::parse("Brochure").unwrap(),
                            description: Description::parse("Print ready").unwrap(),
                            material: Material::parse(Some("https://cdn.example/b.pdf"), None)
                                .unwrap(),
                            category: portal_ledger::domain::partner_kit::Category::parse("Print")
                                .unwrap(),
                        },
                    },
                )
                .await
                .unwrap();
        }

        // Trusted locations, preferences, an e-mail for a deletion, a
        // password reset, a digest, a signed checkpoint.
        auth.ledger()
            .run(
                &admin,
                SetLocationTrust {
                    user_id: users[0],
                    ip: String::from("192.0.2.10"),
                    trusted: true,
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &root,
                SetNotificationPreferences {
                    user_id: root_id,
                    preferences: Preferences {
                        frequency: Frequency::Daily,
                        categories: [Category::Users, Category::Servers].into_iter().collect(),
                    },
                },
            )
            .await
            .unwrap();
        ledger
            .run(&admin, DeleteUser { user_id: users[2] })
            .await
            .unwrap();
        auth.reset_password(&admin, users[1], now).await.unwrap();
        let position = t.store.head().await.unwrap().position;
        assert!(
            projections
                .wait_for(position, support::PROJECTION_WAIT)
                .await
        );
        let sent = ledger
            .send_digests(
                now + Days::days(1),
                &ReadModels(projections.target().clone()),
            )
            .await
            .unwrap();
        assert_eq!(sent, 1);
        let signer = portal_ledger::integrity::checkpoint::CheckpointSigner::generate().unwrap();
        portal_ledger::integrity::checkpoint::append_checkpoint(&t.backend.merkle_tree(), &signer)
            .await
            .unwrap();

        let head = t.store.head().await.unwrap().position;
        assert!(projections.wait_for(head, support::PROJECTION_WAIT).await);
        let live = dump_all(&projections).await;
        for (table, rows) in &live {
            assert!(!rows.is_empty(), "the workload leaves {table} empty");
        }
        assert_eq!(live.len(), tables().len());

        // Rebuilt from the log: the same rows in every table.
        projections.stop();
        projections.rebuild(&[], &mut |_, _| {}).await.unwrap();
        let rebuilt = dump_all(&projections).await;
        for table in tables() {
            assert_eq!(
                rebuilt[table], live[table],
                "{table} differs after a rebuild"
            );
        }
    }
);

on_both_backends!(
    quotes_partner_kit_and_server_licenses_rebuild_the_same,
    |t: support::TestStore| async move {
        use portal_ledger::app::partner_kit::NewKitItem;
        use portal_ledger::domain::ids::{KitItemId, LicenseId, QuoteId, ServerId};
        use portal_ledger::domain::partner_kit::{
            Category, Description, ItemChange, Material, Title,
        };
        use portal_ledger::domain::quote::{
            Currency, Note, Product, Seats, Terms, TermsChange, UnitPrice,
        };

        let projections = t.live_projections().await;
        let ledger = Ledger::new(t.store.clone(), t.personal.clone());
        let system = CommandContext::system();
        let (platform, partner, org) = (
            AccountId(Uuid::now_v7()),
            AccountId(Uuid::now_v7()),
            AccountId(Uuid::now_v7()),
        );
        ledger
            .run(
                &system,
                CreateAccount {
                    account_id: platform,
                    kind: AccountKind::Platform,
                    name: String::from("Platform"),
                    parent: None,
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &system,
                CreateAccount {
                    account_id: partner,
                    kind: AccountKind::Partner,
                    name: String::from("Reseller"),
                    parent: Some(platform),
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
                    name: String::from("Acme"),
                    parent: Some(partner),
                },
            )
            .await
            .unwrap();
        let today = chrono::Utc::now().date_naive();
        let terms = || Terms {
            product: Product::parse("Pro").unwrap(),
            seats: Seats::parse(4).unwrap(),
            unit_price: UnitPrice::parse(999).unwrap(),
            currency: Currency::parse("EUR").unwrap(),
            valid_until: None,
            note: None,
        };
        let (sent, declined) = (QuoteId(Uuid::now_v7()), QuoteId(Uuid::now_v7()));
        for quote in [sent, declined] {
            ledger
                .run(
                    &system,
                    quotes::CreateQuote {
                        account_id: org,
                        quote_id: quote,
                        terms: terms(),
                        today,
                    },
                )
                .await
                .unwrap();
        }
        ledger
            .run(
                &system,
                quotes::UpdateQuote {
                    quote_id: sent,
                    change: TermsChange {
                        seats: Some(Seats::parse(6).unwrap()),
                        note: Some(Note::parse("six now").unwrap()),
                        ..TermsChange::default()
                    },
                    today,
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &system,
                quotes::SendQuote {
                    quote_id: sent,
                    today,
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &system,
                quotes::SendQuote {
                    quote_id: declined,
                    today,
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &system,
                quotes::DeclineQuote {
                    quote_id: declined,
                    reason: Some(Note::parse("no").unwrap()),
                },
            )
            .await
            .unwrap();
        let (kept, gone) = (KitItemId(Uuid::now_v7()), KitItemId(Uuid::now_v7()));
        for item in [kept, gone] {
            ledger
                .run(
                    &system,
                    partner_kit::PublishKitItem {
                        platform: Some(platform),
                        item_id: item,
                        item: NewKitItem {
                            title: Title::parse("Logos").unwrap(),
                            description: Description::parse("All sizes").unwrap(),
                            material: Material::parse(Some("https://cdn.example/l.zip"), None)
                                .unwrap(),
                            category: Category::parse("Logos").unwrap(),
                        },
                    },
                )
                .await
                .unwrap();
        }
        ledger
            .run(
                &system,
                partner_kit::UpdateKitItem {
                    item_id: kept,
                    change: ItemChange {
                        material: Some(Material::parse(None, Some("inline")).unwrap()),
                        ..ItemChange::default()
                    },
                },
            )
            .await
            .unwrap();
        ledger
            .run(&system, partner_kit::WithdrawKitItem { item_id: gone })
            .await
            .unwrap();
        let license = LicenseId(Uuid::now_v7());
        ledger
            .run(
                &system,
                licenses::CreateLicense {
                    account_id: org,
                    license_id: license,
                    product: String::from("Pro"),
                    seats: 3,
                },
            )
            .await
            .unwrap();
        let server = ServerId(Uuid::now_v7());
        ledger
            .run(
                &system,
                servers::RegisterServer {
                    account_id: org,
                    server_id: server,
                    name: String::from("wall"),
                    location: None,
                    partner_access: true,
                },
            )
            .await
            .unwrap();
        let last = ledger
            .run(
                &system,
                servers::ChangeServerLicense {
                    server_id: server,
                    license_id: Some(license),
                },
            )
            .await
            .unwrap();
        assert!(
            projections
                .wait_for(last.last_position(), support::PROJECTION_WAIT)
                .await
        );
        let live = dump_all(&projections).await;
        let quotes = rows(&live["proj_quotes"]);
        let quote = |id: QuoteId| {
            quotes
                .iter()
                .find(|r| r["quote_id"] == id.to_string())
                .unwrap()
                .clone()
        };
        assert_eq!(quote(sent)["status"], "sent");
        assert_eq!(quote(sent)["total_cents"], 6 * 999);
        assert_eq!(quote(sent)["note"], "six now");
        assert_eq!(quote(declined)["status"], "declined");
        assert_eq!(quote(declined)["decline_reason"], "no");
        let kit = rows(&live["proj_partner_kit"]);
        assert_eq!(kit.len(), 1);
        assert_eq!(kit[0]["item_id"], kept.to_string());
        assert_eq!(kit[0]["content"], "inline");
        assert_eq!(kit[0]["url"], Value::Null);
        assert_eq!(kit[0]["category"], "logos");
        let servers = rows(&live["proj_servers"]);
        assert_eq!(servers[0]["license_id"], license.to_string());

        projections.stop();
        projections.rebuild(&[], &mut |_, _| {}).await.unwrap();
        assert_eq!(dump_all(&projections).await, live);
        projections
            .rebuild(
                &[
                    "quotes".to_owned(),
                    "partner_kit".to_owned(),
                    "servers".to_owned(),
                ],
                &mut |_, _| {},
            )
            .await
            .unwrap();
        assert_eq!(dump_all(&projections).await, live);
    }
);
