//! The garment to put on: its picture (premultiplied RGBA, cut out by its own alpha)
//! and where the points of the catalogue's garment drawings go on a body.
//!
//! Every catalogue image is drawn by `garment-art` on the same 256 × 320 frame: a top's
//! neck at (128, 44), shoulders at x ≈ 64 and 192 on y = 56, armpits at y = 132, hem
//! at y ≈ 290, long sleeves ending at y ≈ 240 beside the body as in a flat-lay. The
//! try-on matches those template points to the same points of her body
//! ([`correspondences`]) and warps the picture with a thin-plate spline through them,
//! so the torso follows her shoulders and hips and the sleeves turn down along her arms.

use image::RgbaImage;
use opencv::core::Mat;
use opencv::prelude::*;
use protocol::catalog::Product;

use crate::body::Body;
use crate::error::TryonError;

/// How a category is worn, which decides the body points its drawing maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Shirt, blouse, t-shirt, sweater, cardigan, jacket, coat: neck to hips, sleeves.
    Top,
    /// Shoulders to knees.
    Dress,
    /// Waist to knees.
    Skirt,
    /// Trousers and jeans: waist to ankles, two legs.
    Legs,
}

/// How `category` is worn, or `None` for what cannot be tried on (shoes, bags,
/// scarves, and categories the drawings do not know).
pub fn kind_of(category: &str) -> Option<Kind> {
    match category {
        "shirt" | "blouse" | "t-shirt" | "sweater" | "cardigan" | "jacket" | "coat" => {
            Some(Kind::Top)
        }
        "dress" => Some(Kind::Dress),
        "skirt" => Some(Kind::Skirt),
        "jeans" | "trousers" => Some(Kind::Legs),
        _ => None,
    }
}

/// A garment picture ready to warp.
pub struct GarmentPicture {
    /// Premultiplied RGBA, 8 bits a channel (OpenCV `CV_8UC4`), so interpolation at its
    /// edges does not bleed the transparent background's colour in.
    pub pixels: Mat,
    /// Pixels per template unit.
    pub scale: f32,
    /// Where the template's origin lies in the picture, in pixels.
    pub offset: (f32, f32),
}

impl GarmentPicture {
    /// Template coordinates to this picture's pixels.
    pub fn to_pixels(&self, x: f32, y: f32) -> (f32, f32) {
        (
            x * self.scale + self.offset.0,
            y * self.scale + self.offset.1,
        )
    }
}

/// Template units of the shoulders' half width, used to draw the garment at the
/// resolution her body needs.
pub const TEMPLATE_SHOULDER_HALF: f32 = 62.0;

/// The product drawn by the catalogue's own templates at `scale` pixels per template
/// unit (sharper than enlarging the 256 × 320 catalogue image).
pub fn product_picture(product: &Product, scale: f32) -> Result<GarmentPicture, TryonError> {
    let art = garment_art::render_product_rgba(product, scale);
    // The renderer clamps the scale; read back the one it used.
    let used = art.height as f32 / garment_art::IMAGE_HEIGHT as f32;
    Ok(GarmentPicture {
        pixels: premultiplied(art.width, art.height, art.pixels)?,
        scale: used,
        offset: (0.0, 0.0),
    })
}

/// A garment picture sent by the caller (or fetched), laid out like the catalogue's:
/// its opaque part is matched to the template of `category` by their bounding boxes.
pub fn picture(image: RgbaImage, category: &str) -> Result<GarmentPicture, TryonError> {
    let (width, height) = image.dimensions();
    let bounds = alpha_bounds(width, height, image.as_raw()).ok_or_else(|| {
        TryonError::UnusableGarment("it has no opaque pixels (a PNG with alpha is needed)".into())
    })?;
    if bounds.2 - bounds.0 == width as f32 && bounds.3 - bounds.1 == height as f32 {
        let corner = image.get_pixel(0, 0).0;
        if corner[3] == 255 {
            return Err(TryonError::UnusableGarment(
                "it has no transparent background to cut the garment out by".into(),
            ));
        }
    }
    let reference = template_bounds(category);
    let scale = (bounds.3 - bounds.1) / (reference.3 - reference.1);
    let offset = (
        (bounds.0 + bounds.2) / 2.0 - (reference.0 + reference.2) / 2.0 * scale,
        bounds.1 - reference.1 * scale,
    );
    Ok(GarmentPicture {
        pixels: premultiplied(width, height, image.into_raw())?,
        scale,
        offset,
    })
}

