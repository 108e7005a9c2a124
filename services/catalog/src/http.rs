//! The catalog's HTTP API.
//!
//! Reads (product lookup, search, goes-with, images, the inventory event stream,
//! embeddings) are open to the cluster: the kiosk is the only public face and the
//! catalog is never exposed. Inventory and customer endpoints need the service token
//! (or the admin key); catalogue administration needs the admin key.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures_util::Stream;
use protocol::catalog::{
    CustomerRecord, EnrolRequest, GoesWithRequest, GoesWithResponse, IdentifyRequest,
    IdentifyResponse, IngestReport, PreferencesUpdate, Product, ProductPage, ProductPageQuery,
    PurchaseRequest, RejectedRow, SearchRequest, SearchResponse, StockChanges, StockLevels,
};
use service_kit::auth::{bearer, same_secret};
use service_kit::error::ApiError;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use crate::error::CatalogError;
use crate::ingest::{self, Format, Limits};
use crate::{AppState, recommend};

/// Products written to the store per call during ingestion: bounds one WAL write
/// and one flush.
const INGEST_WRITE_CHUNK: usize = 256;

/// Who may call what.
#[derive(Clone)]
struct Secrets {
    admin_key: Arc<str>,
    service_token: Arc<str>,
}

/// The whole catalog API on `state`.
pub fn router(state: AppState) -> Router {
    let secrets = Secrets {
        admin_key: state.admin_key.clone(),
        service_token: state.service_token.clone(),
    };
    let open = Router::new()
        .route("/v1/products", get(products_page))
        .route("/v1/products/search", post(search))
        .route("/v1/products/goes-with", post(goes_with))
        .route("/v1/products/{sku}", get(product))
        .route("/v1/products/{sku}/image.png", get(image))
        .route("/v1/inventory/events", get(inventory_events));
    let service = Router::new()
        .route("/v1/inventory/{sku}", put(set_stock).patch(change_stock))
        .route("/v1/customers", post(enrol))
        .route("/v1/customers/identify", post(identify))
        .route(
            "/v1/customers/{id}",
            get(customer).patch(update_customer).delete(forget),
        )
        .route("/v1/customers/{id}/export", get(export))
        .route("/v1/customers/{id}/purchases", post(purchase))
        .route_layer(middleware::from_fn_with_state(
            secrets.clone(),
            require_service,
        ));
    let admin = Router::new()
        .route("/v1/admin/ingest", post(ingest_file))
        .route(
            "/v1/admin/products/{sku}",
            axum::routing::delete(delete_product),
        )
        .route_layer(middleware::from_fn_with_state(secrets, require_admin));
    open.merge(service)
        .merge(admin)
        .with_state(state.clone())
        .merge(crate::embed::router_on(state.products.embedder().clone()))
}

/// Compares secrets in time independent of where they differ.
fn unauthorized(what: &str) -> Response {
    let mut response = ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        format!("send `Authorization: Bearer <{what}>`; the key is missing or wrong"),
    )
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    response
}

async fn require_service(State(secrets): State<Secrets>, request: Request, next: Next) -> Response {
    match bearer(request.headers()) {
        Some(key)
            if same_secret(key, &secrets.service_token) || same_secret(key, &secrets.admin_key) =>
        {
            next.run(request).await
        }
        _ => unauthorized("service token"),
    }
}

async fn require_admin(State(secrets): State<Secrets>, request: Request, next: Next) -> Response {
    match bearer(request.headers()) {
        Some(key) if same_secret(key, &secrets.admin_key) => next.run(request).await,
        _ => unauthorized("admin key"),
    }
}

async fn search(
    State(state): State<AppState>,
    Json(request): Json<SearchRequest>,
) -> Result<Json<SearchResponse>, ApiError> {
    let hits = state.products.search(&request).await?;
    Ok(Json(SearchResponse { hits }))
}

async fn goes_with(
    State(state): State<AppState>,
    Json(request): Json<GoesWithRequest>,
) -> Result<Json<GoesWithResponse>, ApiError> {
    Ok(Json(
        recommend::goes_with(&state.products, &state.customers, request).await?,
    ))
}

async fn products_page(
    State(state): State<AppState>,
    Query(query): Query<ProductPageQuery>,
) -> Result<Json<ProductPage>, ApiError> {
    let (products, next_cursor) = state
        .products
        .page(query.cursor.as_deref(), query.limit.unwrap_or(u32::MAX))
        .await?;
    Ok(Json(ProductPage {
        products,
        next_cursor,
    }))
}

async fn product(
    State(state): State<AppState>,
    Path(sku): Path<String>,
) -> Result<Json<Product>, ApiError> {
    Ok(Json(state.products.get(&sku).await?))
}

