//! The `vision` service API: what one camera frame shows
//! (`POST /v1/vision/analyze`, the encoded JPEG or PNG as the body) and enrolment of a
//! consenting customer's face (`POST /v1/vision/enrol`). Frames are never stored; only
//! these descriptions leave the service.

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

/// Query of `POST /v1/vision/analyze`: what to work out beyond finding faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnalyzeQuery {
    /// Match good-quality faces against enrolled customers (through the catalog).
    pub identify: bool,
    /// Describe garments: worn (below the largest face) or held up (no face).
    pub garments: bool,
}

impl Default for AnalyzeQuery {
    fn default() -> Self {
        Self {
            identify: false,
            garments: true,
        }
    }
}

/// Response body of `POST /v1/vision/analyze`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AnalyzeResponse {
    /// Faces found, largest first.
    #[serde(default)]
    pub faces: Vec<Face>,
    /// Garments found on the person in front of the kiosk.
    #[serde(default)]
    pub garments: Vec<Garment>,
    /// Width of the analysed frame in pixels (boxes are in this frame).
    #[serde(default)]
    pub width: u32,
    /// Height of the analysed frame in pixels.
    #[serde(default)]
    pub height: u32,
    /// Identification was asked for but the catalog could not answer: the faces are
    /// reported without identity, and the kiosk carries on anonymously.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub identity_unavailable: bool,
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
    /// What lowers the quality, so the kiosk can say "please look at the screen".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<FaceIssue>,
    /// Matched opted-in customer, absent for anonymous customers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityMatch>,
}

/// Why a face is not good enough to recognise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaceIssue {
    /// Too few pixels across the face: step closer.
    TooSmall,
    /// Out of focus or moving.
    Blurred,
    /// Turned or tilted away from the camera.
    TurnedAway,
    /// Too dark.
    TooDark,
    /// Overexposed.
    TooBright,
    /// Partly outside the frame.
    Cut,
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

/// Where a garment was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GarmentKind {
    /// Worn on the upper body (below the face): shirt, sweater, jacket.
    UpperBody,
    /// Worn on the lower body: trousers, skirt.
    LowerBody,
    /// Held up to the camera (no face in the frame), found by its catalogue image.
    HeldUp,
}

/// One detected garment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Garment {
    /// Where it was seen.
    pub kind: GarmentKind,
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

/// Body of `POST /v1/vision/enrol`: a customer who accepted on the kiosk's consent
/// screen. The service embeds the face of each photo and enrols her through the
/// catalog; the photos themselves are dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolFaceRequest {
    /// Name to greet the customer by.
    pub name: String,
    /// The consent she gave, as the kiosk recorded it.
    pub consent: crate::catalog::Consent,
    /// One to a few photos (JPEG or PNG, standard base64), each showing her face.
    pub photos_base64: Vec<String>,
    /// Usual size per category, when she said it.
    #[serde(default)]
    pub sizes: std::collections::BTreeMap<String, String>,
    /// Colours she said she likes.
    #[serde(default)]
    pub liked_colours: Vec<String>,
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
                issues: vec![],
                identity: Some(IdentityMatch {
                    customer_id: "c-42".into(),
                    confidence: 0.97,
                }),
            }],
            garments: vec![Garment {
                kind: GarmentKind::UpperBody,
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
            width: 640,
            height: 480,
            identity_unavailable: false,
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
