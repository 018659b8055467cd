//! TensorFlow SavedModel (`saved_model.pb`): the op of every node in every meta graph and in
//! every function of the graph library, read from the protobuf without TensorFlow. Constant
//! tensors are stepped over.

use super::onnx::Pb;
use crate::input::{Blob, Cursor};
use std::collections::BTreeMap;

/// Ops that touch the file system or call back into Python when the graph runs.
pub fn concern(op: &str) -> Option<&'static str> {
    Some(match op {
        "PyFunc" | "PyFuncStateless" | "EagerPyFunc" => {
            "calls a Python function registered in the loading process"
        }
        "ReadFile" => "reads any file the serving process can read",
        "WriteFile" => "writes a file wherever the serving process can write",
        "MatchingFiles" => "lists files matching a pattern (directory discovery)",
        "ImmutableConst" => "memory-maps a file named in the graph",
        _ => return None,
    })
}

/// Does the name say SavedModel? (`saved_model.pb`; the content is protobuf, which has no magic)
pub fn named(name: &str) -> bool {
    name == "saved_model.pb" || name.ends_with("/saved_model.pb")
}

/// Every op name used and how many nodes use it.
pub fn ops(blob: &Blob) -> Result<BTreeMap<String, usize>, String> {
    let mut r = blob.reader(0, blob.len());
    let mut cur = Cursor::new(&mut r, 0);
    let mut pb = Pb::new(&mut cur);
    let mut out = BTreeMap::new();
    // SavedModel: 2 meta_graphs → MetaGraphDef: 2 graph_def → GraphDef: 1 node, 2 library →
    // FunctionDefLibrary: 1 function → FunctionDef: 3 node_def. NodeDef: 2 op.
    pb.message(blob.len(), 0, &mut |pb, f, len, d| {
        let stop = pb.pos() + len;
        if f != 2 {
            return Ok(false);
        }
        pb.message(stop, d + 1, &mut |pb, f, len, d| {
            let stop = pb.pos() + len;
            if f != 2 {
                return Ok(false);
            }
            graph(pb, stop, d + 1, &mut out)?;
            Ok(true)
        })?;
        Ok(true)
    })?;
    Ok(out)
}

fn graph(
    pb: &mut Pb,
    end: u64,
    depth: usize,
    out: &mut BTreeMap<String, usize>,
) -> Result<(), String> {
    pb.message(end, depth, &mut |pb, f, len, d| {
        let stop = pb.pos() + len;
        match f {
            1 => {
                node(pb, stop, d + 1, out)?;
                Ok(true)
            }
            2 => {
                pb.message(stop, d + 1, &mut |pb, f, len, d| {
                    let stop = pb.pos() + len;
                    if f != 1 {
                        return Ok(false);
                    }
                    pb.message(stop, d + 1, &mut |pb, f, len, d| {
                        let stop = pb.pos() + len;
                        if f != 3 {
                            return Ok(false);
                        }
                        node(pb, stop, d + 1, out)?;
                        Ok(true)
                    })?;
                    Ok(true)
                })?;
                Ok(true)
            }
            _ => Ok(false),
        }
    })
}

fn node(
    pb: &mut Pb,
    end: u64,
    depth: usize,
    out: &mut BTreeMap<String, usize>,
) -> Result<(), String> {
    pb.message(end, depth, &mut |pb, f, len, _| {
        if f == 2 {
            let op = pb.string(len)?;
            *out.entry(op).or_default() += 1;
            return Ok(true);
        }
        Ok(false)
    })
}
