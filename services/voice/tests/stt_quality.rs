//! Word error rate of the whisper model on speech it was not tuned for: eight shopper
//! requests spoken by espeak-ng in five voices (fixtures/audio/espeak). The bar
//! for another speaker is 25 % over the set.

#![allow(clippy::unwrap_used)] // test helpers: a failed set-up should stop the test loudly

mod service_support;

use service_support::{fixture, test_config, workspace_root};
use voice::audio::decode_wav;
use voice::quality::word_error_rate;
use voice::stt::{SpeechToText, TranscribeOptions};

#[test]
fn espeak_voices_are_transcribed_within_25_percent_word_error_rate() {
    let config = test_config();
    let model =
        voice::model_path(&config.models_dir, "stt_model", &config.voice.stt_model).unwrap();
    let stt = SpeechToText::load(&model, 2).unwrap();
    let list =
        std::fs::read_to_string(workspace_root().join("fixtures/audio/espeak/transcripts.tsv"))
            .unwrap();

    let (mut errors, mut words) = (0.0, 0usize);
    for line in list.lines().skip(1) {
        let [file, voice, reference]: [&str; 3] =
            line.split('\t').collect::<Vec<_>>().try_into().unwrap();
        let samples = decode_wav(&fixture(&format!("audio/espeak/{file}")), 30.0).unwrap();
        let heard = stt
            .transcribe(&samples, &TranscribeOptions::default())
            .unwrap()
            .text;
        let wer = word_error_rate(reference, &heard);
        let count = reference.split_whitespace().count();
        errors += wer * count as f64;
        words += count;
        println!("{file} ({voice}): WER {wer:.2} heard {heard:?}");
    }
    let overall = errors / words as f64;
    println!("overall word error rate {overall:.3} over {words} words");
    assert!(
        overall <= 0.25,
        "word error rate {overall:.3} over the espeak set"
    );
}
