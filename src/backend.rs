//! Choosing and opening a store from the command line or the environment.
//!
//! `DATABASE_URL=postgres://…` (or `--database-url`) selects PostgreSQL;
//! otherwise the embedded store lives in `--data-dir` (default `./data`).

use std::path::PathBuf;
use std::sync::Arc;

use crate::auth::credentials::SharedCredentials;
use crate::idempotency::SharedIdempotency;
use crate::projection::postgres::PgProjections;
use crate::projection::sqlite::SqliteProjections;
use crate::projection::{ProjectionError, ProjectionStore};
use crate::store::import::BulkImport;
use crate::store::postgres::{self, PgStore};
use crate::store::sqlite::SqliteStore;
use crate::store::{SharedStore, StoreError};

/// Where the log lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    Embedded { data_dir: PathBuf },
    Postgres { url: String },
}

impl StoreLocation {
    /// PostgreSQL when a URL is given, the embedded store otherwise.
    pub fn choose(database_url: Option<String>, data_dir: PathBuf) -> Self {
        match database_url.filter(|u| !u.trim().is_empty()) {
            Some(url) => StoreLocation::Postgres { url },
            None => StoreLocation::Embedded { data_dir },
        }
    }

    /// A description for logs that never includes a password.
    pub fn describe(&self) -> String {
        match self {
            StoreLocation::Embedded { data_dir } => {
                format!("embedded store in {}", data_dir.display())
            }
            StoreLocation::Postgres { url } => {
                let host = url.rsplit_once('@').map_or(url.as_str(), |(_, rest)| rest);
                format!("postgres {host}")
            }
        }
    }
}

/// Whether opening a store applies pending migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migrations {
    Apply,
    Skip,
}

/// An open store of either kind.
#[derive(Clone)]
pub enum Backend {
    Embedded(SqliteStore),
    Postgres(PgStore),
}

impl Backend {
    /// Opens the store. The embedded store always migrates itself (it is its
    /// own database); PostgreSQL migrates only when asked, because the
    /// service's production role may only INSERT and SELECT.
    pub async fn open(
        location: &StoreLocation,
        migrations: Migrations,
    ) -> Result<Self, StoreError> {
        match location {
            StoreLocation::Embedded { data_dir } => {
                Ok(Backend::Embedded(SqliteStore::open(data_dir).await?))
            }
            StoreLocation::Postgres { url } => {
                if migrations == Migrations::Apply {
                    postgres::migrate(url).await?;
                }
                Ok(Backend::Postgres(PgStore::connect(url).await?))
            }
        }
    }

    pub fn shared(&self) -> SharedStore {
        match self {
            Backend::Embedded(s) => Arc::new(s.clone()),
            Backend::Postgres(s) => Arc::new(s.clone()),
        }
    }

    /// The password store beside the log.
    pub fn credentials(&self) -> SharedCredentials {
        match self {
            Backend::Embedded(s) => Arc::new(s.clone()),
            Backend::Postgres(s) => Arc::new(s.clone()),
        }
    }

    /// The log's Merkle tree, its nodes kept beside the log.
    pub fn merkle_tree(&self) -> crate::integrity::merkle_store::MerkleTree {
        let nodes: crate::integrity::merkle_store::SharedMerkleNodes = match self {
            Backend::Embedded(s) => Arc::new(s.clone()),
            Backend::Postgres(s) => Arc::new(s.clone()),
        };
        crate::integrity::merkle_store::MerkleTree::new(self.shared(), nodes)
    }

    /// The per-person keys beside the log (crypto-shredding).
    pub fn personal_keys(&self) -> crate::privacy::keys::SharedKeys {
        match self {
            Backend::Embedded(s) => Arc::new(s.clone()),
            Backend::Postgres(s) => Arc::new(s.clone()),
        }
    }

    /// Sealing and opening of personal data with this store's keys; make
    /// one per process and share it (it caches keys, and a purge evicts
    /// them from its cache).
    pub fn personal_data(&self) -> crate::privacy::SharedPersonalData {
        crate::privacy::PersonalData::new(self.personal_keys())
    }

    /// The remembered answers of `Idempotency-Key` requests.
    pub fn idempotency(&self) -> SharedIdempotency {
        match self {
            Backend::Embedded(s) => Arc::new(s.clone()),
            Backend::Postgres(s) => Arc::new(s.clone()),
        }
    }

    pub fn bulk(&self) -> &dyn BulkImport {
        match self {
            Backend::Embedded(s) => s,
            Backend::Postgres(s) => s,
        }
    }
}

/// Opens the projection store that goes with `location`: a second SQLite
/// file in the data directory, or tables beside `events` in PostgreSQL.
pub async fn open_projections(
    location: &StoreLocation,
    migrations: Migrations,
) -> Result<Arc<dyn ProjectionStore>, ProjectionError> {
    match location {
        StoreLocation::Embedded { data_dir } => {
            Ok(Arc::new(SqliteProjections::open(data_dir).await?))
        }
        StoreLocation::Postgres { url } => {
            if migrations == Migrations::Apply {
                PgProjections::migrate(url).await?;
            }
            Ok(Arc::new(PgProjections::connect(url).await?))
        }
    }
}
