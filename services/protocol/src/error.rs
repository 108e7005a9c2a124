//! The JSON body of every error any service returns, so that clients can branch on a
//! stable `code` instead of parsing human text.

use serde::{Deserialize, Serialize};

/// The body of every error response: `{"error": {"code": "...", "message": "..."}}`.
/// The same shape as OpenAI's errors, so OpenAI-compatible clients surface the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong; nested under `error` as OpenAI-compatible clients expect.
    pub error: ErrorDetail,
}

/// What went wrong, for a program (`code`) and for a person (`message`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable, snake_case identifier (`not_found`, `overloaded`, ...) that clients match
    /// on; never changes once published.
    pub code: String,
    /// Human-readable explanation; may change wording and never carries personal data.
    pub message: String,
}

impl ErrorBody {
    /// Builds an error body from a stable code and a human message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            error: ErrorDetail {
                code: code.into(),
                message: message.into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_the_exact_json_clients_parse() {
        let body = ErrorBody::new("not_found", "no route GET /nope");
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": {"code": "not_found", "message": "no route GET /nope"}})
        );
        let back: ErrorBody = serde_json::from_value(json).unwrap();
        assert_eq!(back, body);
    }
}
