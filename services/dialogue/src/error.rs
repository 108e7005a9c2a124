//! The dialogue's errors and their HTTP status codes, mapped once here.

use std::time::Duration;

use axum::http::StatusCode;
use service_kit::error::ApiErrorCode;

use crate::llm::LlmError;

/// Why a dialogue request was refused.
#[derive(Debug, thiserror::Error)]
pub enum DialogueError {
    /// The customer's text is empty (after trimming).
    #[error("text is empty; send what the customer said")]
    EmptyText,
    /// The customer's text is longer than allowed.
    #[error("text is {chars} characters; at most {max} are accepted")]
    TextTooLong {
        /// Characters sent.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// No such session (never opened, closed, or expired).
    #[error("no session {0:?}; start one with POST /v1/sessions")]
    UnknownSession(String),
    /// The customer id does not name an enrolled customer.
    #[error("no enrolled customer {0:?}; start the session without customer_id")]
    UnknownCustomer(String),
    /// Another turn of this session is still running.
    #[error("a turn of this session is still running; cancel it by closing its stream")]
    TurnInProgress,
    /// A chat completion request that cannot be served as sent.
    #[error("{0}")]
    BadChat(String),
    /// The language model refused or failed.
    #[error(transparent)]
    Model(#[from] LlmError),
}

impl ApiErrorCode for DialogueError {
    fn status(&self) -> StatusCode {
        match self {
            DialogueError::EmptyText | DialogueError::BadChat(_) => StatusCode::BAD_REQUEST,
            DialogueError::TextTooLong { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            DialogueError::UnknownSession(_) | DialogueError::UnknownCustomer(_) => {
                StatusCode::NOT_FOUND
            }
            DialogueError::TurnInProgress => StatusCode::CONFLICT,
            DialogueError::Model(LlmError::Busy(_)) => StatusCode::SERVICE_UNAVAILABLE,
            DialogueError::Model(LlmError::PromptTooLong { .. } | LlmError::BadRequest(_)) => {
                StatusCode::BAD_REQUEST
            }
            DialogueError::Model(LlmError::Remote(_)) => StatusCode::BAD_GATEWAY,
            DialogueError::Model(LlmError::Model(_) | LlmError::Stopped) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    fn code(&self) -> &'static str {
        match self {
            DialogueError::EmptyText => "empty_text",
            DialogueError::TextTooLong { .. } => "text_too_long",
            DialogueError::UnknownSession(_) => "unknown_session",
            DialogueError::UnknownCustomer(_) => "unknown_customer",
            DialogueError::TurnInProgress => "turn_in_progress",
            DialogueError::BadChat(_) => "invalid_request",
            DialogueError::Model(LlmError::Busy(_)) => "overloaded",
            DialogueError::Model(LlmError::PromptTooLong { .. }) => "context_length_exceeded",
            DialogueError::Model(LlmError::BadRequest(_)) => "invalid_request",
            DialogueError::Model(LlmError::Remote(_)) => "upstream_failed",
            DialogueError::Model(LlmError::Model(_) | LlmError::Stopped) => "model_failed",
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        matches!(self, DialogueError::Model(LlmError::Busy(_))).then(|| Duration::from_secs(1))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use axum::response::IntoResponse;
    use service_kit::error::ApiError;

    #[test]
    fn a_busy_model_answers_503_with_retry_after() {
        let response = ApiError::from(DialogueError::Model(LlmError::Busy(16))).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "1");
    }

    #[test]
    fn input_errors_are_4xx_with_stable_codes() {
        for (error, status, code) in [
            (DialogueError::EmptyText, 400, "empty_text"),
            (
                DialogueError::TextTooLong {
                    chars: 10_000,
                    max: 2000,
                },
                413,
                "text_too_long",
            ),
            (
                DialogueError::UnknownSession("x".into()),
                404,
                "unknown_session",
            ),
            (DialogueError::TurnInProgress, 409, "turn_in_progress"),
        ] {
            assert_eq!(error.status().as_u16(), status);
            assert_eq!(error.code(), code);
        }
    }
}
