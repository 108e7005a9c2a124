//! The kiosk's way to the other services: per service a deadline on every call,
//! retries with backoff for calls that are safe to repeat, and a circuit breaker whose
//! state is the service's availability. Sessions watch that availability to degrade
//! (text instead of voice, no mirror) and to recover by themselves: a prober keeps
//! asking each service's `/readyz`, so a service that comes back is noticed without a
//! customer having to try.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use backon::{ExponentialBuilder, Retryable};
use failsafe::backoff::Exponential;
use failsafe::failure_policy::ConsecutiveFailures;
use failsafe::{Instrument, StateMachine};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use protocol::{ErrorBody, Service};
use reqwest::{RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use service_kit::config::Config;
use service_kit::request_id::X_REQUEST_ID;
use tokio::sync::watch;
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::WebSocketStream;

/// How often the prober asks every service's `/readyz`.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(1000);
/// Deadline of one readiness probe: generous, since a busy 2-core node can be slow to
/// answer while it is working, and slow is not down.
const PROBE_DEADLINE: Duration = Duration::from_secs(3);
/// Attempts of a call that is safe to repeat (the first one included).
const ATTEMPTS: usize = 3;

/// A WebSocket to another service (voice's streams).
pub type ServiceSocket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Why a call to another service failed, from the caller's point of view.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// The circuit is open: the service failed repeatedly and is not being called
    /// until it answers a probe again.
    #[error("{0} is unavailable")]
    CircuitOpen(Service),
    /// The call timed out, could not connect, or the service failed (5xx) or answered
    /// something unreadable.
    #[error("{service} failed: {detail}")]
    Failed {
        /// The service called.
        service: Service,
        /// What went wrong, for logs (never personal data: bodies are not included).
        detail: String,
    },
    /// The service refused the request (4xx other than 404), with its error code.
    #[error("{service} refused the request ({status}, {code}): {message}")]
    Refused {
        /// The service called.
        service: Service,
        /// HTTP status.
        status: u16,
        /// The service's stable error code.
        code: String,
        /// The service's message.
        message: String,
    },
    /// What was asked for does not exist (404).
    #[error("{0}: not found")]
    NotFound(Service),
}

impl UpstreamError {
    /// Whether the failure says the service is unwell (as opposed to a request the
    /// service rightly refused), so it counts towards opening its circuit.
    fn is_service_failure(&self) -> bool {
        matches!(self, UpstreamError::Failed { .. })
    }

    /// The service refused the request with this code.
    pub fn refused_code(&self) -> Option<&str> {
        match self {
            UpstreamError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The service is down or failing: the session should degrade.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            UpstreamError::CircuitOpen(_) | UpstreamError::Failed { .. }
        )
    }
}

/// Labels of the upstream call counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    service: String,
    outcome: String,
}

/// Tells availability watchers when the breaker opens and closes.
#[derive(Debug, Clone)]
struct AvailabilityInstrument {
    service: Service,
    available: watch::Sender<bool>,
}

impl Instrument for AvailabilityInstrument {
    fn on_call_rejected(&self) {}

    fn on_open(&self) {
        tracing::warn!(
            service = self.service.name(),
            "circuit opened: service unavailable"
        );
        self.available.send_replace(false);
    }

    fn on_half_open(&self) {}

    fn on_closed(&self) {
        tracing::info!(
            service = self.service.name(),
            "circuit closed: service available"
        );
        self.available.send_replace(true);
    }
}

type Breaker = StateMachine<ConsecutiveFailures<Exponential>, AvailabilityInstrument>;

/// One service as the kiosk calls it. Cheap to clone.
#[derive(Clone)]
pub struct Upstream {
    inner: Arc<UpstreamInner>,
}

struct UpstreamInner {
    service: Service,
    base: String,
    token: Option<String>,
    http: reqwest::Client,
    timeout: Duration,
    breaker: Breaker,
    available: watch::Receiver<bool>,
    calls: Family<CallLabels, Counter>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("service", &self.inner.service)
            .field("base", &self.inner.base)
            .finish_non_exhaustive()
    }
}

impl Upstream {
    fn new(
        service: Service,
        config: &Config,
        http: reqwest::Client,
        calls: Family<CallLabels, Counter>,
    ) -> Self {
        let kiosk = &config.kiosk;
        let (available_tx, available) = watch::channel(true);
        let open = Duration::from_millis(kiosk.breaker_open_ms);
        let policy = failsafe::failure_policy::consecutive_failures(
            kiosk.breaker_failures,
            failsafe::backoff::exponential(open, open * 8),
        );
        let breaker = failsafe::Config::new()
            .failure_policy(policy)
            .instrument(AvailabilityInstrument {
                service,
                available: available_tx,
            })
            .build();
        Self {
            inner: Arc::new(UpstreamInner {
                service,
                base: config.url_of(service),
                token: config.catalog.service_token.clone(),
                http,
                timeout: Duration::from_millis(kiosk.call_timeout_ms),
                breaker,
                available,
                calls,
            }),
        }
    }

    /// Which service this is.
    pub fn service(&self) -> Service {
        self.inner.service
    }

