//! The local command: `cargo run` serves the endpoint over the embedded store.

fn main() -> std::process::ExitCode {
    neptun_users::cli::main(std::env::args_os().skip(1).collect())
}
