//! What operators see besides the answers, on both backends: `GET /metrics`
//! parsed as Prometheus text (requests by route template, appends,
//! conflicts, group commits, projectors), and request ids in the log lines a
//! request causes — captured in this process as JSON, and read from the
//! real binary's standard error under `--log-format json`.
//!
//! The recorder is one per process and the tests of this binary run side by
//! side, so counters are compared before and after (they only grow, by at
//! least what the test did), never to fixed values.

use crate::support;

use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use portal_ledger::store::{ExpectedVersion, ReadFilter};
use portal_ledger::telemetry::logs::{self, LogFormat};
use prom_text_format_parser::{Metric, Sample, Scrape, Type, ValueType};
use serde_json::{json, Value};
use support::http::{AsCaller, TestApi};
use support::process::{http_request, serve};

/// The answer of `GET /metrics`, parsed (the parser refuses anything that
/// is not well-formed Prometheus text).
async fn scrape(api: &TestApi) -> Scrape {
    let response = api.server.get("/metrics").await;
    assert_eq!(response.status_code(), 200, "{}", response.text());
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = response.text();
    Scrape::parse(&text).unwrap_or_else(|e| panic!("not Prometheus text ({e:?}):\n{text}"))
}

fn metric<'a>(scrape: &'a Scrape, name: &str) -> Option<&'a Metric> {
    scrape.metrics.iter().find(|m| m.name == name)
}

fn carries(sample: &Sample, labels: &[(&str, &str)]) -> bool {
    labels
        .iter()
        .all(|(k, v)| sample.labels.iter().any(|l| l.key == *k && l.value == *v))
}

/// The sum of the values of `name`'s samples of `kind` that carry `labels`
/// (0 when there are none).
fn sum_of(scrape: &Scrape, name: &str, kind: ValueType, labels: &[(&str, &str)]) -> f64 {
    metric(scrape, name)
        .map(|m| {
            m.samples
                .iter()
                .filter(|s| s.value.value_type == kind && carries(s, labels))
                .map(|s| s.value.value.as_f64())
                .sum()
        })
        .unwrap_or(0.0)
}

/// A counter's or gauge's value with `labels` (summed over other labels).
fn total(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    sum_of(scrape, name, ValueType::Sample, labels)
}

/// How many observations the histogram `name` with `labels` holds.
fn observations(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    sum_of(scrape, name, ValueType::Count, labels)
}

/// Asserts that `name` is a metric of `kind` with a sample carrying
/// `labels` (for a histogram: bucket lines).
fn assert_present(scrape: &Scrape, name: &str, kind: Type, labels: &[(&str, &str)]) {
    let m = metric(scrape, name).unwrap_or_else(|| panic!("no {name} in /metrics"));
    assert_eq!(m.kind, kind, "{name}");
    assert!(
        m.samples.iter().any(|s| carries(s, labels)
            && (kind != Type::Histogram
                || s.labels.iter().any(|l| l.key == "le")
                    && s.value.value_type == ValueType::Sample)),
        "no {name} {labels:?} in /metrics"
    );
}

const USER_READ: [(&str, &str); 3] = [
    ("method", "GET"),
    ("route", "/v1/users/{user_id}"),
    ("status", "200"),
];

