//! What a group commit reports to the metrics recorder: how many appends it
//! decided together, how many events it committed, how many appends it
//! refused for a wrong expected version, and how long it took.
//!
//! Both backends' writers call [`committed`] once per batch, after the
//! commit succeeded, with the plan that `batch::plan` decided: a batch that
//! fails to commit appends nothing and refuses nothing (its callers get an
//! `Unavailable` error), so it is not counted.

use std::time::Duration;

use crate::store::batch::BatchPlan;
use crate::store::StoreError;
use crate::telemetry::{
    APPEND_BATCH_SIZE, APPEND_COMMIT_SECONDS, APPEND_CONFLICTS_TOTAL, EVENTS_APPENDED_TOTAL,
};

/// Records one committed batch of `appends` appends decided as `plan`,
/// which took `took` from its start (taking the write lock) to its commit.
pub(crate) fn committed(appends: usize, plan: &BatchPlan, took: Duration) {
    let conflicts = plan
        .results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::WrongExpectedVersion { .. })))
        .count();
    metrics::counter!(EVENTS_APPENDED_TOTAL).increment(plan.rows.len() as u64);
    metrics::counter!(APPEND_CONFLICTS_TOTAL).increment(conflicts as u64);
    metrics::histogram!(APPEND_BATCH_SIZE).record(appends as f64);
    metrics::histogram!(APPEND_COMMIT_SECONDS).record(took.as_secs_f64());
}
