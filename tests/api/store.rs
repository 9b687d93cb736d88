//! The store seam: one conformance suite run against both stores, then DynamoDB's own
//! promises (call counts, races, faults) against the emulator the test command starts.
//!
//! Without `AWS_ENDPOINT_URL_DYNAMODB` the DynamoDB half says it skipped; with
//! `NEPTUN_REQUIRE_DYNAMODB=1` (as `scripts/test` and CI set) a missing emulator fails.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use common::dynamo::{Outage, assert_claims_consistent, emulator_port};
use common::*;
use neptun_users::domain::{Email, NewPassword, SessionCheck, UserId};
use neptun_users::password::{Hasher, PasswordHash, verify};
use neptun_users::store::{
    AttemptKind, DynamoStore, MemoryStore, SignedIn, StoreError, UserPatch, UserStore,
};

const NOW: i64 = 1_800_000_000;

fn floor() -> UserId {
    UserId::new(1).unwrap()
}

fn email(raw: &str) -> Email {
    Email::parse(raw).unwrap()
}

async fn hash(password: &str) -> PasswordHash {
    Hasher::new(1)
        .hash(NewPassword::parse(password).unwrap())
        .await
        .unwrap()
}

fn patch(id: u64, version: u64, known: &str) -> UserPatch {
    UserPatch {
        id: UserId::new(id).unwrap(),
        session: SessionCheck::Version(version),
        known_email: known.to_owned(),
        email: None,
        password_hash: None,
        verified_hash: None,
        rehash: None,
        now_ms: (NOW + 60) * 1000,
    }
}

async fn create(store: &dyn UserStore, address: &str) -> u64 {
    store
        .create_user(
            &email(address),
            &hash("initial-password").await,
            NOW,
            floor(),
        )
        .await
        .unwrap()
        .id
        .get()
}

async fn stored(store: &dyn UserStore, id: u64) -> neptun_users::store::StoredUser {
    store
        .get_user(UserId::new(id).unwrap())
        .await
        .unwrap()
        .expect("user exists")
}

// ---------------------------------------------------------------------------------------
// Conformance: the same promises from both stores.

/// A session without a version (a Nuxt login) is valid while it logged in at or after the
/// last password change, to the millisecond; the check is part of the one write.
async fn a_session_without_a_version_is_judged_by_its_login_time(store: Arc<dyn UserStore>) {
    let id = create(store.as_ref(), "a@example.com").await;
    let at = |login_ms: i64, address: Option<&str>| UserPatch {
        session: SessionCheck::LoggedInAt(login_ms),
        email: address.map(email),
        ..patch(id, 0, "a@example.com")
    };
    let before_any_change = store.update_user(&at(1, None)).await.unwrap();
    assert_eq!(
        before_any_change.email.as_str(),
        "a@example.com",
        "no password change yet"
    );
    let mut change = patch(id, 1, "a@example.com");
    change.password_hash = Some(hash("new-password").await);
    change.now_ms = 1_800_000_000_500;
    store.update_user(&change).await.unwrap();
    assert_eq!(
        stored(store.as_ref(), id).await.password_changed_at_ms,
        Some(1_800_000_000_500),
        "kept to the millisecond"
    );
    for (login_ms, address, expected, why) in [
        (
            1_800_000_000_499,
            None,
            Err(StoreError::Revoked),
            "1 ms before the change",
        ),
        (
            1_800_000_000_499,
            Some("b@example.com"),
            Err(StoreError::Revoked),
            "1 ms before, with an address change",
        ),
        (
            1_800_000_000_500,
            None,
            Ok("a@example.com"),
            "at the change",
        ),
        (
            1_800_000_000_501,
            Some("b@example.com"),
            Ok("b@example.com"),
            "after, with an address change",
        ),
    ] {
        let result = store.update_user(&at(login_ms, address)).await;
        assert_eq!(
            result
                .as_ref()
                .map(|u| u.email.as_str())
                .map_err(Clone::clone),
            expected,
            "{why}"
        );
    }
    let user = stored(store.as_ref(), id).await;
    assert_eq!(
        (user.email.as_str(), user.session_version),
        ("b@example.com", 2)
    );
}

const WINDOW_MS: i64 = 15 * 60 * 1000;

fn current(session_key: &str, version: u64) -> AttemptKind<'_> {
    AttemptKind::CurrentPassword {
        session: SessionCheck::Version(version),
        session_key,
    }
}

