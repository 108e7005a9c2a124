//! `GET /ws`: the kiosk page's WebSocket (docs/protocol.md).
//!
//! The handler checks the `hello`, attaches the socket to its session, then splits
//! into a sending task (the session's outbound queue → frames) and a receiving loop
//! (frames → checked messages → the session's inbox). Nothing here panics on what a
//! page sends: every bad frame gets an `error` message or a close code.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use protocol::PROTOCOL_VERSION;
use protocol::kiosk::{ClientEnvelope, ClientMessage, ServerEnvelope, ServerMessage};
use service_kit::ApiError;
use tokio::sync::mpsc;

use crate::AppState;
use crate::error::KioskError;
use crate::i18n::{Locale, Text};
use crate::session::{Input, OUTBOUND_BUFFER, Outbound, stopping};

/// Largest WebSocket message: a camera frame of a few hundred kilobytes in base64 fits.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;
/// Largest microphone frame (2 s of 16 kHz PCM16).
pub const MAX_AUDIO_FRAME_BYTES: usize = 64 * 1024;
/// How long a new socket may take to say `hello`.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Close codes (RFC 6455).
mod close {
    /// The other side broke the protocol's rules (no hello, wrong token).
    pub const POLICY: u16 = 1008;
    /// The protocol versions differ.
    pub const PROTOCOL: u16 = 1002;
    /// A frame over the size limit.
    pub const TOO_BIG: u16 = 1009;
    /// The server is stopping.
    pub const GOING_AWAY: u16 = 1001;
    /// The server is full; try again later.
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// The message types a page may send, so an unknown one gets its own error code.
const CLIENT_TYPES: [&str; 10] = [
    "hello",
    "frame",
    "text",
    "try_on",
    "fetch",
    "consent_accept",
    "consent_decline",
    "forget_me",
    "barge_in",
    "end_session",
];

/// `GET /ws`: refuses with 503 (and `Retry-After`) before the upgrade when no new
/// session could be held, so a full kiosk does not accept sockets it cannot serve.
pub async fn upgrade(
    State(state): State<AppState>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    if state.config().kiosk.device_token.is_none() {
        return Err(KioskError::SessionsDisabled.into());
    }
    if state.sessions().is_full() {
        return Err(KioskError::Overloaded(state.config().kiosk.max_sessions).into());
    }
    Ok(ws
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| serve(state, socket)))
}

/// What a text frame turned out to be.
enum Parsed {
    Message(ClientMessage),
    /// Answer with an error and carry on.
    Error(&'static str, Text),
    /// The page speaks another protocol version.
    WrongVersion,
}

/// Reads a text frame: JSON, a known version, a known type, the right fields.
fn parse(text: &str) -> Parsed {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return Parsed::Error("invalid_message", Text::InvalidMessage);
    };
    match value.get("v").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(PROTOCOL_VERSION) => {}
        Some(_) => return Parsed::WrongVersion,
        None => return Parsed::Error("invalid_message", Text::InvalidMessage),
    }
    match value.get("type").and_then(serde_json::Value::as_str) {
        Some(kind) if CLIENT_TYPES.contains(&kind) => {}
        Some(_) => return Parsed::Error("unknown_message_type", Text::UnknownType),
        None => return Parsed::Error("invalid_message", Text::InvalidMessage),
    }
    match serde_json::from_value::<ClientEnvelope>(value) {
        Ok(envelope) => Parsed::Message(envelope.msg),
        Err(_) => Parsed::Error("invalid_message", Text::InvalidMessage),
    }
}

fn envelope_text(message: ServerMessage) -> Message {
    let json = serde_json::to_string(&ServerEnvelope::new(message)).unwrap_or_default();
    Message::Text(json.into())
}

fn error_message(code: &str, locale: Locale, text: Text) -> ServerMessage {
    ServerMessage::Error {
        code: code.to_owned(),
        message: locale.say(text),
    }
}

