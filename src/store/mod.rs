//! `UserStore`: where user records live, behind one seam with two implementations.
//!
//! Every update is **one atomic operation carrying its preconditions**: the user exists, the
//! caller's session is still valid for it ([`SessionCheck`]), and the new address is not
//! claimed by another user (case-insensitively). DynamoDB checks them with conditions on one call; the memory store
//! checks them under one lock. Neither writes anything when a condition fails.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::domain::{Email, INITIAL_SESSION_VERSION, SessionCheck, UserId};
use crate::password::PasswordHash;

pub mod dynamodb;
mod memory;

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
    /// Too many password attempts in the current window: refused until this time (Unix
    /// milliseconds).
    #[error("too many attempts")]
    Locked {
        /// When the window ends.
        until_ms: i64,
    },
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
    /// The password hash (Argon2id PHC string, or an imported bcrypt hash); `None` for a user
    /// imported without a password (one who signs in elsewhere): sign-in and
    /// `current_password` refuse them, an address change works.
    pub password_hash: Option<PasswordHash>,
    /// Cookies are valid only while their version equals this one.
    pub session_version: u64,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds of the last update.
    pub updated_at: i64,
    /// Unix milliseconds of the last password change, if any: a Nuxt session judged by its
    /// login time is valid only if it logged in at or after this.
    pub password_changed_at_ms: Option<i64>,
    /// `current_password` attempts reserved in the current window, per user and per session.
    pub current_password_attempts: Attempts,
    /// Sign-in attempts reserved in the current window (per user only).
    pub sign_in_attempts: Attempts,
}

impl StoredUser {
    /// A user as created: the initial session version, no password change yet.
    pub fn new(id: UserId, email: &Email, password_hash: Option<&PasswordHash>, now: i64) -> Self {
        Self {
            id,
            email: email.clone(),
            password_hash: password_hash.cloned(),
            session_version: INITIAL_SESSION_VERSION,
            created_at: now,
            updated_at: now,
            password_changed_at_ms: None,
            current_password_attempts: Attempts::default(),
            sign_in_attempts: Attempts::default(),
        }
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

    /// The attempt counts `kind` is judged by.
    pub fn attempts(&self, kind: &AttemptKind<'_>) -> &Attempts {
        match kind {
            AttemptKind::CurrentPassword { .. } => &self.current_password_attempts,
            AttemptKind::SignIn => &self.sign_in_attempts,
        }
    }

    /// Whether `other` is this record as an import would write it again.
    pub(crate) fn same_import(&self, other: &StoredUser) -> bool {
        self.id == other.id
            && self.email.as_str() == other.email.as_str()
            && self.password_hash == other.password_hash
    }
}

/// Password attempts counted in one window: from the first attempt after the last window
/// ended, for [`ATTEMPT_WINDOW_MS`]. Every attempt is counted (reserved) *before* its password
/// is verified, so concurrent attempts on any number of instances can never verify more than
/// the limit; a verified one clears the window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attempts {
    /// Attempts reserved in the window, for the user as a whole.
    pub count: u32,
    /// Unix milliseconds of the window's first attempt; `None` when no window is open.
    pub window_start_ms: Option<i64>,
    /// Attempts reserved in the window, per session id (current passwords only).
    pub by_session: BTreeMap<String, u32>,
}

/// How long a window of attempts lasts, from its first attempt: 15 minutes.
pub const ATTEMPT_WINDOW_MS: i64 = 15 * 60 * 1000;
/// `current_password` attempts one session may make per window.
pub(crate) const CURRENT_PASSWORD_PER_SESSION: u32 = 5;
/// `current_password` attempts all of a user's sessions together may make per window.
pub(crate) const CURRENT_PASSWORD_PER_USER: u32 = 20;
/// Sign-in attempts per account per window.
pub(crate) const SIGN_IN_PER_USER: u32 = 10;

impl Attempts {
    /// When the window that `now_ms` falls in ends, if one is open.
    pub(crate) fn open_until(&self, now_ms: i64) -> Option<i64> {
        let ends = self.window_start_ms?.saturating_add(ATTEMPT_WINDOW_MS);
        (now_ms < ends).then_some(ends)
    }

    /// Whether one more attempt of `kind` may be made at `now_ms`: `Err` with the time the
    /// lock ends when a limit is reached.
    pub(crate) fn admit(&self, kind: &AttemptKind<'_>, now_ms: i64) -> Result<(), i64> {
        let Some(ends) = self.open_until(now_ms) else {
            return Ok(());
        };
        let (per_user, session) = kind.limits();
        let session_full = session
            .is_some_and(|(key, limit)| self.by_session.get(key).copied().unwrap_or(0) >= limit);
        if self.count >= per_user || session_full {
            Err(ends)
        } else {
            Ok(())
        }
    }

