//! The HTTP/1.1 exchange with the model server, written for this one hop: the request is
//! written and its answer read on the task that serves the client, over a kept-alive
//! connection from a small pool, with no connection task, channel or per-request connector
//! in between (what a general client such as hyper's costs per request).
//!
//! What it accepts from the model server is what RFC 9112 allows: `Content-Length`,
//! `Transfer-Encoding: chunked` (trailers read and dropped), or a body that ends when the
//! connection closes; interim `1xx` answers skipped; `HEAD`, `204` and `304` without a body.
//! A head over [`MAX_HEAD`] bytes or [`MAX_HEADERS`] fields, a body over the caller's limit,
//! conflicting lengths and bad chunk framing are errors, never a hang: the caller gives
//! each exchange a deadline, kept with one timer per connection (see [`super::passed`]).
//!
//! A kept-alive connection the server has closed is recognised before use when its close has
//! arrived (`quiet`). When the close crosses the request instead (no byte of an answer, on a
//! reused connection), the request is sent once more on a new connection. The model server
//! may then have received it twice; for inference that is harmless, and a request that makes
//! the server crash is tried at most twice before the client gets a 502.

use super::{
    Error, MAX_HEAD, MAX_HEADERS, by, connection_field, connection_options, content_length,
    keep_alive_after, place, push_content_length, read_chunks, read_length, read_more, write_all,
};
use crate::message::{Fields, one_of};
use bytes::{Buf, Bytes, BytesMut};
use hyper::header::HeaderValue;
use hyper::{Method, StatusCode};
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::time::Sleep;

/// Most interim (1xx) answers before the final one.
const MAX_INTERIM: usize = 8;
/// How long a connection may sit idle in the pool before it is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer body whose read buffer an idle connection keeps: after a larger one the
/// buffer may have grown to its size, and idle connections should not hold that much.
const KEPT_BUFFER: usize = 16 << 10;

/// The model server's answer.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    /// Its end-to-end fields: the connection's own (`Connection`, the framing…) are this
    /// client's to read.
    pub fields: Fields,
    pub body: Bytes,
}

/// Where the requests go.
pub struct Target {
    host: String,
    port: u16,
    /// The `Host` field: the authority as written in `upstream.url`.
    host_field: HeaderValue,
    connect_timeout: Duration,
}

impl Target {
    pub fn new(
        authority: &hyper::http::uri::Authority,
        connect_timeout: Duration,
    ) -> Result<Target, String> {
        Ok(Target {
            host: authority
                .host()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: authority.port_u16().unwrap_or(80),
            host_field: HeaderValue::from_str(authority.as_str())
                .map_err(|_| format!("'{authority}' cannot be a Host header"))?,
            connect_timeout,
        })
    }

    /// A new connection, within the connect timeout and by `deadline` (the exchange's).
    async fn connect(&self, deadline: tokio::time::Instant) -> Result<TcpStream, Error> {
        let connecting = TcpStream::connect((self.host.as_str(), self.port));
        let give_up = tokio::time::Instant::now() + self.connect_timeout;
        let stream = match tokio::time::timeout_at(give_up.min(deadline), connecting).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                return Err(Error::Connect(format!("{}:{}: {e}", self.host, self.port)));
            }
            Err(_) if deadline < give_up => return Err(Error::TimedOut),
            Err(_) => {
                return Err(Error::Connect(format!(
                    "{}:{}: no connection within {} ms",
                    self.host,
                    self.port,
                    self.connect_timeout.as_millis()
                )));
            }
        };
        stream.set_nodelay(true).ok();
        Ok(stream)
    }
}

/// A connection to the model server.
struct Conn {
    stream: TcpStream,
    /// Its read buffer, whose memory is used again once the answers read into it are gone.
    buf: BytesMut,
    /// The deadline of its exchanges (see [`super::passed`]).
    timer: Pin<Box<Sleep>>,
}

/// Kept-alive connections of one serving thread (a connection is driven by the thread
/// whose event loop it is registered with, so each thread keeps its own).
pub struct Pool {
    /// Each with when it was put back.
    idle: Mutex<Vec<(Conn, Instant)>>,
    max_idle: usize,
    idle_timeout: Duration,
    /// The largest answer body read.
    max_body: usize,
}

