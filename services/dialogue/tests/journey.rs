//! The customer journey of the product brief, on the real model and catalog: a
//! recognised customer who bought a pink sweater is greeted with it, asks for a shirt to
//! go with it, gets in-stock shirts in her size, tries the second one on and has it
//! brought to a fitting room. And the anonymous customer gets the same help, unnamed.
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use protocol::dialogue::{Action, Intent, TurnEvent};
use serde_json::json;

fn intent(events: &[TurnEvent]) -> Intent {
    match &events[0] {
        TurnEvent::Understood(u) => u.intent,
        other => panic!("first event is {other:?}"),
    }
}

/// Enrols Lucy (with consent) and records her pink sweater, bought 8 days ago.
async fn enrol_lucy() -> (String, String) {
    let catalog = common::catalog();
    let (status, found) = common::call(
        catalog,
        "POST",
        "/v1/products/search",
        Some(json!({"query": "pink sweater", "filters": {"category": "sweater", "colour": "pink"}, "limit": 1})),
    )
    .await;
    assert_eq!(status, 200, "{found}");
    let sweater = found["hits"][0]["product"]["sku"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let face: Vec<f32> = (0..128)
        .map(|i| ((i * 37 % 101) as f32 / 101.0) - 0.5)
        .collect();
    let (status, customer) = common::call(
        catalog,
        "POST",
        "/v1/customers",
        Some(json!({
            "name": "Lucy Gray",
            "consent": {"given_by": "Lucy Gray", "purpose": "recognition at the kiosk",
                        "kiosk_id": "kiosk-test", "given_at_unix": now - 30 * 86_400},
            "face_embeddings": [face],
            "sizes": {"shirt": "M", "sweater": "M"},
        })),
    )
    .await;
    assert_eq!(status, 201, "{customer}");
    let id = customer["id"].as_str().unwrap().to_owned();
    let (status, body) = common::call(
        catalog,
        "POST",
        &format!("/v1/customers/{id}/purchases"),
        Some(json!({"sku": sweater, "size": "M", "at_unix": now - 8 * 86_400})),
    )
    .await;
    assert!(status == 200 || status == 201, "{status} {body}");
    (id, sweater)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recognised_customer_from_greeting_to_fitting_room() {
    let (lucy, _sweater) = enrol_lucy().await;
    let (session, greeting) = common::start_session(Some(&lucy)).await;
    assert!(greeting.contains("Lucy"), "{greeting}");
    assert!(greeting.contains("pink sweater"), "{greeting}");
    assert!(greeting.contains("last week"), "{greeting}");
    assert!(!greeting.contains("Gray"), "first name only: {greeting}");

    let events = common::turn(&session, "I'd like a shirt to go with that sweater").await;
    assert_eq!(intent(&events), Intent::GoesWith, "{events:?}");
    let shirts = common::cards(&events);
    assert!(shirts.len() >= 2, "{events:?}");
    for shirt in &shirts {
        assert_eq!(shirt.category, "shirt", "{shirt:?}");
        assert!(
            shirt.sizes_in_stock.contains(&"M".to_string()),
            "not in her size: {shirt:?}"
        );
        assert!(shirt.why.is_some(), "{shirt:?}");
    }
    let reply = common::reply(&events);
    assert!(!reply.is_empty());
    // Speech can start on the first sentence.
    assert!(events.iter().any(|e| matches!(
        e,
        TurnEvent::Text {
            sentence_end: true,
            ..
        }
    )));

    let events = common::turn(&session, "can I try the second one on?").await;
    assert_eq!(intent(&events), Intent::TryOn, "{events:?}");
    assert_eq!(
        common::actions(&events),
        vec![Action::TryOn {
            sku: shirts[1].sku.clone()
        }]
    );

    let events = common::turn(&session, "yes please, bring it to a fitting room").await;
    assert_eq!(
        common::actions(&events),
        vec![Action::Fetch {
            sku: shirts[1].sku.clone(),
            size: Some("M".into())
        }],
        "{events:?}"
    );
    let reply = common::reply(&events);
    assert!(reply.contains("fitting room"), "{reply}");

    // What a reconnecting kiosk sees.
    let (status, view) = common::call(
        common::dialogue(),
        "GET",
        &format!("/v1/sessions/{session}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(view["customer_name"], "Lucy");
    assert_eq!(view["shown"].as_array().unwrap().len(), shirts.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_customer_gets_the_same_help_unnamed() {
    let (session, greeting) = common::start_session(None).await;
    assert!(greeting.contains("welcome"), "{greeting}");
    let events = common::turn(&session, "I'm looking for a navy shirt in medium").await;
    assert_eq!(intent(&events), Intent::FindProduct);
    let found = common::cards(&events);
    assert!(!found.is_empty(), "{events:?}");
    for card in &found {
        assert_eq!(card.category, "shirt");
        assert!(card.colours.contains(&"navy".to_string()), "{card:?}");
        assert!(card.sizes_in_stock.contains(&"M".to_string()), "{card:?}");
    }
    let events = common::turn(&session, "how much is the first one?").await;
    let reply = common::reply(&events);
    let price = found[0].price_cents;
    let euros = format!("{}.{:02}", price / 100, price % 100);
    assert!(
        reply.contains(&euros) || reply.contains(&format!("{} euros", price / 100)),
        "{reply} should give {euros}"
    );
    // Asking to be remembered is answered with the consent question, never enrolment.
    let events = common::turn(&session, "can you remember me next time?").await;
    assert_eq!(common::actions(&events), vec![Action::AskConsent]);
    assert!(common::reply(&events).contains("permission"));
}
