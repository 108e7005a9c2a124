//! Structural checks of installed files: a header parse per format. The sha256 already
//! proves the bytes are the pinned ones; these prove the manifest pins the right kind of
//! file, and give tests the model's own numbers (hparams, architecture, tensors).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::manifest::FileFormat;

/// The magic number that opens a whisper.cpp ggml file ("ggml" as a little-endian u32).
pub const GGML_MAGIC: u32 = 0x6767_6d6c;

/// The hyperparameters at the start of a whisper.cpp ggml file, in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WhisperHparams {
    /// Vocabulary size including special tokens.
    pub n_vocab: i32,
    /// Encoder positions (1500 for 30 s).
    pub n_audio_ctx: i32,
    /// Encoder width.
    pub n_audio_state: i32,
    /// Encoder attention heads.
    pub n_audio_head: i32,
    /// Encoder layers.
    pub n_audio_layer: i32,
    /// Decoder positions.
    pub n_text_ctx: i32,
    /// Decoder width.
    pub n_text_state: i32,
    /// Decoder attention heads.
    pub n_text_head: i32,
    /// Decoder layers.
    pub n_text_layer: i32,
    /// Mel bins.
    pub n_mels: i32,
    /// Weight type: 0 f32, 1 f16.
    pub ftype: i32,
}

impl WhisperHparams {
    /// The eleven header fields in file order.
    pub fn to_array(&self) -> [i32; 11] {
        [
            self.n_vocab,
            self.n_audio_ctx,
            self.n_audio_state,
            self.n_audio_head,
            self.n_audio_layer,
            self.n_text_ctx,
            self.n_text_state,
            self.n_text_head,
            self.n_text_layer,
            self.n_mels,
            self.ftype,
        ]
    }

    /// The header fields as read, in file order.
    pub fn from_array(fields: [i32; 11]) -> WhisperHparams {
        let [
            n_vocab,
            n_audio_ctx,
            n_audio_state,
            n_audio_head,
            n_audio_layer,
            n_text_ctx,
            n_text_state,
            n_text_head,
            n_text_layer,
            n_mels,
            ftype,
        ] = fields;
        WhisperHparams {
            n_vocab,
            n_audio_ctx,
            n_audio_state,
            n_audio_head,
            n_audio_layer,
            n_text_ctx,
            n_text_state,
            n_text_head,
            n_text_layer,
            n_mels,
            ftype,
        }
    }
}

/// What a GGUF header says about the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GgufSummary {
    /// GGUF format version.
    pub version: u32,
    /// Number of tensors.
    pub tensor_count: u64,
    /// `general.architecture`, e.g. `llama`.
    pub architecture: Option<String>,
    /// Whether the file carries a chat template (`tokenizer.chat_template`).
    pub has_chat_template: bool,
}

/// Checks the structure of `path` as `format`; returns a one-line summary.
pub fn check(format: FileFormat, path: &Path) -> Result<String, String> {
    match format {
        FileFormat::GgmlWhisper => read_whisper_hparams(path).map(|h| {
            format!(
                "whisper ggml: {} layers, width {}, vocab {}, {} mels",
                h.n_audio_layer, h.n_audio_state, h.n_vocab, h.n_mels
            )
        }),
        FileFormat::Gguf => read_gguf_summary(path).map(|s| {
            format!(
                "GGUF v{}: {} tensors, architecture {}",
                s.version,
                s.tensor_count,
                s.architecture.as_deref().unwrap_or("?")
            )
        }),
        FileFormat::Safetensors => {
            check_safetensors(path).map(|n| format!("safetensors: {n} tensors"))
        }
        FileFormat::Onnx => {
            check_onnx(path).map(|ir| format!("ONNX: IR version {ir}, graph present"))
        }
        FileFormat::Json => {
            let text = std::fs::read(path).map_err(|e| e.to_string())?;
            serde_json::from_slice::<serde_json::Value>(&text).map_err(|e| e.to_string())?;
            Ok("JSON".into())
        }
        FileFormat::Text => {
            let text = std::fs::read(path).map_err(|e| e.to_string())?;
            std::str::from_utf8(&text).map_err(|e| e.to_string())?;
            Ok("text".into())
        }
        FileFormat::ElfSharedLibrary => {
            check_elf_shared_library(path).map(|()| "ELF shared library".into())
        }
        FileFormat::Dlib => check_dlib(path),
    }
}

