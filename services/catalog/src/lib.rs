//! The `catalog` service: products, live inventory and consenting customers; the only
//! owner of the vector store (issue #4). Library only until the service is complete,
//! so the launcher does not try to start an unfinished binary.

pub mod embed;
