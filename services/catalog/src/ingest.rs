//! Loading a store's catalogue from a JSON or CSV file.
//!
//! The catalogue CLI and the admin HTTP API both hand the uploaded bytes to [`parse`].
//! Every row is checked on its own: good rows come back as [`Product`]s, bad rows as
//! [`RowError`]s carrying the line the row starts on and a reason that says what to
//! fix, so one typo does not reject a 5,000-row upload and the person fixing the file
//! can go straight to the line. Only problems that make the whole file unusable (not
//! JSON at all, a CSV header without the `sku` column, too many rows) are an
//! [`IngestError`]. Storing the products (an upsert by SKU) is the caller's business.
//!
//! Two formats, with the same rules:
//!
//! - **JSON**: a top-level array of product objects, exactly the shape of
//!   [`Product`] (and of `fixtures/catalog/products.json`). Unknown fields are rejected
//!   so a typo such as `"colour"` is not silently dropped.
//! - **CSV**: a header row naming the columns in [`CSV_COLUMNS`] (any order; `pattern`,
//!   `material`, `fit` and `store` may be left out), one product per row. `colours` is
//!   `|`-separated (`pink|navy`), `sizes` is `SIZE:STOCK` pairs separated by `|`
//!   (`S:3|M:0|L:12`), `price` is in currency units with at most two decimals
//!   (`49.99`). Cells are trimmed; an empty optional cell means "unknown". [`to_csv`]
//!   writes this format, so a catalogue can be exported, edited and loaded again.
//!
//! [`validate`] holds the rules every product must pass; the HTTP API calls it for a
//! single-product `PUT` too, so both paths accept exactly the same products.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;

use protocol::catalog::{Product, SizeStock};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Columns of the CSV format, in the order [`to_csv`] writes them.
pub const CSV_COLUMNS: [&str; 14] = [
    "sku",
    "title",
    "description",
    "brand",
    "category",
    "colours",
    "pattern",
    "material",
    "fit",
    "price",
    "currency",
    "sizes",
    "image_url",
    "store",
];

/// CSV columns a file may leave out: the fields of [`Product`] that are optional.
const OPTIONAL_COLUMNS: [&str; 4] = ["pattern", "material", "fit", "store"];

/// Fields a JSON product object may have (the fields of [`Product`]).
const JSON_FIELDS: [&str; 14] = [
    "sku",
    "title",
    "description",
    "brand",
    "category",
    "colours",
    "pattern",
    "material",
    "fit",
    "price_cents",
    "currency",
    "sizes",
    "image_url",
    "store",
];

/// Longest SKU accepted: SKUs are ids in URLs, logs and the vector store.
pub const MAX_SKU_CHARS: usize = 64;

/// A UTF-8 byte order mark, which spreadsheet programs put at the start of exports.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// File format of an uploaded catalogue; the CLI picks it from the file name and the
/// HTTP API from the `Content-Type` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A JSON array of product objects (the shape of [`Product`]).
    Json,
    /// A CSV file with a header row naming the [`CSV_COLUMNS`].
    Csv,
}

impl Format {
    /// The format a file name's extension (`.json` or `.csv`, any case) says, or `None`
    /// when it says neither, so the CLI can ask for `--format` instead of guessing.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?;
        if ext.eq_ignore_ascii_case("json") {
            Some(Format::Json)
        } else if ext.eq_ignore_ascii_case("csv") {
            Some(Format::Csv)
        } else {
            None
        }
    }

    /// The format an HTTP `Content-Type` says (`application/json` or `text/csv`, any
    /// case, parameters such as `; charset=utf-8` ignored), or `None` for anything
    /// else, so the API can answer 415 rather than guess.
    pub fn from_content_type(content_type: &str) -> Option<Format> {
        let media_type = content_type.split(';').next()?.trim();
        if media_type.eq_ignore_ascii_case("application/json") {
            Some(Format::Json)
        } else if media_type.eq_ignore_ascii_case("text/csv") {
            Some(Format::Csv)
        } else {
            None
        }
    }

    /// The `Content-Type` of this format, for serving an export (see [`to_csv`]).
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// One row that was rejected, and why; the admin fixes these and uploads again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    /// 1-based line of the file where the row starts, so it can be found in an editor
    /// (a CSV row with a quoted multi-line cell starts on its first line).
    pub line: usize,
    /// The row's SKU when it has one, so the error can be matched to the product
    /// without opening the file.
    pub sku: Option<String>,
    /// What is wrong with the row and how to fix it; several problems are joined with
    /// `; ` so one upload reports them all.
    pub reason: String,
}

/// The outcome of reading a catalogue file whose overall shape was usable.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Parsed {
    /// The rows that passed every check, in file order, ready to upsert.
    pub products: Vec<Product>,
    /// The rows that did not, in file order.
    pub errors: Vec<RowError>,
    /// Rows read (good and bad), so a report can say "3 of 120 rows rejected". Blank
    /// CSV rows are not counted.
    pub rows: usize,
}

/// Why a whole file was rejected; no product from it may be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// A JSON file whose top level is not an array (e.g. `{"products": [...]}`).
    #[error(
        "the JSON document is not a list of products; put the product objects in a \
         top-level array: [{{...}}, {{...}}]"
    )]
    NotAList,
    /// The bytes are not the format at all: empty, a JSON syntax error (the reason
    /// carries serde's line and column), or a CSV header that is not UTF-8.
    #[error("the file could not be read: {reason}")]
    Unreadable {
        /// What went wrong, with the position when known.
        reason: String,
    },
    /// The CSV header lacks columns every product needs.
    #[error(
        "the CSV header lacks required column(s): {}; the first row must name the \
         columns sku, title, description, brand, category, colours, price, currency, \
         sizes and image_url (pattern, material, fit and store are optional)",
        missing.join(", ")
    )]
    MissingColumns {
        /// The missing column names, in [`CSV_COLUMNS`] order.
        missing: Vec<String>,
    },
    /// The CSV header names columns this format does not have; most likely a typo,
    /// which would otherwise silently drop that column's data.
    #[error(
        "the CSV header has unknown column(s): {}; the known columns are {}",
        unknown.join(", "),
        CSV_COLUMNS.join(", ")
    )]
    UnknownColumns {
        /// The unknown column names, as written in the header.
        unknown: Vec<String>,
    },
    /// The CSV header names a column twice, so which cell counts would be a guess.
    #[error("the CSV header names the column {column:?} more than once")]
    DuplicateColumn {
        /// The repeated column name.
        column: String,
    },
    /// More rows than [`Limits::max_rows`]; split the file or raise the limit.
    #[error("the file has more than {max} rows; split it into smaller files")]
    TooManyRows {
        /// The limit that was exceeded.
        max: usize,
    },
    /// [`to_csv`] cannot write a product in the CSV format without changing it.
    #[error("cannot write the catalogue as CSV: {reason}")]
    Unwritable {
        /// Which product and value cannot be written.
        reason: String,
    },
}

