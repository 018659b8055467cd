//! The tenants' side of HTTP/1.1: requests read from a connection, handed to the gateway, and
//! answered, one at a time, on the task that owns the connection.
//!
//! Why not hyper's server, which the guard still uses for HTTP/2 and `respond serve` for
//! everything: per request it moved the head into a `HeaderMap` built field by field, drove
//! the body and the answer through its dispatcher's state machine and buffered writes, and
//! cost the guard about a fifth of its throughput (bench/README.md, "own HTTP/1.1 server").
//! This one parses the head with httparse (the parser hyper uses), keeps the fields as places
//! in the one buffer the head arrived in (`message::Fields`, no map), and writes each answer's
//! head and body in one system call.
//!
//! What it accepts is what RFC 9112 allows, read strictly, because a proxy that frames a
//! request differently from the server behind it is how requests are smuggled:
//! - A body is framed by `Content-Length` (a list of equal values counts as one; anything
//!   else is 400) or by `Transfer-Encoding: chunked` alone. Any other transfer coding is 501;
//!   both framings at once, or a transfer coding in an HTTP/1.0 request, are 400. After any
//!   error the connection is closed.
//! - A head over [`MAX_HEAD`] bytes or [`MAX_HEADERS`] fields is 431; a version other than
//!   HTTP/1.0 or 1.1 is 505; an `Expect` other than `100-continue` is 417.
//! - A body is read only when the gateway asks for it (after the tenant is known), under its
//!   size limit and deadline. `Expect: 100-continue` is answered then. A body the gateway did
//!   not read (a refusal, or one refused by its declared length) is drained when it is short
//!   and already on its way, otherwise the connection closes after the answer.
//! - The next head must arrive within the header timeout, from the connection's start or the
//!   last answer; a client that sends nothing, or half a head, is closed.
//! - Answers carry `Content-Length` (never chunked: the gateway's answers are whole), a `Date`,
//!   and `Connection: close` when the connection ends with them (client's wish, HTTP/1.0
//!   without keep-alive, an error, or the guard stopping).

use super::{
    Error, MAX_HEAD, MAX_HEADERS, connection_field, content_length, keep_alive_after, place,
    push_content_length, read_chunks, read_length, read_more, write_all,
};
use crate::body::{BodyError, RequestBody};
use crate::message::{Answer, Fields, RequestHead};
use bytes::{Bytes, BytesMut};
use hyper::{Method, StatusCode, Uri};
use std::cell::RefCell;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

/// The most of an unread body drained so that its connection can carry the next request.
const MAX_DRAIN: usize = 64 << 10;

/// A connection between requests: the stream, what has been read from it and not used yet,
/// and what became of the current request's body.
struct Conn<S> {
    io: S,
    buf: BytesMut,
    body: BodyState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyState {
    /// Nothing read yet (the gateway refused before it needed the body).
    Unread,
    /// Read whole (or there was none): the connection is at the next request.
    Read,
    /// Reading failed part way: the connection cannot carry another request.
    Broken,
}

/// How a request's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    None,
    Length(usize),
    Chunked,
}

/// A request's body, read from its connection when the gateway asks for it.
pub struct Body<S> {
    conn: Arc<Mutex<Option<Conn<S>>>>,
    framing: Framing,
    expect_continue: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send> RequestBody for Body<S> {
    async fn read_whole(
        self,
        _: &Fields,
        limit: usize,
        within: Duration,
    ) -> Result<Bytes, BodyError> {
        match self.framing {
            Framing::None => return Ok(Bytes::new()),
            // Refused before a byte of it is read: the connection is left as for a body the
            // gateway never asked for (drained when short, so it can carry the next request).
            Framing::Length(n) if n > limit => return Err(BodyError::TooLarge { limit }),
            _ => {}
        }
        let taken = self
            .conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(mut conn) = taken else {
            return Err(BodyError::Unreadable("the connection is gone".into()));
        };
        // Dropped part way (the client went away and the gateway with it), the connection
        // is dropped with it: the server then has nothing to answer on.
        let result = read_body(&mut conn, self.framing, self.expect_continue, limit, within).await;
        conn.body = if result.is_ok() {
            BodyState::Read
        } else {
            BodyState::Broken
        };
        *self.conn.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn);
        result
    }
}

