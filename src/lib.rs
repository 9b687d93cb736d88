//! `PATCH /api/users/{user_id}`: a signed-in user changes their email and/or password; and
//! the sign-in and sign-up beside it, on the same user table.
//!
//! One platform-free [`handle`] turns an `http::Request<Bytes>` into an
//! `http::Response<String>`. It serves the three routes that touch credentials on the user
//! table: `PATCH /api/users/{user_id}`, `POST /api/auth/login` and `POST /api/auth/sign-up`.
//! Three thin entry points call it: the Vercel functions (`api/users/[user_id].rs`,
//! `api/auth/login.rs`, `api/auth/sign-up.rs`, each [`vercel::run`]), the AWS Lambda function
//! (`src/bin/lambda.rs`) and the local command (`src/main.rs`), each building one
//! [`AppContext`] per cold start.

#![warn(missing_docs)]
#![warn(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod aws;
pub mod cli;
pub mod clock;
pub(crate) mod config;
pub mod context;
pub(crate) mod credentials;
pub mod deploy;
pub mod domain;
pub(crate) mod error;
pub(crate) mod handler;
pub(crate) mod import;
pub mod iron;
pub(crate) mod json;
pub mod lambda;
pub mod password;
pub(crate) mod secrets_manager;
pub mod server;
pub mod session;
pub mod store;
pub mod telemetry;
pub mod vercel;
pub(crate) mod vercel_oidc;

pub use config::Config;
pub use context::AppContext;
pub use error::ApiError;
pub use handler::{MAX_BODY_BYTES, handle};
pub use session::{Session, SessionKeys};
pub use store::{StoreError, UserStore};
