//! ONNX models (protobuf `ModelProto`), read field by field from the file: the operator
//! domains (opset imports and every node, subgraphs included) and the tensors whose data lives
//! in external files. Tensor bytes (`raw_data`) are stepped over, never read.

use crate::input::{Blob, Cursor};

/// What the model references outside itself.
#[derive(Debug, Default)]
pub struct Onnx {
    pub ir_version: u64,
    pub nodes: usize,
    pub initializers: usize,
    /// Operator domains used by nodes or imported (besides the standard ones).
    pub domains: Vec<String>,
    /// (tensor name, external data location).
    pub external: Vec<(String, String)>,
}

/// The operator domains ONNX runtimes implement themselves.
pub fn is_standard_domain(d: &str) -> bool {
    matches!(
        d,
        "" | "ai.onnx" | "ai.onnx.ml" | "ai.onnx.training" | "ai.onnx.preview.training"
    )
}

/// A protobuf reader over a cursor: fields are walked in place, unwanted ones skipped.
pub struct Pb<'a, 'c> {
    cur: &'a mut Cursor<'c>,
}

const MAX_STRING: u64 = 1 << 20;

/// Called for each length-delimited field: (reader, field number, length, depth) → whether it
/// consumed the field.
pub type FieldFn<'f, 'a, 'c> =
    dyn FnMut(&mut Pb<'a, 'c>, u64, u64, usize) -> Result<bool, String> + 'f;

impl<'a, 'c> Pb<'a, 'c> {
    pub fn new(cur: &'a mut Cursor<'c>) -> Self {
        Pb { cur }
    }

    pub fn pos(&self) -> u64 {
        self.cur.pos()
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = match self.cur.take(1) {
                Ok(Some(b)) => b[0],
                _ => return Err("truncated varint".into()),
            };
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }

    fn skip(&mut self, n: u64) -> Result<(), String> {
        match self.cur.skip(n) {
            Ok(true) => Ok(()),
            _ => Err("field runs past the end of the file".into()),
        }
    }

    pub fn string(&mut self, n: u64) -> Result<String, String> {
        if n > MAX_STRING {
            self.skip(n)?;
            return Ok(String::new());
        }
        match self.cur.take(n as usize) {
            Ok(Some(b)) => Ok(String::from_utf8_lossy(b).into_owned()),
            _ => Err("truncated string".into()),
        }
    }

    /// Walk the fields up to `end`, calling `f(field, len)` for length-delimited ones (it must
    /// consume exactly `len` bytes, or return false to have them skipped).
    pub fn message(
        &mut self,
        end: u64,
        depth: usize,
        f: &mut FieldFn<'_, 'a, 'c>,
    ) -> Result<(), String> {
        if depth > 64 {
            return Err("messages nested more than 64 deep".into());
        }
        while self.cur.pos() < end {
            let tag = self.varint()?;
            let (field, wire) = (tag >> 3, tag & 7);
            match wire {
                0 => {
                    self.varint()?;
                }
                1 => self.skip(8)?,
                5 => self.skip(4)?,
                2 => {
                    let len = self.varint()?;
                    let stop = self.cur.pos().saturating_add(len);
                    if stop > end {
                        return Err(format!("field {field} runs past its message"));
                    }
                    if !f(self, field, len, depth)? {
                        self.skip(len)?;
                    } else if self.cur.pos() != stop {
                        return Err(format!("field {field} was not read to its end"));
                    }
                }
                w => return Err(format!("wire type {w} is not valid protobuf here")),
            }
        }
        if self.cur.pos() != end {
            return Err("message runs past its length".into());
        }
        Ok(())
    }
}

/// Does this look like an ONNX model (ir_version first, as every writer emits it)?
pub fn sniff(head: &[u8]) -> bool {
    head.len() > 4 && head[0] == 0x08 && head[1] > 0 && head[1] < 0x20
}

