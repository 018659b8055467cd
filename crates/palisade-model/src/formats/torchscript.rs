//! TorchScript archives: the `code/` members hold the model's TorchScript source, which
//! `torch.jit.load` compiles and runs (`__setstate__` at load, `forward` per request). The
//! source is tokenised (string literals skipped) and calls of the builtins that reach the file
//! system are reported: `aten::from_file` (maps a file; with `shared=True` it creates and
//! writes it) and `aten::save` (writes a file). No other TorchScript builtin takes a path.

/// One call of a file-system builtin in TorchScript source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOp {
    pub line: usize,
    /// The name as written (`torch.from_file`, `ops.aten.save`).
    pub callee: String,
    /// The path when the call spells it as a string literal.
    pub target: Option<String>,
}

/// Is this zip member TorchScript source (`<archive>/code/…/*.py`)?
pub fn is_code(name: &str) -> bool {
    name.ends_with(".py") && (name.starts_with("code/") || name.contains("/code/"))
}

const FILE_BUILTINS: &[&str] = &["from_file", "save"];
const NAMESPACES: &[&str] = &["torch", "ops.aten", "torch.ops.aten"];

/// Calls of file-system builtins in `src`.
pub fn file_ops(src: &str) -> Vec<FileOp> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1;
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            line += 1;
            i += 1;
        } else if c == b'"' || c == b'\'' {
            let (end, _) = literal(b, i);
            line += b[i..end].iter().filter(|&&x| x == b'\n').count();
            i = end;
        } else if c == b'#' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                i += 1;
            }
            let name = &src[start..i];
            let mut j = i;
            while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
                j += 1;
            }
            if j < b.len() && b[j] == b'(' && is_file_builtin(name) {
                out.push(FileOp {
                    line,
                    callee: name.to_string(),
                    target: first_string_arg(b, j + 1),
                });
            }
        } else {
            i += 1;
        }
    }
    out
}

fn is_file_builtin(name: &str) -> bool {
    let Some((ns, f)) = name.rsplit_once('.') else {
        return false;
    };
    FILE_BUILTINS.contains(&f) && NAMESPACES.contains(&ns)
}

/// The end of the string literal starting at `i` and its decoded text (simple escapes).
fn literal(b: &[u8], i: usize) -> (usize, String) {
    let q = b[i];
    let mut j = i + 1;
    let mut s = Vec::new();
    while j < b.len() && b[j] != q {
        if b[j] == b'\\' && j + 1 < b.len() {
            j += 1;
        }
        s.push(b[j]);
        j += 1;
    }
    (
        (j + 1).min(b.len()),
        String::from_utf8_lossy(&s).into_owned(),
    )
}

/// The first string literal among the call's arguments (the path: first for `from_file`,
/// second for `save`).
fn first_string_arg(b: &[u8], mut i: usize) -> Option<String> {
    let mut depth = 0usize;
    while i < b.len() {
        match b[i] {
            b'"' | b'\'' => return Some(literal(b, i).1),
            b'(' | b'[' => depth += 1,
            b')' | b']' if depth == 0 => return None,
            b')' | b']' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_file_builtins_and_their_paths() {
        let src = "def __setstate__(self, state: Tuple[int, bool]) -> NoneType:\n    _0 = torch.fill_(torch.from_file(\"/tmp/x\", True, 4, dtype=0), 65)\n    ops.aten.save(_0, '/etc/cron.d/x')\n    return None\n";
        let ops = file_ops(src);
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].line, 2);
        assert_eq!(ops[0].callee, "torch.from_file");
        assert_eq!(ops[0].target.as_deref(), Some("/tmp/x"));
        assert_eq!(ops[1].callee, "ops.aten.save");
        assert_eq!(ops[1].target.as_deref(), Some("/etc/cron.d/x"));
    }

    #[test]
    fn names_in_strings_and_other_namespaces_are_not_calls() {
        let src = "x = \"torch.from_file(1)\"\ny = self.save(x)\nz = torch.saved(x)\n";
        assert!(file_ops(src).is_empty());
    }
}
