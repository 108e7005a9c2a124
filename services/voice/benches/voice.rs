//! `cargo bench -p voice`: the voice service's speed on this machine, as one JSON
//! document on stdout. Figures, not assertions: the goals (issue #3) are printed beside
//! them.
//!
//! - STT real-time factor for a 3.5 s and a 10.5 s utterance, with whisper's window
//!   fitted to the audio and with the fixed 30 s window, and the word error rate of each;
//! - the HTTP service's overhead over a bare whisper-rs call on the same audio;
//! - peak memory (VmHWM).

#![allow(clippy::unwrap_used, missing_docs)] // a benchmark program: fail loudly

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{Value, json};
use service_kit::config::Config;
use voice::audio::decode_wav;
use voice::quality::word_error_rate;
use voice::stt::{SpeechToText, TranscribeOptions};

const RUNS: usize = 5;

struct Utterance {
    name: &'static str,
    file: &'static str,
    text: &'static str,
}

const UTTERANCES: [Utterance; 2] = [
    Utterance {
        name: "3.5 s",
        file: "audio/shirt_request.wav",
        text: "I am looking for a blue shirt to go with my pink sweater.",
    },
    Utterance {
        name: "10.5 s",
        file: "audio/long_request.wav",
        text: "Hello. I bought a pink sweater here last week and I love it. Now I am looking for a white cotton shirt that goes with it, in size medium, and not more than forty dollars.",
    },
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn config() -> Config {
    Config {
        models_dir: std::env::var_os("SHOP_MODELS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root().join("models")),
        ..Config::default()
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn peak_memory_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// Median seconds of `RUNS` decodes, and the text of the last.
fn time_decode(stt: &SpeechToText, samples: &[f32], options: &TranscribeOptions) -> (f64, String) {
    let mut times = Vec::new();
    let mut text = String::new();
    stt.transcribe(samples, options).unwrap(); // warm-up: first-touch allocations
    for _ in 0..RUNS {
        let started = Instant::now();
        text = stt.transcribe(samples, options).unwrap().text;
        times.push(started.elapsed().as_secs_f64());
    }
    (median(times), text)
}

fn stt_section(config: &Config) -> (Value, f64) {
    let model =
        voice::model_path(&config.models_dir, "stt_model", &config.voice.stt_model).unwrap();
    let stt = SpeechToText::load(&model, config.voice.threads).unwrap();
    let mut rows = Vec::new();
    let mut bare_3s = 0.0;
    for utterance in UTTERANCES {
        let samples = decode_wav(
            &std::fs::read(root().join("fixtures").join(utterance.file)).unwrap(),
            60.0,
        )
        .unwrap();
        let seconds = samples.len() as f64 / 16_000.0;
        let fitted = TranscribeOptions::default();
        let full = TranscribeOptions {
            full_window: true,
            ..Default::default()
        };
        let (fitted_time, fitted_text) = time_decode(&stt, &samples, &fitted);
        let (full_time, full_text) = time_decode(&stt, &samples, &full);
        if bare_3s == 0.0 {
            bare_3s = fitted_time;
        }
        rows.push(json!({
            "utterance": utterance.name,
            "audio_seconds": seconds,
            "fitted_window": {"median_seconds": fitted_time, "real_time_factor": fitted_time / seconds, "word_error_rate": word_error_rate(utterance.text, &fitted_text)},
            "full_30s_window": {"median_seconds": full_time, "real_time_factor": full_time / seconds, "word_error_rate": word_error_rate(utterance.text, &full_text)},
            "goal_real_time_factor": 0.15,
        }));
    }
    (json!(rows), bare_3s)
}

fn service_overhead(config: Config, bare_seconds: f64) -> Value {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(voice::run(listener, config, std::future::pending()));
        let client = reqwest::Client::new();
        while client
            .get(format!("{url}/readyz"))
            .send()
            .await
            .map(|r| r.status() != 200)
            .unwrap_or(true)
        {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let wav = std::fs::read(root().join("fixtures/audio/shirt_request.wav")).unwrap();
        let mut times = Vec::new();
        for run in 0..=RUNS {
            let form = reqwest::multipart::Form::new().part(
                "file",
                reqwest::multipart::Part::bytes(wav.clone()).file_name("a.wav"),
            );
            let started = Instant::now();
            let response = client
                .post(format!("{url}/v1/audio/transcriptions"))
                .multipart(form)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response.bytes().await.unwrap();
            if run > 0 {
                times.push(started.elapsed().as_secs_f64());
            }
        }
        let service = median(times);
        json!({
            "utterance": "3.5 s",
            "bare_whisper_rs_median_seconds": bare_seconds,
            "http_service_median_seconds": service,
            "overhead_percent": (service / bare_seconds - 1.0) * 100.0,
            "goal_overhead_percent": 5.0,
        })
    })
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let config = config();
    let (stt, bare_3s) = stt_section(&config);
    let overhead = service_overhead(config, bare_3s);
    let report = json!({
        "machine": {"cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)},
        "speech_to_text": stt,
        "service_overhead": overhead,
        "peak_memory_mb": peak_memory_mb(),
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
