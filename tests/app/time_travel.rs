//! As-of reads and histories, on both backends. The property: for random
//! command sequences and random moments (positions and times), the state an
//! as-of read computes from the whole log equals what the *read models* of
//! a store holding only the events up to that moment answer (an export cut
//! there, imported into a fresh store of the same backend kind and
//! projected by a runner) — two independent computations: folding streams
//! with the domain's `evolve` against the projectors' SQL row changes.

use crate::support;

use portal_ledger::app::accounts::{CreateAccount, RenameAccount};
use portal_ledger::app::users::{
    AssignCustomers, ChangeRole, CreateUser, DeleteUser, RestoreUser, UpdateProfile,
};
use std::sync::Arc;

use chrono::Utc;
use portal_ledger::app::history::{AsOf, Entity};
use portal_ledger::app::licenses;
use portal_ledger::app::members::MemberKind;
use portal_ledger::app::servers;
use portal_ledger::app::{CommandContext, Ledger};
use portal_ledger::backend::{open_projections, Migrations};
use portal_ledger::domain::email::Email;
use portal_ledger::domain::ids::{AccountId, LicenseId, ServerId, UserId};
use portal_ledger::domain::role::{AccountKind, Role};
use portal_ledger::domain::user::{NewUser, Origin};
use portal_ledger::projection::read_models::ReadModels;
use portal_ledger::projection::runner::Projections;
use portal_ledger::projection::SqlValue;
use serde_json::{json, Value};
use uuid::Uuid;

/// xorshift64*: a small deterministic generator (the seed names a case).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

struct Entities {
    org: AccountId,
    users: Vec<UserId>,
    licenses: Vec<LicenseId>,
    servers: Vec<ServerId>,
}

/// Runs `steps` random commands (refusals included: they append nothing).
async fn random_history(ledger: &Ledger, rng: &mut Rng, steps: usize) -> Entities {
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
    let mut e = Entities {
        org,
        users: Vec::new(),
        licenses: Vec::new(),
        servers: Vec::new(),
    };
    let roles = [Role::Admin, Role::Regular, Role::Support, Role::ReadOnly];
    for step in 0..steps {
        let pick =
            |rng: &mut Rng, items: &Vec<UserId>| items.get(rng.below(items.len().max(1))).copied();
        let op = if e.users.is_empty() { 0 } else { rng.below(11) };
        let _ = match op {
            0 => {
                let new = NewUser {
                    user_id: UserId(Uuid::now_v7()),
                    email: Email::parse(&format!("p{step}@acme.example")).unwrap(),
                    name: format!("Person {step}"),
                    role: roles[rng.below(roles.len())],
                    origin: Origin::Direct,
                    invitation: None,
                };
                e.users.push(new.user_id);
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
                    .map(|_| ())
            }
            1 => {
                let user = pick(rng, &e.users).unwrap();
                ledger
                    .run(
                        &system,
                        ChangeRole {
                            user_id: user,
                            role: roles[rng.below(roles.len())],
                        },
                    )
                    .await
                    .map(|_| ())
            }
            2 => {
                let user = pick(rng, &e.users).unwrap();
                ledger
                    .run(
                        &system,
                        UpdateProfile {
                            user_id: user,
                            name: Some(format!("Renamed {step}")),
                            email: None,
                            username: None,
                        },
                    )
                    .await
                    .map(|_| ())
            }
            3 => {
                let license = LicenseId(Uuid::now_v7());
                e.licenses.push(license);
                ledger
                    .run(
                        &system,
                        licenses::CreateLicense {
                            account_id: org,
                            license_id: license,
                            product: String::from("Pro"),
                            seats: 1 + rng.below(3) as u32,
                        },
                    )
                    .await
                    .map(|_| ())
            }
            4 | 5 if !e.licenses.is_empty() => {
                let license = e.licenses[rng.below(e.licenses.len())];
                let user = pick(rng, &e.users).unwrap();
                if op == 4 {
                    ledger
                        .run(
                            &system,
                            licenses::AssignLicense {
                                license_id: license,
                                users: vec![user],
                            },
                        )
                        .await
                        .map(|_| ())
                } else {
                    ledger
                        .run(
                            &system,
                            licenses::ReleaseLicense {
                                license_id: license,
                                users: vec![user],
                            },
                        )
                        .await
                        .map(|_| ())
                }
            }
            6 => {
                let user = pick(rng, &e.users).unwrap();
                ledger
                    .run(&system, DeleteUser { user_id: user })
                    .await
                    .map(|_| ())
            }
            7 => {
                let user = pick(rng, &e.users).unwrap();
                ledger
                    .run(
                        &system,
                        RestoreUser {
                            user_id: user,
                            now: Utc::now(),
                        },
                    )
                    .await
                    .map(|_| ())
            }
            8 => {
                let server = ServerId(Uuid::now_v7());
                e.servers.push(server);
                ledger
                    .run(
                        &system,
                        servers::RegisterServer {
                            account_id: org,
                            server_id: server,
                            name: String::from(&format!("Wall {step}")),
                            location: None,
                            partner_access: false,
                        },
                    )
                    .await
                    .map(|_| ())
            }
            9 if !e.servers.is_empty() => {
                let server = e.servers[rng.below(e.servers.len())];
                ledger
                    .run(
                        &system,
                        servers::SetPartnerAccess {
                            server_id: server,
                            granted: rng.below(2) == 0,
                            until: None,
                            now: chrono::Utc::now(),
                        },
                    )
                    .await
                    .map(|_| ())
            }
            _ => ledger
                .run(
                    &system,
                    RenameAccount {
                        account_id: org,
                        name: String::from(&format!("Acme {step}")),
                    },
                )
                .await
                .map(|_| ()),
        };
    }
    e
}

