//! A whole conversation over the session protocol, with every service running as its
//! own process on the real models (`test_support::stack`): consent and enrolment from
//! camera frames, recognition and the greeting by name, a spoken turn through whisper,
//! product cards and spoken replies through piper, the mirror, the fetch request and
//! the staff queue, barge-in, forgetting. Then the faults: services killed mid-
//! conversation, the kiosk degrading and recovering by itself.
//!
//! Needs the service binaries: `cargo build --workspace --bins --tests` (the README's test
//! command builds them).

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use protocol::Service;
use protocol::catalog::Product;
use protocol::kiosk::{ClientMessage, FetchState, ServerMessage};
use test_support::kiosk_client::{KioskClient, Received, cards_of, reply_of};
use test_support::speech::speech_16k;
use test_support::stack::{DEVICE_TOKEN, STAFF_TOKEN, Stack};
use test_support::{SERVICE_TOKEN, fixtures};

/// Generous: debug builds of the services on two loaded cores.
const WAIT: Duration = Duration::from_secs(60);

fn photo(name: &str) -> String {
    STANDARD.encode(std::fs::read(fixtures().join("vision/photos").join(name)).unwrap())
}

/// Sends camera frames of `photo` (as the page would, a few per second) until
/// `until` matches a message; returns it.
async fn show_face(
    page: &mut KioskClient,
    jpeg_base64: &str,
    until: impl Fn(&ServerMessage) -> bool,
) -> ServerMessage {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        page.send(ClientMessage::Frame {
            jpeg_base64: jpeg_base64.into(),
        })
        .await;
        while let Some(received) = page.next(Duration::from_millis(400)).await {
            if let Received::Message(message) = received
                && until(&message)
            {
                return message;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing matching while showing a face; received: {:?}",
            page.kinds()
        );
    }
}

/// Types `text`, as the page's text box would.
async fn say(page: &mut KioskClient, text: &str) {
    page.send(ClientMessage::Text { text: text.into() }).await;
}

/// Waits until the page is told that `service` is (un)available.
async fn expect_status(page: &mut KioskClient, service: Service, available: bool) {
    page.expect(WAIT, |m| {
        *m == ServerMessage::ServiceStatus { service, available }
    })
    .await;
}

