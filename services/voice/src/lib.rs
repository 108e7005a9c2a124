//! The voice service: speech to text on whisper.cpp (through whisper-rs) and text to
//! speech on piper (through piper-rs). Only this crate links whisper.cpp: llama.cpp
//! carries its own copy of ggml and the two cannot share a binary.

pub mod audio;
pub mod quality;
pub mod stream;
pub mod stt;
pub mod tts;
