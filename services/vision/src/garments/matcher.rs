//! Finding which catalogue product a customer holds up to the camera.
//!
//! Every product image is indexed by its colours (a histogram over the retail
//! palette), its silhouette (the alpha mask) and ORB features. A frame is searched in
//! three steps:
//!
//! 1. **Colour gate**: products whose colours the frame does not contain are dropped
//!    (histogram intersection, `compare_hist`).
//! 2. **Colour blobs**: for each remaining colour combination, the frame's pixels of
//!    those colours are joined into blobs (morphology, connected components) and each
//!    product's silhouette is placed on each blob (same area and centre of mass);
//!    overlap × colour agreement inside the placed silhouette ranks the products. This
//!    finds flat, patterned and striped garments that features alone miss.
//! 3. **Features**: the best-ranked products are verified with ORB (brute-force
//!    Hamming matches, Lowe's ratio test, plus matches near where the placement puts
//!    each keypoint) and a RANSAC homography (`find_homography`), which adds shape
//!    detail (collars, pockets, seams) and a precise region.
//!
//! The score combines the colour-and-silhouette fit with the feature evidence. Work is
//! bounded whatever the frame or catalogue size: colour steps run on a frame reduced
//! to [`WORK_SIDE`] pixels, at most [`MAX_FITTED`] products are fitted and [`VERIFY`]
//! verified by features.
//!
//! Measured on the 350-product fixture catalogue, each product held up in front of one
//! of four photos, scaled, rotated and JPEG-compressed (`tests/garments.rs`): the SKU
//! is among the best three for 86 % of frames and first for 60 % (89 % counting
//! products with byte-identical images, same template, colours and pattern, which no
//! method can tell apart and which tie).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use opencv::core::{
    self, DMatch, KeyPoint, Mat, Point, Point2f, Rect, Scalar, Size, Vec3b, Vec3f, Vector,
};
use opencv::prelude::*;
use opencv::{calib3d, features2d, imgcodecs, imgproc};

use super::colour::{RETAIL_PALETTE, bgr_to_lab, check_mask, to_bgr};

/// One product the frame may show.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogueMatch {
    /// The product's SKU, as given to [`CatalogueIndex::add_product`].
    pub sku: String,
    /// Confidence, 0..=1: silhouette-and-colour fit combined with feature evidence.
    pub score: f32,
    /// Where the product is in the query image: its outline projected by the feature
    /// homography when one was found, else its silhouette as placed on the colour blob;
    /// `None` when neither located it.
    pub region: Option<Rect>,
}

/// Colours, silhouettes and ORB features of catalogue products, built once from the
/// catalogue's own product images and queried with camera frames.
#[derive(Debug, Default)]
pub struct CatalogueIndex {
    entries: Vec<Entry>,
    /// Distinct garment silhouettes: products cut from one template share theirs.
    silhouettes: Vec<Silhouette>,
}

/// A garment's alpha mask cropped to its bounding box.
#[derive(Debug)]
struct Silhouette {
    /// 255 inside the garment.
    mask: Mat,
    /// Pixels inside the garment.
    area: f64,
    /// Centre of mass, in the mask's coordinates.
    centroid: Point2f,
}

#[derive(Debug)]
struct Entry {
    sku: String,
    category: String,
    /// Share of the product's pixels nearest to each [`RETAIL_PALETTE`] colour
    /// (33×1 float histogram summing to 1).
    colours: Mat,
    /// Palette indices its blob is made of ([`colour_key`]).
    key: Vec<u8>,
    /// ORB keypoint positions in the product image.
    points: Vec<Point2f>,
    /// ORB descriptors, one row per point.
    descriptors: Mat,
    /// Bounding box of the garment in the product image.
    bounds: Rect,
    /// Index of the garment's silhouette in [`CatalogueIndex::silhouettes`].
    silhouette: usize,
}

/// Longest side, in pixels, of the reduced frame the colour steps work on.
pub const WORK_SIDE: i32 = 320;
/// Most products fitted to the colour blobs per query, the best by colour gate.
pub const MAX_FITTED: usize = 400;
/// Most products verified with features per query (the best fits); also the most
/// candidates a query returns.
pub const VERIFY: usize = 32;

