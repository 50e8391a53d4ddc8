//! Withdrawal benchmark (issue 5) on PostgreSQL: createWithdrawal with 16
//! concurrent clients on one merchant (one contended balance row) and on 16
//! merchants, and the Withdrawals page over 200,000 withdrawals.
//!
//!   cargo bench --bench withdrawals

use async_graphql::Executor;
use chrono::Utc;
use kassa::app;
use kassa::auth::model::{Actor, Role, UserActor};
use kassa::clock::SystemClock;
use kassa::config::Config;
use kassa::withdrawals::service::{create, NewWithdrawal};
use sea_orm::{ConnectionTrait, Database};
use std::sync::Arc;
use std::time::Instant;

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn owner((merchant_id, user_id): (i64, i64)) -> Actor {
    Actor::User(UserActor {
        user_id,
        merchant_id,
        role: Role::Owner,
        session_id: 0,
    })
}

fn request() -> NewWithdrawal {
    NewWithdrawal {
        payment_system: "paytm".into(),
        amount: rust_decimal::Decimal::new(1_00, 2),
        currency: None,
        recipient: "9876543210".into(),
        label: None,
        comment: None,
        fields: vec![],
        idempotency_key: None,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base = std::env::var("KASSA_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let (prefix, _) = base.rsplit_once('/').expect("a database URL");
    let admin = Database::connect(base.as_str()).await?;
    admin
        .execute_unprepared("DROP DATABASE IF EXISTS kassa_bench_withdrawals")
        .await?;
    admin
        .execute_unprepared("CREATE DATABASE kassa_bench_withdrawals")
        .await?;
    let url = format!("{prefix}/kassa_bench_withdrawals");
    let config = Config::from_lookup(|k| (k == "DATABASE_URL").then(|| url.clone()))?;
    let d = app::deps(config, Arc::new(SystemClock)).await?;
    let mut merchants = Vec::new();
    for m in 0..16 {
        let row =
            kassa::accounts::service::create_merchant(&d, &format!("W{m}"), None, None).await?;
        // Funding: a credited balance (fixture).
        d.db.execute_unprepared(&format!(
            "INSERT INTO balances (merchant_id, currency, credited_minor) VALUES ({}, 'INR', 1000000000)",
            row.id
        ))
        .await?;
        let user = kassa::accounts::service::create_user(
            &d,
            &Actor::Cli,
            Some(row.id),
            kassa::accounts::service::NewUser {
                login: format!("bench{m}@owner"),
                password: "BenchOwner2026x".into(),
                role: Role::Owner,
                language: None,
            },
        )
        .await?
        .map_err(|e| anyhow::anyhow!(e.message))?;
        merchants.push((row.id, user.id));
    }
    let per_client = 100;
    for (label, spread) in [
        ("16 clients, one merchant", false),
        ("16 clients, 16 merchants", true),
    ] {
        let started = Instant::now();
        let clients = (0..16).map(|c| {
            let d = d.clone();
            let merchant = if spread { merchants[c] } else { merchants[0] };
            tokio::spawn(async move {
                let mut times = Vec::new();
                for _ in 0..per_client {
                    let t = Instant::now();
                    let w = create(&d, &owner(merchant), request())
                        .await
                        .expect("create");
                    assert!(w.is_ok());
                    times.push(t.elapsed().as_secs_f64());
                }
                times
            })
        });
        let mut all = Vec::new();
        for c in futures_util::future::join_all(clients).await {
            all.extend(c?);
        }
        let took = started.elapsed().as_secs_f64();
        println!(
            "createWithdrawal, {label}: {} requests in {took:.2} s = {:.0}/s; p50 {:.2} ms, p99 {:.2} ms",
            all.len(),
            all.len() as f64 / took,
            pct(&mut all, 0.5) * 1e3,
            pct(&mut all, 0.99) * 1e3
        );
    }

    // 200,000 withdrawals for one merchant (bulk fixture), then the page.
    let (m, _) = merchants[1];
    d.db.execute_unprepared(&format!(
        "INSERT INTO withdrawals (merchant_id, payment_system, currency, amount_minor, recipient, label, fields, status, request_kind, created_at, postback_status)
         SELECT {m}, (ARRAY['paytm','upi','imps','phonepe'])[1 + g % 4], 'INR', 1000 + g % 100000, '98765' || lpad((g % 100000)::text, 5, '0'),
                'payout-' || (g % 5000), '[]', (ARRAY['NEW','APPROVED','APPROVED','REJECTED'])[1 + g % 4], 'MANUAL',
                now() - ((200000 - g) || ' minutes')::interval, (ARRAY['NOT_SENT','RECEIVED','RECEIVED','ERROR'])[1 + g % 4]
         FROM generate_series(1, 200000) g"
    ))
    .await?;
    d.db.execute_unprepared("VACUUM ANALYZE withdrawals")
        .await?;
    let schema = kassa::graphql::build_schema(
        d.clone(),
        std::sync::Arc::new(kassa::telemetry::Metrics::new()?),
    );
    let now = Utc::now();
    let query = format!(
        r#"{{ withdrawals(filter: {{ status: APPROVED, paymentSystems: ["paytm", "imps"], createdAt: {{ from: "{}", to: "{}" }} }}, first: 50) {{
            pageInfo {{ endCursor }} nodes {{ id amount currency recipient status postbackStatus createdAt paymentSystem {{ code }} }} }} }}"#,
        (now - chrono::TimeDelta::days(60)).to_rfc3339(),
        now.to_rfc3339()
    );
    let mut times = Vec::new();
    for _ in 0..60 {
        let mut req = async_graphql::Request::new(query.clone());
        kassa::graphql::context::request_context(
            &mut req.data,
            &d.db,
            owner(merchants[1]),
            std::net::IpAddr::from([127, 0, 0, 1]),
        );
        let t = Instant::now();
        let resp = schema.execute(req).await;
        assert!(resp.errors.is_empty(), "{:?}", resp.errors);
        times.push(t.elapsed().as_secs_f64());
    }
    println!(
        "Withdrawals page over 200,000 rows (status + systems + created range, 50 rows): p50 {:.2} ms, p99 {:.2} ms",
        pct(&mut times, 0.5) * 1e3,
        pct(&mut times, 0.99) * 1e3
    );
    Ok(())
}
