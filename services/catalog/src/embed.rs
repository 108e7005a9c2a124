//! Text embeddings (all-MiniLM-L6-v2) for product search and `POST /v1/embeddings`.
//!
//! The model runs in-process on candle's CPU backend, the way sentence-transformers
//! runs it: WordPiece tokens truncated to 256 (the model's `max_seq_length`; the
//! shipped tokenizer.json says 128 and pads to a fixed 128, both overridden here),
//! BERT, mean pooling over the attention mask, L2 normalisation. Vectors are
//! therefore unit length and cosine similarity is a dot product.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use candle_core::{D, DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use protocol::catalog::{Embedding, EmbeddingsRequest, EmbeddingsResponse, EmbeddingsUsage};
use service_kit::error::{ApiError, ApiErrorCode};
use service_kit::workers::BoundedWorkers;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Name of the model in the model manifest (`fixtures/models.toml`) and in API answers.
pub const MODEL_NAME: &str = "all-minilm-l6-v2";
/// Length of every embedding vector.
pub const DIMENSIONS: usize = 384;
/// Tokens per text the model sees; longer texts are truncated, as sentence-transformers
/// does (`max_seq_length` of all-MiniLM-L6-v2).
pub const MAX_TOKENS: usize = 256;
/// Most texts in one call: bounds the memory and time one request can take.
pub const MAX_TEXTS: usize = 256;
/// Most characters in one text. Far more than the 256 tokens the model reads, so real
/// product descriptions pass, but it stops a client making us tokenise megabytes.
pub const MAX_CHARS: usize = 8192;
/// Texts run through the model at once. Texts are sorted by length first so each
/// micro-batch pads little; 32 is where throughput stops improving on 2 cores.
const MICRO_BATCH: usize = 32;

/// Why embedding failed; each variant maps to one HTTP status and stable code.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// The installed model files are missing or do not match their pinned sha256.
    #[error("model {MODEL_NAME} is not installed correctly (run scripts/setup.sh): {0}")]
    ModelFiles(#[source] models::ModelError),
    /// The verified files could not be loaded (config, tokenizer or weights).
    #[error("loading model {MODEL_NAME}: {0}")]
    Load(String),
    /// No text was given, or one text is empty.
    #[error("{0}")]
    EmptyInput(String),
    /// More texts than one call may carry.
    #[error("{count} texts in one request; at most {MAX_TEXTS}")]
    TooManyInputs {
        /// Texts sent.
        count: usize,
    },
    /// One text is longer than allowed.
    #[error("text {index} has {chars} characters; at most {MAX_CHARS}")]
    InputTooLong {
        /// Position of the text in the request.
        index: usize,
        /// Its length in characters.
        chars: usize,
    },
    /// The request names a model this service does not serve.
    #[error("unknown model {0:?}; this service embeds with {MODEL_NAME:?}")]
    UnknownModel(String),
    /// Every worker is busy and the queue is full.
    #[error("embedding is busy ({queued} requests waiting); try again shortly")]
    Overloaded {
        /// Requests already waiting.
        queued: usize,
    },
    /// Tokenising or the forward pass failed.
    #[error("embedding failed: {0}")]
    Inference(String),
}

impl ApiErrorCode for EmbedError {
    fn status(&self) -> StatusCode {
        match self {
            EmbedError::ModelFiles(_) | EmbedError::Load(_) | EmbedError::Inference(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            EmbedError::EmptyInput(_)
            | EmbedError::TooManyInputs { .. }
            | EmbedError::InputTooLong { .. }
            | EmbedError::UnknownModel(_) => StatusCode::BAD_REQUEST,
            EmbedError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            EmbedError::ModelFiles(_) => "model_invalid",
            EmbedError::Load(_) => "model_not_loaded",
            EmbedError::EmptyInput(_) => "empty_input",
            EmbedError::TooManyInputs { .. } => "too_many_inputs",
            EmbedError::InputTooLong { .. } => "input_too_long",
            EmbedError::UnknownModel(_) => "unknown_model",
            EmbedError::Overloaded { .. } => "overloaded",
            EmbedError::Inference(_) => "embedding_failed",
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        matches!(self, EmbedError::Overloaded { .. }).then_some(Duration::from_secs(1))
    }
}

fn inference(err: impl std::fmt::Display) -> EmbedError {
    EmbedError::Inference(err.to_string())
}

/// Embeddings of a batch of texts, in input order, with token accounting.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    /// One unit-length vector per text.
    pub vectors: Vec<[f32; DIMENSIONS]>,
    /// Tokens the model read over all texts (after truncation, with `[CLS]`/`[SEP]`).
    pub tokens: usize,
}

/// all-MiniLM-L6-v2 loaded and ready; cheap to share behind an `Arc`, and calls from
/// several threads are safe (each runs on the embedder's own thread pool).
pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    /// Its own pool so `threads` bounds the cores embedding takes, whatever else the
    /// process runs on rayon's global pool.
    pool: rayon::ThreadPool,
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder")
            .field("model", &MODEL_NAME)
            .field("threads", &self.pool.current_num_threads())
            .finish()
    }
}

