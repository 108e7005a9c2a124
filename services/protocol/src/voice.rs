//! The `voice` service API: OpenAI-compatible speech to text
//! (`POST /v1/audio/transcriptions`) and text to speech (`POST /v1/audio/speech`),
//! plus the events of streaming speech to text used by the kiosk.

use serde::{Deserialize, Serialize};

/// Which body `/v1/audio/transcriptions` returns, chosen by the multipart field
/// `response_format` (OpenAI's names; the audio itself is a multipart file, not JSON).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TranscriptionFormat {
    /// [`Transcription`]: just the text. OpenAI's default.
    #[default]
    Json,
    /// [`VerboseTranscription`]: text with language, duration and timed segments.
    VerboseJson,
    /// Plain text body, no JSON.
    Text,
}

/// Response of `/v1/audio/transcriptions` with `response_format=json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcription {
    /// Everything that was said, as one string.
    pub text: String,
}

/// Response of `/v1/audio/transcriptions` with `response_format=verbose_json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerboseTranscription {
    /// Everything that was said, as one string.
    pub text: String,
    /// Detected (or requested) language, as OpenAI reports it (e.g. `english` or `en`).
    pub language: String,
    /// Length of the audio in seconds.
    pub duration: f64,
    /// The text split into timed pieces, for captions and end-of-turn logic.
    #[serde(default)]
    pub segments: Vec<TranscriptionSegment>,
}

/// One timed piece of a verbose transcription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptionSegment {
    /// Position of the segment in the transcription, from 0 (OpenAI includes it).
    #[serde(default)]
    pub id: u32,
    /// Start time in seconds from the beginning of the audio.
    pub start: f64,
    /// End time in seconds from the beginning of the audio.
    pub end: f64,
    /// What was said in this segment.
    pub text: String,
}

/// Audio encodings `/v1/audio/speech` can return. OpenAI also has mp3/opus; the
/// kiosk plays raw audio, so only uncompressed formats are offered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpeechFormat {
    /// A WAV file with header; easiest for browsers and tools.
    #[default]
    Wav,
    /// Headerless 16-bit little-endian mono PCM, for streaming playback.
    Pcm,
}

/// Request body of `POST /v1/audio/speech` (OpenAI-compatible).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpeechRequest {
    /// Text-to-speech model name; the service maps it to a local voice model.
    pub model: String,
    /// The text to speak.
    pub input: String,
    /// Voice name (OpenAI's `alloy`, ... or a local piper voice).
    pub voice: String,
    /// Encoding of the returned audio; WAV when absent.
    #[serde(default)]
    pub response_format: SpeechFormat,
    /// Speaking rate, 1.0 is normal; OpenAI accepts 0.25 to 4.0.
    #[serde(default = "default_speed")]
    pub speed: f32,
}

fn default_speed() -> f32 {
    1.0
}

/// A server message of streaming text to speech (`GET /v1/audio/speech/stream`), sent
/// as a JSON text frame. The client opens the socket and sends one [`SpeechRequest`]
/// (its `response_format` is ignored: audio always comes as PCM); the server then
/// sends, per sentence, a `sentence` event followed by one binary frame of 16-bit
/// little-endian mono PCM at `sample_rate`, and finally `done` (or `error`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SpeechStreamEvent {
    /// The next binary frame is this sentence's audio.
    Sentence {
        /// Position of the sentence in the text, from 0.
        index: u32,
        /// The sentence as written, for captions.
        text: String,
        /// Samples per second of the audio.
        sample_rate: u32,
        /// Length of the binary frame that follows, in bytes.
        bytes: u64,
    },
    /// The stream is over; the server closes the socket.
    Done {
        /// Sentences sent.
        sentences: u32,
        /// Whether the client cancelled before the end.
        cancelled: bool,
    },
    /// The request was refused or synthesis failed; the stream ends.
    Error {
        /// Stable code, as in the HTTP error body (e.g. `empty_text`, `overloaded`).
        code: String,
        /// What went wrong.
        message: String,
    },
}

/// A client message during streaming text to speech: `{"type":"cancel"}` stops the
/// remaining sentences at once (barge-in). Closing the socket does the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SpeechStreamControl {
    /// Stop speaking.
    Cancel,
}

/// One event of streaming speech to text, sent as a JSON text frame while audio
/// flows in, so the kiosk can show live captions and know when a turn ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SttEvent {
    /// Voice activity began; the kiosk may stop the assistant speaking (barge-in).
    SpeechStarted,
    /// Best guess so far for the current utterance; replaced by the next partial.
    Partial {
        /// The provisional text.
        text: String,
    },
    /// She paused long enough for the utterance to be decoded: its text if the pause
    /// lasts to the end of turn. A kiosk may start preparing the reply, shown only
    /// when the `final` brings the same text.
    Tentative {
        /// The utterance's text if she says no more.
        text: String,
    },
    /// Speech came back after a `tentative`: that text is no longer the utterance.
    SpeechResumed,
    /// Voice activity stopped (end of turn detected); a `final` follows.
    SpeechEnded,
    /// The settled text of the utterance, to be sent to dialogue.
    Final {
        /// The final text.
        text: String,
    },
    /// The stream could not go on as sent (bad frame, too fast, overloaded); when the
    /// input itself was wrong the server closes the socket after it.
    Error {
        /// Stable snake_case identifier, as in the HTTP error body.
        code: String,
        /// Human-readable explanation.
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speech_request_defaults_match_openai_minimal_body() {
        let req: SpeechRequest =
            serde_json::from_str(r#"{"model":"tts-1","input":"Welcome back","voice":"alloy"}"#)
                .unwrap();
        assert_eq!(req.response_format, SpeechFormat::Wav);
        assert_eq!(req.speed, 1.0);
        let pcm: SpeechRequest = serde_json::from_str(
            r#"{"model":"tts-1","input":"x","voice":"alloy","response_format":"pcm","speed":1.5}"#,
        )
        .unwrap();
        assert_eq!(pcm.response_format, SpeechFormat::Pcm);
        assert!(
            serde_json::from_str::<SpeechRequest>(
                r#"{"model":"tts-1","input":"x","voice":"alloy","response_format":"flac"}"#
            )
            .is_err()
        );
    }

    #[test]
    fn verbose_transcription_parses_openai_shape() {
        let json = r#"{"task":"transcribe","language":"english","duration":2.5,
            "text":"I'm looking for a shirt","segments":[{"id":0,"seek":0,"start":0.0,
            "end":2.5,"text":"I'm looking for a shirt","tokens":[1,2]}]}"#;
        let v: VerboseTranscription = serde_json::from_str(json).unwrap();
        assert_eq!(v.segments[0].end, 2.5);
        assert_eq!(v.language, "english");
        let back: VerboseTranscription =
            serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_eq!(back, v);
        let plain: Transcription = serde_json::from_str(r#"{"text":"hi"}"#).unwrap();
        assert_eq!(plain.text, "hi");
    }

    #[test]
    fn stt_events_are_tagged_by_type() {
        let e = SttEvent::Partial { text: "shi".into() };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"type": "partial", "text": "shi"})
        );
        assert_eq!(
            serde_json::to_value(SttEvent::SpeechStarted).unwrap(),
            serde_json::json!({"type": "speech_started"})
        );
        let f: SttEvent = serde_json::from_str(r#"{"type":"final","text":"a shirt"}"#).unwrap();
        assert_eq!(
            f,
            SttEvent::Final {
                text: "a shirt".into()
            }
        );
    }
}
