//! `launcher`: runs the whole assistant on one machine, one process per service.
//!
//! ```text
//! launcher [--bin-dir DIR] [--only kiosk,voice] [--port voice=9001]...
//!          [--ready-timeout 120s] [--env-file FILE]...
//! ```

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use launcher::{
    BackoffPolicy, LogLine, LogSink, ReadyOptions, ServiceSpec, Stream, Supervisor, binary_path,
    format_line, port_env_var, resolve_port, wait_ready,
};
use protocol::Service;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// How long a service gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(10);

/// Starts every built service on loopback, waits until each is ready, restarts the
/// ones that crash, and stops them all on Ctrl-C or SIGTERM.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Where the service binaries are [default: the directory of this executable].
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,

    /// Start only these services (comma-separated), e.g. `kiosk,voice`.
    #[arg(long, value_delimiter = ',', value_name = "SERVICES")]
    only: Vec<Service>,

    /// Override a service's port, e.g. `voice=9001`; repeatable. A
    /// `SHOP_<SERVICE>__PORT` environment variable takes precedence.
    #[arg(long = "port", value_name = "SERVICE=PORT", value_parser = parse_port_flag)]
    ports: Vec<(Service, u16)>,

    /// How long to wait for each service's /readyz, e.g. `120s`, `2m`, `500ms`.
    #[arg(long, value_name = "DURATION", default_value = "120s", value_parser = parse_duration)]
    ready_timeout: Duration,

    /// KEY=VALUE lines handed to every service; repeatable, later files win, and the
    /// launcher's own environment wins over all of them.
    #[arg(long, value_name = "FILE")]
    env_file: Vec<PathBuf>,
}

