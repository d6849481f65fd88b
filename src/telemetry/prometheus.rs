//! The process's Prometheus recorder: every `metrics::counter!`,
//! `gauge!` and `histogram!` of the service lands here, and `GET /metrics`
//! renders it in the Prometheus text format.
//!
//! The `metrics` crate has one global recorder per process, and it can be
//! installed only once; a test binary starts many servers in one process.
//! So the recorder is installed on first use and its [`PrometheusHandle`]
//! kept in a `OnceLock`: every later caller gets the same handle. If
//! something else installed a global recorder first, the service does not
//! panic: it logs a warning and `/metrics` renders an empty recorder.
//!
//! Durations are histograms with explicit buckets (not the exporter's
//! default summaries), so they aggregate across processes.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::Unit;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

use crate::telemetry::{
    APPEND_BATCH_SIZE, APPEND_COMMIT_SECONDS, APPEND_CONFLICTS_TOTAL, EVENTS_APPENDED_TOTAL,
    HTTP_REQUESTS_TOTAL, HTTP_REQUEST_DURATION_SECONDS,
};

/// Buckets of every `*_seconds` histogram: 0.5 ms to 30 s.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Buckets of `append_batch_size` (appends per group commit).
pub const BATCH_SIZE_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
];

/// How often histogram samples nobody scraped are folded in (keeps memory
/// flat when `/metrics` is not scraped).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The handle of the process's recorder, installing it on first use.
pub fn handle() -> PrometheusHandle {
    HANDLE.get_or_init(install).clone()
}

fn builder() -> Result<PrometheusBuilder, BuildError> {
    PrometheusBuilder::new()
        .set_buckets(SECONDS_BUCKETS)?
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), SECONDS_BUCKETS)?
        .set_buckets_for_metric(
            Matcher::Full(APPEND_BATCH_SIZE.to_owned()),
            BATCH_SIZE_BUCKETS,
        )
}

fn install() -> PrometheusHandle {
    let recorder = match builder() {
        Ok(builder) => builder.build_recorder(),
        Err(e) => {
            tracing::warn!(error = %e, "metric buckets refused; durations become summaries");
            PrometheusBuilder::new().build_recorder()
        }
    };
    let handle = recorder.handle();
    match metrics::set_global_recorder(recorder) {
        Ok(()) => {
            describe();
            spawn_upkeep(handle.clone());
        }
        Err(e) => tracing::warn!(
            error = %e,
            "another metrics recorder is installed; /metrics shows nothing of it"
        ),
    }
    handle
}

fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("portal-ledger-metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_EVERY);
            handle.run_upkeep();
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no metrics upkeep thread; histograms drain only when scraped");
    }
}

/// The `# HELP` text of every metric the service records (the README's
/// table says the same).
fn describe() {
    metrics::describe_counter!(
        HTTP_REQUESTS_TOTAL,
        "HTTP requests answered, by method, route template and status"
    );
    metrics::describe_histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Time to answer an HTTP request (until the response head), by method, route template and status"
    );
    metrics::describe_counter!(
        EVENTS_APPENDED_TOTAL,
        "Events committed to the log by appends"
    );
    metrics::describe_counter!(
        APPEND_CONFLICTS_TOTAL,
        "Appends refused because a stream was not at the expected version"
    );
    metrics::describe_histogram!(
        APPEND_BATCH_SIZE,
        Unit::Count,
        "Appends decided together in one group commit"
    );
    metrics::describe_histogram!(
        APPEND_COMMIT_SECONDS,
        Unit::Seconds,
        "Time one group commit takes, from taking the write lock to its commit"
    );
    metrics::describe_gauge!(
        "projector_position",
        "The last log position a projector applied"
    );
    metrics::describe_gauge!(
        "projector_lag_events",
        "Events in the log after the projector's position (refreshed at each scrape)"
    );
    metrics::describe_gauge!(
        "projector_lag_seconds",
        Unit::Seconds,
        "Age of the oldest event a projector has not applied, 0 when caught up (refreshed at each scrape)"
    );
    metrics::describe_gauge!(
        "projector_lease_held",
        "1 while this process holds the projector's lease and applies it, else 0"
    );
    metrics::describe_histogram!(
        "projector_batch_seconds",
        Unit::Seconds,
        "Time to project and commit one batch of events"
    );
    metrics::describe_counter!(
        "projector_events_total",
        "Events a projector applied in this process"
    );
    metrics::describe_counter!(
        "projector_failures_total",
        "Times a projector failed on an event and backed off"
    );
    metrics::describe_gauge!(
        "projector_failing",
        "1 while a projector cannot apply the event at its position, else 0"
    );
    metrics::describe_gauge!(
        "rebuild_position",
        "The position a live rebuild's copy of a projection has reached (any process)"
    );
    metrics::describe_gauge!(
        "rebuild_lag_events",
        "Events between a live rebuild's copy and the head (any process)"
    );
    metrics::describe_counter!(
        "rebuilds_total",
        "Projections a rebuild in this process swapped in"
    );
}