on_both_backends!(
    metrics_count_requests_appends_and_projectors,
    |t: support::TestStore| async move {
        let api = TestApi::spawn(&t).await;
        let root = api.root().await;
        let before = scrape(&api).await;
        let head_before = t.store.head().await.unwrap().position;

        let created = api
            .add_user(
                &root,
                &api.platform.to_string(),
                &json!({ "email": "counted@platform.example", "name": "Counted", "role": "support", "password": "long enough pw" }),
            )
            .await;
        let user_id = created["user_id"].as_str().unwrap().to_owned();
        let position = created["position"].as_u64().unwrap();
        for _ in 0..3 {
            let read = api
                .server
                .get_as(&root, &format!("/v1/users/{user_id}?position={position}"))
                .await;
            assert_eq!(read.status_code(), 200, "{}", read.text());
        }
        let stray = format!("/no/such/path/{}", uuid::Uuid::now_v7());
        assert_eq!(api.server.get(&stray).await.status_code(), 404);

        let after = scrape(&api).await;
        let head_after = t.store.head().await.unwrap().position;

        // Requests by route template, with durations.
        let reads = total(&after, "http_requests_total", &USER_READ)
            - total(&before, "http_requests_total", &USER_READ);
        assert!(reads >= 3.0, "user reads counted: {reads}");
        let timed = observations(&after, "http_request_duration_seconds", &USER_READ)
            - observations(&before, "http_request_duration_seconds", &USER_READ);
        assert!(timed >= 3.0, "user reads timed: {timed}");
        assert_present(
            &after,
            "http_request_duration_seconds",
            Type::Histogram,
            &USER_READ,
        );
        let created_route = [
            ("method", "POST"),
            ("route", "/v1/accounts/{account_id}/users"),
            ("status", "201"),
        ];
        assert!(total(&after, "http_requests_total", &created_route) >= 1.0);
        // A path no route matches is `unmatched`, and no raw path or id is
        // ever a label.
        assert!(
            total(
                &after,
                "http_requests_total",
                &[("method", "GET"), ("route", "unmatched"), ("status", "404")]
            ) >= 1.0
        );
        let routes = after
            .metrics
            .iter()
            .flat_map(|m| m.samples.iter())
            .flat_map(|s| s.labels.iter())
            .filter(|l| l.key == "route");
        for route in routes {
            assert!(
                !route.value.contains(&user_id) && !route.value.contains("no/such"),
                "a raw path as a label: {}",
                route.value
            );
        }

        // Appends: every event of this store went through this process's
        // group commit; other tests may add more.
        assert!(head_after > head_before);
        let appended = total(&after, "events_appended_total", &[])
            - total(&before, "events_appended_total", &[]);
        assert!(
            appended >= (head_after - head_before) as f64,
            "{appended} counted, {} appended",
            head_after - head_before
        );
        assert!(
            observations(&after, "append_batch_size", &[])
                > observations(&before, "append_batch_size", &[])
        );
        assert!(
            observations(&after, "append_commit_seconds", &[])
                > observations(&before, "append_commit_seconds", &[])
        );
        assert_present(&after, "append_batch_size", Type::Histogram, &[]);
        assert_present(&after, "append_commit_seconds", Type::Histogram, &[]);
        assert_present(&after, "append_conflicts_total", Type::Counter, &[]);

        // Projectors: position and lag for each (refreshed by the scrape),
        // lease and batch times for those this process applied.
        for name in api.projections.names() {
            let labels = [("projector", name)];
            for gauge in [
                "projector_position",
                "projector_lag_events",
                "projector_lag_seconds",
            ] {
                assert_present(&after, gauge, Type::Gauge, &labels);
            }
        }
        let users = [("projector", "users")];
        assert_present(&after, "projector_lease_held", Type::Gauge, &users);
        assert_present(&after, "projector_batch_seconds", Type::Histogram, &users);
        assert_present(&after, "projector_events_total", Type::Counter, &users);
        assert!(total(&after, "projector_events_total", &users) >= 1.0);

        // Every metric has its help text.
        for name in [
            "http_requests_total",
            "http_request_duration_seconds",
            "events_appended_total",
            "append_conflicts_total",
            "append_batch_size",
            "append_commit_seconds",
            "projector_position",
            "projector_lag_events",
            "projector_lag_seconds",
            "projector_lease_held",
            "projector_batch_seconds",
            "projector_events_total",
        ] {
            assert!(
                metric(&after, name)
                    .and_then(|m| m.help_desc.as_deref())
                    .is_some_and(|d| !d.is_empty()),
                "no HELP for {name}"
            );
        }
    }
);