fn close_frame(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Says why, closes, and lets the socket go.
async fn refuse(mut socket: WebSocket, error: Message, code: u16, reason: &'static str) {
    let _ = socket.send(error).await;
    let _ = socket.send(close_frame(code, reason)).await;
}

async fn serve(state: AppState, mut socket: WebSocket) {
    let default_locale = Locale::from_config(&state.config().kiosk.locale);
    let first = tokio::time::timeout(HELLO_TIMEOUT, socket.recv()).await;
    let hello = match first {
        Ok(Some(Ok(Message::Text(text)))) => parse(text.as_str()),
        Ok(Some(Ok(Message::Close(_)) | Err(_)) | None) => return,
        Ok(Some(Ok(_))) | Err(_) => Parsed::Error("hello_required", Text::InvalidMessage),
    };
    let (token, resume, locale) = match hello {
        Parsed::Message(ClientMessage::Hello {
            kiosk_token,
            session_id,
            locale,
        }) => (
            kiosk_token,
            session_id,
            Locale::negotiate(&locale, default_locale),
        ),
        Parsed::WrongVersion => {
            let error = envelope_text(ServerMessage::Error {
                code: "protocol_version".into(),
                message: format!(
                    "this kiosk speaks protocol version {PROTOCOL_VERSION}: reload the page"
                ),
            });
            return refuse(socket, error, close::PROTOCOL, "protocol version").await;
        }
        Parsed::Message(_) | Parsed::Error(..) => {
            let error = envelope_text(ServerMessage::Error {
                code: "hello_required".into(),
                message: "the first message must be hello with the kiosk token".into(),
            });
            return refuse(socket, error, close::POLICY, "hello required").await;
        }
    };
    let expected = state
        .config()
        .kiosk
        .device_token
        .as_deref()
        .unwrap_or_default();
    if expected.is_empty() || !service_kit::auth::same_secret(&token, expected) {
        let error = envelope_text(ServerMessage::Error {
            code: "invalid_kiosk_token".into(),
            message: "this device is not set up: open the kiosk URL with the store's device token"
                .into(),
        });
        return refuse(socket, error, close::POLICY, "invalid kiosk token").await;
    }

    let (outbound, queued) = mpsc::channel::<Outbound>(OUTBOUND_BUFFER);
    let attached = state
        .sessions()
        .attach(resume.as_deref(), locale, outbound.clone())
        .await;
    let (session, generation) = match attached {
        Ok(attached) => attached,
        Err(full) => {
            let error = envelope_text(ServerMessage::Error {
                code: "overloaded".into(),
                message: full.to_string(),
            });
            return refuse(socket, error, close::TRY_AGAIN_LATER, "kiosk full").await;
        }
    };
    tracing::info!(session = %session.id, resumed = resume.is_some(), "page connected");

    let mut closing = state.sessions().closing_signal();
    let (sink, mut stream) = socket.split();
    let mut sending = tokio::spawn(send_loop(sink, queued));
    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            // The sending side ended (closed by the session, or the page is gone).
            _ = &mut sending => break,
            () = stopping(&mut closing) => {
                let _ = outbound.try_send(Outbound::Close { code: close::GOING_AWAY, reason: "server stopping" });
                let _ = tokio::time::timeout(Duration::from_secs(1), &mut sending).await;
                break;
            }
        };
        let input = match frame {
            Some(Ok(Message::Text(text))) => match parse(text.as_str()) {
                Parsed::Message(ClientMessage::Hello { .. }) => {
                    reply(
                        &outbound,
                        error_message("already_started", locale, Text::AlreadyStarted),
                    );
                    continue;
                }
                Parsed::Message(message) => Input::Client(message),
                Parsed::Error(code, text) => {
                    reply(&outbound, error_message(code, locale, text));
                    continue;
                }
                Parsed::WrongVersion => {
                    let error = ServerMessage::Error {
                        code: "protocol_version".into(),
                        message: format!(
                            "this kiosk speaks protocol version {PROTOCOL_VERSION}: reload the page"
                        ),
                    };
                    reply(&outbound, error);
                    let _ = outbound.try_send(Outbound::Close {
                        code: close::PROTOCOL,
                        reason: "protocol version",
                    });
                    continue;
                }
            },
            Some(Ok(Message::Binary(pcm))) => {
                if pcm.is_empty() || pcm.len() % 2 != 0 || pcm.len() > MAX_AUDIO_FRAME_BYTES {
                    reply(
                        &outbound,
                        error_message("invalid_audio", locale, Text::InvalidAudio),
                    );
                    continue;
                }
                Input::Audio(pcm)
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Err(error)) => {
                // The socket cannot be read any more; say why if the page can hear it.
                // tungstenite's capacity error is the only one a page causes on
                // purpose: a frame over the limit (1009, message too big).
                let too_big = error.to_string().contains("too long");
                let (code, reason) = if too_big {
                    (close::TOO_BIG, "message too big")
                } else {
                    (close::PROTOCOL, "unreadable frame")
                };
                let _ = outbound.try_send(Outbound::Close { code, reason });
                let _ = tokio::time::timeout(Duration::from_secs(1), &mut sending).await;
                break;
            }
            Some(Ok(Message::Close(_))) | None => break,
        };
        if !session.send(input).await {
            break;
        }
    }
    sending.abort();
    session.send(Input::Detach { generation }).await;
    tracing::info!(session = %session.id, "page disconnected");
}

/// An error straight from the socket handler (the session is not involved).
fn reply(outbound: &mpsc::Sender<Outbound>, message: ServerMessage) {
    let _ = outbound.try_send(Outbound::Message(message));
}

async fn send_loop(
    mut sink: futures_util::stream::SplitSink<WebSocket, Message>,
    mut queued: mpsc::Receiver<Outbound>,
) {
    while let Some(outbound) = queued.recv().await {
        let sent = match outbound {
            Outbound::Message(message) => sink.send(envelope_text(message)).await,
            Outbound::Audio { header, pcm } => match sink.send(envelope_text(header)).await {
                Ok(()) => sink.send(Message::Binary(pcm)).await,
                Err(e) => Err(e),
            },
            Outbound::Close { code, reason } => {
                let _ = sink.send(close_frame(code, reason)).await;
                return;
            }
        };
        if sent.is_err() {
            return;
        }
    }
}
