//! Dialogue benchmark; prints one JSON object.
//!
//! `cargo bench -p dialogue --bench dialogue` (release build; models installed).
//! Measures, with the default model on this machine's cores:
//! - time to first token of a 30-token turn with the cached system prompt and without;
//! - generation tokens/s of the service's engine against a bare llama-cpp-2 loop on the
//!   same model, threads and prompt;
//! - whole turns (understanding, catalog tools, grounded reply) p50/p95 over a scripted
//!   conversation against the real catalog;
//! - concurrent sessions: turn latency and throughput with 1, 4 and 8 sessions at once.
#![allow(
    clippy::unwrap_used,
    reason = "a benchmark; a failure is a crash with its message"
)]

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use dialogue::llm::{Generation, LanguageModel, LocalModel, LocalModelSettings};
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::sampling::LlamaSampler;
use protocol::dialogue::{ChatMessage, Role, TurnEvent};
use serde_json::json;
use service_kit::config::{CatalogConfig, Config};

const THREADS: usize = 2;
const GENERATED: usize = 128;

fn models_dir() -> PathBuf {
    std::env::var_os("SHOP_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"))
}

fn model_path() -> PathBuf {
    models::verify_installed(&models_dir(), "smollm2-135m-instruct-q4_1")
        .unwrap()
        .remove(0)
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let index = ((values.len() as f64 - 1.0) * p).round() as usize;
    values[index]
}

/// A customer's turn of about 30 tokens in the chat template.
const TURN: &str = "Hi, I bought a pink sweater here last week and I'm looking for a shirt to wear with it, in a medium please.";

fn load(warm: bool) -> LocalModel {
    let system = dialogue::turn::reply_system_prompt();
    LocalModel::load(LocalModelSettings {
        path: model_path(),
        name: "smollm2".into(),
        threads: THREADS,
        context_tokens: 4096,
        queue: 16,
        warm_prefixes: if warm { vec![vec![system]] } else { Vec::new() },
    })
    .unwrap()
}

async fn first_token_ms(model: &LanguageModel, turn: usize, uncached: bool) -> (f64, u32) {
    let mut system = dialogue::turn::reply_system_prompt();
    if uncached {
        // A different first line defeats every cache: the whole prompt is evaluated.
        system.content = format!("Session {turn}.\n{}", system.content);
    }
    // A different turn each time, so only the system prompt can come from the cache.
    let said = format!("Turn {turn}. {TURN}");
    let request = Generation::greedy(vec![system, ChatMessage::new(Role::User, said)], 1);
    let (_, summary) = model.complete(request).await.unwrap();
    (summary.first_token_ms, summary.cached_tokens)
}

/// Tokens/s of a bare llama-cpp-2 greedy loop: the reference for the engine's overhead.
fn bare_loop_tokens_per_second(prompt: &str) -> f64 {
    let backend = dialogue::llm::local::backend().unwrap();
    let model =
        LlamaModel::load_from_file(backend, model_path(), &LlamaModelParams::default()).unwrap();
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(4096))
        .with_n_threads(THREADS as i32)
        .with_n_threads_batch(THREADS as i32);
    let mut context = model.new_context(backend, params).unwrap();
    let tokens = model.vocab().tokenize(prompt.as_bytes(), true, true);
    let mut batch = LlamaBatch::new(512, 1);
    let last = tokens.len() - 1;
    for (i, token) in tokens.iter().enumerate() {
        batch.add(*token, i as i32, &[0], i == last).unwrap();
    }
    context.decode(&mut batch).unwrap();
    let mut sampler = LlamaSampler::greedy();
    let mut position = tokens.len() as i32;
    let mut generated = 0;
    let mut first_at = None;
    while generated < GENERATED {
        let token = sampler.sample(&context, -1);
        if model.vocab().is_eog(token) {
            break;
        }
        generated += 1;
        first_at.get_or_insert_with(Instant::now);
        batch.clear();
        batch.add(token, position, &[0], true).unwrap();
        context.decode(&mut batch).unwrap();
        position += 1;
    }
    (generated - 1) as f64 / first_at.unwrap().elapsed().as_secs_f64()
}

/// Starts the catalog (fixtures) and the dialogue in-process; returns the dialogue URL.
async fn start_services(data: &std::path::Path) -> String {
    let catalog_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let catalog_url = format!("http://{}", catalog_listener.local_addr().unwrap());
    let config = Config {
        models_dir: models_dir(),
        data_dir: data.to_path_buf(),
        catalog: CatalogConfig {
            admin_key: Some("bench-admin-key-0123456789".into()),
            service_token: Some("bench-service-token-0123456789".into()),
            seed_file: Some(
                PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                    .join("../../fixtures/catalog/products.json"),
            ),
            url: Some(catalog_url.clone()),
            ..CatalogConfig::default()
        },
        ..Config::default()
    };
    tokio::spawn(catalog::run(
        catalog_listener,
        config.clone(),
        std::future::pending(),
    ));
    wait_ready(&catalog_url).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(dialogue::run(listener, config, std::future::pending()));
    wait_ready(&url).await;
    url
}

