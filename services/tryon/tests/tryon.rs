//! Try-on on real photos (fixtures/vision/photos): the garment lies where the
//! hand-annotated upper body is (fixtures/tryon/expected.json), her face is unchanged
//! to the pixel, the picture keeps its size, hands in front of the body stay in front.
//! A contact sheet of every result is written to the target folder to look at.
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use image::{Rgb, RgbImage, imageops};
use protocol::tryon::TryOnResponse;
use protocol::vision::BoundingBox;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
struct Expected {
    photos: Vec<ExpectedPhoto>,
}

#[derive(Deserialize)]
struct ExpectedPhoto {
    file: String,
    size: [u32; 2],
    upper_body: BoundingBox,
}

fn expected() -> Vec<ExpectedPhoto> {
    let path = common::fixtures().join("tryon/expected.json");
    let parsed: Expected = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    parsed.photos
}

fn iou(a: &BoundingBox, b: &BoundingBox) -> f32 {
    let x0 = a.x.max(b.x);
    let y0 = a.y.max(b.y);
    let x1 = (a.x + a.width).min(b.x + b.width);
    let y1 = (a.y + a.height).min(b.y + b.height);
    let inter = (x1 - x0).max(0.0) * (y1 - y0).max(0.0);
    inter / (a.width * a.height + b.width * b.height - inter)
}

fn decode_rgb(bytes: &[u8]) -> RgbImage {
    image::load_from_memory(bytes).unwrap().to_rgb8()
}

/// Tries `sku` on a fixture photo; the response and the input and output pictures.
async fn try_on(file: &str, sku: &str) -> (TryOnResponse, RgbImage, RgbImage) {
    let bytes = common::photo(file);
    let (status, body) = common::post(
        common::tryon(),
        "/v1/tryon",
        &json!({"photo_base64": common::b64(&bytes), "sku": sku}),
    )
    .await;
    assert_eq!(status, 200, "{file} {sku}: {body}");
    let response: TryOnResponse = serde_json::from_value(body).unwrap();
    let output = decode_rgb(&common::unb64(&response.png_base64));
    (response, decode_rgb(&bytes), output)
}

/// Largest difference of any channel inside `area`.
fn max_difference(a: &RgbImage, b: &RgbImage, area: &BoundingBox) -> u8 {
    let mut worst = 0;
    for y in area.y.max(0.0) as u32..((area.y + area.height) as u32).min(a.height()) {
        for x in area.x.max(0.0) as u32..((area.x + area.width) as u32).min(a.width()) {
            let (p, q) = (a.get_pixel(x, y), b.get_pixel(x, y));
            for c in 0..3 {
                worst = worst.max(p[c].abs_diff(q[c]));
            }
        }
    }
    worst
}

/// Share of pixels inside `area` that changed by more than a little.
fn changed_share(a: &RgbImage, b: &RgbImage, area: &BoundingBox) -> f32 {
    let (mut changed, mut total) = (0u32, 0u32);
    for y in area.y.max(0.0) as u32..((area.y + area.height) as u32).min(a.height()) {
        for x in area.x.max(0.0) as u32..((area.x + area.width) as u32).min(a.width()) {
            let (p, q) = (a.get_pixel(x, y), b.get_pixel(x, y));
            total += 1;
            if (0..3).any(|c| p[c].abs_diff(q[c]) > 12) {
                changed += 1;
            }
        }
    }
    changed as f32 / total.max(1) as f32
}

fn draw_box(image: &mut RgbImage, area: &BoundingBox, colour: [u8; 3], thickness: u32) {
    let (w, h) = image.dimensions();
    let x0 = area.x.max(0.0) as u32;
    let y0 = area.y.max(0.0) as u32;
    let x1 = ((area.x + area.width) as u32).min(w).max(x0 + 1) - 1;
    let y1 = ((area.y + area.height) as u32).min(h).max(y0 + 1) - 1;
    for t in 0..thickness {
        for x in x0..=x1 {
            for y in [y0.saturating_add(t).min(h - 1), y1.saturating_sub(t)] {
                image.put_pixel(x, y, Rgb(colour));
            }
        }
        for y in y0..=y1 {
            for x in [x0.saturating_add(t).min(w - 1), x1.saturating_sub(t)] {
                image.put_pixel(x, y, Rgb(colour));
            }
        }
    }
}

