//! Every way a request can be refused answers a clear 4xx (or 503 when busy) with a
//! stable code, and nothing is drawn for it.
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use serde_json::{Value, json};
use service_kit::config::TryonConfig;

/// A PNG signature and an IHDR chunk declaring `width` × `height`, and nothing else:
/// a decompression bomb's header.
fn png_header(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend_from_slice(&13u32.to_be_bytes());
    bytes.extend_from_slice(b"IHDR");
    bytes.extend_from_slice(&width.to_be_bytes());
    bytes.extend_from_slice(&height.to_be_bytes());
    bytes.extend_from_slice(&[8, 2, 0, 0, 0, 0, 0, 0, 0]);
    bytes
}

fn astronaut() -> String {
    common::b64(&common::photo("astronaut.png"))
}

async fn refused(path: &str, body: Value) -> (u16, String, String) {
    let (status, answer) = common::post(common::tryon(), path, &body).await;
    (
        status,
        common::code(&answer).to_owned(),
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_try_on_requests_are_refused_with_their_code() {
    let jpeg = common::photo("obama.jpg");
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "a photo without a person",
            json!({"photo_base64": common::b64(&common::photo("coffee.png")), "sku": "SWT-1001-PNK"}),
            422,
            "no_person",
        ),
        (
            "an unknown SKU",
            json!({"photo_base64": astronaut(), "sku": "NOPE-0000-XXX"}),
            404,
            "unknown_sku",
        ),
        (
            "shoes",
            json!({"photo_base64": astronaut(), "sku": "SHO-1001-OLV"}),
            422,
            "unsupported_category",
        ),
        (
            "a bag",
            json!({"photo_base64": astronaut(), "sku": "BAG-1001-BUR"}),
            422,
            "unsupported_category",
        ),
        (
            "a scarf",
            json!({"photo_base64": astronaut(), "sku": "SCF-1001-PNK"}),
            422,
            "unsupported_category",
        ),
        (
            "a PNG declaring 50,000 x 50,000 pixels",
            json!({"photo_base64": common::b64(&png_header(50_000, 50_000)), "sku": "SWT-1001-PNK"}),
            413,
            "image_too_large",
        ),
        (
            "a truncated JPEG",
            json!({"photo_base64": common::b64(&jpeg[..jpeg.len() / 2]), "sku": "SWT-1001-PNK"}),
            400,
            "corrupt_image",
        ),
        (
            "a GIF",
            json!({"photo_base64": common::b64(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"), "sku": "SWT-1001-PNK"}),
            415,
            "unsupported_image_format",
        ),
        (
            "no photo bytes",
            json!({"photo_base64": "", "sku": "SWT-1001-PNK"}),
            400,
            "empty_image",
        ),
        (
            "bad base64",
            json!({"photo_base64": "this is not base64!", "sku": "SWT-1001-PNK"}),
            400,
            "invalid_base64",
        ),
        (
            "neither a SKU nor a garment",
            json!({"photo_base64": astronaut()}),
            400,
            "invalid_request",
        ),
        (
            "both a SKU and a garment",
            json!({"photo_base64": astronaut(), "sku": "SWT-1001-PNK", "garment_png_base64": astronaut(), "category": "shirt"}),
            400,
            "invalid_request",
        ),
        (
            "a garment picture without its category",
            json!({"photo_base64": astronaut(), "garment_png_base64": astronaut()}),
            400,
            "invalid_request",
        ),
        (
            "a garment picture of a bag",
            json!({"photo_base64": astronaut(), "garment_png_base64": astronaut(), "category": "bag"}),
            422,
            "unsupported_category",
        ),
        (
            "a garment picture without transparency",
            json!({"photo_base64": astronaut(), "garment_png_base64": astronaut(), "category": "shirt"}),
            422,
            "unusable_garment",
        ),
        (
            "a SKU that would leave the product path",
            json!({"photo_base64": astronaut(), "sku": "../admin"}),
            400,
            "invalid_request",
        ),
        (
            "an unknown field",
            json!({"photo_base64": astronaut(), "sku": "SWT-1001-PNK", "store_my_photo": true}),
            422,
            "invalid_request",
        ),
    ];
    let mut wrong = Vec::new();
    for (what, body, status, code) in cases {
        let (got_status, got_code, message) = refused("/v1/tryon", body).await;
        println!("{what}: {got_status} {got_code}: {message}");
        if (got_status, got_code.as_str()) != (status, code) {
            wrong.push(format!(
                "{what}: expected {status} {code}, got {got_status} {got_code} ({message})"
            ));
        }
        assert!(!message.is_empty(), "{what}: the error explains itself");
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_generation_requests_are_refused_with_their_code() {
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "an empty prompt",
            json!({"prompt": "  "}),
            400,
            "empty_prompt",
        ),
        (
            "a prompt too long",
            json!({"prompt": format!("a pink shirt {}", "very ".repeat(300))}),
            400,
            "prompt_too_long",
        ),
        (
            "a prompt naming no garment",
            json!({"prompt": "a sunset over the sea"}),
            422,
            "no_garment_named",
        ),
        (
            "no images",
            json!({"prompt": "a pink shirt", "n": 0}),
            400,
            "invalid_n",
        ),
        (
            "too many images",
            json!({"prompt": "a pink shirt", "n": 50}),
            400,
            "invalid_n",
        ),
        (
            "a size too large",
            json!({"prompt": "a pink shirt", "size": "8192x8192"}),
            400,
            "invalid_size",
        ),
        (
            "a size that is not WxH",
            json!({"prompt": "a pink shirt", "size": "large"}),
            400,
            "invalid_size",
        ),
    ];
    let mut wrong = Vec::new();
    for (what, body, status, code) in cases {
        let (got_status, got_code, message) = refused("/v1/images/generations", body).await;
        println!("{what}: {got_status} {got_code}: {message}");
        if (got_status, got_code.as_str()) != (status, code) {
            wrong.push(format!(
                "{what}: expected {status} {code}, got {got_status} {got_code}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    let missing = reqwest::get(format!(
        "{}/v1/images/{}.png",
        common::tryon(),
        "0".repeat(32)
    ))
    .await
    .unwrap();
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.unwrap();
    assert_eq!(common::code(&body), "unknown_image");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_over_the_limit_is_refused_before_it_is_read() {
    let base = common::start_tryon(TryonConfig {
        max_body_bytes: 64 * 1024,
        ..TryonConfig::default()
    });
    let (status, body) = common::post(
        &base,
        "/v1/tryon",
        &json!({"photo_base64": astronaut(), "sku": "SWT-1001-PNK"}),
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(common::code(&body), "body_too_large");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_queue_answers_503_with_retry_after() {
    // One worker, nobody may wait: of requests sent together, the first is served
    // and the others are refused at once.
    let base = common::start_tryon(TryonConfig {
        workers: 1,
        queue: 0,
        ..TryonConfig::default()
    });
    let body =
        json!({"photo_base64": common::b64(&common::photo("biden.jpg")), "sku": "SWT-1001-PNK"});
    let client = reqwest::Client::new();
    let calls = (0..4).map(|_| client.post(format!("{base}/v1/tryon")).json(&body).send());
    let answers = futures_join(calls).await;
    let mut served = 0;
    let mut refused = 0;
    for answer in answers {
        let answer = answer.unwrap();
        match answer.status().as_u16() {
            200 => served += 1,
            503 => {
                assert_eq!(answer.headers()["retry-after"], "1");
                let body: Value = answer.json().await.unwrap();
                assert_eq!(common::code(&body), "overloaded");
                refused += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        served >= 1 && refused >= 1,
        "served {served}, refused {refused}"
    );
}

/// Runs the futures concurrently and collects their outputs in order.
async fn futures_join<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}
