//! Finding which catalogue product a customer holds up: every product image is
//! indexed by a colour histogram and ORB features; a camera frame is compared with
//! every histogram, the best-fitting products are verified by ORB feature matches and
//! a RANSAC homography (which also says where the product is in the frame), and the
//! colours inside that region decide between products cut from the same template.

use std::sync::OnceLock;

use opencv::core::{self, DMatch, KeyPoint, Mat, Point2f, Rect, Scalar, Size, Vec3f, Vector};
use opencv::prelude::*;
use opencv::{calib3d, features2d, imgcodecs, imgproc};

use super::colour::{RETAIL_PALETTE, bgr_to_lab, check_mask, to_bgr};

/// One product the frame may show.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogueMatch {
    /// The product's SKU, as given to [`CatalogueIndex::add_product`].
    pub sku: String,
    /// Confidence, 0..=1: colour agreement and feature evidence combined.
    pub score: f32,
    /// Where the product is in the query image, when its features were found and a
    /// homography fitted (the product's outline projected into the frame).
    pub region: Option<Rect>,
}

/// Colours and ORB features of every catalogue product, built once from the
/// catalogue's own product images and queried with camera frames.
#[derive(Debug, Default)]
pub struct CatalogueIndex {
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    sku: String,
    category: String,
    /// Share of the product's pixels nearest to each [`RETAIL_PALETTE`] colour.
    colours: Vec<f32>,
    /// ORB keypoint positions in the product image.
    points: Vec<Point2f>,
    /// ORB descriptors, one row per point.
    descriptors: Mat,
    /// Garment (alpha) mask of the product image.
    mask: Mat,
    /// Bounding box of the garment in the product image.
    bounds: Rect,
}

/// ORB features kept per product image.
const PRODUCT_FEATURES: i32 = 500;
/// ORB features kept per query frame.
const QUERY_FEATURES: i32 = 2000;
/// Products verified with features per query, the best by colour.
const SHORTLIST: usize = 30;
/// Lowe's ratio test: best match must be this much closer than the second.
const RATIO: f32 = 0.8;
/// Fewest ratio-test matches worth fitting a homography to.
const MIN_MATCHES: usize = 8;
/// Fewest RANSAC inliers that count as the product being found.
const MIN_INLIERS: i32 = 8;
/// Inliers at which the feature evidence counts in full.
const FULL_INLIERS: f32 = 40.0;
/// Border added around images before ORB, which ignores a margin of this width.
const ORB_BORDER: i32 = 32;
/// Smallest share of the frame a product is expected to cover, for the colour
/// shortlist: a product colour counts as present when the frame has this fraction of
/// the product's share of it.
const MIN_COVER: f32 = 0.05;

