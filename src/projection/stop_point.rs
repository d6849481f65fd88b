//! A projector process that stops itself with a batch in hand, for the
//! worker tests.
//!
//! Why: the fence of a commit (lease token + checkpoint compare-and-set)
//! matters only for a process that resumes after losing its lease while
//! holding a batch it has applied but not committed. A SIGSTOP sent from
//! outside lands at a random moment — usually between batches, where there
//! is nothing to fence — so a test could not fail if the fence were gone.
//! With `PORTAL_LEDGER_STOP_BEFORE_COMMIT=<projector>` in its environment, a
//! process sends itself SIGSTOP once, right before committing the first
//! live batch of that projector that changes rows; with
//! `<projector>:in-transaction`, inside that commit's transaction, after
//! its statements ran and before `COMMIT` (holding the locks of its lease
//! rows). The test resumes it (SIGCONT) after another process took the
//! projector over. Unset (as in production), this is one environment
//! lookup per process.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// The environment variable naming the projector to stop at.
pub const STOP_BEFORE_COMMIT: &str = "PORTAL_LEDGER_STOP_BEFORE_COMMIT";

/// Where a process may stop itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopPoint {
    /// Before a live batch's commit begins.
    BeforeCommit,
    /// Inside the commit's transaction, before `COMMIT`.
    InTransaction,
}

/// The projector and place named by the environment, if any.
fn target() -> Option<&'static (String, StopPoint)> {
    static TARGET: OnceLock<Option<(String, StopPoint)>> = OnceLock::new();
    TARGET
        .get_or_init(|| {
            let value = std::env::var(STOP_BEFORE_COMMIT).ok()?;
            Some(match value.split_once(':') {
                Some((projector, "in-transaction")) => {
                    (projector.to_owned(), StopPoint::InTransaction)
                }
                _ => (value, StopPoint::BeforeCommit),
            })
        })
        .as_ref()
}

/// Stops this process (SIGSTOP) the first time it reaches `point` for the
/// named projector; returns when the process is continued.
pub fn reached(point: StopPoint, projector: &str) {
    static FIRED: AtomicBool = AtomicBool::new(false);
    let Some((target, at)) = target() else {
        return;
    };
    if target != projector || *at != point || FIRED.swap(true, Ordering::SeqCst) {
        return;
    }
    tracing::warn!(
        projector,
        ?point,
        "stopping this process before a commit ({STOP_BEFORE_COMMIT} is set)"
    );
    // `kill` delivers SIGSTOP to this process; this thread stops with it
    // and carries on from here after SIGCONT.
    let stopped = std::process::Command::new("kill")
        .args(["-STOP", &std::process::id().to_string()])
        .status();
    if let Err(e) = stopped {
        tracing::warn!(error = %e, "could not stop this process");
    }
}
