//! What keeps a session valid against the user record: the session version, or the login
//! time of a session the function never stamped.

/// The session version every new user starts with; a password change increments it.
pub const INITIAL_SESSION_VERSION: u64 = 1;

/// What makes the caller's session still valid, checked in the same write as the update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCheck {
    /// The session carries a version (a signed session, or a Nuxt session the function
    /// stamped): the stored one must equal it. A password change increments it, so every
    /// older session is refused.
    Version(u64),
    /// An unstamped Nuxt session, accepted by `NUXT_UNSTAMPED_SESSIONS=accept` (Unix
    /// milliseconds): valid only if it logged in at or after the last password change.
    LoggedInAt(i64),
    /// A stamped Nuxt session under `NUXT_UNSTAMPED_SESSIONS=accept`: valid if its version is
    /// the stored one, or if its `loggedInAt` is at or after the last password change (the
    /// app's own login merges into an old session and can keep a stale stamp).
    VersionOrLoggedInAt(u64, i64),
}