/// Current-password attempts are reserved before any verification, in one conditional write
/// that also reads the user: 5 per session and 20 per user in a window, concurrent ones never
/// more than the limit; a revoked session or a missing user reserves nothing; a write that
/// verified the current password clears the window.
async fn current_password_attempts_are_reserved_per_session_and_capped_per_user(
    store: Arc<dyn UserStore>,
) {
    let id = create(store.as_ref(), "a@example.com").await;
    let user_id = Some(UserId::new(id).unwrap());
    let start = 1_800_000_000_000;
    for expected in 1..=3u32 {
        let user = store
            .reserve_attempt(user_id, current("thief", 1), start + i64::from(expected))
            .await
            .unwrap();
        assert_eq!(user.email.as_str(), "a@example.com", "the read comes back");
        assert_eq!(user.current_password_attempts.count, expected);
    }
    // Eight at once from the same session: only two more fit its five.
    let concurrent = futures::future::join_all(
        (0..8).map(|i| store.reserve_attempt(user_id, current("thief", 1), start + 10 + i)),
    )
    .await;
    let admitted = concurrent.iter().filter(|r| r.is_ok()).count();
    assert_eq!(admitted, 2, "{concurrent:?}");
    for refused in concurrent.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(
            *refused,
            StoreError::Locked {
                until_ms: start + 1 + WINDOW_MS
            }
        );
    }
    let user = stored(store.as_ref(), id).await;
    assert_eq!(user.current_password_attempts.count, 5);
    assert_eq!(
        user.current_password_attempts.by_session.get("thief"),
        Some(&5)
    );
    // The owner's own session is not locked by the thief's.
    store
        .reserve_attempt(user_id, current("owner", 1), start + 30)
        .await
        .expect("another session of the same user still has its attempts");
    // Sessions together stop at 20.
    for (n, session) in ["s1", "s2", "s3"].iter().enumerate() {
        for i in 0..5 {
            let at = start + 40 + i64::try_from(n * 5 + i).unwrap();
            let reserved = store
                .reserve_attempt(user_id, current(session, 1), at)
                .await;
            let total = 6 + n * 5 + i; // 5 thief + 1 owner before this one
            assert_eq!(
                reserved.is_ok(),
                total < 20,
                "attempt {} of the user ({session})",
                total + 1
            );
        }
    }
    assert_eq!(
        store
            .reserve_attempt(user_id, current("brand-new", 1), start + 100)
            .await
            .unwrap_err(),
        StoreError::Locked {
            until_ms: start + 1 + WINDOW_MS
        },
        "20 lock every session"
    );
    assert_eq!(
        stored(store.as_ref(), id)
            .await
            .current_password_attempts
            .count,
        20,
        "nothing reserved past the cap"
    );
    // A revoked session and a missing user reserve nothing.
    assert_eq!(
        store
            .reserve_attempt(user_id, current("owner", 9), start + 1 + WINDOW_MS)
            .await
            .unwrap_err(),
        StoreError::Revoked
    );
    assert_eq!(
        store
            .reserve_attempt(Some(UserId::new(999).unwrap()), current("owner", 1), start)
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    // The window ends: a new one starts with this attempt.
    let next = store
        .reserve_attempt(user_id, current("thief", 1), start + 1 + WINDOW_MS)
        .await
        .unwrap();
    assert_eq!(
        (
            next.current_password_attempts.count,
            next.current_password_attempts.window_start_ms,
            next.current_password_attempts.by_session.len()
        ),
        (1, Some(start + 1 + WINDOW_MS), 1)
    );
    // A write that holds to a hash no longer stored writes nothing; one that verified clears.
    let verified = next.password_hash.clone().unwrap();
    let mut stale = patch(id, 1, "a@example.com");
    stale.verified_hash = Some(hash("not-the-stored-one").await);
    assert_eq!(
        store.update_user(&stale).await.unwrap_err(),
        StoreError::Revoked,
        "the verified hash is no longer stored"
    );
    assert_eq!(
        stored(store.as_ref(), id)
            .await
            .current_password_attempts
            .count,
        1,
        "nothing written"
    );
    let mut good = patch(id, 1, "a@example.com");
    good.verified_hash = Some(verified);
    store.update_user(&good).await.unwrap();
    assert_eq!(
        stored(store.as_ref(), id).await.current_password_attempts,
        Default::default(),
        "cleared"
    );
}

