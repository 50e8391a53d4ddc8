use crate::support::*;
use crate::transactions::{ingest, paytm};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};

pub const CREATE: &str = "mutation($i: CreateWithdrawalInput!) { createWithdrawal(input: $i) { withdrawal { id amount currency status requestKind postbackStatus recipient label comment fields { name value } createdBy { login } processedAt paymentSystem { code } } errors { code field message } } }";
const DECIDE: &str = "mutation($i: SetWithdrawalStatusInput!) { setWithdrawalStatus(input: $i) { withdrawal { id status processedAt comment decisionComment } errors { code field } } }";
static NUMBER: AtomicUsize = AtomicUsize::new(0);

/// Credits the demo merchant's INR balance with `amount` less `commission`.
pub async fn fund(app: &TestApp, amount: &str, commission: &str) {
    let n = format!("FUND-{}", NUMBER.fetch_add(1, Ordering::SeqCst));
    let mut item = paytm(&n, amount);
    item["commission"] = json!(commission);
    ingest(app, vec![item]).await;
    let body = app.gql(None, "mutation($n: String!) { activateDeposit(input: { pluginKey: \"kpk_demo_shop_public_key_0001\", paymentSystem: \"paytm\", transactionNumber: $n, label: \"funder\" }) { outcome } }", json!({ "n": n })).await;
    assert_eq!(
        body["data"]["activateDeposit"]["outcome"], "ACTIVATED",
        "{body}"
    );
}

pub fn paytm_out(amount: &str) -> Value {
    json!({ "i": { "paymentSystem": "paytm", "amount": amount, "recipient": "9876543210" } })
}

