//! The vision service's own Prometheus metrics (HTTP metrics come from service-kit).

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

/// Counters and timings of the analysis.
#[derive(Clone)]
pub struct VisionMetrics {
    /// Time of a whole analyze call, decoding and identification included.
    pub analyze_seconds: Histogram,
    /// Faces reported.
    pub faces: Counter,
    /// Faces matched to an enrolled customer.
    pub identified: Counter,
    /// Customers enrolled.
    pub enrolled: Counter,
}

/// The process's one set (registering twice would duplicate the metric families).
pub fn get() -> &'static VisionMetrics {
    static METRICS: std::sync::OnceLock<VisionMetrics> = std::sync::OnceLock::new();
    METRICS.get_or_init(|| {
        let registry = service_kit::telemetry::Metrics::global();
        VisionMetrics {
            // 5 ms to ~10 s.
            analyze_seconds: registry.histogram(
                "vision_analyze_seconds",
                "Time to analyse one frame, identification included",
                exponential_buckets(0.005, 2.0, 12),
            ),
            faces: registry.registered("vision_faces", "Faces reported", Counter::default()),
            identified: registry.registered(
                "vision_identified",
                "Faces matched to an enrolled customer",
                Counter::default(),
            ),
            enrolled: registry.registered(
                "vision_enrolled",
                "Customers enrolled",
                Counter::default(),
            ),
        }
    })
}
