//! Telling a garment's pattern (solid, striped, checked, printed) from texture
//! statistics: how much of the fabric is colour edges, and how those edges are
//! oriented. Stripes have one dominant edge orientation, checks two orthogonal ones,
//! prints (dots, flowers) none, and plain fabric few edges at all.

use opencv::core::{self, Mat, Point, Scalar, Size, Vector};
use opencv::imgproc;
use opencv::prelude::*;

use super::colour::{bgr_to_lab, check_mask, to_bgr};

/// A garment's pattern, in the catalogue's words (`Product::pattern`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pattern {
    /// One plain colour (the catalogue's default when a product has no pattern).
    Solid,
    /// Parallel bands in one direction.
    Striped,
    /// Bands crossing at right angles (gingham, tartan, windowpane).
    Checked,
    /// Anything else repeated on the fabric: dots, flowers, prints.
    Printed,
}

impl Pattern {
    /// Every pattern, in the catalogue's order.
    pub const ALL: [Pattern; 4] = [
        Pattern::Solid,
        Pattern::Striped,
        Pattern::Checked,
        Pattern::Printed,
    ];

    /// The catalogue's word for the pattern (`Product::pattern`).
    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::Solid => "solid",
            Pattern::Striped => "striped",
            Pattern::Checked => "checked",
            Pattern::Printed => "printed",
        }
    }

    /// The pattern a catalogue word names; `None` (no pattern given) reads as solid.
    pub fn from_catalogue(word: Option<&str>) -> Option<Pattern> {
        match word.unwrap_or("solid") {
            "solid" | "plain" => Some(Pattern::Solid),
            "striped" => Some(Pattern::Striped),
            "checked" => Some(Pattern::Checked),
            "printed" => Some(Pattern::Printed),
            _ => None,
        }
    }
}

/// The texture statistics a pattern is decided from, public so that a caller can log
/// why a garment was called what it was.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextureStats {
    /// Fraction (0..=1) of the fabric (the mask shrunk away from its outline) that lies
    /// on a colour edge.
    pub edge_density: f32,
    /// Fraction of edge pixels within ±15° of the dominant edge orientation.
    pub dominant: f32,
    /// Fraction within ±15° of the orientation at right angles to the dominant one.
    pub orthogonal: f32,
    /// Fraction within ±15° of the two diagonals between them.
    pub diagonal: f32,
}

/// Fabric side, in pixels, the crop is scaled to (square root of the masked area), so
/// that densities do not depend on how big the garment is in the frame.
const WORK_SIDE: f64 = 180.0;
/// Strength of a colour edge: Sobel response of a step of about 6 CIELAB units.
const EDGE_STRENGTH: f64 = 24.0;
/// Edge density below which fabric is plain: on the catalogue's images, seams, pockets
/// and buttons of plain garments stay under 0.2, patterns start near 0.3.
const SOLID_DENSITY: f32 = 0.24;
/// Orientation bins over 180° (5° each).
const BINS: usize = 36;

/// The garment's pattern, from [`texture_stats`].
pub fn classify_pattern(bgr: &Mat, mask: Option<&Mat>) -> opencv::Result<Pattern> {
    Ok(texture_stats(bgr, mask)?.map_or(Pattern::Solid, |stats| stats.pattern()))
}

impl TextureStats {
    /// The pattern these statistics describe.
    pub fn pattern(&self) -> Pattern {
        let axes = self.dominant + self.orthogonal;
        if self.edge_density < SOLID_DENSITY {
            Pattern::Solid
        } else if self.dominant >= 0.55 && self.orthogonal < 0.4 * self.dominant {
            Pattern::Striped
        } else if axes >= 0.55 && self.diagonal < 0.5 * axes {
            Pattern::Checked
        } else {
            Pattern::Printed
        }
    }
}

