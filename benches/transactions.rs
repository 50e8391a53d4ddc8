//! Scale benchmark of the Transactions page, ingestion and activation on
//! PostgreSQL (issue 3). Not a test: it prints figures.
//!
//!   cargo bench --bench transactions                       # 2,000,000 rows (1,000,000 for one merchant)
//!   KASSA_BENCH_ROWS=200000 cargo bench --bench transactions   # smaller
//!
//! KASSA_BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test)
//! names the server; the benchmark creates and keeps a database `kassa_bench`.

use async_graphql::Executor;
use chrono::{TimeDelta, Utc};
use kassa::activation::service::{activate_deposit, ActivateInput};
use kassa::app;
use kassa::auth::model::{Actor, KeyActor, Role, Scope, UserActor};
use kassa::clock::SystemClock;
use kassa::config::Config;
use kassa::deps::Deps;
use kassa::pagination::PageArgs;
use kassa::transactions::model::{Direction, Filter, Order, Range, TransactionStatus};
use kassa::transactions::service::{self, IngestItem};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{
    ConnectionTrait, Database, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};
use std::sync::Arc;
use std::time::Instant;

const SYSTEMS: [(&str, &str); 7] = [
    ("paytm", "INR"),
    ("upi", "INR"),
    ("imps", "INR"),
    ("bkash", "BDT"),
    ("nagad", "BDT"),
    ("easypaisa", "PKR"),
    ("jazzcash", "PKR"),
];

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[((samples.len() as f64 - 1.0) * p).round() as usize]
}

