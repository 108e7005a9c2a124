//! The `catalog` service: products, live inventory and consenting customers; the only
//! owner of the vector store (issue #4). Library only until the service is complete,
//! so the launcher does not try to start an unfinished binary.
//!
//! - [`embed`]: text embeddings for search and `POST /v1/embeddings`.
//! - [`fixtures`]: the generated fixture catalogue (`fixtures/catalog/products.json`)
//!   and the product images drawn from it.

pub mod embed;
pub mod fixtures;
