//! Compressed streams (gzip, zlib, raw deflate, bzip2, xz, lzma-alone, lz4 frames): the
//! decoders, behind a reader that enforces the decompressed-size and ratio limits.

use crate::input::{Blob, Stream};
use crate::limits::Limits;
use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Gzip,
    Zlib,
    Deflate,
    Bzip2,
    Xz,
    Lzma,
    Lz4,
}

impl Codec {
    pub fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Zlib => "zlib",
            Codec::Deflate => "deflate",
            Codec::Bzip2 => "bzip2",
            Codec::Xz => "xz",
            Codec::Lzma => "lzma",
            Codec::Lz4 => "lz4",
        }
    }

    /// Which codec a stream starts with, if any.
    pub fn sniff(head: &[u8]) -> Option<Codec> {
        match head {
            [0x1f, 0x8b, ..] => Some(Codec::Gzip),
            [b'B', b'Z', b'h', b'1'..=b'9', ..] => Some(Codec::Bzip2),
            [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Some(Codec::Xz),
            [0x04, 0x22, 0x4d, 0x18, ..] => Some(Codec::Lz4),
            // lzma-alone: properties byte (lc/lp/pb; 0x5d is the default) and a dictionary size
            [0x5d, 0, 0, _, _, ..] => Some(Codec::Lzma),
            // zlib with the 32 KiB window every common writer uses
            [0x78, b, ..] if (0x7800u16 | u16::from(*b)).is_multiple_of(31) => Some(Codec::Zlib),
            _ => None,
        }
    }
}

/// Counts the bytes read through it (the compressed side of the ratio).
struct Counting<R> {
    inner: R,
    n: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n.set(self.n.get() + k as u64);
        Ok(k)
    }
}

/// The error a [`Limited`] reader returns; its text names the limit.
#[derive(Debug)]
pub struct LimitError(pub crate::limits::LimitHit);

impl std::fmt::Display for LimitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for LimitError {}

/// A decompressor's output with the size and ratio limits applied.
pub struct Limited {
    inner: Box<dyn Read>,
    out: u64,
    input: Rc<Cell<u64>>,
    limits: Limits,
}

impl Read for Limited {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.out += k as u64;
        if self.out > self.limits.max_decompressed {
            return Err(io::Error::other(LimitError(crate::limits::LimitHit {
                limit: "max_decompressed",
                detail: format!(
                    "decompresses to more than {} bytes",
                    self.limits.max_decompressed
                ),
            })));
        }
        let inp = self.input.get().max(1);
        if self.out > self.limits.ratio_floor && self.out / inp > self.limits.max_ratio {
            return Err(io::Error::other(LimitError(crate::limits::LimitHit {
                limit: "max_ratio",
                detail: format!(
                    "expands more than {}x ({} bytes from {})",
                    self.limits.max_ratio, self.out, inp
                ),
            })));
        }
        Ok(k)
    }
}

impl Stream for Limited {}

/// A limited decoder over `blob[off..off+n]`.
pub fn decoder(codec: Codec, blob: &Blob, off: u64, n: u64, limits: &Limits) -> Limited {
    let counter = Rc::new(Cell::new(0));
    let src = Counting {
        inner: blob.reader(off, n),
        n: counter.clone(),
    };
    let inner: Box<dyn Read> = match codec {
        Codec::Gzip => Box::new(flate2::read::MultiGzDecoder::new(src)),
        Codec::Zlib => Box::new(flate2::read::ZlibDecoder::new(src)),
        Codec::Deflate => Box::new(flate2::read::DeflateDecoder::new(src)),
        Codec::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(src)),
        Codec::Xz => Box::new(LzmaRead::new(src, true)),
        Codec::Lzma => Box::new(LzmaRead::new(src, false)),
        Codec::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(src)),
    };
    Limited {
        inner,
        out: 0,
        input: counter,
        limits: limits.clone(),
    }
}

/// The decompressed bytes, read fully into memory (used for containers that need random
/// access; pickles are streamed instead). Fails with the limit's name when exceeded.
pub fn read_all(mut r: impl Read) -> io::Result<Vec<u8>> {
    let mut v = Vec::new();
    r.read_to_end(&mut v)?;
    Ok(v)
}

/// lzma-rs decodes whole streams into a writer; this runs it lazily on first read into a
/// bounded buffer (xz/lzma payloads are rare enough that the simplicity is worth it).
struct LzmaRead<R> {
    src: Option<R>,
    xz: bool,
    out: io::Cursor<Vec<u8>>,
}

impl<R: Read> LzmaRead<R> {
    fn new(src: R, xz: bool) -> Self {
        LzmaRead {
            src: Some(src),
            xz,
            out: io::Cursor::new(Vec::new()),
        }
    }
}

/// A writer that refuses to grow past a limit (lzma-rs has no streaming reader).
struct CappedVec {
    v: Vec<u8>,
    cap: u64,
}

impl io::Write for CappedVec {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        if self.v.len() as u64 + b.len() as u64 > self.cap {
            return Err(io::Error::other(LimitError(crate::limits::LimitHit {
                limit: "max_decompressed",
                detail: format!("decompresses to more than {} bytes", self.cap),
            })));
        }
        self.v.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Memory cap for lzma/xz (decoded in memory).
const LZMA_CAP: u64 = 1 << 30;

impl<R: Read> Read for LzmaRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(src) = self.src.take() {
            let mut src = io::BufReader::new(src);
            let mut w = CappedVec {
                v: Vec::new(),
                cap: LZMA_CAP,
            };
            let r = if self.xz {
                lzma_rs::xz_decompress(&mut src, &mut w)
            } else {
                lzma_rs::lzma_decompress(&mut src, &mut w)
            };
            if let Err(e) = r {
                // keep what was decoded before the error: a payload may sit before it
                self.out = io::Cursor::new(w.v);
                if self.out.get_ref().is_empty() {
                    return Err(io::Error::other(format!(
                        "{} stream: {e}",
                        if self.xz { "xz" } else { "lzma" }
                    )));
                }
                return self.out.read(buf);
            }
            self.out = io::Cursor::new(w.v);
        }
        self.out.read(buf)
    }
}
