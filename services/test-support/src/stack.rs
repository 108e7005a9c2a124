//! The whole assistant as separate processes, the way the demo runs it: every service's
//! own binary (voice and dialogue cannot share a process: whisper.cpp and llama.cpp
//! both link ggml), on ports the OS chose, with a fresh data folder, the fixture
//! catalogue and the installed models. Used by the kiosk's end-to-end tests and its
//! voice-to-voice benchmark.
//!
//! The binaries are taken from the folder of the running test or bench executable's
//! profile (`target/debug` or `target/release`), so build them first:
//! `cargo build --workspace --bins --tests` (the README's test command does).

use std::collections::BTreeMap;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use protocol::Service;

use crate::{ADMIN_KEY, SERVICE_TOKEN, fixtures, models_dir};

/// Device token of the test kiosk.
pub const DEVICE_TOKEN: &str = "test-device-token-0123456789";
/// Staff token of the test kiosk.
pub const STAFF_TOKEN: &str = "test-staff-token-0123456789";

/// How long a service may take to become ready (models load; a cold start on a busy
/// 2-core machine is slow).
const READY_TIMEOUT: Duration = Duration::from_secs(600);

/// The running services.
pub struct Stack {
    children: BTreeMap<Service, Child>,
    ports: BTreeMap<Service, u16>,
    bin_dir: PathBuf,
    env: Vec<(String, String)>,
    /// Holds the data folder and the logs until the stack is dropped.
    dir: tempfile::TempDir,
}

/// Distinct free ports, all bound at once then released.
fn free_ports(count: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

/// The folder of the binaries of the profile the current executable was built in.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test>-<hash>, or target/<profile>/<bench>
    let mut dir = exe.parent().expect("exe folder").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir
}

impl Stack {
    /// Starts every service and waits until each is ready (inside a Tokio runtime). `extra_env` adds or
    /// overrides settings (`SHOP_KIOSK__MAX_SESSIONS`, ...).
    pub async fn start(extra_env: &[(&str, &str)]) -> Stack {
        let bin_dir = bin_dir();
        for service in Service::ALL {
            let binary = bin_dir.join(service.name());
            assert!(
                binary.is_file(),
                "{} is not built: run `cargo build --workspace --bins --tests` (same profile as this test) first",
                binary.display()
            );
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let ports: BTreeMap<Service, u16> = Service::ALL.into_iter().zip(free_ports(6)).collect();
        let mut env: Vec<(String, String)> = vec![
            ("SHOP_MODELS_DIR".into(), models_dir().display().to_string()),
            (
                "SHOP_DATA_DIR".into(),
                dir.path().join("data").display().to_string(),
            ),
            ("SHOP_TELEMETRY__FORMAT".into(), "pretty".into()),
            ("SHOP_CATALOG__ADMIN_KEY".into(), ADMIN_KEY.into()),
            ("SHOP_CATALOG__SERVICE_TOKEN".into(), SERVICE_TOKEN.into()),
            (
                "SHOP_CATALOG__SEED_FILE".into(),
                fixtures()
                    .join("catalog/products.json")
                    .display()
                    .to_string(),
            ),
            ("SHOP_KIOSK__DEVICE_TOKEN".into(), DEVICE_TOKEN.into()),
            ("SHOP_KIOSK__STAFF_TOKEN".into(), STAFF_TOKEN.into()),
        ];
        for (service, port) in &ports {
            env.push((
                format!("SHOP_{}__PORT", service.name().to_ascii_uppercase()),
                port.to_string(),
            ));
        }
        for (key, value) in extra_env {
            env.retain(|(k, _)| k != key);
            env.push(((*key).into(), (*value).into()));
        }
        let mut stack = Stack {
            children: BTreeMap::new(),
            ports,
            bin_dir,
            env,
            dir,
        };
        for service in Service::ALL {
            stack.spawn(service);
        }
        for service in Service::ALL {
            stack.wait_ready(service).await;
        }
        stack
    }

    fn spawn(&mut self, service: Service) {
        let log = self.log_path(service);
        let out = File::options()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(self.bin_dir.join(service.name()))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env_remove("SHOP_CONFIG")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {service}: {e}"));
        self.children.insert(service, child);
    }

    /// Where a service's output goes (kept until the stack is dropped).
    pub fn log_path(&self, service: Service) -> PathBuf {
        self.dir.path().join(format!("{}.log", service.name()))
    }

    /// The last lines a service printed, for a failing test's message.
    pub fn log_tail(&self, service: Service) -> String {
        let text = std::fs::read_to_string(self.log_path(service)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Waits until `service` answers `/readyz` with 200.
    pub async fn wait_ready(&mut self, service: Service) {
        let port = self.ports[&service];
        let started = Instant::now();
        loop {
            if let Some(child) = self.children.get_mut(&service)
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "{service} exited ({status}) before it was ready:\n{}",
                    self.log_tail(service)
                );
            }
            let probe = tokio::time::timeout(Duration::from_secs(2), launcher::probe_ready(port));
            if probe.await.is_ok_and(|answer| answer.is_ok()) {
                return;
            }
            assert!(
                started.elapsed() < READY_TIMEOUT,
                "{service} not ready within {READY_TIMEOUT:?}:\n{}",
                self.log_tail(service)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Base URL of a service.
    pub fn url(&self, service: Service) -> String {
        format!("http://127.0.0.1:{}", self.ports[&service])
    }

    /// The value of one series of a service's Prometheus metrics, named as exposed
    /// (`kiosk_speculative_turns_total{outcome="released"}`); 0 when not there yet.
    pub async fn metric(&self, service: Service, series: &str) -> f64 {
        let url = format!("{}/metrics", self.url(service));
        let text = match reqwest::Client::builder().no_proxy().build() {
            Ok(http) => match http.get(url).send().await {
                Ok(response) => response.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            },
            Err(_) => String::new(),
        };
        text.lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// The kiosk's WebSocket URL.
    pub fn kiosk_ws(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.ports[&Service::Kiosk])
    }

    /// Kills a service at once (SIGKILL), as a crash would.
    pub fn kill(&mut self, service: Service) {
        if let Some(mut child) = self.children.remove(&service) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a killed service again (same port, same data) and waits until ready.
    pub async fn restart(&mut self, service: Service) {
        self.kill(service);
        self.spawn(service);
        self.wait_ready(service).await;
    }

    /// The data folder (the catalog's store lives under it).
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for child in self.children.values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
