use crate::support::*;
use crate::transactions::{ingest, paytm};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An upgrade request to the server's WebSocket, asking for `protocol`.
pub fn ws_request(
    app: &TestApp,
    protocol: &str,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut req = format!("ws://{}/graphql/ws", app.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().unwrap());
    req
}

/// A socket speaking `protocol` that sent `connection_init` with `token`
/// (if any); its answer is not read.
pub async fn socket_init(app: &TestApp, protocol: &str, token: Option<&str>) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_request(app, protocol))
        .await
        .unwrap();
    let payload = token.map_or(
        json!({}),
        |t| json!({ "authorization": format!("Bearer {t}") }),
    );
    ws.send(Message::text(
        json!({ "type": "connection_init", "payload": payload }).to_string(),
    ))
    .await
    .unwrap();
    ws
}

/// A client of `protocol`, initialised with `token` (if any) and acknowledged.
pub async fn acknowledged(app: &TestApp, protocol: &str, token: Option<&str>) -> Ws {
    let mut ws = socket_init(app, protocol, token).await;
    let ack = next(&mut ws).await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    ws
}

/// A graphql-transport-ws client, initialised with `token` (if any).
pub async fn socket(app: &TestApp, token: Option<&str>) -> Ws {
    acknowledged(app, "graphql-transport-ws", token).await
}

pub async fn subscribe(ws: &mut Ws, id: &str, query: &str, variables: Value) {
    ws.send(Message::text(json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }).to_string()))
        .await
        .unwrap();
    // Give the subscription a moment to attach to the bus before events flow.
    tokio::time::sleep(Duration::from_millis(150)).await;
}

/// The next JSON message (keepalive pings skipped); a close frame as {"close": code}.
pub async fn next(ws: &mut Ws) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
            .expect("socket open")
            .expect("frame");
        match frame {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] != "ping" && v["type"] != "ka" {
                    return v;
                }
            }
            Message::Close(c) => return json!({ "close": c.map(|c| u16::from(c.code)) }),
            _ => {}
        }
    }
}

/// The next message of subscription `id` (others skipped).
pub async fn next_for(ws: &mut Ws, id: &str) -> Value {
    loop {
        let v = next(ws).await;
        if v["id"] == id || v.get("close").is_some() {
            return v;
        }
    }
}

/// Nothing arrives for a while.
async fn quiet(ws: &mut Ws) {
    if let Ok(Some(Ok(Message::Text(t)))) =
        tokio::time::timeout(Duration::from_millis(400), ws.next()).await
    {
        panic!("unexpected message: {t}");
    }
}

const TX_EVENTS: &str = "subscription($f: TransactionEventFilter) { transactionEvents(filter: $f) { kind at transaction { transactionNumber amount status label postbackStatus paymentSystem { code } } } }";

#[tokio::test]
async fn sockets_asking_for_the_same_subscription_share_it_and_keep_their_own_ids() {
    let app = spawn_app().await;
    let (first, second) = (app.login(OWNER).await, app.login(OWNER).await);
    let other = app.login(OTHER_OWNER).await;
    let mut a = socket(&app, Some(&first)).await;
    let mut b = socket(&app, Some(&second)).await;
    let mut c = socket(&app, Some(&other)).await;
    subscribe(&mut a, "a", TX_EVENTS, json!({})).await;
    subscribe(&mut b, "b", TX_EVENTS, json!({})).await;
    subscribe(&mut c, "c", TX_EVENTS, json!({})).await;
    let number = |e: &Value| {
        e["payload"]["data"]["transactionEvents"]["transaction"]["transactionNumber"].clone()
    };
    ingest(&app, vec![paytm("SHARED-1", "1.00")]).await;
    let (ea, eb) = (next_for(&mut a, "a").await, next_for(&mut b, "b").await);
    assert_eq!(
        (number(&ea), number(&eb)),
        (json!("SHARED-1"), json!("SHARED-1"))
    );
    assert_eq!(ea["type"], "next");
    // The other merchant's identical subscription hears only its own.
    ingest(&app, vec![json!({ "paymentSystem": "bkash", "walletIdentifier": "01799999999", "direction": "INCOMING",
        "amount": "2.00", "currency": "BDT", "transactionNumber": "OTHER-1" })]).await;
    assert_eq!(number(&next_for(&mut c, "c").await), "OTHER-1");
    // One member completes; the other goes on; the id can be used again.
    a.send(Message::text(
        json!({ "id": "a", "type": "complete" }).to_string(),
    ))
    .await
    .unwrap();
    ingest(&app, vec![paytm("SHARED-2", "1.00")]).await;
    assert_eq!(number(&next_for(&mut b, "b").await), "SHARED-2");
    subscribe(&mut a, "a", TX_EVENTS, json!({})).await;
    ingest(&app, vec![paytm("SHARED-3", "1.00")]).await;
    assert_eq!(number(&next_for(&mut a, "a").await), "SHARED-3");
    assert_eq!(number(&next_for(&mut b, "b").await), "SHARED-3");
    // Bad input is an error for that id only.
    subscribe(
        &mut a,
        "bad",
        TX_EVENTS,
        json!({ "f": { "kinds": ["NOPE"] } }),
    )
    .await;
    let e = next_for(&mut a, "bad").await;
    assert_eq!(e["type"], "error", "{e}");
    // The same id twice: 4409.
    subscribe(&mut b, "b", TX_EVENTS, json!({})).await;
    assert_eq!(next_for(&mut b, "none").await, json!({ "close": 4409 }));
}

