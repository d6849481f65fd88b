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
        let appended =
            portal_ledger::integrity::checkpoint::append_checkpoint(t.store.as_ref(), &signer)
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
