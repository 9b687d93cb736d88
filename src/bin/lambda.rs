//! AWS Lambda entry: configuration and DynamoDB client once per cold start, then the runtime.

use std::process::ExitCode;

use neptun_users::deploy::Door;
use neptun_users::{deploy, lambda, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init_lambda();
    let starting = match deploy::init(Door::Lambda).await {
        Ok(starting) => starting,
        Err(message) => return deploy::refuse_to_start(&message),
    };
    let handler = lambda_http::service_fn(move |request| {
        let starting = starting.clone();
        async move {
            let ctx = starting.ready().await;
            Ok::<_, lambda_http::Error>(lambda::handle_event(&ctx, request).await)
        }
    });
    match lambda_http::run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => deploy::refuse_to_start(&format!("Lambda runtime failed: {error}")),
    }
}
