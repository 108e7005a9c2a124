//! Layered configuration shared by every service: built-in defaults, then an optional
//! TOML file, then `SHOP_*` environment variables (`__` separates sections, e.g.
//! `SHOP_VOICE__PORT=9001`). One file describes the whole deployment; each service
//! reads its own section and the addresses of the others.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use protocol::Service;
use serde::{Deserialize, Deserializer, Serialize};

/// Environment variable naming the TOML config file when no explicit path is given.
pub const CONFIG_PATH_ENV: &str = "SHOP_CONFIG";
/// Prefix of every environment variable read as configuration.
pub const ENV_PREFIX: &str = "SHOP_";

/// Why configuration could not be loaded; the message names the offending field so
/// the operator knows what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An explicitly requested config file does not exist (a typo must not silently
    /// fall back to defaults).
    #[error("config file {}: not found", .0.display())]
    MissingFile(PathBuf),
    /// A value is wrong or a key is unknown.
    #[error("{field}: {message}{}", .origin.as_ref().map(|o| format!(" (from {o})")).unwrap_or_default())]
    Invalid {
        /// Dotted path of the field, e.g. `voice.port`.
        field: String,
        /// What is wrong with it.
        message: String,
        /// Where the value came from (file or environment variable), when known.
        origin: Option<String>,
    },
}

impl ConfigError {
    fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            field: field.into(),
            message: message.into(),
            origin: None,
        }
    }

    /// Turns figment's error into one naming the dotted field path.
    fn from_figment(err: figment::Error) -> Self {
        let path = err.path.clone();
        let message = match &err.kind {
            // The path already ends with the unknown key itself.
            figment::error::Kind::UnknownField(..) => "unknown key".to_string(),
            kind => kind.to_string(),
        };
        let origin = err.metadata.as_ref().and_then(|md| match &md.source {
            Some(figment::Source::File(file)) => Some(file.display().to_string()),
            // Built-in defaults: nothing useful to point at.
            Some(figment::Source::Code(_)) => None,
            // Environment: name the variable as the operator typed it.
            _ if md.name.contains("environment") => Some(format!(
                "{ENV_PREFIX}{}",
                err.path.join("__").to_ascii_uppercase()
            )),
            _ => Some(md.name.to_string()),
        });
        let field = if path.is_empty() {
            "config".to_string()
        } else {
            path.join(".")
        };
        ConfigError::Invalid {
            field,
            message,
            origin,
        }
    }
}

/// The whole deployment's configuration: one section per service plus shared paths
/// and telemetry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Folder holding model files (verified by sha256 before loading); shared by all
    /// services so one model mirror fills one volume.
    pub models_dir: PathBuf,
    /// Folder for local state (embedded vector store, queues) in one-machine mode.
    pub data_dir: PathBuf,
    /// Logging, metrics and tracing export.
    pub telemetry: TelemetryConfig,
    /// The kiosk service (the public face).
    pub kiosk: KioskConfig,
    /// The voice service.
    pub voice: VoiceConfig,
    /// The vision service.
    pub vision: VisionConfig,
    /// The dialogue service.
    pub dialogue: DialogueConfig,
    /// The catalog service.
    pub catalog: CatalogConfig,
    /// The try-on service.
    pub tryon: TryonConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            models_dir: PathBuf::from("models"),
            data_dir: PathBuf::from(".data"),
            telemetry: TelemetryConfig::default(),
            kiosk: KioskConfig::default(),
            voice: VoiceConfig::default(),
            vision: VisionConfig::default(),
            dialogue: DialogueConfig::default(),
            catalog: CatalogConfig::default(),
            tryon: TryonConfig::default(),
        }
    }
}

/// How logs are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, for log collectors on k3s.
    #[default]
    Json,
    /// Human-readable, for a developer's terminal.
    Pretty,
}

/// Logging, metrics and trace export settings, the same for every service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// Log line format.
    pub format: LogFormat,
    /// `tracing` env-filter directive, e.g. `info` or `info,voice=debug`.
    pub level: String,
    /// OTLP collector endpoint (e.g. `http://localhost:4317`) to export traces to;
    /// none by default because stores may run without a collector.
    pub otlp_endpoint: Option<String>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Json,
            // The native runtimes narrate every graph optimisation and tensor at info
            // (over a thousand lines per start); their warnings still come through.
            level: "info,ort=warn,whisper_rs=warn".to_string(),
            otlp_endpoint: None,
        }
    }
}

// The six sections are written out, not generated, so that each service's issue
// can add its own fields to its own struct.

