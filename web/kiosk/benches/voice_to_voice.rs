//! Voice-to-voice benchmark of the kiosk; prints one JSON object on stdout and what it
//! does, turn by turn, on stderr.
//!
//! ```sh
//! # The stack runs target/release/*; built with the bench so both share one feature set.
//! cargo build --release --workspace --bins --bench voice_to_voice
//! cargo bench --workspace --bench voice_to_voice
//! ```
//!
//! It starts the whole assistant as processes ([`Stack`]: every service, the fixture
//! catalogue, the installed default models) and talks to the kiosk's WebSocket the way
//! a kiosk page does: after `hello`, 16 kHz microphone audio in 40 ms frames paced in
//! real time, silence included, for the whole session. The customer's speech is a
//! scripted shopping conversation synthesised once by the voice service (piper) and
//! resampled to 16 kHz, so every run hears the same words.
//!
//! What it measures:
//! - one session, at least 20 turns (after one untimed warm-up turn): end of her speech
//!   (the instant the frame holding her last word is sent) to the first `audio_chunk` of
//!   the reply, p50/p95, with a per-stage breakdown from the server's `turn_done.timing`
//!   (end-of-turn detection, speech to text, dialogue to first text, speech synthesis to
//!   first audio);
//! - N sessions at once (1, 2, 4, 8, 12 by default), each a few turns with staggered
//!   starts: turns, dropped turns, end of speech to first audio p50/p95. The largest N
//!   without a dropped turn (and none at any smaller N) is `sessions_held`.
//!
//! Goals (issue): p50 ≤ 600 ms, p95 ≤ 1.0 s on 2 cores; ≥ 8 sessions held.
//!
//! Settings, from the environment:
//! - `V2V_TURNS`: timed turns of the single session (default: the whole script, 23);
//! - `V2V_SESSIONS`: comma-separated session counts (default `1,2,4,8,12`; empty: skip);
//! - `V2V_TURNS_PER_SESSION`: turns of each concurrent session (default 5);
//! - `V2V_LISTEN`: `1` (default) waits, after each reply, until its audio would have
//!   finished playing before she speaks again, as a customer does; `0` speaks again
//!   right after `turn_done` (a harsher load, and speech the server may still take for
//!   talking over its reply).

use std::collections::{BTreeMap, VecDeque};
use std::io::Cursor;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use protocol::Service;
use protocol::kiosk::{ClientMessage, MIC_SAMPLE_RATE, ServerMessage, TurnTiming};
use rubato::{FftFixedIn, Resampler};
use serde_json::{Value, json};
use service_kit::config::Config;
use test_support::kiosk_client::{KioskClient, Received};
use test_support::stack::{DEVICE_TOKEN, Stack};
use tokio::time::{Interval, MissedTickBehavior};

/// The customer's side of a shopping conversation. One clause each, without commas or
/// full stops inside: piper pauses at those, and a pause near the kiosk's end-of-turn
/// silence (300 ms) would cut the utterance into two turns.
const SCRIPT: [&str; 23] = [
    "I'm looking for a white shirt for work",
    "Do you have it in blue",
    "What sizes does the first one come in",
    "Is the second one made of linen",
    "How much is the third one",
    "Show me a sweater that goes with a blue shirt",
    "Something warmer in grey please",
    "What is that one made of",
    "Can I try on the first one",
    "Do you have black jeans in a medium",
    "Which trousers go with a navy jacket",
    "Are there any dresses in green",
    "How much does the second dress cost",
    "I need a warm coat for the winter",
    "Is the first coat waterproof",
    "Can you bring the first one to a fitting room in size large",
    "I would also like a scarf to go with it",
    "Do you have leather bags under one hundred euros",
    "Show me some comfortable shoes for walking",
    "Do they come in size thirty nine",
    "What goes with a pink cardigan",
    "Show me a pleated skirt in navy",
    "Thank you that's everything for today",
];

/// Said once before the timed turns: the first turn of a stack pays for first-touch
/// costs (model pages, caches, the dialogue session) that no later turn pays.
const WARM_UP: &str = "Hello can you help me find some clothes";

