//! Byte sources the parsers read: whole files (random access, never read in full unless a
//! parser needs every byte), bytes already in memory (archive members, decompressed streams),
//! and a sequential [`Cursor`] over either, with the position every finding's offset comes from.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// Random-access bytes: a file on disk or a buffer.
#[derive(Clone)]
pub enum Blob {
    /// `len` bytes of a file from `start`.
    File {
        f: Arc<File>,
        start: u64,
        len: u64,
    },
    Mem(Arc<[u8]>),
}

impl Blob {
    pub fn open(path: &std::path::Path) -> io::Result<Blob> {
        let f = File::open(path)?;
        let len = f.metadata()?.len();
        Ok(Blob::File {
            f: Arc::new(f),
            start: 0,
            len,
        })
    }

    pub fn from_vec(v: Vec<u8>) -> Blob {
        Blob::Mem(v.into())
    }

    pub fn len(&self) -> u64 {
        match self {
            Blob::File { len, .. } => *len,
            Blob::Mem(b) => b.len() as u64,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Up to `buf.len()` bytes at `off` (fewer at the end).
    pub fn read_at(&self, off: u64, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Blob::File { f, start, len } => {
                if off >= *len {
                    return Ok(0);
                }
                let want = buf.len().min((*len - off) as usize);
                let mut got = 0;
                while got < want {
                    let k = f.read_at(&mut buf[got..want], start + off + got as u64)?;
                    if k == 0 {
                        break;
                    }
                    got += k;
                }
                Ok(got)
            }
            Blob::Mem(b) => {
                if off >= b.len() as u64 {
                    return Ok(0);
                }
                let s = &b[off as usize..];
                let k = s.len().min(buf.len());
                buf[..k].copy_from_slice(&s[..k]);
                Ok(k)
            }
        }
    }

    /// Exactly `n` bytes at `off`, or `None` when the blob ends first.
    pub fn bytes(&self, off: u64, n: usize) -> io::Result<Option<Vec<u8>>> {
        let mut v = vec![0; n];
        let k = self.read_at(off, &mut v)?;
        Ok((k == n).then_some(v))
    }

    /// The first bytes (for content sniffing).
    pub fn head(&self, n: usize) -> io::Result<Vec<u8>> {
        let mut v = vec![0; n.min(self.len() as usize)];
        let k = self.read_at(0, &mut v)?;
        v.truncate(k);
        Ok(v)
    }

    /// The bytes from `off` to `off + n` (a view, nothing is copied for files).
    pub fn slice(&self, off: u64, n: u64) -> Blob {
        let off = off.min(self.len());
        let n = n.min(self.len() - off);
        match self {
            Blob::Mem(b) => Blob::Mem(b[off as usize..(off + n) as usize].into()),
            Blob::File { f, start, .. } => Blob::File {
                f: f.clone(),
                start: start + off,
                len: n,
            },
        }
    }

    /// A sequential reader over `n` bytes from `off`.
    pub fn reader(&self, off: u64, n: u64) -> BlobReader {
        BlobReader {
            blob: self.clone(),
            pos: off,
            end: off.saturating_add(n).min(self.len()),
        }
    }
}

/// A sequential reader over a byte range of a blob; skipping costs nothing.
pub struct BlobReader {
    blob: Blob,
    pos: u64,
    end: u64,
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos) as usize;
        let n = buf.len().min(left);
        let k = self.blob.read_at(self.pos, &mut buf[..n])?;
        self.pos += k as u64;
        Ok(k)
    }
}

/// A byte stream the pickle reader consumes. Skipping may be cheaper than reading.
pub trait Stream: Read {
    /// Skip `n` bytes; returns how many were there to skip.
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        io::copy(&mut self.take(n), &mut io::sink())
    }
}

impl Stream for BlobReader {
    fn skip(&mut self, n: u64) -> io::Result<u64> {
        let k = n.min(self.end.saturating_sub(self.pos));
        self.pos += k;
        Ok(k)
    }
}

/// Any reader (a decompressor) as a stream that skips by reading.
pub struct Plain<R>(pub R);

impl<R: Read> Read for Plain<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> Stream for Plain<R> {}

/// A buffered cursor over a stream that knows its position (the offset findings carry).
pub struct Cursor<'a> {
    inner: &'a mut dyn Stream,
    buf: Vec<u8>,
    start: usize,
    /// Offset of `buf[start]` in the stream.
    pos: u64,
    eof: bool,
}

const CHUNK: usize = 64 * 1024;

impl<'a> Cursor<'a> {
    pub fn new(inner: &'a mut dyn Stream, base: u64) -> Self {
        Cursor {
            inner,
            buf: Vec::new(),
            start: 0,
            pos: base,
            eof: false,
        }
    }

    pub fn pos(&self) -> u64 {
        self.pos
    }

    fn avail(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Make at least `n` bytes available if the stream has them; returns how many are.
    fn fill(&mut self, n: usize) -> io::Result<usize> {
        if self.avail() >= n || self.eof {
            return Ok(self.avail());
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        while self.buf.len() < n && !self.eof {
            let want = (n - self.buf.len()).max(CHUNK);
            let old = self.buf.len();
            self.buf.resize(old + want, 0);
            let k = self.inner.read(&mut self.buf[old..])?;
            self.buf.truncate(old + k);
            if k == 0 {
                self.eof = true;
            }
        }
        Ok(self.avail())
    }

    /// At the end of the stream?
    pub fn at_end(&mut self) -> io::Result<bool> {
        Ok(self.fill(1)? == 0)
    }

    pub fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        let k = self.fill(n)?.min(n);
        Ok(&self.buf[self.start..self.start + k])
    }

    /// Exactly `n` bytes, or `None` (and everything left consumed) when the stream ends first.
    pub fn take(&mut self, n: usize) -> io::Result<Option<&[u8]>> {
        let k = self.fill(n)?;
        if k < n {
            self.start += k;
            self.pos += k as u64;
            return Ok(None);
        }
        let s = self.start;
        self.start += n;
        self.pos += n as u64;
        Ok(Some(&self.buf[s..s + n]))
    }

    /// Skip `n` bytes; `false` when the stream ended first.
    pub fn skip(&mut self, n: u64) -> io::Result<bool> {
        let here = (self.avail() as u64).min(n);
        self.start += here as usize;
        self.pos += here;
        let rest = n - here;
        if rest == 0 {
            return Ok(true);
        }
        self.buf.clear();
        self.start = 0;
        let k = self.inner.skip(rest)?;
        self.pos += k;
        Ok(k == rest)
    }

    /// Bytes up to and excluding the next `\n` (consumed), at most `max` long.
    pub fn line(&mut self, max: usize) -> io::Result<Line<'_>> {
        let mut scanned = 0;
        loop {
            let avail = self.fill(scanned + 1)?;
            if let Some(i) = self.buf[self.start + scanned..self.start + avail]
                .iter()
                .position(|&b| b == b'\n')
            {
                let end = scanned + i;
                if end > max {
                    return Ok(Line::TooLong);
                }
                let s = self.start;
                self.start += end + 1;
                self.pos += (end + 1) as u64;
                return Ok(Line::Ok(&self.buf[s..s + end]));
            }
            if avail == scanned || self.eof && avail <= scanned {
                self.start += avail;
                self.pos += avail as u64;
                return Ok(Line::Eof);
            }
            scanned = avail;
            if scanned > max {
                return Ok(Line::TooLong);
            }
        }
    }
}

/// The result of reading a text line.
pub enum Line<'a> {
    Ok(&'a [u8]),
    /// The stream ended before a newline.
    Eof,
    TooLong,
}
