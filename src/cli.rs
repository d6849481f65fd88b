//! The command line: `serve`, `migrate`, `verify`, `head`, `export`,
//! `import`, `rebuild`, `digests`, `purge` and the rest. Each command is a thin shell around a library function, so
//! tests exercise the same code without spawning processes.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use thiserror::Error;

use crate::app::sessions::{Auth, AuthError};
use crate::app::Ledger;
use crate::backend::{open_projections, Backend, Migrations, StoreLocation};
use crate::domain::email::Email;
use crate::http::{router, AppState};
use crate::integrity::checkpoint::{append_checkpoint, CheckpointSigner, PublicKey};
use crate::integrity::offline::{verify_export, OfflineOptions};
use crate::integrity::verify_store_with_checkpoints;
use crate::integrity::witness::{check_against, Witness};
use crate::integrity::{verify_store, ExpectedHead, VerifyError};
use crate::projection::read_models::ReadModels;
use crate::projection::runner::{Projections, RebuildOptions, RunnerOptions};
use crate::projection::ProjectionError;
use crate::store::StoreError;
use crate::telemetry::logs::LogFormat;
use crate::transfer::export::{export_ndjson, ExportError};
use crate::transfer::import::{import_ndjson, ImportError};
use crate::transfer::keys::{export_keys, import_keys};
use chrono::Utc;

