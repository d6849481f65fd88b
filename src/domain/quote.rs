//! Quotes: an offer a partner's staff prepare for one of the partner's
//! customer organizations — a product, a number of seats at a unit price —
//! which the customer's admins accept or decline.
//!
//! Why an aggregate of its own (a `quote-<id>` stream) and not part of the
//! license: a quote is a proposal, not a subscription. Accepting one records
//! the customer's decision only; turning it into a license is a separate,
//! financial command by whoever manages licenses. The quote belongs to the
//! customer's account, so the permission matrix answers who may prepare it
//! (the partner's sales staff and admins, the platform) and who may decide
//! (the customer's admins) from the relation to that account.
//!
//! Lifecycle: `draft` (changed freely) → `sent` (the customer's admins are
//! told) → `accepted` | `declined`; a draft or sent quote can be
//! `withdrawn`. A quote with a `valid_until` date can no longer be sent or
//! accepted after that day.
//!
//! Every field is parsed into a type that can only hold a valid value, so a
//! decision never sees a bad product name, seat count, price or currency.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::domain::ids::{AccountId, QuoteId};
use crate::domain::text::{self, Lines};
use crate::domain::DomainError;

/// Longest product name, in characters.
pub const MAX_PRODUCT: usize = 200;
/// Most seats a quote offers.
pub const MAX_SEATS: i64 = 1_000_000;
/// Highest unit price, in cents (a billion in the currency's units).
pub const MAX_UNIT_PRICE_CENTS: i64 = 100_000_000_000;
/// Longest note or decline reason, in characters.
pub const MAX_NOTE: usize = 500;

/// What is offered: 1 to 200 characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Product(String);

impl Product {
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        text::parse(text, MAX_PRODUCT, Lines::One, DomainError::InvalidProduct).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How many seats: 1 to 1,000,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Seats(u32);

impl Seats {
    pub fn parse(n: i64) -> Result<Self, DomainError> {
        if (1..=MAX_SEATS).contains(&n) {
            u32::try_from(n)
                .map(Self)
                .map_err(|_| DomainError::InvalidQuoteSeats)
        } else {
            Err(DomainError::InvalidQuoteSeats)
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// The price of one seat in cents of the currency: 0 (free) to 10^11.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct UnitPrice(u64);

impl UnitPrice {
    pub fn parse(cents: i64) -> Result<Self, DomainError> {
        if (0..=MAX_UNIT_PRICE_CENTS).contains(&cents) {
            u64::try_from(cents)
                .map(Self)
                .map_err(|_| DomainError::InvalidUnitPrice)
        } else {
            Err(DomainError::InvalidUnitPrice)
        }
    }

    pub fn cents(self) -> u64 {
        self.0
    }
}

/// An ISO 4217 currency code: three letters, stored in capitals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Currency(String);

impl Currency {
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        let code = text.trim().to_ascii_uppercase();
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Self(code))
        } else {
            Err(DomainError::InvalidCurrency)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A free-text note (or a decline reason): 1 to 500 characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Note(String);

impl Note {
    pub fn parse(text: &str) -> Result<Self, DomainError> {
        text::parse(text, MAX_NOTE, Lines::Many, DomainError::InvalidText).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The terms of a quote as a command gives them (already parsed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub product: Product,
    pub seats: Seats,
    pub unit_price: UnitPrice,
    pub currency: Currency,
    pub valid_until: Option<NaiveDate>,
    pub note: Option<Note>,
}

/// A change of a draft's terms: the fields given (already parsed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TermsChange {
    pub product: Option<Product>,
    pub seats: Option<Seats>,
    pub unit_price: Option<UnitPrice>,
    pub currency: Option<Currency>,
    pub valid_until: Option<NaiveDate>,
    pub note: Option<Note>,
}

/// What happened to a quote; schema version 1. Payloads:
/// * `quote.created` — `quote_id`, `account_id` (the customer),
///   `product`, `seats`, `unit_price_cents`, `currency` (ISO 4217),
///   `valid_until` (`YYYY-MM-DD` or null), `note` (or null);
/// * `quote.updated` — the terms that changed, each null when unchanged,
///   and `total_cents`, seats × unit price after the change (so a reader
///   needs no earlier event to know the new total);
/// * `quote.sent` — `{}`: the customer's admins were notified (the
///   e-mails are `notification.queued` events of the same append);
/// * `quote.withdrawn` — `{}`;
/// * `quote.accepted` — `{}`: the decision only, nothing is bought;
/// * `quote.declined` — `reason` (or null).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum QuoteEvent {
    #[serde(rename = "quote.created")]
    Created {
        quote_id: QuoteId,
        account_id: AccountId,
        product: Product,
        seats: Seats,
        unit_price_cents: UnitPrice,
        currency: Currency,
        valid_until: Option<NaiveDate>,
        note: Option<Note>,
    },
    #[serde(rename = "quote.updated")]
    Updated {
        product: Option<Product>,
        seats: Option<Seats>,
        unit_price_cents: Option<UnitPrice>,
        currency: Option<Currency>,
        valid_until: Option<NaiveDate>,
        note: Option<Note>,
        total_cents: u64,
    },
    #[serde(rename = "quote.sent")]
    Sent {},
    #[serde(rename = "quote.withdrawn")]
    Withdrawn {},
    #[serde(rename = "quote.accepted")]
    Accepted {},
    #[serde(rename = "quote.declined")]
    Declined { reason: Option<Note> },
}

impl QuoteEvent {
    pub const TYPES: [&'static str; 6] = [
        "quote.created",
        "quote.updated",
        "quote.sent",
        "quote.withdrawn",
        "quote.accepted",
        "quote.declined",
    ];
}

/// Where a quote stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    #[default]
    Absent,
    Draft,
    Sent,
    Accepted,
    Declined,
    Withdrawn,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Absent => "absent",
            Status::Draft => "draft",
            Status::Sent => "sent",
            Status::Accepted => "accepted",
            Status::Declined => "declined",
            Status::Withdrawn => "withdrawn",
        }
    }
}

/// A quote as its events made it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuoteState {
    pub quote_id: Option<QuoteId>,
    pub account_id: Option<AccountId>,
    pub terms: Option<Terms>,
    pub status: Status,
}

