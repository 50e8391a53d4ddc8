use crate::support::*;
use crate::transactions::{ingest, paytm};
use serde_json::{json, Value};
use std::time::Duration;

const SET_URL: &str = "mutation($u: String, $w: String) { updateSystemSettings(input: { postbackUrl: $u, withdrawalPostbackUrl: $w }) { system { postbackUrl withdrawalPostbackUrl } errors { code field message } } }";
const LOG: &str = "{ postbacks { totalCount nodes { id kind url status payload nextAttemptAt deliveredAt attempts { at responseStatus error durationMs } transactions { transactionNumber postbackStatus } } } }";

/// A server with its worker on, the receiver set as the postback URL, and a
/// completed deposit whose postback is queued.
async fn with_postback(receiver: &Receiver, overrides: &[(&str, &str)]) -> (TestApp, String) {
    let mut o = vec![
        ("KASSA_POSTBACK_WORKER", "1"),
        ("KASSA_POSTBACK_RETRY_SCHEDULE", "1s,2s"),
    ];
    o.extend_from_slice(overrides);
    let app = spawn_app_with(&o).await;
    let owner = app.login(OWNER).await;
    let body = app
        .gql(Some(&owner), SET_URL, json!({ "u": receiver.url }))
        .await;
    assert_eq!(
        body["data"]["updateSystemSettings"]["system"]["postbackUrl"],
        receiver.url.as_str(),
        "{body}"
    );
    ingest(&app, vec![paytm("PB-1", "900.00")]).await;
    let body = app.gql(None, "mutation { activateDeposit(input: { pluginKey: \"kpk_demo_shop_public_key_0001\", paymentSystem: \"paytm\", transactionNumber: \"PB-1\", label: \"zoe\", orderId: \"o-1\" }) { outcome } }", json!({})).await;
    assert_eq!(body["data"]["activateDeposit"]["outcome"], "ACTIVATED");
    (app, owner)
}

async fn log(app: &TestApp, owner: &str) -> Value {
    let body = app.gql(Some(owner), LOG, json!({})).await;
    assert!(body["errors"].is_null(), "{body}");
    body["data"]["postbacks"]["nodes"][0].clone()
}

