//! Naming a garment's colour: the pixels are clustered in CIE L\*a\*b\* with k-means,
//! and the biggest cluster is named by its nearest entry of the retail palette under
//! CIEDE2000, so "the navy jumper" a customer asks for and the colour vision reports
//! are the same word.

use std::sync::OnceLock;

use opencv::core::{self, Mat, Rect, Size, TermCriteria, Vec3b, Vec3f};
use opencv::imgproc;
use opencv::prelude::*;
use protocol::vocabulary::PALETTE;

/// One colour name vision can report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetailColour {
    /// The word shown to customers ("navy", "coral").
    pub name: &'static str,
    /// Its sRGB value, the centre of the name in colour space.
    pub rgb: [u8; 3],
    /// Whether catalogue products can carry this name (`Product::colours`); the other
    /// names exist so that a coral garment is not called orange or pink.
    pub catalogue: bool,
}

/// Colours a camera sees on clothes that the catalogue has no word for. Each is at
/// least 11 CIEDE2000 units from every catalogue colour and from each other, so it
/// never takes pixels painted in a catalogue colour.
pub const VISION_ONLY_COLOURS: [RetailColour; 10] = [
    vision_only("coral", [248, 112, 96]),
    vision_only("rust", [160, 66, 26]),
    vision_only("mint", [162, 228, 184]),
    vision_only("turquoise", [48, 200, 196]),
    vision_only("magenta", [204, 40, 150]),
    vision_only("plum", [120, 56, 100]),
    vision_only("lime", [150, 210, 60]),
    vision_only("silver", [196, 198, 200]),
    vision_only("bottle green", [20, 70, 50]),
    vision_only("chocolate", [66, 38, 24]),
];

const fn vision_only(name: &'static str, rgb: [u8; 3]) -> RetailColour {
    RetailColour {
        name,
        rgb,
        catalogue: false,
    }
}

/// Every name [`dominant_colour`] can return: the catalogue palette
/// ([`protocol::vocabulary::PALETTE`], with the sRGB values product images are painted
/// in) followed by [`VISION_ONLY_COLOURS`].
pub const RETAIL_PALETTE: [RetailColour; PALETTE.len() + VISION_ONLY_COLOURS.len()] =
    retail_palette();

const fn retail_palette() -> [RetailColour; PALETTE.len() + VISION_ONLY_COLOURS.len()] {
    let mut out = [vision_only("", [0, 0, 0]); PALETTE.len() + VISION_ONLY_COLOURS.len()];
    let mut i = 0;
    while i < PALETTE.len() {
        out[i] = RetailColour {
            name: PALETTE[i].name,
            rgb: PALETTE[i].rgb,
            catalogue: true,
        };
        i += 1;
    }
    let mut j = 0;
    while j < VISION_ONLY_COLOURS.len() {
        out[PALETTE.len() + j] = VISION_ONLY_COLOURS[j];
        j += 1;
    }
    out
}

/// The colour that covers most of a garment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColourReading {
    /// Palette name ([`RETAIL_PALETTE`]).
    pub name: &'static str,
    /// Fraction (0..=1) of the sampled pixels whose cluster carries this name.
    pub share: f32,
    /// CIE L\*a\*b\* centre of the biggest cluster with this name (L\* 0..100).
    pub lab: [f32; 3],
}

/// Most pixels clustered per call: bounds the k-means work whatever the image size.
pub const MAX_SAMPLES: i32 = 4096;
/// Clusters: the base colour, an accent, seams/shadows and mixed edge pixels.
const CLUSTERS: i32 = 4;
/// Fixed RNG seed so that the same pixels always give the same answer.
const KMEANS_SEED: i32 = 0x5eed;

