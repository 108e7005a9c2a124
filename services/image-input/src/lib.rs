//! Images from requests, safely, shared by every service that takes photos (vision,
//! tryon): base64 (with or without a `data:` prefix), only JPEG and PNG, the declared
//! size checked from the header before any pixel is decoded (a 50,000 × 50,000 PNG is
//! refused after reading its first 24 bytes), a JPEG cut off before its end marker
//! refused, decoding by the `image` crate under allocation limits, and EXIF orientation
//! applied. Nothing is written anywhere and nothing is logged.

use std::borrow::Cow;
use std::io::Cursor;

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage, RgbaImage};
use service_kit::error::ApiErrorCode;

/// Names the image in messages: a request field (`photo_base64`), "the request body",
/// "photo 2".
pub type Field = Cow<'static, str>;

/// Why an image was refused; each is the caller's to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// A base64 field does not decode.
    #[error("{field} is not valid base64: {reason}")]
    InvalidBase64 {
        /// The image.
        field: Field,
        /// What the decoder said.
        reason: String,
    },
    /// No bytes at all.
    #[error("{0} is empty; send a JPEG or PNG")]
    Empty(Field),
    /// Not a JPEG or PNG.
    #[error("{field} is a {found}; only JPEG and PNG are accepted")]
    UnsupportedFormat {
        /// The image.
        field: Field,
        /// What it looks like.
        found: String,
    },
    /// The bytes claim to be a JPEG or PNG but do not decode.
    #[error("{field} could not be decoded: {reason}; send an intact JPEG or PNG")]
    Corrupt {
        /// The image.
        field: Field,
        /// What the decoder said.
        reason: String,
    },
    /// The header declares more pixels than allowed (refused before decoding).
    #[error(
        "{field} is {width}x{height} pixels; at most {max_pixels} pixels and {max_side} per side are accepted, scale it down"
    )]
    TooLarge {
        /// The image.
        field: Field,
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// Pixel limit.
        max_pixels: u64,
        /// Side limit.
        max_side: u32,
    },
    /// Encoding an output image failed (a server fault, not the caller's).
    #[error("encoding the image failed: {0}")]
    Encode(String),
}

impl ApiErrorCode for ImageError {
    fn status(&self) -> StatusCode {
        match self {
            ImageError::InvalidBase64 { .. }
            | ImageError::Empty(_)
            | ImageError::Corrupt { .. } => StatusCode::BAD_REQUEST,
            ImageError::UnsupportedFormat { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ImageError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ImageError::Encode(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ImageError::InvalidBase64 { .. } => "invalid_base64",
            ImageError::Empty(_) => "empty_image",
            ImageError::UnsupportedFormat { .. } => "unsupported_image_format",
            ImageError::Corrupt { .. } => "corrupt_image",
            ImageError::TooLarge { .. } => "image_too_large",
            ImageError::Encode(_) => "image_encoding_failed",
        }
    }
}

/// How large an image may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// Width × height.
    pub max_pixels: u64,
    /// Width and height each.
    pub max_side: u32,
}

/// An encoded image whose header passed the checks, not yet decoded.
#[derive(Debug)]
pub struct Checked {
    bytes: Vec<u8>,
    format: ImageFormat,
    field: Field,
    limits: ImageLimits,
    /// Declared width.
    pub width: u32,
    /// Declared height.
    pub height: u32,
}

/// Decodes standard base64, accepting a `data:image/...;base64,` prefix and line breaks.
pub fn base64_bytes(field: impl Into<Field>, text: &str) -> Result<Vec<u8>, ImageError> {
    let text = text.trim();
    let text = match text.strip_prefix("data:") {
        Some(rest) => rest.split_once(',').map_or("", |(_, data)| data),
        None => text,
    };
    let compact: String = text.split_ascii_whitespace().collect();
    STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| ImageError::InvalidBase64 {
            field: field.into(),
            reason: e.to_string(),
        })
}

