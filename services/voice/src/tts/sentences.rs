//! Splitting a reply into sentences, so that speech can start as soon as the first
//! sentence is synthesised instead of after the whole reply.
//!
//! Splitting happens on the text as written (before normalisation), so the sentences
//! double as captions. A full stop ends a sentence only when it is followed by
//! white space and is not part of an abbreviation ("Dr. Smith"), an initial
//! ("J. Crew") or a number ("$29.99"); a following lower-case word also keeps the
//! sentence going ("approx. five").

/// Longest sentence synthesised in one piece, in characters. Longer ones are cut at
/// a comma or semicolon (else at a space): piper's cost grows with the input, and a
/// long first sentence delays the first audio.
pub const MAX_SENTENCE_CHARS: usize = 200;

/// Words ending in a dot that do not end a sentence (compared in lower case).
const NO_BREAK: &[&str] = &[
    "mr.", "mrs.", "ms.", "dr.", "st.", "jr.", "sr.", "no.", "vs.", "approx.", "e.g.", "i.e.",
    "incl.", "dept.", "fig.", "inc.", "co.",
];

/// Splits `text` into trimmed, non-empty sentences (each at most
/// [`MAX_SENTENCE_CHARS`] long), in order.
///
/// ```
/// use voice::tts::sentences::split_sentences;
/// assert_eq!(
///     split_sentences("Dr. Smith says hi. It is $29.99. Want it?"),
///     ["Dr. Smith says hi.", "It is $29.99.", "Want it?"]
/// );
/// ```
pub fn split_sentences(text: &str) -> Vec<String> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut sentences = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        if c == '\n' {
            push_sentence(&mut sentences, &text[start..at]);
            start = at + 1;
            i += 1;
            continue;
        }
        if !matches!(c, '.' | '!' | '?' | '…') {
            i += 1;
            continue;
        }
        // Take the whole run of terminators and closing quotes/brackets: `?!`, `."`.
        let mut end = i + 1;
        while end < chars.len()
            && matches!(
                chars[end].1,
                '.' | '!' | '?' | '…' | '"' | '\'' | ')' | '”' | '’'
            )
        {
            end += 1;
        }
        let followed_by_space = end == chars.len() || chars[end].1.is_whitespace();
        if followed_by_space && ends_sentence(text, &chars, i, end) {
            let cut = chars.get(end).map_or(text.len(), |(at, _)| *at);
            push_sentence(&mut sentences, &text[start..cut]);
            start = cut;
        }
        i = end;
    }
    push_sentence(&mut sentences, &text[start..]);
    sentences
}

/// First sentences longer than this many characters are spoken in two pieces when
/// streaming (see [`split_for_streaming`]).
pub const FIRST_PIECE_CHARS: usize = 40;

/// Like [`split_sentences`], but a long first sentence is cut after its first clause
/// ("Sure, | the blue jacket is ..."), so the first audio is ready sooner: piper's time
/// grows with the text, and the listener hears the rest while it is synthesised.
pub fn split_for_streaming(text: &str) -> Vec<String> {
    let mut sentences = split_sentences(text);
    if let Some(first) = sentences.first()
        && first.chars().count() > FIRST_PIECE_CHARS
        && let Some(cut) = first.find([',', ';', ':']).map(|p| p + 1)
        // Keep at least a word on each side; a comma in a number ("1,250") does not
        // count, being followed by a digit, not a space.
        && first[cut..].starts_with(' ')
        && first[cut..].trim().chars().any(char::is_alphanumeric)
    {
        let (head, tail) = first.split_at(cut);
        let (head, tail) = (head.trim().to_string(), tail.trim().to_string());
        sentences.splice(0..1, [head, tail]);
    }
    sentences
}

/// Whether the terminator run `chars[first..end]` really ends a sentence.
fn ends_sentence(text: &str, chars: &[(usize, char)], first: usize, end: usize) -> bool {
    let run: String = chars[first..end].iter().map(|(_, c)| c).collect();
    // `!` and `?` always end one; so do `..` and `...` (a trailing-off pause).
    if run.contains(['!', '?', '…']) || run.starts_with("..") {
        return true;
    }
    // The word the dot belongs to, from the previous white space to the dot.
    let dot_at = chars[first].0;
    let word_start = text[..dot_at]
        .rfind(char::is_whitespace)
        .map_or(0, |p| p + 1);
    let word = text[word_start..=dot_at]
        .trim_start_matches(['"', '\'', '(', '“', '‘'])
        .to_lowercase();
    if NO_BREAK.contains(&word.as_str()) {
        return false;
    }
    // An initial: one letter and a dot ("J. Crew"), or dotted letters ("U.S.").
    let letters: Vec<char> = word.trim_end_matches('.').chars().collect();
    // But a size letter after "size"/"in" ends a sentence: "It comes in M. Want it?"
    if letters.len() == 1 && letters[0].is_alphabetic() {
        let before = text[..word_start].split_whitespace().next_back();
        let size = matches!(letters[0], 's' | 'm' | 'l')
            && before.is_some_and(|w| {
                matches!(
                    w.to_lowercase().as_str(),
                    "size" | "sizes" | "in" | "and" | "or"
                )
            });
        if !size {
            return false;
        }
    }
    if word.len() > 2 && word.split('.').all(|p| p.chars().count() <= 1) && word.contains('.') {
        let next_upper = chars[end..]
            .iter()
            .find(|(_, c)| !c.is_whitespace())
            .is_some_and(|(_, c)| c.is_uppercase());
        if !next_upper {
            return false;
        }
    }
    // A following lower-case word continues the sentence ("approx. five").
    let next = chars[end..].iter().find(|(_, c)| !c.is_whitespace());
    !next.is_some_and(|(_, c)| c.is_lowercase())
}