    /// Whether the service can be used now (its circuit is closed).
    pub fn is_available(&self) -> bool {
        *self.inner.available.borrow()
    }

    /// Changes of [`Upstream::is_available`], for sessions to tell their page.
    pub fn watch(&self) -> watch::Receiver<bool> {
        self.inner.available.clone()
    }

    /// `GET path`, answer read as JSON; repeated on failure.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        trace: &str,
        path: &str,
    ) -> Result<T, UpstreamError> {
        let url = self.url(path);
        let response = self
            .call(trace, true, |http| http.get(&url), self.inner.timeout)
            .await?;
        self.read_json(response).await
    }

    /// `GET path`, answer as bytes with its content type; repeated on failure.
    pub async fn get_bytes(
        &self,
        trace: &str,
        path: &str,
    ) -> Result<(Vec<u8>, Option<String>), UpstreamError> {
        let url = self.url(path);
        let response = self
            .call(trace, true, |http| http.get(&url), self.inner.timeout)
            .await?;
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response.bytes().await.map_err(|e| self.failed(e))?;
        Ok((bytes.to_vec(), content_type))
    }

    /// `POST path` with a JSON body, answer read as JSON. `idempotent` calls are
    /// repeated on failure; others only when they could not connect at all.
    pub async fn post_json<B: Serialize + Sync, T: DeserializeOwned>(
        &self,
        trace: &str,
        path: &str,
        body: &B,
        idempotent: bool,
    ) -> Result<T, UpstreamError> {
        let url = self.url(path);
        let response = self
            .call(
                trace,
                idempotent,
                |http| http.post(&url).json(body),
                self.inner.timeout,
            )
            .await?;
        self.read_json(response).await
    }

    /// `POST path` with raw bytes (a camera frame), answer read as JSON; repeated on
    /// failure (analysing a frame has no effect to repeat).
    pub async fn post_bytes<T: DeserializeOwned>(
        &self,
        trace: &str,
        path: &str,
        content_type: &'static str,
        body: Bytes,
    ) -> Result<T, UpstreamError> {
        let url = self.url(path);
        let response = self
            .call(
                trace,
                true,
                |http| {
                    http.post(&url)
                        .header(reqwest::header::CONTENT_TYPE, content_type)
                        .body(body.clone())
                },
                self.inner.timeout,
            )
            .await?;
        self.read_json(response).await
    }

    /// `DELETE path`; repeated on failure (deleting twice is deleting once).
    pub async fn delete(&self, trace: &str, path: &str) -> Result<(), UpstreamError> {
        let url = self.url(path);
        self.call(trace, true, |http| http.delete(&url), self.inner.timeout)
            .await
            .map(drop)
    }

    /// `POST path` whose answer is a long stream (server-sent events), with the turn
    /// deadline `within` instead of the call deadline. Never repeated.
    pub async fn post_stream<B: Serialize + Sync>(
        &self,
        trace: &str,
        path: &str,
        body: &B,
        within: Duration,
    ) -> Result<reqwest::Response, UpstreamError> {
        let url = self.url(path);
        self.call(trace, false, |http| http.post(&url).json(body), within)
            .await
    }

    /// Opens a WebSocket to `path` (voice's streams), through the breaker.
    pub async fn connect_ws(&self, path: &str) -> Result<ServiceSocket, UpstreamError> {
        if !self.inner.breaker.is_call_permitted() {
            self.count("rejected");
            return Err(UpstreamError::CircuitOpen(self.inner.service));
        }
        let url = format!("ws{}{path}", self.inner.base.trim_start_matches("http"));
        let connect = tokio_tungstenite::connect_async(url);
        match tokio::time::timeout(self.inner.timeout, connect).await {
            Ok(Ok((socket, _))) => {
                self.inner.breaker.on_success();
                self.count("ok");
                Ok(socket)
            }
            Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response)))
                if response.status().is_client_error() =>
            {
                self.inner.breaker.on_success();
                self.count("refused");
                Err(UpstreamError::Refused {
                    service: self.inner.service,
                    status: response.status().as_u16(),
                    code: "refused".into(),
                    message: "the WebSocket upgrade was refused".into(),
                })
            }
            Ok(Err(e)) => Err(self.record_failure(e.to_string())),
            Err(_) => Err(self.record_failure("timed out connecting".into())),
        }
    }

    /// Records that a stream (a turn, a speech stream) broke half-way, which says as
    /// much about the service as a failed call.
    pub fn stream_failed(&self, detail: &str) -> UpstreamError {
        self.record_failure(detail.to_owned())
    }

    /// Asks `/readyz` once, if the breaker allows a call now, and feeds the answer to
    /// the breaker; what makes a service that came back available again.
    pub async fn probe(&self) {
        if !self.inner.breaker.is_call_permitted() {
            return;
        }
        let url = self.url("/readyz");
        let outcome = self
            .inner
            .http
            .get(&url)
            .timeout(PROBE_DEADLINE)
            .send()
            .await;
        match outcome {
            Ok(response) if response.status().is_success() => self.inner.breaker.on_success(),
            _ => self.inner.breaker.on_error(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.inner.base)
    }

    fn count(&self, outcome: &str) {
        self.inner
            .calls
            .get_or_create(&CallLabels {
                service: self.inner.service.name().to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    fn failed(&self, error: impl std::fmt::Display) -> UpstreamError {
        UpstreamError::Failed {
            service: self.inner.service,
            detail: error.to_string(),
        }
    }

    fn record_failure(&self, detail: String) -> UpstreamError {
        self.inner.breaker.on_error();
        self.count("failed");
        UpstreamError::Failed {
            service: self.inner.service,
            detail,
        }
    }

    /// One call through the breaker, with retries when `repeatable`, the trace id
    /// as `x-request-id`, the service token, and the status mapped.
    async fn call(
        &self,
        trace: &str,
        repeatable: bool,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
        within: Duration,
    ) -> Result<reqwest::Response, UpstreamError> {
        if !self.inner.breaker.is_call_permitted() {
            self.count("rejected");
            return Err(UpstreamError::CircuitOpen(self.inner.service));
        }
        let attempt = || async {
            let mut request = build(&self.inner.http)
                .timeout(within)
                .header(X_REQUEST_ID, trace);
            if let Some(token) = &self.inner.token {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.map_err(|e| Attempt {
                connect: e.is_connect(),
                error: self.failed(e),
            })?;
            self.check_status(response).await.map_err(|error| Attempt {
                connect: false,
                error,
            })
        };
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_millis(800))
            .with_max_times(ATTEMPTS - 1)
            .with_jitter();
        let outcome = attempt
            .retry(backoff)
            .when(|attempt: &Attempt| {
                attempt.error.is_service_failure() && (repeatable || attempt.connect)
            })
            .await
            .map_err(|attempt| attempt.error);
        match &outcome {
            Ok(_) => {
                self.inner.breaker.on_success();
                self.count("ok");
            }
            Err(error) if error.is_service_failure() => {
                self.inner.breaker.on_error();
                self.count("failed");
            }
            Err(_) => {
                // The service answered: it is alive, the request was wrong.
                self.inner.breaker.on_success();
                self.count("refused");
            }
        }
        outcome
    }

    async fn check_status(
        &self,
        response: reqwest::Response,
    ) -> Result<reqwest::Response, UpstreamError> {
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        if status == StatusCode::NOT_FOUND {
            return Err(UpstreamError::NotFound(self.inner.service));
        }
        if status.is_client_error() {
            let body = response.json::<ErrorBody>().await.ok();
            let (code, message) = body
                .map(|b| (b.error.code, b.error.message))
                .unwrap_or_else(|| ("refused".into(), status.to_string()));
            return Err(UpstreamError::Refused {
                service: self.inner.service,
                status: status.as_u16(),
                code,
                message,
            });
        }
        Err(self.failed(format!("answered {status}")))
    }

    async fn read_json<T: DeserializeOwned>(
        &self,
        response: reqwest::Response,
    ) -> Result<T, UpstreamError> {
        response
            .json::<T>()
            .await
            .map_err(|e| self.failed(format!("unreadable answer: {e}")))
    }
}

/// A failed attempt, and whether it failed before reaching the service.
struct Attempt {
    connect: bool,
    error: UpstreamError,
}

/// The process's one call counter (registering twice would duplicate the family
/// when tests run several kiosks in one process).
fn call_counter() -> Family<CallLabels, Counter> {
    static CALLS: std::sync::OnceLock<Family<CallLabels, Counter>> = std::sync::OnceLock::new();
    CALLS
        .get_or_init(|| {
            let calls = Family::<CallLabels, Counter>::default();
            service_kit::telemetry::Metrics::global().register(
                "kiosk_upstream_calls",
                "Calls from the kiosk to other services, by outcome (ok, failed, refused, rejected by an open circuit)",
                calls.clone(),
            );
            calls
        })
        .clone()
}

/// Every service the kiosk calls. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Upstreams {
    /// Products, images, customers.
    pub catalog: Upstream,
    /// Speech to text and text to speech.
    pub voice: Upstream,
    /// Faces and enrolment.
    pub vision: Upstream,
    /// The conversation.
    pub dialogue: Upstream,
    /// The mirror.
    pub tryon: Upstream,
}

impl Upstreams {
    /// Clients for every service of `config`, sharing one connection pool.
    pub fn new(config: &Config) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        let calls = call_counter();
        let make = |service| Upstream::new(service, config, http.clone(), calls.clone());
        Self {
            catalog: make(Service::Catalog),
            voice: make(Service::Voice),
            vision: make(Service::Vision),
            dialogue: make(Service::Dialogue),
            tryon: make(Service::Tryon),
        }
    }

    /// All five, for probing and for telling a page which are down.
    pub fn all(&self) -> [&Upstream; 5] {
        [
            &self.voice,
            &self.vision,
            &self.dialogue,
            &self.catalog,
            &self.tryon,
        ]
    }

    /// Probes every service each [`PROBE_INTERVAL`] until `stop` fires.
    pub async fn probe_forever(self, mut stop: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(PROBE_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            let probes = self.all().map(|upstream| upstream.probe());
            futures_util::future::join_all(probes).await;
        }
    }
}
