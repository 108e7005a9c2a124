//! CTranslate2 whisper export → whisper.cpp ggml model file.
//!
//! The ggml layout (what whisper.cpp's loader reads, in order):
//! magic, 11 i32 hyperparameters, the mel filter bank (n_mels × 201 f32), the
//! vocabulary (count, then length-prefixed byte strings; whisper.cpp adds the special
//! tokens itself), then tensors: `n_dims, name_len, ftype`, dims innermost first, name,
//! data. Tensor names are those of OpenAI's PyTorch checkpoint.
//!
//! CTranslate2 fuses attention projections: self-attention `linear_0` is Q|K|V stacked
//! on rows, cross-attention `linear_0` is Q and `linear_1` is K|V. Whisper's key
//! projection has no bias, so the fused bias holds zeros there; whisper.cpp's graph
//! has no key bias tensor, so those zeros are checked and dropped.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Write};
use std::path::Path;

use super::ctranslate2::{Model, Variable};
use super::mel::mel_filters;
use crate::formats::{GGML_MAGIC, WhisperHparams};

/// Converts the CTranslate2 export in `model_dir` (`model.bin`, `vocabulary.txt`) and
/// writes the ggml file to `out`.
pub fn convert(model_dir: &Path, out: &mut impl Write) -> Result<(), String> {
    let model_path = model_dir.join("model.bin");
    let file = File::open(&model_path).map_err(|e| format!("{}: {e}", model_path.display()))?;
    let model = Model::read(&mut BufReader::new(file))?;
    if model.spec != "WhisperSpec" {
        return Err(format!(
            "{} holds a {} model, not WhisperSpec",
            model_path.display(),
            model.spec
        ));
    }
    let vocabulary_path = model_dir.join("vocabulary.txt");
    let vocabulary = std::fs::read_to_string(&vocabulary_path)
        .map_err(|e| format!("{}: {e}", vocabulary_path.display()))?;
    let tokens = ordinary_tokens(&vocabulary)?;

    let hparams = hparams_of(&model)?;
    let mut w = GgmlWriter { out };
    w.i32(GGML_MAGIC as i32)?;
    for value in hparams.to_array() {
        w.i32(value)?;
    }
    let filters = mel_filters(hparams.n_mels as usize);
    w.i32(hparams.n_mels)?;
    w.i32(filters[0].len() as i32)?;
    for weight in filters.iter().flatten() {
        w.bytes(&weight.to_le_bytes())?;
    }
    w.i32(tokens.len() as i32)?;
    for token in &tokens {
        w.i32(token.len() as i32)?;
        w.bytes(token)?;
    }

    for (name, tensor) in tensors(&model, &hparams)? {
        w.tensor(&name, &tensor)?;
    }
    w.out.flush().map_err(|e| e.to_string())
}

/// Whisper's hyperparameters, read off the variables' shapes; matrices are written as
/// f16 (`ftype` 1).
fn hparams_of(model: &Model) -> Result<WhisperHparams, String> {
    let dim = |name: &str, axis: usize| -> Result<i32, String> {
        let variable = model.get(name)?;
        variable
            .shape
            .get(axis)
            .map(|&d| d as i32)
            .ok_or_else(|| format!("{name} has shape {:?}", variable.shape))
    };
    let scalar = |name: &str| -> Result<i32, String> {
        model
            .get(name)?
            .scalar_int()
            .map(|v| v as i32)
            .ok_or_else(|| format!("{name} is not an integer scalar"))
    };
    let layers = |prefix: &str| {
        (0..)
            .take_while(|i| {
                model
                    .variables
                    .contains_key(&format!("{prefix}/layer_{i}/ffn/linear_0/weight"))
            })
            .count() as i32
    };
    Ok(WhisperHparams {
        n_vocab: dim("decoder/embeddings/weight", 0)?,
        n_audio_ctx: dim("encoder/position_encodings/encodings", 0)?,
        n_audio_state: dim("encoder/position_encodings/encodings", 1)?,
        n_audio_head: scalar("encoder/num_heads")?,
        n_audio_layer: layers("encoder"),
        n_text_ctx: dim("decoder/position_encodings/encodings", 0)?,
        n_text_state: dim("decoder/embeddings/weight", 1)?,
        n_text_head: scalar("decoder/num_heads")?,
        n_text_layer: layers("decoder"),
        n_mels: dim("encoder/conv1/weight", 1)?,
        ftype: 1,
    })
}

/// A tensor ready to write: row-major f32 values and numpy-order shape.
struct Tensor {
    shape: Vec<usize>,
    values: Vec<f32>,
}

