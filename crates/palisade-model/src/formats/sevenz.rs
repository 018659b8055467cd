//! 7z archives: the header (plain, or packed into an "encoded header") is parsed with every
//! count checked against the bytes that hold it, so that a hostile header cannot make the
//! reader allocate what the file does not contain; each folder (7z's unit of compression) is
//! then decoded as one stream and cut into its files.
//!
//! Coders read: copy, LZMA, LZMA2, the BCJ branch filters (x86 is py7zr's default), delta,
//! deflate and bzip2, chained in any order. Others (AES, BCJ2, PPMd, zstd) are named in the
//! error. Format reference: 7-Zip's `DOC/7zFormat.txt` (public domain).

use crate::formats::compress::{self, Limited};
use crate::input::Blob;
use crate::limits::Limits;
use std::io::{self, Read};

pub const MAGIC: &[u8] = b"7z\xbc\xaf\x27\x1c";
const SIGNATURE_HEADER: u64 = 32;
/// Largest header (plain or decoded) accepted; real ones are a few KiB per thousand files.
const MAX_HEADER: u64 = 64 << 20;
/// Dictionary memory an LZMA/LZMA2 coder may ask for (7-Zip's own maximum is 1.5 GiB).
const MAX_DICT_KB: u32 = compress::LZMA_MEM_KB;

/// Property ids of the header (7zFormat.txt).
mod id {
    pub const END: u8 = 0x00;
    pub const HEADER: u8 = 0x01;
    pub const ARCHIVE_PROPERTIES: u8 = 0x02;
    pub const ADDITIONAL_STREAMS: u8 = 0x03;
    pub const MAIN_STREAMS: u8 = 0x04;
    pub const FILES: u8 = 0x05;
    pub const PACK_INFO: u8 = 0x06;
    pub const UNPACK_INFO: u8 = 0x07;
    pub const SUBSTREAMS: u8 = 0x08;
    pub const SIZE: u8 = 0x09;
    pub const CRC: u8 = 0x0a;
    pub const FOLDER: u8 = 0x0b;
    pub const CODERS_UNPACK_SIZE: u8 = 0x0c;
    pub const NUM_UNPACK_STREAM: u8 = 0x0d;
    pub const EMPTY_STREAM: u8 = 0x0e;
    pub const EMPTY_FILE: u8 = 0x0f;
    pub const NAME: u8 = 0x11;
    pub const ENCODED_HEADER: u8 = 0x17;
}

#[derive(Debug, Clone)]
pub struct Coder {
    pub method: Vec<u8>,
    pub ins: usize,
    pub outs: usize,
    pub props: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct Folder {
    pub coders: Vec<Coder>,
    /// (in-stream index, out-stream index): the out stream feeds the in stream.
    pub binds: Vec<(usize, usize)>,
    /// The in-stream indices fed by packed streams, in pack order.
    pub packed: Vec<usize>,
    /// One size per out stream of all coders.
    pub unpack_sizes: Vec<u64>,
    /// Offset of the folder's first packed stream in the file.
    pub pack_offset: u64,
    pub pack_size: u64,
    /// Sizes of the files the folder's output is cut into.
    pub substreams: Vec<u64>,
    /// The folder info gave the CRC of the whole output.
    pub crc_known: bool,
}

impl Folder {
    /// The out stream no bind pair consumes: the folder's output.
    fn main_out(&self) -> Option<usize> {
        let total: usize = self.coders.iter().map(|c| c.outs).sum();
        (0..total).find(|o| !self.binds.iter().any(|b| b.1 == *o))
    }

    pub fn unpack_size(&self) -> u64 {
        self.main_out()
            .and_then(|o| self.unpack_sizes.get(o).copied())
            .unwrap_or(0)
    }

    /// Human-readable coder chain ("BCJ, LZMA2").
    pub fn methods(&self) -> String {
        let names: Vec<String> = self.coders.iter().map(|c| method_name(&c.method)).collect();
        names.join(", ")
    }