#[tokio::test]
async fn transaction_events_reach_their_own_merchant_only() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let other = app.login(OTHER_OWNER).await;
    let mut mine = socket(&app, Some(&owner)).await;
    let mut theirs = socket(&app, Some(&other)).await;
    let mut activations = socket(&app, Some(&app.keys.merchant)).await;
    subscribe(&mut mine, "1", TX_EVENTS, json!({})).await;
    subscribe(&mut theirs, "1", TX_EVENTS, json!({})).await;
    subscribe(
        &mut activations,
        "a",
        TX_EVENTS,
        json!({ "f": { "kinds": ["ACTIVATED"] } }),
    )
    .await;

    ingest(&app, vec![paytm("EV-1", "77.00")]).await;
    let created = next(&mut mine).await;
    assert_eq!(created["id"], "1");
    let e = &created["payload"]["data"]["transactionEvents"];
    assert_eq!(e["kind"], "CREATED", "{created}");
    assert_eq!(e["transaction"]["transactionNumber"], "EV-1");
    assert_eq!(e["transaction"]["amount"], "77.00");
    assert_eq!(e["transaction"]["status"], "NOT_ACTIVATED");
    assert_eq!(e["transaction"]["paymentSystem"]["code"], "paytm");

    app.gql(None, "mutation { activateDeposit(input: { pluginKey: \"kpk_demo_shop_public_key_0001\", paymentSystem: \"paytm\", transactionNumber: \"EV-1\", label: \"sam\" }) { outcome } }", json!({})).await;
    let activated = next(&mut mine).await;
    let e = &activated["payload"]["data"]["transactionEvents"];
    assert_eq!(e["kind"], "ACTIVATED");
    assert_eq!(e["transaction"]["label"], "sam");
    assert_eq!(
        e["transaction"]["postbackStatus"], "QUEUED",
        "the object as it stood right after the change"
    );
    // The MERCHANT key's filtered subscription saw only the activation.
    let only = next(&mut activations).await;
    assert_eq!(
        only["payload"]["data"]["transactionEvents"]["kind"],
        "ACTIVATED"
    );

    let id = app
        .gql(Some(&owner), "{ transactions { nodes { id } } }", json!({}))
        .await["data"]["transactions"]["nodes"][0]["id"]
        .clone();
    app.gql(Some(app.keys.platform.as_str()), "mutation($id: ID!) { setTransactionOriginality(id: $id, originality: SCAM) { errors { code } } }", json!({ "id": id })).await;
    assert_eq!(
        next(&mut mine).await["payload"]["data"]["transactionEvents"]["kind"],
        "ORIGINALITY_CHANGED"
    );
    quiet(&mut theirs).await;
}

