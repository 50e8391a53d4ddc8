use crate::support::*;
use crate::transactions::INGEST;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::{Decimal, RoundingStrategy};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;

const DASH: &str = "query($f: DashboardFilter!) { dashboard(filter: $f) { displayCurrency timezone from to
  transactions { ...S } withdrawals { ...S } } }
  fragment S on DashboardSection { period { amount count } today { amount count } total { date amount count }
  byPaymentSystem { paymentSystem { code } points { date amount count } }
  byArrivalCurrency { currency paymentSystem { code } points { date amount count } } }";
const SET_RATES: &str =
    "mutation($i: [ExchangeRateInput!]!) { setExchangeRates(input: $i) { errors { code field } } }";
const SETTINGS: &str = "mutation($i: UpdateSystemSettingsInput!) { updateSystemSettings(input: $i) { errors { code field message } } }";
const ACTIVATE: &str = "mutation($i: ActivateDepositInput!) { activateDeposit(input: $i) { outcome errors { code } } }";

/// (payment system, the demo wallet, currency, country)
const SYSTEMS: [(&str, &str, &str, &str); 3] = [
    ("paytm", "9876500001", "INR", "IN"),
    ("bkash", "01711000001", "BDT", "BD"),
    ("easypaisa", "03001000001", "PKR", "PK"),
];

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

struct Ctx<'a> {
    app: &'a TestApp,
    owner: String,
    n: usize,
}

