//! Every installed model hashes to its pin and opens in its real runtime (or, where
//! that runtime lives in another service's crate, its header parses with the model's
//! own numbers).

mod common;

use common::{entry, models_dir};
use models::formats::{WhisperHparams, read_gguf_summary, read_whisper_hparams};
use models::{Manifest, verify_model};

#[test]
fn every_manifest_model_is_installed_and_matches_its_pinned_hashes() {
    for model in &Manifest::builtin().models {
        let paths = verify_model(&models_dir(), model).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(paths.len(), model.files.len());
    }
}

#[test]
fn converted_whisper_file_has_tiny_en_hyperparameters() {
    let paths = verify_model(&models_dir(), &entry("whisper-tiny.en")).unwrap();
    let hparams = read_whisper_hparams(&paths[0]).unwrap();
    let tiny_en = WhisperHparams {
        n_vocab: 51864,
        n_audio_ctx: 1500,
        n_audio_state: 384,
        n_audio_head: 6,
        n_audio_layer: 4,
        n_text_ctx: 448,
        n_text_state: 384,
        n_text_head: 6,
        n_text_layer: 4,
        n_mels: 80,
        ftype: 1,
    };
    assert_eq!(hparams, tiny_en);
}

#[test]
fn smollm2_gguf_is_a_llama_chat_model() {
    let paths = verify_model(&models_dir(), &entry("smollm2-135m-instruct-q4_1")).unwrap();
    let summary = read_gguf_summary(&paths[0]).unwrap();
    assert_eq!(summary.architecture.as_deref(), Some("llama"));
    assert!(
        summary.has_chat_template,
        "the dialogue needs the model's ChatML template"
    );
    assert!(summary.tensor_count > 100, "{summary:?}");
}

#[test]
fn minilm_safetensors_has_384_wide_bert_weights() {
    let paths = verify_model(&models_dir(), &entry("all-minilm-l6-v2")).unwrap();
    let bytes = std::fs::read(&paths[0]).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let embeddings = tensors.tensor("embeddings.word_embeddings.weight").unwrap();
    assert_eq!(embeddings.shape()[1], 384);
    let tokenizer: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&paths[1]).unwrap()).unwrap();
    assert!(
        tokenizer["model"]["vocab"]["shirt"].is_number(),
        "the tokenizer knows the word 'shirt'"
    );
}

#[test]
fn onnx_models_open_in_the_installed_onnx_runtime() {
    let runtime = verify_model(&models_dir(), &entry("onnxruntime")).unwrap();
    assert!(
        ort::init_from(&runtime[0]).unwrap().commit(),
        "ONNX Runtime loaded from {}",
        runtime[0].display()
    );

    let inputs_of = |name: &str, index: usize| -> Vec<String> {
        let paths = verify_model(&models_dir(), &entry(name)).unwrap();
        let session = ort::session::Session::builder()
            .unwrap()
            .commit_from_file(&paths[index])
            .unwrap();
        session
            .inputs()
            .iter()
            .map(|input| input.name().to_string())
            .collect()
    };
    // Piper voices take phoneme ids, their lengths and the noise/length scales.
    assert_eq!(
        inputs_of("piper-en_US-joe-medium", 0),
        ["input", "input_lengths", "scales"]
    );
    // BlazeFace front model: one 128x128 image input.
    assert_eq!(inputs_of("blazeface", 0).len(), 1);
    // Silero VAD v5: audio, recurrent state, sample rate.
    assert_eq!(inputs_of("silero-vad-v5", 0), ["input", "state", "sr"]);
}
