//! The grounding check: a sentence the language model wrote is spoken only when every
//! product, price, size, stock figure, category and colour it mentions came from a tool
//! result of this turn or the session, or from the customer herself. A small model
//! invents plausible figures; a kiosk must never quote a price or a size that does not
//! exist, so a sentence that fails makes the turn fall back to a reply composed from the
//! tool results.
//!
//! Strict on facts, lenient on ordinary words: sentences with no figures always pass,
//! "this one" is a pronoun rather than a count, lower-case "s"/"m" are not sizes, and a
//! capitalised phrase only fails when none of its distinctive words is known.

use std::collections::BTreeSet;
use std::fmt;

use protocol::catalog::{Product, Purchase};
use protocol::dialogue::ProductCard;
use protocol::vocabulary::garment_terms;

/// What a reply may mention: everything tools returned this turn and this session, and
/// what the customer said.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Canonical categories (and the names as the catalogue wrote them).
    categories: BTreeSet<String>,
    /// Canonical colours (and the names as the catalogue wrote them).
    colours: BTreeSet<String>,
    /// Sizes, upper-case (`M`, `38`, `ONE SIZE`).
    sizes: BTreeSet<String>,
    /// Whole numbers that may be said: stock counts, numeric sizes, positions, the
    /// number of cards, the customer's numbers.
    numbers: BTreeSet<u64>,
    /// Prices as (ISO currency, cents); an empty currency (the customer's "under 50")
    /// matches any currency.
    prices: BTreeSet<(String, u64)>,
    /// Lower-case words of titles, brands, allowed words and the customer's words, which
    /// a capitalised phrase must overlap.
    name_words: BTreeSet<String>,
    /// Phrases blanked out of a sentence before it is read (titles, brands, SKUs,
    /// allowed words), so that a name such as "Olive" or a "fitting room 3" is not read
    /// as a colour or a figure.
    phrases: BTreeSet<String>,
}

impl Facts {
    /// Facts of a turn that has not called any tool yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// A product a tool returned (search, goes-with, details with live stock): its title
    /// words, category, colours, price, sizes and stock counts become mentionable.
    ///
    /// Only sizes with stock become mentionable sizes, so the model cannot offer a size
    /// that is sold out; every stock count (zero too) may be said. The description is
    /// what the model is told to ground on, so the garments, colours and whole numbers
    /// it names ("layers well under a sweater") may be repeated too.
    pub fn add_product(&mut self, product: &Product) {
        self.add_tool_text(&product.description);
        self.add_title(&product.title);
        self.add_title(&product.brand);
        self.add_phrase(&product.sku);
        self.add_category(&product.category);
        for colour in &product.colours {
            self.add_colour(colour);
        }
        self.add_price(&product.currency, product.price_cents);
        for size in &product.sizes {
            self.numbers.insert(u64::from(size.stock));
            if size.stock > 0 {
                self.add_size(&size.size);
            }
        }
    }

    /// A card shown (same as a product, plus its position and the number of cards).
    ///
    /// The card's `why` ("navy is a classic partner for pink") is a tool's own sentence,
    /// so the categories and colours it names may be repeated.
    pub fn add_cards(&mut self, cards: &[ProductCard]) {
        for card in cards {
            self.add_title(&card.title);
            self.add_phrase(&card.sku);
            self.add_category(&card.category);
            for colour in &card.colours {
                self.add_colour(colour);
            }
            self.add_price(&card.currency, card.price_cents);
            for size in &card.sizes_in_stock {
                self.add_size(size);
            }
            self.numbers.insert(u64::from(card.position));
            if let Some(why) = &card.why {
                self.add_tool_text(why);
            }
        }
        self.numbers
            .insert(u64::try_from(cards.len()).unwrap_or(u64::MAX));
    }

    /// One of the customer's past purchases (category, colours, title, size).
    pub fn add_purchase(&mut self, purchase: &Purchase) {
        self.add_title(&purchase.title);
        self.add_phrase(&purchase.sku);
        self.add_category(&purchase.category);
        for colour in &purchase.colours {
            self.add_colour(colour);
        }
        if let Some(size) = &purchase.size {
            self.add_size(size);
        }
    }

    /// What the customer said: categories, colours, sizes, numbers she used may be
    /// repeated back.
    ///
    /// Read generously (size words anywhere, every number also as a size and an amount),
    /// since repeating the customer's own words back invents nothing.
    pub fn add_said(&mut self, text: &str) {
        let reading = read(text, true);
        for (figure, _) in reading.figures {
            match figure {
                Figure::Whole(n) => {
                    self.numbers.insert(n);
                    self.sizes.insert(n.to_string());
                    self.prices.insert((String::new(), n.saturating_mul(100)));
                }
                Figure::Decimal { cents, split } => {
                    self.prices.insert((String::new(), cents));
                    if let Some((a, b)) = split {
                        self.numbers.extend([a, b]);
                    }
                }
                Figure::Money {
                    cents, currency, ..
                } => {
                    let currency = currency.unwrap_or_default().to_owned();
                    self.prices.insert((currency, cents));
                }
                Figure::Size(n) => {
                    self.numbers.insert(n);
                    self.sizes.insert(n.to_string());
                }
                Figure::Spoken { whole, cents } => {
                    self.numbers.extend([whole, cents]);
                    self.prices.insert((
                        String::new(),
                        whole.saturating_mul(100).saturating_add(cents),
                    ));
                }
            }
        }
        self.sizes
            .extend(reading.sizes.into_iter().map(|(size, _)| size));
        self.categories.extend(reading.categories);
        self.colours.extend(reading.colours);
        self.name_words.extend(words_of(text));
    }

    /// A free-form allowed term (e.g. the customer's name, a fitting room).
    ///
    /// Blanked out of a sentence before it is checked, so a name that is also a colour
    /// ("Olive") or a room with a number ("fitting room 3") passes.
    pub fn allow_word(&mut self, word: &str) {
        self.add_phrase(word);
        self.name_words.extend(words_of(word));
    }

    /// A tool's own prose (a description, a card's reason): its categories, colours and
    /// whole numbers. Read strictly, so "a small print" adds no size and "denim" beside
    /// another garment adds no jeans.
    fn add_tool_text(&mut self, text: &str) {
        let reading = read(text, false);
        self.categories.extend(reading.categories);
        self.colours.extend(reading.colours);
        for (figure, _) in reading.figures {
            if let Figure::Whole(n) = figure {
                self.numbers.insert(n);
            }
        }
    }

    /// A title or brand: blanked out when quoted exactly, and its words make a
    /// capitalised phrase about it known.
    fn add_title(&mut self, title: &str) {
        self.add_phrase(title);
        self.name_words.extend(words_of(title));
    }

    /// A phrase to blank out before reading; ignored when it has no letter or digit,
    /// which would blank nothing useful.
    fn add_phrase(&mut self, phrase: &str) {
        let phrase = phrase.trim();
        if phrase.chars().any(char::is_alphanumeric) {
            self.phrases.insert(phrase.to_owned());
        }
    }

    /// A category as the catalogue wrote it and as the vocabulary reads it, so either
    /// spelling matches.
    fn add_category(&mut self, category: &str) {
        let category = category.trim().to_lowercase();
        if let Some(canonical) = garment_terms(&category).category {
            self.categories.insert(canonical);
        }
        self.categories.insert(category);
    }

    /// A colour as the catalogue wrote it and as the vocabulary reads it.
    fn add_colour(&mut self, colour: &str) {
        let colour = colour.trim().to_lowercase();
        self.colours.extend(garment_terms(&colour).colours);
        self.colours.insert(colour);
    }