/// The dominant colour of `bgr` (8-bit BGR, BGRA or grey) inside `mask` (8-bit, non-zero
/// = garment, same size), or of the whole image without a mask; `None` when the mask is
/// empty.
///
/// Pixels are subsampled to at most [`MAX_SAMPLES`], converted to true L\*a\*b\*,
/// clustered with k-means (k-means++ seeding, fixed seed, so deterministic), each
/// cluster named by the nearest palette colour (CIEDE2000); the name with the largest
/// share wins, so a base colour split into two shades still counts as one.
pub fn dominant_colour(bgr: &Mat, mask: Option<&Mat>) -> opencv::Result<Option<ColourReading>> {
    let clusters = colour_clusters(bgr, mask)?;
    let mut by_name: Vec<(&'static str, f32, f32, [f32; 3])> = Vec::new();
    for cluster in &clusters {
        let name = nearest_colour(cluster.lab)?.name;
        match by_name.iter_mut().find(|(n, ..)| *n == name) {
            Some(entry) => {
                entry.1 += cluster.share;
                if cluster.share > entry.2 {
                    entry.2 = cluster.share;
                    entry.3 = cluster.lab;
                }
            }
            None => by_name.push((name, cluster.share, cluster.share, cluster.lab)),
        }
    }
    Ok(by_name
        .into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(name, share, _, lab)| ColourReading { name, share, lab }))
}

/// The palette colour nearest to a L\*a\*b\* value under CIEDE2000.
pub fn nearest_colour(lab: [f32; 3]) -> opencv::Result<RetailColour> {
    let labs = palette_lab()?;
    let mut best = (f32::INFINITY, RETAIL_PALETTE[0]);
    for (entry, centre) in RETAIL_PALETTE.iter().zip(labs) {
        let d = ciede2000(lab, *centre);
        if d < best.0 {
            best = (d, *entry);
        }
    }
    Ok(best.1)
}

/// One k-means cluster of a garment's pixels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cluster {
    /// Fraction of the samples in the cluster.
    pub share: f32,
    /// Cluster centre in L\*a\*b\*.
    pub lab: [f32; 3],
}

/// The k-means clusters of the (masked, subsampled) pixels, biggest first; empty when
/// the mask selects nothing.
pub(crate) fn colour_clusters(bgr: &Mat, mask: Option<&Mat>) -> opencv::Result<Vec<Cluster>> {
    let samples = lab_samples(bgr, mask, MAX_SAMPLES)?;
    if samples.is_empty() {
        return Ok(Vec::new());
    }
    let n = i32::try_from(samples.len()).unwrap_or(i32::MAX);
    let k = CLUSTERS.min(n);
    let data = Mat::from_slice(&samples)?;
    let mut labels = Mat::default();
    let mut centres = Mat::default();
    core::set_rng_seed(KMEANS_SEED)?;
    core::kmeans(
        &data,
        k,
        &mut labels,
        TermCriteria::new(core::TermCriteria_COUNT + core::TermCriteria_EPS, 30, 0.05)?,
        3,
        core::KMEANS_PP_CENTERS,
        &mut centres,
    )?;
    let mut counts = vec![0usize; usize::try_from(k).unwrap_or(0)];
    for label in labels.data_typed::<i32>()? {
        if let Some(count) = usize::try_from(*label).ok().and_then(|l| counts.get_mut(l)) {
            *count += 1;
        }
    }
    let total = samples.len() as f32;
    let mut clusters = Vec::with_capacity(counts.len());
    for (row, count) in (0..k).zip(&counts) {
        if *count == 0 {
            continue;
        }
        let lab = [
            *centres.at_2d::<f32>(row, 0)?,
            *centres.at_2d::<f32>(row, 1)?,
            *centres.at_2d::<f32>(row, 2)?,
        ];
        clusters.push(Cluster {
            share: *count as f32 / total,
            lab,
        });
    }
    clusters.sort_by(|a, b| b.share.total_cmp(&a.share));
    Ok(clusters)
}

