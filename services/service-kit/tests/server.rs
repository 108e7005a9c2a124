//! The common server, exercised over real HTTP on an ephemeral port.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use service_kit::X_REQUEST_ID;
use service_kit::health::Readiness;
use service_kit::request_id::RequestId;
use service_kit::server::{ConcurrencyLimit, Server};
use service_kit::telemetry::Metrics;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

/// A running test server: its base URL, a way to stop it, and its task.
struct Running {
    url: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("server stops")
            .expect("server task")
            .expect("server result");
    }
}

async fn start(server: Server, app: Router) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral port");
    let url = format!("http://{}", listener.local_addr().expect("bound address"));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(listener, app, async {
        let _ = stopped.await;
    }));
    Running {
        url,
        stop: Some(stop),
        task,
    }
}

fn echo_app() -> Router {
    Router::new()
        .route("/hello", get(|| async { "hi" }))
        .route(
            "/echo",
            post(|body: axum::body::Bytes| async move { body.len().to_string() }),
        )
        .route("/id", get(|id: RequestId| async move { id.to_string() }))
        .route("/bug", get(buggy_handler))
}

/// Fault injection: a handler with a bug.
async fn buggy_handler() -> &'static str {
    panic!("a bug in a handler")
}

#[tokio::test]
async fn a_panicking_handler_answers_500_json_and_the_server_carries_on() {
    let running = start(Server::new().with_metrics(Metrics::new()), echo_app()).await;
    let client = reqwest::Client::new();
    let bug = client
        .get(format!("{}/bug", running.url))
        .send()
        .await
        .unwrap();
    assert_eq!(bug.status(), 500);
    let body: serde_json::Value = bug.json().await.unwrap();
    assert_eq!(body["error"]["code"], "internal");
    let hello = client
        .get(format!("{}/hello", running.url))
        .send()
        .await
        .unwrap();
    assert_eq!(hello.text().await.unwrap(), "hi");
    running.shutdown().await;
}

#[tokio::test]
async fn healthz_is_ok_and_readyz_follows_checks() {
    let readiness = Readiness::new();
    let models = readiness.add_flag("models_loaded");
    let running = start(
        Server::new()
            .with_metrics(Metrics::new())
            .with_readiness(readiness.clone()),
        echo_app(),
    )
    .await;
    let client = reqwest::Client::new();

    let health = client
        .get(format!("{}/healthz", running.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let not_ready = client
        .get(format!("{}/readyz", running.url))
        .send()
        .await
        .unwrap();
    assert_eq!(not_ready.status(), 503);
    let report: serde_json::Value = not_ready.json().await.unwrap();
    assert_eq!(report["status"], "not_ready");
    assert_eq!(report["checks"][0]["name"], "models_loaded");
    assert_eq!(report["checks"][0]["ok"], false);

    models.set(true);
    let ready = client
        .get(format!("{}/readyz", running.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let report: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(report["status"], "ready");
    running.shutdown().await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let running = start(Server::new().with_metrics(Metrics::new()), echo_app()).await;
    let client = reqwest::Client::new();
    let hello = client
        .get(format!("{}/hello", running.url))
        .send()
        .await
        .unwrap();
    assert_eq!(hello.text().await.unwrap(), "hi");
    let metrics = client
        .get(format!("{}/metrics", running.url))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/hello",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"http_request_duration_seconds_count{method="GET",route="/hello",status="200"} 1"#
        ),
        "{text}"
    );
    running.shutdown().await;
}

#[tokio::test]
async fn request_id_is_generated_echoed_and_propagated() {
    let running = start(Server::new().with_metrics(Metrics::new()), echo_app()).await;
    let client = reqwest::Client::new();

    let generated = client
        .get(format!("{}/id", running.url))
        .send()
        .await
        .unwrap();
    let header = generated.headers()[X_REQUEST_ID]
        .to_str()
        .unwrap()
        .to_string();
    assert!(uuid_like(&header), "{header}");
    // The handler saw the same id it echoed.
    assert_eq!(generated.text().await.unwrap(), header);

    let given = client
        .get(format!("{}/id", running.url))
        .header(X_REQUEST_ID, "turn-7")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()[X_REQUEST_ID], "turn-7");
    assert_eq!(given.text().await.unwrap(), "turn-7");

    // Even a 404 carries the id, so a failed call can be traced.
    let missing = client
        .get(format!("{}/nope", running.url))
        .send()
        .await
        .unwrap();
    assert!(missing.headers().contains_key(X_REQUEST_ID));
    running.shutdown().await;
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().filter(|c| *c == '-').count() == 4
}

#[tokio::test]
async fn unknown_route_is_a_json_404() {
    let running = start(Server::new().with_metrics(Metrics::new()), echo_app()).await;
    let response = reqwest::get(format!("{}/no/such/route", running.url))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/no/such/route")
    );
    running.shutdown().await;
}