/// The tensors in OpenAI's naming, derived from the CTranslate2 variables.
fn tensors(model: &Model, hparams: &WhisperHparams) -> Result<Vec<(String, Tensor)>, String> {
    let whole = |name: &str| -> Result<Tensor, String> {
        let variable = model.get(name)?;
        Ok(Tensor {
            shape: variable.shape.clone(),
            values: variable.to_f32()?,
        })
    };
    let mut out: Vec<(String, Tensor)> = Vec::new();
    let mut put = |name: String, tensor: Tensor| out.push((name, tensor));

    for conv in ["conv1", "conv2"] {
        put(
            format!("encoder.{conv}.weight"),
            whole(&format!("encoder/{conv}/weight"))?,
        );
        let bias = whole(&format!("encoder/{conv}/bias"))?;
        // whisper.cpp adds the conv bias as a [n, 1] tensor.
        put(
            format!("encoder.{conv}.bias"),
            Tensor {
                shape: vec![bias.values.len(), 1],
                values: bias.values,
            },
        );
    }
    put(
        "encoder.positional_embedding".into(),
        whole("encoder/position_encodings/encodings")?,
    );
    for layer in 0..hparams.n_audio_layer {
        let (ct2, ggml) = (
            format!("encoder/layer_{layer}"),
            format!("encoder.blocks.{layer}"),
        );
        attention(
            model,
            &format!("{ct2}/self_attention"),
            &format!("{ggml}.attn"),
            &format!("{ggml}.attn_ln"),
            true,
            &mut put,
        )?;
        feed_forward(model, &ct2, &ggml, &mut put)?;
    }
    layer_norm(model, "encoder/layer_norm", "encoder.ln_post", &mut put)?;

    put(
        "decoder.token_embedding.weight".into(),
        whole("decoder/embeddings/weight")?,
    );
    put(
        "decoder.positional_embedding".into(),
        whole("decoder/position_encodings/encodings")?,
    );
    for layer in 0..hparams.n_text_layer {
        let (ct2, ggml) = (
            format!("decoder/layer_{layer}"),
            format!("decoder.blocks.{layer}"),
        );
        attention(
            model,
            &format!("{ct2}/self_attention"),
            &format!("{ggml}.attn"),
            &format!("{ggml}.attn_ln"),
            true,
            &mut put,
        )?;
        attention(
            model,
            &format!("{ct2}/attention"),
            &format!("{ggml}.cross_attn"),
            &format!("{ggml}.cross_attn_ln"),
            false,
            &mut put,
        )?;
        feed_forward(model, &ct2, &ggml, &mut put)?;
    }
    layer_norm(model, "decoder/layer_norm", "decoder.ln", &mut put)?;
    Ok(out)
}

type Put<'a> = dyn FnMut(String, Tensor) + 'a;

fn layer_norm(model: &Model, ct2: &str, ggml: &str, put: &mut Put<'_>) -> Result<(), String> {
    for (from, to) in [("gamma", "weight"), ("beta", "bias")] {
        let variable = model.get(&format!("{ct2}/{from}"))?;
        put(
            format!("{ggml}.{to}"),
            Tensor {
                shape: variable.shape.clone(),
                values: variable.to_f32()?,
            },
        );
    }
    Ok(())
}

fn linear(model: &Model, ct2: &str, ggml: &str, put: &mut Put<'_>) -> Result<(), String> {
    for part in ["weight", "bias"] {
        let variable = model.get(&format!("{ct2}/{part}"))?;
        put(
            format!("{ggml}.{part}"),
            Tensor {
                shape: variable.shape.clone(),
                values: variable.to_f32()?,
            },
        );
    }
    Ok(())
}

fn feed_forward(model: &Model, ct2: &str, ggml: &str, put: &mut Put<'_>) -> Result<(), String> {
    layer_norm(
        model,
        &format!("{ct2}/ffn/layer_norm"),
        &format!("{ggml}.mlp_ln"),
        put,
    )?;
    linear(
        model,
        &format!("{ct2}/ffn/linear_0"),
        &format!("{ggml}.mlp.0"),
        put,
    )?;
    linear(
        model,
        &format!("{ct2}/ffn/linear_1"),
        &format!("{ggml}.mlp.2"),
        put,
    )
}

