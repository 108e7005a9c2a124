//! One turn of the conversation: understand, run the tool, stream cards, actions and
//! the reply.
//!
//! Replies are grounded: the tool results of the turn and the session are the only
//! source of product names, prices, sizes and stock figures. Where the model writes
//! the reply, each sentence is checked ([`crate::grounding`]) before it is sent; the
//! first sentence that fails stops the model and the reply composed from the tool
//! results is sent instead. Composed replies are written from the same results, so they
//! pass by construction (and the tests check them too).

use std::time::Instant;

use protocol::catalog::{GoesWithRequest, Product, SearchFilters, SearchRequest};
use protocol::dialogue::{
    Action, ChatMessage, Intent, ProductAttribute, ProductCard, Reference, ReplySource, Role,
    Slots, TurnEvent, Understanding,
};
use protocol::vocabulary::{garment_terms, plural};
use tokio::sync::mpsc;

use crate::Dialogue;
use crate::grounding;
use crate::llm::{GenEvent, Generation};
use crate::session::{Offer, Session};
use crate::tools::ToolError;
use crate::understand::understand;

/// Cards shown per answer: what fits a kiosk screen and a spoken reply.
const CARDS: u32 = 3;

/// Sentences the model may write for one reply; a spoken answer stays short.
const MODEL_SENTENCES: usize = 2;

/// The turn was abandoned because the kiosk stopped listening (barge-in, disconnect).
#[derive(Debug)]
pub struct Cancelled;

/// Sends one event; fails when the kiosk is gone, which ends the turn.
async fn emit(out: &mpsc::Sender<TurnEvent>, event: TurnEvent) -> Result<(), Cancelled> {
    out.send(event).await.map_err(|_| Cancelled)
}

/// What a tool step decided: cards, actions, the composed reply, and (when the model
/// may phrase it) the facts the model is given.
#[derive(Default)]
struct Outcome {
    tool: Option<&'static str>,
    cards: Vec<ProductCard>,
    actions: Vec<Action>,
    composed: String,
    model_facts: Option<String>,
}

impl Outcome {
    fn say(text: impl Into<String>) -> Self {
        Self {
            composed: text.into(),
            ..Self::default()
        }
    }
}