#[tokio::test]
async fn oversize_body_is_a_json_413_and_a_small_one_passes() {
    let running = start(
        Server::new()
            .with_metrics(Metrics::new())
            .with_body_limit(1024),
        echo_app(),
    )
    .await;
    let client = reqwest::Client::new();
    let small = client
        .post(format!("{}/echo", running.url))
        .body(vec![0u8; 1000])
        .send()
        .await
        .unwrap();
    assert_eq!(small.text().await.unwrap(), "1000");

    let big = client
        .post(format!("{}/echo", running.url))
        .body(vec![0u8; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    let body: serde_json::Value = big.json().await.unwrap();
    assert_eq!(body["error"]["code"], "body_too_large");

    // Without Content-Length (chunked upload) the limit still holds.
    let response = raw_chunked_post(&running.url, "/echo", &[&[0u8; 800], &[0u8; 800]]).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(
        response.contains(r#""code":"body_too_large""#),
        "{response}"
    );
    running.shutdown().await;
}

/// Sends a chunked POST by hand (reqwest is built without streaming bodies).
async fn raw_chunked_post(url: &str, path: &str, chunks: &[&[u8]]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the test server");
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for chunk in chunks {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    // The server may answer and close before reading everything; that is fine.
    let _ = stream.write_all(&request).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn overload_answers_503_with_retry_after() {
    let entered = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let limit = ConcurrencyLimit::new(1, 1, Duration::from_secs(3));
    let slow = {
        let (entered, release) = (entered.clone(), release.clone());
        Router::new().route(
            "/slow",
            get(move || {
                let (entered, release) = (entered.clone(), release.clone());
                async move {
                    entered.notify_one();
                    release.notified().await;
                    "done"
                }
            }),
        )
    };
    let app = limit.clone().apply(slow);
    let running = start(Server::new().with_metrics(Metrics::new()), app).await;
    let client = reqwest::Client::new();
    let url = format!("{}/slow", running.url);

    let first = tokio::spawn(client.get(&url).send());
    entered.notified().await;
    let second = tokio::spawn(client.get(&url).send());
    // Wait until the second request is queued behind the first.
    tokio::time::timeout(Duration::from_secs(5), async {
        while limit.admitted() < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("second request queued");

    let third = client.get(&url).send().await.unwrap();
    assert_eq!(third.status(), 503);
    assert_eq!(third.headers()["retry-after"], "3");
    let body: serde_json::Value = third.json().await.unwrap();
    assert_eq!(body["error"]["code"], "overloaded");

    release.notify_one();
    assert_eq!(first.await.unwrap().unwrap().status(), 200);
    entered.notified().await;
    release.notify_one();
    assert_eq!(second.await.unwrap().unwrap().status(), 200);
    running.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_the_in_flight_request() {
    let entered = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let app = {
        let (entered, release) = (entered.clone(), release.clone());
        Router::new().route(
            "/work",
            get(move || {
                let (entered, release) = (entered.clone(), release.clone());
                async move {
                    entered.notify_one();
                    release.notified().await;
                    "finished"
                }
            }),
        )
    };
    let mut running = start(Server::new().with_metrics(Metrics::new()), app).await;
    let request = tokio::spawn(reqwest::get(format!("{}/work", running.url)));
    entered.notified().await;

    running.stop.take().unwrap().send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !running.task.is_finished(),
        "server must wait for the in-flight request"
    );

    release.notify_one();
    let response = request.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "finished");
    running.shutdown().await;
}
