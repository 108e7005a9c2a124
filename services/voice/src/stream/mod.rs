//! Streaming speech to text over a WebSocket: voice activity, end of turn, partial and
//! final transcripts.
//!
//! `GET /v1/audio/stream[?language=en&prompt=...]` upgrades to a WebSocket. The client
//! sends binary frames of 16 kHz mono PCM16 little-endian audio, of any size; the server
//! answers with JSON [`SttEvent`] text frames: `speech_started`, `partial` while the
//! customer speaks, `speech_ended` once the silence has lasted the configured end of
//! turn, then `final`. Errors are `{"type":"error","code":...,"message":...}`; an input
//! the server cannot take (odd byte count, oversized frame, too many frames) also
//! closes the socket.
//!
//! Per connection three tasks run: one reads the socket, one writes it, and the stream
//! itself scores 32 ms windows with Silero VAD, drives the [`turn::TurnDetector`] and
//! schedules decodes. A stream has at most one decode running, through the shared
//! [`SttPool`], so a stream never holds more than one whisper worker and others get
//! their turn. A partial is optional work ([`Urgency::Optional`]): it runs only on an
//! idle worker, is skipped when any stream's transcript waits for one, and is cancelled
//! when the silence begins, so captions never delay a turn's transcript, this
//! customer's or another's. When the silence after speech begins, the utterance is
//! decoded at once (speculatively): if the silence lasts to the end of turn, that
//! decode is the final transcript and arrives almost with `speech_ended`; if speech
//! resumes, it is sent as a partial instead. Its
//! text is also sent at once as `tentative` (and withdrawn by `speech_resumed`), so a
//! kiosk can prepare the reply during the rest of the pause.
//!
//! A `final` always belongs to the last `speech_ended`; if the customer starts again
//! before it is ready, a `speech_started` can come between the two.

pub mod turn;
pub mod vad;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use models::verify_installed;
use protocol::voice::SttEvent;
use serde::Deserialize;
use service_kit::config::VoiceConfig;
use service_kit::error::{ApiError, ApiErrorCode};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinHandle;

use crate::stt::{CancelFlag, SttError, SttPool, TranscribeOptions, Transcript, Urgency};
use turn::{TurnConfig, TurnDetector, TurnEvent};
use vad::{VadError, VadPool, WINDOW};

/// WebSocket close code: the data cannot be accepted (RFC 6455 §7.4.1).
const CLOSE_UNSUPPORTED: u16 = 1003;
/// WebSocket close code: a policy (rate) was violated.
const CLOSE_POLICY: u16 = 1008;
/// WebSocket close code: a message was too big.
const CLOSE_TOO_BIG: u16 = 1009;
/// WebSocket close code: the server failed.
const CLOSE_INTERNAL: u16 = 1011;

/// Limits and timings of the streaming endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSettings {
    /// Silence after speech that ends the turn, in milliseconds.
    pub end_of_turn_silence_ms: u32,
    /// Time between partial transcripts while the customer speaks, in milliseconds.
    pub partial_interval_ms: u32,
    /// VAD probability at or above which a window is speech.
    pub vad_threshold: f32,
    /// Longest utterance in seconds; the turn is forced to end there.
    pub max_audio_seconds: f32,
    /// Largest binary frame in bytes (64 KiB is 2 s of audio).
    pub max_frame_bytes: usize,
    /// Frames of any kind a client may send per second (with a one-second burst).
    pub max_messages_per_second: u32,
    /// Streams served at once; more are answered 503 before the upgrade.
    pub max_streams: usize,
    /// Longest `prompt` query parameter, in characters (whisper uses at most 224
    /// tokens of it anyway).
    pub max_prompt_chars: usize,
}

impl StreamSettings {
    /// The configured timings with the default limits.
    pub fn from_config(config: &VoiceConfig) -> Self {
        StreamSettings {
            end_of_turn_silence_ms: config.end_of_turn_silence_ms,
            partial_interval_ms: config.partial_interval_ms,
            vad_threshold: config.vad_threshold,
            max_audio_seconds: config.max_audio_seconds,
            max_frame_bytes: 64 * 1024,
            max_messages_per_second: 200,
            max_streams: 16,
            max_prompt_chars: 1000,
        }
    }
}

