//! Vercel entry for `/api/users/[user_id]`: configuration and DynamoDB client once per cold
//! start, then `vercel_runtime`'s server. Vercel rewrites `/api/users/7` to this file with
//! `?user_id=7`; the handler reads the path first and the query parameter as a fallback.
//! Each request's OIDC token is kept for the AWS credentials (OIDC federation) and taken off
//! the request.

use std::process::ExitCode;

use neptun_users::deploy::{self, Door};
use neptun_users::server;
use vercel_runtime::{Error, Request, Response, ResponseBody};

#[tokio::main]
async fn main() -> ExitCode {
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
