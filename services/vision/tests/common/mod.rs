//! A real catalog and a real vision service for the tests: both in-process on
//! ephemeral ports, the catalog on the embedded Qdrant engine with the fixture
//! catalogue, vision on the installed BlazeFace and dlib models. One of each per test
//! binary, started on first use on their own runtime so they outlive each test's.
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    reason = "shared by several test binaries, each using part of it; a failure is the test failing"
)]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use service_kit::config::{Config, VisionConfig};
pub use test_support::{SERVICE_TOKEN, fixtures, models_dir, start_on_thread};

/// A fixture photo's bytes (fixtures/vision/photos).
pub fn photo(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("vision/photos").join(name)).unwrap()
}

/// The config both services read.
pub fn config(data_dir: PathBuf, catalog_url: Option<&str>) -> Config {
    Config {
        models_dir: models_dir(),
        data_dir,
        catalog: test_support::catalog_section(catalog_url, true),
        vision: VisionConfig {
            workers: 1,
            ..VisionConfig::default()
        },
        ..Config::default()
    }
}

/// This test binary's catalog (seeded with the fixture catalogue).
pub fn catalog() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        start_on_thread("test-catalog", |listener| async move {
            let dir = tempfile::tempdir().unwrap();
            let config = config(dir.path().to_path_buf(), None);
            catalog::run(listener, config, std::future::pending())
                .await
                .unwrap();
            drop(dir);
        })
    })
}

/// This test binary's vision service, using [`catalog`].
pub fn vision() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let catalog_url = catalog().to_owned();
        start_on_thread("test-vision", move |listener| async move {
            let config = config(PathBuf::from("/nonexistent"), Some(&catalog_url));
            vision::run(listener, config, std::future::pending())
                .await
                .unwrap();
        })
    })
}

/// Waits until vision has indexed the catalogue images (a held-up garment finds its
/// SKU only then).
pub async fn wait_for_catalogue_index(vision: &str, probe: Vec<u8>) {
    let client = reqwest::Client::new();
    for _ in 0..600 {
        let analysis: serde_json::Value = client
            .post(format!("{vision}/v1/vision/analyze"))
            .body(probe.clone())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if analysis["garments"]
            .as_array()
            .is_some_and(|g| !g.is_empty())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("vision never indexed the catalogue");
}
