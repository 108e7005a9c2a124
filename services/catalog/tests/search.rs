//! Product search, lookup and "goes with" over HTTP against a real catalog (embedded
//! Qdrant, MiniLM, the fixture catalogue).
#![allow(clippy::unwrap_used, reason = "tests: a failure is the test failing")]

mod common;

use common::{Key, call, fixtures};
use serde_json::{Value, json};

fn hits_of(body: &Value) -> Vec<Value> {
    body["hits"].as_array().unwrap().clone()
}

/// What a customer asks for, in the words of `tests/data/search_queries.json`, finds
/// that kind of garment: the quality floor of semantic search on the fixtures.
#[tokio::test]
async fn spoken_queries_find_the_garment_asked_for() {
    let queries: Vec<Value> =
        serde_json::from_str(include_str!("data/search_queries.json")).unwrap();
    let (mut category_hits, mut top_hits, mut shown) = (0usize, 0usize, 0usize);
    let mut misses = Vec::new();
    for q in &queries {
        let (status, body) = call(
            "POST",
            "/v1/products/search",
            Key::None,
            Some(json!({"query": q["query"], "limit": 5})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let hits = hits_of(&body);
        assert_eq!(hits.len(), 5);
        for h in &hits {
            shown += 1;
            if h["product"]["category"] == q["category"] {
                category_hits += 1;
            }
        }
        let top = &hits[0]["product"];
        let colour_ok = top["colours"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| *c == q["colour"]);
        if top["category"] == q["category"] && colour_ok {
            top_hits += 1;
        } else {
            misses.push(format!(
                "{} -> {} {}",
                q["query"], top["title"], top["colours"]
            ));
        }
    }
    let category_precision = category_hits as f64 / shown as f64;
    let top_accuracy = top_hits as f64 / queries.len() as f64;
    println!(
        "search quality on {} queries: category precision@5 {category_precision:.2}, \
         top hit right category and colour {top_accuracy:.2}; misses: {misses:?}",
        queries.len()
    );
    assert!(
        category_precision >= 0.85,
        "category precision@5 {category_precision:.2}"
    );
    assert!(
        top_accuracy >= 0.8,
        "top-hit accuracy {top_accuracy:.2}: {misses:?}"
    );
}

/// Filters are hard constraints: every hit meets all of them, whatever the query says.
#[tokio::test]
async fn every_hit_meets_every_filter() {
    let (status, body) = call(
        "POST",
        "/v1/products/search",
        Key::None,
        Some(json!({
            "query": "something warm",
            "filters": {"category": "sweater", "size_in_stock": "M", "max_price_cents": 8000,
                        "min_price_cents": 3000},
            "limit": 20
        })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let hits = hits_of(&body);
    let expected = fixtures()
        .iter()
        .filter(|p| {
            p.category == "sweater" && p.in_stock("M") && (3000..=8000).contains(&p.price_cents)
        })
        .count();
    assert_eq!(hits.len(), expected.min(20));
    assert!(!hits.is_empty());
    for h in &hits {
        let p: protocol::catalog::Product = serde_json::from_value(h["product"].clone()).unwrap();
        assert_eq!(p.category, "sweater");
        assert!(p.in_stock("M"), "{} has no M in stock", p.sku);
        assert!((3000..=8000).contains(&p.price_cents));
    }
    // Scores come best first.
    let scores: Vec<f64> = hits.iter().map(|h| h["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");

    // A colour filter and a store filter, with an empty query (browsing).
    let (status, body) = call(
        "POST",
        "/v1/products/search",
        Key::None,
        Some(json!({"query": "", "filters": {"colour": "Pink", "store": "harbour"}, "limit": 50})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let expected = fixtures()
        .iter()
        .filter(|p| p.colours.iter().any(|c| c == "pink") && p.store.as_deref() == Some("harbour"))
        .count();
    assert_eq!(hits_of(&body).len(), expected.min(50));
}

#[tokio::test]
async fn a_product_is_found_by_sku_and_an_unknown_sku_is_a_404() {
    let fixture = &fixtures()[10];
    let (status, body) = call(
        "GET",
        &format!("/v1/products/{}", fixture.sku),
        Key::None,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let product: protocol::catalog::Product = serde_json::from_value(body).unwrap();
    assert_eq!(product.title, fixture.title);
    assert_eq!(product.price_cents, fixture.price_cents);

    let (status, body) = call("GET", "/v1/products/NO-SUCH-SKU", Key::None, None).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "unknown_sku");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("NO-SUCH-SKU")
    );
}

/// The whole catalogue, a page at a time (how the vision service indexes the product
/// images): every product exactly once, and a made-up cursor is refused.
#[tokio::test]
async fn the_catalogue_pages_through_every_product_once() {
    let mut seen = Vec::new();
    let mut path = "/v1/products?limit=100".to_owned();
    let mut pages = 0;
    loop {
        let (status, body) = call("GET", &path, Key::None, None).await;
        assert_eq!(status, 200, "{body}");
        let page: protocol::catalog::ProductPage = serde_json::from_value(body).unwrap();
        assert!(page.products.len() <= 100);
        seen.extend(page.products.into_iter().map(|p| p.sku));
        pages += 1;
        match page.next_cursor {
            Some(cursor) => path = format!("/v1/products?limit=100&cursor={cursor}"),
            None => break,
        }
    }
    let mut expected: Vec<String> = fixtures().iter().map(|p| p.sku.clone()).collect();
    expected.sort();
    let count = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), count, "no product twice");
    assert_eq!(seen, expected, "every fixture product, in {pages} pages");
    assert!(pages >= 4, "350 products at 100 a page");

    let (status, body) = call("GET", "/v1/products?cursor=not-a-cursor", Key::None, None).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "invalid_request");
}

#[tokio::test]
async fn the_product_image_is_a_png_of_the_garment() {
    let fixture = &fixtures()[0];
    let response = reqwest::get(format!(
        "{}/v1/products/{}/image.png",
        common::catalog(),
        fixture.sku
    ))
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/png");
    let bytes = response.bytes().await.unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
}

#[tokio::test]
async fn bad_search_requests_get_clear_errors() {
    let cases = [
        (
            json!({"query": "shirt", "limit": 5000}),
            400,
            "invalid_request",
        ),
        (
            json!({"query": "shirt", "limit": 0}),
            400,
            "invalid_request",
        ),
        (
            json!({"query": "shirt", "filters": {"min_price_cents": 9000, "max_price_cents": 100}}),
            400,
            "invalid_request",
        ),
        (json!({"query": "x".repeat(10_000)}), 400, "invalid_request"),
        (json!({"query": 42}), 422, "invalid_request"),
    ];
    for (body, status, code) in cases {
        let (got, answer) =
            call("POST", "/v1/products/search", Key::None, Some(body.clone())).await;
        assert_eq!(got, status, "{body} -> {answer}");
        assert_eq!(answer["error"]["code"], code, "{answer}");
        assert!(!answer["error"]["message"].as_str().unwrap().is_empty());
    }
    // Malformed JSON.
    let (status, answer) = common::call_raw(
        "POST",
        "/v1/products/search",
        Key::None,
        "application/json",
        b"{\"query\":".to_vec(),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "bad_request");
}

/// "A shirt to go with that sweater": shirts only, in her size, colours that pair with
/// pink, each with a reason.
#[tokio::test]
async fn goes_with_a_described_pink_sweater_suggests_shirts_that_pair() {
    let (status, body) = call(
        "POST",
        "/v1/products/goes-with",
        Key::None,
        Some(json!({"description": "the pink sweater", "category": "shirt", "size_in_stock": "M", "limit": 5})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["anchor"]["category"], "sweater");
    assert_eq!(body["anchor"]["colours"], json!(["pink"]));
    let suggestions = body["suggestions"].as_array().unwrap();
    assert!(!suggestions.is_empty());
    for s in suggestions {
        let p: protocol::catalog::Product = serde_json::from_value(s["product"].clone()).unwrap();
        assert_eq!(p.category, "shirt");
        assert!(p.in_stock("M"));
        assert!(
            !p.colours.iter().any(|c| c == "red" || c == "orange"),
            "{} clashes with pink",
            p.sku
        );
        assert!(s["explanation"].as_str().unwrap().contains("pink"), "{s}");
    }
}

/// Pairing with a catalogue product: other categories only, never the product itself.
#[tokio::test]
async fn goes_with_a_product_suggests_other_categories() {
    let sweater = fixtures()
        .into_iter()
        .find(|p| p.category == "sweater" && p.colours == ["pink"])
        .unwrap();
    let (status, body) = call(
        "POST",
        "/v1/products/goes-with",
        Key::None,
        Some(json!({"sku": sweater.sku, "limit": 8})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let suggestions = body["suggestions"].as_array().unwrap();
    assert!(suggestions.len() >= 4, "{body}");
    let categories: std::collections::BTreeSet<&str> = suggestions
        .iter()
        .map(|s| s["product"]["category"].as_str().unwrap())
        .collect();
    assert!(!categories.contains("sweater"), "{categories:?}");
    assert!(categories.len() >= 2, "{categories:?}");
    let scores: Vec<f64> = suggestions
        .iter()
        .map(|s| s["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]));

    for (body, status, code) in [
        (
            json!({"description": "something nice"}),
            400,
            "unknown_garment",
        ),
        (json!({}), 400, "invalid_request"),
        (json!({"sku": "NOPE", "limit": 3}), 404, "unknown_sku"),
        (
            json!({"description": "pink sweater", "limit": 500}),
            400,
            "invalid_request",
        ),
    ] {
        let (got, answer) = call(
            "POST",
            "/v1/products/goes-with",
            Key::None,
            Some(body.clone()),
        )
        .await;
        assert_eq!(got, status, "{body} -> {answer}");
        assert_eq!(answer["error"]["code"], code);
    }
}
