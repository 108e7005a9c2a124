//! The kiosk WebSocket protocol between the kiosk page (browser) and the `kiosk`
//! service (`GET /ws`).
//!
//! Text frames are JSON [`Envelope`]s: `{"v": 1, "type": "...", ...}` with snake_case
//! type names. Binary frames carry audio, which is not JSON:
//! - client → server: microphone audio, 16 kHz mono signed 16-bit little-endian PCM
//!   ([`MIC_SAMPLE_RATE`]), any frame length;
//! - server → client: speech audio, announced by a [`ServerMessage::AudioChunk`] text
//!   frame that tells the format and length of the binary frame that follows it.

use serde::{Deserialize, Serialize};

use crate::dialogue::ProductCard;
use crate::{PROTOCOL_VERSION, Service};

/// Sample rate of the microphone audio the page sends in binary frames; what the
/// speech-to-text models expect, so the page resamples and the server does not.
pub const MIC_SAMPLE_RATE: u32 = 16_000;

/// Every JSON frame in both directions: the message plus the protocol version, so a
/// page left open across an upgrade is detected and told to reload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// The sender's [`PROTOCOL_VERSION`].
    pub v: u32,
    /// The message; its `type` and fields sit next to `v` in the JSON.
    #[serde(flatten)]
    pub msg: T,
}

impl<T> Envelope<T> {
    /// Wraps a message with the current [`PROTOCOL_VERSION`].
    pub fn new(msg: T) -> Self {
        Self {
            v: PROTOCOL_VERSION,
            msg,
        }
    }

    /// Whether the sender speaks the same protocol version as this build.
    pub fn is_current(&self) -> bool {
        self.v == PROTOCOL_VERSION
    }
}

/// A JSON frame from the page to the server, wrapped as [`ClientEnvelope`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// First message of every connection: authenticates the kiosk and resumes a
    /// session after a reconnect so no conversation is lost.
    Hello {
        /// Secret that identifies this kiosk device to the server.
        kiosk_token: String,
        /// Session to resume; absent to start a new one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
        /// BCP 47 language tag of the page, e.g. `en-GB` or `zh-CN`; chooses the UI
        /// strings and the server's own messages. Empty for the store's default.
        #[serde(default)]
        locale: String,
    },
    /// One camera frame for recognition and garment detection; never stored.
    Frame {
        /// The frame as JPEG, standard base64.
        jpeg_base64: String,
    },
    /// Typed text, the fallback when voice is unavailable.
    Text {
        /// What the customer typed.
        text: String,
    },
    /// The customer touched "try on" on a product card.
    TryOn {
        /// The product to show her wearing.
        sku: String,
    },
    /// The customer touched "bring it to a fitting room" on a product card.
    Fetch {
        /// The product to bring.
        sku: String,
        /// The size to bring; absent to use her usual size or ask.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<String>,
    },
    /// The customer agreed, on the consent screen, to be recognised next time (face
    /// enrolment from the camera frames of this session).
    ConsentAccept {
        /// The name she wants to be greeted by.
        name: String,
    },
    /// The customer declined; nothing about her is kept.
    ConsentDecline,
    /// Erase everything stored about the recognised customer.
    ForgetMe,
    /// The customer started talking over the assistant (the page heard her): stop
    /// speaking now.
    BargeIn,
    /// The customer is done: end the conversation and forget this session's frames.
    EndSession,
}

impl ClientMessage {
    /// The `type` name of the message, for errors and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ClientMessage::Hello { .. } => "hello",
            ClientMessage::Frame { .. } => "frame",
            ClientMessage::Text { .. } => "text",
            ClientMessage::TryOn { .. } => "try_on",
            ClientMessage::Fetch { .. } => "fetch",
            ClientMessage::ConsentAccept { .. } => "consent_accept",
            ClientMessage::ConsentDecline => "consent_decline",
            ClientMessage::ForgetMe => "forget_me",
            ClientMessage::BargeIn => "barge_in",
            ClientMessage::EndSession => "end_session",
        }
    }
}

