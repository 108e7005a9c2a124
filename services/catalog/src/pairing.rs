//! "Goes with": which products pair with an anchor garment, and why.
//!
//! The anchor is a catalogue product or a garment the customer describes ("my pink
//! sweater"). The service ranks candidates of *other* categories by combining three
//! signals; this module owns the first and combines all three, with no I/O:
//!
//! 1. styling rules: which categories complete an outfit with the anchor
//!    ([`complementary_categories`]) and which colours harmonise with the anchor's
//!    colours ([`colour_harmony`]);
//! 2. vector similarity from the store's recommend query (positive/negative examples),
//!    passed in as a cosine;
//! 3. co-purchase counts, passed in as a number of customers.
//!
//! [`score_candidate`] turns the three into one score in `0..=1` and a short sentence a
//! shop assistant could say, e.g. "navy is a classic partner for pink; a shirt layers
//! under a sweater; often bought together (3 customers)".
//!
//! Colour rules (see [`colour_harmony`]) work on the names of the retail
//! [palette](crate::fixtures::palette): hue and lightness are computed from each
//! name's sRGB value, so only the styling exceptions (neutrals that are not grey,
//! classic pairs, clashes) are written down by hand.

use protocol::catalog::Product;
use protocol::vocabulary::{self, garment_terms};

use crate::fixtures::palette::{PALETTE, luma};

/// Where a garment sits in an outfit; two garments of the same slot normally compete
/// rather than pair (two pairs of trousers are not an outfit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    /// Worn on the upper body as the main top: shirt, blouse, t-shirt, sweater.
    Top,
    /// An open knit layer worn over a top or a dress: cardigan.
    Layer,
    /// Outerwear worn over everything else: jacket, coat.
    Outer,
    /// Worn on the lower body: jeans, trousers, skirt.
    Bottom,
    /// Covers top and bottom at once: dress.
    OnePiece,
    /// Footwear.
    Shoes,
    /// Carried or draped, goes with anything: scarf, bag.
    Accessory,
}

/// The outfit slot of a catalogue category (`Product::category`), or `None` for a
/// category the styling rules do not know.
///
/// A sweater is a [`Slot::Top`]: it is what people wear as their top, and it competes
/// with a t-shirt or a second sweater. That a collared shirt or blouse can be worn
/// *under* it is an exception of [`complementary_categories`] (see there), not a
/// separate slot, so every category keeps exactly one slot.
pub fn slot(category: &str) -> Option<Slot> {
    Some(match normalise(category).as_str() {
        "shirt" | "blouse" | "t-shirt" | "sweater" => Slot::Top,
        "cardigan" => Slot::Layer,
        "jacket" | "coat" => Slot::Outer,
        "jeans" | "trousers" | "skirt" => Slot::Bottom,
        "dress" => Slot::OnePiece,
        "shoes" => Slot::Shoes,
        "scarf" | "bag" => Slot::Accessory,
        _ => return None,
    })
}

/// Tops worn one over the other, `(under, over)`: the only pairs of one slot that
/// complete an outfit. A shirt or blouse under a sweater, a t-shirt under an open shirt.
const LAYERED_TOPS: &[(&str, &str)] = &[
    ("shirt", "sweater"),
    ("blouse", "sweater"),
    ("t-shirt", "shirt"),
];

/// For each catalogue category, the categories that complete an outfit with it, best
/// first. Hand-ranked by what a stylist reaches for first; a test checks the lists only
/// name catalogue categories and respect the slot rule.
const COMPLEMENTS: &[(&str, &[&str])] = &[
    (
        "shirt",
        &[
            "jeans", "trousers", "sweater", "jacket", "cardigan", "skirt", "coat", "shoes",
            "t-shirt", "scarf", "bag",
        ],
    ),
    (
        "blouse",
        &[
            "skirt", "trousers", "jeans", "cardigan", "jacket", "sweater", "coat", "shoes", "bag",
            "scarf",
        ],
    ),
    (
        "t-shirt",
        &[
            "jeans", "skirt", "trousers", "jacket", "shirt", "cardigan", "coat", "shoes", "bag",
            "scarf",
        ],
    ),
    (
        "sweater",
        &[
            "shirt", "jeans", "trousers", "skirt", "coat", "jacket", "blouse", "shoes", "scarf",
            "bag",
        ],
    ),
    (
        "cardigan",
        &[
            "t-shirt", "dress", "jeans", "blouse", "skirt", "shirt", "trousers", "shoes", "scarf",
            "bag",
        ],
    ),
    (
        "jacket",
        &[
            "jeans", "t-shirt", "shirt", "trousers", "sweater", "dress", "skirt", "shoes", "scarf",
            "bag",
        ],
    ),
    (
        "coat",
        &[
            "sweater", "scarf", "trousers", "jeans", "dress", "shoes", "skirt", "bag", "shirt",
        ],
    ),
    (
        "jeans",
        &[
            "t-shirt", "shirt", "sweater", "jacket", "blouse", "cardigan", "shoes", "coat", "bag",
            "scarf",
        ],
    ),
    (
        "trousers",
        &[
            "shirt", "blouse", "sweater", "jacket", "coat", "cardigan", "t-shirt", "shoes", "bag",
            "scarf",
        ],
    ),
    (
        "skirt",
        &[
            "blouse", "sweater", "t-shirt", "shirt", "cardigan", "jacket", "shoes", "coat", "bag",
            "scarf",
        ],
    ),
    (
        "dress",
        &["cardigan", "jacket", "shoes", "coat", "bag", "scarf"],
    ),
    (
        "shoes",
        &[
            "jeans", "trousers", "dress", "skirt", "bag", "jacket", "coat", "shirt", "t-shirt",
            "sweater", "blouse", "cardigan", "scarf",
        ],
    ),
    (
        "scarf",
        &[
            "coat", "jacket", "sweater", "cardigan", "dress", "blouse", "shirt", "shoes",
        ],
    ),
    (
        "bag",
        &[
            "shoes", "coat", "dress", "jacket", "trousers", "jeans", "skirt", "blouse", "shirt",
            "sweater", "cardigan", "t-shirt",
        ],
    ),
];

