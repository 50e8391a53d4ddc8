//! The delivery pipeline under trouble: a hanging endpoint holds only its
//! own merchant's slots, a failing one opens its circuit and recovers with
//! nothing lost, a fresh demo sends nothing, test postbacks, and shutdown
//! handing claims to another instance.

use crate::support::*;
use crate::transactions::{ingest, paytm};
use entity::postback::{PostbackDeliveryStatus, PostbackKind};
use entity::postback_endpoint::PostbackCircuit;
use kassa::app::{self, AppState};
use kassa::clock::Clock;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{json, Value};
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

const SET_URL: &str = "mutation($u: String) { updateSystemSettings(input: { postbackUrl: $u }) { system { postbackUrl } errors { code field message } } }";
const HEALTH: &str = "{ settings { system { postbackEndpointHealth { url kinds circuit consecutiveFailures nextProbeAt lastFailureAt lastSuccessAt lastError } } } }";

/// `n` due DEPOSIT postbacks for `merchant`, written straight into the outbox.
async fn due_postbacks(app: &TestApp, merchant: i64, n: usize) -> Vec<i64> {
    let now = app.clock.now();
    let rows: Vec<entity::postback::ActiveModel> = (0..n)
        .map(|i| entity::postback::ActiveModel {
            merchant_id: Set(merchant),
            message_id: Set(format!("msg_{merchant}_{i}_{}", rand_suffix())),
            kind: Set(PostbackKind::Deposit),
            payload: Set(json!({ "type": "deposit", "n": i }).to_string()),
            status: Set(PostbackDeliveryStatus::Pending),
            attempt_count: Set(0),
            next_attempt_at: Set(Some(now)),
            created_at: Set(now),
            ..Default::default()
        })
        .collect();
    for chunk in rows.chunks(200) {
        entity::postback::Entity::insert_many(chunk.to_vec())
            .exec(&app.deps.db)
            .await
            .unwrap();
    }
    app.deps.postbacks_due.notify_one();
    entity::postback::Entity::find()
        .filter(entity::postback::Column::MerchantId.eq(merchant))
        .all(&app.deps.db)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect()
}

fn rand_suffix() -> String {
    kassa::auth::tokens::generate("")
}

async fn set_url(app: &TestApp, who: (&str, &str), url: &str) {
    let token = app.login(who).await;
    let body = app.gql(Some(&token), SET_URL, json!({ "u": url })).await;
    assert_eq!(
        body["data"]["updateSystemSettings"]["errors"],
        json!([]),
        "{body}"
    );
}

