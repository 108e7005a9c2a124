//! Try-on and generation speed and memory, printed as JSON (`cargo bench -p tryon`).
//!
//! - try-on of a 1280x720 photo (the astronaut portrait scaled to 720 rows and widened
//!   with mirrored borders, like a kiosk camera frame): the worker's time (decode,
//!   analysis, warp, blend, PNG encode) and the whole HTTP request with the real
//!   catalog in-process, p50 and p95;
//! - generation of a 512x512 garment image: the renderer alone and the HTTP request;
//! - peak resident memory of the process (VmHWM), catalog included.
#![allow(clippy::unwrap_used, reason = "bench")]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use image::{RgbImage, imageops};
use image_input::ImageLimits;
use serde_json::json;
use service_kit::config::Config;
use tryon::compose::{self, GarmentSource, Settings};
use tryon::garment::Kind;

const RUNS: usize = 30;

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let rank = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[rank]
}

/// The astronaut portrait as a 1280x720 landscape frame.
fn kiosk_frame() -> Vec<u8> {
    let portrait = image::load_from_memory(&common::photo("astronaut.png"))
        .unwrap()
        .to_rgb8();
    let scaled = imageops::resize(&portrait, 720, 720, imageops::FilterType::Triangle);
    let mut frame = RgbImage::new(1280, 720);
    for y in 0..720 {
        for x in 0..1280u32 {
            // Mirror the portrait's borders outwards.
            let sx = x as i64 - 280;
            let sx = if sx < 0 {
                -sx
            } else if sx >= 720 {
                2 * 719 - sx
            } else {
                sx
            };
            frame.put_pixel(x, y, *scaled.get_pixel(sx.clamp(0, 719) as u32, y));
        }
    }
    let mut jpeg = Vec::new();
    frame
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    jpeg
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

fn main() {
    let frame = kiosk_frame();
    let config = Config::default();
    let detector = tryon::load_detector(&config).unwrap();
    let products: Vec<protocol::catalog::Product> = serde_json::from_str(
        &std::fs::read_to_string(common::fixtures().join("catalog/products.json")).unwrap(),
    )
    .unwrap();
    let product = products
        .iter()
        .find(|p| p.sku == "SWT-1001-PNK")
        .unwrap()
        .clone();
    let catalogue_png = garment_art::render_product_image(&product);
    let limits = ImageLimits {
        max_pixels: config.tryon.max_image_pixels,
        max_side: config.tryon.max_image_side,
    };
    let settings = Settings {
        analysis_side: config.tryon.analysis_side,
        limits,
    };

    // The worker's part of one try-on.
    let mut worker = Vec::new();
    let mut stages: Vec<(&str, Vec<f64>)> = Vec::new();
    let (mut decoding, mut encoding) = (Vec::new(), Vec::new());
    for run in 0..RUNS + 3 {
        let started = Instant::now();
        let photo = image_input::check("photo", frame.clone(), limits)
            .unwrap()
            .rgb()
            .unwrap();
        let decoded = started.elapsed();
        let fitted = compose::try_on(
            photo,
            GarmentSource::Product {
                product: Box::new(product.clone()),
                image_png: catalogue_png.clone(),
            },
            Kind::Top,
            &detector,
            settings,
        )
        .unwrap();
        let before_encoding = Instant::now();
        let png = image_input::encode_png(&fitted.image).unwrap();
        assert!(!png.is_empty());
        if run >= 3 {
            worker.push(started.elapsed().as_secs_f64() * 1000.0);
            decoding.push(decoded.as_secs_f64() * 1000.0);
            encoding.push(before_encoding.elapsed().as_secs_f64() * 1000.0);
            for (name, spent) in fitted.stages.named() {
                match stages.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, samples)) => samples.push(spent.as_secs_f64() * 1000.0),
                    None => stages.push((name, vec![spent.as_secs_f64() * 1000.0])),
                }
            }
        }
    }

    // Generation by the renderer alone.
    let parsed = tryon::generate::parse_prompt("a pink striped linen shirt").unwrap();
    let mut render = Vec::new();
    for seed in 0..RUNS as u64 + 3 {
        let started = Instant::now();
        let images = tryon::generate::render_local(&parsed, seed, 1, (512, 512));
        assert_eq!(images.len(), 1);
        if seed >= 3 {
            render.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }

    // Before the catalog starts: what the try-on work itself needs.
    let rss_tryon = peak_rss_mib();

    // Whole HTTP requests, catalog in-process.
    let base = common::tryon();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let body = json!({"photo_base64": common::b64(&frame), "sku": "SWT-1001-PNK"});
    let generation = json!({"prompt": "a pink striped linen shirt", "size": "512x512"});
    let (mut http_tryon, mut http_generate) = (Vec::new(), Vec::new());
    runtime.block_on(async {
        for run in 0..RUNS + 3 {
            let started = Instant::now();
            let (status, _) = common::post(base, "/v1/tryon", &body).await;
            assert_eq!(status, 200);
            if run >= 3 {
                http_tryon.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            let started = Instant::now();
            let (status, _) = common::post(base, "/v1/images/generations", &generation).await;
            assert_eq!(status, 200);
            if run >= 3 {
                http_generate.push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
    });

    let report = json!({
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "runs": RUNS,
        "tryon_1280x720": {
            "worker_ms_p50": percentile(&mut worker, 0.5),
            "worker_ms_p95": percentile(&mut worker, 0.95),
            "http_ms_p50": percentile(&mut http_tryon, 0.5),
            "http_ms_p95": percentile(&mut http_tryon, 0.95),
            "goal_ms": 500,
            "stages_ms_p50": {
                "decode_jpeg": percentile(&mut decoding, 0.5),
                "face": percentile(&mut stages[0].1, 0.5),
                "outline": percentile(&mut stages[1].1, 0.5),
                "garment": percentile(&mut stages[2].1, 0.5),
                "warp": percentile(&mut stages[3].1, 0.5),
                "blend": percentile(&mut stages[4].1, 0.5),
                "encode_png": percentile(&mut encoding, 0.5),
            },
        },
        "generation_512x512": {
            "render_ms_p50": percentile(&mut render, 0.5),
            "http_ms_p50": percentile(&mut http_generate, 0.5),
        },
        "peak_rss_mib_tryon_work": rss_tryon,
        "peak_rss_mib_with_catalog_in_process": peak_rss_mib(),
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    std::process::exit(0);
}
