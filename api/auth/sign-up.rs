//! Vercel entry for `/api/auth/sign-up` (`POST`): the web app's sign-up, on the same table.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    neptun_users::vercel::run().await
}
