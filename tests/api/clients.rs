//! What real clients meet: every field resolves in a subscription on both
//! WebSocket protocols, the plugin key opens a socket for the public
//! subscription, CORS for listed origins only, 1012 on shutdown, codes and
//! metrics over WebSocket, and a described schema.

use crate::events::{acknowledged, next, next_for, socket, socket_init, subscribe, ws_request, Ws};
use crate::support::*;
use crate::transactions::{ingest, paytm};
use crate::withdrawals::{fund, paytm_out, CREATE};
use futures_util::SinkExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use tokio_tungstenite::tungstenite::Message;

const PLUGIN_KEY: &str = "kpk_demo_shop_public_key_0001";

/// A legacy `graphql-ws` (subscriptions-transport-ws) client.
async fn legacy_socket(app: &TestApp, token: Option<&str>) -> Ws {
    acknowledged(app, "graphql-ws", token).await
}

async fn legacy_start(ws: &mut Ws, id: &str, query: &str, variables: Value) {
    ws.send(Message::text(
        json!({ "id": id, "type": "start", "payload": { "query": query, "variables": variables } })
            .to_string(),
    ))
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
}

/// The payload of a `next` (graphql-transport-ws) or `data` (graphql-ws)
/// message, asserted free of errors.
fn clean(message: &Value, root: &str) -> Value {
    assert!(
        matches!(message["type"].as_str(), Some("next" | "data")),
        "{message}"
    );
    let payload = &message["payload"];
    assert!(payload["errors"].is_null(), "{message}");
    let data = payload["data"][root].clone();
    assert!(!data.is_null(), "{message}");
    data
}

/// The code of a refused operation's first error: an `error` message
/// carries the errors as its payload, a `next` in `payload.errors`.
fn first_code(message: &Value) -> Option<&str> {
    let errors = match message["type"].as_str() {
        Some("error") => &message["payload"],
        _ => &message["payload"]["errors"],
    };
    errors[0]["extensions"]["code"].as_str()
}

