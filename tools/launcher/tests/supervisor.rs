//! The supervisor against real processes: python3's http.server, and shell scripts
//! under tests/fault_injection/ that crash, start slowly or ignore SIGTERM.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{collecting_sink, fault, free_port, free_ports, pid_exists, spec, wait_for_line};
use launcher::{
    BackoffPolicy, ReadyOptions, ServiceSpec, Stream, Supervisor, format_line, probe_ready,
    wait_ready,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Fast enough for tests, still a real doubling: 100 ms, 200 ms, 400 ms...
fn fast_policy() -> BackoffPolicy {
    BackoffPolicy {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(1),
        reset_after: Duration::from_secs(60),
    }
}

fn ready_within(timeout: Duration) -> ReadyOptions {
    ReadyOptions {
        timeout,
        interval: Duration::from_millis(50),
        ..ReadyOptions::default()
    }
}

fn python_http_server(name: &str, dir: &std::path::Path, port: u16) -> ServiceSpec {
    std::fs::write(dir.join("readyz"), "").expect("write readyz");
    ServiceSpec {
        name: name.to_string(),
        program: PathBuf::from("python3"),
        args: [
            "-u",
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            "--directory",
        ]
        .into_iter()
        .map(Into::into)
        .chain([dir.into(), port.to_string().into()])
        .collect(),
        env: Vec::new(),
        port,
    }
}

#[tokio::test]
async fn crashing_service_is_restarted_with_backoff_and_ends_ready() {
    let state = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let (lines, sink) = collecting_sink();
    let mut supervisor = Supervisor::new(fast_policy(), Duration::from_secs(2), sink);
    supervisor
        .start(spec(
            "flaky",
            fault("crash_twice_then_serve.sh"),
            state.path(),
            port,
        ))
        .expect("start");

    wait_ready(port, &ready_within(Duration::from_secs(8)), |_, _| {})
        .await
        .expect("ready after two crashes");

    assert_eq!(supervisor.starts("flaky"), 3);
    let restarts: Vec<String> = lines
        .lock()
        .expect("lines")
        .iter()
        .filter(|l| l.stream == Stream::Event && l.text.contains("exited unexpectedly"))
        .map(|l| l.text.clone())
        .collect();
    assert_eq!(restarts.len(), 2, "{restarts:?}");
    // Each restart is logged with the exit status and a doubled delay.
    assert!(restarts[0].contains("exit status: 1"), "{}", restarts[0]);
    assert!(
        restarts[0].contains("restarting in 100.0ms"),
        "{}",
        restarts[0]
    );
    assert!(
        restarts[1].contains("restarting in 200.0ms"),
        "{}",
        restarts[1]
    );
    let pid = supervisor.pid("flaky").expect("running");
    supervisor.shutdown().await;
    assert!(!pid_exists(pid));
}

#[tokio::test]
async fn readiness_returns_only_once_the_service_answers_200() {
    let state = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let (_lines, sink) = collecting_sink();
    let mut supervisor = Supervisor::new(fast_policy(), Duration::from_secs(2), sink);
    let started = Instant::now();
    supervisor
        .start(spec("slow", fault("slow_start.sh"), state.path(), port))
        .expect("start");
    assert!(probe_ready(port).await.is_err(), "ready before it started");

    let mut progress = 0;
    let options = ReadyOptions {
        progress_every: Duration::from_millis(500),
        ..ready_within(Duration::from_secs(8))
    };
    let took = wait_ready(port, &options, |_, _| progress += 1)
        .await
        .expect("ready");
    assert!(started.elapsed() >= Duration::from_millis(1900), "{took:?}");
    assert!(progress >= 2, "progress reported {progress} times");
    assert_eq!(probe_ready(port).await, Ok(()));
    supervisor.shutdown().await;
}

#[tokio::test]
async fn readiness_times_out_on_silence_and_on_non_200() {
    let quick = ready_within(Duration::from_millis(400));
    let silent = free_port();
    let err = wait_ready(silent, &quick, |_, _| {})
        .await
        .expect_err("nothing listens");
    assert_eq!(err.port, silent);
    assert!(err.waited >= Duration::from_millis(400));

    // Fault injection in-process: a listener that always answers 503.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let fault_injection_503 = tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf).await;
            let _ = conn
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    let err = wait_ready(port, &quick, |_, _| {})
        .await
        .expect_err("503 is not ready");
    assert!(err.last.contains("503"), "{err}");
    fault_injection_503.abort();
}

#[tokio::test]
async fn child_output_comes_out_prefixed_with_the_service_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let (lines, sink) = collecting_sink();
    let mut supervisor = Supervisor::new(fast_policy(), Duration::from_secs(2), sink);
    supervisor
        .start(python_http_server("web", dir.path(), port))
        .expect("start");
    wait_ready(port, &ready_within(Duration::from_secs(8)), |_, _| {})
        .await
        .expect("ready");

    // http.server logs each request on stderr and its banner on stdout.
    let request = wait_for_line(&lines, Duration::from_secs(3), |l| {
        l.stream == Stream::Stderr && l.text.contains("GET /readyz")
    })
    .await
    .expect("request log line");
    assert_eq!(request.service, "web");
    let printed = format_line(&request, false);
    assert!(printed.starts_with("[web] "), "{printed}");
    assert!(
        printed.contains("\"GET /readyz HTTP/1.1\" 200"),
        "{printed}"
    );
    let banner = wait_for_line(&lines, Duration::from_secs(3), |l| {
        l.stream == Stream::Stdout && l.text.contains("Serving HTTP")
    })
    .await
    .expect("banner line");
    assert!(format_line(&banner, false).starts_with("[web] Serving HTTP"));
    supervisor.shutdown().await;
}

#[tokio::test]
async fn shutdown_terms_then_kills_and_leaves_no_child() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stubborn_state = tempfile::tempdir().expect("tempdir");
    let [web_port, stubborn_port] = free_ports();
    let (lines, sink) = collecting_sink();
    let grace = Duration::from_secs(1);
    let mut supervisor = Supervisor::new(fast_policy(), grace, sink);
    supervisor
        .start(python_http_server("web", dir.path(), web_port))
        .expect("start web");
    supervisor
        .start(spec(
            "stubborn",
            fault("ignores_sigterm.sh"),
            stubborn_state.path(),
            stubborn_port,
        ))
        .expect("start stubborn");
    for port in [web_port, stubborn_port] {
        wait_ready(port, &ready_within(Duration::from_secs(8)), |_, _| {})
            .await
            .expect("ready");
    }
    let pids: Vec<u32> = ["web", "stubborn"]
        .iter()
        .map(|name| supervisor.pid(name).expect("running"))
        .collect();
    assert!(pids.iter().all(|&pid| pid_exists(pid)));

    let stopping = Instant::now();
    supervisor.shutdown().await;
    let took = stopping.elapsed();

    for pid in pids {
        assert!(!pid_exists(pid), "pid {pid} still exists");
    }
    // The stubborn one needed SIGKILL after the grace period; it was not restarted.
    assert!(took >= grace && took < grace * 4, "{took:?}");
    let lines = lines.lock().expect("lines");
    assert!(lines.iter().any(|l| l.service == "stubborn"
        && l.text.contains("did not stop")
        && l.text.contains("SIGKILL")));
    assert!(
        lines
            .iter()
            .any(|l| l.service == "web" && l.text.starts_with("stopped"))
    );
    assert!(!lines.iter().any(|l| l.text.starts_with("restarted")));
}
