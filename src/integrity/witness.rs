//! Witnesses: signed checkpoints published outside the database they
//! attest.
//!
//! A checkpoint inside the log proves the log up to it — unless whoever
//! can truncate the `events` table truncates the checkpoints with it:
//! then the shorter log verifies, signatures and all. So each checkpoint is
//! also handed to witnesses the database's operator cannot rewrite, and
//! `verify --witness …` checks the log against the latest checkpoint each
//! witness holds: the log must reach its head, with the same hash there
//! and the same Merkle root.
//!
//! Three kinds, named by a spec string:
//! - `dir:/path` — an append-only directory: one file per checkpoint,
//!   created once and never overwritten (mount it from elsewhere: another
//!   host, a WORM bucket);
//! - `http://host:port/path` — an HTTP endpoint: `POST` a checkpoint to
//!   the path, `GET <path>/latest` reads the latest back
//!   (`portal-ledger witness` is such an endpoint, over a directory);
//! - `nats://host:port[/subject]` — a NATS JetStream subject (default
//!   `portal-ledger.checkpoints`), in the stream `PORTAL_LEDGER_CHECKPOINTS`.

use std::path::PathBuf;
use std::str::FromStr;

use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use thiserror::Error;

use crate::event::Hash;
use crate::integrity::merkle_store::{MerkleError, MerkleTree};
use crate::integrity::proofs::CarriedCheckpoint;
use crate::store::ReadFilter;

/// The JetStream stream witnessed checkpoints are kept in.
pub const NATS_STREAM: &str = "PORTAL_LEDGER_CHECKPOINTS";
/// The default subject.
pub const NATS_SUBJECT: &str = "portal-ledger.checkpoints";

#[derive(Debug, Error)]
pub enum WitnessError {
    #[error("witness spec {0:?}: expected dir:/path, http://host:port/path or nats://host:port[/subject]")]
    Spec(String),
    #[error("witness {witness}: {reason}")]
    Unreachable { witness: String, reason: String },
    #[error("witness {witness} holds a checkpoint of position {head_position}, but the log ends at position {last}: it was truncated")]
    Truncated {
        witness: String,
        head_position: u64,
        last: u64,
    },
    #[error("witness {witness} holds a checkpoint of position {head_position} with hash {witnessed}, but the log has {found} there")]
    HashDiffers {
        witness: String,
        head_position: u64,
        witnessed: String,
        found: Hash,
    },
    #[error("witness {witness} holds a checkpoint of position {head_position} with Merkle root {witnessed}, but the log makes {found}")]
    RootDiffers {
        witness: String,
        head_position: u64,
        witnessed: String,
        found: Hash,
    },
    #[error("witness {witness} holds a checkpoint that does not verify: {reason}")]
    BadSignature { witness: String, reason: String },
    #[error(transparent)]
    Merkle(#[from] MerkleError),
}

/// Where checkpoints are witnessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Witness {
    Directory(PathBuf),
    Http(String),
    Nats { server: String, subject: String },
}

impl FromStr for Witness {
    type Err = WitnessError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let spec = spec.trim();
        if let Some(path) = spec.strip_prefix("dir:") {
            if !path.is_empty() {
                return Ok(Witness::Directory(PathBuf::from(path)));
            }
        } else if spec.starts_with("http://") && spec.len() > "http://".len() {
            return Ok(Witness::Http(spec.trim_end_matches('/').to_owned()));
        } else if let Some(rest) = spec.strip_prefix("nats://") {
            let (server, subject) = rest.split_once('/').unwrap_or((rest, NATS_SUBJECT));
            if !server.is_empty() && !subject.is_empty() {
                return Ok(Witness::Nats {
                    server: format!("nats://{server}"),
                    subject: subject.to_owned(),
                });
            }
        }
        Err(WitnessError::Spec(spec.to_owned()))
    }
}

impl std::fmt::Display for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Witness::Directory(path) => write!(f, "dir:{}", path.display()),
            Witness::Http(url) => f.write_str(url),
            Witness::Nats { server, subject } => write!(f, "{server}/{subject}"),
        }
    }
}

