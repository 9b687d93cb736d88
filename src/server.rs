//! A plain HTTP/1.1 server around the handler: the local command's door, and the body
//! adapter shared with the Vercel door (both receive hyper requests).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::context::AppContext;
use crate::handler::{ClientIp, MAX_BODY_BYTES, RequestId, handle};

/// Reads at most `MAX_BODY_BYTES + 1` bytes of the body, so the handler can tell "too large"
/// in its own check order without the door buffering an unbounded upload.
pub async fn read_bounded(mut body: Incoming) -> Bytes {
    let mut buffer = BytesMut::new();
    while buffer.len() <= MAX_BODY_BYTES {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    buffer.extend_from_slice(&data);
                }
            }
            // A broken upload leaves a short body, which the handler refuses as bad JSON;
            // the client has usually gone and will not read the answer anyway.
            Some(Err(_)) | None => break,
        }
    }
    buffer.truncate(MAX_BODY_BYTES + 1);
    buffer.freeze()
}

/// Adds what Vercel's edge says about a request to its extensions, for the log: its id
/// (`x-vercel-id`) and the client's address (`x-real-ip`, else the first `x-forwarded-for`),
/// headers the edge writes itself.
pub fn tag_vercel_request<B>(request: &mut Request<B>) {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let id = header("x-vercel-id");
    let ip = header("x-real-ip").or_else(|| header("x-forwarded-for"));
    if let Some(id) = id {
        request.extensions_mut().insert(RequestId(id));
    }
    if let Some(ip) = ip {
        request.extensions_mut().insert(ClientIp(ip));
    }
}

/// Request ids for the local server's log: 16 hex digits, a keyed hash (random keys per
/// process) of a counter, so unique within a run and unlikely to repeat across runs.
struct RequestIds {
    keys: std::hash::RandomState,
    next: std::sync::atomic::AtomicU64,
}

impl RequestIds {
    fn new() -> Self {
        Self {
            keys: std::hash::RandomState::new(),
            next: std::sync::atomic::AtomicU64::new(0),
        }
    }

    fn next(&self) -> RequestId {
        use std::hash::BuildHasher as _;
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        RequestId(format!("{:016x}", self.keys.hash_one(n)))
    }
}

/// Runs the handler on a hyper request.
pub async fn handle_incoming(ctx: &AppContext, request: Request<Incoming>) -> Response<String> {
    let (parts, body) = request.into_parts();
    let body = read_bounded(body).await;
    handle(ctx, Request::from_parts(parts, body)).await
}

/// Serves the handler on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    ctx: Arc<AppContext>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    let ids = Arc::new(RequestIds::new());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: keep serving the connections we have.
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let ctx = Arc::clone(&ctx);
        let ids = Arc::clone(&ids);
        let client_ip = ClientIp(peer.ip().to_string());
        tokio::spawn(async move {
            let service = service_fn(move |mut request: Request<Incoming>| {
                let ctx = Arc::clone(&ctx);
                let id = ids.next();
                // The id goes back as `X-Request-Id`, so a caller can quote it.
                let id_header = http::HeaderValue::from_str(&id.0).ok();
                request.extensions_mut().insert(id);
                request.extensions_mut().insert(client_ip.clone());
                async move {
                    let mut response = handle_incoming(&ctx, request).await;
                    if let Some(id) = id_header {
                        response.headers_mut().insert("x-request-id", id);
                    }
                    Ok::<_, std::convert::Infallible>(response.map(|b| Full::new(Bytes::from(b))))
                }
            });
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Binds `addr` (port 0 picks a free one) and reports the address actually bound.
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}
