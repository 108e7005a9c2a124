//! The `dialogue` service: understands what the customer says and answers as a good
//! sales assistant would, from catalogue facts only.
//!
//! - [`llm`]: the language model, llama.cpp in-process or an OpenAI-compatible server.
//! - [`rules`]: the rule-based understanding (the fallback, and the check on the model).
//! - [`understand`]: the model's grammar-constrained tool choice, validated.
//! - [`tools`]: the catalog calls a turn may make (the allow-list).
//! - [`grounding`]: the check that a reply mentions only facts tools returned.
//! - [`session`] and [`turn`]: conversations and one turn of one.
//! - [`http`]: the session API and `POST /v1/chat/completions`.
//!
//! Shape: [`load`] verifies and loads the model, [`app`] builds the router, [`run`]
//! serves until shutdown, so tests start the whole service on port 0.

pub mod error;
pub mod grounding;
pub mod http;
pub mod llm;
pub mod rules;
pub mod session;
pub mod tools;
pub mod turn;
pub mod understand;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use models::{ModelError, verify_installed};
use protocol::Service;
use service_kit::config::{Config, DialogueConfig, LlmBackend};
use service_kit::health::Readiness;
use service_kit::server::Server;
use tokio::net::TcpListener;

use crate::llm::{LanguageModel, LlmError, LocalModel, LocalModelSettings, RemoteModel};
use crate::session::Sessions;
use crate::tools::Catalog;

/// What a turn needs: the model, the catalog and the settings.
pub struct Dialogue {
    /// The language model.
    pub model: LanguageModel,
    /// The catalog (every tool).
    pub catalog: Catalog,
    /// The dialogue section of the configuration.
    pub config: DialogueConfig,
}

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// Model, tools and settings.
    pub dialogue: Arc<Dialogue>,
    /// Open conversations.
    pub sessions: Arc<Sessions>,
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The model file is missing, corrupted or not in the manifest.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// llama.cpp could not load the model or build the prompt cache.
    #[error(transparent)]
    Llm(#[from] LlmError),
}

/// Why [`run`] stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Start-up failed.
    #[error(transparent)]
    Start(#[from] StartError),
    /// Serving failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Verifies and loads the configured model, warming the prompt cache with the system
/// prompts every turn starts with.
pub fn load_model(config: &Config) -> Result<LanguageModel, StartError> {
    let dialogue = &config.dialogue;
    Ok(match dialogue.backend {
        LlmBackend::Local => {
            let path = verify_installed(&config.models_dir, &dialogue.model)?.remove(0);
            LanguageModel::Local(LocalModel::load(LocalModelSettings {
                path,
                name: dialogue.model.clone(),
                threads: dialogue.threads,
                context_tokens: dialogue.context_tokens,
                queue: dialogue.queue,
                warm_prefixes: vec![
                    understand::prompt_prefix(),
                    vec![turn::reply_system_prompt()],
                ],
            })?)
        }
        LlmBackend::Remote => LanguageModel::Remote(RemoteModel::new(
            dialogue.remote_url.as_deref().unwrap_or_default(),
            &dialogue.remote_model,
            dialogue.remote_api_key.as_deref(),
        )?),
    })
}

/// Builds the shared state around a loaded model.
pub fn state(config: &Config, model: LanguageModel) -> AppState {
    let dialogue = &config.dialogue;
    let catalog = Catalog::new(
        &config.url_of(Service::Catalog),
        config.catalog.service_token.clone(),
        Duration::from_millis(dialogue.tool_timeout_ms),
    );
    AppState {
        dialogue: Arc::new(Dialogue {
            model,
            catalog,
            config: dialogue.clone(),
        }),
        sessions: Arc::new(Sessions::new(
            dialogue.max_sessions,
            Duration::from_secs(dialogue.session_idle_secs),
        )),
    }
}

/// The service's routes (service-kit's `Server` adds the common layers).
pub fn app(state: AppState) -> Router {
    http::router(state)
}

/// Loads the model, then serves until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let readiness = Readiness::new();
    let model_loaded = readiness.add_flag("model_loaded");
    let loading = config.clone();
    let model = tokio::task::spawn_blocking(move || load_model(&loading))
        .await
        .map_err(|e| RunError::Io(std::io::Error::other(e)))??;
    model_loaded.set(true);
    let body_limit = config.dialogue.max_input_chars * 4 + 64 * 1024;
    Server::new()
        .with_readiness(readiness)
        .with_body_limit(body_limit)
        .run(listener, app(state(&config, model)), shutdown)
        .await
        .map_err(RunError::Io)
}
