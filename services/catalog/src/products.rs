//! Products and live inventory on top of the vector store.
//!
//! Each product is one point: its MiniLM embedding, and as payload the product itself
//! plus fields derived for filtering (`in_stock_sizes`) and for cheap re-ingestion
//! (`text_hash`). Stock changes rewrite those payload fields in place, so a search that
//! starts after the change returns (or drops) the product: there is no index to wait for.

use std::collections::{BTreeSet, HashMap};

use protocol::catalog::{
    InventoryChanged, Product, SearchFilters, SearchHit, SearchRequest, SizeStock, StockChange,
};
use protocol::vocabulary::{GarmentTerms, garment_terms};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, broadcast};
use uuid::Uuid;

use crate::embed::{DIMENSIONS, EmbedPool};
use crate::error::CatalogError;
use crate::ingest::{self, Limits};
use crate::store::{Collection, CollectionSpec, Condition, Filter, Metric, Payload, Point, Query};

/// Namespace of product point ids: `uuid_v5(NAMESPACE, sku)`, so one SKU is always one
/// point and re-ingesting it replaces it.
const PRODUCT_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2a4e_5b3d_4c8e_9a17_0d2e_3f4a_5b6c);

/// Payload fields the store indexes for filters.
mod field {
    pub const SKU: &str = "sku";
    pub const CATEGORY: &str = "category";
    pub const COLOURS: &str = "colours";
    pub const STORE: &str = "store";
    pub const PRICE: &str = "price_cents";
    pub const IN_STOCK: &str = "in_stock_sizes";
    pub const TEXT_HASH: &str = "text_hash";
}

/// Semantic candidates re-ranked by the garment words of a query.
const RERANK_CANDIDATES: usize = 50;
/// Score added when a hit is the category the query names. MiniLM alone ranks a pink
/// t-shirt above navy sweaters for "navy jumper": the words a customer says outrank
/// resemblance.
const CATEGORY_BOOST: f32 = 0.2;
/// Score added when a hit's main colour is one the query names (half for an accent
/// colour).
const COLOUR_BOOST: f32 = 0.15;

/// Most sizes one product may have (also bounds stock changes per request).
pub const MAX_SIZES: usize = 64;
/// Texts embedded per call during ingestion: small enough that a search query waiting
/// for the embedder is not held up for long.
const INGEST_EMBED_CHUNK: usize = 64;

/// The products collection's description.
pub fn collection_spec(prefix: &str) -> CollectionSpec {
    CollectionSpec {
        name: format!("{prefix}products"),
        dim: DIMENSIONS,
        metric: Metric::Cosine,
        keyword_fields: vec![
            field::SKU,
            field::CATEGORY,
            field::COLOURS,
            field::STORE,
            field::IN_STOCK,
        ],
        numeric_fields: vec![field::PRICE],
    }
}

/// The point id of a SKU.
pub fn point_id(sku: &str) -> Uuid {
    Uuid::new_v5(&PRODUCT_NAMESPACE, sku.as_bytes())
}

/// The text a product is embedded from: what a customer would say about it. Title,
/// colours, pattern, material and category, then the description's first sentence;
/// the rest of the description adds tokens (and time) more than meaning.
pub fn document_text(p: &Product) -> String {
    let mut text = format!("{}. {}", p.title, p.colours.join(" and "));
    for part in [&p.pattern, &p.material].into_iter().flatten() {
        text.push(' ');
        text.push_str(part);
    }
    text.push(' ');
    text.push_str(&p.category);
    text.push_str(". ");
    let first_sentence = p
        .description
        .split_inclusive(['.', '!', '?'])
        .next()
        .unwrap_or(&p.description);
    text.push_str(first_sentence.trim());
    text
}

fn text_hash(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..16])
}

/// The payload stored for a product: the product's own fields plus derived ones.
fn payload_of(product: &Product, hash: &str) -> Result<Payload, CatalogError> {
    let Value::Object(mut payload) =
        serde_json::to_value(product).map_err(|e| CatalogError::InvalidProduct(e.to_string()))?
    else {
        return Err(CatalogError::InvalidProduct("not an object".into()));
    };
    payload.insert(
        field::IN_STOCK.into(),
        Value::from(product.sizes_in_stock()),
    );
    payload.insert(field::TEXT_HASH.into(), Value::from(hash));
    Ok(payload)
}