/// Sign-in attempts have their own window, 10 per account; an unknown address reserves
/// nothing; a verified sign-in clears them and can store an upgraded hash, held to the hash
/// it verified.
async fn sign_in_attempts_have_their_own_window_and_a_verified_sign_in_clears_it(
    store: Arc<dyn UserStore>,
) {
    let id = create(store.as_ref(), "a@example.com").await;
    let user_id = UserId::new(id).unwrap();
    assert_eq!(
        store.find_user_id(&email("A@EXAMPLE.com")).await,
        Ok(Some(user_id)),
        "looked up in any case"
    );
    assert_eq!(store.find_user_id(&email("b@example.com")).await, Ok(None));
    assert_eq!(
        store
            .reserve_attempt(None, AttemptKind::SignIn, NOW * 1000)
            .await
            .unwrap_err(),
        StoreError::NotFound
    );
    let start = NOW * 1000;
    let concurrent = futures::future::join_all(
        (0..14).map(|i| store.reserve_attempt(Some(user_id), AttemptKind::SignIn, start + i)),
    )
    .await;
    assert_eq!(concurrent.iter().filter(|r| r.is_ok()).count(), 10);
    let user = stored(store.as_ref(), id).await;
    assert_eq!(user.sign_in_attempts.count, 10);
    assert_eq!(
        user.current_password_attempts.count, 0,
        "counts share nothing"
    );
    store
        .reserve_attempt(Some(user_id), current("s", 1), start + 20)
        .await
        .expect("current passwords are counted apart");
    let stale = SignedIn {
        id: user_id,
        verified_hash: hash("not-the-stored-one").await,
        rehash: None,
        now_ms: start + 30,
    };
    assert_eq!(
        store.sign_in(&stale).await.unwrap_err(),
        StoreError::Revoked
    );
    let upgraded = hash("upgraded-password").await;
    let signed_in = store
        .sign_in(&SignedIn {
            id: user_id,
            verified_hash: user.password_hash.clone().unwrap(),
            rehash: Some(upgraded.clone()),
            now_ms: start + 40,
        })
        .await
        .unwrap();
    assert_eq!(signed_in.sign_in_attempts, Default::default());
    assert_eq!(signed_in.password_hash.as_ref(), Some(&upgraded));
    assert_eq!(signed_in.session_version, 1, "an upgrade revokes nothing");
    let read = stored(store.as_ref(), id).await;
    assert_eq!(read.password_hash, Some(upgraded));
    assert_eq!(read.sign_in_attempts, Default::default());
    assert_eq!(read.current_password_attempts.count, 1, "untouched");
}

/// A sign-up's id comes from the counter, never below the floor, never twice even when
/// sign-ups race; an import moves the counter past its ids.
async fn new_users_get_ids_from_the_counter_above_the_floor(store: Arc<dyn UserStore>) {
    let floor = UserId::new(1_000).unwrap();
    let first = store
        .create_user(
            &email("a@example.com"),
            &hash("password-1").await,
            NOW,
            floor,
        )
        .await
        .unwrap();
    assert_eq!(first.id.get(), 1_000);
    let password = hash("password-1").await;
    let concurrent = futures::future::join_all((0..6).map(|i| {
        let address = email(&format!("user{i}@example.com"));
        let store = store.clone();
        let password = password.clone();
        async move { store.create_user(&address, &password, NOW, floor).await }
    }))
    .await;
    let mut ids: Vec<u64> = concurrent
        .into_iter()
        .map(|r| r.expect("every sign-up lands").id.get())
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        (1_001..=1_006).collect::<Vec<_>>(),
        "no id twice, none skipped"
    );
    store
        .reserve_ids_through(UserId::new(5_000).unwrap())
        .await
        .unwrap();
    let after = store
        .create_user(&email("b@example.com"), &password, NOW, floor)
        .await
        .unwrap();
    assert_eq!(after.id.get(), 5_001);
    assert_eq!(
        store
            .create_user(&email("B@Example.COM"), &password, NOW, floor)
            .await
            .unwrap_err(),
        StoreError::EmailTaken
    );
}

