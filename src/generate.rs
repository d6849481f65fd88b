//! A realistic portal, generated: deterministic from a seed, scaled to any
//! number of events (the reference size is 50 partners, 5,000
//! organizations, 200,000 users and 10,000,000 events), written as the
//! legacy NDJSON that `import` numbers and hashes.
//!
//! Why a generator rather than replaying commands: benchmarks need tens of
//! millions of events in minutes, and commands cost a few milliseconds each.
//! The events are the domain's own (encoded with `domain::codec`, so every
//! projector reads them), with complete metadata (actor and e-mail, account,
//! on-behalf-of for partner staff, targets, action type, description, ip,
//! user agent, correlation ids). Like a migrated legacy history they are not
//! sealed: the personal data in them is fictional.
//!
//! The mix after setup: sign-ins and sign-outs, profile and role changes,
//! server actions, configuration updates and backups, license assignments,
//! tickets, and invitations — spread over one simulated year from
//! 2025-01-01.

use std::io::Write;

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use thiserror::Error;
use uuid::Uuid;

use crate::domain::account::AccountEvent;
use crate::domain::codec::encode;
use crate::domain::email::Email;
use crate::domain::ids::{AccountId, LicenseId, ServerId, SessionId, TicketId, UserId};
use crate::domain::license::LicenseEvent;
use crate::domain::role::{AccountKind, Role};
use crate::domain::server::{PartnerGrant, ServerEvent};
use crate::domain::session::{CloseReason, SessionEvent};
use crate::domain::ticket::TicketEvent;
use crate::domain::user::{EmailEvent, Origin, UserEvent};
use crate::event::{JsonObject, StreamId};

#[derive(Debug, Error)]
pub enum GenerateError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("generating an event: {0}")]
    Event(String),
}

/// How big a portal to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scale {
    pub events: u64,
    pub partners: usize,
    pub organizations: usize,
    pub users: usize,
}

impl Scale {
    /// The reference proportions (50 / 5,000 / 200,000 per 10 M events),
    /// scaled to `events`, with small floors.
    pub fn for_events(events: u64) -> Self {
        let part = |reference: u64, floor: usize| {
            ((reference as u128 * events as u128 / 10_000_000) as usize).max(floor)
        };
        Self {
            events,
            partners: part(50, 2),
            organizations: part(5_000, 4),
            users: part(200_000, 20),
        }
    }
}

/// What was generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generated {
    pub events: u64,
    pub accounts: usize,
    pub users: usize,
}

/// xorshift64*: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn uuid(&mut self) -> Uuid {
        let bits = (u128::from(self.next()) << 64) | u128::from(self.next());
        uuid::Builder::from_random_bytes(bits.to_be_bytes()).into_uuid()
    }
}

struct Account {
    id: AccountId,
    parent: Option<usize>,
    name: String,
    users: Vec<usize>,
    servers: Vec<(ServerId, String)>,
    licenses: Vec<LicenseId>,
}

struct Person {
    id: UserId,
    account: usize,
    email: String,
    role: Role,
}

const AGENTS: [&str; 4] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/129.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1",
    "portal-sync/2.3 (+https://partner.example)",
    "Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0",
];
const SERVER_ACTIONS: [&str; 4] = [
    "control center opened",
    "files uploaded",
    "display restarted",
    "playlist published",
];

#[derive(Serialize)]
struct Line<'a> {
    event_id: Uuid,
    stream_id: &'a str,
    event_type: &'a str,
    /// The payload's shape (a line without one would be read as version 1).
    schema_version: u32,
    payload: &'a JsonObject,
    metadata: &'a JsonObject,
    recorded_at: String,
}

struct Writer<'w, W: Write> {
    out: &'w mut W,
    rng: Rng,
    clock: DateTime<Utc>,
    step_micros: i64,
    written: u64,
}

impl<W: Write> Writer<'_, W> {
    /// The metadata of a command by the system.
    fn system_meta(
        &mut self,
        account: AccountId,
        targets: Value,
        action: &str,
        description: String,
    ) -> Value {
        json!({
            "command_id": self.rng.uuid(), "actor": {"kind": "system", "user_id": null, "email": null},
            "on_behalf_of": null, "account": account, "targets": targets,
            "action_type": action, "description": description, "authorization": null,
            "ip": null, "user_agent": null, "request_id": null,
            "correlation_id": self.rng.uuid(), "causation_id": null,
        })
    }

    /// Writes one command's events (stream, domain event) with one shared
    /// metadata object.
    fn command<E: Serialize>(
        &mut self,
        events: &[(StreamId, E)],
        metadata: Value,
    ) -> Result<(), GenerateError> {
        let metadata = JsonObject::from_value("metadata", &metadata)
            .map_err(|e| GenerateError::Event(e.to_string()))?;
        let jitter = self.rng.below(2 * self.step_micros.max(1) as usize) as i64;
        self.clock += Duration::microseconds(jitter);
        for (stream, event) in events {
            let new = encode(event, &metadata).map_err(|e| GenerateError::Event(e.to_string()))?;
            let line = Line {
                event_id: self.rng.uuid(),
                stream_id: stream.as_str(),
                event_type: new.event_type.as_str(),
                schema_version: new.schema_version,
                payload: &new.payload,
                metadata: &new.metadata,
                recorded_at: self
                    .clock
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            };
            serde_json::to_writer(&mut *self.out, &line)
                .map_err(|e| GenerateError::Event(e.to_string()))?;
            self.out.write_all(b"\n")?;
            self.written += 1;
        }
        Ok(())
    }
}

