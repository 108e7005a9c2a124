//! The fetch queue: requests to bring items to a fitting room, made by customer
//! sessions and worked by staff (or a robot) on the staff page, which gets the whole
//! queue pushed after every change.
//!
//! The queue lives in the kiosk's memory, bounded: requests are minutes-long errands,
//! and a kiosk restart loses the open ones (the customer can ask again). That is also
//! why the kiosk runs as one replica.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::kiosk::{FetchRequest, FetchState, StaffMessage};
use serde::Deserialize;
use service_kit::ApiError;
use service_kit::auth::{bearer, same_secret};
use tokio::sync::broadcast;

use crate::AppState;
use crate::error::KioskError;
use crate::session::stopping;

/// Updates buffered for a slow subscriber before it is told to resync.
const UPDATES_BUFFER: usize = 256;

/// What a customer session asks for.
#[derive(Debug, Clone)]
pub struct NewFetch {
    /// The product.
    pub sku: String,
    /// Its title.
    pub title: String,
    /// The size, when known.
    pub size: Option<String>,
    /// The customer's first name, only when she is enrolled.
    pub customer_first_name: Option<String>,
    /// The kiosk it came from.
    pub kiosk_id: String,
}

/// A staff action on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffAction {
    /// Someone is on it.
    Claim,
    /// The items are in the fitting room.
    Done,
    /// It will not be done.
    Cancel,
}

impl StaffAction {
    fn parse(name: &str) -> Result<Self, KioskError> {
        match name {
            "claim" => Ok(StaffAction::Claim),
            "done" => Ok(StaffAction::Done),
            "cancel" => Ok(StaffAction::Cancel),
            other => Err(KioskError::UnknownAction(other.chars().take(40).collect())),
        }
    }

    fn name(self) -> &'static str {
        match self {
            StaffAction::Claim => "claimed",
            StaffAction::Done => "done",
            StaffAction::Cancel => "cancelled",
        }
    }
}

fn state_name(state: FetchState) -> &'static str {
    match state {
        FetchState::Queued => "queued",
        FetchState::Claimed => "claimed",
        FetchState::Done => "done",
        FetchState::Cancelled => "cancelled",
    }
}

fn is_open(state: FetchState) -> bool {
    matches!(state, FetchState::Queued | FetchState::Claimed)
}

