//! The kiosk service: the only public face of the assistant.
//!
//! This first increment serves the system-status page the demo opens (`GET /`) and
//! the same status as JSON (`GET /api/status`). The customer-facing kiosk (WebSocket
//! conversation, camera, microphone) arrives with the kiosk issue.
//!
//! The shape every service copies: [`app`] builds the routes from an [`AppState`];
//! [`run`] serves them on a listener through service-kit's [`Server`] until a
//! shutdown future resolves; `main` only loads config, sets up telemetry and binds.

pub mod status;

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use protocol::Service;
use service_kit::ApiError;
use service_kit::config::Config;
use service_kit::health::Readiness;
use service_kit::server::Server;
use tokio::net::TcpListener;

use crate::status::{PROBE_TIMEOUT, SystemStatus};

/// What the handlers share. Cheap to clone (everything is behind `Arc`s).
#[derive(Debug, Clone)]
pub struct AppState {
    config: Arc<Config>,
    client: reqwest::Client,
    readiness: Readiness,
    probe_timeout: Duration,
}

impl AppState {
    /// State for `config`, with a probe client that ignores proxies and times out
    /// after [`PROBE_TIMEOUT`], and an empty readiness (the kiosk is ready as soon as
    /// it serves: it must keep working, degraded, while any other service is down).
    pub fn new(config: Config) -> Self {
        Self {
            config: Arc::new(config),
            client: status::probe_client(),
            readiness: Readiness::new(),
            probe_timeout: PROBE_TIMEOUT,
        }
    }

    /// The configuration the kiosk runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The kiosk's own readiness checks, served at `/readyz` and shown in its row of
    /// the status page. Clones share the checks.
    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// Probes every service now, as `/` and `/api/status` do.
    pub async fn system_status(&self) -> SystemStatus {
        status::collect(
            &self.config,
            &self.client,
            &self.readiness,
            self.probe_timeout,
        )
        .await
    }
}

/// The kiosk's routes, without the operational ones (`/healthz`, `/readyz`,
/// `/metrics`) that [`Server`] adds.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(status_page))
        .route("/api/status", get(status_json))
        .with_state(state)
}

/// Serves the kiosk on `listener` until `shutdown` resolves, then finishes in-flight
/// requests and returns.
pub async fn run(
    listener: TcpListener,
    mut config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    // The page shows the kiosk's own URL; when bound to port 0 (tests) the configured
    // port is not where it listens, so show the port actually bound.
    if config.kiosk.url.is_none() {
        config.kiosk.port = listener.local_addr()?.port();
    }
    let state = AppState::new(config);
    Server::new()
        .with_readiness(state.readiness().clone())
        .run(listener, app(state), shutdown)
        .await
}

/// The status page: static HTML that refreshes itself, so it needs no JavaScript.
#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage<'a> {
    status: &'a SystemStatus,
    total: usize,
    ready: usize,
    kiosk: Service,
    probe_ms: u128,
}

/// `GET /`: the system-status page.
async fn status_page(State(state): State<AppState>) -> Result<Html<String>, ApiError> {
    let status = state.system_status().await;
    let page = StatusPage {
        total: status.services.len(),
        ready: status.ready_count(),
        status: &status,
        kiosk: Service::Kiosk,
        probe_ms: state.probe_timeout.as_millis(),
    };
    page.render().map(Html).map_err(|e| {
        tracing::error!(error = %e, "status page did not render");
        ApiError::internal("the status page could not be rendered")
    })
}

/// `GET /api/status`: the same status as JSON.
async fn status_json(State(state): State<AppState>) -> Json<SystemStatus> {
    Json(state.system_status().await)
}