/// Runs one turn on a locked session, streaming to `out`.
pub async fn run(
    dialogue: &Dialogue,
    session: &mut Session,
    text: &str,
    out: &mpsc::Sender<TurnEvent>,
) -> Result<(), Cancelled> {
    let started = Instant::now();
    session.turns += 1;
    session.facts.add_said(text);
    let mut understood =
        understand(&dialogue.model, text, dialogue.config.understand_with_model).await;
    // "Medium, please" after "which size shall I bring?" answers the question.
    if let (Some(Offer::Fetch { .. }), Some(_)) = (&session.offer, &understood.slots.size)
        && matches!(
            understood.intent,
            Intent::FindProduct | Intent::OffTopic | Intent::SmallTalk
        )
    {
        understood.intent = Intent::Affirm;
    }
    emit(out, TurnEvent::Understood(Box::new(understood.clone()))).await?;
    let outcome = match act(dialogue, session, &understood).await {
        Ok(outcome) => outcome,
        Err(ToolError::Unavailable(reason)) => {
            tracing::warn!(%reason, "catalog unavailable during a turn");
            Outcome::say(
                "I'm sorry, I can't reach the product catalogue right now. \
                 A member of staff can help you in the meantime.",
            )
        }
        Err(error) => {
            tracing::warn!(%error, "tool call failed");
            Outcome::say("I'm sorry, I couldn't look that up. Could you say it another way?")
        }
    };
    if !outcome.cards.is_empty() {
        session.facts.add_cards(&outcome.cards);
        session.shown = outcome.cards.clone();
        emit(
            out,
            TurnEvent::Products {
                tool: outcome.tool.unwrap_or("search").into(),
                cards: outcome.cards.clone(),
            },
        )
        .await?;
    }
    for action in &outcome.actions {
        emit(out, TurnEvent::Action(action.clone())).await?;
    }
    let mut first_text_ms = None;
    let (reply, source) = speak(
        dialogue,
        session,
        text,
        &outcome,
        out,
        started,
        &mut first_text_ms,
    )
    .await?;
    emit(
        out,
        TurnEvent::Done {
            reply,
            source,
            first_text_ms: first_text_ms.unwrap_or_else(|| elapsed_ms(started)),
            total_ms: elapsed_ms(started),
        },
    )
    .await
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Streams the reply: the model's, sentence by sentence while each is grounded, else
/// the composed one.
async fn speak(
    dialogue: &Dialogue,
    session: &Session,
    said: &str,
    outcome: &Outcome,
    out: &mpsc::Sender<TurnEvent>,
    started: Instant,
    first_text_ms: &mut Option<u64>,
) -> Result<(String, ReplySource), Cancelled> {
    let mut sent = String::new();
    if let (true, Some(facts)) = (dialogue.config.reply_with_model, &outcome.model_facts) {
        let request = Generation::greedy(
            vec![
                reply_system_prompt(),
                ChatMessage::new(
                    Role::User,
                    format!("Customer: {said}\nFacts:\n{facts}\nReply:"),
                ),
            ],
            dialogue.config.max_reply_tokens,
        );
        if let Ok(mut events) = dialogue.model.generate(request).await {
            let mut pending = String::new();
            let mut sentences = 0;
            let mut grounded = true;
            'model: while let Some(event) = events.recv().await {
                let finished = match event {
                    GenEvent::Text(piece) => {
                        pending.push_str(&piece);
                        false
                    }
                    GenEvent::Done(_) => true,
                };
                while let Some(sentence) = next_sentence(&mut pending, finished) {
                    if echoes_prompt(&sentence) {
                        tracing::info!("model reply repeats its prompt; composed reply used");
                        grounded = false;
                        break 'model;
                    }
                    if let Err(reason) = grounding::check(&sentence, &session.facts) {
                        tracing::info!(?reason, "model reply not grounded; composed reply used");
                        grounded = false;
                        break 'model;
                    }
                    first_text_ms.get_or_insert_with(|| elapsed_ms(started));
                    emit(out, text_event(&sentence)).await?;
                    push_sentence(&mut sent, &sentence);
                    sentences += 1;
                    if sentences >= MODEL_SENTENCES {
                        break 'model; // dropping `events` stops the model
                    }
                }
                if finished {
                    break;
                }
            }
            if grounded && !sent.is_empty() {
                return Ok((sent, ReplySource::Model));
            }
        }
    }
    for sentence in split_sentences(&outcome.composed) {
        first_text_ms.get_or_insert_with(|| elapsed_ms(started));
        emit(out, text_event(&sentence)).await?;
        push_sentence(&mut sent, &sentence);
    }
    Ok((sent, ReplySource::Composed))
}

/// Whether a model sentence repeats the prompt's scaffolding ("Customer:", "Facts:"),
/// which a small model does when it loses track; such a reply is not sent.
fn echoes_prompt(sentence: &str) -> bool {
    ["Customer:", "Facts:", "Reply:", "(none)"]
        .iter()
        .any(|marker| sentence.contains(marker))
}

fn text_event(sentence: &str) -> TurnEvent {
    TurnEvent::Text {
        delta: format!("{sentence} "),
        sentence_end: true,
    }
}

fn push_sentence(reply: &mut String, sentence: &str) {
    if !reply.is_empty() {
        reply.push(' ');
    }
    reply.push_str(sentence);
}

