//! Product images: valid PNGs of the right size, transparent around the garment,
//! painted in the product's colour, and visibly patterned when the product is.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a bad PNG should fail the test"
)]

use std::collections::HashMap;

use catalog::fixtures::images::{
    IMAGE_HEIGHT, IMAGE_WIDTH, product_svg, render_contact_sheet, render_product_image,
};
use catalog::fixtures::palette::colour_rgb;
use catalog::fixtures::{CATEGORIES, fixture_catalogue};
use protocol::catalog::Product;

/// A decoded RGBA image.
struct Rgba {
    width: u32,
    height: u32,
    pixels: Vec<[u8; 4]>,
}

fn decode(png_bytes: &[u8]) -> Rgba {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgba, "images carry alpha");
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    let pixels = buf[..info.buffer_size()]
        .chunks_exact(4)
        .map(|p| [p[0], p[1], p[2], p[3]])
        .collect();
    Rgba {
        width: info.width,
        height: info.height,
        pixels,
    }
}

fn opaque(image: &Rgba) -> Vec<[u8; 3]> {
    image
        .pixels
        .iter()
        .filter(|p| p[3] == 255)
        .map(|p| [p[0], p[1], p[2]])
        .collect()
}

/// The most frequent opaque colour, with channels bucketed by 8 so anti-aliasing
/// and mixing noise do not split the count.
fn dominant(pixels: &[[u8; 3]]) -> [u8; 3] {
    let mut counts: HashMap<[u8; 3], (usize, [u64; 3])> = HashMap::new();
    for p in pixels {
        let entry = counts.entry(p.map(|c| c / 8)).or_default();
        entry.0 += 1;
        for (sum, c) in entry.1.iter_mut().zip(p) {
            *sum += u64::from(*c);
        }
    }
    let (_, (n, sums)) = counts
        .into_iter()
        .max_by_key(|(bucket, (n, _))| (*n, *bucket))
        .unwrap();
    let n = n as u64;
    sums.map(|s| u8::try_from(s / n).unwrap())
}

/// Mean per-channel variance of the opaque pixels.
fn variance(pixels: &[[u8; 3]]) -> f64 {
    let n = pixels.len() as f64;
    (0..3)
        .map(|ch| {
            let mean = pixels.iter().map(|p| f64::from(p[ch])).sum::<f64>() / n;
            pixels
                .iter()
                .map(|p| (f64::from(p[ch]) - mean).powi(2))
                .sum::<f64>()
                / n
        })
        .sum::<f64>()
        / 3.0
}

/// Every fourth product: all categories, all patterns, many colours.
fn sample() -> Vec<Product> {
    fixture_catalogue().into_iter().step_by(4).collect()
}

#[test]
fn image_is_a_png_of_the_expected_size_with_a_transparent_background() {
    for category in CATEGORIES {
        let product = fixture_catalogue()
            .into_iter()
            .find(|p| p.category == *category)
            .unwrap();
        let image = decode(&render_product_image(&product));
        assert_eq!((image.width, image.height), (IMAGE_WIDTH, IMAGE_HEIGHT));
        let w = IMAGE_WIDTH as usize;
        // Corners are background: fully transparent, so try-on can cut the garment out.
        for (x, y) in [
            (0, 0),
            (w - 1, 0),
            (0, IMAGE_HEIGHT as usize - 1),
            (w - 1, IMAGE_HEIGHT as usize - 1),
        ] {
            assert_eq!(
                image.pixels[y * w + x][3],
                0,
                "{category}: corner ({x},{y}) not transparent"
            );
        }
        let transparent = image.pixels.iter().filter(|p| p[3] == 0).count();
        let solid = image.pixels.iter().filter(|p| p[3] == 255).count();
        let total = image.pixels.len();
        assert!(
            transparent * 5 > total,
            "{category}: background is only {transparent} of {total} pixels"
        );
        assert!(
            solid * 8 > total,
            "{category}: garment covers only {solid} of {total} pixels"
        );
    }
}

#[test]
fn rendering_is_deterministic() {
    let product = &fixture_catalogue()[0];
    assert_eq!(render_product_image(product), render_product_image(product));
}

#[test]
fn dominant_colour_is_the_products_colour() {
    for product in sample() {
        let expected = colour_rgb(&product.colours[0]).unwrap();
        let got = dominant(&opaque(&decode(&render_product_image(&product))));
        let off = expected
            .iter()
            .zip(got)
            .map(|(e, g)| e.abs_diff(g))
            .max()
            .unwrap();
        assert!(
            off <= 12,
            "{} ({}, {:?}): dominant {got:?}, expected {} {expected:?}",
            product.sku,
            product.category,
            product.pattern,
            product.colours[0]
        );
    }
}

#[test]
fn patterns_vary_more_than_solids() {
    // Compare like with like: the same garment in the same colours, solid and patterned.
    for category in ["shirt", "dress", "scarf", "skirt", "t-shirt"] {
        let mut product = fixture_catalogue()
            .into_iter()
            .find(|p| p.category == category)
            .unwrap();
        product.colours = vec!["navy".into(), "white".into()];
        product.pattern = Some("solid".into());
        let solid = variance(&opaque(&decode(&render_product_image(&product))));
        for pattern in ["striped", "checked", "printed"] {
            product.pattern = Some(pattern.into());
            let patterned = variance(&opaque(&decode(&render_product_image(&product))));
            assert!(
                patterned > 2.0 * solid + 100.0,
                "{category} {pattern}: variance {patterned:.0} vs solid {solid:.0}"
            );
        }
    }
}

#[test]
fn unknown_categories_and_colours_still_render() {
    let mut product = fixture_catalogue()[0].clone();
    product.category = "hat".into();
    product.colours = vec!["aubergine".into()];
    let image = decode(&render_product_image(&product));
    assert_eq!((image.width, image.height), (IMAGE_WIDTH, IMAGE_HEIGHT));
    assert!(!opaque(&image).is_empty());
    assert!(product_svg(&product).starts_with("<svg"));
}

#[test]
fn contact_sheet_is_a_grid_of_thumbnails() {
    let products: Vec<Product> = fixture_catalogue().into_iter().take(5).collect();
    let image = decode(&render_contact_sheet(&products, 3));
    // Two rows of three half-size cells with 8-pixel gutters.
    assert_eq!(
        (image.width, image.height),
        (
            3 * (IMAGE_WIDTH / 2 + 8) + 8,
            2 * (IMAGE_HEIGHT / 2 + 8) + 8
        )
    );
    let committed = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/catalog/contact-sheet.png"
    ))
    .unwrap();
    let sheet = decode(&committed);
    assert!(sheet.width > IMAGE_WIDTH && sheet.height > IMAGE_HEIGHT);
}
