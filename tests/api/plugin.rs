use crate::support::*;
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
const UPLOAD_PROMPT: &str = "mutation($ps: String!, $file: Upload!) { uploadPaymentSystemPrompt(paymentSystem: $ps, file: $file) { prompt { paymentSystem { code } imageUrl } errors { code field message } } }";
const UPDATE_LOOK: &str = "mutation($i: UpdatePluginAppearanceInput!) { updatePluginAppearance(input: $i) { pluginAppearance { theme customCssUrl prompts { paymentSystem { code } imageUrl } } errors { code field message } } }";
const CONFIG: &str = "{ pluginConfig(pluginKey: \"kpk_demo_shop_public_key_0001\") { theme customCssUrl paymentSystems { paymentSystem { code } promptImageUrl minimumDeposit } } }";

/// A GraphQL multipart request (the multipart request spec) with one file
/// at `variables.<var>` (or `variables.i.customCss`).
#[allow(clippy::too_many_arguments)]
async fn upload(
    app: &TestApp,
    token: &str,
    query: &str,
    variables: Value,
    path: &str,
    name: &str,
    mime: &str,
    bytes: Vec<u8>,
    csrf: bool,
) -> (u16, Value) {
    let form = Form::new()
        .text(
            "operations",
            json!({ "query": query, "variables": variables }).to_string(),
        )
        .text("map", json!({ "0": [path] }).to_string())
        .part(
            "0",
            Part::bytes(bytes)
                .file_name(name.to_string())
                .mime_str(mime)
                .unwrap(),
        );
    let mut req = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(token)
        .multipart(form);
    if csrf {
        req = req.header("x-kassa-csrf", "1");
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Uploads a prompt picture for `ps`: (HTTP status, body).
async fn send_prompt(
    app: &TestApp,
    token: &str,
    ps: &str,
    name: &str,
    bytes: Vec<u8>,
    csrf: bool,
) -> (u16, Value) {
    upload(
        app,
        token,
        UPLOAD_PROMPT,
        json!({ "ps": ps, "file": null }),
        "variables.file",
        name,
        "image/gif",
        bytes,
        csrf,
    )
    .await
}

async fn prompt(app: &TestApp, token: &str, ps: &str, name: &str, bytes: Vec<u8>) -> Value {
    let (status, body) = send_prompt(app, token, ps, name, bytes, true).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn css(app: &TestApp, token: &str, theme: Option<&str>, bytes: Vec<u8>) -> Value {
    let (status, body) = upload(
        app,
        token,
        UPDATE_LOOK,
        json!({ "i": { "theme": theme, "customCss": null } }),
        "variables.i.customCss",
        "look.css",
        "text/css",
        bytes,
        true,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["data"]["updatePluginAppearance"].clone()
}

/// The served file at an absolute URL of the test server: (status, headers, bytes).
async fn fetch(app: &TestApp, url: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let path = &url[url.find("/files/").expect("a /files/ URL")..];
    let resp = app
        .http
        .get(format!("{}{path}", app.url))
        .send()
        .await
        .unwrap();
    (
        resp.status().as_u16(),
        resp.headers().clone(),
        resp.bytes().await.unwrap().to_vec(),
    )
}

#[tokio::test]
async fn prompt_pictures_are_gifs_by_their_bytes_stored_and_served_with_safe_headers() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    let body = prompt(&app, &owner, "paytm", "paytm.gif", GIF.to_vec()).await;
    let p = &body["data"]["uploadPaymentSystemPrompt"];
    assert_eq!(p["errors"], json!([]), "{body}");
    assert_eq!(p["prompt"]["paymentSystem"]["code"], "paytm");
    let url = p["prompt"]["imageUrl"].as_str().unwrap().to_string();
    let (status, headers, bytes) = fetch(&app, &url).await;
    assert_eq!(status, 200);
    assert_eq!(bytes, GIF);
    assert_eq!(headers["content-type"], "image/gif");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age="));

    // The plugin and the settings page show it.
    let cfg = app.gql(None, CONFIG, json!({})).await;
    let paytm = cfg["data"]["pluginConfig"]["paymentSystems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["paymentSystem"]["code"] == "paytm")
        .unwrap()
        .clone();
    assert_eq!(paytm["promptImageUrl"], url.as_str());
    let settings = app
        .gql(
            Some(&owner),
            "{ settings { pluginAppearance { theme prompts { paymentSystem { code } imageUrl } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        settings["data"]["settings"]["pluginAppearance"]["prompts"],
        json!([{ "paymentSystem": { "code": "paytm" }, "imageUrl": url }])
    );

    // An HTML page named .gif and sent as image/gif is refused; nothing changes.
    let html = b"<html><script>alert(1)</script></html>".to_vec();
    let body = prompt(&app, &owner, "paytm", "evil.gif", html).await;
    let p = &body["data"]["uploadPaymentSystemPrompt"];
    assert_eq!(p["prompt"], Value::Null);
    assert_eq!(p["errors"][0]["code"], "UNSUPPORTED_FILE", "{body}");
    assert_eq!(p["errors"][0]["field"], json!(["file"]));
    assert_eq!(fetch(&app, &url).await.0, 200);
    // An unknown payment system.
    let body = prompt(&app, &owner, "venmo", "v.gif", GIF.to_vec()).await;
    assert_eq!(
        body["data"]["uploadPaymentSystemPrompt"]["errors"][0]["code"],
        "INVALID"
    );
    // A new picture replaces the old one, which is no longer served.
    let body = prompt(&app, &owner, "paytm", "again.gif", GIF.to_vec()).await;
    let new_url = body["data"]["uploadPaymentSystemPrompt"]["prompt"]["imageUrl"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_url, url);
    assert_eq!(fetch(&app, &url).await.0, 404);
    assert_eq!(fetch(&app, &new_url).await.0, 200);
    assert_eq!(
        app.http
            .get(format!("{}/files/..%2Fetc%2Fpasswd", app.url))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
}

#[tokio::test]
async fn the_custom_theme_needs_a_utf8_stylesheet_within_its_limit() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    // CUSTOM with no stylesheet ever uploaded.
    let body = app
        .gql(
            Some(&owner),
            UPDATE_LOOK,
            json!({ "i": { "theme": "CUSTOM" } }),
        )
        .await;
    let r = &body["data"]["updatePluginAppearance"];
    assert_eq!(r["errors"][0]["code"], "REQUIRED", "{body}");
    assert_eq!(r["errors"][0]["field"], json!(["input", "customCss"]));
    // Not UTF-8.
    let r = css(&app, &owner, Some("CUSTOM"), vec![0xff, 0xfe, 0x00, 0x41]).await;
    assert_eq!(r["errors"][0]["code"], "UNSUPPORTED_FILE", "{r}");
    // Over 256 KiB.
    let r = css(&app, &owner, Some("CUSTOM"), vec![b' '; 256 * 1024 + 1]).await;
    assert_eq!(r["errors"][0]["code"], "TOO_LARGE", "{r}");
    let look = app
        .gql(
            Some(&owner),
            "{ settings { pluginAppearance { theme customCssUrl } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        look["data"]["settings"]["pluginAppearance"],
        json!({ "theme": "LIGHT", "customCssUrl": null })
    );
    // A good one.
    let sheet = "body { color: #123; } /* ünïcödé */".as_bytes().to_vec();
    let r = css(&app, &owner, Some("CUSTOM"), sheet.clone()).await;
    assert_eq!(r["errors"], json!([]), "{r}");
    assert_eq!(r["pluginAppearance"]["theme"], "CUSTOM");
    let url = r["pluginAppearance"]["customCssUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, headers, bytes) = fetch(&app, &url).await;
    assert_eq!(status, 200);
    assert_eq!(bytes, sheet);
    assert_eq!(headers["content-type"], "text/css; charset=utf-8");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let cfg = app.gql(None, CONFIG, json!({})).await;
    assert_eq!(cfg["data"]["pluginConfig"]["theme"], "CUSTOM");
    assert_eq!(cfg["data"]["pluginConfig"]["customCssUrl"], url.as_str());
    // The theme changes alone; the stylesheet stays for later.
    let body = app
        .gql(
            Some(&owner),
            UPDATE_LOOK,
            json!({ "i": { "theme": "DARK" } }),
        )
        .await;
    let r = &body["data"]["updatePluginAppearance"]["pluginAppearance"];
    assert_eq!(r["theme"], "DARK");
    assert_eq!(r["customCssUrl"], url.as_str());
    let body = app
        .gql(
            Some(&owner),
            UPDATE_LOOK,
            json!({ "i": { "theme": "CUSTOM" } }),
        )
        .await;
    assert_eq!(body["data"]["updatePluginAppearance"]["errors"], json!([]));
}

#[tokio::test]
async fn uploads_need_the_csrf_header_the_owner_and_a_bounded_body() {
    let app = spawn_app().await;
    let owner = app.login(OWNER).await;
    // No CSRF header: refused before anything runs.
    let (status, body) = send_prompt(&app, &owner, "paytm", "p.gif", GIF.to_vec(), false).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), Some("CSRF"));
    // OPERATOR and VIEWER may not change the plugin.
    for who in [OPERATOR, VIEWER] {
        let token = app.login(who).await;
        let (_, body) = send_prompt(&app, &token, "paytm", "p.gif", GIF.to_vec(), true).await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
        let body = app
            .gql(
                Some(&token),
                UPDATE_LOOK,
                json!({ "i": { "theme": "DARK" } }),
            )
            .await;
        assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    }
    // A picture over 1 MiB.
    let mut big = GIF.to_vec();
    big.resize(1024 * 1024 + 10, 0);
    let (status, body) = send_prompt(&app, &owner, "paytm", "big.gif", big, true).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(error_code(&body), Some("TOO_LARGE"));
    // A streamed body with no length, far over the limit: the server answers
    // 413 after reading about its limit and stops reading.
    let mut sock = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {owner}\r\nx-kassa-csrf: 1\r\n\
         Content-Type: multipart/form-data; boundary=XX\r\nTransfer-Encoding: chunked\r\n\r\n",
        app.addr
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    let (mut rd, mut wr) = sock.into_split();
    let writer = tokio::spawn(async move {
        let chunk = vec![b'a'; 64 * 1024];
        let mut sent = 0usize;
        while sent < 64 * 1024 * 1024 {
            let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
            if wr.write_all(&frame).await.is_err() {
                break;
            }
            sent += chunk.len();
        }
        sent
    });
    let mut answer = vec![0u8; 512];
    let n = tokio::time::timeout(std::time::Duration::from_secs(20), rd.read(&mut answer))
        .await
        .expect("an answer before the body ends")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]).to_string();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    drop(rd);
    let sent = tokio::time::timeout(std::time::Duration::from_secs(20), writer)
        .await
        .map(|r| r.unwrap())
        .unwrap_or(0);
    assert!(sent < 64 * 1024 * 1024, "the server read the whole body");
    // Nothing was stored.
    let look = app
        .gql(
            Some(&owner),
            "{ settings { pluginAppearance { prompts { imageUrl } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        look["data"]["settings"]["pluginAppearance"]["prompts"],
        json!([])
    );
}

#[tokio::test]
async fn the_installation_snippet_carries_the_plugin_key_and_documents_its_parameters() {
    let app = spawn_app_with(&[("KASSA_PUBLIC_URL", "https://pay.example.com/")]).await;
    let viewer = app.login(VIEWER).await;
    let body = app
        .gql(
            Some(&viewer),
            "{ pluginInstallation { snippet pluginKey parameters { name required description } } }",
            json!({}),
        )
        .await;
    let p = &body["data"]["pluginInstallation"];
    assert_eq!(p["pluginKey"], kassa::demo::PLUGIN_KEY, "{body}");
    let snippet = p["snippet"].as_str().unwrap();
    assert!(snippet.contains(kassa::demo::PLUGIN_KEY), "{snippet}");
    assert!(
        snippet.contains("src=\"https://pay.example.com/plugin?"),
        "{snippet}"
    );
    assert!(
        snippet.contains("label=") && snippet.contains("order_id="),
        "{snippet}"
    );
    let params: Vec<(String, bool)> = p["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["name"].as_str().unwrap().to_string(),
                x["required"].as_bool().unwrap(),
            )
        })
        .collect();
    for name in [
        "label",
        "order_id",
        "lang",
        "wallet_type",
        "success_url",
        "fail_url",
    ] {
        assert!(
            params.iter().any(|(n, _)| n == name),
            "{name} in {params:?}"
        );
    }
    assert!(params.contains(&("label".to_string(), true)));
    // Signed out: nothing.
    let body = app
        .gql(None, "{ pluginInstallation { pluginKey } }", json!({}))
        .await;
    assert_eq!(error_code(&body), Some("UNAUTHENTICATED"));
    // An unknown plugin key has no configuration.
    let body = app
        .gql(
            None,
            "{ pluginConfig(pluginKey: \"kpk_nobody\") { theme } }",
            json!({}),
        )
        .await;
    assert!(body["data"].is_null(), "{body}");
    assert!(error_code(&body).is_some(), "{body}");
}

