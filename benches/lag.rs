//! Live lag: under a steady load of commands over HTTP, how long from an
//! append's commit until every projection shows it; and the server's
//! resident memory meanwhile.
//!
//! Imports a generated portal of `LAG_EVENTS` events (default 100,000) into
//! a fresh PostgreSQL database, rebuilds its projections (as after any
//! import), starts the real `portal-ledger serve` (this
//! build's binary) on it, signs in as one of its platform admins, then sends
//! `LAG_RATE` commands per second (default 500; server actions on the
//! portal's servers, from 16 keep-alive connections) for `LAG_SECONDS`
//! (default 60). A `LISTEN projection_checkpoints` connection records when
//! each projector commits each position. Per command, lag = the moment the
//! last projector had committed its position − the moment its answer
//! arrived (0 when the projections were faster than the answer). Printed:
//! the rate reached, lag p50 / p99 (target p99 < 50 ms), and the server's
//! peak resident memory (target < 150 MiB on the 10 M portal). Nothing
//! asserts on time. The database is dropped afterwards (`BENCH_DATABASE_URL`
//! is an admin URL, default `postgres://postgres@127.0.0.1:5432/postgres`).

// The service's allocator (see src/main.rs): the rebuild measured here runs
// in this process.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashMap;
use std::error::Error;
use std::io::{BufRead, BufReader, Cursor};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::{stream, StreamExt};
use portal_ledger::app::sessions::Auth;
use portal_ledger::app::{CommandContext, Ledger};
use portal_ledger::auth::password::Password;
use portal_ledger::backend::{open_projections, Backend, Migrations, StoreLocation};
use portal_ledger::domain::ids::UserId;
use portal_ledger::generate::{generate, Scale};
use portal_ledger::projection::runner::{Projections, RebuildOptions};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::TcpStream;
use tokio_postgres::{AsyncMessage, Client, NoTls};

type BenchResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const CONNECTIONS: usize = 16;
const PASSWORD: &str = "lag bench password 1";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn connect(url: &str) -> BenchResult<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// The served process, killed when dropped.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `serve` on a port the system picks; returns it and its address.
fn serve(url: &str) -> BenchResult<(Served, String)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portal-ledger"))
        .args(["--database-url", url, "--log-format", "json", "serve"])
        .args(["--listen", "127.0.0.1:0"])
        // The load generator is one client at hundreds of commands a
        // second: what is measured is the service, not its rate limits.
        .args(["--rate-per-second", "0"])
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let address = loop {
        let line = lines.next().ok_or("serve ended before serving")??;
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let fields = if json["fields"].is_object() {
            &json["fields"]
        } else {
            &json
        };
        if fields["message"] == "serving" {
            break fields["address"].as_str().ok_or("no address")?.to_owned();
        }
    };
    // Keep draining its log so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    Ok((Served(child), address))
}

/// A minimal HTTP/1.1 client on one keep-alive connection.
struct Http {
    stream: AsyncBufReader<TcpStream>,
    host: String,
}

impl Http {
    async fn connect(address: &str) -> BenchResult<Self> {
        let stream = TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: AsyncBufReader::new(stream),
            host: address.to_owned(),
        })
    }

    async fn send(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> BenchResult<(u16, serde_json::Value)> {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        self.stream.get_mut().write_all(request.as_bytes()).await?;
        let mut status_line = String::new();
        self.stream.read_line(&mut status_line).await?;
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or("no status")?;
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).await?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse()?;
                }
            }
        }
        let mut body = vec![0u8; length];
        self.stream.read_exact(&mut body).await?;
        let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        Ok((status, json))
    }
}

/// When each projector committed each position, from NOTIFY.
type Commits = Arc<Mutex<HashMap<String, Vec<(u64, Instant)>>>>;

