//! Text normalisation for what a shop assistant says, before espeak-ng turns it into
//! phonemes.
//!
//! espeak-ng reads plain digits well enough, but it reads `$29.99` as "dollar
//! twenty-nine point nine nine", `XL` as a word, `32x34` as one token and a SKU such as
//! `TS-1042` as "T S minus one thousand and forty-two". A shopper hears prices, sizes
//! and product codes more than anything else, so those are rewritten into the words a
//! person would say. Everything else is passed through unchanged: espeak-ng handles
//! ordinary words and punctuation (which drives intonation).

use num2words::Num2Words;

/// Rewrites prices, sizes, percentages, SKUs, numbers and common abbreviations in
/// `text` into words, keeping the punctuation around them.
///
/// ```
/// use voice::tts::normalise::normalise;
/// assert_eq!(
///     normalise("Only $29.99 in XL."),
///     "Only twenty-nine dollars and ninety-nine cents in extra large."
/// );
/// ```
pub fn normalise(text: &str) -> String {
    let cleaned = strip_symbols(text);
    let tokens: Vec<&str> = cleaned.split_whitespace().collect();
    let mut out: Vec<String> = Vec::with_capacity(tokens.len());
    // True while the words before were "size(s)" and size letters, so that a bare
    // `S`, `M` or `L` is read as a size and not as a letter.
    let mut size_context = false;
    for (i, token) in tokens.iter().enumerate() {
        let last = i + 1 == tokens.len();
        let prev = i
            .checked_sub(1)
            .map(|p| core_of(tokens[p]).to_ascii_lowercase());
        let next = tokens.get(i + 1).map(|t| core_of(t));
        let (word, keeps_size_context) =
            normalise_token(token, prev.as_deref(), next, size_context, last);
        size_context = keeps_size_context;
        out.push(word);
    }
    out.join(" ")
}

/// Leading punctuation kept in front of a token's core.
const LEADING: &[char] = &['"', '\'', '(', '[', '{', '“', '‘'];
/// Trailing punctuation kept after a token's core (it carries intonation).
const TRAILING: &[char] = &[
    '.', ',', ';', ':', '!', '?', ')', ']', '}', '"', '\'', '”', '’', '…',
];

/// A token without its surrounding punctuation.
fn core_of(token: &str) -> &str {
    token.trim_start_matches(LEADING).trim_end_matches(TRAILING)
}

/// Emoji and pictographs: espeak-ng would read their Unicode names aloud, and a
/// language model's reply may contain them.
fn strip_symbols(text: &str) -> String {
    text.chars()
        .map(|c| match u32::from(c) {
            0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0xFE0F | 0x200D => ' ',
            _ => c,
        })
        .collect()
}

/// Normalises one whitespace-separated token; returns the words and whether a size
/// context continues after it.
fn normalise_token(
    token: &str,
    prev: Option<&str>,
    next: Option<&str>,
    size_context: bool,
    last: bool,
) -> (String, bool) {
    let rest = token.trim_start_matches(LEADING);
    let lead = &token[..token.len() - rest.len()];

    // Abbreviations end in a dot that is part of the word, so try them before the
    // trailing punctuation is split off.
    if let Some((expansion, trail)) = abbreviation(rest, next) {
        let mut word = format!("{lead}{expansion}{trail}");
        // The abbreviation's dot may also have ended the text; keep a full stop
        // for the falling intonation.
        if last && rest.ends_with('.') && !trail.ends_with(['.', '!', '?']) {
            word.push('.');
        }
        return (word, false);
    }

    let core = rest.trim_end_matches(TRAILING);
    let trail = &rest[core.len()..];
    let starts_size_context = matches!(core.to_ascii_lowercase().as_str(), "size" | "sizes");
    let in_size_context = size_context
        || (matches!(prev, Some("size" | "sizes" | "in"))
            && core.len() == 1
            && size_letter(core, true).is_some());

    let (expanded, continues) = match expand_core(core, prev, next, in_size_context) {
        Some(words) => (words, in_size_context && is_size_list_item(core)),
        None => (
            core.to_string(),
            in_size_context && matches!(core.to_ascii_lowercase().as_str(), "and" | "or" | "to"),
        ),
    };
    // Size lists like "sizes S, M and L" run across commas but not sentence ends.
    let continues = (starts_size_context || continues) && !trail.contains(['.', '!', '?', ';']);
    (format!("{lead}{expanded}{trail}"), continues)
}

