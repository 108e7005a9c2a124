//! The one-machine launcher: starts every built service as its own process on
//! loopback, waits for each to be ready, restarts the ones that crash and stops them
//! all cleanly.
//!
//! The binary (`main.rs`) is a thin clap front end; everything it does is here so the
//! tests can drive real processes through the same code.

mod backoff;
mod output;
mod ports;
mod ready;
mod supervisor;

pub use backoff::{Backoff, BackoffPolicy};
pub use output::{LogLine, LogSink, Stream, format_line};
pub use ports::{PortError, binary_path, port_env_var, resolve_port};
pub use ready::{ReadyError, ReadyOptions, probe_ready, wait_ready};
pub use supervisor::{ServiceSpec, Supervisor};
