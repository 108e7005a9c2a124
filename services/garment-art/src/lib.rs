//! Garment pictures drawn by our own code, shared by the catalog (product images) and
//! the try-on service (the garment it dresses a customer in, and garment images
//! generated from a description), so neither needs the other to draw one.

pub mod images;
pub mod palette;

pub use images::{
    GarmentSpec, IMAGE_HEIGHT, IMAGE_WIDTH, MAX_SIDE, Rgba, garment_svg, product_svg,
    render_contact_sheet, render_garment, render_garment_rgba, render_product_image,
    render_product_rgba,
};
