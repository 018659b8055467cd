//! Model file formats, recognised by content (never by extension): which one a blob is, and a
//! reader per container format.

pub mod compress;
pub mod gguf;
pub mod keras;
pub mod npy;
pub mod onnx;
pub mod safetensors;
pub mod savedmodel;
pub mod sevenz;
pub mod tar;
pub mod torchscript;
pub mod zip;

use crate::pickle;
use compress::Codec;

/// What a blob's first bytes say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Zip,
    Compressed(Codec),
    Npy,
    /// A pickle with a protocol header (2–5), legacy PyTorch included.
    Pickle,
    Safetensors,
    Tar,
    SevenZip,
    Hdf5,
    Gguf,
    /// Possibly a protocol 0/1 pickle (no header): confirmed by analysis.
    MaybePickle,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Zip => "zip",
            Kind::Compressed(c) => c.name(),
            Kind::Npy => "numpy",
            Kind::Pickle | Kind::MaybePickle => "pickle",
            Kind::Safetensors => "safetensors",
            Kind::Tar => "tar",
            Kind::SevenZip => "7z",
            Kind::Hdf5 => "hdf5",
            Kind::Gguf => "gguf",
        }
    }
}

/// Bytes of head that [`sniff`] looks at.
pub const HEAD: usize = 512;

/// The kind of a blob from its head and length.
pub fn sniff(head: &[u8], len: u64) -> Option<Kind> {
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Some(Kind::Zip);
    }
    if head.starts_with(npy::MAGIC) {
        return Some(Kind::Npy);
    }
    if pickle::has_proto_header(head) {
        return Some(Kind::Pickle);
    }
    if head.starts_with(b"7z\xbc\xaf\x27\x1c") {
        return Some(Kind::SevenZip);
    }
    if head.starts_with(b"\x89HDF\r\n\x1a\n") {
        return Some(Kind::Hdf5);
    }
    if head.starts_with(b"GGUF") {
        return Some(Kind::Gguf);
    }
    if tar::sniff(head) {
        return Some(Kind::Tar);
    }
    if safetensors::sniff(head, len) {
        return Some(Kind::Safetensors);
    }
    if let Some(c) = Codec::sniff(head) {
        return Some(Kind::Compressed(c));
    }
    if maybe_proto0(head) {
        return Some(Kind::MaybePickle);
    }
    None
}

/// Could this be a protocol 0/1 pickle? The first opcode is one a pickler writes first.
fn maybe_proto0(head: &[u8]) -> bool {
    match head.first() {
        Some(b'(' | b'c' | b']' | b'}' | b')' | b'N' | b'I' | b'L' | b'S' | b'V' | b'F' | b'i') => {
            // text opcodes: the argument line must end; binary ones are caught below
            head.len() > 1
        }
        Some(b'K' | b'J' | b'M' | b'X' | b'U' | b'T' | b'G' | b'q' | b'.') => true,
        _ => false,
    }
}

/// What a file's extension claims, when it names a data-only format.
pub fn claimed_format(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "safetensors" => "safetensors",
        "npy" => "numpy",
        "npz" => "zip",
        "onnx" => "onnx",
        "gguf" => "gguf",
        "h5" | "hdf5" => "hdf5",
        "json" => "json",
        "txt" | "csv" => "text",
        _ => return None,
    })
}
