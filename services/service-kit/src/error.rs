//! JSON errors with a stable `code` for every service.
//!
//! A service defines its own `thiserror` enum, implements [`ApiErrorCode`] once
//! (HTTP status + code), and returns `Result<_, ApiError>` from handlers; `?` converts.
//! Messages go to the client, never to logs: only 5xx errors are logged, and then
//! only their `Display` text, which must not carry personal data.

use std::borrow::Cow;
use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use protocol::ErrorBody;

/// Implemented once by each service's error enum to map it onto HTTP.
pub trait ApiErrorCode: std::error::Error + Send + Sync + 'static {
    /// The HTTP status to answer with.
    fn status(&self) -> StatusCode;
    /// Stable snake_case code clients match on (e.g. `model_not_loaded`).
    fn code(&self) -> &'static str;
    /// For a 503 (overload), when the client should try again; sent as `Retry-After`.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

/// An error response: status, stable code, human message, and for 503 a retry hint.
/// Build it from a service error with `?`/`From`, or with the shared constructors.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: Cow<'static, str>,
    message: String,
    retry_after: Option<Duration>,
}

impl<E: ApiErrorCode> From<E> for ApiError {
    fn from(err: E) -> Self {
        let error = ApiError::new(err.status(), err.code(), error_chain(&err));
        match err.retry_after() {
            Some(after) => error.with_retry_after(after),
            None => error,
        }
    }
}

/// `Display` of an error and its sources, joined, so the cause is not lost.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl ApiError {
    /// Any status, code and message; prefer a service enum or the shared
    /// constructors so codes stay stable.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400 `bad_request`: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 404 `not_found`: no such route or resource.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 413 `body_too_large`: the request body exceeds the service's limit.
    pub fn body_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "request body is too large",
        )
    }

    /// 503 `overloaded` with `Retry-After`: too many requests in flight; the client
    /// should back off rather than pile on.
    pub fn overloaded(retry_after: Duration) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "the service is busy, retry later",
            )
        }
    }

    /// 500 `internal`: an unexpected failure; the cause is logged, not hidden.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// Adds a `Retry-After` hint (whole seconds, rounded up).
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The JSON body this error answers with.
    pub fn body(&self) -> ErrorBody {
        ErrorBody::new(self.code.clone(), self.message.clone())
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(status = self.status.as_u16(), code = %self.code, error = %self.message, "request failed");
        } else {
            // Client errors may echo what the client sent: log the code only.
            tracing::debug!(status = self.status.as_u16(), code = %self.code, "request rejected");
        }
        let retry_after = self.retry_after;
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(after) = retry_after {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}

/// The stable code used for a status when the error did not come from an
/// [`ApiError`] (framework rejections, default 404/405).
pub(crate) fn code_for_status(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_request",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum VoiceError {
        #[error("model {0} is not loaded")]
        ModelNotLoaded(String),
    }

    impl ApiErrorCode for VoiceError {
        fn status(&self) -> StatusCode {
            StatusCode::SERVICE_UNAVAILABLE
        }
        fn code(&self) -> &'static str {
            "model_not_loaded"
        }
    }

    async fn body_json(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn service_error_becomes_json_with_its_code() {
        fn handler() -> Result<(), ApiError> {
            Err(VoiceError::ModelNotLoaded("whisper-small".into()))?;
            Ok(())
        }
        let response = handler().unwrap_err().into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            body_json(response).await,
            serde_json::json!({"error": {"code": "model_not_loaded", "message": "model whisper-small is not loaded"}})
        );
    }

    #[tokio::test]
    async fn overloaded_carries_retry_after_rounded_up() {
        let response = ApiError::overloaded(Duration::from_millis(1500)).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        assert_eq!(body_json(response).await["error"]["code"], "overloaded");
    }
}
