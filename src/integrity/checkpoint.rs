//! Signed checkpoints: the signing key, the signed bytes, the event, and
//! checking checkpoints as a chain is read.
//!
//! **Signed bytes** (exactly): `"portal-ledger checkpoint v2\n" ‖ <head
//! position, decimal> ‖ "\n" ‖ <head hash> ‖ "\n" ‖ <tree root> ‖ "\n" ‖
//! <accounts root> ‖ "\n"`, hashes as 64 lowercase hex digits, signed with
//! Ed25519 (RFC 8032). The tree root is the RFC 9162 Merkle root of the
//! first `head position` events (`merkle.rs`), the accounts root that of
//! every account's own chain at that head (`account_chains.rs`), so one
//! signature commits to the chain's head, to the tree that inclusion and
//! consistency proofs are checked against, and to each tenant's share of
//! the log. The event (`checkpoint.signed`, stream `checkpoint-<uuid>`)
//! holds `head_position`, `head_hash`, `tree_root`, `accounts_root`,
//! `key_id` (the first 16 hex digits of the SHA-256 of the 32-byte public
//! key) and `signature` (128 hex digits). Checkpoints written before trees (schema version 1) have no
//! `tree_root` and sign `"portal-ledger checkpoint v1\n" ‖ position ‖ "\n"
//! ‖ hash ‖ "\n"`; they still verify.

use std::collections::VecDeque;
use std::path::Path;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;
use uuid::Uuid;

use crate::event::{EventType, Hash, JsonObject, NewEvent, RecordedEvent, StreamId};
use crate::integrity::account_chains::{AccountChain, AccountIndex};
use crate::integrity::merkle::Frontier;
use crate::integrity::merkle_store::{MerkleError, MerkleTree};
use crate::store::{ExpectedVersion, StoreError, StreamAppend};

/// The event type of a checkpoint.
pub const EVENT_TYPE: &str = "checkpoint.signed";
/// The stream category of checkpoints.
pub const CATEGORY: &str = "checkpoint";
/// How far back (in positions) a checkpoint may attest a head and still be
/// checked by a streaming verifier.
pub const MAX_LAG: usize = 65_536;
/// How often (in events) a streaming verifier keeps the tree's frontier.
const SNAPSHOT_EVERY: u64 = 1024;

#[derive(Debug, Error)]
pub enum KeyError {
    #[error("signing key: {0}")]
    Invalid(String),
    #[error("signing key file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
}

/// The operator's signing key. `Debug` never shows it.
pub struct CheckpointSigner {
    key: SigningKey,
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CheckpointSigner(key_id {})", self.public().key_id())
    }
}

impl CheckpointSigner {
    /// A new random key.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeyError::Invalid(e.to_string()))?;
        Ok(Self {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// From the 32-byte seed in hex (64 digits; surrounding whitespace is
    /// ignored), as `keygen` writes it.
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut seed)
            .map_err(|_| KeyError::Invalid("expected 64 hex digits (a 32-byte seed)".into()))?;
        Ok(Self {
            key: SigningKey::from_bytes(&seed),
        })
    }

    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::File {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_hex(&text)
    }

    /// The seed in hex, for `keygen` to write once.
    pub fn seed_hex(&self) -> String {
        hex::encode(self.key.to_bytes())
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.key.verifying_key())
    }

    /// Signs a head and the roots of the log up to it.
    pub fn sign(&self, head_position: u64, head_hash: Hash, roots: Roots) -> CheckpointPayload {
        let signature = self
            .key
            .sign(&message(head_position, head_hash, Some(roots)));
        CheckpointPayload {
            head_position,
            head_hash: head_hash.to_hex(),
            tree_root: Some(roots.tree.to_hex()),
            accounts_root: Some(roots.accounts.to_hex()),
            key_id: self.public().key_id(),
            signature: hex::encode(signature.to_bytes()),
        }
    }
}

