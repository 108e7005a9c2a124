//! An OpenAI-compatible chat server (llama-server, LocalAI, vLLM, or another dialogue
//! service) as the language model: streaming by server-sent events, the JSON schema
//! sent as `response_format` so the server constrains the output.

use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::dialogue::{
    ChatCompletionChunk, ChatCompletionRequest, FinishReason, JsonSchemaFormat, ResponseFormat,
    Usage,
};
use tokio::sync::mpsc;

use super::{GenEvent, GenSummary, Generation, LlmError};

/// Longest wait for the server's first byte; a slow remote must not hold a turn.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Handle to the remote server; cheap to clone.
#[derive(Clone)]
pub struct RemoteModel {
    client: reqwest::Client,
    endpoint: Arc<str>,
    model: Arc<str>,
    api_key: Option<Arc<str>>,
}

impl RemoteModel {
    /// A client for `{base_url}/v1/chat/completions`.
    pub fn new(base_url: &str, model: &str, api_key: Option<&str>) -> Result<Self, LlmError> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| LlmError::Remote(e.to_string()))?;
        Ok(Self {
            client,
            endpoint: format!("{}/v1/chat/completions", base_url.trim_end_matches('/')).into(),
            model: model.into(),
            api_key: api_key.map(Into::into),
        })
    }

    /// The model name sent to the server.
    pub fn name(&self) -> &str {
        &self.model
    }

    /// Sends the request and streams the answer.
    pub async fn generate(
        &self,
        request: Generation,
    ) -> Result<mpsc::Receiver<GenEvent>, LlmError> {
        let started = Instant::now();
        let body = ChatCompletionRequest {
            model: self.model.to_string(),
            messages: request.messages,
            stream: true,
            max_tokens: Some(request.max_tokens),
            temperature: Some(request.temperature),
            response_format: request
                .json_schema
                .map(|schema| ResponseFormat::JsonSchema {
                    json_schema: JsonSchemaFormat {
                        name: "tool_call".into(),
                        schema,
                    },
                }),
        };
        let mut call = self.client.post(&*self.endpoint).json(&body);
        if let Some(key) = &self.api_key {
            call = call.bearer_auth(key);
        }
        let response = call
            .send()
            .await
            .map_err(|e| LlmError::Remote(e.to_string()))?;
        let status = response.status();
        if status == reqwest::StatusCode::SERVICE_UNAVAILABLE
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        {
            return Err(LlmError::Busy(0));
        }
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            return Err(LlmError::Remote(format!(
                "{status}: {}",
                truncate(&text, 300)
            )));
        }
        let (events, receiver) = mpsc::channel(64);
        tokio::spawn(async move {
            let mut response = response;
            // Bytes, not text: a chunk may end inside a multi-byte character.
            let mut buffer: Vec<u8> = Vec::new();
            let mut summary = GenSummary::default();
            let mut first_token_at: Option<Instant> = None;
            'read: while let Ok(Some(chunk)) = response.chunk().await {
                buffer.extend_from_slice(&chunk);
                while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                    let line = String::from_utf8_lossy(&buffer[..end])
                        .trim_end_matches('\r')
                        .to_owned();
                    buffer.drain(..=end);
                    let Some(data) = line.strip_prefix("data:") else {
                        continue;
                    };
                    let data = data.trim();
                    if data == "[DONE]" {
                        break 'read;
                    }
                    let Ok(chunk) = serde_json::from_str::<ChatCompletionChunk>(data) else {
                        tracing::warn!("remote model sent an unreadable chunk");
                        return;
                    };
                    for choice in chunk.choices {
                        if let Some(reason) = choice.finish_reason {
                            summary.finish = Some(reason);
                        }
                        if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
                            summary.usage.completion_tokens += 1;
                            if first_token_at.is_none() {
                                summary.first_token_ms = started.elapsed().as_secs_f64() * 1000.0;
                                first_token_at = Some(Instant::now());
                            }
                            if events.send(GenEvent::Text(text)).await.is_err() {
                                return; // cancelled
                            }
                        }
                    }
                }
            }
            if let Some(at) = first_token_at {
                let n = summary.usage.completion_tokens.saturating_sub(1);
                summary.tokens_per_second = f64::from(n) / at.elapsed().as_secs_f64().max(1e-9);
            }
            summary.finish = summary.finish.or(Some(FinishReason::Stop));
            summary.usage = Usage {
                total_tokens: summary.usage.completion_tokens,
                ..summary.usage
            };
            let _ = events.send(GenEvent::Done(summary)).await;
        });
        Ok(receiver)
    }
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}
