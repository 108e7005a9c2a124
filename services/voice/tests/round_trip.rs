//! Piper speaks what a shop assistant says; whisper must hear it back. Over 24
//! sentences with prices, sizes, colours and product kinds, the word error rate must
//! stay at or below 15 %.

#![allow(clippy::unwrap_used)] // test helpers: a failed set-up should stop the test loudly

mod service_support;

use service_support::test_config;
use voice::audio::resample;
use voice::quality::word_error_rate;
use voice::stt::{SAMPLE_RATE, SpeechToText, TranscribeOptions};
use voice::tts::TtsEngine;

/// What the assistant says, as whisper would ideally write it back (numbers in words
/// where a listener could not tell the spelling from the sound).
const SENTENCES: [&str; 24] = [
    "Welcome back, Lucy.",
    "Did you like the pink sweater you bought last week?",
    "Here are three shirts that go with your sweater.",
    "This white cotton shirt is in stock in your size.",
    "The blue denim jacket costs forty nine dollars.",
    "We have these jeans in size thirty two.",
    "Would you like to try it on in the mirror?",
    "I have sent a request to bring it to fitting room two.",
    "A member of staff will be with you in a minute.",
    "The black leather boots are on sale today.",
    "This wool coat comes in grey, navy and camel.",
    "The linen dress is perfect for a summer wedding.",
    "These running shoes are light and comfortable.",
    "Would you prefer a slim fit or a regular fit?",
    "The red scarf goes well with a dark green coat.",
    "We are out of medium, but the large is available.",
    "This silk blouse should be washed by hand.",
    "The striped shirt is made of organic cotton.",
    "Is there anything else I can help you with?",
    "Your fitting room is ready.",
    "The small leather bag has room for a phone and keys.",
    "These trousers have a relaxed fit.",
    "Thank you for shopping with us today.",
    "Goodbye, and have a nice day.",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whisper_hears_what_piper_says() {
    let config = test_config();
    let tts = TtsEngine::load(&config.voice, &config.models_dir).unwrap();
    let model =
        voice::model_path(&config.models_dir, "stt_model", &config.voice.stt_model).unwrap();
    let stt = SpeechToText::load(&model, 2).unwrap();

    let (mut errors, mut words) = (0.0, 0usize);
    for sentence in SENTENCES {
        let (samples, rate) = tts.synthesise(sentence, "en", 1.0).await.unwrap();
        let samples = resample(&samples, rate, SAMPLE_RATE).unwrap();
        let heard = stt
            .transcribe(&samples, &TranscribeOptions::default())
            .unwrap()
            .text;
        let wer = word_error_rate(sentence, &heard);
        let count = sentence.split_whitespace().count();
        errors += wer * count as f64;
        words += count;
        println!("WER {wer:.2}  said {sentence:?}  heard {heard:?}");
    }
    let overall = errors / words as f64;
    println!("round trip word error rate {overall:.3} over {words} words");
    assert!(overall <= 0.15, "round-trip word error rate {overall:.3}");
}
