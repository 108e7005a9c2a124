//! The try-on service's own Prometheus metrics (HTTP metrics come from service-kit).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

/// Which back end drew a generated image.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BackendLabel {
    /// `local` (the garment renderer) or `remote` (an OpenAI-compatible server).
    pub backend: String,
}

/// A stage of a try-on (`face`, `outline`, `garment`, `warp`, `blend`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabel {
    /// The stage's name.
    pub stage: String,
}

/// Counters and timings of try-ons and generations.
#[derive(Clone)]
pub struct TryonMetrics {
    /// Worker time of one try-on (decoding, analysis, compositing, encoding).
    pub tryon_seconds: Histogram,
    /// Time of each stage of a try-on.
    pub stage_seconds: Family<StageLabel, Histogram, fn() -> Histogram>,
    /// Try-ons that found no person.
    pub no_person: Counter,
    /// Images generated, by back end.
    pub generated: Family<BackendLabel, Counter>,
    /// Remote generations that failed and fell back to the local renderer.
    pub remote_failures: Counter,
}

impl TryonMetrics {
    /// Counts `n` images drawn by `backend`.
    pub fn count_generated(&self, backend: &str, n: usize) {
        self.generated
            .get_or_create(&BackendLabel {
                backend: backend.to_owned(),
            })
            .inc_by(n as u64);
    }
}

/// 1 ms to ~4 s.
fn stage_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 12))
}

/// The process's one set (registering twice would duplicate the metric families).
pub fn get() -> &'static TryonMetrics {
    static METRICS: std::sync::OnceLock<TryonMetrics> = std::sync::OnceLock::new();
    METRICS.get_or_init(|| {
        let registry = service_kit::telemetry::Metrics::global();
        TryonMetrics {
            // 10 ms to ~20 s.
            tryon_seconds: registry.histogram(
                "tryon_seconds",
                "Worker time of one try-on, decoding and encoding included",
                exponential_buckets(0.01, 2.0, 12),
            ),
            stage_seconds: registry.registered(
                "tryon_stage_seconds",
                "Time of each stage of a try-on",
                Family::new_with_constructor(stage_histogram),
            ),
            no_person: registry.registered(
                "tryon_no_person",
                "Try-ons refused because no face was found",
                Counter::default(),
            ),
            generated: registry.registered(
                "tryon_generated_images",
                "Garment images generated, by back end",
                Family::default(),
            ),
            remote_failures: registry.registered(
                "tryon_remote_failures",
                "Remote generations that failed and were drawn locally instead",
                Counter::default(),
            ),
        }
    })
}
