//! Turning request bytes into a frame, safely: only JPEG and PNG, the declared size
//! checked from the header before any pixel is decoded (a 50,000 × 50,000 PNG is
//! refused after reading a few dozen bytes), decoding by the `image` crate under
//! allocation limits, EXIF orientation applied, and the result handed to OpenCV as
//! an 8-bit BGR matrix. Nothing is written anywhere.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use opencv::core::{CV_8UC3, Mat, Scalar};
use opencv::prelude::*;

use crate::error::VisionError;

/// How large an image may be.
#[derive(Debug, Clone, Copy)]
pub struct ImageLimits {
    /// Width × height.
    pub max_pixels: u64,
    /// Width and height each.
    pub max_side: u32,
}

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

/// Decodes a JPEG or PNG within `limits`.
pub fn decode(bytes: &[u8], limits: ImageLimits) -> Result<Frame, VisionError> {
    if bytes.is_empty() {
        return Err(VisionError::EmptyImage);
    }
    let format = match image::guess_format(bytes) {
        Ok(format @ (ImageFormat::Jpeg | ImageFormat::Png)) => format,
        Ok(other) => {
            return Err(VisionError::UnsupportedFormat(format!(
                "{} image",
                other.extensions_str().first().unwrap_or(&"unknown")
            )));
        }
        Err(_) => {
            return Err(VisionError::UnsupportedFormat(
                "unrecognised bytes".to_owned(),
            ));
        }
    };
    if format == ImageFormat::Jpeg && !jpeg_has_end(bytes) {
        return Err(VisionError::CorruptImage(
            "the JPEG has no end-of-image marker after its image data (truncated?)".into(),
        ));
    }
    // The header alone first: a bomb is refused before the decoder allocates anything.
    let (width, height) = match png_ihdr_size(bytes) {
        Some(size) if format == ImageFormat::Png => size,
        _ => ImageReader::with_format(Cursor::new(bytes), format)
            .into_dimensions()
            .map_err(|e| VisionError::CorruptImage(e.to_string()))?,
    };
    check_size(width, height, limits)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decoder_limits = Limits::default();
    decoder_limits.max_image_width = Some(limits.max_side);
    decoder_limits.max_image_height = Some(limits.max_side);
    // Decoded RGBA at the pixel limit, plus the decoder's own working memory.
    decoder_limits.max_alloc = Some(limits.max_pixels.saturating_mul(4).saturating_add(1 << 24));
    reader.limits(decoder_limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| VisionError::CorruptImage(e.to_string()))?;
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder)
        .map_err(|e| VisionError::CorruptImage(e.to_string()))?;
    image.apply_orientation(orientation);
    let rgb = image.into_rgb8();
    let bgr = bgr_of(&rgb)?;
    Ok(Frame { bgr, rgb })
}

/// Width and height from a PNG's IHDR chunk, which the format requires first, right
/// after the 8-byte signature: nothing else of the file needs to be read to refuse it.
fn png_ihdr_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let chunk = bytes.get(8..24)?;
    if &chunk[4..8] != b"IHDR" {
        return None;
    }
    let width = u32::from_be_bytes(chunk[8..12].try_into().ok()?);
    let height = u32::from_be_bytes(chunk[12..16].try_into().ok()?);
    Some((width, height))
}

/// Whether a JPEG's last scan is followed by the end-of-image marker. Decoders fill a
/// truncated scan with grey and carry on; a cut-off upload should be refused instead.
/// (Inside a scan, 0xFF is always followed by 0x00 or a restart marker, so FF D9 after
/// the last start-of-scan FF DA is the real end; data some cameras append after it is
/// fine.)
fn jpeg_has_end(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    match last_scan {
        Some(at) => bytes[at..].windows(2).any(|w| w == [0xFF, 0xD9]),
        None => false,
    }
}

/// The declared size against the limits.
pub fn check_size(width: u32, height: u32, limits: ImageLimits) -> Result<(), VisionError> {
    if width == 0 || height == 0 {
        return Err(VisionError::CorruptImage(format!(
            "the header declares {width}x{height} pixels"
        )));
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels
        || width > limits.max_side
        || height > limits.max_side
    {
        return Err(VisionError::ImageTooLarge {
            width,
            height,
            max_pixels: limits.max_pixels,
            max_side: limits.max_side,
        });
    }
    Ok(())
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
