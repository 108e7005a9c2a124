//! Faces: found ([`detect`]), judged ([`quality`]) and, when good enough, aligned and
//! embedded ([`embed`]). Only boxes, landmarks, quality and embeddings leave this
//! module; the pixels stay in the request that brought them.

pub mod detect;
pub mod embed;
pub mod quality;

use std::path::{Path, PathBuf};

use opencv::core::Mat;
use opencv::imgproc;
use protocol::vision::{BoundingBox, Face, Point};

use models::{ModelError, verify_installed};
use service_kit::config::VisionConfig;

use crate::decode::Frame;
use crate::error::VisionError;
use detect::{Detection, FaceDetector};
use embed::FaceEmbedder;

/// A face as reported, with its embedding when it was good enough to compute one.
pub struct FaceReading {
    /// Box, landmarks, quality (no identity yet: that is the catalog's answer).
    pub face: Face,
    /// The 128-d embedding, present when asked for and the quality allows it.
    pub embedding: Option<Vec<f32>>,
}

/// Detector and embedder of one worker (neither may be shared between threads).
pub struct FaceAnalyzer {
    detector: FaceDetector,
    embedder: FaceEmbedder,
    min_quality: f32,
    max_faces: usize,
}

/// Files of the face models, verified against the manifest once and shared by every
/// worker's analyzer.
#[derive(Debug, Clone)]
pub struct FaceModelFiles {
    /// BlazeFace front (128 × 128).
    pub blazeface_front: PathBuf,
    /// BlazeFace back (256 × 256).
    pub blazeface_back: PathBuf,
    /// The Haar cascade fallback, when configured.
    pub cascade: Option<PathBuf>,
    /// dlib's 5-point shape predictor.
    pub shape_predictor: PathBuf,
    /// dlib's ResNet face encoder.
    pub encoder: PathBuf,
}

impl FaceModelFiles {
    /// Verifies the configured detector and embedder (sha256, structure) in
    /// `models_dir` and names their files.
    pub fn verify(models_dir: &Path, vision: &VisionConfig) -> Result<Self, ModelError> {
        let mut detector = verify_installed(models_dir, &vision.face_detector)?.into_iter();
        let mut embedder = verify_installed(models_dir, &vision.face_embedder)?.into_iter();
        let (Some(blazeface_front), Some(blazeface_back), Some(shape_predictor), Some(encoder)) = (
            detector.next(),
            detector.next(),
            embedder.next(),
            embedder.next(),
        ) else {
            return Err(ModelError::Manifest {
                path: "fixtures/models.toml".into(),
                message: format!(
                    "models {} and {} must each have two files",
                    vision.face_detector, vision.face_embedder
                ),
            });
        };
        Ok(Self {
            blazeface_front,
            blazeface_back,
            cascade: vision.face_cascade.clone(),
            shape_predictor,
            encoder,
        })
    }
}

impl FaceAnalyzer {
    /// Loads every face model with the configured thresholds.
    pub fn load(files: &FaceModelFiles, vision: &VisionConfig) -> Result<Self, VisionError> {
        Ok(Self {
            detector: FaceDetector::load(
                &files.blazeface_front,
                &files.blazeface_back,
                files.cascade.as_deref(),
                vision.min_detection_score,
            )?,
            embedder: FaceEmbedder::load(&files.shape_predictor, &files.encoder)?,
            min_quality: vision.min_face_quality,
            max_faces: vision.max_faces,
        })
    }

    /// The quality below which faces are not embedded.
    pub fn min_quality(&self) -> f32 {
        self.min_quality
    }

    /// Faces of the frame, largest first (at most `max_faces`), with embeddings of the
    /// good ones when `embed` is set.
    pub fn analyze(&mut self, frame: &Frame, embed: bool) -> Result<Vec<FaceReading>, VisionError> {
        let mut detections = self.detector.detect(&frame.bgr)?;
        detections.truncate(self.max_faces);
        if detections.is_empty() {
            return Ok(Vec::new());
        }
        let mut gray = Mat::default();
        imgproc::cvt_color(&frame.bgr, &mut gray, imgproc::COLOR_BGR2GRAY, 0)?;
        let mut readings = Vec::with_capacity(detections.len());
        for detection in detections {
            let Some(aligned) = self.embedder.align(&frame.rgb, &detection) else {
                continue;
            };
            let quality = quality::assess(&gray, &detection, &aligned.points, detection.cut)?;
            tracing::debug!(
                score = quality.score,
                size_px = quality.size_px,
                sharpness = quality.sharpness,
                yaw = quality.yaw,
                roll = quality.roll_degrees,
                brightness = quality.brightness,
                "face quality"
            );
            let embedding = if embed && quality.score >= self.min_quality {
                self.embedder.embed(&aligned)
            } else {
                None
            };
            readings.push(FaceReading {
                face: Face {
                    bbox: bounding_box(&detection),
                    landmarks: aligned
                        .points
                        .iter()
                        .map(|&[x, y]| Point { x, y })
                        .collect(),
                    quality: quality.score,
                    issues: quality.issues,
                    identity: None,
                },
                embedding,
            });
        }
        Ok(readings)
    }
}

/// The protocol's box of a detection.
pub fn bounding_box(detection: &Detection) -> BoundingBox {
    BoundingBox {
        x: detection.x,
        y: detection.y,
        width: detection.width,
        height: detection.height,
    }
}