impl CatalogueIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Products indexed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no product is indexed yet.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The category a product was added with, so a caller can name what it found.
    pub fn category(&self, sku: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.sku == sku)
            .map(|e| e.category.as_str())
    }

    /// Index one product from its catalogue image: PNG bytes, RGBA with a transparent
    /// background (the alpha channel is the garment mask). An image without alpha is
    /// indexed whole.
    pub fn add_product(
        &mut self,
        sku: &str,
        category: &str,
        rgba_png: &[u8],
    ) -> opencv::Result<()> {
        let bytes = Vector::<u8>::from_slice(rgba_png);
        let decoded = imgcodecs::imdecode(&bytes, imgcodecs::IMREAD_UNCHANGED)?;
        if decoded.empty() {
            return Err(opencv::Error::new(
                core::StsBadArg,
                format!("product image of {sku} is not a decodable image"),
            ));
        }
        let bgr = to_bgr(&decoded)?;
        let mask = if decoded.channels() == 4 {
            let mut alpha = Mat::default();
            core::extract_channel(&decoded, &mut alpha, 3)?;
            let mut mask = Mat::default();
            imgproc::threshold(&alpha, &mut mask, 127.0, 255.0, imgproc::THRESH_BINARY)?;
            mask
        } else {
            Mat::new_rows_cols_with_default(
                bgr.rows(),
                bgr.cols(),
                core::CV_8UC1,
                Scalar::all(255.0),
            )?
        };
        let bounds = imgproc::bounding_rect(&mask)?;
        if bounds.area() == 0 {
            return Err(opencv::Error::new(
                core::StsBadArg,
                format!("product image of {sku} is fully transparent"),
            ));
        }
        let colours = colour_histogram(&palette_index(&bgr)?, Some(&mask))?;
        // Features on a neutral grey background, so the silhouette reads the same
        // against most backgrounds.
        let mut on_grey = Mat::new_rows_cols_with_default(
            bgr.rows(),
            bgr.cols(),
            core::CV_8UC3,
            Scalar::all(128.0),
        )?;
        bgr.copy_to_masked(&mut on_grey, &mask)?;
        let mut feature_mask = Mat::default();
        let kernel = imgproc::get_structuring_element(
            imgproc::MORPH_ELLIPSE,
            Size::new(9, 9),
            core::Point::new(-1, -1),
        )?;
        imgproc::dilate(
            &mask,
            &mut feature_mask,
            &kernel,
            core::Point::new(-1, -1),
            1,
            core::BORDER_CONSTANT,
            Scalar::all(0.0),
        )?;
        let (points, descriptors) = orb_features(&on_grey, Some(&feature_mask), PRODUCT_FEATURES)?;
        self.entries.push(Entry {
            sku: sku.to_string(),
            category: category.to_string(),
            colours,
            points,
            descriptors,
            mask,
            bounds,
        });
        Ok(())
    }

    /// The `k` products that best explain `bgr` (8-bit BGR, BGRA or grey; a whole frame
    /// or a crop) inside `mask` (8-bit, non-zero = where to look, same size), best
    /// first.
    ///
    /// Every product's colour histogram is compared with the frame's (a product whose
    /// colours are missing from the frame cannot be in it); the best [`SHORTLIST`] are
    /// matched by ORB features (ratio test, RANSAC homography), and where a homography
    /// is found the colours inside the projected outline are compared again, which
    /// separates products drawn from the same template in different colours. Query
    /// cost is bounded by the shortlist, not by the catalogue size.
    pub fn best_matches(
        &self,
        bgr: &Mat,
        mask: Option<&Mat>,
        k: usize,
    ) -> opencv::Result<Vec<CatalogueMatch>> {
        if k == 0 || self.entries.is_empty() {
            return Ok(Vec::new());
        }
        let bgr = to_bgr(bgr)?;
        if let Some(mask) = mask {
            check_mask(&bgr, mask)?;
        }
        let names = palette_index(&bgr)?;
        let frame = colour_histogram(&names, mask)?;
        let mut shortlist: Vec<(usize, f32)> = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (i, containment(&e.colours, &frame)))
            .collect();
        shortlist.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        shortlist.truncate(SHORTLIST);

        let (points, descriptors) = orb_features(&bgr, mask, QUERY_FEATURES)?;
        let matcher = features2d::BFMatcher::create(core::NORM_HAMMING, false)?;
        let mut scored = Vec::with_capacity(shortlist.len());
        for (index, cover) in shortlist {
            let entry = &self.entries[index];
            let found = verify(entry, &matcher, &points, &descriptors, &names, bgr.size()?)?;
            let (score, region) = match found {
                Some(found) => {
                    let feature = (found.inliers as f32 / FULL_INLIERS).min(1.0);
                    (
                        0.5 + 0.25 * found.colour + 0.25 * feature,
                        Some(found.region),
                    )
                }
                None => (0.4 * cover, None),
            };
            scored.push((index, score, region));
        }
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(scored
            .into_iter()
            .take(k)
            .map(|(index, score, region)| CatalogueMatch {
                sku: self.entries[index].sku.clone(),
                score,
                region,
            })
            .collect())
    }
}

/// A product found in the frame by its features.
struct Found {
    inliers: i32,
    region: Rect,
    /// Histogram intersection (0..=1) of the product's colours with the frame's inside
    /// the projected product mask.
    colour: f32,
}

fn verify(
    entry: &Entry,
    matcher: &core::Ptr<features2d::BFMatcher>,
    query_points: &[Point2f],
    query_descriptors: &Mat,
    names: &Mat,
    frame: Size,
) -> opencv::Result<Option<Found>> {
    if entry.points.len() < MIN_MATCHES || query_points.len() < MIN_MATCHES {
        return Ok(None);
    }
    let mut knn = Vector::<Vector<DMatch>>::new();
    matcher.knn_train_match(
        query_descriptors,
        &entry.descriptors,
        &mut knn,
        2,
        &core::no_array(),
        false,
    )?;
    let mut src = Vector::<Point2f>::new();
    let mut dst = Vector::<Point2f>::new();
    for pair in &knn {
        if pair.len() < 2 {
            continue;
        }
        let (best, second) = (pair.get(0)?, pair.get(1)?);
        if best.distance < RATIO * second.distance {
            let (Ok(train), Ok(query)) = (
                usize::try_from(best.train_idx),
                usize::try_from(best.query_idx),
            ) else {
                continue;
            };
            src.push(entry.points[train]);
            dst.push(query_points[query]);
        }
    }
    if src.len() < MIN_MATCHES {
        return Ok(None);
    }
    let mut inlier_mask = Mat::default();
    let homography = calib3d::find_homography(&src, &dst, &mut inlier_mask, calib3d::RANSAC, 5.0)?;
    if homography.empty() {
        return Ok(None);
    }
    let inliers = core::count_non_zero(&inlier_mask)?;
    if inliers < MIN_INLIERS {
        return Ok(None);
    }
    let Some(region) = projected_region(&homography, entry.bounds, frame)? else {
        return Ok(None);
    };
    // Colours inside the product's projected mask.
    let mut warped = Mat::default();
    imgproc::warp_perspective(
        &entry.mask,
        &mut warped,
        &homography,
        frame,
        imgproc::INTER_NEAREST,
        core::BORDER_CONSTANT,
        Scalar::all(0.0),
    )?;
    let colour = if core::count_non_zero(&warped)? > 0 {
        let seen = colour_histogram(names, Some(&warped))?;
        intersection(&entry.colours, &seen)
    } else {
        0.0
    };
    Ok(Some(Found {
        inliers,
        region,
        colour,
    }))
}

