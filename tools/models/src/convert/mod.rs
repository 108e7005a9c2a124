//! Format conversions the project does itself, in Rust, so that model supply needs no
//! Python stack: CTranslate2 whisper exports to whisper.cpp's ggml file.

pub mod ctranslate2;
pub mod mel;
pub mod whisper;
