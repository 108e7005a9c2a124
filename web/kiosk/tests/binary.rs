//! The real `kiosk` binary: started on an environment-chosen port, ready, stopped
//! cleanly by SIGTERM; refused to start with a bad port, naming the field.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A port that was free a moment ago: bind port 0, read what the kernel chose, release.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

fn kiosk() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kiosk"));
    // Only the variables each test sets: a developer's own SHOP_* settings must not
    // leak in.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("SHOP_") {
            command.env_remove(name);
        }
    }
    command
}

#[tokio::test]
async fn serves_on_the_env_port_and_exits_zero_on_sigterm() {
    let port = free_port();
    let mut child = kiosk()
        .env("SHOP_KIOSK__PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn kiosk");
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("client");
    let base = format!("http://127.0.0.1:{port}");

    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await
            && response.status() == 200
        {
            break;
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("kiosk exited before it was ready: {status}");
        }
        assert!(Instant::now() < deadline, "kiosk not ready within 15 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let page = client
        .get(format!("{base}/status"))
        .send()
        .await
        .expect("GET /status");
    assert_eq!(page.status(), 200);
    let page = page.text().await.expect("page body");
    assert!(page.contains(&format!("http://127.0.0.1:{port}")), "{page}");

    kill(
        Pid::from_raw(i32::try_from(child.id()).expect("pid")),
        Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("kiosk did not exit within 5 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}

#[test]
fn a_bad_port_stops_it_naming_the_field() {
    let out = kiosk()
        .env("SHOP_KIOSK__PORT", "0x")
        .output()
        .expect("run kiosk");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("kiosk.port"), "{stderr}");
    assert!(stderr.contains("SHOP_KIOSK__PORT"), "{stderr}");
}
