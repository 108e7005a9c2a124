//! Face landmarks and embeddings with dlib: the 5-point shape predictor places the eye
//! corners and the nose, dlib aligns the face on them (a 150 × 150 chip, rotated and
//! scaled so the eyes sit level at fixed positions) and its ResNet gives a 128-d
//! embedding in which the same person's faces lie within ~0.6 of each other.

use std::path::Path;

use dlib_face_recognition::{
    FaceEncoderNetwork, FaceEncoderTrait, ImageMatrix, LandmarkPredictor, LandmarkPredictorTrait,
    Rectangle,
};
use image::RgbImage;
use image::imageops::{self, FilterType};

use super::detect::Detection;
use crate::error::VisionError;

/// Length of a dlib face embedding.
pub const EMBEDDING_DIM: usize = 128;
/// The face crop handed to dlib is scaled down to at most this many pixels across:
/// dlib's chip is 150 pixels, so more only costs copying.
const MAX_CROP_SIDE: u32 = 480;

/// dlib's landmark predictor and face encoder.
pub struct FaceEmbedder {
    predictor: LandmarkPredictor,
    encoder: FaceEncoderNetwork,
}

/// A face prepared for dlib: the crop around it and its five landmarks.
pub struct AlignedFace {
    crop: ImageMatrix,
    landmarks: dlib_face_recognition::FaceLandmarks,
    /// The five landmarks in frame pixels: two corners of each eye, then the nose base.
    pub points: [[f32; 2]; 5],
}

impl FaceEmbedder {
    /// Loads the shape predictor and the ResNet encoder.
    pub fn load(predictor: &Path, encoder: &Path) -> Result<Self, VisionError> {
        let predictor = LandmarkPredictor::open(predictor)
            .map_err(|e| VisionError::Analysis(format!("dlib shape predictor: {e}")))?;
        let encoder = FaceEncoderNetwork::open(encoder)
            .map_err(|e| VisionError::Analysis(format!("dlib face encoder: {e}")))?;
        Ok(Self { predictor, encoder })
    }

    /// Crops around a detected face and places its landmarks.
    pub fn align(&self, frame: &RgbImage, face: &Detection) -> Option<AlignedFace> {
        // Half a face of margin on each side: the predictor looks just outside the box.
        let margin_x = face.width * 0.5;
        let margin_y = face.height * 0.5;
        let left = (face.x - margin_x).max(0.0).floor() as u32;
        let top = (face.y - margin_y).max(0.0).floor() as u32;
        let right = ((face.x + face.width + margin_x).ceil() as u32).min(frame.width());
        let bottom = ((face.y + face.height + margin_y).ceil() as u32).min(frame.height());
        if right <= left + 8 || bottom <= top + 8 {
            return None;
        }
        let mut crop = imageops::crop_imm(frame, left, top, right - left, bottom - top).to_image();
        let side = crop.width().max(crop.height());
        let scale = if side > MAX_CROP_SIDE {
            let scale = MAX_CROP_SIDE as f32 / side as f32;
            crop = imageops::resize(
                &crop,
                ((crop.width() as f32 * scale).round() as u32).max(1),
                ((crop.height() as f32 * scale).round() as u32).max(1),
                FilterType::Triangle,
            );
            scale
        } else {
            1.0
        };
        let (width, height) = crop.dimensions();
        let crop = image_dlib::RgbImage::from_raw(width, height, crop.into_raw())?;
        let crop = ImageMatrix::from_image(&crop);
        let rect = Rectangle {
            left: ((face.x - left as f32) * scale).round() as _,
            top: ((face.y - top as f32) * scale).round() as _,
            right: ((face.x + face.width - left as f32) * scale).round() as _,
            bottom: ((face.y + face.height - top as f32) * scale).round() as _,
        };
        let landmarks = self.predictor.face_landmarks(&crop, &rect);
        if landmarks.len() != 5 {
            return None;
        }
        let mut points = [[0.0f32; 2]; 5];
        for (out, point) in points.iter_mut().zip(landmarks.iter()) {
            *out = [
                point.x() as f32 / scale + left as f32,
                point.y() as f32 / scale + top as f32,
            ];
        }
        Some(AlignedFace {
            crop,
            landmarks,
            points,
        })
    }

    /// The 128-d embedding of an aligned face.
    pub fn embed(&self, face: &AlignedFace) -> Option<Vec<f32>> {
        let encodings =
            self.encoder
                .get_face_encodings(&face.crop, std::slice::from_ref(&face.landmarks), 0);
        let encoding = encodings.first()?;
        let values: &[f64] = encoding.as_ref();
        (values.len() == EMBEDDING_DIM).then(|| values.iter().map(|&v| v as f32).collect())
    }
}

/// Euclidean distance between two embeddings (what the catalog matches on).
pub fn distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}
