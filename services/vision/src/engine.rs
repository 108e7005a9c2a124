//! The analysis of one frame, and the pool of workers that run it.
//!
//! OpenCV's networks and dlib's models are not safe to share between threads, so each
//! worker owns a [`FaceAnalyzer`]; frames wait for a free one in a bounded line and
//! beyond it are refused at once (503), so a burst of frames cannot pile up memory.

use std::sync::{Arc, Mutex};

use opencv::core::Rect;
use protocol::vision::{BoundingBox, Garment, GarmentKind, SkuCandidate};
use service_kit::workers::BoundedWorkers;

use crate::body;
use crate::decode::Frame;
use crate::error::VisionError;
use crate::faces::{FaceAnalyzer, FaceReading};
use crate::garments::{CatalogueIndex, CatalogueMatch, describe_garment};

/// Lowest score of a catalogue match taken as a garment held up to the camera: below
/// it the frame most likely shows no catalogue product at all.
pub const HELD_UP_MIN_SCORE: f32 = 0.35;

/// Workers with their own models and a bounded waiting line.
pub struct AnalyzerPool {
    workers: BoundedWorkers,
    idle: Arc<Mutex<Vec<FaceAnalyzer>>>,
}

impl AnalyzerPool {
    /// A pool of the given analyzers (one per worker) and room for `queue` waiting
    /// frames.
    pub fn new(analyzers: Vec<FaceAnalyzer>, queue: usize) -> Self {
        Self {
            workers: BoundedWorkers::new(analyzers.len(), queue),
            idle: Arc::new(Mutex::new(analyzers)),
        }
    }

    /// Runs `job` on a free analyzer on a blocking thread.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut FaceAnalyzer) -> Result<T, VisionError> + Send + 'static,
    ) -> Result<T, VisionError> {
        let permit = self
            .workers
            .acquire()
            .await
            .map_err(|full| VisionError::Busy {
                queued: full.queued,
            })?;
        let idle = self.idle.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            // There are as many permits as analyzers, so one is always idle here.
            let mut analyzer = idle
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .pop()
                .ok_or_else(|| VisionError::Analysis("no idle analyzer".into()))?;
            let result = job(&mut analyzer);
            idle.lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(analyzer);
            result
        })
        .await
        .map_err(|e| VisionError::Analysis(format!("analysis stopped: {e}")))?
    }
}

/// What one frame shows, before identification.
pub struct FrameAnalysis {
    /// Faces, largest first, with embeddings when asked.
    pub faces: Vec<FaceReading>,
    /// Garments worn below the largest face, or held up when there is no face.
    pub garments: Vec<Garment>,
}

/// Faces, and garments when asked, of one frame.
pub fn analyze_frame(
    analyzer: &mut FaceAnalyzer,
    frame: &Frame,
    embed: bool,
    index: Option<&CatalogueIndex>,
    candidates: usize,
) -> Result<FrameAnalysis, VisionError> {
    let faces = analyzer.analyze(frame, embed)?;
    let garments = match index {
        Some(index) => garments_of(
            frame,
            faces.first(),
            index,
            candidates,
            analyzer.min_quality(),
        )?,
        None => Vec::new(),
    };
    Ok(FrameAnalysis { faces, garments })
}

fn garments_of(
    frame: &Frame,
    face: Option<&FaceReading>,
    index: &CatalogueIndex,
    candidates: usize,
    min_quality: f32,
) -> Result<Vec<Garment>, VisionError> {
    let (width, height) = (frame.width() as f32, frame.height() as f32);
    let held = held_up(frame, index, candidates)?;
    let mut garments = Vec::new();
    // Worn garments only below a face good enough to be a person in front of the
    // camera; a tiny or doubtful "face" (a pattern, a poster) anchors nothing.
    if let Some(face) = face.filter(|f| f.face.quality >= min_quality) {
        for (kind, region) in body::garment_regions(&face.face.bbox, width, height) {
            // A garment she holds up in front of her covers what she wears there.
            if held
                .as_ref()
                .is_some_and(|h| overlap(&h.region, &region) > 0.3)
            {
                continue;
            }
            let reading = describe_garment(&frame.bgr, rect_of(&region), None, index, candidates)?;
            garments.push(Garment {
                kind,
                region,
                colour: reading.colour.unwrap_or("unknown").to_owned(),
                pattern: Some(reading.pattern.as_str().to_owned()),
                candidates: sku_candidates(&reading.candidates),
            });
        }
    }
    garments.extend(held);
    Ok(garments)
}

/// Intersection over the smaller of two boxes' areas.
fn overlap(a: &BoundingBox, b: &BoundingBox) -> f32 {
    let width = (a.x + a.width).min(b.x + b.width) - a.x.max(b.x);
    let height = (a.y + a.height).min(b.y + b.height) - a.y.max(b.y);
    let smaller = (a.width * a.height).min(b.width * b.height);
    if width <= 0.0 || height <= 0.0 || smaller <= 0.0 {
        0.0
    } else {
        width * height / smaller
    }
}

/// A garment held up to the camera: a catalogue image found in the whole frame (its
/// features agree with one product's under a homography), described where it was
/// found.
fn held_up(
    frame: &Frame,
    index: &CatalogueIndex,
    candidates: usize,
) -> Result<Option<Garment>, VisionError> {
    let matches = index.best_matches(&frame.bgr, None, candidates)?;
    let Some(best) = matches.first() else {
        return Ok(None);
    };
    let Some(found) = best.region.filter(|_| best.score >= HELD_UP_MIN_SCORE) else {
        return Ok(None);
    };
    let region = body::clamp(
        &BoundingBox {
            x: found.x as f32,
            y: found.y as f32,
            width: found.width as f32,
            height: found.height as f32,
        },
        frame.width() as f32,
        frame.height() as f32,
    );
    let Some(region) = region else {
        return Ok(None);
    };
    let reading = describe_garment(&frame.bgr, rect_of(&region), None, index, 0)?;
    Ok(Some(Garment {
        kind: GarmentKind::HeldUp,
        region,
        colour: reading.colour.unwrap_or("unknown").to_owned(),
        pattern: Some(reading.pattern.as_str().to_owned()),
        candidates: sku_candidates(&matches),
    }))
}

fn sku_candidates(matches: &[CatalogueMatch]) -> Vec<SkuCandidate> {
    matches
        .iter()
        .map(|m| SkuCandidate {
            sku: m.sku.clone(),
            score: m.score,
        })
        .collect()
}

fn rect_of(region: &BoundingBox) -> Rect {
    Rect::new(
        region.x.round() as i32,
        region.y.round() as i32,
        region.width.round() as i32,
        region.height.round() as i32,
    )
}