/// Settings of the `kiosk` service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KioskConfig {
    /// Address to listen on; `0.0.0.0` to accept connections from other machines.
    pub host: String,
    /// Port to listen on.
    #[serde(deserialize_with = "port")]
    pub port: u16,
    /// Base URL other services use to reach this one, when it differs from
    /// `http://host:port` (e.g. a k3s Service name).
    pub url: Option<String>,
    /// Name of this kiosk (or robot) in fetch requests, consent records and logs.
    pub kiosk_id: String,
    /// Secret the kiosk page presents in `hello`; the device is provisioned with a URL
    /// carrying it. Required to serve customer sessions.
    pub device_token: Option<String>,
    /// Secret of the staff page and its actions. Required to serve the staff queue.
    pub staff_token: Option<String>,
    /// Language of the UI and the server's messages when the page does not ask for one
    /// the kiosk supports (`en` or `zh`).
    pub locale: String,
    /// Fitting rooms fetch requests are sent to, in turn.
    pub fitting_rooms: Vec<String>,
    /// Customer sessions held at once (connected or waiting to resume); more get 503.
    pub max_sessions: usize,
    /// How long a session whose socket dropped waits for the page to reconnect.
    pub resume_secs: u64,
    /// Deadline of one call to another service (a turn's stream has its own, longer).
    pub call_timeout_ms: u64,
    /// Deadline of a whole dialogue turn stream.
    pub turn_timeout_secs: u64,
    /// Consecutive failures after which a service's circuit opens (calls fail fast
    /// and the page is told the service is unavailable).
    pub breaker_failures: u32,
    /// How long an open circuit waits before it lets one call try the service again;
    /// doubles while the service stays down, up to eight times this.
    pub breaker_open_ms: u64,
    /// Camera frames analysed per second at most per session (faces only; garments are
    /// analysed when the conversation needs them).
    pub frames_per_sec: f32,
    /// Lowest identity confidence (0..1) vision reports that is greeted by name.
    pub min_identity_confidence: f32,
    /// Open and recently finished fetch requests kept for the staff page.
    pub max_fetch_requests: usize,
}

impl Default for KioskConfig {
    fn default() -> Self {
        Self {
            host: DEFAULT_HOST.into(),
            port: Service::Kiosk.default_port(),
            url: None,
            kiosk_id: "kiosk-1".into(),
            device_token: None,
            staff_token: None,
            locale: "en".into(),
            fitting_rooms: vec!["1".into(), "2".into(), "3".into()],
            max_sessions: 16,
            resume_secs: 120,
            call_timeout_ms: 10_000,
            turn_timeout_secs: 60,
            breaker_failures: 3,
            breaker_open_ms: 2_000,
            frames_per_sec: 2.0,
            min_identity_confidence: 0.0,
            max_fetch_requests: 200,
        }
    }
}

/// UI languages the kiosk has strings for.
pub const KIOSK_LOCALES: [&str; 2] = ["en", "zh"];

impl KioskConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.kiosk_id.trim().is_empty() || self.kiosk_id.chars().count() > 64 {
            return Err(ConfigError::invalid(
                "kiosk.kiosk_id",
                "must be 1 to 64 characters",
            ));
        }
        for (field, secret) in [
            ("kiosk.device_token", &self.device_token),
            ("kiosk.staff_token", &self.staff_token),
        ] {
            if let Some(secret) = secret
                && secret.chars().count() < MIN_SECRET_CHARS
            {
                return Err(ConfigError::invalid(
                    field,
                    format!("must be at least {MIN_SECRET_CHARS} characters"),
                ));
            }
        }
        if !KIOSK_LOCALES.contains(&self.locale.as_str()) {
            return Err(ConfigError::invalid(
                "kiosk.locale",
                format!("must be one of {KIOSK_LOCALES:?}"),
            ));
        }
        if self.fitting_rooms.is_empty() || self.fitting_rooms.iter().any(|r| r.trim().is_empty()) {
            return Err(ConfigError::invalid(
                "kiosk.fitting_rooms",
                "must name at least one fitting room, none empty",
            ));
        }
        let ranges: [(&str, u64, std::ops::RangeInclusive<u64>); 7] = [
            ("kiosk.max_sessions", self.max_sessions as u64, 1..=1024),
            ("kiosk.resume_secs", self.resume_secs, 0..=3600),
            ("kiosk.call_timeout_ms", self.call_timeout_ms, 100..=120_000),
            ("kiosk.turn_timeout_secs", self.turn_timeout_secs, 1..=600),
            (
                "kiosk.breaker_failures",
                u64::from(self.breaker_failures),
                1..=100,
            ),
            ("kiosk.breaker_open_ms", self.breaker_open_ms, 100..=600_000),
            (
                "kiosk.max_fetch_requests",
                self.max_fetch_requests as u64,
                1..=100_000,
            ),
        ];
        for (field, value, range) in ranges {
            if !range.contains(&value) {
                return Err(ConfigError::invalid(
                    field,
                    format!("must be between {} and {}", range.start(), range.end()),
                ));
            }
        }
        if !(self.frames_per_sec > 0.0 && self.frames_per_sec <= 30.0) {
            return Err(ConfigError::invalid(
                "kiosk.frames_per_sec",
                "must be above 0 and at most 30",
            ));
        }
        if !(0.0..=1.0).contains(&self.min_identity_confidence) {
            return Err(ConfigError::invalid(
                "kiosk.min_identity_confidence",
                "must be between 0 and 1",
            ));
        }
        Ok(())
    }
}

