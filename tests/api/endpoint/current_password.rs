//! `current_password`: verified when present, required with `REQUIRE_CURRENT_PASSWORD`, throttled
//! after wrong guesses; a stored hash above the cost ceiling answers as a wrong password and runs
//! nothing.

use crate::common::*;
use serde_json::{Value, json};

use super::{BAD_BODY, user_body};

const WRONG_CURRENT: &str = "Current password is incorrect.";

fn wrong_current_body() -> Value {
    json!({
        "statusCode": 400,
        "statusMessage": "Bad Request.",
        "message": WRONG_CURRENT,
        "data": {"issues": [{"code": "custom", "validation": "custom", "message": WRONG_CURRENT, "path": ["current_password"]}]},
    })
}

#[tokio::test]
async fn a_stored_hash_above_the_ceiling_answers_as_a_wrong_password_at_once_and_runs_nothing() {
    use std::time::{Duration, Instant};
    let app = handler_app().await;
    for (i, (hash, reason)) in hostile_hashes().iter().enumerate() {
        let user = app
            .seed_with_hash(&format!("hostile-{i}@example.com"), hash)
            .await;
        let jobs = app.ctx.hasher.jobs_started();
        let body =
            json!({"password": "a-brand-new-secret", "current_password": "any-guess-at-all"});

        let asked = Instant::now();
        let response = app.patch(user.id, &user.cookie, &body.to_string()).await;
        let took = asked.elapsed();

        assert_eq!(
            (response.status, response.json()),
            (400, wrong_current_body()),
            "{reason}"
        );
        assert!(
            took < Duration::from_millis(500),
            "{reason}: answered at once, not after {took:?}"
        );
        assert_eq!(app.ctx.hasher.jobs_started(), jobs, "{reason}: nothing ran");
        assert_eq!(
            app.stored(user.id)
                .await
                .password_hash
                .as_ref()
                .unwrap()
                .as_str(),
            hash,
            "{reason}: nothing was written"
        );
        let said_why = captured_logs()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .any(|line| {
                line["level"] == "WARN"
                    && line["message"] == "request"
                    && line["outcome"] == "wrong_current_password"
                    && line["cause"]
                        == format!(
                            "stored password hash not verified ({reason}): answered as a wrong password"
                        )
            });
        assert!(said_why, "{reason}: the request line says why");
    }
    let logs = captured_logs();
    assert!(!logs.contains("$2b$"), "no bcrypt hash in the log");

    // Still responsive: an ordinary change goes through.
    let user = app.seed("ordinary@example.com", "old-password").await;
    let response = app
        .patch(user.id, &user.cookie, r#"{"email":"still@example.com"}"#)
        .await;
    assert_eq!(
        (response.status, response.text.as_str()),
        (200, user_body(user.id, "still@example.com").as_str())
    );
}

#[tokio::test]
async fn current_password_is_verified_when_sent_and_required_when_the_setting_says_so() {
    let required = json!([{"code": "custom", "validation": "custom", "message": "Current password is required.", "path": ["current_password"]}]);
    let empty = json!([{"code": "too_small", "validation": "min", "minimum": 1, "type": "string", "inclusive": true, "exact": false, "message": "Current password must be at least 1 character", "path": ["current_password"]}]);
    let bcrypt = bcrypt::hash("imported-secret-1", 4).unwrap();
    for require in [false, true] {
        let setting = if require { "true" } else { "false" };
        let app = handler_app_with(config(&[("REQUIRE_CURRENT_PASSWORD", setting)])).await;
        for (kind, stored) in [("argon2id", None), ("bcrypt", Some(bcrypt.as_str()))] {
            for (change, fields) in [
                ("email only", json!({"email": "changed@example.com"})),
                ("password only", json!({"password": "a-brand-new-secret"})),
                (
                    "both",
                    json!({"email": "changed@example.com", "password": "a-brand-new-secret"}),
                ),
            ] {
                let address = format!("{kind}-{}@example.com", change.replace(' ', "-"));
                let (user, right) = match stored {
                    None => (
                        app.seed(&address, "the-old-secret-1").await,
                        "the-old-secret-1",
                    ),
                    Some(hash) => (
                        app.seed_with_hash(&address, hash).await,
                        "imported-secret-1",
                    ),
                };
                let new_address = format!("new-{address}");
                let with = |current: Option<&str>| {
                    let mut body = fields.clone();
                    if body.get("email").is_some() {
                        body["email"] = json!(new_address);
                    }
                    if let Some(current) = current {
                        body["current_password"] = json!(current);
                    }
                    body.to_string()
                };
                let why = |case: &str| format!("{kind}, {change}, required={require}: {case}");
                let missing = if require {
                    Some((400, error_body(400, BAD_BODY, Some(required.clone()))))
                } else {
                    None
                };
                let refused = [
                    ("missing", with(None), missing),
                    (
                        "empty",
                        with(Some("")),
                        Some((400, error_body(400, BAD_BODY, Some(empty.clone())))),
                    ),
                    (
                        "wrong",
                        with(Some("not-the-password")),
                        Some((400, wrong_current_body())),
                    ),
                ];
                for (case, body, expected) in refused {
                    let Some(expected) = expected else { continue };
                    let response = app.patch(user.id, &user.cookie, &body).await;
                    assert_eq!(
                        (response.status, response.json()),
                        expected,
                        "{}",
                        why(case)
                    );
                    let stored = app.stored(user.id).await;
                    assert_eq!(
                        (stored.email.as_str(), stored.session_version),
                        (address.as_str(), 1),
                        "{}: nothing written",
                        why(case)
                    );
                }
                let body = if require {
                    with(Some(right))
                } else {
                    with(None)
                };
                let response = app.patch(user.id, &user.cookie, &body).await;
                assert_eq!(
                    response.status,
                    200,
                    "{}: {response:?}",
                    why("right or not needed")
                );
                // The wrong attempt above counted; only a verified current password resets it.
                let stored = app.stored(user.id).await;
                assert_eq!(
                    stored.current_password_attempts.count,
                    u32::from(!require),
                    "{}: the count after a success",
                    why("right")
                );
                if !require {
                    let right_again = app
                        .patch(user.id, &response.session_cookie(), &with(Some(right)))
                        .await;
                    if fields.get("password").is_some() {
                        assert_eq!(
                            (right_again.status, right_again.json()),
                            (400, wrong_current_body()),
                            "{}: the old password no longer verifies",
                            why("right after a change")
                        );
                    } else {
                        assert_eq!(right_again.status, 200, "{}", why("right"));
                        assert_eq!(
                            app.stored(user.id).await.current_password_attempts.count,
                            0,
                            "{}: a verified current password resets the count",
                            why("right")
                        );
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn five_wrong_current_passwords_lock_further_attempts_until_the_window_ends() {
    let app = handler_app().await;
    let user = app.seed("locked@example.com", "the-old-secret-1").await;
    let attempt = |current: &str| {
        json!({"email": "moved@example.com", "current_password": current}).to_string()
    };
    for n in 1..=5 {
        let response = app
            .patch(user.id, &user.cookie, &attempt(&format!("guess-{n}")))
            .await;
        assert_eq!(
            (response.status, response.json()),
            (400, wrong_current_body()),
            "wrong attempt {n} still answers 400"
        );
    }
    assert_eq!(app.stored(user.id).await.current_password_attempts.count, 5);
    let hashes = app.ctx.hasher.jobs_started();
    for why in ["a sixth guess", "even the right password"] {
        let current = if why == "a sixth guess" {
            "guess-6"
        } else {
            "the-old-secret-1"
        };
        let response = app.patch(user.id, &user.cookie, &attempt(current)).await;
        assert_locked(&response, why);
    }
    assert_eq!(
        app.ctx.hasher.jobs_started(),
        hashes,
        "a 429 does no hashing"
    );
    let email_only = app
        .patch(user.id, &user.cookie, r#"{"email":"free@example.com"}"#)
        .await;
    assert_eq!(
        email_only.status, 200,
        "an update without current_password is no guess"
    );

    app.ctx.clock.advance(15 * 60 * 1000);
    let response = app
        .patch(
            user.id,
            &email_only.session_cookie(),
            &attempt("the-old-secret-1"),
        )
        .await;
    assert_eq!(
        (response.status, response.text.as_str()),
        (200, user_body(user.id, "moved@example.com").as_str()),
        "allowed again once the window has passed"
    );
    assert_eq!(app.stored(user.id).await.current_password_attempts.count, 0);
}

#[tokio::test]
async fn concurrent_wrong_current_passwords_all_count() {
    let app = handler_app().await;
    let user = app.seed("racing@example.com", "the-old-secret-1").await;
    let body = json!({"password": "a-brand-new-secret", "current_password": "wrong"}).to_string();
    let responses =
        futures::future::join_all((0..4).map(|_| app.patch(user.id, &user.cookie, &body))).await;
    for response in &responses {
        assert_eq!(
            (response.status, response.json()),
            (400, wrong_current_body())
        );
    }
    assert_eq!(
        app.stored(user.id).await.current_password_attempts.count,
        4,
        "none lost"
    );
}
