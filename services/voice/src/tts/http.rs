//! The text-to-speech routes: `POST /v1/audio/speech` (OpenAI-compatible, whole
//! audio) and `GET /v1/audio/speech/stream` (WebSocket, sentence by sentence,
//! cancellable).

use std::io::Cursor;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use protocol::voice::{SpeechFormat, SpeechRequest, SpeechStreamControl, SpeechStreamEvent};
use service_kit::error::{ApiError, ApiErrorCode};

use super::engine::{TtsEngine, VoiceId};
use super::error::TtsError;
use super::sentences::split_for_streaming;

/// Response header giving the sample rate of the audio (needed for `pcm`).
pub const SAMPLE_RATE_HEADER: &str = "x-sample-rate";

/// How long a new stream may take to send its request before it is closed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The text-to-speech routes, for the service to merge into its app.
pub fn router(engine: TtsEngine) -> Router {
    Router::new()
        .route("/v1/audio/speech", post(speech))
        .route("/v1/audio/speech/stream", get(speech_stream))
        .with_state(engine)
}

/// A request that passed every check.
struct Job {
    voice: VoiceId,
    sentences: Vec<String>,
    speed: f32,
    format: SpeechFormat,
}

/// Parses and checks a request body, so every mistake gets its own 4xx code (a plain
/// `Json` extractor would answer one generic rejection for all of them).
/// `streaming` cuts a long first sentence after its first clause for earlier audio.
fn parse_request(engine: &TtsEngine, body: &[u8], streaming: bool) -> Result<Job, TtsError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| TtsError::InvalidRequest(format!("body is not JSON: {e}")))?;
    // serde would also read a struct from an array (`["tts-1", "hi", "alloy"]`).
    if !value.is_object() {
        return Err(TtsError::InvalidRequest(
            "body must be a JSON object with model, input and voice".into(),
        ));
    }
    // Checked before the typed parse, which would lump an unknown format in with
    // every other shape error.
    match value.get("response_format") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::String(format)) if matches!(format.as_str(), "wav" | "pcm") => {}
        Some(serde_json::Value::String(format)) => {
            return Err(TtsError::UnsupportedFormat(format.clone()));
        }
        Some(other) => return Err(TtsError::UnsupportedFormat(other.to_string())),
    }
    let request: SpeechRequest = serde_json::from_value(value)
        .map_err(|e| TtsError::InvalidRequest(format!("expected model, input, voice: {e}")))?;
    TtsEngine::check_speed(request.speed)?;
    let mut sentences = engine.sentences(&request.input)?;
    if streaming {
        sentences = split_for_streaming(&request.input);
    }
    let voice = engine.resolve_voice(&request.voice)?;
    Ok(Job {
        voice,
        sentences,
        speed: request.speed,
        format: request.response_format,
    })
}

/// `POST /v1/audio/speech`: the whole text as one WAV file or raw PCM.
async fn speech(State(engine): State<TtsEngine>, body: Bytes) -> Result<Response, ApiError> {
    let job = parse_request(&engine, &body, false)?;
    let admission = engine.admit()?;
    let (samples, rate) = engine
        .synthesise_sentences(&admission, job.voice, &job.sentences, job.speed)
        .await?;
    let (content_type, bytes) = match job.format {
        SpeechFormat::Wav => ("audio/wav".to_string(), wav_bytes(&samples, rate)?),
        SpeechFormat::Pcm => (
            format!("audio/pcm;rate={rate};channels=1;encoding=s16le"),
            pcm16(&samples),
        ),
    };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(SAMPLE_RATE_HEADER, HeaderValue::from(rate));
    Ok(response)
}

/// 16-bit little-endian PCM of samples in [-1, 1].
pub fn pcm16(samples: &[f32]) -> Vec<u8> {
    samples
        .iter()
        .flat_map(|s| to_i16(*s).to_le_bytes())
        .collect()
}

fn to_i16(sample: f32) -> i16 {
    (sample.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16
}

/// A mono 16-bit WAV file of samples in [-1, 1].
pub fn wav_bytes(samples: &[f32], sample_rate: u32) -> Result<Vec<u8>, TtsError> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut cursor = Cursor::new(Vec::with_capacity(44 + samples.len() * 2));
    let write = |cursor: &mut Cursor<Vec<u8>>| -> Result<(), hound::Error> {
        let mut writer = hound::WavWriter::new(cursor, spec)?;
        for sample in samples {
            writer.write_sample(to_i16(*sample))?;
        }
        writer.finalize()
    };
    write(&mut cursor).map_err(|e| TtsError::SynthesisFailed(format!("writing WAV: {e}")))?;
    Ok(cursor.into_inner())
}

/// `GET /v1/audio/speech/stream`: upgrades to a WebSocket (see
/// [`SpeechStreamEvent`] for the protocol).
async fn speech_stream(State(engine): State<TtsEngine>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| stream_speech(engine, socket))
}