/// Texture statistics of `bgr` (8-bit BGR, BGRA or grey) inside `mask` (8-bit, non-zero =
/// garment), or of the whole image; `None` when too little fabric is left to judge.
///
/// Colour edges are found with Sobel derivatives of every L\*a\*b\* channel combined
/// into one structure tensor per pixel (so a red-on-green stripe of equal lightness
/// still counts), and their orientations histogrammed.
pub fn texture_stats(bgr: &Mat, mask: Option<&Mat>) -> opencv::Result<Option<TextureStats>> {
    let bgr = to_bgr(bgr)?;
    let full_mask;
    let mask = match mask {
        Some(mask) => {
            check_mask(&bgr, mask)?;
            mask
        }
        None => {
            full_mask = Mat::new_rows_cols_with_default(
                bgr.rows(),
                bgr.cols(),
                core::CV_8UC1,
                Scalar::all(255.0),
            )?;
            &full_mask
        }
    };
    let rect = imgproc::bounding_rect(mask)?;
    let count = core::count_non_zero(mask)?;
    if rect.area() == 0 || count < 64 {
        return Ok(None);
    }
    // Scale the fabric to a fixed working size.
    let scale = WORK_SIDE / f64::from(count).sqrt();
    let size = Size::new(
        ((f64::from(rect.width) * scale).round() as i32).max(8),
        ((f64::from(rect.height) * scale).round() as i32).max(8),
    );
    let interpolation = if scale < 1.0 {
        imgproc::INTER_AREA
    } else {
        imgproc::INTER_LINEAR
    };
    let mut image = Mat::default();
    imgproc::resize(
        &Mat::roi(&bgr, rect)?,
        &mut image,
        size,
        0.0,
        0.0,
        interpolation,
    )?;
    let mut fabric = Mat::default();
    imgproc::resize(
        &Mat::roi(mask, rect)?,
        &mut fabric,
        size,
        0.0,
        0.0,
        imgproc::INTER_NEAREST,
    )?;
    // Keep away from the outline: the silhouette and its stroke are not the fabric.
    let kernel = imgproc::get_structuring_element(
        imgproc::MORPH_ELLIPSE,
        Size::new(11, 11),
        Point::new(-1, -1),
    )?;
    let mut inner = Mat::default();
    imgproc::erode(
        &fabric,
        &mut inner,
        &kernel,
        Point::new(-1, -1),
        1,
        core::BORDER_CONSTANT,
        Scalar::all(0.0),
    )?;
    let area = core::count_non_zero(&inner)?;
    if area < 64 {
        return Ok(None);
    }

    let lab = bgr_to_lab(&image)?;
    let mut smooth = Mat::default();
    imgproc::gaussian_blur(
        &lab,
        &mut smooth,
        Size::new(3, 3),
        0.0,
        0.0,
        core::BORDER_REPLICATE,
    )?;
    let mut gx = Mat::default();
    let mut gy = Mat::default();
    imgproc::sobel(
        &smooth,
        &mut gx,
        core::CV_32F,
        1,
        0,
        3,
        1.0,
        0.0,
        core::BORDER_REPLICATE,
    )?;
    imgproc::sobel(
        &smooth,
        &mut gy,
        core::CV_32F,
        0,
        1,
        3,
        1.0,
        0.0,
        core::BORDER_REPLICATE,
    )?;
    // Di Zenzo structure tensor summed over the three channels.
    let jxx = channel_sum(&product(&gx, &gx)?)?;
    let jyy = channel_sum(&product(&gy, &gy)?)?;
    let jxy = channel_sum(&product(&gx, &gy)?)?;
    let mut diff = Mat::default();
    core::subtract(&jxx, &jyy, &mut diff, &core::no_array(), -1)?;
    let mut twice_xy = Mat::default();
    jxy.convert_to(&mut twice_xy, core::CV_32F, 2.0, 0.0)?;
    let mut root = Mat::default();
    core::magnitude(&diff, &twice_xy, &mut root)?;
    // Largest eigenvalue: (Jxx + Jyy + root) / 2; edge strength is its square root.
    let mut trace = Mat::default();
    core::add(&jxx, &jyy, &mut trace, &core::no_array(), -1)?;
    let mut lambda = Mat::default();
    core::add_weighted(&trace, 0.5, &root, 0.5, 0.0, &mut lambda, -1)?;
    let mut strong = Mat::default();
    imgproc::threshold(
        &lambda,
        &mut strong,
        EDGE_STRENGTH * EDGE_STRENGTH,
        255.0,
        imgproc::THRESH_BINARY,
    )?;
    let mut strong8 = Mat::default();
    strong.convert_to(&mut strong8, core::CV_8U, 1.0, 0.0)?;
    let mut edges = Mat::default();
    core::bitwise_and(&strong8, &inner, &mut edges, &core::no_array())?;
    let edge_count = core::count_non_zero(&edges)?;
    let edge_density = edge_count as f32 / area as f32;
    if edge_count == 0 {
        return Ok(Some(TextureStats {
            edge_density,
            dominant: 0.0,
            orthogonal: 0.0,
            diagonal: 0.0,
        }));
    }
    // Doubled orientation angle (0..360) of the dominant eigenvector, histogrammed over
    // the edge pixels.
    let mut doubled = Mat::default();
    core::phase(&diff, &twice_xy, &mut doubled, true)?;
    let mut hist = Mat::default();
    imgproc::calc_hist(
        &Vector::<Mat>::from_iter([doubled]),
        &Vector::from_slice(&[0]),
        &edges,
        &mut hist,
        &Vector::from_slice(&[i32::try_from(BINS).unwrap_or(36)]),
        &Vector::from_slice(&[0.0_f32, 360.0]),
        false,
    )?;
    let bins: Vec<f32> = hist.data_typed::<f32>()?.to_vec();
    let total: f32 = bins.iter().sum();
    let window = |centre: usize| -> f32 {
        (0..=6)
            .map(|k| bins[(centre + BINS - 3 + k) % BINS])
            .sum::<f32>()
            / total.max(1.0)
    };
    let peak = (0..BINS)
        .max_by(|a, b| window(*a).total_cmp(&window(*b)))
        .unwrap_or(0);
    Ok(Some(TextureStats {
        edge_density,
        dominant: window(peak),
        orthogonal: window((peak + BINS / 2) % BINS),
        diagonal: window((peak + BINS / 4) % BINS) + window((peak + 3 * BINS / 4) % BINS),
    }))
}

