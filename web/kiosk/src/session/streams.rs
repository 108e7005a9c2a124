//! The long-lived calls a session makes, each its own task feeding the session's
//! inbox: speech to text (one voice WebSocket while the microphone streams), a
//! dialogue turn (server-sent events), and speech synthesis of a reply (voice
//! WebSockets, sentence by sentence). Cancelling one is aborting its task: the socket
//! or stream is dropped, which the other service takes as "stop".

use std::time::Duration;

use axum::body::Bytes;
use eventsource_stream::Eventsource;
use futures_util::{SinkExt, StreamExt};
use protocol::dialogue::{SessionStart, SessionStarted, TurnEvent, TurnRequest};
use protocol::voice::{SpeechFormat, SpeechRequest, SpeechStreamEvent, SttEvent};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use super::Input;
use crate::upstream::{Upstream, UpstreamError};

/// Microphone audio buffered towards voice before frames are dropped (about 6 s of
/// the page's 40 ms frames): voice is behind, and late audio is worth less than live audio.
const STT_BUFFER: usize = 160;
/// The OpenAI voice name voice maps to its default piper voice.
const SPEECH_VOICE: &str = "alloy";

/// A running speech-to-text stream.
pub struct SttStream {
    audio: mpsc::Sender<Bytes>,
    task: JoinHandle<()>,
}

impl SttStream {
    /// Opens `/v1/audio/stream` on voice; events and the end of the stream arrive in
    /// `inbox` as [`Input::Stt`] and [`Input::SttClosed`].
    pub fn open(voice: Upstream, language: &'static str, inbox: mpsc::Sender<Input>) -> Self {
        let (audio, mut audio_rx) = mpsc::channel::<Bytes>(STT_BUFFER);
        let task = tokio::spawn(async move {
            let path = format!("/v1/audio/stream?language={language}");
            let socket = match voice.connect_ws(&path).await {
                Ok(socket) => socket,
                Err(error) => {
                    let _ = inbox.send(Input::SttClosed(Some(error))).await;
                    return;
                }
            };
            let (mut sink, mut stream) = socket.split();
            let error = loop {
                tokio::select! {
                    chunk = audio_rx.recv() => match chunk {
                        Some(pcm) => {
                            if sink.send(Message::Binary(pcm)).await.is_err() {
                                break Some(voice.stream_failed("speech-to-text stream broke"));
                            }
                        }
                        None => {
                            let _ = sink.send(Message::Close(None)).await;
                            break None;
                        }
                    },
                    message = stream.next() => match message {
                        Some(Ok(Message::Text(text))) => {
                            match serde_json::from_str::<SttEvent>(text.as_str()) {
                                Ok(event) => {
                                    if inbox.send(Input::Stt(event)).await.is_err() {
                                        break None;
                                    }
                                }
                                Err(_) => tracing::warn!("voice sent an unreadable event"),
                            }
                        }
                        Some(Ok(Message::Close(_))) | None => break None,
                        Some(Ok(_)) => {}
                        Some(Err(_)) => break Some(voice.stream_failed("speech-to-text stream broke")),
                    },
                }
            };
            let _ = inbox.send(Input::SttClosed(error)).await;
        });
        Self { audio, task }
    }

    /// Passes microphone audio on; false when voice is so far behind that the frame
    /// was dropped, or the stream has ended.
    pub fn push(&self, pcm: Bytes) -> bool {
        self.audio.try_send(pcm).is_ok()
    }
}

impl Drop for SttStream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A reply being spoken: sentences go in as the dialogue writes them, audio comes out
/// into the inbox as [`Input::SpeechAudio`], then [`Input::SpeechEnded`].
pub struct Speech {
    sentences: Option<mpsc::UnboundedSender<String>>,
    task: JoinHandle<()>,
}

impl Speech {
    /// Starts speaking for turn `turn_id`.
    pub fn start(voice: Upstream, trace: String, turn_id: u64, inbox: mpsc::Sender<Input>) -> Self {
        let (sentences, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(speak(voice, trace, turn_id, rx, inbox));
        Self {
            sentences: Some(sentences),
            task,
        }
    }

    /// Queues a sentence.
    pub fn say(&self, sentence: String) {
        if let Some(sentences) = &self.sentences {
            let _ = sentences.send(sentence);
        }
    }

    /// No more sentences: finish what is queued, then end.
    pub fn finish(&mut self) {
        self.sentences = None;
    }
}

impl Drop for Speech {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Synthesises everything queued in one voice stream, then whatever was queued
/// meanwhile in the next, so the first sentence is not held up by the others and the
/// rest need no stream each.
async fn speak(
    voice: Upstream,
    trace: String,
    turn_id: u64,
    mut sentences: mpsc::UnboundedReceiver<String>,
    inbox: mpsc::Sender<Input>,
) {
    let mut error = None;
    'streams: while let Some(first) = sentences.recv().await {
        let mut text = first;
        while let Ok(more) = sentences.try_recv() {
            text.push(' ');
            text.push_str(&more);
        }
        let mut socket = match voice.connect_ws("/v1/audio/speech/stream").await {
            Ok(socket) => socket,
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        let request = SpeechRequest {
            model: "tts-1".into(),
            input: text,
            voice: SPEECH_VOICE.into(),
            response_format: SpeechFormat::Pcm,
            speed: 1.0,
        };
        let Ok(json) = serde_json::to_string(&request) else {
            break;
        };
        if socket.send(Message::Text(json.into())).await.is_err() {
            error = Some(voice.stream_failed("speech stream broke"));
            break;
        }
        let mut sample_rate = 0;
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) => {
                    match serde_json::from_str::<SpeechStreamEvent>(text.as_str()) {
                        Ok(SpeechStreamEvent::Sentence {
                            sample_rate: rate, ..
                        }) => {
                            sample_rate = rate;
                        }
                        Ok(SpeechStreamEvent::Done { .. }) => continue 'streams,
                        Ok(SpeechStreamEvent::Error { code, message }) => {
                            tracing::warn!(%trace, %code, %message, "voice could not speak a reply");
                            break 'streams;
                        }
                        Err(_) => tracing::warn!(%trace, "voice sent an unreadable speech event"),
                    }
                }
                Some(Ok(Message::Binary(pcm))) => {
                    let audio = Input::SpeechAudio {
                        turn_id,
                        sample_rate,
                        pcm,
                    };
                    if inbox.send(audio).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | None => {
                    error = Some(voice.stream_failed("speech stream closed early"));
                    break 'streams;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) => {
                    error = Some(voice.stream_failed("speech stream broke"));
                    break 'streams;
                }
            }
        }
    }
    let _ = inbox.send(Input::SpeechEnded { turn_id, error }).await;
}

