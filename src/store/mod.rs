//! `UserStore`: where user records live, behind one seam with two implementations.
//!
//! Every update is **one atomic operation carrying its preconditions**: the user exists, the
//! caller's session is still valid for it ([`SessionCheck`]), and the new address is not
//! claimed by another user (case-insensitively). DynamoDB checks them with conditions on one call; the memory store
//! checks them under one lock. Neither writes anything when a condition fails.

use async_trait::async_trait;

use crate::domain::{Email, UserId};
use crate::password::PasswordHash;

pub mod dynamodb;
pub mod memory;

pub use dynamodb::DynamoStore;
pub use memory::MemoryStore;

/// Why the store did not apply an update.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No user has this id.
    #[error("no user has this id")]
    NotFound,
    /// The caller's session no longer passes its [`SessionCheck`]: it was revoked.
    #[error("the session was revoked")]
    Revoked,
    /// Another user holds the requested address (in any case).
    #[error("the address belongs to another user")]
    EmailTaken,
    /// Another record already has this id (only an import chooses ids).
    #[error("the id belongs to another record")]
    IdTaken,
    /// The store could not be reached or answered unexpectedly. The reason is for the log
    /// only and never contains SDK text that could carry request data.
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// A user record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUser {
    /// The user's id.
    pub id: UserId,
    /// The primary email, as given.
    pub email: Email,
    /// The Argon2id PHC string (or an imported bcrypt hash); `None` for a user imported
    /// without a password of its own (it signed in elsewhere only): no password verifies.
    pub password_hash: Option<PasswordHash>,
    /// Cookies are valid only while their version equals this one.
    pub session_version: u64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last update.
    pub updated_at: i64,
    /// Unix milliseconds of the last password change, if any: a session without a
    /// version is valid only if it logged in at or after this.
    pub password_changed_at_ms: Option<i64>,
    /// Wrong `current_password` attempts counted in the window that began at
    /// [`StoredUser::failed_window_start_ms`]; a verified one clears both.
    pub failed_attempts: u32,
    /// Unix milliseconds of the first wrong attempt of the current window, if any.
    pub failed_window_start_ms: Option<i64>,
}

impl StoredUser {
    /// A user as created: the initial session version, no password change yet.
    pub fn new(id: UserId, email: &Email, password_hash: Option<&PasswordHash>, now: i64) -> Self {
        Self {
            id,
            email: email.clone(),
            password_hash: password_hash.cloned(),
            session_version: crate::session::INITIAL_SESSION_VERSION,
            created_at: now,
            updated_at: now,
            password_changed_at_ms: None,
            failed_attempts: 0,
            failed_window_start_ms: None,
        }
    }

    /// When the lock on `current_password` attempts ends (Unix milliseconds), if `limit`
    /// wrong attempts within `window_ms` have locked them at `now_ms`.
    pub fn locked_until(&self, now_ms: i64, limit: u32, window_ms: i64) -> Option<i64> {
        let ends = self.failed_window_start_ms?.saturating_add(window_ms);
        (self.failed_attempts >= limit && now_ms < ends).then_some(ends)
    }

    /// Whether a session that passes `check` is still valid for this record.
    pub fn accepts(&self, check: SessionCheck) -> bool {
        match check {
            SessionCheck::Version(version) => self.session_version == version,
            SessionCheck::LoggedInAt(login_ms) => self
                .password_changed_at_ms
                .is_none_or(|changed| changed <= login_ms),
            SessionCheck::VersionOrLoggedInAt(version, login_ms) => {
                self.accepts(SessionCheck::Version(version))
                    || self.accepts(SessionCheck::LoggedInAt(login_ms))
            }
        }
    }
}

/// What makes the caller's session still valid, checked in the same write as the update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCheck {
    /// The session carries a version: the stored one must equal it. A password change
    /// increments it, so every older session is refused.
    Version(u64),
    /// The session carries no version (a fresh Nuxt login; Unix milliseconds): valid only if
    /// it logged in at or after the last password change.
    LoggedInAt(i64),
    /// A Nuxt session that carries a version: valid if the version is the stored one, or if
    /// it logged in at or after the last password change. The Nuxt app's login merges its
    /// new data into the old session's, so a fresh login can carry an old version along.
    VersionOrLoggedInAt(u64, i64),
}

/// One update with its preconditions.
#[derive(Debug, Clone)]
pub struct UserPatch {
    /// Whose record.
    pub id: UserId,
    /// The caller's session; the update applies only while it is valid.
    pub session: SessionCheck,
    /// The caller's session's copy of the email. A hint (the DynamoDB store needs the old
    /// address to release its claim); if stale, the store looks the current one up.
    pub known_email: String,
    /// The new address, if it changes.
    pub email: Option<Email>,
    /// The new password hash, if it changes. Increments the session version.
    pub password_hash: Option<PasswordHash>,
    /// The stored hash a `current_password` was verified against: the write applies only if
    /// it is still the stored one. A verified attempt also clears the failed-attempt count.
    pub verified_hash: Option<PasswordHash>,
    /// The time (Unix milliseconds) written to `updated_at` (in seconds) and to
    /// `password_changed_at_ms`.
    pub now_ms: i64,
}

/// What the caller needs after an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Updated {
    /// The email now stored.
    pub email: Email,
    /// The session version now stored, when the store's answer says it (a DynamoDB
    /// transaction returns nothing; then the caller's session keeps what it proved itself by).
    pub session_version: Option<u64>,
}

/// Storage for user records and their email claims.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user with a fresh id and the initial session version.
    async fn create_user(
        &self,
        email: &Email,
        password_hash: &PasswordHash,
        now: i64,
    ) -> Result<StoredUser, StoreError>;

    /// Applies `patch` atomically if its preconditions hold, else writes nothing.
    async fn update_user(&self, patch: &UserPatch) -> Result<Updated, StoreError>;

    /// Reads one user (strongly consistent).
    async fn get_user(&self, id: UserId) -> Result<Option<StoredUser>, StoreError>;

    /// Stores an existing user with its own id, with the claim on its address, in one atomic
    /// write. Never overwrites: the same record already stored is [`Imported::Unchanged`];
    /// the id held by a different record is [`StoreError::IdTaken`]; the address held by
    /// another user is [`StoreError::EmailTaken`].
    async fn import_user(&self, user: &StoredUser) -> Result<Imported, StoreError>;

    /// Counts one wrong `current_password` for `id` at `now_ms`: one more in the current
    /// window, or the first of a new one when the window (`window_ms`) has passed. Atomic, so
    /// concurrent wrong attempts all count. Returns the count now stored.
    async fn record_failed_attempt(
        &self,
        id: UserId,
        now_ms: i64,
        window_ms: i64,
    ) -> Result<u32, StoreError>;

    /// Moves the id counter to at least `id`, so [`UserStore::create_user`] never hands out
    /// an imported id.
    async fn reserve_ids_through(&self, id: UserId) -> Result<(), StoreError>;
}

/// What [`UserStore::import_user`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    /// The user and its claim were written.
    Created,
    /// The same user (id, address and hash) was already stored; nothing was written.
    Unchanged,
}

impl StoredUser {
    /// Whether `other` is this record as an import would write it again.
    pub fn same_import(&self, other: &StoredUser) -> bool {
        self.id == other.id
            && self.email.as_str() == other.email.as_str()
            && self.password_hash == other.password_hash
    }
}