async fn balance(app: &TestApp, token: &str) -> (String, String) {
    let body = app
        .gql(
            Some(token),
            "{ balances { currency available reserved } }",
            json!({}),
        )
        .await;
    let inr = body["data"]["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["currency"] == "INR")
        .cloned()
        .unwrap_or(json!({ "available": "0.00", "reserved": "0.00" }));
    (
        inr["available"].as_str().unwrap().to_string(),
        inr["reserved"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn each_bad_withdrawal_input_names_its_field() {
    let app = spawn_app().await;
    fund(&app, "5000.00", "0").await;
    let owner = app.login(OWNER).await;
    let imps = |fields: Value| json!({ "i": { "paymentSystem": "imps", "amount": "100", "recipient": "123456789012", "fields": fields } });
    let cases = [
        (
            json!({ "i": { "paymentSystem": "venmo", "amount": "1", "recipient": "x" } }),
            "INVALID",
            vec!["input", "paymentSystem"],
        ),
        (
            json!({ "i": { "paymentSystem": "paytm", "amount": "1", "currency": "BDT", "recipient": "9876543210" } }),
            "INVALID",
            vec!["input", "currency"],
        ),
        (paytm_out("0"), "INVALID", vec!["input", "amount"]),
        (paytm_out("-5"), "INVALID", vec!["input", "amount"]),
        (paytm_out("1.001"), "INVALID", vec!["input", "amount"]),
        (
            json!({ "i": { "paymentSystem": "paytm", "amount": "1", "recipient": "  " } }),
            "REQUIRED",
            vec!["input", "recipient"],
        ),
        (
            json!({ "i": { "paymentSystem": "paytm", "amount": "1", "recipient": "12345" } }),
            "INVALID",
            vec!["input", "recipient"],
        ),
        (
            json!({ "i": { "paymentSystem": "paytm", "amount": "1", "recipient": "9876543210", "fields": [{ "name": "ifsc", "value": "HDFC0001234" }] } }),
            "INVALID",
            vec!["input", "fields", "ifsc"],
        ),
        (
            imps(json!([{ "name": "account_name", "value": "Ravi Kumar" }])),
            "REQUIRED",
            vec!["input", "fields", "ifsc"],
        ),
        (
            imps(
                json!([{ "name": "ifsc", "value": "hdfc1234" }, { "name": "account_name", "value": "Ravi Kumar" }]),
            ),
            "INVALID",
            vec!["input", "fields", "ifsc"],
        ),
        (
            imps(
                json!([{ "name": "ifsc", "value": "HDFC0001234" }, { "name": "account_name", "value": "R4v1" }]),
            ),
            "INVALID",
            vec!["input", "fields", "account_name"],
        ),
        (
            json!({ "i": { "paymentSystem": "paytm", "amount": "1", "recipient": "9876543210", "label": "x".repeat(129) } }),
            "INVALID",
            vec!["input", "label"],
        ),
        (
            json!({ "i": { "paymentSystem": "paytm", "amount": "1", "recipient": "9876543210", "idempotencyKey": "k".repeat(129) } }),
            "INVALID",
            vec!["input", "idempotencyKey"],
        ),
        (
            paytm_out("5000.01"),
            "INSUFFICIENT_FUNDS",
            vec!["input", "amount"],
        ),
    ];
    for (vars, code, field) in cases {
        let body = app.gql(Some(&owner), CREATE, vars.clone()).await;
        let p = &body["data"]["createWithdrawal"];
        assert!(p["withdrawal"].is_null(), "{vars}: {body}");
        assert!(
            p["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["code"] == code && e["field"] == json!(field)),
            "{vars}: {body}"
        );
    }
    assert_eq!(
        balance(&app, &owner).await,
        ("5000.00".into(), "0.00".into()),
        "nothing reserved"
    );
    let body = app
        .gql(Some(&owner), "{ withdrawals { totalCount } }", json!({}))
        .await;
    assert_eq!(body["data"]["withdrawals"]["totalCount"], 0);

    // A good IMPS request with its bank fields.
    let body = app.gql(Some(&owner), CREATE, imps(json!([{ "name": "ifsc", "value": " HDFC0001234 " }, { "name": "account_name", "value": "Ravi Kumar" }]))).await;
    let w = &body["data"]["createWithdrawal"]["withdrawal"];
    assert_eq!(
        w["fields"],
        json!([{ "name": "ifsc", "value": "HDFC0001234" }, { "name": "account_name", "value": "Ravi Kumar" }]),
        "{body}"
    );
    assert_eq!(w["requestKind"], "MANUAL");
    assert_eq!(w["createdBy"]["login"], "owner@demo");
    assert_eq!(w["postbackStatus"], "NOT_SENT");
}

#[tokio::test]
async fn the_balance_follows_deposits_commission_withdrawals_and_decisions() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    assert_eq!(balance(&app, &owner).await, ("0.00".into(), "0.00".into()));
    fund(&app, "1000.00", "20.00").await;
    assert_eq!(
        balance(&app, &owner).await,
        ("980.00".into(), "0.00".into())
    );
    let a = app.gql(Some(&owner), CREATE, paytm_out("300")).await;
    let a_id = a["data"]["createWithdrawal"]["withdrawal"]["id"].clone();
    assert_eq!(
        balance(&app, &owner).await,
        ("680.00".into(), "300.00".into())
    );
    let body = app
        .gql(
            Some(app.keys.platform.as_str()),
            DECIDE,
            json!({ "i": { "id": a_id, "status": "APPROVED" } }),
        )
        .await;
    assert_eq!(
        body["data"]["setWithdrawalStatus"]["withdrawal"]["status"], "APPROVED",
        "{body}"
    );
    assert_eq!(
        balance(&app, &owner).await,
        ("680.00".into(), "0.00".into())
    );
    let b = app.gql(Some(&owner), CREATE, paytm_out("100.50")).await;
    assert_eq!(
        balance(&app, &owner).await,
        ("579.50".into(), "100.50".into())
    );
    app.gql(Some(app.keys.platform.as_str()), DECIDE, json!({ "i": { "id": b["data"]["createWithdrawal"]["withdrawal"]["id"], "status": "REJECTED", "comment": "wrong account" } })).await;
    assert_eq!(
        balance(&app, &owner).await,
        ("680.00".into(), "0.00".into()),
        "a rejection releases the money"
    );
    // A deposit later found to be SCAM leaves the balance.
    let id = app
        .gql(
            Some(&owner),
            "{ transactions(first: 1) { nodes { id } } }",
            json!({}),
        )
        .await["data"]["transactions"]["nodes"][0]["id"]
        .clone();
    let marked = app.gql(Some(app.keys.platform.as_str()), "mutation($id: ID!) { setTransactionOriginality(id: $id, originality: SCAM) { transaction { originality } errors { code } } }", json!({ "id": id })).await;
    assert_eq!(
        marked["data"]["setTransactionOriginality"]["transaction"]["originality"], "SCAM",
        "{marked}"
    );
    assert_eq!(
        balance(&app, &owner).await,
        ("-300.00".into(), "0.00".into())
    );
    app.gql(Some(app.keys.platform.as_str()), "mutation($id: ID!) { setTransactionOriginality(id: $id, originality: NORMAL) { errors { code } } }", json!({ "id": id })).await;
    assert_eq!(
        balance(&app, &owner).await,
        ("680.00".into(), "0.00".into())
    );
}

#[tokio::test]
async fn forty_concurrent_withdrawals_never_overdraw() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let operator = app.login(OPERATOR).await;
    fund(&app, "100.00", "0").await;
    for round in 0..3 {
        let calls = (0..40).map(|i| {
            let token = if i % 2 == 0 {
                owner.clone()
            } else {
                operator.clone()
            };
            let app = &app;
            async move { app.gql(Some(&token), CREATE, paytm_out("30.00")).await }
        });
        let results = futures_util::future::join_all(calls).await;
        let ok = results
            .iter()
            .filter(|r| r["data"]["createWithdrawal"]["withdrawal"].is_object())
            .count();
        let short = results
            .iter()
            .filter(|r| r["data"]["createWithdrawal"]["errors"][0]["code"] == "INSUFFICIENT_FUNDS")
            .count();
        assert_eq!((ok, short), (3, 37), "round {round}");
        assert_eq!(
            balance(&app, &owner).await,
            ("10.00".into(), "90.00".into()),
            "round {round}"
        );
        // Top up to 100.00 for the next round: approve the three and add 90.00.
        fund(&app, "90.00", "0").await;
        let ids: Vec<Value> = results
            .iter()
            .filter_map(|r| {
                r["data"]["createWithdrawal"]["withdrawal"]["id"]
                    .as_str()
                    .map(|s| json!(s))
            })
            .collect();
        for id in ids {
            app.gql(
                Some(app.keys.platform.as_str()),
                DECIDE,
                json!({ "i": { "id": id, "status": "APPROVED" } }),
            )
            .await;
        }
        assert_eq!(
            balance(&app, &owner).await,
            ("100.00".into(), "0.00".into())
        );
    }
}

#[tokio::test]
async fn one_idempotency_key_makes_one_withdrawal() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    fund(&app, "1000.00", "0").await;
    let keyed = |amount: &str| json!({ "i": { "paymentSystem": "paytm", "amount": amount, "recipient": "9876543210", "idempotencyKey": "order-77" } });
    let calls = (0..12).map(|_| app.gql(Some(&owner), CREATE, keyed("250.00")));
    let results = futures_util::future::join_all(calls).await;
    let ids: std::collections::HashSet<String> = results
        .iter()
        .map(|r| {
            r["data"]["createWithdrawal"]["withdrawal"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{r}"))
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(
        balance(&app, &owner).await,
        ("750.00".into(), "250.00".into())
    );
    let other = app.gql(Some(&owner), CREATE, keyed("251.00")).await;
    assert_eq!(
        other["data"]["createWithdrawal"]["errors"][0]["code"],
        "IDEMPOTENCY_CONFLICT"
    );
    assert_eq!(
        other["data"]["createWithdrawal"]["errors"][0]["field"],
        json!(["input", "idempotencyKey"])
    );
    // Keys are per merchant, and expire after 24 hours.
    app.clock
        .advance(std::time::Duration::from_secs(24 * 3600 + 1));
    let owner = app.login(OWNER).await;
    let again = app.gql(Some(&owner), CREATE, keyed("250.00")).await;
    let fresh = again["data"]["createWithdrawal"]["withdrawal"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!ids.contains(&fresh), "a new withdrawal after expiry");
}

#[tokio::test]
async fn roles_and_scopes_for_withdrawals() {
    let app = spawn_app().await;
    fund(&app, "1000.00", "0").await;
    let viewer = app.login(VIEWER).await;
    assert_eq!(
        error_code(&app.gql(Some(&viewer), CREATE, paytm_out("1")).await),
        Some("FORBIDDEN")
    );
    assert_eq!(
        error_code(
            &app.gql(Some(app.keys.platform.as_str()), CREATE, paytm_out("1"))
                .await
        ),
        Some("FORBIDDEN")
    );
    assert_eq!(
        error_code(&app.gql(None, CREATE, paytm_out("1")).await),
        Some("UNAUTHENTICATED")
    );
    let body = app
        .gql(Some(app.keys.merchant.as_str()), CREATE, paytm_out("10"))
        .await;
    let w = &body["data"]["createWithdrawal"]["withdrawal"];
    assert_eq!(w["requestKind"], "API", "{body}");
    assert!(w["createdBy"].is_null());
    let id = w["id"].clone();
    let owner = app.login(OWNER).await;
    assert_eq!(
        error_code(
            &app.gql(
                Some(&owner),
                DECIDE,
                json!({ "i": { "id": id, "status": "APPROVED" } })
            )
            .await
        ),
        Some("FORBIDDEN")
    );
    assert_eq!(
        error_code(
            &app.gql(
                Some(app.keys.merchant.as_str()),
                DECIDE,
                json!({ "i": { "id": id, "status": "APPROVED" } })
            )
            .await
        ),
        Some("FORBIDDEN")
    );
    // Reads: a viewer and the merchant key see it, another merchant does not.
    let q = "query($id: ID!) { withdrawal(id: $id) { id } withdrawals { totalCount } balances { currency } }";
    assert_eq!(
        app.gql(Some(&viewer), q, json!({ "id": id })).await["data"]["withdrawal"]["id"],
        id
    );
    let other = app.login(OTHER_OWNER).await;
    let body = app.gql(Some(&other), q, json!({ "id": id })).await;
    assert!(body["data"]["withdrawal"].is_null());
    assert_eq!(body["data"]["withdrawals"]["totalCount"], 0);
    assert_eq!(body["data"]["balances"], json!([]));
}

#[tokio::test]
async fn a_withdrawal_is_decided_once_and_its_postback_reaches_the_merchant() {
    let receiver = Receiver::start().await;
    let special = Receiver::start().await;
    let app = spawn_app_with(&[("KASSA_POSTBACK_WORKER", "1")]).await;
    let owner = app.login(OWNER).await;
    app.gql(Some(&owner), "mutation($u: String) { updateSystemSettings(input: { postbackUrl: $u }) { errors { code } } }", json!({ "u": receiver.url })).await;
    fund(&app, "1000.00", "0").await;
    receiver.wait_for(1).await; // the deposit's own postback
    let a = app.gql(Some(&owner), CREATE, json!({ "i": { "paymentSystem": "paytm", "amount": "120", "recipient": "9876543210", "label": "payout-1", "comment": "weekly" } })).await;
    let a_id = a["data"]["createWithdrawal"]["withdrawal"]["id"].clone();
    let b = app.gql(Some(&owner), CREATE, paytm_out("30")).await;
    let b_id = b["data"]["createWithdrawal"]["withdrawal"]["id"].clone();

    let body = app
        .gql(
            Some(app.keys.platform.as_str()),
            DECIDE,
            json!({ "i": { "id": a_id, "status": "NEW" } }),
        )
        .await;
    assert_eq!(
        body["data"]["setWithdrawalStatus"]["errors"][0]["code"],
        "INVALID_TRANSITION"
    );
    let body = app
        .gql(
            Some(app.keys.platform.as_str()),
            DECIDE,
            json!({ "i": { "id": a_id, "status": "APPROVED", "comment": "  paid, ref 77 " } }),
        )
        .await;
    let w = &body["data"]["setWithdrawalStatus"]["withdrawal"];
    assert_eq!(w["status"], "APPROVED");
    assert_eq!(w["processedAt"], "2026-11-24T10:00:00Z");
    // the platform's comment has its own field; the merchant's stays as entered
    assert_eq!(w["comment"], "weekly");
    assert_eq!(w["decisionComment"], "paid, ref 77");
    let body = app
        .gql(
            Some(app.keys.platform.as_str()),
            DECIDE,
            json!({ "i": { "id": a_id, "status": "REJECTED" } }),
        )
        .await;
    assert_eq!(
        body["data"]["setWithdrawalStatus"]["errors"][0]["code"],
        "INVALID_TRANSITION"
    );
    let body = app
        .gql(
            Some(app.keys.platform.as_str()),
            DECIDE,
            json!({ "i": { "id": "424242", "status": "REJECTED" } }),
        )
        .await;
    assert_eq!(
        body["data"]["setWithdrawalStatus"]["errors"][0]["code"],
        "NOT_FOUND"
    );
    receiver.wait_for(2).await;
    let (_, first, _) = receiver.seen.lock().unwrap()[1].clone();
    let first: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(first["type"], "withdrawal");
    assert_eq!(first["withdrawal_id"], a_id);
    assert_eq!(first["status"], "APPROVED");
    assert_eq!(first["amount"], "120.00");
    assert_eq!(first["recipient"], "9876543210");
    assert_eq!(first["label"], "payout-1");
    assert_eq!(first["comment"], "weekly");
    assert_eq!(first["decision_comment"], "paid, ref 77");
    assert_eq!(first["processed_at"], "2026-11-24T10:00:00Z");

    // Withdrawal postbacks prefer their own URL.
    app.gql(Some(&owner), "mutation($u: String) { updateSystemSettings(input: { withdrawalPostbackUrl: $u }) { errors { code } } }", json!({ "u": special.url })).await;
    app.gql(
        Some(app.keys.platform.as_str()),
        DECIDE,
        json!({ "i": { "id": b_id, "status": "REJECTED" } }),
    )
    .await;
    special.wait_for(1).await;
    let (_, second, _) = special.seen.lock().unwrap()[0].clone();
    assert!(second.contains("\"REJECTED\""));
    let second: Value = serde_json::from_str(&second).unwrap();
    assert_eq!(
        second["decision_comment"],
        Value::Null,
        "no comment given: none shown"
    );
    let b_now = app
        .gql(
            Some(&owner),
            "query($id: ID!) { withdrawal(id: $id) { comment decisionComment } }",
            json!({ "id": b_id }),
        )
        .await;
    assert!(b_now["errors"].is_null(), "{b_now}");
    assert!(b_now["data"]["withdrawal"].is_object(), "{b_now}");
    assert_eq!(
        b_now["data"]["withdrawal"]["decisionComment"],
        Value::Null,
        "{b_now}"
    );
    for _ in 0..100 {
        let page = app
            .gql(
                Some(&owner),
                "{ withdrawals(filter: { postbackStatus: RECEIVED }) { totalCount } }",
                json!({}),
            )
            .await;
        if page["data"]["withdrawals"]["totalCount"] == 2 {
            let log = app.gql(Some(&owner), "{ postbacks(filter: { kind: WITHDRAWAL }) { totalCount nodes { withdrawal { id status } } } }", json!({})).await;
            assert_eq!(log["data"]["postbacks"]["totalCount"], 2);
            assert_eq!(
                log["data"]["postbacks"]["nodes"][0]["withdrawal"]["status"],
                "REJECTED"
            );
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let page = app.gql(Some(&owner), "{ withdrawals { nodes { id status postbackStatus } } postbacks { nodes { kind status lastError attempts { responseStatus error } } } }", json!({})).await;
    panic!("the withdrawals never showed RECEIVED: {page}");
}

#[tokio::test]
async fn every_filter_and_order_of_the_withdrawals_page() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    fund(&app, "100000.00", "0").await;
    let mut bd = paytm("BD-1", "100000");
    bd["paymentSystem"] = json!("bkash");
    bd["walletIdentifier"] = json!("01711000001");
    bd["currency"] = json!("BDT");
    ingest(&app, vec![bd]).await;
    app.gql(None, "mutation { activateDeposit(input: { pluginKey: \"kpk_demo_shop_public_key_0001\", paymentSystem: \"bkash\", transactionNumber: \"BD-1\", label: \"f\" }) { outcome } }", json!({})).await;
    let mut ids = Vec::new();
    for i in 0..9 {
        let (ps, recipient) = if i % 3 == 2 {
            ("bkash", "01712345678")
        } else {
            (
                "paytm",
                if i % 2 == 0 {
                    "9876543210"
                } else {
                    "9123456789"
                },
            )
        };
        let body = app.gql(Some(&owner), CREATE, json!({ "i": { "paymentSystem": ps, "amount": format!("{}.00", 10 + i * 7 % 5), "recipient": recipient, "label": format!("L{}", i % 2) } })).await;
        ids.push(
            body["data"]["createWithdrawal"]["withdrawal"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{body}"))
                .to_string(),
        );
        app.clock.advance(std::time::Duration::from_secs(600));
    }
    for (k, status) in [(0, "APPROVED"), (1, "APPROVED"), (2, "REJECTED")] {
        app.gql(
            Some(app.keys.platform.as_str()),
            DECIDE,
            json!({ "i": { "id": ids[k], "status": status } }),
        )
        .await;
    }
    let q = "query($f: WithdrawalFilter) { withdrawals(filter: $f, first: 100) { totalCount totals { currency amount count } nodes { id } } }";
    let count = |f: Value| {
        let app = &app;
        let owner = owner.clone();
        async move {
            let body = app.gql(Some(&owner), q, json!({ "f": f })).await;
            assert!(body["errors"].is_null(), "{body}");
            body["data"]["withdrawals"]["totalCount"].as_i64().unwrap()
        }
    };
    assert_eq!(count(json!({})).await, 9);
    assert_eq!(count(json!({ "id": ids[4] })).await, 1);
    assert_eq!(count(json!({ "paymentSystems": ["bkash"] })).await, 3);
    assert_eq!(count(json!({ "recipient": "9876543210" })).await, 3);
    assert_eq!(count(json!({ "label": "L1" })).await, 4);
    assert_eq!(count(json!({ "status": "APPROVED" })).await, 2);
    assert_eq!(count(json!({ "status": "NEW" })).await, 6);
    assert_eq!(count(json!({ "postbackStatus": "NOT_SENT" })).await, 9);
    assert_eq!(
        count(
            json!({ "createdAt": { "from": "2026-11-24T10:20:00Z", "to": "2026-11-24T10:50:00Z" } })
        )
        .await,
        3
    );
    let body = app
        .gql(
            Some(&owner),
            q,
            json!({ "f": { "paymentSystems": ["paytm"] } }),
        )
        .await;
    let totals = &body["data"]["withdrawals"]["totals"];
    assert_eq!(totals.as_array().unwrap().len(), 1);
    assert_eq!(totals[0]["count"], 6);

    let page = "query($o: WithdrawalOrder, $a: String) { withdrawals(orderBy: $o, first: 4, after: $a) { nodes { id amount } pageInfo { hasNextPage endCursor } } }";
    for order in [
        json!({ "field": "AMOUNT", "direction": "ASC" }),
        json!({ "field": "CREATED_AT", "direction": "DESC" }),
        json!({ "field": "ID", "direction": "ASC" }),
    ] {
        let mut seen = Vec::new();
        let mut after = Value::Null;
        loop {
            let body = app
                .gql(Some(&owner), page, json!({ "o": order, "a": after }))
                .await;
            let w = &body["data"]["withdrawals"];
            seen.extend(
                w["nodes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n["id"].as_str().unwrap().to_string()),
            );
            if w["pageInfo"]["hasNextPage"] == false {
                break;
            }
            after = w["pageInfo"]["endCursor"].clone();
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 9, "{order}: {seen:?}");
    }
    let body = app
        .gql(
            Some(&owner),
            page,
            json!({ "o": { "field": "ID", "direction": "ASC" }, "a": "bogus" }),
        )
        .await;
    assert_eq!(error_code(&body), Some("INVALID"));
}

/// On PostgreSQL an unfiltered Withdrawals page, the next one by cursor
/// included, is planned once per connection (as the Transactions page: each
/// order has its merchant index); a filtered one stays PostgreSQL's choice.
#[tokio::test]
async fn an_unfiltered_withdrawals_page_is_planned_once() {
    use kassa::db::Plans;
    let app = spawn_app().await;
    let Some(reads) = app.deps.reads.clone() else {
        return;
    };
    fund(&app, "5000.00", "0").await;
    let owner = app.login(OWNER).await;
    for _ in 0..12 {
        let body = app.gql(Some(&owner), CREATE, paytm_out("10.00")).await;
        assert!(
            body["data"]["createWithdrawal"]["errors"]
                .as_array()
                .is_some_and(|e| e.is_empty()),
            "{body}"
        );
    }
    walk_pages(&app, &owner, "withdrawals", 1, "filter: { status: NEW }").await;
    // the next page's statements, on each kind of page-read connection
    let next = |prepared: Vec<Prepared>| {
        prepared
            .into_iter()
            .filter(|(sql, ..)| sql.contains("\"id\" < $"))
            .collect::<Vec<_>>()
    };
    let generic = next(prepared_over(&reads, Plans::Generic, "withdrawals").await);
    assert_eq!(generic.len(), 1, "{generic:?}");
    assert!(generic[0].1 >= 8 && generic[0].2 == 0, "{generic:?}");
    assert!(!generic[0].0.contains("\"status\" = $"), "{generic:?}");
    let chosen = next(prepared_over(&reads, Plans::Chosen, "withdrawals").await);
    assert!(
        chosen
            .iter()
            .any(|(sql, ..)| sql.contains("\"status\" = $")),
        "{chosen:?}"
    );
}
