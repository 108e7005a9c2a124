//! The language model behind one interface: llama.cpp in this process ([`local`]) or an
//! OpenAI-compatible server ([`remote`]). Both stream text pieces and can be held to a
//! JSON schema, which is how a small model is kept to the tool allow-list.

pub mod local;
pub mod remote;

use protocol::dialogue::{ChatMessage, FinishReason, Usage};
use tokio::sync::mpsc;

pub use local::{LocalModel, LocalModelSettings};
pub use remote::RemoteModel;

/// One generation request, already in chat form.
#[derive(Debug, Clone)]
pub struct Generation {
    /// The conversation, system message first.
    pub messages: Vec<ChatMessage>,
    /// Upper bound on generated tokens.
    pub max_tokens: u32,
    /// 0 for greedy decoding (tool calls, tests); above 0 samples.
    pub temperature: f32,
    /// When set, the output is constrained to JSON matching this schema.
    pub json_schema: Option<serde_json::Value>,
    /// Seed of the sampler, so a sampled answer can be reproduced.
    pub seed: u32,
}

impl Generation {
    /// A greedy generation of at most `max_tokens`.
    pub fn greedy(messages: Vec<ChatMessage>, max_tokens: u32) -> Self {
        Self {
            messages,
            max_tokens,
            temperature: 0.0,
            json_schema: None,
            seed: 0,
        }
    }
}

/// What a generation streams back.
#[derive(Debug, Clone, PartialEq)]
pub enum GenEvent {
    /// More text (whole UTF-8 characters).
    Text(String),
    /// The end, with accounting.
    Done(GenSummary),
}

/// How a generation went; the figures the benchmark reports.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GenSummary {
    /// Why it stopped.
    pub finish: Option<FinishReason>,
    /// Token accounting.
    pub usage: Usage,
    /// Prompt tokens whose KV cache was reused (cached system prompt or previous turn).
    pub cached_tokens: u32,
    /// Milliseconds spent waiting for the model (queue).
    pub queue_ms: f64,
    /// Milliseconds from the start of work to the first generated token.
    pub first_token_ms: f64,
    /// Generation speed after the first token, tokens per second.
    pub tokens_per_second: f64,
}

/// Why a generation could not run.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// Too many requests are waiting for the model.
    #[error("the language model is busy ({0} requests waiting); retry shortly")]
    Busy(usize),
    /// The prompt does not fit the context window.
    #[error("the conversation is {tokens} tokens; at most {max} fit with room for the reply")]
    PromptTooLong {
        /// Tokens of the prompt.
        tokens: usize,
        /// The most that fit.
        max: usize,
    },
    /// The request cannot be expressed (a NUL byte, a schema llama.cpp cannot compile).
    #[error("{0}")]
    BadRequest(String),
    /// The model failed while running.
    #[error("language model failure: {0}")]
    Model(String),
    /// The remote server failed or answered something unreadable.
    #[error("remote language model: {0}")]
    Remote(String),
    /// The model worker has stopped.
    #[error("the language model worker has stopped")]
    Stopped,
}

/// The configured model.
#[derive(Clone)]
pub enum LanguageModel {
    /// llama.cpp in this process.
    Local(LocalModel),
    /// An OpenAI-compatible server.
    Remote(RemoteModel),
}

impl LanguageModel {
    /// Starts a generation; events arrive on the returned channel. Dropping the
    /// receiver cancels the generation (barge-in, a closed connection).
    pub async fn generate(
        &self,
        request: Generation,
    ) -> Result<mpsc::Receiver<GenEvent>, LlmError> {
        match self {
            LanguageModel::Local(model) => model.generate(request),
            LanguageModel::Remote(model) => model.generate(request).await,
        }
    }

    /// Runs a generation to the end and returns its text and summary.
    pub async fn complete(&self, request: Generation) -> Result<(String, GenSummary), LlmError> {
        let mut events = self.generate(request).await?;
        let mut text = String::new();
        while let Some(event) = events.recv().await {
            match event {
                GenEvent::Text(piece) => text.push_str(&piece),
                GenEvent::Done(summary) => return Ok((text, summary)),
            }
        }
        Err(LlmError::Stopped)
    }

    /// The name reported in `model` fields.
    pub fn name(&self) -> &str {
        match self {
            LanguageModel::Local(model) => model.name(),
            LanguageModel::Remote(model) => model.name(),
        }
    }
}
