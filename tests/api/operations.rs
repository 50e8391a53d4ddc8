//! Running it (issue 17): request ids, log lines in both formats, metrics
//! from the first scrape, the variables `--help` lists.

use crate::support::*;
use serde_json::{json, Value};
use std::process::Command;

/// `kassa serve` on `database_url` logging at info with stderr in a file;
/// returns the child, its URL and the log file.
fn serve_logging(
    database_url: &str,
    env: &[(&str, &str)],
) -> (std::process::Child, String, tempfile::NamedTempFile) {
    let log = tempfile::NamedTempFile::new().unwrap();
    let env: Vec<(&str, &str)> = [("RUST_LOG", "info")]
        .into_iter()
        .chain(env.iter().copied())
        .collect();
    let (child, url) = serve_process_to(database_url, &env, log.reopen().unwrap());
    (child, url, log)
}

/// Stops the child and returns what it logged.
fn stop(mut child: std::process::Child, log: &tempfile::NamedTempFile) -> String {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    std::fs::read_to_string(log.path()).unwrap()
}

async fn login(http: &reqwest::Client, url: &str) -> String {
    let v: Value = http
        .post(format!("{url}/graphql"))
        .json(&json!({
            "query": "mutation($l: String!, $p: String!) { login(login: $l, password: $p) { token } }",
            "variables": { "l": OWNER.0, "p": OWNER.1 },
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"]["login"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_string()
}

#[tokio::test]
async fn every_request_has_an_id_in_its_answer_and_its_errors() {
    let app = spawn_app().await;
    let ask = |id: Option<&str>| {
        let mut req = app
            .http
            .post(format!("{}/graphql", app.url))
            .json(&json!({ "query": "{ me { login } }" }));
        if let Some(id) = id {
            req = req.header("x-request-id", id);
        }
        req.send()
    };
    // the caller's id is kept, and named in the error
    let resp = ask(Some("edge-7f3a.1")).await.unwrap();
    assert_eq!(resp.headers()["x-request-id"], "edge-7f3a.1");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(error_code(&v), Some("UNAUTHENTICATED"));
    assert_eq!(
        v["errors"][0]["extensions"]["requestId"], "edge-7f3a.1",
        "{v}"
    );
    // none, or one a log line should not carry: a new one
    for id in [None, Some("two words"), Some(&*"x".repeat(200))] {
        let resp = ask(id).await.unwrap();
        let given = resp.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_eq!(given.len(), 32, "{given}");
        assert!(given.bytes().all(|b| b.is_ascii_hexdigit()));
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["errors"][0]["extensions"]["requestId"], given.as_str());
    }
    // requests refused before GraphQL runs carry it too
    let resp = app
        .http
        .post(format!("{}/graphql", app.url))
        .header("x-request-id", "refused-1")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["x-request-id"], "refused-1");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["errors"][0]["extensions"]["requestId"], "refused-1");
    // and so do other routes
    let resp = app
        .http
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"].len(), 32);
}

