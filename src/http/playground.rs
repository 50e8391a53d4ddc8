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

/// The `integrity` value of an asset.
fn integrity(bytes: &[u8]) -> String {
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha384::digest(bytes))
    )
}

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
          defaultHeaders: '{{"Authorization": "Bearer "}}',
        }})
      );
    </script>
  </body>
</html>"#,
            css = sri("graphiql.min.css"),
            react = sri("react.production.min.js"),
            react_dom = sri("react-dom.production.min.js"),
            graphiql = sri("graphiql.min.js"),
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
