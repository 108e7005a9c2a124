//! A real catalog and a real dialogue for the tests: both services in-process on
//! ephemeral ports, the catalog on the embedded Qdrant engine with the fixture
//! catalogue, the dialogue on the installed SmolLM2 model. One of each per test binary,
//! started on first use on their own runtime so they outlive each test's runtime.
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    reason = "shared by several test binaries, each using part of it; a failure is the test failing"
)]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use protocol::dialogue::TurnEvent;
use serde_json::{Value, json};
use service_kit::config::{Config, DialogueConfig};
pub use test_support::{
    ADMIN_KEY, SERVICE_TOKEN, fixtures, models_dir, start_on_thread, wait_ready,
};

/// The config both services read: the catalog seeded with the fixtures; the dialogue
/// pointed at `catalog_url`.
pub fn config(data_dir: PathBuf, catalog_url: Option<&str>) -> Config {
    Config {
        models_dir: models_dir(),
        data_dir,
        catalog: test_support::catalog_section(catalog_url, true),
        dialogue: DialogueConfig::default(),
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
