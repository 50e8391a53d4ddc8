//! `GET /graphql` in a browser: GraphiQL served from this binary. React and
//! GraphiQL are vendored production builds (`playground/assets`, pinned
//! versions, see `VERSIONS`), served same-origin with subresource integrity,
//! so the page asks no other host for anything and a tampered asset does
//! not run.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha384};
use std::sync::OnceLock;

/// (file name, content type, bytes) of every vendored asset.
const ASSETS: [(&str, &str, &[u8]); 4] = [
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../playground/assets/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../playground/assets/react-dom.production.min.js"),
    ),
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../playground/assets/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../playground/assets/graphiql.min.css"),
    ),
];

/// The examples in `playground/`, one tab each, in file order (a test
/// checks this list against the directory).
pub const EXAMPLES: [&str; 18] = [
    include_str!("../../playground/01-sign-in.graphql"),
    include_str!("../../playground/02-me-and-merchant.graphql"),
    include_str!("../../playground/03-wallets-and-payment-systems.graphql"),
    include_str!("../../playground/04-users-and-audit-log.graphql"),
    include_str!("../../playground/05-update-profile.graphql"),
    include_str!("../../playground/06-transactions-search.graphql"),
    include_str!("../../playground/07-transactions-next-page.graphql"),
    include_str!("../../playground/08-plugin-activation.graphql"),
    include_str!("../../playground/09-stockpilings.graphql"),
    include_str!("../../playground/10-postbacks.graphql"),
    include_str!("../../playground/11-withdrawals.graphql"),
    include_str!("../../playground/12-settings.graphql"),
    include_str!("../../playground/13-dashboard.graphql"),
    include_str!("../../playground/14-plugin.graphql"),
    include_str!("../../playground/15-live-events.graphql"),
    include_str!("../../playground/16-api-keys.graphql"),
    include_str!("../../playground/17-two-factor.graphql"),
    include_str!("../../playground/18-exports.graphql"),
];

/// The `integrity` value of an asset.
fn integrity(bytes: &[u8]) -> String {
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha384::digest(bytes))
    )
}

/// The header editor's first text: the credential, waiting for a token.
const DEFAULT_HEADERS: &str = "{\"Authorization\": \"Bearer \"}";

fn page() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| {
        let sri = |name: &str| {
            ASSETS
                .iter()
                .find(|(n, _, _)| *n == name)
                .map(|(_, _, b)| integrity(b))
                .unwrap_or_default()
        };
        let tabs: Vec<serde_json::Value> = EXAMPLES
            .iter()
            .map(|query| serde_json::json!({ "query": query, "headers": DEFAULT_HEADERS }))
            .collect();
        // (inside a <script>: no `</` may close it early)
        let tabs = serde_json::Value::from(tabs).to_string().replace("</", "<\\/");
        format!(
            r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="robots" content="noindex">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Kassa API playground</title>
    <style>body {{ height: 100%; margin: 0; width: 100%; overflow: hidden; }} #graphiql {{ height: 100vh; }}</style>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="/playground/assets/graphiql.min.css" integrity="{css}">
    <script src="/playground/assets/react.production.min.js" integrity="{react}"></script>
    <script src="/playground/assets/react-dom.production.min.js" integrity="{react_dom}"></script>
  </head>
  <body>
    <div id="graphiql">Loading…</div>
    <script src="/playground/assets/graphiql.min.js" integrity="{graphiql}"></script>
    <script>
      const url = new URL('/graphql', window.location.origin).toString();
      const ws = new URL('/graphql/ws', window.location.origin);
      ws.protocol = ws.protocol === 'https:' ? 'wss:' : 'ws:';
      ReactDOM.createRoot(document.getElementById('graphiql')).render(
        React.createElement(GraphiQL, {{
          fetcher: GraphiQL.createFetcher({{ url, subscriptionUrl: ws.toString() }}),
          defaultEditorToolsVisibility: true,
          defaultHeaders: {headers},
          defaultTabs: {tabs},
        }})
      );
    </script>
  </body>
</html>"#,
            css = sri("graphiql.min.css"),
            react = sri("react.production.min.js"),
            react_dom = sri("react-dom.production.min.js"),
            graphiql = sri("graphiql.min.js"),
            headers = serde_json::Value::from(DEFAULT_HEADERS),
        )
    })
}

/// The playground page, with a policy that lets it load from this origin only.
pub fn render() -> Response {
    (
        [
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'self' 'unsafe-inline'; \
                 style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                 connect-src 'self'; frame-ancestors 'none'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        Html(page()),
    )
        .into_response()
}

/// `GET /playground/assets/{name}`: a vendored asset, cached for good (a
/// new version is a new binary and a new integrity value).
pub async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
