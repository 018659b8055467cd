//! Any bytes as what a client sends the guard's HTTP/1.1 server on one connection (then it
//! stops sending): the server answers each request it reads (here with an echo that reads the
//! body under a limit and a deadline) or refuses what it cannot read, and must neither panic
//! nor hang: it has to finish within a few seconds, and what it wrote must be HTTP/1.1
//! answers.
#![no_main]

use hyper::StatusCode;
use libfuzzer_sys::fuzz_target;
use palisade_guard::body::RequestBody;
use palisade_guard::http1::server::serve;
use palisade_guard::message::{Answer, RequestHead};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

async fn echo<B: RequestBody>(head: RequestHead, body: B) -> Answer {
    let text = match body
        .read_whole(&head.fields, 4096, Duration::from_millis(50))
        .await
    {
        Ok(b) => format!("{} {} {}", head.method, head.uri, b.len()),
        Err(e) => format!("{} {} {e}", head.method, head.uri),
    };
    Answer::new(StatusCode::OK, text)
}

fuzz_target!(|data: &[u8]| {
    runtime().block_on(async {
        let (mut client, server) = tokio::io::duplex(1 << 16);
        let (_stop, stopped) = tokio::sync::watch::channel(false);
        let serving = tokio::spawn(serve(
            server,
            Duration::from_millis(50),
            echo,
            |_, _, _| {},
            stopped,
        ));
        let mut out = Vec::new();
        let talk = async {
            // The server may stop reading part way (a refusal closes the connection).
            let _ = client.write_all(data).await;
            let _ = client.shutdown().await;
            let _ = client.read_to_end(&mut out).await;
        };
        // Reading and writing at once: a large input must not wait on a full pipe.
        let finished = tokio::time::timeout(Duration::from_secs(5), async {
            tokio::join!(talk, serving).1
        })
        .await;
        let served = finished.expect("the server finished within 5 s");
        served.expect("the server did not panic");
        assert!(
            out.is_empty() || out.starts_with(b"HTTP/1.1 ") || out.starts_with(b"HTTP/1.0 "),
            "not an HTTP answer: {:?}",
            String::from_utf8_lossy(&out[..out.len().min(200)])
        );
    });
});
