use crate::support::*;
use crate::transactions::{ingest, paytm};
use serde_json::{json, Value};
use std::time::Duration;

const ACTIVATE: &str = "mutation($i: ActivateDepositInput!) { activateDeposit(input: $i) { outcome ticket amount currency errors { code field } stockpiling { accumulated minimum remaining currency completed } } }";
const SET_MINIMUMS: &str = "mutation($m: [MinimumDepositInput!]) { updateSystemSettings(input: { minimumDeposits: $m }) { system { minimumDeposits { currency amount } } errors { code field message } } }";
const DELAYED: &str = "mutation($m: ID!, $e: Boolean!) { setDelayedAutoActivation(merchantId: $m, enabled: $e) { merchant { id delayedAutoActivation } errors { code field } } }";

fn claim(number: &str, label: &str) -> Value {
    json!({ "i": { "pluginKey": kassa::demo::PLUGIN_KEY, "paymentSystem": "paytm", "transactionNumber": number, "label": label, "orderId": format!("order-{number}") } })
}

async fn activate(app: &TestApp, number: &str, label: &str) -> Value {
    let body = app.gql(None, ACTIVATE, claim(number, label)).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["activateDeposit"].clone()
}

async fn demo_merchant_id(app: &TestApp) -> String {
    let owner = app.login(OWNER).await;
    app.gql(Some(&owner), "{ merchant { id } }", json!({}))
        .await["data"]["merchant"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn a_payer_activates_a_deposit_once_and_only_incoming_normal_ones() {
    let app = spawn_app().await;
    let mut out = paytm("OUT-1", "100");
    out["direction"] = json!("OUTGOING");
    ingest(
        &app,
        vec![paytm("A-1", "1500.00"), out, paytm("SCAM-1", "100")],
    )
    .await;
    let owner = app.login(OWNER).await;
    let scam_id = app
        .gql(
            Some(&owner),
            "{ transactions(filter: { transactionNumber: \"SCAM-1\" }) { nodes { id } } }",
            json!({}),
        )
        .await["data"]["transactions"]["nodes"][0]["id"]
        .clone();
    let marked = app.gql(Some(app.keys.platform.as_str()), "mutation($id: ID!) { setTransactionOriginality(id: $id, originality: SCAM) { transaction { originality } errors { code } } }", json!({ "id": scam_id })).await;
    assert_eq!(
        marked["data"]["setTransactionOriginality"]["transaction"]["originality"], "SCAM",
        "{marked}"
    );

    let first = activate(&app, "A-1", "payer-7").await;
    assert_eq!(first["outcome"], "ACTIVATED");
    assert_eq!(first["amount"], "1500.00");
    assert_eq!(first["currency"], "INR");
    assert_eq!(
        first["stockpiling"],
        json!({ "accumulated": "1500.00", "minimum": "0.00", "remaining": "0.00", "currency": "INR", "completed": true })
    );
    assert_eq!(
        activate(&app, "A-1", "someone-else").await["outcome"],
        "ALREADY_ACTIVATED"
    );
    assert_eq!(
        activate(&app, "OUT-1", "payer-7").await["outcome"],
        "REJECTED"
    );
    assert_eq!(
        activate(&app, "SCAM-1", "payer-7").await["outcome"],
        "REJECTED"
    );
    assert_eq!(
        activate(&app, "NOPE-1", "payer-7").await["outcome"],
        "NOT_FOUND"
    );

    let t = app.gql(Some(&owner), "{ transactions(filter: { transactionNumber: \"A-1\" }) { nodes { status label orderId activatedAt postbackStatus stockpiling { status label accumulated transactions { transactionNumber } } } } }", json!({})).await;
    let node = &t["data"]["transactions"]["nodes"][0];
    assert_eq!(node["status"], "ACTIVATED");
    assert_eq!(node["label"], "payer-7");
    assert_eq!(node["orderId"], "order-A-1");
    assert_eq!(node["activatedAt"], "2026-11-24T10:00:00Z");
    assert_eq!(node["postbackStatus"], "QUEUED");
    assert_eq!(node["stockpiling"]["status"], "COMPLETED");
    // Only the platform marks originality.
    let body = app.gql(Some(&owner), "mutation($id: ID!) { setTransactionOriginality(id: $id, originality: NORMAL) { errors { code } } }", json!({ "id": scam_id })).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
    let body = app.gql(Some(app.keys.platform.as_str()), "mutation { setTransactionOriginality(id: \"424242\", originality: NORMAL) { errors { code field } } }", json!({})).await;
    assert_eq!(
        body["data"]["setTransactionOriginality"]["errors"][0]["code"],
        "NOT_FOUND"
    );
}

#[tokio::test]
async fn bad_activation_input_is_refused_and_an_unknown_plugin_key_is_not_found() {
    let app = spawn_app().await;
    ingest(&app, vec![paytm("B-1", "10")]).await;
    let body = app.gql(None, ACTIVATE, json!({ "i": { "pluginKey": "kpk_nope", "paymentSystem": "paytm", "transactionNumber": "B-1", "label": "x" } })).await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
    for (input, field) in [
        (
            json!({ "paymentSystem": "venmo", "transactionNumber": "B-1", "label": "x" }),
            "paymentSystem",
        ),
        (
            json!({ "paymentSystem": "paytm", "transactionNumber": "  ", "label": "x" }),
            "transactionNumber",
        ),
        (
            json!({ "paymentSystem": "paytm", "transactionNumber": "B-1", "label": "" }),
            "label",
        ),
        (
            json!({ "paymentSystem": "paytm", "transactionNumber": "B-1", "label": "x".repeat(129) }),
            "label",
        ),
    ] {
        let mut i = input.clone();
        i["pluginKey"] = json!(kassa::demo::PLUGIN_KEY);
        let body = app.gql(None, ACTIVATE, json!({ "i": i })).await;
        let p = &body["data"]["activateDeposit"];
        assert_eq!(p["outcome"], "REJECTED", "{input}: {body}");
        assert_eq!(p["errors"][0]["field"], json!(["input", field]));
    }
    // Still claimable after all that.
    assert_eq!(activate(&app, "B-1", "payer").await["outcome"], "ACTIVATED");
}

#[tokio::test]
async fn thirty_two_payers_racing_for_one_deposit_get_one_activation() {
    let app = spawn_app().await;
    ingest(&app, vec![paytm("RACE-9", "700.00")]).await;
    let calls = (0..32).map(|i| {
        let app = &app;
        async move { activate(app, "RACE-9", &format!("payer-{i}")).await }
    });
    let results = futures_util::future::join_all(calls).await;
    let activated = results
        .iter()
        .filter(|r| r["outcome"] == "ACTIVATED")
        .count();
    let already = results
        .iter()
        .filter(|r| r["outcome"] == "ALREADY_ACTIVATED")
        .count();
    assert_eq!((activated, already), (1, 31), "{results:?}");
    let owner = app.login(OWNER).await;
    let sp = app
        .gql(
            Some(&owner),
            "{ stockpilings { totalCount nodes { accumulated transactions { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(sp["data"]["stockpilings"]["totalCount"], 1);
    assert_eq!(
        sp["data"]["stockpilings"]["nodes"][0]["accumulated"],
        "700.00"
    );
}

#[tokio::test]
async fn deposits_stockpile_to_the_minimum_and_then_queue_one_postback() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let body = app.gql(Some(&owner), SET_MINIMUMS, json!({ "m": [{ "currency": "INR", "amount": "1000" }, { "currency": "BDT", "amount": "0" }] })).await;
    assert_eq!(
        body["data"]["updateSystemSettings"]["system"]["minimumDeposits"],
        json!([{ "currency": "BDT", "amount": "0.00" }, { "currency": "INR", "amount": "1000.00" }]),
        "{body}"
    );
    ingest(
        &app,
        vec![
            paytm("S-1", "400.00"),
            paytm("S-2", "300.00"),
            paytm("S-3", "500.00"),
            paytm("S-4", "2500.00"),
            paytm("S-5", "50.00"),
        ],
    )
    .await;

    let a = activate(&app, "S-1", "ann").await;
    assert_eq!(
        a["stockpiling"],
        json!({ "accumulated": "400.00", "minimum": "1000.00", "remaining": "600.00", "currency": "INR", "completed": false })
    );
    let b = activate(&app, "S-2", "ann").await;
    assert_eq!(b["stockpiling"]["remaining"], "300.00");
    // Another payer's deposit over the minimum completes on its own at once.
    let solo = activate(&app, "S-4", "ben").await;
    assert_eq!(solo["stockpiling"]["completed"], true);
    let page = app
        .gql(
            Some(&owner),
            "{ transactions(filter: { label: \"ann\" }) { nodes { postbackStatus } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        page["data"]["transactions"]["nodes"],
        json!([{ "postbackStatus": "STOCKPILING_IN_PROGRESS" }, { "postbackStatus": "STOCKPILING_IN_PROGRESS" }])
    );
    let c = activate(&app, "S-3", "ann").await;
    assert_eq!(
        c["stockpiling"],
        json!({ "accumulated": "1200.00", "minimum": "1000.00", "remaining": "0.00", "currency": "INR", "completed": true })
    );
    // The next deposit of the same payer opens a new stockpiling.
    let d = activate(&app, "S-5", "ann").await;
    assert_eq!(d["stockpiling"]["accumulated"], "50.00");

    let page = app.gql(Some(&owner), "{ transactions(filter: { label: \"ann\", postbackStatus: QUEUED }) { totalCount } stockpilings(filter: { label: \"ann\" }) { totalCount nodes { status accumulated minimum completedAt transactions { transactionNumber } } } }", json!({})).await;
    assert_eq!(page["data"]["transactions"]["totalCount"], 3, "{page}");
    let sps = &page["data"]["stockpilings"];
    assert_eq!(sps["totalCount"], 2);
    assert_eq!(sps["nodes"][0]["status"], "IN_PROGRESS");
    assert_eq!(sps["nodes"][1]["status"], "COMPLETED");
    assert_eq!(
        sps["nodes"][1]["transactions"],
        json!([{ "transactionNumber": "S-1" }, { "transactionNumber": "S-2" }, { "transactionNumber": "S-3" }])
    );
    let filtered = app
        .gql(
            Some(&owner),
            "{ stockpilings(filter: { status: COMPLETED, currency: \"INR\" }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(filtered["data"]["stockpilings"]["totalCount"], 2);

    // Exactly one DEPOSIT postback per completed stockpiling, with the §6 body.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let postbacks = entity::postback::Entity::find()
        .order_by_asc(entity::postback::Column::Id)
        .all(&app.deps.db)
        .await
        .unwrap();
    assert_eq!(postbacks.len(), 2);
    let ann = postbacks
        .iter()
        .find(|p| p.payload.contains("\"ann\""))
        .unwrap();
    assert_eq!(ann.kind, entity::postback::PostbackKind::Deposit);
    assert_eq!(
        ann.status,
        entity::postback::PostbackDeliveryStatus::Pending
    );
    let body: Value = serde_json::from_str(&ann.payload).unwrap();
    assert_eq!(body["type"], "deposit");
    assert_eq!(body["postback_id"], ann.id.to_string());
    assert_eq!(body["amount"], "1200.00");
    assert_eq!(body["currency"], "INR");
    assert_eq!(body["payment_system"], "paytm");
    assert_eq!(body["transactions"].as_array().unwrap().len(), 3);
    assert_eq!(body["transactions"][0]["transaction_number"], "S-1");
    assert_eq!(body["transactions"][0]["order_id"], "order-S-1");
    assert_eq!(body["transactions"][0]["commission"], "0.00");
    let _ = entity::postback::Entity::find()
        .filter(entity::postback::Column::Kind.eq("DEPOSIT"))
        .all(&app.deps.db)
        .await
        .unwrap();
}

#[tokio::test]
async fn minimum_deposits_are_validated_and_owner_only() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    for (m, code, field) in [
        (
            json!([{ "currency": "XXX", "amount": "10" }]),
            "INVALID",
            "currency",
        ),
        (
            json!([{ "currency": "INR", "amount": "-1" }]),
            "INVALID",
            "amount",
        ),
        (
            json!([{ "currency": "INR", "amount": "10.001" }]),
            "INVALID",
            "amount",
        ),
        (
            json!([{ "currency": "JPY", "amount": "10.5" }]),
            "INVALID",
            "amount",
        ),
        (
            json!([{ "currency": "INR", "amount": "1" }, { "currency": "INR", "amount": "2" }]),
            "DUPLICATE",
            "currency",
        ),
    ] {
        let body = app.gql(Some(&owner), SET_MINIMUMS, json!({ "m": m })).await;
        let p = &body["data"]["updateSystemSettings"];
        assert_eq!(p["errors"][0]["code"], code, "{m}: {body}");
        assert_eq!(
            p["errors"][0]["field"].as_array().unwrap().last().unwrap(),
            field
        );
        assert!(p["system"].is_null());
    }
    let body = app
        .gql(
            Some(&owner),
            "{ settings { system { minimumDeposits { currency } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["data"]["settings"]["system"]["minimumDeposits"],
        json!([]),
        "nothing half-written"
    );
    for who in [OPERATOR, VIEWER] {
        let token = app.login(who).await;
        let body = app
            .gql(
                Some(&token),
                SET_MINIMUMS,
                json!({ "m": [{ "currency": "INR", "amount": "5" }] }),
            )
            .await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"));
        let body = app.gql(Some(&token), "{ settings { profile { login } system { timezone delayedAutoActivation postbackSecretHint } } }", json!({})).await;
        assert_eq!(
            body["data"]["settings"]["system"]["timezone"], "Asia/Kolkata",
            "{body}"
        );
        assert_eq!(
            body["data"]["settings"]["system"]["postbackSecretHint"]
                .as_str()
                .unwrap()
                .len(),
            4
        );
    }
}

#[tokio::test]
async fn delayed_activation_waits_for_the_money_and_settles_inside_the_ingest() {
    let app = spawn_app().await;
    let merchant = demo_merchant_id(&app).await;
    // Off: unknown numbers are NOT_FOUND. Only the platform may switch it.
    assert_eq!(
        activate(&app, "LATER-1", "kim").await["outcome"],
        "NOT_FOUND"
    );
    let owner = app.login(OWNER).await;
    let body = app
        .gql(Some(&owner), DELAYED, json!({ "m": merchant, "e": true }))
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
    let body = app
        .gql(
            Some(app.keys.platform.as_str()),
            DELAYED,
            json!({ "m": "999999", "e": true }),
        )
        .await;
    assert_eq!(
        body["data"]["setDelayedAutoActivation"]["errors"][0]["code"],
        "NOT_FOUND"
    );
    let body = app
        .gql(
            Some(app.keys.platform.as_str()),
            DELAYED,
            json!({ "m": merchant, "e": true }),
        )
        .await;
    assert_eq!(
        body["data"]["setDelayedAutoActivation"]["merchant"]["delayedAutoActivation"], true,
        "{body}"
    );

    let first = activate(&app, "LATER-1", "kim").await;
    assert_eq!(first["outcome"], "WAITING");
    let ticket = first["ticket"].as_str().unwrap().to_string();
    let again = activate(&app, "LATER-1", "kim").await;
    assert_eq!(
        again["ticket"],
        ticket.as_str(),
        "the same request keeps its ticket"
    );
    let rival = activate(&app, "LATER-1", "lee").await;
    assert_eq!(rival["outcome"], "REJECTED");

    let q = "query($t: ID!) { activationRequest(ticket: $t) { status transactionNumber paymentSystem { code } settledAt amount currency stockpiling { accumulated completed } expiresAt } }";
    let waiting = app.gql(None, q, json!({ "t": ticket })).await;
    assert_eq!(waiting["data"]["activationRequest"]["status"], "WAITING");
    assert_eq!(
        waiting["data"]["activationRequest"]["expiresAt"],
        "2026-11-24T11:00:00Z"
    );

    app.clock.advance(Duration::from_secs(120));
    let r = ingest(
        &app,
        vec![paytm("LATER-1", "640.00"), paytm("OTHER-1", "5.00")],
    )
    .await;
    assert_eq!(r[0]["outcome"], "CREATED");
    assert_eq!(r[0]["activated"], true);
    assert_eq!(r[0]["transaction"]["status"], "ACTIVATED");
    assert_eq!(r[1]["activated"], false);
    let settled = app.gql(None, q, json!({ "t": ticket })).await;
    let s = &settled["data"]["activationRequest"];
    assert_eq!(s["status"], "ACTIVATED", "{settled}");
    assert_eq!(s["amount"], "640.00");
    assert_eq!(s["settledAt"], "2026-11-24T10:02:00Z");
    assert_eq!(s["stockpiling"]["completed"], true);
    let tx = app.gql(Some(&owner), "{ transactions(filter: { transactionNumber: \"LATER-1\" }) { nodes { label orderId } } }", json!({})).await;
    assert_eq!(
        tx["data"]["transactions"]["nodes"][0],
        json!({ "label": "kim", "orderId": "order-LATER-1" })
    );
    assert!(
        app.gql(None, q, json!({ "t": "act_unknown" })).await["data"]["activationRequest"]
            .is_null()
    );
}

#[tokio::test]
async fn an_expired_request_is_not_matched() {
    let app = spawn_app_with(&[("KASSA_ACTIVATION_TTL", "10m")]).await;
    let merchant = demo_merchant_id(&app).await;
    app.gql(
        Some(app.keys.platform.as_str()),
        DELAYED,
        json!({ "m": merchant, "e": true }),
    )
    .await;
    let first = activate(&app, "SLOW-1", "kim").await;
    let ticket = first["ticket"].as_str().unwrap().to_string();
    app.clock.advance(Duration::from_secs(11 * 60));
    let r = ingest(&app, vec![paytm("SLOW-1", "100.00")]).await;
    assert_eq!(r[0]["activated"], false);
    assert_eq!(r[0]["transaction"]["status"], "NOT_ACTIVATED");
    let q = "query($t: ID!) { activationRequest(ticket: $t) { status } }";
    assert_eq!(
        app.gql(None, q, json!({ "t": ticket })).await["data"]["activationRequest"]["status"],
        "EXPIRED"
    );
    // The payer can still claim it by hand now that it is known.
    assert_eq!(
        activate(&app, "SLOW-1", "kim").await["outcome"],
        "ACTIVATED"
    );
}

#[tokio::test]
async fn plugin_config_shows_the_merchants_payment_systems_and_minimums() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    app.gql(
        Some(&owner),
        SET_MINIMUMS,
        json!({ "m": [{ "currency": "BDT", "amount": "250.5" }] }),
    )
    .await;
    let q = "query($k: String!) { pluginConfig(pluginKey: $k) { merchantName theme afterPaymentAction successUrl paymentSystems { paymentSystem { code currency } minimumDeposit } } }";
    let body = app
        .gql(None, q, json!({ "k": kassa::demo::PLUGIN_KEY }))
        .await;
    let c = &body["data"]["pluginConfig"];
    assert_eq!(c["merchantName"], "Demo Shop");
    assert_eq!(c["theme"], "LIGHT");
    assert_eq!(c["afterPaymentAction"], "SHOW_RESULT");
    let systems = c["paymentSystems"].as_array().unwrap();
    assert_eq!(systems.len(), 7);
    let bkash = systems
        .iter()
        .find(|s| s["paymentSystem"]["code"] == "bkash")
        .unwrap();
    assert_eq!(bkash["minimumDeposit"], "250.50");
    let paytm = systems
        .iter()
        .find(|s| s["paymentSystem"]["code"] == "paytm")
        .unwrap();
    assert!(paytm["minimumDeposit"].is_null());
    let body = app.gql(None, q, json!({ "k": "kpk_unknown" })).await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
}

#[tokio::test]
async fn activation_is_rate_limited_per_client() {
    let app = spawn_app_with(&[("KASSA_ACTIVATION_RATE", "3")]).await;
    for _ in 0..3 {
        assert_eq!(activate(&app, "NONE", "x").await["outcome"], "NOT_FOUND");
    }
    let body = app.gql(None, ACTIVATE, claim("NONE", "x")).await;
    assert_eq!(error_code(&body), Some("RATE_LIMITED"));
}

#[tokio::test]
async fn pay_to_rotates_over_the_merchants_active_wallets_only() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let app = spawn_app().await;
    let demo = entity::merchant::Entity::find()
        .filter(entity::merchant::Column::PluginKey.eq(kassa::demo::PLUGIN_KEY))
        .one(&app.deps.db)
        .await
        .unwrap()
        .unwrap();
    let wallet = |merchant: i64, system: &'static str, identifier: &'static str| {
        let d = app.deps.clone();
        async move {
            kassa::catalog::service::create_wallet(&d, merchant, system, identifier)
                .await
                .unwrap()
        }
    };
    // Two more paytm wallets, one of them disabled (fixture: no API disables a wallet).
    wallet(demo.id, "paytm", "9811111111").await;
    let disabled = wallet(demo.id, "paytm", "9822222222").await;
    entity::wallet::Entity::update_many()
        .col_expr(
            entity::wallet::Column::Active,
            sea_orm::sea_query::Expr::value(false),
        )
        .filter(entity::wallet::Column::Id.eq(disabled.id))
        .exec(&app.deps.db)
        .await
        .unwrap();
    // Another merchant's paytm wallet.
    let other = entity::merchant::Entity::find()
        .filter(entity::merchant::Column::Name.eq("Other Shop"))
        .one(&app.deps.db)
        .await
        .unwrap()
        .unwrap();
    wallet(other.id, "paytm", "9833333333").await;
    let active: Vec<String> = entity::wallet::Entity::find()
        .filter(entity::wallet::Column::MerchantId.eq(demo.id))
        .filter(entity::wallet::Column::PaymentSystem.eq("paytm"))
        .filter(entity::wallet::Column::Active.eq(true))
        .all(&app.deps.db)
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.identifier)
        .collect();
    assert_eq!(active.len(), 2, "{active:?}");
    let q = "query($k: String!) { pluginConfig(pluginKey: $k) { paymentSystems { paymentSystem { code } payTo } } }";
    let mut seen = std::collections::HashSet::new();
    for _ in 0..6 {
        let body = app
            .gql(None, q, json!({ "k": kassa::demo::PLUGIN_KEY }))
            .await;
        let systems = body["data"]["pluginConfig"]["paymentSystems"]
            .as_array()
            .unwrap_or_else(|| panic!("{body}"))
            .clone();
        for s in &systems {
            assert!(
                s["payTo"].is_string(),
                "every listed system names a wallet: {s}"
            );
        }
        let paytm = systems
            .iter()
            .find(|s| s["paymentSystem"]["code"] == "paytm")
            .unwrap();
        let to = paytm["payTo"].as_str().unwrap().to_string();
        assert!(
            active.contains(&to),
            "payTo {to} is not an active wallet of the merchant"
        );
        seen.insert(to);
    }
    assert_eq!(
        seen.len(),
        2,
        "successive requests rotate over both active wallets: {seen:?}"
    );
    // A system whose only wallet is disabled is not offered at all.
    let other_key = other.plugin_key.clone();
    entity::wallet::Entity::update_many()
        .col_expr(
            entity::wallet::Column::Active,
            sea_orm::sea_query::Expr::value(false),
        )
        .filter(entity::wallet::Column::MerchantId.eq(other.id))
        .filter(entity::wallet::Column::PaymentSystem.eq("bkash"))
        .exec(&app.deps.db)
        .await
        .unwrap();
    let body = app.gql(None, q, json!({ "k": other_key })).await;
    let systems = body["data"]["pluginConfig"]["paymentSystems"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(systems.len(), 1, "{body}");
    assert_eq!(systems[0]["paymentSystem"]["code"], "paytm");
    assert_eq!(systems[0]["payTo"], "9833333333");
}