/// The file a directory witness keeps a checkpoint in: sorted by the head
/// it attests, then by where the checkpoint is.
pub fn file_name(checkpoint: &CarriedCheckpoint) -> String {
    format!(
        "checkpoint-{:020}-{:020}-{}.json",
        checkpoint.head_position, checkpoint.position, checkpoint.key_id
    )
}

impl Witness {
    fn failed(&self, reason: impl std::fmt::Display) -> WitnessError {
        WitnessError::Unreachable {
            witness: self.to_string(),
            reason: reason.to_string(),
        }
    }

    /// Hands `checkpoint` to the witness.
    pub async fn publish(&self, checkpoint: &CarriedCheckpoint) -> Result<(), WitnessError> {
        let json = serde_json::to_vec(checkpoint).map_err(|e| self.failed(e))?;
        match self {
            Witness::Directory(dir) => store_in_directory(dir, checkpoint)
                .await
                .map_err(|e| self.failed(e)),
            Witness::Http(url) => {
                let status = http(self, "POST", url, Some(json)).await?.0;
                if status.is_success() {
                    Ok(())
                } else {
                    Err(self.failed(format!("answered {status}")))
                }
            }
            Witness::Nats { server, subject } => {
                let stream = jetstream(self, server).await?;
                let ack = stream
                    .publish(subject.clone(), json.into())
                    .await
                    .map_err(|e| self.failed(e))?;
                ack.await.map_err(|e| self.failed(e))?;
                Ok(())
            }
        }
    }

    /// The latest checkpoint the witness holds (the highest head).
    pub async fn latest(&self) -> Result<Option<CarriedCheckpoint>, WitnessError> {
        match self {
            Witness::Directory(dir) => latest_in_directory(dir).await.map_err(|e| self.failed(e)),
            Witness::Http(url) => {
                let (status, body) = http(self, "GET", &format!("{url}/latest"), None).await?;
                match status.as_u16() {
                    404 => Ok(None),
                    200 => serde_json::from_slice(&body)
                        .map(Some)
                        .map_err(|e| self.failed(e)),
                    _ => Err(self.failed(format!("answered {status}"))),
                }
            }
            Witness::Nats { server, subject } => {
                let context = jetstream(self, server).await?;
                let stream = context
                    .get_stream(NATS_STREAM)
                    .await
                    .map_err(|e| self.failed(e))?;
                match stream.get_last_raw_message_by_subject(subject).await {
                    Ok(message) => serde_json::from_slice(&message.payload)
                        .map(Some)
                        .map_err(|e| self.failed(e)),
                    Err(e) if e.kind() == async_nats::jetstream::stream::LastRawMessageErrorKind::NoMessageFound => {
                        Ok(None)
                    }
                    Err(e) => Err(self.failed(e)),
                }
            }
        }
    }
}

/// Writes the checkpoint's file once; an identical file already there is
/// fine (a retry), another one is an error (the directory is append-only).
pub async fn store_in_directory(
    dir: &std::path::Path,
    checkpoint: &CarriedCheckpoint,
) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    tokio::fs::create_dir_all(dir).await?;
    let path = dir.join(file_name(checkpoint));
    let json = serde_json::to_vec_pretty(checkpoint)?;
    match tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .await
    {
        Ok(mut file) => {
            file.write_all(&json).await?;
            file.sync_all().await
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            if tokio::fs::read(&path).await? == json {
                Ok(())
            } else {
                Err(std::io::Error::other(format!(
                    "{} exists with other content; witnessed files are never replaced",
                    path.display()
                )))
            }
        }
        Err(e) => Err(e),
    }
}

/// The checkpoint of the highest head in a directory witness.
pub async fn latest_in_directory(
    dir: &std::path::Path,
) -> std::io::Result<Option<CarriedCheckpoint>> {
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut names = Vec::new();
    while let Some(entry) = entries.next_entry().await? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("checkpoint-") && name.ends_with(".json") {
            names.push(name);
        }
    }
    names.sort();
    let Some(last) = names.last() else {
        return Ok(None);
    };
    let bytes = tokio::fs::read(dir.join(last)).await?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(std::io::Error::other)
}

