//! `GET /v1/audio/stream` end to end on the real models (whisper tiny.en, Silero VAD
//! v5 on ONNX Runtime): fixture speech sent at real-time pace in 20 ms frames over a
//! WebSocket to the router served in-process on an ephemeral port.

#![allow(clippy::unwrap_used)] // test helpers: a failed set-up should stop the test loudly

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use models::{MODELS_DIR_ENV, Manifest, verify_model};
use protocol::voice::SttEvent;
use service_kit::config::VoiceConfig;
use service_kit::server::Server;
use service_kit::telemetry::Metrics;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use voice::quality::word_error_rate;
use voice::stream::{StreamState, router};
use voice::stt::{SAMPLE_RATE, SpeechToText, SttPool};

/// Speech tests measure latency on a 2-core machine: one at a time, or they would
/// measure each other.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const SHIRT: &str = "I am looking for a blue shirt to go with my pink sweater.";
const JEANS: &str = "Do you have these jeans in black?";
/// 20 ms of 16 kHz audio.
const FRAME: usize = 320;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn models_dir() -> PathBuf {
    std::env::var_os(MODELS_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("models"))
}

fn read_fixture(name: &str) -> Vec<i16> {
    let path = workspace_root().join("fixtures/audio").join(name);
    let mut reader = hound::WavReader::open(&path).unwrap();
    let spec = reader.spec();
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (SAMPLE_RATE, 1, 16),
        "{name} is 16 kHz mono PCM16"
    );
    reader.samples::<i16>().map(Result::unwrap).collect()
}

/// Index just past the last 10 ms of `samples` louder than -40 dBFS: where the
/// speech really ends (espeak-ng adds quiet padding after it).
fn speech_end(samples: &[i16]) -> usize {
    let block = SAMPLE_RATE as usize / 100;
    let loud = |chunk: &[i16]| {
        let energy: f64 = chunk
            .iter()
            .map(|&s| (f64::from(s) / 32768.0).powi(2))
            .sum();
        (energy / chunk.len() as f64).sqrt() > 0.01
    };
    let blocks = samples.chunks(block).collect::<Vec<_>>();
    let last = blocks.iter().rposition(|chunk| loud(chunk)).unwrap();
    ((last + 1) * block).min(samples.len())
}

fn silence(seconds: f32) -> Vec<i16> {
    vec![0; (seconds * SAMPLE_RATE as f32) as usize]
}

/// A served stream endpoint; the server stops when the test's runtime does.
struct Service {
    url: String,
}

async fn start() -> Service {
    // Per-decode timings with RUST_LOG=voice::stream=debug, to tell a slow machine
    // from a scheduling fault when a latency assertion fails.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let models = models_dir();
    let manifest = Manifest::builtin();
    let whisper = verify_model(&models, manifest.get("whisper-tiny.en").unwrap())
        .unwrap_or_else(|e| panic!("{e}"))
        .remove(0);
    let config = VoiceConfig::default();
    let state = tokio::task::spawn_blocking(move || {
        let stt = SttPool::new(
            SpeechToText::load(&whisper, config.threads).unwrap(),
            config.stt_workers,
            config.stt_queue,
        );
        StreamState::load(Arc::new(stt), &models, &config).unwrap_or_else(|e| panic!("{e}"))
    })
    .await
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/v1/audio/stream", listener.local_addr().unwrap());
    let server = Server::new().with_metrics(Metrics::new());
    tokio::spawn(server.run(listener, router(state), std::future::pending()));
    Service { url }
}

/// What happened during one streamed session.
struct Session {
    /// Every event with the moment it arrived.
    events: Vec<(Instant, SttEvent)>,
    /// The moment each frame was sent.
    sent: Vec<Instant>,
}

impl Session {
    /// When the frame holding sample `index` was sent.
    fn sent_at(&self, index: usize) -> Instant {
        self.sent[(index.saturating_sub(1)) / FRAME]
    }

    fn finals(&self) -> Vec<(Instant, String)> {
        self.events
            .iter()
            .filter_map(|(at, e)| match e {
                SttEvent::Final { text } => Some((*at, text.clone())),
                _ => None,
            })
            .collect()
    }