/// Whether `core` is one entry of a list of sizes (a letter size or a number).
fn is_size_list_item(core: &str) -> bool {
    size_letter(core, true).is_some() || core.chars().all(|c| c.is_ascii_digit())
}

/// Expands a token's core (no surrounding punctuation), or `None` to keep it as is.
fn expand_core(
    core: &str,
    prev: Option<&str>,
    next: Option<&str>,
    size_context: bool,
) -> Option<String> {
    if core.is_empty() {
        return None;
    }
    if core == "&" {
        return Some("and".into());
    }
    // `32 x 34` written with spaces.
    if matches!(core, "x" | "X" | "×")
        && prev.is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty())
        && next.is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit()))
    {
        return Some("by".into());
    }
    if core.eq_ignore_ascii_case("sku") {
        return Some("S K U".into());
    }
    if let Some(words) = range(core) {
        return Some(words);
    }
    if let Some(words) = amount(core) {
        return Some(words);
    }
    if let Some(words) = dimensions(core) {
        return Some(words);
    }
    if let Some(words) = size_list(core) {
        return Some(words);
    }
    if let Some(words) = size_letter(core, size_context) {
        return Some(words.into());
    }
    if let Some(words) = time(core) {
        return Some(words);
    }
    if let Some(words) = ordinal(core) {
        return Some(words);
    }
    // Before plain numbers: "item 55012" is a code, not fifty-five thousand.
    let after_code_word = matches!(prev, Some("sku" | "item" | "code" | "ref" | "style"));
    if let Some(words) = sku(core, after_code_word) {
        return Some(words);
    }
    if let Some(words) = number_with_unit(core) {
        return Some(words);
    }
    if let Some(words) = number(core) {
        return Some(words);
    }
    if let Some(digits) = core.strip_prefix('#')
        && let Some(words) = number(digits)
    {
        return Some(format!("number {words}"));
    }
    if let Some(rest) = core.strip_prefix("w/")
        && rest.starts_with(|c: char| c.is_alphabetic())
    {
        return Some(format!("with {rest}"));
    }
    None
}

/// Abbreviations, matched case-insensitively with their dots. `rest` is the token
/// without leading punctuation; returns the expansion and the punctuation left after
/// the abbreviation.
fn abbreviation<'a>(rest: &'a str, next: Option<&str>) -> Option<(&'static str, &'a str)> {
    const TABLE: &[(&str, &str)] = &[
        ("approx.", "approximately"),
        ("approx", "approximately"),
        ("e.g.", "for example"),
        ("eg.", "for example"),
        ("i.e.", "that is"),
        ("etc.", "et cetera"),
        ("vs.", "versus"),
        ("vs", "versus"),
        ("incl.", "including"),
        ("w/", "with"),
        ("w/o", "without"),
        ("qty", "quantity"),
        ("qty.", "quantity"),
        ("pcs", "pieces"),
        ("pcs.", "pieces"),
        ("dept.", "department"),
        ("mr.", "Mister"),
        ("mrs.", "Missus"),
        ("ms.", "Miz"),
        ("dr.", "Doctor"),
    ];
    let next_is_number = next.is_some_and(|n| n.starts_with(|c: char| c.is_ascii_digit()));
    // Try the longest prefix first so `e.g.` wins over `e.g`.
    let mut end = rest.len();
    loop {
        let candidate = &rest[..end];
        let lower = candidate.to_ascii_lowercase();
        if let Some((_, expansion)) = TABLE.iter().find(|(abbr, _)| *abbr == lower) {
            return Some((expansion, &rest[end..]));
        }
        // `No. 5` is "number 5"; a bare "No." is the word no.
        if lower == "no." && next_is_number {
            return Some(("number", &rest[end..]));
        }
        let c = candidate.chars().next_back()?;
        if !TRAILING.contains(&c) {
            return None;
        }
        end -= c.len_utf8();
    }
}

