//! The HTTP API: `POST /v1/tryon`, OpenAI-compatible `POST /v1/images/generations`,
//! and `GET /v1/images/{id}.png` for images generated with `response_format = url`.
//!
//! Cheap checks run in the handler (base64, the image headers, the request's fields,
//! the product and its category); pixel work runs on a bounded worker pool through
//! `spawn_blocking`, and a request that finds the waiting line full gets 503 with
//! Retry-After at once. Photos and prompts are never logged or stored.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use protocol::catalog::Product;
use protocol::tryon::{
    GeneratedImage, ImageGenerationRequest, ImageGenerationResponse, ImageResponseFormat,
    TryOnRegion, TryOnRequest, TryOnResponse,
};
use service_kit::client::CallError;
use service_kit::error::ApiError;

use crate::compose::{self, GarmentSource, Settings};
use crate::error::TryonError;
use crate::garment::{Kind, kind_of};
use crate::generate::{self, parse_prompt, parse_size};
use crate::{AppState, Tryon, metrics};
use image_input::Checked;

/// The routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/tryon", post(try_on))
        .route("/v1/images/generations", post(generations))
        .route("/v1/images/{file}", get(stored_image))
        .with_state(state)
}

/// Longest SKU the catalog accepts.
const MAX_SKU_CHARS: usize = 64;

/// The garment as the handler found it, decoded on the worker.
enum Pending {
    Product {
        product: Box<Product>,
        image_png: Vec<u8>,
    },
    Picture {
        image: Checked,
        category: String,
    },
}

/// `POST /v1/tryon`: the customer's photo with the garment on.
async fn try_on(
    State(state): State<AppState>,
    Json(request): Json<TryOnRequest>,
) -> Result<Json<TryOnResponse>, ApiError> {
    let tryon = state.tryon.clone();
    let limits = tryon.limits();
    let photo = image_input::check(
        "photo_base64",
        image_input::base64_bytes("photo_base64", &request.photo_base64)?,
        limits,
    )?;
    let (pending, kind, sku, category) = match (request.sku, request.garment_png_base64) {
        (Some(sku), None) => {
            check_sku(&sku)?;
            let product: Product = tryon
                .catalog
                .get_json(&format!("/v1/products/{sku}"))
                .await
                .map_err(|e| catalog_error(e, &sku))?;
            let kind = kind_of(&product.category)
                .ok_or_else(|| TryonError::UnsupportedCategory(product.category.clone()))?;
            let image_png = tryon
                .catalog
                .get_bytes(&format!("/v1/products/{sku}/image.png"))
                .await
                .map_err(|e| catalog_error(e, &sku))?;
            let category = product.category.clone();
            let pending = Pending::Product {
                product: Box::new(product),
                image_png,
            };
            (pending, kind, sku, category)
        }
        (None, Some(garment)) => {
            let category = request.category.ok_or_else(|| {
                TryonError::InvalidRequest(
                    "category is required with garment_png_base64 (e.g. \"shirt\")".into(),
                )
            })?;
            let kind = kind_of(&category)
                .ok_or_else(|| TryonError::UnsupportedCategory(category.clone()))?;
            let image = image_input::check(
                "garment_png_base64",
                image_input::base64_bytes("garment_png_base64", &garment)?,
                limits,
            )?;
            let pending = Pending::Picture {
                image,
                category: category.clone(),
            };
            (pending, kind, String::new(), category)
        }
        (Some(_), Some(_)) => {
            return Err(TryonError::InvalidRequest(
                "send either sku or garment_png_base64, not both".into(),
            )
            .into());
        }
        (None, None) => {
            return Err(TryonError::InvalidRequest(
                "send sku (a catalogue product) or garment_png_base64 with its category".into(),
            )
            .into());
        }
    };
    let permit = tryon
        .workers
        .acquire()
        .await
        .map_err(|full| TryonError::Busy(full.queued))?;
    let worker = tryon.clone();
    let (fitted, png) = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let started = Instant::now();
        let result = dress(&worker, photo, pending, kind);
        metrics::get()
            .tryon_seconds
            .observe(started.elapsed().as_secs_f64());
        if matches!(result, Err(TryonError::NoPerson)) {
            metrics::get().no_person.inc();
        }
        result
    })
    .await
    .map_err(|e| TryonError::Internal(format!("the worker stopped: {e}")))??;
    let (width, height) = fitted.image.dimensions();
    Ok(Json(TryOnResponse {
        png_base64: STANDARD.encode(png),
        regions: fitted
            .region
            .map(|region| TryOnRegion {
                sku,
                category,
                region,
            })
            .into_iter()
            .collect(),
        width,
        height,
        body: Some(fitted.body.geometry(width, height)),
    }))
}

/// The pixel work of a try-on (on a worker thread).
fn dress(
    tryon: &Tryon,
    photo: Checked,
    pending: Pending,
    kind: Kind,
) -> Result<(compose::Fitted, Vec<u8>), TryonError> {
    let photo = photo.rgb()?;
    let source = match pending {
        Pending::Product { product, image_png } => GarmentSource::Product { product, image_png },
        Pending::Picture { image, category } => GarmentSource::Picture {
            image: image.rgba()?,
            category,
        },
    };
    let settings = Settings {
        analysis_side: tryon.config.analysis_side,
        limits: tryon.limits(),
    };
    let fitted = compose::try_on(photo, source, kind, &tryon.detector, settings)?;
    for (stage, spent) in fitted.stages.named() {
        metrics::get()
            .stage_seconds
            .get_or_create(&metrics::StageLabel {
                stage: stage.to_owned(),
            })
            .observe(spent.as_secs_f64());
    }
    let png = image_input::encode_png(&fitted.image)?;
    Ok((fitted, png))
}

