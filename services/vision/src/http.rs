//! The vision API: `POST /v1/vision/analyze` (a frame in, faces and garments out) and
//! `POST /v1/vision/enrol` (a consenting customer's photos in, her catalog record
//! out). Frames and photos live only for the request.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use protocol::catalog::{CustomerRecord, EnrolRequest, IdentifyRequest, IdentifyResponse};
use protocol::vision::{AnalyzeQuery, AnalyzeResponse, EnrolFaceRequest, IdentityMatch};
use service_kit::client::CallError;
use service_kit::error::ApiError;

use crate::decode::decode;
use crate::engine::analyze_frame;
use crate::error::VisionError;
use crate::{AppState, metrics};

/// Longest name accepted at enrolment, in characters.
const MAX_NAME_CHARS: usize = 80;

/// The vision routes on `state`.
pub fn router(state: AppState) -> Router {
    let frame_limit = state.config.max_body_bytes;
    Router::new()
        .route(
            "/v1/vision/analyze",
            post(analyze).layer(DefaultBodyLimit::max(frame_limit)),
        )
        .route("/v1/vision/enrol", post(enrol))
        .with_state(state)
}

/// The body limit of the whole service: an enrolment with every photo at the frame
/// limit, base64-encoded, plus room for the JSON around it.
pub fn enrol_body_limit(config: &service_kit::config::VisionConfig) -> usize {
    config.max_body_bytes * config.max_enrol_photos * 4 / 3 + 64 * 1024
}

async fn analyze(
    State(state): State<AppState>,
    Query(query): Query<AnalyzeQuery>,
    body: Bytes,
) -> Result<Json<AnalyzeResponse>, ApiError> {
    let started = Instant::now();
    let limits = state.limits();
    let index = if query.garments {
        state.index.get()
    } else {
        None
    };
    let candidates = state.config.garment_candidates;
    let ((width, height), analysis) = state
        .pool
        .run(move |analyzer| {
            let frame = decode("the request body", &body, limits)?;
            let analysis = analyze_frame(
                analyzer,
                &frame,
                query.identify,
                index.as_deref(),
                candidates,
            )?;
            Ok(((frame.width(), frame.height()), analysis))
        })
        .await?;
    let mut faces = Vec::with_capacity(analysis.faces.len());
    let mut identity_unavailable = false;
    for reading in analysis.faces {
        let mut face = reading.face;
        if let Some(embedding) = reading.embedding.filter(|_| !identity_unavailable) {
            match identify(&state, embedding).await {
                Ok(identity) => face.identity = identity,
                Err(error) => {
                    // Faces without names are still useful: the kiosk goes on anonymously.
                    tracing::warn!(%error, "identification skipped");
                    identity_unavailable = true;
                }
            }
        }
        faces.push(face);
    }
    metrics::get()
        .analyze_seconds
        .observe(started.elapsed().as_secs_f64());
    metrics::get().faces.inc_by(faces.len() as u64);
    Ok(Json(AnalyzeResponse {
        faces,
        garments: analysis.garments,
        width,
        height,
        identity_unavailable,
    }))
}

/// The enrolled customer this embedding belongs to, if any. Only the opaque id leaves
/// for the kiosk; the name stays in the catalog.
async fn identify(
    state: &AppState,
    embedding: Vec<f32>,
) -> Result<Option<IdentityMatch>, VisionError> {
    let answer: IdentifyResponse = state
        .catalog
        .post_json("/v1/customers/identify", &IdentifyRequest { embedding })
        .await
        .map_err(catalog_error)?;
    let matched = answer.customer.map(|customer| IdentityMatch {
        customer_id: customer.id,
        confidence: customer.confidence,
    });
    if matched.is_some() {
        metrics::get().identified.inc();
    }
    Ok(matched)
}

async fn enrol(
    State(state): State<AppState>,
    Json(request): Json<EnrolFaceRequest>,
) -> Result<(StatusCode, Json<CustomerRecord>), ApiError> {
    let name = request.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(VisionError::InvalidRequest(format!(
            "name must be 1 to {MAX_NAME_CHARS} characters"
        ))
        .into());
    }
    let max_photos = state.config.max_enrol_photos;
    if request.photos_base64.is_empty() || request.photos_base64.len() > max_photos {
        return Err(VisionError::InvalidRequest(format!(
            "send 1 to {max_photos} photos in photos_base64; {} were sent",
            request.photos_base64.len()
        ))
        .into());
    }
    let mut face_embeddings = Vec::with_capacity(request.photos_base64.len());
    for (index, photo) in request.photos_base64.into_iter().enumerate() {
        let field = format!("photo {index}");
        let bytes = image_input::base64_bytes(field.clone(), &photo).map_err(VisionError::from)?;
        let limits = state.limits();
        let embedding = state
            .pool
            .run(move |analyzer| {
                let frame = decode(field, &bytes, limits)?;
                let readings = analyzer.analyze(&frame, true)?;
                let face = readings
                    .into_iter()
                    .next()
                    .ok_or(VisionError::NoFace { index })?;
                face.embedding.ok_or(VisionError::PoorFace {
                    index,
                    issues: face.face.issues,
                })
            })
            .await?;
        face_embeddings.push(embedding);
    }
    let record: CustomerRecord = state
        .catalog
        .post_json(
            "/v1/customers",
            &EnrolRequest {
                name,
                consent: request.consent,
                face_embeddings,
                sizes: request.sizes,
                liked_colours: request.liked_colours,
            },
        )
        .await
        .map_err(catalog_error)?;
    metrics::get().enrolled.inc();
    Ok((StatusCode::CREATED, Json(record)))
}

fn catalog_error(error: CallError) -> VisionError {
    match error {
        CallError::Unavailable(reason) => VisionError::CatalogUnavailable(reason),
        CallError::NotFound => VisionError::CatalogRefused {
            status: 404,
            message: "not found".into(),
        },
        CallError::Refused { status, message } => VisionError::CatalogRefused { status, message },
    }
}
