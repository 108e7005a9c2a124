//! The whisper model that `models install` converted from CTranslate2 to ggml loads in
//! whisper.cpp and transcribes a spoken sentence.

#![allow(clippy::unwrap_used)] // test helpers: a failed set-up should stop the test loudly

use std::path::{Path, PathBuf};

use models::{MODELS_DIR_ENV, Manifest, verify_model};
use voice::quality::word_error_rate;
use voice::stt::{SAMPLE_RATE, SpeechToText, TranscribeOptions};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn models_dir() -> PathBuf {
    std::env::var_os(MODELS_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("models"))
}

fn read_wav_16k_mono(path: &Path) -> Vec<f32> {
    let mut reader = hound::WavReader::open(path).unwrap();
    let spec = reader.spec();
    assert_eq!(
        (spec.sample_rate, spec.channels, spec.bits_per_sample),
        (SAMPLE_RATE, 1, 16)
    );
    reader
        .samples::<i16>()
        .map(|s| f32::from(s.unwrap()) / 32768.0)
        .collect()
}

#[test]
fn converted_whisper_model_transcribes_a_spoken_request() {
    let manifest = Manifest::builtin();
    let entry = manifest.get("whisper-tiny.en").unwrap();
    let paths = verify_model(&models_dir(), entry).unwrap_or_else(|e| panic!("{e}"));

    let stt = SpeechToText::load(&paths[0], 2).unwrap();
    // espeak-ng speaking the sentence below (fixtures/audio/README.md).
    let samples = read_wav_16k_mono(&workspace_root().join("fixtures/audio/shirt_request.wav"));
    let segments = stt
        .transcribe(&samples, &TranscribeOptions::default())
        .unwrap()
        .segments;
    let text: Vec<&str> = segments.iter().map(|s| s.text.as_str()).collect();
    let text = text.join(" ");

    let reference = "I am looking for a blue shirt to go with my pink sweater.";
    let wer = word_error_rate(reference, &text);
    println!("heard {text:?} (word error rate {wer:.2})");
    assert!(wer <= 0.15, "word error rate {wer:.2}: heard {text:?}");
    let last = segments.last().unwrap();
    assert!(
        last.end > 2.5 && last.end < 5.0,
        "segment times follow the 3.5 s of audio: {segments:?}"
    );
}