/// Up to about `max` L\*a\*b\* pixels of `bgr` inside `mask`, taken on a regular grid
/// over the mask's bounding box.
pub(crate) fn lab_samples(bgr: &Mat, mask: Option<&Mat>, max: i32) -> opencv::Result<Vec<Vec3f>> {
    let bgr = to_bgr(bgr)?;
    let full = Rect::new(0, 0, bgr.cols(), bgr.rows());
    let (rect, count) = match mask {
        Some(mask) => {
            check_mask(&bgr, mask)?;
            let rect = imgproc::bounding_rect(mask)?;
            (rect, core::count_non_zero(mask)?)
        }
        None => (full, full.area()),
    };
    if rect.area() == 0 || count == 0 {
        return Ok(Vec::new());
    }
    // Grid step so that about `max` masked pixels remain.
    let step = (f64::from(count) / f64::from(max.max(1)))
        .sqrt()
        .ceil()
        .max(1.0);
    let size = Size::new(
        ((f64::from(rect.width) / step).round() as i32).max(1),
        ((f64::from(rect.height) / step).round() as i32).max(1),
    );
    let crop = Mat::roi(&bgr, rect)?;
    let mut small = Mat::default();
    imgproc::resize(&crop, &mut small, size, 0.0, 0.0, imgproc::INTER_NEAREST)?;
    let lab = bgr_to_lab(&small)?;
    let small_mask = match mask {
        Some(mask) => {
            let crop = Mat::roi(mask, rect)?;
            let mut out = Mat::default();
            imgproc::resize(&crop, &mut out, size, 0.0, 0.0, imgproc::INTER_NEAREST)?;
            Some(out)
        }
        None => None,
    };
    let pixels = lab.data_typed::<Vec3f>()?;
    let samples = match &small_mask {
        Some(m) => pixels
            .iter()
            .zip(m.data_typed::<u8>()?)
            .filter(|(_, m)| **m != 0)
            .map(|(p, _)| *p)
            .collect(),
        None => pixels.to_vec(),
    };
    Ok(samples)
}

/// 8-bit BGR, BGRA or grey as 8-bit BGR (a view-free copy only when converting).
pub(crate) fn to_bgr(image: &Mat) -> opencv::Result<Mat> {
    if image.depth() != core::CV_8U {
        return Err(opencv::Error::new(
            core::StsUnsupportedFormat,
            "garment images must be 8-bit".to_string(),
        ));
    }
    let code = match image.channels() {
        3 => return image.try_clone(),
        4 => imgproc::COLOR_BGRA2BGR,
        1 => imgproc::COLOR_GRAY2BGR,
        n => {
            return Err(opencv::Error::new(
                core::StsUnsupportedFormat,
                format!("garment images need 1, 3 or 4 channels, not {n}"),
            ));
        }
    };
    let mut out = Mat::default();
    imgproc::cvt_color(image, &mut out, code, 0)?;
    Ok(out)
}

/// A mask must be 8-bit, one channel, and the image's size.
pub(crate) fn check_mask(image: &Mat, mask: &Mat) -> opencv::Result<()> {
    if mask.typ() != core::CV_8UC1 || mask.size()? != image.size()? {
        return Err(opencv::Error::new(
            core::StsBadArg,
            format!(
                "mask must be 8-bit single-channel and {}x{}",
                image.cols(),
                image.rows()
            ),
        ));
    }
    Ok(())
}

/// 8-bit BGR to float L\*a\*b\* (L\* 0..100, a\* and b\* about -127..127): OpenCV only
/// gives true L\*a\*b\* for float input scaled to 0..1.
pub(crate) fn bgr_to_lab(bgr: &Mat) -> opencv::Result<Mat> {
    let mut float = Mat::default();
    bgr.convert_to(&mut float, core::CV_32F, 1.0 / 255.0, 0.0)?;
    let mut lab = Mat::default();
    imgproc::cvt_color(&float, &mut lab, imgproc::COLOR_BGR2Lab, 0)?;
    Ok(lab)
}

/// L\*a\*b\* of every [`RETAIL_PALETTE`] entry, computed once by the same OpenCV
/// conversion the pixels go through.
fn palette_lab() -> opencv::Result<&'static [[f32; 3]]> {
    static LAB: OnceLock<Vec<[f32; 3]>> = OnceLock::new();
    if let Some(lab) = LAB.get() {
        return Ok(lab);
    }
    let pixels: Vec<Vec3b> = RETAIL_PALETTE
        .iter()
        .map(|c| Vec3b::from([c.rgb[2], c.rgb[1], c.rgb[0]]))
        .collect();
    let bgr = Mat::from_slice(&pixels)?;
    let lab = bgr_to_lab(&bgr.try_clone()?)?;
    let values = lab
        .data_typed::<Vec3f>()?
        .iter()
        .map(|v| [v[0], v[1], v[2]])
        .collect();
    Ok(LAB.get_or_init(|| values))
}

/// Scalar for a BGR colour given as sRGB, for drawing.
#[cfg(test)]
pub(crate) fn bgr_scalar(rgb: [u8; 3]) -> opencv::core::Scalar {
    opencv::core::Scalar::new(
        f64::from(rgb[2]),
        f64::from(rgb[1]),
        f64::from(rgb[0]),
        255.0,
    )
}