#[tokio::test]
async fn json_logs_carry_the_request_id_and_one_access_line_without_secrets() {
    let app = spawn_app().await;
    let (child, url, log) = serve_logging(&app.database_url, &[("KASSA_LOG_FORMAT", "json")]);
    let http = reqwest::Client::new();
    let token = login(&http, &url).await;
    let resp = http
        .post(format!("{url}/graphql"))
        .bearer_auth(&token)
        .header("x-request-id", "trace-me-1")
        .json(&json!({ "query": "query Mine { me { login } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = http
        .get(format!("{url}/exports/kex_not_a_real_token_but_secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let text = stop(child, &log);
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    assert!(!lines.is_empty());
    let access: Vec<&Value> = lines
        .iter()
        .filter(|l| l["span"]["request_id"] == "trace-me-1" && l["target"] == "kassa::access")
        .collect();
    assert_eq!(access.len(), 1, "one line for the request: {access:?}");
    let fields = &access[0]["fields"];
    assert_eq!(fields["operation"], "Mine");
    assert_eq!(fields["outcome"], "ok");
    assert_eq!(fields["caller"], "user");
    assert_eq!(fields["status"], 200);
    assert!(fields["duration_ms"].as_f64().is_some());
    assert!(!text.contains(&token), "a session token in the log");
    assert!(
        !text.contains("kex_not_a_real"),
        "an export token in the log"
    );
    assert!(text.contains("/exports/{token}"));
    assert!(!text.contains(OWNER.1), "a password in the log");
}

/// A TERM sent the moment the server says it is listening shuts it down
/// cleanly (exit 0), every time: the handler is in place before it says so
/// (installed lazily, such a TERM killed the process or went unseen).
#[tokio::test]
async fn a_term_right_after_listening_shuts_down_cleanly() {
    let app = spawn_app().await;
    for _ in 0..5 {
        let (mut child, _url) =
            serve_process_to(&app.database_url, &[], std::process::Stdio::null());
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("still running 30 s after TERM");
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        };
        assert!(status.success(), "{status}");
    }
}

#[tokio::test]
async fn text_logs_have_no_colour_codes_when_not_on_a_terminal() {
    let app = spawn_app().await;
    let (child, url, log) = serve_logging(&app.database_url, &[]);
    let http = reqwest::Client::new();
    http.get(format!("{url}/healthz")).send().await.unwrap();
    let text = stop(child, &log);
    assert!(text.contains("kassa::access"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "escape codes in a log file: {text:?}"
    );
}

#[tokio::test]
async fn every_metric_family_is_there_at_the_first_scrape() {
    let app = spawn_app().await;
    let text = app.get_text("/metrics").await;
    let families = [
        "kassa_graphql_requests_total",
        "kassa_graphql_request_duration_seconds",
        "kassa_graphql_errors_total",
        "kassa_graphql_subscription_events_total",
        "kassa_graphql_streams",
        "kassa_http_refused_total",
        "kassa_build_info",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "kassa_db_pool_connections",
        "kassa_db_pool_max_connections",
        "kassa_websocket_sockets",
        "kassa_bus_shared",
        "kassa_bus_connected",
        "kassa_bus_resyncs_total",
        "kassa_bus_events_published_total",
        "kassa_bus_events_received_total",
        "kassa_bus_events_undecodable_total",
        "kassa_password_checks_total",
        "kassa_postback_attempts_total",
    ];
    for family in families {
        let sample = text
            .lines()
            .find(|l| !l.starts_with('#') && l.starts_with(family))
            .unwrap_or_else(|| panic!("no sample of {family} at the first scrape"));
        assert!(
            sample
                .split_whitespace()
                .last()
                .unwrap()
                .parse::<f64>()
                .is_ok(),
            "{sample}"
        );
    }
    let build = format!(
        "kassa_build_info{{revision=\"{}\",version=\"{}\"}} 1",
        env!("GIT_REVISION"),
        env!("CARGO_PKG_VERSION")
    );
    assert!(text.contains(&build), "{build} not in {text}");
}

#[test]
fn help_lists_every_variable_and_unknown_ones_are_warned_about() {
    let out = Command::new(env!("CARGO_BIN_EXE_kassa"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for name in [
        "DATABASE_URL",
        "REDIS_URL",
        "KASSA_LOG_FORMAT",
        "KASSA_OTLP_ENDPOINT",
        "KASSA_CORS_ORIGINS",
    ] {
        assert!(help.contains(name), "--help lacks {name}: {help}");
    }
    assert!(help.contains("[default: 127.0.0.1:8000]"));

    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kassa"))
        .arg("migrate")
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env("KASSA_LOG_FORMAT", "text")
        .env("KASSA_POSTBAK_WORKER", "0")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("KASSA_POSTBAK_WORKER"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_kassa"))
        .arg("migrate")
        .current_dir(dir.path())
        .env("KASSA_LOG_FORMAT", "xml")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("KASSA_LOG_FORMAT"));
}

/// A local OTLP/HTTP receiver: every JSON body POSTed to /v1/traces.
async fn otlp_receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use axum::routing::post;
    let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = bodies.clone();
    let router = axum::Router::new().route(
        "/v1/traces",
        post(move |body: axum::body::Bytes| {
            let kept = kept.clone();
            async move {
                if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                    kept.lock().unwrap().push(v);
                }
                "{}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, bodies)
}

/// Every span the receiver got: (trace id, name, attributes).
fn spans(bodies: &[Value]) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for body in bodies {
        for rs in body["resourceSpans"].as_array().into_iter().flatten() {
            for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                for span in ss["spans"].as_array().into_iter().flatten() {
                    out.push((
                        span["traceId"].as_str().unwrap_or("").to_string(),
                        span["name"].as_str().unwrap_or("").to_string(),
                        span["attributes"].clone(),
                    ));
                }
            }
        }
    }
    out
}

// (multi-threaded: the receiver must answer while the test waits for the
// process to stop and flush its spans)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_reaches_an_otlp_receiver_as_spans_of_one_trace() {
    let (receiver, bodies) = otlp_receiver().await;
    let app = spawn_app().await;
    let (child, url, log) = serve_logging(
        &app.database_url,
        &[
            ("KASSA_OTLP_ENDPOINT", receiver.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    );
    let http = reqwest::Client::new();
    let token = login(&http, &url).await;
    let v: Value = http
        .post(format!("{url}/graphql"))
        .bearer_auth(&token)
        .header("x-request-id", "otlp-1")
        .json(&json!({ "query": "query Page { transactions(first: 5) { totalCount nodes { id } } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["errors"].is_null(), "{v}");
    let logged = stop(child, &log);
    let got = spans(&bodies.lock().unwrap());
    let request = got
        .iter()
        .find(|(_, name, attrs)| {
            name == "request"
                && attrs
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|a| a["key"] == "request_id" && a["value"]["stringValue"] == "otlp-1")
        })
        .unwrap_or_else(|| panic!("no request span for otlp-1 in {got:?}\n{logged}"));
    let trace = &request.0;
    assert_eq!(trace.len(), 32, "{trace}");
    let in_trace: Vec<&str> = got
        .iter()
        .filter(|(t, _, _)| t == trace)
        .map(|(_, n, _)| n.as_str())
        .collect();
    for name in [
        "request",
        "graphql",
        "db.transactions.list",
        "db.transactions.count",
    ] {
        assert!(
            in_trace.contains(&name),
            "{name} not in the trace: {in_trace:?}"
        );
    }
}

/// The one write path: a change is committed with its audit entries and its
/// events go out after the commit; a refused change or an error leaves
/// nothing written, audited or published.
#[tokio::test]
async fn the_write_path_commits_audits_and_publishes_together_or_not_at_all() {
    use kassa::auth::model::Actor;
    use kassa::db::{write, Change};
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let app = spawn_app().await;
    let mut events = app.deps.bus.subscribe();
    let entries = async |action: &str| {
        entity::audit_entry::Entity::find()
            .filter(entity::audit_entry::Column::Action.eq(action))
            .count(&app.deps.db)
            .await
            .unwrap()
    };
    let rename = async |name: &'static str, how: u8| {
        write(&app.deps, &Actor::Cli, async |txn, _now| {
            entity::merchant::Entity::update_many()
                .col_expr(
                    entity::merchant::Column::Name,
                    sea_orm::sea_query::Expr::value(name),
                )
                .filter(entity::merchant::Column::Id.eq(1))
                .exec(txn)
                .await?;
            let entry = kassa::audit::Audit {
                merchant_id: Some(1),
                action: "test.rename",
                subject: None,
                details: json!({ "name": name }),
            };
            let event = kassa::events::Event::SessionsEnded {
                session_ids: vec![4242],
            };
            match how {
                0 => Ok(Change::done(()).audited(entry).publishing([event])),
                1 => Ok(Change::refused(()).audited(entry).publishing([event])),
                _ => Err(kassa::error::AppError::Invalid("no".into())),
            }
        })
        .await
    };
    let name = async || {
        entity::merchant::Entity::find_by_id(1)
            .one(&app.deps.db)
            .await
            .unwrap()
            .unwrap()
            .name
    };
    let before = name().await;
    rename("Refused Shop", 1).await.unwrap();
    assert!(rename("Failed Shop", 2).await.is_err());
    assert_eq!(
        name().await,
        before,
        "nothing of a refused or failed change stays"
    );
    assert_eq!(entries("test.rename").await, 0);
    assert!(events.try_recv().is_err(), "nothing published");
    rename("Renamed Shop", 0).await.unwrap();
    assert_eq!(name().await, "Renamed Shop");
    assert_eq!(entries("test.rename").await, 1);
    let got = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(&*got, kassa::events::Event::SessionsEnded { session_ids } if session_ids == &[4242])
    );
}
