//! The catalogue's product images are byte-for-byte what they were when the renderer
//! moved out of the catalog: one digest over every fixture product's PNG.
#![allow(clippy::unwrap_used, reason = "tests")]

use protocol::catalog::Product;
use sha2::{Digest, Sha256};

fn fixture_catalogue() -> Vec<Product> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/catalog/products.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
#[cfg(target_arch = "x86_64")]
fn every_fixture_image_is_unchanged() {
    let mut digest = Sha256::new();
    let products = fixture_catalogue();
    assert_eq!(products.len(), 350);
    for product in &products {
        digest.update(garment_art::render_product_image(product));
    }
    digest.update(garment_art::render_contact_sheet(&products[..20], 7));
    let got = hex::encode(digest.finalize());
    assert_eq!(got, GOLDEN);
}

/// Digest of the renders made by the catalog's own renderer before the move (x86-64;
/// tiny-skia may round differently on other architectures).
const GOLDEN: &str = "07e8bc41be8ae18cba3f792405a2c325f6fb98cbe8be3afa1820ba087c09350c";