/// `$29.99-$39.99`, `10-20%`, `8–10`: two amounts joined by a dash read "A to B".
fn range(core: &str) -> Option<String> {
    let (a, b) = core.split_once(['-', '–'])?;
    let numeric = |s: &str| s.starts_with(|c: char| c.is_ascii_digit() || "$€£".contains(c));
    if !numeric(a) || !numeric(b) {
        return None;
    }
    let words = |s: &str| amount(s).or_else(|| number(s));
    // `10-20%` shares the percent sign: "ten to twenty percent".
    if b.ends_with('%') && !a.ends_with('%') {
        return Some(format!("{} to {}", number(a)?, amount(b)?));
    }
    // `$10-20` shares the currency: "ten dollars to twenty dollars".
    let b = match a.chars().next() {
        Some(symbol @ ('$' | '€' | '£')) if b.starts_with(|c: char| c.is_ascii_digit()) => {
            format!("{symbol}{b}")
        }
        _ => b.to_string(),
    };
    Some(format!("{} to {}", words(a)?, words(&b)?))
}

/// Prices (`$29.99`, `€5`, `£1,250`, `5€`) and percentages (`30%`).
fn amount(core: &str) -> Option<String> {
    if let Some(value) = core.strip_suffix('%') {
        return Some(format!("{} percent", number(value)?));
    }
    for (symbol, currency) in [('$', &DOLLAR), ('€', &EURO), ('£', &POUND)] {
        let value = core
            .strip_prefix(symbol)
            .or_else(|| core.strip_suffix(symbol))
            .or_else(|| core.strip_prefix("US").and_then(|c| c.strip_prefix(symbol)));
        if let Some(value) = value {
            return money(value, currency);
        }
    }
    None
}

/// Names of a currency's units, singular and plural.
struct Currency {
    major: (&'static str, &'static str),
    minor: (&'static str, &'static str),
}

const DOLLAR: Currency = Currency {
    major: ("dollar", "dollars"),
    minor: ("cent", "cents"),
};
const EURO: Currency = Currency {
    major: ("euro", "euros"),
    minor: ("cent", "cents"),
};
const POUND: Currency = Currency {
    major: ("pound", "pounds"),
    minor: ("penny", "pence"),
};

/// `29.99` in a currency: "twenty-nine dollars and ninety-nine cents".
fn money(value: &str, currency: &Currency) -> Option<String> {
    let (whole, fraction) = match value.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (value, None),
    };
    let whole = integer_value(if whole.is_empty() { "0" } else { whole })?;
    let minor = match fraction {
        None => 0,
        Some(f) if f.len() == 2 && f.chars().all(|c| c.is_ascii_digit()) => f.parse().ok()?,
        // `5.5` is five fifty.
        Some(f) if f.len() == 1 && f.chars().all(|c| c.is_ascii_digit()) => {
            f.parse::<u64>().ok()? * 10
        }
        Some(_) => return None,
    };
    let unit = |n: u64, (one, many): (&str, &str)| {
        format!("{} {}", cardinal(n), if n == 1 { one } else { many })
    };
    Some(match (whole, minor) {
        (0, m) if m > 0 => unit(m, currency.minor),
        (w, 0) => unit(w, currency.major),
        (w, m) => format!(
            "{} and {}",
            unit(w, currency.major),
            unit(m, currency.minor)
        ),
    })
}

/// `32x34` (waist by leg), `100x200`: "thirty-two by thirty-four".
fn dimensions(core: &str) -> Option<String> {
    let (a, b) = core.split_once(['x', 'X', '×'])?;
    Some(format!("{} by {}", number(a)?, number(b)?))
}