/// Share of a product that makes a colour part of its key: outlines and seams (about
/// a tenth of a product) stay out, stripes and checks are in.
const KEY_SHARE: f32 = 0.15;
/// Share of a product at which its key stops growing.
const KEY_COVER: f32 = 0.8;
/// Smallest share of a product's colours the frame must contain.
const MIN_CONTAINMENT: f64 = 0.6;
/// Smallest share of the frame a product is expected to cover, for the colour gate: a
/// product colour counts as present when the frame has this fraction of the product's
/// share of it.
const MIN_COVER: f64 = 0.03;
/// Blobs per colour key and separation level tried, the largest first.
const MAX_BLOBS: usize = 3;
/// Smallest blob, as a share of the reduced frame: a held-up product is big.
const MIN_BLOB: f64 = 0.02;
/// Distance from the frame edge (reduced pixels) within which a blob counts as running
/// off the frame (the opening that cleans blobs also eats a few pixels there).
const BORDER_MARGIN: i32 = 6;
/// Factor on the fit of a blob that runs off the frame: a held-up product is normally
/// shown whole, regions running off it are more often walls, floors or shelves.
const BORDER_PENALTY: f64 = 0.75;
/// Weight of the silhouette-and-colour fit in the score; features get the rest.
const FIT_WEIGHT: f32 = 0.7;
/// Fit from which features are searched for around the blob only (guided); weaker
/// fits may have found the wrong blob and are searched in the whole frame.
const LOCAL_SEARCH_FIT: f32 = 0.4;
/// Most whole-frame feature searches per query (the best weak fits get them).
const WIDE_SEARCHES: usize = 20;
/// ORB on product images: flat artwork has few corners, so a low FAST threshold.
const PRODUCT_ORB: OrbSetup = OrbSetup {
    features: 300,
    fast_threshold: 8,
    grid: 1,
    max_side: 640,
};
/// ORB on query frames: keypoints spread over an 8×8 grid so that a textured
/// background cannot take them all.
const QUERY_ORB: OrbSetup = OrbSetup {
    features: 1500,
    fast_threshold: 8,
    grid: 8,
    max_side: 960,
};
/// Border added around images before ORB, which ignores a margin of this width.
const ORB_BORDER: i32 = 32;
/// Lowe's ratio test: the best match must be this much closer than the second.
const RATIO: f32 = 0.8;
/// Nearest query descriptors considered per product keypoint when a fit predicts
/// where it should be.
const GUIDED_K: i32 = 6;
/// Largest Hamming distance (of 256 bits) of a guided match.
const GUIDED_DISTANCE: f32 = 64.0;
/// How far from the predicted position a guided match may be, as a share of the
/// placed product's size (the placement ignores rotation).
const GUIDE_RADIUS: f64 = 0.15;
/// Fewest matches worth fitting a homography to.
const MIN_MATCHES: usize = 8;
/// Fewest RANSAC inliers that count as the product being found.
const MIN_INLIERS: i32 = 8;
/// RANSAC reprojection threshold in frame pixels.
const RANSAC_PIXELS: f64 = 5.0;
/// Inliers giving 63 % of the feature evidence (1 − e^(−inliers / this)); evidence
/// keeps growing with inliers, which separates look-alike templates.
const INLIER_SCALE: f32 = 20.0;
/// Colour bins per L\*a\*b\* axis of the palette lookup table.
const LUT_BINS: i32 = 32;
/// Palette index of pixels outside the query mask (no palette colour).
const NO_COLOUR: f64 = 255.0;

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

    /// The category a product was added with, so that a caller can name what it found.
    pub fn category(&self, sku: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.sku == sku)
            .map(|e| e.category.as_str())
    }

    /// Indexes one product from its catalogue image: PNG (or JPEG) bytes, RGBA with a
    /// transparent background, whose alpha channel is the garment mask; an image
    /// without alpha is indexed whole. Errors on bytes that are not an image or on a
    /// fully transparent one.
    pub fn add_product(
        &mut self,
        sku: &str,
        category: &str,
        rgba_png: &[u8],
    ) -> opencv::Result<()> {
        let bytes = Vector::<u8>::from_slice(rgba_png);
        let decoded = imgcodecs::imdecode(&bytes, imgcodecs::IMREAD_UNCHANGED)?;
        if decoded.empty() || decoded.depth() != core::CV_8U {
            return Err(opencv::Error::new(
                core::StsBadArg,
                format!("product image of {sku} is not an 8-bit image"),
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
        let key = colour_key(&colours)?;
        // Features on a neutral grey background, so that the outline reads about the
        // same against most backgrounds.
        let mut on_grey = Mat::new_rows_cols_with_default(
            bgr.rows(),
            bgr.cols(),
            core::CV_8UC3,
            Scalar::all(128.0),
        )?;
        bgr.copy_to_masked(&mut on_grey, &mask)?;
        let mut near_garment = Mat::default();
        imgproc::dilate(
            &mask,
            &mut near_garment,
            &ellipse(9)?,
            Point::new(-1, -1),
            1,
            core::BORDER_CONSTANT,
            Scalar::all(0.0),
        )?;
        let (points, descriptors) = orb_features(&on_grey, Some(&near_garment), PRODUCT_ORB)?;
        let silhouette = self.silhouette_of(Mat::roi(&mask, bounds)?.try_clone()?)?;
        self.entries.push(Entry {
            sku: sku.to_string(),
            category: category.to_string(),
            colours,
            key,
            points,
            descriptors,
            bounds,
            silhouette,
        });
        Ok(())
    }

    /// The index of an identical silhouette already known, or of this one added.
    fn silhouette_of(&mut self, mask: Mat) -> opencv::Result<usize> {
        for (index, known) in self.silhouettes.iter().enumerate() {
            if known.mask.size()? == mask.size()? {
                let mut difference = Mat::default();
                core::bitwise_xor(&known.mask, &mask, &mut difference, &core::no_array())?;
                if core::count_non_zero(&difference)? == 0 {
                    return Ok(index);
                }
            }
        }
        let moments = imgproc::moments(&mask, true)?;
        let area = moments.m00.max(1.0);
        let centroid = Point2f::new((moments.m10 / area) as f32, (moments.m01 / area) as f32);
        self.silhouettes.push(Silhouette {
            mask,
            area,
            centroid,
        });
        Ok(self.silhouettes.len() - 1)
    }

    /// The `k` products (at most [`VERIFY`]) that best explain `bgr` (8-bit BGR, BGRA
    /// or grey; a whole frame or a crop) inside `mask` (8-bit, non-zero = where to
    /// look, same size), best first; ties keep catalogue order. See the module
    /// documentation for the method.
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
        let work = WorkFrame::new(&bgr, mask)?;

        // 1. Colour gate, best first: all colours present, then most of them.
        let mut cover = Mat::default();
        work.histogram
            .convert_to(&mut cover, core::CV_32F, 1.0 / MIN_COVER, 0.0)?;
        let mut gated = Vec::new();
        for (index, entry) in self.entries.iter().enumerate() {
            let contained =
                imgproc::compare_hist(&entry.colours, &cover, imgproc::HISTCMP_INTERSECT)?;
            if contained >= MIN_CONTAINMENT {
                let shared = imgproc::compare_hist(
                    &entry.colours,
                    &work.histogram,
                    imgproc::HISTCMP_INTERSECT,
                )?;
                gated.push((index, contained, shared));
            }
        }
        gated.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then(b.2.total_cmp(&a.2))
                .then(a.0.cmp(&b.0))
        });
        gated.truncate(MAX_FITTED);

        // 2. Silhouettes placed on the blobs of each colour key.
        let mut by_key: BTreeMap<&[u8], Vec<usize>> = BTreeMap::new();
        for (index, ..) in &gated {
            by_key
                .entry(self.entries[*index].key.as_slice())
                .or_default()
                .push(*index);
        }
        let mut fits: BTreeMap<usize, Fit> = BTreeMap::new();
        let mut key_masks: BTreeMap<&[u8], Mat> = BTreeMap::new();
        for (key, members) in by_key {
            let (key_mask, blobs) = colour_blobs(&work.names, key)?;
            for blob in &blobs {
                // Products of one template share the placement; only their colours
                // differ.
                let mut placed: BTreeMap<usize, Placed> = BTreeMap::new();
                for index in &members {
                    let entry = &self.entries[*index];
                    let shape = match placed.entry(entry.silhouette) {
                        std::collections::btree_map::Entry::Occupied(known) => known.into_mut(),
                        std::collections::btree_map::Entry::Vacant(slot) => slot.insert(
                            place_on_blob(&self.silhouettes[entry.silhouette], blob, &work.names)?,
                        ),
                    };
                    let colour = imgproc::compare_hist(
                        &entry.colours,
                        &shape.seen,
                        imgproc::HISTCMP_INTERSECT,
                    )?;
                    let score = (f64::from(shape.overlap) * colour * shape.border) as f32;
                    let best = fits.entry(*index).or_default();
                    if score > best.score {
                        *best = Fit {
                            score,
                            rect: Some(shape.rect),
                            placement: Some(shape.placement),
                        };
                    }
                }
            }
            key_masks.insert(key, key_mask);
        }
        let mut ranked: Vec<(usize, Fit)> = gated
            .iter()
            .map(|(index, ..)| (*index, fits.remove(index).unwrap_or_default()))
            .collect();
        ranked.sort_by(|a, b| b.1.score.total_cmp(&a.1.score).then(a.0.cmp(&b.0)));
        ranked.truncate(VERIFY);

        // 3. Features.
        let (points, descriptors) = if ranked.is_empty() {
            (Vec::new(), Mat::default())
        } else {
            orb_features(&bgr, mask, QUERY_ORB)?
        };
        let matcher = features2d::BFMatcher::create(core::NORM_HAMMING, false)?;
        let mut wide_searches = 0;
        let mut scored = Vec::with_capacity(ranked.len());
        for (index, fit) in ranked {
            let entry = &self.entries[index];
            let found = if fit.score >= LOCAL_SEARCH_FIT {
                let around = fit.rect.map(|r| work.to_frame(grow(r, 0.15)));
                let (near_points, near_descriptors) =
                    keypoints_within(&points, &descriptors, around)?;
                let guide = fit.placement.map(|p| p.unscaled(work.scale));
                verify(
                    entry,
                    &matcher,
                    &near_points,
                    &near_descriptors,
                    work.frame,
                    guide,
                )?
            } else if wide_searches < WIDE_SEARCHES {
                wide_searches += 1;
                verify(entry, &matcher, &points, &descriptors, work.frame, None)?
            } else {
                None
            };
            let mut fit_score = fit.score;
            let mut feature = 0.0;
            let mut region = fit.rect.map(|r| work.to_frame(r));
            if let Some(found) = found {
                feature = 1.0 - (-(found.inliers as f32) / INLIER_SCALE).exp();
                if let Some(key_mask) = key_masks.get(entry.key.as_slice()) {
                    fit_score = fit_score.max(fit_homography(
                        entry,
                        &self.silhouettes[entry.silhouette],
                        &found.homography,
                        &work,
                        key_mask,
                    )?);
                }
                region = Some(found.region);
            }
            let score = FIT_WEIGHT * fit_score + (1.0 - FIT_WEIGHT) * feature;
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

/// The query frame reduced for the colour steps.
struct WorkFrame {
    /// Palette index of every pixel of the reduced frame ([`NO_COLOUR`] outside the
    /// query mask).
    names: Mat,
    /// Share of each palette colour in the (masked) reduced frame.
    histogram: Mat,
    /// Reduced size / frame size.
    scale: f64,
    /// Frame size.
    frame: Size,
}

impl WorkFrame {
    fn new(bgr: &Mat, mask: Option<&Mat>) -> opencv::Result<Self> {
        let frame = bgr.size()?;
        let longest = frame.width.max(frame.height).max(1);
        let scale = (f64::from(WORK_SIDE) / f64::from(longest)).min(1.0);
        let size = Size::new(
            ((f64::from(frame.width) * scale).round() as i32).max(1),
            ((f64::from(frame.height) * scale).round() as i32).max(1),
        );
        let mut small = Mat::default();
        imgproc::resize(bgr, &mut small, size, 0.0, 0.0, imgproc::INTER_AREA)?;
        let mut names = palette_index(&small)?;
        if let Some(mask) = mask {
            let mut small_mask = Mat::default();
            imgproc::resize(
                mask,
                &mut small_mask,
                size,
                0.0,
                0.0,
                imgproc::INTER_NEAREST,
            )?;
            let mut outside = Mat::default();
            core::bitwise_not(&small_mask, &mut outside, &core::no_array())?;
            names.set_to(&Scalar::all(NO_COLOUR), &outside)?;
        }
        let histogram = colour_histogram(&names, None)?;
        Ok(Self {
            names,
            histogram,
            scale,
            frame,
        })
    }

    /// A rectangle of the reduced frame in frame coordinates, clamped to the frame.
    fn to_frame(&self, r: Rect) -> Rect {
        let f = 1.0 / self.scale;
        let x0 = (f64::from(r.x) * f).floor() as i32;
        let y0 = (f64::from(r.y) * f).floor() as i32;
        let x1 = (f64::from(r.x + r.width) * f).ceil() as i32;
        let y1 = (f64::from(r.y + r.height) * f).ceil() as i32;
        Rect::new(x0, y0, x1 - x0, y1 - y0) & Rect::new(0, 0, self.frame.width, self.frame.height)
    }
}

/// A rectangle grown by `fraction` of its size on every side.
fn grow(r: Rect, fraction: f64) -> Rect {
    let dx = (f64::from(r.width) * fraction).round() as i32;
    let dy = (f64::from(r.height) * fraction).round() as i32;
    Rect::new(r.x - dx, r.y - dy, r.width + 2 * dx, r.height + 2 * dy)
}

/// The colours a product's blob is made of: its main colour, then the next largest
/// while they cover at least [`KEY_SHARE`] and the key less than [`KEY_COVER`].
fn colour_key(colours: &Mat) -> opencv::Result<Vec<u8>> {
    let mut by_share: Vec<(u8, f32)> = (0u8..)
        .zip(colours.data_typed::<f32>()?.iter().copied())
        .collect();
    by_share.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut key = Vec::new();
    let mut covered = 0.0;
    for (index, share) in by_share {
        if !key.is_empty() && (share < KEY_SHARE || covered >= KEY_COVER) {
            break;
        }
        key.push(index);
        covered += share;
    }
    key.sort_unstable();
    Ok(key)
}

/// One blob of a colour key in the reduced frame.
struct Blob {
    /// Bounding box in the reduced frame.
    rect: Rect,
    /// The blob's pixels inside `rect` (255), other pixels 0.
    mask: Mat,
    /// Pixels of the blob.
    area: f64,
    /// Centre of mass of the blob in the reduced frame.
    centroid: Point2f,
}

/// The pixels of the reduced frame whose colour is in `key`, cleaned of isolated
/// pixels and closed over thin gaps (seams, pattern lines, compression noise), and
/// their largest blobs, also after cutting necks under 9 pixels (which parts a garment
/// from a background region of its colour that it touches).
fn colour_blobs(names: &Mat, key: &[u8]) -> opencv::Result<(Mat, Vec<Blob>)> {
    let mut table = Mat::new_rows_cols_with_default(1, 256, core::CV_8UC1, Scalar::all(0.0))?;
    for index in key {
        *table.at_2d_mut::<u8>(0, i32::from(*index))? = 255;
    }
    let mut raw = Mat::default();
    core::lut(names, &table, &mut raw)?;
    let opened = morphology(&raw, imgproc::MORPH_OPEN, 3)?;
    let closed = morphology(&opened, imgproc::MORPH_CLOSE, 5)?;
    let min_area = (f64::from(names.rows() * names.cols()) * MIN_BLOB) as i32;
    let mut blobs = components(&closed, min_area)?;
    let separated = morphology(&closed, imgproc::MORPH_OPEN, 9)?;
    for blob in components(&separated, min_area)? {
        if !blobs.iter().any(|b| b.rect == blob.rect) {
            blobs.push(blob);
        }
    }
    Ok((closed, blobs))
}

/// A morphological operation with an elliptic element `size` pixels across (outside
/// the image counts as background).
fn morphology(mask: &Mat, operation: i32, size: i32) -> opencv::Result<Mat> {
    let mut out = Mat::default();
    imgproc::morphology_ex(
        mask,
        &mut out,
        operation,
        &ellipse(size)?,
        Point::new(-1, -1),
        1,
        core::BORDER_CONSTANT,
        Scalar::all(0.0),
    )?;
    Ok(out)
}

/// The [`MAX_BLOBS`] largest connected components of a mask with at least `min_area`
/// pixels.
fn components(mask: &Mat, min_area: i32) -> opencv::Result<Vec<Blob>> {
    let mut labels = Mat::default();
    let mut stats = Mat::default();
    let mut centroids = Mat::default();
    let count = imgproc::connected_components_with_stats(
        mask,
        &mut labels,
        &mut stats,
        &mut centroids,
        8,
        core::CV_32S,
    )?;
    let mut found = Vec::new();
    for label in 1..count {
        let area = *stats.at_2d::<i32>(label, imgproc::CC_STAT_AREA)?;
        if area >= min_area {
            found.push((label, area));
        }
    }
    found.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut blobs = Vec::new();
    for (label, area) in found.into_iter().take(MAX_BLOBS) {
        let rect = Rect::new(
            *stats.at_2d::<i32>(label, imgproc::CC_STAT_LEFT)?,
            *stats.at_2d::<i32>(label, imgproc::CC_STAT_TOP)?,
            *stats.at_2d::<i32>(label, imgproc::CC_STAT_WIDTH)?,
            *stats.at_2d::<i32>(label, imgproc::CC_STAT_HEIGHT)?,
        );
        let mut blob = Mat::default();
        core::compare(
            &Mat::roi(&labels, rect)?,
            &Scalar::all(f64::from(label)),
            &mut blob,
            core::CMP_EQ,
        )?;
        blobs.push(Blob {
            rect,
            mask: blob,
            area: f64::from(area),
            centroid: Point2f::new(
                *centroids.at_2d::<f64>(label, 0)? as f32,
                *centroids.at_2d::<f64>(label, 1)? as f32,
            ),
        });
    }
    Ok(blobs)
}

/// How well a product's silhouette, placed on a blob, explains it.
#[derive(Debug, Default, Clone, Copy)]
struct Fit {
    /// Overlap × colour agreement (× [`BORDER_PENALTY`] off the frame), 0..=1.
    score: f32,
    /// The placed silhouette's box in the reduced frame.
    rect: Option<Rect>,
    /// Where the silhouette was placed.
    placement: Option<Placement>,
}

/// A similarity placement without rotation: position = scale × (silhouette position)
/// + (x, y).
#[derive(Debug, Clone, Copy)]
struct Placement {
    scale: f64,
    x: f64,
    y: f64,
}

impl Placement {
    /// The same placement with positions divided by `factor` (reduced frame to frame).
    fn unscaled(self, factor: f64) -> Self {
        Self {
            scale: self.scale / factor,
            x: self.x / factor,
            y: self.y / factor,
        }
    }

    /// Where a product-image point lands, given the silhouette's box in the image.
    fn apply(self, point: Point2f, bounds: Rect) -> Point2f {
        Point2f::new(
            (self.scale * f64::from(point.x - bounds.x as f32) + self.x) as f32,
            (self.scale * f64::from(point.y - bounds.y as f32) + self.y) as f32,
        )
    }
}

/// A silhouette placed on a blob.
struct Placed {
    /// Intersection over union of the placed silhouette and the blob.
    overlap: f32,
    /// Colours of the reduced frame inside the placed silhouette.
    seen: Mat,
    /// [`BORDER_PENALTY`] when the blob runs off the frame, else 1.
    border: f64,
    /// The placed silhouette's box in the reduced frame.
    rect: Rect,
    /// The placement.
    placement: Placement,
}

/// Places a silhouette on a blob: same area, same centre of mass, no rotation.
fn place_on_blob(silhouette: &Silhouette, blob: &Blob, names: &Mat) -> opencv::Result<Placed> {
    let scale = (blob.area / silhouette.area).sqrt();
    let x0 = f64::from(blob.centroid.x) - scale * f64::from(silhouette.centroid.x);
    let y0 = f64::from(blob.centroid.y) - scale * f64::from(silhouette.centroid.y);
    let placed_rect = Rect::new(
        x0.floor() as i32,
        y0.floor() as i32,
        (scale * f64::from(silhouette.mask.cols())).ceil() as i32 + 1,
        (scale * f64::from(silhouette.mask.rows())).ceil() as i32 + 1,
    );
    // Both masks on a canvas covering the blob and the placed silhouette (which may
    // stick out of the frame).
    let canvas = placed_rect | blob.rect;
    let mut to_canvas = Mat::zeros(2, 3, core::CV_64F)?.to_mat()?;
    *to_canvas.at_2d_mut::<f64>(0, 0)? = scale;
    *to_canvas.at_2d_mut::<f64>(1, 1)? = scale;
    *to_canvas.at_2d_mut::<f64>(0, 2)? = x0 - f64::from(canvas.x);
    *to_canvas.at_2d_mut::<f64>(1, 2)? = y0 - f64::from(canvas.y);
    let mut placed = Mat::default();
    imgproc::warp_affine(
        &silhouette.mask,
        &mut placed,
        &to_canvas,
        canvas.size(),
        imgproc::INTER_NEAREST,
        core::BORDER_CONSTANT,
        Scalar::all(0.0),
    )?;
    let mut blob_canvas = Mat::new_rows_cols_with_default(
        canvas.height,
        canvas.width,
        core::CV_8UC1,
        Scalar::all(0.0),
    )?;
    blob.mask.copy_to(&mut Mat::roi_mut(
        &mut blob_canvas,
        shifted(blob.rect, canvas),
    )?)?;
    let overlap = mask_iou(&placed, &blob_canvas)?;
    let frame = Rect::new(0, 0, names.cols(), names.rows());
    let inside = canvas & frame;
    let seen = if inside.area() > 0 {
        let placed_inside = Mat::roi(&placed, shifted(inside, canvas))?.try_clone()?;
        colour_histogram(&Mat::roi(names, inside)?.try_clone()?, Some(&placed_inside))?
    } else {
        colour_histogram(
            names,
            Some(&Mat::zeros(names.rows(), names.cols(), core::CV_8UC1)?.to_mat()?),
        )?
    };
    let touches = blob.rect.x < BORDER_MARGIN
        || blob.rect.y < BORDER_MARGIN
        || blob.rect.x + blob.rect.width > frame.width - BORDER_MARGIN
        || blob.rect.y + blob.rect.height > frame.height - BORDER_MARGIN;
    Ok(Placed {
        overlap,
        seen,
        border: if touches { BORDER_PENALTY } else { 1.0 },
        rect: placed_rect & frame,
        placement: Placement {
            scale,
            x: x0,
            y: y0,
        },
    })
}

/// `r` in the coordinates of `origin`'s top-left corner.
fn shifted(r: Rect, origin: Rect) -> Rect {
    Rect::new(r.x - origin.x, r.y - origin.y, r.width, r.height)
}

/// Intersection over union of two same-sized 8-bit masks.
fn mask_iou(a: &Mat, b: &Mat) -> opencv::Result<f32> {
    let mut both = Mat::default();
    core::bitwise_and(a, b, &mut both, &core::no_array())?;
    let mut either = Mat::default();
    core::bitwise_or(a, b, &mut either, &core::no_array())?;
    let union = core::count_non_zero(&either)?;
    Ok(if union == 0 {
        0.0
    } else {
        core::count_non_zero(&both)? as f32 / union as f32
    })
}

/// The silhouette-and-colour fit with the product placed by the feature homography
/// (against the key colour's mask, so a blob merged with the background does not
/// matter).
fn fit_homography(
    entry: &Entry,
    silhouette: &Silhouette,
    homography: &Mat,
    work: &WorkFrame,
    key_mask: &Mat,
) -> opencv::Result<f32> {
    // Silhouette coordinates → product image (shift by the bounds) → frame → reduced.
    let (bx, by) = (f64::from(entry.bounds.x), f64::from(entry.bounds.y));
    let mut to_work = homography.try_clone()?;
    for row in 0..3 {
        let (h0, h1) = (
            *homography.at_2d::<f64>(row, 0)?,
            *homography.at_2d::<f64>(row, 1)?,
        );
        *to_work.at_2d_mut::<f64>(row, 2)? += h0 * bx + h1 * by;
    }
    for col in 0..3 {
        *to_work.at_2d_mut::<f64>(0, col)? *= work.scale;
        *to_work.at_2d_mut::<f64>(1, col)? *= work.scale;
    }
    let mut placed = Mat::default();
    imgproc::warp_perspective(
        &silhouette.mask,
        &mut placed,
        &to_work,
        work.names.size()?,
        imgproc::INTER_NEAREST,
        core::BORDER_CONSTANT,
        Scalar::all(0.0),
    )?;
    let rect = imgproc::bounding_rect(&placed)?;
    if rect.area() == 0 {
        return Ok(0.0);
    }
    let silhouette = Mat::roi(&placed, rect)?.try_clone()?;
    let overlap = mask_iou(&silhouette, &Mat::roi(key_mask, rect)?.try_clone()?)?;
    let seen = colour_histogram(
        &Mat::roi(&work.names, rect)?.try_clone()?,
        Some(&silhouette),
    )?;
    let colour = imgproc::compare_hist(&entry.colours, &seen, imgproc::HISTCMP_INTERSECT)?;
    Ok((f64::from(overlap) * colour) as f32)
}

/// The query keypoints (and their descriptor rows) inside `area`, or all of them.
fn keypoints_within(
    points: &[Point2f],
    descriptors: &Mat,
    area: Option<Rect>,
) -> opencv::Result<(Vec<Point2f>, Mat)> {
    let Some(area) = area else {
        return Ok((points.to_vec(), descriptors.try_clone()?));
    };
    let mut kept = Vec::new();
    let mut rows = Mat::default();
    for (row, point) in (0i32..).zip(points) {
        if area.contains(Point::new(point.x as i32, point.y as i32)) {
            kept.push(*point);
            rows.push_back(&descriptors.row(row)?)?;
        }
    }
    Ok((kept, rows))
}

/// A product found in the frame by its features.
struct Found {
    inliers: i32,
    homography: Mat,
    region: Rect,
}

/// Matches the product's descriptors among the query's (Lowe's ratio test, or with a
/// `guide` the closest descriptor near where the placement predicts the keypoint) and
/// fits a RANSAC homography when there are enough.
fn verify(
    entry: &Entry,
    matcher: &core::Ptr<features2d::BFMatcher>,
    query_points: &[Point2f],
    query_descriptors: &Mat,
    frame: Size,
    guide: Option<Placement>,
) -> opencv::Result<Option<Found>> {
    if entry.points.len() < MIN_MATCHES || query_points.len() < MIN_MATCHES {
        return Ok(None);
    }
    let mut knn = Vector::<Vector<DMatch>>::new();
    let k = if guide.is_some() { GUIDED_K } else { 2 };
    matcher.knn_train_match(
        &entry.descriptors,
        query_descriptors,
        &mut knn,
        k,
        &core::no_array(),
        false,
    )?;
    let radius = guide.map_or(0.0, |g| {
        let size = f64::from(entry.bounds.width.max(entry.bounds.height));
        (GUIDE_RADIUS * g.scale * size).max(8.0) as f32
    });
    let query_point = |m: &DMatch| {
        usize::try_from(m.train_idx)
            .ok()
            .and_then(|i| query_points.get(i))
            .copied()
    };
    let mut src = Vector::<Point2f>::new();
    let mut dst = Vector::<Point2f>::new();
    for candidates in &knn {
        let Some(best) = candidates.iter().next() else {
            continue;
        };
        let Some(product) = usize::try_from(best.query_idx)
            .ok()
            .and_then(|i| entry.points.get(i))
        else {
            continue;
        };
        let passes_ratio = candidates
            .get(1)
            .is_ok_and(|second| best.distance < RATIO * second.distance);
        let chosen = if passes_ratio {
            query_point(&best)
        } else if let Some(guide) = guide {
            let predicted = guide.apply(*product, entry.bounds);
            candidates
                .iter()
                .filter(|m| m.distance <= GUIDED_DISTANCE)
                .filter_map(|m| query_point(&m))
                .find(|q| (q.x - predicted.x).hypot(q.y - predicted.y) <= radius)
        } else {
            None
        };
        if let Some(q) = chosen {
            src.push(*product);
            dst.push(q);
        }
    }
    if src.len() < MIN_MATCHES {
        return Ok(None);
    }
    let mut inlier_mask = Mat::default();
    let homography =
        calib3d::find_homography(&src, &dst, &mut inlier_mask, calib3d::RANSAC, RANSAC_PIXELS)?;
    if homography.empty() {
        return Ok(None);
    }
    let inliers = core::count_non_zero(&inlier_mask)?;
    if inliers < MIN_INLIERS {
        return Ok(None);
    }
    Ok(
        projected_region(&homography, entry.bounds, frame)?.map(|region| Found {
            inliers,
            homography,
            region,
        }),
    )
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
    let quad = projected.to_vec();
    // Convex and not mirrored: every turn has the same (positive) sign.
    for i in 0..4 {
        let (a, b, c) = (quad[i], quad[(i + 1) % 4], quad[(i + 2) % 4]);
        let cross = (b.x - a.x) * (c.y - b.y) - (b.y - a.y) * (c.x - b.x);
        if cross <= 0.0 {
            return Ok(None);
        }
    }
    let ratio = imgproc::contour_area(&projected, false)? / f64::from(bounds.area().max(1));
    if !(0.04..=25.0).contains(&ratio) {
        return Ok(None);
    }
    let rect = imgproc::bounding_rect(&projected)? & Rect::new(0, 0, frame.width, frame.height);
    Ok((rect.area() > 0).then_some(rect))
}

/// How ORB looks at an image.
#[derive(Clone, Copy)]
struct OrbSetup {
    /// Keypoints kept.
    features: i32,
    /// FAST corner threshold (grey levels).
    fast_threshold: i32,
    /// Grid cells per side to spread keypoints over (1 = no grid).
    grid: i32,
    /// Longest side, in pixels, ORB looks at: larger images are reduced first, which
    /// bounds the cost whatever the camera's resolution.
    max_side: i32,
}

/// ORB keypoint positions and descriptors of an 8-bit BGR image (inside `mask`).
fn orb_features(
    bgr: &Mat,
    mask: Option<&Mat>,
    setup: OrbSetup,
) -> opencv::Result<(Vec<Point2f>, Mat)> {
    let mut full = Mat::default();
    imgproc::cvt_color(bgr, &mut full, imgproc::COLOR_BGR2GRAY, 0)?;
    let longest = full.cols().max(full.rows()).max(1);
    let shrink = (f64::from(setup.max_side) / f64::from(longest)).min(1.0);
    let (grey, mask) = if shrink < 1.0 {
        let size = Size::new(
            ((f64::from(full.cols()) * shrink).round() as i32).max(1),
            ((f64::from(full.rows()) * shrink).round() as i32).max(1),
        );
        let mut grey = Mat::default();
        imgproc::resize(&full, &mut grey, size, 0.0, 0.0, imgproc::INTER_AREA)?;
        let mask = match mask {
            Some(mask) => {
                let mut small = Mat::default();
                imgproc::resize(mask, &mut small, size, 0.0, 0.0, imgproc::INTER_NEAREST)?;
                Some(small)
            }
            None => None,
        };
        (grey, mask)
    } else {
        (full, mask.map(Mat::try_clone).transpose()?)
    };
    let mask = mask.as_ref();
    // ORB skips a margin of its patch size: pad so that keypoints near the edge count.
    let pad = |src: &Mat, border: i32| -> opencv::Result<Mat> {
        let mut out = Mat::default();
        core::copy_make_border(
            src,
            &mut out,
            ORB_BORDER,
            ORB_BORDER,
            ORB_BORDER,
            ORB_BORDER,
            border,
            Scalar::all(0.0),
        )?;
        Ok(out)
    };
    let padded = pad(&grey, core::BORDER_REPLICATE)?;
    let padded_mask = match mask {
        Some(mask) => pad(mask, core::BORDER_CONSTANT)?,
        None => pad(
            &Mat::new_rows_cols_with_default(
                grey.rows(),
                grey.cols(),
                core::CV_8UC1,
                Scalar::all(255.0),
            )?,
            core::BORDER_CONSTANT,
        )?,
    };
    let detect = if setup.grid > 1 {
        setup.features * 4
    } else {
        setup.features
    };
    let mut orb = features2d::ORB::create(
        detect,
        1.2,
        8,
        31,
        0,
        2,
        features2d::ORB_ScoreType::HARRIS_SCORE,
        31,
        setup.fast_threshold,
    )?;
    let mut keypoints = Vector::<KeyPoint>::new();
    let mut descriptors = Mat::default();
    if setup.grid > 1 {
        orb.detect(&padded, &mut keypoints, &padded_mask)?;
        keypoints = spread(keypoints, setup, padded.size()?);
        orb.compute(&padded, &mut keypoints, &mut descriptors)?;
    } else {
        orb.detect_and_compute(
            &padded,
            &padded_mask,
            &mut keypoints,
            &mut descriptors,
            false,
        )?;
    }
    let offset = ORB_BORDER as f32;
    let enlarge = (1.0 / shrink) as f32;
    let points = keypoints
        .iter()
        .map(|k| Point2f::new((k.pt().x - offset) * enlarge, (k.pt().y - offset) * enlarge))
        .collect();
    Ok((points, descriptors))
}

/// The strongest keypoints of each grid cell, `setup.features` in all.
fn spread(keypoints: Vector<KeyPoint>, setup: OrbSetup, size: Size) -> Vector<KeyPoint> {
    let mut all = keypoints.to_vec();
    all.sort_by(|a, b| b.response().total_cmp(&a.response()));
    let grid = setup.grid.max(1);
    let per_cell = usize::try_from(setup.features / (grid * grid))
        .unwrap_or(1)
        .max(1);
    let mut counts = vec![0usize; usize::try_from(grid * grid).unwrap_or(1)];
    let cell_of = |value: f32, extent: i32| {
        ((value / extent.max(1) as f32 * grid as f32) as i32).clamp(0, grid - 1)
    };
    let mut kept = Vector::<KeyPoint>::new();
    for keypoint in all {
        let cell =
            cell_of(keypoint.pt().y, size.height) * grid + cell_of(keypoint.pt().x, size.width);
        if let Some(count) = usize::try_from(cell).ok().and_then(|c| counts.get_mut(c))
            && *count < per_cell
        {
            *count += 1;
            kept.push(keypoint);
        }
    }
    kept
}

/// Each pixel's nearest [`RETAIL_PALETTE`] colour as its index (8-bit): a
/// [`LUT_BINS`]³ lookup table over 8-bit L\*a\*b\*, applied with `calc_back_project`.
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

/// The lookup table: for every cell of 8-bit L\*a\*b\*, the index of the palette
/// colour nearest to the cell's centre (CIE76, by `batch_distance`), computed once.
fn palette_lut() -> opencv::Result<&'static Mat> {
    static LUT: OnceLock<Mat> = OnceLock::new();
    if let Some(lut) = LUT.get() {
        return Ok(lut);
    }
    let width = 256.0 / LUT_BINS as f32;
    let centre = |i: i32| (i as f32 + 0.5) * width;
    let mut cells = Vec::new();
    for l in 0..LUT_BINS {
        for a in 0..LUT_BINS {
            for b in 0..LUT_BINS {
                // 8-bit Lab: L = L*·255/100, a = a* + 128, b = b* + 128.
                cells.push(Vec3f::from([
                    centre(l) * 100.0 / 255.0,
                    centre(a) - 128.0,
                    centre(b) - 128.0,
                ]));
            }
        }
    }
    let rows = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
    let cells = Mat::from_slice(&cells)?
        .reshape(1, rows(cells.len()))?
        .try_clone()?;
    let palette: Vec<Vec3b> = RETAIL_PALETTE
        .iter()
        .map(|c| Vec3b::from([c.rgb[2], c.rgb[1], c.rgb[0]]))
        .collect();
    let palette = bgr_to_lab(&Mat::from_slice(&palette)?.try_clone()?)?;
    let palette = palette
        .reshape(1, rows(RETAIL_PALETTE.len()))?
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
    let mut lut = Mat::new_nd_with_default(&[LUT_BINS; 3], core::CV_32F, Scalar::all(0.0))?;
    for (cell, index) in lut
        .data_typed_mut::<f32>()?
        .iter_mut()
        .zip(nearest.data_typed::<i32>()?)
    {
        *cell = *index as f32;
    }
    Ok(LUT.get_or_init(|| lut))
}

/// Share of the (masked) pixels of each palette colour in a palette index image, as a
/// 33×1 float histogram summing to 1 (all zero for no pixels).
fn colour_histogram(index: &Mat, mask: Option<&Mat>) -> opencv::Result<Mat> {
    let bins = i32::try_from(RETAIL_PALETTE.len()).unwrap_or(i32::MAX);
    let everywhere = Mat::default();
    let mut hist = Mat::default();
    imgproc::calc_hist(
        &Vector::<Mat>::from_iter([index.try_clone()?]),
        &Vector::from_slice(&[0]),
        mask.unwrap_or(&everywhere),
        &mut hist,
        &Vector::from_slice(&[bins]),
        &Vector::from_slice(&[0.0_f32, bins as f32]),
        false,
    )?;
    if core::sum_elems(&hist)?[0] > 0.0 {
        let mut normalised = Mat::default();
        core::normalize(
            &hist,
            &mut normalised,
            1.0,
            0.0,
            core::NORM_L1,
            -1,
            &core::no_array(),
        )?;
        return Ok(normalised);
    }
    Ok(hist)
}

/// An elliptic structuring element `n` pixels across.
fn ellipse(n: i32) -> opencv::Result<Mat> {
    imgproc::get_structuring_element(imgproc::MORPH_ELLIPSE, Size::new(n, n), Point::new(-1, -1))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use opencv::core::CV_8UC4;

    /// A flat "garment" on a transparent 256×320 canvas: a body with sleeves in
    /// `rgb`, a darker placket and buttons, like the catalogue's artwork.
    fn product_png(rgb: [u8; 3], skirt: bool) -> Vec<u8> {
        let mut image =
            Mat::new_rows_cols_with_default(320, 256, CV_8UC4, Scalar::all(0.0)).unwrap();
        let fill = Scalar::new(
            f64::from(rgb[2]),
            f64::from(rgb[1]),
            f64::from(rgb[0]),
            255.0,
        );
        let dark = Scalar::new(
            f64::from(rgb[2]) * 0.58,
            f64::from(rgb[1]) * 0.58,
            f64::from(rgb[0]) * 0.58,
            255.0,
        );
        let outline: Vec<Point> = if skirt {
            vec![
                Point::new(88, 56),
                Point::new(168, 56),
                Point::new(208, 262),
                Point::new(48, 262),
            ]
        } else {
            vec![
                Point::new(104, 44),
                Point::new(70, 56),
                Point::new(28, 110),
                Point::new(56, 134),
                Point::new(80, 114),
                Point::new(80, 276),
                Point::new(176, 276),
                Point::new(176, 114),
                Point::new(200, 134),
                Point::new(228, 110),
                Point::new(186, 56),
                Point::new(152, 44),
            ]
        };
        let polygon = Vector::<Vector<Point>>::from_iter([Vector::from_slice(&outline)]);
        imgproc::fill_poly(
            &mut image,
            &polygon,
            fill,
            imgproc::LINE_AA,
            0,
            Point::default(),
        )
        .unwrap();
        imgproc::polylines(&mut image, &polygon, true, dark, 3, imgproc::LINE_AA, 0).unwrap();
        imgproc::line(
            &mut image,
            Point::new(128, 60),
            Point::new(128, 250),
            dark,
            2,
            imgproc::LINE_AA,
            0,
        )
        .unwrap();
        for y in [90, 130, 170, 210] {
            imgproc::circle(
                &mut image,
                Point::new(128, y),
                4,
                dark,
                -1,
                imgproc::LINE_AA,
                0,
            )
            .unwrap();
        }
        imgproc::rectangle(
            &mut image,
            Rect::new(140, 100, 24, 26),
            dark,
            2,
            imgproc::LINE_8,
            0,
        )
        .unwrap();
        let mut png = Vector::<u8>::new();
        imgcodecs::imencode(".png", &image, &mut png, &Vector::new()).unwrap();
        png.to_vec()
    }

    /// A 640×480 frame of textured grey-green noise with the product pasted at
    /// (`x`, `y`) scaled by 1.25.
    fn frame_with(png: &[u8], x: i32, y: i32) -> (Mat, Rect) {
        frame_sized(png, Size::new(640, 480), 1.25, x, y)
    }

    /// A frame of `size` of textured grey-green noise with the product pasted at
    /// (`x`, `y`) scaled by `scale`; returns it and the garment's box.
    fn frame_sized(png: &[u8], size: Size, scale: f64, x: i32, y: i32) -> (Mat, Rect) {
        core::set_rng_seed(7).unwrap();
        let mut noise = Mat::new_rows_cols_with_default(
            size.height,
            size.width,
            core::CV_8UC3,
            Scalar::all(0.0),
        )
        .unwrap();
        core::randu(
            &mut noise,
            &Scalar::new(40.0, 90.0, 40.0, 0.0),
            &Scalar::new(120.0, 170.0, 110.0, 0.0),
        )
        .unwrap();
        let mut frame = Mat::default();
        imgproc::gaussian_blur(
            &noise,
            &mut frame,
            Size::new(5, 5),
            0.0,
            0.0,
            core::BORDER_DEFAULT,
        )
        .unwrap();
        let bgra = imgcodecs::imdecode(&Vector::<u8>::from_slice(png), imgcodecs::IMREAD_UNCHANGED)
            .unwrap();
        let pasted = Size::new(
            (256.0 * scale).round() as i32,
            (320.0 * scale).round() as i32,
        );
        let mut scaled = Mat::default();
        imgproc::resize(&bgra, &mut scaled, pasted, 0.0, 0.0, imgproc::INTER_LINEAR).unwrap();
        let mut alpha = Mat::default();
        core::extract_channel(&scaled, &mut alpha, 3).unwrap();
        let mut bgr = Mat::default();
        imgproc::cvt_color(&scaled, &mut bgr, imgproc::COLOR_BGRA2BGR, 0).unwrap();
        let target = Rect::new(x, y, pasted.width, pasted.height);
        bgr.copy_to_masked(&mut Mat::roi_mut(&mut frame, target).unwrap(), &alpha)
            .unwrap();
        let truth = imgproc::bounding_rect(&alpha).unwrap();
        (
            frame,
            Rect::new(truth.x + x, truth.y + y, truth.width, truth.height),
        )
    }

    fn index() -> CatalogueIndex {
        let mut index = CatalogueIndex::new();
        index
            .add_product("RED-SHIRT", "shirt", &product_png([196, 44, 46], false))
            .unwrap();
        index
            .add_product("BLUE-SHIRT", "shirt", &product_png([50, 96, 170], false))
            .unwrap();
        index
            .add_product("RED-SKIRT", "skirt", &product_png([196, 44, 46], true))
            .unwrap();
        index
            .add_product("YELLOW-SKIRT", "skirt", &product_png([242, 212, 76], true))
            .unwrap();
        index
    }

    fn iou(a: Rect, b: Rect) -> f64 {
        let inter = f64::from((a & b).area());
        inter / (f64::from(a.area() + b.area()) - inter)
    }

    #[test]
    fn index_bookkeeping() {
        let index = index();
        assert_eq!(index.len(), 4);
        assert!(!index.is_empty());
        assert!(CatalogueIndex::new().is_empty());
        assert_eq!(index.category("RED-SKIRT"), Some("skirt"));
        assert_eq!(index.category("NOPE"), None);
    }

    #[test]
    fn held_up_product_is_found_with_its_region() {
        let index = index();
        for (sku, png, x) in [
            ("RED-SHIRT", product_png([196, 44, 46], false), 40),
            ("BLUE-SHIRT", product_png([50, 96, 170], false), 280),
            ("RED-SKIRT", product_png([196, 44, 46], true), 150),
        ] {
            let (frame, truth) = frame_with(&png, x, 40);
            let matches = index.best_matches(&frame, None, 2).unwrap();
            assert_eq!(matches[0].sku, sku, "{matches:?}");
            // The other product of the same colour, if any, comes second and lower.
            assert!(matches.iter().skip(1).all(|m| m.score < matches[0].score));
            assert!((0.0..=1.0).contains(&matches[0].score));
            let region = matches[0].region.unwrap();
            assert!(iou(region, truth) > 0.6, "{region:?} vs {truth:?}");
        }
    }

    #[test]
    fn large_frames_are_reduced_first() {
        let index = index();
        let png = product_png([50, 96, 170], false);
        let (frame, truth) = frame_sized(&png, Size::new(1920, 1080), 3.0, 900, 40);
        let matches = index.best_matches(&frame, None, 1).unwrap();
        assert_eq!(matches[0].sku, "BLUE-SHIRT");
        let region = matches[0].region.unwrap();
        assert!(iou(region, truth) > 0.6, "{region:?} vs {truth:?}");
    }

    #[test]
    fn nothing_to_find_and_bad_input() {
        let index = index();
        let (frame, _) = frame_with(&product_png([196, 44, 46], false), 40, 40);
        assert!(index.best_matches(&frame, None, 0).unwrap().is_empty());
        assert!(
            CatalogueIndex::new()
                .best_matches(&frame, None, 3)
                .unwrap()
                .is_empty()
        );
        let wrong =
            Mat::new_rows_cols_with_default(4, 4, core::CV_8UC1, Scalar::all(255.0)).unwrap();
        assert!(index.best_matches(&frame, Some(&wrong), 3).is_err());
        let mut bad = CatalogueIndex::new();
        assert!(bad.add_product("X", "shirt", b"not an image").is_err());
        let empty = Mat::new_rows_cols_with_default(8, 8, CV_8UC4, Scalar::all(0.0)).unwrap();
        let mut png = Vector::<u8>::new();
        imgcodecs::imencode(".png", &empty, &mut png, &Vector::new()).unwrap();
        assert!(bad.add_product("X", "shirt", png.as_slice()).is_err());
        assert!(bad.is_empty());
    }

    #[test]
    fn a_mask_limits_where_to_look() {
        let index = index();
        let (frame, truth) = frame_with(&product_png([242, 212, 76], true), 60, 40);
        let mut mask =
            Mat::new_rows_cols_with_default(480, 640, core::CV_8UC1, Scalar::all(0.0)).unwrap();
        Mat::roi_mut(&mut mask, grow(truth, 0.1) & Rect::new(0, 0, 640, 480))
            .unwrap()
            .set_to(&Scalar::all(255.0), &core::no_array())
            .unwrap();
        let matches = index.best_matches(&frame, Some(&mask), 1).unwrap();
        assert_eq!(matches[0].sku, "YELLOW-SKIRT");
        // Looking only where the product is not finds no yellow skirt.
        let mut outside = Mat::default();
        core::bitwise_not(&mask, &mut outside, &core::no_array()).unwrap();
        let elsewhere = index.best_matches(&frame, Some(&outside), 4).unwrap();
        assert!(
            elsewhere
                .iter()
                .all(|m| m.sku != "YELLOW-SKIRT" || m.score < 0.3),
            "{elsewhere:?}"
        );
    }

    #[test]
    fn palette_lookup_names_palette_colours() {
        let pixels: Vec<Vec3b> = RETAIL_PALETTE
            .iter()
            .map(|c| Vec3b::from([c.rgb[2], c.rgb[1], c.rgb[0]]))
            .collect();
        let image = Mat::from_slice(&pixels).unwrap().try_clone().unwrap();
        let index = palette_index(&image).unwrap();
        let names = index.data_typed::<u8>().unwrap();
        let hits = (0u8..).zip(names).filter(|(i, n)| i == *n).count();
        // Cells are 8 units of a*/b* wide: nearly every colour lands in its own cell.
        assert!(hits + 2 >= RETAIL_PALETTE.len(), "{names:?}");
    }

    #[test]
    fn index_is_shareable_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<CatalogueIndex>();
    }
}
