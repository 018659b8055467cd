//! safetensors: an 8-byte little-endian header length, a JSON header, then the tensor bytes.
//! Validated the way the reference implementation validates before it maps anything: size
//! limits, known dtypes, offsets in bounds, sizes that match shapes, no overlap, no gap.

use crate::input::Blob;
use serde_json::Value;

/// A header that passed validation.
#[derive(Debug)]
pub struct Header {
    pub tensors: usize,
    pub metadata: usize,
    pub data_bytes: u64,
}

/// Does the blob start like a safetensors file (length, then `{`)?
pub fn sniff(head: &[u8], file_len: u64) -> bool {
    if head.len() < 9 {
        return false;
    }
    let n = u64::from_le_bytes(head[..8].try_into().expect("8"));
    n >= 2 && n.saturating_add(8) <= file_len && head[8] == b'{'
}

fn dtype_bits(d: &str) -> Option<u64> {
    Some(match d {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" | "C64" => 64,
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        _ => return None,
    })
}

/// Validate the header; `Err` lists what is wrong, each with the tensor it concerns.
pub fn validate(blob: &Blob, max_header: u64) -> Result<Header, Vec<String>> {
    let len = blob.len();
    let Some(h) = blob.bytes(0, 8).ok().flatten() else {
        return Err(vec!["shorter than the 8-byte header length".into()]);
    };
    let n = u64::from_le_bytes(h.try_into().expect("8"));
    if n > max_header {
        return Err(vec![format!(
            "header length {n} exceeds the limit of {max_header} bytes"
        )]);
    }
    if n.saturating_add(8) > len {
        return Err(vec![format!(
            "header length {n} runs past the end of the file ({len} bytes)"
        )]);
    }
    let text = match blob.bytes(8, n as usize) {
        Ok(Some(t)) => t,
        _ => return Err(vec!["the header could not be read".into()]),
    };
    let doc: Value = match serde_json::from_slice(&text) {
        Ok(v) => v,
        Err(e) => return Err(vec![format!("the header is not valid JSON: {e}")]),
    };
    let Value::Object(map) = doc else {
        return Err(vec!["the header is not a JSON object".into()]);
    };
    let data_len = len - 8 - n;
    let mut errs = Vec::new();
    let mut spans: Vec<(u64, u64, String)> = Vec::new();
    let mut metadata = 0;
    for (name, t) in &map {
        if name == "__metadata__" {
            match t {
                Value::Object(m) if m.values().all(Value::is_string) => metadata = m.len(),
                _ => errs.push("__metadata__ must map strings to strings".into()),
            }
            continue;
        }
        let dtype = t.get("dtype").and_then(Value::as_str);
        let shape: Option<Vec<u64>> = t
            .get("shape")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(Value::as_u64).collect());
        let offs: Option<Vec<u64>> = t
            .get("data_offsets")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(Value::as_u64).collect());
        let (Some(dtype), Some(shape), Some(offs)) = (dtype, shape, offs) else {
            errs.push(format!(
                "tensor '{name}' lacks a valid dtype, shape or data_offsets"
            ));
            continue;
        };
        let Some(bits) = dtype_bits(dtype) else {
            errs.push(format!("tensor '{name}' has unknown dtype '{dtype}'"));
            continue;
        };
        if offs.len() != 2 || offs[0] > offs[1] {
            errs.push(format!("tensor '{name}' has invalid data_offsets {offs:?}"));
            continue;
        }
        if offs[1] > data_len {
            errs.push(format!(
                "tensor '{name}' ends at {} beyond the {data_len} data bytes",
                offs[1]
            ));
            continue;
        }
        let elems = shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .and_then(|e| e.checked_mul(bits));
        match elems {
            Some(b) if b.div_ceil(8) == offs[1] - offs[0] => {}
            Some(b) => errs.push(format!(
                "tensor '{name}' is {} bytes by its offsets but its shape {shape:?} of {dtype} needs {}",
                offs[1] - offs[0],
                b.div_ceil(8)
            )),
            None => errs.push(format!("tensor '{name}' has a shape that overflows")),
        }
        spans.push((offs[0], offs[1], name.clone()));
    }
    spans.sort();
    let mut at = 0;
    for (b, e, name) in &spans {
        if *b < at {
            errs.push(format!("tensor '{name}' overlaps the tensor before it"));
        } else if *b > at {
            errs.push(format!(
                "{} unreferenced bytes before tensor '{name}' (data can hide there)",
                b - at
            ));
        }
        at = at.max(*e);
    }
    if errs.is_empty() && at != data_len {
        errs.push(format!(
            "{} bytes after the last tensor are not referenced by the header (data can hide there)",
            data_len - at
        ));
    }
    if errs.is_empty() {
        Ok(Header {
            tensors: spans.len(),
            metadata,
            data_bytes: data_len,
        })
    } else {
        Err(errs)
    }
}
