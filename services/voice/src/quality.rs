//! Quality measures asserted on fixtures.

/// Word error rate: word-level edit distance between `hypothesis` and `reference`,
/// divided by the reference's word count. What a listener cannot hear is ignored:
/// case, punctuation, hyphens, and how numbers are written ("$49" and "forty-nine
/// dollars" sound the same), by running both through the shop text normaliser.
pub fn word_error_rate(reference: &str, hypothesis: &str) -> f64 {
    let reference = normalised_words(reference);
    let hypothesis = normalised_words(hypothesis);
    if reference.is_empty() {
        return if hypothesis.is_empty() { 0.0 } else { 1.0 };
    }
    // One row of the Levenshtein table at a time.
    let mut previous: Vec<usize> = (0..=hypothesis.len()).collect();
    for (i, reference_word) in reference.iter().enumerate() {
        let mut current = vec![i + 1; hypothesis.len() + 1];
        for (j, hypothesis_word) in hypothesis.iter().enumerate() {
            let substitution = previous[j] + usize::from(reference_word != hypothesis_word);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[hypothesis.len()] as f64 / reference.len() as f64
}

fn normalised_words(text: &str) -> Vec<String> {
    crate::tts::normalise::normalise(text)
        .replace('-', " ")
        .split_whitespace()
        .map(|word| {
            word.chars()
                .filter(|c| c.is_alphanumeric() || *c == '\'')
                .collect::<String>()
                .to_lowercase()
        })
        .filter(|word| !word.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::word_error_rate;

    #[test]
    fn counts_substitutions_insertions_and_deletions() {
        assert_eq!(word_error_rate("a blue shirt", "A blue shirt."), 0.0);
        assert_eq!(word_error_rate("a blue shirt", "a red shirt"), 1.0 / 3.0);
        assert_eq!(word_error_rate("a blue shirt", "a shirt"), 1.0 / 3.0);
        assert_eq!(
            word_error_rate("a blue shirt", "a blue silk shirt"),
            1.0 / 3.0
        );
        assert_eq!(word_error_rate("", "noise"), 1.0);
        assert_eq!(
            word_error_rate("It costs forty-nine dollars.", "it costs $49"),
            0.0
        );
        assert_eq!(word_error_rate("size thirty two", "size 32"), 0.0);
    }
}
