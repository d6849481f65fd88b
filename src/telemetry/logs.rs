//! Log output: human-readable text (the default) or one JSON object per line
//! for log shippers (`--log-format json`).
//!
//! Both formats carry the fields of the spans an event happens in, so a log
//! line caused by an HTTP request names the request's `request_id` (see
//! `http/trace.rs`): in text as `http_request{… request_id=…}`, in JSON as
//! `span.request_id` (the innermost span) and `spans` (all of them,
//! outermost first). The event's own fields are at the top level of a JSON
//! line, beside `timestamp`, `level` and `target`.

use thiserror::Error;
use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line, with the fields of the event and its spans.
    Json,
}

/// Why logging could not be set up.
#[derive(Debug, Error)]
#[error("cannot set up logging: {0}")]
pub struct LogInitError(#[from] tracing_subscriber::util::TryInitError);

/// The level filter: `RUST_LOG`, else `info`.
pub fn env_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// A subscriber writing `format` to `writer` (standard error for the
/// service; a buffer in tests).
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => Box::new(builder.finish()),
        LogFormat::Json => Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_current_span(true)
                .with_span_list(true)
                .finish(),
        ),
    }
}

/// Installs the process's subscriber: `format` on standard error, filtered
/// by `RUST_LOG` (default `info`); records of the `log` crate (used by some
/// dependencies) go the same way.
pub fn init(format: LogFormat) -> Result<(), LogInitError> {
    subscriber(format, env_filter(), std::io::stderr).try_init()?;
    Ok(())
}
