//! The embedded back end: Qdrant's segment engine in-process (`qdrant-edge` 0.7.2).
//!
//! One `EdgeShard` per collection, each in its own folder under the catalog's data
//! directory. The engine is synchronous, so every call runs on Tokio's blocking pool.
//!
//! Visibility: a write is visible to searches as soon as `update` returns, before the
//! flush; the caller's acknowledgement waits for the flush.
//!
//! Durability: `EdgeShard::update` appends to the engine's WAL, but 0.7.2 does not
//! replay that WAL on load, so a write is only safe once the segments are flushed. Every
//! write therefore flushes before it returns: an acknowledged write survives `kill -9`.
//! Writes (and the flush, which asserts it is alone on the WAL) are serialised by a
//! per-collection lock; reads run concurrently with them.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::{
    Condition as QCondition, DEFAULT_VECTOR_NAME, Distance, EdgeConfig, EdgeShard,
    EdgeVectorParams, FieldCondition, FieldIndexOperations, Match, NamedQuery, PayloadFieldSchema,
    PayloadOps, PayloadSchemaType, PointId, PointInsertOperations, PointOperations,
    PointStructPersisted, QueryEnum, QueryRequest, Range, RecommendQuery, ScoringQuery,
    ScrollRequest, SearchParams, SetPayloadOp, UpdateOperation, VectorInternal,
    VectorStructInternal, VectorStructPersisted, WithPayloadInterface, WithVector,
};
use uuid::Uuid;

use super::{CollectionSpec, Condition, Filter, Metric, Payload, Point, Query, Scored, StoreError};

const BACKEND: &str = "embedded";

fn backend_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend {
        backend: BACKEND,
        message: e.to_string(),
    }
}

/// A collection held by the in-process engine.
#[derive(Clone)]
pub struct EdgeCollection {
    inner: Arc<Inner>,
}

struct Inner {
    spec: CollectionSpec,
    shard: EdgeShard,
    /// Serialises writes and their flush (see the module comment).
    writer: Mutex<()>,
}

impl EdgeCollection {
    /// Opens the collection in `data_dir/<name>`, creating it (with its payload
    /// indexes) on first use. A collection created with another dimension is refused.
    pub fn open(data_dir: &Path, spec: CollectionSpec) -> Result<Self, StoreError> {
        let path: PathBuf = data_dir.join(&spec.name);
        let distance = match spec.metric {
            Metric::Cosine => Distance::Cosine,
            Metric::Euclid => Distance::Euclid,
        };
        let config = EdgeConfig::builder()
            .vector(
                DEFAULT_VECTOR_NAME,
                EdgeVectorParams::builder(spec.dim, distance).build(),
            )
            .on_disk_payload(false)
            .build();
        let existing = path.join("edge_config.json").exists();
        std::fs::create_dir_all(&path).map_err(backend_error)?;
        let shard = if existing {
            let shard = EdgeShard::load(&path, None).map_err(backend_error)?;
            let stored = shard
                .config()
                .vectors
                .get(DEFAULT_VECTOR_NAME)
                .map(|v| (v.size, v.distance));
            if stored != Some((spec.dim, distance)) {
                return Err(backend_error(format!(
                    "{} holds {:?} vectors; this version needs {} dimensions, {distance:?}; \
                     move the folder away and ingest the catalogue again",
                    path.display(),
                    stored,
                    spec.dim,
                )));
            }
            shard
        } else {
            let shard = EdgeShard::new(&path, config).map_err(backend_error)?;
            let fields = spec
                .keyword_fields
                .iter()
                .map(|f| (*f, PayloadSchemaType::Keyword))
                .chain(
                    spec.numeric_fields
                        .iter()
                        .map(|f| (*f, PayloadSchemaType::Float)),
                );
            for (field, kind) in fields {
                shard
                    .update(UpdateOperation::FieldIndexOperation(
                        FieldIndexOperations::CreateIndex(qdrant_edge::CreateIndex {
                            field_name: json_path(field)?,
                            field_schema: Some(PayloadFieldSchema::FieldType(kind)),
                        }),
                    ))
                    .map_err(backend_error)?;
            }
            shard.flush();
            shard
        };
        Ok(Self {
            inner: Arc::new(Inner {
                spec,
                shard,
                writer: Mutex::new(()),
            }),
        })
    }

