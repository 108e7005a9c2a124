//! The conversation orchestrator: one task per session that owns its state and turns
//! what the page sends and what the services answer into messages for the page.
//!
//! - Camera frames go to vision (faces only, a few per second) until the customer is
//!   greeted: by name when she is enrolled, anonymously otherwise.
//! - Microphone audio goes to voice's speech-to-text stream; a final transcript (or
//!   typed text) starts a dialogue turn, whose sentences are captioned and spoken as
//!   they come, and whose actions (try-on, fetch, consent, forget) are carried out.
//! - When she pauses, voice sends the tentative transcript and the turn is prepared at
//!   once (the dialogue answers, the first sentences are synthesised) but held back:
//!   the final transcript releases it if it says the same, and her speaking on drops
//!   it (the dialogue session is put back). The wait for the end of her turn is then
//!   spent preparing the reply, not before it.
//! - A service that is down is skipped (text instead of voice, no mirror), and the
//!   page is told so; when it comes back, the session uses it again.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use protocol::Service;
use protocol::catalog::{Consent, CustomerRecord, Product};
use protocol::dialogue::{Action, ProductCard, SessionStarted, TurnEvent};
use protocol::kiosk::{ClientMessage, FetchRequest, ServerMessage, TurnTiming};
use protocol::tryon::{TryOnRequest, TryOnResponse};
use protocol::vision::{AnalyzeResponse, EnrolFaceRequest};
use protocol::voice::SttEvent;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinHandle;

use super::echo::is_echo;
use super::streams::{Speech, SttStream, TurnJob, run_turn, start_dialogue};
use super::{Input, Outbound, Shared};
use crate::i18n::{Locale, Text};
use crate::staff::NewFetch;
use crate::upstream::UpstreamError;

/// Longest typed text.
pub const MAX_TEXT_CHARS: usize = 500;
/// Longest name on the consent screen.
const MAX_NAME_CHARS: usize = 40;
/// Camera frames kept for enrolment and try-on (in memory only, dropped with the
/// session or when she declines).
const FRAMES_KEPT: usize = 3;
/// Largest camera frame, in pixels.
pub const MAX_FRAME_PIXELS: u64 = 8_000_000;
/// Good anonymous faces in a row before an unrecognised customer is greeted.
const ANONYMOUS_GREETING_AFTER: u32 = 3;
/// Sample rate assumed for playback bookkeeping when voice did not say.
const FALLBACK_SAMPLE_RATE: u32 = 22_050;

/// Finished background work, applied in the actor's task.
#[derive(Debug)]
pub enum Completion {
    /// Vision analysed a frame.
    Vision(Result<AnalyzeResponse, UpstreamError>),
    /// A dialogue session started with a greeting.
    Greeted {
        /// The customer greeted, when recognised.
        customer_id: Option<String>,
        /// The new dialogue session.
        result: Result<SessionStarted, UpstreamError>,
    },
    /// The try-on of `sku` finished.
    Tryon {
        /// The product.
        sku: String,
        /// The picture or why not.
        result: Result<TryOnResponse, UpstreamError>,
    },
    /// Enrolment finished.
    Enrolled(Result<CustomerRecord, UpstreamError>),
    /// The catalog erased the customer.
    Forgotten(Result<(), UpstreamError>),
    /// A product looked up for a fetch request.
    FetchProduct {
        /// The size asked for.
        size: Option<String>,
        /// The product.
        result: Result<Product, UpstreamError>,
    },
}

/// The customer, once recognised or enrolled.
#[derive(Debug, Clone)]
struct Customer {
    id: String,
    name: String,
}

/// What a speculative turn produced while its words were not yet settled.
#[derive(Debug)]
enum Pending {
    /// A dialogue event, for the page.
    Event(TurnEvent),
    /// Synthesised audio, for the page.
    Audio { sample_rate: u32, pcm: Bytes },
    /// The dialogue stream ended (with its failure) before the reply was complete.
    Ended(Option<UpstreamError>),
}

/// A turn prepared from a tentative transcript, not yet shown.
#[derive(Debug)]
struct Held {
    /// The tentative text the turn answers.
    text: String,
    /// Its output so far, in order.
    pending: Vec<Pending>,
}

/// The turn whose reply is being written or spoken.
struct Turn {
    id: u64,
    trace: String,
    /// End of speech (or arrival of typed text): what the timings count from.
    origin: Instant,
    timing: TurnTiming,
    task: Option<JoinHandle<()>>,
    speech: Option<Speech>,
    text_done: bool,
    /// The sentence being written, spoken once it ends.
    sentence: String,
    /// Everything said in this turn, for the echo guard.
    spoken: String,
    /// Set while the turn is speculative: nothing of it has reached the page yet. A
    /// released turn keeps it (emptied) until all it held is sent, so the replayed
    /// `done` cannot end the turn before the audio held after it.
    held: Option<Held>,
}

