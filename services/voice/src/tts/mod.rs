//! Text to speech with piper: shop-text normalisation, sentence-by-sentence
//! synthesis behind a bounded pool, and the HTTP/WebSocket routes.
//!
//! The pipeline for a reply: [`sentences::split_sentences`] on the text as written
//! (captions), then per sentence [`normalise::normalise`] → espeak-ng phonemes
//! ([`espeak`]) → a piper voice on ONNX Runtime ([`TtsEngine`]).

mod engine;
pub mod error;
pub mod espeak;
pub mod http;
pub mod normalise;
pub mod sentences;

pub use engine::{Admission, OPENAI_VOICES, SPEED_RANGE, TtsEngine, VoiceId};
pub use error::TtsError;
pub use http::router;
