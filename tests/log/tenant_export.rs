//! A tenant's export proves it is complete, on both backends: a partner
//! and its customers exported up to a signed checkpoint check offline with
//! the public key alone; an entry dropped, one of another tenant added, one
//! altered, one after the checkpoint, a forged proof — each caught and
//! named. The files also go to `target/independent-tenant/` with this
//! service's verdicts, for the independent verifier (`.ci/run`).

use std::path::PathBuf;

use portal_ledger::app::accounts::CreateAccount;
use portal_ledger::app::{CommandContext, Ledger};
use portal_ledger::domain::ids::AccountId;
use portal_ledger::domain::role::{AccountKind, Role};
use portal_ledger::integrity::checkpoint::{append_checkpoint, CheckpointSigner};
use portal_ledger::integrity::tenant_export::{
    export_tenant, verify_tenant_export, TenantCheckError,
};
use serde_json::{json, Value};

use crate::support::{self, Kind, TestStore};

async fn account(
    ledger: &Ledger,
    kind: AccountKind,
    name: &str,
    parent: Option<AccountId>,
) -> AccountId {
    let id = AccountId(uuid::Uuid::now_v7());
    ledger
        .run(
            &CommandContext::system(),
            CreateAccount {
                account_id: id,
                kind,
                name: name.into(),
                parent,
            },
        )
        .await
        .unwrap();
    id
}

fn verdict(text: &str, public: &portal_ledger::integrity::checkpoint::PublicKey) -> Value {
    match verify_tenant_export(text.as_bytes(), Some(public)) {
        Ok(report) => json!({ "verdict": "ok", "events": report.events }),
        Err(e) => {
            let (kind, position, line) = e.verdict();
            json!({ "verdict": kind, "position": position, "line": line, "message": e.to_string() })
        }
    }
}

on_both_backends!(
    a_tenant_export_proves_it_is_complete,
    |t: TestStore| async move {
        let ledger = Ledger::new(t.store.clone(), t.personal.clone());
        let platform = account(&ledger, AccountKind::Platform, "Platform", None).await;
        let partner = account(&ledger, AccountKind::Partner, "Reseller", Some(platform)).await;
        let customer = account(
            &ledger,
            AccountKind::Organization,
            "Customer",
            Some(partner),
        )
        .await;
        let other = account(
            &ledger,
            AccountKind::Organization,
            "Elsewhere",
            Some(platform),
        )
        .await;
        for (n, at) in [customer, partner, other, customer, other]
            .into_iter()
            .enumerate()
        {
            support::user_in(&ledger, at, &format!("user{n}@example.com"), Role::Support).await;
        }
        let signer = CheckpointSigner::generate().unwrap();
        let public = signer.public();
        append_checkpoint(&t.backend.merkle_tree(), &signer)
            .await
            .unwrap();
        // After the checkpoint: not in this export.
        support::user_in(&ledger, customer, "late@example.com", Role::Support).await;

        let mut out = Vec::new();
        let report = export_tenant(t.store.clone(), &partner.to_string(), true, &mut out)
            .await
            .unwrap();
        assert_eq!(report.accounts.len(), 2, "the partner and its customer");
        let text = String::from_utf8(out).unwrap();
        let checked = verify_tenant_export(text.as_bytes(), Some(&public)).unwrap();
        assert_eq!(checked.events, report.events);
        assert!(!text.contains("late@example.com"));

        let lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let join = |lines: &[String]| lines.join("\n") + "\n";
        let mut cases: Vec<(&str, String, &str)> = vec![("intact", text.clone(), "ok")];
        let mut dropped = lines.clone();
        dropped.remove(3);
        cases.push(("entry_dropped", join(&dropped), "tenant_count_differs"));
        // Another tenant's entry, from a full export of the log.
        let mut full = Vec::new();
        portal_ledger::transfer::export::export_ndjson(t.store.clone(), 1, &mut full, |_| {})
            .await
            .unwrap();
        let foreign = String::from_utf8(full)
            .unwrap()
            .lines()
            .find(|l| l.contains(&format!("\"account\":\"{other}\"")))
            .unwrap()
            .to_owned();
        let foreign_position = serde_json::from_str::<Value>(&foreign).unwrap()["position"]
            .as_u64()
            .unwrap();
        let mut added = lines.clone();
        let at = added
            .iter()
            .skip(1)
            .position(|l| {
                serde_json::from_str::<Value>(l).unwrap()["position"]
                    .as_u64()
                    .unwrap()
                    > foreign_position
            })
            .map_or(added.len(), |i| i + 1);
        added.insert(at, foreign);
        cases.push(("foreign_entry_added", join(&added), "tenant_foreign_entry"));
        let mut altered = lines.clone();
        let mut event: Value = serde_json::from_str(&altered[2]).unwrap();
        event["stream_version"] = json!(99);
        altered[2] = event.to_string();
        cases.push(("entry_altered", join(&altered), "tenant_entry_altered"));
        let mut forged = lines.clone();
        let mut header: Value = serde_json::from_str(&forged[0]).unwrap();
        header["accounts"][0]["count"] = json!(1);
        forged[0] = header.to_string();
        cases.push(("forged_proof", join(&forged), "tenant_proof"));
        let mut swapped = lines.clone();
        swapped.swap(1, 2);
        cases.push(("entries_swapped", join(&swapped), "tenant_out_of_order"));

        let mut manifest = Vec::new();
        for (name, file, expected) in &cases {
            let verdict = verdict(file, &public);
            assert_eq!(verdict["verdict"], *expected, "{name}: {verdict}");
            manifest.push((name, file, verdict));
        }
        assert!(matches!(
            verify_tenant_export(join(&dropped).as_bytes(), Some(&public)),
            Err(TenantCheckError::CountDiffers { .. })
        ));
        let stranger = CheckpointSigner::generate().unwrap().public();
        assert!(matches!(
            verify_tenant_export(text.as_bytes(), Some(&stranger)),
            Err(TenantCheckError::Checkpoint(_))
        ));

        if t.kind == Kind::Embedded {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/independent-tenant");
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let mut entries = Vec::new();
            for (name, file, verdict) in manifest {
                let path = format!("{name}.ndjson");
                std::fs::write(dir.join(&path), file).unwrap();
                entries.push(json!({
                    "file": path,
                    "args": ["--tenant", "--public-key", public.to_hex()],
                    "service": verdict,
                }));
            }
            std::fs::write(
                dir.join("manifest.json"),
                serde_json::to_string_pretty(&entries).unwrap(),
            )
            .unwrap();
        }
    }
);
