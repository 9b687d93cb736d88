//! One address, one user: a taken address in any case, a change of one's own address's case, a
//! released address, a stale session's email, and concurrent claims of one address.

use crate::common::*;
use neptun_users::password;
use serde_json::json;

#[tokio::test]
async fn an_address_held_by_another_user_gets_409_in_any_case() {
    let app = handler_app().await;
    let alice = app.seed("alice@example.com", "old-password").await;
    let bob = app.seed("bob@example.com", "old-password").await;
    for taken in [
        "alice@example.com",
        "ALICE@example.com",
        "Alice@Example.Com",
    ] {
        let response = app
            .patch(bob.id, &bob.cookie, &json!({ "email": taken }).to_string())
            .await;
        assert_eq!(
            (response.status, response.json()),
            (409, error_body(409, "Email already in use.", None)),
            "{taken}"
        );
    }
    let both = app
        .patch(
            bob.id,
            &bob.cookie,
            r#"{"email":"alice@example.com","password":"new-password-1"}"#,
        )
        .await;
    assert_eq!(both.status, 409);
    let stored = app.stored(bob.id).await;
    assert_eq!(
        (stored.email.as_str(), stored.session_version),
        ("bob@example.com", 1),
        "nothing was written"
    );
    assert!(
        password::verify("old-password", stored.password_hash.as_ref().unwrap()),
        "the password did not change"
    );
    assert_eq!(alice.id, 1);
}

#[tokio::test]
async fn changing_only_the_case_of_ones_own_address_is_allowed() {
    let app = handler_app().await;
    let user = app.seed("jane@example.com", "old-password").await;

    let response = app
        .patch(user.id, &user.cookie, r#"{"email":"Jane@Example.com"}"#)
        .await;

    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.json()["user"]["primary_email"], "Jane@Example.com");
    let other = app.seed("someone@example.com", "old-password").await;
    let taken = app
        .patch(other.id, &other.cookie, r#"{"email":"jane@example.com"}"#)
        .await;
    assert_eq!(taken.status, 409, "the claim still holds in its new case");
}

#[tokio::test]
async fn a_released_address_can_be_claimed_by_someone_else() {
    let app = handler_app().await;
    let alice = app.seed("alice@example.com", "old-password").await;
    let bob = app.seed("bob@example.com", "old-password").await;

    let moved = app
        .patch(alice.id, &alice.cookie, r#"{"email":"alice2@example.com"}"#)
        .await;
    let claimed = app
        .patch(bob.id, &bob.cookie, r#"{"email":"alice@example.com"}"#)
        .await;

    assert_eq!((moved.status, claimed.status), (200, 200), "{claimed:?}");
}

#[tokio::test]
async fn a_stale_session_email_still_updates() {
    let app = handler_app().await;
    let user = app.seed("first@example.com", "old-password").await;
    let moved = app
        .patch(user.id, &user.cookie, r#"{"email":"second@example.com"}"#)
        .await;
    assert_eq!(moved.status, 200);

    // The original cookie still says first@example.com.
    let response = app
        .patch(user.id, &user.cookie, r#"{"email":"third@example.com"}"#)
        .await;

    assert_eq!(response.status, 200, "{response:?}");
    let back = app
        .patch(user.id, &user.cookie, r#"{"email":"First@example.com"}"#)
        .await;
    assert_eq!(back.status, 200, "the first address was released: {back:?}");
}

#[tokio::test]
async fn thirty_two_concurrent_claims_of_one_address_have_exactly_one_winner() {
    let app = handler_app().await;
    let mut users = Vec::new();
    for i in 0..32 {
        users.push(
            app.seed(&format!("racer{i}@example.com"), "old-password")
                .await,
        );
    }

    let responses = futures::future::join_all(
        users
            .iter()
            .map(|u| app.patch(u.id, &u.cookie, r#"{"email":"prize@example.com"}"#)),
    )
    .await;

    let statuses: Vec<u16> = responses.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        31,
        "{statuses:?}"
    );
    let mut holders = 0;
    for user in &users {
        if app.stored(user.id).await.email.as_str() == "prize@example.com" {
            holders += 1;
        }
    }
    assert_eq!(holders, 1);
    if let Some(memory) = &app.memory {
        let claims = memory.claims();
        assert_eq!(
            claims.len(),
            32,
            "one claim per user, no orphans: {claims:?}"
        );
        assert_eq!(
            claims
                .iter()
                .filter(|(address, _)| address == "prize@example.com")
                .count(),
            1
        );
    }
}
