//! The log as a Merkle tree (RFC 9162, as Certificate Transparency): pure
//! functions for its hashes, and for making and checking inclusion and
//! consistency proofs.
//!
//! Why beside the hash chain: the chain proves a whole log, so proving one
//! entry meant handing over every event before it. Over the same events —
//! leaf *i* is the event at position *i + 1*, its data the event's 32-byte
//! `hash` — a Merkle tree proves that one entry is in a log of a given size
//! (an *inclusion* proof), and that a log of one size is a prefix of a
//! larger one (a *consistency* proof), each with about log2(size) hashes.
//! Signed checkpoints commit to the tree's root, so a proof checked against
//! one needs nothing from us but the public key.
//!
//! The functions here name the subtrees a proof needs as leaf ranges
//! ([`Range`]); `merkle_store` finds their hashes (stored perfect subtrees,
//! events for the rest). Everything is RFC 9162 §2.1: leaf hash
//! SHA-256(0x00 ‖ data), node hash SHA-256(0x01 ‖ left ‖ right), a tree of
//! n > 1 leaves split at the largest power of two below n.

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::event::Hash;

/// The hash of a leaf whose data is an event's hash.
pub fn leaf_hash(event_hash: &Hash) -> Hash {
    leaf_hash_of(&event_hash.0)
}

/// The hash of a leaf with any data (the accounts tree's leaves are
/// longer than a hash).
pub fn leaf_hash_of(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(data);
    Hash(hasher.finalize().into())
}

/// The hash of an inner node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left.0);
    hasher.update(right.0);
    Hash(hasher.finalize().into())
}

/// The root of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// Leaves `start .. end` (0-based, end exclusive): a subtree whose hash a
/// proof carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start: u64,
    pub end: u64,
}

impl Range {
    fn len(&self) -> u64 {
        self.end - self.start
    }

    /// The aligned perfect subtrees (level, index: leaves
    /// `index·2^level .. (index+1)·2^level`) whose hashes make this
    /// range's, left to right — the same split as the tree's own, so
    /// [`combine`] folds them back into its hash.
    pub fn perfect_parts(&self) -> Vec<(u32, u64)> {
        let mut parts = Vec::new();
        let (mut start, end) = (self.start, self.end);
        while start < end {
            let len = end - start;
            let level = if len == 1 {
                0
            } else if len.is_power_of_two() && start % len == 0 {
                len.trailing_zeros()
            } else {
                split(len).trailing_zeros()
            };
            debug_assert_eq!(start % (1 << level), 0, "ranges of a proof are aligned");
            parts.push((level, start >> level));
            start += 1 << level;
        }
        parts
    }
}

/// The hash of a range from its [`Range::perfect_parts`] hashes: the last
/// two are joined first, as the tree joins a left subtree to everything
/// right of it.
pub fn combine(parts: &[Hash]) -> Option<Hash> {
    let (last, rest) = parts.split_last()?;
    Some(
        rest.iter()
            .rev()
            .fold(*last, |right, left| node_hash(left, &right)),
    )
}

/// The subtrees of an inclusion proof of leaf `index` in a tree of `size`
/// leaves, in the order RFC 9162 lists them (nearest the leaf first).
pub fn inclusion_ranges(index: u64, size: u64) -> Result<Vec<Range>, ProofError> {
    if index >= size {
        return Err(ProofError::BeyondSize { index, size });
    }
    let mut out = Vec::new();
    path(
        index,
        Range {
            start: 0,
            end: size,
        },
        &mut out,
    );
    Ok(out)
}

fn path(m: u64, tree: Range, out: &mut Vec<Range>) {
    if tree.len() <= 1 {
        return;
    }
    let k = split(tree.len());
    let (left, right) = (
        Range {
            start: tree.start,
            end: tree.start + k,
        },
        Range {
            start: tree.start + k,
            end: tree.end,
        },
    );
    if m < k {
        path(m, left, out);
        out.push(right);
    } else {
        path(m - k, right, out);
        out.push(left);
    }
}

/// The subtrees of a consistency proof from a tree of `from` leaves to one
/// of `to` (0 < from ≤ to), in RFC 9162's order.
pub fn consistency_ranges(from: u64, to: u64) -> Result<Vec<Range>, ProofError> {
    if from == 0 || from > to {
        return Err(ProofError::BadSizes { from, to });
    }
    let mut out = Vec::new();
    subproof(from, Range { start: 0, end: to }, true, &mut out);
    Ok(out)
}

