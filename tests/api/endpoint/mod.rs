//! The endpoint, black-box: every row of docs/contract.md's "Responses". What the handler
//! decides is asked of the handler in process (`common::handler_app`, axum's `oneshot` style:
//! `updates`, `validation`, `sessions`, `cross_site`, `addresses`, `current_password`, `nuxt`);
//! what needs a socket (request ids, timeouts, connection limits, shutdown, the log line's
//! request fields, the sign-in routes' races) goes through the real server on port 0
//! (`common::spawn_app`). Run over the memory store, or over DynamoDB with
//! `NEPTUN_TEST_STORE=dynamodb`.
//!
//! One module per concern of `PATCH /api/users/{user_id}`, and one for the sign-in routes:
//!
//! - [`updates`]: the changes that succeed, the refreshed cookie, what a password change revokes.
//! - [`validation`]: paths, methods, content types, sizes, ids, bodies, the password rules, and
//!   the order of the checks.
//! - [`sessions`]: missing, forged, expired and revoked cookies, previous secrets, the maximum
//!   age; another user's record (403) and a missing one (404).
//! - [`cross_site`]: Origin and Sec-Fetch-Site, forwarded headers, CORS.
//! - [`addresses`]: conflicts, case changes, released addresses, concurrent claims.
//! - [`current_password`]: the current password, its lockout, and the stored hash's ceiling.
//! - [`nuxt`]: the Nuxt app's own sessions.
//! - [`failures`]: an unreachable store, and the request deadline.
//! - [`logging`]: the request line, and no secret in any log.
//! - [`local_server`]: the local server's connection limits and shutdown.
//! - [`auth`]: `POST /api/auth/login` and `POST /api/auth/sign-up`.

use serde_json::json;

mod addresses;
mod auth;
mod cross_site;
mod current_password;
mod failures;
mod local_server;
mod logging;
mod nuxt;
mod sessions;
mod updates;
mod validation;

/// The message of every 400 for a body the schema refuses.
const BAD_BODY: &str =
    "Invalid body(?email, ?password). At least one of email or password is required.";
/// The message of every 403.
const FORBIDDEN: &str = "You do not have access to this resource.";

/// `{"user":{"id":…,"primary_email":…}}`, exactly.
fn user_body(id: u64, email: &str) -> String {
    json!({"user": {"id": id, "primary_email": email}}).to_string()
}
