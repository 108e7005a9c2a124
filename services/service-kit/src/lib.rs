//! What every service shares: layered config, calls to other services, telemetry and metrics, JSON errors,
//! request ids, health and readiness, and serving with graceful shutdown.
//!
//! A service's `main` is typically:
//! ```no_run
//! # async fn main_() -> anyhow::Result<()> {
//! use service_kit::{config::Config, server, health::Readiness, telemetry};
//! let config = Config::load()?;
//! telemetry::init(&config.telemetry, "voice")?;
//! let readiness = Readiness::new();
//! let models = readiness.add_flag("models_loaded");
//! let app = axum::Router::new(); // the service's routes
//! let listener = tokio::net::TcpListener::bind(config.listen_addr(protocol::Service::Voice)).await?;
//! models.set(true);
//! server::Server::new()
//!     .with_readiness(readiness)
//!     .run(listener, app, server::shutdown_signal())
//!     .await?;
//! # Ok(()) }
//! ```

pub mod auth;
pub mod client;
pub mod config;
pub mod error;
pub mod health;
#[cfg(feature = "otlp")]
pub mod otlp;
pub mod request_id;
pub mod server;
pub mod telemetry;
pub mod workers;

pub use config::Config;
pub use error::{ApiError, ApiErrorCode};
pub use request_id::{RequestId, X_REQUEST_ID};
