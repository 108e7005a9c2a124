//! Shared by the model tests: where the installed models are.

#![allow(clippy::unwrap_used)] // test helpers: a failed set-up should stop the test loudly

use std::path::{Path, PathBuf};

use models::{MODELS_DIR_ENV, Manifest, ModelEntry};

/// The models directory that `scripts/setup.sh` filled (or `SHOP_MODELS_DIR`).
pub fn models_dir() -> PathBuf {
    std::env::var_os(MODELS_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models"))
}

/// A manifest entry by name.
pub fn entry(name: &str) -> ModelEntry {
    Manifest::builtin()
        .get(name)
        .unwrap_or_else(|| panic!("{name} is not in the manifest"))
        .clone()
}
