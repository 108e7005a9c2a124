#![allow(clippy::unwrap_used)] // tests may unwrap
//! The Qdrant server back end against a real server: runs when `QDRANT_URL` names one
//! (`QDRANT_URL=http://localhost:6334`, with `QDRANT_API_KEY` if it needs a key) and
//! skips otherwise. Every test works in collections under a random prefix and deletes
//! them at the end, so it can share a server with anything else.
//!
//! Every call goes through [`Collection::Server`], so the checks shared by both back
//! ends (dimension, finiteness, empty input) run as they do in the service.

use catalog::store::server::{self, ServerCollection};
use catalog::store::{
    Collection, CollectionSpec, Condition, Filter, Metric, Payload, Point, Query, StoreError,
};
use serde_json::{Value, json};
use uuid::Uuid;

const SKIPPED: &str =
    "skipped: set QDRANT_URL=http://host:6334 to run the Qdrant server back-end tests";

const DIM: usize = 4;

fn server_url() -> Option<String> {
    std::env::var("QDRANT_URL").ok().filter(|u| !u.is_empty())
}

fn spec(name: &str, metric: Metric) -> CollectionSpec {
    CollectionSpec {
        name: name.to_owned(),
        dim: DIM,
        metric,
        keyword_fields: vec!["category", "tags"],
        numeric_fields: vec!["price"],
    }
}

/// A collection on the server under a prefix no other run uses.
async fn open(url: &str, prefix: &str, spec: CollectionSpec) -> (ServerCollection, Collection) {
    let api_key = std::env::var("QDRANT_API_KEY").ok();
    let c = server::connect(url, api_key.as_deref(), prefix, spec)
        .await
        .unwrap();
    (c.clone(), Collection::Server(c))
}

fn prefix() -> String {
    format!("test_{}_", Uuid::new_v4().simple())
}

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn payload(v: Value) -> Payload {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn point(n: u128, vector: [f32; DIM], p: Value) -> Point {
    Point {
        id: id(n),
        vector: Some(vector.to_vec()),
        payload: payload(p),
    }
}

/// Four products along the axes: 1 and 2 are dairy, 3 and 4 bakery.
fn products() -> Vec<Point> {
    vec![
        point(
            1,
            [1.0, 0.0, 0.0, 0.0],
            json!({"name": "Whole milk", "category": "dairy", "price": 1.2, "tags": ["fresh", "organic"]}),
        ),
        point(
            2,
            [0.9, 0.1, 0.0, 0.0],
            json!({"name": "Greek yoghurt", "category": "dairy", "price": 3.5, "tags": ["fresh"]}),
        ),
        point(
            3,
            [0.0, 1.0, 0.0, 0.0],
            json!({"name": "Sourdough", "category": "bakery", "price": 4.0, "tags": ["organic"]}),
        ),
        point(
            4,
            [0.0, 0.0, 1.0, 0.0],
            json!({"name": "Croissant", "category": "bakery", "price": 1.5, "tags": []}),
        ),
    ]
}

fn ids(scored: &[catalog::store::Scored]) -> Vec<Uuid> {
    scored.iter().map(|s| s.id).collect()
}

fn eq(field: &'static str, value: &str) -> Condition {
    Condition::Equals {
        field,
        value: value.to_owned(),
    }
}

#[tokio::test]
async fn write_query_and_read_back() {
    let Some(url) = server_url() else {
        println!("{SKIPPED}");
        return;
    };
    let prefix = prefix();
    let (server, c) = open(&url, &prefix, spec("products", Metric::Cosine)).await;
    assert_eq!(server.collection_name(), format!("{prefix}products"));
    c.upsert(products()).await.unwrap();
    assert_eq!(c.count(Filter::default()).await.unwrap(), 4);

    // Nearest, unfiltered: milk, then yoghurt; scores are cosine similarities.
    let hits = c
        .query(
            Query::Nearest(vec![1.0, 0.0, 0.0, 0.0]),
            Filter::default(),
            2,
            false,
        )
        .await
        .unwrap();
    assert_eq!(ids(&hits), vec![id(1), id(2)]);
    assert!((hits[0].score - 1.0).abs() < 1e-5, "{}", hits[0].score);
    assert_eq!(hits[0].payload["name"], "Whole milk");

    // Keyword filter: only bakery, best first.
    let bakery = Filter {
        must: vec![eq("category", "bakery")],
        must_not: vec![],
    };
    let hits = c
        .query(
            Query::Nearest(vec![0.0, 1.0, 0.1, 0.0]),
            bakery.clone(),
            10,
            true,
        )
        .await
        .unwrap();
    assert_eq!(ids(&hits), vec![id(3), id(4)]);

    // Array keyword field, any-of, and must_not.
    let organic_not_dairy = Filter {
        must: vec![Condition::AnyOf {
            field: "tags",
            values: vec!["organic".to_owned(), "no such tag".to_owned()],
        }],
        must_not: vec![eq("category", "dairy")],
    };
    let hits = c
        .query(
            Query::Nearest(vec![1.0, 1.0, 1.0, 1.0]),
            organic_not_dairy,
            10,
            false,
        )
        .await
        .unwrap();
    assert_eq!(ids(&hits), vec![id(3)]);

    // Range filter, inclusive at both ends.
    let cheap = Filter {
        must: vec![Condition::Range {
            field: "price",
            gte: Some(1.2),
            lte: Some(1.5),
        }],
        must_not: vec![],
    };
    let mut hits = ids(&c
        .query(
            Query::Nearest(vec![1.0, 0.0, 0.0, 0.0]),
            cheap.clone(),
            10,
            false,
        )
        .await
        .unwrap());
    hits.sort();
    assert_eq!(hits, vec![id(1), id(4)]);
    assert_eq!(c.count(cheap).await.unwrap(), 2);
    assert_eq!(c.count(bakery).await.unwrap(), 2);

    // Read back by id, with and without the vector; a missing id is left out.
    let mut got = c.get(vec![id(3), id(1), id(99)], true).await.unwrap();
    got.sort_by_key(|p| p.id);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].payload, products()[0].payload);
    assert_eq!(got[1].vector.as_deref(), Some(&[0.0, 1.0, 0.0, 0.0][..]));
    let got = c.get(vec![id(2)], false).await.unwrap();
    assert_eq!(got[0].vector, None);
    assert_eq!(got[0].payload["tags"], json!(["fresh"]));

    // A payload change is visible to the next query.
    c.set_payload(id(4), payload(json!({"category": "dairy", "price": 9.0})))
        .await
        .unwrap();
    let dairy = Filter {
        must: vec![eq("category", "dairy")],
        must_not: vec![],
    };
    let hits = c
        .query(
            Query::Nearest(vec![0.0, 0.0, 1.0, 0.0]),
            dairy.clone(),
            10,
            false,
        )
        .await
        .unwrap();
    assert_eq!(hits[0].id, id(4));
    assert_eq!(hits[0].payload["price"], json!(9.0));
    assert_eq!(hits[0].payload["name"], "Croissant", "set_payload merges");

    // Deletes, by id and by filter.
    c.delete(vec![id(1), id(99)]).await.unwrap();
    assert_eq!(c.count(Filter::default()).await.unwrap(), 3);
    c.delete_matching(dairy).await.unwrap();
    assert_eq!(c.count(Filter::default()).await.unwrap(), 1);
    assert_eq!(c.get(vec![id(3)], false).await.unwrap().len(), 1);
    c.delete_matching(Filter::default()).await.unwrap();
    assert_eq!(c.count(Filter::default()).await.unwrap(), 0);

    server.drop_collection().await.unwrap();
}

