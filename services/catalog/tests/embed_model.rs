//! all-MiniLM-L6-v2 embeddings on the installed model (scripts/setup.sh installs it):
//! shape, normalisation, determinism, batching, truncation, agreement with a reference
//! computed outside candle, and semantic sanity on shop text.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failure is the test failing"
)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use catalog::embed::{DIMENSIONS, Embedder, MAX_TOKENS};

fn models_dir() -> PathBuf {
    std::env::var_os("SHOP_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"))
}

/// Loaded once per test binary; a missing model fails with the fix in the message.
fn embedder() -> Arc<Embedder> {
    static EMBEDDER: OnceLock<Arc<Embedder>> = OnceLock::new();
    EMBEDDER
        .get_or_init(|| {
            Arc::new(
                Embedder::load(&models_dir(), 2)
                    .unwrap_or_else(|e| panic!("{e} (models dir {})", models_dir().display())),
            )
        })
        .clone()
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    dot(a, b) / (dot(a, a).sqrt() * dot(b, b).sqrt())
}

fn one(text: &str) -> [f32; DIMENSIONS] {
    embedder().embed(&[text]).unwrap()[0]
}

#[test]
fn vectors_have_384_dimensions_and_unit_norm() {
    let vectors = embedder()
        .embed(&[
            "pink wool sweater",
            "a",
            "Slim-fit oxford shirt, 100% cotton.",
        ])
        .unwrap();
    assert_eq!(vectors.len(), 3);
    for v in &vectors {
        assert_eq!(v.len(), 384);
        assert!(v.iter().all(|x| x.is_finite()));
        let norm = dot(v, v).sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
    }
}

#[test]
fn embedding_is_deterministic() {
    let text = "Relaxed fit denim jacket with brass buttons";
    assert_eq!(one(text), one(text));
}

#[test]
fn a_batch_gives_what_one_by_one_gives() {
    // Very different lengths, so the batch pads most of them, plus one longer than
    // the model reads, so truncation and padding meet.
    let long = "soft merino wool knit with ribbed cuffs ".repeat(60);
    let texts = [
        "scarf",
        "Black leather ankle boots with a low block heel",
        long.as_str(),
        "A light summer dress in blue and white stripes, knee length, with pockets.",
        "bag",
    ];
    let batch = embedder().embed(&texts).unwrap();
    for (text, batched) in texts.iter().zip(&batch) {
        let alone = one(text);
        let similarity = cosine(batched, &alone);
        assert!(similarity >= 0.9999, "{text:.30}: cosine {similarity}");
    }
}

#[test]
fn texts_longer_than_the_model_reads_are_truncated() {
    let words = "green cotton trousers with a straight leg ".repeat(60);
    let longer = format!("{words} and a completely different ending about red shoes");
    let counted = embedder().embed_counted(&[&words]).unwrap();
    assert_eq!(counted.tokens, MAX_TOKENS);
    // Everything after token 256 is dropped, so the endings do not matter.
    assert!(cosine(&one(&words), &one(&longer)) >= 0.9999);
}

#[test]
fn matches_the_reference_embeddings() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/embed_reference.json");
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let sentences: Vec<&str> = reference["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let expected: Vec<Vec<f32>> = serde_json::from_value(reference["embeddings"].clone()).unwrap();
    let got = embedder().embed(&sentences).unwrap();
    for ((sentence, want), have) in sentences.iter().zip(&expected).zip(&got) {
        let similarity = cosine(want, have);
        eprintln!("{sentence:.40}: cosine {similarity} with the reference");
        assert!(
            similarity >= 0.999,
            "{sentence}: cosine {similarity} with {}",
            reference["producer"]
        );
    }
}

#[test]
fn similar_garments_are_closer_than_different_ones() {
    let sweater = one("pink wool sweater");
    let jumper = one("rose knitted jumper");
    let boots = one("black leather boots");
    assert!(
        cosine(&sweater, &jumper) > cosine(&sweater, &boots),
        "jumper {} vs boots {}",
        cosine(&sweater, &jumper),
        cosine(&sweater, &boots)
    );

    let query = one("shirt to go with a sweater");
    let shirts = [
        "white cotton oxford shirt",
        "blue striped button-down shirt",
    ];
    let bags = ["brown leather tote bag", "small black crossbody bag"];
    let nearest_bag = bags
        .iter()
        .map(|b| cosine(&query, &one(b)))
        .fold(f32::MIN, f32::max);
    for shirt in shirts {
        let similarity = cosine(&query, &one(shirt));
        assert!(
            similarity > nearest_bag,
            "{shirt}: {similarity} vs bag {nearest_bag}"
        );
    }
}

#[test]
fn usage_counts_the_tokens_read() {
    // [CLS] pink sweater [SEP]
    let counted = embedder().embed_counted(&["pink sweater"]).unwrap();
    assert_eq!(counted.tokens, 4);
}

#[test]
fn a_wrong_models_dir_names_the_fix() {
    let err = Embedder::load(&PathBuf::from("/nonexistent/models"), 1).unwrap_err();
    assert!(err.to_string().contains("scripts/setup.sh"), "{err}");
}
