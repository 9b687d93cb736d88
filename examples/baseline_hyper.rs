//! Benchmark baseline: a plain hyper HTTP/1.1 server answering a fixed 200, on the same
//! runtime (one current-thread tokio runtime) and connection settings as the local server.
//!
//! `baseline_hyper 127.0.0.1:PORT [RESPONSE_FILE]`: with a file (a response as `curl -i`
//! prints it), every answer carries its headers and body, so the baseline puts the same bytes
//! on the wire as the server it is compared with.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// Headers and body of the recorded response, parsed once; hyper writes `date` and
/// `content-length` itself.
fn recorded(path: Option<String>) -> (hyper::HeaderMap, Bytes) {
    let Some(path) = path else {
        let body = br#"{"user":{"id":1,"primary_email":"a@example.com"}}"#;
        return (hyper::HeaderMap::new(), Bytes::from_static(body));
    };
    let text = std::fs::read_to_string(path).expect("the recorded response");
    let (head, body) = text
        .split_once("\r\n\r\n")
        .expect("a blank line after the headers");
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(": "))
        .filter(|(name, _)| {
            !name.eq_ignore_ascii_case("date") && !name.eq_ignore_ascii_case("content-length")
        })
        .map(|(name, value)| {
            let name = hyper::header::HeaderName::from_bytes(name.as_bytes()).expect("a name");
            (
                name,
                hyper::header::HeaderValue::from_str(value).expect("a value"),
            )
        })
        .collect();
    (headers, Bytes::from(body.to_owned()))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:3000".into());
    let response = Arc::new(recorded(args.next()));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("{{\"listening\":\"http://{}\"}}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let response = Arc::clone(&response);
        tokio::spawn(async move {
            let service = service_fn(move |_: Request<hyper::body::Incoming>| {
                let (headers, body) = &*response;
                let mut answer = Response::new(Full::new(body.clone()));
                *answer.headers_mut() = headers.clone();
                async move { Ok::<_, Infallible>(answer) }
            });
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
