//! `POST /v1/audio/speech` on the real piper voice, served in-process on port 0 by
//! service-kit's `Server`: WAV and PCM audio of plausible length, `speed`, every bad
//! input's 4xx code, overload as 503 + Retry-After, and per-stage metrics.

#![allow(clippy::unwrap_used)] // test helpers: a failed set-up should stop the test loudly

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use models::MODELS_DIR_ENV;
use serde_json::json;
use service_kit::config::VoiceConfig;
use service_kit::server::Server;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use voice::tts::normalise::normalise;
use voice::tts::{TtsEngine, router};

fn models_dir() -> PathBuf {
    std::env::var_os(MODELS_DIR_ENV).map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models"),
        PathBuf::from,
    )
}

/// Loads the configured voice (verified against the manifest) off the async threads.
async fn load(config: VoiceConfig) -> TtsEngine {
    tokio::task::spawn_blocking(move || TtsEngine::load(&config, &models_dir()))
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("{e} (run scripts/setup.sh to install the models)"))
}

/// A server on an ephemeral port; dropping `_stop` shuts it down.
struct Running {
    url: String,
    _stop: oneshot::Sender<()>,
}

async fn start(engine: TtsEngine) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(Server::new().run(listener, router(engine), async {
        let _ = stopped.await;
    }));
    Running { url, _stop: stop }
}

async fn post(url: &str, body: serde_json::Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{url}/v1/audio/speech"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Seconds of audio in a WAV body, checking its format.
fn wav_seconds(bytes: &[u8]) -> f64 {
    let reader = hound::WavReader::new(std::io::Cursor::new(bytes)).unwrap();
    let spec = reader.spec();
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (22_050, 1, 16)
    );
    f64::from(reader.len()) / 22_050.0
}