on_both_backends!(
    a_wrong_expected_version_counts_as_a_conflict,
    |t: support::TestStore| async move {
        let api = TestApi::spawn(&t).await;
        let stream = format!("thing-{}", uuid::Uuid::now_v7().simple());
        t.store
            .append(support::append_one(
                &stream,
                ExpectedVersion::NoStream,
                support::event("thing.happened", json!({ "n": 1 })),
            ))
            .await
            .unwrap();
        let before = scrape(&api).await;
        for n in 0..2 {
            let refused = t
                .store
                .append(support::append_one(
                    &stream,
                    ExpectedVersion::NoStream,
                    support::event("thing.happened", json!({ "n": n + 2 })),
                ))
                .await;
            assert!(refused.is_err(), "a second first event was appended");
        }
        let after = scrape(&api).await;
        let conflicts = total(&after, "append_conflicts_total", &[])
            - total(&before, "append_conflicts_total", &[]);
        assert!(conflicts >= 2.0, "conflicts counted: {conflicts}");
    }
);

/// Log lines written by this test process, as JSON (one subscriber per
/// process: installed once, shared by the tests of this binary).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut buffer) = self.0.lock() {
            buffer.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

fn captured_logs() -> Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = logs::subscriber(
            LogFormat::Json,
            tracing_subscriber::EnvFilter::new("info"),
            move || writer.clone(),
        );
        tracing::subscriber::set_global_default(subscriber).expect("one subscriber per process");
        captured
    })
    .clone()
}

/// Every line parsed as JSON (each must be).
fn json_lines(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// The `e-mail` log line sent to `to` (the default notifier logs e-mails).
fn mail_line<'a>(lines: &'a [Value], to: &str) -> Option<&'a Value> {
    lines
        .iter()
        .find(|l| l["message"] == "e-mail" && l["to"] == to)
}

/// The request id the event at `position` records.
async fn recorded_request_id(t: &support::TestStore, position: u64) -> String {
    let mut events = t
        .store
        .read_all(position, 1, &ReadFilter::all())
        .await
        .unwrap();
    t.personal.open(&mut events).await.unwrap();
    events[0].metadata.to_value()["request_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

on_both_backends!(
    a_requests_id_reaches_its_log_lines_and_its_events,
    |t: support::TestStore| async move {
        let logs = captured_logs();
        // Without a notifier of its own the service logs its e-mails: a log
        // line the request causes.
        let api = TestApi::builder().without_notifier().spawn(&t).await;
        let root = api.root().await;
        let invitations = format!("/v1/accounts/{}/invitations", api.platform);
        let tag = uuid::Uuid::now_v7().simple().to_string();

        // The client's id.
        let sent_id = format!("req-{tag}");
        let sent_to = format!("given-{tag}@platform.example");
        let given = api
            .server
            .post_as(&root, &invitations)
            .add_header("X-Request-Id", sent_id.clone())
            .json(&json!({ "email": sent_to, "role": "support" }))
            .await;
        assert_eq!(given.status_code(), 201, "{}", given.text());
        assert_eq!(given.header("x-request-id"), sent_id.as_str());
        let given: Value = given.json();

        // None: one is generated, and the answer, the log and the event
        // agree on it.
        let new_to = format!("generated-{tag}@platform.example");
        let generated = api
            .server
            .post_as(&root, &invitations)
            .json(&json!({ "email": new_to, "role": "support" }))
            .await;
        assert_eq!(generated.status_code(), 201, "{}", generated.text());
        let generated_id = generated
            .header("x-request-id")
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            uuid::Uuid::parse_str(&generated_id).is_ok(),
            "{generated_id}"
        );
        let generated: Value = generated.json();

        let lines = json_lines(&logs.lines());
        for (to, id, answer) in [
            (&sent_to, &sent_id, &given),
            (&new_to, &generated_id, &generated),
        ] {
            let line = mail_line(&lines, to).unwrap_or_else(|| panic!("no e-mail line to {to}"));
            assert_eq!(line["span"]["name"], "http_request", "{line}");
            assert_eq!(line["span"]["request_id"], id.as_str(), "{line}");
            assert_eq!(line["span"]["method"], "POST", "{line}");
            assert_eq!(
                line["span"]["route"], "/v1/accounts/{account_id}/invitations",
                "{line}"
            );
            assert!(
                line["spans"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s["request_id"] == id.as_str())),
                "{line}"
            );
            let position = answer["position"].as_u64().unwrap();
            assert_eq!(&recorded_request_id(&t, position).await, id);
        }
    }
);