/// Duration of one microphone frame: 40 ms, what the kiosk page sends.
const FRAME: Duration = Duration::from_millis(40);
/// Samples in one microphone frame.
const FRAME_SAMPLES: usize = (MIC_SAMPLE_RATE / 25) as usize;
/// A turn without its final transcript or first audio this long after the end of her
/// speech is dropped.
const TURN_DEADLINE: Duration = Duration::from_secs(30);
/// A turn whose reply is not finished (`turn_done`) this long after the end of her
/// speech is dropped (the kiosk's own turn deadline is 60 s).
const DONE_DEADLINE: Duration = Duration::from_secs(60);
/// Silence between the end of a reply and her next utterance.
const PAUSE: Duration = Duration::from_millis(300);
/// Silence after a dropped turn, so that what the server still sends for it arrives
/// before the next utterance rather than during it.
const AFTER_DROP: Duration = Duration::from_secs(2);
/// Silence streamed before the first utterance of a session: a kiosk's microphone is
/// on before she talks, so the speech-to-text stream is open by then.
const LEAD_IN: Duration = Duration::from_secs(1);
/// Concurrent sessions start spread over about one turn's cycle (speech, reply,
/// listening): customers do not start in lockstep, and a steady load is the question.
const SPREAD: Duration = Duration::from_secs(8);
/// A pause inside an utterance this long or longer risks ending the turn early.
const RISKY_PAUSE_MS: f64 = 250.0;

/// Errors that mean the turn itself failed. Others (`no_face` for a try-on without a
/// camera, `unknown_product`, a full fetch queue) concern an action the reply asked
/// for, not the conversation, and are counted separately.
const TURN_ERRORS: [&str; 4] = [
    "turn_failed",
    "dialogue_unavailable",
    "voice_unavailable",
    "invalid_audio",
];

/// The goals of the issue, printed beside the figures.
const GOAL_P50_MS: f64 = 600.0;
const GOAL_P95_MS: f64 = 1000.0;
const GOAL_SESSIONS: usize = 8;

/// One utterance, ready to stream.
struct Speech {
    text: &'static str,
    /// 16 kHz PCM, trimmed of the synthesiser's leading and trailing silence, then
    /// padded with silence at the front to whole frames, so that her last word ends
    /// exactly with a frame: the send time of that frame is the end of her speech.
    pcm: Vec<i16>,
    /// Seconds of speech (without the padding).
    seconds: f64,
    /// The longest silence inside the utterance, in milliseconds.
    longest_pause_ms: f64,
}