async fn read_body<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    framing: Framing,
    expect_continue: bool,
    limit: usize,
    within: Duration,
) -> Result<Bytes, BodyError> {
    match framing {
        Framing::None => return Ok(Bytes::new()),
        // All there already (the common case): no timer.
        Framing::Length(n) if conn.buf.len() >= n => return Ok(conn.buf.split_to(n).freeze()),
        _ => {}
    }
    let reading = async {
        if expect_continue && conn.buf.is_empty() {
            conn.io.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
            conn.io.flush().await?;
        }
        match framing {
            Framing::Length(n) => read_length(&mut conn.io, &mut conn.buf, n).await,
            _ => read_chunks(&mut conn.io, &mut conn.buf, limit).await,
        }
    };
    match tokio::time::timeout(within, reading).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(Error::TooLarge)) => Err(BodyError::TooLarge { limit }),
        Ok(Err(e)) => Err(BodyError::Unreadable(e.to_string())),
        Err(_) => Err(BodyError::TimedOut { within }),
    }
}

/// A request head as read, and what the connection needs to know about it.
struct Head {
    head: RequestHead,
    http10: bool,
    framing: Framing,
    expect_continue: bool,
    keep_alive: bool,
}

/// A request that cannot be served: answered with `status` and closed.
#[derive(Debug, PartialEq)]
struct Refusal {
    status: StatusCode,
    message: String,
}

impl Refusal {
    /// The `reason` word of the JSON answer, as the gateway's refusals carry one.
    fn reason(&self) -> &'static str {
        match self.status {
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "head_too_large",
            StatusCode::HTTP_VERSION_NOT_SUPPORTED => "http_version",
            StatusCode::NOT_IMPLEMENTED => "transfer_coding",
            StatusCode::EXPECTATION_FAILED => "expectation",
            _ => "bad_request",
        }
    }
}

fn refusal(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
    }
}

