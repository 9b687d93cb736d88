//! The Vercel door: each route file under `api/` is a binary whose `main` is [`run`].
//! Configuration and the DynamoDB client once per cold start, then `vercel_runtime`'s server
//! in front of the one handler, which tells the routes apart by path. Each request's OIDC
//! token is kept for the AWS credentials (OIDC federation) and taken off the request.

use std::process::ExitCode;

use vercel_runtime::{Error, Request, Response, ResponseBody};

use crate::deploy::{self, Door};
use crate::server;

/// Serves the handler under Vercel's runtime until it stops.
pub async fn run() -> ExitCode {
    let starting = match deploy::start(Door::Vercel).await {
        Ok(starting) => starting,
        Err(refused) => return refused,
    };
    let handler = vercel_runtime::service_fn(move |mut request: Request| {
        let starting = starting.clone();
        starting.take_oidc_token(request.headers_mut());
        server::tag_vercel_request(&mut request);
        async move {
            let ctx = starting.ready().await;
            let response = server::handle_incoming(&ctx, request).await;
            Ok::<Response<ResponseBody>, Error>(response.map(ResponseBody::from))
        }
    });
    deploy::stopped(Door::Vercel, vercel_runtime::run(handler).await)
}