/// Resamples mono audio with rubato's FFT resampler (band-limited, no aliasing), as
/// the voice service does with uploads.
fn resample(samples: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to {
        return samples.to_vec();
    }
    const CHUNK: usize = 1024;
    let mut resampler = FftFixedIn::<f32>::new(from as usize, to as usize, CHUNK, 2, 1)
        .expect("a resampler for the synthesiser's rate");
    let expected = (samples.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    let delay = resampler.output_delay();
    let mut out = Vec::with_capacity(expected + delay + CHUNK);
    let mut chunks = samples.chunks_exact(CHUNK);
    for chunk in &mut chunks {
        out.extend_from_slice(&resampler.process(&[chunk], None).expect("resampling")[0]);
    }
    // The tail padded with silence, then silence until the filter's delay is flushed.
    let silence = vec![0.0f32; CHUNK];
    let tail = [
        chunks.remainder(),
        &silence[..CHUNK - chunks.remainder().len()],
    ]
    .concat();
    out.extend_from_slice(&resampler.process(&[&tail[..]], None).expect("resampling")[0]);
    while out.len() < expected + delay {
        out.extend_from_slice(
            &resampler
                .process(&[&silence[..]], None)
                .expect("resampling")[0],
        );
    }
    out[delay..delay + expected].to_vec()
}

/// The speech between the first and the last loud 10 ms window, and the longest quiet
/// run between them in milliseconds. "Loud" is relative to the loudest window (-34 dB),
/// so a soft final consonant is kept while the synthesiser's silence is not.
fn trim_silence(samples: &[f32]) -> (&[f32], f64) {
    const WINDOW: usize = (MIC_SAMPLE_RATE / 100) as usize;
    let rms: Vec<f32> = samples
        .chunks(WINDOW)
        .map(|w| (w.iter().map(|s| s * s).sum::<f32>() / w.len() as f32).sqrt())
        .collect();
    let loudest = rms.iter().copied().fold(0.0f32, f32::max);
    let threshold = (loudest * 0.02).max(1e-3);
    let loud: Vec<bool> = rms.iter().map(|r| *r >= threshold).collect();
    let first = loud
        .iter()
        .position(|l| *l)
        .expect("the synthesiser returned silence");
    let last = loud
        .iter()
        .rposition(|l| *l)
        .expect("the synthesiser returned silence");
    let mut longest = 0;
    let mut run = 0;
    for l in &loud[first..=last] {
        run = if *l { 0 } else { run + 1 };
        longest = longest.max(run);
    }
    let end = ((last + 1) * WINDOW).min(samples.len());
    (&samples[first * WINDOW..end], (longest * 10) as f64)
}

/// Her words as the kiosk will hear them: synthesised by the voice service (WAV at the
/// voice's rate), resampled to 16 kHz, trimmed, padded to whole frames.
async fn synthesise(http: &reqwest::Client, voice: &str, text: &'static str) -> Speech {
    let request =
        json!({"model": "tts-1", "input": text, "voice": "alloy", "response_format": "wav"});
    let wav = http
        .post(format!("{voice}/v1/audio/speech"))
        .json(&request)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .unwrap_or_else(|e| panic!("voice could not synthesise {text:?}: {e}"))
        .bytes()
        .await
        .expect("the synthesised WAV");
    let mut reader = hound::WavReader::new(Cursor::new(wav)).expect("voice returned a WAV file");
    let spec = reader.spec();
    let channels = usize::from(spec.channels);
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Int => {
            let scale = (1i64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.expect("a WAV sample") as f32 / scale)
                .collect()
        }
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .map(|s| s.expect("a WAV sample"))
            .collect(),
    };
    let mono: Vec<f32> = interleaved
        .iter()
        .step_by(channels.max(1))
        .copied()
        .collect();
    let resampled = resample(&mono, spec.sample_rate, MIC_SAMPLE_RATE);
    let (speech, longest_pause_ms) = trim_silence(&resampled);
    let padding = (FRAME_SAMPLES - speech.len() % FRAME_SAMPLES) % FRAME_SAMPLES;
    let mut pcm = vec![0i16; padding];
    pcm.extend(
        speech
            .iter()
            .map(|s| (s.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16),
    );
    Speech {
        text,
        pcm,
        seconds: speech.len() as f64 / f64::from(MIC_SAMPLE_RATE),
        longest_pause_ms,
    }
}

/// The kiosk page's microphone: a frame every 40 ms, her queued speech first, silence
/// when she is not speaking. A frame carries the 40 ms before its send time, as a
/// page's capture does, so frames late for a moment go out in a burst (not dropped).
struct Mic {
    interval: Interval,
    queued: VecDeque<i16>,
}

impl Mic {
    fn new() -> Self {
        let mut interval = tokio::time::interval(FRAME);
        interval.set_missed_tick_behavior(MissedTickBehavior::Burst);
        Self {
            interval,
            queued: VecDeque::new(),
        }
    }

    /// Queues an utterance (whole frames).
    fn say(&mut self, pcm: &[i16]) {
        self.queued.extend(pcm);
    }

    /// Waits for the next frame's time.
    async fn tick(&mut self) {
        self.interval.tick().await;
    }

    /// Sends the next frame; returns when it was sent if it carried the end of the
    /// queued speech.
    async fn send_next(&mut self, client: &mut KioskClient) -> Option<Instant> {
        let speech = FRAME_SAMPLES.min(self.queued.len());
        let mut frame: Vec<i16> = self.queued.drain(..speech).collect();
        frame.resize(FRAME_SAMPLES, 0);
        let ended = speech > 0 && self.queued.is_empty();
        let at = Instant::now();
        client.send_audio(&frame).await;
        ended.then_some(at)
    }
}

/// What happened in one turn.
#[derive(Debug, Default)]
struct TurnResult {
    said: &'static str,
    heard: Option<String>,
    reply: String,
    turn_id: Option<u64>,
    cards: usize,
    /// End of her speech to `transcript_final`, client side.
    transcript_ms: Option<f64>,
    /// End of her speech to the first `audio_chunk` of the reply, client side.
    first_audio_ms: Option<f64>,
    /// End of her speech to `turn_done`, client side.
    done_ms: Option<f64>,
    /// The server's own breakdown, from when it detected the end of her speech.
    timing: Option<TurnTiming>,
    /// Seconds of reply audio.
    reply_audio_s: f64,
    /// Turns the server started for this utterance besides the one measured (it ended
    /// the turn in a pause, or heard it twice).
    split: u32,
    /// The server stopped the reply (`stop_audio`): it took her for talking over it.
    stopped: bool,
    /// Why the turn counts as dropped; `None` when it did not.
    dropped: Option<String>,
}

impl TurnResult {
    fn drop_for(&mut self, reason: impl Into<String>) {
        self.dropped.get_or_insert_with(|| reason.into());
    }

    fn json(&self) -> Value {
        json!({
            "said": self.said,
            "heard": self.heard,
            "reply": self.reply,
            "turn_id": self.turn_id,
            "cards": self.cards,
            "end_of_speech_to_transcript_ms": self.transcript_ms.map(round),
            "end_of_speech_to_first_audio_ms": self.first_audio_ms.map(round),
            "end_of_speech_to_turn_done_ms": self.done_ms.map(round),
            "server_timing_ms": self.timing,
            "reply_audio_s": round(self.reply_audio_s),
            "split": self.split,
            "stopped": self.stopped,
            "dropped": self.dropped,
        })
    }
}

/// What one session did, filled in as it goes so that a session whose task fails
/// (the client panics on a broken socket) still counts what it did.
#[derive(Debug, Default)]
struct SessionLog {
    turns: Vec<TurnResult>,
    /// Errors about actions, not turns, by code.
    side_errors: BTreeMap<String, u32>,
    /// `transcript_final`s that arrived between turns (a turn she did not start).
    unexpected_turns: u32,
    /// Why the session ended early.
    failure: Option<String>,
}

type SharedLog = Arc<Mutex<SessionLog>>;

fn lock(log: &SharedLog) -> std::sync::MutexGuard<'_, SessionLog> {
    log.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One kiosk page in conversation.
struct Conversation {
    client: KioskClient,
    mic: Mic,
    /// Wait for the reply's audio to finish playing before speaking again.
    listen: bool,
    log: SharedLog,
    closed: Option<String>,
}

impl Conversation {
    /// Connects, says hello and streams silence for [`LEAD_IN`].
    async fn open(ws_url: &str, listen: bool, log: SharedLog) -> Self {
        let (client, _session) = KioskClient::start(ws_url, DEVICE_TOKEN, None).await;
        let mut conversation = Self {
            client,
            mic: Mic::new(),
            listen,
            log,
            closed: None,
        };
        conversation.idle(Instant::now() + LEAD_IN).await;
        conversation
    }

    fn side_error(&self, code: &str) {
        *lock(&self.log)
            .side_errors
            .entry(code.to_owned())
            .or_default() += 1;
    }

    /// Streams silence until `until`, taking in whatever arrives.
    async fn idle(&mut self, until: Instant) {
        while self.closed.is_none() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            tokio::select! {
                biased;
                received = self.client.next(left) => match received {
                    Some(Received::Message(ServerMessage::TranscriptFinal { .. })) => {
                        lock(&self.log).unexpected_turns += 1;
                    }
                    Some(Received::Message(ServerMessage::Error { code, .. })) => {
                        self.side_error(&code);
                    }
                    Some(Received::Garbage(_)) => self.side_error("garbage"),
                    Some(Received::Closed(code)) => {
                        self.closed = Some(format!("the kiosk closed the socket ({code:?})"));
                    }
                    Some(_) | None => {}
                },
                () = self.mic.tick() => {
                    self.mic.send_next(&mut self.client).await;
                }
            }
        }
    }

    /// Says `speech` and follows the turn it starts until `turn_done`, then listens to
    /// the reply and pauses.
    async fn turn(&mut self, speech: &Speech) -> TurnResult {
        let mut r = TurnResult {
            said: speech.text,
            ..TurnResult::default()
        };
        self.mic.say(&speech.pcm);
        let mut end_of_speech: Option<Instant> = None;
        let mut playback_end: Option<Instant> = None;
        let mut done = false;
        while !done {
            if let Some(closed) = &self.closed {
                r.drop_for(closed.clone());
                self.mic.queued.clear();
                break;
            }
            if let Some(end) = end_of_speech {
                let waited = end.elapsed();
                if r.transcript_ms.is_none() && waited > TURN_DEADLINE {
                    r.drop_for("no transcript_final within 30 s");
                    break;
                }
                if r.first_audio_ms.is_none() && waited > TURN_DEADLINE {
                    r.drop_for("no audio_chunk within 30 s");
                    break;
                }
                if waited > DONE_DEADLINE {
                    r.drop_for("no turn_done within 60 s");
                    break;
                }
            }
            tokio::select! {
                biased;
                received = self.client.next(Duration::from_millis(400)) => {
                    let at = Instant::now();
                    let since_end = |at: Instant| {
                        end_of_speech.map(|end| at.saturating_duration_since(end).as_secs_f64() * 1e3)
                    };
                    match received {
                        Some(Received::Message(message)) => match message {
                            ServerMessage::TranscriptFinal { text, turn_id } => {
                                if end_of_speech.is_none() {
                                    // A turn began before she finished: the server
                                    // ended her turn in a pause.
                                    r.split += 1;
                                } else {
                                    if r.turn_id.is_some() {
                                        // Another turn for the same utterance: the
                                        // later one is hers, the earlier is cancelled.
                                        r.split += 1;
                                        r.reply.clear();
                                        r.cards = 0;
                                        r.first_audio_ms = None;
                                        r.reply_audio_s = 0.0;
                                        playback_end = None;
                                    }
                                    r.turn_id = Some(turn_id);
                                    r.heard = Some(text);
                                    r.transcript_ms = since_end(at);
                                }
                            }
                            ServerMessage::AssistantDelta { turn_id, text, .. }
                                if Some(turn_id) == r.turn_id =>
                            {
                                r.reply.push_str(&text);
                            }
                            ServerMessage::ProductCards { turn_id, cards }
                                if Some(turn_id) == r.turn_id =>
                            {
                                r.cards = cards.len();
                            }
                            ServerMessage::AudioChunk {
                                turn_id,
                                sample_rate,
                                bytes,
                                ..
                            } if Some(turn_id) == r.turn_id => {
                                if r.first_audio_ms.is_none() {
                                    r.first_audio_ms = since_end(at);
                                }
                                let seconds =
                                    f64::from(bytes) / 2.0 / f64::from(sample_rate.max(1));
                                r.reply_audio_s += seconds;
                                // The page plays chunks back to back from the first.
                                let start = playback_end.map_or(at, |end| end.max(at));
                                playback_end = Some(start + Duration::from_secs_f64(seconds));
                            }
                            ServerMessage::StopAudio { turn_id } if Some(turn_id) == r.turn_id => {
                                r.stopped = true;
                            }
                            ServerMessage::TurnDone {
                                turn_id,
                                timing,
                                cancelled,
                                ..
                            } if Some(turn_id) == r.turn_id => {
                                r.timing = Some(timing);
                                r.done_ms = since_end(at);
                                if cancelled {
                                    r.drop_for("the server cancelled the turn");
                                }
                                done = true;
                            }
                            ServerMessage::Error { code, message } => {
                                if TURN_ERRORS.contains(&code.as_str()) {
                                    r.drop_for(format!("error {code}: {message}"));
                                } else {
                                    self.side_error(&code);
                                }
                            }
                            _ => {}
                        },
                        Some(Received::Garbage(text)) => {
                            r.drop_for(format!("a text frame that is not a protocol message: {text}"));
                        }
                        Some(Received::Closed(code)) => {
                            self.closed = Some(format!("the kiosk closed the socket ({code:?})"));
                        }
                        Some(Received::Audio(_)) | None => {}
                    }
                }
                () = self.mic.tick() => {
                    if let Some(at) = self.mic.send_next(&mut self.client).await {
                        end_of_speech = Some(at);
                    }
                }
            }
        }
        if done && r.first_audio_ms.is_none() {
            r.drop_for("the reply had no audio");
        }
        // The log keeps every frame, reply audio included; nothing reads it here.
        self.client.log.clear();
        let now = Instant::now();
        let next = if r.dropped.is_some() {
            now + AFTER_DROP
        } else if self.listen {
            playback_end.map_or(now, |end| end.max(now)) + PAUSE
        } else {
            now + PAUSE
        };
        self.idle(next).await;
        r
    }

    /// Ends the session (so it does not wait to be resumed and count against the
    /// kiosk's limit) and waits for the server to close the socket.
    async fn end(mut self) {
        if self.closed.is_some() {
            return;
        }
        self.client.send(ClientMessage::EndSession).await;
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Some(received) = self
            .client
            .next(deadline.saturating_duration_since(Instant::now()))
            .await
        {
            if matches!(received, Received::Closed(_)) {
                return;
            }
        }
        self.client.close().await;
    }
}

