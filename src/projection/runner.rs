//! Keeping projections up to date, rebuilding them, and letting a client
//! read its own writes.
//!
//! Each projector advances independently from its own checkpoint: first it
//! catches up page by page, then it follows a live subscription, committing
//! each batch of changes together with its new checkpoint. Any number of
//! processes may run projectors against one database: a projector runs only
//! in the process holding its lease, and every commit is fenced (see
//! [`lease`](crate::projection::lease)), so each event's changes are applied
//! exactly once, whoever crashes or pauses.
//!
//! A projector that fails on an event does not stop: it commits everything
//! before that event (a failing batch is retried one event at a time),
//! reports the position and the error (a log line, `/readyz`, the lease row,
//! a metric) and retries with backoff. Reads wait only for the projectors
//! they read, so one stuck projector never turns unrelated reads into
//! errors.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::event::RecordedEvent;
use crate::privacy::SharedPersonalData;
use crate::projection::digest::ProjectionDigest;
use crate::projection::lease::{process_holder, Lease, ProjectorRow, Takeover, DEFAULT_LEASE};
use crate::projection::stop_point::{self, StopPoint};
use crate::projection::{
    all_projectors, compact, make_storable, BulkTable, CopyKind, ProjectionError, ProjectionStore,
    Projector, RowChange,
};
use crate::store::{ReadFilter, SharedStore};

mod copy_fill;
mod live_tail;
use copy_fill::CopyToFill;
use live_tail::LiveTail;

/// Events per page when catching up, and most events per live batch.
const BATCH: usize = 1000;

/// First pause after a projector failed; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Swaps tried while long readers hold a table, before a rebuild gives up.
const SWAP_ATTEMPTS: u32 = 10;
/// Longest pause between two looks at the database's checkpoints while a
/// read waits for a position (other processes' commits).
const MAX_POLL: Duration = Duration::from_millis(25);

/// How a process runs its projectors.
#[derive(Debug, Clone)]
pub struct RunnerOptions {
    /// How long a lease lasts unless renewed; failover takes about this
    /// long plus a fifth of it.
    pub lease: Duration,
    /// This process's name in the lease rows.
    pub holder: String,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        Self {
            lease: DEFAULT_LEASE,
            holder: process_holder(),
        }
    }
}

/// What a rebuild is asked to do.
#[derive(Debug, Clone, Copy, Default)]
pub struct RebuildOptions {
    /// Compare the rebuilt copy with the live tables at one position and
    /// swap only if their digests are equal.
    pub verify: bool,
}

/// A projection swapped in by a rebuild.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    pub projector: String,
    /// The position the new tables reflect.
    pub position: u64,
    /// With `verify`: the digest both copies had.
    pub digest: Option<ProjectionDigest>,
}

/// Why a projector cannot advance, as this process saw it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Failure {
    /// The first position not applied.
    pub position: u64,
    pub error: String,
    pub since: DateTime<Utc>,
    pub attempts: u32,
}

/// A projector as an operator sees it: where it is, who applies it, how far
/// behind the log it is, and whether it is stuck.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct ProjectorStatus {
    pub projector: String,
    pub position: u64,
    /// Events in the log after `position`.
    pub lag_events: u64,
    /// Age of the oldest event not yet applied (0 when caught up).
    pub lag_seconds: f64,
    /// The process holding the lease (none: nobody applies it now).
    pub holder: Option<String>,
    /// Whether this process holds it.
    pub here: bool,
    /// Why the holder cannot advance (from any process), if it cannot.
    pub failure: Option<String>,
}

/// The projections of one store.
pub struct Projections {
    projectors: Vec<Arc<dyn Projector>>,
    events: SharedStore,
    personal: SharedPersonalData,
    target: Arc<dyn ProjectionStore>,
    options: RunnerOptions,
    /// Checkpoints as known here: this process's commits, and what the
    /// database said when a read waited.
    positions: watch::Sender<HashMap<String, u64>>,
    /// When the database's checkpoints were last read (one reader at a time).
    refreshed: tokio::sync::Mutex<Option<Instant>>,
    /// Projectors this process holds the lease of.
    held: Mutex<HashMap<&'static str, Lease>>,
    failures: Mutex<HashMap<&'static str, Failure>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// The one reader of new events that live projectors follow.
    tail: LiveTail,
}

