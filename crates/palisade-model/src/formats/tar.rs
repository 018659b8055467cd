//! tar archives (ustar, GNU long names, pax headers skipped): the regular files' names and
//! where their bytes are. Member data is not read here.

use crate::input::Blob;

#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub data: u64,
    pub size: u64,
}

/// Does the blob start with a ustar header?
pub fn sniff(head: &[u8]) -> bool {
    head.len() >= 262 && &head[257..262] == b"ustar"
}

fn octal(b: &[u8]) -> Option<u64> {
    let s: String = b
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as char)
        .collect();
    let s = s.trim();
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// The regular files of the archive; `Err` when a header is corrupt (entries before it kept).
pub fn read(blob: &Blob, max_members: usize) -> (Vec<Entry>, Option<String>) {
    let mut out = Vec::new();
    let mut off = 0u64;
    let mut long_name: Option<String> = None;
    while off + 512 <= blob.len() {
        let Some(h) = blob.bytes(off, 512).ok().flatten() else {
            break;
        };
        if h.iter().all(|&c| c == 0) {
            break;
        }
        let Some(size) = octal(&h[124..136]) else {
            return (out, Some(format!("corrupt tar header at offset {off}")));
        };
        let kind = h[156];
        let data = off + 512;
        if data.saturating_add(size) > blob.len() {
            return (
                out,
                Some(format!("tar member at offset {off} runs past the end")),
            );
        }
        match kind {
            b'L' => {
                long_name = blob
                    .bytes(data, size.min(4096) as usize)
                    .ok()
                    .flatten()
                    .map(|b| cstr(&b));
            }
            b'0' | 0 | b'7' => {
                let name = long_name.take().unwrap_or_else(|| {
                    let prefix = cstr(&h[345..500]);
                    let base = cstr(&h[..100]);
                    if prefix.is_empty() {
                        base
                    } else {
                        format!("{prefix}/{base}")
                    }
                });
                if out.len() >= max_members {
                    return (
                        out,
                        Some(format!(
                            "more than {max_members} members (limit 'max_members')"
                        )),
                    );
                }
                out.push(Entry { name, data, size });
            }
            _ => long_name = None,
        }
        off = data + size.div_ceil(512) * 512;
    }
    (out, None)
}