    /// The collection's description.
    pub fn spec(&self) -> &CollectionSpec {
        &self.inner.spec
    }

    /// Applies one write, flushes, and returns once it is on disk.
    async fn write(&self, op: UpdateOperation) -> Result<(), StoreError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let _writer = inner.writer.lock().map_err(backend_error)?;
            inner.shard.update(op).map_err(backend_error)?;
            inner.shard.flush();
            Ok(())
        })
        .await
    }

    pub(super) async fn upsert(&self, points: Vec<Point>) -> Result<(), StoreError> {
        let points = points
            .into_iter()
            .map(|p| PointStructPersisted {
                id: PointId::Uuid(p.id),
                vector: VectorStructPersisted::Single(p.vector.unwrap_or_default()),
                payload: Some(p.payload.into()),
            })
            .collect();
        self.write(UpdateOperation::PointOperation(
            PointOperations::UpsertPoints(PointInsertOperations::PointsList(points)),
        ))
        .await
    }

    pub(super) async fn set_payload(&self, id: Uuid, payload: Payload) -> Result<(), StoreError> {
        self.write(UpdateOperation::PayloadOperation(PayloadOps::SetPayload(
            SetPayloadOp {
                payload: payload.into(),
                points: Some(vec![PointId::Uuid(id)]),
                filter: None,
                key: None,
            },
        )))
        .await
    }

    pub(super) async fn delete(&self, ids: Vec<Uuid>) -> Result<(), StoreError> {
        let ids = ids.into_iter().map(PointId::Uuid).collect();
        self.write(UpdateOperation::PointOperation(
            PointOperations::DeletePoints { ids },
        ))
        .await
    }

    pub(super) async fn delete_matching(&self, filter: Filter) -> Result<(), StoreError> {
        let filter = to_filter(&filter)?.unwrap_or_default();
        self.write(UpdateOperation::PointOperation(
            PointOperations::DeletePointsByFilter(filter),
        ))
        .await
    }

    pub(super) async fn get(
        &self,
        ids: Vec<Uuid>,
        with_vector: bool,
    ) -> Result<Vec<Point>, StoreError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let ids: Vec<PointId> = ids.into_iter().map(PointId::Uuid).collect();
            let records = inner
                .shard
                .retrieve(
                    &ids,
                    Some(WithPayloadInterface::Bool(true)),
                    Some(WithVector::Bool(with_vector)),
                )
                .map_err(backend_error)?;
            records.into_iter().map(point_of).collect()
        })
        .await
    }

    pub(super) async fn query(
        &self,
        query: Query,
        filter: Filter,
        limit: usize,
        exact: bool,
    ) -> Result<Vec<Scored>, StoreError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let query = match query {
                Query::Nearest(v) => QueryEnum::Nearest(NamedQuery {
                    query: VectorInternal::from(v),
                    using: None,
                }),
                Query::Recommend { positive, negative } => {
                    QueryEnum::RecommendBestScore(NamedQuery {
                        query: RecommendQuery::new(
                            positive.into_iter().map(VectorInternal::from).collect(),
                            negative.into_iter().map(VectorInternal::from).collect(),
                        ),
                        using: None,
                    })
                }
            };
            let request = QueryRequest {
                prefetches: vec![],
                query: Some(ScoringQuery::Vector(query)),
                filter: to_filter(&filter)?,
                score_threshold: None,
                limit,
                offset: 0,
                params: Some(SearchParams {
                    exact,
                    hnsw_ef: Some(super::HNSW_EF),
                    ..SearchParams::default()
                }),
                with_vector: WithVector::Bool(false),
                with_payload: WithPayloadInterface::Bool(true),
            };
            let points = inner.shard.query(request).map_err(backend_error)?;
            points
                .into_iter()
                .map(|p| {
                    Ok(Scored {
                        id: uuid_of(p.id)?,
                        score: p.score,
                        payload: p.payload.map(|p| p.0).unwrap_or_default(),
                    })
                })
                .collect()
        })
        .await
    }

    pub(super) async fn scroll(
        &self,
        filter: Filter,
        limit: usize,
        offset: Option<Uuid>,
    ) -> Result<(Vec<Point>, Option<Uuid>), StoreError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let (records, next) = inner
                .shard
                .scroll(ScrollRequest {
                    offset: offset.map(PointId::Uuid),
                    limit: Some(limit.max(1)),
                    filter: to_filter(&filter)?,
                    with_payload: Some(WithPayloadInterface::Bool(true)),
                    with_vector: WithVector::Bool(false),
                    order_by: None,
                })
                .map_err(backend_error)?;
            let points = records
                .into_iter()
                .map(point_of)
                .collect::<Result<Vec<_>, StoreError>>()?;
            let next = next.map(uuid_of).transpose()?;
            Ok((points, next))
        })
        .await
    }

    pub(super) async fn count(&self, filter: Filter) -> Result<usize, StoreError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            inner
                .shard
                .count(qdrant_edge::CountRequest {
                    filter: to_filter(&filter)?,
                    exact: true,
                })
                .map_err(backend_error)
        })
        .await
    }

    pub(super) async fn optimize(&self) -> Result<(), StoreError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let _writer = inner.writer.lock().map_err(backend_error)?;
            inner.shard.optimize().map_err(backend_error)?;
            inner.shard.flush();
            Ok(())
        })
        .await
    }
}

