//! Training data for `palisade guard profile`: numeric CSV and NumPy `.npy` matrices.
//!
//! Both become a [`Matrix`] of `f64` rows. Errors name the file and the line/column (CSV) or
//! header field (`.npy`) that is wrong; nothing is guessed silently.

use palisade_core::npy;
use std::path::Path;

/// Rows of equal length, stored flat.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub cols: usize,
    pub data: Vec<f64>,
    /// Column names from a CSV header.
    pub names: Option<Vec<String>>,
}

impl Matrix {
    pub fn rows(&self) -> usize {
        self.data.len().checked_div(self.cols).unwrap_or(0)
    }

    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }
}

/// Which CSV column holds the label, to leave out of the features.
#[derive(Debug, Clone)]
pub enum Column {
    Index(usize),
    Name(String),
}

/// Reads `.npy` files by content (their magic), anything else as CSV.
pub fn read(path: &Path, label: Option<&Column>) -> Result<Matrix, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let m = if bytes.starts_with(npy::MAGIC) {
        if label.is_some() {
            return Err(format!(
                "{}: --label-column applies to CSV files; a .npy file holds features only",
                path.display()
            ));
        }
        npy(&bytes)
    } else {
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| format!("not UTF-8 text at byte {}", e.valid_up_to()))
            .map_err(|e| format!("{}: {e} (expected CSV or .npy)", path.display()))?;
        csv(text, label)
    };
    let m = m.map_err(|e| format!("{}: {e}", path.display()))?;
    if m.rows() == 0 {
        return Err(format!("{}: no data rows", path.display()));
    }
    Ok(m)
}

/// Comma-separated numbers; a first line with any non-numeric field is the header.
pub fn csv(text: &str, label: Option<&Column>) -> Result<Matrix, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .peekable();
    let mut names = None;
    if let Some((_, first)) = lines.peek()
        && first.split(',').any(|f| f.trim().parse::<f64>().is_err())
    {
        names = Some(
            first
                .split(',')
                .map(|f| f.trim().trim_matches('"').to_string())
                .collect::<Vec<_>>(),
        );
        lines.next();
    }
    let skip = match label {
        None => None,
        Some(Column::Index(i)) => Some(*i),
        Some(Column::Name(n)) => Some(
            names
                .as_ref()
                .and_then(|h| h.iter().position(|h| h == n))
                .ok_or_else(|| format!("label column '{n}' is not in the header"))?,
        ),
    };
    let mut width = names.as_ref().map(Vec::len);
    let mut data = Vec::new();
    for (i, line) in lines {
        let fields: Vec<&str> = line.split(',').collect();
        match width {
            None => width = Some(fields.len()),
            Some(w) if w != fields.len() => {
                return Err(format!(
                    "line {}: {} fields where the first row has {w}",
                    i + 1,
                    fields.len()
                ));
            }
            _ => {}
        }
        for (c, f) in fields.iter().enumerate() {
            if Some(c) == skip {
                continue;
            }
            let v: f64 = f.trim().parse().map_err(|_| {
                format!(
                    "line {}, column {}: '{}' is not a number",
                    i + 1,
                    c + 1,
                    f.trim()
                )
            })?;
            data.push(v);
        }
    }
    let width = width.unwrap_or(0);
    if let Some(s) = skip
        && s >= width
    {
        return Err(format!(
            "label column {s} is past the last column ({width} columns)"
        ));
    }
    let cols = width - usize::from(skip.is_some());
    if cols == 0 {
        return Err("no feature columns".into());
    }
    let names = names.map(|mut n| {
        if let Some(s) = skip {
            n.remove(s);
        }
        n
    });
    Ok(Matrix { cols, data, names })
}

