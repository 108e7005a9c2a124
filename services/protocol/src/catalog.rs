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

    /// Items in stock in a size, whatever its case ("m" is "M"); 0 for a size the
    /// product does not come in.
    pub fn stock_of(&self, size: &str) -> u32 {
        self.sizes
            .iter()
            .find(|s| s.size.eq_ignore_ascii_case(size))
            .map_or(0, |s| s.stock)
    }

    /// The sizes with at least one item in stock, in the product's order.
    pub fn sizes_in_stock(&self) -> Vec<String> {
        sizes_in_stock(&self.sizes)
    }
}

/// The sizes with at least one item in stock, in the given order (the catalog stores
/// them with each product so searches can filter on them).
pub fn sizes_in_stock(sizes: &[SizeStock]) -> Vec<String> {
    sizes
        .iter()
        .filter(|s| s.stock > 0)
        .map(|s| s.size.clone())
        .collect()
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

/// Query of `GET /v1/products`: the whole catalogue, one page at a time (the vision
/// service indexes every product image this way).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProductPageQuery {
    /// `next_cursor` of the previous page; absent for the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Products per page; the catalog caps it at its search limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// One page of `GET /v1/products`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductPage {
    /// Products of this page, in the store's order.
    pub products: Vec<Product>,
    /// Cursor of the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
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

/// Body of `PUT /v1/inventory/{sku}`: the full stock of every size, replacing what was
/// there (a stock count from the back room).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockLevels {
    /// Every size with its new stock; sizes not listed are removed from the product.
    pub sizes: Vec<SizeStock>,
}

/// Body of `PATCH /v1/inventory/{sku}`: changes to some sizes (a sale, a delivery).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockChanges {
    /// One change per size; applied together or not at all.
    pub changes: Vec<StockChange>,
}

/// A change to one size's stock: either an absolute level or a relative delta.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockChange {
    /// Size label; a new size is added when `set` is given.
    pub size: String,
    /// New absolute stock, when counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<u32>,
    /// Items added (positive, a delivery) or removed (negative, a sale); the result may
    /// not go below zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<i64>,
}

/// Answer of a catalogue ingestion (admin API and CLI).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestReport {
    /// Data rows read from the file.
    pub rows: usize,
    /// Products inserted or updated (re-ingesting a SKU replaces it).
    pub loaded: usize,
    /// Products whose text was unchanged, so their stored embedding was reused.
    pub unchanged_embeddings: usize,
    /// Rows refused, each with its line number and what to fix.
    pub rejected: Vec<RejectedRow>,
}

/// A row of an ingested file that was not loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRow {
    /// 1-based line of the file where the row starts.
    pub line: usize,
    /// SKU of the row, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// What is wrong and how to fix it.
    pub reason: String,
}

/// Body of `POST /v1/products/goes-with`: what to pair with, by SKU or by description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoesWithRequest {
    /// A catalogue product to pair with (e.g. the sweater she bought).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    /// Or a described garment, e.g. "pink sweater".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Only suggest items with this size in stock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_in_stock: Option<String>,
    /// Only suggest items of this category (e.g. "a shirt to go with that sweater").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Customer whose purchases should not be suggested again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Most suggestions to return.
    #[serde(default = "default_goes_with_limit")]
    pub limit: u32,
}

fn default_goes_with_limit() -> u32 {
    6
}

/// Answer of `POST /v1/products/goes-with`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoesWithResponse {
    /// The garment paired with, as understood.
    pub anchor: GarmentDescription,
    /// Suggestions, best first.
    pub suggestions: Vec<Suggestion>,
}

/// A garment reduced to what pairing needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GarmentDescription {
    /// Category such as `sweater`.
    pub category: String,
    /// Colour names.
    pub colours: Vec<String>,
}

/// One product suggested to go with the anchor, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// The product, with live stock.
    pub product: Product,
    /// Pairing score, higher is better; comparable within one response only.
    pub score: f32,
    /// Why it pairs, in words a shop assistant would use.
    pub explanation: String,
}

/// Record of a customer's consent to be recognised, kept with the customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consent {
    /// Who consented, as they confirmed it on the kiosk (normally the customer's name).
    pub given_by: String,
    /// What the data may be used for, as shown to the customer.
    pub purpose: String,
    /// Kiosk where consent was given.
    pub kiosk_id: String,
    /// When, in seconds since the Unix epoch, as recorded by the kiosk.
    pub given_at_unix: u64,
}

/// Body of `POST /v1/customers`: enrol a customer who consented.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    /// Name to greet the customer by.
    pub name: String,
    /// The consent record; enrolment without it is refused.
    pub consent: Consent,
    /// Face embeddings from the vision service (several angles help recognition).
    pub face_embeddings: Vec<Vec<f32>>,
    /// Usual size per category (`sweater` → `M`).
    #[serde(default)]
    pub sizes: std::collections::BTreeMap<String, String>,
    /// Colours the customer said they like.
    #[serde(default)]
    pub liked_colours: Vec<String>,
}

/// A customer's whole record, as stored and as exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerRecord {
    /// Opaque id, shared with other services instead of the name.
    pub id: String,
    /// Name to greet the customer by.
    pub name: String,
    /// The consent this record exists under.
    pub consent: Consent,
    /// When the catalog stored the record, seconds since the Unix epoch.
    pub enrolled_at_unix: u64,
    /// Usual size per category.
    pub sizes: std::collections::BTreeMap<String, String>,
    /// Colours the customer likes.
    pub liked_colours: Vec<String>,
    /// Purchases, oldest first.
    pub purchases: Vec<Purchase>,
    /// Face embeddings stored for recognition (present in exports only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub face_embeddings: Vec<Vec<f32>>,
}

/// One thing a customer bought.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purchase {
    /// Product bought.
    pub sku: String,
    /// Its title at the time, so the greeting can recall it after the SKU is gone.
    pub title: String,
    /// Its category.
    pub category: String,
    /// Its colours.
    pub colours: Vec<String>,
    /// Size bought, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// When, seconds since the Unix epoch.
    pub at_unix: u64,
}

/// Body of `POST /v1/customers/{id}/purchases`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurchaseRequest {
    /// Product bought.
    pub sku: String,
    /// Size bought, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// When; the catalog's clock when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_unix: Option<u64>,
}

/// Body of `PATCH /v1/customers/{id}`: preferences the customer changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferencesUpdate {
    /// Sizes to set, per category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sizes: Option<std::collections::BTreeMap<String, String>>,
    /// Liked colours, replacing the old list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liked_colours: Option<Vec<String>>,
}

/// Body of `POST /v1/customers/identify`: a face embedding from the vision service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifyRequest {
    /// The face embedding to match.
    pub embedding: Vec<f32>,
}

/// Answer of `POST /v1/customers/identify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentifyResponse {
    /// The enrolled customer the face belongs to; absent when nobody is close enough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<IdentifiedCustomer>,
}

/// A recognised customer, with what the greeting needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdentifiedCustomer {
    /// Opaque customer id.
    pub id: String,
    /// Name to greet by.
    pub name: String,
    /// 1 for an identical face, falling to 0 at the configured match threshold.
    pub confidence: f32,
    /// Euclidean distance to the closest stored embedding.
    pub distance: f32,
    /// The latest purchase, for "did you like the pink sweater?".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_purchase: Option<Purchase>,
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
