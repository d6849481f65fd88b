//! Rate limits over HTTP, on both backends: commands and sign-ins beyond
//! the quota of an address (or a credential) are 429 `rate_limited` with
//! `Retry-After`, append nothing, and reads are never limited.

use crate::support;

use std::future::IntoFuture;

use futures_util::future::join_all;
use serde_json::json;
use support::http::{error_code, AsCaller, TestApi};

on_both_backends!(
    commands_beyond_the_quota_are_refused_with_retry_after,
    |t: support::TestStore| async move {
        // One a second, bursts of three: eight at once cannot all pass.
        let api = TestApi::builder()
            .with_connect_info()
            .with_rate_limits(1, 3)
            .spawn(&t)
            .await;
        let root = api.root().await;
        let account = api.platform;
        let before = t.store.head().await.unwrap().position;
        let path = format!("/v1/accounts/{account}/tickets");
        let answers = join_all((0..8).map(|n| {
            api.server
                .post_as(&root, &path)
                .json(&json!({ "subject": format!("Ticket {n}"), "description": "d" }))
                .into_future()
        }))
        .await;
        let created = answers.iter().filter(|a| a.status_code() == 201).count();
        let limited: Vec<_> = answers.iter().filter(|a| a.status_code() == 429).collect();
        assert_eq!(created + limited.len(), 8, "only 201s and 429s");
        assert!(created <= 3 && !limited.is_empty(), "{created} created");
        for refused in &limited {
            assert_eq!(error_code(refused), "rate_limited");
            let wait: u64 = refused
                .header("retry-after")
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=2).contains(&wait), "Retry-After: {wait}");
        }
        // A ticket is one event: the refused ones appended nothing.
        let after = t.store.head().await.unwrap().position;
        assert_eq!(after - before, created as u64);
        // Sign-ins from the address are limited too; reads are not.
        let sign_ins = join_all((0..8).map(|_| {
            api.server
                .post("/v1/sessions")
                .json(&json!({ "email": "nobody@example.com", "password": "whatever it is" }))
                .into_future()
        }))
        .await;
        assert!(sign_ins.iter().any(|a| error_code(a) == "rate_limited"));
        for _ in 0..10 {
            let read = api
                .server
                .get_as(&root, &format!("/v1/accounts/{account}"))
                .await;
            assert_eq!(read.status_code(), 200);
        }
        // After the wait a command goes through again.
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        let later = api
            .server
            .post_as(&root, &path)
            .json(&json!({ "subject": "Later", "description": "d" }))
            .await;
        assert_eq!(later.status_code(), 201, "{}", later.text());
    }
);
