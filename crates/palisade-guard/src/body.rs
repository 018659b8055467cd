//! Request bodies under a deadline and a size limit.
//!
//! Shared by the guard and `palisade respond serve`. Without a deadline a client that sends a
//! head announcing 1 MB and then a byte a minute would hold its connection, a request slot
//! and the bytes so far for as long as it likes: [`Deadline`] ends any body that is not in
//! full within its time (the servers answer 408), whoever reads it. [`read`] reads one whole
//! under a size limit, refusing a declared `Content-Length` over it before reading anything.
//! [`RequestBody`] is how the guard's gateway reads a body, whichever server it came through.

use crate::message::Fields;
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::HeaderMap;
use hyper::body::Frame;
use hyper::header::HeaderValue;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// Why a body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Larger than the limit (declared or as sent).
    TooLarge { limit: usize },
    /// Not complete within the deadline.
    TimedOut { within: Duration },
    /// The client broke off, or sent a malformed body (bad chunked encoding…).
    Unreadable(String),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::TooLarge { limit } => {
                write!(f, "the request body is larger than {limit} bytes")
            }
            BodyError::TimedOut { within } => write!(
                f,
                "the request body did not arrive in full within {} ms",
                within.as_millis()
            ),
            BodyError::Unreadable(e) => write!(f, "the request body could not be read: {e}"),
        }
    }
}

impl std::error::Error for BodyError {}

/// A body that fails with [`BodyError::TimedOut`] once `within` has passed since it was made
/// (with the request's head). The timer is armed only when the inner body has nothing ready,
/// so a body that is all there costs one clock read.
pub struct Deadline<B> {
    inner: B,
    within: Duration,
    until: tokio::time::Instant,
    /// Armed the first time the inner body has nothing ready.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> Deadline<B> {
    pub fn new(inner: B, within: Duration) -> Deadline<B> {
        Deadline {
            inner,
            within,
            until: tokio::time::Instant::now() + within,
            timer: None,
        }
    }
}

impl<B> hyper::body::Body for Deadline<B>
where
    B: hyper::body::Body + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = B::Data;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let until = self.until;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyError::TimedOut {
                within: self.within,
            })))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Reads `body` whole, at most `limit` bytes; a [`Deadline`] around it (however deeply
/// wrapped) that passes is [`BodyError::TimedOut`].
pub async fn read<B>(headers: &HeaderMap, body: B, limit: usize) -> Result<Bytes, BodyError>
where
    B: hyper::body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let declared = headers
        .get(hyper::header::CONTENT_LENGTH)
        .map(HeaderValue::as_bytes);
    read_declared(declared, body, limit).await
}

/// [`read`] for a body whose `Content-Length` field (if any) is `declared`.
async fn read_declared<B>(
    declared: Option<&[u8]>,
    body: B,
    limit: usize,
) -> Result<Bytes, BodyError>
where
    B: hyper::body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // Read as the HTTP/1.1 side reads it; a value it refuses is left for hyper to judge.
    let declared = declared.and_then(|v| crate::http1::content_length(v, None).ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge { limit });
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(BodyError::TooLarge { limit }),
        Err(e) => Err(deadline_passed(&*e).unwrap_or(BodyError::Unreadable(e.to_string()))),
    }
}

/// A request's body as the guard's gateway reads it: whole, at most `limit` bytes, within
/// `within`. Implemented for hyper's bodies (HTTP/2) and for the guard's own HTTP/1.1
/// server's ([`crate::http1::server::Body`]), which reads straight from the connection.
pub trait RequestBody: Send {
    fn read_whole(
        self,
        fields: &Fields,
        limit: usize,
        within: Duration,
    ) -> impl Future<Output = Result<Bytes, BodyError>> + Send;
}

impl RequestBody for hyper::body::Incoming {
    async fn read_whole(
        self,
        fields: &Fields,
        limit: usize,
        within: Duration,
    ) -> Result<Bytes, BodyError> {
        let declared = fields.get("content-length");
        read_declared(declared, Deadline::new(self, within), limit).await
    }
}

