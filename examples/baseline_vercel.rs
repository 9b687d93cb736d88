//! Benchmark baseline: a hello-world `vercel_runtime` function.

use vercel_runtime::{Error, Request, Response, ResponseBody, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|_: Request| async {
        Ok::<_, Error>(Response::new(ResponseBody::from("hello")))
    }))
    .await
}
