//! A real catalog for the HTTP tests: the service in-process on an ephemeral port, the
//! embedded Qdrant engine in a temporary folder, the installed MiniLM model, and the
//! fixture catalogue loaded as its seed. One per test binary (started on first use,
//! on its own runtime so it outlives each test's runtime).
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    reason = "shared by several test binaries, each using part of it; a failure is the test failing"
)]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;
use service_kit::config::Config;
pub use test_support::{ADMIN_KEY, SERVICE_TOKEN, models_dir, wait_ready};

/// The committed fixture catalogue file.
pub fn fixture_file() -> PathBuf {
    test_support::fixtures().join("catalog/products.json")
}

/// A catalog config with its data in `data_dir` (the listener is bound by the caller).
pub fn config(data_dir: PathBuf, seed: bool) -> Config {
    Config {
        models_dir: models_dir(),
        data_dir,
        catalog: test_support::catalog_section(None, seed),
        ..Config::default()
    }
}

/// Base URL of this test binary's shared catalog (seeded with the fixtures).
pub fn catalog() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        test_support::start_on_thread("test-catalog", |listener| async move {
            let dir = tempfile::tempdir().unwrap();
            let config = config(dir.path().to_path_buf(), true);
            catalog::run(listener, config, std::future::pending())
                .await
                .unwrap();
            drop(dir);
        })
    })
}

/// Which key a request carries.
#[derive(Debug, Clone, Copy)]
pub enum Key {
    /// No Authorization header.
    None,
    /// The service token.
    Service,
    /// The admin key.
    Admin,
    /// A wrong key.
    Wrong,
}

/// A request to the shared catalog carrying `key`.
fn request(method: &str, path: &str, key: Key, timeout: Duration) -> reqwest::RequestBuilder {
    let request = reqwest::Client::new()
        .request(method.parse().unwrap(), format!("{}{path}", catalog()))
        .timeout(timeout);
    match key {
        Key::None => request,
        Key::Service => request.bearer_auth(SERVICE_TOKEN),
        Key::Admin => request.bearer_auth(ADMIN_KEY),
        Key::Wrong => request.bearer_auth("not-the-key-at-all-000000"),
    }
}

/// Sends a JSON request and returns the status and JSON body (`null` when empty).
pub async fn call(method: &str, path: &str, key: Key, body: Option<Value>) -> (u16, Value) {
    let mut request = request(method, path, key, Duration::from_secs(120));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    (status, json)
}

/// Sends raw bytes with a content type.
pub async fn call_raw(
    method: &str,
    path: &str,
    key: Key,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value) {
    let request = request(method, path, key, Duration::from_secs(300))
        .header("content-type", content_type)
        .body(body);
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The fixture products, as the tests' source of truth.
pub fn fixtures() -> Vec<protocol::catalog::Product> {
    serde_json::from_slice(&std::fs::read(fixture_file()).unwrap()).unwrap()
}