fn all(e: &Entities) -> Vec<Entity> {
    std::iter::once(Entity::Account(e.org))
        .chain(e.users.iter().map(|u| Entity::User(*u)))
        .chain(e.licenses.iter().map(|l| Entity::License(*l)))
        .chain(e.servers.iter().map(|s| Entity::Server(*s)))
        .collect()
}

/// A JSON value that is a boolean in one representation (PostgreSQL) and
/// 0 / 1 in another (SQLite).
fn flag(value: &Value) -> Value {
    match value {
        Value::Number(n) => Value::Bool(n.as_i64() != Some(0)),
        other => other.clone(),
    }
}

fn sorted_ids(value: &Value) -> Value {
    let mut ids: Vec<String> = value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    json!(ids)
}

/// An as-of view in the read models' vocabulary: the fields both have, in
/// one representation (`None`: the entity did not exist).
fn normalized_view(entity: Entity, view: Option<Value>) -> Option<Value> {
    let v = view.filter(|v| v["status"] != "absent")?;
    Some(match entity {
        Entity::Account(_) => json!({
            "account_id": v["account_id"],
            "kind": v["kind"],
            "name": v["name"],
            "parent_id": v["parent_id"],
            "deleted": v["deleted"],
            "primary_admin_id": v["primary_admin_id"],
            "admin_count": v["admins"].as_array().map_or(0, Vec::len),
        }),
        Entity::User(_) => json!({
            "user_id": v["user_id"],
            "account_id": v["account_id"],
            "email": v["email"],
            "name": v["name"],
            "role": v["role"],
            "status": v["status"],
            "licenses": sorted_ids(&v["licenses"]),
        }),
        Entity::License(_) => json!({
            "license_id": v["license_id"],
            "account_id": v["account_id"],
            "product": v["product"],
            "seats": v["seats"],
            "assigned": sorted_ids(&v["assigned"]),
            "assigned_count": v["assigned"].as_array().map_or(0, Vec::len),
            "cancelled": v["cancelled"],
        }),
        Entity::Server(_) => json!({
            "server_id": v["server_id"],
            "account_id": v["account_id"],
            "name": v["name"],
            "location": v["location"],
            "notifications": v["notifications"],
            "partner_access": v["partner_access"],
            "license_id": v["license_id"],
        }),
        Entity::Ticket(_) | Entity::Quote(_) | Entity::ServiceAccount(_) => v,
    })
}