/// The product's bounding box projected by `homography` into the frame, clamped to
/// it; `None` when the projection is implausible (folded, mirrored, tiny or huge).
fn projected_region(homography: &Mat, bounds: Rect, frame: Size) -> opencv::Result<Option<Rect>> {
    let (x0, y0) = (bounds.x as f32, bounds.y as f32);
    let (x1, y1) = (
        (bounds.x + bounds.width) as f32,
        (bounds.y + bounds.height) as f32,
    );
    let corners = Vector::<Point2f>::from_slice(&[
        Point2f::new(x0, y0),
        Point2f::new(x1, y0),
        Point2f::new(x1, y1),
        Point2f::new(x0, y1),
    ]);
    let mut projected = Vector::<Point2f>::new();
    core::perspective_transform(&corners, &mut projected, homography)?;
    let quad: Vec<Point2f> = projected.to_vec();
    // Convex and not mirrored: every turn has the same (positive) sign.
    for i in 0..4 {
        let (a, b, c) = (quad[i], quad[(i + 1) % 4], quad[(i + 2) % 4]);
        let cross = (b.x - a.x) * (c.y - b.y) - (b.y - a.y) * (c.x - b.x);
        if cross <= 0.0 {
            return Ok(None);
        }
    }
    let area = imgproc::contour_area(&projected, false)?;
    let ratio = area / f64::from(bounds.area().max(1));
    if !(0.04..=25.0).contains(&ratio) {
        return Ok(None);
    }
    let rect = imgproc::bounding_rect(&projected)?;
    let clamped = rect & Rect::new(0, 0, frame.width, frame.height);
    Ok((clamped.area() > 0).then_some(clamped))
}

/// ORB keypoint positions and descriptors of an 8-bit BGR image (inside `mask`).
fn orb_features(
    bgr: &Mat,
    mask: Option<&Mat>,
    features: i32,
) -> opencv::Result<(Vec<Point2f>, Mat)> {
    let mut grey = Mat::default();
    imgproc::cvt_color(bgr, &mut grey, imgproc::COLOR_BGR2GRAY, 0)?;
    let mut padded = Mat::default();
    core::copy_make_border(
        &grey,
        &mut padded,
        ORB_BORDER,
        ORB_BORDER,
        ORB_BORDER,
        ORB_BORDER,
        core::BORDER_REPLICATE,
        Scalar::default(),
    )?;
    let mut padded_mask = Mat::default();
    match mask {
        Some(mask) => core::copy_make_border(
            mask,
            &mut padded_mask,
            ORB_BORDER,
            ORB_BORDER,
            ORB_BORDER,
            ORB_BORDER,
            core::BORDER_CONSTANT,
            Scalar::all(0.0),
        )?,
        None => {
            padded_mask = Mat::new_rows_cols_with_default(
                padded.rows(),
                padded.cols(),
                core::CV_8UC1,
                Scalar::all(0.0),
            )?;
            let inner = Rect::new(ORB_BORDER, ORB_BORDER, grey.cols(), grey.rows());
            Mat::roi_mut(&mut padded_mask, inner)?
                .set_to(&Scalar::all(255.0), &core::no_array())?;
        }
    }
    let mut orb = features2d::ORB::create(
        features,
        1.2,
        8,
        31,
        0,
        2,
        features2d::ORB_ScoreType::HARRIS_SCORE,
        31,
        20,
    )?;
    let mut keypoints = Vector::<KeyPoint>::new();
    let mut descriptors = Mat::default();
    orb.detect_and_compute(
        &padded,
        &padded_mask,
        &mut keypoints,
        &mut descriptors,
        false,
    )?;
    let offset = ORB_BORDER as f32;
    let points = keypoints
        .iter()
        .map(|k| Point2f::new(k.pt().x - offset, k.pt().y - offset))
        .collect();
    Ok((points, descriptors))
}