async fn an_import_keeps_ids_and_hashes_and_never_overwrites(store: Arc<dyn UserStore>) {
    use neptun_users::store::{Imported, StoredUser};
    let bcrypt = PasswordHash::from_stored(
        "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW".into(),
    );
    let user = |id: u64, address: &str| {
        StoredUser::new(
            UserId::new(id).unwrap(),
            &email(address),
            Some(&bcrypt),
            NOW - 100,
        )
    };
    assert_eq!(
        store.import_user(&user(7, "seven@example.com")).await,
        Ok(Imported::Created)
    );
    assert_eq!(
        store.import_user(&user(7, "seven@example.com")).await,
        Ok(Imported::Unchanged),
        "the same line again"
    );
    assert_eq!(
        store.import_user(&user(7, "other@example.com")).await,
        Err(StoreError::IdTaken),
        "the id, with another address"
    );
    assert_eq!(
        store.import_user(&user(8, "SEVEN@example.com")).await,
        Err(StoreError::EmailTaken),
        "the address in another case"
    );
    assert_eq!(
        stored(store.as_ref(), 7).await,
        user(7, "seven@example.com")
    );
    assert_eq!(store.get_user(UserId::new(8).unwrap()).await, Ok(None));
    store
        .reserve_ids_through(UserId::new(7).unwrap())
        .await
        .unwrap();
    store
        .reserve_ids_through(UserId::new(3).unwrap())
        .await
        .unwrap();
    assert_eq!(
        create(store.as_ref(), "next@example.com").await,
        8,
        "past the largest id"
    );
    let taken = store
        .create_user(
            &email("Seven@Example.com"),
            &hash("password-1").await,
            NOW,
            floor(),
        )
        .await;
    assert_eq!(
        taken.unwrap_err(),
        StoreError::EmailTaken,
        "the imported address is claimed"
    );
}

async fn creates_users_with_sequential_ids_and_the_initial_version(store: Arc<dyn UserStore>) {
    let first = store
        .create_user(
            &email("a@example.com"),
            &hash("password-1").await,
            NOW,
            floor(),
        )
        .await
        .unwrap();
    let second = create(store.as_ref(), "b@example.com").await;
    assert_eq!((first.id.get(), second), (1, 2));
    let read = stored(store.as_ref(), 1).await;
    assert_eq!(read, first);
    assert_eq!(read.session_version, 1);
    assert!(verify("password-1", read.password_hash.as_ref().unwrap()));
    assert_eq!(
        store.get_user(UserId::new(99).unwrap()).await.unwrap(),
        None
    );
}

async fn creating_a_user_with_a_taken_address_fails_in_any_case(store: Arc<dyn UserStore>) {
    create(store.as_ref(), "a@example.com").await;
    let again = store
        .create_user(
            &email("A@EXAMPLE.com"),
            &hash("password-1").await,
            NOW,
            floor(),
        )
        .await;
    assert_eq!(again.unwrap_err(), StoreError::EmailTaken);
}

async fn a_missing_user_is_not_found(store: Arc<dyn UserStore>) {
    let mut update = patch(42, 1, "ghost@example.com");
    update.password_hash = Some(hash("new-password").await);
    assert_eq!(
        store.update_user(&update).await.unwrap_err(),
        StoreError::NotFound
    );
    update.email = Some(email("new@example.com"));
    assert_eq!(
        store.update_user(&update).await.unwrap_err(),
        StoreError::NotFound,
        "with an email change"
    );
}

async fn a_stale_session_version_is_revoked_and_writes_nothing(store: Arc<dyn UserStore>) {
    let id = create(store.as_ref(), "a@example.com").await;
    let mut update = patch(id, 0, "a@example.com");
    update.password_hash = Some(hash("new-password").await);
    assert_eq!(
        store.update_user(&update).await.unwrap_err(),
        StoreError::Revoked
    );
    let mut largest = patch(id, u64::MAX, "a@example.com");
    largest.password_hash = Some(hash("new-password").await);
    assert_eq!(
        store.update_user(&largest).await.unwrap_err(),
        StoreError::Revoked,
        "the largest version a cookie can carry"
    );
    update.email = Some(email("b@example.com"));
    assert_eq!(
        store.update_user(&update).await.unwrap_err(),
        StoreError::Revoked,
        "with an email change"
    );
    let user = stored(store.as_ref(), id).await;
    assert_eq!(
        (user.email.as_str(), user.session_version, user.updated_at),
        ("a@example.com", 1, NOW)
    );
    create(store.as_ref(), "b@example.com").await; // b@ was never claimed
}