/// A JSON frame from the server to the page, wrapped as [`ServerEnvelope`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Sent after `hello`: the session the page should resume with after a reconnect.
    SessionStarted {
        /// Id to pass back in `hello`.
        session_id: String,
        /// True when an existing session was resumed (its state follows).
        #[serde(default)]
        resumed: bool,
        /// The locale the session speaks (the page's, when supported, else the
        /// store's default).
        locale: String,
    },
    /// An opted-in customer was recognised; the page shows her name.
    CustomerRecognised {
        /// Opaque id, for `forget_me` confirmation and staff views.
        customer_id: String,
        /// The name she asked to be greeted by.
        display_name: String,
    },
    /// The customer's voice activity began (the page shows "listening").
    SpeechStarted,
    /// Provisional text of what the customer is saying, for live captions.
    TranscriptPartial {
        /// Best guess so far; replaces the previous partial.
        text: String,
    },
    /// Settled text of what the customer said (or typed); a turn starts.
    TranscriptFinal {
        /// The final text of the utterance.
        text: String,
        /// Id of the turn this text starts; later messages of the reply carry it.
        turn_id: u64,
    },
    /// A piece of the assistant's reply as it is generated.
    AssistantDelta {
        /// The turn this belongs to (0 for the greeting).
        turn_id: u64,
        /// Text to append.
        text: String,
        /// True when this delta ends a sentence, so captions can break the line.
        sentence_end: bool,
    },
    /// Announces the binary frame that follows: spoken audio of the reply.
    AudioChunk {
        /// The turn this belongs to; the page drops audio of a turn it stopped.
        turn_id: u64,
        /// Increasing per session.
        seq: u64,
        /// Sample rate of the PCM in the next binary frame (mono, s16le).
        sample_rate: u32,
        /// Length in bytes of the next binary frame.
        bytes: u32,
    },
    /// Stop playing the assistant's audio now (barge-in detected by the server, or a
    /// turn cancelled); audio of `turn_id` that is still queued is dropped.
    StopAudio {
        /// The turn whose audio must stop.
        turn_id: u64,
    },
    /// The reply of a turn is complete, with where its time went.
    TurnDone {
        /// The turn.
        turn_id: u64,
        /// The turn's trace id, also in every service's logs for this turn.
        trace_id: String,
        /// Per-stage latency, milliseconds.
        timing: TurnTiming,
        /// True when the turn was cut short (barge-in, new turn, end of session).
        cancelled: bool,
    },
    /// Products to show as cards, best first.
    ProductCards {
        /// The turn that found them.
        turn_id: u64,
        /// The cards, with live stock in sizes.
        cards: Vec<ProductCard>,
    },
    /// The try-on is being prepared (the mirror shows a spinner).
    TryonPending {
        /// The product being tried on.
        sku: String,
    },
    /// The customer wearing a product, for the smart mirror.
    TryonImage {
        /// The product worn.
        sku: String,
        /// The picture, PNG as standard base64.
        png_base64: String,
    },
    /// Progress of a fetch request to staff or robot.
    FetchStatus {
        /// The request and where it stands.
        request: FetchRequest,
    },
    /// Ask the customer, on screen, whether she wants to be recognised next time.
    ConsentRequest {
        /// What her face data would be used for, to show verbatim.
        purpose: String,
    },
    /// The customer is enrolled: she will be recognised next time.
    Enrolled {
        /// The name she will be greeted by.
        display_name: String,
    },
    /// Everything about the customer was erased; the session continues anonymously.
    Forgotten,
    /// Something failed; `code` is stable (see docs/protocol.md).
    Error {
        /// Stable, snake_case code the page can branch on.
        code: String,
        /// Human-readable text in the session's locale, safe to show.
        message: String,
    },
    /// A back-end service went down or came back, so the page can degrade (text
    /// instead of voice, no try-on) and recover.
    ServiceStatus {
        /// Which service.
        service: Service,
        /// Whether it can be used now.
        available: bool,
    },
}