impl QuoteState {
    /// The product, for descriptions ("" before creation).
    pub fn product(&self) -> &str {
        self.terms.as_ref().map_or("", |t| t.product.as_str())
    }

    /// Seats × unit price, in cents.
    pub fn total_cents(&self) -> Option<u64> {
        self.terms
            .as_ref()
            .map(|t| total_cents(t.seats, t.unit_price))
    }
}

/// Seats × unit price in cents (at most 10^17, well within `u64`).
pub fn total_cents(seats: Seats, unit_price: UnitPrice) -> u64 {
    u64::from(seats.get()) * unit_price.cents()
}

pub fn evolve(mut state: QuoteState, event: &QuoteEvent) -> QuoteState {
    match event {
        QuoteEvent::Created {
            quote_id,
            account_id,
            product,
            seats,
            unit_price_cents,
            currency,
            valid_until,
            note,
        } => {
            state.quote_id = Some(*quote_id);
            state.account_id = Some(*account_id);
            state.terms = Some(Terms {
                product: product.clone(),
                seats: *seats,
                unit_price: *unit_price_cents,
                currency: currency.clone(),
                valid_until: *valid_until,
                note: note.clone(),
            });
            state.status = Status::Draft;
        }
        QuoteEvent::Updated {
            product,
            seats,
            unit_price_cents,
            currency,
            valid_until,
            note,
            ..
        } => {
            if let Some(terms) = state.terms.as_mut() {
                if let Some(v) = product {
                    terms.product = v.clone();
                }
                if let Some(v) = seats {
                    terms.seats = *v;
                }
                if let Some(v) = unit_price_cents {
                    terms.unit_price = *v;
                }
                if let Some(v) = currency {
                    terms.currency = v.clone();
                }
                if let Some(v) = valid_until {
                    terms.valid_until = Some(*v);
                }
                if let Some(v) = note {
                    terms.note = Some(v.clone());
                }
            }
        }
        QuoteEvent::Sent {} => state.status = Status::Sent,
        QuoteEvent::Withdrawn {} => state.status = Status::Withdrawn,
        QuoteEvent::Accepted {} => state.status = Status::Accepted,
        QuoteEvent::Declined { .. } => state.status = Status::Declined,
    }
    state
}

fn not_past(valid_until: Option<NaiveDate>, today: NaiveDate) -> Result<(), DomainError> {
    match valid_until {
        Some(day) if day < today => Err(DomainError::InvalidValidUntil),
        _ => Ok(()),
    }
}

fn expired(state: &QuoteState, today: NaiveDate) -> bool {
    state
        .terms
        .as_ref()
        .and_then(|t| t.valid_until)
        .is_some_and(|day| day < today)
}

fn in_status(state: &QuoteState, wanted: Status) -> Result<(), DomainError> {
    match state.status {
        Status::Absent => Err(DomainError::NotFound),
        s if s == wanted => Ok(()),
        Status::Draft | Status::Sent if wanted == Status::Draft => Err(DomainError::QuoteNotDraft),
        Status::Draft if wanted == Status::Sent => Err(DomainError::QuoteNotSent),
        _ => Err(DomainError::QuoteClosed),
    }
}

