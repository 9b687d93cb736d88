//! A DynamoDB endpoint that never succeeds, slowly: every call is answered after
//! [`SlowDynamo::DELAY`] (just inside the store's per-attempt timeout), alternately with an
//! HTTP 500 (which the SDK retries) and a transaction cancelled by a conflict (which the store
//! retries). A store pointed at it keeps retrying for as long as anyone lets it.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

pub struct SlowDynamo {
    pub port: u16,
    calls: Arc<AtomicUsize>,
}

const INTERNAL_ERROR: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}"#;
const CONFLICT: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None, None]","CancellationReasons":[{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"},{"Code":"None"},{"Code":"None"}]}"#;

impl SlowDynamo {
    pub const DELAY: Duration = Duration::from_millis(1_900);

    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let calls = counted.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let calls = calls.clone();
                        async move {
                            let _ = request.into_body().collect().await;
                            let call = calls.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Self::DELAY).await;
                            let (status, body) = if call.is_multiple_of(2) {
                                (500, INTERNAL_ERROR)
                            } else {
                                (400, CONFLICT)
                            };
                            Ok::<_, Infallible>(
                                Response::builder()
                                    .status(status)
                                    .header("content-type", "application/x-amz-json-1.0")
                                    .body(Full::new(Bytes::from_static(body.as_bytes())))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { port, calls }
    }

    /// Calls received so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}
