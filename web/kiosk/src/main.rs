//! The `kiosk` binary: load and validate config, set up telemetry, bind, serve until
//! SIGTERM or Ctrl-C. Everything else lives in the library so tests run it in-process.

use anyhow::Context;
use protocol::Service;
use service_kit::config::Config;
use service_kit::server::shutdown_signal;
use service_kit::telemetry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `load` validates too; its message names the field (e.g. `kiosk.port`) and where
    // the value came from. A bad setting is the operator's to fix, not a bug: say it
    // in one line, without the backtrace an `Err` from main would carry, and exit 2.
    let config = match Config::load() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("kiosk: invalid configuration: {e}");
            std::process::exit(2);
        }
    };
    telemetry::init(&config.telemetry, Service::Kiosk.name())?;
    let addr = config.listen_addr(Service::Kiosk);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (kiosk.host, kiosk.port)"))?;
    kiosk::run(listener, config, shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}
