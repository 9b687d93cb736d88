//! Cross-site requests: Origin and Sec-Fetch-Site, forwarded headers only from a trusted proxy,
//! and CORS for the allowed origins.

use crate::common::*;
use serde_json::json;

use super::FORBIDDEN;

#[tokio::test]
async fn cross_site_requests_get_403_and_same_site_ones_pass() {
    let app = handler_app().await;
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
        let app = handler_app_with(config(&[("TRUST_FORWARDED_HEADERS", trust)])).await;
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
    let app = handler_app().await;
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
