//! Reading an input's text safely: a size cap (nothing larger is read into memory), binary
//! detection, UTF-8 validation with the line of the first bad byte, and a leading BOM dropped.
//! Every analyser reads its files through here, so each reports these problems the same way.

use std::io::Read;

/// Why an input's bytes are not text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotText {
    /// A NUL byte in the first 8 KiB.
    Binary,
    /// Invalid UTF-8, first seen on this line.
    NotUtf8 { line: usize },
}

/// Read at most `limit` bytes; more is an error that says how to raise the limit.
pub fn read_limited(mut r: impl Read, limit: u64) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    r.by_ref()
        .take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read: {e}"))?;
    if buf.len() as u64 > limit {
        return Err(format!(
            "larger than the {limit}-byte limit; not analysed (raise max_file_size in palisade.toml)"
        ));
    }
    Ok(buf)
}

/// Read a file with [`read_limited`].
pub fn read_file(path: &std::path::Path, limit: u64) -> Result<Vec<u8>, String> {
    std::fs::File::open(path)
        .map_err(|e| format!("cannot open: {e}"))
        .and_then(|f| read_limited(f, limit))
}

/// Turn bytes into text.
pub fn decode(bytes: Vec<u8>) -> Result<String, NotText> {
    if bytes.iter().take(8192).any(|&b| b == 0) {
        return Err(NotText::Binary);
    }
    match String::from_utf8(bytes) {
        Ok(mut s) => {
            if s.starts_with('\u{feff}') {
                s.drain(..3);
            }
            Ok(s)
        }
        Err(e) => {
            let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let line = good.iter().filter(|&&b| b == b'\n').count() + 1;
            Err(NotText::NotUtf8 { line })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(decode(b"\xef\xbb\xbfa: 1".to_vec()), Ok("a: 1".to_string()));
        assert_eq!(decode(b"a\0b".to_vec()), Err(NotText::Binary));
        assert_eq!(
            decode(b"a\nb\n\xff".to_vec()),
            Err(NotText::NotUtf8 { line: 3 })
        );
        assert!(read_limited(&b"abcdef"[..], 3).is_err());
        assert_eq!(read_limited(&b"abc"[..], 3).unwrap(), b"abc");
    }
}
