use crate::support::*;
use serde_json::json;

const SET: &str = "mutation($i: [ExchangeRateInput!]!) { setExchangeRates(input: $i) { rates { currency date usd } errors { code field } } }";
const ON: &str = "query($d: Date) { exchangeRates(date: $d) { currency date usd } }";

#[tokio::test]
async fn rates_are_published_by_the_platform_and_the_latest_on_or_before_a_day_is_in_force() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let body = app
        .gql(
            Some(app.keys.platform.as_str()),
            SET,
            json!({ "i": [
        { "currency": "INR", "date": "2026-11-01", "usd": "0.011900" },
        { "currency": "INR", "date": "2026-11-20", "usd": "0.0120" },
        { "currency": "BDT", "date": "2026-11-10", "usd": "0.00835" },
    ] }),
        )
        .await;
    assert_eq!(
        body["data"]["setExchangeRates"]["errors"],
        json!([]),
        "{body}"
    );
    assert_eq!(
        body["data"]["setExchangeRates"]["rates"][0]["usd"],
        "0.0119"
    );
    let on = |date: &'static str| {
        let app = &app;
        let owner = owner.clone();
        async move {
            app.gql(Some(&owner), ON, json!({ "d": date })).await["data"]["exchangeRates"].clone()
        }
    };
    assert_eq!(
        on("2026-11-15").await,
        json!([
            { "currency": "BDT", "date": "2026-11-10", "usd": "0.00835" },
            { "currency": "INR", "date": "2026-11-01", "usd": "0.0119" },
            { "currency": "USD", "date": "2026-11-15", "usd": "1" },
        ])
    );
    assert_eq!(
        on("2026-11-05").await,
        json!([
            { "currency": "INR", "date": "2026-11-01", "usd": "0.0119" },
            { "currency": "USD", "date": "2026-11-05", "usd": "1" },
        ])
    );
    // Today (the clock's 2026-11-24, in Asia/Kolkata) by default.
    let today = app
        .gql(
            Some(&owner),
            "{ exchangeRates { currency date } }",
            json!({}),
        )
        .await;
    assert!(
        today["data"]["exchangeRates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["currency"] == "INR" && r["date"] == "2026-11-20"),
        "{today}"
    );
    // A later publication for the same day replaces it.
    app.gql(
        Some(app.keys.platform.as_str()),
        SET,
        json!({ "i": [{ "currency": "INR", "date": "2026-11-20", "usd": "0.0121" }] }),
    )
    .await;
    assert_eq!(on("2026-11-21").await[1]["usd"], "0.0121");
}

#[tokio::test]
async fn bad_rates_change_nothing_and_only_the_platform_publishes() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    for (rate, field) in [
        (
            json!({ "currency": "XXX", "date": "2026-11-01", "usd": "1" }),
            "currency",
        ),
        (
            json!({ "currency": "INR", "date": "2026-11-01", "usd": "0" }),
            "usd",
        ),
        (
            json!({ "currency": "INR", "date": "2026-11-01", "usd": "-0.01" }),
            "usd",
        ),
    ] {
        let body = app
            .gql(
                Some(app.keys.platform.as_str()),
                SET,
                json!({ "i": [{ "currency": "BDT", "date": "2026-11-01", "usd": "0.008" }, rate] }),
            )
            .await;
        assert_eq!(
            body["data"]["setExchangeRates"]["errors"][0]["field"],
            json!(["input", "1", field]),
            "{body}"
        );
    }
    let body = app
        .gql(
            Some(app.keys.platform.as_str()),
            SET,
            json!({ "i": [{ "currency": "INR", "date": "2026-13-01", "usd": "1" }] }),
        )
        .await;
    assert!(body["errors"].is_array(), "a bad date is refused: {body}");
    assert_eq!(
        app.gql(Some(&owner), ON, json!({ "d": "2026-11-02" }))
            .await["data"]["exchangeRates"],
        json!([{ "currency": "USD", "date": "2026-11-02", "usd": "1" }]),
        "nothing half-written"
    );
    let body = app
        .gql(
            Some(&owner),
            SET,
            json!({ "i": [{ "currency": "INR", "date": "2026-11-01", "usd": "1" }] }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
}
