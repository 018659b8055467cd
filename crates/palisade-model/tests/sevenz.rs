//! 7z archives built byte by byte (7zFormat.txt): members are analysed through LZMA2, and
//! hostile headers (counts and sizes the file cannot hold, bombs, unknown coders) end in a
//! named finding without allocating what they claim. Real 7-Zip and py7zr archives are in
//! the corpus.

use palisade_model::limits::Limits;
use palisade_model::scan::{Options, scan_bytes};
use std::io::Write;

/// 7z's NUMBER: one byte below 0x80, else 0xff and eight little-endian bytes.
fn number(v: u64) -> Vec<u8> {
    if v < 0x80 {
        vec![v as u8]
    } else {
        let mut b = vec![0xff];
        b.extend(v.to_le_bytes());
        b
    }
}

struct Folder<'a> {
    coder: &'a [u8],
    props: &'a [u8],
    unpack: u64,
}

/// Main streams info for one folder of one packed stream.
fn streams(packed_len: u64, f: &Folder) -> Vec<u8> {
    let mut h = vec![0x06]; // pack info
    h.extend(number(0));
    h.extend(number(1));
    h.push(0x09);
    h.extend(number(packed_len));
    h.push(0x00);
    h.extend([0x07, 0x0b]); // unpack info, folders
    h.extend(number(1));
    h.push(0x00);
    h.extend(number(1)); // one coder
    h.push(f.coder.len() as u8 | if f.props.is_empty() { 0 } else { 0x20 });
    h.extend(f.coder);
    if !f.props.is_empty() {
        h.extend(number(f.props.len() as u64));
        h.extend(f.props);
    }
    h.push(0x0c);
    h.extend(number(f.unpack));
    h.push(0x00);
    h.push(0x00); // end of streams info
    h
}

/// A files section with these names, each one stream of the folder.
fn files(names: &[&str], count: u64) -> Vec<u8> {
    let mut h = vec![0x05];
    h.extend(number(count));
    let mut n = vec![0u8];
    for name in names {
        for u in name.encode_utf16() {
            n.extend(u.to_le_bytes());
        }
        n.extend([0, 0]);
    }
    h.push(0x11);
    h.extend(number(n.len() as u64));
    h.extend(n);
    h.push(0x00);
    h
}

/// Signature header, packed data, then `header`.
fn archive(packed: &[u8], header: &[u8]) -> Vec<u8> {
    let mut start = Vec::new();
    start.extend((packed.len() as u64).to_le_bytes());
    start.extend((header.len() as u64).to_le_bytes());
    start.extend(crc32fast::hash(header).to_le_bytes());
    let mut out = b"7z\xbc\xaf\x27\x1c\x00\x04".to_vec();
    out.extend(crc32fast::hash(&start).to_le_bytes());
    out.extend(start);
    out.extend(packed);
    out.extend(header);
    out
}

fn plain_header(packed_len: u64, f: &Folder, names: &[&str]) -> Vec<u8> {
    let mut h = vec![0x01, 0x04];
    h.extend(streams(packed_len, f));
    h.extend(files(names, names.len() as u64));
    h.push(0x00);
    h
}

/// An archive of one folder holding `packed`, cut into the files `names`.
fn single(packed: &[u8], f: &Folder, names: &[&str]) -> Vec<u8> {
    archive(packed, &plain_header(packed.len() as u64, f, names))
}

fn lzma2(data: &[u8]) -> Vec<u8> {
    let mut w = lzma_rust2::Lzma2Writer::new(Vec::new(), lzma_rust2::Lzma2Options::with_preset(1));
    w.write_all(data).unwrap();
    w.finish().unwrap()
}

/// LZMA2 dictionary property for 1 MiB.
const DICT_1M: u8 = 16;

/// A folder with one LZMA2 coder (1 MiB dictionary) producing `unpack` bytes.
fn lzma2_folder(unpack: u64) -> Folder<'static> {
    Folder {
        coder: &[0x21],
        props: &[DICT_1M],
        unpack,
    }
}

fn evil_pickle() -> Vec<u8> {
    // pickle.dumps of a __reduce__ to os.system("id"), protocol 4
    b"\x80\x04\x95\x1d\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93\x94\x8c\x02id\x94\x85\x94R\x94.".to_vec()
}

fn report(data: Vec<u8>, limits: Limits) -> String {
    let opts = Options {
        limits,
        ..Options::default()
    };
    let r = scan_bytes("t.7z", data, &opts);
    r.report
        .findings
        .iter()
        .map(|f| format!("{} {} {}\n", f.rule, f.path, f.message))
        .collect()
}

#[test]
fn lzma2_member_is_analysed_and_named_by_path() {
    let p = evil_pickle();
    let packed = lzma2(&p);
    let f = lzma2_folder(p.len() as u64);
    let m = report(single(&packed, &f, &["m/model.pkl"]), Limits::default());
    assert!(m.contains("MDL001 t.7z!m/model.pkl"), "{m}");
    assert!(m.contains("os.system"), "{m}");
}

#[test]
fn encoded_header_is_decoded() {
    // the member is stored (copy coder); the header itself is LZMA2-packed
    let p = evil_pickle();
    let f = Folder {
        coder: &[0x00],
        props: &[],
        unpack: p.len() as u64,
    };
    let inner = plain_header(p.len() as u64, &f, &["a.pkl"]);
    let packed_header = lzma2(&inner);
    let mut packed = p.clone();
    packed.extend(&packed_header);
    // streams info of the encoded header: its pack position is after the member's bytes
    let hf = lzma2_folder(inner.len() as u64);
    let mut h = vec![0x17];
    let mut s = streams(packed_header.len() as u64, &hf);
    s[1] = p.len() as u8; // pack position
    h.extend(s);
    let m = report(archive(&packed, &h), Limits::default());
    assert!(m.contains("MDL001 t.7z!a.pkl"), "{m}");
}

