//! Calling another service of the assistant: JSON over HTTP with a deadline, the
//! service token when one is configured, one retry after a short pause when the call
//! could not connect (the other service restarting), and the answer's status mapped
//! to what the caller can act on. A call that reached the other service is never
//! repeated, since it already answered.

use std::time::Duration;

use protocol::ErrorBody;
use reqwest::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a call to another service failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// The service did not answer in time, could not be reached, failed (5xx) or sent
    /// an answer that could not be read.
    #[error("the service is unavailable: {0}")]
    Unavailable(String),
    /// The thing asked for does not exist (404).
    #[error("not found")]
    NotFound,
    /// The service refused the call (another 4xx), with its message.
    #[error("the service refused the request ({status}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The service's message.
        message: String,
    },
}

/// Pause before the one retry of a call that could not connect.
const RETRY_PAUSE: Duration = Duration::from_millis(150);

/// A client of one service's JSON API. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl ServiceClient {
    /// A client for the service at `base` (e.g. `http://127.0.0.1:8084`); `token` is
    /// sent as a bearer token on every call, `timeout` bounds each call.
    pub fn new(base: &str, token: Option<String>, timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .unwrap_or_default();
        Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            token,
        }
    }

    /// The base URL calls go to.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET path`, answer read as JSON.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, CallError> {
        let response = self.send(|| self.client.get(self.url(path))).await?;
        response
            .json::<T>()
            .await
            .map_err(|e| CallError::Unavailable(format!("unreadable answer: {e}")))
    }

    /// `GET path`, answer as bytes (images).
    pub async fn get_bytes(&self, path: &str) -> Result<Vec<u8>, CallError> {
        let response = self.send(|| self.client.get(self.url(path))).await?;
        response
            .bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| CallError::Unavailable(format!("unreadable answer: {e}")))
    }

    /// `POST path` with a JSON body, answer read as JSON.
    pub async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, CallError> {
        let response = self
            .send(|| self.client.post(self.url(path)).json(body))
            .await?;
        response
            .json::<T>()
            .await
            .map_err(|e| CallError::Unavailable(format!("unreadable answer: {e}")))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends, once more after a short pause when it could not connect, and maps a
    /// status that is not success to a [`CallError`].
    async fn send(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, CallError> {
        let with_token = || match &self.token {
            Some(token) => request().bearer_auth(token),
            None => request(),
        };
        let response = match with_token().send().await {
            Err(e) if e.is_connect() => {
                tokio::time::sleep(RETRY_PAUSE).await;
                with_token().send().await
            }
            other => other,
        }
        .map_err(|e| CallError::Unavailable(e.to_string()))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        if status == StatusCode::NOT_FOUND {
            return Err(CallError::NotFound);
        }
        if status.is_server_error() {
            return Err(CallError::Unavailable(format!("status {status}")));
        }
        let message = response
            .json::<ErrorBody>()
            .await
            .map(|body| body.error.message)
            .unwrap_or_default();
        Err(CallError::Refused {
            status: status.as_u16(),
            message,
        })
    }
}
