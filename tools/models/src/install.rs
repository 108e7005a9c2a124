//! Installing and verifying models. Idempotent (an installed, verified model is left
//! alone and nothing is downloaded) and atomic (files are written under a `.partial`
//! name, verified, then renamed, so an interrupted run never leaves a file that
//! passes as valid).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::ModelError;
use crate::archive::{copy_member, extract_folder};
use crate::convert::whisper;
use crate::fetch::{ArtifactSource, fetch_artifact};
use crate::formats;
use crate::hashing::{HashingWriter, sha256_file};
use crate::manifest::{ConversionKind, ModelEntry, ModelFile};
use crate::progress::Progress;

/// What `install` did for one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every file was present and verified; nothing was fetched.
    AlreadyInstalled,
    /// At least one file was (re)installed from the artifact.
    Installed,
}

/// Installs the models of a manifest into a models directory.
pub struct Installer {
    /// Where installed files go (`<dir>/<file.path>`).
    pub models_dir: PathBuf,
    /// Where downloaded artifacts are kept, so a re-install needs no download.
    pub cache_dir: PathBuf,
    /// Registries or a mirror folder.
    pub source: ArtifactSource,
    /// How progress is shown.
    pub progress: Progress,
}

impl Installer {
    /// An installer with the artifact cache inside the models directory.
    pub fn new(
        models_dir: impl Into<PathBuf>,
        source: ArtifactSource,
        progress: Progress,
    ) -> Installer {
        let models_dir = models_dir.into();
        Installer {
            cache_dir: models_dir.join(".artifacts"),
            models_dir,
            source,
            progress,
        }
    }

    /// Makes sure every file of `entry` is installed and verified.
    pub fn install(&self, entry: &ModelEntry) -> Result<Outcome, ModelError> {
        let broken: Vec<&ModelFile> = entry
            .files
            .iter()
            .filter(
                |file| match verify_file(&self.models_dir, entry, file, &self.progress) {
                    Ok(_) => false,
                    Err(ModelError::Missing { .. }) => true,
                    Err(error) => {
                        self.progress.line(&format!("{error}; installing it again"));
                        true
                    }
                },
            )
            .collect();
        if broken.is_empty() {
            return Ok(Outcome::AlreadyInstalled);
        }
        let artifact = fetch_artifact(entry, &self.cache_dir, &self.source, &self.progress)?;
        match &entry.convert {
            Some(conversion) => self.install_converted(
                entry,
                conversion.kind,
                &conversion.from,
                &artifact,
                &broken,
            )?,
            None => {
                for file in broken {
                    self.install_extracted(entry, file, &artifact)?;
                }
            }
        }
        Ok(Outcome::Installed)
    }

    fn install_extracted(
        &self,
        entry: &ModelEntry,
        file: &ModelFile,
        artifact: &Path,
    ) -> Result<(), ModelError> {
        let member = file.from.as_deref().unwrap_or_default();
        let target = self.models_dir.join(&file.path);
        let partial = partial_path(&target)?;
        let bar = self
            .progress
            .bytes(&format!("extract {}", file.path), file.size);
        let mut writer = HashingWriter::new(BufWriter::new(create(&partial)?), bar.clone());
        let found = copy_member(artifact, member, &mut writer)?;
        bar.finish_and_clear();
        if !found {
            let _ = std::fs::remove_file(&partial);
            return Err(ModelError::MissingMember {
                model: entry.name.clone(),
                member: member.to_string(),
                artifact: entry.source.artifact.clone(),
            });
        }
        let (out, seen, _) = writer.finish();
        let handle = out.into_file().map_err(ModelError::io(&partial))?;
        self.commit(entry, file, &partial, &target, handle, seen)
    }

    fn install_converted(
        &self,
        entry: &ModelEntry,
        kind: ConversionKind,
        from: &str,
        artifact: &Path,
        outputs: &[&ModelFile],
    ) -> Result<(), ModelError> {
        let inputs =
            tempfile::tempdir_in(&self.cache_dir).map_err(ModelError::io(&self.cache_dir))?;
        extract_folder(artifact, from, inputs.path())?;
        for file in outputs {
            let target = self.models_dir.join(&file.path);
            let partial = partial_path(&target)?;
            let bar = self
                .progress
                .bytes(&format!("convert {}", file.path), file.size);
            let mut writer = HashingWriter::new(BufWriter::new(create(&partial)?), bar.clone());
            let converted = match kind {
                ConversionKind::WhisperCtranslate2ToGgml => {
                    whisper::convert(inputs.path(), &mut writer)
                }
            };
            bar.finish_and_clear();
            if let Err(reason) = converted {
                let _ = std::fs::remove_file(&partial);
                return Err(ModelError::Convert {
                    model: entry.name.clone(),
                    reason,
                });
            }
            let (out, seen, _) = writer.finish();
            let handle = out.into_file().map_err(ModelError::io(&partial))?;
            self.commit(entry, file, &partial, &target, handle, seen)?;
        }
        Ok(())
    }

