//! `cargo bench -p voice`: the voice service's speed on this machine, as one JSON
//! document on stdout. Figures, not assertions: the goals (issue #3) are printed beside
//! them.
//!
//! - STT real-time factor for a 3.5 s and a 10.5 s utterance, with whisper's window
//!   fitted to the audio and with the fixed 30 s window, and the word error rate of each;
//! - the HTTP service's overhead over a bare whisper-rs call on the same audio;
//! - text to speech: streamed time to first audio and whole-reply real-time factor;
//! - streaming speech to text: end of speech to `speech_ended` and to `final`;
//! - peak memory (VmHWM) of the process (both models loaded, all of the above run).

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

fn stt_section(config: &Config) -> Value {
    let model =
        voice::model_path(&config.models_dir, "stt_model", &config.voice.stt_model).unwrap();
    let stt = SpeechToText::load(&model, config.voice.threads).unwrap();
    let mut rows = Vec::new();
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
        rows.push(json!({
            "utterance": utterance.name,
            "audio_seconds": seconds,
            "fitted_window": {"median_seconds": fitted_time, "real_time_factor": fitted_time / seconds, "word_error_rate": word_error_rate(utterance.text, &fitted_text)},
            "full_30s_window": {"median_seconds": full_time, "real_time_factor": full_time / seconds, "word_error_rate": word_error_rate(utterance.text, &full_text)},
            "goal_real_time_factor": 0.15,
        }));
    }
    json!(rows)
}

/// Everything measured through the running service: HTTP overhead, TTS time to first
/// audio and real-time factor, streaming end of speech to final transcript.
fn service_section(config: Config) -> Value {
    let config_for_bare = config.clone();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let url = format!("http://{address}");
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
        json!({
            "service_overhead": http_overhead(&client, &url, &config_for_bare).await,
            "text_to_speech": tts(&client, &url, &address.to_string()).await,
            "streaming_end_of_turn": streaming(&address.to_string()).await,
        })
    })
}

/// The service's median time against a bare whisper-rs call, measured alternately so
/// that drift (CPU frequency, other load) hits both equally.
async fn http_overhead(client: &reqwest::Client, url: &str, config: &Config) -> Value {
    let model =
        voice::model_path(&config.models_dir, "stt_model", &config.voice.stt_model).unwrap();
    let bare = std::sync::Arc::new(SpeechToText::load(&model, config.voice.threads).unwrap());
    let wav = std::fs::read(root().join("fixtures/audio/shirt_request.wav")).unwrap();
    let samples = decode_wav(&wav, 30.0).unwrap();
    let (mut bare_times, mut service_times) = (Vec::new(), Vec::new());
    for run in 0..=2 * RUNS {
        let (model, audio) = (bare.clone(), samples.clone());
        let started = Instant::now();
        tokio::task::spawn_blocking(move || {
            model
                .transcribe(&audio, &TranscribeOptions::default())
                .unwrap()
        })
        .await
        .unwrap();
        let bare_time = started.elapsed().as_secs_f64();
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
            bare_times.push(bare_time);
            service_times.push(started.elapsed().as_secs_f64());
        }
    }
    let (bare, service) = (median(bare_times), median(service_times));
    json!({
        "utterance": "3.5 s, WAV upload over HTTP (multipart, decode, queue, whisper, JSON)",
        "bare_whisper_rs_median_seconds": bare,
        "http_service_median_seconds": service,
        "overhead_percent": (service / bare - 1.0) * 100.0,
        "goal_overhead_percent": 5.0,
    })
}

const REPLY: &str = "Sure, the blue jacket is $29.99 and we have it in size M.";

async fn tts(client: &reqwest::Client, url: &str, address: &str) -> Value {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    // Whole-reply synthesis: real-time factor.
    let mut rtf = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let response = client
            .post(format!("{url}/v1/audio/speech"))
            .json(
                &json!({"model": "tts-1", "input": REPLY, "voice": "en", "response_format": "pcm"}),
            )
            .send()
            .await
            .unwrap();
        let rate: f64 = response.headers()["x-sample-rate"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let bytes = response.bytes().await.unwrap();
        let audio_seconds = bytes.len() as f64 / 2.0 / rate;
        rtf.push(started.elapsed().as_secs_f64() / audio_seconds);
    }
    // Streamed: time from request to the first audio frame.
    let mut first_audio = Vec::new();
    for _ in 0..RUNS {
        let (mut socket, _) =
            tokio_tungstenite::connect_async(format!("ws://{address}/v1/audio/speech/stream"))
                .await
                .unwrap();
        let started = Instant::now();
        let request = json!({"model": "tts-1", "input": REPLY, "voice": "en"}).to_string();
        socket.send(Message::Text(request.into())).await.unwrap();
        while let Some(message) = socket.next().await {
            if matches!(message.unwrap(), Message::Binary(_)) {
                first_audio.push(started.elapsed().as_secs_f64() * 1000.0);
                break;
            }
        }
        let _ = socket.close(None).await;
    }
    json!({
        "reply": REPLY,
        "streamed_time_to_first_audio_ms": median(first_audio),
        "goal_time_to_first_audio_ms": 150.0,
        "whole_reply_real_time_factor": median(rtf),
    })
}