/// The public half, published at `/v1/checkpoints/public-key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// From 64 hex digits (the 32-byte Ed25519 public key).
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes)
            .map_err(|_| KeyError::Invalid("expected 64 hex digits (a public key)".into()))?;
        VerifyingKey::from_bytes(&bytes)
            .map(PublicKey)
            .map_err(|e| KeyError::Invalid(e.to_string()))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }

    /// The first 16 hex digits of the SHA-256 of the key's bytes.
    pub fn key_id(&self) -> String {
        hex::encode(&Sha256::digest(self.0.to_bytes())[..8])
    }

    /// Checks a checkpoint's signature; returns the head hash and the
    /// roots (none for a checkpoint from before trees) it signs.
    pub fn verify(&self, payload: &CheckpointPayload) -> Result<(Hash, Option<Roots>), String> {
        let hash = Hash::from_hex(&payload.head_hash).map_err(|e| e.to_string())?;
        let parse = |root: &Option<String>| {
            root.as_deref()
                .map(Hash::from_hex)
                .transpose()
                .map_err(|e| e.to_string())
        };
        let root = match (parse(&payload.tree_root)?, parse(&payload.accounts_root)?) {
            (Some(tree), Some(accounts)) => Some(Roots { tree, accounts }),
            (None, None) => None,
            _ => return Err("a v2 checkpoint signs both tree_root and accounts_root".into()),
        };
        let mut bytes = [0u8; 64];
        hex::decode_to_slice(&payload.signature, &mut bytes)
            .map_err(|_| "the signature is not 128 hex digits".to_owned())?;
        self.0
            .verify(
                &message(payload.head_position, hash, root),
                &Signature::from_bytes(&bytes),
            )
            .map_err(|_| format!("the signature does not verify with key {}", self.key_id()))?;
        Ok((hash, root))
    }
}

/// The payload of a `checkpoint.signed` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckpointPayload {
    pub head_position: u64,
    pub head_hash: String,
    /// The Merkle root of the first `head_position` events (absent in
    /// checkpoints from before trees).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree_root: Option<String>,
    /// The root of the accounts tree at `head_position`
    /// (`account_chains.rs`; absent before trees).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounts_root: Option<String>,
    pub key_id: String,
    pub signature: String,
}

/// The two Merkle roots a v2 checkpoint signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roots {
    /// Of the log's events (`merkle.rs`).
    pub tree: Hash,
    /// Of every account's chain (`account_chains.rs`).
    pub accounts: Hash,
}

/// The exact bytes a checkpoint signs (v1 without roots).
pub fn message(head_position: u64, head_hash: Hash, roots: Option<Roots>) -> Vec<u8> {
    match roots {
        Some(roots) => format!(
            "portal-ledger checkpoint v2\n{head_position}\n{}\n{}\n{}\n",
            head_hash.to_hex(),
            roots.tree.to_hex(),
            roots.accounts.to_hex()
        ),
        None => format!(
            "portal-ledger checkpoint v1\n{head_position}\n{}\n",
            head_hash.to_hex()
        ),
    }
    .into_bytes()
}

#[derive(Debug, Error)]
pub enum CheckpointError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tree(#[from] MerkleError),
    #[error("checkpoint event: {0}")]
    Event(String),
}

/// A checkpoint appended to the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub position: u64,
    pub payload: CheckpointPayload,
}

impl Appended {
    /// As proofs carry it and witnesses keep it.
    pub fn carried(&self) -> crate::integrity::proofs::CarriedCheckpoint {
        crate::integrity::proofs::CarriedCheckpoint {
            position: self.position,
            head_position: self.payload.head_position,
            head_hash: self.payload.head_hash.clone(),
            tree_root: self.payload.tree_root.clone(),
            accounts_root: self.payload.accounts_root.clone(),
            key_id: self.payload.key_id.clone(),
            signature: self.payload.signature.clone(),
        }
    }
}

/// Appends a checkpoint of the current head. If other events slip in
/// between reading the head and appending, it tries again (a few times) so
/// the checkpoint normally attests the event just before it.
pub async fn append_checkpoint(
    tree: &MerkleTree,
    signer: &CheckpointSigner,
) -> Result<Appended, CheckpointError> {
    let store = tree.store().as_ref();
    let mut last = None;
    for _ in 0..5 {
        let head = store.head().await?;
        let roots = Roots {
            tree: tree.root(head.position).await?,
            accounts: tree.accounts_root(head.position).await?,
        };
        let payload = signer.sign(head.position, head.hash, roots);
        let event = NewEvent::new(
            EventType::parse(EVENT_TYPE).map_err(|e| CheckpointError::Event(e.to_string()))?,
            JsonObject::from_value(
                "payload",
                &serde_json::to_value(&payload)
                    .map_err(|e| CheckpointError::Event(e.to_string()))?,
            )
            .map_err(|e| CheckpointError::Event(e.to_string()))?,
        )
        .with_metadata(
            JsonObject::from_value(
                "metadata",
                &serde_json::json!({
                    "actor": {"kind": "system"},
                    "action_type": "Sign Checkpoint",
                    "description": format!("Signed the log head at position {}", head.position),
                }),
            )
            .map_err(|e| CheckpointError::Event(e.to_string()))?,
        )
        // v2: the payload carries `tree_root`.
        .with_schema_version(2);
        let stream = StreamId::parse(format!("{CATEGORY}-{}", Uuid::now_v7()))
            .map_err(|e| CheckpointError::Event(e.to_string()))?;
        let outcome = store
            .append(vec![StreamAppend::new(
                stream,
                ExpectedVersion::NoStream,
                vec![event],
            )])
            .await?;
        let position = outcome.last_position();
        let appended = Appended { position, payload };
        if position == head.position + 1 {
            return Ok(appended);
        }
        last = Some(appended);
    }
    last.ok_or_else(|| CheckpointError::Event("no checkpoint appended".into()))
}

