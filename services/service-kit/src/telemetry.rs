//! Logs (JSON or pretty, env-filter), Prometheus metrics served at `/metrics`, and
//! OTLP trace export when built with the `otlp` feature.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogFormat, TelemetryConfig};

/// Why telemetry could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// `telemetry.level` is not a valid env-filter directive.
    #[error("telemetry.level: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    /// A global subscriber was already installed (init called twice).
    #[error("telemetry is already initialised: {0}")]
    AlreadyInitialised(String),
    /// The OTLP exporter could not be built.
    #[cfg(feature = "otlp")]
    #[error("telemetry.otlp_endpoint: {0}")]
    Otlp(String),
}

/// Installs the global tracing subscriber for `service_name`: the configured log
/// format and filter and, with the `otlp` feature and an endpoint set, trace export
/// (call [`crate::otlp::flush`] before exiting).
/// Call once at start, before anything logs.
pub fn init(config: &TelemetryConfig, service_name: &str) -> Result<(), TelemetryError> {
    let filter = EnvFilter::try_new(&config.level)?;
    // Both layers are optional so the subscriber has one type whichever format is chosen.
    let json = (config.format == LogFormat::Json).then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
    });
    let pretty =
        (config.format == LogFormat::Pretty).then(|| tracing_subscriber::fmt::layer().pretty());
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(json)
        .with(pretty);
    #[cfg(feature = "otlp")]
    let registry = registry.with(crate::otlp::layer(config, service_name)?);
    #[cfg(not(feature = "otlp"))]
    if config.otlp_endpoint.is_some() {
        // Not an error: the same config file serves builds with and without export.
        eprintln!(
            "telemetry.otlp_endpoint is set but {service_name} was built without the `otlp` feature; traces are not exported"
        );
    }
    registry
        .try_init()
        .map_err(|e| TelemetryError::AlreadyInitialised(e.to_string()))?;
    tracing::info!(service = service_name, "telemetry initialised");
    Ok(())
}

/// Labels of the HTTP request metrics. `route` is the matched route template (never
/// the raw path, which could carry ids and would explode cardinality).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// HTTP method.
    pub method: String,
    /// Matched route template such as `/v1/products/{sku}`, or `unmatched`.
    pub route: String,
    /// Response status code.
    pub status: u16,
}

/// A Prometheus registry plus the standard HTTP metrics. Cheap to clone; clones
/// share the registry. Services add their own metrics with [`Metrics::register`].
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
    requests: Family<HttpLabels, Counter>,
    latency: Family<HttpLabels, Histogram, fn() -> Histogram>,
}

fn latency_histogram() -> Histogram {
    // 5 ms to ~10 s: covers a health check up to a long speech synthesis.
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.005, 2.0, 12,
    ))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with the HTTP metrics registered (tests use this to stay
    /// isolated; services use [`Metrics::global`]).
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<HttpLabels, Counter>::default();
        let latency = Family::<HttpLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to produce the HTTP response, by method, route and status",
            latency.clone(),
        );
        Self {
            registry: Arc::new(Mutex::new(registry)),
            requests,
            latency,
        }
    }

    /// The process-wide registry that [`crate::server::run`] serves, so a service
    /// can register its metrics from anywhere.
    pub fn global() -> &'static Metrics {
        static GLOBAL: OnceLock<Metrics> = OnceLock::new();
        GLOBAL.get_or_init(Metrics::new)
    }

    /// Registers a service's own metric (e.g. a transcription latency histogram).
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        self.registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .register(name, help, metric);
    }

    /// Registers `metric` and returns it (metrics are handles to shared cells), so a
    /// service's metric set is built in one expression per metric.
    pub fn registered<M: Metric + Clone>(&self, name: &str, help: &str, metric: M) -> M {
        self.register(name, help, metric.clone());
        metric
    }

    /// Creates, registers and returns a histogram with these bucket bounds: the
    /// usual way a service times one of its stages.
    pub fn histogram(
        &self,
        name: &str,
        help: &str,
        buckets: impl Iterator<Item = f64>,
    ) -> Histogram {
        self.registered(name, help, Histogram::new(buckets))
    }

    /// Counts one answered request and its latency.
    pub fn observe_request(&self, labels: HttpLabels, elapsed: Duration) {
        self.latency
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        self.requests.get_or_create(&labels).inc();
    }

    /// The OpenMetrics text exposition of every registered metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        let registry = self
            .registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observed_requests_and_custom_metrics_are_exposed() {
        let metrics = Metrics::new();
        let loaded = Counter::<u64>::default();
        metrics.register("models_loaded", "Models loaded", loaded.clone());
        loaded.inc();
        let labels = HttpLabels {
            method: "GET".into(),
            route: "/v1/x".into(),
            status: 200,
        };
        metrics.observe_request(labels, Duration::from_millis(3));
        let text = metrics.encode();
        assert!(
            text.contains(r#"http_requests_total{method="GET",route="/v1/x",status="200"} 1"#),
            "{text}"
        );
        assert!(
            text.contains("http_request_duration_seconds_count"),
            "{text}"
        );
        assert!(text.contains("models_loaded_total 1"), "{text}");
    }

    #[test]
    fn a_bad_level_is_rejected_naming_the_field() {
        let config = TelemetryConfig {
            level: "info,=[".into(),
            ..TelemetryConfig::default()
        };
        let err = init(&config, "test").unwrap_err();
        assert!(err.to_string().starts_with("telemetry.level:"), "{err}");
    }
}
