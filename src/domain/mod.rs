//! Values parsed once at the boundary: past `parse`, nothing re-checks a string.
//!
//! Validation errors are reported as zod 3 issues, because the web UI validates the same
//! body with zod and both sides must agree on what is valid and how it is described.

mod email;
mod issue;
mod origin;
mod password;
mod session_check;
mod sign_in;
mod update;
mod user_id;

pub use email::Email;
pub use issue::Issue;
pub use origin::Origin;
pub(crate) use password::blocklist_issues;
pub use password::{CurrentPassword, NewPassword, PasswordRules, SPECIAL_CHARACTERS};
pub use session_check::{INITIAL_SESSION_VERSION, SessionCheck};
pub use sign_in::{SignIn, SignUp};
pub use update::{BodyError, Rules, UserUpdate};
pub use user_id::{MAX_SAFE_INTEGER, UserId};

/// Length as JavaScript's `string.length` counts it: UTF-16 code units.
pub(crate) fn js_length(s: &str) -> usize {
    s.encode_utf16().count()
}

/// zod's `.min(min).max(max)` on a string, in UTF-16 code units: the `too_small` and
/// `too_big` issues of `field` (at most one of them), with messages naming `label`.
pub(crate) fn length_issues(
    raw: &str,
    (min, max): (u64, u64),
    label: &str,
    field: &'static str,
) -> Vec<Issue> {
    let length = js_length(raw) as u64;
    let mut issues = Vec::new();
    if length < min {
        let unit = if min == 1 { "character" } else { "characters" };
        issues.push(Issue::too_small(
            "string",
            min,
            format!("{label} must be at least {min} {unit}"),
            field,
        ));
    }
    if length > max {
        issues.push(Issue::too_big(
            "string",
            max,
            format!("{label} must be at most {max} characters"),
            field,
        ));
    }
    issues
}
