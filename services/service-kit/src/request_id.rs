//! Request ids: one id per request, taken from `x-request-id` or generated, echoed on
//! the response, recorded in the request's log span, and available to handlers so
//! calls to other services carry it and one customer turn can be followed across logs.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// The header carrying the request id, in requests and responses. Put it on
/// outgoing calls: `client.get(url).header(X_REQUEST_ID, id.as_str())`.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest incoming id accepted; longer ones are replaced, so a client cannot bloat
/// every log line.
const MAX_LEN: usize = 128;

/// The current request's id. Use it as an extractor in handlers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// A new random (UUID v4) id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// The id as text, e.g. for an outgoing header.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Accepts a client-supplied id only if it is short, visible ASCII.
    fn from_header(value: &HeaderValue) -> Option<Self> {
        let text = value.to_str().ok()?;
        let ok =
            !text.is_empty() && text.len() <= MAX_LEN && text.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| Self(text.to_string()))
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Without the middleware (e.g. a handler tested alone) a fresh id still works.
        Ok(parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(RequestId::generate))
    }
}

/// Middleware: assigns the id (incoming or generated), stores it for handlers and
/// the tracing middleware, and echoes it on the response.
pub async fn middleware(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(RequestId::from_header)
        .unwrap_or_else(RequestId::generate);
    // The id is visible ASCII by construction, so it is always a valid header value.
    let value = HeaderValue::from_str(id.as_str()).ok();
    if let Some(value) = &value {
        request.headers_mut().insert(X_REQUEST_ID, value.clone());
    }
    request.extensions_mut().insert(id);
    let mut response = next.run(request).await;
    if let Some(value) = value {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_visible_ascii_ids_are_accepted() {
        let ok = HeaderValue::from_static("turn-42");
        assert_eq!(RequestId::from_header(&ok).unwrap().as_str(), "turn-42");
        assert!(RequestId::from_header(&HeaderValue::from_static("a b")).is_none());
        let long = HeaderValue::from_str(&"x".repeat(MAX_LEN + 1)).unwrap();
        assert!(RequestId::from_header(&long).is_none());
        assert_ne!(RequestId::generate(), RequestId::generate());
    }
}
