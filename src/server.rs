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
use crate::handler::{MAX_BODY_BYTES, handle};

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
    loop {
        let (stream, _) = tokio::select! {
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
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let ctx = Arc::clone(&ctx);
                async move {
                    let response = handle_incoming(&ctx, request).await;
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
