//! The HTTP API: the session API the kiosk drives (turns streamed as server-sent
//! events) and the OpenAI-compatible `POST /v1/chat/completions` for the raw model.

use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use protocol::dialogue::{
    ChatChoice, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatDelta, ChatMessage,
    ChunkChoice, ResponseFormat, Role, SessionStart, SessionStarted, SessionView, TurnEvent,
    TurnRequest,
};
use service_kit::error::ApiError;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;

use crate::AppState;
use crate::error::DialogueError;
use crate::llm::{GenEvent, Generation};
use crate::session::Session;
use crate::tools::ToolError;
use crate::turn;

/// How long a new turn waits for the previous turn of its session to finish (a
/// barge-in closes the old stream; the old turn stops at its next sentence).
const TURN_LOCK_WAIT: Duration = Duration::from_secs(10);

/// Most tokens one raw chat completion may ask for.
const MAX_COMPLETION_TOKENS: u32 = 1024;

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/sessions", post(start_session))
        .route("/v1/sessions/{id}", get(view_session).delete(end_session))
        .route("/v1/sessions/{id}/turns", post(take_turn))
        .route("/v1/chat/completions", post(chat_completions))
        .with_state(state)
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `POST /v1/sessions`: opens a conversation and returns the greeting.
async fn start_session(
    State(state): State<AppState>,
    Json(start): Json<SessionStart>,
) -> Result<(StatusCode, Json<SessionStarted>), ApiError> {
    let customer = match &start.customer_id {
        None => None,
        Some(id) => match state.dialogue.catalog.customer(id).await {
            Ok(mut record) => {
                record.face_embeddings.clear(); // not needed for a conversation
                Some(record)
            }
            Err(ToolError::NotFound) => {
                return Err(DialogueError::UnknownCustomer(id.clone()).into());
            }
            Err(error) => {
                // Greeting her anonymously beats not greeting her at all.
                tracing::warn!(%error, "customer record unavailable; greeting anonymously");
                None
            }
        },
    };
    let id = uuid::Uuid::new_v4().to_string();
    let session = Session::new(id.clone(), start.kiosk_id, customer);
    let greeting = turn::greeting(&session, now_unix());
    let customer_name = session.first_name().map(str::to_owned);
    state.sessions.insert(session);
    Ok((
        StatusCode::CREATED,
        Json(SessionStarted {
            session_id: id,
            greeting,
            customer_name,
        }),
    ))
}

/// `GET /v1/sessions/{id}`: what a reconnecting kiosk redraws.
async fn view_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SessionView>, ApiError> {
    let session = state
        .sessions
        .get(&id)
        .ok_or(DialogueError::UnknownSession(id))?;
    let view = session.lock().await.view();
    Ok(Json(view))
}

/// `DELETE /v1/sessions/{id}`: the customer left; her data goes with the session.
async fn end_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.sessions.remove(&id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(DialogueError::UnknownSession(id).into())
    }
}

/// Checks the customer's text before a turn starts, so a bad one is a 4xx, not an
/// error event.
fn check_text(text: &str, max: usize) -> Result<&str, DialogueError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DialogueError::EmptyText);
    }
    let chars = text.chars().count();
    if chars > max {
        return Err(DialogueError::TextTooLong { chars, max });
    }
    Ok(text)
}

