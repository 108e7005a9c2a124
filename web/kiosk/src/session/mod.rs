//! Customer sessions: one task per conversation (the actor in [`actor`]) that owns all
//! of its state and is the only one to change it. The WebSocket, the streams to other
//! services and the staff queue all talk to it through its inbox, so nothing about a
//! session is shared or locked, and one session cannot hold up another.
//!
//! A session outlives its socket for `kiosk.resume_secs`: a page that reconnects with
//! the session id carries on where it was.

mod actor;
pub mod echo;
mod streams;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use protocol::Service;
use protocol::dialogue::TurnEvent;
use protocol::kiosk::{ClientMessage, ServerMessage};
use protocol::voice::SttEvent;
use service_kit::config::Config;
use tokio::sync::{mpsc, watch};

use crate::i18n::Locale;
use crate::metrics::KioskMetrics;
use crate::staff::FetchQueue;
use crate::upstream::{UpstreamError, Upstreams};

/// Messages from a session to its page, queued for the socket's sending task.
#[derive(Debug)]
pub enum Outbound {
    /// A JSON message.
    Message(ServerMessage),
    /// An `audio_chunk` announcement and the PCM frame that follows it.
    Audio {
        /// The announcement.
        header: ServerMessage,
        /// The audio.
        pcm: Bytes,
    },
    /// Close the socket with this code (the session may live on).
    Close {
        /// WebSocket close code.
        code: u16,
        /// Why, for the page.
        reason: &'static str,
    },
}

/// Messages the socket's sending task holds before the session treats the page as
/// too slow and drops the connection (it can resume).
pub const OUTBOUND_BUFFER: usize = 512;
/// Inputs a session holds before its senders wait.
const INBOX_BUFFER: usize = 256;

/// Everything that reaches a session's actor.
#[derive(Debug)]
pub(crate) enum Input {
    /// A socket (re)attached: messages for the page go here from now on.
    Attach {
        /// The new socket's queue.
        outbound: mpsc::Sender<Outbound>,
        /// Identifies this attachment, so a late detach of an old socket is ignored.
        generation: u64,
        /// True when the page asked to resume this session.
        resumed: bool,
        /// The language the page asked for (it may have switched before resuming).
        locale: Locale,
    },
    /// The socket of `generation` closed.
    Detach {
        /// Which attachment.
        generation: u64,
    },
    /// A JSON message from the page (already checked for shape and version).
    Client(ClientMessage),
    /// Microphone audio from the page (even length, within the frame limit).
    Audio(Bytes),
    /// An event of the speech-to-text stream.
    Stt(SttEvent),
    /// The speech-to-text stream ended, with the failure if it broke.
    SttClosed(Option<UpstreamError>),
    /// The dialogue started a session for a turn.
    DialogueSession {
        /// Its id.
        session_id: String,
    },
    /// An event of a running turn.
    Turn {
        /// Which turn.
        turn_id: u64,
        /// The event.
        event: TurnEvent,
    },
    /// A turn's stream ended.
    TurnEnded {
        /// Which turn.
        turn_id: u64,
        /// Why, if it failed.
        error: Option<UpstreamError>,
    },
    /// Synthesised audio of a turn's reply.
    SpeechAudio {
        /// Which turn.
        turn_id: u64,
        /// Sample rate of `pcm`.
        sample_rate: u32,
        /// Mono s16le.
        pcm: Bytes,
    },
    /// Speech of a turn ended.
    SpeechEnded {
        /// Which turn.
        turn_id: u64,
        /// Why, if it failed.
        error: Option<UpstreamError>,
    },
    /// Finished background work (vision, greeting, try-on, enrolment, forgetting,
    /// product lookup): applied to the actor's state in its own task.
    Done(Box<actor::Completion>),
}

/// What every session shares: read-only configuration and handles that are safe to
/// use from many tasks.
#[derive(Debug)]
pub struct Shared {
    /// The deployment's configuration.
    pub config: Arc<Config>,
    /// The other services.
    pub upstreams: Upstreams,
    /// The staff queue.
    pub fetches: FetchQueue,
    /// The kiosk's metrics.
    pub metrics: KioskMetrics,
    /// Services down right now, for sessions to tell their page.
    pub unavailable: watch::Receiver<BTreeSet<Service>>,
}

