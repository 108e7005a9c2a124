//! Acknowledged writes survive `kill -9`: the real `catalog` binary is killed while a
//! client is loading products, restarted on the same data folder, and every product
//! whose upload was acknowledged must be there.
#![allow(clippy::unwrap_used, reason = "tests: a failure is the test failing")]

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(data_dir: &std::path::Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_catalog"))
        .env("SHOP_MODELS_DIR", common::models_dir())
        .env("SHOP_DATA_DIR", data_dir)
        .env("SHOP_CATALOG__PORT", port.to_string())
        .env("SHOP_CATALOG__ADMIN_KEY", common::ADMIN_KEY)
        .env("SHOP_CATALOG__SERVICE_TOKEN", common::SERVICE_TOKEN)
        .env("SHOP_TELEMETRY__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn acknowledged_products_survive_kill_9_during_ingestion() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut child = start(dir.path(), port);
    common::wait_ready(&url).await;

    let products = catalog::fixtures::scaled_catalogue(3000);
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let uploader = {
        let acknowledged = Arc::clone(&acknowledged);
        let url = url.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            for batch in products.chunks(25) {
                let sent = client
                    .post(format!("{url}/v1/admin/ingest?optimize=false"))
                    .bearer_auth(common::ADMIN_KEY)
                    .json(batch)
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => acknowledged
                        .lock()
                        .unwrap()
                        .extend(batch.iter().map(|p| p.sku.clone())),
                    // The process died under us: this batch was never acknowledged.
                    _ => return,
                }
            }
        })
    };
    // Kill once a good number of batches are in, with an upload in flight.
    for _ in 0..600 {
        if acknowledged.lock().unwrap().len() >= 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    uploader.await.unwrap();
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 200,
        "only {} acknowledged",
        acknowledged.len()
    );
    assert!(
        acknowledged.len() < 3000,
        "the kill came after the whole upload"
    );

    let mut child = start(dir.path(), port);
    common::wait_ready(&url).await;
    let client = reqwest::Client::new();
    let mut missing = Vec::new();
    for sku in &acknowledged {
        let r = client
            .get(format!("{url}/v1/products/{sku}"))
            .send()
            .await
            .unwrap();
        if r.status() != 200 {
            missing.push(sku.clone());
        }
    }
    // The store still takes writes after the crash.
    let r = client
        .patch(format!("{url}/v1/inventory/{}", acknowledged[0]))
        .bearer_auth(common::SERVICE_TOKEN)
        .json(&serde_json::json!({"changes": [{"size": "M", "set": 5}]}))
        .send()
        .await
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged products lost after kill -9: {:?}",
        missing.len(),
        acknowledged.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(
        r.status().is_success() || r.status() == 400,
        "{}",
        r.status()
    );
}