/// The queue all sessions and staff pages share. Cheap to clone.
#[derive(Debug, Clone)]
pub struct FetchQueue {
    inner: Arc<Mutex<QueueState>>,
    updates: broadcast::Sender<FetchRequest>,
    rooms: Arc<[String]>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct QueueState {
    /// Oldest first.
    requests: VecDeque<FetchRequest>,
    next_room: usize,
}

/// The queue is full of open requests.
#[derive(Debug, thiserror::Error)]
#[error("the fetch queue is full ({0} open requests)")]
pub struct QueueFull(pub usize);

impl FetchQueue {
    /// An empty queue sending customers to `rooms` in turn, keeping at most
    /// `capacity` requests (finished ones are dropped first).
    pub fn new(rooms: &[String], capacity: usize) -> Self {
        let (updates, _) = broadcast::channel(UPDATES_BUFFER);
        Self {
            inner: Arc::new(Mutex::new(QueueState::default())),
            updates,
            rooms: rooms.into(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues a request and assigns it the next fitting room.
    pub fn create(&self, new: NewFetch, now_unix: u64) -> Result<FetchRequest, QueueFull> {
        let request = {
            let mut state = self.lock();
            if state.requests.len() >= self.capacity {
                match state.requests.iter().position(|r| !is_open(r.state)) {
                    Some(finished) => {
                        state.requests.remove(finished);
                    }
                    None => return Err(QueueFull(state.requests.len())),
                }
            }
            let room = self.rooms[state.next_room % self.rooms.len()].clone();
            state.next_room = state.next_room.wrapping_add(1);
            let request = FetchRequest {
                fetch_id: uuid::Uuid::new_v4().simple().to_string()[..12].to_owned(),
                sku: new.sku,
                title: new.title,
                size: new.size,
                fitting_room: room,
                customer_first_name: new.customer_first_name,
                kiosk_id: new.kiosk_id,
                state: FetchState::Queued,
                created_unix: now_unix,
            };
            state.requests.push_back(request.clone());
            request
        };
        let _ = self.updates.send(request.clone());
        Ok(request)
    }

    /// Applies a staff action.
    pub fn act(&self, fetch_id: &str, action: StaffAction) -> Result<FetchRequest, KioskError> {
        let request = {
            let mut state = self.lock();
            let request = state
                .requests
                .iter_mut()
                .find(|r| r.fetch_id == fetch_id)
                .ok_or_else(|| KioskError::UnknownFetch(fetch_id.chars().take(40).collect()))?;
            let next = match (request.state, action) {
                (FetchState::Queued, StaffAction::Claim) => FetchState::Claimed,
                (FetchState::Queued | FetchState::Claimed, StaffAction::Done) => FetchState::Done,
                (FetchState::Queued | FetchState::Claimed, StaffAction::Cancel) => {
                    FetchState::Cancelled
                }
                (from, action) => {
                    return Err(KioskError::InvalidTransition {
                        id: request.fetch_id.clone(),
                        from: state_name(from),
                        action: action.name(),
                    });
                }
            };
            request.state = next;
            request.clone()
        };
        let _ = self.updates.send(request.clone());
        Ok(request)
    }

    /// Withdraws a customer's request (she left, or asked to be forgotten); a request
    /// already done stays done.
    pub fn withdraw(&self, fetch_id: &str) {
        let _ = self.act(fetch_id, StaffAction::Cancel);
    }

    /// Removes the customer's name from her requests (she asked to be forgotten).
    pub fn anonymise(&self, fetch_ids: &[String]) {
        let changed: Vec<FetchRequest> = {
            let mut state = self.lock();
            state
                .requests
                .iter_mut()
                .filter(|r| fetch_ids.contains(&r.fetch_id) && r.customer_first_name.is_some())
                .map(|r| {
                    r.customer_first_name = None;
                    r.clone()
                })
                .collect()
        };
        for request in changed {
            let _ = self.updates.send(request);
        }
    }

    /// One request.
    pub fn get(&self, fetch_id: &str) -> Option<FetchRequest> {
        self.lock()
            .requests
            .iter()
            .find(|r| r.fetch_id == fetch_id)
            .cloned()
    }

    /// Every request kept, oldest first.
    pub fn snapshot(&self) -> Vec<FetchRequest> {
        self.lock().requests.iter().cloned().collect()
    }

    /// Every change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<FetchRequest> {
        self.updates.subscribe()
    }
}

/// The staff routes: the page, its WebSocket and its actions.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/staff/ws", get(staff_socket))
        .route("/api/staff/fetches", get(list))
        .route("/api/staff/fetches/{id}/{action}", post(act))
}

/// Checks a presented staff token against the configured one.
fn check_token(state: &AppState, presented: Option<&str>) -> Result<(), KioskError> {
    let expected = state
        .config()
        .kiosk
        .staff_token
        .as_deref()
        .ok_or(KioskError::StaffDisabled)?;
    match presented {
        Some(token) if same_secret(token, expected) => Ok(()),
        _ => Err(KioskError::InvalidStaffToken),
    }
}

/// `GET /api/staff/fetches`: the queue as JSON.
async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<StaffMessage>, ApiError> {
    check_token(&state, bearer(&headers))?;
    Ok(Json(StaffMessage::Queue {
        requests: state.fetches().snapshot(),
    }))
}

/// `POST /api/staff/fetches/{id}/{claim|done|cancel}`.
async fn act(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
) -> Result<Json<FetchRequest>, ApiError> {
    check_token(&state, bearer(&headers))?;
    let action = StaffAction::parse(&action)?;
    Ok(Json(state.fetches().act(&id, action)?))
}

/// Query of `GET /staff/ws` (browsers cannot set headers on a WebSocket).
#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// `GET /staff/ws?token=`: the queue, pushed whole on connect and after each change.
async fn staff_socket(
    State(state): State<AppState>,
    Query(query): Query<TokenQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    check_token(&state, query.token.as_deref())?;
    let queue = state.fetches().clone();
    let closing = state.sessions().closing_signal();
    Ok(ws.on_upgrade(move |socket| push_queue(queue, socket, closing)))
}

async fn push_queue(
    queue: FetchQueue,
    mut socket: WebSocket,
    mut closing: tokio::sync::watch::Receiver<bool>,
) {
    let mut updates = queue.subscribe();
    loop {
        let message = StaffMessage::Queue {
            requests: queue.snapshot(),
        };
        let Ok(json) = serde_json::to_string(&message) else {
            return;
        };
        if socket.send(Message::Text(json.into())).await.is_err() {
            return;
        }
        tokio::select! {
            update = updates.recv() => match update {
                // A missed update does not matter: the next push is the whole queue.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(_)) => {}
                _ => return,
            },
            () = stopping(&mut closing) => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_fetch(sku: &str) -> NewFetch {
        NewFetch {
            sku: sku.into(),
            title: "Shirt".into(),
            size: Some("M".into()),
            customer_first_name: Some("Lucy".into()),
            kiosk_id: "k1".into(),
        }
    }

    #[test]
    fn rooms_are_assigned_in_turn_and_states_follow_staff_actions() {
        let queue = FetchQueue::new(&["A".into(), "B".into()], 10);
        let first = queue.create(new_fetch("S1"), 1).unwrap();
        let second = queue.create(new_fetch("S2"), 2).unwrap();
        assert_eq!(
            (first.fitting_room.as_str(), second.fitting_room.as_str()),
            ("A", "B")
        );
        assert_eq!(
            queue
                .act(&first.fetch_id, StaffAction::Claim)
                .unwrap()
                .state,
            FetchState::Claimed
        );
        assert_eq!(
            queue.act(&first.fetch_id, StaffAction::Done).unwrap().state,
            FetchState::Done
        );
        let again = queue.act(&first.fetch_id, StaffAction::Claim).unwrap_err();
        assert_eq!(
            service_kit::error::ApiErrorCode::code(&again),
            "invalid_transition"
        );
        assert!(matches!(
            queue.act("nope", StaffAction::Done),
            Err(KioskError::UnknownFetch(_))
        ));
    }

    #[test]
    fn a_full_queue_drops_finished_requests_first_and_refuses_when_all_are_open() {
        let queue = FetchQueue::new(&["A".into()], 2);
        let first = queue.create(new_fetch("S1"), 1).unwrap();
        queue.create(new_fetch("S2"), 2).unwrap();
        assert!(queue.create(new_fetch("S3"), 3).is_err());
        queue.act(&first.fetch_id, StaffAction::Done).unwrap();
        queue.create(new_fetch("S3"), 3).unwrap();
        let skus: Vec<String> = queue.snapshot().into_iter().map(|r| r.sku).collect();
        assert_eq!(skus, ["S2", "S3"]);
    }

    #[test]
    fn forgetting_removes_the_name_from_her_requests() {
        let queue = FetchQueue::new(&["A".into()], 5);
        let mut updates = queue.subscribe();
        let request = queue.create(new_fetch("S1"), 1).unwrap();
        queue.anonymise(std::slice::from_ref(&request.fetch_id));
        assert_eq!(
            queue.get(&request.fetch_id).unwrap().customer_first_name,
            None
        );
        assert!(updates.try_recv().is_ok());
        assert_eq!(updates.try_recv().unwrap().customer_first_name, None);
    }
}
