//! Garments drawn from attributes: the size asked for, transparent around the garment,
//! the named colour dominant whatever the pattern and weave, deterministic for a seed.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::collections::HashMap;

use garment_art::{GarmentSpec, Rgba, palette::colour_rgb, render_garment, render_garment_rgba};
use protocol::vocabulary::CATEGORIES;

fn spec(
    category: &str,
    colours: &[&str],
    pattern: Option<&str>,
    material: Option<&str>,
) -> GarmentSpec {
    GarmentSpec {
        category: category.into(),
        colours: colours.iter().map(|c| (*c).to_owned()).collect(),
        pattern: pattern.map(str::to_owned),
        material: material.map(str::to_owned),
        details: String::new(),
        seed: 1,
    }
}

/// The most frequent opaque colour, channels bucketed by 8, averaged in its bucket.
fn dominant(image: &Rgba) -> [u8; 3] {
    let mut counts: HashMap<[u8; 3], (u64, [u64; 3])> = HashMap::new();
    for p in image.pixels.chunks_exact(4).filter(|p| p[3] == 255) {
        let entry = counts.entry([p[0] / 8, p[1] / 8, p[2] / 8]).or_default();
        entry.0 += 1;
        for (sum, value) in entry.1.iter_mut().zip(p) {
            *sum += u64::from(*value);
        }
    }
    let (_, (n, sums)) = counts
        .into_iter()
        .max_by_key(|(b, (n, _))| (*n, *b))
        .unwrap();
    sums.map(|s| u8::try_from(s / n).unwrap())
}

#[test]
fn the_named_colour_dominates_every_pattern_and_weave() {
    let materials = [
        None,
        Some("linen"),
        Some("merino wool"),
        Some("denim"),
        Some("suede"),
        Some("silk"),
        Some("corduroy"),
    ];
    let patterns = [
        None,
        Some("striped"),
        Some("checked"),
        Some("printed"),
        Some("polka"),
    ];
    for category in CATEGORIES {
        for (i, colour) in ["pink", "navy", "mustard", "white"].into_iter().enumerate() {
            let material = materials[i % materials.len()];
            for pattern in patterns {
                let image =
                    render_garment_rgba(&spec(category, &[colour], pattern, material), 256, 320);
                let expected = colour_rgb(colour).unwrap();
                let got = dominant(&image);
                let off = (0..3).map(|c| expected[c].abs_diff(got[c])).max().unwrap();
                assert!(
                    off <= 12,
                    "{category} {colour} {pattern:?} {material:?}: {got:?}"
                );
            }
        }
    }
    // Every weave, on one garment.
    for material in materials {
        let image = render_garment_rgba(&spec("sweater", &["teal"], None, material), 256, 320);
        let got = dominant(&image);
        assert!(
            (0..3).all(|c| got[c].abs_diff(colour_rgb("teal").unwrap()[c]) <= 12),
            "{material:?}"
        );
    }
}

#[test]
fn the_picture_has_the_size_asked_for_and_a_transparent_background() {
    for (width, height) in [(512, 512), (256, 320), (1024, 300), (64, 64)] {
        let image = render_garment_rgba(&spec("coat", &["camel"], None, None), width, height);
        assert_eq!((image.width, image.height), (width, height));
        assert_eq!(image.pixels.len(), (width * height * 4) as usize);
        // The corners are background; the centre is garment.
        assert_eq!(image.pixels[3], 0);
        let centre = ((height / 2 * width + width / 2) * 4 + 3) as usize;
        assert_eq!(image.pixels[centre], 255, "{width}x{height}");
    }
    let png = render_garment(&spec("shirt", &["white"], None, None), 300, 200);
    assert!(png.starts_with(b"\x89PNG"));
    // Absurd sizes are clamped, not allocated.
    let huge = render_garment_rgba(&spec("scarf", &["red"], None, None), 100_000, 1);
    assert_eq!((huge.width, huge.height), (garment_art::MAX_SIDE, 1));
}

#[test]
fn the_same_seed_draws_the_same_garment_and_open_choices_follow_the_seed() {
    let open = |seed| GarmentSpec {
        seed,
        ..spec("shirt", &[], Some("striped"), Some("linen"))
    };
    assert_eq!(
        render_garment(&open(7), 256, 320),
        render_garment(&open(7), 256, 320)
    );
    assert_ne!(
        render_garment(&open(7), 256, 320),
        render_garment(&open(8), 256, 320)
    );
    // Colours left open come from the palette.
    let image = render_garment_rgba(&open(9), 256, 320);
    let got = dominant(&image);
    assert!(
        garment_art::palette::PALETTE
            .iter()
            .any(|c| (0..3).all(|i| c.rgb[i].abs_diff(got[i]) <= 12)),
        "{got:?}"
    );
}

#[test]
fn a_product_drawn_larger_is_the_same_drawing() {
    let product = protocol::catalog::Product {
        sku: "SWT-TEST".into(),
        title: "Crew-neck sweater".into(),
        description: "A soft sweater.".into(),
        brand: "Test".into(),
        category: "sweater".into(),
        colours: vec!["pink".into()],
        pattern: Some("solid".into()),
        material: Some("wool".into()),
        fit: None,
        price_cents: 100,
        currency: "EUR".into(),
        sizes: Vec::new(),
        image_url: String::new(),
        store: None,
    };
    let large = garment_art::render_product_rgba(&product, 2.0);
    assert_eq!((large.width, large.height), (512, 640));
    assert_eq!(dominant(&large), colour_rgb("pink").unwrap());
    // Opaque where the 1x image is opaque (sampled at pixel centres).
    let small = garment_art::render_product_rgba(&product, 1.0);
    let mut agree = 0;
    for y in 0..320 {
        for x in 0..256 {
            let a = small.pixels[((y * 256 + x) * 4 + 3) as usize] > 128;
            let b = large.pixels[(((2 * y + 1) * 512 + 2 * x + 1) * 4 + 3) as usize] > 128;
            agree += u32::from(a == b);
        }
    }
    assert!(agree as f32 / (256.0 * 320.0) > 0.98, "{agree}");
}
