//! The hardening issue's attacks, each reproduced and shown refused: keys
//! bound to their merchant, query cost, argon2 floods, the lockout race,
//! password oracles, long strings, WebSocket limits, proxies, SSRF edges.

use crate::events::{next, next_for, socket, Ws};
use crate::support::*;
use crate::transactions::{ingest, paytm, INGEST};
use crate::withdrawals::{fund, paytm_out, CREATE};
use futures_util::SinkExt;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const RATES: &str =
    "mutation($i: [ExchangeRateInput!]!) { setExchangeRates(input: $i) { errors { code } } }";

async fn transactions_of(app: &TestApp, merchant_id: i64) -> u64 {
    entity::transaction::Entity::find()
        .filter(entity::transaction::Column::MerchantId.eq(merchant_id))
        .count(&app.deps.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn demo_keys_are_random_per_database_and_reach_only_the_demo_merchant() {
    let a = spawn_app().await;
    let b = spawn_app().await;
    assert_ne!(a.keys.merchant, b.keys.merchant);
    assert_ne!(a.keys.demo_ingest, b.keys.demo_ingest);
    assert_ne!(a.keys.demo_platform, b.keys.demo_platform);
    // A second load of the demo shows no key again (they are stored hashed).
    let again = kassa::demo::load_accounts(&a.deps).await.unwrap();
    assert!(!again.created && again.api_keys.is_empty());

    // A merchant created after the demo, as in the review's attack.
    let later = kassa::accounts::service::create_merchant(&a.deps, "Later Shop", None, None)
        .await
        .unwrap();
    kassa::catalog::service::create_wallet(&a.deps, later.id, "paytm", "9876599999")
        .await
        .unwrap();
    let mut forged = paytm("FORGED-1", "50000.00");
    forged["walletIdentifier"] = json!("9876599999");
    let body = a
        .gql(Some(&a.keys.demo_ingest), INGEST, json!({ "i": [forged] }))
        .await;
    let r = &body["data"]["ingestTransactions"]["results"][0];
    assert_eq!(r["outcome"], "REJECTED", "{body}");
    assert_eq!(r["errors"][0]["code"], "NOT_FOUND", "{body}");
    assert_eq!(transactions_of(&a, later.id).await, 0);
    // The same key still ingests into its own merchant.
    let body = a
        .gql(
            Some(&a.keys.demo_ingest),
            INGEST,
            json!({ "i": [paytm("OWN-1", "10.00")] }),
        )
        .await;
    assert_eq!(
        body["data"]["ingestTransactions"]["results"][0]["outcome"], "CREATED",
        "{body}"
    );

    // The bound PLATFORM key: another merchant's rows are missing ones, and
    // global rates are not its to set.
    let platform = a.keys.demo_platform.as_str();
    let body = a
        .gql(
            Some(platform),
            "mutation($m: ID!) { setDelayedAutoActivation(merchantId: $m, enabled: true) { errors { code } } }",
            json!({ "m": later.id.to_string() }),
        )
        .await;
    assert_eq!(
        body["data"]["setDelayedAutoActivation"]["errors"][0]["code"], "NOT_FOUND",
        "{body}"
    );
    let mut theirs = paytm("THEIRS-1", "10.00");
    theirs["walletIdentifier"] = json!("9876599999");
    let made = ingest(&a, vec![theirs]).await;
    let id = made[0]["transaction"]["id"].clone();
    let body = a
        .gql(
            Some(platform),
            "mutation($id: ID!) { setTransactionOriginality(id: $id, originality: SCAM) { errors { code } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        body["data"]["setTransactionOriginality"]["errors"][0]["code"], "NOT_FOUND",
        "{body}"
    );
    let body = a
        .gql(
            Some(platform),
            RATES,
            json!({ "i": [{ "currency": "INR", "date": "2026-11-20", "usd": "0.012" }] }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
}

#[tokio::test]
async fn a_platform_key_bound_to_one_merchant_cannot_decide_another_merchants_withdrawal() {
    let app = spawn_app().await;
    fund(&app, "1000.00", "0").await;
    let owner = app.login(OWNER).await;
    let body = app.gql(Some(&owner), CREATE, paytm_out("10")).await;
    let id = body["data"]["createWithdrawal"]["withdrawal"]["id"].clone();
    assert!(id.is_string(), "{body}");
    let (_, other_key) = kassa::auth::service::create_api_key(
        &app.deps,
        kassa::auth::model::Scope::Platform,
        Some(app.other_merchant_id),
    )
    .await
    .unwrap();
    let decide = "mutation($id: ID!) { setWithdrawalStatus(input: { id: $id, status: APPROVED }) { withdrawal { status } errors { code } } }";
    let body = app.gql(Some(&other_key), decide, json!({ "id": id })).await;
    assert_eq!(
        body["data"]["setWithdrawalStatus"]["errors"][0]["code"], "NOT_FOUND",
        "{body}"
    );
    let w = entity::withdrawal::Entity::find_by_id(id.as_str().unwrap().parse::<i64>().unwrap())
        .one(&app.deps.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        w.status,
        entity::withdrawal::WithdrawalStatus::New,
        "nothing changed"
    );
    let body = app
        .gql(Some(&app.keys.platform), decide, json!({ "id": id }))
        .await;
    assert_eq!(
        body["data"]["setWithdrawalStatus"]["withdrawal"]["status"], "APPROVED",
        "{body}"
    );
}

#[tokio::test]
async fn a_conflict_answer_carries_no_other_merchants_row() {
    let app = spawn_app().await;
    // The demo merchant's bKash deposit…
    let mine = json!({ "paymentSystem": "bkash", "walletIdentifier": "01711000001", "direction": "INCOMING",
        "amount": "700", "currency": "BDT", "transactionNumber": "BK-SHARED", "counterparty": "secret payer" });
    ingest(&app, vec![mine.clone()]).await;
    // …re-submitted against the other merchant's wallet.
    let mut theirs = mine.clone();
    theirs["walletIdentifier"] = json!("01799999999");
    theirs["amount"] = json!("1");
    let r = ingest(&app, vec![theirs]).await;
    assert_eq!(r[0]["outcome"], "CONFLICT", "{r}");
    assert!(r[0]["transaction"].is_null(), "leaked: {r}");
    // The same merchant still sees its own row on a duplicate.
    let r = ingest(&app, vec![mine]).await;
    assert_eq!(r[0]["outcome"], "DUPLICATE", "{r}");
    assert_eq!(r[0]["transaction"]["transactionNumber"], "BK-SHARED", "{r}");
}

fn wide_query() -> String {
    let mut q = String::from("query Wide {");
    for i in 0..30 {
        q.push_str(&format!(
            " a{i}: transactions(first: 500) {{ edges {{ node {{ id amount currency label transactionNumber \
             stockpiling {{ id accumulated transactions {{ id amount label }} }} postbacks {{ id attempts {{ at error }} }} }} }} }}"
        ));
    }
    q.push('}');
    q
}

#[tokio::test]
async fn a_wide_query_is_refused_by_its_page_sizes_before_anything_runs() {
    let app = spawn_app().await;
    let viewer = app.login(VIEWER).await;
    // What authenticating a request costs, for comparison.
    let before = app.deps.statements.load(Ordering::SeqCst);
    app.gql(Some(&viewer), "{ __typename }", json!({})).await;
    let baseline = app.deps.statements.load(Ordering::SeqCst) - before;

    let before = app.deps.statements.load(Ordering::SeqCst);
    let body = app.gql(Some(&viewer), &wide_query(), json!({})).await;
    let spent = app.deps.statements.load(Ordering::SeqCst) - before;
    assert_eq!(error_code(&body), Some("TOO_COMPLEX"), "{body}");
    assert!(body["data"].is_null(), "{body}");
    assert!(
        spent <= baseline,
        "a refused query ran {spent} statements (auth: {baseline})"
    );

    // One page of 500 is charged 500 times its row: over the limit with every
    // nested list, within it with the plain columns.
    let one = "{ transactions(first: 500) { edges { node { id stockpiling { transactions(first: 100) { id amount label } } } } } }";
    let body = app.gql(Some(&viewer), one, json!({})).await;
    assert_eq!(error_code(&body), Some("TOO_COMPLEX"), "{body}");
    let fine = "{ transactions(first: 500) { totalCount edges { cursor node { id amount commission currency status label orderId transactionNumber createdAt activatedAt } } pageInfo { hasNextPage endCursor } } }";
    let body = app.gql(Some(&viewer), fine, json!({})).await;
    assert!(body["errors"].is_null(), "{body}");
    // The same page size through a variable is charged the same.
    let body = app
        .gql(
            Some(&viewer),
            "query($n: Int) { a: transactions(first: $n) { edges { node { id amount label } } } b: transactions(first: $n) { edges { node { id amount label } } } c: transactions(first: $n) { edges { node { id amount label stockpiling { transactions { id label amount } } } } } }",
            json!({ "n": 500 }),
        )
        .await;
    assert_eq!(error_code(&body), Some("TOO_COMPLEX"), "{body}");
    // Nested lists take a bounded `first`.
    fund(&app, "10.00", "0").await;
    let body = app
        .gql(
            Some(&viewer),
            "{ stockpilings(first: 1) { edges { node { transactions(first: 101) { id } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), Some("INVALID"), "{body}");
}

#[tokio::test]
async fn a_response_over_its_byte_limit_is_replaced_by_an_error() {
    let app = spawn_app_with(&[("KASSA_RESPONSE_LIMIT", "2000")]).await;
    for i in 0..40 {
        ingest(&app, vec![paytm(&format!("BIG-{i}"), "10.00")]).await;
    }
    let viewer = app.login(VIEWER).await;
    let body = app
        .gql(
            Some(&viewer),
            "{ transactions(first: 40) { edges { node { id amount label transactionNumber createdAt } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), Some("RESPONSE_TOO_LARGE"), "{body}");
    let body = app
        .gql(
            Some(&viewer),
            "{ transactions(first: 2) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
}

#[tokio::test]
async fn twenty_wrong_passwords_at_once_are_checked_at_most_six_times_and_lock_the_login() {
    let app = spawn_app().await;
    let before = app.deps.password_checks.load(Ordering::SeqCst);
    let attempts = (0..20).map(|i| {
        let app = &app;
        async move { app.login_raw(OWNER.0, &format!("Wrong-guess-{i:03}")).await }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let checked = app.deps.password_checks.load(Ordering::SeqCst) - before;
    assert!(
        checked <= 6,
        "{checked} passwords were checked against the hash"
    );
    let wrong = answers
        .iter()
        .filter(|b| user_error(b, "login") == Some("WRONG_CREDENTIALS"))
        .count();
    assert!(wrong <= 5, "{wrong} wrong-credential answers");
    for b in &answers {
        assert!(b["data"]["login"]["token"].is_null(), "{b}");
    }
    // The right password now: locked.
    let body = app.login_raw(OWNER.0, OWNER.1).await;
    assert_eq!(user_error(&body, "login"), Some("LOCKED"), "{body}");
}

async fn login_at(http: &reqwest::Client, url: &str, login: &str, password: &str) -> Value {
    http.post(format!("{url}/graphql"))
        .json(&json!({ "query": "mutation($l: String!, $p: String!) { login(login: $l, password: $p) { token errors { code } } }",
                       "variables": { "l": login, "p": password } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn metric(http: &reqwest::Client, url: &str, name: &str) -> u64 {
    let text = http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

#[tokio::test]
async fn the_lockout_holds_across_two_server_processes() {
    let app = spawn_app().await;
    // The other process runs on the wall clock: bring the test's clock there,
    // so both see the same lock as in force.
    let behind = chrono::Utc::now() - kassa::clock::Clock::now(&*app.clock);
    app.clock.advance(behind.to_std().unwrap_or_default());
    let (mut child, child_url) = serve_process(&app.database_url, &[]);
    let http = reqwest::Client::new();
    let before = app.deps.password_checks.load(Ordering::SeqCst);
    let attempts = (0..24).map(|i| {
        let url = if i % 2 == 0 {
            app.url.clone()
        } else {
            child_url.clone()
        };
        let http = http.clone();
        async move { login_at(&http, &url, OPERATOR.0, &format!("Wrong-guess-{i:03}")).await }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let checked = app.deps.password_checks.load(Ordering::SeqCst) - before
        + metric(&http, &child_url, "kassa_password_checks_total").await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        checked <= 6,
        "{checked} passwords checked across both processes"
    );
    let wrong = answers
        .iter()
        .filter(|b| b["data"]["login"]["errors"][0]["code"] == "WRONG_CREDENTIALS")
        .count();
    assert!(wrong <= 5, "{wrong}: {answers:?}");
    let body = app.login_raw(OPERATOR.0, OPERATOR.1).await;
    assert_eq!(user_error(&body, "login"), Some("LOCKED"), "{body}");
}

#[tokio::test]
async fn wrong_old_passwords_count_toward_the_sign_in_lockout() {
    let app = spawn_app().await;
    let token = app.login(VIEWER).await;
    let change = "mutation($o: String!) { changePassword(oldPassword: $o, newPassword: \"Fresh-Viewer-2027\") { ok errors { code } } }";
    let mut codes = Vec::new();
    for i in 0..7 {
        let body = app
            .gql(
                Some(&token),
                change,
                json!({ "o": format!("Guess-{i}-abcdef") }),
            )
            .await;
        codes.push(
            body["data"]["changePassword"]["errors"][0]["code"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        );
    }
    assert_eq!(codes[..5], ["WRONG_PASSWORD"; 5], "{codes:?}");
    assert_eq!(codes[5..], ["LOCKED"; 2], "{codes:?}");
    // Locked for sign-in too, and the right old password no longer helps.
    let body = app.login_raw(VIEWER.0, VIEWER.1).await;
    assert_eq!(user_error(&body, "login"), Some("LOCKED"), "{body}");
    let body = app
        .gql(Some(&token), change, json!({ "o": VIEWER.1 }))
        .await;
    assert_eq!(
        body["data"]["changePassword"]["errors"][0]["code"], "LOCKED",
        "{body}"
    );
}

#[tokio::test]
async fn change_password_shares_the_sign_in_rate_limit() {
    let app = spawn_app_with(&[("KASSA_LOGIN_RATE", "3")]).await;
    let token = app.login(VIEWER).await;
    let change = "mutation { changePassword(oldPassword: \"Guess-abcdef-1\", newPassword: \"Fresh-Viewer-2027\") { ok errors { code } } }";
    let mut limited = false;
    for _ in 0..4 {
        let body = app.gql(Some(&token), change, json!({})).await;
        limited |= error_code(&body) == Some("RATE_LIMITED");
    }
    assert!(limited, "changePassword was never rate-limited");
}

#[tokio::test]
async fn argon2_runs_in_bounded_slots_and_a_flood_is_turned_away() {
    let app = spawn_app_with(&[("KASSA_ARGON2_SLOTS", "1")]).await;
    let attempts = (0..40).map(|i| {
        let app = &app;
        async move {
            app.login_raw(&format!("nobody{i}@demo"), "Whatever-12345")
                .await
        }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let limited = answers
        .iter()
        .filter(|b| error_code(b) == Some("RATE_LIMITED"))
        .count();
    let answered = answers
        .iter()
        .filter(|b| user_error(b, "login") == Some("WRONG_CREDENTIALS"))
        .count();
    assert_eq!(limited + answered, 40, "{answers:?}");
    assert!(answered >= 1, "some were checked");
    // Nothing was counted for the ones turned away.
    let rows = entity::login_failure::Entity::find()
        .count(&app.deps.db)
        .await
        .unwrap();
    assert_eq!(rows as usize, answered);
}

#[tokio::test]
async fn long_strings_are_refused_before_any_database_work() {
    let app = spawn_app().await;
    let huge = "x".repeat(900_000);
    let before = app.deps.statements.load(Ordering::SeqCst);
    let body = app.login_raw(&huge, "Whatever-12345").await;
    assert_eq!(
        error_code(&body),
        Some("INVALID"),
        "{}",
        &body.to_string()[..200.min(body.to_string().len())]
    );
    assert_eq!(
        body["errors"][0]["extensions"]["field"],
        json!(["variables", "l"])
    );
    assert_eq!(
        app.deps.statements.load(Ordering::SeqCst),
        before,
        "no statement ran"
    );
    // As a literal inside the query, in a filter.
    let viewer = app.login(VIEWER).await;
    let q = format!(
        "{{ transactions(filter: {{ label: \"{}\" }}) {{ edges {{ node {{ id }} }} }} }}",
        "y".repeat(5000)
    );
    let body = app.gql(Some(&viewer), &q, json!({})).await;
    assert_eq!(error_code(&body), Some("INVALID"), "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["field"],
        json!(["transactions", "filter", "label"])
    );
    // A login of 65 characters (within the string limit) is refused in the
    // service, before a failure row is written.
    let body = app.login_raw(&"z".repeat(65), "Whatever-12345").await;
    assert_eq!(user_error(&body, "login"), Some("INVALID"), "{body}");
    let rows = entity::login_failure::Entity::find()
        .count(&app.deps.db)
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

#[tokio::test]
async fn sign_in_failure_rows_are_purged_after_their_window() {
    let app = spawn_app_with(&[("KASSA_PURGE_EVERY", "50ms")]).await;
    app.login_raw("ghost@demo", "Whatever-12345").await;
    let count = || async {
        entity::login_failure::Entity::find()
            .count(&app.deps.db)
            .await
            .unwrap()
    };
    assert_eq!(count().await, 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(count().await, 1, "kept within its window");
    app.clock.advance(Duration::from_secs(31 * 60));
    eventually(
        "the expired failure row is purged",
        Duration::from_secs(5),
        async || count().await == 0,
    )
    .await;
}

async fn ws_activate(ws: &mut Ws, id: &str, number: &str) -> Value {
    ws.send(Message::text(json!({ "id": id, "type": "subscribe", "payload": {
        "query": "mutation($n: String!) { activateDeposit(input: { pluginKey: \"kpk_demo_shop_public_key_0001\", paymentSystem: \"paytm\", transactionNumber: $n, label: \"ws\" }) { outcome } }",
        "variables": { "n": number } } }).to_string()))
        .await
        .unwrap();
    next_for(ws, id).await
}

#[tokio::test]
async fn websocket_callers_are_rate_limited_by_their_own_address() {
    let app = spawn_app_with(&[("KASSA_ACTIVATION_RATE", "2")]).await;
    let activate = "mutation { activateDeposit(input: { pluginKey: \"kpk_demo_shop_public_key_0001\", paymentSystem: \"paytm\", transactionNumber: \"NOPE\", label: \"x\" }) { outcome } }";
    for _ in 0..2 {
        let body = app.gql(None, activate, json!({})).await;
        assert!(error_code(&body).is_none(), "{body}");
    }
    // The same client over WebSocket shares its bucket: already spent.
    let viewer = app.login(VIEWER).await;
    let mut ws = socket(&app, Some(&viewer)).await;
    let answer = ws_activate(&mut ws, "1", "NOPE").await;
    assert_eq!(
        answer["payload"]["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{answer}"
    );
}

#[tokio::test]
async fn a_socket_holds_at_most_fifty_subscriptions_and_a_caller_a_few_sockets() {
    let app = spawn_app_with(&[("KASSA_WS_PER_CLIENT", "2")]).await;
    let owner = app.login(OWNER).await;
    let mut ws = socket(&app, Some(&owner)).await;
    for i in 0..51 {
        // Distinct queries, so none is shared and each holds a slot.
        let q =
            format!("subscription S{i} {{ transactionEvents {{ kind transaction {{ id }} }} }}");
        ws.send(Message::text(json!({ "id": format!("s{i}"), "type": "subscribe", "payload": { "query": q, "operationName": format!("S{i}") } }).to_string()))
            .await
            .unwrap();
    }
    let refused = next_for(&mut ws, "s50").await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"], "TOO_MANY_SUBSCRIPTIONS",
        "{refused}"
    );
    // Completing one frees a slot.
    ws.send(Message::text(
        json!({ "id": "s0", "type": "complete" }).to_string(),
    ))
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    ws.send(Message::text(json!({ "id": "again", "type": "subscribe", "payload": { "query": "subscription { withdrawalEvents { kind } }" } }).to_string()))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Sockets per session: the second is fine, the third is closed.
    let _second = socket(&app, Some(&owner)).await;
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
        format!("ws://{}/graphql/ws", app.addr),
    )
    .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut third, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    third
        .send(Message::text(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {owner}") } }).to_string()))
        .await
        .unwrap();
    assert_eq!(next(&mut third).await, json!({ "close": 4429 }));
    // A socket that ends gives its seat back.
    drop(_second);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _fourth = socket(&app, Some(&owner)).await;
}

#[tokio::test]
async fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
    let login = |app: &TestApp, xff: &'static str| {
        let req = app
            .http
            .post(format!("{}/graphql", app.url))
            .header("x-forwarded-for", xff)
            .json(&json!({ "query": "mutation { login(login: \"nobody@demo\", password: \"Whatever-12345\") { errors { code } } }" }));
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    // Behind a trusted proxy: each forwarded client has its own bucket.
    let app = spawn_app_with(&[
        ("KASSA_LOGIN_RATE", "2"),
        ("KASSA_TRUSTED_PROXIES", "127.0.0.0/8"),
    ])
    .await;
    for _ in 0..2 {
        assert!(error_code(&login(&app, "203.0.113.5").await).is_none());
    }
    assert_eq!(
        error_code(&login(&app, "203.0.113.5").await),
        Some("RATE_LIMITED")
    );
    // A spoofed hop on the client's side does not help: the nearest untrusted address counts.
    assert_eq!(
        error_code(&login(&app, "198.51.100.1, 203.0.113.5").await),
        Some("RATE_LIMITED")
    );
    assert!(error_code(&login(&app, "203.0.113.6").await).is_none());
    // Without trusted proxies the header is ignored: one bucket per peer.
    let app = spawn_app_with(&[("KASSA_LOGIN_RATE", "2")]).await;
    for _ in 0..2 {
        login(&app, "203.0.113.5").await;
    }
    assert_eq!(
        error_code(&login(&app, "203.0.113.99").await),
        Some("RATE_LIMITED")
    );
}

#[tokio::test]
async fn metrics_need_the_token_when_one_is_set() {
    let app = spawn_app_with(&[("KASSA_METRICS_TOKEN", "scrape-secret-1")]).await;
    let url = format!("{}/metrics", app.url);
    assert_eq!(app.http.get(&url).send().await.unwrap().status(), 401);
    let wrong = app
        .http
        .get(&url)
        .bearer_auth("scrape-secret-2")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let ok = app
        .http
        .get(&url)
        .bearer_auth("scrape-secret-1")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok
        .text()
        .await
        .unwrap()
        .contains("kassa_password_checks_total"));
}

#[tokio::test]
async fn postback_urls_embedding_private_ipv4_addresses_are_refused() {
    let app = spawn_app_with(&[("KASSA_ALLOW_PRIVATE_URLS", "0")]).await;
    let owner = app.login(OWNER).await;
    for url in [
        "http://[2002:7f00:1::1]/hook",
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",
        "http://[fec0::1]/hook",
        "http://192.88.99.7/hook",
    ] {
        let body = app
            .gql(
                Some(&owner),
                "mutation($u: String!) { updateSystemSettings(input: { postbackUrl: $u }) { errors { code } } }",
                json!({ "u": url }),
            )
            .await;
        let code = body["data"]["updateSystemSettings"]["errors"][0]["code"].clone();
        assert_eq!(code, "FORBIDDEN_URL", "{url}: {body}");
    }
}

#[tokio::test]
async fn the_delivery_client_ignores_proxy_settings_and_reports_no_network_details() {
    // A "proxy" that records whoever connects to it.
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let proxied = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = proxied.clone();
    tokio::spawn(async move {
        while let Ok((_s, _)) = proxy.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    let app = spawn_app().await;
    let receiver = Receiver::start().await;
    let owner = app.login(OWNER).await;
    app.gql(
        Some(&owner),
        "mutation($u: String!) { updateSystemSettings(input: { postbackUrl: $u }) { errors { code } } }",
        json!({ "u": receiver.url }),
    )
    .await;
    ingest(&app, vec![paytm("PROXY-1", "5000.00")]).await;
    app.gql(None, "mutation { activateDeposit(input: { pluginKey: \"kpk_demo_shop_public_key_0001\", paymentSystem: \"paytm\", transactionNumber: \"PROXY-1\", label: \"p\" }) { outcome } }", json!({})).await;
    // A worker in its own process, with every proxy variable set.
    let (mut child, _) = serve_process(
        &app.database_url,
        &[
            ("KASSA_POSTBACK_WORKER", "1"),
            ("KASSA_ALLOW_PRIVATE_URLS", "1"),
            ("KASSA_POSTBACK_POLL", "50ms"),
            ("HTTP_PROXY", &proxy_url),
            ("http_proxy", &proxy_url),
            ("HTTPS_PROXY", &proxy_url),
            ("ALL_PROXY", &proxy_url),
        ],
    );
    receiver.wait_for(1).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        proxied.load(Ordering::SeqCst),
        0,
        "a delivery went through the proxy"
    );

    // A closed port and a missing host are told alike, without the cause.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let client = kassa::postbacks::worker::client(true).unwrap();
    let err = client.post(&dead).send().await.unwrap_err();
    assert_eq!(
        kassa::postbacks::worker::describe(&err),
        "could not connect to the endpoint"
    );
}

/// Peak and current resident memory of a process, in MiB.
fn memory_mib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

#[tokio::test]
async fn a_login_flood_and_wide_queries_keep_a_server_process_small() {
    let app = spawn_app().await;
    let (mut child, url) = serve_process(&app.database_url, &[]);
    let http = reqwest::Client::new();
    // 120 sign-ins at once, as in the review (wrong passwords, many logins).
    let logins = (0..120).map(|i| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            login_at(
                &http,
                &url,
                &format!("flood{}@demo", i % 6),
                "Whatever-12345",
            )
            .await
        }
    });
    let answers = futures_util::future::join_all(logins).await;
    for a in &answers {
        let code = a["errors"][0]["extensions"]["code"]
            .as_str()
            .or(a["data"]["login"]["errors"][0]["code"].as_str());
        assert!(
            matches!(code, Some("WRONG_CREDENTIALS" | "LOCKED" | "RATE_LIMITED")),
            "{a}"
        );
    }
    // 48 password changes at once through one session.
    let token = login_at(&http, &url, VIEWER.0, VIEWER.1).await["data"]["login"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let changes = (0..48).map(|i| {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        async move {
            http.post(format!("{url}/graphql"))
                .bearer_auth(token)
                .json(&json!({ "query": format!("mutation {{ changePassword(oldPassword: \"Wrong-old-{i:04}\", newPassword: \"Fresh-Viewer-2027\") {{ ok }} }}") }))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    futures_util::future::join_all(changes).await;
    // Three wide queries at once: refused before they run.
    let wide = (0..3).map(|_| {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        async move {
            http.post(format!("{url}/graphql"))
                .bearer_auth(token)
                .json(&json!({ "query": wide_query() }))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    });
    for body in futures_util::future::join_all(wide).await {
        let code = body["errors"][0]["extensions"]["code"].as_str();
        assert!(
            matches!(code, Some("TOO_COMPLEX" | "UNAUTHENTICATED")),
            "{body}"
        );
    }
    let (peak, now) = memory_mib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    eprintln!("login flood: peak RSS {peak} MiB, now {now} MiB");
    assert!(peak > 0, "read the process's memory");
    assert!(peak < 300, "peak RSS {peak} MiB (now {now} MiB)");
}

#[tokio::test]
async fn the_playground_loads_only_pinned_assets_from_this_server() {
    use base64::Engine;
    use sha2::Digest;
    let app = spawn_app().await;
    let resp = app
        .http
        .get(format!("{}/graphql", app.url))
        .send()
        .await
        .unwrap();
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let page = resp.text().await.unwrap();
    // Every example in playground/ is a tab (their text is data, not a
    // source to load, so it may name URLs); the rest names no other host.
    let tabs_line = page
        .lines()
        .find(|l| l.trim_start().starts_with("defaultTabs:"))
        .expect("the examples as tabs");
    let examples = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/playground"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "graphql")
        })
        .count();
    assert_eq!(tabs_line.matches("\"query\":").count(), examples);
    let rest = page.replace(tabs_line, "");
    assert!(
        !rest.contains("https://") && !rest.contains("http://"),
        "{rest}"
    );
    let re = regex::Regex::new(r#"(?:src|href)="(/playground/assets/[^"]+)" integrity="([^"]+)""#)
        .unwrap();
    let mut checked = 0;
    for cap in re.captures_iter(&page) {
        let bytes = app
            .http
            .get(format!("{}{}", app.url, &cap[1]))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let digest = base64::engine::general_purpose::STANDARD.encode(sha2::Sha384::digest(&bytes));
        assert_eq!(format!("sha384-{digest}"), &cap[2], "{}", &cap[1]);
        checked += 1;
    }
    assert_eq!(checked, 4, "react, react-dom, graphiql and its stylesheet");
    let missing = app
        .http
        .get(format!("{}/playground/assets/..%2fCargo.toml", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

/// A document that passed the full validation once runs on the fast
/// validating schema afterwards: what depends on the request (variable
/// values, page sizes, the cost those sizes make) is still refused, and a
/// document that failed validation is never promoted.
#[tokio::test]
async fn a_document_seen_before_is_still_judged_by_this_requests_variables() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let light = "query($n: Int) { transactions(first: $n) { edges { node { id amount } } } }";
    let heavy = "query($n: Int) { transactions(first: $n) { edges { node { id amount currency label transactionNumber \
        stockpiling { id accumulated transactions { id amount label } } postbacks { id attempts { at error } } } } } }";
    for page in [light, heavy] {
        for _ in 0..3 {
            let body = app.gql(Some(&owner), page, json!({ "n": 5 })).await;
            assert!(body["errors"].is_null(), "{body}");
        }
    }
    let cases = [
        (light, json!({ "n": "five" }), "BAD_REQUEST"),
        (light, json!({ "n": 501 }), "INVALID"),
        (heavy, json!({ "n": 500 }), "TOO_COMPLEX"),
    ];
    for (page, vars, code) in cases {
        let body = app.gql(Some(&owner), page, vars.clone()).await;
        assert_eq!(error_code(&body), Some(code), "{vars}: {body}");
        // and the document stays as it was: a good request still runs
        let body = app.gql(Some(&owner), page, json!({ "n": 5 })).await;
        assert!(body["errors"].is_null(), "{body}");
    }
    // a document that fails the full rules fails them every time
    let bad = "query($n: Int) { transactions(first: $n, nosuch: 1) { totalCount } }";
    for _ in 0..3 {
        let body = app.gql(Some(&owner), bad, json!({ "n": 5 })).await;
        assert_eq!(error_code(&body), Some("BAD_REQUEST"), "{body}");
    }
    // an unused variable is refused only by the full rules: never promoted
    let unused = "query($n: Int, $m: Int) { transactions(first: $n) { totalCount } }";
    for _ in 0..3 {
        let body = app.gql(Some(&owner), unused, json!({ "n": 5 })).await;
        assert_eq!(error_code(&body), Some("BAD_REQUEST"), "{body}");
    }
}

/// Once a document has run clean, later requests of it skip async-graphql's
/// full validation; a mutation given variables never does: with a bad
/// variable for its second field, the whole request is refused before the
/// first field writes anything (no half-done request a client would retry
/// whole), every time. A query's bad variable is refused as clearly.
#[tokio::test]
async fn a_mutation_with_a_bad_variable_writes_nothing_however_often_it_ran() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    const TWO: &str = "mutation($a: String!, $b: String!) { \
        one: createApiKey(input: { name: $a }) { apiKey { id } } \
        two: createApiKey(input: { name: $b }) { apiKey { id } } }";
    let keys = || async {
        entity::api_key::Entity::find()
            .filter(entity::api_key::Column::MerchantId.eq(app.demo_merchant_id))
            .count(&app.deps.db)
            .await
            .unwrap()
    };
    let before = keys().await;
    for round in 0..3 {
        let bad = app
            .gql(
                Some(&owner),
                TWO,
                json!({ "a": format!("k{round}"), "b": 5 }),
            )
            .await;
        assert!(bad["data"].is_null(), "round {round}: {bad}");
        assert_eq!(error_code(&bad), Some("BAD_REQUEST"), "{bad}");
        assert_eq!(
            keys().await,
            before + 2 * round,
            "round {round}: a key was written: {bad}"
        );
        let good = app
            .gql(
                Some(&owner),
                TWO,
                json!({ "a": format!("g{round}"), "b": format!("h{round}") }),
            )
            .await;
        assert!(good["errors"].is_null(), "{good}");
        assert!(good["data"]["two"]["apiKey"]["id"].is_string(), "{good}");
        assert_eq!(keys().await, before + 2 * (round + 1));
    }
    const PAGE: &str = "query($n: Int) { transactions(first: $n) { totalCount } }";
    for n in [json!(2), json!("x"), json!(2), json!("x")] {
        let got = app.gql(Some(&owner), PAGE, json!({ "n": n })).await;
        if n.is_string() {
            assert!(got["data"].is_null(), "{got}");
            assert_eq!(error_code(&got), Some("BAD_REQUEST"), "{got}");
        } else {
            assert!(got["errors"].is_null(), "{got}");
        }
    }
}
