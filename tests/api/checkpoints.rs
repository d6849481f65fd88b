//! Signed checkpoints and their public key over HTTP, on both backends.

use crate::support;

use serde_json::Value;
use support::http::{error_code, TestApi};

on_both_backends!(
    checkpoints_and_their_key_are_public,
    |t: support::TestStore| async move {
        let api = TestApi::builder().with_connect_info().spawn(&t).await;
        // Without a signing key the service says so.
        let none = api
            .server
            .get("/v1/checkpoints/public-key")
            .expect_failure()
            .await;
        assert_eq!(none.status_code(), 404);
        assert_eq!(error_code(&none), "no_signing_key");
        let signer = portal_ledger::integrity::checkpoint::CheckpointSigner::generate().unwrap();
        let appended = portal_ledger::integrity::checkpoint::append_checkpoint(
            &t.backend.merkle_tree(),
            &signer,
        )
        .await
        .unwrap();
        let page: Value = api
            .server
            .get(&format!("/v1/checkpoints?position={}", appended.position))
            .await
            .json();
        assert_eq!(
            page["checkpoints"][0]["head_position"],
            appended.payload.head_position
        );
        assert_eq!(
            page["checkpoints"][0]["signature"],
            appended.payload.signature
        );
    }
);

on_both_backends!(
    proofs_are_served_and_check_against_the_signed_root,
    |t: support::TestStore| async move {
        use portal_ledger::integrity::proof_check::{check_proof, Proved};
        let api = TestApi::spawn(&t).await;
        let root = api.root().await;
        for n in 0..5 {
            api.server
                .post(&format!("/v1/accounts/{}/tickets", api.platform))
                .authorization_bearer(&root)
                .json(&serde_json::json!({ "subject": format!("t{n}"), "description": "d" }))
                .await;
        }
        let signer = portal_ledger::integrity::checkpoint::CheckpointSigner::generate().unwrap();
        let tree = t.backend.merkle_tree();
        let first = portal_ledger::integrity::checkpoint::append_checkpoint(&tree, &signer)
            .await
            .unwrap();
        let size = first.payload.head_position;
        let answer = api
            .server
            .get(&format!("/v1/proofs/inclusion?position=3&size={size}"))
            .await;
        assert_eq!(answer.status_code(), 200, "{}", answer.text());
        let proof: Value = answer.json();
        assert_eq!(proof["checkpoint"]["tree_root"], proof["root"]);
        assert_eq!(
            check_proof(&answer.text(), Some(&signer.public()), None).unwrap(),
            Proved::Included {
                position: 3,
                size,
                signed: true
            }
        );
        let later = portal_ledger::integrity::checkpoint::append_checkpoint(&tree, &signer)
            .await
            .unwrap();
        let answer = api
            .server
            .get(&format!(
                "/v1/proofs/consistency?from={size}&to={}",
                later.payload.head_position
            ))
            .await;
        assert_eq!(answer.status_code(), 200, "{}", answer.text());
        assert!(check_proof(&answer.text(), Some(&signer.public()), None).is_ok());
        // Bad sizes and positions: precise 400s.
        let head = later.position;
        for (query, code) in [
            (
                format!("inclusion?position=0&size={size}"),
                "invalid_position",
            ),
            (
                format!("inclusion?position={}&size={size}", size + 1),
                "invalid_position",
            ),
            (
                format!("inclusion?position=1&size={}", head + 1),
                "size_beyond_head",
            ),
            (format!("consistency?from=0&to={size}"), "invalid_sizes"),
            (
                format!("consistency?from={}&to={size}", size + 1),
                "invalid_sizes",
            ),
            (
                format!("consistency?from=1&to={}", head + 1),
                "size_beyond_head",
            ),
            ("inclusion?position=x".to_owned(), "invalid_query"),
        ] {
            let refused = api
                .server
                .get(&format!("/v1/proofs/{query}"))
                .expect_failure()
                .await;
            assert_eq!(refused.status_code(), 400, "{query}: {}", refused.text());
            assert_eq!(error_code(&refused), code, "{query}");
        }
    }
);

on_both_backends!(
    a_tenant_downloads_its_provably_complete_export,
    |t: support::TestStore| async move {
        use portal_ledger::integrity::tenant_export::verify_tenant_export;
        use support::http::AsCaller;
        let api = TestApi::spawn(&t).await;
        let w = support::world::World::build(&api).await;
        let path = format!(
            "/v1/accounts/{}/export/proven?with_customers=true",
            w.partner
        );
        // Before any checkpoint commits to the accounts: a precise 409.
        let early = api
            .server
            .get_as(&w.partner_admin.token, &path)
            .expect_failure()
            .await;
        assert_eq!(early.status_code(), 409);
        assert_eq!(error_code(&early), "no_checkpoint");
        let signer = portal_ledger::integrity::checkpoint::CheckpointSigner::generate().unwrap();
        portal_ledger::integrity::checkpoint::append_checkpoint(&t.backend.merkle_tree(), &signer)
            .await
            .unwrap();
        let answer = api.server.get_as(&w.partner_admin.token, &path).await;
        assert_eq!(answer.status_code(), 200, "{}", answer.text());
        let report =
            verify_tenant_export(answer.text().as_bytes(), Some(&signer.public())).unwrap();
        let accounts: Vec<String> = report.accounts.clone();
        assert!(
            accounts.contains(&w.partner) && accounts.contains(&w.customer),
            "{accounts:?}"
        );
        assert!(report.events > 0);
        // Another tenant sees nothing of it; the customer gets its own.
        let hidden = api
            .server
            .get_as(&w.other_admin.token, &path)
            .expect_failure()
            .await;
        assert_eq!(hidden.status_code(), 404);
        let own = api
            .server
            .get_as(
                &w.customer_owner.token,
                &format!("/v1/accounts/{}/export/proven", w.customer),
            )
            .await;
        assert_eq!(own.status_code(), 200, "{}", own.text());
        let report = verify_tenant_export(own.text().as_bytes(), Some(&signer.public())).unwrap();
        assert_eq!(report.accounts, vec![w.customer.clone()]);
    }
);
