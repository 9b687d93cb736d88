//! AWS Lambda entry: configuration and DynamoDB client once per cold start, then the runtime.

use std::process::ExitCode;

use neptun_users::deploy::{self, Platform};
use neptun_users::lambda;

#[tokio::main]
async fn main() -> ExitCode {
    let startup = match deploy::start(Platform::Lambda).await {
        Ok(startup) => startup,
        Err(refused) => return refused,
    };
    let handler = lambda_http::service_fn(move |request| {
        let startup = startup.clone();
        async move {
            let ctx = startup.context().await;
            Ok::<_, lambda_http::Error>(lambda::handle_event(&ctx, request).await)
        }
    });
    deploy::stopped(Platform::Lambda, lambda_http::run(handler).await)
}
