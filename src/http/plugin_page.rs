//! `GET /plugin`: the payer's page that the installation snippet frames on
//! the merchant's site. A static page (the query string is read by its
//! script, never written into the HTML), its script and stylesheet, all
//! from this server; everything else comes from the GraphQL API
//! (`pluginConfig`, `activateDeposit`, `activationRequestUpdated`).

use axum::http::header;
use axum::response::{IntoResponse, Response};

const PAGE: &str = include_str!("plugin_page/index.html");
const SCRIPT: &str = include_str!("plugin_page/plugin.js");
const STYLE: &str = include_str!("plugin_page/plugin.css");

/// Only this server: its script, its stylesheet (and the merchant's, which
/// this server stores and serves under `/files`), its pictures, its API
/// (fetch and WebSocket). Any site may frame it: that is what the snippet is.
pub const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors *";

fn asset(content_type: &'static str, body: &'static str, cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::CACHE_CONTROL, cache),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

/// The page (whatever its query: a missing or unknown plugin key is the
/// page's own message to the payer).
pub async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE, "no-cache")
}

pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT, "no-cache")
}

pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE, "no-cache")
}
