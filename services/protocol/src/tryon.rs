//! The `tryon` service API: the customer wearing a chosen garment
//! (`POST /v1/tryon`) and OpenAI-compatible `POST /v1/images/generations`.

use serde::{Deserialize, Serialize};

use crate::vision::{BoundingBox, Point};

/// Request body of `POST /v1/tryon`: the customer's photo and the garment, either a
/// catalogue product (`sku`) or a garment picture with a transparent background
/// (`garment_png_base64` with its `category`, e.g. one from `/v1/images/generations`).
/// The photo lives only for the request: it is never stored or logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TryOnRequest {
    /// The customer's photo, JPEG or PNG, standard base64 (a `data:` URL prefix is
    /// accepted too).
    pub photo_base64: String,
    /// The catalogue product to wear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// A garment picture instead of a product: PNG with alpha, standard base64, laid
    /// out like the catalogue's images (garment upright, centred, collar at the top).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub garment_png_base64: Option<String>,
    /// Category of `garment_png_base64` (a catalogue category such as `shirt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

/// Response body of `POST /v1/tryon`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TryOnResponse {
    /// The composited picture, PNG encoded as standard base64, ready for an `<img>`.
    /// Same size as the photo.
    pub png_base64: String,
    /// Where each garment was placed, so the mirror can outline or animate it.
    #[serde(default)]
    pub regions: Vec<TryOnRegion>,
    /// Width of the picture in pixels (the photo's, after its EXIF orientation).
    #[serde(default)]
    pub width: u32,
    /// Height of the picture in pixels.
    #[serde(default)]
    pub height: u32,
    /// The body geometry the garment was fitted to, in pixels of the picture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<BodyGeometry>,
}

/// One garment placed in the try-on picture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TryOnRegion {
    /// The product worn; empty when the garment came as a picture.
    #[serde(default)]
    pub sku: String,
    /// Its category, e.g. `shirt`.
    #[serde(default)]
    pub category: String,
    /// Bounding box of the garment as drawn (hidden parts excluded).
    pub region: BoundingBox,
}

/// Where the customer's body is, as the try-on placed it: found from the face and
/// refined with the person's outline. Sides are as seen in the picture (`left` is the
/// picture's left, her right shoulder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BodyGeometry {
    /// The face the body was placed from (its pixels are never changed).
    pub face: BoundingBox,
    /// Base of the neck, where a crew neckline sits.
    pub neck: Point,
    /// Outer end of the shoulder on the picture's left.
    pub left_shoulder: Point,
    /// Outer end of the shoulder on the picture's right.
    pub right_shoulder: Point,
    /// Side of the hips on the picture's left (may lie below the picture).
    pub left_hip: Point,
    /// Side of the hips on the picture's right (may lie below the picture).
    pub right_hip: Point,
    /// The torso from the shoulders to the hips, clipped to the picture.
    pub torso: BoundingBox,
}

/// How generated images are returned (OpenAI's `response_format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageResponseFormat {
    /// Base64 PNG inline; the default here because kiosks may be offline.
    #[default]
    B64Json,
    /// A URL served by the tryon service.
    Url,
}

/// Request body of `POST /v1/images/generations` (OpenAI-compatible).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageGenerationRequest {
    /// What to draw, e.g. "pink wool sweater, product photo".
    pub prompt: String,
    /// Model name; the server's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Number of images.
    #[serde(default = "default_n")]
    pub n: u32,
    /// `WIDTHxHEIGHT`, e.g. `1024x1024`; the server's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// How images are returned.
    #[serde(default)]
    pub response_format: ImageResponseFormat,
    /// Extension: the same prompt and seed give the same images (the local renderer
    /// derives the seed from the prompt when absent). Not sent when absent, so plain
    /// OpenAI-compatible servers never see it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

fn default_n() -> u32 {
    1
}

/// Response body of `POST /v1/images/generations`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageGenerationResponse {
    /// Unix time in seconds when the images were created.
    pub created: u64,
    /// The images, `n` of them.
    pub data: Vec<GeneratedImage>,
}

/// One generated image; exactly one of `b64_json` and `url` is set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GeneratedImage {
    /// Base64 PNG, when `response_format` was `b64_json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b64_json: Option<String>,
    /// Where to fetch the image, when `response_format` was `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// What was drawn, as the server understood the prompt (OpenAI's field), e.g.
    /// "pink striped linen shirt".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revised_prompt: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_generation_request_defaults_and_response_shape() {
        let req: ImageGenerationRequest =
            serde_json::from_str(r#"{"prompt":"pink sweater"}"#).unwrap();
        assert_eq!(req.n, 1);
        assert_eq!(req.response_format, ImageResponseFormat::B64Json);
        assert_eq!(req.seed, None);
        // Without a seed, the request forwarded to an OpenAI server has no extension.
        let forwarded = serde_json::to_value(&req).unwrap();
        assert!(forwarded.get("seed").is_none());
        let resp = ImageGenerationResponse {
            created: 1,
            data: vec![GeneratedImage {
                b64_json: Some("iVBOR".into()),
                ..GeneratedImage::default()
            }],
        };
        let json = serde_json::to_value(&resp).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"created": 1, "data": [{"b64_json": "iVBOR"}]})
        );
    }

    #[test]
    fn tryon_response_round_trips() {
        let resp = TryOnResponse {
            png_base64: "iVBOR".into(),
            regions: vec![TryOnRegion {
                sku: "SH-001".into(),
                category: "shirt".into(),
                region: BoundingBox {
                    x: 1.0,
                    y: 2.0,
                    width: 3.0,
                    height: 4.0,
                },
            }],
            width: 10,
            height: 20,
            body: None,
        };
        let back: TryOnResponse =
            serde_json::from_str(&serde_json::to_string(&resp).unwrap()).unwrap();
        assert_eq!(back, resp);
    }
}