/// Checks what the bytes are and how large they say they are, reading only the header.
pub fn check(
    field: impl Into<Field>,
    bytes: Vec<u8>,
    limits: ImageLimits,
) -> Result<Checked, ImageError> {
    let field = field.into();
    if bytes.is_empty() {
        return Err(ImageError::Empty(field));
    }
    let format = match image::guess_format(&bytes) {
        Ok(format @ (ImageFormat::Jpeg | ImageFormat::Png)) => format,
        Ok(other) => {
            return Err(ImageError::UnsupportedFormat {
                field,
                found: format!(
                    "{} image",
                    other.extensions_str().first().unwrap_or(&"unknown")
                ),
            });
        }
        Err(_) => {
            return Err(ImageError::UnsupportedFormat {
                field,
                found: "file of unrecognised type".into(),
            });
        }
    };
    let corrupt = |reason: String| ImageError::Corrupt {
        field: field.clone(),
        reason,
    };
    if format == ImageFormat::Jpeg && !jpeg_has_end(&bytes) {
        return Err(corrupt(
            "the JPEG has no end-of-image marker after its image data (truncated?)".into(),
        ));
    }
    let (width, height) = match png_ihdr_size(&bytes) {
        Some(size) if format == ImageFormat::Png => size,
        _ => ImageReader::with_format(Cursor::new(&bytes), format)
            .into_dimensions()
            .map_err(|e| corrupt(e.to_string()))?,
    };
    if width == 0 || height == 0 {
        return Err(corrupt(format!(
            "the header declares {width}x{height} pixels"
        )));
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels
        || width > limits.max_side
        || height > limits.max_side
    {
        return Err(ImageError::TooLarge {
            field,
            width,
            height,
            max_pixels: limits.max_pixels,
            max_side: limits.max_side,
        });
    }
    Ok(Checked {
        bytes,
        format,
        field,
        limits,
        width,
        height,
    })
}

impl Checked {
    /// Decodes under allocation limits and applies the EXIF orientation.
    fn decode(self) -> Result<DynamicImage, ImageError> {
        let field = self.field;
        let corrupt = |e: image::ImageError| ImageError::Corrupt {
            field: field.clone(),
            reason: e.to_string(),
        };
        let mut reader = ImageReader::with_format(Cursor::new(self.bytes), self.format);
        let mut limits = Limits::default();
        limits.max_image_width = Some(self.limits.max_side);
        limits.max_image_height = Some(self.limits.max_side);
        // Decoded RGBA at the pixel limit, plus the decoder's own working memory.
        limits.max_alloc = Some(
            self.limits
                .max_pixels
                .saturating_mul(4)
                .saturating_add(1 << 24),
        );
        reader.limits(limits);
        let mut decoder = reader.into_decoder().map_err(corrupt)?;
        let orientation = decoder
            .orientation()
            .unwrap_or(image::metadata::Orientation::NoTransforms);
        let mut image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
        image.apply_orientation(orientation);
        Ok(image)
    }

    /// The encoded bytes back, unread beyond the header.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The photo as 8-bit RGB.
    pub fn rgb(self) -> Result<RgbImage, ImageError> {
        Ok(self.decode()?.into_rgb8())
    }

    /// The garment picture as 8-bit RGBA (a JPEG or an opaque PNG gets alpha 255).
    pub fn rgba(self) -> Result<RgbaImage, ImageError> {
        Ok(self.decode()?.into_rgba8())
    }
}

/// Width and height from a PNG's IHDR chunk, which the format requires first, right
/// after the 8-byte signature: nothing else of the file needs to be read to refuse it.
fn png_ihdr_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let chunk = bytes.get(8..24)?;
    if chunk.get(4..8)? != b"IHDR" {
        return None;
    }
    let width = u32::from_be_bytes(chunk.get(8..12)?.try_into().ok()?);
    let height = u32::from_be_bytes(chunk.get(12..16)?.try_into().ok()?);
    Some((width, height))
}

/// Whether a JPEG's last scan is followed by the end-of-image marker. Decoders fill a
/// truncated scan with grey and carry on; a cut-off upload should be refused instead.
fn jpeg_has_end(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    match last_scan {
        Some(at) => bytes[at..].windows(2).any(|w| w == [0xFF, 0xD9]),
        None => false,
    }
}

/// Encodes RGB pixels as a PNG, favouring speed over size (the picture goes straight to
/// a screen on the same network).
pub fn encode_png(image: &RgbImage) -> Result<Vec<u8>, ImageError> {
    use image::ImageEncoder;
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    let mut out = Vec::new();
    PngEncoder::new_with_quality(&mut out, CompressionType::Fast, FilterType::Sub)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| ImageError::Encode(format!("PNG: {e}")))?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    const LIMITS: ImageLimits = ImageLimits {
        max_pixels: 16_000_000,
        max_side: 8192,
    };

    /// A PNG signature and an IHDR chunk declaring `width` × `height`, nothing else.
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
        bytes.extend_from_slice(&13u32.to_be_bytes());
        bytes.extend_from_slice(b"IHDR");
        bytes.extend_from_slice(&width.to_be_bytes());
        bytes.extend_from_slice(&height.to_be_bytes());
        bytes.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
        bytes
    }

    #[test]
    fn a_decompression_bomb_is_refused_from_its_header() {
        let err = check("photo_base64", png_header(50_000, 50_000), LIMITS).unwrap_err();
        assert!(
            matches!(err, ImageError::TooLarge { width: 50_000, .. }),
            "{err}"
        );
    }

    #[test]
    fn only_jpeg_and_png_are_accepted() {
        let err = check("photo_base64", b"GIF89a\x01\x00\x01\x00".to_vec(), LIMITS).unwrap_err();
        assert!(matches!(err, ImageError::UnsupportedFormat { .. }), "{err}");
        let err = check("photo_base64", b"hello".to_vec(), LIMITS).unwrap_err();
        assert!(matches!(err, ImageError::UnsupportedFormat { .. }), "{err}");
        let err = check("photo_base64", Vec::new(), LIMITS).unwrap_err();
        assert!(matches!(err, ImageError::Empty(_)), "{err}");
    }

    #[test]
    fn a_truncated_png_is_corrupt() {
        let image = RgbImage::from_pixel(40, 30, image::Rgb([200, 10, 10]));
        let png = encode_png(&image).unwrap();
        let decoded = check("photo_base64", png.clone(), LIMITS)
            .unwrap()
            .rgb()
            .unwrap();
        assert_eq!(decoded, image);
        let cut = png[..png.len() / 2].to_vec();
        let err = check("photo_base64", cut, LIMITS)
            .and_then(Checked::rgb)
            .unwrap_err();
        assert!(matches!(err, ImageError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn base64_with_a_data_url_prefix_and_line_breaks() {
        assert_eq!(base64_bytes("f", "aGVs\nbG8=").unwrap(), b"hello");
        assert_eq!(
            base64_bytes("f", "data:image/png;base64,aGVsbG8=").unwrap(),
            b"hello"
        );
        assert!(matches!(
            base64_bytes("f", "not base64!").unwrap_err(),
            ImageError::InvalidBase64 { .. }
        ));
    }
}
