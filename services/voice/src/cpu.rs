//! How many model runs (whisper decodes, piper syntheses) are using the CPU in this
//! process right now.
//!
//! whisper.cpp's worker threads wait for each other by spinning, so a multi-threaded
//! decode next to another busy model on a 2-core node runs several times slower than
//! on one thread (measured at 8 sessions: speech to text p50 1.4 s with two threads
//! per decode, 0.3 s with one). A decode takes its configured threads only when
//! nothing else is running, which keeps a lone customer's transcript as fast as the
//! machine allows and a busy kiosk's transcripts from fighting over the cores.

use std::sync::atomic::{AtomicUsize, Ordering};

static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Counts one model run for as long as it is held.
#[derive(Debug)]
pub struct Running(());

impl Running {
    /// Counts a model run that starts now.
    pub fn start() -> Running {
        RUNNING.fetch_add(1, Ordering::SeqCst);
        Running(())
    }

    /// The other model runs going on now (not counting this one).
    pub fn others(&self) -> usize {
        RUNNING.load(Ordering::SeqCst).saturating_sub(1)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
}
