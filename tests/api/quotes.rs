//! Quotes on both backends: a partner's sales staff and admins prepare a
//! quote for a customer organization, send it (the customer's admins are
//! e-mailed in the same append), and the customer's admins accept or
//! decline it; who may do what, precise refusals that append nothing, and
//! the HTTP surface with its read model.

use crate::support;

use portal_ledger::app::accounts::CreateAccount;
use portal_ledger::app::users::AssignCustomers;
use std::sync::Arc;

use chrono::{Days, NaiveDate, Utc};
use portal_ledger::app::quotes;
use portal_ledger::app::{CommandContext, Ledger, LedgerError};
use portal_ledger::domain::ids::{AccountId, QuoteId, UserId};
use portal_ledger::domain::permissions::Denied;
use portal_ledger::domain::quote::{Currency, Note, Product, Seats, Terms, TermsChange, UnitPrice};
use portal_ledger::domain::role::{AccountKind, Role};
use portal_ledger::domain::DomainError;
use portal_ledger::notify::MemoryNotifier;
use serde_json::{json, Value};
use support::http::{answer, AsCaller, TestApi};
use support::user_in;
use uuid::Uuid;

const PASSWORD: &str = "quote password 1";

fn terms(valid_until: Option<NaiveDate>) -> Terms {
    Terms {
        product: Product::parse("Video wall Pro").unwrap(),
        seats: Seats::parse(10).unwrap(),
        unit_price: UnitPrice::parse(1_250).unwrap(),
        currency: Currency::parse("eur").unwrap(),
        valid_until,
        note: Some(Note::parse("Includes setup").unwrap()),
    }
}

fn domain(e: LedgerError) -> DomainError {
    match e {
        LedgerError::Domain(d) => d,
        other => panic!("expected a domain error, got {other}"),
    }
}

fn forbidden(e: &LedgerError) -> bool {
    matches!(e, LedgerError::Denied(Denied::Forbidden { .. }))
}

fn hidden(e: &LedgerError) -> bool {
    matches!(e, LedgerError::Denied(Denied::Hidden))
}

/// A partner P with its customers C and C2, and another partner's
/// organization D.
struct World {
    partner: AccountId,
    customer: AccountId,
    other: AccountId,
    sales: UserId,
    partner_admin: UserId,
    partner_regular: UserId,
    staff_for_c2: UserId,
    marketing: UserId,
    customer_admin: UserId,
    second_admin: UserId,
    customer_reader: UserId,
    customer_support: UserId,
}

async fn world(ledger: &Ledger) -> World {
    let system = CommandContext::system();
    let ids = [(); 5].map(|_| AccountId(Uuid::now_v7()));
    let [partner, customer, customer2, other_partner, other] = ids;
    for (id, kind, name, parent) in [
        (partner, AccountKind::Partner, "Reseller", None),
        (other_partner, AccountKind::Partner, "Rival", None),
        (customer, AccountKind::Organization, "Acme", Some(partner)),
        (customer2, AccountKind::Organization, "Beta", Some(partner)),
        (
            other,
            AccountKind::Organization,
            "Delta",
            Some(other_partner),
        ),
    ] {
        ledger
            .run(
                &system,
                CreateAccount {
                    account_id: id,
                    kind,
                    name: String::from(name),
                    parent,
                },
            )
            .await
            .unwrap();
    }
    let staff_for_c2 = user_in(ledger, partner, "staff@reseller.example", Role::User).await;
    ledger
        .run(
            &system,
            AssignCustomers {
                user_id: staff_for_c2,
                customers: vec![customer2],
            },
        )
        .await
        .unwrap();
    World {
        partner,
        customer,
        other,
        sales: user_in(ledger, partner, "sales@reseller.example", Role::Sales).await,
        partner_admin: user_in(ledger, partner, "boss@reseller.example", Role::Admin).await,
        partner_regular: user_in(ledger, partner, "ops@reseller.example", Role::Regular).await,
        staff_for_c2,
        marketing: user_in(ledger, partner, "brand@reseller.example", Role::Marketing).await,
        customer_admin: user_in(ledger, customer, "it@acme.example", Role::Admin).await,
        second_admin: user_in(ledger, customer, "cfo@acme.example", Role::Admin).await,
        customer_reader: user_in(ledger, customer, "audit@acme.example", Role::ReadOnly).await,
        customer_support: user_in(ledger, customer, "help@acme.example", Role::Support).await,
    }
}

