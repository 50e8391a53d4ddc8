use crate::support::*;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

pub const INGEST: &str = "mutation($i: [IngestTransactionInput!]!) { ingestTransactions(input: $i) { results { outcome activated errors { code field message } transaction { id amount currency status postbackStatus createdAt transactionNumber } } } }";

pub fn paytm(number: &str, amount: &str) -> Value {
    json!({ "paymentSystem": "paytm", "walletIdentifier": "9876500001", "direction": "INCOMING",
            "amount": amount, "currency": "INR", "transactionNumber": number, "counterparty": "Ravi Kumar",
            "occurredAt": "2026-11-20T08:00:00Z" })
}

pub async fn ingest(app: &TestApp, items: Vec<Value>) -> Value {
    let body = app
        .gql(
            Some(app.keys.ingest.as_str()),
            INGEST,
            json!({ "i": items }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["ingestTransactions"]["results"].clone()
}

#[tokio::test]
async fn each_ingested_item_is_judged_on_its_own() {
    let app = spawn_app().await;
    let long = "9".repeat(300);
    let items = vec![
        paytm("T-1", "1500.00"),
        paytm("T-1", "1500.00"),
        json!({ "paymentSystem": "paytm", "walletIdentifier": "9876500001", "direction": "INCOMING", "amount": "-5", "currency": "INR", "transactionNumber": "T-2" }),
        json!({ "paymentSystem": "paytm", "walletIdentifier": "9876500001", "direction": "INCOMING", "amount": "0", "currency": "INR", "transactionNumber": "T-3" }),
        json!({ "paymentSystem": "paytm", "walletIdentifier": "9876500001", "direction": "INCOMING", "amount": "10.001", "currency": "INR", "transactionNumber": "T-4" }),
        json!({ "paymentSystem": "venmo", "walletIdentifier": "9876500001", "direction": "INCOMING", "amount": "10", "currency": "INR", "transactionNumber": "T-5" }),
        json!({ "paymentSystem": "paytm", "walletIdentifier": "0000000000", "direction": "INCOMING", "amount": "10", "currency": "INR", "transactionNumber": "T-6" }),
        json!({ "paymentSystem": "paytm", "walletIdentifier": "9876500001", "direction": "INCOMING", "amount": "10", "currency": "BDT", "transactionNumber": "T-7" }),
        json!({ "paymentSystem": "paytm", "walletIdentifier": "9876500001", "direction": "INCOMING", "amount": "10", "currency": "INR", "transactionNumber": "" }),
        json!({ "paymentSystem": "paytm", "walletIdentifier": "9876500001", "direction": "INCOMING", "amount": "10", "currency": "INR", "transactionNumber": long }),
        paytm("T-8", "99.50"),
    ];
    let r = ingest(&app, items).await;
    assert_eq!(r[0]["outcome"], "CREATED", "{r}");
    assert_eq!(r[0]["transaction"]["amount"], "1500.00");
    assert_eq!(r[0]["transaction"]["createdAt"], "2026-11-20T08:00:00Z");
    assert_eq!(r[0]["transaction"]["status"], "NOT_ACTIVATED");
    assert_eq!(
        r[0]["transaction"]["postbackStatus"],
        "STOCKPILING_NOT_FOUND"
    );
    assert_eq!(r[1]["outcome"], "DUPLICATE");
    assert_eq!(r[1]["transaction"]["id"], r[0]["transaction"]["id"]);
    let expect = [
        (2, "amount", "INVALID"),
        (3, "amount", "INVALID"),
        (4, "amount", "INVALID"),
        (5, "paymentSystem", "INVALID"),
        (6, "walletIdentifier", "NOT_FOUND"),
        (7, "currency", "INVALID"),
        (8, "transactionNumber", "REQUIRED"),
        (9, "transactionNumber", "INVALID"),
    ];
    for (i, field, code) in expect {
        assert_eq!(r[i]["outcome"], "REJECTED", "{i}: {}", r[i]);
        assert_eq!(r[i]["errors"][0]["code"], code, "{i}: {}", r[i]);
        assert_eq!(
            r[i]["errors"][0]["field"],
            json!(["input", i.to_string(), field]),
            "{i}"
        );
        assert!(r[i]["transaction"].is_null());
    }
    assert_eq!(r[10]["outcome"], "CREATED");

    // The same again: duplicates; different data: conflict; nothing changes.
    let again = ingest(&app, vec![paytm("T-1", "1500.00"), paytm("T-8", "99.51")]).await;
    assert_eq!(again[0]["outcome"], "DUPLICATE");
    assert_eq!(again[1]["outcome"], "CONFLICT");
    assert_eq!(again[1]["transaction"]["amount"], "99.50");

    let owner = app.login(OWNER).await;
    let page = app
        .gql(
            Some(&owner),
            "{ transactions { totalCount nodes { transactionNumber } } }",
            json!({}),
        )
        .await;
    assert_eq!(page["data"]["transactions"]["totalCount"], 2, "{page}");
}

#[tokio::test]
async fn an_oversized_batch_or_a_wrong_caller_changes_nothing() {
    let app = spawn_app().await;
    let many: Vec<Value> = (0..1001).map(|i| paytm(&format!("B-{i}"), "10")).collect();
    let body = app
        .gql(Some(app.keys.ingest.as_str()), INGEST, json!({ "i": many }))
        .await;
    assert_eq!(
        error_code(&body),
        Some("INVALID"),
        "{}",
        &body.to_string()[..200]
    );
    let owner = app.login(OWNER).await;
    for token in [Some(owner.as_str()), Some(app.keys.platform.as_str()), None] {
        let body = app
            .gql(token, INGEST, json!({ "i": [paytm("X-1", "10")] }))
            .await;
        assert!(
            matches!(error_code(&body), Some("FORBIDDEN" | "UNAUTHENTICATED")),
            "{body}"
        );
    }
    let body = app.gql(Some(app.keys.ingest.as_str()), INGEST, json!({ "i": [{ "paymentSystem": "paytm", "walletIdentifier": "9876500001", "direction": "INCOMING", "amount": 10.5, "currency": "INR", "transactionNumber": "F-1" }] })).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("strings"),
        "{body}"
    );
    let page = app
        .gql(Some(&owner), "{ transactions { totalCount } }", json!({}))
        .await;
    assert_eq!(page["data"]["transactions"]["totalCount"], 0);
}

#[tokio::test]
async fn concurrent_copies_of_one_transaction_store_one_row() {
    let app = spawn_app().await;
    let calls = (0..12).map(|_| ingest(&app, vec![paytm("RACE-1", "250.00")]));
    let results = futures_util::future::join_all(calls).await;
    let created = results
        .iter()
        .filter(|r| r[0]["outcome"] == "CREATED")
        .count();
    let duplicates = results
        .iter()
        .filter(|r| r[0]["outcome"] == "DUPLICATE")
        .count();
    assert_eq!((created, duplicates), (1, 11));
    let owner = app.login(OWNER).await;
    let page = app
        .gql(
            Some(&owner),
            "{ transactions(filter: { transactionNumber: \"RACE-1\" }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(page["data"]["transactions"]["totalCount"], 1);
}

#[tokio::test]
async fn the_wallet_decides_whose_transaction_it_is() {
    let app = spawn_app().await;
    let r = ingest(&app, vec![json!({ "paymentSystem": "bkash", "walletIdentifier": "01799999999", "direction": "INCOMING", "amount": "500", "currency": "BDT", "transactionNumber": "OTHER-1" })]).await;
    assert_eq!(r[0]["outcome"], "CREATED");
    let id = r[0]["transaction"]["id"].as_str().unwrap().to_string();
    let owner = app.login(OWNER).await;
    let other = app.login(OTHER_OWNER).await;
    let mine = app
        .gql(
            Some(&owner),
            "query($id: ID!) { transaction(id: $id) { id } transactions { totalCount } }",
            json!({ "id": id }),
        )
        .await;
    assert!(mine["data"]["transaction"].is_null());
    assert_eq!(mine["data"]["transactions"]["totalCount"], 0);
    let theirs = app.gql(Some(&other), "query($id: ID!) { transaction(id: $id) { id currency country paymentSystem { code } } }", json!({ "id": id })).await;
    assert_eq!(theirs["data"]["transaction"]["country"], "BD");
}

async fn seed_page(app: &TestApp) {
    let mut items = Vec::new();
    for i in 0..30 {
        let (ps, wallet, cur) = match i % 3 {
            0 => ("paytm", "9876500001", "INR"),
            1 => ("bkash", "01711000001", "BDT"),
            _ => ("easypaisa", "03001000001", "PKR"),
        };
        items.push(json!({
            "paymentSystem": ps, "walletIdentifier": wallet, "direction": if i % 5 == 4 { "OUTGOING" } else { "INCOMING" },
            "amount": format!("{}.{:02}", 100 + (i * 37) % 50, i), "currency": cur, "commission": "1.00",
            "transactionNumber": format!("P-{i:03}"), "counterparty": if i % 2 == 0 { "Anika_Das" } else { "ravi 100%" },
            "occurredAt": format!("2026-11-{:02}T{:02}:00:00Z", 1 + i / 10, i % 10),
            "type": if i % 4 == 0 { "MANUAL" } else { "AUTO" },
            "originality": if i == 7 { "SCAM" } else { "NORMAL" },
        }));
    }
    let r = ingest(app, items).await;
    assert!(r
        .as_array()
        .unwrap()
        .iter()
        .all(|x| x["outcome"] == "CREATED"));
    for (i, label) in [(0, "alice"), (3, "alice"), (1, "bob")] {
        let ps = ["paytm", "bkash", "easypaisa"][i % 3];
        let body = app.gql(None, "mutation($i: ActivateDepositInput!) { activateDeposit(input: $i) { outcome } }",
            json!({ "i": { "pluginKey": kassa::demo::PLUGIN_KEY, "paymentSystem": ps, "transactionNumber": format!("P-{i:03}"), "label": label, "orderId": format!("o-{i}") } })).await;
        assert_eq!(
            body["data"]["activateDeposit"]["outcome"], "ACTIVATED",
            "{body}"
        );
        app.clock.advance(std::time::Duration::from_secs(60));
    }
}

fn numbers(body: &Value) -> Vec<String> {
    body["data"]["transactions"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|n| n["transactionNumber"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn every_filter_of_the_transactions_page_narrows_the_list() {
    let app = spawn_app().await;
    seed_page(&app).await;
    let owner = app.login(OWNER).await;
    let q = "query($f: TransactionFilter) { transactions(filter: $f, first: 500) { totalCount nodes { transactionNumber } } }";
    let count = |f: Value| {
        let app = &app;
        let owner = owner.clone();
        async move {
            let body = app.gql(Some(&owner), q, json!({ "f": f })).await;
            assert!(body["errors"].is_null(), "{body}");
            let n = body["data"]["transactions"]["totalCount"].as_i64().unwrap();
            assert_eq!(n as usize, numbers(&body).len());
            n
        }
    };
    assert_eq!(count(json!({})).await, 30);
    assert_eq!(
        count(json!({ "paymentSystems": ["paytm", "bkash"] })).await,
        20
    );
    assert_eq!(count(json!({ "label": "alice" })).await, 2);
    assert_eq!(count(json!({ "orderId": "o-1" })).await, 1);
    assert_eq!(count(json!({ "direction": "OUTGOING" })).await, 6);
    assert_eq!(count(json!({ "transactionNumber": "P-017" })).await, 1);
    assert_eq!(count(json!({ "counterparty": "ANIKA_" })).await, 15);
    assert_eq!(count(json!({ "counterparty": "100%" })).await, 15);
    assert_eq!(count(json!({ "counterparty": "_d" })).await, 15);
    assert_eq!(count(json!({ "counterparty": "%" })).await, 15);
    assert_eq!(count(json!({ "type": "MANUAL" })).await, 8);
    assert_eq!(count(json!({ "originality": "SCAM" })).await, 1);
    assert_eq!(count(json!({ "status": "ACTIVATED" })).await, 3);
    assert_eq!(count(json!({ "status": "NOT_ACTIVATED" })).await, 27);
    assert_eq!(count(json!({ "postbackStatus": "QUEUED" })).await, 3);
    assert_eq!(
        count(json!({ "postbackStatus": "STOCKPILING_NOT_FOUND" })).await,
        27
    );
    assert_eq!(count(json!({ "currency": "PKR" })).await, 10);
    assert_eq!(
        count(
            json!({ "createdAt": { "from": "2026-11-02T00:00:00Z", "to": "2026-11-03T00:00:00Z" } })
        )
        .await,
        10
    );
    assert_eq!(
        count(json!({ "createdAt": { "from": "2026-11-03T05:00:00Z" } })).await,
        5
    );
    assert_eq!(
        count(json!({ "activatedAt": { "to": "2026-11-24T10:01:00Z" } })).await,
        1
    );
    assert_eq!(count(json!({ "id": "999999" })).await, 0);
    assert_eq!(count(json!({ "paymentSystems": ["paytm"], "status": "ACTIVATED", "createdAt": { "from": "2026-11-01T00:00:00Z" } })).await, 2);

    let body = app
        .gql(
            Some(&owner),
            "{ transactions(filter: { currency: \"INR\" }) { totals { currency amount count } } }",
            json!({}),
        )
        .await;
    let totals = &body["data"]["transactions"]["totals"];
    assert_eq!(totals.as_array().unwrap().len(), 1);
    assert_eq!(totals[0]["count"], 10);
    // Sum of 100 + (i*37 % 50) + i/100 for i = 0, 3, …, 27, exact to the paisa.
    let expected: i64 = (0..30)
        .step_by(3)
        .map(|i| (100 + (i * 37) % 50) * 100 + i)
        .sum();
    assert_eq!(
        totals[0]["amount"],
        format!("{}.{:02}", expected / 100, expected % 100)
    );

    let body = app
        .gql(
            Some(&owner),
            "{ transactions(filter: { id: \"abc\" }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), Some("INVALID"));
}

#[tokio::test]
async fn keyset_pages_walk_both_ways_in_every_order_without_gaps_while_rows_arrive() {
    let app = spawn_app().await;
    seed_page(&app).await;
    let owner = app.login(OWNER).await;
    let q =
        "query($o: TransactionOrder, $first: Int, $after: String, $last: Int, $before: String) {
        transactions(orderBy: $o, first: $first, after: $after, last: $last, before: $before) {
          edges { cursor node { transactionNumber amount createdAt activatedAt id } }
          pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
    for field in ["ID", "CREATED_AT", "ACTIVATED_AT", "AMOUNT"] {
        for dir in ["ASC", "DESC"] {
            let order = json!({ "field": field, "direction": dir });
            let all = app
                .gql(Some(&owner), q, json!({ "o": order, "first": 500 }))
                .await;
            let expected: Vec<String> = all["data"]["transactions"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["transactionNumber"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(expected.len(), 30, "{all}");
            // Forward in pages of 7, with a new row arriving after the first page.
            let mut seen = Vec::new();
            let mut after: Option<String> = None;
            loop {
                let page = app
                    .gql(
                        Some(&owner),
                        q,
                        json!({ "o": order, "first": 7, "after": after }),
                    )
                    .await;
                let t = &page["data"]["transactions"];
                seen.extend(
                    t["edges"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|e| e["node"]["transactionNumber"].as_str().unwrap().to_string()),
                );
                if after.is_none() {
                    assert_eq!(t["pageInfo"]["hasPreviousPage"], false);
                }
                if t["pageInfo"]["hasNextPage"] == false {
                    break;
                }
                after = t["pageInfo"]["endCursor"].as_str().map(str::to_string);
            }
            let seen_set: HashSet<_> = seen.iter().collect();
            assert_eq!(seen_set.len(), seen.len(), "{field} {dir}: no row twice");
            assert_eq!(seen, expected, "{field} {dir}");
            // Backward from the end.
            let mut back = Vec::new();
            let mut before: Option<String> = None;
            loop {
                let page = app
                    .gql(
                        Some(&owner),
                        q,
                        json!({ "o": order, "last": 4, "before": before }),
                    )
                    .await;
                let t = &page["data"]["transactions"];
                let mut chunk: Vec<String> = t["edges"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["node"]["transactionNumber"].as_str().unwrap().to_string())
                    .collect();
                chunk.extend(back);
                back = chunk;
                if t["pageInfo"]["hasPreviousPage"] == false {
                    break;
                }
                before = t["pageInfo"]["startCursor"].as_str().map(str::to_string);
            }
            assert_eq!(back, expected, "{field} {dir} backwards");
        }
    }
    // Rows arriving between pages never shift a page: a newer row lands before the cursor.
    let first = app.gql(Some(&owner), q, json!({ "first": 5 })).await;
    let cursor = first["data"]["transactions"]["pageInfo"]["endCursor"].clone();
    ingest(&app, vec![paytm("LATE-1", "10.00")]).await;
    let second = app
        .gql(Some(&owner), q, json!({ "first": 5, "after": cursor }))
        .await;
    let ids = |b: &Value| -> Vec<i64> {
        b["data"]["transactions"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().parse().unwrap())
            .collect()
    };
    assert_eq!(ids(&first).last().unwrap() - 1, ids(&second)[0]);

    // Cursors from another order, tampered ones, and bad sizes are INVALID.
    let by_amount = app
        .gql(
            Some(&owner),
            q,
            json!({ "o": { "field": "AMOUNT", "direction": "ASC" }, "first": 2 }),
        )
        .await;
    let amount_cursor = by_amount["data"]["transactions"]["pageInfo"]["endCursor"].clone();
    for vars in [
        json!({ "first": 5, "after": amount_cursor }),
        json!({ "first": 5, "after": "dHg6SUR8REVTQ3x4fHk" }),
        json!({ "first": 5, "after": "!!!" }),
        json!({ "first": 501 }),
        json!({ "first": -1 }),
        json!({ "first": 5, "last": 5 }),
    ] {
        let body = app.gql(Some(&owner), q, vars.clone()).await;
        assert_eq!(error_code(&body), Some("INVALID"), "{vars}: {body}");
    }
    let default = app
        .gql(Some(&owner), "{ transactions { nodes { id } } }", json!({}))
        .await;
    assert_eq!(
        default["data"]["transactions"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        31
    );
}

#[tokio::test]
async fn a_page_of_500_with_nested_fields_costs_a_constant_number_of_statements() {
    let app = spawn_app().await;
    let items: Vec<Value> = (0..500)
        .map(|i| paytm(&format!("N-{i:04}"), "100.00"))
        .collect();
    ingest(&app, items).await;
    for i in 0..40 {
        let body = app.gql(None, "mutation($i: ActivateDepositInput!) { activateDeposit(input: $i) { outcome } }",
            json!({ "i": { "pluginKey": kassa::demo::PLUGIN_KEY, "paymentSystem": "paytm", "transactionNumber": format!("N-{i:04}"), "label": format!("payer-{}", i % 7) } })).await;
        assert_eq!(body["data"]["activateDeposit"]["outcome"], "ACTIVATED");
    }
    let owner = app.login(OWNER).await;
    let q = "query($n: Int) { transactions(first: $n, orderBy: { field: ID, direction: ASC }) { totalCount totals { amount } nodes { id amount paymentSystem { code withdrawalFields { name } } stockpiling { id accumulated transactions(first: 5) { id paymentSystem { name } } } postbacks { id attempts(first: 5) { at } } } } }";
    let cost = |n: i64| {
        let app = &app;
        let owner = owner.clone();
        async move {
            // Warm up the session touch so it is not counted.
            app.gql(Some(&owner), "{ me { id } }", json!({})).await;
            let before = app
                .deps
                .statements
                .load(std::sync::atomic::Ordering::SeqCst);
            let body = app.gql(Some(&owner), q, json!({ "n": n })).await;
            let after = app
                .deps
                .statements
                .load(std::sync::atomic::Ordering::SeqCst);
            assert!(body["errors"].is_null(), "{body}");
            assert_eq!(
                body["data"]["transactions"]["nodes"]
                    .as_array()
                    .unwrap()
                    .len() as i64,
                n
            );
            after - before
        }
    };
    let small = cost(10).await;
    let large = cost(500).await;
    // Session check (2), the page, count, totals, and one query per nested
    // loader (4); a loader's batch window may split once under a loaded CPU,
    // never by the row count (N+1 would add 40 or 500 here).
    assert!(large <= 12, "a 500-row page ran {large} statements");
    assert!(
        large <= small + 2,
        "10 rows: {small} statements, 500 rows: {large}"
    );
}

/// `totalCount` without a filter, or filtered by payment system only, is
/// read from the counts the database maintains (migration 14): it must
/// equal a real `COUNT(*)` after every kind of write, per merchant, and
/// never count another merchant's rows.
#[tokio::test]
async fn maintained_counts_equal_a_real_count_after_every_write() {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let other = app.login(OTHER_OWNER).await;
    let bkash = |n: &str, wallet: &str| {
        json!({ "paymentSystem": "bkash", "walletIdentifier": wallet, "direction": "INCOMING",
                "amount": "100", "currency": "BDT", "transactionNumber": n })
    };
    let count = async |token: &str, filter: &str| -> i64 {
        let body = app
            .gql(
                Some(token),
                &format!("{{ transactions{filter} {{ totalCount }} }}"),
                json!({}),
            )
            .await;
        body["data"]["transactions"]["totalCount"]
            .as_i64()
            .unwrap_or_else(|| panic!("{body}"))
    };
    let real = async |merchant: i64, system: Option<&str>| -> i64 {
        let mut q = entity::transaction::Entity::find()
            .filter(entity::transaction::Column::MerchantId.eq(merchant));
        if let Some(s) = system {
            q = q.filter(entity::transaction::Column::PaymentSystem.eq(s));
        }
        q.count(&app.deps.db).await.unwrap() as i64
    };
    let (demo, other_id) = (app.demo_merchant_id, app.other_merchant_id);
    let check = async || {
        for (token, merchant) in [(&owner, demo), (&other, other_id)] {
            assert_eq!(count(token, "").await, real(merchant, None).await);
            for system in ["paytm", "bkash", "upi"] {
                let f = format!("(filter: {{ paymentSystems: [\"{system}\"] }})");
                assert_eq!(
                    count(token, &f).await,
                    real(merchant, Some(system)).await,
                    "{system}"
                );
            }
            let both = "(filter: { paymentSystems: [\"paytm\", \"bkash\"] })";
            assert_eq!(
                count(token, both).await,
                real(merchant, Some("paytm")).await + real(merchant, Some("bkash")).await
            );
            assert_eq!(count(token, "(filter: { paymentSystems: [] })").await, 0);
        }
    };
    check().await;
    // a batch over two systems and two merchants, with duplicates and refusals
    let mut items: Vec<Value> = (0..30).map(|i| paytm(&format!("C-{i}"), "10.00")).collect();
    items.extend((0..7).map(|i| bkash(&format!("CB-{i}"), "01711000001")));
    items.extend((0..5).map(|i| bkash(&format!("CO-{i}"), "01799999999")));
    items.push(paytm("C-1", "10.00"));
    items.push(paytm("C-2", "99.00"));
    items.push(bkash("CX", "00000000000"));
    ingest(&app, items).await;
    assert_eq!(real(other_id, Some("bkash")).await, 5);
    check().await;
    // the same batch again changes nothing
    ingest(
        &app,
        (0..30).map(|i| paytm(&format!("C-{i}"), "10.00")).collect(),
    )
    .await;
    check().await;
    // eight batches at once (on PostgreSQL, over several connections and shards)
    let batches = (0..8).map(|b| {
        let items = (0..10)
            .map(|i| paytm(&format!("P-{b}-{i}"), "1.00"))
            .collect();
        ingest(&app, items)
    });
    futures_util::future::join_all(batches).await;
    assert_eq!(real(demo, Some("paytm")).await, 110);
    check().await;
    // a narrower filter still counts the rows themselves
    assert_eq!(
        count(
            &owner,
            "(filter: { paymentSystems: [\"paytm\"], status: ACTIVATED })"
        )
        .await,
        0
    );
    // a row removed behind the API's back (an operator's DELETE) is uncounted too
    entity::transaction::Entity::delete_many()
        .filter(entity::transaction::Column::TransactionNumber.is_in(["C-3", "CO-1"]))
        .exec(&app.deps.db)
        .await
        .unwrap();
    check().await;
    // and it is the maintained count that answers (not a COUNT(*))
    use sea_orm::ConnectionTrait;
    app.deps
        .db
        .execute_unprepared(&format!(
            "INSERT INTO transaction_counts (merchant_id, payment_system, shard, n) VALUES ({demo}, 'paytm', 99, 1000)"
        ))
        .await
        .unwrap();
    assert_eq!(count(&owner, "").await, real(demo, None).await + 1000);
    assert_eq!(
        count(&owner, "(filter: { paymentSystems: [\"bkash\"] })").await,
        real(demo, Some("bkash")).await
    );
}

/// A connection asked only for its totals reads no page, but its arguments
/// are judged exactly as when it does.
#[tokio::test]
async fn totals_alone_still_check_the_page_arguments() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    ingest(&app, vec![paytm("TA-1", "10.00"), paytm("TA-2", "20.00")]).await;
    for query in [
        "{ transactions(first: 501) { totalCount } }",
        "{ transactions(first: 1, last: 1) { totalCount } }",
        "{ transactions(after: \"bm90IGEgY3Vyc29y\") { totalCount } }",
        "{ transactions(first: 501) { edges { cursor } } }",
    ] {
        let body = app.gql(Some(&owner), query, json!({})).await;
        assert_eq!(error_code(&body), Some("INVALID"), "{query}: {body}");
    }
    let body = app
        .gql(
            Some(&owner),
            "{ transactions(first: 1) { totalCount totals { currency amount count } } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"]["transactions"]["totalCount"], 2, "{body}");
    assert_eq!(body["data"]["transactions"]["totals"][0]["amount"], "30.00");
}

/// A transaction's plain columns are answered in one pass over the
/// selection (graphql/rows.rs); fragments, a response key given twice and
/// anything else go through the derived object. Both ways give the same
/// answer for every field, nulls, aliases and `__typename` included.
#[tokio::test]
async fn a_transaction_answers_the_same_by_the_row_path_and_the_object_path() {
    let app = spawn_app().await;
    let mut bare = paytm("ROW-2", "20.50");
    bare.as_object_mut().unwrap().remove("counterparty");
    ingest(&app, vec![paytm("ROW-1", "1500.00"), bare]).await;
    let body = app.gql(None, "mutation($i: ActivateDepositInput!) { activateDeposit(input: $i) { outcome } }",
        json!({ "i": { "pluginKey": kassa::demo::PLUGIN_KEY, "paymentSystem": "paytm", "transactionNumber": "ROW-1", "label": "payer-row" } })).await;
    assert_eq!(
        body["data"]["activateDeposit"]["outcome"], "ACTIVATED",
        "{body}"
    );
    let owner = app.login(OWNER).await;
    let fields = "__typename kind: __typename id number: id paymentSystem { code name } walletIdentifier direction amount currency commission transactionNumber counterparty createdAt label orderId activatedAt status postbackStatus type originality country postbacks { id status } stockpiling { id accumulated }";
    let page = |selection: String| {
        let (app, owner) = (&app, owner.clone());
        async move {
            let mut q = format!("query {{ transactions(first: 50) {{ nodes {{ {selection} }} edges {{ node {{ {selection} }} }} }} }}");
            if selection.contains("...F") {
                q += &format!(" fragment F on Transaction {{ {fields} }}");
            }
            let body = app.gql(Some(&owner), &q, json!({})).await;
            assert!(body["errors"].is_null(), "{body}");
            body["data"]["transactions"].clone()
        }
    };
    let row = page(fields.to_string()).await;
    let nodes = row["nodes"].as_array().unwrap();
    assert!(nodes.len() >= 2, "{row}");
    let activated = nodes
        .iter()
        .find(|n| n["transactionNumber"] == "ROW-1")
        .unwrap();
    assert_eq!(activated["label"], "payer-row");
    assert_eq!(activated["status"], "ACTIVATED");
    assert_eq!(activated["__typename"], "Transaction");
    assert_eq!(activated["kind"], "Transaction");
    assert_eq!(activated["number"], activated["id"]);
    assert_eq!(activated["amount"], "1500.00");
    assert!(activated["stockpiling"]["id"].is_string(), "{activated}");
    let unactivated = nodes
        .iter()
        .find(|n| n["transactionNumber"] == "ROW-2")
        .unwrap();
    assert!(unactivated["counterparty"].is_null() && unactivated["activatedAt"].is_null());
    assert_eq!(unactivated["stockpiling"], Value::Null);
    // the same page through the derived object: a named fragment, an inline one
    assert_eq!(page("...F".into()).await, row);
    assert_eq!(
        page(format!("... on Transaction {{ {fields} }}")).await,
        row
    );
    // a response key given twice merges its sub-selections
    let merged = page("id paymentSystem { code } paymentSystem { name }".into()).await;
    assert_eq!(
        merged["nodes"][0]["paymentSystem"],
        row["nodes"][0]["paymentSystem"]
    );

    // an edge's cursor and node are answered in one pass too (rows::edge),
    // the same as through the derived edge object
    let edges = |selection: String| {
        let (app, owner) = (&app, owner.clone());
        async move {
            let q = format!("query {{ transactions(first: 50) {{ edges {{ {selection} }} }} }}");
            let body = app.gql(Some(&owner), &q, json!({})).await;
            assert!(body["errors"].is_null(), "{body}");
            body["data"]["transactions"]["edges"].clone()
        }
    };
    let edge = format!(
        "__typename kind: __typename cursor c: cursor node {{ {fields} }} n: node {{ id }}"
    );
    let direct = edges(edge.clone()).await;
    assert_eq!(
        direct,
        edges(format!("... on TransactionEdge {{ {edge} }}")).await
    );
    assert_eq!(direct[0]["__typename"], "TransactionEdge");
    assert_eq!(direct[0]["kind"], "TransactionEdge");
    assert!(direct[0]["cursor"].as_str().is_some_and(|c| !c.is_empty()));
    assert_eq!(direct[0]["c"], direct[0]["cursor"]);
    assert_eq!(direct[0]["n"]["id"], direct[0]["node"]["id"]);
    let nodes_of = |edges: &Value| {
        edges
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(nodes_of(&direct), *nodes);
    // every field a column or shared: both lists are written in one pass
    // (rows::Rows), the same as through the derived objects row by row
    let columns = "__typename kind: __typename id number: id paymentSystem { code name } walletIdentifier direction amount currency commission transactionNumber counterparty createdAt label orderId activatedAt status postbackStatus type originality country";
    let listed = page(columns.to_string()).await;
    assert_eq!(
        listed,
        page(format!("... on Transaction {{ {columns} }}")).await
    );
    let edge = format!("__typename cursor c: cursor node {{ {columns} }} n: node {{ id }}");
    let listed_edges = edges(edge.clone()).await;
    assert_eq!(
        listed_edges,
        edges(format!("... on TransactionEdge {{ {edge} }}")).await
    );
    assert_eq!(
        nodes_of(&listed_edges),
        *listed["nodes"].as_array().unwrap()
    );
    for (l, n) in nodes_of(&listed_edges).iter().zip(nodes) {
        for key in [
            "id",
            "paymentSystem",
            "amount",
            "createdAt",
            "activatedAt",
            "status",
            "counterparty",
        ] {
            assert_eq!(l[key], n[key], "{key}");
        }
    }
    assert_eq!(
        listed_edges
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["cursor"])
            .collect::<Vec<_>>(),
        direct
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["cursor"])
            .collect::<Vec<_>>()
    );
    // a key given twice: the node's sub-selections merge
    let twice = edges("node { id } node { amount }".into()).await;
    assert_eq!(twice[0]["node"]["amount"], direct[0]["node"]["amount"]);
    assert_eq!(twice[0]["node"]["id"], direct[0]["node"]["id"]);
    // lists of rows given twice merge row by row, directly and by fragment
    for q in [
        "{ transactions(first: 50) { nodes { id } nodes { amount label } } }",
        "{ transactions(first: 50) { nodes { id ...A } } } fragment A on Transaction { id amount label }",
        "{ transactions(first: 50) { ...N nodes { amount label } } } fragment N on TransactionConnection { nodes { id } }",
    ] {
        let body = app.gql(Some(&owner), q, json!({})).await;
        assert!(body["errors"].is_null(), "{body}");
        let merged = body["data"]["transactions"]["nodes"].as_array().unwrap();
        assert_eq!(merged.len(), nodes.len(), "{q}");
        for (m, n) in merged.iter().zip(nodes) {
            assert_eq!(
                (&m["id"], &m["amount"], &m["label"]),
                (&n["id"], &n["amount"], &n["label"]),
                "{q}"
            );
        }
    }
}

/// Every field of a `Transaction`, as a selection of its own: its name,
/// and for an object its scalar and enum fields.
async fn transaction_fields(app: &TestApp, token: &str) -> Vec<(String, String)> {
    let mut cache = HashMap::new();
    let mut out = vec![];
    for f in type_fields(app, token, "Transaction").await {
        let name = f["name"].as_str().unwrap().to_string();
        let t = named_type(&f["type"]);
        let selection = if t["kind"] == "OBJECT" {
            let type_name = t["name"].as_str().unwrap();
            let leaves = every_field(app, token, type_name, 0, &mut cache).await;
            assert!(!leaves.is_empty(), "{type_name}");
            format!("{name} {{ {leaves} }}")
        } else {
            name.clone()
        };
        out.push((name, selection));
    }
    out
}

/// On PostgreSQL a page reads only the columns its selection's fields need
/// (with the id, merchant and sort key): every field of a transaction,
/// asked alone in every order, answers what it answers read from every
/// column, with the same cursors and page info; and a column no field
/// asked for is not read at all (a value that cannot be read in it fails
/// only the pages that ask for it; SQLite reads every column).
#[tokio::test]
async fn a_page_reads_the_columns_its_fields_need_and_answers_as_from_every_column() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    let items = (0..40)
        .map(|i| {
            let mut item = paytm(&format!("COL-{i:03}"), &format!("{}.{:02}", 10 + i * 7, i));
            if i % 3 == 0 {
                item.as_object_mut().unwrap().remove("counterparty");
            }
            item["occurredAt"] = json!(format!("2026-11-{:02}T08:00:00Z", 1 + i % 20));
            item
        })
        .collect();
    ingest(&app, items).await;
    let body = app.gql(None, "mutation($i: ActivateDepositInput!) { activateDeposit(input: $i) { outcome } }",
        json!({ "i": { "pluginKey": kassa::demo::PLUGIN_KEY, "paymentSystem": "paytm", "transactionNumber": "COL-004", "label": "payer-col" } })).await;
    assert_eq!(
        body["data"]["activateDeposit"]["outcome"], "ACTIVATED",
        "{body}"
    );
    // two values or more in every column a field reads
    app.deps
        .db
        .execute_unprepared(&format!(
            "UPDATE transactions SET \
             direction = CASE id % 2 WHEN 0 THEN 'INCOMING' ELSE 'OUTGOING' END, \
             commission_minor = id % 7 * 11, \
             label = CASE WHEN id % 3 = 0 THEN NULL ELSE 'payer-' || (id % 4) END, \
             order_id = CASE WHEN id % 4 = 0 THEN NULL ELSE 'order-' || id END, \
             type = CASE id % 2 WHEN 0 THEN 'MANUAL' ELSE 'AUTO' END, \
             originality = CASE WHEN id % 5 = 0 THEN 'SCAM' ELSE 'NORMAL' END \
             WHERE merchant_id = {}",
            app.demo_merchant_id
        ))
        .await
        .unwrap();
    let owner = app.login(OWNER).await;
    let fields = transaction_fields(&app, &owner).await;
    assert!(fields.len() >= 20, "{fields:?}");
    let everything = fields
        .iter()
        .map(|(_, s)| s.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let page = |order: &str, after: Option<&str>, selection: &str| {
        let (app, owner) = (&app, owner.clone());
        let q = format!(
            "query($after: String) {{ transactions(first: 25, after: $after, orderBy: {{ field: {order}, direction: ASC }}) {{ \
             nodes {{ {selection} }} edges {{ cursor node {{ {selection} }} }} \
             pageInfo {{ startCursor endCursor hasNextPage hasPreviousPage }} }} }}"
        );
        let after = after.map(str::to_string);
        async move {
            let body = app.gql(Some(&owner), &q, json!({ "after": after })).await;
            assert!(body["errors"].is_null(), "{q}: {body}");
            body["data"]["transactions"].clone()
        }
    };
    for order in ["ID", "CREATED_AT", "ACTIVATED_AT", "AMOUNT"] {
        let first = page(order, None, &everything).await;
        let end = first["pageInfo"]["endCursor"].as_str().unwrap().to_string();
        let next = page(order, Some(&end), &everything).await;
        for (after, full) in [(None, &first), (Some(end.as_str()), &next)] {
            let rows = full["nodes"].as_array().unwrap();
            assert!(rows.len() >= 10, "{order}: {full}");
            // cursors and page info alone read no field's column
            let bare = page(order, after, "__typename").await;
            assert_eq!(bare["pageInfo"], full["pageInfo"], "{order}");
            for (name, selection) in &fields {
                let alone = page(order, after, selection).await;
                assert_eq!(alone["pageInfo"], full["pageInfo"], "{order} {name}");
                for (list, key) in [("nodes", None), ("edges", Some("node"))] {
                    let got = alone[list].as_array().unwrap();
                    let want = full[list].as_array().unwrap();
                    assert_eq!(got.len(), want.len(), "{order} {name}");
                    for (g, w) in got.iter().zip(want) {
                        let (gn, wn) = match key {
                            Some(k) => {
                                assert_eq!(g["cursor"], w["cursor"], "{order} {name}");
                                (&g[k], &w[k])
                            }
                            None => (g, w),
                        };
                        assert_eq!(gn[name.as_str()], wn[name.as_str()], "{order} {name}");
                    }
                }
            }
        }
    }
    // the answers compared held values, not blanks
    let full = page("ID", None, &everything).await;
    let rows = full["nodes"].as_array().unwrap();
    let one_value = [
        "__typename",
        "currency",
        "country",
        "paymentSystem",
        "walletIdentifier",
        "postbacks",
    ];
    for (name, _) in &fields {
        let values = rows
            .iter()
            .map(|r| r[name.as_str()].to_string())
            .collect::<HashSet<_>>();
        if !one_value.contains(&name.as_str()) {
            assert!(values.len() >= 2, "{name}: {values:?}");
        }
    }

    // a value no page can read, in a column only `postbackStatus` reads
    app.deps
        .db
        .execute_unprepared(&format!(
            "UPDATE transactions SET postback_status = 'LOST' WHERE merchant_id = {}",
            app.demo_merchant_id
        ))
        .await
        .unwrap();
    let ask = |selection: &str| {
        let (app, owner) = (&app, owner.clone());
        let q = format!("{{ transactions(first: 25) {{ nodes {{ {selection} }} }} }}");
        async move { app.gql(Some(&owner), &q, json!({})).await }
    };
    let asked = ask("postbackStatus").await;
    assert!(asked["errors"].is_array(), "{asked}");
    let narrow = ask("id amount status label").await;
    if app.deps.db.get_database_backend() == sea_orm::DbBackend::Postgres {
        assert!(narrow["errors"].is_null(), "{narrow}");
        assert_eq!(
            narrow["data"]["transactions"]["nodes"]
                .as_array()
                .unwrap()
                .len(),
            25
        );
    } else {
        assert!(narrow["errors"].is_array(), "{narrow}");
    }
}

/// A page is read along its merchant's own index whatever plan PostgreSQL
/// chooses (pagination::Owner): PostgreSQL settles on one generic plan for
/// the page's statement (first page, filtered, next by cursor) instead of
/// planning every request, every condition bounds the index scan, and that plan,
/// for a merchant without transactions beside one with thousands, touches
/// none of the other's rows. (SQLite plans every statement with its values:
/// there the old form passes too; on PostgreSQL a bound LIMIT kept custom
/// plans, so did a cursor written as an `OR`, and an equality on the
/// merchant walked the primary key through all 2,000 rows of the other
/// merchant.)
#[tokio::test]
async fn a_merchants_page_never_walks_another_merchants_rows() {
    use kassa::auth::model::Tenant;
    use kassa::pagination::PageArgs;
    use kassa::transactions::model::{Filter, Order, TransactionStatus};
    use sea_orm::sea_query::{PostgresQueryBuilder, QueryBuilder};
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
    // one connection: every statement below is looked at on the same one
    let app = spawn_app_with(&[("KASSA_DB_POOL", "1")]).await;
    for batch in 0..2 {
        let items = (0..1000)
            .map(|i| paytm(&format!("W-{batch}-{i:04}"), "10.00"))
            .collect();
        ingest(&app, items).await;
    }
    let owner = app.login(OWNER).await;
    let other = app.login(OTHER_OWNER).await;
    let q = "{ transactions(first: 20) { nodes { id } pageInfo { endCursor } } }";
    let full = app.gql(Some(&owner), q, json!({})).await;
    assert_eq!(
        full["data"]["transactions"]["nodes"]
            .as_array()
            .unwrap()
            .len(),
        20,
        "{full}"
    );
    let none = app.gql(Some(&other), q, json!({})).await;
    assert_eq!(none["data"]["transactions"]["nodes"], json!([]), "{none}");

    let db = &app.deps.db;
    let backend = db.get_database_backend();
    let empty = Tenant {
        merchant_id: app.other_merchant_id,
    };
    let first = PageArgs {
        first: Some(20),
        ..Default::default()
    };
    let next = PageArgs {
        first: Some(20),
        after: full["data"]["transactions"]["pageInfo"]["endCursor"]
            .as_str()
            .map(String::from),
        ..Default::default()
    };
    let activated = Filter {
        status: Some(TransactionStatus::Activated),
        ..Default::default()
    };
    for (filter, args) in [
        (Filter::default(), &first),
        (activated, &first),
        (Filter::default(), &next),
    ] {
        let statement = |merchant_id| {
            kassa::transactions::service::page_statement(
                backend,
                Tenant { merchant_id },
                &filter,
                Order::default(),
                args,
                kassa::transactions::service::Columns::ALL,
            )
            .unwrap()
        };
        let stmt = statement(empty.merchant_id);
        let values = stmt.values.clone().map(|v| v.0).unwrap_or_default();
        let plan = if backend == DbBackend::Postgres {
            let txn = db.begin().await.unwrap();
            let run = |sql: String| {
                let txn = &txn;
                async move {
                    let rows = txn
                        .query_all_raw(Statement::from_string(backend, sql))
                        .await
                        .unwrap();
                    rows.iter()
                        .map(|r| r.try_get_by_index::<String>(0).unwrap_or_default())
                        .collect::<Vec<_>>()
                        .join("\n")
                }
            };
            let execute = |stmt: &Statement| {
                let literals: Vec<String> = stmt
                    .values
                    .iter()
                    .flat_map(|v| v.0.iter())
                    .map(|v| PostgresQueryBuilder.value_to_string(v))
                    .collect();
                format!("EXECUTE page({})", literals.join(", "))
            };
            run("ANALYZE transactions".into()).await;
            // PREPARE outlives the transaction: deallocated below, before
            // the connection goes back to the pool
            run(format!("PREPARE page AS {}", stmt.sql)).await;
            // left to itself (plan_cache_mode = auto), PostgreSQL settles on
            // the generic plan: the statement is not planned per request
            let busy = statement(app.demo_merchant_id);
            for _ in 0..6 {
                run(execute(&busy)).await;
            }
            let settled = run(format!("EXPLAIN (COSTS OFF) {}", execute(&busy))).await;
            assert!(
                settled.contains("$1"),
                "a custom plan per execution:\n{settled}"
            );
            // every condition, the cursor's too, bounds the index scan
            assert!(!settled.contains("Filter:"), "{settled}");
            // and that plan, forced, reads none of the busy merchant's rows
            // for the empty one
            run("SET LOCAL plan_cache_mode = force_generic_plan".into()).await;
            let plan = run(format!("EXPLAIN (ANALYZE, COSTS OFF) {}", execute(&stmt))).await;
            run("DEALLOCATE page".into()).await;
            txn.rollback().await.unwrap();
            plan
        } else {
            let rows = db
                .query_all_raw(Statement::from_sql_and_values(
                    backend,
                    format!("EXPLAIN QUERY PLAN {}", stmt.sql),
                    values,
                ))
                .await
                .unwrap();
            rows.iter()
                .map(|r| r.try_get::<String>("", "detail").unwrap())
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert!(
            !plan.contains("transactions_pkey") && !plan.contains("Rows Removed by Filter"),
            "{plan}"
        );
        assert!(plan.contains("transactions_merchant"), "{plan}");
        // the index gives the order: no sort of the merchant's rows
        assert!(
            !plan.contains("Sort") && !plan.contains("TEMP B-TREE"),
            "{plan}"
        );
    }
}

/// The Transactions page decodes its rows by position on PostgreSQL
/// (`PageRow for transaction::Entity`): every row of a page, with every
/// stored enum value and both null and set optional columns, decodes to the
/// same model as sea-orm's by-name reading; a row whose columns are in
/// another order is read by name; a column of another type, and a stored
/// text that is no enum value, are errors either way, never a default.
#[tokio::test]
async fn a_page_row_decodes_the_same_by_position_and_by_name() {
    use entity::transaction::{self, Direction, Originality, PostbackStatus, TransactionType};
    use kassa::pagination::{PageArgs, PageRow};
    use kassa::transactions::model::{Filter, Order};
    use sea_orm::{ConnectionTrait, FromQueryResult, IdenStatic, Iterable, Statement};
    let app = spawn_app().await;
    let items = (0..40)
        .map(|i| paytm(&format!("D-{i:03}"), "12.34"))
        .collect();
    ingest(&app, items).await;
    let db = &app.deps.db;
    let backend = db.get_database_backend();
    let pick = |column: &str, values: Vec<&'static str>| {
        let n = values.len();
        format!(
            "{column} = CASE id % {n} {} END",
            values
                .iter()
                .enumerate()
                .map(|(i, v)| format!("WHEN {i} THEN '{v}'"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    db.execute_unprepared(&format!(
        "UPDATE transactions SET {}, {}, {}, {}, \
         counterparty = CASE WHEN id % 2 = 0 THEN NULL ELSE 'é' || counterparty END, \
         label = CASE WHEN id % 3 = 0 THEN NULL WHEN id % 3 = 1 THEN 'user-' || id || ' ঢাকা' \
         ELSE 'user-' || id END, \
         order_id = CASE WHEN id % 4 = 0 THEN NULL ELSE 'order-' || id END, \
         activated_at = CASE WHEN id % 5 = 0 THEN NULL ELSE created_at END \
         WHERE merchant_id = {}",
        pick("direction", Direction::iter().map(|v| v.as_str()).collect()),
        pick(
            "type",
            TransactionType::iter().map(|v| v.as_str()).collect()
        ),
        pick(
            "originality",
            Originality::iter().map(|v| v.as_str()).collect()
        ),
        pick(
            "postback_status",
            PostbackStatus::iter().map(|v| v.as_str()).collect()
        ),
        app.demo_merchant_id
    ))
    .await
    .unwrap();
    let tenant = kassa::auth::model::Tenant {
        merchant_id: app.demo_merchant_id,
    };
    let page = kassa::transactions::service::page_statement(
        backend,
        tenant,
        &Filter::default(),
        Order::default(),
        &PageArgs {
            first: Some(500),
            ..Default::default()
        },
        kassa::transactions::service::Columns::ALL,
    )
    .unwrap();
    let rows = db.query_all_raw(page.clone()).await.unwrap();
    assert!(rows.len() >= 40, "{} rows", rows.len());
    let models = rows
        .iter()
        .map(|row| transaction::Model::from_query_result(row, "").unwrap())
        .collect::<Vec<_>>();
    assert_eq!(transaction::Entity::decode_page(&rows).unwrap(), models);
    // text past ASCII, at a string's start and past its first eight bytes
    assert!(models
        .iter()
        .any(|m| m.label.as_deref().is_some_and(|l| l.ends_with(" ঢাকা"))));
    assert!(models.iter().any(|m| m
        .counterparty
        .as_deref()
        .is_some_and(|c| c.starts_with('é'))));
    // the page held every value of every enum, and nulls beside values
    for status in PostbackStatus::iter() {
        assert!(
            models.iter().any(|m| m.postback_status == status),
            "{status}"
        );
    }
    for d in Direction::iter() {
        assert!(models.iter().any(|m| m.direction == d), "{d}");
    }
    for k in TransactionType::iter() {
        assert!(models.iter().any(|m| m.kind == k), "{k}");
    }
    for o in Originality::iter() {
        assert!(models.iter().any(|m| m.originality == o), "{o}");
    }
    assert!(models.iter().any(|m| m.counterparty.is_none()));
    assert!(models.iter().any(|m| m.counterparty.is_some()));
    assert!(models.iter().any(|m| m.activated_at.is_none()));
    assert!(models.iter().any(|m| m.activated_at.is_some()));

    // columns in another order: read by name, the same model
    let reordered = db
        .query_all_raw(Statement::from_string(
            backend,
            format!(
                "SELECT country AS country_first, * FROM transactions WHERE merchant_id = {} ORDER BY id",
                app.demo_merchant_id
            ),
        ))
        .await
        .unwrap();
    assert_eq!(
        transaction::Entity::decode_page(&reordered).unwrap(),
        reordered
            .iter()
            .map(|row| transaction::Model::from_query_result(row, "").unwrap())
            .collect::<Vec<_>>()
    );
    assert!(transaction::Entity::decode_page(&[]).unwrap().is_empty());

    // (PostgreSQL, where pages are read by position) the entity's names in
    // its order but a column of another type: an error both ways, though
    // the first row's value is null and only later rows hold one (the
    // types are checked once per page, from the columns, whatever the
    // first row's values; read unchecked, '3' as int8 would be 51)
    if backend == sea_orm::DbBackend::Postgres {
        let columns = transaction::Column::iter()
            .map(|c| match c.as_str() {
                "stockpiling_id" => {
                    "(CASE WHEN id % 2 = 0 THEN NULL ELSE id END)::text AS stockpiling_id"
                        .to_string()
                }
                name => format!("\"{name}\""),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let retyped = db
            .query_all_raw(Statement::from_string(
                backend,
                format!(
                    "SELECT {columns} FROM transactions WHERE merchant_id = {} ORDER BY id % 2, id",
                    app.demo_merchant_id
                ),
            ))
            .await
            .unwrap();
        assert!(retyped.len() >= 40);
        assert!(transaction::Entity::decode_page(&retyped).is_err());
        assert!(transaction::Model::from_query_result(&retyped[0], "").is_ok());
        assert!(transaction::Model::from_query_result(&retyped[retyped.len() - 1], "").is_err());
    }

    // a stored text that is no enum value: an error both ways
    db.execute_unprepared(&format!(
        "UPDATE transactions SET postback_status = 'LOST' WHERE merchant_id = {}",
        app.demo_merchant_id
    ))
    .await
    .unwrap();
    let rows = db.query_all_raw(page).await.unwrap();
    assert!(transaction::Entity::decode_page(&rows).is_err());
    assert!(transaction::Model::from_query_result(&rows[0], "").is_err());
}

/// On PostgreSQL an unfiltered Transactions page — the next one by cursor
/// included — is planned once per connection (a generic plan, on page-read
/// connections with `plan_cache_mode = force_generic_plan`: PostgreSQL's
/// own choice planned every next page anew on the benchmark's million
/// rows, since a generic estimate of `id < $n` costs more than a custom one
/// near the head of the list), while a filtered page stays PostgreSQL's
/// choice (custom plans where its values matter).
#[tokio::test]
async fn an_unfiltered_page_is_planned_once_and_a_filtered_one_as_postgresql_chooses() {
    use kassa::db::Plans;
    let app = spawn_app().await;
    let Some(reads) = app.deps.reads.clone() else {
        assert_eq!(
            app.deps.db.get_database_backend(),
            sea_orm::DbBackend::Sqlite
        );
        return;
    };
    let items = (0..60)
        .map(|i| paytm(&format!("PLAN-{i:03}"), "10.00"))
        .collect();
    ingest(&app, items).await;
    let owner = app.login(OWNER).await;
    let filter = "filter: { paymentSystems: [\"paytm\"] }";
    walk_pages(&app, &owner, "transactions", 3, filter).await;
    // what each kind of page-read connection prepared, asked on that connection
    let generic = prepared_over(&reads, Plans::Generic, "transactions").await;
    let next = generic
        .iter()
        .find(|(sql, ..)| sql.contains("\"id\" < $"))
        .unwrap_or_else(|| panic!("no next page planned generically: {generic:?}"));
    assert_eq!(next.3, "force_generic_plan");
    assert!(next.1 >= 8 && next.2 == 0, "{next:?}");
    assert!(
        generic
            .iter()
            .all(|(sql, ..)| !sql.contains("payment_system\" IN")),
        "a filtered page ran with a forced generic plan: {generic:?}"
    );
    let chosen = prepared_over(&reads, Plans::Chosen, "transactions").await;
    assert!(
        chosen
            .iter()
            .any(|(sql, _, _, mode)| sql.contains("payment_system\" IN") && mode == "auto"),
        "{chosen:?}"
    );
}

/// A transaction never moves to another merchant or payment system, whoever
/// writes the update (the maintained counts and every tenant boundary rest
/// on it): the database refuses it on either backend, an update that keeps
/// them passes, and the counts still match the rows.
#[tokio::test]
async fn the_database_refuses_to_move_a_transaction_to_another_merchant_or_system() {
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    ingest(
        &app,
        vec![paytm("MOVE-1", "10.00"), paytm("MOVE-2", "20.00")],
    )
    .await;
    let db = &app.deps.db;
    let id: i64 = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT id FROM transactions WHERE transaction_number = 'MOVE-1'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "id")
        .unwrap();
    let refusal = migration::m20261202_000016_transaction_owner_fixed::REFUSAL;
    for set in [
        format!("merchant_id = {}", app.other_merchant_id),
        "payment_system = 'upi'".to_string(),
        format!(
            "merchant_id = {}, payment_system = 'upi'",
            app.other_merchant_id
        ),
    ] {
        let err = db
            .execute_unprepared(&format!("UPDATE transactions SET {set} WHERE id = {id}"))
            .await
            .expect_err(&set);
        assert!(err.to_string().contains(refusal), "{set}: {err}");
    }
    // the same values, and other columns, still update
    db.execute_unprepared(&format!(
        "UPDATE transactions SET merchant_id = merchant_id, payment_system = payment_system, \
         label = 'kept' WHERE id = {id}"
    ))
    .await
    .unwrap();
    let count = |sql: String| async move {
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                sql,
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    };
    for merchant in [app.demo_merchant_id, app.other_merchant_id] {
        let rows = count(format!(
            "SELECT COUNT(*) FROM transactions WHERE merchant_id = {merchant}"
        ))
        .await;
        let kept = count(format!(
            "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM transaction_counts \
             WHERE merchant_id = {merchant}"
        ))
        .await;
        assert_eq!(rows, kept, "merchant {merchant}");
    }
    let label = count(format!(
        "SELECT COUNT(*) FROM transactions WHERE id = {id} AND label = 'kept' \
         AND merchant_id = {}",
        app.demo_merchant_id
    ))
    .await;
    assert_eq!(label, 1);
}