/// Waits until the postback has `n` attempts recorded.
async fn attempts(app: &TestApp, owner: &str, n: usize) -> Value {
    for _ in 0..200 {
        let p = log(app, owner).await;
        if p["attempts"].as_array().map_or(0, |a| a.len()) >= n && p["status"] != "PENDING" {
            // The row and its attempts are read by two statements; read again
            // now that the attempt's transaction is surely committed.
            return log(app, owner).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {n} attempts: {}", log(app, owner).await);
}

#[tokio::test]
async fn a_postback_is_signed_so_an_independent_verifier_accepts_it_and_rejects_tampering() {
    let receiver = Receiver::start().await;
    let (app, owner) = with_postback(&receiver, &[]).await;
    receiver.wait_for(1).await;
    let (headers, body, _) = receiver.seen.lock().unwrap()[0].clone();
    let secret = {
        use sea_orm::EntityTrait;
        entity::merchant::Entity::find_by_id(1)
            .one(&app.deps.db)
            .await
            .unwrap()
            .unwrap()
            .postback_secret
            .into_inner()
    };
    let mut h = axum::http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        h.insert(name, headers[name].to_str().unwrap().parse().unwrap());
    }
    let wh = standardwebhooks::Webhook::new(&secret).unwrap();
    wh.verify(body.as_bytes(), &h)
        .expect("the signature verifies");
    assert!(wh
        .verify(body.replace("900.00", "9000.00").as_bytes(), &h)
        .is_err());
    assert!(
        standardwebhooks::Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap()
            .verify(body.as_bytes(), &h)
            .is_err()
    );

    let p: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(p["type"], "deposit");
    assert_eq!(p["label"], "zoe");
    assert_eq!(p["amount"], "900.00");
    assert_eq!(p["transactions"][0]["order_id"], "o-1");
    assert_eq!(headers["content-type"], "application/json");
    let logged = attempts(&app, &owner, 1).await;
    assert_eq!(logged["status"], "DELIVERED");
    assert_eq!(
        logged["payload"],
        body.as_str(),
        "the log shows the exact body sent"
    );
    assert_eq!(
        headers["webhook-id"].to_str().unwrap(),
        logged["id"].as_str().unwrap()
    );
    assert_eq!(logged["transactions"][0]["postbackStatus"], "SENT");
    assert_eq!(logged["attempts"][0]["responseStatus"], 200);

    // Rotating the secret shows the new one once; later postbacks use it.
    let body = app
        .gql(
            Some(&owner),
            "mutation { rotatePostbackSecret { secret errors { code } } }",
            json!({}),
        )
        .await;
    let fresh = body["data"]["rotatePostbackSecret"]["secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(fresh.starts_with("whsec_") && fresh != secret);
    let hint = app
        .gql(
            Some(&owner),
            "{ settings { system { postbackSecretHint } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        hint["data"]["settings"]["system"]["postbackSecretHint"],
        &fresh[fresh.len() - 4..]
    );
    let viewer = app.login(VIEWER).await;
    let body = app
        .gql(
            Some(&viewer),
            "mutation { rotatePostbackSecret { secret } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
}

#[tokio::test]
async fn failures_are_retried_on_the_schedule_with_one_webhook_id_until_sent() {
    let receiver = Receiver::start().await;
    receiver.answer(&[500, 503]);
    let (app, owner) = with_postback(&receiver, &[]).await;
    let first = attempts(&app, &owner, 1).await;
    assert_eq!(first["status"], "RETRYING");
    assert_eq!(first["attempts"][0]["responseStatus"], 500);
    assert_eq!(first["nextAttemptAt"], "2026-11-24T10:00:01Z");
    assert_eq!(first["transactions"][0]["postbackStatus"], "ERROR_SENDING");
    // Nothing more until the schedule says so.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.count(), 1);
    app.clock.advance(Duration::from_secs(1));
    let second = attempts(&app, &owner, 2).await;
    assert_eq!(second["attempts"][1]["responseStatus"], 503);
    assert_eq!(second["nextAttemptAt"], "2026-11-24T10:00:03Z");
    app.clock.advance(Duration::from_secs(2));
    let third = attempts(&app, &owner, 3).await;
    assert_eq!(third["status"], "DELIVERED", "{third}");
    assert_eq!(third["transactions"][0]["postbackStatus"], "SENT");
    assert!(third["nextAttemptAt"].is_null());
    let ids: Vec<String> = receiver
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(h, _, _)| h["webhook-id"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.iter().all(|i| i == &ids[0]));
}

#[tokio::test]
async fn when_every_attempt_fails_it_ends_failed_and_a_resend_delivers_it() {
    let receiver = Receiver::start().await;
    receiver.answer(&[500, 500, 500]);
    let (app, owner) = with_postback(&receiver, &[]).await;
    attempts(&app, &owner, 1).await;
    app.clock.advance(Duration::from_secs(1));
    attempts(&app, &owner, 2).await;
    app.clock.advance(Duration::from_secs(2));
    let failed = attempts(&app, &owner, 3).await;
    assert_eq!(failed["status"], "FAILED");
    assert_eq!(failed["transactions"][0]["postbackStatus"], "ERROR_SENDING");
    let id = failed["id"].as_str().unwrap().to_string();
    let q = "{ postbacks(filter: { status: FAILED, kind: DEPOSIT }) { totalCount } }";
    assert_eq!(
        app.gql(Some(&owner), q, json!({})).await["data"]["postbacks"]["totalCount"],
        1
    );

    let viewer = app.login(VIEWER).await;
    let resend =
        "mutation($id: ID!) { resendPostback(id: $id) { postback { status } errors { code } } }";
    assert_eq!(
        error_code(&app.gql(Some(&viewer), resend, json!({ "id": id })).await),
        Some("FORBIDDEN")
    );
    let other = app.login(OTHER_OWNER).await;
    let body = app.gql(Some(&other), resend, json!({ "id": id })).await;
    assert_eq!(
        body["data"]["resendPostback"]["errors"][0]["code"], "NOT_FOUND",
        "another merchant's postback looks missing"
    );
    let operator = app.login(OPERATOR).await;
    let body = app.gql(Some(&operator), resend, json!({ "id": id })).await;
    assert_eq!(
        body["data"]["resendPostback"]["postback"]["status"], "PENDING",
        "{body}"
    );
    let done = attempts(&app, &owner, 4).await;
    assert_eq!(done["status"], "DELIVERED");
    assert_eq!(done["transactions"][0]["postbackStatus"], "SENT");
}

#[tokio::test]
async fn a_redirect_is_not_followed() {
    let receiver = Receiver::start().await;
    receiver.answer(&[302]);
    let (app, owner) = with_postback(&receiver, &[]).await;
    let p = attempts(&app, &owner, 1).await;
    assert_eq!(p["attempts"][0]["responseStatus"], 302);
    assert_eq!(p["status"], "RETRYING");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let paths: Vec<String> = receiver
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, _, path)| path.clone())
        .collect();
    assert_eq!(paths, ["/hook"], "nothing went to the redirect target");
}

#[tokio::test]
async fn a_postback_due_without_a_url_fails_with_the_reason_and_can_be_resent() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(&[("KASSA_POSTBACK_WORKER", "1")]).await;
    let owner = app.login(OWNER).await;
    ingest(&app, vec![paytm("NOURL-1", "10")]).await;
    app.gql(None, "mutation { activateDeposit(input: { pluginKey: \"kpk_demo_shop_public_key_0001\", paymentSystem: \"paytm\", transactionNumber: \"NOURL-1\", label: \"x\" }) { outcome } }", json!({})).await;
    let mut p = Value::Null;
    for _ in 0..100 {
        p = app.gql(Some(&owner), "{ postbacks { nodes { id status lastError url attempts { at } transactions { postbackStatus } } } }", json!({})).await["data"]["postbacks"]["nodes"][0].clone();
        if p["status"] == "FAILED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(p["status"], "FAILED", "{p}");
    assert_eq!(p["lastError"], "no postback URL is set");
    assert_eq!(p["url"], "");
    assert_eq!(p["attempts"], json!([]));
    app.gql(Some(&owner), SET_URL, json!({ "u": receiver.url }))
        .await;
    app.gql(
        Some(&owner),
        "mutation($id: ID!) { resendPostback(id: $id) { errors { code } } }",
        json!({ "id": p["id"] }),
    )
    .await;
    receiver.wait_for(1).await;
}

#[tokio::test]
async fn non_public_urls_are_refused_when_saved_and_when_sent() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(&[
        ("KASSA_ALLOW_PRIVATE_URLS", "0"),
        ("KASSA_POSTBACK_WORKER", "1"),
    ])
    .await;
    let owner = app.login(OWNER).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.0.0.8/hook",
        "http://192.168.0.1/hook",
        "http://172.20.1.1/hook",
        "http://169.254.169.254/latest",
        "http://100.100.0.1/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::1]/hook",
        "http://2130706433/hook",
        "http://0x7f.1/hook",
    ] {
        let body = app.gql(Some(&owner), SET_URL, json!({ "u": url })).await;
        let p = &body["data"]["updateSystemSettings"];
        assert_eq!(p["errors"][0]["code"], "FORBIDDEN_URL", "{url}: {body}");
        assert_eq!(p["errors"][0]["field"], json!(["input", "postbackUrl"]));
        let body = app.gql(Some(&owner), SET_URL, json!({ "w": url })).await;
        assert_eq!(
            body["data"]["updateSystemSettings"]["errors"][0]["field"],
            json!(["input", "withdrawalPostbackUrl"])
        );
    }
    for url in [
        "ftp://example.com/",
        "javascript:alert(1)",
        "https://user:pw@example.com/",
    ] {
        let body = app.gql(Some(&owner), SET_URL, json!({ "u": url })).await;
        assert_eq!(
            body["data"]["updateSystemSettings"]["errors"][0]["code"], "INVALID",
            "{url}"
        );
    }
    let body = app
        .gql(
            Some(&owner),
            SET_URL,
            json!({ "u": "https://93.184.215.14/hook", "w": "" }),
        )
        .await;
    assert_eq!(
        body["data"]["updateSystemSettings"]["system"],
        json!({ "postbackUrl": "https://93.184.215.14/hook", "withdrawalPostbackUrl": null })
    );
    let operator = app.login(OPERATOR).await;
    assert_eq!(
        error_code(
            &app.gql(
                Some(&operator),
                SET_URL,
                json!({ "u": "https://93.184.215.14/x" })
            )
            .await
        ),
        Some("FORBIDDEN")
    );

    // A private address that got into the database anyway is refused at send time.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    for url in [
        receiver.url.clone(),
        receiver.url.replace("127.0.0.1", "localhost"),
    ] {
        entity::merchant::Entity::update_many()
            .col_expr(
                entity::merchant::Column::PostbackUrl,
                sea_orm::sea_query::Expr::value(Some(url.clone())),
            )
            .filter(entity::merchant::Column::Id.eq(1))
            .exec(&app.deps.db)
            .await
            .unwrap();
        let number = format!("PRIV-{}", url.len());
        ingest(&app, vec![paytm(&number, "10")]).await;
        app.gql(None, "mutation($n: String!) { activateDeposit(input: { pluginKey: \"kpk_demo_shop_public_key_0001\", paymentSystem: \"paytm\", transactionNumber: $n, label: \"x\" }) { outcome } }", json!({ "n": number })).await;
        let mut p = Value::Null;
        for _ in 0..100 {
            p = app
                .gql(
                    Some(&owner),
                    "{ postbacks(first: 1) { nodes { attempts { error responseStatus } } } }",
                    json!({}),
                )
                .await["data"]["postbacks"]["nodes"][0]
                .clone();
            if p["attempts"].as_array().is_some_and(|a| !a.is_empty()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(p["attempts"][0]["responseStatus"].is_null(), "{url}: {p}");
        assert!(p["attempts"][0]["error"].as_str().is_some(), "{url}: {p}");
    }
    assert_eq!(receiver.count(), 0, "nothing reached the private address");
}

/// A `kassa serve` process on `database_url` with its worker on.
fn serve_process_delivering(database_url: &str) -> std::process::Child {
    let (child, _) = serve_process(
        database_url,
        &[
            ("KASSA_POSTBACK_WORKER", "1"),
            ("KASSA_ALLOW_PRIVATE_URLS", "1"),
            ("KASSA_POSTBACK_LEASE", "1s"),
            ("KASSA_POSTBACK_POLL", "100ms"),
        ],
    );
    child
}

/// Queues `n` deposit postbacks through the API of `app` (whose own worker is off).
async fn queue_postbacks(app: &TestApp, receiver: &Receiver, n: usize) {
    let owner = app.login(OWNER).await;
    app.gql(Some(&owner), SET_URL, json!({ "u": receiver.url }))
        .await;
    let items: Vec<Value> = (0..n)
        .map(|i| paytm(&format!("K-{i:04}"), "10.00"))
        .collect();
    ingest(app, items).await;
    for i in 0..n {
        let body = app.gql(None, "mutation($n: String!, $l: String!) { activateDeposit(input: { pluginKey: \"kpk_demo_shop_public_key_0001\", paymentSystem: \"paytm\", transactionNumber: $n, label: $l }) { outcome } }",
            json!({ "n": format!("K-{i:04}"), "l": format!("payer-{i}") })).await;
        assert_eq!(body["data"]["activateDeposit"]["outcome"], "ACTIVATED");
    }
}

fn distinct_ids(receiver: &Receiver) -> std::collections::HashMap<String, usize> {
    let mut ids = std::collections::HashMap::new();
    for (h, _, _) in receiver.seen.lock().unwrap().iter() {
        *ids.entry(h["webhook-id"].to_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    ids
}

async fn wait_for_ids(receiver: &Receiver, n: usize) {
    let what = format!("{n} distinct postbacks arriving");
    eventually(&what, Duration::from_secs(30), async || {
        distinct_ids(receiver).len() >= n
    })
    .await;
}

#[tokio::test]
async fn a_server_killed_mid_delivery_loses_nothing_after_a_restart() {
    let receiver = Receiver::start().await;
    let app = spawn_app().await;
    queue_postbacks(&app, &receiver, 100).await;
    receiver.slow(Duration::from_millis(300));
    let mut first = serve_process_delivering(&app.database_url);
    receiver.wait_for(5).await;
    first.kill().expect("kill -9");
    first.wait().unwrap();
    let before = distinct_ids(&receiver).len();
    assert!(
        before < 100,
        "the kill came too late to test anything ({before})"
    );
    receiver.slow(Duration::ZERO);
    let mut second = serve_process_delivering(&app.database_url);
    wait_for_ids(&receiver, 100).await;
    // And the log ends with every one of them DELIVERED.
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let mut delivered = 0;
    for _ in 0..200 {
        delivered = entity::postback::Entity::find()
            .filter(entity::postback::Column::Status.eq("DELIVERED"))
            .count(&app.deps.db)
            .await
            .unwrap();
        if delivered == 100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(distinct_ids(&receiver).len(), 100);
    assert_eq!(delivered, 100);
}

#[tokio::test]
async fn two_server_processes_deliver_together_without_sending_an_attempt_twice() {
    let receiver = Receiver::start().await;
    let app = spawn_app().await;
    queue_postbacks(&app, &receiver, 200).await;
    let mut a = serve_process_delivering(&app.database_url);
    let mut b = serve_process_delivering(&app.database_url);
    wait_for_ids(&receiver, 200).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for p in [&mut a, &mut b] {
        p.kill().unwrap();
        p.wait().unwrap();
    }
    let ids = distinct_ids(&receiver);
    assert_eq!(ids.len(), 200);
    let twice: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent twice: {twice:?}");
}
