//! CSV exports: a short-lived URL per merchant and filter, streamed rows.

use crate::support::*;
use crate::transactions::{ingest, paytm};
use serde_json::{json, Value};
use std::time::Duration;

const EXPORT_TX: &str = "mutation($f: TransactionFilter) { exportTransactions(filter: $f) { url expiresAt errors { code } } }";

fn rows(csv_text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(csv_text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[tokio::test]
async fn a_transactions_export_streams_the_filtered_rows_of_the_callers_merchant_only() {
    let app = spawn_app().await;
    let mut hostile = paytm("EXP-1", "12.50");
    hostile["counterparty"] = json!("=HYPERLINK(\"http://evil\",\"x\")");
    let mut items = vec![hostile];
    for i in 2..=30 {
        items.push(paytm(&format!("EXP-{i}"), "100"));
    }
    ingest(&app, items).await;
    let viewer = app.login(VIEWER).await;
    let made = app
        .gql(
            Some(&viewer),
            EXPORT_TX,
            json!({ "f": { "paymentSystems": ["paytm"], "transactionNumber": null } }),
        )
        .await;
    let payload = &made["data"]["exportTransactions"];
    assert_eq!(payload["errors"], json!([]), "{made}");
    assert_eq!(payload["expiresAt"], "2026-11-24T10:10:00Z");
    let url = payload["url"].as_str().unwrap().to_string();
    assert!(url.contains("/exports/kex_"), "{url}");
    // (the URL names KASSA_PUBLIC_URL; the test server's own address here)
    let path = &url[url.find("/exports/").unwrap()..];
    let r = app
        .http
        .get(format!("{}{path}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"transactions-2026-11-24.csv\""
    );
    let body = r.text().await.unwrap();
    let table = rows(&body);
    assert_eq!(
        table[0][..7],
        [
            "id",
            "created_at",
            "activated_at",
            "payment_system",
            "wallet",
            "direction",
            "amount"
        ]
    );
    // Every row of the filter, as the page counts them, newest first.
    let count = app
        .gql(
            Some(&viewer),
            "{ transactions(filter: { paymentSystems: [\"paytm\"] }) { totalCount } }",
            json!({}),
        )
        .await["data"]["transactions"]["totalCount"]
        .as_i64()
        .unwrap();
    assert_eq!(table.len() as i64 - 1, count, "{body}");
    let ids: Vec<i64> = table[1..].iter().map(|r| r[0].parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
    assert!(table[1..].iter().all(|r| r[3] == "paytm"));
    // Amounts as plain decimals; a formula made inert.
    let first = table.iter().find(|r| r[9] == "EXP-1").unwrap();
    assert_eq!(first[6], "12.50");
    assert!(first[10].starts_with("'="), "{first:?}");

    // Another merchant's export holds none of these rows.
    let other = app.login(OTHER_OWNER).await;
    let theirs = app.gql(Some(&other), EXPORT_TX, json!({})).await;
    let their_url = theirs["data"]["exportTransactions"]["url"]
        .as_str()
        .unwrap();
    let their_path = &their_url[their_url.find("/exports/").unwrap()..];
    let their_body = app.get_text(their_path).await;
    assert!(!their_body.contains("EXP-"), "{their_body}");

    // Ten minutes on, the URL is gone; made-up tokens answer alike.
    for bogus in [
        "/exports/kex_nothing",
        "/exports/nope",
        &format!("/exports/{}", "k".repeat(5000)),
    ] {
        let r = app
            .http
            .get(format!("{}{bogus}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{bogus}");
    }
    app.clock.advance(Duration::from_secs(601));
    let r = app
        .http
        .get(format!("{}{path}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Signed-in callers and MERCHANT keys only; a bad filter is refused up front.
    let body = app.gql(None, EXPORT_TX, json!({})).await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    let owner = app.login(OWNER).await;
    let body = app
        .gql(
            Some(&owner),
            EXPORT_TX,
            json!({ "f": { "id": "not-an-id" } }),
        )
        .await;
    assert!(error_code(&body).is_some(), "{body}");
}

#[tokio::test]
async fn a_withdrawals_export_has_its_page_columns() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let made = app
        .gql(
            Some(&owner),
            "mutation { exportWithdrawals(filter: { status: APPROVED }) { url errors { code } } }",
            json!({}),
        )
        .await;
    let url = made["data"]["exportWithdrawals"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{made}"));
    let path = &url[url.find("/exports/").unwrap()..];
    let r = app
        .http
        .get(format!("{}{path}", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"withdrawals-2026-11-24.csv\""
    );
    let table: Vec<Vec<String>> = rows(&r.text().await.unwrap());
    assert_eq!(
        table[0][..4],
        ["id", "created_at", "payment_system", "recipient"]
    );
    let _: &Value = &made;
}

/// Resident memory of a process, in MiB.
fn rss_mib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

#[tokio::test]
async fn two_hundred_thousand_rows_stream_from_a_server_process_in_flat_memory() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let app = spawn_app().await;
    let db = &app.deps.db;
    let backend = db.get_database_backend();
    let merchant = app.deps.config.clone();
    let _ = merchant;
    // 200,000 paytm deposits of the demo merchant, written by SQL (fixture),
    // one with a formula for a label.
    let (p1, p2) = match backend {
        DbBackend::Postgres => ("$1", "$2"),
        _ => ("?", "?"),
    };
    let wallet: i64 = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT w.id FROM wallets w JOIN merchants m ON m.id = w.merchant_id \
             WHERE m.plugin_key = 'kpk_demo_shop_public_key_0001' AND w.payment_system = 'paytm'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "id")
        .unwrap();
    let at = chrono::Utc::now() - chrono::TimeDelta::days(1);
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        format!(
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 200000)
             INSERT INTO transactions (merchant_id, payment_system, wallet_id, wallet_identifier, direction,
               amount_minor, currency, commission_minor, transaction_number, counterparty, created_at,
               ingested_at, label, order_id, activated_at, type, originality, country, postback_status)
             SELECT w.merchant_id, 'paytm', w.id, w.identifier, 'INCOMING', 100 + (n % 1000), 'INR', 0,
               'BULK-' || n, 'payer', {p1}, {p2},
               CASE WHEN n = 77 THEN '=HYPERLINK(\"http://evil\",\"x\")' ELSE 'user-' || (n % 100) END,
               NULL, NULL, 'MANUAL', 'NORMAL', 'IN', 'STOCKPILING_NOT_FOUND'
             FROM g, wallets w WHERE w.id = {wallet}"
        ),
        [at.into(), at.into()],
    ))
    .await
    .unwrap();
    let (mut child, url) = serve_process(&app.database_url, &[]);
    let http = reqwest::Client::new();
    let token = http
        .post(format!("{url}/graphql"))
        .json(&json!({ "query": format!("mutation {{ login(login: \"{}\", password: \"{}\") {{ token }} }}", OWNER.0, OWNER.1) }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["data"]["login"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let ask = async |q: &str| -> Value {
        http.post(format!("{url}/graphql"))
            .bearer_auth(&token)
            .json(&json!({ "query": q }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    };
    let made = ask("mutation { exportTransactions(filter: { paymentSystems: [\"paytm\"], direction: INCOMING }) { url } }").await;
    let link = made["data"]["exportTransactions"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("{made}"));
    let path = &link[link.find("/exports/").unwrap()..];
    let count = ask("{ transactions(filter: { paymentSystems: [\"paytm\"], direction: INCOMING }) { totalCount } }").await["data"]["transactions"]["totalCount"]
        .as_i64()
        .unwrap();
    assert!(count >= 200_000, "{count}");

    // The download, watched: the server's memory while it streams.
    let pid = child.id();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let before = rss_mib(pid);
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let watching = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let (peak, watching) = (peak.clone(), watching.clone());
        std::thread::spawn(move || {
            while watching.load(std::sync::atomic::Ordering::Relaxed) {
                peak.fetch_max(rss_mib(pid), std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        })
    };
    let body = http
        .get(format!("{url}{path}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    watching.store(false, std::sync::atomic::Ordering::Relaxed);
    watcher.join().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let grew = peak
        .load(std::sync::atomic::Ordering::Relaxed)
        .saturating_sub(before);
    eprintln!("export of {count} rows: server RSS {before} MiB, +{grew} MiB at the peak");
    assert!(grew < 50, "the server grew by {grew} MiB while streaming");

    // The CSV parses; its rows are the filter's, its amounts the database's.
    let table = rows(&body);
    assert_eq!(table.len() as i64 - 1, count);
    let csv_sum: rust_decimal::Decimal = table[1..]
        .iter()
        .map(|r| r[6].parse::<rust_decimal::Decimal>().unwrap())
        .sum();
    let db_sum: i64 = db
        .query_one_raw(Statement::from_string(
            backend,
            format!("SELECT CAST(SUM(amount_minor) AS BIGINT) AS s FROM transactions WHERE wallet_id = {wallet} AND direction = 'INCOMING'"),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "s")
        .unwrap();
    assert_eq!(csv_sum, rust_decimal::Decimal::new(db_sum, 2));
    let hostile = table.iter().find(|r| r[9] == "BULK-77").unwrap();
    assert_eq!(hostile[11], "'=HYPERLINK(\"http://evil\",\"x\")");
}