async fn a_password_change_increments_the_session_version(store: Arc<dyn UserStore>) {
    let id = create(store.as_ref(), "a@example.com").await;
    let mut update = patch(id, 1, "a@example.com");
    update.password_hash = Some(hash("new-password").await);
    let updated = store.update_user(&update).await.unwrap();
    assert_eq!(
        (updated.email.as_str(), updated.session_version.unwrap()),
        ("a@example.com", 2)
    );
    let user = stored(store.as_ref(), id).await;
    assert!(verify("new-password", user.password_hash.as_ref().unwrap()));
    assert_eq!(
        (
            user.session_version,
            user.updated_at,
            user.password_changed_at_ms
        ),
        (2, NOW + 60, Some((NOW + 60) * 1000))
    );
}

async fn an_email_change_moves_the_claim(store: Arc<dyn UserStore>) {
    let id = create(store.as_ref(), "a@example.com").await;
    let mut update = patch(id, 1, "a@example.com");
    update.email = Some(email("b@example.com"));
    let updated = store.update_user(&update).await.unwrap();
    assert_eq!(
        (updated.email.as_str(), updated.session_version.unwrap()),
        ("b@example.com", 1)
    );
    let user = stored(store.as_ref(), id).await;
    assert_eq!(
        (
            user.email.as_str(),
            user.updated_at,
            user.password_changed_at_ms
        ),
        ("b@example.com", NOW + 60, None)
    );
    create(store.as_ref(), "a@example.com").await; // the old address was released
    let taken = store
        .create_user(
            &email("B@example.com"),
            &hash("password-1").await,
            NOW,
            floor(),
        )
        .await;
    assert_eq!(
        taken.unwrap_err(),
        StoreError::EmailTaken,
        "the new one is claimed"
    );
}

async fn the_same_address_and_a_case_only_change_succeed(store: Arc<dyn UserStore>) {
    let id = create(store.as_ref(), "jane@example.com").await;
    let mut update = patch(id, 1, "jane@example.com");
    update.email = Some(email("jane@example.com"));
    assert_eq!(
        store.update_user(&update).await.unwrap().email.as_str(),
        "jane@example.com"
    );
    update.email = Some(email("Jane@Example.COM"));
    update.password_hash = Some(hash("new-password").await);
    let updated = store.update_user(&update).await.unwrap();
    assert_eq!(
        (updated.email.as_str(), updated.session_version.unwrap()),
        ("Jane@Example.COM", 2)
    );
    let taken = store
        .create_user(
            &email("jane@example.com"),
            &hash("password-1").await,
            NOW,
            floor(),
        )
        .await;
    assert_eq!(
        taken.unwrap_err(),
        StoreError::EmailTaken,
        "still claimed after the case change"
    );
}

async fn an_address_held_by_another_user_is_taken_in_any_case(store: Arc<dyn UserStore>) {
    create(store.as_ref(), "alice@example.com").await;
    let bob = create(store.as_ref(), "bob@example.com").await;
    for address in ["alice@example.com", "ALICE@EXAMPLE.COM"] {
        let mut update = patch(bob, 1, "bob@example.com");
        update.email = Some(email(address));
        update.password_hash = Some(hash("new-password").await);
        assert_eq!(
            store.update_user(&update).await.unwrap_err(),
            StoreError::EmailTaken,
            "{address}"
        );
    }
    let user = stored(store.as_ref(), bob).await;
    assert_eq!(
        (user.email.as_str(), user.session_version),
        ("bob@example.com", 1),
        "nothing written"
    );
    assert!(verify(
        "initial-password",
        user.password_hash.as_ref().unwrap()
    ));
}

async fn a_stale_session_email_is_looked_up_and_the_update_lands(store: Arc<dyn UserStore>) {
    let id = create(store.as_ref(), "first@example.com").await;
    let mut moved = patch(id, 1, "first@example.com");
    moved.email = Some(email("second@example.com"));
    store.update_user(&moved).await.unwrap();
    // The caller's session still says first@example.com.
    for (address, expected) in [
        ("third@example.com", "third@example.com"),
        ("FIRST@example.com", "FIRST@example.com"),
    ] {
        let mut update = patch(id, 1, "first@example.com");
        update.email = Some(email(address));
        assert_eq!(
            store.update_user(&update).await.unwrap().email.as_str(),
            expected
        );
    }
    // second@ and third@ were released along the way.
    create(store.as_ref(), "second@example.com").await;
    create(store.as_ref(), "third@example.com").await;
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod memory_store {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(std::sync::Arc::new(super::MemoryStore::new())).await;
                }
            )*
        }
        mod dynamodb_store {
            $(
                #[tokio::test]
                async fn $case() {
                    if let Some(store) = super::fresh_dynamo_store().await {
                        super::$case(std::sync::Arc::new(store)).await;
                    }
                }
            )*
        }
    };
}

