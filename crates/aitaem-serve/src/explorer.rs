//! The metrics explorer: a page at `/` to choose metrics, break them down, chart and tabulate
//! them, and share the request as a link. Its three files are built into the binary (nothing
//! is fetched from elsewhere at run time) and use only the HTTP API.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const PAGE: &str = include_str!("../explorer/index.html");
const SCRIPT: &str = include_str!("../explorer/explorer.js");
const STYLE: &str = include_str!("../explorer/explorer.css");

/// The page's own files: nothing but the assets, open without the token (the page asks for
/// it, and every request for data carries it).
pub(crate) const ASSETS: [&str; 3] = ["/", "/explorer.js", "/explorer.css"];

/// The routes of the page and its assets.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            ASSETS[0],
            get(|| async { asset(PAGE, "text/html; charset=utf-8") }),
        )
        .route(
            ASSETS[1],
            get(|| async { asset(SCRIPT, "text/javascript; charset=utf-8") }),
        )
        .route(
            ASSETS[2],
            get(|| async { asset(STYLE, "text/css; charset=utf-8") }),
        )
}

fn asset(body: &'static str, media: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    // The page runs only its own script and talks only to this server.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
