//! Customers who consented to be recognised: their record, face embeddings and
//! purchases.
//!
//! Two collections: `customers` holds one point per customer (the record as payload,
//! and a "taste" vector: the mean of the products they bought, a positive example for
//! recommendations), and `faces` holds the face embeddings, each pointing at its
//! customer. Forgetting deletes the faces first, so a half-finished forget can never
//! leave a face that still identifies someone.
//!
//! Nothing here logs: names, embeddings and purchases are personal data.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use protocol::catalog::{
    Consent, CustomerRecord, EnrolRequest, IdentifiedCustomer, PreferencesUpdate, Product, Purchase,
};
use serde_json::Value;
use uuid::Uuid;

use crate::embed::DIMENSIONS;
use crate::error::CatalogError;
use crate::products::Products;
use crate::store::{Collection, CollectionSpec, Condition, Filter, Metric, Payload, Point, Query};

/// Payload field linking a face to its customer, and the customer's own id field.
const CUSTOMER_ID: &str = "customer_id";
/// Payload field listing a customer's purchased SKUs (indexed, for co-purchase counts).
const PURCHASED_SKUS: &str = "purchased_skus";
/// Most face embeddings stored per customer (a few angles; more only slows identify).
pub const MAX_FACES: usize = 10;
/// Most purchases kept per customer; the oldest are dropped beyond it.
pub const MAX_PURCHASES: usize = 500;
/// Longest name, consent text or kiosk id accepted.
const MAX_FIELD_CHARS: usize = 200;
/// Customers scanned for co-purchase counts; bounds the cost of one goes-with.
const MAX_CO_PURCHASE_SCAN: usize = 2000;

/// The customer records collection.
pub fn customers_spec(prefix: &str) -> CollectionSpec {
    CollectionSpec {
        name: format!("{prefix}customers"),
        dim: DIMENSIONS,
        metric: Metric::Cosine,
        keyword_fields: vec![CUSTOMER_ID, PURCHASED_SKUS],
        numeric_fields: vec![],
    }
}