/// Why a stream was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// A model file is missing, corrupted or not in the manifest.
    #[error(transparent)]
    Model(#[from] models::ModelError),
    /// ONNX Runtime or the VAD failed.
    #[error(transparent)]
    Vad(#[from] VadError),
    /// All stream slots are taken.
    #[error("too many audio streams ({0} at once); try again shortly")]
    TooManyStreams(usize),
    /// A query parameter is not acceptable.
    #[error("{0}")]
    BadQuery(String),
    /// The client sent a frame the stream cannot take.
    #[error("{message}")]
    BadInput {
        /// Stable code of the problem.
        code: &'static str,
        /// What to fix.
        message: String,
    },
}

impl ApiErrorCode for StreamError {
    fn status(&self) -> StatusCode {
        match self {
            StreamError::Model(_) | StreamError::Vad(_) => StatusCode::INTERNAL_SERVER_ERROR,
            StreamError::TooManyStreams(_) => StatusCode::SERVICE_UNAVAILABLE,
            StreamError::BadQuery(_) | StreamError::BadInput { .. } => StatusCode::BAD_REQUEST,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            StreamError::Model(_) => "model_not_loaded",
            StreamError::Vad(_) => "vad_failed",
            StreamError::TooManyStreams(_) => "overloaded",
            StreamError::BadQuery(_) => "invalid_request",
            StreamError::BadInput { code, .. } => code,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        matches!(self, StreamError::TooManyStreams(_)).then_some(Duration::from_secs(1))
    }
}

/// What the streaming endpoint shares between connections.
#[derive(Clone)]
pub struct StreamState {
    stt: Arc<SttPool>,
    vad: Arc<VadPool>,
    settings: StreamSettings,
    slots: Arc<Semaphore>,
}

impl StreamState {
    /// Serves streams with `stt` for decoding and the Silero VAD model at `vad_model`
    /// (verified; ONNX Runtime already loaded with [`crate::onnxruntime::init`]).
    pub fn new(stt: impl Into<Arc<SttPool>>, vad_model: PathBuf, settings: StreamSettings) -> Self {
        let slots = Arc::new(Semaphore::new(settings.max_streams.max(1)));
        StreamState {
            stt: stt.into(),
            vad: Arc::new(VadPool::new(vad_model, settings.max_streams.max(1))),
            settings,
            slots,
        }
    }

    /// Verifies the configured VAD model and ONNX Runtime in `models_dir`, loads the
    /// runtime, and opens one VAD session to prove the model works (blocking; call it
    /// at start-up, off the async runtime).
    pub fn load(
        stt: impl Into<Arc<SttPool>>,
        models_dir: &Path,
        config: &VoiceConfig,
    ) -> Result<Self, StreamError> {
        let model = verify_installed(models_dir, &config.vad_model)?.remove(0);
        crate::onnxruntime::init(models_dir).map_err(|reason| VadError::Runtime {
            path: models_dir.display().to_string(),
            reason,
        })?;
        let state = StreamState::new(stt, model, StreamSettings::from_config(config));
        let warm = state.vad.take()?;
        state.vad.put(warm);
        Ok(state)
    }

    /// The same models with other settings (limits for a test, a tuned deployment).
    pub fn with_settings(self, settings: StreamSettings) -> Self {
        let vad = self.vad.model().to_path_buf();
        StreamState::new(self.stt, vad, settings)
    }

    /// The settings in force.
    pub fn settings(&self) -> &StreamSettings {
        &self.settings
    }
}

/// The routes of streaming speech to text: `GET /v1/audio/stream`.
pub fn router(state: StreamState) -> Router {
    Router::new()
        .route("/v1/audio/stream", get(upgrade))
        .with_state(state)
}

/// Query parameters of `/v1/audio/stream`.
#[derive(Debug, Default, Deserialize)]
struct StreamQuery {
    /// ISO 639-1 language of the speech.
    language: Option<String>,
    /// Words to bias recognition towards (catalogue brands, product names).
    prompt: Option<String>,
}

async fn upgrade(
    State(state): State<StreamState>,
    Query(query): Query<StreamQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    if let Some(prompt) = &query.prompt
        && prompt.chars().count() > state.settings.max_prompt_chars
    {
        return Err(StreamError::BadQuery(format!(
            "prompt has more than {} characters",
            state.settings.max_prompt_chars
        ))
        .into());
    }
    if let Some(language) = &query.language
        && whisper_rs::get_lang_id(&language.to_lowercase()).is_none()
        && !language.eq_ignore_ascii_case("english")
    {
        return Err(StreamError::BadQuery(format!("unknown language {language:?}")).into());
    }
    // Taken before the upgrade so that an overloaded node says 503 instead of
    // accepting a socket it cannot serve.
    let permit = state
        .slots
        .clone()
        .try_acquire_owned()
        .map_err(|_| StreamError::TooManyStreams(state.settings.max_streams))?;
    let options = TranscribeOptions {
        language: query.language,
        prompt: query.prompt,
        ..TranscribeOptions::default()
    };
    // Larger frames than ours are cut off by the WebSocket layer itself; between the
    // two the client gets an error event that says what the limit is.
    let hard_limit = state.settings.max_frame_bytes * 2 + 1024;
    Ok(ws
        .max_message_size(hard_limit)
        .max_frame_size(hard_limit)
        .on_upgrade(move |socket| serve(socket, state, options, permit)))
}

/// What the writing task sends.
#[derive(Debug)]
enum Outgoing {
    Event(SttEvent),
    Close(u16, &'static str),
}

fn error_event(code: &str, message: impl Into<String>) -> Outgoing {
    Outgoing::Event(SttEvent::Error {
        code: code.to_string(),
        message: message.into(),
    })
}

async fn serve(
    socket: WebSocket,
    state: StreamState,
    options: TranscribeOptions,
    _permit: OwnedSemaphorePermit,
) {
    let (sink, source) = socket.split();
    let (out_tx, out_rx) = mpsc::channel::<Outgoing>(64);
    // A few seconds of frames; when full, reading stops and TCP pushes back.
    let (audio_tx, audio_rx) = mpsc::channel::<Vec<f32>>(64);
    let writer = tokio::spawn(write_loop(sink, out_rx));
    let reader = tokio::spawn(read_loop(
        source,
        audio_tx,
        out_tx.clone(),
        state.settings.clone(),
    ));
    let vad = {
        let pool = state.vad.clone();
        tokio::task::spawn_blocking(move || pool.take()).await
    };
    match vad {
        Ok(Ok(vad)) => {
            let mut stream = Stream::new(&state, options, vad, out_tx);
            stream.run(audio_rx).await;
            if let Some(vad) = stream.vad.take() {
                state.vad.put(vad);
            }
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "no VAD session for a stream");
            let _ = out_tx.send(error_event("vad_failed", e.to_string())).await;
            let _ = out_tx
                .send(Outgoing::Close(CLOSE_INTERNAL, "vad failed"))
                .await;
            drop(out_tx);
        }
        Err(e) => {
            tracing::error!(error = %e, "the VAD loading thread failed");
            drop(out_tx);
        }
    }
    // The stream is over (the client left, or an error closed it): stop reading, and
    // give the writer a moment to flush the last events and the close frame.
    reader.abort();
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
}

async fn write_loop(mut sink: SplitSink<WebSocket, Message>, mut out: mpsc::Receiver<Outgoing>) {
    while let Some(item) = out.recv().await {
        let message = match item {
            Outgoing::Event(event) => match serde_json::to_string(&event) {
                Ok(json) => Message::Text(json.into()),
                Err(e) => {
                    tracing::error!(error = %e, "an event did not serialise");
                    continue;
                }
            },
            Outgoing::Close(code, reason) => {
                let _ = sink
                    .send(Message::Close(Some(CloseFrame {
                        code,
                        reason: reason.into(),
                    })))
                    .await;
                break;
            }
        };
        if sink.send(message).await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
}

/// A token bucket: `rate` tokens a second, at most `rate` saved up.
struct RateLimit {
    rate: f64,
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    fn new(per_second: u32) -> Self {
        let rate = f64::from(per_second.max(1));
        RateLimit {
            rate,
            tokens: rate,
            at: Instant::now(),
        }
    }

    fn admit(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Little-endian PCM16 bytes (an even count) to samples in -1..1.
fn pcm16_to_f32(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(2)
        .map(|pair| f32::from(i16::from_le_bytes([pair[0], pair[1]])) / 32768.0)
        .collect()
}

async fn read_loop(
    mut source: SplitStream<WebSocket>,
    audio: mpsc::Sender<Vec<f32>>,
    out: mpsc::Sender<Outgoing>,
    settings: StreamSettings,
) {
    let mut rate = RateLimit::new(settings.max_messages_per_second);
    let refuse = |code: &'static str, message: String, close: u16| {
        let out = out.clone();
        async move {
            let _ = out.send(error_event(code, message)).await;
            let _ = out.send(Outgoing::Close(close, code)).await;
        }
    };
    while let Some(Ok(message)) = source.next().await {
        if !rate.admit(Instant::now()) {
            let message = format!(
                "more than {} frames a second; send larger frames",
                settings.max_messages_per_second
            );
            refuse("rate_limited", message, CLOSE_POLICY).await;
            return;
        }
        match message {
            Message::Binary(bytes) => {
                if bytes.len() > settings.max_frame_bytes {
                    let message = format!(
                        "a frame of {} bytes is over the limit of {} bytes",
                        bytes.len(),
                        settings.max_frame_bytes
                    );
                    refuse("frame_too_large", message, CLOSE_TOO_BIG).await;
                    return;
                }
                if bytes.len() % 2 != 0 {
                    let message = format!(
                        "a frame of {} bytes is not whole 16-bit samples; send 16 kHz mono \
                         PCM16 little-endian",
                        bytes.len()
                    );
                    refuse("invalid_audio", message, CLOSE_UNSUPPORTED).await;
                    return;
                }
                if !bytes.is_empty() && audio.send(pcm16_to_f32(&bytes)).await.is_err() {
                    return;
                }
            }
            Message::Text(_) => {
                let message = "text frames are not accepted; send audio as binary frames of \
                               16 kHz mono PCM16 little-endian";
                if out
                    .send(error_event("unexpected_text", message))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Message::Close(_) => return,
            // Pings are answered by the WebSocket layer.
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
}

/// Why a decode was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// The utterance so far, while the customer speaks.
    Partial { utterance: u64 },
    /// The utterance as it will be if the silence lasts (`len` samples).
    Speculative { utterance: u64, len: usize },
    /// The ended utterance, when no speculative decode fits.
    Final { utterance: u64 },
}

struct InFlight {
    purpose: Purpose,
    task: JoinHandle<Result<Transcript, SttError>>,
    /// Stops the decode itself: aborting the task alone would leave whisper running.
    cancel: CancelFlag,
}

impl InFlight {
    /// Stops a running partial: once she is silent, the pause's decode is what counts.
    fn cancel_partial(&self) {
        if matches!(self.purpose, Purpose::Partial { .. }) {
            self.cancel.cancel();
        }
    }
}

/// One connection's audio processing.
struct Stream {
    stt: Arc<SttPool>,
    options: TranscribeOptions,
    vad: Option<vad::Vad>,
    detector: TurnDetector,
    out: mpsc::Sender<Outgoing>,
    partial_interval: Duration,
    /// Samples not yet making up a whole VAD window.
    pending: Vec<f32>,
    /// Number of the current (or last) utterance, from 1.
    utterance: u64,
    last_partial: Instant,
    in_flight: Option<InFlight>,
    /// A finished speculative decode: utterance, length decoded, text.
    speculative: Option<(u64, usize, String)>,
    /// Utterance and length whose speculative decode, still running, is its final.
    final_from_speculative: Option<(u64, usize)>,
    /// A `tentative` was sent for the current pause and not yet withdrawn.
    tentative_sent: bool,
    /// Ended utterances waiting for a decode of their own.
    finals: VecDeque<(u64, Vec<f32>)>,
    /// False once the client is gone or the stream failed.
    open: bool,
}

impl Stream {
    fn new(
        state: &StreamState,
        options: TranscribeOptions,
        vad: vad::Vad,
        out: mpsc::Sender<Outgoing>,
    ) -> Self {
        let s = &state.settings;
        Stream {
            stt: state.stt.clone(),
            options,
            vad: Some(vad),
            detector: TurnDetector::new(TurnConfig::new(
                s.vad_threshold,
                s.end_of_turn_silence_ms,
                s.max_audio_seconds,
            )),
            out,
            partial_interval: Duration::from_millis(u64::from(s.partial_interval_ms)),
            pending: Vec::with_capacity(WINDOW * 4),
            utterance: 0,
            last_partial: Instant::now(),
            in_flight: None,
            speculative: None,
            final_from_speculative: None,
            tentative_sent: false,
            finals: VecDeque::new(),
            open: true,
        }
    }

    async fn run(&mut self, mut audio: mpsc::Receiver<Vec<f32>>) {
        while self.open {
            let partial_due = self.last_partial + self.partial_interval;
            let want_partial = self.detector.hearing_speech() && self.in_flight.is_none();
            tokio::select! {
                chunk = audio.recv() => match chunk {
                    Some(chunk) => self.hear(chunk).await,
                    None => break,
                },
                done = wait(&mut self.in_flight), if self.in_flight.is_some() => {
                    self.in_flight = None;
                    if let Some((purpose, result)) = done {
                        self.decoded(purpose, result).await;
                    }
                }
                _ = tokio::time::sleep_until(partial_due.into()), if want_partial => {}
            }
            self.schedule();
        }
        // Input is over. An unfinished decode is of no use to anyone now.
        if let Some(in_flight) = self.in_flight.take() {
            in_flight.cancel.cancel();
            in_flight.task.abort();
        }
    }

    /// Scores new audio and reacts to what the turn detector makes of it.
    async fn hear(&mut self, chunk: Vec<f32>) {
        self.pending.extend_from_slice(&chunk);
        let whole = self.pending.len() / WINDOW * WINDOW;
        if whole == 0 {
            return;
        }
        let windows: Vec<f32> = self.pending.drain(..whole).collect();
        let Some(mut vad) = self.vad.take() else {
            return;
        };
        // Scoring is sub-millisecond per window, but it is CPU work all the same and
        // stays off the async workers.
        let scored = tokio::task::spawn_blocking(move || {
            let probabilities: Result<Vec<f32>, VadError> = windows
                .chunks_exact(WINDOW)
                .map(|window| vad.speech_probability(window))
                .collect();
            (vad, windows, probabilities)
        })
        .await;
        let (vad, windows, probabilities) = match scored {
            Ok((vad, windows, Ok(probabilities))) => (vad, windows, probabilities),
            Ok((_, _, Err(e))) => return self.fail("vad_failed", e.to_string()).await,
            Err(e) => return self.fail("vad_failed", e.to_string()).await,
        };
        self.vad = Some(vad);
        for (window, probability) in windows.chunks_exact(WINDOW).zip(probabilities) {
            if let Some(event) = self.detector.push(window, probability) {
                self.turn(event).await;
            }
        }
    }

    async fn turn(&mut self, event: TurnEvent) {
        match event {
            TurnEvent::SpeechStarted => {
                self.utterance += 1;
                self.speculative = None;
                // The first partial comes one interval into the speech.
                self.last_partial = Instant::now();
                self.send(SttEvent::SpeechStarted).await;
            }
            TurnEvent::SilenceStarted => {
                // `schedule` starts the speculative decode as soon as the worker is free.
                if let Some(in_flight) = &self.in_flight {
                    in_flight.cancel_partial();
                }
            }
            TurnEvent::SpeechResumed => {
                self.speculative = None;
                self.last_partial = Instant::now();
                if std::mem::take(&mut self.tentative_sent) {
                    self.send(SttEvent::SpeechResumed).await;
                }
            }
            TurnEvent::EndOfTurn { utterance, forced } => {
                if forced {
                    tracing::debug!("utterance reached the longest allowed; turn forced to end");
                }
                self.tentative_sent = false;
                self.send(SttEvent::SpeechEnded).await;
                let id = self.utterance;
                let len = utterance.len();
                match self.speculative.take() {
                    Some((u, l, text)) if u == id && l == len => {
                        self.send(SttEvent::Final { text }).await;
                    }
                    _ => match self.in_flight.as_ref().map(|f| f.purpose) {
                        Some(Purpose::Speculative {
                            utterance: u,
                            len: l,
                        }) if u == id && l == len => {
                            self.final_from_speculative = Some((id, len));
                        }
                        _ => self.finals.push_back((id, utterance)),
                    },
                }
            }
        }
    }

    async fn decoded(&mut self, purpose: Purpose, result: Result<Transcript, SttError>) {
        let text = match result {
            Ok(transcript) => clean(&transcript),
            Err(e) => {
                let is_final = matches!(purpose, Purpose::Final { .. })
                    || matches!(purpose, Purpose::Speculative { utterance, len }
                        if self.final_from_speculative == Some((utterance, len)));
                if let Purpose::Speculative { .. } = purpose {
                    self.final_from_speculative = None;
                }
                match e {
                    SttError::UnsupportedLanguage(_) => {
                        self.fail(e.code(), e.to_string()).await;
                    }
                    // A skipped or cancelled partial is harmless; a lost final is not.
                    _ if is_final => {
                        tracing::warn!(error = %e, "final decode failed");
                        self.send_error(e.code(), e.to_string()).await;
                    }
                    _ => tracing::debug!(error = %e, "partial decode skipped"),
                }
                return;
            }
        };
        let current = self.utterance;
        match purpose {
            Purpose::Final { .. } => self.send(SttEvent::Final { text }).await,
            Purpose::Speculative { utterance, len } => {
                if self.final_from_speculative == Some((utterance, len)) {
                    self.final_from_speculative = None;
                    self.send(SttEvent::Final { text }).await;
                } else if utterance == current && self.detector.in_utterance() {
                    if !self.detector.speaking() && self.detector.utterance().len() == len {
                        // Still silent: kept for the end of turn, and told.
                        if !text.is_empty() {
                            self.tentative_sent = true;
                            self.send(SttEvent::Tentative { text: text.clone() }).await;
                        }
                        self.speculative = Some((utterance, len, text));
                    } else if !text.is_empty() {
                        // Speech resumed: not final, but the freshest partial there is.
                        self.send(SttEvent::Partial { text }).await;
                    }
                }
            }
            Purpose::Partial { utterance } => {
                if utterance == current && self.detector.in_utterance() && !text.is_empty() {
                    self.send(SttEvent::Partial { text }).await;
                }
            }
        }
    }

    /// Starts the most useful decode, if none is running: a final someone waits for,
    /// then the speculative one, then a partial when one is due.
    fn schedule(&mut self) {
        if self.in_flight.is_some() || !self.open {
            return;
        }
        if let Some((utterance, audio)) = self.finals.pop_front() {
            self.start(Purpose::Final { utterance }, audio);
            return;
        }
        let id = self.utterance;
        if self.detector.in_utterance() && !self.detector.speaking() {
            let len = self.detector.utterance().len();
            let have = matches!(self.speculative, Some((u, l, _)) if u == id && l == len);
            if !have {
                let audio = self.detector.utterance().to_vec();
                self.start(Purpose::Speculative { utterance: id, len }, audio);
            }
            return;
        }
        if self.detector.hearing_speech() && self.last_partial.elapsed() >= self.partial_interval {
            self.last_partial = Instant::now();
            let audio = self.detector.utterance().to_vec();
            self.start(Purpose::Partial { utterance: id }, audio);
        }
    }

    fn start(&mut self, purpose: Purpose, audio: Vec<f32>) {
        let stt = self.stt.clone();
        let cancel = CancelFlag::default();
        let options = TranscribeOptions {
            cancel: cancel.clone(),
            ..self.options.clone()
        };
        let urgency = match purpose {
            Purpose::Partial { .. } => Urgency::Optional,
            Purpose::Speculative { .. } | Purpose::Final { .. } => Urgency::Required,
        };
        let task = tokio::spawn(async move {
            let seconds = audio.len() as f32 / crate::stt::SAMPLE_RATE as f32;
            let started = Instant::now();
            let result = stt.transcribe_with(audio, options, urgency).await;
            // Timings only: transcripts are personal data and stay out of logs.
            tracing::debug!(
                ?purpose,
                seconds,
                elapsed_ms = started.elapsed().as_millis() as u64,
                ok = result.is_ok(),
                "stream decode"
            );
            result
        });
        self.in_flight = Some(InFlight {
            purpose,
            task,
            cancel,
        });
    }

    async fn send(&mut self, event: SttEvent) {
        if self.out.send(Outgoing::Event(event)).await.is_err() {
            self.open = false;
        }
    }

    async fn send_error(&mut self, code: &str, message: String) {
        if self.out.send(error_event(code, message)).await.is_err() {
            self.open = false;
        }
    }

    /// Reports an error the stream cannot go on after, and closes the socket.
    async fn fail(&mut self, code: &str, message: String) {
        tracing::warn!(code, "audio stream failed");
        self.send_error(code, message).await;
        let _ = self.out.send(Outgoing::Close(CLOSE_INTERNAL, "")).await;
        self.open = false;
    }
}

/// Waits for the running decode; `None` if its task panicked or was cancelled.
async fn wait(in_flight: &mut Option<InFlight>) -> Option<(Purpose, Result<Transcript, SttError>)> {
    let running = in_flight.as_mut()?;
    let result = (&mut running.task).await;
    match result {
        Ok(result) => Some((running.purpose, result)),
        Err(e) => {
            tracing::error!(error = %e, "a decoding task failed");
            None
        }
    }
}

/// The transcript's words without whisper's non-speech annotations (`[BLANK_AUDIO]`,
/// `(music)`), which are not something the customer said, and without a segment
/// repeated back to back: on audio cut mid-word (a partial) whisper can loop on the
/// last sentence, and nobody says the same sentence twice in one breath.
fn clean(transcript: &Transcript) -> String {
    let mut kept: Vec<&str> = Vec::new();
    for text in transcript.segments.iter().map(|s| s.text.trim()) {
        let annotation = (text.starts_with('[') && text.ends_with(']'))
            || (text.starts_with('(') && text.ends_with(')'));
        if text.is_empty() || annotation || kept.last() == Some(&text) {
            continue;
        }
        kept.push(text);
    }
    kept.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcm16_decodes_little_endian() {
        let bytes = [0x00, 0x80, 0xff, 0x7f, 0x00, 0x00, 0x00, 0x40];
        assert_eq!(pcm16_to_f32(&bytes), [-1.0, 32767.0 / 32768.0, 0.0, 0.5]);
    }

    #[test]
    fn rate_limit_allows_a_burst_then_the_rate() {
        let mut limit = RateLimit::new(10);
        let start = Instant::now();
        assert!((0..10).all(|_| limit.admit(start)));
        assert!(!limit.admit(start));
        assert!(limit.admit(start + Duration::from_millis(110)));
        assert!(!limit.admit(start + Duration::from_millis(120)));
    }

    #[test]
    fn annotations_are_not_words() {
        let segment = |text: &str| crate::stt::Segment {
            start: 0.0,
            end: 1.0,
            text: text.into(),
        };
        let transcript = Transcript {
            text: String::new(),
            segments: vec![
                segment("[BLANK_AUDIO]"),
                segment(" A blue shirt."),
                segment("A blue shirt."),
                segment("(music)"),
            ],
            language: "en".into(),
            duration: 1.0,
        };
        assert_eq!(clean(&transcript), "A blue shirt.");
    }
}
