//! Starting the whole voice service in-process on port 0, as the binary does.

#![allow(clippy::unwrap_used, dead_code)] // test set-up: fail loudly; not every test file uses every helper

use std::path::{Path, PathBuf};

use service_kit::config::Config;
use tokio::sync::oneshot;

/// The workspace root, where fixtures live.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fixture file by path relative to `fixtures/`.
pub fn fixture(relative: &str) -> Vec<u8> {
    std::fs::read(workspace_root().join("fixtures").join(relative)).unwrap()
}

/// Config for tests: defaults, with the installed models.
pub fn test_config() -> Config {
    Config {
        models_dir: std::env::var_os("SHOP_MODELS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("models")),
        ..Config::default()
    }
}

/// A running voice service.
pub struct Running {
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts the service with `config` and waits until it is ready.
pub async fn start(config: Config) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        voice::run(listener, config, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    let client = reqwest::Client::new();
    for _ in 0..300 {
        let ready = client.get(format!("{url}/readyz")).send().await;
        if ready.is_ok_and(|response| response.status() == 200) {
            return Running {
                url,
                stop: Some(stop),
            };
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the voice service did not become ready");
}