/// Serves the requests of one connection until it closes, fails, idles past
/// `header_timeout` between requests, or `stopped` turns true. `handler` answers each one;
/// `refused` is told of each request refused here, before the gateway sees it (its status,
/// `reason` word and message).
pub async fn serve<S, H, Fut, R>(
    io: S,
    header_timeout: Duration,
    handler: H,
    refused: R,
    stopped: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
    H: Fn(RequestHead, Body<S>) -> Fut,
    Fut: Future<Output = Answer>,
    R: Fn(StatusCode, &'static str, &str),
{
    let shared = Arc::new(Mutex::new(None));
    let mut conn = Conn {
        io,
        buf: BytesMut::with_capacity(8 << 10),
        body: BodyState::Read,
    };
    // One timer (see `super::passed`) and one wait for the stop signal for the whole
    // connection, not one of each per request: a request costs a clock read, instead of a
    // timer set and cleared and a waiter added to and taken off the stop signal's list.
    let mut deadline = tokio::time::Instant::now() + header_timeout;
    let idle = tokio::time::sleep_until(deadline);
    let mut watching = stopped.clone();
    let stop = crate::listen::until_stopped(&mut watching);
    tokio::pin!(idle, stop);
    loop {
        let next = loop {
            // The head first: a request that is there is served without polling the stop
            // signal or the timer, which are polled (and wait) only while the head does.
            tokio::select! {
                biased;
                // Dropped when the timer fires first: what it read stays in `conn.buf`.
                next = read_head(&mut conn) => break next,
                _ = &mut stop => return,
                // Silent, or half a head, for too long: nothing to answer.
                () = &mut idle => if super::passed(idle.as_mut(), deadline) {
                    return;
                },
            }
        };
        let head = match next {
            Ok(Some(head)) => head,
            // Closed or broken: nothing to answer.
            Ok(None) => return,
            Err(r) => {
                refused(r.status, r.reason(), &r.message);
                let body = serde_json::json!({ "error": r.message, "reason": r.reason() });
                let answer = Answer::json(r.status, &body);
                let _ = write_answer(&mut conn.io, answer, false, false, false).await;
                let _ = conn.io.shutdown().await;
                return;
            }
        };
        let Head {
            head,
            http10,
            framing,
            expect_continue,
            keep_alive,
        } = head;
        let is_head = head.method == Method::HEAD;
        conn.body = if framing == Framing::None {
            BodyState::Read
        } else {
            BodyState::Unread
        };
        *shared.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn);
        let body = Body {
            conn: shared.clone(),
            framing,
            expect_continue,
        };
        let answer = handler(head, body).await;
        let Some(back) = shared.lock().unwrap_or_else(PoisonError::into_inner).take() else {
            return;
        };
        conn = back;
        let mut keep = keep_alive && !*stopped.borrow();
        match conn.body {
            BodyState::Read => {}
            BodyState::Broken => keep = false,
            // A client waiting for `100 Continue` sends its body only after it: never drain.
            BodyState::Unread => {
                keep = keep && !expect_continue && drain(&mut conn, framing, header_timeout).await
            }
        }
        let written = write_answer(&mut conn.io, answer, keep, http10 && keep, is_head).await;
        if written.is_err() || !keep {
            let _ = conn.io.shutdown().await;
            return;
        }
        deadline = tokio::time::Instant::now() + header_timeout;
    }
}

/// Reads the next request head; `None` when the client closed (or broke) the connection
/// first.
async fn read_head<S: AsyncRead + Unpin>(conn: &mut Conn<S>) -> Result<Option<Head>, Refusal> {
    loop {
        if !conn.buf.is_empty() {
            if let Some(head) = parse_head(&mut conn.buf)? {
                return Ok(Some(head));
            }
            if conn.buf.len() > MAX_HEAD {
                return Err(head_too_large());
            }
        }
        match read_more(&mut conn.io, &mut conn.buf).await {
            Ok(0) | Err(_) => return Ok(None),
            Ok(_) => {}
        }
    }
}

fn head_too_large() -> Refusal {
    refusal(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        format!("the request head is larger than {MAX_HEAD} bytes"),
    )
}

/// Parses the request head at the start of `buf` and removes it; `None` while incomplete.
fn parse_head(buf: &mut BytesMut) -> Result<Option<Head>, Refusal> {
    let mut fields = super::field_slots();
    let mut r = httparse::Request::new(&mut []);
    let len = match r.parse_with_uninit_headers(buf, &mut fields) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(refusal(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                format!("the request has more than {MAX_HEADERS} header fields"),
            ));
        }
        Err(httparse::Error::Version) => {
            return Err(refusal(
                StatusCode::HTTP_VERSION_NOT_SUPPORTED,
                "HTTP/1.0 and HTTP/1.1 are served here; HTTP/2 by TLS with ALPN, or in cleartext \
                 with prior knowledge",
            ));
        }
        Err(e) => {
            return Err(refusal(
                StatusCode::BAD_REQUEST,
                format!("the request head: {e}"),
            ));
        }
    };
    if len > MAX_HEAD {
        return Err(head_too_large());
    }
    let bad = |m: String| refusal(StatusCode::BAD_REQUEST, m);
    let method = Method::from_bytes(r.method.unwrap_or_default().as_bytes())
        .map_err(|_| bad("the request method".into()))?;
    let http10 = r.version == Some(0);
    let target = place(buf, r.path.unwrap_or_default().as_bytes());
    // httparse has checked the names and values; both are kept as places in the head, which
    // becomes one shared buffer below.
    let mut fields = Vec::with_capacity(r.headers.len());
    let mut length: Option<usize> = None;
    let mut chunked = false;
    let mut expect_continue = false;
    let mut keep_alive = !http10;
    for f in r.headers.iter() {
        let name = f.name.as_bytes();
        if name.eq_ignore_ascii_case(b"content-length") {
            length = Some(content_length(f.value, length).map_err(|e| bad(e.to_string()))?);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if chunked {
                return Err(bad("more than one Transfer-Encoding field".into()));
            }
            if !f.value.trim_ascii().eq_ignore_ascii_case(b"chunked") {
                return Err(refusal(
                    StatusCode::NOT_IMPLEMENTED,
                    format!(
                        "Transfer-Encoding '{}': only chunked is accepted",
                        String::from_utf8_lossy(f.value)
                    ),
                ));
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            keep_alive = keep_alive_after(f.value, http10, keep_alive);
        } else if name.eq_ignore_ascii_case(b"expect") {
            if !f.value.trim_ascii().eq_ignore_ascii_case(b"100-continue") {
                return Err(refusal(
                    StatusCode::EXPECTATION_FAILED,
                    format!(
                        "Expect '{}': only 100-continue is understood",
                        String::from_utf8_lossy(f.value)
                    ),
                ));
            }
            expect_continue = !http10;
        }
        fields.push((place(buf, name), place(buf, f.value)));
    }
    if chunked && http10 {
        return Err(bad("Transfer-Encoding in an HTTP/1.0 request".into()));
    }
    if chunked && length.is_some() {
        return Err(bad(
            "both Content-Length and Transfer-Encoding: the body could be read two ways".into(),
        ));
    }
    let framing = match (chunked, length) {
        (true, _) => Framing::Chunked,
        (false, Some(0) | None) => Framing::None,
        (false, Some(n)) => Framing::Length(n),
    };
    let head = buf.split_to(len).freeze();
    let uri = Uri::from_maybe_shared(head.slice(target))
        .map_err(|e| bad(format!("the request target: {e}")))?;
    Ok(Some(Head {
        head: RequestHead {
            method,
            uri,
            fields: Fields::in_head(head, fields),
        },
        http10,
        framing,
        expect_continue,
        keep_alive,
    }))
}

