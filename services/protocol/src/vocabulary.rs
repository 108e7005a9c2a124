//! Canonical names and customers' words for garments. Kept in one place so that "a
//! grey jumper" is `sweater` / `grey` alike in `Product` fields, the dialogue's
//! [`Slots`](crate::dialogue::Slots), catalog search and vision's colour names.

/// Every product category, as stored in `Product::category` and named in slots.
pub const CATEGORIES: [&str; 14] = [
    "shirt", "blouse", "t-shirt", "sweater", "cardigan", "jacket", "coat", "jeans", "trousers",
    "skirt", "dress", "shoes", "scarf", "bag",
];

/// Every colour name, as stored in `Product::colours` and named in slots;
/// [`PALETTE`] gives each an sRGB value in this order.
pub const COLOURS: [&str; 23] = [
    "black",
    "charcoal",
    "grey",
    "white",
    "ivory",
    "beige",
    "camel",
    "brown",
    "khaki",
    "olive",
    "green",
    "teal",
    "navy",
    "blue",
    "light blue",
    "purple",
    "lilac",
    "pink",
    "red",
    "burgundy",
    "orange",
    "mustard",
    "yellow",
];

/// One named colour of the palette.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaletteColour {
    /// Name as shown to customers and stored in `Product::colours`.
    pub name: &'static str,
    /// Three-letter code used in SKUs (`navy` → `NVY`), unique in the palette.
    pub code: &'static str,
    /// sRGB value the images use for this colour.
    pub rgb: [u8; 3],
}

const fn c(name: &'static str, code: &'static str, rgb: [u8; 3]) -> PaletteColour {
    PaletteColour { name, code, rgb }
}

/// Every catalogue colour: the canonical [`COLOURS`], in that order, each with its SKU
/// code and the sRGB value product images are painted in (a test keeps the two lists
/// equal). Neighbouring names are kept at least ~30 apart in RGB so a camera can still
/// tell them apart.
pub const PALETTE: &[PaletteColour] = &[
    c("black", "BLK", [28, 28, 30]),
    c("charcoal", "CHA", [64, 66, 72]),
    c("grey", "GRY", [150, 150, 152]),
    c("white", "WHT", [246, 246, 242]),
    c("ivory", "IVO", [236, 226, 204]),
    c("beige", "BEI", [214, 196, 164]),
    c("camel", "CAM", [188, 140, 92]),
    c("brown", "BRN", [110, 74, 50]),
    c("khaki", "KHA", [176, 164, 104]),
    c("olive", "OLV", [104, 106, 56]),
    c("green", "GRN", [46, 125, 80]),
    c("teal", "TEA", [30, 122, 122]),
    c("navy", "NVY", [30, 42, 78]),
    c("blue", "BLU", [50, 96, 170]),
    c("light blue", "LBL", [160, 196, 228]),
    c("purple", "PUR", [104, 60, 142]),
    c("lilac", "LIL", [196, 168, 218]),
    c("pink", "PNK", [240, 166, 186]),
    c("red", "RED", [196, 44, 46]),
    c("burgundy", "BUR", [118, 30, 50]),
    c("orange", "ORG", [226, 122, 46]),
    c("mustard", "MUS", [212, 162, 40]),
    c("yellow", "YEL", [242, 212, 76]),
];

