//! Lines from the children and the supervisor's own events, prefixed by service name.

use std::sync::Arc;

/// Where a [`LogLine`] came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The child's standard output.
    Stdout,
    /// The child's standard error.
    Stderr,
    /// The supervisor itself: starts, exits, restarts, stops.
    Event,
}

/// One line of output, tagged with the service it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The service's name, e.g. `voice`.
    pub service: String,
    /// Which stream the line came from.
    pub stream: Stream,
    /// The line without its newline; invalid UTF-8 is replaced, never dropped.
    pub text: String,
}

/// Receives every [`LogLine`]; called from many tasks at once, so it must be cheap and
/// thread-safe (the binary prints, the tests collect).
pub type LogSink = Arc<dyn Fn(LogLine) + Send + Sync>;

/// ANSI colours cycled over services; red is left out so it can mean trouble.
const PALETTE: [&str; 6] = ["36", "32", "33", "35", "34", "96"];

/// Formats a line as `[voice] text`, with the prefix coloured when `colour` is set
/// (only when printing to a terminal, so files and pipes stay plain).
pub fn format_line(line: &LogLine, colour: bool) -> String {
    if !colour {
        return format!("[{}] {}", line.service, line.text);
    }
    // A stable colour per name, so a service keeps its colour across restarts and runs.
    let index = line
        .service
        .bytes()
        .fold(0usize, |acc, b| acc.wrapping_mul(31).wrapping_add(b.into()))
        % PALETTE.len();
    let code = match line.stream {
        Stream::Event => "1;31",
        _ => PALETTE[index],
    };
    format!("\x1b[{code}m[{}]\x1b[0m {}", line.service, line.text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_plain_without_colour_and_wrapped_with_it() {
        let line = LogLine {
            service: "voice".into(),
            stream: Stream::Stdout,
            text: "listening".into(),
        };
        assert_eq!(format_line(&line, false), "[voice] listening");
        let coloured = format_line(&line, true);
        assert!(coloured.starts_with("\x1b["));
        assert!(coloured.ends_with("[voice]\x1b[0m listening"));
    }
}