/// The face embeddings collection.
pub fn faces_spec(prefix: &str, dim: usize) -> CollectionSpec {
    CollectionSpec {
        name: format!("{prefix}faces"),
        dim,
        metric: Metric::Euclid,
        keyword_fields: vec![CUSTOMER_ID],
        numeric_fields: vec![],
    }
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Consenting customers.
pub struct Customers {
    records: Collection,
    faces: Collection,
    max_distance: f32,
}

impl Customers {
    /// Customers in `records` and `faces`; a face matches when its Euclidean distance
    /// is at most `max_distance`.
    pub fn new(records: Collection, faces: Collection, max_distance: f32) -> Self {
        Customers {
            records,
            faces,
            max_distance,
        }
    }

    /// Enrols a customer who consented; returns the new record.
    pub async fn enrol(
        &self,
        request: EnrolRequest,
        products: &Products,
    ) -> Result<CustomerRecord, CatalogError> {
        check_text("name", &request.name)?;
        check_consent(&request.consent)?;
        if request.face_embeddings.is_empty() {
            return Err(CatalogError::InvalidCustomer(
                "face_embeddings is empty; enrolment needs at least one face".into(),
            ));
        }
        if request.face_embeddings.len() > MAX_FACES {
            return Err(CatalogError::BatchTooLarge {
                what: "face embeddings",
                got: request.face_embeddings.len(),
                max: MAX_FACES,
            });
        }
        check_preferences(&request.sizes, &request.liked_colours)?;
        let id = Uuid::new_v4();
        let record = CustomerRecord {
            id: id.to_string(),
            name: request.name.trim().to_owned(),
            consent: request.consent,
            enrolled_at_unix: now_unix(),
            sizes: request.sizes,
            liked_colours: request.liked_colours,
            purchases: Vec::new(),
            face_embeddings: Vec::new(),
        };
        let faces: Vec<Point> = request
            .face_embeddings
            .into_iter()
            .map(|vector| Point {
                id: Uuid::new_v4(),
                vector: Some(vector),
                payload: face_payload(id),
            })
            .collect();
        // The record first: a face must never point at a missing record.
        let taste = self.taste_vector(&record, products).await?;
        self.write_record(&record, taste).await?;
        if let Err(e) = self.faces.upsert(faces).await {
            self.records.delete(vec![id]).await?;
            return Err(e.into());
        }
        Ok(record)
    }

    /// The customer whose stored face is nearest to `embedding`, if within the match
    /// threshold; confidence falls from 1 (same embedding) to 0 at the threshold.
    pub async fn identify(
        &self,
        embedding: Vec<f32>,
    ) -> Result<Option<IdentifiedCustomer>, CatalogError> {
        let nearest = self
            .faces
            .query(Query::Nearest(embedding), Filter::default(), 1, false)
            .await?;
        let Some(hit) = nearest.into_iter().next() else {
            return Ok(None);
        };
        let distance = hit.score;
        if distance > self.max_distance {
            return Ok(None);
        }
        let Some(customer_id) = hit.payload.get(CUSTOMER_ID).and_then(Value::as_str) else {
            return Ok(None);
        };
        let Ok(record) = self.get(customer_id).await else {
            // A face whose record is gone is an interrupted forget: not a match.
            return Ok(None);
        };
        Ok(Some(IdentifiedCustomer {
            id: record.id,
            name: record.name,
            confidence: (1.0 - distance / self.max_distance).clamp(0.0, 1.0),
            distance,
            last_purchase: record.purchases.last().cloned(),
        }))
    }

    /// A customer's record, without face embeddings.
    pub async fn get(&self, id: &str) -> Result<CustomerRecord, CatalogError> {
        Ok(self.read(id, false).await?.0)
    }

    /// A customer's record and taste vector (for recommendations), in one read.
    pub async fn get_with_taste(
        &self,
        id: &str,
    ) -> Result<(CustomerRecord, Vec<f32>), CatalogError> {
        match self.read(id, true).await? {
            (record, Some(taste)) => Ok((record, taste)),
            (_, None) => Err(CatalogError::UnknownCustomer(id.to_owned())),
        }
    }

    async fn read(
        &self,
        id: &str,
        with_vector: bool,
    ) -> Result<(CustomerRecord, Option<Vec<f32>>), CatalogError> {
        let uuid = parse_id(id)?;
        let point = self
            .records
            .get(vec![uuid], with_vector)
            .await?
            .pop()
            .ok_or_else(|| CatalogError::UnknownCustomer(id.to_owned()))?;
        Ok((record_of(point.payload)?, point.vector))
    }

    /// A customer's whole record including face embeddings (the data export).
    pub async fn export(&self, id: &str) -> Result<CustomerRecord, CatalogError> {
        let mut record = self.get(id).await?;
        let faces = self.face_ids(id).await?;
        record.face_embeddings = self
            .faces
            .get(faces, true)
            .await?
            .into_iter()
            .filter_map(|p| p.vector)
            .collect();
        Ok(record)
    }

    /// Deletes everything stored about a customer: faces, purchases, preferences.
    pub async fn forget(&self, id: &str) -> Result<(), CatalogError> {
        let uuid = parse_id(id)?;
        self.get(id).await?;
        self.faces
            .delete_matching(Filter {
                must: vec![Condition::Equals {
                    field: CUSTOMER_ID,
                    value: id.to_owned(),
                }],
                must_not: vec![],
            })
            .await?;
        self.records.delete(vec![uuid]).await?;
        Ok(())
    }

    /// Records a purchase of a catalogue product.
    pub async fn add_purchase(
        &self,
        id: &str,
        product: &Product,
        size: Option<String>,
        at_unix: Option<u64>,
        products: &Products,
    ) -> Result<CustomerRecord, CatalogError> {
        let mut record = self.get(id).await?;
        if let Some(size) = &size
            && !product.sizes.iter().any(|s| &s.size == size)
        {
            return Err(CatalogError::InvalidCustomer(format!(
                "product {} has no size {size:?}",
                product.sku
            )));
        }
        record.purchases.push(Purchase {
            sku: product.sku.clone(),
            title: product.title.clone(),
            category: product.category.clone(),
            colours: product.colours.clone(),
            size,
            at_unix: at_unix.unwrap_or_else(now_unix),
        });
        record.purchases.sort_by_key(|p| p.at_unix);
        if record.purchases.len() > MAX_PURCHASES {
            let excess = record.purchases.len() - MAX_PURCHASES;
            record.purchases.drain(..excess);
        }
        let taste = self.taste_vector(&record, products).await?;
        self.write_record(&record, taste).await?;
        Ok(record)
    }

    /// Changes sizes and liked colours.
    pub async fn update_preferences(
        &self,
        id: &str,
        update: PreferencesUpdate,
        products: &Products,
    ) -> Result<CustomerRecord, CatalogError> {
        let mut record = self.get(id).await?;
        if let Some(sizes) = update.sizes {
            record.sizes = sizes;
        }
        if let Some(colours) = update.liked_colours {
            record.liked_colours = colours;
        }
        check_preferences(&record.sizes, &record.liked_colours)?;
        let taste = self.taste_vector(&record, products).await?;
        self.write_record(&record, taste).await?;
        Ok(record)
    }

    /// How often each SKU was bought by customers who also bought `sku`.
    pub async fn co_purchases(&self, sku: &str) -> Result<BTreeMap<String, u32>, CatalogError> {
        let (points, _) = self
            .records
            .scroll(
                Filter {
                    must: vec![Condition::Equals {
                        field: PURCHASED_SKUS,
                        value: sku.to_owned(),
                    }],
                    must_not: vec![],
                },
                MAX_CO_PURCHASE_SCAN,
                None,
            )
            .await?;
        let mut counts = BTreeMap::new();
        for point in points {
            let skus: std::collections::BTreeSet<&str> = point
                .payload
                .get(PURCHASED_SKUS)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for other in skus.into_iter().filter(|s| *s != sku) {
                *counts.entry(other.to_owned()).or_insert(0) += 1;
            }
        }
        Ok(counts)
    }

    async fn face_ids(&self, id: &str) -> Result<Vec<Uuid>, CatalogError> {
        let (points, _) = self
            .faces
            .scroll(
                Filter {
                    must: vec![Condition::Equals {
                        field: CUSTOMER_ID,
                        value: id.to_owned(),
                    }],
                    must_not: vec![],
                },
                MAX_FACES * 2,
                None,
            )
            .await?;
        Ok(points.into_iter().map(|p| p.id).collect())
    }

    /// Mean of the vectors of purchased products, normalised; the embedding of the
    /// liked colours when nothing was bought yet.
    async fn taste_vector(
        &self,
        record: &CustomerRecord,
        products: &Products,
    ) -> Result<Vec<f32>, CatalogError> {
        let skus: Vec<String> = record.purchases.iter().map(|p| p.sku.clone()).collect();
        let vectors = products.vectors(&skus).await?;
        if !vectors.is_empty() {
            let mut mean = vec![0.0f32; DIMENSIONS];
            for v in &vectors {
                for (m, x) in mean.iter_mut().zip(v) {
                    *m += x;
                }
            }
            let norm = mean.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                return Ok(mean.into_iter().map(|x| x / norm).collect());
            }
        }
        let text = if record.liked_colours.is_empty() {
            "clothes".to_owned()
        } else {
            format!("{} clothes", record.liked_colours.join(" and "))
        };
        products.embed_query(&text).await
    }

    async fn write_record(
        &self,
        record: &CustomerRecord,
        taste: Vec<f32>,
    ) -> Result<(), CatalogError> {
        let id = parse_id(&record.id)?;
        let Value::Object(mut payload) = serde_json::to_value(record)
            .map_err(|e| CatalogError::InvalidCustomer(e.to_string()))?
        else {
            return Err(CatalogError::InvalidCustomer(
                "record is not an object".into(),
            ));
        };
        payload.insert(CUSTOMER_ID.into(), Value::from(record.id.clone()));
        let skus: Vec<Value> = record
            .purchases
            .iter()
            .map(|p| Value::from(p.sku.clone()))
            .collect();
        payload.insert(PURCHASED_SKUS.into(), Value::Array(skus));
        self.records
            .upsert(vec![Point {
                id,
                vector: Some(taste),
                payload,
            }])
            .await?;
        Ok(())
    }
}