/// Takes the next whole sentence out of `pending` (ends at `.`, `!` or `?` followed by
/// a space, so "39.95" is not split); at the end, whatever is left.
fn next_sentence(pending: &mut String, finished: bool) -> Option<String> {
    let bytes = pending.as_bytes();
    let end = (0..bytes.len()).find(|&i| {
        matches!(bytes[i], b'.' | b'!' | b'?')
            && bytes.get(i + 1).is_some_and(|b| b.is_ascii_whitespace())
    });
    let taken = match end {
        Some(i) => {
            let sentence = pending[..=i].trim().to_owned();
            pending.drain(..=i);
            sentence
        }
        None if finished => std::mem::take(pending).trim().to_owned(),
        None => return None,
    };
    if taken.is_empty() {
        return if finished {
            None
        } else {
            next_sentence(pending, finished)
        };
    }
    Some(taken)
}

/// Splits a composed reply into sentences for streaming.
fn split_sentences(text: &str) -> Vec<String> {
    let mut pending = text.to_owned();
    std::iter::from_fn(|| next_sentence(&mut pending, true)).collect()
}

/// The system prompt of reply writing; evaluated once at start (prompt cache).
pub fn reply_system_prompt() -> ChatMessage {
    ChatMessage::new(
        Role::System,
        "You are a friendly shop assistant at a clothing store kiosk, speaking to a customer. \
         Reply in one or two short spoken sentences. Mention only products, prices and sizes \
         listed under Facts, exactly as written; never invent any. If Facts is empty, do not \
         mention any product. No lists, no markdown.",
    )
}

/// Runs the tool the intent calls for.
async fn act(
    dialogue: &Dialogue,
    session: &mut Session,
    understood: &Understanding,
) -> Result<Outcome, ToolError> {
    let slots = &understood.slots;
    Ok(match understood.intent {
        Intent::Greeting => Outcome::say(match session.first_name() {
            Some(name) => format!("Hello again, {name}! What are you looking for today?"),
            None => "Hello! What are you looking for today?".into(),
        }),
        Intent::SmallTalk => Outcome {
            model_facts: Some("(none)".into()),
            ..Outcome::say("Happy to help! Is there anything you'd like to find today?")
        },
        Intent::FindProduct => find(dialogue, session, slots).await?,
        Intent::GoesWith => goes_with(dialogue, session, slots).await?,
        Intent::ProductQuestion => question(dialogue, session, slots).await?,
        Intent::TryOn => match session.resolve(slots.reference.as_ref()) {
            Some(card) => try_on(session, card),
            None => which_one(session),
        },
        Intent::Fetch => match session.resolve(slots.reference.as_ref()) {
            Some(card) => fetch(dialogue, session, card, slots.size.clone()).await?,
            None => which_one(session),
        },
        Intent::Affirm => match session.offer.take() {
            Some(Offer::Fetch { sku }) => match card_for(session, &sku) {
                Some(card) => fetch(dialogue, session, card, slots.size.clone()).await?,
                None => which_one(session),
            },
            Some(Offer::TryOn { sku }) => match card_for(session, &sku) {
                Some(card) => try_on(session, card),
                None => which_one(session),
            },
            Some(Offer::Remember) => ask_consent(session),
            None => Outcome::say("Great! What would you like to look at?"),
        },
        Intent::Deny => {
            session.offer = None;
            Outcome::say("No problem. Is there anything else I can help you find?")
        }
        Intent::CartAdd => match session.resolve(slots.reference.as_ref()) {
            Some(card) => {
                if !session.cart.contains(&card.sku) {
                    session.cart.push(card.sku.clone());
                }
                let reply = format!("I've added the {} to your basket.", card.title);
                session.last = Some(card);
                Outcome {
                    actions: vec![Action::Cart {
                        skus: session.cart.clone(),
                    }],
                    ..Outcome::say(reply)
                }
            }
            None => which_one(session),
        },
        Intent::CartRemove => match session.resolve(slots.reference.as_ref()) {
            Some(card) if session.cart.contains(&card.sku) => {
                session.cart.retain(|sku| sku != &card.sku);
                Outcome {
                    actions: vec![Action::Cart {
                        skus: session.cart.clone(),
                    }],
                    ..Outcome::say(format!("I've taken the {} out of your basket.", card.title))
                }
            }
            _ => Outcome::say("That isn't in your basket."),
        },
        Intent::Human => Outcome {
            actions: vec![Action::CallStaff],
            ..Outcome::say("I've called a member of staff. Someone will be with you shortly.")
        },
        Intent::Goodbye => Outcome {
            actions: vec![Action::End],
            ..Outcome::say(match session.first_name() {
                Some(name) => format!("Thank you for visiting, {name}. Goodbye!"),
                None => "Thank you for visiting. Goodbye!".into(),
            })
        },
        Intent::RememberMe => match session.first_name() {
            Some(name) => Outcome::say(format!(
                "I already remember you, {name}. You can ask me to forget you at any time."
            )),
            None => {
                session.offer = Some(Offer::Remember);
                ask_consent(session)
            }
        },
        Intent::ForgetMe => Outcome {
            actions: vec![Action::Forget],
            ..Outcome::say(
                "Of course. Please confirm on the screen, and everything I know about you \
                 will be deleted.",
            )
        },
        Intent::OffTopic => Outcome::say(
            "I'm sorry, I can only help with shopping in this store. \
             Can I help you find something to wear?",
        ),
    })
}