/// A session as the WebSocket handler sees it.
#[derive(Debug, Clone)]
pub struct SessionHandle {
    /// The session id the page resumes with.
    pub id: String,
    inbox: mpsc::Sender<Input>,
}

impl SessionHandle {
    /// Hands a message to the session; false when the session has ended.
    pub(crate) async fn send(&self, input: Input) -> bool {
        self.inbox.send(input).await.is_ok()
    }
}

/// The kiosk is holding its most sessions.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the kiosk holds its most sessions ({0})")]
pub struct Full(pub usize);

/// Every live session, by id. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Sessions {
    live: Arc<Mutex<HashMap<String, SessionHandle>>>,
    shared: Arc<Shared>,
    generations: Arc<std::sync::atomic::AtomicU64>,
    closing: Arc<watch::Sender<bool>>,
}

impl Sessions {
    /// An empty registry for sessions sharing `shared`.
    pub fn new(shared: Shared) -> Self {
        Self {
            live: Arc::default(),
            shared: Arc::new(shared),
            generations: Arc::default(),
            closing: Arc::new(watch::channel(false).0),
        }
    }

    /// Set to true when the server shuts down, so open sockets close (they would
    /// otherwise hold the graceful shutdown forever).
    pub fn closing(&self) -> Arc<watch::Sender<bool>> {
        self.closing.clone()
    }

    /// Turns true when the server shuts down.
    pub fn closing_signal(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SessionHandle>> {
        self.live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many sessions are live (connected or waiting to resume).
    pub fn count(&self) -> usize {
        self.lock().len()
    }

    /// Whether a new session would be refused now.
    pub fn is_full(&self) -> bool {
        self.count() >= self.shared.config.kiosk.max_sessions
    }

    /// The session `resume` if it is still live, otherwise a new one speaking
    /// `locale`; attaches `outbound` to it.
    pub(crate) async fn attach(
        &self,
        resume: Option<&str>,
        locale: Locale,
        outbound: mpsc::Sender<Outbound>,
    ) -> Result<(SessionHandle, u64), Full> {
        let generation = self
            .generations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let existing = resume.and_then(|id| self.lock().get(id).cloned());
        if let Some(handle) = existing {
            let attach = Input::Attach {
                outbound: outbound.clone(),
                generation,
                resumed: true,
                locale,
            };
            if handle.send(attach).await {
                return Ok((handle, generation));
            }
        }
        let handle = {
            let mut live = self.lock();
            let max = self.shared.config.kiosk.max_sessions;
            if live.len() >= max {
                return Err(Full(max));
            }
            let id = uuid::Uuid::new_v4().to_string();
            let (inbox, inputs) = mpsc::channel(INBOX_BUFFER);
            let handle = SessionHandle {
                id: id.clone(),
                inbox: inbox.clone(),
            };
            live.insert(id.clone(), handle.clone());
            self.shared.metrics.sessions.set(live.len() as i64);
            let registry = self.clone();
            let actor = actor::Actor::new(id, locale, self.shared.clone(), inbox);
            tokio::spawn(async move {
                let id = actor.id().to_owned();
                actor.run(inputs).await;
                registry.remove(&id);
            });
            handle
        };
        let attach = Input::Attach {
            outbound,
            generation,
            resumed: false,
            locale,
        };
        handle.send(attach).await;
        Ok((handle, generation))
    }

    fn remove(&self, id: &str) {
        let mut live = self.lock();
        live.remove(id);
        self.shared.metrics.sessions.set(live.len() as i64);
    }

    /// The shared parts, for handlers.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }
}

/// Resolves once the server starts shutting down (or the signal is gone).
pub async fn stopping(closing: &mut watch::Receiver<bool>) {
    let _ = closing.wait_for(|closing| *closing).await;
}

/// Follows every service's availability into one set of the services that are down.
pub fn watch_unavailable(upstreams: &Upstreams) -> watch::Receiver<BTreeSet<Service>> {
    let (tx, rx) = watch::channel(BTreeSet::new());
    for upstream in upstreams.all() {
        let service = upstream.service();
        let mut available = upstream.watch();
        let tx = tx.clone();
        tokio::spawn(async move {
            loop {
                let up = *available.borrow_and_update();
                tx.send_if_modified(|down| {
                    if up {
                        down.remove(&service)
                    } else {
                        down.insert(service)
                    }
                });
                if available.changed().await.is_err() {
                    return;
                }
            }
        });
    }
    rx
}