/// Settings of the `voice` service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoiceConfig {
    /// Address to listen on; `0.0.0.0` to accept connections from other machines.
    pub host: String,
    /// Port to listen on.
    #[serde(deserialize_with = "port")]
    pub port: u16,
    /// Base URL other services use to reach this one, when it differs from
    /// `http://host:port` (e.g. a k3s Service name).
    pub url: Option<String>,
    /// Manifest name of the whisper model (fixtures/models.toml); verified before loading.
    pub stt_model: String,
    /// Manifest name of the piper voice per language code; a request's `language`
    /// (or a voice named in it) picks one.
    pub tts_voices: std::collections::BTreeMap<String, String>,
    /// Manifest name of the voice-activity model used by the streaming endpoint.
    pub vad_model: String,
    /// CPU threads one whisper decode or piper synthesis may use.
    pub threads: usize,
    /// Whisper decodes that may run at once (each holds its own model state).
    pub stt_workers: usize,
    /// Transcriptions allowed to wait for a worker; beyond that, 503 with Retry-After.
    pub stt_queue: usize,
    /// Piper syntheses that may run at once.
    pub tts_workers: usize,
    /// Syntheses allowed to wait for a worker; beyond that, 503 with Retry-After.
    pub tts_queue: usize,
    /// Longest audio accepted for one transcription, in seconds.
    pub max_audio_seconds: f32,
    /// Largest upload accepted, in bytes (30 s of 48 kHz stereo f32 is about 11.5 MB).
    pub max_upload_bytes: usize,
    /// Longest text accepted for one synthesis, in characters.
    pub max_text_chars: usize,
    /// Silence after speech that ends the customer's turn, in milliseconds.
    pub end_of_turn_silence_ms: u32,
    /// How often a partial transcript is produced while the customer speaks, in ms.
    pub partial_interval_ms: u32,
    /// Speech probability above which a VAD window counts as speech (0..1).
    pub vad_threshold: f32,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        Self {
            host: DEFAULT_HOST.into(),
            port: Service::Voice.default_port(),
            url: None,
            stt_model: "whisper-tiny.en".into(),
            tts_voices: [("en".to_string(), "piper-en_US-joe-medium".to_string())].into(),
            vad_model: "silero-vad-v5".into(),
            threads: 2,
            stt_workers: 1,
            stt_queue: 4,
            tts_workers: 1,
            tts_queue: 8,
            max_audio_seconds: 30.0,
            max_upload_bytes: 16 * 1024 * 1024,
            max_text_chars: 2000,
            end_of_turn_silence_ms: 300,
            partial_interval_ms: 400,
            vad_threshold: 0.5,
        }
    }
}

impl VoiceConfig {
    /// Range checks of the voice settings, naming the field.
    fn validate(&self) -> Result<(), ConfigError> {
        let at_least_one = [
            ("voice.threads", self.threads),
            ("voice.stt_workers", self.stt_workers),
            ("voice.tts_workers", self.tts_workers),
            ("voice.max_text_chars", self.max_text_chars),
            ("voice.max_upload_bytes", self.max_upload_bytes),
        ];
        for (field, value) in at_least_one {
            if value == 0 {
                return Err(ConfigError::invalid(field, "must be at least 1"));
            }
        }
        if !(self.max_audio_seconds > 0.0 && self.max_audio_seconds <= 300.0) {
            return Err(ConfigError::invalid(
                "voice.max_audio_seconds",
                "must be in (0, 300]",
            ));
        }
        if !(50..=5000).contains(&self.end_of_turn_silence_ms) {
            return Err(ConfigError::invalid(
                "voice.end_of_turn_silence_ms",
                "must be between 50 and 5000",
            ));
        }
        if !(100..=5000).contains(&self.partial_interval_ms) {
            return Err(ConfigError::invalid(
                "voice.partial_interval_ms",
                "must be between 100 and 5000",
            ));
        }
        if !(self.vad_threshold > 0.0 && self.vad_threshold < 1.0) {
            return Err(ConfigError::invalid(
                "voice.vad_threshold",
                "must be between 0 and 1",
            ));
        }
        if self.tts_voices.is_empty() {
            return Err(ConfigError::invalid(
                "voice.tts_voices",
                "must name at least one voice",
            ));
        }
        Ok(())
    }
}