/// Splits CTranslate2's fused projections into whisper's query, key, value and out.
fn attention(
    model: &Model,
    ct2: &str,
    ggml: &str,
    ggml_ln: &str,
    is_self: bool,
    put: &mut Put<'_>,
) -> Result<(), String> {
    layer_norm(model, &format!("{ct2}/layer_norm"), ggml_ln, put)?;
    let fused = |index: usize| -> Result<(&Variable, &Variable), String> {
        Ok((
            model.get(&format!("{ct2}/linear_{index}/weight"))?,
            model.get(&format!("{ct2}/linear_{index}/bias"))?,
        ))
    };
    // (whisper's name, CTranslate2 linear holding it, its block, blocks stacked there)
    let parts: [(&str, usize, usize, usize); 3] = if is_self {
        [("query", 0, 0, 3), ("key", 0, 1, 3), ("value", 0, 2, 3)]
    } else {
        [("query", 0, 0, 1), ("key", 1, 0, 2), ("value", 1, 1, 2)]
    };
    let out_index = if is_self { 1 } else { 2 };
    for (part, index, block, blocks) in parts {
        let (weight, bias) = fused(index)?;
        let width = weight
            .shape
            .get(1)
            .copied()
            .ok_or_else(|| format!("{ct2}: weight is not a matrix"))?;
        let rows = weight.shape[0] / blocks;
        put(
            format!("{ggml}.{part}.weight"),
            Tensor {
                shape: vec![rows, width],
                values: weight.to_f32_range(block * rows * width, rows * width)?,
            },
        );
        let bias_slice = bias.to_f32_range(block * rows, rows)?;
        if part == "key" {
            if bias_slice.iter().any(|&b| b != 0.0) {
                return Err(format!(
                    "{ct2}: the key projection has a non-zero bias, which whisper.cpp cannot represent"
                ));
            }
        } else {
            put(
                format!("{ggml}.{part}.bias"),
                Tensor {
                    shape: vec![rows],
                    values: bias_slice,
                },
            );
        }
    }
    linear(
        model,
        &format!("{ct2}/linear_{out_index}"),
        &format!("{ggml}.out"),
        put,
    )
}

/// The byte strings of the ordinary (non-special) tokens, in id order: every
/// vocabulary line before `<|endoftext|>`, mapped back from GPT-2's printable byte
/// alphabet to raw bytes.
fn ordinary_tokens(vocabulary: &str) -> Result<Vec<Vec<u8>>, String> {
    let decoder = gpt2_byte_decoder();
    let mut tokens = Vec::new();
    for line in vocabulary.split('\n') {
        if line == "<|endoftext|>" {
            return Ok(tokens);
        }
        let bytes = line
            .chars()
            .map(|c| {
                decoder.get(&c).copied().ok_or_else(|| {
                    format!("token {line:?} has a character outside GPT-2's byte alphabet")
                })
            })
            .collect::<Result<Vec<u8>, String>>()?;
        tokens.push(bytes);
    }
    Err("vocabulary.txt has no <|endoftext|> token".into())
}

/// GPT-2's `bytes_to_unicode` inverted: printable characters stand for themselves,
/// the other bytes for code points from 256 upwards.
fn gpt2_byte_decoder() -> HashMap<char, u8> {
    let printable = |b: u8| {
        (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b)
    };
    let mut decoder = HashMap::new();
    let mut next = 256u32;
    for byte in 0..=255u8 {
        let c = if printable(byte) {
            char::from(byte)
        } else {
            let c = char::from_u32(next).unwrap_or(char::REPLACEMENT_CHARACTER);
            next += 1;
            c
        };
        decoder.insert(c, byte);
    }
    decoder
}

struct GgmlWriter<'a, W: Write> {
    out: &'a mut W,
}

impl<W: Write> GgmlWriter<'_, W> {
    fn bytes(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.out.write_all(bytes).map_err(|e| e.to_string())
    }

    fn i32(&mut self, value: i32) -> Result<(), String> {
        self.bytes(&value.to_le_bytes())
    }

    /// whisper.cpp wants matrices in f16 except the conv biases and the positional
    /// embeddings, and vectors in f32 (the same rule as whisper.cpp's own converter).
    fn tensor(&mut self, name: &str, tensor: &Tensor) -> Result<(), String> {
        let n_dims = tensor.shape.len();
        let keep_f32 = n_dims < 2
            || name.ends_with("conv1.bias")
            || name.ends_with("conv2.bias")
            || name.ends_with("positional_embedding");
        self.i32(n_dims as i32)?;
        self.i32(name.len() as i32)?;
        self.i32(if keep_f32 { 0 } else { 1 })?;
        for &dim in tensor.shape.iter().rev() {
            self.i32(dim as i32)?;
        }
        self.bytes(name.as_bytes())?;
        let mut data = Vec::with_capacity(tensor.values.len() * if keep_f32 { 4 } else { 2 });
        for &value in &tensor.values {
            if keep_f32 {
                data.extend_from_slice(&value.to_le_bytes());
            } else {
                data.extend_from_slice(&half::f16::from_f32(value).to_le_bytes());
            }
        }
        self.bytes(&data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_decoder_covers_every_byte_once() {
        let decoder = gpt2_byte_decoder();
        assert_eq!(decoder.len(), 256);
        assert_eq!(decoder[&'Ġ'], b' ');
        assert_eq!(decoder[&'Ċ'], b'\n');
        assert_eq!(decoder[&'a'], b'a');
    }

    #[test]
    fn tokens_stop_before_the_special_ones() {
        let tokens = ordinary_tokens("a\nĠthe\n<|endoftext|>\n<|startoftranscript|>").unwrap();
        assert_eq!(tokens, vec![b"a".to_vec(), b" the".to_vec()]);
        assert!(ordinary_tokens("a\nb").is_err());
    }
}