    /// Counts one attempt of `kind` at `now_ms` (after `Attempts::admit` said yes): into the
    /// open window, or as the first of a new one.
    pub fn reserve(&mut self, kind: &AttemptKind<'_>, now_ms: i64) {
        if self.open_until(now_ms).is_none() {
            *self = Self {
                count: 0,
                window_start_ms: Some(now_ms),
                by_session: BTreeMap::new(),
            };
        }
        self.count = self.count.saturating_add(1);
        if let AttemptKind::CurrentPassword { session_key, .. } = kind {
            let count = self
                .by_session
                .entry((*session_key).to_owned())
                .or_insert(0);
            *count = count.saturating_add(1);
        }
    }
}

/// What kind of password attempt is reserved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptKind<'a> {
    /// A `current_password` sent with an update, by a session that must still be valid.
    CurrentPassword {
        /// The caller's session: the reservation is refused ([`StoreError::Revoked`]) unless it
        /// is still valid.
        session: SessionCheck,
        /// The session's id (the Nuxt session's `id`, the signed session's `sid`).
        session_key: &'a str,
    },
    /// A sign-in's password.
    SignIn,
}

impl AttemptKind<'_> {
    /// The per-user limit, and the session's key and limit where sessions are counted.
    pub fn limits(&self) -> (u32, Option<(&str, u32)>) {
        match self {
            Self::CurrentPassword { session_key, .. } => (
                CURRENT_PASSWORD_PER_USER,
                Some((session_key, CURRENT_PASSWORD_PER_SESSION)),
            ),
            Self::SignIn => (SIGN_IN_PER_USER, None),
        }
    }
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
    /// it is still the stored one. A verified attempt also clears the attempt window.
    pub verified_hash: Option<PasswordHash>,
    /// The verified password hashed again with the contract's parameters, when the stored
    /// hash was weaker (bcrypt, or other Argon2id parameters). Revokes nothing.
    pub rehash: Option<PasswordHash>,
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

/// A sign-in whose password verified: its attempt window is cleared, in one write that holds
/// to the hash verified (a password changed meanwhile refuses it, [`StoreError::Revoked`]).
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// Whose record.
    pub id: UserId,
    /// The stored hash the password was verified against.
    pub verified_hash: PasswordHash,
    /// The password hashed again with the contract's parameters, when the stored hash was
    /// weaker.
    pub rehash: Option<PasswordHash>,
    /// Unix milliseconds now.
    pub now_ms: i64,
}

/// Storage for user records and their email claims.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates a user in one atomic write: the next id from the id counter (never below
    /// `floor`), the user with the initial session version, and the claim on its address
    /// ([`StoreError::EmailTaken`] if anyone holds it, in any case).
    async fn create_user(
        &self,
        email: &Email,
        password_hash: &PasswordHash,
        now: i64,
        floor: UserId,
    ) -> Result<StoredUser, StoreError>;

    /// Applies `patch` atomically if its preconditions hold, else writes nothing.
    async fn update_user(&self, patch: &UserPatch) -> Result<Updated, StoreError>;

    /// Reads one user (strongly consistent).
    async fn get_user(&self, id: UserId) -> Result<Option<StoredUser>, StoreError>;

    /// The id of the user holding `email` (in any case), if any.
    async fn find_user_id(&self, email: &Email) -> Result<Option<UserId>, StoreError>;

    /// Reserves one password attempt of `kind` for user `id` at `now_ms`, in one conditional
    /// write that succeeds only while the limits allow it, and returns the user as it now
    /// stands (the read a credential check needs). Refused: no such user
    /// ([`StoreError::NotFound`]; `id` `None` is an unknown address's sign-in, for which the
    /// store does the same work and answers that), a session no longer valid
    /// ([`StoreError::Revoked`]), a limit reached ([`StoreError::Locked`]).
    async fn reserve_attempt(
        &self,
        id: Option<UserId>,
        kind: AttemptKind<'_>,
        now_ms: i64,
    ) -> Result<StoredUser, StoreError>;

    /// Records a verified sign-in (see [`SignedIn`]) and returns the user as it now stands.
    async fn sign_in(&self, signed_in: &SignedIn) -> Result<StoredUser, StoreError>;

    /// Stores an existing user with its own id, with the claim on its address, in one atomic
    /// write. Never overwrites: the same record already stored is [`Imported::Unchanged`];
    /// the id held by a different record is [`StoreError::IdTaken`]; the address held by
    /// another user is [`StoreError::EmailTaken`].
    async fn import_user(&self, user: &StoredUser) -> Result<Imported, StoreError>;

    /// Moves the id counter to at least `id`, so [`UserStore::create_user`] never hands out
    /// an imported id (or one below a floor).
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