/// Settings of the `vision` service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VisionConfig {
    /// Address to listen on; `0.0.0.0` to accept connections from other machines.
    pub host: String,
    /// Port to listen on.
    #[serde(deserialize_with = "port")]
    pub port: u16,
    /// Base URL other services use to reach this one, when it differs from
    /// `http://host:port` (e.g. a k3s Service name).
    pub url: Option<String>,
    /// Manifest entry of the face detector (BlazeFace ONNX, run by OpenCV's dnn).
    pub face_detector: String,
    /// Manifest entry of the face landmark and embedding models (dlib).
    pub face_embedder: String,
    /// OpenCV Haar cascade used when BlazeFace finds no face (Debian's `opencv-data`);
    /// absent or missing means no fallback.
    pub face_cascade: Option<PathBuf>,
    /// Lowest BlazeFace score taken as a face (0..1).
    pub min_detection_score: f32,
    /// Lowest face quality (size, sharpness, pose, light; 0..1) that is identified or
    /// enrolled; poorer faces are reported with their issues but never matched.
    pub min_face_quality: f32,
    /// Most faces of one frame that are embedded and identified (largest first).
    pub max_faces: usize,
    /// Frames analysed at once (each worker holds its own detector and embedder).
    pub workers: usize,
    /// Frames waiting for a worker before new ones get 503.
    pub queue: usize,
    /// Largest request body in bytes (an encoded frame or photo).
    pub max_body_bytes: usize,
    /// Largest decoded image in pixels (width × height); checked from the header
    /// before decoding, so a decompression bomb costs nothing.
    pub max_image_pixels: u64,
    /// Largest width or height in pixels.
    pub max_image_side: u32,
    /// Photos one enrolment may send.
    pub max_enrol_photos: usize,
    /// How often the catalogue image index is rebuilt from the catalog, in seconds.
    pub catalogue_refresh_secs: u64,
    /// Deadline of one call to the catalog, in milliseconds.
    pub catalog_timeout_ms: u64,
    /// Catalogue products proposed per garment.
    pub garment_candidates: usize,
}

impl Default for VisionConfig {
    fn default() -> Self {
        Self {
            host: DEFAULT_HOST.into(),
            port: Service::Vision.default_port(),
            url: None,
            face_detector: "blazeface".into(),
            face_embedder: "dlib-face-recognition".into(),
            face_cascade: Some(PathBuf::from(
                "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml",
            )),
            min_detection_score: 0.6,
            min_face_quality: 0.5,
            max_faces: 3,
            workers: 2,
            queue: 8,
            max_body_bytes: 8 * 1024 * 1024,
            max_image_pixels: 16_000_000,
            max_image_side: 8192,
            max_enrol_photos: 5,
            catalogue_refresh_secs: 300,
            catalog_timeout_ms: 3000,
            garment_candidates: 3,
        }
    }
}

impl VisionConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let at_least_one = [
            ("vision.max_faces", self.max_faces),
            ("vision.workers", self.workers),
            ("vision.max_body_bytes", self.max_body_bytes),
            ("vision.max_enrol_photos", self.max_enrol_photos),
            ("vision.garment_candidates", self.garment_candidates),
        ];
        for (field, value) in at_least_one {
            if value == 0 {
                return Err(ConfigError::invalid(field, "must be at least 1"));
            }
        }
        for (field, value) in [
            ("vision.min_detection_score", self.min_detection_score),
            ("vision.min_face_quality", self.min_face_quality),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(ConfigError::invalid(field, "must be between 0 and 1"));
            }
        }
        if self.max_image_pixels < 64 * 64 || self.max_image_side < 64 {
            return Err(ConfigError::invalid(
                "vision.max_image_pixels",
                "max_image_pixels must be at least 4096 and max_image_side at least 64",
            ));
        }
        if self.catalogue_refresh_secs == 0 || self.catalog_timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "vision.catalogue_refresh_secs",
                "catalogue_refresh_secs and catalog_timeout_ms must be at least 1",
            ));
        }
        Ok(())
    }
}

/// Settings of the `dialogue` service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DialogueConfig {
    /// Address to listen on; `0.0.0.0` to accept connections from other machines.
    pub host: String,
    /// Port to listen on.
    #[serde(deserialize_with = "port")]
    pub port: u16,
    /// Base URL other services use to reach this one, when it differs from
    /// `http://host:port` (e.g. a k3s Service name).
    pub url: Option<String>,
    /// Where the language model runs: in-process on llama.cpp (`local`, the default) or
    /// behind an OpenAI-compatible server (`remote`: llama-server, LocalAI, vLLM).
    pub backend: LlmBackend,
    /// Manifest name of the local GGUF chat model (fixtures/models.toml).
    pub model: String,
    /// Base URL of the remote OpenAI-compatible server (without `/v1`), for `remote`.
    pub remote_url: Option<String>,
    /// Model name sent to the remote server.
    pub remote_model: String,
    /// Bearer key for the remote server, if it wants one.
    pub remote_api_key: Option<String>,
    /// CPU threads llama.cpp uses for one evaluation.
    pub threads: usize,
    /// Context window in tokens (prompt + reply); also bounds the raw chat endpoint.
    pub context_tokens: u32,
    /// Model requests allowed to wait; beyond that, 503 with Retry-After.
    pub queue: usize,
    /// Longest customer utterance accepted, in characters.
    pub max_input_chars: usize,
    /// Most tokens the model may write for one reply.
    pub max_reply_tokens: u32,
    /// Whether the model chooses the tool (grammar-constrained, validated) before the
    /// rules; `false` runs the rules alone (for very slow hardware).
    pub understand_with_model: bool,
    /// Whether the model writes the replies (each sentence checked for grounding before
    /// it is sent). Off by default: the default 135M model's replies passed the
    /// grounding check but were mostly off-topic apologies ("I'm sorry for your loss"),
    /// so replies are composed from the tool results; turn it on with a larger model.
    pub reply_with_model: bool,
    /// Open sessions kept at once; the idlest is closed beyond it.
    pub max_sessions: usize,
    /// A session idle this long (seconds) is closed.
    pub session_idle_secs: u64,
    /// Time allowed for one call to the catalog, in milliseconds.
    pub tool_timeout_ms: u64,
}

