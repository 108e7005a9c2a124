//! The voice service: speech to text on whisper.cpp (through whisper-rs) and, in later
//! work, text to speech on piper. Only this crate links whisper.cpp: llama.cpp carries
//! its own copy of ggml and the two cannot share a binary.

pub mod quality;
pub mod stt;