/// Starts a dialogue session for a customer (or anonymously); its greeting comes back.
pub async fn start_dialogue(
    dialogue: &Upstream,
    trace: &str,
    customer_id: Option<String>,
    kiosk_id: &str,
) -> Result<SessionStarted, UpstreamError> {
    let start = SessionStart {
        customer_id,
        kiosk_id: kiosk_id.to_owned(),
    };
    dialogue
        .post_json(trace, "/v1/sessions", &start, false)
        .await
}

/// What a turn task needs.
pub struct TurnJob {
    /// The dialogue.
    pub dialogue: Upstream,
    /// The turn's trace id.
    pub trace: String,
    /// The turn.
    pub turn_id: u64,
    /// The dialogue session to continue; a new one is started when absent or lost.
    pub session: Option<String>,
    /// Who is talking, for a new dialogue session.
    pub customer_id: Option<String>,
    /// This kiosk.
    pub kiosk_id: String,
    /// What she said.
    pub text: String,
    /// Set (to the turn's id) when the turn is prepared from a tentative transcript.
    pub speculative_id: Option<u64>,
    /// The speculative turn, dropped, that this one replaces in the dialogue session.
    pub replaces: Option<u64>,
    /// Deadline of the whole turn.
    pub within: Duration,
}

/// Runs one turn: its events arrive in `inbox` as [`Input::Turn`], then
/// [`Input::TurnEnded`].
pub fn run_turn(job: TurnJob, inbox: mpsc::Sender<Input>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let turn_id = job.turn_id;
        let error = turn(&job, &inbox).await.err();
        let _ = inbox.send(Input::TurnEnded { turn_id, error }).await;
    })
}

async fn turn(job: &TurnJob, inbox: &mpsc::Sender<Input>) -> Result<(), UpstreamError> {
    let mut session = job.session.clone();
    // Twice at most: a dialogue that restarted has lost its sessions and says 404.
    for _ in 0..2 {
        let id = match &session {
            Some(id) => id.clone(),
            None => {
                let started = start_dialogue(
                    &job.dialogue,
                    &job.trace,
                    job.customer_id.clone(),
                    &job.kiosk_id,
                )
                .await?;
                let id = started.session_id.clone();
                let _ = inbox
                    .send(Input::DialogueSession {
                        session_id: id.clone(),
                    })
                    .await;
                id
            }
        };
        let path = format!("/v1/sessions/{id}/turns");
        let request = TurnRequest {
            text: job.text.clone(),
            speculative_id: job.speculative_id,
            replaces: job.replaces,
        };
        let response = match job
            .dialogue
            .post_stream(&job.trace, &path, &request, job.within)
            .await
        {
            Err(UpstreamError::NotFound(_)) => {
                session = None;
                continue;
            }
            other => other?,
        };
        let bytes = futures_util::stream::unfold(response, |mut response| async move {
            match response.chunk().await {
                Ok(Some(chunk)) => Some((Ok(chunk), response)),
                Ok(None) => None,
                Err(e) => Some((Err(e), response)),
            }
        });
        let mut events = std::pin::pin!(bytes.eventsource());
        while let Some(event) = events.next().await {
            let event = event.map_err(|e| {
                job.dialogue
                    .stream_failed(&format!("turn stream broke: {e}"))
            })?;
            let Ok(event) = serde_json::from_str::<TurnEvent>(&event.data) else {
                tracing::warn!(trace = %job.trace, "dialogue sent an unreadable turn event");
                continue;
            };
            let last = matches!(event, TurnEvent::Done { .. } | TurnEvent::Error { .. });
            if inbox
                .send(Input::Turn {
                    turn_id: job.turn_id,
                    event,
                })
                .await
                .is_err()
                || last
            {
                return Ok(());
            }
        }
        return Err(job.dialogue.stream_failed("turn stream ended without done"));
    }
    Err(job
        .dialogue
        .stream_failed("the dialogue keeps losing the session"))
}
