//! The log's Merkle tree kept beside it: proofs and signed roots in a few
//! lookups, however long the log.
//!
//! A proof or a root needs the hashes of O(log n) perfect subtrees. Leaves
//! are the events' hashes, so small subtrees are cheapest computed from the
//! events themselves (one range read of at most [`BLOCK`] events); the
//! larger ones, from level [`STORED_LEVEL`] up, are stored in
//! `merkle_nodes` (see `schema/*/V7__merkle_nodes.sql`) by
//! [`MerkleTree::extend_to`], which folds the log forward from where the
//! table ends, one block of 16 events at a time.
//!
//! Several processes may extend the tree at once: a node's hash is a
//! function of the log, so racing writers write the same bytes
//! (`ON CONFLICT DO NOTHING`), and the size the table covers only grows.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::OptionalExtension;
use thiserror::Error;

use crate::event::Hash;
use crate::integrity::account_chains::AccountIndex;
use crate::integrity::merkle::{self, node_hash, ProofError, Range};
use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;
use crate::store::{ReadFilter, SharedStore, StoreError};

/// The lowest level stored: subtrees of 2^4 = 16 leaves.
pub const STORED_LEVEL: u32 = 4;
/// The leaves of a stored level-[`STORED_LEVEL`] node.
pub const BLOCK: u64 = 1 << STORED_LEVEL;
/// Events read per page while extending.
const PAGE: usize = 4096;

#[derive(Debug, Error)]
pub enum MerkleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error("the log holds {head} events; a tree of {size} is asked for")]
    BeyondHead { size: u64, head: u64 },
    #[error("the log has no event at position {0}")]
    Missing(u64),
}

/// Where the stored subtrees live.
#[async_trait]
pub trait MerkleNodes: Send + Sync + 'static {
    /// How many leaves the stored nodes cover (a multiple of [`BLOCK`]).
    async fn indexed_size(&self) -> Result<u64, StoreError>;
    /// Stores nodes (level, index, hash) and the size they now cover.
    async fn put_nodes(&self, nodes: &[(u32, u64, Hash)], size: u64) -> Result<(), StoreError>;
    /// The stored hashes of the given nodes (absent: not stored).
    async fn get_nodes(&self, keys: &[(u32, u64)])
        -> Result<HashMap<(u32, u64), Hash>, StoreError>;
}

pub type SharedMerkleNodes = Arc<dyn MerkleNodes>;

/// The tree over a store's log, and every account's chain
/// (`account_chains.rs`) for the checkpoints that sign its root.
#[derive(Clone)]
pub struct MerkleTree {
    store: SharedStore,
    nodes: SharedMerkleNodes,
    /// The accounts' chains as far as this process has folded the log:
    /// kept in memory (a one-shot process folds the log once; `serve`
    /// folds only what is new at each checkpoint).
    accounts: Arc<tokio::sync::Mutex<(u64, AccountIndex)>>,
}

impl MerkleTree {
    pub fn new(store: SharedStore, nodes: SharedMerkleNodes) -> Self {
        Self {
            store,
            nodes,
            accounts: Arc::new(tokio::sync::Mutex::new((0, AccountIndex::new()))),
        }
    }

    /// The accounts tree's root after the first `size` events.
    pub async fn accounts_root(&self, size: u64) -> Result<Hash, MerkleError> {
        self.check_size(size).await?;
        let mut cache = self.accounts.lock().await;
        if cache.0 > size {
            *cache = (0, AccountIndex::new());
        }
        let mut next = cache.0 + 1;
        while next <= size {
            let page = self
                .store
                .read_all(
                    next,
                    PAGE.min((size + 1 - next) as usize),
                    &ReadFilter::all(),
                )
                .await?;
            let Some(last) = page.last() else {
                return Err(MerkleError::Missing(next));
            };
            for event in page.iter().take_while(|e| e.position <= size) {
                cache.1.apply(event);
            }
            next = last.position + 1;
            cache.0 = (next - 1).min(size);
        }
        Ok(cache.1.root())
    }

    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    /// Event hashes of positions `from ..= to`.
    async fn event_hashes(&self, from: u64, to: u64) -> Result<Vec<Hash>, MerkleError> {
        let mut hashes = Vec::with_capacity((to + 1 - from) as usize);
        let mut next = from;
        while next <= to {
            let page = self
                .store
                .read_all(next, PAGE.min((to + 1 - next) as usize), &ReadFilter::all())
                .await?;
            if page.is_empty() {
                return Err(MerkleError::Missing(next));
            }
            for event in page.iter().take_while(|e| e.position <= to) {
                if event.position != next {
                    return Err(MerkleError::Missing(next));
                }
                hashes.push(event.hash);
                next += 1;
            }
        }
        Ok(hashes)
    }

