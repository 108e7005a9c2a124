//! llama.cpp in this process, through llama-cpp-2.
//!
//! One worker thread owns the model and its context, so a request never waits for a
//! lock held by another and the KV cache has one owner. Requests queue in a bounded
//! channel; a full queue is answered at once ([`LlmError::Busy`]).
//!
//! Prompt cache: the system prompts given at start ("warm prefixes") are evaluated
//! once and their KV state kept in memory; a request that starts with one restores
//! it instead of evaluating it again. Between requests the context also keeps what it
//! evaluated last, so the next turn of the same conversation reuses its common prefix
//! (llama-server's `cache_prompt`). Matching is done on tokens, so it works for any
//! prompt, not only for the dialogue's own.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::{LlamaStateSeqFlags, SeqState};
use protocol::dialogue::{ChatMessage, FinishReason, Role, Usage};
use tokio::sync::{mpsc, oneshot};

use super::{GenEvent, GenSummary, Generation, LlmError};

/// llama.cpp's backend may be initialised once per process; every model shares it.
static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

/// The process-wide llama.cpp backend (initialised on first use, logs sent to tracing).
pub fn backend() -> Result<&'static LlamaBackend, LlmError> {
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| LlmError::Model(e.clone()))
}

/// The one sequence every request runs in (requests are served one at a time).
const SEQ: i32 = 0;

/// How the local model is loaded and bounded.
#[derive(Debug, Clone)]
pub struct LocalModelSettings {
    /// The GGUF file.
    pub path: PathBuf,
    /// Name reported in responses.
    pub name: String,
    /// CPU threads per evaluation.
    pub threads: usize,
    /// Context window in tokens.
    pub context_tokens: u32,
    /// Requests allowed to wait.
    pub queue: usize,
    /// System prompts evaluated once at start and reused by every request that begins
    /// with them.
    pub warm_prefixes: Vec<Vec<ChatMessage>>,
}

/// Handle to the model worker; cheap to clone.
#[derive(Clone)]
pub struct LocalModel {
    jobs: std::sync::mpsc::SyncSender<Job>,
    name: std::sync::Arc<str>,
    queue: usize,
    generated: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// A request handed to the worker.
struct Job {
    request: Generation,
    events: mpsc::Sender<GenEvent>,
    enqueued: Instant,
}

impl LocalModel {
    /// Loads the model on its worker thread and evaluates the warm prefixes; returns
    /// when it is ready to serve.
    pub fn load(settings: LocalModelSettings) -> Result<Self, LlmError> {
        backend()?;
        let (jobs, receiver) = std::sync::mpsc::sync_channel::<Job>(settings.queue);
        let (ready_tx, ready_rx) = oneshot::channel::<Result<(), LlmError>>();
        let name: std::sync::Arc<str> = settings.name.clone().into();
        let queue = settings.queue;
        let generated = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = generated.clone();
        std::thread::Builder::new()
            .name("llama".into())
            .spawn(move || worker(settings, receiver, ready_tx, counter))
            .map_err(|e| LlmError::Model(format!("cannot start the model thread: {e}")))?;
        ready_rx.blocking_recv().map_err(|_| LlmError::Stopped)??;
        Ok(Self {
            jobs,
            name,
            queue,
            generated,
        })
    }

