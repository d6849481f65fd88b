//! `/v1/partner-kit`: the marketing materials the platform publishes for its
//! partners. Partner staff whose role reads the kit (admins, marketing) and
//! the platform's admins list it; the platform's admins publish, change and
//! withdraw items. An organization's users have no kit (404).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::app::partner_kit as command;
use crate::app::partner_kit::NewKitItem;
use crate::app::Ran;
use crate::domain::ids::KitItemId;
use crate::domain::partner_kit::{Category, Description, ItemChange, Material, Title};
use crate::domain::DomainError;
use crate::http::context::Caller;
use crate::http::error::{ApiError, ApiJson, ApiPath, ApiQuery};
use crate::http::paging::{fingerprint, Key, Keyset, PageRequest};
use crate::http::reads::{caught_up, ReadAfter};
use crate::http::reads::{page_of, ListQuery};
use crate::http::schemas::{created, Appended, CommandErrors, ReadErrors};
use crate::http::AppState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishKitItem {
    pub title: String,
    pub description: String,
    /// A link (http or https) — or `content`, never both.
    pub url: Option<String>,
    /// The material itself — or `url`, never both.
    pub content: Option<String>,
    /// e.g. `brochures`, `logos`, `email templates` (stored lowercased).
    pub category: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateKitItem {
    pub title: Option<String>,
    pub description: Option<String>,
    /// A new link (replaces the content), or
    pub url: Option<String>,
    /// new content (replaces the link).
    pub content: Option<String>,
    pub category: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct KitItemPublished {
    pub item_id: KitItemId,
    pub position: u64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PartnerKitPage {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl PublishKitItem {
    fn item(&self) -> Result<NewKitItem, DomainError> {
        Ok(NewKitItem {
            title: Title::parse(&self.title)?,
            description: Description::parse(&self.description)?,
            material: Material::parse(self.url.as_deref(), self.content.as_deref())?,
            category: Category::parse(&self.category)?,
        })
    }
}

impl UpdateKitItem {
    fn change(&self) -> Result<ItemChange, DomainError> {
        let material = match (&self.url, &self.content) {
            (None, None) => None,
            (url, content) => Some(Material::parse(url.as_deref(), content.as_deref())?),
        };
        Ok(ItemChange {
            title: self.title.as_deref().map(Title::parse).transpose()?,
            description: self
                .description
                .as_deref()
                .map(Description::parse)
                .transpose()?,
            material,
            category: self.category.as_deref().map(Category::parse).transpose()?,
        })
    }
}

/// `GET /v1/partner-kit` — the published items, newest first.
#[utoipa::path(get, path = "/v1/partner-kit", tag = "partner kit",
    params(ListQuery),
    responses((status = 200, body = PartnerKitPage), ReadErrors))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<PartnerKitPage>, ApiError> {
    let page = PageRequest::parse(
        query.limit,
        query.cursor.as_deref(),
        fingerprint(KIT.list, &[]),
    )?;
    state.ledger.may_view_partner_kit(&caller.context).await?;
    let table = crate::projection::partner_kit::TABLE;
    caught_up(&state, &ReadAfter::at(query.position), &[table]).await?;
    let page = page_of(&state, table, &KIT, Vec::new(), &page).await?;
    Ok(Json(PartnerKitPage {
        items: page.rows,
        next_cursor: page.next_cursor,
    }))
}

/// Items, newest first, then by id (an edit does not move an item).
const KIT: Keyset = Keyset {
    list: "partner kit",
    keys: &[Key::time("published_at").desc(), Key::text("item_id")],
};

/// `POST /v1/partner-kit` — the platform's admins publish an item.
#[utoipa::path(post, path = "/v1/partner-kit", tag = "partner kit",
    request_body = PublishKitItem,
    responses((status = 201, body = KitItemPublished), CommandErrors))]
pub async fn publish(
    caller: Caller,
    ApiJson(body): ApiJson<PublishKitItem>,
) -> Result<(StatusCode, Json<KitItemPublished>), ApiError> {
    let item = body.item()?;
    let item_id = KitItemId(Uuid::now_v7());
    let outcome = caller
        .run(command::PublishKitItem {
            platform: None,
            item_id,
            item,
        })
        .await?;
    Ok(created(KitItemPublished {
        item_id,
        position: outcome.last_position(),
    }))
}

/// `PATCH /v1/partner-kit/{id}`
#[utoipa::path(patch, path = "/v1/partner-kit/{item_id}", tag = "partner kit",
    params(("item_id" = KitItemId, Path, description = "item id")), request_body = UpdateKitItem,
    responses((status = 200, body = Appended), CommandErrors))]
pub async fn update(
    caller: Caller,
    ApiPath(item_id): ApiPath<KitItemId>,
    ApiJson(body): ApiJson<UpdateKitItem>,
) -> Result<Ran, ApiError> {
    let change = body.change()?;
    caller.run(command::UpdateKitItem { item_id, change }).await
}

/// `DELETE /v1/partner-kit/{id}` — withdraws the item (its history stays).
#[utoipa::path(delete, path = "/v1/partner-kit/{item_id}", tag = "partner kit",
    params(("item_id" = KitItemId, Path, description = "item id")),
    responses((status = 200, body = Appended), CommandErrors))]
pub async fn withdraw(
    caller: Caller,
    ApiPath(item_id): ApiPath<KitItemId>,
) -> Result<Ran, ApiError> {
    caller.run(command::WithdrawKitItem { item_id }).await
}