#[tokio::test]
async fn subscriptions_need_a_credential_and_an_activation_request_can_be_followed() {
    let app = spawn_app().await;
    let mut anon = socket(&app, None).await;
    anon.send(Message::text(
        json!({ "id": "x", "type": "subscribe", "payload": { "query": TX_EVENTS } }).to_string(),
    ))
    .await
    .unwrap();
    let refused = next(&mut anon).await;
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{refused}"
    );

    let merchant = app
        .gql(
            Some(&app.login(OWNER).await),
            "{ merchant { id } }",
            json!({}),
        )
        .await["data"]["merchant"]["id"]
        .clone();
    app.gql(Some(app.keys.platform.as_str()), "mutation($m: ID!) { setDelayedAutoActivation(merchantId: $m, enabled: true) { errors { code } } }", json!({ "m": merchant })).await;
    let waiting = app.gql(None, "mutation { activateDeposit(input: { pluginKey: \"kpk_demo_shop_public_key_0001\", paymentSystem: \"paytm\", transactionNumber: \"FOLLOW-1\", label: \"kim\" }) { ticket } }", json!({})).await;
    let ticket = waiting["data"]["activateDeposit"]["ticket"]
        .as_str()
        .unwrap()
        .to_string();
    subscribe(&mut anon, "t", "subscription($t: ID!) { activationRequestUpdated(ticket: $t) { status transactionNumber amount } }", json!({ "t": ticket })).await;
    let first = next_for(&mut anon, "t").await;
    assert_eq!(
        first["payload"]["data"]["activationRequestUpdated"]["status"], "WAITING",
        "{first}"
    );
    ingest(&app, vec![paytm("FOLLOW-1", "321.00")]).await;
    let settled = next_for(&mut anon, "t").await;
    assert_eq!(
        settled["payload"]["data"]["activationRequestUpdated"]["status"], "ACTIVATED",
        "{settled}"
    );
    assert_eq!(
        settled["payload"]["data"]["activationRequestUpdated"]["amount"],
        "321.00"
    );
    let done = next_for(&mut anon, "t").await;
    assert_eq!(
        done,
        json!({ "id": "t", "type": "complete" }),
        "the subscription ends once settled"
    );
}

#[tokio::test]
async fn withdrawal_events_follow_creation_and_decision() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    ingest(&app, vec![paytm("WE-1", "500.00")]).await;
    app.gql(None, "mutation { activateDeposit(input: { pluginKey: \"kpk_demo_shop_public_key_0001\", paymentSystem: \"paytm\", transactionNumber: \"WE-1\", label: \"x\" }) { outcome } }", json!({})).await;
    let mut ws = socket(&app, Some(&owner)).await;
    subscribe(
        &mut ws,
        "w",
        "subscription { withdrawalEvents { kind withdrawal { id status amount } } }",
        json!({}),
    )
    .await;
    let body = app.gql(Some(&owner), "mutation { createWithdrawal(input: { paymentSystem: \"paytm\", amount: \"100\", recipient: \"9876543210\" }) { withdrawal { id } } }", json!({})).await;
    let id = body["data"]["createWithdrawal"]["withdrawal"]["id"].clone();
    let created = next(&mut ws).await;
    assert_eq!(
        created["payload"]["data"]["withdrawalEvents"]["kind"],
        "CREATED"
    );
    app.gql(Some(app.keys.platform.as_str()), "mutation($id: ID!) { setWithdrawalStatus(input: { id: $id, status: APPROVED }) { errors { code } } }", json!({ "id": id })).await;
    let changed = next(&mut ws).await;
    assert_eq!(
        changed["payload"]["data"]["withdrawalEvents"]["kind"],
        "STATUS_CHANGED"
    );
    assert_eq!(
        changed["payload"]["data"]["withdrawalEvents"]["withdrawal"]["status"],
        "APPROVED"
    );
}

