//! A real catalog and a real vision service for the tests: both in-process on
//! ephemeral ports, the catalog on the embedded Qdrant engine with the fixture
//! catalogue, vision on the installed BlazeFace and dlib models. One of each per test
//! binary, started on first use on their own runtime so they outlive each test's.
#![allow(
    dead_code,
    clippy::unwrap_used,
    reason = "shared by several test binaries, each using part of it; a failure is the test failing"
)]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use service_kit::config::{CatalogConfig, Config, VisionConfig};

/// Admin key of the test catalog.
pub const ADMIN_KEY: &str = "test-admin-key-0123456789";
/// Service token of the test catalog.
pub const SERVICE_TOKEN: &str = "test-service-token-0123456789";

/// Where the model supply installed the models.
pub fn models_dir() -> PathBuf {
    std::env::var_os("SHOP_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"))
}

/// The repository's fixtures folder.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// A fixture photo's bytes (fixtures/vision/photos).
pub fn photo(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("vision/photos").join(name)).unwrap()
}

/// The config both services read.
pub fn config(data_dir: PathBuf, catalog_url: Option<&str>) -> Config {
    Config {
        models_dir: models_dir(),
        data_dir,
        catalog: CatalogConfig {
            admin_key: Some(ADMIN_KEY.into()),
            service_token: Some(SERVICE_TOKEN.into()),
            seed_file: Some(fixtures().join("catalog/products.json")),
            url: catalog_url.map(str::to_owned),
            ..CatalogConfig::default()
        },
        vision: VisionConfig {
            workers: 1,
            ..VisionConfig::default()
        },
        ..Config::default()
    }
}

/// Starts a service on its own thread and runtime; returns its base URL once ready.
fn start_on_thread<F, Fut>(name: &str, start: F) -> String
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let url = format!("http://{}", listener.local_addr().unwrap());
                let server = tokio::spawn(start(listener));
                wait_ready(&url).await;
                sender.send(url).unwrap();
                server.await.unwrap();
            });
        })
        .unwrap();
    receiver.recv_timeout(Duration::from_secs(900)).unwrap()
}

async fn wait_ready(url: &str) {
    let client = reqwest::Client::new();
    for _ in 0..9000 {
        if let Ok(response) = client.get(format!("{url}/readyz")).send().await
            && response.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} did not become ready");
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
