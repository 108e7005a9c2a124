//! A customer's voice for the kiosk's tests and benchmark: real speech from the voice
//! service's piper TTS, resampled to the 16 kHz mono PCM16 the kiosk page sends by
//! `sox` (a system package the setup installs), so no resampler is written twice.

use std::io::Write;
use std::process::{Command, Stdio};

/// Speech of `text` by the voice service at `voice_url`, as 16 kHz mono PCM16.
pub async fn speech_16k(voice_url: &str, text: &str) -> Vec<i16> {
    let wav = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("http client")
        .post(format!("{voice_url}/v1/audio/speech"))
        .json(&serde_json::json!({"model": "tts-1", "input": text, "voice": "alloy", "response_format": "wav"}))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .unwrap_or_else(|e| panic!("voice could not speak {text:?}: {e}"))
        .bytes()
        .await
        .expect("speech body");
    to_16k_pcm(&wav)
}

/// Any WAV as 16 kHz mono signed 16-bit samples, through `sox`.
pub fn to_16k_pcm(wav: &[u8]) -> Vec<i16> {
    let mut sox = Command::new("sox")
        .args([
            "-t",
            "wav",
            "-",
            "-t",
            "raw",
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
            "-L",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sox is not installed: run scripts/setup.sh");
    let mut stdin = sox.stdin.take().expect("sox stdin");
    let input = wav.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = sox.wait_with_output().expect("sox ran");
    writer
        .join()
        .expect("writer thread")
        .expect("sox took the WAV");
    assert!(
        output.status.success(),
        "sox failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
        .stdout
        .chunks_exact(2)
        .map(|pair| i16::from_le_bytes([pair[0], pair[1]]))
        .collect()
}
