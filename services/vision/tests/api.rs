//! The vision API end to end: a real catalog (embedded Qdrant, fixture catalogue) and
//! the real vision service on ports chosen by the OS, driven over HTTP as the kiosk
//! drives them. Bad input gets a clear 4xx; a consenting customer is enrolled,
//! recognised on another photo, not confused with someone else, and forgotten.
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use protocol::vision::{AnalyzeResponse, GarmentKind};
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

async fn analyze(bytes: Vec<u8>, query: &str) -> reqwest::Response {
    client()
        .post(format!("{}/v1/vision/analyze{query}", common::vision()))
        .body(bytes)
        .send()
        .await
        .unwrap()
}

async fn error_code(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// A PNG whose header declares 50,000 × 50,000 pixels (7.5 GB decoded) and whose
/// image data is a few kilobytes of zlib-compressed zeros: a decompression bomb.
fn png_bomb() -> Vec<u8> {
    use std::io::Write as _;
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        out.extend(kind);
        out.extend(data);
        let mut crc = flate2::Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend(crc.sum().to_be_bytes());
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(50_000u32.to_be_bytes());
    ihdr.extend(50_000u32.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, no interlace
    chunk(&mut png, b"IHDR", &ihdr);
    let mut zeros = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    zeros.write_all(&vec![0u8; 4 * 1024 * 1024]).unwrap();
    chunk(&mut png, b"IDAT", &zeros.finish().unwrap());
    chunk(&mut png, b"IEND", &[]);
    png
}

#[tokio::test]
async fn bad_images_get_a_clear_4xx_each() {
    let jpeg = common::photo("messi5.jpg");
    let mut corrupt = jpeg[..jpeg.len() / 3].to_vec();
    corrupt.extend(std::iter::repeat_n(0x5a, 2000));
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;".to_vec();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("zero bytes", Vec::new(), 400, "empty_image"),
        ("a truncated, corrupt JPEG", corrupt, 400, "corrupt_image"),
        ("a 50,000 x 50,000 PNG", png_bomb(), 413, "image_too_large"),
        ("a GIF", gif, 415, "unsupported_image_format"),
        (
            "text",
            b"hello, this is not an image".to_vec(),
            415,
            "unsupported_image_format",
        ),
        (
            "a body over the limit",
            vec![0xff; 9 * 1024 * 1024],
            413,
            "body_too_large",
        ),
    ];
    for (what, bytes, status, code) in cases {
        let started = Instant::now();
        let (got_status, got_code, message) = error_code(analyze(bytes, "").await).await;
        eprintln!(
            "{what}: {got_status} {got_code} ({message}) in {:?}",
            started.elapsed()
        );
        assert_eq!(
            (got_status, got_code.as_str()),
            (status, code),
            "{what}: {message}"
        );
        assert!(!message.is_empty(), "{what}: the message says what to fix");
    }
    // The service is still fine afterwards.
    let response = analyze(common::photo("messi5.jpg"), "").await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_face_is_found_with_box_landmarks_and_quality() {
    let response = analyze(common::photo("obama.jpg"), "?garments=false").await;
    assert_eq!(response.status(), 200);
    let analysis: AnalyzeResponse = response.json().await.unwrap();
    assert_eq!(
        analysis.faces.len(),
        1,
        "one person in the photo: {analysis:?}"
    );
    let face = &analysis.faces[0];
    assert_eq!(face.landmarks.len(), 5, "eye corners and nose");
    for point in &face.landmarks {
        assert!(
            point.x >= face.bbox.x && point.x <= face.bbox.x + face.bbox.width,
            "landmarks lie in the face box"
        );
    }
    assert!(
        face.quality >= 0.5,
        "a good portrait: quality {}",
        face.quality
    );
    assert!(face.identity.is_none(), "identification was not asked for");
    assert!(analysis.width > 0 && analysis.height > 0);
}

#[tokio::test]
async fn a_consenting_customer_is_enrolled_recognised_and_forgotten() {
    let vision = common::vision();
    let photo = base64::engine::general_purpose::STANDARD.encode(common::photo("obama.jpg"));
    let enrolment = json!({
        "name": "Barack",
        "consent": {
            "given_by": "Barack",
            "purpose": "recognise me at this store's kiosks",
            "kiosk_id": "kiosk-test",
            "given_at_unix": 1_764_000_000u64
        },
        "photos_base64": [photo],
        "sizes": {"shirt": "L"}
    });
    let response = client()
        .post(format!("{vision}/v1/vision/enrol"))
        .json(&enrolment)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let record: Value = response.json().await.unwrap();
    let id = record["id"].as_str().unwrap().to_owned();
    assert!(
        record.get("face_embeddings").is_none(),
        "embeddings never come back outside an export"
    );

    // Another photo of him, taken elsewhere: recognised.
    let analysis: AnalyzeResponse = analyze(common::photo("obama2.jpg"), "?identify=true")
        .await
        .json()
        .await
        .unwrap();
    let identity = analysis.faces[0].identity.as_ref().expect("recognised");
    assert_eq!(identity.customer_id, id);
    assert!(identity.confidence > 0.0 && identity.confidence <= 1.0);

    // Someone else: not him.
    let analysis: AnalyzeResponse = analyze(common::photo("biden.jpg"), "?identify=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(analysis.faces.len(), 1);
    assert!(
        analysis.faces[0].identity.is_none(),
        "a stranger is not greeted as Barack"
    );

    // Forgotten: no longer recognised.
    let deleted = client()
        .delete(format!("{}/v1/customers/{id}", common::catalog()))
        .bearer_auth(common::SERVICE_TOKEN)
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success(), "{}", deleted.status());
    let analysis: AnalyzeResponse = analyze(common::photo("obama2.jpg"), "?identify=true")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        analysis.faces[0].identity.is_none(),
        "forgotten means not recognised"
    );
}

#[tokio::test]
async fn enrolment_refuses_photos_without_a_usable_face() {
    let vision = common::vision();
    let consent = json!({
        "given_by": "Ann", "purpose": "recognise me", "kiosk_id": "k", "given_at_unix": 1u64
    });
    let encode = |bytes: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(bytes);
    let cases = vec![
        (
            "no face",
            json!({"name": "Ann", "consent": consent, "photos_base64": [encode(common::photo("coffee.png"))]}),
            422,
            "no_face",
        ),
        (
            "not base64",
            json!({"name": "Ann", "consent": consent, "photos_base64": ["%%%not base64%%%"]}),
            400,
            "invalid_base64",
        ),
        (
            "no photo",
            json!({"name": "Ann", "consent": consent, "photos_base64": []}),
            400,
            "invalid_request",
        ),
        (
            "no consent",
            json!({"name": "Ann", "photos_base64": [encode(common::photo("obama.jpg"))]}),
            422,
            "invalid_request",
        ),
    ];
    for (what, body, status, code) in cases {
        let response = client()
            .post(format!("{vision}/v1/vision/enrol"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let (got_status, got_code, message) = error_code(response).await;
        assert_eq!(
            (got_status, got_code.as_str()),
            (status, code),
            "{what}: {message}"
        );
    }
}

#[tokio::test]
async fn a_garment_held_up_to_the_camera_is_matched_to_its_sku() {
    use opencv::core::{Mat, Vector};
    use opencv::imgcodecs;
    use opencv::prelude::*;

    let products: Vec<protocol::catalog::Product> = serde_json::from_str(
        &std::fs::read_to_string(common::fixtures().join("catalog/products.json")).unwrap(),
    )
    .unwrap();
    let product = products
        .iter()
        .find(|p| p.category == "sweater" && p.pattern.as_deref() == Some("striped"))
        .unwrap_or(&products[3]);
    let garment = imgcodecs::imdecode(
        &Vector::from_slice(&catalog::fixtures::images::render_product_image(product)),
        imgcodecs::IMREAD_UNCHANGED,
    )
    .unwrap();
    let mut background = imgcodecs::imdecode(
        &Vector::from_slice(&common::photo("coffee.png")),
        imgcodecs::IMREAD_COLOR,
    )
    .unwrap();
    // Paste it, alpha-blended, into the middle of the photo.
    let (gx, gy) = (160, 40);
    let mut bgra = Vector::<Mat>::new();
    opencv::core::split(&garment, &mut bgra).unwrap();
    for y in 0..garment.rows() {
        for x in 0..garment.cols() {
            let alpha = f32::from(*bgra.get(3).unwrap().at_2d::<u8>(y, x).unwrap()) / 255.0;
            let pixel = background
                .at_2d_mut::<opencv::core::Vec3b>(gy + y, gx + x)
                .unwrap();
            for c in 0..3 {
                let g = f32::from(*bgra.get(c).unwrap().at_2d::<u8>(y, x).unwrap());
                pixel[c] = (g * alpha + f32::from(pixel[c]) * (1.0 - alpha)).round() as u8;
            }
        }
    }
    let mut jpeg = Vector::<u8>::new();
    imgcodecs::imencode(".jpg", &background, &mut jpeg, &Vector::new()).unwrap();

    common::wait_for_catalogue_index(common::vision(), jpeg.to_vec()).await;
    let analysis: AnalyzeResponse = analyze(jpeg.to_vec(), "").await.json().await.unwrap();
    let garment = analysis
        .garments
        .first()
        .expect("the held-up garment is found");
    assert_eq!(garment.kind, GarmentKind::HeldUp);
    let skus: Vec<&str> = garment.candidates.iter().map(|c| c.sku.as_str()).collect();
    assert!(
        skus.contains(&product.sku.as_str()),
        "{} in {skus:?}",
        product.sku
    );
    assert_eq!(
        garment.colour, product.colours[0],
        "named by its catalogue colour"
    );
}
