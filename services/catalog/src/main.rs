//! The `catalog` binary: serve the catalog (default), or load a catalogue file into a
//! running catalog through its admin API.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use catalog::ingest::{self, Format, Limits};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use protocol::Service;
use protocol::catalog::IngestReport;
use service_kit::config::Config;
use service_kit::server::shutdown_signal;

/// Products, live inventory and consenting customers.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// What to do; serving when omitted.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the catalog API (config from $SHOP_CONFIG and SHOP_* variables).
    Serve,
    /// Load a catalogue file (.json or .csv) into a running catalog: bad rows are
    /// listed with their line numbers, good rows are inserted or updated.
    Ingest {
        /// The catalogue file.
        file: PathBuf,
        /// Base URL of the catalog; from the config when omitted.
        #[arg(long)]
        url: Option<String>,
        /// Admin key; from SHOP_CATALOG__ADMIN_KEY when omitted.
        #[arg(long, env = "SHOP_CATALOG__ADMIN_KEY", hide_env_values = true)]
        admin_key: String,
        /// Products sent per request.
        #[arg(long, default_value_t = 256)]
        batch: usize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve().await.map(|()| ExitCode::SUCCESS),
        Command::Ingest {
            file,
            url,
            admin_key,
            batch,
        } => ingest_file(file, url, &admin_key, batch).await,
    }
}

async fn serve() -> anyhow::Result<()> {
    let config = Config::load()?;
    service_kit::telemetry::init(&config.telemetry, Service::Catalog.name())?;
    let address = config.listen_addr(Service::Catalog);
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .with_context(|| format!("listening on {address}"))?;
    catalog::run(listener, config, shutdown_signal()).await?;
    Ok(())
}

/// Validates the file locally (so every bad row is listed before anything is sent),
/// then sends the good rows in batches with a progress bar. Exit code 1 when any row
/// was rejected, so scripts notice.
async fn ingest_file(
    file: PathBuf,
    url: Option<String>,
    admin_key: &str,
    batch: usize,
) -> anyhow::Result<ExitCode> {
    let format = Format::from_path(&file)
        .with_context(|| format!("{}: name the file .json or .csv", file.display()))?;
    let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
    let parsed = ingest::parse(&bytes, format, &Limits::default())
        .with_context(|| format!("{}", file.display()))?;
    let base = match url {
        Some(url) => url,
        None => Config::load()?.url_of(Service::Catalog),
    };
    let endpoint = format!("{}/v1/admin/ingest", base.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    let bar = ProgressBar::new(parsed.products.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} products {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut loaded = 0;
    let chunks: Vec<_> = parsed.products.chunks(batch.max(1)).collect();
    for (n, chunk) in chunks.iter().enumerate() {
        let body = serde_json::to_vec(chunk)?;
        // Build the search index once, after the last batch.
        let last = n + 1 == chunks.len();
        let response = client
            .post(&endpoint)
            .query(&[("optimize", last)])
            .bearer_auth(admin_key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .with_context(|| format!("sending to {endpoint}"))?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            bar.abandon();
            bail!("{endpoint} answered {status}: {text}");
        }
        let report: IngestReport = response.json().await?;
        loaded += report.loaded;
        bar.inc(chunk.len() as u64);
    }
    bar.finish();
    println!(
        "{}: {} rows, {loaded} products loaded, {} rejected",
        file.display(),
        parsed.rows,
        parsed.errors.len()
    );
    for error in &parsed.errors {
        let sku = error.sku.as_deref().unwrap_or("-");
        println!("  line {}: {sku}: {}", error.line, error.reason);
    }
    Ok(if parsed.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