/// The consent question; enrolment itself happens only after she accepts on screen.
fn ask_consent(session: &mut Session) -> Outcome {
    session.offer = None;
    Outcome {
        actions: vec![Action::AskConsent],
        ..Outcome::say(
            "I can recognise you next time, but only with your permission. Please read the \
             consent on the screen and accept it if you agree. You can ask me to forget you \
             at any time.",
        )
    }
}

fn which_one(session: &Session) -> Outcome {
    if session.shown.is_empty() {
        Outcome::say(
            "Which one do you mean? Tell me what you're looking for and I'll show you some.",
        )
    } else {
        Outcome::say("Which one do you mean? You can say the first, the second or the third.")
    }
}

/// A product the session knows (shown or talked about).
fn card_for(session: &Session, sku: &str) -> Option<ProductCard> {
    session
        .last
        .iter()
        .chain(session.shown.iter())
        .find(|c| c.sku == sku)
        .cloned()
}

fn try_on(session: &mut Session, card: ProductCard) -> Outcome {
    let reply = format!(
        "Here you are in the {} — have a look in the mirror. Shall I have it brought to a \
         fitting room?",
        card.title
    );
    session.offer = Some(Offer::Fetch {
        sku: card.sku.clone(),
    });
    let action = Action::TryOn {
        sku: card.sku.clone(),
    };
    session.last = Some(card);
    Outcome {
        actions: vec![action],
        ..Outcome::say(reply)
    }
}

/// Asks staff to bring a product in her size, after checking live stock.
async fn fetch(
    dialogue: &Dialogue,
    session: &mut Session,
    card: ProductCard,
    said_size: Option<String>,
) -> Result<Outcome, ToolError> {
    let product = dialogue.catalog.product(&card.sku).await?;
    session.facts.add_product(&product);
    let one_size = product.sizes.len() == 1;
    let size = said_size
        .or_else(|| session.known_size(&product.category))
        .or_else(|| one_size.then(|| product.sizes[0].size.clone()));
    session.last = Some(card.clone());
    let Some(size) = size else {
        session.offer = Some(Offer::Fetch { sku: card.sku });
        return Ok(Outcome::say(format!(
            "Which size shall I bring? The {} is in stock in {}.",
            product.title,
            list(&product.sizes_in_stock())
        )));
    };
    let stock = product.stock_of(&size);
    if stock == 0 {
        session.offer = Some(Offer::Fetch { sku: card.sku });
        let sizes = product.sizes_in_stock();
        return Ok(Outcome::say(if sizes.is_empty() {
            format!("I'm sorry, the {} is sold out.", product.title)
        } else {
            format!(
                "I'm sorry, the {} is sold out in {size}. It's in stock in {}. Which size \
                 shall I bring?",
                product.title,
                list(&sizes)
            )
        }));
    }
    session.offer = None;
    Ok(Outcome {
        actions: vec![Action::Fetch {
            sku: product.sku.clone(),
            size: Some(size.clone()),
        }],
        ..Outcome::say(format!(
            "I've asked a colleague to bring the {} in size {size} to a fitting room. \
             They'll let you know when it's ready.",
            product.title
        ))
    })
}

