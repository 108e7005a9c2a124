//! Garment images from a description (`POST /v1/images/generations`, OpenAI-compatible).
//!
//! - [`parse_prompt`] reads the garment a prompt names with the shared vocabulary
//!   (`protocol::vocabulary::garment_terms`: category and colours, synonyms included)
//!   plus pattern and material words, into a `garment_art::GarmentSpec`.
//! - The local back end draws it with the catalogue's own templates
//!   (`garment_art::render_garment`), deterministic for a seed: the request's `seed`
//!   (an extension) or one derived from the prompt, plus the image's index for `n` > 1.
//! - The remote back end forwards the request to any OpenAI-compatible image server;
//!   when it fails, the local renderer answers instead.
//! - [`ImageStore`] keeps generated images for `response_format = url`, bounded in
//!   count, bytes and time.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use garment_art::GarmentSpec;
use protocol::tryon::{ImageGenerationRequest, ImageGenerationResponse, ImageResponseFormat};
use protocol::vocabulary::garment_terms;
use service_kit::client::{CallError, ServiceClient};

use crate::error::TryonError;
use image_input::ImageLimits;

/// Size of a generated image when the request names none: enough for a product card,
/// cheap on a small CPU.
pub const DEFAULT_SIZE: (u32, u32) = (512, 512);

/// Smallest side of a generated image.
const MIN_SIDE: u32 = 64;

/// What a prompt asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The garment, seed not yet set.
    pub spec: GarmentSpec,
    /// The garment in canonical words ("pink striped linen shirt"), returned as
    /// OpenAI's `revised_prompt` so the caller sees how it was read.
    pub description: String,
}

/// Pattern words and the pattern they name.
const PATTERNS: &[(&str, &str)] = &[
    ("striped", "striped"),
    ("stripe", "striped"),
    ("stripes", "striped"),
    ("stripy", "striped"),
    ("pinstripe", "striped"),
    ("pinstriped", "striped"),
    ("breton", "striped"),
    ("checked", "checked"),
    ("check", "checked"),
    ("checks", "checked"),
    ("checkered", "checked"),
    ("chequered", "checked"),
    ("plaid", "checked"),
    ("tartan", "checked"),
    ("gingham", "checked"),
    ("printed", "printed"),
    ("print", "printed"),
    ("floral", "printed"),
    ("flowers", "printed"),
    ("flowered", "printed"),
    ("flowery", "printed"),
    ("polka", "polka"),
    ("dots", "polka"),
    ("dotted", "polka"),
    ("spotted", "polka"),
    ("plain", "solid"),
    ("solid", "solid"),
];

/// Material words, as they are named back.
const MATERIALS: &[&str] = &[
    "linen",
    "cotton",
    "wool",
    "woollen",
    "cashmere",
    "merino",
    "mohair",
    "alpaca",
    "knit",
    "knitted",
    "silk",
    "satin",
    "denim",
    "chambray",
    "twill",
    "leather",
    "suede",
    "polyester",
    "viscose",
    "corduroy",
    "flannel",
    "jersey",
];

/// Reads the garment a prompt describes; refuses prompts that name none.
pub fn parse_prompt(prompt: &str) -> Result<Parsed, TryonError> {
    let terms = garment_terms(prompt);
    let category = terms.category.ok_or(TryonError::NoGarmentNamed)?;
    let lower = prompt.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let pattern = words
        .iter()
        .find_map(|w| PATTERNS.iter().find(|(word, _)| word == w).map(|(_, p)| *p));
    let material = words
        .iter()
        .find_map(|w| MATERIALS.iter().find(|m| *m == w).copied());
    let mut description: Vec<String> = Vec::new();
    if !terms.colours.is_empty() {
        description.push(terms.colours.join(" and "));
    }
    match pattern {
        Some("polka") => description.push("polka-dot".into()),
        Some("solid") | None => {}
        Some(other) => description.push(other.into()),
    }
    if let Some(material) = material {
        description.push(material.into());
    }
    description.push(category.clone());
    Ok(Parsed {
        spec: GarmentSpec {
            category,
            colours: terms.colours,
            pattern: pattern.map(str::to_owned),
            material: material.map(str::to_owned),
            details: lower,
            seed: 0,
        },
        description: description.join(" "),
    })
}

