//! `MemoryStore`: the embedded store of the local command, enforcing exactly the conditions
//! the DynamoDB store enforces, under one lock so every update is atomic.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{Imported, StoreError, StoredUser, Updated, UserPatch, UserStore};
use crate::domain::{Email, UserId};
use crate::password::PasswordHash;

#[derive(Default)]
struct State {
    users: HashMap<UserId, StoredUser>,
    /// Normalized address → the user who holds it.
    claims: HashMap<String, UserId>,
    last_id: u64,
}

/// Users in process memory; gone when the process ends.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl MemoryStore {
    /// An empty store; the first user gets id 1.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied update: every update
        // checks all conditions before it writes anything.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl UserStore for MemoryStore {
    async fn create_user(
        &self,
        email: &Email,
        password_hash: &PasswordHash,
        now: i64,
    ) -> Result<StoredUser, StoreError> {
        let mut state = self.lock();
        if state.claims.contains_key(&email.normalized()) {
            return Err(StoreError::EmailTaken);
        }
        let id = UserId::new(state.last_id + 1)
            .ok_or_else(|| StoreError::Unavailable("user ids exhausted".into()))?;
        state.last_id = id.get();
        let user = StoredUser::new(id, email, Some(password_hash), now);
        state.claims.insert(email.normalized(), id);
        state.users.insert(id, user.clone());
        Ok(user)
    }

    async fn update_user(&self, patch: &UserPatch) -> Result<Updated, StoreError> {
        let mut guard = self.lock();
        let state = &mut *guard;
        let user = state.users.get_mut(&patch.id).ok_or(StoreError::NotFound)?;
        if !user.accepts(patch.session)
            || patch
                .verified_hash
                .as_ref()
                .is_some_and(|verified| Some(verified) != user.password_hash.as_ref())
        {
            return Err(StoreError::Revoked);
        }
        if let Some(email) = &patch.email {
            let holder = state.claims.get(&email.normalized());
            if holder.is_some_and(|holder| *holder != patch.id) {
                return Err(StoreError::EmailTaken);
            }
        }
        // Every condition holds: apply the whole patch.
        if let Some(email) = &patch.email {
            state.claims.remove(&user.email.normalized());
            state.claims.insert(email.normalized(), patch.id);
            user.email = email.clone();
        }
        if let Some(hash) = &patch.password_hash {
            user.password_hash = Some(hash.clone());
            user.session_version = user.session_version.saturating_add(1);
            user.password_changed_at_ms = Some(patch.now_ms);
        }
        if patch.verified_hash.is_some() {
            user.failed_attempts = 0;
            user.failed_window_start_ms = None;
        }
        user.updated_at = patch.now_ms.div_euclid(1000);
        Ok(Updated {
            email: user.email.clone(),
            session_version: Some(user.session_version),
        })
    }

    async fn get_user(&self, id: UserId) -> Result<Option<StoredUser>, StoreError> {
        Ok(self.lock().users.get(&id).cloned())
    }

    async fn import_user(&self, user: &StoredUser) -> Result<Imported, StoreError> {
        let mut state = self.lock();
        if let Some(stored) = state.users.get(&user.id) {
            return if stored.same_import(user) {
                Ok(Imported::Unchanged)
            } else {
                Err(StoreError::IdTaken)
            };
        }
        if state.claims.contains_key(&user.email.normalized()) {
            return Err(StoreError::EmailTaken);
        }
        state.claims.insert(user.email.normalized(), user.id);
        state.users.insert(user.id, user.clone());
        state.last_id = state.last_id.max(user.id.get());
        Ok(Imported::Created)
    }

    async fn record_failed_attempt(
        &self,
        id: UserId,
        now_ms: i64,
        window_ms: i64,
    ) -> Result<u32, StoreError> {
        let mut state = self.lock();
        let user = state.users.get_mut(&id).ok_or(StoreError::NotFound)?;
        match user.failed_window_start_ms {
            Some(start) if now_ms < start.saturating_add(window_ms) => {
                user.failed_attempts = user.failed_attempts.saturating_add(1);
            }
            _ => {
                user.failed_attempts = 1;
                user.failed_window_start_ms = Some(now_ms);
            }
        }
        Ok(user.failed_attempts)
    }

    async fn reserve_ids_through(&self, id: UserId) -> Result<(), StoreError> {
        let mut state = self.lock();
        state.last_id = state.last_id.max(id.get());
        Ok(())
    }
}

impl MemoryStore {
    /// Every claimed address and its holder, for invariant checks in tests (`test-util`
    /// feature).
    #[cfg(feature = "test-util")]
    pub fn claims(&self) -> Vec<(String, UserId)> {
        let mut claims: Vec<_> = self
            .lock()
            .claims
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        claims.sort();
        claims
    }
}
