//! The kiosk in-process on an ephemeral port, probing a real service-kit server (the
//! "catalog") whose readiness flag the test flips, and closed or silent ports for
//! the other services.

// Helpers unwrap so that a broken fixture fails the test at the line that broke.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use axum::Router;
use kiosk::status::{PROBE_TIMEOUT, ServiceState, SystemStatus};
use protocol::Service;
use service_kit::config::Config;
use service_kit::health::{Readiness, ReadyFlag};
use service_kit::server::Server;
use service_kit::telemetry::Metrics;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server started by the test: its base URL and how to stop it.
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
            .expect("server stops within 5 s")
            .unwrap()
            .unwrap();
    }
}

async fn ephemeral() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// `N` distinct ports nothing listens on: all bound by the kernel at once (so no two
/// are the same), then released.
async fn closed_ports<const N: usize>() -> [u16; N] {
    let mut held = Vec::with_capacity(N);
    for _ in 0..N {
        held.push(ephemeral().await);
    }
    std::array::from_fn(|index| held[index].1)
}

/// A real service-kit server with one readiness flag, `models_loaded`, not yet set.
async fn start_catalog() -> (Running, ReadyFlag, u16) {
    let readiness = Readiness::new();
    let models = readiness.add_flag("models_loaded");
    let (listener, port) = ephemeral().await;
    let (stop, stopped) = oneshot::channel::<()>();
    let server = Server::new()
        .with_metrics(Metrics::new())
        .with_readiness(readiness);
    let task = tokio::spawn(server.run(listener, Router::new(), async {
        let _ = stopped.await;
    }));
    let running = Running {
        url: format!("http://127.0.0.1:{port}"),
        stop: Some(stop),
        task,
    };
    (running, models, port)
}

/// Config whose catalog is at `catalog` and every other service at its given port.
fn config(catalog: u16, voice: u16, vision: u16, dialogue: u16, tryon: u16) -> Config {
    let mut config = Config::default();
    config.catalog.port = catalog;
    config.voice.port = voice;
    config.vision.port = vision;
    config.dialogue.port = dialogue;
    config.tryon.port = tryon;
    config.validate().unwrap();
    config
}

async fn start_kiosk(config: Config) -> Running {
    let (listener, port) = ephemeral().await;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(kiosk::run(listener, config, async {
        let _ = stopped.await;
    }));
    Running {
        url: format!("http://127.0.0.1:{port}"),
        stop: Some(stop),
        task,
    }
}

/// The `<tr>` of `service` in the page.
fn row(page: &str, service: Service) -> &str {
    let start = page
        .find(&format!("<tr id=\"{}\">", service.name()))
        .unwrap_or_else(|| panic!("no row for {service} in:\n{page}"));
    let end = start + page[start..].find("</tr>").unwrap();
    &page[start..end]
}