/// The categories that complete an outfit with `anchor_category`, best first; empty for
/// an unknown category.
///
/// Never the anchor's own category, and never another category of its [`Slot`],
/// except tops worn one over the other: a sweater pairs with a shirt (first) or a
/// blouse worn under it, a shirt with a sweater over it, a t-shirt with an open shirt.
/// A dress pairs only with layers, outerwear, shoes and accessories.
pub fn complementary_categories(anchor_category: &str) -> Vec<&'static str> {
    let anchor = normalise(anchor_category);
    COMPLEMENTS
        .iter()
        .find(|(category, _)| *category == anchor)
        .map(|(_, complements)| complements.to_vec())
        .unwrap_or_default()
}

/// How well a candidate's colour goes with an anchor's colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Harmony {
    /// Strength of the match, `0..=1`: 0.95 for a classic pair, 0.70–0.85 with a
    /// neutral (more for more light–dark contrast), 0.75 tonal, 0.70 complementary,
    /// 0.65 analogous, 0.50 for near-identical shades. Feeds [`score_candidate`].
    pub score: f32,
    /// Which rule matched, so the explanation can say why.
    pub reason: Reason,
}

/// Why two colours go together; each variant is one rule of [`colour_harmony`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// At least one colour is a neutral (black, charcoal, grey, white, ivory, beige,
    /// camel, brown, khaki, navy), which goes with everything.
    Neutral,
    /// Lighter and darker shades of the same hue (blue and light blue), or the same
    /// colour head to toe.
    Tonal,
    /// Hues opposite on the colour wheel (blue and orange), which make each other pop.
    Complementary,
    /// Hues next to each other on the colour wheel (green and teal).
    Analogous,
    /// A curated pairing stylists recommend by name (pink and navy).
    ClassicPair,
}

/// Palette colours worn as neutrals although they are not grey. The achromatic ones
/// (black, charcoal, grey, white) are found from their saturation instead.
const FASHION_NEUTRALS: &[&str] = &["ivory", "beige", "camel", "brown", "khaki", "navy"];

/// Below this HSL saturation a palette colour is achromatic, hence neutral.
const ACHROMATIC_SATURATION: f32 = 0.2;

/// Curated classic pairs, either order; they win over every computed rule.
const CLASSIC_PAIRS: &[(&str, &str)] = &[
    ("pink", "navy"),
    ("pink", "grey"),
    ("pink", "blue"),
    ("pink", "lilac"),
    ("burgundy", "camel"),
    ("burgundy", "grey"),
    ("olive", "white"),
    ("olive", "camel"),
    ("mustard", "navy"),
    ("mustard", "grey"),
    ("light blue", "navy"),
    ("light blue", "brown"),
    ("lilac", "grey"),
    ("yellow", "grey"),
    ("red", "navy"),
    ("teal", "mustard"),
    ("navy", "white"),
    ("navy", "camel"),
    ("black", "white"),
    ("camel", "black"),
];

/// Curated clashes, either order: chromatic pairs the hue rules would accept (or that
/// customers ask about) but most shoppers find jarring. They never harmonise.
const CLASHES: &[(&str, &str)] = &[
    ("red", "pink"),
    ("red", "orange"),
    ("pink", "orange"),
    ("red", "green"),
    ("orange", "purple"),
];