impl<'a> Ctx<'a> {
    async fn new(app: &'a TestApp) -> Ctx<'a> {
        let owner = app.login(OWNER).await;
        Ctx { app, owner, n: 0 }
    }

    /// Ingests one transaction made at `created`; returns its id.
    async fn ingest(
        &mut self,
        system: usize,
        direction: &str,
        amount: &str,
        created: DateTime<Utc>,
    ) -> (String, String) {
        let (ps, wallet, currency, _) = SYSTEMS[system];
        self.n += 1;
        let number = format!("D-{}", self.n);
        let body = self
            .app
            .gql(
                Some(self.app.keys.ingest.as_str()),
                INGEST,
                json!({ "i": [{ "paymentSystem": ps, "walletIdentifier": wallet, "direction": direction,
                "amount": amount, "currency": currency, "transactionNumber": number,
                "occurredAt": created.to_rfc3339() }] }),
            )
            .await;
        let r = &body["data"]["ingestTransactions"]["results"][0];
        assert_eq!(r["outcome"], "CREATED", "{body}");
        (r["transaction"]["id"].as_str().unwrap().to_string(), number)
    }

    /// Activates transaction `number` of `system` at `when` for `label`.
    async fn activate(&self, system: usize, number: &str, label: &str, when: DateTime<Utc>) {
        self.app.clock.set(when);
        let body = self
            .app
            .gql(
                None,
                ACTIVATE,
                json!({ "i": { "pluginKey": kassa::demo::PLUGIN_KEY, "paymentSystem": SYSTEMS[system].0,
                "transactionNumber": number, "label": label } }),
            )
            .await;
        assert_eq!(
            body["data"]["activateDeposit"]["outcome"], "ACTIVATED",
            "{body}"
        );
    }

    /// Ingests and activates a deposit in one go.
    async fn deposit(
        &mut self,
        system: usize,
        amount: &str,
        created: DateTime<Utc>,
        activated: DateTime<Utc>,
    ) -> String {
        let (id, number) = self.ingest(system, "INCOMING", amount, created).await;
        self.activate(system, &number, "payer", activated).await;
        id
    }

    async fn settings(&self, input: Value) {
        let body = self
            .app
            .gql(Some(&self.owner), SETTINGS, json!({ "i": input }))
            .await;
        assert_eq!(
            body["data"]["updateSystemSettings"]["errors"],
            json!([]),
            "{body}"
        );
    }

    async fn rates(&self, rates: Value) {
        let body = self
            .app
            .gql(
                Some(self.app.keys.platform.as_str()),
                SET_RATES,
                json!({ "i": rates }),
            )
            .await;
        assert_eq!(
            body["data"]["setExchangeRates"]["errors"],
            json!([]),
            "{body}"
        );
    }

    async fn dashboard(&self, filter: Value) -> Value {
        self.app
            .gql(Some(&self.owner), DASH, json!({ "f": filter }))
            .await
    }

    async fn board(&self, filter: Value) -> Value {
        let body = self.dashboard(filter).await;
        assert!(body["errors"].is_null(), "{body}");
        body["data"]["dashboard"].clone()
    }
}

fn line(section: &Value) -> Vec<(String, String, i64)> {
    section["total"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["date"].as_str().unwrap().to_string(),
                p["amount"].as_str().unwrap().to_string(),
                p["count"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn point(d: &str, a: &str, c: i64) -> (String, String, i64) {
    (d.to_string(), a.to_string(), c)
}

#[tokio::test]
async fn days_are_local_days_in_half_and_three_quarter_hour_zones() {
    let app = spawn_app().await;
    let mut c = Ctx::new(&app).await;
    // Asia/Kolkata (+05:30): 23:59 on the 20th and 00:01 on the 21st.
    c.deposit(
        0,
        "100.00",
        at("2026-11-20T10:00:00Z"),
        at("2026-11-20T18:29:00Z"),
    )
    .await;
    c.deposit(
        0,
        "200.00",
        at("2026-11-20T10:00:00Z"),
        at("2026-11-20T18:31:00Z"),
    )
    .await;
    let f = json!({ "from": "2026-11-20", "to": "2026-11-21", "displayCurrency": "INR" });
    let b = c.board(f.clone()).await;
    assert_eq!(b["timezone"], "Asia/Kolkata");
    assert_eq!(
        line(&b["transactions"]),
        vec![
            point("2026-11-20", "100.00", 1),
            point("2026-11-21", "200.00", 1)
        ]
    );
    assert_eq!(
        b["transactions"]["period"],
        json!({ "amount": "300.00", "count": 2 })
    );
    // Asia/Kathmandu (+05:45): 23:59 on the 22nd and 00:01 on the 23rd.
    c.settings(json!({ "timezone": "Asia/Kathmandu" })).await;
    c.deposit(
        0,
        "10.00",
        at("2026-11-22T10:00:00Z"),
        at("2026-11-22T18:14:00Z"),
    )
    .await;
    c.deposit(
        0,
        "20.00",
        at("2026-11-22T10:00:00Z"),
        at("2026-11-22T18:16:00Z"),
    )
    .await;
    let b = c
        .board(json!({ "from": "2026-11-20", "to": "2026-11-23", "displayCurrency": "INR" }))
        .await;
    assert_eq!(b["timezone"], "Asia/Kathmandu");
    // Read in Kathmandu, 18:29 and 18:31 UTC are 00:14 and 00:16 on the 21st.
    assert_eq!(
        line(&b["transactions"]),
        vec![
            point("2026-11-20", "0.00", 0),
            point("2026-11-21", "300.00", 2),
            point("2026-11-22", "10.00", 1),
            point("2026-11-23", "20.00", 1),
        ]
    );
}

#[tokio::test]
async fn a_daylight_saving_day_has_its_own_length() {
    let app = spawn_app().await;
    let mut c = Ctx::new(&app).await;
    c.settings(json!({ "timezone": "Europe/Berlin" })).await;
    // 2026-10-25 is 25 hours long in Berlin: 00:30 CEST is 22:30 UTC the day
    // before, 23:30 CET is 22:30 UTC that day; 00:10 on the 26th is 23:10 UTC.
    let created = at("2026-10-20T00:00:00Z");
    c.deposit(0, "1.00", created, at("2026-10-24T22:30:00Z"))
        .await;
    c.deposit(0, "2.00", created, at("2026-10-25T22:30:00Z"))
        .await;
    c.deposit(0, "4.00", created, at("2026-10-25T23:10:00Z"))
        .await;
    // 2026-03-29 is 23 hours long: 23:50 CEST is 21:50 UTC; 00:10 CET that
    // day is 23:10 UTC the day before.
    c.deposit(0, "8.00", created, at("2026-03-29T21:50:00Z"))
        .await;
    c.deposit(0, "16.00", created, at("2026-03-28T23:10:00Z"))
        .await;
    c.deposit(0, "32.00", created, at("2026-03-28T22:50:00Z"))
        .await;
    let b = c
        .board(json!({ "from": "2026-10-24", "to": "2026-10-26", "displayCurrency": "INR" }))
        .await;
    assert_eq!(
        line(&b["transactions"]),
        vec![
            point("2026-10-24", "0.00", 0),
            point("2026-10-25", "3.00", 2),
            point("2026-10-26", "4.00", 1),
        ]
    );
    let b = c
        .board(json!({ "from": "2026-03-28", "to": "2026-03-30", "displayCurrency": "INR" }))
        .await;
    assert_eq!(
        line(&b["transactions"]),
        vec![
            point("2026-03-28", "32.00", 1),
            point("2026-03-29", "24.00", 2),
            point("2026-03-30", "0.00", 0),
        ]
    );
}

#[tokio::test]
async fn amounts_are_converted_with_the_rate_of_each_day_and_rounded_once_a_day() {
    let app = spawn_app().await;
    let mut c = Ctx::new(&app).await;
    c.rates(json!([
        { "currency": "INR", "date": "2026-11-01", "usd": "0.012" },
        { "currency": "INR", "date": "2026-11-03", "usd": "0.0125" },
        { "currency": "JPY", "date": "2026-11-01", "usd": "0.0065" },
        { "currency": "BDT", "date": "2026-11-02", "usd": "0.0083" },
    ]))
    .await;
    // Noon in Kolkata on the 1st, 2nd and 3rd.
    for (day, amounts) in [
        ("01", ["100.01", "0.33"]),
        ("02", ["250.00", "0.01"]),
        ("03", ["999.99", "1.11"]),
    ] {
        for a in amounts {
            let t = at(&format!("2026-11-{day}T06:30:00Z"));
            c.deposit(0, a, t, t).await;
        }
    }
    let bdt = at("2026-11-02T06:30:00Z");
    c.deposit(1, "500.00", bdt, bdt).await;
    let f = |display: &str| json!({ "from": "2026-11-01", "to": "2026-11-03", "displayCurrency": display });

    // USD: INR 100.34 × 0.012 = 1.20408 → 1.20; day 2: 250.01 × 0.012 = 3.00012
    // plus BDT 500 × 0.0083 = 4.15 → 7.15; day 3: 1001.10 × 0.0125 = 12.51375 → 12.51.
    let b = c.board(f("USD")).await;
    assert_eq!(
        line(&b["transactions"]),
        vec![
            point("2026-11-01", "1.20", 2),
            point("2026-11-02", "7.15", 3),
            point("2026-11-03", "12.51", 2)
        ]
    );
    assert_eq!(
        b["transactions"]["period"],
        json!({ "amount": "20.86", "count": 7 })
    );
    let ps: BTreeMap<String, Value> = b["transactions"]["byPaymentSystem"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["paymentSystem"]["code"].as_str().unwrap().to_string(),
                s["points"].clone(),
            )
        })
        .collect();
    assert_eq!(ps["bkash"][1]["amount"], "4.15");
    assert_eq!(ps["paytm"][2]["amount"], "12.51");
    // Show details: the arrival currency, unconverted.
    let inr = b["transactions"]["byArrivalCurrency"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["currency"] == "INR")
        .unwrap()
        .clone();
    assert_eq!(inr["points"][2]["amount"], "1001.10");

    // INR: BDT 500 × 0.0083 / 0.012 = 345.8333… → 345.83, plus 250.01.
    let b = c.board(f("INR")).await;
    assert_eq!(
        line(&b["transactions"]),
        vec![
            point("2026-11-01", "100.34", 2),
            point("2026-11-02", "595.84", 3),
            point("2026-11-03", "1001.10", 2)
        ]
    );

    // JPY (no minor units): 100.34 × 0.012 / 0.0065 = 185.24… → 185;
    // day 2: (250.01 × 0.012 + 4.15) / 0.0065 = 1100.02 → 1100;
    // day 3: 1001.10 × 0.0125 / 0.0065 = 1925.19… → 1925.
    let b = c.board(f("JPY")).await;
    assert_eq!(
        line(&b["transactions"]),
        vec![
            point("2026-11-01", "185", 2),
            point("2026-11-02", "1100", 3),
            point("2026-11-03", "1925", 2)
        ]
    );
    assert_eq!(
        b["transactions"]["period"],
        json!({ "amount": "3210", "count": 7 })
    );

    // No BDT rate before the 2nd: its amount is left out, NO_RATE says so,
    // and the rest is still there.
    c.deposit(
        1,
        "100.00",
        at("2026-11-01T06:30:00Z"),
        at("2026-11-01T07:00:00Z"),
    )
    .await;
    let body = c.dashboard(f("USD")).await;
    assert_eq!(error_code(&body), Some("NO_RATE"), "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["currencies"],
        json!(["BDT"])
    );
    assert_eq!(body["errors"][0]["path"], json!(["dashboard"]));
    let b = &body["data"]["dashboard"];
    assert_eq!(line(&b["transactions"])[0], point("2026-11-01", "1.20", 3));
}

#[tokio::test]
async fn only_activated_normal_incoming_transactions_count_and_each_filter_narrows() {
    let app = spawn_app().await;
    let mut c = Ctx::new(&app).await;
    c.rates(json!([
        { "currency": "INR", "date": "2026-01-01", "usd": "0.01" },
        { "currency": "BDT", "date": "2026-01-01", "usd": "0.01" },
        { "currency": "PKR", "date": "2026-01-01", "usd": "0.01" },
    ]))
    .await;
    c.settings(
        json!({ "timezone": "UTC", "minimumDeposits": [{ "currency": "PKR", "amount": "1000" }] }),
    )
    .await;
    let created = at("2026-11-10T12:00:00Z");
    let activated = at("2026-11-12T12:00:00Z");
    c.deposit(0, "100.00", created, activated).await; // paytm, IN
    c.deposit(1, "200.00", created, activated).await; // bkash, BD
                                                      // easypaisa below the PKR minimum: its stockpiling stays in progress
    c.deposit(2, "400.00", created, activated).await;
    // left out: not activated, outgoing, SCAM
    c.ingest(0, "INCOMING", "1000.00", created).await;
    c.ingest(0, "OUTGOING", "2000.00", created).await;
    let scam = c.deposit(0, "4000.00", created, activated).await;
    let marked = app
        .gql(
            Some(app.keys.platform.as_str()),
            "mutation($id: ID!) { setTransactionOriginality(id: $id, originality: SCAM) { errors { code } } }",
            json!({ "id": scam }),
        )
        .await;
    assert_eq!(
        marked["data"]["setTransactionOriginality"]["errors"],
        json!([])
    );
    app.clock.set(at("2026-11-24T10:00:00Z"));

    let base = json!({ "from": "2026-11-09", "to": "2026-11-13", "displayCurrency": "USD" });
    let with = |extra: Value| {
        let mut f = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            f[k] = v.clone();
        }
        f
    };
    let period = |b: &Value| b["transactions"]["period"].clone();
    let p = |amount: &str, count: i64| json!({ "amount": amount, "count": count });

    let b = c.board(base.clone()).await;
    assert_eq!(period(&b), p("7.00", 3));
    assert_eq!(line(&b["transactions"])[3], point("2026-11-12", "7.00", 3));
    assert_eq!(
        c.board(with(json!({ "currencies": ["BDT"] }))).await["transactions"]["period"],
        p("2.00", 1)
    );
    assert_eq!(
        c.board(with(json!({ "countries": ["IN", "PK"] }))).await["transactions"]["period"],
        p("5.00", 2)
    );
    assert_eq!(
        c.board(with(json!({ "paymentSystems": ["paytm"] }))).await["transactions"]["period"],
        p("1.00", 1)
    );
    assert_eq!(
        c.board(with(json!({ "completedStockpilingOnly": true })))
            .await["transactions"]["period"],
        p("3.00", 2)
    );
    // By creation date: the same rows, on the 10th.
    let b = c.board(with(json!({ "dateKind": "CREATION" }))).await;
    assert_eq!(line(&b["transactions"])[1], point("2026-11-10", "7.00", 3));
    // By stockpiling end: only the completed ones, on the day they completed.
    let b = c
        .board(with(json!({ "dateKind": "STOCKPILING_END" })))
        .await;
    assert_eq!(period(&b), p("3.00", 2));
    // The SCAM mark cleared again: it counts.
    app.gql(
        Some(app.keys.platform.as_str()),
        "mutation($id: ID!) { setTransactionOriginality(id: $id, originality: NORMAL) { errors { code } } }",
        json!({ "id": scam }),
    )
    .await;
    assert_eq!(
        c.board(base.clone()).await["transactions"]["period"],
        p("47.00", 4)
    );
    // The second payment of the easypaisa payer completes the stockpiling:
    // both move to completed and gain a stockpiling-end day (the 13th).
    let (_, n) = c.ingest(2, "INCOMING", "600.00", created).await;
    c.activate(2, &n, "payer", at("2026-11-13T08:00:00Z")).await;
    app.clock.set(at("2026-11-24T10:00:00Z"));
    let b = c
        .board(with(
            json!({ "dateKind": "STOCKPILING_END", "paymentSystems": ["easypaisa"] }),
        ))
        .await;
    assert_eq!(line(&b["transactions"])[4], point("2026-11-13", "10.00", 2));
    assert_eq!(
        c.board(with(json!({ "completedStockpilingOnly": true })))
            .await["transactions"]["period"],
        p("53.00", 5)
    );

    // Another merchant sees none of it.
    let other = app.login(OTHER_OWNER).await;
    let body = app.gql(Some(&other), DASH, json!({ "f": base })).await;
    assert_eq!(
        body["data"]["dashboard"]["transactions"]["period"],
        p("0.00", 0),
        "{body}"
    );
}

#[tokio::test]
async fn approved_withdrawals_are_counted_by_their_processing_day() {
    let app = spawn_app().await;
    let mut c = Ctx::new(&app).await;
    c.settings(json!({ "timezone": "UTC" })).await;
    let t = at("2026-11-01T12:00:00Z");
    c.deposit(0, "5000.00", t, t).await;
    app.clock.set(at("2026-11-02T12:00:00Z"));
    let operator = app.login(OPERATOR).await;
    let mut ids = Vec::new();
    for amount in ["100.00", "200.00", "400.00"] {
        let body = app
            .gql(
                Some(&operator),
                "mutation($i: CreateWithdrawalInput!) { createWithdrawal(input: $i) { withdrawal { id } errors { code } } }",
                json!({ "i": { "paymentSystem": "paytm", "amount": amount, "recipient": "9876543210" } }),
            )
            .await;
        ids.push(
            body["data"]["createWithdrawal"]["withdrawal"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{body}"))
                .to_string(),
        );
    }
    let decide = |id: String, approve: bool| {
        let app = &app;
        async move {
            app.clock.set(at("2026-11-04T12:00:00Z"));
            let status = if approve { "APPROVED" } else { "REJECTED" };
            let body = app
                .gql(
                    Some(app.keys.platform.as_str()),
                    "mutation($i: SetWithdrawalStatusInput!) { setWithdrawalStatus(input: $i) { errors { code } } }",
                    json!({ "i": { "id": id, "status": status } }),
                )
                .await;
            assert_eq!(
                body["data"]["setWithdrawalStatus"]["errors"],
                json!([]),
                "{body}"
            );
        }
    };
    decide(ids[0].clone(), true).await;
    decide(ids[1].clone(), false).await;
    // ids[2] stays NEW
    let f = json!({ "from": "2026-11-01", "to": "2026-11-05", "displayCurrency": "INR" });
    let b = c.board(f.clone()).await;
    assert_eq!(
        b["withdrawals"]["period"],
        json!({ "amount": "100.00", "count": 1 })
    );
    assert_eq!(line(&b["withdrawals"])[3], point("2026-11-04", "100.00", 1));
    let mut by_creation = f.clone();
    by_creation["dateKind"] = json!("CREATION");
    let b = c.board(by_creation).await;
    assert_eq!(line(&b["withdrawals"])[1], point("2026-11-02", "100.00", 1));
    // Today is the 24th; nothing today.
    assert_eq!(
        b["withdrawals"]["today"],
        json!({ "amount": "0.00", "count": 0 })
    );
}

#[tokio::test]
async fn bad_filters_are_invalid_and_name_their_field() {
    let app = spawn_app().await;
    let c = Ctx::new(&app).await;
    let cases = [
        (
            json!({ "from": "2026-11-10", "to": "2026-11-09" }),
            json!(["filter", "to"]),
        ),
        (
            json!({ "from": "2025-01-01", "to": "2026-01-03" }),
            json!(["filter", "to"]),
        ),
        (
            json!({ "from": "2026-11-01", "to": "2026-11-09", "displayCurrency": "XXX" }),
            json!(["filter", "displayCurrency"]),
        ),
        (
            json!({ "from": "2026-11-01", "to": "2026-11-09", "currencies": ["INR", "ABC"] }),
            json!(["filter", "currencies", "1"]),
        ),
        (
            json!({ "from": "2026-11-01", "to": "2026-11-09", "countries": ["ZZ"] }),
            json!(["filter", "countries", "0"]),
        ),
        (
            json!({ "from": "2026-11-01", "to": "2026-11-09", "paymentSystems": ["venmo"] }),
            json!(["filter", "paymentSystems", "0"]),
        ),
    ];
    for (filter, field) in cases {
        let body = c.dashboard(filter.clone()).await;
        assert_eq!(error_code(&body), Some("INVALID"), "{filter} {body}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
        assert!(body["data"].is_null(), "{body}");
    }
    // 366 days after from is still one range.
    let b = c
        .board(json!({ "from": "2025-11-23", "to": "2026-11-24" }))
        .await;
    assert_eq!(b["transactions"]["total"].as_array().unwrap().len(), 367);
    // Signed out: nothing.
    let body = app
        .gql(
            None,
            DASH,
            json!({ "f": { "from": "2026-11-01", "to": "2026-11-02" } }),
        )
        .await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
}

// ───────────────────── the property: buckets = brute force ─────────────────────

/// The published rates, by currency, sorted by date.
type Rates = HashMap<String, Vec<(NaiveDate, Decimal)>>;

fn rate_on(rates: &Rates, c: &str, day: NaiveDate) -> Option<Decimal> {
    let r = rates
        .get(c)
        .and_then(|l| l.iter().rev().find(|(d, _)| *d <= day).map(|x| x.1));
    r.or_else(|| (c == "USD").then_some(Decimal::ONE))
}

fn units(c: &str) -> u32 {
    match c {
        "JPY" => 0,
        "KWD" => 3,
        _ => 2,
    }
}

/// One counted row: (local date, payment system, currency, country, minor units).
type Counted = (NaiveDate, String, String, String, i64);

/// The dashboard computed straight from the raw rows.
#[allow(clippy::too_many_arguments)]
fn brute_section(
    rows: &[Counted],
    today_rows: &[Counted],
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
    display: &str,
    rates: &Rates,
    named: &Option<Vec<String>>,
    missing: &mut BTreeSet<String>,
) -> Value {
    let conv = |minor: i64, c: &str, day: NaiveDate, missing: &mut BTreeSet<String>| -> Decimal {
        let amount = Decimal::new(minor, units(c));
        if c == display {
            return amount;
        }
        match (rate_on(rates, c, day), rate_on(rates, display, day)) {
            (Some(a), Some(b)) => amount * a / b,
            (None, _) => {
                missing.insert(c.to_string());
                Decimal::ZERO
            }
            (_, None) => {
                missing.insert(display.to_string());
                Decimal::ZERO
            }
        }
    };
    let round = |x: Decimal| {
        let mut r = x.round_dp_with_strategy(units(display), RoundingStrategy::MidpointNearestEven);
        r.rescale(units(display));
        r.to_string()
    };
    let days: Vec<NaiveDate> = from.iter_days().take_while(|d| *d <= to).collect();
    // (day, ps, currency) → minor, count
    let mut sums: BTreeMap<(NaiveDate, String, String), (i64, i64)> = BTreeMap::new();
    for (day, ps, c, _, minor) in rows {
        let e = sums.entry((*day, ps.clone(), c.clone())).or_default();
        e.0 += minor;
        e.1 += 1;
    }
    let mut total = Vec::new();
    let mut period = (Decimal::ZERO, 0);
    // a series for each system with data, and for each the filter names
    let systems: BTreeSet<String> = rows
        .iter()
        .map(|r| r.1.clone())
        .chain(named.iter().flatten().cloned())
        .collect();
    let mut by_ps: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for day in &days {
        let mut all = (Decimal::ZERO, 0i64);
        for ps in &systems {
            let mut one = (Decimal::ZERO, 0i64);
            for ((d, p, c), (minor, n)) in &sums {
                if d == day && p == ps {
                    one.0 += conv(*minor, c, *day, missing);
                    one.1 += n;
                }
            }
            all.0 += one.0;
            all.1 += one.1;
            by_ps
                .entry(ps.clone())
                .or_default()
                .push(json!({ "date": day.to_string(), "amount": round(one.0), "count": one.1 }));
        }
        let rounded = round(all.0);
        period.0 += Decimal::from_str(&rounded).unwrap();
        period.1 += all.1;
        total.push(json!({ "date": day.to_string(), "amount": rounded, "count": all.1 }));
    }
    let mut by_cur: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    for (_, ps, c, _, _) in rows {
        by_cur.entry((c.clone(), ps.clone())).or_insert_with(|| {
            days.iter()
                .map(|day| {
                    let (minor, n) = sums.get(&(*day, ps.clone(), c.clone())).copied().unwrap_or_default();
                    json!({ "date": day.to_string(), "amount": Decimal::new(minor, units(c)).to_string(), "count": n })
                })
                .collect()
        });
    }
    let mut today_sum = (Decimal::ZERO, 0);
    for (_, _, c, _, minor) in today_rows {
        today_sum.0 += conv(*minor, c, today, missing);
        today_sum.1 += 1;
    }
    let mut period_amount = period.0;
    period_amount.rescale(units(display));
    json!({
        "period": { "amount": period_amount.to_string(), "count": period.1 },
        "today": { "amount": round(today_sum.0), "count": today_sum.1 },
        "total": total,
        "byPaymentSystem": by_ps.into_iter().map(|(k, v)| (k, json!(v))).collect::<BTreeMap<_, _>>(),
        "byArrivalCurrency": by_cur.into_iter().map(|((c, p), v)| (format!("{c}/{p}"), json!(v))).collect::<BTreeMap<_, _>>(),
    })
}

/// The API's section in the brute force's shape (series keyed, catalogue order aside).
fn keyed(section: &Value) -> Value {
    let by_ps: BTreeMap<String, Value> = section["byPaymentSystem"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["paymentSystem"]["code"].as_str().unwrap().to_string(),
                s["points"].clone(),
            )
        })
        .collect();
    let by_cur: BTreeMap<String, Value> = section["byArrivalCurrency"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                format!(
                    "{}/{}",
                    s["currency"].as_str().unwrap(),
                    s["paymentSystem"]["code"].as_str().unwrap()
                ),
                s["points"].clone(),
            )
        })
        .collect();
    json!({ "period": section["period"], "today": section["today"], "total": section["total"],
            "byPaymentSystem": by_ps, "byArrivalCurrency": by_cur })
}

