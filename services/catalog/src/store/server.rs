//! The server back end: a Qdrant server over gRPC (`qdrant-client` 1.20).
//!
//! Used by the k3s deployment, where the vector store runs as its own Qdrant pod and
//! the catalog connects to its gRPC port (6334). It behaves like the embedded back end
//! ([`super::edge`]) in every respect the rest of the catalog can see: one collection
//! per [`CollectionSpec`] (named `prefix + spec.name`), UUID point ids, one unnamed
//! dense vector per point, the JSON payload stored as is, the same keyword and range
//! filters, nearest and best-score recommend queries, scroll in id order and exact
//! counts. Both back ends run Qdrant's own segment engine, so scores, filtering and
//! ordering agree.
//!
//! Durability: every write is sent with `wait = true`, so the server answers only once
//! the operation is in its write-ahead log and applied; an acknowledged write is
//! visible to the next read and survives a restart of the Qdrant pod, as an
//! acknowledged write to the embedded store survives `kill -9`.
//!
//! Client errors become [`StoreError::Backend`] with `backend: "server"`. Nothing here
//! logs, and no error message carries a payload (payloads may hold customer data).
//!
//! The integration tests (`tests/store_server.rs`) run against a real server when
//! `QDRANT_URL` is set (e.g. `QDRANT_URL=http://localhost:6334`) and skip otherwise.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use qdrant_client::qdrant::{
    self, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DeletePointsBuilder, Distance, FieldType, GetPointsBuilder, PointId, PointStruct,
    PointsIdsList, PointsOperationResponse, QueryPointsBuilder, RecommendInputBuilder,
    RecommendStrategy, ScrollPointsBuilder, SearchParamsBuilder, SetPayloadPointsBuilder,
    UpdateStatus, UpsertPointsBuilder, VectorInput, VectorParamsBuilder, VectorsOutput,
    r#match::MatchValue, point_id::PointIdOptions, vector_output, vectors_config,
    vectors_output::VectorsOptions,
};
use qdrant_client::{Qdrant, QdrantError};
use uuid::Uuid;

use super::{CollectionSpec, Condition, Filter, Metric, Payload, Point, Query, Scored, StoreError};

const BACKEND: &str = "server";

/// Deadline of one request. Writes wait until they are applied, and a large upsert
/// chunk or a payload index build on a busy server can take a while.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Deadline for opening the gRPC connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Points per upsert request, well below the server's gRPC message limit at any
/// catalogue vector size; a longer upsert is sent as several requests.
const UPSERT_CHUNK: usize = 256;

fn backend_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend {
        backend: BACKEND,
        message: e.to_string(),
    }
}

/// A client error, with what was being done.
fn client_error(what: &str, collection: &str, e: &QdrantError) -> StoreError {
    backend_error(format!("{what} ({collection}): {e}"))
}

/// Connects to a Qdrant server and opens (creating if absent, with payload indexes) the
/// collection `prefix + spec.name`.
///
/// `url` is the server's gRPC address (`http://qdrant:6334`); `api_key` is sent with
/// every request when given. The server is contacted before this returns, so a wrong
/// address fails here rather than on the first query. An existing collection with
/// another vector size or distance is refused, with what to do about it.
pub async fn connect(
    url: &str,
    api_key: Option<&str>,
    collection_prefix: &str,
    spec: CollectionSpec,
) -> Result<ServerCollection, StoreError> {
    // The compatibility check would block this async task on a runtime of its own and
    // print to stdout; the health check below does the useful part of it.
    let client = Qdrant::from_url(url)
        .api_key(api_key)
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .skip_compatibility_check()
        .build()
        .map_err(|e| backend_error(format!("bad Qdrant server address {url:?}: {e}")))?;
    client
        .health_check()
        .await
        .map_err(|e| backend_error(format!("Qdrant server at {url} did not answer: {e}")))?;

    let collection = format!("{collection_prefix}{}", spec.name);
    let distance = match spec.metric {
        Metric::Cosine => Distance::Cosine,
        Metric::Euclid => Distance::Euclid,
    };
    let this = ServerCollection {
        inner: Arc::new(Inner {
            spec,
            client,
            collection,
        }),
    };

    let exists = this
        .inner
        .client
        .collection_exists(this.inner.collection.as_str())
        .await
        .map_err(|e| this.error("checking the collection", &e))?;
    if exists {
        this.verify(url, distance).await?;
    } else {
        this.create(url, distance).await?;
    }
    Ok(this)
}

