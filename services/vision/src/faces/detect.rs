//! Face detection: MediaPipe's BlazeFace (ONNX, run by OpenCV's dnn module) and, when
//! it finds nothing, OpenCV's Haar cascade.
//!
//! BlazeFace comes in two sizes: the "front" model (128 × 128 input) is trained on
//! faces near the camera, which is the kiosk's case; the "back" model (256 × 256) finds
//! smaller, farther faces. Both run on every frame and their faces are merged. The frame is padded to a square (so faces keep their shape),
//! scaled to the model's input, and the 896 anchor predictions are decoded and merged
//! by non-maximum suppression.

use std::path::Path;

use opencv::core::{BORDER_CONSTANT, CV_32F, Mat, Rect, Scalar, Size, Vector};
use opencv::dnn::{self, Net};
use opencv::imgproc;
use opencv::objdetect::CascadeClassifier;
use opencv::prelude::*;

use crate::error::VisionError;

/// A face found in a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    /// Left edge in frame pixels.
    pub x: f32,
    /// Top edge in frame pixels.
    pub y: f32,
    /// Width in frame pixels.
    pub width: f32,
    /// Height in frame pixels.
    pub height: f32,
    /// Detector confidence 0..1 (the cascade, which has none, reports 0.5).
    pub score: f32,
    /// Which detector found it.
    pub source: DetectorKind,
    /// The face runs over the frame's edge (the box was clamped by more than a tenth).
    pub cut: bool,
}

/// The detector that found a face.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectorKind {
    /// BlazeFace front (near faces).
    BlazeFaceFront,
    /// BlazeFace back (small, far faces).
    BlazeFaceBack,
    /// OpenCV's Haar cascade, the fallback.
    HaarCascade,
}

/// One BlazeFace network with its anchors.
struct BlazeFace {
    net: Net,
    input: i32,
    anchors: Vec<[f32; 2]>,
    kind: DetectorKind,
}

/// BlazeFace's output blobs: scores and box regressors of the finer grid, then of the
/// coarser grid (ONNX names of the MediaPipe export).
const OUTPUTS: [&str; 4] = ["Identity:0", "Identity_1:0", "Identity_2:0", "Identity_3:0"];
/// Overlap above which two boxes are the same face.
const NMS_IOU: f32 = 0.3;

impl BlazeFace {
    fn load(path: &Path, input: i32, kind: DetectorKind) -> Result<Self, VisionError> {
        let mut net = dnn::read_net_from_onnx(path)?;
        net.set_preferable_backend(dnn::DNN_BACKEND_OPENCV)?;
        net.set_preferable_target(dnn::DNN_TARGET_CPU)?;
        // Finer grid: 2 anchors per cell at stride input/16; coarser: 6 per cell at
        // stride input/8 (MediaPipe's SSD anchor options for BlazeFace).
        let mut anchors = Vec::with_capacity(896);
        for (cells, per_cell) in [(16, 2), (8, 6)] {
            for y in 0..cells {
                for x in 0..cells {
                    for _ in 0..per_cell {
                        anchors.push([
                            (x as f32 + 0.5) / cells as f32,
                            (y as f32 + 0.5) / cells as f32,
                        ]);
                    }
                }
            }
        }
        Ok(Self {
            net,
            input,
            anchors,
            kind,
        })
    }

    /// Faces in `square` (a padded, square frame `side` pixels wide) above `min_score`.
    fn detect(
        &mut self,
        square: &Mat,
        side: f32,
        min_score: f32,
    ) -> Result<Vec<Detection>, VisionError> {
        let mut scaled = Mat::default();
        imgproc::resize(
            square,
            &mut scaled,
            Size::new(self.input, self.input),
            0.0,
            0.0,
            imgproc::INTER_AREA,
        )?;
        let mut rgb = Mat::default();
        imgproc::cvt_color(&scaled, &mut rgb, imgproc::COLOR_BGR2RGB, 0)?;
        let mut normalised = Mat::default();
        rgb.convert_to(&mut normalised, CV_32F, 1.0 / 127.5, -1.0)?;
        // HWC float pixels are already NHWC for a batch of one.
        let blob = normalised.reshape_nd(1, &[1, self.input, self.input, 3])?;
        self.net.set_input(&blob, "", 1.0, Scalar::default())?;
        let mut outputs = Vector::<Mat>::new();
        let names: Vector<String> = OUTPUTS.iter().copied().collect();
        self.net.forward(&mut outputs, &names)?;
        let fine_scores = outputs.get(0)?;
        let coarse_scores = outputs.get(1)?;
        let fine_boxes = outputs.get(2)?;
        let coarse_boxes = outputs.get(3)?;
        let scores: Vec<f32> = [
            fine_scores.data_typed::<f32>()?,
            coarse_scores.data_typed::<f32>()?,
        ]
        .concat();
        let boxes: Vec<f32> = [
            fine_boxes.data_typed::<f32>()?,
            coarse_boxes.data_typed::<f32>()?,
        ]
        .concat();
        if scores.len() != self.anchors.len() || boxes.len() != self.anchors.len() * 16 {
            return Err(VisionError::Analysis(format!(
                "BlazeFace gave {} scores and {} box values for {} anchors",
                scores.len(),
                boxes.len(),
                self.anchors.len()
            )));
        }
        let input = self.input as f32;
        let mut found = Vec::new();
        for ((anchor, &raw), regression) in
            self.anchors.iter().zip(&scores).zip(boxes.chunks_exact(16))
        {
            let score = 1.0 / (1.0 + (-raw.clamp(-100.0, 100.0)).exp());
            if score < min_score {
                continue;
            }
            let cx = regression[0] / input + anchor[0];
            let cy = regression[1] / input + anchor[1];
            let w = regression[2] / input;
            let h = regression[3] / input;
            if w <= 0.0 || h <= 0.0 {
                continue;
            }
            found.push(Detection {
                x: (cx - w / 2.0) * side,
                y: (cy - h / 2.0) * side,
                width: w * side,
                height: h * side,
                score,
                source: self.kind,
                cut: false,
            });
        }
        Ok(found)
    }
}