#[test]
fn bomb_stops_at_the_named_limit() {
    let mut p = vec![0x80, 4, 0x8e];
    p.extend((8u64 << 20).to_le_bytes());
    p.extend(std::iter::repeat_n(0u8, 8 << 20));
    p.push(b'.');
    let packed = lzma2(&p);
    let f = lzma2_folder(p.len() as u64);
    let limits = Limits {
        max_decompressed: 1 << 20,
        ..Limits::default()
    };
    let m = report(single(&packed, &f, &["bomb.pkl"]), limits);
    assert!(
        m.contains("MDL010") && m.contains("max_decompressed"),
        "{m}"
    );
}

#[test]
fn counts_the_header_cannot_hold_are_refused() {
    // 2^40 files in a 30-byte header: refused before anything is allocated for them
    let f = Folder {
        coder: &[0x00],
        props: &[],
        unpack: 1,
    };
    let mut h = vec![0x01, 0x04];
    h.extend(streams(1, &f));
    h.extend(files(&["a"], 1 << 40));
    h.push(0x00);
    let m = report(archive(b"x", &h), Limits::default());
    assert!(m.contains("MDL010") && m.contains("file count"), "{m}");

    // an encoded header that claims 2^60 bytes
    let hf = lzma2_folder(1 << 60);
    let mut h = vec![0x17];
    h.extend(streams(1, &hf));
    let m = report(archive(b"x", &h), Limits::default());
    assert!(
        m.contains("MDL010") && m.contains("encoded header claims"),
        "{m}"
    );

    // a header that says it lies past the end of the file
    let mut a = archive(b"", &[0x01, 0x00]);
    a[20..28].copy_from_slice(&(1u64 << 50).to_le_bytes());
    let start_crc = crc32fast::hash(&a[12..32]);
    a[8..12].copy_from_slice(&start_crc.to_le_bytes());
    let m = report(a, Limits::default());
    assert!(m.contains("MDL010") && m.contains("outside"), "{m}");
}

#[test]
fn member_claiming_more_than_its_data_is_reported_with_what_was_read() {
    // the folder claims 2^50 bytes; a few are there, and they are analysed
    let p = evil_pickle();
    let packed = lzma2(&p);
    let f = lzma2_folder(1 << 50);
    let m = report(single(&packed, &f, &["big.pkl"]), Limits::default());
    assert!(m.contains("MDL010") && m.contains("ends after"), "{m}");
    assert!(m.contains("MDL001 t.7z!big.pkl"), "{m}");

    // a 4 GiB dictionary is refused by name, not allocated
    let f = Folder {
        coder: &[0x21],
        props: &[40],
        unpack: 1 << 50,
    };
    let m = report(single(&packed, &f, &["big.pkl"]), Limits::default());
    assert!(m.contains("MDL010") && m.contains("dictionary"), "{m}");
}

#[test]
fn a_folder_crc_is_not_expected_again_among_the_substreams() {
    // 7zFormat.txt: the substreams' digests leave out a one-stream folder whose CRC the
    // folder info already gave; counting it would misread every byte after
    let p = evil_pickle();
    let mut h = vec![0x01, 0x04, 0x06];
    h.extend(number(0));
    h.extend(number(1));
    h.push(0x09);
    h.extend(number(p.len() as u64));
    h.extend([0x00, 0x07, 0x0b, 0x01, 0x00, 0x01, 0x01, 0x00, 0x0c]);
    h.extend(number(p.len() as u64));
    h.extend([0x0a, 0x01]);
    h.extend(crc32fast::hash(&p).to_le_bytes());
    h.push(0x00);
    // substreams: one stream in the folder, and a digest list with nothing in it
    h.extend([0x08, 0x0d, 0x01, 0x0a, 0x01, 0x00, 0x00]);
    h.extend(files(&["crc.pkl"], 1));
    h.push(0x00);
    let m = report(archive(&p, &h), Limits::default());
    assert!(m.contains("MDL001 t.7z!crc.pkl"), "{m}");
}

#[test]
fn unknown_and_encrypted_coders_are_named() {
    let f = Folder {
        coder: &[0x06, 0xf1, 0x07, 0x01],
        props: &[0x01],
        unpack: 10,
    };
    let m = report(
        archive(&[0u8; 16], &plain_header(16, &f, &["secret.pkl"])),
        Limits::default(),
    );
    assert!(m.contains("MDL010") && m.contains("encrypted"), "{m}");
    assert!(m.contains("secret.pkl"), "{m}");
}

#[test]
fn truncated_and_damaged_archives_never_panic() {
    let p = evil_pickle();
    let packed = lzma2(&p);
    let f = lzma2_folder(p.len() as u64);
    let header = plain_header(packed.len() as u64, &f, &["a.pkl"]);
    let good = archive(&packed, &header);
    for cut in 0..good.len() {
        let _ = report(good[..cut].to_vec(), Limits::default());
    }
    // damage with the checksums made to match, so that the parser and decoder see it
    for i in 0..header.len() {
        for x in [0x01, 0x55, 0xff] {
            let mut h = header.clone();
            h[i] ^= x;
            let _ = report(archive(&packed, &h), Limits::default());
        }
    }
    for i in 0..packed.len() {
        let mut d = packed.clone();
        d[i] ^= 0x55;
        let _ = report(archive(&d, &header), Limits::default());
    }
}