impl ServerMessage {
    /// The `type` name of the message, for metrics and tests.
    pub fn kind(&self) -> &'static str {
        match self {
            ServerMessage::SessionStarted { .. } => "session_started",
            ServerMessage::CustomerRecognised { .. } => "customer_recognised",
            ServerMessage::SpeechStarted => "speech_started",
            ServerMessage::TranscriptPartial { .. } => "transcript_partial",
            ServerMessage::TranscriptFinal { .. } => "transcript_final",
            ServerMessage::AssistantDelta { .. } => "assistant_delta",
            ServerMessage::AudioChunk { .. } => "audio_chunk",
            ServerMessage::StopAudio { .. } => "stop_audio",
            ServerMessage::TurnDone { .. } => "turn_done",
            ServerMessage::ProductCards { .. } => "product_cards",
            ServerMessage::TryonPending { .. } => "tryon_pending",
            ServerMessage::TryonImage { .. } => "tryon_image",
            ServerMessage::FetchStatus { .. } => "fetch_status",
            ServerMessage::ConsentRequest { .. } => "consent_request",
            ServerMessage::Enrolled { .. } => "enrolled",
            ServerMessage::Forgotten => "forgotten",
            ServerMessage::Error { .. } => "error",
            ServerMessage::ServiceStatus { .. } => "service_status",
        }
    }
}

/// Where a turn's time went, in milliseconds from the end of the customer's speech
/// (or from the moment typed text arrived). Absent stages did not happen (a typed
/// turn has no transcript; a turn without voice has no audio).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnTiming {
    /// End of speech to the final transcript.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript_ms: Option<u64>,
    /// End of speech to the first text of the reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_text_ms: Option<u64>,
    /// End of speech to the first audio of the reply leaving the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_audio_ms: Option<u64>,
    /// End of speech to the end of the reply.
    pub total_ms: u64,
}

/// One request to bring items to a fitting room, as the staff queue and the
/// customer's screen see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRequest {
    /// Id of the request.
    pub fetch_id: String,
    /// The product to bring.
    pub sku: String,
    /// Its title, for staff who do not know SKUs by heart.
    pub title: String,
    /// The size to bring; absent when the product has one size or none was known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// The fitting room assigned.
    pub fitting_room: String,
    /// The customer's first name, only when she is enrolled (she consented).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_first_name: Option<String>,
    /// The kiosk the request came from.
    pub kiosk_id: String,
    /// Where it stands.
    pub state: FetchState,
    /// When it was made, seconds since the Unix epoch.
    pub created_unix: u64,
}

/// Where a fetch request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FetchState {
    /// Waiting for staff or robot.
    Queued,
    /// Someone claimed it and is fetching the items.
    Claimed,
    /// Items are in the fitting room.
    Done,
    /// Could not be fulfilled (sold out meanwhile, or withdrawn).
    Cancelled,
}

/// Pushed to the staff page over `GET /staff/ws`: the whole open queue after every
/// change, so a page that missed an update is never out of date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StaffMessage {
    /// The open fetch requests, oldest first.
    Queue {
        /// Requests still queued or claimed, and the most recently finished ones.
        requests: Vec<FetchRequest>,
    },
}

