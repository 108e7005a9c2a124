//! The piper voices behind a bounded pool: verified and loaded once, shared by every
//! request, at most `tts_workers` syntheses at once and `tts_queue` waiting.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use models::verify_installed;
use piper_rs::{ModelConfig, Piper};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use service_kit::config::VoiceConfig;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::TtsError;
use super::espeak;
use super::normalise::normalise;
use super::sentences::split_sentences;

/// Slowest and fastest speaking rate accepted (OpenAI's range).
pub const SPEED_RANGE: std::ops::RangeInclusive<f32> = 0.25..=4.0;

/// Pause put between sentences when a whole text is returned as one piece of audio,
/// at speed 1.0 (piper's own default `sentence_silence`).
const SENTENCE_PAUSE_SECONDS: f32 = 0.2;

/// OpenAI's voice names; a client written for OpenAI sends one of them, and gets the
/// default voice rather than an error.
pub const OPENAI_VOICES: &[&str] = &[
    "alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse",
];

/// A configured voice, by position in the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoiceId(usize);

/// A place in the synthesis queue: obtained from [`TtsEngine::admit`] (or refused
/// with [`TtsError::Overloaded`]) and held while a request's sentences are
/// synthesised, so a request admitted is never refused half-way.
#[derive(Debug)]
pub struct Admission {
    _permit: OwnedSemaphorePermit,
}

/// Text to speech with the configured piper voices. Cheap to clone; clones share the
/// voices, the pool and the queue.
#[derive(Clone)]
pub struct TtsEngine {
    inner: Arc<Inner>,
}

struct Inner {
    voices: Vec<Voice>,
    default_voice: usize,
    workers: Arc<Semaphore>,
    worker_count: usize,
    admitted: Arc<Semaphore>,
    queue: usize,
    max_text_chars: usize,
    metrics: TtsMetrics,
}

/// One loaded piper voice with `tts_workers` ONNX sessions.
struct Voice {
    /// Manifest name, e.g. `piper-en_US-joe-medium`.
    name: String,
    /// Other names it answers to (file stem, speaker, languages).
    aliases: Vec<String>,
    /// espeak-ng voice of the model, e.g. `en-us`.
    espeak_voice: String,
    sample_rate: u32,
    /// The model's own length scale at speed 1.0.
    length_scale: f32,
    /// A session runs one synthesis at a time; there are as many as workers, so a
    /// worker permit always finds a free one.
    instances: Vec<Arc<Mutex<Piper>>>,
}

impl TtsEngine {
    /// Verifies against the manifest and loads every voice of `config.tts_voices`
    /// (language → manifest name), with ONNX Runtime from the models directory.
    /// Slow (about a second per voice and worker): call it from a blocking context.
    pub fn load(config: &VoiceConfig, models_dir: &Path) -> Result<TtsEngine, TtsError> {
        let location = espeak::locate().ok_or_else(|| TtsError::Load {
            voice: espeak::DATA_DIR_NAME.into(),
            reason: espeak::missing_data_help(),
        })?;
        tracing::info!(dir = %location.dir.display(), source = ?location.source, "espeak-ng data");
        crate::onnxruntime::init(models_dir).map_err(|reason| TtsError::Load {
            voice: crate::onnxruntime::MANIFEST_NAME.into(),
            reason,
        })?;

        let workers = config.tts_workers.max(1);
        // Several languages may name the same voice: load it once.
        let mut by_name: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (language, name) in &config.tts_voices {
            by_name.entry(name).or_default().push(language);
        }
        let mut voices = Vec::new();
        for (name, languages) in by_name {
            voices.push(Voice::load(
                models_dir,
                name,
                &languages,
                workers,
                config.threads,
            )?);
        }
        // OpenAI voice names go to the English voice, else to the first one.
        let english = config.tts_voices.get("en");
        let default_voice = voices
            .iter()
            .position(|v| Some(&v.name) == english)
            .unwrap_or(0);
        let engine = TtsEngine {
            inner: Arc::new(Inner {
                voices,
                default_voice,
                workers: Arc::new(Semaphore::new(workers)),
                worker_count: workers,
                admitted: Arc::new(Semaphore::new(workers + config.tts_queue)),
                queue: config.tts_queue,
                max_text_chars: config.max_text_chars,
                metrics: TtsMetrics::global(),
            }),
        };
        // Fail at start, not on the first customer, if espeak-ng cannot phonemise.
        for voice in &engine.inner.voices {
            espeak::phonemise("test", &voice.espeak_voice).map_err(|e| TtsError::Load {
                voice: voice.name.clone(),
                reason: format!("espeak-ng: {e}; {}", espeak::missing_data_help()),
            })?;
        }
        Ok(engine)
    }