conformance!(
    creates_users_with_sequential_ids_and_the_initial_version,
    creating_a_user_with_a_taken_address_fails_in_any_case,
    a_missing_user_is_not_found,
    a_stale_session_version_is_revoked_and_writes_nothing,
    a_password_change_increments_the_session_version,
    an_email_change_moves_the_claim,
    the_same_address_and_a_case_only_change_succeed,
    an_address_held_by_another_user_is_taken_in_any_case,
    a_stale_session_email_is_looked_up_and_the_update_lands,
    a_session_without_a_version_is_judged_by_its_login_time,
    an_import_keeps_ids_and_hashes_and_never_overwrites,
    current_password_attempts_are_reserved_per_session_and_capped_per_user,
    sign_in_attempts_have_their_own_window_and_a_verified_sign_in_clears_it,
    new_users_get_ids_from_the_counter_above_the_floor,
);

// ---------------------------------------------------------------------------------------
// DynamoDB: call counts.

/// Records the DynamoDB operation of every request that goes on the wire.
#[derive(Debug, Default, Clone)]
struct CallLog(Arc<std::sync::Mutex<Vec<String>>>);

impl CallLog {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "CallLog"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("?");
        let operation = target.rsplit('.').next().unwrap_or(target).to_owned();
        self.0.lock().unwrap().push(operation);
        Ok(())
    }
}

/// A store on a fresh emulator table whose calls are logged.
async fn counted_dynamo() -> Option<(DynamoStore, CallLog)> {
    let plain = fresh_dynamo_store().await?;
    let log = CallLog::default();
    let sdk_config = neptun_users::aws::load_sdk_config().await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk_config)
        .interceptor(log.clone())
        .build();
    let table = plain.table().to_owned();
    Some((
        DynamoStore::with_client(aws_sdk_dynamodb::Client::from_conf(config), &table),
        log,
    ))
}

#[tokio::test]
async fn dynamodb_updates_make_one_call_on_the_happy_path() {
    let Some((store, calls)) = counted_dynamo().await else {
        return;
    };
    let id = create(&store, "a@example.com").await;
    calls.take();

    let mut password_only = patch(id, 1, "a@example.com");
    password_only.password_hash = Some(hash("new-password").await);
    store.update_user(&password_only).await.unwrap();
    assert_eq!(calls.take(), ["UpdateItem"], "password only");

    let mut case_only = patch(id, 2, "a@example.com");
    case_only.email = Some(email("A@example.com"));
    store.update_user(&case_only).await.unwrap();
    assert_eq!(calls.take(), ["UpdateItem"], "same address");

    let mut both = patch(id, 2, "A@example.com");
    both.email = Some(email("b@example.com"));
    both.password_hash = Some(hash("newer-password").await);
    store.update_user(&both).await.unwrap();
    assert_eq!(
        calls.take(),
        ["TransactWriteItems"],
        "email and password change"
    );

    let mut revoked = patch(id, 1, "b@example.com");
    revoked.email = Some(email("c@example.com"));
    assert_eq!(
        store.update_user(&revoked).await.unwrap_err(),
        StoreError::Revoked
    );
    assert_eq!(
        calls.take(),
        ["TransactWriteItems"],
        "a refusal costs one call too"
    );

    let mut stale = patch(id, 3, "a@example.com");
    stale.email = Some(email("d@example.com"));
    store.update_user(&stale).await.unwrap();
    assert_eq!(
        calls.take(),
        ["TransactWriteItems", "TransactWriteItems"],
        "stale email: one retry, no extra read"
    );
}

// ---------------------------------------------------------------------------------------
// DynamoDB: races, checked by scanning the table.

