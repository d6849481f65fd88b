//! The partner kit on both backends, over HTTP: the platform's admins
//! publish, change and withdraw materials; partner admins and marketing
//! read them; other partner roles are refused, organizations' users do not
//! see a kit at all, and marketing still sees no customer data.

use crate::support;

use portal_ledger::app::accounts::CreateAccount;
use portal_ledger::app::partner_kit;
use portal_ledger::app::partner_kit::NewKitItem;
use portal_ledger::app::{CommandContext, LedgerError};
use portal_ledger::domain::ids::{AccountId, KitItemId, UserId};
use portal_ledger::domain::partner_kit::{Category, Description, Material, Title};
use portal_ledger::domain::permissions::Denied;
use portal_ledger::domain::role::{AccountKind, Role};
use serde_json::{json, Value};
use support::http::{answer, AsCaller, TestApi};
use uuid::Uuid;

const PASSWORD: &str = "kit password 1";

impl TestApi {
    async fn account(&self, kind: AccountKind, name: &str, parent: AccountId) -> AccountId {
        let id = AccountId(Uuid::now_v7());
        self.auth
            .ledger()
            .run(
                &CommandContext::system(),
                CreateAccount {
                    account_id: id,
                    kind,
                    name: String::from(name),
                    parent: Some(parent),
                },
            )
            .await
            .unwrap();
        id
    }

    /// A user of `account` with `role`, signed in: (id, token).
    async fn user(&self, account: AccountId, role: Role, email: &str) -> (UserId, String) {
        let user = support::user_in(self.ledger(), account, email, role).await;
        let token = self.password_and_sign_in(user, PASSWORD).await;
        (user, token)
    }
}