/// Bounds on what one file and one product may hold, so an upload cannot make the
/// service use unbounded memory or store text no product card can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Most rows in one file; more is [`IngestError::TooManyRows`].
    pub max_rows: usize,
    /// Most characters (not bytes) in any text field of a product.
    pub max_text_chars: usize,
    /// Most sizes one product may list.
    pub max_sizes: usize,
    /// Most colours one product may list.
    pub max_colours: usize,
}

impl Default for Limits {
    /// Generous for a real store (the fixture catalogue's longest description is 170
    /// characters, its most sizes 11) while keeping one upload bounded.
    fn default() -> Self {
        Limits {
            max_rows: 100_000,
            max_text_chars: 2000,
            max_sizes: 32,
            max_colours: 8,
        }
    }
}

/// Reads a whole catalogue file, checking every row with [`validate`] and rejecting a
/// SKU seen earlier in the same file ("duplicate SKU, first seen on line N").
///
/// A leading UTF-8 byte order mark is ignored. In both formats an empty optional value
/// (`""` in JSON, an empty cell in CSV) is read as absent.
///
/// # Errors
///
/// An [`IngestError`] only when the file as a whole is unusable; bad rows are reported
/// in [`Parsed::errors`] instead.
pub fn parse(bytes: &[u8], format: Format, limits: &Limits) -> Result<Parsed, IngestError> {
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::Unreadable {
            reason: "the file is empty".to_owned(),
        });
    }
    let mut rows = Rows::new(limits);
    match format {
        Format::Json => parse_json(bytes, &mut rows)?,
        Format::Csv => parse_csv(bytes, &mut rows)?,
    }
    Ok(rows.parsed)
}

/// Checks one product against the catalogue's rules: what a product card, the search
/// filters and the stock updates rely on. Used for every row of [`parse`] and by the
/// HTTP API for a single product.
///
/// # Errors
///
/// Every problem found, each saying which field to fix, joined with `; `.
pub fn validate(product: &Product, limits: &Limits) -> Result<(), String> {
    let mut problems = Vec::new();
    check_sku(&product.sku, &mut problems);

    for (field, value) in [
        ("title", &product.title),
        ("brand", &product.brand),
        ("category", &product.category),
    ] {
        if value.trim().is_empty() {
            problems.push(format!("{field} is empty"));
        }
    }
    if product.category.chars().any(char::is_uppercase) {
        problems.push(format!(
            "category {:?} must be lower-case, e.g. {:?}",
            product.category,
            product.category.to_lowercase()
        ));
    }
    let currency = &product.currency;
    if currency.is_empty() {
        problems.push("currency is empty; use a 3-letter ISO 4217 code such as EUR".to_owned());
    } else if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
        problems.push(format!(
            "currency {currency:?} must be a 3-letter upper-case ISO 4217 code such as EUR"
        ));
    }
    if product.price_cents == 0 {
        problems.push("price is 0; it must be more than 0".to_owned());
    }

    for (field, value) in [
        ("title", &product.title),
        ("description", &product.description),
        ("brand", &product.brand),
        ("category", &product.category),
        ("image_url", &product.image_url),
    ] {
        check_length(field, value, limits, &mut problems);
    }
    for (field, value) in [
        ("pattern", &product.pattern),
        ("material", &product.material),
        ("fit", &product.fit),
        ("store", &product.store),
    ] {
        if let Some(value) = value {
            if value.trim().is_empty() {
                problems.push(format!("{field} is empty; leave it out when unknown"));
            }
            check_length(field, value, limits, &mut problems);
        }
    }

    check_colours(&product.colours, limits, &mut problems);
    check_sizes(&product.sizes, limits, &mut problems);

    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Writes products in the CSV format [`parse`] reads (columns in [`CSV_COLUMNS`]
/// order, price as `49.99`), for exporting a catalogue to edit in a spreadsheet.
///
/// # Errors
///
/// [`IngestError::Unwritable`] when a colour or size label contains `|`, the separator
/// of those lists, so the file would not read back as the same product.
pub fn to_csv(products: &[Product]) -> Result<Vec<u8>, IngestError> {
    let unwritable = |reason: String| IngestError::Unwritable { reason };
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(CSV_COLUMNS)
        .map_err(|e| unwritable(e.to_string()))?;
    for product in products {
        let sku = &product.sku;
        if let Some(colour) = product.colours.iter().find(|c| c.contains('|')) {
            return Err(unwritable(format!(
                "product {sku:?}: colour {colour:?} contains '|', which separates colours"
            )));
        }
        if let Some(size) = product.sizes.iter().find(|s| s.size.contains('|')) {
            return Err(unwritable(format!(
                "product {sku:?}: size {:?} contains '|', which separates sizes",
                size.size
            )));
        }
        let price = format!(
            "{}.{:02}",
            product.price_cents / 100,
            product.price_cents % 100
        );
        let colours = product.colours.join("|");
        let sizes = product
            .sizes
            .iter()
            .map(|s| format!("{}:{}", s.size, s.stock))
            .collect::<Vec<_>>()
            .join("|");
        let optional = |value: &Option<String>| value.clone().unwrap_or_default();
        writer
            .write_record([
                product.sku.as_str(),
                &product.title,
                &product.description,
                &product.brand,
                &product.category,
                &colours,
                &optional(&product.pattern),
                &optional(&product.material),
                &optional(&product.fit),
                &price,
                &product.currency,
                &sizes,
                &product.image_url,
                &optional(&product.store),
            ])
            .map_err(|e| unwritable(e.to_string()))?;
    }
    writer.into_inner().map_err(|e| unwritable(e.to_string()))
}

/// Collects the rows of one file: counts them, enforces the row limit, validates,
/// and remembers where each SKU was first seen.
struct Rows<'a> {
    limits: &'a Limits,
    parsed: Parsed,
    first_seen: HashMap<String, usize>,
}

impl<'a> Rows<'a> {
    fn new(limits: &'a Limits) -> Self {
        Rows {
            limits,
            parsed: Parsed::default(),
            first_seen: HashMap::new(),
        }
    }