#[tokio::test]
async fn dynamodb_thirty_two_concurrent_claims_of_one_address_have_one_winner() {
    let Some(store) = fresh_dynamo_store().await else {
        return;
    };
    let mut ids = Vec::new();
    for i in 0..32 {
        ids.push(create(&store, &format!("racer{i}@example.com")).await);
    }

    let results = futures::future::join_all(ids.iter().enumerate().map(|(i, id)| {
        let store = store.clone();
        async move {
            let mut claim = patch(*id, 1, &format!("racer{i}@example.com"));
            claim.email = Some(email("prize@example.com"));
            store.update_user(&claim).await
        }
    }))
    .await;

    let won = results.iter().filter(|r| r.is_ok()).count();
    let taken = results
        .iter()
        .filter(|r| **r == Err(StoreError::EmailTaken))
        .count();
    assert_eq!((won, taken), (1, 31), "{results:?}");
    assert_eq!(assert_claims_consistent(&store).await, 32);
}

#[tokio::test]
async fn dynamodb_concurrent_email_and_password_updates_never_lose_each_other() {
    let Some(store) = fresh_dynamo_store().await else {
        return;
    };
    for round in 0..8 {
        let address = format!("user{round}@example.com");
        let id = create(&store, &address).await;
        let mut email_change = patch(id, 1, &address);
        email_change.email = Some(email(&format!("moved{round}@example.com")));
        let mut password_change = patch(id, 1, &address);
        password_change.password_hash = Some(hash("new-password").await);

        let (by_email, by_password) = tokio::join!(
            store.update_user(&email_change),
            store.update_user(&password_change)
        );

        let user = stored(&store, id).await;
        assert!(by_password.is_ok() || by_password == Err(StoreError::Revoked));
        assert!(by_email.is_ok() || by_email == Err(StoreError::Revoked));
        assert!(by_email.is_ok() || by_password.is_ok(), "one of them lands");
        assert_eq!(
            user.email.as_str() == format!("moved{round}@example.com"),
            by_email.is_ok(),
            "email landed iff 200"
        );
        assert_eq!(
            verify("new-password", user.password_hash.as_ref().unwrap()),
            by_password.is_ok(),
            "password landed iff 200"
        );
        assert_eq!(user.session_version, 1 + u64::from(by_password.is_ok()));
    }
    assert_claims_consistent(&store).await;
}

// ---------------------------------------------------------------------------------------
// DynamoDB: faults.

