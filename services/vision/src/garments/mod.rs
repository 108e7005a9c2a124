//! Garment understanding: what colour a garment is, what pattern it has, and which
//! catalogue product it is, from a camera frame. Colours use the catalogue's own words
//! (plus a few only vision reports), patterns the catalogue's `Product::pattern`
//! words, and products are found among the catalogue's own product images, so every
//! answer can go straight into a catalogue search.

pub mod colour;
pub mod matcher;
pub mod pattern;

use opencv::core::{Mat, Rect};
use opencv::prelude::*;

pub use colour::{
    ColourReading, RETAIL_PALETTE, RetailColour, VISION_ONLY_COLOURS, ciede2000, dominant_colour,
    nearest_colour,
};
pub use matcher::{CatalogueIndex, CatalogueMatch};
pub use pattern::{Pattern, TextureStats, classify_pattern, texture_stats};

/// Everything vision says about one garment in a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct GarmentReading {
    /// Dominant colour name ([`RETAIL_PALETTE`]); `None` when the region or mask holds
    /// no pixels.
    pub colour: Option<&'static str>,
    /// Pattern of the fabric.
    pub pattern: Pattern,
    /// Catalogue products it may be, best first; regions are in frame coordinates.
    pub candidates: Vec<CatalogueMatch>,
}

/// Describe the garment inside `region` of a frame (`bgr`: 8-bit BGR, BGRA or grey):
/// its colour, pattern and the `k` most likely catalogue products.
///
/// `region` is clamped to the frame; `mask` (8-bit, non-zero = garment) is either the
/// frame's size or the clamped region's. A region outside the frame reads as nothing
/// (no colour, solid, no candidates).
pub fn describe_garment(
    bgr: &Mat,
    region: Rect,
    mask: Option<&Mat>,
    index: &CatalogueIndex,
    k: usize,
) -> opencv::Result<GarmentReading> {
    let clamped = region & Rect::new(0, 0, bgr.cols(), bgr.rows());
    if clamped.width <= 0 || clamped.height <= 0 {
        return Ok(GarmentReading {
            colour: None,
            pattern: Pattern::Solid,
            candidates: Vec::new(),
        });
    }
    let crop = Mat::roi(bgr, clamped)?.try_clone()?;
    let crop_mask = match mask {
        Some(mask) if mask.cols() == bgr.cols() && mask.rows() == bgr.rows() => {
            Some(Mat::roi(mask, clamped)?.try_clone()?)
        }
        Some(mask) => Some(mask.try_clone()?),
        None => None,
    };
    let colour = dominant_colour(&crop, crop_mask.as_ref())?.map(|reading| reading.name);
    let pattern = classify_pattern(&crop, crop_mask.as_ref())?;
    let mut candidates = index.best_matches(&crop, crop_mask.as_ref(), k)?;
    for candidate in &mut candidates {
        if let Some(found) = &mut candidate.region {
            found.x += clamped.x;
            found.y += clamped.y;
        }
    }
    Ok(GarmentReading {
        colour,
        pattern,
        candidates,
    })
}