    /// Records one row starting on `line`: `built` is the product, or the problems
    /// that kept it from being read; `sku` is the row's SKU when it has one.
    fn add(
        &mut self,
        line: usize,
        sku: Option<String>,
        built: Result<Product, Vec<String>>,
    ) -> Result<(), IngestError> {
        self.parsed.rows += 1;
        if self.parsed.rows > self.limits.max_rows {
            return Err(IngestError::TooManyRows {
                max: self.limits.max_rows,
            });
        }
        let sku = sku.filter(|s| !s.is_empty());
        let mut problems = Vec::new();
        if let Some(sku) = &sku {
            match self.first_seen.entry(sku.clone()) {
                Entry::Occupied(first) => {
                    problems.push(format!("duplicate SKU, first seen on line {}", first.get()))
                }
                Entry::Vacant(slot) => {
                    slot.insert(line);
                }
            }
        }
        match built {
            Ok(product) => {
                if let Err(reason) = validate(&product, self.limits) {
                    problems.push(reason);
                }
                if problems.is_empty() {
                    self.parsed.products.push(product);
                    return Ok(());
                }
            }
            Err(more) => problems.extend(more),
        }
        self.parsed.errors.push(RowError {
            line,
            sku,
            reason: problems.join("; "),
        });
        Ok(())
    }
}

fn check_sku(sku: &str, problems: &mut Vec<String>) {
    if sku.is_empty() {
        problems.push("sku is empty".to_owned());
        return;
    }
    let chars = sku.chars().count();
    if chars > MAX_SKU_CHARS {
        problems.push(format!(
            "sku is {chars} characters long; at most {MAX_SKU_CHARS} are allowed"
        ));
    }
    if let Some(bad) = sku
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        problems.push(format!(
            "sku {sku:?} contains {bad:?}; only letters A-Z and a-z, digits, '-', '_' and \
             '.' are allowed"
        ));
    }
}

fn check_length(field: &str, value: &str, limits: &Limits, problems: &mut Vec<String>) {
    let chars = value.chars().count();
    if chars > limits.max_text_chars {
        problems.push(format!(
            "{field} is {chars} characters long; at most {} are allowed",
            limits.max_text_chars
        ));
    }
}

fn check_colours(colours: &[String], limits: &Limits, problems: &mut Vec<String>) {
    if colours.is_empty() {
        problems.push("colours is empty; give at least one colour".to_owned());
    } else if colours.len() > limits.max_colours {
        problems.push(format!(
            "colours lists {} colours; at most {} are allowed",
            colours.len(),
            limits.max_colours
        ));
    }
    for (i, colour) in colours.iter().enumerate() {
        if colour.trim().is_empty() {
            problems.push(format!("colours entry {} is empty", i + 1));
        } else if colour.contains('|') {
            problems.push(format!(
                "colour {colour:?} contains '|', which separates colours in CSV"
            ));
        }
        check_length("a colour", colour, limits, problems);
    }
}

fn check_sizes(sizes: &[SizeStock], limits: &Limits, problems: &mut Vec<String>) {
    if sizes.is_empty() {
        problems.push("sizes is empty; give at least one size with its stock".to_owned());
    } else if sizes.len() > limits.max_sizes {
        problems.push(format!(
            "sizes lists {} sizes; at most {} are allowed",
            sizes.len(),
            limits.max_sizes
        ));
    }
    let mut seen: Vec<&str> = Vec::with_capacity(sizes.len());
    for (i, size) in sizes.iter().enumerate() {
        let label = size.size.as_str();
        if label.trim().is_empty() {
            problems.push(format!("sizes entry {} has an empty size label", i + 1));
            continue;
        }
        if label.contains('|') {
            problems.push(format!(
                "size {label:?} contains '|', which separates sizes in CSV"
            ));
        }
        check_length("a size label", label, limits, problems);
        if seen.contains(&label) {
            problems.push(format!(
                "size {label:?} is listed more than once in sizes; list each size once"
            ));
        } else {
            seen.push(label);
        }
    }
}

// ---- JSON ----

fn parse_json(bytes: &[u8], rows: &mut Rows<'_>) -> Result<(), IngestError> {
    let document: Value = serde_json::from_slice(bytes).map_err(|e| IngestError::Unreadable {
        reason: format!("invalid JSON: {e}"),
    })?;
    let Value::Array(elements) = document else {
        return Err(IngestError::NotAList);
    };
    if elements.len() > rows.limits.max_rows {
        return Err(IngestError::TooManyRows {
            max: rows.limits.max_rows,
        });
    }
    let starts = element_starts(bytes);
    let mut lines = LineCounter::new(bytes);
    for (i, element) in elements.into_iter().enumerate() {
        // The scanner and serde_json agree on a valid document; fall back to line 1
        // rather than fail if they ever did not.
        let line = starts.get(i).map_or(1, |&offset| lines.line_at(offset));
        let sku = element
            .get("sku")
            .and_then(Value::as_str)
            .map(str::to_owned);
        rows.add(line, sku, product_from_json(element))?;
    }
    Ok(())
}

/// Byte offsets where the elements of the top-level array start. Only called on a
/// document serde_json has accepted, so it only tracks strings and nesting.
fn element_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut expecting_element = false;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        if b.is_ascii_whitespace() {
            continue;
        }
        if depth == 1 && expecting_element && b != b']' {
            starts.push(i);
            expecting_element = false;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth == 1 {
                    expecting_element = true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => expecting_element = true,
            _ => {}
        }
    }
    starts
}

/// Turns increasing byte offsets into 1-based line numbers in one pass over the input.
struct LineCounter<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            offset: 0,
            line: 1,
        }
    }

    fn line_at(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.bytes.len());
        if offset < self.offset {
            self.offset = 0;
            self.line = 1;
        }
        self.line += self.bytes[self.offset..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.offset = offset;
        self.line
    }
}