/// `WIDTHxHEIGHT` within `MIN_SIDE..=max_side`; [`DEFAULT_SIZE`] when absent.
pub fn parse_size(size: Option<&str>, max_side: u32) -> Result<(u32, u32), TryonError> {
    let Some(text) = size else {
        return Ok((DEFAULT_SIZE.0.min(max_side), DEFAULT_SIZE.1.min(max_side)));
    };
    let invalid = || TryonError::InvalidSize {
        size: text.chars().take(40).collect(),
        max_side,
    };
    let (w, h) = text.trim().split_once(['x', 'X']).ok_or_else(invalid)?;
    let w: u32 = w.trim().parse().map_err(|_| invalid())?;
    let h: u32 = h.trim().parse().map_err(|_| invalid())?;
    let ok = |side: u32| (MIN_SIDE..=max_side).contains(&side);
    if ok(w) && ok(h) {
        Ok((w, h))
    } else {
        Err(invalid())
    }
}

/// The seed of the first image: the request's, or one derived from the prompt (FNV-1a
/// of its lower-cased words), so the same prompt gives the same images.
pub fn base_seed(request: &ImageGenerationRequest) -> u64 {
    request.seed.unwrap_or_else(|| {
        let normal: Vec<String> = request
            .prompt
            .to_lowercase()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        normal
            .join(" ")
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
                (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
            })
    })
}

/// `n` garment images drawn locally, PNG-encoded (CPU work: run on a worker).
pub fn render_local(parsed: &Parsed, seed: u64, n: u32, size: (u32, u32)) -> Vec<Vec<u8>> {
    (0..u64::from(n))
        .map(|i| {
            let spec = GarmentSpec {
                seed: seed.wrapping_add(i),
                ..parsed.spec.clone()
            };
            garment_art::render_garment(&spec, size.0, size.1)
        })
        .collect()
}

/// A remote OpenAI-compatible image server.
#[derive(Debug, Clone)]
pub struct RemoteImages {
    client: ServiceClient,
    model: String,
    limits: ImageLimits,
}

impl RemoteImages {
    /// The server at `base` (without `/v1`), asked for `model`, with the bearer `key`.
    pub fn new(
        base: &str,
        model: &str,
        key: Option<String>,
        timeout: Duration,
        max_side: u32,
    ) -> Self {
        let side = max_side.max(4096);
        RemoteImages {
            client: ServiceClient::new(base, key, timeout),
            model: model.to_owned(),
            limits: ImageLimits {
                max_pixels: u64::from(side) * u64::from(side),
                max_side: side,
            },
        }
    }

    /// Asks the server for the images as base64 PNGs; any failure (unreachable,
    /// refused, fewer images than asked, not PNGs, too large) is an error so the caller
    /// can fall back.
    pub async fn generate(
        &self,
        request: &ImageGenerationRequest,
        size: (u32, u32),
    ) -> Result<Vec<Vec<u8>>, String> {
        let forwarded = ImageGenerationRequest {
            prompt: request.prompt.clone(),
            model: Some(self.model.clone()),
            n: request.n,
            size: Some(format!("{}x{}", size.0, size.1)),
            response_format: ImageResponseFormat::B64Json,
            seed: request.seed,
        };
        let response: ImageGenerationResponse = self
            .client
            .post_json("/v1/images/generations", &forwarded)
            .await
            .map_err(|e| match e {
                // The server's own message may quote the prompt; it is not passed on.
                CallError::Refused { status, .. } => format!("the server refused ({status})"),
                CallError::NotFound => "the server has no /v1/images/generations".to_owned(),
                CallError::Unavailable(reason) => reason,
            })?;
        if response.data.len() < request.n as usize {
            return Err(format!(
                "asked for {} images, got {}",
                request.n,
                response.data.len()
            ));
        }
        response
            .data
            .into_iter()
            .take(request.n as usize)
            .map(|image| {
                let b64 = image.b64_json.ok_or("an image came without b64_json")?;
                let bytes = STANDARD
                    .decode(b64.as_bytes())
                    .map_err(|e| format!("bad base64: {e}"))?;
                if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
                    return Err("an image is not a PNG".to_owned());
                }
                Ok(image_input::check("remote image", bytes, self.limits)
                    .map_err(|e| e.to_string())?
                    .into_bytes())
            })
            .collect()
    }
}

