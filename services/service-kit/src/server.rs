//! Serving a service: the common layers (request id, tracing, metrics, body limit,
//! JSON errors), the operational routes (`/healthz`, `/readyz`, `/metrics`), graceful
//! shutdown, and a bounded-concurrency helper for expensive routes.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tracing::Instrument;

use crate::error::{ApiError, code_for_status};
use crate::health::{Readiness, healthz, readyz};
use crate::request_id::{self, RequestId};
use crate::telemetry::{HttpLabels, Metrics};

/// Default cap on request bodies; services taking uploads (audio, images) raise it.
pub const DEFAULT_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Routes probed every few seconds; logged at debug so they do not drown real traffic.
const OPS_ROUTES: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// How a service is served. `Server::new()` uses the process-wide metrics registry,
/// no readiness checks and [`DEFAULT_BODY_LIMIT`].
#[derive(Debug, Clone)]
pub struct Server {
    readiness: Readiness,
    metrics: Metrics,
    body_limit: usize,
}

impl Default for Server {
    fn default() -> Self {
        Self::new()
    }
}

impl Server {
    /// Defaults: global metrics, no readiness checks, 2 MiB body limit.
    pub fn new() -> Self {
        Self {
            readiness: Readiness::new(),
            metrics: Metrics::global().clone(),
            body_limit: DEFAULT_BODY_LIMIT,
        }
    }

    /// Serves these readiness checks at `/readyz`.
    pub fn with_readiness(mut self, readiness: Readiness) -> Self {
        self.readiness = readiness;
        self
    }

    /// Counts requests into, and serves at `/metrics`, this registry.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Largest accepted request body in bytes; larger ones get 413 `body_too_large`.
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// The service's `app` with operational routes and common layers added; what
    /// [`Server::run`] serves. `app` must not define `/healthz`, `/readyz` or `/metrics`.
    pub fn router(&self, app: Router) -> Router {
        let metrics = self.metrics.clone();
        let ops = Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz).with_state(self.readiness.clone()))
            .route(
                "/metrics",
                get(move || {
                    let metrics = metrics.clone();
                    async move { serve_metrics(&metrics) }
                }),
            );
        app.merge(ops)
            // Extractors would otherwise stop at axum's own 2 MB default.
            .layer(DefaultBodyLimit::max(self.body_limit))
            .layer(RequestBodyLimitLayer::new(self.body_limit))
            // A bug in one handler answers 500 with the JSON body instead of
            // dropping the connection; the process and other requests carry on.
            .layer(CatchPanicLayer::custom(panic_response))
            .layer(middleware::from_fn(json_errors))
            .layer(middleware::from_fn_with_state(
                self.metrics.clone(),
                observe,
            ))
            .layer(middleware::from_fn(request_id::middleware))
    }

    /// Serves `app` on `listener` until `shutdown` resolves, then stops accepting
    /// and finishes in-flight requests before returning.
    pub async fn run(
        self,
        listener: TcpListener,
        app: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = self.router(app);
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "listening");
        }
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// The answer when a handler panics. The panic message is not logged: it may quote
/// request data.
fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::internal("the service hit an internal error; it has been logged").into_response()
}

/// Serves `app` with the default [`Server`] settings until `shutdown` resolves
/// (usually [`shutdown_signal`]), then drains in-flight requests.
pub async fn run(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    Server::new().run(listener, app, shutdown).await
}

/// Resolves on SIGTERM (k3s stopping the pod, the launcher) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        // If the handler cannot be installed, wait for SIGTERM instead of stopping now.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

fn serve_metrics(metrics: &Metrics) -> Response {
    let mut response = metrics.encode().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}

/// Wraps each request in a span carrying its id and route, logs its outcome, and
/// counts it. Logs the route template, never the raw path or query (personal data).
async fn observe(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let id = request
        .extensions()
        .get::<RequestId>()
        .map(ToString::to_string)
        .unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        method = %method,
        route = %route,
        request_id = %id,
        status = tracing::field::Empty,
    );
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    span.record("status", status);
    span.in_scope(|| {
        let ms = elapsed.as_secs_f64() * 1000.0;
        if OPS_ROUTES.contains(&route.as_str()) {
            tracing::debug!(latency_ms = ms, "request finished");
        } else {
            tracing::info!(latency_ms = ms, "request finished");
        }
    });
    metrics.observe_request(
        HttpLabels {
            method,
            route,
            status,
        },
        elapsed,
    );
    response
}

/// Turns error responses that are not JSON (framework rejections, the default 404,
/// the body limit's 413) into the standard JSON error body, so every error a client
/// sees has a stable `code`. HTML and JSON error bodies are left alone.
async fn json_errors(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.starts_with("text/plain"));
    if !plain {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let message = match (text.is_empty(), status) {
        (true, StatusCode::NOT_FOUND) => format!("no route for {method} {path}"),
        (true, _) => status.canonical_reason().unwrap_or("error").to_string(),
        (false, _) => text,
    };
    let error = if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::body_too_large()
    } else {
        ApiError::new(status, code_for_status(status), message)
    };
    let mut json = error.into_response();
    // Keep meaningful headers such as `Allow` on a 405 or `Retry-After`.
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            json.headers_mut().insert(name.clone(), value.clone());
        }
    }
    json
}

/// Caps concurrent work on expensive routes: at most `max_in_flight` requests run,
/// up to `max_queued` more wait, and any beyond that get 503 `overloaded` with
/// `Retry-After` at once, so a busy kiosk degrades instead of timing out.
/// The slot is held until the handler returns its response (not while a streamed
/// body is still being sent).
#[derive(Debug, Clone)]
pub struct ConcurrencyLimit {
    in_flight: Arc<Semaphore>,
    admitted: Arc<Semaphore>,
    capacity: usize,
    retry_after: Duration,
}

impl ConcurrencyLimit {
    /// A limit of `max_in_flight` running (at least 1) plus `max_queued` waiting;
    /// rejected clients are told to retry after `retry_after`.
    pub fn new(max_in_flight: usize, max_queued: usize, retry_after: Duration) -> Self {
        let max_in_flight = max_in_flight.max(1);
        let capacity = max_in_flight + max_queued;
        Self {
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            admitted: Arc::new(Semaphore::new(capacity)),
            capacity,
            retry_after,
        }
    }

    /// Requests currently running or waiting.
    pub fn admitted(&self) -> usize {
        self.capacity - self.admitted.available_permits()
    }

    /// Applies the limit to every route of `router` (not to its fallback, so an
    /// unknown route is still a 404). Apply it to the expensive routes before
    /// merging them with cheap ones.
    pub fn apply<S: Clone + Send + Sync + 'static>(self, router: Router<S>) -> Router<S> {
        router.route_layer(middleware::from_fn_with_state(self, limit_concurrency))
    }
}

async fn limit_concurrency(
    State(limit): State<ConcurrencyLimit>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let Ok(_admitted) = limit.admitted.clone().try_acquire_owned() else {
        return ApiError::overloaded(limit.retry_after).into_response();
    };
    let Ok(_running) = limit.in_flight.clone().acquire_owned().await else {
        // The semaphore is never closed; treat it as overload if it were.
        return ApiError::overloaded(limit.retry_after).into_response();
    };
    next.run(request).await
}