/// Colour bins per L\*a\*b\* axis of the palette lookup table (8-bit Lab).
const LUT_BINS: i32 = 32;

/// Each pixel's nearest [`RETAIL_PALETTE`] colour, as its index (8-bit), through a
/// 32³ lookup table over 8-bit L\*a\*b\* applied with `calc_back_project`.
fn palette_index(bgr: &Mat) -> opencv::Result<Mat> {
    let mut lab = Mat::default();
    imgproc::cvt_color(bgr, &mut lab, imgproc::COLOR_BGR2Lab, 0)?;
    let mut index = Mat::default();
    imgproc::calc_back_project(
        &Vector::<Mat>::from_iter([lab]),
        &Vector::from_slice(&[0, 1, 2]),
        palette_lut()?,
        &mut index,
        &Vector::from_slice(&[0.0_f32, 256.0, 0.0, 256.0, 0.0, 256.0]),
        1.0,
    )?;
    Ok(index)
}

/// The lookup table: for every cell of 8-bit L\*a\*b\*, the palette index nearest to
/// the cell's centre (CIE76 distance, by `batch_distance`).
fn palette_lut() -> opencv::Result<&'static Mat> {
    static LUT: OnceLock<Mat> = OnceLock::new();
    if let Some(lut) = LUT.get() {
        return Ok(lut);
    }
    let width = 256.0 / LUT_BINS as f32;
    let mut centres = Vec::with_capacity((LUT_BINS * LUT_BINS * LUT_BINS) as usize);
    for l in 0..LUT_BINS {
        for a in 0..LUT_BINS {
            for b in 0..LUT_BINS {
                let c = |i: i32| (i as f32 + 0.5) * width;
                // 8-bit Lab: L = L*·255/100, a = a* + 128, b = b* + 128.
                centres.push(Vec3f::from([
                    c(l) * 100.0 / 255.0,
                    c(a) - 128.0,
                    c(b) - 128.0,
                ]));
            }
        }
    }
    let cells = Mat::from_slice(&centres)?
        .reshape(1, centres.len() as i32)?
        .try_clone()?;
    let palette_bgr: Vec<core::Vec3b> = RETAIL_PALETTE
        .iter()
        .map(|c| core::Vec3b::from([c.rgb[2], c.rgb[1], c.rgb[0]]))
        .collect();
    let palette = bgr_to_lab(&Mat::from_slice(&palette_bgr)?.try_clone()?)?;
    let palette = palette
        .reshape(1, RETAIL_PALETTE.len() as i32)?
        .try_clone()?;
    let mut distances = Mat::default();
    let mut nearest = Mat::default();
    core::batch_distance(
        &cells,
        &palette,
        &mut distances,
        core::CV_32F,
        &mut nearest,
        core::NORM_L2,
        1,
        &core::no_array(),
        0,
        false,
    )?;
    let values: Vec<f32> = nearest
        .data_typed::<i32>()?
        .iter()
        .map(|&i| i as f32)
        .collect();
    let sizes = [LUT_BINS, LUT_BINS, LUT_BINS];
    let mut lut = Mat::new_nd_with_default(&sizes, core::CV_32F, Scalar::all(0.0))?;
    lut.data_typed_mut::<f32>()?.copy_from_slice(&values);
    Ok(LUT.get_or_init(|| lut))
}

/// Share of the (masked) pixels of each palette colour, from a palette index image.
fn colour_histogram(index: &Mat, mask: Option<&Mat>) -> opencv::Result<Vec<f32>> {
    let mut hist = Mat::default();
    let bins = RETAIL_PALETTE.len() as i32;
    let no_mask = Mat::default();
    imgproc::calc_hist(
        &Vector::<Mat>::from_iter([index.try_clone()?]),
        &Vector::from_slice(&[0]),
        mask.unwrap_or(&no_mask),
        &mut hist,
        &Vector::from_slice(&[bins]),
        &Vector::from_slice(&[0.0_f32, bins as f32]),
        false,
    )?;
    let mut values = hist.data_typed::<f32>()?.to_vec();
    let total: f32 = values.iter().sum();
    if total > 0.0 {
        values.iter_mut().for_each(|v| *v /= total);
    }
    Ok(values)
}

/// How much of a product's colour distribution the frame can account for, assuming
/// the product covers at least [`MIN_COVER`] of it (0..=1).
fn containment(product: &[f32], frame: &[f32]) -> f32 {
    product
        .iter()
        .zip(frame)
        .map(|(p, f)| p.min(f / MIN_COVER))
        .sum()
}

/// Histogram intersection of two normalised histograms (0..=1).
fn intersection(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x.min(*y)).sum()
}