fn parse_port_flag(s: &str) -> Result<(Service, u16), String> {
    let (name, port) = s
        .split_once('=')
        .ok_or_else(|| format!("expected SERVICE=PORT, got {s:?}"))?;
    let service = name.trim().parse::<Service>()?;
    match port.trim().parse::<u16>() {
        Ok(port) if port != 0 => Ok((service, port)),
        _ => Err(format!("{port:?} is not a port number (1-65535)")),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("expected a duration like 120s, 2m or 500ms, got {s:?}"))?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        _ => return Err(format!("unknown unit {unit:?} in {s:?}; use ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string())
}

/// Reads env files in order; later files override earlier ones.
fn read_env_files(paths: &[PathBuf]) -> Result<HashMap<String, String>> {
    let mut vars = HashMap::new();
    for path in paths {
        let iter = dotenvy::from_path_iter(path)
            .with_context(|| format!("cannot read env file {}", path.display()))?;
        for item in iter {
            let (key, value) =
                item.with_context(|| format!("bad line in env file {}", path.display()))?;
            vars.insert(key, value);
        }
    }
    Ok(vars)
}

fn default_bin_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find the launcher's own executable")?;
    Ok(exe
        .parent()
        .context("the launcher's executable has no parent directory")?
        .to_path_buf())
}

/// Prints child stdout to stdout and everything else to stderr, each coloured only
/// when that stream is a terminal.
fn printing_sink() -> LogSink {
    let colour_out = std::io::stdout().is_terminal();
    let colour_err = std::io::stderr().is_terminal();
    Arc::new(move |line: LogLine| {
        // Write errors (a closed pipe) are ignored: losing a log line must not take
        // the supervisor down.
        if line.stream == Stream::Stdout {
            let _ = writeln!(
                std::io::stdout().lock(),
                "{}",
                format_line(&line, colour_out)
            );
        } else {
            let _ = writeln!(
                std::io::stderr().lock(),
                "{}",
                format_line(&line, colour_err)
            );
        }
    })
}

/// Ctrl-C and SIGTERM, listened for from the very start so that neither is lost
/// between two waits.
struct StopSignals {
    interrupt: Signal,
    terminate: Signal,
}

impl StopSignals {
    fn listen() -> Result<Self> {
        Ok(StopSignals {
            interrupt: signal(SignalKind::interrupt()).context("cannot listen for Ctrl-C")?,
            terminate: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
        })
    }

    async fn wait(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}

#[tokio::main]
async fn main() -> Result<ExitCode> {
    let args = Args::parse();
    let mut stop = StopSignals::listen()?;
    let bin_dir = match &args.bin_dir {
        Some(dir) => dir.clone(),
        None => default_bin_dir()?,
    };
    let file_env = read_env_files(&args.env_file)?;
    // The launcher's own environment wins over env files, as with dotenv.
    let lookup = |var: &str| {
        std::env::var(var)
            .ok()
            .or_else(|| file_env.get(var).cloned())
    };
    let flags: BTreeMap<Service, u16> = args.ports.iter().copied().collect();

    // Every service's port goes to every child, so each can find the others.
    let mut ports = BTreeMap::new();
    for service in Service::ALL {
        let port = resolve_port(service, lookup, &flags)?;
        if let Some(flag) = flags.get(&service).filter(|&&flag| flag != port) {
            eprintln!(
                "launcher: --port {service}={flag} ignored: {} sets {port}",
                port_env_var(service)
            );
        }
        ports.insert(service, port);
    }
    let mut child_env: Vec<(OsString, OsString)> = file_env
        .iter()
        .filter(|(key, _)| std::env::var_os(key).is_none())
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    child_env.extend(
        ports
            .iter()
            .map(|(&service, port)| (port_env_var(service).into(), port.to_string().into())),
    );

    let wanted: Vec<Service> = Service::ALL
        .into_iter()
        .filter(|s| args.only.is_empty() || args.only.contains(s))
        .collect();
    let mut specs = Vec::new();
    for service in &wanted {
        let program = binary_path(&bin_dir, *service);
        if program.is_file() {
            specs.push((*service, program));
        } else {
            println!("{service}: not built in this checkout, skipped");
        }
    }
    check_distinct_ports(&specs, &ports)?;
    if specs.is_empty() {
        eprintln!(
            "launcher: no service binary found in {}; build them with `cargo build --workspace`",
            bin_dir.display()
        );
        return Ok(ExitCode::FAILURE);
    }

    let mut supervisor = Supervisor::new(BackoffPolicy::default(), GRACE, printing_sink());
    for (service, program) in &specs {
        let spec = ServiceSpec {
            name: service.name().to_string(),
            program: program.clone(),
            args: Vec::new(),
            env: child_env.clone(),
            port: ports[service],
        };
        if let Err(e) = supervisor.start(spec) {
            supervisor.shutdown().await;
            bail!("cannot start {service} ({}): {e}", program.display());
        }
    }

    // All services start at once (model loading runs in parallel) and are awaited in
    // start order; a signal during the wait still shuts down cleanly.
    let options = ReadyOptions {
        timeout: args.ready_timeout,
        ..ReadyOptions::default()
    };
    tokio::select! {
        () = stop.wait() => {}
        () = report_readiness(&specs, &ports, &options, &bin_dir, &child_env) => stop.wait().await,
    }
    eprintln!("launcher: stopping every service (grace {GRACE:?})");
    supervisor.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

fn check_distinct_ports(
    specs: &[(Service, PathBuf)],
    ports: &BTreeMap<Service, u16>,
) -> Result<()> {
    let mut seen: BTreeMap<u16, Service> = BTreeMap::new();
    for (service, _) in specs {
        let port = ports[service];
        if let Some(other) = seen.insert(port, *service) {
            bail!("{other} and {service} would both listen on port {port}");
        }
    }
    Ok(())
}

async fn report_readiness(
    specs: &[(Service, PathBuf)],
    ports: &BTreeMap<Service, u16>,
    options: &ReadyOptions,
    bin_dir: &Path,
    child_env: &[(OsString, OsString)],
) {
    let mut kiosk_ready = false;
    for (service, _) in specs {
        let port = ports[service];
        eprintln!("launcher: waiting for {service} on http://127.0.0.1:{port}/readyz");
        let progress = |waited: Duration, last: &str| {
            eprintln!("launcher: still waiting for {service} after {waited:.0?} ({last})");
        };
        match wait_ready(port, options, progress).await {
            Ok(took) => {
                eprintln!("launcher: {service} ready after {took:.1?}");
                kiosk_ready |= *service == Service::Kiosk;
            }
            // Not fatal: the supervisor keeps restarting it, and the kiosk degrades
            // without it until it comes up.
            Err(e) => eprintln!("launcher: {service} is not ready ({e}); still supervising it"),
        }
    }
    let kiosk = ports[&Service::Kiosk];
    // The pages need the store's tokens; the URLs carry them so the demo opens as is.
    let token = |name: &str| {
        std::env::var_os(name)
            .or_else(|| {
                child_env
                    .iter()
                    .find(|(key, _)| key == name)
                    .map(|(_, value)| value.clone())
            })
            .map(|value| format!("?token={}", value.to_string_lossy()))
            .unwrap_or_default()
    };
    if kiosk_ready {
        println!(
            "launcher: ready, open the kiosk at http://127.0.0.1:{kiosk}/{} \
             (staff queue: http://127.0.0.1:{kiosk}/staff{}, status: http://127.0.0.1:{kiosk}/status; Ctrl-C to stop)",
            token("SHOP_KIOSK__DEVICE_TOKEN"),
            token("SHOP_KIOSK__STAFF_TOKEN"),
        );
    } else if specs.iter().any(|(s, _)| *s == Service::Kiosk) {
        println!(
            "launcher: the kiosk at http://127.0.0.1:{kiosk}/ is not ready yet (Ctrl-C to stop)"
        );
    } else {
        println!(
            "launcher: the kiosk is not built in {}, so there is no page to open; \
             running the other services (Ctrl-C to stop)",
            bin_dir.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse() {
        assert_eq!(parse_port_flag("voice=9001"), Ok((Service::Voice, 9001)));
        assert!(parse_port_flag("voice").is_err());
        assert!(parse_port_flag("mirror=1").is_err());
        assert!(parse_port_flag("voice=0").is_err());
        assert_eq!(parse_duration("120s"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("7h").is_err());
    }
}
