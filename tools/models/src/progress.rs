//! Progress reporting: indicatif bars on a terminal, plain lines otherwise (CI logs,
//! a launcher's prefixed output), so logs stay readable.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Creates bars for long steps and prints one line per finished step.
#[derive(Clone)]
pub struct Progress {
    bars: Option<MultiProgress>,
}

impl Progress {
    /// Bars when stderr is a terminal, plain lines otherwise.
    pub fn auto() -> Progress {
        if std::io::stderr().is_terminal() {
            Progress::bars()
        } else {
            Progress::plain()
        }
    }

    /// Always plain lines.
    pub fn plain() -> Progress {
        Progress { bars: None }
    }

    fn bars() -> Progress {
        Progress {
            bars: Some(MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
        }
    }

    /// A byte-counting bar for a step of known size (hashing, extracting, converting).
    pub fn bytes(&self, label: &str, total: u64) -> ProgressBar {
        match &self.bars {
            None => ProgressBar::hidden(),
            Some(bars) => {
                let bar = bars.add(ProgressBar::new(total));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{msg:40} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
                bar.set_message(label.to_string());
                bar
            }
        }
    }

    /// A spinner for a step of unknown length (a registry client downloading).
    pub fn spinner(&self, label: &str) -> ProgressBar {
        match &self.bars {
            None => {
                eprintln!("{label} ...");
                ProgressBar::hidden()
            }
            Some(bars) => {
                let bar = bars.add(ProgressBar::new_spinner());
                bar.set_message(label.to_string());
                bar.enable_steady_tick(Duration::from_millis(120));
                bar
            }
        }
    }

    /// Prints one line, above the bars when there are any.
    pub fn line(&self, message: &str) {
        match &self.bars {
            Some(bars) => {
                let _ = bars.println(message);
            }
            None => eprintln!("{message}"),
        }
    }
}