/// Letter sizes. `XS`, `XL`, `XXL`, `2XL`… are unambiguous; `S`, `M` and `L` only in
/// a size context ("size M", "sizes S, M and L"), otherwise they are letters.
fn size_letter(core: &str, size_context: bool) -> Option<&'static str> {
    let upper = core.to_ascii_uppercase();
    let always = match upper.as_str() {
        "XXS" | "2XS" => Some("double extra small"),
        "XS" => Some("extra small"),
        "XL" => Some("extra large"),
        "XXL" | "2XL" => Some("double extra large"),
        "XXXL" | "3XL" => Some("triple extra large"),
        "4XL" => Some("four extra large"),
        _ => None,
    };
    // `xl` in lower case is still a size; `s`, `m`, `l` in lower case are not.
    if always.is_some() {
        return always;
    }
    if !size_context {
        return None;
    }
    match core {
        "S" => Some("small"),
        "M" => Some("medium"),
        "L" => Some("large"),
        _ => None,
    }
}

/// `S/M/L`, `M/L`, `XL/XXL`: every part a size, read "small, medium or large".
fn size_list(core: &str) -> Option<String> {
    if !core.contains('/') {
        return None;
    }
    let parts: Option<Vec<&str>> = core.split('/').map(|p| size_letter(p, true)).collect();
    let parts = parts?;
    match parts.as_slice() {
        [] | [_] => None,
        [init @ .., last] => Some(format!("{} or {last}", init.join(", "))),
    }
}

/// `10:30` → "ten thirty", `9:05` → "nine oh five", `10:00` → "ten o'clock", with an
/// optional `am`/`pm` (also `10am`).
fn time(core: &str) -> Option<String> {
    let lower = core.to_ascii_lowercase();
    let (clock, suffix) = if let Some(c) = lower.strip_suffix("am") {
        (c, " a m")
    } else if let Some(c) = lower.strip_suffix("pm") {
        (c, " p m")
    } else {
        (lower.as_str(), "")
    };
    let (hours, minutes) = match clock.split_once(':') {
        Some((h, m)) => (h, Some(m)),
        // A bare hour only with am/pm: `10am`.
        None if !suffix.is_empty() => (clock, None),
        None => return None,
    };
    if hours.is_empty() || hours.len() > 2 || !hours.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let h: u64 = hours.parse().ok()?;
    if h > 24 {
        return None;
    }
    let minutes_words = match minutes {
        None => String::new(),
        Some(m) if m.len() == 2 && m.chars().all(|c| c.is_ascii_digit()) => {
            let m: u64 = m.parse().ok()?;
            match m {
                0 if suffix.is_empty() => " o'clock".into(),
                0 => String::new(),
                1..=9 => format!(" oh {}", cardinal(m)),
                10..=59 => format!(" {}", cardinal(m)),
                _ => return None,
            }
        }
        Some(_) => return None,
    };
    Some(format!("{}{minutes_words}{suffix}", cardinal(h)))
}

/// `1st`, `2nd`, `23rd`, `4th` → "first", "second", "twenty-third", "fourth".
fn ordinal(core: &str) -> Option<String> {
    let lower = core.to_ascii_lowercase();
    let digits = ["st", "nd", "rd", "th"]
        .iter()
        .find_map(|s| lower.strip_suffix(s))?;
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Num2Words::new(n as f64).ordinal().to_words().ok()
}

/// A number glued to a unit: `500ml`, `2kg`, `32in`, `10cm`.
fn number_with_unit(core: &str) -> Option<String> {
    const UNITS: &[(&str, &str, &str)] = &[
        ("mm", "millimetre", "millimetres"),
        ("cm", "centimetre", "centimetres"),
        ("m", "metre", "metres"),
        ("in", "inch", "inches"),
        ("ft", "foot", "feet"),
        ("kg", "kilogram", "kilograms"),
        ("g", "gram", "grams"),
        ("lb", "pound", "pounds"),
        ("lbs", "pound", "pounds"),
        ("oz", "ounce", "ounces"),
        ("ml", "millilitre", "millilitres"),
        ("l", "litre", "litres"),
    ];
    let split = core.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))?;
    let (value, unit) = core.split_at(split);
    if value.is_empty() {
        return None;
    }
    let lower = unit.to_ascii_lowercase();
    let (_, one, many) = UNITS.iter().find(|(u, _, _)| *u == lower)?;
    let words = number(value)?;
    Some(format!(
        "{words} {}",
        if words == "one" { one } else { many }
    ))
}