#[tokio::test]
async fn recommend_best_score() {
    let Some(url) = server_url() else {
        println!("{SKIPPED}");
        return;
    };
    let (server, c) = open(&url, &prefix(), spec("products", Metric::Cosine)).await;
    c.upsert(products()).await.unwrap();

    // Like sourdough, unlike the croissant. Best score: a point closer to a positive
    // example than to every negative scores its best positive similarity, any other
    // minus its best negative similarity squared. Sourdough 1, yoghurt (slightly along
    // the sourdough axis) 0.11, milk -0, croissant -1.
    let hits = c
        .query(
            Query::Recommend {
                positive: vec![vec![0.0, 1.0, 0.0, 0.0]],
                negative: vec![vec![0.0, 0.0, 1.0, 0.0]],
            },
            Filter::default(),
            4,
            true,
        )
        .await
        .unwrap();
    assert_eq!(ids(&hits), vec![id(3), id(2), id(1), id(4)], "{hits:?}");
    assert!(hits[3].score < 0.0, "{hits:?}");

    // Positive examples only, filtered.
    let hits = c
        .query(
            Query::Recommend {
                positive: vec![vec![0.0, 1.0, 0.0, 0.0], vec![0.0, 0.0, 1.0, 0.0]],
                negative: vec![],
            },
            Filter {
                must: vec![eq("category", "bakery")],
                must_not: vec![],
            },
            10,
            false,
        )
        .await
        .unwrap();
    let mut got = ids(&hits);
    got.sort();
    assert_eq!(got, vec![id(3), id(4)]);

    server.drop_collection().await.unwrap();
}