#[derive(Debug, Parser)]
#[command(
    name = "portal-ledger",
    version,
    about = "Event-sourced, audit-first backend for partner portals"
)]
pub struct Cli {
    /// PostgreSQL URL (postgres://user@host/db). Selects PostgreSQL instead of
    /// the embedded store.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Directory of the embedded store (used when no database URL is given).
    #[arg(
        long,
        env = "PORTAL_LEDGER_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// Log output: `text` (human-readable lines) or `json` (one object per
    /// line with the fields of the event and its spans, for log shippers).
    #[arg(
        long,
        env = "PORTAL_LEDGER_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text,
        global = true
    )]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve HTTP: the API under /v1, /healthz, /readyz, /metrics.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "PORTAL_LEDGER_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Do not apply PostgreSQL migrations at start (for a role that may
        /// only INSERT and SELECT; run `migrate` as the owner instead).
        #[arg(long)]
        no_migrate: bool,
        #[command(flatten)]
        signing: SigningKeyArgs,
        /// Seconds between signed checkpoints (with a signing key).
        #[arg(long, env = "PORTAL_LEDGER_CHECKPOINT_EVERY", default_value_t = 3600)]
        checkpoint_every: u64,
        #[command(flatten)]
        retention: RetentionArgs,
        /// Serve reads and commands only; `project` processes keep the
        /// read models (PostgreSQL).
        #[arg(long)]
        no_projectors: bool,
        #[command(flatten)]
        leases: LeaseArgs,
        /// Commands and sign-ins a second each client address and each
        /// credential may send (0: no limit); over it: 429 `rate_limited`.
        #[arg(long, env = "PORTAL_LEDGER_RATE_PER_SECOND", default_value_t = 20)]
        rate_per_second: u32,
        /// How many of them may come at once.
        #[arg(long, env = "PORTAL_LEDGER_RATE_BURST", default_value_t = 40)]
        rate_burst: u32,
    },
    /// Run projectors without HTTP (all when none is named): each applies
    /// its projector while this process holds its lease, and takes it over
    /// when its holder stops or dies. Any number of `project` and `serve`
    /// processes may run against one PostgreSQL database.
    Project {
        /// Projectors to run (all when none is named).
        names: Vec<String>,
        /// Do not apply PostgreSQL migrations at start.
        #[arg(long)]
        no_migrate: bool,
        #[command(flatten)]
        leases: LeaseArgs,
    },
    /// Inspect the read models.
    Projections {
        #[command(subcommand)]
        command: ProjectionsCommand,
    },
    /// Create an Ed25519 checkpoint signing key: the secret seed goes to
    /// FILE (created, owner-only), the public key to standard output.
    Keygen {
        #[arg(long)]
        out: PathBuf,
    },
    /// Append a signed checkpoint of the current head, and hand it to the
    /// witnesses.
    Checkpoint {
        #[command(flatten)]
        signing: SigningKeyArgs,
    },
    /// Run an HTTP witness: keeps the checkpoints posted to
    /// `http://LISTEN/checkpoints` in an append-only directory and answers
    /// the latest at `/checkpoints/latest`.
    Witness {
        /// The directory the checkpoints are kept in.
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8099")]
        listen: std::net::SocketAddr,
        /// Refuse checkpoints that do not verify with this key.
        #[arg(long)]
        public_key: Option<String>,
    },
    /// Print the Merkle proof (JSON, as `GET /v1/proofs/inclusion`) that
    /// the entry at POSITION is in the log of SIZE entries (default: the
    /// head), with the signed checkpoint of that size if there is one.
    ProveInclusion {
        #[arg(long)]
        position: u64,
        #[arg(long)]
        size: Option<u64>,
    },
    /// Print the Merkle proof (JSON, as `GET /v1/proofs/consistency`) that
    /// the log of FROM entries is a prefix of the log of TO (default: the
    /// head).
    ProveConsistency {
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: Option<u64>,
    },
    /// Check a proof file offline (no database): the proof against its
    /// roots and, with the public key, the signed checkpoints that commit to
    /// them; `--entry` also recomputes the hash of the entry's exported line.
    #[command(group(
        clap::ArgGroup::new("proof_signatures")
            .required(true)
            .args(["public_key", "no_signatures"])
    ))]
    VerifyProof {
        /// The proof (`-`: standard input).
        file: PathBuf,
        /// The operator's public key (64 hex digits).
        #[arg(long, env = "PORTAL_LEDGER_PUBLIC_KEY")]
        public_key: Option<String>,
        /// Check the proof against its own roots only.
        #[arg(long)]
        no_signatures: bool,
        /// The entry's exported line (a file holding one NDJSON line).
        #[arg(long)]
        entry: Option<PathBuf>,
    },
    /// Export one account's events (with `--with-customers`, also of the
    /// organizations it is the parent of) up to the latest signed
    /// checkpoint, with the proof that none is missing (see
    /// `verify-tenant-export`).
    ExportTenant {
        #[arg(long)]
        account: String,
        #[arg(long)]
        with_customers: bool,
        /// The file to write (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Check a tenant export offline: the checkpoint's signature, each
    /// account's leaf in the signed accounts tree, every entry's hash, and
    /// that the entries are exactly those the checkpoint commits to.
    #[command(group(
        clap::ArgGroup::new("tenant_signatures")
            .required(true)
            .args(["public_key", "no_signatures"])
    ))]
    VerifyTenantExport {
        file: PathBuf,
        #[arg(long, env = "PORTAL_LEDGER_PUBLIC_KEY")]
        public_key: Option<String>,
        /// Do not check the checkpoint's signature.
        #[arg(long)]
        no_signatures: bool,
    },
    /// Check an export file alone (no database): the chain and every
    /// signed checkpoint; exit 1 naming the first bad line. A public key is
    /// required, or `--no-signatures` to check the chain alone (which a
    /// rewritten and consistently re-hashed log passes).
    #[command(group(
        clap::ArgGroup::new("signatures")
            .required(true)
            .args(["public_key", "no_signatures"])
    ))]
    VerifyExport {
        /// The export (`-` or nothing: standard input).
        file: Option<PathBuf>,
        /// The operator's public key (64 hex digits, from `keygen` or
        /// `/v1/checkpoints/public-key`).
        #[arg(long, env = "PORTAL_LEDGER_PUBLIC_KEY")]
        public_key: Option<String>,
        /// Check the chain alone, not the signed checkpoints: says nothing
        /// about a log rewritten and re-hashed as a whole.
        #[arg(long)]
        no_signatures: bool,
        /// A head pinned earlier, as POSITION:HASH (e.g. a checkpoint's).
        #[arg(long)]
        expect_head: Option<ExpectedHead>,
        /// Pin the head of the latest checkpoint this witness holds (its
        /// signature checked with the public key): a file cut before it
        /// fails as truncated.
        #[arg(long, conflicts_with = "expect_head")]
        witness: Option<Witness>,
        /// Accept events after the last signed checkpoint.
        #[arg(long)]
        allow_unattested_tail: bool,
    },
    /// Apply pending schema migrations.
    Migrate,
    /// On an empty store: create the platform account and its first admin,
    /// and print a one-time password for them.
    Bootstrap {
        /// The platform admin's e-mail address.
        #[arg(long)]
        email: String,
    },
    /// Recompute the hash chain and check positions and versions; exit 1 and
    /// name the first bad position on any difference.
    Verify {
        /// A head printed earlier by `head`, as POSITION:HASH; fails if the
        /// log no longer reaches it (a truncated tail) or differs there.
        #[arg(long)]
        expect_head: Option<ExpectedHead>,
        /// Also check every signed checkpoint with this public key (64 hex
        /// digits).
        #[arg(
            long = "checkpoints",
            value_name = "PUBLIC_KEY",
            env = "PORTAL_LEDGER_PUBLIC_KEY"
        )]
        checkpoints: Option<String>,
        /// Also check the log against the latest checkpoint each witness
        /// holds (repeatable): a log that no longer reaches it, or differs
        /// there, fails.
        #[arg(long = "witness")]
        witnesses: Vec<Witness>,
    },
    /// Print the last position and hash (POSITION:HASH on the first line,
    /// then the head as JSON).
    Head,
    /// Write the log as NDJSON, one event per line.
    Export {
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        /// First position to export.
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// Also write the per-person keys to this file (moving a store to
        /// another backend needs them; an auditor's copy must not get them).
        #[arg(long)]
        keys: Option<PathBuf>,
    },
    /// Rebuild the named projections (all when none is named) from the log
    /// into copies of their tables while the live ones keep serving, then
    /// swap each in with one transaction. Safe while `serve` runs; an
    /// interrupted rebuild leaves the live tables as they were and the next
    /// one resumes it.
    Rebuild {
        /// Projections to rebuild (all when none is named): accounts, users,
        /// activity, invitations, licenses, servers, tickets, outbox,
        /// sessions, checkpoints, quotes, partner_kit, account_entities.
        names: Vec<String>,
        /// Bring the live projection to the copy's position and compare
        /// digests first; swap only if they are equal (exit 1 naming the
        /// projection and differing rows otherwise).
        #[arg(long)]
        verify: bool,
        #[command(flatten)]
        leases: LeaseArgs,
    },
    /// Write a realistic generated portal as legacy NDJSON (for `import`):
    /// deterministic from the seed, scaled from the reference 50 partners,
    /// 5,000 organizations and 200,000 users per 10,000,000 events.
    Generate {
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[arg(long, default_value_t = 10_000_000)]
        events: u64,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Send the daily / weekly activity digests due now (each once per
    /// user and period; `serve` also does this every hour).
    Digests,
    /// Remind customers' admins of partner grants ending in 7 days and 1
    /// day, and record the grants whose end passed (each once; `serve`
    /// also does this every hour).
    PartnerGrants,
    /// Purge every deleted user whose retention period is over (their
    /// personal data becomes unreadable; the log still verifies); prints
    /// how many were purged. `serve` also does this every hour.
    Purge {
        #[command(flatten)]
        retention: RetentionArgs,
    },
    /// Append an NDJSON export or a legacy history, all or nothing.
    Import {
        /// Input file; `-` or nothing reads standard input.
        file: Option<PathBuf>,
        /// Per-person keys written by `export --keys` (stored first).
        #[arg(long)]
        keys: Option<PathBuf>,
    },
}

/// What `projections` does.
#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Every projector's position, lag, the process holding its lease, and
    /// why it cannot advance if it cannot; exit 1 if one cannot.
    Status,
    /// An order-independent digest of each projection's rows (all when
    /// none is named): of the live tables at their checkpoint, or with
    /// `--at` of the projection as it was at that position (built from the
    /// log into a scratch copy). Equal digests: equal rows.
    Checksum {
        names: Vec<String>,
        #[arg(long)]
        at: Option<u64>,
    },
}

