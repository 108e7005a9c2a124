//! Understanding quality and grounding on the evaluation set
//! (`fixtures/dialogue/utterances.json`, written independently of the rules), with the
//! default model (SmolLM2-135M-Instruct) and the real catalog.
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use dialogue::understand::{model_answer, understand};
use protocol::dialogue::{Intent, TurnEvent};
use protocol::vocabulary::garment_terms;
use serde::Deserialize;
use serde_json::Value;

/// One test at a time: each runs a llama.cpp engine flat out on every core, and two
/// engines spinning on two cores slow each other down tenfold.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[derive(Deserialize)]
struct Labelled {
    text: String,
    intent: String,
    #[serde(default)]
    slots: BTreeMap<String, Value>,
}

fn evaluation_set() -> Vec<Labelled> {
    let path = common::fixtures().join("dialogue/utterances.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Anchors are compared by what they name (category and colours), as the fixture's
/// README says; every other slot by value.
fn same_slot(key: &str, expected: &Value, got: &Value) -> bool {
    if key == "anchor" {
        let terms = |v: &Value| {
            let t = garment_terms(v.as_str().unwrap_or_default());
            (t.category, t.colours)
        };
        return terms(expected) == terms(got);
    }
    expected == got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intent_and_slot_accuracy_with_the_default_model() {
    let _serial = SERIAL.lock().await;
    let config = common::config(std::path::PathBuf::from("/nonexistent"), None);
    let model = tokio::task::spawn_blocking(move || dialogue::load_model(&config).unwrap())
        .await
        .unwrap();
    let set = evaluation_set();
    assert!(
        set.len() >= 60,
        "the evaluation set has {} utterances",
        set.len()
    );
    let (mut intents_right, mut model_right, mut rules_right, mut by_model) = (0, 0, 0, 0);
    let (mut slots_right, mut slots_union) = (0usize, 0usize);
    let mut misses = Vec::new();
    for item in &set {
        let expected = Intent::from_name(&item.intent)
            .unwrap_or_else(|| panic!("unknown intent {:?} in the fixture", item.intent));
        let understood = understand(&model, &item.text, true).await;
        if understood.source == protocol::dialogue::UnderstandingSource::Model {
            by_model += 1;
        }
        if understood.intent == expected {
            intents_right += 1;
        } else {
            misses.push(format!(
                "{:?}: expected {}, got {} ({:?})",
                item.text,
                item.intent,
                understood.intent.as_str(),
                understood.source
            ));
        }
        // The model alone (its greedy call, unvalidated) and the rules alone, reported.
        let raw = model_answer(&model, &item.text, 0).await.unwrap();
        let raw: Value = serde_json::from_str(&raw).unwrap_or_default();
        if raw["tool"] == item.intent.as_str() {
            model_right += 1;
        }
        if dialogue::rules::read(&item.text).intent == expected {
            rules_right += 1;
        }
        let got = serde_json::to_value(&understood.slots).unwrap();
        let got = got.as_object().unwrap();
        let keys: BTreeSet<&String> = item.slots.keys().chain(got.keys()).collect();
        slots_union += keys.len();
        for key in keys {
            match (item.slots.get(key), got.get(key)) {
                (Some(e), Some(g)) if same_slot(key, e, g) => slots_right += 1,
                (e, g) => misses.push(format!(
                    "{:?}: slot {key}: expected {e:?}, got {g:?}",
                    item.text
                )),
            }
        }
    }
    let n = set.len() as f64;
    let intent_accuracy = f64::from(intents_right) / n;
    let slot_accuracy = slots_right as f64 / slots_union.max(1) as f64;
    let report = serde_json::json!({
        "utterances": set.len(),
        "intent_accuracy": intent_accuracy,
        "slot_accuracy": slot_accuracy,
        "decided_by_model": by_model,
        "model_alone_intent_accuracy": f64::from(model_right) / n,
        "rules_alone_intent_accuracy": f64::from(rules_right) / n,
    });
    println!("{report}");
    for miss in &misses {
        println!("  {miss}");
    }
    assert!(
        intent_accuracy >= 0.90,
        "intent accuracy {intent_accuracy:.3} < 0.90: {report}"
    );
    assert!(
        slot_accuracy >= 0.85,
        "slot accuracy {slot_accuracy:.3} < 0.85: {report}"
    );
}

/// Numbers a reply may say about a product: price forms, sizes, stock counts.
fn product_numbers(product: &Value, allowed: &mut BTreeSet<String>) {
    let cents = product["price_cents"].as_u64().unwrap();
    allowed.insert(format!("{}.{:02}", cents / 100, cents % 100));
    allowed.insert((cents / 100).to_string());
    allowed.insert(cents.div_ceil(100).to_string());
    for size in product["sizes"].as_array().unwrap() {
        allowed.insert(size["size"].as_str().unwrap().to_owned());
        allowed.insert(size["stock"].to_string());
    }
}

/// The numbers written in a text ("39.95", "4", "32").
fn numbers_in(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|w| w.trim_matches('.'))
        .filter(|w| !w.is_empty() && w.chars().any(|c| c.is_ascii_digit()))
        .map(str::to_owned)
        .collect()
}

/// Runs the utterances as one conversation on `base` and checks every reply against
/// what the tools returned (read independently of the service's own check); returns
/// the violations and how many replies the model wrote.
async fn ungrounded_replies(base: &str, set: &[Labelled]) -> (Vec<String>, usize) {
    let (session, _) = common::start_session_on(base, None).await;
    let mut allowed_numbers: BTreeSet<String> = (1..=5).map(|n| n.to_string()).collect();
    let mut allowed_categories = BTreeSet::new();
    let mut allowed_colours = BTreeSet::new();
    let mut violations = Vec::new();
    let mut from_model = 0;
    for item in set {
        // What she said may be repeated back.
        let said = garment_terms(&item.text);
        allowed_categories.extend(said.category);
        allowed_colours.extend(said.colours);
        allowed_numbers.extend(numbers_in(&item.text));
        let started = std::time::Instant::now();
        let events = common::turn_on(base, &session, &item.text).await;
        eprintln!(
            "{:>6} ms {:?} -> {:?}",
            started.elapsed().as_millis(),
            item.text,
            common::reply(&events)
        );
        for event in &events {
            if let TurnEvent::Products { cards, .. } = event {
                for card in cards {
                    // The live record, as the dialogue's product tool sees it.
                    let (_, product) = common::call(
                        common::catalog(),
                        "GET",
                        &format!("/v1/products/{}", card.sku),
                        None,
                    )
                    .await;
                    product_numbers(&product, &mut allowed_numbers);
                    allowed_categories.insert(card.category.clone());
                    allowed_colours.extend(card.colours.iter().cloned());
                }
            }
            if let TurnEvent::Done { source, .. } = event
                && *source == protocol::dialogue::ReplySource::Model
            {
                from_model += 1;
            }
        }
        let reply = common::reply(&events);
        assert!(!reply.is_empty(), "no reply to {:?}", item.text);
        for number in numbers_in(&reply) {
            if !allowed_numbers.contains(&number) {
                violations.push(format!("{:?} -> {reply:?}: number {number}", item.text));
            }
        }
        for clause in reply.split([',', '.', ';', '?', '!']) {
            let terms = garment_terms(clause);
            if let Some(category) = terms.category
                && !allowed_categories.contains(&category)
            {
                violations.push(format!("{:?} -> {reply:?}: category {category}", item.text));
            }
            for colour in terms.colours {
                if !allowed_colours.contains(&colour) {
                    violations.push(format!("{:?} -> {reply:?}: colour {colour}", item.text));
                }
            }
        }
    }
    (violations, from_model)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_reply_mentions_a_product_price_or_stock_figure_no_tool_returned() {
    let _serial = SERIAL.lock().await;
    let set = evaluation_set();
    let (violations, from_model) = ungrounded_replies(common::dialogue(), &set).await;
    println!(
        "{}",
        serde_json::json!({"turns": set.len(), "replies_written_by_model": from_model, "ungrounded": violations.len()})
    );
    assert!(
        violations.is_empty(),
        "ungrounded replies:\n{}",
        violations.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_written_replies_are_held_to_the_same_facts() {
    let _serial = SERIAL.lock().await;
    // The utterances that return products, where a model could invent one.
    let set: Vec<Labelled> = evaluation_set()
        .into_iter()
        .filter(|item| matches!(item.intent.as_str(), "find_product" | "goes_with"))
        .take(30)
        .collect();
    let (violations, from_model) =
        ungrounded_replies(common::dialogue_writing_with_model(), &set).await;
    println!(
        "{}",
        serde_json::json!({"turns": set.len(), "replies_written_by_model": from_model, "ungrounded": violations.len()})
    );
    assert!(
        violations.is_empty(),
        "ungrounded replies:\n{}",
        violations.join("\n")
    );
}