    fn times_of(&self, wanted: fn(&SttEvent) -> bool) -> Vec<Instant> {
        self.events
            .iter()
            .filter(|(_, e)| wanted(e))
            .map(|(at, _)| *at)
            .collect()
    }

    fn kinds(&self) -> Vec<&'static str> {
        self.events
            .iter()
            .map(|(_, e)| match e {
                SttEvent::SpeechStarted => "speech_started",
                SttEvent::Partial { .. } => "partial",
                SttEvent::Tentative { .. } => "tentative",
                SttEvent::SpeechResumed => "speech_resumed",
                SttEvent::SpeechEnded => "speech_ended",
                SttEvent::Final { .. } => "final",
                SttEvent::Error { .. } => "error",
            })
            .collect()
    }
}

/// Sends `audio` at real-time pace in 20 ms frames while collecting events, until
/// `finals` finals have come (or 10 s after the audio ends), then waits `linger` for
/// anything unexpected and closes.
async fn stream(url: &str, audio: &[i16], finals: usize, linger: Duration) -> Session {
    let (socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let (mut sink, mut source) = socket.split();
    let frames: Vec<Vec<u8>> = audio
        .chunks(FRAME)
        .map(|frame| frame.iter().flat_map(|s| s.to_le_bytes()).collect())
        .collect();
    let frame_time = Duration::from_secs_f64(FRAME as f64 / f64::from(SAMPLE_RATE));
    let start = Instant::now();
    let audio_end = start + frame_time * frames.len() as u32;

    let send = async move {
        let mut sent = Vec::with_capacity(frames.len());
        for (i, frame) in frames.into_iter().enumerate() {
            // Pace against the start, so a late wake-up does not slow the stream down.
            tokio::time::sleep_until((start + frame_time * i as u32).into()).await;
            sink.send(Message::binary(frame)).await.unwrap();
            sent.push(Instant::now());
        }
        (sink, sent)
    };
    let receive = async {
        let mut events = Vec::new();
        // With no final expected, a second after the audio is enough to see none comes;
        // otherwise a generous wait, as other builds may share the cores.
        let wait = if finals == 0 { 1 } else { 10 };
        let mut deadline = audio_end + Duration::from_secs(wait);
        loop {
            let next = tokio::time::timeout_at(deadline.into(), source.next()).await;
            let Ok(Some(Ok(message))) = next else { break };
            if let Message::Text(text) = message {
                let event: SttEvent = serde_json::from_str(&text).unwrap();
                let is_final = matches!(event, SttEvent::Final { .. });
                events.push((Instant::now(), event));
                let seen = events
                    .iter()
                    .filter(|(_, e)| matches!(e, SttEvent::Final { .. }))
                    .count();
                if is_final && seen == finals {
                    deadline = Instant::now().max(audio_end) + linger;
                }
            }
        }
        events
    };
    let ((mut sink, sent), events) = tokio::join!(send, receive);
    let _ = sink.close().await;
    Session { events, sent }
}

fn report_latency(session: &Session, speech_end_sample: usize, label: &str) -> Duration {
    let stopped = session.sent_at(speech_end_sample);
    let ended = session
        .times_of(|e| matches!(e, SttEvent::SpeechEnded))
        .into_iter()
        .find(|at| *at >= stopped)
        .unwrap_or_else(|| {
            panic!(
                "{label}: no speech_ended after the speech: {:?}",
                session.kinds()
            )
        });
    let fin = session
        .finals()
        .into_iter()
        .map(|(at, _)| at)
        .find(|at| *at >= ended)
        .unwrap();
    let to_ended = ended - stopped;
    println!(
        "{label}: end of speech → speech_ended {} ms, → final {} ms (final {} ms after speech_ended)",
        to_ended.as_millis(),
        (fin - stopped).as_millis(),
        (fin - ended).as_millis()
    );
    to_ended
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speech_gives_started_partials_ended_within_800_ms_and_a_matching_final() {
    let _serial = SERIAL.lock().await;
    let service = start().await;
    let speech = read_fixture("shirt_request.wav");
    let lead = silence(1.0);
    let mut audio = lead.clone();
    audio.extend(&speech);
    audio.extend(silence(1.0));
    let stopped_sample = lead.len() + speech_end(&speech);

    let session = stream(&service.url, &audio, 1, Duration::from_millis(300)).await;
    let kinds = session.kinds();
    println!("events: {kinds:?}");
    assert_eq!(kinds.first(), Some(&"speech_started"), "{kinds:?}");
    assert!(!kinds.contains(&"error"), "{kinds:?}");
    let stopped = session.sent_at(stopped_sample);
    let partials = session.times_of(|e| matches!(e, SttEvent::Partial { .. }));
    assert!(
        partials.iter().any(|at| *at < stopped),
        "a partial arrives while the customer still speaks: {kinds:?}"
    );
    let to_ended = report_latency(&session, stopped_sample, "one utterance");
    assert!(
        to_ended <= Duration::from_millis(800),
        "speech_ended {} ms after the speech stopped",
        to_ended.as_millis()
    );
    let finals = session.finals();
    assert_eq!(finals.len(), 1, "{kinds:?}");
    let wer = word_error_rate(SHIRT, &finals[0].1);
    println!("final {:?} (word error rate {wer:.2})", finals[0].1);
    assert!(wer <= 0.25, "word error rate {wer:.2}: {:?}", finals[0].1);
    assert_eq!(
        kinds.iter().filter(|k| **k == "speech_started").count(),
        1,
        "one utterance is one turn: {kinds:?}"
    );
    assert_eq!(kinds.last(), Some(&"final"), "{kinds:?}");
    // The pause's decode, told early as `tentative` when it is ready before the end of
    // turn (it is on an idle machine), is what the final says: a kiosk that prepared
    // its reply from it answered the right words.
    assert!(!kinds.contains(&"speech_resumed"), "{kinds:?}");
    for (_, event) in &session.events {
        if let SttEvent::Tentative { text } = event {
            assert_eq!(text, &finals[0].1, "the tentative text is the final one");
        }
    }
    println!("tentative sent: {}", kinds.contains(&"tentative"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_utterances_a_second_apart_give_two_finals() {
    let _serial = SERIAL.lock().await;
    let service = start().await;
    let shirt = read_fixture("shirt_request.wav");
    let jeans = read_fixture("jeans_request.wav");
    let mut audio = silence(1.0);
    audio.extend(&shirt);
    audio.extend(silence(1.0));
    let second_start = audio.len();
    audio.extend(&jeans);
    audio.extend(silence(1.0));

    let session = stream(&service.url, &audio, 2, Duration::from_millis(300)).await;
    let kinds = session.kinds();
    println!("events: {kinds:?}");
    let finals = session.finals();
    assert_eq!(finals.len(), 2, "{kinds:?}");
    for ((_, text), reference) in finals.iter().zip([SHIRT, JEANS]) {
        let wer = word_error_rate(reference, text);
        println!("final {text:?} (word error rate {wer:.2})");
        assert!(
            wer <= 0.25,
            "word error rate {wer:.2}: {text:?} for {reference:?}"
        );
    }
    assert_eq!(
        kinds.iter().filter(|k| **k == "speech_ended").count(),
        2,
        "{kinds:?}"
    );
    report_latency(
        &session,
        second_start + speech_end(&jeans),
        "second utterance",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silence_and_faint_noise_give_no_events() {
    let _serial = SERIAL.lock().await;
    let service = start().await;
    let mut audio = silence(1.0);
    // Faint hiss (about -50 dBFS), as a quiet shop floor sends, not digital zeros only.
    let mut seed = 12345u32;
    audio.extend((0..SAMPLE_RATE as usize).map(|_| {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        ((seed >> 16) as i16 >> 6) / 2
    }));
    let session = stream(&service.url, &audio, 0, Duration::ZERO).await;
    assert!(
        session.events.is_empty(),
        "no speech, no events: {:?}",
        session.kinds()
    );
}