/// `POST /v1/sessions/{id}/turns`: one turn, streamed as server-sent events (`event:`
/// is the [`TurnEvent`] type). Closing the stream cancels the turn.
async fn take_turn(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(request): Json<TurnRequest>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let text = check_text(&request.text, state.dialogue.config.max_input_chars)?.to_owned();
    let session = state
        .sessions
        .get(&id)
        .ok_or(DialogueError::UnknownSession(id))?;
    let mut locked = tokio::time::timeout(TURN_LOCK_WAIT, session.clone().lock_owned())
        .await
        .map_err(|_| DialogueError::TurnInProgress)?;
    let (out, events) = mpsc::channel::<TurnEvent>(32);
    locked.begin_turn(request.speculative_id, request.replaces);
    let dialogue = state.dialogue.clone();
    tokio::spawn(async move {
        if turn::run(&dialogue, &mut locked, &text, &out)
            .await
            .is_err()
        {
            tracing::debug!("turn cancelled by the kiosk");
        }
    });
    let stream = ReceiverStream::new(events).map(|event| Ok(sse_event(&event)));
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

fn sse_event(event: &TurnEvent) -> Event {
    let data = serde_json::to_value(event).unwrap_or_default();
    let name = data
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or("message")
        .to_owned();
    Event::default().event(name).data(data.to_string())
}

/// `POST /v1/chat/completions`: the raw model, OpenAI-compatible, streaming or not;
/// `response_format` with a JSON schema constrains the answer.
async fn chat_completions(
    State(state): State<AppState>,
    Json(request): Json<ChatCompletionRequest>,
) -> Result<Response, ApiError> {
    if request.messages.is_empty() {
        return Err(DialogueError::BadChat("messages is empty; send at least one".into()).into());
    }
    let max_chars = state.dialogue.config.max_input_chars * 8;
    let chars: usize = request
        .messages
        .iter()
        .map(|m| m.content.chars().count())
        .sum();
    if chars > max_chars {
        return Err(DialogueError::TextTooLong {
            chars,
            max: max_chars,
        }
        .into());
    }
    let max_tokens = request.max_tokens.unwrap_or(256);
    if max_tokens == 0 || max_tokens > MAX_COMPLETION_TOKENS {
        return Err(DialogueError::BadChat(format!(
            "max_tokens must be between 1 and {MAX_COMPLETION_TOKENS}"
        ))
        .into());
    }
    let temperature = request.temperature.unwrap_or(0.0);
    if !(0.0..=2.0).contains(&temperature) {
        return Err(DialogueError::BadChat("temperature must be between 0 and 2".into()).into());
    }
    let json_schema = match request.response_format {
        Some(ResponseFormat::JsonSchema { json_schema }) => Some(json_schema.schema),
        Some(ResponseFormat::JsonObject) => Some(serde_json::json!({"type": "object"})),
        Some(ResponseFormat::Text) | None => None,
    };
    let generation = Generation {
        messages: request.messages,
        max_tokens,
        temperature,
        json_schema,
        seed: 0,
    };
    let mut events = state
        .dialogue
        .model
        .generate(generation)
        .await
        .map_err(DialogueError::from)?;
    let id = format!("chatcmpl-{}", uuid::Uuid::new_v4().simple());
    let created = now_unix();
    let model = state.dialogue.model.name().to_owned();
    if !request.stream {
        let mut text = String::new();
        while let Some(event) = events.recv().await {
            match event {
                GenEvent::Text(piece) => text.push_str(&piece),
                GenEvent::Done(summary) => {
                    return Ok(Json(ChatCompletion {
                        id,
                        object: ChatCompletion::OBJECT.into(),
                        created,
                        model,
                        choices: vec![ChatChoice {
                            index: 0,
                            message: ChatMessage::new(Role::Assistant, text),
                            finish_reason: summary.finish,
                        }],
                        usage: Some(summary.usage),
                    })
                    .into_response());
                }
            }
        }
        return Err(DialogueError::Model(crate::llm::LlmError::Stopped).into());
    }
    let chunk = move |delta: ChatDelta, finish| ChatCompletionChunk {
        id: id.clone(),
        object: ChatCompletionChunk::OBJECT.into(),
        created,
        model: model.clone(),
        choices: vec![ChunkChoice {
            index: 0,
            delta,
            finish_reason: finish,
        }],
    };
    let first = chunk(
        ChatDelta {
            role: Some(Role::Assistant),
            content: None,
        },
        None,
    );
    let stream = async_stream_of(events, first, chunk);
    Ok(Sse::new(stream).into_response())
}

/// The chunks of a streaming completion, then `[DONE]`.
fn async_stream_of(
    events: mpsc::Receiver<GenEvent>,
    first: ChatCompletionChunk,
    chunk: impl Fn(ChatDelta, Option<protocol::dialogue::FinishReason>) -> ChatCompletionChunk
    + Send
    + 'static,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let head = tokio_stream::once(Ok(json_event(&first)));
    let body = ReceiverStream::new(events).map(move |event| {
        Ok(match event {
            GenEvent::Text(piece) => json_event(&chunk(
                ChatDelta {
                    role: None,
                    content: Some(piece),
                },
                None,
            )),
            GenEvent::Done(summary) => json_event(&chunk(ChatDelta::default(), summary.finish)),
        })
    });
    let done = tokio_stream::once(Ok(Event::default().data("[DONE]")));
    head.chain(body).chain(done)
}

fn json_event(chunk: &ChatCompletionChunk) -> Event {
    Event::default().data(serde_json::to_string(chunk).unwrap_or_default())
}
