//! The session protocol's rules, with a WebSocket client against the kiosk in-process
//! and every other service absent (ports nothing listens on): what a page may send,
//! what a wrong one gets back (an `error` or a close code, never a panic), that one
//! page cannot disturb another, overload, resuming, the staff API's guards, and that
//! services that are down are reported. The conversation itself, with every service
//! running, is in `conversation.rs`.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use protocol::Service;
use protocol::kiosk::{ClientMessage, ServerMessage};
use service_kit::config::Config;
use test_support::kiosk_client::{KioskClient, Received};
use test_support::stack::{DEVICE_TOKEN, STAFF_TOKEN};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);

/// A kiosk on an ephemeral port whose other services are all unreachable.
struct Kiosk {
    http: String,
    ws: String,
    _stop: oneshot::Sender<()>,
}

async fn start_kiosk(tune: impl FnOnce(&mut Config)) -> Kiosk {
    // Every other service on a port that was free a moment ago: all bound at once so
    // no two are the same, then released, so nothing answers there.
    let held: Vec<std::net::TcpListener> = (0..6)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let ports: Vec<u16> = held
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    drop(held);
    let mut config = Config::default();
    config.voice.port = ports[0];
    config.vision.port = ports[1];
    config.dialogue.port = ports[2];
    config.catalog.port = ports[3];
    config.tryon.port = ports[4];
    config.kiosk.port = ports[5];
    config.kiosk.device_token = Some(DEVICE_TOKEN.into());
    config.kiosk.staff_token = Some(STAFF_TOKEN.into());
    tune(&mut config);
    config.validate().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(kiosk::run(listener, config, async {
        let _ = stopped.await;
    }));
    Kiosk {
        http: format!("http://127.0.0.1:{port}"),
        ws: format!("ws://127.0.0.1:{port}/ws"),
        _stop: stop,
    }
}

fn is_error(code: &'static str) -> impl Fn(&ServerMessage) -> bool {
    move |m| matches!(m, ServerMessage::Error { code: c, .. } if c == code)
}

async fn expect_error(client: &mut KioskClient, code: &'static str) {
    client.expect(WAIT, is_error(code)).await;
}