impl Turn {
    /// Speaks what is left of the reply and closes its speech stream (again is
    /// harmless).
    fn finish_speech(&mut self) {
        let rest = std::mem::take(&mut self.sentence);
        if let Some(speech) = self.speech.as_mut() {
            if !rest.trim().is_empty() {
                speech.say(rest.trim().to_owned());
            }
            speech.finish();
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

fn millis_since(origin: Instant) -> u64 {
    u64::try_from(origin.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// One session's state and its loop.
pub struct Actor {
    id: String,
    shared: Arc<Shared>,
    locale: Locale,
    inbox: mpsc::Sender<Input>,
    outbound: Option<mpsc::Sender<Outbound>>,
    generation: u64,
    /// When the page left, the session ends at this instant unless it comes back.
    expires: Option<tokio::time::Instant>,
    ended: bool,

    customer: Option<Customer>,
    dialogue: Option<String>,
    customer_turns: u32,
    greeting_asked: bool,
    anonymous_faces: u32,

    frames: VecDeque<Bytes>,
    last_analysis: Option<Instant>,
    vision_busy: bool,
    tryon_busy: bool,

    stt: Option<SttStream>,
    /// When voice said her speech ended; what the next final transcript counts from.
    speech_ended_at: Option<Instant>,

    turn: Option<Turn>,
    next_turn: u64,
    /// A speculative turn that was dropped and may have reached the dialogue: the next
    /// dialogue turn replaces it.
    replaces: Option<u64>,
    audio_seq: u64,
    /// Until when the page is (about) playing the assistant's audio.
    playing_until: Option<Instant>,
    /// The assistant's recent words, for the echo guard.
    recently_spoken: String,

    cards: Vec<ProductCard>,
    fetches: Vec<String>,
    last_fetch: Option<FetchRequest>,
    unavailable: BTreeSet<Service>,
}

impl Actor {
    /// A new session `id` speaking `locale`.
    pub fn new(
        id: String,
        locale: Locale,
        shared: Arc<Shared>,
        inbox: mpsc::Sender<Input>,
    ) -> Self {
        Self {
            id,
            shared,
            locale,
            inbox,
            outbound: None,
            generation: 0,
            expires: None,
            ended: false,
            customer: None,
            dialogue: None,
            customer_turns: 0,
            greeting_asked: false,
            anonymous_faces: 0,
            frames: VecDeque::new(),
            last_analysis: None,
            vision_busy: false,
            tryon_busy: false,
            stt: None,
            speech_ended_at: None,
            turn: None,
            next_turn: 1,
            replaces: None,
            audio_seq: 0,
            playing_until: None,
            recently_spoken: String::new(),
            cards: Vec::new(),
            fetches: Vec::new(),
            last_fetch: None,
            unavailable: BTreeSet::new(),
        }
    }

    /// The session id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs until the session ends: the page said so, or it left and did not come
    /// back within `kiosk.resume_secs`.
    pub async fn run(mut self, mut inputs: mpsc::Receiver<Input>) {
        let mut unavailable = self.shared.unavailable.clone();
        let mut fetch_updates = self.shared.fetches.subscribe();
        while !self.ended {
            let expiry = async {
                match self.expires {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                input = inputs.recv() => match input {
                    Some(input) => self.handle(input),
                    None => break,
                },
                changed = unavailable.changed() => {
                    if changed.is_ok() {
                        let down = unavailable.borrow_and_update().clone();
                        self.services_changed(down);
                    }
                }
                update = fetch_updates.recv() => match update {
                    Ok(request) if self.fetches.contains(&request.fetch_id) => {
                        self.last_fetch = Some(request.clone());
                        self.send(ServerMessage::FetchStatus { request });
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => self.resend_fetch(),
                    Err(broadcast::error::RecvError::Closed) => {
                        fetch_updates = self.shared.fetches.subscribe();
                    }
                },
                () = expiry => {
                    tracing::info!(session = %self.id, "session ended: the page did not come back");
                    self.end();
                }
            }
        }
        self.end();
    }

    fn handle(&mut self, input: Input) {
        match input {
            Input::Attach {
                outbound,
                generation,
                resumed,
                locale,
            } => {
                self.locale = locale;
                self.attach(outbound, generation, resumed);
            }
            Input::Detach { generation } => {
                if generation == self.generation {
                    self.outbound = None;
                    self.stt = None;
                    let resume = Duration::from_secs(self.shared.config.kiosk.resume_secs);
                    self.expires = Some(tokio::time::Instant::now() + resume);
                }
            }
            Input::Client(message) => self.client(message),
            Input::Audio(pcm) => self.audio(pcm),
            Input::Stt(event) => self.stt_event(event),
            Input::SttClosed(error) => {
                self.stt = None;
                if let Some(error) = error {
                    tracing::warn!(session = %self.id, %error, "speech-to-text stream ended");
                }
            }
            Input::DialogueSession { session_id } => self.dialogue = Some(session_id),
            Input::Turn { turn_id, event } => {
                if self.turn.as_ref().is_some_and(|t| t.id == turn_id) {
                    self.turn_event(event);
                }
            }
            Input::TurnEnded { turn_id, error } => self.turn_ended(turn_id, error),
            Input::SpeechAudio {
                turn_id,
                sample_rate,
                pcm,
            } => self.speech_audio(turn_id, sample_rate, pcm),
            Input::SpeechEnded { turn_id, error } => {
                if let Some(turn) = self.turn.as_mut().filter(|t| t.id == turn_id) {
                    turn.speech = None;
                    if let Some(error) = error {
                        tracing::warn!(session = %self.id, trace = %turn.trace, %error, "reply not spoken");
                    }
                    self.maybe_finish_turn();
                }
            }
            Input::Done(completion) => self.completed(*completion),
        }
    }

    // ---- the page ----------------------------------------------------------

    fn send(&mut self, message: ServerMessage) {
        self.push(Outbound::Message(message));
    }

    fn error(&mut self, code: &str, text: Text) {
        let message = self.locale.say(text);
        self.send(ServerMessage::Error {
            code: code.to_owned(),
            message,
        });
    }

    /// Queues for the page; a page too slow to keep up is disconnected (it resumes).
    fn push(&mut self, outbound: Outbound) {
        let Some(tx) = &self.outbound else {
            return;
        };
        if let Err(mpsc::error::TrySendError::Full(_)) = tx.try_send(outbound) {
            tracing::warn!(session = %self.id, "page too slow to keep up: disconnecting it");
            let _ = tx.try_send(Outbound::Close {
                code: 1008,
                reason: "too slow",
            });
            self.outbound = None;
        }
    }

    fn attach(&mut self, outbound: mpsc::Sender<Outbound>, generation: u64, resumed: bool) {
        if let Some(old) = self.outbound.take() {
            // A second page on the same session replaces the first.
            let _ = old.try_send(Outbound::Close {
                code: 1000,
                reason: "resumed elsewhere",
            });
        }
        self.outbound = Some(outbound);
        self.generation = generation;
        self.expires = None;
        self.send(ServerMessage::SessionStarted {
            session_id: self.id.clone(),
            resumed,
            locale: self.locale.code().to_owned(),
        });
        let down = self.shared.unavailable.borrow().clone();
        self.unavailable.clear();
        self.services_changed(down);
        if resumed {
            if let Some(customer) = self.customer.clone() {
                self.send(ServerMessage::CustomerRecognised {
                    customer_id: customer.id,
                    display_name: customer.name,
                });
            }
            if !self.cards.is_empty() {
                self.send(ServerMessage::ProductCards {
                    turn_id: self.next_turn - 1,
                    cards: self.cards.clone(),
                });
            }
            self.resend_fetch();
        }
    }

    fn resend_fetch(&mut self) {
        if let Some(request) = self
            .last_fetch
            .as_ref()
            .and_then(|r| self.shared.fetches.get(&r.fetch_id))
        {
            self.last_fetch = Some(request.clone());
            self.send(ServerMessage::FetchStatus { request });
        }
    }

    fn services_changed(&mut self, down: BTreeSet<Service>) {
        for service in Service::ALL {
            let was_down = self.unavailable.contains(&service);
            let is_down = down.contains(&service);
            if was_down != is_down {
                self.send(ServerMessage::ServiceStatus {
                    service,
                    available: !is_down,
                });
            }
        }
        if down.contains(&Service::Voice) {
            self.stt = None;
        }
        self.unavailable = down;
    }

    fn is_up(&self, service: Service) -> bool {
        !self.unavailable.contains(&service)
    }

    fn client(&mut self, message: ClientMessage) {
        match message {
            // The socket handler answers a second hello itself.
            ClientMessage::Hello { .. } => {}
            ClientMessage::Frame { jpeg_base64 } => self.frame(&jpeg_base64),
            ClientMessage::Text { text } => {
                let text = text.trim().to_owned();
                if text.is_empty() {
                    self.error("empty_text", Text::EmptyText);
                } else if text.chars().count() > MAX_TEXT_CHARS {
                    self.error("text_too_long", Text::TextTooLong);
                } else {
                    self.start_turn(text, Instant::now(), None);
                }
            }
            ClientMessage::TryOn { sku } => self.try_on(sku),
            ClientMessage::Fetch { sku, size } => self.fetch(sku, size),
            ClientMessage::ConsentAccept { name } => self.enrol(name),
            ClientMessage::ConsentDecline => self.frames.clear(),
            ClientMessage::ForgetMe => self.forget(),
            ClientMessage::BargeIn => {
                if self.assistant_busy() {
                    self.cancel_turn(false);
                }
            }
            ClientMessage::EndSession => {
                self.push(Outbound::Close {
                    code: 1000,
                    reason: "session ended",
                });
                self.end();
            }
        }
    }

    // ---- camera --------------------------------------------------------------

    fn frame(&mut self, jpeg_base64: &str) {
        let limits = image_input::ImageLimits {
            max_pixels: MAX_FRAME_PIXELS,
            max_side: 8192,
        };
        let checked = image_input::base64_bytes("jpeg_base64", jpeg_base64).and_then(|bytes| {
            // The page sends JPEG; PNG frames would be several times larger.
            if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
                image_input::check("jpeg_base64", bytes, limits).map(|c| c.into_bytes())
            } else {
                Ok(Vec::new())
            }
        });
        let jpeg = match checked {
            Ok(jpeg) if !jpeg.is_empty() => jpeg,
            _ => {
                self.error("invalid_frame", Text::InvalidFrame);
                return;
            }
        };
        let jpeg = Bytes::from(jpeg);
        if self.frames.len() == FRAMES_KEPT {
            self.frames.pop_front();
        }
        self.frames.push_back(jpeg.clone());
        self.analyse(jpeg);
    }

    /// Sends a frame to vision while the customer is still to be greeted, at most
    /// `kiosk.frames_per_sec`.
    fn analyse(&mut self, jpeg: Bytes) {
        let interval = Duration::from_secs_f32(1.0 / self.shared.config.kiosk.frames_per_sec);
        let due = self.last_analysis.is_none_or(|at| at.elapsed() >= interval);
        if self.greeting_asked || self.vision_busy || !due || !self.is_up(Service::Vision) {
            return;
        }
        self.vision_busy = true;
        self.last_analysis = Some(Instant::now());
        let vision = self.shared.upstreams.vision.clone();
        let inbox = self.inbox.clone();
        let trace = uuid::Uuid::new_v4().to_string();
        tokio::spawn(async move {
            let result = vision
                .post_bytes(
                    &trace,
                    "/v1/vision/analyze?identify=true&garments=false",
                    "image/jpeg",
                    jpeg,
                )
                .await;
            let _ = inbox
                .send(Input::Done(Box::new(Completion::Vision(result))))
                .await;
        });
    }

    fn seen(&mut self, analysis: AnalyzeResponse) {
        if self.greeting_asked {
            return;
        }
        let Some(face) = analysis.faces.first() else {
            self.anonymous_faces = 0;
            return;
        };
        let min = self.shared.config.kiosk.min_identity_confidence;
        match &face.identity {
            Some(identity) if identity.confidence >= min => {
                self.greet(Some(identity.customer_id.clone()));
            }
            _ if face.issues.is_empty() => {
                self.anonymous_faces += 1;
                if self.anonymous_faces >= ANONYMOUS_GREETING_AFTER {
                    self.greet(None);
                }
            }
            _ => {}
        }
    }

    /// Starts the dialogue for the customer in front of the camera; the greeting
    /// comes back as [`Completion::Greeted`]. Only before she has said anything: a
    /// conversation under way is not restarted.
    fn greet(&mut self, customer_id: Option<String>) {
        if self.greeting_asked || self.customer_turns > 0 || !self.is_up(Service::Dialogue) {
            return;
        }
        self.greeting_asked = true;
        let dialogue = self.shared.upstreams.dialogue.clone();
        let kiosk_id = self.shared.config.kiosk.kiosk_id.clone();
        let previous = self.dialogue.take();
        let inbox = self.inbox.clone();
        tokio::spawn(async move {
            let trace = uuid::Uuid::new_v4().to_string();
            if let Some(previous) = previous {
                let _ = dialogue
                    .delete(&trace, &format!("/v1/sessions/{previous}"))
                    .await;
            }
            let result = start_dialogue(&dialogue, &trace, customer_id.clone(), &kiosk_id).await;
            let done = Completion::Greeted {
                customer_id,
                result,
            };
            let _ = inbox.send(Input::Done(Box::new(done))).await;
        });
    }

    fn greeted(&mut self, customer_id: Option<String>, started: SessionStarted) {
        if self.customer_turns > 0 {
            // She started talking meanwhile: keep that conversation.
            self.end_dialogue(Some(started.session_id));
            return;
        }
        self.dialogue = Some(started.session_id);
        if let (Some(id), Some(name)) = (customer_id, started.customer_name) {
            self.customer = Some(Customer {
                id: id.clone(),
                name: name.clone(),
            });
            self.send(ServerMessage::CustomerRecognised {
                customer_id: id,
                display_name: name,
            });
        }
        if !started.greeting.trim().is_empty() {
            self.say_now(started.greeting);
        }
    }

    // ---- microphone ------------------------------------------------------------

    fn audio(&mut self, pcm: Bytes) {
        if !self.is_up(Service::Voice) {
            return;
        }
        if self.stt.is_none() {
            let language = "en";
            self.stt = Some(SttStream::open(
                self.shared.upstreams.voice.clone(),
                language,
                self.inbox.clone(),
            ));
        }
        if let Some(stt) = &self.stt
            && !stt.push(pcm)
        {
            self.shared.metrics.audio_dropped.inc();
        }
    }

    /// Whether the assistant is answering or its audio may still be playing (a held
    /// turn is neither: the page knows nothing of it).
    fn assistant_busy(&self) -> bool {
        self.turn.as_ref().is_some_and(|t| t.held.is_none())
            || self
                .playing_until
                .is_some_and(|until| Instant::now() < until)
    }

    fn stt_event(&mut self, event: SttEvent) {
        match event {
            SttEvent::SpeechStarted => self.send(ServerMessage::SpeechStarted),
            SttEvent::Tentative { text } => self.speculate(text),
            SttEvent::SpeechResumed => self.drop_speculation(),
            SttEvent::Partial { text } => {
                // She is still speaking: a prepared reply answers too little.
                self.drop_speculation();
                if self.assistant_busy() {
                    if is_echo(&text, &self.recently_spoken) {
                        return;
                    }
                    // She is talking over the assistant, and it is not its own voice.
                    self.cancel_turn(true);
                }
                self.send(ServerMessage::TranscriptPartial { text });
            }
            SttEvent::SpeechEnded => self.speech_ended_at = Some(Instant::now()),
            SttEvent::Final { text } => {
                let origin = self.speech_ended_at.take().unwrap_or_else(Instant::now);
                if self.assistant_busy() && is_echo(&text, &self.recently_spoken) {
                    return;
                }
                let text = text.trim();
                if text.is_empty() {
                    self.drop_speculation();
                    return;
                }
                let transcript_ms = millis_since(origin);
                if self.held_text() == Some(text) {
                    self.release(origin, transcript_ms);
                } else {
                    self.drop_speculation();
                    self.start_turn(text.to_owned(), origin, Some(transcript_ms));
                }
            }
            SttEvent::Error { code, message } => {
                tracing::warn!(session = %self.id, %code, %message, "speech-to-text error");
            }
        }
    }

    // ---- turns ---------------------------------------------------------------------

    fn new_turn(&mut self, origin: Instant) -> &mut Turn {
        self.drop_speculation();
        if self.turn.is_some() {
            self.cancel_turn(true);
        }
        let id = self.next_turn;
        self.next_turn += 1;
        let trace = uuid::Uuid::new_v4().to_string();
        let speech = self.is_up(Service::Voice).then(|| {
            Speech::start(
                self.shared.upstreams.voice.clone(),
                trace.clone(),
                id,
                self.inbox.clone(),
            )
        });
        self.turn.insert(Turn {
            id,
            trace,
            origin,
            timing: TurnTiming::default(),
            task: None,
            speech,
            text_done: false,
            sentence: String::new(),
            spoken: String::new(),
            held: None,
        })
    }

    /// A customer turn: what she said (or typed) goes to the dialogue.
    fn start_turn(&mut self, text: String, origin: Instant, transcript_ms: Option<u64>) {
        self.customer_turns += 1;
        if !self.begin_turn(text.clone(), origin, transcript_ms, false) {
            return;
        }
        let turn_id = self.turn.as_ref().map_or(0, |t| t.id);
        self.send(ServerMessage::TranscriptFinal { text, turn_id });
        if !self.is_up(Service::Dialogue) {
            self.error("dialogue_unavailable", Text::Unavailable(Service::Dialogue));
            self.maybe_finish_turn();
        }
    }

    /// Prepares the reply to a tentative transcript, held back until the final one
    /// says the same.
    fn speculate(&mut self, text: String) {
        let text = text.trim().to_owned();
        if self.held_text() == Some(text.as_str()) {
            return;
        }
        self.drop_speculation();
        let usable = !text.is_empty() && text.chars().count() <= MAX_TEXT_CHARS;
        if !usable || self.assistant_busy() || !self.is_up(Service::Dialogue) {
            return;
        }
        self.begin_turn(text, Instant::now(), None, true);
    }

    /// The text a held turn answers.
    fn held_text(&self) -> Option<&str> {
        self.turn.as_ref()?.held.as_ref().map(|h| h.text.as_str())
    }

    /// Starts a turn's dialogue stream (and its speech); `speculative` holds its output
    /// back. False when there is no turn to run (the dialogue is down and it was only
    /// speculative).
    fn begin_turn(
        &mut self,
        text: String,
        origin: Instant,
        transcript_ms: Option<u64>,
        speculative: bool,
    ) -> bool {
        let session = self.dialogue.clone();
        let customer_id = self.customer.as_ref().map(|c| c.id.clone());
        let kiosk = &self.shared.config.kiosk;
        let (kiosk_id, within) = (
            kiosk.kiosk_id.clone(),
            Duration::from_secs(kiosk.turn_timeout_secs),
        );
        let dialogue_up = self.is_up(Service::Dialogue);
        if speculative && !dialogue_up {
            return false;
        }
        let dialogue = self.shared.upstreams.dialogue.clone();
        let inbox = self.inbox.clone();
        self.drop_speculation();
        let replaces = self.replaces.take();
        let turn = self.new_turn(origin);
        turn.timing.transcript_ms = transcript_ms;
        let (turn_id, trace) = (turn.id, turn.trace.clone());
        if dialogue_up {
            let job = TurnJob {
                dialogue,
                trace: trace.clone(),
                turn_id,
                session,
                customer_id,
                kiosk_id,
                text: text.clone(),
                speculative_id: speculative.then_some(turn_id),
                replaces,
                within,
            };
            turn.task = Some(run_turn(job, inbox));
        } else {
            turn.text_done = true;
            turn.speech = None;
        }
        if speculative {
            turn.held = Some(Held {
                text,
                pending: Vec::new(),
            });
        }
        tracing::info!(session = %self.id, %trace, turn = turn_id, speculative, "turn started");
        true
    }

    /// The final transcript confirmed the held turn: what it prepared goes to the
    /// page now, in order, and the turn carries on as any other.
    fn release(&mut self, origin: Instant, transcript_ms: u64) {
        let Some(turn) = self.turn.as_mut() else {
            return;
        };
        let Some(held) = turn.held.as_mut() else {
            return;
        };
        // Sent straight to the page (not through the routing that holds output), while
        // `held` stays set until the end so that the turn cannot end half-sent.
        let text = std::mem::take(&mut held.text);
        let pending = std::mem::take(&mut held.pending);
        self.customer_turns += 1;
        self.shared.metrics.speculation("released");
        turn.origin = origin;
        turn.timing.transcript_ms = Some(transcript_ms);
        let turn_id = turn.id;
        self.send(ServerMessage::TranscriptFinal { text, turn_id });
        for pending in pending {
            match pending {
                Pending::Event(event) => self.show_turn_event(event),
                Pending::Audio { sample_rate, pcm } => self.play(turn_id, sample_rate, pcm),
                Pending::Ended(error) => self.stream_ended(error),
            }
        }
        if let Some(turn) = self.turn.as_mut().filter(|t| t.id == turn_id) {
            turn.held = None;
        }
        self.maybe_finish_turn();
    }

    /// Drops the held turn, if any: its dialogue stream and speech stop, the page never
    /// saw it, and the next dialogue turn puts the dialogue session back.
    fn drop_speculation(&mut self) {
        if self.turn.as_ref().is_none_or(|t| t.held.is_none()) {
            return;
        }
        if let Some(turn) = self.turn.take() {
            self.replaces = Some(turn.id);
            self.shared.metrics.speculation("dropped");
            tracing::debug!(session = %self.id, trace = %turn.trace, "speculative turn dropped");
        }
    }

    /// Something the assistant says by itself (the greeting): captioned and spoken
    /// like a reply.
    fn say_now(&mut self, text: String) {
        let turn = self.new_turn(Instant::now());
        turn.text_done = true;
        turn.spoken.push_str(&text);
        if let Some(speech) = turn.speech.as_mut() {
            speech.say(text.clone());
            speech.finish();
        }
        let turn_id = turn.id;
        self.recently_spoken = text.clone();
        self.send(ServerMessage::AssistantDelta {
            turn_id,
            text,
            sentence_end: true,
        });
        self.maybe_finish_turn();
    }

    fn turn_event(&mut self, event: TurnEvent) {
        let Some(turn) = self.turn.as_mut() else {
            return;
        };
        // Speech starts at once, held or not: it is what takes longest to be ready.
        match &event {
            TurnEvent::Text {
                delta,
                sentence_end,
            } => {
                turn.sentence.push_str(delta);
                if *sentence_end {
                    let sentence = std::mem::take(&mut turn.sentence);
                    if let Some(speech) = &turn.speech
                        && !sentence.trim().is_empty()
                    {
                        speech.say(sentence.trim().to_owned());
                    }
                }
            }
            TurnEvent::Done { .. } | TurnEvent::Error { .. } => turn.finish_speech(),
            _ => {}
        }
        match turn.held.as_mut() {
            Some(held) => held.pending.push(Pending::Event(event)),
            None => self.show_turn_event(event),
        }
    }

    /// What the page sees of a dialogue event (and the actions it asks for).
    fn show_turn_event(&mut self, event: TurnEvent) {
        let Some(turn) = self.turn.as_mut() else {
            return;
        };
        let turn_id = turn.id;
        match event {
            TurnEvent::Understood(_) => {}
            TurnEvent::Products { cards, .. } => {
                self.cards = cards.clone();
                self.send(ServerMessage::ProductCards { turn_id, cards });
            }
            TurnEvent::Text {
                delta,
                sentence_end,
            } => {
                if turn.timing.first_text_ms.is_none() {
                    turn.timing.first_text_ms = Some(millis_since(turn.origin));
                }
                turn.spoken.push_str(&delta);
                self.recently_spoken = turn.spoken.clone();
                self.send(ServerMessage::AssistantDelta {
                    turn_id,
                    text: delta,
                    sentence_end,
                });
            }
            TurnEvent::Action(action) => self.action(action),
            TurnEvent::Done { .. } => self.text_finished(),
            TurnEvent::Error { code, message } => {
                tracing::warn!(session = %self.id, trace = %turn.trace, %code, %message, "the dialogue could not answer");
                self.error("turn_failed", Text::TurnFailed);
                self.text_finished();
            }
        }
    }

    fn text_finished(&mut self) {
        if let Some(turn) = self.turn.as_mut() {
            turn.text_done = true;
            turn.finish_speech();
        }
        self.maybe_finish_turn();
    }

    /// The turn's dialogue stream ended: the page is told if it failed before the
    /// reply was complete.
    fn stream_ended(&mut self, error: Option<UpstreamError>) {
        let Some(turn) = self.turn.as_ref().filter(|t| !t.text_done) else {
            return;
        };
        if let Some(error) = error {
            tracing::warn!(session = %self.id, trace = %turn.trace, %error, "turn failed");
            if error.is_unavailable() {
                self.error("dialogue_unavailable", Text::Unavailable(Service::Dialogue));
            } else {
                self.error("turn_failed", Text::TurnFailed);
            }
        }
        self.text_finished();
    }

    fn turn_ended(&mut self, turn_id: u64, error: Option<UpstreamError>) {
        let Some(turn) = self.turn.as_mut().filter(|t| t.id == turn_id) else {
            return;
        };
        turn.task = None;
        if turn.text_done {
            return;
        }
        turn.finish_speech();
        match turn.held.as_mut() {
            // The page hears of it when (if) the turn is released.
            Some(held) => held.pending.push(Pending::Ended(error)),
            None => self.stream_ended(error),
        }
    }

    fn speech_audio(&mut self, turn_id: u64, sample_rate: u32, pcm: Bytes) {
        let Some(turn) = self.turn.as_mut().filter(|t| t.id == turn_id) else {
            return;
        };
        if let Some(held) = turn.held.as_mut() {
            held.pending.push(Pending::Audio { sample_rate, pcm });
            return;
        }
        self.play(turn_id, sample_rate, pcm);
    }

    /// Sends a turn's audio to the page, keeping track of how long it plays.
    fn play(&mut self, turn_id: u64, sample_rate: u32, pcm: Bytes) {
        let Some(turn) = self.turn.as_mut().filter(|t| t.id == turn_id) else {
            return;
        };
        if turn.timing.first_audio_ms.is_none() {
            turn.timing.first_audio_ms = Some(millis_since(turn.origin));
        }
        let rate = if sample_rate == 0 {
            FALLBACK_SAMPLE_RATE
        } else {
            sample_rate
        };
        let seconds = pcm.len() as f64 / 2.0 / f64::from(rate);
        let start = self
            .playing_until
            .filter(|until| *until > Instant::now())
            .unwrap_or_else(Instant::now);
        self.playing_until = Some(start + Duration::from_secs_f64(seconds));
        self.audio_seq += 1;
        let header = ServerMessage::AudioChunk {
            turn_id,
            seq: self.audio_seq,
            sample_rate: rate,
            bytes: u32::try_from(pcm.len()).unwrap_or(u32::MAX),
        };
        self.push(Outbound::Audio { header, pcm });
    }

    /// Ends the turn once its text is complete and its speech is sent.
    fn maybe_finish_turn(&mut self) {
        let finished = self
            .turn
            .as_ref()
            .is_some_and(|t| t.text_done && t.speech.is_none() && t.held.is_none());
        if !finished {
            return;
        }
        if let Some(mut turn) = self.turn.take() {
            turn.timing.total_ms = millis_since(turn.origin);
            self.report(&turn, false);
        }
    }

    fn report(&mut self, turn: &Turn, cancelled: bool) {
        let metrics = &self.shared.metrics;
        let timing = turn.timing;
        if !cancelled {
            for (stage, value) in [
                ("transcript", timing.transcript_ms),
                ("first_text", timing.first_text_ms),
                ("first_audio", timing.first_audio_ms),
                ("total", Some(timing.total_ms)),
            ] {
                if let Some(value) = value {
                    metrics.stage(stage, value);
                }
            }
        }
        metrics.turn(if cancelled { "cancelled" } else { "done" });
        tracing::info!(
            session = %self.id,
            trace = %turn.trace,
            turn = turn.id,
            cancelled,
            transcript_ms = timing.transcript_ms,
            first_text_ms = timing.first_text_ms,
            first_audio_ms = timing.first_audio_ms,
            total_ms = timing.total_ms,
            "turn done"
        );
        self.send(ServerMessage::TurnDone {
            turn_id: turn.id,
            trace_id: turn.trace.clone(),
            timing,
            cancelled,
        });
    }

    /// Stops the current turn: its dialogue stream and its speech (both dropped,
    /// which the services take as cancel). `tell_page` when the page does not know
    /// yet (the server noticed the barge-in).
    fn cancel_turn(&mut self, tell_page: bool) {
        self.drop_speculation();
        self.playing_until = None;
        let Some(mut turn) = self.turn.take() else {
            return;
        };
        turn.speech = None;
        if let Some(task) = turn.task.take() {
            task.abort();
        }
        turn.timing.total_ms = millis_since(turn.origin);
        if tell_page {
            self.send(ServerMessage::StopAudio { turn_id: turn.id });
        }
        self.report(&turn, true);
    }

    fn action(&mut self, action: Action) {
        match action {
            Action::TryOn { sku } => self.try_on(sku),
            Action::Fetch { sku, size } => self.fetch(sku, size),
            Action::AskConsent => {
                let purpose = self.locale.say(Text::ConsentPurpose);
                self.send(ServerMessage::ConsentRequest { purpose });
            }
            Action::Forget => self.forget(),
            Action::Cart { .. } | Action::CallStaff | Action::End => {}
        }
    }

    // ---- mirror, fetch, consent --------------------------------------------------

    fn try_on(&mut self, sku: String) {
        if !is_path_safe(&sku) {
            self.error("unknown_product", Text::UnknownProduct);
            return;
        }
        if !self.is_up(Service::Tryon) {
            self.error("tryon_unavailable", Text::Unavailable(Service::Tryon));
            return;
        }
        let Some(photo) = self.frames.back().cloned() else {
            self.error("no_face", Text::NoFace);
            return;
        };
        if self.tryon_busy {
            return;
        }
        self.tryon_busy = true;
        self.send(ServerMessage::TryonPending { sku: sku.clone() });
        let tryon = self.shared.upstreams.tryon.clone();
        let inbox = self.inbox.clone();
        let trace = self
            .turn
            .as_ref()
            .map_or_else(|| uuid::Uuid::new_v4().to_string(), |t| t.trace.clone());
        tokio::spawn(async move {
            let request = TryOnRequest {
                photo_base64: STANDARD.encode(&photo),
                sku: Some(sku.clone()),
                garment_png_base64: None,
                category: None,
            };
            let result = tryon.post_json(&trace, "/v1/tryon", &request, true).await;
            let _ = inbox
                .send(Input::Done(Box::new(Completion::Tryon { sku, result })))
                .await;
        });
    }

    fn fetch(&mut self, sku: String, size: Option<String>) {
        if !is_path_safe(&sku) {
            self.error("unknown_product", Text::UnknownProduct);
            return;
        }
        if let Some(card) = self.cards.iter().find(|c| c.sku == sku) {
            let title = card.title.clone();
            self.queue_fetch(sku, title, size);
            return;
        }
        let catalog = self.shared.upstreams.catalog.clone();
        let inbox = self.inbox.clone();
        tokio::spawn(async move {
            let trace = uuid::Uuid::new_v4().to_string();
            let path = format!("/v1/products/{sku}");
            let result = catalog.get_json::<Product>(&trace, &path).await;
            let _ = inbox
                .send(Input::Done(Box::new(Completion::FetchProduct {
                    size,
                    result,
                })))
                .await;
        });
    }

    fn queue_fetch(&mut self, sku: String, title: String, size: Option<String>) {
        let first_name = self
            .customer
            .as_ref()
            .and_then(|c| c.name.split_whitespace().next().map(str::to_owned));
        let new = NewFetch {
            sku,
            title,
            size,
            customer_first_name: first_name,
            kiosk_id: self.shared.config.kiosk.kiosk_id.clone(),
        };
        match self.shared.fetches.create(new, now_unix()) {
            Ok(request) => {
                self.fetches.push(request.fetch_id.clone());
                self.last_fetch = Some(request.clone());
                tracing::info!(session = %self.id, fetch = %request.fetch_id, "fetch request queued");
                self.send(ServerMessage::FetchStatus { request });
            }
            Err(full) => {
                tracing::warn!(session = %self.id, %full, "fetch request refused");
                self.send(ServerMessage::Error {
                    code: "overloaded".into(),
                    message: full.to_string(),
                });
            }
        }
    }

    fn enrol(&mut self, name: String) {
        let name = name.trim().to_owned();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            self.error("invalid_name", Text::BadName);
            return;
        }
        if !self.is_up(Service::Vision) {
            self.error("vision_unavailable", Text::Unavailable(Service::Vision));
            return;
        }
        if self.frames.is_empty() {
            self.error("no_face", Text::NoFace);
            return;
        }
        let request = EnrolFaceRequest {
            name: name.clone(),
            consent: Consent {
                given_by: name,
                purpose: self.locale.say(Text::ConsentRecordPurpose),
                kiosk_id: self.shared.config.kiosk.kiosk_id.clone(),
                given_at_unix: now_unix(),
            },
            photos_base64: self.frames.iter().map(|f| STANDARD.encode(f)).collect(),
            sizes: Default::default(),
            liked_colours: Vec::new(),
        };
        let vision = self.shared.upstreams.vision.clone();
        let inbox = self.inbox.clone();
        tokio::spawn(async move {
            let trace = uuid::Uuid::new_v4().to_string();
            let result = vision
                .post_json(&trace, "/v1/vision/enrol", &request, false)
                .await;
            let _ = inbox
                .send(Input::Done(Box::new(Completion::Enrolled(result))))
                .await;
        });
    }

    fn forget(&mut self) {
        let Some(customer) = self.customer.clone() else {
            self.error("not_recognised", Text::NotRecognised);
            return;
        };
        let catalog = self.shared.upstreams.catalog.clone();
        let inbox = self.inbox.clone();
        tokio::spawn(async move {
            let trace = uuid::Uuid::new_v4().to_string();
            let path = format!("/v1/customers/{}", customer.id);
            let result = match catalog.delete(&trace, &path).await {
                // Already gone is forgotten.
                Err(UpstreamError::NotFound(_)) => Ok(()),
                other => other,
            };
            let _ = inbox
                .send(Input::Done(Box::new(Completion::Forgotten(result))))
                .await;
        });
    }

    fn completed(&mut self, completion: Completion) {
        match completion {
            Completion::Vision(result) => {
                self.vision_busy = false;
                match result {
                    Ok(analysis) => self.seen(analysis),
                    Err(error) => {
                        tracing::debug!(session = %self.id, %error, "frame not analysed");
                    }
                }
            }
            Completion::Greeted {
                customer_id,
                result,
            } => match result {
                Ok(started) => self.greeted(customer_id, started),
                Err(error) => {
                    tracing::warn!(session = %self.id, %error, "no greeting");
                    self.greeting_asked = false;
                }
            },
            Completion::Tryon { sku, result } => {
                self.tryon_busy = false;
                match result {
                    Ok(picture) => self.send(ServerMessage::TryonImage {
                        sku,
                        png_base64: picture.png_base64,
                    }),
                    Err(error) => {
                        tracing::warn!(session = %self.id, %error, "try-on failed");
                        match error.refused_code() {
                            Some("unknown_sku") => {
                                self.error("unknown_product", Text::UnknownProduct)
                            }
                            Some(_) => self.error("tryon_failed", Text::TryonFailed),
                            None => {
                                self.error("tryon_unavailable", Text::Unavailable(Service::Tryon))
                            }
                        }
                    }
                }
            }
            Completion::Enrolled(result) => match result {
                Ok(record) => {
                    self.frames.clear();
                    self.customer = Some(Customer {
                        id: record.id,
                        name: record.name.clone(),
                    });
                    self.send(ServerMessage::Enrolled {
                        display_name: record.name,
                    });
                }
                Err(error) => {
                    tracing::warn!(session = %self.id, %error, "enrolment failed");
                    match error.refused_code() {
                        Some("no_face" | "face_quality_too_low") => {
                            self.error("no_face", Text::NoFace)
                        }
                        _ => self.error("vision_unavailable", Text::Unavailable(Service::Vision)),
                    }
                }
            },
            Completion::Forgotten(result) => match result {
                Ok(()) => {
                    self.customer = None;
                    self.frames.clear();
                    self.shared.fetches.anonymise(&self.fetches);
                    // The dialogue session knows her name and sizes: end it too.
                    let session = self.dialogue.take();
                    self.end_dialogue(session);
                    self.send(ServerMessage::Forgotten);
                }
                Err(error) => {
                    tracing::warn!(session = %self.id, %error, "forget failed");
                    self.error("catalog_unavailable", Text::Unavailable(Service::Catalog));
                }
            },
            Completion::FetchProduct { size, result } => match result {
                Ok(product) => self.queue_fetch(product.sku, product.title, size),
                Err(UpstreamError::NotFound(_)) => {
                    self.error("unknown_product", Text::UnknownProduct)
                }
                Err(_) => self.error("catalog_unavailable", Text::Unavailable(Service::Catalog)),
            },
        }
    }

    fn end_dialogue(&self, session: Option<String>) {
        let Some(session) = session else {
            return;
        };
        let dialogue = self.shared.upstreams.dialogue.clone();
        tokio::spawn(async move {
            let trace = uuid::Uuid::new_v4().to_string();
            let _ = dialogue
                .delete(&trace, &format!("/v1/sessions/{session}"))
                .await;
        });
    }

    /// Ends the session: stops what runs, ends the dialogue session (it holds her
    /// words), drops the frames.
    fn end(&mut self) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.cancel_turn(false);
        self.stt = None;
        self.frames.clear();
        let session = self.dialogue.take();
        self.end_dialogue(session);
        self.outbound = None;
    }
}

/// Whether an id from the page can go into a URL path as it is (SKUs are letters,
/// digits and dashes); anything else cannot be a product.
fn is_path_safe(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && id != "."
        && id != ".."
}