/// Spells a product code: letters one by one, digits as digits, separators dropped:
/// `TS-1042` → "T S one zero four two". A code is upper case with letters and digits
/// and a dash (`TS-1042`), or any such word right after "SKU", "item" or "code".
fn sku(core: &str, after_code_word: bool) -> Option<String> {
    let allowed = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-' || c == '_';
    if core.len() < 2 || !core.chars().all(allowed) {
        return None;
    }
    let letters = core.chars().any(|c| c.is_ascii_uppercase());
    let digits = core.chars().any(|c| c.is_ascii_digit());
    let dashed = core.contains(['-', '_']);
    if !(digits && ((letters && dashed) || after_code_word)) {
        return None;
    }
    let spelled: Vec<&str> = core
        .chars()
        .filter_map(|c| match c {
            '0'..='9' => Some(DIGITS[(c as u8 - b'0') as usize]),
            'A'..='Z' => Some(LETTERS[(c as u8 - b'A') as usize]),
            _ => None,
        })
        .collect();
    Some(spelled.join(" "))
}

const DIGITS: [&str; 10] = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
];
const LETTERS: [&str; 26] = [
    "A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q", "R", "S",
    "T", "U", "V", "W", "X", "Y", "Z",
];

/// A plain number: `8`, `1,250`, `2.5`, `007` (leading zero: read digit by digit).
fn number(text: &str) -> Option<String> {
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    let mut words = if whole.len() > 1 && whole.starts_with('0') && !whole.contains(',') {
        if !whole.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        spell_digits(whole)
    } else {
        cardinal(integer_value(if whole.is_empty() && fraction.is_some() {
            "0"
        } else {
            whole
        })?)
    };
    if let Some(fraction) = fraction {
        if fraction.is_empty() || !fraction.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        words.push_str(" point ");
        words.push_str(&spell_digits(fraction));
    }
    Some(words)
}

