//! A model (one file or a directory) as the list of digests the signature covers, computed the
//! way `model_signing` computes them: every regular file below the model path (dot files
//! included, empty directories not), minus the ignored paths, each hashed whole (`files`) or in
//! fixed-size shards (`shards`, names `path:start:end`). Files and shards are hashed in
//! parallel, each streamed through a fixed buffer, so the cost is one read of the bytes.

use crate::error::{Error, Result, io};
use crate::manifest::{Item, Manifest};
use sha2::Digest as _;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The digest algorithms of the format (`hash_type` in the signature).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashAlg {
    Sha256,
    Blake2b,
    Blake3,
}

impl HashAlg {
    pub fn name(self) -> &'static str {
        match self {
            HashAlg::Sha256 => "sha256",
            HashAlg::Blake2b => "blake2b",
            HashAlg::Blake3 => "blake3",
        }
    }

    /// The algorithm a `hash_type` or resource `algorithm` names.
    pub fn from_name(s: &str) -> Option<HashAlg> {
        match s {
            "sha256" => Some(HashAlg::Sha256),
            "blake2b" | "blake2" => Some(HashAlg::Blake2b),
            "blake3" => Some(HashAlg::Blake3),
            _ => None,
        }
    }

    fn hasher(self) -> Hasher {
        match self {
            HashAlg::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            HashAlg::Blake2b => Hasher::Blake2b(blake2::Blake2b512::new()),
            HashAlg::Blake3 => Hasher::Blake3(Box::new(blake3::Hasher::new())),
        }
    }
}

enum Hasher {
    Sha256(sha2::Sha256),
    Blake2b(blake2::Blake2b512),
    Blake3(Box<blake3::Hasher>),
}

impl Hasher {
    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(b),
            Hasher::Blake2b(h) => h.update(b),
            Hasher::Blake3(h) => {
                h.update(b);
            }
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Blake2b(h) => h.finalize().to_vec(),
            Hasher::Blake3(h) => h.finalize().as_bytes().to_vec(),
        }
    }
}

/// How the model is cut into digests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// One digest per file.
    Files,
    /// One digest per `shard_size` bytes of each file (empty files have none).
    Shards(u64),
}

/// The serialization parameters recorded in the signature (its `predicate.serialization`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serialization {
    pub method: Method,
    pub hash: HashAlg,
    pub allow_symlinks: bool,
    /// Paths relative to the model, `/`-separated; a directory covers what is below it.
    pub ignore_paths: Vec<String>,
}

/// `model_signing`'s default shard size (1 GB).
pub const DEFAULT_SHARD_SIZE: u64 = 1_000_000_000;

/// The git paths `model_signing` ignores by default.
pub const GIT_PATHS: &[&str] = &[".git", ".gitattributes", ".github", ".gitignore"];

impl Default for Serialization {
    fn default() -> Self {
        Serialization {
            method: Method::Files,
            hash: HashAlg::Sha256,
            allow_symlinks: false,
            ignore_paths: GIT_PATHS.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// One file of the model.
#[derive(Debug, Clone)]
pub struct ModelFile {
    /// Path components relative to the model (`["."]` when the model is a single file).
    pub parts: Vec<String>,
    pub path: PathBuf,
    pub len: u64,
}

impl ModelFile {
    pub fn name(&self) -> String {
        self.parts.join("/")
    }
}

/// Split a `/`-separated relative path into components (`.` and empty parts dropped).
pub fn components(s: &str) -> Vec<String> {
    s.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
        .collect()
}

fn ignored(parts: &[String], ignores: &[Vec<String>]) -> bool {
    ignores
        .iter()
        .any(|ig| !ig.is_empty() && parts.len() >= ig.len() && parts[..ig.len()] == ig[..])
}

/// The files of the model, sorted as the manifest orders them (by path components).
pub fn files(model: &Path, ser: &Serialization) -> Result<Vec<ModelFile>> {
    let meta = std::fs::symlink_metadata(model).map_err(io(model))?;
    if meta.file_type().is_symlink() && !ser.allow_symlinks {
        return Err(Error::Symlink(model.to_path_buf()));
    }
    let meta = std::fs::metadata(model).map_err(io(model))?;
    if meta.is_file() {
        return Ok(vec![ModelFile {
            parts: vec![".".into()],
            path: model.to_path_buf(),
            len: meta.len(),
        }]);
    }
    if !meta.is_dir() {
        return Err(Error::NotAFile(model.to_path_buf()));
    }
    let ignores: Vec<Vec<String>> = ser.ignore_paths.iter().map(|p| components(p)).collect();
    let mut out = Vec::new();
    let mut stack = vec![(model.to_path_buf(), Vec::<String>::new(), 0usize)];
    while let Some((dir, prefix, depth)) = stack.pop() {
        if depth > 64 {
            return Err(Error::Unsupported(format!(
                "{}: directories nested more than 64 deep (a symlink loop?)",
                dir.display()
            )));
        }
        let rd = std::fs::read_dir(&dir).map_err(io(&dir))?;
        for entry in rd {
            let entry = entry.map_err(io(&dir))?;
            let path = entry.path();
            let mut parts = prefix.clone();
            parts.push(entry.file_name().to_string_lossy().into_owned());
            if ignored(&parts, &ignores) {
                continue;
            }
            let ft = entry.file_type().map_err(io(&path))?;
            if ft.is_symlink() && !ser.allow_symlinks {
                return Err(Error::Symlink(path));
            }
            let meta = std::fs::metadata(&path).map_err(io(&path))?;
            if meta.is_dir() {
                stack.push((path, parts, depth + 1));
            } else if meta.is_file() {
                out.push(ModelFile {
                    parts,
                    path,
                    len: meta.len(),
                });
            } else {
                return Err(Error::NotAFile(path));
            }
        }
    }
    out.sort_by(|a, b| a.parts.cmp(&b.parts));
    Ok(out)
}

/// Bytes read per call: what `cat` reads, large enough for sequential throughput and small
/// enough that the copy stays in cache while it is hashed.
const CHUNK: usize = 128 << 10;

thread_local! {
    /// Each hashing thread's read buffer.
    static BUF: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0u8; CHUNK]);
}

/// The digest of `len` bytes of `path` from `start`.
fn digest_range(
    path: &Path,
    start: u64,
    len: u64,
    alg: HashAlg,
    buf: &mut [u8],
) -> Result<Vec<u8>> {
    use std::io::{Seek, SeekFrom};
    let mut f = File::open(path).map_err(io(path))?;
    if start > 0 {
        f.seek(SeekFrom::Start(start)).map_err(io(path))?;
    }
    let mut h = alg.hasher();
    let mut left = len;
    while left > 0 {
        let want = (buf.len() as u64).min(left) as usize;
        let k = f.read(&mut buf[..want]).map_err(io(path))?;
        if k == 0 {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "file shrank while it was being hashed",
                ),
            });
        }
        h.update(&buf[..k]);
        left -= k as u64;
    }
    Ok(h.finish())
}