#[tokio::test]
async fn ending_a_session_closes_its_sockets_with_4401() {
    let app = spawn_app().await;
    let token = app.login(VIEWER).await;
    let mut ws = socket(&app, Some(&token)).await;
    subscribe(&mut ws, "1", TX_EVENTS, json!({})).await;
    app.gql(Some(&token), "mutation { logout }", json!({}))
        .await;
    assert_eq!(next(&mut ws).await, json!({ "close": 4401 }));

    // Disabling the user does too.
    let token = app.login(OPERATOR).await;
    let mut ws = socket(&app, Some(&token)).await;
    let owner = app.login(OWNER).await;
    let id = app.gql(Some(&token), "{ me { id } }", json!({})).await["data"]["me"]["id"].clone();
    app.gql(
        Some(&owner),
        "mutation($id: ID!) { setUserDisabled(id: $id, disabled: true) { errors { code } } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(next(&mut ws).await, json!({ "close": 4401 }));
}

#[tokio::test]
async fn a_session_that_expires_closes_its_sockets_with_4401() {
    let app = spawn_app_with(&[("KASSA_SESSION_CHECK", "100ms")]).await;
    let token = app.login(VIEWER).await;
    let mut ws = socket(&app, Some(&token)).await;
    subscribe(&mut ws, "1", TX_EVENTS, json!({})).await;
    // An open subscription is not activity: 15 idle minutes end the session.
    app.clock.advance(Duration::from_secs(16 * 60));
    assert_eq!(next(&mut ws).await, json!({ "close": 4401 }));
}

#[tokio::test]
async fn an_event_made_in_one_server_process_reaches_a_subscriber_of_another() {
    let Ok(redis) = std::env::var("KASSA_TEST_REDIS_URL") else {
        println!("skipped (fan-out between instances): needs KASSA_TEST_DATABASE_URL and KASSA_TEST_REDIS_URL, as .ci/run sets them");
        return;
    };
    let a = spawn_app().await;
    // A second `kassa serve` process on the same database and Redis channel.
    let channel = format!("kassa:test:{}", a.database_url);
    let (mut child, url) = serve_process(
        &a.database_url,
        &[("REDIS_URL", &redis), ("KASSA_EVENTS_CHANNEL", &channel)],
    );
    let url = url.replace("http://", "ws://");
    // The process runs on the wall clock, the test server on its own: a
    // MERCHANT key is valid on both.
    let mut req = format!("{url}/graphql/ws").into_client_request().unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::text(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", a.keys.merchant) } }).to_string())).await.unwrap();
    assert_eq!(next(&mut ws).await["type"], "connection_ack");
    subscribe(&mut ws, "1", TX_EVENTS, json!({})).await;
    // The child subscribes to Redis as it starts; give it a moment.
    let mut got = None;
    for attempt in 0..20 {
        ingest(&a, vec![paytm(&format!("PROCESS-{attempt}"), "9.00")]).await;
        if let Ok(Some(Ok(Message::Text(t)))) =
            tokio::time::timeout(Duration::from_millis(500), ws.next()).await
        {
            got = Some(serde_json::from_str::<Value>(&t).unwrap());
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let e = got.expect("an event from the other process");
    assert_eq!(e["type"], "next", "{e}");
    assert!(
        e["payload"]["data"]["transactionEvents"]["transaction"]["transactionNumber"]
            .as_str()
            .unwrap()
            .starts_with("PROCESS-")
    );
}

#[tokio::test]
async fn with_redis_unreachable_the_api_and_local_events_keep_working() {
    let app = spawn_app_with(&[("REDIS_URL", "redis://127.0.0.1:1")]).await;
    let owner = app.login(OWNER).await;
    let mut ws = socket(&app, Some(&owner)).await;
    subscribe(&mut ws, "1", TX_EVENTS, json!({})).await;
    ingest(&app, vec![paytm("DEGRADED-1", "5.00")]).await;
    let e = next(&mut ws).await;
    assert_eq!(
        e["payload"]["data"]["transactionEvents"]["transaction"]["transactionNumber"],
        "DEGRADED-1"
    );
    assert!(!app.deps.bus.connected());
}

#[tokio::test]
async fn an_event_committed_on_one_instance_reaches_subscribers_on_another() {
    let Ok(redis) = std::env::var("KASSA_TEST_REDIS_URL") else {
        println!("skipped (fan-out between instances): needs KASSA_TEST_DATABASE_URL and KASSA_TEST_REDIS_URL, as .ci/run sets them");
        return;
    };
    let a = spawn_app().await;
    // A second server on the same database and the same Redis channel.
    let config = config(
        &a.database_url,
        &[
            ("REDIS_URL", redis.as_str()),
            (
                "KASSA_EVENTS_CHANNEL",
                &format!("kassa:test:{}", a.database_url),
            ),
        ],
    );
    let deps = kassa::app::deps(config, a.clock.clone()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = kassa::app::AppState::new(deps.clone()).unwrap();
    tokio::spawn(kassa::app::run(listener, state, std::future::pending()));
    eventually("both buses connect", Duration::from_secs(5), async || {
        deps.bus.connected() && a.deps.bus.connected()
    })
    .await;
    let token = a.login(OWNER).await;
    let mut req = format!("ws://{addr}/graphql/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws.send(Message::text(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }).to_string())).await.unwrap();
    assert_eq!(next(&mut ws).await["type"], "connection_ack");
    subscribe(&mut ws, "1", TX_EVENTS, json!({})).await;
    ingest(&a, vec![paytm("FANOUT-1", "9.00")]).await;
    let e = next(&mut ws).await;
    assert_eq!(
        e["payload"]["data"]["transactionEvents"]["transaction"]["transactionNumber"], "FANOUT-1",
        "{e}"
    );
}

#[tokio::test]
async fn an_activation_and_its_postback_status_arrive_in_order() {
    let receiver = Receiver::start().await;
    let app = spawn_app_with(&[("KASSA_POSTBACK_WORKER", "1")]).await;
    let owner = app.login(OWNER).await;
    app.gql(Some(&owner), "mutation($u: String) { updateSystemSettings(input: { postbackUrl: $u }) { errors { code } } }", json!({ "u": receiver.url })).await;
    ingest(&app, vec![paytm("ORDER-1", "50.00")]).await;
    let mut ws = socket(&app, Some(&owner)).await;
    subscribe(
        &mut ws,
        "1",
        TX_EVENTS,
        json!({ "f": { "kinds": ["ACTIVATED", "POSTBACK_STATUS_CHANGED"] } }),
    )
    .await;
    app.gql(None, "mutation { activateDeposit(input: { pluginKey: \"kpk_demo_shop_public_key_0001\", paymentSystem: \"paytm\", transactionNumber: \"ORDER-1\", label: \"o\" }) { outcome } }", json!({})).await;
    let first = next(&mut ws).await;
    assert_eq!(
        first["payload"]["data"]["transactionEvents"]["kind"],
        "ACTIVATED"
    );
    let second = next(&mut ws).await;
    let e = &second["payload"]["data"]["transactionEvents"];
    assert_eq!(e["kind"], "POSTBACK_STATUS_CHANGED", "{second}");
    assert_eq!(e["transaction"]["postbackStatus"], "SENT");
}

/// A redis-server of this test's own, on a free port.
struct OwnRedis {
    port: u16,
    child: std::process::Child,
}

impl OwnRedis {
    /// Whether `redis-server` can be started here; says once how to run the
    /// tests that need it when it cannot.
    fn available(test: &str) -> bool {
        let found = std::process::Command::new("redis-server")
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            println!(
                "skipped {test}: needs redis-server on PATH (apt-get install redis-server); .ci/run runs it"
            );
        }
        found
    }

    fn start(port: Option<u16>) -> OwnRedis {
        let port = port.unwrap_or_else(|| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        });
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        OwnRedis { port, child }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test]
async fn events_survive_redis_going_away_and_flow_again_when_it_returns() {
    if !OwnRedis::available("events_survive_redis_going_away…") {
        return;
    }
    let mut redis = OwnRedis::start(None);
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let app = spawn_app_with(&[
        ("REDIS_URL", url.as_str()),
        ("KASSA_EVENTS_CHANNEL", "kassa:own"),
    ])
    .await;
    eventually("the bus connects", Duration::from_secs(10), async || {
        app.deps.bus.connected()
    })
    .await;
    let owner = app.login(OWNER).await;
    let mut ws = socket(&app, Some(&owner)).await;
    subscribe(&mut ws, "1", TX_EVENTS, json!({})).await;
    ingest(&app, vec![paytm("R-1", "1.00")]).await;
    assert_eq!(
        next(&mut ws).await["payload"]["data"]["transactionEvents"]["transaction"]
            ["transactionNumber"],
        "R-1"
    );

    redis.stop();
    eventually("the bus notices", Duration::from_secs(10), async || {
        !app.deps.bus.connected()
    })
    .await;
    // Mutations go on, and this instance's subscribers still hear them.
    let r = ingest(&app, vec![paytm("R-2", "2.00")]).await;
    assert_eq!(r[0]["outcome"], "CREATED");
    assert_eq!(
        next(&mut ws).await["payload"]["data"]["transactionEvents"]["transaction"]
            ["transactionNumber"],
        "R-2"
    );

    let _back = OwnRedis::start(Some(redis.port));
    eventually("the bus reconnects", Duration::from_secs(10), async || {
        app.deps.bus.connected()
    })
    .await;
    // Subscribers are told to resync (their streams complete, the socket
    // closes with 1012), then events flow again.
    assert_eq!(
        next_for(&mut ws, "no such id").await,
        json!({ "close": 1012 })
    );
    let mut ws = socket(&app, Some(&owner)).await;
    subscribe(&mut ws, "1", TX_EVENTS, json!({})).await;
    ingest(&app, vec![paytm("R-3", "3.00")]).await;
    assert_eq!(
        next(&mut ws).await["payload"]["data"]["transactionEvents"]["transaction"]
            ["transactionNumber"],
        "R-3"
    );
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_is_closed_with_1013() {
    // The in-process bus publishes a batch's events in one burst, which is
    // what makes a subscriber fall behind on cue; with Redis the same local
    // channel is fed one message at a time and the burst is paced.
    let app = spawn_app_with(&[("KASSA_EVENT_BUFFER", "8"), ("REDIS_URL", "")]).await;
    let owner = app.login(OWNER).await;
    let mut ws = socket(&app, Some(&owner)).await;
    subscribe(&mut ws, "1", TX_EVENTS, json!({})).await;
    // One ingest publishes 200 events at once: far more than 8 can wait.
    let items: Vec<Value> = (0..200)
        .map(|i| paytm(&format!("FLOOD-{i}"), "1.00"))
        .collect();
    ingest(&app, items).await;
    assert_eq!(
        next_for(&mut ws, "no such id").await,
        json!({ "close": 1013 })
    );
    // The API goes on.
    assert!(
        app.gql(Some(&owner), "{ me { login } }", json!({})).await["data"]["me"]["login"]
            .is_string()
    );
}

/// An event in another format on the channel (a rolling deploy mixing
/// releases) is counted and makes every subscriber resync (1012) instead of
/// vanishing; events in this format go on flowing.
#[tokio::test]
async fn an_event_this_instance_cannot_read_makes_subscribers_resync() {
    let Ok(redis) = std::env::var("KASSA_TEST_REDIS_URL") else {
        println!("skipped (event format on Redis): needs KASSA_TEST_REDIS_URL, as .ci/run sets it");
        return;
    };
    let channel = format!("kassa:test:format:{}", std::process::id());
    let app = spawn_app_with(&[
        ("REDIS_URL", redis.as_str()),
        ("KASSA_EVENTS_CHANNEL", channel.as_str()),
    ])
    .await;
    eventually("the bus listens", Duration::from_secs(10), async || {
        app.deps.bus.connected()
    })
    .await;
    let owner = app.login(OWNER).await;
    let mut ws = socket(&app, Some(&owner)).await;
    subscribe(&mut ws, "1", TX_EVENTS, json!({})).await;
    let client = redis::Client::open(redis.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let foreign = json!({ "v": 2, "event": { "Transaction": { "future": true } } }).to_string();
    let _: i64 = redis::cmd("PUBLISH")
        .arg(&channel)
        .arg(&foreign)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(next(&mut ws).await, json!({ "close": 1012 }));
    let stats = &app.deps.bus.stats;
    assert_eq!(
        stats.undecodable.load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    // the client reconnects and events flow again
    let mut ws = socket(&app, Some(&owner)).await;
    subscribe(&mut ws, "1", TX_EVENTS, json!({})).await;
    ingest(&app, vec![paytm("FORMAT-1", "9.00")]).await;
    let e = next(&mut ws).await;
    assert_eq!(
        e["payload"]["data"]["transactionEvents"]["transaction"]["transactionNumber"], "FORMAT-1",
        "{e}"
    );
    let metrics = app.get_text("/metrics").await;
    assert!(
        metrics.contains("kassa_bus_events_undecodable_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("kassa_bus_events_received_total 1"),
        "{metrics}"
    );
}