/// What a word (or words) of a description names.
#[derive(Clone, Copy)]
enum Term {
    /// A canonical colour ([`COLOURS`]).
    Colour(&'static str),
    /// A canonical category ([`CATEGORIES`]); `weak` ones ("denim") only count when no
    /// other category is named, because "denim jacket" is a jacket.
    Category { name: &'static str, weak: bool },
}

/// Multi-word phrases, matched before single words (so "light blue" is not "blue",
/// and "navy blue" is just navy). Words are split at hyphens too ("light-blue",
/// "t-shirt").
const PHRASES: &[(&[&str], Term)] = &[
    (&["light", "blue"], Term::Colour("light blue")),
    (&["sky", "blue"], Term::Colour("light blue")),
    (&["baby", "blue"], Term::Colour("light blue")),
    (&["pale", "blue"], Term::Colour("light blue")),
    (&["navy", "blue"], Term::Colour("navy")),
    (&["dark", "blue"], Term::Colour("navy")),
    (&["dark", "grey"], Term::Colour("charcoal")),
    (&["dark", "gray"], Term::Colour("charcoal")),
    (&["off", "white"], Term::Colour("ivory")),
    (&["t", "shirt"], strong("t-shirt")),
    (&["t", "shirts"], strong("t-shirt")),
    (&["tee", "shirt"], strong("t-shirt")),
    (&["tee", "shirts"], strong("t-shirt")),
];

/// A category term that always counts.
const fn strong(name: &'static str) -> Term {
    Term::Category { name, weak: false }
}

/// Single words: colour names, common synonyms, and category words with their
/// synonyms. Plurals ending in -s/-es are found by stripping the ending.
const WORDS: &[(&str, Term)] = &[
    ("black", Term::Colour("black")),
    ("charcoal", Term::Colour("charcoal")),
    ("grey", Term::Colour("grey")),
    ("gray", Term::Colour("grey")),
    ("white", Term::Colour("white")),
    ("ivory", Term::Colour("ivory")),
    ("cream", Term::Colour("ivory")),
    ("beige", Term::Colour("beige")),
    ("camel", Term::Colour("camel")),
    ("tan", Term::Colour("camel")),
    ("brown", Term::Colour("brown")),
    ("khaki", Term::Colour("khaki")),
    ("olive", Term::Colour("olive")),
    ("green", Term::Colour("green")),
    ("teal", Term::Colour("teal")),
    ("navy", Term::Colour("navy")),
    ("blue", Term::Colour("blue")),
    ("purple", Term::Colour("purple")),
    ("lilac", Term::Colour("lilac")),
    ("lavender", Term::Colour("lilac")),
    ("pink", Term::Colour("pink")),
    ("red", Term::Colour("red")),
    ("burgundy", Term::Colour("burgundy")),
    ("maroon", Term::Colour("burgundy")),
    ("orange", Term::Colour("orange")),
    ("mustard", Term::Colour("mustard")),
    ("yellow", Term::Colour("yellow")),
    ("shirt", strong("shirt")),
    ("blouse", strong("blouse")),
    ("tshirt", strong("t-shirt")),
    ("tee", strong("t-shirt")),
    ("sweater", strong("sweater")),
    ("jumper", strong("sweater")),
    ("pullover", strong("sweater")),
    ("cardigan", strong("cardigan")),
    ("cardi", strong("cardigan")),
    ("jacket", strong("jacket")),
    ("blazer", strong("jacket")),
    ("coat", strong("coat")),
    ("overcoat", strong("coat")),
    ("jeans", strong("jeans")),
    ("jean", strong("jeans")),
    (
        "denim",
        Term::Category {
            name: "jeans",
            weak: true,
        },
    ),
    ("trousers", strong("trousers")),
    ("trouser", strong("trousers")),
    ("pants", strong("trousers")),
    ("chinos", strong("trousers")),
    ("slacks", strong("trousers")),
    ("skirt", strong("skirt")),
    ("dress", strong("dress")),
    ("shoes", strong("shoes")),
    ("shoe", strong("shoes")),
    ("sneaker", strong("shoes")),
    ("trainer", strong("shoes")),
    ("boot", strong("shoes")),
    ("heel", strong("shoes")),
    ("loafer", strong("shoes")),
    ("sandal", strong("shoes")),
    ("scarf", strong("scarf")),
    ("scarves", strong("scarf")),
    ("bag", strong("bag")),
    ("handbag", strong("bag")),
    ("tote", strong("bag")),
    ("purse", strong("bag")),
];

/// The term a single word names, trying it as written, then without a plural -s or -es.
fn word_term(word: &str) -> Option<Term> {
    let find = |w: &str| WORDS.iter().find(|(k, _)| *k == w).map(|(_, t)| *t);
    find(word)
        .or_else(|| word.strip_suffix('s').and_then(find))
        .or_else(|| word.strip_suffix("es").and_then(find))
}

/// The garment words of a text: the category it names (if any) and its colours.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GarmentTerms {
    /// Category named, after synonyms and plurals (`jumpers` → `sweater`).
    pub category: Option<String>,
    /// Canonical colours named, in the order written, without repeats.
    pub colours: Vec<String>,
}

/// Whether a category is a plural noun ("jeans", "trousers", "shoes"), so replies
/// say "jeans" where they say "a shirt".
pub fn is_plural(category: &str) -> bool {
    matches!(category, "jeans" | "trousers" | "shoes")
}

/// The plural of a category for replies: "shirts", "dresses", "scarves", "jeans".
pub fn plural(category: &str) -> String {
    match category {
        _ if is_plural(category) => category.to_owned(),
        "dress" => "dresses".into(),
        "scarf" => "scarves".into(),
        other => format!("{other}s"),
    }
}

/// Reads the category and colours a text names.
///
/// Colours are [`COLOURS`] names (and a few synonyms such as "gray", "cream", "navy
/// blue"), multi-word names first, in the order written, without repeats. Category
/// words include plurals and synonyms: tee/t shirt → t-shirt, jumper/pullover →
/// sweater, pants/chinos → trousers, sneakers/boots/heels → shoes, handbag/tote → bag,
/// denim → jeans (only when nothing else is named: "denim jacket" is a jacket). When
/// several categories are named the last wins, as English puts the head noun last
/// ("sweater dress" is a dress).
///
/// Catalog search uses it to rank what the customer said above what merely resembles
/// it; goes-with reads a described anchor with it; the dialogue fills its slots with it.
pub fn garment_terms(text: &str) -> GarmentTerms {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|ch: char| !ch.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let mut colours: Vec<String> = Vec::new();
    let mut category: Option<&'static str> = None;
    let mut weak_category: Option<&'static str> = None;
    let mut i = 0;
    while i < words.len() {
        let phrase = PHRASES.iter().find(|(phrase, _)| {
            words
                .get(i..i + phrase.len())
                .is_some_and(|window| window == *phrase)
        });
        let (term, used) = match phrase {
            Some((phrase, term)) => (Some(*term), phrase.len()),
            None => (words.get(i).and_then(|w| word_term(w)), 1),
        };
        match term {
            Some(Term::Colour(name)) if !colours.iter().any(|c| c == name) => {
                colours.push(name.to_owned());
            }
            Some(Term::Category { name, weak: false }) => category = Some(name),
            Some(Term::Category { name, weak: true }) => weak_category = Some(name),
            _ => {}
        }
        i += used;
    }
    GarmentTerms {
        category: category.or(weak_category).map(str::to_owned),
        colours,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {

    #[test]
    fn palette_names_are_the_colours_in_order() {
        let names: Vec<&str> = PALETTE.iter().map(|c| c.name).collect();
        assert_eq!(names, COLOURS);
    }
    use super::*;

    fn terms(category: Option<&str>, colours: &[&str]) -> GarmentTerms {
        GarmentTerms {
            category: category.map(str::to_owned),
            colours: colours.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    #[test]
    fn every_term_names_a_canonical_category_or_colour() {
        let all_terms = WORDS
            .iter()
            .map(|(_, t)| *t)
            .chain(PHRASES.iter().map(|(_, t)| *t));
        for term in all_terms {
            match term {
                Term::Colour(name) => assert!(COLOURS.contains(&name), "{name}"),
                Term::Category { name, .. } => assert!(CATEGORIES.contains(&name), "{name}"),
            }
        }
        // Every canonical name is itself understood.
        for category in CATEGORIES {
            assert_eq!(garment_terms(category).category.as_deref(), Some(category));
        }
        for colour in COLOURS {
            assert_eq!(garment_terms(colour).colours, vec![colour.to_owned()]);
        }
    }

    #[test]
    fn described_garments_are_read_like_a_shop_assistant_would() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("pink sweater", "sweater", &["pink"]),
            ("a light blue shirt", "shirt", &["light blue"]),
            ("my navy jeans", "jeans", &["navy"]),
            ("Navy blue chinos", "trousers", &["navy"]),
            ("a grey jumper", "sweater", &["grey"]),
            ("my old gray pullover", "sweater", &["grey"]),
            ("white sneakers", "shoes", &["white"]),
            ("black ankle boots", "shoes", &["black"]),
            ("red heels", "shoes", &["red"]),
            ("navy and white striped tee", "t-shirt", &["navy", "white"]),
            ("a plain white t shirt", "t-shirt", &["white"]),
            ("Black T-Shirts", "t-shirt", &["black"]),
            ("my burgundy handbag", "bag", &["burgundy"]),
            ("a camel tote", "bag", &["camel"]),
            ("khaki pants", "trousers", &["khaki"]),
            ("my denim", "jeans", &[]),
            ("a denim jacket", "jacket", &[]),
            ("light-blue denim shirt", "shirt", &["light blue"]),
            ("two floral dresses", "dress", &[]),
            ("a cream wool scarves set", "scarf", &["ivory"]),
            ("olive cardigans", "cardigan", &["olive"]),
            ("a sweater dress in lilac", "dress", &["lilac"]),
        ];
        for (text, category, colours) in cases {
            assert_eq!(
                garment_terms(text),
                terms(Some(category), colours),
                "{text}"
            );
        }
    }

    #[test]
    fn texts_without_a_garment_word_name_no_category() {
        assert_eq!(garment_terms(""), GarmentTerms::default());
        assert_eq!(garment_terms("something pink"), terms(None, &["pink"]));
        assert_eq!(garment_terms("blue"), terms(None, &["blue"]));
        assert_eq!(garment_terms("what goes with it?"), GarmentTerms::default());
        // Repeats are dropped, first mention first.
        assert_eq!(
            garment_terms("Red, or maybe navy... no, red!"),
            terms(None, &["red", "navy"])
        );
    }
}
