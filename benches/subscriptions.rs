//! Live events benchmark (issue 6): one `kassa serve` process on PostgreSQL +
//! Redis, N concurrent graphql-transport-ws subscribers of one merchant,
//! events at a fixed rate; latency from commit to client receipt, server CPU
//! and resident memory per idle subscriber.
//!
//!   ulimit -n 65536; cargo bench --bench subscriptions
//!   (KASSA_BENCH_SUBSCRIBERS=5000, KASSA_BENCH_RATE=200, KASSA_BENCH_SECONDS=3)

use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use kassa::auth::model::{Actor, Role};
use kassa::transactions::model::Direction;
use kassa::transactions::service::{ingest, IngestItem};
use sea_orm::{ConnectionTrait, Database};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn proc_field(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)
                .map(|v| v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let subscribers = env_or("KASSA_BENCH_SUBSCRIBERS", 5_000);
    let rate = env_or("KASSA_BENCH_RATE", 200);
    let seconds = env_or("KASSA_BENCH_SECONDS", 3);
    let base = std::env::var("KASSA_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let redis =
        std::env::var("KASSA_BENCH_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let (prefix, _) = base.rsplit_once('/').expect("a database URL");
    let admin = Database::connect(base.as_str()).await?;
    admin
        .execute_unprepared("DROP DATABASE IF EXISTS kassa_bench_subs")
        .await?;
    admin
        .execute_unprepared("CREATE DATABASE kassa_bench_subs")
        .await?;
    let url = format!("{prefix}/kassa_bench_subs");
    let lookup = |k: &str| match k {
        "DATABASE_URL" => Some(url.clone()),
        "REDIS_URL" => Some(redis.clone()),
        "KASSA_EVENTS_CHANNEL" => Some("kassa:bench".into()),
        "KASSA_SESSION_MAX" => Some("24h".into()),
        "KASSA_SESSION_IDLE" => Some("24h".into()),
        _ => None,
    };
    let d = kassa::app::deps(
        kassa::config::Config::from_lookup(lookup)?,
        Arc::new(kassa::clock::SystemClock),
    )
    .await?;
    let m = kassa::accounts::service::create_merchant(&d, "Subscribers", None, None).await?;
    kassa::catalog::service::create_wallet(&d, m.id, "paytm", "subs-paytm").await?;
    kassa::accounts::service::create_user(
        &d,
        &Actor::Cli,
        Some(m.id),
        kassa::accounts::service::NewUser {
            login: "subs@owner".into(),
            password: "SubsOwner2026x".into(),
            role: Role::Owner,
            language: None,
        },
    )
    .await?
    .map_err(|e| anyhow::anyhow!(e.message))?;
    let token = kassa::auth::service::login(&d, "subs@owner", "SubsOwner2026x", None)
        .await?
        .map_err(|e| anyhow::anyhow!(e.message))?
        .token;

    // KASSA_BENCH_INSTANCES servers on the same database and Redis channel;
    // the subscribers are split between them.
    let instances = env_or("KASSA_BENCH_INSTANCES", 1).max(1);
    let mut servers = Vec::new();
    let mut addrs = Vec::new();
    for _ in 0..instances {
        let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_kassa"))
            .env("DATABASE_URL", &url)
            .env("REDIS_URL", &redis)
            .env("KASSA_EVENTS_CHANNEL", "kassa:bench")
            .env("KASSA_SESSION_MAX", "24h")
            .env("KASSA_SESSION_IDLE", "24h")
            // One session stands for every dashboard here; real ones each
            // have their own, so lift the per-session socket cap.
            .env("KASSA_WS_PER_CLIENT", (subscribers + 16).to_string())
            .env("KASSA_BIND", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(server.stdout.take().expect("stdout")).read_line(&mut line)?;
        let started: serde_json::Value = serde_json::from_str(&line)?;
        addrs.push(
            started["listening"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches("http://")
                .to_string(),
        );
        servers.push(server);
    }
    let pids: Vec<u32> = servers.iter().map(|s| s.id()).collect();
    let rss = || pids.iter().map(|p| proc_field(*p, "VmRSS:")).sum::<u64>();
    let cpu = || pids.iter().map(|p| cpu_ticks(*p)).sum::<u64>();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss();

    // Commit instants of the events, by sequence number.
    let committed: Arc<Mutex<Vec<Option<Instant>>>> =
        Arc::new(Mutex::new(vec![None; rate * seconds]));
    // (event, receipt instant): latencies are computed once every commit
    // instant is known (a delivery can beat the ingest call's return).
    let latencies: Arc<Mutex<Vec<(usize, Instant)>>> = Arc::new(Mutex::new(Vec::new()));
    let ready = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for k in 0..subscribers {
        let (addr, token, latencies, ready, closed) = (
            addrs[k % instances].clone(),
            token.clone(),
            latencies.clone(),
            ready.clone(),
            closed.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut req = format!("ws://{addr}/graphql/ws").into_client_request().expect("request");
            req.headers_mut().insert("sec-websocket-protocol", "graphql-transport-ws".parse().expect("header"));
            let Ok((mut ws, _)) = tokio_tungstenite::connect_async(req).await else { return };
            let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
            if ws.send(Message::text(init.to_string())).await.is_err() {
                return;
            }
            let _ = ws.next().await;
            let sub = json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { transactionEvents(filter: { kinds: [CREATED] }) { transaction { transactionNumber amount } } }" } });
            if ws.send(Message::text(sub.to_string())).await.is_err() {
                return;
            }
            ready.fetch_add(1, Ordering::SeqCst);
            let mut mine = Vec::new();
            while let Some(Ok(msg)) = ws.next().await {
                match msg {
                    Message::Text(t) => {
                        let now = Instant::now();
                        if let Some(i) = t.find("SUB").and_then(|i| t[i + 3..i + 11].parse::<usize>().ok()) {
                            mine.push((i, now));
                        }
                    }
                    Message::Close(_) => {
                        closed.fetch_add(1, Ordering::SeqCst);
                        break;
                    }
                    _ => {}
                }
            }
            latencies.lock().expect("lock").extend(mine);
        }));
    }
    while ready.load(Ordering::SeqCst) < subscribers {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if clients.iter().all(|c| c.is_finished()) {
            break;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = rss();
    println!(
        "{instances} instance(s), {} subscribers connected; server RSS {} MiB → {} MiB: {:.1} KiB per idle subscriber",
        ready.load(Ordering::SeqCst),
        rss_before / 1024,
        rss_idle / 1024,
        (rss_idle.saturating_sub(rss_before)) as f64 / subscribers.max(1) as f64
    );

    // Events: one ingested transaction each, at `rate` per second.
    let cpu_start = cpu();
    let wall = Instant::now();
    let total = rate * seconds;
    let period = Duration::from_secs_f64(1.0 / rate as f64);
    let mut tick = tokio::time::interval(period);
    for i in 0..total {
        tick.tick().await;
        let item = IngestItem {
            payment_system: "paytm".into(),
            wallet_identifier: "subs-paytm".into(),
            direction: Direction::Incoming,
            amount: rust_decimal::Decimal::new(10_000, 2),
            currency: "INR".into(),
            commission: None,
            transaction_number: format!("SUB{i:08}"),
            counterparty: None,
            occurred_at: Some(Utc::now()),
            kind: None,
            originality: None,
        };
        ingest(&d, &Actor::Cli, vec![item]).await?;
        committed.lock().expect("lock")[i] = Some(Instant::now());
    }
    // Let deliveries drain.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let cpu = (cpu() - cpu_start) as f64 / 100.0;
    let elapsed = wall.elapsed().as_secs_f64();
    let closed_early = closed.load(Ordering::SeqCst);
    for mut server in servers {
        let _ = server.kill();
        let _ = server.wait();
    }
    for c in clients {
        let _ = tokio::time::timeout(Duration::from_secs(5), c).await;
    }
    let committed = committed.lock().expect("lock").clone();
    let mut lat: Vec<f64> = latencies
        .lock()
        .expect("lock")
        .iter()
        .filter_map(|(i, got)| {
            let at = committed.get(*i).copied().flatten()?;
            Some(got.saturating_duration_since(at).as_secs_f64())
        })
        .collect();
    println!(
        "{total} events at {rate}/s to {subscribers} subscribers: {} deliveries of {} expected; commit → receipt p50 {:.1} ms, p99 {:.1} ms; {} sockets closed early; servers' CPU {:.0}% of one core over {:.1} s",
        lat.len(),
        total * subscribers,
        pct(&mut lat, 0.5) * 1e3,
        pct(&mut lat, 0.99) * 1e3,
        closed_early,
        100.0 * cpu / elapsed,
        elapsed
    );
    Ok(())
}