/// A collection on a Qdrant server. Clones share one connection pool.
#[derive(Clone)]
pub struct ServerCollection {
    inner: Arc<Inner>,
}

struct Inner {
    spec: CollectionSpec,
    /// The gRPC client.
    client: Qdrant,
    /// Full collection name on the server (`prefix + spec.name`).
    collection: String,
}

impl ServerCollection {
    /// The collection's description.
    pub fn spec(&self) -> &CollectionSpec {
        &self.inner.spec
    }

    /// The collection's name on the server (the prefix followed by the spec's name).
    pub fn collection_name(&self) -> &str {
        &self.inner.collection
    }

    /// Deletes the whole collection from the server, every point with it. For tests
    /// and for operators resetting a deployment; the service never calls it. A missing
    /// collection is not an error.
    pub async fn drop_collection(&self) -> Result<(), StoreError> {
        self.inner
            .client
            .delete_collection(self.inner.collection.as_str())
            .await
            .map_err(|e| self.error("deleting the collection", &e))?;
        Ok(())
    }

    fn error(&self, what: &str, e: &QdrantError) -> StoreError {
        client_error(what, &self.inner.collection, e)
    }

    /// Creates the collection and its payload indexes. Another replica may create it
    /// at the same moment; then the one it made is checked instead.
    async fn create(&self, url: &str, distance: Distance) -> Result<(), StoreError> {
        let created = self
            .inner
            .client
            .create_collection(
                CreateCollectionBuilder::new(self.inner.collection.as_str()).vectors_config(
                    VectorParamsBuilder::new(self.inner.spec.dim as u64, distance),
                ),
            )
            .await;
        if let Err(e) = created {
            let exists_now = self
                .inner
                .client
                .collection_exists(self.inner.collection.as_str())
                .await
                .unwrap_or(false);
            if exists_now {
                return self.verify(url, distance).await;
            }
            return Err(self.error("creating the collection", &e));
        }
        self.create_indexes(&HashSet::new()).await
    }

    /// Creates the payload indexes of the spec's fields that are not in `existing`.
    async fn create_indexes(&self, existing: &HashSet<String>) -> Result<(), StoreError> {
        let spec = &self.inner.spec;
        let fields = spec
            .keyword_fields
            .iter()
            .map(|f| (*f, FieldType::Keyword))
            .chain(spec.numeric_fields.iter().map(|f| (*f, FieldType::Float)))
            .filter(|(f, _)| !existing.contains(*f));
        for (field, kind) in fields {
            let what = format!("creating the index of {field:?}");
            let response = self
                .inner
                .client
                .create_field_index(
                    CreateFieldIndexCollectionBuilder::new(
                        self.inner.collection.as_str(),
                        field,
                        kind,
                    )
                    .wait(true),
                )
                .await
                .map_err(|e| self.error(&what, &e))?;
            self.check_applied(&what, &response)?;
        }
        Ok(())
    }

    /// Checks that an existing collection holds vectors of the spec's size and distance,
    /// and creates any of its payload indexes that are missing (a collection whose
    /// creation was cut short between the collection and its indexes).
    async fn verify(&self, url: &str, distance: Distance) -> Result<(), StoreError> {
        let info = self
            .inner
            .client
            .collection_info(self.inner.collection.as_str())
            .await
            .map_err(|e| self.error("reading the collection's configuration", &e))?;
        let info = info.result.ok_or_else(|| {
            backend_error(format!(
                "reading the collection's configuration ({}): no result",
                self.inner.collection
            ))
        })?;
        let indexed: HashSet<String> = info.payload_schema.keys().cloned().collect();
        let stored = info
            .config
            .and_then(|c| c.params)
            .and_then(|p| p.vectors_config)
            .and_then(|v| v.config);
        let (size, stored_distance) = match stored {
            Some(vectors_config::Config::Params(p)) => (
                Some(p.size),
                Distance::try_from(p.distance).unwrap_or(Distance::UnknownDistance),
            ),
            // Named vectors: not what this catalog writes.
            _ => (None, Distance::UnknownDistance),
        };
        if size == Some(self.inner.spec.dim as u64) && stored_distance == distance {
            return self.create_indexes(&indexed).await;
        }
        let found = match size {
            Some(size) => format!("{size}-dimension {stored_distance:?} vectors"),
            None => "named vectors".to_owned(),
        };
        Err(backend_error(format!(
            "collection {} on the Qdrant server at {url} holds {found}; this version needs \
             one unnamed vector of {} dimensions, {distance:?}; delete the collection (or \
             use another collection prefix) and ingest the catalogue again",
            self.inner.collection, self.inner.spec.dim,
        )))
    }

