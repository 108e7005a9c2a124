//! Reader for CTranslate2's `model.bin` (binary version 6): a spec name, then named
//! variables (rank, shape, dtype, raw little-endian bytes), then aliases.

use std::collections::BTreeMap;
use std::io::Read;

/// Element types of CTranslate2 variables (`ctranslate2::DataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    /// IEEE f32.
    F32,
    /// Signed 8-bit (quantised weights, or a scalar setting).
    I8,
    /// Signed 16-bit (scalar settings such as `num_heads`).
    I16,
    /// Signed 32-bit.
    I32,
    /// IEEE f16.
    F16,
    /// bfloat16.
    BF16,
}

impl DType {
    fn from_code(code: u8) -> Result<DType, String> {
        Ok(match code {
            0 => DType::F32,
            1 => DType::I8,
            2 => DType::I16,
            3 => DType::I32,
            4 => DType::F16,
            5 => DType::BF16,
            other => return Err(format!("unknown CTranslate2 dtype code {other}")),
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::I8 => 1,
            DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::F32 | DType::I32 => 4,
        }
    }
}

/// One variable of the model.
#[derive(Debug, Clone)]
pub struct Variable {
    /// Shape, outermost first (row-major, like numpy).
    pub shape: Vec<usize>,
    /// Element type.
    pub dtype: DType,
    /// Raw little-endian data.
    pub data: Vec<u8>,
}

impl Variable {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the variable holds no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements as f32, whatever the stored float type.
    pub fn to_f32(&self) -> Result<Vec<f32>, String> {
        self.to_f32_range(0, self.len())
    }

    /// `count` elements from element `start` as f32: one block of a fused matrix
    /// without converting the rest.
    pub fn to_f32_range(&self, start: usize, count: usize) -> Result<Vec<f32>, String> {
        let size = self.dtype.size();
        let bytes = self
            .data
            .get(start * size..(start + count) * size)
            .ok_or_else(|| format!("elements {start}..{} outside the variable", start + count))?;
        let chunks = bytes.chunks_exact(size);
        Ok(match self.dtype {
            DType::F32 => chunks
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            DType::F16 => chunks
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            DType::BF16 => chunks
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            other => {
                return Err(format!(
                    "{other:?} weights (a quantised export) are not supported; use a float16 or float32 export"
                ));
            }
        })
    }

    /// An integer scalar setting (such as `num_heads`).
    pub fn scalar_int(&self) -> Option<i64> {
        let d = &self.data;
        match (self.dtype, d.len()) {
            (DType::I8, 1) => Some(i64::from(d[0] as i8)),
            (DType::I16, 2) => Some(i64::from(i16::from_le_bytes([d[0], d[1]]))),
            (DType::I32, 4) => Some(i64::from(i32::from_le_bytes([d[0], d[1], d[2], d[3]]))),
            _ => None,
        }
    }
}

/// A parsed `model.bin`.
#[derive(Debug)]
pub struct Model {
    /// The spec name, e.g. `WhisperSpec`.
    pub spec: String,
    /// Variables by name, aliases resolved to copies of their targets.
    pub variables: BTreeMap<String, Variable>,
}

impl Model {
    /// Parses a whole `model.bin`.
    pub fn read(reader: &mut impl Read) -> Result<Model, String> {
        let version = read_u32(reader)?;
        if !(5..=6).contains(&version) {
            return Err(format!(
                "CTranslate2 binary version {version} is not supported (5 or 6 expected)"
            ));
        }
        let spec = read_string(reader)?;
        let _spec_revision = read_u32(reader)?;
        let count = read_u32(reader)?;
        let mut variables = BTreeMap::new();
        for _ in 0..count {
            let name = read_string(reader)?;
            let rank = read_u8(reader)?;
            let shape = (0..rank)
                .map(|_| read_u32(reader).map(|d| d as usize))
                .collect::<Result<Vec<_>, _>>()?;
            let dtype = DType::from_code(read_u8(reader)?)?;
            let byte_count = read_u32(reader)? as usize;
            let expected = shape.iter().product::<usize>() * dtype.size();
            if byte_count != expected {
                return Err(format!(
                    "variable {name}: {byte_count} bytes for shape {shape:?} of {dtype:?}"
                ));
            }
            let mut data = vec![0u8; byte_count];
            reader
                .read_exact(&mut data)
                .map_err(|e| format!("variable {name} truncated: {e}"))?;
            variables.insert(name, Variable { shape, dtype, data });
        }
        let alias_count = read_u32(reader)?;
        for _ in 0..alias_count {
            let alias = read_string(reader)?;
            let target = read_string(reader)?;
            let variable = variables
                .get(&target)
                .ok_or_else(|| format!("alias {alias} names unknown {target}"))?
                .clone();
            variables.insert(alias, variable);
        }
        Ok(Model { spec, variables })
    }

    /// A variable by name, or an error naming it.
    pub fn get(&self, name: &str) -> Result<&Variable, String> {
        self.variables
            .get(name)
            .ok_or_else(|| format!("the model has no variable {name}"))
    }
}

fn read_u8(reader: &mut impl Read) -> Result<u8, String> {
    let mut byte = [0u8; 1];
    reader
        .read_exact(&mut byte)
        .map_err(|e| format!("truncated model.bin: {e}"))?;
    Ok(byte[0])
}

fn read_u32(reader: &mut impl Read) -> Result<u32, String> {
    let mut bytes = [0u8; 4];
    reader
        .read_exact(&mut bytes)
        .map_err(|e| format!("truncated model.bin: {e}"))?;
    Ok(u32::from_le_bytes(bytes))
}

/// A u16 length, then that many bytes ending in a NUL.
fn read_string(reader: &mut impl Read) -> Result<String, String> {
    let mut length = [0u8; 2];
    reader
        .read_exact(&mut length)
        .map_err(|e| format!("truncated model.bin: {e}"))?;
    let mut bytes = vec![0u8; usize::from(u16::from_le_bytes(length))];
    reader
        .read_exact(&mut bytes)
        .map_err(|e| format!("truncated model.bin: {e}"))?;
    if bytes.last() == Some(&0) {
        bytes.pop();
    }
    String::from_utf8(bytes).map_err(|e| e.to_string())
}
