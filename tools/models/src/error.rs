//! The errors of model supply. Each names the model, the file and the fix, because
//! the person reading them is a store manager at a terminal, not the author.

use std::path::PathBuf;

/// Everything that can go wrong while fetching, verifying, converting or installing a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The manifest itself is unreadable or inconsistent.
    #[error("model manifest {path}: {message}")]
    Manifest {
        /// The manifest file (or `<built-in>`).
        path: String,
        /// What is wrong, naming the entry and field.
        message: String,
    },
    /// A file or artifact does not hash to what the manifest pins.
    #[error(
        "model {model}: sha256 mismatch for {what}: expected {expected}, saw {seen}. \
         {fix}"
    )]
    HashMismatch {
        /// The manifest entry.
        model: String,
        /// The artifact or installed file that was hashed.
        what: String,
        /// The hash pinned by the manifest.
        expected: String,
        /// The hash of the bytes on disk.
        seen: String,
        /// What to do about it.
        fix: &'static str,
    },
    /// An installed file has the wrong size: truncated by an interrupted copy or a full disk.
    #[error(
        "model {model}: {path} has {seen} bytes, expected {expected} (truncated or corrupted); \
         run `cargo run -p models -- install` to fetch it again"
    )]
    SizeMismatch {
        /// The manifest entry.
        model: String,
        /// The installed file.
        path: PathBuf,
        /// Size pinned by the manifest.
        expected: u64,
        /// Size on disk.
        seen: u64,
    },
    /// A model name that the manifest does not list (a typo in a config file).
    #[error("no model named {name:?} in the manifest; `cargo run -p models -- list` shows them")]
    UnknownModel {
        /// The name asked for.
        name: String,
    },
    /// An installed file is absent.
    #[error(
        "model {model}: {path} is missing; run `cargo run -p models -- install` (or scripts/setup.sh)"
    )]
    Missing {
        /// The manifest entry.
        model: String,
        /// The file that should be there.
        path: PathBuf,
    },
    /// A file hashes right but its structure does not parse (a wrong manifest entry).
    #[error("model {model}: {path} is not a valid {format}: {reason}")]
    Format {
        /// The manifest entry.
        model: String,
        /// The installed file.
        path: PathBuf,
        /// The expected format.
        format: String,
        /// What the parser found.
        reason: String,
    },
    /// The registry client could not fetch the artifact.
    #[error("model {model}: fetching {artifact} failed: {detail}")]
    Fetch {
        /// The manifest entry.
        model: String,
        /// The artifact file name.
        artifact: String,
        /// The client's output or the missing mirror file, and the fix.
        detail: String,
    },
    /// The artifact lacks a file the manifest says is inside it.
    #[error("model {model}: {member} not found inside {artifact}")]
    MissingMember {
        /// The manifest entry.
        model: String,
        /// The path inside the artifact.
        member: String,
        /// The artifact file name.
        artifact: String,
    },
    /// A format conversion failed.
    #[error("model {model}: conversion failed: {reason}")]
    Convert {
        /// The manifest entry.
        model: String,
        /// What the converter found.
        reason: String,
    },
    /// A file system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl ModelError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> ModelError {
        let path = path.into();
        move |source| ModelError::Io { path, source }
    }
}