    /// Every name a request's `voice` may use, for error messages and listings.
    pub fn voice_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .inner
            .voices
            .iter()
            .flat_map(|v| std::iter::once(v.name.clone()).chain(v.aliases.iter().cloned()))
            .collect();
        names.push(format!("OpenAI's {}", OPENAI_VOICES.join("/")));
        names
    }

    /// The voice a request's `voice` names: a manifest name, the voice file's stem
    /// (`en_US-joe-medium`), the speaker (`joe`), a configured language (`en`), or an
    /// OpenAI voice name (the default voice). Case-insensitive.
    pub fn resolve_voice(&self, name: &str) -> Result<VoiceId, TtsError> {
        let wanted = name.trim().to_lowercase();
        if let Some(i) = self.inner.voices.iter().position(|v| {
            std::iter::once(&v.name)
                .chain(&v.aliases)
                .any(|alias| alias.to_lowercase() == wanted)
        }) {
            return Ok(VoiceId(i));
        }
        if OPENAI_VOICES.contains(&wanted.as_str()) {
            return Ok(VoiceId(self.inner.default_voice));
        }
        Err(TtsError::UnknownVoice {
            requested: name.to_string(),
            available: self.voice_names(),
        })
    }

    /// The sample rate of a voice's audio (22050 Hz for medium piper voices).
    pub fn sample_rate(&self, voice: VoiceId) -> u32 {
        self.voice(voice).sample_rate
    }

    /// Checks a request's text: not empty, not longer than `voice.max_text_chars`.
    pub fn check_text(&self, text: &str) -> Result<(), TtsError> {
        if text.trim().is_empty() {
            return Err(TtsError::EmptyText);
        }
        let chars = text.chars().count();
        if chars > self.inner.max_text_chars {
            return Err(TtsError::TextTooLong {
                chars,
                limit: self.inner.max_text_chars,
            });
        }
        Ok(())
    }

    /// Checks a speaking rate: finite and within [`SPEED_RANGE`].
    pub fn check_speed(speed: f32) -> Result<(), TtsError> {
        if speed.is_finite() && SPEED_RANGE.contains(&speed) {
            Ok(())
        } else {
            Err(TtsError::InvalidSpeed(speed))
        }
    }

    /// The text as the sentences it will be spoken in (as written, for captions).
    /// Fails like [`TtsEngine::check_text`], or with `EmptyText` when nothing in it
    /// can be spoken.
    pub fn sentences(&self, text: &str) -> Result<Vec<String>, TtsError> {
        self.check_text(text)?;
        let sentences = split_sentences(text);
        if sentences.is_empty() {
            return Err(TtsError::EmptyText);
        }
        Ok(sentences)
    }

    /// A place in the queue, or [`TtsError::Overloaded`] at once when all workers are
    /// busy and `tts_queue` requests already wait.
    pub fn admit(&self) -> Result<Admission, TtsError> {
        match self.inner.admitted.clone().try_acquire_owned() {
            Ok(permit) => Ok(Admission { _permit: permit }),
            Err(_) => {
                self.inner.metrics.overloaded.inc();
                Err(TtsError::Overloaded {
                    workers: self.inner.worker_count,
                    queued: self.inner.queue,
                })
            }
        }
    }

    /// Speaks one sentence (as written; normalised here) once a worker is free:
    /// samples in [-1, 1] at the voice's rate. If the future is dropped (the client
    /// cancelled) the running synthesis still finishes on its thread, keeping its
    /// worker until then, and its audio is discarded.
    pub async fn synthesise_sentence(
        &self,
        _admission: &Admission,
        voice: VoiceId,
        sentence: &str,
        speed: f32,
    ) -> Result<Vec<f32>, TtsError> {
        Self::check_speed(speed)?;
        let queued_at = Instant::now();
        let permit = self
            .inner
            .workers
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| TtsError::SynthesisFailed("the worker pool is closed".into()))?;
        let metrics = &self.inner.metrics;
        metrics
            .queue_wait
            .observe(queued_at.elapsed().as_secs_f64());

        let engine = self.clone();
        let text = normalise(sentence);
        let started = Instant::now();
        let samples = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _running = crate::cpu::Running::start();
            engine.synthesise_blocking(voice, &text, speed)
        })
        .await
        .map_err(|e| TtsError::SynthesisFailed(format!("synthesis thread failed: {e}")))??;
        metrics.synthesis.observe(started.elapsed().as_secs_f64());
        metrics
            .audio
            .observe(samples.len() as f64 / f64::from(self.sample_rate(voice)));
        Ok(samples)
    }

    /// Speaks a whole text: normalised, split into sentences, synthesised in order and
    /// joined with short pauses. Returns the samples in [-1, 1] and their sample rate.
    /// `voice` is resolved as in [`TtsEngine::resolve_voice`]; `speed` 1.0 is normal.
    pub async fn synthesise(
        &self,
        text: &str,
        voice: &str,
        speed: f32,
    ) -> Result<(Vec<f32>, u32), TtsError> {
        let voice = self.resolve_voice(voice)?;
        Self::check_speed(speed)?;
        let sentences = self.sentences(text)?;
        let admission = self.admit()?;
        self.synthesise_sentences(&admission, voice, &sentences, speed)
            .await
    }

    /// Speaks already split sentences under one admission, joined with pauses.
    pub async fn synthesise_sentences(
        &self,
        admission: &Admission,
        voice: VoiceId,
        sentences: &[String],
        speed: f32,
    ) -> Result<(Vec<f32>, u32), TtsError> {
        let rate = self.sample_rate(voice);
        let pause = (SENTENCE_PAUSE_SECONDS / speed * rate as f32) as usize;
        let mut audio = Vec::new();
        for (i, sentence) in sentences.iter().enumerate() {
            if i > 0 {
                audio.resize(audio.len() + pause, 0.0);
            }
            audio.extend(
                self.synthesise_sentence(admission, voice, sentence, speed)
                    .await?,
            );
        }
        Ok((audio, rate))
    }

    fn voice(&self, voice: VoiceId) -> &Voice {
        // VoiceIds are only made by this engine, from positions in `voices`.
        &self.inner.voices[voice.0.min(self.inner.voices.len() - 1)]
    }

    /// espeak-ng then piper, on the calling (blocking) thread.
    fn synthesise_blocking(
        &self,
        voice: VoiceId,
        text: &str,
        speed: f32,
    ) -> Result<Vec<f32>, TtsError> {
        let voice = self.voice(voice);
        let phonemes = espeak::phonemise(text, &voice.espeak_voice)
            .map_err(|e| TtsError::SynthesisFailed(format!("espeak-ng: {e}")))?;
        if phonemes.trim().is_empty() {
            return Ok(Vec::new());
        }
        // The worker permit guarantees a free instance; `try_lock` finds it without
        // waiting (a poisoned one is still a working session).
        let instance = voice.instances.iter().find_map(|i| match i.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        });
        let mut piper = match instance {
            Some(piper) => piper,
            // Not reachable while permits equal instances; wait rather than fail.
            None => voice.instances[0]
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        };
        // piper's length scale is the time per phoneme: speed 2 halves it.
        let length_scale = voice.length_scale / speed;
        let (mut samples, _) = piper
            .create(&phonemes, true, None, Some(length_scale), None, None)
            .map_err(|e| TtsError::SynthesisFailed(e.to_string()))?;
        // VITS output can overshoot full scale slightly; scale it back rather than clip.
        let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        if peak > 1.0 {
            samples.iter_mut().for_each(|s| *s /= peak);
        }
        Ok(samples)
    }
}