fn subproof(m: u64, tree: Range, whole: bool, out: &mut Vec<Range>) {
    let n = tree.len();
    if m == n {
        if !whole {
            out.push(tree);
        }
        return;
    }
    let k = split(n);
    let (left, right) = (
        Range {
            start: tree.start,
            end: tree.start + k,
        },
        Range {
            start: tree.start + k,
            end: tree.end,
        },
    );
    if m <= k {
        subproof(m, left, whole, out);
        out.push(right);
    } else {
        subproof(m - k, right, false, out);
        out.push(left);
    }
}

/// Why a proof does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProofError {
    #[error("leaf {index} is not in a tree of {size} leaves")]
    BeyondSize { index: u64, size: u64 },
    #[error("a consistency proof goes from a size above 0 to one at least as large (asked: {from} to {to})")]
    BadSizes { from: u64, to: u64 },
    #[error("the proof has {found} hashes where the tree's shape needs {expected}")]
    WrongLength { expected: usize, found: usize },
    #[error("the proof leads to root {computed}, not to the root {expected}")]
    RootDiffers { expected: Hash, computed: Hash },
}

/// Checks an inclusion proof (RFC 9162 §2.1.3.2): that the leaf with
/// data `event_hash` is leaf `index` of the tree of `size` leaves whose
/// root is `root`.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    event_hash: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    verify_leaf_inclusion(index, size, leaf_hash(event_hash), proof, root)
}

/// [`verify_inclusion`] of a leaf given by its leaf hash.
pub fn verify_leaf_inclusion(
    index: u64,
    size: u64,
    leaf: Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let expected = inclusion_ranges(index, size)?.len();
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            found: proof.len(),
        });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = leaf;
    for p in proof {
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 || r != *root {
        return Err(ProofError::RootDiffers {
            expected: *root,
            computed: r,
        });
    }
    Ok(())
}

