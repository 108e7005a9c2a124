//! `POST /v1/images/generations`: a described garment comes out in the named category
//! and colour, the same seed gives the same pixels, `n` images vary, `url` images are
//! served, and a remote OpenAI-compatible back end is used when configured, with the
//! local renderer answering when it fails.
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use std::collections::HashMap;
use std::time::Duration;

use image::RgbaImage;
use protocol::tryon::ImageGenerationResponse;
use protocol::vocabulary::{CATEGORIES, PALETTE};
use serde_json::{Value, json};
use service_kit::config::{ImageBackend, TryonConfig};

async fn generate_on(base: &str, body: Value) -> ImageGenerationResponse {
    let (status, answer) = common::post(base, "/v1/images/generations", &body).await;
    assert_eq!(status, 200, "{body}: {answer}");
    serde_json::from_value(answer).unwrap()
}

async fn generate(body: Value) -> ImageGenerationResponse {
    generate_on(common::tryon(), body).await
}

fn decode(png: &[u8]) -> RgbaImage {
    image::load_from_memory_with_format(png, image::ImageFormat::Png)
        .unwrap()
        .to_rgba8()
}

fn pngs(response: &ImageGenerationResponse) -> Vec<Vec<u8>> {
    response
        .data
        .iter()
        .map(|d| common::unb64(d.b64_json.as_deref().unwrap()))
        .collect()
}

/// The most frequent opaque colour, channels bucketed by 8 (anti-aliasing and weave
/// marks do not split the count), averaged within its bucket.
fn dominant(image: &RgbaImage) -> [u8; 3] {
    let mut counts: HashMap<[u8; 3], (usize, [u64; 3])> = HashMap::new();
    for p in image.pixels().filter(|p| p[3] == 255) {
        let entry = counts.entry([p[0] / 8, p[1] / 8, p[2] / 8]).or_default();
        entry.0 += 1;
        for c in 0..3 {
            entry.1[c] += u64::from(p[c]);
        }
    }
    let (_, (n, sums)) = counts
        .into_iter()
        .max_by_key(|(b, (n, _))| (*n, *b))
        .unwrap();
    sums.map(|s| u8::try_from(s / n as u64).unwrap())
}

/// Which pixels are garment (alpha above a half).
fn silhouette(image: &RgbaImage) -> Vec<bool> {
    image.pixels().map(|p| p[3] >= 128).collect()
}

fn silhouette_iou(a: &[bool], b: &[bool]) -> f32 {
    let inter = a.iter().zip(b).filter(|(x, y)| **x && **y).count();
    let union = a.iter().zip(b).filter(|(x, y)| **x || **y).count();
    inter as f32 / union.max(1) as f32
}

