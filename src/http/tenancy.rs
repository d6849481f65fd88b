//! The tenancy views a partner portal is built around (the Userful
//! portal's Customers and Servers pages): a partner's customer
//! organizations with counts, its customers' servers in one list grouped
//! by customer, and any account's staff (its owner and admins).
//!
//! Why a module of its own: these lists cross accounts — a partner's view
//! holds rows of its customers — so each row's account is one the caller
//! may read, asked of the matrix the way every other surface asks it
//! (`Ledger::visibility` over the partner's customers: a staff member
//! assigned to some customers sees those), and a customer's server only
//! while its grant to the partner stands (`reading.rs`).

use axum::extract::State;
use axum::Json;
use chrono::Utc;
use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::ids::AccountId;
use crate::domain::permissions::Action;
use crate::domain::role::AccountKind;
use crate::domain::visibility::Visibility;
use crate::http::context::Caller;
use crate::http::error::{ApiError, ApiPath, ApiQuery};
use crate::http::paging::{fingerprint, Key, Keyset, PageRequest};
use crate::http::reads::{caught_up, page_of, AccountRows, ListQuery, Page, ReadAfter};
use crate::http::schemas::ReadErrors;
use crate::http::AppState;
use crate::projection::query::Condition;
use crate::projection::{accounts, licenses, servers, users, SqlValue};

/// The customers of an account the caller may `action` in, and whether
/// they see them as the partner's staff (so a server's grant matters).
struct Customers {
    visible: Vec<AccountId>,
    via_partner: bool,
}

/// Asks the matrix for `action` in `account` itself, then for each of its
/// customer organizations.
async fn customers_in_view(
    state: &AppState,
    caller: &Caller,
    account: AccountId,
    action: Action,
) -> Result<Customers, ApiError> {
    state
        .ledger
        .authorize_list(&caller.context, action, account)
        .await?;
    let all: Vec<AccountId> = state
        .projections
        .target()
        .query(
            accounts::TABLE,
            &[
                Condition::Eq("parent_id", SqlValue::text(account.to_string())),
                Condition::Eq("kind", SqlValue::text("organization")),
            ],
            "account_id",
            usize::MAX >> 1,
        )
        .await?
        .iter()
        .filter_map(|row| row["account_id"].as_str()?.parse().ok())
        .map(AccountId)
        .collect();
    // The platform's staff (and anyone else allowed in the account
    // without being its staff) read every customer as the platform.
    if caller.credential.account_id() != account {
        return Ok(Customers {
            visible: all,
            via_partner: false,
        });
    }
    Ok(
        match state
            .ledger
            .visibility(&caller.context, action, &all)
            .await?
        {
            Visibility::All => Customers {
                visible: all,
                via_partner: false,
            },
            Visibility::Accounts(seen) => Customers {
                visible: seen.into_iter().filter(|a| *a != account).collect(),
                via_partner: true,
            },
        },
    )
}

fn ids(accounts: &[AccountId]) -> Vec<SqlValue> {
    accounts
        .iter()
        .map(|a| SqlValue::text(a.to_string()))
        .collect()
}

/// Customers oldest first, then by id.
const CUSTOMERS: Keyset = Keyset {
    list: "customers",
    keys: &[Key::time("created_at"), Key::text("account_id")],
};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomersPage {
    /// `proj_accounts` rows of the customer organizations, each with
    /// `counts`: its active users, the servers the caller may read, its
    /// active licenses.
    #[schema(value_type = Vec<Object>)]
    pub customers: Vec<Value>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `GET /v1/accounts/{id}/customers` — a partner's customer organizations
/// (the platform's: those it created directly), with counts.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/customers", tag = "accounts",
    params(("account_id" = AccountId, Path, description = "account id"), ListQuery),
    responses((status = 200, body = CustomersPage), ReadErrors))]
