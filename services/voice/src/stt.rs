//! Speech to text with a whisper.cpp ggml model.

use std::path::Path;

use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

/// The sample rate whisper models take: 16 kHz mono f32 in [-1, 1].
pub const SAMPLE_RATE: u32 = 16_000;

/// Why a transcription failed.
#[derive(Debug, thiserror::Error)]
pub enum SttError {
    /// whisper.cpp could not load the model file.
    #[error("whisper.cpp could not load {path}: {reason}")]
    Load {
        /// The model file.
        path: String,
        /// whisper-rs's error.
        reason: String,
    },
    /// whisper.cpp failed while decoding.
    #[error("whisper.cpp failed to transcribe: {0}")]
    Decode(String),
}

/// A loaded whisper model. The context is shared; each transcription gets its own
/// state, so several can run at once on one model.
pub struct SpeechToText {
    context: WhisperContext,
    threads: i32,
}

/// One decoded segment, with times in seconds from the start of the audio.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Start time in seconds.
    pub start: f32,
    /// End time in seconds.
    pub end: f32,
    /// The words.
    pub text: String,
}

impl SpeechToText {
    /// Loads a ggml model (verify it against the manifest first).
    pub fn load(model: &Path, threads: usize) -> Result<SpeechToText, SttError> {
        let path = model.to_string_lossy().into_owned();
        let context = WhisperContext::new_with_params(&path, WhisperContextParameters::default())
            .map_err(|e| SttError::Load {
            path,
            reason: e.to_string(),
        })?;
        Ok(SpeechToText {
            context,
            threads: threads.max(1) as i32,
        })
    }

    /// Transcribes 16 kHz mono samples in English; returns the segments.
    pub fn transcribe(&self, samples: &[f32]) -> Result<Vec<Segment>, SttError> {
        let mut state = self
            .context
            .create_state()
            .map_err(|e| SttError::Decode(e.to_string()))?;
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_n_threads(self.threads);
        params.set_language(Some("en"));
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        params.set_single_segment(false);
        state
            .full(params, samples)
            .map_err(|e| SttError::Decode(e.to_string()))?;
        let mut segments = Vec::new();
        for segment in state.as_iter() {
            let text = segment
                .to_str_lossy()
                .map_err(|e| SttError::Decode(e.to_string()))?;
            segments.push(Segment {
                // whisper.cpp counts in centiseconds.
                start: segment.start_timestamp() as f32 / 100.0,
                end: segment.end_timestamp() as f32 / 100.0,
                text: text.trim().to_string(),
            });
        }
        Ok(segments)
    }
}
