//! Garment pictures drawn by our own code: one SVG template per category, filled with
//! the garment's colour and pattern, rasterised with resvg with a transparent
//! background (so try-on can cut the garment out by its alpha, without segmentation).
//!
//! Product images are rendered on demand and never committed: they follow from the
//! product record, so the catalogue needs no download and cannot go stale. The same
//! templates draw garments described by their attributes ([`GarmentSpec`]), which is
//! how the try-on service generates garment images from a prompt.

use protocol::catalog::Product;
use resvg::{tiny_skia, usvg};

use crate::palette::{PALETTE, colour_rgb, luma};

/// Width of a product image in pixels.
pub const IMAGE_WIDTH: u32 = 256;
/// Height of a product image in pixels (portrait, like a product card).
pub const IMAGE_HEIGHT: u32 = 320;

/// Colour used when a product's colour is not in the palette (imported catalogues).
const FALLBACK_RGB: [u8; 3] = [150, 150, 152];

/// Largest side, in pixels, of any picture this module draws; bounds memory whatever a
/// caller asks for (4096² RGBA is 64 MiB).
pub const MAX_SIDE: u32 = 4096;

/// A decoded picture: straight (not premultiplied) RGBA, row by row, 4 bytes a pixel.
/// What callers that composite the garment themselves (try-on) work with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgba {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 4` bytes: R, G, B, A.
    pub pixels: Vec<u8>,
}

/// The product's image as PNG bytes, [`IMAGE_WIDTH`] × [`IMAGE_HEIGHT`], RGBA with a
/// transparent background. Deterministic: the same product gives the same bytes.
pub fn render_product_image(product: &Product) -> Vec<u8> {
    encode(&render_pixmap(product))
}

/// The product's image drawn `scale` times larger than [`render_product_image`] (same
/// drawing, sharper than enlarging the PNG), e.g. for try-on on a large photo. The
/// scale is clamped so neither side exceeds [`MAX_SIDE`].
pub fn render_product_rgba(product: &Product, scale: f32) -> Rgba {
    let limit = MAX_SIDE as f32 / IMAGE_HEIGHT as f32;
    let scale = if scale.is_finite() {
        scale.clamp(0.125, limit)
    } else {
        1.0
    };
    let width = ((IMAGE_WIDTH as f32 * scale).round() as u32).max(1);
    let height = ((IMAGE_HEIGHT as f32 * scale).round() as u32).max(1);
    let tree = parse(&product_svg(product));
    let mut pixmap = pixmap(width, height);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_scale(scale, scale),
        &mut pixmap.as_mut(),
    );
    rgba(&pixmap)
}

/// The SVG the image is rasterised from (256 × 320 user units), for callers that want
/// to scale it themselves.
pub fn product_svg(product: &Product) -> String {
    let base = product
        .colours
        .first()
        .and_then(|c| colour_rgb(c))
        .unwrap_or(FALLBACK_RGB);
    let accent = product
        .colours
        .get(1)
        .and_then(|c| colour_rgb(c))
        .unwrap_or(default_accent(base));
    let text = format!("{} {}", product.title, product.description).to_lowercase();
    look_svg(&Look {
        category: &product.category,
        base,
        accent,
        pattern: product.pattern.as_deref().unwrap_or("solid"),
        polka: text.contains("polka"),
        boots: text.contains("boot"),
        strap: text.contains("crossbody") || text.contains("shoulder bag"),
        stripe_tile: 18,
        offset: (0, 0),
        weave: None,
    })
}

/// A garment described by its attributes rather than by a catalogue record: what a
/// prompt such as "a pink striped linen shirt" names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GarmentSpec {
    /// A category of `protocol::vocabulary::CATEGORIES`; others get a swing tag.
    pub category: String,
    /// Palette colour names: the first is the base, the second the pattern's accent.
    /// Colours left out are chosen from the seed.
    pub colours: Vec<String>,
    /// `solid`, `striped`, `checked`, `printed` (flowers) or `polka` (dots); solid
    /// when absent or unknown.
    pub pattern: Option<String>,
    /// Main material; linen, knits (wool, cashmere…), denim, leather or suede and silk
    /// or satin get a visible weave, others are drawn flat.
    pub material: Option<String>,
    /// Free words that pick a variant: "boots" for shoes, "crossbody" for bags, "open"
    /// or "cardigan" for an open knit.
    pub details: String,
    /// Everything the description leaves open (missing colours, stripe width, where
    /// the pattern starts, the weave's irregularities) follows from it: the same spec
    /// and seed give the same pixels.
    pub seed: u64,
}