/// A new draft; `valid_until`, if given, must not be before `today`.
pub fn decide_create(
    state: &QuoteState,
    quote_id: QuoteId,
    account_id: AccountId,
    terms: Terms,
    today: NaiveDate,
) -> Result<Vec<QuoteEvent>, DomainError> {
    if state.quote_id.is_some() {
        return Err(DomainError::AlreadyExists);
    }
    not_past(terms.valid_until, today)?;
    Ok(vec![QuoteEvent::Created {
        quote_id,
        account_id,
        product: terms.product,
        seats: terms.seats,
        unit_price_cents: terms.unit_price,
        currency: terms.currency,
        valid_until: terms.valid_until,
        note: terms.note,
    }])
}

/// Changes a draft's terms; only what differs is recorded.
pub fn decide_update(
    state: &QuoteState,
    change: TermsChange,
    today: NaiveDate,
) -> Result<Vec<QuoteEvent>, DomainError> {
    in_status(state, Status::Draft)?;
    let terms = state.terms.as_ref().ok_or(DomainError::NotFound)?;
    not_past(change.valid_until, today)?;
    let product = change.product.filter(|v| *v != terms.product);
    let seats = change.seats.filter(|v| *v != terms.seats);
    let unit_price_cents = change.unit_price.filter(|v| *v != terms.unit_price);
    let currency = change.currency.filter(|v| *v != terms.currency);
    let valid_until = change.valid_until.filter(|v| Some(*v) != terms.valid_until);
    let note = change.note.filter(|v| Some(v) != terms.note.as_ref());
    if product.is_none()
        && seats.is_none()
        && unit_price_cents.is_none()
        && currency.is_none()
        && valid_until.is_none()
        && note.is_none()
    {
        return Err(DomainError::NoChange);
    }
    let total_cents = total_cents(
        seats.unwrap_or(terms.seats),
        unit_price_cents.unwrap_or(terms.unit_price),
    );
    Ok(vec![QuoteEvent::Updated {
        product,
        seats,
        unit_price_cents,
        currency,
        valid_until,
        note,
        total_cents,
    }])
}

/// Sends a draft to the customer; not once its validity is over.
pub fn decide_send(state: &QuoteState, today: NaiveDate) -> Result<Vec<QuoteEvent>, DomainError> {
    in_status(state, Status::Draft)?;
    if expired(state, today) {
        return Err(DomainError::QuoteExpired);
    }
    Ok(vec![QuoteEvent::Sent {}])
}

/// Withdraws a draft or a sent quote.
pub fn decide_withdraw(state: &QuoteState) -> Result<Vec<QuoteEvent>, DomainError> {
    match state.status {
        Status::Absent => Err(DomainError::NotFound),
        Status::Draft | Status::Sent => Ok(vec![QuoteEvent::Withdrawn {}]),
        Status::Accepted | Status::Declined | Status::Withdrawn => Err(DomainError::QuoteClosed),
    }
}

/// The customer accepts a sent quote that is still valid.
pub fn decide_accept(state: &QuoteState, today: NaiveDate) -> Result<Vec<QuoteEvent>, DomainError> {
    in_status(state, Status::Sent)?;
    if expired(state, today) {
        return Err(DomainError::QuoteExpired);
    }
    Ok(vec![QuoteEvent::Accepted {}])
}

