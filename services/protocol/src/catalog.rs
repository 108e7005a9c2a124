//! The `catalog` service API: products with live inventory, search, inventory change
//! events, and OpenAI-compatible `POST /v1/embeddings`.

use serde::{Deserialize, Serialize};

/// A product as the catalogue knows it; what product cards and the dialogue show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    /// Stock-keeping unit, the product's stable id across services.
    pub sku: String,
    /// Short name shown on the product card.
    pub title: String,
    /// Longer text, used for search and grounding the dialogue.
    pub description: String,
    /// Brand name.
    pub brand: String,
    /// Category such as `shirt` or `sweater`, used by filters.
    pub category: String,
    /// Colour names (e.g. `pink`), several for multicoloured items.
    pub colours: Vec<String>,
    /// Pattern such as `striped` or `plain`, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// Main material such as `cotton`, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub material: Option<String>,
    /// Cut such as `slim` or `regular`, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit: Option<String>,
    /// Price in the smallest currency unit (cents), so no float rounding.
    pub price_cents: u64,
    /// ISO 4217 currency code, e.g. `EUR`.
    pub currency: String,
    /// Every size with its live stock count.
    pub sizes: Vec<SizeStock>,
    /// Picture for the product card and for try-on.
    pub image_url: String,
    /// Store whose stock `sizes` counts, for chains with several stores; absent in a
    /// single-store deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
}

impl Product {
    /// Whether the given size has at least one item in stock.
    pub fn in_stock(&self, size: &str) -> bool {
        self.sizes.iter().any(|s| s.size == size && s.stock > 0)
    }
}

/// Stock of one size of a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizeStock {
    /// Size label as printed on the label (`M`, `42`, ...).
    pub size: String,
    /// Items currently in the store.
    pub stock: u32,
}

/// Request body of `POST /v1/search`: semantic query plus hard filters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchRequest {
    /// Free text, e.g. "shirt to go with a pink sweater"; may be empty to filter only.
    #[serde(default)]
    pub query: String,
    /// Hard constraints; a hit never violates them.
    #[serde(default)]
    pub filters: SearchFilters,
    /// Most hits to return.
    #[serde(default = "default_limit")]
    pub limit: u32,
}

fn default_limit() -> u32 {
    10
}

/// Hard constraints of a search; each absent filter matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchFilters {
    /// Only this category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Only products having this colour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<String>,
    /// Only products with this size in stock right now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_in_stock: Option<String>,
    /// Lowest price, in cents, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_price_cents: Option<u64>,
    /// Highest price, in cents, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_price_cents: Option<u64>,
    /// Only products stocked in this store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
}

/// Response body of a search, best hit first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResponse {
    /// Matching products, ordered by descending score.
    pub hits: Vec<SearchHit>,
}

/// One product found by a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    /// The product, with live stock.
    pub product: Product,
    /// Similarity to the query, higher is better; comparable within one response only.
    pub score: f32,
}

/// Published when a size's stock changes, so open conversations never offer
/// something that just sold out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryChanged {
    /// Product whose stock changed.
    pub sku: String,
    /// Size whose stock changed.
    pub size: String,
    /// New absolute stock level (not a delta, so replaying an event is harmless).
    pub stock: u32,
}

/// Text (or texts) to embed: OpenAI accepts a string or an array of strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingInput {
    /// One text.
    One(String),
    /// Several texts, embedded in order.
    Many(Vec<String>),
}

impl EmbeddingInput {
    /// The texts in order, whichever form the client sent.
    pub fn texts(&self) -> Vec<&str> {
        match self {
            EmbeddingInput::One(t) => vec![t.as_str()],
            EmbeddingInput::Many(ts) => ts.iter().map(String::as_str).collect(),
        }
    }
}

/// Request body of `POST /v1/embeddings`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddingsRequest {
    /// Embedding model name; the service maps it to a local model.
    pub model: String,
    /// What to embed.
    pub input: EmbeddingInput,
}

/// Response body of `POST /v1/embeddings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingsResponse {
    /// Always `list` (OpenAI's shape).
    pub object: String,
    /// One embedding per input text, in input order.
    pub data: Vec<Embedding>,
    /// Model that produced them.
    pub model: String,
    /// Token accounting.
    pub usage: EmbeddingsUsage,
}

/// One embedding vector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Embedding {
    /// Always `embedding` (OpenAI's shape).
    pub object: String,
    /// Position of the input text this embeds.
    pub index: u32,
    /// The vector.
    pub embedding: Vec<f32>,
}

/// Token accounting of an embeddings call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbeddingsUsage {
    /// Tokens in the input.
    pub prompt_tokens: u32,
    /// Same as `prompt_tokens` for embeddings.
    pub total_tokens: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shirt() -> Product {
        Product {
            sku: "SH-001".into(),
            title: "Oxford shirt".into(),
            description: "White cotton oxford shirt".into(),
            brand: "Acme".into(),
            category: "shirt".into(),
            colours: vec!["white".into()],
            pattern: Some("plain".into()),
            material: Some("cotton".into()),
            fit: None,
            price_cents: 4999,
            currency: "EUR".into(),
            sizes: vec![
                SizeStock {
                    size: "M".into(),
                    stock: 3,
                },
                SizeStock {
                    size: "L".into(),
                    stock: 0,
                },
            ],
            image_url: "/images/SH-001.jpg".into(),
            store: None,
        }
    }

    #[test]
    fn product_round_trips_and_reports_stock_per_size() {
        let p = shirt();
        assert!(p.in_stock("M"));
        assert!(!p.in_stock("L"));
        assert!(!p.in_stock("XS"));
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["price_cents"], 4999);
        assert!(json.get("fit").is_none());
        let back: Product = serde_json::from_value(json).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn search_request_defaults_and_response_round_trip() {
        let req: SearchRequest =
            serde_json::from_str(r#"{"query":"shirt","filters":{"size_in_stock":"M"}}"#).unwrap();
        assert_eq!(req.limit, 10);
        assert_eq!(req.filters.size_in_stock.as_deref(), Some("M"));
        assert_eq!(req.filters.category, None);
        let resp = SearchResponse {
            hits: vec![SearchHit {
                product: shirt(),
                score: 0.8,
            }],
        };
        let back: SearchResponse =
            serde_json::from_str(&serde_json::to_string(&resp).unwrap()).unwrap();
        assert_eq!(back, resp);
    }

    #[test]
    fn embeddings_accept_a_string_or_a_list() {
        let one: EmbeddingsRequest =
            serde_json::from_str(r#"{"model":"e5","input":"pink sweater"}"#).unwrap();
        assert_eq!(one.input.texts(), vec!["pink sweater"]);
        let many: EmbeddingsRequest =
            serde_json::from_str(r#"{"model":"e5","input":["a","b"]}"#).unwrap();
        assert_eq!(many.input.texts(), vec!["a", "b"]);
        let resp: EmbeddingsResponse = serde_json::from_str(
            r#"{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],
            "model":"e5","usage":{"prompt_tokens":2,"total_tokens":2}}"#,
        )
        .unwrap();
        assert_eq!(resp.data[0].embedding, vec![0.1, 0.2]);
    }
}