/// The SVG of a described garment (256 × 320 user units), deterministic for its seed.
pub fn garment_svg(spec: &GarmentSpec) -> String {
    let mut rng = SplitMix(spec.seed);
    let named: Vec<[u8; 3]> = spec.colours.iter().filter_map(|c| colour_rgb(c)).collect();
    let base = match named.first() {
        Some(rgb) => *rgb,
        None => PALETTE[rng.below(PALETTE.len())].rgb,
    };
    let accent = match named.get(1) {
        Some(rgb) => *rgb,
        None => {
            // A palette colour that contrasts with the base, as the catalogue's second
            // colours do.
            let contrasting: Vec<[u8; 3]> = PALETTE
                .iter()
                .map(|c| c.rgb)
                .filter(|rgb| luma(*rgb).abs_diff(luma(base)) >= 70)
                .collect();
            if contrasting.is_empty() {
                default_accent(base)
            } else {
                contrasting[rng.below(contrasting.len())]
            }
        }
    };
    let details = spec.details.to_lowercase();
    let (pattern, polka) = match spec.pattern.as_deref() {
        Some("striped") => ("striped", false),
        Some("checked") => ("checked", false),
        Some("printed") => ("printed", false),
        Some("polka") => ("printed", true),
        _ => ("solid", false),
    };
    let stripe_tile = [12, 15, 18, 21, 24][rng.below(5)];
    let offset = (rng.below(26) as u32, rng.below(26) as u32);
    let weave = spec
        .material
        .as_deref()
        .and_then(Weave::of)
        .map(|kind| (kind, rng.next()));
    let category = match spec.category.as_str() {
        "sweater" if details.contains("open") || details.contains("cardigan") => "cardigan",
        other => other,
    };
    look_svg(&Look {
        category,
        base,
        accent,
        pattern,
        polka,
        boots: details.contains("boot"),
        strap: details.contains("crossbody") || details.contains("shoulder"),
        stripe_tile,
        offset,
        weave,
    })
}

/// A described garment as a PNG of `width` × `height` (each side clamped to
/// 1..=[`MAX_SIDE`]): the drawing scaled to fit and centred on a transparent
/// background.
pub fn render_garment(spec: &GarmentSpec, width: u32, height: u32) -> Vec<u8> {
    encode(&render_fitted(&garment_svg(spec), width, height))
}

/// [`render_garment`] as straight RGBA pixels rather than a PNG.
pub fn render_garment_rgba(spec: &GarmentSpec, width: u32, height: u32) -> Rgba {
    rgba(&render_fitted(&garment_svg(spec), width, height))
}

/// A grid of product thumbnails (half size) on a light background, for people to look
/// at the catalogue; `columns` thumbnails per row.
pub fn render_contact_sheet(products: &[Product], columns: u32) -> Vec<u8> {
    let columns = columns.max(1);
    let count = u32::try_from(products.len()).unwrap_or(u32::MAX);
    let rows = count.div_ceil(columns).max(1);
    let (cell_w, cell_h, pad) = (IMAGE_WIDTH / 2, IMAGE_HEIGHT / 2, 8);
    let mut sheet = pixmap(columns * (cell_w + pad) + pad, rows * (cell_h + pad) + pad);
    sheet.fill(tiny_skia::Color::from_rgba8(236, 236, 232, 255));
    for (i, product) in (0u32..).zip(products) {
        let tree = parse(&product_svg(product));
        let x = pad + (i % columns) * (cell_w + pad);
        let y = pad + (i / columns) * (cell_h + pad);
        // Cell origins are small integers; f32 holds them exactly.
        #[allow(clippy::cast_precision_loss)]
        let transform = tiny_skia::Transform::from_row(0.5, 0.0, 0.0, 0.5, x as f32, y as f32);
        resvg::render(&tree, transform, &mut sheet.as_mut());
    }
    encode(&sheet)
}

fn render_pixmap(product: &Product) -> tiny_skia::Pixmap {
    let tree = parse(&product_svg(product));
    let mut pixmap = pixmap(IMAGE_WIDTH, IMAGE_HEIGHT);
    resvg::render(
        &tree,
        tiny_skia::Transform::identity(),
        &mut pixmap.as_mut(),
    );
    pixmap
}