#[tokio::test]
async fn the_buckets_agree_with_a_brute_force_count_for_random_data_zones_rates_and_filters() {
    let app = spawn_app().await;
    let mut c = Ctx::new(&app).await;
    let seed: u64 = std::env::var("KASSA_PROPTEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261124);
    let mut rng = StdRng::seed_from_u64(seed);
    let now = at("2026-11-24T10:00:00Z");
    let start = at("2026-10-20T00:00:00Z");
    let span = (now - start).num_seconds();
    c.settings(json!({ "minimumDeposits": [{ "currency": "INR", "amount": "500" }, { "currency": "BDT", "amount": "300" }] }))
        .await;

    // Rates: a few per currency; PKR only from November 5th (missing before).
    let mut rates: Rates = HashMap::new();
    let mut published = Vec::new();
    for (cur, first) in [
        ("INR", 19),
        ("BDT", 19),
        ("PKR", 65),
        ("JPY", 19),
        ("USD", 25),
    ] {
        for k in 0..4 {
            let day =
                NaiveDate::from_ymd_opt(2026, 9, 1).unwrap() + chrono::Days::new(first + k * 9);
            let usd = Decimal::new(rng.gen_range(50..150), 4);
            let usd = if cur == "USD" { Decimal::ONE } else { usd };
            rates.entry(cur.to_string()).or_default().push((day, usd));
            published
                .push(json!({ "currency": cur, "date": day.to_string(), "usd": usd.to_string() }));
        }
    }
    c.rates(json!(published)).await;

    // Transactions: random times, amounts, payers; most activated later.
    let mut activations = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..70 {
        let system = rng.gen_range(0..SYSTEMS.len());
        let created = start + chrono::Duration::seconds(rng.gen_range(0..span));
        let amount = Decimal::new(rng.gen_range(100..90_000), 2).to_string();
        let direction = if rng.gen_bool(0.1) {
            "OUTGOING"
        } else {
            "INCOMING"
        };
        let (id, number) = c.ingest(system, direction, &amount, created).await;
        if direction == "INCOMING" && rng.gen_bool(0.75) {
            let later = created + chrono::Duration::seconds(rng.gen_range(0..3 * 86_400));
            activations.push((
                later.min(now),
                system,
                number,
                format!("payer-{}", rng.gen_range(0..6)),
                id.clone(),
            ));
        }
        ids.push(id);
    }
    activations.sort_by_key(|a| a.0);
    for (when, system, number, label, _) in &activations {
        c.activate(*system, number, label, *when).await;
    }
    app.clock.set(now);
    for (_, _, _, _, id) in activations.iter().filter(|_| rng.gen_bool(0.12)) {
        app.gql(
            Some(app.keys.platform.as_str()),
            "mutation($id: ID!) { setTransactionOriginality(id: $id, originality: SCAM) { errors { code } } }",
            json!({ "id": id }),
        )
        .await;
    }
    // Withdrawals from the INR balance, some approved on random days.
    for k in 0..6 {
        app.clock
            .set(start + chrono::Duration::seconds(rng.gen_range(span / 2..span)));
        let operator = app.login(OPERATOR).await;
        let body = app
            .gql(
                Some(&operator),
                "mutation($i: CreateWithdrawalInput!) { createWithdrawal(input: $i) { withdrawal { id } errors { code } } }",
                json!({ "i": { "paymentSystem": "paytm", "amount": format!("{}.25", 5 + k), "recipient": "9876543210" } }),
            )
            .await;
        if let Some(id) = body["data"]["createWithdrawal"]["withdrawal"]["id"].as_str() {
            if k % 3 != 2 {
                app.clock
                    .advance(std::time::Duration::from_secs(rng.gen_range(60..200_000)));
                let status = if k % 3 == 0 { "APPROVED" } else { "REJECTED" };
                app.gql(
                    Some(app.keys.platform.as_str()),
                    "mutation($i: SetWithdrawalStatusInput!) { setWithdrawalStatus(input: $i) { errors { code } } }",
                    json!({ "i": { "id": id, "status": status } }),
                )
                .await;
            }
        }
    }
    app.clock.set(now);

    let merchant_id: i64 = app
        .gql(Some(&c.owner), "{ merchant { id } }", json!({}))
        .await["data"]["merchant"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let db = &app.deps.db;
    let txs = entity::transaction::Entity::find()
        .filter(entity::transaction::Column::MerchantId.eq(merchant_id))
        .all(db)
        .await
        .unwrap();
    let sps: HashMap<i64, entity::stockpiling::Model> = entity::stockpiling::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let ws = entity::withdrawal::Entity::find()
        .filter(entity::withdrawal::Column::MerchantId.eq(merchant_id))
        .all(db)
        .await
        .unwrap();
    assert!(txs.iter().any(|t| t
        .stockpiling_id
        .is_some_and(|s| sps[&s].completed_at.is_some())));
    assert!(txs.iter().any(|t| t
        .stockpiling_id
        .is_some_and(|s| sps[&s].completed_at.is_none())));
    assert!(ws
        .iter()
        .any(|w| w.status == entity::withdrawal::WithdrawalStatus::Approved));

    let zones = [
        "Asia/Kolkata",
        "Asia/Kathmandu",
        "Europe/Berlin",
        "America/New_York",
        "UTC",
        "Pacific/Chatham",
    ];
    let displays = ["USD", "INR", "JPY", "BDT"];
    let kinds = ["ACTIVATION", "CREATION", "STOCKPILING_END"];
    let mut saw_missing = false;
    for round in 0..14 {
        let zone = zones[round % zones.len()];
        c.settings(json!({ "timezone": zone })).await;
        let tz: Tz = zone.parse().unwrap();
        let from = NaiveDate::from_ymd_opt(2026, 10, 15).unwrap()
            + chrono::Days::new(rng.gen_range(0..20));
        let to = from + chrono::Days::new(rng.gen_range(0..30));
        let kind = kinds[rng.gen_range(0..kinds.len())];
        let display = displays[rng.gen_range(0..displays.len())];
        let completed_only = rng.gen_bool(0.3);
        let pick = |rng: &mut StdRng, all: &[&str]| -> Option<Vec<String>> {
            rng.gen_bool(0.3).then(|| {
                all.iter()
                    .filter(|_| rng.gen_bool(0.5))
                    .map(|s| s.to_string())
                    .collect()
            })
        };
        let currencies = pick(&mut rng, &["INR", "BDT", "PKR"]);
        let countries = pick(&mut rng, &["IN", "BD", "PK"]);
        let systems = pick(&mut rng, &["paytm", "bkash", "easypaisa"]);
        let mut filter = json!({ "from": from.to_string(), "to": to.to_string(), "dateKind": kind,
            "displayCurrency": display, "completedStockpilingOnly": completed_only });
        let keep = |v: &str, list: &Option<Vec<String>>| {
            list.as_ref().is_none_or(|l| l.iter().any(|x| x == v))
        };
        if let Some(l) = &currencies {
            filter["currencies"] = json!(l);
        }
        if let Some(l) = &countries {
            filter["countries"] = json!(l);
        }
        if let Some(l) = &systems {
            filter["paymentSystems"] = json!(l);
        }

        let local = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
        let today = local(now);
        let mut t_rows: Vec<Counted> = Vec::new();
        for t in &txs {
            if t.direction != entity::transaction::Direction::Incoming
                || t.originality != entity::transaction::Originality::Normal
                || t.activated_at.is_none()
            {
                continue;
            }
            let sp = t.stockpiling_id.map(|s| &sps[&s]);
            let done = sp.and_then(|s| s.completed_at);
            if completed_only && done.is_none() {
                continue;
            }
            let when = match kind {
                "ACTIVATION" => t.activated_at,
                "CREATION" => Some(t.created_at),
                _ => done,
            };
            let Some(when) = when else { continue };
            let country = SYSTEMS.iter().find(|s| s.0 == t.payment_system).unwrap().3;
            if keep(&t.currency, &currencies)
                && keep(country, &countries)
                && keep(&t.payment_system, &systems)
            {
                t_rows.push((
                    local(when),
                    t.payment_system.clone(),
                    t.currency.clone(),
                    country.to_string(),
                    t.amount_minor,
                ));
            }
        }
        let mut w_rows: Vec<Counted> = Vec::new();
        for w in ws
            .iter()
            .filter(|w| w.status == entity::withdrawal::WithdrawalStatus::Approved)
        {
            let when = if kind == "CREATION" {
                w.created_at
            } else {
                w.processed_at.unwrap()
            };
            if keep(&w.currency, &currencies)
                && keep("IN", &countries)
                && keep(&w.payment_system, &systems)
            {
                w_rows.push((
                    local(when),
                    w.payment_system.clone(),
                    w.currency.clone(),
                    "IN".into(),
                    w.amount_minor,
                ));
            }
        }
        let mut missing = BTreeSet::new();
        let split = |rows: &[Counted]| -> (Vec<Counted>, Vec<Counted>) {
            (
                rows.iter()
                    .filter(|r| r.0 >= from && r.0 <= to)
                    .cloned()
                    .collect(),
                rows.iter().filter(|r| r.0 == today).cloned().collect(),
            )
        };
        let (tp, tt) = split(&t_rows);
        let (wp, wt) = split(&w_rows);
        let expect_t = brute_section(
            &tp,
            &tt,
            from,
            to,
            today,
            display,
            &rates,
            &systems,
            &mut missing,
        );
        let expect_w = brute_section(
            &wp,
            &wt,
            from,
            to,
            today,
            display,
            &rates,
            &systems,
            &mut missing,
        );

        let body = c.dashboard(filter.clone()).await;
        let board = &body["data"]["dashboard"];
        assert_eq!(
            keyed(&board["transactions"]),
            expect_t,
            "transactions, {zone}, {filter}"
        );
        assert_eq!(
            keyed(&board["withdrawals"]),
            expect_w,
            "withdrawals, {zone}, {filter}"
        );
        if missing.is_empty() {
            assert!(body["errors"].is_null(), "{body}");
        } else {
            saw_missing = true;
            assert_eq!(error_code(&body), Some("NO_RATE"), "{body}");
            assert_eq!(
                body["errors"][0]["extensions"]["currencies"],
                json!(missing),
                "{filter}"
            );
        }
    }
    assert!(saw_missing, "some round should lack a PKR rate");

    // A rebuild from the raw rows gives the same buckets and days.
    let before = stat_rows(&app).await;
    let days_before = day_rows(&app).await;
    kassa::stats::service::rebuild(&app.deps, &kassa::auth::model::Actor::Cli, None, |_| {})
        .await
        .unwrap();
    assert_eq!(stat_rows(&app).await, before);
    assert_eq!(day_rows(&app).await, days_before);
    assert!(!before.is_empty() && !days_before.is_empty());
}

#[tokio::test]
async fn time_zone_changes_racing_activations_leave_the_days_as_a_rebuild_makes_them() {
    let app = spawn_app().await;
    let mut c = Ctx::new(&app).await;
    let created = at("2026-11-23T20:00:00Z");
    let mut numbers = Vec::new();
    for i in 0..24 {
        let (_, n) = c.ingest(i % 3, "INCOMING", "10.00", created).await;
        numbers.push((i % 3, n));
    }
    let mut work = Vec::new();
    let shared = &app;
    for (k, (system, number)) in numbers.into_iter().enumerate() {
        let app = shared;
        work.push(Box::pin(async move {
            let body = app
                .gql(
                    None,
                    ACTIVATE,
                    json!({ "i": { "pluginKey": kassa::demo::PLUGIN_KEY, "paymentSystem": SYSTEMS[system].0,
                    "transactionNumber": number, "label": format!("racer-{}", k % 4) } }),
                )
                .await;
            assert_eq!(body["data"]["activateDeposit"]["outcome"], "ACTIVATED", "{body}");
        }) as std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>);
        if k % 6 == 0 {
            let zone = [
                "Asia/Kathmandu",
                "America/New_York",
                "Pacific/Chatham",
                "UTC",
            ][k / 6];
            let (app, owner) = (shared, c.owner.clone());
            work.push(Box::pin(async move {
                let body = app
                    .gql(Some(&owner), SETTINGS, json!({ "i": { "timezone": zone } }))
                    .await;
                assert_eq!(
                    body["data"]["updateSystemSettings"]["errors"],
                    json!([]),
                    "{body}"
                );
            }));
        }
    }
    futures_util::future::join_all(work).await;
    let kept = day_rows(&app).await;
    kassa::stats::service::rebuild(&app.deps, &kassa::auth::model::Actor::Cli, None, |_| {})
        .await
        .unwrap();
    assert_eq!(day_rows(&app).await, kept);
    assert!(!kept.is_empty());
}

/// The non-empty day rows, in key order.
async fn day_rows(app: &TestApp) -> Vec<Vec<String>> {
    use sea_orm::{ConnectionTrait, Statement};
    let db = &app.deps.db;
    let mut rows: Vec<Vec<String>> = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT merchant_id, section, kind, day, payment_system, currency, country, completed, amount_minor, count FROM stat_days WHERE count <> 0",
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let i = |c: &str| r.try_get::<i64>("", c).unwrap().to_string();
            let s = |c: &str| r.try_get::<String>("", c).unwrap();
            vec![i("merchant_id"), s("section"), s("kind"), i("day"), s("payment_system"), s("currency"), s("country"), r.try_get::<i32>("", "completed").unwrap().to_string(), i("amount_minor"), i("count")]
        })
        .collect();
    rows.sort();
    rows
}

