//! Every way a catalog request can fail, mapped once onto HTTP status and stable code.

use std::time::Duration;

use axum::http::StatusCode;
use service_kit::error::ApiErrorCode;

use crate::embed::EmbedError;
use crate::ingest::IngestError;
use crate::store::StoreError;

/// Why a catalog operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// No product has this SKU.
    #[error("no product has SKU {0:?}")]
    UnknownSku(String),
    /// No enrolled customer has this id (never enrolled, or forgotten).
    #[error("no customer has id {0:?}")]
    UnknownCustomer(String),
    /// A product fails validation; the message names the field.
    #[error("invalid product: {0}")]
    InvalidProduct(String),
    /// A stock change is malformed or names a size the product lacks.
    #[error("invalid stock change: {0}")]
    InvalidStock(String),
    /// A stock change would leave fewer than zero items.
    #[error("{0}")]
    NegativeStock(String),
    /// A search or goes-with request is malformed; the message says what to fix.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// More items in one request than allowed.
    #[error("{what}: {got} in one request; at most {max}")]
    BatchTooLarge {
        /// What was counted.
        what: &'static str,
        /// How many were sent.
        got: usize,
        /// The bound.
        max: usize,
    },
    /// The catalogue file is unusable as a whole (rows are reported one by one).
    #[error("catalogue file: {0}")]
    Ingest(#[from] IngestError),
    /// The upload's Content-Type is neither JSON nor CSV.
    #[error("unsupported content type {0:?}; send application/json or text/csv")]
    UnsupportedMediaType(String),
    /// Enrolment or a customer update is malformed (consent, name, embeddings).
    #[error("invalid customer: {0}")]
    InvalidCustomer(String),
    /// A described garment names no category we know.
    #[error("could not tell the garment from {0:?}; name a category, e.g. \"pink sweater\"")]
    UnknownGarment(String),
    /// Text embedding failed or is overloaded.
    #[error(transparent)]
    Embed(#[from] EmbedError),
    /// The vector store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiErrorCode for CatalogError {
    fn status(&self) -> StatusCode {
        match self {
            CatalogError::UnknownSku(_) | CatalogError::UnknownCustomer(_) => StatusCode::NOT_FOUND,
            CatalogError::InvalidProduct(_)
            | CatalogError::InvalidStock(_)
            | CatalogError::NegativeStock(_)
            | CatalogError::InvalidRequest(_)
            | CatalogError::Ingest(_)
            | CatalogError::InvalidCustomer(_)
            | CatalogError::UnknownGarment(_) => StatusCode::BAD_REQUEST,
            CatalogError::BatchTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            CatalogError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            CatalogError::Embed(e) => e.status(),
            CatalogError::Store(
                StoreError::WrongDimension { .. } | StoreError::NotFinite { .. },
            ) => StatusCode::BAD_REQUEST,
            CatalogError::Store(StoreError::Backend { .. }) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            CatalogError::UnknownSku(_) => "unknown_sku",
            CatalogError::UnknownCustomer(_) => "unknown_customer",
            CatalogError::InvalidProduct(_) => "invalid_product",
            CatalogError::InvalidStock(_) => "invalid_stock",
            CatalogError::NegativeStock(_) => "negative_stock",
            CatalogError::InvalidRequest(_) => "invalid_request",
            CatalogError::BatchTooLarge { .. } => "batch_too_large",
            CatalogError::Ingest(_) => "invalid_file",
            CatalogError::UnsupportedMediaType(_) => "unsupported_media_type",
            CatalogError::InvalidCustomer(_) => "invalid_customer",
            CatalogError::UnknownGarment(_) => "unknown_garment",
            CatalogError::Embed(e) => e.code(),
            CatalogError::Store(StoreError::WrongDimension { .. }) => "wrong_dimension",
            CatalogError::Store(StoreError::NotFinite { .. }) => "not_finite",
            CatalogError::Store(StoreError::Backend { .. }) => "store_failed",
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            CatalogError::Embed(e) => e.retry_after(),
            _ => None,
        }
    }
}
