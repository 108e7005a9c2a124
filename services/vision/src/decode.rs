//! Turning request bytes into a frame: the shared `image-input` crate checks and decodes
//! them safely (only JPEG and PNG, the declared size checked from the header before any
//! pixel is decoded, allocation limits, EXIF orientation), and the result is handed to
//! OpenCV as an 8-bit BGR matrix. Nothing is written anywhere.

pub use image_input::ImageLimits;
use opencv::core::{CV_8UC3, Mat, Scalar};
use opencv::prelude::*;

use crate::error::VisionError;

/// A decoded RGB image: what dlib and OpenCV both start from.
pub struct Frame {
    /// 8-bit BGR, OpenCV's native order.
    pub bgr: Mat,
    /// 8-bit RGB, row-major, for dlib (which copies it into its own matrix).
    pub rgb: image::RgbImage,
}

impl Frame {
    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.rgb.width()
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.rgb.height()
    }
}

/// Decodes a JPEG or PNG within `limits` (checks and decoding by the shared
/// `image-input` crate); `what` names the image in error messages.
pub fn decode(
    what: impl Into<image_input::Field>,
    bytes: &[u8],
    limits: ImageLimits,
) -> Result<Frame, VisionError> {
    let rgb = image_input::check(what, bytes.to_vec(), limits)?.rgb()?;
    let bgr = bgr_of(&rgb)?;
    Ok(Frame { bgr, rgb })
}

/// Copies an RGB image into a new OpenCV BGR matrix.
pub fn bgr_of(rgb: &image::RgbImage) -> Result<Mat, VisionError> {
    let rows = i32::try_from(rgb.height()).map_err(|e| VisionError::Analysis(e.to_string()))?;
    let cols = i32::try_from(rgb.width()).map_err(|e| VisionError::Analysis(e.to_string()))?;
    let mut bgr = Mat::new_rows_cols_with_default(rows, cols, CV_8UC3, Scalar::all(0.0))?;
    let data = bgr.data_bytes_mut()?;
    for (out, px) in data.chunks_exact_mut(3).zip(rgb.pixels()) {
        out[0] = px[2];
        out[1] = px[1];
        out[2] = px[0];
    }
    Ok(bgr)
}