fn face_payload(customer: Uuid) -> Payload {
    let mut payload = Payload::new();
    payload.insert(CUSTOMER_ID.into(), Value::from(customer.to_string()));
    payload
}

fn record_of(payload: Payload) -> Result<CustomerRecord, CatalogError> {
    serde_json::from_value(Value::Object(payload)).map_err(|e| {
        CatalogError::Store(crate::store::StoreError::Backend {
            backend: "payload",
            message: format!("stored customer record does not parse: {e}"),
        })
    })
}

fn parse_id(id: &str) -> Result<Uuid, CatalogError> {
    Uuid::parse_str(id).map_err(|_| CatalogError::UnknownCustomer(id.to_owned()))
}

fn check_text(field: &str, value: &str) -> Result<(), CatalogError> {
    let chars = value.trim().chars().count();
    if chars == 0 || chars > MAX_FIELD_CHARS {
        return Err(CatalogError::InvalidCustomer(format!(
            "{field} must be 1 to {MAX_FIELD_CHARS} characters"
        )));
    }
    Ok(())
}

fn check_consent(consent: &Consent) -> Result<(), CatalogError> {
    check_text("consent.given_by", &consent.given_by)?;
    check_text("consent.purpose", &consent.purpose)?;
    check_text("consent.kiosk_id", &consent.kiosk_id)?;
    // A day of clock skew between kiosk and catalog is tolerated, no more.
    if consent.given_at_unix == 0 || consent.given_at_unix > now_unix() + 86_400 {
        return Err(CatalogError::InvalidCustomer(
            "consent.given_at_unix must be the time consent was given (seconds since 1970), not in the future".into(),
        ));
    }
    Ok(())
}

fn check_preferences(
    sizes: &BTreeMap<String, String>,
    colours: &[String],
) -> Result<(), CatalogError> {
    if sizes.len() > 32 || colours.len() > 32 {
        return Err(CatalogError::InvalidCustomer(
            "at most 32 sizes and 32 liked colours".into(),
        ));
    }
    for (category, size) in sizes {
        check_text("sizes key", category)?;
        check_text("sizes value", size)?;
    }
    for colour in colours {
        check_text("liked_colours entry", colour)?;
    }
    Ok(())
}