/// Generated images kept for `response_format = url`: at most `capacity` images and
/// [`STORE_BYTES`] bytes, each for `ttl`; the oldest go first.
#[derive(Debug)]
pub struct ImageStore {
    images: Mutex<VecDeque<Stored>>,
    capacity: usize,
    ttl: Duration,
}

#[derive(Debug)]
struct Stored {
    id: String,
    at: Instant,
    png: Arc<Vec<u8>>,
}

/// Most bytes of PNG the store keeps at once.
pub const STORE_BYTES: usize = 64 * 1024 * 1024;

impl ImageStore {
    /// An empty store.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        ImageStore {
            images: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            ttl,
        }
    }

    /// Keeps `png` and returns its id (random, unguessable).
    pub fn put(&self, png: Vec<u8>) -> String {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut images = self.images.lock().unwrap_or_else(|p| p.into_inner());
        images.push_back(Stored {
            id: id.clone(),
            at: Instant::now(),
            png: Arc::new(png),
        });
        let now = Instant::now();
        let mut bytes: usize = images.iter().map(|s| s.png.len()).sum();
        while images.len() > self.capacity
            || bytes > STORE_BYTES && images.len() > 1
            || images
                .front()
                .is_some_and(|s| now.duration_since(s.at) > self.ttl)
        {
            if let Some(dropped) = images.pop_front() {
                bytes -= dropped.png.len();
            }
        }
        id
    }

    /// The image with this id, if it is still kept.
    pub fn get(&self, id: &str) -> Option<Arc<Vec<u8>>> {
        let images = self.images.lock().unwrap_or_else(|p| p.into_inner());
        images
            .iter()
            .find(|s| s.id == id && s.at.elapsed() <= self.ttl)
            .map(|s| s.png.clone())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn a_prompt_is_read_into_a_garment() {
        let parsed = parse_prompt("A pink striped linen shirt, product photo").unwrap();
        assert_eq!(parsed.spec.category, "shirt");
        assert_eq!(parsed.spec.colours, vec!["pink"]);
        assert_eq!(parsed.spec.pattern.as_deref(), Some("striped"));
        assert_eq!(parsed.spec.material.as_deref(), Some("linen"));
        assert_eq!(parsed.description, "pink striped linen shirt");

        let parsed = parse_prompt("navy and white polka dot tee").unwrap();
        assert_eq!(parsed.spec.category, "t-shirt");
        assert_eq!(parsed.spec.colours, vec!["navy", "white"]);
        assert_eq!(parsed.description, "navy and white polka-dot t-shirt");

        assert!(matches!(
            parse_prompt("something nice for the summer").unwrap_err(),
            TryonError::NoGarmentNamed
        ));
    }

    #[test]
    fn sizes_are_bounded() {
        assert_eq!(parse_size(None, 1024).unwrap(), (512, 512));
        assert_eq!(parse_size(Some("256x320"), 1024).unwrap(), (256, 320));
        for bad in ["1024", "0x10", "5000x5000", "axb", "32x32"] {
            assert!(parse_size(Some(bad), 1024).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_same_prompt_gives_the_same_seed() {
        let request = |prompt: &str, seed| ImageGenerationRequest {
            prompt: prompt.into(),
            model: None,
            n: 1,
            size: None,
            response_format: ImageResponseFormat::B64Json,
            seed,
        };
        assert_eq!(
            base_seed(&request("Pink  shirt", None)),
            base_seed(&request("pink shirt", None))
        );
        assert_ne!(
            base_seed(&request("pink shirt", None)),
            base_seed(&request("blue shirt", None))
        );
        assert_eq!(base_seed(&request("pink shirt", Some(7))), 7);
    }

    #[test]
    fn the_store_forgets_the_oldest_beyond_its_capacity() {
        let store = ImageStore::new(2, Duration::from_secs(60));
        let first = store.put(vec![1]);
        let second = store.put(vec![2]);
        let third = store.put(vec![3]);
        assert!(store.get(&first).is_none());
        assert_eq!(*store.get(&second).unwrap(), vec![2]);
        assert_eq!(*store.get(&third).unwrap(), vec![3]);
        assert!(store.get("nope").is_none());
    }
}
