//! The `dialogue` service API: OpenAI-compatible `POST /v1/chat/completions`, so any
//! OpenAI-compatible client or back end (llama-server, vLLM, LocalAI) fits either side.
//! Only the fields the assistant uses are modelled; unknown fields are ignored.
//!
//! It also defines the session API the kiosk drives a conversation with: a session per
//! customer at the kiosk, turns streamed back as [`TurnEvent`]s (understanding, product
//! cards, text by sentence, actions), and the [`Intent`]s and [`Slots`] the dialogue
//! understands, which its evaluation fixtures are written in.

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
    /// Constrains the answer to JSON (OpenAI's `response_format`); the dialogue uses a
    /// JSON schema so a small model can only name allowed tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
}

/// OpenAI's `response_format`: free text, any JSON, or JSON matching a schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Plain text (the default).
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON matching the given schema.
    JsonSchema {
        /// The schema and its name.
        json_schema: JsonSchemaFormat,
    },
}

/// The schema part of [`ResponseFormat::JsonSchema`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchemaFormat {
    /// Name of the schema (OpenAI requires one).
    pub name: String,
    /// The JSON schema the answer must match.
    pub schema: serde_json::Value,
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

/// What the customer wants, as the dialogue understood one utterance. Each intent is
/// served by one tool (or none), so the set is also the tool allow-list: nothing the
/// customer says, and nothing in a product description, can call anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    /// "Hello", "hi there".
    Greeting,
    /// "How are you?", "thanks": polite conversation, no tool.
    SmallTalk,
    /// Find or recommend products: "a blue shirt under 50 euros", "like this one but in
    /// black" (with a [`Reference`]).
    FindProduct,
    /// Products that go with a garment: "a shirt to go with that sweater".
    GoesWith,
    /// A question about a shown product: price, sizes in stock, material, care.
    ProductQuestion,
    /// Show her wearing a product in the mirror.
    TryOn,
    /// Bring a product to a fitting room (a request to the staff queue).
    Fetch,
    /// Put a product in the cart.
    CartAdd,
    /// Take a product out of the cart.
    CartRemove,
    /// Ask for a member of staff.
    Human,
    /// "Goodbye", "that's all".
    Goodbye,
    /// Asks to be recognised next time: answered with an explicit consent question,
    /// never by enrolling.
    RememberMe,
    /// "Forget me": answered by the kiosk's forget flow.
    ForgetMe,
    /// "Yes please", "sure": accepts what the assistant just offered.
    Affirm,
    /// "No thanks": declines what the assistant just offered.
    Deny,
    /// Anything a shop assistant does not help with; declined politely.
    OffTopic,
}

impl Intent {
    /// Every intent, in a stable order (schemas, prompts, reports).
    pub const ALL: [Intent; 16] = [
        Intent::Greeting,
        Intent::SmallTalk,
        Intent::FindProduct,
        Intent::GoesWith,
        Intent::ProductQuestion,
        Intent::TryOn,
        Intent::Fetch,
        Intent::CartAdd,
        Intent::CartRemove,
        Intent::Human,
        Intent::Goodbye,
        Intent::RememberMe,
        Intent::ForgetMe,
        Intent::Affirm,
        Intent::Deny,
        Intent::OffTopic,
    ];

    /// The snake_case name used on the wire and in prompts.
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Greeting => "greeting",
            Intent::SmallTalk => "small_talk",
            Intent::FindProduct => "find_product",
            Intent::GoesWith => "goes_with",
            Intent::ProductQuestion => "product_question",
            Intent::TryOn => "try_on",
            Intent::Fetch => "fetch",
            Intent::CartAdd => "cart_add",
            Intent::CartRemove => "cart_remove",
            Intent::Human => "human",
            Intent::Goodbye => "goodbye",
            Intent::RememberMe => "remember_me",
            Intent::ForgetMe => "forget_me",
            Intent::Affirm => "affirm",
            Intent::Deny => "deny",
            Intent::OffTopic => "off_topic",
        }
    }

    /// The intent with this wire name, if any.
    pub fn from_name(name: &str) -> Option<Intent> {
        Intent::ALL.into_iter().find(|i| i.as_str() == name)
    }
}

/// Which shown product the customer means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reference {
    /// "The second one": position in the last list of products shown, from 1.
    Ordinal {
        /// 1 for the first card.
        position: u32,
    },
    /// "It", "this one", "that one": the product talked about last.
    Last,
    /// "The blue one", "that sweater": a shown (or bought) product described by its
    /// category and/or colour (canonical names, as in [`Slots`]).
    Described {
        /// Canonical category, e.g. `sweater`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<String>,
        /// Canonical colour, e.g. `pink`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        colour: Option<String>,
    },
}

/// What a product question asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductAttribute {
    /// "How much is it?"
    Price,
    /// "Do you have it in medium?", "which sizes are left?"
    Sizes,
    /// "What is it made of?"
    Material,
    /// "Can I machine-wash it?"
    Care,
    /// "What colours does it come in?"
    Colours,
}