/// Projector leases (see `src/projection/lease.rs`).
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct LeaseArgs {
    /// Seconds a projector lease lasts unless renewed: when a process dies,
    /// another takes its projectors over after about this long.
    #[arg(
        long,
        env = "PORTAL_LEDGER_LEASE_SECONDS",
        default_value_t = 5.0,
        value_parser = parse_lease_seconds
    )]
    lease_seconds: f64,
}

fn parse_lease_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if (0.2..=3600.0).contains(&s) => Ok(s),
        _ => Err("a lease lasts 0.2 to 3600 seconds".to_owned()),
    }
}

impl LeaseArgs {
    fn options(self) -> RunnerOptions {
        RunnerOptions {
            lease: std::time::Duration::from_secs_f64(self.lease_seconds),
            ..RunnerOptions::default()
        }
    }
}

/// How long a deleted user can be restored before the retention sweep
/// purges them (`serve`, `purge`).
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct RetentionArgs {
    /// Days a deleted user stays restorable; after that they are purged
    /// (0: purge at the next sweep, no restore).
    #[arg(
        long,
        env = "PORTAL_LEDGER_RETENTION_DAYS",
        default_value_t = crate::domain::user::DEFAULT_RETENTION_DAYS as u32,
        value_parser = clap::value_parser!(u32).range(0..=36_500)
    )]
    retention_days: u32,
}

impl RetentionArgs {
    fn duration(self) -> chrono::Duration {
        chrono::Duration::days(i64::from(self.retention_days))
    }
}

/// Where the checkpoint signing key comes from: a file written by `keygen`,
/// or the seed itself in the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct SigningKeyArgs {
    #[arg(long, env = "PORTAL_LEDGER_SIGNING_KEY_FILE")]
    signing_key_file: Option<PathBuf>,
    /// The 32-byte seed in hex (prefer the file: environments leak).
    #[arg(long, env = "PORTAL_LEDGER_SIGNING_KEY", hide_env_values = true)]
    signing_key: Option<String>,
    /// Where each signed checkpoint is also published, outside the
    /// database (repeatable; comma-separated in the environment):
    /// `dir:/path`, `http://host:port/path`, `nats://host:port[/subject]`.
    #[arg(
        long = "witness",
        env = "PORTAL_LEDGER_WITNESSES",
        value_delimiter = ','
    )]
    witnesses: Vec<Witness>,
}

impl SigningKeyArgs {
    fn load(&self) -> Result<Option<CheckpointSigner>, CliError> {
        Ok(match (&self.signing_key_file, &self.signing_key) {
            (Some(path), _) => Some(CheckpointSigner::from_file(path)?),
            (None, Some(hex)) => Some(CheckpointSigner::from_hex(hex)?),
            (None, None) => None,
        })
    }
}

