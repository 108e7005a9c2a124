//! The vector store: one interface, two real Qdrant back ends.
//!
//! - [`edge`]: Qdrant's own segment engine in-process (`qdrant-edge`), data in a local
//!   folder. The one-machine default, and what the tests use.
//! - [`server`]: a Qdrant server over gRPC (`qdrant-client`), for the k3s deployment.
//!
//! The rest of the catalog speaks only the small vocabulary below (points with a UUID,
//! a vector and a JSON payload; keyword/range filters; nearest and recommend queries),
//! so both back ends behave the same and the service code never sees either crate.

pub mod edge;
pub mod server;

use serde_json::{Map, Value};
use uuid::Uuid;

/// HNSW search beam width, on both back ends. Wider than Qdrant's default, which keeps
/// recall@10 at or above 0.95 on catalogues with many near-identical products
/// (measured by the catalog bench) for a fraction of a millisecond per search.
pub const HNSW_EF: usize = 128;

/// A JSON object stored beside a vector (Qdrant's payload).
pub type Payload = Map<String, Value>;

/// How vectors of a collection are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Cosine similarity, higher is closer: text embeddings.
    Cosine,
    /// Euclidean distance, lower is closer: dlib face embeddings, whose published
    /// same-person threshold (0.6) is a Euclidean distance.
    Euclid,
}

/// What a collection is: its name, vector shape and the payload fields that filters
/// use (indexed, so filtered search stays fast at catalogue scale).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionSpec {
    /// Collection name (a folder name for the embedded store).
    pub name: String,
    /// Vector dimension; writes and queries of another length are refused.
    pub dim: usize,
    /// How vectors are compared.
    pub metric: Metric,
    /// Payload fields matched by keyword (exact string, or any element of an array).
    pub keyword_fields: Vec<&'static str>,
    /// Payload fields filtered by numeric range.
    pub numeric_fields: Vec<&'static str>,
}

/// One stored point.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Stable id; products use a UUID derived from the SKU, so re-ingestion upserts.
    pub id: Uuid,
    /// The vector; `None` when read back without vectors.
    pub vector: Option<Vec<f32>>,
    /// The JSON payload.
    pub payload: Payload,
}

/// One query result.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// Id of the point.
    pub id: Uuid,
    /// Cosine similarity (higher is closer) or Euclidean distance (lower is closer),
    /// as the collection's [`Metric`] says.
    pub score: f32,
    /// The point's payload.
    pub payload: Payload,
}

/// One condition of a [`Filter`].
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The keyword field equals the value (or, for an array field, contains it).
    Equals {
        /// Payload field name.
        field: &'static str,
        /// Value to match.
        value: String,
    },
    /// The keyword field equals any of the values.
    AnyOf {
        /// Payload field name.
        field: &'static str,
        /// Values to match.
        values: Vec<String>,
    },
    /// The numeric field lies in the inclusive range.
    Range {
        /// Payload field name.
        field: &'static str,
        /// Lowest value, inclusive.
        gte: Option<f64>,
        /// Highest value, inclusive.
        lte: Option<f64>,
    },
}

/// Conditions a point must (and must not) meet; an empty filter matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Every one of these must hold.
    pub must: Vec<Condition>,
    /// None of these may hold.
    pub must_not: Vec<Condition>,
}

impl Filter {
    /// Whether the filter has no conditions.
    pub fn is_empty(&self) -> bool {
        self.must.is_empty() && self.must_not.is_empty()
    }
}

/// What to rank points by.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// Closest to this vector.
    Nearest(Vec<f32>),
    /// Qdrant's recommend (best-score strategy): close to the positive examples and far
    /// from the negative ones.
    Recommend {
        /// Vectors the results should resemble.
        positive: Vec<Vec<f32>>,
        /// Vectors the results should not resemble.
        negative: Vec<Vec<f32>>,
    },
}

impl Query {
    /// Every vector the query carries, for dimension and finiteness checks.
    fn vectors(&self) -> Vec<&[f32]> {
        match self {
            Query::Nearest(v) => vec![v.as_slice()],
            Query::Recommend { positive, negative } => positive
                .iter()
                .chain(negative.iter())
                .map(Vec::as_slice)
                .collect(),
        }
    }
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A vector has the wrong length for its collection.
    #[error("vector of {collection} has {got} dimensions; it must have {expected}")]
    WrongDimension {
        /// Collection written or queried.
        collection: String,
        /// Expected length.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// A vector holds NaN or infinity.
    #[error("vector of {collection} holds a NaN or infinite value")]
    NotFinite {
        /// Collection written or queried.
        collection: String,
    },
    /// The back end failed (disk, network, engine); the message says which.
    #[error("vector store ({backend}) failed: {message}")]
    Backend {
        /// `embedded` or `server`.
        backend: &'static str,
        /// What went wrong.
        message: String,
    },
}

/// Checks vectors before they reach a back end, so both refuse the same input the
/// same way (Qdrant itself would accept NaN on some paths).
fn check_vectors<'a>(
    spec: &CollectionSpec,
    vectors: impl IntoIterator<Item = &'a [f32]>,
) -> Result<(), StoreError> {
    for v in vectors {
        if v.len() != spec.dim {
            return Err(StoreError::WrongDimension {
                collection: spec.name.clone(),
                expected: spec.dim,
                got: v.len(),
            });
        }
        if v.iter().any(|x| !x.is_finite()) {
            return Err(StoreError::NotFinite {
                collection: spec.name.clone(),
            });
        }
    }
    Ok(())
}

