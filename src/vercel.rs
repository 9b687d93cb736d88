//! The Vercel entry point: each route file under `api/` is a binary whose `main` is [`run`].
//! Configuration and the DynamoDB client once per cold start, then `vercel_runtime`'s server
//! in front of the one handler, which tells the routes apart by path. Each request's OIDC
//! token is kept for the AWS credentials (OIDC federation) and taken off the request.

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