/// The 256 × 320 drawing scaled to fit `width` × `height` and centred.
fn render_fitted(svg: &str, width: u32, height: u32) -> tiny_skia::Pixmap {
    let (width, height) = (width.clamp(1, MAX_SIDE), height.clamp(1, MAX_SIDE));
    let scale = (width as f32 / IMAGE_WIDTH as f32).min(height as f32 / IMAGE_HEIGHT as f32);
    let dx = (width as f32 - IMAGE_WIDTH as f32 * scale) / 2.0;
    let dy = (height as f32 - IMAGE_HEIGHT as f32 * scale) / 2.0;
    let tree = parse(svg);
    let mut pixmap = pixmap(width, height);
    resvg::render(
        &tree,
        tiny_skia::Transform::from_row(scale, 0.0, 0.0, scale, dx, dy),
        &mut pixmap.as_mut(),
    );
    pixmap
}

fn pixmap(width: u32, height: u32) -> tiny_skia::Pixmap {
    // Only fails for zero or absurd sizes, which the constants, the clamps and the
    // sheet's `max(1)` rule out.
    tiny_skia::Pixmap::new(width, height).expect("non-zero pixmap size")
}

fn parse(svg: &str) -> usvg::Tree {
    // The SVG is generated by this module from fixed templates and numbers; a parse
    // failure is a bug in a template, caught by the tests that render every category.
    usvg::Tree::from_str(svg, &usvg::Options::default()).expect("garment template is valid SVG")
}

fn encode(pixmap: &tiny_skia::Pixmap) -> Vec<u8> {
    // Encoding an in-memory RGBA buffer cannot fail short of running out of memory.
    pixmap
        .encode_png()
        .expect("PNG encoding of an in-memory pixmap")
}

/// tiny-skia keeps premultiplied pixels; callers want straight alpha.
fn rgba(pixmap: &tiny_skia::Pixmap) -> Rgba {
    let pixels = pixmap
        .pixels()
        .iter()
        .flat_map(|p| {
            let c = p.demultiply();
            [c.red(), c.green(), c.blue(), c.alpha()]
        })
        .collect();
    Rgba {
        width: pixmap.width(),
        height: pixmap.height(),
        pixels,
    }
}

/// The accent of a garment whose second colour is not named: navy on light colours,
/// white on dark ones.
fn default_accent(base: [u8; 3]) -> [u8; 3] {
    if luma(base) > 128 {
        [30, 42, 78]
    } else {
        [246, 246, 242]
    }
}

/// A small deterministic generator (SplitMix64): the same seed gives the same choices
/// on every machine, and this crate needs no other randomness.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// What a garment looks like: everything a template and its fabric need.
struct Look<'a> {
    category: &'a str,
    base: [u8; 3],
    accent: [u8; 3],
    /// `solid`, `striped`, `checked` or `printed`.
    pattern: &'a str,
    /// A printed pattern is polka dots rather than flowers.
    polka: bool,
    /// Shoes are Chelsea boots.
    boots: bool,
    /// A bag is a flap bag on a long strap rather than a tote.
    strap: bool,
    /// Side of a stripe tile in user units (a third of it is the accent band).
    stripe_tile: u32,
    /// Where the pattern's tiling starts, in user units.
    offset: (u32, u32),
    /// The material's weave drawn over the fabric, with its seed.
    weave: Option<(Weave, u64)>,
}

/// The SVG of a look: the template of its category, its fabric, and the weave over it.
fn look_svg(look: &Look<'_>) -> String {
    let base = look.base;
    let patterned = matches!(look.pattern, "striped" | "checked" | "printed");
    let ink = Ink {
        outline: hex(outline_of(base)),
        fabric: if patterned {
            "url(#fabric)".to_string()
        } else {
            hex(base)
        },
        base: hex(base),
    };
    let mut defs = fabric_defs(look);
    let body = template(look, &ink);
    let mut overlay = String::new();
    if let Some((weave, seed)) = look.weave {
        // The weave is painted over the whole garment through a mask of its shape, so
        // it follows every template without touching them.
        let white = Ink {
            outline: "#ffffff".into(),
            fabric: "#ffffff".into(),
            base: "#ffffff".into(),
        };
        defs.push_str(&format!(
            r#"<mask id="shape" maskUnits="userSpaceOnUse" x="0" y="0" width="256" height="320">{}</mask>{}"#,
            template(look, &white),
            weave.defs(base, seed)
        ));
        overlay =
            r#"<rect width="256" height="320" fill="url(#weave)" mask="url(#shape)"/>"#.into();
    }
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{IMAGE_WIDTH}" height="{IMAGE_HEIGHT}" viewBox="0 0 256 320"><defs>{defs}</defs>{body}{overlay}</svg>"#
    )
}