impl Pool {
    /// A pool keeping at most `max_idle` connections, whose exchanges read answer bodies of
    /// at most `max_body` bytes.
    pub fn new(max_idle: usize, max_body: usize) -> Pool {
        Pool::with_idle_timeout(max_idle, max_body, IDLE_TIMEOUT)
    }

    fn with_idle_timeout(max_idle: usize, max_body: usize, idle_timeout: Duration) -> Pool {
        Pool {
            idle: Mutex::new(Vec::new()),
            max_idle,
            idle_timeout,
            max_body,
        }
    }

    /// The most recently used connection that is still open and quiet.
    fn take(&self) -> Option<Conn> {
        let now = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        while let Some((c, since)) = idle.pop() {
            if now.duration_since(since) < self.idle_timeout && quiet(&c.stream) {
                return Some(c);
            }
        }
        None
    }

    fn put(&self, c: Conn) {
        let now = Instant::now();
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        // Oldest first: connections idle too long are closed from the front.
        let expired = idle
            .iter()
            .take_while(|(_, since)| now.duration_since(*since) >= self.idle_timeout)
            .count();
        idle.drain(..expired);
        if idle.len() < self.max_idle {
            idle.push((c, now));
        }
    }

    /// Sends one request and reads the whole answer, by `deadline` ([`Error::TimedOut`]
    /// after it, connecting included). A kept-alive connection that turns out to have been
    /// closed by the server before it answered is replaced by a new one, once.
    /// `fields`: the request's header fields as (name, value); `Host`, the framing and the
    /// connection's own fields among them are left out, as this writes its own.
    pub async fn exchange<'a>(
        &self,
        target: &Target,
        method: &Method,
        path_and_query: &str,
        fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
        body: &[u8],
        deadline: tokio::time::Instant,
    ) -> Result<Reply, Error> {
        let head = request_head(target, method, path_and_query, fields, body.len());
        let mut kept = self.take();
        loop {
            let reused = kept.is_some();
            let mut c = match kept.take() {
                Some(kept) => kept,
                None => Conn {
                    stream: target.connect(deadline).await?,
                    buf: BytesMut::new(),
                    timer: Box::pin(tokio::time::sleep_until(deadline)),
                },
            };
            let exchanged = round_trip(
                &mut c.stream,
                &mut c.buf,
                &head,
                body,
                method,
                self.max_body,
            );
            let Some(exchanged) = by(c.timer.as_mut(), deadline, exchanged).await else {
                // Part of an answer may be unread: the connection goes.
                return Err(Error::TimedOut);
            };
            match exchanged {
                Ok((reply, reusable)) => {
                    if reusable {
                        if reply.body.len() > KEPT_BUFFER {
                            c.buf = BytesMut::new();
                        }
                        self.put(c);
                    }
                    return Ok(reply);
                }
                // The kept connection was closed under the request: once more on a new one.
                Err(Broke::Unanswered(_)) if reused => {}
                Err(Broke::Unanswered(why)) => return Err(Error::Connect(why)),
                Err(Broke::Failed(e)) => return Err(e),
            }
        }
    }
}

/// True when nothing (an answer nobody asked for, or the server's close) has arrived on an
/// idle connection. Reading the last answer to a short read cleared the socket's
/// readiness, so this asks the event loop without a system call.
fn quiet(s: &TcpStream) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    matches!(s.poll_read_ready(&mut cx), Poll::Pending)
}

/// How a round trip failed.
enum Broke {
    /// Not one byte of an answer arrived: the request may be sent again on a new connection.
    Unanswered(String),
    Failed(Error),
}

