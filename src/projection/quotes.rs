//! `proj_quotes`: every quote, its terms and where it stands.

use crate::domain::ids::QuoteId;
use crate::domain::quote::{self, QuoteEvent};
use crate::event::RecordedEvent;
use crate::projection::{
    entity_event, touch, OnConflict, ProjectionError, Projector, RowChange, SetExpr, SqlValue,
};

pub struct QuotesProjector;

pub const TABLE: &str = "proj_quotes";

fn int(n: u64) -> SqlValue {
    SqlValue::Int(Some(i64::try_from(n).unwrap_or(i64::MAX)))
}

impl Projector for QuotesProjector {
    fn name(&self) -> &'static str {
        "quotes"
    }

    fn tables(&self) -> &'static [&'static str] {
        &[TABLE]
    }

    fn apply(&self, event: &RecordedEvent) -> Result<Vec<RowChange>, ProjectionError> {
        let Some((quote_id, decoded)) =
            entity_event::<QuoteEvent>(event, QuoteId::CATEGORY, &QuoteEvent::TYPES)?
        else {
            return Ok(vec![]);
        };
        let at = SqlValue::Time(Some(event.recorded_at));
        let update = |set| vec![touch(TABLE, ("quote_id", &quote_id), event, set)];
        Ok(match decoded {
            QuoteEvent::Created {
                account_id,
                product,
                seats,
                unit_price_cents,
                currency,
                valid_until,
                note,
                ..
            } => vec![RowChange::Insert {
                table: TABLE,
                columns: vec![
                    ("quote_id", SqlValue::text(quote_id.clone())),
                    ("account_id", SqlValue::text(account_id.to_string())),
                    ("product", SqlValue::text(product.as_str())),
                    ("seats", int(u64::from(seats.get()))),
                    ("unit_price_cents", int(unit_price_cents.cents())),
                    ("currency", SqlValue::text(currency.as_str())),
                    (
                        "total_cents",
                        int(quote::total_cents(seats, unit_price_cents)),
                    ),
                    (
                        "valid_until",
                        SqlValue::Text(valid_until.map(|d| d.to_string())),
                    ),
                    ("note", SqlValue::Text(note.map(|n| n.as_str().to_owned()))),
                    ("status", SqlValue::text("draft")),
                    ("decline_reason", SqlValue::Text(None)),
                    ("created_at", at.clone()),
                    ("sent_at", SqlValue::Time(None)),
                    ("decided_at", SqlValue::Time(None)),
                    ("updated_at", at),
                    ("position", SqlValue::Int(Some(event.position as i64))),
                ],
                on_conflict: OnConflict::Replace,
            }],
            QuoteEvent::Updated {
                product,
                seats,
                unit_price_cents,
                currency,
                valid_until,
                note,
                total_cents,
            } => {
                let mut set = vec![("total_cents", SetExpr::Value(int(total_cents)))];
                if let Some(v) = product {
                    set.push(("product", SetExpr::Value(SqlValue::text(v.as_str()))));
                }
                if let Some(v) = seats {
                    set.push(("seats", SetExpr::Value(int(u64::from(v.get())))));
                }
                if let Some(v) = unit_price_cents {
                    set.push(("unit_price_cents", SetExpr::Value(int(v.cents()))));
                }
                if let Some(v) = currency {
                    set.push(("currency", SetExpr::Value(SqlValue::text(v.as_str()))));
                }
                if let Some(v) = valid_until {
                    set.push(("valid_until", SetExpr::Value(SqlValue::text(v.to_string()))));
                }
                if let Some(v) = note {
                    set.push(("note", SetExpr::Value(SqlValue::text(v.as_str()))));
                }
                update(set)
            }
            QuoteEvent::Sent {} => update(vec![
                ("status", SetExpr::Value(SqlValue::text("sent"))),
                ("sent_at", SetExpr::Value(at)),
            ]),
            QuoteEvent::Withdrawn {} => update(vec![
                ("status", SetExpr::Value(SqlValue::text("withdrawn"))),
                ("decided_at", SetExpr::Value(at)),
            ]),
            QuoteEvent::Accepted {} => update(vec![
                ("status", SetExpr::Value(SqlValue::text("accepted"))),
                ("decided_at", SetExpr::Value(at)),
            ]),
            QuoteEvent::Declined { reason } => update(vec![
                ("status", SetExpr::Value(SqlValue::text("declined"))),
                (
                    "decline_reason",
                    SetExpr::Value(SqlValue::Text(reason.map(|r| r.as_str().to_owned()))),
                ),
                ("decided_at", SetExpr::Value(at)),
            ]),
        })
    }
}
