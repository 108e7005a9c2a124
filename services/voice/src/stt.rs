//! Speech to text with a whisper.cpp ggml model: a shared model, a bounded pool of
//! decoding states, a bounded queue in front of it, and metrics per stage.

use std::ffi::c_void;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use service_kit::error::ApiErrorCode;
use service_kit::workers::BoundedWorkers;
use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
};

pub use crate::audio::WHISPER_RATE as SAMPLE_RATE;

/// Encoder positions per second of audio (whisper: 1500 for 30 s).
const AUDIO_CTX_PER_SECOND: f32 = 50.0;
/// Encoder positions of whisper's full 30 s window.
const FULL_AUDIO_CTX: i32 = 1500;
/// The smallest window used: 5 s. Smaller ones make tiny.en repeat itself more often
/// than [`collapse_repeats`] can mend.
const MIN_AUDIO_CTX: i32 = 250;

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
    /// Every worker is busy and the queue is full.
    #[error("speech recognition is busy ({queued} requests waiting); try again shortly")]
    Overloaded {
        /// Requests already waiting.
        queued: usize,
    },
    /// A language whisper does not know, or one this English-only model cannot do.
    #[error("language {0:?} is not available with this model; use \"en\"")]
    UnsupportedLanguage(String),
    /// An optional decode found no worker free (and was not queued).
    #[error("speech recognition is busy; an optional transcription was skipped")]
    Skipped,
    /// The caller cancelled the decode through its [`CancelFlag`].
    #[error("the transcription was cancelled")]
    Cancelled,
}