async fn speak(url: &str, input: &str, speed: f32) -> f64 {
    let response = post(
        url,
        json!({"model": "tts-1", "input": input, "voice": "alloy", "speed": speed}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "audio/wav");
    wav_seconds(&response.bytes().await.unwrap())
}

const REPLY: &str = "Welcome back! The navy jacket is $29.99 in XL, and the jeans come in 32x34.";

#[tokio::test]
async fn speech_as_wav_and_pcm_with_speed() {
    let running = start(load(VoiceConfig::default()).await).await;

    let words = normalise(REPLY).split_whitespace().count() as f64;
    let normal = speak(&running.url, REPLY, 1.0).await;
    let per_word = normal / words;
    println!("{normal:.2} s for {words} words ({per_word:.2} s per word)");
    assert!(
        (0.25..=0.8).contains(&per_word),
        "{normal:.2} s for {words} words"
    );

    let fast = speak(&running.url, REPLY, 2.0).await;
    println!("speed 2.0: {fast:.2} s");
    assert!(
        fast < normal * 0.7,
        "speed 2 gave {fast:.2} s vs {normal:.2} s"
    );
    let slow = speak(&running.url, REPLY, 0.5).await;
    assert!(
        slow > normal * 1.4,
        "speed 0.5 gave {slow:.2} s vs {normal:.2} s"
    );

    let response = post(
        &running.url,
        json!({"model": "tts-1", "input": REPLY, "voice": "joe", "response_format": "pcm"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-sample-rate"], "22050");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("audio/pcm;rate=22050")
    );
    let pcm = response.bytes().await.unwrap();
    assert_eq!(pcm.len() % 2, 0, "whole 16-bit samples");
    let pcm_seconds = pcm.len() as f64 / 2.0 / 22_050.0;
    // piper's durations are sampled (noise_w), so two runs differ a little.
    assert!(
        (pcm_seconds / normal - 1.0).abs() < 0.25,
        "pcm {pcm_seconds:.2} s vs wav {normal:.2} s"
    );
    let samples: Vec<i16> = pcm
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let loud = samples.iter().filter(|s| s.unsigned_abs() > 1000).count();
    assert!(
        loud > samples.len() / 10,
        "the audio is speech, not silence"
    );

    // Per-stage metrics are on /metrics.
    let metrics = reqwest::get(format!("{}/metrics", running.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for name in [
        "voice_tts_queue_wait_seconds_count",
        "voice_tts_synthesis_seconds_count",
        "voice_tts_audio_seconds_sum",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
}

#[tokio::test]
async fn each_bad_request_gets_its_code() {
    let config = VoiceConfig::default();
    let limit = config.max_text_chars;
    let running = start(load(config).await).await;
    let ok = |extra: serde_json::Value| {
        let mut body = json!({"model": "tts-1", "input": "Hello there.", "voice": "alloy"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (ok(json!({"input": ""})), "empty_text"),
        (ok(json!({"input": "   \n "})), "empty_text"),
        (ok(json!({"input": "... !"})), "empty_text"),
        (ok(json!({"input": "a".repeat(limit + 1)})), "text_too_long"),
        (ok(json!({"voice": "klingon"})), "unknown_voice"),
        (ok(json!({"response_format": "mp3"})), "unsupported_format"),
        (ok(json!({"response_format": 3})), "unsupported_format"),
        (ok(json!({"speed": 5.0})), "invalid_speed"),
        (ok(json!({"speed": 0.1})), "invalid_speed"),
        (
            json!({"model": "tts-1", "voice": "alloy"}),
            "invalid_request",
        ),
        (json!(["not", "an", "object"]), "invalid_request"),
    ];
    for (body, code) in cases {
        let response = post(&running.url, body.clone()).await;
        assert_eq!(response.status(), 400, "{body}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], code, "{body}: {error}");
        let message = error["error"]["message"].as_str().unwrap();
        match code {
            "text_too_long" => assert!(message.contains(&limit.to_string()), "{message}"),
            "unknown_voice" => assert!(message.contains("joe") && message.contains("alloy")),
            _ => {}
        }
    }
    let response = reqwest::Client::new()
        .post(format!("{}/v1/audio/speech", running.url))
        .header("content-type", "application/json")
        .body("{\"input\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "invalid_request");
}

#[tokio::test]
async fn a_full_queue_answers_503_with_retry_after() {
    let config = VoiceConfig {
        tts_workers: 1,
        tts_queue: 0,
        ..VoiceConfig::default()
    };
    let running = start(load(config).await).await;
    let long = "This sentence keeps the only worker busy for a while. ".repeat(4);
    let body = json!({"model": "tts-1", "input": long, "voice": "alloy"});
    let (a, b) = tokio::join!(post(&running.url, body.clone()), async {
        // Let the first request take the only place.
        tokio::time::sleep(Duration::from_millis(200)).await;
        post(&running.url, body.clone()).await
    });
    assert_eq!(a.status(), 200);
    assert_eq!(b.status(), 503);
    assert_eq!(b.headers()["retry-after"], "1");
    let error: serde_json::Value = b.json().await.unwrap();
    assert_eq!(error["error"]["code"], "overloaded");
    // Once the worker is free, requests are served again.
    assert_eq!(post(&running.url, body).await.status(), 200);
}

/// Time to first audio and real-time factor of a one-sentence reply, measured on
/// the engine (what the quality and benchmark code call). Printed, not asserted:
/// speed is measured by benchmarks, never by timed assertions.
#[tokio::test]
async fn synthesise_a_reply_and_report_speed() {
    let engine = load(VoiceConfig::default()).await;
    let reply = "Sure, the blue jacket is $29.99 and we have it in size M.";
    // The first run pays for ONNX Runtime's lazy initialisation.
    let (samples, rate) = engine.synthesise(reply, "joe", 1.0).await.unwrap();
    assert_eq!(rate, 22_050);
    assert!(!samples.is_empty());
    let runs = 5;
    let mut total = Duration::ZERO;
    let mut audio = 0.0;
    for _ in 0..runs {
        let started = Instant::now();
        let (samples, rate) = engine.synthesise(reply, "joe", 1.0).await.unwrap();
        total += started.elapsed();
        audio += samples.len() as f64 / f64::from(rate);
    }
    let per_reply = total.as_secs_f64() / f64::from(runs);
    println!(
        "one-sentence reply: time to first audio {:.0} ms for {:.2} s of audio, real-time factor {:.3}",
        per_reply * 1000.0,
        audio / f64::from(runs),
        total.as_secs_f64() / audio
    );
}
