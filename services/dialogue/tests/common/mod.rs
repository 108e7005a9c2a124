//! A real catalog and a real dialogue for the tests: both services in-process on
//! ephemeral ports, the catalog on the embedded Qdrant engine with the fixture
//! catalogue, the dialogue on the installed SmolLM2 model. One of each per test binary,
//! started on first use on their own runtime so they outlive each test's runtime.
#![allow(
    dead_code,
    clippy::unwrap_used,
    reason = "shared by several test binaries, each using part of it; a failure is the test failing"
)]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use protocol::dialogue::TurnEvent;
use serde_json::{Value, json};
use service_kit::config::{CatalogConfig, Config, DialogueConfig};

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

/// The config both services read: the catalog seeded with the fixtures; the dialogue
/// pointed at `catalog_url`.
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
        dialogue: DialogueConfig::default(),
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

/// This test binary's dialogue service (default settings), using [`catalog`].
pub fn dialogue() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| start_dialogue(false))
}

/// A dialogue service whose model writes the replies (`reply_with_model`), so the
/// grounding check is exercised on model text.
pub fn dialogue_writing_with_model() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| start_dialogue(true))
}

fn start_dialogue(reply_with_model: bool) -> String {
    let catalog_url = catalog().to_owned();
    start_on_thread("test-dialogue", move |listener| async move {
        let mut config = config(PathBuf::from("/nonexistent"), Some(&catalog_url));
        config.dialogue.reply_with_model = reply_with_model;
        dialogue::run(listener, config, std::future::pending())
            .await
            .unwrap();
    })
}

/// Waits until `/readyz` answers 200.
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

/// Sends a JSON request and returns the status and JSON body (`null` when empty).
pub async fn call(base: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .request(method.parse().unwrap(), format!("{base}{path}"))
        .timeout(Duration::from_secs(300));
    if path.starts_with("/v1/customers") {
        request = request.bearer_auth(SERVICE_TOKEN);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, json)
}

/// Opens a session (anonymous or for a customer id); returns (id, greeting).
pub async fn start_session(customer_id: Option<&str>) -> (String, String) {
    start_session_on(dialogue(), customer_id).await
}

/// Opens a session on a given dialogue service.
pub async fn start_session_on(base: &str, customer_id: Option<&str>) -> (String, String) {
    let body = match customer_id {
        Some(id) => json!({"customer_id": id, "kiosk_id": "kiosk-test"}),
        None => json!({"kiosk_id": "kiosk-test"}),
    };
    let (status, started) = call(base, "POST", "/v1/sessions", Some(body)).await;
    assert_eq!(status, 201, "{started}");
    (
        started["session_id"].as_str().unwrap().to_owned(),
        started["greeting"].as_str().unwrap().to_owned(),
    )
}

/// Runs one turn and collects its events (parsed from the server-sent events).
pub async fn turn(session: &str, text: &str) -> Vec<TurnEvent> {
    turn_on(dialogue(), session, text).await
}

/// Runs one turn on a given dialogue service.
pub async fn turn_on(base: &str, session: &str, text: &str) -> Vec<TurnEvent> {
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/sessions/{session}/turns"))
        .json(&json!({ "text": text }))
        .timeout(Duration::from_secs(300))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "turn {text:?}");
    let body = response.text().await.unwrap();
    body.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|data| serde_json::from_str::<TurnEvent>(data.trim()).unwrap())
        .collect()
}

/// The reply text of a turn's events.
pub fn reply(events: &[TurnEvent]) -> String {
    events
        .iter()
        .find_map(|e| match e {
            TurnEvent::Done { reply, .. } => Some(reply.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// The cards of a turn's first `products` event.
pub fn cards(events: &[TurnEvent]) -> Vec<protocol::dialogue::ProductCard> {
    events
        .iter()
        .find_map(|e| match e {
            TurnEvent::Products { cards, .. } => Some(cards.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// The actions of a turn, in order.
pub fn actions(events: &[TurnEvent]) -> Vec<protocol::dialogue::Action> {
    events
        .iter()
        .filter_map(|e| match e {
            TurnEvent::Action(a) => Some(a.clone()),
            _ => None,
        })
        .collect()
}
