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

use crate::catalog::Product;
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
        /// BCP 47 language tag of the page, e.g. `en-GB`; chooses voices and replies.
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
    /// The customer agreed to be recognised next time (face enrolment).
    ConsentAccept,
    /// The customer declined; nothing about her is kept.
    ConsentDecline,
    /// Erase everything stored about the recognised customer.
    ForgetMe,
    /// The customer started talking over the assistant: stop speaking now.
    BargeIn,
}

/// A JSON frame from the server to the page, wrapped as [`ServerEnvelope`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// Sent after `hello`: the session the page should resume with after a reconnect.
    SessionStarted {
        /// Id to pass back in `hello`.
        session_id: String,
    },
    /// An opted-in customer was recognised; the page greets her.
    CustomerRecognised {
        /// Opaque id, for `forget_me` confirmation and staff views.
        customer_id: String,
        /// The name she asked to be greeted by.
        display_name: String,
    },
    /// Provisional text of what the customer is saying, for live captions.
    TranscriptPartial {
        /// Best guess so far; replaces the previous partial.
        text: String,
    },
    /// Settled text of what the customer said.
    TranscriptFinal {
        /// The final text of the utterance.
        text: String,
    },
    /// A piece of the assistant's reply as it is generated.
    AssistantDelta {
        /// Text to append.
        text: String,
        /// True when this delta ends a sentence, so captions can break the line.
        sentence_end: bool,
    },
    /// Announces the binary frame that follows: spoken audio of the reply.
    AudioChunk {
        /// Increasing per session, so the page can drop chunks after a barge-in.
        seq: u64,
        /// Sample rate of the PCM in the next binary frame (mono, s16le).
        sample_rate: u32,
        /// Length in bytes of the next binary frame.
        bytes: u32,
    },
    /// Products to show as cards, best first.
    ProductCards {
        /// The products, with live stock.
        products: Vec<Product>,
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
        /// Id of the fetch request.
        fetch_id: String,
        /// Where it stands.
        state: FetchState,
        /// Fitting room to go to, once one is assigned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fitting_room: Option<String>,
    },
    /// Something failed; `code` is stable (see `protocol::error`).
    Error {
        /// Stable, snake_case code the page can branch on.
        code: String,
        /// Human-readable text, safe to show.
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

/// Where a fetch request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FetchState {
    /// Waiting for staff or robot.
    Queued,
    /// Someone is fetching the items.
    InProgress,
    /// Items are in the fitting room.
    Ready,
    /// Could not be fulfilled (e.g. sold out meanwhile).
    Cancelled,
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
            text: "Hello Lucy.".into(),
            sentence_end: true,
        });
        assert_eq!(
            serde_json::to_value(&env).unwrap(),
            serde_json::json!({"v": 1, "type": "assistant_delta", "text": "Hello Lucy.", "sentence_end": true})
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
    }

    #[test]
    fn every_server_message_round_trips() {
        let product = Product {
            sku: "SH-1".into(),
            title: "Shirt".into(),
            description: String::new(),
            brand: "Acme".into(),
            category: "shirt".into(),
            colours: vec!["blue".into()],
            pattern: None,
            material: None,
            fit: None,
            price_cents: 100,
            currency: "EUR".into(),
            sizes: vec![],
            image_url: "/i.jpg".into(),
            store: None,
        };
        let messages = vec![
            ServerMessage::SessionStarted {
                session_id: "s".into(),
            },
            ServerMessage::CustomerRecognised {
                customer_id: "c".into(),
                display_name: "Lucy".into(),
            },
            ServerMessage::TranscriptPartial { text: "a".into() },
            ServerMessage::TranscriptFinal {
                text: "a shirt".into(),
            },
            ServerMessage::AudioChunk {
                seq: 3,
                sample_rate: 22_050,
                bytes: 4410,
            },
            ServerMessage::ProductCards {
                products: vec![product],
            },
            ServerMessage::TryonImage {
                sku: "SH-1".into(),
                png_base64: "iVBOR".into(),
            },
            ServerMessage::FetchStatus {
                fetch_id: "f".into(),
                state: FetchState::InProgress,
                fitting_room: Some("2".into()),
            },
            ServerMessage::Error {
                code: "overloaded".into(),
                message: "busy".into(),
            },
        ];
        for msg in messages {
            let text = serde_json::to_string(&ServerEnvelope::new(msg.clone())).unwrap();
            let back: ServerEnvelope = serde_json::from_str(&text).unwrap();
            assert_eq!(back.msg, msg, "{text}");
        }
        let consent = ClientEnvelope::new(ClientMessage::ConsentAccept);
        assert_eq!(
            serde_json::to_string(&consent).unwrap(),
            r#"{"v":1,"type":"consent_accept"}"#
        );
    }
}
