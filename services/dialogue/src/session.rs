//! Conversations in progress: one per customer at a kiosk, in memory only (a session
//! is minutes long and holds personal data only while she stands there).
//!
//! The store is bounded: beyond `max_sessions` the idlest session is closed, and a
//! session idle longer than `idle` is closed when the store is next touched.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocol::catalog::CustomerRecord;
use protocol::dialogue::{ProductCard, Reference, SessionView};

use crate::grounding::Facts;

/// Something the assistant offered and a "yes" would accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer {
    /// "Shall I have it brought to a fitting room?"
    Fetch {
        /// The product.
        sku: String,
    },
    /// "Would you like to try it on?"
    TryOn {
        /// The product.
        sku: String,
    },
    /// "Would you like me to remember you next time?" (consent on screen follows).
    Remember,
}

/// One conversation.
#[derive(Debug, Clone)]
pub struct Session {
    /// Its id.
    pub id: String,
    /// The kiosk it runs on.
    pub kiosk_id: String,
    /// The recognised customer, without her face embeddings (not needed here).
    pub customer: Option<CustomerRecord>,
    /// Cards last shown, for "the second one".
    pub shown: Vec<ProductCard>,
    /// The product talked about last, for "it".
    pub last: Option<ProductCard>,
    /// SKUs in the cart.
    pub cart: Vec<String>,
    /// What a "yes" would accept.
    pub offer: Option<Offer>,
    /// What replies may mention: every tool result of the session.
    pub facts: Facts,
    /// Turns so far.
    pub turns: u32,
    /// Last activity, for idle expiry.
    pub touched: Instant,
    /// The session as it was before the last turn, with the caller's number for that
    /// turn, while it was speculative (prepared while she paused) and may be replaced.
    pub before_speculative: Option<(u64, Box<Session>)>,
}

impl Session {
    /// A new session, greeting not yet said.
    pub fn new(id: String, kiosk_id: String, customer: Option<CustomerRecord>) -> Self {
        let mut facts = Facts::new();
        if let Some(customer) = &customer {
            facts.allow_word(first_name(&customer.name));
            for purchase in &customer.purchases {
                facts.add_purchase(purchase);
            }
        }
        Self {
            id,
            kiosk_id,
            customer,
            shown: Vec::new(),
            last: None,
            cart: Vec::new(),
            offer: None,
            facts,
            turns: 0,
            touched: Instant::now(),
            before_speculative: None,
        }
    }

    /// Prepares the session for a turn: back to before the last turn when that was
    /// the speculative turn this one `replaces`, and a copy of itself kept when this
    /// one is speculative. A speculative turn that stands is simply followed by the
    /// next; one that never arrived leaves nothing to undo.
    pub fn begin_turn(&mut self, speculative_id: Option<u64>, replaces: Option<u64>) {
        if let (Some((last, before)), Some(replaced)) = (self.before_speculative.take(), replaces)
            && last == replaced
        {
            *self = *before;
        }
        if let Some(id) = speculative_id {
            self.before_speculative = Some((id, Box::new(self.clone())));
        }
    }

    /// The customer's first name, if recognised.
    pub fn first_name(&self) -> Option<&str> {
        self.customer.as_ref().map(|c| first_name(&c.name))
    }

    /// The size she is known to wear for a category (from her record).
    pub fn known_size(&self, category: &str) -> Option<String> {
        let customer = self.customer.as_ref()?;
        customer
            .sizes
            .get(category)
            .or_else(|| customer.sizes.get(size_group(category)))
            .cloned()
    }

    /// The shown (or last) product a reference points at; `None` reference means "the
    /// one we are talking about".
    pub fn resolve(&self, reference: Option<&Reference>) -> Option<ProductCard> {
        match reference {
            None | Some(Reference::Last) => self.last.clone().or_else(|| {
                // One card on screen is unambiguous.
                (self.shown.len() == 1).then(|| self.shown[0].clone())
            }),
            Some(Reference::Ordinal { position }) => {
                self.shown.iter().find(|c| c.position == *position).cloned()
            }
            Some(Reference::Described { category, colour }) => {
                let matches = |card: &&ProductCard| {
                    category.as_ref().is_none_or(|c| &card.category == c)
                        && colour.as_ref().is_none_or(|c| card.colours.contains(c))
                };
                self.last
                    .iter()
                    .filter(matches)
                    .chain(self.shown.iter().filter(matches))
                    .next()
                    .cloned()
            }
        }
    }

