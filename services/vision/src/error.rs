//! The vision service's errors and their HTTP status codes, mapped once here.

use std::time::Duration;

use axum::http::StatusCode;
use protocol::vision::FaceIssue;
use service_kit::error::ApiErrorCode;

/// Why a vision request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    /// The body was empty.
    #[error("the request body is empty; send a JPEG or PNG image")]
    EmptyImage,
    /// The bytes are neither JPEG nor PNG.
    #[error("the image is not a JPEG or PNG ({0}); send a JPEG or PNG image")]
    UnsupportedFormat(String),
    /// The header declares more pixels than allowed (a decompression bomb, or a photo
    /// far larger than a camera frame).
    #[error(
        "the image is {width}x{height} pixels; at most {max_pixels} pixels and {max_side} per side are accepted, scale it down"
    )]
    ImageTooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// Pixel limit.
        max_pixels: u64,
        /// Side limit.
        max_side: u32,
    },
    /// The image could not be decoded (truncated or corrupt data).
    #[error("the image could not be decoded ({0}); send an intact JPEG or PNG")]
    CorruptImage(String),
    /// A base64 photo of an enrolment could not be read.
    #[error("photo {index} is not valid base64: {message}")]
    BadBase64 {
        /// Which photo (0-based).
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// An enrolment request that cannot be served as sent.
    #[error("{0}")]
    InvalidRequest(String),
    /// An enrolment photo shows no face.
    #[error("photo {index} shows no face; take a photo of the customer facing the camera")]
    NoFace {
        /// Which photo (0-based).
        index: usize,
    },
    /// An enrolment photo's face is too poor to recognise later.
    #[error(
        "the face in photo {index} is not good enough to enrol ({issues:?}); ask the customer to face the camera in good light"
    )]
    PoorFace {
        /// Which photo (0-based).
        index: usize,
        /// What is wrong with it.
        issues: Vec<FaceIssue>,
    },
    /// Every worker is busy and the waiting line is full.
    #[error("the vision service is busy ({queued} frames waiting); retry shortly")]
    Busy {
        /// Frames already waiting.
        queued: usize,
    },
    /// The catalog (identity, enrolment) could not be reached or failed.
    #[error("the catalog is unavailable: {0}")]
    CatalogUnavailable(String),
    /// The catalog refused the request (an unknown customer, a bad consent record).
    #[error("the catalog refused the request ({status}): {message}")]
    CatalogRefused {
        /// The catalog's HTTP status.
        status: u16,
        /// The catalog's message.
        message: String,
    },
    /// OpenCV or dlib failed on an image that decoded fine.
    #[error("image analysis failed: {0}")]
    Analysis(String),
}

impl From<opencv::Error> for VisionError {
    fn from(error: opencv::Error) -> Self {
        VisionError::Analysis(error.to_string())
    }
}

impl ApiErrorCode for VisionError {
    fn status(&self) -> StatusCode {
        match self {
            VisionError::EmptyImage
            | VisionError::CorruptImage(_)
            | VisionError::BadBase64 { .. }
            | VisionError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            VisionError::UnsupportedFormat(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            VisionError::ImageTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            VisionError::NoFace { .. } | VisionError::PoorFace { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            VisionError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            VisionError::CatalogUnavailable(_) => StatusCode::BAD_GATEWAY,
            VisionError::CatalogRefused { status, .. } => {
                // The catalog's 4xx are the caller's to fix; anything else is ours.
                StatusCode::from_u16(*status)
                    .ok()
                    .filter(StatusCode::is_client_error)
                    .unwrap_or(StatusCode::BAD_GATEWAY)
            }
            VisionError::Analysis(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            VisionError::EmptyImage => "empty_image",
            VisionError::UnsupportedFormat(_) => "unsupported_image_format",
            VisionError::ImageTooLarge { .. } => "image_too_large",
            VisionError::CorruptImage(_) => "corrupt_image",
            VisionError::BadBase64 { .. } => "invalid_base64",
            VisionError::InvalidRequest(_) => "invalid_request",
            VisionError::NoFace { .. } => "no_face",
            VisionError::PoorFace { .. } => "face_quality_too_low",
            VisionError::Busy { .. } => "overloaded",
            VisionError::CatalogUnavailable(_) => "catalog_unavailable",
            VisionError::CatalogRefused { .. } => "catalog_refused",
            VisionError::Analysis(_) => "analysis_failed",
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        matches!(self, VisionError::Busy { .. }).then(|| Duration::from_secs(1))
    }
}