/// Catalogue search from the slots.
async fn find(
    dialogue: &Dialogue,
    session: &mut Session,
    slots: &Slots,
) -> Result<Outcome, ToolError> {
    let referenced = slots
        .reference
        .as_ref()
        .and_then(|r| session.resolve(Some(r)));
    // "that sweater in olive": the kind of the product pointed at, even when it is no
    // longer on screen.
    let described_category = match &slots.reference {
        Some(Reference::Described { category, .. }) => category.clone(),
        _ => None,
    };
    let category = slots
        .category
        .clone()
        .or_else(|| referenced.as_ref().map(|c| c.category.clone()))
        .or(described_category);
    let said_size = slots.size.clone();
    let known_size = category.as_deref().and_then(|c| session.known_size(c));
    let mut request = SearchRequest {
        query: search_query(slots, category.as_deref()),
        filters: SearchFilters {
            category: category.clone(),
            colour: slots.colour.clone(),
            size_in_stock: said_size.clone().or(known_size.clone()),
            min_price_cents: slots.min_price_cents,
            max_price_cents: slots.max_price_cents,
            store: None,
        },
        limit: CARDS,
    };
    let mut hits = dialogue.catalog.search(&request).await?.hits;
    if hits.is_empty() && said_size.is_none() && known_size.is_some() {
        // Her recorded size may be out of date; she did not ask for it this time.
        request.filters.size_in_stock = None;
        hits = dialogue.catalog.search(&request).await?.hits;
    }
    if hits.is_empty() {
        let wanted = describe_wanted(slots, category.as_deref(), 2);
        return Ok(Outcome::say(format!(
            "I'm sorry, I couldn't find {wanted} in stock right now. Would you like to try \
             another colour or style?"
        )));
    }
    let cards: Vec<ProductCard> = hits
        .iter()
        .enumerate()
        .map(|(i, hit)| card(&hit.product, i, None))
        .collect();
    for hit in &hits {
        session.facts.add_product(&hit.product);
    }
    session.last = None;
    let count = match cards.len() {
        1 => "one".to_owned(),
        n => n.to_string(),
    };
    let composed = format!(
        "I found {count} {} for you. {}",
        describe_wanted(slots, category.as_deref(), cards.len()),
        cards_sentence(&cards)
    );
    Ok(Outcome {
        tool: Some("search"),
        model_facts: Some(facts_text(&cards)),
        cards,
        ..Outcome::say(composed)
    })
}