/// Waits for an `error` with `code`.
async fn expect_error(page: &mut KioskClient, code: &str) {
    page.expect(
        WAIT,
        |m| matches!(m, ServerMessage::Error { code: c, .. } if c == code),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_with_every_service_then_faults_and_recovery() {
    let mut stack = Stack::start(&[]).await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let catalog = stack.url(Service::Catalog);
    let kiosk = stack.url(Service::Kiosk);

    // --- Consent: an anonymous customer is greeted, agrees, and is enrolled. -------
    let (mut first_visit, _) = KioskClient::start(&stack.kiosk_ws(), DEVICE_TOKEN, None).await;
    show_face(&mut first_visit, &photo("obama.jpg"), |m| {
        matches!(m, ServerMessage::AssistantDelta { .. })
    })
    .await;
    assert!(
        !first_visit
            .messages()
            .any(|m| matches!(m, ServerMessage::CustomerRecognised { .. })),
        "nobody is enrolled yet"
    );
    first_visit
        .send(ClientMessage::ConsentAccept {
            name: "Lucy".into(),
        })
        .await;
    let enrolled = first_visit
        .expect(WAIT, |m| {
            matches!(
                m,
                ServerMessage::Enrolled { .. } | ServerMessage::Error { .. }
            )
        })
        .await;
    assert_eq!(
        enrolled,
        ServerMessage::Enrolled {
            display_name: "Lucy".into()
        },
        "kiosk:\n{}\nvision:\n{}",
        stack.log_tail(Service::Kiosk),
        stack.log_tail(Service::Vision)
    );
    first_visit.send(ClientMessage::EndSession).await;
    first_visit.expect_close(WAIT).await;

    // --- Recognised next time, from another photo, and greeted by name. -----------
    let (mut page, session) = KioskClient::start(&stack.kiosk_ws(), DEVICE_TOKEN, None).await;
    let camera = photo("obama2.jpg");
    let recognised = show_face(&mut page, &camera, |m| {
        matches!(m, ServerMessage::CustomerRecognised { .. })
    })
    .await;
    let ServerMessage::CustomerRecognised {
        customer_id,
        display_name,
    } = recognised
    else {
        unreachable!()
    };
    assert_eq!(display_name, "Lucy");
    let greeting = page
        .expect(WAIT, |m| matches!(m, ServerMessage::AssistantDelta { .. }))
        .await;
    let ServerMessage::AssistantDelta { text, .. } = greeting else {
        unreachable!()
    };
    assert!(text.contains("Lucy"), "{text}");
    page.expect(WAIT, |m| matches!(m, ServerMessage::AudioChunk { .. }))
        .await;
    assert!(
        matches!(page.next(WAIT).await, Some(Received::Audio(pcm)) if !pcm.is_empty()),
        "an audio_chunk is followed by its PCM"
    );
    page.expect(WAIT, |m| matches!(m, ServerMessage::TurnDone { .. }))
        .await;

    // --- A spoken request: whisper hears it, the dialogue answers with cards. ------
    let request = speech_16k(&stack.url(Service::Voice), "I'm looking for a shirt.").await;
    page.speak(&request, Duration::from_millis(50), 15).await;
    let (_, messages, audio_bytes) = page.turn_until_done(WAIT).await;
    let ServerMessage::TranscriptFinal { text, .. } = &messages[0] else {
        unreachable!()
    };
    assert!(text.to_lowercase().contains("shirt"), "heard {text:?}");
    assert!(
        page.messages()
            .any(|m| matches!(m, ServerMessage::SpeechStarted)),
        "{:?}",
        page.kinds()
    );
    let cards = cards_of(&messages);
    assert!(!cards.is_empty(), "no cards: {messages:#?}");
    for card in &cards {
        assert_eq!(card.category, "shirt", "{card:?}");
        assert!(!card.sizes_in_stock.is_empty(), "{card:?}");
    }
    assert!(!reply_of(&messages).is_empty());
    assert!(audio_bytes > 0, "the reply was spoken");
    let Some(ServerMessage::TurnDone {
        timing, cancelled, ..
    }) = messages.last()
    else {
        unreachable!()
    };
    assert!(!cancelled);
    assert!(timing.transcript_ms.is_some() && timing.first_text_ms.is_some());
    assert!(timing.first_audio_ms.is_some());

    // --- The mirror: she asks to try the first card on. ----------------------------
    say(&mut page, "Can I try the first one on?").await;
    page.expect(WAIT, |m| matches!(m, ServerMessage::TryonPending { .. }))
        .await;
    let picture = page
        .expect(WAIT, |m| {
            matches!(
                m,
                ServerMessage::TryonImage { .. } | ServerMessage::Error { .. }
            )
        })
        .await;
    let ServerMessage::TryonImage { sku, png_base64 } = picture else {
        panic!("no try-on: {picture:?}\n{}", stack.log_tail(Service::Kiosk));
    };
    assert_eq!(sku, cards[0].sku);
    let png = STANDARD.decode(png_base64).unwrap();
    assert!(png.starts_with(b"\x89PNG"));
    // The picture may come before or after the spoken reply ends.
    let try_on_turn = page
        .messages()
        .find_map(|m| match m {
            ServerMessage::TranscriptFinal { text, turn_id } if text.contains("try") => {
                Some(*turn_id)
            }
            _ => None,
        })
        .unwrap();
    if !page
        .messages()
        .any(|m| matches!(m, ServerMessage::TurnDone { turn_id, .. } if *turn_id == try_on_turn))
    {
        page.expect(WAIT, |m| matches!(m, ServerMessage::TurnDone { .. }))
            .await;
    }

    // --- Yes: a fetch request goes to the staff queue, and staff work it. ---------
    say(
        &mut page,
        "Yes please, bring it to a fitting room in size M.",
    )
    .await;
    let queued = page
        .expect(WAIT, |m| matches!(m, ServerMessage::FetchStatus { .. }))
        .await;
    let ServerMessage::FetchStatus { request } = queued else {
        unreachable!()
    };
    assert_eq!(request.sku, cards[0].sku);
    assert_eq!(request.state, FetchState::Queued);
    assert_eq!(request.customer_first_name.as_deref(), Some("Lucy"));
    let product: Product = http
        .get(format!("{catalog}/v1/products/{}", request.sku))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    if let Some(size) = &request.size {
        assert!(product.in_stock(size), "{size} of {}", product.sku);
    }
    let claimed = http
        .post(format!(
            "{kiosk}/api/staff/fetches/{}/claim",
            request.fetch_id
        ))
        .bearer_auth(STAFF_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(claimed.status(), 200);
    page.expect(WAIT, |m| {
        matches!(m, ServerMessage::FetchStatus { request } if request.state == FetchState::Claimed)
    })
    .await;

    // --- Barge-in: she talks over the reply; it stops and the turn is cancelled. ---
    say(&mut page, "Show me sweaters in pink.").await;
    page.expect(WAIT, |m| matches!(m, ServerMessage::AudioChunk { .. }))
        .await;
    page.send(ClientMessage::BargeIn).await;
    page.expect(WAIT, |m| {
        matches!(
            m,
            ServerMessage::TurnDone {
                cancelled: true,
                ..
            }
        )
    })
    .await;

    // --- A dropped connection resumes with her name and the cards. ----------------
    drop(page);
    let (mut page, resumed) =
        KioskClient::start(&stack.kiosk_ws(), DEVICE_TOKEN, Some(&session)).await;
    assert_eq!(resumed, session);
    page.expect(WAIT, |m| {
        matches!(m, ServerMessage::CustomerRecognised { display_name, .. } if display_name == "Lucy")
    })
    .await;
    page.expect(WAIT, |m| matches!(m, ServerMessage::ProductCards { .. }))
        .await;

    // --- Faults: the dialogue dies mid-conversation, the kiosk says so and recovers.
    stack.kill(Service::Dialogue);
    expect_status(&mut page, Service::Dialogue, false).await;
    say(&mut page, "Do you have jeans?").await;
    expect_error(&mut page, "dialogue_unavailable").await;
    stack.restart(Service::Dialogue).await;
    expect_status(&mut page, Service::Dialogue, true).await;
    say(&mut page, "Do you have jeans?").await;
    let (_, messages, _) = page.turn_until_done(WAIT).await;
    assert!(
        !cards_of(&messages).is_empty(),
        "after recovery: {messages:#?}"
    );

    // Voice dies: replies still come, as text only; then it comes back with audio.
    stack.kill(Service::Voice);
    expect_status(&mut page, Service::Voice, false).await;
    say(&mut page, "Any shirts in blue?").await;
    let (_, messages, audio_bytes) = page.turn_until_done(WAIT).await;
    assert!(!reply_of(&messages).is_empty());
    assert_eq!(audio_bytes, 0, "no voice, no audio");
    stack.restart(Service::Voice).await;
    expect_status(&mut page, Service::Voice, true).await;
    say(&mut page, "Any shirts in white?").await;
    let (_, _, audio_bytes) = page.turn_until_done(WAIT).await;
    assert!(audio_bytes > 0, "voice is back");

    // The mirror dies: try-on says so, the rest goes on.
    stack.kill(Service::Tryon);
    expect_status(&mut page, Service::Tryon, false).await;
    page.send(ClientMessage::TryOn {
        sku: cards[0].sku.clone(),
    })
    .await;
    expect_error(&mut page, "tryon_unavailable").await;

    // --- Forget me: her record is erased in the catalog. --------------------------
    page.send(ClientMessage::ForgetMe).await;
    page.expect(WAIT, |m| matches!(m, ServerMessage::Forgotten))
        .await;
    let gone = http
        .get(format!("{catalog}/v1/customers/{customer_id}"))
        .bearer_auth(SERVICE_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    let queue: serde_json::Value = http
        .get(format!("{kiosk}/api/staff/fetches"))
        .bearer_auth(STAFF_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        queue["requests"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r.get("customer_first_name").is_none()),
        "her name left the staff queue too: {queue}"
    );
}