/// Why a command failed.
#[derive(Debug, Error)]
pub enum CliError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("verification failed: {0}")]
    Verify(#[from] VerifyError),
    #[error("export failed: {0}")]
    Export(#[from] ExportError),
    #[error("import refused, nothing was appended: {0}")]
    Import(#[from] ImportError),
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("projections: {0}")]
    Projection(#[from] ProjectionError),
    #[error(transparent)]
    Ledger(#[from] crate::app::LedgerError),
    #[error(transparent)]
    SigningKey(#[from] crate::integrity::checkpoint::KeyError),
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] crate::integrity::checkpoint::CheckpointError),
    #[error("export check failed: {0}")]
    Offline(#[from] crate::integrity::offline::OfflineError),
    #[error("proof: {0}")]
    Merkle(#[from] crate::integrity::merkle_store::MerkleError),
    #[error("tenant export: {0}")]
    TenantExport(#[from] crate::integrity::tenant_export::TenantExportError),
    #[error("tenant export check failed: {0}")]
    TenantCheck(#[from] crate::integrity::tenant_export::TenantCheckError),
    #[error("the checkpoint is in the log, but a witness did not take it: {0}")]
    Witness(String),
    #[error("witness check failed: {0}")]
    Witnessed(#[from] crate::integrity::witness::WitnessError),
    #[error("proof check failed: {0}")]
    ProofCheck(#[from] crate::integrity::proof_check::ProofCheckError),
    #[error(transparent)]
    Generate(#[from] crate::generate::GenerateError),
    #[error("personal keys: {0}")]
    Keys(#[from] crate::transfer::keys::KeyFileError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    DataDirLocked(#[from] crate::projection::lease::DataDirLockError),
    #[error("{0}")]
    Unhealthy(String),
}

/// Parses the arguments, runs the command, and maps the outcome to an exit
/// code (0 success, 1 failure; clap uses 2 for usage errors).
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = crate::telemetry::logs::init(cli.log_format) {
        eprintln!("portal-ledger: {e}");
    }
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portal-ledger: {e}");
            ExitCode::FAILURE
        }
    }
}

pub async fn run(cli: Cli) -> Result<(), CliError> {
    let location = StoreLocation::choose(cli.database_url, cli.data_dir);
    match cli.command {
        Command::Serve {
            listen,
            no_migrate,
            signing,
            checkpoint_every,
            retention,
            no_projectors,
            leases,
            rate_per_second,
            rate_burst,
        } => {
            let signer = signing.load()?.map(Arc::new);
            // Installed before the store opens, so its writer's first
            // batches count.
            crate::telemetry::prometheus::handle();
            let migrations = if no_migrate {
                Migrations::Skip
            } else {
                Migrations::Apply
            };
            let _lock = lock_embedded(&location)?;
            let backend = Backend::open(&location, migrations).await?;
            let personal = backend.personal_data();
            let projections = Projections::with_options(
                backend.shared(),
                personal.clone(),
                open_projections(&location, migrations).await?,
                leases.options(),
            );
            if !no_projectors {
                projections.start();
            }
            let state = crate::service::app_state(
                &backend,
                personal,
                projections,
                crate::service::Settings {
                    retention: Some(retention.duration()),
                    notifier: None,
                    checkpoint_key: signer.as_ref().map(|s| s.public()),
                    rate_limits: Some(crate::http::rate_limit::RateLimits {
                        per_second: rate_per_second,
                        burst: rate_burst,
                    }),
                },
            );
            let ledger = state.ledger.clone();
            spawn_digests(ledger.clone(), state.projections.target().clone());
            spawn_grant_sweeps(ledger.clone(), state.projections.target().clone());
            spawn_purges(ledger);
            if let Some(signer) = &signer {
                spawn_checkpoints(
                    backend.merkle_tree(),
                    signer.clone(),
                    signing.witnesses.clone(),
                    checkpoint_every,
                );
            }
            let projections = state.projections.clone();
            let served = serve(state, listen, &location).await;
            projections.shutdown().await;
            served
        }
        Command::Project {
            names,
            no_migrate,
            leases,
        } => {
            let migrations = if no_migrate {
                Migrations::Skip
            } else {
                Migrations::Apply
            };
            let _lock = lock_embedded(&location)?;
            let backend = Backend::open(&location, migrations).await?;
            let projections = Projections::with_options(
                backend.shared(),
                backend.personal_data(),
                open_projections(&location, migrations).await?,
                leases.options(),
            );
            projections.start_only(&names)?;
            tracing::info!(
                process = projections.holder(),
                store = %location.describe(),
                projectors = %if names.is_empty() { projections.names().join(",") } else { names.join(",") },
                "projecting"
            );
            shutdown_signal().await;
            projections.shutdown().await;
            Ok(())
        }
        Command::Projections {
            command: ProjectionsCommand::Checksum { names, at },
        } => {
            let backend = Backend::open(&location, Migrations::Skip).await?;
            let projections = Projections::new(
                backend.shared(),
                backend.personal_data(),
                open_projections(&location, Migrations::Skip).await?,
            );
            for digest in projections.checksums(&names, at).await? {
                println!("{} {} {}", digest.projector, digest.position, digest.digest);
                for (table, rows, sum) in &digest.tables {
                    eprintln!("  {table}: {rows} rows, sum {sum}");
                }
            }
            Ok(())
        }
        Command::Projections {
            command: ProjectionsCommand::Status,
        } => {
            let backend = Backend::open(&location, Migrations::Skip).await?;
            let projections = Projections::new(
                backend.shared(),
                backend.personal_data(),
                open_projections(&location, Migrations::Skip).await?,
            );
            let status = projections.status().await?;
            println!(
                "{:<18} {:>10} {:>10} {:>9}  holder / failure",
                "projector", "position", "lag", "lag (s)"
            );
            let mut failing = Vec::new();
            for p in &status {
                println!(
                    "{:<18} {:>10} {:>10} {:>9.1}  {}{}",
                    p.projector,
                    p.position,
                    p.lag_events,
                    p.lag_seconds,
                    p.holder.as_deref().unwrap_or("-"),
                    p.failure
                        .as_deref()
                        .map(|f| format!("  FAILING at {f}"))
                        .unwrap_or_default()
                );
                if p.failure.is_some() {
                    failing.push(p.projector.clone());
                }
            }
            if failing.is_empty() {
                Ok(())
            } else {
                Err(CliError::Unhealthy(format!(
                    "projectors that cannot advance: {}",
                    failing.join(", ")
                )))
            }
        }
        Command::Migrate => {
            Backend::open(&location, Migrations::Apply).await?;
            open_projections(&location, Migrations::Apply).await?;
            eprintln!("migrations applied ({})", location.describe());
            Ok(())
        }
        Command::Bootstrap { email } => {
            let email = Email::parse(&email).map_err(|e| CliError::Usage(e.to_string()))?;
            let backend = Backend::open(&location, Migrations::Apply).await?;
            let auth = Auth::new(
                Ledger::new(backend.shared(), backend.personal_data()),
                backend.credentials(),
            );
            let (account, user, password) = auth.bootstrap(&email, Utc::now()).await?;
            println!("platform account {account}");
            println!("platform admin   {user} <{email}>");
            println!("one-time password: {}", password.expose());
            eprintln!("sign in with it and change it; it is not shown again");
            Ok(())
        }
        Command::Verify {
            expect_head,
            checkpoints,
            witnesses,
        } => {
            let backend = Backend::open(&location, Migrations::Skip).await?;
            let store = backend.shared();
            let total = store.head().await?.position;
            let bar = progress_bar(total, "verifying");
            let checkpoints_key = checkpoints.clone();
            match checkpoints {
                None => {
                    let verified = verify_store(store, expect_head, |p| bar.set_position(p)).await;
                    bar.finish_and_clear();
                    let verified = verified?;
                    println!(
                        "ok: {} events, chain intact, head {}:{}",
                        verified.events, verified.events, verified.last_hash
                    );
                }
                Some(key) => {
                    let public = PublicKey::from_hex(&key)?;
                    let verified = verify_store_with_checkpoints(store, expect_head, public, |p| {
                        bar.set_position(p)
                    })
                    .await;
                    bar.finish_and_clear();
                    let (verified, checkpoints) = verified?;
                    println!(
                        "ok: {} events, chain intact, head {}:{}; {} signed checkpoints valid \
                         (key {}), the last attesting position {}, {} events after it",
                        verified.events,
                        verified.events,
                        verified.last_hash,
                        checkpoints.checked,
                        public.key_id(),
                        checkpoints.attested,
                        checkpoints.unattested
                    );
                }
            }
            let public = checkpoints_key
                .as_deref()
                .map(PublicKey::from_hex)
                .transpose()?;
            let tree = backend.merkle_tree();
            for witness in &witnesses {
                match check_against(witness, &tree, public.as_ref()).await? {
                    Some(head) => println!(
                        "ok: witness {witness} holds the checkpoint of position {head}, and the log agrees"
                    ),
                    None => println!("witness {witness} holds no checkpoint yet"),
                }
            }
            Ok(())
        }
        Command::Keygen { out } => {
            let signer = CheckpointSigner::generate()?;
            write_secret_file(&out, &signer.seed_hex())?;
            eprintln!(
                "signing key written to {} (keep it secret; key id {})",
                out.display(),
                signer.public().key_id()
            );
            println!("{}", signer.public().to_hex());
            Ok(())
        }
        Command::Checkpoint { signing } => {
            let signer = signing.load()?.ok_or_else(|| {
                CliError::Usage(
                    "no signing key: pass --signing-key-file (or set PORTAL_LEDGER_SIGNING_KEY_FILE)"
                        .into(),
                )
            })?;
            let backend = Backend::open(&location, Migrations::Skip).await?;
            let appended = append_checkpoint(&backend.merkle_tree(), &signer).await?;
            let mut unwitnessed = Vec::new();
            for witness in &signing.witnesses {
                if let Err(e) = witness.publish(&appended.carried()).await {
                    unwitnessed.push(e.to_string());
                }
            }
            println!(
                "{}:{}",
                appended.payload.head_position, appended.payload.head_hash
            );
            eprintln!(
                "checkpoint at position {} signs head {}:{} (key {})",
                appended.position,
                appended.payload.head_position,
                appended.payload.head_hash,
                appended.payload.key_id
            );
            if unwitnessed.is_empty() {
                Ok(())
            } else {
                Err(CliError::Witness(unwitnessed.join("; ")))
            }
        }
        Command::Witness {
            dir,
            listen,
            public_key,
        } => {
            let public = public_key.as_deref().map(PublicKey::from_hex).transpose()?;
            let router = crate::integrity::witness_server::router("/checkpoints", dir, public);
            let listener = tokio::net::TcpListener::bind(listen).await?;
            tracing::info!(address = %listener.local_addr()?, "serving the witness at /checkpoints");
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown_signal())
                .await?;
            Ok(())
        }
        Command::ExportTenant {
            account,
            with_customers,
            out,
        } => {
            let backend = Backend::open(&location, Migrations::Skip).await?;
            let report = match out {
                Some(path) => {
                    let mut file = BufWriter::new(File::create(&path)?);
                    crate::integrity::tenant_export::export_tenant(
                        backend.shared(),
                        &account,
                        with_customers,
                        &mut file,
                    )
                    .await?
                }
                None => {
                    let mut stdout = std::io::stdout().lock();
                    crate::integrity::tenant_export::export_tenant(
                        backend.shared(),
                        &account,
                        with_customers,
                        &mut stdout,
                    )
                    .await?
                }
            };
            eprintln!(
                "exported {} events of {} account(s) up to the checkpoint of position {}",
                report.events,
                report.accounts.len(),
                report.checkpoint_head
            );
            Ok(())
        }
        Command::VerifyTenantExport {
            file,
            public_key,
            no_signatures: _,
        } => {
            let public = public_key.as_deref().map(PublicKey::from_hex).transpose()?;
            let input = BufReader::with_capacity(1 << 20, File::open(&file)?);
            let report =
                crate::integrity::tenant_export::verify_tenant_export(input, public.as_ref())?;
            println!(
                "ok: {} entries of {} account(s), exactly those the checkpoint of position {} commits to{}",
                report.events,
                report.accounts.len(),
                report.checkpoint_head,
                if report.signed { "" } else { " (its signature not checked)" }
            );
            Ok(())
        }
        Command::VerifyExport {
            file,
            public_key,
            no_signatures: _,
            expect_head,
            witness,
            allow_unattested_tail,
        } => {
            let public = public_key.as_deref().map(PublicKey::from_hex).transpose()?;
            let expect_head = match witness {
                Some(witness) => {
                    crate::integrity::witness::witnessed_head(&witness, public.as_ref()).await?
                }
                None => expect_head,
            };
            let input: Box<dyn BufRead> = match file {
                Some(path) if path.as_os_str() != "-" => {
                    Box::new(BufReader::with_capacity(1 << 20, File::open(&path)?))
                }
                _ => Box::new(BufReader::new(std::io::stdin())),
            };
            let report = verify_export(
                input,
                public,
                OfflineOptions {
                    expected_head: expect_head,
                    allow_unattested_tail,
                },
            )?;
            println!(
                "ok: {} events, chain intact, head {}:{}; {} signed checkpoints valid, \
                 the last attesting position {}",
                report.events, report.events, report.last_hash, report.checkpoints, report.attested
            );
            if public.is_none() {
                eprintln!(
                    "--no-signatures: the chain is intact, but checkpoints were not checked \
                     (a log rewritten and re-hashed as a whole would pass too)"
                );
            }
            Ok(())
        }
        Command::ProveInclusion { position, size } => {
            let backend = Backend::open(&location, Migrations::Skip).await?;
            let tree = backend.merkle_tree();
            let size = match size {
                Some(size) => size,
                None => backend.shared().head().await?.position,
            };
            let proof = crate::integrity::proofs::prove_inclusion(&tree, position, size).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&proof).unwrap_or_default()
            );
            Ok(())
        }
        Command::ProveConsistency { from, to } => {
            let backend = Backend::open(&location, Migrations::Skip).await?;
            let tree = backend.merkle_tree();
            let to = match to {
                Some(to) => to,
                None => backend.shared().head().await?.position,
            };
            let proof = crate::integrity::proofs::prove_consistency(&tree, from, to).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&proof).unwrap_or_default()
            );
            Ok(())
        }
        Command::VerifyProof {
            file,
            public_key,
            no_signatures: _,
            entry,
        } => {
            let public = public_key.as_deref().map(PublicKey::from_hex).transpose()?;
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&file)?
            };
            let entry = entry.map(std::fs::read_to_string).transpose()?;
            let proved = crate::integrity::proof_check::check_proof(
                &text,
                public.as_ref(),
                entry.as_deref().map(str::trim),
            )?;
            match proved {
                crate::integrity::proof_check::Proved::Included {
                    position,
                    size,
                    signed,
                } => println!(
                    "ok: the entry at position {position} is in the log of {size} entries{}",
                    if signed {
                        " whose root the operator signed"
                    } else {
                        " (signatures not checked)"
                    }
                ),
                crate::integrity::proof_check::Proved::Consistent { from, to, signed } => {
                    println!(
                        "ok: the log of {from} entries is a prefix of the log of {to}{}",
                        if signed {
                            ", both roots signed by the operator"
                        } else {
                            " (signatures not checked)"
                        }
                    )
                }
            }
            Ok(())
        }
        Command::Head => {
            let backend = Backend::open(&location, Migrations::Skip).await?;
            let head = backend.shared().head().await?;
            println!("{}:{}", head.position, head.hash);
            println!("{}", serde_json::to_string(&head).unwrap_or_default());
            Ok(())
        }
        Command::Export { out, from, keys } => {
            let backend = Backend::open(&location, Migrations::Skip).await?;
            if let Some(path) = keys {
                let mut file = BufWriter::new(File::create(&path)?);
                let n = export_keys(backend.personal_keys().as_ref(), &mut file).await?;
                eprintln!("exported {n} personal keys to {}", path.display());
            }
            let store = backend.shared();
            let total = store.head().await?.position;
            match out {
                Some(path) => {
                    let bar = progress_bar(total, "exporting");
                    let mut file = BufWriter::new(File::create(&path)?);
                    let n = export_ndjson(store, from, &mut file, |p| bar.set_position(p)).await?;
                    bar.finish_and_clear();
                    eprintln!("exported {n} events to {}", path.display());
                }
                None => {
                    let mut stdout = BufWriter::new(std::io::stdout().lock());
                    export_ndjson(store, from, &mut stdout, |_| {}).await?;
                    stdout.flush()?;
                }
            }
            Ok(())
        }
        Command::Rebuild {
            names,
            verify,
            leases,
        } => {
            let backend = Backend::open(&location, Migrations::Apply).await?;
            let store = backend.shared();
            let total = store.head().await?.position;
            let projections = Projections::with_options(
                store,
                backend.personal_data(),
                open_projections(&location, Migrations::Apply).await?,
                leases.options(),
            );
            let bar = progress_bar(total, "rebuilding");
            let result = projections
                .rebuild_live(&names, RebuildOptions { verify }, &mut |name, position| {
                    bar.set_message(name.to_owned());
                    bar.set_position(position);
                })
                .await;
            bar.finish_and_clear();
            for rebuilt in result? {
                match rebuilt.digest {
                    Some(digest) => eprintln!(
                        "rebuilt {} up to position {}, verified: digest {} equals the live one",
                        rebuilt.projector, rebuilt.position, digest.digest
                    ),
                    None => eprintln!(
                        "rebuilt {} up to position {}",
                        rebuilt.projector, rebuilt.position
                    ),
                }
            }
            Ok(())
        }
        Command::Generate { seed, events, out } => {
            let scale = crate::generate::Scale::for_events(events);
            let generated = match out {
                Some(path) => {
                    let mut file = BufWriter::with_capacity(1 << 20, File::create(&path)?);
                    crate::generate::generate(seed, scale, &mut file)?
                }
                None => {
                    let mut stdout = BufWriter::new(std::io::stdout().lock());
                    crate::generate::generate(seed, scale, &mut stdout)?
                }
            };
            eprintln!(
                "generated {} events: {} accounts, {} users (seed {seed})",
                generated.events, generated.accounts, generated.users
            );
            Ok(())
        }
        Command::Digests => {
            // Digests count the activity read model.
            let (ledger, read_models) = ledger_over_current_read_models(&location).await?;
            let sent = ledger.send_digests(Utc::now(), &read_models).await?;
            eprintln!("sent {sent} digests");
            Ok(())
        }
        Command::PartnerGrants => {
            // The sweep finds grants in the servers read model.
            let (ledger, read_models) = ledger_over_current_read_models(&location).await?;
            let done = ledger
                .sweep_partner_grants(Utc::now(), &read_models)
                .await?;
            println!(
                "reminded {} admins; {} grants expired",
                done.reminded, done.expired
            );
            Ok(())
        }
        Command::Purge { retention } => {
            let backend = Backend::open(&location, Migrations::Apply).await?;
            let ledger = Ledger::new(backend.shared(), backend.personal_data())
                .with_retention(retention.duration());
            let purged = ledger.purge_due(Utc::now()).await?;
            println!("purged {purged} users");
            Ok(())
        }
        Command::Import { file, keys } => {
            let backend = Backend::open(&location, Migrations::Apply).await?;
            if let Some(path) = keys {
                let mut input = BufReader::new(File::open(&path)?);
                let n = import_keys(backend.personal_keys().as_ref(), &mut input).await?;
                eprintln!("imported {n} personal keys from {}", path.display());
            }
            let (input, size): (Box<dyn BufRead + Send>, Option<u64>) = match file {
                Some(path) if path.as_os_str() != "-" => {
                    let f = File::open(&path)?;
                    let size = f.metadata().ok().map(|m| m.len());
                    (Box::new(BufReader::with_capacity(1 << 20, f)), size)
                }
                _ => (Box::new(BufReader::new(std::io::stdin())), None),
            };
            let bar = match size {
                Some(bytes) => progress_bar(bytes, "importing").with_style(bytes_style()),
                None => ProgressBar::new_spinner(),
            };
            let result = import_ndjson(backend.bulk(), input, |b| bar.set_position(b)).await;
            bar.finish_and_clear();
            let imported = result?;
            eprintln!(
                "imported {} events; head is now position {}",
                imported.events, imported.head
            );
            Ok(())
        }
    }
}

