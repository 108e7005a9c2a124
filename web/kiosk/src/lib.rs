//! The kiosk service: the only public face of the assistant.
//!
//! - `GET /`: the customer page (camera, microphone, captions, cards, mirror), and
//!   `GET /ws`, its WebSocket session (docs/protocol.md), run by [`session`].
//! - `GET /staff` and `/staff/ws`, `/api/staff/...`: the fetch queue ([`staff`]).
//! - `GET /status` and `/api/status`: which services are up ([`status`]).
//!
//! Every call to another service goes through [`upstream`]: deadlines, retries,
//! and a circuit breaker per service whose state the pages are told.
//!
//! The shape every service copies: [`app`] builds the routes from an [`AppState`];
//! [`run`] serves them on a listener through service-kit's [`Server`] until a
//! shutdown future resolves; `main` only loads config, sets up telemetry and binds.

pub mod error;
pub mod i18n;
pub mod metrics;
pub mod pages;
pub mod session;
pub mod staff;
pub mod status;
pub mod upstream;
mod ws;

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

use crate::metrics::KioskMetrics;
use crate::session::{Sessions, Shared, watch_unavailable};
use crate::staff::FetchQueue;
use crate::status::{PROBE_TIMEOUT, SystemStatus};
use crate::upstream::Upstreams;

/// What the handlers share. Cheap to clone (everything is behind `Arc`s).
#[derive(Debug, Clone)]
pub struct AppState {
    config: Arc<Config>,
    client: reqwest::Client,
    readiness: Readiness,
    probe_timeout: Duration,
    upstreams: Upstreams,
    sessions: Sessions,
}

impl AppState {
    /// State for `config`, with a probe client that ignores proxies and times out
    /// after [`PROBE_TIMEOUT`], and an empty readiness (the kiosk is ready as soon as
    /// it serves: it must keep working, degraded, while any other service is down).
    /// Must be called inside a Tokio runtime (it starts the availability watchers).
    pub fn new(config: Config) -> Self {
        let config = Arc::new(config);
        let upstreams = Upstreams::new(&config);
        let kiosk = &config.kiosk;
        let shared = Shared {
            config: config.clone(),
            upstreams: upstreams.clone(),
            fetches: FetchQueue::new(&kiosk.fitting_rooms, kiosk.max_fetch_requests),
            metrics: KioskMetrics::get(),
            unavailable: watch_unavailable(&upstreams),
        };
        Self {
            config,
            client: status::probe_client(),
            readiness: Readiness::new(),
            probe_timeout: PROBE_TIMEOUT,
            upstreams,
            sessions: Sessions::new(shared),
        }
    }

    /// The other services, as the kiosk calls them.
    pub fn upstreams(&self) -> &Upstreams {
        &self.upstreams
    }

    /// The customer sessions.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// The staff queue.
    pub fn fetches(&self) -> &FetchQueue {
        &self.sessions.shared().fetches
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
        .route("/status", get(status_page))
        .route("/api/status", get(status_json))
        .route("/ws", get(ws::upgrade))
        .merge(pages::router())
        .merge(staff::router())
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
    // The prober notices services going down and coming back without a customer
    // having to try; it stops with the server.
    let (stop_probing, probing_stopped) = tokio::sync::watch::channel(false);
    let prober = tokio::spawn(state.upstreams().clone().probe_forever(probing_stopped));
    // Open WebSockets would hold the graceful shutdown forever: tell them to close.
    let closing = state.sessions().closing();
    let shutdown = async move {
        shutdown.await;
        closing.send_replace(true);
    };
    let served = Server::new()
        .with_readiness(state.readiness().clone())
        .run(listener, app(state), shutdown)
        .await;
    let _ = stop_probing.send(true);
    let _ = prober.await;
    served
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
