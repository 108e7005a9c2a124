//! Text to speech with piper: normalisation, sentence streaming, cancellation.
