//! The portal most HTTP tests stand in, built once here through the API
//! itself: the platform's root admin; a partner with two admins and a
//! read-only auditor; its customer organization with two admins (the
//! first is the owner); and another partner with an organization of its
//! own, for "another tenant". Tests that need more (a server, staff) add
//! it to this world rather than building their own.

use serde_json::{json, Value};

use super::http::TestApi;

/// Every person's password in the world.
pub const PASSWORD: &str = "a long enough password";

/// A user of the world: their id and a bearer token.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: String,
    pub token: String,
}

/// Platform → partner (admin, deputy, auditor) → customer (owner, admin);
/// platform → other partner → other organization (admin).
pub struct World {
    /// The root admin's token.
    pub root: String,
    pub partner: String,
    pub partner_admin: Member,
    pub partner_deputy: Member,
    pub partner_auditor: Member,
    pub customer: String,
    /// The customer's first admin: its owner.
    pub customer_owner: Member,
    pub customer_admin: Member,
    pub other_partner: String,
    pub other_org: String,
    pub other_admin: Member,
}

impl World {
    pub async fn build(api: &TestApi) -> Self {
        let root = api.root().await;
        let (partner, id, token) = api
            .invite_partner(&root, "Reseller Ltd", "boss@reseller.example", PASSWORD)
            .await;
        let partner_admin = Member { id, token };
        let partner_deputy = member(
            api,
            &partner_admin.token,
            &partner,
            "deputy@reseller.example",
            "admin",
        )
        .await;
        let partner_auditor = member(
            api,
            &partner_admin.token,
            &partner,
            "audit@reseller.example",
            "read-only",
        )
        .await;
        let customer = api
            .create_account(&partner_admin.token, "organization", "Customer GmbH")
            .await;
        let customer_owner = member(
            api,
            &partner_admin.token,
            &customer,
            "owner@customer.example",
            "admin",
        )
        .await;
        let customer_admin = member(
            api,
            &partner_admin.token,
            &customer,
            "second@customer.example",
            "admin",
        )
        .await;
        let (other_partner, _, _) = api
            .invite_partner(&root, "Other Partner", "boss@other.example", PASSWORD)
            .await;
        let other_org = organization_of(api, &root, &other_partner, "Elsewhere").await;
        let other_admin = member(api, &root, &other_org, "far@elsewhere.example", "admin").await;
        World {
            root,
            partner,
            partner_admin,
            partner_deputy,
            partner_auditor,
            customer,
            customer_owner,
            customer_admin,
            other_partner,
            other_org,
            other_admin,
        }
    }
}

/// Creates a user of `account` with [`PASSWORD`] and signs them in.
pub async fn member(api: &TestApi, token: &str, account: &str, email: &str, role: &str) -> Member {
    let fields =
        json!({ "email": email, "name": "Some Person", "role": role, "password": PASSWORD });
    let created: Value = api.add_user(token, account, &fields).await;
    Member {
        id: created["user_id"].as_str().unwrap().to_owned(),
        token: api.sign_in(email, PASSWORD).await,
    }
}

/// Creates an organization under `parent` (as the platform may) and
/// returns its id.
async fn organization_of(api: &TestApi, token: &str, parent: &str, name: &str) -> String {
    let response = api
        .server
        .post("/v1/accounts")
        .authorization_bearer(token)
        .json(&json!({ "kind": "organization", "name": name, "parent_id": parent }))
        .await;
    assert_eq!(response.status_code(), 201, "{}", response.text());
    response.json::<Value>()["account_id"]
        .as_str()
        .unwrap()
        .to_owned()
}