async fn http(
    witness: &Witness,
    method: &str,
    url: &str,
    body: Option<Vec<u8>>,
) -> Result<(hyper::StatusCode, bytes::Bytes), WitnessError> {
    let client: Client<_, Full<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let request = hyper::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .body(Full::new(bytes::Bytes::from(body.unwrap_or_default())))
        .map_err(|e| witness.failed(e))?;
    let response =
        tokio::time::timeout(std::time::Duration::from_secs(10), client.request(request))
            .await
            .map_err(|_| witness.failed("no answer within 10 s"))?
            .map_err(|e| witness.failed(e))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| witness.failed(e))?
        .to_bytes();
    Ok((status, body))
}

async fn jetstream(
    witness: &Witness,
    server: &str,
) -> Result<async_nats::jetstream::Context, WitnessError> {
    let client = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        async_nats::connect(server),
    )
    .await
    .map_err(|_| witness.failed("no connection within 10 s"))?
    .map_err(|e| witness.failed(e))?;
    let context = async_nats::jetstream::new(client);
    context
        .get_or_create_stream(async_nats::jetstream::stream::Config {
            name: NATS_STREAM.to_owned(),
            subjects: vec![format!("{NATS_SUBJECT}.>"), NATS_SUBJECT.to_owned()],
            ..Default::default()
        })
        .await
        .map_err(|e| witness.failed(e))?;
    Ok(context)
}

/// The latest checkpoint `witness` holds, its signature checked with
/// `public` when given.
async fn verified_latest(
    witness: &Witness,
    public: Option<&crate::integrity::checkpoint::PublicKey>,
) -> Result<Option<CarriedCheckpoint>, WitnessError> {
    let Some(witnessed) = witness.latest().await? else {
        return Ok(None);
    };
    if let Some(public) = public {
        public
            .verify(&witnessed.payload())
            .map_err(|reason| WitnessError::BadSignature {
                witness: witness.to_string(),
                reason,
            })?;
    }
    Ok(Some(witnessed))
}

/// Checks the log against the latest checkpoint `witness` holds (verified
/// with `public` when given): the log reaches its head, with its hash and
/// its Merkle root. Returns the witnessed head (none: the witness holds
/// nothing yet).
pub async fn check_against(
    witness: &Witness,
    tree: &MerkleTree,
    public: Option<&crate::integrity::checkpoint::PublicKey>,
) -> Result<Option<u64>, WitnessError> {
    let Some(witnessed) = verified_latest(witness, public).await? else {
        return Ok(None);
    };
    let position = witnessed.head_position;
    let last = tree
        .store()
        .head()
        .await
        .map_err(MerkleError::from)?
        .position;
    if position > last {
        return Err(WitnessError::Truncated {
            witness: witness.to_string(),
            head_position: position,
            last,
        });
    }
    if position == 0 {
        return Ok(Some(0));
    }
    let event = tree
        .store()
        .read_all(position, 1, &ReadFilter::all())
        .await
        .map_err(MerkleError::from)?
        .into_iter()
        .next()
        .filter(|e| e.position == position)
        .ok_or(MerkleError::Missing(position))?;
    if event.hash.to_hex() != witnessed.head_hash {
        return Err(WitnessError::HashDiffers {
            witness: witness.to_string(),
            head_position: position,
            witnessed: witnessed.head_hash,
            found: event.hash,
        });
    }
    if let Some(root) = witnessed.tree_root {
        let found = tree.root(position).await?;
        if found.to_hex() != root {
            return Err(WitnessError::RootDiffers {
                witness: witness.to_string(),
                head_position: position,
                witnessed: root,
                found,
            });
        }
    }
    Ok(Some(position))
}

/// The head of the latest checkpoint `witness` holds, its signature checked
/// with `public` when given — to pin an export's check to (none: the
/// witness holds nothing yet).
pub async fn witnessed_head(
    witness: &Witness,
    public: Option<&crate::integrity::checkpoint::PublicKey>,
) -> Result<Option<crate::integrity::ExpectedHead>, WitnessError> {
    let Some(witnessed) = verified_latest(witness, public).await? else {
        return Ok(None);
    };
    let hash = Hash::from_hex(&witnessed.head_hash).map_err(|e| WitnessError::BadSignature {
        witness: witness.to_string(),
        reason: e.to_string(),
    })?;
    Ok(Some(crate::integrity::ExpectedHead {
        position: witnessed.head_position,
        hash,
    }))
}
