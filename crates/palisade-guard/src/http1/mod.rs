//! HTTP/1.1 on both sides of the guard, written for its two hops: [`client`] sends a
//! request to the model server and reads its answer; [`server`] reads tenants' requests and
//! writes the answers. What both need is here: the limits on a head, the `Content-Length`
//! rules, chunked bodies, and writing a head with its body in one call.

pub mod client;
pub mod server;

pub use client::{Pool, Reply, Target};

use crate::message::Fields;
use bytes::{Buf, Bytes, BytesMut};
use std::io::IoSlice;
use std::ops::Range;
use std::pin::Pin;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, Sleep};

/// Largest head (start line and fields) read: a model server's answer, or a tenant's request.
pub const MAX_HEAD: usize = 64 << 10;
/// Most header fields in one head.
pub const MAX_HEADERS: usize = 100;

/// Room for a head's fields, for httparse to fill. Left uninitialised: writing out the 100
/// empty fields first (3.2 KiB of stores for each request and again for its answer) cost
/// about 570 instructions a request (callgrind: 40,469 → 39,902).
fn field_slots<'b>() -> [std::mem::MaybeUninit<httparse::Header<'b>>; MAX_HEADERS] {
    [const { std::mem::MaybeUninit::uninit() }; MAX_HEADERS]
}

/// The fields that belong to one connection rather than to the message (RFC 9110 §7.6.1),
/// and the framing fields: read by each hop, never passed on by a proxy.
const CONNECTION_FIELDS: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

/// Whether `name` (any case) is one of the fields each hop reads for itself and writes its
/// own of ([`CONNECTION_FIELDS`]): the client leaves them out of the answers it returns and
/// out of the requests it writes, and the server out of the answers it writes.
pub(crate) fn connection_field(name: &[u8]) -> bool {
    crate::message::one_of(name, &CONNECTION_FIELDS)
}

/// The options a `Connection` field's value lists (RFC 9110 §7.6.1): `close`, `keep-alive`,
/// and the names of fields meant for that one hop, which a proxy must not pass on.
pub(crate) fn connection_options(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

/// The options of all of a message's `Connection` fields (see [`connection_options`]): a
/// field named among them ([`crate::message::one_of`]) is kept to its hop.
pub(crate) fn hop_options(fields: &Fields) -> Vec<&[u8]> {
    fields
        .get_all("connection")
        .flat_map(connection_options)
        .collect()
}

/// Whether `deadline` has passed, asked when `timer` has fired.
///
/// One timer serves all of a connection's deadlines (the head of each request a tenant sends,
/// each answer awaited from the model server) instead of one set and cleared per request:
/// it stays armed for the earliest deadline it was given, and only when it fires before the
/// current one is it set again, for that one. A request then costs a clock read; the timer
/// is touched about once per timeout's length.
pub(crate) fn passed(timer: Pin<&mut Sleep>, deadline: Instant) -> bool {
    if Instant::now() >= deadline {
        return true;
    }
    timer.reset(deadline);
    false
}

/// `work`'s output, or `None` when `deadline` passes first; `timer` is the connection's, as
/// [`passed`] describes (set again here if it was armed for later than `deadline`).
pub(crate) async fn by<F: Future>(
    mut timer: Pin<&mut Sleep>,
    deadline: Instant,
    work: F,
) -> Option<F::Output> {
    if timer.deadline() > deadline {
        timer.as_mut().reset(deadline);
    }
    tokio::pin!(work);
    loop {
        tokio::select! {
            biased;
            out = &mut work => return Some(out),
            () = timer.as_mut() => if passed(timer.as_mut(), deadline) {
                return None;
            },
        }
    }
}

/// Why an exchange with the model server failed (the server side reads a request body with
/// the same helpers, and the same variants tell it why a body broke).
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// No connection could be made, or it broke before an answer was read.
    Connect(String),
    /// The exchange's deadline passed before the whole answer was read.
    TimedOut,
    /// The answer (or body) is not valid HTTP/1.1, or broke off in the middle.
    BadResponse(String),
    /// The body is larger than the caller's limit.
    TooLarge,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Connect(e) | Error::BadResponse(e) => f.write_str(e),
            Error::TooLarge => f.write_str("the body is larger than the limit"),
            Error::TimedOut => f.write_str("no whole answer by the deadline"),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::Connect(e.to_string())
    }
}

