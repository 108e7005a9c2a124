//! The voice service: speech to text on whisper.cpp (through whisper-rs) and text to
//! speech on piper (through piper-rs). Only this crate links whisper.cpp: llama.cpp
//! carries its own copy of ggml and the two cannot share a binary.
//!
//! Shape: [`load`] verifies and loads the models, [`app`] builds the router, and
//! [`run`] serves it until shutdown — so tests start the whole service on port 0.

pub mod audio;
pub mod cpu;
pub mod onnxruntime;
pub mod quality;
pub mod stream;
pub mod stt;
pub mod transcriptions;
pub mod tts;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::routing::post;
use models::{ModelError, verify_installed};
use service_kit::config::{Config, VoiceConfig};
use service_kit::health::Readiness;
use service_kit::server::Server;
use tokio::net::TcpListener;

use crate::stream::{StreamError, StreamState};
use crate::stt::{SpeechToText, SttError, SttPool};
use crate::tts::{TtsEngine, TtsError};

/// What the handlers share: the loaded models and the voice settings.
#[derive(Clone)]
pub struct AppState {
    /// Speech recognition behind its bounded pool.
    pub stt: SttPool,
    /// Speech synthesis with the configured voices, behind its bounded pool.
    pub tts: TtsEngine,
    /// Streaming recognition: voice activity, end of turn, partials.
    pub stream: StreamState,
    /// The voice section of the configuration (limits, timings).
    pub config: Arc<VoiceConfig>,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A model is missing, corrupted or not in the manifest.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A configured model name is not in the manifest.
    #[error(
        "voice.{field}: no model named {name:?} in the manifest (see `cargo run -p models -- list`)"
    )]
    UnknownModel {
        /// The config field.
        field: &'static str,
        /// The name given.
        name: String,
    },
    /// whisper.cpp refused the model.
    #[error(transparent)]
    Stt(#[from] SttError),
    /// A piper voice or espeak-ng's data could not be loaded.
    #[error(transparent)]
    Tts(#[from] TtsError),
    /// The voice-activity model could not be loaded.
    #[error(transparent)]
    Stream(#[from] StreamError),
}

/// The verified path of the first file of a manifest model.
pub fn model_path(
    models_dir: &std::path::Path,
    field: &'static str,
    name: &str,
) -> Result<PathBuf, StartError> {
    match verify_installed(models_dir, name) {
        Ok(mut paths) => Ok(paths.remove(0)),
        // Name the config field, which is what the operator has to fix.
        Err(ModelError::UnknownModel { name }) => Err(StartError::UnknownModel { field, name }),
        Err(error) => Err(error.into()),
    }
}

/// Verifies and loads the models named in the config.
pub fn load(config: &Config) -> Result<AppState, StartError> {
    let voice = &config.voice;
    let whisper = model_path(&config.models_dir, "stt_model", &voice.stt_model)?;
    let stt = SttPool::new(
        SpeechToText::load(&whisper, voice.threads)?,
        voice.stt_workers,
        voice.stt_queue,
    );
    let tts = TtsEngine::load(voice, &config.models_dir)?;
    let stream = StreamState::load(stt.clone(), &config.models_dir, voice)?;
    Ok(AppState {
        stt,
        tts,
        stream,
        config: Arc::new(voice.clone()),
    })
}

/// The service's routes (the common layers and operational routes are added by
/// service-kit's `Server`).
pub fn app(state: AppState) -> Router {
    let speech = tts::router(state.tts.clone());
    let streaming = stream::router(state.stream.clone());
    Router::new()
        .route("/v1/audio/transcriptions", post(transcriptions::transcribe))
        .with_state(state)
        .merge(speech)
        .merge(streaming)
}

/// Loads the models, then serves until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let readiness = Readiness::new();
    let models_loaded = readiness.add_flag("models_loaded");
    let loading = config.clone();
    let state = tokio::task::spawn_blocking(move || load(&loading))
        .await
        .map_err(|e| RunError::Io(std::io::Error::other(e)))??;
    models_loaded.set(true);
    Server::new()
        .with_readiness(readiness)
        .with_body_limit(config.voice.max_upload_bytes)
        .run(listener, app(state), shutdown)
        .await
        .map_err(RunError::Io)
}

/// Why [`run`] stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Start-up failed.
    #[error(transparent)]
    Start(#[from] StartError),
    /// Serving failed.
    #[error("serving failed: {0}")]
    Io(#[from] std::io::Error),
}