/// Runs engine work on the blocking pool; a panic inside the engine becomes an error.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| backend_error(format!("engine task failed: {e}")))?
}

fn json_path(field: &str) -> Result<qdrant_edge::JsonPath, StoreError> {
    qdrant_edge::JsonPath::try_from(field)
        .map_err(|()| backend_error(format!("bad payload field name {field:?}")))
}

fn uuid_of(id: PointId) -> Result<Uuid, StoreError> {
    match id {
        PointId::Uuid(u) => Ok(u),
        PointId::NumId(n) => Err(backend_error(format!(
            "point id {n} is numeric; this catalog only writes UUIDs"
        ))),
    }
}

/// A record read back from the engine (its vector only when one was asked for).
fn point_of(record: qdrant_edge::Record) -> Result<Point, StoreError> {
    Ok(Point {
        id: uuid_of(record.id)?,
        vector: record.vector.and_then(dense),
        payload: record.payload.map(|p| p.0).unwrap_or_default(),
    })
}

fn dense(v: VectorStructInternal) -> Option<Vec<f32>> {
    match v {
        VectorStructInternal::Single(v) => Some(v),
        VectorStructInternal::Named(mut named) => match named.remove(DEFAULT_VECTOR_NAME) {
            Some(VectorInternal::Dense(v)) => Some(v),
            _ => None,
        },
        VectorStructInternal::MultiDense(_) => None,
    }
}

fn to_condition(c: &Condition) -> Result<QCondition, StoreError> {
    Ok(QCondition::Field(match c {
        Condition::Equals { field, value } => {
            FieldCondition::new_match(json_path(field)?, Match::from(value.clone()))
        }
        Condition::AnyOf { field, values } => {
            FieldCondition::new_match(json_path(field)?, Match::from(values.clone()))
        }
        Condition::Range { field, gte, lte } => FieldCondition::new_range(
            json_path(field)?,
            Range {
                lt: None,
                gt: None,
                gte: gte.map(OrderedFloat),
                lte: lte.map(OrderedFloat),
            },
        ),
    }))
}

fn to_filter(filter: &Filter) -> Result<Option<qdrant_edge::Filter>, StoreError> {
    if filter.is_empty() {
        return Ok(None);
    }
    let list = |cs: &[Condition]| -> Result<Option<Vec<QCondition>>, StoreError> {
        if cs.is_empty() {
            return Ok(None);
        }
        cs.iter()
            .map(to_condition)
            .collect::<Result<_, _>>()
            .map(Some)
    };
    Ok(Some(qdrant_edge::Filter {
        should: None,
        min_should: None,
        must: list(&filter.must)?,
        must_not: list(&filter.must_not)?,
    }))
}
