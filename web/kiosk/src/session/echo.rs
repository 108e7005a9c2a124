//! The server's guard against the assistant hearing itself. The browser cancels the
//! echo of its own loudspeaker, but not always completely; what slips through reaches
//! speech-to-text as words the assistant is saying right now. Such a transcript must
//! neither interrupt the assistant nor start a turn.

/// Share of the heard words that must come from the assistant's own recent speech for
/// the transcript to count as echo.
const ECHO_SHARE: f32 = 0.6;

/// Lower-case words without punctuation, as whisper and the reply text may differ in
/// both.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether `heard` (a transcript made while the assistant was speaking) is the
/// assistant's own `spoken` text coming back through the microphone.
pub fn is_echo(heard: &str, spoken: &str) -> bool {
    let heard = words(heard);
    if heard.is_empty() {
        // Nothing recognisable: noise, not a customer's request.
        return true;
    }
    let spoken = words(spoken);
    if spoken.is_empty() {
        return false;
    }
    let from_spoken = heard.iter().filter(|w| spoken.contains(w)).count();
    from_spoken as f32 / heard.len() as f32 >= ECHO_SHARE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_assistants_own_sentence_is_echo() {
        let spoken =
            "Here are three shirts that go with your pink sweater. The first is a white Oxford.";
        assert!(is_echo("here are three shirts that go with", spoken));
        assert!(is_echo("The first is a white oxford", spoken));
    }

    #[test]
    fn the_customer_talking_over_it_is_not_echo() {
        let spoken = "Here are three shirts that go with your pink sweater.";
        assert!(!is_echo("stop, I want trousers instead", spoken));
        assert!(!is_echo("can I try the second one on", spoken));
        assert!(!is_echo("a shirt please", ""));
    }
}
