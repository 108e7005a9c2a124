//! The tools a turn may use, all answered by the catalog service: product search,
//! "goes with" suggestions, product details (with live stock) and the recognised
//! customer's own record. This is the whole allow-list; nothing else is reachable from
//! a conversation.
//!
//! Every call has a deadline, and a call that could not connect is retried once after
//! a short pause (a catalog restarting); a call that reached the catalog is not
//! retried, since the catalog already answered.

use std::time::Duration;

use protocol::ErrorBody;
use protocol::catalog::{
    CustomerRecord, GoesWithRequest, GoesWithResponse, Product, SearchRequest, SearchResponse,
};
use reqwest::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a tool call failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The catalog did not answer in time or could not be reached.
    #[error("the catalog is unavailable: {0}")]
    Unavailable(String),
    /// The thing asked for does not exist (an unknown SKU or customer).
    #[error("not found")]
    NotFound,
    /// The catalog refused the call.
    #[error("the catalog refused the request ({status}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The catalog's message.
        message: String,
    },
}

/// Client of the catalog's read and customer endpoints.
#[derive(Clone)]
pub struct Catalog {
    client: reqwest::Client,
    base: String,
    service_token: Option<String>,
}

/// Pause before the one retry of a call that could not connect.
const RETRY_PAUSE: Duration = Duration::from_millis(150);

impl Catalog {
    /// A client for the catalog at `base` (e.g. `http://127.0.0.1:8084`); the service
    /// token unlocks the customer endpoints.
    pub fn new(base: &str, service_token: Option<String>, timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .unwrap_or_default();
        Self {
            client,
            base: base.trim_end_matches('/').to_owned(),
            service_token,
        }
    }

    /// Products matching a query and hard filters.
    pub async fn search(&self, request: &SearchRequest) -> Result<SearchResponse, ToolError> {
        self.post("/v1/products/search", request).await
    }

    /// Products that go with a garment.
    pub async fn goes_with(
        &self,
        request: &GoesWithRequest,
    ) -> Result<GoesWithResponse, ToolError> {
        self.post("/v1/products/goes-with", request).await
    }

    /// One product with its live stock.
    pub async fn product(&self, sku: &str) -> Result<Product, ToolError> {
        self.get(&format!("/v1/products/{sku}"), false).await
    }

    /// The recognised customer's record (name, purchases, sizes, liked colours).
    pub async fn customer(&self, id: &str) -> Result<CustomerRecord, ToolError> {
        self.get(&format!("/v1/customers/{id}"), true).await
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ToolError> {
        let url = format!("{}{path}", self.base);
        read(send_with_retry(|| self.client.post(&url).json(body)).await).await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str, authorised: bool) -> Result<T, ToolError> {
        let url = format!("{}{path}", self.base);
        let request = || {
            let call = self.client.get(&url);
            match (authorised, &self.service_token) {
                (true, Some(token)) => call.bearer_auth(token),
                _ => call,
            }
        };
        read(send_with_retry(request).await).await
    }
}

/// Sends a request, once more after a short pause when it could not connect (the
/// catalog restarting); a request that reached the catalog is not repeated.
async fn send_with_retry(
    request: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response, reqwest::Error> {
    match request().send().await {
        Err(e) if e.is_connect() => {
            tokio::time::sleep(RETRY_PAUSE).await;
            request().send().await
        }
        other => other,
    }
}

async fn read<T: DeserializeOwned>(
    response: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, ToolError> {
    let response = response.map_err(|e| ToolError::Unavailable(e.to_string()))?;
    let status = response.status();
    if status == StatusCode::NOT_FOUND {
        return Err(ToolError::NotFound);
    }
    if status.is_server_error() {
        return Err(ToolError::Unavailable(format!("status {status}")));
    }
    if !status.is_success() {
        let message = response
            .json::<ErrorBody>()
            .await
            .map(|body| body.error.message)
            .unwrap_or_default();
        return Err(ToolError::Refused {
            status: status.as_u16(),
            message,
        });
    }
    response
        .json::<T>()
        .await
        .map_err(|e| ToolError::Unavailable(format!("unreadable answer: {e}")))
}
