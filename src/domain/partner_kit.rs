//! The partner kit: marketing materials the platform publishes for its
//! partners (a brochure link, a logo pack, an e-mail template …).
//!
//! Why a stream per item (`kit-<id>`) and no account field: the kit is the
//! platform's, not a tenant's; who may read or publish it is the permission
//! matrix's answer for the platform's account (`Relation::Provider` for a
//! partner's staff), so an item only needs its own lifecycle: published,
//! updated, withdrawn. A withdrawn item stays in the log and leaves the
//! read model.
//!
//! An item carries either a link (`url`, http or https) or its text
//! (`content`), never both: the kit shows one or the other.

use serde::{Deserialize, Serialize};

use crate::domain::ids::KitItemId;
use crate::domain::text::{self, Lines};
use crate::domain::DomainError;

/// Longest title, in characters.
pub const MAX_TITLE: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 500;
/// Longest category, in characters.
pub const MAX_CATEGORY: usize = 60;
/// Longest link, in bytes.
pub const MAX_URL: usize = 2000;
/// Longest inline content, in characters.
pub const MAX_CONTENT: usize = 20_000;

fn bounded(
    text: &str,
    max: usize,
    lines: Lines,
    error: DomainError,
) -> Result<String, DomainError> {
    text::parse(text, max, lines, error)
}

/// A title: 1 to 200 characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Title(String);