async fn get_page(client: &reqwest::Client, kiosk: &str) -> (String, Duration) {
    let started = Instant::now();
    let response = client.get(format!("{kiosk}/status")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = response.text().await.unwrap();
    (page, started.elapsed())
}

async fn get_status(client: &reqwest::Client, kiosk: &str) -> SystemStatus {
    let response = client
        .get(format!("{kiosk}/api/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn the_page_follows_the_catalog_and_shows_the_others_not_running() {
    let (catalog, models, catalog_port) = start_catalog().await;
    let [voice, vision, dialogue, tryon] = closed_ports().await;
    let kiosk = start_kiosk(config(catalog_port, voice, vision, dialogue, tryon)).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();

    for route in ["/healthz", "/readyz"] {
        let response = client
            .get(format!("{}{route}", kiosk.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{route} with four services down");
    }

    let (page, elapsed) = get_page(&client, &kiosk.url).await;
    // Four services refuse at once; nothing should wait for a timeout.
    assert!(
        elapsed < PROBE_TIMEOUT,
        "page took {elapsed:?} with four services down"
    );
    assert!(page.contains("Edge shopping assistant — system status"));
    assert!(page.contains(r#"<meta http-equiv="refresh" content="5">"#));
    assert!(page.contains("customer kiosk"), "{page}");
    assert!(page.contains("kiosk issue"), "{page}");
    assert!(page.contains("1 of 6 services ready"), "{page}");
    for service in Service::ALL {
        assert!(row(&page, service).contains(service.name()));
    }
    let catalog_row = row(&page, Service::Catalog);
    assert!(catalog_row.contains(">not ready<"), "{catalog_row}");
    assert!(catalog_row.contains("models_loaded"), "{catalog_row}");
    assert!(catalog_row.contains(&catalog.url), "{catalog_row}");
    for service in [
        Service::Voice,
        Service::Vision,
        Service::Dialogue,
        Service::Tryon,
    ] {
        let service_row = row(&page, service);
        assert!(service_row.contains(">not running<"), "{service_row}");
        assert!(service_row.contains("connection refused"), "{service_row}");
    }
    let kiosk_row = row(&page, Service::Kiosk);
    assert!(
        kiosk_row.contains(r#"class="state ready">ready<"#),
        "{kiosk_row}"
    );
    assert!(kiosk_row.contains(&kiosk.url), "{kiosk_row}");

    let status = get_status(&client, &kiosk.url).await;
    let order: Vec<Service> = status.services.iter().map(|s| s.service).collect();
    assert_eq!(order, Service::ALL);
    assert_eq!(
        status.get(Service::Catalog).unwrap().state,
        ServiceState::NotReady {
            failing_checks: vec!["models_loaded".to_string()]
        }
    );
    assert!(matches!(
        status.get(Service::Voice).unwrap().state,
        ServiceState::NotRunning { .. }
    ));
    assert_eq!(
        status.get(Service::Kiosk).unwrap().state,
        ServiceState::Ready
    );
    assert_eq!(status.ready_count(), 1);

    models.set(true);
    let (page, _) = get_page(&client, &kiosk.url).await;
    let catalog_row = row(&page, Service::Catalog);
    assert!(
        catalog_row.contains(r#"class="state ready">ready<"#),
        "{catalog_row}"
    );
    assert!(!catalog_row.contains("models_loaded"), "{catalog_row}");
    assert!(page.contains("2 of 6 services ready"), "{page}");
    let status = get_status(&client, &kiosk.url).await;
    assert_eq!(
        status.get(Service::Catalog).unwrap().state,
        ServiceState::Ready
    );
    assert_eq!(status.ready_count(), 2);

    // The catalog going away again is seen on the next probe.
    catalog.shutdown().await;
    let status = get_status(&client, &kiosk.url).await;
    assert!(matches!(
        status.get(Service::Catalog).unwrap().state,
        ServiceState::NotRunning { .. }
    ));

    kiosk.shutdown().await;
}

#[tokio::test]
async fn a_service_that_accepts_but_never_answers_costs_one_probe_timeout() {
    let (catalog, models, catalog_port) = start_catalog().await;
    models.set(true);
    // Bound and never accepted: the kernel completes the handshake, then silence.
    let (silent, silent_port) = ephemeral().await;
    let [voice, dialogue, tryon] = closed_ports().await;
    let kiosk = start_kiosk(config(catalog_port, voice, silent_port, dialogue, tryon)).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();

    let (page, elapsed) = get_page(&client, &kiosk.url).await;
    assert!(elapsed >= PROBE_TIMEOUT, "{elapsed:?}");
    // Probes run concurrently: one hung service costs one timeout, not more.
    assert!(
        elapsed < PROBE_TIMEOUT + Duration::from_millis(500),
        "page took {elapsed:?}"
    );
    let vision_row = row(&page, Service::Vision);
    assert!(vision_row.contains(">no answer<"), "{vision_row}");
    assert!(
        vision_row.contains(&format!(
            "no answer within {} ms",
            PROBE_TIMEOUT.as_millis()
        )),
        "{vision_row}"
    );
    assert!(row(&page, Service::Catalog).contains(r#"class="state ready">ready<"#));

    drop(silent);
    kiosk.shutdown().await;
    catalog.shutdown().await;
}

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let kiosk = start_kiosk(Config::default()).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let response = client
        .get(format!("{}/no-such-page", kiosk.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    kiosk.shutdown().await;
}
