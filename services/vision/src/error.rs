//! The vision service's errors and their HTTP status codes, mapped once here.

use std::time::Duration;

use axum::http::StatusCode;
use image_input::ImageError;
use protocol::vision::FaceIssue;
use service_kit::error::ApiErrorCode;

/// Why a vision request was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    /// A frame or photo was refused (not JPEG/PNG, corrupt, too large, bad base64);
    /// the shared image input says which and why.
    #[error(transparent)]
    Image(#[from] ImageError),
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
            VisionError::Image(error) => error.status(),
            VisionError::InvalidRequest(_) => StatusCode::BAD_REQUEST,
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
            VisionError::Image(error) => error.code(),
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
