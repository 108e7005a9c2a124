//! The `tryon` binary: config, telemetry, listen, serve until SIGTERM or Ctrl-C.

use anyhow::Context;
use protocol::Service;
use service_kit::config::Config;
use service_kit::server::shutdown_signal;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load()?;
    service_kit::telemetry::init(&config.telemetry, Service::Tryon.name())?;
    let address = config.listen_addr(Service::Tryon);
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .with_context(|| format!("listening on {address}"))?;
    tryon::run(listener, config, shutdown_signal()).await?;
    Ok(())
}