    pub fn encrypted(&self) -> bool {
        self.coders
            .iter()
            .any(|c| c.method == [0x06, 0xf1, 0x07, 0x01])
    }
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub is_dir: bool,
    /// The folder holding the bytes and where in its output they start (`None`: empty file).
    pub folder: Option<usize>,
    pub offset: u64,
    pub size: u64,
}

#[derive(Debug, Default)]
pub struct Archive {
    pub folders: Vec<Folder>,
    pub entries: Vec<Entry>,
    /// The header was itself compressed (7-Zip and py7zr do this by default).
    pub encoded_header: bool,
}

/// A header parse error: what was wrong and where in the header.
fn bad(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// A bounds-checked reader over header bytes.
struct Hdr<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Hdr<'a> {
    fn byte(&mut self) -> io::Result<u8> {
        let c = *self
            .b
            .get(self.pos)
            .ok_or_else(|| bad(format!("header ends early at byte {}", self.pos)))?;
        self.pos += 1;
        Ok(c)
    }

    fn take(&mut self, n: u64) -> io::Result<&'a [u8]> {
        if n > (self.b.len() - self.pos) as u64 {
            return Err(bad(format!(
                "header field of {n} bytes at byte {} runs past its end",
                self.pos
            )));
        }
        let s = &self.b[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }

    fn u32(&mut self) -> io::Result<u32> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    /// 7z's variable-length NUMBER: the first byte's leading one bits say how many follow.
    fn number(&mut self) -> io::Result<u64> {
        let first = self.byte()?;
        let mut mask = 0x80u8;
        let mut value = 0u64;
        for i in 0..8 {
            if first & mask == 0 {
                let high = u64::from(first & mask.wrapping_sub(1));
                return Ok(value | (high << (8 * i)));
            }
            value |= u64::from(self.byte()?) << (8 * i);
            mask >>= 1;
        }
        Ok(value)
    }

    /// A count of items that each take at least `min_bytes` of the remaining header (so that
    /// a count the header cannot hold is refused before anything is allocated for it).
    fn count(&mut self, what: &str, min_bytes: u64, cap: usize) -> io::Result<usize> {
        let n = self.number()?;
        let room = (self.b.len() - self.pos) as u64;
        if n > cap as u64 || (min_bytes > 0 && n > room / min_bytes) {
            return Err(bad(format!(
                "{what} count {n} at byte {} is more than the header can hold",
                self.pos
            )));
        }
        Ok(n as usize)
    }

    fn expect(&mut self, want: u8, what: &str) -> io::Result<()> {
        let at = self.pos;
        let got = self.byte()?;
        if got != want {
            return Err(bad(format!(
                "expected {what} (0x{want:02x}) at header byte {at}, found 0x{got:02x}"
            )));
        }
        Ok(())
    }

    fn bits(&mut self, n: usize) -> io::Result<Vec<bool>> {
        let bytes = self.take(n.div_ceil(8) as u64)?;
        Ok((0..n)
            .map(|i| bytes[i / 8] & (0x80 >> (i % 8)) != 0)
            .collect())
    }

    /// An "all defined" byte, then a bit vector when it is zero.
    fn defined(&mut self, n: usize) -> io::Result<Vec<bool>> {
        if self.byte()? != 0 {
            Ok(vec![true; n])
        } else {
            self.bits(n)
        }
    }

    /// CRC digests: which are defined, then each defined one.
    fn digests(&mut self, n: usize) -> io::Result<Vec<Option<u32>>> {
        let def = self.defined(n)?;
        def.into_iter()
            .map(|d| if d { self.u32().map(Some) } else { Ok(None) })
            .collect()
    }
}

/// The streams section: where packed data lies, how each folder decodes, how its output splits.
#[derive(Default)]
struct Streams {
    pack_pos: u64,
    pack_sizes: Vec<u64>,
    folders: Vec<Folder>,
}

fn streams_info(h: &mut Hdr, max_members: usize) -> io::Result<Streams> {
    let mut s = Streams::default();
    let mut nid = h.byte()?;
    if nid == id::PACK_INFO {
        s.pack_pos = h.number()?;
        let n = h.count("packed stream", 1, max_members.max(64))?;
        nid = h.byte()?;
        if nid == id::SIZE {
            s.pack_sizes = (0..n).map(|_| h.number()).collect::<io::Result<_>>()?;
            nid = h.byte()?;
        }
        if nid == id::CRC {
            h.digests(n)?;
            nid = h.byte()?;
        }
        if nid != id::END {
            return Err(bad(format!("unexpected property 0x{nid:02x} in pack info")));
        }
        if s.pack_sizes.len() != n {
            return Err(bad("pack info has no sizes"));
        }
        nid = h.byte()?;
    }
    if nid == id::UNPACK_INFO {
        h.expect(id::FOLDER, "folder list")?;
        let n = h.count("folder", 2, max_members.max(64))?;
        if h.byte()? != 0 {
            return Err(bad("folders stored outside the header are not supported"));
        }
        s.folders = (0..n).map(|_| folder(h)).collect::<io::Result<_>>()?;
        h.expect(id::CODERS_UNPACK_SIZE, "coder unpack sizes")?;
        for f in &mut s.folders {
            let outs: usize = f.coders.iter().map(|c| c.outs).sum();
            f.unpack_sizes = (0..outs).map(|_| h.number()).collect::<io::Result<_>>()?;
        }
        nid = h.byte()?;
        if nid == id::CRC {
            for (f, d) in s.folders.iter_mut().zip(h.digests(n)?) {
                f.crc_known = d.is_some();
            }
            nid = h.byte()?;
        }
        if nid != id::END {
            return Err(bad(format!(
                "unexpected property 0x{nid:02x} in folder info"
            )));
        }
        nid = h.byte()?;
    }
    // each folder is one substream unless the substreams section says otherwise
    let mut counts = vec![1usize; s.folders.len()];
    if nid == id::SUBSTREAMS {
        nid = h.byte()?;
        if nid == id::NUM_UNPACK_STREAM {
            for c in counts.iter_mut() {
                *c = h.count("file-in-folder", 0, max_members)?;
            }
            if counts.iter().sum::<usize>() > max_members {
                return Err(bad(format!(
                    "more than {max_members} files (limit 'max_members')"
                )));
            }
            nid = h.byte()?;
        }
        let mut sizes = Vec::new();
        for (f, &c) in s.folders.iter().zip(&counts) {
            let total = f.unpack_size();
            let mut used = 0u64;
            let mut v = Vec::with_capacity(c.min(1024));
            if c > 0 {
                for _ in 1..c {
                    let k = if nid == id::SIZE { h.number()? } else { 0 };
                    used = used
                        .checked_add(k)
                        .filter(|&u| u <= total)
                        .ok_or_else(|| bad("file sizes exceed their folder's size"))?;
                    v.push(k);
                }
                v.push(total - used);
            }
            sizes.push(v);
        }
        if nid == id::SIZE {
            nid = h.byte()?;
        }
        while nid != id::END {
            // CRCs of the substreams (or future properties): skipped, the data is analysed
            // whatever its checksum says
            if nid == id::CRC {
                // a folder that is one stream with its CRC already given has none here
                let unknown = s
                    .folders
                    .iter()
                    .zip(&counts)
                    .map(|(f, &c)| if c == 1 && f.crc_known { 0 } else { c })
                    .sum::<usize>();
                h.digests(unknown)?;
            } else {
                return Err(bad(format!(
                    "unexpected property 0x{nid:02x} in substreams"
                )));
            }
            nid = h.byte()?;
        }
        for (f, v) in s.folders.iter_mut().zip(sizes) {
            f.substreams = v;
        }
        nid = h.byte()?;
    } else {
        for f in &mut s.folders {
            f.substreams = vec![f.unpack_size()];
        }
    }
    if nid != id::END {
        return Err(bad(format!(
            "unexpected property 0x{nid:02x} in streams info"
        )));
    }
    // where each folder's packed bytes are
    let mut at = SIGNATURE_HEADER
        .checked_add(s.pack_pos)
        .ok_or_else(|| bad("pack position overflows"))?;
    let mut next = 0usize;
    for f in &mut s.folders {
        f.pack_offset = at;
        let k = f.packed.len();
        let sizes = s
            .pack_sizes
            .get(next..next + k)
            .ok_or_else(|| bad("folders use more packed streams than the archive lists"))?;
        f.pack_size = sizes
            .iter()
            .try_fold(0u64, |a, &b| a.checked_add(b))
            .unwrap_or(u64::MAX);
        at = at.saturating_add(f.pack_size);
        next += k;
    }
    Ok(s)
}

fn folder(h: &mut Hdr) -> io::Result<Folder> {
    let n = h.count("coder", 2, 32)?;
    if n == 0 {
        return Err(bad("folder without coders"));
    }
    let mut f = Folder::default();
    for _ in 0..n {
        let flags = h.byte()?;
        if flags & 0xc0 != 0 {
            return Err(bad(format!("coder flags 0x{flags:02x} are not valid")));
        }
        let method = h.take(u64::from(flags & 0x0f))?.to_vec();
        let (ins, outs) = if flags & 0x10 != 0 {
            (
                h.count("coder input", 0, 32)?,
                h.count("coder output", 0, 32)?,
            )
        } else {
            (1, 1)
        };
        let props = if flags & 0x20 != 0 {
            let k = h.number()?;
            h.take(k)?.to_vec()
        } else {
            Vec::new()
        };
        f.coders.push(Coder {
            method,
            ins,
            outs,
            props,
        });
    }
    let outs: usize = f.coders.iter().map(|c| c.outs).sum();
    let ins: usize = f.coders.iter().map(|c| c.ins).sum();
    if outs == 0 || ins < outs - 1 {
        return Err(bad("folder coders do not connect"));
    }
    for _ in 0..outs - 1 {
        let i = h.number()? as usize;
        let o = h.number()? as usize;
        if i >= ins || o >= outs {
            return Err(bad("bind pair names a stream the folder does not have"));
        }
        f.binds.push((i, o));
    }
    let packed = ins - (outs - 1);
    if packed == 1 {
        let free = (0..ins)
            .find(|i| !f.binds.iter().any(|b| b.0 == *i))
            .ok_or_else(|| bad("folder has no input fed by packed data"))?;
        f.packed.push(free);
    } else {
        for _ in 0..packed {
            f.packed.push(h.number()? as usize);
        }
    }
    Ok(f)
}

/// The files section: names and which files have no data.
struct Files {
    n: usize,
    names: Vec<String>,
    empty_stream: Vec<bool>,
    /// Of the files without data, which are files (the others are directories).
    empty_file: Vec<bool>,
}

fn files_info(h: &mut Hdr, max_members: usize) -> io::Result<Files> {
    let n = h.count("file", 0, max_members)?;
    let mut names = Vec::new();
    let mut empty_stream = vec![false; n];
    let mut empty_file: Vec<bool> = Vec::new();
    loop {
        let prop = h.byte()?;
        if prop == id::END {
            break;
        }
        let size = h.number()?;
        let body = h.take(size)?;
        let mut p = Hdr { b: body, pos: 0 };
        match prop {
            id::EMPTY_STREAM => empty_stream = p.bits(n)?,
            id::EMPTY_FILE => {
                let empties = empty_stream.iter().filter(|&&e| e).count();
                empty_file = p.bits(empties)?;
            }
            id::NAME => {
                if p.byte()? != 0 {
                    return Err(bad(
                        "file names stored outside the header are not supported",
                    ));
                }
                let units: Vec<u16> = body[1..]
                    .chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect();
                names = units
                    .split(|&u| u == 0)
                    .take(n)
                    .map(String::from_utf16_lossy)
                    .collect();
            }
            _ => {}
        }
    }
    Ok(Files {
        n,
        names,
        empty_stream,
        empty_file,
    })
}

fn header(h: &mut Hdr, limits: &Limits) -> io::Result<Archive> {
    let mut nid = h.byte()?;
    if nid == id::ARCHIVE_PROPERTIES {
        loop {
            if h.byte()? == 0 {
                break;
            }
            let k = h.number()?;
            h.take(k)?;
        }
        nid = h.byte()?;
    }
    if nid == id::ADDITIONAL_STREAMS {
        streams_info(h, limits.max_members)?;
        nid = h.byte()?;
    }
    let mut s = Streams::default();
    if nid == id::MAIN_STREAMS {
        s = streams_info(h, limits.max_members)?;
        nid = h.byte()?;
    }
    let mut ar = Archive::default();
    if nid == id::FILES {
        let Files {
            n,
            names,
            empty_stream,
            empty_file,
        } = files_info(h, limits.max_members)?;
        let mut slots = s.folders.iter().enumerate().flat_map(|(fi, f)| {
            f.substreams.iter().scan(0u64, move |off, &sz| {
                let o = *off;
                *off += sz;
                Some((fi, o, sz))
            })
        });
        let mut empty_i = 0;
        for i in 0..n {
            let name = names.get(i).cloned().unwrap_or_else(|| format!("#{i}"));
            if empty_stream.get(i).copied().unwrap_or(false) {
                let is_file = empty_file.get(empty_i).copied().unwrap_or(false);
                empty_i += 1;
                ar.entries.push(Entry {
                    name,
                    is_dir: !is_file,
                    folder: None,
                    offset: 0,
                    size: 0,
                });
            } else {
                let (folder, offset, size) = slots.next().ok_or_else(|| {
                    bad(format!("file '{name}' has no data stream in the archive"))
                })?;
                ar.entries.push(Entry {
                    name,
                    is_dir: false,
                    folder: Some(folder),
                    offset,
                    size,
                });
            }
        }
        nid = h.byte()?;
    }
    if nid != id::END {
        return Err(bad(format!("unexpected property 0x{nid:02x} in header")));
    }
    ar.folders = s.folders;
    Ok(ar)
}

/// Read the archive's header (decoding it first when it is packed).
pub fn read(blob: &Blob, limits: &Limits) -> io::Result<Archive> {
    let sig = blob
        .bytes(0, SIGNATURE_HEADER as usize)?
        .ok_or_else(|| bad("shorter than the 32-byte signature header"))?;
    if !sig.starts_with(MAGIC) {
        return Err(bad("not a 7z archive"));
    }
    let start = &sig[12..32];
    if crc32fast::hash(start) != u32::from_le_bytes([sig[8], sig[9], sig[10], sig[11]]) {
        return Err(bad(
            "start header CRC does not match (damaged or truncated archive)",
        ));
    }
    let off = u64::from_le_bytes(start[0..8].try_into().unwrap_or_default());
    let size = u64::from_le_bytes(start[8..16].try_into().unwrap_or_default());
    let crc = u32::from_le_bytes(start[16..20].try_into().unwrap_or_default());
    let at = SIGNATURE_HEADER.saturating_add(off);
    if size == 0 {
        return Ok(Archive::default());
    }
    if size > MAX_HEADER || at.saturating_add(size) > blob.len() {
        return Err(bad(format!(
            "header of {size} bytes at offset {at} lies outside the {}-byte file",
            blob.len()
        )));
    }
    let raw = blob
        .bytes(at, size as usize)?
        .ok_or_else(|| bad("header is truncated"))?;
    if crc32fast::hash(&raw) != crc {
        return Err(bad("header CRC does not match"));
    }
    let mut h = Hdr { b: &raw, pos: 0 };
    match h.byte()? {
        id::HEADER => header(&mut h, limits),
        id::ENCODED_HEADER => {
            let s = streams_info(&mut h, limits.max_members)?;
            let f = s
                .folders
                .first()
                .ok_or_else(|| bad("encoded header without a folder"))?;
            let n = f.unpack_size();
            if n > MAX_HEADER {
                return Err(bad(format!("encoded header claims {n} bytes")));
            }
            let mut dec = decode(blob, f, limits)?;
            let mut plain = Vec::with_capacity(n as usize);
            (&mut dec).take(n).read_to_end(&mut plain)?;
            let mut h = Hdr { b: &plain, pos: 0 };
            h.expect(id::HEADER, "header")?;
            let mut ar = header(&mut h, limits)?;
            ar.encoded_header = true;
            Ok(ar)
        }
        other => Err(bad(format!(
            "header starts with 0x{other:02x}, not a header id"
        ))),
    }
}

fn method_name(m: &[u8]) -> String {
    match m {
        [] | [0x00] => "copy".into(),
        [0x21] => "LZMA2".into(),
        [0x03, 0x01, 0x01] => "LZMA".into(),
        [0x03] => "delta".into(),
        [0x03, 0x03, 0x01, 0x03] | [0x04] => "BCJ x86".into(),
        [0x03, 0x03, 0x01, 0x1b] => "BCJ2".into(),
        [0x03, 0x03, 0x02, 0x05] | [0x05] => "BCJ PPC".into(),
        [0x03, 0x03, 0x04, 0x01] | [0x06] => "BCJ IA64".into(),
        [0x03, 0x03, 0x05, 0x01] | [0x07] => "BCJ ARM".into(),
        [0x03, 0x03, 0x07, 0x01] | [0x08] => "BCJ ARM Thumb".into(),
        [0x03, 0x03, 0x08, 0x05] | [0x09] => "BCJ SPARC".into(),
        [0x0a] => "BCJ ARM64".into(),
        [0x0b] => "BCJ RISC-V".into(),
        [0x03, 0x04, 0x01] => "PPMd".into(),
        [0x04, 0x01, 0x08] => "deflate".into(),
        [0x04, 0x01, 0x09] => "deflate64".into(),
        [0x04, 0x02, 0x02] => "bzip2".into(),
        [0x06, 0xf1, 0x07, 0x01] => "AES-256".into(),
        [0x04, 0xf7, 0x11, 0x01] => "zstd".into(),
        other => other.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// Little-endian u32 from coder properties.
fn prop_u32(p: &[u8], at: usize) -> Option<u32> {
    p.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// One coder over `input`, producing `out_size` bytes.
fn coder(input: Box<dyn Read>, c: &Coder, out_size: u64) -> io::Result<Box<dyn Read>> {
    let unsupported = || {
        bad(format!(
            "7z coder {} is not one Palisade reads",
            method_name(&c.method)
        ))
    };
    let m = c.method.as_slice();
    Ok(match m {
        [] | [0x00] => input,
        [0x21] => {
            let bits = u32::from(
                *c.props
                    .first()
                    .ok_or_else(|| bad("LZMA2 without properties"))?,
            );
            if bits > 40 {
                return Err(bad(format!(
                    "LZMA2 dictionary property {bits} is not valid"
                )));
            }
            let dict = if bits == 40 {
                u32::MAX
            } else {
                (2 | (bits & 1)) << (bits / 2 + 11)
            };
            // LZMA2 never refers further back than the output it produced
            let dict = u64::from(dict).min(out_size.max(4096)) as u32;
            if dict / 1024 > MAX_DICT_KB {
                return Err(bad(format!(
                    "LZMA2 dictionary of {} MiB is more than Palisade allocates ({} MiB)",
                    dict >> 20,
                    MAX_DICT_KB >> 10
                )));
            }
            Box::new(lzma_rust2::Lzma2Reader::new(input, dict, None))
        }
        [0x03, 0x01, 0x01] => {
            let props = *c
                .props
                .first()
                .ok_or_else(|| bad("LZMA without properties"))?;
            let dict = prop_u32(&c.props, 1).ok_or_else(|| bad("LZMA properties too short"))?;
            if dict / 1024 > MAX_DICT_KB && u64::from(dict) < out_size {
                return Err(bad(format!(
                    "LZMA dictionary of {} MiB is more than Palisade allocates ({} MiB)",
                    dict >> 20,
                    MAX_DICT_KB >> 10
                )));
            }
            // the reader keeps no more history than the output size
            Box::new(
                lzma_rust2::LzmaReader::new_with_props(input, out_size, props, dict, None)
                    .map_err(|e| bad(format!("LZMA: {e}")))?,
            )
        }
        [0x03] => {
            let d = usize::from(c.props.first().copied().unwrap_or(0)) + 1;
            Box::new(lzma_rust2::filter::delta::DeltaReader::new(input, d))
        }
        [0x03, 0x03, 0x01, 0x03] | [0x04] => {
            Box::new(lzma_rust2::filter::bcj::BcjReader::new_x86(input, 0))
        }
        [0x03, 0x03, 0x02, 0x05] | [0x05] => {
            Box::new(lzma_rust2::filter::bcj::BcjReader::new_ppc(input, 0))
        }
        [0x03, 0x03, 0x04, 0x01] | [0x06] => {
            Box::new(lzma_rust2::filter::bcj::BcjReader::new_ia64(input, 0))
        }
        [0x03, 0x03, 0x05, 0x01] | [0x07] => {
            Box::new(lzma_rust2::filter::bcj::BcjReader::new_arm(input, 0))
        }
        [0x03, 0x03, 0x07, 0x01] | [0x08] => {
            Box::new(lzma_rust2::filter::bcj::BcjReader::new_arm_thumb(input, 0))
        }
        [0x03, 0x03, 0x08, 0x05] | [0x09] => {
            Box::new(lzma_rust2::filter::bcj::BcjReader::new_sparc(input, 0))
        }
        [0x0a] => Box::new(lzma_rust2::filter::bcj::BcjReader::new_arm64(input, 0)),
        [0x0b] => Box::new(lzma_rust2::filter::bcj::BcjReader::new_riscv(input, 0)),
        [0x04, 0x01, 0x08] => Box::new(flate2::read::DeflateDecoder::new(input)),
        [0x04, 0x02, 0x02] => Box::new(bzip2::read::BzDecoder::new(input)),
        _ => return Err(unsupported()),
    })
}

/// The folder's output as one stream, with the decompression limits applied. Only chains of
/// single-input coders are read (every coder 7-Zip and py7zr use by default).
pub fn decode(blob: &Blob, f: &Folder, limits: &Limits) -> io::Result<Limited> {
    if f.encrypted() {
        return Err(bad(format!(
            "7z folder is encrypted ({}): its content cannot be analysed without the password",
            f.methods()
        )));
    }
    if let Some(c) = f.coders.iter().find(|c| c.ins != 1 || c.outs != 1) {
        return Err(bad(format!(
            "7z coder {} is not one Palisade reads",
            method_name(&c.method)
        )));
    }
    if f.pack_offset.saturating_add(f.pack_size) > blob.len() {
        return Err(bad(format!(
            "packed data at {}..{} lies outside the file",
            f.pack_offset,
            f.pack_offset.saturating_add(f.pack_size)
        )));
    }
    // with single-stream coders, stream index i is coder i: walk from the output back to
    // the coder that reads packed data
    let mut chain = Vec::new();
    let mut at = f
        .main_out()
        .ok_or_else(|| bad("folder has no output stream"))?;
    loop {
        if chain.contains(&at) || chain.len() > f.coders.len() {
            return Err(bad("folder coders form a loop"));
        }
        chain.push(at);
        match f.binds.iter().find(|b| b.0 == at) {
            Some(&(_, from)) => at = from,
            None => break,
        }
    }
    compress::limited(blob, f.pack_offset, f.pack_size, limits, |mut r| {
        for &i in chain.iter().rev() {
            let size = f.unpack_sizes.get(i).copied().unwrap_or(0);
            r = coder(r, &f.coders[i], size)?;
        }
        Ok(r)
    })
}
