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

/// The limit behind a read error, if a limit caused it.
pub fn limit_of(e: &io::Error) -> Option<&crate::limits::LimitHit> {
    e.get_ref()
        .and_then(|x| x.downcast_ref::<LimitError>())
        .map(|l| &l.0)
}

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

/// Dictionary memory an xz/lzma stream may ask for, in KiB (xz's largest preset uses 64 MiB;
/// 1.5 GiB is the format's practical maximum). Pages are only touched as output is produced.
pub const LZMA_MEM_KB: u32 = 1600 * 1024;

/// A limited decoder over `blob[off..off+n]`.
pub fn decoder(codec: Codec, blob: &Blob, off: u64, n: u64, limits: &Limits) -> Limited {
    let built = limited(blob, off, n, limits, |src| {
        Ok(match codec {
            Codec::Gzip => Box::new(flate2::read::MultiGzDecoder::new(src)),
            Codec::Zlib => Box::new(flate2::read::ZlibDecoder::new(src)),
            Codec::Deflate => Box::new(flate2::read::DeflateDecoder::new(src)),
            Codec::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(src)),
            Codec::Xz => Box::new(lzma_rust2::XzReader::new_mem_limit(src, true, LZMA_MEM_KB)),
            Codec::Lzma => Box::new(lzma_rust2::LzmaReader::new_mem_limit(
                src,
                LZMA_MEM_KB,
                None,
            )?),
            Codec::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(src)),
        })
    });
    // a decoder that cannot start (a bad lzma header) fails on its first read
    built.unwrap_or_else(|e| Limited {
        inner: Box::new(Failed(Some(e))),
        out: 0,
        input: Rc::new(Cell::new(0)),
        limits: limits.clone(),
    })
}

/// `blob[off..off+n]` through the decoder chain `build` makes, with the limits applied to
/// what comes out (the ratio counted against the bytes read from the blob).
pub fn limited(
    blob: &Blob,
    off: u64,
    n: u64,
    limits: &Limits,
    build: impl FnOnce(Box<dyn Read>) -> io::Result<Box<dyn Read>>,
) -> io::Result<Limited> {
    let counter = Rc::new(Cell::new(0));
    let src = Counting {
        inner: blob.reader(off, n),
        n: counter.clone(),
    };
    Ok(Limited {
        inner: build(Box::new(src))?,
        out: 0,
        input: counter,
        limits: limits.clone(),
    })
}

/// A reader whose only answer is the error that stopped its decoder from starting.
struct Failed(Option<io::Error>);

impl Read for Failed {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(self
            .0
            .take()
            .unwrap_or_else(|| io::Error::other("decoder failed to start")))
    }
}

/// The decompressed bytes, read fully into memory (used for containers that need random
/// access; pickles are streamed instead). Fails with the limit's name when exceeded.
pub fn read_all(mut r: impl Read) -> io::Result<Vec<u8>> {
    let mut v = Vec::new();
    r.read_to_end(&mut v)?;
    Ok(v)
}
