//! The endpoint, black-box: every row of docs/contract.md's "Responses" through the real server on port 0.
//! Run over the memory store, or over DynamoDB with `NEPTUN_TEST_STORE=dynamodb`.

use crate::common;

use common::*;
use neptun_users::domain::UserId;
use neptun_users::password;
use neptun_users::session::{unix_now, unix_now_ms};
use serde_json::{Value, json};

const BAD_BODY: &str =
    "Invalid body(?email, ?password). At least one of email or password is required.";
const FORBIDDEN: &str = "You do not have access to this resource.";

#[path = "auth.rs"]
mod auth;

#[tokio::test]
async fn email_change_returns_the_user_and_a_refreshed_cookie() {
    let app = spawn_app().await;
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
    let app = spawn_app().await;
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
    let app = spawn_app().await;
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
    let app = spawn_app().await;
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

#[tokio::test]
async fn invalid_bodies_get_400_with_every_zod_issue() {
    let app = spawn_app().await;
    let user = app.seed("a@example.com", "old-password").await;
    let long_email = format!("{}@example.com", "a".repeat(250));
    let long_password = "p".repeat(257);
    let cases: Vec<(&str, String, Value)> = vec![
        (
            "empty object",
            "{}".into(),
            json!([{"code":"custom","validation":"custom","message":"At least one of email or password is required.","path":[]}]),
        ),
        (
            "only unknown keys",
            r#"{"name":"x"}"#.into(),
            json!([{"code":"custom","validation":"custom","message":"At least one of email or password is required.","path":[]}]),
        ),
        (
            "array body",
            "[]".into(),
            json!([{"code":"invalid_type","validation":"type","expected":"object","received":"array","message":"Expected object, received array","path":[]}]),
        ),
        (
            "string body",
            r#""x""#.into(),
            json!([{"code":"invalid_type","validation":"type","expected":"object","received":"string","message":"Expected object, received string","path":[]}]),
        ),
        (
            "email is a number",
            r#"{"email":5}"#.into(),
            json!([{"code":"invalid_type","validation":"type","expected":"string","received":"number","message":"Expected string, received number","path":["email"]}]),
        ),
        (
            "email is null",
            r#"{"email":null}"#.into(),
            json!([{"code":"invalid_type","validation":"type","expected":"string","received":"null","message":"Expected string, received null","path":["email"]}]),
        ),
        (
            "password is an object",
            r#"{"password":{}}"#.into(),
            json!([{"code":"invalid_type","validation":"type","expected":"string","received":"object","message":"Expected string, received object","path":["password"]}]),
        ),
        (
            "email too short and malformed",
            r#"{"email":"a@b"}"#.into(),
            json!([
            {"code":"too_small","validation":"min","minimum":5,"type":"string","inclusive":true,"exact":false,"message":"Email must be at least 5 characters","path":["email"]},
            {"code":"invalid_string","validation":"email","message":"Invalid email","path":["email"]}]),
        ),
        (
            "email with a leading space",
            r#"{"email":" a@b.co"}"#.into(),
            json!([{"code":"invalid_string","validation":"email","message":"Invalid email","path":["email"]}]),
        ),
        (
            "email too long",
            json!({"email": long_email}).to_string(),
            json!([{"code":"too_big","validation":"max","maximum":256,"type":"string","inclusive":true,"exact":false,"message":"Email must be at most 256 characters","path":["email"]}]),
        ),
        (
            "password too short",
            r#"{"password":"1234567"}"#.into(),
            json!([{"code":"too_small","validation":"min","minimum":8,"type":"string","inclusive":true,"exact":false,"message":"Password must be at least 8 characters","path":["password"]}]),
        ),
        (
            "password too long",
            json!({"password": long_password}).to_string(),
            json!([{"code":"too_big","validation":"max","maximum":256,"type":"string","inclusive":true,"exact":false,"message":"Password must be at most 256 characters","path":["password"]}]),
        ),
        (
            "both fields bad",
            r#"{"email":"nope","password":"short"}"#.into(),
            json!([
            {"code":"too_small","validation":"min","minimum":5,"type":"string","inclusive":true,"exact":false,"message":"Email must be at least 5 characters","path":["email"]},
            {"code":"invalid_string","validation":"email","message":"Invalid email","path":["email"]},
            {"code":"too_small","validation":"min","minimum":8,"type":"string","inclusive":true,"exact":false,"message":"Password must be at least 8 characters","path":["password"]}]),
        ),
    ];
    for (why, body, issues) in cases {
        let response = app.patch(user.id, &user.cookie, &body).await;
        assert_eq!(response.status, 400, "{why}: {response:?}");
        assert_eq!(
            response.json(),
            error_body(400, BAD_BODY, Some(issues)),
            "{why}"
        );
    }
    assert_eq!(
        app.stored(user.id).await.email.as_str(),
        "a@example.com",
        "nothing was written"
    );
}

#[tokio::test]
async fn unparseable_bodies_get_400_invalid_json() {
    let app = spawn_app().await;
    let user = app.seed("a@example.com", "old-password").await;
    let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    let cases = [
        ("empty", ""),
        ("truncated", r#"{"email":"#),
        ("single quotes", "{'email':'a@b.co'}"),
        ("trailing garbage", r#"{"email":"a@b.co"} x"#),
        ("nested too deep", deep.as_str()),
    ];
    for (why, body) in cases {
        let response = app.patch(user.id, &user.cookie, body).await;
        assert_eq!(
            (response.status, response.json()),
            (400, error_body(400, "Invalid JSON body", None)),
            "{why}"
        );
    }
    let response = app
        .client
        .patch(format!("{}/api/users/{}", app.base_url, user.id))
        .header("cookie", &user.cookie)
        .header("content-type", "application/json")
        .body(b"{\"email\":\"\xff\xfe@b.co\"}".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400, "invalid UTF-8");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, error_body(400, "Invalid JSON body", None));
}

#[tokio::test]
async fn malformed_user_ids_get_400_with_an_issue_on_user_id() {
    let app = spawn_app().await;
    let user = app.seed("a@example.com", "old-password").await;
    let not_canonical = json!([{"code":"invalid_string","validation":"regex","message":"user_id must be a positive integer written with digits only.","path":["user_id"]}]);
    let too_big = json!([{"code":"too_big","validation":"max","maximum":9007199254740991_u64,"type":"number","inclusive":true,"exact":false,"message":"user_id must be at most 9007199254740991.","path":["user_id"]}]);
    let cases = [
        ("0", &not_canonical),
        ("007", &not_canonical),
        ("-1", &not_canonical),
        ("%2B1", &not_canonical),
        ("1e2", &not_canonical),
        ("0x10", &not_canonical),
        ("5.0", &not_canonical),
        ("%205", &not_canonical),
        ("abc", &not_canonical),
        ("%ff", &not_canonical),
        ("", &not_canonical),
        ("[user_id]", &not_canonical),
        ("%5Buser_id%5D", &not_canonical),
        ("9007199254740992", &too_big),
        ("123456789012345678901234567890", &too_big),
    ];
    for (raw, issues) in cases {
        let response = app
            .patch(raw, &user.cookie, r#"{"email":"b@example.com"}"#)
            .await;
        assert_eq!(response.status, 400, "{raw:?}: {response:?}");
        assert_eq!(
            response.json(),
            error_body(
                400,
                "Invalid route parameter user_id.",
                Some(issues.clone())
            ),
            "{raw:?}"
        );
    }
}

#[tokio::test]
async fn percent_encoded_ids_are_decoded() {
    let app = spawn_app().await;
    let user = app.seed("a@example.com", "old-password").await;
    assert_eq!(user.id, 1);
    let response = app
        .patch("%31", &user.cookie, r#"{"email":"b@example.com"}"#)
        .await;
    assert_eq!(response.status, 200, "{response:?}");
}

#[tokio::test]
async fn sessions_that_are_missing_forged_expired_or_from_other_keys_get_401() {
    let app = spawn_app().await;
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
    let old_app = spawn_app_with(config(&[("SESSION_SECRET", PREVIOUS_SECRET)])).await;
    let app = spawn_app_with(config(&[("SESSION_SECRET_PREVIOUS", PREVIOUS_SECRET)])).await;
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
    let app = spawn_app().await;
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
    let app = spawn_app().await;
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
    let app = spawn_app().await;
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
async fn methods_other_than_patch_get_405_with_allow() {
    let app = spawn_app().await;
    let user = app.seed("a@example.com", "old-password").await;
    for method in ["GET", "POST", "PUT", "DELETE", "OPTIONS"] {
        let response = app
            .request(
                method,
                &format!("/api/users/{}", user.id),
                &[
                    ("cookie", &user.cookie),
                    ("content-type", "application/json"),
                ],
                r#"{"email":"b@example.com"}"#,
            )
            .await;
        assert_eq!(response.status, 405, "{method}");
        assert_eq!(response.header("allow"), Some("PATCH"), "{method}");
        assert_eq!(
            response.json(),
            error_body(405, "Method not allowed.", None),
            "{method}"
        );
    }
}

#[tokio::test]
async fn content_types_other_than_json_get_415() {
    let app = spawn_app().await;
    let user = app.seed("a@example.com", "old-password").await;
    let path = format!("/api/users/{}", user.id);
    for content_type in [
        "",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
    ] {
        let response = app
            .request(
                "PATCH",
                &path,
                &[("cookie", &user.cookie), ("content-type", content_type)],
                r#"{"email":"b@example.com"}"#,
            )
            .await;
        assert_eq!(response.status, 415, "{content_type:?}");
        assert_eq!(
            response.json(),
            error_body(415, "Content-Type must be application/json.", None)
        );
    }
    let response = app
        .request(
            "PATCH",
            &path,
            &[
                ("cookie", &user.cookie),
                ("content-type", "Application/JSON; charset=UTF-8"),
            ],
            r#"{"email":"b@example.com"}"#,
        )
        .await;
    assert_eq!(
        response.status, 200,
        "case and parameters are ignored: {response:?}"
    );
}

#[tokio::test]
async fn bodies_over_16_kib_get_413() {
    let app = spawn_app().await;
    let user = app.seed("a@example.com", "old-password").await;
    let padding = "x".repeat(16 * 1024);
    let too_big = format!(r#"{{"email":"b@example.com","pad":"{padding}"}}"#);
    let response = app.patch(user.id, &user.cookie, &too_big).await;
    assert_eq!(
        (response.status, response.json()),
        (
            413,
            error_body(413, "Request body must be at most 16384 bytes.", None)
        )
    );

    let exactly = format!(
        r#"{{"email":"b@example.com","pad":"{}"}}"#,
        "x".repeat(16 * 1024 - 34)
    );
    assert_eq!(exactly.len(), 16 * 1024);
    let response = app.patch(user.id, &user.cookie, &exactly).await;
    assert_eq!(
        response.status, 200,
        "16 KiB exactly is allowed: {response:?}"
    );
}

#[tokio::test]
async fn checks_run_in_the_contracts_order() {
    let app = spawn_app().await;
    let alice = app.seed("alice@example.com", "old-password").await;
    let bob = app.seed("bob@example.com", "old-password").await;
    let big = format!(r#"{{"pad":"{}"}}"#, "x".repeat(20_000));
    let json = "application/json";
    struct Case<'a> {
        why: &'a str,
        method: &'a str,
        id: String,
        cookie: &'a str,
        content_type: &'a str,
        extra: (&'a str, &'a str),
        body: &'a str,
        expected: u16,
    }
    let cases = vec![
        Case {
            why: "method before session",
            method: "POST",
            id: "abc".into(),
            cookie: "",
            content_type: "text/plain",
            extra: ("", ""),
            body: "{",
            expected: 405,
        },
        Case {
            why: "session before user_id",
            method: "PATCH",
            id: "abc".into(),
            cookie: "",
            content_type: json,
            extra: ("", ""),
            body: "{",
            expected: 401,
        },
        Case {
            why: "session before body",
            method: "PATCH",
            id: alice.id.to_string(),
            cookie: "",
            content_type: json,
            extra: ("", ""),
            body: "{}",
            expected: 401,
        },
        Case {
            why: "user_id before ownership",
            method: "PATCH",
            id: "0".into(),
            cookie: &alice.cookie,
            content_type: json,
            extra: ("", ""),
            body: "{}",
            expected: 400,
        },
        Case {
            why: "ownership before body",
            method: "PATCH",
            id: bob.id.to_string(),
            cookie: &alice.cookie,
            content_type: json,
            extra: ("", ""),
            body: "{}",
            expected: 403,
        },
        Case {
            why: "ownership before cross-site",
            method: "PATCH",
            id: bob.id.to_string(),
            cookie: &alice.cookie,
            content_type: json,
            extra: ("origin", "https://evil.example"),
            body: "{}",
            expected: 403,
        },
        Case {
            why: "cross-site before content type",
            method: "PATCH",
            id: alice.id.to_string(),
            cookie: &alice.cookie,
            content_type: "text/plain",
            extra: ("origin", "https://evil.example"),
            body: "{}",
            expected: 403,
        },
        Case {
            why: "content type before size",
            method: "PATCH",
            id: alice.id.to_string(),
            cookie: &alice.cookie,
            content_type: "text/plain",
            extra: ("", ""),
            body: &big,
            expected: 415,
        },
        Case {
            why: "size before JSON",
            method: "PATCH",
            id: alice.id.to_string(),
            cookie: &alice.cookie,
            content_type: json,
            extra: ("", ""),
            body: &big,
            expected: 413,
        },
        Case {
            why: "JSON before the store",
            method: "PATCH",
            id: alice.id.to_string(),
            cookie: &alice.cookie,
            content_type: json,
            extra: ("", ""),
            body: "{",
            expected: 400,
        },
    ];
    for Case {
        why,
        method,
        id,
        cookie,
        content_type,
        extra,
        body,
        expected,
    } in cases
    {
        let response = app
            .request(
                method,
                &format!("/api/users/{id}"),
                &[("cookie", cookie), ("content-type", content_type), extra],
                body,
            )
            .await;
        assert_eq!(response.status, expected, "{why}: {response:?}");
    }
}

#[tokio::test]
async fn cross_site_requests_get_403_and_same_site_ones_pass() {
    let app = spawn_app().await;
    let user = app.seed("a@example.com", "old-password").await;
    let own = format!("http://{}", app.host);
    let own_upper = own.to_uppercase();
    // (why, headers, expected)
    type Headers<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(&str, Headers, u16)> = vec![
        (
            "foreign Origin",
            vec![("origin", "https://evil.example")],
            403,
        ),
        ("Origin null", vec![("origin", "null")], 403),
        (
            "Sec-Fetch-Site cross-site",
            vec![("sec-fetch-site", "cross-site")],
            403,
        ),
        (
            "own origin but cross-site fetch",
            vec![("origin", &own), ("sec-fetch-site", "cross-site")],
            403,
        ),
        (
            "same scheme, other port",
            vec![("origin", "http://127.0.0.1:1")],
            403,
        ),
        (
            "https is not http",
            vec![("origin", "https://127.0.0.1")],
            403,
        ),
        ("no Origin, no Sec-Fetch-Site (curl)", vec![], 200),
        (
            "own origin",
            vec![("origin", &own), ("sec-fetch-site", "same-origin")],
            200,
        ),
        (
            "own origin in upper case",
            vec![("origin", &own_upper)],
            200,
        ),
        (
            "same-site fetch without Origin",
            vec![("sec-fetch-site", "same-site")],
            200,
        ),
        (
            "forwarded proto and host from a client",
            vec![
                ("origin", "https://api.example.com"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "api.example.com:443"),
            ],
            403,
        ),
        (
            "allowed origin, cross-site",
            vec![("origin", ALLOWED_ORIGIN), ("sec-fetch-site", "cross-site")],
            200,
        ),
    ];
    for (i, (why, extra, expected)) in cases.into_iter().enumerate() {
        let mut headers = vec![
            ("cookie", user.cookie.as_str()),
            ("content-type", "application/json"),
        ];
        headers.extend(extra);
        let body = format!(r#"{{"email":"user{i}@example.com"}}"#);
        let response = app
            .request("PATCH", &format!("/api/users/{}", user.id), &headers, &body)
            .await;
        assert_eq!(response.status, expected, "{why}: {response:?}");
        if expected == 403 {
            assert_eq!(response.json(), error_body(403, FORBIDDEN, None), "{why}");
        }
    }
}

#[tokio::test]
async fn forwarded_headers_count_only_when_the_server_is_told_a_proxy_sets_them() {
    let spoofed = [
        ("origin", "https://evil.example"),
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-proto", "https"),
    ];
    // (why, TRUST_FORWARDED_HEADERS, forwarding headers, Origin, expected status)
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], &'a str, u16);
    let cases: [Case; 6] = [
        (
            "a client's spoofed forwarding headers",
            "false",
            &spoofed,
            "",
            403,
        ),
        ("the same, by default", "", &spoofed, "", 403),
        (
            "the proxy's host, as the proxy forwards it",
            "true",
            &[
                ("x-forwarded-host", "app.proxy.example"),
                ("x-forwarded-proto", "https"),
            ],
            "https://app.proxy.example",
            200,
        ),
        (
            "behind a proxy, the forwarded host is the request's own",
            "true",
            &[("x-forwarded-host", "app.proxy.example")],
            "own",
            403,
        ),
        (
            "untrusted forwarding headers leave the Host header's origin",
            "false",
            &[("x-forwarded-host", "evil.example")],
            "own",
            200,
        ),
        (
            "an untrusted X-Forwarded-Proto does not make the origin https",
            "false",
            &[("x-forwarded-proto", "https")],
            "own https",
            403,
        ),
    ];
    for (why, trust, forwarding, origin, expected) in cases {
        let app = spawn_app_with(config(&[("TRUST_FORWARDED_HEADERS", trust)])).await;
        let user = app.seed("a@example.com", "old-password").await;
        let origin = match origin {
            "own" => format!("http://{}", app.host),
            "own https" => format!("https://{}", app.host),
            other => other.to_owned(),
        };
        let mut headers = vec![
            ("cookie", user.cookie.as_str()),
            ("content-type", "application/json"),
            ("origin", origin.as_str()),
        ];
        headers.extend_from_slice(forwarding);
        let response = app
            .request(
                "PATCH",
                &format!("/api/users/{}", user.id),
                &headers,
                r#"{"email":"b@example.com"}"#,
            )
            .await;
        let body = if expected == 200 {
            json!({"user": {"id": user.id, "primary_email": "b@example.com"}})
        } else {
            error_body(403, FORBIDDEN, None)
        };
        assert_eq!(
            (response.status, response.json()),
            (expected, body),
            "{why}"
        );
    }
}

#[tokio::test]
async fn allowed_origins_get_cors_headers_and_a_preflight() {
    let app = spawn_app().await;
    let user = app.seed("a@example.com", "old-password").await;
    let path = format!("/api/users/{}", user.id);

    let preflight = app
        .request(
            "OPTIONS",
            &path,
            &[
                ("origin", ALLOWED_ORIGIN),
                ("access-control-request-method", "PATCH"),
            ],
            "",
        )
        .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.text, "");
    for (name, value) in [
        ("access-control-allow-origin", ALLOWED_ORIGIN),
        ("access-control-allow-credentials", "true"),
        ("access-control-allow-methods", "PATCH"),
        ("access-control-allow-headers", "Content-Type"),
        ("access-control-max-age", "600"),
        ("vary", "Origin"),
    ] {
        assert_eq!(preflight.header(name), Some(value), "{name}");
    }

    let refused = app
        .request(
            "OPTIONS",
            &path,
            &[
                ("origin", "https://evil.example"),
                ("access-control-request-method", "PATCH"),
            ],
            "",
        )
        .await;
    assert_eq!(refused.status, 405);
    assert_eq!(refused.header("access-control-allow-origin"), None);

    let error = app
        .request(
            "PATCH",
            &path,
            &[
                ("origin", ALLOWED_ORIGIN),
                ("content-type", "application/json"),
            ],
            "{}",
        )
        .await;
    assert_eq!(error.status, 401);
    assert_eq!(
        error.header("access-control-allow-origin"),
        Some(ALLOWED_ORIGIN),
        "errors carry CORS too"
    );
    assert_eq!(
        error.header("access-control-allow-credentials"),
        Some("true")
    );
}

#[tokio::test]
async fn an_address_held_by_another_user_gets_409_in_any_case() {
    let app = spawn_app().await;
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
    let app = spawn_app().await;
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
    let app = spawn_app().await;
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
    let app = spawn_app().await;
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
    let app = spawn_app().await;
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

#[tokio::test]
async fn paths_outside_the_route_get_404() {
    let app = spawn_app().await;
    let user = app.seed("a@example.com", "old-password").await;
    for path in [
        "/api/other/1",
        "/api/users",
        "/api/users/1/extra",
        "/",
        "/api/users/%2F1",
    ] {
        let response = app
            .request(
                "PATCH",
                path,
                &[
                    ("cookie", &user.cookie),
                    ("content-type", "application/json"),
                ],
                r#"{"email":"b@example.com"}"#,
            )
            .await;
        if path == "/api/users/%2F1" {
            // One segment, percent-decoded to "/1": this route, and a malformed id.
            assert_eq!(response.status, 400, "{path}");
            continue;
        }
        assert_eq!(
            (response.status, response.json()),
            (404, error_body(404, "No route matches this path.", None)),
            "{path}"
        );
    }
    assert_eq!(app.stored(user.id).await.email.as_str(), "a@example.com");
}

#[tokio::test]
async fn a_store_that_cannot_be_reached_gets_500_without_details() {
    // A real DynamoDB client pointed at a port where nothing listens.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let store = unreachable_dynamo_store(port).await;
    let app = spawn_app_over(config(&[]), std::sync::Arc::new(store), None).await;
    let cookie = app.cookie_for(1, "a@example.com", 1);

    let started = std::time::Instant::now();
    let response = app.patch(1, &cookie, r#"{"email":"b@example.com"}"#).await;

    assert_eq!(
        (response.status, response.json()),
        (500, error_body(500, "Internal server error.", None))
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "bounded: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_request_past_its_deadline_gets_500_while_the_store_still_retries() {
    // Every DynamoDB call answers after 1.9 s with a retryable failure: left alone, the SDK's
    // and the store's retries would take far longer than the deadline.
    let dynamo = common::slow_dynamo::SlowDynamo::start().await;
    let store = unreachable_dynamo_store(dynamo.port).await;
    let app = spawn_app_over(
        config(&[("REQUEST_DEADLINE_MS", "3000")]),
        std::sync::Arc::new(store),
        None,
    )
    .await;
    let cookie = app.cookie_for(1, "a@example.com", 1);

    let started = std::time::Instant::now();
    let response = app.patch(1, &cookie, r#"{"email":"b@example.com"}"#).await;
    let elapsed = started.elapsed();

    assert_eq!(
        (response.status, response.json()),
        (500, error_body(500, "Internal server error.", None))
    );
    assert_eq!(
        response.text,
        r#"{"statusCode":500,"statusMessage":"Internal Server Error.","message":"Internal server error."}"#
    );
    assert!(
        elapsed >= std::time::Duration::from_millis(2_900)
            && elapsed < std::time::Duration::from_millis(4_000),
        "answered at the 3 s deadline: {elapsed:?}"
    );
    assert!(
        dynamo.calls() >= 2,
        "the store was still retrying when the deadline passed: {} calls",
        dynamo.calls()
    );
}

/// A memory store whose updates wait `before` the write and `after` it (an answer lost on
/// the way back).
struct SlowStore {
    inner: std::sync::Arc<neptun_users::store::MemoryStore>,
    before: std::time::Duration,
    after: std::time::Duration,
}

#[async_trait::async_trait]
impl neptun_users::UserStore for SlowStore {
    async fn create_user(
        &self,
        email: &neptun_users::domain::Email,
        hash: &password::PasswordHash,
        now: i64,
        floor: neptun_users::domain::UserId,
    ) -> Result<neptun_users::store::StoredUser, neptun_users::StoreError> {
        self.inner.create_user(email, hash, now, floor).await
    }

    async fn update_user(
        &self,
        patch: &neptun_users::store::UserPatch,
    ) -> Result<neptun_users::store::Updated, neptun_users::StoreError> {
        tokio::time::sleep(self.before).await;
        let updated = self.inner.update_user(patch).await;
        tokio::time::sleep(self.after).await;
        updated
    }

    async fn get_user(
        &self,
        id: neptun_users::domain::UserId,
    ) -> Result<Option<neptun_users::store::StoredUser>, neptun_users::StoreError> {
        self.inner.get_user(id).await
    }

    async fn import_user(
        &self,
        user: &neptun_users::store::StoredUser,
    ) -> Result<neptun_users::store::Imported, neptun_users::StoreError> {
        self.inner.import_user(user).await
    }

    async fn find_user_id(
        &self,
        email: &neptun_users::domain::Email,
    ) -> Result<Option<neptun_users::domain::UserId>, neptun_users::StoreError> {
        self.inner.find_user_id(email).await
    }

    async fn reserve_attempt(
        &self,
        id: Option<neptun_users::domain::UserId>,
        kind: neptun_users::store::AttemptKind<'_>,
        now_ms: i64,
    ) -> Result<neptun_users::store::StoredUser, neptun_users::StoreError> {
        self.inner.reserve_attempt(id, kind, now_ms).await
    }

    async fn sign_in(
        &self,
        signed_in: &neptun_users::store::SignedIn,
    ) -> Result<neptun_users::store::StoredUser, neptun_users::StoreError> {
        self.inner.sign_in(signed_in).await
    }

    async fn reserve_ids_through(
        &self,
        id: neptun_users::domain::UserId,
    ) -> Result<(), neptun_users::StoreError> {
        self.inner.reserve_ids_through(id).await
    }
}

#[tokio::test]
async fn a_write_cut_off_by_the_deadline_has_landed_whole_or_not_at_all() {
    use std::time::Duration;
    let long = Duration::from_secs(3);
    let cases = [
        (
            "the store is slow to write",
            long,
            Duration::ZERO,
            "a@example.com",
        ),
        (
            "the store's answer is slow to come back",
            Duration::ZERO,
            long,
            "b@example.com",
        ),
    ];
    for (why, before, after, stored_email) in cases {
        let memory = std::sync::Arc::new(neptun_users::store::MemoryStore::new());
        let store = SlowStore {
            inner: memory.clone(),
            before,
            after,
        };
        let app = spawn_app_over(
            config(&[("REQUEST_DEADLINE_MS", "800")]),
            std::sync::Arc::new(store),
            Some(memory.clone()),
        )
        .await;
        let user = app.seed("a@example.com", "seeded-password-1").await;

        let started = std::time::Instant::now();
        let response = app
            .patch(
                user.id,
                &user.cookie,
                r#"{"email":"b@example.com","password":"changed-password-1"}"#,
            )
            .await;

        assert_eq!(
            (response.status, response.json()),
            (500, error_body(500, "Internal server error.", None)),
            "{why}"
        );
        assert!(started.elapsed() < long, "{why}: {:?}", started.elapsed());
        // Give a write that was still pending every chance to land, then look behind.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let stored = app.stored(user.id).await;
        let landed = stored.email.as_str() == "b@example.com";
        assert_eq!(stored.email.as_str(), stored_email, "{why}");
        assert_eq!(
            password::verify("changed-password-1", stored.password_hash.as_ref().unwrap()),
            landed,
            "{why}: the password landed with the email or not at all"
        );
        assert_eq!(stored.session_version, 1 + u64::from(landed), "{why}");
        assert_eq!(
            memory.claims(),
            [(
                stored_email.to_owned(),
                neptun_users::domain::UserId::new(user.id).unwrap()
            )],
            "{why}: exactly the stored address is claimed"
        );
    }
}

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

// ---------------------------------------------------------------------------------------
// SESSION_FORMAT=nuxt: the Nuxt app's own sessions, under NUXT_UNSTAMPED_SESSIONS=accept (a
// deployment whose sign-in is still the app's); the default refuses them (tests/api/auth.rs).

/// `{"user":{"id":…,"primary_email":…}}`, exactly.
fn user_body(id: u64, email: &str) -> String {
    json!({"user": {"id": id, "primary_email": email}}).to_string()
}

#[tokio::test]
async fn a_nuxt_login_updates_and_gets_its_session_back_in_the_apps_format() {
    let app = spawn_app_with(nuxt_config_accepting()).await;
    let user = app.seed("old@example.com", "old-password").await;
    let login = app.nuxt_login(&user, unix_now_ms() - 60_000);

    let response = app
        .patch(user.id, &login, r#"{"email":"new@example.com"}"#)
        .await;

    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.text, user_body(user.id, "new@example.com"));
    let set_cookie = response.set_cookies()[0].to_owned();
    let value = response.session_cookie();
    assert!(value.starts_with("neptun-session=Fe26.2**"), "{value}");
    let attributes: Vec<&str> = set_cookie.split("; ").skip(1).collect();
    assert_eq!(
        attributes,
        [
            "Max-Age=604800",
            "Path=/",
            "HttpOnly",
            "Secure",
            "SameSite=Lax"
        ],
        "h3's attributes, in h3's order"
    );
    let session = app.keys.verify([value.as_str()], unix_now_ms()).unwrap();
    // The refresh stamps the stored version, over either store (a DynamoDB transaction returns
    // nothing: the store reads it back for a session judged by its login time).
    let version = Some(1);
    assert_eq!(
        (
            session.session.user_id.get(),
            session.session.email.as_str(),
            session.session.version
        ),
        (user.id, "new@example.com", version)
    );
    let again = app
        .patch(user.id, &value, r#"{"email":"newer@example.com"}"#)
        .await;
    assert_eq!(again.text, user_body(user.id, "newer@example.com"));
}

#[tokio::test]
async fn a_nuxt_password_change_keeps_the_caller_and_a_later_login_and_revokes_the_rest() {
    let app = spawn_app_with(nuxt_config_accepting()).await;
    let user = app.seed("a@example.com", "old-password").await;
    let before = unix_now_ms() - 60_000;
    let other_device = app.nuxt_login(&user, before);
    let this_device = app.nuxt_login(&user, before + 1);
    let unauthorized = (401, error_body(401, "Unauthorized", None).to_string());
    let email = |address: &str| json!({ "email": address }).to_string();

    let changed = app
        .patch(user.id, &this_device, r#"{"password":"New-password-1"}"#)
        .await;
    assert_eq!(
        (changed.status, changed.text.as_str()),
        (200, user_body(user.id, "a@example.com").as_str())
    );
    let refreshed = changed.session_cookie();

    for (why, cookie) in [
        ("a Nuxt login from before the change", &other_device),
        (
            "the caller's own login, replaced by its refresh",
            &this_device,
        ),
    ] {
        let response = app.patch(user.id, cookie, &email("x@example.com")).await;
        assert_eq!((response.status, response.text), unauthorized, "{why}");
    }
    let kept = app
        .patch(user.id, &refreshed, &email("b@example.com"))
        .await;
    assert_eq!(
        kept.text,
        user_body(user.id, "b@example.com"),
        "the refreshed cookie"
    );

    let later = app.nuxt_login(&user, unix_now_ms() + 1);
    let second = app
        .patch(user.id, &later, r#"{"password":"New-password-2"}"#)
        .await;
    assert_eq!(
        second.text,
        user_body(user.id, "b@example.com"),
        "a login after the change"
    );
    let older_refresh = app
        .patch(user.id, &refreshed, &email("y@example.com"))
        .await;
    assert_eq!(
        (older_refresh.status, older_refresh.text),
        unauthorized,
        "a refreshed cookie from before the second change"
    );
    let stored = app.stored(user.id).await;
    assert_eq!(
        (stored.email.as_str(), stored.session_version),
        ("b@example.com", 3)
    );
}

#[tokio::test]
async fn nuxt_cookies_that_are_not_the_apps_sessions_get_401_and_write_nothing() {
    let app = spawn_app_with(nuxt_config_accepting()).await;
    let user = app.seed("a@example.com", "old-password").await;
    let now = unix_now_ms();
    let good = app.nuxt_login(&user, now - 1000);
    let seal = |object: Value, expires_at_ms: Option<i64>| {
        let password = neptun_users::iron::IronPassword::new(NUXT_PASSWORD).unwrap();
        let sealed =
            neptun_users::iron::seal(object.to_string().as_bytes(), &password, expires_at_ms);
        format!("neptun-session={sealed}")
    };
    let session = |user: Value| json!({"id": "s", "createdAt": now - 1000, "data": {"user": user}});
    let signed = neptun_users::SessionKeys::new(&config(&[]));
    let cases = [
        (
            "sealed with another password",
            nuxt_login_cookie(
                "another-password-another-password-0001",
                user.id,
                &user.email,
                now,
            ),
        ),
        ("tampered", format!("{}A", &good[..good.len() - 1])),
        (
            "expired by iron's expiration (past the 60 s skew)",
            seal(session(json!({"id": user.id})), Some(now - 61_000)),
        ),
        ("truncated", good[..good.len() - 10].to_owned()),
        ("not base64", good.replacen("Fe26.2**", "Fe26.2**%%%", 1)),
        ("wrong prefix", good.replacen("Fe26.2", "Fe26.1", 1)),
        (
            "a user id that is a string",
            seal(session(json!({"id": user.id.to_string()})), None),
        ),
        (
            "older than the maximum age",
            app.nuxt_login(&user, now - 31 * 86_400_000),
        ),
        (
            "a signed-format cookie",
            signed.cookie_pair(&signed.issue(
                UserId::new(user.id).unwrap(),
                &user.email,
                1,
                now,
                None,
            )),
        ),
    ];
    app.assert_all_unauthorized(&user, cases).await;
    assert_eq!(app.stored(user.id).await.email.as_str(), "a@example.com");
}

// ---------------------------------------------------------------------------------------
// The password blocklist.

#[tokio::test]
async fn common_passwords_and_ones_containing_the_address_get_400_and_near_misses_pass() {
    let app = spawn_app().await;
    let user = app.seed("ada.lovelace@example.com", "first-password").await;
    let common = json!({"code": "custom", "validation": "custom", "message": "Password is too common.", "path": ["password"]});
    let address = json!({
        "code": "custom",
        "validation": "custom",
        "message": "Password must not contain your email address.",
        "path": ["password"],
    });
    let refused = [
        (
            json!({"password": "Password"}),
            json!([common]),
            "the most common (not in lower case: the log scan would find the word)",
        ),
        (
            json!({"password": "PASSWORD1"}),
            json!([common]),
            "upper case",
        ),
        (
            json!({"password": "Iloveyou"}),
            json!([common]),
            "capitalised",
        ),
        (
            json!({"password": "qwertyuiop"}),
            json!([common]),
            "a keyboard walk",
        ),
        (
            json!({"password": "ada.lovelace@example.com"}),
            json!([address]),
            "the address itself",
        ),
        (
            json!({"password": "xx-ADA.LOVELACE-xx"}),
            json!([address]),
            "the local part, any case",
        ),
        (
            json!({"email": "charles@example.com", "password": "i-am-charles-now"}),
            json!([address]),
            "the new address's local part",
        ),
    ];
    for (body, issues, why) in refused {
        let response = app.patch(user.id, &user.cookie, &body.to_string()).await;
        assert_eq!(
            (response.status, response.json()),
            (400, error_body(400, BAD_BODY, Some(issues))),
            "{why}"
        );
    }
    let stored = app.stored(user.id).await;
    assert_eq!(
        (stored.email.as_str(), stored.session_version),
        ("ada.lovelace@example.com", 1),
        "nothing was written"
    );
    let mut cookie = user.cookie.clone();
    for (password, why) in [
        (
            "password-but-much-longer",
            "a common word inside a longer one",
        ),
        ("lovelace-ada", "the parts of the local part, apart"),
        ("example.com-is-my-domain", "the domain alone"),
    ] {
        let body = json!({ "password": password }).to_string();
        let response = app.patch(user.id, &cookie, &body).await;
        assert_eq!(
            (response.status, response.text.as_str()),
            (200, user_body(user.id, "ada.lovelace@example.com").as_str()),
            "{why}"
        );
        cookie = response.session_cookie();
    }
}

#[tokio::test]
async fn a_nuxt_login_over_a_revoked_session_works_though_it_carries_the_old_version() {
    let app = spawn_app_with(nuxt_config_accepting()).await;
    let user = app.seed("a@example.com", "old-password").await;
    // The Nuxt app's login merges its data into the session it finds in the browser
    // (`defu(data, session.data)`), so a login over a session this function refreshed keeps
    // that session's stamp in `data.user`.
    let relogin = |version: u64, logged_in_at_ms: i64| {
        let object = json!({
            "id": "0e4c2a1b-7d1f-4f2e-8c3a-9b5d6e7f8a90",
            "createdAt": logged_in_at_ms,
            "data": {
                "user": {
                    "id": user.id,
                    "primary_email": user.email,
                    "session_version": version,
                    "logged_in_at": logged_in_at_ms - 1_000,
                },
                "loggedInAt": neptun_users::session::nuxt::format_time_ms(logged_in_at_ms),
            },
        });
        let password = neptun_users::iron::IronPassword::new(NUXT_PASSWORD).unwrap();
        format!(
            "neptun-session={}",
            neptun_users::iron::seal(object.to_string().as_bytes(), &password, None)
        )
    };
    let before = unix_now_ms() - 60_000;
    let changed = app
        .patch(
            user.id,
            &relogin(1, before),
            r#"{"password":"New-password-1"}"#,
        )
        .await;
    assert_eq!(changed.status, 200, "{changed:?}");

    let stale = app
        .patch(user.id, &relogin(1, before), r#"{"email":"b@example.com"}"#)
        .await;
    assert_eq!(
        (stale.status, stale.json()),
        (401, error_body(401, "Unauthorized", None)),
        "the old version and a login from before the change"
    );
    let fresh = app
        .patch(
            user.id,
            &relogin(1, unix_now_ms()),
            r#"{"email":"b@example.com"}"#,
        )
        .await;
    assert_eq!(
        (fresh.status, fresh.text.as_str()),
        (200, user_body(user.id, "b@example.com").as_str()),
        "the old version, but a login after the change"
    );
}

// The local server's own limits, on the wire: a slow or idle client cannot hold a
// connection, and a shutdown answers the requests in flight before it returns.

mod local_server {
    use std::time::{Duration, Instant};

    use neptun_users::server::ServerLimits;
    use tokio::io::{AsyncWriteExt, BufReader};
    use tokio::net::TcpStream;

    use super::common::raw_http::{Trickler, read_response, read_until_closed, start_tricklers};
    use super::common::*;
    use super::*;

    async fn app_with(limits: ServerLimits) -> TestApp {
        let memory = std::sync::Arc::new(neptun_users::store::MemoryStore::new());
        spawn_app_limited(limits, config(&[]), memory.clone(), Some(memory)).await
    }

    #[tokio::test]
    async fn a_client_trickling_its_header_is_disconnected_after_the_header_timeout() {
        let timeout = Duration::from_millis(400);
        let app = app_with(ServerLimits {
            header_read_timeout: timeout,
            idle_timeout: Duration::from_secs(30),
            ..ServerLimits::default()
        })
        .await;
        let (read, mut write) = TcpStream::connect(&app.host).await.unwrap().into_split();
        let started = Instant::now();
        // One byte of a header line every 50 ms, until the server stops taking them.
        let trickle = async {
            let head = b"PATCH /api/users/1 HTTP/1.1\r\nHost: a\r\nX-Slow: ";
            let mut sent = write.write_all(head).await;
            while sent.is_ok() {
                tokio::time::sleep(Duration::from_millis(50)).await;
                sent = write.write_all(b"z").await;
            }
        };
        let mut read = BufReader::new(read);
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            tokio::select! {
                sent = read_until_closed(&mut read) => sent,
                () = trickle => Vec::<u8>::new(),
            }
        })
        .await
        .expect("the server closed the connection");

        let elapsed = started.elapsed();
        assert!(
            elapsed >= timeout - Duration::from_millis(50) && elapsed < timeout * 4,
            "closed after the header timeout: {elapsed:?}"
        );
        let sent = String::from_utf8_lossy(&closed);
        assert!(
            !sent.contains("HTTP/1.1 2") && !sent.contains("HTTP/1.1 4") || sent.contains(" 408 "),
            "no answer but a timeout: {sent:?}"
        );
    }

    #[tokio::test]
    async fn a_client_trickling_its_body_is_disconnected_within_the_request_deadline() {
        let deadline = Duration::from_millis(1000);
        let memory = std::sync::Arc::new(neptun_users::store::MemoryStore::new());
        let app = spawn_app_limited(
            ServerLimits::default(),
            config(&[("REQUEST_DEADLINE_MS", "1000")]),
            memory.clone(),
            Some(memory),
        )
        .await;

        // A byte every 300 ms: each read succeeds long before any per-read timeout would fire.
        let (closed_after, sent) = Trickler::connect(&app.host)
            .await
            .until_closed(Duration::from_millis(300), Duration::from_secs(10))
            .await;

        assert!(
            closed_after < deadline + Duration::from_millis(500),
            "disconnected within the deadline: {closed_after:?}"
        );
        assert!(
            sent.is_empty(),
            "no answer, the connection is closed: {:?}",
            String::from_utf8_lossy(&sent)
        );
        let logs = captured_logs();
        assert!(
            logs.contains("request body not received within the deadline"),
            "the disconnection is logged"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_thousand_clients_trickling_bodies_do_not_stop_the_server_answering_others() {
        const TRICKLERS: usize = 1000;
        let deadline = Duration::from_millis(3000);
        let memory = std::sync::Arc::new(neptun_users::store::MemoryStore::new());
        let app = spawn_app_limited(
            ServerLimits::default(),
            config(&[("REQUEST_DEADLINE_MS", "3000")]),
            memory.clone(),
            Some(memory),
        )
        .await;
        let user = app.seed("a@example.com", "old-password").await;
        let started = Instant::now();
        let tricklers = start_tricklers(
            &app.host,
            TRICKLERS,
            Duration::from_millis(300),
            Duration::from_secs(20),
        )
        .await;
        // Every trickler has sent its head and a byte or two more before the ordinary request.
        tokio::time::sleep(Duration::from_millis(500)).await;

        let asked = Instant::now();
        let response = app
            .patch(user.id, &user.cookie, r#"{"email":"b@example.com"}"#)
            .await;
        let answered_after = asked.elapsed();

        assert_eq!(
            (response.status, response.text.as_str()),
            (200, user_body(user.id, "b@example.com").as_str())
        );
        assert!(
            answered_after < Duration::from_secs(1),
            "answered within a second while {TRICKLERS} trickle: {answered_after:?}"
        );
        for trickler in tricklers {
            let (_, sent) = trickler.await.unwrap();
            assert!(sent.is_empty(), "{:?}", String::from_utf8_lossy(&sent));
        }
        let all_closed = started.elapsed();
        assert!(
            all_closed < deadline + Duration::from_secs(3),
            "every trickler was disconnected soon after the deadline: {all_closed:?}"
        );
    }

    #[tokio::test]
    async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
        let idle = Duration::from_millis(400);
        let app = app_with(ServerLimits {
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: idle,
            ..ServerLimits::default()
        })
        .await;
        let (read, mut write) = TcpStream::connect(&app.host).await.unwrap().into_split();
        let mut read = BufReader::new(read);
        let request = b"PATCH /api/users/1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";

        // Two requests on one kept-alive connection, then silence.
        for _ in 0..2 {
            write.write_all(request).await.unwrap();
            let response = read_response(&mut read).await.unwrap();
            assert_eq!(
                (
                    response.status,
                    serde_json::from_str::<Value>(&response.body).unwrap()
                ),
                (401, error_body(401, "Unauthorized", None))
            );
        }
        let answered = Instant::now();
        let rest = tokio::time::timeout(Duration::from_secs(5), read_until_closed(&mut read))
            .await
            .expect("the server closed the idle connection");

        let elapsed = answered.elapsed();
        assert!(rest.is_empty(), "{rest:?}");
        assert!(
            elapsed >= idle - Duration::from_millis(50) && elapsed < idle * 4,
            "closed after the idle timeout: {elapsed:?}"
        );
    }

    #[tokio::test]
    async fn shutdown_answers_the_request_in_flight_then_the_server_returns() {
        let mut app = app_with(ServerLimits::default()).await;
        let user = app.seed("a@example.com", "old-password").await;
        let body = r#"{"email":"after-shutdown@example.com"}"#;
        let (read, mut write) = TcpStream::connect(&app.host).await.unwrap().into_split();
        let mut read = BufReader::new(read);
        write
            .write_all(
                format!(
                    "PATCH /api/users/{} HTTP/1.1\r\nHost: a\r\nCookie: {}\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
                    user.id,
                    user.cookie,
                    body.len()
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        // The interim answer comes when the handler starts reading the body: in flight.
        let interim = read_response(&mut read).await.unwrap();
        assert_eq!(interim.status, 100, "{interim:?}");

        let mut served = app.shut_down();
        assert!(
            tokio::time::timeout(Duration::from_millis(200), &mut served)
                .await
                .is_err(),
            "the server does not return while a request is in flight"
        );
        write.write_all(body.as_bytes()).await.unwrap();
        let response = read_response(&mut read).await.unwrap();

        assert_eq!(
            (
                response.status,
                serde_json::from_str::<Value>(&response.body).unwrap()
            ),
            (
                200,
                json!({"user": {"id": user.id, "primary_email": "after-shutdown@example.com"}})
            )
        );
        assert!(
            response
                .head
                .to_ascii_lowercase()
                .contains("connection: close"),
            "the connection closes after its last answer: {}",
            response.head
        );
        let result = tokio::time::timeout(Duration::from_secs(5), served)
            .await
            .expect("the server returned once it had answered");
        assert!(matches!(result, Ok(Ok(()))), "{result:?}");
        assert!(
            TcpStream::connect(&app.host).await.is_err(),
            "no connection is accepted any more"
        );
    }
}

// ---------------------------------------------------------------------------------------
// current_password: verified when present, required with REQUIRE_CURRENT_PASSWORD, throttled.

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
    let app = spawn_app().await;
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
                    && line["fields"]["message"]
                        == "stored password hash not verified: answered as a wrong password"
                    && line["fields"]["reason"] == *reason
            });
        assert!(said_why, "{reason}: the log says why");
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
        let app = spawn_app_with(config(&[("REQUIRE_CURRENT_PASSWORD", setting)])).await;
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
    let app = spawn_app().await;
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
    let app = spawn_app().await;
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

#[tokio::test]
async fn a_revoked_cookie_buys_no_hashing_and_a_flood_of_them_fails_nobody_else() {
    let app = spawn_app().await;
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

#[test]
fn the_client_models_refuse_an_issue_without_validation() {
    let body = r#"{"statusCode":400,"statusMessage":"Bad Request.","message":"x","data":{"issues":[{"code":"too_small","message":"m","path":["password"]}]}}"#;
    let response = TestResponse {
        status: 400,
        headers: Default::default(),
        text: body.to_owned(),
    };
    let parsed = std::panic::catch_unwind(|| {
        common::openapi::assert_parses_with_the_client_models(&response)
    });
    assert!(parsed.is_err(), "the check is not vacuous");
}
