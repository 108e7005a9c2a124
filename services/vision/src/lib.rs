//! The `vision` service: what the kiosk's camera sees.
//!
//! - [`decode`]: request bytes to a frame, bounded (JPEG and PNG only, size checked
//!   from the header first).
//! - [`faces`]: BlazeFace detection (OpenCV dnn) with a Haar cascade fallback, a
//!   quality check, dlib landmarks, alignment and 128-d embeddings.
//! - [`garments`]: colour (k-means in Lab, a retail palette), pattern (texture
//!   statistics) and the matching catalogue products (colour histograms and ORB
//!   features against the catalogue's own images).
//! - [`body`]: where the garments are, from the face's geometry.
//! - [`catalogue`]: the index of catalogue images, kept fresh from the catalog.
//! - [`engine`]: one frame's analysis and the bounded pool of workers running it.
//! - [`http`]: `POST /v1/vision/analyze` and `POST /v1/vision/enrol`.
//!
//! The service stores nothing: identification and enrolment go through the catalog,
//! which owns customer data; frames live only for their request.
//!
//! Shape: [`load`] verifies and loads the models, [`app`] builds the router, [`run`]
//! serves until shutdown, so tests start the whole service on port 0.

pub mod body;
pub mod catalogue;
pub mod decode;
pub mod engine;
pub mod error;
pub mod faces;
pub mod garments;
pub mod http;
pub mod metrics;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use models::ModelError;
use protocol::Service;
use service_kit::client::ServiceClient;
use service_kit::config::{Config, VisionConfig};
use service_kit::health::Readiness;
use service_kit::server::Server;
use tokio::net::TcpListener;

use crate::catalogue::SharedIndex;
use crate::decode::ImageLimits;
use crate::engine::AnalyzerPool;
use crate::error::VisionError;
use crate::faces::{FaceAnalyzer, FaceModelFiles};

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// Workers with their own face models.
    pub pool: Arc<AnalyzerPool>,
    /// The catalog: identification, enrolment, product images.
    pub catalog: ServiceClient,
    /// The catalogue image index (absent until first built).
    pub index: SharedIndex,
    /// The vision section of the configuration.
    pub config: Arc<VisionConfig>,
}

impl AppState {
    /// Image size limits from the configuration.
    pub fn limits(&self) -> ImageLimits {
        ImageLimits {
            max_pixels: self.config.max_image_pixels,
            max_side: self.config.max_image_side,
        }
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A model file is missing, corrupted or not in the manifest.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// OpenCV or dlib could not load a model.
    #[error("loading the face models failed: {0}")]
    Load(#[from] VisionError),
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

/// Verifies the face models against the manifest once and loads one analyzer per
/// worker.
pub fn load(config: &Config) -> Result<Vec<FaceAnalyzer>, StartError> {
    let vision = &config.vision;
    let files = FaceModelFiles::verify(&config.models_dir, vision)?;
    if let Some(path) = files.cascade.as_deref().filter(|p| !p.is_file()) {
        tracing::warn!(path = %path.display(), "Haar cascade not found; no fallback detector (install opencv-data)");
    }
    if vision.workers > 1 {
        // One frame per worker and per core: OpenCV's own thread pool on top would
        // oversubscribe the cores and slow every worker down.
        opencv::core::set_num_threads(1).map_err(VisionError::from)?;
    }
    (0..vision.workers)
        .map(|_| FaceAnalyzer::load(&files, vision).map_err(StartError::from))
        .collect()
}

/// Builds the shared state around loaded analyzers.
pub fn state(config: &Config, analyzers: Vec<FaceAnalyzer>) -> AppState {
    let vision = &config.vision;
    AppState {
        pool: Arc::new(AnalyzerPool::new(analyzers, vision.queue)),
        catalog: ServiceClient::new(
            &config.url_of(Service::Catalog),
            config.catalog.service_token.clone(),
            Duration::from_millis(vision.catalog_timeout_ms),
        ),
        index: SharedIndex::default(),
        config: Arc::new(vision.clone()),
    }
}

/// The service's routes (service-kit's `Server` adds the common layers).
pub fn app(state: AppState) -> Router {
    http::router(state)
}

/// Loads the models, keeps the catalogue index fresh in the background, then serves
/// until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let readiness = Readiness::new();
    let models_loaded = readiness.add_flag("models_loaded");
    let loading = config.clone();
    let analyzers = tokio::task::spawn_blocking(move || load(&loading))
        .await
        .map_err(|e| RunError::Io(std::io::Error::other(e)))??;
    models_loaded.set(true);
    let state = state(&config, analyzers);
    let indexer = tokio::spawn(catalogue::keep_fresh(
        state.catalog.clone(),
        state.index.clone(),
        Duration::from_secs(config.vision.catalogue_refresh_secs),
    ));
    let served = Server::new()
        .with_readiness(readiness)
        .with_body_limit(http::enrol_body_limit(&config.vision))
        .run(listener, app(state), shutdown)
        .await;
    indexer.abort();
    served.map_err(RunError::Io)
}