/// What is wrong with a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CheckpointProblem {
    #[error("checkpoint payload does not parse: {0}")]
    Unreadable(String),
    #[error("checkpoint signed by key {found}, expected {expected}")]
    OtherKey { expected: String, found: String },
    #[error("{0}")]
    Signature(String),
    #[error("checkpoint attests position {head_position}, which is not before it")]
    NotBefore { head_position: u64 },
    #[error("checkpoint attests position {head_position}, too far back to check while streaming")]
    TooFarBack { head_position: u64 },
    #[error("checkpoint attests hash {signed} at position {head_position}, but the chain has {chain} there")]
    ChainDiffers {
        head_position: u64,
        signed: Hash,
        chain: Hash,
    },
    #[error("checkpoint signs Merkle root {signed} for the first {head_position} events, but they make {computed}")]
    RootDiffers {
        head_position: u64,
        signed: Hash,
        computed: Hash,
    },
    #[error("checkpoint signs accounts root {signed} for the first {head_position} events, but their accounts' chains make {computed}")]
    AccountsRootDiffers {
        head_position: u64,
        signed: Hash,
        computed: Hash,
    },
}

/// Checks each checkpoint event against the chain read so far, in position
/// order (feed it every event the chain checker accepted).
#[derive(Debug, Clone)]
pub struct CheckpointChecker {
    public: PublicKey,
    /// The last [`MAX_LAG`] (+ [`SNAPSHOT_EVERY`]) events: position,
    /// hash, whether a checkpoint.
    recent: VecDeque<(u64, Hash, bool)>,
    /// The Merkle tree of every event read so far.
    tree: Frontier,
    /// The tree as it was every [`SNAPSHOT_EVERY`] events within the
    /// window: the root at an earlier head is one of these plus fewer than
    /// [`SNAPSHOT_EVERY`] leaves from `recent`.
    snapshots: VecDeque<Frontier>,
    /// Every account's chain after the events read so far, and how to take
    /// back each of the last [`MAX_LAG`] events (for a checkpoint of an
    /// earlier head).
    accounts: AccountIndex,
    undo: VecDeque<(u64, Option<(String, AccountChain)>)>,
    /// Checkpoints that verified.
    pub checked: u64,
    /// The highest position a verified checkpoint attests.
    pub attested: u64,
    /// Events after `attested` that are not themselves checkpoints.
    pub unattested: u64,
}

impl CheckpointChecker {
    pub fn new(public: PublicKey) -> Self {
        Self {
            public,
            recent: VecDeque::new(),
            tree: Frontier::new(),
            snapshots: VecDeque::from([Frontier::new()]),
            accounts: AccountIndex::new(),
            undo: VecDeque::new(),
            checked: 0,
            attested: 0,
            unattested: 0,
        }
    }

    pub fn observe(&mut self, event: &RecordedEvent) -> Result<(), CheckpointProblem> {
        let is_checkpoint = event.event_type.as_str() == EVENT_TYPE;
        if is_checkpoint {
            self.check(event)?;
        } else {
            self.unattested += 1;
        }
        // A head is looked up at most MAX_LAG back; a tree root may need
        // the leaves since the snapshot before it, up to SNAPSHOT_EVERY more.
        if self.recent.len() == MAX_LAG + SNAPSHOT_EVERY as usize {
            self.recent.pop_front();
        }
        self.recent
            .push_back((event.position, event.hash, is_checkpoint));
        if self.undo.len() == MAX_LAG {
            self.undo.pop_front();
        }
        self.undo
            .push_back((event.position, self.accounts.apply(event)));
        self.tree.push(&event.hash);
        if self.tree.size().is_multiple_of(SNAPSHOT_EVERY) {
            if self.snapshots.len() > MAX_LAG / SNAPSHOT_EVERY as usize + 2 {
                self.snapshots.pop_front();
            }
            self.snapshots.push_back(self.tree.clone());
        }
        Ok(())
    }

    /// The Merkle root of the first `size` events, if they are within the
    /// window.
    fn root_at(&self, size: u64) -> Option<Hash> {
        if size == self.tree.size() {
            return Some(self.tree.root());
        }
        let base = self.snapshots.iter().rev().find(|s| s.size() <= size)?;
        let mut tree = base.clone();
        for (position, hash, _) in &self.recent {
            if *position > tree.size() && *position <= size {
                tree.push(hash);
            }
        }
        (tree.size() == size).then(|| tree.root())
    }

