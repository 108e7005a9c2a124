//! The `tryon` service API: the customer wearing a chosen garment
//! (`POST /v1/tryon`) and OpenAI-compatible `POST /v1/images/generations`.

use serde::{Deserialize, Serialize};

use crate::vision::BoundingBox;

/// Response body of `POST /v1/tryon`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TryOnResponse {
    /// The composited picture, PNG encoded as standard base64, ready for an `<img>`.
    pub png_base64: String,
    /// Where each garment was placed, so the mirror can outline or animate it.
    #[serde(default)]
    pub regions: Vec<TryOnRegion>,
}

/// One garment placed in the try-on picture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TryOnRegion {
    /// The product worn.
    pub sku: String,
    /// Where it is in the output picture.
    pub region: BoundingBox,
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
        let resp = ImageGenerationResponse {
            created: 1,
            data: vec![GeneratedImage {
                b64_json: Some("iVBOR".into()),
                url: None,
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
                region: BoundingBox {
                    x: 1.0,
                    y: 2.0,
                    width: 3.0,
                    height: 4.0,
                },
            }],
        };
        let back: TryOnResponse =
            serde_json::from_str(&serde_json::to_string(&resp).unwrap()).unwrap();
        assert_eq!(back, resp);
    }
}
