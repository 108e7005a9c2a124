//! Starting, watching, restarting and stopping the service processes.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::backoff::{Backoff, BackoffPolicy};
use crate::output::{LogLine, LogSink, Stream};

/// Everything needed to start one service process.
#[derive(Debug, Clone)]
pub struct ServiceSpec {
    /// The name used in log prefixes, e.g. `voice`.
    pub name: String,
    /// The executable to run.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Variables set on top of the launcher's own environment.
    pub env: Vec<(OsString, OsString)>,
    /// The loopback port whose `/readyz` says the service is ready.
    pub port: u16,
}

/// What the supervisor and the callers share about one service.
struct Shared {
    /// The current child's pid, 0 while none runs.
    pid: AtomicU32,
    /// How many times a process has been started, restarts included.
    starts: AtomicU32,
}

struct Supervised {
    port: u16,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

/// Runs service processes: re-prints their output through a [`LogSink`], restarts any
/// that exits unexpectedly (with [`BackoffPolicy`]), and on [`Supervisor::shutdown`]
/// sends SIGTERM, waits a grace period, then SIGKILL.
///
/// Each child is the leader of its own process group. Signals go to the group, so a
/// service started through a wrapper script is stopped whole, and a Ctrl-C at the
/// terminal reaches only the launcher, which then stops the children in order.
/// Dropping the supervisor without calling `shutdown` stops the services too, in the
/// background; children are also `kill_on_drop`, so a launcher that unwinds or whose
/// runtime ends does not leak them.
pub struct Supervisor {
    sink: LogSink,
    policy: BackoffPolicy,
    grace: Duration,
    shutdown: watch::Sender<bool>,
    services: BTreeMap<String, Supervised>,
}

impl Supervisor {
    /// A supervisor with no services yet. `grace` is how long a child gets between
    /// SIGTERM and SIGKILL.
    pub fn new(policy: BackoffPolicy, grace: Duration, sink: LogSink) -> Self {
        Supervisor {
            sink,
            policy,
            grace,
            shutdown: watch::channel(false).0,
            services: BTreeMap::new(),
        }
    }

    /// Starts the service and keeps it running until [`Supervisor::shutdown`].
    ///
    /// The first start happens here, so a binary that cannot be executed at all is
    /// an error to the caller; later restarts are logged and retried with backoff.
    /// Must be called inside a Tokio runtime.
    pub fn start(&mut self, spec: ServiceSpec) -> io::Result<()> {
        if self.services.contains_key(&spec.name) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} is already supervised", spec.name),
            ));
        }
        let shared = Arc::new(Shared {
            pid: AtomicU32::new(0),
            starts: AtomicU32::new(0),
        });
        let running = Running::spawn(&spec, &self.sink, &shared)?;
        let worker = Worker {
            spec: spec.clone(),
            sink: self.sink.clone(),
            shared: shared.clone(),
            backoff: Backoff::new(self.policy),
            grace: self.grace,
            shutdown: self.shutdown.subscribe(),
        };
        let task = tokio::spawn(worker.run(running));
        self.services.insert(
            spec.name,
            Supervised {
                port: spec.port,
                shared,
                task,
            },
        );
        Ok(())
    }

    /// The pid of the service's current process, if one is running.
    pub fn pid(&self, name: &str) -> Option<u32> {
        let pid = self.services.get(name)?.shared.pid.load(Ordering::SeqCst);
        (pid != 0).then_some(pid)
    }

    /// How many processes have been started for the service, restarts included.
    pub fn starts(&self, name: &str) -> u32 {
        self.services
            .get(name)
            .map_or(0, |s| s.shared.starts.load(Ordering::SeqCst))
    }

    /// The port the service was given.
    pub fn port(&self, name: &str) -> Option<u16> {
        self.services.get(name).map(|s| s.port)
    }

    /// Stops every service: SIGTERM to all at once, up to the grace period for them to
    /// exit, SIGKILL for the rest. Returns once every child has been reaped.
    pub async fn shutdown(self) {
        // send_replace, not send: it stores the value even if no worker is listening.
        self.shutdown.send_replace(true);
        for (name, supervised) in self.services {
            if let Err(e) = supervised.task.await {
                (self.sink)(event(&name, format!("supervisor task failed: {e}")));
            }
        }
    }
}

fn event(service: &str, text: String) -> LogLine {
    LogLine {
        service: service.to_string(),
        stream: Stream::Event,
        text,
    }
}

/// One started process and the tasks copying its output.
struct Running {
    child: Child,
    pid: Option<u32>,
    started: Instant,
    pumps: Vec<JoinHandle<()>>,
}