    /// Stores the nodes of every complete block up to `size` leaves (less
    /// the partial block at the end, computed from events when asked).
    pub async fn extend_to(&self, size: u64) -> Result<u64, MerkleError> {
        let target = size - size % BLOCK;
        let mut indexed = self.nodes.indexed_size().await?;
        if indexed >= target {
            return Ok(indexed);
        }
        // The perfect subtrees covering what is indexed, largest first.
        let covering = Range {
            start: 0,
            end: indexed,
        }
        .perfect_parts();
        let stored = self.nodes.get_nodes(&covering).await?;
        let mut stack: Vec<(u32, Hash)> = Vec::with_capacity(covering.len());
        for key in &covering {
            stack.push((
                key.0,
                *stored.get(key).ok_or(MerkleError::Missing(indexed))?,
            ));
        }
        while indexed < target {
            let end = (indexed + PAGE as u64).min(target);
            let hashes = self.event_hashes(indexed + 1, end).await?;
            let mut new_nodes = Vec::new();
            for (block, leaves) in hashes.chunks(BLOCK as usize).enumerate() {
                let mut node = (STORED_LEVEL, block_hash(leaves));
                let mut index = (indexed / BLOCK) + block as u64;
                new_nodes.push((STORED_LEVEL, index, node.1));
                while let Some(&(level, left)) = stack.last() {
                    if level != node.0 {
                        break;
                    }
                    stack.pop();
                    index /= 2;
                    node = (level + 1, node_hash(&left, &node.1));
                    new_nodes.push((node.0, index, node.1));
                }
                stack.push(node);
            }
            indexed = end;
            self.nodes.put_nodes(&new_nodes, indexed).await?;
        }
        Ok(indexed)
    }

    /// The hashes of perfect subtrees, stored or computed from events.
    async fn perfect(&self, keys: &[(u32, u64)]) -> Result<HashMap<(u32, u64), Hash>, MerkleError> {
        let needs_index = keys
            .iter()
            .filter(|(level, _)| *level >= STORED_LEVEL)
            .map(|(level, index)| (index + 1) << level)
            .max();
        if let Some(size) = needs_index {
            self.extend_to(size).await?;
        }
        let stored: Vec<(u32, u64)> = keys
            .iter()
            .copied()
            .filter(|(level, _)| *level >= STORED_LEVEL)
            .collect();
        let mut found = self.nodes.get_nodes(&stored).await?;
        for &(level, index) in keys.iter().filter(|(level, _)| *level < STORED_LEVEL) {
            let start = index << level;
            let leaves = self.event_hashes(start + 1, start + (1 << level)).await?;
            found.insert((level, index), block_hash(&leaves));
        }
        for key in keys {
            if !found.contains_key(key) {
                return Err(MerkleError::Missing((key.1 << key.0) + 1));
            }
        }
        Ok(found)
    }

    /// The hashes of `ranges`, in order.
    async fn range_hashes(&self, ranges: &[Range]) -> Result<Vec<Hash>, MerkleError> {
        let parts: Vec<Vec<(u32, u64)>> = ranges.iter().map(Range::perfect_parts).collect();
        let keys: Vec<(u32, u64)> = parts.iter().flatten().copied().collect();
        let found = self.perfect(&keys).await?;
        Ok(parts
            .iter()
            .map(|p| {
                let hashes: Vec<Hash> = p.iter().map(|k| found[k]).collect();
                merkle::combine(&hashes).unwrap_or_else(merkle::empty_root)
            })
            .collect())
    }

    async fn check_size(&self, size: u64) -> Result<(), MerkleError> {
        let head = self.store.head().await?.position;
        if size > head {
            return Err(MerkleError::BeyondHead { size, head });
        }
        Ok(())
    }

    /// The root of the tree of the first `size` events.
    pub async fn root(&self, size: u64) -> Result<Hash, MerkleError> {
        if size == 0 {
            return Ok(merkle::empty_root());
        }
        self.check_size(size).await?;
        Ok(self
            .range_hashes(&[Range {
                start: 0,
                end: size,
            }])
            .await?[0])
    }

    /// The audit path of the event at `position` in the tree of `size`.
    pub async fn inclusion(&self, position: u64, size: u64) -> Result<Vec<Hash>, MerkleError> {
        self.check_size(size).await?;
        let ranges = merkle::inclusion_ranges(position.wrapping_sub(1), size)?;
        self.range_hashes(&ranges).await
    }

    /// The proof that the tree of `from` events is a prefix of the tree of
    /// `to`.
    pub async fn consistency(&self, from: u64, to: u64) -> Result<Vec<Hash>, MerkleError> {
        self.check_size(to).await?;
        let ranges = merkle::consistency_ranges(from, to)?;
        self.range_hashes(&ranges).await
    }
}

