//! Catalogue ingestion through the admin API and the `catalog ingest` CLI: bad rows
//! reported with line numbers, good rows loaded, re-ingestion an upsert.
#![allow(clippy::unwrap_used, reason = "tests: a failure is the test failing")]

mod common;

use std::path::PathBuf;

use common::{Key, call, call_raw};
use serde_json::json;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/ingest")
        .join(name)
}

async fn category_count(category: &str) -> usize {
    let (status, body) = call(
        "POST",
        "/v1/products/search",
        Key::None,
        Some(json!({"query": "", "filters": {"category": category}, "limit": 50})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["hits"].as_array().unwrap().len()
}

/// A shop manager's CSV with mistakes: every bad row is named with its line and what is
/// wrong, every good row is searchable, and sending the file again changes nothing.
#[tokio::test]
async fn a_csv_with_bad_rows_loads_the_good_ones_and_reports_the_rest() {
    let csv = std::fs::read(data("mixed.csv")).unwrap();
    let dresses_before = category_count("dress").await;
    let (status, report) = call_raw(
        "POST",
        "/v1/admin/ingest",
        Key::Admin,
        "text/csv",
        csv.clone(),
    )
    .await;
    assert_eq!(status, 200, "{report}");
    let lines: Vec<u64> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [5, 6, 8, 9, 10, 12, 14, 15], "{report}");
    for rejected in report["rejected"].as_array().unwrap() {
        assert!(!rejected["reason"].as_str().unwrap().is_empty());
    }
    let price_row = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["line"] == 5)
        .unwrap();
    assert!(
        price_row["reason"].as_str().unwrap().contains("price"),
        "{price_row}"
    );
    let loaded = report["loaded"].as_u64().unwrap();
    assert_eq!(loaded, report["rows"].as_u64().unwrap() - 8);

    // The good wrap dress is in the catalogue now; the malformed SKU is not.
    let (status, body) = call("GET", "/v1/products/DRS-3001-GRN", Key::None, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["description"].as_str().unwrap().lines().count(), 3);
    assert_eq!(category_count("dress").await, dresses_before + 1);

    // Again: an upsert, with every embedding reused because no text changed.
    let (status, again) = call_raw("POST", "/v1/admin/ingest", Key::Admin, "text/csv", csv).await;
    assert_eq!(status, 200);
    assert_eq!(again["loaded"], loaded);
    assert_eq!(again["unchanged_embeddings"], loaded);
    assert_eq!(category_count("dress").await, dresses_before + 1);
}

#[tokio::test]
async fn a_json_catalogue_reports_its_bad_elements_by_line() {
    let json = std::fs::read(data("bad_element.json")).unwrap();
    let (status, report) = call_raw(
        "POST",
        "/v1/admin/ingest",
        Key::Admin,
        "application/json",
        json,
    )
    .await;
    assert_eq!(status, 200, "{report}");
    let lines: Vec<u64> = report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [23, 43, 66, 116], "{report}");
    assert!(report["loaded"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn unusable_uploads_get_clear_errors() {
    let cases: [(&str, Key, &[u8], u16, &str); 5] = [
        (
            "text/csv",
            Key::Service,
            b"sku,title\n",
            401,
            "unauthorized",
        ),
        (
            "application/xml",
            Key::Admin,
            b"<products/>",
            415,
            "unsupported_media_type",
        ),
        (
            "application/json",
            Key::Admin,
            b"[{\"sku\": ",
            400,
            "invalid_file",
        ),
        (
            "application/json",
            Key::Admin,
            b"{\"sku\": \"A\"}",
            400,
            "invalid_file",
        ),
        (
            "text/csv",
            Key::Admin,
            b"sku,title\nA,B\n",
            400,
            "invalid_file",
        ),
    ];
    for (content_type, key, body, status, code) in cases {
        let (got, answer) =
            call_raw("POST", "/v1/admin/ingest", key, content_type, body.to_vec()).await;
        assert_eq!(got, status, "{content_type}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{answer}");
    }
    // Announced bigger than the body limit (32 MiB by default): refused from the
    // headers, before the body is read (so a raw request: the server closes the
    // connection instead of reading the rest, which an HTTP client reports as an
    // error).
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = common::catalog().trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let head = format!(
        "POST /v1/admin/ingest HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {}\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n\r\n",
        common::ADMIN_KEY,
        33 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = stream.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("body_too_large"), "{answer}");
}

/// The CLI a store manager runs: lists bad rows with line numbers, exits 1 when any
/// row was refused, 0 when all loaded.
#[tokio::test]
async fn the_ingest_cli_reports_rows_and_exit_status() {
    let url = common::catalog().to_owned();
    let run = |file: PathBuf| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_catalog"))
                .arg("ingest")
                .arg(file)
                .arg("--url")
                .arg(url)
                .env("SHOP_CATALOG__ADMIN_KEY", common::ADMIN_KEY)
                .output()
                .unwrap()
        })
    };
    let good = run(data("good.csv")).await.unwrap();
    let stdout = String::from_utf8_lossy(&good.stdout);
    assert!(
        good.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&good.stderr)
    );
    assert!(stdout.contains("0 rejected"), "{stdout}");

    let mixed = run(data("mixed.csv")).await.unwrap();
    let stdout = String::from_utf8_lossy(&mixed.stdout);
    assert_eq!(mixed.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("line 5:"), "{stdout}");
    assert!(stdout.contains("8 rejected"), "{stdout}");

    let missing_key = std::process::Command::new(env!("CARGO_BIN_EXE_catalog"))
        .args(["ingest", "whatever.csv", "--url", &url])
        .env_remove("SHOP_CATALOG__ADMIN_KEY")
        .output()
        .unwrap();
    assert!(!missing_key.status.success());
}
