//! The web console at `/console`: the files of the Vite build in `console/`, embedded in the
//! binary by `build.rs`. The console is a client of the public APIs on this same listener
//! (same origin, the user's Keystone token); serving it needs no authentication, as its files
//! hold no data. Unknown paths under `/console/` answer the index (the console routes by hash,
//! but a reload of a deep link still lands on the app).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Router;

mod assets {
    include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn file(path: &str) -> Option<&'static [u8]> {
    assets::ASSETS.iter().find(|(p, _)| *p == path).map(|(_, b)| *b)
}

fn serve(path: &str) -> Response {
    let (path, body) = match file(path) {
        Some(b) => (path, b),
        // Hashed assets that do not exist are 404s; anything else is a route of the app.
        None if path.starts_with("assets/") => return (StatusCode::NOT_FOUND, "Not found").into_response(),
        None => match file("index.html") {
            Some(b) => ("index.html", b),
            None => return (StatusCode::NOT_FOUND, "Not found").into_response(),
        },
    };
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    // Vite names assets by content hash: they never change; the index always may.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if path.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; frame-ancestors 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    r
}

/// The console's routes.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/console", axum::routing::get(|| async { Redirect::permanent("/console/") }))
        .route("/console/", axum::routing::get(|| async { serve("index.html") }))
        .route(
            "/console/{*path}",
            axum::routing::get(|axum::extract::Path(p): axum::extract::Path<String>| async move { serve(&p) }),
        )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_build_is_embedded() {
        let index = std::str::from_utf8(super::file("index.html").expect("index.html embedded")).unwrap();
        assert!(index.contains("/console/assets/"), "{index}");
        assert!(super::assets::ASSETS.iter().any(|(p, _)| p.ends_with(".js")));
    }
}