/// See [`DialogueConfig::backend`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LlmBackend {
    /// llama.cpp in the dialogue process.
    #[default]
    Local,
    /// An OpenAI-compatible server at `remote_url`.
    Remote,
}

impl Default for DialogueConfig {
    fn default() -> Self {
        Self {
            host: DEFAULT_HOST.into(),
            port: Service::Dialogue.default_port(),
            url: None,
            backend: LlmBackend::Local,
            model: "smollm2-135m-instruct-q4_1".into(),
            remote_url: None,
            remote_model: "default".into(),
            remote_api_key: None,
            threads: 2,
            context_tokens: 4096,
            queue: 16,
            max_input_chars: 2000,
            max_reply_tokens: 120,
            understand_with_model: true,
            reply_with_model: false,
            max_sessions: 256,
            session_idle_secs: 900,
            tool_timeout_ms: 3000,
        }
    }
}

impl DialogueConfig {
    /// Range checks of the dialogue settings, naming the field.
    fn validate(&self) -> Result<(), ConfigError> {
        let at_least_one = [
            ("dialogue.threads", self.threads),
            ("dialogue.queue", self.queue),
            ("dialogue.max_input_chars", self.max_input_chars),
            ("dialogue.max_sessions", self.max_sessions),
        ];
        for (field, value) in at_least_one {
            if value == 0 {
                return Err(ConfigError::invalid(field, "must be at least 1"));
            }
        }
        if !(512..=131_072).contains(&self.context_tokens) {
            return Err(ConfigError::invalid(
                "dialogue.context_tokens",
                "must be between 512 and 131072",
            ));
        }
        if !(8..=2048).contains(&self.max_reply_tokens) {
            return Err(ConfigError::invalid(
                "dialogue.max_reply_tokens",
                "must be between 8 and 2048",
            ));
        }
        if self.backend == LlmBackend::Remote && self.remote_url.is_none() {
            return Err(ConfigError::invalid(
                "dialogue.remote_url",
                "is required when dialogue.backend is \"remote\"",
            ));
        }
        if self.session_idle_secs == 0 || self.tool_timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "dialogue.session_idle_secs",
                "session_idle_secs and tool_timeout_ms must be at least 1",
            ));
        }
        Ok(())
    }
}

/// Settings of the `catalog` service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogConfig {
    /// Address to listen on; `0.0.0.0` to accept connections from other machines.
    pub host: String,
    /// Port to listen on.
    #[serde(deserialize_with = "port")]
    pub port: u16,
    /// Base URL other services use to reach this one, when it differs from
    /// `http://host:port` (e.g. a k3s Service name).
    pub url: Option<String>,
    /// Which vector store holds the data: the embedded engine (one machine) or a Qdrant
    /// server (k3s).
    pub store: StoreBackend,
    /// gRPC URL of the Qdrant server (`http://qdrant:6334`), for `store = "server"`.
    pub qdrant_url: Option<String>,
    /// API key of the Qdrant server, when it requires one.
    pub qdrant_api_key: Option<String>,
    /// Prefix of the collection names, so several stores can share one Qdrant server.
    pub collection_prefix: String,
    /// Bearer key for the admin endpoints (catalogue ingestion, product deletion) and,
    /// like the service token, for customer and inventory endpoints. Required at start.
    pub admin_key: Option<String>,
    /// Bearer token other services (kiosk, vision, dialogue) present for customer and
    /// inventory endpoints. Required at start.
    pub service_token: Option<String>,
    /// Length of a face embedding (dlib's ResNet gives 128).
    pub face_embedding_dim: usize,
    /// Largest Euclidean distance between face embeddings still taken as the same
    /// person (dlib's published threshold is 0.6; lower is stricter).
    pub face_match_max_distance: f32,
    /// Threads the text embedder uses.
    pub embed_threads: usize,
    /// Embedding calls waiting for the embedder before new ones get 503.
    pub embed_queue: usize,
    /// Largest request body, in bytes (catalogue uploads are the biggest).
    pub max_body_bytes: usize,
    /// Most hits one search may ask for.
    pub max_search_limit: u32,
    /// Catalogue file (JSON or CSV) loaded when the store holds no products yet, so a
    /// fresh demo has something to show.
    pub seed_file: Option<PathBuf>,
    /// Inventory events kept for slow SSE subscribers before they are told to resync.
    pub events_buffer: usize,
}

