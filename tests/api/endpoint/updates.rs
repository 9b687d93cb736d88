//! The changes that succeed: the answer, the refreshed cookie, the stored hash, and what a
//! password change revokes (and an email change does not).

use crate::common::*;
use neptun_users::clock::unix_now_ms;
use neptun_users::password;
use serde_json::json;

#[tokio::test]
async fn email_change_returns_the_user_and_a_refreshed_cookie() {
    let app = handler_app().await;
    let user = app.seed("old@example.com", "old-password").await;

    let response = app
        .patch(user.id, &user.cookie, r#"{"email":"new@example.com"}"#)
        .await;

    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(
        response.text,
        format!(
            r#"{{"user":{{"id":{},"primary_email":"new@example.com"}}}}"#,
            user.id
        )
    );
    assert_contract_headers(&response);
    let set_cookie = response.set_cookies()[0].to_owned();
    let mut attributes: Vec<&str> = set_cookie.split("; ").skip(1).collect();
    attributes.sort_unstable();
    assert_eq!(
        attributes,
        [
            "HttpOnly",
            "Max-Age=604800",
            "Path=/",
            "SameSite=Lax",
            "Secure"
        ]
    );
    let session = app
        .keys
        .verify([response.session_cookie().as_str()], unix_now_ms())
        .expect("valid cookie");
    assert_eq!(
        (
            session.session.user_id.get(),
            session.session.email.as_str()
        ),
        (user.id, "new@example.com")
    );
    assert_eq!(app.stored(user.id).await.email.as_str(), "new@example.com");
}

#[tokio::test]
async fn password_change_stores_an_argon2id_hash_with_the_contracts_parameters() {
    let app = handler_app().await;
    let user = app.seed("a@example.com", "old-password").await;

    let response = app
        .patch(
            user.id,
            &user.cookie,
            r#"{"password":"a much better password"}"#,
        )
        .await;

    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(
        response.json(),
        json!({"user": {"id": user.id, "primary_email": "a@example.com"}})
    );
    let stored = app.stored(user.id).await;
    assert!(
        stored
            .password_hash
            .as_ref()
            .unwrap()
            .as_str()
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
    );
    assert!(password::verify(
        "a much better password",
        stored.password_hash.as_ref().unwrap()
    ));
    assert!(!password::verify(
        "old-password",
        stored.password_hash.as_ref().unwrap()
    ));
    assert!(stored.password_changed_at_ms.is_some());
    assert!(
        !response.text.contains("argon2"),
        "the hash is never echoed"
    );
}

#[tokio::test]
async fn password_change_revokes_other_sessions_and_keeps_the_caller_signed_in() {
    let app = handler_app().await;
    let user = app.seed("a@example.com", "old-password").await;
    let other_device = user.cookie.clone();

    let changed = app
        .patch(user.id, &user.cookie, r#"{"password":"new-password-1"}"#)
        .await;
    assert_eq!(changed.status, 200, "{changed:?}");
    let new_cookie = changed.session_cookie();

    let old = app
        .patch(user.id, &other_device, r#"{"email":"b@example.com"}"#)
        .await;
    assert_eq!(
        (old.status, old.json()),
        (401, error_body(401, "Unauthorized", None))
    );
    let new = app
        .patch(user.id, &new_cookie, r#"{"email":"b@example.com"}"#)
        .await;
    assert_eq!(new.status, 200, "{new:?}");
    assert_eq!(app.stored(user.id).await.session_version, 2);
}

#[tokio::test]
async fn email_change_does_not_revoke_other_sessions() {
    let app = handler_app().await;
    let user = app.seed("a@example.com", "old-password").await;

    let first = app
        .patch(user.id, &user.cookie, r#"{"email":"b@example.com"}"#)
        .await;
    let second = app
        .patch(user.id, &user.cookie, r#"{"email":"c@example.com"}"#)
        .await;

    assert_eq!((first.status, second.status), (200, 200), "{second:?}");
    assert_eq!(second.json()["user"]["primary_email"], "c@example.com");
    assert_eq!(app.stored(user.id).await.session_version, 1);
}
