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
//! live batch of that projector that changes rows; the test resumes it
//! (SIGCONT) after another process took the projector over. Unset (as in
//! production), this is one environment lookup per process.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// The environment variable naming the projector to stop at.
pub const STOP_BEFORE_COMMIT: &str = "PORTAL_LEDGER_STOP_BEFORE_COMMIT";

/// Stops this process (SIGSTOP) the first time it is called for the named
/// projector; returns when the process is continued.
pub(super) fn before_live_commit(projector: &str) {
    static TARGET: OnceLock<Option<String>> = OnceLock::new();
    static FIRED: AtomicBool = AtomicBool::new(false);
    let target = TARGET.get_or_init(|| std::env::var(STOP_BEFORE_COMMIT).ok());
    if target.as_deref() != Some(projector) || FIRED.swap(true, Ordering::SeqCst) {
        return;
    }
    tracing::warn!(
        projector,
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