/// Digits one by one: "0 4 2" → "zero four two".
fn spell_digits(digits: &str) -> String {
    digits
        .chars()
        .filter_map(|c| c.to_digit(10).map(|d| DIGITS[d as usize]))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Digits with optional thousands commas (`1,250`), as a number; `None` otherwise.
fn integer_value(text: &str) -> Option<u64> {
    if text.is_empty() || text.starts_with(',') || text.ends_with(',') {
        return None;
    }
    let mut groups = text.split(',');
    let first = groups.next()?;
    if first.is_empty() || (first.len() > 3 && text.contains(',')) {
        return None;
    }
    let rest: Vec<&str> = groups.collect();
    if rest.iter().any(|g| g.len() != 3) {
        return None;
    }
    let digits: String = text.chars().filter(|c| *c != ',').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || digits.len() > 15 {
        return None;
    }
    digits.parse().ok()
}

/// A whole number in words ("twenty-nine", "one thousand two hundred and fifty").
fn cardinal(n: u64) -> String {
    // num2words works on floats; below 10^15 every integer is exact. Its error
    // cases (NaN, infinity) cannot occur, so the digits fallback is never heard.
    Num2Words::new(n as f64)
        .to_words()
        .unwrap_or_else(|_| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::normalise;

    fn check(cases: &[(&str, &str)]) {
        for (input, expected) in cases {
            assert_eq!(normalise(input), *expected, "input {input:?}");
        }
    }

    #[test]
    fn prices() {
        check(&[
            ("$29.99", "twenty-nine dollars and ninety-nine cents"),
            (
                "It is $29.99.",
                "It is twenty-nine dollars and ninety-nine cents.",
            ),
            ("€5", "five euros"),
            ("£1,250", "one thousand two hundred and fifty pounds"),
            ("$1", "one dollar"),
            ("$0.99", "ninety-nine cents"),
            ("$5.00", "five dollars"),
            ("£2.01", "two pounds and one penny"),
            ("£3.50", "three pounds and fifty pence"),
            ("15€", "fifteen euros"),
            ("($40)", "(forty dollars)"),
            (
                "$29.99-$39.99",
                "twenty-nine dollars and ninety-nine cents to thirty-nine dollars and ninety-nine cents",
            ),
            ("$10-20", "ten dollars to twenty dollars"),
        ]);
    }

    #[test]
    fn sizes() {
        check(&[
            ("XL", "extra large"),
            ("in XXL", "in double extra large"),
            ("a 2XL hoodie", "a double extra large hoodie"),
            ("XS", "extra small"),
            ("S/M/L", "small, medium or large"),
            ("M/L", "medium or large"),
            ("size M", "size medium"),
            ("sizes S, M and L.", "sizes small, medium and large."),
            ("Do you have it in L?", "Do you have it in large?"),
            ("32x34", "thirty-two by thirty-four"),
            ("jeans 32 x 34", "jeans thirty-two by thirty-four"),
            ("size 8", "size eight"),
            ("size 10.5", "size ten point five"),
            // Outside a size context a capital letter stays a letter.
            ("Plan B", "Plan B"),
            ("I like M and M sweets", "I like M and M sweets"),
        ]);
    }

    #[test]
    fn percentages_and_numbers() {
        check(&[
            ("30% off", "thirty percent off"),
            ("12.5%", "twelve point five percent"),
            ("10-20% off", "ten to twenty percent off"),
            ("3 colours", "three colours"),
            ("1,250 items", "one thousand two hundred and fifty items"),
            ("2.5", "two point five"),
            ("the 3rd aisle", "the third aisle"),
            ("21st", "twenty-first"),
            ("#5", "number five"),
            ("No. 5", "number five"),
            ("No. thanks", "No. thanks"),
            ("aisle 007", "aisle zero zero seven"),
            ("500ml", "five hundred millilitres"),
            ("1kg", "one kilogram"),
            ("open at 10:30", "open at ten thirty"),
            ("9:05am", "nine oh five a m"),
            ("at 10:00", "at ten o'clock"),
            ("until 6pm.", "until six p m."),
        ]);
    }

    #[test]
    fn skus() {
        check(&[
            ("SKU TS-1042", "S K U T S one zero four two"),
            ("item 55012", "item five five zero one two"),
            ("Look for TS-1042.", "Look for T S one zero four two."),
            ("code AB12", "code A B one two"),
            // A hyphenated word is not a code.
            ("a T-shirt", "a T-shirt"),
        ]);
    }

    #[test]
    fn abbreviations() {
        check(&[
            ("approx. 5 days", "approximately five days"),
            (
                "colours, e.g. red or blue",
                "colours, for example red or blue",
            ),
            ("jeans w/ pockets", "jeans with pockets"),
            ("a coat w/hood", "a coat with hood"),
            ("boots w/o laces", "boots without laces"),
            ("i.e., the blue one", "that is, the blue one"),
            ("shoes, socks, etc.", "shoes, socks, et cetera."),
            ("Dr. Martens boots", "Doctor Martens boots"),
            ("black & white", "black and white"),
            ("qty 2", "quantity two"),
        ]);
    }

    #[test]
    fn plain_text_and_punctuation_pass_through() {
        check(&[
            (
                "Hello! How can I help you today?",
                "Hello! How can I help you today?",
            ),
            ("  spaced   out  ", "spaced out"),
            ("\"Quoted\", she said.", "\"Quoted\", she said."),
            ("Great choice 👍", "Great choice"),
            ("", ""),
        ]);
    }
}