async fn serve(
    state: AppState,
    listen: SocketAddr,
    location: &StoreLocation,
) -> Result<(), CliError> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(address = %listener.local_addr()?, store = %location.describe(), "serving");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

/// Ctrl-C or SIGTERM (what a supervisor sends).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The embedded store's single-process lock (`serve`, `project`); nothing
/// on PostgreSQL, where leases share the projectors out.
fn lock_embedded(
    location: &StoreLocation,
) -> Result<Option<crate::projection::lease::DataDirLock>, CliError> {
    match location {
        StoreLocation::Embedded { data_dir } => Ok(Some(
            crate::projection::lease::DataDirLock::acquire(data_dir)?,
        )),
        StoreLocation::Postgres { .. } => Ok(None),
    }
}

/// A ledger over the store at `location`, and its read models brought up
/// to the log's head first (for the jobs that read them: digests, the
/// partner-grant sweep).
async fn ledger_over_current_read_models(
    location: &StoreLocation,
) -> Result<(Ledger, ReadModels), CliError> {
    let backend = Backend::open(location, Migrations::Apply).await?;
    let personal = backend.personal_data();
    let target = open_projections(location, Migrations::Apply).await?;
    let projections = Projections::new(backend.shared(), personal.clone(), target.clone());
    projections.catch_up_all().await?;
    Ok((Ledger::new(backend.shared(), personal), ReadModels(target)))
}

