//! "Goes with": items of other categories that pair with a garment, and why.
//!
//! Three signals, combined by [`pairing::score_candidate`]:
//! 1. rules: which categories complete an outfit, which colours harmonise;
//! 2. Qdrant's recommend: candidates close to the anchor (and to the customer's taste,
//!    when known) and away from the anchor's own category, so a sweater does not pull
//!    in sweater-like tops;
//! 3. co-purchases: what customers who bought the anchor also bought.

use std::collections::{BTreeMap, BTreeSet};

use protocol::catalog::{GarmentDescription, GoesWithRequest, GoesWithResponse, Suggestion};

use crate::customers::Customers;
use crate::error::CatalogError;
use crate::pairing::{self, Anchor};
use crate::products::{Products, category_filter};
use crate::store::Query;

/// Most suggestions one request may ask for.
pub const MAX_SUGGESTIONS: u32 = 20;
/// Complementary categories searched when the request names none.
const CATEGORIES_SEARCHED: usize = 4;
/// Co-purchased products considered even when the vector search missed them.
const CO_PURCHASED_CONSIDERED: usize = 5;
/// Longest description accepted.
const MAX_DESCRIPTION_CHARS: usize = 200;

/// Answers a goes-with request.
pub async fn goes_with(
    products: &Products,
    customers: &Customers,
    request: GoesWithRequest,
) -> Result<GoesWithResponse, CatalogError> {
    if request.limit == 0 || request.limit > MAX_SUGGESTIONS {
        return Err(CatalogError::InvalidRequest(format!(
            "limit is {}; it must be between 1 and {MAX_SUGGESTIONS}",
            request.limit
        )));
    }
    let limit = request.limit as usize;
    let mut exclude: Vec<String> = Vec::new();
    let mut co_purchases = BTreeMap::new();
    let (anchor, anchor_vector) = match (&request.sku, &request.description) {
        (Some(sku), None) => {
            let (product, vector) = products.get_with_vector(sku).await?;
            exclude.push(product.sku.clone());
            co_purchases = customers.co_purchases(sku).await?;
            (Anchor::from_product(&product), vector)
        }
        (None, Some(text)) => {
            if text.chars().count() > MAX_DESCRIPTION_CHARS {
                return Err(CatalogError::InvalidRequest(format!(
                    "description is longer than {MAX_DESCRIPTION_CHARS} characters"
                )));
            }
            let anchor = pairing::parse_described_garment(text)
                .ok_or_else(|| CatalogError::UnknownGarment(text.clone()))?;
            (anchor, products.embed_query(text).await?)
        }
        _ => {
            return Err(CatalogError::InvalidRequest(
                "give exactly one of \"sku\" or \"description\"".into(),
            ));
        }
    };

    let mut positive = vec![anchor_vector];
    if let Some(customer) = &request.customer_id {
        let (record, taste) = customers.get_with_taste(customer).await?;
        exclude.extend(record.purchases.iter().map(|p| p.sku.clone()));
        positive.push(taste);
    }
    let negative = vec![products.embed_query(&anchor.category).await?];

    let categories: Vec<String> = match &request.category {
        Some(category) => vec![category.trim().to_lowercase()],
        None => pairing::complementary_categories(&anchor.category)
            .into_iter()
            .take(CATEGORIES_SEARCHED)
            .map(str::to_owned)
            .collect(),
    };

    // Candidates: the nearest few per category, plus the most co-purchased products.
    let mut candidates = Vec::new();
    for category in &categories {
        let filter = category_filter(category, request.size_in_stock.as_deref(), &exclude);
        let scored = products
            .collection()
            .query(
                Query::Recommend {
                    positive: positive.clone(),
                    negative: negative.clone(),
                },
                filter,
                limit * 2,
                false,
            )
            .await?;
        for hit in scored {
            if let Ok(product) = serde_json::from_value(serde_json::Value::Object(hit.payload)) {
                candidates.push((product, hit.score));
            }
        }
    }
    let mut by_count: Vec<(&String, &u32)> = co_purchases.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1));
    let seen: BTreeSet<String> = candidates
        .iter()
        .map(|(p, _): &(protocol::catalog::Product, f32)| p.sku.clone())
        .collect();
    for (sku, _) in by_count.into_iter().take(CO_PURCHASED_CONSIDERED) {
        if seen.contains(sku) || exclude.contains(sku) {
            continue;
        }
        let Ok(product) = products.get(sku).await else {
            continue;
        };
        let wanted_size = request
            .size_in_stock
            .as_deref()
            .is_none_or(|size| product.in_stock(size));
        if wanted_size && categories.contains(&product.category) {
            candidates.push((product, 0.0));
        }
    }

    let mut suggestions: Vec<Suggestion> = candidates
        .into_iter()
        .filter_map(|(product, similarity)| {
            let bought_with = co_purchases.get(&product.sku).copied().unwrap_or(0);
            let scored = pairing::score_candidate(&anchor, &product, similarity, bought_with)?;
            Some(Suggestion {
                product,
                score: scored.score,
                explanation: scored.explanation,
            })
        })
        .collect();
    suggestions.sort_by(|a, b| b.score.total_cmp(&a.score));
    suggestions.truncate(limit);
    Ok(GoesWithResponse {
        anchor: GarmentDescription {
            category: anchor.category,
            colours: anchor.colours,
        },
        suggestions,
    })
}
