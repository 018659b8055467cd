//! ZIP archives (PyTorch checkpoints, TorchScript, `.npz`, `.keras`, plain zips), read by
//! hand so that what different readers disagree on is seen, not hidden:
//! the central directory (what Python's `zipfile` lists), the local headers (what PyTorch's
//! reader and streaming unzippers use), and members present in one but not the other.
//! Only the headers are read; member data is read when a member is analysed.

use crate::input::Blob;
use std::collections::{BTreeMap, BTreeSet};

/// One member, as the central directory (or, for hidden members, a local header) has it.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    pub method: u16,
    pub flags: u16,
    pub crc: u32,
    pub csize: u64,
    pub usize: u64,
    /// Offset of the local header.
    pub local: u64,
    /// Offset of the data (after the local header), when the local header was readable.
    pub data: Option<u64>,
    /// Not in the central directory: found by walking the local headers.
    pub hidden: bool,
}

/// A disagreement between the headers, or a header a reader refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anomaly {
    pub member: Option<String>,
    pub offset: u64,
    pub what: String,
}

#[derive(Debug, Default)]
pub struct Archive {
    pub members: Vec<Member>,
    pub anomalies: Vec<Anomaly>,
    /// Bytes before the first local header (a polyglot's other half lives there).
    pub prefix: u64,
}

const EOCD: u32 = 0x0605_4b50;
const EOCD64: u32 = 0x0606_4b50;
const LOC64: u32 = 0x0706_4b50;
const CEN: u32 = 0x0201_4b50;
const LOC: u32 = 0x0403_4b50;
const DESC: u32 = 0x0807_4b50;

