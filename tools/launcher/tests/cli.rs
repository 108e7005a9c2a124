//! The `launcher` binary end to end: a bin dir holding only a `catalog`, which is the
//! slow-start fault-injection script behind a two-line wrapper.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{fault, free_ports, pid_exists};
use launcher::probe_ready;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

#[tokio::test]
async fn runs_what_is_built_on_the_env_port_and_stops_cleanly_on_sigterm() {
    let bin_dir = tempfile::tempdir().expect("tempdir");
    let state = tempfile::tempdir().expect("tempdir");
    // The wrapper passes the port the launcher hands every service, so it listens
    // wherever SHOP_CATALOG__PORT says.
    let catalog = bin_dir.path().join("catalog");
    std::fs::write(
        &catalog,
        format!(
            "#!/bin/sh\nexec '{}' '{}' \"$SHOP_CATALOG__PORT\"\n",
            fault("slow_start.sh").display(),
            state.path().display()
        ),
    )
    .expect("write wrapper");
    std::fs::set_permissions(&catalog, std::fs::Permissions::from_mode(0o755)).expect("chmod");

    let [env_port, flag_port] = free_ports();
    let mut launcher = Command::new(env!("CARGO_BIN_EXE_launcher"))
        .arg("--bin-dir")
        .arg(bin_dir.path())
        .args(["--ready-timeout", "8s", "--port"])
        .arg(format!("catalog={flag_port}"))
        .env("SHOP_CATALOG__PORT", env_port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn launcher");

    let (tx, rx) = mpsc::channel();
    let stdout = launcher.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(8);
    while !seen
        .iter()
        .any(|l: &String| l.contains("kiosk is not built"))
    {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(e) => panic!("no kiosk line ({e}); saw {seen:#?}"),
        }
    }

    // Not piped to a terminal, so plain prefixes; unbuilt services listed once each.
    for name in ["voice", "vision", "dialogue", "tryon", "kiosk"] {
        let listed = format!("{name}: not built in this checkout, skipped");
        assert_eq!(
            seen.iter().filter(|l| **l == listed).count(),
            1,
            "{seen:#?}"
        );
    }
    let pid: u32 = seen
        .iter()
        .find_map(|l| l.strip_prefix("[catalog] slow_start: pid "))
        .expect("prefixed pid line")
        .parse()
        .expect("pid");
    // The environment variable won over both the default and the flag.
    assert_eq!(probe_ready(env_port).await, Ok(()));
    assert!(probe_ready(flag_port).await.is_err());

    kill(
        Pid::from_raw(i32::try_from(launcher.id()).expect("pid")),
        Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = launcher.try_wait().expect("try_wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "launcher did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    assert!(!pid_exists(pid), "catalog pid {pid} survived");
}

#[test]
fn says_what_is_not_built_and_fails_when_nothing_is() {
    let bin_dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_launcher"))
        .arg("--bin-dir")
        .arg(bin_dir.path())
        .args(["--only", "kiosk,voice"])
        .output()
        .expect("run launcher");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(
        stdout,
        "voice: not built in this checkout, skipped\nkiosk: not built in this checkout, skipped\n"
    );
    assert!(stderr.contains("no service binary found"), "{stderr}");
}