    /// A size in stock or bought; numeric sizes may also be said as plain numbers.
    fn add_size(&mut self, size: &str) {
        let size = size.trim().to_uppercase();
        if let Ok(n) = size.parse::<u64>() {
            self.numbers.insert(n);
        }
        self.sizes.insert(size);
    }

    /// A price in its currency.
    fn add_price(&mut self, currency: &str, cents: u64) {
        self.prices.insert((currency.trim().to_uppercase(), cents));
    }

    /// Whether an amount is a known price. Whole euros (`exact` false) may also be a
    /// price with cents rounded ("about 40 euros" for 39.95) or truncated ("39 euros").
    fn price_known(&self, cents: u64, exact: bool, currency: Option<&str>) -> bool {
        self.prices.iter().any(|(known_currency, price)| {
            let same_currency = match currency {
                None => true,
                Some(c) => known_currency.is_empty() || known_currency.eq_ignore_ascii_case(c),
            };
            let rounded = !exact
                && !price.is_multiple_of(100)
                && cents.is_multiple_of(100)
                && (price / 100 == cents / 100 || price.saturating_add(50) / 100 == cents / 100);
            same_currency && (*price == cents || rounded)
        })
    }

    /// Whether a figure of a sentence is known, and if not, why.
    fn check_figure(&self, figure: &Figure, raw: &str) -> Result<(), Ungrounded> {
        let known = match *figure {
            Figure::Whole(n) => {
                self.numbers.contains(&n) || self.price_known(n.saturating_mul(100), true, None)
            }
            Figure::Decimal { cents, split } => {
                self.price_known(cents, true, None)
                    || split.is_some_and(|(a, b)| {
                        self.numbers.contains(&a) && self.numbers.contains(&b)
                    })
            }
            Figure::Money {
                cents,
                exact,
                currency,
            } => {
                return if self.price_known(cents, exact, currency) {
                    Ok(())
                } else {
                    Err(Ungrounded::Price(raw.to_owned()))
                };
            }
            Figure::Size(n) => {
                return if self.sizes.contains(&n.to_string()) {
                    Ok(())
                } else {
                    Err(Ungrounded::Size(raw.to_owned()))
                };
            }
            Figure::Spoken { whole, cents } => {
                self.price_known(whole.saturating_mul(100).saturating_add(cents), true, None)
                    || (self.numbers.contains(&whole) && self.numbers.contains(&cents))
            }
        };
        if known {
            Ok(())
        } else {
            Err(Ungrounded::Number(raw.to_owned()))
        }
    }

    /// Whether a colour is known; a plain hue is also known when a shade of it is
    /// ("blue" for a light blue shirt), since that says less, not something else.
    fn colour_known(&self, colour: &str) -> bool {
        let suffix = format!(" {colour}");
        self.colours.contains(colour) || self.colours.iter().any(|c| c.ends_with(&suffix))
    }
}

/// Why a sentence is not grounded, for logs and tests (never contains personal data
/// beyond the sentence's own word).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ungrounded {
    /// A number that is no stock count, size, position, price or number the customer
    /// said, as written ("7", "twenty").
    Number(String),
    /// An amount of money that is no known price, as written ("29.95").
    Price(String),
    /// A category no tool returned and the customer did not name (canonical, `coat`).
    Category(String),
    /// A colour no tool returned and the customer did not name (canonical, `red`).
    Colour(String),
    /// A size not in stock, not bought and not asked for, as written ("XXL", "large").
    Size(String),
    /// A capitalised or quoted phrase that looks like a product title and overlaps no
    /// known title or brand, as written.
    Product(String),
}

impl fmt::Display for Ungrounded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ungrounded::Number(n) => write!(f, "number {n:?} is in no tool result"),
            Ungrounded::Price(p) => write!(f, "price {p:?} is no known price"),
            Ungrounded::Category(c) => write!(f, "category {c:?} is in no tool result"),
            Ungrounded::Colour(c) => write!(f, "colour {c:?} is in no tool result"),
            Ungrounded::Size(s) => write!(f, "size {s:?} is not in stock or asked for"),
            Ungrounded::Product(p) => write!(f, "product {p:?} is in no tool result"),
        }
    }
}

impl std::error::Error for Ungrounded {}

/// Checks one sentence (or a whole reply).
///
/// Rules are checked in this order and the first failure is returned: numbers and
/// prices, sizes, categories, colours, product names.
pub fn check(text: &str, facts: &Facts) -> Result<(), Ungrounded> {
    let masked = mask(text, &facts.phrases);
    let reading = read(&masked, false);
    for (figure, raw) in &reading.figures {
        facts.check_figure(figure, raw)?;
    }
    for (size, raw) in &reading.sizes {
        if !facts.sizes.contains(size) {
            return Err(Ungrounded::Size(raw.clone()));
        }
    }
    for category in &reading.categories {
        if !facts.categories.contains(category) {
            return Err(Ungrounded::Category(category.clone()));
        }
    }
    for colour in &reading.colours {
        if !facts.colour_known(colour) {
            return Err(Ungrounded::Colour(colour.clone()));
        }
    }
    for (raw, words) in &reading.names {
        let mut distinctive = words.iter().filter(|w| is_distinctive(w)).peekable();
        if distinctive.peek().is_none() {
            continue;
        }
        let overlaps = distinctive.any(|w| {
            facts.name_words.contains(w.as_str())
                || w.strip_suffix('s')
                    .is_some_and(|stem| facts.name_words.contains(stem))
        });
        if !overlaps {
            return Err(Ungrounded::Product(raw.clone()));
        }
    }
    Ok(())
}

/// A figure a text states, already classified by how it was said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Figure {
    /// A whole number or ordinal without money words ("3 left", "the second one").
    Whole(u64),
    /// A number with a fraction and no money words ("39.95"); `split` keeps the halves
    /// of a comma-written one, which may be a list ("38,40").
    Decimal {
        /// Read as an amount, in cents.
        cents: u64,
        /// The two numbers, when written with a comma.
        split: Option<(u64, u64)>,
    },
    /// An amount with a currency sign or word ("€39.95", "40 euros").
    Money {
        /// Amount in cents.
        cents: u64,
        /// False for whole units, which may round a price.
        exact: bool,
        /// ISO code of the currency named.
        currency: Option<&'static str>,
    },
    /// A number said as a size ("size 38", "sizes 36 and 38").
    Size(u64),
    /// Two spoken numbers in a row ("thirty-nine ninety-five"): a price or two numbers.
    Spoken {
        /// First number (euros).
        whole: u64,
        /// Second number (cents).
        cents: u64,
    },
}

/// What a text mentions, before it is compared with the facts.
#[derive(Debug, Default)]
struct Reading {
    /// Figures with the text as written.
    figures: Vec<(Figure, String)>,
    /// Sizes (upper-case, `ONE SIZE`) with the text as written.
    sizes: Vec<(String, String)>,
    /// Canonical categories.
    categories: Vec<String>,
    /// Canonical colours.
    colours: Vec<String>,
    /// Title-like phrases as written, with their lower-case words.
    names: Vec<(String, Vec<String>)>,
}

/// Reads what a text mentions. `said` reads the customer's words generously: size
/// words anywhere, weak category words ("denim") alone too.
fn read(text: &str, said: bool) -> Reading {
    let text = Text::new(text);
    let mut reading = Reading::default();
    let scan = read_sizes(&text, said, &mut reading.sizes);
    read_figures(&text, &scan, &mut reading.figures);
    read_garments(&text, said, &mut reading);
    read_names(&text, &mut reading.names);
    reading
}

