//! Any bytes as what the model server answers the guard's HTTP/1.1 client (then it closes
//! the connection): the client returns an answer within its body limit or an error, and must
//! neither panic nor hang.
#![no_main]

use hyper::Method;
use libfuzzer_sys::fuzz_target;
use palisade_guard::http1::{Pool, Target};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const MAX_BODY: usize = 64 << 10;

struct Peer {
    runtime: tokio::runtime::Runtime,
    listener: TcpListener,
    target: Target,
}

fn peer() -> &'static Peer {
    static PEER: OnceLock<Peer> = OnceLock::new();
    PEER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let listener = runtime
            .block_on(TcpListener::bind("127.0.0.1:0"))
            .expect("a loopback port");
        let authority = listener.local_addr().unwrap().to_string().parse().unwrap();
        let target = Target::new(&authority, Duration::from_secs(2)).expect("a target");
        Peer {
            runtime,
            listener,
            target,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let p = peer();
    p.runtime.block_on(async {
        let answer = data.to_vec();
        let server = async {
            let (mut conn, _) = p.listener.accept().await.expect("the client connects");
            // The request, up to the end of its head (the answer does not wait for its body).
            let mut seen = Vec::new();
            let mut chunk = [0; 1024];
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut chunk).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => seen.extend_from_slice(&chunk[..n]),
                }
            }
            let _ = conn.write_all(&answer).await;
            let _ = conn.shutdown().await;
        };
        let pool = Pool::new(1, MAX_BODY);
        let fields = [(&b"content-type"[..], &b"application/json"[..])];
        let client = pool.exchange(
            &p.target,
            &Method::POST,
            "/predict",
            fields,
            b"{}",
            // Far beyond the 5 s below: an answer must end the exchange, not the deadline.
            tokio::time::Instant::now() + Duration::from_secs(60),
        );
        let (_, reply) = tokio::time::timeout(Duration::from_secs(5), async {
            tokio::join!(server, client)
        })
        .await
        .expect("the exchange finished within 5 s");
        if let Ok(reply) = reply {
            assert!(reply.body.len() <= MAX_BODY, "a body over the limit");
        }
    });
});
