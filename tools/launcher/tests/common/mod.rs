//! Helpers shared by the integration tests (included with `mod common;`).

#![allow(dead_code)]

use std::ffi::OsString;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use launcher::{LogLine, LogSink, ServiceSpec};
use nix::sys::signal::kill;
use nix::unistd::Pid;

/// A port that was free a moment ago: bind port 0, read what the kernel chose, release.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// `N` distinct ports that were free a moment ago: all bound at once, so the kernel
/// cannot hand out the same one twice, then released.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let held: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    std::array::from_fn(|index| held[index].local_addr().expect("local addr").port())
}

/// A script under tests/fault_injection/.
pub fn fault(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fault_injection")
        .join(name)
}

/// A spec whose program takes `STATE_DIR PORT`, as the fault-injection scripts do.
pub fn spec(name: &str, program: PathBuf, state: &Path, port: u16) -> ServiceSpec {
    ServiceSpec {
        name: name.to_string(),
        program,
        args: vec![state.into(), OsString::from(port.to_string())],
        env: Vec::new(),
        port,
    }
}

/// A sink that keeps every line for the test to inspect.
pub fn collecting_sink() -> (Arc<Mutex<Vec<LogLine>>>, LogSink) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink_lines = lines.clone();
    let sink: LogSink = Arc::new(move |line: LogLine| {
        eprintln!("{}", launcher::format_line(&line, false));
        sink_lines.lock().expect("lines lock").push(line);
    });
    (lines, sink)
}

/// Waits up to `timeout` for a collected line matching `pred`.
pub async fn wait_for_line(
    lines: &Mutex<Vec<LogLine>>,
    timeout: Duration,
    pred: impl Fn(&LogLine) -> bool,
) -> Option<LogLine> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(line) = lines.lock().expect("lines lock").iter().find(|l| pred(l)) {
            return Some(line.clone());
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether a process with this pid exists (signal 0 probes without signalling).
pub fn pid_exists(pid: u32) -> bool {
    kill(
        Pid::from_raw(i32::try_from(pid).expect("pid fits i32")),
        None,
    )
    .is_ok()
}
