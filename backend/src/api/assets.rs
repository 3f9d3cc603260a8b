//! The built frontend: its files, and `index.html` for every other path (the app's own
//! routes, so deep links work). Routed after the API, so an unknown `/api/...` path never
//! gets here.
//!
//! A release binary carries the frontend it was built with: `backend/build.rs` lists
//! `dist/` for `memory-serve`, which embeds it (text files brotli-compressed at build time,
//! a gzip copy made at start-up) and serves it from memory: brotli, gzip or the plain bytes
//! by the request's `Accept-Encoding`, with `Vary: Accept-Encoding` and an ETag (a 304 when
//! unchanged). Hashed files (trunk names them `NAME-<hex hash>.EXT`) are `immutable`
//! for a year; `index.html`, deep links and any unhashed file are `no-cache`.
//!
//! `--dist DIR` serves DIR from disk instead, as it is (development: rebuild the frontend
//! without rebuilding the backend). A binary with nothing embedded (a debug build, or a
//! release built before the frontend) and no `--dist` answers every page with a notice
//! saying how to build one, never a blank page.

use std::path::Path;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, Response};
use memory_serve::{Asset, CacheControl, MemoryServe};
use tower_http::services::{ServeDir, ServeFile};

/// The page every route of the app is.
const INDEX: &str = "/index.html";

/// What hashed files may be cached as: their name changes with their content.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// What everything else is cached as: kept, but asked for again each time (the ETag makes
/// that a 304 when unchanged), so a new release is seen on the next load.
const REVALIDATE: &str = "no-cache";

/// The frontend `backend/build.rs` listed: empty in debug builds and in a release built
/// without `dist/`.
static EMBEDDED: &[Asset] = include!(concat!(env!("OUT_DIR"), "/frontend_assets.rs"));

/// The frontend to serve: `dist` when given, else the embedded one, else a notice.
pub(super) fn router(dist: Option<&Path>) -> Router {
    if let Some(dist) = dist {
        return from_disk(dist);
    }
    if let Some(router) = embedded(EMBEDDED) {
        tracing::info!(
            files = EMBEDDED.len(),
            "serving the frontend built into this binary"
        );
        return router;
    }
    let why = if cfg!(debug_assertions) {
        tracing::warn!(
            "a debug build embeds no frontend and no --dist was given; serving a notice instead"
        );
        "This is a debug build of etcdeck, which has no frontend built in. Pass \
         <code>--dist</code> with a directory built by <code>trunk build --release</code>, or \
         run the release build (<code>cargo xtask run</code> builds both)."
    } else {
        tracing::warn!(
            "this binary was built without a frontend and no --dist was given; serving a notice instead"
        );
        "This etcdeck was built before its frontend, so it has none built in. Run \
         <code>trunk build --release</code>, then <code>cargo build --release -p \
         etcdeck-backend</code> again (<code>cargo xtask run</code> does both), or pass \
         <code>--dist</code> with a built <code>dist/</code> directory."
    };
    notice(why)
}

/// `--dist DIR`: the files on disk, as they are when asked for.
fn from_disk(dist: &Path) -> Router {
    let index = dist.join("index.html");
    if !index.is_file() {
        tracing::warn!(dist = %dist.display(), "no built frontend found; serving a notice instead");
        return notice(
            "The directory given with <code>--dist</code> has no <code>index.html</code>. \
             Build the frontend into it with <code>trunk build --release</code>, or start \
             etcdeck without <code>--dist</code> to serve the frontend built into it.",
        );
    }
    tracing::info!(dist = %dist.display(), "serving the frontend from disk");
    Router::new().fallback_service(ServeDir::new(dist).fallback(ServeFile::new(index)))
}

/// Serves `assets` from memory, or `None` when they have no `index.html`.
fn embedded(assets: &'static [Asset]) -> Option<Router> {
    if !assets.iter().any(|a| a.route == INDEX) {
        return None;
    }
    let files = MemoryServe::new(assets)
        .index_file(Some(INDEX))
        // Any path that is not a file is one of the app's routes: 200 with `index.html`.
        .fallback(Some(INDEX))
        .fallback_status(StatusCode::OK)
        // Both are on by default in release builds only; the tests run debug builds.
        .enable_brotli(true)
        .enable_gzip(true)
        .html_cache_control(CacheControl::NoCache)
        .cache_control(CacheControl::Custom(IMMUTABLE))
        .into_router();
    Some(files.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| revalidate_unhashed(assets, request, next),
    )))
}