impl Embedder {
    /// Verifies the installed model files against the manifest's sha256, then loads
    /// them from `models_dir` (`models/` or `$SHOP_MODELS_DIR`). `threads` is how
    /// many cores one call may use (0 means all).
    pub fn load(models_dir: &Path, threads: usize) -> Result<Embedder, EmbedError> {
        models::verify_installed(models_dir, MODEL_NAME).map_err(EmbedError::ModelFiles)?;
        let dir = models_dir.join("minilm");

        let config = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|e| EmbedError::Load(format!("config.json: {e}")))?;
        let config: Config = serde_json::from_str(&config)
            .map_err(|e| EmbedError::Load(format!("config.json: {e}")))?;

        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| EmbedError::Load(format!("tokenizer.json: {e}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| EmbedError::Load(format!("tokenizer truncation: {e}")))?;
        // Pad to the longest text of each batch, not the file's fixed 128.
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_id: 0,
            pad_type_id: 0,
            pad_token: "[PAD]".into(),
            ..PaddingParams::default()
        }));

        let weights = std::fs::read(dir.join("model.safetensors"))
            .map_err(|e| EmbedError::Load(format!("model.safetensors: {e}")))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|e| EmbedError::Load(format!("model.safetensors: {e}")))?;
        let model = BertModel::load(vb, &config)
            .map_err(|e| EmbedError::Load(format!("BERT weights: {e}")))?;

        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("embed-{i}"))
            .build()
            .map_err(|e| EmbedError::Load(format!("thread pool: {e}")))?;
        Ok(Embedder {
            model,
            tokenizer,
            pool,
        })
    }

    /// Checks the bounds every call must respect, before any work is done.
    pub fn check(texts: &[&str]) -> Result<(), EmbedError> {
        if texts.is_empty() {
            return Err(EmbedError::EmptyInput("no text to embed".into()));
        }
        if texts.len() > MAX_TEXTS {
            return Err(EmbedError::TooManyInputs { count: texts.len() });
        }
        for (index, text) in texts.iter().enumerate() {
            if text.trim().is_empty() {
                return Err(EmbedError::EmptyInput(format!("text {index} is empty")));
            }
            // Bytes bound characters from above: count only when it could matter.
            if text.len() > MAX_CHARS {
                let chars = text.chars().count();
                if chars > MAX_CHARS {
                    return Err(EmbedError::InputTooLong { index, chars });
                }
            }
        }
        Ok(())
    }

    /// Embeds texts (at most [`MAX_TEXTS`], each non-empty and at most [`MAX_CHARS`]
    /// characters) into unit vectors, in input order. Blocking: call it from a
    /// blocking thread in async code.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<[f32; DIMENSIONS]>, EmbedError> {
        self.embed_counted(texts).map(|embedded| embedded.vectors)
    }

    /// Like [`Embedder::embed`], also counting the tokens the model read.
    pub fn embed_counted(&self, texts: &[&str]) -> Result<Embedded, EmbedError> {
        Self::check(texts)?;
        self.pool.install(|| self.embed_checked(texts))
    }

    fn embed_checked(&self, texts: &[&str]) -> Result<Embedded, EmbedError> {
        // Similar lengths together, so each micro-batch pads little; the order is
        // restored at the end.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut vectors = vec![[0.0f32; DIMENSIONS]; texts.len()];
        let mut tokens = 0;
        for chunk in order.chunks(MICRO_BATCH) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            let (embedded, counted) = self.forward(&batch)?;
            tokens += counted;
            for (&i, vector) in chunk.iter().zip(embedded) {
                vectors[i] = vector;
            }
        }
        Ok(Embedded { vectors, tokens })
    }

    /// One padded batch through BERT, mean-pooled and normalised.
    fn forward(&self, texts: &[&str]) -> Result<(Vec<[f32; DIMENSIONS]>, usize), EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(inference)?;
        let width = encodings.iter().map(|e| e.len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(texts.len() * width);
        let mut mask = Vec::with_capacity(texts.len() * width);
        for encoding in &encodings {
            ids.extend_from_slice(encoding.get_ids());
            mask.extend_from_slice(encoding.get_attention_mask());
        }
        let tokens = mask.iter().map(|&m| m as usize).sum();
        let shape = (texts.len(), width);
        let device = &Device::Cpu;
        let ids = Tensor::from_vec(ids, shape, device).map_err(inference)?;
        let mask = Tensor::from_vec(mask, shape, device).map_err(inference)?;
        // Single-segment input: every token type is 0.
        let types = ids.zeros_like().map_err(inference)?;
        let hidden = self
            .model
            .forward(&ids, &types, Some(&mask))
            .map_err(inference)?;
        let pooled = mean_pool(&hidden, &mask).map_err(inference)?;
        let rows = pooled.to_vec2::<f32>().map_err(inference)?;
        let vectors = rows
            .into_iter()
            .map(|row| {
                <[f32; DIMENSIONS]>::try_from(row.as_slice()).map_err(|_| {
                    EmbedError::Inference(format!("the model gave {} dimensions", row.len()))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok((vectors, tokens))
    }
}

/// Mean of the token vectors the mask keeps, L2-normalised (sentence-transformers'
/// `Pooling(mean)` + `Normalize`), so padding never shifts a text's embedding.
fn mean_pool(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let mask = mask.to_dtype(DType::F32)?.unsqueeze(D::Minus1)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    // At least one token ([CLS]) is always kept; the clamp only guards the division.
    let counts = mask.sum(1)?.clamp(1e-9, f32::MAX)?;
    let mean = summed.broadcast_div(&counts)?;
    let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f32::MAX)?;
    mean.broadcast_div(&norm)
}

/// How many embedding calls run at once and how many may wait for a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbedLimits {
    /// Calls running at once. One is right when the embedder's threads already use
    /// the cores; more only interleave.
    pub workers: usize,
    /// Calls waiting for a worker; beyond that, 503 `overloaded`.
    pub queue: usize,
}

impl Default for EmbedLimits {
    fn default() -> Self {
        EmbedLimits {
            workers: 1,
            queue: 16,
        }
    }
}

/// The embedder behind a bounded queue, shared by `POST /v1/embeddings`, search
/// queries and catalogue ingestion, so together they never oversubscribe the cores.
#[derive(Debug, Clone)]
pub struct EmbedPool {
    embedder: Arc<Embedder>,
    workers: BoundedWorkers,
}

impl EmbedPool {
    /// A pool running `embedder` with the given worker and queue bounds.
    pub fn new(embedder: Arc<Embedder>, limits: EmbedLimits) -> Self {
        EmbedPool {
            embedder,
            workers: BoundedWorkers::new(limits.workers, limits.queue),
        }
    }

    /// Embeds on a blocking thread once a worker is free, or refuses when the queue
    /// is full so a burst degrades into quick 503s instead of slow timeouts.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Embedded, EmbedError> {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        // Bad input is refused before it takes a place in the queue.
        Embedder::check(&refs)?;
        let permit = self
            .workers
            .acquire()
            .await
            .map_err(|full| EmbedError::Overloaded {
                queued: full.queued,
            })?;
        let embedder = self.embedder.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            embedder.embed_counted(&refs)
        })
        .await
        .map_err(|e| EmbedError::Inference(format!("the embedding thread failed: {e}")))?
    }
}

