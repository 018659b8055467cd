//! The scanner's own safety: bombs, deep nesting, pathological pickles and damaged files end in
//! a named limit or a finding, never a crash, a hang or unbounded memory.

use palisade_core::walk::Input;
use palisade_model::limits::Limits;
use palisade_model::scan::{ModelScan, Options, scan};
use std::io::Write;
use std::path::{Path, PathBuf};

struct Tmp(PathBuf);

impl Tmp {
    fn new(tag: &str) -> Tmp {
        let p = std::env::temp_dir().join(format!("palisade-model-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }
    fn file(&self, name: &str, data: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, data).unwrap();
        p
    }
}

impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scan_path(p: &Path, opts: &Options) -> ModelScan {
    let input = Input::File {
        path: p.to_path_buf(),
        display: p.file_name().unwrap().to_string_lossy().into_owned(),
        explicit: true,
    };
    scan(&[input], opts)
}

fn messages(r: &ModelScan) -> String {
    r.report
        .findings
        .iter()
        .map(|f| format!("{} {}\n", f.rule, f.message))
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A minimal stored zip with one member.
fn zip_one(name: &str, data: &[u8]) -> Vec<u8> {
    let crc = crc32fast::hash(data);
    let mut out = Vec::new();
    let local = |out: &mut Vec<u8>| {
        out.extend(0x0403_4b50u32.to_le_bytes());
        out.extend([20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend(crc.to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out.extend((name.len() as u16).to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend(name.as_bytes());
    };
    local(&mut out);
    out.extend(data);
    let cd = out.len() as u32;
    out.extend(0x0201_4b50u32.to_le_bytes());
    out.extend([20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    out.extend(crc.to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out.extend((data.len() as u32).to_le_bytes());
    out.extend((name.len() as u16).to_le_bytes());
    out.extend([0u8; 12]);
    out.extend(0u32.to_le_bytes());
    out.extend(name.as_bytes());
    let cd_size = out.len() as u32 - cd;
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0, 0, 0, 0, 1, 0, 1, 0]);
    out.extend(cd_size.to_le_bytes());
    out.extend(cd.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

#[test]
fn decompression_bomb_stops_at_the_named_limit() {
    let t = Tmp::new("bomb");
    // a pickle whose one BINBYTES8 argument is 256 MiB of zeros: a few hundred KiB gzipped
    let mut body = vec![0x80, 4, 0x8e];
    body.extend((256u64 << 20).to_le_bytes());
    body.extend(std::iter::repeat_n(0u8, 256 << 20));
    body.push(b'.');
    let p = t.file("bomb.pkl.gz", &gzip(&body));
    let opts = Options {
        limits: Limits {
            max_decompressed: 64 << 20,
            ..Limits::default()
        },
        ..Options::default()
    };
    let r = scan_path(&p, &opts);
    let m = messages(&r);
    assert!(
        m.contains("MDL010") && (m.contains("max_decompressed") || m.contains("max_ratio")),
        "{m}"
    );
}

#[test]
fn xz_bomb_is_a_named_limit_not_a_truncated_pickle() {
    // past the limit the scan must say which limit, not "truncated"
    let t = Tmp::new("xzbomb");
    let mut body = vec![0x80, 4, 0x8e];
    body.extend((4u64 << 20).to_le_bytes());
    body.extend(std::iter::repeat_n(0u8, 4 << 20));
    body.push(b'.');
    let mut w =
        lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::with_preset(1)).unwrap();
    std::io::Write::write_all(&mut w, &body).unwrap();
    let xz = w.finish().unwrap();
    let p = t.file("bomb.pkl.xz", &xz);
    let opts = Options {
        limits: Limits {
            max_decompressed: 1 << 20,
            ..Limits::default()
        },
        ..Options::default()
    };
    let m = messages(&scan_path(&p, &opts));
    assert!(
        m.contains("MDL010") && m.contains("max_decompressed"),
        "{m}"
    );
    assert!(!m.contains("MDL005"), "{m}");
}

#[test]
fn containers_nested_too_deep_are_reported_not_followed() {
    let t = Tmp::new("depth");
    let mut data = b"\x80\x02}.".to_vec();
    for i in 0..12 {
        data = zip_one(&format!("layer{i}.zip"), &data);
    }
    let p = t.file("deep.zip", &data);
    let r = scan_path(&p, &Options::default());
    assert!(messages(&r).contains("max_depth"), "{}", messages(&r));
}

#[test]
fn pathological_pickles_hit_stack_and_op_limits() {
    let t = Tmp::new("stack");
    let mut p = vec![0x80, 2];
    p.extend(std::iter::repeat_n(b'N', 100_000));
    p.push(b'.');
    let f = t.file("stack.pkl", &p);
    let opts = Options {
        limits: Limits {
            max_stack: 10_000,
            ..Limits::default()
        },
        ..Options::default()
    };
    let m = messages(&scan_path(&f, &opts));
    assert!(m.contains("MDL010") && m.contains("max_stack"), "{m}");

    // "billion laughs": each DUP+TUPLE2 doubles the logical size; values are shared
    let mut p = vec![0x80, 2, b'N'];
    for _ in 0..200_000 {
        p.extend([b'2', 0x86]);
    }
    p.push(b'.');
    let f = t.file("laughs.pkl", &p);
    let r = scan_path(&f, &Options::default());
    assert_eq!(r.artifacts.len(), 1);
    assert!(r.report.findings.is_empty(), "{}", messages(&r));
}

#[test]
fn damaged_corpus_files_never_crash_the_scanner() {
    // truncations and byte flips at many places in every corpus file
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let t = Tmp::new("damage");
    let mut n = 0;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for dir in ["benign", "malicious"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(corpus.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for f in files {
            let data = std::fs::read(&f).unwrap();
            for k in 0..6 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let mut d = data.clone();
                if k % 2 == 0 {
                    d.truncate((seed as usize) % d.len().max(1));
                } else {
                    for j in 0..4 {
                        let i = (seed as usize).wrapping_add(j * 7919) % d.len().max(1);
                        if let Some(b) = d.get_mut(i) {
                            *b ^= (seed >> (j * 8)) as u8 | 1;
                        }
                    }
                }
                let p = t.file(&format!("m{n}"), &d);
                let _ = scan_path(&p, &Options::default());
                n += 1;
            }
        }
    }
    assert!(n > 300);
}

#[test]
fn text_and_random_files_are_not_models() {
    let t = Tmp::new("notmodel");
    let text = t.file("notes.txt", b"cat /etc/hosts\nls -la\nmore text here\n");
    let r = scan_path(&text, &Options::default());
    assert!(
        r.artifacts.is_empty() && r.report.skipped.len() == 1,
        "{:?}",
        r.artifacts
    );
    let mut seed = 12345u32;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 16) as u8
        })
        .collect();
    let r = scan_path(&t.file("noise.bin", &noise), &Options::default());
    assert!(r.report.findings.iter().all(|f| f.rule != "MDL001"));
}