/// Hues at most this many degrees apart are one hue family (tonal).
const TONAL_MAX_DEGREES: f32 = 20.0;
/// Hues at most this many degrees apart (and not tonal) are analogous.
const ANALOGOUS_MAX_DEGREES: f32 = 60.0;
/// Hues at least this many degrees apart are complementary.
const COMPLEMENTARY_MIN_DEGREES: f32 = 135.0;
/// Shades of one hue need at least this HSL lightness difference to read as a tonal
/// light/dark pair; closer than that they look like a near-miss match.
const TONAL_MIN_LIGHTNESS_GAP: f32 = 0.2;

/// Whether `candidate` colour goes with `anchor` colour, and why; `None` when they do
/// not, or when either name is not a palette colour.
///
/// The rules, first match wins (the result is the same either way round):
/// 1. a curated classic pair (pink + navy, burgundy + camel, ...) → [`Reason::ClassicPair`], 0.95;
/// 2. a curated clash (red + pink, red + orange, pink + orange, red + green,
///    orange + purple) → `None`;
/// 3. either colour neutral → [`Reason::Neutral`], 0.70 plus up to 0.15 for light–dark
///    contrast (Rec. 601 luma difference), so white on black beats ivory on white;
/// 4. otherwise on the HSL hues computed from the palette's sRGB: within 20° →
///    [`Reason::Tonal`], 0.75 if lightness differs by 0.2 or more, else 0.50 (same
///    colour or a near-miss shade); within 60° → [`Reason::Analogous`], 0.65; 135° or
///    more apart → [`Reason::Complementary`], 0.70; anything in between (e.g.
///    purple + orange, green + blue-violet) → `None`.
pub fn colour_harmony(anchor: &str, candidate: &str) -> Option<Harmony> {
    let a = PaletteInfo::of(anchor)?;
    let c = PaletteInfo::of(candidate)?;
    let pair_in = |table: &[(&str, &str)]| {
        table
            .iter()
            .any(|&(x, y)| (x == a.name && y == c.name) || (x == c.name && y == a.name))
    };
    if pair_in(CLASSIC_PAIRS) {
        return Some(Harmony {
            score: 0.95,
            reason: Reason::ClassicPair,
        });
    }
    if pair_in(CLASHES) {
        return None;
    }
    if a.neutral || c.neutral {
        let contrast = f32::from(a.luma.abs_diff(c.luma)) / 255.0;
        return Some(Harmony {
            score: 0.70 + 0.15 * contrast,
            reason: Reason::Neutral,
        });
    }
    let degrees = hue_distance(a.hue, c.hue);
    let (score, reason) = if degrees <= TONAL_MAX_DEGREES {
        let distinct = (a.lightness - c.lightness).abs() >= TONAL_MIN_LIGHTNESS_GAP;
        (if distinct { 0.75 } else { 0.50 }, Reason::Tonal)
    } else if degrees <= ANALOGOUS_MAX_DEGREES {
        (0.65, Reason::Analogous)
    } else if degrees >= COMPLEMENTARY_MIN_DEGREES {
        (0.70, Reason::Complementary)
    } else {
        return None;
    };
    Some(Harmony { score, reason })
}

/// What the colour rules need to know about one palette colour.
struct PaletteInfo {
    /// Canonical palette name.
    name: &'static str,
    /// HSL hue in degrees, `0..360`.
    hue: f32,
    /// HSL lightness, `0..=1`.
    lightness: f32,
    /// Rec. 601 luma, for light–dark contrast.
    luma: u8,
    /// Goes with everything.
    neutral: bool,
}

impl PaletteInfo {
    /// Looks a colour name up in the palette (trimmed, case-insensitive).
    fn of(name: &str) -> Option<PaletteInfo> {
        let wanted = normalise(name);
        let colour = PALETTE.iter().find(|c| c.name == wanted)?;
        let (hue, saturation, lightness) = hsl(colour.rgb);
        Some(PaletteInfo {
            name: colour.name,
            hue,
            lightness,
            luma: luma(colour.rgb),
            neutral: saturation < ACHROMATIC_SATURATION || FASHION_NEUTRALS.contains(&colour.name),
        })
    }
}

/// sRGB to HSL: hue in degrees `0..360`, saturation and lightness `0..=1`.
fn hsl(rgb: [u8; 3]) -> (f32, f32, f32) {
    let [r, g, b] = rgb.map(|v| f32::from(v) / 255.0);
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let lightness = (max + min) / 2.0;
    let delta = max - min;
    if delta <= f32::EPSILON {
        return (0.0, 0.0, lightness);
    }
    let saturation = if lightness > 0.5 {
        delta / (2.0 - max - min)
    } else {
        delta / (max + min)
    };
    let sector = if r >= g && r >= b {
        (g - b) / delta
    } else if g >= b {
        (b - r) / delta + 2.0
    } else {
        (r - g) / delta + 4.0
    };
    ((sector * 60.0).rem_euclid(360.0), saturation, lightness)
}

