//! The service over loopback HTTP for the tests that drive the real router.
//!
//! Every HTTP test needs the same wiring `serve` does — read models started
//! on the store, an `Auth` over a `Ledger` with the root admin
//! bootstrapped, an `AppState`, the router on a real connection — and the
//! same few requests (sign in, read the error code of a refusal, create an
//! account or a user). Eight test binaries used to carry their own copy of
//! that wiring, and copies drift: one forgot the notifier, another the
//! peer address. Here it exists once; the ways tests differ (the client's
//! address known to handlers, no notifier at all) are explicit
//! [`TestApiBuilder`] options rather than edited copies.

use std::net::SocketAddr;
use std::sync::Arc;

use axum_test::{TestRequest, TestResponse, TestServer};
use chrono::Utc;
use portal_ledger::app::sessions::Auth;
use portal_ledger::app::{CommandContext, Ledger};
use portal_ledger::auth::password::Password;
use portal_ledger::backend::{open_projections, Migrations};
use portal_ledger::domain::email::Email;
use portal_ledger::domain::ids::{AccountId, UserId};
use portal_ledger::http::router;
use portal_ledger::notify::MemoryNotifier;
use portal_ledger::projection::runner::Projections;
use serde_json::{json, Value};

use super::TestStore;

/// The root admin `TestApi` bootstraps.
pub const ROOT_EMAIL: &str = "root@platform.example";

/// The router served on a loopback port, with what tests reach behind it.
pub struct TestApi {
    pub server: TestServer,
    /// The service's `Auth` (and through it the ledger), for making
    /// fixtures without HTTP.
    pub auth: Auth,
    /// Kept running for as long as the server is; reads wait on it.
    pub projections: Arc<Projections>,
    /// The platform account the bootstrap created.
    pub platform: AccountId,
    /// The root admin's generated password.
    pub root_password: String,
    /// What the service e-mailed (empty when built without a notifier).
    pub mail: MemoryNotifier,
}

/// How to build a [`TestApi`]; the defaults are what most tests need.
pub struct TestApiBuilder {
    connect_info: bool,
    notifier: bool,
    rate_limits: Option<portal_ledger::http::rate_limit::RateLimits>,
}

impl TestApi {
    /// The service with the defaults: notifications recorded in
    /// [`TestApi::mail`], no peer address.
    pub async fn spawn(t: &TestStore) -> Self {
        Self::builder().spawn(t).await
    }

    pub fn builder() -> TestApiBuilder {
        TestApiBuilder {
            connect_info: false,
            notifier: true,
            rate_limits: None,
        }
    }

    pub fn ledger(&self) -> &Ledger {
        self.auth.ledger()
    }

    /// Signs in (expecting 201) and returns the bearer token.
    pub async fn sign_in(&self, email: &str, password: &str) -> String {
        sign_in(&self.server, email, password).await
    }

    /// Signs in (expecting 201) and returns the token and the whole answer.
    pub async fn session(&self, email: &str, password: &str) -> (String, Value) {
        session(&self.server, email, password).await
    }

    /// A bearer token for the root admin.
    pub async fn root(&self) -> String {
        self.sign_in(ROOT_EMAIL, &self.root_password).await
    }

    /// Gives `user` its first password as the system, then signs in with
    /// it; returns the bearer token.
    pub async fn password_and_sign_in(&self, user: UserId, password: &str) -> String {
        self.auth
            .set_initial_password(
                &CommandContext::system(),
                user,
                &Password::parse(password).unwrap(),
                Utc::now(),
            )
            .await
            .unwrap();
        let email = self.ledger().user(user).await.unwrap().email.unwrap();
        self.sign_in(email.as_str(), password).await
    }

    /// Creates an account over HTTP (expecting 201); returns its id.
    pub async fn create_account(&self, token: &str, kind: &str, name: &str) -> String {
        let response = self
            .server
            .post("/v1/accounts")
            .authorization_bearer(token)
            .json(&json!({ "kind": kind, "name": name }))
            .await;
        assert_eq!(response.status_code(), 201, "{}", response.text());
        let body: Value = response.json();
        body["account_id"].as_str().unwrap().to_owned()
    }