/// CIEDE2000 colour difference (Sharma, Wu and Dalal's formulation), the perceptual
/// distance used to name colours; about 1 is a just-noticeable difference.
pub fn ciede2000(lab1: [f32; 3], lab2: [f32; 3]) -> f32 {
    use std::f64::consts::PI;
    let [l1, a1, b1] = lab1.map(f64::from);
    let [l2, a2, b2] = lab2.map(f64::from);
    let pow7 = |x: f64| x.powi(7);
    let c_bar = (a1.hypot(b1) + a2.hypot(b2)) / 2.0;
    let g = 0.5 * (1.0 - (pow7(c_bar) / (pow7(c_bar) + pow7(25.0))).sqrt());
    let (a1p, a2p) = ((1.0 + g) * a1, (1.0 + g) * a2);
    let (c1p, c2p) = (a1p.hypot(b1), a2p.hypot(b2));
    let hue = |b: f64, a: f64| {
        if a == 0.0 && b == 0.0 {
            0.0
        } else {
            b.atan2(a).rem_euclid(2.0 * PI)
        }
    };
    let (h1p, h2p) = (hue(b1, a1p), hue(b2, a2p));
    let dlp = l2 - l1;
    let dcp = c2p - c1p;
    let chroma_zero = c1p * c2p == 0.0;
    let dhp = if chroma_zero {
        0.0
    } else {
        let d = h2p - h1p;
        if d > PI {
            d - 2.0 * PI
        } else if d < -PI {
            d + 2.0 * PI
        } else {
            d
        }
    };
    let dhp_big = 2.0 * (c1p * c2p).sqrt() * (dhp / 2.0).sin();
    let lbp = (l1 + l2) / 2.0;
    let cbp = (c1p + c2p) / 2.0;
    let hbp = if chroma_zero {
        h1p + h2p
    } else if (h1p - h2p).abs() <= PI {
        (h1p + h2p) / 2.0
    } else if h1p + h2p < 2.0 * PI {
        (h1p + h2p + 2.0 * PI) / 2.0
    } else {
        (h1p + h2p - 2.0 * PI) / 2.0
    };
    let deg = |d: f64| d.to_radians();
    let t = 1.0 - 0.17 * (hbp - deg(30.0)).cos()
        + 0.24 * (2.0 * hbp).cos()
        + 0.32 * (3.0 * hbp + deg(6.0)).cos()
        - 0.20 * (4.0 * hbp - deg(63.0)).cos();
    let d_theta = deg(30.0) * (-((hbp.to_degrees() - 275.0) / 25.0).powi(2)).exp();
    let rc = 2.0 * (pow7(cbp) / (pow7(cbp) + pow7(25.0))).sqrt();
    let sl = 1.0 + 0.015 * (lbp - 50.0).powi(2) / (20.0 + (lbp - 50.0).powi(2)).sqrt();
    let sc = 1.0 + 0.045 * cbp;
    let sh = 1.0 + 0.015 * cbp * t;
    let rt = -(2.0 * d_theta).sin() * rc;
    let (x, y, z) = (dlp / sl, dcp / sc, dhp_big / sh);
    (x * x + y * y + z * z + rt * y * z).max(0.0).sqrt() as f32
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use opencv::core::{CV_8UC1, CV_8UC3, Point, Scalar};

    fn filled(rgb: [u8; 3]) -> Mat {
        Mat::new_rows_cols_with_default(120, 90, CV_8UC3, bgr_scalar(rgb)).unwrap()
    }

    #[test]
    fn palette_has_catalogue_colours_first_and_distinct_names() {
        assert!(RETAIL_PALETTE.len() >= 30);
        for (entry, catalogue) in RETAIL_PALETTE.iter().zip(PALETTE) {
            assert_eq!(entry.name, catalogue.name);
            assert_eq!(entry.rgb, catalogue.rgb);
            assert!(entry.catalogue);
        }
        let mut names: Vec<_> = RETAIL_PALETTE.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RETAIL_PALETTE.len());
    }

    #[test]
    fn vision_only_colours_keep_away_from_every_other_name() {
        let labs = palette_lab().unwrap();
        for (i, extra) in RETAIL_PALETTE.iter().enumerate().skip(PALETTE.len()) {
            for (j, other) in RETAIL_PALETTE.iter().enumerate() {
                if i != j {
                    let d = ciede2000(labs[i], labs[j]);
                    assert!(d > 10.0, "{} vs {}: {d}", extra.name, other.name);
                }
            }
        }
    }

    #[test]
    fn ciede2000_matches_published_pairs() {
        // Sharma, Wu, Dalal (2005), table 1, pairs 1, 7 and 17.
        let cases = [
            ([50.0, 2.6772, -79.7751], [50.0, 0.0, -82.7485], 2.0425),
            ([50.0, 0.0, 0.0], [50.0, -1.0, 2.0], 2.3669),
            ([50.0, 2.5, 0.0], [73.0, 25.0, -18.0], 27.1492),
        ];
        for (a, b, expected) in cases {
            let d = ciede2000(a, b);
            assert!((d - expected).abs() < 1e-3, "{d} vs {expected}");
            assert!((ciede2000(b, a) - expected).abs() < 1e-3);
        }
    }

    #[test]
    fn every_palette_colour_names_itself() {
        for entry in RETAIL_PALETTE {
            let reading = dominant_colour(&filled(entry.rgb), None).unwrap().unwrap();
            assert_eq!(reading.name, entry.name);
            assert!(reading.share > 0.99);
        }
    }

    #[test]
    fn biggest_colour_inside_the_mask_wins() {
        // Navy square with a red stripe (a third of it) on a yellow background.
        let mut image = filled([242, 212, 76]);
        let navy = bgr_scalar([30, 42, 78]);
        let red = bgr_scalar([196, 44, 46]);
        imgproc::rectangle(
            &mut image,
            Rect::new(15, 30, 60, 60),
            navy,
            -1,
            imgproc::LINE_8,
            0,
        )
        .unwrap();
        imgproc::rectangle(
            &mut image,
            Rect::new(15, 30, 60, 20),
            red,
            -1,
            imgproc::LINE_8,
            0,
        )
        .unwrap();
        let mut mask = Mat::new_rows_cols_with_default(120, 90, CV_8UC1, Scalar::all(0.0)).unwrap();
        imgproc::rectangle(
            &mut mask,
            Rect::new(15, 30, 60, 60),
            Scalar::all(255.0),
            -1,
            imgproc::LINE_8,
            0,
        )
        .unwrap();
        let reading = dominant_colour(&image, Some(&mask)).unwrap().unwrap();
        assert_eq!(reading.name, "navy");
        assert!(
            (reading.share - 2.0 / 3.0).abs() < 0.05,
            "{}",
            reading.share
        );
        // Without the mask the background is the biggest.
        assert_eq!(
            dominant_colour(&image, None).unwrap().unwrap().name,
            "yellow"
        );
        // Deterministic.
        assert_eq!(
            dominant_colour(&image, Some(&mask)).unwrap().unwrap(),
            reading
        );
    }

    #[test]
    fn large_images_are_subsampled_and_grey_input_works() {
        let mut image =
            Mat::new_rows_cols_with_default(1080, 1920, CV_8UC1, Scalar::all(150.0)).unwrap();
        imgproc::circle(
            &mut image,
            Point::new(100, 100),
            40,
            Scalar::all(0.0),
            -1,
            imgproc::LINE_8,
            0,
        )
        .unwrap();
        let samples = lab_samples(&image, None, MAX_SAMPLES).unwrap();
        assert!(samples.len() <= 4200, "{}", samples.len());
        assert_eq!(dominant_colour(&image, None).unwrap().unwrap().name, "grey");
    }

    #[test]
    fn empty_mask_reads_nothing_and_bad_mask_is_an_error() {
        let image = filled([30, 42, 78]);
        let empty = Mat::new_rows_cols_with_default(120, 90, CV_8UC1, Scalar::all(0.0)).unwrap();
        assert!(dominant_colour(&image, Some(&empty)).unwrap().is_none());
        let wrong = Mat::new_rows_cols_with_default(10, 10, CV_8UC1, Scalar::all(255.0)).unwrap();
        assert!(dominant_colour(&image, Some(&wrong)).is_err());
    }
}
