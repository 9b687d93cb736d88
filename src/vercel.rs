//! The Vercel entry point: each route file under `api/` is a binary whose `main` is [`run`].
//! Configuration and the DynamoDB client once per cold start, then `vercel_runtime`'s server
//! in front of the one handler, which tells the routes apart by path. Each request's OIDC
//! token is kept for the AWS credentials (OIDC federation) and taken off the request.
//!
//! The route files run it on a current-thread Tokio runtime. A request's own work is a few
//! microseconds of CPU between network waits; password hashing, the one heavy part, has
//! threads of its own (`password`). A multi-thread runtime added cross-thread wake-ups and
//! work stealing to every request: on 2 cores under wrk it cost 20 µs of CPU per refused
//! update against 17.5 µs on one thread, and no cold start was faster for it.

use std::process::ExitCode;

use vercel_runtime::{Error, Request, Response, ResponseBody};

use crate::deploy::{self, Platform};
use crate::server;

/// Serves the handler under Vercel's runtime until it stops.
pub async fn run() -> ExitCode {
    let startup = match deploy::start(Platform::Vercel).await {
        Ok(startup) => startup,
        Err(refused) => return refused,
    };
    let handler = vercel_runtime::service_fn(move |mut request: Request| {
        let startup = startup.clone();
        startup.take_oidc_token(request.headers_mut());
        server::tag_vercel_request(&mut request);
        async move {
            let ctx = startup.context().await;
            let response = server::handle_incoming(&ctx, request).await;
            Ok::<Response<ResponseBody>, Error>(response.map(ResponseBody::from))
        }
    });
    deploy::stopped(Platform::Vercel, vercel_runtime::run(handler).await)
}