async fn listen(url: &str, commits: Commits) -> BenchResult<Client> {
    let (client, mut connection) = tokio_postgres::connect(url, NoTls).await?;
    let mut messages = stream::poll_fn(move |cx| connection.poll_message(cx));
    tokio::spawn(async move {
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(n) = message {
                let at = Instant::now();
                if let Some((projector, position)) = n.payload().rsplit_once(':') {
                    if let (Ok(position), Ok(mut commits)) = (position.parse(), commits.lock()) {
                        commits
                            .entry(projector.to_owned())
                            .or_default()
                            .push((position, at));
                    }
                }
            }
        }
    });
    client
        .batch_execute("LISTEN projection_checkpoints")
        .await?;
    Ok(client)
}

fn resident_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let admin_url =
        std::env::var("BENCH_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
    let admin = connect(&admin_url).await?;
    // `LAG_DATABASE=<name>` keeps the database (made and filled on the
    // first run, reused as it is afterwards): a 10 M portal takes minutes
    // to generate and import.
    let kept = std::env::var("LAG_DATABASE").ok();
    let name = kept
        .clone()
        .unwrap_or_else(|| format!("portal_ledger_lag_{}", uuid::Uuid::new_v4().simple()));
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some();
    if !exists {
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
    }
    let url = match admin_url.rsplit_once('/') {
        Some((prefix, _)) => format!("{prefix}/{name}"),
        None => return Err("the admin URL names no database".into()),
    };
    let outcome = run(&url).await;
    if kept.is_none() {
        admin
            .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
            .await?;
    }
    outcome
}

