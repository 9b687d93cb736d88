//! Values parsed once at the boundary: past `parse`, nothing re-checks a string.
//!
//! Validation errors are reported as zod 3 issues, because the web UI validates the same
//! body with zod and both sides must agree on what is valid and how it is described.

mod email;
mod issue;
mod password;
mod update;
mod user_id;

pub use email::Email;
pub use issue::Issue;
pub use password::NewPassword;
pub use update::{BodyError, UserUpdate};
pub use user_id::UserId;

/// Length as JavaScript's `string.length` counts it: UTF-16 code units.
pub(crate) fn js_length(s: &str) -> usize {
    s.encode_utf16().count()
}
