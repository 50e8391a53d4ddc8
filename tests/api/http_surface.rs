use crate::support::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

const SNEAKY: &str = r#"mutation { createUser(input: {login: "csrf@demo", password: "Csrf2026attack", role: OWNER}) { user { id } } }"#;

async fn user_count(app: &TestApp, owner: &str) -> usize {
    app.gql(Some(owner), "{ users { id } }", json!({})).await["data"]["users"]
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test]
async fn csrf_shaped_requests_do_nothing() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let before = user_count(&app, &owner).await;
    let body = json!({ "query": SNEAKY }).to_string();
    for content_type in ["text/plain", "application/x-www-form-urlencoded", ""] {
        let resp = app
            .http
            .post(format!("{}/graphql", app.url))
            .bearer_auth(&owner)
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 415, "{content_type}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(error_code(&v), Some("UNSUPPORTED_MEDIA_TYPE"));
    }
    // Multipart without the preflight header.
    let form = reqwest::multipart::Form::new()
        .text("operations", body.clone())
        .text("map", "{}");
    let resp = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(&owner)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(&resp.json().await.unwrap()), Some("CSRF"));
    // A GET never runs an operation.
    let resp = app
        .http
        .get(format!("{}/graphql", app.url))
        .bearer_auth(&owner)
        .query(&[("query", SNEAKY)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(user_count(&app, &owner).await, before);
    // ... but a query may come as a GET (GraphQL over HTTP; urql's default),
    // with its variables, and is never cached.
    let resp = app
        .http
        .get(format!("{}/graphql", app.url))
        .bearer_auth(&owner)
        .query(&[
            ("query", "query Me($n: Int) { me { login } users { login } transactions(first: $n) { totalCount } }"),
            ("variables", "{\"n\": 1}"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "private, no-store");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"]["me"]["login"], "owner@demo", "{body}");
    // a mutation picked by name out of a document is still refused
    let resp = app
        .http
        .get(format!("{}/graphql", app.url))
        .bearer_auth(&owner)
        .query(&[
            (
                "query",
                format!(
                    "query A {{ me {{ login }} }} {}",
                    SNEAKY.replacen("mutation", "mutation Sneaky", 1)
                )
                .as_str(),
            ),
            ("operationName", "Sneaky"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(user_count(&app, &owner).await, before);

    // Multipart with the header runs (the way uploads will come).
    let form = reqwest::multipart::Form::new()
        .text(
            "operations",
            json!({ "query": "{ me { login } }" }).to_string(),
        )
        .text("map", "{}");
    let resp = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(&owner)
        .header("x-kassa-csrf", "1")
        .multipart(form)
        .send()
        .await
        .unwrap();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["data"]["me"]["login"], "owner@demo", "{v}");
}

#[tokio::test]
async fn batches_deep_queries_and_alias_floods_are_refused() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let resp = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(&owner)
        .json(&json!([{ "query": "{ me { login } }" }, { "query": "{ me { login } }" }]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(error_code(&v), Some("BATCH_NOT_SUPPORTED"));
    assert!(v["data"].is_null());

    // (schema-only documents get graphql-js's introspection depth, up to 24;
    // past that, and for anything else past 12, the depth limit answers)
    let of_type = (0..30).fold("name".to_string(), |inner, _| {
        format!("ofType {{ {inner} }}")
    });
    let deep = format!("{{ __schema {{ types {{ fields {{ type {{ {of_type} }} }} }} }} }}");
    let v = app.gql(Some(&owner), &deep, json!({})).await;
    assert_eq!(error_code(&v), Some("QUERY_TOO_DEEP"), "{v}");
    assert!(v["data"].is_null());

    let flood: String = (0..31).map(|i| format!("a{i}: me {{ login }} ")).collect();
    let v = app
        .gql(Some(&owner), &format!("{{ {flood} }}"), json!({}))
        .await;
    assert_eq!(error_code(&v), Some("TOO_MANY_ALIASES"), "{v}");
    let fine: String = (0..5).map(|i| format!("a{i}: me {{ login }} ")).collect();
    let v = app
        .gql(Some(&owner), &format!("{{ {fine} }}"), json!({}))
        .await;
    assert_eq!(v["data"]["a4"]["login"], "owner@demo");
}

/// Documents are parsed once and kept by their text: a document seen before
/// still picks the operation, reads the variables and checks the caller of
/// this request, and a refused one stays refused.
#[tokio::test]
async fn a_document_seen_before_runs_as_if_new() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let two = "query Me { me { login } } query Kind { __typename }";
    let page = "query Page($t: String!) { __type(name: $t) { name } }";
    for _ in 0..3 {
        let v = app.gql_op(Some(&owner), two, "Me", json!({})).await;
        assert_eq!(v["data"]["me"]["login"], "owner@demo", "{v}");
        let v = app.gql_op(Some(&owner), two, "Kind", json!({})).await;
        assert_eq!(v["data"], json!({ "__typename": "Query" }), "{v}");
        for t in ["Query", "Mutation"] {
            let v = app
                .gql_op(Some(&owner), page, "Page", json!({ "t": t }))
                .await;
            assert_eq!(v["data"]["__type"]["name"], t, "{v}");
        }
        let v = app.gql_op(None, two, "Me", json!({})).await;
        assert_eq!(error_code(&v), Some("UNAUTHENTICATED"), "{v}");
        let v = app
            .gql_op(Some(&owner), page, "Page", json!({ "t": 1 }))
            .await;
        assert_eq!(error_code(&v), Some("BAD_REQUEST"), "{v}");
    }
    let flood: String = (0..31).map(|i| format!("a{i}: me {{ login }} ")).collect();
    for _ in 0..2 {
        let v = app
            .gql(Some(&owner), &format!("{{ {flood} }}"), json!({}))
            .await;
        assert_eq!(error_code(&v), Some("TOO_MANY_ALIASES"), "{v}");
    }
}

#[tokio::test]
async fn every_error_carries_a_code_and_no_internals() {
    let app = spawn_app().await;
    for (query, code) in [
        ("{ me { login ", "BAD_REQUEST"),
        ("{ noSuchField }", "BAD_REQUEST"),
        ("{ me { login } }", "UNAUTHENTICATED"),
    ] {
        let v = app.gql(None, query, json!({})).await;
        assert_eq!(error_code(&v), Some(code), "{query}: {v}");
        let text = v.to_string().to_lowercase();
        assert!(!text.contains("sqlx") && !text.contains("select ") && !text.contains("panicked"));
    }
    let resp = app
        .http
        .post(format!("{}/graphql", app.url))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(error_code(&resp.json().await.unwrap()), Some("BAD_REQUEST"));
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = spawn_app().await;
    let huge = format!("{{ me {{ login }} }} # {}", "x".repeat(2 * 1024 * 1024));
    let resp = app
        .http
        .post(format!("{}/graphql", app.url))
        .json(&json!({ "query": huge }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
}

#[tokio::test]
async fn health_readiness_metrics_and_playground_answer() {
    let app = spawn_app().await;
    let get = |path: &'static str| app.http.get(format!("{}{path}", app.url)).send();
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    let ready = get("/readyz").await.unwrap();
    assert_eq!(ready.status(), 200);
    let page = get("/graphql").await.unwrap().text().await.unwrap();
    assert!(
        page.contains("graphiql") && page.contains("/graphql/ws"),
        "{page}"
    );
    let body = app
        .gql(None, "query SignInCheck { me { login } }", json!({}))
        .await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("kassa_graphql_requests_total{operation=\"SignInCheck\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains(
        "kassa_graphql_errors_total{code=\"UNAUTHENTICATED\",operation=\"SignInCheck\"} 1"
    ));
    assert!(metrics.contains("kassa_graphql_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn the_playground_and_introspection_can_be_turned_off() {
    let app = spawn_app_with(&[("KASSA_PLAYGROUND", "0"), ("KASSA_INTROSPECTION", "0")]).await;
    let resp = app
        .http
        .get(format!("{}/graphql", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let v = app
        .gql(None, "{ __schema { queryType { name } } }", json!({}))
        .await;
    assert!(v["data"]["__schema"].is_null(), "{v}");
}

async fn ws_connect(
    app: &TestApp,
    protocol: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let mut req = format!("ws://{}/graphql/ws", app.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", protocol.parse().unwrap());
    let (ws, resp) = tokio_tungstenite::connect_async(req)
        .await
        .expect("ws connect");
    assert_eq!(resp.headers()["sec-websocket-protocol"], protocol);
    ws
}

async fn next_frame(
    ws: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> Message {
    tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
        .await
        .expect("a frame within 5 s")
        .expect("socket open")
        .expect("frame")
}

#[tokio::test]
async fn websocket_init_accepts_a_session_and_closes_on_a_bad_credential() {
    let app = spawn_app().await;
    let token = app.login(OWNER).await;
    for protocol in ["graphql-transport-ws", "graphql-ws"] {
        let mut ws = ws_connect(&app, protocol).await;
        ws.send(Message::text(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }).to_string()))
            .await
            .unwrap();
        match next_frame(&mut ws).await {
            Message::Text(t) => assert!(t.contains("connection_ack"), "{protocol}: {t}"),
            other => panic!("{protocol}: {other:?}"),
        }

        let mut ws = ws_connect(&app, protocol).await;
        ws.send(Message::text(json!({ "type": "connection_init", "payload": { "authorization": "Bearer kss_forged" } }).to_string()))
            .await
            .unwrap();
        let mut frame = next_frame(&mut ws).await;
        if let Message::Text(t) = &frame {
            // The legacy protocol says so in a message first.
            assert!(t.contains("connection_error"), "{protocol}: {t}");
            frame = next_frame(&mut ws).await;
        }
        match frame {
            Message::Close(Some(close)) => assert_eq!(u16::from(close.code), 4401, "{protocol}"),
            other => panic!("{protocol}: expected a close, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_checked_in_schema_is_the_exported_one() {
    let exported = kassa::graphql::sdl();
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
            .expect("schema.graphql at the repository root");
    assert!(
        exported == checked_in,
        "schema.graphql is stale: run `cargo run -- export-schema > schema.graphql`"
    );
}
