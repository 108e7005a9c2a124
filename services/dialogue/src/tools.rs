//! The tools a turn may use, all answered by the catalog service: product search,
//! "goes with" suggestions, product details (with live stock) and the recognised
//! customer's own record. This is the whole allow-list; nothing else is reachable from
//! a conversation.
//!
//! Every call has a deadline, and a call that could not connect is retried once after
//! a short pause (a catalog restarting); a call that reached the catalog is not
//! retried, since the catalog already answered.

use std::time::Duration;

use protocol::catalog::{
    CustomerRecord, GoesWithRequest, GoesWithResponse, Product, SearchRequest, SearchResponse,
};
use service_kit::client::ServiceClient;

/// Why a tool call failed: the shared client's error (unavailable, not found, refused).
pub use service_kit::client::CallError as ToolError;

/// Client of the catalog's read and customer endpoints.
#[derive(Clone)]
pub struct Catalog {
    client: ServiceClient,
}

impl Catalog {
    /// A client for the catalog at `base` (e.g. `http://127.0.0.1:8084`); the service
    /// token unlocks the customer endpoints.
    pub fn new(base: &str, service_token: Option<String>, timeout: Duration) -> Self {
        Self {
            client: ServiceClient::new(base, service_token, timeout),
        }
    }

    /// Products matching a query and hard filters.
    pub async fn search(&self, request: &SearchRequest) -> Result<SearchResponse, ToolError> {
        self.client.post_json("/v1/products/search", request).await
    }

    /// Products that go with a garment.
    pub async fn goes_with(
        &self,
        request: &GoesWithRequest,
    ) -> Result<GoesWithResponse, ToolError> {
        self.client
            .post_json("/v1/products/goes-with", request)
            .await
    }

    /// One product with its live stock.
    pub async fn product(&self, sku: &str) -> Result<Product, ToolError> {
        self.client.get_json(&format!("/v1/products/{sku}")).await
    }

    /// The recognised customer's record (name, purchases, sizes, liked colours).
    pub async fn customer(&self, id: &str) -> Result<CustomerRecord, ToolError> {
        self.client.get_json(&format!("/v1/customers/{id}")).await
    }
}
