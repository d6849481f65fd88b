//! `/v1/accounts/{id}/servers` and `/v1/servers/…`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::members::MemberKind;
use crate::app::servers as command;
use crate::app::Ran;
use crate::domain::ids::{AccountId, LicenseId, ServerId};
use crate::domain::permissions::Action;
use crate::http::context::Caller;
use crate::http::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::http::history::{list_as_of, ListAt};
use crate::http::paging::{Key, Keyset};
use crate::http::reads::AccountRows;
use crate::http::schemas::{created, Appended, CommandErrors, ReadErrors};
use crate::http::tenancy::partner_servers;
use crate::http::AppState;
use crate::projection::servers;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterServer {
    pub name: String,
    pub location: Option<String>,
    /// The customer's decision at setup (servers a partner sets up start
    /// with access granted).
    #[serde(default)]
    pub partner_access: bool,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServerRegistered {
    pub server_id: ServerId,
    pub position: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ServersPage {
    #[schema(value_type = Vec<Object>)]
    pub servers: Vec<serde_json::Value>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateServer {
    pub name: Option<String>,
    pub location: Option<String>,
    pub notifications: Option<bool>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartnerAccess {
    pub granted: bool,
    /// When a grant ends (RFC 3339, in the future); absent: until revoked.
    /// On a grant that stands (or ran out), a new `until` moves its end.
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerActionBody {
    /// What was done, e.g. `control center opened`, `files uploaded`.
    pub action: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Configuration {
    pub summary: String,
}

/// The license a server runs under: `{"license_id": "<id>"}`, or
/// `{"license_id": null}` for none (the field is required).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerLicense {
    #[serde(deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub license_id: Option<LicenseId>,
}

/// A required field that may be null (serde treats a missing `Option` as
/// `None`; this makes it an error instead).
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BackupMade {
    pub backup_id: String,
    pub position: u64,
}

#[utoipa::path(post, path = "/v1/accounts/{account_id}/servers", tag = "servers",
    params(("account_id" = AccountId, Path, description = "account id")), request_body = RegisterServer,
    responses((status = 201, body = ServerRegistered), CommandErrors))]
pub async fn register(
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiJson(body): ApiJson<RegisterServer>,
) -> Result<(StatusCode, Json<ServerRegistered>), ApiError> {
    let server_id = ServerId(Uuid::now_v7());
    let command = command::RegisterServer {
        account_id,
        server_id,
        name: body.name,
        location: body.location,
        partner_access: body.partner_access,
    };
    let ran = caller.run(command).await?;
    Ok(created(ServerRegistered {
        server_id,
        position: ran.last_position(),
    }))
}

/// `GET /v1/accounts/{id}/servers` — an account's servers; on a partner,
/// its own and its customers' in one list grouped by account (of a
/// customer, for the partner's staff, only those whose grant stands: see
/// `tenancy.rs`). `?as_of=` lists the servers registered in the account
/// itself as they stood then.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/servers", tag = "servers",
    params(("account_id" = AccountId, Path, description = "account id"), ListAt),
    responses((status = 200, body = ServersPage), ReadErrors))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(account_id): ApiPath<AccountId>,
    ApiQuery(at): ApiQuery<ListAt>,
) -> Result<Json<ServersPage>, ApiError> {
    let now = Utc::now();
    let page = match at.as_of {
        Some(_) => {
            list_as_of(
                &state,
                &caller,
                account_id,
                MemberKind::Server,
                &at,
                "",
                |_| true,
            )
            .await?
        }
        None => match partner_servers(&state, &caller, account_id, &at.live()).await? {
            Some(page) => page,
            None => {
                AccountRows::list(Action::ViewServers, servers::TABLE, &SERVERS)
                    .granted_to_partners_when(servers::grant_stands(now))
                    .read(&state, &caller, account_id, &at.live())
                    .await?
            }
        },
    };
    // The grant as it stands now: `granted`, `expired` (its end passed,
    // recorded or not yet) or `none`.
    let servers = page
        .rows
        .into_iter()
        .map(|mut row| {
            if at.as_of.is_none() {
                let grant = servers::grant_state(&row, now);
                if let Some(object) = row.as_object_mut() {
                    object.insert("partner_access_state".into(), grant.into());
                }
            }
            row
        })
        .collect();
    Ok(Json(ServersPage {
        servers,
        next_cursor: page.next_cursor,
    }))
}

/// Servers in the order they were registered, then by id (a rename does
/// not move a server between pages).
const SERVERS: Keyset = Keyset {
    list: "servers",
    keys: &[Key::time("created_at"), Key::text("server_id")],
};

#[utoipa::path(patch, path = "/v1/servers/{server_id}", tag = "servers",
    params(("server_id" = ServerId, Path, description = "server id")), request_body = UpdateServer,
    responses((status = 200, body = Appended), CommandErrors))]