pub async fn customers(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<CustomersPage>, ApiError> {
    let account = account_id.to_string();
    let page = PageRequest::parse(
        query.limit,
        query.cursor.as_deref(),
        fingerprint(CUSTOMERS.list, &[&account]),
    )?;
    let scope = customers_in_view(&state, &caller, account_id, Action::ViewAccount).await?;
    caught_up(
        &state,
        &ReadAfter::at(query.position),
        &[
            accounts::TABLE,
            users::TABLE,
            servers::TABLE,
            licenses::LICENSES,
        ],
    )
    .await?;
    let now = Utc::now();
    let conditions = vec![Condition::In("account_id", ids(&scope.visible))];
    let Page { rows, next_cursor } =
        page_of(&state, accounts::TABLE, &CUSTOMERS, conditions, &page).await?;
    let target = state.projections.target();
    let mut customers = Vec::with_capacity(rows.len());
    for mut row in rows {
        let id = SqlValue::text(row["account_id"].as_str().unwrap_or_default());
        let in_it = || Condition::Eq("account_id", id.clone());
        let users = target
            .count(
                users::TABLE,
                &[in_it(), Condition::Eq("status", SqlValue::text("active"))],
            )
            .await?;
        let mut server_conditions = vec![in_it()];
        if scope.via_partner {
            server_conditions.push(servers::grant_stands(now));
        }
        let servers = target.count(servers::TABLE, &server_conditions).await?;
        let licenses = target
            .count(
                licenses::LICENSES,
                &[in_it(), Condition::Eq("status", SqlValue::text("active"))],
            )
            .await?;
        if let Some(object) = row.as_object_mut() {
            object.insert(
                "counts".into(),
                json!({ "users": users, "servers": servers, "licenses": licenses }),
            );
        }
        customers.push(row);
    }
    Ok(Json(CustomersPage {
        customers,
        next_cursor,
    }))
}

/// A partner's servers view: grouped by account (the partner's own, then
/// each customer's), oldest first within one.
const PARTNER_SERVERS: Keyset = Keyset {
    list: "partner servers",
    keys: &[
        Key::text("account_id"),
        Key::time("created_at"),
        Key::text("server_id"),
    ],
};

/// `GET /v1/accounts/{id}/servers` on a partner: its own servers and its
/// customers' in one list grouped by account — of a customer, for the
/// partner's staff, those whose grant stands. `None` when the account is
/// not a partner (the plain list answers).
pub(crate) async fn partner_servers(
    state: &AppState,
    caller: &Caller,
    account_id: AccountId,
    query: &ListQuery,
) -> Result<Option<Page>, ApiError> {
    if state.ledger.account(account_id).await?.kind != Some(AccountKind::Partner) {
        return Ok(None);
    }
    let account = account_id.to_string();
    let page = PageRequest::parse(
        query.limit,
        query.cursor.as_deref(),
        fingerprint(PARTNER_SERVERS.list, &[&account]),
    )?;
    let scope = customers_in_view(state, caller, account_id, Action::ViewServers).await?;
    caught_up(state, &ReadAfter::at(query.position), &[servers::TABLE]).await?;
    let mut customers = vec![Condition::In("account_id", ids(&scope.visible))];
    if scope.via_partner {
        customers.push(servers::grant_stands(Utc::now()));
    }
    let conditions = vec![Condition::Either(vec![
        vec![Condition::Eq("account_id", SqlValue::text(account))],
        customers,
    ])];
    Ok(Some(
        page_of(state, servers::TABLE, &PARTNER_SERVERS, conditions, &page).await?,
    ))
}

/// Staff oldest first, then by id (as users).
const STAFF: Keyset = Keyset {
    list: "staff",
    keys: &[Key::time("created_at"), Key::text("user_id")],
};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StaffPage {
    /// `proj_users` rows of the account's active admins, each with
    /// `owner` (true for its primary admin).
    #[schema(value_type = Vec<Object>)]
    pub staff: Vec<Value>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `GET /v1/accounts/{id}/staff` — the account's owner and admins.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/staff", tag = "accounts",
    params(("account_id" = AccountId, Path, description = "account id"), ListQuery),
    responses((status = 200, body = StaffPage), ReadErrors))]
pub async fn staff(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<StaffPage>, ApiError> {
    let page = AccountRows::list(Action::ViewUsers, users::TABLE, &STAFF)
        .filtered(
            "admins".into(),
            Condition::Eq("role", SqlValue::text("admin")),
        )
        .filtered(
            "active".into(),
            Condition::Eq("status", SqlValue::text("active")),
        )
        .read(&state, &caller, account_id, &query)
        .await?;
    let owner = state
        .ledger
        .account(account_id)
        .await?
        .primary_admin
        .map(|u| u.to_string());
    let staff = page
        .rows
        .into_iter()
        .map(|mut row| {
            let is_owner = owner.is_some() && row["user_id"].as_str() == owner.as_deref();
            if let Some(object) = row.as_object_mut() {
                object.insert("owner".into(), json!(is_owner));
            }
            row
        })
        .collect();
    Ok(Json(StaffPage {
        staff,
        next_cursor: page.next_cursor,
    }))
}
