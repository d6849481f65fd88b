//! The `portal-ledger` binary: see `portal_ledger::cli`.
//!
//! Why mimalloc: a rebuild decodes millions of events into short-lived
//! rows on every core, and glibc's allocator spent about a tenth of the
//! machine's CPU in `malloc`/`free` doing it (perf, 10 M-event rebuild).

use std::process::ExitCode;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    portal_ledger::cli::main().await
}
