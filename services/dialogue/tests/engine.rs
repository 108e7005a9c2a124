//! The llama.cpp engine on the real model: the prompt cache changes nothing but speed,
//! a full queue is refused at once, and a dropped stream stops the generation.
#![allow(clippy::unwrap_used, reason = "tests")]

mod common;

use dialogue::llm::{
    GenEvent, Generation, LanguageModel, LlmError, LocalModel, LocalModelSettings,
};
use protocol::dialogue::{ChatMessage, Role};

fn load(warm: bool, queue: usize) -> LocalModel {
    let path = models::verify_installed(&common::models_dir(), "smollm2-135m-instruct-q4_1")
        .unwrap()
        .remove(0);
    LocalModel::load(LocalModelSettings {
        path,
        name: "smollm2".into(),
        threads: 2,
        context_tokens: 2048,
        queue,
        warm_prefixes: if warm {
            vec![vec![dialogue::turn::reply_system_prompt()]]
        } else {
            Vec::new()
        },
    })
    .unwrap()
}

fn request(text: &str) -> Generation {
    Generation::greedy(
        vec![
            dialogue::turn::reply_system_prompt(),
            ChatMessage::new(Role::User, text),
        ],
        24,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prompt_cache_gives_the_same_answer_faster() {
    let (cached, fresh) = tokio::task::spawn_blocking(|| (load(true, 4), load(false, 4)))
        .await
        .unwrap();
    let (cached, fresh) = (LanguageModel::Local(cached), LanguageModel::Local(fresh));
    for text in [
        "Do you have navy shirts?",
        "Hello!",
        "Do you have navy shirts?",
    ] {
        let (a, summary) = cached.complete(request(text)).await.unwrap();
        let (b, _) = fresh.complete(request(text)).await.unwrap();
        assert_eq!(a, b, "greedy output must not depend on the cache");
        assert!(!a.is_empty());
        // The system prompt (and, on the repeat, the whole conversation) came from cache.
        assert!(summary.cached_tokens > 30, "{summary:?}");
        assert!(summary.usage.completion_tokens > 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_is_refused_and_a_dropped_stream_stops_generating() {
    let model = tokio::task::spawn_blocking(|| load(false, 1))
        .await
        .unwrap();
    let mut long = request("Tell me a very long story about shoes.");
    long.max_tokens = 400;
    // The worker takes one, the queue holds one, the rest are refused.
    let mut results = Vec::new();
    for _ in 0..4 {
        results.push(model.generate(long.clone()));
    }
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(LlmError::Busy(1))))
        .count();
    assert!(refused >= 2, "{refused} refused");
    // Dropping every stream cancels the work: the running generation stops at its next
    // token and the queued one is skipped.
    drop(results);
    let mut events = loop {
        match model.generate(request("Hi")) {
            Ok(events) => break events,
            Err(LlmError::Busy(_)) => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await
            }
            Err(e) => panic!("{e}"),
        }
    };
    let mut answered = 0;
    while let Some(event) = events.recv().await {
        if let GenEvent::Done(summary) = event {
            answered = summary.usage.completion_tokens;
        }
    }
    assert!(answered > 0);
    let cancelled = model.tokens_generated() - u64::from(answered);
    assert!(
        cancelled < 50,
        "the cancelled generations wrote {cancelled} tokens (of 800 asked)"
    );
}