/// The garment's shapes for its category, painted with `ink`.
fn template(look: &Look<'_>, ink: &Ink) -> String {
    match look.category {
        "shirt" => shirt(ink),
        "blouse" => blouse(ink),
        "t-shirt" => t_shirt(ink),
        "sweater" => sweater(ink, false),
        "cardigan" => sweater(ink, true),
        "jacket" => jacket(ink, false),
        "coat" => jacket(ink, true),
        "jeans" => trousers(ink, true),
        "trousers" => trousers(ink, false),
        "skirt" => skirt(ink),
        "dress" => dress(ink),
        "shoes" => shoes(ink, look.base, look.boots),
        "scarf" => scarf(ink),
        "bag" => bag(ink, look.strap),
        _ => tag(ink),
    }
}

/// The visible texture of a material.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Weave {
    /// Linen: irregular horizontal slubs.
    Linen,
    /// Knitwear: rows of small chevrons.
    Knit,
    /// Denim and twill: fine diagonal lines.
    Twill,
    /// Leather and suede: a fine grain of specks.
    Grain,
    /// Silk and satin: broad diagonal sheen.
    Sheen,
    /// Corduroy and ribbed knits: fine vertical ribs.
    Rib,
}

impl Weave {
    /// The weave a material shows, if any ("brushed cotton" and "polyester" are flat).
    fn of(material: &str) -> Option<Weave> {
        let m = material.to_lowercase();
        let has = |words: &[&str]| words.iter().any(|w| m.contains(w));
        if has(&["linen", "flax"]) {
            Some(Weave::Linen)
        } else if has(&["wool", "cashmere", "merino", "knit", "mohair", "alpaca"]) {
            Some(Weave::Knit)
        } else if has(&["denim", "twill", "chambray", "gabardine"]) {
            Some(Weave::Twill)
        } else if has(&["leather", "suede"]) {
            Some(Weave::Grain)
        } else if has(&["silk", "satin"]) {
            Some(Weave::Sheen)
        } else if has(&["corduroy", "cord", "ribbed"]) {
            Some(Weave::Rib)
        } else {
            None
        }
    }