/// The [`Deadline`] that ended a body, found in the error's chain (frameworks wrap it).
fn deadline_passed(e: &(dyn std::error::Error + 'static)) -> Option<BodyError> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(passed) = e.downcast_ref::<BodyError>() {
            return Some(passed.clone());
        }
        next = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use std::collections::VecDeque;

    /// A body that sends its frames, then nothing more, ever.
    struct Script(VecDeque<Result<Bytes, std::io::Error>>);

    impl hyper::body::Body for Script {
        type Data = Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            match self.0.pop_front() {
                Some(next) => Poll::Ready(Some(next.map(Frame::data))),
                None => Poll::Pending,
            }
        }
    }

    /// An error that wraps another and names it as its source, as axum's does.
    #[derive(Debug)]
    struct Framework(Box<dyn std::error::Error + Send + Sync>);

    impl fmt::Display for Framework {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "failed to buffer the body: {}", self.0)
        }
    }

    impl std::error::Error for Framework {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&*self.0)
        }
    }

    fn headers(len: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(l) = len {
            h.insert(hyper::header::CONTENT_LENGTH, l.parse().unwrap());
        }
        h
    }

    #[tokio::test]
    async fn whole_bodies_within_the_limit_are_read() {
        let body = Full::new(Bytes::from_static(b"{\"x\": 1}"));
        let got = read(&headers(Some("8")), body, 8).await;
        assert_eq!(got, Ok(Bytes::from_static(b"{\"x\": 1}")));
        // Under a deadline too: a body that is all there passes through untouched.
        let body = Deadline::new(Full::new(Bytes::from_static(b"user=a")), Duration::ZERO);
        assert_eq!(
            read(&headers(None), body, 8).await,
            Ok(Bytes::from_static(b"user=a"))
        );
    }

    #[tokio::test]
    async fn declared_or_sent_bodies_over_the_limit_are_refused() {
        let small = Full::new(Bytes::from_static(b"abc"));
        let got = read(&headers(Some("100")), small, 10).await;
        assert_eq!(got, Err(BodyError::TooLarge { limit: 10 }));
        let big = Full::new(Bytes::from(vec![b'a'; 11]));
        let got = read(&headers(None), big, 10).await;
        assert_eq!(got, Err(BodyError::TooLarge { limit: 10 }));
        // A limit of 0 (the gateway's for a read-only call): any byte is over it, none is not.
        let one = Full::new(Bytes::from_static(b"x"));
        let got = read(&headers(None), one, 0).await;
        assert_eq!(got, Err(BodyError::TooLarge { limit: 0 }));
        let none = Full::new(Bytes::new());
        assert_eq!(read(&headers(Some("0")), none, 0).await, Ok(Bytes::new()));
    }

    #[tokio::test]
    async fn a_body_that_stops_coming_times_out_for_any_reader() {
        let within = Duration::from_millis(100);
        let stalls = || Script(VecDeque::from([Ok(Bytes::from_static(b"{\"fea"))]));
        let got = read(
            &headers(Some("1000")),
            Deadline::new(stalls(), within),
            4096,
        )
        .await;
        assert_eq!(got, Err(BodyError::TimedOut { within }));
        assert_eq!(
            got.unwrap_err().to_string(),
            "the request body did not arrive in full within 100 ms"
        );
        // A framework's own reader sees the same error, and read() finds it when wrapped.
        let err = Deadline::new(stalls(), within)
            .collect()
            .await
            .err()
            .unwrap();
        assert_eq!(
            err.downcast_ref::<BodyError>(),
            Some(&BodyError::TimedOut { within })
        );
        let wrapped = http_body_util::BodyExt::map_err(Deadline::new(stalls(), within), Framework);
        let got = read(&headers(None), wrapped, 4096).await;
        assert_eq!(got, Err(BodyError::TimedOut { within }));
    }

    #[tokio::test]
    async fn a_broken_body_is_unreadable() {
        let body = Script(VecDeque::from([
            Ok(Bytes::from_static(b"{")),
            Err(std::io::Error::other("connection reset")),
        ]));
        let got = read(&headers(None), body, 4096).await;
        assert_eq!(got, Err(BodyError::Unreadable("connection reset".into())));
    }
}
