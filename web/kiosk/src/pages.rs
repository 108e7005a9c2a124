//! The pages and what they load: the customer page (`/`), the staff page (`/staff`),
//! their scripts and styles (compiled into the binary, so a kiosk image needs no
//! files beside it), and product images passed through from the catalog.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use protocol::PROTOCOL_VERSION;
use protocol::kiosk::MIC_SAMPLE_RATE;
use serde::Deserialize;
use service_kit::ApiError;

use crate::AppState;
use crate::error::KioskError;
use crate::i18n::Locale;
use crate::upstream::UpstreamError;

/// The customer page.
#[derive(Template)]
#[template(path = "kiosk.html")]
struct KioskPage {
    lang: String,
    robot: bool,
    protocol_version: u32,
    mic_sample_rate: u32,
}

/// The staff page.
#[derive(Template)]
#[template(path = "staff.html")]
struct StaffPage {
    lang: String,
}

/// Query of the pages.
#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    /// `robot` for the robot screen layout.
    mode: Option<String>,
    /// `en` or `zh`, overriding the store's default.
    lang: Option<String>,
}

/// Static files: name, content type, content.
const STATIC_FILES: [(&str, &str, &str); 5] = [
    (
        "kiosk.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/kiosk.js"),
    ),
    (
        "mic-worklet.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/mic-worklet.js"),
    ),
    (
        "staff.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/staff.js"),
    ),
    (
        "i18n.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/i18n.js"),
    ),
    (
        "kiosk.css",
        "text/css; charset=utf-8",
        include_str!("../static/kiosk.css"),
    ),
];

/// The page routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(kiosk_page))
        .route("/staff", get(staff_page))
        .route("/static/{name}", get(static_file))
        .route("/v1/products/{sku}/image.png", get(product_image))
}

fn page_lang(state: &AppState, query: &PageQuery) -> String {
    let default = Locale::from_config(&state.config().kiosk.locale);
    query
        .lang
        .as_deref()
        .map_or(default, |lang| Locale::negotiate(lang, default))
        .code()
        .to_owned()
}

fn render(page: impl Template) -> Result<Html<String>, ApiError> {
    page.render().map(Html).map_err(|e| {
        tracing::error!(error = %e, "page did not render");
        ApiError::internal("the page could not be rendered")
    })
}

/// `GET /`: the customer page (`?mode=robot`, `?lang=zh`, `?token=` to provision).
async fn kiosk_page(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> Result<Html<String>, ApiError> {
    render(KioskPage {
        lang: page_lang(&state, &query),
        robot: query.mode.as_deref() == Some("robot"),
        protocol_version: PROTOCOL_VERSION,
        mic_sample_rate: MIC_SAMPLE_RATE,
    })
}

/// `GET /staff`: the staff page (the token is checked by its socket and actions).
async fn staff_page(
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> Result<Html<String>, ApiError> {
    render(StaffPage {
        lang: page_lang(&state, &query),
    })
}

/// `GET /static/{name}`.
async fn static_file(Path(name): Path<String>) -> Result<Response, ApiError> {
    let (_, content_type, body) = STATIC_FILES
        .iter()
        .find(|(file, ..)| *file == name)
        .ok_or_else(|| ApiError::not_found(format!("no static file {name:?}")))?;
    let mut response = (*body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// `GET /v1/products/{sku}/image.png`: the catalog's image of a product, so cards
/// can show it while only the kiosk is reachable from outside.
async fn product_image(
    State(state): State<AppState>,
    Path(sku): Path<String>,
) -> Result<Response, ApiError> {
    let valid = !sku.is_empty()
        && sku.len() <= 64
        && sku
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    if !valid {
        return Err(KioskError::BadSku(sku.chars().take(64).collect()).into());
    }
    let path = format!("/v1/products/{sku}/image.png");
    let trace = uuid::Uuid::new_v4().to_string();
    let (bytes, _) = state
        .upstreams()
        .catalog
        .get_bytes(&trace, &path)
        .await
        .map_err(|e| match e {
            UpstreamError::NotFound(_) => KioskError::NoImage(sku.clone()),
            other => KioskError::ImageUnavailable(other.to_string()),
        })?;
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    Ok(response)
}
