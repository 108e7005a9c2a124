//! `GET /v1/audio/stream` refuses what it cannot take, with an error event (and a close
//! where the input itself is wrong) or a 4xx before the upgrade; real models, served
//! in-process on an ephemeral port.

#![allow(clippy::unwrap_used)] // test helpers: a failed set-up should stop the test loudly

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use models::{MODELS_DIR_ENV, Manifest, verify_model};
use protocol::voice::SttEvent;
use service_kit::config::VoiceConfig;
use service_kit::server::Server;
use service_kit::telemetry::Metrics;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use voice::stream::{StreamSettings, StreamState, router};
use voice::stt::{SpeechToText, SttPool};

fn models_dir() -> PathBuf {
    std::env::var_os(MODELS_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models"))
}

/// Serves the stream endpoint with `adjust`ed settings; returns its ws:// URL.
async fn start(adjust: fn(&mut StreamSettings)) -> String {
    let models = models_dir();
    let manifest = Manifest::builtin();
    let whisper = verify_model(&models, manifest.get("whisper-tiny.en").unwrap())
        .unwrap_or_else(|e| panic!("{e}"))
        .remove(0);
    let config = VoiceConfig::default();
    let state = tokio::task::spawn_blocking(move || {
        let stt = SttPool::new(SpeechToText::load(&whisper, 1).unwrap(), 1, 1);
        let state = StreamState::load(Arc::new(stt), &models, &config).unwrap();
        let mut settings = state.settings().clone();
        adjust(&mut settings);
        state.with_settings(settings)
    })
    .await
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/v1/audio/stream", listener.local_addr().unwrap());
    let server = Server::new().with_metrics(Metrics::new());
    tokio::spawn(server.run(listener, router(state), std::future::pending()));
    url
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The next event, or the close code if the server closed instead.
async fn next(socket: &mut Socket) -> Result<SttEvent, Option<u16>> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("the server answers within 5 s");
        match message {
            Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Err(None),
        }
    }
}

fn code_of(event: &SttEvent) -> &str {
    match event {
        SttEvent::Error { code, .. } => code,
        other => panic!("expected an error event, got {other:?}"),
    }
}

#[tokio::test]
async fn odd_byte_count_gets_an_error_event_and_a_close() {
    let url = start(|_| {}).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    socket.send(Message::binary(vec![0u8; 640])).await.unwrap();
    socket.send(Message::binary(vec![0u8; 641])).await.unwrap();
    let event = next(&mut socket).await.unwrap();
    assert_eq!(code_of(&event), "invalid_audio");
    assert_eq!(next(&mut socket).await.unwrap_err(), Some(1003));
}

#[tokio::test]
async fn text_frames_get_an_error_event_and_the_stream_goes_on() {
    let url = start(|_| {}).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    socket.send(Message::text("hello")).await.unwrap();
    let event = next(&mut socket).await.unwrap();
    assert_eq!(code_of(&event), "unexpected_text");
    // Still open: a bad frame after it is answered, not ignored.
    socket.send(Message::binary(vec![0u8; 3])).await.unwrap();
    assert_eq!(code_of(&next(&mut socket).await.unwrap()), "invalid_audio");
}

#[tokio::test]
async fn oversized_frames_and_floods_are_refused() {
    let url = start(|s| {
        s.max_frame_bytes = 1024;
        s.max_messages_per_second = 20;
    })
    .await;
    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    socket.send(Message::binary(vec![0u8; 2048])).await.unwrap();
    assert_eq!(
        code_of(&next(&mut socket).await.unwrap()),
        "frame_too_large"
    );
    assert_eq!(next(&mut socket).await.unwrap_err(), Some(1009));

    let (mut socket, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    for _ in 0..40 {
        if socket.send(Message::binary(vec![0u8; 64])).await.is_err() {
            break;
        }
    }
    assert_eq!(code_of(&next(&mut socket).await.unwrap()), "rate_limited");
    assert_eq!(next(&mut socket).await.unwrap_err(), Some(1008));
}

#[tokio::test]
async fn bad_query_and_too_many_streams_are_refused_before_the_upgrade() {
    let url = start(|s| s.max_streams = 1).await;
    let status_of = |result: Result<_, WsError>| match result {
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, got a socket"),
    };
    let unknown = tokio_tungstenite::connect_async(format!("{url}?language=klingon")).await;
    assert_eq!(status_of(unknown.map(|_| ())), 400);
    let long_prompt = "shirt%20".repeat(400);
    let long = tokio_tungstenite::connect_async(format!("{url}?prompt={long_prompt}")).await;
    assert_eq!(status_of(long.map(|_| ())), 400);

    let (first, _) = tokio_tungstenite::connect_async(format!("{url}?language=en&prompt=Levi%27s"))
        .await
        .unwrap();
    let second = tokio_tungstenite::connect_async(&url).await;
    assert_eq!(status_of(second.map(|_| ())), 503);
    drop(first);
    // The slot comes back once the first stream is gone.
    let mut admitted = false;
    for _ in 0..50 {
        if tokio_tungstenite::connect_async(&url).await.is_ok() {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(admitted, "a slot is freed when a stream closes");
}
