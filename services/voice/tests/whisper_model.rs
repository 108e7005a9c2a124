//! The whisper model that `models install` converted from CTranslate2 to ggml loads in
//! whisper.cpp and transcribes a spoken sentence.

#![allow(clippy::unwrap_used)] // test helpers: a failed set-up should stop the test loudly

use std::path::{Path, PathBuf};

use models::{MODELS_DIR_ENV, Manifest, verify_model};
use voice::quality::word_error_rate;
use voice::stt::{
    CancelFlag, SAMPLE_RATE, SpeechToText, SttError, SttPool, TranscribeOptions, Urgency,
};

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

fn load_model() -> SpeechToText {
    let manifest = Manifest::builtin();
    let entry = manifest.get("whisper-tiny.en").unwrap();
    let paths = verify_model(&models_dir(), entry).unwrap_or_else(|e| panic!("{e}"));
    SpeechToText::load(&paths[0], 2).unwrap()
}

/// Waits until the pool's one worker is taken: an optional probe is then skipped.
async fn wait_until_busy(pool: &SttPool) {
    let cancelled = CancelFlag::default();
    cancelled.cancel(); // a probe that gets the worker gives it back at once
    let probe = TranscribeOptions {
        cancel: cancelled,
        ..TranscribeOptions::default()
    };
    for _ in 0..1000 {
        match pool
            .transcribe_with(vec![0.0; 1600], probe.clone(), Urgency::Optional)
            .await
        {
            Err(SttError::Skipped) => return,
            Err(SttError::Cancelled) => tokio::task::yield_now().await,
            other => panic!("unexpected probe result {other:?}"),
        }
    }
    panic!("the decode never took the worker");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captions_give_way_to_transcripts_and_a_cancelled_decode_frees_its_worker() {
    let pool = SttPool::new(load_model(), 1, 4);
    let long = read_wav_16k_mono(&workspace_root().join("fixtures/audio/long_request.wav"));
    let short = read_wav_16k_mono(&workspace_root().join("fixtures/audio/shirt_request.wav"));

    // A transcript someone waits for holds the only worker: a caption is skipped at
    // once instead of queueing behind it, and the transcript is unharmed.
    let required = tokio::spawn({
        let (pool, long) = (pool.clone(), long.clone());
        async move { pool.transcribe(long, TranscribeOptions::default()).await }
    });
    wait_until_busy(&pool).await;
    let caption = pool
        .transcribe_with(
            short.clone(),
            TranscribeOptions::default(),
            Urgency::Optional,
        )
        .await;
    assert!(matches!(caption, Err(SttError::Skipped)), "{caption:?}");
    let text = required.await.unwrap().unwrap().text;
    assert!(
        text.to_lowercase().contains("cotton shirt"),
        "heard {text:?}"
    );

    // A decode cancelled while it runs ends as cancelled, not with a transcript, and
    // its worker serves the next caller.
    let cancel = CancelFlag::default();
    let running = tokio::spawn({
        let options = TranscribeOptions {
            cancel: cancel.clone(),
            ..TranscribeOptions::default()
        };
        let (pool, long) = (pool.clone(), long.clone());
        async move { pool.transcribe(long, options).await }
    });
    wait_until_busy(&pool).await;
    cancel.cancel();
    let stopped = running.await.unwrap();
    assert!(matches!(stopped, Err(SttError::Cancelled)), "{stopped:?}");
    let next = pool
        .transcribe_with(
            short.clone(),
            TranscribeOptions::default(),
            Urgency::Optional,
        )
        .await
        .expect("the freed worker takes an optional decode");
    assert!(
        next.text.to_lowercase().contains("blue shirt"),
        "heard {:?}",
        next.text
    );

    // A caption already running is stopped when a transcript has to wait for it.
    let caption = tokio::spawn({
        let pool = pool.clone();
        async move {
            loop {
                // Skipped while a probe of `wait_until_busy` holds the worker.
                match pool
                    .transcribe_with(
                        long.clone(),
                        TranscribeOptions::default(),
                        Urgency::Optional,
                    )
                    .await
                {
                    Err(SttError::Skipped) => tokio::task::yield_now().await,
                    other => return other,
                }
            }
        }
    });
    wait_until_busy(&pool).await;
    let transcript = pool
        .transcribe(short, TranscribeOptions::default())
        .await
        .unwrap();
    assert!(
        transcript.text.to_lowercase().contains("blue shirt"),
        "heard {:?}",
        transcript.text
    );
    let caption = caption.await.unwrap();
    assert!(matches!(caption, Err(SttError::Cancelled)), "{caption:?}");
}

#[test]
fn converted_whisper_model_transcribes_a_spoken_request() {
    let stt = load_model();
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
