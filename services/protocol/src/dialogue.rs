//! The `dialogue` service API: OpenAI-compatible `POST /v1/chat/completions`, so any
//! OpenAI-compatible client or back end (llama-server, vLLM, LocalAI) fits either side.
//! Only the fields the assistant uses are modelled; unknown fields are ignored.

use serde::{Deserialize, Serialize};

/// Who wrote a chat message (OpenAI's roles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Instructions and grounding for the model.
    System,
    /// Newer OpenAI name for system instructions; accepted so newer clients work.
    Developer,
    /// The customer (or the kiosk speaking for her).
    User,
    /// The model's replies.
    Assistant,
    /// The result of a tool call (e.g. a catalogue search) fed back to the model.
    Tool,
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: Role,
    /// What was said; OpenAI allows `null` for tool-call-only messages, read as empty.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub content: String,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

impl ChatMessage {
    /// Shorthand for building a message in code and tests.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// Request body of `POST /v1/chat/completions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionRequest {
    /// Model name; the service maps it to a local model.
    pub model: String,
    /// The conversation so far, oldest first.
    pub messages: Vec<ChatMessage>,
    /// When true the answer comes as server-sent events of [`ChatCompletionChunk`],
    /// so the kiosk can speak the first sentence before the last is written.
    #[serde(default)]
    pub stream: bool,
    /// Upper bound on generated tokens; the server's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature; the server's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
}

/// Why the model stopped generating (OpenAI's `finish_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// Natural end or a stop sequence.
    Stop,
    /// `max_tokens` reached; the answer is cut short.
    Length,
    /// The model asked for a tool call.
    ToolCalls,
    /// Output withheld by a content filter.
    ContentFilter,
}

/// Token accounting, reported so operators can size hardware.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Sum of both.
    pub total_tokens: u32,
}

/// Response body of a non-streaming chat completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletion {
    /// Unique id of the completion (`chatcmpl-...`).
    pub id: String,
    /// Always `chat.completion`; clients use it to tell bodies apart.
    pub object: String,
    /// Unix time in seconds when the completion was created.
    pub created: u64,
    /// Model that produced it.
    pub model: String,
    /// The answers; the assistant always asks for one.
    pub choices: Vec<ChatChoice>,
    /// Token accounting, when the back end reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

impl ChatCompletion {
    /// The `object` value of a non-streaming completion.
    pub const OBJECT: &'static str = "chat.completion";
}

/// One answer of a non-streaming completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatChoice {
    /// Position among the choices, from 0.
    pub index: u32,
    /// The assistant's message.
    pub message: ChatMessage,
    /// Why generation stopped.
    pub finish_reason: Option<FinishReason>,
}

/// One server-sent event of a streaming completion (`data: {...}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletionChunk {
    /// Same id on every chunk of one completion.
    pub id: String,
    /// Always `chat.completion.chunk`.
    pub object: String,
    /// Unix time in seconds when the completion was created.
    pub created: u64,
    /// Model that produced it.
    pub model: String,
    /// The increments, one per choice.
    pub choices: Vec<ChunkChoice>,
}

impl ChatCompletionChunk {
    /// The `object` value of a streaming chunk.
    pub const OBJECT: &'static str = "chat.completion.chunk";
}

/// The increment of one choice in a streaming chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    /// Position among the choices, from 0.
    pub index: u32,
    /// What is new since the previous chunk.
    pub delta: ChatDelta,
    /// Set (and serialized as non-null) only on the last chunk of the choice.
    pub finish_reason: Option<FinishReason>,
}

/// New content in a streaming chunk; the role comes only in the first one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatDelta {
    /// Present in the first chunk only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Text to append to the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_openai_request_parses_with_defaults() {
        let req: ChatCompletionRequest = serde_json::from_str(
            r#"{"model":"local","messages":[{"role":"system","content":"Be brief."},
                {"role":"user","content":"A shirt, please"}]}"#,
        )
        .unwrap();
        assert!(!req.stream);
        assert_eq!(req.max_tokens, None);
        assert_eq!(
            req.messages[1],
            ChatMessage::new(Role::User, "A shirt, please")
        );
        // Absent options are left out, so the back end applies its own defaults.
        let json = serde_json::to_value(&req).unwrap();
        assert!(json.get("temperature").is_none());
    }

    #[test]
    fn completion_and_chunk_round_trip_with_openai_field_names() {
        let body = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,
            "model":"local","choices":[{"index":0,"message":{"role":"assistant",
            "content":"Here are two shirts."},"finish_reason":"stop"}],
            "usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15}}"#;
        let c: ChatCompletion = serde_json::from_str(body).unwrap();
        assert_eq!(c.choices[0].finish_reason, Some(FinishReason::Stop));
        assert_eq!(c.usage.unwrap().total_tokens, 15);
        let back: ChatCompletion =
            serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);

        let chunk = ChatCompletionChunk {
            id: "chatcmpl-1".into(),
            object: ChatCompletionChunk::OBJECT.into(),
            created: 1,
            model: "local".into(),
            choices: vec![ChunkChoice {
                index: 0,
                delta: ChatDelta {
                    role: None,
                    content: Some("Here".into()),
                },
                finish_reason: None,
            }],
        };
        let json = serde_json::to_value(&chunk).unwrap();
        assert_eq!(json["object"], "chat.completion.chunk");
        assert_eq!(
            json["choices"][0]["delta"],
            serde_json::json!({"content": "Here"})
        );
        assert!(json["choices"][0]["finish_reason"].is_null());
    }

    #[test]
    fn null_content_reads_as_empty() {
        let m: ChatMessage =
            serde_json::from_str(r#"{"role":"assistant","content":null}"#).unwrap();
        assert_eq!(m.content, "");
    }
}
