//! Accepting connections: plain TCP or TLS (rustls, optional client certificates), HTTP/1.1
//! and HTTP/2 on the same port (ALPN for TLS, the preface for cleartext), a limit on open
//! connections and on the time to a request's head (a client that connects and sends nothing
//! is closed too), and a shutdown that stops accepting and lets requests in flight finish.
//! Shared by `palisade guard` and `palisade respond serve`: [`serve_connections`] hands each
//! connection, from a listener or a [`dispatch`]er, to the caller once its protocol is known;
//! [`accept_loop`] serves them all with hyper ([`serve_hyper`]), as `respond serve` does. The
//! guard serves HTTP/2 with hyper and HTTP/1.1 with [`crate::http1::server`].

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};

/// How long a client has for its TLS handshake, and requests in flight for finishing after
/// shutdown was asked for.
const GRACE: Duration = Duration::from_secs(10);

/// What the first bytes of a cleartext HTTP/2 connection are (RFC 9113 §3.4).
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What a server lets its clients hold: time to send a request head, and connections.
#[derive(Debug, Clone)]
pub struct Admission {
    /// From connecting (or from the last answer on a kept-alive HTTP/1.1 connection) to a
    /// whole request head. A connection that sends nothing is closed after it too.
    pub header_timeout: Duration,
    /// Connections open at once, shared by every accept loop given a clone.
    open: Arc<Semaphore>,
}

impl Admission {
    pub fn new(header_timeout: Duration, max_connections: usize) -> Admission {
        Admission {
            header_timeout,
            open: Arc::new(Semaphore::new(max_connections.max(1))),
        }
    }
}

/// The HTTP a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    Http1,
    Http2,
}

/// An accepted connection, in cleartext or TLS.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// One accepted connection, ready for HTTP: what it speaks, the subject common name of the
/// client's verified certificate (TLS with `client_ca` only), and the server's stop signal.
pub struct Accepted {
    pub stream: Stream,
    pub wire: Wire,
    pub client_cn: Option<String>,
    pub stopped: watch::Receiver<bool>,
}

/// Serves `listener` with hyper until `stopped` turns true. `handler` answers each request;
/// its second argument is the subject common name of the client's verified certificate.
/// `who` names the server in the one message this writes (accept errors). At `admission`'s
/// connection limit the loop stops accepting until a connection closes.
pub async fn accept_loop<H, Fut, B>(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    handler: H,
    stopped: watch::Receiver<bool>,
    who: &'static str,
    admission: Admission,
) where
    H: Fn(Request<Incoming>, Option<String>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let header_timeout = admission.header_timeout;
    let serve = move |c: Accepted| serve_hyper(c, header_timeout, handler.clone());
    serve_connections(
        Source::Listener(listener),
        tls,
        serve,
        stopped,
        who,
        admission,
    )
    .await;
}

/// Where a serving loop's connections come from.
pub enum Source {
    /// Accepted by the loop itself, within its [`Admission`]'s connection limit.
    Listener(TcpListener),
    /// Accepted by a [`dispatch`] loop and handed to this one.
    Handed(mpsc::UnboundedReceiver<Handoff>),
}

/// A connection a [`dispatch`] loop accepted for a serving thread: the socket (not yet
/// registered with any event loop) and what it holds while open.
pub struct Handoff {
    stream: std::net::TcpStream,
    held: Held,
}

/// What an open connection holds, given back when it closes: its place under the connection
/// limit and, when it was dispatched, its count on the serving thread's load.
struct Held {
    _permit: OwnedSemaphorePermit,
    _load: Option<Load>,
}

/// One open connection counted on a serving thread's load.
struct Load(Arc<AtomicUsize>);

