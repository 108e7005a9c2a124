//! The catalog at catalogue scale on this machine, printed as one JSON object:
//! `cargo bench -p catalog --bench catalog` (`CATALOG_BENCH_PRODUCTS`, default 10000,
//! sets the catalogue size). Built straight from the library (embedded Qdrant engine in
//! a temporary folder, the installed MiniLM), no HTTP. Progress goes to stderr.
//!
//! Measured, never asserted. Goals:
//! - ingestion including embeddings: at least 200 products/s;
//! - search without the query's embedding: p99 <= 5 ms, filtered or not;
//! - search including the query's embedding: p99 <= 20 ms;
//! - HNSW recall@10 against exact search: at least 0.95, filtered or not;
//! - a stock change is visible to search within 100 ms of the write starting.
#![allow(
    clippy::unwrap_used,
    reason = "a benchmark: a failure is the run failing"
)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use catalog::customers::{self, Customers};
use catalog::embed::{EmbedLimits, EmbedPool, Embedder};
use catalog::fixtures;
use catalog::products::{self, Products};
use catalog::store::edge::EdgeCollection;
use catalog::store::{Collection, CollectionSpec, Condition, Filter};
use protocol::catalog::{Consent, EnrolRequest, Product, SearchHit, SearchRequest, StockChange};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use serde_json::{Map, Value, json};

/// Products per `upsert` call, as a catalogue upload sends them.
const CHUNK: usize = 256;
/// Default catalogue size (override with `CATALOG_BENCH_PRODUCTS`).
const DEFAULT_PRODUCTS: usize = 10_000;
/// Threads the embedder may use (the service's default `embed_threads`).
const EMBED_THREADS: usize = 2;
/// Search queries timed per measurement.
const QUERIES: usize = 200;
/// Hits per search.
const LIMIT: usize = 10;
/// Stock changes timed.
const STOCK_CHANGES: usize = 200;
/// The size whose stock the inventory measurement changes (letter-sized categories).
const STOCK_SIZE: &str = "M";
/// Customers enrolled for identification.
const CUSTOMERS: usize = 500;
/// Face probes timed: half enrolled faces with noise, half strangers.
const PROBES: usize = 200;
/// Dimension of a face embedding (dlib).
const FACE_DIM: usize = 128;
/// Standard deviation of a random face component: about dlib's spread, which puts a
/// face near unit length (0.09 × √128 ≈ 1.02) and two strangers ≈ 1.44 apart.
const FACE_SIGMA: f64 = 0.09;
/// Standard deviation of the noise added to an enrolled face to make a probe of the
/// same person (expected distance 0.02 × √128 ≈ 0.23, under the 0.6 threshold).
const PROBE_NOISE: f64 = 0.02;
/// Euclidean distance at which a face still matches (the service's default).
const FACE_MATCH_DISTANCE: f32 = 0.6;
/// Scores this close count as tied (cosine similarities of f32 vectors).
const SCORE_EPSILON: f32 = 1e-5;
/// Seed of the random faces.
const SEED: u64 = 0xC47A_1065;

fn models_dir() -> PathBuf {
    std::env::var_os("SHOP_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"))
}

fn product_count() -> usize {
    std::env::var("CATALOG_BENCH_PRODUCTS")
        .ok()
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(DEFAULT_PRODUCTS)
}

fn ms(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1e3
}

/// Nearest-rank percentile of `p` (0..=1) over unsorted samples.
fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Adds `<prefix>_p50_ms`, `<prefix>_p99_ms` and `<prefix>_max_ms` of millisecond
/// samples.
fn put_latency(report: &mut Map<String, Value>, prefix: &str, samples: &[f64]) {
    report.insert(format!("{prefix}_p50_ms"), json!(percentile(samples, 0.5)));
    report.insert(format!("{prefix}_p99_ms"), json!(percentile(samples, 0.99)));
    report.insert(format!("{prefix}_max_ms"), json!(percentile(samples, 1.0)));
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

/// A `/proc/self/status` memory line (`VmRSS`, `VmHWM`) in MiB.
fn proc_status_mib(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024.0
}

/// Bytes a folder takes on disk (allocated blocks, so sparse files count as stored)
/// and its files' apparent size.
fn folder_bytes(dir: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let mut allocated = 0;
    let mut apparent = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        if meta.is_dir() {
            let (a, b) = folder_bytes(&entry.path());
            allocated += a;
            apparent += b;
        } else {
            allocated += meta.blocks() * 512;
            apparent += meta.len();
        }
    }
    (allocated, apparent)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn open(dir: &Path, spec: CollectionSpec) -> Collection {
    Collection::Edge(EdgeCollection::open(dir, spec).unwrap())
}

/// A size every product of `category` may stock, for filters that must match some.
fn size_of(category: &str) -> &'static str {
    match category {
        "jeans" => "30",
        "trousers" => "32",
        "shoes" => "40",
        "scarf" | "bag" => "one size",
        _ => STOCK_SIZE,
    }
}

