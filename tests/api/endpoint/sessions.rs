//! Who may call: missing, forged, expired and revoked cookies (a flood of revoked ones costs no
//! hashing), cookies signed with a previous secret, the maximum age a refresh keeps; a session
//! for another user's record (403) or for a user that does not exist (404).

use crate::common::*;
use neptun_users::clock::{unix_now, unix_now_ms};
use neptun_users::domain::UserId;

use super::{FORBIDDEN, user_body};

#[tokio::test]
async fn sessions_that_are_missing_forged_expired_or_from_other_keys_get_401() {
    let app = handler_app().await;
    let user = app.seed("a@example.com", "old-password").await;
    let now = unix_now();
    let session = |login_at: i64, expires_at: i64, version: u64| {
        let mut session = app.keys.issue(
            UserId::new(user.id).unwrap(),
            &user.email,
            version,
            login_at * 1000,
            None,
        );
        session.expires_at_ms = expires_at * 1000;
        session
    };
    let tampered = format!("{}x", user.cookie);
    let stranger_keys = neptun_users::SessionKeys::new(&config(&[(
        "SESSION_SECRET",
        "someone-elses-secret-someone-elses-0001",
    )]));
    let wrong_key = stranger_keys.cookie_pair(&session(now, now + 600, 1));
    let expired = app.cookie_of(&session(now - 1000, now - 1, 1));
    let past_max_age = app.cookie_of(&session(now - 30 * 86_400 - 1, now + 600, 1));
    let revoked = app.cookie_of(&session(now, now + 600, 0));
    let cases = [
        ("no cookie", String::new()),
        ("other cookies only", "theme=dark".to_owned()),
        ("empty session", "neptun-session=".to_owned()),
        ("tampered", tampered),
        ("signed with another key", wrong_key),
        ("expired", expired),
        ("older than the maximum age from login", past_max_age),
        ("revoked: session version is not the stored one", revoked),
    ];
    app.assert_all_unauthorized(&user, cases).await;
    assert_eq!(
        app.stored(user.id).await.email.as_str(),
        "a@example.com",
        "nothing was written"
    );
}

#[tokio::test]
async fn cookies_signed_with_a_previous_secret_work_and_come_back_signed_with_the_current_one() {
    let old_app = handler_app_with(config(&[("SESSION_SECRET", PREVIOUS_SECRET)])).await;
    let app = handler_app_with(config(&[("SESSION_SECRET_PREVIOUS", PREVIOUS_SECRET)])).await;
    let user = app.seed("a@example.com", "old-password").await;
    let old_cookie = old_app.cookie_for(user.id, &user.email, 1);

    let response = app
        .patch(user.id, &old_cookie, r#"{"email":"b@example.com"}"#)
        .await;

    assert_eq!(response.status, 200, "{response:?}");
    let refreshed = response.session_cookie();
    assert!(
        old_app
            .keys
            .verify([refreshed.as_str()], unix_now_ms())
            .is_err(),
        "not the old key"
    );
    let current_only = neptun_users::SessionKeys::new(&config(&[]));
    assert!(
        current_only
            .verify([refreshed.as_str()], unix_now_ms())
            .is_ok(),
        "the current key"
    );
}

#[tokio::test]
async fn refresh_never_extends_a_session_past_its_maximum_age() {
    let app = handler_app().await;
    let user = app.seed("a@example.com", "old-password").await;
    let now = unix_now();
    let login_at = now - 30 * 86_400 + 100;
    let mut session = app.keys.issue(
        UserId::new(user.id).unwrap(),
        &user.email,
        1,
        login_at * 1000,
        None,
    );
    session.issued_at_ms = (now - 10) * 1000;
    session.expires_at_ms = (now + 100) * 1000;
    let cookie = app.cookie_of(&session);

    let response = app
        .patch(user.id, &cookie, r#"{"email":"b@example.com"}"#)
        .await;

    assert_eq!(response.status, 200, "{response:?}");
    let max_age: i64 = response.set_cookies()[0]
        .split("; ")
        .find_map(|a| a.strip_prefix("Max-Age="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (98..=100).contains(&max_age),
        "capped at login + 30 days, got {max_age}"
    );
    let session = app
        .keys
        .verify([response.session_cookie().as_str()], now * 1000)
        .unwrap();
    assert_eq!(
        session.session.login_at_ms,
        login_at * 1000,
        "login time is kept"
    );
}

#[tokio::test]
async fn a_session_for_another_user_gets_403() {
    let app = handler_app().await;
    let alice = app.seed("alice@example.com", "old-password").await;
    let bob = app.seed("bob@example.com", "old-password").await;

    let response = app
        .patch(bob.id, &alice.cookie, r#"{"email":"mallory@example.com"}"#)
        .await;

    assert_eq!(
        (response.status, response.json()),
        (403, error_body(403, FORBIDDEN, None))
    );
    assert_eq!(app.stored(bob.id).await.email.as_str(), "bob@example.com");
}

#[tokio::test]
async fn a_session_for_a_user_that_does_not_exist_gets_404() {
    let app = handler_app().await;
    let cookie = app.cookie_for(999, "ghost@example.com", 1);

    let response = app
        .patch(999, &cookie, r#"{"email":"b@example.com"}"#)
        .await;

    assert_eq!(
        (response.status, response.json()),
        (404, error_body(404, "User not found.", None))
    );
}

#[tokio::test]
async fn a_revoked_cookie_buys_no_hashing_and_a_flood_of_them_fails_nobody_else() {
    let app = handler_app().await;
    let victim = app.seed("victim@example.com", "the-old-secret-1").await;
    let other = app.seed("other@example.com", "the-old-secret-2").await;
    let revoked = app.cookie_for(victim.id, &victim.email, 0);
    let hashes = app.ctx.hasher.jobs_started();
    let body = r#"{"password":"a-brand-new-secret"}"#;
    let flood =
        futures::future::join_all((0..64).map(|_| app.patch(victim.id, &revoked, body))).await;
    for response in &flood {
        assert_eq!(
            (response.status, response.json()),
            (401, error_body(401, "Unauthorized", None))
        );
    }
    assert_eq!(
        app.ctx.hasher.jobs_started(),
        hashes,
        "no Argon2 work for a revoked cookie"
    );
    let (flood, change) = tokio::join!(
        futures::future::join_all((0..64).map(|_| app.patch(victim.id, &revoked, body))),
        app.patch(
            other.id,
            &other.cookie,
            r#"{"password":"a-fresh-secret-value"}"#
        ),
    );
    assert!(flood.iter().all(|r| r.status == 401));
    assert_eq!(
        (change.status, change.text.as_str()),
        (200, user_body(other.id, "other@example.com").as_str()),
        "another user's password change during the flood"
    );
}