/// dlib's `serialize` writes an integer as a control byte (its length) and the bytes:
/// every model here starts with its format version, 1, as `01 01`. A DNN also names
/// its loss layer next, which tells a face encoder from a shape predictor.
fn check_dlib(path: &Path) -> Result<String, String> {
    let mut head = [0u8; 64];
    let mut reader = open(path)?;
    let read = reader.read(&mut head).map_err(|e| e.to_string())?;
    let head = &head[..read];
    if !head.starts_with(&[0x01, 0x01]) {
        return Err("does not start with dlib's serialized version 1 (01 01)".into());
    }
    let loss = b"loss_";
    Ok(match head.windows(loss.len()).position(|w| w == loss) {
        Some(at) => {
            let name: String = head[at..]
                .iter()
                .take_while(|b| b.is_ascii_graphic())
                .map(|&b| char::from(b))
                .collect();
            format!("dlib DNN ({name})")
        }
        None => "dlib serialized model".into(),
    })
}

/// Reads and sanity-checks the hyperparameters of a whisper.cpp ggml file.
pub fn read_whisper_hparams(path: &Path) -> Result<WhisperHparams, String> {
    let mut reader = open(path)?;
    let magic = read_u32(&mut reader)?;
    if magic != GGML_MAGIC {
        return Err(format!(
            "bad magic {magic:#010x}, expected {GGML_MAGIC:#010x} (\"ggml\")"
        ));
    }
    let mut fields = [0i32; 11];
    for field in &mut fields {
        *field = read_u32(&mut reader)? as i32;
    }
    let hparams = WhisperHparams::from_array(fields);
    let WhisperHparams {
        n_vocab,
        n_audio_ctx,
        n_audio_state,
        n_audio_head,
        n_text_head,
        n_text_state,
        n_mels,
        ftype,
        ..
    } = hparams;
    let plausible = n_vocab > 50_000
        && n_audio_ctx > 0
        && n_audio_head > 0
        && n_audio_state % n_audio_head == 0
        && n_text_head > 0
        && n_text_state % n_text_head == 0
        && (n_mels == 80 || n_mels == 128)
        && (ftype == 0 || ftype == 1);
    if !plausible {
        return Err(format!("implausible hyperparameters {hparams:?}"));
    }
    let (filter_mels, filter_bins) = (read_u32(&mut reader)?, read_u32(&mut reader)?);
    if filter_mels as i32 != n_mels || filter_bins != 201 {
        return Err(format!(
            "mel filter table is {filter_mels}x{filter_bins}, expected {n_mels}x201"
        ));
    }
    Ok(hparams)
}

/// Reads a GGUF header and its metadata keys.
pub fn read_gguf_summary(path: &Path) -> Result<GgufSummary, String> {
    let file_size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    let mut reader = open(path)?;
    let mut magic = [0u8; 4];
    reader.read_exact(&mut magic).map_err(|e| e.to_string())?;
    if &magic != b"GGUF" {
        return Err(format!("bad magic {magic:?}, expected \"GGUF\""));
    }
    let version = read_u32(&mut reader)?;
    if !(2..=3).contains(&version) {
        return Err(format!("unsupported GGUF version {version}"));
    }
    let tensor_count = read_u64(&mut reader)?;
    let kv_count = read_u64(&mut reader)?;
    let limit = file_size; // no length inside the header can exceed the file
    let mut summary = GgufSummary {
        version,
        tensor_count,
        architecture: None,
        has_chat_template: false,
    };
    for _ in 0..kv_count {
        let key = read_gguf_string(&mut reader, limit)?;
        let value_type = read_u32(&mut reader)?;
        if value_type == GGUF_STRING {
            let value = read_gguf_string(&mut reader, limit)?;
            match key.as_str() {
                "general.architecture" => summary.architecture = Some(value),
                "tokenizer.chat_template" => summary.has_chat_template = true,
                _ => {}
            }
        } else {
            skip_gguf_value(&mut reader, value_type, limit)?;
        }
    }
    if tensor_count == 0 {
        return Err("no tensors".into());
    }
    Ok(summary)
}

const GGUF_STRING: u32 = 8;
const GGUF_ARRAY: u32 = 9;

fn gguf_scalar_size(value_type: u32) -> Option<u64> {
    match value_type {
        0 | 1 | 7 => Some(1), // u8, i8, bool
        2 | 3 => Some(2),     // u16, i16
        4..=6 => Some(4),     // u32, i32, f32
        10..=12 => Some(8),   // u64, i64, f64
        _ => None,
    }
}