/// Pictures side by side, each scaled to `height`, on a light background; written to
/// the target folder and its path printed.
fn contact_sheet(name: &str, pictures: &[RgbImage], height: u32) {
    let scaled: Vec<RgbImage> = pictures
        .iter()
        .map(|p| {
            let width = (p.width() as f32 * height as f32 / p.height() as f32).round() as u32;
            imageops::resize(p, width.max(1), height, imageops::FilterType::Triangle)
        })
        .collect();
    let pad = 8;
    let width: u32 = scaled.iter().map(|p| p.width() + pad).sum::<u32>() + pad;
    let mut sheet = RgbImage::from_pixel(width, height + 2 * pad, Rgb([236, 236, 232]));
    let mut x = pad;
    for p in &scaled {
        imageops::replace(&mut sheet, p, i64::from(x), i64::from(pad));
        x += p.width() + pad;
    }
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    sheet.save(&path).unwrap();
    println!("contact sheet: {}", path.display());
}

/// A top per photo, different kinds and patterns.
const TOPS: [(&str, &str); 5] = [
    ("obama.jpg", "SWT-1001-PNK"),
    ("obama2.jpg", "SHT-1002-WHT"),
    ("astronaut.png", "TEE-1003-NVY"),
    ("messi5.jpg", "BLS-1001-PNK"),
    ("biden.jpg", "JKT-1001-OLV"),
];

#[tokio::test(flavor = "multi_thread")]
async fn tops_lie_on_the_upper_body_and_leave_the_face_unchanged() {
    let mut failures = Vec::new();
    let mut pictures = Vec::new();
    for photo in expected() {
        let sku = TOPS.iter().find(|(f, _)| *f == photo.file).unwrap().1;
        let (response, input, output) = try_on(&photo.file, sku).await;
        assert_eq!(input.dimensions(), (photo.size[0], photo.size[1]));
        assert_eq!(output.dimensions(), input.dimensions(), "{}", photo.file);
        assert_eq!((response.width, response.height), input.dimensions());
        let body = response.body.as_ref().unwrap();
        let face_change = max_difference(&input, &output, &body.face);
        if face_change != 0 {
            failures.push(format!(
                "{}: the face changed by up to {face_change}",
                photo.file
            ));
        }
        assert_eq!(response.regions.len(), 1, "{}", photo.file);
        let region = &response.regions[0];
        assert_eq!(
            (region.sku.as_str(), region.category.is_empty()),
            (sku, false)
        );
        let overlap = iou(&region.region, &photo.upper_body);
        println!(
            "{} {sku}: IoU {overlap:.2}, garment {:?}, expected {:?}, body {}",
            photo.file,
            region.region,
            photo.upper_body,
            serde_json::to_string(body).unwrap()
        );
        if overlap < 0.6 {
            failures.push(format!("{}: IoU {overlap:.2} < 0.6", photo.file));
        }
        let dressed = changed_share(&input, &output, &region.region);
        if dressed < 0.4 {
            failures.push(format!(
                "{}: only {:.0} % of the garment's box changed",
                photo.file,
                dressed * 100.0
            ));
        }
        let mut marked = output.clone();
        draw_box(&mut marked, &photo.upper_body, [40, 200, 40], 3);
        draw_box(&mut marked, &region.region, [230, 30, 30], 2);
        draw_box(&mut marked, &body.face, [250, 250, 250], 1);
        let single = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("tryon-{}.png", photo.file.replace('.', "-")));
        marked.save(&single).unwrap();
        pictures.push(input);
        pictures.push(marked);
    }
    contact_sheet("tryon-tops.png", &pictures, 420);
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Mean absolute difference of the channels inside `area`.
fn mean_difference(a: &RgbImage, b: &RgbImage, area: &BoundingBox) -> f32 {
    let (mut sum, mut n) = (0u64, 0u64);
    for y in area.y as u32..(area.y + area.height) as u32 {
        for x in area.x as u32..(area.x + area.width) as u32 {
            let (p, q) = (a.get_pixel(x, y), b.get_pixel(x, y));
            for c in 0..3 {
                sum += u64::from(p[c].abs_diff(q[c]));
                n += 1;
            }
        }
    }
    sum as f32 / n.max(1) as f32
}