/// One customer of a run.
struct Customer {
    /// Indexes into the script of what she says, in order.
    order: Vec<usize>,
    /// When she arrives, after the run starts.
    delay: Duration,
    /// An untimed first utterance.
    warm_up: Option<Arc<Speech>>,
    /// Her name on stderr.
    label: String,
}

/// One customer: waits for her arrival, opens a session, says the warm-up untimed if
/// there is one, then her utterances, logging each turn as it finishes.
async fn customer(
    ws_url: String,
    script: Arc<Vec<Speech>>,
    who: Customer,
    listen: bool,
    log: SharedLog,
) {
    tokio::time::sleep(who.delay).await;
    let mut conversation = Conversation::open(&ws_url, listen, log.clone()).await;
    if let Some(speech) = &who.warm_up {
        let r = conversation.turn(speech).await;
        eprintln!("{} warm-up: {}", who.label, describe(&r));
    }
    for (n, index) in who.order.iter().enumerate() {
        let r = conversation.turn(&script[*index]).await;
        eprintln!(
            "{} turn {}/{}: {}",
            who.label,
            n + 1,
            who.order.len(),
            describe(&r)
        );
        lock(&log).turns.push(r);
        if let Some(closed) = &conversation.closed {
            lock(&log).failure = Some(closed.clone());
            return;
        }
    }
    conversation.end().await;
}