fn product_of(payload: Payload) -> Result<Product, CatalogError> {
    serde_json::from_value(Value::Object(payload)).map_err(|e| {
        CatalogError::Store(crate::store::StoreError::Backend {
            backend: "payload",
            message: format!("stored product does not parse: {e}"),
        })
    })
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertOutcome {
    /// Products written.
    pub written: usize,
    /// Of those, products whose text was unchanged, so the stored vector was reused.
    pub reused_embeddings: usize,
}

/// The product catalogue: search, lookups, ingestion and live stock.
pub struct Products {
    collection: Collection,
    embedder: EmbedPool,
    events: broadcast::Sender<InventoryChanged>,
    /// Serialises stock read-modify-writes, so two sales of the last item cannot both
    /// succeed.
    stock_writes: Mutex<()>,
    limits: Limits,
    max_search_limit: u32,
}

impl Products {
    /// Products in `collection`, embedded by `embedder`; stock changes are published on
    /// a channel keeping `events_buffer` events for slow subscribers.
    pub fn new(
        collection: Collection,
        embedder: EmbedPool,
        events_buffer: usize,
        max_search_limit: u32,
    ) -> Self {
        let (events, _) = broadcast::channel(events_buffer.max(1));
        Products {
            collection,
            embedder,
            events,
            stock_writes: Mutex::new(()),
            limits: Limits::default(),
            max_search_limit,
        }
    }

    /// The shared embedder (search queries, goes-with descriptions).
    pub fn embedder(&self) -> &EmbedPool {
        &self.embedder
    }

    /// The underlying collection (goes-with queries, benchmarks).
    pub fn collection(&self) -> &Collection {
        &self.collection
    }

    /// Subscribes to stock changes, for the SSE stream.
    pub fn subscribe(&self) -> broadcast::Receiver<InventoryChanged> {
        self.events.subscribe()
    }

    /// Number of products stored.
    pub async fn count(&self) -> Result<usize, CatalogError> {
        Ok(self.collection.count(Filter::default()).await?)
    }

    /// Validates, embeds and stores products; a SKU already stored is replaced. When a
    /// product's text is unchanged its stored vector is reused instead of re-embedded.
    /// Durable when it returns.
    pub async fn upsert(&self, products: Vec<Product>) -> Result<UpsertOutcome, CatalogError> {
        for p in &products {
            ingest::validate(p, &self.limits).map_err(CatalogError::InvalidProduct)?;
        }
        let texts: Vec<String> = products.iter().map(document_text).collect();
        let hashes: Vec<String> = texts.iter().map(|t| text_hash(t)).collect();
        let ids: Vec<Uuid> = products.iter().map(|p| point_id(&p.sku)).collect();

        // Reuse vectors of products whose text did not change (a nightly re-sync mostly
        // changes stock and prices).
        let existing = self.collection.get(ids.clone(), true).await?;
        let mut vectors: Vec<Option<Vec<f32>>> = ids
            .iter()
            .zip(&hashes)
            .map(|(id, hash)| {
                existing
                    .iter()
                    .find(|p| p.id == *id)
                    .filter(|p| {
                        p.payload.get(field::TEXT_HASH).and_then(Value::as_str) == Some(hash)
                    })
                    .and_then(|p| p.vector.clone())
            })
            .collect();
        let reused = vectors.iter().filter(|v| v.is_some()).count();

        // Products with identical text (the same garment listed for several stores)
        // are embedded once.
        let mut first_with_text: HashMap<&str, usize> = HashMap::new();
        let mut to_embed: Vec<usize> = Vec::new();
        for i in (0..products.len()).filter(|&i| vectors[i].is_none()) {
            first_with_text
                .entry(hashes[i].as_str())
                .or_insert_with(|| {
                    to_embed.push(i);
                    i
                });
        }
        for chunk in to_embed.chunks(INGEST_EMBED_CHUNK) {
            let batch: Vec<String> = chunk.iter().map(|&i| texts[i].clone()).collect();
            let embedded = self.embedder.embed(batch).await?;
            for (&i, v) in chunk.iter().zip(embedded.vectors) {
                vectors[i] = Some(v.to_vec());
            }
        }
        for i in 0..products.len() {
            if vectors[i].is_none() {
                let first = first_with_text.get(hashes[i].as_str()).copied();
                vectors[i] = first.and_then(|f| vectors[f].clone());
            }
        }

        let points = products
            .iter()
            .zip(ids)
            .zip(vectors)
            .zip(&hashes)
            .map(|(((p, id), vector), hash)| {
                Ok(Point {
                    id,
                    vector,
                    payload: payload_of(p, hash)?,
                })
            })
            .collect::<Result<Vec<_>, CatalogError>>()?;
        let written = points.len();
        self.collection.upsert(points).await?;
        Ok(UpsertOutcome {
            written,
            reused_embeddings: reused,
        })
    }

    /// Builds the search index after a bulk load.
    pub async fn optimize(&self) -> Result<(), CatalogError> {
        Ok(self.collection.optimize().await?)
    }

    /// The product with this SKU, with live stock.
    pub async fn get(&self, sku: &str) -> Result<Product, CatalogError> {
        let mut found = self.collection.get(vec![point_id(sku)], false).await?;
        match found.pop() {
            Some(point) => product_of(point.payload),
            None => Err(CatalogError::UnknownSku(sku.to_owned())),
        }
    }

    /// Up to `limit` products (capped at the search limit) after `cursor`, in the
    /// store's order, and the cursor of the next page.
    pub async fn page(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<Product>, Option<String>), CatalogError> {
        let offset = match cursor {
            Some(cursor) => Some(Uuid::parse_str(cursor).map_err(|_| {
                CatalogError::InvalidRequest(format!(
                    "cursor {cursor:?} is not one this catalog gave; start again without it"
                ))
            })?),
            None => None,
        };
        let limit = limit.clamp(1, self.max_search_limit) as usize;
        let (points, next) = self
            .collection
            .scroll(Filter::default(), limit, offset)
            .await?;
        let products = points
            .into_iter()
            .map(|point| product_of(point.payload))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((products, next.map(|id| id.to_string())))
    }

    /// The product with this SKU and its stored vector.
    pub async fn get_with_vector(&self, sku: &str) -> Result<(Product, Vec<f32>), CatalogError> {
        let mut found = self.collection.get(vec![point_id(sku)], true).await?;
        match found.pop() {
            Some(Point {
                vector: Some(vector),
                payload,
                ..
            }) => Ok((product_of(payload)?, vector)),
            _ => Err(CatalogError::UnknownSku(sku.to_owned())),
        }
    }

    /// Vectors of several products (missing SKUs are left out).
    pub async fn vectors(&self, skus: &[String]) -> Result<Vec<Vec<f32>>, CatalogError> {
        let ids = skus.iter().map(|s| point_id(s)).collect();
        Ok(self
            .collection
            .get(ids, true)
            .await?
            .into_iter()
            .filter_map(|p| p.vector)
            .collect())
    }

    /// Deletes a product; unknown SKUs are an error so typos are noticed.
    pub async fn delete(&self, sku: &str) -> Result<(), CatalogError> {
        self.get(sku).await?;
        Ok(self.collection.delete(vec![point_id(sku)]).await?)
    }

    /// Semantic search with hard filters: every hit satisfies every filter.
    pub async fn search(&self, request: &SearchRequest) -> Result<Vec<SearchHit>, CatalogError> {
        if request.limit == 0 || request.limit > self.max_search_limit {
            return Err(CatalogError::InvalidRequest(format!(
                "limit is {}; it must be between 1 and {}",
                request.limit, self.max_search_limit
            )));
        }
        if request.query.chars().count() > crate::embed::MAX_CHARS {
            return Err(CatalogError::InvalidRequest(format!(
                "query has {} characters; at most {}",
                request.query.chars().count(),
                crate::embed::MAX_CHARS
            )));
        }
        let filter = search_filter(&request.filters)?;
        let limit = request.limit as usize;
        let query = request.query.trim();
        if query.is_empty() {
            // Filter-only browsing: no similarity to rank by.
            let (points, _) = self.collection.scroll(filter, limit, None).await?;
            return points
                .into_iter()
                .map(|p| {
                    Ok(SearchHit {
                        product: product_of(p.payload)?,
                        score: 0.0,
                    })
                })
                .collect();
        }
        let vector = self.embed_query(query).await?;
        let candidates = limit.max(RERANK_CANDIDATES);
        let hits = self
            .search_vector(vector, filter, candidates, false)
            .await?;
        Ok(rerank(hits, &garment_terms(query), limit))
    }

    /// Embeds one query text.
    pub async fn embed_query(&self, text: &str) -> Result<Vec<f32>, CatalogError> {
        let embedded = self.embedder.embed(vec![text.to_owned()]).await?;
        embedded
            .vectors
            .into_iter()
            .next()
            .map(|v| v.to_vec())
            .ok_or_else(|| CatalogError::InvalidRequest("nothing to embed".into()))
    }

    /// Nearest products to a vector under a filter; `exact` skips the index.
    pub async fn search_vector(
        &self,
        vector: Vec<f32>,
        filter: Filter,
        limit: usize,
        exact: bool,
    ) -> Result<Vec<SearchHit>, CatalogError> {
        let scored = self
            .collection
            .query(Query::Nearest(vector), filter, limit, exact)
            .await?;
        scored
            .into_iter()
            .map(|s| {
                Ok(SearchHit {
                    product: product_of(s.payload)?,
                    score: s.score,
                })
            })
            .collect()
    }

    /// Replaces the stock of every size (`PUT /v1/inventory/{sku}`).
    pub async fn set_stock(
        &self,
        sku: &str,
        sizes: Vec<SizeStock>,
    ) -> Result<Product, CatalogError> {
        check_sizes(&sizes)?;
        let _guard = self.stock_writes.lock().await;
        let product = self.get(sku).await?;
        self.write_stock(product, sizes).await
    }

    /// Applies changes to some sizes (`PATCH /v1/inventory/{sku}`), all or none.
    pub async fn change_stock(
        &self,
        sku: &str,
        changes: &[StockChange],
    ) -> Result<Product, CatalogError> {
        if changes.is_empty() {
            return Err(CatalogError::InvalidStock("no changes given".into()));
        }
        if changes.len() > MAX_SIZES {
            return Err(CatalogError::BatchTooLarge {
                what: "stock changes",
                got: changes.len(),
                max: MAX_SIZES,
            });
        }
        let _guard = self.stock_writes.lock().await;
        let product = self.get(sku).await?;
        let mut sizes = product.sizes.clone();
        for change in changes {
            apply_change(&mut sizes, change)?;
        }
        check_sizes(&sizes)?;
        self.write_stock(product, sizes).await
    }

    /// Stores new stock levels and publishes one event per size whose stock changed
    /// (a removed size is published with stock 0).
    async fn write_stock(
        &self,
        mut product: Product,
        sizes: Vec<SizeStock>,
    ) -> Result<Product, CatalogError> {
        let mut changed = Vec::new();
        for new in &sizes {
            let old = product
                .sizes
                .iter()
                .find(|s| s.size == new.size)
                .map(|s| s.stock);
            if old != Some(new.stock) {
                changed.push((new.size.clone(), new.stock));
            }
        }
        for old in &product.sizes {
            if !sizes.iter().any(|s| s.size == old.size) {
                changed.push((old.size.clone(), 0));
            }
        }
        let mut payload = Payload::new();
        payload.insert(
            "sizes".into(),
            serde_json::to_value(&sizes).map_err(|e| CatalogError::InvalidStock(e.to_string()))?,
        );
        payload.insert(
            field::IN_STOCK.into(),
            Value::from(protocol::catalog::sizes_in_stock(&sizes)),
        );
        self.collection
            .set_payload(point_id(&product.sku), payload)
            .await?;
        product.sizes = sizes;
        for (size, stock) in changed {
            // No subscriber is fine: the change is stored either way.
            let _ = self.events.send(InventoryChanged {
                sku: product.sku.clone(),
                size,
                stock,
            });
        }
        Ok(product)
    }
}

/// Orders semantic hits by similarity plus boosts for the category and colours the
/// query names (soft preferences; the request's filters stay hard constraints).
fn rerank(hits: Vec<SearchHit>, terms: &GarmentTerms, limit: usize) -> Vec<SearchHit> {
    let mut hits: Vec<SearchHit> = hits
        .into_iter()
        .map(|mut hit| {
            let p = &hit.product;
            if terms.category.as_deref() == Some(p.category.as_str()) {
                hit.score += CATEGORY_BOOST;
            }
            let colour_boost = p
                .colours
                .iter()
                .enumerate()
                .filter(|(_, c)| terms.colours.contains(c))
                .map(|(i, _)| {
                    if i == 0 {
                        COLOUR_BOOST
                    } else {
                        COLOUR_BOOST / 2.0
                    }
                })
                .fold(0.0f32, f32::max);
            hit.score += colour_boost;
            hit
        })
        .collect();
    hits.sort_by(|a, b| b.score.total_cmp(&a.score));
    hits.truncate(limit);
    hits
}

fn apply_change(sizes: &mut Vec<SizeStock>, change: &StockChange) -> Result<(), CatalogError> {
    let position = sizes.iter().position(|s| s.size == change.size);
    match (change.set, change.delta) {
        (Some(set), None) => match position {
            Some(i) => sizes[i].stock = set,
            None => sizes.push(SizeStock {
                size: change.size.clone(),
                stock: set,
            }),
        },
        (None, Some(delta)) => {
            let Some(i) = position else {
                return Err(CatalogError::InvalidStock(format!(
                    "size {:?} is not stocked for this product; use \"set\" to add it",
                    change.size
                )));
            };
            let now = i64::from(sizes[i].stock) + delta;
            let stock = u32::try_from(now).map_err(|_| {
                CatalogError::NegativeStock(format!(
                    "size {:?} has {} in stock; removing {} would leave {now}; stock must be 0 or more",
                    change.size,
                    sizes[i].stock,
                    -delta
                ))
            })?;
            sizes[i].stock = stock;
        }
        _ => {
            return Err(CatalogError::InvalidStock(format!(
                "change of size {:?} must give exactly one of \"set\" or \"delta\"",
                change.size
            )));
        }
    }
    Ok(())
}

fn check_sizes(sizes: &[SizeStock]) -> Result<(), CatalogError> {
    if sizes.len() > MAX_SIZES {
        return Err(CatalogError::BatchTooLarge {
            what: "sizes",
            got: sizes.len(),
            max: MAX_SIZES,
        });
    }
    let mut seen = BTreeSet::new();
    for s in sizes {
        if s.size.trim().is_empty() || s.size.chars().count() > 16 {
            return Err(CatalogError::InvalidStock(format!(
                "size label {:?} must be 1 to 16 characters",
                s.size
            )));
        }
        if !seen.insert(s.size.as_str()) {
            return Err(CatalogError::InvalidStock(format!(
                "size {:?} is listed twice",
                s.size
            )));
        }
    }
    Ok(())
}

/// The store filter of a search's hard constraints.
pub fn search_filter(filters: &SearchFilters) -> Result<Filter, CatalogError> {
    let mut must = Vec::new();
    // Categories and colours are stored lower-case; size labels (`XL`) and store ids
    // are matched as given.
    let keywords = [
        (
            field::CATEGORY,
            filters.category.as_deref().map(str::to_lowercase),
        ),
        (
            field::COLOURS,
            filters.colour.as_deref().map(str::to_lowercase),
        ),
        (field::IN_STOCK, filters.size_in_stock.clone()),
        (field::STORE, filters.store.clone()),
    ];
    for (field, value) in keywords {
        if let Some(value) = value {
            must.push(Condition::Equals {
                field,
                value: value.trim().to_owned(),
            });
        }
    }
    if let (Some(min), Some(max)) = (filters.min_price_cents, filters.max_price_cents)
        && min > max
    {
        return Err(CatalogError::InvalidRequest(format!(
            "min_price_cents {min} is above max_price_cents {max}"
        )));
    }
    if filters.min_price_cents.is_some() || filters.max_price_cents.is_some() {
        // Cents are far below 2^53, so the float range is exact.
        #[allow(clippy::cast_precision_loss)]
        must.push(Condition::Range {
            field: field::PRICE,
            gte: filters.min_price_cents.map(|c| c as f64),
            lte: filters.max_price_cents.map(|c| c as f64),
        });
    }
    Ok(Filter {
        must,
        must_not: Vec::new(),
    })
}

/// A filter admitting only products of `category` (and optionally a size in stock),
/// excluding the given SKUs.
pub fn category_filter(category: &str, size_in_stock: Option<&str>, exclude: &[String]) -> Filter {
    let mut must = vec![Condition::Equals {
        field: field::CATEGORY,
        value: category.to_owned(),
    }];
    if let Some(size) = size_in_stock {
        must.push(Condition::Equals {
            field: field::IN_STOCK,
            value: size.to_owned(),
        });
    }
    let must_not = if exclude.is_empty() {
        Vec::new()
    } else {
        vec![Condition::AnyOf {
            field: field::SKU,
            values: exclude.to_vec(),
        }]
    };
    Filter { must, must_not }
}