/// The opaque part of the category's template, in template units (left, top, right,
/// bottom).
fn template_bounds(category: &str) -> (f32, f32, f32, f32) {
    let art = garment_art::render_garment_rgba(
        &garment_art::GarmentSpec {
            category: category.to_owned(),
            colours: vec!["grey".into()],
            ..garment_art::GarmentSpec::default()
        },
        garment_art::IMAGE_WIDTH,
        garment_art::IMAGE_HEIGHT,
    );
    alpha_bounds(art.width, art.height, &art.pixels).unwrap_or((
        0.0,
        0.0,
        garment_art::IMAGE_WIDTH as f32,
        garment_art::IMAGE_HEIGHT as f32,
    ))
}

/// Bounding box (left, top, right, bottom) of pixels with alpha above a half.
fn alpha_bounds(width: u32, height: u32, rgba: &[u8]) -> Option<(f32, f32, f32, f32)> {
    let (mut left, mut top, mut right, mut bottom) = (u32::MAX, u32::MAX, 0, 0);
    for (i, px) in rgba.chunks_exact(4).enumerate() {
        if px[3] >= 128 {
            let (x, y) = (i as u32 % width, i as u32 / width);
            left = left.min(x);
            right = right.max(x + 1);
            top = top.min(y);
            bottom = bottom.max(y + 1);
        }
    }
    (left < right && top < bottom && height > 0).then_some((
        left as f32,
        top as f32,
        right as f32,
        bottom as f32,
    ))
}

/// Straight RGBA bytes into a premultiplied `CV_8UC4` matrix.
fn premultiplied(width: u32, height: u32, mut rgba: Vec<u8>) -> Result<Mat, TryonError> {
    for px in rgba.chunks_exact_mut(4) {
        let a = u16::from(px[3]);
        for c in &mut px[..3] {
            *c = ((u16::from(*c) * a + 127) / 255) as u8;
        }
    }
    let rows = i32::try_from(height).map_err(|e| TryonError::Internal(e.to_string()))?;
    let flat = Mat::from_slice(&rgba)?;
    let shaped = flat.reshape(4, rows)?;
    debug_assert_eq!(shaped.cols() as u32, width);
    Ok(shaped.try_clone()?)
}