impl Drop for Load {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The next connection for a serving loop, with a place under `admission`'s limit; `None`
/// once `stopped` turns true (or the dispatcher has stopped).
async fn next_connection(
    source: &mut Source,
    admission: &Admission,
    stopped: &mut watch::Receiver<bool>,
    who: &str,
) -> Option<(TcpStream, Held)> {
    match source {
        Source::Listener(listener) => {
            let (accepted, permit) = accept_within(listener, admission, stopped, who).await?;
            let held = Held {
                _permit: permit,
                _load: None,
            };
            Some((accepted, held))
        }
        Source::Handed(handed) => loop {
            let h = tokio::select! {
                h = handed.recv() => h?,
                _ = until_stopped(stopped) => return None,
            };
            match TcpStream::from_std(h.stream) {
                Ok(stream) => return Some((stream, h.held)),
                Err(e) => eprintln!("{who}: taking a handed-over connection: {e}"),
            }
        },
    }
}

/// Accepts one connection on `listener` once `admission` has room for it (a failed accept is
/// reported and tried again 50 ms later); `None` once `stopped` turns true.
async fn accept_within(
    listener: &TcpListener,
    admission: &Admission,
    stopped: &mut watch::Receiver<bool>,
    who: &str,
) -> Option<(TcpStream, OwnedSemaphorePermit)> {
    let permit = tokio::select! {
        p = admission.open.clone().acquire_owned() => p.ok()?,
        _ = until_stopped(stopped) => return None,
    };
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = until_stopped(stopped) => return None,
        };
        match accepted {
            Ok((stream, _)) => return Some((stream, permit)),
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                eprintln!("{who}: accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Accepts connections on `listener` until `stopped` turns true, within `admission`'s limit,
/// and hands each to the serving thread with the fewest open connections (`threads`, whose
/// loops read them as [`Source::Handed`]). Left to the threads to accept from one shared
/// socket, the 32 connections a client opens at once can all land on the thread that woke
/// first while another has none; counted here, they are spread evenly and stay so as
/// connections close. A connection costs one hand-over between threads, a request none.
pub async fn dispatch(
    listener: TcpListener,
    threads: Vec<mpsc::UnboundedSender<Handoff>>,
    mut stopped: watch::Receiver<bool>,
    who: &'static str,
    admission: Admission,
) {
    let mut threads: Vec<(mpsc::UnboundedSender<Handoff>, Arc<AtomicUsize>)> =
        threads.into_iter().map(|t| (t, Arc::default())).collect();
    while let Some((stream, permit)) = accept_within(&listener, &admission, &mut stopped, who).await
    {
        let stream = match stream.into_std() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{who}: handing a connection over: {e}");
                continue;
            }
        };
        let mut handoff = Handoff {
            stream,
            held: Held {
                _permit: permit,
                _load: None,
            },
        };
        // A thread whose loop has ended (it cannot while the guard runs, short of a bug) is
        // left out from then on, and the connection offered to the next.
        loop {
            let Some(i) = (0..threads.len()).min_by_key(|&i| threads[i].1.load(Ordering::Relaxed))
            else {
                eprintln!("{who}: no serving thread is left to take connections");
                return;
            };
            let (to, load) = &threads[i];
            load.fetch_add(1, Ordering::Relaxed);
            handoff.held._load = Some(Load(load.clone()));
            match to.send(handoff) {
                Ok(()) => break,
                Err(mpsc::error::SendError(back)) => {
                    handoff = back;
                    threads.swap_remove(i);
                }
            }
        }
    }
}

/// Takes connections from `source` until `stopped` turns true, and hands each to `serve`
/// once its TLS handshake is done and its HTTP known; then lets those open finish (up to
/// [`GRACE`]).
pub async fn serve_connections<F, Fut>(
    mut source: Source,
    tls: Option<tokio_rustls::TlsAcceptor>,
    serve: F,
    mut stopped: watch::Receiver<bool>,
    who: &'static str,
    admission: Admission,
) where
    F: Fn(Accepted) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut connections = tokio::task::JoinSet::new();
    // The connections' stop signal is this loop's own, turned once `stopped` has turned. A
    // connection looks at it once a request, while it waits for the next one, and each look
    // takes the lock of the signal's list of waiters: this loop's list is locked only by its
    // own thread, where the server's one signal would be locked by every serving thread.
    let (stop_here, stopped_here) = watch::channel(false);
    while let Some((stream, held)) =
        next_connection(&mut source, &admission, &mut stopped, who).await
    {
        stream.set_nodelay(true).ok();
        let serve = serve.clone();
        let tls = tls.clone();
        let stopped = stopped_here.clone();
        let header_timeout = admission.header_timeout;
        connections.spawn(async move {
            let _held = held;
            let accepted = match tls {
                Some(acceptor) => {
                    let Ok(Ok(stream)) = tokio::time::timeout(GRACE, acceptor.accept(stream)).await
                    else {
                        return;
                    };
                    let session = stream.get_ref().1;
                    let client_cn = crate::tls::client_common_name(session);
                    // Over TLS, HTTP/2 is chosen by ALPN (RFC 9113 §3.2), never guessed.
                    let wire = match session.alpn_protocol() {
                        Some(b"h2") => Wire::Http2,
                        _ => Wire::Http1,
                    };
                    Accepted {
                        stream: Stream::Tls(Box::new(stream)),
                        wire,
                        client_cn,
                        stopped,
                    }
                }
                None => {
                    let Some(wire) = sniff(&stream, header_timeout).await else {
                        return;
                    };
                    Accepted {
                        stream: Stream::Plain(stream),
                        wire,
                        client_cn: None,
                        stopped,
                    }
                }
            };
            serve(accepted).await;
        });
        while connections.try_join_next().is_some() {}
    }
    let _ = stop_here.send(true);
    let _ = tokio::time::timeout(GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
}

/// Which HTTP a cleartext client speaks: HTTP/2 when it opens with the HTTP/2 preface (prior
/// knowledge), HTTP/1.1 otherwise. `None` when it closes, fails, or has not sent enough to
/// tell within `within` (the bytes are looked at, not taken: the connection reads them).
async fn sniff(stream: &TcpStream, within: Duration) -> Option<Wire> {
    let deadline = tokio::time::Instant::now() + within;
    let mut first = [0u8; H2_PREFACE.len()];
    loop {
        let n = tokio::time::timeout_at(deadline, stream.peek(&mut first))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        if first[..n] != H2_PREFACE[..n] {
            return Some(Wire::Http1);
        }
        if n == H2_PREFACE.len() {
            return Some(Wire::Http2);
        }
        // The start of the preface, or of a `P…` method, and no more yet. A peek answers at
        // once while those bytes wait, so look again a little later.
        let again = tokio::time::Instant::now() + Duration::from_millis(5);
        if again >= deadline {
            return None;
        }
        tokio::time::sleep_until(again).await;
    }
}

/// Serves one connection with hyper (HTTP/1.1 or HTTP/2, as `accepted.wire` says).
pub async fn serve_hyper<H, Fut, B>(accepted: Accepted, header_timeout: Duration, handler: H)
where
    H: Fn(Request<Incoming>, Option<String>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let Accepted {
        stream,
        wire,
        client_cn: cn,
        mut stopped,
    } = accepted;
    let io = TokioIo::new(stream);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let answer = handler(req, cn.clone());
        async move { Ok::<_, std::convert::Infallible>(answer.await) }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .header_read_timeout(header_timeout)
        .timer(TokioTimer::new());
    // An idle HTTP/2 connection is normal; one whose peer is gone is found by a ping.
    builder
        .http2()
        .max_concurrent_streams(256)
        .keep_alive_interval(Duration::from_secs(60))
        .keep_alive_timeout(Duration::from_secs(20))
        .timer(TokioTimer::new());
    let builder = match wire {
        Wire::Http1 => builder.http1_only(),
        Wire::Http2 => builder.http2_only(),
    };
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = until_stopped(&mut stopped) => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

impl tokio::io::AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// Resolves once shutdown was asked for (or its sender is gone).
pub async fn until_stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async {
            match term.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Opens `n` connections to `addr` (kept in `clients`) and waits, up to 5 s, for them to
    /// be handed to either thread, keeping them open.
    async fn open(
        n: usize,
        addr: std::net::SocketAddr,
        clients: &mut Vec<TcpStream>,
        (a, on_a): (&mut mpsc::UnboundedReceiver<Handoff>, &mut Vec<Handoff>),
        (b, on_b): (&mut mpsc::UnboundedReceiver<Handoff>, &mut Vec<Handoff>),
    ) {
        for _ in 0..n {
            clients.push(TcpStream::connect(addr).await.unwrap());
        }
        let handed = async {
            for _ in 0..n {
                tokio::select! {
                    Some(h) = a.recv() => on_a.push(h),
                    Some(h) = b.recv() => on_b.push(h),
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(5), handed)
            .await
            .unwrap();
    }

    /// Connections go to the thread with the fewest open, so ten opened at once are split
    /// five and five, and when four of one thread's close, the next four go to it.
    #[tokio::test]
    async fn dispatch_hands_each_connection_to_the_least_loaded_thread() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = watch::channel(false);
        let (to_a, mut a) = mpsc::unbounded_channel();
        let (to_b, mut b) = mpsc::unbounded_channel();
        let admission = Admission::new(Duration::from_secs(5), 100);
        let dispatcher = tokio::spawn(dispatch(
            listener,
            vec![to_a, to_b],
            stopped,
            "test",
            admission,
        ));
        let mut clients = Vec::new();
        let (mut on_a, mut on_b) = (Vec::new(), Vec::new());
        let threads = (&mut a, &mut on_a);
        open(10, addr, &mut clients, threads, (&mut b, &mut on_b)).await;
        assert_eq!((on_a.len(), on_b.len()), (5, 5));

        on_a.truncate(1);
        let threads = (&mut a, &mut on_a);
        open(4, addr, &mut clients, threads, (&mut b, &mut on_b)).await;
        assert_eq!((on_a.len(), on_b.len()), (5, 5));

        // A thread whose loop has ended is left out: b's connections go to a from then on.
        drop(b);
        drop(on_b);
        clients.push(TcpStream::connect(addr).await.unwrap());
        clients.push(TcpStream::connect(addr).await.unwrap());
        for _ in 0..2 {
            let h = tokio::time::timeout(Duration::from_secs(5), a.recv())
                .await
                .unwrap();
            on_a.push(h.unwrap());
        }
        assert_eq!(on_a.len(), 7);

        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), dispatcher)
            .await
            .unwrap()
            .unwrap();
    }
}
