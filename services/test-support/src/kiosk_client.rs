//! A kiosk page without the browser: a WebSocket client speaking the session protocol
//! (docs/protocol.md), for the kiosk's protocol and fault tests and its benchmark.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use protocol::dialogue::ProductCard;
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

    /// Sends speech as the page's microphone would, in 100 ms frames one every
    /// `interval` (100 ms is real time; less is faster), then `silence` more frames
    /// of silence so the end of the turn can be heard.
    pub async fn speak(&mut self, pcm: &[i16], interval: Duration, silence: usize) {
        const FRAME: usize = 1600;
        for chunk in pcm.chunks(FRAME) {
            self.send_audio(chunk).await;
            tokio::time::sleep(interval).await;
        }
        for _ in 0..silence {
            self.send_audio(&[0; FRAME]).await;
            tokio::time::sleep(interval).await;
        }
    }

    /// The next turn's messages, from its `transcript_final` to its `turn_done`, with
    /// its turn id and the bytes of speech audio received; panics with what came
    /// instead after `within`.
    pub async fn turn_until_done(&mut self, within: Duration) -> (u64, Vec<ServerMessage>, usize) {
        let started = self
            .expect(within, |m| {
                matches!(m, ServerMessage::TranscriptFinal { .. })
            })
            .await;
        let ServerMessage::TranscriptFinal { turn_id, .. } = started else {
            unreachable!("expect returned what it was asked for")
        };
        let mut messages = vec![started];
        let mut audio_bytes = 0;
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next(left).await {
                Some(Received::Message(message)) => {
                    let done = matches!(message, ServerMessage::TurnDone { turn_id: t, .. } if t == turn_id);
                    messages.push(message);
                    if done {
                        return (turn_id, messages, audio_bytes);
                    }
                }
                Some(Received::Audio(bytes)) => audio_bytes += bytes.len(),
                Some(other) => panic!("{other:?} during turn {turn_id}: {:?}", self.kinds()),
                None => panic!(
                    "turn {turn_id} not done within {within:?}: {:?}",
                    self.kinds()
                ),
            }
        }
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

/// The product cards among a turn's messages (none: empty).
pub fn cards_of(messages: &[ServerMessage]) -> Vec<ProductCard> {
    messages
        .iter()
        .find_map(|m| match m {
            ServerMessage::ProductCards { cards, .. } => Some(cards.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

/// The assistant's reply among a turn's messages, its deltas joined by spaces.
pub fn reply_of(messages: &[ServerMessage]) -> String {
    messages
        .iter()
        .filter_map(|m| match m {
            ServerMessage::AssistantDelta { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}