/// Speech sent at real-time pace in 20 ms frames, then silence; the time from the last
/// speech sample to `speech_ended` and to `final`.
async fn streaming(address: &str) -> Value {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let speech = decode_wav(
        &std::fs::read(root().join("fixtures/audio/shirt_request.wav")).unwrap(),
        30.0,
    )
    .unwrap();
    let mut ended_ms = Vec::new();
    let mut final_ms = Vec::new();
    let mut texts = Vec::new();
    for _ in 0..3 {
        let (socket, _) =
            tokio_tungstenite::connect_async(format!("ws://{address}/v1/audio/stream"))
                .await
                .unwrap();
        let (mut sink, mut events) = socket.split();
        let speech = speech.clone();
        let sender = tokio::spawn(async move {
            let frame = 320; // 20 ms at 16 kHz
            let silence = vec![0.0f32; 16_000];
            let audio: Vec<f32> = silence
                .iter()
                .chain(speech.iter())
                .chain(silence.iter())
                .chain(silence.iter())
                .copied()
                .collect();
            // The fixture ends in espeak's own trailing silence: speech ends at the last
            // 20 ms frame with energy, not at the end of the file.
            let voiced = speech
                .chunks(frame)
                .rposition(|chunk| {
                    chunk.iter().map(|s| s * s).sum::<f32>() / chunk.len() as f32 > 1e-4
                })
                .map_or(speech.len(), |last| (last + 1) * frame);
            let speech_end = silence.len() + voiced;
            let mut ticker = tokio::time::interval(std::time::Duration::from_millis(20));
            let mut last_speech_sent = None;
            for (index, chunk) in audio.chunks(frame).enumerate() {
                ticker.tick().await;
                let bytes: Vec<u8> = chunk
                    .iter()
                    .flat_map(|s| ((s * 32767.0) as i16).to_le_bytes())
                    .collect();
                if sink.send(Message::Binary(bytes.into())).await.is_err() {
                    break;
                }
                if last_speech_sent.is_none() && (index + 1) * frame >= speech_end {
                    last_speech_sent = Some(Instant::now());
                }
            }
            (last_speech_sent.unwrap(), sink)
        });
        let mut ended = None;
        let mut finished = None;
        let mut text = String::new();
        while let Some(Ok(message)) = events.next().await {
            if let Message::Text(body) = message {
                let event: Value = serde_json::from_str(&body).unwrap();
                match event["type"].as_str().unwrap_or_default() {
                    "speech_ended" => ended = Some(Instant::now()),
                    "final" => {
                        finished = Some(Instant::now());
                        text = event["text"].as_str().unwrap_or_default().to_string();
                        break;
                    }
                    _ => {}
                }
            }
        }
        let (speech_stopped, _sink) = sender.await.unwrap();
        ended_ms.push(ended.unwrap().duration_since(speech_stopped).as_secs_f64() * 1000.0);
        final_ms.push(
            finished
                .unwrap()
                .duration_since(speech_stopped)
                .as_secs_f64()
                * 1000.0,
        );
        texts.push(text);
    }
    json!({
        "utterance": "3.5 s, sent at real-time pace in 20 ms frames",
        "end_of_turn_silence_ms": 300,
        "speech_end_to_speech_ended_ms": median(ended_ms.clone()),
        "speech_end_to_final_transcript_ms": median(final_ms.clone()),
        "speech_ended_to_final_ms": median(final_ms.iter().zip(&ended_ms).map(|(f, e)| f - e).collect()),
        "goal_end_of_speech_to_final_ms": 300.0,
        "final_text": texts.last(),
    })
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let config = config();
    let stt = stt_section(&config);
    let service = service_section(config);
    let report = json!({
        "machine": {"cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)},
        "speech_to_text": stt,
        "service": service,
        "peak_memory_mb": peak_memory_mb(),
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