/// Finds faces: BlazeFace front and back, and the Haar cascade when neither finds one.
pub struct FaceDetector {
    front: BlazeFace,
    back: BlazeFace,
    cascade: Option<CascadeClassifier>,
    min_score: f32,
}

impl FaceDetector {
    /// Loads both BlazeFace models and, when `cascade` names a file that exists, the
    /// Haar cascade.
    pub fn load(
        front: &Path,
        back: &Path,
        cascade: Option<&Path>,
        min_score: f32,
    ) -> Result<Self, VisionError> {
        let cascade = match cascade.filter(|p| p.is_file()) {
            Some(path) => Some(CascadeClassifier::new(path)?),
            None => None,
        };
        Ok(Self {
            front: BlazeFace::load(front, 128, DetectorKind::BlazeFaceFront)?,
            back: BlazeFace::load(back, 256, DetectorKind::BlazeFaceBack)?,
            cascade,
            min_score,
        })
    }

    /// Whether the Haar cascade fallback is loaded.
    pub fn has_cascade(&self) -> bool {
        self.cascade.is_some()
    }

    /// Faces of a BGR frame, largest first, boxes clamped to the frame.
    pub fn detect(&mut self, bgr: &Mat) -> Result<Vec<Detection>, VisionError> {
        let (width, height) = (bgr.cols(), bgr.rows());
        let side = width.max(height);
        let mut square = Mat::default();
        opencv::core::copy_make_border(
            bgr,
            &mut square,
            0,
            side - height,
            0,
            side - width,
            BORDER_CONSTANT,
            Scalar::all(0.0),
        )?;
        // Both models, merged: near faces from the front model, farther ones (a customer
        // still walking up, a group) from the back model.
        let mut faces = self.front.detect(&square, side as f32, self.min_score)?;
        faces.extend(self.back.detect(&square, side as f32, self.min_score)?);
        let mut faces = suppress(faces);
        if faces.is_empty()
            && let Some(cascade) = &mut self.cascade
        {
            faces = cascade_faces(cascade, bgr)?;
        }
        let (w, h) = (width as f32, height as f32);
        faces.retain_mut(|face| {
            let right = (face.x + face.width).min(w);
            let bottom = (face.y + face.height).min(h);
            face.x = face.x.max(0.0);
            face.y = face.y.max(0.0);
            let (full_width, full_height) = (face.width, face.height);
            face.width = right - face.x;
            face.height = bottom - face.y;
            face.cut = face.width < full_width * 0.9 || face.height < full_height * 0.9;
            face.width >= 8.0 && face.height >= 8.0
        });
        faces.sort_by(|a, b| (b.width * b.height).total_cmp(&(a.width * a.height)));
        Ok(faces)
    }
}

/// Non-maximum suppression: of boxes overlapping more than [`NMS_IOU`], the most
/// confident stays.
fn suppress(mut faces: Vec<Detection>) -> Vec<Detection> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for face in faces {
        if kept.iter().all(|k| iou(k, &face) <= NMS_IOU) {
            kept.push(face);
        }
    }
    kept
}

/// Intersection over union of two boxes.
pub fn iou(a: &Detection, b: &Detection) -> f32 {
    let left = a.x.max(b.x);
    let top = a.y.max(b.y);
    let right = (a.x + a.width).min(b.x + b.width);
    let bottom = (a.y + a.height).min(b.y + b.height);
    let inter = (right - left).max(0.0) * (bottom - top).max(0.0);
    let union = a.width * a.height + b.width * b.height - inter;
    if union <= 0.0 { 0.0 } else { inter / union }
}

fn cascade_faces(
    cascade: &mut CascadeClassifier,
    bgr: &Mat,
) -> Result<Vec<Detection>, VisionError> {
    let mut gray = Mat::default();
    imgproc::cvt_color(bgr, &mut gray, imgproc::COLOR_BGR2GRAY, 0)?;
    let mut equalised = Mat::default();
    imgproc::equalize_hist(&gray, &mut equalised)?;
    let mut rects = Vector::<Rect>::new();
    let min_side = (bgr.cols().min(bgr.rows()) / 12).max(24);
    cascade.detect_multi_scale(
        &equalised,
        &mut rects,
        1.1,
        5,
        0,
        Size::new(min_side, min_side),
        Size::default(),
    )?;
    Ok(rects
        .iter()
        .map(|r| Detection {
            x: r.x as f32,
            y: r.y as f32,
            width: r.width as f32,
            height: r.height as f32,
            score: 0.5,
            source: DetectorKind::HaarCascade,
            cut: false,
        })
        .collect())
}
