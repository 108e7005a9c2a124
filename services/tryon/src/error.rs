//! The try-on service's errors and their HTTP status codes, mapped once here.

use std::time::Duration;

use axum::http::StatusCode;
use image_input::ImageError;
use service_kit::error::ApiErrorCode;

/// Why a try-on or generation request was refused or failed. Messages never quote the
/// photo or the prompt.
#[derive(Debug, thiserror::Error)]
pub enum TryonError {
    /// The request is malformed in a way the caller must fix (both or neither of `sku`
    /// and a garment picture, a badly formed SKU, …).
    #[error("{0}")]
    InvalidRequest(String),
    /// A photo or garment picture was refused (not JPEG/PNG, corrupt, too large, bad
    /// base64); the shared image input says which and why.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// No face was found, so there is nobody to dress.
    #[error("no person found in the photo: the face must be visible and facing the camera")]
    NoPerson,
    /// The SKU names no product of the catalogue.
    #[error("no product {0:?} in the catalogue")]
    UnknownSku(String),
    /// A garment kind the try-on cannot put on a person.
    #[error(
        "{} cannot be tried on here; tops (shirts, blouses, t-shirts, sweaters, cardigans, jackets, coats), dresses, skirts, trousers and jeans can",
        protocol::vocabulary::plural(.0)
    )]
    UnsupportedCategory(String),
    /// The garment picture has nothing opaque to wear.
    #[error("the garment picture is unusable: {0}")]
    UnusableGarment(String),
    /// The catalog could not be reached or failed.
    #[error("the catalog is unavailable: {0}")]
    CatalogUnavailable(String),
    /// Every worker is busy and the waiting line is full.
    #[error("busy: {0} requests are already waiting; retry shortly")]
    Busy(usize),
    /// The prompt is empty.
    #[error("prompt is empty; describe a garment, e.g. \"a pink striped linen shirt\"")]
    EmptyPrompt,
    /// The prompt is longer than allowed.
    #[error("prompt is {chars} characters; at most {max} are accepted")]
    PromptTooLong {
        /// Characters sent.
        chars: usize,
        /// The limit.
        max: usize,
    },
    /// The prompt names no garment the renderer can draw.
    #[error(
        "the prompt names no garment; name one of: shirt, blouse, t-shirt, sweater, cardigan, jacket, coat, jeans, trousers, skirt, dress, shoes, scarf, bag"
    )]
    NoGarmentNamed,
    /// `n` out of range.
    #[error("n is {n}; between 1 and {max} images may be asked for")]
    InvalidCount {
        /// Asked for.
        n: u32,
        /// The limit.
        max: u32,
    },
    /// `size` is not `WIDTHxHEIGHT` within the limits.
    #[error("size {size:?} is not WIDTHxHEIGHT with each side between 64 and {max_side}")]
    InvalidSize {
        /// As sent.
        size: String,
        /// The limit.
        max_side: u32,
    },
    /// No stored generated image has this id (never made, or expired).
    #[error("no generated image {0:?}; images are kept for a limited time")]
    UnknownImage(String),
    /// A bug or an OpenCV failure.
    #[error("the try-on failed: {0}")]
    Internal(String),
}

impl From<opencv::Error> for TryonError {
    fn from(e: opencv::Error) -> Self {
        TryonError::Internal(format!("OpenCV: {e}"))
    }
}

impl ApiErrorCode for TryonError {
    fn status(&self) -> StatusCode {
        match self {
            TryonError::Image(error) => error.status(),
            TryonError::InvalidRequest(_)
            | TryonError::EmptyPrompt
            | TryonError::PromptTooLong { .. }
            | TryonError::InvalidCount { .. }
            | TryonError::InvalidSize { .. } => StatusCode::BAD_REQUEST,
            TryonError::NoPerson
            | TryonError::UnsupportedCategory(_)
            | TryonError::UnusableGarment(_)
            | TryonError::NoGarmentNamed => StatusCode::UNPROCESSABLE_ENTITY,
            TryonError::UnknownSku(_) | TryonError::UnknownImage(_) => StatusCode::NOT_FOUND,
            TryonError::CatalogUnavailable(_) | TryonError::Busy(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            TryonError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            TryonError::InvalidRequest(_) => "invalid_request",
            TryonError::Image(error) => error.code(),
            TryonError::NoPerson => "no_person",
            TryonError::UnknownSku(_) => "unknown_sku",
            TryonError::UnsupportedCategory(_) => "unsupported_category",
            TryonError::UnusableGarment(_) => "unusable_garment",
            TryonError::CatalogUnavailable(_) => "catalog_unavailable",
            TryonError::Busy(_) => "overloaded",
            TryonError::EmptyPrompt => "empty_prompt",
            TryonError::PromptTooLong { .. } => "prompt_too_long",
            TryonError::NoGarmentNamed => "no_garment_named",
            TryonError::InvalidCount { .. } => "invalid_n",
            TryonError::InvalidSize { .. } => "invalid_size",
            TryonError::UnknownImage(_) => "unknown_image",
            TryonError::Internal(_) => "tryon_failed",
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            TryonError::Busy(_) => Some(Duration::from_secs(1)),
            TryonError::CatalogUnavailable(_) => Some(Duration::from_secs(2)),
            _ => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use axum::response::IntoResponse;
    use service_kit::error::ApiError;

    #[test]
    fn a_full_queue_answers_503_with_retry_after() {
        let response = ApiError::from(TryonError::Busy(8)).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()["retry-after"], "1");
        assert_eq!(TryonError::Busy(8).code(), "overloaded");
    }

    #[test]
    fn input_errors_are_4xx_with_stable_codes() {
        for (error, status, code) in [
            (TryonError::NoPerson, 422, "no_person"),
            (TryonError::UnknownSku("X".into()), 404, "unknown_sku"),
            (
                TryonError::UnsupportedCategory("bag".into()),
                422,
                "unsupported_category",
            ),
            (
                TryonError::Image(ImageError::TooLarge {
                    field: "photo_base64".into(),
                    width: 50_000,
                    height: 50_000,
                    max_pixels: 16_000_000,
                    max_side: 8192,
                }),
                413,
                "image_too_large",
            ),
            (
                TryonError::Image(ImageError::Corrupt {
                    field: "photo_base64".into(),
                    reason: "truncated".into(),
                }),
                400,
                "corrupt_image",
            ),
            (
                TryonError::Image(ImageError::UnsupportedFormat {
                    field: "photo_base64".into(),
                    found: "GIF image".into(),
                }),
                415,
                "unsupported_image_format",
            ),
        ] {
            assert_eq!(error.status().as_u16(), status, "{error}");
            assert_eq!(error.code(), code);
        }
    }
}
