//! Audio in: WAV files of any common rate and layout, decoded and resampled to what
//! whisper takes (16 kHz mono f32), with limits checked before any work is done.

use std::io::Cursor;

use rubato::{FftFixedIn, Resampler};

/// The rate whisper models take.
pub const WHISPER_RATE: u32 = 16_000;

/// Rates accepted on input: telephone (8 kHz) to studio (48 kHz).
pub const ACCEPTED_RATES: std::ops::RangeInclusive<u32> = 8_000..=48_000;

/// Why an upload is not usable audio. Each is the caller's to fix.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AudioError {
    /// The bytes are not a WAV file.
    #[error(
        "the file is not WAV audio ({0}); send a WAV file (16-bit PCM or 32-bit float, 8-48 kHz)"
    )]
    NotAudio(String),
    /// The header promises more samples than the file holds.
    #[error("the WAV file is truncated: its header announces more audio than it contains")]
    Truncated,
    /// No samples at all.
    #[error("the audio is empty (zero samples)")]
    Empty,
    /// Longer than the configured maximum.
    #[error("the audio lasts {seconds:.1} s; the limit is {limit:.0} s — send shorter utterances")]
    TooLong {
        /// Length of the upload.
        seconds: f32,
        /// The configured limit.
        limit: f32,
    },
    /// A sample rate outside 8-48 kHz or an encoding hound cannot read.
    #[error("unsupported audio format: {0}")]
    Unsupported(String),
}

/// Decodes a WAV file to 16 kHz mono f32, refusing files longer than `max_seconds`
/// before resampling them.
pub fn decode_wav(bytes: &[u8], max_seconds: f32) -> Result<Vec<f32>, AudioError> {
    let reader = hound::WavReader::new(Cursor::new(bytes)).map_err(|e| match e {
        hound::Error::IoError(_) => AudioError::Truncated,
        hound::Error::Unsupported => {
            AudioError::Unsupported("this WAV encoding is not supported".into())
        }
        other => AudioError::NotAudio(other.to_string()),
    })?;
    let spec = reader.spec();
    if !ACCEPTED_RATES.contains(&spec.sample_rate) {
        return Err(AudioError::Unsupported(format!(
            "sample rate {} Hz; send 8,000 to 48,000 Hz",
            spec.sample_rate
        )));
    }
    let channels = usize::from(spec.channels.max(1));
    let frames = reader.duration() as usize;
    if frames == 0 {
        return Err(AudioError::Empty);
    }
    // Reading before the length check costs little (the upload size is bounded) and
    // lets a truncated file be called truncated rather than too long.
    let interleaved = read_samples(reader)?;
    if interleaved.len() < frames * channels {
        return Err(AudioError::Truncated);
    }
    let seconds = frames as f32 / spec.sample_rate as f32;
    if seconds > max_seconds {
        return Err(AudioError::TooLong {
            seconds,
            limit: max_seconds,
        });
    }
    let mono: Vec<f32> = interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f32>() / channels as f32)
        .collect();
    resample(&mono, spec.sample_rate, WHISPER_RATE)
}

fn read_samples(mut reader: hound::WavReader<Cursor<&[u8]>>) -> Result<Vec<f32>, AudioError> {
    let spec = reader.spec();
    let truncated = |_| AudioError::Truncated;
    match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => reader
            .samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(truncated),
        (hound::SampleFormat::Int, bits @ 8..=32) => {
            let scale = (1i64 << (bits - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|v| v as f32 / scale))
                .collect::<Result<_, _>>()
                .map_err(truncated)
        }
        (format, bits) => Err(AudioError::Unsupported(format!(
            "{bits}-bit {format:?} samples"
        ))),
    }
}