/// Pairs of (template point, body point) for a garment of `kind` on `body`.
pub fn correspondences(kind: Kind, body: &Body) -> Vec<([f64; 2], [f64; 2])> {
    let (u, fh) = (body.u(), body.fh());
    let s = body.shoulder_half;
    let hh = body.hip_half;
    let cx = |y: f32| body.centre_at(y);
    let mut pairs: Vec<([f32; 2], [f32; 2])> = Vec::new();
    let mut both = |tx: f32, ty: f32, bx_left: f32, by: f32| {
        // A template point left of the centre line and its mirror image on the right.
        let centre = cx(by);
        pairs.push(([tx, ty], [centre - bx_left, by]));
        pairs.push(([256.0 - tx, ty], [centre + bx_left, by]));
    };
    match kind {
        Kind::Top => {
            // Torso: neck, shoulders, armpits, hips, and below the hip for long coats.
            let torso_scale = (body.hip_y - body.shoulder_y) / 234.0;
            both(104.0, 42.0, body.neck_half, body.neck_y);
            both(64.0, 56.0, s, body.shoulder_y);
            both(78.0, 132.0, 0.84 * s, body.armpit_y);
            both(
                77.0,
                210.0,
                0.5 * (0.84 * s + hh),
                (body.armpit_y + body.hip_y) / 2.0,
            );
            both(76.0, 290.0, hh, body.hip_y);
            both(72.0, 320.0, hh, body.hip_y + 30.0 * torso_scale);
            // Sleeves hang from the shoulders along her sides, wrists beside the hips.
            let wrist_y = body.shoulder_y + 2.9 * fh;
            let wrist = hh + 0.22 * u;
            let elbow_y = body.shoulder_y + 1.6 * fh;
            both(28.0, 240.0, wrist + 0.19 * u, wrist_y);
            both(56.0, 247.0, wrist - 0.19 * u, wrist_y + 0.05 * fh);
            both(46.0, 148.0, s + 0.05 * u, elbow_y);
            pairs.push(([128.0, 44.0], [cx(body.neck_y), body.neck_y]));
            pairs.push((
                [128.0, 170.0],
                [cx(body.armpit_y + 0.6 * fh), body.armpit_y + 0.6 * fh],
            ));
            pairs.push(([128.0, 290.0], [cx(body.hip_y), body.hip_y]));
        }
        Kind::Dress => {
            both(98.0, 36.0, 0.55 * s, body.shoulder_y - 0.08 * fh);
            both(84.0, 74.0, 0.8 * s, body.armpit_y - 0.1 * fh);
            both(92.0, 142.0, 0.72 * hh, body.waist_y);
            both(70.0, 220.0, 1.1 * hh, (body.hip_y + body.knee_y) / 2.0);
            both(42.0, 298.0, 1.5 * hh, body.knee_y);
            pairs.push(([128.0, 60.0], [cx(body.neck_y), body.neck_y + 0.35 * fh]));
            pairs.push(([128.0, 146.0], [cx(body.waist_y), body.waist_y]));
            pairs.push(([128.0, 310.0], [cx(body.knee_y), body.knee_y + 0.15 * fh]));
        }
        Kind::Skirt => {
            both(88.0, 56.0, 0.8 * hh, body.waist_y);
            both(86.0, 76.0, 0.86 * hh, body.waist_y + 0.3 * fh);
            both(66.0, 170.0, 1.15 * hh, (body.hip_y + body.knee_y) / 2.0);
            both(48.0, 262.0, 1.4 * hh, body.knee_y - 0.2 * fh);
            pairs.push(([128.0, 56.0], [cx(body.waist_y), body.waist_y]));
            pairs.push(([128.0, 272.0], [cx(body.knee_y), body.knee_y - 0.1 * fh]));
        }
        Kind::Legs => {
            let waist_y = (body.waist_y + body.hip_y) / 2.0;
            let crotch_y = body.hip_y + 0.55 * fh;
            both(72.0, 30.0, 0.95 * hh, waist_y);
            both(66.0, 124.0, hh, crotch_y);
            both(63.0, 215.0, 0.9 * hh, (crotch_y + body.ankle_y) / 2.0);
            both(60.0, 306.0, 0.85 * hh, body.ankle_y);
            both(116.0, 306.0, 0.18 * u, body.ankle_y);
            pairs.push(([128.0, 30.0], [cx(waist_y), waist_y]));
            pairs.push(([128.0, 124.0], [cx(crotch_y), crotch_y]));
        }
    }
    pairs
        .into_iter()
        .map(|(t, b)| {
            (
                [f64::from(t[0]), f64::from(t[1])],
                [f64::from(b[0]), f64::from(b[1])],
            )
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;
    use crate::body::FaceBox;

    #[test]
    fn only_worn_garments_have_a_kind() {
        for top in [
            "shirt", "blouse", "t-shirt", "sweater", "cardigan", "jacket", "coat",
        ] {
            assert_eq!(kind_of(top), Some(Kind::Top));
        }
        for other in ["shoes", "bag", "scarf", "hat"] {
            assert_eq!(kind_of(other), None);
        }
    }

    #[test]
    fn correspondences_keep_left_and_right_apart() {
        let body = Body::from_face(FaceBox {
            x: 100.0,
            y: 50.0,
            w: 80.0,
            h: 80.0,
        });
        for kind in [Kind::Top, Kind::Dress, Kind::Skirt, Kind::Legs] {
            for (t, b) in correspondences(kind, &body) {
                let left_in_template = t[0] < 128.0;
                let left_on_body = b[0] < f64::from(body.centre_at(b[1] as f32));
                if t[0] != 128.0 {
                    assert_eq!(left_in_template, left_on_body, "{kind:?} {t:?} -> {b:?}");
                }
            }
        }
    }

    #[test]
    fn a_picture_is_matched_to_its_template_by_its_outline() {
        // The generated shirt, drawn twice as large and centred on a wider canvas.
        let spec = garment_art::GarmentSpec {
            category: "shirt".into(),
            colours: vec!["pink".into()],
            ..garment_art::GarmentSpec::default()
        };
        let art = garment_art::render_garment_rgba(&spec, 712, 640);
        let image = RgbaImage::from_raw(art.width, art.height, art.pixels).unwrap();
        let picture = picture(image, "shirt").unwrap();
        assert!((picture.scale - 2.0).abs() < 0.02, "{}", picture.scale);
        let (x, y) = picture.to_pixels(128.0, 0.0);
        assert!((x - 356.0).abs() < 2.0 && y.abs() < 2.0, "{x} {y}");
    }
}
