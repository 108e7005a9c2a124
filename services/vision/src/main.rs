//! The `vision` binary: config, telemetry, listen, serve until SIGTERM or Ctrl-C.

use anyhow::Context;
use protocol::Service;
use service_kit::config::Config;
use service_kit::server::shutdown_signal;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load()?;
    service_kit::telemetry::init(&config.telemetry, Service::Vision.name())?;
    let address = config.listen_addr(Service::Vision);
    let listener = tokio::net::TcpListener::bind(&address)
        .await
        .with_context(|| format!("listening on {address}"))?;
    vision::run(listener, config, shutdown_signal()).await?;
    Ok(())
}
