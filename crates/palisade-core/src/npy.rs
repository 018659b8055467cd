//! The framing of NumPy's `.npy` format: the magic, the version, where the header's Python
//! dict literal lies, and the text of one of its fields. The model scanner reads object
//! dtypes' pickles with it; the guard reads training matrices.

pub const MAGIC: &[u8] = b"\x93NUMPY";

/// The version, and the header's offset and length, from the file's first bytes (12 are
/// enough for every version).
pub fn header_span(first: &[u8]) -> Result<((u8, u8), usize, usize), String> {
    if !first.starts_with(MAGIC) {
        return Err("not a .npy file".into());
    }
    let truncated = || "truncated .npy header".to_string();
    let version = (
        *first.get(6).ok_or_else(truncated)?,
        *first.get(7).ok_or_else(truncated)?,
    );
    let (len, start) = match version.0 {
        1 => {
            let b = first.get(8..10).ok_or_else(truncated)?;
            (u16::from_le_bytes([b[0], b[1]]) as usize, 10)
        }
        2 | 3 => {
            let b = first.get(8..12).ok_or_else(truncated)?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
        }
        v => return Err(format!(".npy format version {v} is not one NumPy writes")),
    };
    if len > 1 << 24 {
        return Err(format!(".npy header of {len} bytes is implausibly large"));
    }
    Ok((version, start, len))
}

/// The source text of `key`'s value in the header dict: a quoted string without its quotes,
/// a list or tuple up to its matching bracket, or a bare word (`False`).
pub fn field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = header[at + key.len() + 2..]
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    if let Some(q @ ('\'' | '"')) = rest.chars().next() {
        let inner = &rest[1..];
        return Some(&inner[..inner.find(q)?]);
    }
    if rest.starts_with(['[', '(']) {
        let mut depth = 0;
        for (k, c) in rest.char_indices() {
            match c {
                '[' | '(' => depth += 1,
                ']' | ')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(&rest[..=k]);
                    }
                }
                _ => {}
            }
        }
        return None;
    }
    Some(rest[..rest.find([',', '}'])?].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str =
        "{'descr': [('a', '<i4'), ('b', '|O')], 'fortran_order': False, 'shape': (2, 3), }";

    #[test]
    fn fields_of_every_shape() {
        assert_eq!(field(HEADER, "descr"), Some("[('a', '<i4'), ('b', '|O')]"));
        assert_eq!(field(HEADER, "fortran_order"), Some("False"));
        assert_eq!(field(HEADER, "shape"), Some("(2, 3)"));
        assert_eq!(field("{'descr': '<f8', }", "descr"), Some("<f8"));
        assert_eq!(field(HEADER, "missing"), None);
    }

    #[test]
    fn spans_by_version() {
        let mut v1 = MAGIC.to_vec();
        v1.extend([1, 0, 0x76, 0]);
        assert_eq!(header_span(&v1), Ok(((1, 0), 10, 0x76)));
        let mut v2 = MAGIC.to_vec();
        v2.extend([2, 0, 1, 0, 0, 0]);
        assert_eq!(header_span(&v2), Ok(((2, 0), 12, 1)));
        assert!(header_span(&v2[..10]).unwrap_err().contains("truncated"));
        assert!(header_span(b"PK\x03\x04").is_err());
    }
}