/// Builds a product from one JSON array element, naming the field in every problem.
fn product_from_json(element: Value) -> Result<Product, Vec<String>> {
    let mut object = match element {
        Value::Object(object) => object,
        other => {
            return Err(vec![format!(
                "the row is {}, not a product object {{...}}",
                json_kind(&other)
            )]);
        }
    };
    let mut problems = Vec::new();
    for key in object.keys() {
        if !JSON_FIELDS.contains(&key.as_str()) {
            problems.push(format!(
                "unknown field `{key}`; the fields are {}",
                JSON_FIELDS.join(", ")
            ));
        }
    }
    let sku = required::<String>(&mut object, "sku", &mut problems);
    let title = required::<String>(&mut object, "title", &mut problems);
    let description = required::<String>(&mut object, "description", &mut problems);
    let brand = required::<String>(&mut object, "brand", &mut problems);
    let category = required::<String>(&mut object, "category", &mut problems);
    let colours = required::<Vec<String>>(&mut object, "colours", &mut problems);
    let pattern = optional(&mut object, "pattern", &mut problems);
    let material = optional(&mut object, "material", &mut problems);
    let fit = optional(&mut object, "fit", &mut problems);
    let price_cents = required::<u64>(&mut object, "price_cents", &mut problems);
    let currency = required::<String>(&mut object, "currency", &mut problems);
    let sizes = json_sizes(&mut object, &mut problems);
    let image_url = required::<String>(&mut object, "image_url", &mut problems);
    let store = optional(&mut object, "store", &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    // No problems means every required field was present and read.
    Ok(Product {
        sku: sku.unwrap_or_default(),
        title: title.unwrap_or_default(),
        description: description.unwrap_or_default(),
        brand: brand.unwrap_or_default(),
        category: category.unwrap_or_default(),
        colours: colours.unwrap_or_default(),
        pattern,
        material,
        fit,
        price_cents: price_cents.unwrap_or_default(),
        currency: currency.unwrap_or_default(),
        sizes: sizes.unwrap_or_default(),
        image_url: image_url.unwrap_or_default(),
        store,
    })
}

fn required<T: DeserializeOwned>(
    object: &mut Map<String, Value>,
    field: &str,
    problems: &mut Vec<String>,
) -> Option<T> {
    let Some(value) = object.remove(field) else {
        problems.push(format!("missing field `{field}`"));
        return None;
    };
    serde_json::from_value(value)
        .map_err(|e| problems.push(format!("`{field}`: {e}")))
        .ok()
}

/// An optional text field: absent, `null` and `""` all mean unknown.
fn optional(
    object: &mut Map<String, Value>,
    field: &str,
    problems: &mut Vec<String>,
) -> Option<String> {
    match object.remove(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            problems.push(format!(
                "`{field}` must be a string or null, not {}",
                json_kind(&other)
            ));
            None
        }
    }
}

/// The `sizes` field, with a clear reason for a negative stock (which `u32` cannot
/// hold) and for misspelt keys in a size object.
fn json_sizes(
    object: &mut Map<String, Value>,
    problems: &mut Vec<String>,
) -> Option<Vec<SizeStock>> {
    let Some(value) = object.remove("sizes") else {
        problems.push("missing field `sizes`".to_owned());
        return None;
    };
    let Value::Array(entries) = value else {
        problems.push(format!(
            "`sizes` must be a list of {{\"size\": ..., \"stock\": ...}} objects, not {}",
            json_kind(&value)
        ));
        return None;
    };
    let before = problems.len();
    let mut sizes = Vec::with_capacity(entries.len());
    for (i, entry) in entries.into_iter().enumerate() {
        if let Value::Object(fields) = &entry {
            for key in fields.keys() {
                if key != "size" && key != "stock" {
                    problems.push(format!(
                        "`sizes[{i}]`: unknown field `{key}`; the fields are size, stock"
                    ));
                }
            }
            let label = fields.get("size").and_then(Value::as_str);
            let stock = fields.get("stock").and_then(Value::as_i64);
            if let (Some(label), Some(stock)) = (label, stock)
                && stock < 0
            {
                problems.push(format!(
                    "stock of size {label} is {stock}; stock must be 0 or more"
                ));
                continue;
            }
        }
        match serde_json::from_value::<SizeStock>(entry) {
            Ok(size) => sizes.push(size),
            Err(e) => problems.push(format!("`sizes[{i}]`: {e}")),
        }
    }
    (problems.len() == before).then_some(sizes)
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

// ---- CSV ----

/// Where each column is in the file's header (by [`CSV_COLUMNS`] index).
struct Columns {
    index: [Option<usize>; CSV_COLUMNS.len()],
    width: usize,
}

impl Columns {
    fn from_header(header: &csv::ByteRecord) -> Result<Columns, IngestError> {
        let mut index = [None; CSV_COLUMNS.len()];
        let mut unknown = Vec::new();
        for (position, raw) in header.iter().enumerate() {
            let name = std::str::from_utf8(raw).map_err(|_| IngestError::Unreadable {
                reason: format!(
                    "column {} of the header is not UTF-8; save the file as UTF-8",
                    position + 1
                ),
            })?;
            let lower = name.to_lowercase();
            match CSV_COLUMNS.iter().position(|&c| c == lower) {
                Some(known) => {
                    if index[known].is_some() {
                        return Err(IngestError::DuplicateColumn { column: lower });
                    }
                    index[known] = Some(position);
                }
                None => unknown.push(name.to_owned()),
            }
        }
        let missing: Vec<String> = CSV_COLUMNS
            .iter()
            .zip(index)
            .filter(|(name, at)| at.is_none() && !OPTIONAL_COLUMNS.contains(name))
            .map(|(name, _)| (*name).to_owned())
            .collect();
        if !missing.is_empty() {
            return Err(IngestError::MissingColumns { missing });
        }
        if !unknown.is_empty() {
            return Err(IngestError::UnknownColumns { unknown });
        }
        Ok(Columns {
            index,
            width: header.len(),
        })
    }

    /// The cell of `column` (a [`CSV_COLUMNS`] name) in a decoded row; `""` when the
    /// file has no such (optional) column.
    fn get<'r>(&self, cells: &[&'r str], column: &str) -> &'r str {
        CSV_COLUMNS
            .iter()
            .position(|&c| c == column)
            .and_then(|i| self.index[i])
            .and_then(|i| cells.get(i).copied())
            .unwrap_or("")
    }
}

fn parse_csv(bytes: &[u8], rows: &mut Rows<'_>) -> Result<(), IngestError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header = reader
        .byte_headers()
        .map_err(|e| IngestError::Unreadable {
            reason: e.to_string(),
        })?
        .clone();
    let columns = Columns::from_header(&header)?;
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                return Err(IngestError::Unreadable {
                    reason: e.to_string(),
                });
            }
        }
        // Spreadsheets export trailing rows of empty cells; they are not products.
        if record.iter().all(<[u8]>::is_empty) {
            continue;
        }
        let line = record_line(bytes, record.position());
        let (sku, built) = product_from_csv(&record, &columns);
        rows.add(line, sku, built)?;
    }
    Ok(())
}

