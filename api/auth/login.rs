//! Vercel entry for `/api/auth/login` (`POST`): the web app's sign-in, on the same table.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    neptun_users::vercel::run().await
}