    /// The accounts tree's root after the first `size` events, if they are
    /// within the window.
    fn accounts_root_at(&self, size: u64) -> Option<Hash> {
        if size == self.tree.size() {
            return Some(self.accounts.root());
        }
        if self.undo.front().is_none_or(|(first, _)| *first > size + 1) {
            return None;
        }
        let mut accounts = self.accounts.clone();
        for (position, applied) in self.undo.iter().rev() {
            if *position <= size {
                break;
            }
            if let Some((account, before)) = applied {
                accounts.undo(account, *before);
            }
        }
        Some(accounts.root())
    }

    fn check(&mut self, event: &RecordedEvent) -> Result<(), CheckpointProblem> {
        let payload: CheckpointPayload = serde_json::from_str(event.payload.as_str())
            .map_err(|e| CheckpointProblem::Unreadable(e.to_string()))?;
        if payload.key_id != self.public.key_id() {
            return Err(CheckpointProblem::OtherKey {
                expected: self.public.key_id(),
                found: payload.key_id,
            });
        }
        let (signed, signed_root) = self
            .public
            .verify(&payload)
            .map_err(CheckpointProblem::Signature)?;
        let head_position = payload.head_position;
        if head_position >= event.position {
            return Err(CheckpointProblem::NotBefore { head_position });
        }
        if head_position > 0 {
            let chain = self
                .recent
                .iter()
                .rev()
                .take(MAX_LAG)
                .find(|(p, _, _)| *p == head_position)
                .map(|(_, h, _)| *h)
                .ok_or(CheckpointProblem::TooFarBack { head_position })?;
            if chain != signed {
                return Err(CheckpointProblem::ChainDiffers {
                    head_position,
                    signed,
                    chain,
                });
            }
        }
        if let Some(signed) = signed_root {
            let computed = self
                .root_at(head_position)
                .ok_or(CheckpointProblem::TooFarBack { head_position })?;
            if computed != signed.tree {
                return Err(CheckpointProblem::RootDiffers {
                    head_position,
                    signed: signed.tree,
                    computed,
                });
            }
            let computed = self
                .accounts_root_at(head_position)
                .ok_or(CheckpointProblem::TooFarBack { head_position })?;
            if computed != signed.accounts {
                return Err(CheckpointProblem::AccountsRootDiffers {
                    head_position,
                    signed: signed.accounts,
                    computed,
                });
            }
        }
        self.checked += 1;
        if head_position >= self.attested {
            self.attested = head_position;
            // Ordinary events after the attested head stay unattested.
            self.unattested = self
                .recent
                .iter()
                .rev()
                .take(MAX_LAG)
                .filter(|(p, _, checkpoint)| *p > head_position && !checkpoint)
                .count() as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_covers_exactly_position_and_hash() {
        let signer = CheckpointSigner::generate().unwrap();
        let again = CheckpointSigner::from_hex(&signer.seed_hex()).unwrap();
        assert_eq!(signer.public(), again.public());
        let public = PublicKey::from_hex(&signer.public().to_hex()).unwrap();
        let hash = Hash([7; 32]);
        let roots = Roots {
            tree: Hash([9; 32]),
            accounts: Hash([6; 32]),
        };
        let payload = signer.sign(42, hash, roots);
        assert_eq!(public.verify(&payload), Ok((hash, Some(roots))));
        let other_accounts = CheckpointPayload {
            accounts_root: Some(Hash([5; 32]).to_hex()),
            ..payload.clone()
        };
        assert!(public.verify(&other_accounts).is_err());
        let other_root = CheckpointPayload {
            tree_root: Some(Hash([8; 32]).to_hex()),
            ..payload.clone()
        };
        assert!(public.verify(&other_root).is_err());
        let moved = CheckpointPayload {
            head_position: 43,
            ..payload.clone()
        };
        assert!(public.verify(&moved).is_err());
        let other_hash = CheckpointPayload {
            head_hash: Hash([8; 32]).to_hex(),
            ..payload.clone()
        };
        assert!(public.verify(&other_hash).is_err());
        let stranger = CheckpointSigner::generate().unwrap().public();
        assert!(stranger.verify(&payload).is_err());
        assert_eq!(
            message(42, hash, Some(roots)),
            format!(
                "portal-ledger checkpoint v2\n42\n{}\n{}\n{}\n",
                "07".repeat(32),
                "09".repeat(32),
                "06".repeat(32)
            )
            .into_bytes()
        );
        assert_eq!(
            message(42, hash, None),
            format!("portal-ledger checkpoint v1\n42\n{}\n", "07".repeat(32)).into_bytes()
        );
        assert!(CheckpointSigner::from_hex("not hex").is_err());
    }
}
