//! AWS Lambda entry: configuration and DynamoDB client once per cold start, then the runtime.

use std::process::ExitCode;

use neptun_users::deploy::{self, Door};
use neptun_users::lambda;

#[tokio::main]
async fn main() -> ExitCode {
    let starting = match deploy::start(Door::Lambda).await {
        Ok(starting) => starting,
        Err(refused) => return refused,
    };
    let handler = lambda_http::service_fn(move |request| {
        let starting = starting.clone();
        async move {
            let ctx = starting.ready().await;
            Ok::<_, lambda_http::Error>(lambda::handle_event(&ctx, request).await)
        }
    });
    deploy::stopped(Door::Lambda, lambda_http::run(handler).await)
}
