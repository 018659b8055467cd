//! Pickle analysis: the symbolic [`machine`], the names it resolves ([`names`]) and its values
//! ([`value`]); here, the streams of one input read back to back and what follows them.

pub mod machine;
pub mod names;
pub mod value;

pub use machine::{Analysis, Callee, Event, EventKind, Options, Outcome};

use crate::input::Cursor;

/// The pickle streams of one input.
#[derive(Debug)]
pub struct Streams {
    pub streams: Vec<Analysis>,
    /// Offset of bytes after the last stream that are not a pickle.
    pub trailing: Option<u64>,
    /// The file is a legacy (non-zip) PyTorch checkpoint: five pickles, then storage bytes.
    pub legacy_torch: bool,
}

/// PyTorch's legacy magic number, the first pickle of a `_legacy_save` file.
const TORCH_MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

/// Does this start like a pickle of protocol 2 or later (`PROTO n`)?
pub fn has_proto_header(head: &[u8]) -> bool {
    head.len() >= 2 && head[0] == 0x80 && (2..=5).contains(&head[1])
}

/// Analyse every pickle stream from the cursor: the first, then any that follow it directly
/// (legacy PyTorch writes five; anything else back to back is a hidden stream).
/// `head` is the first bytes of the input (it tells a legacy PyTorch file).
pub fn analyze_all(cur: &mut Cursor, opts: Options, head: &[u8]) -> Streams {
    let mut out = Streams {
        streams: Vec::new(),
        trailing: None,
        legacy_torch: starts_with_torch_magic(head),
    };
    loop {
        let a = machine::analyze(cur, opts);
        let complete = a.outcome == Outcome::Complete;
        out.streams.push(a);
        if !complete {
            return out;
        }
        if out.legacy_torch && out.streams.len() == 5 {
            // storage bytes follow; torch reads them by the keys of the fifth pickle
            return out;
        }
        let pos = cur.pos();
        let next = match cur.peek(2) {
            Ok(b) => b.to_vec(),
            Err(_) => return out,
        };
        if next.is_empty() {
            return out;
        }
        if !has_proto_header(&next) || out.streams.len() >= opts.limits.max_streams {
            out.trailing = Some(pos);
            return out;
        }
    }
}

/// Checks the 15 bytes of a stream start for PyTorch's legacy magic number.
pub fn starts_with_torch_magic(head: &[u8]) -> bool {
    head.len() >= 14 && head[..4] == [0x80, 0x02, 0x8a, 0x0a] && head[4..14] == TORCH_MAGIC
}