async fn rows(projections: &Projections, table: &str, key: &str, id: String) -> Vec<Value> {
    projections
        .target()
        .fetch(table, &[(key, SqlValue::text(id))], key, 10_000)
        .await
        .unwrap()
}

/// What the read models (the answers of the reads without `as_of`) say of
/// an entity, in the same vocabulary as [`normalized_view`].
async fn read_model(projections: &Projections, entity: Entity) -> Option<Value> {
    Some(match entity {
        Entity::Account(id) => {
            let row = rows(projections, "proj_accounts", "account_id", id.to_string())
                .await
                .pop()?;
            json!({
                "account_id": row["account_id"],
                "kind": row["kind"],
                "name": row["name"],
                "parent_id": row["parent_id"],
                "deleted": row["status"] == "deleted",
                "primary_admin_id": row["primary_admin_id"],
                "admin_count": row["admin_count"],
            })
        }
        Entity::User(id) => {
            let row = rows(projections, "proj_users", "user_id", id.to_string())
                .await
                .pop()?;
            let held: Vec<Value> = rows(
                projections,
                "proj_license_assignments",
                "user_id",
                id.to_string(),
            )
            .await
            .iter()
            .map(|r| r["license_id"].clone())
            .collect();
            json!({
                "user_id": row["user_id"],
                "account_id": row["account_id"],
                "email": row["email"],
                "name": row["name"],
                "role": row["role"],
                "status": row["status"],
                "licenses": sorted_ids(&json!(held)),
            })
        }
        Entity::License(id) => {
            let row = rows(projections, "proj_licenses", "license_id", id.to_string())
                .await
                .pop()?;
            let holders: Vec<Value> = rows(
                projections,
                "proj_license_assignments",
                "license_id",
                id.to_string(),
            )
            .await
            .iter()
            .map(|r| r["user_id"].clone())
            .collect();
            json!({
                "license_id": row["license_id"],
                "account_id": row["account_id"],
                "product": row["product"],
                "seats": row["seats"],
                "assigned": sorted_ids(&json!(holders)),
                "assigned_count": row["assigned_count"],
                "cancelled": row["status"] == "cancelled",
            })
        }
        Entity::Server(id) => {
            let row = rows(projections, "proj_servers", "server_id", id.to_string())
                .await
                .pop()?;
            json!({
                "server_id": row["server_id"],
                "account_id": row["account_id"],
                "name": row["name"],
                "location": row["location"],
                "notifications": flag(&row["notifications"]),
                "partner_access": flag(&row["partner_access"]),
                "license_id": row["license_id"],
            })
        }
        Entity::Ticket(_) | Entity::Quote(_) | Entity::ServiceAccount(_) => return None,
    })
}