/// memory-serve keeps every file that is not HTML for a year: only right for hashed
/// names. Anything else (a file trunk copied under its own name, say) is `no-cache`.
async fn revalidate_unhashed(assets: &'static [Asset], request: Request, next: Next) -> Response {
    let path = request.uri().path();
    // A hashed name that is not a file (a page still asking for an old release's script,
    // say) gets `index.html`, which must not be kept as if it were that file.
    let immutable = is_hashed(path) && assets.iter().any(|a| a.route == path);
    let mut response = next.run(request).await;
    if !immutable {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(REVALIDATE));
    }
    response
}

/// Whether a file name carries trunk's content hash: a `-` and its hex digits right before
/// the extension, or before `_bg` (the wasm). Trunk prints a 64-bit hash without leading
/// zeros, so one name in 16 has 15 digits; fewer than 8 is taken as a plain name (kept
/// `no-cache`, which is never wrong, only slower).
fn is_hashed(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or(path);
    let Some((stem, _ext)) = file.split_once('.') else {
        return false;
    };
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(base, hash)| {
        !base.is_empty()
            && (8..=16).contains(&hash.len())
            && hash.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// Every page: a 503 notice saying `why` there is no frontend and how to get one.
fn notice(why: &'static str) -> Router {
    Router::new().fallback(move || async move {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CACHE_CONTROL, REVALIDATE)],
            Html(format!(
                "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>etcdeck</title>\
                 <h1>etcdeck has no frontend to serve</h1><p>{why}</p></html>"
            )),
        )
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use axum::body::Body;
    use tower::ServiceExt;

    use super::*;

    const WASM: &str = "/app-0123456789abcdef_bg.wasm";

    /// A tiny `dist/`, as `backend/build.rs` would list it: a hashed wasm (large enough to
    /// be compressed), an unhashed file and `index.html`.
    fn fixture() -> Router {
        let wasm: &'static [u8] = "wasm bytes, again and again. ".repeat(40).leak().as_bytes();
        let assets: &'static [Asset] = vec![
            Asset {
                route: INDEX,
                path: "/fixture/index.html",
                etag: "index-etag",
                content_type: "text/html",
                bytes: Some(b"<!doctype html><title>fixture index</title>"),
                is_compressed: false,
                should_compress: false,
            },
            Asset {
                route: WASM,
                path: "/fixture/app.wasm",
                etag: "wasm-etag",
                content_type: "application/wasm",
                bytes: Some(wasm),
                is_compressed: false,
                should_compress: true,
            },
            Asset {
                route: "/logo.svg",
                path: "/fixture/logo.svg",
                etag: "logo-etag",
                content_type: "image/svg+xml",
                bytes: Some(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
                is_compressed: false,
                should_compress: false,
            },
        ]
        .leak();
        embedded(assets).expect("the fixture has an index.html")
    }

    async fn get(router: &Router, path: &str, headers: &[(&str, &str)]) -> (Response, Vec<u8>) {
        let mut request = Request::builder().uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(Body::empty()).expect("request");
        let response = router.clone().oneshot(request).await.expect("infallible");
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.expect("body");
        (Response::from_parts(parts, Body::empty()), bytes.to_vec())
    }

    fn value_of(response: &Response, name: header::HeaderName) -> Option<&str> {
        response.headers().get(name).and_then(|v| v.to_str().ok())
    }

    #[tokio::test]
    async fn the_copy_served_follows_accept_encoding() {
        let router = fixture();
        let (_, raw) = get(&router, WASM, &[]).await;
        // Chromium's own header lists gzip first; brotli is smaller and preferred on a tie.
        for (accept, encoding) in [
            ("gzip, deflate, br, zstd", Some("br")),
            ("br", Some("br")),
            ("gzip", Some("gzip")),
            ("br;q=0, gzip", Some("gzip")),
            ("gzip;q=1, br;q=0.5", Some("gzip")),
            ("identity", None),
            ("", None),
        ] {
            let (response, body) = get(&router, WASM, &[("accept-encoding", accept)]).await;
            assert_eq!(response.status(), StatusCode::OK, "{accept}");
            assert_eq!(
                value_of(&response, header::CONTENT_ENCODING),
                encoding,
                "{accept}"
            );
            assert_eq!(
                value_of(&response, header::CONTENT_TYPE),
                Some("application/wasm")
            );
            assert_eq!(value_of(&response, header::VARY), Some("accept-encoding"));
            match encoding {
                None => assert_eq!(body, raw, "{accept}"),
                Some(_) => assert!(body.len() < raw.len(), "{accept}: not smaller"),
            }
            if encoding == Some("gzip") {
                let mut unzipped = Vec::new();
                flate2::read::GzDecoder::new(body.as_slice())
                    .read_to_end(&mut unzipped)
                    .expect("gzip");
                assert_eq!(unzipped, raw);
            }
        }
    }

    #[tokio::test]
    async fn hashed_files_are_immutable_and_pages_are_revalidated() {
        let router = fixture();
        let (wasm, _) = get(&router, WASM, &[]).await;
        assert_eq!(value_of(&wasm, header::CACHE_CONTROL), Some(IMMUTABLE));
        for page in ["/", "/index.html", "/events", "/leases?x=1", "/logo.svg"] {
            let (response, _) = get(&router, page, &[]).await;
            assert_eq!(response.status(), StatusCode::OK, "{page}");
            assert_eq!(
                value_of(&response, header::CACHE_CONTROL),
                Some(REVALIDATE),
                "{page}"
            );
        }
        // An old release's script is not a file: the app's page, not kept as the script.
        let (gone, body) = get(&router, "/app-fedcba9876543210.js", &[]).await;
        assert_eq!(value_of(&gone, header::CACHE_CONTROL), Some(REVALIDATE));
        assert!(String::from_utf8_lossy(&body).contains("fixture index"));
    }

    #[tokio::test]
    async fn deep_links_get_index_html() {
        let router = fixture();
        for page in [
            "/",
            "/events",
            "/locks/deeper/still",
            "/?prefix=%2Fapp%2F&key=%2Fapp%2Fx",
        ] {
            let (response, body) = get(&router, page, &[]).await;
            assert_eq!(response.status(), StatusCode::OK, "{page}");
            assert!(
                String::from_utf8_lossy(&body).contains("fixture index"),
                "{page}"
            );
            assert!(
                value_of(&response, header::CONTENT_TYPE)
                    .is_some_and(|t| t.starts_with("text/html")),
                "{page}"
            );
        }
    }

    #[tokio::test]
    async fn an_unchanged_file_is_a_304() {
        let router = fixture();
        let (first, _) = get(&router, WASM, &[("accept-encoding", "br")]).await;
        let etag = value_of(&first, header::ETAG).expect("an ETag").to_owned();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        let (again, _) = get(
            &router,
            WASM,
            &[("accept-encoding", "br"), ("if-none-match", etag.as_str())],
        )
        .await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(value_of(&again, header::CACHE_CONTROL), Some(IMMUTABLE));
    }

    #[tokio::test]
    async fn without_a_frontend_every_page_says_how_to_build_one() {
        let missing = router(Some(Path::new("/nonexistent-dist")));
        for page in ["/", "/events"] {
            let (response, body) = get(&missing, page, &[]).await;
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{page}");
            let text = String::from_utf8_lossy(&body);
            assert!(text.contains("no frontend"), "{page}: {text}");
            assert!(text.contains("trunk build --release"), "{page}: {text}");
        }
        assert!(embedded(&[]).is_none());
        if cfg!(debug_assertions) {
            let (response, body) = get(&router(None), "/", &[]).await;
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert!(String::from_utf8_lossy(&body).contains("debug build"));
        }
    }

    #[test]
    fn trunk_hashes_are_recognised() {
        for hashed in [
            "/etcdeck-frontend-5781f706801ecd7e.js",
            "/etcdeck-frontend-5781f706801ecd7e_bg.wasm",
            "/etcdeck-frontend-15b33a4b72958b3_bg.wasm",
            "/boot-cf1126e8e284f2c.js",
            "/main-d062b80e973ae75a.css",
            "/favicon-5ca21907d8af8e10.svg",
            "/snippets/x/inline0-5781f706801ecd7e.js",
        ] {
            assert!(is_hashed(hashed), "{hashed}");
        }
        for plain in [
            "/index.html",
            "/",
            "/main.css",
            "/a-b.js",
            "/-5781f706801ecd7e.js",
            "/x-5781f706801ecd7g.js",
            "/x-5781f706801ecd7e0.js",
            "/x-abc.js",
        ] {
            assert!(!is_hashed(plain), "{plain}");
        }
    }
}