impl Voice {
    fn load(
        models_dir: &Path,
        name: &str,
        languages: &[&str],
        workers: usize,
        threads: usize,
    ) -> Result<Voice, TtsError> {
        let fail = |reason: String| TtsError::Load {
            voice: name.to_string(),
            reason,
        };
        let paths = verify_installed(models_dir, name).map_err(|e| fail(e.to_string()))?;
        let find = |suffix: &str| {
            paths
                .iter()
                .find(|p| p.to_string_lossy().ends_with(suffix))
                .cloned()
                .ok_or_else(|| fail(format!("the manifest entry has no {suffix} file")))
        };
        let onnx = find(".onnx")?;
        let json = find(".onnx.json")?;
        let read_config = || -> Result<ModelConfig, TtsError> {
            let file =
                std::fs::File::open(&json).map_err(|e| fail(format!("{}: {e}", json.display())))?;
            serde_json::from_reader(std::io::BufReader::new(file))
                .map_err(|e| fail(format!("{}: {e}", json.display())))
        };
        let config = read_config()?;
        let mut instances = Vec::with_capacity(workers);
        for _ in 0..workers {
            let session = ort::session::Session::builder()
                .and_then(|b| Ok(b.with_intra_threads(threads.max(1))?))
                // Threads that spin between runs take the cores whisper and the
                // other streams need.
                .and_then(|b| Ok(b.with_intra_op_spinning(false)?))
                .and_then(|b| Ok(b.with_inter_threads(1)?))
                .and_then(|mut b| b.commit_from_file(&onnx))
                .map_err(|e| fail(format!("ONNX Runtime: {e}")))?;
            instances.push(Arc::new(Mutex::new(Piper::from_session(
                session,
                read_config()?,
            ))));
        }
        let stem = onnx
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        // `en_US-joe-medium`: the speaker is the middle part.
        let speaker = stem.split('-').nth(1).unwrap_or_default().to_string();
        let mut aliases: Vec<String> = [stem, speaker]
            .into_iter()
            .chain(languages.iter().map(|l| l.to_string()))
            .filter(|a| !a.is_empty())
            .collect();
        aliases.dedup();
        tracing::info!(
            voice = name,
            sample_rate = config.audio.sample_rate,
            workers,
            "piper voice loaded"
        );
        Ok(Voice {
            name: name.to_string(),
            aliases,
            espeak_voice: config.espeak.voice.clone(),
            sample_rate: config.audio.sample_rate,
            length_scale: config.inference.length_scale,
            instances,
        })
    }
}