/// Milliseconds for stderr, `-` for none.
fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "-".into(), |v| format!("{v:.0}"))
}

/// A line about a turn, for stderr.
fn describe(r: &TurnResult) -> String {
    let server = r.timing.map_or_else(String::new, |t| {
        let stage = |v: Option<u64>| ms(v.map(|v| v as f64));
        format!(
            " [server: transcript {} text {} audio {} total {}]",
            stage(t.transcript_ms),
            stage(t.first_text_ms),
            stage(t.first_audio_ms),
            t.total_ms
        )
    });
    let dropped = r
        .dropped
        .as_ref()
        .map_or_else(String::new, |why| format!(" DROPPED: {why}"));
    format!(
        "{:?} heard {:?}: first audio {} ms{server}{}{dropped}",
        r.said,
        r.heard.as_deref().unwrap_or(""),
        ms(r.first_audio_ms),
        if r.split > 0 { " (split)" } else { "" },
    )
}

fn panic_message(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "the session panicked".into()),
        Err(error) => error.to_string(),
    }
}

/// Runs customers at once; returns their logs, with the turns a failed session did
/// not get to counted as dropped.
async fn run_customers(
    customers: Vec<Customer>,
    ws_url: &str,
    script: &Arc<Vec<Speech>>,
    listen: bool,
) -> Vec<SessionLog> {
    let mut running = Vec::new();
    for who in customers {
        let log = SharedLog::default();
        let (order, label) = (who.order.clone(), who.label.clone());
        let task = tokio::spawn(customer(
            ws_url.to_owned(),
            script.clone(),
            who,
            listen,
            log.clone(),
        ));
        running.push((task, log, order, label));
    }
    let mut logs = Vec::new();
    for (task, log, order, label) in running {
        if let Err(error) = task.await {
            let message = panic_message(error);
            eprintln!("{label} failed: {message}");
            lock(&log).failure.get_or_insert(message);
        }
        let mut log = std::mem::take(&mut *lock(&log));
        let why = log
            .failure
            .clone()
            .unwrap_or_else(|| "the session ended early".into());
        for index in order.iter().skip(log.turns.len()) {
            log.turns.push(TurnResult {
                said: script[*index].text,
                dropped: Some(format!("never said: {why}")),
                ..TurnResult::default()
            });
        }
        logs.push(log);
    }
    logs
}