/// Sends due digests every hour (each digest has a fixed id per user and
/// period, so a restart or a second process never sends one twice).
fn spawn_digests(ledger: Ledger, target: std::sync::Arc<dyn crate::projection::ProjectionStore>) {
    tokio::spawn(async move {
        let source = ReadModels(target);
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match ledger.send_digests(Utc::now(), &source).await {
                Ok(0) => {}
                Ok(sent) => tracing::info!(sent, "digests sent"),
                Err(e) => tracing::warn!(error = %e, "digests failed; retrying in an hour"),
            }
        }
    });
}

/// Reminds of ending partner grants and records expired ones every hour
/// (each reminder has a fixed id, each expiry is decided on the server's
/// stream: a restart or a second process never does either twice).
fn spawn_grant_sweeps(
    ledger: Ledger,
    target: std::sync::Arc<dyn crate::projection::ProjectionStore>,
) {
    tokio::spawn(async move {
        let source = ReadModels(target);
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match ledger.sweep_partner_grants(Utc::now(), &source).await {
                Ok(done) if done == Default::default() => {}
                Ok(done) => tracing::info!(
                    reminded = done.reminded,
                    expired = done.expired,
                    "partner grants swept"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "partner-grant sweep failed; retrying in an hour")
                }
            }
        }
    });
}