/// What a shopper types or says, with the category it is about (for the filtered
/// variant): colour × category phrases in several shapes, and occasion phrases.
fn queries() -> Vec<(String, &'static str)> {
    let colours = [
        "navy",
        "black",
        "white",
        "pink",
        "grey",
        "burgundy",
        "camel",
        "olive",
        "red",
        "light blue",
        "mustard",
    ];
    let occasions = [
        ("something warm for winter", "coat"),
        ("a summer dress for a wedding", "dress"),
        ("comfy jeans for the weekend", "jeans"),
        ("smart shoes for the office", "shoes"),
        ("a light jacket for spring", "jacket"),
        ("a cosy knit to wear at home", "sweater"),
        ("a soft scarf for cold days", "scarf"),
        ("a bag big enough for a laptop", "bag"),
        ("a crisp shirt for an interview", "shirt"),
        ("a flowing skirt for the summer", "skirt"),
    ];
    let categories = fixtures::CATEGORIES;
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(QUERIES);
    let mut i = 0usize;
    while out.len() < QUERIES {
        let colour = colours[i % colours.len()];
        let category = categories[(i / 3 + i) % categories.len()];
        let other = categories[(i * 5 + 3) % categories.len()];
        let (text, category) = match i % 6 {
            0 => (format!("{colour} {category}"), category),
            1 => (format!("a {colour} {category} for work"), category),
            2 => (
                format!("{category} to go with a {colour} {other}"),
                category,
            ),
            3 => {
                let (phrase, category) = occasions[(i / 6) % occasions.len()];
                (format!("{phrase} in {colour}"), category)
            }
            4 => (format!("{colour} {category} in size M"), category),
            _ => (
                format!("do you have a cheap {colour} {category}?"),
                category,
            ),
        };
        if seen.insert(text.clone()) {
            out.push((text, category));
        }
        i += 1;
    }
    out
}

fn skus(hits: &[SearchHit]) -> Vec<String> {
    hits.iter().map(|h| h.product.sku.clone()).collect()
}

/// Recall of one query against exact search, `None` when exact search found nothing.
/// `by_id`: share of the exact top SKUs the index also returned. `tie_aware`: share
/// of the index's hits scoring at least the exact k-th score (as ann-benchmarks counts
/// it), so a product with the same text as an exact hit, hence the same vector and
/// score, counts as found: the scaled catalogue repeats texts under other SKUs.
fn recall(approximate: &[SearchHit], exact: &[SearchHit]) -> Option<(f64, f64)> {
    let kth = exact.last()?.score;
    let found: HashSet<String> = skus(approximate).into_iter().collect();
    let by_id = skus(exact).iter().filter(|s| found.contains(*s)).count();
    let within = approximate
        .iter()
        .filter(|h| h.score >= kth - SCORE_EPSILON)
        .count()
        .min(exact.len());
    let k = exact.len() as f64;
    Some((by_id as f64 / k, within as f64 / k))
}

/// Put recall figures of one variant (`unfiltered`, `filtered`) into the report.
fn put_recall(report: &mut Map<String, Value>, prefix: &str, recalls: &[(f64, f64)]) {
    let by_id: Vec<f64> = recalls.iter().map(|r| r.0).collect();
    let tie_aware: Vec<f64> = recalls.iter().map(|r| r.1).collect();
    let min = |v: &[f64]| v.iter().copied().fold(1.0, f64::min);
    report.insert(format!("{prefix}_mean_recall_by_id"), json!(mean(&by_id)));
    report.insert(format!("{prefix}_min_recall_by_id"), json!(min(&by_id)));
    report.insert(
        format!("{prefix}_mean_recall_tie_aware"),
        json!(mean(&tie_aware)),
    );
    report.insert(
        format!("{prefix}_min_recall_tie_aware"),
        json!(min(&tie_aware)),
    );
    report.insert(format!("{prefix}_queries"), json!(recalls.len()));
}