/// The category whose plain template's silhouette the image matches best.
fn category_of(image: &RgbaImage) -> &'static str {
    let shape = silhouette(image);
    CATEGORIES
        .iter()
        .map(|category| {
            let reference = garment_art::render_garment_rgba(
                &garment_art::GarmentSpec {
                    category: (*category).to_owned(),
                    colours: vec!["grey".into()],
                    details: if *category == "shoes" {
                        "boots".into()
                    } else {
                        String::new()
                    },
                    ..garment_art::GarmentSpec::default()
                },
                image.width(),
                image.height(),
            );
            let reference =
                RgbaImage::from_raw(reference.width, reference.height, reference.pixels).unwrap();
            (*category, silhouette_iou(&shape, &silhouette(&reference)))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap()
        .0
}

#[tokio::test(flavor = "multi_thread")]
async fn a_described_garment_has_its_category_and_colour() {
    let cases = [
        (
            "a pink striped linen shirt",
            "shirt",
            "pink",
            "pink striped linen shirt",
        ),
        ("Navy wool jumper", "sweater", "navy", "navy wool sweater"),
        ("a red summer dress", "dress", "red", "red dress"),
        (
            "yellow tartan skirt",
            "skirt",
            "yellow",
            "yellow checked skirt",
        ),
        (
            "black leather boots",
            "shoes",
            "black",
            "black leather shoes",
        ),
        (
            "an olive corduroy blazer",
            "jacket",
            "olive",
            "olive corduroy jacket",
        ),
        (
            "white tee with blue polka dots",
            "t-shirt",
            "white",
            "white and blue polka-dot t-shirt",
        ),
    ];
    let mut sheet = image::RgbaImage::from_pixel(
        8 + cases.len() as u32 * 264,
        528,
        image::Rgba([236, 236, 232, 255]),
    );
    for (i, (prompt, category, colour, revised)) in cases.into_iter().enumerate() {
        let response = generate(json!({"prompt": prompt, "size": "512x512"})).await;
        assert_eq!(response.data.len(), 1);
        assert_eq!(
            response.data[0].revised_prompt.as_deref(),
            Some(revised),
            "{prompt}"
        );
        let image = decode(&pngs(&response)[0]);
        let thumb =
            image::imageops::resize(&image, 256, 256, image::imageops::FilterType::Triangle);
        image::imageops::overlay(&mut sheet, &thumb, 8 + i as i64 * 264, 8);
        let detail = image::imageops::crop_imm(&image, 128, 128, 256, 256).to_image();
        image::imageops::overlay(&mut sheet, &detail, 8 + i as i64 * 264, 264);
        assert_eq!(image.dimensions(), (512, 512));
        let expected = PALETTE.iter().find(|c| c.name == colour).unwrap().rgb;
        let got = dominant(&image);
        let off = (0..3).map(|c| expected[c].abs_diff(got[c])).max().unwrap();
        assert!(
            off <= 12,
            "{prompt}: dominant {got:?}, {colour} is {expected:?}"
        );
        assert_eq!(category_of(&image), category, "{prompt}");
    }
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("generated-garments.png");
    sheet.save(&path).unwrap();
    println!("contact sheet: {}", path.display());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_seed_gives_the_same_images_and_n_images_vary() {
    let request =
        |seed: u64| json!({"prompt": "a striped shirt", "n": 3, "size": "256x320", "seed": seed});
    let first = pngs(&generate(request(42)).await);
    let again = pngs(&generate(request(42)).await);
    let other = pngs(&generate(request(43)).await);
    assert_eq!(first.len(), 3);
    assert_eq!(first, again, "same seed, same pixels");
    assert_ne!(first, other, "another seed, other images");
    assert!(first[0] != first[1] && first[1] != first[2] && first[0] != first[2]);
    for png in &first {
        assert_eq!(decode(png).dimensions(), (256, 320));
    }
    // Without a seed, the prompt decides.
    let unseeded = json!({"prompt": "a striped shirt"});
    assert_eq!(
        pngs(&generate(unseeded.clone()).await),
        pngs(&generate(unseeded).await)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn url_images_are_served_by_the_service() {
    let body = |format: &str| json!({"prompt": "camel coat", "seed": 7, "response_format": format});
    let inline = pngs(&generate(body("b64_json")).await);
    let by_url = generate(body("url")).await;
    let url = by_url.data[0].url.as_deref().unwrap();
    assert!(url.starts_with(common::tryon()), "{url}");
    assert!(by_url.data[0].b64_json.is_none());
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    assert_eq!(response.bytes().await.unwrap().to_vec(), inline[0]);
}

/// A free loopback port (closed again; the binary binds it right after).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remote_back_end_is_used_and_a_failing_one_falls_back() {
    // The remote: another tryon, as its own process (it speaks the OpenAI API).
    let port = free_port();
    let remote_url = format!("http://127.0.0.1:{port}");
    let _remote = tokio::process::Command::new(env!("CARGO_BIN_EXE_tryon"))
        .env("SHOP_TRYON__HOST", "127.0.0.1")
        .env("SHOP_TRYON__PORT", port.to_string())
        .env("SHOP_TELEMETRY__LEVEL", "warn")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    tokio::time::timeout(Duration::from_secs(60), common::wait_ready(&remote_url))
        .await
        .unwrap();

    let request = json!({"prompt": "a green checked flannel shirt", "n": 2, "seed": 5});
    let local = pngs(&generate(request.clone()).await);

    let via_remote = common::start_tryon(TryonConfig {
        image_backend: ImageBackend::Remote,
        remote_url: Some(remote_url.clone()),
        ..TryonConfig::default()
    });
    let answer = generate_on(&via_remote, request.clone()).await;
    assert_eq!(pngs(&answer), local, "the remote drew the same garments");
    assert!(answer.data[0].revised_prompt.is_none(), "drawn remotely");
    let metrics = reqwest::get(format!("{remote_url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"tryon_generated_images_total{backend="local"} 2"#),
        "{metrics}"
    );

    // A remote that is down: the local renderer answers.
    let dead = common::start_tryon(TryonConfig {
        image_backend: ImageBackend::Remote,
        remote_url: Some(format!("http://127.0.0.1:{}", free_port())),
        remote_timeout_ms: 2000,
        ..TryonConfig::default()
    });
    let answer = generate_on(&dead, request).await;
    assert_eq!(pngs(&answer), local);
    assert!(answer.data[0].revised_prompt.is_some(), "drawn locally");
}
