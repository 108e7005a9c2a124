//! Replies prepared while the customer pauses, on every real service: voice sends the
//! tentative transcript when she pauses, the kiosk prepares the turn but shows nothing
//! of it until the final transcript says the same words, and drops it (putting the
//! dialogue session back) when she goes on speaking.
//!
//! The end of a turn is set to 5 s of silence here (the most voice allows) and the
//! pause is 3.5 s: whisper in a debug build takes over a second per decode, and the
//! pause's decode must be ready before she goes on for there to be anything to drop.
//!
//! Needs the service binaries: `cargo build --workspace --bins --tests` (the README's test
//! command builds them).

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use protocol::Service;
use protocol::kiosk::ServerMessage;
use test_support::kiosk_client::{KioskClient, cards_of, reply_of};
use test_support::speech::speech_16k;
use test_support::stack::{DEVICE_TOKEN, Stack};

/// Generous: debug builds of the services on two loaded cores.
const WAIT: Duration = Duration::from_secs(60);
/// Real-time microphone frames.
const REAL_TIME: Duration = Duration::from_millis(100);
/// Silent 100 ms frames that end a turn (end of turn: 5 s).
const END_OF_TURN_FRAMES: usize = 55;
/// Silent 100 ms frames of a pause within her turn.
const PAUSE_FRAMES: usize = 35;

/// The kiosk's count of speculative turns with `outcome`.
async fn speculations(stack: &Stack, outcome: &str) -> u64 {
    let series = format!("kiosk_speculative_turns_total{{outcome=\"{outcome}\"}}");
    stack.metric(Service::Kiosk, &series).await as u64
}

/// What of a reply (text, cards, audio) came before `index` in the log.
fn reply_before(page: &KioskClient, index: usize) -> Vec<String> {
    page.kinds()
        .into_iter()
        .take(index)
        .filter(|k| {
            k.starts_with("assistant_delta")
                || k.starts_with("product_cards")
                || k.starts_with("audio")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_prepared_in_a_pause_is_shown_only_for_the_words_she_settled_on() {
    let stack = Stack::start(&[("SHOP_VOICE__END_OF_TURN_SILENCE_MS", "5000")]).await;
    let voice = stack.url(Service::Voice);
    let (mut page, _) = KioskClient::start(&stack.kiosk_ws(), DEVICE_TOKEN, None).await;

    // --- She pauses after "a shirt", then goes on: the prepared reply is dropped. --
    let first = speech_16k(&voice, "I would like a shirt.").await;
    let rest = speech_16k(&voice, "To go with my pink sweater.").await;
    page.speak(&first, REAL_TIME, PAUSE_FRAMES).await;
    page.speak(&rest, REAL_TIME, END_OF_TURN_FRAMES).await;
    let (_, messages, _) = page.turn_until_done(WAIT).await;
    let ServerMessage::TranscriptFinal { text, .. } = &messages[0] else {
        unreachable!()
    };
    let heard = text.to_lowercase();
    assert!(
        heard.contains("shirt") && heard.contains("sweater"),
        "one turn for her whole request, heard {text:?}: {:?}",
        page.kinds()
    );
    assert!(
        speculations(&stack, "dropped").await >= 1,
        "the reply to \"a shirt\" was prepared in the pause and dropped; kiosk log:\n{}",
        stack.log_tail(Service::Kiosk)
    );
    let finals = page
        .messages()
        .filter(|m| matches!(m, ServerMessage::TranscriptFinal { .. }))
        .count();
    assert_eq!(finals, 1, "{:?}", page.kinds());
    let final_at = page
        .kinds()
        .iter()
        .position(|k| k.starts_with("transcript_final"))
        .unwrap();
    assert_eq!(
        reply_before(&page, final_at),
        Vec::<String>::new(),
        "nothing of the dropped reply reached the page"
    );
    // The answer is to the whole request: shirts to go with the sweater.
    let cards = cards_of(&messages);
    assert!(!cards.is_empty(), "{messages:#?}");
    assert!(cards.iter().all(|c| c.category == "shirt"), "{cards:?}");
    let reply = reply_of(&messages);
    assert!(reply.contains("sweater"), "answered {reply:?}");

    // --- She says it and stops: the prepared reply is released as it is. ----------
    let before = page.log.len();
    let released = speculations(&stack, "released").await;
    // Words whisper tiny.en hears reliably from piper ("jeans" comes out as "genes").
    let request = speech_16k(&voice, "Show me some dresses.").await;
    page.speak(&request, REAL_TIME, END_OF_TURN_FRAMES).await;
    let (_, messages, audio_bytes) = page.turn_until_done(WAIT).await;
    assert_eq!(
        speculations(&stack, "released").await,
        released + 1,
        "the reply prepared in the silence was the one shown; kiosk log:\n{}",
        stack.log_tail(Service::Kiosk)
    );
    let final_at = page.kinds()[before..]
        .iter()
        .position(|k| k.starts_with("transcript_final"))
        .unwrap();
    assert!(
        page.kinds()[before..before + final_at]
            .iter()
            .all(|k| !k.starts_with("assistant_delta") && !k.starts_with("audio")),
        "the transcript comes first: {:?}",
        page.kinds()
    );
    // The cards answer the released request, not the turn before (shirts).
    let cards = cards_of(&messages);
    assert!(!cards.is_empty(), "{messages:#?}");
    assert!(cards.iter().all(|c| c.category == "dress"), "{cards:?}");
    assert!(
        audio_bytes > 0,
        "the released reply is spoken: {:?}\nkiosk log:\n{}",
        page.kinds(),
        stack.log_tail(Service::Kiosk)
    );
    let Some(ServerMessage::TurnDone {
        cancelled, timing, ..
    }) = messages.last()
    else {
        unreachable!()
    };
    assert!(!cancelled);
    assert!(timing.first_audio_ms.is_some(), "{timing:?}");
    page.close().await;
}