/// The 1-based line a record starts on. The reader's position is where it started
/// reading, which is before any blank lines it skipped, so those are stepped over.
fn record_line(bytes: &[u8], position: Option<&csv::Position>) -> usize {
    let Some(position) = position else { return 0 };
    let line = usize::try_from(position.line()).unwrap_or(usize::MAX);
    let start = usize::try_from(position.byte()).map_or(bytes.len(), |b| b.min(bytes.len()));
    let skipped = bytes[start..]
        .iter()
        .take_while(|&&b| b == b'\n' || b == b'\r')
        .filter(|&&b| b == b'\n')
        .count();
    line.saturating_add(skipped)
}

/// Builds a product from one CSV row; also returns the row's SKU for the report.
fn product_from_csv(
    record: &csv::ByteRecord,
    columns: &Columns,
) -> (Option<String>, Result<Product, Vec<String>>) {
    let mut problems = Vec::new();
    if record.len() != columns.width {
        problems.push(format!(
            "the row has {} cells but the header has {}; quote cells that contain commas",
            record.len(),
            columns.width
        ));
    }
    let mut cells = Vec::with_capacity(record.len());
    for (i, raw) in record.iter().enumerate() {
        match std::str::from_utf8(raw) {
            Ok(cell) => cells.push(cell),
            Err(_) => {
                let name = columns
                    .index
                    .iter()
                    .position(|&at| at == Some(i))
                    .map_or("an unknown column", |c| CSV_COLUMNS[c]);
                problems.push(format!(
                    "the {name} cell is not valid UTF-8; save the file as UTF-8"
                ));
                cells.push("");
            }
        }
    }
    let cell = |column: &str| columns.get(&cells, column);
    let sku = Some(cell("sku").to_owned()).filter(|s| !s.is_empty());
    if !problems.is_empty() {
        return (sku, Err(problems));
    }

    let price_cents = parse_price(cell("price"))
        .map_err(|e| problems.push(e))
        .ok();
    let sizes = parse_sizes(cell("sizes")).map_err(|mut e| problems.append(&mut e));
    if !problems.is_empty() {
        return (sku, Err(problems));
    }
    let text = |column: &str| cell(column).to_owned();
    let optional = |column: &str| Some(cell(column).to_owned()).filter(|s| !s.is_empty());
    let colours = match cell("colours") {
        "" => Vec::new(),
        list => list.split('|').map(|c| c.trim().to_owned()).collect(),
    };
    let product = Product {
        sku: text("sku"),
        title: text("title"),
        description: text("description"),
        brand: text("brand"),
        category: text("category"),
        colours,
        pattern: optional("pattern"),
        material: optional("material"),
        fit: optional("fit"),
        price_cents: price_cents.unwrap_or_default(),
        currency: text("currency"),
        sizes: sizes.unwrap_or_default(),
        image_url: text("image_url"),
        store: optional("store"),
    };
    (sku, Ok(product))
}

/// A price in currency units (`49.99`, `49.9`, `49`) as cents, by integer parsing so
/// nothing is rounded.
fn parse_price(text: &str) -> Result<u64, String> {
    let not_a_price = || {
        format!(
            "price {text:?} is not a price; write it in currency units with at most 2 \
             decimals and no currency sign or thousands separator, e.g. 49.99"
        )
    };
    if text.is_empty() {
        return Err("price is empty; write it in currency units, e.g. 49.99".to_owned());
    }
    if let Some(rest) = text.strip_prefix('-') {
        if parse_price(rest).is_ok() {
            return Err(format!(
                "price {text:?} is negative; it must be more than 0"
            ));
        }
        return Err(not_a_price());
    }
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) if !fraction.is_empty() => (whole, fraction),
        Some(_) => return Err(not_a_price()),
        None => (text, ""),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !(fraction.is_empty() || digits(fraction)) {
        return Err(not_a_price());
    }
    if fraction.len() > 2 {
        return Err(format!(
            "price {text:?} has {} decimals; at most 2 (whole cents) are allowed",
            fraction.len()
        ));
    }
    let too_large = || format!("price {text:?} is too large");
    let whole: u64 = whole.parse().map_err(|_| too_large())?;
    let cents: u64 = match fraction.len() {
        0 => 0,
        1 => fraction.parse::<u64>().map_err(|_| not_a_price())? * 10,
        _ => fraction.parse().map_err(|_| not_a_price())?,
    };
    whole
        .checked_mul(100)
        .and_then(|c| c.checked_add(cents))
        .ok_or_else(too_large)
}