/// The non-empty bucket rows, in key order.
async fn stat_rows(
    app: &TestApp,
) -> Vec<(
    i64,
    entity::stat_bucket::StatSection,
    entity::stat_bucket::DashboardDateKind,
    i64,
    String,
    String,
    String,
    i32,
    i64,
    i64,
)> {
    let mut rows: Vec<_> = entity::stat_bucket::Entity::find()
        .all(&app.deps.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.count != 0)
        .map(|r| {
            (
                r.merchant_id,
                r.section,
                r.kind,
                r.bucket,
                r.payment_system,
                r.currency,
                r.country,
                r.completed,
                r.amount_minor,
                r.count,
            )
        })
        .collect();
    rows.sort();
    rows
}

#[tokio::test]
async fn the_dashboard_reads_in_the_merchants_zone_and_usd_by_default() {
    // The other merchant is in Asia/Dhaka (+06:00): 20:00 UTC is already the 25th there.
    let app = spawn_app().await;
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 11, 24, 20, 0, 0).unwrap());
    let other = app.login(OTHER_OWNER).await;
    let body = app
        .gql(
            Some(&other),
            DASH,
            json!({ "f": { "from": "2026-11-24", "to": "2026-11-25" } }),
        )
        .await;
    assert_eq!(
        body["data"]["dashboard"]["timezone"], "Asia/Dhaka",
        "{body}"
    );
    assert_eq!(body["data"]["dashboard"]["displayCurrency"], "USD");
    assert_eq!(
        body["data"]["dashboard"]["transactions"]["total"][1]["date"],
        "2026-11-25"
    );
    assert_eq!(
        body["data"]["dashboard"]["transactions"]["today"],
        json!({ "amount": "0.00", "count": 0 })
    );
}