/// Appends `content-length: N` and its line end to a head being written (without the
/// formatting machinery, which cost more than the rest of writing the head).
pub(crate) fn push_content_length(head: &mut Vec<u8>, n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    head.extend_from_slice(b"content-length: ");
    head.extend_from_slice(&digits[at..]);
    head.extend_from_slice(b"\r\n");
}

/// Writes a head and a body with as few system calls as the socket allows.
pub(crate) async fn write_all<S: AsyncWrite + Unpin>(
    s: &mut S,
    head: &[u8],
    body: &[u8],
) -> std::io::Result<()> {
    let mut parts = [IoSlice::new(head), IoSlice::new(body)];
    let mut parts = &mut parts[..];
    while !parts.is_empty() {
        let n = s.write_vectored(parts).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut parts, n);
    }
    Ok(())
}

/// A `Content-Length` value (a list of equal values counts as one), checked against an
/// earlier field.
pub(crate) fn content_length(value: &[u8], earlier: Option<usize>) -> Result<usize, Error> {
    let mut n = earlier;
    for v in value.split(|&b| b == b',') {
        let parsed = decimal(v.trim_ascii()).ok_or_else(|| {
            Error::BadResponse(format!(
                "Content-Length '{}'",
                String::from_utf8_lossy(value)
            ))
        })?;
        if n.is_some_and(|n| n != parsed) {
            return Err(Error::BadResponse(
                "conflicting Content-Length fields".into(),
            ));
        }
        n = Some(parsed);
    }
    n.ok_or_else(|| Error::BadResponse("an empty Content-Length".into()))
}

/// A non-empty run of ASCII digits as a number, if it fits.
fn decimal(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &b| {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n.checked_mul(10)?.checked_add(usize::from(d))
    })
}

/// Where `part` (a slice of `head`) lies in `head`.
pub(crate) fn place(head: &[u8], part: &[u8]) -> Range<usize> {
    let from = part.as_ptr() as usize - head.as_ptr() as usize;
    from..from + part.len()
}

/// Whether a connection is kept after a `Connection` field's tokens: `close` ends it, and
/// `keep-alive` keeps an HTTP/1.0 one (HTTP/1.1 keeps connections unless told otherwise).
pub(crate) fn keep_alive_after(value: &[u8], http10: bool, keep: bool) -> bool {
    let mut keep = keep;
    for token in connection_options(value) {
        if token.eq_ignore_ascii_case(b"close") {
            keep = false;
        } else if token.eq_ignore_ascii_case(b"keep-alive") && http10 {
            keep = true;
        }
    }
    keep
}

/// Reads until `buf` holds `n` bytes, and takes them.
pub(crate) async fn read_length<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut BytesMut,
    n: usize,
) -> Result<Bytes, Error> {
    // One byte more than the body: the read that ends it is then short of the room it had,
    // which tells the event loop the socket is drained (a kept-alive connection whose last
    // read filled its buffer exactly would look as if the peer had sent more, or closed).
    buf.reserve(n.saturating_sub(buf.len()) + 1);
    while buf.len() < n {
        if read_more(s, buf).await? == 0 {
            return Err(Error::BadResponse(format!(
                "the connection closed after {} of the {n} body bytes",
                buf.len()
            )));
        }
    }
    Ok(buf.split_to(n).freeze())
}

/// Reads what has arrived into `buf`; 0 when the peer has closed.
pub(crate) async fn read_more<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut BytesMut,
) -> Result<usize, Error> {
    if buf.capacity() == buf.len() {
        buf.reserve(buf.len().clamp(8 << 10, 1 << 20));
    }
    s.read_buf(buf)
        .await
        .map_err(|e| Error::Connect(format!("reading: {e}")))
}

