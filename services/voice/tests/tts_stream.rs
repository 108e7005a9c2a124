//! `GET /v1/audio/speech/stream` on the real piper voice: sentence events each
//! followed by their PCM frame, the first audio before the later sentences, `done`
//! at the end, cancel (barge-in) stopping the remaining sentences, and errors as
//! events.

#![allow(clippy::unwrap_used)] // test helpers: a failed set-up should stop the test loudly

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use models::MODELS_DIR_ENV;
use protocol::voice::SpeechStreamEvent;
use serde_json::json;
use service_kit::config::VoiceConfig;
use service_kit::server::Server;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use voice::tts::{TtsEngine, router};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn models_dir() -> PathBuf {
    std::env::var_os(MODELS_DIR_ENV).map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models"),
        PathBuf::from,
    )
}

/// A server on an ephemeral port; dropping `_stop` shuts it down.
struct Running {
    ws_url: String,
    _stop: oneshot::Sender<()>,
}

async fn start() -> Running {
    let engine =
        tokio::task::spawn_blocking(|| TtsEngine::load(&VoiceConfig::default(), &models_dir()))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{e} (run scripts/setup.sh to install the models)"));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ws_url = format!(
        "ws://{}/v1/audio/speech/stream",
        listener.local_addr().unwrap()
    );
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(Server::new().run(listener, router(engine), async {
        let _ = stopped.await;
    }));
    Running {
        ws_url,
        _stop: stop,
    }
}

async fn open(running: &Running, input: &str) -> Socket {
    let (mut socket, _) = tokio_tungstenite::connect_async(&running.ws_url)
        .await
        .unwrap();
    let request =
        json!({"model": "tts-1", "input": input, "voice": "alloy", "response_format": "pcm"});
    socket
        .send(Message::Text(request.to_string().into()))
        .await
        .unwrap();
    socket
}

/// What the client saw, in order.
#[derive(Debug)]
enum Seen {
    Event(SpeechStreamEvent),
    Audio(usize),
}

/// The next event or audio frame; `None` when the server closed the stream.
async fn next(socket: &mut Socket) -> Option<Seen> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(60), socket.next())
            .await
            .expect("the server answers within a minute")?
            .ok()?;
        match message {
            Message::Text(text) => return Some(Seen::Event(serde_json::from_str(&text).unwrap())),
            Message::Binary(bytes) => return Some(Seen::Audio(bytes.len())),
            Message::Close(_) => return None,
            _ => continue,
        }
    }
}

const REPLY: &str = "Welcome back! The navy jacket is $29.99. It also comes in XL. \
                     Shall I ask someone to bring it to the mirror?";

#[tokio::test]
async fn first_audio_arrives_before_the_rest_is_synthesised() {
    let running = start().await;
    let started = Instant::now();
    let mut socket = open(&running, REPLY).await;
    let mut seen = Vec::new();
    let mut first_audio = None;
    while let Some(item) = next(&mut socket).await {
        if matches!(item, Seen::Audio(_)) && first_audio.is_none() {
            first_audio = Some(started.elapsed());
        }
        seen.push(item);
    }
    let total = started.elapsed();
    println!(
        "first audio after {:.0} ms, whole reply after {:.0} ms",
        first_audio.unwrap().as_secs_f64() * 1000.0,
        total.as_secs_f64() * 1000.0
    );

    // sentence 0, audio, sentence 1, audio, ..., done.
    let expected = [
        "Welcome back!",
        "The navy jacket is $29.99.",
        "It also comes in XL.",
        "Shall I ask someone to bring it to the mirror?",
    ];
    assert_eq!(seen.len(), expected.len() * 2 + 1, "{seen:?}");
    for (i, text) in expected.iter().enumerate() {
        let Seen::Event(SpeechStreamEvent::Sentence {
            index,
            text: said,
            sample_rate,
            bytes,
        }) = &seen[2 * i]
        else {
            panic!("expected sentence {i}: {seen:?}");
        };
        assert_eq!(
            (*index as usize, said.as_str(), *sample_rate),
            (i, *text, 22_050)
        );
        let Seen::Audio(len) = seen[2 * i + 1] else {
            panic!("expected audio after sentence {i}: {seen:?}");
        };
        assert_eq!(len as u64, *bytes);
        assert!(len > 22_050 / 2, "sentence {i} has audio ({len} bytes)");
    }
    // The first frame came before the last sentence's event and before `done`.
    let first_audio_at = seen.iter().position(|s| matches!(s, Seen::Audio(_)));
    let last_sentence_at = seen
        .iter()
        .position(|s| matches!(s, Seen::Event(SpeechStreamEvent::Sentence { index: 3, .. })));
    assert!(first_audio_at < last_sentence_at);
    assert!(matches!(
        seen.last(),
        Some(Seen::Event(SpeechStreamEvent::Done {
            sentences: 4,
            cancelled: false
        }))
    ));
}

