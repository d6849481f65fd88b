//! Checking a proof offline (`portal-ledger verify-proof`): an inclusion
//! or consistency proof as `GET /v1/proofs/…` and `portal-ledger prove`
//! give it, against the signed checkpoints it carries and the operator's
//! public key — and, for an inclusion proof, optionally against the
//! exported line of the entry itself, whose hash is recomputed.
//!
//! What it establishes: the entry is leaf `position − 1` of the tree whose
//! root the operator signed for `size` entries (inclusion); the log of
//! `from` entries the operator signed is a prefix of the log of `to`
//! entries it signed (consistency) — so a log shown later cannot have
//! rewritten what an earlier checkpoint covered.

use thiserror::Error;

use crate::chain::expected_hash;
use crate::event::{Hash, RecordedEvent};
use crate::integrity::checkpoint::PublicKey;
use crate::integrity::merkle::{self, ProofError};
use crate::integrity::proofs::{CarriedCheckpoint, ConsistencyProof, InclusionProof};

#[derive(Debug, Error)]
pub enum ProofCheckError {
    #[error("not a proof: {0}")]
    Unreadable(String),
    #[error("the proof does not hold: {0}")]
    Proof(#[from] ProofError),
    #[error("no signed checkpoint for size {size} comes with the proof")]
    NoCheckpoint { size: u64 },
    #[error("the checkpoint for size {size}: {reason}")]
    Checkpoint { size: u64, reason: String },
    #[error("the entry's line: {0}")]
    Entry(String),
}

impl ProofCheckError {
    /// The failure's kind, as `schema/LOG_FORMAT.md` names it.
    pub fn verdict(&self) -> &'static str {
        match self {
            ProofCheckError::Unreadable(_) => "proof_unreadable",
            ProofCheckError::Proof(_) => "proof_invalid",
            ProofCheckError::NoCheckpoint { .. } => "proof_no_checkpoint",
            ProofCheckError::Checkpoint { .. } => "proof_checkpoint",
            ProofCheckError::Entry(_) => "proof_entry",
        }
    }
}

/// What a proof established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proved {
    Included {
        position: u64,
        size: u64,
        signed: bool,
    },
    Consistent {
        from: u64,
        to: u64,
        signed: bool,
    },
}

fn hash(text: &str) -> Result<Hash, ProofCheckError> {
    Hash::from_hex(text).map_err(|e| ProofCheckError::Unreadable(e.to_string()))
}

fn hashes(texts: &[String]) -> Result<Vec<Hash>, ProofCheckError> {
    texts.iter().map(|t| hash(t)).collect()
}

/// The root a checkpoint signed for `size`, its signature checked.
fn signed_root(
    checkpoint: Option<&CarriedCheckpoint>,
    size: u64,
    public: &PublicKey,
) -> Result<Hash, ProofCheckError> {
    let carried = checkpoint.ok_or(ProofCheckError::NoCheckpoint { size })?;
    let bad = |reason: String| ProofCheckError::Checkpoint { size, reason };
    if carried.head_position != size {
        return Err(bad(format!(
            "it signs position {}, not {size}",
            carried.head_position
        )));
    }
    let payload = carried.payload();
    if payload.key_id != public.key_id() {
        return Err(bad(format!("signed by key {}", payload.key_id)));
    }
    let (_, roots) = public.verify(&payload).map_err(bad)?;
    roots
        .map(|r| r.tree)
        .ok_or_else(|| bad("it is from before trees and signs no root".into()))
}

/// Checks `proof` (JSON); with `public`, also the checkpoints it carries
/// (their signatures, and that they sign its roots). With `entry`, an
/// inclusion proof must be of that exported line, whose hash is
/// recomputed.
pub fn check_proof(
    proof: &str,
    public: Option<&PublicKey>,
    entry: Option<&str>,
) -> Result<Proved, ProofCheckError> {
    let value: serde_json::Value =
        serde_json::from_str(proof).map_err(|e| ProofCheckError::Unreadable(e.to_string()))?;
    if value.get("audit_path").is_some() {
        let p: InclusionProof = serde_json::from_value(value)
            .map_err(|e| ProofCheckError::Unreadable(e.to_string()))?;
        let event_hash = hash(&p.event_hash)?;
        if let Some(line) = entry {
            let event: RecordedEvent =
                serde_json::from_str(line).map_err(|e| ProofCheckError::Entry(e.to_string()))?;
            if event.position != p.position {
                return Err(ProofCheckError::Entry(format!(
                    "it is the entry at position {}, the proof is for {}",
                    event.position, p.position
                )));
            }
            if expected_hash(&event) != event.hash || event.hash != event_hash {
                return Err(ProofCheckError::Entry(
                    "its content does not hash to the proof's entry".into(),
                ));
            }
        }
        let root = hash(&p.root)?;
        merkle::verify_inclusion(
            p.position.wrapping_sub(1),
            p.size,
            &event_hash,
            &hashes(&p.audit_path)?,
            &root,
        )?;
        if let Some(public) = public {
            let signed = signed_root(p.checkpoint.as_ref(), p.size, public)?;
            if signed != root {
                return Err(ProofError::RootDiffers {
                    expected: signed,
                    computed: root,
                }
                .into());
            }
        }
        return Ok(Proved::Included {
            position: p.position,
            size: p.size,
            signed: public.is_some(),
        });
    }
    let p: ConsistencyProof =
        serde_json::from_value(value).map_err(|e| ProofCheckError::Unreadable(e.to_string()))?;
    let (from_root, to_root) = (hash(&p.from_root)?, hash(&p.to_root)?);
    merkle::verify_consistency(p.from, p.to, &from_root, &to_root, &hashes(&p.proof)?)?;
    if let Some(public) = public {
        for (checkpoint, size, root) in [
            (p.from_checkpoint.as_ref(), p.from, from_root),
            (p.to_checkpoint.as_ref(), p.to, to_root),
        ] {
            let signed = signed_root(checkpoint, size, public)?;
            if signed != root {
                return Err(ProofError::RootDiffers {
                    expected: signed,
                    computed: root,
                }
                .into());
            }
        }
    }
    Ok(Proved::Consistent {
        from: p.from,
        to: p.to,
        signed: public.is_some(),
    })
}