/// Element-wise product of two same-shaped float matrices.
fn product(a: &Mat, b: &Mat) -> opencv::Result<Mat> {
    let mut out = Mat::default();
    core::multiply(a, b, &mut out, 1.0, -1)?;
    Ok(out)
}

/// Sum of a multi-channel float matrix's channels, as one channel.
fn channel_sum(m: &Mat) -> opencv::Result<Mat> {
    let weights = Mat::new_rows_cols_with_default(1, m.channels(), core::CV_32F, Scalar::all(1.0))?;
    let mut out = Mat::default();
    core::transform(m, &mut out, &weights)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use crate::garments::colour::bgr_scalar;
    use opencv::core::{CV_8UC1, CV_8UC3, Rect};

    const NAVY: [u8; 3] = [30, 42, 78];
    const IVORY: [u8; 3] = [236, 226, 204];

    fn canvas(rgb: [u8; 3]) -> Mat {
        Mat::new_rows_cols_with_default(320, 256, CV_8UC3, bgr_scalar(rgb)).unwrap()
    }

    fn bar(image: &mut Mat, rect: Rect, rgb: [u8; 3]) {
        imgproc::rectangle(image, rect, bgr_scalar(rgb), -1, imgproc::LINE_AA, 0).unwrap();
    }

    fn rotated(image: &Mat, degrees: f64) -> Mat {
        let centre = core::Point2f::new(128.0, 160.0);
        let m = imgproc::get_rotation_matrix_2d(centre, degrees, 1.0).unwrap();
        let mut out = Mat::default();
        imgproc::warp_affine(
            image,
            &mut out,
            &m,
            image.size().unwrap(),
            imgproc::INTER_LINEAR,
            core::BORDER_REFLECT,
            Scalar::default(),
        )
        .unwrap();
        out
    }

    fn garment_mask() -> Mat {
        let mut mask =
            Mat::new_rows_cols_with_default(320, 256, CV_8UC1, Scalar::all(0.0)).unwrap();
        imgproc::ellipse(
            &mut mask,
            Point::new(128, 160),
            Size::new(100, 140),
            0.0,
            0.0,
            360.0,
            Scalar::all(255.0),
            -1,
            imgproc::LINE_8,
            0,
        )
        .unwrap();
        mask
    }

    fn striped() -> Mat {
        let mut image = canvas(IVORY);
        for y in (0..320).step_by(18) {
            bar(&mut image, Rect::new(0, y, 256, 6), NAVY);
        }
        image
    }

    fn checked() -> Mat {
        let mut image = canvas(IVORY);
        for k in (0..320).step_by(24) {
            bar(&mut image, Rect::new(k, 0, 6, 320), NAVY);
            bar(&mut image, Rect::new(0, k, 256, 6), NAVY);
        }
        image
    }

    fn dotted() -> Mat {
        let mut image = canvas(NAVY);
        for y in (0..320).step_by(22) {
            for x in (0..256).step_by(22) {
                let shift = if (y / 22) % 2 == 0 { 0 } else { 11 };
                imgproc::circle(
                    &mut image,
                    Point::new(x + shift, y),
                    4,
                    bgr_scalar(IVORY),
                    -1,
                    imgproc::LINE_AA,
                    0,
                )
                .unwrap();
            }
        }
        image
    }

    #[test]
    fn catalogue_words() {
        for pattern in Pattern::ALL {
            assert_eq!(
                Pattern::from_catalogue(Some(pattern.as_str())),
                Some(pattern)
            );
        }
        assert_eq!(Pattern::from_catalogue(None), Some(Pattern::Solid));
        assert_eq!(Pattern::from_catalogue(Some("paisley-ish")), None);
    }

    #[test]
    fn plain_fabric_with_a_seam_is_solid() {
        let mut image = canvas(NAVY);
        imgproc::line(
            &mut image,
            Point::new(128, 0),
            Point::new(128, 320),
            bgr_scalar([18, 24, 45]),
            2,
            imgproc::LINE_AA,
            0,
        )
        .unwrap();
        let mask = garment_mask();
        assert_eq!(
            classify_pattern(&image, Some(&mask)).unwrap(),
            Pattern::Solid
        );
        assert_eq!(classify_pattern(&image, None).unwrap(), Pattern::Solid);
    }

    #[test]
    fn stripes_in_any_direction_are_striped() {
        let mask = garment_mask();
        for angle in [0.0, 90.0, 10.0, -35.0] {
            let image = rotated(&striped(), angle);
            let stats = texture_stats(&image, Some(&mask)).unwrap().unwrap();
            assert_eq!(stats.pattern(), Pattern::Striped, "{angle}°: {stats:?}");
        }
    }

    #[test]
    fn crossing_bands_are_checked() {
        let mask = garment_mask();
        for angle in [0.0, 8.0, 45.0] {
            let image = rotated(&checked(), angle);
            let stats = texture_stats(&image, Some(&mask)).unwrap().unwrap();
            assert_eq!(stats.pattern(), Pattern::Checked, "{angle}°: {stats:?}");
        }
    }

    #[test]
    fn dots_are_printed() {
        let mask = garment_mask();
        let stats = texture_stats(&dotted(), Some(&mask)).unwrap().unwrap();
        assert_eq!(stats.pattern(), Pattern::Printed, "{stats:?}");
    }

    #[test]
    fn tiny_mask_is_solid_without_statistics() {
        let mut mask =
            Mat::new_rows_cols_with_default(320, 256, CV_8UC1, Scalar::all(0.0)).unwrap();
        bar(&mut mask, Rect::new(10, 10, 4, 4), [255, 255, 255]);
        assert!(texture_stats(&striped(), Some(&mask)).unwrap().is_none());
        assert_eq!(
            classify_pattern(&striped(), Some(&mask)).unwrap(),
            Pattern::Solid
        );
    }
}