/// The details of an intent. Values are canonical: categories and colours as the
/// catalogue spells them (`t-shirt`, `light blue`), sizes as on the label (`M`, `32`),
/// prices in cents.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slots {
    /// Kind of product wanted, e.g. `shirt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Colour wanted, e.g. `navy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<String>,
    /// Size wanted, e.g. `M`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// Lowest price, in cents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_price_cents: Option<u64>,
    /// Highest price, in cents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_price_cents: Option<u64>,
    /// Occasion, e.g. `wedding`, `work`, `party`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occasion: Option<String>,
    /// Material wanted, e.g. `linen`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub material: Option<String>,
    /// Pattern wanted: `solid`, `striped`, `checked` or `printed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The garment to pair with, for [`Intent::GoesWith`], as said: `pink sweater`,
    /// `that sweater`, `my jeans`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchor: Option<String>,
    /// Which shown product is meant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Reference>,
    /// What a product question asks about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<ProductAttribute>,
}

/// One understood utterance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Understanding {
    /// What she wants.
    pub intent: Intent,
    /// Its details.
    pub slots: Slots,
    /// Who decided the intent: the model's validated tool call, or the rules after the
    /// model's call was refused twice (or no model answered in time).
    pub source: UnderstandingSource,
}

/// See [`Understanding::source`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnderstandingSource {
    /// The language model's grammar-constrained call, validated.
    Model,
    /// The rule-based understanding.
    Rules,
}

/// Body of `POST /v1/sessions`: a customer stepped up to the kiosk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionStart {
    /// The recognised customer's id (from vision's identify); absent when anonymous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Which kiosk she is at; fetch requests name it.
    #[serde(default)]
    pub kiosk_id: String,
}

/// Answer to `POST /v1/sessions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionStarted {
    /// Id for the following turns.
    pub session_id: String,
    /// What the assistant says first: by name and last purchase for a recognised
    /// customer, a plain welcome otherwise.
    pub greeting: String,
    /// First name of the recognised customer, for the screen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
}

/// Body of `POST /v1/sessions/{id}/turns`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnRequest {
    /// What the customer said (the transcript) or typed.
    pub text: String,
    /// Set when the turn is prepared before her words are settled (she paused; the
    /// transcript may still change): the caller's number for it. The session as it
    /// was before the turn is kept, so a later turn can replace it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speculative_id: Option<u64>,
    /// The speculative turn this one replaces (she went on speaking): if it was the
    /// session's last turn, the session goes back to how it was before it first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<u64>,
}

/// A product as a card on the kiosk screen: only what the card and the reply need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductCard {
    /// Position on screen, from 1 ("the second one").
    pub position: u32,
    /// Stock keeping unit.
    pub sku: String,
    /// Display name.
    pub title: String,
    /// Category, e.g. `shirt`.
    pub category: String,
    /// Colours, main first.
    pub colours: Vec<String>,
    /// Price in cents.
    pub price_cents: u64,
    /// ISO 4217 currency.
    pub currency: String,
    /// Sizes with at least one item in stock.
    pub sizes_in_stock: Vec<String>,
    /// Product image, relative to the catalog.
    pub image_url: String,
    /// Why it was suggested ("navy is a classic partner for pink"), for goes-with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// Something the kiosk must do besides speaking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Show her wearing this product in the mirror.
    TryOn {
        /// Product to try on.
        sku: String,
    },
    /// Ask staff to bring this product to a fitting room.
    Fetch {
        /// Product to bring.
        sku: String,
        /// Size to bring; her known size or the one she said.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<String>,
    },
    /// The cart changed; the whole cart follows.
    Cart {
        /// SKUs in the cart, in the order added.
        skus: Vec<String>,
    },
    /// Call a member of staff to the kiosk.
    CallStaff,
    /// Ask, on screen and by voice, whether she consents to be recognised next time.
    AskConsent,
    /// Open the "forget me" flow.
    Forget,
    /// The conversation is over; the kiosk may close the session.
    End,
}

/// Where the words of a reply came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplySource {
    /// Written by the language model and passed the grounding check.
    Model,
    /// Composed from the tool results (the model's reply failed the check, or the turn
    /// needs no model).
    Composed,
}

/// One server-sent event of a turn (`event: <type>`, `data: {...}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TurnEvent {
    /// What was understood; first event of every turn.
    Understood(Box<Understanding>),
    /// Products a tool returned, as cards for the screen.
    Products {
        /// The tool that found them (`search`, `goes_with`, `product`).
        tool: String,
        /// The cards, in order.
        cards: Vec<ProductCard>,
    },
    /// Reply text. Text is sent a sentence at a time once it passed the grounding
    /// check; `sentence_end` marks where speech may start.
    Text {
        /// Text to append to the reply.
        delta: String,
        /// True when `delta` completes a sentence.
        sentence_end: bool,
    },
    /// Something for the kiosk to do.
    Action(Action),
    /// Last event of a turn.
    Done {
        /// The whole reply.
        reply: String,
        /// Where its words came from.
        source: ReplySource,
        /// Milliseconds from the request to the first text event.
        first_text_ms: u64,
        /// Milliseconds for the whole turn.
        total_ms: u64,
    },
    /// The turn failed; the kiosk shows the message.
    Error {
        /// Stable code.
        code: String,
        /// What went wrong.
        message: String,
    },
}

/// Answer to `GET /v1/sessions/{id}`: what a reconnecting kiosk needs to redraw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionView {
    /// The session id.
    pub session_id: String,
    /// First name of the recognised customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    /// Cards last shown.
    pub shown: Vec<ProductCard>,
    /// SKUs in the cart.
    pub cart: Vec<String>,
    /// Number of turns so far.
    pub turns: u32,
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
