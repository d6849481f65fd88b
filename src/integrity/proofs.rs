//! Proofs as they leave the service — `GET /v1/proofs/…` and
//! `portal-ledger prove` give the same JSON — made from the log's Merkle
//! tree (`merkle_store`) and carrying the signed checkpoint of each size
//! they speak of, so `verify-proof` (`proof_check`) needs nothing else.

use serde::{Deserialize, Serialize};

use crate::event::Hash;
use crate::integrity::checkpoint::{CheckpointPayload, EVENT_TYPE};
use crate::integrity::merkle_store::{MerkleError, MerkleTree};
use crate::store::ReadFilter;

/// A signed checkpoint as a proof carries it: where it is in the log, and
/// its payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CarriedCheckpoint {
    /// The checkpoint event's own position.
    pub position: u64,
    pub head_position: u64,
    pub head_hash: String,
    pub tree_root: Option<String>,
    #[serde(default)]
    pub accounts_root: Option<String>,
    pub key_id: String,
    pub signature: String,
}

impl CarriedCheckpoint {
    pub fn payload(&self) -> CheckpointPayload {
        CheckpointPayload {
            head_position: self.head_position,
            head_hash: self.head_hash.clone(),
            tree_root: self.tree_root.clone(),
            accounts_root: self.accounts_root.clone(),
            key_id: self.key_id.clone(),
            signature: self.signature.clone(),
        }
    }
}

/// An inclusion proof: the entry at `position` is leaf `position − 1` of
/// the tree of `size` entries.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InclusionProof {
    pub position: u64,
    pub size: u64,
    /// The entry's `hash` (the leaf's data).
    pub event_hash: String,
    /// The root of the tree of `size` entries.
    pub root: String,
    /// Sibling subtree hashes, nearest the leaf first (RFC 9162 §2.1.3).
    pub audit_path: Vec<String>,
    /// The signed checkpoint whose `head_position` is `size`, if any.
    pub checkpoint: Option<CarriedCheckpoint>,
}

/// A consistency proof: the log of `from` entries is a prefix of the log
/// of `to` entries.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    pub from_root: String,
    pub to_root: String,
    /// RFC 9162 §2.1.4 proof hashes.
    pub proof: Vec<String>,
    pub from_checkpoint: Option<CarriedCheckpoint>,
    pub to_checkpoint: Option<CarriedCheckpoint>,
}

fn hex_all(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(Hash::to_hex).collect()
}

impl CarriedCheckpoint {
    /// The checkpoint an event holds (none: not a readable checkpoint).
    pub fn of(event: &crate::event::RecordedEvent) -> Option<Self> {
        if event.event_type.as_str() != EVENT_TYPE {
            return None;
        }
        let payload: CheckpointPayload = serde_json::from_str(event.payload.as_str()).ok()?;
        Some(CarriedCheckpoint {
            position: event.position,
            head_position: payload.head_position,
            head_hash: payload.head_hash,
            tree_root: payload.tree_root,
            accounts_root: payload.accounts_root,
            key_id: payload.key_id,
            signature: payload.signature,
        })
    }
}

/// Every signed checkpoint from position `from` on, in log order, read by
/// their event type (an index of the log) until `each` says stop.
pub async fn scan_checkpoints(
    store: &crate::store::SharedStore,
    from: u64,
    mut each: impl FnMut(CarriedCheckpoint) -> std::ops::ControlFlow<()>,
) -> Result<(), crate::store::StoreError> {
    let filter = ReadFilter {
        categories: vec![],
        event_types: vec![crate::event::EventType::parse(EVENT_TYPE)
            .map_err(|e| crate::store::StoreError::Unavailable(e.to_string()))?],
    };
    let mut next = from.max(1);
    loop {
        let page = store.read_all(next, 1000, &filter).await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        next = last.position + 1;
        for checkpoint in page.iter().filter_map(CarriedCheckpoint::of) {
            if each(checkpoint).is_break() {
                return Ok(());
            }
        }
    }
}

/// The latest signed checkpoint attesting exactly `size` entries.
pub async fn checkpoint_of(
    tree: &MerkleTree,
    size: u64,
) -> Result<Option<CarriedCheckpoint>, MerkleError> {
    let mut found = None;
    scan_checkpoints(tree.store(), size + 1, |checkpoint| {
        // Checkpoints attest heads before them: past the window, none
        // can attest `size` any more.
        if checkpoint.position > size + crate::integrity::checkpoint::MAX_LAG as u64 {
            return std::ops::ControlFlow::Break(());
        }
        if checkpoint.head_position == size {
            found = Some(checkpoint);
        }
        std::ops::ControlFlow::Continue(())
    })
    .await?;
    Ok(found)
}

/// The proof that the entry at `position` is in the log of `size` entries.
pub async fn prove_inclusion(
    tree: &MerkleTree,
    position: u64,
    size: u64,
) -> Result<InclusionProof, MerkleError> {
    let path = tree.inclusion(position, size).await?;
    let root = tree.root(size).await?;
    let event = tree
        .store()
        .read_all(position, 1, &ReadFilter::all())
        .await?
        .into_iter()
        .next()
        .filter(|e| e.position == position)
        .ok_or(MerkleError::Missing(position))?;
    Ok(InclusionProof {
        position,
        size,
        event_hash: event.hash.to_hex(),
        root: root.to_hex(),
        audit_path: hex_all(&path),
        checkpoint: checkpoint_of(tree, size).await?,
    })
}

/// The proof that the log of `from` entries is a prefix of that of `to`.
pub async fn prove_consistency(
    tree: &MerkleTree,
    from: u64,
    to: u64,
) -> Result<ConsistencyProof, MerkleError> {
    let proof = tree.consistency(from, to).await?;
    Ok(ConsistencyProof {
        from,
        to,
        from_root: tree.root(from).await?.to_hex(),
        to_root: tree.root(to).await?.to_hex(),
        proof: hex_all(&proof),
        from_checkpoint: checkpoint_of(tree, from).await?,
        to_checkpoint: checkpoint_of(tree, to).await?,
    })
}
