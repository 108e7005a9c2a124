//! A kiosk page without the browser: a WebSocket client speaking the session protocol
//! (docs/protocol.md), for the kiosk's protocol and fault tests and its benchmark.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use protocol::kiosk::{ClientEnvelope, ClientMessage, ServerEnvelope, ServerMessage};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// What the server sent, as the page sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// A JSON message.
    Message(ServerMessage),
    /// A binary frame (speech audio after an `audio_chunk`).
    Audio(Vec<u8>),
    /// A text frame that is not a protocol message (a server bug).
    Garbage(String),
    /// The server closed the socket, with its code.
    Closed(Option<u16>),
}

/// One connection to the kiosk.
pub struct KioskClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Everything received so far, in order, for assertions after the fact.
    pub log: Vec<(Instant, Received)>,
}

impl KioskClient {
    /// Connects to `ws_url` (`ws://host:port/ws`); panics if the upgrade is refused.
    pub async fn connect(ws_url: &str) -> KioskClient {
        let (socket, _) = tokio_tungstenite::connect_async(ws_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {ws_url}: {e}"));
        KioskClient {
            socket,
            log: Vec::new(),
        }
    }

    /// Connects and says hello; returns the client and the session id.
    pub async fn start(ws_url: &str, token: &str, resume: Option<&str>) -> (KioskClient, String) {
        let mut client = KioskClient::connect(ws_url).await;
        client
            .send(ClientMessage::Hello {
                kiosk_token: token.into(),
                session_id: resume.map(str::to_owned),
                locale: "en-GB".into(),
            })
            .await;
        let started = client
            .expect(Duration::from_secs(10), |m| {
                matches!(m, ServerMessage::SessionStarted { .. })
            })
            .await;
        let ServerMessage::SessionStarted { session_id, .. } = started else {
            unreachable!()
        };
        (client, session_id)
    }

    /// Sends a message in the current protocol version.
    pub async fn send(&mut self, message: ClientMessage) {
        let json = serde_json::to_string(&ClientEnvelope::new(message)).expect("serialise");
        self.send_raw(Message::Text(json.into())).await;
    }

    /// Sends any frame (for bad-input tests).
    pub async fn send_raw(&mut self, frame: Message) {
        self.socket.send(frame).await.expect("send to the kiosk");
    }

    /// Sends microphone audio (16 kHz mono PCM16 LE).
    pub async fn send_audio(&mut self, pcm: &[i16]) {
        let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
        self.send_raw(Message::Binary(bytes.into())).await;
    }

    /// The next thing received, or `None` after `within`.
    pub async fn next(&mut self, within: Duration) -> Option<Received> {
        let frame = tokio::time::timeout(within, self.socket.next())
            .await
            .ok()?;
        let received = match frame {
            Some(Ok(Message::Text(text))) => match serde_json::from_str::<ServerEnvelope>(&text) {
                Ok(envelope) if envelope.is_current() => Received::Message(envelope.msg),
                _ => Received::Garbage(text.to_string()),
            },
            Some(Ok(Message::Binary(bytes))) => Received::Audio(bytes.to_vec()),
            Some(Ok(Message::Close(frame))) => {
                Received::Closed(frame.map(|f: CloseFrame| u16::from(f.code)))
            }
            Some(Ok(_)) => return Box::pin(self.next(within)).await,
            Some(Err(_)) | None => Received::Closed(None),
        };
        self.log.push((Instant::now(), received.clone()));
        Some(received)
    }

    /// Waits for a message matching `wanted`, keeping everything before it in `log`;
    /// panics with what came instead after `within`.
    pub async fn expect(
        &mut self,
        within: Duration,
        wanted: impl Fn(&ServerMessage) -> bool,
    ) -> ServerMessage {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Some(Received::Message(message)) if wanted(&message) => return message,
                Some(Received::Closed(code)) => {
                    panic!(
                        "closed ({code:?}) while waiting; received: {:#?}",
                        self.kinds()
                    )
                }
                Some(_) => {}
                None => panic!(
                    "nothing matching within {within:?}; received: {:#?}",
                    self.kinds()
                ),
            }
        }
    }

    /// Waits for the close, returning its code; panics if the socket stays open.
    pub async fn expect_close(&mut self, within: Duration) -> Option<u16> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Some(Received::Closed(code)) => return code,
                Some(_) => {}
                None => panic!(
                    "not closed within {within:?}; received: {:#?}",
                    self.kinds()
                ),
            }
        }
    }

    /// The kinds of everything received so far (for failure messages).
    pub fn kinds(&self) -> Vec<String> {
        self.log
            .iter()
            .map(|(_, r)| match r {
                Received::Message(ServerMessage::Error { code, .. }) => format!("error:{code}"),
                Received::Message(ServerMessage::AssistantDelta { text, .. }) => {
                    format!("assistant_delta:{text:?}")
                }
                Received::Message(ServerMessage::TranscriptFinal { text, .. }) => {
                    format!("transcript_final:{text:?}")
                }
                Received::Message(m) => m.kind().to_owned(),
                Received::Audio(bytes) => format!("audio[{}]", bytes.len()),
                Received::Garbage(text) => format!("garbage:{text}"),
                Received::Closed(code) => format!("closed:{code:?}"),
            })
            .collect()
    }

    /// Every JSON message received so far.
    pub fn messages(&self) -> impl Iterator<Item = &ServerMessage> {
        self.log.iter().filter_map(|(_, r)| match r {
            Received::Message(m) => Some(m),
            _ => None,
        })
    }

    /// Closes the socket cleanly.
    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}