/// Checks a consistency proof (RFC 9162 §2.1.4.2): that the tree of `from`
/// leaves with root `from_root` is a prefix of the tree of `to` leaves
/// with root `to_root`.
pub fn verify_consistency(
    from: u64,
    to: u64,
    from_root: &Hash,
    to_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    let expected = consistency_ranges(from, to)?.len();
    if proof.len() != expected {
        return Err(ProofError::WrongLength {
            expected,
            found: proof.len(),
        });
    }
    if from == to {
        return if from_root == to_root {
            Ok(())
        } else {
            Err(ProofError::RootDiffers {
                expected: *to_root,
                computed: *from_root,
            })
        };
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if from.is_power_of_two() {
        path.push(*from_root);
    }
    path.extend_from_slice(proof);
    let (mut f, mut s) = (from - 1, to - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s == 0 {
            return Err(ProofError::WrongLength {
                expected,
                found: proof.len(),
            });
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    if fr != *from_root {
        return Err(ProofError::RootDiffers {
            expected: *from_root,
            computed: fr,
        });
    }
    if s != 0 || sr != *to_root {
        return Err(ProofError::RootDiffers {
            expected: *to_root,
            computed: sr,
        });
    }
    Ok(())
}

/// The root of a tree of leaves given by their leaf hashes, and the audit
/// path of leaf `index` in it — for trees small enough to hold (the
/// accounts tree).
pub fn root_and_path(leaves: &[Hash], index: u64) -> Result<(Hash, Vec<Hash>), ProofError> {
    let size = leaves.len() as u64;
    let mth = |range: Range| -> Hash {
        let mut frontier = Frontier::new();
        for leaf in &leaves[range.start as usize..range.end as usize] {
            frontier.push_leaf(*leaf);
        }
        frontier.root()
    };
    let path = inclusion_ranges(index, size)?
        .into_iter()
        .map(mth)
        .collect();
    Ok((
        mth(Range {
            start: 0,
            end: size,
        }),
        path,
    ))
}

/// The roots of a growing tree, leaf by leaf, in constant memory per level:
/// what a streaming verifier keeps to check the root a checkpoint signs.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    /// Perfect subtrees covering the leaves so far, largest first, with
    /// their levels.
    stack: Vec<(u32, Hash)>,
    size: u64,
}

impl Frontier {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the next leaf (an event's hash).
    pub fn push(&mut self, event_hash: &Hash) {
        self.push_leaf(leaf_hash(event_hash));
    }

    /// Adds the next leaf, given by its leaf hash.
    pub fn push_leaf(&mut self, leaf: Hash) {
        let mut node = (0u32, leaf);
        while let Some(&(level, left)) = self.stack.last() {
            if level != node.0 {
                break;
            }
            self.stack.pop();
            node = (level + 1, node_hash(&left, &node.1));
        }
        self.stack.push(node);
        self.size += 1;
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root of the tree of the leaves so far.
    pub fn root(&self) -> Hash {
        let hashes: Vec<Hash> = self.stack.iter().map(|(_, h)| *h).collect();
        combine(&hashes).unwrap_or_else(empty_root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n)
            .map(|i| Hash(Sha256::digest(i.to_be_bytes()).into()))
            .collect()
    }

    /// MTH straight from RFC 9162's definition.
    fn mth(data: &[Hash]) -> Hash {
        match data.len() {
            0 => empty_root(),
            1 => leaf_hash(&data[0]),
            n => {
                let k = split(n as u64) as usize;
                node_hash(&mth(&data[..k]), &mth(&data[k..]))
            }
        }
    }

    fn range_hash(data: &[Hash], range: Range) -> Hash {
        let parts: Vec<Hash> = range
            .perfect_parts()
            .iter()
            .map(|&(level, index)| {
                let start = (index << level) as usize;
                mth(&data[start..start + (1usize << level)])
            })
            .collect();
        let combined = combine(&parts).unwrap();
        assert_eq!(
            combined,
            mth(&data[range.start as usize..range.end as usize])
        );
        combined
    }

    #[test]
    fn the_frontier_keeps_the_root_of_every_size() {
        let data = leaves(70);
        let mut frontier = Frontier::new();
        assert_eq!(frontier.root(), empty_root());
        for n in 1..=70 {
            frontier.push(&data[n - 1]);
            assert_eq!(frontier.root(), mth(&data[..n]), "size {n}");
        }
    }

    #[test]
    fn the_rfc_example_tree_has_the_rfc_proof_shapes() {
        // RFC 9162 §2.1.5: seven leaves a…g.
        assert_eq!(inclusion_ranges(0, 7).unwrap().len(), 3);
        assert_eq!(
            inclusion_ranges(3, 7).unwrap(),
            vec![
                Range { start: 2, end: 3 },
                Range { start: 0, end: 2 },
                Range { start: 4, end: 7 }
            ]
        );
        assert_eq!(
            consistency_ranges(3, 7).unwrap(),
            vec![
                Range { start: 2, end: 3 },
                Range { start: 3, end: 4 },
                Range { start: 0, end: 2 },
                Range { start: 4, end: 7 }
            ]
        );
        assert_eq!(
            consistency_ranges(4, 7).unwrap(),
            vec![Range { start: 4, end: 7 }]
        );
        assert!(consistency_ranges(0, 7).is_err());
        assert!(inclusion_ranges(7, 7).is_err());
    }

    proptest! {
        #[test]
        fn proofs_verify_and_forgeries_do_not(size in 1u64..200, a in 0u64..200, b in 0u64..200) {
            let data = leaves(size);
            let root = mth(&data);
            let index = a % size;
            let proof: Vec<Hash> = inclusion_ranges(index, size).unwrap()
                .into_iter().map(|r| range_hash(&data, r)).collect();
            prop_assert!(verify_inclusion(index, size, &data[index as usize], &proof, &root).is_ok());
            // Another leaf, another index, a changed hash: refused.
            let other = (index + 1) % size;
            if other != index {
                prop_assert!(verify_inclusion(other, size, &data[index as usize], &proof, &root).is_err());
            }
            if let Some(first) = proof.first() {
                let mut forged = proof.clone();
                forged[0] = node_hash(first, first);
                prop_assert!(verify_inclusion(index, size, &data[index as usize], &forged, &root).is_err());
            }
            let from = 1 + b % size;
            let old_root = mth(&data[..from as usize]);
            let proof: Vec<Hash> = consistency_ranges(from, size).unwrap()
                .into_iter().map(|r| range_hash(&data, r)).collect();
            prop_assert!(verify_consistency(from, size, &old_root, &root, &proof).is_ok());
            // A log that diverged after `from - 1` leaves is not consistent.
            let mut diverged = data.clone();
            diverged[(from - 1) as usize] = Hash([9; 32]);
            let diverged_root = mth(&diverged);
            prop_assert!(verify_consistency(from, size, &old_root, &diverged_root, &proof).is_err());
            if from < size {
                let diverged_proof: Vec<Hash> = consistency_ranges(from, size).unwrap()
                    .into_iter().map(|r| range_hash(&diverged, r)).collect();
                prop_assert!(verify_consistency(from, size, &old_root, &diverged_root, &diverged_proof).is_err());
            }
        }
    }
}