    /// What a reconnecting kiosk needs.
    pub fn view(&self) -> SessionView {
        SessionView {
            session_id: self.id.clone(),
            customer_name: self.first_name().map(str::to_owned),
            shown: self.shown.clone(),
            cart: self.cart.clone(),
            turns: self.turns,
        }
    }
}

/// The first word of a name: how a shop assistant addresses a customer.
pub fn first_name(name: &str) -> &str {
    name.split_whitespace().next().unwrap_or(name)
}

/// Customers' size records may be per category or per group (`tops`, `bottoms`).
fn size_group(category: &str) -> &'static str {
    match category {
        "shirt" | "blouse" | "t-shirt" | "sweater" | "cardigan" | "jacket" | "coat" | "dress" => {
            "tops"
        }
        "jeans" | "trousers" | "skirt" => "bottoms",
        "shoes" => "shoes",
        _ => "other",
    }
}

/// A session shared between the turn that runs on it and the store.
pub type SharedSession = Arc<tokio::sync::Mutex<Session>>;

/// All open sessions.
pub struct Sessions {
    inner: Mutex<HashMap<String, (SharedSession, Instant)>>,
    max: usize,
    idle: Duration,
}

impl Sessions {
    /// An empty store.
    pub fn new(max: usize, idle: Duration) -> Self {
        Self {
            inner: Mutex::new(HashMap::new()),
            max,
            idle,
        }
    }

    /// Adds a session, closing expired ones and, when full, the idlest.
    pub fn insert(&self, session: Session) -> SharedSession {
        let id = session.id.clone();
        let shared = Arc::new(tokio::sync::Mutex::new(session));
        let mut inner = self.lock();
        let now = Instant::now();
        inner.retain(|_, (_, touched)| now.duration_since(*touched) < self.idle);
        while inner.len() >= self.max {
            let Some(idlest) = inner
                .iter()
                .min_by_key(|(_, (_, touched))| *touched)
                .map(|(id, _)| id.clone())
            else {
                break;
            };
            inner.remove(&idlest);
        }
        inner.insert(id, (shared.clone(), now));
        shared
    }

    /// The session with this id, marked as active; `None` when unknown or expired.
    pub fn get(&self, id: &str) -> Option<SharedSession> {
        let mut inner = self.lock();
        let now = Instant::now();
        let (session, touched) = inner.get_mut(id)?;
        if now.duration_since(*touched) >= self.idle {
            inner.remove(id);
            return None;
        }
        *touched = now;
        Some(session.clone())
    }

    /// Closes a session; true when it existed.
    pub fn remove(&self, id: &str) -> bool {
        self.lock().remove(id).is_some()
    }

    /// Open sessions (for metrics and tests).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (SharedSession, Instant)>> {
        // A panic while holding this lock cannot leave the map half-changed.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(session: &mut Session, text: &str) {
        session.turns += 1;
        session.cart.push(text.to_owned());
    }

    #[test]
    fn a_replaced_speculative_turn_leaves_no_trace() {
        let mut session = Session::new("s".into(), "k".into(), None);
        session.begin_turn(None, None);
        said(&mut session, "a shirt");
        session.begin_turn(Some(2), None);
        said(&mut session, "yes");
        // She went on: "yes, in medium" replaces "yes".
        session.begin_turn(None, Some(2));
        assert_eq!(
            (session.turns, session.cart.clone()),
            (1, vec!["a shirt".into()])
        );
        assert!(session.before_speculative.is_none());
    }

    #[test]
    fn a_speculative_turn_that_stands_is_kept() {
        let mut session = Session::new("s".into(), "k".into(), None);
        session.begin_turn(Some(1), None);
        said(&mut session, "a shirt");
        session.begin_turn(Some(2), None);
        said(&mut session, "the second one");
        assert_eq!(session.turns, 2);
        // Turn 3 was prepared but never reached the dialogue; turn 2 stood.
        session.begin_turn(None, Some(3));
        assert_eq!(session.turns, 2);
        assert!(session.before_speculative.is_none());
    }
}
