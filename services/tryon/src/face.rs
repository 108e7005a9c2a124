//! Finding the customer's face with OpenCV's frontal Haar cascade (Debian's
//! `opencv-data`): the body is placed from it. A cascade is not safe to share between
//! threads, so each worker takes one from a small pool.

use std::path::Path;
use std::sync::Mutex;

use opencv::core::{Mat, Rect, Size, Vector};
use opencv::objdetect::CascadeClassifier;
use opencv::prelude::*;

use crate::error::TryonError;

/// Smallest face searched for, in pixels of the analysis copy.
const MIN_FACE: i32 = 20;

/// Neighbouring detections a face needs to be reported (OpenCV's `minNeighbors`).
const MIN_NEIGHBOURS: i32 = 3;

/// How much a detection looks like the customer's face: its votes, weighted by the
/// fourth root of its width (on the fixture photos, false detections had 4 to 10 votes
/// and real faces 14 to 57; size alone picked a rocket over a face).
fn score(face: &Rect, votes: i32) -> f32 {
    votes as f32 * (face.width.max(1) as f32).powf(0.25)
}

/// One cascade per worker.
pub struct FaceDetector {
    pool: Vec<Mutex<CascadeClassifier>>,
}

/// Why the cascade could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error(
    "the face cascade {path} could not be loaded ({reason}); install Debian's opencv-data or set tryon.face_cascade"
)]
pub struct CascadeError {
    /// The file.
    pub path: String,
    /// What failed.
    pub reason: String,
}

impl FaceDetector {
    /// Loads `copies` cascades from `path`.
    pub fn load(path: &Path, copies: usize) -> Result<FaceDetector, CascadeError> {
        let error = |reason: String| CascadeError {
            path: path.display().to_string(),
            reason,
        };
        let name = path
            .to_str()
            .ok_or_else(|| error("the path is not UTF-8".into()))?;
        if !path.is_file() {
            return Err(error("no such file".into()));
        }
        let pool = (0..copies.max(1))
            .map(|_| {
                let cascade = CascadeClassifier::new(name).map_err(|e| error(e.to_string()))?;
                if cascade.empty().map_err(|e| error(e.to_string()))? {
                    return Err(error("not a cascade file".into()));
                }
                Ok(Mutex::new(cascade))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FaceDetector { pool })
    }

    /// The customer's face in an 8-bit grey picture, if any: the surest detection.
    pub fn customer_face(&self, grey: &Mat) -> Result<Option<Rect>, TryonError> {
        // A free cascade if there is one; the pool has one per worker, so waiting on
        // the first happens only if callers outnumber the workers.
        let guard = self
            .pool
            .iter()
            .find_map(|cascade| cascade.try_lock().ok())
            .unwrap_or_else(|| self.pool[0].lock().unwrap_or_else(|p| p.into_inner()));
        let mut cascade = guard;
        let mut faces = Vector::<Rect>::new();
        let mut votes = Vector::<i32>::new();
        cascade.detect_multi_scale2(
            grey,
            &mut faces,
            &mut votes,
            1.1,
            MIN_NEIGHBOURS,
            0,
            Size::new(MIN_FACE, MIN_FACE),
            Size::new(0, 0),
        )?;
        // A real face is found at many neighbouring positions and scales, a face-like
        // pattern (a rocket, hair over an arm) at few: the most-voted face wins, larger
        // faces a little ahead (the customer is the one closest to the mirror).
        Ok(faces
            .iter()
            .zip(votes.iter())
            .max_by(|(a, va), (b, vb)| score(a, *va).total_cmp(&score(b, *vb)))
            .map(|(face, _)| face))
    }
}