/// One standard normal sample (Box-Muller), from a pinned stream.
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let unit = |x: u64| (x >> 11) as f64 / (1u64 << 53) as f64;
    let u1 = 1.0 - unit(rng.next_u64()); // (0, 1]: the logarithm stays finite
    let u2 = unit(rng.next_u64());
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn random_face(rng: &mut ChaCha8Rng) -> Vec<f32> {
    (0..FACE_DIM)
        .map(|_| (normal(rng) * FACE_SIGMA) as f32)
        .collect()
}

fn distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n = product_count();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path();

    eprintln!("catalog bench: loading MiniLM");
    let started = Instant::now();
    let embedder = Embedder::load(&models_dir(), EMBED_THREADS).unwrap();
    let model_load_s = started.elapsed().as_secs_f64();
    let pool = EmbedPool::new(
        Arc::new(embedder),
        EmbedLimits {
            workers: 1,
            queue: 64,
        },
    );
    let products = std::sync::Arc::new(Products::new(
        open(store, products::collection_spec("")),
        pool,
        1024,
        50,
    ));

    // 1. Ingestion: fresh (every product embedded), then the same catalogue again
    // (every embedding reused through text_hash), each followed by an optimize.
    let catalogue = fixtures::scaled_catalogue(n);
    let chunks: Vec<Vec<Product>> = catalogue.chunks(CHUNK).map(<[Product]>::to_vec).collect();
    let again = chunks.clone();
    eprintln!("catalog bench: ingesting {n} products in chunks of {CHUNK} (every one embedded)");
    let started = Instant::now();
    let mut embedded = 0;
    for (i, chunk) in chunks.into_iter().enumerate() {
        let outcome = products.upsert(chunk).await.unwrap();
        embedded += outcome.written - outcome.reused_embeddings;
        if (i + 1) % 8 == 0 {
            let done = (i + 1) * CHUNK;
            eprintln!(
                "  {done}/{n} ({:.0} products/s)",
                done as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    let ingest_s = started.elapsed().as_secs_f64();
    let rss_after_ingest_mib = proc_status_mib("VmRSS");
    eprintln!("catalog bench: ingested in {ingest_s:.1} s; optimizing");
    let started = Instant::now();
    products.optimize().await.unwrap();
    let optimize_s = started.elapsed().as_secs_f64();

    eprintln!("catalog bench: re-ingesting the same {n} products");
    let started = Instant::now();
    let mut reused = 0;
    for chunk in again {
        reused += products.upsert(chunk).await.unwrap().reused_embeddings;
    }
    let reingest_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    products.optimize().await.unwrap();
    let reoptimize_s = started.elapsed().as_secs_f64();
    let stored = products.count().await.unwrap();
    let rss_after_optimize_mib = proc_status_mib("VmRSS");
    let (products_disk, products_apparent) = folder_bytes(&store.join("products"));

    let distinct_texts: HashSet<String> = catalogue.iter().map(products::document_text).collect();
    let mut ingestion = Map::new();
    ingestion.insert("chunk_products".into(), json!(CHUNK));
    ingestion.insert(
        "distinct_document_texts".into(),
        json!(distinct_texts.len()),
    );
    ingestion.insert("ingest_s".into(), json!(ingest_s));
    ingestion.insert("ingest_products_per_s".into(), json!(n as f64 / ingest_s));
    ingestion.insert("ingest_embedded_products".into(), json!(embedded));
    ingestion.insert("optimize_s".into(), json!(optimize_s));
    ingestion.insert("reingest_s".into(), json!(reingest_s));
    ingestion.insert(
        "reingest_products_per_s".into(),
        json!(n as f64 / reingest_s),
    );
    ingestion.insert("reingest_reused_embeddings".into(), json!(reused));
    ingestion.insert("optimize_after_reingest_s".into(), json!(reoptimize_s));

    // 2. Search without the query's embedding, unfiltered and filtered.
    let texts = queries();
    eprintln!("catalog bench: embedding {} queries", texts.len());
    let mut vectors = Vec::with_capacity(texts.len());
    let mut embed_ms = Vec::with_capacity(texts.len());
    for (text, _) in &texts {
        let started = Instant::now();
        vectors.push(products.embed_query(text).await.unwrap());
        embed_ms.push(ms(started));
    }
    let filters: Vec<Filter> = texts
        .iter()
        .map(|(_, category)| products::category_filter(category, Some(size_of(category)), &[]))
        .collect();
    for v in vectors.iter().take(20) {
        // Warm-up: page in the index and payloads.
        products
            .search_vector(v.clone(), Filter::default(), LIMIT, false)
            .await
            .unwrap();
    }
    eprintln!("catalog bench: timing search_vector");
    let mut unfiltered_ms = Vec::with_capacity(QUERIES);
    let mut unfiltered_hits = 0;
    for v in &vectors {
        let started = Instant::now();
        let hits = products
            .search_vector(v.clone(), Filter::default(), LIMIT, false)
            .await
            .unwrap();
        unfiltered_ms.push(ms(started));
        unfiltered_hits += hits.len();
    }
    let mut filtered_ms = Vec::with_capacity(QUERIES);
    let mut filtered_hits = 0;
    for (v, filter) in vectors.iter().zip(&filters) {
        let started = Instant::now();
        let hits = products
            .search_vector(v.clone(), filter.clone(), LIMIT, false)
            .await
            .unwrap();
        filtered_ms.push(ms(started));
        filtered_hits += hits.len();
    }
    let mut search = Map::new();
    search.insert("queries".into(), json!(texts.len()));
    search.insert("limit".into(), json!(LIMIT));
    search.insert(
        "filter".into(),
        json!("category of the query + a size in stock (M for letter sizes)"),
    );
    put_latency(&mut search, "query_embed", &embed_ms);
    put_latency(&mut search, "vector_unfiltered", &unfiltered_ms);
    search.insert(
        "vector_unfiltered_mean_hits".into(),
        json!(unfiltered_hits as f64 / QUERIES as f64),
    );
    put_latency(&mut search, "vector_filtered", &filtered_ms);
    search.insert(
        "vector_filtered_mean_hits".into(),
        json!(filtered_hits as f64 / QUERIES as f64),
    );

    // 3. Search including the query's embedding (and the garment-word re-ranking).
    eprintln!("catalog bench: timing search (with embedding)");
    let mut full_ms = Vec::with_capacity(QUERIES);
    for (text, _) in &texts {
        let request = SearchRequest {
            query: text.clone(),
            filters: Default::default(),
            limit: LIMIT as u32,
        };
        let started = Instant::now();
        products.search(&request).await.unwrap();
        full_ms.push(ms(started));
    }
    put_latency(&mut search, "with_embedding", &full_ms);

    // 4. Recall@10 of the HNSW index against exact (brute-force) search.
    eprintln!("catalog bench: recall against exact search");
    let mut recalls = Vec::with_capacity(QUERIES);
    let mut filtered_recalls = Vec::with_capacity(QUERIES);
    let mut exact_ms = Vec::with_capacity(QUERIES);
    for (v, filter) in vectors.iter().zip(&filters) {
        let hnsw = products
            .search_vector(v.clone(), Filter::default(), LIMIT, false)
            .await
            .unwrap();
        let started = Instant::now();
        let exact = products
            .search_vector(v.clone(), Filter::default(), LIMIT, true)
            .await
            .unwrap();
        exact_ms.push(ms(started));
        recalls.extend(recall(&hnsw, &exact));
        let hnsw = products
            .search_vector(v.clone(), filter.clone(), LIMIT, false)
            .await
            .unwrap();
        let exact = products
            .search_vector(v.clone(), filter.clone(), LIMIT, true)
            .await
            .unwrap();
        filtered_recalls.extend(recall(&hnsw, &exact));
    }
    let mut recall_report = Map::new();
    recall_report.insert("k".into(), json!(LIMIT));
    put_recall(&mut recall_report, "unfiltered", &recalls);
    put_recall(&mut recall_report, "filtered", &filtered_recalls);
    put_latency(&mut recall_report, "exact_unfiltered", &exact_ms);

    // 5. Inventory: a sale (delta -1) of the last item in size M, and how soon a search
    // filtered on that size stops returning the product. Each product is first set to
    // one item in stock and checked to be found (untimed).
    eprintln!("catalog bench: stock changes");
    let candidates: Vec<&Product> = catalogue
        .iter()
        .filter(|p| p.sizes.iter().any(|s| s.size == STOCK_SIZE))
        .collect();
    let step = (candidates.len() / STOCK_CHANGES).max(1);
    let mut write_ms = Vec::with_capacity(STOCK_CHANGES);
    let mut visible_ms = Vec::with_capacity(STOCK_CHANGES);
    let mut searches_until_visible = Vec::with_capacity(STOCK_CHANGES);
    let mut not_found_before = 0;
    let mut never_visible = 0;
    let mut still_in_stock = 0;
    for product in candidates.iter().step_by(step).take(STOCK_CHANGES) {
        let sku = product.sku.as_str();
        products
            .change_stock(
                sku,
                &[StockChange {
                    size: STOCK_SIZE.into(),
                    set: Some(1),
                    delta: None,
                }],
            )
            .await
            .unwrap();
        let (_, vector) = products.get_with_vector(sku).await.unwrap();
        // The search a shopper makes (category, size in stock), pinned to this SKU:
        // products with the same text tie with it, and could push it out of the top.
        let mut filter = products::category_filter(&product.category, Some(STOCK_SIZE), &[]);
        filter.must.push(Condition::Equals {
            field: "sku",
            value: sku.to_owned(),
        });
        let found = |hits: &[SearchHit]| hits.iter().any(|h| h.product.sku == sku);
        let before = products
            .search_vector(vector.clone(), filter.clone(), LIMIT, false)
            .await
            .unwrap();
        if !found(&before) {
            not_found_before += 1;
        }
        // The sale runs as its own task while a shopper's search polls, as on the
        // kiosk: visibility is measured from the start of the write to the first search
        // that no longer offers the sold-out size, whether or not the write has been
        // acknowledged yet (it is acknowledged after the store's flush).
        let started = Instant::now();
        let writer = {
            let products = std::sync::Arc::clone(&products);
            let sku = sku.to_owned();
            tokio::spawn(async move {
                let after = products
                    .change_stock(
                        &sku,
                        &[StockChange {
                            size: STOCK_SIZE.into(),
                            set: None,
                            delta: Some(-1),
                        }],
                    )
                    .await
                    .unwrap();
                (after, ms(started))
            })
        };
        let mut searches = 0;
        loop {
            let hits = products
                .search_vector(vector.clone(), filter.clone(), LIMIT, false)
                .await
                .unwrap();
            searches += 1;
            if !found(&hits) {
                visible_ms.push(ms(started));
                searches_until_visible.push(searches);
                break;
            }
            if started.elapsed().as_secs() >= 2 {
                never_visible += 1;
                break;
            }
        }
        let (after, acknowledged_ms) = writer.await.unwrap();
        write_ms.push(acknowledged_ms);
        if after.in_stock(STOCK_SIZE) {
            still_in_stock += 1;
        }
    }
    let mut inventory = Map::new();
    inventory.insert("stock_changes".into(), json!(write_ms.len()));
    inventory.insert("size".into(), json!(STOCK_SIZE));
    put_latency(&mut inventory, "write_acknowledged", &write_ms);
    if !visible_ms.is_empty() {
        put_latency(&mut inventory, "visible_to_search", &visible_ms);
    }
    inventory.insert(
        "searches_until_visible_max".into(),
        json!(searches_until_visible.iter().copied().max().unwrap_or(0)),
    );
    inventory.insert("not_found_before_write".into(), json!(not_found_before));
    inventory.insert("still_in_stock_after_write".into(), json!(still_in_stock));
    inventory.insert("not_visible_within_2_s".into(), json!(never_visible));

    // 6. Identify: enrol customers with random faces, then probe with noisy enrolled
    // faces and with strangers.
    eprintln!("catalog bench: enrolling {CUSTOMERS} customers");
    let customers = Customers::new(
        open(store, customers::customers_spec("")),
        open(store, customers::faces_spec("", FACE_DIM)),
        FACE_MATCH_DISTANCE,
    );
    let colours = fixtures::palette::PALETTE;
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut enrolled = Vec::with_capacity(CUSTOMERS);
    let started = Instant::now();
    for i in 0..CUSTOMERS {
        let face = random_face(&mut rng);
        let name = format!("Customer {i}");
        let record = customers
            .enrol(
                EnrolRequest {
                    name: name.clone(),
                    consent: Consent {
                        given_by: name,
                        purpose: "recognise me at the kiosk to personalise suggestions".into(),
                        kiosk_id: "bench-kiosk".into(),
                        given_at_unix: now_unix(),
                    },
                    face_embeddings: vec![face.clone()],
                    sizes: Default::default(),
                    liked_colours: vec![colours[i % colours.len()].name.into()],
                },
                &products,
            )
            .await
            .unwrap();
        enrolled.push((record.id, face));
    }
    let enrol_s = started.elapsed().as_secs_f64();

    let probes: Vec<(Option<&str>, Vec<f32>)> = (0..PROBES)
        .map(|i| {
            if i % 2 == 0 {
                let (id, face) = &enrolled[(rng.next_u64() % CUSTOMERS as u64) as usize];
                let noisy = face
                    .iter()
                    .map(|x| x + (normal(&mut rng) * PROBE_NOISE) as f32)
                    .collect();
                (Some(id.as_str()), noisy)
            } else {
                (None, random_face(&mut rng))
            }
        })
        .collect();
    for (_, probe) in probes.iter().take(10) {
        customers.identify(probe.clone()).await.unwrap(); // warm-up
    }
    eprintln!("catalog bench: timing identify");
    let mut identify_ms = Vec::with_capacity(PROBES);
    let mut right = 0;
    let mut wrong = 0;
    let mut missed = 0;
    let mut strangers_accepted = 0;
    let mut match_distances = Vec::new();
    for (expected, probe) in &probes {
        let started = Instant::now();
        let found = customers.identify(probe.clone()).await.unwrap();
        identify_ms.push(ms(started));
        match (expected, found) {
            (Some(id), Some(who)) if who.id == *id => {
                right += 1;
                match_distances.push(f64::from(who.distance));
            }
            (Some(_), Some(_)) => wrong += 1,
            (Some(_), None) => missed += 1,
            (None, Some(_)) => strangers_accepted += 1,
            (None, None) => {}
        }
    }
    let probe_offsets: Vec<f64> = probes
        .iter()
        .filter_map(|(id, probe)| {
            let (_, face) = enrolled.iter().find(|(e, _)| Some(e.as_str()) == *id)?;
            Some(f64::from(distance(face, probe)))
        })
        .collect();
    let mut identify = Map::new();
    identify.insert("customers".into(), json!(CUSTOMERS));
    identify.insert("face_dim".into(), json!(FACE_DIM));
    identify.insert("match_max_distance".into(), json!(FACE_MATCH_DISTANCE));
    identify.insert("enrol_s".into(), json!(enrol_s));
    identify.insert(
        "enrol_customers_per_s".into(),
        json!(CUSTOMERS as f64 / enrol_s),
    );
    identify.insert("probes".into(), json!(PROBES));
    put_latency(&mut identify, "identify", &identify_ms);
    identify.insert(
        "enrolled_probes".into(),
        json!(probes.iter().filter(|(id, _)| id.is_some()).count()),
    );
    identify.insert("enrolled_probes_identified".into(), json!(right));
    identify.insert("enrolled_probes_wrong_customer".into(), json!(wrong));
    identify.insert("enrolled_probes_missed".into(), json!(missed));
    identify.insert(
        "enrolled_probe_mean_noise_distance".into(),
        json!(mean(&probe_offsets)),
    );
    identify.insert(
        "identified_mean_distance".into(),
        json!(mean(&match_distances)),
    );
    identify.insert(
        "stranger_probes".into(),
        json!(probes.iter().filter(|(id, _)| id.is_none()).count()),
    );
    identify.insert("stranger_probes_accepted".into(), json!(strangers_accepted));

    // 7. Memory and disk.
    let (store_disk, store_apparent) = folder_bytes(store);
    let memory = json!({
        "rss_after_ingest_mib": rss_after_ingest_mib,
        "rss_after_optimize_mib": rss_after_optimize_mib,
        "rss_end_mib": proc_status_mib("VmRSS"),
        "peak_rss_mib": proc_status_mib("VmHWM"),
        "products_store_disk_mib": mib(products_disk),
        "products_store_apparent_mib": mib(products_apparent),
        "store_disk_mib": mib(store_disk),
        "store_apparent_mib": mib(store_apparent),
    });

    let report = json!({
        "bench": "catalog",
        "available_parallelism": threads,
        "embed_threads": EMBED_THREADS,
        "model": catalog::embed::MODEL_NAME,
        "model_load_s": model_load_s,
        "products": stored,
        "ingestion": ingestion,
        "search": search,
        "recall_at_10": recall_report,
        "inventory": inventory,
        "identify": identify,
        "memory": memory,
    });
    println!("{report}");
    drop(products);
    drop(customers);
    dir.close().unwrap();
}
