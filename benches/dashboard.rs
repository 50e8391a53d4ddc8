//! Scale benchmark of the dashboard on PostgreSQL (issue 7). Not a test: it
//! prints figures.
//!
//!   cargo bench --bench dashboard                          # 10,000,000 transactions, one merchant
//!   KASSA_BENCH_ROWS=1000000 cargo bench --bench dashboard # smaller
//!   KASSA_BENCH_REUSE=1 cargo bench --bench dashboard      # measure the database a previous run filled
//!
//! KASSA_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test)
//! names the server; the benchmark creates and keeps a database `kassa_dash_bench`.
//! The rows are written with SQL (`generate_series`), spread over 365 days,
//! then the buckets are built by the same code as `kassa admin rebuild-stats`.

use async_graphql::Executor;
use chrono::{TimeDelta, Utc};
use kassa::app;
use kassa::auth::model::{Actor, Role, UserActor};
use kassa::clock::SystemClock;
use kassa::config::Config;
use kassa::stats::buckets::{self, Scope};
use kassa::stats::service::{self, DateKind, Filter};
use rand::{Rng, SeedableRng};
use sea_orm::{ConnectionTrait, Database, Statement, TransactionTrait};
use std::sync::Arc;
use std::time::Instant;

const SYSTEMS: [(&str, &str, &str); 7] = [
    ("paytm", "INR", "IN"),
    ("upi", "INR", "IN"),
    ("imps", "INR", "IN"),
    ("bkash", "BDT", "BD"),
    ("nagad", "BDT", "BD"),
    ("easypaisa", "PKR", "PK"),
    ("jazzcash", "PKR", "PK"),
];

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn list(items: impl Iterator<Item = String>) -> String {
    items
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(",")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base = std::env::var("KASSA_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let total: i64 = std::env::var("KASSA_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let reuse = std::env::var("KASSA_BENCH_REUSE").is_ok_and(|v| v == "1");
    let (prefix, _) = base.rsplit_once('/').expect("a database URL");
    let admin = Database::connect(base.as_str()).await?;
    if !reuse {
        admin
            .execute_unprepared("DROP DATABASE IF EXISTS kassa_dash_bench")
            .await?;
        admin
            .execute_unprepared("CREATE DATABASE kassa_dash_bench")
            .await?;
    }
    let url = format!("{prefix}/kassa_dash_bench");
    let config = Config::from_lookup(|k| match k {
        "DATABASE_URL" => Some(url.clone()),
        "KASSA_ACTIVATION_RATE" => Some("100000000".into()),
        _ => None,
    })?;
    let d = app::deps(config, Arc::new(SystemClock)).await?;
    let now = Utc::now();

    let merchant_id: i64 = if reuse {
        d.db.query_one_raw(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT MIN(id) AS id FROM merchants",
        ))
        .await?
        .expect("a merchant")
        .try_get("", "id")?
    } else {
        let m =
            kassa::accounts::service::create_merchant(&d, "Bench Shop", Some("Asia/Kolkata"), None)
                .await?;
        let mut wallets = Vec::new();
        for (system, _, _) in SYSTEMS {
            let w = kassa::catalog::service::create_wallet(
                &d,
                m.id,
                system,
                &format!("bench-{system}"),
            )
            .await?;
            wallets.push(w.id);
        }
        // Rates for every day of the year, for every currency shown.
        let mut rates = Vec::new();
        for day in 0..=370 {
            let date = (now - TimeDelta::days(day)).date_naive();
            for (c, usd) in [("INR", 1190), ("BDT", 820), ("PKR", 358), ("JPY", 665)] {
                rates.push((
                    c.to_string(),
                    date,
                    rust_decimal::Decimal::new(usd + day % 7, 5),
                ));
            }
        }
        for chunk in rates.chunks(1_000) {
            kassa::rates::service::set_rates(&d, &Actor::Cli, chunk.to_vec())
                .await?
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
        let started = Instant::now();
        let stockpilings = total / 10;
        d.db.execute_unprepared(&format!(
            "INSERT INTO stockpilings (merchant_id, label, currency, minimum_minor, accumulated_minor, \
             status, open_key, created_at, completed_at) \
             SELECT {id}, 'payer-' || i, 'INR', 50000, 60000, \
             CASE WHEN i % 20 = 0 THEN 'IN_PROGRESS' ELSE 'COMPLETED' END, \
             CASE WHEN i % 20 = 0 THEN '{id}:INR:payer-' || i END, \
             TIMESTAMPTZ '{start}' + ((i::bigint * {secs} / {stockpilings}) * INTERVAL '1 second'), \
             CASE WHEN i % 20 = 0 THEN NULL ELSE TIMESTAMPTZ '{start}' + ((i::bigint * {secs} / {stockpilings}) * INTERVAL '1 second') + INTERVAL '2 hours' END \
             FROM generate_series(1, {stockpilings}) AS i",
            id = m.id,
            start = (now - TimeDelta::days(365)).to_rfc3339(),
            secs = 365 * 86_400,
        ))
        .await?;
        let first_sp: i64 =
            d.db.query_one_raw(Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT MIN(id) AS id FROM stockpilings",
            ))
            .await?
            .expect("stockpilings")
            .try_get("", "id")?;
        let arr = |f: &dyn Fn(usize) -> String| list((0..SYSTEMS.len()).map(f));
        let systems = arr(&|i| SYSTEMS[i].0.to_string());
        let currencies = arr(&|i| SYSTEMS[i].1.to_string());
        let countries = arr(&|i| SYSTEMS[i].2.to_string());
        let wallet_ids = wallets
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let chunk = 1_000_000;
        let mut from = 1;
        while from <= total {
            let to = (from + chunk - 1).min(total);
            // 7 systems round robin; 95 % incoming, 80 % activated within
            // two hours, 1 % SCAM; ten transactions to a stockpiling.
            d.db.execute_unprepared(&format!(
                "INSERT INTO transactions (merchant_id, payment_system, wallet_id, wallet_identifier, \
                 direction, amount_minor, currency, commission_minor, transaction_number, created_at, \
                 ingested_at, label, activated_at, type, originality, country, stockpiling_id, postback_status) \
                 SELECT {id}, (ARRAY[{systems}])[1 + i % 7], (ARRAY[{wallet_ids}])[1 + i % 7], 'bench', \
                 CASE WHEN i % 20 = 7 THEN 'OUTGOING' ELSE 'INCOMING' END, \
                 10000 + (i::bigint * 7919) % 900000, (ARRAY[{currencies}])[1 + i % 7], 0, 'B' || i, t, t, \
                 'payer-' || (i / 10), \
                 CASE WHEN i % 5 = 0 OR i % 20 = 7 THEN NULL ELSE t + ((i % 7200) * INTERVAL '1 second') END, \
                 'AUTO', CASE WHEN i % 100 = 3 THEN 'SCAM' ELSE 'NORMAL' END, (ARRAY[{countries}])[1 + i % 7], \
                 CASE WHEN i % 5 = 0 OR i % 20 = 7 THEN NULL ELSE {first_sp} + (i / 10) % {stockpilings} END, \
                 'QUEUED' \
                 FROM (SELECT i, TIMESTAMPTZ '{start}' + ((i::bigint * {secs} / {total}) * INTERVAL '1 second') AS t \
                 FROM generate_series({from}, {to}) AS i) g",
                id = m.id,
                start = (now - TimeDelta::days(365)).to_rfc3339(),
                secs = 365 * 86_400,
            ))
            .await?;
            eprintln!("  {to} rows ({:.0} s)", started.elapsed().as_secs_f64());
            from = to + 1;
        }
        eprintln!(
            "filled {total} transactions in {:.0} s",
            started.elapsed().as_secs_f64()
        );
        let t = Instant::now();
        let rows = service::rebuild(&d, &Actor::Cli, Some(m.id), |_| {}).await?;
        println!(
            "rebuild-stats over {total} transactions: {:.1} s, {rows} bucket rows",
            t.elapsed().as_secs_f64()
        );
        d.db.execute_unprepared("VACUUM ANALYZE").await?;
        m.id
    };

    let owner = Actor::User(UserActor {
        user_id: 0,
        merchant_id,
        role: Role::Viewer,
        session_id: 0,
    });
    let today = now.with_timezone(&chrono_tz::Asia::Kolkata).date_naive();
    let filter = |display: &str| Filter {
        from: today - TimeDelta::days(89),
        to: today,
        date_kind: DateKind::Activation,
        currencies: None,
        display_currency: display.into(),
        countries: None,
        payment_systems: None,
        completed_only: false,
    };

    // 1. The service: validation, four bucket reads, rates, assembly.
    for display in ["USD", "INR"] {
        let mut samples = Vec::new();
        for _ in 0..60 {
            let t = Instant::now();
            let board = service::dashboard(&d, &owner, filter(display)).await?;
            samples.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(board.transactions.total.len(), 90);
        }
        println!(
            "dashboard 90 days in {display}, all series (service): p50 {:.2} ms, p99 {:.2} ms",
            percentile(&mut samples, 0.5),
            percentile(&mut samples, 0.99)
        );
    }
    // 2. Through the schema, every field selected.
    let schema = kassa::graphql::build_schema(
        d.clone(),
        std::sync::Arc::new(kassa::telemetry::Metrics::new()?),
    );
    let query = format!(
        "{{ dashboard(filter: {{ from: \"{}\", to: \"{}\" }}) {{ displayCurrency timezone
         transactions {{ ...S }} withdrawals {{ ...S }} }} }}
         fragment S on DashboardSection {{ period {{ amount count }} today {{ amount count }}
         total {{ date amount count }} byPaymentSystem {{ paymentSystem {{ code name }} points {{ date amount count }} }}
         byArrivalCurrency {{ currency paymentSystem {{ code }} points {{ date amount count }} }} }}",
        today - TimeDelta::days(89),
        today
    );
    let mut samples = Vec::new();
    for _ in 0..60 {
        let req = async_graphql::Request::new(query.clone()).data(owner.clone());
        let t = Instant::now();
        let resp = schema.execute(req).await;
        samples.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(resp.errors.is_empty(), "{:?}", resp.errors);
    }
    let schema_p50 = percentile(&mut samples, 0.5);
    println!(
        "dashboard 90 days through the schema, every field: p50 {:.2} ms, p99 {:.2} ms",
        schema_p50,
        percentile(&mut samples, 0.99)
    );

    // 3. The baseline: the same numbers from a GROUP BY over the raw rows.
    let from_local = (today - TimeDelta::days(89)).to_string();
    let to_local = (today + TimeDelta::days(1)).to_string();
    let baseline = format!(
        "SELECT (t.activated_at AT TIME ZONE 'Asia/Kolkata')::date AS day, t.payment_system, t.currency, \
         SUM(t.amount_minor) AS amount, COUNT(*) AS n \
         FROM transactions t LEFT JOIN stockpilings s ON s.id = t.stockpiling_id \
         WHERE t.merchant_id = {merchant_id} AND t.direction = 'INCOMING' AND t.originality = 'NORMAL' \
         AND t.activated_at >= TIMESTAMP '{from_local}' AT TIME ZONE 'Asia/Kolkata' \
         AND t.activated_at < TIMESTAMP '{to_local}' AT TIME ZONE 'Asia/Kolkata' \
         GROUP BY 1, 2, 3"
    );
    let mut raw = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let rows =
            d.db.query_all_raw(Statement::from_string(
                sea_orm::DbBackend::Postgres,
                baseline.clone(),
            ))
            .await?;
        raw.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(!rows.is_empty());
    }
    let raw_p50 = percentile(&mut raw, 0.5);
    println!(
        "baseline GROUP BY over the raw rows (transactions section, one date kind only): p50 {:.0} ms → buckets are {:.0}× faster (schema p50 {:.2} ms)",
        raw_p50,
        raw_p50 / schema_p50,
        schema_p50
    );

    // 4. The write path: what bucket upkeep adds to one activation
    //    (one statement; three when the stockpiling completes).
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut one = Vec::new();
    let mut three = Vec::new();
    for _ in 0..200 {
        let i = rng.gen_range(1..total);
        let id: Option<i64> =
            d.db.query_one_raw(Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!("SELECT id FROM transactions WHERE merchant_id = {merchant_id} AND transaction_number = 'B{i}'"),
            ))
            .await?
            .map(|r| r.try_get("", "id"))
            .transpose()?;
        let Some(id) = id else { continue };
        let txn = d.db.begin().await?;
        let t = Instant::now();
        buckets::transactions(&txn, merchant_id, Scope::Id(id), 1).await?;
        one.push(t.elapsed().as_secs_f64() * 1000.0);
        let sp: Option<i64> = txn
            .query_one_raw(Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!("SELECT stockpiling_id FROM transactions WHERE id = {id}"),
            ))
            .await?
            .and_then(|r| r.try_get("", "stockpiling_id").ok());
        if let Some(sp) = sp {
            let t = Instant::now();
            buckets::transactions(&txn, merchant_id, Scope::Stockpiling(sp), -1).await?;
            buckets::transactions(&txn, merchant_id, Scope::Stockpiling(sp), 1).await?;
            three.push(t.elapsed().as_secs_f64() * 1000.0 + one.last().copied().unwrap_or(0.0));
        }
        txn.rollback().await?;
    }
    println!(
        "bucket upkeep per activation: p50 {:.2} ms (p99 {:.2}); with a completing stockpiling of 10: p50 {:.2} ms (p99 {:.2})",
        percentile(&mut one, 0.5),
        percentile(&mut one, 0.99),
        percentile(&mut three, 0.5),
        percentile(&mut three, 0.99)
    );
    Ok(())
}
