//! Static files under `--www`: the demo shop, its pictures and the npm package.
//!
//! Paths map to files below the directory (nested folders allowed); each segment must
//! be plain (`[A-Za-z0-9._-]`, not starting with a dot), so nothing outside the
//! directory and no hidden file can be named. A path whose last segment has no
//! extension (`/p/running-1`, `/cart`) is a page of the single-page shop and gets
//! `index.html`; `/v1/...` is never a file (the API answers or says 404).

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::{App, error};

/// `GET /` and `GET /{*path}` with `--www`.
pub async fn get(State(app): State<Arc<App>>, uri: Uri) -> Response {
    let Some(file) = app
        .config
        .www
        .as_ref()
        .and_then(|dir| resolve(dir, uri.path()))
    else {
        return error(StatusCode::NOT_FOUND, "not_found", "no such file");
    };
    let kind = content_type(&file);
    match tokio::task::spawn_blocking(move || std::fs::read(file)).await {
        Ok(Ok(bytes)) => (
            [
                (header::CONTENT_TYPE, kind),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            bytes,
        )
            .into_response(),
        _ => error(StatusCode::NOT_FOUND, "not_found", "no such file"),
    }
}

/// The file `path` names under `dir`, or None.
fn resolve(dir: &std::path::Path, path: &str) -> Option<PathBuf> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.first() == Some(&"v1") {
        return None;
    }
    let plain = |s: &&str| {
        !s.starts_with('.')
            && s.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
    };
    if !segments.iter().all(plain) {
        return None;
    }
    let page = segments.last().is_none_or(|last| !last.contains('.'));
    let file = if page {
        dir.join("index.html")
    } else {
        segments.iter().fold(dir.to_path_buf(), |p, s| p.join(s))
    };
    file.is_file().then_some(file)
}

fn content_type(file: &std::path::Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("wasm") => "application/wasm",
        Some("png") => "image/png",
        Some("txt" | "ts") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_plain_nested_paths_and_pages_only() {
        let dir = std::env::temp_dir().join(format!("slotwise-files-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("pkg")).unwrap();
        std::fs::write(dir.join("index.html"), "shop").unwrap();
        std::fs::write(dir.join("pkg/browser.js"), "js").unwrap();
        std::fs::write(dir.join(".secret"), "no").unwrap();
        assert_eq!(resolve(&dir, "/"), Some(dir.join("index.html")));
        assert_eq!(resolve(&dir, "/p/running-1"), Some(dir.join("index.html")));
        assert_eq!(
            resolve(&dir, "/pkg/browser.js"),
            Some(dir.join("pkg/browser.js"))
        );
        for bad in [
            "/../etc/passwd",
            "/pkg/../../x.js",
            "/.secret",
            "/pkg/%2e%2e/x.js",
            "/v1/nope",
            "/missing.js",
            "/a\\b.js",
        ] {
            assert_eq!(resolve(&dir, bad), None, "{bad}");
        }
        assert_eq!(content_type(&dir.join("pkg/x_bg.wasm")), "application/wasm");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