async fn wait_ready(url: &str) {
    let client = reqwest::Client::new();
    loop {
        if let Ok(r) = client.get(format!("{url}/readyz")).send().await
            && r.status().is_success()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A scripted conversation: search, follow-ups, goes-with, questions, try-on, fetch.
const SCRIPT: &[&str] = &[
    "hello",
    "I'm looking for a navy shirt in medium",
    "how much is the first one?",
    "what is it made of?",
    "do you have something like this but in white?",
    "what trousers would go with the second one?",
    "can I try the first one on?",
    "yes please",
    "show me a warm coat for winter under 200 euros",
    "what sizes are left in the third one?",
    "I need a dress for a wedding",
    "is the second one in stock in small?",
    "which shoes go with a black dress?",
    "thanks, that's lovely",
    "add the first one to my basket",
    "do you have striped t-shirts?",
    "how much is that one?",
    "can someone bring it to a fitting room in large?",
    "what's the weather like tomorrow?",
    "goodbye",
];

/// Runs the script in one session; returns (first text ms, total ms) per turn.
async fn run_script(url: &str, turns: usize) -> (Vec<f64>, Vec<f64>, usize) {
    let client = reqwest::Client::new();
    let started: serde_json::Value = client
        .post(format!("{url}/v1/sessions"))
        .json(&json!({"kiosk_id": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = started["session_id"].as_str().unwrap().to_owned();
    let (mut first, mut total, mut failed) = (Vec::new(), Vec::new(), 0);
    for text in SCRIPT.iter().cycle().take(turns) {
        let response = client
            .post(format!("{url}/v1/sessions/{session}/turns"))
            .json(&json!({ "text": text }))
            .send()
            .await
            .unwrap();
        if !response.status().is_success() {
            failed += 1;
            continue;
        }
        let body = response.text().await.unwrap();
        let done = body
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str::<TurnEvent>(d.trim()).ok())
            .find_map(|e| match e {
                TurnEvent::Done {
                    first_text_ms,
                    total_ms,
                    ..
                } => Some((first_text_ms, total_ms)),
                _ => None,
            });
        match done {
            Some((f, t)) => {
                first.push(f as f64);
                total.push(t as f64);
            }
            None => failed += 1,
        }
    }
    (first, total, failed)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // Time to first token, cached system prompt vs none.
        let warm = LanguageModel::Local(tokio::task::spawn_blocking(|| load(true)).await.unwrap());
        first_token_ms(&warm, 100, false).await; // warm-up
        let mut cached = Vec::new();
        let mut cached_tokens = 0;
        for turn in 0..10 {
            let (ms, reused) = first_token_ms(&warm, turn, false).await;
            cached.push(ms);
            cached_tokens = reused;
        }
        let mut uncached = Vec::new();
        for turn in 0..10 {
            uncached.push(first_token_ms(&warm, turn, true).await.0);
        }
        // Generation speed: engine vs bare loop, same prompt.
        let prompt_messages = vec![ChatMessage::new(
            Role::User,
            "Write a long, detailed story about a day in a busy clothing shop.",
        )];
        let (_, summary) = warm
            .complete(Generation::greedy(prompt_messages.clone(), GENERATED as u32))
            .await
            .unwrap();
        let engine_tps = summary.tokens_per_second;
        let prompt = "<|im_start|>user\nWrite a long, detailed story about a day in a busy clothing shop.<|im_end|>\n<|im_start|>assistant\n";
        let bare_tps = tokio::task::spawn_blocking(move || bare_loop_tokens_per_second(prompt))
            .await
            .unwrap();
        drop(warm);

        // Whole turns against the real catalog.
        let data = tempfile::tempdir().unwrap();
        let url = start_services(data.path()).await;
        run_script(&url, 3).await; // warm-up
        let (mut first, mut total, failed) = run_script(&url, SCRIPT.len()).await;
        let turns = json!({
            "turns": total.len(), "failed": failed,
            "first_text_ms_p50": percentile(&mut first, 0.5),
            "first_text_ms_p95": percentile(&mut first, 0.95),
            "total_ms_p50": percentile(&mut total, 0.5),
            "total_ms_p95": percentile(&mut total, 0.95),
        });
        let mut concurrency = Vec::new();
        for sessions in [1usize, 4, 8] {
            let started = Instant::now();
            let runs: Vec<_> = (0..sessions)
                .map(|_| {
                    let url = url.clone();
                    tokio::spawn(async move { run_script(&url, 5).await })
                })
                .collect();
            let (mut all, mut failed) = (Vec::new(), 0);
            for run in runs {
                let (_, total, f) = run.await.unwrap();
                all.extend(total);
                failed += f;
            }
            let seconds = started.elapsed().as_secs_f64();
            concurrency.push(json!({
                "sessions": sessions, "turns": all.len(), "failed": failed,
                "turns_per_second": all.len() as f64 / seconds,
                "turn_ms_p50": percentile(&mut all, 0.5),
                "turn_ms_p95": percentile(&mut all, 0.95),
            }));
        }
        let report = json!({
            "threads": THREADS,
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "time_to_first_token_ms": {
                "turn_tokens_approx": 30,
                "cached_prefix_tokens": cached_tokens,
                "cached_p50": percentile(&mut cached, 0.5),
                "uncached_p50": percentile(&mut uncached, 0.5),
            },
            "generation_tokens_per_second": {
                "engine": engine_tps, "bare_llama_cpp_2_loop": bare_tps,
                "ratio": engine_tps / bare_tps,
            },
            "whole_turn": turns,
            "concurrent_sessions": concurrency,
        });
        println!("{}", serde_json::to_string_pretty(&report).unwrap());
    });
    // The services still run on their threads; end without tearing them down.
    std::process::exit(0);
}