#[tokio::test]
async fn every_field_resolves_in_a_subscription_on_both_protocols() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let mut cache = HashMap::new();
    let tx = every_field(&app, &owner, "Transaction", 2, &mut cache).await;
    let wd = every_field(&app, &owner, "Withdrawal", 2, &mut cache).await;
    let ar = every_field(&app, &owner, "ActivationRequest", 2, &mut cache).await;
    assert!(
        tx.contains("stockpiling {") && tx.contains("postbacks {"),
        "{tx}"
    );
    assert!(wd.contains("createdBy {"), "{wd}");
    let tx_sub = format!(
        "subscription($f: TransactionEventFilter) {{ transactionEvents(filter: $f) {{ kind at transaction {{ {tx} }} }} }}"
    );
    let wd_sub = format!("subscription {{ withdrawalEvents {{ kind at withdrawal {{ {wd} }} }} }}");
    let ar_sub =
        format!("subscription($t: ID!) {{ activationRequestUpdated(ticket: $t) {{ {ar} }} }}");
    // an alias makes a subscription private to its socket (not shared)
    let tx_private = tx_sub.replace("transactionEvents(", "mine: transactionEvents(");

    let activated = json!({ "f": { "kinds": ["ACTIVATED"] } });
    let mut shared = socket(&app, Some(&owner)).await;
    subscribe(&mut shared, "t", &tx_sub, activated.clone()).await;
    subscribe(&mut shared, "w", &wd_sub, json!({})).await;
    let mut private = socket(&app, Some(&owner)).await;
    subscribe(&mut private, "t", &tx_private, activated.clone()).await;
    let mut legacy = legacy_socket(&app, Some(&owner)).await;
    legacy_start(&mut legacy, "t", &tx_sub, activated.clone()).await;
    legacy_start(&mut legacy, "w", &wd_sub, json!({})).await;

    // A deposit over the minimum: activated, its stockpiling completes and
    // a postback is queued, so every nested list has something in it.
    ingest(&app, vec![paytm("CLIENT-1", "5000.00")]).await;
    let body = app
        .gql(None, "mutation { activateDeposit(input: { pluginKey: \"kpk_demo_shop_public_key_0001\", paymentSystem: \"paytm\", transactionNumber: \"CLIENT-1\", label: \"lena\" }) { outcome } }", json!({}))
        .await;
    assert_eq!(
        body["data"]["activateDeposit"]["outcome"], "ACTIVATED",
        "{body}"
    );
    for (ws, root) in [
        (&mut shared, "transactionEvents"),
        (&mut private, "mine"),
        (&mut legacy, "transactionEvents"),
    ] {
        let e = clean(&next_for(ws, "t").await, root);
        let t = &e["transaction"];
        assert_eq!(t["transactionNumber"], "CLIENT-1", "{e}");
        assert_eq!(t["stockpiling"]["status"], "COMPLETED", "{e}");
        assert_eq!(t["stockpiling"]["transactions"][0]["label"], "lena", "{e}");
        assert_eq!(t["postbacks"][0]["kind"], "DEPOSIT", "{e}");
        assert_eq!(t["paymentSystem"]["code"], "paytm", "{e}");
    }

    fund(&app, "1000.00", "0").await;
    let body = app.gql(Some(&owner), CREATE, paytm_out("100.00")).await;
    assert!(
        body["data"]["createWithdrawal"]["errors"] == json!([]),
        "{body}"
    );
    for ws in [&mut shared, &mut legacy] {
        let e = clean(&next_for(ws, "w").await, "withdrawalEvents");
        assert_eq!(e["kind"], "CREATED", "{e}");
        assert_eq!(e["withdrawal"]["createdBy"]["login"], OWNER.0, "{e}");
        assert_eq!(e["withdrawal"]["paymentSystem"]["code"], "paytm", "{e}");
    }

    // An activation request followed by the payer's plugin, signed with the
    // plugin key, on both protocols.
    let merchant = app
        .gql(Some(&owner), "{ merchant { id } }", json!({}))
        .await["data"]["merchant"]["id"]
        .clone();
    app.gql(Some(app.keys.platform.as_str()), "mutation($m: ID!) { setDelayedAutoActivation(merchantId: $m, enabled: true) { errors { code } } }", json!({ "m": merchant })).await;
    let waiting = app.gql(None, "mutation { activateDeposit(input: { pluginKey: \"kpk_demo_shop_public_key_0001\", paymentSystem: \"paytm\", transactionNumber: \"CLIENT-2\", label: \"lena\" }) { ticket } }", json!({})).await;
    let ticket = waiting["data"]["activateDeposit"]["ticket"].clone();
    assert!(ticket.is_string(), "{waiting}");
    let mut plugin = socket(&app, Some(PLUGIN_KEY)).await;
    subscribe(&mut plugin, "a", &ar_sub, json!({ "t": ticket })).await;
    let mut plugin_legacy = legacy_socket(&app, Some(PLUGIN_KEY)).await;
    legacy_start(&mut plugin_legacy, "a", &ar_sub, json!({ "t": ticket })).await;
    for ws in [&mut plugin, &mut plugin_legacy] {
        let first = clean(&next_for(ws, "a").await, "activationRequestUpdated");
        assert_eq!(first["status"], "WAITING", "{first}");
    }
    ingest(&app, vec![paytm("CLIENT-2", "70.00")]).await;
    for ws in [&mut plugin, &mut plugin_legacy] {
        let settled = clean(&next_for(ws, "a").await, "activationRequestUpdated");
        assert_eq!(settled["status"], "ACTIVATED", "{settled}");
        assert_eq!(settled["amount"], "70.00", "{settled}");
        assert_eq!(settled["paymentSystem"]["code"], "paytm", "{settled}");
        assert_eq!(settled["stockpiling"]["currency"], "INR", "{settled}");
    }
}