/// A word of a text.
#[derive(Debug)]
struct Word {
    /// Lower-case.
    lower: String,
    /// Every letter upper-case ("XL", "EUR", "I").
    all_caps: bool,
    /// Upper-case first letter followed by lower-case ones ("Harbour").
    capitalised: bool,
    /// Right after an apostrophe, as the "s" of "it's" and the "m" of "I'm".
    after_apostrophe: bool,
    /// First word of a sentence, capitalised for that reason alone.
    sentence_start: bool,
}

/// A digit-written number.
#[derive(Debug)]
struct Digits {
    /// Whole part (thousands separators removed).
    whole: u64,
    /// Fraction digits (one or two) when written.
    frac: Option<String>,
    /// Decimal separator written, `.` or `,`.
    sep: char,
    /// Written as an ordinal ("2nd").
    ordinal: bool,
}

/// What a token is.
#[derive(Debug)]
enum Kind {
    /// A run of letters.
    Word(Word),
    /// A number written in digits.
    Num(Digits),
    /// Any other character (punctuation, currency signs, newlines).
    Sym(char),
}

/// A token with its span in characters of the text.
#[derive(Debug)]
struct Tok {
    /// What it is.
    kind: Kind,
    /// First character.
    start: usize,
    /// One past the last character.
    end: usize,
}

/// A text split into tokens; spaces are dropped, newlines kept as sentence ends.
struct Text {
    /// The characters, to give back spans as written.
    chars: Vec<char>,
    /// The tokens in order.
    toks: Vec<Tok>,
}

/// Characters that end a sentence, after which a capital letter says nothing.
const SENTENCE_ENDS: [char; 6] = ['.', '!', '?', ':', ';', '\n'];

impl Text {
    /// Splits a text into tokens, marking sentence starts.
    fn new(text: &str) -> Self {
        let chars: Vec<char> = text.chars().collect();
        let mut toks = Vec::new();
        let mut sentence_start = true;
        let mut i = 0;
        while let Some(&c) = chars.get(i) {
            let start = i;
            if c.is_whitespace() && c != '\n' {
                i += 1;
                continue;
            }
            let kind = if c.is_ascii_digit() {
                let digits = read_digits(&chars, &mut i);
                sentence_start = false;
                Kind::Num(digits)
            } else if c.is_alphabetic() {
                while chars.get(i).is_some_and(|c| c.is_alphabetic()) {
                    i += 1;
                }
                let written: String = slice(&chars, start, i);
                let after_apostrophe = start
                    .checked_sub(1)
                    .and_then(|p| chars.get(p))
                    .is_some_and(|p| matches!(p, '\'' | '’'));
                let mut letters = written.chars();
                let capitalised = letters.next().is_some_and(char::is_uppercase)
                    && letters.any(char::is_lowercase);
                let word = Word {
                    lower: written.to_lowercase(),
                    all_caps: !written.chars().any(char::is_lowercase),
                    capitalised,
                    after_apostrophe,
                    sentence_start,
                };
                sentence_start = false;
                Kind::Word(word)
            } else {
                i += 1;
                if SENTENCE_ENDS.contains(&c) {
                    sentence_start = true;
                }
                Kind::Sym(c)
            };
            toks.push(Tok {
                kind,
                start,
                end: i,
            });
        }
        Self { chars, toks }
    }

    /// The lower-case word at `i`, if that token is a word.
    fn word(&self, i: usize) -> Option<&str> {
        match self.toks.get(i).map(|t| &t.kind) {
            Some(Kind::Word(w)) => Some(w.lower.as_str()),
            _ => None,
        }
    }

    /// The symbol at `i`, if that token is one.
    fn sym(&self, i: usize) -> Option<char> {
        match self.toks.get(i).map(|t| &t.kind) {
            Some(Kind::Sym(c)) => Some(*c),
            _ => None,
        }
    }

    /// Tokens `from..to` as written.
    fn raw(&self, from: usize, to: usize) -> String {
        let start = self.toks.get(from).map_or(0, |t| t.start);
        let end = to
            .checked_sub(1)
            .and_then(|last| self.toks.get(last))
            .map_or(start, |t| t.end);
        slice(&self.chars, start, end)
    }
}

/// Characters `start..end` as a string (empty when out of range).
fn slice(chars: &[char], start: usize, end: usize) -> String {
    chars
        .get(start..end)
        .map(|s| s.iter().collect())
        .unwrap_or_default()
}

/// How many ASCII digits start at `i`.
fn digit_run(chars: &[char], i: usize) -> usize {
    chars.get(i..).map_or(0, |rest| {
        rest.iter().take_while(|c| c.is_ascii_digit()).count()
    })
}

/// Reads a number written in digits from `*i`: "39", "39.95", "39,95", "1,000", "2nd".
fn read_digits(chars: &[char], i: &mut usize) -> Digits {
    let mut whole: u64 = 0;
    while let Some(d) = chars.get(*i).and_then(|c| c.to_digit(10)) {
        whole = whole.saturating_mul(10).saturating_add(u64::from(d));
        *i += 1;
    }
    // Thousands groups: a comma and exactly three digits ("1,000"), never two ("39,95").
    while chars.get(*i) == Some(&',') && digit_run(chars, *i + 1) == 3 {
        for _ in 0..3 {
            *i += 1;
            let d = chars.get(*i).and_then(|c| c.to_digit(10)).unwrap_or(0);
            whole = whole.saturating_mul(10).saturating_add(u64::from(d));
        }
        *i += 1;
    }
    let mut frac = None;
    let mut sep = '.';
    if let Some(&s @ ('.' | ',')) = chars.get(*i) {
        let n = digit_run(chars, *i + 1);
        if (1..=2).contains(&n) {
            sep = s;
            frac = Some(slice(chars, *i + 1, *i + 1 + n));
            *i += 1 + n;
        }
    }
    let letters: String = chars
        .get(*i..)
        .unwrap_or_default()
        .iter()
        .take_while(|c| c.is_alphabetic())
        .collect::<String>()
        .to_lowercase();
    let ordinal = frac.is_none() && matches!(letters.as_str(), "st" | "nd" | "rd" | "th");
    if ordinal {
        *i += 2;
    }
    Digits {
        whole,
        frac,
        sep,
        ordinal,
    }
}