/// Where the catalog keeps its vectors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// Qdrant's engine in-process, data under `data_dir/catalog`.
    #[default]
    Embedded,
    /// A Qdrant server at `catalog.qdrant_url`.
    Server,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        Self {
            host: DEFAULT_HOST.into(),
            port: Service::Catalog.default_port(),
            url: None,
            store: StoreBackend::Embedded,
            qdrant_url: None,
            qdrant_api_key: None,
            collection_prefix: "shop_".into(),
            admin_key: None,
            service_token: None,
            face_embedding_dim: 128,
            face_match_max_distance: 0.6,
            embed_threads: 2,
            embed_queue: 16,
            max_body_bytes: 32 * 1024 * 1024,
            max_search_limit: 50,
            seed_file: None,
            events_buffer: 1024,
        }
    }
}

/// Shortest accepted admin key or service token: long enough not to be guessed.
pub const MIN_SECRET_CHARS: usize = 16;

impl CatalogConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let at_least_one = [
            ("catalog.face_embedding_dim", self.face_embedding_dim),
            ("catalog.embed_threads", self.embed_threads),
            ("catalog.max_body_bytes", self.max_body_bytes),
            ("catalog.events_buffer", self.events_buffer),
        ];
        for (field, value) in at_least_one {
            if value == 0 {
                return Err(ConfigError::invalid(field, "must be at least 1"));
            }
        }
        if !(1..=1000).contains(&self.max_search_limit) {
            return Err(ConfigError::invalid(
                "catalog.max_search_limit",
                "must be between 1 and 1000",
            ));
        }
        if !(self.face_match_max_distance > 0.0 && self.face_match_max_distance < 2.0) {
            return Err(ConfigError::invalid(
                "catalog.face_match_max_distance",
                "must be between 0 and 2",
            ));
        }
        if self.store == StoreBackend::Server {
            match &self.qdrant_url {
                Some(url) => check_http_url("catalog.qdrant_url", url)?,
                None => {
                    return Err(ConfigError::invalid(
                        "catalog.qdrant_url",
                        "must be set when catalog.store is \"server\"",
                    ));
                }
            }
        }
        for (field, secret) in [
            ("catalog.admin_key", &self.admin_key),
            ("catalog.service_token", &self.service_token),
        ] {
            if let Some(secret) = secret
                && secret.chars().count() < MIN_SECRET_CHARS
            {
                return Err(ConfigError::invalid(
                    field,
                    format!("must be at least {MIN_SECRET_CHARS} characters"),
                ));
            }
        }
        Ok(())
    }

    /// The admin key and service token, which the catalog itself cannot start without
    /// (other services only need the token). Errors name the missing setting.
    pub fn secrets(&self) -> Result<(&str, &str), ConfigError> {
        let admin = self.admin_key.as_deref().ok_or_else(|| {
            ConfigError::invalid(
                "catalog.admin_key",
                "must be set (e.g. SHOP_CATALOG__ADMIN_KEY); customer data needs a key",
            )
        })?;
        let token = self.service_token.as_deref().ok_or_else(|| {
            ConfigError::invalid(
                "catalog.service_token",
                "must be set (e.g. SHOP_CATALOG__SERVICE_TOKEN); customer data needs a key",
            )
        })?;
        Ok((admin, token))
    }
}

/// Settings of the `tryon` service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TryonConfig {
    /// Address to listen on; `0.0.0.0` to accept connections from other machines.
    pub host: String,
    /// Port to listen on.
    #[serde(deserialize_with = "port")]
    pub port: u16,
    /// Base URL other services use to reach this one, when it differs from
    /// `http://host:port` (e.g. a k3s Service name).
    pub url: Option<String>,
    /// Try-ons and generations computed at once (each holds one CPU core).
    pub workers: usize,
    /// Requests waiting for a worker before new ones get 503 with Retry-After.
    pub queue: usize,
    /// Largest request body in bytes (a JSON body carries the photo in base64, a third
    /// larger than the file).
    pub max_body_bytes: usize,
    /// Largest decoded photo or garment picture in pixels (width × height); checked
    /// from the header before decoding, so a decompression bomb costs nothing. A
    /// try-on's working memory grows with it (about 30 bytes a pixel at worst): 12 MP,
    /// a phone photo, is the default; a kiosk camera sends 1 to 2 MP.
    pub max_image_pixels: u64,
    /// Largest width or height of a photo in pixels.
    pub max_image_side: u32,
    /// OpenCV Haar cascade that finds the face the body is placed from (Debian's
    /// `opencv-data`).
    pub face_cascade: PathBuf,
    /// Longest side, in pixels, of the reduced copy of the photo that the face and the
    /// person's outline are found in (the garment is drawn at full size).
    pub analysis_side: u32,
    /// Deadline of one call to the catalog (product and image), in milliseconds.
    pub catalog_timeout_ms: u64,
    /// Who draws `/v1/images/generations`: the built-in garment renderer (`local`, the
    /// default) or an OpenAI-compatible image server (`remote`, e.g. a diffusion model
    /// on a GPU node), with the renderer as fallback when it fails.
    pub image_backend: ImageBackend,
    /// Base URL of the remote image server (without `/v1`), for `remote`.
    pub remote_url: Option<String>,
    /// Model name sent to the remote image server.
    pub remote_model: String,
    /// Bearer key for the remote image server, if it wants one.
    pub remote_api_key: Option<String>,
    /// Deadline of one remote generation, in milliseconds.
    pub remote_timeout_ms: u64,
    /// Most images one generation request may ask for (`n`).
    pub max_images: u32,
    /// Largest width or height of a generated image in pixels.
    pub max_generated_side: u32,
    /// Longest prompt accepted, in characters.
    pub max_prompt_chars: usize,
    /// Generated images kept in memory for `response_format = url`; the oldest is
    /// dropped beyond it.
    pub stored_images: usize,
    /// How long a stored generated image can be fetched, in seconds.
    pub stored_image_ttl_secs: u64,
}