fn wallet_of(merchant: usize, system: &str) -> String {
    format!("bench-{merchant}-{system}")
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base = std::env::var("KASSA_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let total: usize = std::env::var("KASSA_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let (prefix, _) = base.rsplit_once('/').expect("a database URL");
    // KASSA_BENCH_REUSE=1 measures against the database a previous run filled,
    // ingesting only a sample: the ingestion rate at that table size, alone on the machine.
    let reuse = std::env::var("KASSA_BENCH_REUSE").is_ok_and(|v| v == "1");
    let admin = Database::connect(base.as_str()).await?;
    if !reuse {
        admin
            .execute_unprepared("DROP DATABASE IF EXISTS kassa_bench")
            .await?;
        admin
            .execute_unprepared("CREATE DATABASE kassa_bench")
            .await?;
    }
    let url = format!("{prefix}/kassa_bench");
    let config = Config::from_lookup(|k| match k {
        "DATABASE_URL" => Some(url.clone()),
        "KASSA_ACTIVATION_RATE" => Some("100000000".into()),
        _ => None,
    })?;
    let d = app::deps(config, Arc::new(SystemClock)).await?;

    let mut merchants = Vec::new();
    if reuse {
        use sea_orm::QueryOrder;
        merchants = entity::merchant::Entity::find()
            .order_by_asc(entity::merchant::Column::Id)
            .all(&d.db)
            .await?;
    }
    for m in 0..if reuse { 0 } else { 10 } {
        let row = kassa::accounts::service::create_merchant(
            &d,
            &format!("Bench {m}"),
            Some("Asia/Kolkata"),
            None,
        )
        .await?;
        for (system, _) in SYSTEMS {
            kassa::catalog::service::create_wallet(&d, row.id, system, &wallet_of(m, system))
                .await?;
        }
        merchants.push(row);
    }
    let ingest_actor = Actor::Key(KeyActor {
        key_id: 0,
        scope: Scope::Ingest,
        merchant_id: None,
    });
    let (per_main, per_other) = if reuse {
        (20_000, 0)
    } else {
        (total / 2, (total / 2) / 9)
    };
    let now = Utc::now();
    let span = TimeDelta::days(365).num_seconds();
    println!("filling: {per_main} rows for merchant 0, {per_other} for each of 9 others");

    // Ingestion throughput: batches of 1,000 through the service, one stream.
    let mut rng = StdRng::seed_from_u64(7);
    let mut batch_times = Vec::new();
    let started = Instant::now();
    // A sample on top of an existing table gets numbers of its own.
    let first_seq = if reuse {
        100_000_000 + (now.timestamp() as usize % 1000) * 100_000
    } else {
        0
    };
    let mut seq = first_seq;
    for (m, count) in std::iter::once((0usize, per_main)).chain((1..10).map(|m| (m, per_other))) {
        let mut left = count;
        while left > 0 {
            let n = left.min(1000);
            left -= n;
            let items: Vec<IngestItem> = (0..n)
                .map(|_| {
                    seq += 1;
                    let (system, currency) = SYSTEMS[rng.gen_range(0..SYSTEMS.len())];
                    IngestItem {
                        payment_system: system.into(),
                        wallet_identifier: wallet_of(m, system),
                        direction: if rng.gen_bool(0.9) {
                            Direction::Incoming
                        } else {
                            Direction::Outgoing
                        },
                        amount: rust_decimal::Decimal::new(rng.gen_range(10_000..2_000_000), 2),
                        currency: currency.into(),
                        commission: None,
                        transaction_number: format!("BN{seq:010}"),
                        counterparty: Some(format!("Payer {}", rng.gen_range(0..5000))),
                        occurred_at: Some(now - TimeDelta::seconds(rng.gen_range(0..span))),
                        kind: None,
                        originality: None,
                    }
                })
                .collect();
            let t = Instant::now();
            let results = service::ingest(&d, &ingest_actor, items).await?;
            batch_times.push(t.elapsed().as_secs_f64());
            assert_eq!(results.len(), n);
        }
    }
    let fill = started.elapsed().as_secs_f64();
    let mut bt = batch_times.clone();
    println!(
        "ingestion: {} rows in {:.1} s = {:.0} rows/s (batches of 1,000: p50 {:.1} ms, p99 {:.1} ms)",
        seq - first_seq,
        fill,
        (seq - first_seq) as f64 / fill,
        percentile(&mut bt, 0.5) * 1e3,
        percentile(&mut bt, 0.99) * 1e3
    );

    // A third of the incoming deposits activated (bulk SQL: fixture, not the code under test).
    if !reuse {
        d.db.execute_unprepared(
        "UPDATE transactions SET activated_at = created_at + interval '5 minutes', label = 'payer-' || (id % 5000),
           postback_status = 'SENT' WHERE direction = 'INCOMING' AND id % 3 = 0",
    )
    .await?;
    }
    d.db.execute_unprepared("VACUUM ANALYZE transactions")
        .await?;

    // The page: paymentSystems + status + createdAt range, 50 rows.
    let main_id = merchants[0].id;
    let owner = Actor::User(UserActor {
        user_id: 0,
        merchant_id: main_id,
        role: Role::Owner,
        session_id: 0,
    });
    let tenant = owner.reader()?;
    let filter = Filter {
        payment_systems: Some(vec!["paytm".into(), "upi".into()]),
        status: Some(TransactionStatus::Activated),
        created_at: Range {
            from: Some(now - TimeDelta::days(180)),
            to: Some(now),
        },
        ..Default::default()
    };
    let order = Order::default();
    let schema = kassa::graphql::build_schema(
        d.clone(),
        std::sync::Arc::new(kassa::telemetry::Metrics::new()?),
    );
    let query = r#"query($after: String) { transactions(filter: { paymentSystems: ["paytm", "upi"], status: ACTIVATED,
        createdAt: { from: "FROM", to: "TO" } }, first: 50, after: $after) {
        pageInfo { endCursor } nodes { id amount currency createdAt activatedAt label postbackStatus paymentSystem { code } } } }"#
        .replace("FROM", &(now - TimeDelta::days(180)).to_rfc3339())
        .replace("TO", &now.to_rfc3339());
    let with_count = query.replace("pageInfo {", "totalCount pageInfo {");

    // The cursor of page 200.
    let mut after: Option<String> = None;
    for _ in 0..199 {
        let page = service::list(
            &d,
            tenant,
            &filter,
            order,
            &PageArgs {
                first: Some(50),
                after: after.clone(),
                ..Default::default()
            },
            Some(service::Columns::NONE),
        )
        .await?;
        after = page.rows.last().map(|t| {
            service::position_of(t, order, &service::sort(order, DbBackend::Postgres)).cursor()
        });
    }

    for (label, cursor) in [("first page", None), ("page 200", after.clone())] {
        let run = |q: String, cursor: Option<String>| {
            let schema = schema.clone();
            let owner = owner.clone();
            let db = d.db.clone();
            async move {
                let mut req = async_graphql::Request::new(q).variables(
                    async_graphql::Variables::from_json(serde_json::json!({ "after": cursor })),
                );
                kassa::graphql::context::request_context(
                    &mut req.data,
                    &db,
                    owner,
                    std::net::IpAddr::from([127, 0, 0, 1]),
                );
                let t = Instant::now();
                let resp = schema.execute(req).await;
                assert!(resp.errors.is_empty(), "{:?}", resp.errors);
                t.elapsed().as_secs_f64()
            }
        };
        let mut server = Vec::new();
        let mut counted = Vec::new();
        for _ in 0..60 {
            server.push(run(query.clone(), cursor.clone()).await);
        }
        for _ in 0..20 {
            counted.push(run(with_count.clone(), cursor.clone()).await);
        }
        // The same SQL statement, bare.
        let page_stmt = {
            let mut cond = service::condition(tenant, &filter);
            if let Some(c) = &cursor {
                let text = kassa::pagination::decode(service::CURSOR_KIND, c, "after")?;
                let id: i64 = text.rsplit('|').next().unwrap_or("0").parse()?;
                cond = cond.add(sea_orm::ColumnTrait::lt(
                    &entity::transaction::Column::Id,
                    id,
                ));
            }
            entity::transaction::Entity::find()
                .filter(cond)
                .order_by_desc(entity::transaction::Column::Id)
                .limit(51)
                .build(DbBackend::Postgres)
        };
        let mut bare = Vec::new();
        for _ in 0..60 {
            let t = Instant::now();
            d.db.query_all_raw(page_stmt.clone()).await?;
            bare.push(t.elapsed().as_secs_f64());
        }
        let (s50, b50) = (percentile(&mut server, 0.5), percentile(&mut bare, 0.5));
        println!(
            "page ({label}): server p50 {:.2} ms p99 {:.2} ms; bare SQL p50 {:.2} ms; ratio {:.2}; with totalCount p50 {:.2} ms",
            s50 * 1e3,
            percentile(&mut server, 0.99) * 1e3,
            b50 * 1e3,
            s50 / b50,
            percentile(&mut counted, 0.5) * 1e3
        );
    }

    // Activation: p50 over 300 claims of unactivated deposits.
    let candidates: Vec<(String, String)> = entity::transaction::Entity::find()
        .select_only()
        .column(entity::transaction::Column::PaymentSystem)
        .column(entity::transaction::Column::TransactionNumber)
        .filter(sea_orm::ColumnTrait::eq(
            &entity::transaction::Column::MerchantId,
            main_id,
        ))
        .filter(sea_orm::ColumnTrait::is_null(
            &entity::transaction::Column::ActivatedAt,
        ))
        .filter(sea_orm::ColumnTrait::eq(
            &entity::transaction::Column::Direction,
            "INCOMING",
        ))
        .limit(300)
        .into_tuple()
        .all(&d.db)
        .await?;
    let mut times = Vec::new();
    for (i, (system, number)) in candidates.into_iter().enumerate() {
        let t = Instant::now();
        let a = activate_deposit(
            &d,
            ActivateInput {
                plugin_key: merchants[0].plugin_key.clone(),
                payment_system: system,
                transaction_number: number,
                label: format!("bench-payer-{}", i % 50),
                order_id: None,
            },
        )
        .await?;
        times.push(t.elapsed().as_secs_f64());
        assert_eq!(a.outcome, kassa::activation::service::Outcome::Activated);
    }
    println!(
        "activation: {} claims, p50 {:.2} ms, p99 {:.2} ms",
        times.len(),
        percentile(&mut times, 0.5) * 1e3,
        percentile(&mut times, 0.99) * 1e3
    );
    let _: &Deps = &d;
    Ok(())
}
