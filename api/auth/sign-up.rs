//! Vercel entry for `/api/auth/sign-up` (`POST`): the web app's sign-up, on the same table.

// One thread for requests; see `neptun_users::vercel` for why.
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    neptun_users::vercel::run().await
}
