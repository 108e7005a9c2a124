//! The mel filter bank whisper.cpp reads from its model file: librosa's
//! `filters.mel(sr=16000, n_fft=400, n_mels=80)` (Slaney mel scale, Slaney area
//! normalisation), the same table OpenAI computed for whisper.

/// Sample rate whisper models are trained on.
pub const SAMPLE_RATE: f64 = 16_000.0;
/// FFT size of whisper's STFT (25 ms).
pub const N_FFT: usize = 400;

/// Returns the filter bank as `n_mels` rows of `N_FFT / 2 + 1` weights.
pub fn mel_filters(n_mels: usize) -> Vec<Vec<f32>> {
    let n_bins = N_FFT / 2 + 1;
    let fft_freqs: Vec<f64> = (0..n_bins)
        .map(|k| k as f64 * SAMPLE_RATE / N_FFT as f64)
        .collect();
    let (mel_min, mel_max) = (hz_to_mel(0.0), hz_to_mel(SAMPLE_RATE / 2.0));
    let mel_points: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(mel_min + (mel_max - mel_min) * i as f64 / (n_mels + 1) as f64))
        .collect();
    (0..n_mels)
        .map(|m| {
            let (left, centre, right) = (mel_points[m], mel_points[m + 1], mel_points[m + 2]);
            let norm = 2.0 / (right - left);
            fft_freqs
                .iter()
                .map(|&f| {
                    let rising = (f - left) / (centre - left);
                    let falling = (right - f) / (right - centre);
                    (rising.min(falling).max(0.0) * norm) as f32
                })
                .collect()
        })
        .collect()
}

// Slaney's scale: linear below 1 kHz, logarithmic above.
const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

fn hz_to_mel(hz: f64) -> f64 {
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step()
    } else {
        hz / F_SP
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
    } else {
        mel * F_SP
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_librosa_reference_values() {
        // Reference values from librosa.filters.mel(sr=16000, n_fft=400, n_mels=80).
        let filters = mel_filters(80);
        assert_eq!(filters.len(), 80);
        assert_eq!(filters[0].len(), 201);
        assert!(
            (filters[0][1] - 0.024_862_4).abs() < 1e-6,
            "{}",
            filters[0][1]
        );
        assert!(
            (filters[79][199] - 0.000_448_759).abs() < 1e-8,
            "{}",
            filters[79][199]
        );
        let total: f32 = filters.iter().flatten().sum();
        assert!((total - 1.999_024_2).abs() < 1e-5, "{total}");
    }
}
