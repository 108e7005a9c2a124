//! `POST /v1/embeddings` over real HTTP: the router in-process behind the common
//! server on an ephemeral port, with the installed model.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failure is the test failing"
)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::http::StatusCode;
use catalog::embed::{
    EmbedError, EmbedLimits, Embedder, MAX_CHARS, MAX_TEXTS, router, router_with_limits,
};
use serde_json::{Value, json};
use service_kit::error::ApiErrorCode;
use service_kit::server::Server;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

fn models_dir() -> PathBuf {
    std::env::var_os("SHOP_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"))
}

fn embedder() -> Arc<Embedder> {
    static EMBEDDER: OnceLock<Arc<Embedder>> = OnceLock::new();
    EMBEDDER
        .get_or_init(|| Arc::new(Embedder::load(&models_dir(), 2).unwrap()))
        .clone()
}

/// The server on port 0; dropping the sender stops it.
async fn start() -> (String, oneshot::Sender<()>) {
    start_with(router(embedder())).await
}

async fn start_with(app: axum::Router) -> (String, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(Server::new().run(listener, app, async {
        let _ = stopped.await;
    }));
    (url, stop)
}

async fn post(url: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{url}/v1/embeddings"))
        .timeout(Duration::from_secs(60))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn vector(item: &Value) -> Vec<f32> {
    serde_json::from_value(item["embedding"].clone()).unwrap()
}

#[tokio::test]
async fn a_string_input_gets_one_embedding_in_openai_shape() {
    let (url, _stop) = start().await;
    let (status, body) = post(
        &url,
        json!({"model": "all-MiniLM-L6-v2", "input": "pink sweater"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "list");
    assert_eq!(body["model"], "all-minilm-l6-v2");
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"][0]["object"], "embedding");
    assert_eq!(body["data"][0]["index"], 0);
    assert_eq!(vector(&body["data"][0]).len(), 384);
    assert_eq!(body["usage"]["prompt_tokens"], 4);
    assert_eq!(body["usage"]["total_tokens"], 4);
    // Same vector as the library gives.
    let direct = embedder().embed(&["pink sweater"]).unwrap();
    assert_eq!(vector(&body["data"][0]), direct[0].to_vec());
}

#[tokio::test]
async fn a_list_input_gets_embeddings_in_input_order() {
    let (url, _stop) = start().await;
    let texts = ["black leather boots", "a", "white cotton oxford shirt"];
    let (status, body) = post(
        &url,
        json!({"model": "sentence-transformers/all-MiniLM-L6-v2", "input": texts}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    let direct = embedder().embed(&texts).unwrap();
    for (i, item) in data.iter().enumerate() {
        assert_eq!(item["index"], i);
        assert_eq!(vector(item), direct[i].to_vec());
    }
}

#[tokio::test]
async fn each_bad_input_gets_its_own_400_code() {
    let (url, _stop) = start().await;
    let model = "all-minilm-l6-v2";
    let too_many = vec!["shirt"; MAX_TEXTS + 1];
    let too_long = "x".repeat(MAX_CHARS + 1);
    let cases = [
        (json!({"model": model, "input": []}), "empty_input"),
        (json!({"model": model, "input": ""}), "empty_input"),
        (
            json!({"model": model, "input": ["shirt", " "]}),
            "empty_input",
        ),
        (
            json!({"model": model, "input": too_many}),
            "too_many_inputs",
        ),
        (
            json!({"model": model, "input": ["shirt", too_long]}),
            "input_too_long",
        ),
        (
            json!({"model": "text-embedding-3-small", "input": "shirt"}),
            "unknown_model",
        ),
    ];
    for (request, code) in cases {
        let (status, body) = post(&url, request).await;
        assert_eq!(status, 400, "{code}: {body}");
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(body["error"]["message"].as_str().unwrap().len() > 5);
    }
    // Not OpenAI's shape at all: axum's rejection, rewritten into the same JSON body.
    let (status, body) = post(&url, json!({"model": model, "input": 42})).await;
    assert!((400..500).contains(&status), "{status} {body}");
    assert!(body["error"]["code"].is_string(), "{body}");
}

#[test]
fn bounds_are_checked_before_any_work() {
    assert!(Embedder::check(&["pink sweater"]).is_ok());
    let codes = |texts: &[&str]| Embedder::check(texts).map_err(|e| e.code());
    // Characters, not bytes, are counted: this multi-byte text is within the limit.
    let accented = "é".repeat(MAX_CHARS);
    assert_eq!(codes(&[&accented]), Ok(()));
    let too_long = "é".repeat(MAX_CHARS + 1);
    assert_eq!(codes(&[&too_long]), Err("input_too_long"));
}

#[test]
fn overload_is_a_503_with_a_retry_hint_and_failures_are_500() {
    let busy = EmbedError::Overloaded { queued: 16 };
    assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(busy.code(), "overloaded");
    assert_eq!(busy.retry_after(), Some(Duration::from_secs(1)));
    let failed = EmbedError::Inference("shape mismatch".into());
    assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(failed.retry_after(), None);
    let bad = EmbedError::TooManyInputs {
        count: MAX_TEXTS + 1,
    };
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_full_queue_answers_503_overloaded_with_retry_after() {
    // One worker and no queue: while one request embeds, the others are refused at
    // once instead of waiting.
    let limits = EmbedLimits {
        workers: 1,
        queue: 0,
    };
    let (url, _stop) = start_with(router_with_limits(embedder(), limits)).await;
    let texts = vec!["a long enough product description to keep the worker busy"; 64];
    let client = reqwest::Client::new();
    let requests = (0..4).map(|_| {
        client
            .post(format!("{url}/v1/embeddings"))
            .json(&json!({"model": "all-minilm-l6-v2", "input": texts}))
            .send()
    });
    let responses = futures_join(requests).await;
    let mut ok = 0;
    let mut refused = 0;
    for response in responses {
        let response = response.unwrap();
        match response.status().as_u16() {
            200 => ok += 1,
            503 => {
                assert_eq!(response.headers()["retry-after"], "1");
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["error"]["code"], "overloaded");
                refused += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(ok >= 1, "{ok} served, {refused} refused");
    assert!(refused >= 1, "{ok} served, {refused} refused");
}

/// Runs the futures concurrently and keeps their order.
async fn futures_join<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::with_capacity(tasks.len());
    for task in tasks {
        outputs.push(task.await.unwrap());
    }
    outputs
}