/// See [`TryonConfig::image_backend`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageBackend {
    /// The garment renderer in the tryon process.
    #[default]
    Local,
    /// An OpenAI-compatible image server at `remote_url`.
    Remote,
}

impl Default for TryonConfig {
    fn default() -> Self {
        Self {
            host: DEFAULT_HOST.into(),
            port: Service::Tryon.default_port(),
            url: None,
            workers: 2,
            queue: 8,
            max_body_bytes: 24 * 1024 * 1024,
            max_image_pixels: 12_000_000,
            max_image_side: 8192,
            face_cascade: PathBuf::from(
                "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml",
            ),
            analysis_side: 400,
            catalog_timeout_ms: 3000,
            image_backend: ImageBackend::Local,
            remote_url: None,
            remote_model: "default".into(),
            remote_api_key: None,
            remote_timeout_ms: 60_000,
            max_images: 4,
            max_generated_side: 1024,
            max_prompt_chars: 1000,
            stored_images: 64,
            stored_image_ttl_secs: 600,
        }
    }
}

impl TryonConfig {
    /// Range checks of the try-on settings, naming the field.
    fn validate(&self) -> Result<(), ConfigError> {
        let at_least_one = [
            ("tryon.workers", self.workers),
            ("tryon.max_body_bytes", self.max_body_bytes),
            ("tryon.max_prompt_chars", self.max_prompt_chars),
            ("tryon.stored_images", self.stored_images),
        ];
        for (field, value) in at_least_one {
            if value == 0 {
                return Err(ConfigError::invalid(field, "must be at least 1"));
            }
        }
        if self.max_image_pixels < 64 * 64 || self.max_image_side < 64 {
            return Err(ConfigError::invalid(
                "tryon.max_image_pixels",
                "max_image_pixels must be at least 4096 and max_image_side at least 64",
            ));
        }
        if !(128..=2048).contains(&self.analysis_side) {
            return Err(ConfigError::invalid(
                "tryon.analysis_side",
                "must be between 128 and 2048",
            ));
        }
        if !(1..=16).contains(&self.max_images) {
            return Err(ConfigError::invalid(
                "tryon.max_images",
                "must be between 1 and 16",
            ));
        }
        if !(64..=4096).contains(&self.max_generated_side) {
            return Err(ConfigError::invalid(
                "tryon.max_generated_side",
                "must be between 64 and 4096",
            ));
        }
        if self.face_cascade.as_os_str().is_empty() {
            return Err(ConfigError::invalid(
                "tryon.face_cascade",
                "must name the Haar cascade file",
            ));
        }
        match (&self.image_backend, &self.remote_url) {
            (ImageBackend::Remote, None) => {
                return Err(ConfigError::invalid(
                    "tryon.remote_url",
                    "is required when tryon.image_backend is \"remote\"",
                ));
            }
            (_, Some(url)) => check_http_url("tryon.remote_url", url)?,
            (ImageBackend::Local, None) => {}
        }
        if self.catalog_timeout_ms == 0
            || self.remote_timeout_ms == 0
            || self.stored_image_ttl_secs == 0
        {
            return Err(ConfigError::invalid(
                "tryon.catalog_timeout_ms",
                "catalog_timeout_ms, remote_timeout_ms and stored_image_ttl_secs must be at least 1",
            ));
        }
        Ok(())
    }
}

/// Loopback by default: in one-machine mode nothing but the kiosk page should reach
/// the services.
const DEFAULT_HOST: &str = "127.0.0.1";
const PORT_RANGE: &str = "must be between 1 and 65535";

/// Reads a port as any integer so that out-of-range values get a clear message
/// instead of serde's "expected u16".
fn port<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    let value = i64::deserialize(d)?;
    match u16::try_from(value) {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(serde::de::Error::custom(PORT_RANGE)),
    }
}