    /// The last signup code e-mailed to `to` (the last line of the mail).
    pub fn signup_code(&self, to: &str) -> String {
        let mail = self
            .mail
            .sent()
            .into_iter()
            .rev()
            .find(|e| e.to == to)
            .unwrap_or_else(|| panic!("no e-mail to {to}"));
        mail.body
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    /// Brings in a partner the only way there is: the platform (`token`)
    /// invites `admin_email` with a partner tenant, who signs up with the
    /// e-mailed code and `password`. Returns the partner's id, and its
    /// first admin's id and bearer token.
    pub async fn invite_partner(
        &self,
        token: &str,
        name: &str,
        admin_email: &str,
        password: &str,
    ) -> (String, String, String) {
        let invited = self
            .server
            .post(&format!("/v1/accounts/{}/invitations", self.platform))
            .authorization_bearer(token)
            .json(&json!({ "email": admin_email, "tenant": { "kind": "partner", "name": name } }))
            .await;
        assert_eq!(invited.status_code(), 201, "{}", invited.text());
        let code = self.signup_code(admin_email);
        let accepted = self
            .server
            .post("/v1/invitations/accept")
            .json(&json!({ "code": code, "name": "Partner Admin", "password": password }))
            .await;
        assert_eq!(accepted.status_code(), 201, "{}", accepted.text());
        let signed_up: Value = accepted.json();
        let text = |key: &str| signed_up[key].as_str().unwrap().to_owned();
        let token = self.sign_in(admin_email, password).await;
        (text("account_id"), text("user_id"), token)
    }

    /// Creates a user of `account` from `fields` over HTTP (expecting
    /// 201); returns the answer.
    pub async fn add_user(&self, token: &str, account: &str, fields: &Value) -> Value {
        let response = self
            .server
            .post(&format!("/v1/accounts/{account}/users"))
            .authorization_bearer(token)
            .json(fields)
            .await;
        assert_eq!(response.status_code(), 201, "{}", response.text());
        response.json()
    }
}

impl TestApiBuilder {
    /// Serves with the peer address, as `serve` does, so handlers (and the
    /// entries they append) know the client's ip.
    pub fn with_connect_info(mut self) -> Self {
        self.connect_info = true;
        self
    }

    /// Leaves `Auth` without a notifier, as a deployment without mail.
    /// Rate limits on commands and sign-in, as `serve` has them (tests
    /// that are not about them run without).
    pub fn with_rate_limits(mut self, per_second: u32, burst: u32) -> Self {
        self.rate_limits = Some(portal_ledger::http::rate_limit::RateLimits { per_second, burst });
        self
    }

    pub fn without_notifier(mut self) -> Self {
        self.notifier = false;
        self
    }

    pub async fn spawn(self, t: &TestStore) -> TestApi {
        let projections = Projections::new(
            t.store.clone(),
            t.personal.clone(),
            open_projections(&t.location, Migrations::Apply)
                .await
                .unwrap(),
        );
        projections.start();
        let mail = MemoryNotifier::default();
        // The app `serve` runs, with e-mails kept for the test to read.
        let state = portal_ledger::service::app_state(
            &t.backend,
            t.personal.clone(),
            projections.clone(),
            portal_ledger::service::Settings {
                notifier: self
                    .notifier
                    .then(|| Arc::new(mail.clone()) as portal_ledger::notify::SharedNotifier),
                rate_limits: self.rate_limits,
                ..Default::default()
            },
        );
        let auth = state.auth.clone();
        let (platform, _, password) = auth
            .bootstrap(&Email::parse(ROOT_EMAIL).unwrap(), Utc::now())
            .await
            .unwrap();
        let builder = TestServer::builder().http_transport();
        let server = if self.connect_info {
            builder.build(router(state).into_make_service_with_connect_info::<SocketAddr>())
        } else {
            builder.build(router(state))
        };
        TestApi {
            server,
            auth,
            projections,
            platform,
            root_password: password.expose().to_owned(),
            mail,
        }
    }
}

/// Signs in on `server` (expecting 201) and returns the bearer token.
pub async fn sign_in(server: &TestServer, email: &str, password: &str) -> String {
    session(server, email, password).await.0
}

async fn session(server: &TestServer, email: &str, password: &str) -> (String, Value) {
    let response = server
        .post("/v1/sessions")
        .json(&json!({ "email": email, "password": password }))
        .await;
    assert_eq!(response.status_code(), 201, "{}", response.text());
    let body: Value = response.json();
    (body["token"].as_str().unwrap().to_owned(), body)
}

/// The `error.code` of an answer; empty when it has none (or is no JSON).
pub fn error_code(response: &TestResponse) -> String {
    serde_json::from_str::<Value>(&response.text())
        .ok()
        .and_then(|body| body["error"]["code"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The status and `error.code` of an answer, for comparing refusals.
pub fn answer(response: &TestResponse) -> (u16, String) {
    (response.status_code().as_u16(), error_code(response))
}

/// Requests as a signed-in caller: `server.get_as(token, path)` is
/// `server.get(path)` with the bearer token, so a test says who asks and
/// what in one line.
pub trait AsCaller {
    fn get_as(&self, token: &str, path: &str) -> TestRequest;
    fn post_as(&self, token: &str, path: &str) -> TestRequest;
    fn put_as(&self, token: &str, path: &str) -> TestRequest;
    fn patch_as(&self, token: &str, path: &str) -> TestRequest;
    fn delete_as(&self, token: &str, path: &str) -> TestRequest;
}

impl AsCaller for TestServer {
    fn get_as(&self, token: &str, path: &str) -> TestRequest {
        self.get(path).authorization_bearer(token)
    }

    fn post_as(&self, token: &str, path: &str) -> TestRequest {
        self.post(path).authorization_bearer(token)
    }

    fn put_as(&self, token: &str, path: &str) -> TestRequest {
        self.put(path).authorization_bearer(token)
    }

    fn patch_as(&self, token: &str, path: &str) -> TestRequest {
        self.patch(path).authorization_bearer(token)
    }

    fn delete_as(&self, token: &str, path: &str) -> TestRequest {
        self.delete(path).authorization_bearer(token)
    }
}
