//! GGUF (llama.cpp) files: the header and the metadata key/values, parsed within limits;
//! tensor data is not read. The chat template (`tokenizer.chat_template`, a Jinja template the
//! serving side renders) is returned for inspection.

use crate::input::Blob;

#[derive(Debug, Default)]
pub struct Gguf {
    pub version: u32,
    pub tensors: u64,
    pub kv: u64,
    pub architecture: Option<String>,
    /// (key, template text) for `tokenizer.chat_template` and `tokenizer.chat_template.*`.
    pub templates: Vec<(String, String)>,
}

const MAX_KV: u64 = 1 << 20;
const MAX_STR: u64 = 64 << 20;
const MAX_ARRAY: u64 = 1 << 28;

struct R<'a> {
    blob: &'a Blob,
    pos: u64,
}

impl R<'_> {
    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, String> {
        let v = self
            .blob
            .bytes(self.pos, n as usize)
            .ok()
            .flatten()
            .ok_or_else(|| format!("truncated at offset {}", self.pos))?;
        self.pos += n;
        Ok(v)
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.bytes(4)?.try_into().expect("4")))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.bytes(8)?.try_into().expect("8")))
    }
    fn string(&mut self) -> Result<String, String> {
        let n = self.u64()?;
        if n > MAX_STR || self.pos.saturating_add(n) > self.blob.len() {
            return Err(format!(
                "a string of {n} bytes at offset {} runs past the file or the limit",
                self.pos - 8
            ));
        }
        Ok(String::from_utf8_lossy(&self.bytes(n)?).into_owned())
    }
    fn skip_value(&mut self, ty: u32) -> Result<Option<String>, String> {
        let fixed = |t: u32| -> Option<u64> {
            Some(match t {
                0 | 1 | 7 => 1,
                2 | 3 => 2,
                4..=6 => 4,
                10..=12 => 8,
                _ => return None,
            })
        };
        match ty {
            8 => Ok(Some(self.string()?)),
            9 => {
                let et = self.u32()?;
                let n = self.u64()?;
                if n > MAX_ARRAY {
                    return Err(format!("an array of {n} items exceeds the limit"));
                }
                if let Some(sz) = fixed(et) {
                    let bytes = n.saturating_mul(sz);
                    if self.pos.saturating_add(bytes) > self.blob.len() {
                        return Err("an array runs past the end of the file".into());
                    }
                    self.pos += bytes;
                } else if et == 8 {
                    for _ in 0..n {
                        let k = self.u64()?;
                        if self.pos.saturating_add(k) > self.blob.len() {
                            return Err("a string in an array runs past the end".into());
                        }
                        self.pos += k;
                    }
                } else {
                    return Err(format!("array of value type {et} is not valid GGUF"));
                }
                Ok(None)
            }
            t => match fixed(t) {
                Some(sz) => {
                    self.bytes(sz)?;
                    Ok(None)
                }
                None => Err(format!("value type {t} is not valid GGUF")),
            },
        }
    }
}

/// Parse the header and metadata; `Err` says what is malformed and where.
pub fn read(blob: &Blob) -> Result<Gguf, String> {
    let mut r = R { blob, pos: 0 };
    if r.bytes(4)? != b"GGUF" {
        return Err("not GGUF".into());
    }
    let mut g = Gguf {
        version: r.u32()?,
        ..Gguf::default()
    };
    if !(1..=3).contains(&g.version) {
        return Err(format!(
            "GGUF version {} is not one llama.cpp reads",
            g.version
        ));
    }
    g.tensors = r.u64()?;
    g.kv = r.u64()?;
    if g.kv > MAX_KV {
        return Err(format!("{} metadata entries exceed the limit", g.kv));
    }
    for _ in 0..g.kv {
        let key = r.string()?;
        let ty = r.u32()?;
        let v = r.skip_value(ty)?;
        if let Some(v) = v {
            if key == "general.architecture" {
                g.architecture = Some(v);
            } else if key.starts_with("tokenizer.chat_template") {
                g.templates.push((key, v));
            }
        }
    }
    Ok(g)
}

/// Template constructs that reach Python internals from Jinja (server-side template
/// injection): attribute walks to classes, globals and builtins, and the helpers used to get
/// there. A chat template needs none of them.
pub fn template_escapes(t: &str) -> Vec<&'static str> {
    const MARKERS: &[&str] = &[
        "__class__",
        "__mro__",
        "__base__",
        "__bases__",
        "__subclasses__",
        "__globals__",
        "__builtins__",
        "__import__",
        "__init__",
        "__dict__",
        "__getattribute__",
        "func_globals",
        "os.popen",
        "os.system",
        "subprocess",
        "lipsum",
        "cycler",
        "joiner",
        "|attr(",
        "| attr(",
        "request.application",
        "config.items",
        "self._TemplateReference",
    ];
    MARKERS.iter().copied().filter(|m| t.contains(m)).collect()
}
