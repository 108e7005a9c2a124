//! `POST /v1/audio/transcriptions` over real HTTP on the real whisper model: what an
//! OpenAI client sends gets the text back, and every kind of bad upload gets a 400
//! with a code that says what to fix.

#![allow(clippy::unwrap_used)] // test helpers: a failed set-up should stop the test loudly

mod service_support;

use reqwest::multipart::{Form, Part};
use serde_json::Value;
use service_support::{fixture, start, test_config};
use voice::quality::word_error_rate;

const SENTENCE: &str = "I am looking for a blue shirt to go with my pink sweater.";

fn upload(bytes: Vec<u8>) -> Form {
    Form::new()
        .part(
            "file",
            Part::bytes(bytes)
                .file_name("speech.wav")
                .mime_str("audio/wav")
                .unwrap(),
        )
        .text("model", "whisper-1")
}

async fn post(url: &str, form: Form) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{url}/v1/audio/transcriptions"))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// The 16 kHz fixture re-encoded as 32-bit float stereo (same rate: only the encoding changes).
fn as_float_stereo(wav: &[u8]) -> Vec<u8> {
    let mut reader = hound::WavReader::new(std::io::Cursor::new(wav)).unwrap();
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 16_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut out = std::io::Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut out, spec).unwrap();
    for sample in reader.samples::<i16>() {
        let value = f32::from(sample.unwrap()) / 32768.0;
        writer.write_sample(value).unwrap();
        writer.write_sample(value).unwrap();
    }
    writer.finalize().unwrap();
    out.into_inner()
}

#[tokio::test]
async fn transcribes_wav_of_any_common_rate_layout_and_encoding() {
    let service = start(test_config()).await;
    let original = fixture("audio/shirt_request.wav");
    let uploads = [
        ("16 kHz mono PCM16", original.clone()),
        ("8 kHz mono PCM16", fixture("audio/shirt_request_8k.wav")),
        (
            "48 kHz stereo PCM16",
            fixture("audio/shirt_request_48k_stereo.wav"),
        ),
        ("16 kHz stereo float", as_float_stereo(&original)),
    ];
    for (what, bytes) in uploads {
        let response = post(&service.url, upload(bytes)).await;
        assert_eq!(response.status(), 200, "{what}");
        let body: Value = response.json().await.unwrap();
        let text = body["text"].as_str().unwrap();
        let wer = word_error_rate(SENTENCE, text);
        assert!(
            wer <= 0.15,
            "{what}: heard {text:?}, word error rate {wer:.2}"
        );
    }
}

#[tokio::test]
async fn response_formats_text_and_verbose_json() {
    let service = start(test_config()).await;
    let text = post(
        &service.url,
        upload(fixture("audio/shirt_request.wav")).text("response_format", "text"),
    )
    .await;
    assert_eq!(text.status(), 200);
    assert!(
        text.text()
            .await
            .unwrap()
            .to_lowercase()
            .contains("pink sweater")
    );

    let verbose = post(
        &service.url,
        upload(fixture("audio/shirt_request.wav"))
            .text("response_format", "verbose_json")
            .text("language", "en"),
    )
    .await;
    let body: Value = verbose.json().await.unwrap();
    assert_eq!(body["language"], "en");
    let duration = body["duration"].as_f64().unwrap();
    assert!((duration - 3.53).abs() < 0.05, "duration {duration}");
    let segments = body["segments"].as_array().unwrap();
    assert!(!segments.is_empty());
    let last_end = segments.last().unwrap()["end"].as_f64().unwrap();
    assert!(
        last_end > 2.5 && last_end <= duration + 0.01,
        "segments end within the audio: {segments:?}"
    );
}

async fn expect_error(url: &str, form: Form, status: u16, code: &str) -> String {
    let response = post(url, form).await;
    assert_eq!(response.status(), status, "expected {code}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"]["message"].as_str().unwrap().to_string()
}

/// The first two seconds of a 16 kHz mono PCM16 fixture, as a WAV file.
fn first_two_seconds(wav: &[u8]) -> Vec<u8> {
    let mut reader = hound::WavReader::new(std::io::Cursor::new(wav)).unwrap();
    let spec = reader.spec();
    let mut out = std::io::Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut out, spec).unwrap();
    for sample in reader.samples::<i16>().take(32_000) {
        writer.write_sample(sample.unwrap()).unwrap();
    }
    writer.finalize().unwrap();
    out.into_inner()
}

/// A well-formed WAV file holding zero samples.
fn empty_wav() -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = std::io::Cursor::new(Vec::new());
    hound::WavWriter::new(&mut out, spec)
        .unwrap()
        .finalize()
        .unwrap();
    out.into_inner()
}

#[tokio::test]
async fn bad_uploads_get_a_clear_4xx_code() {
    let mut config = test_config();
    config.voice.max_audio_seconds = 3.0;
    config.voice.max_upload_bytes = 200_000;
    let service = start(config).await;
    let url = &service.url;
    let wav = fixture("audio/shirt_request.wav");

    let message = expect_error(
        url,
        upload(b"%PDF-1.4 not audio".to_vec()),
        400,
        "not_audio",
    )
    .await;
    assert!(message.contains("WAV"), "{message}");
    expect_error(
        url,
        upload(wav[..wav.len() / 2].to_vec()),
        400,
        "truncated_audio",
    )
    .await;
    expect_error(url, upload(wav[..44].to_vec()), 400, "truncated_audio").await;
    expect_error(url, upload(empty_wav()), 400, "empty_audio").await;
    let message = expect_error(url, upload(wav.clone()), 400, "audio_too_long").await;
    assert!(
        message.contains("3.5 s") && message.contains("3 s"),
        "{message}"
    );
    expect_error(
        url,
        upload(fixture("audio/shirt_request_48k_stereo.wav")),
        413,
        "body_too_large",
    )
    .await;
    expect_error(
        url,
        Form::new().text("model", "whisper-1"),
        400,
        "missing_file",
    )
    .await;
    let short = first_two_seconds(&wav);
    expect_error(
        url,
        upload(short.clone()).text("response_format", "srt"),
        400,
        "unsupported_format",
    )
    .await;
    expect_error(
        url,
        upload(short.clone()).text("language", "fr"),
        400,
        "unsupported_language",
    )
    .await;
    expect_error(
        url,
        upload(short.clone()).text("prompt", "x".repeat(5000)),
        400,
        "prompt_too_long",
    )
    .await;
    assert_eq!(
        post(url, upload(short)).await.status(),
        200,
        "a valid upload still passes"
    );
}

#[tokio::test]
async fn overload_answers_503_with_retry_after_and_never_crashes() {
    let mut config = test_config();
    config.voice.stt_workers = 1;
    config.voice.stt_queue = 0;
    let service = start(config).await;
    let requests: Vec<_> = (0..4)
        .map(|_| {
            let url = service.url.clone();
            tokio::spawn(
                async move { post(&url, upload(fixture("audio/shirt_request.wav"))).await },
            )
        })
        .collect();
    let mut responses = Vec::new();
    for request in requests {
        responses.push(request.await.unwrap());
    }
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert!(statuses.contains(&200), "{statuses:?}");
    let refused = responses
        .iter()
        .find(|r| r.status() == 503)
        .unwrap_or_else(|| panic!("no 503 in {statuses:?}"));
    assert!(refused.headers().get("retry-after").is_some());
    // Still serving afterwards.
    assert_eq!(
        post(&service.url, upload(fixture("audio/shirt_request.wav")))
            .await
            .status(),
        200
    );
}
