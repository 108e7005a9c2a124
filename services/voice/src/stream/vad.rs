//! Voice activity detection with Silero VAD v5 on ONNX Runtime (through `ort`).
//!
//! The model is recurrent: each 512-sample window (32 ms at 16 kHz) is scored with the
//! state left by the previous one, so one [`Vad`] belongs to one audio stream at a time.
//! Sessions are small (about 2 MB of weights) but take tens of milliseconds to build,
//! so [`VadPool`] keeps the ones that finished streams for the next stream.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor;

/// Samples per VAD window at 16 kHz (Silero VAD v5 is trained on 512).
pub const WINDOW: usize = 512;
/// Samples of the previous window the model sees before each new one. Silero's own
/// wrapper prepends them; without them the score of a window's first samples suffers.
const CONTEXT: usize = 64;
/// Size of the recurrent state `[2, 1, 128]`.
const STATE: usize = 2 * 128;
/// The only sample rate this stream accepts.
const SAMPLE_RATE: i64 = 16_000;

/// Why voice activity detection failed.
#[derive(Debug, thiserror::Error)]
pub enum VadError {
    /// ONNX Runtime's shared library could not be loaded.
    #[error("ONNX Runtime could not be loaded from {path}: {reason}")]
    Runtime {
        /// The shared library.
        path: String,
        /// ort's error.
        reason: String,
    },
    /// The model file could not be opened as an ONNX session.
    #[error("the VAD model {path} could not be loaded: {reason}")]
    Load {
        /// The model file.
        path: String,
        /// ort's error.
        reason: String,
    },
    /// Inference failed or returned an unexpected shape.
    #[error("voice activity detection failed: {0}")]
    Inference(String),
}

/// One Silero VAD session with its recurrent state: scores consecutive windows of one
/// stream. Blocking (sub-millisecond per window); call it off the async runtime.
pub struct Vad {
    session: Session,
    state: Vec<f32>,
    context: Vec<f32>,
}

impl Vad {
    /// Opens the model (verify it against the manifest first; `crate::onnxruntime::init` before).
    pub fn load(model: &Path) -> Result<Vad, VadError> {
        let load_error = |e: &dyn std::fmt::Display| VadError::Load {
            path: model.display().to_string(),
            reason: e.to_string(),
        };
        // One thread: a window is tiny, and whisper needs the cores more.
        let session = Session::builder()
            .and_then(|b| {
                b.with_optimization_level(GraphOptimizationLevel::Level3)
                    .map_err(Into::into)
            })
            .and_then(|b| b.with_intra_threads(1).map_err(Into::into))
            .and_then(|b| b.with_inter_threads(1).map_err(Into::into))
            .and_then(|mut b| b.commit_from_file(model))
            .map_err(|e| load_error(&e))?;
        Ok(Vad {
            session,
            state: vec![0.0; STATE],
            context: vec![0.0; CONTEXT],
        })
    }

    /// Forgets the stream so far, so the session can serve a new one.
    pub fn reset(&mut self) {
        self.state.fill(0.0);
        self.context.fill(0.0);
    }

    /// Probability (0..1) that `window` ([`WINDOW`] samples, 16 kHz, -1..1) is speech,
    /// given every window scored since the last [`Vad::reset`].
    pub fn speech_probability(&mut self, window: &[f32]) -> Result<f32, VadError> {
        if window.len() != WINDOW {
            return Err(VadError::Inference(format!(
                "a window has {} samples, expected {WINDOW}",
                window.len()
            )));
        }
        let fail = |e: ort::Error| VadError::Inference(e.to_string());
        let mut input = Vec::with_capacity(CONTEXT + WINDOW);
        input.extend_from_slice(&self.context);
        input.extend_from_slice(window);
        let input = Tensor::from_array(([1usize, CONTEXT + WINDOW], input)).map_err(fail)?;
        let state = Tensor::from_array(([2usize, 1, 128], self.state.clone())).map_err(fail)?;
        let rate = Tensor::from_array(((), vec![SAMPLE_RATE])).map_err(fail)?;
        let outputs = self
            .session
            .run(ort::inputs!["input" => input, "state" => state, "sr" => rate])
            .map_err(fail)?;
        let (_, probability) = outputs["output"]
            .try_extract_tensor::<f32>()
            .map_err(fail)?;
        let probability = *probability
            .first()
            .ok_or_else(|| VadError::Inference("the model returned no probability".into()))?;
        let (_, next) = outputs["stateN"]
            .try_extract_tensor::<f32>()
            .map_err(fail)?;
        if next.len() != STATE {
            return Err(VadError::Inference(format!(
                "the model returned a state of {} values, expected {STATE}",
                next.len()
            )));
        }
        self.state.copy_from_slice(next);
        self.context.copy_from_slice(&window[WINDOW - CONTEXT..]);
        Ok(probability)
    }
}

/// Idle VAD sessions, so a new stream does not pay for building one.
pub struct VadPool {
    model: PathBuf,
    idle: Mutex<Vec<Vad>>,
    max_idle: usize,
}

impl VadPool {
    /// A pool of sessions of `model`, keeping at most `max_idle` of them between streams.
    pub fn new(model: PathBuf, max_idle: usize) -> VadPool {
        VadPool {
            model,
            idle: Mutex::new(Vec::new()),
            max_idle,
        }
    }

    /// The model file.
    pub fn model(&self) -> &Path {
        &self.model
    }

    /// An idle session, or a new one (blocking: run it on `spawn_blocking`).
    pub fn take(&self) -> Result<Vad, VadError> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        match idle {
            Some(vad) => Ok(vad),
            None => Vad::load(&self.model),
        }
    }

    /// Returns a session after its stream ended; it is reset first.
    pub fn put(&self, mut vad: Vad) {
        vad.reset();
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < self.max_idle
        {
            idle.push(vad);
        }
    }
}
