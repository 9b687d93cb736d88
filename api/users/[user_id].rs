//! Vercel entry for `/api/users/[user_id]` (`PATCH`). Vercel rewrites `/api/users/7` to this
//! file with `?user_id=7`; the handler reads the path first and the query parameter as a
//! fallback.

// One thread for requests; see `neptun_users::vercel` for why.
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    neptun_users::vercel::run().await
}
