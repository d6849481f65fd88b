//! `proj_partner_kit`: the partner kit as partners see it — published items
//! only (a withdrawn item's row goes; its history stays in the log).

use crate::domain::ids::KitItemId;
use crate::domain::partner_kit::{KitEvent, Material};
use crate::event::RecordedEvent;
use crate::projection::{
    entity_event, touch, OnConflict, ProjectionError, Projector, RowChange, SetExpr, SqlValue,
};

pub struct PartnerKitProjector;

pub const TABLE: &str = "proj_partner_kit";

fn material_columns(material: &Material) -> [(&'static str, SqlValue); 2] {
    [
        (
            "url",
            SqlValue::Text(material.url_text().map(str::to_owned)),
        ),
        (
            "content",
            SqlValue::Text(material.content_text().map(str::to_owned)),
        ),
    ]
}

impl Projector for PartnerKitProjector {
    fn name(&self) -> &'static str {
        "partner_kit"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[TABLE]
    }

    fn apply(&self, event: &RecordedEvent) -> Result<Vec<RowChange>, ProjectionError> {
        let Some((item_id, decoded)) =
            entity_event::<KitEvent>(event, KitItemId::CATEGORY, &KitEvent::TYPES)?
        else {
            return Ok(vec![]);
        };
        Ok(match decoded {
            KitEvent::Published {
                title,
                description,
                material,
                category,
                ..
            } => {
                let at = SqlValue::Time(Some(event.recorded_at));
                let [url, content] = material_columns(&material);
                vec![RowChange::Insert {
                    table: TABLE,
                    columns: vec![
                        ("item_id", SqlValue::text(item_id.clone())),
                        ("title", SqlValue::text(title.as_str())),
                        ("description", SqlValue::text(description.as_str())),
                        url,
                        content,
                        ("category", SqlValue::text(category.as_str())),
                        ("published_at", at.clone()),
                        ("updated_at", at),
                        ("position", SqlValue::Int(Some(event.position as i64))),
                    ],
                    on_conflict: OnConflict::Replace,
                }]
            }
            KitEvent::Updated {
                title,
                description,
                material,
                category,
            } => {
                let mut set = Vec::new();
                if let Some(v) = title {
                    set.push(("title", SetExpr::Value(SqlValue::text(v.as_str()))));
                }
                if let Some(v) = description {
                    set.push(("description", SetExpr::Value(SqlValue::text(v.as_str()))));
                }
                if let Some(v) = material {
                    for (column, value) in material_columns(&v) {
                        set.push((column, SetExpr::Value(value)));
                    }
                }
                if let Some(v) = category {
                    set.push(("category", SetExpr::Value(SqlValue::text(v.as_str()))));
                }
                vec![touch(TABLE, ("item_id", &item_id), event, set)]
            }
            KitEvent::Withdrawn {} => vec![RowChange::Delete {
                table: TABLE,
                key: vec![("item_id", SqlValue::text(item_id))],
            }],
        })
    }
}