/// Adds a trimmed sentence if it has something to say, cutting one that is too long.
fn push_sentence(sentences: &mut Vec<String>, raw: &str) {
    let mut rest = raw.trim();
    while rest.chars().count() > MAX_SENTENCE_CHARS {
        let limit = rest
            .char_indices()
            .nth(MAX_SENTENCE_CHARS)
            .map_or(rest.len(), |(at, _)| at);
        let head = &rest[..limit];
        // Prefer a clause boundary, then a word boundary, then a hard cut.
        let cut = head
            .rfind([',', ';', ':'])
            .map(|p| p + 1)
            .filter(|p| *p > limit / 3)
            .or_else(|| head.rfind(char::is_whitespace).filter(|p| *p > 0))
            .unwrap_or(limit);
        push_if_spoken(sentences, &rest[..cut]);
        rest = rest[cut..].trim_start();
    }
    push_if_spoken(sentences, rest);
}

fn push_if_spoken(sentences: &mut Vec<String>, sentence: &str) {
    let sentence = sentence.trim();
    // "..." or "—" alone would give silence or a click; nothing to say.
    if sentence.chars().any(|c| c.is_alphanumeric()) {
        sentences.push(sentence.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_sentence_ends_only() {
        let cases: &[(&str, &[&str])] = &[
            (
                "Dr. Smith is here. He likes it.",
                &["Dr. Smith is here.", "He likes it."],
            ),
            (
                "The jacket is $29.99. The scarf is $5.",
                &["The jacket is $29.99.", "The scarf is $5."],
            ),
            (
                "Hello! How can I help? I'm here.",
                &["Hello!", "How can I help?", "I'm here."],
            ),
            (
                "It takes approx. five days, e.g. by Friday.",
                &["It takes approx. five days, e.g. by Friday."],
            ),
            ("Try J. Crew jeans.", &["Try J. Crew jeans."]),
            ("It comes in M. Want it?", &["It comes in M.", "Want it?"]),
            (
                "Made in the U.S. and Canada.",
                &["Made in the U.S. and Canada."],
            ),
            ("Version 2.5 is out.", &["Version 2.5 is out."]),
            (
                "\"Nice.\" She left. (Really.) Yes",
                &["\"Nice.\"", "She left.", "(Really.)", "Yes"],
            ),
            ("Well... Okay.", &["Well...", "Okay."]),
            ("Line one\nLine two", &["Line one", "Line two"]),
            ("  ", &[]),
            ("... !", &[]),
            ("No. 5 is red. Yes.", &["No. 5 is red.", "Yes."]),
            ("no end", &["no end"]),
        ];
        for (text, expected) in cases {
            assert_eq!(split_sentences(text), *expected, "text {text:?}");
        }
    }

    #[test]
    fn streaming_cuts_a_long_first_sentence_after_its_first_clause() {
        assert_eq!(
            split_for_streaming("Sure, the blue jacket is $29.99 and comes in M. Want it?"),
            [
                "Sure,",
                "the blue jacket is $29.99 and comes in M.",
                "Want it?"
            ]
        );
        // Short first sentences, and commas inside numbers, are left alone.
        assert_eq!(
            split_for_streaming("Sure, it is here. Yes, really, it is here now."),
            ["Sure, it is here.", "Yes, really, it is here now."]
        );
        assert_eq!(
            split_for_streaming("We have 1,250 shirts in stock in every colour you like."),
            ["We have 1,250 shirts in stock in every colour you like."]
        );
    }

    #[test]
    fn long_sentences_are_cut_at_clauses() {
        let clause = "a soft cotton shirt in navy blue with long sleeves";
        let text = [clause; 8].join(", ") + ".";
        let parts = split_sentences(&text);
        assert!(parts.len() > 1, "{parts:?}");
        for part in &parts {
            assert!(part.chars().count() <= MAX_SENTENCE_CHARS, "{part}");
            assert!(part.ends_with([',', '.']), "cut at a clause: {part}");
        }
        assert_eq!(
            parts.join(" ").split_whitespace().count(),
            text.split_whitespace().count()
        );
        // No spaces at all: a hard cut, nothing lost.
        let blob = "x".repeat(450);
        let parts = split_sentences(&blob);
        assert_eq!(parts.concat(), blob);
    }
}
