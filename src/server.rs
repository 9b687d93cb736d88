//! A plain HTTP/1.1 server around the handler: the local command's entry point, and the body
//! adapter shared with the Vercel entry point (both receive hyper requests).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::rt::TokioTimer;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use crate::context::AppContext;
use crate::handler::{ClientIp, MAX_BODY_BYTES, RequestId, handle};

/// Reads at most `MAX_BODY_BYTES + 1` bytes of the body, so the handler can tell "too large"
/// in its own check order without the entry point buffering an unbounded upload.
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

/// How long a client may take to send a request's head (a slowloris trickles it).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's body, counted from the end of its head. The
/// largest body the endpoint takes (16 KiB) crosses even a slow mobile link in well under a
/// second; a client that trickles it is disconnected. Never more than the request deadline
/// (`REQUEST_DEADLINE_MS`), which bounds it when set lower.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a kept-alive connection may wait for its next request (or a new one for its
/// first) before it is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections served at once; past it the server stops accepting until one closes. Well above
/// the 1,000 slow clients one attacker on one machine can easily hold open at a time (each is
/// cut off within [`BODY_READ_TIMEOUT`] or [`HEADER_READ_TIMEOUT`]), so others still get in.
/// Lowered to what the open-files limit allows (see [`FILES_KEPT_FREE`]).
pub const MAX_CONNECTIONS: usize = 4096;
/// File descriptors kept out of the connection cap, for the listener, the runtime, standard
/// streams and the DynamoDB client's connections: at the cap, accepting must not fail for
/// want of a descriptor (it would leave every new client waiting in the backlog).
pub const FILES_KEPT_FREE: usize = 128;
/// How long a shutdown waits for requests in flight (past the default request deadline).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The local server's limits; [`ServerLimits::default`] is the constants above, and tests
/// shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// See [`HEADER_READ_TIMEOUT`]. hyper's timer for it runs whenever a connection waits for
    /// a request head, idle time included, so it also caps [`ServerLimits::idle_timeout`].
    pub header_read_timeout: Duration,
    /// See [`BODY_READ_TIMEOUT`]; the request deadline bounds it when shorter.
    pub body_read_timeout: Duration,
    /// See [`IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
    /// See [`MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// See [`SHUTDOWN_GRACE`].
    pub shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: HEADER_READ_TIMEOUT,
            body_read_timeout: BODY_READ_TIMEOUT,
            idle_timeout: IDLE_TIMEOUT,
            max_connections: MAX_CONNECTIONS,
            shutdown_grace: SHUTDOWN_GRACE,
        }
    }
}

/// Serves the handler on `listener` with the default [`ServerLimits`] until `shutdown`
/// completes; see [`serve_with`].
pub async fn serve(
    listener: TcpListener,
    ctx: Arc<AppContext>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_with(ServerLimits::default(), listener, ctx, shutdown).await
}

/// Serves the handler on `listener` until `shutdown` completes, then stops accepting, lets
/// the requests in flight finish (for at most `limits.shutdown_grace`) and returns.
pub async fn serve_with(
    limits: ServerLimits,
    listener: TcpListener,
    ctx: Arc<AppContext>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    let ids = Arc::new(RequestIds::new());
    let max_connections = limits
        .max_connections
        .min(connections_the_files_limit_allows())
        .clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    if max_connections < limits.max_connections {
        tracing::warn!(
            max_connections,
            "the open-files limit (ulimit -n) lowers the connection cap"
        );
    }
    let slots = Arc::new(Semaphore::new(max_connections));
    let (stopping, stop) = watch::channel(false);
    loop {
        // At the cap, wait for a connection to close before accepting another: the kernel's
        // backlog holds the rest.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot.expect("BUG: the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: keep serving the connections we have.
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let connection = Connection {
            ctx: Arc::clone(&ctx),
            ids: Arc::clone(&ids),
            client_ip: ClientIp(peer.ip().to_string()),
            limits,
        };
        let stop = stop.clone();
        tokio::spawn(async move {
            connection.serve(stream, stop).await;
            drop(slot);
        });
    }
    drop(listener);
    tracing::info!("shutting down: answering the requests in flight");
    let _ = stopping.send(true);
    // Every connection holds a slot until it is done: all slots back means all finished.
    let all = u32::try_from(max_connections).expect("BUG: MAX_PERMITS fits in u32");
    if tokio::time::timeout(limits.shutdown_grace, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("shutdown: requests still in flight after the grace period");
    }
    Ok(())
}

/// How many connections the open-files limit leaves room for, after raising its soft value to
/// the hard one (what a shell's default of 1024 usually allows). Where the limit cannot be
/// read, no bound beyond the configured cap.
fn connections_the_files_limit_allows() -> usize {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(files) => usize::try_from(files)
            .unwrap_or(usize::MAX)
            .saturating_sub(FILES_KEPT_FREE),
        Err(error) => {
            tracing::warn!(%error, "the open-files limit could not be read");
            usize::MAX
        }
    }
}