/// The ids of an account's users / licenses / servers in the read models.
async fn listed(
    projections: &Projections,
    table: &str,
    id_field: &str,
    org: AccountId,
) -> Vec<String> {
    let mut ids: Vec<String> = rows(projections, table, "account_id", org.to_string())
        .await
        .iter()
        .filter_map(|r| r[id_field].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

on_both_backends!(
    as_of_equals_a_store_cut_at_that_moment,
    |t: support::TestStore| async move {
        let ledger = Ledger::new(t.store.clone(), t.personal.clone());
        // Comparisons of an entity that existed (not both absent).
        let mut compared = 0;
        for seed in [0x9E37_79B9_7F4A_7C15_u64, 42, 7_777_777] {
            let mut rng = Rng(seed);
            let e = random_history(&ledger, &mut rng, 40).await;
            let head = t.store.head().await.unwrap().position;
            let mut export = Vec::new();
            portal_ledger::transfer::export::export_ndjson(t.store.clone(), 1, &mut export, |_| {})
                .await
                .unwrap();
            let mut keys = Vec::new();
            portal_ledger::transfer::keys::export_keys(
                t.backend.personal_keys().as_ref(),
                &mut keys,
            )
            .await
            .unwrap();
            let lines: Vec<&[u8]> = export
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .collect();
            let events = t
                .store
                .read_all(1, 100_000, &portal_ledger::store::ReadFilter::all())
                .await
                .unwrap();
            // Moments: random events' times (and the head). A time means
            // every event recorded at or before it, so its cut is the last
            // position with that time or earlier.
            let mut moments: Vec<(u64, chrono::DateTime<Utc>)> = (0..8)
                .map(|_| events[rng.below(events.len())].recorded_at)
                .chain(std::iter::once(events[events.len() - 1].recorded_at))
                .map(|time| {
                    let cut = events
                        .iter()
                        .filter(|ev| ev.recorded_at <= time)
                        .map(|ev| ev.position)
                        .max()
                        .unwrap();
                    (cut, time)
                })
                .collect();
            moments.sort();
            assert_eq!(moments.last().unwrap().0, head);
            for (cut, time) in moments {
                // A store of the same kind holding exactly the events up to
                // `cut`, and its read models projected by a runner.
                let copy = support::TestStore::new(t.kind).await;
                let prefix: Vec<u8> = lines[..cut as usize]
                    .iter()
                    .flat_map(|l| l.iter().copied().chain(std::iter::once(b'\n')))
                    .collect();
                portal_ledger::transfer::keys::import_keys(
                    copy.backend.personal_keys().as_ref(),
                    &mut std::io::Cursor::new(keys.clone()),
                )
                .await
                .unwrap();
                portal_ledger::transfer::import::import_ndjson(
                    copy.backend.bulk(),
                    std::io::Cursor::new(prefix),
                    |_| {},
                )
                .await
                .unwrap();
                assert_eq!(copy.store.head().await.unwrap().position, cut);
                let projections = Projections::new(
                    copy.store.clone(),
                    copy.personal.clone(),
                    open_projections(&copy.location, Migrations::Apply)
                        .await
                        .unwrap(),
                );
                projections.catch_up_all().await.unwrap();
                let cut_ledger = Ledger::new(copy.store.clone(), copy.personal.clone());
                let context = |entity: &Entity, how: &str| {
                    format!("seed {seed}, cut {cut} ({how}), {entity:?}")
                };
                for entity in all(&e) {
                    let by_position = ledger
                        .view_as_of(entity, AsOf::Position(cut))
                        .await
                        .unwrap();
                    let by_time = ledger.view_as_of(entity, AsOf::Time(time)).await.unwrap();
                    assert_eq!(by_time, by_position, "{}", context(&entity, "time"));
                    // The read models of the cut store: what reads without
                    // as_of answered at that moment.
                    let expected = normalized_view(entity, by_position.clone());
                    let answered = read_model(&projections, entity).await;
                    assert_eq!(expected, answered, "{}", context(&entity, "read models"));
                    if cut == head && matches!(entity, Entity::Account(_)) {
                        assert!(answered.is_some(), "{}", context(&entity, "at the head"));
                    }
                    compared += usize::from(answered.is_some());
                    let then = cut_ledger
                        .view_as_of(entity, AsOf::Position(u64::MAX))
                        .await
                        .unwrap();
                    assert_eq!(by_position, then, "{}", context(&entity, "cut log"));
                }
                // The member index of the cut store is complete through
                // `cut`: a ledger over the whole log reading it answers
                // from the index up to there and from the log after.
                let indexed = ledger
                    .clone()
                    .with_members(Arc::new(ReadModels(projections.target().clone())));
                for (kind, field, table) in [
                    (MemberKind::User, "user_id", "proj_users"),
                    (MemberKind::License, "license_id", "proj_licenses"),
                    (MemberKind::Server, "server_id", "proj_servers"),
                ] {
                    for as_of in [AsOf::Position(cut), AsOf::Time(time)] {
                        for (how, ledger) in [("log", &ledger), ("index", &indexed)] {
                            let mut ids =
                                ledger.created_in_account(kind, e.org, as_of).await.unwrap();
                            ids.sort();
                            assert_eq!(
                                ids,
                                listed(&projections, table, field, e.org).await,
                                "seed {seed}, cut {cut}, {kind:?} {as_of:?} from the {how}"
                            );
                        }
                    }
                    for as_of in [
                        AsOf::Position(cut / 2),
                        AsOf::Position(head),
                        AsOf::Position(u64::MAX),
                        AsOf::Time(events[(cut as usize).min(events.len() - 1)].recorded_at),
                    ] {
                        assert_eq!(
                            indexed
                                .created_in_account(kind, e.org, as_of)
                                .await
                                .unwrap(),
                            ledger.created_in_account(kind, e.org, as_of).await.unwrap(),
                            "seed {seed}, index through {cut}, {kind:?} {as_of:?}"
                        );
                    }
                }
                projections.stop();
            }
        }
        assert!(
            compared > 100,
            "only {compared} comparisons of existing entities"
        );
    }
);

on_both_backends!(
    a_history_shows_what_each_event_changed,
    |t: support::TestStore| async move {
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
        let new = NewUser {
            user_id: UserId(Uuid::now_v7()),
            email: Email::parse("ann@acme.example").unwrap(),
            name: "Ann".into(),
            role: Role::Admin,
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
        let second = NewUser {
            user_id: UserId(Uuid::now_v7()),
            email: Email::parse("bob@acme.example").unwrap(),
            name: "Bob".into(),
            role: Role::Admin,
            origin: Origin::Direct,
            invitation: None,
        };
        ledger
            .run(
                &system,
                CreateUser {
                    account_id: org,
                    user: second.clone(),
                    username: None,
                },
            )
            .await
            .unwrap();
        let before_change = t.store.head().await.unwrap().position;
        // Ann (the owner) makes Bob a support user, then renames him.
        ledger
            .run(
                &CommandContext::as_user(new.user_id),
                ChangeRole {
                    user_id: second.user_id,
                    role: Role::Support,
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &system,
                UpdateProfile {
                    user_id: second.user_id,
                    name: Some("Bob B.".into()),
                    email: None,
                    username: None,
                },
            )
            .await
            .unwrap();
        let history = ledger.history(Entity::User(second.user_id)).await.unwrap();
        assert_eq!(history[0].event_type, "user.created");
        assert_eq!(history[0].after["email"], "bob@acme.example");
        assert_eq!(history[0].before["email"], serde_json::Value::Null);
        let role_change = history
            .iter()
            .find(|h| h.event_type == "user.role_changed")
            .unwrap();
        assert_eq!(role_change.before, serde_json::json!({"role": "admin"}));
        assert_eq!(role_change.after, serde_json::json!({"role": "support"}));
        assert_eq!(role_change.actor_email.as_deref(), Some("ann@acme.example"));
        let rename = history.last().unwrap();
        assert_eq!(rename.before, serde_json::json!({"name": "Bob"}));
        assert_eq!(rename.after, serde_json::json!({"name": "Bob B."}));
        // As of before the change, Bob was an admin.
        let then = ledger
            .view_as_of(Entity::User(second.user_id), AsOf::Position(before_change))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(then["role"], "admin");
        assert_eq!(then["name"], "Bob");
        let account_then = ledger
            .view_as_of(Entity::Account(org), AsOf::Position(before_change))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(account_then["admins"].as_array().unwrap().len(), 2);
    }
);

on_both_backends!(
    who_could_and_why_follows_roles_assignments_and_grants,
    |t: support::TestStore| async move {
        use portal_ledger::domain::permissions::Action;
        let ledger = Ledger::new(t.store.clone(), t.personal.clone());
        let system = CommandContext::system();
        let (platform, partner, customer, elsewhere) = (
            AccountId(Uuid::now_v7()),
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
        for (id, name) in [(customer, "Customer"), (elsewhere, "Elsewhere")] {
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
        let add = |account, email: &str, role| {
            let new = NewUser {
                user_id: UserId(Uuid::now_v7()),
                email: Email::parse(email).unwrap(),
                name: email.into(),
                role,
                origin: Origin::Direct,
                invitation: None,
            };
            let ledger = ledger.clone();
            async move {
                ledger
                    .run(
                        &CommandContext::system(),
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
        };
        let root = add(platform, "root@platform.example", Role::Admin).await;
        let boss = add(partner, "boss@reseller.example", Role::Admin).await;
        let staff = add(partner, "staff@reseller.example", Role::User).await;
        let owner = add(customer, "owner@customer.example", Role::Admin).await;
        let viewer = add(customer, "viewer@customer.example", Role::ReadOnly).await;
        let server = ServerId(Uuid::now_v7());
        ledger
            .run(
                &CommandContext::as_user(owner),
                servers::RegisterServer {
                    account_id: customer,
                    server_id: server,
                    name: String::from("Wall"),
                    location: None,
                    partner_access: false,
                },
            )
            .await
            .unwrap();
        let before = AsOf::Position(t.store.head().await.unwrap().position);
        ledger
            .run(
                &CommandContext::as_user(boss),
                AssignCustomers {
                    user_id: staff,
                    customers: vec![elsewhere],
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &CommandContext::as_user(owner),
                servers::SetPartnerAccess {
                    server_id: server,
                    granted: true,
                    until: None,
                    now: chrono::Utc::now(),
                },
            )
            .await
            .unwrap();
        let now = AsOf::Position(u64::MAX);

        let then = ledger.who_could(customer, None, before).await.unwrap();
        let find = |list: &Vec<portal_ledger::app::access::Access>, id: UserId| {
            list.iter().find(|a| a.user_id == Some(id)).cloned()
        };
        for id in [root, boss, staff, owner, viewer] {
            assert!(find(&then, id).is_some(), "{id} had access then");
        }
        assert_eq!(find(&then, root).unwrap().relation, "platform");
        assert_eq!(find(&then, staff).unwrap().relation, "customer");
        let viewer_then = find(&then, viewer).unwrap();
        assert!(viewer_then.actions.contains(&Action::ViewUsers));
        assert!(!viewer_then.actions.contains(&Action::DeleteUser));
        assert_eq!(viewer_then.because[0].event_type, "user.created");
        assert!(
            viewer_then.because[0].established.contains("read-only"),
            "{:?}",
            viewer_then.because
        );

        // After the assignment elsewhere, the staff member has no access
        // here; the assignment is the reason it changed.
        let now_list = ledger.who_could(customer, None, now).await.unwrap();
        assert!(find(&now_list, staff).is_none());
        let elsewhere_list = ledger.who_could(elsewhere, None, now).await.unwrap();
        let staff_there = find(&elsewhere_list, staff).unwrap();
        assert!(staff_there
            .because
            .iter()
            .any(|b| b.event_type == "user.customers_assigned"));

        // The server: partner staff could act on it only after the grant.
        let server_then = ledger
            .who_could(customer, Some(server), before)
            .await
            .unwrap();
        let boss_then = find(&server_then, boss).unwrap();
        assert!(!boss_then.actions.contains(&Action::ServerAction));
        let server_now = ledger.who_could(customer, Some(server), now).await.unwrap();
        let boss_now = find(&server_now, boss).unwrap();
        assert!(boss_now.actions.contains(&Action::ServerAction));
        assert!(boss_now
            .because
            .iter()
            .any(|b| b.event_type == "server.partner_access_granted"));
        assert!(find(&server_now, owner)
            .unwrap()
            .actions
            .contains(&Action::ServerAction));
    }
);