/// Resamples mono audio with rubato's FFT resampler (band-limited, no aliasing).
pub fn resample(samples: &[f32], from: u32, to: u32) -> Result<Vec<f32>, AudioError> {
    if from == to {
        return Ok(samples.to_vec());
    }
    const CHUNK: usize = 1024;
    let mut resampler =
        FftFixedIn::<f32>::new(from as usize, to as usize, CHUNK, 2, 1).map_err(|e| {
            AudioError::Unsupported(format!("cannot resample {from} Hz to {to} Hz: {e}"))
        })?;
    let failed =
        |e: rubato::ResampleError| AudioError::Unsupported(format!("resampling failed: {e}"));
    let expected = (samples.len() as u64 * u64::from(to) / u64::from(from)) as usize;
    let delay = resampler.output_delay();
    let mut out = Vec::with_capacity(expected + delay + CHUNK);
    let mut chunks = samples.chunks_exact(CHUNK);
    for chunk in &mut chunks {
        out.extend_from_slice(&resampler.process(&[chunk], None).map_err(failed)?[0]);
    }
    // The tail padded with silence, then silence until the filter's delay is flushed.
    let silence = vec![0.0f32; CHUNK];
    let tail = [
        chunks.remainder(),
        &silence[..CHUNK - chunks.remainder().len()],
    ]
    .concat();
    out.extend_from_slice(&resampler.process(&[&tail[..]], None).map_err(failed)?[0]);
    while out.len() < expected + delay {
        out.extend_from_slice(&resampler.process(&[&silence[..]], None).map_err(failed)?[0]);
    }
    Ok(out[delay..delay + expected].to_vec())
}

impl service_kit::error::ApiErrorCode for AudioError {
    fn status(&self) -> axum::http::StatusCode {
        axum::http::StatusCode::BAD_REQUEST
    }

    fn code(&self) -> &'static str {
        match self {
            AudioError::NotAudio(_) => "not_audio",
            AudioError::Truncated => "truncated_audio",
            AudioError::Empty => "empty_audio",
            AudioError::TooLong { .. } => "audio_too_long",
            AudioError::Unsupported(_) => "unsupported_audio",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(rate: u32, channels: u16, seconds: f32, float: bool) -> Vec<u8> {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: if float { 32 } else { 16 },
            sample_format: if float {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        };
        let mut bytes = Cursor::new(Vec::new());
        let mut writer = hound::WavWriter::new(&mut bytes, spec).unwrap();
        let frames = (rate as f32 * seconds) as usize;
        for i in 0..frames {
            let value = (2.0 * std::f32::consts::PI * 440.0 * i as f32 / rate as f32).sin() * 0.5;
            for _ in 0..channels {
                if float {
                    writer.write_sample(value).unwrap();
                } else {
                    writer.write_sample((value * 32767.0) as i16).unwrap();
                }
            }
        }
        writer.finalize().unwrap();
        bytes.into_inner()
    }

    #[test]
    fn any_common_rate_and_layout_becomes_16k_mono_of_the_same_length() {
        for (rate, channels, float) in [
            (8_000, 1, false),
            (22_050, 2, false),
            (44_100, 2, true),
            (48_000, 1, true),
            (16_000, 1, false),
        ] {
            let samples = decode_wav(&wav(rate, channels, 1.5, float), 30.0).unwrap();
            assert!(
                (samples.len() as i64 - 24_000).abs() <= 2,
                "{rate} Hz x{channels}: {} samples",
                samples.len()
            );
            // A 440 Hz tone at half scale keeps its level through resampling.
            let peak = samples[1000..20_000]
                .iter()
                .fold(0f32, |m, s| m.max(s.abs()));
            assert!((peak - 0.5).abs() < 0.05, "{rate} Hz: peak {peak}");
        }
    }

    #[test]
    fn bad_uploads_are_refused_with_what_to_fix() {
        assert!(matches!(
            decode_wav(b"hello, not audio at all", 30.0),
            Err(AudioError::NotAudio(_))
        ));
        let full = wav(16_000, 1, 1.0, false);
        assert_eq!(
            decode_wav(&full[..full.len() / 2], 30.0),
            Err(AudioError::Truncated)
        );
        assert_eq!(
            decode_wav(&wav(16_000, 1, 0.0, false), 30.0),
            Err(AudioError::Empty)
        );
        assert!(matches!(
            decode_wav(&wav(16_000, 1, 2.0, false), 1.0),
            Err(AudioError::TooLong { .. })
        ));
        assert!(matches!(
            decode_wav(&wav(96_000, 1, 0.1, false), 30.0),
            Err(AudioError::Unsupported(_))
        ));
    }
}
