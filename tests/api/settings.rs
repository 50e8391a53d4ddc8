use crate::support::*;
use serde_json::{json, Value};

const UPDATE: &str = "mutation($i: UpdateSystemSettingsInput!) { updateSystemSettings(input: $i) { system { timezone afterPaymentAction successUrl failUrl postbackUrl } errors { code field message } } }";
const READ: &str = "{ settings { system { timezone afterPaymentAction successUrl failUrl postbackUrl minimumDeposits { currency amount } } } merchant { timezone } }";

async fn update(app: &TestApp, token: &str, input: Value) -> Value {
    app.gql(Some(token), UPDATE, json!({ "i": input })).await["data"]["updateSystemSettings"]
        .clone()
}

#[tokio::test]
async fn system_settings_round_trip_and_a_left_out_field_stays() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let p = update(&app, &owner, json!({ "timezone": "Asia/Kathmandu", "afterPaymentAction": "REDIRECT", "successUrl": "https://shop.example/ok", "failUrl": "https://shop.example/fail" })).await;
    assert_eq!(p["errors"], json!([]), "{p}");
    let body = app.gql(Some(&owner), READ, json!({})).await;
    let s = &body["data"]["settings"]["system"];
    assert_eq!(s["timezone"], "Asia/Kathmandu");
    assert_eq!(body["data"]["merchant"]["timezone"], "Asia/Kathmandu");
    assert_eq!(s["afterPaymentAction"], "REDIRECT");
    assert_eq!(s["successUrl"], "https://shop.example/ok");
    assert_eq!(s["failUrl"], "https://shop.example/fail");
    // Left out: unchanged. An empty string clears a URL.
    let p = update(&app, &owner, json!({ "failUrl": "" })).await;
    assert_eq!(p["system"]["failUrl"], Value::Null);
    assert_eq!(p["system"]["successUrl"], "https://shop.example/ok");
    assert_eq!(p["system"]["timezone"], "Asia/Kathmandu");
    // The plugin sees it.
    let cfg = app.gql(None, "{ pluginConfig(pluginKey: \"kpk_demo_shop_public_key_0001\") { afterPaymentAction successUrl failUrl } }", json!({})).await;
    assert_eq!(
        cfg["data"]["pluginConfig"],
        json!({ "afterPaymentAction": "REDIRECT", "successUrl": "https://shop.example/ok", "failUrl": null })
    );
}

#[tokio::test]
async fn bad_system_settings_are_refused_field_by_field_and_owner_only() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    for (input, code, field) in [
        (json!({ "timezone": "Mars/Olympus" }), "INVALID", "timezone"),
        (json!({ "timezone": "+05:30" }), "INVALID", "timezone"),
        (
            json!({ "successUrl": "javascript:alert(1)" }),
            "INVALID",
            "successUrl",
        ),
        (json!({ "failUrl": "not a url" }), "INVALID", "failUrl"),
        (
            json!({ "afterPaymentAction": "REDIRECT" }),
            "REQUIRED",
            "successUrl",
        ),
    ] {
        let p = update(&app, &owner, input.clone()).await;
        assert_eq!(p["errors"][0]["code"], code, "{input}: {p}");
        assert_eq!(p["errors"][0]["field"], json!(["input", field]));
        assert!(p["system"].is_null());
    }
    let body = app.gql(Some(&owner), READ, json!({})).await;
    assert_eq!(
        body["data"]["settings"]["system"]["timezone"], "Asia/Kolkata",
        "nothing half-written"
    );
    assert_eq!(
        body["data"]["settings"]["system"]["afterPaymentAction"],
        "SHOW_RESULT"
    );
    for who in [OPERATOR, VIEWER] {
        let token = app.login(who).await;
        let body = app
            .gql(Some(&token), UPDATE, json!({ "i": { "timezone": "UTC" } }))
            .await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"));
    }
}
