//! Readiness: polling `GET /readyz` on loopback until it answers 200.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How to wait for a service to become ready.
#[derive(Debug, Clone, Copy)]
pub struct ReadyOptions {
    /// Give up after this long.
    pub timeout: Duration,
    /// Pause between two probes: short, since a ready service should be noticed at once.
    pub interval: Duration,
    /// The most one probe may take, so a hung service cannot stall the whole wait.
    pub probe_timeout: Duration,
    /// How often to report that we are still waiting.
    pub progress_every: Duration,
}

impl Default for ReadyOptions {
    /// 120 s in all, probing every 200 ms, reporting every 5 s.
    fn default() -> Self {
        ReadyOptions {
            timeout: Duration::from_secs(120),
            interval: Duration::from_millis(200),
            probe_timeout: Duration::from_secs(1),
            progress_every: Duration::from_secs(5),
        }
    }
}

/// A service that did not answer 200 on `/readyz` in time.
#[derive(Debug, thiserror::Error)]
#[error("http://127.0.0.1:{port}/readyz not ready after {waited:.1?}: {last}")]
pub struct ReadyError {
    /// The port that was polled.
    pub port: u16,
    /// How long we waited.
    pub waited: Duration,
    /// What the last probe saw, e.g. `connection refused` or `answered 503`.
    pub last: String,
}

/// Probes `http://127.0.0.1:<port>/readyz` once; `Ok` only for status 200, otherwise
/// a short description of what was seen.
///
/// This is a hand-written HTTP/1.1 request rather than an HTTP client crate: the
/// launcher only ever asks one loopback question and reads one status line, and
/// pulling a TLS-capable client into it would only add build time.
pub async fn probe_ready(port: u16) -> Result<(), String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    let request =
        format!("GET /readyz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    // The status line is all we need; read until its end or a small limit.
    let mut head = Vec::with_capacity(128);
    let mut buf = [0u8; 128];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 1024 {
        let n = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let status_line = head.lines().next().unwrap_or_default();
    match status_line.split_whitespace().nth(1) {
        Some("200") if status_line.starts_with("HTTP/") => Ok(()),
        Some(code) if status_line.starts_with("HTTP/") => Err(format!("answered {code}")),
        _ => Err(format!("not an HTTP answer: {status_line:?}")),
    }
}

/// Polls `/readyz` on `port` until it answers 200 or `options.timeout` passes.
///
/// `on_waiting(elapsed, last_problem)` is called every `options.progress_every` while
/// waiting, so the caller can show progress. Returns how long it took.
pub async fn wait_ready(
    port: u16,
    options: &ReadyOptions,
    mut on_waiting: impl FnMut(Duration, &str),
) -> Result<Duration, ReadyError> {
    let start = Instant::now();
    let mut next_report = options.progress_every;
    loop {
        let last = match tokio::time::timeout(options.probe_timeout, probe_ready(port)).await {
            Ok(Ok(())) => return Ok(start.elapsed()),
            Ok(Err(problem)) => problem,
            Err(_) => format!("no answer within {:?}", options.probe_timeout),
        };
        let waited = start.elapsed();
        if waited >= options.timeout {
            return Err(ReadyError { port, waited, last });
        }
        if waited >= next_report {
            on_waiting(waited, &last);
            next_report += options.progress_every;
        }
        let remaining = options.timeout.saturating_sub(waited);
        tokio::time::sleep(options.interval.min(remaining)).await;
    }
}