pub async fn update(
    caller: Caller,
    ApiPath(server_id): ApiPath<ServerId>,
    ApiJson(body): ApiJson<UpdateServer>,
) -> Result<Ran, ApiError> {
    let command = command::UpdateServer {
        server_id,
        name: body.name,
        location: body.location,
        notifications: body.notifications,
    };
    caller.run(command).await
}

/// `DELETE /v1/servers/{id}` — decommission: the server stays listed
/// (`status: decommissioned`) with its history, its license is detached,
/// and every later command on it is a 409 `server_decommissioned`.
#[utoipa::path(delete, path = "/v1/servers/{server_id}", tag = "servers",
    params(("server_id" = ServerId, Path, description = "server id")),
    responses((status = 200, body = Appended), CommandErrors))]
pub async fn decommission(
    caller: Caller,
    ApiPath(server_id): ApiPath<ServerId>,
) -> Result<Ran, ApiError> {
    caller.run(command::DecommissionServer { server_id }).await
}

#[utoipa::path(put, path = "/v1/servers/{server_id}/partner-access", tag = "servers",
    params(("server_id" = ServerId, Path, description = "server id")), request_body = PartnerAccess,
    responses((status = 200, body = Appended), CommandErrors))]
pub async fn partner_access(
    caller: Caller,
    ApiPath(server_id): ApiPath<ServerId>,
    ApiJson(body): ApiJson<PartnerAccess>,
) -> Result<Ran, ApiError> {
    let command = command::SetPartnerAccess {
        server_id,
        granted: body.granted,
        until: body.until,
        now: chrono::Utc::now(),
    };
    caller.run(command).await
}

#[utoipa::path(post, path = "/v1/servers/{server_id}/actions", tag = "servers",
    params(("server_id" = ServerId, Path, description = "server id")), request_body = ServerActionBody,
    responses((status = 200, body = Appended), CommandErrors))]
pub async fn action(
    caller: Caller,
    ApiPath(server_id): ApiPath<ServerId>,
    ApiJson(body): ApiJson<ServerActionBody>,
) -> Result<Ran, ApiError> {
    let command = command::RecordServerAction {
        server_id,
        action: body.action,
    };
    caller.run(command).await
}

#[utoipa::path(put, path = "/v1/servers/{server_id}/configuration", tag = "servers",
    params(("server_id" = ServerId, Path, description = "server id")), request_body = Configuration,
    responses((status = 200, body = Appended), CommandErrors))]
pub async fn configuration(
    caller: Caller,
    ApiPath(server_id): ApiPath<ServerId>,
    ApiJson(body): ApiJson<Configuration>,
) -> Result<Ran, ApiError> {
    let command = command::UpdateServerConfiguration {
        server_id,
        summary: body.summary,
    };
    caller.run(command).await
}

#[utoipa::path(post, path = "/v1/servers/{server_id}/backups", tag = "servers",
    params(("server_id" = ServerId, Path, description = "server id")),
    responses((status = 201, body = BackupMade), CommandErrors))]
pub async fn backup(
    caller: Caller,
    ApiPath(server_id): ApiPath<ServerId>,
) -> Result<(StatusCode, Json<BackupMade>), ApiError> {
    let backup_id = Uuid::now_v7().to_string();
    let command = command::BackUpServer {
        server_id,
        backup_id: backup_id.clone(),
    };
    let ran = caller.run(command).await?;
    Ok(created(BackupMade {
        backup_id,
        position: ran.last_position(),
    }))
}

#[utoipa::path(post, path = "/v1/servers/{server_id}/backups/{backup_id}/restore", tag = "servers",
    params(("server_id" = ServerId, Path, description = "server id"), ("backup_id" = String, Path, description = "backup id")),
    responses((status = 200, body = Appended), CommandErrors))]
pub async fn restore(
    caller: Caller,
    ApiPath((server_id, backup_id)): ApiPath<(ServerId, String)>,
) -> Result<Ran, ApiError> {
    let command = command::RestoreServerBackup {
        server_id,
        backup_id,
    };
    caller.run(command).await
}

/// `PUT /v1/servers/{id}/license` — financial: authorized like licenses.
#[utoipa::path(put, path = "/v1/servers/{server_id}/license", tag = "servers",
    params(("server_id" = ServerId, Path, description = "server id")), request_body = ServerLicense,
    responses((status = 200, body = Appended), CommandErrors))]
pub async fn license(
    caller: Caller,
    ApiPath(server_id): ApiPath<ServerId>,
    ApiJson(body): ApiJson<ServerLicense>,
) -> Result<Ran, ApiError> {
    let command = command::ChangeServerLicense {
        server_id,
        license_id: body.license_id,
    };
    caller.run(command).await
}