/// A WebSocket upgrade the kiosk refuses: its status, whether it says when to retry,
/// and the error code of its JSON body.
async fn refused_upgrade(ws_url: &str) -> (u16, bool, String) {
    let refused = tokio_tungstenite::connect_async(ws_url).await.unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(response) = refused else {
        panic!("expected an HTTP refusal, got {refused}");
    };
    let body: serde_json::Value =
        serde_json::from_slice(response.body().as_deref().unwrap_or_default()).unwrap();
    (
        response.status().as_u16(),
        response.headers().contains_key("retry-after"),
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test]
async fn a_page_must_say_hello_with_the_stores_token_first() {
    let kiosk = start_kiosk(|_| {}).await;

    let mut no_hello = KioskClient::connect(&kiosk.ws).await;
    no_hello
        .send(ClientMessage::Text {
            text: "hello".into(),
        })
        .await;
    expect_error(&mut no_hello, "hello_required").await;
    assert_eq!(no_hello.expect_close(WAIT).await, Some(1008));

    let mut wrong_token = KioskClient::connect(&kiosk.ws).await;
    wrong_token
        .send(ClientMessage::Hello {
            kiosk_token: "not-the-token-0123456789".into(),
            session_id: None,
            locale: "en".into(),
        })
        .await;
    expect_error(&mut wrong_token, "invalid_kiosk_token").await;
    assert_eq!(wrong_token.expect_close(WAIT).await, Some(1008));

    let mut old_page = KioskClient::connect(&kiosk.ws).await;
    old_page
        .send_raw(Message::Text(
            format!(r#"{{"v":0,"type":"hello","kiosk_token":"{DEVICE_TOKEN}"}}"#).into(),
        ))
        .await;
    expect_error(&mut old_page, "protocol_version").await;
    assert_eq!(old_page.expect_close(WAIT).await, Some(1002));

    let (mut good, session) = KioskClient::start(&kiosk.ws, DEVICE_TOKEN, None).await;
    assert!(!session.is_empty());
    good.send(ClientMessage::Hello {
        kiosk_token: DEVICE_TOKEN.into(),
        session_id: None,
        locale: "en".into(),
    })
    .await;
    expect_error(&mut good, "already_started").await;
}

#[tokio::test]
async fn every_bad_message_gets_its_error_and_the_session_goes_on() {
    let kiosk = start_kiosk(|_| {}).await;
    let (mut page, _) = KioskClient::start(&kiosk.ws, DEVICE_TOKEN, None).await;

    let cases: Vec<(Message, &'static str)> = vec![
        (Message::Text("not json".into()), "invalid_message"),
        (
            Message::Text(r#"{"type":"text","text":"hi"}"#.into()),
            "invalid_message",
        ),
        (
            Message::Text(r#"{"v":1,"type":"dance"}"#.into()),
            "unknown_message_type",
        ),
        (
            Message::Text(r#"{"v":1,"type":"text"}"#.into()),
            "invalid_message",
        ),
        (
            Message::Text(r#"{"v":1,"type":"frame","jpeg_base64":42}"#.into()),
            "invalid_message",
        ),
        (Message::Binary(vec![1, 2, 3].into()), "invalid_audio"),
        (
            Message::Binary(vec![0; 64 * 1024 + 2].into()),
            "invalid_audio",
        ),
    ];
    for (frame, code) in cases {
        page.send_raw(frame).await;
        expect_error(&mut page, code).await;
    }
    let typed = [
        (
            ClientMessage::Text {
                text: "x".repeat(501),
            },
            "text_too_long",
        ),
        (ClientMessage::Text { text: "   ".into() }, "empty_text"),
        (
            ClientMessage::Frame {
                jpeg_base64: "bm90IGEganBlZw==".into(),
            },
            "invalid_frame",
        ),
        (
            ClientMessage::Frame {
                jpeg_base64: "%%% not base64".into(),
            },
            "invalid_frame",
        ),
        (
            ClientMessage::TryOn {
                sku: "../../customers".into(),
            },
            "unknown_product",
        ),
        (ClientMessage::ForgetMe, "not_recognised"),
        (
            ClientMessage::ConsentAccept { name: " ".into() },
            "invalid_name",
        ),
    ];
    for (message, code) in typed {
        page.send(message).await;
        expect_error(&mut page, code).await;
    }

    // Still the same session, still answering: a typed turn starts and, with the
    // dialogue down, says so and ends.
    page.send(ClientMessage::Text {
        text: "a shirt please".into(),
    })
    .await;
    let final_text = page
        .expect(WAIT, |m| matches!(m, ServerMessage::TranscriptFinal { .. }))
        .await;
    assert_eq!(
        final_text,
        ServerMessage::TranscriptFinal {
            text: "a shirt please".into(),
            turn_id: 1
        }
    );
    expect_error(&mut page, "dialogue_unavailable").await;
    page.expect(WAIT, |m| {
        matches!(
            m,
            ServerMessage::TurnDone {
                turn_id: 1,
                cancelled: false,
                ..
            }
        )
    })
    .await;
    assert!(
        !page
            .log
            .iter()
            .any(|(_, r)| matches!(r, Received::Garbage(_) | Received::Closed(_))),
        "{:?}",
        page.kinds()
    );
}

#[tokio::test]
async fn an_oversize_frame_closes_only_that_page() {
    let kiosk = start_kiosk(|_| {}).await;
    let (mut calm, _) = KioskClient::start(&kiosk.ws, DEVICE_TOKEN, None).await;
    let (mut rogue, _) = KioskClient::start(&kiosk.ws, DEVICE_TOKEN, None).await;

    rogue
        .send_raw(Message::Text("x".repeat(2 * 1024 * 1024).into()))
        .await;
    assert_eq!(rogue.expect_close(WAIT).await, Some(1009));

    calm.send(ClientMessage::Text {
        text: "still there?".into(),
    })
    .await;
    calm.expect(WAIT, |m| matches!(m, ServerMessage::TranscriptFinal { .. }))
        .await;
}

#[tokio::test]
async fn a_full_kiosk_answers_503_with_retry_after_before_the_upgrade() {
    let kiosk = start_kiosk(|c| c.kiosk.max_sessions = 1).await;
    let (_first, _) = KioskClient::start(&kiosk.ws, DEVICE_TOKEN, None).await;

    let (status, retry_after, code) = refused_upgrade(&kiosk.ws).await;
    assert_eq!((status, code.as_str()), (503, "overloaded"));
    assert!(retry_after);
}

#[tokio::test]
async fn a_dropped_connection_resumes_the_same_session_until_it_expires() {
    let kiosk = start_kiosk(|c| c.kiosk.resume_secs = 2).await;
    let (mut page, session) = KioskClient::start(&kiosk.ws, DEVICE_TOKEN, None).await;
    page.send(ClientMessage::Text { text: "one".into() }).await;
    page.expect(WAIT, |m| matches!(m, ServerMessage::TurnDone { .. }))
        .await;
    drop(page);

    let mut again = KioskClient::connect(&kiosk.ws).await;
    again
        .send(ClientMessage::Hello {
            kiosk_token: DEVICE_TOKEN.into(),
            session_id: Some(session.clone()),
            locale: "zh-CN".into(),
        })
        .await;
    let started = again
        .expect(WAIT, |m| matches!(m, ServerMessage::SessionStarted { .. }))
        .await;
    assert_eq!(
        started,
        ServerMessage::SessionStarted {
            session_id: session.clone(),
            resumed: true,
            locale: "zh".into()
        }
    );
    // The turn count carried on: the next turn is the second.
    again.send(ClientMessage::Text { text: "two".into() }).await;
    again
        .expect(WAIT, |m| {
            matches!(m, ServerMessage::TranscriptFinal { turn_id: 2, .. })
        })
        .await;
    // Chinese was asked for on resume: the server's messages follow.
    let error = again.expect(WAIT, is_error("dialogue_unavailable")).await;
    let ServerMessage::Error { message, .. } = error else {
        unreachable!()
    };
    assert!(!message.is_ascii(), "{message}");
    drop(again);

    tokio::time::sleep(Duration::from_secs(4)).await;
    let (_late, new_session) = KioskClient::start(&kiosk.ws, DEVICE_TOKEN, Some(&session)).await;
    assert_ne!(
        new_session, session,
        "an expired session must not come back"
    );
}

#[tokio::test]
async fn services_that_are_down_are_reported_to_the_page() {
    let kiosk = start_kiosk(|c| c.kiosk.breaker_failures = 2).await;
    let (mut page, _) = KioskClient::start(&kiosk.ws, DEVICE_TOKEN, None).await;
    let mut down = std::collections::BTreeSet::new();
    while down.len() < 5 {
        let status = page
            .expect(Duration::from_secs(15), |m| {
                matches!(
                    m,
                    ServerMessage::ServiceStatus {
                        available: false,
                        ..
                    }
                )
            })
            .await;
        if let ServerMessage::ServiceStatus { service, .. } = status {
            down.insert(service);
        }
    }
    assert!(!down.contains(&Service::Kiosk));
    // A page that connects now is told at once.
    let (mut late, _) = KioskClient::start(&kiosk.ws, DEVICE_TOKEN, None).await;
    for _ in 0..5 {
        late.expect(WAIT, |m| {
            matches!(
                m,
                ServerMessage::ServiceStatus {
                    available: false,
                    ..
                }
            )
        })
        .await;
    }
    // With voice down, a microphone frame is taken but goes nowhere; no error.
    late.send_audio(&[0i16; 1600]).await;
    late.send(ClientMessage::Text { text: "hi".into() }).await;
    late.expect(WAIT, |m| matches!(m, ServerMessage::TurnDone { .. }))
        .await;
}

#[tokio::test]
async fn the_staff_api_needs_the_staff_token() {
    let kiosk = start_kiosk(|_| {}).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = |path: &str| format!("{}{path}", kiosk.http);

    let anonymous = client.get(url("/api/staff/fetches")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let body: serde_json::Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_staff_token");

    let queue: serde_json::Value = client
        .get(url("/api/staff/fetches"))
        .bearer_auth(STAFF_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(queue, serde_json::json!({"type": "queue", "requests": []}));

    let unknown = client
        .post(url("/api/staff/fetches/nope/claim"))
        .bearer_auth(STAFF_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let bad_action = client
        .post(url("/api/staff/fetches/nope/dance"))
        .bearer_auth(STAFF_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_action.status(), 400);

    let staff_ws = format!(
        "{}/staff/ws?token=wrong-token-0123456789",
        kiosk.ws.trim_end_matches("/ws")
    );
    let refused = tokio_tungstenite::connect_async(&staff_ws)
        .await
        .unwrap_err();
    assert!(matches!(refused, tokio_tungstenite::tungstenite::Error::Http(r) if r.status() == 401));

    // The device token is not a staff token.
    let device = client
        .get(url("/api/staff/fetches"))
        .bearer_auth(DEVICE_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(device.status(), 401);
}

#[tokio::test]
async fn without_a_device_token_sessions_are_refused_with_a_clear_503() {
    let kiosk = start_kiosk(|c| c.kiosk.device_token = None).await;
    let (status, _, code) = refused_upgrade(&kiosk.ws).await;
    assert_eq!((status, code.as_str()), (503, "sessions_disabled"));
}

#[tokio::test]
async fn the_pages_and_their_files_are_served() {
    let kiosk = start_kiosk(|_| {}).await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    for (path, kind, needle) in [
        ("/", "text/html", "kiosk.js"),
        ("/?mode=robot&lang=zh", "text/html", "data-robot"),
        ("/staff", "text/html", "staff.js"),
        ("/static/kiosk.js", "text/javascript", "WebSocket"),
        (
            "/static/mic-worklet.js",
            "text/javascript",
            "registerProcessor",
        ),
        ("/static/i18n.js", "text/javascript", "zh"),
        ("/static/kiosk.css", "text/css", "{"),
    ] {
        let response = client
            .get(format!("{}{path}", kiosk.http))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(content_type.starts_with(kind), "{path}: {content_type}");
        assert!(response.text().await.unwrap().contains(needle), "{path}");
    }
    let missing = client
        .get(format!("{}/static/secrets.env", kiosk.http))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let bad_sku = client
        .get(format!(
            "{}/v1/products/..%2F..%2Fadmin/image.png",
            kiosk.http
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_sku.status(), 400);
}