fn request_head<'a>(
    target: &Target,
    method: &Method,
    path_and_query: &str,
    fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    body_len: usize,
) -> Vec<u8> {
    let mut head = Vec::with_capacity(512);
    head.extend_from_slice(method.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(path_and_query.as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    head.extend_from_slice(target.host_field.as_bytes());
    head.extend_from_slice(b"\r\n");
    for (name, value) in fields {
        if connection_field(name) || name.eq_ignore_ascii_case(b"host") {
            continue;
        }
        head.extend_from_slice(name);
        head.extend_from_slice(b": ");
        head.extend_from_slice(value);
        head.extend_from_slice(b"\r\n");
    }
    if body_len > 0 || !matches!(*method, Method::GET | Method::HEAD | Method::DELETE) {
        push_content_length(&mut head, body_len);
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// `buf`: the connection's read buffer, empty between answers.
async fn round_trip(
    s: &mut TcpStream,
    buf: &mut BytesMut,
    head: &[u8],
    body: &[u8],
    method: &Method,
    max_body: usize,
) -> Result<(Reply, bool), Broke> {
    write_all(s, head, body)
        .await
        .map_err(|e| Broke::Unanswered(format!("sending the request: {e}")))?;
    // Room for a typical answer in one read. Once the earlier answers' bytes are dropped,
    // this takes back the buffer's memory instead of allocating.
    buf.reserve(4 << 10);
    let mut answered = false;
    loop {
        let n = match read_more(s, buf).await {
            Ok(n) => n,
            Err(Error::Connect(e)) if !answered => return Err(Broke::Unanswered(e)),
            Err(e) => return Err(Broke::Failed(e)),
        };
        if n == 0 {
            return Err(if answered {
                Broke::Failed(Error::BadResponse(
                    "the connection closed in the middle of the answer's head".into(),
                ))
            } else {
                Broke::Unanswered("the connection closed before an answer".into())
            });
        }
        answered = true;
        let Some(head) = parse_head(buf, method).map_err(Broke::Failed)? else {
            if buf.len() > MAX_HEAD {
                return Err(Broke::Failed(Error::BadResponse(format!(
                    "the answer's head is larger than {MAX_HEAD} bytes"
                ))));
            }
            continue;
        };
        let (body, reusable) = read_body(s, buf, &head, max_body)
            .await
            .map_err(Broke::Failed)?;
        return Ok((
            Reply {
                status: head.status,
                fields: head.fields,
                body,
            },
            reusable && head.keep_alive && buf.is_empty(),
        ));
    }
}
/// A parsed response head and how its body is framed.
struct Head {
    status: StatusCode,
    fields: Fields,
    framing: Framing,
    keep_alive: bool,
}

enum Framing {
    Empty,
    Length(usize),
    Chunked,
    UntilClose,
}

/// Parses the head at the start of `buf` and removes it, skipping interim (1xx) answers;
/// `None` while it is incomplete.
fn parse_head(buf: &mut BytesMut, method: &Method) -> Result<Option<Head>, Error> {
    let mut interim = 0;
    loop {
        let mut fields = super::field_slots();
        let mut r = httparse::Response::new(&mut []);
        let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(
            &mut r,
            buf,
            &mut fields,
        ) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(Error::BadResponse(format!(
                    "the answer has more than {MAX_HEADERS} header fields"
                )));
            }
            Err(e) => return Err(Error::BadResponse(format!("the answer's head: {e}"))),
        };
        let code = r.code.unwrap_or(0);
        let status = StatusCode::from_u16(code)
            .map_err(|_| Error::BadResponse(format!("status code {code}")))?;
        if code == 101 {
            return Err(Error::BadResponse(
                "the model server switched protocols, which the guard never asks for".into(),
            ));
        }
        if status.is_informational() {
            interim += 1;
            if interim > MAX_INTERIM {
                return Err(Error::BadResponse(format!(
                    "more than {MAX_INTERIM} interim (1xx) answers"
                )));
            }
            buf.advance(len);
            continue;
        }
        // httparse has checked the names and values; both are kept as places in the head,
        // which becomes one shared buffer below, so that nothing is copied.
        let mut fields = Vec::with_capacity(r.headers.len());
        let mut length: Option<usize> = None;
        let mut chunked = None;
        let mut keep_alive = r.version == Some(1);
        let mut hop = Vec::new();
        for f in r.headers.iter() {
            let name = f.name.as_bytes();
            if name.eq_ignore_ascii_case(b"content-length") {
                length = Some(content_length(f.value, length)?);
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                // The last coding decides: only `chunked` delimits the body.
                let last = f.value.rsplit(|&b| b == b',').next().unwrap_or_default();
                chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            } else if name.eq_ignore_ascii_case(b"connection") {
                keep_alive = keep_alive_after(f.value, r.version == Some(0), keep_alive);
                hop.extend(connection_options(f.value));
            }
            if !connection_field(name) {
                fields.push((place(buf, name), place(buf, f.value)));
            }
        }
        // Fields the model server's `Connection` keeps to its hop are not the tenant's.
        if !hop.is_empty() {
            fields.retain(|(name, _)| !one_of(&buf[name.clone()], &hop));
        }
        let head = buf.split_to(len).freeze();
        let fields = Fields::in_head(head, fields);
        let framing = if *method == Method::HEAD
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            Framing::Empty
        } else {
            match (chunked, length) {
                (Some(true), _) => Framing::Chunked,
                (Some(false), _) => Framing::UntilClose,
                (None, Some(n)) => Framing::Length(n),
                (None, None) => Framing::UntilClose,
            }
        };
        // Both framings at once is how responses are smuggled: the coding decides this one
        // (RFC 9112 §6.3) and the connection carries no other.
        let both = chunked.is_some() && length.is_some();
        return Ok(Some(Head {
            status,
            fields,
            keep_alive: keep_alive && !both,
            framing,
        }));
    }
}

/// Reads the body that follows the head; true when the connection can carry another request.
async fn read_body(
    s: &mut TcpStream,
    buf: &mut BytesMut,
    head: &Head,
    max_body: usize,
) -> Result<(Bytes, bool), Error> {
    match head.framing {
        Framing::Empty => Ok((Bytes::new(), true)),
        Framing::Length(n) if n > max_body => Err(Error::TooLarge),
        Framing::Length(n) => Ok((read_length(s, buf, n).await?, true)),
        Framing::UntilClose => {
            while read_more(s, buf).await? > 0 {
                if buf.len() > max_body {
                    return Err(Error::TooLarge);
                }
            }
            Ok((buf.split().freeze(), false))
        }
        Framing::Chunked => {
            let body = read_chunks(s, buf, max_body).await?;
            Ok((body, true))
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::net::SocketAddr;
    use tokio::io::AsyncBufReadExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// No header fields.
    const NONE: [(&[u8], &[u8]); 0] = [];

    /// A model server that plays a script: for each connection it accepts, it reads one
    /// request per answer in that connection's list, writes the answer, and after the last
    /// one closes the connection (an answer of `b""` closes without answering). It returns
    /// the requests it read, by connection.
    async fn scripted(
        script: Vec<Vec<&'static [u8]>>,
    ) -> (SocketAddr, tokio::task::JoinHandle<Vec<Vec<String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            for answers in script {
                let (conn, _) = listener.accept().await.unwrap();
                let mut conn = tokio::io::BufReader::new(conn);
                let mut requests = Vec::new();
                for answer in answers {
                    requests.push(read_request(&mut conn).await);
                    if answer.is_empty() {
                        break;
                    }
                    conn.get_mut().write_all(answer).await.unwrap();
                }
                seen.push(requests);
            }
            seen
        });
        (addr, task)
    }

    /// One request's head and body, as text.
    async fn read_request(conn: &mut tokio::io::BufReader<tokio::net::TcpStream>) -> String {
        let mut request = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            if conn.read_line(&mut line).await.unwrap() == 0 {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            request.push_str(&line);
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        conn.read_exact(&mut body).await.unwrap();
        request.push_str(&String::from_utf8(body).unwrap());
        request
    }

    /// A deadline no exchange of these tests comes near.
    fn soon() -> tokio::time::Instant {
        tokio::time::Instant::now() + Duration::from_secs(10)
    }

    #[tokio::test]
    async fn an_answer_late_for_its_deadline_times_out_on_a_kept_connection() {
        // Answers the first request at once and never the second, on one connection.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            let mut conn = tokio::io::BufReader::new(conn);
            read_request(&mut conn).await;
            let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
            conn.get_mut().write_all(ok).await.unwrap();
            read_request(&mut conn).await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        });
        let (pool, t) = (Pool::new(4, 1000), target(addr));
        // The connection's timer is first armed for this far deadline...
        post(&pool, &t, "1").await.unwrap();
        // ...and a nearer one on the same connection still ends the wait at its time.
        let near = tokio::time::Instant::now() + Duration::from_millis(100);
        let late = pool.exchange(&t, &Method::POST, "/", NONE, b"2", near);
        let got = tokio::time::timeout(Duration::from_secs(5), late).await;
        assert_eq!(
            got.expect("ended by its own deadline").unwrap_err(),
            Error::TimedOut
        );
        assert!(
            pool.idle.lock().unwrap().is_empty(),
            "the connection is let go"
        );
        server.abort();
    }

    fn target(addr: SocketAddr) -> Target {
        Target::new(&addr.to_string().parse().unwrap(), Duration::from_secs(2)).unwrap()
    }

    async fn post(pool: &Pool, t: &Target, body: &str) -> Result<Reply, Error> {
        pool.exchange(
            t,
            &Method::POST,
            "/predict?x=1",
            [(&b"content-type"[..], &b"application/json"[..])],
            body.as_bytes(),
            soon(),
        )
        .await
    }

    #[test]
    fn a_request_carries_its_own_framing_and_connection_fields_only() {
        // Named in any case: field names are not case-sensitive, and are written as given.
        let fields = Fields::from_pairs(
            [
                ("Connection", "keep-alive, x-secret"),
                ("keep-alive", "timeout=5"),
                ("TE", "trailers"),
                ("transfer-encoding", "chunked"),
                ("Content-Length", "999"),
                ("upgrade", "h2c"),
                ("HOST", "client.example"),
                ("X-Model", "a"),
            ]
            .map(|(n, v)| (n.as_bytes(), v.as_bytes())),
        );
        let t = target("127.0.0.1:9".parse().unwrap());
        let head = request_head(&t, &Method::POST, "/p", fields.iter(), 2);
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "POST /p HTTP/1.1\r\nhost: 127.0.0.1:9\r\nX-Model: a\r\ncontent-length: 2\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn a_large_answer_lets_its_buffer_go_and_keeps_its_connection() {
        let big: &'static [u8] = Box::leak(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{}",
                KEPT_BUFFER + 1,
                "x".repeat(KEPT_BUFFER + 1)
            )
            .into_bytes()
            .into_boxed_slice(),
        );
        let (addr, server) = scripted(vec![vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            big,
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        ]])
        .await;
        let (pool, t) = (Pool::new(4, 1 << 20), target(addr));
        let kept = |pool: &Pool| pool.idle.lock().unwrap()[0].0.buf.capacity();
        post(&pool, &t, "").await.unwrap();
        assert!(
            kept(&pool) > 0,
            "the buffer of a small answer is used again"
        );
        let answer = pool
            .exchange(&t, &Method::POST, "/", NONE, b"", soon())
            .await
            .unwrap();
        assert_eq!(answer.body.len(), KEPT_BUFFER + 1);
        assert_eq!(kept(&pool), 0, "a large answer's buffer is let go");
        // The connection itself is used again: the read that ended the body left it quiet.
        assert_eq!(&post(&pool, &t, "").await.unwrap().body[..], b"ok");
        drop(pool);
        assert_eq!(
            server.await.unwrap().len(),
            1,
            "one connection for all three"
        );
    }

    #[tokio::test]
    async fn fields_an_answer_keeps_to_its_hop_are_not_returned() {
        let (addr, server) = scripted(vec![vec![
            b"HTTP/1.1 200 OK\r\nX-Internal: secret\r\nConnection: keep-alive , X-INTERNAL,\r\n\
              Connection: x-trace\r\nX-Trace: 7\r\nX-Model: m\r\nContent-Length: 2\r\n\r\nok",
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        ]])
        .await;
        let (pool, t) = (Pool::new(4, 1000), target(addr));
        let answer = post(&pool, &t, "").await.unwrap();
        let names: Vec<_> = answer.fields.iter().map(|(n, _)| n).collect();
        assert_eq!(names, [b"X-Model"]);
        // The options other than `close` keep the connection.
        post(&pool, &t, "").await.unwrap();
        drop(pool);
        assert_eq!(server.await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn kept_alive_answers_reuse_one_connection() {
        let (addr, server) = scripted(vec![vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Model: a\r\n\r\nok",
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-Trailer: 1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n",
        ]])
        .await;
        let (pool, t) = (Pool::new(4, 1000), target(addr));
        let a = post(&pool, &t, "{\"x\":1}").await.unwrap();
        assert_eq!((a.status.as_u16(), &a.body[..]), (200, &b"ok"[..]));
        assert_eq!(a.fields.get("x-model"), Some(&b"a"[..]));
        let b = post(&pool, &t, "").await.unwrap();
        assert_eq!((b.status.as_u16(), &b.body[..]), (201, &b"Wikipedia"[..]));
        // The framing fields were this client's to read: the answer carries the rest.
        assert_eq!(a.fields.len(), 1, "{:?}", a.fields);
        assert!(b.fields.is_empty(), "{:?}", b.fields);
        let head = pool
            .exchange(&t, &Method::HEAD, "/", NONE, b"", soon())
            .await
            .unwrap();
        assert!(head.body.is_empty(), "a HEAD answer has no body");
        drop(pool);
        let seen = server.await.unwrap();
        assert_eq!(seen.len(), 1, "one connection for all three: {seen:?}");
        let first = &seen[0][0];
        assert!(
            first.starts_with("POST /predict?x=1 HTTP/1.1\r\n"),
            "{first}"
        );
        assert!(first.contains(&format!("host: {addr}\r\n")), "{first}");
        assert!(first.contains("content-length: 7\r\n"), "{first}");
        assert!(first.ends_with("\r\n\r\n{\"x\":1}"), "{first}");
        assert!(
            seen[0][1].contains("content-length: 0\r\n"),
            "{}",
            seen[0][1]
        );
        assert!(!seen[0][2].contains("content-length"), "{}", seen[0][2]);
    }

    /// A model server that keeps every connection open and answers every request with `ok`;
    /// its address, and how many connections it has accepted so far.
    pub(crate) async fn counting_server() -> (SocketAddr, impl Fn() -> usize) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut conn = tokio::io::BufReader::new(conn);
                    loop {
                        read_request(&mut conn).await;
                        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                        if conn.get_mut().write_all(ok).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        (addr, move || {
            connections.load(std::sync::atomic::Ordering::SeqCst)
        })
    }

    #[tokio::test]
    async fn connections_idle_too_long_are_not_reused() {
        let (addr, count) = counting_server().await;
        let (pool, t) = (
            Pool::with_idle_timeout(4, 1000, Duration::from_millis(50)),
            target(addr),
        );
        post(&pool, &t, "1").await.unwrap();
        post(&pool, &t, "2").await.unwrap();
        assert_eq!(count(), 1, "kept alive while fresh");
        tokio::time::sleep(Duration::from_millis(100)).await;
        post(&pool, &t, "3").await.unwrap();
        assert_eq!(count(), 2, "a new connection after the idle timeout");
    }

    #[tokio::test]
    async fn an_answer_framed_both_ways_is_read_chunked_and_ends_its_connection() {
        let (addr, server) = scripted(vec![
            vec![
                b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nd\r\n0\r\n\r\n",
                // Reads what comes next on this connection: nothing, if it was let go.
                b"",
            ],
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\ne"],
        ])
        .await;
        let (pool, t) = (Pool::new(4, 1000), target(addr));
        assert_eq!(&post(&pool, &t, "1").await.unwrap().body[..], b"d");
        assert_eq!(&post(&pool, &t, "2").await.unwrap().body[..], b"e");
        let seen = server.await.unwrap();
        assert_eq!(seen[0][1], "", "the connection was used again: {seen:?}");
        assert!(seen[1][0].ends_with("\r\n\r\n2"), "{seen:?}");
    }

    #[tokio::test]
    async fn interim_answers_are_skipped() {
        let (addr, _server) = scripted(vec![vec![
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        ]])
        .await;
        let r = post(&Pool::new(4, 1000), &target(addr), "{}")
            .await
            .unwrap();
        assert_eq!((r.status.as_u16(), &r.body[..]), (200, &b"ok"[..]));
    }

    #[tokio::test]
    async fn connections_the_server_ends_are_not_reused() {
        let (addr, server) = scripted(vec![
            // The body ends when the connection does.
            vec![b"HTTP/1.0 200 OK\r\n\r\nuntil close"],
            vec![b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na"],
            // Answers once, then closes after reading the next request without answering:
            // that request is sent again on a new connection.
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb", b""],
            vec![b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nc"],
        ])
        .await;
        let (pool, t) = (Pool::new(4, 1000), target(addr));
        let bodies = [
            post(&pool, &t, "1").await.unwrap().body,
            post(&pool, &t, "2").await.unwrap().body,
            post(&pool, &t, "3").await.unwrap().body,
            post(&pool, &t, "4").await.unwrap().body,
        ];
        assert_eq!(bodies, [&b"until close"[..], b"a", b"b", b"c"]);
        let seen = server.await.unwrap();
        let sent: Vec<usize> = seen.iter().map(Vec::len).collect();
        assert_eq!(sent, [1, 1, 2, 1], "{seen:?}");
        assert!(seen[2][1].ends_with("\r\n\r\n4") && seen[3][0].ends_with("\r\n\r\n4"));
    }

    #[tokio::test]
    async fn broken_answers_are_errors_that_say_what_was_wrong() {
        let cases: [(&'static [u8], Error); 9] = [
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 1001\r\n\r\n",
                Error::TooLarge,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n",
                Error::TooLarge,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
                Error::BadResponse("conflicting Content-Length fields".into()),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                Error::BadResponse("Content-Length '-1'".into()),
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                Error::BadResponse("a bad chunk size line".into()),
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd",
                Error::BadResponse("a chunk not followed by CRLF".into()),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",
                Error::BadResponse("the connection closed after 2 of the 5 body bytes".into()),
            ),
            (
                b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
                Error::BadResponse(
                    "the model server switched protocols, which the guard never asks for".into(),
                ),
            ),
            (
                b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
                Error::BadResponse("the answer's head: invalid HTTP version".into()),
            ),
        ];
        for (answer, want) in cases {
            let (addr, _server) = scripted(vec![vec![answer]]).await;
            let got = post(&Pool::new(4, 1000), &target(addr), "{}").await;
            assert_eq!(
                got.unwrap_err(),
                want,
                "{}",
                String::from_utf8_lossy(answer)
            );
        }
    }

    /// A server that answers with `start`, then `filler` over and over until hung up on.
    async fn endless(start: &'static [u8], filler: String) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            conn.write_all(start).await.unwrap();
            while conn.write_all(filler.as_bytes()).await.is_ok() {}
        });
        addr
    }

    #[tokio::test]
    async fn endless_answers_are_refused_at_their_limits() {
        let long_field = endless(b"HTTP/1.1 200 OK\r\nx-filler: ", "a".repeat(1000)).await;
        let many_fields = endless(b"HTTP/1.1 200 OK\r\n", "x-filler: a\r\n".into()).await;
        let long_body = endless(b"HTTP/1.1 200 OK\r\n\r\n", "a".repeat(1000)).await;
        let long_trailer = endless(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nx-filler: ",
            "a".repeat(1000),
        )
        .await;
        let many_trailers = endless(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n",
            "x-filler: a\r\n".into(),
        )
        .await;
        let interim = endless(b"", "HTTP/1.1 100 Continue\r\n\r\n".into()).await;
        let trailer_too_long = Error::BadResponse(format!(
            "the chunked body's trailer is larger than {MAX_HEAD} bytes"
        ));
        let cases = [
            (long_trailer, trailer_too_long.clone()),
            (many_trailers, trailer_too_long),
            (
                interim,
                Error::BadResponse(format!("more than {MAX_INTERIM} interim (1xx) answers")),
            ),
            (
                long_field,
                Error::BadResponse(format!("the answer's head is larger than {MAX_HEAD} bytes")),
            ),
            (
                many_fields,
                Error::BadResponse(format!(
                    "the answer has more than {MAX_HEADERS} header fields"
                )),
            ),
            (long_body, Error::TooLarge),
        ];
        let pool = Pool::new(4, 1000);
        for (server, want) in cases {
            assert_eq!(post(&pool, &target(server), "{}").await.unwrap_err(), want);
        }
    }

    #[tokio::test]
    async fn no_server_is_a_connect_error_naming_the_address() {
        let addr = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let Err(Error::Connect(why)) = post(&Pool::new(4, 1000), &target(addr), "{}").await else {
            panic!("expected a connect error");
        };
        assert!(
            why.starts_with(&format!("127.0.0.1:{}: ", addr.port())),
            "{why}"
        );
    }
}
