//! The retail colour palette: the colour names the catalogue uses, each with the sRGB
//! value garments are painted in.
//!
//! The list itself lives in `protocol::vocabulary` (one list, so that a product's colour
//! name, its rendered image and the vision service's colour naming all agree); this
//! module adds what drawing needs.

pub use protocol::vocabulary::{PALETTE, PaletteColour};

/// The sRGB value of a palette colour name (exact, lower-case match).
pub fn colour_rgb(name: &str) -> Option<[u8; 3]> {
    PALETTE.iter().find(|c| c.name == name).map(|c| c.rgb)
}

/// Perceived lightness 0–255 (Rec. 601 luma), used to pick readable contrasts.
pub fn luma(rgb: [u8; 3]) -> u8 {
    let [r, g, b] = rgb.map(u32::from);
    // Weights sum to 1000, so the result stays within 0..=255.
    u8::try_from((299 * r + 587 * g + 114 * b) / 1000).unwrap_or(u8::MAX)
}