impl ApiErrorCode for SttError {
    fn status(&self) -> StatusCode {
        match self {
            SttError::Load { .. } | SttError::Decode(_) => StatusCode::INTERNAL_SERVER_ERROR,
            SttError::Overloaded { .. } | SttError::Skipped | SttError::Cancelled => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            SttError::UnsupportedLanguage(_) => StatusCode::BAD_REQUEST,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            SttError::Load { .. } => "model_not_loaded",
            SttError::Decode(_) => "transcription_failed",
            SttError::Overloaded { .. } => "overloaded",
            SttError::UnsupportedLanguage(_) => "unsupported_language",
            SttError::Skipped => "skipped",
            SttError::Cancelled => "cancelled",
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        matches!(self, SttError::Overloaded { .. }).then_some(Duration::from_secs(1))
    }
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

/// A decode's stop switch, shared by the caller and the decoding thread. whisper.cpp
/// looks at it after the encoder and after every decoder step, so a cancelled decode
/// gives its worker back without writing out the rest of the text.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    /// Asks the decode to stop; it ends with [`SttError::Cancelled`].
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`CancelFlag::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Whether both are the same switch (clones of one flag).
    fn same_as(&self, other: &CancelFlag) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// whisper.cpp's abort callback: true once the flag behind `user_data` is set.
extern "C" fn cancel_requested(user_data: *mut c_void) -> bool {
    #[allow(unsafe_code)]
    // SAFETY: `user_data` is `Arc::as_ptr` of the flag of the decode that calls this,
    // and `SpeechToText::transcribe` holds that Arc until whisper returns.
    let flag = unsafe { &*(user_data as *const AtomicBool) };
    flag.load(Ordering::Relaxed)
}

/// How much a decode is wanted, which decides whether it waits for a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// Someone waits for the text (a turn's transcript, an HTTP request): it queues for
    /// a worker, within the queue's bound.
    Required,
    /// A live caption: it runs only on a worker that is free now with nobody waiting,
    /// and is skipped ([`SttError::Skipped`]) otherwise, so captions never delay a
    /// transcript someone waits for.
    Optional,
}

/// What a caller may ask of one transcription.
#[derive(Debug, Clone, Default)]
pub struct TranscribeOptions {
    /// ISO 639-1 code; `None` means the model's own (English for `.en` models).
    pub language: Option<String>,
    /// Words to bias towards: the catalogue's brands and product names, the turn so far.
    pub prompt: Option<String>,
    /// Decode with whisper's fixed 30 s window instead of one fitted to the audio (at
    /// least 5 s); only the benchmark that compares the two sets it.
    pub full_window: bool,
    /// Stops the decode early when set (a caption made stale by the end of speech).
    pub cancel: CancelFlag,
    /// CPU threads for this decode; `None`: the model's own count when nothing else
    /// is running in the process, one otherwise ([`crate::cpu`]).
    pub threads: Option<usize>,
}

/// A transcription: segments and the joined text.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// All segments' text, joined by spaces.
    pub text: String,
    /// Timed segments.
    pub segments: Vec<Segment>,
    /// The language decoded.
    pub language: String,
    /// Length of the audio in seconds.
    pub duration: f32,
}

/// A loaded whisper model. The context (weights) is shared; each decode needs a state
/// (KV caches, ~tens of MB), which are pooled so a request does not allocate one.
pub struct SpeechToText {
    context: WhisperContext,
    threads: i32,
    multilingual: bool,
    states: Mutex<Vec<WhisperState>>,
}

impl SpeechToText {
    /// Loads a ggml model (verify it against the manifest first).
    pub fn load(model: &Path, threads: usize) -> Result<SpeechToText, SttError> {
        whisper_rs::install_logging_hooks(); // whisper.cpp's chatter goes to tracing at debug
        let path = model.to_string_lossy().into_owned();
        let context = WhisperContext::new_with_params(&path, WhisperContextParameters::default())
            .map_err(|e| SttError::Load {
            path,
            reason: e.to_string(),
        })?;
        let multilingual = context.is_multilingual();
        Ok(SpeechToText {
            context,
            threads: threads.max(1) as i32,
            multilingual,
            states: Mutex::new(Vec::new()),
        })
    }

    /// Transcribes 16 kHz mono samples (blocking; run it off the async runtime).
    pub fn transcribe(
        &self,
        samples: &[f32],
        options: &TranscribeOptions,
    ) -> Result<Transcript, SttError> {
        let language = match options.language.as_deref().map(str::to_lowercase) {
            None => "en".to_string(),
            Some(code) if code == "en" || code == "english" => "en".to_string(),
            Some(code) if self.multilingual && whisper_rs::get_lang_id(&code).is_some() => code,
            Some(code) => return Err(SttError::UnsupportedLanguage(code)),
        };
        if options.cancel.is_cancelled() {
            return Err(SttError::Cancelled);
        }
        let mut state = match self.states.lock().map(|mut pool| pool.pop()) {
            Ok(Some(state)) => state,
            _ => self
                .context
                .create_state()
                .map_err(|e| SttError::Decode(e.to_string()))?,
        };
        let duration = samples.len() as f32 / SAMPLE_RATE as f32;
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        // All configured threads only when nothing else is running (crate::cpu).
        let running = crate::cpu::Running::start();
        let threads = match options.threads {
            Some(n) => n.max(1) as i32,
            None if running.others() > 0 => 1,
            None => self.threads,
        };
        params.set_n_threads(threads);
        params.set_language(Some(&language));
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        params.set_no_context(true);
        params.set_suppress_blank(true);
        if let Some(prompt) = options.prompt.as_deref().filter(|p| !p.trim().is_empty()) {
            params.set_initial_prompt(prompt);
        }
        if !options.full_window {
            // The encoder's cost follows its window: a 3 s utterance decoded in a 5 s
            // window costs a sixth of the fixed 30 s one. Shorter windows make tiny.en
            // repeat the sentence on the padding; `collapse_repeats` drops the repeat.
            // Measured (2 cores): a 3 s request decodes in ~170 ms instead of ~330 ms
            // with a 10 s floor, at the same word error rate (piper round trip
            // 0.07-0.10 over runs with either floor; espeak set 0.111 against 0.126).
            // A long silence inside the audio does make it loop; the stream shortens
            // pauses before decoding (`TurnConfig::max_pause`).
            let fitted = ((duration + 1.0) * AUDIO_CTX_PER_SECOND).ceil() as i32;
            params.set_audio_ctx(fitted.clamp(MIN_AUDIO_CTX, FULL_AUDIO_CTX));
        }
        // A bound on runaway decoding (a repetition loop): speech runs at about three
        // words, four tokens, a second.
        params.set_max_tokens((duration * 6.0) as i32 + 16);
        // whisper.cpp pads to at least one second; shorter input gets silence after it.
        let padded;
        let input = if samples.len() < SAMPLE_RATE as usize {
            padded = [samples, &vec![0.0; SAMPLE_RATE as usize - samples.len()]].concat();
            &padded[..]
        } else {
            samples
        };
        // whisper-rs's closure-taking `set_abort_callback_safe` (0.16) hands whisper a
        // pointer to a boxed trait object but reads it back as the closure's own type;
        // the plain C callback over the flag's address is the sound way.
        let flag = Arc::clone(&options.cancel.0);
        #[allow(unsafe_code)]
        // SAFETY: `cancel_requested` only reads an AtomicBool through the pointer, and
        // `flag` keeps the AtomicBool alive until `full` has returned.
        unsafe {
            params.set_abort_callback(Some(cancel_requested));
            params.set_abort_callback_user_data(Arc::as_ptr(&flag) as *mut c_void);
        }
        let decoded = state.full(params, input);
        drop(running);
        drop(flag);
        // A decode that finished before it saw the flag keeps its transcript.
        if decoded.is_err() && options.cancel.is_cancelled() {
            if let Ok(mut pool) = self.states.lock() {
                pool.push(state); // whisper resets a state at the start of each decode
            }
            return Err(SttError::Cancelled);
        }
        decoded.map_err(|e| SttError::Decode(e.to_string()))?;
        let mut segments = Vec::new();
        for segment in state.as_iter() {
            let text = segment
                .to_str_lossy()
                .map_err(|e| SttError::Decode(e.to_string()))?;
            let text = collapse_repeats(text.trim());
            if text.is_empty() {
                continue;
            }
            // A decoding loop also repeats whole segments.
            if segments
                .last()
                .is_some_and(|last: &Segment| echoes(&last.text, &text))
            {
                continue;
            }
            segments.push(Segment {
                // whisper.cpp counts in centiseconds.
                start: segment.start_timestamp() as f32 / 100.0,
                end: (segment.end_timestamp() as f32 / 100.0).min(duration),
                text: text.to_string(),
            });
        }
        if let Ok(mut pool) = self.states.lock() {
            pool.push(state);
        }
        let text = segments
            .iter()
            .map(|s| s.text.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        Ok(Transcript {
            text,
            segments,
            language,
            duration,
        })
    }
}

/// Drops a sentence that repeats the one before it, whole or in part ("Welcome back
/// Lucy. Welcome back Lucy. Welcome back"): whisper's decoding loop on short audio.
fn collapse_repeats(text: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        // A sentence ends at . ? ! before a space or the end ("$49.50" does not).
        let bytes = rest.as_bytes();
        let end = (0..bytes.len())
            .find(|&i| {
                matches!(bytes[i], b'.' | b'?' | b'!')
                    && bytes.get(i + 1).is_none_or(|b| b.is_ascii_whitespace())
            })
            .map_or(rest.len(), |i| i + 1);
        let sentence = rest[..end].trim();
        rest = &rest[end..];
        if sentence.is_empty() {
            continue;
        }
        if kept.last().is_some_and(|last| echoes(last, sentence)) {
            continue;
        }
        kept.push(sentence);
    }
    kept.join(" ")
}

/// Whether `next` only echoes `previous`: the same words, or some of them in the same
/// order ("Welcome back, Lucy. Welcome back"). whisper loops like this on the silence
/// it is padded with; a speaker adds words when she goes on, she does not replay a
/// fragment of what she just said in the same breath. A fragment without a word ("$ $")
/// adds nothing either.
fn echoes(previous: &str, next: &str) -> bool {
    let words = |s: &str| {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
    };
    let (previous, next) = (words(previous), words(next));
    if next.len() > previous.len() {
        return false;
    }
    let mut rest = previous.iter();
    next.iter().all(|word| rest.any(|w| w == word))
}

/// Latency histograms of speech recognition, on `/metrics`.
#[derive(Clone)]
struct SttMetrics {
    queue_wait: Histogram,
    decode: Histogram,
    audio: Histogram,
}

impl SttMetrics {
    /// The process's one set (registering twice would duplicate the metric families).
    fn global() -> SttMetrics {
        static METRICS: std::sync::OnceLock<SttMetrics> = std::sync::OnceLock::new();
        METRICS.get_or_init(SttMetrics::register).clone()
    }

    fn register() -> SttMetrics {
        let registry = service_kit::telemetry::Metrics::global();
        // 5 ms to ~40 s.
        let seconds = || exponential_buckets(0.005, 2.0, 14);
        SttMetrics {
            queue_wait: registry.histogram(
                "voice_stt_queue_wait_seconds",
                "Time a transcription waited for a whisper worker",
                seconds(),
            ),
            decode: registry.histogram(
                "voice_stt_decode_seconds",
                "Time whisper.cpp spent decoding one request",
                seconds(),
            ),
            audio: registry.histogram(
                "voice_stt_audio_seconds",
                "Length of the audio transcribed per request",
                seconds(),
            ),
        }
    }
}

/// The model behind a bounded pool: at most `workers` decodes at once, at most `queue`
/// waiting, the rest refused with [`SttError::Overloaded`] (503 + Retry-After).
#[derive(Clone)]
pub struct SttPool {
    model: Arc<SpeechToText>,
    workers: BoundedWorkers,
    metrics: SttMetrics,
    /// The stop switches of the optional decodes running now, so that a required
    /// decode that has to wait can stop them.
    optional_running: Arc<Mutex<Vec<CancelFlag>>>,
}

impl SttPool {
    /// Wraps a loaded model.
    pub fn new(model: SpeechToText, workers: usize, queue: usize) -> SttPool {
        SttPool {
            model: Arc::new(model),
            workers: BoundedWorkers::new(workers, queue),
            metrics: SttMetrics::global(),
            optional_running: Arc::default(),
        }
    }

    /// Transcribes on a blocking thread once a worker is free ([`Urgency::Required`]).
    pub async fn transcribe(
        &self,
        samples: Vec<f32>,
        options: TranscribeOptions,
    ) -> Result<Transcript, SttError> {
        self.transcribe_with(samples, options, Urgency::Required)
            .await
    }

    /// Transcribes on a blocking thread. A required decode waits for a worker, and
    /// cancels the optional decodes running when it has to. An optional one runs only
    /// if a worker is free now, on one CPU thread, leaving the other cores to the
    /// transcripts and the speech synthesis that people wait for.
    pub async fn transcribe_with(
        &self,
        samples: Vec<f32>,
        mut options: TranscribeOptions,
        urgency: Urgency,
    ) -> Result<Transcript, SttError> {
        let queued_at = Instant::now();
        let mut registered = None;
        let permit = match urgency {
            Urgency::Required => match self.workers.try_acquire() {
                Some(permit) => permit,
                None => {
                    for running in self.optional_running().drain(..) {
                        running.cancel();
                    }
                    self.workers
                        .acquire()
                        .await
                        .map_err(|full| SttError::Overloaded {
                            queued: full.queued,
                        })?
                }
            },
            Urgency::Optional => {
                let permit = self.workers.try_acquire().ok_or(SttError::Skipped)?;
                options.threads = Some(1);
                self.optional_running().push(options.cancel.clone());
                registered = Some(options.cancel.clone());
                permit
            }
        };
        self.metrics
            .queue_wait
            .observe(queued_at.elapsed().as_secs_f64());
        self.metrics
            .audio
            .observe(samples.len() as f64 / f64::from(SAMPLE_RATE));
        let model = self.model.clone();
        let decode = self.metrics.decode.clone();
        let optional_running = self.optional_running.clone();
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let result = model.transcribe(&samples, &options);
            decode.observe(started.elapsed().as_secs_f64());
            if let Some(flag) = registered {
                let mut running = optional_running.lock().unwrap_or_else(|e| e.into_inner());
                running.retain(|f| !f.same_as(&flag));
            }
            drop(permit);
            result
        })
        .await
        .map_err(|e| SttError::Decode(format!("the decoding thread failed: {e}")))?
    }

    fn optional_running(&self) -> std::sync::MutexGuard<'_, Vec<CancelFlag>> {
        // The list holds no invariant a panic could break.
        self.optional_running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The model, for callers that decode synchronously (benchmarks).
    pub fn model(&self) -> &SpeechToText {
        &self.model
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_repetition_loop_is_heard_once_and_new_words_are_kept() {
        for (heard, kept) in [
            (
                "Welcome back Lucy. Welcome back Lucy. welcome back, Lucy",
                "Welcome back Lucy.",
            ),
            (
                "Yes. Yes, please. It costs $49.50. It costs $49.50!",
                "Yes. Yes, please. It costs $49.50.",
            ),
            // A fragment of the sentence before, or no words at all, is the loop too.
            ("Welcome back, Lucy. Welcome back,", "Welcome back, Lucy."),
            ("It costs $49. $ $ $", "It costs $49."),
            // New words after some of the same ones are what she said.
            (
                "I want a shirt. A shirt in blue.",
                "I want a shirt. A shirt in blue.",
            ),
        ] {
            assert_eq!(super::collapse_repeats(heard), kept, "heard {heard:?}");
        }
    }
}