/// A JSON frame from the page.
pub type ClientEnvelope = Envelope<ClientMessage>;
/// A JSON frame from the server.
pub type ServerEnvelope = Envelope<ServerMessage>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_message_has_v_and_snake_case_type() {
        let env = ServerEnvelope::new(ServerMessage::AssistantDelta {
            turn_id: 2,
            text: "Hello Lucy.".into(),
            sentence_end: true,
        });
        assert_eq!(
            serde_json::to_value(&env).unwrap(),
            serde_json::json!({"v": 1, "type": "assistant_delta", "turn_id": 2, "text": "Hello Lucy.", "sentence_end": true})
        );
        let status = ServerEnvelope::new(ServerMessage::ServiceStatus {
            service: Service::Voice,
            available: false,
        });
        assert_eq!(
            serde_json::to_string(&status).unwrap(),
            r#"{"v":1,"type":"service_status","service":"voice","available":false}"#
        );
    }

    #[test]
    fn client_hello_parses_from_page_json() {
        let env: ClientEnvelope =
            serde_json::from_str(r#"{"v":1,"type":"hello","kiosk_token":"k1","locale":"en-GB"}"#)
                .unwrap();
        assert!(env.is_current());
        assert_eq!(
            env.msg,
            ClientMessage::Hello {
                kiosk_token: "k1".into(),
                session_id: None,
                locale: "en-GB".into()
            }
        );
        let forget: ClientEnvelope = serde_json::from_str(r#"{"v":1,"type":"forget_me"}"#).unwrap();
        assert_eq!(forget.msg, ClientMessage::ForgetMe);
        let stale: ClientEnvelope = serde_json::from_str(r#"{"v":0,"type":"barge_in"}"#).unwrap();
        assert!(!stale.is_current());
        assert!(serde_json::from_str::<ClientEnvelope>(r#"{"v":1,"type":"dance"}"#).is_err());
        assert!(serde_json::from_str::<ClientEnvelope>(r#"{"type":"barge_in"}"#).is_err());
        let consent: ClientEnvelope =
            serde_json::from_str(r#"{"v":1,"type":"consent_accept","name":"Lucy"}"#).unwrap();
        assert_eq!(consent.msg.kind(), "consent_accept");
    }

    #[test]
    fn every_server_message_round_trips() {
        let card = ProductCard {
            position: 1,
            sku: "SH-1".into(),
            title: "Shirt".into(),
            category: "shirt".into(),
            colours: vec!["blue".into()],
            price_cents: 100,
            currency: "EUR".into(),
            sizes_in_stock: vec!["M".into()],
            image_url: "/i.png".into(),
            why: Some("goes with pink".into()),
        };
        let request = FetchRequest {
            fetch_id: "f".into(),
            sku: "SH-1".into(),
            title: "Shirt".into(),
            size: Some("M".into()),
            fitting_room: "2".into(),
            customer_first_name: None,
            kiosk_id: "k".into(),
            state: FetchState::Claimed,
            created_unix: 1,
        };
        let messages = vec![
            ServerMessage::SessionStarted {
                session_id: "s".into(),
                resumed: true,
                locale: "en".into(),
            },
            ServerMessage::CustomerRecognised {
                customer_id: "c".into(),
                display_name: "Lucy".into(),
            },
            ServerMessage::SpeechStarted,
            ServerMessage::TranscriptPartial { text: "a".into() },
            ServerMessage::TranscriptFinal {
                text: "a shirt".into(),
                turn_id: 1,
            },
            ServerMessage::AudioChunk {
                turn_id: 1,
                seq: 3,
                sample_rate: 22_050,
                bytes: 4410,
            },
            ServerMessage::StopAudio { turn_id: 1 },
            ServerMessage::TurnDone {
                turn_id: 1,
                trace_id: "t".into(),
                timing: TurnTiming {
                    transcript_ms: Some(90),
                    first_text_ms: Some(300),
                    first_audio_ms: None,
                    total_ms: 900,
                },
                cancelled: false,
            },
            ServerMessage::ProductCards {
                turn_id: 1,
                cards: vec![card],
            },
            ServerMessage::TryonPending { sku: "SH-1".into() },
            ServerMessage::TryonImage {
                sku: "SH-1".into(),
                png_base64: "iVBOR".into(),
            },
            ServerMessage::FetchStatus { request },
            ServerMessage::ConsentRequest {
                purpose: "recognise you".into(),
            },
            ServerMessage::Enrolled {
                display_name: "Lucy".into(),
            },
            ServerMessage::Forgotten,
            ServerMessage::Error {
                code: "overloaded".into(),
                message: "busy".into(),
            },
        ];
        for msg in messages {
            let text = serde_json::to_string(&ServerEnvelope::new(msg.clone())).unwrap();
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(value["type"], msg.kind(), "{text}");
            let back: ServerEnvelope = serde_json::from_str(&text).unwrap();
            assert_eq!(back.msg, msg, "{text}");
        }
        let consent = ClientEnvelope::new(ClientMessage::ConsentDecline);
        assert_eq!(
            serde_json::to_string(&consent).unwrap(),
            r#"{"v":1,"type":"consent_decline"}"#
        );
    }
}
