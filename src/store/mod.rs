//! `UserStore`: where user records live, behind one seam with two implementations.
//!
//! Every update is **one atomic operation carrying its preconditions**: the user exists, its
//! session version equals the caller's, and the new address is not claimed by another user
//! (case-insensitively). DynamoDB checks them with conditions on one call; the memory store
//! checks them under one lock. Neither writes anything when a condition fails.

use async_trait::async_trait;

use crate::domain::{Email, UserId};
use crate::password::PasswordHash;

pub mod dynamodb;
pub mod memory;

pub use dynamodb::DynamoStore;
pub use memory::MemoryStore;

/// Why the store did not apply an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// No user has this id.
    NotFound,
    /// The caller's session version is not the stored one: the session was revoked.
    Revoked,
    /// Another user holds the requested address (in any case).
    EmailTaken,
    /// The store could not be reached or answered unexpectedly. The reason is for the log
    /// only and never contains SDK text that could carry request data.
    Unavailable(String),
}

/// A user record as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUser {
    /// The user's id.
    pub id: UserId,
    /// The primary email, as given.
    pub email: Email,
    /// The Argon2id PHC string.
    pub password_hash: PasswordHash,
    /// Cookies are valid only while their version equals this one.
    pub session_version: u64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last update.
    pub updated_at: i64,
    /// Unix seconds of the last password change, if any.
    pub password_changed_at: Option<i64>,
}

impl StoredUser {
    /// A user as created: the initial session version, no password change yet.
    pub fn new(id: UserId, email: &Email, password_hash: &PasswordHash, now: i64) -> Self {
        Self {
            id,
            email: email.clone(),
            password_hash: password_hash.clone(),
            session_version: crate::session::INITIAL_SESSION_VERSION,
            created_at: now,
            updated_at: now,
            password_changed_at: None,
        }
    }
}

/// One update with its preconditions.
#[derive(Debug, Clone)]
pub struct UserPatch {
    /// Whose record.
    pub id: UserId,
    /// The caller's session version; the update applies only if it equals the stored one.
    pub expected_version: u64,
    /// The caller's session's copy of the email. A hint (the DynamoDB store needs the old
    /// address to release its claim); if stale, the store looks the current one up.
    pub known_email: String,
    /// The new address, if it changes.
    pub email: Option<Email>,
    /// The new password hash, if it changes. Increments the session version.
    pub password_hash: Option<PasswordHash>,
    /// The time written to `updated_at` (and `password_changed_at`).
    pub now: i64,
}

/// What the caller needs after an update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Updated {
    /// The email now stored.
    pub email: Email,
    /// The session version now stored.
    pub session_version: u64,
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
}
