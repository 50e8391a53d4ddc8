//! Postback delivery benchmark (issues 4 and 14): throughput to a local
//! receiver that answers at once, latency from an activation's commit to the
//! receipt, and fairness: 10,000 due postbacks across 100 merchants, 10 of
//! whose endpoints hang, against the same with none hanging.
//!
//!   cargo bench --bench postbacks          # PostgreSQL, KASSA_BENCH_DATABASE_URL to override

use axum::extract::State;
use chrono::Utc;
use kassa::activation::service::{activate_deposit, ActivateInput};
use kassa::app;
use kassa::auth::model::Actor;
use kassa::clock::SystemClock;
use kassa::config::Config;
use kassa::transactions::model::Direction;
use kassa::transactions::service::{ingest, IngestItem};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, Database, EntityTrait, PaginatorTrait, QueryFilter};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Seen = Arc<Mutex<HashMap<String, Instant>>>;

/// Accepts and never answers (the worker gives up after its 10 s timeout).
async fn hang() -> &'static str {
    std::future::pending::<()>().await;
    "never"
}

/// Time until every postback of the first `healthy` of `merchants` (100 due
/// each) is delivered, with the rest pointing at a hanging endpoint.
async fn fairness(
    url: &str,
    receiver: &str,
    hanging: &str,
    merchants: usize,
    healthy: usize,
) -> anyhow::Result<f64> {
    let config = Config::from_lookup(|k| match k {
        "DATABASE_URL" => Some(url.to_string()),
        "KASSA_ALLOW_PRIVATE_URLS" => Some("1".into()),
        // the pipeline's own settings may be tried from the environment
        k if k.starts_with("KASSA_POSTBACK_") || k == "KASSA_DB_POOL" => std::env::var(k).ok(),
        _ => None,
    })?;
    let d = app::deps(config, Arc::new(SystemClock)).await?;
    d.db.execute_unprepared("TRUNCATE postback_attempts, postback_endpoints, postbacks")
        .await?;
    let now = Utc::now();
    let mut ids = Vec::new();
    for i in 0..merchants {
        let m =
            kassa::accounts::service::create_merchant(&d, &format!("Fair {i}"), None, None).await?;
        let target = if i < healthy { receiver } else { hanging };
        entity::merchant::Entity::update_many()
            .col_expr(
                entity::merchant::Column::PostbackUrl,
                Expr::value(Some(target.to_string())),
            )
            .filter(entity::merchant::Column::Id.eq(m.id))
            .exec(&d.db)
            .await?;
        ids.push(m.id);
    }
    // Due postbacks written by SQL (fixture), interleaved in time.
    for (i, m) in ids.iter().enumerate() {
        d.db.execute_unprepared(&format!(
            "INSERT INTO postbacks (merchant_id, message_id, kind, payload, status, attempt_count, next_attempt_at, created_at)
             SELECT {m}, 'fair-{i}-' || g, 'DEPOSIT', '{{\"type\":\"deposit\"}}', 'PENDING', 0,
                    TIMESTAMPTZ '{now}' - (g || ' milliseconds')::interval, TIMESTAMPTZ '{now}'
             FROM generate_series(1, 100) AS g",
            now = now.to_rfc3339()
        ))
        .await?;
    }
    let healthy_ids = ids[..healthy].to_vec();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let worker = tokio::spawn(kassa::postbacks::worker::run(d.clone(), stop_rx));
    let want = healthy * 100;
    loop {
        let done = entity::postback::Entity::find()
            .filter(entity::postback::Column::Status.eq("DELIVERED"))
            .filter(entity::postback::Column::MerchantId.is_in(healthy_ids.clone()))
            .count(&d.db)
            .await? as usize;
        if done >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = started.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    let _ = worker.await;
    let s = &d.postback_stats;
    let get =
        |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed) as f64;
    println!(
        "  ({} merchants, {} healthy: {:.0} claims of {:.1} ms on average; {:.0} recording transactions of {:.1} attempts, {:.1} ms on average)",
        merchants,
        healthy,
        get(&s.claims),
        get(&s.claim_micros) / get(&s.claims).max(1.0) / 1000.0,
        get(&s.record_batches),
        get(&s.recorded) / get(&s.record_batches).max(1.0),
        get(&s.record_micros) / get(&s.record_batches).max(1.0) / 1000.0,
    );
    Ok(took)
}

