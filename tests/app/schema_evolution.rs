//! Evolving event schemas, on both backends: an export the service wrote
//! before `server.registered` and `server.partner_access_granted` changed
//! (`tests/fixtures/export_before_grant_end_dates.ndjson`, made over HTTP
//! by the build of f9f810a: both at schema version 1) imports unchanged —
//! same positions and hashes — and reads as the current shape everywhere:
//! the ledger's folds, histories, the read models; and the service goes on
//! appending to those streams at version 2.

use crate::support;

use portal_ledger::app::context::CommandContext;
use portal_ledger::app::history::{AsOf, Entity};
use portal_ledger::app::servers::SetPartnerAccess;
use portal_ledger::app::Ledger;
use portal_ledger::domain::ids::ServerId;
use portal_ledger::projection::SqlValue;
use portal_ledger::store::ReadFilter;
use portal_ledger::transfer::import::import_ndjson;
use std::time::Duration;

const EXPORT: &str = include_str!("../fixtures/export_before_grant_end_dates.ndjson");
/// Registered granted, then revoked.
const LOBBY: &str = "01a24f61-79e0-749d-bdcc-c70cdbef919a";
/// Registered without a grant, then granted.
const BOARD_ROOM: &str = "01a24f61-7a48-73b6-a40a-0a1af7ccf00a";

fn server(id: &str) -> ServerId {
    ServerId(id.parse().unwrap())
}

on_both_backends!(
    an_export_from_before_a_schema_change_reads_as_today,
    |t: support::TestStore| async move {
        let imported = import_ndjson(t.backend.bulk(), std::io::Cursor::new(EXPORT), |_| {})
            .await
            .unwrap();
        assert_eq!(imported.events, 19);
        // Stored as they were: version 1, the old payload, the old hashes.
        let events = t.store.read_all(1, 100, &ReadFilter::all()).await.unwrap();
        let exported: Vec<serde_json::Value> = EXPORT
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        for (event, line) in events.iter().zip(&exported) {
            assert_eq!(event.hash.to_hex(), line["hash"].as_str().unwrap());
            assert_eq!(
                u64::from(event.schema_version),
                line["schema_version"].as_u64().unwrap()
            );
        }
        let registered = events
            .iter()
            .find(|e| e.event_type.as_str() == "server.registered")
            .unwrap();
        assert_eq!(registered.schema_version, 1);
        assert_eq!(registered.payload.to_value()["partner_access"], true);

        // The ledger folds them as the current shape.
        let ledger = Ledger::new(t.store.clone(), t.personal.clone());
        let head = t.store.head().await.unwrap().position;
        let lobby = ledger
            .view_as_of(Entity::Server(server(LOBBY)), AsOf::Position(head))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(lobby["partner_access"], false, "{lobby}");
        let board = ledger
            .view_as_of(Entity::Server(server(BOARD_ROOM)), AsOf::Position(10))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(board["partner_access"], false, "{board}");
        let history = ledger
            .history(Entity::Server(server(BOARD_ROOM)))
            .await
            .unwrap();
        let types: Vec<&str> = history.iter().map(|h| h.event_type.as_str()).collect();
        assert_eq!(
            types,
            vec!["server.registered", "server.partner_access_granted"]
        );
        assert_eq!(history[1].after["partner_access"], true);

        // The read models too.
        let projections = t.live_projections().await;
        assert!(
            projections.wait_for(head, Duration::from_secs(30)).await,
            "projected"
        );
        let rows = projections
            .target()
            .fetch(
                "proj_servers",
                &[("server_id", SqlValue::text(BOARD_ROOM))],
                "server_id",
                1,
            )
            .await
            .unwrap();
        assert_eq!(rows[0]["partner_access"], 1, "{rows:?}");
        assert_eq!(rows[0]["partner_access_until"], serde_json::Value::Null);

        // New events on those streams are appended at the current version.
        let grant = ledger
            .run(
                &CommandContext::system(),
                SetPartnerAccess {
                    server_id: server(LOBBY),
                    granted: true,
                    until: None,
                    now: chrono::Utc::now(),
                },
            )
            .await
            .unwrap();
        let appended = t
            .store
            .read_all(grant.last_position(), 1, &ReadFilter::all())
            .await
            .unwrap();
        assert_eq!(
            appended[0].event_type.as_str(),
            "server.partner_access_granted"
        );
        assert_eq!(appended[0].schema_version, 2);
        projections.stop();
    }
);
