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
    let their_body = app
        .http
        .get(format!("{}{their_path}", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
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