/// A 1-D (one feature) or N-D array (rows × the product of the other dimensions), C or
/// Fortran order, of little-endian floats or integers.
pub fn npy(bytes: &[u8]) -> Result<Matrix, String> {
    let (_, start, header_len) = npy::header_span(&bytes[..bytes.len().min(12)])?;
    let header = bytes
        .get(start..start + header_len)
        .ok_or("the header runs past the end of the file")?;
    let header = String::from_utf8_lossy(header);
    let descr = npy::field(&header, "descr").ok_or("the header has no 'descr'")?;
    let fortran =
        npy::field(&header, "fortran_order").ok_or("the header has no 'fortran_order'")?;
    let fortran = match fortran {
        "True" => true,
        "False" => false,
        other => return Err(format!("fortran_order '{other}' is not True or False")),
    };
    let shape_text = npy::field(&header, "shape").ok_or("the header has no 'shape'")?;
    let shape: Vec<usize> = shape_text
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("shape {shape_text} is not a tuple of sizes"))
        })
        .collect::<Result<_, _>>()?;
    let (rows, cols) = match shape.as_slice() {
        [] => return Err("a 0-d array holds no rows".into()),
        [n] => (*n, 1),
        [n, rest @ ..] => (
            *n,
            rest.iter()
                .try_fold(1usize, |a, b| a.checked_mul(*b))
                .ok_or("shape overflows")?,
        ),
    };
    let (size, read): (usize, fn(&[u8]) -> f64) = match descr {
        "<f8" => (8, |b| f64::from_le_bytes(b.try_into().unwrap_or_default())),
        "<f4" => (4, |b| {
            f32::from_le_bytes(b.try_into().unwrap_or_default()) as f64
        }),
        "<i8" => (8, |b| {
            i64::from_le_bytes(b.try_into().unwrap_or_default()) as f64
        }),
        "<i4" => (4, |b| {
            i32::from_le_bytes(b.try_into().unwrap_or_default()) as f64
        }),
        "<i2" => (2, |b| {
            i16::from_le_bytes(b.try_into().unwrap_or_default()) as f64
        }),
        "<u2" => (2, |b| {
            u16::from_le_bytes(b.try_into().unwrap_or_default()) as f64
        }),
        "|u1" => (1, |b| b[0] as f64),
        "|i1" => (1, |b| b[0] as i8 as f64),
        other => {
            return Err(format!(
                "dtype '{other}' is not supported (little-endian float64/32 or integers)"
            ));
        }
    };
    let count = rows.checked_mul(cols).ok_or("shape overflows")?;
    let body = &bytes[start + header_len..];
    let need = count.checked_mul(size).ok_or("shape overflows")?;
    if body.len() < need {
        return Err(format!(
            "the shape {shape:?} needs {need} data bytes, the file has {}",
            body.len()
        ));
    }
    let flat: Vec<f64> = body[..need].chunks_exact(size).map(read).collect();
    let data = if fortran && cols > 1 {
        // Column-major for a 2-D array: element (r, c) at c * rows + r.
        if shape.len() > 2 {
            return Err(
                "Fortran-ordered arrays of more than two dimensions are not supported".into(),
            );
        }
        let mut d = vec![0.0; count];
        for r in 0..rows {
            for c in 0..cols {
                d[r * cols + c] = flat[c * rows + r];
            }
        }
        d
    } else {
        flat
    };
    Ok(Matrix {
        cols,
        data,
        names: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_header_and_label() {
        let m = csv(
            "a,label,b\n1,0,2\n3,1,4.5\n\n",
            Some(&Column::Name("label".into())),
        )
        .unwrap();
        assert_eq!(m.cols, 2);
        assert_eq!(m.data, [1.0, 2.0, 3.0, 4.5]);
        assert_eq!(m.names.unwrap(), ["a", "b"]);
    }

    #[test]
    fn csv_errors_say_where() {
        assert_eq!(
            csv("1,2\n3\n", None).unwrap_err(),
            "line 2: 1 fields where the first row has 2"
        );
        assert_eq!(
            csv("1,2\n3,x\n", None).unwrap_err(),
            "line 2, column 2: 'x' is not a number"
        );
    }

    fn npy_bytes(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut h = format!(
            "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
            if fortran { "True" } else { "False" }
        );
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut b = npy::MAGIC.to_vec();
        b.extend([1, 0]);
        b.extend((h.len() as u16).to_le_bytes());
        b.extend(h.as_bytes());
        b.extend(data);
        b
    }

    #[test]
    fn npy_orders_and_dtypes() {
        let data: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let c = npy(&npy_bytes("<f4", false, "(2, 3)", &data)).unwrap();
        assert_eq!((c.rows(), c.cols), (2, 3));
        assert_eq!(c.row(1), [4.0, 5.0, 6.0]);
        let f = npy(&npy_bytes("<f4", true, "(2, 3)", &data)).unwrap();
        assert_eq!(f.row(0), [1.0, 3.0, 5.0]);
        let img = npy(&npy_bytes("|u1", false, "(1, 2, 2)", &[0, 1, 2, 255])).unwrap();
        assert_eq!(img.row(0), [0.0, 1.0, 2.0, 255.0]);
        let short = npy(&npy_bytes("<f8", false, "(2, 3)", &data)).unwrap_err();
        assert!(short.contains("needs 48 data bytes"), "{short}");
        let odd = npy(&npy_bytes(">f8", false, "(1,)", &[0; 8])).unwrap_err();
        assert!(odd.contains("'>f8'"), "{odd}");
    }
}
