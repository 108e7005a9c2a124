//! The kiosk's own Prometheus metrics (HTTP metrics come from service-kit): the
//! stages of a turn as the customer lives them, and the sessions held.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

/// Labels of the stage histogram.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabels {
    /// `transcript`, `first_text`, `first_audio` or `total`: time from the end of
    /// the customer's speech to that point.
    pub stage: String,
}

/// Labels of the turn counter.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `done`, `cancelled` or `failed`.
    pub outcome: String,
}

/// The kiosk's metrics. Cheap to clone (handles to shared cells).
#[derive(Debug, Clone)]
pub struct KioskMetrics {
    /// Seconds from the end of speech to each stage of a turn.
    pub stage_seconds: Family<StageLabels, Histogram>,
    /// Turns by outcome.
    pub turns: Family<OutcomeLabels, Counter>,
    /// Replies prepared during a pause, by outcome (`released` when her final words
    /// were the same, `dropped` when she went on): how often the preparation pays.
    pub speculations: Family<OutcomeLabels, Counter>,
    /// Sessions live now (connected or waiting to resume).
    pub sessions: Gauge,
    /// Microphone frames dropped because voice was behind.
    pub audio_dropped: Counter,
}

impl KioskMetrics {
    /// The process's one set (registering twice would duplicate the families).
    pub fn get() -> KioskMetrics {
        static METRICS: std::sync::OnceLock<KioskMetrics> = std::sync::OnceLock::new();
        METRICS
            .get_or_init(|| {
                let registry = service_kit::telemetry::Metrics::global();
                KioskMetrics {
                    // 10 ms to ~40 s.
                    stage_seconds: registry.registered(
                        "kiosk_turn_stage_seconds",
                        "Time from the end of the customer's speech to the transcript, the first text, the first audio and the end of the reply",
                        Family::new_with_constructor(|| {
                            Histogram::new(exponential_buckets(0.01, 2.0, 13))
                        }),
                    ),
                    turns: registry.registered(
                        "kiosk_turns",
                        "Turns by outcome",
                        Family::default(),
                    ),
                    speculations: registry.registered(
                        "kiosk_speculative_turns",
                        "Replies prepared during a pause: released (her words stood) or dropped (she went on)",
                        Family::default(),
                    ),
                    sessions: registry.registered(
                        "kiosk_sessions",
                        "Customer sessions live (connected or waiting to resume)",
                        Gauge::default(),
                    ),
                    audio_dropped: registry.registered(
                        "kiosk_audio_dropped",
                        "Microphone frames dropped because speech-to-text was behind",
                        Counter::default(),
                    ),
                }
            })
            .clone()
    }

    /// Records one stage of a turn.
    pub fn stage(&self, stage: &str, millis: u64) {
        self.stage_seconds
            .get_or_create(&StageLabels {
                stage: stage.to_owned(),
            })
            .observe(millis as f64 / 1000.0);
    }

    /// Counts a finished turn.
    pub fn turn(&self, outcome: &str) {
        count(&self.turns, outcome);
    }

    /// Counts a speculative turn released or dropped.
    pub fn speculation(&self, outcome: &str) {
        count(&self.speculations, outcome);
    }
}

fn count(family: &Family<OutcomeLabels, Counter>, outcome: &str) {
    family
        .get_or_create(&OutcomeLabels {
            outcome: outcome.to_owned(),
        })
        .inc();
}