/// Per-stage histograms of speech synthesis, on `/metrics`.
#[derive(Clone)]
struct TtsMetrics {
    queue_wait: Histogram,
    synthesis: Histogram,
    audio: Histogram,
    overloaded: Counter,
}

impl TtsMetrics {
    /// The process's one set (registering twice would duplicate the metric families).
    fn global() -> TtsMetrics {
        static METRICS: std::sync::OnceLock<TtsMetrics> = std::sync::OnceLock::new();
        METRICS.get_or_init(TtsMetrics::register).clone()
    }

    fn register() -> TtsMetrics {
        let registry = service_kit::telemetry::Metrics::global();
        TtsMetrics {
            // 1 ms to ~16 s.
            queue_wait: registry.histogram(
                "voice_tts_queue_wait_seconds",
                "Time a sentence waited for a piper worker",
                exponential_buckets(0.001, 2.0, 15),
            ),
            // 10 ms to ~40 s.
            synthesis: registry.histogram(
                "voice_tts_synthesis_seconds",
                "Time espeak-ng and piper took for one sentence",
                exponential_buckets(0.01, 2.0, 13),
            ),
            // 0.25 s to ~64 s of audio.
            audio: registry.histogram(
                "voice_tts_audio_seconds",
                "Length of the audio synthesised per sentence",
                exponential_buckets(0.25, 2.0, 9),
            ),
            overloaded: registry.registered(
                "voice_tts_overloaded",
                "Speech requests refused because the queue was full",
                Counter::default(),
            ),
        }
    }
}