fn skip_gguf_value(reader: &mut impl Read, value_type: u32, limit: u64) -> Result<(), String> {
    if let Some(size) = gguf_scalar_size(value_type) {
        return skip(reader, size);
    }
    match value_type {
        GGUF_STRING => read_gguf_string(reader, limit).map(drop),
        GGUF_ARRAY => {
            let element_type = read_u32(reader)?;
            let count = read_u64(reader)?;
            if count > limit {
                return Err(format!("array of {count} elements exceeds the file"));
            }
            match gguf_scalar_size(element_type) {
                Some(size) => skip(reader, size * count),
                None => (0..count).try_for_each(|_| skip_gguf_value(reader, element_type, limit)),
            }
        }
        other => Err(format!("unknown GGUF value type {other}")),
    }
}

fn read_gguf_string(reader: &mut impl Read, limit: u64) -> Result<String, String> {
    let length = read_u64(reader)?;
    if length > limit {
        return Err(format!("string of {length} bytes exceeds the file"));
    }
    let mut bytes = vec![0u8; length as usize];
    reader
        .read_exact(&mut bytes)
        .map_err(|e| format!("truncated: {e}"))?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}

fn check_safetensors(path: &Path) -> Result<usize, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let tensors = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| e.to_string())?;
    if tensors.is_empty() {
        return Err("no tensors".into());
    }
    Ok(tensors.len())
}

/// Walks the top-level fields of an ONNX `ModelProto` (protobuf); returns the IR version.
/// A truncated file shows up as a field running past the end.
fn check_onnx(path: &Path) -> Result<u64, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let mut at = 0usize;
    let (mut ir_version, mut has_graph) = (None, false);
    while at < bytes.len() {
        let key = read_varint(&bytes, &mut at)?;
        let (field, wire_type) = (key >> 3, key & 7);
        match wire_type {
            0 => {
                let value = read_varint(&bytes, &mut at)?;
                if field == 1 {
                    ir_version = Some(value);
                }
            }
            1 => at += 8,
            2 => {
                let length = read_varint(&bytes, &mut at)? as usize;
                if at.checked_add(length).is_none_or(|end| end > bytes.len()) {
                    return Err(format!(
                        "field {field} runs past the end of the file (truncated?)"
                    ));
                }
                has_graph |= field == 7;
                at += length;
            }
            5 => at += 4,
            other => return Err(format!("invalid protobuf wire type {other} at byte {at}")),
        }
    }
    if at > bytes.len() {
        return Err("the last field runs past the end of the file (truncated?)".into());
    }
    match (ir_version, has_graph) {
        (Some(ir), true) if (3..=20).contains(&ir) => Ok(ir),
        (ir, graph) => Err(format!(
            "not a ModelProto (ir_version {ir:?}, graph present: {graph})"
        )),
    }
}

fn read_varint(bytes: &[u8], at: &mut usize) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at).ok_or("truncated varint")?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint longer than 10 bytes".into())
}

fn check_elf_shared_library(path: &Path) -> Result<(), String> {
    let mut reader = open(path)?;
    let mut header = [0u8; 18];
    reader
        .read_exact(&mut header)
        .map_err(|e| format!("truncated: {e}"))?;
    if &header[..4] != b"\x7fELF" {
        return Err("no ELF magic".into());
    }
    let e_type = u16::from_le_bytes([header[16], header[17]]);
    if e_type != 3 {
        return Err(format!("ELF type {e_type}, expected 3 (shared object)"));
    }
    Ok(())
}

fn open(path: &Path) -> Result<BufReader<File>, String> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|e| e.to_string())
}

fn read_u32(reader: &mut impl Read) -> Result<u32, String> {
    let mut bytes = [0u8; 4];
    reader
        .read_exact(&mut bytes)
        .map_err(|e| format!("truncated header: {e}"))?;
    Ok(u32::from_le_bytes(bytes))
}

fn read_u64(reader: &mut impl Read) -> Result<u64, String> {
    let mut bytes = [0u8; 8];
    reader
        .read_exact(&mut bytes)
        .map_err(|e| format!("truncated header: {e}"))?;
    Ok(u64::from_le_bytes(bytes))
}

fn skip(reader: &mut impl Read, count: u64) -> Result<(), String> {
    let skipped =
        std::io::copy(&mut reader.take(count), &mut std::io::sink()).map_err(|e| e.to_string())?;
    if skipped == count {
        Ok(())
    } else {
        Err("truncated header".into())
    }
}