/// Shortest angle between two hues, `0..=180` degrees.
fn hue_distance(a: f32, b: f32) -> f32 {
    let d = (a - b).abs().rem_euclid(360.0);
    d.min(360.0 - d)
}

/// The garment other items should go with: a catalogue product or one the customer
/// described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// Catalogue category (`sweater`), which decides the complementary categories.
    pub category: String,
    /// Palette colour names (`pink`); empty when unknown, in which case colour neither
    /// helps nor excludes a candidate.
    pub colours: Vec<String>,
}

impl Anchor {
    /// The anchor for a catalogue product: its category and colours.
    pub fn from_product(product: &Product) -> Anchor {
        Anchor {
            category: product.category.clone(),
            colours: product.colours.clone(),
        }
    }
}

/// How well one candidate goes with the anchor, with the reason to tell the customer.
#[derive(Debug, Clone, PartialEq)]
pub struct PairingScore {
    /// Combined score, `0..=1`, higher is better; comparable across candidates of one
    /// anchor.
    pub score: f32,
    /// One short sentence a shop assistant could say, naming both colours when colour
    /// played a part; deterministic for the same inputs.
    pub explanation: String,
}

/// Weight of the category rank in [`score_candidate`]: the best complementary category
/// counts 1, the last 0.5.
pub const WEIGHT_CATEGORY: f32 = 0.30;
/// Weight of the best colour harmony between anchor and candidate colours (0.5 when
/// either side's colours are unknown).
pub const WEIGHT_COLOUR: f32 = 0.35;
/// Weight of the vector similarity, cosine `-1..=1` mapped to `0..=1`.
pub const WEIGHT_SIMILARITY: f32 = 0.20;
/// Weight of co-purchases, `ln(1+n) / (1 + ln(1+n))`: rises quickly for the first
/// few customers, then flattens, and never reaches 1, so it never swamps style.
pub const WEIGHT_CO_PURCHASE: f32 = 0.15;

/// Colour term used when the anchor's or the candidate's colours are unknown.
const UNKNOWN_COLOUR_SCORE: f32 = 0.5;