    /// Tokens generated since start, over all requests (operators size hardware with
    /// it; tests see that a cancelled generation stopped).
    pub fn tokens_generated(&self) -> u64 {
        self.generated.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Queues a generation; see [`super::LanguageModel::generate`].
    pub fn generate(&self, request: Generation) -> Result<mpsc::Receiver<GenEvent>, LlmError> {
        let (events, receiver) = mpsc::channel(64);
        let job = Job {
            request,
            events,
            enqueued: Instant::now(),
        };
        match self.jobs.try_send(job) {
            Ok(()) => Ok(receiver),
            Err(std::sync::mpsc::TrySendError::Full(_)) => Err(LlmError::Busy(self.queue)),
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => Err(LlmError::Stopped),
        }
    }

    /// The configured model name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A prompt whose KV state is kept in memory.
struct CachedPrefix {
    tokens: Vec<LlamaToken>,
    state: SeqState,
}

/// The worker: loads, warms, then serves jobs until every handle is dropped.
fn worker(
    settings: LocalModelSettings,
    jobs: std::sync::mpsc::Receiver<Job>,
    ready: oneshot::Sender<Result<(), LlmError>>,
    generated: std::sync::Arc<std::sync::atomic::AtomicU64>,
) {
    let backend = match backend() {
        Ok(backend) => backend,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let model = match load_model(backend, &settings.path) {
        Ok(model) => model,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let threads = i32::try_from(settings.threads).unwrap_or(2);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(settings.context_tokens))
        .with_n_batch(512)
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let context = match model.new_context(backend, params) {
        Ok(context) => context,
        Err(e) => {
            let _ = ready.send(Err(LlmError::Model(format!(
                "cannot create a context: {e}"
            ))));
            return;
        }
    };
    let template = model.chat_template(None).ok();
    let mut engine = Engine {
        model: &model,
        context,
        template,
        current: Vec::new(),
        prefixes: Vec::new(),
        batch: LlamaBatch::new(512, 1),
    };
    for prefix in &settings.warm_prefixes {
        if let Err(e) = engine.warm(prefix) {
            let _ = ready.send(Err(e));
            return;
        }
    }
    tracing::info!(
        model = %settings.name,
        warm_prefixes = engine.prefixes.len(),
        warm_tokens = engine.prefixes.iter().map(|p| p.tokens.len()).sum::<usize>(),
        "language model ready"
    );
    let _ = ready.send(Ok(()));
    while let Ok(job) = jobs.recv() {
        if job.events.is_closed() {
            continue; // the caller gave up while queued
        }
        let queue_ms = job.enqueued.elapsed().as_secs_f64() * 1000.0;
        let events = job.events.clone();
        match engine.run(job.request, &job.events) {
            Ok(mut summary) => {
                summary.queue_ms = queue_ms;
                generated.fetch_add(
                    u64::from(summary.usage.completion_tokens),
                    std::sync::atomic::Ordering::Relaxed,
                );
                let _ = events.blocking_send(GenEvent::Done(summary));
            }
            Err(e) => {
                tracing::warn!(error = %e, "generation failed");
                // Dropping the sender without Done tells the caller it failed.
                engine.forget_current();
            }
        }
    }
}

fn load_model(backend: &LlamaBackend, path: &Path) -> Result<LlamaModel, LlmError> {
    LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
        .map_err(|e| LlmError::Model(format!("cannot load {}: {e}", path.display())))
}

/// The model, its context and what the context holds.
struct Engine<'m> {
    model: &'m LlamaModel,
    context: LlamaContext<'m>,
    template: Option<LlamaChatTemplate>,
    /// Tokens whose KV entries sit in [`SEQ`], in order.
    current: Vec<LlamaToken>,
    /// Warm prefixes, longest match wins.
    prefixes: Vec<CachedPrefix>,
    batch: LlamaBatch<'static>,
}

impl Engine<'_> {
    /// The prompt text of a conversation, in the model's own chat template (ChatML when
    /// the model has none).
    fn render(&self, messages: &[ChatMessage], add_assistant: bool) -> Result<String, LlmError> {
        if let Some(template) = &self.template {
            let chat = messages
                .iter()
                .map(|m| LlamaChatMessage::new(role_name(m.role).into(), m.content.clone()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| LlmError::BadRequest(format!("message text: {e}")))?;
            return self
                .model
                .apply_chat_template(template, &chat, add_assistant)
                .map_err(|e| LlmError::BadRequest(format!("chat template: {e}")));
        }
        let mut text = String::new();
        for m in messages {
            text.push_str(&format!(
                "<|im_start|>{}\n{}<|im_end|>\n",
                role_name(m.role),
                m.content
            ));
        }
        if add_assistant {
            text.push_str("<|im_start|>assistant\n");
        }
        Ok(text)
    }

    fn tokenize(&self, text: &str) -> Vec<LlamaToken> {
        self.model.vocab().tokenize(text.as_bytes(), true, true)
    }

    /// Evaluates a system prompt once and keeps its KV state.
    fn warm(&mut self, messages: &[ChatMessage]) -> Result<(), LlmError> {
        let text = self.render(messages, false)?;
        let tokens = self.tokenize(&text);
        self.forget_current();
        self.evaluate(&tokens, 0)?;
        self.current = tokens.clone();
        let state = self
            .context
            .state_seq_get(SEQ, LlamaStateSeqFlags::default())
            .map_err(|e| LlmError::Model(format!("cannot save the prompt cache: {e}")))?;
        self.prefixes.push(CachedPrefix { tokens, state });
        Ok(())
    }

    /// Empties the context.
    fn forget_current(&mut self) {
        let _ = self.context.clear_kv_cache_seq(None, None, None);
        self.current.clear();
    }

    /// Makes the context hold the longest reusable prefix of `tokens` and returns its
    /// length: what is already there, or a warm prefix restored from memory.
    fn reuse_prefix(&mut self, tokens: &[LlamaToken]) -> Result<usize, LlmError> {
        let kept = common_prefix(&self.current, tokens);
        let warm = self
            .prefixes
            .iter()
            .enumerate()
            .filter(|(_, p)| tokens.starts_with(&p.tokens))
            .max_by_key(|(_, p)| p.tokens.len())
            .map(|(i, p)| (i, p.tokens.len()));
        match warm {
            Some((index, len)) if len > kept => {
                self.forget_current();
                let prefix = &self.prefixes[index];
                self.context
                    .state_seq_set(&prefix.state, SEQ)
                    .map_err(|e| {
                        LlmError::Model(format!("cannot restore the prompt cache: {e}"))
                    })?;
                self.current = prefix.tokens.clone();
                Ok(len)
            }
            _ => {
                let start = u32::try_from(kept).unwrap_or(u32::MAX);
                let removed = self
                    .context
                    .clear_kv_cache_seq(Some(0), Some(start), None)
                    .unwrap_or(false);
                if removed {
                    self.current.truncate(kept);
                    Ok(kept)
                } else {
                    self.forget_current();
                    Ok(0)
                }
            }
        }
    }

    /// Evaluates `tokens` at positions from `start`, asking for logits of the last one.
    fn evaluate(&mut self, tokens: &[LlamaToken], start: usize) -> Result<(), LlmError> {
        let chunk = self.batch_capacity();
        let last = tokens.len().saturating_sub(1);
        for (c, piece) in tokens.chunks(chunk).enumerate() {
            self.batch.clear();
            for (i, token) in piece.iter().enumerate() {
                let index = c * chunk + i;
                let position = i32::try_from(start + index)
                    .map_err(|_| LlmError::Model("position overflow".into()))?;
                self.batch
                    .add(*token, position, &[SEQ], index == last)
                    .map_err(|e| LlmError::Model(e.to_string()))?;
            }
            self.context
                .decode(&mut self.batch)
                .map_err(|e| LlmError::Model(format!("decode: {e}")))?;
        }
        Ok(())
    }

    fn batch_capacity(&self) -> usize {
        512
    }

    /// Serves one request, streaming text to `events`.
    fn run(
        &mut self,
        request: Generation,
        events: &mpsc::Sender<GenEvent>,
    ) -> Result<GenSummary, LlmError> {
        let started = Instant::now();
        let prompt = self.render(&request.messages, true)?;
        let tokens = self.tokenize(&prompt);
        let window = self.context.n_ctx() as usize;
        let room = window.saturating_sub(request.max_tokens as usize);
        if tokens.len() > room || tokens.is_empty() {
            return Err(LlmError::PromptTooLong {
                tokens: tokens.len(),
                max: room,
            });
        }
        let mut reused = self.reuse_prefix(&tokens)?;
        if reused == tokens.len() {
            // The logits of the last token are needed again: evaluate it once more.
            reused -= 1;
            let start = u32::try_from(reused).unwrap_or(u32::MAX);
            let _ = self.context.clear_kv_cache_seq(Some(0), Some(start), None);
            self.current.truncate(reused);
        }
        self.evaluate(&tokens[reused..], reused)?;
        self.current = tokens.clone();

        let mut sampler = self.sampler(&request)?;
        let vocab = self.model.vocab();
        let mut position = tokens.len();
        let mut pending_bytes: Vec<u8> = Vec::new();
        let mut generated = 0u32;
        let mut first_token_ms = 0.0;
        let mut first_token_at = None;
        let mut finish = FinishReason::Length;
        // -1: the last logits computed (the prompt's last token, then each new one).
        let logits_index = -1;
        while generated < request.max_tokens {
            let token = sampler.sample(&self.context, logits_index);
            if vocab.is_eog(token) {
                finish = FinishReason::Stop;
                break;
            }
            generated += 1;
            if first_token_at.is_none() {
                first_token_ms = started.elapsed().as_secs_f64() * 1000.0;
                first_token_at = Some(Instant::now());
            }
            pending_bytes.extend(vocab.token_to_piece(token, false, None));
            let text = take_utf8(&mut pending_bytes);
            if !text.is_empty() && events.blocking_send(GenEvent::Text(text)).is_err() {
                finish = FinishReason::Stop; // cancelled: the caller dropped the stream
                break;
            }
            if position + 1 >= window {
                break;
            }
            self.batch.clear();
            let pos = i32::try_from(position).map_err(|_| LlmError::Model("position".into()))?;
            self.batch
                .add(token, pos, &[SEQ], true)
                .map_err(|e| LlmError::Model(e.to_string()))?;
            self.context
                .decode(&mut self.batch)
                .map_err(|e| LlmError::Model(format!("decode: {e}")))?;
            self.current.push(token);
            position += 1;
        }
        let tokens_per_second = match first_token_at {
            Some(at) if generated > 1 => {
                f64::from(generated - 1) / at.elapsed().as_secs_f64().max(1e-9)
            }
            _ => 0.0,
        };
        let prompt_tokens = u32::try_from(tokens.len()).unwrap_or(u32::MAX);
        Ok(GenSummary {
            finish: Some(finish),
            usage: Usage {
                prompt_tokens,
                completion_tokens: generated,
                total_tokens: prompt_tokens + generated,
            },
            cached_tokens: u32::try_from(reused).unwrap_or(u32::MAX),
            queue_ms: 0.0,
            first_token_ms,
            tokens_per_second,
        })
    }

    /// Greedy, or temperature sampling; behind a grammar when a schema is given.
    fn sampler(&self, request: &Generation) -> Result<LlamaSampler, LlmError> {
        let mut chain = Vec::new();
        if let Some(schema) = &request.json_schema {
            let grammar = llama_cpp_2::json_schema_to_grammar(&schema.to_string())
                .map_err(|e| LlmError::BadRequest(format!("json schema: {e}")))?;
            chain.push(
                LlamaSampler::grammar(self.model, &grammar, "root")
                    .map_err(|e| LlmError::BadRequest(format!("grammar: {e}")))?,
            );
        }
        if request.temperature <= 0.0 {
            chain.push(LlamaSampler::greedy());
        } else {
            chain.push(LlamaSampler::top_k(40));
            chain.push(LlamaSampler::top_p(0.95, 1));
            chain.push(LlamaSampler::temp(request.temperature));
            chain.push(LlamaSampler::dist(request.seed));
        }
        Ok(LlamaSampler::chain_simple(chain))
    }
}

/// The role names chat templates know.
fn role_name(role: Role) -> &'static str {
    match role {
        Role::System | Role::Developer => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    }
}

/// Length of the common prefix of two token lists.
fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Removes and returns the longest valid UTF-8 prefix, keeping an incomplete character
/// for the next token (a token may end inside a multi-byte character).
fn take_utf8(bytes: &mut Vec<u8>) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            let text = text.to_owned();
            bytes.clear();
            text
        }
        Err(e) if e.error_len().is_none() => {
            let valid = e.valid_up_to();
            let text = String::from_utf8_lossy(&bytes[..valid]).into_owned();
            bytes.drain(..valid);
            text
        }
        Err(_) => {
            // Invalid bytes (not just incomplete): replace them rather than stall.
            let text = String::from_utf8_lossy(bytes).into_owned();
            bytes.clear();
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use super::take_utf8;

    #[test]
    fn incomplete_characters_wait_for_the_next_token() {
        let euro = "€".as_bytes();
        let mut bytes = b"12 ".to_vec();
        bytes.extend_from_slice(&euro[..2]);
        assert_eq!(take_utf8(&mut bytes), "12 ");
        bytes.extend_from_slice(&euro[2..]);
        assert_eq!(take_utf8(&mut bytes), "€");
        assert!(bytes.is_empty());
    }
}
