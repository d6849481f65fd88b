//! Real processes of the binary: `serve` on a port the system picks, read
//! back from its log; a minimal HTTP client; children killed (and reaped)
//! when a test ends or fails.

use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Longest `serve` may take to start listening (migrations, an unoptimized
/// build on a busy machine).
pub const SERVE_STARTUP: Duration = Duration::from_secs(120);

/// A spawned `serve` and the address it listens on.
pub struct Served {
    /// Killed (and reaped) when the test ends or fails.
    pub child: KillOnDrop,
    pub address: String,
}

/// Spawns `command` (`serve` and its options) listening on a port the
/// system picks (`--listen 127.0.0.1:0`, so no other test can take it
/// between choosing and binding), and reads the address from the `serving`
/// line it logs on standard error.
pub async fn serve(mut command: Command) -> Served {
    command
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = KillOnDrop(command.spawn().expect("spawn portal-ledger serve"));
    let stderr = child.0.stderr.take().expect("piped stderr");
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (found, address) = tokio::sync::oneshot::channel::<Option<String>>();
    {
        let log = log.clone();
        // Reads every line until the server exits, so it never blocks on a
        // full pipe; reports the address once, or `None` at the end.
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut found = Some(found);
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let Some(sender) = found.take() else { continue };
                let line = without_ansi(&line);
                match serving_address(&line) {
                    Some(address) => {
                        let _ = sender.send(Some(address));
                    }
                    None => {
                        let mut log = log.lock().unwrap();
                        log.push_str(&line);
                        log.push('\n');
                        found = Some(sender);
                    }
                }
            }
            if let Some(sender) = found {
                let _ = sender.send(None);
            }
        });
    }
    let address = match tokio::time::timeout(SERVE_STARTUP, address).await {
        Ok(Ok(Some(address))) => address,
        Ok(_) => panic!(
            "serve ended before serving ({:?}); it logged:\n{}",
            child.0.try_wait(),
            log.lock().unwrap()
        ),
        Err(_) => panic!(
            "serve logged no address within {SERVE_STARTUP:?}; it logged:\n{}",
            log.lock().unwrap()
        ),
    };
    Served { child, address }
}

/// The `address=…` of a `serving` log line.
fn serving_address(line: &str) -> Option<String> {
    if !line.contains("serving") {
        return None;
    }
    let address = line.split("address=").nth(1)?.split_whitespace().next()?;
    address
        .parse::<std::net::SocketAddr>()
        .ok()
        .map(|a| a.to_string())
}

/// A log line without terminal colors (`ESC [ … letter`).
fn without_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A minimal HTTP/1.1 GET over loopback; returns status and JSON body.
pub async fn http_get(address: &str, path: &str) -> std::io::Result<(u16, serde_json::Value)> {
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    Ok((
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    ))
}

/// A spawned server, killed (and reaped) when the test ends or fails.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