/// The product's picture, drawn from its attributes (the same renderer made the
/// fixture images), so any ingested product has one.
async fn image(
    State(state): State<AppState>,
    Path(sku): Path<String>,
) -> Result<Response, ApiError> {
    let product = state.products.get(&sku).await?;
    let png = tokio::task::spawn_blocking(move || {
        crate::fixtures::images::render_product_image(&product)
    })
    .await
    .map_err(|e| ApiError::internal(format!("rendering the image failed: {e}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        png,
    )
        .into_response())
}

/// Server-sent events: one `inventory` event per size whose stock changed. A client
/// that falls behind gets a `resync` event and should re-read the products it shows.
async fn inventory_events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = BroadcastStream::new(state.products.subscribe()).map(|item| {
        Ok(match item {
            Ok(change) => Event::default()
                .event("inventory")
                .json_data(&change)
                .unwrap_or_else(|_| Event::default().event("resync").data("{}")),
            Err(BroadcastStreamRecvError::Lagged(missed)) => Event::default()
                .event("resync")
                .data(format!("{{\"missed\":{missed}}}")),
        })
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

async fn set_stock(
    State(state): State<AppState>,
    Path(sku): Path<String>,
    Json(body): Json<StockLevels>,
) -> Result<Json<Product>, ApiError> {
    Ok(Json(state.products.set_stock(&sku, body.sizes).await?))
}

async fn change_stock(
    State(state): State<AppState>,
    Path(sku): Path<String>,
    Json(body): Json<StockChanges>,
) -> Result<Json<Product>, ApiError> {
    Ok(Json(
        state.products.change_stock(&sku, &body.changes).await?,
    ))
}

async fn enrol(
    State(state): State<AppState>,
    Json(request): Json<EnrolRequest>,
) -> Result<(StatusCode, Json<CustomerRecord>), ApiError> {
    let record = state.customers.enrol(request, &state.products).await?;
    Ok((StatusCode::CREATED, Json(record)))
}

async fn identify(
    State(state): State<AppState>,
    Json(request): Json<IdentifyRequest>,
) -> Result<Json<IdentifyResponse>, ApiError> {
    let customer = state.customers.identify(request.embedding).await?;
    Ok(Json(IdentifyResponse { customer }))
}

async fn customer(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CustomerRecord>, ApiError> {
    Ok(Json(state.customers.get(&id).await?))
}

async fn update_customer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(update): Json<PreferencesUpdate>,
) -> Result<Json<CustomerRecord>, ApiError> {
    Ok(Json(
        state
            .customers
            .update_preferences(&id, update, &state.products)
            .await?,
    ))
}

async fn forget(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.customers.forget(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn export(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let record = state.customers.export(&id).await?;
    Ok((
        [(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"customer-{id}.json\""),
        )],
        Json(record),
    )
        .into_response())
}

async fn purchase(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(request): Json<PurchaseRequest>,
) -> Result<Json<CustomerRecord>, ApiError> {
    let product = state.products.get(&request.sku).await?;
    Ok(Json(
        state
            .customers
            .add_purchase(
                &id,
                &product,
                request.size,
                request.at_unix,
                &state.products,
            )
            .await?,
    ))
}

async fn delete_product(
    State(state): State<AppState>,
    Path(sku): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.products.delete(&sku).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Query of `POST /v1/admin/ingest`.
#[derive(serde::Deserialize)]
struct IngestOptions {
    /// Build the search index afterwards (default). A client sending one file in
    /// several requests skips it for all but the last.
    #[serde(default = "yes")]
    optimize: bool,
}

fn yes() -> bool {
    true
}

/// Loads a catalogue file (JSON or CSV, by Content-Type): bad rows are reported with
/// their line numbers, good rows are upserted. Each chunk is durable once written, so
/// an interrupted upload can simply be sent again.
async fn ingest_file(
    State(state): State<AppState>,
    Query(options): Query<IngestOptions>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<IngestReport>, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = Format::from_content_type(content_type)
        .ok_or_else(|| CatalogError::UnsupportedMediaType(content_type.to_owned()))?;
    let report = ingest_bytes(&state, &body, format, options.optimize).await?;
    Ok(Json(report))
}

/// Parses, validates and upserts a catalogue; shared by the admin API and the seed
/// file loaded at start.
pub async fn ingest_bytes(
    state: &AppState,
    bytes: &[u8],
    format: Format,
    optimize: bool,
) -> Result<IngestReport, CatalogError> {
    let parsed = ingest::parse(bytes, format, &Limits::default())?;
    let mut report = IngestReport {
        rows: parsed.rows,
        loaded: 0,
        unchanged_embeddings: 0,
        rejected: parsed
            .errors
            .into_iter()
            .map(|e| RejectedRow {
                line: e.line,
                sku: e.sku,
                reason: e.reason,
            })
            .collect(),
    };
    for chunk in parsed.products.chunks(INGEST_WRITE_CHUNK) {
        let outcome = state.products.upsert(chunk.to_vec()).await?;
        report.loaded += outcome.written;
        report.unchanged_embeddings += outcome.reused_embeddings;
    }
    if optimize && report.loaded > 0 {
        state.products.optimize().await?;
    }
    Ok(report)
}