/// The text the catalogue embeds: the named attributes, which keep filler words and
/// references ("like this one but") out of the similarity search.
fn search_query(slots: &Slots, category: Option<&str>) -> String {
    let parts: Vec<&str> = [
        slots.colour.as_deref(),
        slots.pattern.as_deref(),
        slots.material.as_deref(),
        category,
        slots.occasion.as_deref().map(|o| match o {
            "work" => "for work",
            "wedding" => "for a wedding",
            "party" => "for a party",
            "interview" => "for an interview",
            "winter" => "warm for winter",
            "summer" => "light for summer",
            other => other,
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        "clothes".into()
    } else {
        parts.join(" ")
    }
}

/// What she asked for, by the hard filters only ("navy shirts in size M"); material,
/// pattern and occasion only rank the results, so a reply must not promise them.
fn describe_wanted(slots: &Slots, category: Option<&str>, count: usize) -> String {
    let mut words = Vec::new();
    if let Some(colour) = &slots.colour {
        words.push(colour.clone());
    }
    words.push(match category {
        Some(category) if count == 1 => category.to_owned(),
        Some(category) => plural(category),
        None if count == 1 => "piece".into(),
        None => "pieces".into(),
    });
    match slots.size.as_deref() {
        Some("one size") => words.push("in one size".into()),
        Some(size) => words.push(format!("in size {size}")),
        None => {}
    }
    words.join(" ")
}

/// "Products that go with" a garment: hers, a shown one, or one she describes.
async fn goes_with(
    dialogue: &Dialogue,
    session: &mut Session,
    slots: &Slots,
) -> Result<Outcome, ToolError> {
    let (sku, description, anchor_words) = anchor(session, slots);
    if sku.is_none() && description.is_none() {
        return Ok(Outcome::say(
            "What would you like it to go with? Tell me which piece you have in mind.",
        ));
    }
    let size = slots.size.clone().or_else(|| {
        slots
            .category
            .as_deref()
            .and_then(|c| session.known_size(c))
    });
    let request = GoesWithRequest {
        sku,
        description,
        size_in_stock: size,
        category: slots.category.clone(),
        customer_id: session.customer.as_ref().map(|c| c.id.clone()),
        limit: CARDS,
    };
    let answer = dialogue.catalog.goes_with(&request).await?;
    if answer.suggestions.is_empty() {
        return Ok(Outcome::say(format!(
            "I'm sorry, I couldn't find anything in stock to go with {anchor_words} right now."
        )));
    }
    let cards: Vec<ProductCard> = answer
        .suggestions
        .iter()
        .enumerate()
        .map(|(i, s)| card(&s.product, i, Some(s.explanation.clone())))
        .collect();
    for suggestion in &answer.suggestions {
        session.facts.add_product(&suggestion.product);
    }
    session.last = None;
    let wanted = slots
        .category
        .as_deref()
        .map_or_else(|| "pieces".to_owned(), plural);
    let why = cards
        .first()
        .and_then(|c| c.why.clone())
        .map(|why| format!(" {}.", capitalise(why.trim_end_matches('.'))))
        .unwrap_or_default();
    let composed = format!(
        "Here are {} {wanted} to go with {anchor_words}. {}{why}",
        cards.len(),
        cards_sentence(&cards)
    );
    let mut facts = facts_text(&cards);
    facts.push_str(&format!("(they go with {anchor_words})\n"));
    Ok(Outcome {
        tool: Some("goes_with"),
        model_facts: Some(facts),
        cards,
        ..Outcome::say(composed)
    })
}

/// The garment to pair with: (SKU, description, how to name it in the reply).
fn anchor(session: &Session, slots: &Slots) -> (Option<String>, Option<String>, String) {
    let Some(said) = slots.anchor.as_deref() else {
        return match session.resolve(slots.reference.as_ref()) {
            Some(card) => (Some(card.sku.clone()), None, format!("the {}", card.title)),
            None => (None, None, String::new()),
        };
    };
    let terms = garment_terms(said);
    let lower = said.to_lowercase();
    let pointing = ["this", "that", "these", "those", "it"]
        .iter()
        .any(|w| lower.split_whitespace().any(|word| word == *w));
    // A shown product of that kind ("that sweater" after seeing sweaters).
    if pointing || slots.reference.is_some() {
        let reference = Reference::Described {
            category: terms.category.clone(),
            colour: terms.colours.first().cloned(),
        };
        if let Some(card) = session.resolve(Some(&reference)) {
            return (Some(card.sku.clone()), None, format!("the {}", card.title));
        }
    }
    // Something she bought ("my pink sweater", or "that sweater" when she bought one).
    if let Some(customer) = &session.customer {
        let bought = customer.purchases.iter().rev().find(|p| {
            terms.category.as_ref().is_some_and(|c| &p.category == c)
                && terms.colours.iter().all(|c| p.colours.contains(c))
        });
        if let Some(purchase) = bought {
            let colour = purchase
                .colours
                .first()
                .map(|c| format!("{c} "))
                .unwrap_or_default();
            return (
                Some(purchase.sku.clone()),
                None,
                format!("your {colour}{}", purchase.category),
            );
        }
    }
    let description = {
        let mut words: Vec<String> = terms.colours.clone();
        words.extend(terms.category.clone());
        words.join(" ")
    };
    if terms.category.is_none() {
        return (None, None, String::new());
    }
    let named = format!("your {description}");
    (None, Some(description), named)
}

/// Answers a question about a shown product from its live record.
async fn question(
    dialogue: &Dialogue,
    session: &mut Session,
    slots: &Slots,
) -> Result<Outcome, ToolError> {
    let Some(card) = session.resolve(slots.reference.as_ref()) else {
        return Ok(which_one(session));
    };
    let product = dialogue.catalog.product(&card.sku).await?;
    session.facts.add_product(&product);
    session.last = Some(card);
    let attribute = slots.attribute.unwrap_or(if slots.size.is_some() {
        ProductAttribute::Sizes
    } else {
        ProductAttribute::Price
    });
    let title = &product.title;
    let reply = match attribute {
        ProductAttribute::Price => format!("The {title} is {}.", price(&product)),
        ProductAttribute::Sizes => match &slots.size {
            Some(size) => {
                let stock = product.stock_of(size);
                if stock > 0 {
                    session.offer = Some(Offer::Fetch {
                        sku: product.sku.clone(),
                    });
                    format!(
                        "Yes, the {title} is in stock in {size}: {stock} left. Shall I have one \
                         brought to a fitting room?"
                    )
                } else {
                    let sizes = product.sizes_in_stock();
                    if sizes.is_empty() {
                        format!("I'm sorry, the {title} is sold out.")
                    } else {
                        format!(
                            "I'm sorry, the {title} is sold out in {size}. It's in stock in {}.",
                            list(&sizes)
                        )
                    }
                }
            }
            None => {
                let sizes = product.sizes_in_stock();
                if sizes.is_empty() {
                    format!("I'm sorry, the {title} is sold out.")
                } else {
                    format!("The {title} is in stock in {}.", list(&sizes))
                }
            }
        },
        ProductAttribute::Material => match &product.material {
            Some(material) => format!("The {title} is made of {material}."),
            None => format!("I'm sorry, the material of the {title} isn't listed."),
        },
        ProductAttribute::Care => care(&product),
        ProductAttribute::Colours => {
            format!("The {title} comes in {}.", list(&product.colours))
        }
    };
    Ok(Outcome::say(reply))
}

/// General care advice for the product's material; the catalogue has no care labels,
/// so the reply says it is general advice and points to the label.
fn care(product: &Product) -> String {
    let material = product.material.as_deref().unwrap_or("");
    let advice = if ["wool", "cashmere", "merino", "alpaca"]
        .iter()
        .any(|m| material.contains(m))
    {
        "hand wash it cold or dry clean it, and dry it flat"
    } else if ["silk", "satin", "chiffon", "viscose"]
        .iter()
        .any(|m| material.contains(m))
    {
        "hand wash it cold or dry clean it"
    } else if ["leather", "suede"].iter().any(|m| material.contains(m)) {
        "keep it dry and use a leather or suede cleaner"
    } else {
        "machine wash it at 30 degrees"
    };
    format!(
        "As a general rule for {}, {advice}. The care label on the {} has the details.",
        if material.is_empty() {
            "this fabric"
        } else {
            material
        },
        product.title
    )
}

/// A product as a card at a position (0-based index).
pub fn card(product: &Product, index: usize, why: Option<String>) -> ProductCard {
    ProductCard {
        position: u32::try_from(index + 1).unwrap_or(u32::MAX),
        sku: product.sku.clone(),
        title: product.title.clone(),
        category: product.category.clone(),
        colours: product.colours.clone(),
        price_cents: product.price_cents,
        currency: product.currency.clone(),
        sizes_in_stock: product.sizes_in_stock(),
        image_url: product.image_url.clone(),
        why,
    }
}

/// The facts the model may use, one product per line.
fn facts_text(cards: &[ProductCard]) -> String {
    let mut text = String::new();
    for card in cards {
        text.push_str(&format!(
            "{}. {} ({}), {}, sizes in stock: {}\n",
            card.position,
            card.title,
            card.colours.join(" and "),
            money(card.price_cents, &card.currency),
            card.sizes_in_stock.join(", ")
        ));
    }
    text
}

/// "The first is the X at 39.95 euros, the second the Y at 45 euros."
fn cards_sentence(cards: &[ProductCard]) -> String {
    const ORDINALS: [&str; 5] = ["first", "second", "third", "fourth", "fifth"];
    if let [only] = cards {
        return format!(
            "It's the {} at {}.",
            only.title,
            money(only.price_cents, &only.currency)
        );
    }
    let parts: Vec<String> = cards
        .iter()
        .zip(ORDINALS)
        .enumerate()
        .map(|(i, (card, ordinal))| {
            let verb = if i == 0 { "is " } else { "" };
            format!(
                "the {ordinal} {verb}the {} at {}",
                card.title,
                money(card.price_cents, &card.currency)
            )
        })
        .collect();
    capitalise(&format!("{}.", parts.join(", ")))
}

/// A price as spoken and shown: "39.95 euros", "40 euros".
pub fn money(cents: u64, currency: &str) -> String {
    let unit = match currency {
        "EUR" => "euros",
        "GBP" => "pounds",
        "USD" => "dollars",
        other => other,
    };
    if cents.is_multiple_of(100) {
        format!("{} {unit}", cents / 100)
    } else {
        format!("{}.{:02} {unit}", cents / 100, cents % 100)
    }
}

fn price(product: &Product) -> String {
    money(product.price_cents, &product.currency)
}

/// "S, M and L".
fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The greeting at the start of a session: by name and last purchase when she is
/// recognised, a plain welcome otherwise.
pub fn greeting(session: &Session, now_unix: u64) -> String {
    let Some(customer) = &session.customer else {
        return "Hello and welcome! I can help you find clothes, check sizes in stock and \
                show you how things look in the mirror. What are you looking for today?"
            .into();
    };
    let name = session.first_name().unwrap_or(&customer.name);
    match customer.purchases.iter().max_by_key(|p| p.at_unix) {
        Some(purchase) => {
            let colour = purchase
                .colours
                .first()
                .map(|c| format!("{c} "))
                .unwrap_or_default();
            format!(
                "Welcome back, {name}. Did you like the {colour}{} you bought {}?",
                purchase.category,
                when(purchase.at_unix, now_unix)
            )
        }
        None => format!("Welcome back, {name}. What are you looking for today?"),
    }
}

/// "today", "yesterday", "last week", "last month", "a while ago".
fn when(at_unix: u64, now_unix: u64) -> &'static str {
    const DAY: u64 = 86_400;
    match now_unix.saturating_sub(at_unix) / DAY {
        0 => "today",
        1 => "yesterday",
        2..=6 => "this week",
        7..=13 => "last week",
        14..=31 => "recently",
        32..=62 => "last month",
        _ => "a while ago",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_at_ends_but_not_inside_prices() {
        assert_eq!(
            split_sentences("It is 39.95 euros. Shall I bring it? Yes!"),
            vec!["It is 39.95 euros.", "Shall I bring it?", "Yes!"]
        );
        let mut pending = "Here are three shirts".to_owned();
        assert_eq!(next_sentence(&mut pending, false), None);
        assert_eq!(
            next_sentence(&mut pending, true).as_deref(),
            Some("Here are three shirts")
        );
    }

    #[test]
    fn money_and_lists_read_as_spoken() {
        assert_eq!(money(3995, "EUR"), "39.95 euros");
        assert_eq!(money(4000, "EUR"), "40 euros");
        assert_eq!(list(&["S".into(), "M".into(), "L".into()]), "S, M and L");
        assert_eq!(plural("dress"), "dresses");
        assert_eq!(when(0, 9 * 86_400), "last week");
    }
}