/// The root of up to [`BLOCK`] leaves (a power of two, or the tail's).
fn block_hash(event_hashes: &[Hash]) -> Hash {
    let mut frontier = merkle::Frontier::new();
    for hash in event_hashes {
        frontier.push(hash);
    }
    frontier.root()
}

#[async_trait]
impl MerkleNodes for PgStore {
    async fn indexed_size(&self) -> Result<u64, StoreError> {
        let client = self.pool().get().await?;
        let row = client
            .query_opt("SELECT size FROM merkle_state WHERE id = 1", &[])
            .await?;
        Ok(row.map_or(0, |r| r.get::<_, i64>(0) as u64))
    }

    async fn put_nodes(&self, nodes: &[(u32, u64, Hash)], size: u64) -> Result<(), StoreError> {
        let levels: Vec<i32> = nodes.iter().map(|n| n.0 as i32).collect();
        let indexes: Vec<i64> = nodes.iter().map(|n| n.1 as i64).collect();
        let hashes: Vec<Vec<u8>> = nodes.iter().map(|n| n.2 .0.to_vec()).collect();
        let mut client = self.pool().get().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "INSERT INTO merkle_nodes (level, idx, hash) \
             SELECT * FROM unnest($1::int[], $2::bigint[], $3::bytea[]) \
             ON CONFLICT DO NOTHING",
            &[&levels, &indexes, &hashes],
        )
        .await?;
        tx.execute(
            "INSERT INTO merkle_state (id, size) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET size = GREATEST(merkle_state.size, excluded.size)",
            &[&(size as i64)],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_nodes(
        &self,
        keys: &[(u32, u64)],
    ) -> Result<HashMap<(u32, u64), Hash>, StoreError> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let levels: Vec<i32> = keys.iter().map(|k| k.0 as i32).collect();
        let indexes: Vec<i64> = keys.iter().map(|k| k.1 as i64).collect();
        let client = self.pool().get().await?;
        let rows = client
            .query(
                "SELECT n.level, n.idx, n.hash FROM merkle_nodes n \
                 JOIN unnest($1::int[], $2::bigint[]) AS k(level, idx) \
                 ON n.level = k.level AND n.idx = k.idx",
                &[&levels, &indexes],
            )
            .await?;
        let mut found = HashMap::with_capacity(rows.len());
        for row in rows {
            let bytes: Vec<u8> = row.get(2);
            if let Ok(hash) = Hash::from_slice(&bytes) {
                found.insert(
                    (row.get::<_, i32>(0) as u32, row.get::<_, i64>(1) as u64),
                    hash,
                );
            }
        }
        Ok(found)
    }
}

#[async_trait]
impl MerkleNodes for SqliteStore {
    async fn indexed_size(&self) -> Result<u64, StoreError> {
        self.with_reader(|conn| {
            Ok(conn
                .query_row("SELECT size FROM merkle_state WHERE id = 1", [], |r| {
                    r.get::<_, i64>(0)
                })
                .optional()?
                .map_or(0, |s| s as u64))
        })
        .await
    }

    async fn put_nodes(&self, nodes: &[(u32, u64, Hash)], size: u64) -> Result<(), StoreError> {
        let nodes = nodes.to_vec();
        self.with_reader(move |conn| {
            let tx = conn.unchecked_transaction()?;
            {
                let mut insert = tx.prepare(
                    "INSERT INTO merkle_nodes (level, idx, hash) VALUES (?1, ?2, ?3) \
                     ON CONFLICT DO NOTHING",
                )?;
                for (level, index, hash) in &nodes {
                    insert.execute(rusqlite::params![
                        *level as i64,
                        *index as i64,
                        hash.0.to_vec()
                    ])?;
                }
            }
            tx.execute(
                "INSERT INTO merkle_state (id, size) VALUES (1, ?1) \
                 ON CONFLICT (id) DO UPDATE SET size = MAX(merkle_state.size, excluded.size)",
                [size as i64],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn get_nodes(
        &self,
        keys: &[(u32, u64)],
    ) -> Result<HashMap<(u32, u64), Hash>, StoreError> {
        let keys = keys.to_vec();
        self.with_reader(move |conn| {
            let mut select =
                conn.prepare("SELECT hash FROM merkle_nodes WHERE level = ?1 AND idx = ?2")?;
            let mut found = HashMap::with_capacity(keys.len());
            for (level, index) in keys {
                let bytes: Option<Vec<u8>> = select
                    .query_row([level as i64, index as i64], |r| r.get(0))
                    .optional()?;
                if let Some(hash) = bytes.and_then(|b| Hash::from_slice(&b).ok()) {
                    found.insert((level, index), hash);
                }
            }
            Ok(found)
        })
        .await
    }
}