/// Read the parts of the model that reach outside it.
pub fn read(blob: &Blob) -> Result<Onnx, String> {
    let mut r = blob.reader(0, blob.len());
    let mut cur = Cursor::new(&mut r, 0);
    let mut pb = Pb { cur: &mut cur };
    let mut out = Onnx::default();
    // ModelProto: every writer emits ir_version (field 1, varint) first
    if pb.varint()? != 1 << 3 {
        return Err("does not start with ir_version".into());
    }
    out.ir_version = pb.varint()?;
    pb.message(blob.len(), 0, &mut |pb, f, len, depth| {
        let stop = pb.cur.pos() + len;
        match f {
            // opset_import: OperatorSetIdProto.domain
            8 => {
                pb.message(stop, depth + 1, &mut |pb, f, len, _| {
                    if f != 1 {
                        return Ok(false);
                    }
                    out.note_domain(pb.string(len)?);
                    Ok(true)
                })?;
                Ok(true)
            }
            // graph, functions
            7 | 20 => {
                graph(pb, stop, depth + 1, &mut out)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    })?;
    Ok(out)
}

impl Onnx {
    /// Remember a non-standard operator domain (once).
    fn note_domain(&mut self, d: String) {
        if !is_standard_domain(&d) && !self.domains.contains(&d) {
            self.domains.push(d);
        }
    }
}

/// GraphProto (and FunctionProto, whose nodes are field 6 — both are walked alike).
fn graph(pb: &mut Pb, end: u64, depth: usize, out: &mut Onnx) -> Result<(), String> {
    pb.message(end, depth, &mut |pb, f, len, depth| {
        let stop = pb.cur.pos() + len;
        match f {
            1 | 6 => {
                out.nodes += 1;
                node(pb, stop, depth + 1, out)?;
                Ok(true)
            }
            5 => {
                out.initializers += 1;
                tensor(pb, stop, depth + 1, out)?;
                Ok(true)
            }
            _ => Ok(false),
        }
    })
}

fn node(pb: &mut Pb, end: u64, depth: usize, out: &mut Onnx) -> Result<(), String> {
    pb.message(end, depth, &mut |pb, f, len, depth| {
        let stop = pb.cur.pos() + len;
        match f {
            7 => {
                out.note_domain(pb.string(len)?);
                Ok(true)
            }
            5 => {
                // AttributeProto: subgraphs (g = 6, graphs = 11), tensors (t = 5)
                pb.message(stop, depth + 1, &mut |pb, f, len, depth| {
                    let stop = pb.cur.pos() + len;
                    match f {
                        6 | 11 => {
                            graph(pb, stop, depth + 1, out)?;
                            Ok(true)
                        }
                        5 => {
                            tensor(pb, stop, depth + 1, out)?;
                            Ok(true)
                        }
                        _ => Ok(false),
                    }
                })?;
                Ok(true)
            }
            _ => Ok(false),
        }
    })
}

fn tensor(pb: &mut Pb, end: u64, depth: usize, out: &mut Onnx) -> Result<(), String> {
    let mut name = String::new();
    let mut location = None;
    pb.message(end, depth, &mut |pb, f, len, depth| {
        let stop = pb.cur.pos() + len;
        match f {
            8 => {
                name = pb.string(len)?;
                Ok(true)
            }
            13 => {
                let (mut k, mut v) = (String::new(), String::new());
                pb.message(stop, depth + 1, &mut |pb, f, len, _| match f {
                    1 => {
                        k = pb.string(len)?;
                        Ok(true)
                    }
                    2 => {
                        v = pb.string(len)?;
                        Ok(true)
                    }
                    _ => Ok(false),
                })?;
                if k == "location" {
                    location = Some(v);
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    })?;
    if let Some(l) = location {
        out.external.push((name, l));
    }
    Ok(())
}

/// Does an external-data location leave the model's directory?
pub fn escapes(location: &str) -> bool {
    let l = location.replace('\\', "/");
    l.starts_with('/')
        || l.starts_with("~")
        || l.get(1..3) == Some(":/")
        || l.split('/').any(|s| s == "..")
}
