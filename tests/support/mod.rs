//! Test support: a fresh store of either kind per test, cleaned up after.
//!
//! PostgreSQL tests get a database of their own on the running server
//! (`PORTAL_LEDGER_TEST_PG`, default `postgres://postgres@127.0.0.1:5432/postgres`
//! as the admin connection), created before the test and dropped with
//! `WITH (FORCE)` when the guard drops. Embedded tests get a temporary
//! directory.

#![allow(dead_code)]

pub mod http;
pub mod process;
pub mod world;

use portal_ledger::app::users::CreateUser;
use std::path::PathBuf;
use std::sync::Arc;

use portal_ledger::app::{CommandContext, Ledger};
use portal_ledger::backend::{Backend, Migrations, StoreLocation};
use portal_ledger::domain::email::Email;
use portal_ledger::domain::ids::{AccountId, UserId};
use portal_ledger::domain::role::Role;
use portal_ledger::domain::user::{NewUser, Origin};
use portal_ledger::event::{EventType, JsonObject, NewEvent, StreamId};
use portal_ledger::store::{ExpectedVersion, SharedStore, StreamAppend};
use tokio_postgres::NoTls;

pub fn admin_url() -> String {
    std::env::var("PORTAL_LEDGER_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database created for one test and dropped afterwards.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let name = format!("portal_ledger_test_{}", uuid::Uuid::new_v4().simple());
        let admin = admin_client().await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        let base = admin_url();
        let url = match base.rsplit_once('/') {
            Some((prefix, _)) => format!("{prefix}/{name}"),
            None => panic!("admin url has no database part"),
        };
        Self { name, url }
    }

    /// A client connected to the test database as its owner.
    pub async fn owner_client(&self) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(&self.url, NoTls)
            .await
            .expect("connect to test database");
        tokio::spawn(conn);
        client
    }
}

async fn admin_client() -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&admin_url(), NoTls)
        .await
        .expect("connect to PostgreSQL (is it running on 127.0.0.1:5432?)");
    tokio::spawn(conn);
    client
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime; use a runtime of our own on
        // another thread.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let admin = admin_client().await;
                let _ = admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            });
        })
        .join();
    }
}

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Embedded,
    Postgres,
}

/// A fresh, migrated store and whatever keeps it alive (clones share the
/// database or directory, which goes away with the last clone).
#[derive(Clone)]
pub struct TestStore {
    pub backend: Backend,
    pub store: SharedStore,
    /// The process's one sealer of personal data (share it like the store).
    pub personal: portal_ledger::privacy::SharedPersonalData,
    pub location: StoreLocation,
    pub kind: Kind,
    pub database: Option<Arc<TestDatabase>>,
    pub dir: Option<Arc<tempfile::TempDir>>,
}

impl TestStore {
    /// The read models of this store, following the log live (the start
    /// most projection tests share).
    pub async fn live_projections(&self) -> Arc<portal_ledger::projection::runner::Projections> {
        let target = portal_ledger::backend::open_projections(&self.location, Migrations::Apply)
            .await
            .unwrap();
        let projections = portal_ledger::projection::runner::Projections::new(
            self.store.clone(),
            self.personal.clone(),
            target,
        );
        projections.start();
        projections
    }

    pub async fn new(kind: Kind) -> Self {
        let (location, database, dir) = match kind {
            Kind::Embedded => {
                let dir = tempfile::tempdir().expect("tempdir");
                let location = StoreLocation::Embedded {
                    data_dir: dir.path().to_path_buf(),
                };
                (location, None, Some(Arc::new(dir)))
            }
            Kind::Postgres => {
                let db = TestDatabase::create().await;
                let location = StoreLocation::Postgres {
                    url: db.url.clone(),
                };
                (location, Some(Arc::new(db)), None)
            }
        };
        let backend = Backend::open(&location, Migrations::Apply)
            .await
            .expect("open store");
        let store = backend.shared();
        let personal = backend.personal_data();
        Self {
            backend,
            store,
            personal,
            location,
            kind,
            database,
            dir,
        }
    }