fn round(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// p50, p95, mean and max of `values` (milliseconds), and how many.
fn stats(mut values: Vec<f64>) -> Value {
    if values.is_empty() {
        return json!({"n": 0});
    }
    values.sort_by(f64::total_cmp);
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    json!({
        "n": values.len(),
        "p50": round(percentile(&values, 0.50)),
        "p95": round(percentile(&values, 0.95)),
        "mean": round(mean),
        "max": round(values[values.len() - 1]),
    })
}

fn p(stats: &Value, key: &str) -> Option<f64> {
    stats.get(key).and_then(Value::as_f64)
}

/// The figures of a set of turns. Stages come from the turns that were not dropped:
/// - `end_of_turn_detection`: her last word to the server's end of speech (the kiosk's
///   end-of-turn silence, frame pacing, voice activity detection), the client's end of
///   speech to first audio less the server's;
/// - `speech_to_text`: the server's end of speech to the final transcript;
/// - `dialogue_first_text`: final transcript to the first text of the reply;
/// - `speech_first_audio`: first text to the first audio leaving the server;
/// - `server_first_audio` and `server_total`: the server's end of speech to its first
///   audio and to the end of the reply.
fn summarise(turns: &[&TurnResult]) -> Value {
    let good: Vec<&&TurnResult> = turns.iter().filter(|t| t.dropped.is_none()).collect();
    let client =
        |f: fn(&TurnResult) -> Option<f64>| stats(good.iter().filter_map(|t| f(t)).collect());
    let server = |f: fn(&TurnTiming) -> Option<f64>| {
        stats(
            good.iter()
                .filter_map(|t| t.timing.as_ref().and_then(f))
                .collect(),
        )
    };
    let detection: Vec<f64> = good
        .iter()
        .filter_map(|t| Some(t.first_audio_ms? - t.timing?.first_audio_ms? as f64))
        .collect();
    let mut reasons: BTreeMap<&str, u32> = BTreeMap::new();
    for t in turns {
        if let Some(why) = &t.dropped {
            *reasons.entry(why.as_str()).or_default() += 1;
        }
    }
    json!({
        "turns": turns.len(),
        "dropped": turns.len() - good.len(),
        "dropped_reasons": reasons,
        "split_utterances": turns.iter().filter(|t| t.split > 0).count(),
        "replies_stopped": turns.iter().filter(|t| t.stopped).count(),
        "end_of_speech_to_first_audio_ms": client(|t| t.first_audio_ms),
        "end_of_speech_to_transcript_ms": client(|t| t.transcript_ms),
        "end_of_speech_to_turn_done_ms": client(|t| t.done_ms),
        "reply_audio_s": stats(good.iter().map(|t| t.reply_audio_s).collect()),
        "stages_ms": {
            "end_of_turn_detection": stats(detection),
            "speech_to_text": server(|t| t.transcript_ms.map(|v| v as f64)),
            "dialogue_first_text": server(|t| Some(t.first_text_ms?.checked_sub(t.transcript_ms?)? as f64)),
            "speech_first_audio": server(|t| Some(t.first_audio_ms?.checked_sub(t.first_text_ms?)? as f64)),
            "server_first_audio": server(|t| t.first_audio_ms.map(|v| v as f64)),
            "server_total": server(|t| Some(t.total_ms as f64)),
        },
    })
}

/// An environment setting, or `default`.
fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not valid")),
        _ => default,
    }
}

