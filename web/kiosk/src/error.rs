//! The kiosk's HTTP errors, mapped once onto status codes and stable codes. (Errors
//! inside a customer session travel as `error` messages over the WebSocket instead;
//! their codes are listed in docs/protocol.md.)

use std::time::Duration;

use axum::http::StatusCode;
use service_kit::error::ApiErrorCode;

/// Why an HTTP request to the kiosk was refused.
#[derive(Debug, thiserror::Error)]
pub enum KioskError {
    /// The kiosk holds its most sessions; the page should retry shortly.
    #[error("the kiosk is serving its most sessions ({0}); try again shortly")]
    Overloaded(usize),
    /// No device token is configured, so no customer session can be authenticated.
    #[error("customer sessions are disabled: set kiosk.device_token (SHOP_KIOSK__DEVICE_TOKEN)")]
    SessionsDisabled,
    /// No staff token is configured.
    #[error("the staff queue is disabled: set kiosk.staff_token (SHOP_KIOSK__STAFF_TOKEN)")]
    StaffDisabled,
    /// The staff token is missing or wrong.
    #[error(
        "send the staff token as `Authorization: Bearer <token>` (or ?token= for the WebSocket)"
    )]
    InvalidStaffToken,
    /// No fetch request has this id (it may have been finished long ago).
    #[error("no fetch request {0}")]
    UnknownFetch(String),
    /// The request cannot go from its state to the one asked for.
    #[error("fetch request {id} is {from}; it cannot be {action}")]
    InvalidTransition {
        /// The request.
        id: String,
        /// Its current state.
        from: &'static str,
        /// What was asked.
        action: &'static str,
    },
    /// The action in the path is not claim, done or cancel.
    #[error("unknown staff action {0:?}: use claim, done or cancel")]
    UnknownAction(String),
    /// A product image was asked for with a SKU that cannot be one.
    #[error("{0:?} is not a product SKU")]
    BadSku(String),
    /// A product image could not be fetched from the catalog.
    #[error("the product image is unavailable: {0}")]
    ImageUnavailable(String),
    /// The product has no image.
    #[error("no image for product {0}")]
    NoImage(String),
}

impl ApiErrorCode for KioskError {
    fn status(&self) -> StatusCode {
        match self {
            KioskError::Overloaded(_)
            | KioskError::SessionsDisabled
            | KioskError::StaffDisabled => StatusCode::SERVICE_UNAVAILABLE,
            KioskError::InvalidStaffToken => StatusCode::UNAUTHORIZED,
            KioskError::UnknownFetch(_) | KioskError::NoImage(_) => StatusCode::NOT_FOUND,
            KioskError::InvalidTransition { .. } => StatusCode::CONFLICT,
            KioskError::UnknownAction(_) | KioskError::BadSku(_) => StatusCode::BAD_REQUEST,
            KioskError::ImageUnavailable(_) => StatusCode::BAD_GATEWAY,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            KioskError::Overloaded(_) => "overloaded",
            KioskError::SessionsDisabled => "sessions_disabled",
            KioskError::StaffDisabled => "staff_disabled",
            KioskError::InvalidStaffToken => "invalid_staff_token",
            KioskError::UnknownFetch(_) => "unknown_fetch",
            KioskError::InvalidTransition { .. } => "invalid_transition",
            KioskError::UnknownAction(_) => "unknown_action",
            KioskError::BadSku(_) => "invalid_sku",
            KioskError::ImageUnavailable(_) => "catalog_unavailable",
            KioskError::NoImage(_) => "no_image",
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        matches!(self, KioskError::Overloaded(_)).then_some(Duration::from_secs(2))
    }
}
