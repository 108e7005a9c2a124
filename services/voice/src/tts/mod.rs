//! Text to speech with piper: normalisation, sentence streaming, cancellation.

pub mod normalise;
pub mod sentences;