#[tokio::test]
async fn scroll_pages_through_everything_in_id_order() {
    let Some(url) = server_url() else {
        println!("{SKIPPED}");
        return;
    };
    let (server, c) = open(&url, &prefix(), spec("faces", Metric::Euclid)).await;
    // More than one upsert chunk, written in reverse order.
    let n: u128 = 300;
    let points = (1..=n)
        .rev()
        .map(|i| {
            let x = i as f32;
            point(
                i,
                [x, 0.0, 0.0, 1.0],
                json!({"category": if i % 2 == 0 { "even" } else { "odd" }, "price": x}),
            )
        })
        .collect();
    c.upsert(points).await.unwrap();
    assert_eq!(c.count(Filter::default()).await.unwrap(), 300);

    let mut seen = Vec::new();
    let mut offset = None;
    let mut pages = 0;
    loop {
        let (page, next) = c.scroll(Filter::default(), 64, offset).await.unwrap();
        assert!(page.len() <= 64);
        assert!(page.iter().all(|p| p.vector.is_none()));
        seen.extend(page.iter().map(|p| p.id));
        pages += 1;
        match next {
            Some(next) => offset = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 5);
    assert_eq!(seen, (1..=n).map(id).collect::<Vec<_>>());

    // Filtered scroll.
    let even = Filter {
        must: vec![eq("category", "even")],
        must_not: vec![],
    };
    let (page, next) = c.scroll(even.clone(), 1000, None).await.unwrap();
    assert_eq!(page.len(), 150);
    assert_eq!(next, None);
    assert_eq!(c.count(even).await.unwrap(), 150);

    // Euclidean scores are distances, lowest first.
    let hits = c
        .query(
            Query::Nearest(vec![10.0, 0.0, 0.0, 1.0]),
            Filter::default(),
            3,
            true,
        )
        .await
        .unwrap();
    assert_eq!(hits[0].id, id(10));
    assert!(hits[0].score.abs() < 1e-4, "{}", hits[0].score);
    assert!(hits[1].score > hits[0].score);

    server.drop_collection().await.unwrap();
}

#[tokio::test]
async fn wrong_vectors_and_wrong_collections_are_refused() {
    let Some(url) = server_url() else {
        println!("{SKIPPED}");
        return;
    };
    let prefix = prefix();
    let (server, c) = open(&url, &prefix, spec("products", Metric::Cosine)).await;

    let short = Point {
        id: id(1),
        vector: Some(vec![1.0, 0.0]),
        payload: Payload::new(),
    };
    assert!(matches!(
        c.upsert(vec![short]).await,
        Err(StoreError::WrongDimension {
            expected: DIM,
            got: 2,
            ..
        })
    ));
    let no_vector = Point {
        id: id(1),
        vector: None,
        payload: Payload::new(),
    };
    assert!(matches!(
        c.upsert(vec![no_vector]).await,
        Err(StoreError::WrongDimension { got: 0, .. })
    ));
    assert!(matches!(
        c.query(
            Query::Nearest(vec![1.0; DIM + 1]),
            Filter::default(),
            1,
            false
        )
        .await,
        Err(StoreError::WrongDimension { .. })
    ));
    assert!(matches!(
        c.query(
            Query::Recommend {
                positive: vec![vec![1.0; DIM]],
                negative: vec![vec![f32::NAN; DIM]],
            },
            Filter::default(),
            1,
            false
        )
        .await,
        Err(StoreError::NotFinite { .. })
    ));
    assert_eq!(c.count(Filter::default()).await.unwrap(), 0);

    // Reopening with the same spec finds the collection; another size or metric is
    // refused with what to do.
    let (_, again) = open(&url, &prefix, spec("products", Metric::Cosine)).await;
    assert_eq!(again.count(Filter::default()).await.unwrap(), 0);
    let api_key = std::env::var("QDRANT_API_KEY").ok();
    let mut wider = spec("products", Metric::Cosine);
    wider.dim = DIM * 2;
    match server::connect(&url, api_key.as_deref(), &prefix, wider).await {
        Err(StoreError::Backend { backend, message }) => {
            assert_eq!(backend, "server");
            assert!(message.contains("ingest the catalogue again"), "{message}");
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a collection of another dimension was opened"),
    }
    match server::connect(
        &url,
        api_key.as_deref(),
        &prefix,
        spec("products", Metric::Euclid),
    )
    .await
    {
        Err(StoreError::Backend { message, .. }) => assert!(message.contains("Euclid")),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("a collection of another metric was opened"),
    }

    server.drop_collection().await.unwrap();
}

#[tokio::test]
async fn unreachable_server_is_a_backend_error() {
    if server_url().is_none() {
        println!("{SKIPPED}");
        return;
    }
    // Port 1 on localhost: nothing listens there.
    match server::connect(
        "http://127.0.0.1:1",
        None,
        &prefix(),
        spec("x", Metric::Cosine),
    )
    .await
    {
        Err(StoreError::Backend { backend, .. }) => assert_eq!(backend, "server"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("connected to nothing"),
    }
}