/// Decodes a chunked body from `buf`, reading more as needed; the trailer section is read
/// and dropped.
pub(crate) async fn read_chunks<S: AsyncRead + Unpin>(
    s: &mut S,
    buf: &mut BytesMut,
    max_body: usize,
) -> Result<Bytes, Error> {
    let broke =
        || Error::BadResponse("the connection closed in the middle of a chunked body".into());
    let mut body = BytesMut::new();
    loop {
        let (used, size) = loop {
            match httparse::parse_chunk_size(buf) {
                Ok(httparse::Status::Complete((used, size))) => break (used, size),
                Ok(httparse::Status::Partial) if buf.len() < 1024 => {
                    if read_more(s, buf).await? == 0 {
                        return Err(broke());
                    }
                }
                _ => return Err(Error::BadResponse("a bad chunk size line".into())),
            }
        };
        buf.advance(used);
        if size == 0 {
            break;
        }
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if size > max_body.saturating_sub(body.len()) {
            return Err(Error::TooLarge);
        }
        while buf.len() < size + 2 {
            if read_more(s, buf).await? == 0 {
                return Err(broke());
            }
        }
        body.extend_from_slice(&buf[..size]);
        if &buf[size..size + 2] != b"\r\n" {
            return Err(Error::BadResponse("a chunk not followed by CRLF".into()));
        }
        buf.advance(size + 2);
    }
    // Trailer fields, then the empty line.
    let mut trailer = 0;
    let too_long = || {
        Error::BadResponse(format!(
            "the chunked body's trailer is larger than {MAX_HEAD} bytes"
        ))
    };
    loop {
        match buf.windows(2).position(|w| w == b"\r\n") {
            Some(0) => {
                buf.advance(2);
                return Ok(body.freeze());
            }
            Some(end) if trailer + end + 2 <= MAX_HEAD => {
                trailer += end + 2;
                buf.advance(end + 2);
            }
            Some(_) => return Err(too_long()),
            None if trailer + buf.len() > MAX_HEAD => return Err(too_long()),
            None => {
                if read_more(s, buf).await? == 0 {
                    return Err(broke());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn content_length_values_are_plain_decimals_that_agree() {
        for (value, want) in [
            (&b"0"[..], Some(0)),
            (b"12", Some(12)),
            (b" 7 ", Some(7)),
            (b"12, 12", Some(12)),
            (b"", None),
            (b"+3", None),
            (b"-1", None),
            (b"1a", None),
            (b"1 2", None),
            (b"12, 13", None),
            (b"12,", None),
        ] {
            let got = super::content_length(value, None).ok();
            assert_eq!(got, want, "{}", String::from_utf8_lossy(value));
        }
        let max = usize::MAX.to_string();
        assert_eq!(
            super::content_length(max.as_bytes(), None).ok(),
            Some(usize::MAX)
        );
        let over = format!("{max}0");
        assert!(super::content_length(over.as_bytes(), None).is_err());
        assert!(super::content_length(b"5", Some(6)).is_err());
    }

    #[test]
    fn content_length_lines_are_written_in_decimal() {
        for n in [0, 7, 10, 1_234_567, usize::MAX] {
            let mut head = b"x\r\n".to_vec();
            super::push_content_length(&mut head, n);
            assert_eq!(head, format!("x\r\ncontent-length: {n}\r\n").into_bytes());
        }
    }

    #[test]
    fn connection_fields_are_known_in_any_case_and_no_others() {
        for name in super::CONNECTION_FIELDS {
            assert!(super::connection_field(name.as_bytes()), "{name}");
            let upper = name.to_ascii_uppercase();
            assert!(super::connection_field(upper.as_bytes()), "{upper}");
            // The same length, or one more, is another field.
            let other = format!("x{}", &name[1..]);
            assert!(!super::connection_field(other.as_bytes()), "{other}");
            assert!(!super::connection_field(format!("{name}s").as_bytes()));
        }
        for name in ["host", "content-type", "date", "", &"x".repeat(100)] {
            assert!(!super::connection_field(name.as_bytes()), "{name}");
        }
    }
}