/// Whether a requested model name means ours: the manifest name or the
/// sentence-transformers name, in any case, with or without its hub prefix.
fn is_our_model(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let name = name.strip_prefix("sentence-transformers/").unwrap_or(&name);
    name == MODEL_NAME
}

async fn embeddings(
    State(pool): State<EmbedPool>,
    Json(request): Json<EmbeddingsRequest>,
) -> Result<Json<EmbeddingsResponse>, ApiError> {
    if !is_our_model(&request.model) {
        return Err(EmbedError::UnknownModel(request.model).into());
    }
    let texts: Vec<String> = request
        .input
        .texts()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let embedded = pool.embed(texts).await?;
    let tokens = u32::try_from(embedded.tokens).unwrap_or(u32::MAX);
    let data = embedded
        .vectors
        .into_iter()
        .enumerate()
        .map(|(index, vector)| Embedding {
            object: "embedding".into(),
            // At most MAX_TEXTS entries, so the index always fits.
            index: u32::try_from(index).unwrap_or(u32::MAX),
            embedding: vector.to_vec(),
        })
        .collect();
    Ok(Json(EmbeddingsResponse {
        object: "list".into(),
        data,
        model: MODEL_NAME.into(),
        usage: EmbeddingsUsage {
            prompt_tokens: tokens,
            total_tokens: tokens,
        },
    }))
}

/// `POST /v1/embeddings` (OpenAI-compatible) on `embedder`, with the default
/// [`EmbedLimits`]. Serve it through `service_kit::server::Server`, which adds the
/// JSON error body, request ids, metrics and health routes.
pub fn router(embedder: Arc<Embedder>) -> Router {
    router_with_limits(embedder, EmbedLimits::default())
}

/// [`router`] with explicit worker and queue bounds.
pub fn router_with_limits(embedder: Arc<Embedder>, limits: EmbedLimits) -> Router {
    router_on(EmbedPool::new(embedder, limits))
}

/// `POST /v1/embeddings` on a pool the caller shares with other work.
pub fn router_on(pool: EmbedPool) -> Router {
    Router::new()
        .route("/v1/embeddings", post(embeddings))
        .with_state(pool)
}