    /// Checks the written file's hash and structure, syncs it and renames it into place.
    fn commit(
        &self,
        entry: &ModelEntry,
        file: &ModelFile,
        partial: &Path,
        target: &Path,
        handle: File,
        seen: String,
    ) -> Result<(), ModelError> {
        if seen != file.sha256 {
            let _ = std::fs::remove_file(partial);
            return Err(ModelError::HashMismatch {
                model: entry.name.clone(),
                what: file.path.clone(),
                expected: file.sha256.clone(),
                seen,
                fix: "The installed file would differ from the pinned one (a different artifact \
                      or converter); the file was not installed.",
            });
        }
        handle.sync_all().map_err(ModelError::io(partial))?;
        drop(handle);
        formats::check(file.format, partial).map_err(|reason| ModelError::Format {
            model: entry.name.clone(),
            path: target.to_path_buf(),
            format: file.format.to_string(),
            reason,
        })?;
        std::fs::rename(partial, target).map_err(ModelError::io(target))?;
        self.progress
            .line(&format!("{}: installed {}", entry.name, file.path));
        Ok(())
    }
}

/// Verifies every file of a model: present, right size, right sha256, right structure.
/// Services call this before loading a model.
pub fn verify_model(models_dir: &Path, entry: &ModelEntry) -> Result<Vec<PathBuf>, ModelError> {
    let progress = Progress::plain();
    entry
        .files
        .iter()
        .map(|file| verify_file(models_dir, entry, file, &progress))
        .collect()
}

/// Looks `name` up in the built-in manifest and verifies its installed files: what a
/// service calls before loading a model. Returns the files' paths in manifest order.
pub fn verify_installed(models_dir: &Path, name: &str) -> Result<Vec<PathBuf>, ModelError> {
    let manifest = crate::Manifest::builtin();
    let entry = manifest.get(name).ok_or_else(|| ModelError::UnknownModel {
        name: name.to_string(),
    })?;
    verify_model(models_dir, entry)
}

/// Verifies one installed file; returns its path.
pub fn verify_file(
    models_dir: &Path,
    entry: &ModelEntry,
    file: &ModelFile,
    progress: &Progress,
) -> Result<PathBuf, ModelError> {
    let path = models_dir.join(&file.path);
    let metadata = match std::fs::metadata(&path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ModelError::Missing {
                model: entry.name.clone(),
                path,
            });
        }
        Err(e) => return Err(ModelError::io(&path)(e)),
    };
    if metadata.len() != file.size {
        return Err(ModelError::SizeMismatch {
            model: entry.name.clone(),
            path,
            expected: file.size,
            seen: metadata.len(),
        });
    }
    let bar = progress.bytes(&format!("verify {}", file.path), file.size);
    let seen = sha256_file(&path, &bar)?;
    bar.finish_and_clear();
    if seen != file.sha256 {
        return Err(ModelError::HashMismatch {
            model: entry.name.clone(),
            what: path.display().to_string(),
            expected: file.sha256.clone(),
            seen,
            fix: "The file is corrupted: run `cargo run -p models -- install` to fetch it again.",
        });
    }
    formats::check(file.format, &path).map_err(|reason| ModelError::Format {
        model: entry.name.clone(),
        path: path.clone(),
        format: file.format.to_string(),
        reason,
    })?;
    Ok(path)
}

fn partial_path(target: &Path) -> Result<PathBuf, ModelError> {
    let parent = target.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(ModelError::io(parent))?;
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    Ok(target.with_file_name(name))
}

fn create(path: &Path) -> Result<File, ModelError> {
    File::create(path).map_err(ModelError::io(path))
}

/// Flushes a buffered writer and hands back its file, for `sync_all` before the rename.
trait IntoFile {
    fn into_file(self) -> std::io::Result<File>;
}

impl IntoFile for BufWriter<File> {
    fn into_file(mut self) -> std::io::Result<File> {
        self.flush()?;
        self.into_inner().map_err(|e| e.into_error())
    }
}
