//! The `tryon` service: shows the customer wearing a garment she chose, and draws
//! garment images from a description.
//!
//! - Request images are checked and decoded by the shared `image-input` crate (JPEG/PNG
//!   only, size checked from the header before decoding, allocation limits).
//! - [`face`], [`body`], [`mask`]: her face (Haar cascade), the body placed below it,
//!   her outline (GrabCut) and her hands (skin like her face's).
//! - [`garment`], [`tps`], [`shade`], [`compose`]: the garment picture, matched to her
//!   body point by point and warped with a thin-plate spline, occluded, shaded by the
//!   light and folds of what she wears, and blended.
//! - [`generate`]: OpenAI-compatible image generation by the catalogue's own garment
//!   templates, or a remote OpenAI-compatible server with the templates as fallback.
//! - [`http`]: the API.
//!
//! Shape: [`load_detector`] loads the face cascade, [`state`] builds what handlers
//! share, [`app`] the router, [`run`] serves until shutdown, so tests start the whole
//! service on port 0.

pub mod body;
pub mod compose;
pub mod error;
pub mod face;
pub mod garment;
pub mod generate;
pub mod http;
pub mod mask;
pub mod metrics;
pub mod shade;
pub mod tps;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use protocol::Service;
use service_kit::client::ServiceClient;
use service_kit::config::{Config, ImageBackend, TryonConfig};
use service_kit::health::Readiness;
use service_kit::server::Server;
use service_kit::workers::BoundedWorkers;
use tokio::net::TcpListener;

use crate::face::{CascadeError, FaceDetector};
use crate::generate::{ImageStore, RemoteImages};
use image_input::ImageLimits;

/// What every request shares.
pub struct Tryon {
    /// The try-on section of the configuration.
    pub config: TryonConfig,
    /// One face cascade per worker.
    pub detector: FaceDetector,
    /// Bounds the pixel work: `workers` at once, `queue` waiting, the rest get 503.
    pub workers: BoundedWorkers,
    /// The catalog (products and their images).
    pub catalog: ServiceClient,
    /// The remote image server, when `image_backend = remote`.
    pub remote: Option<RemoteImages>,
    /// Generated images served by URL.
    pub store: ImageStore,
    /// This service's own URL, for image URLs when a request names no host.
    pub fallback_url: String,
}

impl Tryon {
    /// Size limits of photos and garment pictures.
    pub fn limits(&self) -> ImageLimits {
        ImageLimits {
            max_pixels: self.config.max_image_pixels,
            max_side: self.config.max_image_side,
        }
    }
}

/// The handlers' state. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Shared settings, models and clients.
    pub tryon: Arc<Tryon>,
}

/// Why [`run`] stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The face cascade could not be loaded.
    #[error(transparent)]
    Cascade(#[from] CascadeError),
    /// Serving failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Loads the configured face cascade, one copy per worker.
pub fn load_detector(config: &Config) -> Result<FaceDetector, CascadeError> {
    FaceDetector::load(&config.tryon.face_cascade, config.tryon.workers)
}

/// Builds the shared state around a loaded detector.
pub fn state(config: &Config, detector: FaceDetector) -> AppState {
    let tryon = &config.tryon;
    let remote = match (tryon.image_backend, &tryon.remote_url) {
        (ImageBackend::Remote, Some(url)) => Some(RemoteImages::new(
            url,
            &tryon.remote_model,
            tryon.remote_api_key.clone(),
            Duration::from_millis(tryon.remote_timeout_ms),
            tryon.max_generated_side,
        )),
        _ => None,
    };
    AppState {
        tryon: Arc::new(Tryon {
            config: tryon.clone(),
            detector,
            workers: BoundedWorkers::new(tryon.workers, tryon.queue),
            catalog: ServiceClient::new(
                &config.url_of(Service::Catalog),
                config.catalog.service_token.clone(),
                Duration::from_millis(tryon.catalog_timeout_ms),
            ),
            remote,
            store: ImageStore::new(
                tryon.stored_images,
                Duration::from_secs(tryon.stored_image_ttl_secs),
            ),
            fallback_url: config.url_of(Service::Tryon),
        }),
    }
}

/// The service's routes (service-kit's `Server` adds the common layers).
pub fn app(state: AppState) -> Router {
    http::router(state)
}

/// Loads the face cascade, then serves until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let readiness = Readiness::new();
    let loaded = readiness.add_flag("face_cascade_loaded");
    let loading = config.clone();
    let detector = tokio::task::spawn_blocking(move || load_detector(&loading))
        .await
        .map_err(|e| RunError::Io(std::io::Error::other(e)))??;
    loaded.set(true);
    Server::new()
        .with_readiness(readiness)
        .with_body_limit(config.tryon.max_body_bytes)
        .run(listener, app(state(&config, detector)), shutdown)
        .await
        .map_err(RunError::Io)
}