/// A request whose body did not arrive within its time: the connection is closed without an
/// answer (the client is not reading one while it is still sending).
#[derive(Debug, thiserror::Error)]
#[error("request body not received within the deadline")]
struct BodyTimedOut;

/// One accepted connection and what its requests share.
struct Connection {
    ctx: Arc<AppContext>,
    ids: Arc<RequestIds>,
    client_ip: ClientIp,
    limits: ServerLimits,
}

impl Connection {
    /// Serves HTTP/1.1 on `stream` until the client or the idle timer closes it, or until
    /// `stop` says the server is shutting down and the request in flight is answered.
    async fn serve(self, stream: TcpStream, mut stop: watch::Receiver<bool>) {
        let Self {
            ctx,
            ids,
            client_ip,
            limits,
        } = self;
        // Requests being handled, and when the last one was answered (or the connection
        // accepted): the idle timer runs only while none is in flight.
        let busy = Arc::new(Busy::new());
        let tracked = Arc::clone(&busy);
        let service = service_fn(move |mut request: Request<Incoming>| {
            let ctx = Arc::clone(&ctx);
            let id = ids.next();
            // The id goes back as `X-Request-Id`, so a caller can quote it.
            let id_header = http::HeaderValue::from_str(&id.0).ok();
            request.extensions_mut().insert(id);
            request.extensions_mut().insert(client_ip.clone());
            let in_flight = Busy::enter(&tracked);
            // Neither the header timeout nor the idle timer runs while a body is read, and the
            // handler's deadline starts once it has arrived: this bounds the time between.
            let body_timeout = limits.body_read_timeout.min(ctx.config.request_deadline);
            async move {
                let (parts, body) = request.into_parts();
                let Ok(body) = tokio::time::timeout(body_timeout, read_bounded(body)).await else {
                    let extensions = &parts.extensions;
                    tracing::warn!(
                        request_id = extensions.get::<RequestId>().map(|id| id.0.as_str()),
                        client_ip = extensions.get::<ClientIp>().map(|ip| ip.0.as_str()),
                        "request body not received within the deadline: disconnected"
                    );
                    // An error from the service makes hyper close the connection.
                    return Err(BodyTimedOut);
                };
                let mut response = handle(&ctx, Request::from_parts(parts, body)).await;
                drop(in_flight);
                if let Some(id) = id_header {
                    response.headers_mut().insert("x-request-id", id);
                }
                Ok(response.map(|b| Full::new(Bytes::from(b))))
            }
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), service);
        tokio::pin!(connection);
        let mut closing = false;
        // Checked lazily: the timer fires at most once per idle timeout, never per request.
        let mut check_at = tokio::time::Instant::now() + limits.idle_timeout;
        loop {
            tokio::select! {
                _ = connection.as_mut() => return,
                () = tokio::time::sleep_until(check_at), if !closing => {
                    let now = tokio::time::Instant::now();
                    match busy.idle_since() {
                        Some(since) if since + limits.idle_timeout <= now => {
                            connection.as_mut().graceful_shutdown();
                            closing = true;
                        }
                        Some(since) => check_at = since + limits.idle_timeout,
                        // A request in flight: look again once it could have gone idle.
                        None => check_at = now + limits.idle_timeout,
                    }
                }
                _ = stop.wait_for(|stopping| *stopping), if !closing => {
                    // Answers the request in flight, if any, then closes.
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}

/// A connection's requests in flight, and since when it has had none.
struct Busy {
    state: std::sync::Mutex<(usize, tokio::time::Instant)>,
}

impl Busy {
    fn new() -> Self {
        Self {
            state: std::sync::Mutex::new((0, tokio::time::Instant::now())),
        }
    }

    /// Counts a request in flight until the guard is dropped.
    fn enter(busy: &Arc<Self>) -> InFlight {
        busy.update(|(count, _)| *count += 1);
        InFlight(Arc::clone(busy))
    }

    fn update(&self, change: impl FnOnce(&mut (usize, tokio::time::Instant))) {
        change(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// When the connection last became idle, or `None` while a request is in flight.
    fn idle_since(&self) -> Option<tokio::time::Instant> {
        let (count, since) = *self.state.lock().unwrap_or_else(|p| p.into_inner());
        (count == 0).then_some(since)
    }
}

/// One request in flight on a connection.
struct InFlight(Arc<Busy>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.update(|(count, since)| {
            *count -= 1;
            *since = tokio::time::Instant::now();
        });
    }
}

/// Binds `addr` (port 0 picks a free one) and reports the address actually bound.
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}