fn as_user(user: UserId) -> CommandContext {
    CommandContext::as_user(user)
}

on_both_backends!(
    a_quote_is_prepared_by_the_partner_and_decided_by_the_customer,
    |t: support::TestStore| async move {
        let mail = MemoryNotifier::default();
        let ledger =
            Ledger::new(t.store.clone(), t.personal.clone()).with_notifier(Arc::new(mail.clone()));
        let w = world(&ledger).await;
        let today = Utc::now().date_naive();
        let sales = as_user(w.sales);

        // Who may prepare one: refused commands append nothing.
        let head = t.store.head().await.unwrap();
        for (actor, account) in [
            (w.partner_regular, w.customer),
            (w.customer_admin, w.customer),
            (w.sales, w.partner),
        ] {
            let err = ledger
                .run(
                    &as_user(actor),
                    quotes::CreateQuote {
                        account_id: account,
                        quote_id: QuoteId(Uuid::now_v7()),
                        terms: terms(None),
                        today,
                    },
                )
                .await
                .unwrap_err();
            assert!(forbidden(&err), "{err}");
        }
        for (actor, account) in [
            (w.staff_for_c2, w.customer),
            (w.marketing, w.customer),
            (w.sales, w.other),
        ] {
            let err = ledger
                .run(
                    &as_user(actor),
                    quotes::CreateQuote {
                        account_id: account,
                        quote_id: QuoteId(Uuid::now_v7()),
                        terms: terms(None),
                        today,
                    },
                )
                .await
                .unwrap_err();
            assert!(hidden(&err), "{err}");
        }
        let yesterday = today.checked_sub_days(Days::new(1)).unwrap();
        let err = ledger
            .run(
                &sales,
                quotes::CreateQuote {
                    account_id: w.customer,
                    quote_id: QuoteId(Uuid::now_v7()),
                    terms: terms(Some(yesterday)),
                    today,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(domain(err), DomainError::InvalidValidUntil);
        assert_eq!(
            t.store.head().await.unwrap(),
            head,
            "a refused command appended"
        );

        // Sales prepares and changes a draft, then sends it.
        let quote = QuoteId(Uuid::now_v7());
        ledger
            .run(
                &sales,
                quotes::CreateQuote {
                    account_id: w.customer,
                    quote_id: quote,
                    terms: terms(None),
                    today,
                },
            )
            .await
            .unwrap();
        let more = TermsChange {
            seats: Some(Seats::parse(12).unwrap()),
            ..TermsChange::default()
        };
        ledger
            .run(
                &sales,
                quotes::UpdateQuote {
                    quote_id: quote,
                    change: more.clone(),
                    today,
                },
            )
            .await
            .unwrap();
        let err = ledger
            .run(
                &sales,
                quotes::UpdateQuote {
                    quote_id: quote,
                    change: more,
                    today,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(domain(err), DomainError::NoChange);
        let err = ledger
            .run(
                &as_user(w.customer_admin),
                quotes::AcceptQuote {
                    quote_id: quote,
                    today,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(domain(err), DomainError::QuoteNotSent);
        assert!(mail.sent().is_empty());
        ledger
            .run(
                &sales,
                quotes::SendQuote {
                    quote_id: quote,
                    today,
                },
            )
            .await
            .unwrap();

        // Both admins of the customer got the e-mail, and the log says so.
        let mut to: Vec<String> = mail.sent().iter().map(|m| m.to.clone()).collect();
        to.sort();
        assert_eq!(to, ["cfo@acme.example", "it@acme.example"]);
        let body = &mail.sent()[0].body;
        assert!(
            body.contains("Reseller sent you a quote for 12 seats of Video wall Pro, 150.00 EUR"),
            "{body}"
        );
        let queued = t
            .store
            .read_all(1, 10_000, &Default::default())
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.event_type.as_str() == "notification.queued")
            .count();
        assert_eq!(queued, 2);

        // A sent quote is no longer changed or sent again.
        let err = ledger
            .run(
                &sales,
                quotes::UpdateQuote {
                    quote_id: quote,
                    change: TermsChange {
                        note: Some(Note::parse("later").unwrap()),
                        ..TermsChange::default()
                    },
                    today,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(domain(err), DomainError::QuoteNotDraft);
        let err = ledger
            .run(
                &sales,
                quotes::SendQuote {
                    quote_id: quote,
                    today,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(domain(err), DomainError::QuoteNotDraft);

        // Only the customer's admins decide.
        let head = t.store.head().await.unwrap();
        for actor in [w.sales, w.partner_admin, w.customer_reader] {
            let err = ledger
                .run(
                    &as_user(actor),
                    quotes::AcceptQuote {
                        quote_id: quote,
                        today,
                    },
                )
                .await
                .unwrap_err();
            assert!(forbidden(&err), "{err}");
        }
        let err = ledger
            .run(
                &as_user(w.customer_support),
                quotes::DeclineQuote {
                    quote_id: quote,
                    reason: None,
                },
            )
            .await
            .unwrap_err();
        assert!(forbidden(&err), "{err}");
        assert_eq!(
            t.store.head().await.unwrap(),
            head,
            "a refused command appended"
        );
        ledger
            .run(
                &as_user(w.second_admin),
                quotes::AcceptQuote {
                    quote_id: quote,
                    today,
                },
            )
            .await
            .unwrap();
        let state = ledger.quote(quote).await.unwrap();
        assert_eq!(state.status.as_str(), "accepted");
        assert_eq!(state.total_cents(), Some(15_000));
        let err = ledger
            .run(&sales, quotes::WithdrawQuote { quote_id: quote })
            .await
            .unwrap_err();
        assert_eq!(domain(err), DomainError::QuoteClosed);

        // A quote valid until today is expired tomorrow: declined, not accepted.
        let short = QuoteId(Uuid::now_v7());
        let admin = as_user(w.partner_admin);
        ledger
            .run(
                &admin,
                quotes::CreateQuote {
                    account_id: w.customer,
                    quote_id: short,
                    terms: terms(Some(today)),
                    today,
                },
            )
            .await
            .unwrap();
        ledger
            .run(
                &admin,
                quotes::SendQuote {
                    quote_id: short,
                    today,
                },
            )
            .await
            .unwrap();
        let tomorrow = today.checked_add_days(Days::new(1)).unwrap();
        let err = ledger
            .run(
                &as_user(w.customer_admin),
                quotes::AcceptQuote {
                    quote_id: short,
                    today: tomorrow,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(domain(err), DomainError::QuoteExpired);
        ledger
            .run(
                &as_user(w.customer_admin),
                quotes::DeclineQuote {
                    quote_id: short,
                    reason: Some(Note::parse("too late").unwrap()),
                },
            )
            .await
            .unwrap();

        // The partner withdraws a draft; a withdrawn quote stays withdrawn.
        let draft = QuoteId(Uuid::now_v7());
        ledger
            .run(
                &sales,
                quotes::CreateQuote {
                    account_id: w.customer,
                    quote_id: draft,
                    terms: terms(None),
                    today,
                },
            )
            .await
            .unwrap();
        ledger
            .run(&sales, quotes::WithdrawQuote { quote_id: draft })
            .await
            .unwrap();
        let err = ledger
            .run(
                &sales,
                quotes::SendQuote {
                    quote_id: draft,
                    today,
                },
            )
            .await
            .unwrap_err();
        assert_eq!(domain(err), DomainError::QuoteClosed);
        let err = ledger
            .run(
                &sales,
                quotes::WithdrawQuote {
                    quote_id: QuoteId(Uuid::now_v7()),
                },
            )
            .await
            .unwrap_err();
        assert_eq!(domain(err), DomainError::NotFound);
    }
);

on_both_backends!(quotes_over_http, |t: support::TestStore| async move {
    let api = TestApi::spawn(&t).await;
    let w = world(api.auth.ledger()).await;
    let sales = api.password_and_sign_in(w.sales, PASSWORD).await;
    let customer_admin = api.password_and_sign_in(w.customer_admin, PASSWORD).await;
    let reader = api.password_and_sign_in(w.customer_reader, PASSWORD).await;
    let support = api.password_and_sign_in(w.customer_support, PASSWORD).await;
    let marketing = api.password_and_sign_in(w.marketing, PASSWORD).await;
    let s = &api.server;
    let quotes = format!("/v1/accounts/{}/quotes", w.customer);
    let valid = json!({
        "product": "Video wall Pro", "seats": 10, "unit_price_cents": 1250,
        "currency": "usd", "valid_until": "2999-12-31", "note": "setup included"
    });

    // Every bad field has its own code; nothing is appended.
    let head = t.store.head().await.unwrap();
    let mut bad = Vec::new();
    for (field, value, code) in [
        ("product", json!("  "), "invalid_product"),
        ("seats", json!(0), "invalid_seats"),
        ("seats", json!(-5), "invalid_seats"),
        ("unit_price_cents", json!(-1), "invalid_unit_price"),
        ("currency", json!("EURO"), "invalid_currency"),
        ("valid_until", json!("2020-01-01"), "invalid_valid_until"),
        ("valid_until", json!("next week"), "invalid_valid_until"),
        ("note", json!(""), "invalid_text"),
    ] {
        let mut body = valid.clone();
        body[field] = value.clone();
        let response = s.post_as(&sales, &quotes).json(&body).await;
        if answer(&response) != (422, code.to_owned()) {
            bad.push(format!("{field}={value}: {}", response.text()));
        }
    }
    let mut unknown = valid.clone();
    unknown["discount"] = json!(5);
    let response = s.post_as(&sales, &quotes).json(&unknown).await;
    assert_eq!(answer(&response), (400, "invalid_body".to_owned()));
    assert!(bad.is_empty(), "{bad:#?}");
    // A partner account gets no quotes; the customer does not quote itself.
    let response = s
        .post_as(&sales, &format!("/v1/accounts/{}/quotes", w.partner))
        .json(&valid)
        .await;
    assert_eq!(answer(&response), (403, "forbidden".to_owned()));
    let response = s.post_as(&customer_admin, &quotes).json(&valid).await;
    assert_eq!(answer(&response), (403, "forbidden".to_owned()));
    assert_eq!(
        t.store.head().await.unwrap(),
        head,
        "a refused request appended"
    );

    let response = s.post_as(&sales, &quotes).json(&valid).await;
    assert_eq!(response.status_code(), 201, "{}", response.text());
    let created: Value = response.json();
    let id = created["quote_id"].as_str().unwrap().to_owned();
    let quote = format!("/v1/quotes/{id}");
    let response = s
        .patch_as(&sales, &quote)
        .json(&json!({ "seats": 20, "unit_price_cents": 1000 }))
        .await;
    assert_eq!(response.status_code(), 200, "{}", response.text());
    let response = s.post_as(&sales, &format!("{quote}/send")).await;
    assert_eq!(response.status_code(), 200, "{}", response.text());
    let sent_at = response.json::<Value>()["position"].as_u64().unwrap();

    // Reads: billing viewers of the customer and the partner's staff.
    let row = s
        .get_as(&reader, &format!("{quote}?position={sent_at}"))
        .await;
    assert_eq!(row.status_code(), 200, "{}", row.text());
    let row: Value = row.json();
    assert_eq!(row["status"], "sent");
    assert_eq!(row["seats"], 20);
    assert_eq!(row["currency"], "USD");
    assert_eq!(row["total_cents"], 20_000);
    assert_eq!(row["valid_until"], "2999-12-31");
    assert!(!row["sent_at"].is_null());
    let list = s.get_as(&sales, &quotes).await;
    assert_eq!(list.status_code(), 200);
    assert_eq!(list.json::<Value>()["quotes"].as_array().unwrap().len(), 1);
    for (token, expected) in [
        (&support, (403, "forbidden")),
        (&marketing, (404, "not_found")),
    ] {
        assert_eq!(
            answer(&s.get_as(token, &quotes).await),
            (expected.0, expected.1.to_owned())
        );
        assert_eq!(
            answer(&s.get_as(token, &quote).await),
            (expected.0, expected.1.to_owned())
        );
    }
    let missing = s
        .get_as(&sales, &format!("/v1/quotes/{}", Uuid::now_v7()))
        .await;
    assert_eq!(answer(&missing), (404, "not_found".to_owned()));

    // The e-mail went to the customer's admins and is in their outbox.
    let sent: Vec<String> = api.mail.sent().iter().map(|m| m.to.clone()).collect();
    assert!(sent.contains(&"it@acme.example".to_owned()), "{sent:?}");
    assert!(sent.contains(&"cfo@acme.example".to_owned()), "{sent:?}");
    let outbox = s
        .get_as(
            &customer_admin,
            &format!("/v1/accounts/{}/outbox?position={sent_at}", w.customer),
        )
        .await
        .json::<Value>();
    assert!(outbox.to_string().contains("quote_sent"), "{outbox}");

    // The customer decides; the partner cannot decide for it.
    let response = s.post_as(&sales, &format!("{quote}/accept")).await;
    assert_eq!(answer(&response), (403, "forbidden".to_owned()));
    let response = s
        .post_as(&customer_admin, &format!("{quote}/decline"))
        .json(&json!({ "reason": "over budget" }))
        .await;
    assert_eq!(response.status_code(), 200, "{}", response.text());
    let declined_at = response.json::<Value>()["position"].as_u64().unwrap();
    let response = s.post_as(&customer_admin, &format!("{quote}/accept")).await;
    assert_eq!(answer(&response), (409, "quote_closed".to_owned()));
    let response = s.post_as(&sales, &format!("{quote}/withdraw")).await;
    assert_eq!(answer(&response), (409, "quote_closed".to_owned()));
    let row = s
        .get_as(&customer_admin, &format!("{quote}?position={declined_at}"))
        .await
        .json::<Value>();
    assert_eq!(row["status"], "declined");
    assert_eq!(row["decline_reason"], "over budget");
    assert!(!row["decided_at"].is_null());

    // The quote's history shows every change with before and after.
    let history = s
        .get_as(&customer_admin, &format!("/v1/history/quote/{id}"))
        .await
        .json::<Value>();
    let entries = history["entries"].as_array().unwrap();
    let types: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(
        types,
        [
            "quote.created",
            "quote.updated",
            "quote.sent",
            "quote.declined"
        ]
    );
    assert_eq!(
        entries[1]["before"],
        json!({ "seats": 10, "unit_price_cents": 1250, "total_cents": 12_500 })
    );
    assert_eq!(
        entries[1]["after"],
        json!({ "seats": 20, "unit_price_cents": 1000, "total_cents": 20_000 })
    );
    assert_eq!(entries[3]["after"], json!({ "status": "declined" }));

    // The activity log records "Update Quotes", on behalf of the customer.
    let activity = s
        .get_as(
            &customer_admin,
            &format!(
                "/v1/accounts/{}/activity?position={declined_at}&action_types=Update%20Quotes",
                w.customer
            ),
        )
        .await
        .json::<Value>();
    let text = activity.to_string();
    for description in [
        "Created quote for 10 seats of Video wall Pro",
        "Updated quote for Video wall Pro",
        "Sent quote for Video wall Pro to Acme",
        "Declined quote for Video wall Pro",
    ] {
        assert!(text.contains(description), "{description}: {text}");
    }
});