    /// Refuses a write answer that does not say the write was applied (`wait = true`
    /// makes the server answer `Completed`, or `WaitTimeout` when it gave up waiting).
    fn check_applied(
        &self,
        what: &str,
        response: &PointsOperationResponse,
    ) -> Result<(), StoreError> {
        let status = response.result.as_ref().map(|r| r.status);
        if status == Some(UpdateStatus::Completed as i32) {
            return Ok(());
        }
        let status = status
            .and_then(|s| UpdateStatus::try_from(s).ok())
            .map_or("no status", |s| s.as_str_name());
        Err(backend_error(format!(
            "{what} ({}): the server did not confirm the write was applied ({status})",
            self.inner.collection
        )))
    }

    pub(super) async fn upsert(&self, points: Vec<Point>) -> Result<(), StoreError> {
        let mut points = points.into_iter().map(|p| {
            PointStruct::new(
                point_id(p.id),
                p.vector.unwrap_or_default(),
                qdrant_client::Payload::from(p.payload),
            )
        });
        // Upserts are idempotent, so a caller that sees an error part-way may simply
        // send the whole batch again.
        loop {
            let chunk: Vec<PointStruct> = points.by_ref().take(UPSERT_CHUNK).collect();
            if chunk.is_empty() {
                return Ok(());
            }
            let response = self
                .inner
                .client
                .upsert_points(
                    UpsertPointsBuilder::new(self.inner.collection.as_str(), chunk).wait(true),
                )
                .await
                .map_err(|e| self.error("upserting points", &e))?;
            self.check_applied("upserting points", &response)?;
        }
    }

    pub(super) async fn set_payload(&self, id: Uuid, payload: Payload) -> Result<(), StoreError> {
        let response = self
            .inner
            .client
            .set_payload(
                SetPayloadPointsBuilder::new(
                    self.inner.collection.as_str(),
                    qdrant_client::Payload::from(payload),
                )
                .points_selector(PointsIdsList {
                    ids: vec![point_id(id)],
                })
                .wait(true),
            )
            .await
            .map_err(|e| self.error("setting a payload", &e))?;
        self.check_applied("setting a payload", &response)
    }

    pub(super) async fn delete(&self, ids: Vec<Uuid>) -> Result<(), StoreError> {
        let ids = ids.into_iter().map(point_id).collect();
        let response = self
            .inner
            .client
            .delete_points(
                DeletePointsBuilder::new(self.inner.collection.as_str())
                    .points(PointsIdsList { ids })
                    .wait(true),
            )
            .await
            .map_err(|e| self.error("deleting points", &e))?;
        self.check_applied("deleting points", &response)
    }

    pub(super) async fn delete_matching(&self, filter: Filter) -> Result<(), StoreError> {
        // An empty filter matches every point, as on the embedded back end.
        let filter = to_filter(&filter).unwrap_or_default();
        let response = self
            .inner
            .client
            .delete_points(
                DeletePointsBuilder::new(self.inner.collection.as_str())
                    .points(filter)
                    .wait(true),
            )
            .await
            .map_err(|e| self.error("deleting points by filter", &e))?;
        self.check_applied("deleting points by filter", &response)
    }

