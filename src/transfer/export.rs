//! `export`: the log as NDJSON, streamed page by page.

use std::io::Write;

use thiserror::Error;

use crate::store::pages::read_pages;
use crate::store::{ReadFilter, SharedStore, StoreError};

#[derive(Debug, Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the export: {0}")]
    Io(#[from] std::io::Error),
    #[error("encoding event: {0}")]
    Encode(#[from] serde_json::Error),
}

/// Writes every event from `from_position` on to `out`, one JSON object per
/// line. Returns the number of events written. `on_progress` receives the
/// last position written after each page.
pub async fn export_ndjson(
    store: SharedStore,
    from_position: u64,
    out: &mut impl Write,
    mut on_progress: impl FnMut(u64),
) -> Result<u64, ExportError> {
    let mut pages = read_pages(store, from_position, ReadFilter::all());
    let mut written = 0u64;
    while let Some(page) = pages.recv().await {
        let page = page?;
        for event in &page {
            serde_json::to_writer(&mut *out, event)?;
            out.write_all(b"\n")?;
            written += 1;
        }
        if let Some(last) = page.last() {
            on_progress(last.position);
        }
    }
    out.flush()?;
    Ok(written)
}