/// The `sizes` cell: `SIZE:STOCK` pairs separated by `|`, e.g. `S:3|M:0|L:12`. A label
/// may itself contain `:` (the stock is after the last one). Empty means no sizes,
/// which [`validate`] rejects.
fn parse_sizes(text: &str) -> Result<Vec<SizeStock>, Vec<String>> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let mut sizes = Vec::new();
    let mut problems = Vec::new();
    for (i, entry) in text.split('|').map(str::trim).enumerate() {
        if entry.is_empty() {
            problems.push(format!(
                "sizes entry {} is empty; separate SIZE:STOCK pairs with a single '|'",
                i + 1
            ));
            continue;
        }
        let Some((label, stock)) = entry.rsplit_once(':') else {
            problems.push(format!(
                "sizes entry {entry:?} has no stock; write sizes as SIZE:STOCK pairs \
                 separated by '|', e.g. S:3|M:0"
            ));
            continue;
        };
        let (label, stock) = (label.trim(), stock.trim());
        match stock.parse::<u32>() {
            Ok(stock) => sizes.push(SizeStock {
                size: label.to_owned(),
                stock,
            }),
            Err(_) => {
                let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
                problems.push(if stock.strip_prefix('-').is_some_and(digits) {
                    format!("stock of size {label} is {stock}; stock must be 0 or more")
                } else if digits(stock) {
                    format!(
                        "stock of size {label} is {stock}; at most {} is allowed",
                        u32::MAX
                    )
                } else {
                    format!("stock of size {label} is {stock:?}; stock must be a whole number")
                });
            }
        }
    }
    if problems.is_empty() {
        Ok(sizes)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/ingest")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }

    fn fixture() -> Vec<u8> {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/catalog/products.json");
        std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    }

    fn parse_ok(bytes: &[u8], format: Format) -> Parsed {
        parse(bytes, format, &Limits::default()).expect("file-level error")
    }

    fn error_on(parsed: &Parsed, line: usize) -> &RowError {
        parsed
            .errors
            .iter()
            .find(|e| e.line == line)
            .unwrap_or_else(|| panic!("no error on line {line}: {:#?}", parsed.errors))
    }

    fn product() -> Product {
        Product {
            sku: "SHT-1001-BUR".into(),
            title: "Checked flannel shirt".into(),
            description: "A brushed flannel shirt.".into(),
            brand: "Northfold".into(),
            category: "shirt".into(),
            colours: vec!["burgundy".into(), "grey".into()],
            pattern: Some("checked".into()),
            material: None,
            fit: None,
            price_cents: 3995,
            currency: "EUR".into(),
            sizes: vec![
                SizeStock {
                    size: "S".into(),
                    stock: 4,
                },
                SizeStock {
                    size: "M".into(),
                    stock: 0,
                },
            ],
            image_url: "/v1/products/SHT-1001-BUR/image.png".into(),
            store: None,
        }
    }

    const HEADER: &str = "sku,title,description,brand,category,colours,pattern,material,fit,price,currency,sizes,image_url,store\n";

    fn csv_row(price: &str, sizes: &str) -> Vec<u8> {
        format!("{HEADER}SHT-1,Shirt,A shirt.,Brisa,shirt,white,,,,{price},EUR,{sizes},/img.png,\n")
            .into_bytes()
    }

    #[test]
    fn the_fixture_catalogue_parses_without_errors() {
        let parsed = parse_ok(&fixture(), Format::Json);
        assert_eq!(parsed.errors, vec![]);
        assert_eq!(parsed.products.len(), 350);
        assert_eq!(parsed.rows, 350);
        let expected: Vec<Product> = serde_json::from_slice(&fixture()).expect("fixture");
        assert_eq!(parsed.products, expected);
    }

    #[test]
    fn the_fixture_catalogue_round_trips_through_csv() {
        let products = parse_ok(&fixture(), Format::Json).products;
        let csv = to_csv(&products).expect("to_csv");
        let back = parse_ok(&csv, Format::Csv);
        assert_eq!(back.errors, vec![]);
        assert_eq!(back.products, products);
        // And the CSV of the CSV is the same bytes.
        assert_eq!(to_csv(&back.products).expect("to_csv"), csv);
    }

    #[test]
    fn a_good_csv_gives_every_product() {
        let parsed = parse_ok(&data("good.csv"), Format::Csv);
        assert_eq!(parsed.errors, vec![]);
        assert_eq!(parsed.rows, 5);
        let skus: Vec<&str> = parsed.products.iter().map(|p| p.sku.as_str()).collect();
        assert_eq!(
            skus,
            [
                "SHT-2001-PNK",
                "SWT-2002-NVY",
                "TRS-2003-BEI",
                "SCF-2004-MUL",
                "SHO-2005-BRN"
            ]
        );
        let chinos = &parsed.products[2];
        assert_eq!(chinos.price_cents, 5450);
        assert_eq!(chinos.pattern, None);
        assert_eq!(chinos.material.as_deref(), Some("cotton twill"));
        assert_eq!(chinos.store.as_deref(), Some("central"));
        let scarf = &parsed.products[3];
        assert_eq!(scarf.price_cents, 2500);
        assert_eq!(scarf.colours, ["red", "navy", "cream"]);
        assert_eq!(
            scarf.sizes,
            [SizeStock {
                size: "one size".into(),
                stock: 12
            }]
        );
        assert_eq!((scarf.fit.as_deref(), scarf.store.as_deref()), (None, None));
        let shoes = &parsed.products[4];
        assert_eq!(shoes.price_cents, 11999);
        assert_eq!(
            shoes.description,
            r#"Classic derbies with a "city" sole, made in Portugal."#
        );
        assert_eq!(shoes.sizes[1].size, "42");
        assert_eq!(shoes.sizes[1].stock, 0);
        assert!(parsed.products[0].description.contains(", soft"));
    }

    #[test]
    fn a_mixed_csv_reports_each_bad_row_on_its_line() {
        let parsed = parse_ok(&data("mixed.csv"), Format::Csv);
        let skus: Vec<&str> = parsed.products.iter().map(|p| p.sku.as_str()).collect();
        assert_eq!(skus, ["DRS-3001-GRN", "CRD-3004-OAT", "JNS-3008-IND"]);
        let lines: Vec<usize> = parsed.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [5, 6, 8, 9, 10, 12, 14, 15], "{:#?}", parsed.errors);
        assert_eq!(parsed.rows, 11);

        // The dress's description spans lines 2-4, so the jacket is on line 5.
        let jacket = error_on(&parsed, 5);
        assert_eq!(jacket.sku.as_deref(), Some("JKT-3002-BLK"));
        assert!(
            jacket.reason.contains("price \"49.999\""),
            "{}",
            jacket.reason
        );
        assert!(jacket.reason.contains("2"), "{}", jacket.reason);

        let tee = error_on(&parsed, 6);
        assert_eq!(tee.reason, "stock of size M is -1; stock must be 0 or more");

        let blouse = error_on(&parsed, 8);
        assert_eq!(blouse.sku.as_deref(), Some("BLS 3005"));
        assert!(
            blouse.reason.contains("sku \"BLS 3005\" contains ' '"),
            "{}",
            blouse.reason
        );
        assert!(
            blouse
                .reason
                .contains("category \"Blouse\" must be lower-case"),
            "{}",
            blouse.reason
        );

        let duplicate = error_on(&parsed, 9);
        assert_eq!(duplicate.sku.as_deref(), Some("DRS-3001-GRN"));
        assert_eq!(duplicate.reason, "duplicate SKU, first seen on line 2");

        let bag = error_on(&parsed, 10);
        assert!(bag.reason.contains("colours is empty"), "{}", bag.reason);
        assert!(bag.reason.contains("currency \"eur\""), "{}", bag.reason);

        // Line 11 is blank and skipped; the short row is on line 12.
        let skirt = error_on(&parsed, 12);
        assert!(
            skirt.reason.contains("6 cells but the header has 14"),
            "{}",
            skirt.reason
        );

        let coat = error_on(&parsed, 14);
        assert!(coat.reason.contains("price is 0"), "{}", coat.reason);
        assert!(
            coat.reason
                .contains("size \"S\" is listed more than once in sizes"),
            "{}",
            coat.reason
        );

        let shirt = error_on(&parsed, 15);
        assert!(
            shirt.reason.contains("price \"forty\" is not a price"),
            "{}",
            shirt.reason
        );
    }

    #[test]
    fn a_bad_json_element_is_a_row_error_on_its_line() {
        let parsed = parse_ok(&data("bad_element.json"), Format::Json);
        let skus: Vec<&str> = parsed.products.iter().map(|p| p.sku.as_str()).collect();
        assert_eq!(skus, ["KNT-4001-RED", "KNT-4005-BLK"]);
        assert_eq!(parsed.rows, 6);
        let lines: Vec<usize> = parsed.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [23, 43, 66, 116], "{:#?}", parsed.errors);

        let price = error_on(&parsed, 23);
        assert_eq!(price.sku.as_deref(), Some("KNT-4002-GRY"));
        assert_eq!(
            price.reason,
            "`price_cents`: invalid type: string \"24.95\", expected u64"
        );

        let typo = error_on(&parsed, 43);
        assert!(
            typo.reason.contains("unknown field `colour`"),
            "{}",
            typo.reason
        );
        assert!(
            typo.reason.contains("missing field `colours`"),
            "{}",
            typo.reason
        );

        let no_sku = error_on(&parsed, 66);
        assert_eq!(no_sku.sku, None);
        assert_eq!(no_sku.reason, "missing field `sku`");

        let stock = error_on(&parsed, 116);
        assert_eq!(
            stock.reason,
            "stock of size M is -2; stock must be 0 or more"
        );
    }

    #[test]
    fn json_elements_on_one_line_share_it() {
        let mut good = serde_json::to_value(product()).expect("json");
        let mut bad = good.clone();
        bad["sku"] = "X Y".into();
        good["sku"] = "A-1".into();
        let text = format!("[{good},\n {bad}, {good}]");
        let parsed = parse_ok(text.as_bytes(), Format::Json);
        assert_eq!(parsed.products.len(), 1);
        let lines: Vec<usize> = parsed.errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 2]);
        assert!(parsed.errors[0].reason.contains("sku \"X Y\""));
        assert_eq!(
            parsed.errors[1].reason,
            "duplicate SKU, first seen on line 1"
        );
    }

    #[test]
    fn json_rows_that_are_not_objects_and_empty_optionals() {
        let mut with_empty = serde_json::to_value(product()).expect("json");
        with_empty["fit"] = "".into();
        with_empty["store"] = Value::Null;
        let text = format!("[\n  42,\n  {with_empty}\n]");
        let parsed = parse_ok(text.as_bytes(), Format::Json);
        assert_eq!(parsed.errors.len(), 1);
        assert_eq!(parsed.errors[0].line, 2);
        assert!(
            parsed.errors[0]
                .reason
                .contains("a number, not a product object")
        );
        assert_eq!(parsed.products, [product()]);

        let empty = parse_ok(b" [ ] ", Format::Json);
        assert_eq!(empty, Parsed::default());
    }

    #[test]
    fn malformed_json_is_a_file_error_with_its_position() {
        let limits = Limits::default();
        match parse(b"[\n  {\"sku\": }\n]", Format::Json, &limits) {
            Err(IngestError::Unreadable { reason }) => {
                assert!(reason.contains("line 2 column"), "{reason}");
            }
            other => panic!("expected Unreadable, got {other:?}"),
        }
        assert_eq!(
            parse(br#"{"products": []}"#, Format::Json, &limits),
            Err(IngestError::NotAList)
        );
        assert!(matches!(
            parse(b"  \n", Format::Json, &limits),
            Err(IngestError::Unreadable { .. })
        ));
        assert!(matches!(
            parse(b"", Format::Csv, &limits),
            Err(IngestError::Unreadable { .. })
        ));
    }

    #[test]
    fn too_many_rows_is_a_file_error() {
        let limits = Limits {
            max_rows: 4,
            ..Limits::default()
        };
        assert_eq!(
            parse(&data("good.csv"), Format::Csv, &limits),
            Err(IngestError::TooManyRows { max: 4 })
        );
        let json = to_json(&parse_ok(&data("good.csv"), Format::Csv).products);
        assert_eq!(
            parse(&json, Format::Json, &limits),
            Err(IngestError::TooManyRows { max: 4 })
        );
        let limits = Limits {
            max_rows: 5,
            ..Limits::default()
        };
        assert_eq!(parse(&json, Format::Json, &limits).map(|p| p.rows), Ok(5));
    }

    fn to_json(products: &[Product]) -> Vec<u8> {
        serde_json::to_vec_pretty(products).expect("json")
    }

    #[test]
    fn csv_header_problems_are_file_errors() {
        let limits = Limits::default();
        assert_eq!(
            parse(
                b"sku,title,description,brand,category,colours,currency,image_url\nA,,,,,,,\n",
                Format::Csv,
                &limits
            ),
            Err(IngestError::MissingColumns {
                missing: vec!["price".into(), "sizes".into()]
            })
        );
        let typo = HEADER.replace("pattern", "patern");
        assert_eq!(
            parse(typo.as_bytes(), Format::Csv, &limits),
            Err(IngestError::UnknownColumns {
                unknown: vec!["patern".into()]
            })
        );
        let twice = HEADER.replace("pattern", "sku");
        assert_eq!(
            parse(twice.as_bytes(), Format::Csv, &limits),
            Err(IngestError::DuplicateColumn {
                column: "sku".into()
            })
        );
        let message = IngestError::MissingColumns {
            missing: vec!["price".into()],
        }
        .to_string();
        assert!(message.contains("required column(s): price;"), "{message}");
    }

    #[test]
    fn csv_columns_may_be_reordered_capitalised_or_optional_ones_left_out() {
        let text = "\u{feff}Price , SKU,title,description,brand,category,colours,currency,sizes,image_url\r\n\
                    \"1,299.00\",A-1,T,D,B,c,red,EUR,M:1,/i.png\r\n\
                    1299.00,A-2,T,D,B,c,red | blue,EUR,EU:42:3,/i.png\r\n";
        let parsed = parse_ok(text.as_bytes(), Format::Csv);
        assert_eq!(parsed.errors.len(), 1);
        assert_eq!(parsed.errors[0].line, 2);
        assert!(parsed.errors[0].reason.contains("thousands separator"));
        let p = &parsed.products[0];
        assert_eq!(p.price_cents, 129_900);
        assert_eq!(p.colours, ["red", "blue"]);
        assert_eq!(p.sizes[0].size, "EU:42");
        assert_eq!(p.sizes[0].stock, 3);
        assert_eq!(p.pattern, None);
    }

    #[test]
    fn csv_prices_are_exact_cents() {
        let price = |text: &str| parse_price(text);
        assert_eq!(price("49.99"), Ok(4999));
        assert_eq!(price("49.9"), Ok(4990));
        assert_eq!(price("49"), Ok(4900));
        assert_eq!(price("0.01"), Ok(1));
        assert_eq!(price("0.29"), Ok(29));
        assert_eq!(price("1234567.89"), Ok(123_456_789));
        assert!(price("49.999").is_err_and(|e| e.contains("3 decimals")));
        assert!(price("-5.00").is_err_and(|e| e.contains("negative")));
        for bad in [
            "", "abc", "49.", ".99", "4 9", "1e3", "€49", "+49", "49.9x", "--1",
        ] {
            assert!(price(bad).is_err(), "{bad:?} accepted");
        }
        assert!(price("184467440737095516.16").is_err_and(|e| e.contains("too large")));
        assert!(price("99999999999999999999999").is_err_and(|e| e.contains("too large")));

        let parsed = parse_ok(&csv_row("49.99", "M:1"), Format::Csv);
        assert_eq!(parsed.products[0].price_cents, 4999);
        let parsed = parse_ok(&csv_row("49.999", "M:1"), Format::Csv);
        assert_eq!(parsed.products, []);
        assert_eq!(parsed.errors[0].line, 2);
        assert!(parsed.errors[0].reason.contains("price"));
    }

    #[test]
    fn csv_sizes_give_clear_reasons() {
        let reason = |sizes: &str| {
            let parsed = parse_ok(&csv_row("10", sizes), Format::Csv);
            parsed.errors.first().map(|e| e.reason.clone())
        };
        assert_eq!(reason("S:3|M:0|L:12"), None);
        assert_eq!(
            reason("S:3|M:-1").as_deref(),
            Some("stock of size M is -1; stock must be 0 or more")
        );
        assert!(reason("S:3|M").is_some_and(|r| r.contains("\"M\" has no stock")));
        assert!(reason("S:3||M:1").is_some_and(|r| r.contains("sizes entry 2 is empty")));
        assert!(reason("S:x").is_some_and(|r| r.contains("whole number")));
        assert!(reason("S:99999999999").is_some_and(|r| r.contains("at most 4294967295")));
        assert!(reason("").is_some_and(|r| r.contains("sizes is empty")));
        assert!(reason(":3").is_some_and(|r| r.contains("empty size label")));
    }

    #[test]
    fn validate_names_the_field_to_fix() {
        let limits = Limits::default();
        assert_eq!(validate(&product(), &limits), Ok(()));
        let fails = |change: &dyn Fn(&mut Product), expected: &str| {
            let mut p = product();
            change(&mut p);
            let reason = validate(&p, &limits).expect_err(expected);
            assert!(reason.contains(expected), "{reason:?} lacks {expected:?}");
        };
        fails(&|p| p.sku.clear(), "sku is empty");
        fails(&|p| p.sku = "A".repeat(65), "sku is 65 characters long");
        fails(&|p| p.sku = "SHT/1".into(), "sku \"SHT/1\" contains '/'");
        fails(&|p| p.sku = "SHÉ-1".into(), "contains 'É'");
        fails(&|p| p.title = "  ".into(), "title is empty");
        fails(&|p| p.brand.clear(), "brand is empty");
        fails(&|p| p.category.clear(), "category is empty");
        fails(
            &|p| p.category = "T-Shirt".into(),
            "category \"T-Shirt\" must be lower-case, e.g. \"t-shirt\"",
        );
        fails(&|p| p.currency.clear(), "currency is empty");
        fails(
            &|p| p.currency = "EURO".into(),
            "currency \"EURO\" must be a 3-letter",
        );
        fails(&|p| p.currency = "eur".into(), "currency \"eur\"");
        fails(&|p| p.price_cents = 0, "price is 0");
        fails(
            &|p| p.description = "x".repeat(2001),
            "description is 2001 characters long; at most 2000",
        );
        fails(
            &|p| p.fit = Some("y".repeat(2001)),
            "fit is 2001 characters",
        );
        fails(&|p| p.pattern = Some(String::new()), "pattern is empty");
        fails(&|p| p.colours.clear(), "colours is empty");
        fails(
            &|p| p.colours = vec!["red".into(); 9],
            "colours lists 9 colours; at most 8",
        );
        fails(&|p| p.colours.push(" ".into()), "colours entry 3 is empty");
        fails(
            &|p| p.colours.push("red|blue".into()),
            "colour \"red|blue\" contains '|'",
        );
        fails(&|p| p.sizes.clear(), "sizes is empty");
        fails(
            &|p| {
                p.sizes = vec![
                    SizeStock {
                        size: "M".into(),
                        stock: 1
                    };
                    33
                ]
            },
            "sizes lists 33 sizes; at most 32",
        );
        fails(
            &|p| p.sizes[1].size = "S".into(),
            "size \"S\" is listed more than once",
        );
        fails(
            &|p| p.sizes[0].size.clear(),
            "sizes entry 1 has an empty size label",
        );

        // Several problems are reported together.
        let mut p = product();
        p.sku.clear();
        p.price_cents = 0;
        let reason = validate(&p, &limits).expect_err("two problems");
        assert_eq!(reason, "sku is empty; price is 0; it must be more than 0");
    }

    #[test]
    fn to_csv_refuses_values_it_cannot_write_back() {
        let mut p = product();
        p.colours = vec!["red|blue".into()];
        assert!(matches!(to_csv(&[p]), Err(IngestError::Unwritable { .. })));
        let csv = to_csv(&[product()]).expect("to_csv");
        let text = String::from_utf8(csv).expect("utf-8");
        assert_eq!(
            text.lines().nth(1),
            Some(
                "SHT-1001-BUR,Checked flannel shirt,A brushed flannel shirt.,Northfold,shirt,\
                 burgundy|grey,checked,,,39.95,EUR,S:4|M:0,/v1/products/SHT-1001-BUR/image.png,"
            )
        );
    }

    #[test]
    fn formats_come_from_paths_and_content_types() {
        assert_eq!(Format::from_path(Path::new("a/b.json")), Some(Format::Json));
        assert_eq!(Format::from_path(Path::new("B.CSV")), Some(Format::Csv));
        assert_eq!(Format::from_path(Path::new("b.jsonl")), None);
        assert_eq!(Format::from_path(Path::new("csv")), None);
        assert_eq!(
            Format::from_content_type("application/json"),
            Some(Format::Json)
        );
        assert_eq!(
            Format::from_content_type("Text/CSV; charset=utf-8"),
            Some(Format::Csv)
        );
        assert_eq!(Format::from_content_type("text/plain"), None);
        assert_eq!(
            Format::from_content_type(Format::Csv.content_type()),
            Some(Format::Csv)
        );
    }

    #[test]
    fn row_errors_serialise_for_the_api() {
        let error = RowError {
            line: 5,
            sku: Some("A-1".into()),
            reason: "price is 0; it must be more than 0".into(),
        };
        assert_eq!(
            serde_json::to_value(&error).expect("json"),
            serde_json::json!({"line": 5, "sku": "A-1", "reason": "price is 0; it must be more than 0"})
        );
    }
}
