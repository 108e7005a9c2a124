//! The `vision` service API: what one camera frame shows (`POST /v1/analyze`).
//! Frames are never stored; only this description leaves the service.

use serde::{Deserialize, Serialize};

/// An axis-aligned rectangle in pixels of the analysed frame, origin top-left.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoundingBox {
    /// Left edge.
    pub x: f32,
    /// Top edge.
    pub y: f32,
    /// Width.
    pub width: f32,
    /// Height.
    pub height: f32,
}

/// A point in pixels of the analysed frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Horizontal position from the left.
    pub x: f32,
    /// Vertical position from the top.
    pub y: f32,
}

/// Response body of `POST /v1/analyze`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnalyzeResponse {
    /// Faces found, largest first.
    #[serde(default)]
    pub faces: Vec<Face>,
    /// Garments found on the person in front of the kiosk.
    #[serde(default)]
    pub garments: Vec<Garment>,
}

/// One detected face.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Face {
    /// Where the face is.
    #[serde(rename = "box")]
    pub bbox: BoundingBox,
    /// Facial landmarks (eyes, nose, mouth corners) used for alignment and try-on.
    #[serde(default)]
    pub landmarks: Vec<Point>,
    /// Detection/sharpness quality 0..1; low-quality faces are not matched.
    pub quality: f32,
    /// Matched opted-in customer, absent for anonymous customers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityMatch>,
}

/// A match of a face against enrolled (consenting) customers, done through `catalog`.
/// Carries only an opaque id: names stay in `catalog`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentityMatch {
    /// Opaque customer id to look up in `catalog`.
    pub customer_id: String,
    /// Match confidence 0..1; the kiosk greets by name only above its threshold.
    pub confidence: f32,
}

/// One detected garment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Garment {
    /// Where the garment is.
    pub region: BoundingBox,
    /// Dominant colour name, e.g. `pink`, matching catalogue colour names.
    pub colour: String,
    /// Pattern such as `striped`, when recognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Catalogue products that look like it, best first.
    #[serde(default)]
    pub candidates: Vec<SkuCandidate>,
}

/// A catalogue product that may be the detected garment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkuCandidate {
    /// The product.
    pub sku: String,
    /// Similarity 0..1, higher is better.
    pub score: f32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analyze_response_round_trips_with_box_field_name() {
        let resp = AnalyzeResponse {
            faces: vec![Face {
                bbox: BoundingBox {
                    x: 10.0,
                    y: 20.0,
                    width: 100.0,
                    height: 120.0,
                },
                landmarks: vec![Point { x: 40.0, y: 60.0 }],
                quality: 0.9,
                identity: Some(IdentityMatch {
                    customer_id: "c-42".into(),
                    confidence: 0.97,
                }),
            }],
            garments: vec![Garment {
                region: BoundingBox {
                    x: 0.0,
                    y: 150.0,
                    width: 200.0,
                    height: 250.0,
                },
                colour: "pink".into(),
                pattern: None,
                candidates: vec![SkuCandidate {
                    sku: "SW-7".into(),
                    score: 0.88,
                }],
            }],
        };
        let json = serde_json::to_value(&resp).unwrap();
        assert_eq!(json["faces"][0]["box"]["width"], 100.0);
        assert_eq!(json["faces"][0]["identity"]["customer_id"], "c-42");
        let back: AnalyzeResponse = serde_json::from_value(json).unwrap();
        assert_eq!(back, resp);
        // An anonymous face has no identity at all, not a null one.
        let anon: Face =
            serde_json::from_str(r#"{"box":{"x":0,"y":0,"width":1,"height":1},"quality":0.5}"#)
                .unwrap();
        assert!(anon.identity.is_none());
    }
}