#[tokio::test]
async fn the_payers_page_is_served_small_static_and_under_a_strict_policy() {
    let app = spawn_app().await;
    let mut total = 0;
    for (path, kind) in [
        (
            "/plugin?plugin_key=kpk_demo_shop_public_key_0001&label=u1",
            "text/html",
        ),
        ("/plugin/plugin.js", "text/javascript"),
        ("/plugin/plugin.css", "text/css"),
    ] {
        let r = app
            .http
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers().clone();
        assert!(
            h["content-type"].to_str().unwrap().starts_with(kind),
            "{path}: {h:?}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        let csp = h["content-security-policy"].to_str().unwrap();
        for rule in [
            "default-src 'none'",
            "script-src 'self'",
            "connect-src 'self'",
            "frame-ancestors *",
        ] {
            assert!(csp.contains(rule), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        // framed on any merchant's site
        assert!(h.get("x-frame-options").is_none(), "{path}");
        total += r.bytes().await.unwrap().len();
    }
    assert!(total < 50 * 1024, "the page is {total} bytes");
    // The query is read by the page's script, never written into the HTML.
    let hostile = "%3Cscript%3Ealert(1)%3C/script%3E";
    let page = app
        .http
        .get(format!(
            "{}/plugin?plugin_key={hostile}&label={hostile}",
            app.url
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("alert(1)"));
    let plain = app.get_text("/plugin").await;
    assert_eq!(page, plain, "the same static page whatever the query");
}
