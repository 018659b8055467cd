//! NumPy `.npy` files: the header (`{'descr': …, 'fortran_order': …, 'shape': …}`), and
//! where the data starts. Arrays with Python objects store a pickle as their data.

use crate::input::Blob;

#[derive(Debug, PartialEq, Eq)]
pub struct Npy {
    pub version: (u8, u8),
    pub descr: String,
    /// The dtype holds Python objects: the data is a pickle.
    pub objects: bool,
    /// Offset of the data.
    pub data: u64,
}

pub const MAGIC: &[u8] = b"\x93NUMPY";

/// Parse the header; `Err` says what is wrong with it.
pub fn read(blob: &Blob) -> Result<Npy, String> {
    let h = blob
        .bytes(0, 10)
        .ok()
        .flatten()
        .ok_or("truncated .npy header")?;
    if &h[..6] != MAGIC {
        return Err("not a .npy file".into());
    }
    let version = (h[6], h[7]);
    let (len, start) = match version.0 {
        1 => (u16::from_le_bytes([h[8], h[9]]) as u64, 10),
        2 | 3 => {
            let b = blob
                .bytes(8, 4)
                .ok()
                .flatten()
                .ok_or("truncated .npy header")?;
            (u32::from_le_bytes(b.try_into().expect("4")) as u64, 12)
        }
        v => return Err(format!(".npy format version {v} is not one NumPy writes")),
    };
    if len > 1 << 24 {
        return Err(format!(".npy header of {len} bytes is implausibly large"));
    }
    let text = blob
        .bytes(start, len as usize)
        .ok()
        .flatten()
        .ok_or("the .npy header runs past the end of the file")?;
    let text = String::from_utf8_lossy(&text).into_owned();
    let descr = descr(&text).ok_or("the .npy header has no 'descr'")?;
    let objects = descr_has_objects(&descr);
    Ok(Npy {
        version,
        descr,
        objects,
        data: start + len,
    })
}

/// The `'descr'` value's source text.
fn descr(header: &str) -> Option<String> {
    let i = header.find("'descr'")? + "'descr'".len();
    let rest = header[i..].trim_start().strip_prefix(':')?.trim_start();
    if let Some(r) = rest.strip_prefix('\'') {
        return Some(r[..r.find('\'')?].to_string());
    }
    // structured: a list up to the matching bracket
    let mut depth = 0;
    for (k, c) in rest.char_indices() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(rest[..=k].to_string());
                }
            }
            _ => {}
        }
    }
    None
}

fn descr_has_objects(d: &str) -> bool {
    d.split(['\'', '"']).any(|t| {
        matches!(
            t.trim_start_matches(['<', '>', '|', '=']),
            "O" | "O8" | "O4"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(header: &str) -> Blob {
        let mut v = MAGIC.to_vec();
        v.extend([1, 0]);
        v.extend((header.len() as u16).to_le_bytes());
        v.extend(header.as_bytes());
        Blob::from_vec(v)
    }

    #[test]
    fn object_dtypes_are_told_apart() {
        let n = read(&npy(
            "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }",
        ))
        .unwrap();
        assert!(n.objects);
        let n = read(&npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
        ))
        .unwrap();
        assert!(!n.objects);
        let n = read(&npy(
            "{'descr': [('a', '<i4'), ('b', '|O')], 'fortran_order': False, 'shape': (2,), }",
        ))
        .unwrap();
        assert!(n.objects);
    }
}