async fn hook(State(seen): State<Seen>, headers: axum::http::HeaderMap) -> &'static str {
    if let Some(id) = headers.get("webhook-id").and_then(|v| v.to_str().ok()) {
        seen.lock()
            .unwrap()
            .entry(id.to_string())
            .or_insert_with(Instant::now);
    }
    "ok"
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base = std::env::var("KASSA_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let n: usize = std::env::var("KASSA_BENCH_POSTBACKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let (prefix, _) = base.rsplit_once('/').expect("a database URL");
    let admin = Database::connect(base.as_str()).await?;
    admin
        .execute_unprepared("DROP DATABASE IF EXISTS kassa_bench_postbacks")
        .await?;
    admin
        .execute_unprepared("CREATE DATABASE kassa_bench_postbacks")
        .await?;
    let url = format!("{prefix}/kassa_bench_postbacks");
    let config = Config::from_lookup(|k| match k {
        "DATABASE_URL" => Some(url.clone()),
        "KASSA_ALLOW_PRIVATE_URLS" => Some("1".into()),
        "KASSA_ACTIVATION_RATE" => Some("100000000".into()),
        _ => None,
    })?;
    let d = app::deps(config, Arc::new(SystemClock)).await?;

    let seen: Seen = Default::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver = format!("http://{}/hook", listener.local_addr()?);
    let hanging = format!("http://{}/hang", listener.local_addr()?);
    let router = axum::Router::new()
        .route("/hang", axum::routing::post(hang))
        .fallback(hook)
        .with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let m = kassa::accounts::service::create_merchant(&d, "Postback Bench", None, None).await?;
    kassa::catalog::service::create_wallet(&d, m.id, "paytm", "bench-paytm").await?;
    entity::merchant::Entity::update_many()
        .col_expr(
            entity::merchant::Column::PostbackUrl,
            Expr::value(Some(receiver.clone())),
        )
        .filter(entity::merchant::Column::Id.eq(m.id))
        .exec(&d.db)
        .await?;
    let total = n + 200;
    if std::env::var("KASSA_BENCH_ONLY_FAIRNESS").is_ok_and(|v| v == "1") {
        fairness(&url, &receiver, &hanging, 10, 10).await?;
        let none_hang = fairness(&url, &receiver, &hanging, 100, 100).await?;
        println!(
            "10,000 over 100 merchants: {:.0} deliveries/s",
            10_000.0 / none_hang
        );
        return Ok(());
    }
    let items: Vec<IngestItem> = (0..total)
        .map(|i| IngestItem {
            payment_system: "paytm".into(),
            wallet_identifier: "bench-paytm".into(),
            direction: Direction::Incoming,
            amount: rust_decimal::Decimal::new(10_000, 2),
            currency: "INR".into(),
            commission: None,
            transaction_number: format!("PB{i:08}"),
            counterparty: None,
            occurred_at: Some(Utc::now()),
            kind: None,
            originality: None,
        })
        .collect();
    for chunk in items.chunks(1000) {
        ingest(&d, &Actor::Cli, chunk.to_vec()).await?;
    }
    let claim = |i: usize| ActivateInput {
        plugin_key: m.plugin_key.clone(),
        payment_system: "paytm".into(),
        transaction_number: format!("PB{i:08}"),
        label: format!("payer-{i}"),
        order_id: None,
    };
    // A backlog of n postbacks, queued before any worker runs.
    for i in 0..n {
        activate_deposit(&d, claim(i)).await?;
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let worker = tokio::spawn(kassa::postbacks::worker::run(d.clone(), stop_rx));
    loop {
        let done = entity::postback::Entity::find()
            .filter(entity::postback::Column::Status.eq("DELIVERED"))
            .count(&d.db)
            .await? as usize;
        if done >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = started.elapsed().as_secs_f64();
    println!("one merchant: {n} postbacks delivered and recorded in {took:.2} s = {:.0}/s (one instance, PostgreSQL; at most KASSA_POSTBACK_PER_MERCHANT = 8 in flight)", n as f64 / took);

    // Latency: the queue is empty; one activation at a time, commit → receipt.
    let mut lat = Vec::new();
    for i in n..total {
        let a = activate_deposit(&d, claim(i)).await?;
        let committed = Instant::now();
        let sp = a.stockpiling.expect("a completed stockpiling").id;
        let id = entity::postback::Entity::find()
            .filter(entity::postback::Column::StockpilingId.eq(sp))
            .one(&d.db)
            .await?
            .expect("its postback")
            .id
            .to_string();
        loop {
            if let Some(at) = seen.lock().unwrap().get(&id) {
                lat.push(at.saturating_duration_since(committed).as_secs_f64());
                break;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
    println!(
        "latency commit → receipt over {} postbacks: p50 {:.1} ms, p99 {:.1} ms",
        lat.len(),
        pct(&mut lat, 0.5) * 1e3,
        pct(&mut lat, 0.99) * 1e3
    );
    let _ = stop_tx.send(true);
    let _ = worker.await;

    // Fairness: 100 merchants × 100 due postbacks; the time until the 90
    // healthy merchants' 9,000 are delivered, with 10 endpoints hanging and
    // with none.
    // (a small round first, so neither measured round pays for warming up)
    fairness(&url, &receiver, &hanging, 10, 10).await?;
    let none_hang = fairness(&url, &receiver, &hanging, 100, 100).await?;
    let ten_hang = fairness(&url, &receiver, &hanging, 100, 90).await?;
    println!(
        "fairness: 10,000 due over 100 merchants; all 10,000 delivered with no endpoint hanging in {none_hang:.2} s \
         ({:.0} deliveries/s); with 10 endpoints hanging, the other 90 merchants' 9,000 in {ten_hang:.2} s \
         ({:+.0} % per postback)",
        10_000.0 / none_hang,
        (ten_hang / 9_000.0) / (none_hang / 10_000.0) * 100.0 - 100.0
    );
    Ok(())
}
