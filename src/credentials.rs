//! What guards a credential check: one check at a time per user in this instance, and the
//! `Retry-After` of a throttled one.
//!
//! Password attempts are counted in the user record, reserved before the password is
//! verified (see [`crate::store::UserStore::reserve_attempt`]), so the limits hold across
//! instances and cold starts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use crate::domain::UserId;

/// One credential check per user at a time in this instance: a second request for the same
/// user waits for the first to finish, so one user cannot hold two Argon2 arenas, and the
/// second reads what the first wrote (its failed attempt, its new version).
#[derive(Default)]
pub struct UserLocks {
    locks: Mutex<HashMap<UserId, Weak<tokio::sync::Mutex<()>>>>,
}

/// A held [`UserLocks::lock`]; the next request for that user goes when it is dropped.
pub type UserLock = tokio::sync::OwnedMutexGuard<()>;

impl UserLocks {
    /// Waits until no other request of this instance checks `id`'s credentials, and holds
    /// that until the returned lock is dropped.
    pub async fn lock(&self, id: UserId) -> UserLock {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            // Forget users nobody waits for, so the map stays as small as the traffic.
            if locks.len() > 1024 {
                locks.retain(|_, lock| lock.strong_count() > 0);
            }
            match locks.get(&id).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(id, Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }
}

/// Whole seconds from `now_ms` until `until_ms`, at least 1: a `Retry-After` value.
pub fn retry_after_secs(now_ms: i64, until_ms: i64) -> u64 {
    let ms = until_ms.saturating_sub(now_ms).max(1);
    u64::try_from(ms.saturating_add(999) / 1000).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_users_second_check_waits_for_the_first_and_other_users_do_not() {
        let locks = UserLocks::default();
        let first = locks.lock(UserId::new(1).unwrap()).await;
        let other = tokio::time::timeout(
            std::time::Duration::from_millis(100),
            locks.lock(UserId::new(2).unwrap()),
        )
        .await;
        assert!(other.is_ok(), "another user goes at once");
        let same = tokio::time::timeout(
            std::time::Duration::from_millis(100),
            locks.lock(UserId::new(1).unwrap()),
        )
        .await;
        assert!(same.is_err(), "the same user waits");
        drop(first);
        let after = tokio::time::timeout(
            std::time::Duration::from_millis(100),
            locks.lock(UserId::new(1).unwrap()),
        )
        .await;
        assert!(after.is_ok(), "and goes once the first is done");
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        for (now, until, expected) in [
            (0, 1, 1),
            (0, 1000, 1),
            (0, 1001, 2),
            (5, 5, 1),
            (0, 900_000, 900),
        ] {
            assert_eq!(retry_after_secs(now, until), expected, "{now} {until}");
        }
    }
}