impl Running {
    fn spawn(spec: &ServiceSpec, sink: &LogSink, shared: &Shared) -> io::Result<Running> {
        let mut command = Command::new(&spec.program);
        command
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let mut child = command.spawn()?;
        let pid = child.id();
        shared.pid.store(pid.unwrap_or(0), Ordering::SeqCst);
        let n = shared.starts.fetch_add(1, Ordering::SeqCst) + 1;
        let mut pumps = Vec::new();
        if let Some(out) = child.stdout.take() {
            pumps.push(pump(out, &spec.name, Stream::Stdout, sink.clone()));
        }
        if let Some(err) = child.stderr.take() {
            pumps.push(pump(err, &spec.name, Stream::Stderr, sink.clone()));
        }
        let what = if n == 1 { "started" } else { "restarted" };
        sink(event(
            &spec.name,
            format!(
                "{what} pid {} on port {}",
                pid.unwrap_or_default(),
                spec.port
            ),
        ));
        Ok(Running {
            child,
            pid,
            started: Instant::now(),
            pumps,
        })
    }

    /// Signals the child's whole process group; errors (the group is already gone)
    /// are ignored because that is the outcome we want.
    fn signal_group(&self, signal: Signal) {
        if let Some(pid) = self.pid.and_then(|p| i32::try_from(p).ok()) {
            let _ = killpg(Pid::from_raw(pid), signal);
        }
    }

    /// Lets the output tasks drain what the child wrote last, but not forever: a
    /// grandchild that escaped its group could hold the pipe open.
    async fn drain(self) {
        for pump in self.pumps {
            let _ = tokio::time::timeout(Duration::from_secs(1), pump).await;
        }
    }
}

fn pump(
    reader: impl AsyncRead + Unpin + Send + 'static,
    service: &str,
    stream: Stream,
    sink: LogSink,
) -> JoinHandle<()> {
    let service = service.to_string();
    tokio::spawn(async move {
        let mut reader = BufReader::new(reader);
        let mut buf = Vec::new();
        // Bytes, not `lines()`: one invalid UTF-8 byte must not silence a service.
        while let Ok(n) = reader.read_until(b'\n', &mut buf).await {
            if n == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&buf);
            sink(LogLine {
                service: service.clone(),
                stream,
                text: text.trim_end_matches(['\n', '\r']).to_string(),
            });
            buf.clear();
        }
    })
}

/// The task that owns one service's processes.
struct Worker {
    spec: ServiceSpec,
    sink: LogSink,
    shared: Arc<Shared>,
    backoff: Backoff,
    grace: Duration,
    shutdown: watch::Receiver<bool>,
}

impl Worker {
    fn log(&self, text: String) {
        (self.sink)(event(&self.spec.name, text));
    }

    async fn run(mut self, mut running: Running) {
        loop {
            let exited = tokio::select! {
                status = running.child.wait() => Some(status),
                _ = self.shutdown.wait_for(|stop| *stop) => None,
            };
            let Some(status) = exited else {
                self.stop(running).await;
                return;
            };
            self.shared.pid.store(0, Ordering::SeqCst);
            // A crashed service must not leave a grandchild holding its port, or the
            // restart could never bind it. The group id cannot have been reused while
            // any member is alive, so this reaches only our own stragglers.
            running.signal_group(Signal::SIGKILL);
            let uptime = running.started.elapsed();
            running.drain().await;
            let mut delay = self.backoff.delay_after(uptime);
            self.log(format!(
                "exited unexpectedly ({}) after {uptime:.1?}; restarting in {delay:.1?}",
                describe(status)
            ));
            running = loop {
                if self.sleep_or_shutdown(delay).await {
                    return;
                }
                match Running::spawn(&self.spec, &self.sink, &self.shared) {
                    Ok(next) => break next,
                    Err(e) => {
                        delay = self.backoff.delay_after(Duration::ZERO);
                        self.log(format!(
                            "could not start {}: {e}; retrying in {delay:.1?}",
                            self.spec.program.display()
                        ));
                    }
                }
            };
        }
    }

    /// Sleeps for `delay`; true if shutdown was asked for meanwhile.
    async fn sleep_or_shutdown(&mut self, delay: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(delay) => false,
            _ = self.shutdown.wait_for(|stop| *stop) => true,
        }
    }

    async fn stop(&self, mut running: Running) {
        running.signal_group(Signal::SIGTERM);
        let status = match tokio::time::timeout(self.grace, running.child.wait()).await {
            Ok(status) => status,
            Err(_) => {
                self.log(format!(
                    "did not stop within {:.1?} of SIGTERM; sending SIGKILL",
                    self.grace
                ));
                running.signal_group(Signal::SIGKILL);
                running.child.wait().await
            }
        };
        self.shared.pid.store(0, Ordering::SeqCst);
        // Whatever of the group outlived its leader goes too.
        running.signal_group(Signal::SIGKILL);
        running.drain().await;
        self.log(format!("stopped ({})", describe(status)));
    }
}

fn describe(status: io::Result<ExitStatus>) -> String {
    match status {
        Ok(status) => status.to_string(),
        Err(e) => format!("status unknown: {e}"),
    }
}
