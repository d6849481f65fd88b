//! The `portal-ledger` binary: see `portal_ledger::cli`.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    portal_ledger::cli::main().await
}