on_both_backends!(
    the_platform_publishes_and_partners_read_the_kit,
    |t: support::TestStore| async move {
        let api = TestApi::spawn(&t).await;
        let root = api.root().await;
        let s = &api.server;
        let partner = api
            .account(AccountKind::Partner, "Reseller", api.platform)
            .await;
        let customer = api
            .account(AccountKind::Organization, "Acme", partner)
            .await;
        let direct = api
            .account(AccountKind::Organization, "Direct", api.platform)
            .await;
        let (_, partner_admin) = api
            .user(partner, Role::Admin, "boss@reseller.example")
            .await;
        let (_, marketing) = api
            .user(partner, Role::Marketing, "brand@reseller.example")
            .await;
        let (_, sales) = api
            .user(partner, Role::Sales, "sales@reseller.example")
            .await;
        let (_, regular) = api
            .user(partner, Role::Regular, "ops@reseller.example")
            .await;
        let (_, customer_admin) = api.user(customer, Role::Admin, "it@acme.example").await;
        let (_, direct_admin) = api.user(direct, Role::Admin, "it@direct.example").await;
        let (_, platform_support) = api
            .user(api.platform, Role::Support, "help@platform.example")
            .await;

        let brochure = json!({
            "title": "Brochure 2027", "description": "The product brochure",
            "url": "https://cdn.example/brochure.pdf", "category": "Brochures"
        });
        // Bad input: precise codes, nothing appended.
        let head = t.store.head().await.unwrap();
        let mut bad = Vec::new();
        for (change, code) in [
            (json!({ "title": " " }), "invalid_title"),
            (json!({ "description": "" }), "invalid_text"),
            (json!({ "category": "" }), "invalid_category"),
            (json!({ "url": "ftp://cdn.example/x" }), "invalid_url"),
            (json!({ "content": "both at once" }), "invalid_kit_material"),
        ] {
            let mut body = brochure.clone();
            for (k, v) in change.as_object().unwrap() {
                body[k] = v.clone();
            }
            let response = s.post_as(&root, "/v1/partner-kit").json(&body).await;
            if answer(&response) != (422, code.to_owned()) {
                bad.push(format!("{change}: {}", response.text()));
            }
        }
        assert!(bad.is_empty(), "{bad:#?}");
        // Only the platform's admins publish.
        for token in [&partner_admin, &marketing, &platform_support] {
            let response = s.post_as(token, "/v1/partner-kit").json(&brochure).await;
            assert_eq!(
                answer(&response),
                (403, "forbidden".to_owned()),
                "{}",
                response.text()
            );
        }
        for token in [&customer_admin, &direct_admin] {
            let response = s.post_as(token, "/v1/partner-kit").json(&brochure).await;
            assert_eq!(
                answer(&response),
                (404, "not_found".to_owned()),
                "{}",
                response.text()
            );
        }
        assert_eq!(
            t.store.head().await.unwrap(),
            head,
            "a refused request appended"
        );

        let response = s.post_as(&root, "/v1/partner-kit").json(&brochure).await;
        assert_eq!(response.status_code(), 201, "{}", response.text());
        let brochure_id = response.json::<Value>()["item_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let response = s
            .post_as(&root, "/v1/partner-kit")
            .json(&json!({
                "title": "Launch e-mail", "description": "Announce the new walls",
                "content": "Dear customer, …", "category": "e-mail templates"
            }))
            .await;
        assert_eq!(response.status_code(), 201, "{}", response.text());
        let email_id = response.json::<Value>()["item_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let response = s
            .patch_as(&root, &format!("/v1/partner-kit/{brochure_id}"))
            .json(&json!({ "title": "Brochure 2027 (EN)", "content": "Inline now" }))
            .await;
        assert_eq!(response.status_code(), 200, "{}", response.text());
        let position = response.json::<Value>()["position"].as_u64().unwrap();
        let response = s
            .patch_as(&root, &format!("/v1/partner-kit/{brochure_id}"))
            .json(&json!({ "title": "Brochure 2027 (EN)" }))
            .await;
        assert_eq!(answer(&response), (409, "no_change".to_owned()));
        let response = s
            .patch_as(&marketing, &format!("/v1/partner-kit/{brochure_id}"))
            .json(&json!({ "title": "Mine" }))
            .await;
        assert_eq!(answer(&response), (403, "forbidden".to_owned()));

        // Partner admins and marketing read it; the rest of the partner does not.
        for token in [&partner_admin, &marketing, &root] {
            let response = s
                .get_as(token, &format!("/v1/partner-kit?position={position}"))
                .await;
            assert_eq!(response.status_code(), 200, "{}", response.text());
            let items = response.json::<Value>()["items"].clone();
            let items = items.as_array().unwrap();
            assert_eq!(items.len(), 2, "{items:?}");
            // Newest first: the launch e-mail was published after the
            // brochure (which its edit did not move).
            assert_eq!(items[0]["category"], "e-mail templates");
            assert_eq!(items[1]["title"], "Brochure 2027 (EN)");
            assert_eq!(items[1]["url"], Value::Null);
            assert_eq!(items[1]["content"], "Inline now");
        }
        for token in [&sales, &regular, &platform_support] {
            let response = s.get_as(token, "/v1/partner-kit").await;
            assert_eq!(answer(&response), (403, "forbidden".to_owned()));
        }
        for token in [&customer_admin, &direct_admin] {
            let response = s.get_as(token, "/v1/partner-kit").await;
            assert_eq!(answer(&response), (404, "not_found".to_owned()));
        }
        assert_eq!(
            answer(&s.get("/v1/partner-kit").await),
            (401, "unauthenticated".to_owned())
        );

        // Marketing still sees no customer data, nor its own account's users.
        let response = s
            .get_as(&marketing, &format!("/v1/accounts/{customer}/users"))
            .await;
        assert_eq!(answer(&response), (404, "not_found".to_owned()));
        let response = s
            .get_as(&marketing, &format!("/v1/accounts/{partner}/users"))
            .await;
        assert_eq!(answer(&response), (403, "forbidden".to_owned()));

        // Withdrawn: gone from the kit, twice is not found.
        let response = s
            .delete_as(&root, &format!("/v1/partner-kit/{email_id}"))
            .await;
        assert_eq!(response.status_code(), 200, "{}", response.text());
        let withdrawn_at = response.json::<Value>()["position"].as_u64().unwrap();
        let response = s
            .delete_as(&root, &format!("/v1/partner-kit/{email_id}"))
            .await;
        assert_eq!(answer(&response), (404, "not_found".to_owned()));
        let items = s
            .get_as(
                &marketing,
                &format!("/v1/partner-kit?position={withdrawn_at}"),
            )
            .await
            .json::<Value>()["items"]
            .clone();
        assert_eq!(items.as_array().unwrap().len(), 1);

        // The platform's activity log has every change, as "Update Partner Kit".
        let activity = s.get_as(&root, &format!(
                "/v1/accounts/{}/activity?position={withdrawn_at}&action_types=Update%20Partner%20Kit",
                api.platform
            ))
            .await
            .json::<Value>();
        let text = activity.to_string();
        for description in [
            "Published Brochure 2027 to the partner kit",
            "Updated Brochure 2027 in the partner kit",
            "Withdrew Launch e-mail from the partner kit",
        ] {
            assert!(text.contains(description), "{description}: {text}");
        }
    }
);

on_both_backends!(
    the_system_publishes_for_the_platform_it_names,
    |t: support::TestStore| async move {
        let api = TestApi::spawn(&t).await;
        let ledger = api.auth.ledger();
        let item = || NewKitItem {
            title: Title::parse("Logo pack").unwrap(),
            description: Description::parse("Logos in every size").unwrap(),
            material: Material::parse(Some("https://cdn.example/logos.zip"), None).unwrap(),
            category: Category::parse("logos").unwrap(),
        };
        let system = CommandContext::system();
        let err = ledger
            .run(
                &system,
                partner_kit::PublishKitItem {
                    platform: None,
                    item_id: KitItemId(Uuid::now_v7()),
                    item: item(),
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, LedgerError::Domain(_)), "{err}");
        let partner = api
            .account(AccountKind::Partner, "Reseller", api.platform)
            .await;
        let err = ledger
            .run(
                &system,
                partner_kit::PublishKitItem {
                    platform: Some(partner),
                    item_id: KitItemId(Uuid::now_v7()),
                    item: item(),
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, LedgerError::Denied(Denied::Hidden)), "{err}");
        let id = KitItemId(Uuid::now_v7());
        ledger
            .run(
                &system,
                partner_kit::PublishKitItem {
                    platform: Some(api.platform),
                    item_id: id,
                    item: item(),
                },
            )
            .await
            .unwrap();
        let err = ledger
            .run(
                &system,
                partner_kit::PublishKitItem {
                    platform: Some(api.platform),
                    item_id: id,
                    item: item(),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "it exists already");
        ledger
            .run(&system, partner_kit::WithdrawKitItem { item_id: id })
            .await
            .unwrap();
    }
);