fn u16le(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn u32le(b: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"))
}

fn u64le(b: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"))
}

/// Where the end-of-central-directory record is, if the blob has one.
pub fn find_eocd(blob: &Blob) -> Option<u64> {
    let len = blob.len();
    if len < 22 {
        return None;
    }
    let span = len.min(22 + 65535);
    let tail = blob.bytes(len - span, span as usize).ok()??;
    (0..=tail.len() - 22)
        .rev()
        .find(|&i| u32le(&tail, i) == EOCD)
        .map(|i| len - span + i as u64)
}

/// Read the archive's directory and headers. `Err` when it is not a readable zip at all.
pub fn read(blob: &Blob, max_members: usize) -> Result<Archive, String> {
    let eocd_at = find_eocd(blob).ok_or("no end-of-central-directory record")?;
    let e = blob
        .bytes(eocd_at, 22)
        .ok()
        .flatten()
        .ok_or("truncated end-of-central-directory record")?;
    let mut total = u16le(&e, 10) as u64;
    let mut cd_size = u32le(&e, 12) as u64;
    let mut cd_off = u32le(&e, 16) as u64;
    let mut ar = Archive::default();
    // where the central directory ends: the end record, or the zip64 end record before it
    let mut cd_end = eocd_at;
    if eocd_at >= 20
        && let Some(l) = blob.bytes(eocd_at - 20, 20).ok().flatten()
        && u32le(&l, 0) == LOC64
    {
        let at = u64le(&l, 8);
        if let Some(z) = blob.bytes(at, 56).ok().flatten()
            && u32le(&z, 0) == EOCD64
        {
            cd_end = at;
            total = u64le(&z, 32);
            cd_size = u64le(&z, 40);
            cd_off = u64le(&z, 48);
        }
    }
    // Bytes prepended to the archive shift every offset (Python's zipfile corrects for it the
    // same way): the directory really starts right before the end record.
    let shift = cd_end
        .checked_sub(cd_size)
        .and_then(|real| real.checked_sub(cd_off))
        .filter(|_| cd_off != 0xffff_ffff)
        .unwrap_or(0);
    cd_off += shift;
    if cd_off.saturating_add(cd_size) > blob.len() {
        return Err(format!(
            "central directory (offset {cd_off}, {cd_size} bytes) lies outside the file"
        ));
    }
    if cd_size > 512 << 20 {
        return Err(format!("central directory of {cd_size} bytes is too large"));
    }
    let cd = blob
        .bytes(cd_off, cd_size as usize)
        .ok()
        .flatten()
        .ok_or("central directory could not be read")?;
    let mut i = 0;
    let mut seen: BTreeSet<String> = BTreeSet::new();
    while i + 46 <= cd.len() && u32le(&cd, i) == CEN {
        if ar.members.len() >= max_members {
            ar.anomalies.push(Anomaly {
                member: None,
                offset: cd_off + i as u64,
                what: format!(
                    "more than {max_members} members (limit 'max_members'); the rest were not read"
                ),
            });
            break;
        }
        let nlen = u16le(&cd, i + 28) as usize;
        let xlen = u16le(&cd, i + 30) as usize;
        let clen = u16le(&cd, i + 32) as usize;
        if i + 46 + nlen + xlen + clen > cd.len() {
            ar.anomalies.push(Anomaly {
                member: None,
                offset: cd_off + i as u64,
                what: "central directory entry runs past the directory".into(),
            });
            break;
        }
        let name = String::from_utf8_lossy(&cd[i + 46..i + 46 + nlen]).into_owned();
        let mut m = Member {
            name: name.clone(),
            flags: u16le(&cd, i + 8),
            method: u16le(&cd, i + 10),
            crc: u32le(&cd, i + 16),
            csize: u32le(&cd, i + 20) as u64,
            usize: u32le(&cd, i + 24) as u64,
            local: u32le(&cd, i + 42) as u64,
            data: None,
            hidden: false,
        };
        zip64_extra(&cd[i + 46 + nlen..i + 46 + nlen + xlen], &mut m);
        m.local += shift;
        if !seen.insert(name.clone()) {
            ar.anomalies.push(Anomaly {
                member: Some(name.clone()),
                offset: cd_off + i as u64,
                what: "the name appears twice in the central directory (readers pick different copies)".into(),
            });
        }
        ar.members.push(m);
        i += 46 + nlen + xlen + clen;
    }
    if ar.members.len() as u64 != total && ar.members.len() < max_members {
        ar.anomalies.push(Anomaly {
            member: None,
            offset: eocd_at,
            what: format!(
                "the end record announces {total} members, the central directory lists {}",
                ar.members.len()
            ),
        });
    }
    for k in 0..ar.members.len() {
        check_local(blob, &mut ar, k);
    }
    if shift > 0 {
        ar.anomalies.push(Anomaly {
            member: None,
            offset: 0,
            what: format!("{shift} bytes precede the archive (a file that is two formats at once)"),
        });
    }
    walk_locals(blob, &mut ar, cd_off, max_members);
    ar.prefix = ar.members.iter().map(|m| m.local).min().unwrap_or(0);
    Ok(ar)
}

/// Sizes and offset from the zip64 extra field, where the 32-bit fields are saturated.
fn zip64_extra(extra: &[u8], m: &mut Member) {
    let mut j = 0;
    while j + 4 <= extra.len() {
        let id = u16le(extra, j);
        let n = u16le(extra, j + 2) as usize;
        let body = &extra[(j + 4).min(extra.len())..(j + 4 + n).min(extra.len())];
        if id == 1 {
            let mut k = 0;
            let mut next = |v: &mut u64| {
                if *v == 0xffff_ffff && k + 8 <= body.len() {
                    *v = u64le(body, k);
                    k += 8;
                }
            };
            next(&mut m.usize);
            next(&mut m.csize);
            next(&mut m.local);
        }
        j += 4 + n;
    }
}

/// Compare a member's local header with its central entry.
fn check_local(blob: &Blob, ar: &mut Archive, k: usize) {
    let m = &ar.members[k];
    let name = m.name.clone();
    let mut add = |off: u64, what: String| {
        ar.anomalies.push(Anomaly {
            member: Some(name.clone()),
            offset: off,
            what,
        })
    };
    let Some(h) = blob.bytes(m.local, 30).ok().flatten() else {
        add(m.local, "local header lies outside the file".into());
        return;
    };
    if u32le(&h, 0) != LOC {
        add(
            m.local,
            "no local header where the central directory points".into(),
        );
        return;
    }
    let nlen = u16le(&h, 26) as u64;
    let xlen = u16le(&h, 28) as u64;
    let lname = blob
        .bytes(m.local + 30, nlen as usize)
        .ok()
        .flatten()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let (flags, method) = (u16le(&h, 6), u16le(&h, 8));
    let (crc, cs, us) = (u32le(&h, 14), u32le(&h, 18) as u64, u32le(&h, 22) as u64);
    if lname != m.name {
        add(
            m.local,
            format!(
                "local header names it '{lname}' (readers that trust local headers see another file)"
            ),
        );
    }
    if method != m.method {
        add(
            m.local,
            format!(
                "compression method {method} in the local header, {} in the central directory",
                m.method
            ),
        );
    }
    if m.flags & 0x61 != 0 {
        add(
            m.local,
            format!(
                "the central directory marks it encrypted or patched (flags 0x{:04x}): loaders refuse it",
                m.flags
            ),
        );
    } else if flags & 0x61 != 0 {
        add(
            m.local,
            "marked encrypted in its local header only: torch.load and zipfile ignore that and load it, scanners that read local headers skip it".into(),
        );
    }
    if (flags & !0x0869) != (m.flags & !0x0869) {
        add(
            m.local,
            format!(
                "flag bits 0x{flags:04x} in the local header, 0x{:04x} in the central directory",
                m.flags
            ),
        );
    }
    let descriptor = flags & 8 != 0;
    if !descriptor {
        let cs_ok = cs == m.csize || cs == 0xffff_ffff;
        let us_ok = us == m.usize || us == 0xffff_ffff;
        if !cs_ok || !us_ok {
            add(
                m.local,
                format!(
                    "sizes {cs}/{us} in the local header, {}/{} in the central directory",
                    m.csize, m.usize
                ),
            );
        }
        if crc != m.crc {
            add(
                m.local,
                format!(
                    "CRC 0x{crc:08x} in the local header, 0x{:08x} in the central directory",
                    m.crc
                ),
            );
        }
    }
    ar.members[k].data = Some(m_data(ar.members[k].local, nlen, xlen));
}

fn m_data(local: u64, nlen: u64, xlen: u64) -> u64 {
    local + 30 + nlen + xlen
}

/// Walk local headers from the first one: members the central directory does not list are
/// hidden members (streaming readers and some loaders see them).
fn walk_locals(blob: &Blob, ar: &mut Archive, cd_off: u64, max_members: usize) {
    let known: BTreeMap<u64, usize> = ar
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| (m.local, i))
        .collect();
    let mut off = match known.keys().next() {
        Some(&o) => o.min(first_local(blob).unwrap_or(o)),
        None => match first_local(blob) {
            Some(o) => o,
            None => return,
        },
    };
    let mut steps = 0;
    while off + 30 <= cd_off && steps < max_members * 2 {
        steps += 1;
        let Some(h) = blob.bytes(off, 30).ok().flatten() else {
            return;
        };
        if u32le(&h, 0) != LOC {
            return;
        }
        let flags = u16le(&h, 6);
        let nlen = u16le(&h, 26) as u64;
        let xlen = u16le(&h, 28) as u64;
        let mut csize = u32le(&h, 18) as u64;
        let data = m_data(off, nlen, xlen);
        if let Some(&i) = known.get(&off) {
            csize = ar.members[i].csize;
        } else {
            let name = blob
                .bytes(off + 30, nlen as usize)
                .ok()
                .flatten()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default();
            if flags & 8 != 0 && csize == 0 {
                ar.anomalies.push(Anomaly {
                    member: Some(name),
                    offset: off,
                    what: "a local header not in the central directory, with its size in a data descriptor; the walk stops here".into(),
                });
                return;
            }
            ar.anomalies.push(Anomaly {
                member: Some(name.clone()),
                offset: off,
                what: "a member that is not in the central directory (hidden from zipfile; streaming readers see it)".into(),
            });
            ar.members.push(Member {
                name,
                method: u16le(&h, 8),
                flags,
                crc: u32le(&h, 14),
                csize,
                usize: u32le(&h, 22) as u64,
                local: off,
                data: Some(data),
                hidden: true,
            });
        }
        off = data + csize;
        if flags & 8 != 0 {
            // optional signature, CRC, sizes (zip64 sizes are 8 bytes each)
            let sig = blob.bytes(off, 4).ok().flatten().map(|b| u32le(&b, 0));
            off += if sig == Some(DESC) { 16 } else { 12 };
        }
    }
}

fn first_local(blob: &Blob) -> Option<u64> {
    let h = blob.bytes(0, 4).ok().flatten()?;
    (u32le(&h, 0) == LOC).then_some(0)
}

impl Member {
    pub fn is_dir(&self) -> bool {
        self.name.ends_with('/')
    }
}
