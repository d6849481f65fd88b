//! Real processes of the binary: `serve` on a port the system picks, read
//! back from its log (text or `--log-format json`), every later log line
//! kept for the test; a minimal HTTP client; children killed (and reaped)
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
    /// Every line it wrote to standard error so far (without terminal
    /// colors), read by a thread until it exits.
    pub lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Served {
    /// The log lines written so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }
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
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (found, address) = tokio::sync::oneshot::channel::<Option<String>>();
    {
        let log = log.clone();
        let lines = lines.clone();
        // Reads every line until the server exits, so it never blocks on a
        // full pipe; keeps every line; reports the address once, or `None`
        // at the end.
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut found = Some(found);
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let line = without_ansi(&line);
                if let Ok(mut lines) = lines.lock() {
                    lines.push(line.clone());
                }
                let Some(sender) = found.take() else { continue };
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
    Served {
        child,
        address,
        lines,
    }
}

/// The address of a `serving` log line: `address=…` in text, the
/// `address` field of a JSON line.
fn serving_address(line: &str) -> Option<String> {
    if !line.contains("serving") {
        return None;
    }
    let address = match serde_json::from_str::<serde_json::Value>(line) {
        Ok(json) => {
            let fields = if json["fields"].is_object() {
                &json["fields"]
            } else {
                &json
            };
            if fields["message"] != "serving" {
                return None;
            }
            fields["address"].as_str()?.to_owned()
        }
        Err(_) => line
            .split("address=")
            .nth(1)?
            .split_whitespace()
            .next()?
            .to_owned(),
    };
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

/// An HTTP answer read by [`http_request`].
pub struct Answer {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body as JSON (`Null` when it is none).
    pub body: serde_json::Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 request over loopback with extra `headers` and an
/// optional JSON body.
pub async fn http_request(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&serde_json::Value>,
) -> std::io::Result<Answer> {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let mut head_lines = head.lines();
    let status = head_lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = head_lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Answer {
        status,
        headers,
        body: serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    })
}

/// A spawned server, killed (and reaped) when the test ends or fails.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
