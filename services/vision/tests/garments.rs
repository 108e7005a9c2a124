//! Acceptance test of garment understanding on the fixture catalogue (350 products):
//! colour names and patterns read from the catalogue's own product images, and
//! products held up in front of real photos (scaled, rotated, JPEG-compressed) found
//! among all 350. Run with `--nocapture` to see the measured rates.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

use catalog::fixtures::images::render_product_image;
use opencv::core::{self, Mat, Point2f, Rect, Scalar, Size, Vector};
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc};
use protocol::catalog::Product;
use vision::garments::{
    CatalogueIndex, Pattern, classify_pattern, describe_garment, dominant_colour, texture_stats,
};

/// Colour naming: share of products whose dominant colour is their first colour.
const COLOUR_RATE: f64 = 0.90;
/// Held-up garment: share of products whose SKU is among the best three.
const TOP3_RATE: f64 = 0.80;
/// Held-up garment: share of correct first answers whose region overlaps the pasted
/// garment with IoU >= 0.5.
const REGION_RATE: f64 = 0.80;
/// Pattern accuracy against `Product::pattern` on the product images (measured 1.0).
const PATTERN_RATE: f64 = 0.95;
/// Colour naming and pattern accuracy on the held-up frames, inside the garment's true
/// box and mask (measured 0.97 and 0.96): what compression, scaling and rotation cost.
const HELD_UP_READING_RATE: f64 = 0.90;

/// Frame size of the held-up test (a webcam's VGA).
const FRAME: Size = Size {
    width: 640,
    height: 480,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The fixture catalogue with each product's rendered image (PNG bytes).
fn catalogue() -> &'static [(Product, Vec<u8>)] {
    static CATALOGUE: OnceLock<Vec<(Product, Vec<u8>)>> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        let json = std::fs::read_to_string(root().join("fixtures/catalog/products.json")).unwrap();
        let products: Vec<Product> = serde_json::from_str(&json).unwrap();
        assert_eq!(products.len(), 350);
        products
            .into_iter()
            .map(|p| {
                let png = render_product_image(&p);
                (p, png)
            })
            .collect()
    })
}

/// A rendered product image as BGR plus its alpha mask.
fn decode(png: &[u8]) -> (Mat, Mat) {
    let bgra =
        imgcodecs::imdecode(&Vector::<u8>::from_slice(png), imgcodecs::IMREAD_UNCHANGED).unwrap();
    assert_eq!(bgra.channels(), 4);
    let mut bgr = Mat::default();
    imgproc::cvt_color(&bgra, &mut bgr, imgproc::COLOR_BGRA2BGR, 0).unwrap();
    let mut alpha = Mat::default();
    core::extract_channel(&bgra, &mut alpha, 3).unwrap();
    let mut mask = Mat::default();
    imgproc::threshold(&alpha, &mut mask, 127.0, 255.0, imgproc::THRESH_BINARY).unwrap();
    (bgr, mask)
}

fn percent(hits: usize, total: usize) -> f64 {
    hits as f64 / total.max(1) as f64
}

#[test]
fn colour_names_match_the_catalogue() {
    let mut hits = 0;
    let mut confusions: BTreeMap<(String, &str), usize> = BTreeMap::new();
    for (product, png) in catalogue() {
        let (bgr, mask) = decode(png);
        let reading = dominant_colour(&bgr, Some(&mask)).unwrap().unwrap();
        if reading.name == product.colours[0] {
            hits += 1;
        } else {
            *confusions
                .entry((product.colours[0].clone(), reading.name))
                .or_default() += 1;
        }
    }
    let rate = percent(hits, catalogue().len());
    eprintln!("colour naming: {hits}/{} = {rate:.3}", catalogue().len());
    for ((truth, read), n) in &confusions {
        eprintln!("  {truth} read as {read}: {n}");
    }
    assert!(rate >= COLOUR_RATE, "colour rate {rate:.3} < {COLOUR_RATE}");
}