#[tokio::test]
async fn an_endpoint_with_nothing_listening_is_unavailable_within_the_bound() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = unreachable_dynamo_store(port).await;
    let started = Instant::now();
    let error = store.get_user(UserId::new(1).unwrap()).await.unwrap_err();
    let StoreError::Unavailable(reason) = error else {
        panic!("expected Unavailable, got {error:?}")
    };
    assert!(
        reason.contains("DynamoDB unreachable"),
        "connection refused, not a configuration error: {reason}"
    );
    assert!(
        started.elapsed() < neptun_users::aws::OPERATION_TIMEOUT,
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn dynamodb_outage_mid_run_fails_cleanly_and_recovers_without_a_restart() {
    let Some(direct) = fresh_dynamo_store().await else {
        return;
    };
    let upstream = emulator_port();
    let outage = Outage::start(upstream).await;
    let store = DynamoStore::with_client(dynamo_client_at(outage.port).await, direct.table());
    let id = create(&store, "a@example.com").await;

    outage.cut();
    let started = Instant::now();
    let mut update = patch(id, 1, "a@example.com");
    update.email = Some(email("b@example.com"));
    update.password_hash = Some(hash("new-password").await);
    let during = store.update_user(&update).await;
    let waited = started.elapsed();
    assert!(
        matches!(during, Err(StoreError::Unavailable(_))),
        "{during:?}"
    );
    assert!(
        waited < neptun_users::aws::OPERATION_TIMEOUT + Duration::from_secs(1),
        "{waited:?}"
    );

    outage.restore();
    let user = stored(&store, id).await;
    assert_eq!(
        (user.email.as_str(), user.session_version),
        ("a@example.com", 1),
        "nothing half-written"
    );
    assert_claims_consistent(&direct).await;
    let after = store.update_user(&update).await.unwrap();
    assert_eq!(
        (after.email.as_str(), after.session_version),
        ("b@example.com", Some(2)),
        "recovered without a restart"
    );
    assert_claims_consistent(&direct).await;
}

#[tokio::test]
async fn dynamodb_a_retried_write_that_already_landed_is_reported_as_landed() {
    // What the SDK does when an attempt's answer is lost: it sends the same call again, whose
    // conditions now fail against the item the first attempt wrote.
    let Some(store) = fresh_dynamo_store().await else {
        return;
    };
    let id = create(&store, "a@example.com").await;
    let mut update = patch(id, 1, "a@example.com");
    update.password_hash = Some(hash("new-password").await);
    let first = store.update_user(&update).await.unwrap();
    let replay = store.update_user(&update).await;
    assert_eq!(replay, Ok(first), "password only");

    let mut both = patch(id, 2, "a@example.com");
    both.email = Some(email("b@example.com"));
    both.password_hash = Some(hash("newer-password").await);
    let first = store.update_user(&both).await.unwrap();
    assert_eq!(
        store.update_user(&both).await,
        Ok(first),
        "email and password"
    );
    assert_claims_consistent(&store).await;

    let mut stranger = patch(id, 2, "b@example.com");
    stranger.password_hash = Some(hash("newer-password").await);
    assert_eq!(
        store.update_user(&stranger).await,
        Err(StoreError::Revoked),
        "another hash is a real revocation"
    );
}

/// Through the handler, over DynamoDB: an update that neither sets a password nor carries
/// `current_password` is one call; a credential change is a read and a write; a wrong current
/// password is a read and the count.
#[tokio::test]
async fn dynamodb_store_calls_per_request_through_the_handler() {
    let Some((store, calls)) = counted_dynamo().await else {
        return;
    };
    let app = spawn_app_over(config(&[]), Arc::new(store), None).await;
    let user = app.seed("calls@example.com", "the-old-secret-1").await;
    calls.take();
    let mut cookie = user.cookie.clone();
    let cases = [
        (
            r#"{"email":"calls2@example.com"}"#,
            200,
            &["TransactWriteItems"][..],
            "an address change",
        ),
        (
            r#"{"email":"CALLS2@example.com"}"#,
            200,
            &["UpdateItem"][..],
            "a case change",
        ),
        (
            r#"{"password":"a-brand-new-secret"}"#,
            200,
            &["GetItem", "UpdateItem"][..],
            "a password change",
        ),
        (
            r#"{"email":"calls3@example.com","current_password":"a-brand-new-secret"}"#,
            200,
            &["UpdateItem", "TransactWriteItems"][..],
            "an address change with current_password: the reservation (which reads), the write",
        ),
        (
            r#"{"password":"another-brand-new-1","current_password":"wrong"}"#,
            400,
            &["UpdateItem"][..],
            "a wrong current password: the reservation, counted before verifying, and nothing else",
        ),
    ];
    for (body, status, expected, why) in cases {
        let response = app.patch(user.id, &cookie, body).await;
        assert_eq!(response.status, status, "{why}: {response:?}");
        if status == 200 {
            cookie = response.session_cookie();
        }
        assert_eq!(calls.take(), expected, "{why}");
    }
    let revoked = app.cookie_for(user.id, "calls3@example.com", 1);
    let response = app
        .patch(user.id, &revoked, r#"{"password":"another-brand-new-2"}"#)
        .await;
    assert_eq!(response.status, 401);
    assert_eq!(
        calls.take(),
        ["GetItem"],
        "a revoked cookie: the read only, no hashing"
    );
}

/// The count of wrong current passwords lives in the table: a new instance (a cold start)
/// over the same table still refuses.
#[tokio::test]
async fn dynamodb_the_throttle_survives_a_restart() {
    let Some(store) = fresh_dynamo_store().await else {
        return;
    };
    let table = store.table().to_owned();
    let first = spawn_app_over(config(&[]), Arc::new(store), None).await;
    let user = first.seed("restart@example.com", "the-old-secret-1").await;
    let guess = r#"{"email":"moved@example.com","current_password":"a-guess"}"#;
    for _ in 0..5 {
        assert_eq!(first.patch(user.id, &user.cookie, guess).await.status, 400);
    }
    drop(first);
    let restarted = DynamoStore::from_env(&table).await.unwrap();
    let second = spawn_app_over(config(&[]), Arc::new(restarted), None).await;
    let response = second
        .patch(
            user.id,
            &user.cookie,
            r#"{"email":"moved@example.com","current_password":"the-old-secret-1"}"#,
        )
        .await;
    assert_eq!(
        (response.status, response.json()),
        (
            429,
            error_body(429, "Too many attempts; try again later.", None)
        )
    );
}
