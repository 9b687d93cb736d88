//! The logs: one request line per request, saying whose session, what happened and which
//! request; and no password, cookie, hash or secret in any line.

use crate::common;

use common::*;
use neptun_users::clock::unix_now;
use serde_json::{Value, json};

use super::FORBIDDEN;

#[tokio::test]
async fn the_request_line_says_whose_session_what_happened_and_which_request() {
    let app = spawn_app().await;
    let a = app.seed("a@example.com", "password-of-a").await;
    let b = app.seed("b@example.com", "password-of-b").await;
    let expired = app.cookie_of(&app.keys.issue(
        neptun_users::domain::UserId::new(a.id).unwrap(),
        &a.email,
        1,
        unix_now() - 120,
        Some(60),
    ));
    let forged = format!("{}A", a.cookie);
    let revoked = app.cookie_for(a.id, &a.email, 7);
    let unauthorized = error_body(401, "Unauthorized", None);
    let forbidden = error_body(403, FORBIDDEN, None);
    let email = r#"{"email":"new-a@example.com"}"#;
    let both = r#"{"email":"new-a@example.com","password":"new-password-a"}"#;
    // (why, cookie, path's user, Origin, body, status, body, outcome, session's user)
    type Case<'a> = (
        &'a str,
        &'a str,
        u64,
        &'a str,
        &'a str,
        u16,
        Value,
        &'a str,
        Option<u64>,
    );
    let cases: [Case; 8] = [
        (
            "no cookie",
            "",
            a.id,
            "",
            email,
            401,
            unauthorized.clone(),
            "session_missing",
            None,
        ),
        (
            "another cookie only",
            "theme=dark",
            a.id,
            "",
            email,
            401,
            unauthorized.clone(),
            "session_missing",
            None,
        ),
        (
            "a forged cookie",
            &forged,
            a.id,
            "",
            email,
            401,
            unauthorized.clone(),
            "session_invalid",
            None,
        ),
        (
            "an expired cookie",
            &expired,
            a.id,
            "",
            email,
            401,
            unauthorized.clone(),
            "session_expired",
            None,
        ),
        (
            "a revoked session",
            &revoked,
            a.id,
            "",
            email,
            401,
            unauthorized.clone(),
            "session_revoked",
            Some(a.id),
        ),
        (
            "a's session on b's record",
            &a.cookie,
            b.id,
            "",
            email,
            403,
            forbidden.clone(),
            "forbidden_other_user",
            Some(a.id),
        ),
        (
            "a cross-site request",
            &a.cookie,
            a.id,
            "https://evil.example",
            email,
            403,
            forbidden.clone(),
            "forbidden_cross_site",
            Some(a.id),
        ),
        (
            "a change of both credentials",
            &a.cookie,
            a.id,
            "",
            both,
            200,
            json!({"user": {"id": a.id, "primary_email": "new-a@example.com"}}),
            "ok",
            Some(a.id),
        ),
    ];
    for (why, cookie, path_user, origin, body, status, expected, outcome, user_id) in cases {
        let path = format!("/api/users/{path_user}");
        let headers = [
            ("cookie", cookie),
            ("content-type", "application/json"),
            ("origin", origin),
        ];
        let response = app.request("PATCH", &path, &headers, body).await;

        assert_eq!(
            (response.status, response.json()),
            (status, expected),
            "{why}"
        );
        let request_id = response.header("x-request-id").expect("an X-Request-Id");
        assert!(
            request_id.len() == 16 && request_id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{why}: {request_id}"
        );
        let lines = logged("request", request_id);
        assert_eq!(lines.len(), 1, "{why}: one request line: {lines:?}");
        let line = &lines[0];
        assert_eq!(line["outcome"], outcome, "{why}: {line}");
        assert_eq!(line["status"], status, "{why}: {line}");
        assert_eq!(line["user_id"], json!(user_id), "{why}: {line}");
        assert_eq!(line["client_ip"], "127.0.0.1", "{why}: {line}");
        assert_eq!(line["path"], path, "{why}: {line}");
        let changed = logged("credential_changed", request_id);
        if status == 200 {
            assert_eq!(changed.len(), 1, "{why}: {changed:?}");
            assert_eq!(changed[0]["fields"], "email,password", "{why}");
            assert_eq!(changed[0]["user_id"], a.id, "{why}");
        } else {
            assert!(changed.is_empty(), "{why}: nothing changed: {changed:?}");
        }
    }
    let other = app
        .request(
            "PATCH",
            &format!("/api/users/{}", b.id),
            &[("cookie", &b.cookie), ("content-type", "application/json")],
            r#"{"email":"new-b@example.com"}"#,
        )
        .await;
    let id = other.header("x-request-id").unwrap();
    assert_eq!(logged("credential_changed", id)[0]["fields"], "email");
    assert_ne!(
        Some(id),
        app.request("PATCH", "/api/users/1", &[], "")
            .await
            .header("x-request-id"),
        "every request has its own id"
    );
}

#[tokio::test]
async fn logs_hold_no_password_cookie_hash_or_secret() {
    let app = spawn_app().await;
    let user = app.seed("a@example.com", "seeded-password-1").await;

    let changed = app
        .patch(
            user.id,
            &user.cookie,
            r#"{"email":"b@example.com","password":"changed-password-1"}"#,
        )
        .await;
    let refused = app
        .patch(
            user.id,
            &user.cookie,
            r#"{"password":"refused-password-1"}"#,
        )
        .await;
    let invalid = app
        .patch(
            user.id,
            &changed.session_cookie(),
            r#"{"password":"short"}"#,
        )
        .await;

    assert_eq!(
        (changed.status, refused.status, invalid.status),
        (200, 401, 400)
    );
    let logs = captured_logs();
    assert!(
        logs.contains(r#""outcome":"session_revoked""#)
            && logs.contains(r#""fields":"email,password""#),
        "the request lines were captured"
    );
    let stored = app.stored(user.id).await;
    assert_logs_hold_no(&[
        "seeded-password-1".into(),
        "changed-password-1".into(),
        "refused-password-1".into(),
        stored.password_hash.as_ref().unwrap().as_str().to_owned(),
        common::SECRET.into(),
        user.cookie.trim_start_matches("neptun-session=").into(),
        changed
            .session_cookie()
            .trim_start_matches("neptun-session=")
            .into(),
    ]);
}
