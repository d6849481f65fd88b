//! The portal generator: deterministic from its seed, and what it writes
//! imports, verifies and projects like any log (on both backends).

use crate::support;

use portal_ledger::generate::{generate, Scale};
use portal_ledger::projection::runner::Projections;

on_both_backends!(
    a_generated_portal_imports_verifies_and_projects,
    |t: support::TestStore| async move {
        let scale = Scale::for_events(6_000);
        let mut first = Vec::new();
        let generated = generate(7, scale, &mut first).unwrap();
        assert!(generated.events >= 6_000);
        let mut again = Vec::new();
        generate(7, scale, &mut again).unwrap();
        assert_eq!(first, again, "the same seed gives the same bytes");
        let mut other = Vec::new();
        generate(8, scale, &mut other).unwrap();
        assert_ne!(first, other);

        let imported = portal_ledger::transfer::import::import_ndjson(
            t.backend.bulk(),
            std::io::Cursor::new(first),
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(imported.events, generated.events);
        portal_ledger::integrity::verify_store(t.store.clone(), None, |_| {})
            .await
            .unwrap();
        let projections = Projections::new(
            t.store.clone(),
            t.personal.clone(),
            portal_ledger::backend::open_projections(
                &t.location,
                portal_ledger::backend::Migrations::Apply,
            )
            .await
            .unwrap(),
        );
        projections.rebuild(&[], &mut |_, _| {}).await.unwrap();
        let target = projections.target();
        let users = target
            .fetch("proj_users", &[], "user_id", 1_000_000)
            .await
            .unwrap();
        assert_eq!(users.len(), generated.users);
        let accounts = target
            .fetch("proj_accounts", &[], "account_id", 1_000_000)
            .await
            .unwrap();
        assert_eq!(accounts.len(), generated.accounts);
        let activity = target
            .fetch("proj_activity", &[], "position", 1_000_000)
            .await
            .unwrap();
        assert!(activity.len() > 3_000, "{}", activity.len());
        let kinds: std::collections::BTreeSet<&str> = activity
            .iter()
            .filter_map(|a| a["action_type"].as_str())
            .collect();
        for kind in [
            "Open Session",
            "Server Action",
            "Update Configuration",
            "Update License",
            "Update Tickets",
            "Update User Groups",
        ] {
            assert!(kinds.contains(kind), "{kind} missing: {kinds:?}");
        }
        assert!(
            activity.iter().any(|a| !a["on_behalf_of"].is_null()),
            "partner staff act for customers"
        );
    }
);