    /// Opens the same store again (as a restarted process would).
    pub async fn reopen(&self) -> Backend {
        Backend::open(&self.location, Migrations::Apply)
            .await
            .expect("reopen store")
    }

    /// `--database-url` / `--data-dir` arguments for the CLI.
    pub fn cli_args(&self) -> Vec<String> {
        match &self.location {
            StoreLocation::Embedded { data_dir } => {
                vec!["--data-dir".into(), path_arg(data_dir)]
            }
            StoreLocation::Postgres { url } => vec!["--database-url".into(), url.clone()],
        }
    }
}

fn path_arg(p: &std::path::Path) -> String {
    PathBuf::from(p).display().to_string()
}

/// Runs a test body against both backends as two `#[tokio::test]`s.
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn embedded() {
                let store = support::TestStore::new(support::Kind::Embedded).await;
                let keep = store.clone();
                ($body)(store).await;
                drop(keep);
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let store = support::TestStore::new(support::Kind::Postgres).await;
                let keep = store.clone();
                ($body)(store).await;
                drop(keep);
            }
        }
    };
}

pub fn stream(name: &str) -> StreamId {
    StreamId::parse(name).expect("stream id")
}

pub fn event(kind: &str, payload: serde_json::Value) -> NewEvent {
    NewEvent::new(
        EventType::parse(kind).expect("event type"),
        JsonObject::from_value("payload", &payload).expect("payload"),
    )
}

pub fn append_one(name: &str, expected: ExpectedVersion, new: NewEvent) -> Vec<StreamAppend> {
    vec![StreamAppend::new(stream(name), expected, vec![new])]
}

/// Appends `n` events to `n` new streams, one append each.
pub async fn fill(store: &SharedStore, n: usize) {
    for i in 0..n {
        store
            .append(append_one(
                &format!("user-{i}-{}", uuid::Uuid::now_v7().simple()),
                ExpectedVersion::NoStream,
                event(
                    "user.invited",
                    serde_json::json!({ "n": i, "email": format!("u{i}@example.com") }),
                ),
            ))
            .await
            .expect("append");
    }
}

/// Creates a direct user of `account` as the system, named by its address;
/// returns its id. Fixtures made through the ledger, without HTTP.
pub async fn user_in(ledger: &Ledger, account: AccountId, email: &str, role: Role) -> UserId {
    let new = NewUser {
        user_id: UserId(uuid::Uuid::now_v7()),
        email: Email::parse(email).unwrap(),
        name: email.into(),
        role,
        origin: Origin::Direct,
        invitation: None,
    };
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

/// How long a test waits for the projections to reach a position: a
/// generous bound for an unoptimized build on a loaded machine (the
/// service's own `?position=` wait is 5 s, too short after large appends).
pub const PROJECTION_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// How close to the next UTC midnight a test that counts "today's" activity
/// may start (a generous bound on how long such a test runs on a loaded
/// machine).
pub const MIDNIGHT_MARGIN: std::time::Duration = std::time::Duration::from_secs(120);

/// Waits until the next UTC midnight has passed if it is less than
/// [`MIDNIGHT_MARGIN`] away, so a test whose events must all fall on one UTC
/// day (digests count the day before the moment they run) never straddles
/// midnight.
pub async fn clear_of_utc_midnight() {
    let now = chrono::Utc::now();
    let next_midnight = (now.date_naive() + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    let left = (next_midnight - now)
        .to_std()
        .unwrap_or(std::time::Duration::ZERO);
    if left < MIDNIGHT_MARGIN {
        // Until the wall clock has turned (a second past, to be sure).
        while chrono::Utc::now() <= next_midnight {
            let left = (next_midnight - chrono::Utc::now())
                .to_std()
                .unwrap_or(std::time::Duration::ZERO);
            tokio::time::sleep(left + std::time::Duration::from_secs(1)).await;
        }
    }
}