/// Reads and drops a short body the gateway did not need, so that the connection can carry
/// the next request; false when it is not short, not delimited by length, or does not come.
async fn drain<S: AsyncRead + Unpin>(
    conn: &mut Conn<S>,
    framing: Framing,
    within: Duration,
) -> bool {
    let Framing::Length(n) = framing else {
        return false;
    };
    if n > MAX_DRAIN {
        return false;
    }
    let reading = read_length(&mut conn.io, &mut conn.buf, n);
    matches!(tokio::time::timeout(within, reading).await, Ok(Ok(_)))
}

/// Writes `answer` whole: its head and body in one call where the socket allows.
async fn write_answer<S: AsyncWrite + Unpin>(
    io: &mut S,
    answer: Answer,
    keep_alive: bool,
    say_keep_alive: bool,
    no_body: bool,
) -> std::io::Result<()> {
    let status = answer.status;
    let mut head = Vec::with_capacity(128 + (answer.relayed.len() + answer.headers.len()) * 40);
    head.extend_from_slice(b"HTTP/1.1 ");
    head.extend_from_slice(status.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    head.extend_from_slice(b"\r\n");
    for (name, value) in answer.fields() {
        if connection_field(name) {
            continue;
        }
        head.extend_from_slice(name);
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    if !answer.headers.contains_key(hyper::header::DATE) && answer.relayed.get("date").is_none() {
        head.extend_from_slice(b"date: ");
        DATE.with(|d| head.extend_from_slice(d.borrow_mut().now()));
        head.extend_from_slice(b"\r\n");
    }
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if !bodiless {
        push_content_length(&mut head, answer.body.len());
    }
    if !keep_alive {
        head.extend_from_slice(b"connection: close\r\n");
    } else if say_keep_alive {
        head.extend_from_slice(b"connection: keep-alive\r\n");
    }
    head.extend_from_slice(b"\r\n");
    let body = if no_body || bodiless {
        &[][..]
    } else {
        &answer.body[..]
    };
    write_all(io, &head, body).await?;
    io.flush().await
}

thread_local! {
    static DATE: RefCell<CachedDate> = const {
        RefCell::new(CachedDate {
            second: u64::MAX,
            text: Vec::new(),
        })
    };
}

/// The `Date` field's value, formatted once a second per serving thread.
struct CachedDate {
    second: u64,
    text: Vec<u8>,
}

impl CachedDate {
    fn now(&mut self) -> &[u8] {
        let now = SystemTime::now();
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != self.second {
            self.second = second;
            self.text = httpdate::fmt_http_date(now).into_bytes();
        }
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, DuplexStream};

    /// An answer naming what the handler saw: `GET /path body=N` (or the body's error, as
    /// the gateway would answer it). Paths under `/refuse` are answered without the body.
    async fn echo(head: RequestHead, body: Body<DuplexStream>) -> Answer {
        let path = head.uri.path().to_string();
        if path.starts_with("/refuse") {
            return Answer::new(StatusCode::OK, "refused");
        }
        let read = body
            .read_whole(&head.fields, 1000, Duration::from_millis(200))
            .await;
        let text = match read {
            Ok(b) => format!(
                "{} {path} body={}",
                head.method,
                String::from_utf8_lossy(&b)
            ),
            Err(e) => format!("{} {path} error={e}", head.method),
        };
        Answer::new(StatusCode::OK, text)
    }

    /// Serves `server` with [`echo`] on a task of its own, refusals unrecorded.
    fn spawn_echo(
        server: tokio::io::DuplexStream,
        header_timeout: Duration,
        stopped: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(serve(server, header_timeout, echo, |_, _, _| {}, stopped))
    }

    /// Serves one connection whose client sends `input` (then stops sending, keeping the
    /// connection open unless `close`), and returns everything the server wrote until it
    /// closed, or until 2 s passed (then ending with `<open>`).
    async fn exchange(input: &[u8], close: bool) -> String {
        let (mut client, server) = tokio::io::duplex(1 << 20);
        let (_stop, stopped) = watch::channel(false);
        let serving = spawn_echo(server, Duration::from_millis(300), stopped);
        client.write_all(input).await.unwrap();
        if close {
            client.shutdown().await.unwrap();
        }
        let mut out = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(2), client.read_to_end(&mut out)).await;
        let mut text = String::from_utf8_lossy(&out).replace(&date(&out), "");
        if read.is_err() {
            text.push_str("<open>");
        }
        serving.abort();
        text
    }

    /// The `Date` field's line, to be left out of comparisons.
    fn date(out: &[u8]) -> String {
        let text = String::from_utf8_lossy(out);
        text.lines()
            .find(|l| l.starts_with("date: "))
            .map(|l| format!("{l}\r\n"))
            .unwrap_or_else(|| "\u{0}".into())
    }

    fn ok(body: &str) -> String {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    #[tokio::test]
    async fn kept_alive_and_pipelined_requests_are_answered_in_order() {
        let input = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc\
                      POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                      2\r\nde\r\n1;ext=1\r\nf\r\n0\r\nTrailer: x\r\n\r\n\
                      GET /c?q=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        let out = exchange(input, false).await;
        let last = "GET /c body=";
        assert_eq!(
            out,
            format!(
                "{}{}HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{last}",
                ok("POST /a body=abc"),
                ok("POST /b body=def"),
                last.len()
            )
        );
    }

    #[tokio::test]
    async fn requests_framed_two_ways_or_unknown_ways_are_refused_and_closed() {
        let cases: [(&[u8], &str); 6] = [
            (
                b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                "400 Bad Request",
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
                "501 Not Implemented",
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                "400 Bad Request",
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
                "400 Bad Request",
            ),
            (b"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc", "400 Bad Request"),
            (
                b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                "400 Bad Request",
            ),
        ];
        for (input, status) in cases {
            let out = exchange(input, false).await;
            assert!(out.starts_with(&format!("HTTP/1.1 {status}\r\n")), "{out}");
            assert!(out.contains("connection: close\r\n"), "{out}");
            assert!(
                !out.ends_with("<open>"),
                "the connection stayed open: {out}"
            );
        }
        let out = exchange(b"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc", false).await;
        assert!(
            out.contains(r#""error":"Content-Length '+3'","reason":"bad_request""#),
            "{out}"
        );
        let out = exchange(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", false).await;
        assert!(out.contains(r#""reason":"transfer_coding""#), "{out}");
        // A list of equal lengths is one length.
        let out = exchange(b"POST /l HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\nabc", true).await;
        assert_eq!(out, ok("POST /l body=abc"));
    }

    #[tokio::test]
    async fn each_refusal_is_reported_before_it_is_answered() {
        let seen = std::sync::Mutex::new(Vec::new());
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let (_stop, stopped) = watch::channel(false);
        client
            .write_all(b"POST / HTTP/1.1\r\nContent-Length: +3\r\n\r\nabc")
            .await
            .unwrap();
        let record = |status: StatusCode, reason: &'static str, message: &str| {
            seen.lock()
                .unwrap()
                .push((status.as_u16(), reason, message.to_string()));
        };
        serve(server, Duration::from_secs(5), echo, record, stopped).await;
        assert_eq!(
            *seen.lock().unwrap(),
            [(400, "bad_request", "Content-Length '+3'".to_string())]
        );
        let mut out = Vec::new();
        client.read_to_end(&mut out).await.unwrap();
        assert!(out.starts_with(b"HTTP/1.1 400 "));
    }

    #[tokio::test]
    async fn heads_over_the_limits_and_other_versions_are_refused() {
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_HEAD + 1));
        let out = exchange(long.as_bytes(), false).await;
        assert!(
            out.starts_with("HTTP/1.1 431 "),
            "{}",
            &out[..40.min(out.len())]
        );
        let many: String = (0..=MAX_HEADERS).map(|i| format!("x-{i}: 1\r\n")).collect();
        let out = exchange(format!("GET / HTTP/1.1\r\n{many}\r\n").as_bytes(), false).await;
        assert!(out.starts_with("HTTP/1.1 431 "), "{out}");
        assert!(out.contains("more than 100 header fields"), "{out}");
        let out = exchange(b"GET / HTTP/2.0\r\n\r\n", false).await;
        assert!(out.starts_with("HTTP/1.1 505 "), "{out}");
        let out = exchange(b"GET / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", false).await;
        assert!(out.starts_with("HTTP/1.1 417 "), "{out}");
        // Malformed fields, folded lines and a space before the colon (a classic way to
        // hide a Transfer-Encoding from one parser but not another) are all 400.
        for head in [
            &b"GET / HTTP/1.1\r\nbad header\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nX-A: a\r\n b\r\nContent-Length: 1\r\n\r\nx",
            b"POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        ] {
            let out = exchange(head, false).await;
            assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
        }
    }

    #[tokio::test]
    async fn http10_closes_unless_kept_alive() {
        let closing = |body: &str| {
            format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
        };
        let out = exchange(b"GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n", false).await;
        assert_eq!(out, closing("GET /a body="));
        let out = exchange(
            b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n",
            false,
        )
        .await;
        let kept = format!(
            "HTTP/1.1 200 OK\r\ncontent-length: 12\r\nconnection: keep-alive\r\n\r\nGET /a body={}",
            closing("GET /b body=")
        );
        assert_eq!(out, kept);
    }

    #[tokio::test]
    async fn continue_is_sent_when_the_body_is_wanted() {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let (_stop, stopped) = watch::channel(false);
        let serving = spawn_echo(server, Duration::from_secs(5), stopped);
        client
            .write_all(b"POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
            .await
            .unwrap();
        let mut interim = [0u8; 25];
        client.read_exact(&mut interim).await.unwrap();
        assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
        client.write_all(b"hi").await.unwrap();
        client.shutdown().await.unwrap();
        let mut out = Vec::new();
        client.read_to_end(&mut out).await.unwrap();
        let text = String::from_utf8_lossy(&out).replace(&date(&out), "");
        assert_eq!(text, ok("POST /e body=hi"));
        serving.abort();
    }

    #[tokio::test]
    async fn unread_bodies_are_drained_when_short_and_end_the_connection_otherwise() {
        // Short: drained, and the next request is served on the same connection.
        let out = exchange(
            b"POST /refuse HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /n HTTP/1.1\r\n\r\n",
            true,
        )
        .await;
        assert_eq!(out, format!("{}{}", ok("refused"), ok("GET /n body=")));
        // Chunked, or announced over the drain limit: answered, then closed.
        let out = exchange(
            b"POST /refuse HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
            false,
        )
        .await;
        assert!(out.ends_with("connection: close\r\n\r\nrefused"), "{out}");
        let big = format!(
            "POST /refuse HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_DRAIN + 1
        );
        let out = exchange(big.as_bytes(), false).await;
        assert!(out.ends_with("connection: close\r\n\r\nrefused"), "{out}");
    }

    #[tokio::test]
    async fn bodies_over_the_limit_late_or_broken_are_refused() {
        // Announced over the limit (1000): refused before reading, and then the connection is
        // as for a body the gateway never asked for: one that does not come ends it, a short
        // one sent whole is drained and the next request is served.
        let out = exchange(b"POST /big HTTP/1.1\r\nContent-Length: 1001\r\n\r\n", false).await;
        assert!(
            out.contains("error=the request body is larger than 1000 bytes"),
            "{out}"
        );
        assert!(out.contains("connection: close"), "{out}");
        assert!(!out.ends_with("<open>"), "{out}");
        let sent = format!(
            "POST /big HTTP/1.1\r\nContent-Length: 1001\r\n\r\n{}GET /n HTTP/1.1\r\n\r\n",
            "a".repeat(1001)
        );
        let out = exchange(sent.as_bytes(), true).await;
        let refused = "POST /big error=the request body is larger than 1000 bytes";
        assert_eq!(
            out,
            format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{refused}{}",
                refused.len(),
                ok("GET /n body=")
            )
        );
        // Chunked over the limit.
        let chunk = format!(
            "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n{}\r\n",
            "a".repeat(1001)
        );
        let out = exchange(chunk.as_bytes(), false).await;
        assert!(
            out.contains("error=the request body is larger than 1000 bytes"),
            "{out}"
        );
        // Stalled: the body's deadline (200 ms here) passes.
        let out = exchange(b"POST /s HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", false).await;
        assert!(
            out.contains("error=the request body did not arrive in full within 200 ms"),
            "{out}"
        );
        assert!(out.contains("connection: close"), "{out}");
        // Cut short by the client.
        let out = exchange(b"POST /s HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", true).await;
        assert!(out.contains("error=the request body could not be read: the connection closed after 3 of the 10 body bytes"), "{out}");
        // Bad chunk framing.
        let out = exchange(
            b"POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            true,
        )
        .await;
        assert!(
            out.contains("error=the request body could not be read: a bad chunk size line"),
            "{out}"
        );
    }

    #[tokio::test]
    async fn silent_and_half_sent_heads_are_closed_after_the_header_timeout() {
        assert_eq!(exchange(b"", false).await, "");
        assert_eq!(exchange(b"POST /a HTTP/1.1\r\nHost:", false).await, "");
        // And a kept-alive connection that sends nothing more.
        let out = exchange(b"GET /k HTTP/1.1\r\n\r\n", false).await;
        assert_eq!(out, ok("GET /k body="));
    }

    #[tokio::test]
    async fn each_answer_gives_the_next_head_a_whole_header_timeout() {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let (_stop, stopped) = watch::channel(false);
        let serving = spawn_echo(server, Duration::from_millis(1000), stopped);
        let answer = ok("GET /1 body=").len() + 37;
        let started = tokio::time::Instant::now();
        for (i, at) in [0, 600, 1200].into_iter().enumerate() {
            // The third request comes after the first deadline (1 s from the start) and
            // before the one the second answer set (about 1.6 s): it is served.
            tokio::time::sleep_until(started + Duration::from_millis(at)).await;
            client
                .write_all(format!("GET /{} HTTP/1.1\r\n\r\n", i + 1).as_bytes())
                .await
                .unwrap();
            let mut got = vec![0u8; answer];
            client.read_exact(&mut got).await.unwrap();
            assert!(got.starts_with(b"HTTP/1.1 200 OK"), "request {}", i + 1);
        }
        // Then nothing: closed a header timeout after the last answer.
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut rest));
        assert!(read.await.is_ok(), "still open 5 s after the last answer");
        assert!(rest.is_empty());
        assert!(serving.await.is_ok());
    }

    #[tokio::test]
    async fn a_stopping_server_closes_idle_connections_and_says_so_on_the_last_answer() {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let (stop, stopped) = watch::channel(false);
        let serving = spawn_echo(server, Duration::from_secs(60), stopped);
        client.write_all(b"GET /1 HTTP/1.1\r\n\r\n").await.unwrap();
        let mut first = vec![0u8; ok("GET /1 body=").len() + 37];
        client.read_exact(&mut first).await.unwrap();
        stop.send(true).unwrap();
        // The idle connection is closed at once, not after the 60 s header timeout.
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(2), client.read_to_end(&mut rest));
        assert!(read.await.is_ok(), "still open after the stop");
        assert!(serving.await.is_ok());
    }
}