    /// The `<pattern id="weave">`: thin marks a little lighter or darker than the base,
    /// covering a minority of the fabric so the garment keeps its named colour.
    fn defs(self, base: [u8; 3], seed: u64) -> String {
        let mut rng = SplitMix(seed);
        let mark = if luma(base) > 150 {
            "#000000"
        } else {
            "#ffffff"
        };
        match self {
            Weave::Linen => {
                let slubs: String = (0..5)
                    .map(|_| {
                        let (x, y) = (rng.below(40), rng.below(40));
                        let length = 8 + rng.below(20);
                        format!(r#"<rect x="{x}" y="{y}" width="{length}" height="0.8"/>"#)
                    })
                    .collect();
                format!(
                    r#"<pattern id="weave" patternUnits="userSpaceOnUse" width="40" height="40"><g fill="{mark}" fill-opacity="0.22">{slubs}</g></pattern>"#
                )
            }
            Weave::Knit => format!(
                r#"<pattern id="weave" patternUnits="userSpaceOnUse" width="8" height="9"><path d="M0.5 0.5 L4 5 L7.5 0.5" fill="none" stroke="{mark}" stroke-opacity="0.16" stroke-width="1"/></pattern>"#
            ),
            Weave::Twill => format!(
                r#"<pattern id="weave" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(-45)"><rect width="6" height="1.1" fill="{mark}" fill-opacity="0.16"/></pattern>"#
            ),
            Weave::Grain => {
                let specks: String = (0..7)
                    .map(|_| {
                        let (x, y) = (rng.below(24), rng.below(24));
                        format!(r#"<circle cx="{x}" cy="{y}" r="0.7"/>"#)
                    })
                    .collect();
                format!(
                    r#"<pattern id="weave" patternUnits="userSpaceOnUse" width="24" height="24"><g fill="{mark}" fill-opacity="0.2">{specks}</g></pattern>"#
                )
            }
            Weave::Rib => format!(
                r#"<pattern id="weave" patternUnits="userSpaceOnUse" width="4" height="4"><rect width="1.3" height="4" fill="{mark}" fill-opacity="0.18"/></pattern>"#
            ),
            Weave::Sheen => r##"<pattern id="weave" patternUnits="userSpaceOnUse" width="90" height="90" patternTransform="rotate(-30)"><rect width="90" height="14" fill="#ffffff" fill-opacity="0.12"/></pattern>"##
                .to_owned(),
        }
    }
}
/// Paints of one garment.
struct Ink {
    /// Fill of the fabric: the base colour or the pattern.
    fabric: String,
    /// Seams, outlines and buttons: a darker (or, for dark colours, lighter) shade.
    outline: String,
    /// Plain base colour, for parts that should not carry the pattern (bag handles).
    base: String,
}

impl Ink {
    /// Attributes of a fabric panel.
    fn panel(&self) -> String {
        format!(
            r#"fill="{}" stroke="{}" stroke-width="2.5" stroke-linejoin="round""#,
            self.fabric, self.outline
        )
    }

    /// Attributes of a seam or edge line drawn over the fabric.
    fn seam(&self) -> String {
        format!(
            r#"fill="none" stroke="{}" stroke-width="2" stroke-linecap="round" stroke-linejoin="round""#,
            self.outline
        )
    }

    fn buttons(&self, points: &[(u32, u32)]) -> String {
        points
            .iter()
            .map(|(x, y)| {
                format!(
                    r#"<circle cx="{x}" cy="{y}" r="3.2" fill="{}"/>"#,
                    self.outline
                )
            })
            .collect()
    }
}

fn hex([r, g, b]: [u8; 3]) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// Outline shade: darker than the fabric, or lighter for near-black fabrics so seams
/// stay visible.
fn outline_of(rgb: [u8; 3]) -> [u8; 3] {
    if luma(rgb) < 70 {
        rgb.map(|c| c.saturating_add(70))
    } else {
        // 58 % of the channel; stays within 0..=255.
        rgb.map(|c| u8::try_from(u32::from(c) * 58 / 100).unwrap_or(c))
    }
}

/// The `<pattern id="fabric">` for a patterned product; the base colour always covers
/// most of the tile, so the garment still reads as its named colour.
fn fabric_defs(look: &Look<'_>) -> String {
    let (base, accent) = (look.base, look.accent);
    let (b, a) = (hex(base), hex(accent));
    // Products start their pattern at the origin; generated garments where their seed
    // says (the attribute is left out entirely at the origin, so product SVGs stay as
    // they always were).
    let shift = match look.offset {
        (0, 0) => String::new(),
        (x, y) => format!("translate({x} {y})"),
    };
    let transform = |rotate: &str| {
        let parts: Vec<&str> = [rotate, shift.as_str()]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect();
        if parts.is_empty() {
            String::new()
        } else {
            format!(r#" patternTransform="{}""#, parts.join(" "))
        }
    };
    match look.pattern {
        "striped" => {
            // Shirts, trousers and bags are usually pin- or candy-striped vertically;
            // knits, t-shirts and scarves horizontally (Breton, rugby).
            let vertical = matches!(
                look.category,
                "shirt" | "blouse" | "trousers" | "jacket" | "bag" | "shoes"
            );
            let rotate = transform(if vertical { "rotate(90)" } else { "" });
            let (t, band) = (look.stripe_tile, look.stripe_tile / 3);
            format!(
                r#"<pattern id="fabric" patternUnits="userSpaceOnUse" width="{t}" height="{t}"{rotate}><rect width="{t}" height="{t}" fill="{b}"/><rect y="0" width="{t}" height="{band}" fill="{a}"/></pattern>"#
            )
        }
        "checked" => format!(
            r#"<pattern id="fabric" patternUnits="userSpaceOnUse" width="26" height="26"{}><rect width="26" height="26" fill="{b}"/><rect x="0" width="6" height="26" fill="{a}" fill-opacity="0.55"/><rect y="0" width="26" height="6" fill="{a}" fill-opacity="0.55"/><rect x="15" width="1.5" height="26" fill="{a}" fill-opacity="0.8"/><rect y="15" width="26" height="1.5" fill="{a}" fill-opacity="0.8"/></pattern>"#,
            transform("")
        ),
        "printed" if look.polka => format!(
            r#"<pattern id="fabric" patternUnits="userSpaceOnUse" width="22" height="22"{}><rect width="22" height="22" fill="{b}"/><circle cx="5.5" cy="5.5" r="3.2" fill="{a}"/><circle cx="16.5" cy="16.5" r="3.2" fill="{a}"/></pattern>"#,
            transform("")
        ),
        "printed" => {
            // A five-petal flower, twice per tile, offset like a half-drop repeat.
            let flower = |cx: f32, cy: f32| {
                let petals: String = (0..5)
                    .map(|k| {
                        let angle = std::f32::consts::TAU * (k as f32) / 5.0;
                        let (px, py) = (cx + 4.2 * angle.cos(), cy + 4.2 * angle.sin());
                        format!(r#"<circle cx="{px:.2}" cy="{py:.2}" r="2.8" fill="{a}"/>"#)
                    })
                    .collect();
                format!(
                    r#"{petals}<circle cx="{cx}" cy="{cy}" r="2" fill="{}"/>"#,
                    hex(outline_of(accent))
                )
            };
            format!(
                r#"<pattern id="fabric" patternUnits="userSpaceOnUse" width="34" height="34"{}><rect width="34" height="34" fill="{b}"/>{}{}</pattern>"#,
                transform(""),
                flower(8.0, 8.0),
                flower(25.0, 25.0)
            )
        }
        _ => String::new(),
    }
}

fn shirt(ink: &Ink) -> String {
    let (p, s) = (ink.panel(), ink.seam());
    format!(
        concat!(
            r#"<path {p} d="M104 44 L70 56 L30 236 L54 244 L78 132 L76 290 Q128 304 180 290 L178 132 L202 244 L226 236 L186 56 L152 44 Q128 58 104 44 Z"/>"#,
            r#"<path {s} d="M70 56 L78 132 M186 56 L178 132 M34 220 L58 228 M222 220 L198 228 M128 62 L128 297"/>"#,
            r#"<path {s} d="M145 100 h22 v24 h-22 Z"/>"#,
            r#"<path {p} d="M104 42 Q128 32 152 42 L158 70 L128 62 L98 70 Z"/>"#,
            r#"<path {s} d="M104 42 L128 62 L152 42"/>"#,
            "{b}"
        ),
        p = p,
        s = s,
        b = ink.buttons(&[
            (128, 84),
            (128, 118),
            (128, 152),
            (128, 186),
            (128, 220),
            (128, 254)
        ])
    )
}

fn blouse(ink: &Ink) -> String {
    let (p, s) = (ink.panel(), ink.seam());
    format!(
        concat!(
            r#"<path {p} d="M106 44 L72 58 L40 192 L70 200 L84 130 L80 280 Q128 292 176 280 L172 130 L186 200 L216 192 L184 58 L150 44 L128 88 Z"/>"#,
            r#"<path {s} d="M72 58 L84 130 M184 58 L172 130 M44 178 L72 186 M212 178 L184 186 M128 88 L128 285"/>"#,
            r#"<path {p} d="M128 90 Q110 76 106 90 Q110 102 128 90 Z M128 90 Q146 76 150 90 Q146 102 128 90 Z"/>"#,
            r#"<path {p} d="M126 92 L116 132 L122 134 L128 96 L134 134 L140 132 L130 92 Z"/>"#,
            "{b}"
        ),
        p = p,
        s = s,
        b = ink.buttons(&[(128, 160), (128, 200), (128, 240)])
    )
}

fn t_shirt(ink: &Ink) -> String {
    let (p, s) = (ink.panel(), ink.seam());
    format!(
        concat!(
            r#"<path {p} d="M104 44 L70 56 L28 110 L56 134 L80 114 L80 276 L176 276 L176 114 L200 134 L228 110 L186 56 L152 44 Q128 64 104 44 Z"/>"#,
            r#"<path {s} d="M98 47 Q128 74 158 47 M36 102 L62 126 M220 102 L194 126 M80 266 L176 266 M70 56 L80 114 M186 56 L176 114"/>"#
        ),
        p = p,
        s = s
    )
}

/// Sweater, or with `open` a cardigan (V neck, button band, pockets).
fn sweater(ink: &Ink, open: bool) -> String {
    let (p, s) = (ink.panel(), ink.seam());
    let neck = if open {
        "L128 140 Z"
    } else {
        "Q128 62 104 42 Z"
    };
    let mut out = format!(
        r#"<path {p} d="M104 42 L66 54 L28 242 L58 250 L80 132 L78 292 L178 292 L176 132 L198 250 L228 242 L190 54 L152 42 {neck}"/>"#
    );
    // Ribbed hem and cuffs: a band line plus short vertical ribs.
    let ribs: String = (0..13)
        .map(|k| {
            let x = 84 + k * 7;
            format!("M{x} 276 L{x} 290 ")
        })
        .collect();
    out.push_str(&format!(
        r#"<path {s} d="M78 274 L178 274 M32 226 L61 234 M224 226 L195 234 M66 54 L80 132 M190 54 L176 132"/><path fill="none" stroke="{o}" stroke-width="1" d="{ribs}"/>"#,
        o = ink.outline
    ));
    if open {
        out.push_str(&format!(
            r#"<path {s} d="M98 44 L124 140 L124 292 M158 44 L132 140 L132 292 M92 210 h26 v28 h-26 Z M138 210 h26 v28 h-26 Z"/>{b}"#,
            b = ink.buttons(&[(128, 156), (128, 186), (128, 216), (128, 246)])
        ));
    } else {
        out.push_str(&format!(r#"<path {s} d="M98 45 Q128 74 158 45"/>"#));
    }
    out
}

/// Jacket, or with `long` a double-breasted coat.
fn jacket(ink: &Ink, long: bool) -> String {
    let (p, s) = (ink.panel(), ink.seam());
    let (hem, cuff) = if long { (310, 258) } else { (274, 244) };
    let mut out = format!(
        concat!(
            r#"<path {p} d="M102 40 L64 54 L26 {c0} L56 {c1} L78 134 L{hl} {hem} L{hr} {hem} L178 134 L200 {c1} L230 {c0} L192 54 L154 40 L128 150 Z"/>"#,
            r#"<path {s} d="M64 54 L78 134 M192 54 L178 134 M128 150 L128 {hem}"/>"#,
            r#"<path {p} d="M102 40 L90 72 L103 80 L94 98 L128 150 Z M154 40 L166 72 L153 80 L162 98 L128 150 Z"/>"#,
        ),
        p = p,
        s = s,
        hem = hem,
        hl = if long { 70 } else { 76 },
        hr = if long { 186 } else { 180 },
        c0 = cuff - 8,
        c1 = cuff,
    );
    if long {
        out.push_str(&format!(
            r#"<path {s} d="M86 236 h28 M142 236 h28 M31 232 L59 238 M225 232 L197 238"/>{b}"#,
            b = ink.buttons(&[
                (114, 172),
                (142, 172),
                (114, 204),
                (142, 204),
                (114, 236),
                (142, 236)
            ])
        ));
    } else {
        out.push_str(&format!(
            r#"<path {s} d="M88 214 h26 v7 h-26 Z M142 214 h26 v7 h-26 Z M144 110 h18"/>{b}"#,
            b = ink.buttons(&[(132, 180), (132, 214)])
        ));
    }
    out
}

/// Trousers, or with `jeans` five-pocket jeans with contrast stitching.
fn trousers(ink: &Ink, jeans: bool) -> String {
    let (p, s) = (ink.panel(), ink.seam());
    let mut out = format!(
        concat!(
            r#"<path {p} d="M72 30 L184 30 L196 306 L140 306 L128 124 L116 306 L60 306 Z"/>"#,
            r#"<path {s} d="M72 48 L184 48 M128 48 L128 100 M90 30 L90 48 M166 30 L166 48"/>"#,
        ),
        p = p,
        s = s
    );
    if jeans {
        // Mustard-coloured topstitching, the mark of jeans.
        out.push_str(&format!(
            r##"<path {s} d="M74 58 Q98 62 102 80 M182 58 Q158 62 154 80"/><path fill="none" stroke="#d4a22b" stroke-width="1.3" stroke-dasharray="4 3" d="M122 52 L122 96 Q122 106 128 110 M76 62 Q96 66 99 84 M180 62 Q160 66 157 84 M66 298 L118 298 M138 298 L190 298"/>"##
        ));
    } else {
        out.push_str(&format!(
            r#"<path {s} d="M76 58 L96 92 M180 58 L160 92"/><path fill="none" stroke="{o}" stroke-width="1" d="M98 70 L90 304 M158 70 L166 304"/>"#,
            o = ink.outline
        ));
    }
    out
}

fn skirt(ink: &Ink) -> String {
    let (p, s) = (ink.panel(), ink.seam());
    format!(
        concat!(
            r#"<path {p} d="M88 56 L168 56 L170 76 L208 262 Q128 280 48 262 L86 76 Z"/>"#,
            r#"<path {s} d="M86 76 L170 76"/>"#,
            r#"<path fill="none" stroke="{o}" stroke-width="1.2" d="M106 78 L90 266 M128 78 L128 272 M150 78 L166 266"/>"#
        ),
        p = p,
        s = s,
        o = ink.outline
    )
}

fn dress(ink: &Ink) -> String {
    let (p, s) = (ink.panel(), ink.seam());
    format!(
        concat!(
            r#"<path {p} d="M98 36 L108 36 Q128 66 148 36 L158 36 Q160 62 172 74 L164 142 L214 298 Q128 318 42 298 L92 142 L84 74 Q96 62 98 36 Z"/>"#,
            r#"<path {s} d="M92 142 Q128 150 164 142"/>"#,
            r#"<path fill="none" stroke="{o}" stroke-width="1.2" d="M112 148 L92 304 M144 148 L164 304 M128 150 L128 310"/>"#
        ),
        p = p,
        s = s,
        o = ink.outline
    )
}

/// A pair of shoes in side view (the second behind the first); `boots` raises the
/// shaft and adds a Chelsea boot's elastic gusset.
fn shoes(ink: &Ink, base: [u8; 3], boots: bool) -> String {
    let (p, s) = (ink.panel(), ink.seam());
    // White soles on light or bright shoes, dark soles on dark ones.
    let sole = if luma(base) > 200 {
        "#b8b8b4"
    } else if luma(base) > 90 {
        "#f2f2ee"
    } else {
        "#2a2522"
    };
    let one = if boots {
        format!(
            concat!(
                r#"<path {p} d="M36 236 L38 96 L100 96 L106 150 Q150 168 208 188 Q232 196 232 218 L232 236 Z"/>"#,
                r#"<path fill="{o}" d="M78 100 L88 156 L98 100 Z"/>"#,
                r#"<path {s} d="M38 108 L100 108 M40 96 L40 80 L50 80 L50 96 M196 184 Q208 204 232 214"/>"#
            ),
            p = p,
            s = s,
            o = ink.outline
        )
    } else {
        format!(
            concat!(
                r#"<path {p} d="M36 236 L38 172 Q40 150 62 152 L84 158 Q100 168 112 150 L128 132 L150 138 Q176 170 212 188 Q234 196 232 218 L232 236 Z"/>"#,
                r#"<path {s} d="M118 146 L140 150 M112 156 L136 162 M106 166 L130 172 M190 180 Q204 204 232 214 M62 152 Q66 190 60 236"/>"#
            ),
            p = p,
            s = s
        )
    };
    let sole_path = format!(
        r#"<path fill="{sole}" stroke="{o}" stroke-width="2" d="M30 234 L238 234 Q240 252 226 254 L40 254 Q30 252 30 234 Z"/>"#,
        o = ink.outline
    );
    format!(r#"<g transform="translate(16 -34)">{one}{sole_path}</g>{one}{sole_path}"#)
}

fn scarf(ink: &Ink) -> String {
    let (p, s) = (ink.panel(), ink.seam());
    let fringe = |x0: u32, y: u32| -> String {
        (0..7)
            .map(|k| {
                let x = x0 + k * 5;
                format!("M{x} {y} L{x} {} ", y + 18)
            })
            .collect()
    };
    format!(
        concat!(
            r#"<path {p} d="M134 74 L170 66 L184 262 L148 268 Z"/>"#,
            r#"<path {p} d="M92 70 L128 70 L122 284 L86 284 Z"/>"#,
            r#"<path {p} d="M80 44 Q128 18 176 44 L164 84 Q128 66 92 84 Z"/>"#,
            r#"<path {s} d="M{l} M{r}"/>"#
        ),
        p = p,
        s = s,
        l = fringe(88, 286),
        r = fringe(150, 268),
    )
}

/// A tote with two handles, or with `strap` a flap bag on a long strap.
fn bag(ink: &Ink, strap: bool) -> String {
    let (p, s) = (ink.panel(), ink.seam());
    let handle = |d: &str, width: u32| {
        format!(
            r#"<path fill="none" stroke="{o}" stroke-width="{w2}" stroke-linecap="round" d="{d}"/><path fill="none" stroke="{b}" stroke-width="{width}" stroke-linecap="round" d="{d}"/>"#,
            o = ink.outline,
            w2 = width + 5,
            b = ink.base
        )
    };
    if strap {
        format!(
            concat!(
                "{h}",
                r#"<path {p} d="M52 150 L204 150 L210 270 Q210 278 202 278 L54 278 Q46 278 46 270 Z"/>"#,
                r#"<path {p} d="M52 150 L204 150 L206 212 Q128 230 50 212 Z"/>"#,
                r#"<circle cx="128" cy="214" r="5" fill="{o}"/>"#
            ),
            h = handle("M60 152 Q60 30 128 26 Q196 30 196 152", 5),
            p = p,
            o = ink.outline
        )
    } else {
        format!(
            concat!(
                "{h}",
                r#"<path {p} d="M50 128 L206 128 L220 290 Q220 298 212 298 L44 298 Q36 298 36 290 Z"/>"#,
                r#"<path {s} d="M48 146 L208 146"/>"#
            ),
            h = handle("M90 132 Q90 52 128 52 Q166 52 166 132", 9),
            p = p,
            s = s
        )
    }
}

/// Unknown categories (imported catalogues) get a swing tag in the product's colour.
fn tag(ink: &Ink) -> String {
    let p = ink.panel();
    format!(
        r#"<path {p} d="M128 40 L196 100 L196 290 L60 290 L60 100 Z"/><circle cx="128" cy="96" r="8" fill="none" stroke="{o}" stroke-width="2.5"/>"#,
        o = ink.outline
    )
}