/// A model setting as the services resolve it: the `SHOP_*` variable if set (the
/// stack passes the environment on), else the default.
fn model_setting(variable: &str, default: String) -> String {
    std::env::var(variable).unwrap_or(default)
}

fn main() {
    let turns: usize = setting("V2V_TURNS", SCRIPT.len());
    let per_session: usize = setting("V2V_TURNS_PER_SESSION", 5);
    let listen = setting("V2V_LISTEN", 1u8) != 0;
    let sessions: Vec<usize> = std::env::var("V2V_SESSIONS")
        .unwrap_or_else(|_| "1,2,4,8,12".into())
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse()
                .unwrap_or_else(|_| panic!("V2V_SESSIONS: {s:?} is not a number"))
        })
        .collect();
    // Room for the largest run, so that the kiosk's own limit is not what is measured.
    let max_sessions = (sessions.iter().copied().max().unwrap_or(1) + 4)
        .max(Config::default().kiosk.max_sessions)
        .to_string();

    // One thread: the client's work is light, and the services need the cores.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the bench's runtime");
    eprintln!("starting the stack (release binaries)...");
    let started = Instant::now();
    let stack = runtime.block_on(Stack::start(&[(
        "SHOP_KIOSK__MAX_SESSIONS",
        max_sessions.as_str(),
    )]));
    eprintln!("stack ready in {:.0} s", started.elapsed().as_secs_f64());
    let report = runtime.block_on(bench(&stack, turns, per_session, listen, &sessions));
    println!(
        "{}",
        serde_json::to_string_pretty(&report).expect("the report as JSON")
    );
    let dropped = report["single_session"]["dropped"].as_u64().unwrap_or(0)
        + report["concurrency"].as_array().map_or(0, |runs| {
            runs.iter().filter_map(|r| r["dropped"].as_u64()).sum()
        });
    if dropped > 0 {
        // What the kiosk said about it, while its log still exists.
        eprintln!(
            "{dropped} turns dropped; the kiosk's last lines:\n{}",
            stack.log_tail(Service::Kiosk)
        );
    }
}

