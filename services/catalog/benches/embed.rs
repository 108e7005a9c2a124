//! Embedding throughput and query latency on this machine, printed as JSON:
//! `cargo bench -p catalog --bench embed`. Measured, never asserted (ingestion goal:
//! at least 200 products/s including embeddings; search goal: p99 <= 20 ms including
//! the query's embedding).
#![allow(
    clippy::unwrap_used,
    reason = "a benchmark: a failure is the run failing"
)]

use std::path::PathBuf;
use std::time::Instant;

use catalog::embed::Embedder;

const BATCH: usize = 32;
const TEXTS: usize = 256;

/// Product-description-length texts (title + description, 40-70 words), varied so
/// batches pad as real catalogue rows do.
fn descriptions() -> Vec<String> {
    let colours = [
        "pink", "navy", "white", "black", "olive", "burgundy", "grey", "camel",
    ];
    let garments = [
        (
            "wool sweater",
            "a soft crew neck knitted from fine merino wool with ribbed cuffs and hem",
        ),
        (
            "oxford shirt",
            "a button-down collar shirt in breathable cotton oxford cloth with a chest pocket",
        ),
        (
            "denim jacket",
            "a classic trucker jacket in rigid denim with brass buttons and flap pockets",
        ),
        (
            "midi skirt",
            "a pleated skirt that falls below the knee, fully lined, with a hidden side zip",
        ),
        (
            "leather boots",
            "ankle boots in full-grain leather with a stacked block heel and a rubber sole",
        ),
        (
            "tote bag",
            "a roomy shopper in pebbled leather with an inner zip pocket and magnetic closure",
        ),
        (
            "wrap dress",
            "a V-neck wrap dress in flowing viscose with a self-tie waist and short sleeves",
        ),
        (
            "chino trousers",
            "straight-leg chinos in stretch cotton twill with a mid rise and slant pockets",
        ),
    ];
    let extras = [
        "Machine washable at 30 degrees.",
        "Regular fit; our model is 178 cm and wears size M.",
        "Made in Portugal from responsibly sourced fibres, it pairs well with jeans and loafers for a relaxed weekend look.",
        "",
    ];
    (0..TEXTS)
        .map(|i| {
            let colour = colours[i % colours.len()];
            let (name, about) = garments[(i / colours.len()) % garments.len()];
            let extra = extras[i % extras.len()];
            format!("{colour} {name}. A {colour} {name}: {about}. {extra}")
        })
        .collect()
}

fn main() {
    let models = std::env::var_os("SHOP_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    let embedder = Embedder::load(&models, threads).unwrap();
    let load_s = started.elapsed().as_secs_f64();

    let texts = descriptions();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    embedder.embed(&refs[..BATCH]).unwrap(); // warm-up

    let started = Instant::now();
    let mut tokens = 0;
    for batch in refs.chunks(BATCH) {
        tokens += embedder.embed_counted(batch).unwrap().tokens;
    }
    let elapsed = started.elapsed().as_secs_f64();

    let queries = [
        "pink sweater",
        "shirt to go with a navy sweater",
        "black boots size 39",
    ];
    let mut latencies: Vec<f64> = (0..60)
        .map(|i| {
            let started = Instant::now();
            embedder.embed(&[queries[i % queries.len()]]).unwrap();
            started.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let percentile = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];

    let report = serde_json::json!({
        "bench": "embed",
        "model": catalog::embed::MODEL_NAME,
        "threads": threads,
        "load_s": load_s,
        "texts": TEXTS,
        "batch": BATCH,
        "mean_tokens_per_text": tokens as f64 / TEXTS as f64,
        "mean_chars_per_text": texts.iter().map(String::len).sum::<usize>() as f64 / TEXTS as f64,
        "texts_per_s": TEXTS as f64 / elapsed,
        "query_ms_p50": percentile(0.5),
        "query_ms_p99": percentile(0.99),
    });
    println!("{report}");
}