#[test]
fn patterns_match_the_catalogue() {
    let mut hits = 0;
    let mut confusions: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (product, png) in catalogue() {
        let (bgr, mask) = decode(png);
        let truth = Pattern::from_catalogue(product.pattern.as_deref()).unwrap();
        let read = classify_pattern(&bgr, Some(&mask)).unwrap();
        if read == truth {
            hits += 1;
        } else {
            *confusions
                .entry((truth.as_str(), read.as_str()))
                .or_default() += 1;
            if std::env::var_os("GARMENTS_VERBOSE").is_some() {
                let stats = texture_stats(&bgr, Some(&mask)).unwrap();
                eprintln!("  {} {}: {stats:?}", product.sku, product.category);
            }
        }
    }
    let rate = percent(hits, catalogue().len());
    eprintln!("pattern accuracy: {hits}/{} = {rate:.3}", catalogue().len());
    for ((truth, read), n) in &confusions {
        eprintln!("  {truth} read as {read}: {n}");
    }
    assert!(
        rate >= PATTERN_RATE,
        "pattern accuracy {rate:.3} < {PATTERN_RATE}"
    );
}

/// Deterministic pseudo-random numbers (SplitMix64) for the held-up poses.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next()
    }
}

/// The four background photos, each resized to [`FRAME`].
fn backgrounds() -> Vec<Mat> {
    ["coffee.png", "astronaut.png", "brick.png", "grass.png"]
        .iter()
        .map(|name| {
            let path = root().join("fixtures/vision/photos").join(name);
            let photo = imgcodecs::imread(path.to_str().unwrap(), imgcodecs::IMREAD_COLOR).unwrap();
            assert!(!photo.empty(), "{name}");
            let mut frame = Mat::default();
            imgproc::resize(&photo, &mut frame, FRAME, 0.0, 0.0, imgproc::INTER_AREA).unwrap();
            frame
        })
        .collect()
}

/// A product held up in front of a photo.
struct HeldUp {
    /// The JPEG-compressed frame.
    frame: Mat,
    /// The garment's true box.
    truth: Rect,
    /// The garment's true pixels (its alpha mask, moved like the garment).
    mask: Mat,
}

/// A product image held up in front of `background`: scaled, rotated about the
/// garment's centre, placed so the garment stays in the frame, alpha-blended and
/// JPEG-compressed at quality 80.
fn held_up(png: &[u8], background: &Mat, rng: &mut Rng) -> HeldUp {
    let bgra =
        imgcodecs::imdecode(&Vector::<u8>::from_slice(png), imgcodecs::IMREAD_UNCHANGED).unwrap();
    let mut alpha = Mat::default();
    core::extract_channel(&bgra, &mut alpha, 3).unwrap();
    let bounds = imgproc::bounding_rect(&alpha).unwrap();
    let scale = rng.range(0.8, 1.5);
    let angle = rng.range(-10.0, 10.0);
    let centre = Point2f::new(
        bounds.x as f32 + bounds.width as f32 / 2.0,
        bounds.y as f32 + bounds.height as f32 / 2.0,
    );
    // Half extents of the rotated, scaled garment box.
    let (sin, cos) = angle.to_radians().sin_cos();
    let (w, h) = (
        f64::from(bounds.width) * scale,
        f64::from(bounds.height) * scale,
    );
    let half_w = (w * cos.abs() + h * sin.abs()) / 2.0 + 2.0;
    let half_h = (w * sin.abs() + h * cos.abs()) / 2.0 + 2.0;
    let (fw, fh) = (f64::from(FRAME.width), f64::from(FRAME.height));
    let cx = if half_w * 2.0 < fw {
        rng.range(half_w, fw - half_w)
    } else {
        fw / 2.0
    };
    let cy = if half_h * 2.0 < fh {
        rng.range(half_h, fh - half_h)
    } else {
        fh / 2.0
    };
    let mut m = imgproc::get_rotation_matrix_2d(centre, angle, scale).unwrap();
    *m.at_2d_mut::<f64>(0, 2).unwrap() += cx - f64::from(centre.x);
    *m.at_2d_mut::<f64>(1, 2).unwrap() += cy - f64::from(centre.y);
    let mut warped = Mat::default();
    imgproc::warp_affine(
        &bgra,
        &mut warped,
        &m,
        FRAME,
        imgproc::INTER_LINEAR,
        core::BORDER_CONSTANT,
        Scalar::all(0.0),
    )
    .unwrap();
    let mut fg = Mat::default();
    imgproc::cvt_color(&warped, &mut fg, imgproc::COLOR_BGRA2BGR, 0).unwrap();
    let mut warped_alpha = Mat::default();
    core::extract_channel(&warped, &mut warped_alpha, 3).unwrap();
    let mut weight_fg = Mat::default();
    warped_alpha
        .convert_to(&mut weight_fg, core::CV_32F, 1.0 / 255.0, 0.0)
        .unwrap();
    let mut weight_bg = Mat::default();
    weight_fg
        .convert_to(&mut weight_bg, core::CV_32F, -1.0, 1.0)
        .unwrap();
    let mut blended = Mat::default();
    imgproc::blend_linear(&fg, background, &weight_fg, &weight_bg, &mut blended).unwrap();
    let mut solid = Mat::default();
    imgproc::threshold(
        &warped_alpha,
        &mut solid,
        127.0,
        255.0,
        imgproc::THRESH_BINARY,
    )
    .unwrap();
    let truth = imgproc::bounding_rect(&solid).unwrap();
    let mut jpeg = Vector::<u8>::new();
    imgcodecs::imencode(
        ".jpg",
        &blended,
        &mut jpeg,
        &Vector::from_slice(&[imgcodecs::IMWRITE_JPEG_QUALITY, 80]),
    )
    .unwrap();
    let frame = imgcodecs::imdecode(&jpeg, imgcodecs::IMREAD_COLOR).unwrap();
    HeldUp {
        frame,
        truth,
        mask: solid,
    }
}