/// Waits (bounded) until the served process has logged a line that `wanted`
/// accepts; every line must be JSON.
async fn logged(served: &support::process::Served, wanted: impl Fn(&Value) -> bool) -> Value {
    // Up to 30 s: the line was written before the answer; a thread reads
    // the pipe.
    for _ in 0..600 {
        let lines = json_lines(&served.log_lines());
        if let Some(line) = lines.into_iter().find(|l| wanted(l)) {
            return line;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "no such log line; it logged:\n{}",
        served.log_lines().join("\n")
    );
}

on_both_backends!(
    serve_logs_json_lines_with_request_ids,
    |t: support::TestStore| async move {
        let bootstrap = Command::new(env!("CARGO_BIN_EXE_portal-ledger"))
            .args(t.cli_args())
            .args(["bootstrap", "--email", "root@platform.example"])
            .env_remove("DATABASE_URL")
            .output()
            .expect("run bootstrap");
        assert!(bootstrap.status.success(), "{bootstrap:?}");
        let stdout = String::from_utf8_lossy(&bootstrap.stdout).into_owned();
        let password = stdout
            .lines()
            .find_map(|l| l.strip_prefix("one-time password: "))
            .expect("a one-time password")
            .trim()
            .to_owned();

        let mut command = Command::new(env!("CARGO_BIN_EXE_portal-ledger"));
        command
            .args(t.cli_args())
            .args(["--log-format", "json", "serve"])
            .env_remove("DATABASE_URL")
            .env_remove("PORTAL_LEDGER_LOG_FORMAT");
        let served = serve(command).await;
        let address = served.address.as_str();

        let session = http_request(
            address,
            "POST",
            "/v1/sessions",
            &[],
            Some(&json!({ "email": "root@platform.example", "password": password })),
        )
        .await
        .expect("sign in");
        assert_eq!(session.status, 201, "{}", session.body);
        let token = session.body["token"].as_str().unwrap().to_owned();
        let platform = session.body["account_id"].as_str().unwrap().to_owned();

        let id = format!("shipper-{}", uuid::Uuid::now_v7().simple());
        let authorization = format!("Bearer {token}");
        let invited = http_request(
            address,
            "POST",
            &format!("/v1/accounts/{platform}/invitations"),
            &[
                ("Authorization", authorization.as_str()),
                ("X-Request-Id", id.as_str()),
            ],
            Some(&json!({ "email": "shipped@platform.example", "role": "support" })),
        )
        .await
        .expect("invite");
        assert_eq!(invited.status, 201, "{}", invited.body);
        assert_eq!(invited.header("x-request-id"), Some(id.as_str()));

        let line = logged(&served, |l| {
            l["message"] == "e-mail" && l["to"] == "shipped@platform.example"
        })
        .await;
        assert_eq!(line["span"]["request_id"], id.as_str(), "{line}");
        assert_eq!(
            line["span"]["route"], "/v1/accounts/{account_id}/invitations",
            "{line}"
        );
        assert_eq!(line["level"], "INFO", "{line}");
        assert!(line["timestamp"].is_string(), "{line}");
        // The serving line is JSON too (every line is: `logged` parses all).
        let serving = logged(&served, |l| l["message"] == "serving").await;
        assert_eq!(serving["address"], address);
    }
);
