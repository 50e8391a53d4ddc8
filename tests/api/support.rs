//! `spawn_app()`: a real server on port 0 over its own database, SQLite by
//! default or PostgreSQL when `KASSA_TEST_DATABASE_URL` names a server.

use chrono::{TimeZone, Utc};
use kassa::app::{self, AppState};
use kassa::clock::ManualClock;
use kassa::config::Config;
use kassa::deps::Deps;
use rand::Rng;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

pub const OWNER: (&str, &str) = ("owner@demo", "DemoOwner2026");
pub const OPERATOR: (&str, &str) = ("operator@demo", "DemoOperator2026");
pub const VIEWER: (&str, &str) = ("viewer@demo", "DemoViewer2026");
/// The second tenant, for isolation tests.
pub const OTHER_OWNER: (&str, &str) = ("owner@other", "OtherOwner2026x");

/// API keys of a test server, made at start-up (random, like every key).
#[allow(dead_code)]
pub struct Keys {
    /// The demo merchant's MERCHANT key.
    pub merchant: String,
    /// An unbound INGEST key: a payment-system integration for every merchant.
    pub ingest: String,
    /// An unbound PLATFORM key: the platform operator.
    pub platform: String,
    /// The demo's own INGEST and PLATFORM keys, bound to the demo merchant.
    pub demo_ingest: String,
    pub demo_platform: String,
}