impl Title {
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        bounded(text, MAX_TITLE, Lines::One, DomainError::InvalidTitle).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A description: 1 to 500 characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Description(String);

impl Description {
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        bounded(text, MAX_DESCRIPTION, Lines::Many, DomainError::InvalidText).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A category (`brochures`, `logos` …): 1 to 60 characters, lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Category(String);

impl Category {
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        bounded(text, MAX_CATEGORY, Lines::One, DomainError::InvalidCategory)
            .map(|c| Self(c.to_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What an item is: a link or its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Material {
    /// An absolute http or https link without spaces.
    Url(String),
    /// The material itself (an e-mail template, a text): 1 to 20,000
    /// characters.
    Content(String),
}

impl Material {
    /// Exactly one of `url` and `content`.
    pub fn parse(url: Option<&str>, content: Option<&str>) -> Result<Self, DomainError> {
        match (url, content) {
            (Some(url), None) => Self::url(url),
            (None, Some(content)) => bounded(
                content,
                MAX_CONTENT,
                Lines::Many,
                DomainError::InvalidKitMaterial,
            )
            .map(Self::Content),
            _ => Err(DomainError::InvalidKitMaterial),
        }
    }

    fn url(text: &str) -> Result<Self, DomainError> {
        let url = text.trim();
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or(DomainError::InvalidUrl)?;
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if host.is_empty()
            || url.len() > MAX_URL
            || url.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(DomainError::InvalidUrl);
        }
        Ok(Self::Url(url.to_owned()))
    }

    pub fn url_text(&self) -> Option<&str> {
        match self {
            Material::Url(u) => Some(u),
            Material::Content(_) => None,
        }
    }

    pub fn content_text(&self) -> Option<&str> {
        match self {
            Material::Url(_) => None,
            Material::Content(c) => Some(c),
        }
    }
}

/// A change of an item: the fields given (already parsed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemChange {
    pub title: Option<Title>,
    pub description: Option<Description>,
    pub material: Option<Material>,
    pub category: Option<Category>,
}

/// What happened to a partner kit item; schema version 1. Payloads:
/// * `kit.published` — `item_id`, `title`, `description`, `material`
///   (`{"url": …}` or `{"content": …}`), `category`;
/// * `kit.updated` — the fields that changed, each null when unchanged;
/// * `kit.withdrawn` — `{}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum KitEvent {
    #[serde(rename = "kit.published")]
    Published {
        item_id: KitItemId,
        title: Title,
        description: Description,
        material: Material,
        category: Category,
    },
    #[serde(rename = "kit.updated")]
    Updated {
        title: Option<Title>,
        description: Option<Description>,
        material: Option<Material>,
        category: Option<Category>,
    },
    #[serde(rename = "kit.withdrawn")]
    Withdrawn {},
}

impl KitEvent {
    pub const TYPES: [&'static str; 3] = ["kit.published", "kit.updated", "kit.withdrawn"];
}

/// An item as its events made it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KitItemState {
    pub item_id: Option<KitItemId>,
    pub title: Option<Title>,
    pub description: Option<Description>,
    pub material: Option<Material>,
    pub category: Option<Category>,
    pub withdrawn: bool,
}

impl KitItemState {
    /// The title, for descriptions ("" before publication).
    pub fn title(&self) -> &str {
        self.title.as_ref().map_or("", Title::as_str)
    }
}

pub fn evolve(mut state: KitItemState, event: &KitEvent) -> KitItemState {
    match event {
        KitEvent::Published {
            item_id,
            title,
            description,
            material,
            category,
        } => {
            state.item_id = Some(*item_id);
            state.title = Some(title.clone());
            state.description = Some(description.clone());
            state.material = Some(material.clone());
            state.category = Some(category.clone());
        }
        KitEvent::Updated {
            title,
            description,
            material,
            category,
        } => {
            if let Some(v) = title {
                state.title = Some(v.clone());
            }
            if let Some(v) = description {
                state.description = Some(v.clone());
            }
            if let Some(v) = material {
                state.material = Some(v.clone());
            }
            if let Some(v) = category {
                state.category = Some(v.clone());
            }
        }
        KitEvent::Withdrawn {} => state.withdrawn = true,
    }
    state
}

fn live(state: &KitItemState) -> Result<(), DomainError> {
    if state.item_id.is_none() || state.withdrawn {
        return Err(DomainError::NotFound);
    }
    Ok(())
}

pub fn decide_publish(
    state: &KitItemState,
    item_id: KitItemId,
    title: Title,
    description: Description,
    material: Material,
    category: Category,
) -> Result<Vec<KitEvent>, DomainError> {
    if state.item_id.is_some() {
        return Err(DomainError::AlreadyExists);
    }
    Ok(vec![KitEvent::Published {
        item_id,
        title,
        description,
        material,
        category,
    }])
}

/// Changes a published item; only what differs is recorded.
pub fn decide_update(
    state: &KitItemState,
    change: ItemChange,
) -> Result<Vec<KitEvent>, DomainError> {
    live(state)?;
    let title = change.title.filter(|v| Some(v) != state.title.as_ref());
    let description = change
        .description
        .filter(|v| Some(v) != state.description.as_ref());
    let material = change
        .material
        .filter(|v| Some(v) != state.material.as_ref());
    let category = change
        .category
        .filter(|v| Some(v) != state.category.as_ref());
    if title.is_none() && description.is_none() && material.is_none() && category.is_none() {
        return Err(DomainError::NoChange);
    }
    Ok(vec![KitEvent::Updated {
        title,
        description,
        material,
        category,
    }])
}

/// Withdraws a published item (a withdrawn one is gone: not found).
pub fn decide_withdraw(state: &KitItemState) -> Result<Vec<KitEvent>, DomainError> {
    live(state)?;
    Ok(vec![KitEvent::Withdrawn {}])
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn an_item_is_a_link_or_a_text_never_both() {
        assert!(matches!(
            Material::parse(Some(" https://cdn.example/brochure.pdf "), None),
            Ok(Material::Url(u)) if u == "https://cdn.example/brochure.pdf"
        ));
        assert!(matches!(
            Material::parse(None, Some("Dear customer,")),
            Ok(Material::Content(_))
        ));
        assert_eq!(
            Material::parse(Some("https://a.example"), Some("x")),
            Err(DomainError::InvalidKitMaterial)
        );
        assert_eq!(
            Material::parse(None, None),
            Err(DomainError::InvalidKitMaterial)
        );
        assert_eq!(
            Material::parse(None, Some("  ")),
            Err(DomainError::InvalidKitMaterial)
        );
        for bad in [
            "ftp://a.example/x",
            "https://",
            "https:///path",
            "https://a.example/with space",
            "cdn.example/brochure.pdf",
        ] {
            assert_eq!(
                Material::parse(Some(bad), None),
                Err(DomainError::InvalidUrl),
                "{bad}"
            );
        }
        assert_eq!(Category::parse(" Logos ").unwrap().as_str(), "logos");
        assert_eq!(Title::parse(""), Err(DomainError::InvalidTitle));
        assert_eq!(
            Category::parse(&"c".repeat(61)),
            Err(DomainError::InvalidCategory)
        );
    }

    #[test]
    fn an_item_is_published_updated_and_withdrawn_once() {
        let state = decide_publish(
            &KitItemState::default(),
            KitItemId(Uuid::nil()),
            Title::parse("Brochure").unwrap(),
            Description::parse("The 2027 brochure").unwrap(),
            Material::parse(Some("https://cdn.example/b.pdf"), None).unwrap(),
            Category::parse("brochures").unwrap(),
        )
        .unwrap()
        .iter()
        .fold(KitItemState::default(), evolve);
        assert_eq!(
            decide_update(
                &state,
                ItemChange {
                    title: Some(Title::parse("Brochure").unwrap()),
                    ..ItemChange::default()
                }
            ),
            Err(DomainError::NoChange)
        );
        let state = decide_update(
            &state,
            ItemChange {
                material: Some(Material::parse(None, Some("Inline text")).unwrap()),
                ..ItemChange::default()
            },
        )
        .unwrap()
        .iter()
        .fold(state, evolve);
        assert_eq!(
            state.material,
            Some(Material::Content("Inline text".into()))
        );
        let state = decide_withdraw(&state).unwrap().iter().fold(state, evolve);
        assert_eq!(decide_withdraw(&state), Err(DomainError::NotFound));
        assert_eq!(
            decide_update(&state, ItemChange::default()),
            Err(DomainError::NotFound)
        );
    }
}