async fn status_count(app: &TestApp, merchant: i64, status: &str) -> u64 {
    entity::postback::Entity::find()
        .filter(entity::postback::Column::MerchantId.eq(merchant))
        .filter(entity::postback::Column::Status.eq(status))
        .count(&app.deps.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_hanging_endpoint_holds_only_its_own_merchants_slots() {
    let app = spawn_app_with(&[("KASSA_POSTBACK_WORKER", "1")]).await;
    let hanging = Receiver::start().await;
    hanging.slow(Duration::from_secs(3600));
    let fast = Receiver::start().await;
    // A: the other merchant, 1,000 postbacks due to an endpoint that accepts
    // and never answers.
    set_url(&app, OTHER_OWNER, &hanging.url).await;
    due_postbacks(&app, app.other_merchant_id, 1000).await;
    eventually("A's slots fill", Duration::from_secs(10), async || {
        hanging.arrived.load(SeqCst) >= 8
    })
    .await;
    // B: the demo merchant's first postback, from a real activation.
    set_url(&app, OWNER, &fast.url).await;
    ingest(&app, vec![paytm("FAIR-1", "900.00")]).await;
    let activated = Instant::now();
    let body = app.gql(None, "mutation { activateDeposit(input: { pluginKey: \"kpk_demo_shop_public_key_0001\", paymentSystem: \"paytm\", transactionNumber: \"FAIR-1\", label: \"bee\" }) { outcome } }", json!({})).await;
    assert_eq!(body["data"]["activateDeposit"]["outcome"], "ACTIVATED");
    eventually("B's postback arrives", Duration::from_secs(2), async || {
        fast.count() >= 1
    })
    .await;
    let took = activated.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        hanging.peak.load(SeqCst),
        8,
        "A is attempted at most its per-merchant limit at a time"
    );
    assert_eq!(hanging.arrived.load(SeqCst), 8);
    eprintln!("B's postback arrived {took:?} after its activation, behind 1,000 of A's hanging");
    // The backlog shows in the metrics.
    let metrics = app.metrics().await;
    assert!(metrics.contains("kassa_postbacks_due 992"), "{metrics}");
    assert!(metrics.contains("kassa_postbacks_in_flight 8"), "{metrics}");
    assert!(
        metrics.contains("kassa_postback_attempts_total{outcome=\"delivered\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_failing_endpoint_opens_its_circuit_and_recovers_losing_nothing() {
    let app = spawn_app_with(&[
        ("KASSA_POSTBACK_WORKER", "1"),
        ("KASSA_POSTBACK_CIRCUIT_FAILURES", "20"),
        ("KASSA_POSTBACK_CIRCUIT_COOLDOWN", "30s"),
        ("KASSA_POSTBACK_RETRY_SCHEDULE", "1s,2s,5s,10s"),
    ])
    .await;
    let receiver = Receiver::start().await;
    receiver.answer(&[500; 10_000]);
    set_url(&app, OTHER_OWNER, &receiver.url).await;
    let ids = due_postbacks(&app, app.other_merchant_id, 40).await;
    // 20 failures in a row open the circuit; attempts already running finish.
    eventually("the circuit opens", Duration::from_secs(10), async || {
        entity::postback_endpoint::Entity::find()
            .one(&app.deps.db)
            .await
            .unwrap()
            .is_some_and(|h| h.circuit == PostbackCircuit::Open)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let at_open = receiver.count();
    assert!(
        (20..=28).contains(&at_open),
        "{at_open} attempts: 20 open it, at most 8 were already running (peak {} at once)",
        receiver.peak.load(std::sync::atomic::Ordering::SeqCst)
    );
    let other = app.login(OTHER_OWNER).await;
    let h = app.gql(Some(&other), HEALTH, json!({})).await;
    let health = &h["data"]["settings"]["system"]["postbackEndpointHealth"][0];
    assert_eq!(health["circuit"], "OPEN", "{h}");
    assert_eq!(health["url"], receiver.url.as_str());
    assert_eq!(health["kinds"], json!(["DEPOSIT", "WITHDRAWAL"]));
    assert!(health["consecutiveFailures"].as_i64().unwrap() >= 20, "{h}");
    assert_eq!(health["lastError"], "HTTP 500");

    // Retries come due, but the circuit holds them: no attempt until the probe.
    app.clock.advance(Duration::from_secs(12));
    app.deps.postbacks_due.notify_one();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.count(), at_open, "no attempts while open");

    // The endpoint recovers; at the probe time one probe succeeds and the
    // rest follow.
    receiver.recover();
    app.clock.advance(Duration::from_secs(30));
    app.deps.postbacks_due.notify_one();
    eventually(
        "every postback delivered",
        Duration::from_secs(10),
        async || status_count(&app, app.other_merchant_id, "DELIVERED").await == ids.len() as u64,
    )
    .await;
    let h = app.gql(Some(&other), HEALTH, json!({})).await;
    let health = &h["data"]["settings"]["system"]["postbackEndpointHealth"][0];
    assert_eq!(health["circuit"], "CLOSED", "{h}");
    assert_eq!(health["consecutiveFailures"], 0);
    assert!(health["lastSuccessAt"].is_string());

    // Each postback reached the receiver exactly once per recorded attempt.
    let mut seen = std::collections::HashMap::<String, i32>::new();
    for (headers, _, _) in receiver.seen.lock().unwrap().iter() {
        *seen
            .entry(headers["webhook-id"].to_str().unwrap().to_string())
            .or_default() += 1;
    }
    let rows = entity::postback::Entity::find()
        .filter(entity::postback::Column::MerchantId.eq(app.other_merchant_id))
        .all(&app.deps.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), ids.len());
    for p in rows {
        assert_eq!(p.status, PostbackDeliveryStatus::Delivered);
        assert_eq!(
            seen.get(&p.id.to_string()).copied().unwrap_or(0),
            p.attempt_count,
            "postback {}",
            p.id
        );
        let logged = entity::postback_attempt::Entity::find()
            .filter(entity::postback_attempt::Column::PostbackId.eq(p.id))
            .count(&app.deps.db)
            .await
            .unwrap();
        assert_eq!(logged as i32, p.attempt_count);
    }
}

#[tokio::test]
async fn a_fresh_demo_server_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/fresh.db?mode=rwc", dir.path().display());
    let (mut child, base) = serve_process(
        &url,
        &[
            ("KASSA_POSTBACK_WORKER", "1"),
            ("KASSA_POSTBACK_POLL", "50ms"),
        ],
    );
    let http = reqwest::Client::new();
    let mut metrics = String::new();
    // Several poll intervals after start-up: nothing was due, nothing went out.
    for _ in 0..10 {
        metrics = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let demo_postbacks = {
        let db = sea_orm::Database::connect(&url).await.unwrap();
        entity::postback::Entity::find().count(&db).await.unwrap()
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(demo_postbacks > 0, "the demo has a delivery history");
    for line in [
        "kassa_postbacks_due 0",
        "kassa_postbacks_in_flight 0",
        "kassa_postback_attempts_total{outcome=\"delivered\"} 0",
        "kassa_postback_attempts_total{outcome=\"rejected\"} 0",
        "kassa_postback_attempts_total{outcome=\"no_answer\"} 0",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

const TEST: &str = "mutation($k: PostbackKind!) { sendTestPostback(kind: $k) { delivered httpStatus error errors { code field } } }";

#[tokio::test]
async fn a_test_postback_is_signed_sent_and_leaves_the_log_alone() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    // No URL yet: REQUIRED, nothing sent.
    let body = app.gql(Some(&owner), TEST, json!({ "k": "DEPOSIT" })).await;
    assert_eq!(
        body["data"]["sendTestPostback"]["errors"][0]["code"], "REQUIRED",
        "{body}"
    );
    let receiver = Receiver::start().await;
    receiver.answer(&[202]);
    set_url(&app, OWNER, &receiver.url).await;
    let before = entity::postback::Entity::find()
        .count(&app.deps.db)
        .await
        .unwrap();
    let body = app
        .gql(Some(&owner), TEST, json!({ "k": "WITHDRAWAL" }))
        .await;
    let sent = &body["data"]["sendTestPostback"];
    assert_eq!(
        sent,
        &json!({ "delivered": true, "httpStatus": 202, "error": null, "errors": [] }),
        "{body}"
    );
    let (headers, payload, _) = receiver.seen.lock().unwrap()[0].clone();
    let payload_json: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(payload_json["test"], true);
    assert_eq!(payload_json["type"], "withdrawal");
    let secret = entity::merchant::Entity::find_by_id(1)
        .one(&app.deps.db)
        .await
        .unwrap()
        .unwrap()
        .postback_secret
        .into_inner();
    let mut h = axum::http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        h.insert(name, headers[name].to_str().unwrap().parse().unwrap());
    }
    standardwebhooks::Webhook::new(&secret)
        .unwrap()
        .verify(payload.as_bytes(), &h)
        .expect("a valid Standard Webhooks signature");
    assert_eq!(
        entity::postback::Entity::find()
            .count(&app.deps.db)
            .await
            .unwrap(),
        before,
        "the delivery log is unchanged"
    );
    assert_eq!(
        entity::postback_attempt::Entity::find()
            .filter(entity::postback_attempt::Column::At.gte(app.clock.now()))
            .count(&app.deps.db)
            .await
            .unwrap(),
        0
    );
    // A receiver that fails: its status is the answer.
    receiver.answer(&[503]);
    let body = app.gql(Some(&owner), TEST, json!({ "k": "DEPOSIT" })).await;
    assert_eq!(body["data"]["sendTestPostback"]["delivered"], false);
    assert_eq!(body["data"]["sendTestPostback"]["httpStatus"], 503);
    // Only the OWNER.
    let viewer = app.login(VIEWER).await;
    let body = app
        .gql(Some(&viewer), TEST, json!({ "k": "DEPOSIT" }))
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
    // Ten a minute per merchant.
    let mut limited = false;
    for _ in 0..12 {
        let body = app.gql(Some(&owner), TEST, json!({ "k": "DEPOSIT" })).await;
        limited |= error_code(&body) == Some("RATE_LIMITED");
    }
    assert!(limited, "the eleventh test postback in a minute is refused");
}

#[tokio::test]
async fn a_test_postback_to_a_private_address_is_refused_like_a_delivery() {
    let app = spawn_app_with(&[("KASSA_ALLOW_PRIVATE_URLS", "0")]).await;
    let receiver = Receiver::start().await;
    // (saving it is refused; one that got into the database anyway is refused at send time)
    entity::merchant::Entity::update_many()
        .col_expr(
            entity::merchant::Column::PostbackUrl,
            sea_orm::sea_query::Expr::value(Some(receiver.url.clone())),
        )
        .filter(entity::merchant::Column::Id.eq(1))
        .exec(&app.deps.db)
        .await
        .unwrap();
    let owner = app.login(OWNER).await;
    let body = app.gql(Some(&owner), TEST, json!({ "k": "DEPOSIT" })).await;
    let sent = &body["data"]["sendTestPostback"];
    assert_eq!(sent["delivered"], false, "{body}");
    assert_eq!(
        sent["error"],
        "the postback URL points at a non-public address"
    );
    assert_eq!(receiver.count(), 0);
}

#[tokio::test]
async fn shutdown_releases_claims_and_another_instance_delivers_them_at_once() {
    let app = spawn_app_with(&[
        ("KASSA_POSTBACK_WORKER", "1"),
        ("KASSA_POSTBACK_SHUTDOWN_GRACE", "200ms"),
    ])
    .await;
    let receiver = Receiver::start().await;
    receiver.slow(Duration::from_secs(5));
    set_url(&app, OWNER, &receiver.url).await;
    let ids = due_postbacks(&app, 1, 3).await;
    eventually(
        "the first instance is delivering",
        Duration::from_secs(5),
        async || receiver.arrived.load(SeqCst) >= 3,
    )
    .await;
    // A second instance on the same database (its claims would otherwise
    // wait for the 60 s lease).
    let second = app::deps(
        config(
            &app.database_url,
            &[
                ("KASSA_POSTBACK_WORKER", "1"),
                ("KASSA_POSTBACK_POLL", "50ms"),
            ],
        ),
        app.clock.clone(),
    )
    .await
    .unwrap();
    let (stop_second, stopped) = tokio::sync::oneshot::channel::<()>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    tokio::spawn(app::run(
        listener,
        AppState::new(second.clone()).unwrap(),
        async move {
            let _ = stopped.await;
        },
    ));
    receiver.slow(Duration::ZERO);
    let db = app.deps.db.clone();
    let shut = Instant::now();
    let _dir = app.shut_down();
    let claims = || async {
        entity::postback::Entity::find()
            .filter(entity::postback::Column::ClaimedBy.is_not_null())
            .count(&db)
            .await
            .unwrap()
    };
    eventually(
        "every postback delivered by the second instance",
        Duration::from_secs(3),
        async || {
            entity::postback::Entity::find()
                .filter(entity::postback::Column::Status.eq("DELIVERED"))
                .count(&db)
                .await
                .unwrap()
                == ids.len() as u64
        },
    )
    .await;
    let took = shut.elapsed();
    assert_eq!(claims().await, 0);
    assert!(took < Duration::from_secs(3), "{took:?}");
    // The cut attempts are not in the log: each postback has the one
    // attempt the second instance made.
    for id in ids {
        let p = entity::postback::Entity::find_by_id(id)
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.attempt_count, 1, "postback {id}");
    }
    let _ = stop_second.send(());
}