/// The digest of a whole file, streamed.
pub fn digest_file(path: &Path, alg: HashAlg) -> Result<Vec<u8>> {
    let len = std::fs::metadata(path).map_err(io(path))?.len();
    BUF.with_borrow_mut(|buf| digest_range(path, 0, len, alg, buf))
}

/// One unit of hashing work: a whole file or one shard of it.
struct Job<'a> {
    file: &'a ModelFile,
    start: u64,
    end: u64,
}

/// The manifest of the model: every file (or shard) hashed, in parallel over `threads`.
pub fn hash_model(model: &Path, ser: &Serialization, threads: usize) -> Result<Manifest> {
    let files = files(model, ser)?;
    hash_files(model_name(model), files, ser, threads)
}

/// The manifest of these files of a model.
pub fn hash_files(
    model_name: String,
    files: Vec<ModelFile>,
    ser: &Serialization,
    threads: usize,
) -> Result<Manifest> {
    let mut jobs = Vec::new();
    for f in &files {
        match ser.method {
            Method::Files => jobs.push(Job {
                file: f,
                start: 0,
                end: f.len,
            }),
            Method::Shards(size) => {
                let size = size.max(1);
                let mut start = 0;
                while start < f.len {
                    let end = (start + size).min(f.len);
                    jobs.push(Job {
                        file: f,
                        start,
                        end,
                    });
                    start = end;
                }
            }
        }
    }
    // biggest first, so that one large file does not start last
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(jobs[i].end - jobs[i].start));
    // after the first error no more work is handed out: that error is the answer
    let mut results = palisade_core::parallel::map(
        &order,
        threads,
        |i| {
            let j = &jobs[i];
            BUF.with_borrow_mut(|buf| {
                digest_range(&j.file.path, j.start, j.end - j.start, ser.hash, buf)
            })
        },
        |r| r.is_err(),
    );
    if let Some(e) = results
        .iter_mut()
        .find_map(|r| r.take_if(|r| r.is_err()).and_then(Result::err))
    {
        return Err(e);
    }
    // no error: every job ran
    let items = jobs
        .iter()
        .zip(results)
        .map(|(j, r)| Item {
            name: match ser.method {
                Method::Files => j.file.name(),
                Method::Shards(_) => format!("{}:{}:{}", j.file.name(), j.start, j.end),
            },
            parts: j.file.parts.clone(),
            start: j.start,
            end: j.end,
            digest: r.and_then(Result::ok).unwrap_or_default(),
        })
        .collect();
    Ok(Manifest::new(model_name, ser.clone(), items))
}

/// The model's name in the signature: the last path component.
pub fn model_name(model: &Path) -> String {
    let name = model
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n != "..");
    name.or_else(|| {
        std::fs::canonicalize(model)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
    })
    .unwrap_or_else(|| ".".into())
}

pub use palisade_core::parallel::default_threads;
