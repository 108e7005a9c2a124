//! A real catalog and a real try-on service for the tests: both in-process on
//! ephemeral ports, the catalog on the embedded Qdrant engine with the fixture
//! catalogue. One of each per test binary, started on first use on their own runtime
//! so they outlive each test's runtime.
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    reason = "shared by several test binaries, each using part of it; a failure is the test failing"
)]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use service_kit::config::{Config, TryonConfig};
pub use test_support::{
    ADMIN_KEY, SERVICE_TOKEN, fixtures, models_dir, start_on_thread, wait_ready,
};

/// A fixture photo's bytes.
pub fn photo(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("vision/photos").join(name)).unwrap()
}

/// Bytes as standard base64.
pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Base64 back to bytes.
pub fn unb64(text: &str) -> Vec<u8> {
    STANDARD.decode(text).unwrap()
}

/// The config of both services: the catalog seeded with the fixtures, try-on pointed
/// at `catalog_url`.
pub fn config(data_dir: PathBuf, catalog_url: Option<&str>, tryon: TryonConfig) -> Config {
    Config {
        models_dir: models_dir(),
        data_dir,
        catalog: test_support::catalog_section(catalog_url, true),
        tryon,
        ..Config::default()
    }
}

/// This test binary's catalog (seeded with the fixture catalogue).
pub fn catalog() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        start_on_thread("test-catalog", |listener| async move {
            let dir = tempfile::tempdir().unwrap();
            let config = config(dir.path().to_path_buf(), None, TryonConfig::default());
            catalog::run(listener, config, std::future::pending())
                .await
                .unwrap();
            drop(dir);
        })
    })
}

/// This test binary's try-on service (default settings), using [`catalog`].
pub fn tryon() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| start_tryon(TryonConfig::default()))
}

/// A try-on service with these settings, using [`catalog`].
pub fn start_tryon(settings: TryonConfig) -> String {
    let catalog_url = catalog().to_owned();
    start_on_thread("test-tryon", move |listener| async move {
        let config = config(PathBuf::from("/nonexistent"), Some(&catalog_url), settings);
        tryon::run(listener, config, std::future::pending())
            .await
            .unwrap();
    })
}

/// POSTs JSON and returns the status and JSON body.
pub async fn post(base: &str, path: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .json(body)
        .timeout(Duration::from_secs(300))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The error code of an error body.
pub fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}
