//! Vision benchmark: prints one JSON object.
//!
//! On a 640 × 480 kiosk frame (a head-and-shoulders portrait from the fixtures):
//! - face detection + quality + embedding, frames per second on one worker, and on
//!   `workers` workers at once (the service's default, one per core);
//! - a whole `POST /v1/vision/analyze?identify=true` call (decode, faces, embedding,
//!   garments against the indexed fixture catalogue, identification through a real
//!   catalog) p50/p95 over HTTP on loopback, and the same without garments (the
//!   kiosk's recognition loop);
//! - peak resident memory of the process (models of every worker, the catalogue image
//!   index, and the in-process catalog with its embedding model).
//!
//! Run: `cargo bench -p vision --bench vision`
#![allow(
    clippy::unwrap_used,
    reason = "a benchmark; a failure is a crash with its message"
)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use opencv::core::{Mat, Scalar, Size, Vector};
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc};
use serde_json::json;
use service_kit::config::VisionConfig;
use vision::decode::{ImageLimits, decode};
use vision::faces::{FaceAnalyzer, FaceModelFiles};

const LIMITS: ImageLimits = ImageLimits {
    max_pixels: 16_000_000,
    max_side: 8192,
};

fn analyzer() -> FaceAnalyzer {
    let vision = VisionConfig::default();
    let files = FaceModelFiles::verify(&common::models_dir(), &vision).unwrap();
    FaceAnalyzer::load(&files, &vision).unwrap()
}

/// obama.jpg fitted into 640 × 480, grey bars at the sides: a kiosk camera's framing.
fn kiosk_frame_jpeg() -> Vec<u8> {
    let photo = imgcodecs::imdecode(
        &Vector::from_slice(&common::photo("obama.jpg")),
        imgcodecs::IMREAD_COLOR,
    )
    .unwrap();
    let scale = 480.0 / f64::from(photo.rows());
    let mut scaled = Mat::default();
    imgproc::resize(
        &photo,
        &mut scaled,
        Size::default(),
        scale,
        scale,
        imgproc::INTER_AREA,
    )
    .unwrap();
    let pad = 640 - scaled.cols();
    let mut frame = Mat::default();
    opencv::core::copy_make_border(
        &scaled,
        &mut frame,
        0,
        480 - scaled.rows(),
        pad / 2,
        pad - pad / 2,
        opencv::core::BORDER_CONSTANT,
        Scalar::all(128.0),
    )
    .unwrap();
    let mut jpeg = Vector::<u8>::new();
    let params = Vector::from_slice(&[imgcodecs::IMWRITE_JPEG_QUALITY, 85]);
    imgcodecs::imencode(".jpg", &frame, &mut jpeg, &params).unwrap();
    jpeg.to_vec()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn main() {
    let jpeg = kiosk_frame_jpeg();
    let frame = decode("test image", &jpeg, LIMITS).unwrap();
    assert_eq!((frame.width(), frame.height()), (640, 480));

    // One worker: detection, quality and embedding of the face.
    let mut one = analyzer();
    let faces = one.analyze(&frame, true).unwrap();
    assert!(
        faces.first().is_some_and(|f| f.embedding.is_some()),
        "the bench frame has a usable face"
    );
    let rounds = 40;
    let started = Instant::now();
    for _ in 0..rounds {
        one.analyze(&frame, true).unwrap();
    }
    let one_worker_fps = f64::from(rounds) / started.elapsed().as_secs_f64();
    let started = Instant::now();
    for _ in 0..rounds {
        one.analyze(&frame, false).unwrap();
    }
    let detect_only_fps = f64::from(rounds) / started.elapsed().as_secs_f64();

    // As many workers as the service runs by default, each on its own thread.
    let workers = VisionConfig::default().workers;
    // As the service does with several workers: one OpenCV thread each.
    opencv::core::set_num_threads(1).unwrap();
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let jpeg = &jpeg;
            scope.spawn(move || {
                let mut analyzer = analyzer();
                let frame = decode("test image", jpeg, LIMITS).unwrap();
                for _ in 0..rounds {
                    analyzer.analyze(&frame, true).unwrap();
                }
            });
        }
    });
    // Model loading is part of this wall time; subtract it by timing one load.
    let load_started = Instant::now();
    drop(analyzer());
    let load = load_started.elapsed().as_secs_f64();
    let all_workers_fps =
        f64::from(rounds) * workers as f64 / (started.elapsed().as_secs_f64() - load).max(1e-3);

    // The whole call over HTTP, with identification and garments.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (p50, p95, faces_p50, faces_p95, decode_ms) = runtime.block_on(async {
        let vision = common::vision();
        // Enrol someone else so identification searches a non-empty store.
        let client = reqwest::Client::new();
        common::wait_for_catalogue_index(vision, {
            // Any frame without a face, once the index exists, shows its garments.
            let products: Vec<protocol::catalog::Product> = serde_json::from_str(
                &std::fs::read_to_string(common::fixtures().join("catalog/products.json")).unwrap(),
            )
            .unwrap();
            catalog::fixtures::images::render_product_image(&products[0])
        })
        .await;
        let mut times = Vec::new();
        for _ in 0..60 {
            let started = Instant::now();
            let response = client
                .post(format!("{vision}/v1/vision/analyze?identify=true"))
                .body(jpeg.clone())
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success());
            let _ = response.bytes().await.unwrap();
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let mut faces_only = Vec::new();
        for _ in 0..60 {
            let started = Instant::now();
            let response = client
                .post(format!(
                    "{vision}/v1/vision/analyze?identify=true&garments=false"
                ))
                .body(jpeg.clone())
                .send()
                .await
                .unwrap();
            assert!(response.status().is_success());
            let _ = response.bytes().await.unwrap();
            faces_only.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        faces_only.sort_by(f64::total_cmp);
        let started = Instant::now();
        for _ in 0..20 {
            decode("test image", &jpeg, LIMITS).unwrap();
        }
        let decode_ms = started.elapsed().as_secs_f64() * 1000.0 / 20.0;
        (
            percentile(&times, 0.5),
            percentile(&times, 0.95),
            percentile(&faces_only, 0.5),
            percentile(&faces_only, 0.95),
            decode_ms,
        )
    });
    std::thread::sleep(Duration::from_millis(10));

    let report = json!({
        "machine_cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "frame": "640x480 JPEG, one face",
        "face_detect_embed_fps_one_worker": (one_worker_fps * 10.0).round() / 10.0,
        "face_detect_quality_fps_one_worker": (detect_only_fps * 10.0).round() / 10.0,
        "workers": workers,
        "face_detect_embed_fps_all_workers": (all_workers_fps * 10.0).round() / 10.0,
        "jpeg_decode_ms": (decode_ms * 100.0).round() / 100.0,
        "analyze_http_identify_garments_ms": {"p50": (p50 * 10.0).round() / 10.0, "p95": (p95 * 10.0).round() / 10.0},
        "analyze_http_identify_only_ms": {"p50": (faces_p50 * 10.0).round() / 10.0, "p95": (faces_p95 * 10.0).round() / 10.0},
        "peak_rss_mib": peak_rss_mib().round(),
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    // The in-process services run on their own threads; leave without tearing them down.
    std::process::exit(0);
}