/// One collection on either back end.
#[derive(Clone)]
pub enum Collection {
    /// In-process Qdrant engine.
    Edge(edge::EdgeCollection),
    /// Qdrant server.
    Server(server::ServerCollection),
}

impl Collection {
    /// The collection's description.
    pub fn spec(&self) -> &CollectionSpec {
        match self {
            Collection::Edge(c) => c.spec(),
            Collection::Server(c) => c.spec(),
        }
    }

    /// Inserts or replaces points; durable when it returns.
    pub async fn upsert(&self, points: Vec<Point>) -> Result<(), StoreError> {
        if points.is_empty() {
            return Ok(());
        }
        for p in &points {
            let Some(v) = &p.vector else {
                return Err(StoreError::WrongDimension {
                    collection: self.spec().name.clone(),
                    expected: self.spec().dim,
                    got: 0,
                });
            };
            check_vectors(self.spec(), [v.as_slice()])?;
        }
        match self {
            Collection::Edge(c) => c.upsert(points).await,
            Collection::Server(c) => c.upsert(points).await,
        }
    }

    /// Sets (merges) payload keys of one point; durable when it returns.
    pub async fn set_payload(&self, id: Uuid, payload: Payload) -> Result<(), StoreError> {
        match self {
            Collection::Edge(c) => c.set_payload(id, payload).await,
            Collection::Server(c) => c.set_payload(id, payload).await,
        }
    }

    /// Deletes points by id (missing ids are ignored); durable when it returns.
    pub async fn delete(&self, ids: Vec<Uuid>) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        match self {
            Collection::Edge(c) => c.delete(ids).await,
            Collection::Server(c) => c.delete(ids).await,
        }
    }

    /// Deletes every point the filter matches; durable when it returns.
    pub async fn delete_matching(&self, filter: Filter) -> Result<(), StoreError> {
        match self {
            Collection::Edge(c) => c.delete_matching(filter).await,
            Collection::Server(c) => c.delete_matching(filter).await,
        }
    }

    /// Reads points by id, in no particular order; missing ids are left out.
    pub async fn get(&self, ids: Vec<Uuid>, with_vector: bool) -> Result<Vec<Point>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        match self {
            Collection::Edge(c) => c.get(ids, with_vector).await,
            Collection::Server(c) => c.get(ids, with_vector).await,
        }
    }

    /// The best `limit` points for the query among those the filter admits, best
    /// first. `exact` bypasses the HNSW index (brute force), for recall measurements.
    pub async fn query(
        &self,
        query: Query,
        filter: Filter,
        limit: usize,
        exact: bool,
    ) -> Result<Vec<Scored>, StoreError> {
        check_vectors(self.spec(), query.vectors())?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        match self {
            Collection::Edge(c) => c.query(query, filter, limit, exact).await,
            Collection::Server(c) => c.query(query, filter, limit, exact).await,
        }
    }

    /// Up to `limit` points the filter admits, in id order, starting at `offset`;
    /// returns the id to continue from.
    pub async fn scroll(
        &self,
        filter: Filter,
        limit: usize,
        offset: Option<Uuid>,
    ) -> Result<(Vec<Point>, Option<Uuid>), StoreError> {
        match self {
            Collection::Edge(c) => c.scroll(filter, limit, offset).await,
            Collection::Server(c) => c.scroll(filter, limit, offset).await,
        }
    }

    /// Exact number of points the filter admits.
    pub async fn count(&self, filter: Filter) -> Result<usize, StoreError> {
        match self {
            Collection::Edge(c) => c.count(filter).await,
            Collection::Server(c) => c.count(filter).await,
        }
    }

    /// Builds search indexes after a bulk load (embedded engine only; a Qdrant server
    /// optimises in the background by itself).
    pub async fn optimize(&self) -> Result<(), StoreError> {
        match self {
            Collection::Edge(c) => c.optimize().await,
            Collection::Server(_) => Ok(()),
        }
    }
}