async fn run(url: &str) -> BenchResult<()> {
    let events: u64 = env_or("LAG_EVENTS", 100_000);
    let rate: u64 = env_or("LAG_RATE", 500);
    let seconds: u64 = env_or("LAG_SECONDS", 60);
    let location = StoreLocation::Postgres {
        url: url.to_owned(),
    };
    let backend = Backend::open(&location, Migrations::Apply).await?;
    let head = backend.shared().head().await?.position;
    let portal_events = if head == 0 {
        let mut generated = Vec::new();
        let made = generate(42, Scale::for_events(events), &mut generated)?;
        portal_ledger::transfer::import::import_ndjson(
            backend.bulk(),
            Cursor::new(generated),
            |_| {},
        )
        .await?;
        println!("imported a generated portal of {} events", made.events);
        made.events
    } else {
        println!("reusing a portal of {head} events");
        head
    };
    // As an operator does after an import: one rebuild of every projection
    // (the bulk path), so that `serve` starts caught up.
    let rebuilt = Instant::now();
    let target = open_projections(&location, Migrations::Apply).await?;
    Projections::new(backend.shared(), backend.personal_data(), target)
        .rebuild_live(&[], RebuildOptions::default(), &mut |_, _| {})
        .await?;
    println!(
        "rebuilt every projection in {:.1} s",
        rebuilt.elapsed().as_secs_f64()
    );

    let (served, address) = serve(url)?;
    let pid = served.0.id();
    let mut http = Http::connect(&address).await?;
    let started = Instant::now();
    loop {
        let (_, ready) = http.send("GET", "/readyz", None, None).await?;
        let caught_up = ready["projectors"]
            .as_array()
            .is_some_and(|p| !p.is_empty() && p.iter().all(|p| p["lag_events"] == 0));
        if caught_up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!(
        "the server projected the portal in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // A platform admin of the generated portal, with a password.
    let pg = connect(url).await?;
    let admin = pg
        .query_one(
            "SELECT u.user_id, u.email FROM proj_users u JOIN proj_accounts a USING (account_id) \
             WHERE a.kind = 'platform' AND u.role = 'admin' AND u.status = 'active' LIMIT 1",
            &[],
        )
        .await?;
    let (user, email): (String, String) = (admin.get(0), admin.get(1));
    let auth = Auth::new(
        Ledger::new(backend.shared(), backend.personal_data()),
        backend.credentials(),
    );
    auth.set_initial_password(
        &CommandContext::system(),
        UserId(uuid::Uuid::parse_str(&user)?),
        &Password::parse(PASSWORD)?,
        Utc::now(),
    )
    .await?;
    let (status, session) = http
        .send(
            "POST",
            "/v1/sessions",
            None,
            Some(&serde_json::json!({"email": email, "password": PASSWORD})),
        )
        .await?;
    if status != 201 {
        return Err(format!("sign-in answered {status}: {session}").into());
    }
    let token = session["token"].as_str().ok_or("no token")?.to_owned();
    let servers: Vec<String> = pg
        .query("SELECT server_id FROM proj_servers LIMIT 64", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if servers.is_empty() {
        return Err("the generated portal has no servers".into());
    }

    let commits: Commits = Arc::new(Mutex::new(HashMap::new()));
    let _listener = listen(url, commits.clone()).await?;
    let peak = Arc::new(Mutex::new(0u64));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                if let (Some(kib), Ok(mut peak)) = (resident_kib(pid), peak.lock()) {
                    *peak = (*peak).max(kib);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };

    // The load: each connection sends at rate / CONNECTIONS per second.
    let per_connection = Duration::from_secs_f64(CONNECTIONS as f64 / rate as f64);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut clients = Vec::new();
    for c in 0..CONNECTIONS {
        let (address, token, servers) = (address.clone(), token.clone(), servers.clone());
        clients.push(tokio::spawn(async move {
            let mut http = Http::connect(&address).await?;
            let mut answered: Vec<(u64, Instant)> = Vec::new();
            let mut next = Instant::now() + per_connection.mul_f64(c as f64 / CONNECTIONS as f64);
            let mut i = c;
            while next < deadline {
                tokio::time::sleep_until(next.into()).await;
                next += per_connection;
                let server = &servers[i % servers.len()];
                i += CONNECTIONS;
                let (status, body) = http
                    .send(
                        "POST",
                        &format!("/v1/servers/{server}/actions"),
                        Some(&token),
                        Some(&serde_json::json!({"action": "Restart content"})),
                    )
                    .await?;
                if status == 201 || status == 200 {
                    if let Some(position) = body["position"].as_u64() {
                        answered.push((position, Instant::now()));
                    }
                }
            }
            Ok::<_, Box<dyn Error + Send + Sync>>(answered)
        }));
    }
    let mut answered = Vec::new();
    for client in clients {
        answered.extend(client.await??);
    }
    // Let the projections finish what was sent.
    tokio::time::sleep(Duration::from_secs(2)).await;
    sampler.abort();

    let commits = commits.lock().map_err(|_| "poisoned")?.clone();
    let projectors = portal_ledger::projection::all_projectors().len();
    let mut lags = Vec::with_capacity(answered.len());
    let mut unseen = 0;
    for (position, answered_at) in &answered {
        let mut visible = Some(*answered_at);
        if commits.len() < projectors {
            visible = None;
        }
        for list in commits.values() {
            match list.iter().find(|(p, _)| p >= position) {
                Some((_, at)) => visible = visible.map(|v| v.max(*at)),
                None => visible = None,
            }
        }
        match visible {
            Some(at) => lags.push(at.duration_since(*answered_at).as_secs_f64() * 1000.0),
            None => unseen += 1,
        }
    }
    lags.sort_by(|a, b| a.total_cmp(b));
    let peak_mib = *peak.lock().map_err(|_| "poisoned")? as f64 / 1024.0;
    println!(
        "{} commands answered in {seconds} s ({:.0}/s; asked {rate}/s), {unseen} not seen in every projection",
        answered.len(),
        answered.len() as f64 / seconds as f64
    );
    println!(
        "append answered -> visible in all {projectors} projections: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (target p99 < 50 ms)",
        percentile(&lags, 0.5),
        percentile(&lags, 0.99),
        lags.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "server resident memory, peak: {peak_mib:.0} MiB on a {portal_events}-event portal (target < 150 MiB at 10 M)"
    );
    drop(served);
    Ok(())
}
