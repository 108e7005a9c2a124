//! The catalogue as the camera knows it: an index of every product's own image,
//! fetched from the catalog service and rebuilt periodically (new products, new
//! images). Until the first build succeeds, garments are described without
//! catalogue candidates; faces never wait for it.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use protocol::catalog::ProductPage;
use service_kit::client::{CallError, ServiceClient};

use crate::garments::CatalogueIndex;

/// Products asked for per page while indexing.
const PAGE_SIZE: u32 = 200;
/// Wait before trying again after a failed build (the catalog starting up).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// The current index, swapped whole when a rebuild finishes.
#[derive(Clone, Default)]
pub struct SharedIndex {
    current: Arc<RwLock<Option<Arc<CatalogueIndex>>>>,
}

impl SharedIndex {
    /// The index, once one was built.
    pub fn get(&self) -> Option<Arc<CatalogueIndex>> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Replaces the index.
    pub fn set(&self, index: CatalogueIndex) {
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Arc::new(index));
    }
}

/// Fetches every product and its image from the catalog and indexes them, a page at
/// a time so that only one page of images is held in memory.
pub async fn build(catalog: &ServiceClient) -> Result<CatalogueIndex, CallError> {
    let mut index = CatalogueIndex::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/v1/products?limit={PAGE_SIZE}&cursor={cursor}"),
            None => format!("/v1/products?limit={PAGE_SIZE}"),
        };
        let page: ProductPage = catalog.get_json(&path).await?;
        let mut images = Vec::with_capacity(page.products.len());
        for product in page.products {
            let png = catalog
                .get_bytes(&format!("/v1/products/{}/image.png", product.sku))
                .await?;
            images.push((product.sku, product.category, png));
        }
        index = tokio::task::spawn_blocking(move || {
            for (sku, category, png) in &images {
                if let Err(error) = index.add_product(sku, category, png) {
                    tracing::warn!(sku, %error, "product image could not be indexed");
                }
            }
            index
        })
        .await
        .map_err(|e| CallError::Unavailable(format!("indexing stopped: {e}")))?;
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(index),
        }
    }
}

/// Keeps `shared` up to date: builds now, then every `every`, retrying sooner after a
/// failure. Runs until the task is dropped.
pub async fn keep_fresh(catalog: ServiceClient, shared: SharedIndex, every: Duration) {
    loop {
        let started = std::time::Instant::now();
        let wait = match build(&catalog).await {
            Ok(index) => {
                tracing::info!(
                    products = index.len(),
                    seconds = started.elapsed().as_secs_f32(),
                    "catalogue images indexed"
                );
                shared.set(index);
                every
            }
            Err(error) => {
                tracing::warn!(%error, "could not index the catalogue images; garments get no candidates until it works");
                RETRY_AFTER_FAILURE.min(every)
            }
        };
        tokio::time::sleep(wait).await;
    }
}