async fn bench(
    stack: &Stack,
    turns: usize,
    per_session: usize,
    listen: bool,
    sessions: &[usize],
) -> Value {
    let voice = stack.url(Service::Voice);
    let ws_url = stack.kiosk_ws();
    let http = reqwest::Client::new();

    eprintln!("synthesising {} utterances...", SCRIPT.len() + 1);
    let mut script = Vec::new();
    for text in SCRIPT {
        let speech = synthesise(&http, &voice, text).await;
        if speech.longest_pause_ms >= RISKY_PAUSE_MS {
            eprintln!(
                "warning: {text:?} has a {:.0} ms pause; the kiosk may end the turn there",
                speech.longest_pause_ms
            );
        }
        script.push(speech);
    }
    let script = Arc::new(script);
    let warm_up = Arc::new(synthesise(&http, &voice, WARM_UP).await);
    let speech_s: Vec<f64> = script.iter().map(|s| s.seconds).collect();

    // One session: the whole script (cycled if more turns are asked for).
    eprintln!("one session, {turns} turns after a warm-up turn...");
    let order: Vec<usize> = (0..turns).map(|i| i % script.len()).collect();
    let single = run_customers(
        vec![Customer {
            order,
            delay: Duration::ZERO,
            warm_up: Some(warm_up.clone()),
            label: "session 1".into(),
        }],
        &ws_url,
        &script,
        listen,
    )
    .await;
    let single_turns: Vec<&TurnResult> = single.iter().flat_map(|l| &l.turns).collect();
    let mut single_summary = summarise(&single_turns);
    let first_audio = &single_summary["end_of_speech_to_first_audio_ms"];
    let (p50, p95) = (p(first_audio, "p50"), p(first_audio, "p95"));
    let dropped = single_summary["dropped"].as_u64().unwrap_or(0);
    single_summary["meets_goal"] = json!(
        dropped == 0
            && p50.is_some_and(|v| v <= GOAL_P50_MS)
            && p95.is_some_and(|v| v <= GOAL_P95_MS)
    );
    single_summary["turn_log"] = single_turns.iter().map(|t| t.json()).collect();
    eprintln!(
        "one session: end of speech to first audio p50 {} ms, p95 {} ms, {dropped} dropped",
        ms(p50),
        ms(p95)
    );

    // Concurrent sessions: each starts at a different place in the script.
    let mut concurrency = Vec::new();
    let mut dropped_by_n: Vec<(usize, u64)> = Vec::new();
    let mut side_errors: BTreeMap<String, u32> = BTreeMap::new();
    let mut unexpected_turns = single.iter().map(|l| l.unexpected_turns).sum::<u32>();
    for log in &single {
        for (code, count) in &log.side_errors {
            *side_errors.entry(code.clone()).or_default() += count;
        }
    }
    for &n in sessions {
        eprintln!("{n} sessions at once, {per_session} turns each...");
        let started = Instant::now();
        let customers = (0..n)
            .map(|i| {
                let order = (0..per_session)
                    .map(|k| (i * 5 + k) % script.len())
                    .collect();
                let delay = SPREAD.mul_f64(i as f64 / n as f64);
                Customer {
                    order,
                    delay,
                    warm_up: None,
                    label: format!("[{n}] session {}", i + 1),
                }
            })
            .collect();
        let logs = run_customers(customers, &ws_url, &script, listen).await;
        let wall_s = started.elapsed().as_secs_f64();
        let turns: Vec<&TurnResult> = logs.iter().flat_map(|l| &l.turns).collect();
        let mut summary = summarise(&turns);
        let dropped = summary["dropped"].as_u64().unwrap_or(0);
        dropped_by_n.push((n, dropped));
        for log in &logs {
            unexpected_turns += log.unexpected_turns;
            for (code, count) in &log.side_errors {
                *side_errors.entry(code.clone()).or_default() += count;
            }
        }
        let failures: Vec<&String> = logs.iter().filter_map(|l| l.failure.as_ref()).collect();
        summary["sessions"] = json!(n);
        summary["wall_s"] = json!(round(wall_s));
        summary["session_failures"] = json!(failures);
        let first_audio = &summary["end_of_speech_to_first_audio_ms"];
        eprintln!(
            "{n} sessions: {} turns, {dropped} dropped, first audio p50 {} ms, p95 {} ms",
            turns.len(),
            ms(p(first_audio, "p50")),
            ms(p(first_audio, "p95"))
        );
        concurrency.push(summary);
    }

    // Held: the largest N run without a dropped turn, with none dropped at any smaller N.
    let held = dropped_by_n
        .iter()
        .filter(|(n, _)| {
            dropped_by_n
                .iter()
                .all(|(m, dropped)| m > n || *dropped == 0)
        })
        .map(|(n, _)| *n)
        .max()
        .unwrap_or(0);
    // Replies prepared in a pause: released (her words stood) or dropped (she went on).
    let mut speculative_turns = serde_json::Map::new();
    for outcome in ["released", "dropped"] {
        let series = format!("kiosk_speculative_turns_total{{outcome=\"{outcome}\"}}");
        let count = stack.metric(Service::Kiosk, &series).await;
        speculative_turns.insert(outcome.into(), json!(count));
    }
    let defaults = Config::default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    json!({
        "bench": "voice_to_voice",
        "machine": {"cores": cores},
        "models": {
            "stt": model_setting("SHOP_VOICE__STT_MODEL", defaults.voice.stt_model.clone()),
            "vad": model_setting("SHOP_VOICE__VAD_MODEL", defaults.voice.vad_model.clone()),
            "tts": defaults.voice.tts_voices.get("en"),
            "dialogue": model_setting("SHOP_DIALOGUE__MODEL", defaults.dialogue.model.clone()),
            "dialogue_understands_with_model": defaults.dialogue.understand_with_model,
            "dialogue_replies_with_model": defaults.dialogue.reply_with_model,
        },
        "settings": {
            "frame_ms": FRAME.as_millis(),
            "end_of_turn_silence_ms": model_setting(
                "SHOP_VOICE__END_OF_TURN_SILENCE_MS",
                defaults.voice.end_of_turn_silence_ms.to_string(),
            ),
            "listen_to_replies": listen,
            "pause_after_reply_ms": PAUSE.as_millis(),
            "turn_deadline_s": TURN_DEADLINE.as_secs(),
            "turns_per_concurrent_session": per_session,
            "concurrent_start_spread_s": SPREAD.as_secs(),
            "utterance_s": stats(speech_s),
            "longest_pause_in_utterance_ms": script.iter().map(|s| s.longest_pause_ms).fold(0.0, f64::max),
        },
        "goal": {
            "end_of_speech_to_first_audio_p50_ms": GOAL_P50_MS,
            "end_of_speech_to_first_audio_p95_ms": GOAL_P95_MS,
            "sessions_held": GOAL_SESSIONS,
        },
        "speculative_turns": speculative_turns,
        "single_session": single_summary,
        "concurrency": concurrency,
        "sessions_held": held,
        "sessions_held_meets_goal": held >= GOAL_SESSIONS,
        "unexpected_turns": unexpected_turns,
        "side_errors": side_errors,
    })
}
