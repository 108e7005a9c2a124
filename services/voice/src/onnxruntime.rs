//! ONNX Runtime for this process. Piper and the Silero VAD both run on it; it is loaded
//! once, from the library the `models` tool installed and verified (`ort` is built with
//! `load-dynamic`, so nothing is downloaded at build time).

use std::path::Path;
use std::sync::OnceLock;

use models::verify_installed;

/// Manifest name of the ONNX Runtime shared library.
pub const MANIFEST_NAME: &str = "onnxruntime";

/// Verifies and loads ONNX Runtime from `models_dir`; later calls return the first
/// call's outcome. The error says what is wrong and how to fix it.
pub fn init(models_dir: &Path) -> Result<(), String> {
    static RUNTIME: OnceLock<Result<(), String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let paths = verify_installed(models_dir, MANIFEST_NAME).map_err(|e| e.to_string())?;
            let library = paths
                .first()
                .ok_or("the ONNX Runtime entry lists no file")?;
            // `commit` is false only when an environment exists already; the library
            // is loaded either way.
            ort::init_from(library)
                .map(|builder| {
                    builder.with_name("voice").commit();
                })
                .map_err(|e| format!("{}: {e}", library.display()))
        })
        .clone()
}
