//! `POST /v1/audio/transcriptions`, OpenAI-compatible: a multipart upload with `file`
//! and optional `model`, `language`, `prompt`, `response_format`, `temperature`.

use axum::Json;
use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use protocol::voice::{
    Transcription, TranscriptionFormat, TranscriptionSegment, VerboseTranscription,
};
use service_kit::error::{ApiError, ApiErrorCode};

use crate::AppState;
use crate::audio::decode_wav;
use crate::stt::TranscribeOptions;

/// Longest `prompt` accepted (whisper uses at most half its 448-token context for it).
pub const MAX_PROMPT_CHARS: usize = 1000;

/// A malformed transcription request.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The body is not valid multipart form data.
    #[error("the request is not valid multipart/form-data: {0}")]
    Multipart(String),
    /// No `file` part.
    #[error("the form has no `file` field; send the audio as a file part named `file`")]
    MissingFile,
    /// A response format other than json, text, verbose_json.
    #[error("response_format {0:?} is not supported; use json, text or verbose_json")]
    UnsupportedFormat(String),
    /// An overlong biasing prompt.
    #[error("the prompt has {0} characters; the limit is {MAX_PROMPT_CHARS}")]
    PromptTooLong(usize),
}

impl ApiErrorCode for RequestError {
    fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }

    fn code(&self) -> &'static str {
        match self {
            RequestError::Multipart(_) => "invalid_multipart",
            RequestError::MissingFile => "missing_file",
            RequestError::UnsupportedFormat(_) => "unsupported_format",
            RequestError::PromptTooLong(_) => "prompt_too_long",
        }
    }
}

/// Transcribes an uploaded WAV file.
pub async fn transcribe(
    State(state): State<AppState>,
    mut form: Multipart,
) -> Result<Response, ApiError> {
    let mut file = None;
    let mut format = TranscriptionFormat::Json;
    let mut options = TranscribeOptions::default();
    let multipart =
        |e: axum::extract::multipart::MultipartError| RequestError::Multipart(e.body_text());
    while let Some(field) = form.next_field().await.map_err(multipart)? {
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "file" => file = Some(field.bytes().await.map_err(multipart)?),
            "language" => {
                options.language =
                    Some(field.text().await.map_err(multipart)?).filter(|l| !l.is_empty())
            }
            "prompt" => {
                let prompt = field.text().await.map_err(multipart)?;
                if prompt.chars().count() > MAX_PROMPT_CHARS {
                    return Err(RequestError::PromptTooLong(prompt.chars().count()).into());
                }
                options.prompt = Some(prompt);
            }
            "response_format" => {
                let value = field.text().await.map_err(multipart)?;
                format = serde_json::from_value(serde_json::Value::String(value.clone()))
                    .map_err(|_| RequestError::UnsupportedFormat(value))?;
            }
            // `model` (clients send "whisper-1"; this service has one model per
            // language), `temperature` and unknown fields are accepted and ignored, as
            // OpenAI-compatible servers do.
            _ => {}
        }
    }
    let file = file.ok_or(RequestError::MissingFile)?;
    let max_seconds = state.config.max_audio_seconds;
    let samples = tokio::task::spawn_blocking(move || decode_wav(&file, max_seconds))
        .await
        .map_err(|e| ApiError::internal(format!("audio decoding thread failed: {e}")))??;
    let transcript = state.stt.transcribe(samples, options).await?;
    Ok(match format {
        TranscriptionFormat::Json => Json(Transcription {
            text: transcript.text,
        })
        .into_response(),
        TranscriptionFormat::Text => transcript.text.into_response(),
        TranscriptionFormat::VerboseJson => Json(VerboseTranscription {
            text: transcript.text,
            language: transcript.language,
            duration: f64::from(transcript.duration),
            segments: transcript
                .segments
                .into_iter()
                .enumerate()
                .map(|(id, s)| TranscriptionSegment {
                    id: id as u32,
                    start: f64::from(s.start),
                    end: f64::from(s.end),
                    text: s.text,
                })
                .collect(),
        })
        .into_response(),
    })
}