/// The lower-case words of a text, for overlap with capitalised phrases.
fn words_of(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// Folds a character for case-insensitive matching, one character for one.
fn fold(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

/// Blanks out every known phrase (whole words, any case) so it is not read again.
fn mask(text: &str, phrases: &BTreeSet<String>) -> String {
    let mut out: Vec<char> = text.chars().collect();
    let lower: Vec<char> = out.iter().map(|&c| fold(c)).collect();
    let mut phrases: Vec<Vec<char>> = phrases
        .iter()
        .map(|p| p.chars().map(fold).collect())
        .collect();
    // Longest first, so "Marlow & Finch" goes before a shorter phrase inside it.
    phrases.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let boundary = |i: Option<usize>| {
        i.and_then(|i| lower.get(i))
            .is_none_or(|c| !c.is_alphanumeric())
    };
    for phrase in &phrases {
        let n = phrase.len();
        let mut start = 0;
        while start + n <= lower.len() {
            let here = lower.get(start..start + n) == Some(phrase.as_slice())
                && boundary(start.checked_sub(1))
                && boundary(Some(start + n));
            if here {
                for c in out.get_mut(start..start + n).unwrap_or_default() {
                    *c = ' ';
                }
                start += n;
            } else {
                start += 1;
            }
        }
    }
    out.into_iter().collect()
}

/// Letter sizes recognised: the catalogue's and the ones beyond it, so an invented
/// "XXL" is caught rather than ignored.
const LETTER_SIZES: [&str; 8] = ["XXS", "XS", "S", "M", "L", "XL", "XXL", "XXXL"];

/// Words that may follow a size word used as a size ("in large, please"); any other
/// word makes it an adjective ("in a large range").
const SIZE_FOLLOWERS: &[&str] = &[
    "and",
    "or",
    "too",
    "instead",
    "please",
    "size",
    "sizes",
    "as",
    "for",
    "if",
    "then",
    "now",
    "today",
    "is",
    "are",
    "was",
    "were",
    "would",
    "will",
    "could",
    "should",
    "that",
    "which",
    "but",
    "so",
    "at",
    "in",
    "only",
    "also",
    "available",
    "left",
    "right",
    "here",
    "there",
    "still",
    "fits",
];

/// Token indices read as sizes, so figures are not read from them again.
#[derive(Debug, Default)]
struct SizeScan {
    /// Numbers that are sizes ("size 38").
    numeric: BTreeSet<usize>,
    /// The "one" of "one size" and of "one size up", not a count.
    skip: BTreeSet<usize>,
}

/// A size word at `j` ("small", "extra large", "x-large"), its size and where it ends.
fn size_word_at(t: &Text, j: usize) -> Option<(&'static str, usize)> {
    let plain = |w: &str| match w {
        "small" => Some("S"),
        "medium" => Some("M"),
        "large" => Some("L"),
        _ => None,
    };
    let extra = |w: &str| match w {
        "small" => Some("XS"),
        "large" => Some("XL"),
        _ => None,
    };
    match t.word(j)? {
        "extra" | "x" => {
            let k = if t.sym(j + 1) == Some('-') {
                j + 2
            } else {
                j + 1
            };
            t.word(k).and_then(extra).map(|s| (s, k + 1))
        }
        w => plain(w).map(|s| (s, j + 1)),
    }
}

/// A letter size at `j` in any case ("m" after "size"), with where it ends.
fn letter_size_at(t: &Text, j: usize) -> Option<(String, usize)> {
    let upper = t.word(j)?.to_uppercase();
    LETTER_SIZES
        .contains(&upper.as_str())
        .then_some((upper, j + 1))
}

/// A whole number at `j` (digits or words), its value and where it ends.
fn number_at(t: &Text, j: usize) -> Option<(u64, usize)> {
    match t.toks.get(j).map(|tok| &tok.kind) {
        Some(Kind::Num(d)) if d.frac.is_none() && !d.ordinal => Some((d.whole, j + 1)),
        Some(Kind::Word(_)) => number_words_at(t, j),
        _ => None,
    }
}

/// Skips list separators (",", "/", "and", "or") from `j`.
fn skip_separators(t: &Text, mut j: usize) -> usize {
    while matches!(t.sym(j), Some(',' | '/')) || matches!(t.word(j), Some("and" | "or")) {
        j += 1;
    }
    j
}

/// Reads sizes: upper-case letter sizes anywhere, lists after "size"/"sizes", size words
/// after "in (a)" when used as a size, and "one size".
fn read_sizes(t: &Text, said: bool, out: &mut Vec<(String, String)>) -> SizeScan {
    let mut scan = SizeScan::default();
    let mut taken = BTreeSet::new();
    let mut push = |out: &mut Vec<(String, String)>, size: String, from: usize, to: usize| {
        if taken.insert(from) {
            out.push((size, t.raw(from, to)));
        }
    };
    for (i, tok) in t.toks.iter().enumerate() {
        match t.word(i) {
            Some("size" | "sizes") => {
                // "sizes S, M and 38": every item of the list is a size.
                let mut j = i + 1;
                loop {
                    if let Some((size, end)) = letter_size_at(t, j)
                        .or_else(|| size_word_at(t, j).map(|(s, e)| (s.to_owned(), e)))
                    {
                        push(out, size, j, end);
                        j = end;
                    } else if let Some((_, end)) = number_at(t, j) {
                        scan.numeric.insert(j);
                        j = end;
                    } else {
                        break;
                    }
                    let next = skip_separators(t, j);
                    if next == j {
                        break;
                    }
                    j = next;
                }
            }
            Some("in") => {
                let mut j = i + 1;
                if matches!(t.word(j), Some("a" | "an")) {
                    j += 1;
                }
                while let Some((size, end)) = size_word_at(t, j) {
                    let ends_phrase = match t.toks.get(end).map(|tok| &tok.kind) {
                        None => true,
                        Some(Kind::Sym(c)) => *c != '-',
                        Some(Kind::Word(w)) => SIZE_FOLLOWERS.contains(&w.lower.as_str()),
                        Some(Kind::Num(_)) => false,
                    };
                    if !ends_phrase {
                        break;
                    }
                    push(out, size.to_owned(), j, end);
                    let next = skip_separators(t, end);
                    if next == end {
                        break;
                    }
                    j = next;
                }
            }
            Some("one") if t.word(i + 1) == Some("size") => {
                scan.skip.insert(i);
                // "one size up" is a relative step, not the size called "one size".
                let relative = matches!(
                    t.word(i + 2),
                    Some("up" | "down" | "bigger" | "smaller" | "larger")
                );
                if !relative {
                    push(out, "ONE SIZE".to_owned(), i, i + 2);
                }
            }
            _ => {}
        }
        if let Kind::Word(w) = &tok.kind {
            let upper = w.lower.to_uppercase();
            // "M&S" and the "m" of "I'm" are no sizes.
            let glued = matches!(t.sym(i + 1), Some('&' | '\'' | '’'))
                || i.checked_sub(1).and_then(|p| t.sym(p)) == Some('&');
            if w.all_caps && !w.after_apostrophe && !glued && LETTER_SIZES.contains(&upper.as_str())
            {
                push(out, upper, i, i + 1);
            } else if said && let Some((size, end)) = size_word_at(t, i) {
                push(out, size.to_owned(), i, end);
            }
        }
    }
    scan
}

/// Units, teens and tens as words.
fn small_number(word: &str) -> Option<u64> {
    Some(match word {
        "zero" => 0,
        "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        "thirteen" => 13,
        "fourteen" => 14,
        "fifteen" => 15,
        "sixteen" => 16,
        "seventeen" => 17,
        "eighteen" => 18,
        "nineteen" => 19,
        _ => return tens(word),
    })
}

/// Tens as words.
fn tens(word: &str) -> Option<u64> {
    Some(match word {
        "twenty" => 20,
        "thirty" => 30,
        "forty" => 40,
        "fifty" => 50,
        "sixty" => 60,
        "seventy" => 70,
        "eighty" => 80,
        "ninety" => 90,
        _ => return None,
    })
}

/// Ordinals as words; "first" is left out, being ordinary ("first, let me look").
fn ordinal_word(word: &str) -> Option<u64> {
    Some(match word {
        "second" => 2,
        "third" => 3,
        "fourth" => 4,
        "fifth" => 5,
        "sixth" => 6,
        "seventh" => 7,
        "eighth" => 8,
        "ninth" => 9,
        "tenth" => 10,
        "eleventh" => 11,
        "twelfth" => 12,
        _ => return None,
    })
}

/// A number up to ninety-nine in words ("twenty-nine", "forty five"), or hundreds
/// ("a hundred and twenty"), at `i`: its value and where it ends.
fn number_words_at(t: &Text, i: usize) -> Option<(u64, usize)> {
    let below_hundred = |i: usize| -> Option<(u64, usize)> {
        let word = t.word(i)?;
        let value = small_number(word)?;
        if tens(word).is_some() {
            let j = if t.sym(i + 1) == Some('-') {
                i + 2
            } else {
                i + 1
            };
            if let Some(unit) = t
                .word(j)
                .and_then(small_number)
                .filter(|u| (1..=9).contains(u))
            {
                return Some((value + unit, j + 1));
            }
        }
        Some((value, i + 1))
    };
    let (mut value, mut end) = if t.word(i) == Some("a") && t.word(i + 1) == Some("hundred") {
        (1, i + 1)
    } else {
        below_hundred(i)?
    };
    if t.word(end) == Some("hundred") {
        value = value.saturating_mul(100);
        end += 1;
        let k = if t.word(end) == Some("and") {
            end + 1
        } else {
            end
        };
        if let Some((rest, after)) = below_hundred(k) {
            value += rest;
            end = after;
        }
    }
    Some((value, end))
}

/// Words that make a following "one" a pronoun ("this one", "the blue one").
const DETERMINERS: &[&str] = &[
    "the", "this", "that", "which", "each", "any", "another", "other", "every", "no", "a", "an",
    "your", "my", "her", "his", "its", "their", "our", "same",
];

/// Words after which "one" is not a count ("one of them", "one moment").
const ONE_FOLLOWERS: &[&str] = &[
    "of", "moment", "minute", "sec", "second", "another", "by", "day", "thing", "way",
];

/// Whether the word "one" at `i` is a pronoun rather than a figure: followed by "of"
/// and the like, or with a determiner up to four words before it in the same clause.
fn pronoun_one(t: &Text, i: usize) -> bool {
    if t.word(i + 1).is_some_and(|w| ONE_FOLLOWERS.contains(&w)) {
        return true;
    }
    let mut words = 0;
    let mut j = i;
    while words < 4 {
        let Some(prev) = j.checked_sub(1) else {
            return false;
        };
        j = prev;
        match t.toks.get(j).map(|tok| &tok.kind) {
            Some(Kind::Word(w)) => {
                if DETERMINERS.contains(&w.lower.as_str()) {
                    return true;
                }
                words += 1;
            }
            // "the slim-fit one": hyphens stay inside the phrase.
            Some(Kind::Sym('-')) => {}
            _ => return false,
        }
    }
    false
}

/// The currency a sign or word names.
fn currency_of(t: &Text, i: usize, after: bool) -> Option<&'static str> {
    if let Some(c) = t.sym(i) {
        return match c {
            '€' => Some("EUR"),
            '$' => Some("USD"),
            '£' => Some("GBP"),
            _ => None,
        };
    }
    match t.word(i)? {
        "eur" => Some("EUR"),
        "usd" => Some("USD"),
        "gbp" => Some("GBP"),
        "euro" | "euros" if after => Some("EUR"),
        "dollar" | "dollars" | "bucks" if after => Some("USD"),
        _ => None,
    }
}

/// Reads every figure: digits, number words, ordinals, amounts of money.
fn read_figures(t: &Text, scan: &SizeScan, out: &mut Vec<(Figure, String)>) {
    let mut i = 0;
    while i < t.toks.len() {
        // Ordinal words count only after "the" ("the third one"), not in "a second".
        if let Some(n) = t.word(i).and_then(ordinal_word) {
            if i.checked_sub(1).and_then(|p| t.word(p)) == Some("the") {
                out.push((Figure::Whole(n), t.raw(i, i + 1)));
            }
            i += 1;
            continue;
        }
        let (whole, frac, sep, ordinal, in_words, end) = match t.toks.get(i).map(|tok| &tok.kind) {
            Some(Kind::Num(d)) => (d.whole, d.frac.clone(), d.sep, d.ordinal, false, i + 1),
            Some(Kind::Word(_)) => match number_words_at(t, i) {
                Some((value, end)) => (value, None, '.', false, true, end),
                None => {
                    i += 1;
                    continue;
                }
            },
            _ => {
                i += 1;
                continue;
            }
        };
        let raw = t.raw(i, end);
        let single_one = in_words && end == i + 1 && t.word(i) == Some("one");
        if scan.skip.contains(&i) || (single_one && pronoun_one(t, i)) {
            i = end;
            continue;
        }
        if scan.numeric.contains(&i) {
            out.push((Figure::Size(whole), raw));
            i = end;
            continue;
        }
        if ordinal {
            out.push((Figure::Whole(whole), raw));
            i = end;
            continue;
        }
        let before = i.checked_sub(1).and_then(|p| currency_of(t, p, false));
        let after = currency_of(t, end, true);
        // "39 euros 95", "thirty-nine euros and ninety-five cents".
        if frac.is_none()
            && let Some(currency) = after
        {
            let k = if t.word(end + 1) == Some("and") {
                end + 2
            } else {
                end + 1
            };
            if let Some((cents, cents_end)) = number_at(t, k).filter(|(c, _)| *c < 100) {
                let stop = if matches!(t.word(cents_end), Some("cent" | "cents")) {
                    cents_end + 1
                } else {
                    cents_end
                };
                let figure = Figure::Money {
                    cents: whole.saturating_mul(100).saturating_add(cents),
                    exact: true,
                    currency: Some(currency),
                };
                out.push((figure, t.raw(i, stop)));
                i = stop;
                continue;
            }
        }
        // "thirty-nine ninety-five": a price said the way people say prices.
        if in_words
            && let Some((cents, cents_end)) =
                number_words_at(t, end).filter(|(c, _)| (10..100).contains(c))
        {
            let raw = t.raw(i, cents_end);
            let figure = match before.or_else(|| currency_of(t, cents_end, true)) {
                Some(currency) => Figure::Money {
                    cents: whole.saturating_mul(100).saturating_add(cents),
                    exact: true,
                    currency: Some(currency),
                },
                None => Figure::Spoken { whole, cents },
            };
            out.push((figure, raw));
            i = cents_end;
            continue;
        }
        let frac_cents = frac.as_ref().map(|f| {
            let value = f.parse::<u64>().unwrap_or(0);
            if f.len() == 1 { value * 10 } else { value }
        });
        let figure = match (frac_cents, before.or(after)) {
            (None, Some(currency)) => Figure::Money {
                cents: whole.saturating_mul(100),
                exact: false,
                currency: Some(currency),
            },
            (Some(cents), Some(currency)) => Figure::Money {
                cents: whole.saturating_mul(100).saturating_add(cents),
                exact: true,
                currency: Some(currency),
            },
            (None, None) => Figure::Whole(whole),
            (Some(cents), None) => Figure::Decimal {
                cents: whole.saturating_mul(100).saturating_add(cents),
                split: (sep == ',')
                    .then(|| {
                        frac.as_ref()
                            .and_then(|f| f.parse().ok())
                            .map(|f| (whole, f))
                    })
                    .flatten(),
            },
        };
        out.push((figure, raw));
        i = end;
    }
}

/// Words that split a sentence into clauses, each read for its garment on its own.
const CLAUSE_WORDS: &[&str] = &["and", "or", "but", "with", "plus", "nor", "than", "while"];

/// Whether a category word only counts alone ("denim": a denim jacket is a jacket).
fn is_weak(word: &str) -> bool {
    let alone = garment_terms(word).category;
    alone.is_some()
        && alone.as_deref() != Some("shirt")
        && garment_terms(&format!("shirt {word}")).category.as_deref() == Some("shirt")
}

/// Reads categories and colours, clause by clause and word by word, so "a navy shirt and
/// a white skirt" and "a sweater dress" yield every garment named.
fn read_garments(t: &Text, said: bool, reading: &mut Reading) {
    let mut clause: Vec<&str> = Vec::new();
    for i in 0..=t.toks.len() {
        let boundary = match t.toks.get(i).map(|tok| &tok.kind) {
            None => true,
            Some(Kind::Sym(c)) => !matches!(c, '-' | '\'' | '’'),
            Some(Kind::Word(w)) => CLAUSE_WORDS.contains(&w.lower.as_str()),
            Some(Kind::Num(_)) => false,
        };
        if !boundary {
            if let Some(word) = t.word(i) {
                clause.push(word);
            }
            continue;
        }
        let terms = garment_terms(&clause.join(" "));
        reading.categories.extend(terms.category);
        reading.colours.extend(terms.colours);
        // Word by word, with two-word category phrases ("t shirt") taken whole.
        let mut k = 0;
        while let Some(&word) = clause.get(k) {
            let alone = garment_terms(word).category;
            if let Some(&next) = clause.get(k + 1) {
                let pair = garment_terms(&format!("{word} {next}")).category;
                let last_wins = garment_terms(next).category.or_else(|| alone.clone());
                if pair.is_some() && pair != last_wins {
                    reading.categories.extend(pair);
                    k += 2;
                    continue;
                }
            }
            if said || !is_weak(word) {
                reading.categories.extend(alone);
            }
            k += 1;
        }
        clause.clear();
    }
}

/// Reads title-like phrases: two or more consecutive capitalised words not at a
/// sentence start ("Harbour Oxford Shirt"), and quoted phrases with a capital.
fn read_names(t: &Text, out: &mut Vec<(String, Vec<String>)>) {
    let capitalised = |i: usize| {
        matches!(t.toks.get(i).map(|tok| &tok.kind),
            Some(Kind::Word(w)) if w.capitalised && !w.sentence_start)
    };
    let mut run: Vec<usize> = Vec::new();
    for i in 0..=t.toks.len() {
        if capitalised(i) {
            run.push(i);
            continue;
        }
        // "Slim-Fit", "Marlow & Finch" are one phrase.
        let joiner = !run.is_empty() && matches!(t.sym(i), Some('-' | '&')) && capitalised(i + 1);
        if joiner {
            continue;
        }
        if let (true, Some(&first), Some(&last)) = (run.len() >= 2, run.first(), run.last()) {
            let words = (first..=last).filter_map(|j| t.word(j)).map(str::to_owned);
            out.push((t.raw(first, last + 1), words.collect()));
        }
        run.clear();
    }
    // Quoted: "the “Riviera Classic”".
    let mut open: Option<usize> = None;
    for (i, tok) in t.toks.iter().enumerate() {
        let Kind::Sym(c) = tok.kind else { continue };
        match (c, open) {
            ('"', None) | ('“', _) => open = Some(i),
            ('"' | '”', Some(from)) => {
                open = None;
                let words: Vec<String> = (from + 1..i)
                    .filter_map(|j| t.word(j))
                    .map(str::to_owned)
                    .collect();
                let has_capital = (from + 1..i).any(|j| {
                    matches!(t.toks.get(j).map(|tok| &tok.kind), Some(Kind::Word(w)) if w.capitalised)
                });
                if has_capital && (1..=8).contains(&words.len()) {
                    out.push((t.raw(from + 1, i), words));
                }
            }
            _ => {}
        }
    }
}

/// Capitalised words that name no product (titles of address, days, months, greetings),
/// so "Hello Mrs Smith" or "this Saturday Morning" is not taken for a title.
const NEUTRAL_WORDS: &[&str] = &[
    "the",
    "a",
    "an",
    "of",
    "and",
    "or",
    "with",
    "in",
    "on",
    "for",
    "to",
    "from",
    "by",
    "at",
    "my",
    "your",
    "our",
    "new",
    "mr",
    "mrs",
    "ms",
    "miss",
    "dr",
    "sir",
    "madam",
    "hello",
    "hi",
    "hey",
    "dear",
    "thanks",
    "thank",
    "you",
    "please",
    "yes",
    "no",
    "ok",
    "okay",
    "store",
    "shop",
    "top",
    "outfit",
    "piece",
    "item",
    "clothes",
    "collection",
    "style",
    "look",
    "fit",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "morning",
    "afternoon",
    "evening",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Whether a word of a capitalised phrase says which product it is: not a neutral word,
/// category, colour, size or number (those have their own rules).
fn is_distinctive(word: &str) -> bool {
    let terms = garment_terms(word);
    word.chars().count() >= 2
        && !NEUTRAL_WORDS.contains(&word)
        && terms.category.is_none()
        && terms.colours.is_empty()
        && !matches!(
            word,
            "small" | "medium" | "large" | "extra" | "size" | "sizes"
        )
        && !LETTER_SIZES.contains(&word.to_uppercase().as_str())
        && small_number(word).is_none()
        && ordinal_word(word).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::catalog::SizeStock;

    fn product(
        sku: &str,
        title: &str,
        brand: &str,
        category: &str,
        colours: &[&str],
        price_cents: u64,
        sizes: &[(&str, u32)],
    ) -> Product {
        Product {
            sku: sku.to_owned(),
            title: title.to_owned(),
            description: format!("A {category}."),
            brand: brand.to_owned(),
            category: category.to_owned(),
            colours: colours.iter().map(|c| (*c).to_owned()).collect(),
            pattern: None,
            material: None,
            fit: None,
            price_cents,
            currency: "EUR".to_owned(),
            sizes: sizes
                .iter()
                .map(|(size, stock)| SizeStock {
                    size: (*size).to_owned(),
                    stock: *stock,
                })
                .collect(),
            image_url: format!("/v1/products/{sku}/image.png"),
            store: Some("central".to_owned()),
        }
    }

    /// A striped shirt (34.95, XS 1, S 3, M 3, L sold out, XL 2) and a navy skirt
    /// (49.95, 36: 2, 38: 5, 40 sold out).
    fn facts() -> Facts {
        let mut facts = Facts::new();
        facts.add_product(&product(
            "SHT-1002-WHT",
            "Slim-fit striped Oxford shirt",
            "Brisa",
            "shirt",
            &["white", "charcoal"],
            3495,
            &[("XS", 1), ("S", 3), ("M", 3), ("L", 0), ("XL", 2)],
        ));
        facts.add_product(&product(
            "SKT-2001-NAV",
            "Pleated midi skirt",
            "Marlow & Finch",
            "skirt",
            &["navy"],
            4995,
            &[("36", 2), ("38", 5), ("40", 0)],
        ));
        facts
    }

    fn card(
        position: u32,
        title: &str,
        category: &str,
        colour: &str,
        price_cents: u64,
    ) -> ProductCard {
        ProductCard {
            position,
            sku: format!("CRD-{position}"),
            title: title.to_owned(),
            category: category.to_owned(),
            colours: vec![colour.to_owned()],
            price_cents,
            currency: "EUR".to_owned(),
            sizes_in_stock: vec!["M".to_owned(), "L".to_owned()],
            image_url: String::new(),
            why: None,
        }
    }

    fn cards() -> Facts {
        let mut facts = Facts::new();
        facts.add_cards(&[
            card(1, "Regular-fit linen shirt", "shirt", "white", 3995),
            card(2, "Oversized pea coat", "coat", "camel", 12995),
            card(3, "Canvas tote bag", "bag", "beige", 2495),
        ]);
        facts
    }

    fn passes(text: &str, facts: &Facts) {
        assert_eq!(check(text, facts), Ok(()), "{text}");
    }

    fn fails(text: &str, facts: &Facts, why: Ungrounded) {
        assert_eq!(check(text, facts), Err(why), "{text}");
    }

    #[test]
    fn plain_sentences_always_pass() {
        for text in [
            "",
            "Happy to help!",
            "Would you like to try it on?",
            "Let me have a look for you.",
            "It's lovely, I'm sure you'll like it.",
            "First, tell me what you're looking for.",
        ] {
            passes(text, &Facts::new());
        }
    }

    #[test]
    fn known_price_passes_however_it_is_written() {
        let facts = facts();
        for text in [
            "It's €34.95.",
            "The shirt is 34.95 euros.",
            "It costs 34,95 €.",
            "That's EUR 34.95.",
            "Only 34.95EUR.",
            "It's 34.95.",
            "The skirt is € 49.95 and the shirt 34.95 euros.",
        ] {
            passes(text, &facts);
        }
    }

    #[test]
    fn whole_euros_may_round_or_truncate_a_price() {
        let facts = facts();
        passes("It's about 35 euros.", &facts);
        passes("It's just under €35.", &facts);
        passes("Around 34 euros.", &facts);
        passes("The skirt is about 50 euros.", &facts);
        fails(
            "It's about 36 euros.",
            &facts,
            Ungrounded::Price("36".into()),
        );
        // With cents the amount must be exact.
        fails(
            "It's 35.00 euros.",
            &facts,
            Ungrounded::Price("35.00".into()),
        );
    }

    #[test]
    fn invented_price_fails() {
        let facts = facts();
        fails(
            "It's only €29.95!",
            &facts,
            Ungrounded::Price("29.95".into()),
        );
        fails(
            "Yours for 12 euros.",
            &facts,
            Ungrounded::Price("12".into()),
        );
        fails(
            "It's twenty euros.",
            &facts,
            Ungrounded::Price("twenty".into()),
        );
        // A known amount in another currency is still wrong.
        fails(
            "It's 34.95 dollars.",
            &facts,
            Ungrounded::Price("34.95".into()),
        );
        fails("It's $34.95.", &facts, Ungrounded::Price("34.95".into()));
    }

    #[test]
    fn spoken_price_passes() {
        let facts = facts();
        passes("It's thirty-four ninety-five.", &facts);
        passes("Thirty-four euros and ninety-five cents.", &facts);
        passes("That's 49 euros 95.", &facts);
        fails(
            "It's twenty-nine ninety-five.",
            &facts,
            Ungrounded::Number("twenty-nine ninety-five".into()),
        );
    }

    #[test]
    fn known_stock_counts_pass() {
        let facts = facts();
        passes("We have 3 left in M.", &facts);
        passes("There are five left in size 38.", &facts);
        passes("Just two in XL.", &facts);
    }

    #[test]
    fn invented_stock_count_fails() {
        let facts = facts();
        fails(
            "We have 7 left in M.",
            &facts,
            Ungrounded::Number("7".into()),
        );
        fails(
            "There are twelve in stock.",
            &facts,
            Ungrounded::Number("twelve".into()),
        );
        fails(
            "Forty five are left.",
            &facts,
            Ungrounded::Number("Forty five".into()),
        );
        fails("Save 20% today.", &facts, Ungrounded::Number("20".into()));
    }

    #[test]
    fn one_as_a_pronoun_is_no_figure() {
        let facts = Facts::new();
        for text in [
            "This one is lovely.",
            "I like that one.",
            "The one on the left.",
            "One of them is lovely.",
            "Which one would you like?",
            "The slim-fit striped one suits you.",
            "Give me one moment.",
        ] {
            passes(text, &facts);
        }
        fails(
            "We have one left.",
            &facts,
            Ungrounded::Number("one".into()),
        );
    }

    #[test]
    fn one_as_a_count_needs_a_known_count() {
        // XS has one left.
        passes("We only have one left in XS.", &facts());
    }

    #[test]
    fn card_positions_and_count_pass() {
        let facts = cards();
        passes("I found three options for you.", &facts);
        passes("The second one is a camel coat.", &facts);
        passes("The 3rd one is a beige bag.", &facts);
        passes("Just a second, please.", &facts);
        fails(
            "The fifth one is lovely.",
            &facts,
            Ungrounded::Number("fifth".into()),
        );
        fails("I found 4 options.", &facts, Ungrounded::Number("4".into()));
    }

    #[test]
    fn card_prices_sizes_and_why_are_known() {
        let mut facts = Facts::new();
        let mut with_why = card(1, "Regular-fit linen shirt", "shirt", "navy", 3995);
        with_why.why = Some("navy is a classic partner for pink".to_owned());
        facts.add_cards(&[with_why]);
        passes("The navy shirt is €39.95 and goes well with pink.", &facts);
        passes("We have it in M and L.", &facts);
        fails("We have it in S.", &facts, Ungrounded::Size("S".into()));
    }

    #[test]
    fn known_colours_pass_and_others_fail() {
        let facts = facts();
        passes("A white shirt with charcoal stripes.", &facts);
        passes("The navy blue skirt.", &facts);
        fails(
            "It also comes in red.",
            &facts,
            Ungrounded::Colour("red".into()),
        );
        fails(
            "The shirt is light blue.",
            &facts,
            Ungrounded::Colour("light blue".into()),
        );
    }

    #[test]
    fn a_hue_is_known_when_a_shade_of_it_is() {
        let mut facts = Facts::new();
        facts.add_product(&product(
            "X-1",
            "Linen shirt",
            "Brisa",
            "shirt",
            &["light blue"],
            3995,
            &[],
        ));
        passes("A blue shirt.", &facts);
        passes("A light blue shirt.", &facts);
    }

    #[test]
    fn colours_the_customer_said_pass_in_any_spelling() {
        let mut facts = facts();
        facts.add_said("Something in gray or burgundy?");
        passes("Sadly there is no grey or burgundy shirt.", &facts);
        passes("Nothing in gray.", &facts);
        fails(
            "How about orange?",
            &facts,
            Ungrounded::Colour("orange".into()),
        );
    }

    #[test]
    fn what_a_description_names_is_known() {
        let mut facts = Facts::new();
        let mut shirt = product(
            "S-1",
            "Flannel shirt",
            "Brisa",
            "shirt",
            &["burgundy"],
            3995,
            &[],
        );
        shirt.description =
            "A burgundy and grey check in 100% cotton. Layers well under a sweater.".to_owned();
        facts.add_product(&shirt);
        passes(
            "It's 100% cotton and layers well under a grey sweater.",
            &facts,
        );
        fails(
            "It goes with a jacket.",
            &facts,
            Ungrounded::Category("jacket".into()),
        );
    }

    #[test]
    fn unseen_category_fails() {
        let facts = facts();
        fails(
            "It goes well with a navy coat.",
            &facts,
            Ungrounded::Category("coat".into()),
        );
        fails(
            "Try it with a blazer.",
            &facts,
            Ungrounded::Category("jacket".into()),
        );
        let mut with_dress = facts.clone();
        with_dress.add_said("a dress for a wedding");
        fails(
            "It suits a sweater dress.",
            &with_dress,
            Ungrounded::Category("sweater".into()),
        );
    }

    #[test]
    fn categories_the_customer_said_pass() {
        let mut facts = facts();
        facts.add_said("I need a jumper for work");
        passes("We have no sweaters in navy, but this shirt works.", &facts);
        passes("No jumpers today, sorry.", &facts);
    }

    #[test]
    fn every_clause_of_a_sentence_is_checked() {
        let facts = facts();
        passes("A navy skirt and a white shirt.", &facts);
        passes("The skirt, the shirt or both.", &facts);
        fails(
            "A navy skirt and a red shirt.",
            &facts,
            Ungrounded::Colour("red".into()),
        );
        fails(
            "The shirt, the skirt and a jacket.",
            &facts,
            Ungrounded::Category("jacket".into()),
        );
        fails(
            "A shirt with jeans.",
            &facts,
            Ungrounded::Category("jeans".into()),
        );
    }

    #[test]
    fn t_shirt_is_not_a_shirt_and_denim_only_counts_alone() {
        let mut facts = Facts::new();
        facts.add_product(&product(
            "T-1",
            "Breton t-shirt",
            "Brisa",
            "t-shirt",
            &["white"],
            1995,
            &[],
        ));
        facts.add_product(&product(
            "S-1",
            "Denim mini skirt",
            "Brisa",
            "skirt",
            &["blue"],
            2995,
            &[],
        ));
        passes("A white t-shirt and a blue denim skirt.", &facts);
        passes("A white tee shirt.", &facts);
        fails(
            "A white shirt.",
            &facts,
            Ungrounded::Category("shirt".into()),
        );
        fails(
            "It goes with your denim.",
            &facts,
            Ungrounded::Category("jeans".into()),
        );
    }

    #[test]
    fn sizes_in_stock_pass() {
        let facts = facts();
        for text in [
            "We have it in M and XL.",
            "Sizes XS, S and M are in stock.",
            "The skirt comes in size 38.",
            "The skirt comes in sizes 36 and 38.",
            "We have it in medium.",
            "It comes in extra large.",
            "Would you like it in a small?",
            "It comes in a large range of colours.",
        ] {
            passes(text, &facts);
        }
    }

    #[test]
    fn unknown_or_sold_out_size_fails() {
        let facts = facts();
        fails("We have it in XXL.", &facts, Ungrounded::Size("XXL".into()));
        // L is sold out, and so is 40.
        fails("We have it in L.", &facts, Ungrounded::Size("L".into()));
        fails("It is in size 40.", &facts, Ungrounded::Size("40".into()));
        fails("Sizes 36 and 42.", &facts, Ungrounded::Size("42".into()));
        fails(
            "We have it in large.",
            &facts,
            Ungrounded::Size("large".into()),
        );
        fails(
            "It's one size.",
            &facts,
            Ungrounded::Size("one size".into()),
        );
    }

    #[test]
    fn lower_case_letters_are_no_sizes() {
        passes("It's the shirt, I'm sure.", &facts());
        passes("M&S is not us.", &Facts::new());
    }

    #[test]
    fn sizes_the_customer_asked_for_pass() {
        let mut facts = facts();
        facts.add_said("Do you have it in L? I'm usually a large, or a 40.");
        passes("Sorry, L is sold out.", &facts);
        passes("Size 40 is sold out.", &facts);
    }

    #[test]
    fn one_size_passes_for_one_size_products() {
        let mut facts = Facts::new();
        facts.add_product(&product(
            "SCF-1",
            "Cashmere scarf",
            "Brisa",
            "scarf",
            &["camel"],
            5995,
            &[("one size", 4)],
        ));
        passes("The scarf is one size, and we have four.", &facts);
        passes("One size up would be too big.", &facts);
    }

    #[test]
    fn purchases_are_known() {
        let mut facts = Facts::new();
        facts.add_purchase(&Purchase {
            sku: "SWT-1001-PNK".to_owned(),
            title: "Oversized Fair Isle sweater".to_owned(),
            category: "sweater".to_owned(),
            colours: vec!["pink".to_owned()],
            size: Some("M".to_owned()),
            at_unix: 0,
        });
        passes("How is your pink sweater in M?", &facts);
        passes("Your Fair Isle jumper was a great choice.", &facts);
        fails(
            "Your pink cardigan?",
            &facts,
            Ungrounded::Category("cardigan".into()),
        );
    }

    #[test]
    fn numbers_the_customer_said_pass() {
        let mut facts = facts();
        facts.add_said("Anything under 50 euros? I'd like the second one.");
        passes("Everything here is under 50 euros.", &facts);
        passes("The second one is €49.95.", &facts);
        fails(
            "Everything is under €60.",
            &facts,
            Ungrounded::Price("60".into()),
        );
    }

    #[test]
    fn capitalised_invented_product_fails() {
        let facts = facts();
        fails(
            "You might like the Harbour Linen Shirt.",
            &facts,
            Ungrounded::Product("Harbour Linen Shirt".into()),
        );
        fails(
            "Try the \"Riviera Classic\" shirt.",
            &facts,
            Ungrounded::Product("Riviera Classic".into()),
        );
        // At a sentence start the first word says nothing, the rest still counts.
        fails(
            "Harbour Linen Shirts are popular.",
            &facts,
            Ungrounded::Product("Linen Shirts".into()),
        );
    }

    #[test]
    fn known_titles_and_brands_pass() {
        let facts = facts();
        passes("The Slim-Fit Striped Oxford Shirt is lovely.", &facts);
        passes(
            "Our Striped Oxford Shirt from Brisa is 34.95 euros.",
            &facts,
        );
        passes("The pleated midi skirt by Marlow & Finch.", &facts);
        passes("Here it is: Pleated Midi Skirt, 49.95 euros.", &facts);
        passes("Ask for SHT-1002-WHT at the till.", &facts);
        passes("Great Choice!", &facts);
    }

    #[test]
    fn customer_name_passes_when_allowed() {
        let mut facts = facts();
        fails(
            "Lovely choice, Anna Lee!",
            &facts,
            Ungrounded::Product("Anna Lee".into()),
        );
        facts.allow_word("Anna Lee");
        passes("Lovely choice, Anna Lee!", &facts);
        passes("Hello Anna Lee, welcome back.", &facts);
    }

    #[test]
    fn allowed_words_hide_colours_and_numbers() {
        let mut facts = facts();
        fails("Hi Olive!", &facts, Ungrounded::Colour("olive".into()));
        fails(
            "Please use fitting room 8.",
            &facts,
            Ungrounded::Number("8".into()),
        );
        facts.allow_word("Olive");
        facts.allow_word("fitting room 8");
        passes("Hi Olive! Please use fitting room 8.", &facts);
        fails(
            "Please use fitting room 9.",
            &facts,
            Ungrounded::Number("9".into()),
        );
    }

    #[test]
    fn a_whole_reply_is_checked_sentence_by_sentence() {
        let facts = facts();
        passes(
            "Great choice! The striped Oxford shirt is €34.95 and we have 3 in M. \
             It pairs well with the navy pleated skirt, size 38, at 49.95 euros.",
            &facts,
        );
        fails(
            "Great choice! The shirt is €34.95. We have 9 in M.",
            &facts,
            Ungrounded::Number("9".into()),
        );
    }

    #[test]
    fn reasons_name_only_the_sentence_word() {
        let why = Ungrounded::Price("29.95".into());
        assert_eq!(why.to_string(), "price \"29.95\" is no known price");
    }
}
