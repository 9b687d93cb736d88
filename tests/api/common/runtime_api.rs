//! A minimal AWS Lambda Runtime API on loopback, so the built Lambda binary runs exactly as
//! Lambda runs it: it long-polls `/invocation/next` and posts each result back.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc, oneshot};

type Pending = Arc<std::sync::Mutex<HashMap<String, oneshot::Sender<Result<Value, Value>>>>>;

/// The Runtime API: hand it events with [`RuntimeApi::invoke`]; read its address for
/// `AWS_LAMBDA_RUNTIME_API`.
pub struct RuntimeApi {
    pub address: String,
    events: mpsc::UnboundedSender<(String, Value)>,
    pending: Pending,
    ids: AtomicU64,
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (events, queue) = mpsc::unbounded_channel::<(String, Value)>();
        let queue = Arc::new(Mutex::new(queue));
        let pending: Pending = Arc::default();
        let served = pending.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (queue, pending) = (queue.clone(), served.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let (queue, pending) = (queue.clone(), pending.clone());
                        async move { Ok::<_, Infallible>(route(request, queue, pending).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            address,
            events,
            pending,
            ids: AtomicU64::new(0),
        }
    }

    /// Sends one event and waits for the function's answer (`Err` for an error report).
    pub async fn invoke(&self, event: Value) -> Result<Value, Value> {
        let id = format!("request-{}", self.ids.fetch_add(1, Ordering::Relaxed));
        let (done, answer) = oneshot::channel();
        self.pending.lock().unwrap().insert(id.clone(), done);
        self.events.send((id, event)).unwrap();
        tokio::time::timeout(Duration::from_secs(30), answer)
            .await
            .expect("the function answered within 30 s")
            .expect("answer delivered")
    }
}

async fn route(
    request: Request<hyper::body::Incoming>,
    queue: Arc<Mutex<mpsc::UnboundedReceiver<(String, Value)>>>,
    pending: Pending,
) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    if path == "/2018-06-01/runtime/invocation/next" {
        let Some((id, event)) = queue.lock().await.recv().await else {
            return Response::builder()
                .status(500)
                .body(Full::default())
                .unwrap();
        };
        let deadline =
            SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(30);
        return Response::builder()
            .header("lambda-runtime-aws-request-id", &id)
            .header(
                "lambda-runtime-deadline-ms",
                deadline.as_millis().to_string(),
            )
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:neptun-users",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
            )
            .body(Full::new(Bytes::from(event.to_string())))
            .unwrap();
    }
    let body = request.into_body().collect().await.unwrap().to_bytes();
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut parts = path
        .trim_start_matches("/2018-06-01/runtime/invocation/")
        .split('/');
    if let (Some(id), Some(kind)) = (parts.next(), parts.next())
        && let Some(done) = pending.lock().unwrap().remove(id)
    {
        let _ = done.send(if kind == "response" {
            Ok(value)
        } else {
            Err(value)
        });
    }
    Response::builder()
        .status(202)
        .body(Full::default())
        .unwrap()
}
