//! Live inventory over HTTP: stock changes, the rules they obey, their effect on
//! search, and the SSE event stream the kiosk listens to.
#![allow(clippy::unwrap_used, reason = "tests: a failure is the test failing")]

mod common;

use std::time::Duration;

use common::{Key, call, fixtures};
use protocol::catalog::{InventoryChanged, Product};
use serde_json::{Value, json};

fn product(body: Value) -> Product {
    serde_json::from_value(body).unwrap()
}

async fn search_skus(filters: Value) -> Vec<String> {
    let (status, body) = call(
        "POST",
        "/v1/products/search",
        Key::None,
        Some(json!({"query": "", "filters": filters, "limit": 50})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["product"]["sku"].as_str().unwrap().to_owned())
        .collect()
}

/// Selling the last item of a size takes the product out of searches for that size at
/// once, and a delivery brings it back.
#[tokio::test]
async fn selling_out_a_size_hides_the_product_from_that_size_at_once() {
    let shirt = fixtures()
        .into_iter()
        .find(|p| p.category == "shirt" && p.sizes.iter().any(|s| s.size == "L" && s.stock > 0))
        .unwrap();
    let filters = json!({"category": "shirt", "size_in_stock": "L", "store": shirt.store});
    assert!(search_skus(filters.clone()).await.contains(&shirt.sku));

    let stock = shirt.sizes.iter().find(|s| s.size == "L").unwrap().stock;
    let path = format!("/v1/inventory/{}", shirt.sku);
    let (status, body) = call(
        "PATCH",
        &path,
        Key::Service,
        Some(json!({"changes": [{"size": "L", "delta": -i64::from(stock)}]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(!product(body).in_stock("L"));
    // The very next search already reflects the sale.
    assert!(!search_skus(filters.clone()).await.contains(&shirt.sku));

    let (status, body) = call(
        "PATCH",
        &path,
        Key::Service,
        Some(json!({"changes": [{"size": "L", "delta": 3}]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        product(body)
            .sizes
            .iter()
            .find(|s| s.size == "L")
            .unwrap()
            .stock,
        3
    );
    assert!(search_skus(filters).await.contains(&shirt.sku));
}

#[tokio::test]
async fn a_stock_count_replaces_every_size() {
    let coat = fixtures()
        .into_iter()
        .find(|p| p.category == "coat")
        .unwrap();
    let path = format!("/v1/inventory/{}", coat.sku);
    let (status, body) = call(
        "PUT",
        &path,
        Key::Admin,
        Some(json!({"sizes": [{"size": "S", "stock": 0}, {"size": "M", "stock": 7}]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, body) = call(
        "GET",
        &format!("/v1/products/{}", coat.sku),
        Key::None,
        None,
    )
    .await;
    let stored = product(body);
    assert_eq!(stored.sizes.len(), 2);
    assert!(stored.in_stock("M") && !stored.in_stock("S") && !stored.in_stock("L"));
}

/// Stock never goes negative, a sale of an unknown size or SKU is refused, and the
/// refused change leaves the stock as it was.
#[tokio::test]
async fn bad_stock_changes_are_refused_and_change_nothing() {
    let bag = fixtures()
        .into_iter()
        .find(|p| p.category == "bag")
        .unwrap();
    let size = bag.sizes[0].clone();
    let path = format!("/v1/inventory/{}", bag.sku);
    let too_many = (0..100)
        .map(|i| json!({"size": format!("Z{i}"), "set": 1}))
        .collect::<Vec<_>>();
    let cases = [
        (
            json!({"changes": [{"size": size.size, "delta": -(i64::from(size.stock) + 1)}]}),
            400,
            "negative_stock",
        ),
        (
            json!({"changes": [{"size": "XXXL", "delta": -1}]}),
            400,
            "invalid_stock",
        ),
        (
            json!({"changes": [{"size": size.size, "delta": 1, "set": 4}]}),
            400,
            "invalid_stock",
        ),
        (json!({"changes": []}), 400, "invalid_stock"),
        (json!({"changes": too_many}), 413, "batch_too_large"),
        (
            json!({"changes": [{"size": size.size, "set": -1}]}),
            422,
            "invalid_request",
        ),
    ];
    for (body, status, code) in cases {
        let (got, answer) = call("PATCH", &path, Key::Service, Some(body.clone())).await;
        assert_eq!(got, status, "{body} -> {answer}");
        assert_eq!(answer["error"]["code"], code, "{answer}");
    }
    let (_, body) = call("GET", &format!("/v1/products/{}", bag.sku), Key::None, None).await;
    assert_eq!(product(body).sizes, bag.sizes);

    let (status, body) = call(
        "PATCH",
        "/v1/inventory/NO-SUCH-SKU",
        Key::Service,
        Some(json!({"changes": [{"size": "M", "delta": -1}]})),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "unknown_sku");
}

#[tokio::test]
async fn stock_changes_need_a_key() {
    let path = format!("/v1/inventory/{}", fixtures()[0].sku);
    let change = json!({"changes": [{"size": "M", "delta": 1}]});
    for key in [Key::None, Key::Wrong] {
        let (status, body) = call("PATCH", &path, key, Some(change.clone())).await;
        assert_eq!(status, 401, "{key:?}: {body}");
        assert_eq!(body["error"]["code"], "unauthorized");
    }
}

/// The kiosk's event stream carries each change as it is made.
#[tokio::test]
async fn the_event_stream_reports_each_stock_change() {
    let dress = fixtures()
        .into_iter()
        .find(|p| p.category == "dress")
        .unwrap();
    let size = dress.sizes[0].size.clone();
    let mut events = reqwest::Client::new()
        .get(format!("{}/v1/inventory/events", common::catalog()))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    assert!(
        events.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );

    let (status, _) = call(
        "PATCH",
        &format!("/v1/inventory/{}", dress.sku),
        Key::Service,
        Some(json!({"changes": [{"size": size, "set": 11}]})),
    )
    .await;
    assert_eq!(status, 200);

    let mut text = String::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let chunk = events.chunk().await.unwrap().unwrap();
            text.push_str(&String::from_utf8_lossy(&chunk));
            for block in text.split("\n\n") {
                if block.contains("event: inventory")
                    && let Some(data) = block.lines().find_map(|l| l.strip_prefix("data: "))
                {
                    let change: InventoryChanged = serde_json::from_str(data).unwrap();
                    if change.sku == dress.sku {
                        return change;
                    }
                }
            }
        }
    })
    .await
    .expect("no inventory event within 10 s");
    assert_eq!(found.size, size);
    assert_eq!(found.stock, 11);
}
