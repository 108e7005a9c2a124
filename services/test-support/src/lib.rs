//! What the services' integration tests share, so that each test binary's `common`
//! module holds only what is its own: real services started in-process on ports the OS
//! chooses, each on its own thread and runtime so it outlives every test's runtime;
//! the keys of the test catalog; where the installed models and the fixtures are.
#![allow(
    clippy::unwrap_used,
    reason = "test support: a failure here is the test failing, with its message"
)]

pub mod kiosk_client;
pub mod speech;
pub mod stack;

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use service_kit::config::CatalogConfig;

/// Admin key of the test catalog.
pub const ADMIN_KEY: &str = "test-admin-key-0123456789";
/// Service token of the test catalog.
pub const SERVICE_TOKEN: &str = "test-service-token-0123456789";

/// The repository's root.
fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where the model supply installed the models: `$SHOP_MODELS_DIR`, else `./models`.
pub fn models_dir() -> PathBuf {
    std::env::var_os("SHOP_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repository().join("models"))
}

/// The repository's fixtures folder.
pub fn fixtures() -> PathBuf {
    repository().join("fixtures")
}

/// The catalog section the tests use: the test keys, the fixture catalogue as the seed
/// when `seed` is set, and `url` when other services must reach the catalog there.
pub fn catalog_section(url: Option<&str>, seed: bool) -> CatalogConfig {
    CatalogConfig {
        admin_key: Some(ADMIN_KEY.into()),
        service_token: Some(SERVICE_TOKEN.into()),
        seed_file: seed.then(|| fixtures().join("catalog/products.json")),
        url: url.map(str::to_owned),
        ..CatalogConfig::default()
    }
}

/// Starts a service on its own thread and runtime (`start` gets a listener on an
/// ephemeral loopback port); returns its base URL once `/readyz` answers 200.
pub fn start_on_thread<F, Fut>(name: &str, start: F) -> String
where
    F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
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

/// Waits until `/readyz` answers 200 (models loaded, stores open), up to 15 minutes (a
/// cold first start on a loaded 2-core machine).
pub async fn wait_ready(url: &str) {
    let client = reqwest::Client::new();
    for _ in 0..3600 {
        if let Ok(r) = client.get(format!("{url}/readyz")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("service at {url} never became ready");
}