/// Writes a portal of `scale` generated from `seed` to `out`.
pub fn generate(seed: u64, scale: Scale, out: &mut impl Write) -> Result<Generated, GenerateError> {
    let start = Utc
        .with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .ok_or_else(|| GenerateError::Event("start time".into()))?;
    let year_micros: i64 = 365 * 24 * 3600 * 1_000_000;
    let mut w = Writer {
        out,
        rng: Rng::new(seed),
        clock: start,
        step_micros: year_micros / scale.events.max(1) as i64,
        written: 0,
    };
    let mut accounts: Vec<Account> = Vec::new();
    let mut people: Vec<Person> = Vec::new();

    // Tenancy: the platform, partners, organizations (each under a partner).
    let tenants = std::iter::once((AccountKind::Platform, None, "Platform".to_owned()))
        .chain((0..scale.partners).map(|i| (AccountKind::Partner, Some(0), format!("Partner {i}"))))
        .chain((0..scale.organizations).map(|i| {
            (
                AccountKind::Organization,
                Some(1 + i % scale.partners),
                format!("Organization {i}"),
            )
        }))
        .collect::<Vec<_>>();
    for (kind, parent, name) in tenants {
        let id = AccountId(w.rng.uuid());
        let parent_id = parent
            .filter(|_| kind == AccountKind::Organization)
            .map(|p: usize| accounts[p].id);
        let meta = w.system_meta(
            id,
            json!([{"type": "account", "id": id}]),
            "Update Organization",
            format!("Created {kind:?} account {name}"),
        );
        w.command(
            &[(
                id.stream(),
                AccountEvent::Created {
                    account_id: id,
                    kind,
                    name: name.clone(),
                    parent: parent_id,
                },
            )],
            meta,
        )?;
        accounts.push(Account {
            id,
            parent,
            name,
            users: Vec::new(),
            servers: Vec::new(),
            licenses: Vec::new(),
        });
    }

    // Users: every account gets an admin first, the rest spread out.
    let roles_org = [
        Role::Admin,
        Role::Regular,
        Role::Support,
        Role::ReadOnly,
        Role::Notifications,
    ];
    let roles_partner = [
        Role::Admin,
        Role::User,
        Role::Sales,
        Role::Support,
        Role::Marketing,
    ];
    for n in 0..scale.users.max(accounts.len()) {
        let account = if n < accounts.len() {
            n
        } else {
            w.rng.below(accounts.len())
        };
        let kind_partner = accounts[account].parent == Some(0) && account <= scale.partners;
        let role = if accounts[account].users.is_empty() {
            Role::Admin
        } else if kind_partner {
            roles_partner[w.rng.below(roles_partner.len())]
        } else {
            roles_org[w.rng.below(roles_org.len())]
        };
        let id = UserId(w.rng.uuid());
        let email_text = format!("user{n}@tenant{account}.example");
        let email = Email::parse(&email_text).map_err(|e| GenerateError::Event(e.to_string()))?;
        let acct = accounts[account].id;
        let metadata = w.system_meta(
            acct,
            json!([{"type": "user", "id": id}]),
            "Update User Profile",
            format!("Created user {email_text} with role {role}"),
        );
        w.command(
            &[(
                id.stream(),
                UserEvent::Created {
                    user_id: id,
                    account_id: acct,
                    email: email.clone(),
                    name: format!("Person {n}"),
                    role,
                    origin: Origin::Import,
                    invitation_id: None,
                    username: None,
                },
            )],
            metadata.clone(),
        )?;
        w.command(
            &[(email.claim_stream(), EmailEvent::Claimed { user_id: id })],
            metadata.clone(),
        )?;
        if role == Role::Admin {
            w.command(
                &[(acct.stream(), AccountEvent::AdminAdded { user_id: id })],
                metadata,
            )?;
        }
        accounts[account].users.push(people.len());
        people.push(Person {
            id,
            account,
            email: email_text,
            role,
        });
    }

    // Each organization: two servers and a license.
    for organization in accounts.iter_mut().skip(1 + scale.partners) {
        let acct = organization.id;
        for s in 0..2 {
            let id = ServerId(w.rng.uuid());
            let name = format!("{} Wall {s}", organization.name);
            let partner_access = w.rng.below(3) > 0;
            let location = Some(format!("Floor {}", w.rng.below(9)));
            let meta = w.system_meta(
                acct,
                json!([{"type": "server", "id": id}]),
                "Update Server",
                format!("Registered server {name}"),
            );
            w.command(
                &[(
                    id.stream(),
                    ServerEvent::Registered {
                        server_id: id,
                        account_id: acct,
                        name: name.clone(),
                        location,
                        partner_access: PartnerGrant {
                            granted: partner_access,
                            until: None,
                        },
                    },
                )],
                meta,
            )?;
            organization.servers.push((id, name));
        }
        let license = LicenseId(w.rng.uuid());
        let meta = w.system_meta(
            acct,
            json!([{"type": "license", "id": license}]),
            "Update License",
            "Created license Signage Pro with 1000 seats".to_owned(),
        );
        w.command(
            &[(
                license.stream(),
                LicenseEvent::Created {
                    license_id: license,
                    account_id: acct,
                    product: "Signage Pro".to_owned(),
                    seats: 1_000,
                },
            )],
            meta,
        )?;
        organization.licenses.push(license);
    }

    // Activity until the target size.
    let mut open_sessions: Vec<(SessionId, usize)> = Vec::new();
    let mut open_tickets: Vec<(TicketId, usize)> = Vec::new();
    let mut assigned: std::collections::HashSet<(LicenseId, usize)> =
        std::collections::HashSet::new();
    while w.written < scale.events {
        let p = w.rng.below(people.len());
        let actor = &people[p];
        if actor.role == Role::Notifications {
            continue;
        }
        // Partner staff act in one of their partner's customers a fifth of
        // the time.
        let mut account = actor.account;
        if actor.account >= 1 && actor.account <= scale.partners && w.rng.below(5) == 0 {
            let customers: Vec<usize> = ((1 + scale.partners)..accounts.len())
                .filter(|c| accounts[*c].parent == Some(actor.account))
                .collect();
            if !customers.is_empty() {
                account = customers[w.rng.below(customers.len())];
            }
        }
        let acct = accounts[account].id;
        let actor_json = json!({"kind": "user", "user_id": actor.id, "email": actor.email});
        let ip = format!(
            "10.{}.{}.{}",
            actor.account % 250,
            p % 250,
            1 + w.rng.below(250)
        );
        let agent = AGENTS[p % AGENTS.len()];
        let base = |w: &mut Writer<'_, _>, targets: Value, action: &str, description: String| {
            json!({
                "command_id": w.rng.uuid(), "actor": actor_json, "account": acct,
                "on_behalf_of": if account != actor.account { json!(acct) } else { Value::Null },
                "targets": targets, "action_type": action, "description": description,
                "authorization": null, "ip": ip, "user_agent": agent, "request_id": null,
                "correlation_id": w.rng.uuid(), "causation_id": null,
            })
        };
        let roll = w.rng.below(100);
        let servers = accounts[account].servers.clone();
        match roll {
            0..=29 => {
                let id = SessionId(w.rng.uuid());
                let token_hash = format!("{:064x}", w.rng.next());
                let expires_at = w.clock + Duration::hours(12);
                let meta = base(
                    &mut w,
                    json!([{"type": "session", "id": id}, {"type": "user", "id": actor.id}]),
                    "Open Session",
                    format!("{} signed in", actor.email),
                );
                w.command(
                    &[(
                        id.stream(),
                        SessionEvent::Opened {
                            session_id: id,
                            user_id: actor.id,
                            account_id: accounts[actor.account].id,
                            token_hash,
                            expires_at,
                        },
                    )],
                    meta,
                )?;
                open_sessions.push((id, p));
            }
            30..=44 if !open_sessions.is_empty() => {
                let (id, who) = open_sessions.swap_remove(w.rng.below(open_sessions.len()));
                let meta = base(
                    &mut w,
                    json!([{"type": "session", "id": id}]),
                    "Close Session",
                    format!("{} signed out", people[who].email),
                );
                w.command(
                    &[(
                        id.stream(),
                        SessionEvent::Closed {
                            reason: CloseReason::SignedOut,
                        },
                    )],
                    meta,
                )?;
            }
            45..=64 if !servers.is_empty() => {
                let (id, name) = &servers[w.rng.below(servers.len())];
                let action = SERVER_ACTIONS[w.rng.below(SERVER_ACTIONS.len())];
                let meta = base(
                    &mut w,
                    json!([{"type": "server", "id": id}]),
                    "Server Action",
                    format!("{action} on server {name}"),
                );
                w.command(
                    &[(
                        id.stream(),
                        ServerEvent::ActionPerformed {
                            action: action.to_owned(),
                        },
                    )],
                    meta,
                )?;
            }
            65..=72 if !servers.is_empty() => {
                let (id, name) = &servers[w.rng.below(servers.len())];
                let summary = format!("brightness {}%", 40 + w.rng.below(60));
                let meta = base(
                    &mut w,
                    json!([{"type": "server", "id": id}]),
                    "Update Configuration",
                    format!("Updated the configuration of server {name}: {summary}"),
                );
                w.command(
                    &[(id.stream(), ServerEvent::ConfigurationUpdated { summary })],
                    meta,
                )?;
            }
            73..=76 if !servers.is_empty() => {
                let (id, name) = &servers[w.rng.below(servers.len())];
                let backup = format!("b{}", w.rng.next() % 1_000_000);
                let meta = base(
                    &mut w,
                    json!([{"type": "server", "id": id}]),
                    "Backup Machine Data",
                    format!("Made backup {backup} of server {name}"),
                );
                w.command(
                    &[(id.stream(), ServerEvent::BackupMade { backup_id: backup })],
                    meta,
                )?;
            }
            77..=84 => {
                let target =
                    &people[accounts[account].users[w.rng.below(accounts[account].users.len())]];
                let name = format!("Person {} {}", p, w.rng.below(100));
                let meta = base(
                    &mut w,
                    json!([{"type": "user", "id": target.id}]),
                    "Update User Profile",
                    format!("Updated the profile of {}", target.email),
                );
                w.command(
                    &[(
                        target.id.stream(),
                        UserEvent::ProfileUpdated {
                            name: Some(name),
                            email: None,
                            username: None,
                        },
                    )],
                    meta,
                )?;
            }
            85..=88 if !accounts[account].licenses.is_empty() => {
                let license = accounts[account].licenses[0];
                let holder = accounts[account].users[w.rng.below(accounts[account].users.len())];
                if !assigned.insert((license, holder)) {
                    continue;
                }
                let target = &people[holder];
                let meta = base(
                    &mut w,
                    json!([{"type": "license", "id": license}, {"type": "user", "id": target.id}]),
                    "Update License",
                    format!("Assigned Signage Pro to {}", target.email),
                );
                w.command(
                    &[(
                        license.stream(),
                        LicenseEvent::Assigned {
                            user_ids: vec![target.id],
                        },
                    )],
                    meta.clone(),
                )?;
                w.command(
                    &[(
                        target.id.stream(),
                        UserEvent::LicenseAssigned {
                            license_id: license,
                        },
                    )],
                    meta,
                )?;
            }
            89..=94 => {
                let id = TicketId(w.rng.uuid());
                let subject = format!("Display {} flickers", w.rng.below(50));
                let meta = base(
                    &mut w,
                    json!([{"type": "ticket", "id": id}]),
                    "Update Tickets",
                    format!("Opened ticket {subject}"),
                );
                w.command(
                    &[(
                        id.stream(),
                        TicketEvent::Opened {
                            ticket_id: id,
                            account_id: acct,
                            subject,
                            description: "Since the last update".to_owned(),
                        },
                    )],
                    meta,
                )?;
                open_tickets.push((id, account));
            }
            95..=97 if !open_tickets.is_empty() => {
                let (id, _) = open_tickets.swap_remove(w.rng.below(open_tickets.len()));
                let meta = base(
                    &mut w,
                    json!([{"type": "ticket", "id": id}]),
                    "Update Tickets",
                    "Closed a ticket: fixed by a firmware update".to_owned(),
                );
                w.command(
                    &[(
                        id.stream(),
                        TicketEvent::Closed {
                            resolution: "firmware update".to_owned(),
                        },
                    )],
                    meta,
                )?;
            }
            _ => {
                let index = accounts[account].users[w.rng.below(accounts[account].users.len())];
                let (id, from, email) = (
                    people[index].id,
                    people[index].role,
                    people[index].email.clone(),
                );
                if from == Role::Admin || from == Role::Notifications {
                    continue;
                }
                let to = if from == Role::Support {
                    Role::ReadOnly
                } else {
                    Role::Support
                };
                let meta = base(
                    &mut w,
                    json!([{"type": "user", "id": id}]),
                    "Update User Groups",
                    format!("Changed the role of {email} to {to}"),
                );
                w.command(&[(id.stream(), UserEvent::RoleChanged { from, to })], meta)?;
                people[index].role = to;
            }
        }
    }
    w.out.flush()?;
    Ok(Generated {
        events: w.written,
        accounts: accounts.len(),
        users: people.len(),
    })
}