impl Projections {
    /// Projections of `events` into `target`, opening personal data with
    /// `personal` (the process's one, shared with the ledger).
    pub fn new(
        events: SharedStore,
        personal: SharedPersonalData,
        target: Arc<dyn ProjectionStore>,
    ) -> Arc<Self> {
        Self::with_options(events, personal, target, RunnerOptions::default())
    }

    pub fn with_options(
        events: SharedStore,
        personal: SharedPersonalData,
        target: Arc<dyn ProjectionStore>,
        options: RunnerOptions,
    ) -> Arc<Self> {
        Arc::new(Self {
            projectors: all_projectors(),
            events,
            personal,
            target,
            options,
            positions: watch::channel(HashMap::new()).0,
            refreshed: tokio::sync::Mutex::new(None),
            held: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            tasks: Mutex::new(Vec::new()),
            tail: LiveTail::default(),
        })
    }

    pub fn target(&self) -> &Arc<dyn ProjectionStore> {
        &self.target
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.projectors.iter().map(|p| p.name()).collect()
    }

    pub fn holder(&self) -> &str {
        &self.options.holder
    }

    /// The projector that owns `table`.
    pub fn owner_of(&self, table: &str) -> Option<&'static str> {
        self.projectors
            .iter()
            .find(|p| p.tables().contains(&table))
            .map(|p| p.name())
    }

    /// The named projectors; an unknown name is an error.
    fn select(&self, names: &[String]) -> Result<Vec<Arc<dyn Projector>>, ProjectionError> {
        for name in names {
            if !self.projectors.iter().any(|p| p.name() == name) {
                return Err(ProjectionError::Unknown(name.clone()));
            }
        }
        Ok(self
            .projectors
            .iter()
            .filter(|p| names.is_empty() || names.iter().any(|n| n == p.name()))
            .cloned()
            .collect())
    }

    fn record(&self, projector: &'static str, position: u64) {
        metrics::gauge!("projector_position", "projector" => projector).set(position as f64);
        self.positions.send_modify(|known| {
            known.insert(projector.to_owned(), position);
        });
    }

    fn set_held(&self, lease: Option<&Lease>, projector: &'static str) {
        metrics::gauge!("projector_lease_held", "projector" => projector).set(if lease.is_some() {
            1.0
        } else {
            0.0
        });
        if let Ok(mut held) = self.held.lock() {
            match lease {
                Some(lease) => held.insert(projector, lease.clone()),
                None => held.remove(projector),
            };
        }
    }

    /// Opens, projects and commits one batch (`events` follow `from`
    /// without a gap); returns the new checkpoint.
    async fn apply_batch(
        &self,
        projector: &dyn Projector,
        lease: &Lease,
        copy: CopyKind,
        from: u64,
        events: &[RecordedEvent],
    ) -> Result<u64, ProjectionError> {
        let Some(last) = events.last().map(|e| e.position) else {
            return Ok(from);
        };
        let started = Instant::now();
        let mut events = events.to_vec();
        self.personal.open(&mut events).await?;
        let changes = storable_changes(projector, events.iter())?;
        if copy == CopyKind::Live && !changes.is_empty() {
            stop_point::reached(StopPoint::BeforeCommit, projector.name());
        }
        self.target
            .commit_into(lease, copy, changes, from, last)
            .await?;
        metrics::histogram!("projector_batch_seconds", "projector" => projector.name())
            .record(started.elapsed().as_secs_f64());
        metrics::counter!("projector_events_total", "projector" => projector.name())
            .increment(events.len() as u64);
        Ok(last)
    }

    /// A batch, or — when it fails — its events one at a time, so that the
    /// checkpoint stops right before the event that fails and the error
    /// names it.
    async fn apply(
        &self,
        projector: &dyn Projector,
        lease: &Lease,
        copy: CopyKind,
        from: u64,
        events: &[RecordedEvent],
    ) -> Result<u64, ProjectionError> {
        match self.apply_batch(projector, lease, copy, from, events).await {
            Ok(to) => Ok(to),
            Err(e) if e.is_fenced() || events.len() == 1 => Err(e),
            Err(_) => {
                let mut at = from;
                for event in events {
                    at = self
                        .apply_batch(projector, lease, copy, at, std::slice::from_ref(event))
                        .await?;
                    if copy == CopyKind::Live {
                        self.record(projector.name(), at);
                    }
                }
                Ok(at)
            }
        }
    }

    /// Applies the log after `from` up to `until` (the head when `None`) to
    /// one copy of a projector's tables (the live ones included), page by
    /// page; returns the position reached.
    async fn fill_copy(
        &self,
        projector: &dyn Projector,
        lease: &Lease,
        copy: CopyKind,
        from: u64,
        until: Option<u64>,
        on_progress: &mut (dyn FnMut(u64) + Send),
    ) -> Result<u64, ProjectionError> {
        let mut position = from;
        loop {
            let limit = match until {
                Some(until) if position >= until => return Ok(position),
                Some(until) => BATCH.min((until - position) as usize),
                None => BATCH,
            };
            let page = self
                .events
                .read_all(position + 1, limit, &ReadFilter::all())
                .await?;
            if page.is_empty() {
                return Ok(position);
            }
            position = self.apply(projector, lease, copy, position, &page).await?;
            on_progress(position);
        }
    }

    /// Applies everything after the projector's checkpoint up to the current
    /// head under `lease`; returns the position reached.
    async fn catch_up_leased(
        &self,
        projector: &dyn Projector,
        lease: &Lease,
    ) -> Result<u64, ProjectionError> {
        let name = projector.name();
        let start = self.target.checkpoint(name).await?;
        self.record(name, start);
        self.catch_up_from(projector, lease, start, None).await
    }

    /// Takes a projector's lease, waiting up to `patience` for its holder to
    /// give it up (or preempting it).
    async fn lease_for(
        &self,
        name: &str,
        takeover: Takeover,
        patience: Duration,
    ) -> Result<Option<Lease>, ProjectionError> {
        let deadline = Instant::now() + patience;
        loop {
            let lease = self
                .target
                .acquire_lease(name, &self.options.holder, self.options.lease, takeover)
                .await?;
            if lease.is_some() || Instant::now() >= deadline {
                return Ok(lease);
            }
            tokio::time::sleep(self.retry_interval()).await;
        }
    }

    fn retry_interval(&self) -> Duration {
        (self.options.lease / 5).max(Duration::from_millis(50))
    }

    /// Runs `work` while renewing `lease`; stops when the work ends or the
    /// lease is lost, and releases the lease either way.
    async fn while_leased<T>(
        &self,
        lease: &Lease,
        work: impl std::future::Future<Output = Result<T, ProjectionError>>,
    ) -> Result<T, ProjectionError> {
        self.while_all_leased(std::slice::from_ref(lease), work)
            .await
    }

    /// [`while_leased`](Self::while_leased) for several leases: stops when
    /// any is lost.
    async fn while_all_leased<T>(
        &self,
        leases: &[Lease],
        work: impl std::future::Future<Output = Result<T, ProjectionError>>,
    ) -> Result<T, ProjectionError> {
        let ttl = self.options.lease;
        let renew = async {
            let mut renewed = Instant::now();
            loop {
                tokio::time::sleep(ttl / 3).await;
                let mut all = true;
                for lease in leases {
                    match self.target.renew_lease(lease, ttl).await {
                        Ok(true) => {}
                        Ok(false) => {
                            return ProjectionError::Fenced {
                                projector: lease.projector.clone(),
                                expected: 0,
                            }
                        }
                        Err(e) => {
                            tracing::warn!(projector = %lease.projector, error = %e, "renewing the lease failed");
                            all = false;
                        }
                    }
                }
                if all {
                    renewed = Instant::now();
                } else if renewed.elapsed() >= ttl {
                    return ProjectionError::Fenced {
                        projector: leases
                            .first()
                            .map(|l| l.projector.clone())
                            .unwrap_or_default(),
                        expected: 0,
                    };
                }
            }
        };
        let outcome = tokio::select! {
            outcome = work => outcome,
            lost = renew => Err(lost),
        };
        for lease in leases {
            if let Err(e) = self.target.release_lease(lease).await {
                tracing::warn!(projector = %lease.projector, error = %e, "releasing the lease failed; it expires by itself");
            }
        }
        outcome
    }

    /// Brings every projection up to the current head (one-shot commands
    /// that read them, without live tasks). A projector that another
    /// process applies is waited for instead (up to a minute).
    pub async fn catch_up_all(&self) -> Result<(), ProjectionError> {
        self.catch_up(&[]).await
    }

    /// Brings the named projections (all when none is named) up to the
    /// current head, like [`catch_up_all`](Self::catch_up_all).
    pub async fn catch_up(&self, names: &[String]) -> Result<(), ProjectionError> {
        let head = self.events.head().await?.position;
        for projector in &self.select(names)? {
            match self
                .lease_for(projector.name(), Takeover::IfFree, Duration::ZERO)
                .await?
            {
                Some(lease) => {
                    let work = self.catch_up_leased(projector.as_ref(), &lease);
                    self.while_leased(&lease, work).await?;
                }
                None => {
                    let name = projector.name();
                    if !self
                        .wait_for_projectors(head, &[name], Duration::from_secs(60))
                        .await
                    {
                        let holder = self.holder_of(name).await.unwrap_or_default();
                        return Err(ProjectionError::Held {
                            projector: name.to_owned(),
                            holder,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    async fn holder_of(&self, projector: &str) -> Option<String> {
        let rows = self.target.projector_rows().await.ok()?;
        rows.into_iter()
            .find(|r| r.projector == projector)
            .and_then(|r| r.holder)
    }

    /// Rebuilds the named projections (all when `names` is empty) from
    /// the log while the live tables keep serving; see
    /// [`rebuild_live`](Self::rebuild_live).
    pub async fn rebuild(
        &self,
        names: &[String],
        on_progress: &mut (dyn FnMut(&str, u64) + Send),
    ) -> Result<(), ProjectionError> {
        self.rebuild_live(names, RebuildOptions::default(), on_progress)
            .await
            .map(|_| ())
    }

    /// Rebuilds each named projection (all when none is named) into a copy
    /// of its tables while the live ones keep serving (and `serve` keeps
    /// appending), catches the copy up to the head, then swaps it in with
    /// one transaction and drops the old tables. The live projector is
    /// taken over for the swap only (its process resumes after it). An
    /// interrupted rebuild leaves the live tables untouched; the next one
    /// resumes from the copy. With `verify`, the live projection is first
    /// brought to the copy's position and both digests compared: on any
    /// difference nothing is swapped ([`ProjectionError::Differs`]).
    pub async fn rebuild_live(
        &self,
        names: &[String],
        options: RebuildOptions,
        on_progress: &mut (dyn FnMut(&str, u64) + Send),
    ) -> Result<Vec<Rebuilt>, ProjectionError> {
        let selected = self.select(names)?;
        let mut copy_leases = Vec::with_capacity(selected.len());
        for projector in &selected {
            let key = CopyKind::Next.key(projector.name());
            let lease = self
                .lease_for(&key, Takeover::IfFree, self.options.lease * 2)
                .await?;
            match lease {
                Some(lease) => copy_leases.push(lease),
                None => {
                    for lease in &copy_leases {
                        let _ = self.target.release_lease(lease).await;
                    }
                    return Err(ProjectionError::Held {
                        projector: key,
                        holder: "another rebuild".to_owned(),
                    });
                }
            }
        }
        let work = async {
            let mut starts = Vec::with_capacity(selected.len());
            for projector in &selected {
                starts.push(
                    self.target
                        .open_copy(
                            projector.name(),
                            projector.tables(),
                            projector.bulk_tables(),
                            CopyKind::Next,
                            true,
                        )
                        .await?,
                );
            }
            let copies = selected
                .iter()
                .zip(&copy_leases)
                .zip(starts)
                .map(|((projector, lease), start)| CopyToFill {
                    projector: projector.clone(),
                    lease: lease.clone(),
                    start,
                })
                .collect();
            let started = Instant::now();
            let filled = copy_fill::fill_copies(
                &self.events,
                &self.personal,
                &self.target,
                copies,
                on_progress,
            )
            .await?;
            let tables: Vec<&str> = selected
                .iter()
                .flat_map(|p| p.tables().iter().copied())
                .collect();
            let fill_seconds = started.elapsed().as_secs_f64();
            let bulk: Vec<BulkTable> = selected
                .iter()
                .flat_map(|p| p.bulk_tables().iter().copied())
                .collect();
            self.target
                .index_copy(&tables, &bulk, CopyKind::Next)
                .await?;
            let index_seconds = started.elapsed().as_secs_f64() - fill_seconds;
            tracing::info!(
                fill_seconds,
                index_seconds,
                "rebuild: copies filled and indexed"
            );
            let mut rebuilt = Vec::with_capacity(selected.len());
            for ((projector, copy_lease), filled) in selected.iter().zip(&copy_leases).zip(filled) {
                rebuilt.push(
                    self.swap_in(projector.as_ref(), copy_lease, filled, options, on_progress)
                        .await?,
                );
            }
            Ok(rebuilt)
        };
        self.while_all_leased(&copy_leases, work).await
    }

    /// The end of one projector's live rebuild: takes the live lease,
    /// catches the copy up to the head (with `verify`, brings both copies
    /// to one position and compares them), and swaps the copy in.
    async fn swap_in(
        &self,
        projector: &dyn Projector,
        copy_lease: &Lease,
        filled: u64,
        options: RebuildOptions,
        on_progress: &mut (dyn FnMut(&str, u64) + Send),
    ) -> Result<Rebuilt, ProjectionError> {
        let name = projector.name();
        let tables = projector.tables();
        let live = self
            .lease_for(name, Takeover::Preempt, Duration::ZERO)
            .await?
            .ok_or_else(|| ProjectionError::Held {
                projector: name.to_owned(),
                holder: "another process".to_owned(),
            })?;
        let mut progress = |p| on_progress(name, p);
        let swap = async {
            let mut digest = None;
            let last = if options.verify {
                // Both at one position: the live one caught up to the head,
                // the copy to exactly where the live one stopped.
                let live_at = self.catch_up_leased(projector, &live).await?;
                let at = self
                    .fill_copy(
                        projector,
                        copy_lease,
                        CopyKind::Next,
                        filled,
                        Some(live_at),
                        &mut progress,
                    )
                    .await?;
                let (old, new) = (
                    self.target.digest(name, tables, CopyKind::Live).await?,
                    self.target.digest(name, tables, CopyKind::Next).await?,
                );
                if old.digest != new.digest || old.position != new.position || at != live_at {
                    return Err(self.difference(name, tables, &old, &new).await);
                }
                digest = Some(new);
                at
            } else {
                self.fill_copy(
                    projector,
                    copy_lease,
                    CopyKind::Next,
                    filled,
                    None,
                    &mut progress,
                )
                .await?
            };
            let mut attempts = 0;
            let swapped = loop {
                match self.target.swap_in(&live, tables).await {
                    Err(ProjectionError::SwapBlocked { table }) if attempts < SWAP_ATTEMPTS => {
                        attempts += 1;
                        tracing::warn!(
                            projector = name,
                            table,
                            attempts,
                            "a long reader holds the table; trying the swap again"
                        );
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        // The log moved on meanwhile: catch the copy up.
                        let copy_at = self.target.checkpoint(&copy_lease.projector).await?;
                        self.fill_copy(
                            projector,
                            copy_lease,
                            CopyKind::Next,
                            copy_at,
                            None,
                            &mut progress,
                        )
                        .await?;
                    }
                    outcome => break outcome?,
                }
            };
            debug_assert!(swapped >= last);
            self.record(name, swapped);
            metrics::counter!("rebuilds_total", "projector" => name).increment(1);
            Ok(Rebuilt {
                projector: name.to_owned(),
                position: swapped,
                digest,
            })
        };
        self.while_leased(&live, swap).await
    }

    /// The refusal of `rebuild --verify`, with a sample of differing rows.
    async fn difference(
        &self,
        name: &str,
        tables: &[&str],
        live: &ProjectionDigest,
        rebuilt: &ProjectionDigest,
    ) -> ProjectionError {
        let mut only_live = Vec::new();
        let mut only_rebuilt = Vec::new();
        for table in tables {
            if let Ok(rows) = self
                .target
                .rows_only_in(table, CopyKind::Live, CopyKind::Next, 5)
                .await
            {
                only_live.extend(rows.into_iter().map(|r| format!("{table}: {r}")));
            }
            if let Ok(rows) = self
                .target
                .rows_only_in(table, CopyKind::Next, CopyKind::Live, 5)
                .await
            {
                only_rebuilt.extend(rows.into_iter().map(|r| format!("{table}: {r}")));
            }
        }
        ProjectionError::Differs(Box::new(crate::projection::Difference {
            projector: name.to_owned(),
            position: live.position,
            live: live.digest.clone(),
            rebuilt: rebuilt.digest.clone(),
            only_live,
            only_rebuilt,
        }))
    }

    /// The digest of each named projection (all when none is named): of the
    /// live tables at their checkpoint, or — with `at` — of a scratch copy
    /// built from the log up to that position (and dropped after).
    pub async fn checksums(
        &self,
        names: &[String],
        at: Option<u64>,
    ) -> Result<Vec<ProjectionDigest>, ProjectionError> {
        let head = self.events.head().await?.position;
        if let Some(asked) = at.filter(|a| *a > head) {
            return Err(ProjectionError::BeyondHead { asked, head });
        }
        let mut digests = Vec::new();
        for projector in self.select(names)? {
            let name = projector.name();
            let tables = projector.tables();
            let Some(at) = at else {
                digests.push(self.target.digest(name, tables, CopyKind::Live).await?);
                continue;
            };
            let key = CopyKind::At.key(name);
            let lease = self
                .lease_for(&key, Takeover::IfFree, self.options.lease * 2)
                .await?
                .ok_or_else(|| ProjectionError::Held {
                    projector: key.clone(),
                    holder: "another checksum".to_owned(),
                })?;
            let build = async {
                self.target
                    .open_copy(name, tables, &[], CopyKind::At, false)
                    .await?;
                self.fill_copy(
                    projector.as_ref(),
                    &lease,
                    CopyKind::At,
                    0,
                    Some(at),
                    &mut |_| {},
                )
                .await?;
                let digest = self.target.digest(name, tables, CopyKind::At).await;
                self.target.drop_copy(name, tables, CopyKind::At).await?;
                digest
            };
            digests.push(self.while_leased(&lease, build).await?);
        }
        Ok(digests)
    }

    /// Starts a live task for every projector.
    pub fn start(self: &Arc<Self>) {
        // Every name is known: nothing to refuse.
        let _ = self.start_only(&[]);
    }

    /// Starts a live task for each named projector (all when none is
    /// named): each applies its projector while this process holds the
    /// lease, and waits to take it over otherwise. The tasks stop when
    /// [`stop`](Self::stop) is called or the `Projections` is dropped.
    pub fn start_only(self: &Arc<Self>, names: &[String]) -> Result<(), ProjectionError> {
        let selected = self.select(names)?;
        let mut tasks = match self.tasks.lock() {
            Ok(tasks) => tasks,
            Err(_) => return Ok(()),
        };
        for projector in selected {
            let this = Arc::downgrade(self);
            tasks.push(tokio::spawn(async move {
                loop {
                    let Some(projections) = this.upgrade() else {
                        return;
                    };
                    projections.take_turn(projector.as_ref()).await;
                    let pause = projections.retry_interval();
                    drop(projections);
                    tokio::time::sleep(pause).await;
                }
            }));
        }
        Ok(())
    }

    /// One turn of a live task: take the lease if free, then apply the
    /// projector until the lease is lost.
    async fn take_turn(&self, projector: &dyn Projector) {
        let name = projector.name();
        let lease = match self
            .target
            .acquire_lease(
                name,
                &self.options.holder,
                self.options.lease,
                Takeover::IfFree,
            )
            .await
        {
            Ok(Some(lease)) => lease,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(projector = name, error = %e, "cannot take the projector's lease");
                return;
            }
        };
        tracing::info!(
            projector = name,
            token = lease.token,
            "projector lease taken"
        );
        self.set_held(Some(&lease), name);
        let outcome = self
            .while_leased(&lease, self.follow_with_retries(projector, &lease))
            .await;
        self.set_held(None, name);
        match outcome {
            Err(e) if e.is_fenced() => {
                tracing::info!(
                    projector = name,
                    "projector lease lost; another process applies it"
                )
            }
            Err(e) => tracing::warn!(projector = name, error = %e, "projector stopped"),
            Ok(()) => {}
        }
    }

    /// Follows the log; on a failure reports it and tries again with
    /// backoff, keeping the lease (another process would fail alike).
    async fn follow_with_retries(
        &self,
        projector: &dyn Projector,
        lease: &Lease,
    ) -> Result<(), ProjectionError> {
        let name = projector.name();
        let mut backoff = FIRST_BACKOFF;
        loop {
            let error = match self.follow(projector, lease).await {
                Ok(()) => return Ok(()),
                Err(e) if e.is_fenced() => return Err(e),
                Err(e) => e,
            };
            let position = self
                .target
                .checkpoint(name)
                .await
                .map(|p| p + 1)
                .unwrap_or(0);
            let failure = {
                let mut failures = self
                    .failures
                    .lock()
                    .map_err(|_| ProjectionError::Backend("projector state poisoned".to_owned()))?;
                let entry = failures.entry(name).or_insert_with(|| Failure {
                    position,
                    error: String::new(),
                    since: Utc::now(),
                    attempts: 0,
                });
                if entry.position != position {
                    entry.position = position;
                    entry.since = Utc::now();
                    entry.attempts = 0;
                    backoff = FIRST_BACKOFF;
                }
                entry.error = error.to_string();
                entry.attempts += 1;
                entry.clone()
            };
            tracing::error!(
                projector = name,
                position,
                attempts = failure.attempts,
                retry_in_ms = backoff.as_millis() as u64,
                error = %error,
                "projector cannot apply the event at this position; retrying"
            );
            metrics::counter!("projector_failures_total", "projector" => name).increment(1);
            metrics::gauge!("projector_failing", "projector" => name).set(1.0);
            let report = format!("position {position}: {error}");
            if let Err(e) = self.target.report_failure(lease, Some(&report)).await {
                tracing::warn!(projector = name, error = %e, "cannot record the failure");
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    fn clear_failure(&self, name: &'static str) -> bool {
        let cleared = self
            .failures
            .lock()
            .map(|mut f| f.remove(name).is_some())
            .unwrap_or(false);
        if cleared {
            metrics::gauge!("projector_failing", "projector" => name).set(0.0);
        }
        cleared
    }

    /// Catches up from the checkpoint, then applies what the process's
    /// [live tail](live_tail) reads, reading the log itself for any gap.
    async fn follow(
        &self,
        projector: &dyn Projector,
        lease: &Lease,
    ) -> Result<(), ProjectionError> {
        let name = projector.name();
        let mut tail = self.tail.follow(&self.events, &self.personal).await?;
        let mut position = self.catch_up_leased(projector, lease).await?;
        if self.clear_failure(name) {
            self.target.report_failure(lease, None).await?;
        }
        loop {
            let mut batch = match tail.recv().await {
                Ok(batch) => batch.to_vec(),
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    position = self.catch_up_from(projector, lease, position, None).await?;
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            };
            // Batches queued meanwhile go in the same commit.
            while batch.len() < BATCH {
                match tail.try_recv() {
                    Ok(more) => batch.extend(more.iter().cloned()),
                    Err(_) => break,
                }
            }
            let Some(first) = batch.first().map(|e| e.position) else {
                continue;
            };
            if first > position + 1 {
                position = self
                    .catch_up_from(projector, lease, position, Some(first - 1))
                    .await?;
            }
            batch.retain(|e| e.position > position);
            if batch.is_empty() {
                continue;
            }
            position = self
                .apply(projector, lease, CopyKind::Live, position, &batch)
                .await?;
            self.record(name, position);
        }
    }

    /// Applies the log after `from` up to `until` (the head when `None`) to
    /// the live tables, reading it page by page.
    async fn catch_up_from(
        &self,
        projector: &dyn Projector,
        lease: &Lease,
        from: u64,
        until: Option<u64>,
    ) -> Result<u64, ProjectionError> {
        let name = projector.name();
        self.fill_copy(projector, lease, CopyKind::Live, from, until, &mut |p| {
            self.record(name, p)
        })
        .await
    }

    /// Stops the live tasks (leases expire by themselves; see
    /// [`shutdown`](Self::shutdown) to hand them over at once).
    pub fn stop(&self) {
        if let Ok(mut tasks) = self.tasks.lock() {
            for task in tasks.drain(..) {
                task.abort();
            }
        }
        self.tail.stop();
    }

    /// Stops the live tasks and releases their leases, so that another
    /// process takes the projectors over without waiting for expiry.
    pub async fn shutdown(&self) {
        self.stop();
        let held: Vec<Lease> = self
            .held
            .lock()
            .map(|mut h| h.drain().map(|(_, l)| l).collect())
            .unwrap_or_default();
        for lease in held {
            if let Err(e) = self.target.release_lease(&lease).await {
                tracing::warn!(projector = %lease.projector, error = %e, "releasing the lease failed");
            }
        }
    }

    /// Waits until every projection has applied `position` (read your own
    /// writes); false if `timeout` passed first.
    pub async fn wait_for(&self, position: u64, timeout: Duration) -> bool {
        self.wait_for_projectors(position, &[], timeout).await
    }

    /// Waits until the named projectors (all when none is named) have
    /// applied `position`, in this process or any other; false if `timeout`
    /// passed first.
    pub async fn wait_for_projectors(
        &self,
        position: u64,
        names: &[&str],
        timeout: Duration,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        let mut known = self.positions.subscribe();
        let mut poll = Duration::from_millis(1);
        loop {
            if self.reached(&known.borrow_and_update(), names, position) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            let pause = poll.min(deadline - now);
            tokio::select! {
                _ = known.changed() => {}
                _ = tokio::time::sleep(pause) => {
                    self.refresh_positions().await;
                    poll = (poll * 2).min(MAX_POLL);
                }
            }
        }
    }

    fn reached(&self, known: &HashMap<String, u64>, names: &[&str], position: u64) -> bool {
        let at_least = |name: &str| known.get(name).is_some_and(|p| *p >= position);
        if names.is_empty() {
            self.projectors.iter().all(|p| at_least(p.name()))
        } else {
            names.iter().all(|n| at_least(n))
        }
    }

    /// Reads every checkpoint from the database (at most one read at a
    /// time; waiters that queued behind it use its answer).
    async fn refresh_positions(&self) {
        let asked = Instant::now();
        let mut refreshed = self.refreshed.lock().await;
        if refreshed.is_some_and(|at| at >= asked) {
            return;
        }
        let started = Instant::now();
        match self.target.projector_rows().await {
            Ok(rows) => {
                self.positions.send_modify(|known| {
                    for row in rows {
                        known.insert(row.projector, row.position);
                    }
                });
                *refreshed = Some(started);
            }
            Err(e) => tracing::warn!(error = %e, "reading the projection checkpoints failed"),
        }
    }

    /// Every projector's position, lag, holder and failure.
    pub async fn status(&self) -> Result<Vec<ProjectorStatus>, ProjectionError> {
        let rows: HashMap<String, ProjectorRow> = self
            .target
            .projector_rows()
            .await?
            .into_iter()
            .map(|r| (r.projector.clone(), r))
            .collect();
        let head = self.events.head().await?;
        let held: Vec<&'static str> = self
            .held
            .lock()
            .map(|h| h.keys().copied().collect())
            .unwrap_or_default();
        let now = Utc::now();
        for (key, row) in &rows {
            // A live rebuild in any process: how far its copy has got.
            if let Some(name) = key.strip_suffix("#next") {
                metrics::gauge!("rebuild_position", "projector" => name.to_owned())
                    .set(row.position as f64);
                metrics::gauge!("rebuild_lag_events", "projector" => name.to_owned())
                    .set(head.position.saturating_sub(row.position) as f64);
            }
        }
        let mut out = Vec::with_capacity(self.projectors.len());
        for projector in &self.projectors {
            let name = projector.name();
            let row = rows.get(name);
            let position = row.map_or(0, |r| r.position);
            let lag_events = head.position.saturating_sub(position);
            let lag_seconds = if lag_events == 0 {
                0.0
            } else {
                let next = self
                    .events
                    .read_all(position + 1, 1, &ReadFilter::all())
                    .await?;
                next.first().map_or(0.0, |e| {
                    (now - e.recorded_at).num_milliseconds().max(0) as f64 / 1000.0
                })
            };
            metrics::gauge!("projector_lag_events", "projector" => name).set(lag_events as f64);
            metrics::gauge!("projector_lag_seconds", "projector" => name).set(lag_seconds);
            out.push(ProjectorStatus {
                projector: name.to_owned(),
                position,
                lag_events,
                lag_seconds,
                holder: row.and_then(|r| r.holder.clone()),
                here: held.contains(&name),
                failure: row.and_then(|r| r.failure.clone()),
            });
        }
        Ok(out)
    }
}

/// The changes `events` make to a projector's tables, storable by every
/// backend (see [`make_storable`]) and compacted (see [`compact`]).
fn storable_changes<'a>(
    projector: &dyn Projector,
    events: impl Iterator<Item = &'a RecordedEvent>,
) -> Result<Vec<RowChange>, ProjectionError> {
    let mut changes = Vec::new();
    for event in events {
        let first = changes.len();
        changes.extend(projector.apply(event)?);
        changes[first..].iter_mut().for_each(make_storable);
    }
    Ok(compact::compact(changes))
}

impl Drop for Projections {
    fn drop(&mut self) {
        self.stop();
    }
}