#[allow(dead_code)] // later capabilities reach into deps and the database
pub struct TestApp {
    pub addr: SocketAddr,
    pub url: String,
    pub clock: Arc<ManualClock>,
    pub deps: Deps,
    pub database_url: String,
    pub http: reqwest::Client,
    pub demo_merchant_id: i64,
    pub other_merchant_id: i64,
    pub keys: Keys,
    _shutdown: oneshot::Sender<()>,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh database URL: a new PostgreSQL database, or a SQLite file in a temp dir.
pub async fn fresh_database() -> (String, Option<tempfile::TempDir>) {
    match std::env::var("KASSA_TEST_DATABASE_URL") {
        Ok(base) if base.starts_with("postgres") => {
            let name = format!("kassa_t_{:016x}", rand::thread_rng().gen::<u64>());
            let admin = Database::connect(base.as_str())
                .await
                .expect("connect to PostgreSQL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            let _ = admin.close().await;
            let (prefix, _) = base.rsplit_once('/').expect("database URL with a path");
            (format!("{prefix}/{name}"), None)
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("kassa.db").display()
            );
            (url, Some(dir))
        }
    }
}

pub fn config(database_url: &str, overrides: &[(&str, &str)]) -> Config {
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert("DATABASE_URL".into(), database_url.into());
    env.insert("KASSA_BIND".into(), "127.0.0.1:0".into());
    env.insert("KASSA_ALLOW_PRIVATE_URLS".into(), "1".into());
    env.insert("KASSA_POSTBACK_RETRY_SCHEDULE".into(), "1s,2s".into());
    // Postback tests turn the worker on; elsewhere queued postbacks stay put.
    env.insert("KASSA_POSTBACK_WORKER".into(), "0".into());
    env.insert("KASSA_POSTBACK_POLL".into(), "50ms".into());
    // Tests drive many calls from one address; the rate-limit tests lower these.
    env.insert("KASSA_ACTIVATION_RATE".into(), "100000".into());
    env.insert("KASSA_LOGIN_RATE".into(), "100000".into());
    // On the PostgreSQL + Redis run, events fan out through Redis on a
    // channel of this database's own, so parallel tests never hear each other.
    if let Ok(redis) = std::env::var("KASSA_TEST_REDIS_URL") {
        env.insert("REDIS_URL".into(), redis);
        env.insert(
            "KASSA_EVENTS_CHANNEL".into(),
            format!("kassa:test:{database_url}"),
        );
    }
    for (k, v) in overrides {
        env.insert(k.to_string(), v.to_string());
    }
    Config::from_lookup(|k| env.get(k).cloned()).expect("test configuration")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts a server with the demo data and a second merchant.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let (database_url, dir) = fresh_database().await;
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 24, 10, 0, 0).unwrap());
    let deps = app::deps(config(&database_url, overrides), clock.clone())
        .await
        .expect("start-up");
    let demo = kassa::demo::load_accounts(&deps).await.expect("demo data");
    let demo_key = |scope: &str| {
        demo.api_keys
            .iter()
            .find(|(s, _)| s == scope)
            .map(|(_, k)| k.clone())
            .expect("the demo made its keys")
    };
    let unbound = |scope| {
        let deps = deps.clone();
        async move {
            kassa::auth::service::create_api_key(&deps, scope, None)
                .await
                .expect("an API key")
                .1
        }
    };
    use kassa::auth::model::Scope;
    let keys = Keys {
        merchant: demo_key("MERCHANT"),
        ingest: unbound(Scope::Ingest).await,
        platform: unbound(Scope::Platform).await,
        demo_ingest: demo_key("INGEST"),
        demo_platform: demo_key("PLATFORM"),
    };
    let other =
        kassa::accounts::service::create_merchant(&deps, "Other Shop", Some("Asia/Dhaka"), None)
            .await
            .expect("second merchant");
    kassa::accounts::service::create_user(
        &deps,
        &kassa::auth::model::Actor::Cli,
        Some(other.id),
        kassa::accounts::service::NewUser {
            login: OTHER_OWNER.0.into(),
            password: OTHER_OWNER.1.into(),
            role: kassa::auth::model::Role::Owner,
            language: None,
        },
    )
    .await
    .expect("second owner")
    .expect("valid second owner");
    kassa::catalog::service::create_wallet(&deps, other.id, "bkash", "01799999999")
        .await
        .expect("second merchant's wallet");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let state = AppState::new(deps.clone()).unwrap();
    tokio::spawn(app::run(listener, state, async move {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        url: format!("http://{addr}"),
        clock,
        deps,
        database_url,
        http: reqwest::Client::new(),
        demo_merchant_id: demo.merchant_id,
        other_merchant_id: other.id,
        keys,
        _shutdown: tx,
        _dir: dir,
    }
}

impl TestApp {
    /// The `/metrics` text (no token configured).
    pub async fn metrics(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Starts the server's shutdown, as SIGTERM would; returns at once with
    /// the SQLite file's directory, which lives as long as the caller keeps it.
    pub fn shut_down(self) -> Option<tempfile::TempDir> {
        let TestApp {
            _shutdown, _dir, ..
        } = self;
        drop(_shutdown);
        _dir
    }

    /// Runs one GraphQL operation and returns the whole response body.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.url))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("request");
        resp.json().await.expect("JSON response")
    }

    /// The body of `GET <server><path>`.
    pub async fn get_text(&self, path: &str) -> String {
        self.http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("request")
            .text()
            .await
            .expect("text body")
    }

    /// Runs the operation `name` of a document holding several.
    pub async fn gql_named(&self, token: Option<&str>, document: &str, name: &str) -> Value {
        self.gql_op(token, document, name, json!({})).await
    }

    /// Runs the operation `name` of a document holding several, with variables.
    pub async fn gql_op(
        &self,
        token: Option<&str>,
        document: &str,
        name: &str,
        variables: Value,
    ) -> Value {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.url))
            .json(&json!({ "query": document, "operationName": name, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON response")
    }

    /// Signs in and returns the token, failing the test otherwise.
    pub async fn login(&self, who: (&str, &str)) -> String {
        let body = self.login_raw(who.0, who.1).await;
        body["data"]["login"]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("login failed: {body}"))
            .to_string()
    }

    pub async fn login_raw(&self, login: &str, password: &str) -> Value {
        self.gql(
            None,
            "mutation($l: String!, $p: String!) { login(login: $l, password: $p) { token expiresAt user { login role } errors { code field message } } }",
            json!({ "l": login, "p": password }),
        )
        .await
    }
}

/// Waits (checking every 25 ms) until `check` holds; fails the test naming
/// `what` when it has not within `within`. The one polling helper of the
/// suite: time-dependent behaviour is waited for, never slept on.
pub async fn eventually(what: &str, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    let start = std::time::Instant::now();
    loop {
        if check().await {
            return;
        }
        if start.elapsed() >= within {
            panic!("{what}: not within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Starts `kassa serve` on `database_url`; returns the process and its URL.
pub fn serve_process(database_url: &str, env: &[(&str, &str)]) -> (std::process::Child, String) {
    serve_process_to(database_url, env, std::process::Stdio::null())
}

/// `serve_process` with its stderr (the log) sent to `stderr`; `env` is
/// applied last, over the defaults.
pub fn serve_process_to(
    database_url: &str,
    env: &[(&str, &str)],
    stderr: impl Into<std::process::Stdio>,
) -> (std::process::Child, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kassa"));
    cmd.arg("serve")
        .env_remove("REDIS_URL")
        .env_remove("KASSA_LOG_FORMAT")
        .env("DATABASE_URL", database_url)
        .env("KASSA_BIND", "127.0.0.1:0")
        .env("KASSA_POSTBACK_WORKER", "0")
        .env("KASSA_LOGIN_RATE", "100000")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(stderr);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let started: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("{line}"));
    let url = started["listening"].as_str().unwrap().to_string();
    (child, url)
}

/// The `extensions.code` of the first error, if any.
pub fn error_code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

/// The first `UserError` code inside `data.<field>.errors`.
pub fn user_error<'a>(body: &'a Value, field: &str) -> Option<&'a str> {
    body["data"][field]["errors"][0]["code"].as_str()
}

/// A real HTTP receiver for postbacks on port 0: answers each request with the
/// next scripted status (200 once the script runs out) and records what came.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub seen: Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, String, String)>>>,
    script: Arc<std::sync::Mutex<std::collections::VecDeque<u16>>>,
    delay: Arc<std::sync::Mutex<std::time::Duration>>,
    /// Requests that arrived (answered or not yet), those being answered
    /// now, and the most at once.
    pub arrived: Arc<std::sync::atomic::AtomicUsize>,
    active: Arc<std::sync::atomic::AtomicUsize>,
    pub peak: Arc<std::sync::atomic::AtomicUsize>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        use axum::extract::State;
        use axum::response::IntoResponse;
        let r = Receiver {
            url: String::new(),
            seen: Default::default(),
            script: Default::default(),
            delay: Default::default(),
            arrived: Default::default(),
            active: Default::default(),
            peak: Default::default(),
        };
        async fn hook(
            State(r): State<Receiver>,
            uri: axum::http::Uri,
            headers: axum::http::HeaderMap,
            body: String,
        ) -> axum::response::Response {
            use std::sync::atomic::Ordering::SeqCst;
            r.arrived.fetch_add(1, SeqCst);
            let now = r.active.fetch_add(1, SeqCst) + 1;
            r.peak.fetch_max(now, SeqCst);
            // (counted down even when the sender gives up mid-answer)
            struct Leave(Arc<std::sync::atomic::AtomicUsize>);
            impl Drop for Leave {
                fn drop(&mut self) {
                    self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
            let _leave = Leave(r.active.clone());
            let delay = *r.delay.lock().unwrap();
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            r.seen
                .lock()
                .unwrap()
                .push((headers, body, uri.path().to_string()));
            let status = r.script.lock().unwrap().pop_front().unwrap_or(200);
            let code = axum::http::StatusCode::from_u16(status).unwrap();
            if (300..400).contains(&status) {
                return (code, [("location", "/elsewhere")]).into_response();
            }
            code.into_response()
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let r = Receiver {
            url: format!("http://{addr}/hook"),
            ..r
        };
        let app = axum::Router::new().fallback(hook).with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        r
    }

    pub fn answer(&self, statuses: &[u16]) {
        self.script.lock().unwrap().extend(statuses.iter().copied());
    }

    /// Answers 200 from now on (the script is dropped).
    pub fn recover(&self) {
        self.script.lock().unwrap().clear();
    }

    pub fn slow(&self, by: std::time::Duration) {
        *self.delay.lock().unwrap() = by;
    }

    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// Waits (up to 20 s) until `n` requests have arrived.
    pub async fn wait_for(&self, n: usize) {
        let what = format!("the receiver getting {n} requests");
        eventually(&what, Duration::from_secs(20), async || self.count() >= n).await;
    }
}

/// Walks `list` (a connection field) as `token`: its first page and 8 more
/// by cursor, `size` rows each, once unfiltered and once with `filter`.
pub async fn walk_pages(app: &TestApp, token: &str, list: &str, size: u32, filter: &str) {
    let page = |args: String| async move {
        let q = format!("{{ {list}({args}) {{ nodes {{ id }} pageInfo {{ endCursor }} }} }}");
        let body = app.gql(Some(token), &q, json!({})).await;
        assert!(body["errors"].is_null(), "{body}");
        body["data"][list]["pageInfo"]["endCursor"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let mut plain = page(format!("first: {size}")).await;
    let mut filtered = page(format!("first: {size}, {filter}")).await;
    for _ in 0..8 {
        plain = page(format!("first: {size}, after: \"{plain}\"")).await;
        filtered = page(format!("first: {size}, after: \"{filtered}\", {filter}")).await;
    }
}

/// A statement a page-read connection prepared: its text, how many times
/// it ran on a generic plan and on a custom one, and the connection's
/// `plan_cache_mode`.
pub type Prepared = (String, i64, i64, String);

/// What the page-read connection planning as `plans` prepared over `table`,
/// asked on that connection (this question itself left out).
pub async fn prepared_over(
    reads: &kassa::db::Reads,
    plans: kassa::db::Plans,
    table: &str,
) -> Vec<Prepared> {
    let sql = format!(
        "SELECT statement, generic_plans, custom_plans, \
         current_setting('plan_cache_mode') AS mode \
         FROM pg_prepared_statements \
         WHERE statement LIKE '%FROM \"{table}\"%' \
         AND statement NOT LIKE '%pg_prepared_statements%'"
    );
    reads
        .all(
            &sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql),
            plans,
        )
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.try_get::<String>("", "statement").unwrap(),
                r.try_get::<i64>("", "generic_plans").unwrap(),
                r.try_get::<i64>("", "custom_plans").unwrap(),
                r.try_get::<String>("", "mode").unwrap(),
            )
        })
        .collect()
}

/// The fields of `type_name`, read by introspection: each field's name,
/// its arguments' names and its type (lists and non-nulls four deep).
pub async fn type_fields(app: &TestApp, token: &str, type_name: &str) -> Vec<Value> {
    let body = app
        .gql(
            Some(token),
            "query($n: String!) { __type(name: $n) { fields { name args { name } type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }",
            json!({ "n": type_name }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["__type"]["fields"].as_array().unwrap().clone()
}

/// The named type under a type reference of [`type_fields`] (its lists and
/// non-nulls unwrapped): `kind` and `name`.
pub fn named_type(mut t: &Value) -> &Value {
    while t["name"].is_null() {
        t = &t["ofType"];
    }
    t
}

/// Every field of `type_name`, read by introspection: scalars and enums as
/// they are, objects `depth` levels down (fields with arguments left to
/// their defaults).
pub async fn every_field(
    app: &TestApp,
    token: &str,
    type_name: &str,
    depth: usize,
    cache: &mut HashMap<String, Vec<Value>>,
) -> String {
    if !cache.contains_key(type_name) {
        let fields = type_fields(app, token, type_name).await;
        cache.insert(type_name.to_string(), fields);
    }
    let fields = cache[type_name].clone();
    let mut out = Vec::new();
    for f in fields {
        let t = named_type(&f["type"]);
        let name = f["name"].as_str().unwrap();
        match t["kind"].as_str().unwrap() {
            "SCALAR" | "ENUM" => out.push(name.to_string()),
            "OBJECT" if depth > 0 => {
                let inner = Box::pin(every_field(
                    app,
                    token,
                    t["name"].as_str().unwrap(),
                    depth - 1,
                    cache,
                ))
                .await;
                out.push(format!("{name} {{ {inner} }}"));
            }
            _ => {}
        }
    }
    out.join(" ")
}