/// Time to first audio of a one-sentence reply over the stream (its first clause is
/// sent first), printed for the record: speed is for benchmarks, not assertions.
#[tokio::test]
async fn one_sentence_reply_time_to_first_audio() {
    let running = start().await;
    let reply = "Sure, the blue jacket is $29.99 and we have it in size M.";
    // The first stream pays for ONNX Runtime's lazy initialisation.
    let mut socket = open(&running, reply).await;
    while next(&mut socket).await.is_some() {}
    for _ in 0..3 {
        let started = Instant::now();
        let mut socket = open(&running, reply).await;
        let mut first_audio = None;
        let mut audio_bytes = 0;
        let mut pieces = 0;
        while let Some(item) = next(&mut socket).await {
            if let Seen::Audio(len) = item {
                first_audio.get_or_insert(started.elapsed());
                audio_bytes += len;
                pieces += 1;
            }
        }
        let total = started.elapsed().as_secs_f64();
        let audio = audio_bytes as f64 / 2.0 / 22_050.0;
        println!(
            "one-sentence reply streamed in {pieces} pieces: first audio after {:.0} ms, \
             {audio:.2} s of audio in {:.0} ms (real-time factor {:.3})",
            first_audio.unwrap().as_secs_f64() * 1000.0,
            total * 1000.0,
            total / audio
        );
    }
}

#[tokio::test]
async fn cancel_after_the_first_frame_stops_the_remaining_sentences() {
    let running = start().await;
    let mut socket = open(&running, REPLY).await;
    let mut seen = Vec::new();
    while let Some(item) = next(&mut socket).await {
        let audio = matches!(item, Seen::Audio(_));
        seen.push(item);
        if audio {
            socket
                .send(Message::Text(json!({"type": "cancel"}).to_string().into()))
                .await
                .unwrap();
            break;
        }
    }
    while let Some(item) = next(&mut socket).await {
        seen.push(item);
    }
    let sentences = seen
        .iter()
        .filter(|s| matches!(s, Seen::Event(SpeechStreamEvent::Sentence { .. })))
        .count();
    assert_eq!(sentences, 1, "{seen:?}");
    assert!(
        matches!(
            seen.last(),
            Some(Seen::Event(SpeechStreamEvent::Done {
                sentences: 1,
                cancelled: true
            }))
        ),
        "{seen:?}"
    );

    // Closing the socket mid-stream also stops it; the server then serves the next
    // stream normally.
    let mut socket = open(&running, REPLY).await;
    assert!(matches!(next(&mut socket).await, Some(Seen::Event(_))));
    socket.close(None).await.unwrap();
    let mut socket = open(&running, "Thank you.").await;
    let mut events = 0;
    while let Some(item) = next(&mut socket).await {
        events += 1;
        if let Seen::Event(SpeechStreamEvent::Done { sentences, .. }) = item {
            assert_eq!(sentences, 1);
        }
    }
    assert_eq!(events, 3);
}

#[tokio::test]
async fn a_bad_request_gets_an_error_event() {
    let running = start().await;
    for (input, voice, code) in [
        ("", "alloy", "empty_text"),
        ("Hello.", "klingon", "unknown_voice"),
    ] {
        let (mut socket, _) = tokio_tungstenite::connect_async(&running.ws_url)
            .await
            .unwrap();
        let request = json!({"model": "tts-1", "input": input, "voice": voice});
        socket
            .send(Message::Text(request.to_string().into()))
            .await
            .unwrap();
        match next(&mut socket).await {
            Some(Seen::Event(SpeechStreamEvent::Error { code: got, .. })) => assert_eq!(got, code),
            other => panic!("expected an error event, got {other:?}"),
        }
        assert!(next(&mut socket).await.is_none(), "the stream ends");
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(&running.ws_url)
        .await
        .unwrap();
    socket.send(Message::Text("not json".into())).await.unwrap();
    match next(&mut socket).await {
        Some(Seen::Event(SpeechStreamEvent::Error { code, .. })) => {
            assert_eq!(code, "invalid_request");
        }
        other => panic!("expected an error event, got {other:?}"),
    }
}
