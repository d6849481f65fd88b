//! Users, admins and ownership over HTTP, against a server on a real
//! loopback port, on both backends: the owner's protection, ownership
//! transfer, restore's answer, the users read model, usernames.

use crate::support;

use serde_json::{json, Value};
use support::http::{error_code, AsCaller, TestApi};
use support::world::World;

use support::world::PASSWORD;

impl TestApi {
    /// Creates a user with [`PASSWORD`]; returns the user id.
    async fn create_user(&self, token: &str, account: &str, email: &str, role: &str) -> String {
        self.create_user_with(token, account, json!({ "email": email, "role": role }))
            .await["user_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Creates a user from `fields` (name and password filled in).
    async fn create_user_with(&self, token: &str, account: &str, mut fields: Value) -> Value {
        fields["name"] = json!("Some Person");
        fields["password"] = json!(PASSWORD);
        self.add_user(token, account, &fields).await
    }
}

on_both_backends!(
    other_admins_cannot_edit_reset_log_out_or_assign_the_owner,
    |t: support::TestStore| async move {
        let api = TestApi::spawn(&t).await;
        let w = World::build(&api).await;
        let (owner_id, owner) = (&w.customer_owner.id, &w.customer_owner.token);
        let head = t.store.head().await.unwrap().position;
        // The customer's other admin, and the partner's admin acting for it.
        for token in [&w.customer_admin.token, &w.partner_admin.token] {
            let attempts = [
                api.server
                    .patch(&format!("/v1/users/{owner_id}"))
                    .json(&json!({ "name": "Someone Else" })),
                api.server
                    .patch(&format!("/v1/users/{owner_id}"))
                    .json(&json!({ "email": "hijack@customer.example" })),
                api.server
                    .post(&format!("/v1/users/{owner_id}/password-reset")),
                api.server.post(&format!("/v1/users/{owner_id}/logout")),
                // Trusting an address for the owner would let whoever is
                // there skip the owner's second factor.
                api.server
                    .post(&format!("/v1/users/{owner_id}/trusted-locations"))
                    .json(&json!({ "ip": "198.51.100.9" })),
            ];
            for attempt in attempts {
                let response = attempt.authorization_bearer(token).expect_failure().await;
                assert_eq!(response.status_code(), 409, "{}", response.text());
                assert_eq!(error_code(&response), "owner_protected");
            }
        }
        // The partner's owner: the partner's other admin cannot assign them customers.
        let response = api
            .server
            .put_as(
                &w.partner_deputy.token,
                &format!("/v1/users/{}/customers", w.partner_admin.id),
            )
            .json(&json!({ "account_ids": [w.customer] }))
            .expect_failure()
            .await;
        assert_eq!(response.status_code(), 409, "{}", response.text());
        assert_eq!(error_code(&response), "owner_protected");
        assert_eq!(
            t.store.head().await.unwrap().position,
            head,
            "refusals append nothing"
        );

        // The owner still signs in with the old password, edits themself.
        api.sign_in("owner@customer.example", PASSWORD).await;
        api.server
            .patch_as(owner, &format!("/v1/users/{owner_id}"))
            .json(&json!({ "name": "The Owner" }))
            .await
            .assert_status_ok();
        // Other admins edit each other as before.
        api.server
            .patch_as(
                &w.partner_admin.token,
                &format!("/v1/users/{}", w.customer_admin.id),
            )
            .json(&json!({ "name": "Second Admin" }))
            .await
            .assert_status_ok();
        api.server
            .post_as(
                &w.partner_admin.token,
                &format!("/v1/users/{}/logout", w.partner_deputy.id),
            )
            .await
            .assert_status_ok();
        let _ = &w.partner;
    }
);

on_both_backends!(
    only_the_owner_transfers_ownership_over_http,
    |t: support::TestStore| async move {
        let api = TestApi::spawn(&t).await;
        let w = World::build(&api).await;
        let root = api.root().await;
        let (owner_id, owner) = (&w.customer_owner.id, &w.customer_owner.token);
        let (second_id, second) = (&w.customer_admin.id, &w.customer_admin.token);
        let regular_id = api
            .create_user(
                &w.partner_admin.token,
                &w.customer,
                "regular@customer.example",
                "regular",
            )
            .await;
        let regular = api.sign_in("regular@customer.example", PASSWORD).await;
        let path = format!("/v1/accounts/{}/owner", w.customer);
        let head = t.store.head().await.unwrap().position;

        // Refusals, each appending nothing: other admins (the customer's,
        // its partner's, the platform's) are not the owner; a regular user
        // may not touch the account; the new owner must be another active
        // admin; the body is checked.
        let refusals: Vec<(&str, Value, u16, &str)> = vec![
            (
                second,
                json!({ "user_id": second_id }),
                409,
                "only_owner_transfers",
            ),
            (
                &w.partner_admin.token,
                json!({ "user_id": second_id }),
                409,
                "only_owner_transfers",
            ),
            (
                &root,
                json!({ "user_id": second_id }),
                409,
                "only_owner_transfers",
            ),
            (&regular, json!({ "user_id": regular_id }), 403, "forbidden"),
            (
                owner,
                json!({ "user_id": regular_id }),
                409,
                "transfer_target_not_admin",
            ),
            (
                owner,
                json!({ "user_id": owner_id }),
                409,
                "transfer_target_not_admin",
            ),
            (
                owner,
                json!({ "user_id": w.partner_admin.id }),
                409,
                "transfer_target_not_admin",
            ),
            (
                owner,
                json!({ "user_id": "not-a-uuid" }),
                400,
                "invalid_body",
            ),
            (
                owner,
                json!({ "user_id": second_id, "extra": 1 }),
                400,
                "invalid_body",
            ),
            (owner, json!({}), 400, "invalid_body"),
        ];
        for (token, body, status, code) in refusals {
            let response = api
                .server
                .put_as(token, &path)
                .json(&body)
                .expect_failure()
                .await;
            assert_eq!(
                response.status_code(),
                status,
                "{body}: {}",
                response.text()
            );
            assert_eq!(error_code(&response), code, "{body}");
        }
        assert_eq!(
            t.store.head().await.unwrap().position,
            head,
            "refusals append nothing"
        );

        // The owner hands over, with an Idempotency-Key: a retry is answered
        // from memory and appends nothing.
        let transfer = || {
            api.server
                .put_as(owner, &path)
                .add_header("Idempotency-Key", "transfer-1")
                .json(&json!({ "user_id": second_id }))
        };
        let first = transfer().await;
        assert_eq!(first.status_code(), 200, "{}", first.text());
        let after = t.store.head().await.unwrap().position;
        assert_eq!(after, head + 1, "one event: account.ownership_transferred");
        let retry = transfer().await;
        assert_eq!(retry.text(), first.text());
        assert_eq!(retry.header("idempotent-replayed"), "true");
        assert_eq!(t.store.head().await.unwrap().position, after);

        let position = first.json::<Value>()["position"].as_u64().unwrap();
        let account: Value = api
            .server
            .get_as(
                second,
                &format!("/v1/accounts/{}?position={position}", w.customer),
            )
            .await
            .json();
        assert_eq!(account["primary_admin_id"], json!(second_id));
        assert_eq!(account["admin_count"], 2, "the former owner stays an admin");

        // The protection moved with ownership.
        let response = api
            .server
            .patch_as(owner, &format!("/v1/users/{second_id}"))
            .json(&json!({ "name": "Not Mine To Edit" }))
            .expect_failure()
            .await;
        assert_eq!(error_code(&response), "owner_protected");
        // The old owner, still an admin, can no longer transfer; the new owner
        // may demote them.
        let response = api
            .server
            .put_as(owner, &path)
            .json(&json!({ "user_id": owner_id }))
            .expect_failure()
            .await;
        assert_eq!(response.status_code(), 409);
        assert_eq!(error_code(&response), "only_owner_transfers");
        api.server
            .put_as(second, &format!("/v1/users/{owner_id}/role"))
            .json(&json!({ "role": "regular" }))
            .await
            .assert_status_ok();
    }
);

impl TestApi {
    async fn create_license(
        &self,
        token: &str,
        account: &str,
        product: &str,
        seats: u32,
    ) -> String {
        let response = self
            .server
            .post_as(token, &format!("/v1/accounts/{account}/licenses"))
            .json(&json!({ "product": product, "seats": seats }))
            .await;
        assert_eq!(response.status_code(), 201, "{}", response.text());
        response.json::<Value>()["license_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn assign_license(&self, token: &str, license: &str, user: &str) {
        let response = self
            .server
            .post_as(token, &format!("/v1/licenses/{license}/assignments"))
            .json(&json!({ "user_ids": [user] }))
            .await;
        assert_eq!(response.status_code(), 200, "{}", response.text());
    }

    /// Deletes and restores `user`; returns the restore's answer.
    async fn delete_then_restore(
        &self,
        token: &str,
        user: &str,
        meanwhile: impl std::future::Future<Output = ()>,
    ) -> Value {
        self.server
            .delete_as(token, &format!("/v1/users/{user}"))
            .await
            .assert_status_ok();
        meanwhile.await;
        let response = self
            .server
            .post_as(token, &format!("/v1/users/{user}/restore"))
            .await;
        assert_eq!(response.status_code(), 200, "{}", response.text());
        response.json()
    }

    /// The user as the log has it at `position` (the entity view).
    async fn user_as_of(&self, token: &str, user: &str, position: &Value) -> Value {
        self.server
            .get_as(token, &format!("/v1/users/{user}?as_of={position}"))
            .await
            .json()
    }
}

on_both_backends!(
    restore_answers_what_it_could_not_bring_back,
    |t: support::TestStore| async move {
        let api = TestApi::spawn(&t).await;
        let w = World::build(&api).await;
        let boss = &w.partner_admin.token;

        // Partner staff assigned to one customer.
        let staff = api
            .create_user(boss, &w.partner, "staff@reseller.example", "user")
            .await;
        api.server
            .put_as(boss, &format!("/v1/users/{staff}/customers"))
            .json(&json!({ "account_ids": [w.customer] }))
            .await
            .assert_status_ok();
        let restored = api.delete_then_restore(boss, &staff, async {}).await;
        assert_eq!(restored["licenses_not_restored"], json!([]));
        let view = api.user_as_of(boss, &staff, &restored["position"]).await;
        assert_eq!(view["status"], "active");
        assert_eq!(view["role"], "user");
        assert_eq!(view["assigned_customers"], json!([w.customer]));

        // An organization user holding a one-seat and a five-seat license;
        // the one seat is taken while the user is deleted.
        let scarce = api.create_license(boss, &w.customer, "Scarce", 1).await;
        let roomy = api.create_license(boss, &w.customer, "Roomy", 5).await;
        let holder = api
            .create_user(boss, &w.customer, "holder@customer.example", "support")
            .await;
        let other = api
            .create_user(boss, &w.customer, "other@customer.example", "regular")
            .await;
        for license in [&scarce, &roomy] {
            api.assign_license(boss, license, &holder).await;
        }
        let restored = api
            .delete_then_restore(boss, &holder, api.assign_license(boss, &scarce, &other))
            .await;
        assert_eq!(restored["licenses_not_restored"], json!([scarce]));
        let view = api.user_as_of(boss, &holder, &restored["position"]).await;
        assert_eq!(view["status"], "active");
        assert_eq!(view["role"], "support");
        assert_eq!(view["licenses"], json!([roomy]));
        for (license, holders) in [
            (&roomy, vec![holder.clone()]),
            (&scarce, vec![other.clone()]),
        ] {
            let listed: Value = api
                .server
                .get_as(
                    boss,
                    &format!(
                        "/v1/accounts/{}/users?license={license}&position={}",
                        w.customer, restored["position"]
                    ),
                )
                .await
                .json();
            let ids: Vec<&str> = listed["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["user_id"].as_str().unwrap())
                .collect();
            assert_eq!(ids, holders, "holders of {license}");
        }
    }
);

on_both_backends!(
    the_users_read_model_shows_assignments_and_licenses,
    |t: support::TestStore| async move {
        let api = TestApi::spawn(&t).await;
        let w = World::build(&api).await;
        let boss = &w.partner_admin.token;
        let second_org = api
            .create_account(boss, "organization", "Second Customer")
            .await;
        let staff = api
            .create_user(boss, &w.partner, "staff@reseller.example", "user")
            .await;
        let assigned = api
            .server
            .put_as(boss, &format!("/v1/users/{staff}/customers"))
            .json(&json!({ "account_ids": [second_org, w.customer] }))
            .await
            .json::<Value>();
        let mut both = vec![w.customer.clone(), second_org.clone()];
        both.sort();
        let shown: Value = api
            .server
            .get_as(
                boss,
                &format!("/v1/users/{staff}?position={}", assigned["position"]),
            )
            .await
            .json();
        assert_eq!(shown["role"], "user");
        assert_eq!(shown["status"], "active");
        assert_eq!(shown["assigned_customers"], json!(both));
        assert_eq!(shown["licenses"], json!([]));

        let holder = api
            .create_user(boss, &w.customer, "holder@customer.example", "support")
            .await;
        let mut licenses = Vec::new();
        for product in ["A", "B", "C"] {
            let license = api.create_license(boss, &w.customer, product, 2).await;
            api.assign_license(boss, &license, &holder).await;
            licenses.push(license);
        }
        let released = api
            .server
            .post_as(boss, &format!("/v1/licenses/{}/releases", licenses[1]))
            .json(&json!({ "user_ids": [holder] }))
            .await
            .json::<Value>();
        let mut held = vec![licenses[0].clone(), licenses[2].clone()];
        held.sort();
        let listed: Value = api
            .server
            .get_as(
                boss,
                &format!(
                    "/v1/accounts/{}/users?position={}",
                    w.customer, released["position"]
                ),
            )
            .await
            .json();
        let row = listed["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["user_id"] == json!(holder))
            .unwrap()
            .clone();
        assert_eq!(row["licenses"], json!(held));
        assert_eq!(row["assigned_customers"], json!([]));
        // The read model agrees with the log's view of the same moment.
        let view = api.user_as_of(boss, &holder, &released["position"]).await;
        assert_eq!(view["licenses"], row["licenses"]);

        // A deletion empties the licenses; the assignment of staff stays.
        let deleted = api
            .server
            .delete_as(boss, &format!("/v1/users/{holder}"))
            .await
            .json::<Value>();
        let shown: Value = api
            .server
            .get_as(
                boss,
                &format!("/v1/users/{holder}?position={}", deleted["position"]),
            )
            .await
            .json();
        assert_eq!(shown["status"], "deleted");
        assert_eq!(shown["licenses"], json!([]));
        let deleted = api
            .server
            .delete_as(boss, &format!("/v1/users/{staff}"))
            .await
            .json::<Value>();
        let shown: Value = api
            .server
            .get_as(
                boss,
                &format!("/v1/users/{staff}?position={}", deleted["position"]),
            )
            .await
            .json();
        assert_eq!(shown["assigned_customers"], json!(both));
    }
);

on_both_backends!(usernames_over_http, |t: support::TestStore| async move {
    let api = TestApi::spawn(&t).await;
    let w = World::build(&api).await;
    let boss = &w.partner_admin.token;
    let created = api
        .create_user_with(
            boss,
            &w.customer,
            json!({ "email": "ada@customer.example", "role": "regular", "username": " Ada.L " }),
        )
        .await;
    let ada = created["user_id"].as_str().unwrap().to_owned();
    let shown: Value = api
        .server
        .get_as(
            boss,
            &format!("/v1/users/{ada}?position={}", created["position"]),
        )
        .await
        .json();
    assert_eq!(shown["username"], "ada.l");

    // Bad and taken usernames are refused precisely and append nothing.
    let head = t.store.head().await.unwrap().position;
    let users = format!("/v1/accounts/{}/users", w.customer);
    for (username, status, code) in [
        ("a", 422, "invalid_username"),
        ("-ada", 422, "invalid_username"),
        ("ada lovelace", 422, "invalid_username"),
        ("ADA.L", 409, "username_taken"),
    ] {
        let response = api
            .server
            .post_as(boss, &users)
            .json(&json!({
                "email": "bob@customer.example", "name": "Bob", "role": "regular",
                "password": PASSWORD, "username": username
            }))
            .expect_failure()
            .await;
        assert_eq!(
            response.status_code(),
            status,
            "{username}: {}",
            response.text()
        );
        assert_eq!(error_code(&response), code, "{username}");
    }
    let bob = api
        .create_user_with(
            boss,
            &w.customer,
            json!({ "email": "bob@customer.example", "role": "regular" }),
        )
        .await["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let after_bob = t.store.head().await.unwrap().position;
    assert!(after_bob > head);
    for (username, status, code) in [
        ("x", 422, "invalid_username"),
        ("Ada.l", 409, "username_taken"),
    ] {
        let response = api
            .server
            .patch_as(boss, &format!("/v1/users/{bob}"))
            .json(&json!({ "username": username }))
            .expect_failure()
            .await;
        assert_eq!(
            response.status_code(),
            status,
            "{username}: {}",
            response.text()
        );
        assert_eq!(error_code(&response), code, "{username}");
    }
    assert_eq!(t.store.head().await.unwrap().position, after_bob);

    // Ada renames herself; Bob takes her old username.
    let ada_token = api.sign_in("ada@customer.example", PASSWORD).await;
    api.server
        .patch_as(&ada_token, &format!("/v1/users/{ada}"))
        .json(&json!({ "username": "lovelace" }))
        .await
        .assert_status_ok();
    let patched = api
        .server
        .patch_as(boss, &format!("/v1/users/{bob}"))
        .json(&json!({ "username": "ada.l" }))
        .await;
    assert_eq!(patched.status_code(), 200, "{}", patched.text());
    let listed: Value = api
        .server
        .get_as(
            boss,
            &format!("{users}?position={}", patched.json::<Value>()["position"]),
        )
        .await
        .json();
    let by_id = |id: &str| {
        listed["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["user_id"] == id)
            .unwrap()["username"]
            .clone()
    };
    assert_eq!(by_id(&ada), "lovelace");
    assert_eq!(by_id(&bob), "ada.l");

    // Deleted, her username taken meanwhile: restored without it.
    let taker = || async {
        api.create_user_with(
            boss,
            &w.customer,
            json!({ "email": "carol@customer.example", "role": "regular", "username": "lovelace" }),
        )
        .await;
    };
    let restored = api.delete_then_restore(boss, &ada, taker()).await;
    assert_eq!(restored["username_not_restored"], "lovelace");
    let view = api.user_as_of(boss, &ada, &restored["position"]).await;
    assert_eq!(view["status"], "active");
    assert_eq!(view["username"], Value::Null);
    let shown: Value = api
        .server
        .get_as(
            boss,
            &format!("/v1/users/{ada}?position={}", restored["position"]),
        )
        .await
        .json();
    assert_eq!(shown["username"], Value::Null);
});