/// A SKU as the catalog allows them (letters, digits, `-`, `_`, `.`; not only dots),
/// so it can go into a URL path as it is.
fn check_sku(sku: &str) -> Result<(), TryonError> {
    let well_formed = !sku.is_empty()
        && sku.chars().count() <= MAX_SKU_CHARS
        && sku
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !sku.chars().all(|c| c == '.');
    if well_formed {
        Ok(())
    } else {
        Err(TryonError::InvalidRequest(format!(
            "sku must be 1 to {MAX_SKU_CHARS} letters, digits, '-', '_' or '.'"
        )))
    }
}

fn catalog_error(error: CallError, sku: &str) -> TryonError {
    match error {
        CallError::NotFound => TryonError::UnknownSku(sku.to_owned()),
        CallError::Unavailable(reason) => TryonError::CatalogUnavailable(reason),
        CallError::Refused { status, message } => {
            TryonError::CatalogUnavailable(format!("it refused the call ({status}): {message}"))
        }
    }
}

/// `POST /v1/images/generations`: garment images from a prompt.
async fn generations(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(request): Json<ImageGenerationRequest>,
) -> Result<Json<ImageGenerationResponse>, ApiError> {
    let tryon = state.tryon.clone();
    let config = &tryon.config;
    if request.prompt.trim().is_empty() {
        return Err(TryonError::EmptyPrompt.into());
    }
    let chars = request.prompt.chars().count();
    if chars > config.max_prompt_chars {
        return Err(TryonError::PromptTooLong {
            chars,
            max: config.max_prompt_chars,
        }
        .into());
    }
    if !(1..=config.max_images).contains(&request.n) {
        return Err(TryonError::InvalidCount {
            n: request.n,
            max: config.max_images,
        }
        .into());
    }
    let size = parse_size(request.size.as_deref(), config.max_generated_side)?;
    let parsed = parse_prompt(&request.prompt)?;
    let seed = generate::base_seed(&request);

    let mut images = None;
    if let Some(remote) = &tryon.remote {
        match remote.generate(&request, size).await {
            Ok(drawn) => {
                metrics::get().count_generated("remote", drawn.len());
                images = Some((drawn, false));
            }
            Err(reason) => {
                // The reason names the server and what went wrong, never the prompt.
                tracing::warn!(%reason, "remote image generation failed; drawing locally");
                metrics::get().remote_failures.inc();
            }
        }
    }
    let (images, local) = match images {
        Some(remote) => remote,
        None => {
            let permit = tryon
                .workers
                .acquire()
                .await
                .map_err(|full| TryonError::Busy(full.queued))?;
            let (spec, n) = (parsed.clone(), request.n);
            let drawn = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                generate::render_local(&spec, seed, n, size)
            })
            .await
            .map_err(|e| TryonError::Internal(format!("the worker stopped: {e}")))?;
            metrics::get().count_generated("local", drawn.len());
            (drawn, true)
        }
    };
    let base = public_base(&tryon, &headers);
    let data = images
        .into_iter()
        .map(|png| {
            let revised_prompt = local.then(|| parsed.description.clone());
            match request.response_format {
                ImageResponseFormat::B64Json => GeneratedImage {
                    b64_json: Some(STANDARD.encode(png)),
                    url: None,
                    revised_prompt,
                },
                ImageResponseFormat::Url => GeneratedImage {
                    b64_json: None,
                    url: Some(format!("{base}/v1/images/{}.png", tryon.store.put(png))),
                    revised_prompt,
                },
            }
        })
        .collect();
    let created = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Ok(Json(ImageGenerationResponse { created, data }))
}

/// The base URL of generated images: `tryon.url` when configured (what clients reach
/// this service by), else the `Host` the request came to, else the listen address.
fn public_base(tryon: &Tryon, headers: &HeaderMap) -> String {
    if let Some(url) = &tryon.config.url {
        return url.trim_end_matches('/').to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
        });
    match host {
        Some(host) => format!("http://{host}"),
        None => tryon.fallback_url.clone(),
    }
}

/// `GET /v1/images/{id}.png`: a generated image kept for `response_format = url`.
async fn stored_image(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let id = file
        .strip_suffix(".png")
        .filter(|id| id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()))
        .ok_or_else(|| TryonError::UnknownImage(file.chars().take(80).collect()))?;
    let png = state
        .tryon
        .store
        .get(id)
        .ok_or_else(|| TryonError::UnknownImage(id.to_owned()))?;
    let mut response = Arc::unwrap_or_clone(png).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=600"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_that_could_leave_the_product_path_are_refused() {
        for good in ["SHT-1001-BUR", "a_b.c", "X"] {
            assert!(check_sku(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "a?b", "a b", &"x".repeat(65)] {
            assert!(check_sku(bad).is_err(), "{bad}");
        }
    }
}