/// Purges the users whose retention period is over every hour (a purge is
/// decided on the user's stream, so a restart, a second process or a
/// concurrent restore never purges anyone twice or too early).
fn spawn_purges(ledger: Ledger) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match ledger.purge_due(Utc::now()).await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "users purged after their retention period"),
                Err(e) => tracing::warn!(error = %e, "purge sweep failed; retrying in an hour"),
            }
        }
    });
}

/// Appends a signed checkpoint every `every` seconds.
fn spawn_checkpoints(
    tree: crate::integrity::merkle_store::MerkleTree,
    signer: Arc<CheckpointSigner>,
    witnesses: Vec<Witness>,
    every: u64,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(every.max(1)));
        loop {
            tick.tick().await;
            match append_checkpoint(&tree, &signer).await {
                Ok(appended) => {
                    tracing::info!(
                        position = appended.position,
                        head = appended.payload.head_position,
                        "signed checkpoint"
                    );
                    for witness in &witnesses {
                        if let Err(e) = witness.publish(&appended.carried()).await {
                            tracing::warn!(error = %e, "a witness did not take the checkpoint");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "checkpoint failed; trying again later"),
            }
        }
    });
}

/// Writes a secret to a new file only its owner may read.
fn write_secret_file(path: &std::path::Path, text: &str) -> Result<(), CliError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    writeln!(file, "{text}")?;
    Ok(())
}

/// A progress bar on standard error; indicatif hides it when standard
/// error is not a terminal.
fn progress_bar(total: u64, label: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} events ({per_sec}, {eta})")
    {
        bar.set_style(style);
    }
    bar.set_message(label);
    bar
}

fn bytes_style() -> ProgressStyle {
    ProgressStyle::with_template("{msg} {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}