    pub(super) async fn get(
        &self,
        ids: Vec<Uuid>,
        with_vector: bool,
    ) -> Result<Vec<Point>, StoreError> {
        let ids: Vec<PointId> = ids.into_iter().map(point_id).collect();
        let response = self
            .inner
            .client
            .get_points(
                GetPointsBuilder::new(self.inner.collection.as_str(), ids)
                    .with_payload(true)
                    .with_vectors(with_vector),
            )
            .await
            .map_err(|e| self.error("reading points", &e))?;
        response
            .result
            .into_iter()
            .map(|r| {
                Ok(Point {
                    id: uuid_of(r.id)?,
                    vector: r.vectors.and_then(dense),
                    payload: to_json(r.payload),
                })
            })
            .collect()
    }

    pub(super) async fn query(
        &self,
        query: Query,
        filter: Filter,
        limit: usize,
        exact: bool,
    ) -> Result<Vec<Scored>, StoreError> {
        let query = match query {
            Query::Nearest(v) => qdrant::Query::new_nearest(v),
            Query::Recommend { positive, negative } => qdrant::Query::new_recommend(
                RecommendInputBuilder::default()
                    .positive(
                        positive
                            .into_iter()
                            .map(VectorInput::from)
                            .collect::<Vec<_>>(),
                    )
                    .negative(
                        negative
                            .into_iter()
                            .map(VectorInput::from)
                            .collect::<Vec<_>>(),
                    )
                    .strategy(RecommendStrategy::BestScore),
            ),
        };
        let mut request = QueryPointsBuilder::new(self.inner.collection.as_str())
            .query(query)
            .limit(limit as u64)
            .params(
                SearchParamsBuilder::default()
                    .exact(exact)
                    .hnsw_ef(super::HNSW_EF as u64),
            )
            .with_payload(true)
            .with_vectors(false);
        if let Some(filter) = to_filter(&filter) {
            request = request.filter(filter);
        }
        let response = self
            .inner
            .client
            .query(request)
            .await
            .map_err(|e| self.error("querying", &e))?;
        response
            .result
            .into_iter()
            .map(|p| {
                Ok(Scored {
                    id: uuid_of(p.id)?,
                    score: p.score,
                    payload: to_json(p.payload),
                })
            })
            .collect()
    }