/// Scores `candidate` as something to wear with `anchor`, or `None` when it does not
/// pair: its category is the anchor's own or not one of
/// [`complementary_categories`], or both sides have palette colours and none of the
/// candidate's harmonises with any of the anchor's.
///
/// `similarity` is the cosine from the vector search (`-1..=1`; non-finite counts as
/// 0) and `co_purchases` how many customers bought both. The score is
/// `0.30 category + 0.35 colour + 0.20 similarity + 0.15 co-purchase`, each term in
/// `0..=1` (see the `WEIGHT_*` constants), so it is in `0..=1` and rises with every
/// input. Colour uses the best-harmonising (anchor colour, candidate colour) pair, the
/// first such pair on ties.
pub fn score_candidate(
    anchor: &Anchor,
    candidate: &Product,
    similarity: f32,
    co_purchases: u32,
) -> Option<PairingScore> {
    let anchor_category = normalise(&anchor.category);
    let candidate_category = normalise(&candidate.category);
    if anchor_category == candidate_category {
        return None;
    }
    let complements = complementary_categories(&anchor_category);
    let rank = complements.iter().position(|c| *c == candidate_category)?;
    let category_term = if complements.len() > 1 {
        1.0 - 0.5 * rank as f32 / (complements.len() - 1) as f32
    } else {
        1.0
    };

    let known = |colours: &[String]| -> Vec<String> {
        colours
            .iter()
            .filter(|c| PaletteInfo::of(c).is_some())
            .map(|c| normalise(c))
            .collect()
    };
    let anchor_colours = known(&anchor.colours);
    let candidate_colours = known(&candidate.colours);
    let mut best: Option<(&str, &str, Harmony)> = None;
    for a in &anchor_colours {
        for c in &candidate_colours {
            if let Some(h) = colour_harmony(a, c)
                && best.is_none_or(|(_, _, b)| h.score > b.score)
            {
                best = Some((a.as_str(), c.as_str(), h));
            }
        }
    }
    let colour_term = match best {
        Some((_, _, h)) => h.score,
        None if anchor_colours.is_empty() || candidate_colours.is_empty() => UNKNOWN_COLOUR_SCORE,
        None => return None,
    };

    let cosine = if similarity.is_finite() {
        similarity.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let similarity_term = (cosine + 1.0) / 2.0;
    let log = (co_purchases as f32).ln_1p();
    let co_purchase_term = log / (1.0 + log);

    let score = (WEIGHT_CATEGORY * category_term
        + WEIGHT_COLOUR * colour_term
        + WEIGHT_SIMILARITY * similarity_term
        + WEIGHT_CO_PURCHASE * co_purchase_term)
        .clamp(0.0, 1.0);

    let mut clauses = Vec::with_capacity(3);
    if let Some((a, c, h)) = best {
        clauses.push(colour_clause(a, c, h.reason));
    }
    clauses.push(category_clause(&anchor_category, &candidate_category));
    match co_purchases {
        0 => {}
        1 => clauses.push("bought together by 1 customer".to_owned()),
        n => clauses.push(format!("often bought together ({n} customers)")),
    }
    Some(PairingScore {
        score,
        explanation: clauses.join("; "),
    })
}

/// Why the candidate's colour `c` goes with the anchor's colour `a`, in words.
fn colour_clause(a: &str, c: &str, reason: Reason) -> String {
    match reason {
        Reason::ClassicPair => format!("{c} is a classic partner for {a}"),
        Reason::Neutral => {
            let neutral = |n: &str| PaletteInfo::of(n).is_some_and(|i| i.neutral);
            match (neutral(a), neutral(c)) {
                (true, true) if a == c => format!("{c} with {a} keeps it clean and simple"),
                (true, true) => format!("{c} and {a} are easy neutrals together"),
                (false, _) => format!("{c} is an easy neutral with {a}"),
                (true, false) => format!("{c} stands out against neutral {a}"),
            }
        }
        Reason::Tonal if a == c => format!("{c} with {a} is a tonal, head-to-toe look"),
        Reason::Tonal => format!("{c} and {a} are shades of one colour, a tonal look"),
        Reason::Complementary => format!("{c} and {a} are opposites that make each other pop"),
        Reason::Analogous => format!("{c} and {a} sit side by side on the colour wheel"),
    }
}

/// Why the candidate's category goes with the anchor's, in words.
fn category_clause(anchor: &str, candidate: &str) -> String {
    let a = noun_phrase(anchor);
    let c = noun_phrase(candidate);
    let verb = |singular: &'static str, plural: &'static str| {
        if vocabulary::is_plural(candidate) {
            plural
        } else {
            singular
        }
    };
    if LAYERED_TOPS.contains(&(candidate, anchor)) {
        return format!("{c} layers under {a}");
    }
    if LAYERED_TOPS.contains(&(anchor, candidate)) {
        return format!("{c} layers over {a}");
    }
    match (slot(anchor), slot(candidate)) {
        (_, Some(Slot::Shoes | Slot::Accessory)) => {
            format!("{c} {} the look with {a}", verb("finishes", "finish"))
        }
        (Some(Slot::Top | Slot::OnePiece | Slot::Layer), Some(Slot::Outer))
        | (Some(Slot::Top | Slot::OnePiece), Some(Slot::Layer)) => {
            format!("{c} {} over {a}", verb("goes", "go"))
        }
        (Some(Slot::Outer | Slot::Layer), Some(Slot::Top | Slot::OnePiece)) => {
            format!("{c} {} under {a}", verb("goes", "go"))
        }
        (Some(Slot::Top | Slot::Layer | Slot::Outer), Some(Slot::Bottom))
        | (Some(Slot::Bottom), Some(Slot::Top | Slot::Layer | Slot::Outer)) => {
            format!("{c} and {a} make a complete outfit")
        }
        _ => format!("{c} {} with {a}", verb("goes", "go")),
    }
}

/// "a shirt", "jeans": the category as a noun phrase.
fn noun_phrase(category: &str) -> String {
    if vocabulary::is_plural(category) {
        category.to_owned()
    } else {
        format!("a {category}")
    }
}

/// Trimmed, lower-case form used to compare category and colour names.
fn normalise(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Reads a garment the customer described ("pink sweater", "a light blue shirt", "my
/// navy jeans") as an anchor; `None` when no category word is found. The vocabulary
/// (synonyms, plurals, multi-word colours) is the shared one of [`garment_terms`].
pub fn parse_described_garment(text: &str) -> Option<Anchor> {
    let terms = garment_terms(text);
    Some(Anchor {
        category: terms.category?,
        colours: terms.colours,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{CATEGORIES, fixture_catalogue};
    use protocol::catalog::SizeStock;

    fn product(category: &str, colours: &[&str]) -> Product {
        Product {
            sku: format!("TEST-{category}-{}", colours.join("-")),
            title: format!("{} {category}", colours.join(" and ")),
            description: String::new(),
            brand: "Northfold".into(),
            category: category.into(),
            colours: colours.iter().map(|c| (*c).to_owned()).collect(),
            pattern: Some("solid".into()),
            material: None,
            fit: None,
            price_cents: 4995,
            currency: "EUR".into(),
            sizes: vec![SizeStock {
                size: "M".into(),
                stock: 2,
            }],
            image_url: String::new(),
            store: None,
        }
    }

    fn anchor(category: &str, colours: &[&str]) -> Anchor {
        Anchor {
            category: category.into(),
            colours: colours.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    fn score(a: &Anchor, category: &str, colours: &[&str]) -> f32 {
        score_candidate(a, &product(category, colours), 0.3, 2).map_or(0.0, |s| s.score)
    }

    #[test]
    fn every_catalogue_category_has_a_slot() {
        for category in CATEGORIES {
            assert!(slot(category).is_some(), "{category}");
        }
        assert_eq!(slot("sweater"), Some(Slot::Top));
        assert_eq!(slot("cardigan"), Some(Slot::Layer));
        assert_eq!(slot("Coat"), Some(Slot::Outer));
        assert_eq!(slot("skirt"), Some(Slot::Bottom));
        assert_eq!(slot("dress"), Some(Slot::OnePiece));
        assert_eq!(slot("shoes"), Some(Slot::Shoes));
        assert_eq!(slot("bag"), Some(Slot::Accessory));
        assert_eq!(slot("umbrella"), None);
    }

    #[test]
    fn complements_name_catalogue_categories_of_other_slots() {
        for &anchor in CATEGORIES {
            let complements = complementary_categories(anchor);
            assert!(complements.len() >= 5, "{anchor}: {complements:?}");
            for (i, &c) in complements.iter().enumerate() {
                assert!(CATEGORIES.contains(&c), "{anchor}: {c} is not a category");
                assert_ne!(c, anchor);
                assert!(!complements[..i].contains(&c), "{anchor}: {c} twice");
                if slot(c) == slot(anchor) {
                    assert!(
                        LAYERED_TOPS.contains(&(anchor, c)) || LAYERED_TOPS.contains(&(c, anchor)),
                        "{anchor} and {c} share a slot"
                    );
                }
            }
        }
        assert!(complementary_categories("umbrella").is_empty());
    }

    #[test]
    fn a_shirt_goes_with_a_sweater() {
        let complements = complementary_categories("sweater");
        assert!(complements[..2].contains(&"shirt"), "{complements:?}");
        assert!(complementary_categories("shirt").contains(&"sweater"));
    }

    #[test]
    fn a_dress_never_gets_bottoms_or_tops() {
        let complements = complementary_categories("dress");
        for c in &complements {
            assert!(
                matches!(
                    slot(c),
                    Some(Slot::Layer | Slot::Outer | Slot::Shoes | Slot::Accessory)
                ),
                "{c}"
            );
        }
        assert!(!complements.contains(&"trousers"));
        let dress = anchor("dress", &["navy"]);
        for category in ["trousers", "jeans", "skirt", "shirt", "dress"] {
            assert!(
                score_candidate(&dress, &product(category, &["white"]), 1.0, 100).is_none(),
                "{category}"
            );
        }
        assert!(score_candidate(&dress, &product("cardigan", &["white"]), 0.0, 0).is_some());
    }

    #[test]
    fn neutrals_go_with_everything() {
        for neutral in ["black", "white", "grey", "navy", "camel", "beige"] {
            for colour in PALETTE {
                let h = colour_harmony(neutral, colour.name)
                    .unwrap_or_else(|| panic!("{neutral} with {}", colour.name));
                assert!(h.score >= 0.7, "{neutral} with {}: {h:?}", colour.name);
                assert!(colour_harmony(colour.name, neutral).is_some());
            }
        }
        assert_eq!(
            colour_harmony("pink", "white").map(|h| h.reason),
            Some(Reason::Neutral)
        );
        let white_on_black = colour_harmony("white", "black").map(|h| h.score);
        let ivory_on_white = colour_harmony("ivory", "white").map(|h| h.score);
        assert!(white_on_black > ivory_on_white);
    }

    #[test]
    fn harmony_is_symmetric_and_in_range() {
        for a in PALETTE {
            for c in PALETTE {
                let there = colour_harmony(a.name, c.name);
                assert_eq!(
                    there,
                    colour_harmony(c.name, a.name),
                    "{} {}",
                    a.name,
                    c.name
                );
                if let Some(h) = there {
                    assert!((0.0..=1.0).contains(&h.score), "{h:?}");
                }
            }
        }
    }

    #[test]
    fn harmony_rules() {
        let reason = |a, c| colour_harmony(a, c).map(|h| h.reason);
        assert_eq!(reason("pink", "navy"), Some(Reason::ClassicPair));
        assert_eq!(reason("camel", "burgundy"), Some(Reason::ClassicPair));
        assert_eq!(reason("olive", "white"), Some(Reason::ClassicPair));
        assert_eq!(reason("mustard", "navy"), Some(Reason::ClassicPair));
        assert_eq!(reason("blue", "light blue"), Some(Reason::Tonal));
        assert_eq!(reason("pink", "burgundy"), Some(Reason::Tonal));
        assert_eq!(reason("purple", "lilac"), Some(Reason::Tonal));
        assert_eq!(reason("green", "teal"), Some(Reason::Analogous));
        assert_eq!(reason("blue", "orange"), Some(Reason::Complementary));
        assert_eq!(reason("teal", "pink"), Some(Reason::Complementary));
        // Curated and computed clashes.
        assert_eq!(reason("red", "pink"), None);
        assert_eq!(reason("pink", "orange"), None);
        assert_eq!(reason("orange", "purple"), None);
        assert_eq!(reason("red", "green"), None);
        // A near-miss shade is weaker than a real light/dark pair.
        let near = colour_harmony("mustard", "yellow").map_or(0.0, |h| h.score);
        let tonal = colour_harmony("blue", "light blue").map_or(0.0, |h| h.score);
        assert!(near < tonal);
        // Names are matched like product colours, unknown ones are not guessed.
        assert!(colour_harmony(" Pink ", "NAVY").is_some());
        assert_eq!(colour_harmony("pink", "chartreuse"), None);
        assert_eq!(colour_harmony("", "navy"), None);
    }

    #[test]
    fn a_white_or_navy_shirt_beats_a_red_or_orange_one_for_a_pink_sweater() {
        let pink_sweater = anchor("sweater", &["pink"]);
        let white = score(&pink_sweater, "shirt", &["white"]);
        let navy = score(&pink_sweater, "shirt", &["navy"]);
        let red = score(&pink_sweater, "shirt", &["red"]);
        let orange = score(&pink_sweater, "shirt", &["orange"]);
        for good in [white, navy] {
            assert!(good > 0.0);
            assert!(good > red && good > orange, "{white} {navy} {red} {orange}");
        }
        assert!(navy > white, "the classic pair comes first");
        // A shirt outranks a bag in the same colour: it is the better complement.
        assert!(navy > score(&pink_sweater, "bag", &["navy"]));
    }

    #[test]
    fn fixture_shirts_for_a_pink_sweater_lead_with_harmonising_colours() {
        let pink_sweater = anchor("sweater", &["pink"]);
        let mut shirts: Vec<(f32, Product)> = fixture_catalogue()
            .into_iter()
            .filter(|p| p.category == "shirt")
            .filter_map(|p| score_candidate(&pink_sweater, &p, 0.0, 0).map(|s| (s.score, p)))
            .collect();
        assert!(shirts.len() >= 10, "{}", shirts.len());
        shirts.sort_by(|a, b| b.0.total_cmp(&a.0));
        let best = &shirts[0].1.colours;
        assert!(
            best.iter()
                .any(|c| ["navy", "grey", "white"].contains(&c.as_str())),
            "{best:?}"
        );
        assert!(
            shirts
                .iter()
                .all(|(_, p)| !p.colours.contains(&"red".to_owned()) || p.colours.len() > 1)
        );
    }

    #[test]
    fn the_same_category_or_an_unknown_one_never_pairs() {
        let a = anchor("sweater", &["pink"]);
        assert!(score_candidate(&a, &product("sweater", &["navy"]), 1.0, 9).is_none());
        assert!(score_candidate(&a, &product("umbrella", &["navy"]), 1.0, 9).is_none());
        let unknown = anchor("umbrella", &["navy"]);
        assert!(score_candidate(&unknown, &product("shirt", &["white"]), 1.0, 9).is_none());
    }

    #[test]
    fn explanations_name_both_colours_and_the_reasons() {
        let pink_sweater = anchor("sweater", &["pink"]);
        let navy_shirt = product("shirt", &["navy"]);
        let s = score_candidate(&pink_sweater, &navy_shirt, 0.4, 3).map(|s| s.explanation);
        assert_eq!(
            s.as_deref(),
            Some(
                "navy is a classic partner for pink; a shirt layers under a sweater; \
                 often bought together (3 customers)"
            )
        );
        let again = score_candidate(&pink_sweater, &navy_shirt, 0.4, 3).map(|s| s.explanation);
        assert_eq!(s, again);

        let cases: &[(&[&str], &str, &[&str])] = &[
            (&["pink"], "jeans", &["blue", "white"]),
            (&["grey"], "scarf", &["mustard"]),
            (&["blue"], "bag", &["orange"]),
            (&["teal"], "trousers", &["green"]),
            (&["purple"], "skirt", &["lilac"]),
            (&["black"], "shoes", &["black"]),
        ];
        for (anchor_colours, category, colours) in cases {
            let a = anchor("sweater", anchor_colours);
            let e = score_candidate(&a, &product(category, colours), 0.0, 1)
                .map(|s| s.explanation)
                .unwrap_or_default();
            assert!(e.contains(anchor_colours[0]), "{e}");
            assert!(colours.iter().any(|c| e.contains(c)), "{e}");
            assert!(e.contains(category), "{e}");
            assert!(e.ends_with("bought together by 1 customer"), "{e}");
            assert!(e.len() < 140, "{e}");
        }
        let clauses = [
            (
                "jeans",
                "jacket",
                "a jacket and jeans make a complete outfit",
            ),
            ("dress", "cardigan", "a cardigan goes over a dress"),
            (
                "coat",
                "trousers",
                "trousers and a coat make a complete outfit",
            ),
            ("jacket", "t-shirt", "a t-shirt goes under a jacket"),
            ("t-shirt", "shirt", "a shirt layers over a t-shirt"),
            ("shirt", "t-shirt", "a t-shirt layers under a shirt"),
            ("blouse", "sweater", "a sweater layers over a blouse"),
            ("shoes", "jeans", "jeans go with shoes"),
        ];
        for (anchor_category, category, clause) in clauses {
            let e = score_candidate(
                &anchor(anchor_category, &[]),
                &product(category, &[]),
                0.0,
                0,
            )
            .map(|s| s.explanation);
            assert_eq!(e.as_deref(), Some(clause));
        }
        let plain = score_candidate(&anchor("dress", &[]), &product("shoes", &["red"]), 0.0, 0)
            .map(|s| s.explanation);
        assert_eq!(plain.as_deref(), Some("shoes finish the look with a dress"));
    }

    #[test]
    fn unknown_colours_neither_help_nor_exclude() {
        let colourless = anchor("sweater", &[]);
        let s = score_candidate(&colourless, &product("shirt", &["red"]), 0.0, 0);
        assert!(s.is_some());
        let odd = anchor("sweater", &["multicolour"]);
        assert!(score_candidate(&odd, &product("shirt", &["red"]), 0.0, 0).is_some());
        // With known colours on both sides, a clash does exclude.
        let pink = anchor("sweater", &["pink"]);
        assert!(score_candidate(&pink, &product("shirt", &["red"]), 1.0, 50).is_none());
        // One harmonising colour of several is enough, and the best one is used.
        let striped = score_candidate(&pink, &product("shirt", &["red", "navy"]), 0.0, 0)
            .map(|s| s.explanation)
            .unwrap_or_default();
        assert!(
            striped.starts_with("navy is a classic partner for pink"),
            "{striped}"
        );
    }

    #[test]
    fn score_rises_with_co_purchases_and_similarity_and_stays_in_range() {
        let a = anchor("sweater", &["pink"]);
        let shirt = product("shirt", &["white"]);
        let at =
            |sim: f32, n: u32| score_candidate(&a, &shirt, sim, n).map_or(f32::NAN, |s| s.score);
        let mut previous = at(0.2, 0);
        for n in 1..=500 {
            let now = at(0.2, n);
            assert!(now >= previous, "{n}: {now} < {previous}");
            previous = now;
        }
        assert!(at(0.2, 0) < at(0.2, 1));
        assert!(at(0.2, 1) < at(0.2, 3));
        assert!(at(0.2, 3) < at(0.2, 30));
        // Diminishing returns: the first customer counts more than the hundredth.
        assert!(at(0.2, 1) - at(0.2, 0) > at(0.2, 100) - at(0.2, 99));
        assert!(at(-0.5, 3) < at(0.0, 3) && at(0.0, 3) < at(0.9, 3));
        for sim in [-1.0, 1.0, -7.0, 7.0, f32::NAN, f32::INFINITY] {
            for n in [0, 1, u32::MAX] {
                let s = at(sim, n);
                assert!((0.0..=1.0).contains(&s), "{sim} {n}: {s}");
            }
        }
    }

    #[test]
    fn anchor_from_a_product_keeps_category_and_colours() {
        let p = product("cardigan", &["pink", "ivory"]);
        assert_eq!(
            Anchor::from_product(&p),
            anchor("cardigan", &["pink", "ivory"])
        );
    }

    #[test]
    fn described_garments_need_a_category_word() {
        // The vocabulary itself is tested in protocol::vocabulary.
        assert_eq!(
            parse_described_garment("my light-blue denim shirt"),
            Some(anchor("shirt", &["light blue"]))
        );
        assert_eq!(
            parse_described_garment("Navy blue chinos"),
            Some(anchor("trousers", &["navy"]))
        );
        for text in ["", "something pink", "blue", "what goes with it?"] {
            assert_eq!(parse_described_garment(text), None, "{text}");
        }
    }

    #[test]
    fn a_described_pink_sweater_gets_shirts_explained() {
        let a = parse_described_garment("I have a pink sweater").unwrap_or_else(|| anchor("", &[]));
        let s = score_candidate(&a, &product("shirt", &["grey"]), 0.5, 0).map(|s| s.explanation);
        assert_eq!(
            s.as_deref(),
            Some("grey is a classic partner for pink; a shirt layers under a sweater")
        );
    }
}
