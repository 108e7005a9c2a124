//! Consenting customers over HTTP: enrolment only with consent, recognition by face,
//! purchases for the greeting, export, and forgetting that really forgets.
#![allow(clippy::unwrap_used, reason = "tests: a failure is the test failing")]

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{Key, call, fixtures};
use serde_json::{Value, json};

/// A face embedding shaped like dlib's (128 values around ±0.1), distinct per seed.
fn face(seed: u32) -> Vec<f32> {
    (0..128u32)
        .map(|i| {
            let x = (seed.wrapping_mul(2_654_435_761) ^ i.wrapping_mul(40_503)) % 2000;
            (x as f32 / 1000.0 - 1.0) * 0.15
        })
        .collect()
}

/// The same face seen again: every component moved a little.
fn nearby(face: &[f32], by: f32) -> Vec<f32> {
    face.iter()
        .enumerate()
        .map(|(i, x)| x + if i % 2 == 0 { by } else { -by })
        .collect()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn enrolment(name: &str, faces: Vec<Vec<f32>>) -> Value {
    json!({
        "name": name,
        "consent": {
            "given_by": name,
            "purpose": "recognise me at the kiosk and remember my purchases",
            "kiosk_id": "kiosk-entrance-1",
            "given_at_unix": now()
        },
        "face_embeddings": faces,
        "sizes": {"sweater": "M", "shirt": "M"},
        "liked_colours": ["pink", "navy"]
    })
}

async fn enrol(name: &str, faces: Vec<Vec<f32>>) -> String {
    let (status, body) = call(
        "POST",
        "/v1/customers",
        Key::Service,
        Some(enrolment(name, faces)),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_owned()
}

async fn identify(embedding: &[f32]) -> Value {
    let (status, body) = call(
        "POST",
        "/v1/customers/identify",
        Key::Service,
        Some(json!({"embedding": embedding})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["customer"].clone()
}

/// Lucy's journey: enrolled with consent, recognised with her last purchase, her
/// record exported, then forgotten: afterwards her face matches nobody.
#[tokio::test]
async fn a_consenting_customer_is_recognised_and_can_be_forgotten() {
    let lucy_face = face(1);
    let id = enrol("Lucy", vec![lucy_face.clone(), nearby(&lucy_face, 0.01)]).await;

    let sweater = fixtures()
        .into_iter()
        .find(|p| p.category == "sweater" && p.colours == ["pink"])
        .unwrap();
    let (status, body) = call(
        "POST",
        &format!("/v1/customers/{id}/purchases"),
        Key::Service,
        Some(json!({"sku": sweater.sku, "size": "M", "at_unix": now() - 7 * 86_400})),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Seen again by the camera: a slightly different embedding of the same face.
    let seen = identify(&nearby(&lucy_face, 0.02)).await;
    assert_eq!(seen["id"], id.as_str());
    assert_eq!(seen["name"], "Lucy");
    assert!(seen["confidence"].as_f64().unwrap() > 0.5, "{seen}");
    assert_eq!(seen["last_purchase"]["sku"], sweater.sku.as_str());
    assert_eq!(seen["last_purchase"]["title"], sweater.title.as_str());

    // A stranger is not Lucy.
    assert_eq!(identify(&face(999)).await, Value::Null);

    // Export: the whole record, faces included.
    let (status, export) = call(
        "GET",
        &format!("/v1/customers/{id}/export"),
        Key::Service,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(export["name"], "Lucy");
    assert_eq!(export["consent"]["kiosk_id"], "kiosk-entrance-1");
    assert_eq!(export["face_embeddings"].as_array().unwrap().len(), 2);
    assert_eq!(export["purchases"][0]["sku"], sweater.sku.as_str());

    // Preferences change.
    let (status, body) = call(
        "PATCH",
        &format!("/v1/customers/{id}"),
        Key::Service,
        Some(json!({"liked_colours": ["olive"]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["liked_colours"], json!(["olive"]));

    // Forget.
    let (status, _) = call("DELETE", &format!("/v1/customers/{id}"), Key::Service, None).await;
    assert_eq!(status, 204);
    assert_eq!(identify(&lucy_face).await, Value::Null);
    let (status, body) = call("GET", &format!("/v1/customers/{id}"), Key::Service, None).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "unknown_customer");
    let (status, _) = call(
        "GET",
        &format!("/v1/customers/{id}/export"),
        Key::Service,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call("DELETE", &format!("/v1/customers/{id}"), Key::Service, None).await;
    assert_eq!(status, 404);
}

/// Two customers: each face finds its own owner, not the other.
#[tokio::test]
async fn each_face_identifies_its_own_customer() {
    let (a, b) = (face(21), face(22));
    let id_a = enrol("Ann", vec![a.clone()]).await;
    let id_b = enrol("Ben", vec![b.clone()]).await;
    assert_eq!(identify(&nearby(&a, 0.01)).await["id"], id_a.as_str());
    assert_eq!(identify(&nearby(&b, 0.01)).await["id"], id_b.as_str());
    // Far beyond the threshold (0.6): nobody.
    assert_eq!(identify(&nearby(&a, 0.2)).await, Value::Null);
}

/// Nobody is enrolled without a consent record, and bad enrolments say what to fix.
#[tokio::test]
async fn enrolment_without_consent_or_with_bad_faces_is_refused() {
    let mut no_consent = enrolment("Eve", vec![face(3)]);
    no_consent.as_object_mut().unwrap().remove("consent");
    let mut empty_purpose = enrolment("Eve", vec![face(3)]);
    empty_purpose["consent"]["purpose"] = json!("");
    let mut future = enrolment("Eve", vec![face(3)]);
    future["consent"]["given_at_unix"] = json!(now() + 10 * 86_400);
    // 1e39 is beyond f32: it arrives as infinity. Faces stay within ±0.15, so 7.0 is a
    // unique placeholder to swap for it in the JSON text.
    let mut infinite = face(3);
    infinite[5] = 7.0;
    let overflow = serde_json::to_string(&enrolment("Eve", vec![infinite]))
        .unwrap()
        .replace("7.0", "1e39");
    assert!(overflow.contains("1e39"));
    let cases = [
        (no_consent, 422, "invalid_request"),
        (empty_purpose, 400, "invalid_customer"),
        (future, 400, "invalid_customer"),
        (enrolment("Eve", vec![]), 400, "invalid_customer"),
        (
            enrolment("Eve", vec![vec![0.1; 64]]),
            400,
            "wrong_dimension",
        ),
        (
            enrolment("Eve", (0..11).map(face).collect()),
            413,
            "batch_too_large",
        ),
        (enrolment("", vec![face(3)]), 400, "invalid_customer"),
    ];
    for (body, status, code) in cases {
        let (got, answer) = call("POST", "/v1/customers", Key::Service, Some(body.clone())).await;
        assert_eq!(got, status, "{answer}");
        assert_eq!(answer["error"]["code"], code, "{answer}");
    }
    let (got, answer) = common::call_raw(
        "POST",
        "/v1/customers",
        Key::Service,
        "application/json",
        overflow.into_bytes(),
    )
    .await;
    assert_eq!(got, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "not_finite");
    // None of them left a face behind.
    assert_eq!(identify(&face(3)).await, Value::Null);

    let (status, body) = call(
        "POST",
        "/v1/customers/identify",
        Key::Service,
        Some(json!({"embedding": [0.5, 0.5]})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "wrong_dimension");
}

/// Customer data needs the service token or the admin key; the admin API needs the
/// admin key, not the service token.
#[tokio::test]
async fn customer_and_admin_endpoints_need_their_keys() {
    for key in [Key::None, Key::Wrong] {
        let (status, body) = call(
            "POST",
            "/v1/customers",
            key,
            Some(enrolment("Mallory", vec![face(5)])),
        )
        .await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error"]["code"], "unauthorized");
        let (status, _) = call(
            "POST",
            "/v1/customers/identify",
            key,
            Some(json!({"embedding": face(5)})),
        )
        .await;
        assert_eq!(status, 401);
    }
    let (status, _) = call(
        "DELETE",
        "/v1/admin/products/SHT-1001-BUR",
        Key::Service,
        None,
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = call("GET", "/v1/customers/not-a-uuid", Key::Admin, None).await;
    assert_eq!(status, 404);
}

/// Customers who bought the pink sweater also bought a shirt: goes-with ranks it first
/// and says why.
#[tokio::test]
async fn co_purchases_lift_a_suggestion_and_are_explained() {
    let products = fixtures();
    let sweater = products
        .iter()
        .find(|p| p.category == "sweater" && p.colours == ["pink"] && p.sku != "SWT-1001-PNK")
        .unwrap();
    let request = json!({"sku": sweater.sku, "category": "shirt", "limit": 10});
    let (_, before) = call(
        "POST",
        "/v1/products/goes-with",
        Key::None,
        Some(request.clone()),
    )
    .await;
    let suggestions = before["suggestions"].as_array().unwrap();
    assert!(suggestions.len() >= 3, "{before}");
    // The last suggestion of the list, bought together with the sweater by 3 customers.
    let shirt = suggestions.last().unwrap()["product"]["sku"]
        .as_str()
        .unwrap()
        .to_owned();
    for n in 0..3 {
        let id = enrol(&format!("Shopper {n}"), vec![face(100 + n)]).await;
        for sku in [&sweater.sku, &shirt] {
            let (status, body) = call(
                "POST",
                &format!("/v1/customers/{id}/purchases"),
                Key::Service,
                Some(json!({"sku": sku})),
            )
            .await;
            assert_eq!(status, 200, "{body}");
        }
    }
    let (_, after) = call("POST", "/v1/products/goes-with", Key::None, Some(request)).await;
    let rank = |body: &Value| {
        body["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .position(|s| s["product"]["sku"] == shirt.as_str())
    };
    let (old, new) = (rank(&before).unwrap(), rank(&after).unwrap());
    assert!(
        new < old,
        "co-purchases did not lift {shirt}: rank {old} -> {new}"
    );
    let explanation = after["suggestions"][new]["explanation"].as_str().unwrap();
    assert!(explanation.contains("bought together"), "{explanation}");
}