/// The customer declines a sent quote (also an expired one).
pub fn decide_decline(
    state: &QuoteState,
    reason: Option<Note>,
) -> Result<Vec<QuoteEvent>, DomainError> {
    in_status(state, Status::Sent)?;
    Ok(vec![QuoteEvent::Declined { reason }])
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }

    fn terms(valid_until: Option<NaiveDate>) -> Terms {
        Terms {
            product: Product::parse(" Video wall Pro ").unwrap(),
            seats: Seats::parse(10).unwrap(),
            unit_price: UnitPrice::parse(12_50).unwrap(),
            currency: Currency::parse("eur").unwrap(),
            valid_until,
            note: None,
        }
    }

    fn created(valid_until: Option<NaiveDate>) -> QuoteState {
        decide_create(
            &QuoteState::default(),
            QuoteId(Uuid::nil()),
            AccountId(Uuid::nil()),
            terms(valid_until),
            day(1),
        )
        .unwrap()
        .iter()
        .fold(QuoteState::default(), evolve)
    }

    #[test]
    fn fields_parse_into_valid_values_only() {
        assert_eq!(Product::parse("  "), Err(DomainError::InvalidProduct));
        assert_eq!(
            Product::parse(&"x".repeat(201)),
            Err(DomainError::InvalidProduct)
        );
        assert_eq!(Seats::parse(0), Err(DomainError::InvalidQuoteSeats));
        assert_eq!(Seats::parse(1_000_001), Err(DomainError::InvalidQuoteSeats));
        assert_eq!(Seats::parse(-3), Err(DomainError::InvalidQuoteSeats));
        assert_eq!(UnitPrice::parse(-1), Err(DomainError::InvalidUnitPrice));
        assert!(UnitPrice::parse(0).is_ok());
        assert_eq!(
            UnitPrice::parse(MAX_UNIT_PRICE_CENTS + 1),
            Err(DomainError::InvalidUnitPrice)
        );
        assert_eq!(Currency::parse("usd").unwrap().as_str(), "USD");
        for bad in ["US", "EURO", "E1R", "€€€", ""] {
            assert_eq!(
                Currency::parse(bad),
                Err(DomainError::InvalidCurrency),
                "{bad}"
            );
        }
        assert_eq!(Note::parse(" "), Err(DomainError::InvalidText));
        let largest = total_cents(
            Seats::parse(MAX_SEATS).unwrap(),
            UnitPrice::parse(MAX_UNIT_PRICE_CENTS).unwrap(),
        );
        assert_eq!(largest, 100_000_000_000_000_000);
    }

    #[test]
    fn a_draft_is_changed_sent_and_accepted() {
        let state = created(Some(day(20)));
        assert_eq!(state.status, Status::Draft);
        assert_eq!(state.product(), "Video wall Pro");
        assert_eq!(state.total_cents(), Some(12_500));
        let same = TermsChange {
            seats: Some(Seats::parse(10).unwrap()),
            ..TermsChange::default()
        };
        assert_eq!(
            decide_update(&state, same, day(1)),
            Err(DomainError::NoChange)
        );
        let more = TermsChange {
            seats: Some(Seats::parse(12).unwrap()),
            currency: Some(Currency::parse("EUR").unwrap()),
            ..TermsChange::default()
        };
        let events = decide_update(&state, more, day(1)).unwrap();
        assert_eq!(
            events,
            vec![QuoteEvent::Updated {
                product: None,
                seats: Some(Seats::parse(12).unwrap()),
                unit_price_cents: None,
                currency: None,
                valid_until: None,
                note: None,
                total_cents: 15_000,
            }]
        );
        let state = events.iter().fold(state, evolve);
        assert_eq!(state.total_cents(), Some(15_000));
        assert_eq!(
            decide_accept(&state, day(2)),
            Err(DomainError::QuoteNotSent)
        );
        let state = decide_send(&state, day(2))
            .unwrap()
            .iter()
            .fold(state, evolve);
        assert_eq!(
            decide_update(&state, TermsChange::default(), day(2)),
            Err(DomainError::QuoteNotDraft)
        );
        assert_eq!(decide_send(&state, day(2)), Err(DomainError::QuoteNotDraft));
        let state = decide_accept(&state, day(20))
            .unwrap()
            .iter()
            .fold(state, evolve);
        assert_eq!(state.status, Status::Accepted);
        assert_eq!(decide_withdraw(&state), Err(DomainError::QuoteClosed));
        assert_eq!(decide_decline(&state, None), Err(DomainError::QuoteClosed));
    }

    #[test]
    fn validity_is_checked_when_created_sent_and_accepted() {
        assert_eq!(
            decide_create(
                &QuoteState::default(),
                QuoteId(Uuid::nil()),
                AccountId(Uuid::nil()),
                terms(Some(day(1))),
                day(2),
            ),
            Err(DomainError::InvalidValidUntil)
        );
        let state = created(Some(day(5)));
        assert_eq!(decide_send(&state, day(6)), Err(DomainError::QuoteExpired));
        let state = decide_send(&state, day(5))
            .unwrap()
            .iter()
            .fold(state, evolve);
        assert_eq!(
            decide_accept(&state, day(6)),
            Err(DomainError::QuoteExpired)
        );
        // An expired quote can still be declined, or withdrawn.
        assert!(decide_decline(&state, Some(Note::parse("too late").unwrap())).is_ok());
        let state = decide_withdraw(&state).unwrap().iter().fold(state, evolve);
        assert_eq!(state.status, Status::Withdrawn);
        assert_eq!(decide_send(&state, day(1)), Err(DomainError::QuoteClosed));
        assert_eq!(decide_accept(&state, day(1)), Err(DomainError::QuoteClosed));
        assert_eq!(
            decide_withdraw(&QuoteState::default()),
            Err(DomainError::NotFound)
        );
    }
}