/// What a client message during synthesis means.
enum ClientMessage {
    /// Cancel, or the socket closed or failed: stop now.
    Stop,
    /// Anything else (pings, stray text): keep going.
    Ignore,
}

fn classify(message: Option<Result<Message, axum::Error>>) -> ClientMessage {
    match message {
        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => ClientMessage::Stop,
        Some(Ok(Message::Text(text))) => {
            match serde_json::from_str::<SpeechStreamControl>(text.as_str()) {
                Ok(SpeechStreamControl::Cancel) => ClientMessage::Stop,
                Err(_) => ClientMessage::Ignore,
            }
        }
        Some(Ok(_)) => ClientMessage::Ignore,
    }
}

async fn send_event(socket: &mut WebSocket, event: &SpeechStreamEvent) -> bool {
    match serde_json::to_string(event) {
        Ok(json) => socket.send(Message::Text(json.into())).await.is_ok(),
        Err(_) => false,
    }
}

async fn send_error(socket: &mut WebSocket, error: &TtsError) {
    if error.status().is_server_error() {
        tracing::error!(code = error.code(), error = %error, "speech stream failed");
    }
    let event = SpeechStreamEvent::Error {
        code: error.code().to_string(),
        message: error.to_string(),
    };
    let _ = send_event(socket, &event).await;
    let _ = socket.send(Message::Close(None)).await;
}

/// The first text frame of a stream: the request. `None` if the client left.
async fn receive_request(socket: &mut WebSocket) -> Option<Result<Bytes, TtsError>> {
    let first = tokio::time::timeout(REQUEST_TIMEOUT, async {
        loop {
            match socket.recv().await {
                Some(Ok(Message::Text(text))) => return Some(Ok(Bytes::from(text.to_string()))),
                Some(Ok(Message::Binary(_))) => {
                    return Some(Err(TtsError::InvalidRequest(
                        "send the request as a JSON text frame first".into(),
                    )));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                _ => return None,
            }
        }
    })
    .await;
    match first {
        Ok(request) => request,
        Err(_) => Some(Err(TtsError::InvalidRequest(format!(
            "no request within {} s",
            REQUEST_TIMEOUT.as_secs()
        )))),
    }
}

/// One stream: request, then per sentence synthesise → event → PCM frame, then
/// `done`. A sentence is synthesised only after the previous one was sent, so the
/// first audio leaves as early as possible and a cancel wastes at most the sentence
/// in progress.
async fn stream_speech(engine: TtsEngine, mut socket: WebSocket) {
    let body = match receive_request(&mut socket).await {
        None => return,
        Some(Err(error)) => return send_error(&mut socket, &error).await,
        Some(Ok(body)) => body,
    };
    let job = match parse_request(&engine, &body, true) {
        Ok(job) => job,
        Err(error) => return send_error(&mut socket, &error).await,
    };
    let admission = match engine.admit() {
        Ok(admission) => admission,
        Err(error) => return send_error(&mut socket, &error).await,
    };
    let rate = engine.sample_rate(job.voice);
    let mut sent: u32 = 0;
    let mut cancelled = false;
    for (index, sentence) in job.sentences.iter().enumerate() {
        let synthesis = engine.synthesise_sentence(&admission, job.voice, sentence, job.speed);
        tokio::pin!(synthesis);
        let result = loop {
            tokio::select! {
                // A cancel waiting in the socket wins over a finished sentence.
                biased;
                message = socket.recv() => match classify(message) {
                    ClientMessage::Stop => break None,
                    ClientMessage::Ignore => continue,
                },
                result = &mut synthesis => break Some(result),
            }
        };
        let samples = match result {
            None => {
                cancelled = true;
                break;
            }
            Some(Err(error)) => return send_error(&mut socket, &error).await,
            Some(Ok(samples)) => samples,
        };
        let pcm = pcm16(&samples);
        let event = SpeechStreamEvent::Sentence {
            index: index as u32,
            text: sentence.clone(),
            sample_rate: rate,
            bytes: pcm.len() as u64,
        };
        if !send_event(&mut socket, &event).await
            || socket.send(Message::Binary(pcm.into())).await.is_err()
        {
            // The client is gone; nobody to tell.
            return;
        }
        sent += 1;
    }
    let done = SpeechStreamEvent::Done {
        sentences: sent,
        cancelled,
    };
    if send_event(&mut socket, &done).await {
        let _ = socket.send(Message::Close(None)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcm_is_little_endian_and_clamped() {
        assert_eq!(
            pcm16(&[0.0, 1.0, -1.0, 2.0]),
            [0, 0, 0xff, 0x7f, 0x01, 0x80, 0xff, 0x7f]
        );
    }

    #[test]
    fn wav_has_a_header_and_the_samples() -> Result<(), Box<dyn std::error::Error>> {
        let bytes = wav_bytes(&[0.0; 100], 22_050)?;
        let reader = hound::WavReader::new(Cursor::new(bytes))?;
        assert_eq!(reader.spec().sample_rate, 22_050);
        assert_eq!(reader.len(), 100);
        Ok(())
    }
}
