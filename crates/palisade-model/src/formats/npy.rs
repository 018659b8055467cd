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

pub use palisade_core::npy::MAGIC;

/// Parse the header; `Err` says what is wrong with it.
pub fn read(blob: &Blob) -> Result<Npy, String> {
    let first = blob
        .bytes(0, blob.len().min(12) as usize)
        .ok()
        .flatten()
        .ok_or("truncated .npy header")?;
    let (version, start, len) = palisade_core::npy::header_span(&first)?;
    let text = blob
        .bytes(start as u64, len)
        .ok()
        .flatten()
        .ok_or("the .npy header runs past the end of the file")?;
    let text = String::from_utf8_lossy(&text);
    let descr = palisade_core::npy::field(&text, "descr")
        .ok_or("the .npy header has no 'descr'")?
        .to_string();
    let objects = descr_has_objects(&descr);
    Ok(Npy {
        version,
        descr,
        objects,
        data: (start + len) as u64,
    })
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
