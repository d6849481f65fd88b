//! What the service tells its operators besides its answers: metrics for
//! Prometheus and log lines for people and log shippers.
//!
//! Why a module of its own: the Prometheus recorder and the log subscriber
//! are process-wide singletons that every part of the service writes to
//! (the HTTP edge, the store's writers, the projectors), so they are set up
//! in one place, once, and the names of the metrics the service defines
//! live beside them (the README's metric table lists the same names).

pub mod logs;
pub mod prometheus;

/// HTTP requests answered, by `method`, `route` (the route template, or
/// `unmatched`) and `status`.
pub const HTTP_REQUESTS_TOTAL: &str = "http_requests_total";
/// Time to answer an HTTP request (until the response head), same labels.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "http_request_duration_seconds";
/// Events committed to the log by appends.
pub const EVENTS_APPENDED_TOTAL: &str = "events_appended_total";
/// Appends refused because a stream was not at the expected version.
pub const APPEND_CONFLICTS_TOTAL: &str = "append_conflicts_total";
/// Appends decided together in one group commit.
pub const APPEND_BATCH_SIZE: &str = "append_batch_size";
/// Time one group commit takes, from taking the write lock to `COMMIT`.
pub const APPEND_COMMIT_SECONDS: &str = "append_commit_seconds";