fn area(x: f32, y: f32, width: f32, height: f32) -> BoundingBox {
    BoundingBox {
        x,
        y,
        width,
        height,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hands_in_front_of_the_body_stay_in_front_of_the_garment() {
    let (_, input, output) = try_on("obama.jpg", "SWT-1001-PNK").await;
    // His two hands on his crossed arms, and his jacket between them (annotated on the
    // photo).
    for hand in [
        area(625.0, 800.0, 80.0, 60.0),
        area(205.0, 880.0, 60.0, 50.0),
    ] {
        let change = mean_difference(&input, &output, &hand);
        assert!(change < 10.0, "a hand changed by {change:.1} on average");
    }
    let jacket = mean_difference(&input, &output, &area(420.0, 960.0, 120.0, 80.0));
    assert!(
        jacket > 60.0,
        "the jacket under the sweater changed by only {jacket:.1}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dresses_skirts_and_trousers_are_worn_below_the_waist() {
    let mut pictures = Vec::new();
    for sku in [
        "DRS-1004-YEL",
        "SKT-1001-RED",
        "TRS-1002-BEI",
        "JNS-1003-GRY",
    ] {
        let (response, input, output) = try_on("biden.jpg", sku).await;
        assert_eq!(output.dimensions(), input.dimensions());
        let body = response.body.as_ref().unwrap();
        let face_change = max_difference(&input, &output, &body.face);
        assert_eq!(face_change, 0, "{sku}: the face changed");
        let region = &response.regions[0].region;
        let shoulders = body.left_shoulder.y;
        let hips = body.left_hip.y;
        println!("{sku}: {region:?}, shoulders at {shoulders}, hips at {hips}");
        if sku.starts_with("DRS") {
            assert!(
                region.y < hips && region.y + region.height > hips,
                "{sku}: {region:?}"
            );
        } else {
            assert!(
                region.y > shoulders + 0.5 * (hips - shoulders),
                "{sku}: {region:?}"
            );
            assert!(region.y + region.height > hips, "{sku}: {region:?}");
        }
        assert!(changed_share(&input, &output, region) > 0.4, "{sku}");
        let mut marked = output;
        draw_box(&mut marked, region, [230, 30, 30], 3);
        pictures.push(marked);
    }
    contact_sheet("tryon-other-kinds.png", &pictures, 600);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_generated_garment_picture_can_be_worn() {
    let (status, generated) = common::post(
        common::tryon(),
        "/v1/images/generations",
        &json!({"prompt": "a mustard wool cardigan", "size": "512x640", "seed": 3}),
    )
    .await;
    assert_eq!(status, 200, "{generated}");
    let garment = generated["data"][0]["b64_json"].as_str().unwrap();
    let photo = expected()
        .into_iter()
        .find(|p| p.file == "astronaut.png")
        .unwrap();
    let (status, body) = common::post(
        common::tryon(),
        "/v1/tryon",
        &json!({
            "photo_base64": common::b64(&common::photo(&photo.file)),
            "garment_png_base64": garment,
            "category": "cardigan",
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let response: TryOnResponse = serde_json::from_value(body).unwrap();
    let region = &response.regions[0];
    assert_eq!(
        (region.sku.as_str(), region.category.as_str()),
        ("", "cardigan")
    );
    let overlap = iou(&region.region, &photo.upper_body);
    assert!(overlap >= 0.6, "IoU {overlap:.2}");
    let output = decode_rgb(&common::unb64(&response.png_base64));
    let mut marked = output;
    draw_box(&mut marked, &region.region, [230, 30, 30], 2);
    contact_sheet("tryon-generated-garment.png", &[marked], 512);
}