fn iou(a: Rect, b: Rect) -> f64 {
    let inter = (a & b).area();
    let union = a.area() + b.area() - inter;
    f64::from(inter) / f64::from(union.max(1))
}

#[test]
fn held_up_garments_are_found_in_the_catalogue() {
    let catalogue = catalogue();
    let mut index = CatalogueIndex::new();
    let start = Instant::now();
    for (product, png) in catalogue {
        index
            .add_product(&product.sku, &product.category, png)
            .unwrap();
    }
    let add_ms = start.elapsed().as_secs_f64() * 1000.0 / catalogue.len() as f64;
    assert_eq!(index.len(), catalogue.len());
    assert!(!index.is_empty());

    // Products whose rendered images are byte-identical (same template, colours and
    // pattern) cannot be told apart by any method; counted only for the report.
    let mut twins: BTreeMap<&[u8], Vec<&str>> = BTreeMap::new();
    for (product, png) in catalogue {
        twins.entry(png.as_slice()).or_default().push(&product.sku);
    }
    let twin_of = |a: &str, b: &str| {
        twins
            .values()
            .any(|group| group.contains(&a) && group.contains(&b))
    };

    let backgrounds = backgrounds();
    // GARMENTS_SEED=<u64> tries other poses; the asserted figures are for the default.
    let seed = std::env::var("GARMENTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x006a_726d_656e_7473);
    let mut rng = Rng(seed);
    let (mut top1, mut top3, mut top1_twin, mut with_region, mut region_hits) = (0, 0, 0, 0, 0);
    let (mut colour_hits, mut pattern_hits) = (0, 0);
    let mut query_time = 0.0;
    let mut per_category: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (i, (product, png)) in catalogue.iter().enumerate() {
        let HeldUp { frame, truth, mask } =
            held_up(png, &backgrounds[i % backgrounds.len()], &mut rng);
        // Colour and pattern of the garment as the camera sees it (k = 0: no search).
        let reading = describe_garment(&frame, truth, Some(&mask), &index, 0).unwrap();
        colour_hits += usize::from(reading.colour == Some(product.colours[0].as_str()));
        pattern_hits += usize::from(
            Some(reading.pattern) == Pattern::from_catalogue(product.pattern.as_deref()),
        );
        let start = Instant::now();
        let matches = index.best_matches(&frame, None, 3).unwrap();
        query_time += start.elapsed().as_secs_f64();
        assert!(matches.len() <= 3);
        let entry = per_category.entry(product.category.as_str()).or_default();
        entry.1 += 1;
        if matches.iter().any(|m| m.sku == product.sku) {
            top3 += 1;
            entry.0 += 1;
        }
        if let Some(first) = matches.first() {
            if twin_of(&first.sku, &product.sku) || first.sku == product.sku {
                top1_twin += 1;
            }
            if first.sku == product.sku {
                top1 += 1;
                if let Some(region) = first.region {
                    with_region += 1;
                    if iou(region, truth) >= 0.5 {
                        region_hits += 1;
                    }
                }
            }
        }
        if std::env::var_os("GARMENTS_VERBOSE").is_some()
            && !matches.iter().any(|m| m.sku == product.sku)
        {
            eprintln!("  miss {} ({}): {matches:?}", product.sku, product.category);
        }
    }
    let n = catalogue.len();
    let (rate1, rate3) = (percent(top1, n), percent(top3, n));
    let region_rate = percent(region_hits, with_region);
    eprintln!("held-up garments: top-1 {top1}/{n} = {rate1:.3}, top-3 {top3}/{n} = {rate3:.3}");
    eprintln!(
        "  top-1 counting byte-identical product images as equal: {top1_twin}/{n} = {:.3} ({} distinct images)",
        percent(top1_twin, n),
        twins.len()
    );
    eprintln!(
        "  correct top-1 with a region: {with_region}/{top1}; IoU >= 0.5 for {region_hits} = {region_rate:.3}"
    );
    eprintln!(
        "  on the held-up frames (true box and mask): colour {:.3}, pattern {:.3}",
        percent(colour_hits, n),
        percent(pattern_hits, n)
    );
    for (category, (hits, total)) in &per_category {
        eprintln!("  {category}: top-3 {hits}/{total}");
    }
    eprintln!(
        "  add_product {add_ms:.1} ms/product; best_matches {:.1} ms/frame ({}x{})",
        query_time * 1000.0 / n as f64,
        FRAME.width,
        FRAME.height
    );
    assert!(rate3 >= TOP3_RATE, "top-3 rate {rate3:.3} < {TOP3_RATE}");
    assert!(
        percent(colour_hits, n) >= HELD_UP_READING_RATE
            && percent(pattern_hits, n) >= HELD_UP_READING_RATE,
        "held-up colour {colour_hits}/{n}, pattern {pattern_hits}/{n}"
    );
    assert!(
        region_rate >= REGION_RATE && with_region * 10 >= top1 * 8,
        "regions: {region_hits}/{with_region} overlap, {with_region}/{top1} present"
    );
}

#[test]
fn describe_garment_reads_a_held_up_product() {
    let catalogue = catalogue();
    let mut index = CatalogueIndex::new();
    for (product, png) in catalogue {
        index
            .add_product(&product.sku, &product.category, png)
            .unwrap();
    }
    // A striped product held up in front of the coffee photo.
    let (product, png) = catalogue
        .iter()
        .find(|(p, _)| p.pattern.as_deref() == Some("striped") && p.category == "t-shirt")
        .unwrap();
    let mut rng = Rng(7);
    let HeldUp { frame, truth, .. } = held_up(png, &backgrounds()[0], &mut rng);
    let reading = describe_garment(&frame, truth, None, &index, 3).unwrap();
    eprintln!("{} read as {reading:?}", product.sku);
    assert_eq!(reading.colour, Some(product.colours[0].as_str()));
    assert!(reading.candidates.iter().any(|m| m.sku == product.sku));
    // A region off the frame reads as nothing.
    let off = describe_garment(&frame, Rect::new(5000, 5000, 10, 10), None, &index, 3).unwrap();
    assert!(off.colour.is_none() && off.candidates.is_empty());
}