    pub(super) async fn scroll(
        &self,
        filter: Filter,
        limit: usize,
        offset: Option<Uuid>,
    ) -> Result<(Vec<Point>, Option<Uuid>), StoreError> {
        let limit = u32::try_from(limit.max(1)).unwrap_or(u32::MAX);
        let mut request = ScrollPointsBuilder::new(self.inner.collection.as_str())
            .limit(limit)
            .with_payload(true)
            .with_vectors(false);
        if let Some(offset) = offset {
            request = request.offset(point_id(offset));
        }
        if let Some(filter) = to_filter(&filter) {
            request = request.filter(filter);
        }
        let response = self
            .inner
            .client
            .scroll(request)
            .await
            .map_err(|e| self.error("scrolling", &e))?;
        let points = response
            .result
            .into_iter()
            .map(|r| {
                Ok(Point {
                    id: uuid_of(r.id)?,
                    vector: None,
                    payload: to_json(r.payload),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let next = response
            .next_page_offset
            .map(|id| uuid_of(Some(id)))
            .transpose()?;
        Ok((points, next))
    }

    pub(super) async fn count(&self, filter: Filter) -> Result<usize, StoreError> {
        let mut request = CountPointsBuilder::new(self.inner.collection.as_str()).exact(true);
        if let Some(filter) = to_filter(&filter) {
            request = request.filter(filter);
        }
        let response = self
            .inner
            .client
            .count(request)
            .await
            .map_err(|e| self.error("counting", &e))?;
        let count = response.result.map(|r| r.count).ok_or_else(|| {
            backend_error(format!("counting ({}): no result", self.inner.collection))
        })?;
        usize::try_from(count).map_err(backend_error)
    }
}

fn point_id(id: Uuid) -> PointId {
    PointId::from(id.to_string())
}

fn uuid_of(id: Option<PointId>) -> Result<Uuid, StoreError> {
    match id.and_then(|id| id.point_id_options) {
        Some(PointIdOptions::Uuid(s)) => Uuid::parse_str(&s)
            .map_err(|e| backend_error(format!("point id {s:?} is not a UUID: {e}"))),
        Some(PointIdOptions::Num(n)) => Err(backend_error(format!(
            "point id {n} is numeric; this catalog only writes UUIDs"
        ))),
        None => Err(backend_error("the server returned a point without an id")),
    }
}

/// The unnamed dense vector of a returned point.
fn dense(v: VectorsOutput) -> Option<Vec<f32>> {
    let output = match v.vectors_options? {
        VectorsOptions::Vector(v) => v,
        VectorsOptions::Vectors(mut named) => named.vectors.remove("")?,
    };
    match output.into_vector() {
        vector_output::Vector::Dense(d) => Some(d.data),
        vector_output::Vector::Sparse(_) | vector_output::Vector::MultiDense(_) => None,
    }
}

/// A returned payload as the JSON object it was written from.
fn to_json(payload: HashMap<String, qdrant::Value>) -> Payload {
    payload
        .into_iter()
        .map(|(k, v)| (k, v.into_json()))
        .collect()
}

fn to_condition(c: &Condition) -> qdrant::Condition {
    // `MatchValue` is built directly: the client's `From<String>` turns a value with
    // whitespace into a full-text match, which is not what a keyword filter means.
    match c {
        Condition::Equals { field, value } => {
            qdrant::Condition::matches(*field, MatchValue::Keyword(value.clone()))
        }
        Condition::AnyOf { field, values } => qdrant::Condition::matches(
            *field,
            MatchValue::Keywords(qdrant::RepeatedStrings {
                strings: values.clone(),
            }),
        ),
        Condition::Range { field, gte, lte } => qdrant::Condition::range(
            *field,
            qdrant::Range {
                lt: None,
                gt: None,
                gte: *gte,
                lte: *lte,
            },
        ),
    }
}

fn to_filter(filter: &Filter) -> Option<qdrant::Filter> {
    if filter.is_empty() {
        return None;
    }
    Some(qdrant::Filter {
        must: filter.must.iter().map(to_condition).collect(),
        must_not: filter.must_not.iter().map(to_condition).collect(),
        ..qdrant::Filter::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyword_with_spaces_stays_a_keyword_match() {
        let c = to_condition(&Condition::Equals {
            field: "category",
            value: "home and garden".to_owned(),
        });
        let Some(qdrant::condition::ConditionOneOf::Field(f)) = c.condition_one_of else {
            panic!("not a field condition: {c:?}");
        };
        assert_eq!(f.key, "category");
        assert_eq!(
            f.r#match.and_then(|m| m.match_value),
            Some(MatchValue::Keyword("home and garden".to_owned()))
        );
    }

    #[test]
    fn empty_filter_is_none_and_conditions_map() {
        assert!(to_filter(&Filter::default()).is_none());
        let f = to_filter(&Filter {
            must: vec![Condition::Range {
                field: "price",
                gte: Some(1.0),
                lte: None,
            }],
            must_not: vec![Condition::AnyOf {
                field: "tags",
                values: vec!["a".to_owned(), "b c".to_owned()],
            }],
        });
        let Some(f) = f else {
            panic!("no filter");
        };
        assert_eq!(f.must.len(), 1);
        assert_eq!(f.must_not.len(), 1);
        assert!(f.should.is_empty());
        assert!(f.min_should.is_none());
    }

    #[test]
    fn ids_and_payloads_round_trip() {
        let id = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        assert_eq!(uuid_of(Some(point_id(id))).ok(), Some(id));
        assert!(uuid_of(Some(PointId::from(7u64))).is_err());
        assert!(uuid_of(None).is_err());

        let serde_json::Value::Object(payload) = serde_json::json!({
            "name": "Oat milk",
            "price": 2.5,
            "stock": 12,
            "tags": ["vegan", "dairy free"],
            "nested": {"a": null, "b": true},
        }) else {
            panic!("not an object");
        };
        let stored = qdrant_client::Payload::from(payload.clone());
        let back = to_json(HashMap::from(stored));
        assert_eq!(back, payload);
    }
}
