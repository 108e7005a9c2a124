//! The `catalog` service: products, live inventory and consenting customers; the only
//! owner of the vector store.
//!
//! - [`store`]: the vector store, embedded Qdrant engine or Qdrant server.
//! - [`embed`]: text embeddings for search and `POST /v1/embeddings`.
//! - [`products`]: products, search and live inventory.
//! - [`customers`]: consenting customers, face identification, forget and export.
//! - [`recommend`] and [`pairing`]: "goes with" suggestions and their rules.
//! - [`ingest`]: loading a store's catalogue from JSON or CSV, with every bad row reported.
//! - [`http`]: the HTTP API, with its keys.
//! - [`fixtures`]: the generated fixture catalogue (`fixtures/catalog/products.json`)
//!   and the product images drawn from it.

pub mod customers;
pub mod embed;
pub mod error;
pub mod fixtures;
pub mod http;
pub mod ingest;
pub mod pairing;
pub mod products;
pub mod recommend;
pub mod store;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use service_kit::config::{Config, ConfigError, StoreBackend};
use service_kit::health::Readiness;
use service_kit::server::Server;
use tokio::net::TcpListener;

use crate::customers::Customers;
use crate::embed::{EmbedError, EmbedLimits, EmbedPool, Embedder};
use crate::error::CatalogError;
use crate::products::Products;
use crate::store::{Collection, CollectionSpec, StoreError};

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// Products and inventory.
    pub products: Arc<Products>,
    /// Consenting customers.
    pub customers: Arc<Customers>,
    /// Bearer key of the admin endpoints.
    pub admin_key: Arc<str>,
    /// Bearer token of the service endpoints.
    pub service_token: Arc<str>,
}

/// Why the catalog could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A required setting is missing or wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The embedding model is missing or broken.
    #[error(transparent)]
    Embed(#[from] EmbedError),
    /// The vector store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The seed catalogue could not be read or loaded.
    #[error("seed file {path}: {message}")]
    Seed {
        /// The configured seed file.
        path: String,
        /// What went wrong.
        message: String,
    },
}

/// Why serving stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Start-up failed.
    #[error(transparent)]
    Start(#[from] StartError),
    /// The listener failed.
    #[error("serving failed: {0}")]
    Io(#[from] std::io::Error),
}

async fn open_collection(config: &Config, spec: CollectionSpec) -> Result<Collection, StoreError> {
    let catalog = &config.catalog;
    match catalog.store {
        StoreBackend::Embedded => {
            let dir = config.data_dir.join("catalog");
            tokio::task::spawn_blocking(move || store::edge::EdgeCollection::open(&dir, spec))
                .await
                .map_err(|e| StoreError::Backend {
                    backend: "embedded",
                    message: e.to_string(),
                })?
                .map(Collection::Edge)
        }
        StoreBackend::Server => {
            let url = catalog.qdrant_url.as_deref().unwrap_or_default();
            store::server::connect(
                url,
                catalog.qdrant_api_key.as_deref(),
                &catalog.collection_prefix,
                spec,
            )
            .await
            .map(Collection::Server)
        }
    }
}

/// Loads the embedder and opens the store; does not serve.
pub async fn open(config: &Config) -> Result<AppState, StartError> {
    let catalog = &config.catalog;
    let (admin_key, service_token) = catalog.secrets()?;
    let (admin_key, service_token) = (Arc::from(admin_key), Arc::from(service_token));
    let models_dir = config.models_dir.clone();
    let threads = catalog.embed_threads;
    let embedder = tokio::task::spawn_blocking(move || Embedder::load(&models_dir, threads))
        .await
        .map_err(|e| EmbedError::Load(e.to_string()))??;
    let pool = EmbedPool::new(
        Arc::new(embedder),
        EmbedLimits {
            workers: 1,
            queue: catalog.embed_queue,
        },
    );
    // The embedded store names collections by folder; the prefix only matters when
    // several stores share a Qdrant server.
    let prefix = match catalog.store {
        StoreBackend::Embedded => "",
        StoreBackend::Server => catalog.collection_prefix.as_str(),
    };
    let products = open_collection(config, products::collection_spec(prefix)).await?;
    let records = open_collection(config, customers::customers_spec(prefix)).await?;
    let faces = open_collection(
        config,
        customers::faces_spec(prefix, catalog.face_embedding_dim),
    )
    .await?;
    Ok(AppState {
        products: Arc::new(Products::new(
            products,
            pool,
            catalog.events_buffer,
            catalog.max_search_limit,
        )),
        customers: Arc::new(Customers::new(
            records,
            faces,
            catalog.face_match_max_distance,
        )),
        admin_key,
        service_token,
    })
}

/// Loads the configured seed catalogue when the store holds no products yet.
pub async fn seed_if_empty(state: &AppState, config: &Config) -> Result<(), StartError> {
    let Some(path) = &config.catalog.seed_file else {
        return Ok(());
    };
    let seed_error = |message: String| StartError::Seed {
        path: path.display().to_string(),
        message,
    };
    if state
        .products
        .count()
        .await
        .map_err(|e| seed_error(e.to_string()))?
        > 0
    {
        return Ok(());
    }
    let format = ingest::Format::from_path(path)
        .ok_or_else(|| seed_error("name it .json or .csv".into()))?;
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| seed_error(e.to_string()))?;
    let report = http::ingest_bytes(state, &bytes, format, true)
        .await
        .map_err(|e: CatalogError| seed_error(e.to_string()))?;
    tracing::info!(
        loaded = report.loaded,
        rejected = report.rejected.len(),
        "seed catalogue loaded"
    );
    Ok(())
}

/// The catalog's routes on `state` (health, metrics and limits are added by
/// `service_kit::server::Server`).
pub fn app(state: AppState) -> Router {
    http::router(state)
}

/// Serves the catalog on `listener` until `shutdown` completes. `/readyz` reports ready
/// once the model is loaded, the store is open and the seed catalogue (if any) is in.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    let readiness = Readiness::new();
    let store_open = readiness.add_flag("store_open");
    let state = open(&config).await?;
    seed_if_empty(&state, &config).await?;
    store_open.set(true);
    Server::new()
        .with_readiness(readiness)
        .with_body_limit(config.catalog.max_body_bytes)
        .run(listener, app(state), shutdown)
        .await
        .map_err(RunError::Io)
}
