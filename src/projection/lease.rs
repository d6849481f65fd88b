//! Leases: at most one process applies a projector to a database at a time.
//!
//! Why: production runs several `serve` and `project` processes against one
//! PostgreSQL database, and two processes applying the same events would
//! count every comment, seat and admin twice. Two mechanisms, each enough to
//! keep the read models exact, together enough to keep them fast:
//!
//! * a **lease row** per projector (`projection_leases`): a holder, an
//!   expiry (renewed every third of its length) and a **fencing token** that
//!   grows at every change of holder. Failover: when a holder dies, its lease
//!   expires and another process takes it within one lease length plus one
//!   retry interval.
//! * a **fenced commit**: every batch commits only if, in the same
//!   transaction, the lease row still carries the batch's token and has not
//!   expired by the database's clock, *and* the checkpoint still is the
//!   position the batch started from (compare-and-set). A process paused past
//!   its lease (SIGSTOP, a long GC pause elsewhere, a network partition)
//!   wakes up to a refused commit, never a double application.
//!
//! The embedded store is one process by nature: `serve` and `project` take an
//! exclusive lock on the data directory ([`DataDirLock`]), and the same lease
//! rows and fenced commits run inside its SQLite file.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use thiserror::Error;

/// How long a lease lasts unless renewed (`--lease-seconds`).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(5);

/// Proof that this process may apply `projector` now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub projector: String,
    pub holder: String,
    pub token: i64,
}

/// Whether acquiring may take a lease that another process still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takeover {
    /// Only a free or expired lease (a worker starting or failing over).
    IfFree,
    /// Also a live one, fencing its holder (a rebuild that must swap tables
    /// under a serving system); the holder takes it back once released.
    Preempt,
}

/// A projector's row in the database: its checkpoint and its lease.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ProjectorRow {
    pub projector: String,
    /// The last position applied.
    pub position: u64,
    /// The process holding the lease, while it is live.
    pub holder: Option<String>,
    pub token: i64,
    /// When the live lease ends unless renewed.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Why the holder cannot advance (position and error), if it cannot.
    pub failure: Option<String>,
}

/// A name for this process, unique across hosts and restarts:
/// `host/pid/random`.
pub fn process_holder() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}/{}/{}", std::process::id(), &random[..8])
}

/// Why the embedded data directory could not be locked.
#[derive(Debug, Error)]
pub enum DataDirLockError {
    #[error(
        "another portal-ledger process (serve or project) is running on the data directory {} \
         (it holds {}); the embedded store is single-process: stop it first, or use PostgreSQL \
         to run several processes (read-only commands such as head, verify and export work beside it)",
        .dir.display(), .lock.display()
    )]
    Held { dir: PathBuf, lock: PathBuf },
    #[error("cannot lock {}: {source}", .lock.display())]
    Io {
        lock: PathBuf,
        source: std::io::Error,
    },
}

/// The exclusive lock of `serve` and `project` on an embedded data
/// directory, held until dropped (the operating system releases it when the
/// process dies, however it dies).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// File name of the lock inside the data directory.
pub const LOCK_FILE: &str = "projectors.lock";

impl DataDirLock {
    pub fn acquire(data_dir: &Path) -> Result<Self, DataDirLockError> {
        let lock = data_dir.join(LOCK_FILE);
        let io = |source| DataDirLockError::Io {
            lock: lock.clone(),
            source,
        };
        std::fs::create_dir_all(data_dir).map_err(io)?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(DataDirLockError::Held {
                dir: data_dir.to_path_buf(),
                lock,
            }),
            Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_directory_is_locked_once() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        let second = DataDirLock::acquire(dir.path()).unwrap_err();
        assert!(matches!(second, DataDirLockError::Held { .. }), "{second}");
        assert!(second.to_string().contains("single-process"));
        drop(first);
        DataDirLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn holders_differ_per_process_start() {
        assert_ne!(process_holder(), process_holder());
        assert_eq!(process_holder().split('/').count(), 3);
    }
}
