//! Why a speech synthesis failed, mapped once onto HTTP.

use std::time::Duration;

use axum::http::StatusCode;
use service_kit::error::ApiErrorCode;

/// How long an overloaded client is told to wait: about one sentence's synthesis.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Why text could not be turned into speech. Client mistakes are 4xx with a message
/// saying what to change; the rest are 5xx.
#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    /// The text has nothing to say (empty or white space only).
    #[error("input is empty; give the text to speak")]
    EmptyText,
    /// The text is longer than `voice.max_text_chars`.
    #[error("input has {chars} characters; at most {limit} are accepted per request")]
    TextTooLong {
        /// Characters given.
        chars: usize,
        /// The configured limit.
        limit: usize,
    },
    /// No configured voice has this name.
    #[error("unknown voice {requested:?}; available: {}", available.join(", "))]
    UnknownVoice {
        /// The name asked for.
        requested: String,
        /// Names that would work.
        available: Vec<String>,
    },
    /// A `response_format` this service does not produce.
    #[error("response_format {0:?} is not supported; use \"wav\" or \"pcm\"")]
    UnsupportedFormat(String),
    /// `speed` outside OpenAI's range.
    #[error("speed {0} is out of range; use 0.25 to 4.0")]
    InvalidSpeed(f32),
    /// The request body is not the expected JSON.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Every worker is busy and the queue is full.
    #[error("all {workers} speech workers are busy and {queued} requests are waiting; retry later")]
    Overloaded {
        /// Synthesis workers.
        workers: usize,
        /// Requests already waiting.
        queued: usize,
    },
    /// A voice or ONNX Runtime could not be loaded (a start-up error).
    #[error("could not load voice {voice}: {reason}")]
    Load {
        /// Manifest name of the voice (or `onnxruntime`, `espeak-ng-data`).
        voice: String,
        /// What went wrong and how to fix it.
        reason: String,
    },
    /// espeak-ng or the voice model failed on this text.
    #[error("speech synthesis failed: {0}")]
    SynthesisFailed(String),
}

impl ApiErrorCode for TtsError {
    fn status(&self) -> StatusCode {
        match self {
            TtsError::EmptyText
            | TtsError::TextTooLong { .. }
            | TtsError::UnknownVoice { .. }
            | TtsError::UnsupportedFormat(_)
            | TtsError::InvalidSpeed(_)
            | TtsError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            TtsError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            TtsError::Load { .. } | TtsError::SynthesisFailed(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn code(&self) -> &'static str {
        match self {
            TtsError::EmptyText => "empty_text",
            TtsError::TextTooLong { .. } => "text_too_long",
            TtsError::UnknownVoice { .. } => "unknown_voice",
            TtsError::UnsupportedFormat(_) => "unsupported_format",
            TtsError::InvalidSpeed(_) => "invalid_speed",
            TtsError::InvalidRequest(_) => "invalid_request",
            TtsError::Overloaded { .. } => "overloaded",
            TtsError::Load { .. } => "model_not_loaded",
            TtsError::SynthesisFailed(_) => "synthesis_failed",
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        matches!(self, TtsError::Overloaded { .. }).then_some(RETRY_AFTER)
    }
}
