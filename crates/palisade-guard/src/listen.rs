//! Accepting connections: plain TCP or TLS (rustls, optional client certificates), HTTP/1.1
//! and HTTP/2 on the same port (ALPN for TLS, the preface for cleartext), and a shutdown that
//! stops accepting and lets requests in flight finish. Shared by `palisade guard` and
//! `palisade respond serve`; each passes its own request handler.

use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How long a client has for its TLS handshake, and requests in flight for finishing after
/// shutdown was asked for.
const GRACE: Duration = Duration::from_secs(10);

/// Serves `listener` until `stopped` turns true. `handler` answers each request; its second
/// argument is the subject common name of the client's verified certificate (TLS with
/// `client_ca` only). `who` names the server in the one message this writes (accept errors).
pub async fn accept_loop<H, Fut, B>(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    handler: H,
    mut stopped: watch::Receiver<bool>,
    who: &'static str,
) where
    H: Fn(Request<Incoming>, Option<String>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = until_stopped(&mut stopped) => break,
        };
        let (stream, _) = match accepted {
            Ok(s) => s,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                eprintln!("{who}: accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        stream.set_nodelay(true).ok();
        let handler = handler.clone();
        let tls = tls.clone();
        let stopped = stopped.clone();
        connections.spawn(async move {
            match tls {
                Some(acceptor) => {
                    let Ok(Ok(stream)) = tokio::time::timeout(GRACE, acceptor.accept(stream)).await
                    else {
                        return;
                    };
                    let cn = crate::tls::client_common_name(stream.get_ref().1);
                    serve_connection(TokioIo::new(stream), handler, cn, stopped).await;
                }
                None => serve_connection(TokioIo::new(stream), handler, None, stopped).await,
            }
        });
        while connections.try_join_next().is_some() {}
    }
    let _ = tokio::time::timeout(GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
}

async fn serve_connection<I, H, Fut, B>(
    io: TokioIo<I>,
    handler: H,
    cn: Option<String>,
    mut stopped: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    H: Fn(Request<Incoming>, Option<String>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let answer = handler(req, cn.clone());
        async move { Ok::<_, std::convert::Infallible>(answer.await) }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .header_read_timeout(Duration::from_secs(30))
        .timer(hyper_util::rt::TokioTimer::new());
    builder.http2().max_concurrent_streams(256);
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
