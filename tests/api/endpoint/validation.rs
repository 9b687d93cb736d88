//! What is refused before the store is asked: paths outside the route, methods, content types,
//! sizes, malformed ids and bodies, the password rules; and the order the checks run in.

use crate::common;

use common::*;
use serde_json::{Value, json};

use super::{BAD_BODY, user_body};

#[tokio::test]
async fn paths_outside_the_route_get_404() {
    let app = handler_app().await;
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
async fn methods_other_than_patch_get_405_with_allow() {
    let app = handler_app().await;
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
    let app = handler_app().await;
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
    let app = handler_app().await;
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
async fn malformed_user_ids_get_400_with_an_issue_on_user_id() {
    let app = handler_app().await;
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
    let app = handler_app().await;
    let user = app.seed("a@example.com", "old-password").await;
    assert_eq!(user.id, 1);
    let response = app
        .patch("%31", &user.cookie, r#"{"email":"b@example.com"}"#)
        .await;
    assert_eq!(response.status, 200, "{response:?}");
}

#[tokio::test]
async fn invalid_bodies_get_400_with_every_zod_issue() {
    let app = handler_app().await;
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
    // Over TCP: the invalid UTF-8 body goes out as raw bytes.
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
async fn common_passwords_and_ones_containing_the_address_get_400_and_near_misses_pass() {
    let app = handler_app().await;
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
async fn checks_run_in_the_contracts_order() {
    let app = handler_app().await;
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