impl Config {
    /// The layered sources: defaults, then `file` (or the file named by
    /// `SHOP_CONFIG` when `file` is `None`), then `SHOP_*` environment variables.
    /// A named file that does not exist is an error.
    pub fn figment(file: Option<&Path>) -> Result<Figment, ConfigError> {
        let env_file = std::env::var_os(CONFIG_PATH_ENV).map(PathBuf::from);
        let file = file.map(Path::to_path_buf).or(env_file);
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::MissingFile(path));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        // SHOP_CONFIG names the file; it is not itself a setting.
        let env = Env::prefixed(ENV_PREFIX).split("__").ignore(&["config"]);
        Ok(figment.merge(env))
    }

    /// Loads from the standard layers (file named by `SHOP_CONFIG`, if any) and
    /// validates; what a service calls at start.
    pub fn load() -> Result<Config, ConfigError> {
        Self::load_from(Self::figment(None)?)
    }

    /// Loads with an explicit file (e.g. from a `--config` flag) and validates.
    pub fn load_file(path: &Path) -> Result<Config, ConfigError> {
        Self::load_from(Self::figment(Some(path))?)
    }

    /// Extracts and validates from any figment; lets tests supply their own layers.
    pub fn load_from(figment: Figment) -> Result<Config, ConfigError> {
        let config: Config = figment.extract().map_err(ConfigError::from_figment)?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what types alone cannot: port range, non-empty hosts, distinct
    /// listen addresses, a parseable log filter, well-formed URLs. Runs at start so a
    /// bad value stops the service with a message naming the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut seen: Vec<(Service, &str, u16)> = Vec::new();
        for service in Service::ALL {
            let (host, port, url) = self.endpoint(service);
            let name = service.name();
            if port == 0 {
                return Err(ConfigError::invalid(format!("{name}.port"), PORT_RANGE));
            }
            if host.trim().is_empty() {
                return Err(ConfigError::invalid(
                    format!("{name}.host"),
                    "must not be empty",
                ));
            }
            if let Some(url) = url {
                check_http_url(&format!("{name}.url"), url)?;
            }
            if let Some((other, ..)) = seen.iter().find(|(_, h, p)| *h == host && *p == port) {
                return Err(ConfigError::invalid(
                    format!("{name}.port"),
                    format!("{host}:{port} is already used by {other}"),
                ));
            }
            seen.push((service, host, port));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.telemetry.level) {
            return Err(ConfigError::invalid("telemetry.level", e.to_string()));
        }
        if let Some(endpoint) = &self.telemetry.otlp_endpoint {
            check_http_url("telemetry.otlp_endpoint", endpoint)?;
        }
        self.kiosk.validate()?;
        self.voice.validate()?;
        self.vision.validate()?;
        self.dialogue.validate()?;
        self.catalog.validate()?;
        self.tryon.validate()?;
        Ok(())
    }

    /// Listen host, port and configured URL of a service's section.
    fn endpoint(&self, service: Service) -> (&str, u16, Option<&str>) {
        let (host, port, url) = match service {
            Service::Kiosk => (&self.kiosk.host, self.kiosk.port, &self.kiosk.url),
            Service::Voice => (&self.voice.host, self.voice.port, &self.voice.url),
            Service::Vision => (&self.vision.host, self.vision.port, &self.vision.url),
            Service::Dialogue => (&self.dialogue.host, self.dialogue.port, &self.dialogue.url),
            Service::Catalog => (&self.catalog.host, self.catalog.port, &self.catalog.url),
            Service::Tryon => (&self.tryon.host, self.tryon.port, &self.tryon.url),
        };
        (host.as_str(), port, url.as_deref())
    }

    /// The `host:port` a service binds to.
    pub fn listen_addr(&self, service: Service) -> String {
        let (host, port, _) = self.endpoint(service);
        format!("{host}:{port}")
    }

    /// Base URL (no trailing slash) at which other services reach `service`: its
    /// `url` when set, otherwise `http://host:port`, with a wildcard listen host
    /// replaced by loopback since one cannot connect to `0.0.0.0`.
    pub fn url_of(&self, service: Service) -> String {
        let (host, port, url) = self.endpoint(service);
        if let Some(url) = url {
            return url.trim_end_matches('/').to_string();
        }
        let host = match host {
            "0.0.0.0" => "127.0.0.1",
            "::" | "[::]" => "[::1]",
            h if h.contains(':') && !h.starts_with('[') => return format!("http://[{h}]:{port}"),
            h => h,
        };
        format!("http://{host}:{port}")
    }
}

fn check_http_url(field: &str, url: &str) -> Result<(), ConfigError> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    match rest {
        Some(rest) if !rest.is_empty() => Ok(()),
        _ => Err(ConfigError::invalid(
            field,
            format!("{url:?} is not an http:// or https:// URL"),
        )),
    }
}
