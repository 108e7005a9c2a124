//! The committed fixture catalogue: what the generator makes, and that every product in
//! it is complete and valid.
//!
//! `UPDATE_FIXTURES=1 cargo test -p catalog --test fixture_catalogue` rewrites
//! `fixtures/catalog/products.json` and the contact sheet after a deliberate change to
//! the generator or the image templates.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failed read or parse should fail the test"
)]

use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;

use catalog::fixtures::images::render_contact_sheet;
use catalog::fixtures::palette::colour_rgb;
use catalog::fixtures::{
    CATEGORIES, PATTERNS, STORES, fixture_catalogue, generate, to_fixture_json,
};
use protocol::catalog::Product;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/catalog")
}

fn committed() -> Vec<Product> {
    let text = std::fs::read_to_string(fixture_dir().join("products.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn updating() -> bool {
    std::env::var_os("UPDATE_FIXTURES").is_some_and(|v| v == "1")
}

/// Two products per category, a solid one and a patterned one when there is one, so
/// the sheet shows every template and every pattern.
fn contact_sheet_sample(products: &[Product]) -> Vec<Product> {
    let mut sample = Vec::new();
    for category in CATEGORIES {
        let of: Vec<&Product> = products
            .iter()
            .filter(|p| p.category == *category)
            .collect();
        let solid = of.iter().find(|p| p.pattern.as_deref() == Some("solid"));
        let patterned = of.iter().find(|p| p.pattern.as_deref() != Some("solid"));
        let second = patterned.or_else(|| of.get(1));
        sample.extend(solid.into_iter().chain(second).map(|p| (*p).clone()));
    }
    sample
}

#[test]
fn committed_json_is_what_the_generator_produces() {
    let json = to_fixture_json(&fixture_catalogue()).unwrap();
    let path = fixture_dir().join("products.json");
    if updating() {
        std::fs::create_dir_all(fixture_dir()).unwrap();
        std::fs::write(&path, &json).unwrap();
        let sheet = render_contact_sheet(&contact_sheet_sample(&fixture_catalogue()), 7);
        std::fs::write(fixture_dir().join("contact-sheet.png"), sheet).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap();
    assert!(
        on_disk == json,
        "{} differs from the generator's output; if the change is intended, run \
         UPDATE_FIXTURES=1 cargo test -p catalog --test fixture_catalogue",
        path.display()
    );
    assert_eq!(committed(), fixture_catalogue());
}

#[test]
fn generator_is_deterministic_and_the_seed_matters() {
    assert_eq!(generate(7), generate(7));
    assert_ne!(generate(7), generate(8));
}

#[test]
fn catalogue_has_every_category_and_pattern_and_at_least_300_products() {
    let products = committed();
    assert!(products.len() >= 300, "only {} products", products.len());
    let categories: BTreeSet<&str> = products.iter().map(|p| p.category.as_str()).collect();
    assert_eq!(categories, CATEGORIES.iter().copied().collect());
    let patterns: BTreeSet<&str> = products
        .iter()
        .filter_map(|p| p.pattern.as_deref())
        .collect();
    assert_eq!(patterns, PATTERNS.iter().copied().collect());
    let stores: BTreeSet<&str> = products.iter().filter_map(|p| p.store.as_deref()).collect();
    assert_eq!(stores, STORES.iter().copied().collect());
    // Several brands and plenty of distinct titles, so search has something to rank.
    let brands: HashSet<&str> = products.iter().map(|p| p.brand.as_str()).collect();
    assert!(brands.len() >= 5);
    let titles: HashSet<&str> = products.iter().map(|p| p.title.as_str()).collect();
    assert!(titles.len() >= 150, "only {} distinct titles", titles.len());
}

#[test]
fn palette_names_and_codes_are_unique() {
    use catalog::fixtures::palette::PALETTE;
    let names: HashSet<&str> = PALETTE.iter().map(|c| c.name).collect();
    let codes: HashSet<&str> = PALETTE.iter().map(|c| c.code).collect();
    assert_eq!((names.len(), codes.len()), (PALETTE.len(), PALETTE.len()));
}

#[test]
fn skus_are_unique() {
    let products = committed();
    let mut seen = HashSet::new();
    for p in &products {
        assert!(seen.insert(p.sku.as_str()), "duplicate SKU {}", p.sku);
    }
}

#[test]
fn every_product_is_valid() {
    for p in committed() {
        let sku = &p.sku;
        assert!(
            !p.title.is_empty() && !p.description.is_empty() && !p.brand.is_empty(),
            "{sku}: empty text"
        );
        assert!(p.price_cents > 0, "{sku}: price {}", p.price_cents);
        assert_eq!(p.currency, "EUR", "{sku}");
        assert!(!p.colours.is_empty(), "{sku}: no colour");
        for colour in &p.colours {
            assert!(
                colour_rgb(colour).is_some(),
                "{sku}: colour {colour:?} is not in the palette"
            );
        }
        let pattern = p.pattern.as_deref().unwrap();
        assert!(PATTERNS.contains(&pattern), "{sku}: pattern {pattern}");
        // A patterned product names its second colour.
        assert_eq!(
            p.colours.len(),
            if pattern == "solid" { 1 } else { 2 },
            "{sku}"
        );
        assert!(
            p.material.as_deref().is_some_and(|m| !m.is_empty()),
            "{sku}: material"
        );
        assert_eq!(
            p.fit.is_none(),
            matches!(p.category.as_str(), "shoes" | "scarf" | "bag"),
            "{sku}: only accessories have no fit"
        );
        assert!(!p.sizes.is_empty(), "{sku}: no sizes");
        let labels: HashSet<&str> = p.sizes.iter().map(|s| s.size.as_str()).collect();
        assert_eq!(labels.len(), p.sizes.len(), "{sku}: repeated size");
        assert_eq!(p.image_url, format!("/v1/products/{sku}/image.png"));
        assert!(
            p.description.contains(&p.colours[0]),
            "{sku}: description names no colour"
        );
    }
}

#[test]
fn sizes_suit_the_category_and_some_are_sold_out() {
    let products = committed();
    for p in &products {
        let sizes: Vec<&str> = p.sizes.iter().map(|s| s.size.as_str()).collect();
        match p.category.as_str() {
            "scarf" | "bag" => assert_eq!(sizes, ["one size"], "{}", p.sku),
            "shoes" => assert!(
                sizes
                    .iter()
                    .all(|s| (36..=46).contains(&s.parse::<u32>().unwrap()))
            ),
            "jeans" | "trousers" => {
                assert!(
                    sizes
                        .iter()
                        .all(|s| (26..=38).contains(&s.parse::<u32>().unwrap()))
                );
            }
            _ => assert_eq!(sizes, ["XS", "S", "M", "L", "XL"], "{}", p.sku),
        }
    }
    let all: Vec<u32> = products
        .iter()
        .flat_map(|p| p.sizes.iter().map(|s| s.stock))
        .collect();
    let sold_out = all.iter().filter(|s| **s == 0).count();
    assert!(
        sold_out * 20 > all.len(),
        "too few sold-out sizes: {sold_out} of {}",
        all.len()
    );
    assert!(
        sold_out * 3 < all.len(),
        "too many sold-out sizes: {sold_out} of {}",
        all.len()
    );
    assert!(products.iter().any(|p| p.in_stock("M")) && products.iter().any(|p| !p.in_stock("M")));
}