#[tokio::test]
async fn the_plugin_key_is_a_credential_for_the_public_operations_only() {
    let app = spawn_app().await;
    // Over HTTP: public fields answer as without a credential.
    let body = app
        .gql(
            Some(PLUGIN_KEY),
            "query($k: String!) { pluginConfig(pluginKey: $k) { merchantName } }",
            json!({ "k": PLUGIN_KEY }),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
    assert!(body["data"]["pluginConfig"]["merchantName"].is_string());
    // ... and merchant data is no business of a public key.
    let body = app
        .gql(Some(PLUGIN_KEY), "{ merchant { id } }", json!({}))
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");

    // Over WebSocket: accepted, but only for the public subscription.
    let mut ws = socket(&app, Some(PLUGIN_KEY)).await;
    subscribe(
        &mut ws,
        "x",
        "subscription { transactionEvents { kind } }",
        json!({}),
    )
    .await;
    let refused = next_for(&mut ws, "x").await;
    assert_eq!(first_code(&refused), Some("FORBIDDEN"), "{refused}");

    // An unknown plugin key is refused like any bad credential.
    let mut bad = socket_init(&app, "graphql-transport-ws", Some("kpk_nobody")).await;
    assert_eq!(next(&mut bad).await, json!({ "close": 4401 }));

    // Another merchant's plugin key does not follow this merchant's requests.
    let other_key = kassa::accounts::service::create_merchant(&app.deps, "Third", None, None)
        .await
        .unwrap()
        .plugin_key;
    let owner = app.login(OWNER).await;
    let merchant = app
        .gql(Some(&owner), "{ merchant { id } }", json!({}))
        .await["data"]["merchant"]["id"]
        .clone();
    app.gql(Some(app.keys.platform.as_str()), "mutation($m: ID!) { setDelayedAutoActivation(merchantId: $m, enabled: true) { errors { code } } }", json!({ "m": merchant })).await;
    let waiting = app.gql(None, "mutation { activateDeposit(input: { pluginKey: \"kpk_demo_shop_public_key_0001\", paymentSystem: \"paytm\", transactionNumber: \"CLIENT-9\", label: \"lena\" }) { ticket } }", json!({})).await;
    let ticket = waiting["data"]["activateDeposit"]["ticket"].clone();
    let mut theirs = socket(&app, Some(&other_key)).await;
    subscribe(
        &mut theirs,
        "a",
        "subscription($t: ID!) { activationRequestUpdated(ticket: $t) { status } }",
        json!({ "t": ticket }),
    )
    .await;
    let refused = next_for(&mut theirs, "a").await;
    assert_eq!(first_code(&refused), Some("NOT_FOUND"), "{refused}");
}

#[tokio::test]
async fn errors_over_a_websocket_carry_codes_and_are_counted() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let mut ws = socket(&app, Some(&owner)).await;
    // a validation error (no resolver ran): still coded
    subscribe(
        &mut ws,
        "bad",
        "subscription Broken { transactionEvents { nope } }",
        json!({}),
    )
    .await;
    let refused = next_for(&mut ws, "bad").await;
    assert_eq!(first_code(&refused), Some("BAD_REQUEST"), "{refused}");
    // a query over the socket runs with the request context (loaders)
    ingest(
        &app,
        vec![
            paytm("SOCK-1", "10.00"),
            paytm("SOCK-2", "20.00"),
            paytm("SOCK-3", "30.00"),
        ],
    )
    .await;
    subscribe(
        &mut ws,
        "q",
        "query SocketRead { transactions(first: 3) { nodes { id stockpiling { id } postbacks { id } } } }",
        json!({}),
    )
    .await;
    let answer = next_for(&mut ws, "q").await;
    assert!(answer["payload"]["errors"].is_null(), "{answer}");
    assert_eq!(
        answer["payload"]["data"]["transactions"]["nodes"]
            .as_array()
            .map(Vec::len),
        Some(3),
        "{answer}"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("kassa_graphql_requests_total{operation=\"SocketRead\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("kassa_graphql_errors_total{code=\"BAD_REQUEST\",operation=\"Broken\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn sockets_close_with_1012_when_the_server_shuts_down() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let mut ws = socket(&app, Some(&owner)).await;
    subscribe(
        &mut ws,
        "t",
        "subscription { transactionEvents { kind } }",
        json!({}),
    )
    .await;
    let mut legacy = legacy_socket(&app, Some(&owner)).await;
    let _dir = app.shut_down();
    assert_eq!(next(&mut ws).await, json!({ "close": 1012 }));
    assert_eq!(next(&mut legacy).await, json!({ "close": 1012 }));
}

const ORIGIN: &str = "http://app.example.test:5173";

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.http
        .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.url))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,x-kassa-csrf",
        )
        .send()
        .await
        .unwrap()
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn ws_status(app: &TestApp, origin: Option<&str>) -> u16 {
    let mut req = ws_request(app, "graphql-transport-ws");
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => r.status().as_u16(),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn cross_origin_calls_are_allowed_for_listed_origins_only() {
    let app = spawn_app_with(&[(
        "KASSA_CORS_ORIGINS",
        "http://app.example.test:5173, https://admin.example.test",
    )])
    .await;
    let allowed = preflight(&app, ORIGIN).await;
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(
        header(&allowed, "access-control-allow-origin"),
        Some(ORIGIN)
    );
    let headers = header(&allowed, "access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    for h in ["authorization", "content-type", "x-kassa-csrf"] {
        assert!(headers.contains(h), "{headers}");
    }
    assert!(header(&allowed, "access-control-allow-methods")
        .unwrap_or_default()
        .contains("POST"));
    assert_eq!(header(&allowed, "access-control-allow-credentials"), None);

    let refused = preflight(&app, "http://evil.example.test").await;
    assert_eq!(header(&refused, "access-control-allow-origin"), None);
    // a prefix or a different port is a different origin
    let refused = preflight(&app, "http://app.example.test:5174").await;
    assert_eq!(header(&refused, "access-control-allow-origin"), None);

    let post = app
        .http
        .post(format!("{}/graphql", app.url))
        .header("origin", ORIGIN)
        .json(&json!({ "query": "{ paymentSystems { code } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&post, "access-control-allow-origin"), Some(ORIGIN));

    // The WebSocket: listed origins, this server's own pages, and clients
    // that are not browsers (no Origin); no one else.
    assert_eq!(ws_status(&app, Some(ORIGIN)).await, 101);
    assert_eq!(ws_status(&app, Some(&app.url)).await, 101);
    assert_eq!(ws_status(&app, None).await, 101);
    assert_eq!(ws_status(&app, Some("http://evil.example.test")).await, 403);
    assert_eq!(ws_status(&app, Some("null")).await, 403);

    // By default no origin is listed.
    let plain = spawn_app().await;
    let refused = preflight(&plain, ORIGIN).await;
    assert_eq!(header(&refused, "access-control-allow-origin"), None);
    assert_eq!(ws_status(&plain, Some(ORIGIN)).await, 403);
    assert_eq!(ws_status(&plain, Some(&plain.url)).await, 101);
}

#[test]
fn cors_origins_must_be_exact() {
    for bad in [
        "https://*.example.com",
        "https://example.com/app",
        "example.com",
        "ftp://example.com",
        "https://user@example.com",
    ] {
        let err = kassa::config::Config::from_lookup(|k| {
            (k == "KASSA_CORS_ORIGINS").then(|| bad.to_string())
        })
        .err()
        .unwrap_or_else(|| panic!("{bad} accepted"));
        assert!(err.to_string().contains("KASSA_CORS_ORIGINS"), "{err}");
    }
    let ok = kassa::config::Config::from_lookup(|k| {
        (k == "KASSA_CORS_ORIGINS")
            .then(|| "https://App.Example.com/, http://localhost:3000".into())
    })
    .unwrap();
    assert_eq!(
        ok.cors_origins,
        ["https://app.example.com", "http://localhost:3000"]
    );
}

#[test]
fn every_type_field_argument_and_enum_value_is_described() {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let doc = async_graphql::parser::parse_schema(kassa::graphql::sdl()).unwrap();
    let mut missing = Vec::new();
    let mut seen = 0;
    for def in doc.definitions {
        let TypeSystemDefinition::Type(t) = def else {
            continue;
        };
        let t = t.node;
        let name = t.name.node.to_string();
        seen += 1;
        if t.description.is_none() {
            missing.push(name.clone());
        }
        match t.kind {
            TypeKind::Object(o) => {
                for f in o.fields {
                    let f = f.node;
                    if f.description.is_none() {
                        missing.push(format!("{name}.{}", f.name.node));
                    }
                    for a in f.arguments {
                        if a.node.description.is_none() {
                            missing.push(format!("{name}.{}({})", f.name.node, a.node.name.node));
                        }
                    }
                }
            }
            TypeKind::InputObject(i) => {
                for f in i.fields {
                    if f.node.description.is_none() {
                        missing.push(format!("{name}.{}", f.node.name.node));
                    }
                }
            }
            TypeKind::Enum(e) => {
                for v in e.values {
                    if v.node.description.is_none() {
                        missing.push(format!("{name}.{}", v.node.value.node));
                    }
                }
            }
            _ => {}
        }
    }
    assert!(seen > 100, "the schema was read ({seen} types)");
    assert!(
        missing.is_empty(),
        "{} without a description: {missing:?}",
        missing.len()
    );
}

/// `ofType` nested `n` deep, as graphql-js's TypeRef fragment does.
fn of_type(n: usize) -> String {
    (0..n).fold("kind name".to_string(), |inner, _| {
        format!("kind name ofType {{ {inner} }}")
    })
}

#[tokio::test]
async fn standard_introspection_is_answered_and_limits_still_hold_for_everything_else() {
    let app = spawn_app().await;
    // graphql-js's depth (past MAX_DEPTH), schema only: answered.
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ args {{ type {{ {} }} }} type {{ {} }} }} }} }} }}",
        of_type(9),
        of_type(9)
    );
    let body = app.gql(None, &deep, json!({})).await;
    assert!(
        body["errors"].is_null(),
        "{}",
        &body.to_string()[..300.min(body.to_string().len())]
    );
    assert!(body["data"]["__schema"]["types"].as_array().unwrap().len() > 100);
    assert!(body["data"]["__schema"]
        .get("description")
        .is_none_or(|d| d.is_null()));
    // The same depth with data beside it: the ordinary limits apply.
    let mixed = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} }} }} }} }} me {{ login }} }}",
        of_type(9)
    );
    let owner = app.login(OWNER).await;
    let body = app.gql(Some(&owner), &mixed, json!({})).await;
    assert_eq!(error_code(&body), Some("QUERY_TOO_DEEP"), "{body}");
    // Introspection that fans out (fields of the types of fields of …) is
    // refused whatever its depth, alone or beside data.
    let fan = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }";
    let body = app.gql(None, fan, json!({})).await;
    assert_eq!(error_code(&body), Some("QUERY_TOO_DEEP"), "{body}");
    let fan_type = "{ __type(name: \"Query\") { fields { type { fields { type { fields { type { fields { name } } } } } } } } }";
    let body = app.gql(None, fan_type, json!({})).await;
    assert_eq!(error_code(&body), Some("QUERY_TOO_DEEP"), "{body}");
    // Data fields of the same names are not introspection.
    let body = app
        .gql(
            Some(&owner),
            "{ withdrawals(first: 1) { nodes { fields { name } } } }",
            json!({}),
        )
        .await;
    assert!(body["errors"].is_null(), "{body}");
}

#[tokio::test]
async fn with_introspection_off_the_standard_query_is_refused() {
    let app = spawn_app_with(&[("KASSA_INTROSPECTION", "0")]).await;
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {} }} }} }} }} }}",
        of_type(9)
    );
    let body = app.gql(None, &deep, json!({})).await;
    assert!(
        body["data"].is_null() || body["data"]["__schema"].is_null(),
        "{body}"
    );
    assert!(error_code(&body).is_some(), "{body}");
}
